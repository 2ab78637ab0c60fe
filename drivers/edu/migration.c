// SPDX-License-Identifier: MIT
/*
 * edu/migration.c - uvfio-edu's live migration: STOP_COPY, P2P, PRE_COPY.
 *
 * The stream is a sequence of records (state.h), each one framed image of
 * the core's helper:
 *
 *   CONFIG  the DMA mask and the copy queue's window and rate: the initial
 *           precopy data, so a destination that cannot take this device
 *           (another DMA mask, a window it finds illegal) refuses it while
 *           the source still runs;
 *   STATE   edu's registers, the 4 KiB DMA buffer and the queue's window
 *           and rate: the dirty data, sent in PRE_COPY whenever it differs
 *           from the last STATE sent (the first always goes);
 *   FINAL   everything, cut once the device is held: registers, buffer, a
 *           command still pending, the queue with its progress (passes,
 *           position, bytes) and the PCI model's blob.  The only record
 *           applied.
 *
 * A stream is [CONFIG STATE*] FINAL.  The queue's progress moves all the
 * time while the device runs, so it is not dirty data - only FINAL, cut
 * after the worker stopped, can say where it stands.
 *
 * Holding.  RUNNING and PRE_COPY run; every other state holds the device:
 * the copy queue's worker stops (P2P: initiate no DMA) and a DMA command
 * the guest starts waits, RUN set, for the release.  Holding comes before
 * the arc's stream work (FINAL must see a still device), releasing after.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edu_priv.h"
#include "state.h"

static struct edu *edu_of(struct uvfio_device *dev)
{
    return uvfio_device_priv(dev);
}

/* ---- saving ------------------------------------------------------------ */

static void saving_drop(struct edu_mig *m)
{
    uvfio_mig_image_clear(&m->out);
    uvfio_mig_image_clear(&m->out_next);
    m->out_initial = false;
    m->precopy = false;
    free(m->sent);
    m->sent = NULL;
    m->sent_len = 0;
}

/* Build `kind` and frame it into `img`. */
static int save_record(struct edu *e, enum edu_rec_kind kind,
                       struct uvfio_mig_image *img)
{
    uint8_t *rec;
    size_t len;
    int r;

    r = edu_rec_build(e, kind, &rec, &len);
    if (r)
        return r;
    r = uvfio_mig_image_save(img, EDU_MIG_MAGIC, EDU_MIG_VERSION, rec, len);
    free(rec);
    return r;
}

static int precopy_start(struct edu *e)
{
    struct edu_mig *m = &e->mig;
    int r;

    saving_drop(m);
    r = save_record(e, EDU_REC_CONFIG, &m->out);
    if (r)
        return r;
    m->out_initial = true;
    m->precopy = true;
    return 0;
}

/* Into STOP_COPY: FINAL follows a record half read, since the stream
 * cannot take back bytes it has started to hand out. */
static int final_start(struct edu *e)
{
    struct edu_mig *m = &e->mig;
    struct uvfio_mig_image *img = &m->out;
    int r;

    if (uvfio_mig_image_remaining(&m->out))
        img = &m->out_next;
    r = save_record(e, EDU_REC_FINAL, img);
    if (r)
        return r;
    if (img == &m->out)
        m->out_initial = false;
    m->precopy = false;
    return 0;
}

/* The STATE record now, if it differs from the last one sent: *rec is then
 * the caller's (NULL when nothing changed). */
static int dirty_state(struct edu *e, uint8_t **rec, size_t *len)
{
    struct edu_mig *m = &e->mig;
    int r;

    *rec = NULL;
    r = edu_rec_build(e, EDU_REC_STATE, rec, len);
    if (r)
        return r;
    if (m->sent && m->sent_len == *len && !memcmp(m->sent, *rec, *len)) {
        free(*rec);
        *rec = NULL;
    }
    return 0;
}

