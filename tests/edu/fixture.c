// SPDX-License-Identifier: MIT
/*
 * tests/edu/fixture.c - see fixture.h.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"
#include "pattern.h"
#include "proto/version.h"

#define CMD_MEM         0x0002
#define CMD_MASTER      0x0004
#define MAX_XFER        (1u << 20)

/* ---- the stand-in client ---------------------------------------------- */

static int fx_dma_rw(void *ctx, bool write, uint64_t iova, void *buf,
                     size_t len)
{
    struct fx *f = ctx;

    f->dma_rw_calls++;
    for (unsigned int i = 0; i < FX_MSG_WINDOWS; i++) {
        struct fx_msg_window *w = &f->msg[i];

        if (!w->host || iova < w->iova || len > w->size ||
            iova - w->iova > w->size - len)
            continue;
        if (write)
            memcpy(w->host + (iova - w->iova), buf, len);
        else
            memcpy(buf, w->host + (iova - w->iova), len);
        return 0;
    }
    return -EFAULT;
}

struct fx *fx_create(const struct edu_opts *opts)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct uvfio_core_client cl = {
        .dma_rw = fx_dma_rw,
        .max_data_xfer = MAX_XFER,
        .max_dma_maps = 64,
        .extensions = UVFIO_EXT_PRECOPY_INFO,
    };

    assert_non_null(f);
    cl.ctx = f;
    assert_int_equal(edu_create(opts, &f->edu), 0);
    f->dev = edu_device(f->edu);
    assert_int_equal(uvfio_core_attach(f->dev, &cl), 0);
    f->attached = true;
    cfg_wr(f, 0x04, CMD_MEM | CMD_MASTER, 2);
    return f;
}

void fx_destroy(struct fx *f)
{
    if (f->attached)
        uvfio_core_detach(f->dev);
    edu_destroy(f->edu);
    free(f);
}

/* ---- registers ---------------------------------------------------------- */

ssize_t bar_rw(struct fx *f, uint64_t off, void *buf, size_t len, bool write)
{
    if (write)
        return uvfio_core_region_write(f->dev, UVFIO_PCI_BAR0_REGION, off,
                                       buf, len);
    return uvfio_core_region_read(f->dev, UVFIO_PCI_BAR0_REGION, off, buf,
                                  len);
}

