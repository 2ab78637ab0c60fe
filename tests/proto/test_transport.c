/* SPDX-License-Identifier: MIT */
/*
 * test_transport.c - framing, partial I/O, fd passing and the output queue
 * over real socketpairs.
 *
 * Every wait is bounded (poll with a timeout, SO_RCVTIMEO) so a broken
 * receiver fails a test instead of hanging it, and fd leaks are checked by
 * counting /proc/self/fd around each scenario.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/transport.h"
#include "putil.h"

#define WAIT_MS     5000
#define BIG         (64u << 20)

/* ---- helpers ------------------------------------------------------------- */

/* Header + patterned payload into buf; returns the message size. */
static size_t build(uint8_t *buf, uint16_t id, uint16_t cmd, size_t len)
{
    struct uvfio_wire_hdr h = { id, cmd, (uint32_t)(16 + len), 0, 0 };

    memcpy(buf, &h, 16);
    fill(buf + 16, len, id);
    return 16 + len;
}

static void check(const struct uvfio_msg *m, uint16_t id, uint16_t cmd,
                  size_t len)
{
    size_t i;

    assert_int_equal(m->hdr.msg_id, id);
    assert_int_equal(m->hdr.cmd, cmd);
    assert_int_equal(m->hdr.size, 16 + len);
    assert_int_equal(m->len, len);
    assert_false(m->oversize);
    if (!len) {
        assert_null(m->payload);
        return;
    }
    assert_non_null(m->payload);
    for (i = 0; i < len; i++) {
        if (m->payload[i] != pat(id, i))
            fail_msg("msg %u byte %zu: %u != %u", id, i, m->payload[i],
                     pat(id, i));
    }
}

static void write_all(int fd, const void *p, size_t len)
{
    const uint8_t *b = p;
    ssize_t n;

    while (len) {
        n = write(fd, b, len);
        assert_true(n > 0);
        b += n;
        len -= (size_t)n;
    }
}

/* One sendmsg of raw bytes with fds (the whole buffer must fit). */
static void send_raw(int fd, const void *p, size_t len, const int *fds,
                     size_t nfds)
{
    union {
        struct cmsghdr h;
        uint8_t b[CMSG_SPACE(16 * sizeof(int))];
    } c;
    struct iovec iov = { (void *)p, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *h;

    memset(&c, 0, sizeof(c));
    if (nfds) {
        mh.msg_control = c.b;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
    }
    assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* Receive one message with a bounded wait; returns rx_read's result. */
static int recv_one(struct uvfio_rx *rx, int sock, struct uvfio_msg *m)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int r;

    while ((r = uvfio_rx_read(rx, sock, m)) == 0) {
        if (poll(&p, 1, WAIT_MS) != 1)
            fail_msg("no message within %d ms", WAIT_MS);
    }
    return r;
}

static int send_msg(int sock, uint16_t id, uint16_t cmd, const void *p,
                    size_t len, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr h = { id, cmd, 0, 0, 0 };
    struct iovec iov = { (void *)p, len };

    return uvfio_msg_send(sock, &h, &iov, len ? 1 : 0, fds, nfds);
}

static void same_file(int a, int b)
{
    struct stat sa, sb;

    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_int_equal(sa.st_dev, sb.st_dev);
    assert_int_equal(sa.st_ino, sb.st_ino);
}

static void make_pipes(int *fds, size_t n)
{
    size_t i;
    int p[2];

    for (i = 0; i < n; i++) {
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[1]);
        fds[i] = p[0];
    }
}

static void close_all(int *fds, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        close(fds[i]);
}

/* ---- framing ------------------------------------------------------------- */

static void test_one_byte_at_a_time(void **state)
{
    static const size_t lens[] = { 0, 4, 300, 66000 };
    uint8_t *buf = malloc(70000);
    size_t ends[4], total = 0, i, got = 0;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], r;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < 4; i++) {
        total += build(buf + total, (uint16_t)(i + 1), 9, lens[i]);
        ends[i] = total;
    }
    pair(sv, 0);
    nonblock(sv[1]);
    rx = uvfio_rx_new(1 << 20, 1 << 20, 0);
    assert_non_null(rx);
    for (i = 0; i < total; i++) {
        write_all(sv[0], buf + i, 1);
        while ((r = uvfio_rx_read(rx, sv[1], &m)) == 1) {
            /* delivered exactly when its last byte arrived */
            assert_int_equal(i + 1, ends[got]);
            check(&m, (uint16_t)(got + 1), 9, lens[got]);
            uvfio_msg_free(&m);
            got++;
        }
        assert_int_equal(r, 0);
        /* only between messages is nothing half-read */
        assert_int_equal(uvfio_rx_partial(rx),
                         !(got > 0 && ends[got - 1] == i + 1));
    }
    assert_int_equal(got, 4);
    assert_false(uvfio_rx_partial(rx));
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(buf);
}

