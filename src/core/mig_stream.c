/* SPDX-License-Identifier: MIT */
/*
 * core/mig_stream.c - the migration data streams over vfio-user
 * (MIG_DATA_READ / MIG_DATA_WRITE) and the precopy bookkeeping.
 *
 * vfio-user has no data fd: there is at most one stream per device, the one
 * the last opening arc created, and MIG_DATA_READ/WRITE reach it.  Errors,
 * documented in docs/migration.md:
 *   -ENOTTY  the device cannot migrate;
 *   -EINVAL  no stream of that direction was ever opened (or the current
 *            one goes the other way), or a malformed request;
 *   -ENODEV  the stream was ended - by its closing arc, a device reset, the
 *            client going away, ERROR - or broken by a driver error, as a
 *            terminated kernel data fd answers.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "mig.h"
#include "mig_fsm.h"
#include "util/log.h"

void uvfio_mig_stream_open(struct uvfio_mig *m, enum uvfio_mig_stream_kind k)
{
    memset(&m->stream, 0, sizeof(m->stream));
    m->stream.kind = k;
}

void uvfio_mig_stream_end(struct uvfio_mig *m)
{
    m->stream.ended = true;
}

bool uvfio_mig_stream_resume_whole(const struct uvfio_mig *m)
{
    return m->stream.kind == UVFIO_MIG_RESUMING && !m->stream.broken &&
           !m->stream.ended;
}

/* Whether the open stream goes in direction `k`, as an errno. */
static int mig_stream_usable(const struct uvfio_mig *m,
                             enum uvfio_mig_stream_kind k)
{
    if (m->stream.kind != k)
        return -EINVAL;
    if (m->stream.ended || m->stream.broken)
        return -ENODEV;
    return 0;
}

static uint64_t mig_max_xfer(struct uvfio_device *dev)
{
    const struct uvfio_core_client *cl = uvfio_device_client(dev);

    return cl ? cl->max_data_xfer : UVFIO_DEFAULT_MAX_DATA_XFER;
}

/*
 * Fill buf from the driver until it is full or the driver has nothing more
 * now: a short reply must mean "nothing more now", so one short driver read
 * (a record boundary, say) is not the end of the request.
 */
static ssize_t mig_save_fill(struct uvfio_mig *m, uint8_t *buf, size_t size)
{
    struct uvfio_mig_stream *s = &m->stream;
    size_t done = 0;
    ssize_t r;

    if (s->eof)
        return 0;
    while (done < size) {
        r = m->ops->save_read(m->dev, buf + done, size - done);
        if (r < 0 || (size_t)r > size - done) {
            if (r >= 0) {
                uvfio_warn("save_read returned %zd for %zu bytes", r,
                           size - done);
                r = -EIO;
            }
            s->broken = true;
            return r;
        }
        if (r == 0) {
            /* In STOP_COPY nothing more is the end of the stream; in
             * PRE_COPY it is only "nothing more yet". */
            if (m->state == UVFIO_MIG_STATE_STOP_COPY)
                s->eof = true;
            break;
        }
        done += (size_t)r;
    }
    s->bytes += done;
    return (ssize_t)done;
}

int uvfio_core_mig_data_read(struct uvfio_device *dev,
                             const struct uvfio_wire_mig_data *req,
                             struct uvfio_buf *rep)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);
    struct uvfio_wire_mig_data hdr;
    size_t start = rep->len;
    uint8_t *out;
    ssize_t n;
    int ret;

    if (!m)
        return -ENOTTY;
    /* argsz is the largest reply the client takes: it must hold `size`. */
    if ((uint64_t)req->argsz < sizeof(hdr) + (uint64_t)req->size ||
        req->size > mig_max_xfer(dev))
        return -EINVAL;

    /* Reserve, not extend: the driver writes every byte we send, and
     * zeroing up to 64 MiB first would cost as much as the copy itself. */
    if (uvfio_buf_reserve(rep, sizeof(hdr) + req->size) < 0)
        return -ENOMEM;
    out = rep->data + start;

    uvfio_mig_lock(m);
    ret = mig_stream_usable(m, UVFIO_MIG_SAVING);
    n = ret ? ret : mig_save_fill(m, out + sizeof(hdr), req->size);
    uvfio_mig_unlock(m);
    if (n < 0) {
        rep->len = start;
        return (int)n;
    }

    hdr.argsz = (uint32_t)(sizeof(hdr) + (size_t)n);
    hdr.size = (uint32_t)n;
    memcpy(out, &hdr, sizeof(hdr));
    rep->len = start + sizeof(hdr) + (size_t)n;
    return 0;
}

int uvfio_core_mig_data_write(struct uvfio_device *dev,
                              const struct uvfio_wire_mig_data *req,
                              const void *data, size_t len)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);
    int ret;

    if (!m)
        return -ENOTTY;
    if (req->size != len || len > mig_max_xfer(dev) ||
        (uint64_t)req->argsz < sizeof(*req) + (uint64_t)len)
        return -EINVAL;

    uvfio_mig_lock(m);
    ret = mig_stream_usable(m, UVFIO_MIG_RESUMING);
    if (!ret && len) {
        ret = m->ops->resume_write(dev, data, len);
        if (ret > 0) {
            uvfio_warn("resume_write returned %d: not 0 or -errno", ret);
            ret = -EIO;
        }
        if (ret)
            m->stream.broken = true;
        else
            m->stream.bytes += len;
    }
    uvfio_mig_unlock(m);
    return ret;
}

int uvfio_mig_feature_data_size(struct uvfio_mig *m, uint64_t *len)
{
    int ret;

    uvfio_mig_lock(m);
    ret = m->ops->get_data_size(m->dev, len);
    uvfio_mig_unlock(m);
    return ret > 0 ? -EIO : ret;
}

int uvfio_mig_feature_precopy_info(struct uvfio_mig *m,
                                   struct uvfio_mig_precopy_info *info)
{
    struct uvfio_mig_stream *s = &m->stream;
    int ret;

    uvfio_mig_lock(m);
    if (m->state != UVFIO_MIG_STATE_PRE_COPY &&
        m->state != UVFIO_MIG_STATE_PRE_COPY_P2P)
        ret = -EINVAL;
    else
        ret = mig_stream_usable(m, UVFIO_MIG_SAVING);
    if (!ret)
        ret = m->ops->precopy_info(m->dev, &info->initial_bytes,
                                   &info->dirty_bytes);
    if (ret > 0)
        ret = -EIO;
    if (!ret) {
        /* The initial image only drains: never show it growing back. */
        if (s->precopy_seen && info->initial_bytes > s->min_initial)
            info->initial_bytes = s->min_initial;
        s->min_initial = info->initial_bytes;
        s->precopy_seen = true;
    }
    uvfio_mig_unlock(m);
    return ret;
}
