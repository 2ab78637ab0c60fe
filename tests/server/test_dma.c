// SPDX-License-Identifier: MIT
/*
 * tests/server/test_dma.c - message-path DMA: the server's DMA_READ and
 * DMA_WRITE to a client that mapped guest memory without an fd.
 *
 * Both layouts (spec/libvfio-user and QEMU's), both directions, from the
 * dispatch thread inside a command handler and from a driver thread,
 * split at the negotiated max_data_xfer_size, over the main socket and
 * over a twin socket; and the ways it goes wrong: no reply (timeout), an
 * error reply, a malformed reply, a client that leaves mid-transfer.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "server/server_priv.h"     /* uvfio_server_set_dma_timeout */

#define XFER        (64u << 10)         /* negotiated max_data_xfer_size */
#define GUEST_IOVA  0x200000ull
#define GUEST_SIZE  (256u << 10)
#define BIG         200000u             /* four messages at 64 KiB */

struct dmafx {
    struct fixture fx;
    struct tclient tc;
    uint8_t *guest;
};

static int setup(void **state)
{
    struct uvfio_server_opts opts = { .max_data_xfer_size = XFER };
    struct dmafx *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    d->tc.fd = d->tc.twin = -1;
    assert_int_equal(fx_start(&d->fx, &opts, 1, true), 0);
    d->guest = malloc(GUEST_SIZE);
    assert_non_null(d->guest);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dmafx *d = *state;

    tc_close(&d->tc);
    fx_stop(&d->fx);
    free(d->guest);
    free(d);
    return 0;
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

/* Connect with the given layout and map all of guest memory, no fd. */
static void start_client(struct dmafx *d, bool qemu, bool twin)
{
    struct tclient *tc = &d->tc;

    assert_int_equal(tc_connect(tc, d->fx.path[0]), 0);
    tc->max_xfer = XFER;
    assert_int_equal(tc_hello(tc, qemu, twin), 0);
    tc->mem = d->guest;
    tc->mem_iova = GUEST_IOVA;
    tc->mem_len = GUEST_SIZE;
    fill(d->guest, GUEST_SIZE, 1);
    assert_int_equal(tc_dma_map(tc, GUEST_IOVA, GUEST_SIZE,
                                UVFIO_DMA_MAP_FLAG_READ |
                                UVFIO_DMA_MAP_FLAG_WRITE, -1, 0), 0);
}

/* Have the device run a DMA inside a REGION_WRITE handler. */
static int device_dma(struct dmafx *d, uint32_t op, uint64_t iova,
                      uint32_t len)
{
    struct td_dma_cmd cmd = { iova, len, op };

    assert_int_equal(tc_region_write(&d->tc, TD_DMA, 0, &cmd, sizeof(cmd)),
                     0);
    return d->fx.td[0].dma_result;
}

static void inline_both_ways(struct dmafx *d)
{
    struct testdev *td = &d->fx.td[0];
    uint8_t *want = malloc(BIG);

    assert_non_null(want);
    /* guest -> device, split into XFER-sized requests */
    assert_int_equal(device_dma(d, TD_OP_READ, GUEST_IOVA + 100, BIG), 0);
    assert_memory_equal(td->dmabuf, d->guest + 100, BIG);
    assert_int_equal(d->tc.dma_requests, (BIG + XFER - 1) / XFER);
    assert_int_equal(d->tc.max_dma_count, XFER);

    /* device -> guest */
    fill(td->dmabuf, BIG, 77);
    memcpy(want, td->dmabuf, BIG);
    assert_int_equal(device_dma(d, TD_OP_WRITE, GUEST_IOVA + 5000, BIG), 0);
    assert_memory_equal(d->guest + 5000, want, BIG);
    free(want);
}

static void test_inline_spec_layout(void **state)
{
    struct dmafx *d = *state;

    start_client(d, false, false);
    inline_both_ways(d);
    /* The last request was a DMA_WRITE: {u64 addr; u64 count; data}. */
    assert_int_equal(d->tc.last_dma_payload, 16 + (BIG % XFER));
}

static void test_inline_qemu_layout(void **state)
{
    struct dmafx *d = *state;

    start_client(d, true, false);
    inline_both_ways(d);
    /* QEMU's DMA_WRITE: {u64 addr; u32 count; data; 4 spare bytes}, the
     * size its sizeof(VFIOUserDMARW) == 32 check wants. */
    assert_int_equal(d->tc.last_dma_payload, 16 + (BIG % XFER));
    assert_int_equal(d->tc.dma_on_twin, 0);
}

static void test_inline_twin_socket(void **state)
{
    struct dmafx *d = *state;

    start_client(d, false, true);
    assert_true(d->tc.twin >= 0);
    inline_both_ways(d);
    assert_int_equal(d->tc.dma_on_twin, d->tc.dma_requests);
}

/* The twin socket is part of the connection: closing it ends both. */
static void test_twin_closed_ends_connection(void **state)
{
    struct dmafx *d = *state;

    start_client(d, false, true);
    assert_true(d->tc.twin >= 0);
    close(d->tc.twin);
    d->tc.twin = -1;
    assert_true(tc_wait_closed(&d->tc, 2000));
    assert_true(fx_wait_open(d->fx.td[0].dev, 0, 2000));
}

/* Junk on the twin socket ahead of the real reply - more than the loop
 * reads in one turn - does not hide the reply. */
static void test_twin_flooded_before_reply(void **state)
{
    struct dmafx *d = *state;
    struct td_dma_cmd cmd = { GUEST_IOVA, 64, TD_OP_READ };
    struct uvfio_wire_region_rw wr = { 0, TD_DMA, sizeof(cmd) };
    uint8_t req[sizeof(wr) + sizeof(cmd)];
    struct uvfio_wire_dma_rw rw = { GUEST_IOVA, 64 };
    enum { JUNK = 100, RSZ = 16 + 16 + 64 };
    uint8_t *burst = calloc(JUNK + 1, RSZ);
    struct uvfio_wire_hdr h;
    struct uvfio_msg m;
    uint16_t id;
    int i;

    assert_non_null(burst);
    uvfio_server_set_dma_timeout(d->fx.srv, 3000);
    start_client(d, false, true);
    d->tc.dma_ignore = true;
    memcpy(req, &wr, sizeof(wr));
    memcpy(req + sizeof(wr), &cmd, sizeof(cmd));
    id = tc_send(&d->tc, UVFIO_CMD_REGION_WRITE, 0, req, sizeof(req), NULL,
                 0);
    assert_int_equal(tc_wait(&d->tc, id, &m, 200), -ETIMEDOUT);
    assert_int_equal(d->tc.dma_on_twin, 1);
    for (i = 0; i <= JUNK; i++) {
        h = d->tc.last_dma_hdr;
        h.flags = UVFIO_HDR_TYPE_REPLY;
        h.size = RSZ;
        if (i < JUNK)
            h.msg_id = (uint16_t)(h.msg_id + 1000 + i);     /* nobody's */
        memcpy(burst + i * RSZ, &h, sizeof(h));
        memcpy(burst + i * RSZ + sizeof(h), &rw, sizeof(rw));
        memcpy(burst + i * RSZ + sizeof(h) + sizeof(rw), d->guest, 64);
    }
    assert_int_equal(send(d->tc.twin, burst, (JUNK + 1) * RSZ, 0),
                     (JUNK + 1) * RSZ);
    assert_int_equal(tc_wait(&d->tc, id, &m, TC_TIMEOUT_MS), 0);
    uvfio_msg_free(&m);
    assert_int_equal(d->fx.td[0].dma_result, 0);
    assert_memory_equal(d->fx.td[0].dmabuf, d->guest, 64);
    free(burst);
}

/* ---- from a driver thread ---------------------------------------------- */

struct worker {
    struct uvfio_device *dev;
    bool write;
    uint64_t iova;
    uint8_t *buf;
    size_t len;
    int result;
    atomic_bool done;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    if (w->write)
        w->result = uvfio_dma_write(w->dev, w->iova, w->buf, w->len);
    else
        w->result = uvfio_dma_read(w->dev, w->iova, w->buf, w->len);
    atomic_store(&w->done, true);
    return NULL;
}

static int run_worker(struct dmafx *d, struct worker *w)
{
    pthread_t t;

    w->dev = d->fx.td[0].dev;
    atomic_store(&w->done, false);
    assert_int_equal(pthread_create(&t, NULL, worker_main, w), 0);
    assert_int_equal(tc_serve_until(&d->tc, &w->done, TC_TIMEOUT_MS), 0);
    pthread_join(t, NULL);
    return w->result;
}

static void other_thread(struct dmafx *d, bool qemu)
{
    struct worker w = { .len = BIG };
    uint8_t *buf = malloc(BIG);

    assert_non_null(buf);
    start_client(d, qemu, false);
    w.buf = buf;
    w.iova = GUEST_IOVA + 3;
    assert_int_equal(run_worker(d, &w), 0);
    assert_memory_equal(buf, d->guest + 3, BIG);

    fill(buf, BIG, 200);
    w.write = true;
    w.iova = GUEST_IOVA + 40000;
    assert_int_equal(run_worker(d, &w), 0);
    assert_memory_equal(d->guest + 40000, buf, BIG);
    assert_int_equal(d->tc.dma_requests, 2 * ((BIG + XFER - 1) / XFER));
    free(buf);
}

static void test_thread_spec_layout(void **state)
{
    other_thread(*state, false);
}

static void test_thread_qemu_layout(void **state)
{
    other_thread(*state, true);
}

/* ---- interleaving ------------------------------------------------------ */

/*
 * The client pipelines a command behind the one that makes the device DMA,
 * and only then answers the DMA request.  The server, waiting for that
 * answer, must park the second command and handle it afterwards, so the
 * replies come back in order (tc_wait fails on any other order).
 */
static void test_commands_parked_during_dma(void **state)
{
    struct dmafx *d = *state;
    struct td_dma_cmd cmd = { GUEST_IOVA, 4096, TD_OP_READ };
    struct uvfio_wire_region_rw rd = { 0, TD_ROM, 8 };
    uint8_t req[sizeof(struct uvfio_wire_region_rw) + sizeof(cmd)];
    struct uvfio_wire_region_rw wr = { 0, TD_DMA, sizeof(cmd) };
    uint16_t id_wr, id_rd[3];
    struct uvfio_msg m;
    int i;

    start_client(d, false, false);
    memcpy(req, &wr, sizeof(wr));
    memcpy(req + sizeof(wr), &cmd, sizeof(cmd));
    id_wr = tc_send(&d->tc, UVFIO_CMD_REGION_WRITE, 0, req, sizeof(req),
                    NULL, 0);
    for (i = 0; i < 3; i++)
        id_rd[i] = tc_send(&d->tc, UVFIO_CMD_REGION_READ, 0, &rd,
                           sizeof(rd), NULL, 0);
    assert_int_equal(tc_wait(&d->tc, id_wr, &m, TC_TIMEOUT_MS), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
    assert_int_equal(d->fx.td[0].dma_result, 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(tc_wait(&d->tc, id_rd[i], &m, TC_TIMEOUT_MS), 0);
        assert_int_equal(tc_errno(&m), 0);
        uvfio_msg_free(&m);
    }
    assert_memory_equal(d->fx.td[0].dmabuf, d->guest, 4096);
}

/* ---- failures ---------------------------------------------------------- */

static void test_no_reply_times_out(void **state)
{
    struct dmafx *d = *state;
    struct uvfio_wire_hdr late;
    int64_t t0;
    uint8_t b[4];

    uvfio_server_set_dma_timeout(d->fx.srv, 200);
    start_client(d, false, false);
    d->tc.dma_ignore = true;
    t0 = fx_now_ms();
    assert_int_equal(device_dma(d, TD_OP_READ, GUEST_IOVA, 64), -EIO);
    assert_true(fx_now_ms() - t0 >= 150);
    assert_int_equal(d->tc.dma_requests, 1);

    /* The answer comes too late: dropped, the connection carries on. */
    late = d->tc.last_dma_hdr;
    late.flags = UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR;
    late.error = EIO;
    assert_int_equal(uvfio_msg_send(d->tc.fd, &late, NULL, 0, NULL, 0), 0);
    assert_int_equal(tc_region_read(&d->tc, TD_ROM, 0, b, 4), 0);
    d->tc.dma_ignore = false;
    assert_int_equal(device_dma(d, TD_OP_READ, GUEST_IOVA, 64), 0);
}

static void test_error_reply(void **state)
{
    struct dmafx *d = *state;

    start_client(d, true, false);
    d->tc.dma_error = EFAULT;
    assert_int_equal(device_dma(d, TD_OP_WRITE, GUEST_IOVA, 64), -EFAULT);
    d->tc.dma_error = 0;
    assert_int_equal(device_dma(d, TD_OP_WRITE, GUEST_IOVA, 64), 0);
}

/* A reply whose count disagrees with the request is refused. */
static void test_malformed_reply(void **state)
{
    struct dmafx *d = *state;
    struct td_dma_cmd cmd = { GUEST_IOVA, 64, TD_OP_READ };
    struct uvfio_wire_region_rw wr = { 0, TD_DMA, sizeof(cmd) };
    uint8_t req[sizeof(wr) + sizeof(cmd)];
    struct uvfio_wire_dma_rw bad = { GUEST_IOVA, 32 };
    struct uvfio_wire_hdr hdr;
    struct iovec iov[2];
    struct uvfio_msg m;
    uint16_t id;

    uvfio_server_set_dma_timeout(d->fx.srv, 3000);
    start_client(d, false, false);
    d->tc.dma_ignore = true;
    memcpy(req, &wr, sizeof(wr));
    memcpy(req + sizeof(wr), &cmd, sizeof(cmd));
    id = tc_send(&d->tc, UVFIO_CMD_REGION_WRITE, 0, req, sizeof(req), NULL,
                 0);
    assert_int_equal(tc_wait(&d->tc, id, &m, 300), -ETIMEDOUT);
    assert_int_equal(d->tc.dma_requests, 1);
    hdr = d->tc.last_dma_hdr;
    hdr.flags = UVFIO_HDR_TYPE_REPLY;
    iov[0] = (struct iovec){ &bad, sizeof(bad) };
    iov[1] = (struct iovec){ d->guest, 64 };    /* 64 bytes, count says 32 */
    assert_int_equal(uvfio_msg_send(d->tc.fd, &hdr, iov, 2, NULL, 0), 0);
    assert_int_equal(tc_wait(&d->tc, id, &m, TC_TIMEOUT_MS), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
    assert_int_equal(d->fx.td[0].dma_result, -EIO);
}

/* Memory nobody mapped never becomes a message. */
static void test_unmapped_is_efault(void **state)
{
    struct dmafx *d = *state;

    start_client(d, false, false);
    assert_int_equal(device_dma(d, TD_OP_READ, GUEST_IOVA + GUEST_SIZE - 8,
                                64), -EFAULT);
    assert_int_equal(d->tc.dma_requests, 0);
}

/* A driver thread waiting on a client that goes away returns at once, not
 * after the timeout. */
static void test_client_leaves_mid_dma(void **state)
{
    struct dmafx *d = *state;
    struct worker w = { .len = 4096 };
    uint8_t buf[4096];
    struct uvfio_msg m;
    pthread_t t;
    int64_t t0;

    start_client(d, false, false);
    d->tc.dma_ignore = true;
    w.dev = d->fx.td[0].dev;
    w.buf = buf;
    w.iova = GUEST_IOVA;
    assert_int_equal(pthread_create(&t, NULL, worker_main, &w), 0);
    /* Wait until the request is out, then hang up. */
    while (!d->tc.dma_requests)
        assert_int_equal(tc_wait(&d->tc, 0xfffe, &m, 20), -ETIMEDOUT);
    t0 = fx_now_ms();
    tc_close(&d->tc);
    pthread_join(t, NULL);
    assert_true(w.result < 0);
    assert_true(fx_now_ms() - t0 < 2000);
    assert_true(fx_wait_open(d->fx.td[0].dev, 0, 2000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_inline_spec_layout),
        T(test_inline_qemu_layout),
        T(test_inline_twin_socket),
        T(test_twin_closed_ends_connection),
        T(test_twin_flooded_before_reply),
        T(test_thread_spec_layout),
        T(test_thread_qemu_layout),
        T(test_commands_parked_during_dma),
        T(test_no_reply_times_out),
        T(test_error_reply),
        T(test_malformed_reply),
        T(test_unmapped_is_efault),
        T(test_client_leaves_mid_dma),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
