/* SPDX-License-Identifier: MIT */
/*
 * edu/edu_priv.h - what the pieces of uvfio-edu share: the device, its
 * registers, and the calls between regs.c (register semantics), dma.c (the
 * DMA engine), edu.c (PCI glue, interrupts), state.c and migration.c.
 *
 * Threads: everything here runs on the dispatch thread, except the copy
 * queue's worker, which touches only struct edu_cq (its own lock).
 */
#ifndef UVFIO_EDU_PRIV_H
#define UVFIO_EDU_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/pci.h>

#include "copyq.h"
#include "edu.h"
#include "migration.h"
#include "regs.h"

/* edu's own registers and its DMA buffer. */
struct edu_state {
    uint32_t liveness;          /* as read back: ~ what was written */
    uint32_t fact;
    uint32_t status;            /* EDU_STATUS_IRQFACT */
    uint32_t irq_status;
    uint64_t dma_src;
    uint64_t dma_dst;
    uint64_t dma_cnt;
    uint64_t dma_cmd;           /* EDU_DMA_CMD_*; RUN: pending */
    uint32_t dma_error;         /* errno of the last command, 0: done */
    uint8_t dma_buf[EDU_DMA_BUF_SIZE];
};

struct edu {
    struct uvfio_device *dev;
    struct uvfio_pci *pci;
    int msi_cap;
    uint64_t dma_mask;
    bool verbose;
    bool held;                  /* migration: the DMA engines must not start */
    struct edu_state st;
    struct edu_cq cq;
    struct edu_mig mig;
};

/* regs.c: BAR0 accesses, any offset and size inside the BAR. */
ssize_t edu_bar_read(struct edu *e, uint64_t off, void *buf, size_t count);
ssize_t edu_bar_write(struct edu *e, uint64_t off, const void *buf,
                      size_t count);

/* dma.c: run the command in DMA_CMD if one is pending and allowed. */
void edu_dma_kick(struct edu *e);

/* edu.c */
void edu_irq_raise(struct edu *e, uint32_t bits);
void edu_irq_lower(struct edu *e, uint32_t bits);
/* Hold (migration's P2P and stopped states) or release both DMA engines;
 * a command that waited runs on release. */
void edu_hold(struct edu *e, bool held);
/* Interrupt line to match st.irq_status, after a restore. */
void edu_irq_sync(struct edu *e);
void edu_guest_error(struct edu *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* UVFIO_EDU_PRIV_H */
