/* SPDX-License-Identifier: MIT */
/* tests/migration/blob_dev.c - see blob_dev.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob_dev.h"

size_t blob_record_size(const struct blob *b)
{
    return 1 + (size_t)uvfio_mig_image_size(b->size);
}

static int blob_record(struct blob *b, uint8_t tag)
{
    b->out_tag = tag;
    b->out_initial = tag == 'I';
    b->touched = false;
    return uvfio_mig_image_save(&b->out, BLOB_MAGIC, BLOB_VERSION, b->regs,
                                b->size);
}

static void blob_stop_saving(struct blob *b)
{
    uvfio_mig_image_clear(&b->out);
    b->out_tag = 0;
    b->out_initial = false;
    b->final_needed = false;
}

static void blob_stop_resuming(struct blob *b)
{
    uvfio_mig_image_clear(&b->in);
    b->in_tag = -1;
    b->have_final = false;
}

/* RESUMING -> STOP: apply the final record, or nothing at all. */
static int blob_load(struct blob *b)
{
    const void *p;
    size_t len;
    int ret;

    if (!b->have_final)
        return -EINVAL;         /* truncated: F never completed */
    ret = uvfio_mig_image_load_end(&b->in, &p, &len, NULL);
    if (ret)
        return ret;
    if (len != b->size)
        return -EINVAL;
    memcpy(b->regs, p, len);
    blob_stop_resuming(b);
    return 0;
}

static int blob_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                    enum uvfio_mig_state to)
{
    struct blob *b = uvfio_device_priv(dev);

    b->arcs++;
    switch (uvfio_mig_state(dev) == from ? to : UVFIO_MIG_STATE_ERROR) {
    case UVFIO_MIG_STATE_PRE_COPY:
    case UVFIO_MIG_STATE_PRE_COPY_P2P:
        if (from == UVFIO_MIG_STATE_RUNNING ||
            from == UVFIO_MIG_STATE_RUNNING_P2P)
            return blob_record(b, 'I');
        return 0;
    case UVFIO_MIG_STATE_STOP_COPY:
        if (from == UVFIO_MIG_STATE_STOP) {
            int ret = blob_record(b, 'F');

            b->out_initial = false;
            return ret;
        }
        b->final_needed = true;
        return 0;
    case UVFIO_MIG_STATE_RESUMING:
        blob_stop_resuming(b);
        return 0;
    case UVFIO_MIG_STATE_STOP:
        if (from == UVFIO_MIG_STATE_RESUMING)
            return blob_load(b);
        if (from == UVFIO_MIG_STATE_STOP_COPY)
            blob_stop_saving(b);
        return 0;
    case UVFIO_MIG_STATE_RUNNING:
    case UVFIO_MIG_STATE_RUNNING_P2P:
        if (from == UVFIO_MIG_STATE_PRE_COPY ||
            from == UVFIO_MIG_STATE_PRE_COPY_P2P)
            blob_stop_saving(b);
        return 0;
    default:
        return -EINVAL;
    }
}

static ssize_t blob_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct blob *b = uvfio_device_priv(dev);
    ssize_t n;

    b->save_reads++;
    if (b->fail_read) {
        n = b->fail_read;
        b->fail_read = 0;
        return n;
    }
    if (b->stingy && len > b->stingy)
        len = b->stingy;
    for (;;) {
        if (b->out_tag) {
            *(uint8_t *)buf = b->out_tag;
            b->out_tag = 0;
            return 1;
        }
        n = uvfio_mig_image_read(&b->out, buf, len);
        if (n)
            return n;
        b->out_initial = false;
        if (uvfio_mig_state(dev) == UVFIO_MIG_STATE_STOP_COPY) {
            if (!b->final_needed)
                return 0;
            b->final_needed = false;
            if (blob_record(b, 'F'))
                return -ENOMEM;
        } else if (b->touched) {
            if (blob_record(b, 'D'))
                return -ENOMEM;
        } else {
            return 0;
        }
    }
}

