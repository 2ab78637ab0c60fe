/* SPDX-License-Identifier: MIT */
/*
 * test_hotpath.c - the small-request hot path of proto:
 *
 *  - uvfio_txq_send, push and flush in one, which writes a message
 *    straight from the caller's iovec when the queue is empty and queues
 *    only what the socket did not take: the byte stream must be exactly
 *    what uvfio_txq_push + uvfio_txq_flush would have written, in order,
 *    through partial writes, EAGAIN, a full queue, fds, a broken socket,
 *    referenced pieces and a failed allocation half-way;
 *  - the receiver's recycled small payload buffer: one buffer goes round a
 *    request/reply loop, a message that is kept (parked, as the server
 *    parks commands during a DMA wait) keeps its own bytes whatever comes
 *    after it, and payloads past the small size are sized exactly;
 *  - uvfio_rx_read_one, the receiver's "one whole message from one read"
 *    shortcut, and everything it must leave to the general path.
 *
 * Over real socketpairs with small buffers; calloc can be made to fail
 * (linked with --wrap=calloc); fds are counted around each scenario.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/transport.h"
#include "putil.h"

#define CMD     UVFIO_CMD_REGION_READ

/* ---- helpers ------------------------------------------------------------ */

/* Read everything the peer end has now (non-blocking) into buf. */
static size_t slurp(int fd, uint8_t *buf, size_t room)
{
    size_t got = 0;
    ssize_t n;

    while (got < room &&
           (n = recv(fd, buf + got, room - got, MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    return got;
}

/* Flush q into sv[0] while reading sv[1] into buf, until q is empty. */
static size_t drain(struct uvfio_txq *q, int sv[2], uint8_t *buf, size_t room)
{
    size_t got = 0;
    int r, turns = 0;

    do {
        got += slurp(sv[1], buf + got, room - got);
        r = uvfio_txq_flush(q, sv[0]);
        assert_true(r == 0 || r == -EAGAIN);
        assert_true(++turns < 100000);
    } while (r);
    got += slurp(sv[1], buf + got, room - got);
    return got;
}

/* The message at *off of a captured stream: its header checked, its
 * payload returned. */
static const uint8_t *next_msg(const uint8_t *stream, size_t len, size_t *off,
                               uint16_t id, size_t payload_len)
{
    struct uvfio_wire_hdr h;
    const uint8_t *p;

    assert_true(len - *off >= sizeof(h));
    memcpy(&h, stream + *off, sizeof(h));
    assert_int_equal(h.msg_id, id);
    assert_int_equal(h.cmd, CMD);
    assert_int_equal(h.size, sizeof(h) + payload_len);
    assert_true(len - *off >= h.size);
    p = stream + *off + sizeof(h);
    *off += h.size;
    return p;
}

static struct uvfio_wire_hdr hdr_of(uint16_t id)
{
    return (struct uvfio_wire_hdr){ .msg_id = id, .cmd = CMD,
                                    .flags = UVFIO_HDR_TYPE_COMMAND };
}

/* ---- uvfio_txq_send ------------------------------------------------------ */

/* An empty queue: the message goes whole, nothing is queued. */
static void test_send_direct(void **state)
{
    uint8_t a[4] = { 1, 2, 3, 4 }, b[12], got[64];
    struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
    struct uvfio_wire_hdr h = hdr_of(7);
    struct uvfio_txq *q = uvfio_txq_new(1 << 20);
    int sv[2], flushed = 1;
    size_t off = 0, n;
    const uint8_t *p;

    (void)state;
    fill(b, sizeof(b), 3);
    pair(sv, 4096);
    nonblock(sv[0]);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, iov, 2, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, 0);
    assert_int_equal(h.size, 16 + 16);
    assert_int_equal(uvfio_txq_pending(q), 0);
    /* the caller's buffers are free again at once */
    memset(a, 0xee, sizeof(a));
    memset(b, 0xee, sizeof(b));
    n = slurp(sv[1], got, sizeof(got));
    assert_int_equal(n, 32);
    p = next_msg(got, n, &off, 7, 16);
    assert_int_equal(p[0], 1);
    assert_int_equal(p[3], 4);
    check_pat(p + 4, 12, 3);
    /* no payload at all */
    h = hdr_of(8);
    assert_int_equal(uvfio_txq_send(q, sv[0], true, &h, NULL, 0, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, 0);
    off = 0;
    n = slurp(sv[1], got, sizeof(got));
    next_msg(got, n, &off, 8, 0);
    uvfio_txq_free(q);
    close(sv[0]);
    close(sv[1]);
}

/*
 * The socket takes part of a big message: the rest is queued and goes
 * before the messages sent after it, which queue behind it; the stream
 * the peer reads is the messages whole and in order, and the caller's
 * buffer may change as soon as the call returns (not referenced).
 */
static void test_send_partial_then_ordered(void **state)
{
    const size_t big = 300000, small = 20;
    uint8_t *payload = malloc(big), *got = malloc(2 * big);
    uint8_t s[20];
    struct iovec iov = { payload, big };
    struct uvfio_wire_hdr h = hdr_of(1);
    struct uvfio_txq *q = uvfio_txq_new(4 << 20);
    int sv[2], flushed, i;
    size_t off = 0, n;

    (void)state;
    assert_non_null(payload);
    assert_non_null(got);
    fill(payload, big, 1);
    pair(sv, 16384);
    nonblock(sv[0]);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, -EAGAIN);
    assert_true(uvfio_txq_pending(q) > 0);
    assert_true(uvfio_txq_pending(q) < 16 + big);     /* part went */
    memset(payload, 0, big);                         /* copied, not kept */
    /* later messages wait behind it, whatever the socket could take */
    for (i = 2; i <= 4; i++) {
        fill(s, small, (uint32_t)i);
        iov = (struct iovec){ s, small };
        h = hdr_of((uint16_t)i);
        assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, NULL,
                                        0, &flushed), 0);
        assert_int_equal(flushed, -EAGAIN);
    }
    n = drain(q, sv, got, 2 * big);
    assert_int_equal(n, 16 + big + 3 * (16 + small));
    check_pat(next_msg(got, n, &off, 1, big), big, 1);
    for (i = 2; i <= 4; i++)
        check_pat(next_msg(got, n, &off, (uint16_t)i, small), small,
                  (uint32_t)i);
    /* empty again: the next one goes straight */
    h = hdr_of(5);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, NULL, 0, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, 0);
    assert_int_equal(uvfio_txq_pending(q), 0);
    uvfio_txq_free(q);
    free(payload);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

