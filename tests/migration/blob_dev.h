/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/blob_dev.h - a migratable test device whose state is a
 * byte array, streamed as tagged records of the framed image helper:
 *   'I' + image   the initial precopy record (state at PRE_COPY entry)
 *   'D' + image   a delta record (state after a change during precopy)
 *   'F' + image   the final record (STOP_COPY), the only one applied
 * The destination checks I and D records as they complete (an early
 * verdict) and checks F only in the RESUMING->STOP arc, so both ways a
 * bad image can be refused are exercised.
 */
#ifndef UVFIO_TEST_BLOB_DEV_H
#define UVFIO_TEST_BLOB_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#define BLOB_MAGIC      0x424c4f4254455354ull
#define BLOB_VERSION    1u

struct blob {
    struct uvfio_device *dev;
    uint8_t *regs;
    size_t size;

    /* saving */
    struct uvfio_mig_image out;
    uint8_t out_tag;            /* tag byte still to send, 0 if none */
    bool out_initial;           /* `out` is the I record */
    bool touched;               /* state changed since the last record */
    bool final_needed;          /* STOP_COPY reached from precopy */

    /* resuming */
    struct uvfio_mig_image in;
    int in_tag;                 /* record being received, -1 between */
    bool have_final;

    /* knobs and counters for the tests */
    size_t stingy;              /* save_read returns at most this (0: any) */
    uint64_t initial_bump;      /* misreport initial_bytes this much higher */
    int fail_read;              /* next save_read fails with this */
    unsigned int save_reads, aborts, resets, arcs;
};

/* A device of `size` state bytes (pattern-filled from `seed`). */
struct uvfio_device *blob_create(struct blob *b, size_t size, uint64_t flags,
                                 uint8_t seed);
void blob_destroy(struct blob *b);
/* Change state bytes, as a running device does. */
void blob_touch(struct blob *b, size_t off, size_t len);
/* Framed size of one record. */
size_t blob_record_size(const struct blob *b);

#endif /* UVFIO_TEST_BLOB_DEV_H */