static uint64_t le_get(const uint8_t *b, unsigned int n)
{
    uint64_t v = 0;

    for (unsigned int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void le_put(uint8_t *b, uint64_t v, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

uint32_t rd32(struct fx *f, uint32_t off)
{
    uint8_t b[4];

    assert_int_equal(bar_rw(f, off, b, 4, false), 4);
    return (uint32_t)le_get(b, 4);
}

uint64_t rd64(struct fx *f, uint32_t off)
{
    uint8_t b[8];

    assert_int_equal(bar_rw(f, off, b, 8, false), 8);
    return le_get(b, 8);
}

void wr32(struct fx *f, uint32_t off, uint32_t v)
{
    uint8_t b[4];

    le_put(b, v, 4);
    assert_int_equal(bar_rw(f, off, b, 4, true), 4);
}

void wr64(struct fx *f, uint32_t off, uint64_t v)
{
    uint8_t b[8];

    le_put(b, v, 8);
    assert_int_equal(bar_rw(f, off, b, 8, true), 8);
}

uint32_t cfg_rd(struct fx *f, uint32_t off, unsigned int len)
{
    uint8_t b[4] = { 0 };

    assert_int_equal(uvfio_core_region_read(f->dev, UVFIO_PCI_CONFIG_REGION,
                                            off, b, len), len);
    return (uint32_t)le_get(b, len);
}

void cfg_wr(struct fx *f, uint32_t off, uint32_t v, unsigned int len)
{
    uint8_t b[4];

    le_put(b, v, 4);
    assert_int_equal(uvfio_core_region_write(f->dev, UVFIO_PCI_CONFIG_REGION,
                                             off, b, len), len);
}

void fx_bus_master(struct fx *f, bool on)
{
    cfg_wr(f, 0x04, CMD_MEM | (on ? CMD_MASTER : 0), 2);
}

uint32_t fx_msi_cap(struct fx *f)
{
    uint32_t off = cfg_rd(f, 0x34, 1);
    unsigned int hops = 0;

    while (off && hops++ < 48) {
        if (cfg_rd(f, off, 1) == 0x05)
            return off;
        off = cfg_rd(f, off + 1, 1);
    }
    fail_msg("no MSI capability");
    return 0;
}

/* ---- guest memory -------------------------------------------------------- */

void *fx_memfd(size_t size, int *fd)
{
    void *p;

    *fd = memfd_create("edu-test", MFD_CLOEXEC);
    assert_true(*fd >= 0);
    assert_int_equal(ftruncate(*fd, (off_t)size), 0);
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

void fx_memfd_free(void *p, size_t size, int fd)
{
    munmap(p, size);
    close(fd);
}

int fx_map_fd(struct fx *f, uint64_t iova, uint64_t size, int fd,
              uint32_t prot)
{
    struct uvfio_wire_dma_map req = {
        .argsz = sizeof(req), .flags = prot, .addr = iova, .size = size,
    };
    int dupfd = dup(fd), r;

    assert_true(dupfd >= 0);
    r = uvfio_core_dma_map(f->dev, &req, &dupfd);
    if (dupfd >= 0)
        close(dupfd);
    return r;
}

int fx_map_msg(struct fx *f, uint64_t iova, uint64_t size, void *host,
               uint32_t prot)
{
    struct uvfio_wire_dma_map req = {
        .argsz = sizeof(req), .flags = prot, .addr = iova, .size = size,
    };
    int nofd = -1;

    for (unsigned int i = 0; i < FX_MSG_WINDOWS; i++) {
        if (f->msg[i].host)
            continue;
        f->msg[i] = (struct fx_msg_window){ iova, host, size };
        return uvfio_core_dma_map(f->dev, &req, &nofd);
    }
    fail_msg("out of message windows");
    return -ENOSPC;
}

int fx_unmap(struct fx *f, uint64_t iova, uint64_t size)
{
    struct uvfio_wire_dma_unmap req = {
        .argsz = sizeof(req), .addr = iova, .size = size,
    };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_dma_unmap(f->dev, &req, NULL, 0, &rep);

    uvfio_buf_free(&rep);
    for (unsigned int i = 0; !r && i < FX_MSG_WINDOWS; i++)
        if (f->msg[i].host && f->msg[i].iova == iova)
            memset(&f->msg[i], 0, sizeof(f->msg[i]));
    return r;
}

/* ---- interrupts ---------------------------------------------------------- */

int fx_irq_eventfd(struct fx *f, uint32_t index, int efd)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr),
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = index, .start = 0, .count = 1,
    };
    int fd = dup(efd), r;

    assert_true(fd >= 0);
    r = uvfio_core_set_irqs(f->dev, &hdr, NULL, 0, &fd, 1);
    if (fd >= 0)
        close(fd);
    return r;
}

int fx_irq_unmask(struct fx *f, uint32_t index)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr),
        .flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK,
        .index = index, .start = 0, .count = 1,
    };

    return uvfio_core_set_irqs(f->dev, &hdr, NULL, 0, NULL, 0);
}

