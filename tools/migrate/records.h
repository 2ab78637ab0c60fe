/* SPDX-License-Identifier: MIT */
/*
 * migrate/records.h - the payloads of the live-migration stream's records
 * (stream.h has the framing), in the order a migration sends them:
 *
 *   source                                destination
 *   HELLO  ------------------------------>  checks it, maps its memory,
 *                                           device -> RESUMING
 *          <------------------------------  READY (or ERROR)
 *   PAGES, DEVDATA, ROUND ... (precopy)
 *   SWITCHOVER (the source is stopped)
 *   PAGES, DEVDATA (the final image)
 *   END    ------------------------------>  device RESUMING -> STOP
 *          <------------------------------  LOADED
 *   SUMS ... (source page hashes)           its own page hashes, a fresh
 *                                           STOP_COPY image, compared;
 *                                           device -> RUNNING if equal
 *          <------------------------------  RESULT
 *
 * Either end may send ERROR at any point and stop.  All integers are
 * little-endian; reserved fields are 0 and checked.
 */
#ifndef UVFIO_TOOLS_MIGRATE_RECORDS_H
#define UVFIO_TOOLS_MIGRATE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "verify.h"

#define LM_MAGIC                0x313047494d4c5655ull   /* "UVLMIG01" */
#define LM_VERSION              1u

/* HELLO: u64 magic, u32 version, u32 page_size, u64 mem_size,
 * u64 mig_flags, u32 precopy, u32 reserved, u64 reserved */
#define LM_HELLO_SIZE           48u
struct lm_hello {
    uint64_t mem_size;          /* guest memory bytes, 4 KiB multiple */
    uint64_t mig_flags;         /* the source device's UVFIO_MIGRATION_* */
    bool precopy;               /* device data will come in PRE_COPY */
};

/* READY: u64 mig_flags (the destination device's) */
#define LM_READY_SIZE           8u

/* END: u64 rounds, u64 pages, u64 dev_bytes, u64 final_len,
 * u64 final_hash */
#define LM_END_SIZE             40u
struct lm_end {
    uint64_t rounds;            /* precopy rounds */
    uint64_t pages;             /* page copies sent, all rounds */
    uint64_t dev_bytes;         /* device stream bytes sent, all phases */
    uint64_t final_len;         /* device bytes after SWITCHOVER */
    uint64_t final_hash;        /* verify_hash of those bytes */
};

/* RESULT: u32 status, u32 flags, u64 npages, differ, first,
 * listed[8], u32 nlisted, u32 reserved, u64 dev_src_len, dev_dst_len,
 * dev_first, u64 load_ns, verify_ns, run_ns, u64 digest */
#define LM_RESULT_SIZE          160u
#define LM_RESULT_MEM_OK        0x1u
#define LM_RESULT_DEV_OK        0x2u
#define LM_RESULT_RUNNING       0x4u
struct lm_result {
    int status;                 /* 0, or -errno: why it is not running */
    uint32_t flags;             /* LM_RESULT_* */
    struct verify_mem mem;
    struct verify_dev dev;
    uint64_t load_ns;           /* RESUMING -> STOP */
    uint64_t verify_ns;         /* hashing and comparing (held) */
    uint64_t run_ns;            /* STOP -> RUNNING */
    uint64_t digest;            /* the destination memory's */
};

/* ERROR: u32 errno (positive), then up to 256 bytes of text */
#define LM_ERROR_MIN            4u

void lm_hello_encode(const struct lm_hello *h, uint8_t *out);
/* -EPROTO: not a uvfio live migration; -EPROTONOSUPPORT: another version
 * or page size; -EINVAL: impossible values. */
int lm_hello_decode(const uint8_t *p, size_t len, struct lm_hello *h);

void lm_ready_encode(uint64_t mig_flags, uint8_t *out);
int lm_ready_decode(const uint8_t *p, size_t len, uint64_t *mig_flags);

void lm_end_encode(const struct lm_end *e, uint8_t *out);
int lm_end_decode(const uint8_t *p, size_t len, struct lm_end *e);

void lm_result_encode(const struct lm_result *r, uint8_t *out);
int lm_result_decode(const uint8_t *p, size_t len, struct lm_result *r);

/* *len bytes of `out` (at least LM_ERROR_MIN + LM_ERROR_TEXT_MAX). */
void lm_error_encode(int err, const char *text, uint8_t *out, size_t *len);
/* text: NUL-terminated, at most LM_ERROR_TEXT_MAX characters, control
 * characters replaced: it ends up on a terminal. */
int lm_error_decode(const uint8_t *p, size_t len, int *err, char *text,
                    size_t text_size);

#endif /* UVFIO_TOOLS_MIGRATE_RECORDS_H */
