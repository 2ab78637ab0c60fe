/* SPDX-License-Identifier: MIT */
/*
 * fuzz/gen_dirty.c - the fuzz_dirty_report corpus: operation sequences in
 * that target's format (see the top of fuzz_dirty_report.c) that log
 * everything and chosen ranges, write through message and fd maps and
 * pins, report through windows that start and end off the page grid and
 * at other page sizes, let a driver tracker hand over huge and wrapping
 * spans, overflow the tracker with a 2^63-byte map, coarsen it for a
 * 2^62-byte range, unmap with a bitmap, and combine ranges.
 */
#include <stdbool.h>

#include "gen_seeds.h"

enum { MAP, MAP_FD, UNMAP, START, STOP, WRITE, DRIVER, REPORT };
#define V3  0x08u
#define V4  0x10u

static void map(struct uvfio_buf *b, uint64_t iova, uint64_t size)
{
    gen_put8(b, MAP);
    gen_put64(b, iova);
    gen_put64(b, size);
}

static void map_fd(struct uvfio_buf *b, uint64_t iova, uint8_t pages)
{
    gen_put8(b, MAP_FD);
    gen_put64(b, iova);
    gen_put8(b, (uint8_t)(pages - 1));
}

static void start_all(struct uvfio_buf *b, uint8_t pshift)
{
    gen_put8(b, START | V3);
    gen_put8(b, pshift);
}

/* Ranges as {iova, length} pairs, aligned by the harness. */
static void start(struct uvfio_buf *b, uint8_t pshift, const uint64_t *r,
                  uint8_t nr)
{
    uint8_t i;

    gen_put8(b, START | V4);
    gen_put8(b, pshift);
    gen_put8(b, nr);
    for (i = 0; i < 2 * nr; i++)
        gen_put64(b, r[i]);
}

static void write_(struct uvfio_buf *b, bool pin, uint64_t iova, uint16_t len)
{
    gen_put8(b, WRITE | (pin ? V3 : 0));
    gen_put64(b, iova);
    gen_put16(b, len);
}

/* fuzz_dirty_report runs its costly operations only in inputs whose hash
 * is 0 mod 8: pad a seed that needs them with a no-op write (length 0)
 * until it qualifies. */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static void allow_heavy(struct uvfio_buf *b)
{
    size_t len = b->len;
    uint64_t pad;

    for (pad = 0;; pad++) {
        b->len = len;
        write_(b, false, pad, 0);
        if (fnv1a(b->data, b->len) % 8 == 0)
            return;
    }
}

static void report(struct uvfio_buf *b, uint64_t iova, uint64_t len,
                   uint8_t pshift)
{
    gen_put8(b, REPORT);
    gen_put64(b, iova);
    gen_put64(b, len);
    gen_put8(b, pshift);
}

static void driver(struct uvfio_buf *b, uint64_t iova, uint64_t len)
{
    gen_put8(b, DRIVER);
    gen_put64(b, iova);
    gen_put64(b, len);
}

static void unmap_dirty(struct uvfio_buf *b, uint8_t idx, uint8_t pshift,
                        uint8_t slack)
{
    gen_put8(b, UNMAP | V3);
    gen_put8(b, idx);
    gen_put8(b, pshift);
    gen_put8(b, slack);
}

static void everything(struct uvfio_buf *b)
{
    gen_put8(b, 0);
    map(b, 0x100000, 0x100000);
    map_fd(b, 0x40000, 16);
    start_all(b, 12);
    write_(b, false, 0x100000, 100);
    write_(b, false, 0x180123, 5000);
    write_(b, true, 0x41000, 8192);
    map(b, 0x7f000000, 0x200000);
    write_(b, false, 0x7f1ff000, 4096);
    report(b, 0x100000, 0x100000, 12);
    report(b, 0x3f000, 0x7f200000 - 0x3f000, 16);
    report(b, 0x100000, 0x100000, 12);
    gen_put8(b, STOP);
}

