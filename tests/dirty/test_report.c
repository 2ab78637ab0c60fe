// SPDX-License-Identifier: MIT
/*
 * tests/dirty/test_report.c - DMA_LOGGING_REPORT: every validation errno,
 * the kernel's bit layout, read-and-clear, granularity conversion both
 * ways and on a shifted grid, tracker pages straddling the report's edge,
 * ranges and maps (logged, not logged, "everything", unmapped), the life
 * of the log across STOP, reset and detach, and a driver's own tracker
 * reporting next to the core's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

#define FHDR    sizeof(struct uvfio_wire_feature)
#define REPORT  (UVFIO_FEATURE_GET | UVFIO_FEATURE_DMA_LOGGING_REPORT)
#define MB      (1ull << 20)
#define W       UVFIO_DMA_MAP_FLAG_WRITE
#define RW      (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

static struct uvfio_dirty_range R(uint64_t iova, uint64_t length)
{
    struct uvfio_dirty_range r = { iova, length };

    return r;
}

/* A device with one fd-backed map [0, npages) logged whole at `ps`. */
static void setup(struct tdev *t, uint64_t npages, uint64_t ps, uint64_t xfer)
{
    struct uvfio_dirty_range r = R(0, npages * PG);
    uint64_t want = ps;

    tdev_init(t, NULL, 0, 0, xfer);
    assert_int_equal(t_map_fd(t, 0, npages * PG, RW), 0);
    assert_int_equal(t_start(t, &r, 1, &ps), 0);
    assert_int_equal(ps, want);
}

static void write_at(struct tdev *t, uint64_t iova, size_t len)
{
    uint8_t buf[64] = { 1 };

    assert_true(len <= sizeof(buf));
    assert_int_equal(uvfio_dma_write(t->dev, iova, buf, len), 0);
}

static void assert_clean(struct tdev *t, uint64_t iova, uint64_t len,
                         uint64_t ps)
{
    size_t n = t_words(len, ps);
    uint64_t *w = calloc(n, 8);

    assert_int_equal(t_report(t, iova, len, ps, w), 0);
    assert_int_equal(t_popcount(w, n), 0);
    free(w);
}

/* ---- validation -------------------------------------------------------- */

static int report_raw(struct tdev *t, uint32_t argsz, uint32_t flags,
                      uint64_t iova, uint64_t len, uint64_t ps,
                      size_t payload)
{
    struct uvfio_wire_logging_report req = { iova, len, ps };

    return t_feature(t, argsz, flags, &req, payload, NULL);
}

static void test_report_errnos(void **state)
{
    uint32_t full = FHDR + 24 + 8;
    uint64_t w[2];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_report(&t, 0, PG, PG, w), -EINVAL);    /* off */
    {
        uint64_t ps = PG;

        assert_int_equal(t_start(&t, NULL, 0, &ps), 0);
    }
    assert_int_equal(t_report(&t, 0, PG, PG / 2, w), -EINVAL);
    assert_int_equal(t_report(&t, 0, 3 * PG, 3 * PG, w), -EINVAL);
    assert_int_equal(report_raw(&t, full, REPORT, 0, PG, 0, 24), -EINVAL);
    assert_int_equal(report_raw(&t, full, REPORT, 0, 0, PG, 24), -EINVAL);
    assert_int_equal(t_report(&t, UINT64_MAX - PG + 1, 2 * PG, PG, w),
                     -EOVERFLOW);
    assert_int_equal(t_report(&t, UINT64_MAX - PG + 1, PG, PG, w),
                     -EOVERFLOW);           /* ends exactly at 2^64 */
    assert_int_equal(t_report(&t, UINT64_MAX - 2 * PG + 1, PG, PG, w), 0);
    /* framing: payload, argsz too small for the bitmap, GET only */
    assert_int_equal(report_raw(&t, full, REPORT, 0, PG, PG, 16), -EINVAL);
    assert_int_equal(report_raw(&t, full - 1, REPORT, 0, PG, PG, 24),
                     -EINVAL);
    assert_int_equal(report_raw(&t, full, UVFIO_FEATURE_SET |
                                UVFIO_FEATURE_DMA_LOGGING_REPORT, 0, PG, PG,
                                24), -EINVAL);
    assert_int_equal(report_raw(&t, full, UVFIO_FEATURE_DMA_LOGGING_REPORT,
                                0, PG, PG, 24), -EINVAL);
    assert_int_equal(report_raw(&t, full, REPORT, 0, PG, PG, 24), 0);
    /* no client limit set: the spec's 1 MiB of bitmap, 2^23 pages */
    {
        uint64_t *big = calloc(MB / 8 + 1, 8);

        assert_int_equal(t_report(&t, 0, (MB * 8) * PG, PG, big), 0);
        assert_int_equal(t_report(&t, 0, (MB * 8 + 1) * PG, PG, big),
                         -E2BIG);
        free(big);
    }
    tdev_fini(&t);
}

