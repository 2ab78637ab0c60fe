// SPDX-License-Identifier: MIT
/*
 * tests/core/test_dma.c - the DMA table: DMA_MAP/DMA_UNMAP validation,
 * reads and writes across maps (direct and by message), permissions,
 * holes, pins with deferred munmap, and driver threads accessing guest
 * memory while the client maps and unmaps.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fake.h"

#define PG      4096u
#define R       UVFIO_DMA_MAP_FLAG_READ
#define W       UVFIO_DMA_MAP_FLAG_WRITE
#define MSG_BASE 0x40000000ull

static struct fake f;
static struct fake_client fc;
static struct uvfio_device *dev;

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof(f));
    dev = fake_create(&f, NULL, false, 1, 0, NULL);
    fake_client_init(&fc, MSG_BASE, 4 * PG, 1000, 8);
    fake_attach(dev, &fc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uvfio_core_detach(dev);
    uvfio_device_destroy(dev);
    fake_client_fini(&fc);
    return 0;
}

static int map_req(uint32_t argsz, uint32_t flags, uint64_t addr,
                   uint64_t size, uint64_t offset, int *fd)
{
    struct uvfio_wire_dma_map req = {
        .argsz = argsz, .flags = flags, .offset = offset, .addr = addr,
        .size = size,
    };

    return uvfio_core_dma_map(dev, &req, fd);
}

/* Map [addr, addr+size) of `memfd` at `offset`, through a dup the core
 * must take. */
static int map_fd(uint32_t flags, uint64_t addr, uint64_t size, int memfd,
                  uint64_t offset)
{
    int fd = fd_dup(memfd), r;

    r = map_req(32, flags, addr, size, offset, &fd);
    if (r == 0) {
        assert_int_equal(fd, -1);
    } else {
        assert_true(fd_is_open(fd));
        close(fd);
    }
    return r;
}

static int map_msg(uint32_t flags, uint64_t addr, uint64_t size)
{
    int fd = -1;

    return map_req(32, flags, addr, size, 0, &fd);
}

static int unmap_req(uint32_t argsz, uint32_t flags, uint64_t addr,
                     uint64_t size)
{
    struct uvfio_wire_dma_unmap req = {
        .argsz = argsz, .flags = flags, .addr = addr, .size = size,
    };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_dma_unmap(dev, &req, NULL, 0, &rep);

    if (r == 0) {
        assert_int_equal(rep.len, sizeof(req));
        assert_memory_equal(rep.data, &req, sizeof(req));
    }
    uvfio_buf_free(&rep);
    return r;
}

static int unmap(uint64_t addr, uint64_t size)
{
    return unmap_req(24, 0, addr, size);
}

static void memfd_fill(int memfd, uint64_t off, uint8_t byte, size_t len)
{
    uint8_t *buf = malloc(len);

    memset(buf, byte, len);
    assert_int_equal(pwrite(memfd, buf, len, (off_t)off), (ssize_t)len);
    free(buf);
}

static uint8_t memfd_byte(int memfd, uint64_t off)
{
    uint8_t b = 0;

    assert_int_equal(pread(memfd, &b, 1, (off_t)off), 1);
    return b;
}

/* ---- DMA_MAP ----------------------------------------------------------- */

