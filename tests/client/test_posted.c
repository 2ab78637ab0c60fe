/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_posted.c - posted writes: WRITE_MULTI batching, NO_REPLY
 * REGION_WRITEs, and their order against the requests that follow.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_session.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A WRITE_MULTI payload of up to 200 entries. */
struct multi {
    uint64_t wr_cnt;
    struct uvfio_wire_write_multi_entry e[200];
} __attribute__((packed));

static size_t multi_len(const struct multi *m)
{
    return 8 + m->wr_cnt * sizeof(m->e[0]);
}

static void add(struct multi *m, uint32_t region, uint64_t off,
                const void *data, uint32_t count)
{
    struct uvfio_wire_write_multi_entry *e = &m->e[m->wr_cnt++];

    memset(e, 0, sizeof(*e));
    e->region = region;
    e->offset = off;
    e->count = count;
    memcpy(e->data, data, count);
}

struct rw16 {
    struct uvfio_wire_region_rw rw;
    uint8_t data[16];
} __attribute__((packed));

static void test_batched_before_read(void **state)
{
    const uint8_t b1 = 0xaa, b4[4] = { 1, 2, 3, 4 };
    const uint8_t b8[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
    struct multi *m = calloc(1, sizeof(*m));
    struct uvfio_wire_region_rw rd = { 0x10, 1, 4 };
    struct rw16 rep = { { 0x10, 1, 4 }, { 0xaa, 0, 0, 0 } };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_WRITE_MULTI, .posted = true, .req = m },
        { .cmd = UVFIO_CMD_REGION_READ, .req = &rd, .req_len = sizeof(rd),
          .rep = &rep, .rep_len = 20 },
    };
    struct fake_session s;
    uint8_t got[4];

    (void)state;
    add(m, 1, 0x10, &b1, 1);
    add(m, 1, 0x20, b4, 4);
    add(m, 2, 0x30, b8, 8);
    st[0].req_len = multi_len(m);
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_true(uvfio_client_caps(s.c)->write_multiple);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 1, 0x10, &b1, 1), 0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 1, 0x20, b4, 4), 0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 2, 0x30, b8, 8), 0);
    /* The read goes out after the batch, so it sees the writes. */
    assert_int_equal(uvfio_client_region_read(s.c, 1, 0x10, got, 4), 4);
    assert_int_equal(got[0], 0xaa);
    fake_session_finish(&s);
    free(m);
}

static void test_mixed_sizes_keep_order(void **state)
{
    const uint8_t a[4] = { 1, 1, 1, 1 }, c[2] = { 3, 3 };
    struct multi *m1 = calloc(1, sizeof(*m1)), *m2 = calloc(1, sizeof(*m2));
    struct rw16 big = { { 0x100, 0, 16 }, { 0 } };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_WRITE_MULTI, .posted = true, .req = m1 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .posted = true, .req = &big,
          .req_len = sizeof(big) },
        { .cmd = UVFIO_CMD_REGION_WRITE_MULTI, .posted = true, .req = m2 },
        { .cmd = UVFIO_CMD_DEVICE_RESET },
    };
    struct fake_session s;

    (void)state;
    memset(big.data, 2, sizeof(big.data));
    add(m1, 0, 0x0, a, 4);
    add(m2, 0, 0x200, c, 2);
    st[0].req_len = multi_len(m1);
    st[2].req_len = multi_len(m2);
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0, a, 4), 0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0x100, big.data,
                                                      16), 0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0x200, c, 2), 0);
    assert_int_equal(uvfio_client_flush(s.c), 0);
    /* Nothing is left to flush: the reset is the next message. */
    assert_int_equal(uvfio_client_flush(s.c), 0);
    assert_int_equal(uvfio_client_reset(s.c), 0);
    fake_session_finish(&s);
    free(m1);
    free(m2);
}

/* With max_data_xfer_size 4096 a WRITE_MULTI holds (4096 - 8) / 24 = 170
 * entries; the 170th write sends the batch, the 171st starts the next. */
