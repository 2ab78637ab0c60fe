// SPDX-License-Identifier: MIT
/*
 * dirty - what dirty logging costs, next to the floors it cannot beat.
 *
 * 1. DMA_LOGGING_REPORT of 64 GiB at 4 KiB pages (a 2 MiB bitmap) over a
 *    real vfio-user socket, server thread and client thread, for four
 *    patterns: every page dirty, 1 in 16, 1 in 512, none.  Next to it, in
 *    the same run, the floor: the same 2 MiB sent as the reply to a small
 *    request over a raw AF_UNIX socket between two threads, received into
 *    a buffer.  Also the device side alone (the core's REPORT handler,
 *    no socket), which is the part dirty logging adds.  The pattern is
 *    marked again, untimed, before each report.  max_data_xfer_size is
 *    4 MiB so the bitmap travels in one reply; a second row shows the
 *    spec's default of 1 MiB, where the client library splits it in two.
 *
 * 2. What marking adds to the DMA path: uvfio_dma_write of 4 KiB pages
 *    into a memfd-backed map with logging off, on with the pages clean
 *    (each write sets its bit) and on with them already dirty (the bit is
 *    only checked), next to a plain memcpy of the same 4 KiB into the same
 *    memory; and the marking call on its own.
 *
 * usage: dirty [--reps=N]
 *
 * Prints tables; it does not judge (a benchmark is not a test), but it
 * shows the target next to each ratio: an all-dirty report <= 3x the raw
 * socket time.  Times are medians of N runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "core/core.h"
#include "core/dirty_core.h"
#include "core/internal.h"

#define GIB             (1ull << 30)
#define MIB             (1ull << 20)
#define PG              4096ull
#define REPORT_LEN      (64 * GIB)
#define BITMAP_BYTES    ((size_t)(REPORT_LEN / PG / 8))
#define REQ_BYTES       (16 + 8 + 24)           /* header, feature, report */
#define MARK_PAGES      16384u                  /* 64 MiB of DMA per pass */

static int reps = 31;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Of n times in ns, the median in us (sorts t: t[0] is then the best). */
static double median_us(uint64_t *t, int n)
{
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    return t[n / 2] / 1e3;
}

/* ---- the raw floor: 2 MiB answered to a 48-byte request ---------------- */

static int io_full(int fd, void *buf, size_t len, bool wr)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = wr ? write(fd, (char *)buf + done, len - done) :
                 read(fd, (char *)buf + done, len - done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void *raw_server(void *arg)
{
    int fd = *(int *)arg;
    char req[REQ_BYTES];
    uint8_t *rep = malloc(REQ_BYTES + BITMAP_BYTES);

    memset(rep, 0xff, REQ_BYTES + BITMAP_BYTES);
    while (io_full(fd, req, sizeof(req), false) == 0)
        if (io_full(fd, rep, REQ_BYTES + BITMAP_BYTES, true))
            break;
    free(rep);
    return NULL;
}

struct raw {
    int sv[2];
    pthread_t th;
    uint8_t *buf;
};

static int raw_start(struct raw *r)
{
    r->buf = malloc(REQ_BYTES + BITMAP_BYTES);
    if (!r->buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->sv))
        return -1;
    return pthread_create(&r->th, NULL, raw_server, &r->sv[1]) ? -1 : 0;
}

/* One round trip, in ns. */
static int64_t raw_once(struct raw *r)
{
    char req[REQ_BYTES] = { 0 };
    uint64_t t0 = now_ns();

    if (io_full(r->sv[0], req, sizeof(req), true) ||
        io_full(r->sv[0], r->buf, REQ_BYTES + BITMAP_BYTES, false))
        return -1;
    return (int64_t)(now_ns() - t0);
}

static void raw_stop(struct raw *r)
{
    close(r->sv[0]);
    pthread_join(r->th, NULL);
    close(r->sv[1]);
    free(r->buf);
}

/* ---- a served device ---------------------------------------------------- */

struct rig {
    struct uvfio_server *srv;
    struct uvfio_device *dev;
    pthread_t thread;
    char dir[64];
    char path[96];
};

static const struct uvfio_device_ops bench_ops = { .name = "bench-dirty" };

static void *serve(void *arg)
{
    struct rig *r = arg;

    uvfio_server_run(r->srv);
    return NULL;
}