static void test_map_validation(void **state)
{
    int memfd = memfd_new(2 * PG), fd = -1;

    (void)state;
    assert_int_equal(map_req(31, R, 0x1000, PG, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, 0, 0x1000, PG, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, R | 4, 0x1000, PG, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, R, 0x1000, 0, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, R, 0x1800, PG, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, R, 0x1000, 0x800, 0, &fd), -EINVAL);
    assert_int_equal(map_req(32, R, UINT64_MAX - PG + 1, 2 * PG, 0, &fd),
                     -EINVAL);
    /* Up to the very top of the IOVA space is fine. */
    assert_int_equal(map_req(32, R, UINT64_MAX - PG + 1, PG, 0, &fd), 0);
    assert_int_equal(unmap(UINT64_MAX - PG + 1, PG), 0);
    assert_int_equal(f.unmaps, 1);

    /* With an fd: a bad offset, a file too short to back the window. */
    assert_int_equal(map_fd(R, 0x1000, PG, memfd, 0x800), -EINVAL);
    assert_int_equal(map_fd(R, 0x1000, PG, memfd, 2 * PG), -EINVAL);
    assert_int_equal(map_fd(R, 0x1000, 2 * PG, memfd, PG), -EINVAL);
    assert_int_equal(map_fd(R, 0x1000, PG, memfd, UINT64_MAX - PG + 1),
                     -EINVAL);
    assert_int_equal(map_fd(R | W, 0x1000, 2 * PG, memfd, 0), 0);
    close(memfd);
}

static void test_map_mmap_errors(void **state)
{
    int pipefd[2], ro, memfd = memfd_new(PG);
    char path[64];

    (void)state;
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    assert_int_equal(map_fd(R, 0x1000, PG, pipefd[0], 0), -ENODEV);
    close(pipefd[0]);
    close(pipefd[1]);

    /* Writable window over a read-only file. */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    ro = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(ro >= 0);
    assert_int_equal(map_fd(R | W, 0x1000, PG, ro, 0), -EACCES);
    assert_int_equal(map_fd(R, 0x1000, PG, ro, 0), 0);
    close(ro);
    close(memfd);
}

static void test_map_overlap(void **state)
{
    (void)state;
    assert_int_equal(map_msg(R, 0x10000, 4 * PG), 0);
    assert_int_equal(map_msg(R, 0x10000, 4 * PG), -EEXIST);
    assert_int_equal(map_msg(R, 0xf000, 2 * PG), -EEXIST);
    assert_int_equal(map_msg(R, 0x13000, 2 * PG), -EEXIST);
    assert_int_equal(map_msg(R, 0x11000, PG), -EEXIST);
    assert_int_equal(map_msg(R, 0x8000, 0x10000), -EEXIST);
    /* Adjacent on both sides. */
    assert_int_equal(map_msg(R, 0xf000, PG), 0);
    assert_int_equal(map_msg(R, 0x14000, PG), 0);
}

static void test_map_limit(void **state)
{
    uint64_t i;

    (void)state;
    for (i = 0; i < 8; i++)
        assert_int_equal(map_msg(R, i * 0x10000, PG), 0);
    assert_int_equal(map_msg(R, 0x100000, PG), -ENOSPC);
    assert_int_equal(unmap(0x30000, PG), 0);
    assert_int_equal(map_msg(R, 0x100000, PG), 0);
}

/* ---- DMA_UNMAP --------------------------------------------------------- */

static void test_unmap_rules(void **state)
{
    (void)state;
    assert_int_equal(map_msg(R, 0x10000, 2 * PG), 0);
    assert_int_equal(map_msg(R, 0x20000, PG), 0);

    assert_int_equal(unmap_req(23, 0, 0x10000, 2 * PG), -EINVAL);
    assert_int_equal(unmap_req(24, 1u << 2, 0x10000, 2 * PG), -EINVAL);
    /* Exactly as mapped, or nothing. */
    assert_int_equal(unmap(0x10000, PG), -EINVAL);
    assert_int_equal(unmap(0x11000, PG), -EINVAL);
    assert_int_equal(unmap(0x10000, 3 * PG), -EINVAL);
    assert_int_equal(unmap(0x30000, PG), -EINVAL);
    assert_int_equal(f.unmaps, 0);
    /* The legacy dirty bitmap needs DMA logging on, as type1's needs dirty
     * tracking (EINVAL otherwise; the rest of it is tests/dirty's); with
     * ALL it is never valid. */
    assert_int_equal(unmap_req(48, UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
                               0x10000, 2 * PG), -EINVAL);
    assert_int_equal(unmap_req(48, UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
                               UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0), -EINVAL);
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0x10000, 0),
                     -EINVAL);
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, PG), -EINVAL);

    assert_int_equal(unmap(0x10000, 2 * PG), 0);
    assert_int_equal(f.unmaps, 1);
    assert_int_equal(f.unmap_iova[0], 0x10000);
    assert_int_equal(f.unmap_len[0], 2 * PG);
    assert_int_equal(unmap(0x10000, 2 * PG), -EINVAL);

    assert_int_equal(map_msg(R, 0x50000, PG), 0);
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0), 0);
    assert_int_equal(f.unmaps, 3);
    assert_int_equal(f.unmap_iova[1], 0x20000);
    assert_int_equal(f.unmap_iova[2], 0x50000);
    assert_int_equal(map_msg(R, 0x20000, PG), 0);
    /* ALL on an empty table is fine too. */
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0), 0);
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0), 0);
}

