// SPDX-License-Identifier: MIT
/*
 * tests/dirty/test_socket.c - dirty logging over a real vfio-user socket:
 * a server thread serves a device, the client library drives logging and
 * the device writes guest memory (shared by fd, or reached by DMA_WRITE
 * messages the client serves).  Reports split into windows by the client
 * library, the unmap bitmap, errors that leave the connection serving,
 * and logging ending with the client.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#define PG      4096ull
#define MB      (1ull << 20)
#define RW      (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

struct rig {
    struct uvfio_server *srv;
    struct uvfio_device *dev;
    pthread_t thread;
    char dir[64];
    char path[96];
};

static const struct uvfio_device_ops dev_ops = { .name = "dirty-sock" };

static void *serve(void *arg)
{
    struct rig *r = arg;

    return (void *)(intptr_t)uvfio_server_run(r->srv);
}

static void rig_start(struct rig *r)
{
    struct uvfio_server_opts so = { .max_data_xfer_size = 1u << 20 };
    struct uvfio_device_config dc = { .name = "dirty-sock", .ops = &dev_ops };

    memset(r, 0, sizeof(*r));
    strcpy(r->dir, "/tmp/uvfio-dirty-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->path, sizeof(r->path), "%s/dev", r->dir);
    assert_int_equal(uvfio_server_create(&so, &r->srv), 0);
    assert_int_equal(uvfio_device_create(&dc, &r->dev), 0);
    assert_int_equal(uvfio_server_add_device(r->srv, r->dev, r->path), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, serve, r), 0);
}

static void rig_stop(struct rig *r)
{
    void *ret;

    uvfio_server_stop(r->srv);
    assert_int_equal(pthread_join(r->thread, &ret), 0);
    assert_int_equal((intptr_t)ret, 0);
    uvfio_server_destroy(r->srv);
    uvfio_device_destroy(r->dev);
    rmdir(r->dir);
}

static struct uvfio_client *rig_connect(struct rig *r, uint64_t xfer)
{
    struct uvfio_client_opts o = { .max_data_xfer_size = xfer,
                                   .timeout_ms = 10000 };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(r->path, &o, &c), 0);
    return c;
}

static void wait_detached(struct uvfio_device *dev)
{
    int i;

    for (i = 0; i < 5000 && uvfio_device_open_count(dev); i++)
        usleep(1000);
    assert_int_equal(uvfio_device_open_count(dev), 0);
}

static void dev_write(struct rig *r, uint64_t iova)
{
    uint8_t b = 0xd1;

    assert_int_equal(uvfio_dma_write(r->dev, iova, &b, 1), 0);
}

static bool bit(const uint64_t *w, uint64_t n)
{
    return (w[n / 64] >> (n % 64)) & 1;
}

static uint64_t popcount(const uint64_t *w, size_t n)
{
    uint64_t c = 0;

    while (n--)
        c += (uint64_t)__builtin_popcountll(w[n]);
    return c;
}

/* ---- tests ------------------------------------------------------------- */

static void test_start_report_stop(void **state)
{
    struct uvfio_dirty_range ranges[2] = { { 0, 16 * MB },
                                           { 32 * MB, 16 * MB } };
    struct uvfio_guest_mem gm;
    struct uvfio_client *c;
    uint64_t ps = 1024, w[192] = { 0 };
    struct rig r;

    (void)state;
    rig_start(&r);
    c = rig_connect(&r, 0);
    assert_int_equal(uvfio_guest_mem_create(48 * MB, "dirty", &gm), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0, 48 * MB, RW, gm.fd, 0), 0);
    assert_int_equal(uvfio_client_dma_logging_start(c, ranges, 2, &ps), 0);
    assert_int_equal(ps, PG);                   /* the server's choice */
    assert_int_equal(uvfio_client_dma_logging_start(c, ranges, 2, &ps),
                     -EBUSY);
    dev_write(&r, 5 * PG);
    dev_write(&r, 20 * MB);                     /* not logged */
    dev_write(&r, 40 * MB + 3);
    /* 48 MiB at 64 KiB: 768 bits */
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 48 * MB, 16 * PG,
                                                     w), 0);
    assert_int_equal(popcount(w, 12), 2);
    assert_true(bit(w, 0));
    assert_true(bit(w, 640));
    /* ORed in, as the kernel's report: the caller zeroes */
    memset(w, 0, sizeof(w));
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 48 * MB, 16 * PG,
                                                     w), 0);
    assert_int_equal(popcount(w, 12), 0);
    assert_int_equal(uvfio_client_dma_logging_stop(c), 0);
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 48 * MB, 16 * PG,
                                                     w), -EINVAL);
    assert_int_equal(uvfio_client_dma_logging_stop(c), 0);
    /* bad requests get their errno and the connection keeps serving */
    ps = 3 * PG;
    assert_int_equal(uvfio_client_dma_logging_start(c, ranges, 2, &ps),
                     -EINVAL);
    ps = PG;
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 48 * MB, PG / 2,
                                                     w), -EINVAL);
    dev_write(&r, 47 * MB);
    memset(w, 0, sizeof(w));
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 48 * MB, MB, w),
                     0);
    assert_int_equal(w[0], 1ull << 47);
    uvfio_client_close(c);
    wait_detached(r.dev);
    uvfio_guest_mem_destroy(&gm);
    rig_stop(&r);
}

