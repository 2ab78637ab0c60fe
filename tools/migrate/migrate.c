// SPDX-License-Identifier: MIT
/*
 * migrate/migrate.c - move a running device from one vfio-user server to
 * another (migration v2 over two client connections).
 *
 *   destination  RUNNING -> RESUMING
 *   source       RUNNING -> PRE_COPY, passes of "read what is there, write
 *                it to the destination" until the precopy remainder is
 *                under the threshold (or the pass limit);
 *                -> PRE_COPY_P2P -> STOP_COPY   (downtime starts here)
 *                read to the end of the stream, write it to the destination
 *   destination  -> STOP (the image is validated) -> RUNNING (downtime ends)
 *   source       -> STOP (ends the stream; the device lives elsewhere now)
 *
 * Without PRE_COPY (or with --no-precopy) the source goes straight to
 * STOP_COPY, through RUNNING_P2P when it has P2P.
 *
 * Until the destination runs, the source is the device: any failure puts
 * the source back to RUNNING (from PRE_COPY* or STOP_COPY the kernel's
 * route does that without losing state), or resets it when even that
 * fails, and resets the destination, whose half-loaded state is worthless.
 * The first failure is what gets reported; recovery errors are added.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate.h"

#define PRECOPY_IDLE_NS  10000000ull    /* wait after a pass that moved 0 */

struct mig {
    const struct mig_opts *o;
    struct mig_result *r;
    struct uvfio_client *src, *dst;
    uint8_t *buf;
    bool src_touched;           /* the source left RUNNING */
    bool dst_touched;           /* the destination left its first state */
    uint64_t t_start, t_stop;
    struct mig_progress prog;
    uint64_t stopcopy_total;    /* progress: bytes expected in STOP_COPY */
};