/* The record in `in` is complete: I and D are checked now, F at the end. */
static int blob_record_done(struct blob *b)
{
    const void *p;
    size_t len;
    int ret;

    if (b->in_tag == 'F') {
        b->have_final = true;
        b->in_tag = -1;
        return 0;
    }
    ret = uvfio_mig_image_load_end(&b->in, &p, &len, NULL);
    uvfio_mig_image_clear(&b->in);
    b->in_tag = -1;
    if (!ret && len != b->size)
        ret = -EINVAL;
    return ret;
}

static int blob_resume_write(struct uvfio_device *dev, const void *buf,
                             size_t len)
{
    struct blob *b = uvfio_device_priv(dev);
    const uint8_t *p = buf;
    size_t n;
    int ret;

    while (len) {
        if (b->in_tag < 0) {
            /* Nothing may follow the final record. */
            if (b->have_final)
                return -EFBIG;
            if (*p != 'I' && *p != 'D' && *p != 'F')
                return -EINVAL;
            b->in_tag = *p++;
            len--;
            ret = uvfio_mig_image_load_begin(&b->in, BLOB_MAGIC,
                                             BLOB_VERSION, b->size);
            if (ret)
                return ret;
            continue;
        }
        n = uvfio_mig_image_needed(&b->in);
        n = n < len ? n : len;
        ret = uvfio_mig_image_write(&b->in, p, n);
        if (ret)
            return ret;
        p += n;
        len -= n;
        if (!uvfio_mig_image_needed(&b->in)) {
            ret = blob_record_done(b);
            if (ret)
                return ret;
        }
    }
    return 0;
}

static int blob_data_size(struct uvfio_device *dev, uint64_t *len)
{
    struct blob *b = uvfio_device_priv(dev);

    *len = blob_record_size(b);
    return 0;
}

static int blob_precopy_info(struct uvfio_device *dev, uint64_t *initial,
                             uint64_t *dirty)
{
    struct blob *b = uvfio_device_priv(dev);
    uint64_t cur = uvfio_mig_image_remaining(&b->out) + (b->out_tag ? 1 : 0);

    *initial = b->out_initial ? cur : 0;
    *dirty = b->out_initial ? 0 : cur;
    if (b->touched)
        *dirty += blob_record_size(b);
    *initial += b->initial_bump;
    return 0;
}

static void blob_stream_abort(struct uvfio_device *dev)
{
    struct blob *b = uvfio_device_priv(dev);

    b->aborts++;
    blob_stop_saving(b);
    blob_stop_resuming(b);
}

static void blob_mig_reset(struct uvfio_device *dev)
{
    struct blob *b = uvfio_device_priv(dev);

    b->resets++;
}

static int blob_dev_reset(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

static const struct uvfio_migration_ops blob_mig_ops = {
    .arc = blob_arc,
    .save_read = blob_save_read,
    .resume_write = blob_resume_write,
    .get_data_size = blob_data_size,
    .precopy_info = blob_precopy_info,
    .stream_abort = blob_stream_abort,
    .reset = blob_mig_reset,
};

static const struct uvfio_device_ops blob_ops = {
    .name = "blob",
    .reset = blob_dev_reset,
};

struct uvfio_device *blob_create(struct blob *b, size_t size, uint64_t flags,
                                 uint8_t seed)
{
    struct uvfio_device_config cfg = {
        .name = "blob", .ops = &blob_ops, .num_regions = 1, .num_irqs = 1,
        .mig_ops = &blob_mig_ops, .migration_flags = flags, .priv = b,
    };
    size_t i;

    memset(b, 0, sizeof(*b));
    b->in_tag = -1;
    b->size = size;
    b->regs = malloc(size ? size : 1);
    if (!b->regs)
        return NULL;
    for (i = 0; i < size; i++)
        b->regs[i] = (uint8_t)(seed + i * 31 + (i >> 8));
    if (uvfio_device_create(&cfg, &b->dev)) {
        free(b->regs);
        return NULL;
    }
    return b->dev;
}

void blob_destroy(struct blob *b)
{
    uvfio_device_destroy(b->dev);
    uvfio_mig_image_clear(&b->out);
    uvfio_mig_image_clear(&b->in);
    free(b->regs);
}

void blob_touch(struct blob *b, size_t off, size_t len)
{
    size_t i;

    for (i = off; i < off + len && i < b->size; i++)
        b->regs[i]++;
    b->touched = true;
}
