// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_stream.c - the live-migration stream: every record
 * type round trip, pages by reference across many batches, and what a
 * hostile or broken peer can do: bad headers refused before a payload
 * byte is read, truncation, silence, a peer gone, random bytes.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pagebits.h"
#include "records.h"
#include "stream.h"

#define TIMEOUT_MS 2000

struct pair {
    struct lm_stream *a, *b;
};

static void pair_open(struct pair *p)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(lm_stream_open(sv[0], TIMEOUT_MS, &p->a), 0);
    assert_int_equal(lm_stream_open(sv[1], TIMEOUT_MS, &p->b), 0);
}

static void pair_close(struct pair *p)
{
    lm_stream_close(p->a);
    lm_stream_close(p->b);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- round trips -------------------------------------------------------- */

static void test_records_round_trip(void **state)
{
    struct lm_hello h = { .mem_size = 64ull << 20, .mig_flags = 0xd,
                          .precopy = true }, h2;
    struct lm_end e = { 3, 4000, 12345, 4200, 0xabcdef }, e2;
    struct lm_result r = { .status = 0, .flags = 7 }, r2;
    uint8_t buf[LM_RESULT_SIZE], page[4096];
    char text[LM_ERROR_TEXT_MAX + 1];
    struct lm_rec rec;
    struct pair p;
    uint64_t flags;
    size_t len;
    int err;

    (void)state;
    r.mem.npages = 100;
    r.mem.differ = 2;
    r.mem.first = 4;
    r.mem.listed[0] = 4;
    r.mem.listed[1] = 9;
    r.mem.nlisted = 2;
    r.dev.src_len = 10;
    r.dev.dst_len = 11;
    r.dev.first = 10;
    r.load_ns = 5;
    r.verify_ns = 6;
    r.run_ns = 7;
    r.digest = 0x1234;
    memset(page, 0x5a, sizeof(page));
    pair_open(&p);

    lm_hello_encode(&h, buf);
    assert_int_equal(lm_send(p.a, LM_REC_HELLO, 0, buf, LM_HELLO_SIZE), 0);
    lm_ready_encode(0x7, buf);
    assert_int_equal(lm_send(p.a, LM_REC_READY, 0, buf, LM_READY_SIZE), 0);
    assert_int_equal(lm_send_ref(p.a, LM_REC_PAGES, 8192, page, 4096), 0);
    assert_int_equal(lm_send(p.a, LM_REC_ROUND, 2, NULL, 0), 0);
    lm_end_encode(&e, buf);
    assert_int_equal(lm_send(p.a, LM_REC_END, 0, buf, LM_END_SIZE), 0);
    lm_result_encode(&r, buf);
    assert_int_equal(lm_send(p.a, LM_REC_RESULT, 0, buf, LM_RESULT_SIZE), 0);
    assert_int_equal(lm_flush(p.a), 0);

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(rec.type, LM_REC_HELLO);
    assert_int_equal(lm_recv_payload(p.b, buf, rec.len), 0);
    assert_int_equal(lm_hello_decode(buf, rec.len, &h2), 0);
    assert_int_equal(h2.mem_size, h.mem_size);
    assert_int_equal(h2.mig_flags, h.mig_flags);
    assert_true(h2.precopy);

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(rec.type, LM_REC_READY);
    assert_int_equal(lm_recv_payload(p.b, buf, rec.len), 0);
    assert_int_equal(lm_ready_decode(buf, rec.len, &flags), 0);
    assert_int_equal(flags, 7);

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(rec.type, LM_REC_PAGES);
    assert_int_equal(rec.addr, 8192);
    memset(page, 0, sizeof(page));
    /* in two pieces: any split of a payload is fine */
    assert_int_equal(lm_recv_payload(p.b, page, 1000), 0);
    assert_int_equal(lm_recv_payload(p.b, page + 1000, 3096), 0);
    assert_int_equal(page[0], 0x5a);
    assert_int_equal(page[4095], 0x5a);

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(rec.type, LM_REC_ROUND);
    assert_int_equal(rec.addr, 2);

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(lm_recv_payload(p.b, buf, rec.len), 0);
    assert_int_equal(lm_end_decode(buf, rec.len, &e2), 0);
    assert_memory_equal(&e, &e2, sizeof(e));

    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(lm_recv_payload(p.b, buf, rec.len), 0);
    assert_int_equal(lm_result_decode(buf, rec.len, &r2), 0);
    assert_int_equal(r2.flags, 7);
    assert_true(r2.dev.same);
    assert_int_equal(r2.mem.differ, 2);
    assert_int_equal(r2.mem.listed[1], 9);
    assert_int_equal(r2.mem.nlisted, 2);
    assert_int_equal(r2.dev.first, 10);
    assert_int_equal(r2.run_ns, 7);
    assert_int_equal(r2.digest, 0x1234);

    /* ERROR: the errno and a text made safe for a terminal */
    lm_send_error(p.a, -ENOSPC, "no room\n\033[2J for %d", 42);
    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(rec.type, LM_REC_ERROR);
    len = (size_t)rec.len;
    assert_int_equal(lm_recv_payload(p.b, buf, len), 0);
    assert_int_equal(lm_error_decode(buf, len, &err, text, sizeof(text)), 0);
    assert_int_equal(err, -ENOSPC);
    assert_string_equal(text, "no room??[2J for 42");
    assert_int_equal(p.a->bytes_out, p.b->bytes_in);
    pair_close(&p);
}

/* ---- many pages by reference -------------------------------------------- */

struct sender {
    struct lm_stream *s;
    const uint8_t *mem;
    size_t npages;
    int err;
};

/* Every third page, one page per record, then runs of 256: several full
 * batches of iovecs. */
static void *send_pages(void *arg)
{
    struct sender *sd = arg;
    int r = 0;

    for (size_t i = 0; !r && i < sd->npages; i += 3)
        r = lm_send_ref(sd->s, LM_REC_PAGES, i * 4096, sd->mem + i * 4096,
                        4096);
    for (size_t i = 0; !r && i + 256 <= sd->npages; i += 256)
        r = lm_send_ref(sd->s, LM_REC_PAGES, i * 4096, sd->mem + i * 4096,
                        256 * 4096);
    if (!r)
        r = lm_send(sd->s, LM_REC_END, 0, (uint8_t[LM_END_SIZE]){ 0 },
                    LM_END_SIZE);
    if (!r)
        r = lm_flush(sd->s);
    sd->err = r;
    return NULL;
}

static void test_pages_by_reference(void **state)
{
    enum { NPAGES = 4096 };
    uint8_t *src = malloc(NPAGES * 4096), *dst = calloc(NPAGES, 4096);
    struct sender sd;
    struct lm_rec rec;
    struct pair p;
    pthread_t th;
    size_t records = 0;

    (void)state;
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < NPAGES * 4096 / 8; i++)
        ((uint64_t *)src)[i] = i * 0x9e3779b97f4a7c15ull;
    pair_open(&p);
    sd = (struct sender){ .s = p.a, .mem = src, .npages = NPAGES };
    assert_int_equal(pthread_create(&th, NULL, send_pages, &sd), 0);
    for (;;) {
        assert_int_equal(lm_recv(p.b, &rec), 0);
        if (rec.type == LM_REC_END)
            break;
        assert_int_equal(rec.type, LM_REC_PAGES);
        assert_true(rec.addr + rec.len <= NPAGES * 4096ull);
        assert_int_equal(lm_recv_payload(p.b, dst + rec.addr, rec.len), 0);
        records++;
    }
    assert_int_equal(lm_recv_skip(p.b), 0);
    pthread_join(th, NULL);
    assert_int_equal(sd.err, 0);
    assert_int_equal(records, (NPAGES + 2) / 3 + NPAGES / 256);
    assert_memory_equal(src, dst, NPAGES * 4096);
    pair_close(&p);
    free(src);
    free(dst);
}

