/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_e2e.c - the client against the real server and core,
 * in-process: the server runs in a thread, the device is e2e_dev.c.
 *
 * Everything the client offers, end to end: description, region access
 * split and posted (with and without WRITE_MULTI), mmap of sparse areas,
 * guest memory shared by fd and by message (served while waiting, via
 * dispatch, and on the twin socket), IRQ eventfds, reset, reconnect.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/client.h>
#include <uvfio/server.h>

#include "e2e_dev.h"
#include "fake_server.h"

struct env {
    char dir[64];
    char path[128];
    struct e2e_dev d;
    struct uvfio_server *srv;
    pthread_t thread;
    int fds_before;
};

static void *server_main(void *arg)
{
    struct env *e = arg;

    uvfio_server_run(e->srv);
    return NULL;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    if (!e)
        return -1;
    e->fds_before = fake_count_fds();
    snprintf(e->dir, sizeof(e->dir), "/tmp/uvfio-e2e-XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    snprintf(e->path, sizeof(e->path), "%s/dev.sock", e->dir);
    if (e2e_dev_create(&e->d) < 0 ||
        uvfio_server_create(NULL, &e->srv) < 0 ||
        uvfio_server_add_device(e->srv, e->d.dev, e->path) < 0 ||
        pthread_create(&e->thread, NULL, server_main, e) != 0)
        return -1;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    int leaked;

    uvfio_server_stop(e->srv);
    pthread_join(e->thread, NULL);
    uvfio_server_destroy(e->srv);
    e2e_dev_destroy(&e->d);
    unlink(e->path);
    rmdir(e->dir);
    leaked = fake_count_fds() - e->fds_before;
    free(e);
    assert_int_equal(leaked, 0);
    return 0;
}

static struct uvfio_client *connect_opts(struct env *e,
                                         const struct uvfio_client_opts *o)
{
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(e->path, o, &c), 0);
    return c;
}

/* Run a DMA command in the device; returns its result. */
static int32_t ctl(struct uvfio_client *c, uint32_t op, uint64_t iova,
                   uint32_t len)
{
    struct e2e_cmd cmd = { iova, len, op };
    int32_t res = 1;

    assert_int_equal(uvfio_client_region_write(c, E2E_CTL, 0, &cmd,
                                               sizeof(cmd)), sizeof(cmd));
    assert_int_equal(uvfio_client_region_read(c, E2E_CTL, E2E_RESULT, &res,
                                              sizeof(res)), sizeof(res));
    return res;
}

/* ---- description -------------------------------------------------------- */

static void test_describe(void **state)
{
    struct env *e = *state;
    struct uvfio_client_device_info di;
    struct uvfio_client_irq_info ii;
    struct uvfio_client_region r;
    struct uvfio_client *c = connect_opts(e, NULL);
    const struct uvfio_client_caps *k = uvfio_client_caps(c);

    assert_int_equal(k->major, 0);
    assert_true(k->write_multiple);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_true(di.flags & UVFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(di.num_regions, E2E_NUM_REGIONS);
    assert_int_equal(di.num_irqs, 1);

    assert_int_equal(uvfio_client_region_info(c, E2E_REGS, &r), 0);
    assert_int_equal(r.size, E2E_REGS_SIZE);
    assert_int_equal(r.flags & UVFIO_REGION_FLAG_MMAP, 0);
    assert_int_equal(r.fd, -1);
    uvfio_client_region_free(&r);

    assert_int_equal(uvfio_client_region_info(c, E2E_WIN, &r), 0);
    assert_true(r.flags & UVFIO_REGION_FLAG_MMAP);
    assert_true(r.fd >= 0);
    assert_int_equal(r.nr_sparse, 2);
    assert_int_equal(r.sparse[1].offset, 8192);
    assert_int_equal(r.sparse[1].size, 4096);
    uvfio_client_region_free(&r);

    assert_int_equal(uvfio_client_region_info(c, 99, &r), -EINVAL);
    assert_int_equal(uvfio_client_irq_info(c, 0, &ii), 0);
    assert_int_equal(ii.count, E2E_IRQ_VECTORS);
    assert_true(ii.flags & UVFIO_IRQ_INFO_EVENTFD);
    uvfio_client_close(c);
}

/* ---- region access ------------------------------------------------------ */

static void test_region_access(void **state)
{
    struct uvfio_client_opts o = { .max_data_xfer_size = 4096 };
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, &o);
    uint8_t *in = malloc(10000), *out = calloc(1, 10000);
    int i;

    for (i = 0; i < 10000; i++)
        in[i] = (uint8_t)(i * 13);
    /* Split at 4 KiB both ways. */
    assert_int_equal(uvfio_client_caps(c)->max_data_xfer_size, 4096);
    assert_int_equal(uvfio_client_region_write(c, E2E_BUF, 100, in, 10000),
                     10000);
    assert_memory_equal(e->d.buf + 100, in, 10000);
    assert_int_equal(uvfio_client_region_read(c, E2E_BUF, 100, out, 10000),
                     10000);
    assert_memory_equal(out, in, 10000);
    /* The server's bounds check comes back as its errno. */
    assert_int_equal(uvfio_client_region_read(c, E2E_REGS, 4090, out, 8),
                     -EINVAL);
    uvfio_client_close(c);
    free(in);
    free(out);
}

