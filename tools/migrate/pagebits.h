/* SPDX-License-Identifier: MIT */
/*
 * migrate/pagebits.h - a bitmap with one bit per 4 KiB page of guest
 * memory: the set of pages a live migration still has to send.
 *
 * The layout is the one DMA_LOGGING_REPORT fills (native-endian u64
 * words, bit n = page n, word n / 64, bit n % 64), so a device's report
 * can be OR-ed straight into it.
 */
#ifndef UVFIO_TOOLS_MIGRATE_PAGEBITS_H
#define UVFIO_TOOLS_MIGRATE_PAGEBITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LM_PAGE_SHIFT   12
#define LM_PAGE_SIZE    (1u << LM_PAGE_SHIFT)

struct pagebits {
    uint64_t *w;
    uint64_t nbits;             /* pages covered */
    size_t nwords;
};

int pagebits_init(struct pagebits *b, uint64_t nbits);
void pagebits_fini(struct pagebits *b);
void pagebits_clear(struct pagebits *b);
void pagebits_fill(struct pagebits *b);
/* Bits past nbits are ignored by every call (a report may not zero them). */
void pagebits_set_range(struct pagebits *b, uint64_t first, uint64_t count);
bool pagebits_test(const struct pagebits *b, uint64_t bit);
/* b |= words[0..nwords) */
void pagebits_or(struct pagebits *b, const uint64_t *words);
uint64_t pagebits_count(const struct pagebits *b);
/*
 * The next run of set bits at or after *pos: returns its length (0 when
 * there is none) with *pos at its first bit.  Runs are cut at max_run.
 */
uint64_t pagebits_next_run(const struct pagebits *b, uint64_t *pos,
                           uint64_t max_run);

#endif /* UVFIO_TOOLS_MIGRATE_PAGEBITS_H */