/* Many small requests in one write come out of ONE recvmsg. */
static void test_pipelined_small(void **state)
{
    enum { N = 500 };
    uint8_t *buf = malloc(N * 80);
    size_t total = 0, i;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], inq = -1;

    (void)state;
    assert_non_null(buf);
    for (i = 0; i < N; i++)
        total += build(buf + total, (uint16_t)i, (uint16_t)(i % 18 + 1),
                       (i * 7) % 61);
    pair(sv, 0);
    nonblock(sv[1]);
    write_all(sv[0], buf, total);
    rx = uvfio_rx_new(4096, 4096, 1);
    assert_non_null(rx);
    for (i = 0; i < N; i++) {
        assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
        if (i == 0) {
            assert_int_equal(ioctl(sv[1], FIONREAD, &inq), 0);
            assert_int_equal(inq, 0);
        }
        check(&m, (uint16_t)i, (uint16_t)(i % 18 + 1), (i * 7) % 61);
        uvfio_msg_free(&m);
    }
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_false(uvfio_rx_partial(rx));
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(buf);
}

struct stream_job {
    int sock;
    unsigned n;
    size_t (*len_of)(unsigned i);
    const uint8_t *big;         /* payload for stream_big */
    int result;
};

static size_t mixed_len(unsigned i)
{
    /* small, buffer-sized and larger-than-buffer messages, interleaved */
    static const size_t sizes[] = { 0, 5, 1000, 65520, 65521, 70000, 131072,
                                    33, 200000, 4096 };
    return sizes[i % 10] + i % 3;
}

static void *stream_sender(void *arg)
{
    struct stream_job *j = arg;
    uint8_t *p = malloc(200100);
    unsigned i;

    j->result = p ? 0 : -ENOMEM;
    for (i = 0; i < j->n && !j->result; i++) {
        fill(p, j->len_of(i), (uint16_t)i);
        j->result = send_msg(j->sock, (uint16_t)i, 10, p, j->len_of(i), NULL, 0);
    }
    free(p);
    return NULL;
}

static void test_stream_mixed_sizes(void **state)
{
    struct stream_job j = { .n = 120, .len_of = mixed_len };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    pthread_t t;
    unsigned i;
    int sv[2];

    (void)state;
    pair(sv, 32 << 10);
    j.sock = sv[0];
    rx = uvfio_rx_new(256 << 10, 256 << 10, 1);
    assert_non_null(rx);
    assert_int_equal(pthread_create(&t, NULL, stream_sender, &j), 0);
    for (i = 0; i < j.n; i++) {
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        check(&m, (uint16_t)i, 10, mixed_len(i));
        uvfio_msg_free(&m);
    }
    pthread_join(t, NULL);
    assert_int_equal(j.result, 0);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
}

static void *big_sender(void *arg)
{
    struct stream_job *j = arg;

    j->result = send_msg(j->sock, 1, UVFIO_CMD_MIG_DATA_WRITE, j->big, BIG,
                         NULL, 0);
    if (!j->result)
        j->result = send_msg(j->sock, 2, UVFIO_CMD_REGION_READ, j->big, 16,
                             NULL, 0);
    return NULL;
}

/* 64 MiB through 200 KiB socket buffers: blocking receiver with a
 * persistent rx, non-blocking sender (msg_send polls). */
