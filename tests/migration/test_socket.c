/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_socket.c - migration over a real vfio-user socket:
 * a server thread serves blob devices, the client library drives them.
 * Whole migrations with every edge chunk size, precopy through the
 * negotiated extension (and a client that never asked for it), errors
 * that keep the connection serving, reset and disconnect mid-stream, and
 * a corrupted image refused on the destination.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "blob_dev.h"

#define SC      UVFIO_MIGRATION_STOP_COPY
#define P2P     UVFIO_MIGRATION_P2P
#define PRE     UVFIO_MIGRATION_PRE_COPY
#define XFER    65536u

#define STOP        UVFIO_MIG_STATE_STOP
#define RUNNING     UVFIO_MIG_STATE_RUNNING
#define STOP_COPY   UVFIO_MIG_STATE_STOP_COPY
#define RESUMING    UVFIO_MIG_STATE_RESUMING
#define PRE_COPY    UVFIO_MIG_STATE_PRE_COPY

/* One server thread serving up to two blob devices. */
struct rig {
    struct uvfio_server *srv;
    pthread_t thread;
    char dir[64];
    char path[2][96];
    struct blob b[2];
    struct uvfio_device *dev[2];
    int ndev;
};

static void *serve(void *arg)
{
    struct rig *r = arg;

    return (void *)(intptr_t)uvfio_server_run(r->srv);
}

static void rig_start(struct rig *r, int ndev, size_t size, uint64_t flags)
{
    struct uvfio_server_opts so = { .max_data_xfer_size = 1u << 20 };
    int i;

    memset(r, 0, sizeof(*r));
    strcpy(r->dir, "/tmp/uvfio-migsock-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    assert_int_equal(uvfio_server_create(&so, &r->srv), 0);
    for (i = 0; i < ndev; i++) {
        r->dev[i] = blob_create(&r->b[i], size, flags, (uint8_t)(i * 50 + 1));
        assert_non_null(r->dev[i]);
        snprintf(r->path[i], sizeof(r->path[i]), "%s/dev%d", r->dir, i);
        assert_int_equal(uvfio_server_add_device(r->srv, r->dev[i],
                                                 r->path[i]), 0);
    }
    r->ndev = ndev;
    assert_int_equal(pthread_create(&r->thread, NULL, serve, r), 0);
}

static void rig_stop(struct rig *r)
{
    void *ret;
    int i;

    uvfio_server_stop(r->srv);
    assert_int_equal(pthread_join(r->thread, &ret), 0);
    assert_int_equal((intptr_t)ret, 0);
    uvfio_server_destroy(r->srv);
    for (i = 0; i < r->ndev; i++)
        blob_destroy(&r->b[i]);
    rmdir(r->dir);
}

static struct uvfio_client *rig_connect(struct rig *r, int i, bool precopy,
                                        uint64_t xfer)
{
    struct uvfio_client_opts o = {
        .max_data_xfer_size = xfer, .precopy_info = precopy,
        .timeout_ms = 10000,
    };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(r->path[i], &o, &c), 0);
    assert_int_equal(uvfio_client_caps(c)->precopy_info, precopy);
    return c;
}

/* The server notices a closed client in its own time: wait (bounded). */
static void wait_detached(struct uvfio_device *dev)
{
    int i;

    for (i = 0; i < 5000 && uvfio_device_open_count(dev); i++)
        usleep(1000);
    assert_int_equal(uvfio_device_open_count(dev), 0);
}

static uint8_t *read_all(struct uvfio_client *c, size_t chunk, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *p = malloc(cap);
    ssize_t r;

    for (;;) {
        if (n + chunk > cap) {
            cap = (n + chunk) * 2;
            p = realloc(p, cap);
        }
        r = uvfio_client_mig_read(c, p + n, chunk);
        assert_true(r >= 0);
        n += (size_t)r;
        if ((size_t)r < chunk)
            break;
    }
    *len = n;
    return p;
}

static void write_all(struct uvfio_client *c, const uint8_t *p, size_t len,
                      size_t chunk)
{
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        assert_int_equal(uvfio_client_mig_write(c, p + off, n), 0);
    }
}

static void assert_state(struct uvfio_client *c, enum uvfio_mig_state want)
{
    enum uvfio_mig_state s;

    assert_int_equal(uvfio_client_mig_get_state(c, &s), 0);
    assert_int_equal(s, want);
}

