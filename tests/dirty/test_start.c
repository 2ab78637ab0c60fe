// SPDX-License-Identifier: MIT
/*
 * tests/dirty/test_start.c - DMA_LOGGING_START and STOP: every validation
 * errno, the page size written back, the range combiner (exact results on
 * crafted sets, and the smallest-gaps property on random ones), and what
 * a driver with its own tracker is handed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define FHDR    sizeof(struct uvfio_wire_feature)
#define START   (UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_START)
#define CTL     sizeof(struct uvfio_wire_logging_control)

static struct uvfio_dirty_range R(uint64_t iova, uint64_t length)
{
    struct uvfio_dirty_range r = { iova, length };

    return r;
}

static int start1(struct tdev *t, uint64_t ps, uint64_t iova, uint64_t len)
{
    struct uvfio_dirty_range r = R(iova, len);

    return t_start(t, &r, 1, &ps);
}

/* ---- validation -------------------------------------------------------- */

static void test_start_errnos(void **state)
{
    struct uvfio_dirty_range two[2] = { R(0, 2 * PG), R(PG, PG) };
    struct tdev t;
    uint64_t ps;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    /* page size: a power of two, nothing else */
    assert_int_equal(start1(&t, 0, 0, PG), -EINVAL);
    assert_int_equal(start1(&t, 3 * PG, 0, 3 * PG), -EINVAL);
    /* alignment of iova and of length to the page size asked for */
    assert_int_equal(start1(&t, 2 * PG, PG, 2 * PG), -EINVAL);
    assert_int_equal(start1(&t, 2 * PG, 0, 3 * PG), -EINVAL);
    assert_int_equal(start1(&t, PG, 0, 0), -EINVAL);
    /* past 2^64, and ending exactly at 2^64 */
    assert_int_equal(start1(&t, PG, UINT64_MAX - 2 * PG + 1, 4 * PG),
                     -EOVERFLOW);
    assert_int_equal(start1(&t, PG, UINT64_MAX - 2 * PG + 1, 2 * PG),
                     -EOVERFLOW);
    /* overlap */
    ps = PG;
    assert_int_equal(t_start(&t, two, 2, &ps), -EINVAL);
    two[1] = R(2 * PG, PG);     /* adjacent is fine */
    assert_int_equal(t_start(&t, two, 2, &ps), 0);
    /* a second START without a STOP */
    assert_int_equal(start1(&t, PG, 16 * PG, PG), -EBUSY);
    /* STOP twice: both fine; then START again */
    assert_int_equal(t_stop(&t), 0);
    assert_int_equal(t_stop(&t), 0);
    assert_int_equal(start1(&t, PG, UINT64_MAX - 2 * PG + 1, PG), 0);
    assert_int_equal(t_stop(&t), 0);
    tdev_fini(&t);
}

/* Range by range, in the kernel's order: an overflow after an overlap is
 * EINVAL (the overlap came first), an overlap after an overflow
 * EOVERFLOW. */
static void test_start_errno_order(void **state)
{
    struct uvfio_dirty_range a[3] = {
        R(0, 4 * PG), R(PG, PG), R(UINT64_MAX - PG + 1, 2 * PG),
    };
    struct tdev t;
    uint64_t ps = PG;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_start(&t, a, 3, &ps), -EINVAL);
    a[1] = R(UINT64_MAX - PG + 1, 2 * PG);
    a[2] = R(PG, PG);
    assert_int_equal(t_start(&t, a, 3, &ps), -EOVERFLOW);
    tdev_fini(&t);
}

static void test_start_range_count(void **state)
{
    struct uvfio_dirty_range r[UVFIO_DIRTY_MAX_RANGES + 1];
    struct tdev t;
    uint64_t ps = PG;
    uint32_t i;

    (void)state;
    for (i = 0; i <= UVFIO_DIRTY_MAX_RANGES; i++)
        r[i] = R(i * 2 * PG, PG);
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_start(&t, r, UVFIO_DIRTY_MAX_RANGES + 1, &ps), -E2BIG);
    assert_int_equal(t_start(&t, r, UVFIO_DIRTY_MAX_RANGES, &ps), 0);
    assert_int_equal(t_stop(&t), 0);
    tdev_fini(&t);
}

