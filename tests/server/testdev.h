/* SPDX-License-Identifier: MIT */
/*
 * tests/server/testdev.h - a small device for the server tests.
 *
 *   region 0  REGS    4 KiB   read/write, trapped (plain memory)
 *   region 1  MMAP    16 KiB  read/write/mmap, memfd-backed, sparse areas
 *                             [0, 4K) and [8K, 12K); trapped access reads
 *                             and writes the same memory
 *   region 2  DMA     64 B    read/write: the DMA engine (below)
 *   region 3  DMABUF  256 KiB read/write: the engine's buffer
 *   region 4  ROM     4 KiB   read only
 *
 *   IRQ 0     1 vector,  EVENTFD | MASKABLE | AUTOMASKED (a level line)
 *   IRQ 1     4 vectors, EVENTFD | MASKABLE | NORESIZE (MSI-like)
 *
 * DMA engine: writing 16 bytes {u64 iova; u32 len; u32 op} at offset 0 of
 * region 2 runs op 1 (guest memory -> DMABUF, uvfio_dma_read) or op 2
 * (DMABUF -> guest memory, uvfio_dma_write) inside the REGION_WRITE
 * handler, i.e. on the dispatch thread; the result (0 or -errno) is read
 * back as an s32 at offset 16.
 *
 * Feature 0x100 (the driver's own): GET returns 8 bytes "TESTFEAT".
 */
#ifndef TESTS_SERVER_TESTDEV_H
#define TESTS_SERVER_TESTDEV_H

#include <stdatomic.h>
#include <stdint.h>

#include <uvfio/device.h>

#define TD_REGS         0
#define TD_MMAP         1
#define TD_DMA          2
#define TD_DMABUF       3
#define TD_ROM          4
#define TD_NUM_REGIONS  5
#define TD_REGS_SIZE    4096u
#define TD_MMAP_SIZE    16384u
#define TD_DMA_SIZE     64u
#define TD_DMABUF_SIZE  (256u << 10)
#define TD_ROM_SIZE     4096u
#define TD_IRQ_LINE     0
#define TD_IRQ_MSI      1
#define TD_FEATURE      0x100u

#define TD_OP_READ      1u      /* guest -> DMABUF */
#define TD_OP_WRITE     2u      /* DMABUF -> guest */
#define TD_DMA_RESULT   16u

struct td_dma_cmd {
    uint64_t iova;
    uint32_t len;
    uint32_t op;
} __attribute__((packed));

struct testdev {
    struct uvfio_device *dev;
    uint8_t regs[TD_REGS_SIZE];
    uint8_t rom[TD_ROM_SIZE];
    uint8_t *dmabuf;
    int memfd;
    uint8_t *mmap;              /* the memfd, mapped */
    int32_t dma_result;
    int open_error;             /* open_device fails with this if set */
    atomic_int opens, closes, resets, unmaps;
};

/* 0 or -errno; name distinguishes devices in logs. */
int testdev_create(struct testdev *td, const char *name);
void testdev_destroy(struct testdev *td);

#endif /* TESTS_SERVER_TESTDEV_H */
