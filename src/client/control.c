/* SPDX-License-Identifier: MIT */
/*
 * client/control.c - DEVICE_RESET and DEVICE_FEATURE.
 *
 * DEVICE_FEATURE is sent as {argsz = 8 + len, flags} followed by the
 * caller's `len` bytes: argsz is the room the client has for the reply, as
 * the argsz convention says.  A GET must come back with exactly `len` bytes
 * of feature data - the caller sized the buffer for the feature it asked
 * about - which are copied back into `data`.  SET and PROBE replies (an
 * echo) are checked for shape only.
 */
#include <errno.h>
#include <string.h>

#include "client_priv.h"
#include "util/log.h"

UVFIO_API int uvfio_client_reset(struct uvfio_client *c)
{
    return uvfio_client_request(c, UVFIO_CMD_DEVICE_RESET, NULL, 0, NULL, 0,
                                NULL);
}

static int copy_get_reply(const struct uvfio_msg *m, uint32_t flags,
                          void *data, size_t len)
{
    size_t got = m->len - sizeof(struct uvfio_wire_feature);

    if (got != len) {
        uvfio_warn("client: feature %u GET returned %zu bytes, expected %zu",
                   flags & UVFIO_FEATURE_MASK, got, len);
        return -EPROTO;
    }
    if (len)
        memcpy(data, m->payload + sizeof(struct uvfio_wire_feature), len);
    return 0;
}

UVFIO_API int uvfio_client_feature(struct uvfio_client *c, uint32_t flags,
                                   void *data, size_t len)
{
    struct uvfio_wire_feature f = { .flags = flags };
    struct iovec iov[2] = {
        { &f, sizeof(f) },
        { data, len },
    };
    bool get = (flags & (UVFIO_FEATURE_GET | UVFIO_FEATURE_PROBE)) ==
               UVFIO_FEATURE_GET;
    struct uvfio_msg m;
    int r;

    if ((len && !data) || len > UINT32_MAX - sizeof(f))
        return -EINVAL;
    f.argsz = (uint32_t)(sizeof(f) + len);
    if (get)
        uvfio_client_rx_reserve(c, UVFIO_HDR_SIZE + sizeof(f) + len);
    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_FEATURE, iov, len ? 2 : 1,
                             NULL, 0, &m);
    if (r < 0)
        return r;
    if (get)
        r = copy_get_reply(&m, flags, data, len);
    uvfio_msg_free(&m);
    return r;
}