static void test_64mib_message(void **state)
{
    struct stream_job j = { 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    uint8_t *big = malloc(BIG);
    pthread_t t;
    int sv[2];

    (void)state;
    assert_non_null(big);
    fill(big, BIG, 99);
    pair(sv, 200 << 10);
    nonblock(sv[0]);
    j.sock = sv[0];
    j.big = big;
    rx = uvfio_rx_new(BIG + 16, BIG + 16, 1);
    assert_non_null(rx);
    assert_int_equal(pthread_create(&t, NULL, big_sender, &j), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.size, BIG + 16);
    assert_int_equal(m.len, BIG);
    assert_memory_equal(m.payload, big, BIG);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 2);
    assert_int_equal(m.len, 16);
    assert_memory_equal(m.payload, big, 16);
    uvfio_msg_free(&m);
    pthread_join(t, NULL);
    assert_int_equal(j.result, 0);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(big);
}

struct n_job {
    int sock;
    size_t len;
    const uint8_t *p;
    int result;
};

static void *n_sender(void *arg)
{
    struct n_job *j = arg;

    j->result = send_msg(j->sock, 7, UVFIO_CMD_REGION_WRITE, j->p, j->len,
                         NULL, 0);
    if (!j->result)
        j->result = send_msg(j->sock, 8, UVFIO_CMD_REGION_WRITE, j->p, 3,
                             NULL, 0);
    return NULL;
}

/* uvfio_msg_recv reads exactly one message: the next one is intact. */
static void test_msg_recv_exact(void **state)
{
    enum { LEN = 8u << 20 };
    uint8_t *p = malloc(LEN);
    struct n_job j = { .len = LEN };
    struct uvfio_msg m;
    pthread_t t;
    int sv[2];

    (void)state;
    assert_non_null(p);
    fill(p, LEN, 7);
    j.p = p;
    pair(sv, 200 << 10);
    j.sock = sv[0];
    assert_int_equal(pthread_create(&t, NULL, n_sender, &j), 0);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, LEN + 16, 1), 0);
    check(&m, 7, UVFIO_CMD_REGION_WRITE, LEN);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, LEN + 16, 1), 0);
    assert_int_equal(m.hdr.msg_id, 8);
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.payload, p, 3);
    uvfio_msg_free(&m);
    pthread_join(t, NULL);
    assert_int_equal(j.result, 0);

    /* a message over the limit is skipped whole: -E2BIG, stream in step */
    assert_int_equal(send_msg(sv[0], 9, 9, p, 5000, NULL, 0), 0);
    assert_int_equal(send_msg(sv[0], 10, 9, p, 10, NULL, 0), 0);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), -E2BIG);
    assert_int_equal(m.hdr.msg_id, 9);
    assert_null(m.payload);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), 0);
    assert_int_equal(m.hdr.msg_id, 10);
    uvfio_msg_free(&m);
    close(sv[0]);
    close(sv[1]);
    free(p);
}

static void test_msg_recv_timeout(void **state)
{
    struct timeval tv = { 0, 50000 };
    struct uvfio_msg m;
    int sv[2];

    (void)state;
    pair(sv, 0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                sizeof(tv)), 0);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), -EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

/* ---- errors on the stream --------------------------------------------------- */

/* Write `len` bytes, close the writer, read until the end: its errno. */
static int after_bytes(const void *p, size_t len, size_t max, size_t discard)
{
    struct uvfio_rx *rx = uvfio_rx_new(max, discard, 1);
    struct uvfio_msg m;
    int sv[2], r;

    assert_non_null(rx);
    pair(sv, 0);
    nonblock(sv[1]);
    write_all(sv[0], p, len);
    close(sv[0]);
    while ((r = recv_one(rx, sv[1], &m)) == 1)
        uvfio_msg_free(&m);
    /* the end is sticky */
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), r);
    uvfio_rx_free(rx);
    close(sv[1]);
    return r;
}

static void test_eof(void **state)
{
    uint8_t *buf = malloc(200000);
    size_t n;

    (void)state;
    assert_non_null(buf);
    /* nothing at all */
    assert_int_equal(after_bytes(buf, 0, 4096, 4096), -ECONNRESET);
    /* inside a header */
    build(buf, 1, 9, 16);
    assert_int_equal(after_bytes(buf, 10, 4096, 4096), -ECONNRESET);
    /* inside a payload */
    assert_int_equal(after_bytes(buf, 20, 4096, 4096), -ECONNRESET);
    /* inside a large payload being read in place */
    n = build(buf, 1, 9, 150000);
    assert_int_equal(after_bytes(buf, n - 1, 200000, 200000),
                     -ECONNRESET);
    /* inside a payload being discarded */
    assert_int_equal(after_bytes(buf, n - 1, 4096, 200000), -ECONNRESET);
    /* after complete messages: they come first (after_bytes drains them) */
    n = build(buf, 1, 9, 4);
    n += build(buf + n, 2, 9, 0);
    assert_int_equal(after_bytes(buf, n, 4096, 4096), -ECONNRESET);
    free(buf);
}

