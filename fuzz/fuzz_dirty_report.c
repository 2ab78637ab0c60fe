/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_dirty_report.c - DMA dirty logging, differential.
 *
 * The core's logging (START/STOP/REPORT features, DMA_UNMAP with a dirty
 * bitmap, the marks DMA writes and pins leave, a driver's own tracker
 * through uvfio_log_ops, the range combiner) is driven directly through
 * the core's entry points with a stub client, and every answer is compared
 * with fz_dirty_model.c: a report must hold exactly the model's bits, a
 * request must succeed exactly when the contract says it may, START must
 * pick the granularity the contract describes and hand a driver ranges
 * that are the combiner's correct answer.  Maps may be anywhere up to
 * 2^64, page sizes anything the fuzzer writes, report windows as large as
 * max_data_xfer_size allows - the inputs that find infinite loops and
 * overflows in page-size conversions.
 *
 * Input: cfg:u8, then operations, op:u8 & 7 selecting (fields follow):
 *   0 MAP      iova:u64 size:u64 (page-aligned here); op bit 3: read-only
 *   1 MAP_FD   iova:u64 pages:u8 - backed by a 64 KiB memfd
 *   2 UNMAP    index:u8; op bit 3: with a dirty bitmap, pshift:u8
 *              slack:u8 (bitmap bytes = needed + slack % 9 - 1)
 *   3 START    pshift:u8 [page_size:u64 if pshift & 0x80] nr:u8, then nr x
 *              {iova:u64 length:u64}; op bit 3: no ranges (log every map);
 *              op bit 4: ranges aligned to the page size here
 *   4 STOP
 *   5 WRITE    iova:u64 len:u16 - uvfio_dma_write; op bit 3: a writable
 *              pin of that range, released at once
 *   6 DRIVER   iova:u64 len:u64 - the driver's tracker saw a write there;
 *              op bit 3: COMBINE instead: nr:u8 max:u8 base:u64 then nr x
 *              {gap:u32 length:u32} - uvfio_dirty_combine_ranges
 *   7 REPORT   iova:u64 length:u64 pshift:u8 [page_size:u64 if & 0x80];
 *              op bit 3: argsz one byte short
 * cfg bit 0: the device has its own tracker too (uvfio_log_ops), bits
 * 1-3 its max_ranges, bit 4: its log_start doubles the page size; bit 5:
 * max_data_xfer_size 4 KiB instead of 64 KiB.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <uvfio/dirty.h>
#include <uvfio/uvfio.h>

#include "core/core.h"
#include "fz_dirty_model.h"
#include "fz_input.h"
#include "fz_util.h"

#define MAX_MAPS        32u
#define MAX_STARTS      6u
#define MAX_REPORTS     8u
/*
 * Operations that cost more than this - a START that allocates a tracker
 * of up to 256 MiB, a report that reads much of one - take tens of
 * milliseconds under ASan, mostly in shadow memory.  They run in one input
 * in HEAVY_ONE_IN (chosen by a hash of the input, so an input always
 * behaves the same), at most once per input: exercised, without dragging
 * every execution down.
 */
#define HEAVY_BYTES     (1ull << 20)
#define HEAVY_WORDS     (1ull << 20)
#define HEAVY_ONE_IN    8u
#define MEMFD_SIZE      (64u << 10)
#define PAGE            4096ull

struct harness {
    struct uvfio_device *dev;
    struct dirty_model m;
    struct dm_ival maps[MAX_MAPS];      /* sorted by IOVA */
    bool map_fd[MAX_MAPS], map_ro[MAX_MAPS];
    size_t nmaps;
    int memfd;
    uint64_t xfer;
    bool log_ops, double_ps, drv_started;
    uint32_t max_ranges;
    struct uvfio_dirty_range req[256];  /* the last START's, sorted */
    uint32_t nreq;
    unsigned int starts, reports;
    bool heavy_ok;                      /* this input may run one ... */
    bool heavy_done;                    /* ... costly operation, and did */
    bool trace;                         /* FZ_LOG: print each operation */
    uint8_t zeros[1u << 16];
};

