/* SPDX-License-Identifier: MIT */
/*
 * server/server_priv.h - the server's objects and how its files share them.
 *
 *   server.c    the public API: create/destroy, options, the epoll loop
 *   devices.c   the devices served: add, remove, listening on and off
 *   listen.c    listening sockets: path, mode 0600, --fd sockets
 *   conn.c      one client connection: input, output queue, teardown
 *   negotiate.c VERSION, the first message of every connection
 *   dispatch.c  one client command: proto checks, core handler, reply
 *   dmareq.c    server-initiated DMA_READ/DMA_WRITE (the core's dma_rw)
 *   opts.c      the limits as command-line options
 *
 * Threads.  Everything runs on the thread that calls
 * uvfio_server_dispatch() (the "dispatch thread"), except
 * uvfio_server_stop() and message-path DMA, which any thread may start.
 * What those two touch is guarded as follows: the stop and wake eventfds
 * are written with write(2); a connection's output queues, its table of
 * outstanding DMA requests and its `dead` state live under conn->lock.  A
 * connection's input (rx, deferred commands) is the dispatch thread's
 * alone.
 *
 * Lifetime.  A connection or device slot that goes away while a dispatch
 * call is running is unlinked at once but freed only when the outermost
 * dispatch returns, because an epoll event already fetched in the same
 * batch may still point at it.  The core's dma_rw gets the connection as
 * its ctx: a connection is torn down only after every DMA waiter has been
 * failed and has left, and after uvfio_core_detach, which itself waits for
 * the core's callers of dma_rw, so the ctx never dangles.
 *
 * Per-client limits: max_msg_fds per message, max_data_xfer_size (plus
 * SRV_MSG_OVERHEAD) per message, max_queued_reply_bytes of replies queued,
 * and as many bytes (at most SRV_DEFER_MAX_MSGS messages) of commands
 * parked while a DMA reply is awaited.  The one thing a client can make
 * the whole loop wait for is its answer to a DMA request issued on the
 * dispatch thread, bounded by opts.dma_timeout_ms (SRV_DMA_TIMEOUT_MS by
 * default; docs/robustness.md measures it).
 */
#ifndef UVFIO_SERVER_SERVER_PRIV_H
#define UVFIO_SERVER_SERVER_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/server.h>

#include "core/core.h"
#include "proto/transport.h"
#include "proto/version.h"

/* Defaults of struct uvfio_server_opts (server.h documents them). */
#define SRV_DEFAULT_MAX_MSG_FDS     16u
#define SRV_DEFAULT_QUEUE_SLACK     (1u << 20)
/* Room on top of max_data_xfer_size for headers and fixed parts of a
 * message, and the smallest message size a client may lower us to (a full
 * REGION_WRITE_MULTI is 49 KiB whatever max_data_xfer_size says). */
#define SRV_MSG_OVERHEAD            4096u
#define SRV_MIN_MSG_SIZE            (64u << 10)
/* A message announced larger than this is not skipped but ends the
 * connection: nothing legitimate is that big. */
#define SRV_DISCARD_LIMIT           (UVFIO_MAX_DATA_XFER_LIMIT + (1u << 20))
/* Messages handled per connection before the loop looks at the others, so
 * a flooding client cannot starve its neighbours. */
#define SRV_CONN_BUDGET             32u
/* How long a message-path DMA waits for the client's reply. */
#define SRV_DMA_TIMEOUT_MS          10000
/* Commands a client may pipeline while the server waits for a DMA reply. */
#define SRV_DEFER_MAX_MSGS          1024u
/* A reply this big is handed to the output queue, not copied into it. */
#define SRV_REPLY_TAKE_MIN          (64u << 10)
#define SRV_LISTEN_BACKLOG          16

enum srv_tag_kind {
    SRV_TAG_STOP,
    SRV_TAG_WAKE,
    SRV_TAG_LISTEN,
    SRV_TAG_CORE_EVENT,
    SRV_TAG_CONN,
    SRV_TAG_TWIN,
};

/* What an epoll event (or a ring event, ring.c) points at. */
struct srv_tag {
    enum srv_tag_kind kind;
    void *obj;
    /* A client socket watched by the run loop's ring instead of epoll;
     * epoll then has it only while POLLOUT is wanted (out_in_epoll).
     * Changed under the connection's lock. */
    bool in_ring;
    bool out_in_epoll;
};

