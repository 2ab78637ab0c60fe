// SPDX-License-Identifier: MIT
/*
 * tests/server/test_bigmsg.c - big migration data through the server.
 *
 * Big MIG_DATA_READ replies are built in a buffer the connection keeps and
 * handed to the output queue without a copy; the queue gives it back once
 * sent.  Big MIG_DATA_WRITE payloads are received into a recycled buffer.
 * So: replies pipelined while earlier ones are still queued must each keep
 * their own bytes, replies of every size around the hand-over threshold
 * and the small replies between them must be right, a client that stops
 * reading big replies is dropped at the queue limit without harm to the
 * next one, and written chunks - among refused ones - reach the device in
 * order and intact.
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
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fixture.h"
#include "server/server_priv.h"     /* SRV_REPLY_TAKE_MIN */

#define MIB         (1u << 20)
#define XFER        (4u * MIB)
#define STATE_LEN   (24u * MIB + 12345u)
#define RECORD      300000u     /* the driver hands out at most this */
#define QUEUE       (16u * MIB)

static uint8_t pat(size_t i)
{
    return (uint8_t)(i * 131u + (i >> 11) + 7u);
}

/* ---- a device with a big state ----------------------------------------- */

struct blob {
    size_t out_pos;             /* saving: next stream byte */
    uint8_t *in;                /* resuming: what came */
    size_t in_pos;
    size_t in_cap;
};

static int blob_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                    enum uvfio_mig_state to)
{
    struct blob *b = uvfio_device_priv(dev);

    (void)from;
    if (to == UVFIO_MIG_STATE_STOP_COPY)
        b->out_pos = 0;
    if (to == UVFIO_MIG_STATE_RESUMING)
        b->in_pos = 0;
    return 0;
}

/* Short reads at record boundaries, so the core has to keep asking. */
static ssize_t blob_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct blob *b = uvfio_device_priv(dev);
    uint8_t *p = buf;
    size_t n = STATE_LEN - b->out_pos, i;

    if (n > len)
        n = len;
    if (n > RECORD)
        n = RECORD;
    for (i = 0; i < n; i++)
        p[i] = pat(b->out_pos + i);
    b->out_pos += n;
    return (ssize_t)n;
}

static int blob_resume_write(struct uvfio_device *dev, const void *buf,
                             size_t len)
{
    struct blob *b = uvfio_device_priv(dev);

    if (len > b->in_cap - b->in_pos)
        return -EFBIG;
    memcpy(b->in + b->in_pos, buf, len);
    b->in_pos += len;
    return 0;
}

static int blob_data_size(struct uvfio_device *dev, uint64_t *len)
{
    (void)dev;
    *len = STATE_LEN;
    return 0;
}

static const struct uvfio_migration_ops blob_mig_ops = {
    .arc = blob_arc,
    .save_read = blob_save_read,
    .resume_write = blob_resume_write,
    .get_data_size = blob_data_size,
};

static const struct uvfio_device_ops blob_ops = { .name = "blob" };

/* ---- rig: a server thread serving the blob ----------------------------- */

struct rig {
    char dir[64];
    char path[128];
    struct blob blob;
    struct uvfio_device *dev;
    struct uvfio_server *srv;
    pthread_t thread;
    int fds_before;
};

static void *serve(void *arg)
{
    struct rig *r = arg;

    return (void *)(intptr_t)uvfio_server_run(r->srv);
}