static void note(const struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(const struct harness *h, const char *fmt, ...)
{
    struct timespec ts;
    va_list ap;

    if (!h->trace)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: %ld.%03ld ", (long)ts.tv_sec % 1000,
            ts.tv_nsec / 1000000);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Whether an operation of this cost may run (see HEAVY_BYTES). */
static bool affordable(struct harness *h, bool heavy)
{
    if (!heavy)
        return true;
    if (!h->heavy_ok || h->heavy_done)
        return false;
    h->heavy_done = true;
    return true;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* ---- the driver's own tracker -------------------------------------------- */

static int drv_start(struct uvfio_device *dev,
                     const struct uvfio_dirty_range *ranges, uint32_t nr,
                     uint64_t *page_size)
{
    struct harness *h = uvfio_device_priv(dev);
    const char *why = dm_check_combined(h->req, h->nreq, h->max_ranges,
                                        ranges, (int)nr);

    if (why)
        fz_fail("log_start was given bad ranges: %s", why);
    if (h->double_ps && *page_size < 1ull << 62)
        *page_size <<= 1;
    h->drv_started = true;
    return 0;
}

static int drv_stop(struct uvfio_device *dev)
{
    struct harness *h = uvfio_device_priv(dev);

    h->drv_started = false;
    h->m.nspans = 0;
    return 0;
}

/* Hands over whole spans, unclipped: clipping is the core's job. */
static int drv_read_and_clear(struct uvfio_device *dev, uint64_t iova,
                              uint64_t length, struct uvfio_dirty_bitmap *bm)
{
    struct harness *h = uvfio_device_priv(dev);
    uint64_t last = iova + (length - 1);
    const struct dm_ival *s;
    size_t i;

    for (i = 0; i < h->m.nspans; i++) {
        s = &h->m.spans[i];
        if (s->last < iova || s->first > last)
            continue;
        if (s->last - s->first == UINT64_MAX) {
            /* 2^64 bytes have no length: two halves. */
            uvfio_dirty_bitmap_set(bm, 0, 1ull << 63);
            uvfio_dirty_bitmap_set(bm, 1ull << 63, 1ull << 63);
        } else {
            uvfio_dirty_bitmap_set(bm, s->first, s->last - s->first + 1);
        }
    }
    dm_span_clear(&h->m, iova, last);
    return 0;
}

static const struct uvfio_log_ops drv_log_ops = {
    .log_start = drv_start,
    .log_stop = drv_stop,
    .log_read_and_clear = drv_read_and_clear,
};

/* ---- the core's client --------------------------------------------------- */

/* Message-path DMA always succeeds: reads see zeros. */
static int stub_dma_rw(void *ctx, bool write, uint64_t iova, void *buf,
                       size_t len)
{
    (void)ctx;
    (void)iova;
    if (!write)
        memset(buf, 0, len);
    return 0;
}

/* ---- maps ------------------------------------------------------------------ */

static bool overlaps_map(const struct harness *h, uint64_t first,
                         uint64_t last)
{
    size_t i;

    for (i = 0; i < h->nmaps; i++)
        if (h->maps[i].first <= last && first <= h->maps[i].last)
            return true;
    return false;
}

static void map_insert(struct harness *h, uint64_t first, uint64_t last,
                       bool fd, bool ro)
{
    size_t i = 0;

    while (i < h->nmaps && h->maps[i].first < first)
        i++;
    memmove(&h->maps[i + 1], &h->maps[i], (h->nmaps - i) * sizeof(h->maps[0]));
    memmove(&h->map_fd[i + 1], &h->map_fd[i], h->nmaps - i);
    memmove(&h->map_ro[i + 1], &h->map_ro[i], h->nmaps - i);
    h->maps[i] = (struct dm_ival){ first, last };
    h->map_fd[i] = fd;
    h->map_ro[i] = ro;
    h->nmaps++;
}

static void map_remove(struct harness *h, size_t i)
{
    h->nmaps--;
    memmove(&h->maps[i], &h->maps[i + 1], (h->nmaps - i) * sizeof(h->maps[0]));
    memmove(&h->map_fd[i], &h->map_fd[i + 1], h->nmaps - i);
    memmove(&h->map_ro[i], &h->map_ro[i + 1], h->nmaps - i);
}

static void op_map(struct harness *h, struct fz_in *in, uint8_t op, bool fd)
{
    struct uvfio_wire_dma_map req = { .argsz = sizeof(req) };
    int mfd = -1, r;
    bool valid;

    req.addr = fz_u64(in) & ~(PAGE - 1);
    req.size = fd ? ((fz_u8(in) % 16) + 1) * PAGE : fz_u64(in) & ~(PAGE - 1);
    if (!req.size)
        req.size = PAGE;
    req.flags = UVFIO_DMA_MAP_FLAG_READ |
                (op & 0x08 && !fd ? 0 : UVFIO_DMA_MAP_FLAG_WRITE);
    valid = req.size - 1 <= UINT64_MAX - req.addr && h->nmaps < MAX_MAPS &&
            !overlaps_map(h, req.addr, req.addr + (req.size - 1));
    if (h->nmaps == MAX_MAPS)
        return;
    /* Logging everything, a new map grows the tracker. */
    if (valid && h->m.started && h->m.everything && !h->m.overflow) {
        struct uvfio_dirty_range one = { req.addr, req.size };
        uint64_t b = dm_track_bytes(&one, 1, h->m.shift);

        /* Past the limit nothing is allocated: the tracker overflows. */
        if (b <= DM_MAX_BITMAP_BYTES - h->m.bytes &&
            !affordable(h, b > HEAVY_BYTES))
            return;
    }
    if (fd && (mfd = dup(h->memfd)) < 0)
        fz_fail("dup: %s", strerror(errno));
    r = uvfio_core_dma_map(h->dev, &req, &mfd);
    note(h, "MAP%s %#llx+%#llx: %d", fd ? "_FD" : "",
         (unsigned long long)req.addr, (unsigned long long)req.size, r);
    if (mfd >= 0)
        close(mfd);
    if ((r == 0) != valid)
        fz_fail("DMA_MAP %#llx+%#llx: %d, expected %s",
                (unsigned long long)req.addr, (unsigned long long)req.size, r,
                valid ? "success" : "failure");
    if (r)
        return;
    map_insert(h, req.addr, req.addr + (req.size - 1), fd,
               !(req.flags & UVFIO_DMA_MAP_FLAG_WRITE));
    dm_map_added(&h->m, req.addr, req.addr + (req.size - 1));
}

/* ---- reports --------------------------------------------------------------- */

static uint64_t page_size_of(struct fz_in *in)
{
    uint8_t s = fz_u8(in);

    return s & 0x80 ? fz_u64(in) : 1ull << (s & 63);
}

/* Bits of a report of `length` bytes at page_size (a power of two). */
static uint64_t report_bits(uint64_t length, uint64_t page_size)
{
    return length / page_size + (length % page_size != 0);
}

static void compare(const char *what, const uint8_t *got, const uint8_t *want,
                    size_t bytes)
{
    size_t i;

    for (i = 0; i < bytes; i++)
        if (got[i] != want[i])
            fz_fail("%s: bitmap byte %zu is %#x, the model says %#x", what,
                    i, got[i], want[i]);
}

static void op_report(struct harness *h, struct fz_in *in, uint8_t op)
{
    struct uvfio_wire_logging_report req;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint64_t bytes = 0;
    uint8_t *want = NULL;
    uint32_t argsz;
    bool valid;
    int r;

    req.iova = fz_u64(in);
    req.length = fz_u64(in);
    req.page_size = page_size_of(in);
    if (h->reports++ >= MAX_REPORTS)
        return;
    valid = h->m.started && is_pow2(req.page_size) && req.page_size >= PAGE &&
            req.length && req.length <= UINT64_MAX - req.iova;
    if (valid) {
        bytes = (report_bits(req.length, req.page_size) + 63) / 64 * 8;
        valid = bytes <= h->xfer;
    }
    argsz = (uint32_t)(8 + sizeof(req) + (valid ? bytes : 0)) -
            (op & 0x08 ? 1 : 0);
    valid = valid && !(op & 0x08);
    if (valid && !affordable(h, dm_report_words(&h->m, req.iova, req.iova +
                                                (req.length - 1)) >
                                HEAVY_WORDS))
        return;
    if (valid) {
        want = calloc(1, bytes);
        if (!want)
            fz_fail("out of memory");
        dm_expect(&h->m, req.iova, req.iova + (req.length - 1),
                  (unsigned int)__builtin_ctzll(req.page_size), want);
    }
    r = uvfio_core_feature(h->dev, argsz, UVFIO_FEATURE_GET |
                           UVFIO_FEATURE_DMA_LOGGING_REPORT, &req,
                           sizeof(req), &rep);
    note(h, "REPORT %#llx+%#llx at %#llx: %d, %llu bytes",
         (unsigned long long)req.iova, (unsigned long long)req.length,
         (unsigned long long)req.page_size, r, (unsigned long long)bytes);
    if ((r == 0) != valid)
        fz_fail("REPORT %#llx+%#llx at %#llx: %d, expected %s",
                (unsigned long long)req.iova, (unsigned long long)req.length,
                (unsigned long long)req.page_size, r,
                valid ? "success" : "failure");
    if (valid) {
        if (rep.len != 8 + sizeof(req) + bytes)
            fz_fail("REPORT reply of %zu bytes", rep.len);
        compare("REPORT", rep.data + 8 + sizeof(req), want, bytes);
        dm_reported(&h->m, req.iova, req.iova + (req.length - 1));
    }
    free(want);
    uvfio_buf_free(&rep);
}

static void op_unmap(struct harness *h, struct fz_in *in, uint8_t op)
{
    struct uvfio_wire_dma_unmap req = { .argsz = sizeof(req) };
    struct uvfio_wire_bitmap bm = { 0, 0 };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    size_t i = h->nmaps ? fz_u8(in) % h->nmaps : 0, need = 0;
    bool dirty = op & 0x08, valid = true;
    uint8_t *want = NULL;
    uint64_t nbits;
    int r;

    if (dirty) {
        bm.pgsize = page_size_of(in);
        bm.size = fz_u8(in) % 9;
    }
    if (!h->nmaps)
        return;
    req.addr = h->maps[i].first;
    req.size = h->maps[i].last - h->maps[i].first + 1;
    if (dirty) {
        req.flags = UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
        valid = h->m.started && is_pow2(bm.pgsize) && bm.pgsize >= PAGE;
        nbits = valid ? report_bits(req.size, bm.pgsize) : 0;
        need = (size_t)((nbits + 7) / 8);
        /* slack 0 asks for one byte too few */
        bm.size = (uint32_t)(need + bm.size) - 1;
        valid = valid && bm.size >= need && bm.size <= h->xfer;
        req.argsz = (uint32_t)(sizeof(req) + sizeof(bm) + bm.size);
    }
    if (dirty && valid &&
        !affordable(h, dm_report_words(&h->m, req.addr, h->maps[i].last) >
                       HEAVY_WORDS))
        return;
    if (dirty && valid) {
        want = calloc(1, bm.size + 8);
        if (!want)
            fz_fail("out of memory");
        dm_expect(&h->m, req.addr, h->maps[i].last,
                  (unsigned int)__builtin_ctzll(bm.pgsize), want);
    }
    r = uvfio_core_dma_unmap(h->dev, &req, &bm, dirty ? sizeof(bm) : 0, &rep);
    note(h, "UNMAP %#llx+%#llx%s: %d", (unsigned long long)req.addr,
         (unsigned long long)req.size, dirty ? " with bitmap" : "", r);
    if ((r == 0) != valid)
        fz_fail("DMA_UNMAP%s: %d, expected %s", dirty ? " with bitmap" : "",
                r, valid ? "success" : "failure");
    if (r == 0 && dirty) {
        if (rep.len != sizeof(req) + sizeof(bm) + bm.size)
            fz_fail("DMA_UNMAP reply of %zu bytes", rep.len);
        compare("DMA_UNMAP", rep.data + sizeof(req) + sizeof(bm), want,
                bm.size);
        dm_reported(&h->m, req.addr, h->maps[i].last);
    }
    if (r == 0)
        map_remove(h, i);
    free(want);
    uvfio_buf_free(&rep);
}

/* ---- START / STOP ------------------------------------------------------------ */

static int range_cmp(const void *a, const void *b)
{
    const struct uvfio_dirty_range *x = a, *y = b;

    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* The contract's conditions on START's ranges (uvfio/dirty.h). */
static bool ranges_ok(const struct uvfio_dirty_range *r, uint32_t nr,
                      uint64_t ps)
{
    uint32_t i, j;

    for (i = 0; i < nr; i++) {
        if (((r[i].iova | r[i].length) & (ps - 1)) || !r[i].length ||
            r[i].length > UINT64_MAX - r[i].iova)
            return false;
        for (j = 0; j < i; j++)
            if (r[i].iova <= r[j].iova + (r[j].length - 1) &&
                r[j].iova <= r[i].iova + (r[i].length - 1))
                return false;
    }
    return true;
}

static void check_start_reply(struct harness *h, const struct uvfio_buf *rep,
                              uint64_t ps, uint64_t chose)
{
    unsigned int hint = (unsigned int)__builtin_ctzll(h->log_ops ? chose : ps);
    unsigned int shift = h->nreq ? dm_pick_shift(h->req, h->nreq, hint) :
                         hint < DM_MIN_SHIFT ? DM_MIN_SHIFT : hint;

    if (!h->log_ops && chose != 1ull << shift)
        fz_fail("START chose page size %#llx, the contract %#llx",
                (unsigned long long)chose, 1ull << shift);
    if (h->log_ops && chose != (h->double_ps && ps < 1ull << 62 ? ps << 1 :
                                ps))
        fz_fail("START answered %#llx, not the driver's choice",
                (unsigned long long)chose);
    if (rep->len != 8 + 16 + 16 * h->nreq)
        fz_fail("START reply of %zu bytes", rep->len);
    dm_start(&h->m, h->req, h->nreq, shift, h->maps, h->nmaps);
}

/* Tracker memory a START allocates, at most. */
static uint64_t start_cost(const struct harness *h, uint64_t page_size)
{
    unsigned int shift = (unsigned int)__builtin_ctzll(page_size);
    struct uvfio_dirty_range r;
    uint64_t total = 0, b;
    size_t i;

    if (h->nreq)
        return dm_track_bytes(h->req, h->nreq, DM_MIN_SHIFT);
    /* Logging everything: the maps join until one would pass the limit,
     * which is refused before anything is allocated for it. */
    for (i = 0; i < h->nmaps; i++) {
        r = (struct uvfio_dirty_range){ h->maps[i].first,
                                        h->maps[i].last - h->maps[i].first +
                                        1 };
        b = r.length ? dm_track_bytes(&r, 1, shift < DM_MIN_SHIFT ?
                                      DM_MIN_SHIFT : shift) : UINT64_MAX;
        if (b > DM_MAX_BITMAP_BYTES - total)
            break;
        total += b;
    }
    return total;
}

static void op_start(struct harness *h, struct fz_in *in, uint8_t op)
{
    uint8_t buf[16 + 256 * 16];
    struct uvfio_wire_logging_control ctl = { 0 };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint64_t chose;
    uint32_t i;
    bool valid;
    int r;

    ctl.page_size = page_size_of(in);
    ctl.num_ranges = op & 0x08 ? 0 : fz_u8(in);
    for (i = 0; i < ctl.num_ranges; i++) {
        h->req[i].iova = fz_u64(in);
        h->req[i].length = fz_u64(in);
        if ((op & 0x10) && is_pow2(ctl.page_size)) {
            h->req[i].iova &= ~(ctl.page_size - 1);
            h->req[i].length &= ~(ctl.page_size - 1);
            if (!h->req[i].length)
                h->req[i].length = ctl.page_size;
        }
    }
    if (h->starts++ >= MAX_STARTS)
        return;
    h->nreq = ctl.num_ranges;
    valid = !h->m.started && is_pow2(ctl.page_size) &&
            ranges_ok(h->req, h->nreq, ctl.page_size);
    if (valid && !affordable(h, start_cost(h, ctl.page_size) > HEAVY_BYTES))
        return;
    memcpy(buf, &ctl, sizeof(ctl));
    memcpy(buf + sizeof(ctl), h->req, 16 * (size_t)h->nreq);
    qsort(h->req, h->nreq, sizeof(h->req[0]), range_cmp);
    r = uvfio_core_feature(h->dev, (uint32_t)(8 + sizeof(ctl) + 16 * h->nreq),
                           UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_START,
                           buf, sizeof(ctl) + 16 * (size_t)h->nreq, &rep);
    note(h, "START %u ranges at %#llx: %d", h->nreq,
         (unsigned long long)ctl.page_size, r);
    if ((r == 0) != valid)
        fz_fail("START of %u ranges at %#llx: %d, expected %s", h->nreq,
                (unsigned long long)ctl.page_size, r,
                valid ? "success" : "failure");
    if (r == 0) {
        memcpy(&chose, rep.data + 8, sizeof(chose));
        check_start_reply(h, &rep, ctl.page_size, chose);
    }
    uvfio_buf_free(&rep);
}

static void op_stop(struct harness *h)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r;

    r = uvfio_core_feature(h->dev, 8, UVFIO_FEATURE_SET |
                           UVFIO_FEATURE_DMA_LOGGING_STOP, NULL, 0, &rep);
    if (r)
        fz_fail("STOP failed: %d", r);
    dm_reset(&h->m);
    uvfio_buf_free(&rep);
}

/* ---- marks ----------------------------------------------------------------- */

/* Whether [first, last] is wholly inside maps allowing a write (and, for
 * a pin, inside one fd-backed map). */
static bool writable(const struct harness *h, uint64_t first, uint64_t last,
                     bool pin)
{
    size_t i;

    for (i = 0; i < h->nmaps; i++) {
        if (h->maps[i].last < first || h->maps[i].first > first)
            continue;
        if (h->map_ro[i] || (pin && !h->map_fd[i]))
            return false;
        if (h->maps[i].last >= last)
            return true;
        if (pin)
            return false;
        first = h->maps[i].last + 1;
        i = (size_t)-1;         /* look again from the start */
    }
    return false;
}

static void op_write(struct harness *h, struct fz_in *in, uint8_t op)
{
    uint64_t iova = fz_u64(in);
    size_t len = fz_u16(in);
    bool pin = op & 0x08, ok;
    struct uvfio_dma_pin p;
    int r;

    if (!len)
        return;
    ok = len - 1 <= UINT64_MAX - iova &&
         writable(h, iova, iova + (len - 1), pin);
    if (pin) {
        r = uvfio_dma_pin(h->dev, iova, len, true, &p);
        if (r == 0) {
            memset(p.host, 0x5a, p.len);
            uvfio_dma_unpin(h->dev, &p);
        }
    } else {
        r = uvfio_dma_write(h->dev, iova, h->zeros, len);
    }
    note(h, "%s %#llx+%zu: %d", pin ? "PIN" : "WRITE",
         (unsigned long long)iova, len, r);
    if ((r == 0) != ok)
        fz_fail("%s %#llx+%zu: %d, expected %s", pin ? "pin" : "DMA write",
                (unsigned long long)iova, len, r,
                ok ? "success" : "failure");
    if (r == 0)
        dm_mark(&h->m, iova, iova + (len - 1));
}

static void op_driver(struct harness *h, struct fz_in *in)
{
    uint64_t iova = fz_u64(in), len = fz_u64(in);

    if (!h->drv_started || !len)
        return;
    dm_span_add(&h->m, iova,
                len - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + (len - 1));
}

/* The combiner on sorted, disjoint ranges built from gaps and lengths. */
static void op_combine(struct fz_in *in)
{
    struct uvfio_dirty_range in_r[64], out[64];
    uint32_t nr = fz_u8(in) % 65, max = fz_u8(in) % 9, i, n = 0;
    uint64_t at = fz_u64(in), gap, len;
    int got;

    for (i = 0; i < nr; i++) {
        gap = fz_u32(in);
        len = (uint64_t)fz_u32(in) + 1;
        if (gap > UINT64_MAX - at || len > UINT64_MAX - (at + gap))
            break;
        in_r[n++] = (struct uvfio_dirty_range){ at + gap, len };
        at += gap + len;
    }
    memcpy(out, in_r, sizeof(out[0]) * n);
    got = uvfio_dirty_combine_ranges(out, n, max);
    if (dm_check_combined(in_r, n, max, out, got))
        fz_fail("combine %u ranges to %u: %s", n, max,
                dm_check_combined(in_r, n, max, out, got));
}

/* ---- one input ---------------------------------------------------------------- */

static void run_op(struct harness *h, struct fz_in *in)
{
    uint8_t op = fz_u8(in);

    switch (op & 7) {
    case 0:
        op_map(h, in, op, false);
        break;
    case 1:
        op_map(h, in, op, true);
        break;
    case 2:
        op_unmap(h, in, op);
        break;
    case 3:
        op_start(h, in, op);
        break;
    case 4:
        op_stop(h);
        break;
    case 5:
        op_write(h, in, op);
        break;
    case 6:
        if (op & 0x08)
            op_combine(in);
        else
            op_driver(h, in);
        break;
    default:
        op_report(h, in, op);
        break;
    }
}

static void setup(struct harness *h, uint8_t cfg)
{
    static const struct uvfio_device_ops ops = { .name = "fuzz-dirty" };
    struct uvfio_device_config dc = {
        .name = "fuzz-dirty",
        .ops = &ops,
        .num_regions = 1,
        .priv = h,
    };
    struct uvfio_core_client cl = {
        .dma_rw = stub_dma_rw,
        .max_data_xfer = cfg & 0x20 ? 4096 : 65536,
        .max_dma_maps = 65535,
    };

    memset(h, 0, offsetof(struct harness, zeros));
    h->trace = getenv("FZ_LOG");
    h->log_ops = cfg & 1;
    h->max_ranges = (cfg >> 1) & 7;
    h->double_ps = cfg & 0x10;
    h->xfer = cl.max_data_xfer;
    if (h->log_ops) {
        static struct uvfio_log_ops lo;

        lo = drv_log_ops;
        lo.max_ranges = h->max_ranges;
        dc.log_ops = &lo;
    }
    h->memfd = memfd_create("fuzz-dirty", MFD_CLOEXEC);
    if (h->memfd < 0 || ftruncate(h->memfd, MEMFD_SIZE) < 0)
        fz_fail("memfd: %s", strerror(errno));
    if (uvfio_device_create(&dc, &h->dev) < 0 ||
        uvfio_core_attach(h->dev, &cl) < 0)
        fz_fail("cannot create and attach the device");
}

static void teardown(struct harness *h)
{
    uvfio_core_detach(h->dev);
    uvfio_device_destroy(h->dev);
    close(h->memfd);
    dm_reset(&h->m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;

    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct harness h;
    struct fz_in in = { data, size };
    int fds_before = fz_fd_count();

    setup(&h, fz_u8(&in));
    h.heavy_ok = fnv1a(data, size) % HEAVY_ONE_IN == 0;
    while (!fz_done(&in))
        run_op(&h, &in);
    teardown(&h);
    if (fz_fd_count() != fds_before)
        fz_fail("fd leak: %d open before, %d after", fds_before,
                fz_fd_count());
    return 0;
}
