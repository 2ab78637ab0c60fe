/* SPDX-License-Identifier: MIT */
/*
 * migrate/live_cli.h - uvfio-migrate's command line for live migration
 * with guest memory (--guest-memory, --to, --incoming and their options),
 * and running it.  main.c hands over the options it does not know.
 */
#ifndef UVFIO_TOOLS_MIGRATE_LIVE_CLI_H
#define UVFIO_TOOLS_MIGRATE_LIVE_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "live.h"

/* getopt codes of the live options (above any character). */
enum {
    LIVE_OPT_GUEST_MEMORY = 0x100,
    LIVE_OPT_WRITE_RATE,
    LIVE_OPT_DEVICE_DMA_RATE,
    LIVE_OPT_DEVICE_DMA_WINDOW,
    LIVE_OPT_DOWNTIME,
    LIVE_OPT_TO,
    LIVE_OPT_INCOMING,
    LIVE_OPT_SEED,
    LIVE_OPT_TRACKER,
    LIVE_OPT_CORRUPT,
};

/* For main.c's table of long options. */
#define LIVE_LONG_OPTIONS \
    { "guest-memory", required_argument, NULL, LIVE_OPT_GUEST_MEMORY }, \
    { "guest-write-rate", required_argument, NULL, LIVE_OPT_WRITE_RATE }, \
    { "device-dma-rate", required_argument, NULL, LIVE_OPT_DEVICE_DMA_RATE }, \
    { "device-dma-window", required_argument, NULL, \
      LIVE_OPT_DEVICE_DMA_WINDOW }, \
    { "downtime-ms", required_argument, NULL, LIVE_OPT_DOWNTIME }, \
    { "to", required_argument, NULL, LIVE_OPT_TO }, \
    { "incoming", required_argument, NULL, LIVE_OPT_INCOMING }, \
    { "seed", required_argument, NULL, LIVE_OPT_SEED }, \
    { "write-tracker", required_argument, NULL, LIVE_OPT_TRACKER }, \
    { "corrupt-dest-page", required_argument, NULL, LIVE_OPT_CORRUPT }

struct live_cli {
    struct live_opts o;
    bool on;                    /* any live option given */
};

void live_cli_init(struct live_cli *l);
/* 1 when `opt` is not a live option, 0 when taken, -EINVAL when bad. */
int live_cli_opt(struct live_cli *l, int opt, const char *arg);
void live_cli_usage(FILE *f);

/* What main.c parsed that applies here too */
struct live_cli_common {
    uint32_t timeout_ms;        /* 0: not given */
    unsigned int max_rounds;    /* 0: not given */
    bool no_precopy;            /* device state at the stop only */
    bool device_only;           /* options of device-only migration seen */
};

/* The positional arguments: -EINVAL (with a message) for a combination
 * that makes no sense. */
int live_cli_finish(struct live_cli *l, const struct live_cli_common *c,
                    char **args, int nargs);
/* Run, print, and return the exit status. */
int live_cli_run(struct live_cli *l, bool json, bool quiet, bool progress,
                 volatile sig_atomic_t *cancel);

#endif /* UVFIO_TOOLS_MIGRATE_LIVE_CLI_H */
