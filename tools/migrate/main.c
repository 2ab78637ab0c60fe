// SPDX-License-Identifier: MIT
/*
 * uvfio-migrate - live-migrate a running vfio-user device from one server
 * to another.  See docs/uvfio-migrate.md.
 *
 * The VMM's part of a migration without the VM: it drives both devices'
 * migration state machines and copies the data stream between them, using
 * only the client library.  Each server takes one client at a time, so
 * whoever else drives a device lets go of it before this runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_cli.h"
#include "migrate.h"
#include "progress.h"
#include "recover.h"
#include "report.h"

#define DEFAULT_THRESHOLD       (64u << 10)
#define DEFAULT_MAX_ITERATIONS  16u
#define MAX_XFER_LIMIT          (64ull << 20)

struct cli {
    struct mig_opts mig;
    bool json;
    bool quiet;
    bool progress;
    struct live_cli live;       /* --guest-memory and friends */
    bool device_only_opts;      /* --threshold, --chunk, --max-xfer */
    bool iterations_set;
};

static volatile sig_atomic_t cancel_requested;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvfio-migrate [options] SOURCE DEST\n"
        "       uvfio-migrate --state|--recover|--discard SOCKET [--json]\n"
        "\n"
        "Moves the running device served on the vfio-user socket SOURCE to\n"
        "the idle device of the same kind served on DEST: precopy while it\n"
        "runs (when both support PRE_COPY), then stop-copy, then RUNNING at\n"
        "DEST.  On failure SOURCE is put back to RUNNING.\n"
        "\n"
        "  --json             print one JSON object instead of the summary\n"
        "  --threshold BYTES  leave precopy once less than this is left\n"
        "                     [64K]; 0 runs every allowed pass\n"
        "  --max-iterations N precopy passes at most [16]\n"
        "  --chunk BYTES      bytes per MIG_DATA_READ [the negotiated\n"
        "                     max_data_xfer_size]\n"
        "  --max-xfer BYTES   max_data_xfer_size to ask for, up to 64M [1M]\n"
        "  --timeout MS       per request [30000]\n"
        "  --no-precopy       stop-copy only\n"
        "  --progress         draw the progress bar even when stderr is not\n"
        "                     a terminal\n"
        "  -q, --quiet        no summary, no progress bar (errors still)\n"
        "  -h, --help         this text\n"
        "\n"
        "BYTES take a K, M or G suffix (powers of 1024).\n"
        "\n"
        "Exit status: 0 migrated; 1 failed, SOURCE runs with its state; 2 bad\n"
        "usage; 3 failed and SOURCE lost its state (reset) or is unreachable;\n"
        "4 migrated but SOURCE did not go to STOP.\n");
    live_cli_usage(f);
}

/* "4096", "64K", "1M", "64MiB": a byte count with a binary suffix. */
static int parse_size(const char *s, uint64_t *out)
{
    unsigned int shift = 0;
    unsigned long long v;
    char *end;

    errno = 0;
    if (*s == '-')
        return -EINVAL;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
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

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
    uint64_t v;

    if (parse_size(s, &v) || v > max)
        return -EINVAL;
    *out = (unsigned int)v;
    return 0;
}

static int bad_value(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "uvfio-migrate: %s '%s': %s\n", opt, val, why);
    return -EINVAL;
}

static int parse_opt(struct cli *c, int opt, const char *arg)
{
    struct mig_opts *m = &c->mig;
    unsigned int u;

    if (opt == 't' || opt == 'c' || opt == 'x')
        c->device_only_opts = true;
    c->iterations_set |= opt == 'i';
    switch (opt) {
    case 'j': c->json = true; return 0;
    case 'q': c->quiet = true; return 0;
    case 'p': c->progress = true; return 0;
    case 'n': m->no_precopy = true; return 0;
    case 't':
        return parse_size(arg, &m->threshold) ?
               bad_value("--threshold", arg, "not a byte count") : 0;
    case 'i':
        if (parse_uint(arg, 1000000, &m->max_iterations) ||
            !m->max_iterations)
            return bad_value("--max-iterations", arg, "want 1..1000000");
        return 0;
    case 'c':
        if (parse_size(arg, &m->chunk) || !m->chunk ||
            m->chunk > MAX_XFER_LIMIT)
            return bad_value("--chunk", arg, "want 1 byte .. 64M");
        return 0;
    case 'x':
        if (parse_size(arg, &m->max_xfer) || m->max_xfer < 4096 ||
            m->max_xfer > MAX_XFER_LIMIT)
            return bad_value("--max-xfer", arg, "want 4K .. 64M");
        return 0;
    case 'T':
        if (parse_uint(arg, 3600000, &u) || !u)
            return bad_value("--timeout", arg, "want 1..3600000 ms");
        m->timeout_ms = u;
        return 0;
    case 'h':
        usage(stdout);
        exit(EXIT_SUCCESS);
    default:
        return live_cli_opt(&c->live, opt, arg) ? -EINVAL : 0;
    }
}