/* The payload and argsz must hold what num_ranges announces; the feature
 * is SET only; PROBE answers without starting anything. */
static void test_start_framing(void **state)
{
    uint8_t p[CTL + 2 * 16] = { 0 };
    struct uvfio_wire_logging_control ctl = { PG, 2, 0 };
    struct uvfio_dirty_range r[2] = { R(0, PG), R(4 * PG, PG) };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint32_t full = (uint32_t)(FHDR + sizeof(p));
    struct tdev t;

    (void)state;
    memcpy(p, &ctl, sizeof(ctl));
    memcpy(p + CTL, r, sizeof(r));
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_feature(&t, full, START, p, CTL + 16, NULL), -EINVAL);
    assert_int_equal(t_feature(&t, full - 1, START, p, sizeof(p), NULL),
                     -EINVAL);
    assert_int_equal(t_feature(&t, FHDR + 8, START, p, 8, NULL), -EINVAL);
    assert_int_equal(t_feature(&t, full, UVFIO_FEATURE_GET |
                               UVFIO_FEATURE_DMA_LOGGING_START, p, sizeof(p),
                               NULL), -EINVAL);
    assert_int_equal(t_feature(&t, full, UVFIO_FEATURE_DMA_LOGGING_START, p,
                               sizeof(p), NULL), -EINVAL);
    assert_int_equal(t_feature(&t, full, START | UVFIO_FEATURE_PROBE |
                               UVFIO_FEATURE_GET, p, sizeof(p), NULL),
                     -EINVAL);
    /* PROBE: the echo, and logging still off (a REPORT says so) */
    assert_int_equal(t_feature(&t, FHDR, START | UVFIO_FEATURE_PROBE, NULL, 0,
                               &rep), 0);
    assert_int_equal(rep.len, FHDR);
    uvfio_buf_free(&rep);
    assert_int_equal(t_feature(&t, FHDR, UVFIO_FEATURE_PROBE |
                               UVFIO_FEATURE_SET |
                               UVFIO_FEATURE_DMA_LOGGING_STOP, NULL, 0, NULL),
                     0);
    assert_int_equal(t_feature(&t, FHDR, UVFIO_FEATURE_PROBE |
                               UVFIO_FEATURE_GET |
                               UVFIO_FEATURE_DMA_LOGGING_REPORT, NULL, 0,
                               NULL), 0);
    assert_int_equal(t_feature(&t, FHDR, UVFIO_FEATURE_PROBE |
                               UVFIO_FEATURE_SET |
                               UVFIO_FEATURE_DMA_LOGGING_REPORT, NULL, 0,
                               NULL), -EINVAL);
    {
        uint64_t w;

        assert_int_equal(t_report(&t, 0, PG, PG, &w), -EINVAL);
    }
    /* the real thing, with trailing bytes a client may add */
    {
        uint8_t big[sizeof(p) + 8];

        memcpy(big, p, sizeof(p));
        memset(big + sizeof(p), 0xee, 8);
        assert_int_equal(t_feature(&t, full + 8, START, big, sizeof(big),
                                   &rep), 0);
        assert_int_equal(rep.len, FHDR + sizeof(p));
        assert_memory_equal(rep.data + FHDR, p, sizeof(p));
        uvfio_buf_free(&rep);
    }
    tdev_fini(&t);
}

/* ---- page size --------------------------------------------------------- */