/* `out` is used up: what goes next, if anything. */
static int saving_next(struct edu *e)
{
    struct edu_mig *m = &e->mig;
    uint8_t *rec;
    size_t len;
    int r;

    m->out_initial = false;
    if (m->out_next.buf_) {
        uvfio_mig_image_clear(&m->out);
        m->out = m->out_next;
        memset(&m->out_next, 0, sizeof(m->out_next));
        return 0;
    }
    if (!m->precopy)
        return 0;
    r = dirty_state(e, &rec, &len);
    if (r || !rec)
        return r;
    r = uvfio_mig_image_save(&m->out, EDU_MIG_MAGIC, EDU_MIG_VERSION, rec,
                             len);
    if (r) {
        free(rec);
        return r;
    }
    free(m->sent);
    m->sent = rec;
    m->sent_len = len;
    return 0;
}

static ssize_t edu_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct edu *e = edu_of(dev);
    int r;

    if (!uvfio_mig_image_remaining(&e->mig.out)) {
        r = saving_next(e);
        if (r)
            return r;
    }
    return uvfio_mig_image_read(&e->mig.out, buf, len);
}

static int edu_precopy_info(struct uvfio_device *dev, uint64_t *initial_bytes,
                            uint64_t *dirty_bytes)
{
    struct edu *e = edu_of(dev);
    struct edu_mig *m = &e->mig;
    size_t left = uvfio_mig_image_remaining(&m->out), len;
    uint8_t *rec;
    int r;

    r = dirty_state(e, &rec, &len);
    if (r)
        return r;
    *initial_bytes = m->out_initial ? left : 0;
    *dirty_bytes = m->out_initial ? 0 : left;
    if (rec)
        *dirty_bytes += uvfio_mig_image_size(len);
    free(rec);
    return 0;
}

static int edu_data_size(struct uvfio_device *dev, uint64_t *len)
{
    struct edu *e = edu_of(dev);
    struct edu_mig *m = &e->mig;
    uint64_t n = uvfio_mig_image_remaining(&m->out);

    if (m->out_next.buf_)
        n += uvfio_mig_image_remaining(&m->out_next);
    else if (uvfio_mig_state(dev) != UVFIO_MIG_STATE_STOP_COPY)
        n += uvfio_mig_image_size(edu_rec_len(e, EDU_REC_FINAL));
    *len = n;
    return 0;
}

/* ---- resuming ------------------------------------------------------------ */

static void resuming_drop(struct edu_mig *m)
{
    uvfio_mig_image_clear(&m->in);
    m->in_active = false;
    m->in_records = 0;
    m->in_config_seen = false;
    free(m->final);
    m->final = NULL;
    m->final_len = 0;
}

/* CONFIG only first, STATE only after CONFIG, FINAL last (resume_write
 * refuses anything after it). */
static int check_order(const struct edu_mig *m, enum edu_rec_kind kind)
{
    switch (kind) {
    case EDU_REC_CONFIG:
        return m->in_records == 0 ? 0 : -EINVAL;
    case EDU_REC_STATE:
        return m->in_config_seen ? 0 : -EINVAL;
    default:
        return 0;
    }
}

static int keep_final(struct edu_mig *m, const void *p, size_t len)
{
    m->final = malloc(len);
    if (!m->final)
        return -ENOMEM;
    memcpy(m->final, p, len);
    m->final_len = len;
    return 0;
}

/* A record is complete: judge it now, keep it only if it is FINAL. */
static int record_done(struct edu *e)
{
    struct edu_mig *m = &e->mig;
    enum edu_rec_kind kind;
    const void *payload;
    size_t len;
    int r;

    r = uvfio_mig_image_load_end(&m->in, &payload, &len, NULL);
    if (r)
        return r;
    r = edu_rec_check(e, payload, len, &kind);
    if (!r)
        r = check_order(m, kind);
    if (!r && kind == EDU_REC_FINAL)
        r = keep_final(m, payload, len);
    if (r)
        return r;
    m->in_config_seen |= kind == EDU_REC_CONFIG;
    m->in_records++;
    uvfio_mig_image_clear(&m->in);
    m->in_active = false;
    return 0;
}

