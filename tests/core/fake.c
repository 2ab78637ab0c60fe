// SPDX-License-Identifier: MIT
/*
 * tests/core/fake.c - the recording driver and fake client (fake.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake.h"

static struct fake *fake_of(struct uvfio_device *dev)
{
    return uvfio_device_priv(dev);
}

static int fake_open(struct uvfio_device *dev)
{
    struct fake *f = fake_of(dev);

    f->opens++;
    if (f->on_open)
        return f->on_open(f);
    return f->open_ret;
}

static void fake_close(struct uvfio_device *dev)
{
    struct fake *f = fake_of(dev);

    f->closes++;
    if (f->on_close)
        f->on_close(f);
}

static ssize_t fake_rw(struct fake *f, uint32_t index, uint64_t offset,
                       size_t count)
{
    f->last_index = index;
    f->last_offset = offset;
    f->last_count = count;
    if (f->rw_override)
        return f->rw_ret;
    return (ssize_t)count;
}

static ssize_t fake_read(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, void *buf, size_t count)
{
    struct fake *f = fake_of(dev);

    f->reads++;
    if (offset < FAKE_MEM_SIZE && count <= FAKE_MEM_SIZE - offset)
        memcpy(buf, f->mem + offset, count);
    return fake_rw(f, index, offset, count);
}

static ssize_t fake_write(struct uvfio_device *dev, uint32_t index,
                          uint64_t offset, const void *buf, size_t count)
{
    struct fake *f = fake_of(dev);

    f->writes++;
    if (offset < FAKE_MEM_SIZE && count <= FAKE_MEM_SIZE - offset)
        memcpy(f->mem + offset, buf, count);
    return fake_rw(f, index, offset, count);
}

static int fake_reset(struct uvfio_device *dev)
{
    struct fake *f = fake_of(dev);

    f->resets++;
    return f->reset_ret;
}

static void fake_request(struct uvfio_device *dev, unsigned int count)
{
    struct fake *f = fake_of(dev);

    f->requests++;
    f->last_request = count;
}

static void fake_dma_unmap(struct uvfio_device *dev, uint64_t iova,
                           uint64_t length)
{
    struct fake *f = fake_of(dev);

    if (f->unmaps < FAKE_MAX_UNMAPS) {
        f->unmap_iova[f->unmaps] = iova;
        f->unmap_len[f->unmaps] = length;
    }
    f->unmaps++;
    if (f->on_unmap)
        f->on_unmap(f, iova, length);
}

const struct uvfio_device_ops fake_ops = {
    .name = "fake",
    .open_device = fake_open,
    .close_device = fake_close,
    .read = fake_read,
    .write = fake_write,
    .reset = fake_reset,
    .request = fake_request,
    .dma_unmap = fake_dma_unmap,
};

struct uvfio_device *fake_create(struct fake *f,
                                 const struct uvfio_device_ops *ops,
                                 bool pci, uint32_t num_regions,
                                 uint32_t num_irqs, const void *devset_id)
{
    struct uvfio_device_config cfg = {
        .name = "fake0",
        .ops = ops ? ops : &fake_ops,
        .num_regions = num_regions,
        .num_irqs = num_irqs,
        .pci = pci,
        .devset_id = devset_id,
        .priv = f,
    };
    struct uvfio_device *dev = NULL;

    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    assert_non_null(dev);
    f->dev = dev;
    return dev;
}

/* ---- fake client ------------------------------------------------------- */

static int fake_client_dma_rw(void *ctx, bool write, uint64_t iova,
                              void *buf, size_t len)
{
    struct fake_client *fc = ctx;

    fc->calls++;
    if (len > fc->max_chunk)
        fc->max_chunk = len;
    if (fc->fail)
        return fc->fail;
    if (iova < fc->base || len > fc->size ||
        iova - fc->base > fc->size - len)
        return -EFAULT;
    if (write)
        memcpy(fc->mem + (iova - fc->base), buf, len);
    else
        memcpy(buf, fc->mem + (iova - fc->base), len);
    return 0;
}

void fake_client_init(struct fake_client *fc, uint64_t base, size_t size,
                      uint64_t max_data_xfer, uint32_t max_dma_maps)
{
    memset(fc, 0, sizeof(*fc));
    fc->base = base;
    fc->size = size;
    fc->mem = size ? calloc(1, size) : NULL;
    fc->cl.ctx = fc;
    fc->cl.dma_rw = fake_client_dma_rw;
    fc->cl.max_data_xfer = max_data_xfer;
    fc->cl.max_dma_maps = max_dma_maps;
}

void fake_client_fini(struct fake_client *fc)
{
    free(fc->mem);
    fc->mem = NULL;
}

void fake_attach(struct uvfio_device *dev, struct fake_client *fc)
{
    assert_int_equal(uvfio_core_attach(dev, &fc->cl), 0);
}

/* ---- fds --------------------------------------------------------------- */

int efd_new(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

uint64_t efd_read(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return 0;
    return v;
}

void efd_write(int fd, uint64_t v)
{
    assert_int_equal(write(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
}

int fd_dup(int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    assert_true(d >= 0);
    return d;
}

int memfd_new(size_t size)
{
    int fd = memfd_create("uvfio-test", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;       /* the directory's own fd */
}
