/* SPDX-License-Identifier: MIT */
/*
 * migrate/live_priv.h - what the two ends of a live migration share
 * (live.c): recording a failure, the clock, and a side's device and guest
 * memory (guestmem.c).
 */
#ifndef UVFIO_TOOLS_MIGRATE_LIVE_PRIV_H
#define UVFIO_TOOLS_MIGRATE_LIVE_PRIV_H

#include <stdint.h>

#include <uvfio/uvfio.h>
#include <uvfio/dirty.h>

#include "live.h"
#include "stream.h"

/* Record the first failure; returns err. */
int live_fail(struct live_result *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t live_now_ns(void);
/* "PRE_COPY"; the engine of device-only migration has its own. */
const char *live_state_name(enum uvfio_mig_state s);
double live_ms(uint64_t ns);

/* One side of the migration: its device connection and guest memory. */
struct live_side {
    struct uvfio_client *dev;
    struct uvfio_guest_mem mem;
    uint8_t *host;              /* mem.host, for byte arithmetic */
    uint64_t npages;
    bool mapped;
};

/* Connect to the device (asking for the precopy-info extension). */
int live_side_connect(struct live_side *sd, const char *path,
                      uint32_t timeout_ms);
/* Guest memory of `size` bytes, DMA-mapped read/write at IOVA 0. */
int live_side_memory(struct live_side *sd, uint64_t size, const char *name);
void live_side_close(struct live_side *sd);

/* The device's migration flags, STOP_COPY required. */
int live_side_flags(struct live_side *sd, uint64_t *flags);

/* Append n bytes to the buffer that keeps a final device image (both ends
 * keep one), growing it by doubling from 64 KiB and never past
 * LIVE_MAX_FINAL_IMAGE; nothing changes on failure, which is reported into
 * r as what went wrong with `what` (the image, as the caller's side calls
 * it): -EFBIG, -ENOMEM. */
int live_keep_final(struct live_result *r, const char *what, uint8_t **buf,
                    size_t *len, size_t *cap, const void *p, size_t n);

/* The peer's ERROR record (already received as `rec`) into r->step. */
int live_peer_error(struct lm_stream *s, const struct lm_rec *rec,
                    struct live_result *r, const char *who);

#endif /* UVFIO_TOOLS_MIGRATE_LIVE_PRIV_H */