static void posted_then_read(struct env *e, const struct uvfio_client_opts *o)
{
    struct uvfio_client *c = connect_opts(e, o);
    uint32_t v, got[300];
    uint8_t big[64];
    int i;

    for (i = 0; i < 300; i++) {
        v = 0x1000 + i;
        assert_int_equal(uvfio_client_region_write_posted(c, E2E_BUF, i * 4ull,
                                                          &v, 4), 0);
    }
    memset(big, 0x77, sizeof(big));
    assert_int_equal(uvfio_client_region_write_posted(c, E2E_BUF, 2000, big,
                                                      sizeof(big)), 0);
    /* Overwrite an earlier posted value: order must hold. */
    v = 0xdead;
    assert_int_equal(uvfio_client_region_write_posted(c, E2E_BUF, 0, &v, 4),
                     0);
    assert_int_equal(uvfio_client_region_read(c, E2E_BUF, 0, got,
                                              sizeof(got)), sizeof(got));
    assert_int_equal(got[0], 0xdead);
    for (i = 1; i < 300; i++)
        if (i * 4 < 2000 || i * 4 >= 2064)
            assert_int_equal(got[i], 0x1000 + i);
    assert_int_equal(e->d.buf[2063], 0x77);
    uvfio_client_close(c);
}

static void test_posted_writes(void **state)
{
    struct uvfio_client_opts no_wm = { .no_write_multiple = true };

    posted_then_read(*state, NULL);
    posted_then_read(*state, &no_wm);
}

static void test_mmap_sparse(void **state)
{
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, NULL);
    struct uvfio_client_region r;
    uint8_t *a0, *a1, b[4];
    size_t l0, l1;

    assert_int_equal(uvfio_client_region_info(c, E2E_WIN, &r), 0);
    a0 = uvfio_client_region_mmap(c, &r, 0, &l0);
    a1 = uvfio_client_region_mmap(c, &r, 1, &l1);
    assert_non_null(a0);
    assert_non_null(a1);
    assert_int_equal(l0, 4096);
    assert_int_equal(l1, 4096);
    assert_null(uvfio_client_region_mmap(c, &r, 2, &l1));
    /* Stores through the mapping are the device's memory ... */
    memcpy(a1 + 16, "\x11\x22\x33\x44", 4);
    assert_int_equal(e->d.win[8192 + 16], 0x11);
    /* ... and what a trapped access sees. */
    assert_int_equal(uvfio_client_region_read(c, E2E_WIN, 8192 + 16, b, 4), 4);
    assert_memory_equal(b, "\x11\x22\x33\x44", 4);
    assert_int_equal(uvfio_client_region_write(c, E2E_WIN, 4, "ab", 2), 2);
    assert_memory_equal(a0 + 4, "ab", 2);
    munmap(a0, l0);
    munmap(a1, l1);
    uvfio_client_region_free(&r);
    uvfio_client_close(c);
}

