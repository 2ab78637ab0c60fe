/* SPDX-License-Identifier: MIT */
/*
 * core/feature.c - DEVICE_FEATURE dispatch (first cut: header checks and
 * the driver's own features; the migration features follow).
 */
#include <errno.h>
#include <stddef.h>

#include "internal.h"

#define FEATURE_KNOWN_FLAGS (UVFIO_FEATURE_MASK | UVFIO_FEATURE_GET | \
                             UVFIO_FEATURE_SET | UVFIO_FEATURE_PROBE)

int uvfio_core_feature(struct uvfio_device *dev, uint32_t argsz,
                       uint32_t flags, const void *payload, size_t len,
                       struct uvfio_buf *rep)
{
    (void)dev;
    (void)payload;
    (void)len;
    (void)rep;
    if (argsz < 8 || (flags & ~FEATURE_KNOWN_FLAGS))
        return -EINVAL;
    return -ENOTTY;
}
