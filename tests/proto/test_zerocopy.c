/* SPDX-License-Identifier: MIT */
/*
 * test_zerocopy.c - big messages without copies: the receiver's sink and
 * recycled payloads, the output queue's taken (push_buf) and referenced
 * (push_ref / unref) payloads, and a reader that sleeps instead of
 * spinning while a big message trickles in.
 *
 * Over real socketpairs, with small socket buffers so every transfer is
 * cut into many partial reads and writes; every wait is bounded, fds are
 * counted around each scenario, and calloc can be made to fail (the test
 * is linked with --wrap=calloc) to reach the out-of-memory paths.
 */
#include <dirent.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/transport.h"
#include "putil.h"

#define WAIT_MS     5000
#define CMD_MIG     UVFIO_CMD_MIG_DATA_READ
#define REPLY       UVFIO_HDR_TYPE_REPLY

/* ---- helpers ------------------------------------------------------------ */

static void make_pipe_fd(int *fd)
{
    int p[2];

    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    *fd = p[0];
}

static ino_t ino_of(int fd)
{
    struct stat st;

    assert_int_equal(fstat(fd, &st), 0);
    return st.st_ino;
}

static void same_file(int a, int b)
{
    assert_int_equal(ino_of(a), ino_of(b));
}

/* A reply to msg `id` of cmd: payload = 8-byte fixed part + data. */
struct big {
    uint16_t id, cmd;
    uint32_t flags;
    size_t data_len;
    uint32_t seed;
};

static uint8_t *big_bytes(const struct big *b, size_t *len)
{
    struct uvfio_wire_hdr h = {
        .msg_id = b->id, .cmd = b->cmd, .flags = b->flags,
        .size = (uint32_t)(16 + 8 + b->data_len),
    };
    uint32_t fixed[2] = { (uint32_t)(8 + b->data_len), (uint32_t)b->data_len };
    uint8_t *p = malloc(h.size);

    assert_non_null(p);
    memcpy(p, &h, 16);
    memcpy(p + 16, fixed, 8);
    fill(p + 24, b->data_len, b->seed);
    *len = h.size;
    return p;
}

/* A writer thread: the bytes in `step` pieces with a pause between. */
struct writer {
    pthread_t t;
    int sock;
    const uint8_t *p;
    size_t len, step;
    int pause_us;
    const int *fds;             /* sent with the first byte */
    size_t nfds;
};

static void send_piece(int sock, const uint8_t *p, size_t len, const int *fds,
                       size_t nfds)
{
    union {
        struct cmsghdr h;
        uint8_t b[CMSG_SPACE(4 * sizeof(int))];
    } c;
    struct iovec iov = { (void *)p, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *h;
    ssize_t n;

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
    while (iov.iov_len) {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n <= 0)
            return;     /* the reader checks what arrived */
        mh.msg_control = NULL;
        mh.msg_controllen = 0;
        iov.iov_base = (uint8_t *)iov.iov_base + n;
        iov.iov_len -= (size_t)n;
    }
}

static void *writer_run(void *arg)
{
    struct writer *w = arg;
    size_t off, n;

    for (off = 0; off < w->len; off += n) {
        n = w->len - off < w->step ? w->len - off : w->step;
        send_piece(w->sock, w->p + off, n, off ? NULL : w->fds,
                   off ? 0 : w->nfds);
        if (w->pause_us)
            usleep((useconds_t)w->pause_us);
    }
    return NULL;
}

static void writer_start(struct writer *w)
{
    assert_int_equal(pthread_create(&w->t, NULL, writer_run, w), 0);
}

static void writer_join(struct writer *w)
{
    assert_int_equal(pthread_join(w->t, NULL), 0);
}

/* Receive one message with a bounded wait; returns rx_read's result. */
static int recv_one(struct uvfio_rx *rx, int sock, struct uvfio_msg *m)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };
    int r;

    memset(m, 0, sizeof(*m));
    while ((r = uvfio_rx_read(rx, sock, m)) == 0) {
        if (poll(&p, 1, WAIT_MS) != 1)
            fail_msg("no message within %d ms", WAIT_MS);
    }
    return r;
}

