/* SPDX-License-Identifier: MIT */
/*
 * edu/copyq.h - the copy queue: a DMA engine of uvfio-edu's own that keeps
 * writing a window of guest memory, page after page and pass after pass
 * (pattern.h), at a rate the guest sets, so that a migration can be tested
 * while the device dirties guest memory.
 *
 * A worker thread does the writing.  Windows the client shared with an fd
 * it writes itself, through a pin; the others can only be reached by
 * DMA_WRITE messages, whose replies only the dispatch thread reads, so it
 * hands those pages to the dispatch thread (an eventfd it watches) and
 * waits.  That keeps every wait on the dispatch thread short: stopping the
 * queue, holding it for migration and dma_unmap wait at most for one
 * direct page copy, and cancel a hand-off instead of waiting for it.
 */
#ifndef UVFIO_EDU_COPYQ_H
#define UVFIO_EDU_COPYQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvfio/device.h>

#include "regs.h"

/* Everything of the queue a migration carries, and the registers show. */
struct edu_cq_state {
    uint64_t addr;              /* window IOVA */
    uint64_t size;              /* window bytes */
    uint32_t rate;              /* KiB/s */
    uint32_t ctrl;              /* EDU_CQ_CTRL_ENABLE */
    uint32_t error;             /* errno that stopped the queue, or 0 */
    uint64_t passes;            /* completed passes */
    uint64_t pos;               /* next page of the current pass */
    uint64_t bytes;             /* written since the window was set */
};

/* A page handed to the dispatch thread. */
enum edu_cq_req {
    EDU_CQ_REQ_NONE,
    EDU_CQ_REQ_PENDING,
    EDU_CQ_REQ_DONE,
    EDU_CQ_REQ_CANCELLED,
};

/* Fields are copyq.c's own; `lock` guards all but the worker's page. */
struct edu_cq {
    struct uvfio_device *dev;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* any change: always broadcast */
    pthread_t thread;
    bool thread_started;
    bool exit;
    bool held;                  /* migration: no new DMA */
    bool busy;                  /* the worker is copying into a pin */
    uint64_t gen;               /* bumped when the pace must restart */
    struct edu_cq_state st;
    struct edu_cq_state power_on;   /* what a reset returns to */
    int efd;                    /* hand-offs to the dispatch thread */
    bool watching;
    enum edu_cq_req req;
    uint64_t req_iova;
    int req_result;
    uint8_t page[EDU_CQ_PAGE_SIZE];
};

/* Starts the worker (idle until enabled).  `preset` (may be NULL) gives
 * the power-on window and rate, which a reset returns to. */
int edu_cq_init(struct edu_cq *q, struct uvfio_device *dev,
                const struct edu_cq_state *preset);
/* Stops and joins the worker; nobody may be dispatching the device. */
void edu_cq_fini(struct edu_cq *q);

/* Registers EDU_REG_CQ_*: false when `reg` is not one of them. */
bool edu_cq_read(struct edu_cq *q, uint32_t reg, uint64_t *val);
bool edu_cq_write(struct edu_cq *q, uint32_t reg, uint64_t val);

/* Migration: held, no DMA starts, and none is in flight on return. */
void edu_cq_hold(struct edu_cq *q, bool held);
void edu_cq_get_state(struct edu_cq *q, struct edu_cq_state *st);
/* 0 if `st` is a state the queue can be in, -EINVAL if not. */
int edu_cq_state_check(const struct edu_cq_state *st);
/* Install a checked state; only while held (it resumes on release). */
void edu_cq_set_state(struct edu_cq *q, const struct edu_cq_state *st);

/* Device reset: stopped, back to the power-on window and rate. */
void edu_cq_reset(struct edu_cq *q);
/* dma_unmap: returns once the worker holds no pin. */
void edu_cq_unpinned(struct edu_cq *q);

#endif /* UVFIO_EDU_COPYQ_H */
