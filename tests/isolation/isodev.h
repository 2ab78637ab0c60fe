/* SPDX-License-Identifier: MIT */
/*
 * tests/isolation/isodev.h - the device uvfio-test-isoserver serves, as
 * the tests see it.
 *
 * Every device has an identity it cannot hide, so that an answer from the
 * wrong device (cross-talk) or a corrupted one is caught by every check:
 *
 *   region 0  ID    4 KiB read only: u32 ISO_ID_MAGIC + index at 0, then
 *                   byte k = iso_id_byte(index, k)
 *   region 1  REGS  64 bytes read/write: a DMA engine
 *   region 2  RAM   64 KiB read/write scratch
 *
 * DMA engine registers (little endian):
 *   0x00 ADDR   u64  guest IOVA
 *   0x08 LEN    u32  bytes, at most ISO_DMA_MAX
 *   0x0c SEED   u32  first byte of the pattern a write command writes
 *   0x10 CMD    u32  writing it starts a command:
 *                    1 read ADDR..+LEN and hash it, 2 write the pattern
 *                    SEED, SEED+1, ... there - both inside the REGION_WRITE
 *                    handler, on the server's dispatch thread;
 *                    3 and 4 the same on a worker thread of the device
 *   0x14 STATUS i32  0 or -errno of the last command; ISO_BUSY while a
 *                    worker command runs
 *   0x18 HASH   u32  FNV-1a of what the last read saw
 */
#ifndef TESTS_ISOLATION_ISODEV_H
#define TESTS_ISOLATION_ISODEV_H

#include <stddef.h>
#include <stdint.h>

#define ISO_REGION_ID       0
#define ISO_REGION_REGS     1
#define ISO_REGION_RAM      2
#define ISO_NUM_REGIONS     3

#define ISO_ID_SIZE         4096u
#define ISO_REGS_SIZE       64u
#define ISO_RAM_SIZE        (64u << 10)
#define ISO_DMA_MAX         (256u << 10)

#define ISO_ID_MAGIC        0x150d0000u

#define ISO_REG_ADDR        0x00
#define ISO_REG_LEN         0x08
#define ISO_REG_SEED        0x0c
#define ISO_REG_CMD         0x10
#define ISO_REG_STATUS      0x14
#define ISO_REG_HASH        0x18

#define ISO_CMD_READ        1u
#define ISO_CMD_WRITE       2u
#define ISO_CMD_READ_BG     3u
#define ISO_CMD_WRITE_BG    4u
#define ISO_BUSY            1

static inline uint8_t iso_id_byte(unsigned int index, size_t k)
{
    return (uint8_t)(index * 13u + k * 7u + 1u);
}

static inline uint32_t iso_fnv1a(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

#endif /* TESTS_ISOLATION_ISODEV_H */
