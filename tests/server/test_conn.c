// SPDX-License-Identifier: MIT
/*
 * tests/server/test_conn.c - connections: their end, the next client, and
 * the peers that misbehave.
 *
 * A client that leaves takes its DMA maps and IRQ eventfds with it, the
 * device keeps its state and the socket takes the next client; a second
 * client waits until the first has gone.  A client that sends half a
 * message, floods requests, never reads its replies or sends hundreds of
 * fds costs its own connection at most - another device served by the
 * same process keeps answering within a bound.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fixture.h"

#define XFER (64u << 10)

static int setup(void **state)
{
    struct uvfio_server_opts opts = {
        .max_data_xfer_size = XFER,
        .max_queued_reply_bytes = XFER + 8192,
    };
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(fx_start(fx, &opts, 2, true), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    free(*state);
    return 0;
}

/* A request that must be answered within `ms`. */
static void assert_answers_within(struct tclient *tc, int ms)
{
    int64_t t0 = fx_now_ms();
    uint8_t b[4];

    assert_int_equal(tc_region_read(tc, TD_ROM, 0, b, sizeof(b)), 0);
    assert_int_equal(b[0], 0xa5);
    if (fx_now_ms() - t0 > ms)
        fail_msg("answer took %lld ms", (long long)(fx_now_ms() - t0));
}

/* ---- the end of a connection ------------------------------------------- */

static void set_msi_eventfd(struct tclient *tc, int efd)
{
    struct uvfio_wire_irq_set set = {
        .argsz = sizeof(set),
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = TD_IRQ_MSI, .start = 0, .count = 1,
    };

    assert_int_equal(tc_call_err(tc, UVFIO_CMD_DEVICE_SET_IRQS, &set,
                                 sizeof(set), &efd, 1), 0);
}

static void test_disconnect_drops_maps_and_irqs(void **state)
{
    struct fixture *fx = *state;
    struct testdev *td = &fx->td[0];
    uint32_t v = 0x5a5a1234, got = 0;
    int memfd, efd, fds0;
    struct tclient tc;

    fds0 = fx_count_fds();
    memfd = memfd_create("guest", MFD_CLOEXEC);
    assert_int_equal(ftruncate(memfd, 0x4000), 0);
    efd = eventfd(0, EFD_CLOEXEC);
    fx_client(fx, 0, &tc);
    assert_int_equal(tc_dma_map(&tc, 0x10000, 0x4000,
                                UVFIO_DMA_MAP_FLAG_READ, memfd, 0), 0);
    assert_int_equal(tc_dma_map(&tc, 0x80000, 0x4000,
                                UVFIO_DMA_MAP_FLAG_READ, -1, 0), 0);
    set_msi_eventfd(&tc, efd);
    assert_int_equal(tc_region_write(&tc, TD_REGS, 8, &v, 4), 0);
    assert_int_equal(uvfio_dma_read(td->dev, 0x10000, &got, 4), 0);
    assert_true(uvfio_irq_enabled(td->dev, TD_IRQ_MSI, 0));

    tc_close(&tc);
    assert_true(fx_wait_open(td->dev, 0, 2000));
    assert_int_equal(atomic_load(&td->closes), 1);
    assert_int_equal(atomic_load(&td->unmaps), 2);
    assert_int_equal(uvfio_dma_read(td->dev, 0x10000, &got, 4), -EFAULT);
    assert_false(uvfio_irq_enabled(td->dev, TD_IRQ_MSI, 0));
    close(memfd);
    close(efd);
    /* The server let go of the mapped memfd, the eventfd, the socket. */
    assert_int_equal(fx_count_fds(), fds0);

    /* The device kept its state for the next client. */
    fx_client(fx, 0, &tc);
    assert_int_equal(tc_region_read(&tc, TD_REGS, 8, &got, 4), 0);
    assert_int_equal(got, v);
    assert_int_equal(atomic_load(&td->opens), 2);
    tc_close(&tc);
}

static void test_reconnect_many_times(void **state)
{
    struct fixture *fx = *state;
    struct tclient tc;
    int i, fds0 = fx_count_fds();

    for (i = 0; i < 20; i++) {
        fx_client(fx, 0, &tc);
        assert_answers_within(&tc, 1000);
        tc_close(&tc);
        assert_true(fx_wait_open(fx->td[0].dev, 0, 2000));
    }
    assert_int_equal(atomic_load(&fx->td[0].opens), 20);
    assert_int_equal(atomic_load(&fx->td[0].closes), 20);
    assert_int_equal(fx_count_fds(), fds0);
}