/* One whole STOP_COPY migration dev 0 -> dev 1 of the rig. */
static void socket_migrate(struct rig *r, size_t rchunk, size_t wchunk)
{
    struct uvfio_client *src = rig_connect(r, 0, false, XFER);
    struct uvfio_client *dst = rig_connect(r, 1, false, XFER);
    uint64_t flags, size;
    uint8_t *img, b;
    size_t len;

    assert_int_equal(uvfio_client_mig_get_flags(src, &flags), 0);
    assert_int_equal(flags, SC);
    assert_int_equal(uvfio_client_mig_data_size(src, &size), 0);
    assert_int_equal(size, blob_record_size(&r->b[0]));

    blob_touch(&r->b[0], rchunk % r->b[0].size, 10);  /* a new state */
    assert_memory_not_equal(r->b[0].regs, r->b[1].regs, r->b[0].size);
    assert_int_equal(uvfio_client_mig_set_state(src, STOP_COPY), 0);
    img = read_all(src, rchunk, &len);
    assert_int_equal(len, blob_record_size(&r->b[0]));
    assert_int_equal(uvfio_client_mig_read(src, &b, 1), 0);   /* the end */

    assert_int_equal(uvfio_client_mig_set_state(dst, RESUMING), 0);
    write_all(dst, img, len, wchunk);
    assert_int_equal(uvfio_client_mig_set_state(dst, RUNNING), 0);
    assert_int_equal(uvfio_client_mig_set_state(src, RUNNING), 0);
    assert_memory_equal(r->b[0].regs, r->b[1].regs, r->b[0].size);

    free(img);
    uvfio_client_close(src);
    uvfio_client_close(dst);
    wait_detached(r->dev[0]);
    wait_detached(r->dev[1]);
}

/* Every edge chunk size, both ways; reads and writes larger than one
 * transfer are split by the client library.  The state is larger than a
 * transfer, so `max` is split too; 1-byte chunks (a round trip per byte)
 * get a smaller device to stay fast. */
static void test_chunk_sizes(void **state)
{
    static const size_t sizes[] = { 4095, 4096, 4097, XFER, 3 * XFER + 5 };
    size_t n = sizeof(sizes) / sizeof(sizes[0]), i;
    struct rig r;

    (void)state;
    rig_start(&r, 2, 70000, SC);
    for (i = 0; i < n; i++)
        socket_migrate(&r, sizes[i], sizes[(i + 1) % n]);
    rig_stop(&r);

    rig_start(&r, 2, 1500, SC);
    socket_migrate(&r, 1, 1);
    socket_migrate(&r, 1, XFER);
    socket_migrate(&r, XFER, 1);
    rig_stop(&r);
}

/* PRE_COPY with the negotiated precopy-info extension. */
static void test_precopy(void **state)
{
    struct rig r;
    struct uvfio_client *src, *dst;
    struct uvfio_mig_precopy_info pi;
    uint64_t rec, last;
    uint8_t *img, buf[3000];
    size_t total = 0;
    ssize_t n;

    (void)state;
    rig_start(&r, 2, 20000, SC | P2P | PRE);
    src = rig_connect(&r, 0, true, XFER);
    dst = rig_connect(&r, 1, true, XFER);
    rec = blob_record_size(&r.b[0]);
    img = malloc(4 * rec);

    assert_int_equal(uvfio_client_mig_precopy_info(src, &pi), -EINVAL);
    assert_int_equal(uvfio_client_mig_set_state(src, PRE_COPY), 0);
    assert_int_equal(uvfio_client_mig_precopy_info(src, &pi), 0);
    assert_int_equal(pi.initial_bytes, rec);
    last = rec;
    while ((n = uvfio_client_mig_read(src, buf, sizeof(buf))) > 0) {
        memcpy(img + total, buf, (size_t)n);
        total += (size_t)n;
        assert_int_equal(uvfio_client_mig_precopy_info(src, &pi), 0);
        assert_int_equal(pi.initial_bytes, last - (uint64_t)n);
        last = pi.initial_bytes;
    }
    assert_int_equal(n, 0);
    assert_int_equal(total, rec);
    blob_touch(&r.b[0], 5, 5);
    assert_int_equal(uvfio_client_mig_precopy_info(src, &pi), 0);
    assert_int_equal(pi.initial_bytes, 0);
    assert_int_equal(pi.dirty_bytes, rec);
    assert_int_equal(uvfio_client_mig_set_state(src, STOP_COPY), 0);
    assert_int_equal(uvfio_client_mig_precopy_info(src, &pi), -EINVAL);
    while ((n = uvfio_client_mig_read(src, img + total, 4 * rec - total)) > 0)
        total += (size_t)n;
    assert_int_equal(total, 2 * rec);       /* I, then F (D never read) */

    assert_int_equal(uvfio_client_mig_set_state(dst, RESUMING), 0);
    write_all(dst, img, total, 777);
    assert_int_equal(uvfio_client_mig_set_state(dst, RUNNING), 0);
    assert_memory_equal(r.b[0].regs, r.b[1].regs, r.b[0].size);

    free(img);
    uvfio_client_close(src);
    uvfio_client_close(dst);
    rig_stop(&r);
}

