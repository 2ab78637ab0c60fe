/* SPDX-License-Identifier: MIT */
/*
 * migrate/live.h - live migration of a device together with its guest's
 * memory: uvfio-migrate --guest-memory.  The tool plays the VMM on both
 * sides: each side owns a guest memory (a memfd DMA-mapped to its device);
 * the source side runs a synthetic guest that writes it and may program
 * the device to write it too; the migration copies memory and device state
 * while both keep writing, and verifies the result.
 *
 * An end is either side of the stream (records.h):
 *
 *   live_run()         both ends in this process, the stream over a
 *                      socketpair (SOURCE DEST);
 *   live_run_source()  the source end, streaming to --to tcp:HOST:PORT;
 *   live_run_dest()    the destination end, --incoming tcp:ADDR:PORT.
 *
 * Source, per round: find the pages written since the previous round -
 * the guest's through userfaultfd write-protection (wptrack.h), the
 * device's through DMA_LOGGING_REPORT - re-protecting/clearing them before
 * they are copied, and send them with the device's precopy data.  Once the
 * pages left and the device's stop-copy size fit the downtime budget at
 * the bandwidth measured so far (or at the round limit), pause the guest,
 * stop the device (through P2P), send the last dirty pages and the
 * device's final data.  The destination loads the device, checks memory
 * hashes and a fresh STOP_COPY image of its device against the source's,
 * and runs the device only if both match.
 */
#ifndef UVFIO_TOOLS_MIGRATE_LIVE_H
#define UVFIO_TOOLS_MIGRATE_LIVE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "migrate.h"
#include "records.h"
#include "wptrack.h"

#define LIVE_DEFAULT_DOWNTIME_MS        300u
#define LIVE_DEFAULT_MAX_ROUNDS         30u
#define LIVE_MAX_FINAL_IMAGE            (256ull << 20)

struct live_opts {
    const char *src_path;       /* the source device's socket */
    const char *dst_path;       /* the destination device's socket */
    const char *to;             /* source end only: tcp:HOST:PORT */
    const char *incoming;       /* destination end only: tcp:ADDR:PORT */
    uint64_t mem_size;          /* guest memory; on the destination end 0
                                   takes the source's, else must match */
    uint64_t write_rate;        /* the guest's writes, bytes/s */
    uint64_t dev_dma_rate;      /* uvfio-edu copy queue, bytes/s; 0: off */
    uint64_t dev_dma_window;    /* its window at the top of memory; 0: a
                                   quarter of the memory */
    uint32_t downtime_ms;       /* budget */
    unsigned int max_rounds;    /* precopy rounds at most */
    uint32_t timeout_ms;        /* any one wait: device, stream */
    uint64_t seed;              /* the guest's writes */
    enum wptrack_mode tracker;
    bool no_device_precopy;     /* device state at the stop only, even if
                                   the device has PRE_COPY */
    int64_t corrupt_page;       /* testing the verifier: flip a byte of
                                   this page at the destination; -1: no */
    volatile sig_atomic_t *cancel;
    void (*progress)(void *opaque, const struct mig_progress *p);
    void *opaque;
    /* Optional: an end's guest memory once it is final - the source's with
     * the guest paused and the device stopped, the destination's once
     * loaded, before it is compared - for checking a migration
     * independently of its own verification (tests).  Called on the end's
     * thread. */
    void (*inspect)(void *opaque, bool source, const uint8_t *mem,
                    uint64_t size);
    void *inspect_opaque;
};

struct live_round {
    uint64_t pages;             /* pages sent */
    uint64_t guest_pages;       /* found by the write tracker */
    uint64_t device_pages;      /* found by DMA logging */
    uint64_t dev_bytes;         /* device precopy data */
    uint64_t ns;
};

struct live_result {
    int err;                    /* 0, or the -errno of what failed */
    char step[256];             /* what failed, in words */
    enum mig_recovery recovery; /* where the source was left */
    bool dst_failed;            /* the destination end gave up (its words
                                   are in step) */
    bool src_stop_failed;       /* migrated, but the source is not in STOP */

    const char *tracker;        /* the write tracker used */
    uint64_t mem_size;
    uint64_t src_flags, dst_flags;
    bool precopy, p2p, device_dma;
    uint64_t log_page_size;     /* the device's logging granularity */

    unsigned int rounds;        /* precopy rounds, round 0 included */
    struct live_round *round;
    bool converged;             /* stopped under the budget */
    double bandwidth;           /* bytes/s measured, at the stop */
    double estimate_ms;         /* downtime predicted at the stop */

    uint64_t final_pages;       /* pages sent while stopped */
    uint64_t final_guest_pages, final_device_pages;
    uint64_t final_dev_bytes;   /* the device's stop-copy data */
    uint64_t bytes_sent;        /* stream bytes, all of it */
    uint64_t guest_writes;      /* pages the guest wrote meanwhile */
    uint64_t device_dma_bytes;  /* bytes the device wrote (its counter) */

    double downtime_ms;         /* guest paused .. destination could run */
    struct {                    /* where the downtime went */
        double stop_ms;         /* pausing the guest, stopping the device */
        double collect_ms;      /* the last dirty sets */
        double send_ms;         /* the last pages and device data */
        double load_ms;         /* until the destination loaded */
        double run_ms;          /* destination STOP -> RUNNING */
    } dt;
    double verify_ms;           /* destination held for the comparison */
    double setup_ms;            /* connecting, memory, starting the guest */
    double migrate_ms;          /* HELLO .. RESULT: the migration itself */
    double total_ms;

    bool verified;              /* memory and device state equal */
    struct lm_result dst;       /* the destination's RESULT */
    uint64_t src_digest;        /* the source memory's hash */
};

int live_run(const struct live_opts *o, struct live_result *r);
int live_run_source(const struct live_opts *o, struct live_result *r);
int live_run_dest(const struct live_opts *o, struct live_result *r);
void live_result_free(struct live_result *r);

/* The ends over an already connected stream socket (live.c makes them;
 * tests may too).  The fd is the end's from then on. */
int live_source_fd(const struct live_opts *o, int fd, struct live_result *r);
int live_dest_fd(const struct live_opts *o, int fd, struct live_result *r);

#endif /* UVFIO_TOOLS_MIGRATE_LIVE_H */