/* ---- guest memory ------------------------------------------------------- */

static void test_dma_fd(void **state)
{
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, NULL);
    struct uvfio_guest_mem gm;
    uint8_t *g;
    int i;

    assert_int_equal(uvfio_guest_mem_create(1 << 20, "guest", &gm), 0);
    g = gm.host;
    for (i = 0; i < 8192; i++)
        g[0x3000 + i] = (uint8_t)(i * 5);
    assert_int_equal(uvfio_client_dma_map(c, 0x100000, 1 << 20, 3, gm.fd, 0),
                     0);
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x103000, 8192), 0);
    assert_memory_equal(e->d.buf, g + 0x3000, 8192);
    memset(e->d.buf, 0x42, 100);
    assert_int_equal(ctl(c, E2E_OP_TO_GUEST, 0x100010, 100), 0);
    assert_int_equal(g[0x10], 0x42);
    assert_int_equal(g[0x10 + 99], 0x42);
    assert_int_equal(g[0x10 + 100], 0);
    /* Outside the map: the device's DMA fails, the connection goes on. */
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x300000, 16), -EFAULT);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x100000, 1 << 20), 0);
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x103000, 16), -EFAULT);
    uvfio_client_close(c);
    uvfio_guest_mem_destroy(&gm);
}

/* No fd: the server reaches this memory only by DMA_READ/WRITE messages,
 * which the client serves while it waits for the CTL write's reply. */
static void dma_by_message(struct env *e, const struct uvfio_client_opts *o)
{
    struct uvfio_client *c = connect_opts(e, o);
    uint8_t *host = calloc(1, 64 << 10), *ro = calloc(1, 4096);
    int i;

    for (i = 0; i < (64 << 10); i++)
        host[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x200000, 64 << 10, 3, host),
                     0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x300000, 4096,
                                              UVFIO_DMA_MAP_FLAG_READ, ro), 0);
    /* 20000 bytes: more than one max_data_xfer chunk when it is 4 KiB. */
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x200100, 20000), 0);
    assert_memory_equal(e->d.buf, host + 0x100, 20000);
    memset(e->d.buf, 0xa5, 5000);
    assert_int_equal(ctl(c, E2E_OP_TO_GUEST, 0x200000, 5000), 0);
    assert_int_equal(host[0], 0xa5);
    assert_int_equal(host[4999], 0xa5);
    assert_int_equal(host[5000], (uint8_t)(5000 * 7 + 1));
    /* The server's table refuses a write to a read-only map; and one past
     * the maps would be refused by the client's own table too. */
    assert_int_equal(ctl(c, E2E_OP_TO_GUEST, 0x300000, 16), -EFAULT);
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x200000 + (64 << 10) - 8, 16),
                     -EFAULT);
    assert_int_equal(uvfio_client_dma_unmap_all(c), 0);
    assert_int_equal(ctl(c, E2E_OP_TO_BUF, 0x200000, 16), -EFAULT);
    uvfio_client_close(c);
    free(host);
    free(ro);
}

static void test_dma_message(void **state)
{
    struct uvfio_client_opts small = { .max_data_xfer_size = 4096 };

    dma_by_message(*state, NULL);
    dma_by_message(*state, &small);
}

static void test_dma_message_twin(void **state)
{
    struct uvfio_client_opts o = { .twin_socket = true };
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, &o);

    /* uvfio's server grants it; DMA then runs over the second socket. */
    assert_true(uvfio_client_caps(c)->twin_socket);
    uvfio_client_close(c);
    dma_by_message(e, &o);
}

/* A device thread does DMA while the client is idle: dispatch serves it. */
struct dma_thread {
    struct uvfio_device *dev;
    int result;
    atomic_bool done;
};

