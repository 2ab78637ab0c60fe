/* SPDX-License-Identifier: MIT */
/*
 * migrate/migrate.h - one live migration of a vfio-user device from one
 * server to another, driven over two client connections: the engine of
 * uvfio-migrate, with no output of its own (report.c prints, progress.c
 * draws).
 */
#ifndef UVFIO_TOOLS_MIGRATE_H
#define UVFIO_TOOLS_MIGRATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

enum mig_phase {
    MIG_PHASE_SETUP,
    MIG_PHASE_PRECOPY,
    MIG_PHASE_STOPCOPY,
    MIG_PHASE_RESUME,
    MIG_PHASE_DONE,
};

/* What the progress callback is shown. */
struct mig_progress {
    enum mig_phase phase;
    unsigned int iteration;     /* precopy pass, from 1 */
    uint64_t bytes;             /* moved so far, both phases */
    uint64_t total;             /* bytes + the devices' estimate of the rest */
};

struct mig_opts {
    const char *src_path;
    const char *dst_path;
    uint64_t threshold;         /* leave precopy below this many bytes */
    unsigned int max_iterations;/* precopy passes at most */
    uint64_t chunk;             /* MIG_DATA_READ size; 0: the negotiated max */
    uint64_t max_xfer;          /* max_data_xfer_size to ask for; 0: default */
    uint32_t timeout_ms;        /* per request; 0: the library's */
    bool no_precopy;
    /* checked between requests: set (by a signal) to abandon */
    volatile sig_atomic_t *cancel;
    void (*progress)(void *opaque, const struct mig_progress *p);
    void *opaque;
};

/* Where the source was left after a failure. */
enum mig_recovery {
    MIG_SOURCE_UNTOUCHED,       /* failed before the source was changed */
    MIG_SOURCE_RUNNING,         /* put back to RUNNING, state intact */
    MIG_SOURCE_RESET,           /* RUNNING only through a reset: state lost */
    MIG_SOURCE_UNKNOWN,         /* could not even be reset */
};

struct mig_result {
    int err;                    /* 0 or the -errno of the failed step */
    char step[160];             /* what failed, in words */
    enum mig_recovery recovery;
    int recovery_err;           /* why the source could not be put back
                                   (or, untouched, did not answer) */
    bool dst_reset;             /* the destination was reset (discarded) */
    bool dst_reset_failed;      /* ... or could not be */
    bool src_stop_failed;       /* migrated, but the source is not in STOP */

    uint64_t src_flags, dst_flags;
    uint64_t max_xfer;          /* negotiated, the smaller of both sides */
    uint64_t chunk;             /* used */
    bool precopy;               /* PRE_COPY was used */
    bool p2p;                   /* the source was quiesced through P2P */
    bool precopy_info;          /* the source granted the extension */
    bool converged;             /* precopy ended under the threshold */

    uint64_t bytes_precopy;
    uint64_t bytes_stopcopy;
    uint64_t stopcopy_estimate; /* MIG_DATA_SIZE before the stop */
    unsigned int iterations;
    uint64_t *iteration_bytes;  /* [iterations] */
    double downtime_ms;         /* source stops running .. destination runs */
    double total_ms;
};

/* Run it.  Returns 0 when the device now runs at the destination; else
 * -errno, with r->step, r->recovery telling what happened. */
int mig_run(const struct mig_opts *o, struct mig_result *r);
void mig_result_free(struct mig_result *r);

const char *mig_state_name(enum uvfio_mig_state s);
/* The connection failed (the server died, the socket was cut, no
 * answer), rather than the device refusing. */
bool mig_link_lost(int err);

#endif /* UVFIO_TOOLS_MIGRATE_H */
