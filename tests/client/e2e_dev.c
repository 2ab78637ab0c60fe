/* SPDX-License-Identifier: MIT */
/*
 * tests/client/e2e_dev.c - see e2e_dev.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "e2e_dev.h"

/* The core has checked that [offset, offset+count) is inside the region. */
static uint8_t *backing(struct e2e_dev *d, uint32_t index, uint64_t offset)
{
    switch (index) {
    case E2E_REGS:
        return d->regs + offset;
    case E2E_WIN:
        return d->win + offset;
    case E2E_BUF:
        return d->buf + offset;
    default:
        return NULL;
    }
}

static ssize_t e2e_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    struct e2e_dev *d = uvfio_device_priv(dev);
    uint8_t *p = backing(d, index, offset);

    if (index == E2E_CTL) {
        if (offset != E2E_RESULT || count != sizeof(d->result))
            return -EINVAL;
        memcpy(buf, &d->result, sizeof(d->result));
        return (ssize_t)count;
    }
    if (!p)
        return -EINVAL;
    memcpy(buf, p, count);
    return (ssize_t)count;
}

static int run_cmd(struct e2e_dev *d, const struct e2e_cmd *cmd)
{
    if (cmd->op == E2E_OP_IRQ)
        return uvfio_irq_trigger(d->dev, 0, cmd->len);
    if (cmd->len > E2E_BUF_SIZE)
        return -EINVAL;
    if (cmd->op == E2E_OP_TO_BUF)
        return uvfio_dma_read(d->dev, cmd->iova, d->buf, cmd->len);
    if (cmd->op == E2E_OP_TO_GUEST)
        return uvfio_dma_write(d->dev, cmd->iova, d->buf, cmd->len);
    return -EINVAL;
}

static ssize_t e2e_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    struct e2e_dev *d = uvfio_device_priv(dev);
    uint8_t *p = backing(d, index, offset);
    struct e2e_cmd cmd;

    if (index == E2E_CTL) {
        if (offset != 0 || count != sizeof(cmd))
            return -EINVAL;
        memcpy(&cmd, buf, sizeof(cmd));
        d->result = run_cmd(d, &cmd);
        return (ssize_t)count;
    }
    if (!p)
        return -EINVAL;
    memcpy(p, buf, count);
    return (ssize_t)count;
}

static int e2e_reset(struct uvfio_device *dev)
{
    struct e2e_dev *d = uvfio_device_priv(dev);

    memset(d->regs, 0, sizeof(d->regs));
    atomic_fetch_add(&d->resets, 1);
    return 0;
}

static const struct uvfio_device_ops e2e_ops = {
    .name = "e2e",
    .read = e2e_read,
    .write = e2e_write,
    .reset = e2e_reset,
};

static int declare(struct e2e_dev *d)
{
    static const struct uvfio_sparse_area areas[2] = {
        { 0, 4096 }, { 8192, 4096 },
    };
    const uint32_t rw = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE;
    struct uvfio_region_config rc[E2E_NUM_REGIONS] = {
        [E2E_REGS] = { .size = E2E_REGS_SIZE, .flags = rw, .mmap_fd = -1 },
        [E2E_WIN] = { .size = E2E_WIN_SIZE,
                      .flags = rw | UVFIO_REGION_FLAG_MMAP,
                      .mmap_fd = d->memfd, .nr_sparse = 2, .sparse = areas },
        [E2E_CTL] = { .size = E2E_CTL_SIZE, .flags = rw, .mmap_fd = -1 },
        [E2E_BUF] = { .size = E2E_BUF_SIZE, .flags = rw, .mmap_fd = -1 },
    };
    struct uvfio_irq_config ic = { E2E_IRQ_VECTORS, UVFIO_IRQ_INFO_EVENTFD };
    uint32_t i;
    int r;

    for (i = 0; i < E2E_NUM_REGIONS; i++) {
        r = uvfio_device_set_region(d->dev, i, &rc[i]);
        if (r < 0)
            return r;
    }
    return uvfio_device_set_irq(d->dev, 0, &ic);
}

int e2e_dev_create(struct e2e_dev *d)
{
    struct uvfio_device_config cfg = {
        .name = "e2e",
        .ops = &e2e_ops,
        .num_regions = E2E_NUM_REGIONS,
        .num_irqs = 1,
        .priv = d,
    };
    int r;

    memset(d, 0, sizeof(*d));
    d->memfd = memfd_create("e2e-win", MFD_CLOEXEC);
    if (d->memfd < 0 || ftruncate(d->memfd, E2E_WIN_SIZE) < 0)
        return -errno;
    d->win = mmap(NULL, E2E_WIN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                  d->memfd, 0);
    if (d->win == MAP_FAILED)
        return -errno;
    r = uvfio_device_create(&cfg, &d->dev);
    if (r == 0)
        r = declare(d);
    return r;
}

void e2e_dev_destroy(struct e2e_dev *d)
{
    if (d->dev)
        uvfio_device_destroy(d->dev);
    if (d->win && d->win != MAP_FAILED)
        munmap(d->win, E2E_WIN_SIZE);
    if (d->memfd >= 0)
        close(d->memfd);
    memset(d, 0, sizeof(*d));
    d->memfd = -1;
}