/* ---- reads and writes -------------------------------------------------- */

static void test_rw_direct_spanning(void **state)
{
    int a = memfd_new(4 * PG), b = memfd_new(4 * PG);
    uint8_t buf[2 * PG], back[2 * PG];
    size_t i;

    (void)state;
    /* Two adjacent windows from different files and offsets. */
    assert_int_equal(map_fd(R | W, 0x100000, PG, a, 2 * PG), 0);
    assert_int_equal(map_fd(R | W, 0x101000, 2 * PG, b, PG), 0);
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(uvfio_dma_write(dev, 0x100800, buf, sizeof(buf)), 0);
    assert_int_equal(memfd_byte(a, 2 * PG + 0x800), buf[0]);
    assert_int_equal(memfd_byte(a, 3 * PG - 1), buf[0x7ff]);
    assert_int_equal(memfd_byte(b, PG), buf[0x800]);
    assert_int_equal(memfd_byte(b, PG + 0x17ff), buf[sizeof(buf) - 1]);
    /* The client's writes are seen too: the memory is shared. */
    memfd_fill(b, PG + 0x800, 0xab, 16);
    memset(back, 0, sizeof(back));
    assert_int_equal(uvfio_dma_read(dev, 0x100800, back, sizeof(back)), 0);
    assert_memory_equal(back, buf, 0x1000);
    assert_int_equal(back[0x1000], 0xab);
    assert_int_equal(uvfio_dma_read(dev, 0x100800, back, 0), 0);
    close(a);
    close(b);
}

static void test_rw_faults(void **state)
{
    int a = memfd_new(4 * PG);
    uint8_t buf[3 * PG];

    (void)state;
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(map_fd(R | W, 0x100000, PG, a, 0), 0);
    assert_int_equal(map_fd(R | W, 0x102000, PG, a, PG), 0);
    /* A hole between two windows: nothing written at all. */
    assert_int_equal(uvfio_dma_write(dev, 0x100000, buf, 3 * PG), -EFAULT);
    assert_int_equal(memfd_byte(a, 0), 0);
    assert_int_equal(uvfio_dma_read(dev, 0x100fff, buf, 2), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, 0x103000, buf, 1), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, 0xfffff, buf, 1), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, UINT64_MAX, buf, 2), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, 0x100000, NULL, 1), -EINVAL);
    assert_int_equal(uvfio_dma_read(NULL, 0x100000, buf, 1), -EINVAL);
    assert_int_equal(uvfio_dma_read(dev, 0x100000, buf, PG), 0);
    close(a);
}

static void test_rw_permissions(void **state)
{
    int a = memfd_new(2 * PG);
    uint8_t byte = 1;

    (void)state;
    assert_int_equal(map_fd(R, 0x100000, PG, a, 0), 0);
    assert_int_equal(map_fd(W, 0x101000, PG, a, PG), 0);
    assert_int_equal(uvfio_dma_read(dev, 0x100000, &byte, 1), 0);
    assert_int_equal(uvfio_dma_write(dev, 0x100000, &byte, 1), -EFAULT);
    assert_int_equal(uvfio_dma_write(dev, 0x101000, &byte, 1), 0);
    assert_int_equal(uvfio_dma_read(dev, 0x101000, &byte, 1), -EFAULT);
    /* Across both: each half lacks one permission. */
    assert_int_equal(uvfio_dma_read(dev, 0x100fff, &byte, 2) , -EFAULT);
    assert_int_equal(map_msg(R, 0x200000, PG), 0);
    assert_int_equal(uvfio_dma_write(dev, 0x200000, &byte, 1), -EFAULT);
    assert_int_equal(fc.calls, 0);
    close(a);
}