/* A client that never asked for the extension: the private index is an
 * unknown feature to it, and everything else works unchanged. */
static void test_no_extension(void **state)
{
    struct rig r;
    struct uvfio_client *c;
    struct uvfio_mig_precopy_info pi;
    uint64_t raw[2] = { 0, 0 };
    uint8_t buf[100];

    (void)state;
    rig_start(&r, 1, 5000, SC | PRE);
    c = rig_connect(&r, 0, false, XFER);
    assert_int_equal(uvfio_client_mig_set_state(c, PRE_COPY), 0);
    assert_int_equal(uvfio_client_mig_precopy_info(c, &pi), -ENOTSUP);
    assert_int_equal(uvfio_client_feature(c, UVFIO_FEATURE_GET |
                                             UVFIO_FEATURE_PRECOPY_INFO,
                                          raw, sizeof(raw)), -ENOTTY);
    assert_int_equal(uvfio_client_mig_read(c, buf, sizeof(buf)), 100);
    assert_int_equal(uvfio_client_mig_set_state(c, RUNNING), 0);
    uvfio_client_close(c);
    rig_stop(&r);
}

/* Refused requests get an errno and the connection keeps serving. */
static void test_errors_keep_serving(void **state)
{
    struct rig r;
    struct uvfio_client *c;
    uint8_t buf[16] = { 0 };

    (void)state;
    rig_start(&r, 1, 5000, SC | P2P | PRE);
    c = rig_connect(&r, 0, true, XFER);
    assert_int_equal(uvfio_client_mig_set_state(c, (enum uvfio_mig_state)8),
                     -EINVAL);
    assert_int_equal(uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_ERROR),
                     -EINVAL);
    assert_int_equal(uvfio_client_mig_read(c, buf, 1), -EINVAL);
    assert_int_equal(uvfio_client_mig_write(c, buf, 1), -EINVAL);
    assert_int_equal(uvfio_client_mig_set_state(c, STOP_COPY), 0);
    assert_int_equal(uvfio_client_mig_set_state(c, PRE_COPY), -EINVAL);
    assert_int_equal(uvfio_client_mig_write(c, buf, 1), -EINVAL);
    assert_state(c, STOP_COPY);
    assert_int_equal(uvfio_client_mig_set_state(c, RUNNING), 0);
    assert_state(c, RUNNING);
    uvfio_client_close(c);
    rig_stop(&r);
}

/* DEVICE_RESET in the middle of a stream ends it; RUNNING again. */
static void test_reset_mid_stream(void **state)
{
    struct rig r;
    struct uvfio_client *c;
    uint8_t buf[100];

    (void)state;
    rig_start(&r, 1, 5000, SC | PRE);
    c = rig_connect(&r, 0, true, XFER);
    assert_int_equal(uvfio_client_mig_set_state(c, STOP_COPY), 0);
    assert_int_equal(uvfio_client_mig_read(c, buf, 100), 100);
    assert_int_equal(uvfio_client_reset(c), 0);
    assert_state(c, RUNNING);
    assert_int_equal(uvfio_client_mig_read(c, buf, 100), -ENODEV);
    assert_int_equal(uvfio_client_mig_set_state(c, STOP), 0);
    assert_int_equal(uvfio_client_mig_set_state(c, RESUMING), 0);
    buf[0] = 'F';
    assert_int_equal(uvfio_client_mig_write(c, buf, 50), 0);
    assert_int_equal(uvfio_client_reset(c), 0);
    assert_int_equal(uvfio_client_mig_write(c, buf, 1), -ENODEV);
    assert_state(c, RUNNING);
    uvfio_client_close(c);
    rig_stop(&r);
}