/*
 * ref: a big piece left over is referenced, not copied, until
 * uvfio_txq_unref - after which the caller's memory may change and the
 * stream still carries what it held when sent.
 */
static void test_send_partial_ref(void **state)
{
    const size_t big = 256 << 10;
    uint8_t *payload = malloc(big), *got = malloc(big + 64);
    uint8_t fixed[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
    struct iovec iov[2] = { { fixed, sizeof(fixed) }, { payload, big } };
    struct uvfio_wire_hdr h = hdr_of(3);
    struct uvfio_txq *q = uvfio_txq_new(4 << 20);
    int sv[2], flushed;
    size_t off = 0, n;
    const uint8_t *p;

    (void)state;
    assert_non_null(payload);
    assert_non_null(got);
    fill(payload, big, 5);
    pair(sv, 16384);
    nonblock(sv[0]);
    assert_int_equal(uvfio_txq_send(q, sv[0], true, &h, iov, 2, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, -EAGAIN);
    assert_true(uvfio_txq_pending(q) > 0);
    assert_int_equal(uvfio_txq_unref(q), 0);
    memset(payload, 0, big);
    memset(fixed, 0, sizeof(fixed));
    n = drain(q, sv, got, big + 64);
    assert_int_equal(n, 16 + 8 + big);
    p = next_msg(got, n, &off, 3, 8 + big);
    assert_int_equal(p[0], 9);
    assert_int_equal(p[7], 9);
    check_pat(p + 8, big, 5);
    uvfio_txq_free(q);
    free(payload);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

/* A socket that takes nothing: the whole message is queued, as a push. */
static void test_send_eagain(void **state)
{
    uint8_t *filler = calloc(1, 1 << 20), got[256];
    uint8_t s[20];
    struct iovec iov = { s, sizeof(s) };
    struct uvfio_wire_hdr h = hdr_of(4);
    struct uvfio_txq *q = uvfio_txq_new(1 << 20);
    int sv[2], flushed;
    size_t off = 0, n;
    (void)state;
    assert_non_null(filler);
    fill(s, sizeof(s), 4);
    pair(sv, 4096);
    nonblock(sv[0]);
    while (send(sv[0], filler, 1 << 20, MSG_DONTWAIT) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, -EAGAIN);
    assert_int_equal(uvfio_txq_pending(q), 16 + sizeof(s));
    memset(s, 0, sizeof(s));
    /* the peer reads the filler away (an AF_UNIX stream keeps nothing
     * on the sender's side), then gets the message whole */
    while (recv(sv[1], filler, 1 << 20, MSG_DONTWAIT) > 0)
        ;
    n = drain(q, sv, got, sizeof(got));
    assert_int_equal(n, 16 + sizeof(s));
    check_pat(next_msg(got, n, &off, 4, sizeof(s)), sizeof(s), 4);
    uvfio_txq_free(q);
    free(filler);
    close(sv[0]);
    close(sv[1]);
}

/* Refused as the push refuses: nothing sent, nothing queued. */
static void test_send_refused(void **state)
{
    uint8_t s[64] = { 0 }, got[256];
    struct iovec iov = { s, sizeof(s) };
    struct uvfio_wire_hdr h = hdr_of(5);
    struct uvfio_txq *q = uvfio_txq_new(32);
    int sv[2], flushed = 77, fds_before = count_fds(), bad = 1000;

    (void)state;
    pair(sv, 4096);
    nonblock(sv[0]);
    /* over the queue's limit */
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, NULL, 0,
                                    &flushed), -ENOBUFS);
    assert_int_equal(flushed, 77);
    /* a bad iovec */
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, -1, NULL, 0,
                                    &flushed), -EINVAL);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, NULL, 1, NULL, 0,
                                    &flushed), -EINVAL);
    /* an fd that is not open fails the push, not the socket */
    iov.iov_len = 4;
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, &bad, 1,
                                    &flushed), -EBADF);
    assert_int_equal(flushed, 77);
    assert_int_equal(uvfio_txq_pending(q), 0);
    assert_int_equal(slurp(sv[1], got, sizeof(got)), 0);
    uvfio_txq_free(q);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), fds_before);
}

