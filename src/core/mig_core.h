/* SPDX-License-Identifier: MIT */
/*
 * core/mig_core.h - hooks between the device core and migration
 * (core/migration.c, core/feature.c).  The device core calls these at the
 * points of a device's life that end or reset migration; migration keeps
 * its state in the device's mig slot (core/internal.h).
 */
#ifndef UVFIO_CORE_MIG_CORE_H
#define UVFIO_CORE_MIG_CORE_H

#include <uvfio/device.h>

/* uvfio_device_create: validate cfg->mig_ops / migration_flags (-EINVAL on
 * a driver error such as PRE_COPY without STOP_COPY) and set up state. */
int uvfio_mig_init(struct uvfio_device *dev);
void uvfio_mig_destroy(struct uvfio_device *dev);
/* DEVICE_RESET: migration state back to RUNNING, any stream ended. */
void uvfio_mig_on_reset(struct uvfio_device *dev);
/* The client detached: any stream ended (reads/writes of it fail). */
void uvfio_mig_on_detach(struct uvfio_device *dev);

#endif /* UVFIO_CORE_MIG_CORE_H */
