/* SPDX-License-Identifier: MIT */
/*
 * tests/client/e2e_dev.h - the device behind the client's end-to-end test.
 *
 *   region 0  REGS   4 KiB   read/write, trapped memory
 *   region 1  WIN    16 KiB  read/write/mmap: memfd-backed, sparse areas
 *                            [0, 4K) and [8K, 12K); trapped accesses see the
 *                            same bytes as the mapping
 *   region 2  CTL    32 B    write {u64 iova; u32 len; u32 op} at 0 to run
 *                            a DMA inside the write handler (op 1: guest ->
 *                            BUF, op 2: BUF -> guest); op 3 triggers IRQ 0
 *                            vector `len`; the s32 result reads back at 16
 *   region 3  BUF    64 KiB  read/write, trapped memory: the DMA buffer
 *
 *   IRQ 0     4 vectors, EVENTFD
 */
#ifndef UVFIO_TESTS_CLIENT_E2E_DEV_H
#define UVFIO_TESTS_CLIENT_E2E_DEV_H

#include <stdatomic.h>
#include <stdint.h>

#include <uvfio/device.h>

#define E2E_REGS        0
#define E2E_WIN         1
#define E2E_CTL         2
#define E2E_BUF         3
#define E2E_NUM_REGIONS 4
#define E2E_REGS_SIZE   4096u
#define E2E_WIN_SIZE    16384u
#define E2E_CTL_SIZE    32u
#define E2E_BUF_SIZE    (64u << 10)
#define E2E_IRQ_VECTORS 4u

#define E2E_OP_TO_BUF   1u
#define E2E_OP_TO_GUEST 2u
#define E2E_OP_IRQ      3u
#define E2E_RESULT      16u

struct e2e_cmd {
    uint64_t iova;
    uint32_t len;
    uint32_t op;
} __attribute__((packed));

struct e2e_dev {
    struct uvfio_device *dev;
    uint8_t regs[E2E_REGS_SIZE];
    uint8_t buf[E2E_BUF_SIZE];
    int memfd;
    uint8_t *win;               /* the memfd, mapped here */
    int32_t result;
    atomic_int resets;
};

int e2e_dev_create(struct e2e_dev *d);
void e2e_dev_destroy(struct e2e_dev *d);

#endif /* UVFIO_TESTS_CLIENT_E2E_DEV_H */