static void arm(struct uvfio_rx *rx, uint16_t id, uint16_t cmd, void *buf,
                size_t len)
{
    const struct uvfio_rx_sink s = {
        .msg_id = id, .cmd = cmd, .skip = 8, .buf = buf, .len = len,
    };

    uvfio_rx_set_sink(rx, &s);
}

/* The 8-byte fixed part of a big reply that came in m. */
static void check_fixed(const struct uvfio_msg *m, size_t data_len)
{
    uint32_t fixed[2];

    assert_int_equal(m->len, 8);
    memcpy(fixed, m->payload, 8);
    assert_int_equal(fixed[0], 8 + data_len);
    assert_int_equal(fixed[1], data_len);
}

/* ---- the sink ------------------------------------------------------------- */

/* A big reply lands in the caller's buffer as it comes off the socket, in
 * many partial reads, with the fds it carried; the next message after it
 * in the same stream is received as usual. */
static void test_sink_large(void **state)
{
    const size_t len = 3u << 20;
    struct big b = { 7, CMD_MIG, REPLY, len, 7 };
    uint8_t *dst = malloc(len + 64), *wire, *all;
    size_t wlen, tail_len;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    int sv[2], fd, base;
    struct uvfio_wire_hdr tail = { 8, 3, 16 + 5, REPLY, 0 };

    (void)state;
    assert_non_null(dst);
    base = count_fds();
    pair(sv, 64 << 10);
    nonblock(sv[1]);
    wire = big_bytes(&b, &wlen);
    /* the next message glued to it, so one read spans both */
    tail_len = 16 + 5;
    all = malloc(wlen + tail_len);
    assert_non_null(all);
    memcpy(all, wire, wlen);
    memcpy(all + wlen, &tail, 16);
    memcpy(all + wlen + 16, "hello", 5);
    make_pipe_fd(&fd);
    w = (struct writer){ .sock = sv[0], .p = all, .len = wlen + tail_len,
                         .step = 100000, .fds = &fd, .nfds = 1 };
    rx = uvfio_rx_new(4u << 20, 4u << 20, 4);
    assert_non_null(rx);
    memset(dst, 0xa5, len + 64);
    arm(rx, 7, CMD_MIG, dst, len);
    writer_start(&w);

    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 7);
    assert_int_equal(m.sunk, len);
    check_fixed(&m, len);
    check_pat(dst, len, 7);
    assert_int_equal(dst[len], 0xa5);           /* not a byte past it */
    assert_int_equal(m.nfds, 1);
    same_file(m.fds[0], fd);
    uvfio_msg_free(&m);

    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 8);
    assert_int_equal(m.sunk, 0);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.payload, "hello", 5);
    uvfio_msg_free(&m);

    writer_join(&w);
    uvfio_rx_free(rx);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    free(wire);
    free(all);
    free(dst);
    assert_int_equal(count_fds(), base);
}

/* A reply small enough to arrive in one read is sunk too (copied once,
 * from the receive buffer, as any small payload is). */
static void test_sink_small(void **state)
{
    struct big b = { 9, CMD_MIG, REPLY, 300, 9 };
    uint8_t dst[512], *wire;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    size_t wlen;
    int sv[2];

    (void)state;
    pair(sv, 0);
    wire = big_bytes(&b, &wlen);
    rx = uvfio_rx_new(1u << 20, 1u << 20, 0);
    assert_non_null(rx);
    memset(dst, 0, sizeof(dst));
    arm(rx, 9, CMD_MIG, dst, 300);
    assert_int_equal(write(sv[0], wire, wlen), (ssize_t)wlen);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.sunk, 300);
    check_fixed(&m, 300);
    check_pat(dst, 300, 9);
    uvfio_msg_free(&m);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(wire);
}

/*
 * Only the one reply it was armed for goes to the sink: another id,
 * another command, a command rather than a reply, an ERROR reply, a
 * payload no longer than the fixed part or longer than the room - each is
 * received whole, in order, and the sink still waits for its reply, which
 * it takes once: a second copy of the same reply is received whole.
 */