static void test_second_client_waits(void **state)
{
    struct fixture *fx = *state;
    struct tclient a, b;
    struct uvfio_wire_version v = { 0, 2 };
    struct uvfio_msg m;
    uint16_t id;

    fx_client(fx, 0, &a);
    /* The kernel completes b's connect in the backlog; nobody reads it. */
    assert_int_equal(tc_connect(&b, fx->path[0]), 0);
    id = tc_send(&b, UVFIO_CMD_VERSION, 0, &v, sizeof(v), NULL, 0);
    assert_int_equal(tc_wait(&b, id, &m, 300), -ETIMEDOUT);
    assert_answers_within(&a, 1000);
    tc_close(&a);
    assert_int_equal(tc_wait(&b, id, &m, 2000), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
    assert_answers_within(&b, 1000);
    tc_close(&b);
}

/* ---- misbehaving peers -------------------------------------------------- */

static void test_half_message_blocks_nobody(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_rw rw = { 0, TD_ROM, 4 };
    struct uvfio_wire_hdr h = { 7, UVFIO_CMD_REGION_READ, 32, 0, 0 };
    struct tclient slow, other;
    uint8_t msg[32];
    struct uvfio_msg m;
    int i;

    fx_client(fx, 0, &slow);
    fx_client(fx, 1, &other);
    memcpy(msg, &h, sizeof(h));
    memcpy(msg + sizeof(h), &rw, sizeof(rw));
    /* Half a header, then nothing. */
    assert_int_equal(tc_send_bytes(&slow, msg, 10), 0);
    for (i = 0; i < 200; i++)
        assert_answers_within(&other, 500);
    /* The rest arrives, byte by byte: the message completes. */
    for (i = 10; i < 32; i++)
        assert_int_equal(tc_send_bytes(&slow, msg + i, 1), 0);
    assert_int_equal(tc_wait(&slow, 7, &m, 2000), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);

    /* Half of a large message: the header promises 60 KiB, 1 KiB comes. */
    h = (struct uvfio_wire_hdr){ 8, UVFIO_CMD_REGION_WRITE,
                                 32 + (60u << 10), 0, 0 };
    assert_int_equal(tc_send_bytes(&slow, &h, sizeof(h)), 0);
    memset(msg, 0, sizeof(msg));
    for (i = 0; i < 32; i++)
        assert_int_equal(tc_send_bytes(&slow, msg, sizeof(msg)), 0);
    for (i = 0; i < 100; i++)
        assert_answers_within(&other, 500);
    tc_close(&slow);
    tc_close(&other);
}

/* A client pipelining thousands of requests in bursts, reading its
 * replies between them, and a neighbour that keeps being answered.  (That
 * the loop hands out turns is checked exactly, by message counts, in
 * test_server.c's embedded-mode fairness test.) */
static void test_flood_shares_the_loop(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_rw rw = { 0, TD_REGS, 4 };
    enum { BURST = 500, BURSTS = 6 };
    struct tclient flood, other;
    uint16_t ids[BURST];
    struct uvfio_msg m;
    int i, j;

    fx_client(fx, 0, &flood);
    fx_client(fx, 1, &other);
    for (j = 0; j < BURSTS; j++) {
        for (i = 0; i < BURST; i++)
            ids[i] = tc_send(&flood, UVFIO_CMD_REGION_READ, 0, &rw,
                             sizeof(rw), NULL, 0);
        assert_answers_within(&other, 500);
        for (i = 0; i < BURST; i++) {
            assert_int_equal(tc_wait(&flood, ids[i], &m, 5000), 0);
            assert_int_equal(tc_errno(&m), 0);
            uvfio_msg_free(&m);
        }
    }
    tc_close(&flood);
    tc_close(&other);
}

struct logcap {
    pthread_mutex_t lock;
    char text[4096];
};

static void capture(enum uvfio_log_level level, const char *msg, void *opaque)
{
    struct logcap *c = opaque;
    size_t n;

    (void)level;
    pthread_mutex_lock(&c->lock);
    n = strlen(c->text);
    snprintf(c->text + n, sizeof(c->text) - n, "%s\n", msg);
    pthread_mutex_unlock(&c->lock);
}

/* Replies pile up for a client that does not read them; past the queue
 * limit it is dropped, and says why in the log. */
static void test_client_not_reading_is_dropped(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_rw rw = { 0, TD_DMABUF, XFER };
    struct logcap cap = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct tclient deaf, other;
    int i;

    uvfio_log_set_handler(capture, &cap);
    fx_client(fx, 0, &deaf);
    fx_client(fx, 1, &other);
    for (i = 0; i < 200 && uvfio_device_open_count(fx->td[0].dev); i++)
        tc_send(&deaf, UVFIO_CMD_REGION_READ, 0, &rw, sizeof(rw), NULL, 0);
    assert_true(fx_wait_open(fx->td[0].dev, 0, 5000));
    assert_answers_within(&other, 500);
    uvfio_log_set_handler(NULL, NULL);
    assert_non_null(strstr(cap.text, "not reading"));
    tc_close(&deaf);
    /* The device takes the next client. */
    fx_client(fx, 0, &deaf);
    assert_answers_within(&deaf, 1000);
    tc_close(&deaf);
    tc_close(&other);
}

/* Hundreds of fds on one message: refused, all closed, connection kept. */
static void test_hundreds_of_fds(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_irq_set set = {
        .argsz = sizeof(set),
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = TD_IRQ_MSI, .start = 0, .count = 1,
    };
    enum { NFD = 250 };
    int fds[NFD], i, fds0;
    struct tclient tc;

    fx_client(fx, 0, &tc);
    fds0 = fx_count_fds();
    for (i = 0; i < NFD; i++)
        fds[i] = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_SET_IRQS, &set,
                                 sizeof(set), fds, NFD), -EINVAL);
    for (i = 0; i < NFD; i++)
        close(fds[i]);
    assert_false(uvfio_irq_enabled(fx->td[0].dev, TD_IRQ_MSI, 0));
    assert_answers_within(&tc, 1000);
    assert_int_equal(fx_count_fds(), fds0);
    tc_close(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_disconnect_drops_maps_and_irqs),
        T(test_reconnect_many_times),
        T(test_second_client_waits),
        T(test_half_message_blocks_nobody),
        T(test_flood_shares_the_loop),
        T(test_client_not_reading_is_dropped),
        T(test_hundreds_of_fds),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