static int rig_start(struct rig *r)
{
    struct uvfio_server_opts so = { .max_data_xfer_size = 4 * MIB };
    struct uvfio_device_config dc = { .name = "bench-dirty",
                                      .ops = &bench_ops };

    strcpy(r->dir, "/tmp/uvfio-bench-dirty-XXXXXX");
    if (!mkdtemp(r->dir))
        return -errno;
    snprintf(r->path, sizeof(r->path), "%s/dev", r->dir);
    if (uvfio_server_create(&so, &r->srv) ||
        uvfio_device_create(&dc, &r->dev) ||
        uvfio_server_add_device(r->srv, r->dev, r->path))
        return -1;
    return pthread_create(&r->thread, NULL, serve, r) ? -1 : 0;
}

static void rig_stop(struct rig *r)
{
    uvfio_server_stop(r->srv);
    pthread_join(r->thread, NULL);
    uvfio_server_destroy(r->srv);
    uvfio_device_destroy(r->dev);
    rmdir(r->dir);
}

/* What a device's DMA would have marked: every `every`-th page (0: none).
 * Through the core's hook, as a write would, without 64 GiB of memory. */
static void mark_pattern(struct uvfio_device *dev, uint64_t every)
{
    uint64_t p;

    if (!every)
        return;
    uvfio_dma_table_lock(dev, false);
    if (every == 1)
        uvfio_dirty_mark(dev, 0, REPORT_LEN);
    else
        for (p = 0; p < REPORT_LEN / PG; p += every)
            uvfio_dirty_mark(dev, p * PG, 1);
    uvfio_dma_table_unlock(dev);
}

static uint64_t popcount(const uint64_t *w, size_t n)
{
    uint64_t c = 0;

    while (n--)
        c += (uint64_t)__builtin_popcountll(w[n]);
    return c;
}

/*
 * One pattern over the socket, each report right after a raw round trip,
 * so that both see the same load on a shared machine: medians in us of
 * both, and of the ratio pair by pair.  Every report is checked.
 */
struct timing {
    double us, raw_us, ratio;       /* medians */
    double best_us, best_raw_us;    /* least disturbed runs */
};

static int bench_report(struct rig *r, struct raw *raw,
                        struct uvfio_client *c, uint64_t every,
                        uint64_t *bitmap, struct timing *out)
{
    uint64_t *t = calloc((size_t)reps, sizeof(*t)), t0, want;
    uint64_t *rt = calloc((size_t)reps, sizeof(*rt));
    uint64_t *ratio = calloc((size_t)reps, sizeof(*ratio));
    int64_t raw_ns;
    int i;

    want = every ? (REPORT_LEN / PG + every - 1) / every : 0;
    for (i = -2; i < reps; i++) {
        mark_pattern(r->dev, every);
        memset(bitmap, 0, BITMAP_BYTES);
        raw_ns = raw_once(raw);
        t0 = now_ns();
        if (uvfio_client_dma_logging_report(c, 0, REPORT_LEN, PG, bitmap) ||
            raw_ns <= 0)
            return -1;
        if (i >= 0) {
            t[i] = now_ns() - t0;
            rt[i] = (uint64_t)raw_ns;
            ratio[i] = t[i] * 1000 / rt[i];
        }
        if (popcount(bitmap, BITMAP_BYTES / 8) != want) {
            fprintf(stderr, "dirty: report lost or invented pages\n");
            return -1;
        }
    }
    out->us = median_us(t, reps);
    out->raw_us = median_us(rt, reps);
    out->ratio = median_us(ratio, reps);    /* x1000 -> x */
    out->best_us = t[0] / 1e3;
    out->best_raw_us = rt[0] / 1e3;
    free(t);
    free(rt);
    free(ratio);
    return 0;
}

/* The same report handed straight to the core: what logging itself costs
 * the server, without the socket. */
static double bench_core(struct uvfio_device *dev, uint64_t every)
{
    struct uvfio_wire_logging_report req = { 0, REPORT_LEN, PG };
    const uint32_t flags = UVFIO_FEATURE_GET |
                           UVFIO_FEATURE_DMA_LOGGING_REPORT;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint64_t *t = calloc((size_t)reps, sizeof(*t)), t0;
    double us;
    int i;

    for (i = -2; i < reps; i++) {
        mark_pattern(dev, every);
        uvfio_buf_reset(&rep);
        t0 = now_ns();
        if (uvfio_core_feature(dev, (uint32_t)(8 + sizeof(req) + BITMAP_BYTES),
                               flags, &req, sizeof(req), &rep))
            return -1;
        if (i >= 0)
            t[i] = now_ns() - t0;
    }
    uvfio_buf_free(&rep);
    us = median_us(t, reps);
    free(t);
    return us;
}

