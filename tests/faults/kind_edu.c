// SPDX-License-Identifier: MIT
/*
 * tests/faults/kind_edu.c - uvfio-edu as a fault-campaign device.
 *
 * The guest lends the device some memory, has the DMA engine copy 4 KiB
 * of random bytes into its buffer, takes the memory back and programs the
 * registers with random values (the copy queue configured but off, so
 * nothing moves afterwards).  At the next round, on whichever server the
 * device then lives, the engine must write that buffer back out byte for
 * byte.  Its image - registers, buffer, the queue's configuration, the
 * PCI function - is some 4.5 KiB, a stream of many chunks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "regs.h"
#include "rig.h"

#define BAR0            UVFIO_PCI_BAR0_REGION
#define CFG             UVFIO_PCI_CONFIG_REGION
#define PCI_COMMAND     0x04
#define PCI_CMD_MEM     0x0002
#define PCI_CMD_MASTER  0x0004

#define GUEST_IOVA      0x100000ull
#define GUEST_SIZE      (4 * EDU_DMA_BUF_SIZE)

static int rd32(struct uvfio_client *c, uint32_t reg, uint32_t *v)
{
    return uvfio_client_region_read(c, BAR0, reg, v, 4) == 4 ? 0 : -EIO;
}

static int wr32(struct uvfio_client *c, uint32_t reg, uint32_t v)
{
    return uvfio_client_region_write(c, BAR0, reg, &v, 4) == 4 ? 0 : -EIO;
}

static int wr64(struct uvfio_client *c, uint32_t reg, uint64_t v)
{
    return uvfio_client_region_write(c, BAR0, reg, &v, 8) == 8 ? 0 : -EIO;
}

/* Memory decoding for the BAR, bus mastering for the DMA engine. */
static int enable(struct uvfio_client *c)
{
    uint16_t cmd = 0;

    if (uvfio_client_region_read(c, CFG, PCI_COMMAND, &cmd, 2) != 2)
        return -EIO;
    cmd |= PCI_CMD_MEM | PCI_CMD_MASTER;
    if (uvfio_client_region_write(c, CFG, PCI_COMMAND, &cmd, 2) != 2)
        return -EIO;
    return 0;
}

/* One DMA command between the buffer and guest memory; it runs before
 * the write to DMA_CMD returns. */
static int dma(struct uvfio_client *c, uint64_t src, uint64_t dst,
               uint32_t cmd)
{
    uint32_t err = 0;
    int ret;

    ret = wr64(c, EDU_REG_DMA_SRC, src);
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_DST, dst);
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_CNT, EDU_DMA_BUF_SIZE);
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | cmd);
    if (!ret)
        ret = rd32(c, EDU_REG_DMA_ERROR, &err);
    return ret ? ret : -(int)err;
}

/* The buffer out to memory: it must be what the last guest put in. */
static int check_buffer(struct uvfio_client *c, struct life *life,
                        uint8_t *ram)
{
    size_t i = 0;
    int ret;

    if (!life->held_len)
        return 0;
    ret = dma(c, EDU_DMA_BUF_ADDR, GUEST_IOVA, EDU_DMA_CMD_TO_RAM);
    if (ret)
        return ret;
    while (i < life->held_len && ram[i] == life->held[i])
        i++;
    if (i < life->held_len) {
        fprintf(stderr, "edu DMA buffer: byte %zu is %#x, expected %#x\n",
                i, ram[i], life->held[i]);
        return -EBADMSG;
    }
    life->held_len = 0;
    return 0;
}

static int fill_buffer(struct uvfio_client *c, struct life *life,
                       uint8_t *ram, uint32_t *rnd)
{
    uint8_t *src = ram + EDU_DMA_BUF_SIZE;
    int ret;

    for (size_t i = 0; i < EDU_DMA_BUF_SIZE; i++)
        src[i] = (uint8_t)rig_rand(rnd);
    ret = dma(c, GUEST_IOVA + EDU_DMA_BUF_SIZE, EDU_DMA_BUF_ADDR, 0);
    if (ret)
        return ret;
    memcpy(life->held, src, EDU_DMA_BUF_SIZE);
    life->held_len = EDU_DMA_BUF_SIZE;
    return 0;
}

/* Registers that only hold values (the queue stays off). */
static int program(struct uvfio_client *c, uint32_t *rnd)
{
    int ret;

    ret = wr32(c, EDU_REG_LIVENESS, rig_rand(rnd));
    if (!ret)
        ret = wr32(c, EDU_REG_STATUS, rig_rand(rnd) & EDU_STATUS_IRQFACT);
    if (!ret)
        ret = wr32(c, EDU_REG_FACT, rig_rand(rnd) % 40);
    if (!ret)
        ret = wr32(c, EDU_REG_IRQ_RAISE, rig_rand(rnd) & 0x00ff0000u);
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_SRC, rig_rand(rnd));
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_DST, rig_rand(rnd));
    if (!ret)
        ret = wr64(c, EDU_REG_DMA_CNT, rig_rand(rnd) % EDU_DMA_BUF_SIZE);
    if (!ret)
        ret = wr64(c, EDU_REG_CQ_ADDR, (uint64_t)(rig_rand(rnd) % 256) *
                                       EDU_CQ_PAGE_SIZE);
    if (!ret)
        ret = wr64(c, EDU_REG_CQ_SIZE, (uint64_t)(1 + rig_rand(rnd) % 16) *
                                       EDU_CQ_PAGE_SIZE);
    if (!ret)
        ret = wr32(c, EDU_REG_CQ_RATE, rig_rand(rnd) % 100000);
    return ret;
}

static int edu_play(struct server *s, struct uvfio_client *c,
                    struct life *life, uint32_t seed)
{
    uint32_t prot = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE;
    struct uvfio_guest_mem gm;
    uint32_t rnd = seed;
    int ret;

    (void)s;
    ret = uvfio_guest_mem_create(GUEST_SIZE, "faults-edu", &gm);
    if (ret)
        return ret;
    ret = enable(c);
    if (!ret)
        ret = uvfio_client_dma_map(c, GUEST_IOVA, GUEST_SIZE, prot, gm.fd,
                                   0);
    if (!ret) {
        ret = check_buffer(c, life, gm.host);
        if (!ret)
            ret = fill_buffer(c, life, gm.host, &rnd);
        if (!ret)
            ret = program(c, &rnd);
        /* the memory goes back to the guest: the device keeps no map */
        if (uvfio_client_dma_unmap(c, GUEST_IOVA, GUEST_SIZE) && !ret)
            ret = -EIO;
    }
    uvfio_guest_mem_destroy(&gm);
    return ret;
}

const struct kind kind_edu = {
    .name = "uvfio-edu",
    .chunk = { "256", "512", "65536" },
    .play = edu_play,
};
