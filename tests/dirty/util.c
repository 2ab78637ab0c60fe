// SPDX-License-Identifier: MIT
/*
 * tests/dirty/util.c - see util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

#define FHDR sizeof(struct uvfio_wire_feature)

static void drv_unmap(struct uvfio_device *dev, uint64_t iova, uint64_t len)
{
    struct tdev *t = uvfio_device_priv(dev);

    __atomic_fetch_add(&t->unmaps, 1, __ATOMIC_RELAXED);
    if (t->on_unmap)
        t->on_unmap(t, iova, len);
}

static int drv_reset(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

static const struct uvfio_device_ops drv_ops = {
    .name = "dirty-test",
    .reset = drv_reset,
    .dma_unmap = drv_unmap,
};

/* The fake client: message-path DMA lands in t->mem. */
static int fake_dma_rw(void *ctx, bool write, uint64_t iova, void *buf,
                       size_t len)
{
    struct tdev *t = ctx;

    if (iova < t->mem_base || iova - t->mem_base > t->mem_size ||
        len > t->mem_size - (iova - t->mem_base))
        return -EFAULT;
    if (write) {
        memcpy(t->mem + (iova - t->mem_base), buf, len);
        __atomic_fetch_add(&t->msg_writes, 1, __ATOMIC_RELAXED);
    } else {
        memcpy(buf, t->mem + (iova - t->mem_base), len);
    }
    return 0;
}

void tdev_init(struct tdev *t, const struct uvfio_log_ops *ops,
               uint64_t mem_base, size_t mem_size, uint64_t xfer)
{
    struct uvfio_device_config cfg = {
        .name = "dirty0",
        .ops = &drv_ops,
        .log_ops = ops,
        .priv = t,
    };

    memset(t, 0, sizeof(*t));
    assert_int_equal(uvfio_device_create(&cfg, &t->dev), 0);
    t->mem_base = mem_base;
    t->mem_size = mem_size;
    if (mem_size) {
        t->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        assert_true(t->mem != MAP_FAILED);
    }
    t->cl.ctx = t;
    t->cl.dma_rw = fake_dma_rw;
    t->cl.max_data_xfer = xfer;
    t->cl.max_dma_maps = 1024;
    assert_int_equal(uvfio_core_attach(t->dev, &t->cl), 0);
}

void tdev_fini(struct tdev *t)
{
    uvfio_core_detach(t->dev);
    uvfio_device_destroy(t->dev);
    if (t->mem)
        munmap(t->mem, t->mem_size);
    memset(t, 0, sizeof(*t));
}

/* ---- DMA map / unmap --------------------------------------------------- */

int t_map_fd(struct tdev *t, uint64_t iova, uint64_t size, uint32_t prot)
{
    struct uvfio_wire_dma_map m = {
        .argsz = sizeof(m), .flags = prot, .addr = iova, .size = size,
    };
    int fd = memfd_create("dirty-test", MFD_CLOEXEC), r;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    r = uvfio_core_dma_map(t->dev, &m, &fd);
    if (fd >= 0)
        close(fd);
    return r;
}

int t_map_msg(struct tdev *t, uint64_t iova, uint64_t size, uint32_t prot)
{
    struct uvfio_wire_dma_map m = {
        .argsz = sizeof(m), .flags = prot, .addr = iova, .size = size,
    };
    int none = -1;

    return uvfio_core_dma_map(t->dev, &m, &none);
}

int t_unmap(struct tdev *t, uint64_t iova, uint64_t size)
{
    struct uvfio_wire_dma_unmap u = {
        .argsz = sizeof(u), .addr = iova, .size = size,
    };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_dma_unmap(t->dev, &u, NULL, 0, &rep);

    if (!r)
        assert_int_equal(rep.len, sizeof(u));
    uvfio_buf_free(&rep);
    return r;
}

/* ---- features ---------------------------------------------------------- */

int t_feature(struct tdev *t, uint32_t argsz, uint32_t flags,
              const void *payload, size_t len, struct uvfio_buf *rep)
{
    struct uvfio_buf mine = UVFIO_BUF_INIT;
    int r;

    r = uvfio_core_feature(t->dev, argsz, flags, payload, len,
                           rep ? rep : &mine);
    uvfio_buf_free(&mine);
    return r;
}

