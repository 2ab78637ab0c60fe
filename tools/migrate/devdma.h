/* SPDX-License-Identifier: MIT */
/*
 * migrate/devdma.h - the guest's driver for uvfio-edu's copy queue: the
 * device DMA that writes guest memory during a live migration
 * (--device-dma-rate).  What a guest kernel would do: find the device by
 * its PCI IDs, turn on bus mastering, program the queue's window and
 * rate, enable it.  Only uvfio-edu has such a queue; any other device is
 * -ENODEV.
 */
#ifndef UVFIO_TOOLS_MIGRATE_DEVDMA_H
#define UVFIO_TOOLS_MIGRATE_DEVDMA_H

#include <stdint.h>

#include <uvfio/client.h>

struct devdma_status {
    uint32_t status;            /* EDU_CQ_STATUS_* */
    uint32_t error;             /* errno that stopped it, or 0 */
    uint64_t passes, pos, bytes;
};

/* Write [iova, iova + size) again and again at rate bytes/s (rounded to
 * KiB/s, at least 1).  iova and size 4 KiB aligned. */
int devdma_start(struct uvfio_client *c, uint64_t iova, uint64_t size,
                 uint64_t rate);
int devdma_status(struct uvfio_client *c, struct devdma_status *st);

#endif /* UVFIO_TOOLS_MIGRATE_DEVDMA_H */