static void test_rw_message_path(void **state)
{
    uint8_t buf[3 * PG], back[3 * PG];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 13);
    assert_int_equal(map_msg(R | W, MSG_BASE, 4 * PG), 0);
    assert_int_equal(uvfio_dma_write(dev, MSG_BASE + 100, buf, sizeof(buf)),
                     0);
    /* In pieces no larger than the client's max_data_xfer (1000). */
    assert_int_equal(fc.calls, 13);
    assert_int_equal(fc.max_chunk, 1000);
    assert_memory_equal(fc.mem + 100, buf, sizeof(buf));
    memset(back, 0, sizeof(back));
    assert_int_equal(uvfio_dma_read(dev, MSG_BASE + 100, back, sizeof(back)),
                     0);
    assert_memory_equal(back, buf, sizeof(buf));

    /* The client's error is the driver's error. */
    fc.fail = -EIO;
    assert_int_equal(uvfio_dma_read(dev, MSG_BASE, back, 10), -EIO);
    fc.fail = 0;
}

/* A span that is half mmapped, half by message. */
static void test_rw_mixed_span(void **state)
{
    int a = memfd_new(PG);
    uint8_t buf[64], back[64];

    (void)state;
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(map_fd(R | W, MSG_BASE - PG, PG, a, 0), 0);
    assert_int_equal(map_msg(R | W, MSG_BASE, PG), 0);
    assert_int_equal(uvfio_dma_write(dev, MSG_BASE - 32, buf, 64), 0);
    assert_int_equal(memfd_byte(a, PG - 32), 0x77);
    assert_int_equal(fc.mem[31], 0x77);
    assert_int_equal(fc.mem[32], 0);
    assert_int_equal(uvfio_dma_read(dev, MSG_BASE - 32, back, 64), 0);
    assert_memory_equal(back, buf, 64);
    close(a);
}

/* Without a client nothing can serve a message-path window. */
static void test_rw_message_without_client(void **state)
{
    struct fake g = { 0 };
    struct uvfio_device *d = fake_create(&g, NULL, false, 1, 0, NULL);
    struct uvfio_wire_dma_map req = {
        .argsz = 32, .flags = R | W, .addr = 0x1000, .size = PG,
    };
    uint8_t byte = 0;
    int fd = -1;

    (void)state;
    assert_int_equal(uvfio_core_dma_map(d, &req, &fd), 0);
    assert_int_equal(uvfio_dma_read(d, 0x1000, &byte, 1), -EFAULT);
    uvfio_device_destroy(d);
    assert_int_equal(g.unmaps, 1);
}

/* ---- pins -------------------------------------------------------------- */

static bool is_mapped(void *p)
{
    unsigned char vec;

    return mincore(p, PG, &vec) == 0;
}