/* The client goes away mid-stream: the next client finds the device in
 * the same state and the stream ended. */
static void test_disconnect_mid_stream(void **state)
{
    struct rig r;
    struct uvfio_client *c;
    uint8_t buf[100], before[5000];

    (void)state;
    rig_start(&r, 1, 5000, SC | PRE);
    memcpy(before, r.b[0].regs, sizeof(before));

    c = rig_connect(&r, 0, true, XFER);
    assert_int_equal(uvfio_client_mig_set_state(c, PRE_COPY), 0);
    assert_int_equal(uvfio_client_mig_read(c, buf, 100), 100);
    uvfio_client_close(c);
    wait_detached(r.dev[0]);
    c = rig_connect(&r, 0, true, XFER);
    assert_state(c, PRE_COPY);
    assert_int_equal(uvfio_client_mig_read(c, buf, 100), -ENODEV);
    assert_int_equal(uvfio_client_mig_set_state(c, STOP), 0);
    assert_int_equal(uvfio_client_mig_set_state(c, RESUMING), 0);
    buf[0] = 'F';
    assert_int_equal(uvfio_client_mig_write(c, buf, 60), 0);
    uvfio_client_close(c);
    wait_detached(r.dev[0]);

    c = rig_connect(&r, 0, true, XFER);
    assert_state(c, RESUMING);
    assert_int_equal(uvfio_client_mig_write(c, buf, 1), -ENODEV);
    assert_int_equal(uvfio_client_mig_set_state(c, RUNNING), -EINVAL);
    assert_state(c, RESUMING);
    assert_int_equal(uvfio_client_reset(c), 0);
    assert_state(c, RUNNING);
    assert_memory_equal(r.b[0].regs, before, sizeof(before));
    uvfio_client_close(c);
    rig_stop(&r);
}

/* A damaged image travels fine and is refused at RESUMING->STOP, with
 * the driver's errno; the destination keeps its own state. */
static void test_corrupted_image(void **state)
{
    struct rig r;
    struct uvfio_client *src, *dst;
    uint8_t *img, before[8000];
    size_t len;

    (void)state;
    rig_start(&r, 2, 8000, SC);
    src = rig_connect(&r, 0, false, XFER);
    dst = rig_connect(&r, 1, false, XFER);
    memcpy(before, r.b[1].regs, sizeof(before));
    assert_int_equal(uvfio_client_mig_set_state(src, STOP_COPY), 0);
    img = read_all(src, XFER, &len);
    img[len / 2] ^= 0x80;
    assert_int_equal(uvfio_client_mig_set_state(dst, RESUMING), 0);
    write_all(dst, img, len, 4096);
    assert_int_equal(uvfio_client_mig_set_state(dst, RUNNING), -EBADMSG);
    assert_state(dst, RESUMING);
    assert_memory_equal(r.b[1].regs, before, sizeof(before));
    /* Truncated: the last byte missing. */
    assert_int_equal(uvfio_client_reset(dst), 0);
    img[len / 2] ^= 0x80;
    assert_int_equal(uvfio_client_mig_set_state(dst, STOP), 0);
    assert_int_equal(uvfio_client_mig_set_state(dst, RESUMING), 0);
    write_all(dst, img, len - 1, 4096);
    assert_int_equal(uvfio_client_mig_set_state(dst, STOP), -EINVAL);
    assert_memory_equal(r.b[1].regs, before, sizeof(before));
    free(img);
    uvfio_client_close(src);
    uvfio_client_close(dst);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_sizes),
        cmocka_unit_test(test_precopy),
        cmocka_unit_test(test_no_extension),
        cmocka_unit_test(test_errors_keep_serving),
        cmocka_unit_test(test_reset_mid_stream),
        cmocka_unit_test(test_disconnect_mid_stream),
        cmocka_unit_test(test_corrupted_image),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
