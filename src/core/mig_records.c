// SPDX-License-Identifier: MIT
/*
 * core/mig_records.c - the optional record stream for drivers' migration
 * (uvfio/migration.h): [CONFIG STATE*] FINAL, each record one framed image.
 *
 * The driver says what a record holds and whether a received one is legal;
 * everything else - when each record is cut, what precopy_info and
 * MIG_DATA_SIZE report, the grammar a destination enforces, and apply-or-
 * nothing at RESUMING->STOP - lives here, so every driver gets the same
 * stream rules and the same hostile-input checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/migration.h>

void uvfio_mig_records_init(struct uvfio_mig_records *r,
                            const struct uvfio_mig_records_ops *ops)
{
    memset(r, 0, sizeof(*r));
    r->ops_ = ops;
}

/* ---- saving -------------------------------------------------------------- */

static void saving_drop(struct uvfio_mig_records *r)
{
    uvfio_mig_image_clear(&r->out_);
    uvfio_mig_image_clear(&r->next_);
    free(r->sent_);
    r->sent_ = NULL;
    r->sent_len_ = 0;
    r->out_initial_ = false;
    r->precopy_ = false;
}

static int build(struct uvfio_mig_records *r, struct uvfio_device *dev,
                 enum uvfio_mig_rec_kind kind, uint8_t **payload, size_t *len)
{
    void *p = NULL;
    int ret;

    ret = r->ops_->build(dev, kind, &p, len);
    if (ret) {
        free(p);
        return ret;
    }
    *payload = p;
    return 0;
}

/* Cut a record of `kind` into `img`. */
static int save_record(struct uvfio_mig_records *r, struct uvfio_device *dev,
                       enum uvfio_mig_rec_kind kind,
                       struct uvfio_mig_image *img)
{
    uint8_t *p;
    size_t len;
    int ret;

    ret = build(r, dev, kind, &p, &len);
    if (ret)
        return ret;
    ret = uvfio_mig_image_save(img, r->ops_->magic, r->ops_->version, p, len);
    free(p);
    return ret;
}

/* The STATE now if it differs from the last one handed out, else NULL:
 * whatever *state is, it is the caller's. */
static int dirty_state(struct uvfio_mig_records *r, struct uvfio_device *dev,
                       uint8_t **state, size_t *len)
{
    int ret;

    *state = NULL;
    ret = build(r, dev, UVFIO_MIG_REC_STATE, state, len);
    if (ret)
        return ret;
    if (r->sent_ && r->sent_len_ == *len && !memcmp(r->sent_, *state, *len)) {
        free(*state);
        *state = NULL;
    }
    return 0;
}

static int precopy_open(struct uvfio_mig_records *r, struct uvfio_device *dev)
{
    size_t len;
    int ret;

    saving_drop(r);
    ret = save_record(r, dev, UVFIO_MIG_REC_CONFIG, &r->out_);
    if (!ret && r->ops_->state_since_config)
        ret = build(r, dev, UVFIO_MIG_REC_STATE, &r->sent_, &len);
    if (ret) {
        saving_drop(r);
        return ret;
    }
    if (r->sent_)
        r->sent_len_ = len;
    r->out_initial_ = true;
    r->precopy_ = true;
    return 0;
}

/* Into STOP_COPY: a record half read is finished before FINAL, because the
 * client already holds its first bytes. */
static int final_open(struct uvfio_mig_records *r, struct uvfio_device *dev)
{
    struct uvfio_mig_image *img = &r->out_;
    int ret;

    if (uvfio_mig_image_remaining(&r->out_))
        img = &r->next_;
    ret = save_record(r, dev, UVFIO_MIG_REC_FINAL, img);
    if (ret)
        return ret;
    if (img == &r->out_)
        r->out_initial_ = false;
    r->precopy_ = false;
    return 0;
}

/* out_ is used up: what goes next, if anything. */
static int saving_next(struct uvfio_mig_records *r, struct uvfio_device *dev)
{
    uint8_t *state;
    size_t len;
    int ret;

    r->out_initial_ = false;
    if (r->next_.buf_) {
        uvfio_mig_image_clear(&r->out_);
        r->out_ = r->next_;
        memset(&r->next_, 0, sizeof(r->next_));
        return 0;
    }
    if (!r->precopy_)
        return 0;
    ret = dirty_state(r, dev, &state, &len);
    if (ret || !state)
        return ret;
    ret = uvfio_mig_image_save(&r->out_, r->ops_->magic, r->ops_->version,
                               state, len);
    if (ret) {
        free(state);
        return ret;
    }
    free(r->sent_);
    r->sent_ = state;
    r->sent_len_ = len;
    return 0;
}

ssize_t uvfio_mig_records_save_read(struct uvfio_mig_records *r,
                                    struct uvfio_device *dev, void *buf,
                                    size_t len)
{
    int ret;

    if (!uvfio_mig_image_remaining(&r->out_)) {
        ret = saving_next(r, dev);
        if (ret)
            return ret;
    }
    return uvfio_mig_image_read(&r->out_, buf, len);
}

int uvfio_mig_records_precopy_info(struct uvfio_mig_records *r,
                                   struct uvfio_device *dev,
                                   uint64_t *initial_bytes,
                                   uint64_t *dirty_bytes)
{
    uint64_t left = uvfio_mig_image_remaining(&r->out_);
    uint8_t *state = NULL;
    size_t len = 0;
    int ret;

    if (r->precopy_) {
        ret = dirty_state(r, dev, &state, &len);
        if (ret)
            return ret;
    }
    *initial_bytes = r->out_initial_ ? left : 0;
    *dirty_bytes = r->out_initial_ ? 0 : left;
    if (state)
        *dirty_bytes += uvfio_mig_image_size(len);
    free(state);
    return 0;
}

