// SPDX-License-Identifier: MIT
/*
 * core/dirty_ranges.c - the IOVA ranges of DMA_LOGGING_START: checked as
 * the kernel checks them, and combined for a tracker that follows fewer
 * ranges than the client asked for (algorithms §3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_priv.h"
#include "proto/wire.h"

/* Inclusive last byte; the caller made sure the range does not wrap. */
static uint64_t range_last(const struct uvfio_dirty_range *r)
{
    return r->iova + (r->length - 1);
}

static bool ranges_overlap(const struct uvfio_dirty_range *a,
                           const struct uvfio_dirty_range *b)
{
    return a->iova <= range_last(b) && b->iova <= range_last(a);
}

/*
 * One range, in the kernel's order: alignment (EINVAL), then the end past
 * 2^64 (EOVERFLOW), then overlap with the ranges before it (EINVAL), so
 * that a request wrong in several ways gets the kernel's answer.  A range
 * of length 0 logs nothing and is refused with EINVAL.
 */
static int range_check(const struct uvfio_dirty_range *r, uint32_t i,
                       const struct uvfio_dirty_range *all, uint64_t page_size)
{
    uint32_t j;

    if ((r->iova | r->length) & (page_size - 1))
        return -EINVAL;
    if (r->length > UINT64_MAX - r->iova)
        return -EOVERFLOW;
    if (!r->length)
        return -EINVAL;
    for (j = 0; j < i; j++)
        if (ranges_overlap(r, &all[j]))
            return -EINVAL;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct uvfio_dirty_range *x = a, *y = b;

    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

int dirty_ranges_parse(const void *wire, uint32_t nr, uint64_t page_size,
                       struct uvfio_dirty_range **out)
{
    const uint8_t *p = wire;
    struct uvfio_dirty_range *r;
    struct uvfio_wire_logging_range w;
    uint32_t i;
    int ret;

    *out = NULL;
    if (!nr)
        return 0;
    r = calloc(nr, sizeof(*r));
    if (!r)
        return -ENOMEM;
    for (i = 0; i < nr; i++) {
        memcpy(&w, p + (size_t)i * sizeof(w), sizeof(w));
        r[i].iova = w.iova;
        r[i].length = w.length;
        ret = range_check(&r[i], i, r, page_size);
        if (ret < 0) {
            free(r);
            return ret;
        }
    }
    qsort(r, nr, sizeof(*r), range_cmp);
    *out = r;
    return 0;
}

/* ---- combining --------------------------------------------------------- */

static int ranges_valid(const struct uvfio_dirty_range *r, uint32_t nr)
{
    uint32_t i;

    for (i = 0; i < nr; i++) {
        /* As START: a range may not reach 2^64, so that any union of
         * them still has a length. */
        if (!r[i].length || r[i].length > UINT64_MAX - r[i].iova)
            return -EINVAL;
        if (i && r[i].iova <= range_last(&r[i - 1]))
            return -EINVAL;
    }
    return 0;
}

/* The first of the smallest gaps: between ranges i and i + 1. */
static uint32_t smallest_gap(const struct uvfio_dirty_range *r, uint32_t nr)
{
    uint64_t gap, best = UINT64_MAX;
    uint32_t i, at = 0;

    for (i = 0; i + 1 < nr; i++) {
        gap = r[i + 1].iova - range_last(&r[i]);
        if (gap < best) {
            best = gap;
            at = i;
        }
    }
    return at;
}

int uvfio_dirty_combine_ranges(struct uvfio_dirty_range *ranges, uint32_t nr,
                               uint32_t max)
{
    uint32_t i;

    if ((nr && !ranges) || nr > INT32_MAX)
        return -EINVAL;
    if (ranges_valid(ranges, nr) < 0)
        return -EINVAL;
    if (!nr || !max || nr <= max)
        return (int)nr;
    if (max == 1) {
        ranges[0].length = range_last(&ranges[nr - 1]) - ranges[0].iova + 1;
        return 1;
    }
    while (nr > max) {
        i = smallest_gap(ranges, nr);
        ranges[i].length = range_last(&ranges[i + 1]) - ranges[i].iova + 1;
        memmove(&ranges[i + 1], &ranges[i + 2],
                (nr - i - 2) * sizeof(*ranges));
        nr--;
    }
    return (int)nr;
}
