/* SPDX-License-Identifier: MIT */
/*
 * client/migration.c - the VMM side of migration v2 (uvfio/migration.h).
 *
 * The features go through uvfio_client_feature(); the data streams through
 * MIG_DATA_READ/WRITE, split at the negotiated max_data_xfer_size.  The
 * server is as untrusted as any peer: a state number it cannot have, or a
 * read reply longer than what was asked, is -EPROTO.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <uvfio/migration.h>

#include "client_priv.h"
#include "util/log.h"

struct mig_state_payload {
    uint32_t device_state;
    uint32_t data_fd;           /* no fd in vfio-user: always -1 */
} UVFIO_PACKED;

/* A GET of a u64 feature.  The request carries the buffer (argsz says how
 * much room there is), so it goes out zeroed, never as the caller's
 * uninitialised memory. */
static int mig_get_u64(struct uvfio_client *c, uint32_t feature,
                       uint64_t *out)
{
    uint64_t v = 0;
    int r;

    r = uvfio_client_feature(c, UVFIO_FEATURE_GET | feature, &v, sizeof(v));
    if (r < 0)
        return r;
    *out = v;
    return 0;
}

UVFIO_API int uvfio_client_mig_get_flags(struct uvfio_client *c,
                                         uint64_t *flags)
{
    return mig_get_u64(c, UVFIO_FEATURE_MIGRATION, flags);
}

UVFIO_API int uvfio_client_mig_get_state(struct uvfio_client *c,
                                         enum uvfio_mig_state *state)
{
    struct mig_state_payload p = { 0, UINT32_MAX };
    int r;

    r = uvfio_client_feature(c, UVFIO_FEATURE_GET |
                                UVFIO_FEATURE_MIG_DEVICE_STATE,
                             &p, sizeof(p));
    if (r < 0)
        return r;
    if (p.device_state >= UVFIO_MIG_STATE_COUNT) {
        uvfio_warn("client: server reports migration state %u",
                   p.device_state);
        return -EPROTO;
    }
    *state = (enum uvfio_mig_state)p.device_state;
    return 0;
}

UVFIO_API int uvfio_client_mig_set_state(struct uvfio_client *c,
                                         enum uvfio_mig_state state)
{
    struct mig_state_payload p = { (uint32_t)state, UINT32_MAX };

    return uvfio_client_feature(c, UVFIO_FEATURE_SET |
                                   UVFIO_FEATURE_MIG_DEVICE_STATE,
                                &p, sizeof(p));
}

UVFIO_API int uvfio_client_mig_data_size(struct uvfio_client *c,
                                         uint64_t *stop_copy_length)
{
    return mig_get_u64(c, UVFIO_FEATURE_MIG_DATA_SIZE, stop_copy_length);
}

UVFIO_API int uvfio_client_mig_precopy_info(struct uvfio_client *c,
                                            struct uvfio_mig_precopy_info *out)
{
    uint64_t v[2] = { 0, 0 };
    int r;

    /* Without the extension the index means nothing to the server. */
    if (!uvfio_client_caps(c)->precopy_info)
        return -ENOTSUP;
    r = uvfio_client_feature(c, UVFIO_FEATURE_GET |
                                UVFIO_FEATURE_PRECOPY_INFO, v, sizeof(v));
    if (r < 0)
        return r;
    out->initial_bytes = v[0];
    out->dirty_bytes = v[1];
    return 0;
}

static size_t mig_chunk(struct uvfio_client *c, size_t left)
{
    uint64_t max = uvfio_client_caps(c)->max_data_xfer_size;

    return left < max ? left : (size_t)max;
}

/*
 * A reply whose data went straight into the caller's buffer came with only
 * its fixed part, so check here what proto checks of a whole reply: the
 * size it announces is the size that came.  Either way no more than asked.
 */
static int mig_check_reply(const struct uvfio_msg *m,
                           const struct uvfio_wire_mig_data *rep, size_t want)
{
    if (m->sunk && (m->len != sizeof(*rep) || rep->size != m->sunk)) {
        uvfio_warn("client: MIG_DATA_READ reply announces %u bytes, "
                   "brought %zu", rep->size, m->sunk);
        return -EPROTO;
    }
    if (rep->size > want) {
        uvfio_warn("client: MIG_DATA_READ of %zu returned %u bytes", want,
                   rep->size);
        return -EPROTO;
    }
    return 0;
}

/* One MIG_DATA_READ of `want` bytes: the bytes returned or -errno. */
static ssize_t mig_read_one(struct uvfio_client *c, uint8_t *buf,
                            size_t want)
{
    struct uvfio_wire_mig_data req = {
        .argsz = (uint32_t)(sizeof(req) + want), .size = (uint32_t)want,
    }, rep;
    struct iovec iov = { &req, sizeof(req) };
    /* The data lands in buf as it comes off the socket, not copied. */
    const struct uvfio_client_sink sink = {
        .skip = sizeof(rep), .buf = buf, .len = want,
    };
    struct uvfio_msg m;
    int r;

    uvfio_client_rx_reserve(c, UVFIO_HDR_SIZE + sizeof(rep) + want);
    r = uvfio_client_request_sink(c, UVFIO_CMD_MIG_DATA_READ, &iov, 1,
                                  &sink, &m);
    if (r < 0)
        return r;
    /* Whole, proto checked that the payload holds exactly rep.size bytes. */
    memcpy(&rep, m.payload, sizeof(rep));
    r = mig_check_reply(&m, &rep, want);
    if (r < 0) {
        uvfio_msg_free(&m);
        return r;
    }
    if (rep.size && !m.sunk)
        memcpy(buf, m.payload + sizeof(rep), rep.size);
    uvfio_msg_free(&m);
    return rep.size;
}

UVFIO_API ssize_t uvfio_client_mig_read(struct uvfio_client *c, void *buf,
                                        size_t len)
{
    uint8_t *p = buf;
    size_t done = 0, want;
    ssize_t n;

    if (len && !buf)
        return -EINVAL;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    while (done < len) {
        want = mig_chunk(c, len - done);
        n = mig_read_one(c, p + done, want);
        if (n < 0)
            /* What already arrived is the caller's; the error comes back
             * on the next call, as with read(2). */
            return done ? (ssize_t)done : n;
        done += (size_t)n;
        if ((size_t)n < want)
            break;      /* nothing more now, or the end of the stream */
    }
    return (ssize_t)done;
}

UVFIO_API int uvfio_client_mig_write(struct uvfio_client *c, const void *buf,
                                     size_t len)
{
    const uint8_t *p = buf;
    size_t done = 0, n;
    int r;

    if (len && !buf)
        return -EINVAL;
    while (done < len) {
        struct uvfio_wire_mig_data req;
        struct iovec iov[2];

        n = mig_chunk(c, len - done);
        req.argsz = (uint32_t)(sizeof(req) + n);
        req.size = (uint32_t)n;
        iov[0].iov_base = &req;
        iov[0].iov_len = sizeof(req);
        iov[1].iov_base = (void *)(p + done);
        iov[1].iov_len = n;
        r = uvfio_client_request(c, UVFIO_CMD_MIG_DATA_WRITE, iov, 2, NULL, 0,
                                 NULL);
        if (r < 0)
            return r;
        done += n;
    }
    return 0;
}