static int setup(void **state)
{
    const struct uvfio_server_opts so = {
        .max_data_xfer_size = XFER, .max_queued_reply_bytes = QUEUE,
    };
    struct rig *r = calloc(1, sizeof(*r));
    struct uvfio_device_config dc = {
        .name = "blob", .ops = &blob_ops, .num_regions = 1,
        .mig_ops = &blob_mig_ops,
        .migration_flags = UVFIO_MIGRATION_STOP_COPY,
    };

    assert_non_null(r);
    r->fds_before = fx_count_fds();
    r->blob.in_cap = STATE_LEN;
    r->blob.in = malloc(STATE_LEN);
    assert_non_null(r->blob.in);
    dc.priv = &r->blob;
    snprintf(r->dir, sizeof(r->dir), "/tmp/uvfio-big-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->path, sizeof(r->path), "%s/blob.sock", r->dir);
    assert_int_equal(uvfio_device_create(&dc, &r->dev), 0);
    assert_int_equal(uvfio_server_create(&so, &r->srv), 0);
    assert_int_equal(uvfio_server_add_device(r->srv, r->dev, r->path), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, serve, r), 0);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    void *ret;

    uvfio_server_stop(r->srv);
    pthread_join(r->thread, &ret);
    assert_int_equal((intptr_t)ret, 0);
    uvfio_server_destroy(r->srv);
    uvfio_device_destroy(r->dev);
    rmdir(r->dir);
    free(r->blob.in);
    assert_int_equal(fx_count_fds(), r->fds_before);
    free(r);
    return 0;
}

static void connect_big(struct rig *r, struct tclient *tc)
{
    assert_int_equal(tc_connect(tc, r->path), 0);
    tc->max_xfer = XFER;
    assert_int_equal(tc_hello(tc, false, false), 0);
}

static void set_state(struct tclient *tc, enum uvfio_mig_state s)
{
    struct {
        struct uvfio_wire_feature f;
        uint32_t state, data_fd;
    } UVFIO_PACKED p = {
        { sizeof(p), UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE },
        (uint32_t)s, UINT32_MAX,
    };

    assert_int_equal(tc_call_err(tc, UVFIO_CMD_DEVICE_FEATURE, &p,
                                 sizeof(p), NULL, 0), 0);
}

static uint16_t send_read(struct tclient *tc, uint32_t size)
{
    struct uvfio_wire_mig_data req = { 8 + size, size };

    return tc_send(tc, UVFIO_CMD_MIG_DATA_READ, 0, &req, sizeof(req), NULL,
                   0);
}

/* The reply to `id` carries stream bytes [*pos, *pos + want), or fewer at
 * the end of the stream; *pos advances past them. */
static void check_read(struct tclient *tc, uint16_t id, uint32_t want,
                       size_t *pos)
{
    struct uvfio_wire_mig_data rep;
    struct uvfio_msg m;
    size_t expect = STATE_LEN - *pos < want ? STATE_LEN - *pos : want, i;

    assert_int_equal(tc_wait(tc, id, &m, TC_TIMEOUT_MS), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.len, 8 + expect);
    memcpy(&rep, m.payload, 8);
    assert_int_equal(rep.size, expect);
    assert_int_equal(rep.argsz, 8 + expect);
    for (i = 0; i < expect; i++) {
        if (m.payload[8 + i] != pat(*pos + i))
            fail_msg("stream byte %zu wrong", *pos + i);
    }
    *pos += expect;
    uvfio_msg_free(&m);
}

/* ---- tests -------------------------------------------------------------- */

/*
 * Three 4 MiB reads sent before any reply is read: the second and third
 * are built while the first (lent to the queue) is still being sent, so
 * each needs memory of its own; then sizes around the hand-over threshold,
 * with small commands between them, to the end of the stream.
 */
static void test_pipelined_reads(void **state)
{
    struct rig *r = *state;
    const uint32_t sizes[] = {
        SRV_REPLY_TAKE_MIN - 8 - 1, SRV_REPLY_TAKE_MIN - 8,
        SRV_REPLY_TAKE_MIN, 1, XFER, 12345, 3 * MIB, 100,
    };
    struct uvfio_wire_device_info di = { sizeof(di), 0, 0, 0 };
    struct tclient tc;
    uint16_t id[3];
    size_t pos = 0, i;

    connect_big(r, &tc);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    set_state(&tc, UVFIO_MIG_STATE_STOP_COPY);
    for (i = 0; i < 3; i++)
        id[i] = send_read(&tc, XFER);
    for (i = 0; i < 3; i++)
        check_read(&tc, id[i], XFER, &pos);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_read(&tc, send_read(&tc, sizes[i]), sizes[i], &pos);
        assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_GET_INFO, &di,
                                     sizeof(di), NULL, 0), 0);
    }
    while (pos < STATE_LEN)
        check_read(&tc, send_read(&tc, XFER), XFER, &pos);
    check_read(&tc, send_read(&tc, XFER), XFER, &pos);     /* the end */
    assert_int_equal(pos, STATE_LEN);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    tc_close(&tc);
}