/* What the ring's wait hands back: a client socket's events, or, with a
 * NULL tag, "the epoll set has something". */
struct srv_ring_event {
    struct srv_tag *tag;
    uint64_t key;
    uint32_t events;
};
/* In a client socket's events: the ring read the bytes and fed them to
 * the receiver (ring_recv.c); the socket itself need not be read.  (A bit
 * epoll never reports.) */
#define SRV_EV_FED      (1u << 24)

struct srv_conn;
struct srv_dma_wait;

/* A client command parked while a DMA reply was awaited. */
struct srv_deferred {
    struct srv_deferred *next;
    struct uvfio_msg msg;
};

/* One output direction: a socket and its queue. */
struct srv_out {
    int fd;
    struct uvfio_txq *txq;
    bool pollout;           /* EPOLLOUT armed on fd */
    /* A small reply the run loop's ring sends as it goes to sleep
     * (ring.c): SRV_RTX_NONE, _PENDING (in rtx_buf, header included) or
     * _INFLIGHT (handed to the kernel, outcome not yet seen). */
    uint8_t rtx;
    uint32_t rtx_len;
    uint8_t *rtx_buf;       /* SRV_RTX_MAX bytes, made on first use */
};

enum { SRV_RTX_NONE, SRV_RTX_PENDING, SRV_RTX_INFLIGHT };
/* Kept to one skb whatever SO_SNDBUF is (the kernel's minimum gives
 * 2240-byte skbs): a send of it is then all or nothing, never partial. */
#define SRV_RTX_MAX     1024u

/* One device the server serves. */
struct srv_dev {
    struct uvfio_server *srv;
    struct uvfio_device *dev;
    struct srv_dev *next;
    int listen_fd;          /* -1: served over one connected fd */
    char *path;             /* socket file we created, unlinked at the end */
    uint64_t path_dev, path_ino;    /* ... and its identity */
    bool listening;         /* listen_fd is in the epoll set */
    int event_fd;           /* the core's watch fd, -1 if none */
    struct srv_tag listen_tag;
    struct srv_tag event_tag;
    struct srv_conn *conn;  /* the client, NULL when none */
    bool removed;           /* unlinked, waiting to be freed */
};

struct srv_conn {
    struct uvfio_server *srv;
    struct srv_dev *sd;
    struct srv_conn *zombie_next;

    /* Dispatch thread only. */
    struct uvfio_rx *rx;
    struct uvfio_rx *twin_rx;
    struct srv_tag tag;
    struct srv_tag twin_tag;
    struct srv_deferred *deferred, **deferred_tail;
    size_t deferred_msgs;
    size_t deferred_bytes;
    bool ready;             /* input may be buffered: process again */
    bool twin_ready;        /* same for the twin socket */
    bool negotiated;        /* VERSION done */
    bool attached;          /* uvfio_core_attach succeeded */
    bool write_multiple;
    bool closed;            /* torn down: ignore stale events */
    unsigned int depth;     /* nesting of conn_process on the stack */
    struct uvfio_core_client client;
    /* Replies are built here and the allocation kept, so that big ones
     * (MIG_DATA_READ) reuse pages already faulted in; a big reply lends
     * it to the output queue, which gives it back once sent (rep_lent). */
    struct uvfio_buf rep;
    bool rep_lent;

    /* Under lock (any thread). */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct srv_out out;     /* the client socket */
    struct srv_out twin;    /* twin socket for DMA requests, fd -1 if none */
    int dead;               /* errno why the connection ended, 0 if alive;
                               set once, under the lock but atomically,
                               because the dispatch thread's loop checks
                               it without the lock (conn.c: conn_dead) */
    unsigned int users;     /* threads inside dma_rw */
    uint16_t next_dma_id;
    bool qemu_dma_layout;   /* see dmareq.c */
    uint64_t max_xfer;      /* negotiated max_data_xfer_size */
    struct srv_dma_wait *waits;
};

struct uvfio_server {
    struct uvfio_server_opts opts;  /* defaults resolved */
    int epfd;
    int stop_fd;
    int wake_fd;
    int reserve_fd;         /* spare fd given up to shed a connection on
                               EMFILE, as libuv does */
    struct srv_tag stop_tag, wake_tag;
    struct srv_dev *devs;
    struct srv_conn *zombies;
    struct srv_dev *dead_devs;
    struct srv_ring *ring;  /* while uvfio_server_run waits on io_uring */
    unsigned int dispatch_depth;
    bool stop_seen;
    int dma_timeout_ms;
};

