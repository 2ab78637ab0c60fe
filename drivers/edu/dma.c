// SPDX-License-Identifier: MIT
/*
 * edu/dma.c - edu's DMA engine: one transfer between guest memory and the
 * 4 KiB buffer, programmed in DMA_SRC/DST/CNT and started by DMA_CMD.
 *
 * The side of the transfer in the buffer is named by its address in the
 * device's DMA space (EDU_DMA_BUF_ADDR...+4 KiB); the other side is a guest
 * IOVA, cut to the DMA mask as edu does.  Where edu only logs a range that
 * leaves the buffer (and then overruns it), uvfio-edu moves nothing and
 * reports EINVAL in DMA_ERROR; a guest address that is not mapped (EFAULT)
 * or bus mastering being off (EPERM) are reported the same way.  Either
 * way the command completes - RUN clears and the interrupt, if asked for,
 * is raised - so a driver waiting for it never hangs.
 *
 * A command runs when it is started, before the register write returns
 * (edu waits 100 ms on a timer: a driver that polls RUN sees it clear at
 * once).  While migration holds the device the command waits with RUN
 * set; it is part of the migrated state and runs on release, here or on
 * the destination.
 */
#include <errno.h>
#include <string.h>

#include "edu_priv.h"

/* [addr, addr+cnt) inside the buffer: its offset there, or -EINVAL. */
static int64_t buf_offset(uint64_t addr, uint64_t cnt)
{
    if (addr < EDU_DMA_BUF_ADDR || cnt > EDU_DMA_BUF_SIZE ||
        addr - EDU_DMA_BUF_ADDR > EDU_DMA_BUF_SIZE - cnt)
        return -EINVAL;
    return (int64_t)(addr - EDU_DMA_BUF_ADDR);
}

static uint64_t clamp(struct edu *e, uint64_t iova)
{
    uint64_t r = iova & e->dma_mask;

    if (r != iova)
        edu_guest_error(e, "DMA address %#llx cut to %#llx by the DMA mask",
                        (unsigned long long)iova, (unsigned long long)r);
    return r;
}

static int dma_to_ram(struct edu *e)
{
    const struct edu_state *st = &e->st;
    int64_t off = buf_offset(st->dma_src, st->dma_cnt);

    if (off < 0)
        return (int)off;
    return uvfio_dma_write(e->dev, clamp(e, st->dma_dst), st->dma_buf + off,
                           (size_t)st->dma_cnt);
}

/* Through a bounce buffer: a read that fails half-way (the message path
 * can) leaves the device's buffer as it was. */
static int dma_from_ram(struct edu *e)
{
    struct edu_state *st = &e->st;
    int64_t off = buf_offset(st->dma_dst, st->dma_cnt);
    uint8_t tmp[EDU_DMA_BUF_SIZE];
    int r;

    if (off < 0)
        return (int)off;
    r = uvfio_dma_read(e->dev, clamp(e, st->dma_src), tmp,
                       (size_t)st->dma_cnt);
    if (!r)
        memcpy(st->dma_buf + off, tmp, (size_t)st->dma_cnt);
    return r;
}

void edu_dma_kick(struct edu *e)
{
    struct edu_state *st = &e->st;
    int r;

    if (!(st->dma_cmd & EDU_DMA_CMD_RUN) || e->held)
        return;
    r = st->dma_cmd & EDU_DMA_CMD_TO_RAM ? dma_to_ram(e) : dma_from_ram(e);
    if (r == -EINVAL)
        edu_guest_error(e, "DMA of %#llx bytes at buffer address %#llx "
                        "leaves the buffer: nothing moved",
                        (unsigned long long)st->dma_cnt,
                        (unsigned long long)(st->dma_cmd & EDU_DMA_CMD_TO_RAM ?
                                             st->dma_src : st->dma_dst));
    st->dma_error = (uint32_t)-r;
    st->dma_cmd &= ~(uint64_t)EDU_DMA_CMD_RUN;
    if (st->dma_cmd & EDU_DMA_CMD_IRQ)
        edu_irq_raise(e, EDU_IRQ_DMA);
}