static int parse_args(int argc, char **argv, struct cli *c)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "threshold", required_argument, NULL, 't' },
        { "max-iterations", required_argument, NULL, 'i' },
        { "chunk", required_argument, NULL, 'c' },
        { "max-xfer", required_argument, NULL, 'x' },
        { "timeout", required_argument, NULL, 'T' },
        { "no-precopy", no_argument, NULL, 'n' },
        { "progress", no_argument, NULL, 'p' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        LIVE_LONG_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    int opt;

    memset(c, 0, sizeof(*c));
    c->mig.threshold = DEFAULT_THRESHOLD;
    c->mig.max_iterations = DEFAULT_MAX_ITERATIONS;
    live_cli_init(&c->live);
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1)
        if (parse_opt(c, opt, optarg))
            return -EINVAL;
    if (c->live.on) {
        struct live_cli_common lc = {
            .timeout_ms = c->mig.timeout_ms,
            .max_rounds = c->iterations_set ? c->mig.max_iterations : 0,
            .no_precopy = c->mig.no_precopy,
            .device_only = c->device_only_opts,
        };

        return live_cli_finish(&c->live, &lc, argv + optind, argc - optind);
    }
    if (argc - optind != 2) {
        fprintf(stderr, "uvfio-migrate: give SOURCE and DEST sockets\n");
        return -EINVAL;
    }
    c->mig.src_path = argv[optind];
    c->mig.dst_path = argv[optind + 1];
    if (!strcmp(c->mig.src_path, c->mig.dst_path)) {
        fprintf(stderr, "uvfio-migrate: SOURCE and DEST are the same "
                "socket\n");
        return -EINVAL;
    }
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    cancel_requested = 1;
}

/* SIGINT/SIGTERM abandon the migration (the source is put back to
 * RUNNING) instead of killing us with both devices half-way. */
static void install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal };

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct progress_bar bar;
    struct mig_result r;
    struct cli c;
    int ret, status;

    /* one device after a migration that did not finish: recover.c */
    status = recover_main(argc, argv);
    if (status >= 0)
        return status;
    if (parse_args(argc, argv, &c)) {
        fprintf(stderr, "Try 'uvfio-migrate --help'.\n");
        return EXIT_USAGE;
    }
    install_signals();
    /* the library's own warnings would interleave with our report */
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    if (c.live.on)
        return live_cli_run(&c.live, c.json, c.quiet, c.progress,
                            &cancel_requested);
    c.mig.cancel = &cancel_requested;
    progress_init(&bar, stderr);
    if (!c.quiet && (c.progress || isatty(STDERR_FILENO))) {
        c.mig.progress = progress_update;
        c.mig.opaque = &bar;
    }

    ret = mig_run(&c.mig, &r);
    progress_finish(&bar);
    status = report_exit_status(ret, &r);
    if (ret)
        report_error(stderr, &r);
    if (c.json) {
        if (report_json(stdout, &c.mig, &r, status))
            fprintf(stderr, "uvfio-migrate: out of memory for the JSON\n");
    } else if (!ret && !c.quiet) {
        report_text(stdout, &c.mig, &r);
    }
    if (!ret && r.src_stop_failed)
        fprintf(stderr, "uvfio-migrate: migrated, but the source did not go "
                "to STOP: stop or reset it before using it\n");
    mig_result_free(&r);
    return status;
}
