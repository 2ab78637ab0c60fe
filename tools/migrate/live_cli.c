// SPDX-License-Identifier: MIT
/*
 * migrate/live_cli.c - the live-migration half of uvfio-migrate's command
 * line (live_cli.h): its options, which end this process plays, and the
 * run with its report.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "live_cli.h"
#include "live_report.h"
#include "netaddr.h"
#include "pagebits.h"
#include "progress.h"
#include "report.h"

#define MAX_GUEST_MEMORY        (1ull << 40)
#define MAX_RATE                (16ull << 30)   /* bytes/s */

/* "4096", "64K", "1M", "1GiB": bytes, binary suffixes. */
static int parse_bytes(const char *s, uint64_t *out)
{
    unsigned int shift = 0;
    unsigned long long v;
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
        end += strlen(end);
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

/* A rate: a bare number is MiB/s, else bytes/s with a suffix ("512K"). */
static int parse_rate(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");

    if (n && !s[n]) {
        if (n > 6)
            return -EINVAL;
        *out = strtoull(s, NULL, 10) << 20;
        return 0;
    }
    return parse_bytes(s, out);
}

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "uvfio-migrate: --%s '%s': %s\n", opt, val, why);
    return -EINVAL;
}

void live_cli_init(struct live_cli *l)
{
    memset(l, 0, sizeof(*l));
    l->o.downtime_ms = LIVE_DEFAULT_DOWNTIME_MS;
    l->o.max_rounds = LIVE_DEFAULT_MAX_ROUNDS;
    l->o.corrupt_page = -1;
    l->o.seed = 1;
    l->o.tracker = WPTRACK_AUTO;
}

static int parse_tracker(struct live_cli *l, const char *arg)
{
    if (!strcmp(arg, "auto"))
        l->o.tracker = WPTRACK_AUTO;
    else if (!strcmp(arg, "async"))
        l->o.tracker = WPTRACK_ASYNC;
    else if (!strcmp(arg, "sync"))
        l->o.tracker = WPTRACK_SYNC;
    else
        return bad("write-tracker", arg, "want auto, async or sync");
    return 0;
}

static int parse_sizes(struct live_cli *l, int opt, const char *arg)
{
    struct live_opts *o = &l->o;
    uint64_t v;

    switch (opt) {
    case LIVE_OPT_GUEST_MEMORY:
        if (parse_bytes(arg, &o->mem_size) || !o->mem_size ||
            o->mem_size % LM_PAGE_SIZE || o->mem_size > MAX_GUEST_MEMORY)
            return bad("guest-memory", arg, "want 4K .. 1T, a multiple of "
                       "4K");
        return 0;
    case LIVE_OPT_DEVICE_DMA_WINDOW:
        if (parse_bytes(arg, &o->dev_dma_window) || !o->dev_dma_window ||
            o->dev_dma_window % LM_PAGE_SIZE)
            return bad("device-dma-window", arg, "want a multiple of 4K");
        return 0;
    case LIVE_OPT_WRITE_RATE:
    case LIVE_OPT_DEVICE_DMA_RATE:
        if (parse_rate(arg, &v) || v > MAX_RATE)
            return bad(opt == LIVE_OPT_WRITE_RATE ? "guest-write-rate" :
                       "device-dma-rate", arg, "want MiB/s (or 512K, 1G: "
                       "bytes/s) up to 16G");
        if (opt == LIVE_OPT_WRITE_RATE)
            o->write_rate = v;
        else
            o->dev_dma_rate = v;
        return 0;
    default:
        return 1;
    }
}

int live_cli_opt(struct live_cli *l, int opt, const char *arg)
{
    struct live_opts *o = &l->o;
    uint64_t v;
    int r;

    r = parse_sizes(l, opt, arg);
    if (r <= 0) {
        l->on = true;
        return r;
    }
    switch (opt) {
    case LIVE_OPT_DOWNTIME:
        if (parse_bytes(arg, &v) || !v || v > 3600000)
            return bad("downtime-ms", arg, "want 1..3600000");
        o->downtime_ms = (uint32_t)v;
        break;
    case LIVE_OPT_TO:
        o->to = arg;
        break;
    case LIVE_OPT_INCOMING:
        o->incoming = arg;
        break;
    case LIVE_OPT_SEED:
        if (parse_bytes(arg, &o->seed))
            return bad("seed", arg, "want a number");
        break;
    case LIVE_OPT_TRACKER:
        if (parse_tracker(l, arg))
            return -EINVAL;
        break;
    case LIVE_OPT_CORRUPT:
        if (parse_bytes(arg, &v) || v > INT64_MAX)
            return bad("corrupt-dest-page", arg, "want a page number");
        o->corrupt_page = (int64_t)v;
        break;
    default:
        return 1;
    }
    l->on = true;
    return 0;
}