/* The bitmap may not exceed the client's max_data_xfer_size. */
static void test_report_e2big(void **state)
{
    uint64_t *w = calloc(4096 / 8 + 1, 8);
    struct tdev t;

    (void)state;
    setup(&t, 64, PG, 4096);
    assert_int_equal(t_report(&t, 0, 32768 * PG, PG, w), 0);
    assert_int_equal(t_report(&t, 0, 32769 * PG, PG, w), -E2BIG);
    /* the same IOVA at a coarser page size fits */
    assert_int_equal(t_report(&t, 0, 32769 * PG, 2 * PG, w), 0);
    free(w);
    tdev_fini(&t);
}

/* A refused report reads nothing, so clears nothing. */
static void test_bad_report_keeps_log(void **state)
{
    uint64_t w[1] = { 0 };
    struct tdev t;

    (void)state;
    setup(&t, 8, PG, 0);
    write_at(&t, 3 * PG, 1);
    assert_int_equal(report_raw(&t, FHDR + 24, REPORT, 0, 8 * PG, PG, 24),
                     -EINVAL);
    assert_int_equal(t_report(&t, 0, 8 * PG, 2048, w), -EINVAL);
    assert_int_equal(t_report(&t, 0, 8 * PG, PG, w), 0);
    assert_int_equal(w[0], 1u << 3);
    tdev_fini(&t);
}

/* ---- layout and read-and-clear ----------------------------------------- */

static void test_bit_layout(void **state)
{
    static const uint64_t pages[] = { 0, 1, 63, 64, 65, 130, 255 };
    uint64_t w[4];
    struct tdev t;
    size_t i;

    (void)state;
    setup(&t, 256, PG, 0);
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        write_at(&t, pages[i] * PG + 100, 1);
    assert_int_equal(t_report(&t, 0, 256 * PG, PG, w), 0);
    /* bit n = page n: word n / 64, bit n % 64 */
    assert_int_equal(w[0], 3ull | 1ull << 63);
    assert_int_equal(w[1], 3ull);
    assert_int_equal(w[2], 1ull << 2);
    assert_int_equal(w[3], 1ull << 63);
    /* read and clear */
    assert_clean(&t, 0, 256 * PG, PG);
    /* a write across a page boundary dirties both pages */
    write_at(&t, 5 * PG - 8, 16);
    assert_int_equal(t_report(&t, 0, 256 * PG, PG, w), 0);
    assert_int_equal(w[0], 3ull << 4);
    assert_int_equal(w[1] | w[2] | w[3], 0);
    tdev_fini(&t);
}

/* Whole words of dirty pages: read with the all-ones shortcut, and
 * cleared by it all the same, at any offset into the words. */
