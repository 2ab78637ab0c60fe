/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_hostile.c - a server that lies.
 *
 * Short and inconsistent replies, replies for something else, capability
 * chains that loop or point outside the reply, too many fds, garbage
 * headers, stale replies, oversized replies, commands the client does not
 * serve.  Each must end in an error for that call (and, where the stream is
 * still in step, a connection that keeps working), never a crash, and
 * never a leaked fd.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_session.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct uvfio_wire_device_info good_info = { 16, 0, 9, 5 };

/* ---- region read / write replies ---------------------------------------- */

struct rw4 {
    struct uvfio_wire_region_rw rw;
    uint8_t data[4];
} __attribute__((packed));

static void test_region_rw_replies(void **state)
{
    /* The client reads 4 bytes at 0x40 of region 1 each time. */
    struct rw4 short_rep = { { 0x40, 1, 4 }, { 1, 2, 3, 4 } };
    struct rw4 fewer = { { 0x40, 1, 2 }, { 1, 2, 0, 0 } };
    struct rw4 other_off = { { 0x44, 1, 4 }, { 1, 2, 3, 4 } };
    struct rw4 other_region = { { 0x40, 2, 4 }, { 1, 2, 3, 4 } };
    struct rw4 good = { { 0x40, 1, 4 }, { 9, 8, 7, 6 } };
    struct uvfio_wire_region_rw wr_other = { 0x40, 1, 3 };
    struct rw4 wr_long = { { 0x40, 1, 4 }, { 0 } };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &short_rep, .rep_len = 19 },
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &fewer, .rep_len = 18 },
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &other_off, .rep_len = 20 },
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &other_region, .rep_len = 20 },
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &good, .rep_len = 12 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .rep = &wr_other, .rep_len = 16 },
        { .cmd = UVFIO_CMD_REGION_WRITE, .rep = &wr_long, .rep_len = 20 },
        { .cmd = UVFIO_CMD_REGION_READ, .rep = &good, .rep_len = 20 },
    };
    uint8_t buf[4] = { 0 };
    struct fake_session s;
    int i;

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    for (i = 0; i < 5; i++) {
        assert_int_equal(uvfio_client_region_read(s.c, 1, 0x40, buf, 4),
                         -EPROTO);
        /* Nothing of a rejected reply reaches the caller. */
        assert_int_equal(buf[0], 0);
    }
    assert_int_equal(uvfio_client_region_write(s.c, 1, 0x40, buf, 4),
                     -EPROTO);
    assert_int_equal(uvfio_client_region_write(s.c, 1, 0x40, buf, 4),
                     -EPROTO);
    /* Still in step: a good reply is taken. */
    assert_int_equal(uvfio_client_region_read(s.c, 1, 0x40, buf, 4), 4);
    assert_int_equal(buf[0], 9);
    fake_session_finish(&s);
}

/* ---- region info chains ------------------------------------------------- */

struct rbuf {
    uint8_t b[2048];
    size_t len;
};

static struct uvfio_wire_region_info *rinfo(struct rbuf *r, uint32_t cap_off,
                                            size_t len)
{
    struct uvfio_wire_region_info *ri = (void *)r->b;

    memset(r, 0, sizeof(*r));
    ri->argsz = (uint32_t)len;
    ri->flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_MMAP |
                UVFIO_REGION_FLAG_CAPS;
    ri->index = 0;
    ri->cap_offset = cap_off;
    ri->size = 0x2000;
    r->len = len;
    return ri;
}

static void put_hdr(struct rbuf *r, size_t off, uint16_t id, uint16_t ver,
                    uint32_t next)
{
    struct uvfio_wire_cap_header h = { id, ver, next };

    memcpy(r->b + off, &h, sizeof(h));
}

static void put_sparse(struct rbuf *r, size_t off, uint16_t ver, uint32_t next,
                       uint32_t nr, uint64_t aoff, uint64_t asize)
{
    struct uvfio_wire_cap_sparse_mmap c = { { 1, ver, next }, nr, 0 };
    struct uvfio_wire_sparse_area a = { aoff, asize };

    memcpy(r->b + off, &c, sizeof(c));
    memcpy(r->b + off + sizeof(c), &a, sizeof(a));
}

#define NBAD 16