/* fds take the queue's path and arrive with their message. */
static void test_send_fds(void **state)
{
    struct uvfio_rx *rx = uvfio_rx_new(4096, 4096, 4);
    struct uvfio_txq *q = uvfio_txq_new(1 << 20);
    struct uvfio_wire_hdr h = hdr_of(6);
    uint8_t s[4] = { 6, 6, 6, 6 };
    struct iovec iov = { s, sizeof(s) };
    struct uvfio_msg m;
    int sv[2], p[2], flushed, fds_before = count_fds();

    (void)state;
    assert_non_null(rx);
    pair(sv, 4096);
    nonblock(sv[0]);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, p, 2,
                                    &flushed), 0);
    assert_int_equal(flushed, 0);
    close(p[0]);        /* the queue sent its own copies */
    close(p[1]);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 6);
    assert_int_equal(m.len, 4);
    assert_int_equal(m.nfds, 2);
    assert_int_equal(write(m.fds[1], "x", 1), 1);
    uvfio_msg_free(&m);
    uvfio_rx_free(rx);
    uvfio_txq_free(q);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), fds_before);
}

/* The peer is gone: the flush's error, the message queued as by a push. */
static void test_send_broken(void **state)
{
    struct uvfio_txq *q = uvfio_txq_new(1 << 20);
    struct uvfio_wire_hdr h = hdr_of(7);
    int sv[2], flushed;

    (void)state;
    pair(sv, 4096);
    nonblock(sv[0]);
    close(sv[1]);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, NULL, 0, NULL, 0,
                                    &flushed), 0);
    assert_int_equal(flushed, -EPIPE);
    assert_int_equal(uvfio_txq_pending(q), 16);
    uvfio_txq_free(q);
    close(sv[0]);
}

