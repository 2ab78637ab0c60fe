/* SPDX-License-Identifier: MIT */
/*
 * core/dirty_priv.h - shared by the dirty logging files only:
 *
 *   dirty_bitmap.c  the report bitmap a REPORT (or an unmap) fills
 *   dirty_track.c   the core's own tracker: bitmaps per logged range,
 *                   marking, read-and-clear into a report
 *   dirty_ranges.c  START's range checks and the range combiner
 *   dirty.c         the per-device state, the features, the hooks
 */
#ifndef UVFIO_CORE_DIRTY_PRIV_H
#define UVFIO_CORE_DIRTY_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <uvfio/dirty.h>

/* The core never tracks finer than this. */
#define DIRTY_MIN_SHIFT         12u
#define DIRTY_MIN_PAGE          (1ull << DIRTY_MIN_SHIFT)
/* Bitmap memory one device's tracker may use: 2^31 bits, 8 TiB at 4 KiB,
 * the kernel's type1 limit.  START coarsens its page size to stay below. */
#define DIRTY_MAX_BITMAP_BYTES  (256ull << 20)
/* Ranges a "log everything" tracker may grow to as maps come and go. */
#define DIRTY_MAX_MAP_RANGES    65536u

/* ---- the report bitmap (dirty_bitmap.c) -------------------------------- */

/*
 * Bit n covers [iova + (n << shift), + (1 << shift)) clipped to `last`.
 * `bits` has room for nbits rounded up to whole u64 words and need not be
 * aligned: words are read and written with memcpy.
 *
 * The buffer is not cleared beforehand - a 2 MiB memset would cost as much
 * as the whole report.  Words [0, init) hold bits; the writers extend that
 * prefix as they go (zeroing what they skip, storing outright what they
 * produce whole), and dirty_bitmap_finish() zeroes the rest.
 */
struct uvfio_dirty_bitmap {
    uint64_t iova;
    uint64_t last;              /* inclusive: a range may end at 2^64 - 1 */
    unsigned int shift;
    uint64_t nbits;
    uint64_t nwords;
    uint64_t init;              /* words written so far, from 0 */
    uint8_t *bits;
};

/* `zeroed`: the caller cleared the words already. */
void dirty_bitmap_init(struct uvfio_dirty_bitmap *bm, uint64_t iova,
                       uint64_t length, unsigned int shift, void *bits,
                       bool zeroed);
/* Every word written: the ones nobody set are zero. */
void dirty_bitmap_finish(struct uvfio_dirty_bitmap *bm);
/* Bits needed for a range; the caller checked length > 0. */
uint64_t dirty_bitmap_nbits(uint64_t length, unsigned int shift);
/* Set bits [b0, b1], both < nbits. */
void dirty_bitmap_set_bits(struct uvfio_dirty_bitmap *bm, uint64_t b0,
                           uint64_t b1);
/* Set the bits of IOVA [first, last] that lie inside the bitmap's range. */
void dirty_bitmap_set_span(struct uvfio_dirty_bitmap *bm, uint64_t first,
                           uint64_t last);
/* Make words [0, end) valid, zeroing the ones not written yet. */
static inline void dirty_bitmap_reach(struct uvfio_dirty_bitmap *bm,
                                      uint64_t end)
{
    if (end > bm->init) {
        memset(bm->bits + bm->init * 8, 0, (size_t)(end - bm->init) * 8);
        bm->init = end;
    }
}

/* OR v into word q (q < nwords); inline, the report's inner loop. */
static inline void dirty_bitmap_or_word(struct uvfio_dirty_bitmap *bm,
                                        uint64_t q, uint64_t v)
{
    uint64_t w;

    dirty_bitmap_reach(bm, q + 1);
    memcpy(&w, bm->bits + q * 8, sizeof(w));
    w |= v;
    memcpy(bm->bits + q * 8, &w, sizeof(w));
}

/* ---- the core's tracker (dirty_track.c) -------------------------------- */

/* One logged range and its bitmap, one bit per tracker page from `base`. */
struct dirty_range {
    uint64_t first, last;       /* logged IOVA, inclusive */
    uint64_t base;              /* first tracker page, aligned down */
    uint64_t span_last;         /* last byte of the last tracker page */
    uint64_t nbits;
    uint64_t *words;            /* accessed with __atomic builtins only */
};

struct dirty_tracker {
    unsigned int shift;         /* log2 of the tracker page size */
    bool everything;            /* START without ranges: maps join */
    bool overflow;              /* lost track: report everything dirty */
    struct dirty_range *r;      /* sorted by IOVA, disjoint */
    size_t nr, cap;
    uint64_t bytes;             /* bitmap memory, against the limit */
};

/* The shift for ranges at a hinted shift: raised until their bitmaps fit
 * DIRTY_MAX_BITMAP_BYTES. */
unsigned int dirty_track_pick_shift(const struct uvfio_dirty_range *ranges,
                                    uint32_t nr, unsigned int hint);
struct dirty_tracker *dirty_track_new(unsigned int shift, bool everything);
void dirty_track_free(struct dirty_tracker *t);
/* Log [first, last] too; ranges must arrive disjoint from the others.
 * -ENOMEM, or -E2BIG beyond the limits. */
int dirty_track_add(struct dirty_tracker *t, uint64_t first, uint64_t last);
/* everything mode: log the parts of [first, last] not logged yet; past the
 * limits the tracker overflows instead of failing. */
void dirty_track_add_uncovered(struct dirty_tracker *t, uint64_t first,
                               uint64_t last);
/* Concurrent with other markers and with one reader. */
void dirty_track_mark(struct dirty_tracker *t, uint64_t first, uint64_t last);
/* Report into bm and clear what was reported; one reader at a time. */
void dirty_track_report(struct dirty_tracker *t,
                        struct uvfio_dirty_bitmap *bm);

/* ---- START's ranges (dirty_ranges.c) ----------------------------------- */

/*
 * Decode and check the ranges of a START payload (after the 16-byte fixed
 * part) against page_size, and return them sorted in a new array (NULL for
 * nr == 0).
 */
int dirty_ranges_parse(const void *wire, uint32_t nr, uint64_t page_size,
                       struct uvfio_dirty_range **out);

#endif /* UVFIO_CORE_DIRTY_PRIV_H */
