/* SPDX-License-Identifier: MIT */
/*
 * core/feature.c - DEVICE_FEATURE (vfio-user command 16): the framework of
 * semantics §6 and the features the core owns.
 *
 * The header {argsz, flags} is checked here once for every feature; each
 * core feature declares the operations it supports and its payload size,
 * so its handler only produces or consumes the payload.  Features the core
 * does not own go to the driver's device_feature op, as the kernel passes
 * them to the driver.
 *
 * Replies: GET -> {argsz = 8 + payload, flags} + payload; SET and PROBE ->
 * an echo of the request.
 */
#include <errno.h>
#include <string.h>

#include "dirty_core.h"
#include "internal.h"
#include "mig.h"
#include "proto/version.h"

#define FEATURE_HDR         sizeof(struct uvfio_wire_feature)
#define FEATURE_KNOWN_FLAGS (UVFIO_FEATURE_MASK | UVFIO_FEATURE_GET | \
                             UVFIO_FEATURE_SET | UVFIO_FEATURE_PROBE)
#define FEATURE_GET_SET     (UVFIO_FEATURE_GET | UVFIO_FEATURE_SET)

struct feature_precopy_info {
    uint64_t initial_bytes;
    uint64_t dirty_bytes;
} UVFIO_PACKED;

struct core_feature {
    uint16_t index;
    uint32_t ops;               /* the GET/SET bits it supports */
    size_t minsz;               /* payload bytes it needs */
    /* GET: write minsz bytes to out.  SET: read minsz bytes of in. */
    int (*get)(struct uvfio_mig *m, void *out);
    int (*set)(struct uvfio_mig *m, const void *in);
};

static int get_migration(struct uvfio_mig *m, void *out)
{
    struct uvfio_wire_feature_migration f = { .flags = m->flags };

    memcpy(out, &f, sizeof(f));
    return 0;
}

static int get_mig_state(struct uvfio_mig *m, void *out)
{
    struct uvfio_wire_feature_mig_state f = { .data_fd = UINT32_MAX };

    uvfio_mig_lock(m);
    f.device_state = m->state;
    uvfio_mig_unlock(m);
    memcpy(out, &f, sizeof(f));
    return 0;
}

static int set_mig_state(struct uvfio_mig *m, const void *in)
{
    struct uvfio_wire_feature_mig_state f;
    int ret;

    memcpy(&f, in, sizeof(f));
    uvfio_mig_lock(m);
    ret = uvfio_mig_set_state(m, f.device_state);
    uvfio_mig_unlock(m);
    return ret;
}

static int get_mig_data_size(struct uvfio_mig *m, void *out)
{
    struct uvfio_wire_feature_mig_data_size f;
    uint64_t len = 0;
    int ret;

    ret = uvfio_mig_feature_data_size(m, &len);
    f.stop_copy_length = len;
    memcpy(out, &f, sizeof(f));
    return ret;
}

static int get_precopy_info(struct uvfio_mig *m, void *out)
{
    struct uvfio_mig_precopy_info info = { 0, 0 };
    struct feature_precopy_info f;
    int ret;

    ret = uvfio_mig_feature_precopy_info(m, &info);
    f.initial_bytes = info.initial_bytes;
    f.dirty_bytes = info.dirty_bytes;
    memcpy(out, &f, sizeof(f));
    return ret;
}

static const struct core_feature core_features[] = {
    { UVFIO_FEATURE_MIGRATION, UVFIO_FEATURE_GET,
      sizeof(struct uvfio_wire_feature_migration), get_migration, NULL },
    { UVFIO_FEATURE_MIG_DEVICE_STATE, FEATURE_GET_SET,
      sizeof(struct uvfio_wire_feature_mig_state), get_mig_state,
      set_mig_state },
    { UVFIO_FEATURE_MIG_DATA_SIZE, UVFIO_FEATURE_GET,
      sizeof(struct uvfio_wire_feature_mig_data_size), get_mig_data_size,
      NULL },
    { UVFIO_FEATURE_PRECOPY_INFO, UVFIO_FEATURE_GET,
      sizeof(struct feature_precopy_info), get_precopy_info, NULL },
};

static bool client_has(struct uvfio_device *dev, uint32_t ext)
{
    const struct uvfio_core_client *cl = uvfio_device_client(dev);

    return cl && (cl->extensions & ext);
}

/* The core feature `index` names for this client, NULL if none. */
static const struct core_feature *feature_find(struct uvfio_device *dev,
                                               uint32_t index)
{
    size_t i;

    /* A private extension is invisible to a client that did not ask for
     * it: the index is then as unknown as any other. */
    if (index == UVFIO_FEATURE_PRECOPY_INFO &&
        !client_has(dev, UVFIO_EXT_PRECOPY_INFO))
        return NULL;
    for (i = 0; i < sizeof(core_features) / sizeof(core_features[0]); i++)
        if (core_features[i].index == index)
            return &core_features[i];
    return NULL;
}

