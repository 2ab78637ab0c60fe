/* SPDX-License-Identifier: MIT */
/*
 * core/migration.c - a device's migration v2 state: the driver's
 * declaration, the walk from state to state along the kernel's route, and
 * the device-life hooks (reset, detach) that end streams.
 *
 * The driver implements primitive arcs only.  uvfio_mig_set_state() asks
 * core/mig_fsm.c for the next arc, runs it, records the new state and lets
 * core/mig_stream.c open, continue or end the data stream as that arc
 * requires - one arc at a time, stopping at the first failure, so the
 * driver sees exactly the sequence a kernel variant driver would see and a
 * failed request leaves the device at the last good state (or ERROR).
 */
#include <errno.h>
#include <stdlib.h>

#include <uvfio/migration.h>

#include "internal.h"
#include "mig.h"
#include "mig_core.h"
#include "mig_fsm.h"
#include "util/log.h"

#define MIG_KNOWN_FLAGS (UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P | \
                         UVFIO_MIGRATION_PRE_COPY)

/* No route is longer than 4 arcs (RESUMING -> PRE_COPY on a device with
 * everything); a longer walk means the tables are broken, and must end
 * rather than spin with the lock held. */
#define MIG_MAX_ARCS    8

struct uvfio_mig *uvfio_mig_get(const struct uvfio_device *dev)
{
    return uvfio_device_mig(dev);
}

static int mig_check_driver(const struct uvfio_device_config *cfg)
{
    const struct uvfio_migration_ops *ops = cfg->mig_ops;
    uint64_t flags = cfg->migration_flags;

    if (!(flags & UVFIO_MIGRATION_STOP_COPY) || (flags & ~MIG_KNOWN_FLAGS)) {
        uvfio_warn("%s: migration flags %#llx: STOP_COPY is required, "
                   "only P2P and PRE_COPY may be added", cfg->name,
                   (unsigned long long)flags);
        return -EINVAL;
    }
    if (!ops->arc || !ops->save_read || !ops->resume_write ||
        !ops->get_data_size) {
        uvfio_warn("%s: migration ops need arc, save_read, resume_write "
                   "and get_data_size", cfg->name);
        return -EINVAL;
    }
    if ((flags & UVFIO_MIGRATION_PRE_COPY) && !ops->precopy_info) {
        uvfio_warn("%s: PRE_COPY needs precopy_info", cfg->name);
        return -EINVAL;
    }
    return 0;
}

int uvfio_mig_init(struct uvfio_device *dev)
{
    const struct uvfio_device_config *cfg = uvfio_device_cfg(dev);
    struct uvfio_mig *m;
    int ret;

    if (!cfg->mig_ops) {
        if (cfg->migration_flags) {
            uvfio_warn("%s: migration flags without migration ops",
                       cfg->name);
            return -EINVAL;
        }
        return 0;
    }
    ret = mig_check_driver(cfg);
    if (ret)
        return ret;

    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->dev = dev;
    m->ops = cfg->mig_ops;
    m->flags = cfg->migration_flags;
    uvfio_mig_store_state(m, UVFIO_MIG_STATE_RUNNING);
    if (pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return -ENOMEM;
    }
    if (pthread_mutex_init(&m->pending_lock, NULL)) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return -ENOMEM;
    }
    uvfio_device_set_mig(dev, m);
    return 0;
}

/* An open stream ends without an arc: the driver drops what it holds. */
static void mig_abort_stream(struct uvfio_mig *m)
{
    if (m->stream.kind == UVFIO_MIG_NO_STREAM || m->stream.ended)
        return;
    uvfio_mig_stream_end(m);
    if (m->ops->stream_abort)
        m->ops->stream_abort(m->dev);
}