/* No memory for the rest of a half-sent message: the stream is lost, and
 * the queue says so from then on (the caller ends the connection). */
static void test_send_partial_enomem(void **state)
{
    const size_t big = 200000;
    uint8_t *payload = calloc(1, big);
    struct iovec iov = { payload, big };
    struct uvfio_wire_hdr h = hdr_of(8);
    struct uvfio_txq *q = uvfio_txq_new(4 << 20);
    int sv[2], flushed;

    (void)state;
    assert_non_null(payload);
    pair(sv, 16384);
    nonblock(sv[0]);
    calloc_fail_in = 1;
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, &iov, 1, NULL, 0,
                                    &flushed), 0);
    calloc_fail_in = 0;
    assert_int_equal(flushed, -ENOMEM);
    assert_int_equal(uvfio_txq_pending(q), 0);
    h = hdr_of(9);
    assert_int_equal(uvfio_txq_send(q, sv[0], false, &h, NULL, 0, NULL, 0,
                                    &flushed), -ENOMEM);
    assert_int_equal(uvfio_txq_push(q, &h, NULL, 0, NULL, 0), -ENOMEM);
    assert_int_equal(uvfio_txq_flush(q, sv[0]), -ENOMEM);
    uvfio_txq_free(q);
    free(payload);
    close(sv[0]);
    close(sv[1]);
}

/* ---- recycled small payloads ------------------------------------------- */

static void send_small(int fd, uint16_t id, size_t len, uint32_t seed)
{
    uint8_t buf[16 + 512];
    struct uvfio_wire_hdr h = hdr_of(id);

    assert_true(len <= 512);
    h.size = (uint32_t)(16 + len);
    memcpy(buf, &h, 16);
    fill(buf + 16, len, seed);
    assert_int_equal(write(fd, buf, 16 + len), (ssize_t)(16 + len));
}

static void recv_small(struct uvfio_rx *rx, int fd, struct uvfio_msg *m,
                       uint16_t id, size_t len, uint32_t seed)
{
    assert_int_equal(uvfio_rx_read(rx, fd, m), 1);
    assert_int_equal(m->hdr.msg_id, id);
    assert_int_equal(m->len, len);
    if (len)
        check_pat(m->payload, len, seed);
    else
        assert_null(m->payload);
}

/*
 * A request/reply loop: one small buffer goes round.  A message kept
 * across later reads (as conn_defer parks commands, by value) keeps its
 * own bytes; the buffer it holds only comes back once it is recycled.
 */
