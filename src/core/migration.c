/* SPDX-License-Identifier: MIT */
/*
 * core/migration.c - migration v2 state of a device (first cut: only
 * validation of the driver's declaration; the FSM and streams follow).
 */
#include <errno.h>
#include <stddef.h>

#include <uvfio/migration.h>

#include "internal.h"
#include "mig_core.h"

#define MIG_KNOWN_FLAGS (UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P | \
                         UVFIO_MIGRATION_PRE_COPY)

int uvfio_mig_init(struct uvfio_device *dev)
{
    const struct uvfio_device_config *cfg = uvfio_device_cfg(dev);

    if (!cfg->mig_ops)
        return cfg->migration_flags ? -EINVAL : 0;
    if (!(cfg->migration_flags & UVFIO_MIGRATION_STOP_COPY) ||
        (cfg->migration_flags & ~MIG_KNOWN_FLAGS))
        return -EINVAL;
    return 0;
}

void uvfio_mig_destroy(struct uvfio_device *dev)
{
    (void)dev;
}

void uvfio_mig_on_reset(struct uvfio_device *dev)
{
    (void)dev;
}

void uvfio_mig_on_detach(struct uvfio_device *dev)
{
    (void)dev;
}

int uvfio_core_mig_data_read(struct uvfio_device *dev,
                             const struct uvfio_wire_mig_data *req,
                             struct uvfio_buf *rep)
{
    (void)req;
    (void)rep;
    return uvfio_device_cfg(dev)->mig_ops ? -EINVAL : -ENOTTY;
}

int uvfio_core_mig_data_write(struct uvfio_device *dev,
                              const struct uvfio_wire_mig_data *req,
                              const void *data, size_t len)
{
    (void)req;
    (void)data;
    (void)len;
    return uvfio_device_cfg(dev)->mig_ops ? -EINVAL : -ENOTTY;
}