static int report_table(void)
{
    static const struct { const char *name; uint64_t every; } pat[] = {
        { "all dirty", 1 }, { "1 in 16", 16 }, { "1 in 512", 512 },
        { "clean", 0 },
    };
    struct uvfio_dirty_range range = { 0, REPORT_LEN };
    struct uvfio_client_opts o = { .max_data_xfer_size = 4 * MIB };
    uint64_t *bitmap = malloc(BITMAP_BYTES), ps = PG;
    struct uvfio_client *c = NULL;
    struct timing tm;
    struct raw raw;
    double core_us;
    struct rig r;
    size_t i;

    if (!bitmap || raw_start(&raw) || rig_start(&r) ||
        uvfio_client_connect(r.path, &o, &c) ||
        uvfio_client_dma_logging_start(c, &range, 1, &ps))
        return -1;
    printf("DMA_LOGGING_REPORT of 64 GiB at 4 KiB (2 MiB bitmap), %d "
           "runs: median (best)\n", reps);
    printf("  %-10s %18s %18s %14s %10s  target\n", "pattern", "report us",
           "raw us", "x raw", "device us");
    for (i = 0; i < sizeof(pat) / sizeof(pat[0]); i++) {
        core_us = bench_core(r.dev, pat[i].every);
        if (bench_report(&r, &raw, c, pat[i].every, bitmap, &tm) ||
            core_us < 0)
            return -1;
        printf("  %-10s %9.1f (%6.1f) %9.1f (%6.1f) %6.2fx (%4.2fx) %10.1f"
               "  %s\n", pat[i].name, tm.us, tm.best_us, tm.raw_us,
               tm.best_raw_us, tm.ratio, tm.best_us / tm.best_raw_us,
               core_us, pat[i].every == 1 ? "<= 3x" : "");
    }
    uvfio_client_close(c);

    /* The spec's default transfer size: two windows of 1 MiB. */
    o.max_data_xfer_size = MIB;
    if (uvfio_client_connect(r.path, &o, &c) ||
        uvfio_client_dma_logging_start(c, &range, 1, &ps) ||
        bench_report(&r, &raw, c, 1, bitmap, &tm))
        return -1;
    printf("  %-10s %9.1f (%6.1f) %9.1f (%6.1f) %6.2fx (%4.2fx)   "
           "max_data_xfer_size 1 MiB: 2 replies\n", "all dirty", tm.us,
           tm.best_us, tm.raw_us, tm.best_raw_us, tm.ratio,
           tm.best_us / tm.best_raw_us);
    printf("  raw: the same 2 MiB answering a 48-byte request over "
           "AF_UNIX, timed next to each report\n  (x raw: median of the "
           "pairwise ratios, and best over best);\n  device: the core's "
           "REPORT handler alone, no socket, median\n");
    uvfio_client_close(c);
    rig_stop(&r);
    raw_stop(&raw);
    free(bitmap);
    return 0;
}

/* ---- marking in the DMA path -------------------------------------------- */

struct mark_rig {
    struct uvfio_device *dev;
    struct uvfio_core_client cl;
    uint8_t *mirror;            /* the same memfd, mapped here */
    uint8_t page[4096];
};

static int mark_rig_start(struct mark_rig *m)
{
    struct uvfio_device_config dc = { .name = "bench-mark", .ops = &bench_ops };
    struct uvfio_wire_dma_map map = {
        .argsz = sizeof(map),
        .flags = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE,
        .size = MARK_PAGES * PG,
    };
    int fd = memfd_create("bench-dirty", MFD_CLOEXEC);

    memset(m->page, 0x5a, sizeof(m->page));
    m->cl.max_dma_maps = 16;
    if (fd < 0 || ftruncate(fd, (off_t)(MARK_PAGES * PG)) ||
        uvfio_device_create(&dc, &m->dev) ||
        uvfio_core_attach(m->dev, &m->cl))
        return -1;
    m->mirror = mmap(NULL, MARK_PAGES * PG, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
    if (m->mirror == MAP_FAILED || uvfio_core_dma_map(m->dev, &map, &fd))
        return -1;
    return 0;
}

static void mark_rig_stop(struct mark_rig *m)
{
    munmap(m->mirror, MARK_PAGES * PG);
    uvfio_core_detach(m->dev);
    uvfio_device_destroy(m->dev);
}

static int feature(struct uvfio_device *dev, uint32_t flags, const void *p,
                   size_t len, uint32_t argsz)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_feature(dev, argsz, flags, p, len, &rep);

    uvfio_buf_free(&rep);
    return r;
}

