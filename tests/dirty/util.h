/* SPDX-License-Identifier: MIT */
/*
 * tests/dirty/util.h - a device driven the way the server drives it
 * (uvfio_core_* with a fake client that serves message-path DMA from its
 * own memory), plus the DEVICE_FEATURE and DMA_UNMAP requests of dirty
 * logging built as a client puts them on the wire.
 */
#ifndef UVFIO_TESTS_DIRTY_UTIL_H
#define UVFIO_TESTS_DIRTY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#include "core/core.h"

#define PG      4096ull

/* A device with an attached fake client.  Message-path maps are served
 * from `mem`, which stands for [mem_base, mem_base + mem_size). */
struct tdev {
    struct uvfio_device *dev;
    struct uvfio_core_client cl;
    uint64_t mem_base;
    uint8_t *mem;
    size_t mem_size;
    int msg_writes;             /* DMA_WRITEs the fake client served */
    int unmaps;                 /* driver dma_unmap calls */
    void (*on_unmap)(struct tdev *t, uint64_t iova, uint64_t len);
    void *opaque;
};

/* Create (log_ops may be NULL; the device's priv is t) and attach with
 * max_data_xfer `xfer` (0: none set, the default applies); asserts
 * success. */
void tdev_init(struct tdev *t, const struct uvfio_log_ops *ops,
               uint64_t mem_base, size_t mem_size, uint64_t xfer);
void tdev_fini(struct tdev *t);

/* DMA_MAP of [iova, iova + size): a fresh memfd, or by message. */
int t_map_fd(struct tdev *t, uint64_t iova, uint64_t size, uint32_t prot);
int t_map_msg(struct tdev *t, uint64_t iova, uint64_t size, uint32_t prot);
int t_unmap(struct tdev *t, uint64_t iova, uint64_t size);

/* Raw DEVICE_FEATURE; the reply payload goes to rep (may be NULL). */
int t_feature(struct tdev *t, uint32_t argsz, uint32_t flags,
              const void *payload, size_t len, struct uvfio_buf *rep);

/* START: *page_size in/out; checks the reply is the echo. */
int t_start(struct tdev *t, const struct uvfio_dirty_range *r, uint32_t nr,
            uint64_t *page_size);
int t_stop(struct tdev *t);
/* REPORT into words (ceil(bits/64) of them, overwritten); checks the
 * reply's shape. */
int t_report(struct tdev *t, uint64_t iova, uint64_t length,
             uint64_t page_size, uint64_t *words);
/* DMA_UNMAP with a dirty bitmap of `bytes` bytes into out. */
int t_unmap_dirty(struct tdev *t, uint64_t iova, uint64_t size,
                  uint64_t pgsize, uint32_t bytes, void *out);

/* Words for a report of length at page_size. */
size_t t_words(uint64_t length, uint64_t page_size);
bool t_bit(const uint64_t *words, uint64_t n);
uint64_t t_popcount(const uint64_t *words, size_t nwords);

/* A write of one byte to each page of [iova, iova + npages * PG). */
void t_touch(struct tdev *t, uint64_t iova, uint64_t npages);

/* Open fds, for leak checks. */
int t_count_fds(void);

#endif /* UVFIO_TESTS_DIRTY_UTIL_H */
