// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_fake_peer.c - each end of a live migration against a
 * scripted, misbehaving other end.
 *
 * A real source end (a real uvfio-edu behind it) faces fake destinations
 * that refuse, lie, vanish or stall; it must fail with the right errno,
 * within its timeout, and leave its device RUNNING with its state.  A
 * real destination end faces fake sources that send malformed, out of
 * order, out of bounds or damaged records; it must refuse each with an
 * ERROR record carrying the errno, reset its device, and never crash or
 * hang.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "live.h"
#include "lm_fixture.h"
#include "pagebits.h"
#include "records.h"
#include "stream.h"

#define MEM             (8ull << 20)
#define JOIN_MS         20000

struct world {
    struct lm_server dev;
    char dir[64];
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));

    if (!w)
        return -1;
    lm_mkdir(w->dir, sizeof(w->dir));
    *state = w;
    return lm_server_start(&w->dev, lm_edu_bin, w->dir, "dev", NULL,
                           false) ? -1 :
                                                                       0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    int r = lm_server_stop(&w->dev);

    lm_rmdir(w->dir);
    free(w);
    return r ? -1 : 0;
}

static void assert_running(const char *path)
{
    enum uvfio_mig_state st = UVFIO_MIG_STATE_ERROR;

    assert_int_equal(lm_device_state(path, &st), 0);
    assert_int_equal(st, UVFIO_MIG_STATE_RUNNING);
}

static void raw_header(int fd, uint32_t type, uint64_t addr, uint64_t len)
{
    uint8_t h[LM_REC_HDR_SIZE];
    uint32_t t = htole32(type), f = 0;

    addr = htole64(addr);
    len = htole64(len);
    memcpy(h, &t, 4);
    memcpy(h + 4, &f, 4);
    memcpy(h + 8, &addr, 8);
    memcpy(h + 16, &len, 8);
    assert_int_equal(write(fd, h, sizeof(h)), sizeof(h));
}

/* ==== a real source, fake destinations =================================== */

enum fake_dst {
    FD_CLOSE_AFTER_HELLO,
    FD_BAD_READY,
    FD_RESULT_FOR_READY,
    FD_ERROR_REPLY,
    FD_VANISH_IN_PRECOPY,
    FD_STALL,
    FD_MALFORMED_RESULT,
    FD_DEVICE_MISMATCH,
    FD_NOT_RUNNING,
    FD_CLOSE_AFTER_LOADED,
    FD_ERROR_MID_PRECOPY,
};

struct fake {
    enum fake_dst kind;
    struct lm_stream *s;
};

static void read_hello(struct lm_stream *s)
{
    struct lm_hello h;
    uint8_t buf[LM_HELLO_SIZE];
    struct lm_rec rec;

    assert_int_equal(lm_recv(s, &rec), 0);
    assert_int_equal(rec.type, LM_REC_HELLO);
    assert_int_equal(lm_recv_payload(s, buf, sizeof(buf)), 0);
    assert_int_equal(lm_hello_decode(buf, sizeof(buf), &h), 0);
    assert_int_equal(h.mem_size, MEM);
}