static void test_small_reuse(void **state)
{
    struct uvfio_rx *rx = uvfio_rx_new(64 << 10, 64 << 10, 0);
    struct uvfio_msg m, parked, parked_copy;
    uint8_t *first;
    int sv[2], i;

    (void)state;
    assert_non_null(rx);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    send_small(sv[0], 1, 20, 1);
    recv_small(rx, sv[1], &m, 1, 20, 1);
    assert_true(m.cap >= m.len);
    first = m.payload;
    uvfio_rx_recycle(rx, &m);
    assert_null(m.payload);
    for (i = 2; i < 6; i++) {
        send_small(sv[0], (uint16_t)i, (size_t)(i * 7), (uint32_t)i);
        recv_small(rx, sv[1], &m, (uint16_t)i, (size_t)(i * 7), (uint32_t)i);
        assert_ptr_equal(m.payload, first);         /* the same buffer */
        uvfio_rx_recycle(rx, &m);
    }

    /* parked by value: its bytes stay while more messages come and go */
    send_small(sv[0], 10, 16, 10);
    recv_small(rx, sv[1], &parked, 10, 16, 10);
    parked_copy = parked;
    memset(&parked, 0, sizeof(parked));
    parked = parked_copy;
    for (i = 11; i < 15; i++) {
        send_small(sv[0], (uint16_t)i, 24, (uint32_t)i);
        recv_small(rx, sv[1], &m, (uint16_t)i, 24, (uint32_t)i);
        assert_ptr_not_equal(m.payload, parked.payload);
        uvfio_rx_recycle(rx, &m);
        check_pat(parked.payload, 16, 10);
    }
    /* several parked at once, all distinct */
    {
        struct uvfio_msg k[3];

        for (i = 0; i < 3; i++)
            send_small(sv[0], (uint16_t)(20 + i), 30, (uint32_t)(20 + i));
        for (i = 0; i < 3; i++)
            recv_small(rx, sv[1], &k[i], (uint16_t)(20 + i), 30,
                       (uint32_t)(20 + i));
        assert_ptr_not_equal(k[0].payload, k[1].payload);
        assert_ptr_not_equal(k[1].payload, k[2].payload);
        assert_ptr_not_equal(k[0].payload, k[2].payload);
        for (i = 0; i < 3; i++) {
            check_pat(k[i].payload, 30, (uint32_t)(20 + i));
            uvfio_rx_recycle(rx, &k[i]);
        }
    }
    check_pat(parked.payload, 16, 10);
    uvfio_rx_recycle(rx, &parked);

    /* empty payloads have none; bigger ones get exactly their size and
     * are not kept as the small buffer */
    send_small(sv[0], 30, 0, 0);
    recv_small(rx, sv[1], &m, 30, 0, 0);
    uvfio_rx_recycle(rx, &m);
    send_small(sv[0], 31, 500, 31);
    recv_small(rx, sv[1], &m, 31, 500, 31);
    assert_int_equal(m.cap, 500);
    uvfio_rx_recycle(rx, &m);
    send_small(sv[0], 32, 8, 32);
    recv_small(rx, sv[1], &m, 32, 8, 32);
    assert_true(m.cap >= 8 && m.cap != 500);
    /* freed rather than recycled: no leak either way (valgrind, ASan) */
    uvfio_msg_free(&m);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
}

/* After a short read with nothing buffered, "nothing for now" without a
 * syscall; then new bytes are read as soon as they are asked for. */
static void test_drained_shortcut(void **state)
{
    struct uvfio_rx *rx = uvfio_rx_new(64 << 10, 64 << 10, 0);
    struct uvfio_msg m;
    int sv[2];

    (void)state;
    assert_non_null(rx);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                                SOCK_CLOEXEC, 0, sv), 0);
    send_small(sv[0], 1, 4, 1);
    send_small(sv[0], 2, 4, 2);
    recv_small(rx, sv[1], &m, 1, 4, 1);
    uvfio_rx_recycle(rx, &m);
    recv_small(rx, sv[1], &m, 2, 4, 2);         /* buffered: no read */
    uvfio_rx_recycle(rx, &m);
    send_small(sv[0], 3, 4, 3);
    /* the last read was short: one "nothing" before the socket again */
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    recv_small(rx, sv[1], &m, 3, 4, 3);
    uvfio_rx_recycle(rx, &m);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);  /* EAGAIN itself */
    /* the end of the stream still ends it */
    close(sv[0]);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    uvfio_rx_free(rx);
    close(sv[1]);
}

