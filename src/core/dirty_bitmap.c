// SPDX-License-Identifier: MIT
/*
 * core/dirty_bitmap.c - the bitmap a DMA_LOGGING_REPORT (or a DMA_UNMAP
 * with a dirty bitmap) fills: bit n for the report page n of the range,
 * u64 words, LSB first, as the kernel lays it out.
 *
 * The bitmap lives in the reply buffer, right after the fixed part of the
 * message, so its words have no alignment guarantee: they are moved with
 * memcpy, which compilers turn into plain loads and stores where the
 * target allows unaligned access.  Runs of bits are set a word at a time,
 * so reporting 64 GiB of dirty 4 KiB pages costs a 2 MiB fill, not 16
 * million bit operations.
 */
#include <string.h>

#include "dirty_priv.h"

uint64_t dirty_bitmap_nbits(uint64_t length, unsigned int shift)
{
    uint64_t n = length >> shift;

    return (length & ((1ull << shift) - 1)) ? n + 1 : n;
}

void dirty_bitmap_init(struct uvfio_dirty_bitmap *bm, uint64_t iova,
                       uint64_t length, unsigned int shift, void *bits,
                       bool zeroed)
{
    bm->iova = iova;
    bm->last = iova + (length - 1);
    bm->shift = shift;
    bm->nbits = dirty_bitmap_nbits(length, shift);
    bm->nwords = bm->nbits / 64 + (bm->nbits % 64 != 0);
    bm->init = zeroed ? bm->nwords : 0;
    bm->bits = bits;
}

void dirty_bitmap_finish(struct uvfio_dirty_bitmap *bm)
{
    dirty_bitmap_reach(bm, bm->nwords);
}

void dirty_bitmap_set_bits(struct uvfio_dirty_bitmap *bm, uint64_t b0,
                           uint64_t b1)
{
    uint64_t q0 = b0 / 64, q1 = b1 / 64;
    uint64_t head = ~0ull << (b0 % 64);
    uint64_t tail = ~0ull >> (63 - b1 % 64);

    if (q0 == q1) {
        dirty_bitmap_or_word(bm, q0, head & tail);
        return;
    }
    /* The words between are all ones, whatever they held. */
    dirty_bitmap_or_word(bm, q0, head);
    memset(bm->bits + (q0 + 1) * 8, 0xff, (size_t)(q1 - q0 - 1) * 8);
    if (bm->init < q1)
        bm->init = q1;
    dirty_bitmap_or_word(bm, q1, tail);
}

void dirty_bitmap_set_span(struct uvfio_dirty_bitmap *bm, uint64_t first,
                           uint64_t last)
{
    if (last < bm->iova || first > bm->last || first > last)
        return;
    if (first < bm->iova)
        first = bm->iova;
    if (last > bm->last)
        last = bm->last;
    dirty_bitmap_set_bits(bm, (first - bm->iova) >> bm->shift,
                          (last - bm->iova) >> bm->shift);
}

/* A driver's tracker hands over whole pages of its own size: the part of
 * a span outside the report is clipped, as is one that wraps past 2^64. */
UVFIO_API void uvfio_dirty_bitmap_set(struct uvfio_dirty_bitmap *dirty,
                                      uint64_t iova, uint64_t length)
{
    uint64_t last;

    if (!dirty || !length)
        return;
    last = length - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + (length - 1);
    dirty_bitmap_set_span(dirty, iova, last);
}
