/* SPDX-License-Identifier: MIT */
/*
 * client/client_priv.h - the client object and the request/reply engine,
 * shared by the files of src/client/ (and the client side of migration).
 *
 * Everything a client sends goes through a per-socket output queue
 * (proto's uvfio_txq) and every wait is a poll() bounded by a deadline, so
 * a server that stops reading or stops answering costs the caller at most
 * the request timeout, never a hang.  While the client waits - for a reply
 * or for its own bytes to drain - it keeps reading, and serves the
 * DMA_READ/DMA_WRITE requests the server sends meanwhile: a server may need
 * guest memory to finish the very command the client is waiting on.
 */
#ifndef UVFIO_CLIENT_PRIV_H
#define UVFIO_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <uvfio/client.h>

#include "proto/transport.h"
#include "proto/wire.h"

/* Per-request timeout when the caller sets none. */
#define UVFIO_CLIENT_DEFAULT_TIMEOUT_MS 30000

/* Room above max_data_xfer_size for headers, capability chains and the
 * VERSION JSON in one incoming message. */
#define UVFIO_CLIENT_RX_SLACK           (64u << 10)

/* One socket: the main one, or the twin that carries server->client DMA. */
struct uvfio_client_chan {
    int sock;                   /* -1 when absent */
    struct uvfio_rx *rx;
    struct uvfio_txq *txq;
    bool backlog;               /* stopped reading with messages possibly
                                   still buffered in rx (poll can't see) */
};

/* A window of guest memory the client gave the server with DMA_MAP. */
struct uvfio_client_map {
    uint64_t iova;
    uint64_t size;
    uint32_t prot;              /* UVFIO_DMA_MAP_FLAG_* */
    void *host;                 /* served from here; NULL for fd-backed
                                   maps, which the server accesses itself */
};

struct uvfio_client {
    struct uvfio_client_chan main;
    struct uvfio_client_chan twin;
    int epfd;                   /* covers main + twin; -1 without twin */

    struct uvfio_client_caps caps;
    uint64_t rx_xfer;           /* data bytes we accept in one server
                                   request: what we offered */
    size_t rx_max;              /* current incoming message size limit */
    unsigned int rx_fds;        /* fds we accept per message */
    int timeout_ms;
    uint16_t next_id;
    int dead;                   /* 0, or the -errno that ended the link */

    /* Posted writes of <= 8 bytes waiting to go out as one WRITE_MULTI. */
    struct uvfio_wire_write_multi_entry *batch;
    uint32_t batch_cnt;
    uint32_t batch_max;

    /* DMA maps, sorted by iova, disjoint. */
    struct uvfio_client_map *maps;
    size_t nr_maps;
    size_t maps_cap;
};

/*
 * Send command `cmd` (payload = iov, fds attached) and wait for its reply.
 * Big iov pieces are sent from the caller's memory, which is free again
 * when this returns.  Posted writes still batched are sent first.  Server DMA requests that
 * arrive meanwhile are served.  The reply is checked with
 * uvfio_wire_check_reply (a malformed one, or one with fds the command
 * does not take, is -EPROTO); an ERROR reply returns -(its errno), or -EIO
 * for an error of 0.  With `reply` non-NULL the caller owns the message on
 * success (uvfio_msg_free; fds it keeps it sets to -1).  -ETIMEDOUT after
 * the client's timeout; a reply arriving later is recognised by its msg_id
 * and dropped.
 */
int uvfio_client_request(struct uvfio_client *c, uint16_t cmd,
                         const struct iovec *iov, int iovcnt,
                         const int *fds, size_t nfds,
                         struct uvfio_msg *reply);

/*
 * uvfio_client_request for a reply whose data the caller wants in its own
 * memory: a reply of skip + up to len payload bytes brings the first skip
 * bytes in reply->payload (reply->len == skip) and the rest, reply->sunk
 * bytes, straight into buf (see uvfio_rx_set_sink).  The reply may still
 * arrive whole instead (reply->sunk == 0): the caller handles both, and
 * checks the fixed part against reply->sunk itself, which
 * uvfio_wire_check_reply cannot do for it.
 */
struct uvfio_client_sink {
    size_t skip;
    void *buf;
    size_t len;
};
int uvfio_client_request_sink(struct uvfio_client *c, uint16_t cmd,
                              const struct iovec *iov, int iovcnt,
                              const struct uvfio_client_sink *sink,
                              struct uvfio_msg *reply);

/* Queue a NO_REPLY command (after the posted batch) and wait until it has
 * been written to the socket. */
int uvfio_client_post(struct uvfio_client *c, uint16_t cmd,
                      const struct iovec *iov, int iovcnt);

/* Make sure incoming messages of `size` bytes (header included) are
 * accepted, e.g. a big DEVICE_FEATURE GET reply.  -ENOMEM never: only
 * raises the transport's limit. */
void uvfio_client_rx_reserve(struct uvfio_client *c, size_t size);

/* Queue a header-only ERROR reply (err < 0) to the server's request. */
int uvfio_client_push_error(struct uvfio_client_chan *ch,
                            const struct uvfio_wire_hdr *req, int err);

/* Done with a reply uvfio_client_request gave the caller: as
 * uvfio_msg_free, but a small payload's buffer holds the next reply. */
static inline void uvfio_client_msg_done(struct uvfio_client *c,
                                         struct uvfio_msg *m)
{
    uvfio_rx_recycle(c->main.rx, m);
}

/* The errno of an ERROR reply, as a negative value. */
int uvfio_client_reply_errno(const struct uvfio_msg *m);

/* region.c: queue the posted-write batch (as WRITE_MULTI) for sending. */
int uvfio_client_batch_push(struct uvfio_client *c);

/* dma_serve.c: answer a server DMA request read from `ch`. */
void uvfio_client_serve_dma(struct uvfio_client *c,
                            struct uvfio_client_chan *ch,
                            const struct uvfio_msg *m);

/* dma.c: the map covering `iova`, or NULL. */
const struct uvfio_client_map *
uvfio_client_map_find(const struct uvfio_client *c, uint64_t iova);
void uvfio_client_maps_free(struct uvfio_client *c);

#endif /* UVFIO_CLIENT_PRIV_H */