int efd_new(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

uint64_t efd_take(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return 0;
    return v;
}

/* ---- time ------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fx_pump(struct fx *f, int ms)
{
    int64_t end = mono_ms() + ms, left;
    struct pollfd p = { .fd = uvfio_core_event_fd(f->dev), .events = POLLIN };

    while ((left = end - mono_ms()) > 0) {
        if (poll(&p, 1, (int)left) > 0)
            uvfio_core_dispatch_events(f->dev);
    }
}

void fx_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- migration ---------------------------------------------------------------- */

static int feature(struct fx *f, uint32_t flags, void *payload, size_t len,
                   bool get)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    struct uvfio_wire_feature hdr;
    int r;

    r = uvfio_core_feature(f->dev, (uint32_t)(sizeof(hdr) + len), flags,
                           get ? NULL : payload, get ? 0 : len, &rep);
    if (!r && get) {
        assert_int_equal(rep.len, sizeof(hdr) + len);
        memcpy(payload, rep.data + sizeof(hdr), len);
    }
    uvfio_buf_free(&rep);
    return r;
}

int fx_set_state(struct fx *f, enum uvfio_mig_state s)
{
    struct uvfio_wire_feature_mig_state st = { s, UINT32_MAX };

    return feature(f, UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE, &st,
                   sizeof(st), false);
}

int fx_get_state(struct fx *f)
{
    struct uvfio_wire_feature_mig_state st;
    int r = feature(f, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DEVICE_STATE,
                    &st, sizeof(st), true);

    return r ? r : (int)st.device_state;
}

int fx_precopy_info(struct fx *f, uint64_t *initial, uint64_t *dirty)
{
    uint64_t v[2];
    int r = feature(f, UVFIO_FEATURE_GET | UVFIO_FEATURE_PRECOPY_INFO, v,
                    sizeof(v), true);

    if (!r) {
        *initial = v[0];
        *dirty = v[1];
    }
    return r;
}

int fx_data_size(struct fx *f, uint64_t *len)
{
    return feature(f, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DATA_SIZE, len,
                   sizeof(*len), true);
}

ssize_t fx_read_stream(struct fx *f, uint8_t **buf, size_t *len)
{
    const uint32_t chunk = 1000;      /* not a divisor of any record */
    struct uvfio_wire_mig_data req = { sizeof(req) + chunk, chunk }, hdr;
    size_t total = 0;

    for (;;) {
        struct uvfio_buf rep = UVFIO_BUF_INIT;
        int r = uvfio_core_mig_data_read(f->dev, &req, &rep);

        if (r) {
            uvfio_buf_free(&rep);
            return r;
        }
        memcpy(&hdr, rep.data, sizeof(hdr));
        assert_true(hdr.size <= chunk);
        *buf = realloc(*buf, *len + hdr.size + 1);
        assert_non_null(*buf);
        memcpy(*buf + *len, rep.data + sizeof(hdr), hdr.size);
        *len += hdr.size;
        total += hdr.size;
        uvfio_buf_free(&rep);
        if (hdr.size < chunk)
            return (ssize_t)total;
    }
}

int fx_write_stream(struct fx *f, const void *buf, size_t len, size_t chunk)
{
    const uint8_t *p = buf;

    while (len) {
        uint32_t n = (uint32_t)(len < chunk ? len : chunk);
        struct uvfio_wire_mig_data req = { sizeof(req) + n, n };
        int r = uvfio_core_mig_data_write(f->dev, &req, p, n);

        if (r)
            return r;
        p += n;
        len -= n;
    }
    return 0;
}

/* ---- state checks --------------------------------------------------------------- */

static const struct { uint32_t off; unsigned int len; } snap_regs[] = {
    { EDU_REG_ID, 4 }, { EDU_REG_LIVENESS, 4 }, { EDU_REG_FACT, 4 },
    { EDU_REG_STATUS, 4 }, { EDU_REG_IRQ_STATUS, 4 },
    { EDU_REG_DMA_SRC, 8 }, { EDU_REG_DMA_DST, 8 }, { EDU_REG_DMA_CNT, 8 },
    { EDU_REG_DMA_CMD, 8 }, { EDU_REG_EXT_VERSION, 8 },
    { EDU_REG_DMA_ERROR, 8 }, { EDU_REG_DMA_MASK, 8 },
    { EDU_REG_CQ_ADDR, 8 }, { EDU_REG_CQ_SIZE, 8 }, { EDU_REG_CQ_RATE, 8 },
    { EDU_REG_CQ_CTRL, 8 }, { EDU_REG_CQ_STATUS, 8 }, { EDU_REG_CQ_ERROR, 8 },
    { EDU_REG_CQ_PASSES, 8 }, { EDU_REG_CQ_POS, 8 }, { EDU_REG_CQ_BYTES, 8 },
};