static void ranges(struct uvfio_buf *b)
{
    static const uint64_t r[] = {
        0x10000, 0x10000, 0x40000, 0x8000, 0x1000000000ull, 0x100000,
    };

    gen_put8(b, 0);
    start(b, 13, r, 3);
    map_fd(b, 0x10000, 16);
    map(b, 0x40000, 0x8000);
    map(b, 0x1000000000ull, 0x100000);
    write_(b, false, 0x1f000, 0x1000);
    write_(b, false, 0x47fe0, 0x20);
    write_(b, false, 0x10000ffe00ull, 0x200);
    write_(b, false, 0x1ff00, 0x200);
    report(b, 0x10800, 0x9000, 13);
    report(b, 0x0, 0x1000200000ull, 20);
    report(b, 0x10000, 0x40000, 12);
}

static void with_driver(struct uvfio_buf *b)
{
    static const uint64_t r[] = {
        0x0, 0x4000, 0x10000, 0x4000, 0x20000, 0x4000, 0x100000, 0x4000,
    };

    /* own tracker, max_ranges 2, page size doubled by the driver */
    gen_put8(b, 1 | 2 << 1 | 0x10);
    start(b, 12, r, 4);
    driver(b, 0x1800, 0x10);
    driver(b, 0xfffffffffffff000ull, 0x2000);
    driver(b, 0, 1ull << 63);
    map(b, 0x10000, 0x10000);
    write_(b, false, 0x10010, 64);
    report(b, 0x1000, 0x40000, 12);
    report(b, 0xffffffffff000000ull, 0xfff000, 14);
    unmap_dirty(b, 0, 12, 1);
    gen_put8(b, STOP);
    start_all(b, 15);
    driver(b, 0x12345, 0x54321);
    report(b, 0, 0x100000, 15);
}

static void overflow(struct uvfio_buf *b)
{
    static const uint64_t r[] = { 0, 1ull << 62 };

    gen_put8(b, 0x20);
    map(b, 0, 1ull << 63);
    start_all(b, 12);
    write_(b, false, 0x5000, 16);
    report(b, 0x4000, 0x8000, 12);
    gen_put8(b, STOP);
    start(b, 12, r, 1);
    write_(b, false, 0x123456789000ull, 4096);
    report(b, 0, 1ull << 55, 40);
    report(b, 0x123456788000ull, 0x4000, 12);
    allow_heavy(b);
}

static void unmaps(struct uvfio_buf *b)
{
    gen_put8(b, 1);
    map_fd(b, 0x200000, 8);
    map(b, 0x300000, 0x3000);
    start_all(b, 12);
    write_(b, true, 0x201000, 0x1800);
    write_(b, false, 0x302000, 8);
    driver(b, 0x300800, 0x100);
    unmap_dirty(b, 1, 12, 0);
    unmap_dirty(b, 1, 12, 3);
    unmap_dirty(b, 0, 13, 1);
    report(b, 0x200000, 0x200000, 12);
}

static void combine(struct uvfio_buf *b)
{
    static const uint8_t shapes[][2] = { { 5, 2 }, { 9, 1 }, { 12, 4 },
                                         { 3, 3 }, { 64, 7 } };
    size_t s;
    uint8_t i;

    gen_put8(b, 0);
    for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        gen_put8(b, DRIVER | V3);
        gen_put8(b, shapes[s][0]);
        gen_put8(b, shapes[s][1]);
        gen_put64(b, 0x1000ull * s);
        for (i = 0; i < shapes[s][0]; i++) {
            gen_put32(b, (uint32_t)(0x1000 * ((i * 7) % 5 + 1)));
            gen_put32(b, (uint32_t)(0x1000 * (i % 3 + 1) - 1));
        }
    }
}

void gen_dirty_seeds(const char *dir)
{
    static void (*const seeds[])(struct uvfio_buf *) = {
        everything, ranges, with_driver, overflow, unmaps, combine,
    };
    static const char *const names[] = {
        "everything", "ranges", "driver-tracker", "overflow", "unmap-bitmap",
        "combine",
    };
    struct uvfio_buf b = UVFIO_BUF_INIT;
    size_t i;

    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        seeds[i](&b);
        gen_write(dir, "fuzz_dirty_report", names[i], &b);
    }
    uvfio_buf_free(&b);
}