/* ---- one whole reply from one read (uvfio_rx_read_one) ------------------ */

/* A blocking socket read in dontwait mode, as the client keeps its own. */
static void wait_pair(int sv[2], struct uvfio_rx **rx, unsigned max_fds)
{
    struct timeval tv = { .tv_usec = 50000 };

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv,
                                sizeof(tv)), 0);
    *rx = uvfio_rx_new(1024, 4096, max_fds);
    assert_non_null(*rx);
    uvfio_rx_set_dontwait(*rx, true);
}

static void one_of(struct uvfio_rx *rx, int fd, int want_r, uint16_t id,
                   size_t len, uint32_t seed)
{
    struct uvfio_msg m;

    assert_int_equal(uvfio_rx_read_one(rx, fd, &m), want_r);
    assert_int_equal(m.hdr.msg_id, id);
    assert_int_equal(m.len, len);
    assert_int_equal(m.nfds, 0);
    assert_false(m.oversize);
    if (len)
        check_pat(m.payload, len, seed);
    uvfio_rx_recycle(rx, &m);
}

/*
 * The shortcut hands out a message that came alone (2), and everything
 * else goes exactly the general way: the first read of a socket, several
 * messages in one read, a message in pieces, a timeout slice, an oversize
 * message, fds, a sink, a bad header, the end of the stream.
 */
