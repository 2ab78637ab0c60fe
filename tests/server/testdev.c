// SPDX-License-Identifier: MIT
/*
 * tests/server/testdev.c - the device the server tests serve (testdev.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testdev.h"

static struct testdev *td_of(struct uvfio_device *dev)
{
    return uvfio_device_priv(dev);
}

static uint8_t *td_mem(struct testdev *td, uint32_t index)
{
    switch (index) {
    case TD_REGS:
        return td->regs;
    case TD_MMAP:
        return td->mmap;
    case TD_DMABUF:
        return td->dmabuf;
    case TD_ROM:
        return td->rom;
    default:
        return NULL;
    }
}

static int td_open(struct uvfio_device *dev)
{
    struct testdev *td = td_of(dev);

    if (td->open_error)
        return td->open_error;
    atomic_fetch_add(&td->opens, 1);
    return 0;
}

static void td_close(struct uvfio_device *dev)
{
    atomic_fetch_add(&td_of(dev)->closes, 1);
}

static ssize_t td_read(struct uvfio_device *dev, uint32_t index,
                       uint64_t offset, void *buf, size_t count)
{
    struct testdev *td = td_of(dev);
    uint8_t *mem = td_mem(td, index);

    if (index == TD_DMA) {
        uint8_t regs[TD_DMA_SIZE] = { 0 };

        memcpy(regs + TD_DMA_RESULT, &td->dma_result, sizeof(int32_t));
        memcpy(buf, regs + offset, count);
        return (ssize_t)count;
    }
    if (!mem)
        return -EINVAL;
    memcpy(buf, mem + offset, count);
    return (ssize_t)count;
}

/* Runs on the dispatch thread, inside the REGION_WRITE handler. */
static void td_run_dma(struct testdev *td, const struct td_dma_cmd *cmd)
{
    if (cmd->len > TD_DMABUF_SIZE)
        td->dma_result = -EINVAL;
    else if (cmd->op == TD_OP_READ)
        td->dma_result = uvfio_dma_read(td->dev, cmd->iova, td->dmabuf,
                                        cmd->len);
    else if (cmd->op == TD_OP_WRITE)
        td->dma_result = uvfio_dma_write(td->dev, cmd->iova, td->dmabuf,
                                         cmd->len);
    else
        td->dma_result = -EINVAL;
}

static ssize_t td_write(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, const void *buf, size_t count)
{
    struct testdev *td = td_of(dev);
    uint8_t *mem = td_mem(td, index);
    struct td_dma_cmd cmd;

    if (index == TD_DMA) {
        if (offset != 0 || count != sizeof(cmd))
            return -EINVAL;
        memcpy(&cmd, buf, sizeof(cmd));
        td_run_dma(td, &cmd);
        return (ssize_t)count;
    }
    if (!mem)
        return -EINVAL;
    memcpy(mem + offset, buf, count);
    return (ssize_t)count;
}

static int td_reset(struct uvfio_device *dev)
{
    struct testdev *td = td_of(dev);

    atomic_fetch_add(&td->resets, 1);
    memset(td->regs, 0, sizeof(td->regs));
    return 0;
}

static void td_dma_unmap(struct uvfio_device *dev, uint64_t iova,
                         uint64_t length)
{
    (void)iova;
    (void)length;
    atomic_fetch_add(&td_of(dev)->unmaps, 1);
}

static int td_feature(struct uvfio_device *dev, uint32_t flags, void *data,
                      size_t len)
{
    (void)dev;
    if ((flags & UVFIO_FEATURE_MASK) != TD_FEATURE)
        return -ENOTTY;
    if (flags & UVFIO_FEATURE_PROBE)
        return 0;
    if (!(flags & UVFIO_FEATURE_GET) || len < 8)
        return -EINVAL;
    memcpy(data, "TESTFEAT", 8);
    return 0;
}

static const struct uvfio_device_ops td_ops = {
    .name = "testdev",
    .open_device = td_open,
    .close_device = td_close,
    .read = td_read,
    .write = td_write,
    .reset = td_reset,
    .dma_unmap = td_dma_unmap,
    .device_feature = td_feature,
};

static int td_regions(struct testdev *td)
{
    static const struct uvfio_sparse_area areas[] = {
        { 0, 4096 }, { 8192, 4096 },
    };
    const uint32_t rw = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE;
    struct uvfio_region_config rc;
    int r;

    memset(&rc, 0, sizeof(rc));
    rc.size = TD_REGS_SIZE;
    rc.flags = rw;
    r = uvfio_device_set_region(td->dev, TD_REGS, &rc);
    rc.size = TD_DMA_SIZE;
    if (r == 0)
        r = uvfio_device_set_region(td->dev, TD_DMA, &rc);
    rc.size = TD_DMABUF_SIZE;
    if (r == 0)
        r = uvfio_device_set_region(td->dev, TD_DMABUF, &rc);
    rc.size = TD_ROM_SIZE;
    rc.flags = UVFIO_REGION_FLAG_READ;
    if (r == 0)
        r = uvfio_device_set_region(td->dev, TD_ROM, &rc);
    rc.size = TD_MMAP_SIZE;
    rc.flags = rw | UVFIO_REGION_FLAG_MMAP;
    rc.mmap_fd = td->memfd;
    rc.nr_sparse = 2;
    rc.sparse = areas;
    if (r == 0)
        r = uvfio_device_set_region(td->dev, TD_MMAP, &rc);
    return r;
}

static int td_irqs(struct testdev *td)
{
    const struct uvfio_irq_config line = {
        1, UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE |
           UVFIO_IRQ_INFO_AUTOMASKED,
    };
    const struct uvfio_irq_config msi = {
        4, UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE |
           UVFIO_IRQ_INFO_NORESIZE,
    };
    int r = uvfio_device_set_irq(td->dev, TD_IRQ_LINE, &line);

    return r ? r : uvfio_device_set_irq(td->dev, TD_IRQ_MSI, &msi);
}

static int td_backing(struct testdev *td)
{
    td->dmabuf = calloc(1, TD_DMABUF_SIZE);
    if (!td->dmabuf)
        return -ENOMEM;
    td->memfd = memfd_create("testdev-bar", MFD_CLOEXEC);
    if (td->memfd < 0)
        return -errno;
    if (ftruncate(td->memfd, TD_MMAP_SIZE) < 0)
        return -errno;
    td->mmap = mmap(NULL, TD_MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                    td->memfd, 0);
    if (td->mmap == MAP_FAILED) {
        td->mmap = NULL;
        return -errno;
    }
    return 0;
}

int testdev_create(struct testdev *td, const char *name)
{
    struct uvfio_device_config cfg = {
        .name = name,
        .ops = &td_ops,
        .num_regions = TD_NUM_REGIONS,
        .num_irqs = 2,
        .priv = td,
    };
    int r;

    memset(td, 0, sizeof(*td));
    td->memfd = -1;
    memset(td->rom, 0xa5, sizeof(td->rom));
    r = td_backing(td);
    if (r == 0)
        r = uvfio_device_create(&cfg, &td->dev);
    if (r == 0)
        r = td_regions(td);
    if (r == 0)
        r = td_irqs(td);
    if (r < 0)
        testdev_destroy(td);
    return r;
}

void testdev_destroy(struct testdev *td)
{
    if (td->dev)
        uvfio_device_destroy(td->dev);
    if (td->mmap)
        munmap(td->mmap, TD_MMAP_SIZE);
    if (td->memfd >= 0)
        close(td->memfd);
    free(td->dmabuf);
    memset(td, 0, sizeof(*td));
    td->memfd = -1;
}