void fx_snapshot(struct fx *f, struct fx_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < sizeof(snap_regs) / sizeof(snap_regs[0]); i++)
        s->regs[i] = snap_regs[i].len == 4 ? rd32(f, snap_regs[i].off) :
                                             rd64(f, snap_regs[i].off);
    for (uint32_t off = 0; off < sizeof(s->config); off += 4)
        le_put(s->config + off, cfg_rd(f, off, 4), 4);
}

void fx_snapshot_equal(const struct fx_snapshot *a,
                       const struct fx_snapshot *b)
{
    for (size_t i = 0; i < sizeof(snap_regs) / sizeof(snap_regs[0]); i++)
        if (a->regs[i] != b->regs[i])
            fail_msg("register %#x: %#llx != %#llx", snap_regs[i].off,
                     (unsigned long long)a->regs[i],
                     (unsigned long long)b->regs[i]);
    for (size_t i = 0; i < sizeof(a->config); i++)
        if (a->config[i] != b->config[i])
            fail_msg("config byte %#zx: %#x != %#x", i, a->config[i],
                     b->config[i]);
}

uint32_t fx_dma(struct fx *f, uint64_t src, uint64_t dst, uint64_t cnt,
                uint32_t cmd)
{
    wr64(f, EDU_REG_DMA_SRC, src);
    wr64(f, EDU_REG_DMA_DST, dst);
    wr64(f, EDU_REG_DMA_CNT, cnt);
    wr32(f, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN);
    return rd32(f, EDU_REG_DMA_ERROR);
}

void fx_read_buffer(struct fx *f, uint64_t iova, const void *host,
                    uint8_t out[EDU_DMA_BUF_SIZE])
{
    assert_int_equal(fx_dma(f, EDU_DMA_BUF_ADDR, iova, EDU_DMA_BUF_SIZE,
                            EDU_DMA_CMD_TO_RAM), 0);
    memcpy(out, host, EDU_DMA_BUF_SIZE);
}

void fx_load_buffer(struct fx *f, uint64_t iova, void *host,
                    const uint8_t data[EDU_DMA_BUF_SIZE])
{
    memcpy(host, data, EDU_DMA_BUF_SIZE);
    assert_int_equal(fx_dma(f, iova, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_SIZE, 0),
                     0);
}

void fx_check_window(const void *host, uint64_t iova, uint64_t size,
                     uint64_t passes, uint64_t pos)
{
    const uint8_t *p = host;
    uint64_t pages = size / EDU_CQ_PAGE_SIZE, want, got;

    for (uint64_t i = 0; i < pages; i++) {
        const void *page = p + i * EDU_CQ_PAGE_SIZE;

        want = edu_cq_expected_pass(passes, pos, i);
        if (want == 0) {
            static const uint8_t zero[EDU_CQ_PAGE_SIZE];

            if (memcmp(page, zero, sizeof(zero)))
                fail_msg("page %llu written, but no pass reached it",
                         (unsigned long long)i);
            continue;
        }
        if (edu_cq_page_check(page, i, iova + i * EDU_CQ_PAGE_SIZE, &got))
            fail_msg("page %llu is not a pattern page",
                     (unsigned long long)i);
        if (got != want)
            fail_msg("page %llu from pass %llu, want %llu (passes %llu, "
                     "pos %llu)", (unsigned long long)i,
                     (unsigned long long)got, (unsigned long long)want,
                     (unsigned long long)passes, (unsigned long long)pos);
    }
}
