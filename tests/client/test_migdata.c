/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_migdata.c - the migration data streams without copies.
 *
 * MIG_DATA_READ replies are read straight into the caller's buffer (the
 * receiver's sink) and MIG_DATA_WRITE chunks are sent from it (referenced
 * by the output queue): here against a scripted server that answers in
 * every way a real one should not - a size that does not match what came,
 * more data than asked, fds on a data reply, a reply half sent when the
 * client gives up, a reply before it read the request, no reading at all -
 * and the caller's buffer is never written after its call returned nor
 * read after it was handed back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/migration.h>

#include "fake_session.h"

#define MIB         (1u << 20)
#define IOVA        0x100000ull

static uint8_t pat(uint32_t seed, size_t i)
{
    return (uint8_t)(i * 131u + seed * 7u + (i >> 9));
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = pat(seed, i);
}

static bool is_pat(const uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != pat(seed, i))
            return false;
    }
    return true;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v)
            return false;
    }
    return true;
}

/* A MIG_DATA_READ reply: fixed part {argsz, size} then `len` data bytes
 * of pattern `seed`; `claim` is the size it announces. */
static int reply_data(struct fake *f, const struct uvfio_msg *req,
                      uint32_t claim, size_t len, uint32_t seed,
                      const int *fds, size_t nfds)
{
    struct uvfio_wire_mig_data rep = { (uint32_t)(8 + claim), claim };
    struct uvfio_wire_hdr h = { .msg_id = req->hdr.msg_id,
                                .cmd = req->hdr.cmd,
                                .flags = UVFIO_HDR_TYPE_REPLY };
    uint8_t *data = malloc(len ? len : 1);
    struct iovec iov[2] = { { &rep, 8 }, { data, len } };
    int r;

    if (!data)
        return -ENOMEM;
    fill(data, len, seed);
    r = uvfio_msg_send(f->sock, &h, iov, 2, fds, nfds);
    free(data);
    return r;
}

/* The size a MIG_DATA_READ asks for (0 when malformed). */
static uint32_t asked(const struct uvfio_msg *m)
{
    struct uvfio_wire_mig_data req;

    if (m->len != sizeof(req))
        return 0;
    memcpy(&req, m->payload, sizeof(req));
    return req.size;
}

static void wait_go(struct fake *f)
{
    int *go = f->arg;
    uint64_t v;
    struct pollfd p = { .fd = *go, .events = POLLIN };

    if (poll(&p, 1, 5000) != 1 || read(*go, &v, sizeof(v)) != sizeof(v))
        fake_fail(f, __LINE__, "the test never said go");
}

static void go(int fd)
{
    assert_int_equal(write(fd, &(uint64_t){ 1 }, 8), 8);
}

/* ---- reads ---------------------------------------------------------------- */

/*
 * 3.5 MiB asked with max_data_xfer_size 1 MiB: four requests, the last
 * one answered short (the end for now); before answering the second one
 * the server writes guest memory by DMA_WRITE on the same socket, which
 * the client serves while its reply is awaited - a command, not the reply
 * the sink waits for.  Then a small read and the end of the stream.
 */
static void script_reads(struct fake *f)
{
    uint8_t dma[16 + 4096];
    struct uvfio_wire_hdr h = { .msg_id = 900, .cmd = UVFIO_CMD_DMA_WRITE,
                                .flags = UVFIO_HDR_TYPE_COMMAND };
    uint64_t addr = IOVA, count = 4096;
    struct uvfio_msg m, r;
    int i;

    if (!fake_expect(f, UVFIO_CMD_DMA_MAP, &m))
        return;
    fake_reply(f, &m, NULL, 0, NULL, 0);
    uvfio_msg_free(&m);
    for (i = 0; i < 4; i++) {
        if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
            return;
        FAKE_CHECK(f, asked(&m) == (i < 3 ? MIB : MIB / 2));
        if (i == 1) {
            memcpy(dma, &addr, 8);
            memcpy(dma + 8, &count, 8);
            fill(dma + 16, 4096, 77);
            FAKE_CHECK(f, fake_send(f, &h, dma, sizeof(dma), NULL, 0) == 0);
            FAKE_CHECK(f, fake_recv(f, &r));
            FAKE_CHECK(f, r.hdr.msg_id == 900 &&
                          r.hdr.flags == UVFIO_HDR_TYPE_REPLY);
            uvfio_msg_free(&r);
        }
        /* the last one: less than asked, nothing more for now */
        reply_data(f, &m, i < 3 ? MIB : 1000, i < 3 ? MIB : 1000,
                   (uint32_t)i, NULL, 0);
        uvfio_msg_free(&m);
    }
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 100, 100, 9, NULL, 0);
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 0, 0, 0, NULL, 0);
    uvfio_msg_free(&m);
}