static void test_sink_only_its_reply(void **state)
{
    const size_t room = 100000;
    const struct big others[] = {
        { 5, CMD_MIG, REPLY, 1000, 1 },                     /* id */
        { 6, UVFIO_CMD_REGION_READ, REPLY, 1000, 2 },       /* cmd */
        { 6, CMD_MIG, UVFIO_HDR_TYPE_COMMAND, 1000, 3 },    /* not reply */
        { 6, CMD_MIG, REPLY | UVFIO_HDR_ERROR, 1000, 4 },   /* error */
        { 6, CMD_MIG, REPLY, room + 1, 5 },                 /* no room */
        { 6, CMD_MIG, REPLY, room, 6 },                     /* the one */
        { 6, CMD_MIG, REPLY, room, 7 },                     /* once only */
    };
    const size_t n = sizeof(others) / sizeof(others[0]);
    uint8_t *dst = calloc(1, room), *wire;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    size_t i, wlen;
    int sv[2];

    (void)state;
    assert_non_null(dst);
    pair(sv, 64 << 10);
    nonblock(sv[1]);
    rx = uvfio_rx_new(1u << 20, 1u << 20, 0);
    assert_non_null(rx);
    arm(rx, 6, CMD_MIG, dst, room);
    for (i = 0; i < n; i++) {
        wire = big_bytes(&others[i], &wlen);
        w = (struct writer){ .sock = sv[0], .p = wire, .len = wlen,
                             .step = wlen };
        writer_start(&w);
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        writer_join(&w);
        assert_int_equal(m.hdr.msg_id, others[i].id);
        if (i == 5) {
            assert_int_equal(m.sunk, room);
            check_fixed(&m, room);
            check_pat(dst, room, 6);
        } else {
            assert_int_equal(m.sunk, 0);
            assert_int_equal(m.len, 8 + others[i].data_len);
            check_pat(m.payload + 8, others[i].data_len, others[i].seed);
        }
        uvfio_msg_free(&m);
        free(wire);
    }
    /* and a payload of exactly the fixed part (nothing to sink) */
    arm(rx, 6, CMD_MIG, dst, room);
    wire = big_bytes(&(struct big){ 6, CMD_MIG, REPLY, 0, 8 }, &wlen);
    assert_int_equal(write(sv[0], wire, wlen), (ssize_t)wlen);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.sunk, 0);
    check_fixed(&m, 0);
    uvfio_msg_free(&m);
    free(wire);
    uvfio_rx_clear_sink(rx);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(dst);
}

/* Limits are not the sink's to lift: an oversize reply is discarded even
 * when the sink has room for it. */
static void test_sink_oversize(void **state)
{
    const size_t len = 200000;
    struct big b = { 4, CMD_MIG, REPLY, len, 4 };
    uint8_t *dst = calloc(1, len), *wire;
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    size_t wlen;
    int sv[2];

    (void)state;
    assert_non_null(dst);
    pair(sv, 64 << 10);
    nonblock(sv[1]);
    rx = uvfio_rx_new(100000, 1u << 20, 0);
    assert_non_null(rx);
    arm(rx, 4, CMD_MIG, dst, len);
    wire = big_bytes(&b, &wlen);
    w = (struct writer){ .sock = sv[0], .p = wire, .len = wlen, .step = wlen };
    writer_start(&w);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    writer_join(&w);
    assert_true(m.oversize);
    assert_int_equal(m.sunk, 0);
    assert_int_equal(m.len, 0);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(dst[i], 0);
    uvfio_msg_free(&m);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(wire);
    free(dst);
}

/*
 * The caller gives up on a reply that is half in (a timeout) and its
 * buffer goes away: not one more byte lands there, the rest of the reply
 * is dropped, the reply is handed out header-only as `oversize`, and the
 * stream stays in step for the message after it.  Also when the sink is
 * withdrawn while only part of the fixed part has come.
 */
