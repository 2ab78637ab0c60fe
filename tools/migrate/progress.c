// SPDX-License-Identifier: MIT
/*
 * migrate/progress.c - the one-line progress bar:
 *
 *   precopy #2  [##############----------------]  47%  1.2 MiB / 2.6 MiB
 *
 * The total is an estimate (bytes moved + what the source says is left),
 * so it may move while the bar fills; the percentage never exceeds 100.
 */
#include <string.h>
#include <time.h>

#include "progress.h"
#include "report.h"

#define BAR_WIDTH       30
#define REDRAW_NS       100000000ull

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void progress_init(struct progress_bar *b, FILE *f)
{
    memset(b, 0, sizeof(*b));
    b->f = f;
}

static const char *phase_label(const struct mig_progress *p, char *buf,
                               size_t len)
{
    switch (p->phase) {
    case MIG_PHASE_SETUP:
        return "setup";
    case MIG_PHASE_PRECOPY:
        snprintf(buf, len, "precopy #%u", p->iteration);
        return buf;
    case MIG_PHASE_STOPCOPY:
        return "stop-copy";
    case MIG_PHASE_RESUME:
        return "resuming";
    default:
        return "done";
    }
}

static void draw(struct progress_bar *b, const struct mig_progress *p)
{
    char label[32], done[32], total[32], bar[BAR_WIDTH + 1];
    unsigned int pct = 100, fill;

    if (p->phase != MIG_PHASE_DONE && p->total)
        pct = (unsigned int)(p->bytes * 100 / p->total);
    fill = pct * BAR_WIDTH / 100;
    memset(bar, '#', fill);
    memset(bar + fill, '-', BAR_WIDTH - fill);
    bar[BAR_WIDTH] = '\0';
    fprintf(b->f, "\r%-11s [%s] %3u%%  %s / %s\033[K",
            phase_label(p, label, sizeof(label)), bar, pct,
            report_bytes(done, sizeof(done), p->bytes),
            report_bytes(total, sizeof(total), p->total));
    fflush(b->f);
    b->drawn = true;
}

void progress_update(void *opaque, const struct mig_progress *p)
{
    struct progress_bar *b = opaque;
    uint64_t now = now_ns();
    bool changed = p->phase != b->last_phase ||
                   p->iteration != b->last_iteration;

    if (!changed && b->drawn && now - b->last_ns < REDRAW_NS)
        return;
    b->last_ns = now;
    b->last_phase = p->phase;
    b->last_iteration = p->iteration;
    draw(b, p);
}

void progress_finish(struct progress_bar *b)
{
    if (b->drawn)
        fputc('\n', b->f);
    b->drawn = false;
}