static void send_ready(struct lm_stream *s)
{
    uint8_t buf[LM_READY_SIZE];

    lm_ready_encode(7, buf);
    assert_int_equal(lm_send(s, LM_REC_READY, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lm_flush(s), 0);
}

/* Swallow records up to and including `type`; false if the stream ended
 * first. */
static bool skip_until(struct lm_stream *s, uint32_t type)
{
    struct lm_rec rec;

    for (;;) {
        if (lm_recv(s, &rec) || lm_recv_skip(s))
            return false;
        if (rec.type == type)
            return true;
    }
}

static void send_result(struct lm_stream *s, uint32_t flags, int status)
{
    struct lm_result r = { .status = status, .flags = flags };
    uint8_t buf[LM_RESULT_SIZE];

    r.mem.npages = MEM / LM_PAGE_SIZE;
    lm_result_encode(&r, buf);
    assert_int_equal(lm_send(s, LM_REC_RESULT, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lm_flush(s), 0);
}

/* Reach the point where the source waits for RESULT. */
static void play_to_sums(struct lm_stream *s)
{
    assert_true(skip_until(s, LM_REC_END));
    assert_int_equal(lm_send(s, LM_REC_LOADED, 0, NULL, 0), 0);
    assert_int_equal(lm_flush(s), 0);
    for (uint64_t have = 0; have < MEM / LM_PAGE_SIZE;) {
        struct lm_rec rec;

        assert_int_equal(lm_recv(s, &rec), 0);
        assert_int_equal(rec.type, LM_REC_SUMS);
        assert_int_equal(rec.addr, have);
        assert_int_equal(lm_recv_skip(s), 0);
        have += rec.len / 8;
    }
}

/* Until the source hangs up, reading nothing. */
static void wait_hangup(struct lm_stream *s)
{
    struct pollfd p = { .fd = s->fd, .events = 0 };

    assert_int_equal(poll(&p, 1, 15000), 1);
}

/* The fake's part; on return its end of the stream closes. */
static void fake_dst_play(struct fake *f)
{
    struct lm_stream *s = f->s;
    uint8_t junk[9] = { 0 };

    read_hello(s);
    switch (f->kind) {
    case FD_CLOSE_AFTER_HELLO:
        return;
    case FD_BAD_READY:
        raw_header(s->fd, LM_REC_READY, 0, sizeof(junk));
        assert_int_equal(write(s->fd, junk, sizeof(junk)), sizeof(junk));
        break;
    case FD_RESULT_FOR_READY:
        send_result(s, 7, 0);
        break;
    case FD_ERROR_REPLY:
        lm_send_error(s, -ENOSPC, "no room for\033[2J guests");
        break;
    case FD_VANISH_IN_PRECOPY:
        send_ready(s);
        skip_until(s, LM_REC_PAGES);
        return;
    case FD_STALL:
        send_ready(s);
        /* neither read nor answer until the source gives up */
        wait_hangup(s);
        return;
    case FD_MALFORMED_RESULT:
        send_ready(s);
        play_to_sums(s);
        raw_header(s->fd, LM_REC_RESULT, 0, LM_RESULT_SIZE);
        memset(junk, 0xff, sizeof(junk));
        for (int i = 0; i < 20; i++)    /* flags 0xffffffff and more */
            assert_int_equal(write(s->fd, junk, 8), 8);
        break;
    case FD_DEVICE_MISMATCH:
        send_ready(s);
        play_to_sums(s);
        send_result(s, LM_RESULT_MEM_OK, -EBADMSG);
        break;
    case FD_NOT_RUNNING:
        send_ready(s);
        play_to_sums(s);
        send_result(s, LM_RESULT_MEM_OK | LM_RESULT_DEV_OK, -EIO);
        break;
    case FD_ERROR_MID_PRECOPY:
        send_ready(s);
        assert_true(skip_until(s, LM_REC_PAGES));
        lm_send_error(s, -EIO, "disk on fire");
        /* and keep swallowing: the source must stop on its own */
        skip_until(s, LM_REC_TYPE_COUNT);
        return;
    case FD_CLOSE_AFTER_LOADED:
        send_ready(s);
        assert_true(skip_until(s, LM_REC_END));
        assert_int_equal(lm_send(s, LM_REC_LOADED, 0, NULL, 0), 0);
        assert_int_equal(lm_flush(s), 0);
        return;
    }
    /* let the source read what we sent before the connection goes */
    skip_until(s, LM_REC_TYPE_COUNT);
}

static void *fake_dst_main(void *arg)
{
    struct fake *f = arg;

    fake_dst_play(f);
    lm_stream_close(f->s);
    f->s = NULL;
    return NULL;
}

static void against_fake_dst(void **state, enum fake_dst kind, int want,
                             enum mig_recovery rec, const char *words)
{
    struct world *w = *state;
    struct fake f = { .kind = kind };
    struct live_opts o;
    struct lm_party src;
    pthread_t th;
    int sv[2], ret;
    uint64_t t0 = lm_now_ms();

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(lm_stream_open(sv[1], 5000, &f.s), 0);
    lm_small_opts(&o, w->dev.path, NULL, MEM);
    o.write_rate = 32ull << 20;
    o.timeout_ms = 600;
    assert_int_equal(pthread_create(&th, NULL, fake_dst_main, &f), 0);
    lm_party_start(&src, true, &o, sv[0]);
    ret = lm_party_join(&src, JOIN_MS);
    pthread_join(th, NULL);
    if (ret != want || src.r.recovery != rec ||
        (words && !strstr(src.r.step, words)))
        fail_msg("fake destination %d: got %d (%s), recovery %d: \"%s\"",
                 kind, ret, strerror(-ret), src.r.recovery, src.r.step);
    assert_true(lm_now_ms() - t0 < 15000);
    assert_running(w->dev.path);
    live_result_free(&src.r);
}

static void test_dst_closes_after_hello(void **state)
{
    against_fake_dst(state, FD_CLOSE_AFTER_HELLO, -ECONNRESET,
                     MIG_SOURCE_UNTOUCHED, "READY");
}

static void test_dst_bad_ready(void **state)
{
    against_fake_dst(state, FD_BAD_READY, -EPROTO, MIG_SOURCE_UNTOUCHED,
                     NULL);
}

static void test_dst_result_for_ready(void **state)
{
    against_fake_dst(state, FD_RESULT_FOR_READY, -EPROTO,
                     MIG_SOURCE_UNTOUCHED, "RESULT instead of READY");
}

/* The destination's reason reaches the source, made safe to print. */
static void test_dst_error_reply(void **state)
{
    against_fake_dst(state, FD_ERROR_REPLY, -ENOSPC, MIG_SOURCE_UNTOUCHED,
                     "destination: no room for?[2J guests");
}

static void test_dst_vanishes_in_precopy(void **state)
{
    against_fake_dst(state, FD_VANISH_IN_PRECOPY, -ECONNRESET,
                     MIG_SOURCE_RUNNING, NULL);
}

static void test_dst_stalls(void **state)
{
    against_fake_dst(state, FD_STALL, -ETIMEDOUT, MIG_SOURCE_RUNNING, NULL);
}

static void test_dst_malformed_result(void **state)
{
    against_fake_dst(state, FD_MALFORMED_RESULT, -EPROTO, MIG_SOURCE_RUNNING,
                     "RESULT is malformed");
}

static void test_dst_device_mismatch(void **state)
{
    against_fake_dst(state, FD_DEVICE_MISMATCH, -EBADMSG,
                     MIG_SOURCE_RUNNING, "device state differs");
}

static void test_dst_not_running(void **state)
{
    against_fake_dst(state, FD_NOT_RUNNING, -EIO, MIG_SOURCE_RUNNING,
                     "did not start");
}

/* The destination gives up mid-precopy but keeps reading: the source
 * hears why between rounds (or at the latest when it waits for LOADED)
 * instead of sending into the void. */
static void test_dst_error_mid_precopy(void **state)
{
    against_fake_dst(state, FD_ERROR_MID_PRECOPY, -EIO, MIG_SOURCE_RUNNING,
                     "destination: disk on fire");
}

static void test_dst_closes_after_loaded(void **state)
{
    against_fake_dst(state, FD_CLOSE_AFTER_LOADED, -ECONNRESET,
                     MIG_SOURCE_RUNNING, NULL);
}

/* ==== fake sources, a real destination =================================== */

struct fake_src_run {
    struct lm_stream *s;
    struct lm_party dst;
};

static void fake_src_begin(void **state, struct fake_src_run *f,
                           uint64_t dst_mem)
{
    struct world *w = *state;
    struct live_opts o;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(lm_stream_open(sv[0], 5000, &f->s), 0);
    lm_small_opts(&o, NULL, w->dev.path, dst_mem);
    o.timeout_ms = 600;
    lm_party_start(&f->dst, false, &o, sv[1]);
}

static void send_hello(struct lm_stream *s, uint64_t mem, bool precopy)
{
    struct lm_hello h = { .mem_size = mem, .mig_flags = 7,
                          .precopy = precopy };
    uint8_t buf[LM_HELLO_SIZE];

    lm_hello_encode(&h, buf);
    assert_int_equal(lm_send(s, LM_REC_HELLO, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lm_flush(s), 0);
}

static void expect_ready(struct lm_stream *s)
{
    struct lm_rec rec;

    assert_int_equal(lm_recv(s, &rec), 0);
    assert_int_equal(rec.type, LM_REC_READY);
    assert_int_equal(lm_recv_skip(s), 0);
}

/* The destination's ERROR (its errno), then its end's return. */
static void fake_src_end(void **state, struct fake_src_run *f, int want)
{
    struct world *w = *state;
    uint8_t buf[LM_ERROR_MIN + LM_ERROR_TEXT_MAX];
    char text[LM_ERROR_TEXT_MAX + 1];
    struct lm_rec rec;
    int err = 0, ret, r;

    /* records before its ERROR (READY, say) are skipped */
    while (!(r = lm_recv(f->s, &rec)) && rec.type != LM_REC_ERROR)
        assert_int_equal(lm_recv_skip(f->s), 0);
    if (!r) {
        assert_int_equal(lm_recv_payload(f->s, buf, rec.len), 0);
        assert_int_equal(lm_error_decode(buf, rec.len, &err, text,
                                         sizeof(text)), 0);
    }
    lm_stream_close(f->s);
    ret = lm_party_join(&f->dst, JOIN_MS);
    if (ret != want)
        fail_msg("destination: got %d (%s) \"%s\", wanted %d", ret,
                 strerror(-ret), f->dst.r.step, want);
    /* it told us why, with the same errno (unless the stream itself was
     * what broke) */
    if (want != -ECONNRESET && want != -ETIMEDOUT)
        assert_int_equal(err, want);
    assert_running(w->dev.path);
    live_result_free(&f->dst.r);
}

static void test_src_garbage(void **state)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: uvfio\r\n\r\n";
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    assert_int_equal(write(f.s->fd, req, sizeof(req) - 1),
                     (ssize_t)sizeof(req) - 1);
    fake_src_end(state, &f, -EPROTO);
}

static void test_src_hello_bad_version(void **state)
{
    struct lm_hello h = { .mem_size = MEM };
    struct fake_src_run f;
    uint8_t buf[LM_HELLO_SIZE];

    fake_src_begin(state, &f, 0);
    lm_hello_encode(&h, buf);
    buf[8] = 9;                                 /* version 9 */
    assert_int_equal(lm_send(f.s, LM_REC_HELLO, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EPROTONOSUPPORT);
}

static void test_src_wrong_memory_size(void **state)
{
    struct fake_src_run f;

    fake_src_begin(state, &f, MEM);
    send_hello(f.s, 2 * MEM, true);
    fake_src_end(state, &f, -EINVAL);
}

/* A memory size nobody configured at the destination must fit what the
 * host has free: no peer makes us allocate a petabyte. */
static void test_src_memory_beyond_host(void **state)
{
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, 1ull << 50, true);
    fake_src_end(state, &f, -EFBIG);
}

static void test_src_pages_outside(void **state)
{
    static uint8_t page[2 * LM_PAGE_SIZE];
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    /* the last page is fine, two pages from there are not */
    assert_int_equal(lm_send_ref(f.s, LM_REC_PAGES, MEM - LM_PAGE_SIZE, page,
                                 LM_PAGE_SIZE), 0);
    assert_int_equal(lm_send_ref(f.s, LM_REC_PAGES, MEM - LM_PAGE_SIZE, page,
                                 2 * LM_PAGE_SIZE), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EFAULT);
}

static void test_src_pages_far_outside(void **state)
{
    static uint8_t page[LM_PAGE_SIZE];
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    assert_int_equal(lm_send_ref(f.s, LM_REC_PAGES, 1ull << 62, page,
                                 LM_PAGE_SIZE), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EFAULT);
}

/* Device data the device cannot take: its driver refuses the header. */
static void test_src_device_garbage(void **state)
{
    uint8_t junk[512];
    struct fake_src_run f;

    memset(junk, 0x5a, sizeof(junk));
    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    assert_int_equal(lm_send(f.s, LM_REC_DEVDATA, 0, junk, sizeof(junk)), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EINVAL);
}

/* Without PRE_COPY there is no device data before the stop. */
static void test_src_devdata_without_precopy(void **state)
{
    uint8_t junk[16] = { 0 };
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, false);
    expect_ready(f.s);
    assert_int_equal(lm_send(f.s, LM_REC_DEVDATA, 0, junk, sizeof(junk)), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EPROTO);
}

static void test_src_out_of_order(void **state)
{
    static const uint32_t seq[][3] = {
        { LM_REC_END, 0, 0 },                   /* END before SWITCHOVER */
        { LM_REC_SWITCHOVER, LM_REC_SWITCHOVER, 0 },    /* twice */
        { LM_REC_SWITCHOVER, LM_REC_ROUND, 0 }, /* a round after it */
        { LM_REC_HELLO, 0, 0 },                 /* a second HELLO */
        { LM_REC_SUMS, 0, 0 },                  /* hashes mid-stream */
        { LM_REC_LOADED, 0, 0 },                /* the destination's */
    };

    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        uint8_t payload[LM_END_SIZE + LM_HELLO_SIZE] = { 0 };
        struct fake_src_run f;

        fake_src_begin(state, &f, 0);
        send_hello(f.s, MEM, true);
        expect_ready(f.s);
        for (int k = 0; k < 3 && seq[i][k]; k++) {
            uint32_t t = seq[i][k];
            size_t len = t == LM_REC_END ? LM_END_SIZE :
                         t == LM_REC_HELLO ? LM_HELLO_SIZE :
                         t == LM_REC_SUMS ? 8 : 0;

            if (t == LM_REC_HELLO) {
                struct lm_hello h = { .mem_size = MEM };

                lm_hello_encode(&h, payload);
            }
            assert_int_equal(lm_send(f.s, t, 0, payload, len), 0);
        }
        assert_int_equal(lm_flush(f.s), 0);
        fake_src_end(state, &f, -EPROTO);
    }
}