static void test_full_words(void **state)
{
    uint64_t w[8];
    struct tdev t;
    int i;

    (void)state;
    setup(&t, 512, PG, 0);
    t_touch(&t, 0, 512);
    assert_int_equal(t_report(&t, 0, 512 * PG, PG, w), 0);
    for (i = 0; i < 8; i++)
        assert_int_equal(w[i], ~0ull);
    assert_clean(&t, 0, 512 * PG, PG);
    /* shifted by 10 pages: each report word takes two tracker words */
    t_touch(&t, 0, 512);
    assert_int_equal(t_report(&t, 10 * PG, 300 * PG, PG, w), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(w[i], ~0ull);
    assert_int_equal(w[4], (1ull << 44) - 1);
    assert_clean(&t, 10 * PG, 300 * PG, PG);
    assert_int_equal(t_report(&t, 0, 512 * PG, PG, w), 0);
    assert_int_equal(w[0], (1ull << 10) - 1);
    assert_int_equal(w[4], ~0ull << 54);
    for (i = 5; i < 8; i++)
        assert_int_equal(w[i], ~0ull);
    assert_clean(&t, 0, 512 * PG, PG);
    tdev_fini(&t);
}

/* Windows of every kind: inside, offset, larger than the logged range,
 * only the tail of the last word. */
static void test_report_windows(void **state)
{
    uint64_t w[4];
    struct tdev t;

    (void)state;
    setup(&t, 128, PG, 0);
    write_at(&t, 70 * PG, 1);
    write_at(&t, 127 * PG, 1);
    /* a window that starts at page 64: bits relative to it */
    assert_int_equal(t_report(&t, 64 * PG, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 6 | 1ull << 63);
    /* larger than everything logged or mapped: the rest is zero */
    write_at(&t, 0, 1);
    assert_int_equal(t_report(&t, 0, 200 * PG, PG, w), 0);
    assert_int_equal(w[0], 1);
    assert_int_equal(w[1] | w[2] | w[3], 0);
    /* a length that is not a multiple of the page size: its last bit is
     * page 2's first byte, so page 2 is reported - and kept, since most
     * of it lies outside */
    write_at(&t, 2 * PG, 1);
    assert_int_equal(t_report(&t, 0, 2 * PG + 1, PG, w), 0);
    assert_int_equal(w[0], 1ull << 2);
    assert_int_equal(t_report(&t, PG, PG + 1, PG, w), 0);
    assert_int_equal(w[0], 2);
    assert_int_equal(t_report(&t, 0, 4 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 2);
    assert_clean(&t, 0, 4 * PG, PG);
    tdev_fini(&t);
}

/* ---- granularity ------------------------------------------------------- */

static void test_report_coarser(void **state)
{
    uint64_t w[1];
    struct tdev t;

    (void)state;
    setup(&t, 1024, PG, 0);
    write_at(&t, 3 * PG, 1);
    write_at(&t, 600 * PG, 1);
    /* 2 MiB report pages: page 3 in bit 0, page 600 (2.34 MiB) in bit 1 */
    assert_int_equal(t_report(&t, 0, 4 * MB, 2 * MB, w), 0);
    assert_int_equal(w[0], 3);
    assert_clean(&t, 0, 4 * MB, 2 * MB);
    /* 8 KiB pages on a grid shifted by 4 KiB: [PG + 2n PG, + 2 PG) */
    write_at(&t, 3 * PG, 1);
    write_at(&t, 6 * PG, 1);
    assert_int_equal(t_report(&t, PG, 16 * PG, 2 * PG, w), 0);
    assert_int_equal(w[0], 1ull << 1 | 1ull << 2);
    tdev_fini(&t);
}

static void test_report_finer(void **state)
{
    uint64_t w[32];
    struct tdev t;
    int i;

    (void)state;
    setup(&t, 2048, 2 * MB, 0);
    write_at(&t, 2 * MB + 5, 1);
    /* one dirty 2 MiB tracker page: 512 report bits, 512..1023 */
    assert_int_equal(t_report(&t, 0, 8 * MB, PG, w), 0);
    for (i = 0; i < 32; i++)
        assert_int_equal(w[i], i >= 8 && i < 16 ? ~0ull : 0);
    assert_clean(&t, 0, 8 * MB, PG);
    tdev_fini(&t);
}

/* Equal page sizes, report grid shifted by half a page: a dirty page
 * overlaps two report pages. */
static void test_report_shifted_grid(void **state)
{
    uint64_t w[1];
    struct tdev t;

    (void)state;
    setup(&t, 16, PG, 0);
    write_at(&t, 2 * PG, 1);
    assert_int_equal(t_report(&t, PG / 2, 8 * PG, PG, w), 0);
    assert_int_equal(w[0], 3ull << 1);
    assert_clean(&t, PG / 2, 8 * PG, PG);
    assert_clean(&t, 0, 16 * PG, PG);
    tdev_fini(&t);
}

/* A tracker page only partly inside the report is reported but stays
 * dirty: its other part has not been reported yet. */
static void test_straddling_page_kept(void **state)
{
    uint64_t w[8];
    struct tdev t;
    int i;

    (void)state;
    setup(&t, 2048, 2 * MB, 0);
    write_at(&t, 2 * MB + 5, 1);
    assert_int_equal(t_report(&t, 2 * MB, MB, PG, w), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(w[i], ~0ull);
    assert_int_equal(t_report(&t, 3 * MB, MB, PG, w), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(w[i], ~0ull);
    assert_int_equal(t_report(&t, 2 * MB, 2 * MB, 2 * MB, w), 0);
    assert_int_equal(w[0], 1);
    assert_clean(&t, 0, 8 * MB, PG);
    tdev_fini(&t);
}

/* The same when the straddling pages sit at the ends of one word read
 * whole: pages 64 and 127 for a report from 64 pages + 100 bytes to 128
 * pages - 100 bytes. */
static void test_straddle_word_edges(void **state)
{
    uint64_t w[4];
    struct tdev t;

    (void)state;
    setup(&t, 256, PG, 0);
    t_touch(&t, 64 * PG, 64);
    assert_int_equal(t_report(&t, 64 * PG + 100, 64 * PG - 200, PG, w), 0);
    assert_int_equal(w[0], ~0ull);
    assert_int_equal(t_report(&t, 0, 256 * PG, PG, w), 0);
    assert_int_equal(w[0] | w[2] | w[3], 0);
    assert_int_equal(w[1], 1ull | 1ull << 63);
    tdev_fini(&t);
}

/* ---- what is logged ---------------------------------------------------- */

static void test_outside_ranges_not_logged(void **state)
{
    struct uvfio_dirty_range r[2] = { R(0, 8 * PG), R(20 * PG, 4 * PG) };
    uint64_t ps = PG, w[1];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 32 * PG, RW), 0);
    assert_int_equal(t_start(&t, r, 2, &ps), 0);
    t_touch(&t, 0, 32);
    assert_int_equal(t_report(&t, 0, 32 * PG, PG, w), 0);
    assert_int_equal(w[0], 0xffull | 0xfull << 20);
    tdev_fini(&t);
}

/* Across several maps with holes between them, fd-backed and not. */
static void test_across_maps(void **state)
{
    uint64_t ps = PG, w[2];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 128 * PG, 0);
    assert_int_equal(t_map_fd(&t, 0, 16 * PG, RW), 0);
    assert_int_equal(t_map_msg(&t, 40 * PG, 8 * PG, RW), 0);
    assert_int_equal(t_map_fd(&t, 48 * PG, 30 * PG, W), 0);
    {
        struct uvfio_dirty_range r = R(0, 128 * PG);

        assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    }
    /* one write spanning the message map and the next fd map */
    {
        uint8_t buf[2 * PG];

        memset(buf, 7, sizeof(buf));
        assert_int_equal(uvfio_dma_write(t.dev, 47 * PG, buf, sizeof(buf)),
                         0);
        /* into the hole: refused, nothing logged */
        assert_int_equal(uvfio_dma_write(t.dev, 15 * PG, buf, sizeof(buf)),
                         -EFAULT);
    }
    write_at(&t, 77 * PG, 1);
    assert_int_equal(t_report(&t, 0, 128 * PG, PG, w), 0);
    assert_int_equal(w[0], 3ull << 47);
    assert_int_equal(w[1], 1ull << 13);
    assert_true(t.msg_writes >= 1);
    tdev_fini(&t);
}

/* num_ranges 0: every map, those made after START too; the log is by
 * IOVA, so an unmap keeps what was dirtied. */
static void test_log_everything(void **state)
{
    uint64_t ps = PG, w[2];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 16 * PG, RW), 0);
    assert_int_equal(t_start(&t, NULL, 0, &ps), 0);
    assert_int_equal(t_map_fd(&t, 64 * PG, 16 * PG, RW), 0);
    write_at(&t, 2 * PG, 1);
    write_at(&t, 70 * PG, 1);
    assert_int_equal(t_unmap(&t, 64 * PG, 16 * PG), 0);
    assert_int_equal(t_report(&t, 0, 128 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 2);
    assert_int_equal(w[1], 1ull << 6);
    /* a map overlapping what is already logged adds only its new part */
    assert_int_equal(t_unmap(&t, 0, 16 * PG), 0);
    assert_int_equal(t_map_fd(&t, 8 * PG, 70 * PG, RW), 0);
    write_at(&t, 9 * PG, 1);
    write_at(&t, 30 * PG, 1);
    write_at(&t, 77 * PG, 1);
    assert_int_equal(t_report(&t, 0, 128 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 9 | 1ull << 30);
    assert_int_equal(w[1], 1ull << 13);
    tdev_fini(&t);
}

/* Logging everything, a map too large to track (2^50 bytes by message:
 * 32 GiB of bitmap) makes the log call every page dirty - too much
 * copying, never too little - until logging restarts. */
static void test_log_everything_overflow(void **state)
{
    struct uvfio_dirty_range r = R(0, 64 * PG);
    uint64_t ps = PG, w[1];
    uint8_t out[1];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 8 * PG, RW), 0);
    assert_int_equal(t_start(&t, NULL, 0, &ps), 0);
    assert_clean(&t, 0, 64 * PG, PG);
    assert_int_equal(t_map_msg(&t, 1ull << 40, 1ull << 50, RW), 0);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], ~0ull);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], ~0ull);
    assert_int_equal(t_unmap_dirty(&t, 0, 8 * PG, PG, 1, out), 0);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(t_stop(&t), 0);
    assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    assert_clean(&t, 0, 64 * PG, PG);
    tdev_fini(&t);
}