static void test_reads_into_place(void **state)
{
    const size_t len = 3 * MIB + MIB / 2;
    uint8_t *buf = malloc(len + 16), *host = calloc(1, 4096);
    struct uvfio_client *c;
    struct fake f;
    int i;

    (void)state;
    assert_non_null(buf);
    assert_non_null(host);
    fake_init(&f, script_reads);
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, 4096, 3, host), 0);
    memset(buf, 0xcc, len + 16);
    assert_int_equal(uvfio_client_mig_read(c, buf, len), 3 * MIB + 1000);
    for (i = 0; i < 3; i++)
        assert_true(is_pat(buf + (size_t)i * MIB, MIB, (uint32_t)i));
    assert_true(is_pat(buf + 3 * MIB, 1000, 3));
    assert_true(all_bytes(buf + 3 * MIB + 1000, len + 16 - 3 * MIB - 1000,
                          0xcc));
    assert_true(is_pat(host, 4096, 77));
    assert_int_equal(uvfio_client_mig_read(c, buf, 200), 100);
    assert_true(is_pat(buf, 100, 9));
    assert_int_equal(uvfio_client_mig_read(c, buf, 200), 0);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    free(host);
    free(buf);
}

/*
 * Replies a real server would never send, each -EPROTO, the connection
 * still serving after each: a size that does not match the data that came
 * (more and less), more data than asked, a data reply carrying an fd
 * (closed, not leaked).
 */
static void script_lies(struct fake *f)
{
    struct uvfio_msg m;
    int p[2];

    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 100, 200, 1, NULL, 0);        /* claims less */
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 300, 200, 1, NULL, 0);        /* claims more */
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 5000, 5000, 1, NULL, 0);      /* more than asked */
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    FAKE_CHECK(f, pipe2(p, O_CLOEXEC) == 0);
    reply_data(f, &m, 200000, 200000, 1, &p[0], 1); /* with an fd */
    close(p[0]);
    close(p[1]);
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 4000, 4000, 2, NULL, 0);      /* and a good one */
    uvfio_msg_free(&m);
}

static void test_lying_replies(void **state)
{
    uint8_t *buf = calloc(1, 300000);
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    assert_non_null(buf);
    fake_init(&f, script_lies);
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_mig_read(c, buf, 4096), -EPROTO);
    assert_int_equal(uvfio_client_mig_read(c, buf, 4096), -EPROTO);
    assert_int_equal(uvfio_client_mig_read(c, buf, 4096), -EPROTO);
    assert_int_equal(uvfio_client_mig_read(c, buf, 300000), -EPROTO);
    assert_int_equal(uvfio_client_mig_read(c, buf, 4000), 4000);
    assert_true(is_pat(buf, 4000, 2));
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    free(buf);
}

/*
 * The reply is half sent when the client's timeout ends the call: the
 * caller's buffer is then free to go, and not one more byte lands in it
 * when the rest arrives; the late rest is dropped and the next read gets
 * its own reply.
 */
static void script_half_reply(struct fake *f)
{
    struct uvfio_wire_mig_data rep = { 8 + MIB, MIB };
    struct uvfio_msg m, m2;
    struct uvfio_wire_hdr h;
    uint8_t *data = malloc(MIB);

    FAKE_CHECK(f, data != NULL);
    fill(data, MIB, 5);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m)) {
        free(data);
        return;
    }
    h = (struct uvfio_wire_hdr){ .msg_id = m.hdr.msg_id, .cmd = m.hdr.cmd,
                                 .flags = UVFIO_HDR_TYPE_REPLY,
                                 .size = 16 + 8 + MIB };
    uvfio_msg_free(&m);
    /* header, fixed part, 100000 bytes: then nothing until told */
    FAKE_CHECK(f, send(f->sock, &h, 16, MSG_NOSIGNAL) == 16);
    FAKE_CHECK(f, send(f->sock, &rep, 8, MSG_NOSIGNAL) == 8);
    FAKE_CHECK(f, send(f->sock, data, 100000, MSG_NOSIGNAL) == 100000);
    wait_go(f);
    /* the next request comes; then the rest of the old reply, and the
     * new one */
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m2)) {
        free(data);
        return;
    }
    FAKE_CHECK(f, send(f->sock, data + 100000, MIB - 100000, MSG_NOSIGNAL) ==
                  (ssize_t)(MIB - 100000));
    reply_data(f, &m2, 3000, 3000, 6, NULL, 0);
    uvfio_msg_free(&m2);
    free(data);
}

/* Short timeouts only for the requests meant to run into them (see
 * test_timeout.c). */
#define LONG_MS     10000