/* The final device data is not what END says was sent. */
static void test_src_final_damaged(void **state)
{
    struct lm_end e = { .final_len = 10, .final_hash = 1 };
    uint8_t buf[LM_END_SIZE];
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    lm_end_encode(&e, buf);
    assert_int_equal(lm_send(f.s, LM_REC_SWITCHOVER, 0, NULL, 0), 0);
    assert_int_equal(lm_send(f.s, LM_REC_END, 0, buf, sizeof(buf)), 0);
    assert_int_equal(lm_flush(f.s), 0);
    fake_src_end(state, &f, -EBADMSG);
}

static void test_src_cut_mid_payload(void **state)
{
    static uint8_t page[LM_PAGE_SIZE];
    struct fake_src_run f;

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    raw_header(f.s->fd, LM_REC_PAGES, 0, 4 * LM_PAGE_SIZE);
    assert_int_equal(write(f.s->fd, page, sizeof(page)), sizeof(page));
    assert_int_equal(shutdown(f.s->fd, SHUT_WR), 0);
    fake_src_end(state, &f, -ECONNRESET);
}

static void test_src_silent(void **state)
{
    struct fake_src_run f;
    uint64_t t0 = lm_now_ms();

    fake_src_begin(state, &f, 0);
    send_hello(f.s, MEM, true);
    expect_ready(f.s);
    fake_src_end(state, &f, -ETIMEDOUT);
    assert_true(lm_now_ms() - t0 < 10000);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_dst_closes_after_hello),
        T(test_dst_bad_ready),
        T(test_dst_result_for_ready),
        T(test_dst_error_reply),
        T(test_dst_vanishes_in_precopy),
        T(test_dst_stalls),
        T(test_dst_malformed_result),
        T(test_dst_device_mismatch),
        T(test_dst_not_running),
        T(test_dst_error_mid_precopy),
        T(test_dst_closes_after_loaded),
        T(test_src_garbage),
        T(test_src_hello_bad_version),
        T(test_src_wrong_memory_size),
        T(test_src_memory_beyond_host),
        T(test_src_pages_outside),
        T(test_src_pages_far_outside),
        T(test_src_device_garbage),
        T(test_src_devdata_without_precopy),
        T(test_src_out_of_order),
        T(test_src_final_damaged),
        T(test_src_cut_mid_payload),
        T(test_src_silent),
    };
#undef T

    lm_args(argc, argv);
    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