static void test_page_size_writeback(void **state)
{
    struct tdev t;
    uint64_t ps;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    /* below 4 KiB: the core's minimum comes back */
    ps = 512;
    {
        struct uvfio_dirty_range r = R(512, 1024);

        assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    }
    assert_int_equal(ps, PG);
    assert_int_equal(t_stop(&t), 0);
    /* a larger hint is honoured */
    ps = 2u << 20;
    {
        struct uvfio_dirty_range r = R(2u << 20, 8u << 20);

        assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    }
    assert_int_equal(ps, 2u << 20);
    assert_int_equal(t_stop(&t), 0);
    /* ranges too large to track at 4 KiB within the bitmap budget: the
     * page size grows until they fit (2^60 bytes / 2^31 bits = 2^29) */
    ps = PG;
    {
        struct uvfio_dirty_range r[2] = { R(0, 1ull << 59),
                                          R(1ull << 62, 1ull << 59) };

        assert_int_equal(t_start(&t, r, 2, &ps), 0);
    }
    assert_int_equal(ps, 1ull << 29);
    assert_int_equal(t_stop(&t), 0);
    /* "log everything": the hint, at least 4 KiB */
    ps = 16 * PG;
    assert_int_equal(t_start(&t, NULL, 0, &ps), 0);
    assert_int_equal(ps, 16 * PG);
    assert_int_equal(t_stop(&t), 0);
    tdev_fini(&t);
}

/* Ranges in any order are accepted (the kernel takes a set). */
static void test_start_unsorted(void **state)
{
    struct uvfio_dirty_range r[3] = { R(64 * PG, PG), R(0, PG),
                                      R(8 * PG, 2 * PG) };
    uint64_t ps = PG, w[2];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 128 * PG, UVFIO_DMA_MAP_FLAG_WRITE), 0);
    assert_int_equal(t_start(&t, r, 3, &ps), 0);
    t_touch(&t, 0, 128);
    assert_int_equal(t_report(&t, 0, 128 * PG, PG, w), 0);
    assert_int_equal(w[0], 1u | (3u << 8));
    assert_int_equal(w[1], 1);
    tdev_fini(&t);
}

/* ---- combining --------------------------------------------------------- */

static void test_combine_exact(void **state)
{
    struct uvfio_dirty_range r[5];
    struct uvfio_dirty_range bad[2];

    (void)state;
    /* gaps: 4, 2, 2, 8 pages */
    r[0] = R(0, PG);
    r[1] = R(5 * PG, PG);
    r[2] = R(8 * PG, PG);
    r[3] = R(11 * PG, PG);
    r[4] = R(20 * PG, 2 * PG);
    assert_int_equal(uvfio_dirty_combine_ranges(r, 5, 4), 4);
    /* equal gaps: the leftmost merges first */
    assert_int_equal(r[1].iova, 5 * PG);
    assert_int_equal(r[1].length, 4 * PG);
    assert_int_equal(r[2].iova, 11 * PG);
    assert_int_equal(uvfio_dirty_combine_ranges(r, 4, 3), 3);
    assert_int_equal(r[1].iova, 5 * PG);
    assert_int_equal(r[1].length, 7 * PG);
    assert_int_equal(r[2].iova, 20 * PG);
    assert_int_equal(uvfio_dirty_combine_ranges(r, 3, 2), 2);
    assert_int_equal(r[0].iova, 0);
    assert_int_equal(r[0].length, 12 * PG);
    assert_int_equal(r[1].iova, 20 * PG);
    assert_int_equal(r[1].length, 2 * PG);
    /* max 1: first start to last end */
    r[2] = R(100 * PG, PG);
    assert_int_equal(uvfio_dirty_combine_ranges(r, 3, 1), 1);
    assert_int_equal(r[0].iova, 0);
    assert_int_equal(r[0].length, 101 * PG);
    /* nothing to do */
    assert_int_equal(uvfio_dirty_combine_ranges(r, 1, 1), 1);
    assert_int_equal(uvfio_dirty_combine_ranges(r, 1, 0), 1);
    assert_int_equal(uvfio_dirty_combine_ranges(NULL, 0, 3), 0);
    /* refused sets */
    bad[0] = R(8 * PG, PG);
    bad[1] = R(0, PG);
    assert_int_equal(uvfio_dirty_combine_ranges(bad, 2, 1), -EINVAL);
    bad[0] = R(0, 2 * PG);
    bad[1] = R(PG, PG);
    assert_int_equal(uvfio_dirty_combine_ranges(bad, 2, 1), -EINVAL);
    bad[1] = R(4 * PG, 0);
    assert_int_equal(uvfio_dirty_combine_ranges(bad, 2, 1), -EINVAL);
    bad[1] = R(UINT64_MAX - PG + 1, PG);
    assert_int_equal(uvfio_dirty_combine_ranges(bad, 2, 1), -EINVAL);
    assert_int_equal(uvfio_dirty_combine_ranges(NULL, 2, 1), -EINVAL);
}

