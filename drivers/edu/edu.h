/* SPDX-License-Identifier: MIT */
/*
 * edu/edu.h - uvfio-edu: QEMU's edu PCI device (1234:11e8) with a copy
 * queue, migratable (STOP_COPY, P2P, PRE_COPY).  docs/uvfio-edu.md has the
 * register map; regs.h has it as constants.
 */
#ifndef UVFIO_EDU_EDU_H
#define UVFIO_EDU_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/device.h>

struct edu;

struct edu_opts {
    uint64_t dma_mask;          /* DMA engine address mask; 0: edu's 28 bits */
    uint64_t cq_addr;           /* power-on copy-queue window and rate */
    uint64_t cq_size;
    uint32_t cq_rate;           /* KiB/s */
    bool verbose;               /* report guest errors on stderr */
};

/* `o` may be NULL for the defaults. */
int edu_create(const struct edu_opts *o, struct edu **out);
/* The device must no longer be served. */
void edu_destroy(struct edu *e);
struct uvfio_device *edu_device(struct edu *e);

#endif /* UVFIO_EDU_EDU_H */
