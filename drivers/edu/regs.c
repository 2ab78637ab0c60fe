// SPDX-License-Identifier: MIT
/*
 * edu/regs.c - what a BAR0 access does.
 *
 * Access rules are edu's: below 0x80 only 4-byte accesses, from 0x80 on 4
 * or 8 bytes, each at a register's own offset.  Anything else - another
 * size, an offset inside or between registers - reads as all-ones and
 * writes are dropped, as a bus returns for an unclaimed access; it is a
 * guest error, reported with --verbose, never an error reply: a real
 * guest's access cannot fail.  Values are little-endian, a 4-byte access
 * to a 64-bit register reads its low half and writes it zero-extended, an
 * 8-byte access to a 32-bit register reads it zero-extended and writes its
 * low half (edu's rules for its DMA registers).
 */
#include <errno.h>
#include <string.h>

#include "edu_priv.h"

static bool access_ok(uint64_t off, size_t count)
{
    return count == 4 || (count == 8 && off >= EDU_WIDE_REGS_START);
}

/* n! modulo 2^32, as edu's 32-bit register holds it.  Once the product
 * has gathered 32 factors of two it is 0 for good, so even n = 2^32 - 1
 * takes a few dozen rounds, not four billion. */
static uint32_t factorial(uint32_t n)
{
    uint32_t r = 1;

    for (; n > 1 && r; n--)
        r *= n;
    return r;
}

static bool edu_reg_read(struct edu *e, uint32_t off, uint64_t *v)
{
    const struct edu_state *st = &e->st;

    switch (off) {
    case EDU_REG_ID:            *v = EDU_ID_VALUE; return true;
    case EDU_REG_LIVENESS:      *v = st->liveness; return true;
    case EDU_REG_FACT:          *v = st->fact; return true;
    case EDU_REG_STATUS:        *v = st->status; return true;
    case EDU_REG_IRQ_STATUS:    *v = st->irq_status; return true;
    case EDU_REG_DMA_SRC:       *v = st->dma_src; return true;
    case EDU_REG_DMA_DST:       *v = st->dma_dst; return true;
    case EDU_REG_DMA_CNT:       *v = st->dma_cnt; return true;
    case EDU_REG_DMA_CMD:       *v = st->dma_cmd; return true;
    case EDU_REG_EXT_VERSION:   *v = EDU_EXT_VERSION; return true;
    case EDU_REG_DMA_ERROR:     *v = st->dma_error; return true;
    case EDU_REG_DMA_MASK:      *v = e->dma_mask; return true;
    default:                    return edu_cq_read(&e->cq, off, v);
    }
}

static void write_fact(struct edu *e, uint32_t n)
{
    /* Computed before the write returns, so STATUS_COMPUTING is never
     * seen set and a write can never find a computation running. */
    e->st.fact = factorial(n);
    if (e->st.status & EDU_STATUS_IRQFACT)
        edu_irq_raise(e, EDU_IRQ_FACT);
}

/* edu ignores writes to the DMA registers while a command is pending. */
static void write_dma_reg(struct edu *e, uint64_t *reg, uint64_t v)
{
    if (!(e->st.dma_cmd & EDU_DMA_CMD_RUN))
        *reg = v;
}

static void write_dma_cmd(struct edu *e, uint64_t v)
{
    if (!(v & EDU_DMA_CMD_RUN) || (e->st.dma_cmd & EDU_DMA_CMD_RUN))
        return;
    e->st.dma_cmd = v & EDU_DMA_CMD_MASK;
    edu_dma_kick(e);
}

static bool edu_reg_write(struct edu *e, uint32_t off, uint64_t v)
{
    struct edu_state *st = &e->st;

    switch (off) {
    case EDU_REG_LIVENESS:
        st->liveness = ~(uint32_t)v;
        return true;
    case EDU_REG_FACT:
        write_fact(e, (uint32_t)v);
        return true;
    case EDU_REG_STATUS:
        st->status = (uint32_t)v & EDU_STATUS_IRQFACT;
        return true;
    case EDU_REG_IRQ_RAISE:
        edu_irq_raise(e, (uint32_t)v);
        return true;
    case EDU_REG_IRQ_ACK:
        edu_irq_lower(e, (uint32_t)v);
        return true;
    case EDU_REG_DMA_SRC:
        write_dma_reg(e, &st->dma_src, v);
        return true;
    case EDU_REG_DMA_DST:
        write_dma_reg(e, &st->dma_dst, v);
        return true;
    case EDU_REG_DMA_CNT:
        write_dma_reg(e, &st->dma_cnt, v);
        return true;
    case EDU_REG_DMA_CMD:
        write_dma_cmd(e, v);
        return true;
    case EDU_REG_ID:
    case EDU_REG_IRQ_STATUS:
    case EDU_REG_EXT_VERSION:
    case EDU_REG_DMA_ERROR:
    case EDU_REG_DMA_MASK:
        return true;            /* read-only */
    default:
        return edu_cq_write(&e->cq, off, v);
    }
}

ssize_t edu_bar_read(struct edu *e, uint64_t off, void *buf, size_t count)
{
    uint64_t v = UINT64_MAX;

    if (off >= EDU_BAR_SIZE || count > EDU_BAR_SIZE - off)
        return -EINVAL;
    if (!access_ok(off, count)) {
        edu_guest_error(e, "%zu-byte read at %#llx", count,
                        (unsigned long long)off);
        memset(buf, 0xff, count);
        return (ssize_t)count;
    }
    if (!edu_reg_read(e, (uint32_t)off, &v))
        edu_guest_error(e, "read of no register at %#llx",
                        (unsigned long long)off);
    for (size_t i = 0; i < count; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(v >> (8 * i));
    return (ssize_t)count;
}

ssize_t edu_bar_write(struct edu *e, uint64_t off, const void *buf,
                      size_t count)
{
    uint64_t v = 0;

    if (off >= EDU_BAR_SIZE || count > EDU_BAR_SIZE - off)
        return -EINVAL;
    if (!access_ok(off, count)) {
        edu_guest_error(e, "%zu-byte write at %#llx dropped", count,
                        (unsigned long long)off);
        return (ssize_t)count;
    }
    for (size_t i = 0; i < count; i++)
        v |= (uint64_t)((const uint8_t *)buf)[i] << (8 * i);
    if (!edu_reg_write(e, (uint32_t)off, v))
        edu_guest_error(e, "write to no register at %#llx dropped",
                        (unsigned long long)off);
    return (ssize_t)count;
}
