/* SPDX-License-Identifier: MIT */
/*
 * tests/server/tclient.h - a raw vfio-user client for the server tests.
 *
 * It speaks the wire directly through proto's send and receive, so a test
 * can send anything - well-formed or not - and see exactly what comes
 * back.  While it waits for a reply it answers the server's DMA_READ and
 * DMA_WRITE from its own "guest memory", either as the spec and
 * libvfio-user lay them out or exactly as QEMU's client does (u32 count,
 * data at 12, QEMU's size checks, a DMA_READ reply padded to
 * sizeof(VFIOUserDMARW)).  Every wait is bounded.
 */
#ifndef TESTS_SERVER_TCLIENT_H
#define TESTS_SERVER_TCLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/transport.h"

#define TC_TIMEOUT_MS 5000

struct tclient {
    int fd;
    int twin;                   /* -1 unless negotiated */
    struct uvfio_rx *rx;
    struct uvfio_rx *twin_rx;
    uint16_t next_id;

    /* Guest memory reached by message-path DMA. */
    uint8_t *mem;
    uint64_t mem_iova;
    size_t mem_len;
    bool qemu;                  /* answer DMA like QEMU does */
    int dma_error;              /* answer every DMA request with this */
    bool dma_ignore;            /* never answer DMA requests */
    uint64_t max_xfer;          /* for QEMU's E2BIG check */

    /* What the server sent us. */
    unsigned int dma_requests;
    unsigned int dma_on_twin;
    size_t last_dma_payload;    /* payload bytes of the last request */
    struct uvfio_wire_hdr last_dma_hdr;
    uint64_t max_dma_count;
};

int tc_connect(struct tclient *tc, const char *path);
/* Wrap a socket we already have (socketpair, --fd tests). */
int tc_attach(struct tclient *tc, int fd);
void tc_close(struct tclient *tc);

/* Send a command; returns its msg_id. */
uint16_t tc_send(struct tclient *tc, uint16_t cmd, uint32_t flags,
                 const void *payload, size_t len, const int *fds,
                 size_t nfds);
/* Raw bytes, for broken headers and half messages. */
int tc_send_bytes(struct tclient *tc, const void *bytes, size_t len);

/* Wait for the reply to `id`, serving DMA meanwhile.  0 with *out (free
 * it with uvfio_msg_free), -ETIMEDOUT, or -ECONNRESET when the server
 * closed.  A reply to another id is an error (-EPROTO). */
int tc_wait(struct tclient *tc, uint16_t id, struct uvfio_msg *out,
            int timeout_ms);
int tc_call(struct tclient *tc, uint16_t cmd, const void *payload,
            size_t len, const int *fds, size_t nfds, struct uvfio_msg *out);
/* Call and discard the reply: its errno as -errno, or 0. */
int tc_call_err(struct tclient *tc, uint16_t cmd, const void *payload,
                size_t len, const int *fds, size_t nfds);
/* A reply's errno as -errno, 0 for success. */
int tc_errno(const struct uvfio_msg *m);

/* VERSION with the given minor and capabilities JSON (NULL: none).  Takes
 * the twin socket if the reply brings one.  0, or the -errno replied. */
int tc_version(struct tclient *tc, uint16_t major, uint16_t minor,
               const char *json, struct uvfio_msg *out);
/* The usual opening: 0.2 (spec layout) or 0.0 (QEMU layout). */
int tc_hello(struct tclient *tc, bool qemu, bool twin);

/* Serve DMA requests until *stop or the timeout; 0 or -errno. */
int tc_serve_until(struct tclient *tc, atomic_bool *stop, int timeout_ms);
/* Whether the server closed the connection (EOF within timeout_ms). */
bool tc_wait_closed(struct tclient *tc, int timeout_ms);

/* Common requests. */
int tc_region_read(struct tclient *tc, uint32_t region, uint64_t offset,
                   void *buf, uint32_t count);
int tc_region_write(struct tclient *tc, uint32_t region, uint64_t offset,
                    const void *buf, uint32_t count);
int tc_dma_map(struct tclient *tc, uint64_t iova, uint64_t size,
               uint32_t flags, int fd, uint64_t offset);

#endif /* TESTS_SERVER_TCLIENT_H */