static void test_timeout_mid_reply(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = LONG_MS };
    uint8_t *old = malloc(MIB), *buf = calloc(1, 4096);
    int gofd = eventfd(0, EFD_CLOEXEC);
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    assert_non_null(old);
    assert_non_null(buf);
    fake_init(&f, script_half_reply);
    f.arg = &gofd;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    uvfio_client_set_timeout(c, 200);
    assert_int_equal(uvfio_client_mig_read(c, old, MIB), -ETIMEDOUT);
    uvfio_client_set_timeout(c, LONG_MS);
    memset(old, 0x3c, MIB);
    go(gofd);
    assert_int_equal(uvfio_client_mig_read(c, buf, 4096), 3000);
    assert_true(is_pat(buf, 3000, 6));
    assert_true(all_bytes(old, MIB, 0x3c));
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    close(gofd);
    free(old);
    free(buf);
}

/* ---- writes -------------------------------------------------------------- */

/* Read exactly len raw bytes from the client (bounded). */
static bool read_raw(struct fake *f, uint8_t *p, size_t len)
{
    struct pollfd pf = { .fd = f->sock, .events = POLLIN };
    size_t off = 0;
    ssize_t n;

    while (off < len) {
        if (poll(&pf, 1, 3000) != 1)
            return false;
        n = recv(f->sock, p + off, len - off, 0);
        if (n <= 0)
            return false;
        off += (size_t)n;
    }
    return true;
}

/*
 * A server that answers a 1 MiB MIG_DATA_WRITE after reading only its
 * first bytes: the call returns with the rest of the chunk still queued,
 * and the caller reuses its buffer at once - what the server then reads
 * is still the chunk as it was when the call was made.
 */
static void script_early_reply(struct fake *f)
{
    uint8_t head[16 + 8];
    struct uvfio_wire_hdr h;
    struct uvfio_msg req = { 0 };
    uint8_t *rest = malloc(MIB);

    FAKE_CHECK(f, rest != NULL);
    if (!read_raw(f, head, sizeof(head))) {
        fake_fail(f, __LINE__, "no MIG_DATA_WRITE header");
        free(rest);
        return;
    }
    memcpy(&h, head, 16);
    FAKE_CHECK(f, h.cmd == UVFIO_CMD_MIG_DATA_WRITE && h.size == 24 + MIB);
    req.hdr = h;
    fake_reply(f, &req, NULL, 0, NULL, 0);
    wait_go(f);
    if (!read_raw(f, rest, MIB))
        fake_fail(f, __LINE__, "the rest of the chunk never came");
    else if (!is_pat(rest, MIB, 8))
        fake_fail(f, __LINE__, "the rest of the chunk changed");
    free(rest);
}

static void test_write_reply_before_read(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = 300 };
    uint8_t *buf = malloc(MIB);
    int gofd = eventfd(0, EFD_CLOEXEC);
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    assert_non_null(buf);
    fake_init(&f, script_early_reply);
    f.arg = &gofd;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    fill(buf, MIB, 8);
    assert_int_equal(uvfio_client_mig_write(c, buf, MIB), 0);
    memset(buf, 0xee, MIB);
    free(buf);
    go(gofd);
    assert_int_equal(uvfio_client_flush(c), 0);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    close(gofd);
}

/*
 * A server that does not read: the write times out with most of the chunk
 * unsent, the caller frees its buffer, and when the server reads at last
 * it gets the whole chunk, intact; its late reply is dropped and the
 * connection still serves.
 */
static void script_deaf_then_read(struct fake *f)
{
    struct uvfio_msg m;

    wait_go(f);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_WRITE, &m))
        return;
    FAKE_CHECK(f, m.len == 8 + MIB && is_pat(m.payload + 8, MIB, 4));
    fake_reply(f, &m, NULL, 0, NULL, 0);
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_MIG_DATA_READ, &m))
        return;
    reply_data(f, &m, 10, 10, 1, NULL, 0);
    uvfio_msg_free(&m);
}

static void test_write_timeout_then_read(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = LONG_MS };
    uint8_t *buf = malloc(MIB), small[16];
    int gofd = eventfd(0, EFD_CLOEXEC);
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    assert_non_null(buf);
    fake_init(&f, script_deaf_then_read);
    f.arg = &gofd;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    fill(buf, MIB, 4);
    uvfio_client_set_timeout(c, 200);
    assert_int_equal(uvfio_client_mig_write(c, buf, MIB), -ETIMEDOUT);
    uvfio_client_set_timeout(c, LONG_MS);
    memset(buf, 0x11, MIB);
    free(buf);
    go(gofd);
    assert_int_equal(uvfio_client_mig_read(c, small, sizeof(small)), 10);
    assert_true(is_pat(small, 10, 1));
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    close(gofd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_reads_into_place),
        FAKE_TEST(test_lying_replies),
        FAKE_TEST(test_timeout_mid_reply),
        FAKE_TEST(test_write_reply_before_read),
        FAKE_TEST(test_write_timeout_then_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