int t_start(struct tdev *t, const struct uvfio_dirty_range *r, uint32_t nr,
            uint64_t *page_size)
{
    size_t len = sizeof(struct uvfio_wire_logging_control) + nr * 16ul;
    struct uvfio_wire_logging_control ctl = { *page_size, nr, 0 };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint8_t *p = calloc(1, len);
    uint32_t i;
    int ret;

    memcpy(p, &ctl, sizeof(ctl));
    for (i = 0; i < nr; i++)
        memcpy(p + sizeof(ctl) + i * 16ul, &r[i], 16);
    ret = t_feature(t, (uint32_t)(FHDR + len),
                    UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_START, p,
                    len, &rep);
    if (!ret) {
        /* The echo, with the page size the device chose. */
        assert_int_equal(rep.len, FHDR + len);
        memcpy(&ctl, rep.data + FHDR, sizeof(ctl));
        assert_int_equal(ctl.num_ranges, nr);
        assert_memory_equal(rep.data + FHDR + sizeof(ctl), p + sizeof(ctl),
                            len - sizeof(ctl));
        *page_size = ctl.page_size;
    }
    free(p);
    uvfio_buf_free(&rep);
    return ret;
}

int t_stop(struct tdev *t)
{
    return t_feature(t, FHDR, UVFIO_FEATURE_SET |
                     UVFIO_FEATURE_DMA_LOGGING_STOP, NULL, 0, NULL);
}

size_t t_words(uint64_t length, uint64_t page_size)
{
    uint64_t bits = length / page_size + (length % page_size != 0);

    return (size_t)((bits + 63) / 64);
}

int t_report(struct tdev *t, uint64_t iova, uint64_t length,
             uint64_t page_size, uint64_t *words)
{
    struct uvfio_wire_logging_report req = { iova, length, page_size }, echo;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    size_t bytes = t_words(length, page_size) * 8;
    struct uvfio_wire_feature hdr;
    int r;

    /* Garbage where the reply goes: every bit must be written. */
    assert_int_equal(uvfio_buf_reserve(&rep, FHDR + sizeof(req) + bytes), 0);
    memset(rep.data, 0xa5, rep.cap);
    r = t_feature(t, (uint32_t)(FHDR + sizeof(req) + bytes),
                  UVFIO_FEATURE_GET | UVFIO_FEATURE_DMA_LOGGING_REPORT, &req,
                  sizeof(req), &rep);
    if (!r) {
        assert_int_equal(rep.len, FHDR + sizeof(req) + bytes);
        memcpy(&hdr, rep.data, sizeof(hdr));
        assert_int_equal(hdr.argsz, rep.len);
        assert_int_equal(hdr.flags, UVFIO_FEATURE_GET |
                         UVFIO_FEATURE_DMA_LOGGING_REPORT);
        memcpy(&echo, rep.data + FHDR, sizeof(echo));
        assert_memory_equal(&echo, &req, sizeof(req));
        memcpy(words, rep.data + FHDR + sizeof(req), bytes);
    }
    uvfio_buf_free(&rep);
    return r;
}

int t_unmap_dirty(struct tdev *t, uint64_t iova, uint64_t size,
                  uint64_t pgsize, uint32_t bytes, void *out)
{
    struct uvfio_wire_dma_unmap u = {
        .argsz = (uint32_t)(sizeof(u) + sizeof(struct uvfio_wire_bitmap) +
                            bytes),
        .flags = UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
        .addr = iova, .size = size,
    };
    struct uvfio_wire_bitmap bm = { pgsize, bytes }, got;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r;

    r = uvfio_core_dma_unmap(t->dev, &u, &bm, sizeof(bm), &rep);
    if (!r) {
        assert_int_equal(rep.len, sizeof(u) + sizeof(bm) + bytes);
        assert_memory_equal(rep.data, &u, sizeof(u));
        memcpy(&got, rep.data + sizeof(u), sizeof(got));
        assert_int_equal(got.pgsize, pgsize);
        assert_int_equal(got.size, bytes);
        memcpy(out, rep.data + sizeof(u) + sizeof(bm), bytes);
    }
    uvfio_buf_free(&rep);
    return r;
}

/* ---- bits and writes --------------------------------------------------- */

bool t_bit(const uint64_t *words, uint64_t n)
{
    return (words[n / 64] >> (n % 64)) & 1;
}

uint64_t t_popcount(const uint64_t *words, size_t nwords)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < nwords; i++)
        n += (uint64_t)__builtin_popcountll(words[i]);
    return n;
}

void t_touch(struct tdev *t, uint64_t iova, uint64_t npages)
{
    uint8_t b = 0x5a;
    uint64_t i;

    for (i = 0; i < npages; i++)
        assert_int_equal(uvfio_dma_write(t->dev, iova + i * PG, &b, 1), 0);
}

int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