/* Append the echo of a request: the SET and PROBE reply. */
static int feature_echo(uint32_t argsz, uint32_t flags, const void *payload,
                        size_t len, struct uvfio_buf *rep)
{
    struct uvfio_wire_feature hdr = { .argsz = argsz, .flags = flags };
    int ret;

    ret = uvfio_buf_append(rep, &hdr, sizeof(hdr));
    if (!ret && len)
        ret = uvfio_buf_append(rep, payload, len);
    return ret;
}

/* Semantics §6: 1 to go on, 0 when a PROBE is answered, or -errno. */
static int feature_check(const struct core_feature *f, uint32_t argsz,
                         uint32_t flags, size_t len)
{
    if ((flags & FEATURE_GET_SET) & ~f->ops)
        return -EINVAL;
    if (flags & UVFIO_FEATURE_PROBE)
        return 0;
    if (!(flags & FEATURE_GET_SET))
        return -EINVAL;
    if (argsz - FEATURE_HDR < f->minsz)
        return -EINVAL;
    /* A SET must carry its payload, not merely announce it. */
    if ((flags & UVFIO_FEATURE_SET) && len < f->minsz)
        return -EINVAL;
    return 1;
}

static int feature_get(const struct core_feature *f, struct uvfio_mig *m,
                       uint32_t flags, struct uvfio_buf *rep)
{
    struct uvfio_wire_feature hdr = {
        .argsz = (uint32_t)(FEATURE_HDR + f->minsz), .flags = flags,
    };
    size_t start = rep->len;
    uint8_t *out;
    int ret;

    out = uvfio_buf_extend(rep, FEATURE_HDR + f->minsz);
    if (!out)
        return -ENOMEM;
    memcpy(out, &hdr, sizeof(hdr));
    ret = f->get(m, out + FEATURE_HDR);
    if (ret)
        rep->len = start;
    return ret;
}

static int feature_core(struct uvfio_device *dev, const struct core_feature *f,
                        uint32_t argsz, uint32_t flags, const void *payload,
                        size_t len, struct uvfio_buf *rep)
{
    struct uvfio_mig *m = uvfio_mig_get(dev);
    int ret;

    /* Every core feature today is a migration feature. */
    if (!m)
        return -ENOTTY;
    ret = feature_check(f, argsz, flags, len);
    if (ret <= 0)
        return ret ? ret : feature_echo(argsz, flags, payload, len, rep);
    if (flags & UVFIO_FEATURE_GET)
        return feature_get(f, m, flags, rep);
    ret = f->set(m, payload);
    return ret ? ret : feature_echo(argsz, flags, payload, len, rep);
}

/*
 * A feature the core does not own: the driver's.  A GET hands it a
 * buffer of argsz - 8 bytes (bounded like any transfer) holding what the
 * client sent; SET and PROBE hand it the payload received.
 */
static int feature_driver(struct uvfio_device *dev, uint32_t argsz,
                          uint32_t flags, const void *payload, size_t len,
                          struct uvfio_buf *rep)
{
    const struct uvfio_device_ops *ops = uvfio_device_cfg(dev)->ops;
    const struct uvfio_core_client *cl = uvfio_device_client(dev);
    uint64_t max = cl ? cl->max_data_xfer : UVFIO_DEFAULT_MAX_DATA_XFER;
    size_t start = rep->len, size = len;
    struct uvfio_wire_feature *hdr;
    int ret;

    if (!ops || !ops->device_feature)
        return -ENOTTY;
    if ((flags & UVFIO_FEATURE_GET) && !(flags & UVFIO_FEATURE_PROBE))
        size = argsz - FEATURE_HDR;
    if (size > max)
        return -EINVAL;

    hdr = uvfio_buf_extend(rep, FEATURE_HDR + size);
    if (!hdr)
        return -ENOMEM;
    hdr->argsz = (uint32_t)(FEATURE_HDR + size);
    hdr->flags = flags;
    if (len)
        memcpy(hdr + 1, payload, len < size ? len : size);
    ret = ops->device_feature(dev, flags, hdr + 1, size);
    if (ret > 0)
        ret = -EIO;
    if (ret)
        rep->len = start;
    return ret;
}

int uvfio_core_feature(struct uvfio_device *dev, uint32_t argsz,
                       uint32_t flags, const void *payload, size_t len,
                       struct uvfio_buf *rep)
{
    const struct core_feature *f;
    uint32_t index = flags & UVFIO_FEATURE_MASK;

    if (argsz < FEATURE_HDR || (flags & ~FEATURE_KNOWN_FLAGS))
        return -EINVAL;
    if ((flags & FEATURE_GET_SET) == FEATURE_GET_SET &&
        !(flags & UVFIO_FEATURE_PROBE))
        return -EINVAL;

    /* DMA logging (6/7/8) is core/dirty.c's, for every device. */
    if (index == UVFIO_FEATURE_DMA_LOGGING_START ||
        index == UVFIO_FEATURE_DMA_LOGGING_STOP ||
        index == UVFIO_FEATURE_DMA_LOGGING_REPORT)
        return uvfio_dirty_feature(dev, argsz, flags, payload, len, rep);

    f = feature_find(dev, index);
    if (f)
        return feature_core(dev, f, argsz, flags, payload, len, rep);
    return feature_driver(dev, argsz, flags, payload, len, rep);
}
