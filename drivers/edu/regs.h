/* SPDX-License-Identifier: MIT */
/*
 * edu/regs.h - the register map of uvfio-edu's BAR0 (docs/uvfio-edu.md).
 *
 * 0x000-0x0ff are QEMU's edu device, register for register; 0x1000 and up
 * are uvfio's additions: a DMA error register and the copy queue.  This
 * header is the device's interface to guest drivers and to the tests.
 */
#ifndef UVFIO_EDU_REGS_H
#define UVFIO_EDU_REGS_H

/* PCI identity: QEMU's edu. */
#define EDU_VENDOR_ID           0x1234
#define EDU_DEVICE_ID           0x11e8
#define EDU_SUBSYS_VENDOR_ID    0x1af4  /* what QEMU gives every function */
#define EDU_SUBSYS_ID           0x1100
#define EDU_REVISION            0x10
#define EDU_CLASS_CODE          0x00ff00 /* base 0x00, sub 0xff: "other" */
#define EDU_BAR_SIZE            0x100000 /* BAR0: 1 MiB MMIO */

/* ---- edu (0x00-0xff) --------------------------------------------------- */

#define EDU_REG_ID              0x00    /* RO 0xRRrr00ed */
#define EDU_REG_LIVENESS        0x04    /* RW reads back ~written */
#define EDU_REG_FACT            0x08    /* RW write n, read n! (mod 2^32) */
#define EDU_REG_STATUS          0x20    /* RW */
#define EDU_REG_IRQ_STATUS      0x24    /* RO */
#define EDU_REG_IRQ_RAISE       0x60    /* WO OR into IRQ_STATUS */
#define EDU_REG_IRQ_ACK         0x64    /* WO clear from IRQ_STATUS */
#define EDU_REG_DMA_SRC         0x80    /* RW 64-bit */
#define EDU_REG_DMA_DST         0x88    /* RW 64-bit */
#define EDU_REG_DMA_CNT         0x90    /* RW 64-bit */
#define EDU_REG_DMA_CMD         0x98    /* RW */

/* Below this offset only 4-byte accesses exist; from it on 4 and 8. */
#define EDU_WIDE_REGS_START     0x80

#define EDU_ID_VALUE            0x010000edu     /* version 1.0 */

#define EDU_STATUS_COMPUTING    0x01u   /* RO; never seen set: see docs */
#define EDU_STATUS_IRQFACT      0x80u   /* raise EDU_IRQ_FACT when done */

#define EDU_IRQ_FACT            0x00000001u
#define EDU_IRQ_DMA             0x00000100u

#define EDU_DMA_CMD_RUN         0x1u    /* start / still pending */
#define EDU_DMA_CMD_TO_RAM      0x2u    /* direction: 0 RAM->EDU, 1 EDU->RAM */
#define EDU_DMA_CMD_IRQ         0x4u    /* raise EDU_IRQ_DMA when done */
#define EDU_DMA_CMD_MASK        0x7u

/* The DMA buffer, in the device's DMA address space (not in the BAR). */
#define EDU_DMA_BUF_ADDR        0x40000u
#define EDU_DMA_BUF_SIZE        4096u

/* edu's default DMA mask: 28 bits of address (256 MiB). */
#define EDU_DEFAULT_DMA_MASK    ((1ull << 28) - 1)

/* ---- uvfio additions (0x1000-) ------------------------------------------ */

#define EDU_REG_EXT_VERSION     0x1000  /* RO 1 */
#define EDU_REG_DMA_ERROR       0x1008  /* RO errno of the last DMA, 0 ok */
#define EDU_REG_DMA_MASK        0x1010  /* RO 64-bit */

#define EDU_EXT_VERSION         1u

/* The copy queue: a DMA engine that keeps writing a window of guest
 * memory at a set rate (docs/uvfio-edu.md, "Copy queue"). */
#define EDU_REG_CQ_ADDR         0x1100  /* RW 64-bit, 4 KiB aligned */
#define EDU_REG_CQ_SIZE         0x1108  /* RW 64-bit, multiple of 4 KiB */
#define EDU_REG_CQ_RATE         0x1110  /* RW KiB/s */
#define EDU_REG_CQ_CTRL         0x1118  /* RW */
#define EDU_REG_CQ_STATUS       0x1120  /* RO */
#define EDU_REG_CQ_ERROR        0x1128  /* RO errno that stopped the queue */
#define EDU_REG_CQ_PASSES       0x1130  /* RO 64-bit completed passes */
#define EDU_REG_CQ_POS          0x1138  /* RO 64-bit next page of this pass */
#define EDU_REG_CQ_BYTES        0x1140  /* RO 64-bit written since configured */

#define EDU_CQ_CTRL_ENABLE      0x1u

#define EDU_CQ_STATUS_ACTIVE    0x1u    /* enabled and writing */
#define EDU_CQ_STATUS_PAUSED    0x2u    /* enabled, held by migration */
#define EDU_CQ_STATUS_ERROR     0x4u    /* stopped by an error: CQ_ERROR */

#define EDU_CQ_PAGE_SIZE        4096u
#define EDU_CQ_MAX_RATE         0x1000000u      /* KiB/s: 16 GiB/s */

#endif /* UVFIO_EDU_REGS_H */