static void build_bad_chains(struct rbuf *v)
{
    int i;

    /* 0: cap_offset beyond the reply */
    rinfo(&v[0], 200, 48);
    /* 1: cap_offset inside the fixed struct */
    rinfo(&v[1], 16, 48);
    put_hdr(&v[1], 32, 99, 1, 0);
    /* 2: a capability pointing at itself */
    rinfo(&v[2], 32, 40);
    put_hdr(&v[2], 32, 99, 1, 32);
    /* 3: two capabilities pointing at each other */
    rinfo(&v[3], 32, 48);
    put_hdr(&v[3], 32, 99, 1, 40);
    put_hdr(&v[3], 40, 99, 1, 32);
    /* 4: nr_areas far beyond the bytes */
    rinfo(&v[4], 32, 64);
    put_sparse(&v[4], 32, 1, 0, 0x10000000, 0, 0x1000);
    /* 5: an area outside the region */
    rinfo(&v[5], 32, 64);
    put_sparse(&v[5], 32, 1, 0, 1, 0x1000, 0x2000);
    /* 6: an area whose end wraps */
    rinfo(&v[6], 32, 64);
    put_sparse(&v[6], 32, 1, 0, 1, UINT64_MAX - 1, 0x10);
    /* 7: a sparse capability of an unknown version */
    rinfo(&v[7], 32, 64);
    put_sparse(&v[7], 32, 2, 0, 1, 0, 0x1000);
    /* 8: two sparse capabilities */
    rinfo(&v[8], 32, 96);
    put_sparse(&v[8], 32, 1, 64, 1, 0, 0x1000);
    put_sparse(&v[8], 64, 1, 0, 1, 0, 0x1000);
    /* 9: a chain longer than any real one (40 unknown caps) */
    rinfo(&v[9], 32, 32 + 40 * 8);
    for (i = 0; i < 40; i++)
        put_hdr(&v[9], 32 + i * 8, 99, 1, i == 39 ? 0 : 32 + (i + 1) * 8);
    /* 10: a header running off the end */
    rinfo(&v[10], 44, 48);
    /* 11: a type capability cut short */
    rinfo(&v[11], 32, 40);
    put_hdr(&v[11], 32, UVFIO_REGION_CAP_TYPE, 1, 0);
    /* 12: next pointing into its own header */
    rinfo(&v[12], 32, 48);
    put_hdr(&v[12], 32, 99, 1, 36);
    /* 13: info for another index */
    rinfo(&v[13], 0, 32)->index = 3;
    /* 14: sparse header fits, areas don't (nr 1, 8 bytes short) */
    rinfo(&v[14], 32, 56);
    put_sparse(&v[14], 32, 1, 0, 1, 0, 0x1000);
    /* 15: fixed part shorter than 32 bytes */
    rinfo(&v[15], 0, 24);
}

static void test_region_info_bad_chains(void **state)
{
    struct rbuf *v = calloc(NBAD, sizeof(*v));
    struct fake_step st[NBAD + 1];
    int mfd = memfd_create("hostile", MFD_CLOEXEC);
    struct uvfio_client_region r;
    struct fake_session s;
    int i;

    (void)state;
    assert_non_null(v);
    assert_true(mfd >= 0);
    assert_int_equal(ftruncate(mfd, 0x2000), 0);
    build_bad_chains(v);
    for (i = 0; i < NBAD; i++)
        st[i] = (struct fake_step){
            .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .rep = v[i].b,
            .rep_len = v[i].len, .rep_fds = &mfd, .rep_nfds = 1 };
    st[NBAD] = (struct fake_step){ .cmd = UVFIO_CMD_DEVICE_GET_INFO,
                                   .rep = &good_info, .rep_len = 16 };
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    for (i = 0; i < NBAD; i++) {
        assert_int_equal(uvfio_client_region_info(s.c, 0, &r), -EPROTO);
        /* A refused reply leaves nothing to free and no fd behind. */
        assert_int_equal(r.fd, -1);
        assert_null(r.sparse);
    }
    {
        struct uvfio_client_device_info di;

        assert_int_equal(uvfio_client_device_info(s.c, &di), 0);
    }
    fake_session_finish(&s);
    close(mfd);
    free(v);
}