static int edu_resume_write(struct uvfio_device *dev, const void *buf,
                            size_t len)
{
    struct edu *e = edu_of(dev);
    struct edu_mig *m = &e->mig;
    const uint8_t *p = buf;
    size_t n;
    int r;

    while (len) {
        if (m->final)
            return -EFBIG;      /* bytes after FINAL */
        if (!m->in_active) {
            r = uvfio_mig_image_load_begin(&m->in, EDU_MIG_MAGIC,
                                           EDU_MIG_VERSION,
                                           edu_rec_len(e, EDU_REC_FINAL));
            if (r)
                return r;
            m->in_active = true;
        }
        n = uvfio_mig_image_needed(&m->in);
        if (!n)
            return -EINVAL;
        if (n > len)
            n = len;
        r = uvfio_mig_image_write(&m->in, p, n);
        if (r)
            return r;
        p += n;
        len -= n;
        if (!uvfio_mig_image_needed(&m->in)) {
            r = record_done(e);
            if (r)
                return r;
        }
    }
    return 0;
}

/* RESUMING->STOP: a stream cut short is refused with the device as it
 * was; a whole one is applied whole. */
static int resume_apply(struct edu *e)
{
    struct edu_mig *m = &e->mig;

    if (m->in_active || !m->final)
        return -EINVAL;
    return edu_rec_apply(e, m->final, m->final_len);
}

/* ---- arcs ------------------------------------------------------------------ */

static bool state_holds(enum uvfio_mig_state s)
{
    return s != UVFIO_MIG_STATE_RUNNING && s != UVFIO_MIG_STATE_PRE_COPY;
}

static int arc_stream(struct edu *e, enum uvfio_mig_state from,
                      enum uvfio_mig_state to)
{
    int r;

    switch (to) {
    case UVFIO_MIG_STATE_PRE_COPY:
    case UVFIO_MIG_STATE_PRE_COPY_P2P:
        /* PRE_COPY <-> PRE_COPY_P2P keeps the stream going */
        if (from == UVFIO_MIG_STATE_RUNNING ||
            from == UVFIO_MIG_STATE_RUNNING_P2P)
            return precopy_start(e);
        return 0;
    case UVFIO_MIG_STATE_STOP_COPY:
        if (from == UVFIO_MIG_STATE_STOP)
            saving_drop(&e->mig);
        return final_start(e);
    case UVFIO_MIG_STATE_RESUMING:
        resuming_drop(&e->mig);
        return 0;
    default:
        break;
    }
    if (from == UVFIO_MIG_STATE_RESUMING) {
        r = resume_apply(e);
        if (r)
            return r;
        resuming_drop(&e->mig);
    }
    /* leaving the saving states ends the stream */
    saving_drop(&e->mig);
    return 0;
}

static int edu_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                   enum uvfio_mig_state to)
{
    struct edu *e = edu_of(dev);
    bool hold = state_holds(to) && !e->held;
    int r;

    if (hold)
        edu_hold(e, true);
    r = arc_stream(e, from, to);
    if (r) {
        if (hold)
            edu_hold(e, false);
        return r;
    }
    if (!state_holds(to) && e->held)
        edu_hold(e, false);
    return 0;
}

static void edu_stream_abort(struct uvfio_device *dev)
{
    struct edu *e = edu_of(dev);

    saving_drop(&e->mig);
    resuming_drop(&e->mig);
}

/* DEVICE_RESET: the core is back in RUNNING, so the device runs again. */
static void edu_mig_reset(struct uvfio_device *dev)
{
    struct edu *e = edu_of(dev);

    edu_stream_abort(dev);
    edu_hold(e, false);
}

void edu_mig_clear(struct edu_mig *m)
{
    saving_drop(m);
    resuming_drop(m);
}

const struct uvfio_migration_ops edu_mig_ops = {
    .arc = edu_arc,
    .save_read = edu_save_read,
    .resume_write = edu_resume_write,
    .get_data_size = edu_data_size,
    .precopy_info = edu_precopy_info,
    .stream_abort = edu_stream_abort,
    .reset = edu_mig_reset,
};