static void test_pin_rules(void **state)
{
    struct uvfio_dma_pin pin;
    int a = memfd_new(4 * PG);

    (void)state;
    assert_int_equal(map_fd(R | W, 0x100000, PG, a, 0), 0);
    assert_int_equal(map_fd(R, 0x101000, PG, a, PG), 0);
    assert_int_equal(map_msg(R | W, MSG_BASE, PG), 0);

    assert_int_equal(uvfio_dma_pin(dev, 0x100000, PG, true, NULL), -EINVAL);
    assert_int_equal(uvfio_dma_pin(dev, 0x100000, 0, true, &pin), -EINVAL);
    /* Inside one fd-backed window only, with the permission asked. */
    assert_int_equal(uvfio_dma_pin(dev, 0x100800, PG, false, &pin), -EFAULT);
    assert_null(pin.priv_);
    assert_int_equal(uvfio_dma_pin(dev, 0x101000, 16, true, &pin), -EFAULT);
    assert_int_equal(uvfio_dma_pin(dev, MSG_BASE, 16, false, &pin), -EFAULT);
    assert_int_equal(uvfio_dma_pin(dev, 0x200000, 16, false, &pin), -EFAULT);
    assert_int_equal(uvfio_dma_pin(dev, UINT64_MAX, 2, false, &pin),
                     -EFAULT);

    assert_int_equal(uvfio_dma_pin(dev, 0x100010, 32, true, &pin), 0);
    assert_int_equal(pin.iova, 0x100010);
    assert_int_equal(pin.len, 32);
    assert_true(pin.write);
    memset(pin.host, 0xcd, 32);
    assert_int_equal(memfd_byte(a, 0x10), 0xcd);
    assert_int_equal(memfd_byte(a, 0x2f), 0xcd);
    assert_int_equal(memfd_byte(a, 0x30), 0);
    uvfio_dma_unpin(dev, &pin);
    assert_null(pin.priv_);
    uvfio_dma_unpin(dev, &pin);         /* twice is harmless */

    assert_int_equal(uvfio_dma_pin(dev, 0x101000, PG, false, &pin), 0);
    uvfio_dma_unpin(dev, &pin);
    close(a);
}

/* Unmapped while pinned: out of the table at once, memory kept until the
 * last unpin. */
static void test_pin_defers_munmap(void **state)
{
    struct uvfio_dma_pin p1, p2, p3;
    int a = memfd_new(PG);
    uint8_t byte;
    void *host;

    (void)state;
    assert_int_equal(map_fd(R | W, 0x100000, PG, a, 0), 0);
    assert_int_equal(uvfio_dma_pin(dev, 0x100000, 64, true, &p1), 0);
    assert_int_equal(uvfio_dma_pin(dev, 0x100040, 64, false, &p2), 0);
    host = p1.host;

    assert_int_equal(unmap(0x100000, PG), 0);
    assert_int_equal(f.unmaps, 1);
    assert_int_equal(uvfio_dma_read(dev, 0x100000, &byte, 1), -EFAULT);
    assert_int_equal(uvfio_dma_pin(dev, 0x100000, 8, false, &p3), -EFAULT);
    assert_true(is_mapped(host));
    ((uint8_t *)p1.host)[0] = 0x42;
    assert_int_equal(memfd_byte(a, 0), 0x42);

    uvfio_dma_unpin(dev, &p1);
    assert_true(is_mapped(host));
    uvfio_dma_unpin(dev, &p2);
    assert_false(is_mapped(host));
    close(a);
}

/* The normal way: the driver drops its pins in dma_unmap, and the memory
 * is gone by the time DMA_UNMAP is answered. */
static struct uvfio_dma_pin held;

static void unpin_on_unmap(struct fake *ff, uint64_t iova, uint64_t len)
{
    (void)iova;
    (void)len;
    uvfio_dma_unpin(ff->dev, &held);
}

static void test_pin_dropped_in_dma_unmap(void **state)
{
    int a = memfd_new(PG);
    void *host;

    (void)state;
    f.on_unmap = unpin_on_unmap;
    assert_int_equal(map_fd(R | W, 0x100000, PG, a, 0), 0);
    assert_int_equal(uvfio_dma_pin(dev, 0x100000, PG, true, &held), 0);
    host = held.host;
    assert_int_equal(unmap(0x100000, PG), 0);
    assert_false(is_mapped(host));
    f.on_unmap = NULL;
    close(a);
}

/* ---- driver threads vs. map/unmap -------------------------------------- */

#define STRESS_WINDOWS 4
#define STRESS_STRIDE  (4 * PG)