/* With max_data_xfer_size 4 KiB a reply carries 32768 bits: a report of
 * 512 MiB at 4 KiB goes out as 4 windows, one at 8 KiB from 4 KiB on as
 * 2; dirty pages sit on both sides of the window edges, across several
 * maps with holes between them. */
static void test_report_windows(void **state)
{
    static const uint64_t pages[] = { 0, 32767, 32768, 65535, 65536, 70000,
                                      131071 };
    struct uvfio_guest_mem a, b;
    struct uvfio_client *c;
    uint64_t ps = PG, *w = calloc(2048, 8);
    struct rig r;
    size_t i;

    (void)state;
    rig_start(&r);
    c = rig_connect(&r, 4096);
    assert_int_equal(uvfio_client_caps(c)->max_data_xfer_size, 4096);
    assert_int_equal(uvfio_guest_mem_create(64 * MB, "a", &a), 0);
    assert_int_equal(uvfio_guest_mem_create(64 * MB, "b", &b), 0);
    assert_int_equal(uvfio_client_dma_map(c, 96 * MB, 64 * MB, RW, a.fd, 0),
                     0);
    assert_int_equal(uvfio_client_dma_map(c, 0, 64 * MB, RW, b.fd, 0), 0);
    {
        struct uvfio_guest_mem h;

        assert_int_equal(uvfio_guest_mem_create(64 * MB, "c", &h), 0);
        assert_int_equal(uvfio_client_dma_map(c, 224 * MB, 64 * MB, RW, h.fd,
                                              0), 0);
        assert_int_equal(uvfio_client_dma_map(c, 448 * MB, 64 * MB, RW, h.fd,
                                              0), 0);
        uvfio_guest_mem_destroy(&h);
    }
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        dev_write(&r, pages[i] * PG);
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, 512 * MB, PG, w),
                     0);
    assert_int_equal(popcount(w, 2048), 7);
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        assert_true(bit(w, pages[i]));
    /* a single window too big for one reply is refused by the server */
    {
        uint64_t req[3] = { 0, 32769 * PG, PG };

        assert_int_equal(uvfio_client_feature(c, UVFIO_FEATURE_GET |
                                              UVFIO_FEATURE_DMA_LOGGING_REPORT,
                                              req, sizeof(req)), -E2BIG);
    }
    /* at 8 KiB from 4 KiB on: page p is bit (p - 1) / 2, page 0 is out */
    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        dev_write(&r, pages[i] * PG);
    memset(w, 0, 2048 * 8);
    assert_int_equal(uvfio_client_dma_logging_report(c, PG, 512 * MB - PG,
                                                     2 * PG, w), 0);
    assert_int_equal(popcount(w, 1024), 4);
    for (i = 1; i < sizeof(pages) / sizeof(pages[0]); i++)
        assert_true(bit(w, (pages[i] - 1) / 2));
    uvfio_client_close(c);
    wait_detached(r.dev);
    uvfio_guest_mem_destroy(&a);
    uvfio_guest_mem_destroy(&b);
    free(w);
    rig_stop(&r);
}

/* Message-path memory: the device's writes arrive as DMA_WRITE requests
 * the client serves while it waits; they are logged all the same. */