static void clear_mid_message(size_t first)
{
    const size_t len = 1u << 20;
    struct big b = { 3, CMD_MIG, REPLY, len, 3 };
    uint8_t *dst = malloc(len), *wire;
    struct uvfio_wire_hdr next = { 4, 3, 16 + 2, REPLY, 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    size_t wlen, i;
    int sv[2];

    assert_non_null(dst);
    pair(sv, 0);
    nonblock(sv[1]);
    rx = uvfio_rx_new(2u << 20, 2u << 20, 0);
    assert_non_null(rx);
    arm(rx, 3, CMD_MIG, dst, len);
    wire = big_bytes(&b, &wlen);
    wire = realloc(wire, wlen + 18);
    assert_non_null(wire);
    assert_int_equal(write(sv[0], wire, first), (ssize_t)first);
    memset(&m, 0, sizeof(m));
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_true(uvfio_rx_partial(rx));
    uvfio_rx_clear_sink(rx);
    memset(dst, 0x5a, len);
    /* the rest, then the next message */
    memcpy(wire + wlen, &next, 16);
    memcpy(wire + wlen + 16, "ok", 2);
    w = (struct writer){ .sock = sv[0], .p = wire + first,
                         .len = wlen + 18 - first, .step = 1u << 20 };
    writer_start(&w);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 3);
    assert_true(m.oversize);
    assert_int_equal(m.len, 0);
    assert_int_equal(m.sunk, 0);
    uvfio_msg_free(&m);
    for (i = 0; i < len; i++) {
        if (dst[i] != 0x5a)
            fail_msg("byte %zu of a withdrawn sink was written", i);
    }
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    writer_join(&w);
    assert_int_equal(m.hdr.msg_id, 4);
    assert_int_equal(m.len, 2);
    assert_memory_equal(m.payload, "ok", 2);
    uvfio_msg_free(&m);
    assert_false(uvfio_rx_partial(rx));
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(wire);
    free(dst);
}

static void test_sink_cleared_mid_message(void **state)
{
    (void)state;
    clear_mid_message(100000);      /* well into the data */
    clear_mid_message(16 + 3);      /* inside the fixed part */
}

/* ---- recycled payloads ------------------------------------------------- */

/* A big payload given back holds the next big message (same memory, no
 * fresh pages); small ones are not kept as the big spare (they have a
 * buffer of their own: test_hotpath.c); lowered limits drop what was kept;
 * and whatever is kept goes with the receiver (valgrind checks). */