/* ---- hostile headers ---------------------------------------------------- */

static void raw_header(uint8_t *h, uint32_t type, uint32_t flags,
                       uint64_t addr, uint64_t len)
{
    type = htole32(type);
    flags = htole32(flags);
    addr = htole64(addr);
    len = htole64(len);
    memcpy(h, &type, 4);
    memcpy(h + 4, &flags, 4);
    memcpy(h + 8, &addr, 8);
    memcpy(h + 16, &len, 8);
}

/* Header only: each must be refused on the header alone, with no payload
 * read (none is sent, and the read would time out). */
static void test_bad_headers(void **state)
{
    static const struct {
        uint32_t type, flags;
        uint64_t addr, len;
    } bad[] = {
        { 0, 0, 0, 0 },                                 /* no type 0 */
        { LM_REC_TYPE_COUNT, 0, 0, 0 },                 /* unknown */
        { 0xffffffffu, 0, 0, 8 },
        { LM_REC_ROUND, 1, 0, 0 },                      /* flags */
        { LM_REC_HELLO, 0, 0, LM_HELLO_SIZE - 1 },      /* fixed sizes */
        { LM_REC_HELLO, 0, 0, LM_HELLO_SIZE + 1 },
        { LM_REC_HELLO, 0, 8, LM_HELLO_SIZE },          /* addr unused */
        { LM_REC_READY, 0, 0, 0 },
        { LM_REC_END, 0, 0, 1ull << 40 },
        { LM_REC_RESULT, 0, 0, LM_RESULT_SIZE * 2 },
        { LM_REC_LOADED, 0, 0, 1 },
        { LM_REC_SWITCHOVER, 0, 0, 4096 },
        { LM_REC_ROUND, 0, 1, 4 },
        { LM_REC_PAGES, 0, 0, 0 },                      /* pages */
        { LM_REC_PAGES, 0, 0, 4095 },
        { LM_REC_PAGES, 0, 0, 4097 },
        { LM_REC_PAGES, 0, 100, 4096 },
        { LM_REC_PAGES, 0, 0, LM_MAX_PAYLOAD + 4096 },
        { LM_REC_PAGES, 0, UINT64_MAX & ~4095ull, 8192 },
        { LM_REC_PAGES, 0, 0, UINT64_MAX & ~4095ull },
        { LM_REC_DEVDATA, 0, 0, 0 },                    /* device data */
        { LM_REC_DEVDATA, 0, 0, LM_MAX_PAYLOAD + 1 },
        { LM_REC_DEVDATA, 0, 4, 16 },
        { LM_REC_DEVDATA, 0, 0, UINT64_MAX },
        { LM_REC_SUMS, 0, 0, 7 },                       /* sums */
        { LM_REC_SUMS, 0, 0, 0 },
        { LM_REC_SUMS, 0, UINT64_MAX, 16 },
        { LM_REC_SUMS, 0, 0, LM_MAX_PAYLOAD + 8 },
        { LM_REC_ERROR, 0, 0, 3 },                      /* error */
        { LM_REC_ERROR, 0, 0, LM_ERROR_MIN + LM_ERROR_TEXT_MAX + 1 },
        { LM_REC_ERROR, 0, 1, 8 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t h[LM_REC_HDR_SIZE];
        struct lm_rec rec;
        struct pair p;

        pair_open(&p);
        raw_header(h, bad[i].type, bad[i].flags, bad[i].addr, bad[i].len);
        assert_int_equal(write(p.a->fd, h, sizeof(h)), sizeof(h));
        if (lm_recv(p.b, &rec) != -EPROTO)
            fail_msg("bad header %zu (%s len %llu) accepted", i,
                     lm_rec_name(bad[i].type),
                     (unsigned long long)bad[i].len);
        pair_close(&p);
    }
}

/* Our own sender refuses what the receiver would refuse. */
static void test_sender_refuses_bad_records(void **state)
{
    uint8_t big[LM_SEND_INLINE];
    struct pair p;

    (void)state;
    memset(big, 0, sizeof(big));
    pair_open(&p);
    assert_int_equal(lm_send_ref(p.a, LM_REC_PAGES, 100, big, 4096), -EINVAL);
    assert_int_equal(lm_send_ref(p.a, LM_REC_PAGES, 0, big, 100), -EINVAL);
    assert_int_equal(lm_send(p.a, LM_REC_HELLO, 0, big, 3), -EINVAL);
    assert_int_equal(lm_send(p.a, LM_REC_DEVDATA, 0, big, sizeof(big)),
                     -EINVAL);
    assert_int_equal(lm_send(p.a, 99, 0, NULL, 0), -EINVAL);
    assert_int_equal(lm_flush(p.a), 0);
    assert_int_equal(p.a->bytes_out, 0);
    pair_close(&p);
}

static void test_payload_decoders(void **state)
{
    struct lm_hello h = { .mem_size = 1 << 20 };
    uint8_t buf[LM_RESULT_SIZE];
    struct lm_result r;
    char text[8];
    uint64_t v;
    int err;

    (void)state;
    lm_hello_encode(&h, buf);
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h), 0);
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE - 1, &h), -EPROTO);
    buf[0] ^= 1;                                        /* magic */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h), -EPROTO);
    buf[0] ^= 1;
    buf[8] = 2;                                         /* version */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h),
                     -EPROTONOSUPPORT);
    buf[8] = 1;
    buf[13] = 0x20;                                     /* 8 KiB pages */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h),
                     -EPROTONOSUPPORT);
    buf[13] = 0x10;
    buf[16] = 1;                                        /* odd size */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h), -EINVAL);
    buf[16] = 0;
    buf[32] = 2;                                        /* precopy 2 */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h), -EINVAL);
    buf[32] = 0;
    buf[44] = 1;                                        /* reserved */
    assert_int_equal(lm_hello_decode(buf, LM_HELLO_SIZE, &h), -EINVAL);

    memset(&r, 0, sizeof(r));
    lm_result_encode(&r, buf);
    assert_int_equal(lm_result_decode(buf, LM_RESULT_SIZE, &r), 0);
    buf[4] = 8;                                         /* flags */
    assert_int_equal(lm_result_decode(buf, LM_RESULT_SIZE, &r), -EPROTO);
    buf[4] = 0;
    buf[3] = 1;                                         /* errno 2^24 */
    assert_int_equal(lm_result_decode(buf, LM_RESULT_SIZE, &r), -EPROTO);
    buf[3] = 0;
    buf[96] = 1;                    /* nlisted 1 with 0 differing pages */
    assert_int_equal(lm_result_decode(buf, LM_RESULT_SIZE, &r), -EPROTO);
    buf[96] = 0;
    assert_int_equal(lm_ready_decode(buf, 7, &v), -EPROTO);

    memset(buf, 0, 8);
    assert_int_equal(lm_error_decode(buf, 8, &err, text, sizeof(text)),
                     -EPROTO);                          /* errno 0 */
    buf[0] = 5;
    memcpy(buf + 4, "abcdefghij", 10);
    assert_int_equal(lm_error_decode(buf, 14, &err, text, sizeof(text)), 0);
    assert_int_equal(err, -5);
    assert_string_equal(text, "abcdefg");               /* cut to fit */
}