/* The last pages below 2^64. */
static void test_top_of_iova_space(void **state)
{
    const uint64_t base = 0 - 64 * PG;
    uint64_t ps = PG, w[1];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, base, 64 * PG, 0);
    assert_int_equal(t_map_msg(&t, base, 64 * PG, RW), 0);
    {
        struct uvfio_dirty_range r = R(base, 63 * PG);

        assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    }
    write_at(&t, base + 62 * PG, 1);
    write_at(&t, base + 63 * PG, 1);    /* outside the logged range */
    assert_int_equal(t_report(&t, base, 63 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 62);
    tdev_fini(&t);
}

/* ---- life of the log --------------------------------------------------- */

static void test_stop_forgets(void **state)
{
    struct uvfio_dirty_range r = R(0, 8 * PG);
    uint64_t ps = PG;
    struct tdev t;

    (void)state;
    setup(&t, 8, PG, 0);
    write_at(&t, PG, 1);
    assert_int_equal(t_stop(&t), 0);
    write_at(&t, 2 * PG, 1);           /* not logging: nothing kept */
    assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    assert_clean(&t, 0, 8 * PG, PG);
    tdev_fini(&t);
}

static void test_reset_keeps_detach_stops(void **state)
{
    uint64_t w[1];
    struct tdev t;

    (void)state;
    setup(&t, 8, PG, 0);
    write_at(&t, PG, 1);
    assert_int_equal(uvfio_core_reset(t.dev), 0);
    assert_int_equal(t_report(&t, 0, 8 * PG, PG, w), 0);
    assert_int_equal(w[0], 2);
    uvfio_core_detach(t.dev);
    assert_int_equal(uvfio_core_attach(t.dev, &t.cl), 0);
    assert_int_equal(t_report(&t, 0, 8 * PG, PG, w), -EINVAL);
    tdev_fini(&t);
}