static void test_recycle(void **state)
{
    const size_t big = 1u << 20;
    uint8_t *p = calloc(1, big), *first;
    struct uvfio_wire_hdr h = { 1, 2, (uint32_t)(16 + big), 0, 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    int sv[2], i;

    (void)state;
    assert_non_null(p);
    pair(sv, 64 << 10);
    nonblock(sv[1]);
    rx = uvfio_rx_new(2u << 20, 2u << 20, 0);
    assert_non_null(rx);
    for (i = 0; i < 3; i++) {
        uint8_t *msg = malloc(16 + big);

        assert_non_null(msg);
        h.msg_id = (uint16_t)i;
        memcpy(msg, &h, 16);
        fill(msg + 16, big, (uint32_t)i);
        w = (struct writer){ .sock = sv[0], .p = msg, .len = 16 + big,
                             .step = 16 + big };
        writer_start(&w);
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        writer_join(&w);
        free(msg);
        assert_int_equal(m.len, big);
        assert_true(m.cap >= big);
        check_pat(m.payload, big, (uint32_t)i);
        if (i == 0)
            first = m.payload;
        else
            assert_ptr_equal(m.payload, first);     /* the same pages */
        uvfio_rx_recycle(rx, &m);
        assert_null(m.payload);
    }

    /* a small message's payload is not kept as the big spare (that
     * still holds the next big message below) */
    h.size = 16 + 10;
    assert_int_equal(write(sv[0], &h, 16), 16);
    assert_int_equal(write(sv[0], p, 10), 10);
    assert_int_equal(recv_one(rx, sv[1], &m), 1);
    assert_int_equal(m.len, 10);
    assert_true(m.cap < big);
    uvfio_rx_recycle(rx, &m);

    /* limits lowered under what is kept: it goes, and the next big
     * message gets memory of its own */
    uvfio_rx_set_limits(rx, big / 2, 0);
    uvfio_rx_set_limits(rx, 2u << 20, 0);
    h.size = (uint32_t)(16 + big);
    fill(p, big, 9);
    {
        uint8_t *msg = malloc(16 + big);

        assert_non_null(msg);
        memcpy(msg, &h, 16);
        memcpy(msg + 16, p, big);
        w = (struct writer){ .sock = sv[0], .p = msg, .len = 16 + big,
                             .step = 16 + big };
        writer_start(&w);
        assert_int_equal(recv_one(rx, sv[1], &m), 1);
        writer_join(&w);
        free(msg);
    }
    check_pat(m.payload, big, 9);
    /* kept again, then freed with the receiver */
    uvfio_rx_recycle(rx, &m);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(p);
}

/* ---- sleeping while a big message trickles in ------------------------- */

/*
 * uvfio_rx_read_wait on a blocking socket read with MSG_DONTWAIT: while a
 * big message arrives slowly, each call sleeps in recvmsg until bytes come
 * (bounded by SO_RCVTIMEO), so the reader makes about one call per piece
 * the writer sends - not thousands of EAGAIN spins.
 */
static void test_read_wait_sleeps_mid_message(void **state)
{
    const size_t len = 256u << 10, pieces = 16;
    struct timeval tv = { .tv_sec = 2 };
    uint8_t *msg = malloc(16 + len);
    struct uvfio_wire_hdr h = { 1, 2, (uint32_t)(16 + len), 0, 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    struct writer w;
    int sv[2], r, calls = 0;

    (void)state;
    assert_non_null(msg);
    memcpy(msg, &h, 16);
    fill(msg + 16, len, 1);
    pair(sv, 0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                sizeof(tv)), 0);
    rx = uvfio_rx_new(1u << 20, 1u << 20, 0);
    assert_non_null(rx);
    uvfio_rx_set_dontwait(rx, true);
    w = (struct writer){ .sock = sv[0], .p = msg, .len = 16 + len,
                         .step = (16 + len) / pieces + 1,
                         .pause_us = 20000 };
    writer_start(&w);
    memset(&m, 0, sizeof(m));
    while ((r = uvfio_rx_read_wait(rx, sv[1], &m)) == 0)
        assert_true(++calls < 200);
    writer_join(&w);
    assert_int_equal(r, 1);
    check_pat(m.payload, len, 1);
    uvfio_msg_free(&m);
    /* about one wake per piece; a spinning reader makes thousands */
    assert_true(calls <= (int)pieces * 4);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    free(msg);
}

/* ---- the output queue: taken and referenced payloads ------------------ */

/* Drain q into sv[1] with an rx until `n` messages came; hands each to cb. */
typedef void (*msg_cb)(unsigned i, struct uvfio_msg *m, void *arg);

static void pump(struct uvfio_txq *q, int sv[2], unsigned n, msg_cb cb,
                 void *arg)
{
    struct uvfio_rx *rx = uvfio_rx_new(4u << 20, 4u << 20, 4);
    struct pollfd p[2] = { { .fd = sv[1], .events = POLLIN },
                           { .fd = sv[0], .events = POLLOUT } };
    struct uvfio_msg m;
    unsigned got = 0;
    int r;

    assert_non_null(rx);
    while (got < n) {
        r = uvfio_txq_flush(q, sv[0]);
        assert_true(r == 0 || r == -EAGAIN);
        memset(&m, 0, sizeof(m));
        r = uvfio_rx_read(rx, sv[1], &m);
        assert_true(r >= 0);
        if (r == 1) {
            cb(got++, &m, arg);
            uvfio_msg_free(&m);
            continue;
        }
        assert_true(poll(p, uvfio_txq_pending(q) ? 2 : 1, WAIT_MS) > 0);
    }
    assert_int_equal(uvfio_txq_flush(q, sv[0]), 0);
    assert_int_equal(uvfio_txq_pending(q), 0);
    uvfio_rx_free(rx);
}

struct mix {
    size_t len[8];
    uint32_t seed[8];
    ino_t fd_ino[8];            /* the fd it carries, 0: none */
};

static void mix_check(unsigned i, struct uvfio_msg *m, void *arg)
{
    struct mix *x = arg;

    assert_int_equal(m->hdr.msg_id, i);
    assert_int_equal(m->len, x->len[i]);
    if (x->len[i])
        check_pat(m->payload, x->len[i], x->seed[i]);
    assert_int_equal(m->nfds, x->fd_ino[i] ? 1 : 0);
    if (x->fd_ino[i])
        assert_int_equal(ino_of(m->fds[0]), x->fd_ino[i]);
}

/*
 * Copied, taken and referenced messages mixed in one queue, some with
 * fds, through a socket that takes 64 KiB at a time: all arrive whole, in
 * order, with their own fds.  A taken buffer comes back through reclaim
 * once sent (only if larger than the caller's own), and a referenced
 * piece is sent from the caller's memory (a change made after the push
 * shows), while small pieces were copied (a change does not show).
 */
static void test_txq_mixed(void **state)
{
    const size_t big = 700000;
    struct uvfio_buf own = UVFIO_BUF_INIT, own2 = UVFIO_BUF_INIT;
    struct uvfio_buf small = UVFIO_BUF_INIT;
    uint8_t *ref = malloc(big), *whole = malloc(8 + big + 4);
    uint8_t small_piece[100], pre[8], post[4], *own_data;
    struct uvfio_txq *q = uvfio_txq_new(8u << 20);
    struct uvfio_wire_hdr h;
    struct iovec iov[3];
    struct mix x;
    int sv[2], base, fd;

    (void)state;
    assert_non_null(ref);
    assert_non_null(whole);
    assert_non_null(q);
    base = count_fds();
    pair(sv, 64 << 10);
    nonblock(sv[0]);
    nonblock(sv[1]);
    make_pipe_fd(&fd);
    memset(&x, 0, sizeof(x));

    /* 0: copied, with an fd */
    fill(small_piece, sizeof(small_piece), 0);
    h = (struct uvfio_wire_hdr){ .msg_id = 0, .cmd = 1 };
    iov[0] = (struct iovec){ small_piece, sizeof(small_piece) };
    assert_int_equal(uvfio_txq_push(q, &h, iov, 1, &fd, 1), 0);
    x.len[0] = sizeof(small_piece);
    x.seed[0] = 0;
    x.fd_ino[0] = ino_of(fd);

    /* 1: taken, with an fd */
    assert_non_null(uvfio_buf_extend(&own, big));
    fill(own.data, big, 1);
    own_data = own.data;
    h = (struct uvfio_wire_hdr){ .msg_id = 1, .cmd = 1 };
    assert_int_equal(uvfio_txq_push_buf(q, &h, &own, &fd, 1), 0);
    assert_null(own.data);
    assert_int_equal(own.len, 0);
    assert_int_equal(h.size, 16 + big);
    x.len[1] = big;
    x.seed[1] = 1;
    x.fd_ino[1] = ino_of(fd);

    /* 2: referenced big piece between two small copied ones; the small
     * ones change after the push (must not show), the big one is filled
     * only after it (must show) */
    fill(whole, 8 + big + 4, 2);
    memcpy(pre, whole, 8);
    memcpy(post, whole + 8 + big, 4);
    memset(ref, 0, big);
    h = (struct uvfio_wire_hdr){ .msg_id = 2, .cmd = 1 };
    iov[0] = (struct iovec){ pre, 8 };
    iov[1] = (struct iovec){ ref, big };
    iov[2] = (struct iovec){ post, 4 };
    assert_int_equal(uvfio_txq_push_ref(q, &h, iov, 3, NULL, 0), 0);
    memcpy(ref, whole + 8, big);
    memset(pre, 0xff, 8);
    memset(post, 0xff, 4);
    x.len[2] = 8 + big + 4;
    x.seed[2] = 2;

    /* 3: taken, empty payload; 4: copied, empty */
    h = (struct uvfio_wire_hdr){ .msg_id = 3, .cmd = 1 };
    assert_int_equal(uvfio_txq_push_buf(q, &h, &small, NULL, 0), 0);
    x.len[3] = 0;
    h = (struct uvfio_wire_hdr){ .msg_id = 4, .cmd = 1 };
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), 0);
    x.len[4] = 0;

    /* 5: a second taken buffer, smaller than the first */
    assert_non_null(uvfio_buf_extend(&own2, 70000));
    fill(own2.data, 70000, 5);
    h = (struct uvfio_wire_hdr){ .msg_id = 5, .cmd = 1 };
    assert_int_equal(uvfio_txq_push_buf(q, &h, &own2, NULL, 0), 0);
    x.len[5] = 70000;
    x.seed[5] = 5;

    close(fd);      /* the queue holds its own dups */
    pump(q, sv, 6, mix_check, &x);

    /* the largest sent buffer comes back, to a smaller buffer only */
    assert_non_null(uvfio_buf_extend(&own, 10));
    uvfio_txq_reclaim(q, &own);
    assert_ptr_equal(own.data, own_data);
    assert_int_equal(own.len, 0);
    assert_true(own.cap >= big);
    uvfio_txq_reclaim(q, &own);                 /* nothing more kept */
    assert_ptr_equal(own.data, own_data);

    uvfio_buf_free(&own);
    uvfio_txq_free(q);
    close(sv[0]);
    close(sv[1]);
    free(ref);
    free(whole);
    assert_int_equal(count_fds(), base);
}