/* ---- server.c ---------------------------------------------------------- */
int srv_epoll_add(struct uvfio_server *srv, int fd, uint32_t events,
                  struct srv_tag *tag);
int srv_epoll_mod(struct uvfio_server *srv, int fd, uint32_t events,
                  struct srv_tag *tag);
void srv_epoll_del(struct uvfio_server *srv, int fd);
/* Ask the dispatch thread to look at its connections (any thread). */
void srv_wake(struct uvfio_server *srv);
/* Whether the caller is inside uvfio_server_dispatch(srv). */
bool srv_on_dispatch_thread(const struct uvfio_server *srv);
void srv_close_fd(int *fd);
/* Test hook (not exported): shorten the DMA reply timeout. */
void uvfio_server_set_dma_timeout(struct uvfio_server *srv, int ms);
/* Test hook (not exported): what the run loop's ring has done so far,
 * all zero without one (ring_recv.c). */
struct srv_ring_counts {
    uint64_t fed;           /* receives fed to their connections */
    uint64_t to_poll;       /* connections sent to read for themselves */
    uint64_t to_recv;       /* ... and given the ring's receive back */
    uint64_t rearmed;       /* receives the kernel ended, armed again */
    int ring_fd;            /* the ring's fd (its fdinfo lists what is
                               armed), -1 without one */
};
void uvfio_server_ring_counts(struct uvfio_server *srv,
                              struct srv_ring_counts *out);

/* ---- ring.c ------------------------------------------------------------ */
/* At uvfio_server_create: 0, or -errno when there is no usable io_uring
 * (then epoll it is); destroy is safe without one. */
int srv_ring_create(struct uvfio_server *srv);
void srv_ring_destroy(struct uvfio_server *srv);
/* Around uvfio_server_run: start is 0 when the run may wait on the ring. */
int srv_ring_start(struct uvfio_server *srv);
void srv_ring_stop(struct uvfio_server *srv);
/* Whether a ring is active and owned by the calling thread. */
bool srv_ring_here(const struct uvfio_server *srv);
/* Watch a client socket for input from the ring (owner thread only). */
int srv_ring_watch(struct uvfio_server *srv, int fd, struct srv_tag *tag);
/* Stop watching fd if the ring does; true when it did (owner thread). */
bool srv_ring_unwatch(struct uvfio_server *srv, int fd);
/* Sleep until something is ready; up to max events, or -errno. */
int srv_ring_wait(struct uvfio_server *srv, struct srv_ring_event *evs,
                  int max);
/* (Ring thread, under c->lock.)  Have the next wait send o's PENDING
 * reply; false when it cannot (no ring here, no room). */
bool srv_ring_tx_add(struct uvfio_server *srv, struct srv_conn *c,
                     struct srv_out *o);
/* o is closing: forget its reply (ring thread). */
void srv_ring_tx_forget(struct uvfio_server *srv, struct srv_out *o);
/* Whether an event's socket is still the one watched (not removed by an
 * earlier event of the same batch). */
bool srv_ring_event_live(const struct uvfio_server *srv,
                         const struct srv_ring_event *ev);
/* After a live event was handled: a connection that reads for itself
 * gets the ring's receive back once its receiver is idle (ring_recv.c). */
void srv_ring_after_event(struct uvfio_server *srv,
                          const struct srv_ring_event *ev);

/* ---- devices.c --------------------------------------------------------- */
/* Start or stop accepting on a device's listening socket. */
int srv_dev_listen(struct srv_dev *sd, bool on);
/* Disconnect, close, unlink, forget (freed now or after the dispatch). */
void srv_dev_teardown(struct srv_dev *sd);
void srv_dev_free(struct srv_dev *sd);

/* ---- listen.c ---------------------------------------------------------- */
int srv_listen_path(const char *path, int *fd_out, uint64_t *dev_out,
                    uint64_t *ino_out);
