/* SPDX-License-Identifier: MIT */
/*
 * tests/core/fake.h - a recording driver and a fake client for the device
 * core's unit tests, plus small fd helpers.
 */
#ifndef UVFIO_TESTS_CORE_FAKE_H
#define UVFIO_TESTS_CORE_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/device.h>

#include "core/core.h"

#define FAKE_MEM_SIZE  0x4000
#define FAKE_MAX_UNMAPS 64

struct fake {
    struct uvfio_device *dev;

    int opens, closes, resets, requests, reads, writes;
    int open_ret, reset_ret;
    unsigned int last_request;

    /* read/write: the driver's region content, one array for all indexes */
    uint8_t mem[FAKE_MEM_SIZE];
    uint32_t last_index;
    uint64_t last_offset;
    size_t last_count;
    bool rw_override;           /* return rw_ret instead of count */
    ssize_t rw_ret;

    int unmaps;
    uint64_t unmap_iova[FAKE_MAX_UNMAPS];
    uint64_t unmap_len[FAKE_MAX_UNMAPS];
    /* called from dma_unmap, e.g. to drop pins */
    void (*on_unmap)(struct fake *f, uint64_t iova, uint64_t len);
    void *on_unmap_ctx;

    /* open/close/reset hooks for device-set tests */
    int (*on_open)(struct fake *f);
    void (*on_close)(struct fake *f);
};

/* Every op filled in. */
extern const struct uvfio_device_ops fake_ops;

/* A device whose priv is `f`; asserts success. */
struct uvfio_device *fake_create(struct fake *f,
                                 const struct uvfio_device_ops *ops,
                                 bool pci, uint32_t num_regions,
                                 uint32_t num_irqs, const void *devset_id);

/* A client serving message-path DMA from its own buffer. */
struct fake_client {
    struct uvfio_core_client cl;
    uint64_t base;              /* IOVA of mem[0] */
    uint8_t *mem;
    size_t size;
    int calls;
    size_t max_chunk;
    int fail;                   /* -errno to return, 0 to serve */
};

void fake_client_init(struct fake_client *fc, uint64_t base, size_t size,
                      uint64_t max_data_xfer, uint32_t max_dma_maps);
void fake_client_fini(struct fake_client *fc);

/* Attach a fake client; asserts success. */
void fake_attach(struct uvfio_device *dev, struct fake_client *fc);

/* fd helpers */
int efd_new(void);                      /* non-blocking eventfd */
uint64_t efd_read(int fd);              /* 0 when nothing was signalled */
void efd_write(int fd, uint64_t v);
int fd_dup(int fd);
int memfd_new(size_t size);
bool fd_is_open(int fd);
int count_open_fds(void);

#endif /* UVFIO_TESTS_CORE_FAKE_H */
