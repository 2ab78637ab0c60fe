/* SPDX-License-Identifier: MIT */
/*
 * edu/pattern.h - what the copy queue writes into each page, and how a
 * checker tells from a page alone which pass wrote it.
 *
 * A page is 512 little-endian 64-bit words:
 *   word 0     EDU_CQ_PAGE_MAGIC ("UVEDUCQ1" in memory order)
 *   word 1     the pass that wrote it, counted from 1
 *   word 2     its index in the window
 *   word 3     its IOVA
 *   word k>3   pass * EDU_CQ_K1 ^ index * EDU_CQ_K2 ^ k * EDU_CQ_K3
 *
 * After `passes` complete passes and `pos` pages of the next one, page i
 * holds pass passes + 1 when i < pos, else pass `passes` (0: never
 * written).  A migrated copy of guest memory is right exactly when every
 * page says what the destination's CQ_PASSES/CQ_POS predict.
 */
#ifndef UVFIO_EDU_PATTERN_H
#define UVFIO_EDU_PATTERN_H

#include <stdint.h>

#define EDU_CQ_PAGE_MAGIC       0x3151435544455655ull   /* "UVEDUCQ1" */
#define EDU_CQ_K1               0x9e3779b97f4a7c15ull
#define EDU_CQ_K2               0xbf58476d1ce4e5b9ull
#define EDU_CQ_K3               0x94d049bb133111ebull
#define EDU_CQ_PAGE_WORDS       512u

void edu_cq_page_fill(void *page, uint64_t pass, uint64_t index,
                      uint64_t iova);
/* 0 when `page` is a whole pattern page for (index, iova), with *pass set
 * to the pass that wrote it; -EINVAL otherwise. */
int edu_cq_page_check(const void *page, uint64_t index, uint64_t iova,
                      uint64_t *pass);
/* The pass page `index` must carry, 0 for one not written yet. */
uint64_t edu_cq_expected_pass(uint64_t passes, uint64_t pos, uint64_t index);

#endif /* UVFIO_EDU_PATTERN_H */