/* 1: listening socket, 0: connected stream socket, -errno otherwise. */
int srv_classify_fd(int fd);
/* Unlink the socket file if it is still the one we created. */
void srv_unlink_path(const char *path, uint64_t dev, uint64_t ino);
int srv_accept(struct uvfio_server *srv, int listen_fd);

/* ---- conn.c ------------------------------------------------------------ */
int conn_new(struct srv_dev *sd, int fd);
void conn_handle_event(struct srv_conn *c, bool twin, uint32_t events);
/* As conn_handle_event, but only marks the connection and wakes the loop
 * (any context of the dispatch thread, even under the lock). */
void conn_note_event(struct srv_conn *c, bool twin, uint32_t events);
/* Bytes and fds the ring read from the command socket (ring_recv.c): to
 * the receiver, which owns the fds from then on.  true when the ring
 * should stop reading ahead: bytes wait beyond the receive buffer, or a
 * message bigger than it is coming (or the stream is broken). */
bool conn_feed(struct srv_conn *c, const void *p, size_t n, int *fds,
               size_t nfds, bool trunc);
/* Nothing buffered, parked or pending: the ring may read for it again. */
bool conn_rx_idle(struct srv_conn *c);
/* Handle buffered and deferred input, then tear down if it ended. */
void conn_process(struct srv_conn *c);
/* Tear the connection down (dispatch thread, not from inside its own
 * processing).  The device keeps its state and listens again. */
void conn_destroy(struct srv_conn *c);
void conn_free(struct srv_conn *c);
/* End the connection for `err` (any thread; lock not held). */
void conn_fail(struct srv_conn *c, int err, const char *why);
void conn_fail_locked(struct srv_conn *c, int err, const char *why);
/* Queue a message on a direction and push what the socket takes
 * (lock held).  A full queue ends the connection. */
int conn_send_locked(struct srv_conn *c, struct srv_out *o,
                     struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                     int iovcnt, const int *fds, size_t nfds);
int conn_flush_locked(struct srv_conn *c, struct srv_out *o);
/* Under c->lock: what became of o's INFLIGHT reply (a send's result). */
void conn_rtx_done_locked(struct srv_conn *c, struct srv_out *o, int res);
/* Under c->lock: send o's PENDING reply now (the ring will not). */
int conn_rtx_settle_locked(struct srv_conn *c, struct srv_out *o);
/* Replies to a client command (dispatch thread). */
void conn_reply(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                const void *payload, size_t len, const int *fds,
                size_t nfds);
/* The connection's reply buffer, empty, to build a reply in; give it back
 * with conn_reply_buf_put after conn_reply_buf. */
void conn_reply_buf_get(struct srv_conn *c, struct uvfio_buf *b);
void conn_reply_buf_put(struct srv_conn *c, struct uvfio_buf *b);
/* Reply with b's bytes; a big reply takes b's allocation (b left empty). */
void conn_reply_buf(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                    struct uvfio_buf *b, const int *fds, size_t nfds);
void conn_reply_error(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                      int err);
/* Keep a command read while waiting for a DMA reply; handled later in
 * order.  Takes ownership of *m.  -ENOBUFS past the limits. */
int conn_defer(struct srv_conn *c, struct uvfio_msg *m);
/* Set the receive limits from the negotiated max_data_xfer_size. */
void conn_set_limits(struct srv_conn *c, uint64_t max_xfer);
/* Read and route what arrived on the twin socket (DMA replies). */
void conn_read_twin(struct srv_conn *c);
void conn_twin_message(struct srv_conn *c, struct uvfio_msg *m);

/* ---- negotiate.c ------------------------------------------------------- */
void srv_version(struct srv_conn *c, struct uvfio_msg *m);

/* ---- dispatch.c -------------------------------------------------------- */
/* Handle one message read from the client socket (command or reply). */
void srv_dispatch_msg(struct srv_conn *c, struct uvfio_msg *m);

/* ---- dmareq.c ---------------------------------------------------------- */
int srv_dma_rw(void *ctx, bool write, uint64_t iova, void *buf, size_t len);
/* A reply from the client: wake whoever waits for it (m stays the
 * caller's). */
void srv_dma_reply(struct srv_conn *c, struct uvfio_msg *m);
/* Fail every outstanding request with err (lock held). */
void srv_dma_fail_all_locked(struct srv_conn *c, int err);

#endif /* UVFIO_SERVER_SERVER_PRIV_H */