int uvfio_mig_records_data_size(struct uvfio_mig_records *r,
                                struct uvfio_device *dev,
                                uint64_t *stop_copy_length)
{
    uint64_t n = uvfio_mig_image_remaining(&r->out_);

    if (r->next_.buf_)
        n += uvfio_mig_image_remaining(&r->next_);
    else if (uvfio_mig_state(dev) != UVFIO_MIG_STATE_STOP_COPY)
        n += uvfio_mig_image_size(r->ops_->final_len(dev));
    *stop_copy_length = n;
    return 0;
}

/* ---- resuming ------------------------------------------------------------ */

static void resuming_drop(struct uvfio_mig_records *r)
{
    uvfio_mig_image_clear(&r->in_);
    r->in_active_ = false;
    r->in_config_seen_ = false;
    r->in_records_ = 0;
    free(r->final_);
    r->final_ = NULL;
    r->final_len_ = 0;
}

/* CONFIG only first, STATE only after CONFIG; nothing follows FINAL, which
 * resume_write enforces before it takes another byte. */
static int check_order(const struct uvfio_mig_records *r,
                       enum uvfio_mig_rec_kind kind)
{
    switch (kind) {
    case UVFIO_MIG_REC_CONFIG:
        return r->in_records_ == 0 ? 0 : -EINVAL;
    case UVFIO_MIG_REC_STATE:
        return r->in_config_seen_ ? 0 : -EINVAL;
    case UVFIO_MIG_REC_FINAL:
        return 0;
    default:
        return -EINVAL;         /* a driver's check() let a bad kind by */
    }
}

static int keep_final(struct uvfio_mig_records *r, const void *p, size_t len)
{
    r->final_ = malloc(len ? len : 1);
    if (!r->final_)
        return -ENOMEM;
    if (len)
        memcpy(r->final_, p, len);
    r->final_len_ = len;
    return 0;
}

/* A record is complete: judge it now, keep it only if it is FINAL. */
static int record_done(struct uvfio_mig_records *r, struct uvfio_device *dev)
{
    enum uvfio_mig_rec_kind kind = 0;
    const void *payload;
    size_t len;
    int ret;

    ret = uvfio_mig_image_load_end(&r->in_, &payload, &len, NULL);
    if (!ret)
        ret = r->ops_->check(dev, payload, len, &kind);
    if (!ret)
        ret = check_order(r, kind);
    if (!ret && kind == UVFIO_MIG_REC_FINAL)
        ret = keep_final(r, payload, len);
    if (ret)
        return ret;
    r->in_config_seen_ |= kind == UVFIO_MIG_REC_CONFIG;
    r->in_records_++;
    uvfio_mig_image_clear(&r->in_);
    r->in_active_ = false;
    return 0;
}

/* Take up to the end of the current record from p[0..len): bytes used. */
static ssize_t resume_some(struct uvfio_mig_records *r,
                           struct uvfio_device *dev, const uint8_t *p,
                           size_t len)
{
    size_t n;
    int ret;

    if (r->final_)
        return -EFBIG;          /* bytes after FINAL */
    if (!r->in_active_) {
        ret = uvfio_mig_image_load_begin(&r->in_, r->ops_->magic,
                                         r->ops_->version,
                                         r->ops_->final_len(dev));
        if (ret)
            return ret;
        r->in_active_ = true;
    }
    n = uvfio_mig_image_needed(&r->in_);
    if (!n)
        return -EINVAL;         /* a broken record: its error was given */
    if (n > len)
        n = len;
    ret = uvfio_mig_image_write(&r->in_, p, n);
    if (!ret && !uvfio_mig_image_needed(&r->in_))
        ret = record_done(r, dev);
    return ret ? ret : (ssize_t)n;
}

int uvfio_mig_records_resume_write(struct uvfio_mig_records *r,
                                   struct uvfio_device *dev, const void *buf,
                                   size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len) {
        n = resume_some(r, dev, p, len);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* RESUMING->STOP: a stream cut short (FINAL missing or unfinished; nothing
 * can follow a finished one) is refused before the driver sees it; a whole
 * one is applied by the driver, all or nothing. */
static int resume_apply(struct uvfio_mig_records *r, struct uvfio_device *dev)
{
    if (!r->final_)
        return -EINVAL;
    return r->ops_->apply(dev, r->final_, r->final_len_);
}

/* ---- arcs ---------------------------------------------------------------- */

int uvfio_mig_records_arc(struct uvfio_mig_records *r,
                          struct uvfio_device *dev, enum uvfio_mig_state from,
                          enum uvfio_mig_state to)
{
    int ret;

    switch (to) {
    case UVFIO_MIG_STATE_PRE_COPY:
    case UVFIO_MIG_STATE_PRE_COPY_P2P:
        /* PRE_COPY <-> PRE_COPY_P2P keeps the stream going */
        if (from == UVFIO_MIG_STATE_RUNNING ||
            from == UVFIO_MIG_STATE_RUNNING_P2P)
            return precopy_open(r, dev);
        return 0;
    case UVFIO_MIG_STATE_STOP_COPY:
        if (from == UVFIO_MIG_STATE_STOP)
            saving_drop(r);
        return final_open(r, dev);
    case UVFIO_MIG_STATE_RESUMING:
        resuming_drop(r);
        return 0;
    default:
        break;
    }
    if (from == UVFIO_MIG_STATE_RESUMING) {
        ret = resume_apply(r, dev);
        if (ret)
            return ret;
        resuming_drop(r);
    }
    /* leaving the saving states ends the stream */
    saving_drop(r);
    return 0;
}

void uvfio_mig_records_clear(struct uvfio_mig_records *r)
{
    saving_drop(r);
    resuming_drop(r);
}