/* ---- a broken or silent peer -------------------------------------------- */

static void test_truncated(void **state)
{
    uint8_t h[LM_REC_HDR_SIZE], buf[4096];
    struct lm_rec rec;
    struct pair p;

    (void)state;
    /* mid-header */
    pair_open(&p);
    assert_int_equal(write(p.a->fd, "\x03\0\0\0", 4), 4);
    lm_stream_close(p.a);
    assert_int_equal(lm_recv(p.b, &rec), -ECONNRESET);
    lm_stream_close(p.b);

    /* mid-payload */
    pair_open(&p);
    raw_header(h, LM_REC_PAGES, 0, 0, 4096);
    assert_int_equal(write(p.a->fd, h, sizeof(h)), sizeof(h));
    assert_int_equal(write(p.a->fd, buf, 100), 100);
    lm_stream_close(p.a);
    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(lm_recv_payload(p.b, buf, 4096), -ECONNRESET);
    /* reading past the payload, or a new header before it is done */
    lm_stream_close(p.b);

    pair_open(&p);
    assert_int_equal(write(p.a->fd, h, sizeof(h)), sizeof(h));
    assert_int_equal(write(p.a->fd, buf, 4096), 4096);
    assert_int_equal(lm_recv(p.b, &rec), 0);
    assert_int_equal(lm_recv_payload(p.b, buf, 4097), -EINVAL);
    assert_int_equal(lm_recv(p.b, &rec), -EINVAL);
    assert_int_equal(lm_recv_skip(p.b), 0);
    pair_close(&p);
}