/* Refused pushes leave the payload with the caller: over the cap, a bad
 * fd, a size past 32 bits. */
static void test_txq_push_buf_errors(void **state)
{
    struct uvfio_txq *q = uvfio_txq_new(1000);
    struct uvfio_buf b = UVFIO_BUF_INIT, huge = { NULL, UINT32_MAX, 0 };
    struct uvfio_wire_hdr h = { 1, 2, 0, 0, 0 };
    uint8_t *data;
    int bad = 1 << 20, base = count_fds();

    (void)state;
    assert_non_null(q);
    assert_non_null(uvfio_buf_extend(&b, 2000));
    data = b.data;
    assert_int_equal(uvfio_txq_push_buf(q, &h, &b, NULL, 0), -ENOBUFS);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.len, 2000);
    b.len = 100;
    assert_int_equal(uvfio_txq_push_buf(q, &h, &b, &bad, 1), -EBADF);
    assert_ptr_equal(b.data, data);
    assert_int_equal(uvfio_txq_push_buf(q, &h, &huge, NULL, 0), -EMSGSIZE);
    assert_int_equal(uvfio_txq_pending(q), 0);
    calloc_fail_in = 1;
    assert_int_equal(uvfio_txq_push_buf(q, &h, &b, NULL, 0), -ENOMEM);
    assert_ptr_equal(b.data, data);
    assert_int_equal(uvfio_txq_push_buf(q, &h, &b, NULL, 0), 0);
    assert_null(b.data);
    uvfio_txq_free(q);          /* frees the unsent taken buffer */
    assert_int_equal(count_fds(), base);
}

