/* SPDX-License-Identifier: MIT */
/*
 * core/internal.h - what the other parts of the core (the PCI model,
 * migration, dirty logging) may use of a device.  They go through these
 * accessors, never through struct uvfio_device's fields, so each file keeps
 * its own state and the device struct stays the core's business.
 */
#ifndef UVFIO_CORE_INTERNAL_H
#define UVFIO_CORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/device.h>
#include <uvfio/pci.h>

#include "core.h"

/* The config the driver created the device with (ops, mig_ops, flags, ...;
 * pointers inside stay the driver's). */
const struct uvfio_device_config *uvfio_device_cfg(const struct uvfio_device *dev);

/* The PCI model attached to the device, NULL if none. */
struct uvfio_pci *uvfio_device_pci(const struct uvfio_device *dev);
void uvfio_device_set_pci(struct uvfio_device *dev, struct uvfio_pci *pci);

/* Per-device state slots owned by core/migration.c and core/dirty.c. */
void *uvfio_device_mig(const struct uvfio_device *dev);
void uvfio_device_set_mig(struct uvfio_device *dev, void *mig);
void *uvfio_device_log(const struct uvfio_device *dev);
void uvfio_device_set_log(struct uvfio_device *dev, void *log);

/*
 * (Added by dirty logging.)  The DMA table's lock: held shared around every
 * write into guest memory, exclusive while the table changes.  State that
 * DMA writers read - the dirty tracker - changes only with it exclusive.
 */
void uvfio_dma_table_lock(struct uvfio_device *dev, bool exclusive);
void uvfio_dma_table_unlock(struct uvfio_device *dev);
/* Lock held: fn for every map, in IOVA order, [iova, last] inclusive. */
void uvfio_dma_table_walk(struct uvfio_device *dev,
                          void (*fn)(void *opaque, uint64_t iova,
                                     uint64_t last),
                          void *opaque);

/* The attached client, NULL when none. */
const struct uvfio_core_client *uvfio_device_client(const struct uvfio_device *dev);

/* Reset everything the core owns about IRQs (masks, pending, levels) but
 * keep the client's eventfds, as a function reset does. */
void uvfio_irq_reset_state(struct uvfio_device *dev);

/*
 * The host wants the device back (the server is removing it while a client
 * is attached): the driver's request op, or by default a signal on the
 * client's REQ eventfd (PCI IRQ index 4), repeated by the caller with a
 * growing count.  (Added by the device core: the kernel's vfio_device
 * request path had no internal entry point in these headers.)
 */
void uvfio_device_request(struct uvfio_device *dev, unsigned int count);

#endif /* UVFIO_CORE_INTERNAL_H */