static void test_silent_peer_times_out(void **state)
{
    struct lm_stream *s;
    struct lm_rec rec;
    uint64_t t0;
    int sv[2];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(lm_stream_open(sv[0], 150, &s), 0);
    t0 = now_ms();
    assert_int_equal(lm_recv(s, &rec), -ETIMEDOUT);
    assert_in_range(now_ms() - t0, 140, 1500);
    lm_stream_close(s);
    close(sv[1]);
}

/* A peer that stops reading: the sender gives up at its timeout, and a
 * peer that closed is -ECONNRESET, never SIGPIPE. */
static void test_stuck_and_gone_reader(void **state)
{
    static uint8_t chunk[1 << 20];
    struct lm_stream *s;
    uint64_t t0;
    int sv[2], r = 0;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(lm_stream_open(sv[0], 150, &s), 0);
    t0 = now_ms();
    for (int i = 0; i < 64 && !r; i++) {
        r = lm_send_ref(s, LM_REC_DEVDATA, 0, chunk, sizeof(chunk));
        if (!r)
            r = lm_flush(s);
    }
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(now_ms() - t0 < 3000);
    close(sv[1]);
    r = lm_send_ref(s, LM_REC_DEVDATA, 0, chunk, 4096);
    if (!r)
        r = lm_flush(s);
    assert_int_equal(r, -ECONNRESET);
    lm_stream_close(s);

    assert_int_equal(lm_stream_open(-1, 100, &s), -EINVAL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(lm_stream_open(sv[0], 0, &s), -EINVAL);
    close(sv[1]);
}

/* Random bytes: every outcome is a clean error or a record that passed
 * the checks, never a crash or an overlong read. */
static void test_random_bytes(void **state)
{
    uint64_t seed = 0x1234567;
    uint8_t junk[512], sink[4096];

    (void)state;
    for (int iter = 0; iter < 2000; iter++) {
        struct lm_rec rec;
        struct pair p;
        size_t n;
        int r;

        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            junk[i] = (uint8_t)(seed >> 56);
        }
        /* bias some headers towards plausible ones */
        if (iter % 2) {
            junk[0] = (uint8_t)(iter % (LM_REC_TYPE_COUNT + 1));
            memset(junk + 1, 0, 7);
            memset(junk + 19, 0, 5);
        }
        n = 1 + (size_t)(seed % sizeof(junk));
        pair_open(&p);
        assert_int_equal(write(p.a->fd, junk, n), (ssize_t)n);
        lm_stream_close(p.a);
        while (!(r = lm_recv(p.b, &rec))) {
            assert_int_equal(lm_rec_check(&rec), 0);
            while (rec.len) {
                size_t k = rec.len < sizeof(sink) ? rec.len : sizeof(sink);

                r = lm_recv_payload(p.b, sink, k);
                if (r)
                    break;
                rec.len -= k;
            }
            if (r)
                break;
        }
        assert_true(r == -EPROTO || r == -ECONNRESET);
        lm_stream_close(p.b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_round_trip),
        cmocka_unit_test(test_pages_by_reference),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_sender_refuses_bad_records),
        cmocka_unit_test(test_payload_decoders),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_silent_peer_times_out),
        cmocka_unit_test(test_stuck_and_gone_reader),
        cmocka_unit_test(test_random_bytes),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