/*
 * unref copies exactly what is still unsent of referenced messages: the
 * caller may scribble over its buffer right after, and the peer still gets
 * the original bytes - whether nothing had gone yet (the fds still go with
 * the message), a part had, or all of it had.
 */
static void unref_after(size_t peer_reads)
{
    const size_t big = 500000;
    uint8_t *ref = malloc(big), *got = malloc(16 + big);
    struct uvfio_txq *q = uvfio_txq_new(8u << 20);
    struct uvfio_wire_hdr h = { 0, 1, 0, 0, 0 };
    struct iovec iov = { ref, big };
    struct mix x = { .len = { big, 0 }, .seed = { 11, 0 } };
    size_t off = 0;
    ssize_t n;
    int sv[2], fd, base = count_fds();

    assert_non_null(ref);
    assert_non_null(got);
    assert_non_null(q);
    pair(sv, 64 << 10);
    nonblock(sv[0]);
    nonblock(sv[1]);
    make_pipe_fd(&fd);
    fill(ref, big, 11);
    assert_int_equal(uvfio_txq_push_ref(q, &h, &iov, 1, &fd, 1), 0);
    h = (struct uvfio_wire_hdr){ .msg_id = 1, .cmd = 1 };
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), 0);
    x.fd_ino[0] = ino_of(fd);
    /* the peer reads `peer_reads` raw bytes first */
    while (off < peer_reads) {
        int r = uvfio_txq_flush(q, sv[0]);

        assert_true(r == 0 || r == -EAGAIN);
        n = read(sv[1], got + off, peer_reads - off);
        if (n > 0)
            off += (size_t)n;
        else
            assert_int_equal(poll(&(struct pollfd){ sv[1], POLLIN, 0 }, 1,
                                  WAIT_MS), 1);
    }
    assert_int_equal(uvfio_txq_unref(q), 0);
    memset(ref, 0xee, big);
    if (peer_reads == 0) {
        pump(q, sv, 2, mix_check, &x);
    } else {
        /* the rest of both messages, raw */
        size_t want = 16 + big + 16;
        uint8_t *all = malloc(want);

        assert_non_null(all);
        memcpy(all, got, off);
        while (off < want) {
            int r = uvfio_txq_flush(q, sv[0]);

            assert_true(r == 0 || r == -EAGAIN);
            n = read(sv[1], all + off, want - off);
            if (n > 0)
                off += (size_t)n;
            else
                assert_int_equal(poll(&(struct pollfd){ sv[1], POLLIN, 0 },
                                      1, WAIT_MS), 1);
        }
        check_pat(all + 16, big, 11);
        assert_int_equal(((struct uvfio_wire_hdr *)(all + 16 + big))->msg_id,
                         1);
        free(all);
        /* (the fd went with the first byte; read() let the kernel close
         * it, which the fd count below checks) */
    }
    assert_int_equal(uvfio_txq_pending(q), 0);
    assert_int_equal(uvfio_txq_unref(q), 0);    /* nothing left: no-op */
    uvfio_txq_free(q);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    free(ref);
    free(got);
    assert_int_equal(count_fds(), base);
}