/*
 * A client that asks for big replies and never reads them fills its queue
 * to the limit and is dropped; the device is free for the next client,
 * whose big reads are right.
 */
static void test_not_reading_big_replies(void **state)
{
    struct rig *r = *state;
    struct tclient tc;
    size_t pos = 0;
    int i;

    connect_big(r, &tc);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    set_state(&tc, UVFIO_MIG_STATE_STOP_COPY);
    for (i = 0; i < 6; i++)
        send_read(&tc, XFER);
    /* not a byte read until the server has given up on us */
    assert_true(fx_wait_open(r->dev, 0, TC_TIMEOUT_MS));
    assert_true(tc_wait_closed(&tc, TC_TIMEOUT_MS));
    tc_close(&tc);

    connect_big(r, &tc);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    set_state(&tc, UVFIO_MIG_STATE_STOP_COPY);
    check_read(&tc, send_read(&tc, XFER), XFER, &pos);
    check_read(&tc, send_read(&tc, XFER), XFER, &pos);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    tc_close(&tc);
}

static int send_write(struct tclient *tc, const uint8_t *data, size_t len,
                      const int *fds, size_t nfds)
{
    struct uvfio_wire_mig_data *req = malloc(8 + len);
    int r;

    assert_non_null(req);
    req->argsz = (uint32_t)(8 + len);
    req->size = (uint32_t)len;
    memcpy(req + 1, data, len);
    r = tc_call_err(tc, UVFIO_CMD_MIG_DATA_WRITE, req, 8 + len, fds, nfds);
    free(req);
    return r;
}

/*
 * The whole state written back in chunks of changing size (big ones reuse
 * the receive buffer), with refused writes among them - too big for the
 * negotiated size (E2BIG, skipped), with an fd (EINVAL, fd closed), a size
 * field that lies (EINVAL) - none of which reaches the device: it gets
 * exactly the stream.
 */
static void test_big_writes(void **state)
{
    struct rig *r = *state;
    const size_t chunks[] = { XFER, 1, XFER, 70000, 3 * MIB, XFER };
    const size_t too_big = XFER + 8192;     /* past the message limit */
    uint8_t *img = malloc(STATE_LEN), *over = calloc(1, too_big);
    struct uvfio_wire_mig_data lie = { 8 + 100, 100 };
    struct tclient tc;
    size_t off = 0, n, i = 0;
    int p[2];

    assert_non_null(img);
    assert_non_null(over);
    for (n = 0; n < STATE_LEN; n++)
        img[n] = pat(n);
    connect_big(r, &tc);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    set_state(&tc, UVFIO_MIG_STATE_RESUMING);
    while (off < STATE_LEN) {
        n = chunks[i++ % (sizeof(chunks) / sizeof(chunks[0]))];
        if (n > STATE_LEN - off)
            n = STATE_LEN - off;
        assert_int_equal(send_write(&tc, img + off, n, NULL, 0), 0);
        off += n;
        switch (i % 4) {
        case 1:
            assert_int_equal(send_write(&tc, over, too_big, NULL, 0),
                             -E2BIG);
            break;
        case 2:
            assert_int_equal(pipe(p), 0);
            assert_int_equal(send_write(&tc, over, 10, &p[0], 1), -EINVAL);
            close(p[0]);
            close(p[1]);
            break;
        case 3:
            assert_int_equal(tc_call_err(&tc, UVFIO_CMD_MIG_DATA_WRITE, &lie,
                                         sizeof(lie), NULL, 0), -EINVAL);
            break;
        }
    }
    assert_int_equal(r->blob.in_pos, STATE_LEN);
    assert_memory_equal(r->blob.in, img, STATE_LEN);
    set_state(&tc, UVFIO_MIG_STATE_STOP);
    tc_close(&tc);
    free(over);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_reading_big_replies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_big_writes, setup, teardown),
    };

    uvfio_log_set_level(UVFIO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