static void test_batch_full(void **state)
{
    struct multi *m1 = calloc(1, sizeof(*m1)), *m2 = calloc(1, sizeof(*m2));
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_WRITE_MULTI, .posted = true, .req = m1 },
        { .cmd = UVFIO_CMD_REGION_WRITE_MULTI, .posted = true, .req = m2 },
    };
    struct fake_session s;
    uint32_t i, v;

    (void)state;
    for (i = 0; i < 171; i++) {
        v = i;
        add(i < 170 ? m1 : m2, 0, i * 4ull, &v, 4);
    }
    st[0].req_len = multi_len(m1);
    st[1].req_len = multi_len(m2);
    fake_session_steps(&s, st, ARRAY_SIZE(st),
          "{\"capabilities\":{\"max_data_xfer_size\":4096,"
          "\"write_multiple\":true}}", NULL);
    for (i = 0; i < 171; i++)
        assert_int_equal(uvfio_client_region_write_posted(s.c, 0, i * 4ull,
                                                          &i, 4), 0);
    assert_int_equal(uvfio_client_flush(s.c), 0);
    fake_session_finish(&s);
    free(m1);
    free(m2);
}

/* Without write_multiple every posted write is a NO_REPLY REGION_WRITE,
 * and larger ones are split at max_data_xfer_size. */
struct rw_big {
    struct uvfio_wire_region_rw rw;
    uint8_t data[4096];
} __attribute__((packed));

static void test_no_write_multiple(void **state)
{
    struct uvfio_client_opts o = { .no_write_multiple = true };
    struct rw16 w1 = { { 0x8, 3, 4 }, { 5, 6, 7, 8 } };
    struct rw16 w2 = { { 0xc, 3, 2 }, { 9, 9 } };
    struct rw_big *b1 = calloc(1, sizeof(*b1)), *b2 = calloc(1, sizeof(*b2));
    uint8_t *buf = malloc(5000);
    struct uvfio_wire_region_rw rd = { 0x8, 3, 4 };
    struct rw16 rep = { { 0x8, 3, 4 }, { 5, 6, 7, 8 } };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_WRITE, .posted = true, .req = &w1,
          .req_len = 20 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .posted = true, .req = &w2,
          .req_len = 18 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .posted = true, .req = b1,
          .req_len = 16 + 4096 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .posted = true, .req = b2,
          .req_len = 16 + 904 },
        { .cmd = UVFIO_CMD_REGION_READ, .req = &rd, .req_len = 16,
          .rep = &rep, .rep_len = 20 },
    };
    struct fake_session s;
    uint8_t got[4];
    int i;

    (void)state;
    for (i = 0; i < 5000; i++)
        buf[i] = (uint8_t)(i ^ 0x5a);
    b1->rw = (struct uvfio_wire_region_rw){ 0x1000, 3, 4096 };
    memcpy(b1->data, buf, 4096);
    b2->rw = (struct uvfio_wire_region_rw){ 0x2000, 3, 904 };
    memcpy(b2->data, buf + 4096, 904);
    fake_session_steps(&s, st, ARRAY_SIZE(st),
          "{\"capabilities\":{\"max_data_xfer_size\":4096}}", &o);
    assert_false(uvfio_client_caps(s.c)->write_multiple);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 3, 0x8, w1.data, 4),
                     0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 3, 0xc, w2.data, 2),
                     0);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 3, 0x1000, buf,
                                                      5000), 0);
    assert_int_equal(uvfio_client_region_read(s.c, 3, 0x8, got, 4), 4);
    assert_memory_equal(got, w1.data, 4);
    fake_session_finish(&s);
    free(b1);
    free(b2);
    free(buf);
}

static void test_posted_args(void **state)
{
    struct fake_session s;
    uint8_t b = 0;

    (void)state;
    fake_session_steps(&s, NULL, 0, NULL, NULL);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0, &b, 0),
                     -EINVAL);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0, NULL, 1),
                     -EINVAL);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, UINT64_MAX, &b,
                                                      2), -EINVAL);
    fake_session_finish(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_batched_before_read),
        FAKE_TEST(test_mixed_sizes_keep_order),
        FAKE_TEST(test_batch_full),
        FAKE_TEST(test_no_write_multiple),
        FAKE_TEST(test_posted_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