static void test_read_one(void **state)
{
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    uint8_t buf[64], sunk[64];
    struct uvfio_wire_hdr h;
    int sv[2], fds0 = count_fds(), fd;

    (void)state;
    wait_pair(sv, &rx, 2);
    /* first read of this socket: the general path (mode not known yet) */
    send_small(sv[0], 1, 4, 1);
    one_of(rx, sv[1], 1, 1, 4, 1);
    /* then alone, over and over: 2, on the same small buffer */
    send_small(sv[0], 2, 20, 2);
    one_of(rx, sv[1], 2, 2, 20, 2);
    send_small(sv[0], 3, 0, 0);
    one_of(rx, sv[1], 2, 3, 0, 0);
    /* and rx is as if asked: a read now goes to the socket (EAGAIN) */
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);

    /* two in one read: 1, the second buffered, then nothing */
    send_small(sv[0], 4, 8, 4);
    send_small(sv[0], 5, 8, 5);
    one_of(rx, sv[1], 1, 4, 8, 4);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 5);
    check_pat(m.payload, 8, 5);
    uvfio_rx_recycle(rx, &m);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);

    /* bigger than the small buffer, alone or behind a small one: the
     * bytes the read put in the small buffer come back in order */
    send_small(sv[0], 40, 500, 40);
    one_of(rx, sv[1], 1, 40, 500, 40);
    send_small(sv[0], 41, 250, 41);
    send_small(sv[0], 42, 300, 42);
    one_of(rx, sv[1], 1, 41, 250, 41);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 42);
    check_pat(m.payload, 300, 42);
    uvfio_rx_recycle(rx, &m);
    send_small(sv[0], 43, 256, 43);             /* the largest lone one */
    one_of(rx, sv[1], 2, 43, 256, 43);

    /* nothing comes: a slice passes, 0, and the connection is fine */
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 0);
    send_small(sv[0], 6, 4, 6);
    one_of(rx, sv[1], 2, 6, 4, 6);

    /* a message in two pieces: 0 for the first, then the whole of it */
    h = hdr_of(7);
    h.size = 16 + 12;
    memcpy(buf, &h, 16);
    fill(buf + 16, 12, 7);
    assert_int_equal(write(sv[0], buf, 10), 10);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 0);
    assert_int_equal(write(sv[0], buf + 10, 18), 18);
    one_of(rx, sv[1], 1, 7, 12, 7);
    send_small(sv[0], 8, 4, 8);
    one_of(rx, sv[1], 2, 8, 4, 8);

    /* oversize (over max_size, under the discard limit): skipped whole */
    {
        uint8_t big[16 + 2000] = { 0 };

        h = hdr_of(9);
        h.size = sizeof(big);
        memcpy(big, &h, 16);
        assert_int_equal(write(sv[0], big, sizeof(big)), (ssize_t)sizeof(big));
        memset(&m, 0, sizeof(m));
        while (uvfio_rx_read_one(rx, sv[1], &m) == 0)
            ;
        assert_int_equal(m.hdr.msg_id, 9);
        assert_true(m.oversize);
        uvfio_msg_free(&m);
    }
    send_small(sv[0], 10, 4, 10);
    one_of(rx, sv[1], 2, 10, 4, 10);

    /* fds: the general path gives them to their message */
    h = hdr_of(11);
    fd = dup(0);
    assert_true(fd >= 0);
    fill(buf, 4, 11);
    assert_int_equal(uvfio_msg_send(sv[0], &h, &(struct iovec){ buf, 4 }, 1,
                                    &fd, 1), 0);
    close(fd);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 1);
    assert_int_equal(m.hdr.msg_id, 11);
    assert_int_equal(m.nfds, 1);
    check_pat(m.payload, 4, 11);
    uvfio_msg_free(&m);
    send_small(sv[0], 12, 4, 12);
    one_of(rx, sv[1], 2, 12, 4, 12);

    /* a sink armed: the general path, which delivers into it */
    uvfio_rx_set_sink(rx, &(struct uvfio_rx_sink){
        .msg_id = 13, .cmd = CMD, .skip = 4, .buf = sunk, .len = sizeof(sunk),
    });
    h = hdr_of(13);
    h.flags = UVFIO_HDR_TYPE_REPLY;
    fill(buf, 40, 13);
    assert_int_equal(uvfio_msg_send(sv[0], &h, &(struct iovec){ buf, 40 }, 1,
                                    NULL, 0), 0);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 1);
    uvfio_rx_clear_sink(rx);
    assert_int_equal(m.hdr.msg_id, 13);
    assert_int_equal(m.len, 4);
    assert_int_equal(m.sunk, 36);
    check_pat(m.payload, 4, 13);
    assert_memory_equal(sunk, buf + 4, 36);
    uvfio_rx_recycle(rx, &m);
    send_small(sv[0], 14, 4, 14);
    one_of(rx, sv[1], 2, 14, 4, 14);

    /* the end of the stream ends it, for good */
    close(sv[0]);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    uvfio_rx_free(rx);
    close(sv[1]);

    /* a bad header that came alone: -EPROTO, sticky */
    wait_pair(sv, &rx, 0);
    send_small(sv[0], 20, 4, 20);
    one_of(rx, sv[1], 1, 20, 4, 20);
    h = hdr_of(21);
    h.size = 8;
    memcpy(buf, &h, 16);
    assert_int_equal(write(sv[0], buf, 16), 16);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -EPROTO);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -EPROTO);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);

    /* a header alone, bigger than the discard limit: -EPROTO too */
    wait_pair(sv, &rx, 0);
    send_small(sv[0], 30, 4, 30);
    one_of(rx, sv[1], 1, 30, 4, 30);
    h = hdr_of(31);
    h.size = 1u << 20;
    memcpy(buf, &h, 16);
    assert_int_equal(write(sv[0], buf, 16), 16);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -EPROTO);
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(count_fds(), fds0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_direct),
        cmocka_unit_test(test_send_partial_then_ordered),
        cmocka_unit_test(test_send_partial_ref),
        cmocka_unit_test(test_send_eagain),
        cmocka_unit_test(test_send_refused),
        cmocka_unit_test(test_send_fds),
        cmocka_unit_test(test_send_broken),
        cmocka_unit_test(test_send_partial_enomem),
        cmocka_unit_test(test_small_reuse),
        cmocka_unit_test(test_drained_shortcut),
        cmocka_unit_test(test_read_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