static void test_region_info_argsz_games(void **state)
{
    struct uvfio_wire_region_info grow[3], huge;
    struct fake_step st[4];
    struct uvfio_client_region r;
    struct fake_session s;
    int i;

    (void)state;
    /* Asks for a bit more every time: the client gives up after 3. */
    for (i = 0; i < 3; i++) {
        grow[i] = (struct uvfio_wire_region_info){
            .argsz = 600 + i * 8, .flags = UVFIO_REGION_FLAG_CAPS };
        st[i] = (struct fake_step){ .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO,
                                    .rep = &grow[i], .rep_len = 32 };
    }
    huge = (struct uvfio_wire_region_info){ .argsz = 1u << 30,
                                            .flags = UVFIO_REGION_FLAG_CAPS };
    st[3] = (struct fake_step){ .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO,
                                .rep = &huge, .rep_len = 32 };
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), -EPROTO);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), -EPROTO);
    fake_session_finish(&s);
}

/* ---- fds that do not belong -------------------------------------------- */

static void test_unexpected_fds(void **state)
{
    struct uvfio_wire_region_info plain = { .argsz = 32, .size = 0x1000,
                                            .flags = UVFIO_REGION_FLAG_READ };
    int fds[2] = { memfd_create("a", MFD_CLOEXEC), memfd_create("b", 0) };
    struct fake_step st[] = {
        /* Two fds on a region info: more than the command takes. */
        { .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .rep = &plain,
          .rep_len = 32, .rep_fds = fds, .rep_nfds = 2 },
        /* An fd on a reply that takes none. */
        { .cmd = UVFIO_CMD_DEVICE_GET_INFO, .rep = &good_info, .rep_len = 16,
          .rep_fds = fds, .rep_nfds = 1 },
        /* An fd with a region that is not mmappable: accepted, fd closed. */
        { .cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO, .rep = &plain,
          .rep_len = 32, .rep_fds = fds, .rep_nfds = 1 },
        /* A payload on a reply that has none. */
        { .cmd = UVFIO_CMD_DMA_MAP, .rep = &plain, .rep_len = 8 },
    };
    struct uvfio_client_device_info di;
    struct uvfio_client_region r;
    struct fake_session s;
    uint8_t host[16];

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), -EPROTO);
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EPROTO);
    assert_int_equal(uvfio_client_region_info(s.c, 0, &r), 0);
    assert_int_equal(r.fd, -1);
    uvfio_client_region_free(&r);
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0, 16, 1, host), -EPROTO);
    fake_session_finish(&s);
    close(fds[0]);
    close(fds[1]);
}

/* ---- stale replies, server commands, wrong echoes ------------------------ */

static void script_stale_then_real(struct fake *f)
{
    struct uvfio_wire_hdr h;
    struct uvfio_msg m, e;

    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    /* A reply nobody waits for, then a command the client does not serve,
     * then the real reply. */
    h = (struct uvfio_wire_hdr){ .msg_id = (uint16_t)(m.hdr.msg_id + 1000),
                                 .cmd = UVFIO_CMD_DEVICE_GET_INFO,
                                 .flags = UVFIO_HDR_TYPE_REPLY };
    fake_send(f, &h, &good_info, 16, NULL, 0);
    h = (struct uvfio_wire_hdr){ .msg_id = 777,
                                 .cmd = UVFIO_CMD_DEVICE_RESET,
                                 .flags = UVFIO_HDR_TYPE_COMMAND };
    fake_send(f, &h, NULL, 0, NULL, 0);
    if (!fake_recv(f, &e)) {
        uvfio_msg_free(&m);
        return;
    }
    FAKE_CHECK(f, e.hdr.msg_id == 777 &&
                  e.hdr.cmd == UVFIO_CMD_DEVICE_RESET &&
                  (e.hdr.flags & UVFIO_HDR_ERROR) &&
                  (e.hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY &&
                  e.hdr.error == ENOSYS && e.len == 0);
    uvfio_msg_free(&e);
    /* A NO_REPLY command gets no answer at all. */
    h = (struct uvfio_wire_hdr){ .msg_id = 778, .cmd = 200,
                                 .flags = UVFIO_HDR_TYPE_COMMAND |
                                          UVFIO_HDR_NO_REPLY };
    fake_send(f, &h, NULL, 0, NULL, 0);
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
    /* Nothing more from the client until it closes. */
    FAKE_CHECK(f, fake_wait_eof(f, 3000));
}

static void test_stale_reply_and_server_command(void **state)
{
    struct uvfio_client_device_info di;
    struct fake_session s;

    (void)state;
    fake_session_script(&s, script_stale_then_real, NULL, NULL, NULL);
    assert_int_equal(uvfio_client_device_info(s.c, &di), 0);
    assert_int_equal(di.num_regions, 9);
    fake_session_finish(&s);
}

static void test_unmap_echo(void **state)
{
    struct uvfio_wire_dma_unmap wrong = { 24, 0, 0x2000, 0x1000 };
    struct fake_step st[] = {
        { .cmd = UVFIO_CMD_DMA_MAP },
        { .cmd = UVFIO_CMD_DMA_UNMAP, .rep = &wrong, .rep_len = 24 },
        { .cmd = UVFIO_CMD_DMA_UNMAP, .rep = &wrong, .rep_len = 20 },
    };
    struct fake_session s;
    uint8_t host[0x1000];

    (void)state;
    fake_session_steps(&s, st, ARRAY_SIZE(st), NULL, NULL);
    assert_int_equal(uvfio_client_dma_map_msg(s.c, 0x1000, 0x1000, 3, host),
                     0);
    assert_int_equal(uvfio_client_dma_unmap(s.c, 0x1000, 0x1000), -EPROTO);
    assert_int_equal(uvfio_client_dma_unmap(s.c, 0x1000, 0x1000), -EPROTO);
    fake_session_finish(&s);
}

/* ---- broken streams ---------------------------------------------------- */

static void script_garbage(struct fake *f)
{
    struct uvfio_msg m;
    uint8_t junk[16] = { 1, 0, 4, 0, 3, 0, 0, 0 };  /* size 3 < 16 */

    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    FAKE_CHECK(f, send(f->sock, junk, sizeof(junk), 0) == sizeof(junk));
    uvfio_msg_free(&m);
    FAKE_CHECK(f, fake_wait_eof(f, 3000));
}

static void test_garbage_header(void **state)
{
    struct uvfio_client_device_info di;
    struct fake_session s;

    (void)state;
    fake_session_script(&s, script_garbage, NULL, NULL, NULL);
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EPROTO);
    /* The stream cannot be resynchronised: every later call fails fast. */
    assert_int_equal(uvfio_client_device_info(s.c, &di), -EPROTO);
    assert_int_equal(uvfio_client_dispatch(s.c, 0), -EPROTO);
    fake_session_finish(&s);
}