/* ---- a driver's tracker ------------------------------------------------ */

struct own {
    uint64_t iova, len;         /* what the last read was asked for */
    int reads, ret;
};

static struct own own;

static int own_start(struct uvfio_device *dev,
                     const struct uvfio_dirty_range *r, uint32_t nr,
                     uint64_t *page_size)
{
    (void)dev;
    (void)r;
    (void)nr;
    *page_size = 2 * MB;
    return 0;
}

static int own_stop(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

/* Its device wrote the 2 MiB page at 4 MiB and the 4 KiB at 0x3000; it
 * hands them over whole and lets the core clip them. */
static int own_read(struct uvfio_device *dev, uint64_t iova, uint64_t len,
                    struct uvfio_dirty_bitmap *bm)
{
    (void)dev;
    own.reads++;
    own.iova = iova;
    own.len = len;
    if (own.ret)
        return own.ret;
    uvfio_dirty_bitmap_set(bm, 4 * MB, 2 * MB);
    uvfio_dirty_bitmap_set(bm, 0x3000, PG);
    uvfio_dirty_bitmap_set(bm, UINT64_MAX - PG, 4 * PG);   /* wraps */
    uvfio_dirty_bitmap_set(bm, 0, 0);
    uvfio_dirty_bitmap_set(NULL, 0, PG);
    return 0;
}

static const struct uvfio_log_ops own_ops = {
    .log_start = own_start,
    .log_stop = own_stop,
    .log_read_and_clear = own_read,
};

static void test_driver_tracker_merged(void **state)
{
    struct uvfio_dirty_range r = R(0, 8 * MB);
    uint64_t ps = PG, w[32];
    struct tdev t;
    int i;

    (void)state;
    memset(&own, 0, sizeof(own));
    tdev_init(&t, &own_ops, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 8 * MB, RW), 0);
    assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    assert_int_equal(ps, 2 * MB);
    /* the core still logs what the driver writes through the DMA API */
    write_at(&t, 7 * MB, 1);
    /* a report window starting at 1 MiB + 4 KiB, 6 MiB long */
    assert_int_equal(t_report(&t, MB + PG, 6 * MB, PG, w), 0);
    assert_int_equal(own.reads, 1);
    assert_int_equal(own.iova, MB + PG);
    assert_int_equal(own.len, 6 * MB);
    /* 4 MiB..6 MiB: bits 767..1278; 0x3000 is outside; 7 MiB's 2 MiB
     * tracker page from 6 MiB to the window's end: bits 1279..1535 */
    for (i = 0; i < 24; i++) {
        uint64_t want = 0;
        int b;

        for (b = 0; b < 64; b++)
            if (i * 64 + b >= 767)
                want |= 1ull << b;
        assert_int_equal(w[i], want);
    }
    /* its errors are the report's */
    own.ret = -EIO;
    assert_int_equal(t_report(&t, 0, MB, PG, w), -EIO);
    own.ret = 5;
    assert_int_equal(t_report(&t, 0, MB, PG, w), -EIO);
    own.ret = 0;
    assert_int_equal(t_report(&t, 0, 8 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 3);
    tdev_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_errnos),
        cmocka_unit_test(test_report_e2big),
        cmocka_unit_test(test_bad_report_keeps_log),
        cmocka_unit_test(test_bit_layout),
        cmocka_unit_test(test_full_words),
        cmocka_unit_test(test_report_windows),
        cmocka_unit_test(test_report_coarser),
        cmocka_unit_test(test_report_finer),
        cmocka_unit_test(test_report_shifted_grid),
        cmocka_unit_test(test_straddling_page_kept),
        cmocka_unit_test(test_straddle_word_edges),
        cmocka_unit_test(test_outside_ranges_not_logged),
        cmocka_unit_test(test_across_maps),
        cmocka_unit_test(test_log_everything),
        cmocka_unit_test(test_log_everything_overflow),
        cmocka_unit_test(test_top_of_iova_space),
        cmocka_unit_test(test_stop_forgets),
        cmocka_unit_test(test_reset_keeps_detach_stops),
        cmocka_unit_test(test_driver_tracker_merged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