static void test_garbage_header(void **state)
{
    struct uvfio_wire_hdr bad[] = {
        { 1, 9, 16, 1u << 6, 0 },       /* unknown flag */
        { 1, 9, 8, 0, 0 },              /* size below the header */
        { 1, 9, 16, 2, 0 },             /* type 2 */
        { 1, 9, 1u << 30, 0, 0 },       /* beyond the discard limit */
    };
    uint8_t buf[64];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    size_t i, n;
    int sv[2];

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* a good message first: it is delivered before the error */
        n = build(buf, 5, 9, 4);
        memcpy(buf + n, &bad[i], 16);
        n += 16;
        pair(sv, 0);
        nonblock(sv[1]);
        write_all(sv[0], buf, n);
        rx = uvfio_rx_new(4096, 1 << 20, 1);
        assert_non_null(rx);
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        check(&m, 5, 9, 4);
        uvfio_msg_free(&m);
        assert_int_equal(recv_one(rx, sv[1], &m), -EPROTO);
        assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -EPROTO);
        uvfio_rx_free(rx);
        close(sv[0]);
        close(sv[1]);
    }
}

struct oversize_job {
    int sock;
    int fd;
    int result;
};

static void *oversize_sender(void *arg)
{
    struct oversize_job *j = arg;
    uint8_t *p = calloc(1, 100000);

    j->result = p ? send_msg(j->sock, 41, 10, p, 100000, &j->fd, 1) : -ENOMEM;
    if (!j->result)
        j->result = send_msg(j->sock, 42, 9, p, 16, NULL, 0);
    free(p);
    return NULL;
}

/* Over max_size but under the discard limit: skipped, header delivered,
 * its fd closed, and the next message is fine. */
