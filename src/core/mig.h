/* SPDX-License-Identifier: MIT */
/*
 * core/mig.h - migration state shared by core/migration.c (state machine,
 * lifecycle), core/mig_stream.c (data streams, precopy info) and
 * core/feature.c (DEVICE_FEATURE dispatch).  Nothing outside these files
 * looks inside.
 */
#ifndef UVFIO_CORE_MIG_H
#define UVFIO_CORE_MIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvfio/migration.h>

#include "core.h"

enum uvfio_mig_stream_kind {
    UVFIO_MIG_NO_STREAM,
    UVFIO_MIG_SAVING,
    UVFIO_MIG_RESUMING,
};

/*
 * The data stream the last opening arc created.  It outlives its end the
 * way a kernel data fd outlives its termination: reads and writes of an
 * ended stream fail -ENODEV until an arc opens the next one.
 */
struct uvfio_mig_stream {
    enum uvfio_mig_stream_kind kind;
    bool ended;                 /* by an arc, reset, detach, ERROR */
    bool broken;                /* the driver failed a read or write */
    bool eof;                   /* STOP_COPY reached its end */
    bool precopy_seen;          /* min_initial holds a reported value */
    uint64_t min_initial;       /* smallest initial_bytes reported */
    uint64_t bytes;             /* moved so far */
};

/* Work a reset or a detach left for whoever holds the state lock. */
#define UVFIO_MIG_PENDING_RESET     (1u << 0)
#define UVFIO_MIG_PENDING_DETACH    (1u << 1)

struct uvfio_mig {
    struct uvfio_device *dev;
    const struct uvfio_migration_ops *ops;
    uint64_t flags;             /* UVFIO_MIGRATION_* */

    /* Serialises state changes and stream I/O, as the kernel drivers'
     * state mutex does.  Resets and detaches never wait for it: they post
     * their work under pending_lock and the holder runs it on unlock
     * (algorithms §5.4), so a driver callback may reset its own device. */
    pthread_mutex_t lock;
    pthread_mutex_t pending_lock;
    unsigned int pending;

    /* enum uvfio_mig_state.  Changed only with the lock held, but stored
     * atomically so that uvfio_mig_state() can read it without the lock
     * (drivers ask from inside their callbacks). */
    uint32_t state;
    bool in_arc;                /* ops->arc is running */
    bool arc_broke;             /* ... and called uvfio_mig_set_error */
    struct uvfio_mig_stream stream;
};

static inline void uvfio_mig_store_state(struct uvfio_mig *m, uint32_t s)
{
    __atomic_store_n(&m->state, s, __ATOMIC_RELAXED);
}

/* The device's migration state, NULL for a device without migration. */
struct uvfio_mig *uvfio_mig_get(const struct uvfio_device *dev);

void uvfio_mig_lock(struct uvfio_mig *m);
/* Runs pending resets/detaches before letting go. */
void uvfio_mig_unlock(struct uvfio_mig *m);

/* MIG_DEVICE_STATE SET: the whole walk to `target`, one arc at a time. */
int uvfio_mig_set_state(struct uvfio_mig *m, uint32_t target);

/* Stream lifecycle (core/mig_stream.c), with the lock held. */
void uvfio_mig_stream_open(struct uvfio_mig *m, enum uvfio_mig_stream_kind k);
void uvfio_mig_stream_end(struct uvfio_mig *m);
/* Whether the resuming stream got every byte the client sent (no driver
 * refusal, no detach): otherwise RESUMING->STOP must not be tried. */
bool uvfio_mig_stream_resume_whole(const struct uvfio_mig *m);

/* Feature bodies; the lock is taken inside. */
int uvfio_mig_feature_data_size(struct uvfio_mig *m, uint64_t *len);
int uvfio_mig_feature_precopy_info(struct uvfio_mig *m,
                                   struct uvfio_mig_precopy_info *info);

#endif /* UVFIO_CORE_MIG_H */