static void test_txq_unref(void **state)
{
    (void)state;
    unref_after(0);
    unref_after(16 + 1000);
    unref_after(16 + 500000);       /* all of the referenced message */
}

/*
 * No memory to copy what is referenced: the queue lets go of it anyway
 * (the caller's buffer is free to go), the stream is declared lost, and
 * push and flush say so from then on; nothing leaks.
 */
static void test_txq_unref_enomem(void **state)
{
    const size_t big = 300000;
    uint8_t *ref = malloc(big);
    struct uvfio_txq *q = uvfio_txq_new(8u << 20);
    struct uvfio_wire_hdr h = { 0, 1, 0, 0, 0 };
    struct iovec iov = { ref, big };
    int sv[2], fd, base = count_fds();

    (void)state;
    assert_non_null(ref);
    assert_non_null(q);
    pair(sv, 64 << 10);
    nonblock(sv[0]);
    make_pipe_fd(&fd);
    fill(ref, big, 1);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), 0);
    assert_int_equal(uvfio_txq_push_ref(q, &h, &iov, 1, &fd, 1), 0);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), 0);
    assert_int_equal(uvfio_txq_flush(q, sv[0]), -EAGAIN);
    calloc_fail_in = 1;
    assert_int_equal(uvfio_txq_unref(q), -ENOMEM);
    free(ref);                  /* the queue must not touch it again */
    assert_int_equal(uvfio_txq_flush(q, sv[0]), -ENOMEM);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), -ENOMEM);
    assert_int_equal(uvfio_txq_unref(q), 0);
    uvfio_txq_free(q);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_large),
        cmocka_unit_test(test_sink_small),
        cmocka_unit_test(test_sink_only_its_reply),
        cmocka_unit_test(test_sink_oversize),
        cmocka_unit_test(test_sink_cleared_mid_message),
        cmocka_unit_test(test_recycle),
        cmocka_unit_test(test_read_wait_sleeps_mid_message),
        cmocka_unit_test(test_txq_mixed),
        cmocka_unit_test(test_txq_push_buf_errors),
        cmocka_unit_test(test_txq_unref),
        cmocka_unit_test(test_txq_unref_enomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
