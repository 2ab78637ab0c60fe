/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_fake.h - a vfio-user server made of fuzzer bytes, for the client
 * library (fuzz_client_reply).
 *
 * It runs on a thread of its own over a socketpair, because the client's
 * calls are synchronous: it reads each request the client sends and
 * answers with the next "turn" of the input (fz_frame.h): server DMA
 * requests first, on either socket and in either layout, then a reply
 * whose header, errno, fds and payload the input decides.
 *
 * It never leaves the client waiting for nothing: after each turn it
 * parses its own output the way the client's receiver will (fz_mirror),
 * and only when that shows the reply the client waits for (or a stream
 * the client must give up on) does it wait for the next request;
 * otherwise it answers with the next turn, and when the input runs out it
 * hangs up.  The client's own timeout is therefore never what ends a call,
 * which keeps iterations fast and repeatable; a client that
 * neither sends nor goes away for FZ_FAKE_STUCK_MS is reported as stuck.
 *
 * What the client sends is checked too: its DMA replies must answer a
 * request the fake made, once, with the same command, well-formed in the
 * spec layout or as a bare errno.
 */
#ifndef UVFIO_FUZZ_FZ_FAKE_H
#define UVFIO_FUZZ_FZ_FAKE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_FAKE_STUCK_MS    4000

struct fz_fake;

/* Start serving on `sock` (taken) with the turns in data[0..size); the
 * client's offer is max_data_xfer_size `xfer`.  NULL on failure. */
struct fz_fake *fz_fake_start(int sock, const uint8_t *data, size_t size,
                              uint64_t xfer);
/* Wait for the fake to finish (the client has closed its socket) and
 * free it. */
void fz_fake_join(struct fz_fake *f);

#endif /* UVFIO_FUZZ_FZ_FAKE_H */