static void script_hang_up(struct fake *f)
{
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_REGION_READ, &m))
        return;
    uvfio_msg_free(&m);
    /* Half a reply header, then gone. */
    FAKE_CHECK(f, send(f->sock, "\x01\x00", 2, 0) == 2);
    close(f->sock);
    f->sock = -1;
}

static void test_server_hangs_up(void **state)
{
    struct uvfio_client_device_info di;
    struct fake_session s;
    uint8_t b[4];

    (void)state;
    fake_session_script(&s, script_hang_up, NULL, NULL, NULL);
    assert_int_equal(uvfio_client_region_read(s.c, 0, 0, b, 4), -ECONNRESET);
    assert_int_equal(uvfio_client_device_info(s.c, &di), -ECONNRESET);
    assert_int_equal(uvfio_client_region_write_posted(s.c, 0, 0, b, 4),
                     -ECONNRESET);
    assert_int_equal(uvfio_client_dispatch(s.c, 10), -ECONNRESET);
    fake_session_finish(&s);
}

/* A reply far bigger than anything the client accepts: skipped, and the
 * stream stays usable. */
static void script_oversize(struct fake *f)
{
    size_t big = (2u << 20) + 64;
    uint8_t *p = calloc(1, big);
    struct uvfio_msg m;

    FAKE_CHECK(f, p != NULL);
    if (!fake_expect(f, UVFIO_CMD_REGION_READ, &m)) {
        free(p);
        return;
    }
    fake_reply(f, &m, p, big, NULL, 0);
    uvfio_msg_free(&m);
    free(p);
    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
}

static void test_oversize_reply(void **state)
{
    struct uvfio_client_device_info di;
    struct fake_session s;
    uint8_t b[4];

    (void)state;
    fake_session_script(&s, script_oversize, NULL, NULL, NULL);
    assert_int_equal(uvfio_client_region_read(s.c, 0, 0, b, 4), -EPROTO);
    assert_int_equal(uvfio_client_device_info(s.c, &di), 0);
    fake_session_finish(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_region_rw_replies),
        FAKE_TEST(test_region_info_bad_chains),
        FAKE_TEST(test_region_info_argsz_games),
        FAKE_TEST(test_unexpected_fds),
        FAKE_TEST(test_stale_reply_and_server_command),
        FAKE_TEST(test_unmap_echo),
        FAKE_TEST(test_garbage_header),
        FAKE_TEST(test_server_hangs_up),
        FAKE_TEST(test_oversize_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
