/* SPDX-License-Identifier: MIT */
/*
 * migrate/verify.h - did the destination get exactly the source's final
 * state?  Guest memory is compared page by page through 64-bit page
 * hashes (the two sides may be on different hosts: only the hashes
 * travel); the device state as bytes: the source's final image against
 * a fresh STOP_COPY image of the destination taken before it runs.
 *
 * The hash is for finding accidents (a page missed, stale, torn, sent to
 * the wrong place), not for resisting an adversary.
 */
#ifndef UVFIO_TOOLS_MIGRATE_VERIFY_H
#define UVFIO_TOOLS_MIGRATE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_LISTED   8       /* differing pages named in a report */

/* 64-bit hash of len bytes (any length, any alignment). */
uint64_t verify_hash(const void *p, size_t len);
/* One hash per 4 KiB page of base[0 .. npages * 4 KiB). */
void verify_page_sums(const uint8_t *base, uint64_t npages, uint64_t *sums);
/* One hash over the page hashes: the memory's. */
uint64_t verify_digest(const uint64_t *sums, uint64_t npages);

struct verify_mem {
    uint64_t npages;
    uint64_t differ;            /* pages whose hashes differ */
    uint64_t first;             /* the first of them (when differ) */
    uint64_t listed[VERIFY_LISTED];
    unsigned int nlisted;
};

void verify_compare_sums(const uint64_t *src, const uint64_t *dst,
                         uint64_t npages, struct verify_mem *out);

struct verify_dev {
    uint64_t src_len, dst_len;
    bool same;
    uint64_t first;             /* first differing offset (when !same):
                                   the shorter length if one is a prefix */
};

void verify_compare_bytes(const void *src, size_t src_len, const void *dst,
                          size_t dst_len, struct verify_dev *out);

#endif /* UVFIO_TOOLS_MIGRATE_VERIFY_H */