struct stress {
    atomic_bool stop;
    unsigned int seed;
    unsigned int first;         /* windows first, first + 2, ... */
    long ok, fault;
};

/* Window i always maps a file filled with byte i + 1, so any successful
 * access sees only that byte; a torn or stale mapping would show.  Each
 * thread has windows of its own: two devices DMAing into the same guest
 * page race in hardware too, and that is not what this test is about. */
static void *stress_loop(void *arg)
{
    struct stress *s = arg;
    struct uvfio_dma_pin pin;
    uint8_t buf[2 * PG];
    uint64_t w, iova;
    size_t len, i;
    int r;

    while (!atomic_load(&s->stop)) {
        w = s->first +
            2 * ((uint64_t)rand_r(&s->seed) % (STRESS_WINDOWS / 2));
        iova = 0x1000000 + w * STRESS_STRIDE + (uint64_t)rand_r(&s->seed) % PG;
        len = 1 + (size_t)rand_r(&s->seed) % (2 * PG);
        switch (rand_r(&s->seed) % 3) {
        case 0:
            r = uvfio_dma_read(dev, iova, buf, len);
            for (i = 0; r == 0 && i < len; i++)
                assert_int_equal(buf[i], w + 1);
            break;
        case 1:
            memset(buf, (int)(w + 1), len);
            r = uvfio_dma_write(dev, iova, buf, len);
            break;
        default:
            r = uvfio_dma_pin(dev, iova, 64, true, &pin);
            if (r == 0) {
                for (i = 0; i < 64; i++)
                    assert_int_equal(((uint8_t *)pin.host)[i], w + 1);
                uvfio_dma_unpin(dev, &pin);
            }
            break;
        }
        assert_true(r == 0 || r == -EFAULT);
        if (r == 0)
            s->ok++;
        else
            s->fault++;
    }
    return NULL;
}

static void test_stress_access_vs_map(void **state)
{
    struct stress s[2] = { { .seed = 1, .first = 0 },
                           { .seed = 2, .first = 1 } };
    int files[STRESS_WINDOWS], fds_before;
    struct timespec t0, now;
    pthread_t th[2];
    unsigned int seed = 3;
    long rounds = 0;
    uint64_t w;
    int i;

    (void)state;
    for (i = 0; i < STRESS_WINDOWS; i++) {
        files[i] = memfd_new(2 * PG);
        memfd_fill(files[i], 0, (uint8_t)(i + 1), 2 * PG);
    }
    fds_before = count_open_fds();
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stress_loop, &s[i]), 0);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        w = rand_r(&seed) % STRESS_WINDOWS;
        if (map_fd(R | W, 0x1000000 + w * STRESS_STRIDE, 2 * PG,
                   files[w], 0) == -EEXIST)
            assert_int_equal(unmap(0x1000000 + w * STRESS_STRIDE, 2 * PG), 0);
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000000000L +
             (now.tv_nsec - t0.tv_nsec) < 400000000L);

    for (i = 0; i < 2; i++) {
        atomic_store(&s[i].stop, true);
        pthread_join(th[i], NULL);
    }
    assert_int_equal(unmap_req(24, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0), 0);
    assert_int_equal(count_open_fds(), fds_before);
    assert_true(rounds > 10);
    assert_true(s[0].ok + s[1].ok > 0);
    assert_true(s[0].fault + s[1].fault > 0);
    for (i = 0; i < STRESS_WINDOWS; i++)
        close(files[i]);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_map_validation),
        T(test_map_mmap_errors),
        T(test_map_overlap),
        T(test_map_limit),
        T(test_unmap_rules),
        T(test_rw_direct_spanning),
        T(test_rw_faults),
        T(test_rw_permissions),
        T(test_rw_message_path),
        T(test_rw_mixed_span),
        cmocka_unit_test(test_rw_message_without_client),
        T(test_pin_rules),
        T(test_pin_defers_munmap),
        T(test_pin_dropped_in_dma_unmap),
        T(test_stress_access_vs_map),
    };
#undef T

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