/* The reference: keep the `nr - max` smallest gaps, leftmost first among
 * equals, by sorting the gaps - an algorithm unlike the combiner's. */
struct gap {
    uint64_t size;
    uint32_t at;
};

static int gap_cmp(const void *a, const void *b)
{
    const struct gap *x = a, *y = b;

    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static uint32_t reference_combine(const struct uvfio_dirty_range *in,
                                  uint32_t nr, uint32_t max,
                                  struct uvfio_dirty_range *out)
{
    struct gap g[64];
    bool merged[64] = { false };
    uint32_t i, n = 0;

    for (i = 0; i + 1 < nr; i++) {
        g[i].size = in[i + 1].iova - (in[i].iova + in[i].length);
        g[i].at = i;
    }
    qsort(g, nr - 1, sizeof(g[0]), gap_cmp);
    for (i = 0; i < nr - max; i++)
        merged[g[i].at] = true;
    out[0] = in[0];
    for (i = 1; i < nr; i++) {
        if (merged[i - 1])
            out[n].length = in[i].iova + in[i].length - out[n].iova;
        else
            out[++n] = in[i];
    }
    return n + 1;
}

static void test_combine_property(void **state)
{
    struct uvfio_dirty_range in[64], got[64], want[64];
    unsigned int seed = 20240611u, round;
    uint32_t nr, max, i, n;
    uint64_t at;

    (void)state;
    for (round = 0; round < 2000; round++) {
        nr = 2 + (uint32_t)(rand_r(&seed) % 62);
        max = 1 + (uint32_t)(rand_r(&seed) % (nr - 1));
        at = (uint64_t)(rand_r(&seed) % 16) * PG;
        for (i = 0; i < nr; i++) {
            /* few distinct gap sizes, so ties are common */
            at += (1 + (uint64_t)(rand_r(&seed) % 4)) * PG;
            in[i] = R(at, (1 + (uint64_t)(rand_r(&seed) % 3)) * PG);
            at += in[i].length;
        }
        memcpy(got, in, sizeof(in));
        n = (uint32_t)uvfio_dirty_combine_ranges(got, nr, max);
        assert_int_equal(n, max);
        assert_int_equal(reference_combine(in, nr, max, want), max);
        for (i = 0; i < n; i++) {
            if (got[i].iova != want[i].iova ||
                got[i].length != want[i].length)
                fail_msg("seed 20240611 round %u: range %u", round, i);
        }
    }
}

/* ---- a driver's own tracker -------------------------------------------- */

struct rec {
    int starts, stops;
    uint32_t nr;
    struct uvfio_dirty_range r[UVFIO_DIRTY_MAX_RANGES];
    uint64_t hint, choose;
    int start_ret;
};

static struct rec rec;

static int rec_start(struct uvfio_device *dev,
                     const struct uvfio_dirty_range *r, uint32_t nr,
                     uint64_t *page_size)
{
    (void)dev;
    rec.starts++;
    rec.nr = nr;
    if (nr)     /* "log everything" comes with no ranges at all */
        memcpy(rec.r, r, nr * sizeof(*r));
    rec.hint = *page_size;
    if (rec.choose)
        *page_size = rec.choose;
    return rec.start_ret;
}

static int rec_stop(struct uvfio_device *dev)
{
    (void)dev;
    rec.stops++;
    return 0;
}

static int rec_read(struct uvfio_device *dev, uint64_t iova, uint64_t len,
                    struct uvfio_dirty_bitmap *bm)
{
    (void)dev;
    (void)iova;
    (void)len;
    (void)bm;
    return 0;
}

static const struct uvfio_log_ops rec_ops = {
    .log_start = rec_start,
    .log_stop = rec_stop,
    .log_read_and_clear = rec_read,
    .max_ranges = 2,
};

static void test_driver_start(void **state)
{
    struct uvfio_dirty_range r[4] = { R(40 * PG, PG), R(0, PG),
                                      R(10 * PG, 2 * PG), R(14 * PG, PG) };
    struct tdev t;
    uint64_t ps = PG;

    (void)state;
    memset(&rec, 0, sizeof(rec));
    rec.choose = 2 * PG;
    tdev_init(&t, &rec_ops, 0, 0, 0);
    assert_int_equal(t_start(&t, r, 4, &ps), 0);
    /* sorted and combined to max_ranges across the smallest gaps (2
     * pages, then 9); its page size is the answer */
    assert_int_equal(rec.starts, 1);
    assert_int_equal(rec.hint, PG);
    assert_int_equal(ps, 2 * PG);
    assert_int_equal(rec.nr, 2);
    assert_int_equal(rec.r[0].iova, 0);
    assert_int_equal(rec.r[0].length, 15 * PG);
    assert_int_equal(rec.r[1].iova, 40 * PG);
    assert_int_equal(rec.r[1].length, PG);
    ps = PG;
    assert_int_equal(t_start(&t, r, 4, &ps), -EBUSY);
    assert_int_equal(rec.starts, 1);
    assert_int_equal(t_stop(&t), 0);
    assert_int_equal(rec.stops, 1);
    assert_int_equal(t_stop(&t), 0);
    assert_int_equal(rec.stops, 1);

    /* a failing driver: its errno, and logging stays off */
    rec.start_ret = -ENOSPC;
    ps = PG;
    assert_int_equal(t_start(&t, r, 4, &ps), -ENOSPC);
    {
        uint64_t w;

        assert_int_equal(t_report(&t, 0, PG, PG, &w), -EINVAL);
    }
    /* a driver choosing a page size that is no page size */
    rec.start_ret = 0;
    rec.choose = 3 * PG;
    ps = PG;
    assert_int_equal(t_start(&t, r, 4, &ps), -EIO);
    assert_int_equal(rec.stops, 2);
    /* everything: no ranges for the driver either */
    rec.choose = 0;
    ps = PG;
    assert_int_equal(t_start(&t, NULL, 0, &ps), 0);
    assert_int_equal(rec.nr, 0);
    /* the client going away stops the driver's tracker too */
    uvfio_core_detach(t.dev);
    assert_int_equal(rec.stops, 3);
    tdev_fini(&t);
}

static void test_driver_ops_checked(void **state)
{
    struct uvfio_log_ops half = { .log_start = rec_start,
                                  .log_stop = rec_stop };
    const struct uvfio_device_ops ops = { .name = "x" };
    struct uvfio_device_config cfg = { .ops = &ops, .log_ops = &half };
    struct uvfio_device *dev = NULL;

    (void)state;
    assert_int_equal(uvfio_device_create(&cfg, &dev), -EINVAL);
    assert_null(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_errnos),
        cmocka_unit_test(test_start_errno_order),
        cmocka_unit_test(test_start_range_count),
        cmocka_unit_test(test_start_framing),
        cmocka_unit_test(test_page_size_writeback),
        cmocka_unit_test(test_start_unsorted),
        cmocka_unit_test(test_combine_exact),
        cmocka_unit_test(test_combine_property),
        cmocka_unit_test(test_driver_start),
        cmocka_unit_test(test_driver_ops_checked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