/* Reading the whole log clears it: the next pass finds clean pages. */
static int clear_log(struct uvfio_device *dev)
{
    struct uvfio_wire_logging_report req = { 0, MARK_PAGES * PG, PG };

    return feature(dev, UVFIO_FEATURE_GET | UVFIO_FEATURE_DMA_LOGGING_REPORT,
                   &req, sizeof(req),
                   (uint32_t)(8 + sizeof(req) + MARK_PAGES / 8));
}

enum pass_kind { PASS_MEMCPY, PASS_DMA, PASS_MARK };

/* ns per page of one pass over every page. */
static double one_pass(struct mark_rig *m, enum pass_kind kind)
{
    uint64_t t0 = now_ns(), p;

    for (p = 0; p < MARK_PAGES; p++) {
        switch (kind) {
        case PASS_MEMCPY:
            memcpy(m->mirror + p * PG, m->page, PG);
            break;
        case PASS_DMA:
            if (uvfio_dma_write(m->dev, p * PG, m->page, PG))
                return -1;
            break;
        case PASS_MARK:
            uvfio_dma_table_lock(m->dev, false);
            uvfio_dirty_mark(m->dev, p * PG, PG);
            uvfio_dma_table_unlock(m->dev);
            break;
        }
    }
    return (double)(now_ns() - t0) / MARK_PAGES;
}

/* Median ns/page; with `clean`, the log is cleared before each pass. */
static double passes(struct mark_rig *m, enum pass_kind kind, bool clean)
{
    uint64_t *t = calloc((size_t)reps, sizeof(*t));
    double ns;
    int i;

    for (i = -1; i < reps; i++) {
        if (clean && clear_log(m->dev))
            return -1;
        ns = one_pass(m, kind);
        if (ns < 0)
            return -1;
        if (i >= 0)
            t[i] = (uint64_t)(ns * 1000);       /* in ps, for the median */
    }
    ns = median_us(t, reps);                    /* ps -> ns */
    free(t);
    return ns;
}

static int mark_table(void)
{
    struct uvfio_wire_logging_control ctl = { PG, 0, 0 };   /* everything */
    const uint32_t set = UVFIO_FEATURE_SET;
    double cpy, off, on_clean, on_dirty, mark;
    struct mark_rig m = { 0 };

    if (mark_rig_start(&m))
        return -1;
    cpy = passes(&m, PASS_MEMCPY, false);
    off = passes(&m, PASS_DMA, false);
    if (feature(m.dev, set | UVFIO_FEATURE_DMA_LOGGING_START, &ctl,
                sizeof(ctl), 8 + sizeof(ctl)))
        return -1;
    on_clean = passes(&m, PASS_DMA, true);
    on_dirty = passes(&m, PASS_DMA, false);
    mark = passes(&m, PASS_MARK, true);
    mark_rig_stop(&m);
    if (cpy < 0 || off < 0 || on_clean < 0 || on_dirty < 0 || mark < 0)
        return -1;
    printf("\nMarking in the DMA path, 4 KiB writes over 64 MiB, ns per "
           "page (median of %d passes)\n", reps);
    printf("  memcpy of the page into the same memory   %7.1f\n", cpy);
    printf("  uvfio_dma_write, logging off              %7.1f\n", off);
    printf("  uvfio_dma_write, logging on, page clean   %7.1f  (+%.1f)\n",
           on_clean, on_clean - off);
    printf("  uvfio_dma_write, logging on, page dirty   %7.1f  (+%.1f)\n",
           on_dirty, on_dirty - off);
    printf("  the mark alone (lock, fence, atomic OR)   %7.1f  = %.1f%% of "
           "the memcpy\n", mark, 100 * mark / cpy);
    return 0;
}

int main(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--reps=", 7) && atoi(argv[i] + 7) > 0) {
            reps = atoi(argv[i] + 7);
        } else {
            bool help = !strcmp(argv[i], "--help");

            fprintf(help ? stdout : stderr, "usage: dirty [--reps=N]\n"
                    "  DMA dirty-page REPORTs of 64 GiB over a real socket "
                    "next to the same bytes\n  over a raw one, and what "
                    "marking adds to a DMA write.\n");
            return help ? 0 : 2;
        }
    }
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    if (report_table() || mark_table()) {
        fprintf(stderr, "dirty: benchmark failed\n");
        return 1;
    }
    return 0;
}
