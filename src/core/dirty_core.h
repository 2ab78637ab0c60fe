/* SPDX-License-Identifier: MIT */
/*
 * core/dirty_core.h - hooks between the device core and DMA dirty logging
 * (core/dirty*.c).  The device core calls these where a device is created
 * and destroyed, where its client goes, where guest memory is written and
 * mapped, and for the DEVICE_FEATURE and DMA_UNMAP requests that belong to
 * logging.  Logging keeps its state in the device's log slot
 * (core/internal.h).
 *
 * The tracker that DMA writers mark is created and dropped only with the
 * DMA table's lock held exclusive, and marked only with it held shared, so
 * no writer can touch a bitmap that is being freed.
 */
#ifndef UVFIO_CORE_DIRTY_CORE_H
#define UVFIO_CORE_DIRTY_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <uvfio/device.h>

#include "proto/buf.h"
#include "proto/wire.h"

/* uvfio_device_create: check cfg->log_ops (-EINVAL for a table without its
 * three callbacks) and set up the state. */
int uvfio_dirty_init(struct uvfio_device *dev);
void uvfio_dirty_destroy(struct uvfio_device *dev);

/* The client went away: logging stops (the driver's log_stop included). */
void uvfio_dirty_on_detach(struct uvfio_device *dev);

/* The device wrote [iova, iova + len) of guest memory.  DMA table lock
 * held shared; any thread. */
void uvfio_dirty_mark(struct uvfio_device *dev, uint64_t iova, uint64_t len);

/* A window [iova, last] joined the DMA table: logged from now on when the
 * client asked to log everything.  DMA table lock held exclusive. */
void uvfio_dirty_map_added(struct uvfio_device *dev, uint64_t iova,
                           uint64_t last);

/* DEVICE_FEATURE 6/7/8, after the generic header checks (semantics §6). */
int uvfio_dirty_feature(struct uvfio_device *dev, uint32_t argsz,
                        uint32_t flags, const void *payload, size_t len,
                        struct uvfio_buf *rep);

/*
 * DMA_UNMAP with GET_DIRTY_BITMAP.  prepare, before anything is unmapped:
 * check the bitmap descriptor in `trailer` and that logging is on, and
 * give the reply bytes the bitmap will add.  bitmap, once the map is gone:
 * append the descriptor and the read-and-cleared bits of the range.
 */
int uvfio_dirty_unmap_prepare(struct uvfio_device *dev,
                              const struct uvfio_wire_dma_unmap *req,
                              const void *trailer, size_t trailer_len,
                              size_t *reply_extra);
int uvfio_dirty_unmap_bitmap(struct uvfio_device *dev,
                             const struct uvfio_wire_dma_unmap *req,
                             const void *trailer, struct uvfio_buf *rep);

#endif /* UVFIO_CORE_DIRTY_CORE_H */
