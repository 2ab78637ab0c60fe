/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_dev.h - the device the server is fuzzed with.
 *
 * It is built to give a client something to reach in every part of the
 * core: a PCIe function with PM, MSI, MSI-X, PCIe and a vendor extended
 * capability; a trapped register BAR whose command block makes the device
 * do DMA, pin guest memory and raise interrupts; an mmappable memfd-backed
 * BAR with sparse areas; a vendor-typed device-specific region; migration
 * with all three flags and a framed state image; and a driver feature.
 *
 * BAR0 command block (little-endian):
 *   0x00 IOVA  u64    guest address of the operation
 *   0x08 LEN   u32    bytes (DMA, pin), vector, level or index<<8|vector
 *   0x0c OP    u32    a write covering this byte runs the operation
 *   0x10 RESULT i32   0 or -errno of the last operation
 * Operations: 1 DMA read into the device buffer, 2 DMA write from it,
 * 3 pin [IOVA, IOVA+LEN) writable and scribble on it, 4 unpin,
 * 5 pci_notify(LEN), 6 INTx level LEN&1, 7 irq_trigger(LEN>>8, LEN&0xff).
 * At most FZ_DEV_MAX_OPS operations run per device lifetime, so one input
 * cannot buy unbounded DMA waits.
 */
#ifndef UVFIO_FUZZ_FZ_DEV_H
#define UVFIO_FUZZ_FZ_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#define FZ_BAR0_SIZE        4096u
#define FZ_BAR2_SIZE        (16u << 10)
#define FZ_BAR4_SIZE        4096u
#define FZ_MSIX_PBA_OFFSET  0x800u
#define FZ_VENDOR_REGION    9u
#define FZ_VENDOR_SIZE      256u
#define FZ_NUM_REGIONS      10u
#define FZ_MSI_VECTORS      4u
#define FZ_MSIX_VECTORS     8u

#define FZ_REG_IOVA         0x00u
#define FZ_REG_LEN          0x08u
#define FZ_REG_OP           0x0cu
#define FZ_REG_RESULT       0x10u

enum fz_op {
    FZ_OP_DMA_READ = 1,
    FZ_OP_DMA_WRITE,
    FZ_OP_PIN,
    FZ_OP_UNPIN,
    FZ_OP_NOTIFY,
    FZ_OP_INTX,
    FZ_OP_TRIGGER,
};

#define FZ_DEV_DMA_MAX      4096u
#define FZ_DEV_MAX_OPS      16u

/* A driver feature outside the core's: GET/SET of 8 scratch bytes. */
#define FZ_FEATURE_SCRATCH  0x0200u

/* Image magic of the migration stream. */
#define FZ_MIG_MAGIC        0x7a7a2d7566757a7aull

struct fz_dev;

/* A fresh device; NULL on failure. */
struct fz_dev *fz_dev_new(void);
void fz_dev_free(struct fz_dev *d);
struct uvfio_device *fz_dev_device(struct fz_dev *d);
/* The device's current state as one framed migration image, as a saving
 * stream would carry it (for seed inputs).  *out is malloc'd. */
int fz_dev_image(struct fz_dev *d, uint8_t **out, size_t *len);

#endif /* UVFIO_FUZZ_FZ_DEV_H */
