/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_dirty_model.h - a reference model of DMA dirty logging, for the
 * differential fuzzer fuzz_dirty_report.
 *
 * It is written from the contract in <uvfio/dirty.h>, not from the core's
 * code, and as plainly as possible: the log is a set of dirty tracker page
 * numbers and a list of the driver tracker's dirty spans, and a report sets
 * its bits one by one.  It knows nothing about words, shifts of words,
 * grids or runs, which is where a fast implementation goes wrong.
 *
 * The two things it must share with the core are decisions the contract
 * leaves to the implementation: the tracker granularity START picks
 * (coarsened until the bitmaps fit DIRTY_MAX_BITMAP_BYTES: mp_pick_shift,
 * which the harness checks against the page size START answers) and when a
 * "log everything" tracker gives up and calls every page dirty (its memory
 * and range limits, mirrored in dm_map_added).
 */
#ifndef UVFIO_FUZZ_FZ_DIRTY_MODEL_H
#define UVFIO_FUZZ_FZ_DIRTY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/dirty.h>

/* The core's limits (core/dirty_priv.h), as the contract states them. */
#define DM_MIN_SHIFT        12u
#define DM_MAX_BITMAP_BYTES (256ull << 20)
#define DM_MAX_MAP_RANGES   65536u
#define DM_MAX_SPANS        64u

struct dm_ival {
    uint64_t first, last;       /* inclusive */
};

struct dirty_model {
    bool started;
    bool everything;            /* START without ranges */
    bool overflow;              /* the core tracker gave up: all dirty */
    unsigned int shift;         /* core tracker page size */
    struct dm_ival *logged;     /* sorted, disjoint */
    size_t nlogged, logged_cap;
    uint64_t bytes;             /* tracker bitmap memory, for the limit */
    uint64_t *pages;            /* dirty tracker page numbers */
    size_t npages, pages_cap;
    struct dm_ival spans[DM_MAX_SPANS];     /* the driver tracker's */
    size_t nspans;
};

/* Forget everything (STOP, or the end of an input). */
void dm_reset(struct dirty_model *m);

/* START: explicit ranges (sorted, checked) at tracker shift `shift`, or
 * nr == 0 to log every map in maps[0..nmaps) (sorted) and later ones. */
void dm_start(struct dirty_model *m, const struct uvfio_dirty_range *r,
              uint32_t nr, unsigned int shift, const struct dm_ival *maps,
              size_t nmaps);
/* A DMA map [first, last] was added while logging everything. */
void dm_map_added(struct dirty_model *m, uint64_t first, uint64_t last);
/* The device wrote [first, last] through the DMA API. */
void dm_mark(struct dirty_model *m, uint64_t first, uint64_t last);

/* The driver's own tracker saw [first, last] written / forgets a range. */
void dm_span_add(struct dirty_model *m, uint64_t first, uint64_t last);
void dm_span_clear(struct dirty_model *m, uint64_t first, uint64_t last);

/* The bitmap a report of [iova, last] at 2^pshift pages must hold: `bits`
 * has room for the report's words and is zeroed by the caller. */
void dm_expect(const struct dirty_model *m, uint64_t iova, uint64_t last,
               unsigned int pshift, uint8_t *bits);
/* After a report: the core tracker forgets pages wholly inside it. */
void dm_reported(struct dirty_model *m, uint64_t iova, uint64_t last);

/* What an operation costs the core, for a harness that bounds its inputs'
 * time: the tracker memory START allocates for these ranges at `shift`,
 * and the tracker words a report of [iova, last] reads. */
uint64_t dm_track_bytes(const struct uvfio_dirty_range *r, uint32_t nr,
                        unsigned int shift);
uint64_t dm_report_words(const struct dirty_model *m, uint64_t iova,
                         uint64_t last);

/* The granularity START must pick for these ranges and hint. */
unsigned int dm_pick_shift(const struct uvfio_dirty_range *r, uint32_t nr,
                           unsigned int hint);

/*
 * Check uvfio_dirty_combine_ranges' answer `out[0..n)` for the sorted,
 * disjoint input in[0..nr) and `max`: the right count, sorted and
 * disjoint, covering every input range, and covering exactly the union
 * plus the nr - max smallest gaps.  Returns NULL or what is wrong.
 */
const char *dm_check_combined(const struct uvfio_dirty_range *in, uint32_t nr,
                              uint32_t max, const struct uvfio_dirty_range *out,
                              int n);

#endif /* UVFIO_FUZZ_FZ_DIRTY_MODEL_H */