void live_cli_usage(FILE *f)
{
    fprintf(f,
        "\n"
        "       uvfio-migrate --guest-memory SIZE [live options] SOURCE DEST\n"
        "       uvfio-migrate --guest-memory SIZE --to tcp:HOST:PORT\n"
        "                     [live options] SOURCE\n"
        "       uvfio-migrate --incoming tcp:ADDR:PORT [--guest-memory SIZE]\n"
        "                     DEST\n"
        "\n"
        "Live migration with guest memory: this process plays the VMM on\n"
        "both sides, with SIZE bytes of guest memory mapped to each device,\n"
        "a guest writing the source's, and verifies that the destination\n"
        "ends with the source's memory and device state.\n"
        "\n"
        "  --guest-memory SIZE      guest memory per side (4K multiple)\n"
        "  --guest-write-rate RATE  the guest's writes, MiB/s [0]\n"
        "  --device-dma-rate RATE   uvfio-edu's copy queue writes guest\n"
        "                           memory at RATE MiB/s [off]\n"
        "  --device-dma-window SIZE its window, at the top of memory\n"
        "                           [a quarter of it]\n"
        "  --downtime-ms N          downtime budget [300]\n"
        "  --max-iterations N       precopy rounds at most [30]\n"
        "  --no-precopy             the device's state at the stop only\n"
        "  --to tcp:HOST:PORT       be the source end; the destination end\n"
        "                           runs --incoming on the other host\n"
        "  --incoming tcp:ADDR:PORT be the destination end\n"
        "  --seed N                 the guest's write pattern [1]\n"
        "  --write-tracker MODE     auto, async or sync (userfaultfd\n"
        "                           write-protection) [auto]\n"
        "  --corrupt-dest-page N    test the verifier: damage page N at\n"
        "                           the destination (the migration fails)\n"
        "\n"
        "RATE is MiB/s, or bytes/s with a suffix (512K, 1G).\n");
}

static int finish_ends(struct live_cli *l, char **args, int nargs)
{
    struct live_opts *o = &l->o;
    struct netaddr a;
    int want = o->to || o->incoming ? 1 : 2;

    if (o->to && o->incoming) {
        fprintf(stderr, "uvfio-migrate: --to and --incoming: one end each\n");
        return -EINVAL;
    }
    if (nargs != want) {
        fprintf(stderr, "uvfio-migrate: give %s\n", o->incoming ? "DEST" :
                o->to ? "SOURCE" : "SOURCE and DEST sockets");
        return -EINVAL;
    }
    if ((o->to && (netaddr_parse(o->to, &a) || !a.host[0])) ||
        (o->incoming && netaddr_parse(o->incoming, &a))) {
        fprintf(stderr, "uvfio-migrate: want tcp:HOST:PORT, not '%s'\n",
                o->to ? o->to : o->incoming);
        return -EINVAL;
    }
    o->src_path = o->incoming ? NULL : args[0];
    o->dst_path = o->incoming ? args[0] : o->to ? NULL : args[1];
    if (o->src_path && o->dst_path && !strcmp(o->src_path, o->dst_path)) {
        fprintf(stderr, "uvfio-migrate: SOURCE and DEST are the same "
                "socket\n");
        return -EINVAL;
    }
    return 0;
}

int live_cli_finish(struct live_cli *l, const struct live_cli_common *c,
                    char **args, int nargs)
{
    struct live_opts *o = &l->o;

    if (!o->mem_size && !o->incoming) {
        fprintf(stderr, "uvfio-migrate: live migration needs "
                "--guest-memory SIZE\n");
        return -EINVAL;
    }
    if (c->device_only) {
        fprintf(stderr, "uvfio-migrate: --threshold, --chunk and --max-xfer "
                "are for device-only migration\n");
        return -EINVAL;
    }
    if (o->dev_dma_window && !o->dev_dma_rate) {
        fprintf(stderr, "uvfio-migrate: --device-dma-window without "
                "--device-dma-rate\n");
        return -EINVAL;
    }
    o->timeout_ms = c->timeout_ms ? c->timeout_ms : 30000;
    if (c->max_rounds)
        o->max_rounds = c->max_rounds;
    o->no_device_precopy = c->no_precopy;
    return finish_ends(l, args, nargs);
}

int live_cli_run(struct live_cli *l, bool json, bool quiet, bool progress,
                 volatile sig_atomic_t *cancel)
{
    enum live_role role = l->o.to ? LIVE_ROLE_SOURCE :
                          l->o.incoming ? LIVE_ROLE_DEST : LIVE_ROLE_BOTH;
    struct progress_bar bar;
    struct live_result r;
    int ret, status;

    l->o.cancel = cancel;
    progress_init(&bar, stderr);
    if (!quiet && role != LIVE_ROLE_DEST &&
        (progress || isatty(STDERR_FILENO))) {
        l->o.progress = progress_update;
        l->o.opaque = &bar;
    }
    if (role == LIVE_ROLE_SOURCE)
        ret = live_run_source(&l->o, &r);
    else if (role == LIVE_ROLE_DEST)
        ret = live_run_dest(&l->o, &r);
    else
        ret = live_run(&l->o, &r);
    progress_finish(&bar);
    status = live_exit_status(ret, &r, role);
    if (ret)
        live_report_error(stderr, &r, role);
    if (json) {
        if (live_report_json(stdout, &l->o, &r, role, status))
            fprintf(stderr, "uvfio-migrate: out of memory for the JSON\n");
    } else if (!ret && !quiet) {
        live_report_text(stdout, &l->o, &r, role);
    }
    live_result_free(&r);
    return status;
}