static void *dma_worker(void *arg)
{
    struct dma_thread *t = arg;

    t->result = uvfio_dma_write(t->dev, 0x400010, "from the device", 15);
    atomic_store(&t->done, true);
    return NULL;
}

static void test_dispatch_device_thread(void **state)
{
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, NULL);
    struct dma_thread t = { .dev = e->d.dev };
    uint8_t *host = calloc(1, 4096);
    int64_t deadline = fake_now_ms() + 5000;
    pthread_t th;
    struct pollfd p;
    int served = 0, r;

    /* The server takes page-sized windows only. */
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x400000, 64, 3, host),
                     -EINVAL);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x400000, 4096, 3, host), 0);
    assert_int_equal(pthread_create(&th, NULL, dma_worker, &t), 0);
    while (!atomic_load(&t.done) && fake_now_ms() < deadline) {
        p = (struct pollfd){ .fd = uvfio_client_fd(c), .events = POLLIN };
        if (poll(&p, 1, 100) == 1) {
            r = uvfio_client_dispatch(c, 0);
            assert_true(r >= 0);
            served += r;
        }
    }
    pthread_join(th, NULL);
    assert_int_equal(t.result, 0);
    assert_true(served >= 1);
    assert_memory_equal(host + 0x10, "from the device", 15);
    uvfio_client_close(c);
    free(host);
}

/* ---- interrupts, reset, reconnect --------------------------------------- */

static void test_irqs(void **state)
{
    const uint32_t fl = UVFIO_IRQ_SET_DATA_EVENTFD |
                        UVFIO_IRQ_SET_ACTION_TRIGGER;
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, NULL);
    int efd[2] = { eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
                   eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    int fds[3] = { efd[0], -1, efd[1] };
    uint64_t v = 0;

    assert_int_equal(uvfio_client_set_irqs(c, fl, 0, 0, 3, NULL, fds), 0);
    assert_int_equal(ctl(c, E2E_OP_IRQ, 0, 2), 0);
    assert_int_equal(read(efd[1], &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);
    assert_int_equal(read(efd[0], &v, sizeof(v)), -1);
    assert_int_equal(ctl(c, E2E_OP_IRQ, 0, 0), 0);
    assert_int_equal(read(efd[0], &v, sizeof(v)), sizeof(v));
    /* Vector 1 was sent as "no fd": nothing bound. */
    assert_int_equal(ctl(c, E2E_OP_IRQ, 0, 1), -ENOENT);
    /* De-assign vector 2 alone. */
    fds[0] = -1;
    assert_int_equal(uvfio_client_set_irqs(c, fl, 0, 2, 1, NULL, &fds[0]), 0);
    assert_int_equal(ctl(c, E2E_OP_IRQ, 0, 2), -ENOENT);
    /* Disable the index. */
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER, 0,
                                           0, 0, NULL, NULL), 0);
    assert_int_equal(ctl(c, E2E_OP_IRQ, 0, 0), -ENOENT);
    uvfio_client_close(c);
    close(efd[0]);
    close(efd[1]);
}

static void test_reset_and_reconnect(void **state)
{
    struct env *e = *state;
    struct uvfio_client *c = connect_opts(e, NULL);
    struct uvfio_client_device_info di;
    uint32_t v = 0x1234;
    int before = atomic_load(&e->d.resets);

    assert_int_equal(uvfio_client_region_write(c, E2E_REGS, 0, &v, 4), 4);
    assert_int_equal(uvfio_client_reset(c), 0);
    assert_int_equal(atomic_load(&e->d.resets), before + 1);
    assert_int_equal(uvfio_client_region_read(c, E2E_REGS, 0, &v, 4), 4);
    assert_int_equal(v, 0);
    uvfio_client_close(c);
    /* The socket takes the next client. */
    c = connect_opts(e, NULL);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    uvfio_client_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_posted_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmap_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_message_twin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_device_thread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_irqs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_reconnect, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
