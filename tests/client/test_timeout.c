/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_timeout.c - a server that goes quiet, or stops
 * reading, costs the caller the timeout and not more; the late reply is
 * recognised and dropped, and the connection keeps working.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_session.h"

static void script_late(struct fake *f)
{
    struct uvfio_wire_device_info late = { 16, 0, 1, 1 };
    struct uvfio_wire_device_info fresh = { 16, 0, 2, 2 };
    struct uvfio_msg m1, m2;

    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m1))
        return;
    /* Say nothing until the client asks again. */
    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m2)) {
        uvfio_msg_free(&m1);
        return;
    }
    FAKE_CHECK(f, m1.hdr.msg_id != m2.hdr.msg_id);
    fake_reply(f, &m1, &late, sizeof(late), NULL, 0);
    fake_reply(f, &m2, &fresh, sizeof(fresh), NULL, 0);
    uvfio_msg_free(&m1);
    uvfio_msg_free(&m2);
}

/*
 * The timeout is short only for the requests meant to run into it: the
 * handshake and the requests that must succeed get ten seconds, so a
 * loaded machine (valgrind, a parallel suite) cannot make them fail.
 */
#define SHORT_MS    200
#define LONG_MS     10000

static void test_request_timeout(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = LONG_MS };
    struct uvfio_client_device_info di;
    struct uvfio_client *c;
    struct fake f;
    int64_t t0, dt;

    (void)state;
    fake_init(&f, script_late);
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    uvfio_client_set_timeout(c, SHORT_MS);
    t0 = fake_now_ms();
    assert_int_equal(uvfio_client_device_info(c, &di), -ETIMEDOUT);
    dt = fake_now_ms() - t0;
    uvfio_client_set_timeout(c, LONG_MS);
    /* Never early: the deadline comes from the coarse clock plus its
     * resolution (request.c), and both ends here are whole ms. */
    assert_true(dt >= 200 && dt < 2000);
    /* The late answer to the first request is not taken for the second. */
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_int_equal(di.num_regions, 2);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
}

/* The server never reads: a big write cannot leave, and gives up. */
static void script_deaf(struct fake *f)
{
    int *done = f->arg;
    uint64_t v;

    FAKE_CHECK(f, read(*done, &v, sizeof(v)) == sizeof(v));
}

static void test_server_not_reading(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = LONG_MS,
                                   .max_data_xfer_size = 8u << 20 };
    size_t len = 8u << 20;
    uint8_t *buf = calloc(1, len);
    int done = eventfd(0, EFD_CLOEXEC);
    struct uvfio_client *c;
    struct fake f;
    int64_t t0;

    (void)state;
    assert_non_null(buf);
    fake_init(&f, script_deaf);
    f.caps_json = "{\"capabilities\":{\"max_data_xfer_size\":8388608,"
                  "\"write_multiple\":true}}";
    f.arg = &done;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    uvfio_client_set_timeout(c, SHORT_MS);
    t0 = fake_now_ms();
    assert_int_equal(uvfio_client_region_write(c, 0, 0, buf, len),
                     -ETIMEDOUT);
    assert_true(fake_now_ms() - t0 < 2000);
    /* Posted writes have nowhere to go either. */
    assert_int_equal(uvfio_client_region_write_posted(c, 0, 0, buf, 4), 0);
    assert_int_equal(uvfio_client_flush(c), -ETIMEDOUT);
    uvfio_client_close(c);
    assert_int_equal(write(done, &(uint64_t){ 1 }, 8), 8);
    assert_int_equal(fake_join(&f), 0);
    close(done);
    free(buf);
}

/* The server floods DMA_READs of 1 MiB and never reads the answers: the
 * client's output queue fills up to its cap, further answers are dropped,
 * and the request still ends at its deadline. */
static void script_flood(struct fake *f)
{
    struct uvfio_wire_dma_rw rd = { 0x100000, 1u << 20 };
    struct uvfio_wire_hdr h;
    int *done = f->arg;
    struct uvfio_msg m;
    uint64_t v;
    int i;

    if (!fake_expect(f, UVFIO_CMD_DMA_MAP, &m))
        return;
    fake_reply(f, &m, NULL, 0, NULL, 0);
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    uvfio_msg_free(&m);
    for (i = 0; i < 64; i++) {
        h = (struct uvfio_wire_hdr){ .msg_id = (uint16_t)i,
                                     .cmd = UVFIO_CMD_DMA_READ };
        FAKE_CHECK(f, fake_send(f, &h, &rd, sizeof(rd), NULL, 0) == 0);
    }
    FAKE_CHECK(f, read(*done, &v, sizeof(v)) == sizeof(v));
}

static void test_dma_flood(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = LONG_MS };
    uint8_t *host = calloc(1, 1u << 20);
    int done = eventfd(0, EFD_CLOEXEC);
    struct uvfio_client_device_info di;
    struct uvfio_client *c;
    struct fake f;
    int64_t t0;

    (void)state;
    fake_init(&f, script_flood);
    f.arg = &done;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x100000, 1u << 20, 3, host),
                     0);
    uvfio_client_set_timeout(c, 300);
    t0 = fake_now_ms();
    assert_int_equal(uvfio_client_device_info(c, &di), -ETIMEDOUT);
    assert_true(fake_now_ms() - t0 < 3000);
    uvfio_client_close(c);
    assert_int_equal(write(done, &(uint64_t){ 1 }, 8), 8);
    assert_int_equal(fake_join(&f), 0);
    close(done);
    free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_request_timeout),
        FAKE_TEST(test_server_not_reading),
        FAKE_TEST(test_dma_flood),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