static const char *const state_names[UVFIO_MIG_STATE_COUNT] = {
    [UVFIO_MIG_STATE_ERROR] = "ERROR",
    [UVFIO_MIG_STATE_STOP] = "STOP",
    [UVFIO_MIG_STATE_RUNNING] = "RUNNING",
    [UVFIO_MIG_STATE_STOP_COPY] = "STOP_COPY",
    [UVFIO_MIG_STATE_RESUMING] = "RESUMING",
    [UVFIO_MIG_STATE_RUNNING_P2P] = "RUNNING_P2P",
    [UVFIO_MIG_STATE_PRE_COPY] = "PRE_COPY",
    [UVFIO_MIG_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

const char *mig_state_name(enum uvfio_mig_state s)
{
    return (unsigned int)s < UVFIO_MIG_STATE_COUNT ? state_names[s] : "?";
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t)
{
    return (double)(now_ns() - t) / 1e6;
}

/* Record the first failure; later ones (during recovery) are the
 * caller's to mention. */
static int __attribute__((format(printf, 3, 4)))
fail(struct mig *m, int err, const char *fmt, ...)
{
    va_list ap;

    if (m->r->err)
        return err;
    m->r->err = err;
    va_start(ap, fmt);
    vsnprintf(m->r->step, sizeof(m->r->step), fmt, ap);
    va_end(ap);
    return err;
}

static int cancelled(struct mig *m)
{
    if (m->o->cancel && *m->o->cancel)
        return fail(m, -EINTR, "interrupted by a signal");
    return 0;
}

static void progress(struct mig *m, enum mig_phase phase, uint64_t total)
{
    m->prog.phase = phase;
    m->prog.bytes = m->r->bytes_precopy + m->r->bytes_stopcopy;
    m->prog.total = total > m->prog.bytes ? total : m->prog.bytes;
    if (m->o->progress)
        m->o->progress(m->o->opaque, &m->prog);
}

/* ---- setup --------------------------------------------------------------- */

static int connect_one(struct mig *m, const char *path, const char *who,
                       struct uvfio_client **c)
{
    struct uvfio_client_opts co = {
        .max_data_xfer_size = m->o->max_xfer,
        .precopy_info = true,
        .timeout_ms = m->o->timeout_ms,
    };
    int ret;

    ret = uvfio_client_connect(path, &co, c);
    /* a server with a client attached leaves the next one waiting */
    if (ret)
        return fail(m, ret, "connecting to the %s %s%s", who, path,
                    ret == -ETIMEDOUT ? " (no answer: is another client "
                    "attached?)" : "");
    return 0;
}

static int get_flags(struct mig *m, struct uvfio_client *c, const char *who,
                     uint64_t *flags)
{
    int ret = uvfio_client_mig_get_flags(c, flags);

    if (ret == -ENOTTY)
        return fail(m, -EOPNOTSUPP, "the %s cannot migrate (no migration "
                    "feature)", who);
    if (ret)
        return fail(m, ret, "asking the %s for its migration flags", who);
    if (!(*flags & UVFIO_MIGRATION_STOP_COPY))
        return fail(m, -EOPNOTSUPP, "the %s lacks STOP_COPY (flags %#llx)",
                    who, (unsigned long long)*flags);
    return 0;
}

/*
 * What must match: both save and load whole images (STOP_COPY).  A
 * precopy stream opens with records only a PRE_COPY-capable driver
 * expects, so PRE_COPY must be on both sides to be used.  P2P concerns
 * how each side quiesces, never the stream: it may differ.
 */
static int check_flags(struct mig *m)
{
    struct mig_result *r = m->r;
    uint64_t pre = UVFIO_MIGRATION_PRE_COPY;
    int ret;

    ret = get_flags(m, m->src, "source", &r->src_flags);
    if (!ret)
        ret = get_flags(m, m->dst, "destination", &r->dst_flags);
    if (ret)
        return ret;
    r->precopy = !m->o->no_precopy && (r->src_flags & pre);
    if (r->precopy && !(r->dst_flags & pre))
        return fail(m, -EOPNOTSUPP, "the source offers PRE_COPY but the "
                    "destination does not (flags %#llx vs %#llx): not the "
                    "same device; use --no-precopy to send a STOP_COPY "
                    "image only", (unsigned long long)r->src_flags,
                    (unsigned long long)r->dst_flags);
    r->p2p = r->src_flags & UVFIO_MIGRATION_P2P;
    return 0;
}

static int get_state(struct mig *m, struct uvfio_client *c, const char *who,
                     enum uvfio_mig_state *s)
{
    int ret = uvfio_client_mig_get_state(c, s);

    return ret ? fail(m, ret, "asking the %s for its state", who) : 0;
}

/* A source that is not RUNNING is in the middle of something else; a
 * destination must be idle (RUNNING or STOP) to be overwritten. */
static int check_states(struct mig *m)
{
    enum uvfio_mig_state s, d;
    int ret;

    ret = get_state(m, m->src, "source", &s);
    if (!ret)
        ret = get_state(m, m->dst, "destination", &d);
    if (ret)
        return ret;
    if (s != UVFIO_MIG_STATE_RUNNING)
        return fail(m, -EBUSY, "the source is in %s, not RUNNING",
                    mig_state_name(s));
    if (d != UVFIO_MIG_STATE_RUNNING && d != UVFIO_MIG_STATE_STOP)
        return fail(m, -EBUSY, "the destination is in %s (reset it first)",
                    mig_state_name(d));
    return 0;
}

static int setup_chunk(struct mig *m)
{
    uint64_t smax = uvfio_client_caps(m->src)->max_data_xfer_size;
    uint64_t dmax = uvfio_client_caps(m->dst)->max_data_xfer_size;
    uint64_t max = smax < dmax ? smax : dmax;

    m->r->max_xfer = max;
    m->r->chunk = m->o->chunk && m->o->chunk < max ? m->o->chunk : max;
    m->r->precopy_info = uvfio_client_caps(m->src)->precopy_info;
    m->buf = malloc(m->r->chunk);
    return m->buf ? 0 : fail(m, -ENOMEM, "allocating a %llu-byte buffer",
                             (unsigned long long)m->r->chunk);
}

static int set_state(struct mig *m, struct uvfio_client *c, const char *who,
                     enum uvfio_mig_state s)
{
    int ret = uvfio_client_mig_set_state(c, s);

    if (ret)
        return fail(m, ret, "moving the %s to %s", who, mig_state_name(s));
    return 0;
}

/* ---- moving the stream --------------------------------------------------- */

/*
 * Read what the source has now, chunk by chunk, and write each chunk to
 * the destination: until a short read (nothing more now in PRE_COPY, the
 * end in STOP_COPY).
 */
static int pump(struct mig *m, enum mig_phase phase, uint64_t *moved,
                uint64_t total)
{
    uint64_t *counter = phase == MIG_PHASE_PRECOPY ? &m->r->bytes_precopy :
                                                     &m->r->bytes_stopcopy;
    size_t chunk = (size_t)m->r->chunk;
    ssize_t n;
    int ret;

    *moved = 0;
    do {
        ret = cancelled(m);
        if (ret)
            return ret;
        n = uvfio_client_mig_read(m->src, m->buf, chunk);
        if (n < 0)
            return fail(m, (int)n, "reading the source's %s data",
                        phase == MIG_PHASE_PRECOPY ? "precopy" : "stop-copy");
        if (n > 0) {
            ret = uvfio_client_mig_write(m->dst, m->buf, (size_t)n);
            if (ret)
                return fail(m, ret, "writing to the destination at stream "
                            "byte %llu", (unsigned long long)
                            (m->r->bytes_precopy + m->r->bytes_stopcopy));
        }
        *moved += (uint64_t)n;
        *counter += (uint64_t)n;
        progress(m, phase, total);
    } while ((size_t)n == chunk);
    return 0;
}

static int record_iteration(struct mig *m, uint64_t moved)
{
    struct mig_result *r = m->r;
    uint64_t *a;

    a = realloc(r->iteration_bytes, (r->iterations + 1) * sizeof(*a));
    if (!a)
        return fail(m, -ENOMEM, "recording precopy pass %u",
                    r->iterations + 1);
    a[r->iterations++] = moved;
    r->iteration_bytes = a;
    return 0;
}

/*
 * What precopy still holds.  With the precopy_info extension the device
 * says (initial + dirty); without it, only an empty pass says "caught up",
 * so any pass that moved data counts as not yet under the threshold.
 */
static int precopy_left(struct mig *m, uint64_t moved, uint64_t *left,
                        bool *initial_done)
{
    struct uvfio_mig_precopy_info pi;
    int ret;

    if (!m->r->precopy_info) {
        *left = moved ? UINT64_MAX : 0;
        *initial_done = true;
        return 0;
    }
    ret = uvfio_client_mig_precopy_info(m->src, &pi);
    if (ret)
        return fail(m, ret, "asking the source for its precopy info");
    *initial_done = pi.initial_bytes == 0;
    *left = pi.initial_bytes + pi.dirty_bytes;
    return 0;
}

static uint64_t data_size(struct mig *m)
{
    uint64_t len = 0;

    /* an estimate for the progress display only: no answer is no harm */
    if (uvfio_client_mig_data_size(m->src, &len))
        len = 0;
    return len;
}

static void idle(void)
{
    struct timespec ts = { 0, PRECOPY_IDLE_NS };

    nanosleep(&ts, NULL);
}

static int precopy(struct mig *m)
{
    uint64_t moved, left = 0, total;
    bool initial_done = false;
    int ret;

    ret = set_state(m, m->src, "source", UVFIO_MIG_STATE_PRE_COPY);
    if (ret)
        return ret;
    m->src_touched = true;
    ret = precopy_left(m, 1, &left, &initial_done);
    while (!ret) {
        m->prog.iteration = m->r->iterations + 1;
        total = m->r->bytes_precopy + data_size(m) +
                (left == UINT64_MAX ? 0 : left);
        ret = pump(m, MIG_PHASE_PRECOPY, &moved, total);
        if (!ret)
            ret = record_iteration(m, moved);
        if (!ret)
            ret = precopy_left(m, moved, &left, &initial_done);
        if (ret)
            break;
        if (initial_done && left < m->o->threshold) {
            m->r->converged = true;
            break;
        }
        if (m->r->iterations >= m->o->max_iterations)
            break;
        if (!moved)
            idle();
    }
    return ret;
}

/* From here until the destination runs, the device runs nowhere. */
static int stop_source(struct mig *m)
{
    int ret;

    m->r->stopcopy_estimate = data_size(m);
    m->t_stop = now_ns();
    m->src_touched = true;
    if (m->r->precopy && m->r->p2p) {
        ret = set_state(m, m->src, "source", UVFIO_MIG_STATE_PRE_COPY_P2P);
        if (ret)
            return ret;
    }
    ret = set_state(m, m->src, "source", UVFIO_MIG_STATE_STOP_COPY);
    if (ret)
        return ret;
    /* the estimate taken while running may be stale by now */
    m->stopcopy_total = data_size(m);
    return 0;
}

static int stopcopy(struct mig *m)
{
    uint64_t moved;
    int ret;

    ret = stop_source(m);
    if (ret)
        return ret;
    m->prog.iteration = 0;
    ret = pump(m, MIG_PHASE_STOPCOPY, &moved,
               m->r->bytes_precopy + m->stopcopy_total);
    if (ret)
        return ret;
    progress(m, MIG_PHASE_RESUME, 0);
    ret = uvfio_client_mig_set_state(m->dst, UVFIO_MIG_STATE_STOP);
    if (ret)
        return fail(m, ret, "the destination refused the image "
                    "(RESUMING -> STOP)");
    ret = set_state(m, m->dst, "destination", UVFIO_MIG_STATE_RUNNING);
    if (ret)
        return ret;
    m->r->downtime_ms = ms_since(m->t_stop);
    return 0;
}

/* ---- failure ------------------------------------------------------------- */

bool mig_link_lost(int err)
{
    return err == -ECONNRESET || err == -EPIPE || err == -ENOTCONN ||
           err == -ECONNABORTED || err == -ETIMEDOUT || err == -EPROTO;
}

static void recover_source(struct mig *m)
{
    enum uvfio_mig_state s;
    int ret;

    if (!m->src_touched) {
        /* Nothing was changed; but a source whose connection died may
         * have died with its device: ask before promising it runs. */
        ret = uvfio_client_mig_get_state(m->src, &s);
        m->r->recovery_err = ret;
        m->r->recovery = mig_link_lost(ret) ? MIG_SOURCE_UNKNOWN :
                                              MIG_SOURCE_UNTOUCHED;
        return;
    }
    /* PRE_COPY*, STOP_COPY and STOP all lead back to RUNNING without a
     * loss: the source still holds the device's state */
    ret = uvfio_client_mig_set_state(m->src, UVFIO_MIG_STATE_RUNNING);
    if (!ret)
        ret = uvfio_client_mig_get_state(m->src, &s);
    if (!ret && s != UVFIO_MIG_STATE_RUNNING)
        ret = -EIO;
    if (!ret) {
        m->r->recovery = MIG_SOURCE_RUNNING;
        return;
    }
    m->r->recovery_err = ret;
    m->r->recovery = uvfio_client_reset(m->src) ? MIG_SOURCE_UNKNOWN :
                                                  MIG_SOURCE_RESET;
}

static void recover(struct mig *m)
{
    if (m->src)
        recover_source(m);
    else
        m->r->recovery = MIG_SOURCE_UNTOUCHED;
    /* a half-loaded destination is worthless: back to power-on */
    if (m->dst && m->dst_touched) {
        m->r->dst_reset_failed = uvfio_client_reset(m->dst) != 0;
        m->r->dst_reset = !m->r->dst_reset_failed;
    }
}

/* ---- the whole migration ------------------------------------------------- */

static int setup(struct mig *m)
{
    int ret;

    ret = connect_one(m, m->o->src_path, "source", &m->src);
    if (!ret)
        ret = connect_one(m, m->o->dst_path, "destination", &m->dst);
    if (!ret)
        ret = check_flags(m);
    if (!ret)
        ret = check_states(m);
    if (!ret)
        ret = setup_chunk(m);
    return ret;
}

static int migrate(struct mig *m)
{
    int ret;

    ret = setup(m);
    if (ret)
        return ret;
    progress(m, MIG_PHASE_SETUP, data_size(m));
    m->dst_touched = true;
    ret = set_state(m, m->dst, "destination", UVFIO_MIG_STATE_RESUMING);
    if (!ret && m->r->precopy)
        ret = precopy(m);
    if (!ret)
        ret = stopcopy(m);
    return ret;
}

int mig_run(const struct mig_opts *o, struct mig_result *r)
{
    struct mig m = { .o = o, .r = r, .t_start = now_ns() };
    int ret;

    memset(r, 0, sizeof(*r));
    ret = migrate(&m);
    if (ret) {
        recover(&m);
    } else {
        /* the destination runs the device: the source's stream ends here,
         * and a source that will not stop is reported, not reset */
        r->src_stop_failed = uvfio_client_mig_set_state(
            m.src, UVFIO_MIG_STATE_STOP) != 0;
        progress(&m, MIG_PHASE_DONE, 0);
    }
    r->total_ms = ms_since(m.t_start);
    free(m.buf);
    if (m.src)
        uvfio_client_close(m.src);
    if (m.dst)
        uvfio_client_close(m.dst);
    return ret;
}

void mig_result_free(struct mig_result *r)
{
    free(r->iteration_bytes);
    r->iteration_bytes = NULL;
}