struct msg_writer {
    struct rig *r;
    int ret;
    volatile int done;
};

static void *msg_write(void *arg)
{
    struct msg_writer *m = arg;
    uint8_t buf[2 * 4096];

    memset(buf, 0x42, sizeof(buf));
    m->ret = uvfio_dma_write(m->r->dev, 64 * MB + 3 * PG, buf, sizeof(buf));
    __atomic_store_n(&m->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_message_path(void **state)
{
    uint8_t *host = calloc(1, MB);
    struct msg_writer m = { 0 };
    struct uvfio_client *c;
    uint64_t ps = PG, w[4] = { 0 };
    pthread_t th;
    struct rig r;
    int i;

    (void)state;
    rig_start(&r);
    c = rig_connect(&r, 0);
    m.r = &r;
    assert_int_equal(uvfio_client_dma_map_msg(c, 64 * MB, MB, RW, host), 0);
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    assert_int_equal(pthread_create(&th, NULL, msg_write, &m), 0);
    for (i = 0; i < 10000 && !__atomic_load_n(&m.done, __ATOMIC_ACQUIRE);
         i++)
        assert_true(uvfio_client_dispatch(c, 1) >= 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(m.ret, 0);
    assert_int_equal(host[3 * PG], 0x42);
    assert_int_equal(uvfio_client_dma_logging_report(c, 64 * MB, MB, PG, w),
                     0);
    assert_int_equal(w[0], 3ull << 3);
    assert_int_equal(w[1] | w[2] | w[3], 0);
    uvfio_client_close(c);
    wait_detached(r.dev);
    free(host);
    rig_stop(&r);
}

static void test_unmap_dirty(void **state)
{
    struct uvfio_guest_mem gm;
    struct uvfio_client *c;
    uint8_t bm[3];
    uint64_t ps = PG;
    struct rig r;

    (void)state;
    rig_start(&r);
    c = rig_connect(&r, 0);
    assert_int_equal(uvfio_guest_mem_create(20 * PG, "u", &gm), 0);
    assert_int_equal(uvfio_client_dma_map(c, MB, 20 * PG, RW, gm.fd, 0), 0);
    /* logging off: refused, and the map stays */
    assert_int_equal(uvfio_client_dma_unmap_dirty(c, MB, 20 * PG, PG, bm,
                                                  sizeof(bm)), -EINVAL);
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    dev_write(&r, MB + PG);
    dev_write(&r, MB + 19 * PG);
    memset(bm, 0xff, sizeof(bm));
    assert_int_equal(uvfio_client_dma_unmap_dirty(c, MB, 20 * PG, PG, bm,
                                                  sizeof(bm)), 0);
    assert_int_equal(bm[0], 2);
    assert_int_equal(bm[1], 0);
    assert_int_equal(bm[2], 1u << 3);
    /* gone on both sides */
    {
        uint8_t b = 1;

        assert_int_equal(uvfio_dma_write(r.dev, MB, &b, 1), -EFAULT);
    }
    assert_int_equal(uvfio_client_dma_unmap(c, MB, 20 * PG), -EINVAL);
    assert_int_equal(uvfio_client_dma_map(c, MB, 20 * PG, RW, gm.fd, 0), 0);
    uvfio_client_close(c);
    wait_detached(r.dev);
    uvfio_guest_mem_destroy(&gm);
    rig_stop(&r);
}

/* Logging belongs to the connection: the next client finds it off. */
static void test_ends_with_client(void **state)
{
    struct uvfio_client *c;
    uint64_t ps = PG, w[1];
    struct rig r;

    (void)state;
    rig_start(&r);
    c = rig_connect(&r, 0);
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    uvfio_client_close(c);
    wait_detached(r.dev);
    c = rig_connect(&r, 0);
    assert_int_equal(uvfio_client_dma_logging_report(c, 0, PG, PG, w),
                     -EINVAL);
    assert_int_equal(uvfio_client_dma_logging_start(c, NULL, 0, &ps), 0);
    uvfio_client_close(c);
    wait_detached(r.dev);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_report_stop),
        cmocka_unit_test(test_report_windows),
        cmocka_unit_test(test_message_path),
        cmocka_unit_test(test_unmap_dirty),
        cmocka_unit_test(test_ends_with_client),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
