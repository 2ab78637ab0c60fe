/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_mirror.h - a peer's receiver, replayed on the bytes we send it.
 *
 * A harness that writes raw bytes to a peer needs to know what the peer
 * will make of them: which complete messages it will see (so it can
 * expect their answers) and whether the stream is beyond saving.  The
 * mirror parses the outgoing stream exactly as proto's receiver does:
 * a header that fails uvfio_wire_check_hdr against the receiver's discard
 * limit ends the stream; any other is a message, read or skipped, complete
 * once its last byte is sent.
 */
#ifndef UVFIO_FUZZ_FZ_MIRROR_H
#define UVFIO_FUZZ_FZ_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"

struct fz_mirror {
    uint64_t discard;           /* the receiver's discard limit */
    uint8_t hdr[UVFIO_HDR_SIZE];
    size_t have;                /* bytes of hdr so far */
    uint64_t skip;              /* payload bytes still to come */
    struct uvfio_wire_hdr cur;
    bool broken;
};

/* Called with each message the receiver will have complete. */
typedef void (*fz_mirror_fn)(void *opaque, const struct uvfio_wire_hdr *h);

void fz_mirror_init(struct fz_mirror *m, uint64_t discard);
void fz_mirror_feed(struct fz_mirror *m, const uint8_t *p, size_t n,
                    fz_mirror_fn fn, void *opaque);
/* At a message boundary, stream intact. */
bool fz_mirror_synced(const struct fz_mirror *m);

#endif /* UVFIO_FUZZ_FZ_MIRROR_H */