void uvfio_mig_destroy(struct uvfio_device *dev)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);

    if (!m)
        return;
    mig_abort_stream(m);
    uvfio_device_set_mig(dev, NULL);
    pthread_mutex_destroy(&m->pending_lock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void mig_do_reset(struct uvfio_mig *m)
{
    mig_abort_stream(m);
    uvfio_mig_store_state(m, UVFIO_MIG_STATE_RUNNING);
    if (m->ops->reset)
        m->ops->reset(m->dev);
}

static void mig_run_pending(struct uvfio_mig *m, unsigned int pending)
{
    if (pending & UVFIO_MIG_PENDING_DETACH)
        mig_abort_stream(m);
    if (pending & UVFIO_MIG_PENDING_RESET)
        mig_do_reset(m);
}

void uvfio_mig_lock(struct uvfio_mig *m)
{
    pthread_mutex_lock(&m->lock);
}

void uvfio_mig_unlock(struct uvfio_mig *m)
{
    unsigned int pending;

    for (;;) {
        pthread_mutex_lock(&m->pending_lock);
        pending = m->pending;
        m->pending = 0;
        if (!pending)
            break;
        pthread_mutex_unlock(&m->pending_lock);
        mig_run_pending(m, pending);
    }
    /* Let go of the state lock before pending_lock: work posted from now
     * on finds the state lock free and runs itself. */
    pthread_mutex_unlock(&m->lock);
    pthread_mutex_unlock(&m->pending_lock);
}

/* Run `what` now if nobody holds the state lock, else leave it to the
 * holder - who may be this very thread, inside a driver callback. */
static void mig_post(struct uvfio_mig *m, unsigned int what)
{
    pthread_mutex_lock(&m->pending_lock);
    m->pending |= what;
    if (pthread_mutex_trylock(&m->lock)) {
        pthread_mutex_unlock(&m->pending_lock);
        return;
    }
    pthread_mutex_unlock(&m->pending_lock);
    uvfio_mig_unlock(m);
}

void uvfio_mig_on_reset(struct uvfio_device *dev)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);

    if (m)
        mig_post(m, UVFIO_MIG_PENDING_RESET);
}

void uvfio_mig_on_detach(struct uvfio_device *dev)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);

    if (m)
        mig_post(m, UVFIO_MIG_PENDING_DETACH);
}

/* After a successful arc: what it does to the stream. */
static void mig_arc_stream(struct uvfio_mig *m, uint32_t from, uint32_t to)
{
    switch (uvfio_mig_arc_effect(from, to)) {
    case UVFIO_MIG_STREAM_OPEN_SAVE:
        uvfio_mig_stream_open(m, UVFIO_MIG_SAVING);
        break;
    case UVFIO_MIG_STREAM_OPEN_RESUME:
        uvfio_mig_stream_open(m, UVFIO_MIG_RESUMING);
        break;
    case UVFIO_MIG_STREAM_END:
        uvfio_mig_stream_end(m);
        break;
    case UVFIO_MIG_STREAM_CONTINUE:
    case UVFIO_MIG_STREAM_NONE:
        break;
    }
}

static int mig_arc(struct uvfio_mig *m, uint32_t to)
{
    uint32_t from = m->state;
    int ret;

    /* The driver refused part of this image, or the client went away in
     * the middle of it: loading what is there would apply a stream with a
     * hole in it.  Only a reset abandons a RESUMING session. */
    if (from == UVFIO_MIG_STATE_RESUMING &&
        !uvfio_mig_stream_resume_whole(m))
        return -EINVAL;

    m->arc_broke = false;
    __atomic_store_n(&m->in_arc, true, __ATOMIC_RELAXED);
    ret = m->ops->arc(m->dev, from, to);
    __atomic_store_n(&m->in_arc, false, __ATOMIC_RELAXED);

    if (ret > 0) {
        uvfio_warn("migration arc %s->%s returned %d: not 0 or -errno",
                   uvfio_mig_state_name(from), uvfio_mig_state_name(to), ret);
        ret = -EIO;
    }
    if (m->arc_broke) {
        uvfio_mig_stream_end(m);
        uvfio_mig_store_state(m, UVFIO_MIG_STATE_ERROR);
        return ret ? ret : -EIO;
    }
    if (ret)
        return ret;
    uvfio_mig_store_state(m, to);
    mig_arc_stream(m, from, to);
    return 0;
}

int uvfio_mig_set_state(struct uvfio_mig *m, uint32_t target)
{
    int steps, next, ret;

    if (!uvfio_mig_state_supported(target, m->flags))
        return -EINVAL;
    for (steps = 0; m->state != target; steps++) {
        if (steps == MIG_MAX_ARCS) {
            uvfio_error("migration walk to %s did not end",
                        uvfio_mig_state_name(target));
            return -EINVAL;
        }
        next = uvfio_mig_next_state(m->state, target, m->flags);
        if (next < 0)
            return next;
        ret = mig_arc(m, (uint32_t)next);
        if (ret)
            return ret;
    }
    return 0;
}

void uvfio_mig_set_error(struct uvfio_device *dev)
{
    struct uvfio_mig *m = dev ? uvfio_mig_get(dev) : NULL;

    if (!m || !__atomic_load_n(&m->in_arc, __ATOMIC_RELAXED)) {
        uvfio_warn("uvfio_mig_set_error outside a migration arc: ignored");
        return;
    }
    m->arc_broke = true;
}

enum uvfio_mig_state uvfio_mig_state(struct uvfio_device *dev)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);

    if (!m)
        return UVFIO_MIG_STATE_ERROR;
    /* Lock-free so a driver may ask from inside its own callbacks. */
    return (enum uvfio_mig_state)__atomic_load_n(&m->state, __ATOMIC_RELAXED);
}