static void test_oversize_discard(void **state)
{
    struct oversize_job j = { 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], base;
    pthread_t t;

    (void)state;
    base = count_fds();
    pair(sv, 16 << 10);
    make_pipes(&j.fd, 1);
    j.sock = sv[0];
    rx = uvfio_rx_new(4096, 1 << 20, 4);
    assert_non_null(rx);
    assert_int_equal(pthread_create(&t, NULL, oversize_sender, &j), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_true(m.oversize);
    assert_int_equal(m.hdr.msg_id, 41);
    assert_int_equal(m.hdr.cmd, 10);
    assert_int_equal(m.hdr.size, 100016);
    assert_int_equal(m.len, 0);
    assert_null(m.payload);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_false(m.oversize);
    assert_int_equal(m.hdr.msg_id, 42);
    assert_int_equal(m.len, 16);
    uvfio_msg_free(&m);
    pthread_join(t, NULL);
    assert_int_equal(j.result, 0);
    close(j.fd);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

static void test_set_limits(void **state)
{
    uint8_t p[200] = { 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], fd, base;

    (void)state;
    base = count_fds();
    pair(sv, 0);
    nonblock(sv[1]);
    make_pipes(&fd, 1);
    rx = uvfio_rx_new(64, 64, 0);
    assert_non_null(rx);
    assert_null(uvfio_rx_new(15, 64, 0));
    /* before VERSION: too big is fatal (discard limit == max) */
    assert_int_equal(send_msg(sv[0], 1, 9, p, 100, NULL, 0), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), -EPROTO);
    uvfio_rx_free(rx);
    /* after raising the limits the same message and an fd get through */
    rx = uvfio_rx_new(64, 64, 0);
    assert_non_null(rx);
    uvfio_rx_set_limits(rx, 1024, 1);
    assert_int_equal(send_msg(sv[0], 2, 9, p, 100, &fd, 1), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.len, 100);
    assert_int_equal(m.nfds, 1);
    same_file(m.fds[0], fd);
    uvfio_msg_free(&m);
    uvfio_rx_free(rx);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

/* ---- fds ------------------------------------------------------------------ */

static void test_fds_basic(void **state)
{
    int fds[3], sv[2], base, i;
    struct uvfio_rx *rx;
    struct uvfio_msg m;

    (void)state;
    base = count_fds();
    pair(sv, 0);
    make_pipes(fds, 3);
    rx = uvfio_rx_new(4096, 4096, 8);
    assert_non_null(rx);
    assert_int_equal(send_msg(sv[0], 3, UVFIO_CMD_DEVICE_SET_IRQS, "x", 1,
                              fds, 3), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.nfds, 3);
    assert_false(m.fds_truncated);
    for (i = 0; i < 3; i++) {
        same_file(m.fds[i], fds[i]);
        assert_true(fcntl(m.fds[i], F_GETFD) & FD_CLOEXEC);
    }
    /* a consumer keeping an fd marks its slot; free leaves it open */
    i = m.fds[1];
    m.fds[1] = -1;
    uvfio_msg_free(&m);
    assert_true(fcntl(i, F_GETFD) >= 0);
    close(i);

    /* the same through the one-shot receiver */
    assert_int_equal(send_msg(sv[0], 4, UVFIO_CMD_DMA_MAP, NULL, 0, fds + 2, 1),
                     0);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), 0);
    assert_int_equal(m.nfds, 1);
    same_file(m.fds[0], fds[2]);
    uvfio_msg_free(&m);

    close_all(fds, 3);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

struct expect {
    uint16_t id;
    size_t len;
    size_t nfds;
    const int *fds;
};

static void expect_msgs(int sock, struct uvfio_rx *rx, const struct expect *e,
                        size_t n)
{
    struct uvfio_msg m;
    size_t i, k;

    for (i = 0; i < n; i++) {
        assert_int_equal(recv_one(rx, sock, &m), 1);
        check(&m, e[i].id, 9, e[i].len);
        if (m.nfds != e[i].nfds)
            fail_msg("msg %u: %zu fds, want %zu", e[i].id, m.nfds, e[i].nfds);
        for (k = 0; k < m.nfds; k++)
            same_file(m.fds[k], e[i].fds[k]);
        uvfio_msg_free(&m);
    }
}

/*
 * Messages with and without fds queued back to back before the receiver
 * reads: the kernel glues A and B into one read with B's fds, so the fds
 * must go to the message holding the read's last byte, not its first.
 */
static void test_fds_pipelined(void **state)
{
    uint8_t p[64];
    int b[2], d[1], sv[2], base;
    struct uvfio_rx *rx;
    const struct expect want[] = {
        { 1, 8, 0, NULL }, { 2, 0, 2, b }, { 3, 20, 0, NULL },
        { 4, 5, 1, d }, { 5, 0, 0, NULL },
    };

    (void)state;
    base = count_fds();
    pair(sv, 0);
    nonblock(sv[1]);
    make_pipes(b, 2);
    make_pipes(d, 1);
    fill(p, 8, 1);
    assert_int_equal(send_msg(sv[0], 1, 9, p, 8, NULL, 0), 0);
    assert_int_equal(send_msg(sv[0], 2, 9, NULL, 0, b, 2), 0);
    fill(p, 20, 3);
    assert_int_equal(send_msg(sv[0], 3, 9, p, 20, NULL, 0), 0);
    fill(p, 5, 4);
    assert_int_equal(send_msg(sv[0], 4, 9, p, 5, d, 1), 0);
    assert_int_equal(send_msg(sv[0], 5, 9, NULL, 0, NULL, 0), 0);
    rx = uvfio_rx_new(4096, 4096, 4);
    assert_non_null(rx);
    expect_msgs(sv[1], rx, want, 5);
    uvfio_rx_free(rx);
    close_all(b, 2);
    close_all(d, 1);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

struct fd_stream_job {
    int sock;
    const int *fds;
    int result;
};

static void *fd_stream_sender(void *arg)
{
    struct fd_stream_job *j = arg;
    uint8_t *p = malloc(150000);
    unsigned i;

    j->result = p ? 0 : -ENOMEM;
    for (i = 0; i < 40 && !j->result; i++) {
        size_t len = (i % 4 == 1) ? 150000 : (i * 13) % 300;

        fill(p, len, (uint16_t)i);
        j->result = send_msg(j->sock, (uint16_t)i, 9, p, len,
                             i % 3 ? NULL : &j->fds[i % 2], i % 3 ? 0 : 1);
    }
    free(p);
    return NULL;
}

/* fds on large and small messages while the reader races the writer. */
static void test_fds_streaming(void **state)
{
    struct fd_stream_job j = { 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int fds[2], sv[2], base;
    pthread_t t;
    unsigned i;

    (void)state;
    base = count_fds();
    pair(sv, 64 << 10);
    nonblock(sv[1]);
    make_pipes(fds, 2);
    j.sock = sv[0];
    j.fds = fds;
    rx = uvfio_rx_new(200000, 200000, 2);
    assert_non_null(rx);
    assert_int_equal(pthread_create(&t, NULL, fd_stream_sender, &j), 0);
    for (i = 0; i < 40; i++) {
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        check(&m, (uint16_t)i, 9, (i % 4 == 1) ? 150000 : (i * 13) % 300);
        assert_int_equal(m.nfds, i % 3 ? 0 : 1);
        if (m.nfds)
            same_file(m.fds[0], fds[i % 2]);
        uvfio_msg_free(&m);
    }
    pthread_join(t, NULL);
    assert_int_equal(j.result, 0);
    uvfio_rx_free(rx);
    close_all(fds, 2);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

static void test_too_many_fds(void **state)
{
    uint8_t buf[64];
    int fds[3], sv[2], base;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    size_t n;

    (void)state;
    base = count_fds();
    pair(sv, 0);
    nonblock(sv[1]);
    make_pipes(fds, 3);
    rx = uvfio_rx_new(4096, 4096, 2);
    assert_non_null(rx);

    /* 3 fds, 2 allowed: all closed, message flagged */
    fill(buf, 4, 1);
    assert_int_equal(send_msg(sv[0], 1, 9, buf, 4, fds, 3), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    check(&m, 1, 9, 4);
    assert_true(m.fds_truncated);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    assert_int_equal(count_fds(), base + 2 + 3);

    /* fds spread over two sendmsg calls of one message count together */
    n = build(buf, 2, 9, 10);
    send_raw(sv[0], buf, 16, fds, 2);
    send_raw(sv[0], buf + 16, n - 16, fds + 2, 1);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    check(&m, 2, 9, 10);
    assert_true(m.fds_truncated);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    assert_int_equal(count_fds(), base + 2 + 3);

    /* ... and within the limit they are kept in order */
    n = build(buf, 3, 9, 10);
    send_raw(sv[0], buf, 16, fds, 1);
    send_raw(sv[0], buf + 16, n - 16, fds + 2, 1);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_false(m.fds_truncated);
    assert_int_equal(m.nfds, 2);
    same_file(m.fds[0], fds[0]);
    same_file(m.fds[1], fds[2]);
    uvfio_msg_free(&m);

    /* no fds allowed at all */
    uvfio_rx_set_limits(rx, 4096, 0);
    assert_int_equal(send_msg(sv[0], 4, 9, NULL, 0, fds, 1), 0);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_true(m.fds_truncated);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);

    uvfio_rx_free(rx);
    close_all(fds, 3);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

/* fds of a message that never completes are closed by uvfio_rx_free. */
static void test_fds_partial_message_freed(void **state)
{
    uint8_t buf[64];
    int fds[2], sv[2], base;
    struct uvfio_rx *rx;
    struct uvfio_msg m;

    (void)state;
    base = count_fds();
    pair(sv, 0);
    nonblock(sv[1]);
    make_pipes(fds, 2);
    build(buf, 1, 9, 32);
    send_raw(sv[0], buf, 20, fds, 2);
    rx = uvfio_rx_new(4096, 4096, 4);
    assert_non_null(rx);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_true(uvfio_rx_partial(rx));
    assert_int_equal(count_fds(), base + 2 + 2 + 2);
    uvfio_rx_free(rx);
    close_all(fds, 2);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

/* ---- sending ---------------------------------------------------------------- */

static void test_send_errors(void **state)
{
    struct uvfio_wire_hdr h = { 1, 9, 0, 0, 0 };
    struct iovec iov[2] = { { &h, UINT32_MAX }, { &h, 16 } };
    int fds[UVFIO_MAX_FDS_LIMIT + 1] = { 0 };
    struct uvfio_msg m;
    int sv[2];

    (void)state;
    pair(sv, 0);
    assert_int_equal(uvfio_msg_send(sv[0], &h, iov, -1, NULL, 0), -EINVAL);
    assert_int_equal(uvfio_msg_send(sv[0], &h, NULL, 0, fds,
                                    UVFIO_MAX_FDS_LIMIT + 1), -EINVAL);
    /* the 32-bit size cannot describe it: refused before any byte goes */
    assert_int_equal(uvfio_msg_send(sv[0], &h, iov, 2, NULL, 0), -EMSGSIZE);

    /* error reply: header only, echoing id and command */
    h.msg_id = 77;
    h.cmd = UVFIO_CMD_DMA_MAP;
    assert_int_equal(uvfio_msg_send_error(sv[0], &h, -EEXIST), 0);
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), 0);
    assert_int_equal(m.hdr.msg_id, 77);
    assert_int_equal(m.hdr.cmd, UVFIO_CMD_DMA_MAP);
    assert_int_equal(m.hdr.size, 16);
    assert_int_equal(m.hdr.flags, UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR);
    assert_int_equal(m.hdr.error, EEXIST);
    uvfio_msg_free(&m);

    /* peer gone: -EPIPE, and no SIGPIPE kills us */
    close(sv[1]);
    assert_int_equal(send_msg(sv[0], 1, 9, "x", 1, NULL, 0), -EPIPE);
    close(sv[0]);
}

/* Many iovecs (more than fit on the stack) make one message. */
static void test_send_many_iov(void **state)
{
    enum { N = 100 };
    struct iovec iov[N];
    uint8_t data[N * 3];
    struct uvfio_wire_hdr h = { 1, 9, 0, 0, 0 };
    struct uvfio_msg m;
    int sv[2], i;

    (void)state;
    fill(data, sizeof(data), 1);
    for (i = 0; i < N; i++) {
        iov[i].iov_base = data + i * 3;
        iov[i].iov_len = 3;
    }
    pair(sv, 0);
    assert_int_equal(uvfio_msg_send(sv[0], &h, iov, N, NULL, 0), 0);
    assert_int_equal(h.size, 16 + sizeof(data));
    assert_int_equal(uvfio_msg_recv(sv[1], &m, 4096, 1), 0);
    check(&m, 1, 9, sizeof(data));
    uvfio_msg_free(&m);
    close(sv[0]);
    close(sv[1]);
}

/* ---- output queue ------------------------------------------------------------- */

static void test_txq_cap(void **state)
{
    struct uvfio_txq *q = uvfio_txq_new(1000);
    uint8_t p[500] = { 0 };
    struct uvfio_wire_hdr h = { 1, 9, 0, 0, 0 };
    struct iovec iov = { p, 384 };

    (void)state;
    assert_non_null(q);
    assert_int_equal(uvfio_txq_pending(q), 0);
    assert_int_equal(uvfio_txq_push(q, &h, &iov, 1, NULL, 0), 0);
    assert_int_equal(h.size, 400);
    assert_int_equal(uvfio_txq_push(q, &h, &iov, 1, NULL, 0), 0);
    assert_int_equal(uvfio_txq_pending(q), 800);
    assert_int_equal(uvfio_txq_push(q, &h, &iov, 1, NULL, 0), -ENOBUFS);
    assert_int_equal(uvfio_txq_pending(q), 800);
    iov.iov_len = 184;
    assert_int_equal(uvfio_txq_push(q, &h, &iov, 1, NULL, 0), 0);
    assert_int_equal(uvfio_txq_pending(q), 1000);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), -ENOBUFS);
    uvfio_txq_free(q);

    /* one message larger than the whole cap never fits */
    q = uvfio_txq_new(100);
    assert_non_null(q);
    iov.iov_len = 100;
    assert_int_equal(uvfio_txq_push(q, &h, &iov, 1, NULL, 0), -ENOBUFS);
    assert_int_equal(uvfio_txq_push(q, &h, &iov, -1, NULL, 0), -EINVAL);
    uvfio_txq_free(q);
}

/* The queue fills a socket nobody reads, then drains as the peer reads;
 * every byte arrives in order and the pushed fds (dups) with their own
 * messages, even though fd-less messages are batched. */
static void test_txq_flush(void **state)
{
    enum { N = 48, LEN = 40000 };
    struct uvfio_txq *q = uvfio_txq_new(8u << 20);
    struct uvfio_wire_hdr h;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    uint8_t *p = malloc(LEN);
    struct iovec iov[2];
    int sv[2], fd, base, r;
    unsigned i, got = 0;
    size_t len;

    (void)state;
    assert_non_null(q);
    assert_non_null(p);
    base = count_fds();
    pair(sv, 64 << 10);
    nonblock(sv[0]);
    nonblock(sv[1]);
    rx = uvfio_rx_new(LEN + 16, LEN + 16, 1);
    assert_non_null(rx);
    for (i = 0; i < N; i++) {
        len = i % 5 ? LEN : i;
        fill(p, len, (uint16_t)i);
        memset(&h, 0, sizeof(h));
        h.msg_id = (uint16_t)i;
        h.cmd = 9;
        /* split over two iovecs to exercise the gathering copy */
        iov[0].iov_base = p;
        iov[0].iov_len = len / 2;
        iov[1].iov_base = p + len / 2;
        iov[1].iov_len = len - len / 2;
        if (i % 7 == 3) {
            make_pipes(&fd, 1);
            assert_int_equal(uvfio_txq_push(q, &h, iov, 2, &fd, 1), 0);
            close(fd);  /* the queue holds its own dup */
        } else {
            assert_int_equal(uvfio_txq_push(q, &h, iov, 2, NULL, 0), 0);
        }
    }
    assert_int_equal(uvfio_txq_flush(q, sv[0]), -EAGAIN);
    assert_true(uvfio_txq_pending(q) > 0);
    while (got < N) {
        r = uvfio_rx_read(rx, sv[1], &m);
        if (r == 0) {
            r = uvfio_txq_flush(q, sv[0]);
            assert_true(r == 0 || r == -EAGAIN);
            continue;
        }
        assert_int_equal(r, 1);
        check(&m, (uint16_t)got, 9, got % 5 ? LEN : got);
        assert_int_equal(m.nfds, got % 7 == 3 ? 1 : 0);
        if (m.nfds)
            assert_true(fcntl(m.fds[0], F_GETFD) >= 0);
        uvfio_msg_free(&m);
        got++;
    }
    assert_int_equal(uvfio_txq_flush(q, sv[0]), 0);
    assert_int_equal(uvfio_txq_pending(q), 0);
    uvfio_txq_free(q);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(p);
    assert_int_equal(count_fds(), base);
}

/* Unsent messages and their fd dups go away with the queue; a dead peer is
 * an error, not a signal. */
static void test_txq_free_and_epipe(void **state)
{
    struct uvfio_txq *q = uvfio_txq_new(1 << 20);
    struct uvfio_wire_hdr h = { 1, 9, 0, 0, 0 };
    int fds[2], sv[2], base;

    (void)state;
    assert_non_null(q);
    base = count_fds();
    make_pipes(fds, 2);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, fds, 2), 0);
    assert_int_equal(count_fds(), base + 4);
    close_all(fds, 2);
    assert_int_equal(count_fds(), base + 2);
    fds[0] = 1 << 20;   /* not an open fd */
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, fds, 1), -EBADF);
    assert_int_equal(uvfio_txq_pending(q), 16);
    pair(sv, 0);
    close(sv[1]);
    assert_int_equal(uvfio_txq_flush(q, sv[0]), -EPIPE);
    close(sv[0]);
    uvfio_txq_free(q);
    assert_int_equal(count_fds(), base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_pipelined_small),
        cmocka_unit_test(test_stream_mixed_sizes),
        cmocka_unit_test(test_64mib_message),
        cmocka_unit_test(test_msg_recv_exact),
        cmocka_unit_test(test_msg_recv_timeout),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_garbage_header),
        cmocka_unit_test(test_oversize_discard),
        cmocka_unit_test(test_set_limits),
        cmocka_unit_test(test_fds_basic),
        cmocka_unit_test(test_fds_pipelined),
        cmocka_unit_test(test_fds_streaming),
        cmocka_unit_test(test_too_many_fds),
        cmocka_unit_test(test_fds_partial_message_freed),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_send_many_iov),
        cmocka_unit_test(test_txq_cap),
        cmocka_unit_test(test_txq_flush),
        cmocka_unit_test(test_txq_free_and_epipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
