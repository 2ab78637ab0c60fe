/* SPDX-License-Identifier: MIT */
/*
 * test_feed.c - the receiver's fed bytes (uvfio_rx_feed, uvfio_rx_fed_bytes,
 * uvfio_rx_buffered): reads that another reader (the server's io_uring
 * multishot receive) took from rx's socket, handed to rx as if its own next
 * recvmsg had returned them.
 *
 * What must hold, because the server mixes both readers on one stream:
 *
 *  - order: fed bytes come out before rx reads its socket again, and after
 *    what rx had already read itself, whatever the split points;
 *  - a fed read that does not fit the 64 KiB buffer waits in a queue, and
 *    the socket is not read while it does;
 *  - fds are attributed exactly as for a read of rx's own (to the message
 *    of the read's last byte), also when the read waits in the queue, and
 *    none leaks: truncated, over the limit, refused, or left at free;
 *  - the end of the stream fed is an end like EOF (sticky -ECONNRESET once
 *    what came before it is out), and later feeds are refused;
 *  - UVFIO_RX_FED_DRAINED spares the recvmsg that would find the socket
 *    empty, but only until the poller says readable again.
 *
 * Feeds are plain byte arrays; the socket (a non-blocking socketpair end)
 * is there to be read, or - more to the point - not read: a message left
 * in it tells whether rx went to it (FIONREAD says it is still there).
 * fds are pipe ends, checked by pushing a byte through them, and counted
 * around each scenario.  Linked with --wrap=calloc like the other putil
 * users; the feed allocates with malloc, so its -ENOMEM is not reached.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/transport.h"
#include "putil.h"

#define CMD     UVFIO_CMD_REGION_WRITE

/* ---- helpers ------------------------------------------------------------ */

/* Every header field depends on the id, so a header mixed up with another
 * message's, or shifted by a byte, does not compare equal. */
static struct uvfio_wire_hdr hdr_for(uint16_t id, size_t len)
{
    return (struct uvfio_wire_hdr){
        .msg_id = id,
        .cmd = CMD,
        .size = (uint32_t)(UVFIO_HDR_SIZE + len),
        .flags = (id & 1) ? (UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR)
                          : UVFIO_HDR_TYPE_COMMAND,
        .error = 0x5a000000u | id,
    };
}

/* Message `id` with a len-byte payload (pattern seeded by id) at dst. */
static size_t put_msg(uint8_t *dst, uint16_t id, size_t len)
{
    struct uvfio_wire_hdr h = hdr_for(id, len);

    memcpy(dst, &h, sizeof(h));
    fill(dst + UVFIO_HDR_SIZE, len, id);
    return UVFIO_HDR_SIZE + len;
}

/* m is message `id` exactly as put_msg made it, with nfds fds. */
static void check_msg(const struct uvfio_msg *m, uint16_t id, size_t len,
                      size_t nfds)
{
    struct uvfio_wire_hdr want = hdr_for(id, len);

    assert_memory_equal(&m->hdr, &want, sizeof(want));
    assert_false(m->oversize);
    assert_int_equal(m->len, len);
    assert_int_equal(m->sunk, 0);
    if (len) {
        assert_non_null(m->payload);
        check_pat(m->payload, len, id);
    } else {
        assert_null(m->payload);
    }
    assert_int_equal(m->nfds, nfds);
    if (!nfds)
        assert_null(m->fds);
}

/* A socketpair whose sv[1] is the server's non-blocking end, and its rx. */
static struct uvfio_rx *setup(int sv[2], size_t max, size_t discard,
                              unsigned max_fds)
{
    struct uvfio_rx *rx = uvfio_rx_new(max, discard, max_fds);

    assert_non_null(rx);
    pair(sv, 0);
    nonblock(sv[1]);
    return rx;
}

static void teardown_pair(struct uvfio_rx *rx, int sv[2])
{
    uvfio_rx_free(rx);
    close(sv[0]);
    close(sv[1]);
}

/* Bytes waiting in the socket: what rx has not read. */
static int unread(int fd)
{
    int n = -1;

    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

static void send_msg_raw(int fd, uint16_t id, size_t len)
{
    uint8_t *b = malloc(UVFIO_HDR_SIZE + len);
    size_t n;

    assert_non_null(b);
    n = put_msg(b, id, len);
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    free(b);
}

/* Exactly one message: uvfio_rx_read says 1 and m is `id`. */
static void expect(struct uvfio_rx *rx, int sock, uint16_t id, size_t len,
                   size_t nfds)
{
    struct uvfio_msg m;

    assert_int_equal(uvfio_rx_read(rx, sock, &m), 1);
    check_msg(&m, id, len, nfds);
    uvfio_msg_free(&m);
}

static void expect_none(struct uvfio_rx *rx, int sock)
{
    struct uvfio_msg m;

    assert_int_equal(uvfio_rx_read(rx, sock, &m), 0);
}

static void make_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

/* fds[0] and fds[1] are still the two ends of one open pipe (read, write):
 * a byte written through one comes out of the other. */
static void check_pipe(const int *fds)
{
    char c = 0;

    assert_true(fds[0] >= 0 && fds[1] >= 0);
    assert_int_equal(write(fds[1], "q", 1), 1);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'q');
}

/* Many small messages (ids first, first + 1, ...) filling at least `min`
 * bytes; lengths vary so that boundaries fall everywhere.  *count set. */
static uint8_t *many_msgs(size_t min, uint16_t first, size_t *total,
                          unsigned *count)
{
    uint8_t *s = malloc(min + 512);
    size_t off = 0;
    unsigned i = 0;

    assert_non_null(s);
    while (off < min) {
        off += put_msg(s + off, (uint16_t)(first + i), (i * 37u) % 211u);
        i++;
    }
    *total = off;
    *count = i;
    return s;
}

static void expect_many(struct uvfio_rx *rx, int sock, uint16_t first,
                        unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        expect(rx, sock, (uint16_t)(first + i), (i * 37u) % 211u, 0);
}

/* ---- 1: one message, and DRAINED ----------------------------------------- */

/*
 * A fed message comes out whole through both read calls; with DRAINED the
 * read after it answers 0 without going to the socket - which does hold a
 * message, so going there would have returned it - until the poller says
 * readable, and then that message comes.
 */
static void test_whole_drained(void **state)
{
    uint8_t b[256];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], fds0 = count_fds();
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 4);
    assert_false(uvfio_rx_buffered(rx));
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);

    send_msg_raw(sv[0], 90, 7);
    n = put_msg(b, 1, 20);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    memset(b, 0xee, sizeof(b));         /* copied: the caller's again */
    assert_true(uvfio_rx_buffered(rx));
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);       /* it all fitted */
    /* 2: fed alone and drained, it is all there is for now (the caller
     * need not ask again, and the socket was not read to say so) */
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 2);
    check_msg(&m, 1, 20, 0);
    uvfio_msg_free(&m);
    assert_false(uvfio_rx_buffered(rx));
    assert_int_equal(unread(sv[1]), 16 + 7);

    /* again, by uvfio_rx_read, and a header-only message */
    n = put_msg(b, 2, 0);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    expect(rx, sv[1], 2, 0, 0);
    expect_none(rx, sv[1]);
    assert_int_equal(unread(sv[1]), 16 + 7);

    /* and by uvfio_rx_read_one from idle, which has a shortcut of its own */
    n = put_msg(b, 3, 5);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 2);
    check_msg(&m, 3, 5, 0);
    uvfio_msg_free(&m);
    assert_int_equal(unread(sv[1]), 16 + 7);
    /* two fed: the first is not all there is */
    n = put_msg(b, 4, 1);
    n += put_msg(b + n, 5, 2);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 1);
    check_msg(&m, 4, 1, 0);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 1);
    check_msg(&m, 5, 2, 0);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 0);
    assert_int_equal(unread(sv[1]), 16 + 7);

    /* the poller says readable: now the socket's message */
    uvfio_rx_note_readable(rx, false);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 2);
    check_msg(&m, 90, 7, 0);
    uvfio_msg_free(&m);
    assert_int_equal(unread(sv[1]), 0);

    /* the same through uvfio_rx_read */
    send_msg_raw(sv[0], 91, 33);
    n = put_msg(b, 4, 1);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    expect(rx, sv[1], 4, 1, 0);
    expect_none(rx, sv[1]);
    assert_int_equal(unread(sv[1]), 16 + 33);
    uvfio_rx_note_readable(rx, false);
    expect(rx, sv[1], 91, 33, 0);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/*
 * DRAINED on a feed that ends inside a message: the read that needs the
 * rest answers 0 without the recvmsg too (the rest will be fed), and the
 * message is whole once it is.
 */
static void test_drained_partial(void **state)
{
    uint8_t b[256];
    struct uvfio_rx *rx;
    int sv[2];
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 92, 3);
    n = put_msg(b, 5, 50);
    assert_int_equal(uvfio_rx_feed(rx, b, 30, NULL, 0, UVFIO_RX_FED_DRAINED),
                     0);
    assert_true(uvfio_rx_buffered(rx));
    expect_none(rx, sv[1]);
    assert_int_equal(unread(sv[1]), 16 + 3);
    assert_int_equal(uvfio_rx_feed(rx, b + 30, n - 30, NULL, 0,
                                   UVFIO_RX_FED_DRAINED), 0);
    expect(rx, sv[1], 5, 50, 0);
    expect_none(rx, sv[1]);
    assert_int_equal(unread(sv[1]), 16 + 3);
    uvfio_rx_note_readable(rx, false);
    expect(rx, sv[1], 92, 3, 0);
    teardown_pair(rx, sv);
}

/* ---- 2: order across the two readers ------------------------------------- */

/* uvfio_rx_read until a message, answering each 0 as a poller would (the
 * socket or the feeder has more): how the server's loop drives rx. */
static void expect_polled(struct uvfio_rx *rx, int sock, uint16_t id,
                          size_t len)
{
    struct uvfio_msg m;
    int r, turns = 0;

    while ((r = uvfio_rx_read(rx, sock, &m)) == 0) {
        assert_true(++turns < 4);
        uvfio_rx_note_readable(rx, false);
    }
    assert_int_equal(r, 1);
    check_msg(&m, id, len, 0);
    uvfio_msg_free(&m);
}

/*
 * Socket, then fed, then socket: stream order.  The third message is in
 * the socket before the fed one is handed out, so a read that went to the
 * socket first would return it first.
 */
static void test_order_sources(void **state)
{
    uint8_t b[512];
    struct uvfio_rx *rx;
    int sv[2];
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 10, 12);
    expect_polled(rx, sv[1], 10, 12);
    /* the feeder read the next two; the fourth waits in the socket */
    n = put_msg(b, 11, 40);
    n += put_msg(b + n, 12, 0);
    send_msg_raw(sv[0], 13, 9);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, 0), 0);
    expect_polled(rx, sv[1], 11, 40);
    assert_int_equal(unread(sv[1]), 16 + 9);
    expect_polled(rx, sv[1], 12, 0);
    assert_int_equal(unread(sv[1]), 16 + 9);
    expect_polled(rx, sv[1], 13, 9);
    assert_false(uvfio_rx_buffered(rx));
    teardown_pair(rx, sv);
}

/*
 * As the doc puts it, a feed is "as if its next recvmsg had returned
 * them": a read of rx's own that came back short (socket empty then)
 * must not make rx skip the socket after a later feed without DRAINED -
 * the feeder's read proves bytes arrived after that short read, and the
 * feeder did not say it emptied the socket.
 */
static void test_feed_after_short_read(void **state)
{
    uint8_t b[128];
    struct uvfio_rx *rx;
    int sv[2];
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 20, 4);
    expect(rx, sv[1], 20, 4, 0);        /* short read: drained */
    n = put_msg(b, 21, 6);
    send_msg_raw(sv[0], 22, 8);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, 0), 0);
    expect(rx, sv[1], 21, 6, 0);
    expect(rx, sv[1], 22, 8, 0);
    teardown_pair(rx, sv);
}

/*
 * rx read half a message itself (half a header, or a header and part of
 * the payload); the feeder read the rest and the next message.
 */
static void test_partial_then_fed(void **state)
{
    static const size_t cuts[] = { 1, 8, 15, 16, 17, 40, 75 };
    uint8_t b[512];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2];
    size_t n, i, first;

    (void)state;
    for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        rx = setup(sv, 4096, 4096, 0);
        first = put_msg(b, 30, 60);
        n = first + put_msg(b + first, 31, 3);
        assert_int_equal(write(sv[0], b, cuts[i]), (ssize_t)cuts[i]);
        assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
        assert_true(uvfio_rx_partial(rx));
        assert_true(uvfio_rx_buffered(rx));
        assert_int_equal(unread(sv[1]), 0);
        /* more in the socket behind what was fed: must come last */
        send_msg_raw(sv[0], 32, 1);
        assert_int_equal(uvfio_rx_feed(rx, b + cuts[i], n - cuts[i], NULL, 0,
                                       0), 0);
        expect_polled(rx, sv[1], 30, 60);
        expect_polled(rx, sv[1], 31, 3);
        expect_polled(rx, sv[1], 32, 1);
        teardown_pair(rx, sv);
    }
}

/* ---- 3: split points ----------------------------------------------------- */

/*
 * Three messages fed as two reads, for every split point; once read
 * between the feeds (rx keeps a started message across them), once only
 * after both.
 */
static void test_every_split(void **state)
{
    static const size_t lens[] = { 0, 5, 40 };
    uint8_t s[256];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], between;
    size_t total = 0, cut, i;
    unsigned next;

    (void)state;
    for (i = 0; i < 3; i++)
        total += put_msg(s + total, (uint16_t)(40 + i), lens[i]);
    for (between = 0; between < 2; between++) {
        for (cut = 1; cut < total; cut++) {
            rx = setup(sv, 4096, 4096, 0);
            next = 0;
            assert_int_equal(uvfio_rx_feed(rx, s, cut, NULL, 0, 0), 0);
            while (between && uvfio_rx_read(rx, sv[1], &m) == 1) {
                assert_true(next < 3);
                check_msg(&m, (uint16_t)(40 + next), lens[next], 0);
                uvfio_msg_free(&m);
                next++;
            }
            assert_int_equal(uvfio_rx_feed(rx, s + cut, total - cut, NULL, 0,
                                           0), 0);
            for (; next < 3; next++)
                expect(rx, sv[1], (uint16_t)(40 + next), lens[next], 0);
            expect_none(rx, sv[1]);
            assert_false(uvfio_rx_buffered(rx));
            teardown_pair(rx, sv);
        }
    }
}

/* One message one byte per feed: nothing comes early, it comes whole. */
static void test_byte_by_byte(void **state)
{
    uint8_t s[400];
    struct uvfio_rx *rx;
    int sv[2];
    size_t n, i;

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    n = put_msg(s, 50, 300);
    n += put_msg(s + n, 51, 2);
    for (i = 0; i < n; i++) {
        assert_int_equal(uvfio_rx_feed(rx, s + i, 1, NULL, 0, 0), 0);
        if (i == 315)
            expect(rx, sv[1], 50, 300, 0);
        else if (i == n - 1)
            expect(rx, sv[1], 51, 2, 0);
        expect_none(rx, sv[1]);
        assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    }
    teardown_pair(rx, sv);

    /* and read only at the end */
    rx = setup(sv, 4096, 4096, 0);
    for (i = 0; i < n; i++)
        assert_int_equal(uvfio_rx_feed(rx, s + i, 1, NULL, 0, 0), 0);
    expect(rx, sv[1], 50, 300, 0);
    expect(rx, sv[1], 51, 2, 0);
    expect_none(rx, sv[1]);
    teardown_pair(rx, sv);
}

/* ---- 4: more than the buffer --------------------------------------------- */

/*
 * 200 KiB of small messages in one feed: the rest queues, the socket is
 * left alone until the queue is empty, a later feed queues behind, and
 * every message is intact and in order.
 */
static void test_queue_small(void **state)
{
    uint8_t b[64];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], fds0 = count_fds();
    size_t total, left, prev, n;
    unsigned count, i;
    uint8_t *s = many_msgs(200 << 10, 1000, &total, &count);

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 900, 10);
    assert_int_equal(uvfio_rx_feed(rx, s, total, NULL, 0, 0), 0);
    memset(s, 0, total);
    left = uvfio_rx_fed_bytes(rx);
    assert_true(left > 0);
    assert_true(left < total);
    assert_true(uvfio_rx_buffered(rx));
    /* fed after the big one: waits behind it, all of it, though a
     * message handed out has made room in the buffer */
    expect(rx, sv[1], 1000, 0, 0);
    assert_int_equal(uvfio_rx_fed_bytes(rx), left);
    n = put_msg(b, 999, 3);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_fed_bytes(rx), left + n);
    prev = left + n;
    for (i = 1; i < count; i++) {
        /* alternate the two read calls: read_one must not take its
         * socket shortcut while the queue holds bytes */
        if (i & 1)
            assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), 1);
        else
            assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
        check_msg(&m, (uint16_t)(1000 + i), (i * 37u) % 211u, 0);
        uvfio_msg_free(&m);
        assert_true(uvfio_rx_fed_bytes(rx) <= prev);
        prev = uvfio_rx_fed_bytes(rx);
        assert_int_equal(unread(sv[1]), 16 + 10);
    }
    expect(rx, sv[1], 999, 3, 0);
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    assert_int_equal(unread(sv[1]), 16 + 10);
    expect(rx, sv[1], 900, 10, 0);
    expect_none(rx, sv[1]);
    assert_false(uvfio_rx_buffered(rx));
    free(s);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/*
 * One 1 MiB message: fed whole, then fed in odd pieces with the next
 * message in the last one; the payload arrives byte for byte.
 */
static void test_queue_large(void **state)
{
    const size_t len = 1 << 20;
    const size_t cuts[] = { 10, 700001, 0 };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    uint8_t *s = malloc(len + 256);
    size_t total, off, k, i;
    int sv[2];

    (void)state;
    assert_non_null(s);
    total = put_msg(s, 60, len);
    rx = setup(sv, 2 << 20, 2 << 20, 0);
    send_msg_raw(sv[0], 901, 2);
    assert_int_equal(uvfio_rx_feed(rx, s, total, NULL, 0, 0), 0);
    assert_true(uvfio_rx_fed_bytes(rx) > 0);
    assert_true(uvfio_rx_fed_bytes(rx) < total);
    assert_true(uvfio_rx_buffered(rx));
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 60, len, 0);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    assert_int_equal(unread(sv[1]), 16 + 2);
    expect(rx, sv[1], 901, 2, 0);

    /* pieces: into the buffer, into the queue, across the next message */
    total += put_msg(s + total, 61, 17);
    for (off = 0, i = 0; off < total; i++) {
        k = cuts[i] ? cuts[i] : total - off;
        assert_int_equal(uvfio_rx_feed(rx, s + off, k, NULL, 0, 0), 0);
        off += k;
    }
    assert_true(uvfio_rx_fed_bytes(rx) > 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 60, len, 0);
    uvfio_msg_free(&m);
    expect(rx, sv[1], 61, 17, 0);
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    expect_none(rx, sv[1]);

    /* a big one started by rx's own read, finished by feeds */
    assert_int_equal(write(sv[0], s, 5000), 5000);
    assert_false(uvfio_rx_reading_big(rx));
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    assert_true(uvfio_rx_reading_big(rx));
    assert_int_equal(uvfio_rx_feed(rx, s + 5000, total - 5000, NULL, 0, 0),
                     0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 60, len, 0);
    uvfio_msg_free(&m);
    assert_false(uvfio_rx_reading_big(rx));
    expect(rx, sv[1], 61, 17, 0);

    /* a big one is under way as soon as its header is in, before any
     * read has looked at it (the ring stops reading ahead then) */
    assert_int_equal(uvfio_rx_feed(rx, s, 20, NULL, 0, 0), 0);
    assert_true(uvfio_rx_reading_big(rx));
    assert_int_equal(uvfio_rx_feed(rx, s + 20, total - 20, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 60, len, 0);
    uvfio_msg_free(&m);
    expect(rx, sv[1], 61, 17, 0);
    assert_false(uvfio_rx_reading_big(rx));
    free(s);
    teardown_pair(rx, sv);
}

/* DRAINED on a read that queues: said of the socket, so it holds only
 * once the queue is out, and then spares one recvmsg as before. */
static void test_queue_drained(void **state)
{
    struct uvfio_rx *rx;
    int sv[2];
    size_t total;
    unsigned count;
    uint8_t *s = many_msgs(200 << 10, 5000, &total, &count);

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 950, 4);
    assert_int_equal(uvfio_rx_feed(rx, s, total, NULL, 0,
                                   UVFIO_RX_FED_DRAINED), 0);
    assert_true(uvfio_rx_fed_bytes(rx) > 0);
    expect_many(rx, sv[1], 5000, count);
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    expect_none(rx, sv[1]);
    assert_int_equal(unread(sv[1]), 16 + 4);
    uvfio_rx_note_readable(rx, false);
    expect(rx, sv[1], 950, 4, 0);
    free(s);
    teardown_pair(rx, sv);
}

/* A reply that is not an error, as the sink wants it. */
static size_t put_reply(uint8_t *dst, uint16_t id, size_t len,
                        struct uvfio_wire_hdr *h)
{
    *h = hdr_for(id, len);
    h->flags = UVFIO_HDR_TYPE_REPLY;
    h->error = 0;
    memcpy(dst, h, sizeof(*h));
    fill(dst + UVFIO_HDR_SIZE, len, id);
    return UVFIO_HDR_SIZE + len;
}

/*
 * A big reply fed while a sink waits for it: the fixed part in the
 * payload, the rest in the sink, byte for byte - whether it was in the
 * buffer when the reply was recognised or placed from the queue after -
 * and the message behind it intact.
 */
static void test_sink(void **state)
{
    const size_t len = 200000, skip = 8;
    const size_t cuts[] = { 0, 3, 100 };
    uint8_t *s = malloc(len + 256), *sink = malloc(len);
    struct uvfio_wire_hdr want;
    struct uvfio_rx_sink k = { .msg_id = 131, .cmd = CMD, .skip = skip,
                               .buf = sink, .len = len - skip };
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    size_t total, i, c, off, step;
    int sv[2];

    (void)state;
    assert_non_null(s);
    assert_non_null(sink);
    total = put_reply(s, 131, len, &want);
    total += put_msg(s + total, 132, 11);
    for (c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
        rx = setup(sv, 1 << 20, 1 << 20, 0);
        memset(sink, 0, len);
        uvfio_rx_set_sink(rx, &k);
        /* cuts[c] == 0: one feed; else pieces of that many KiB */
        step = cuts[c] ? cuts[c] << 10 : total;
        for (off = 0; off < total; off += step) {
            if (step > total - off)
                step = total - off;
            assert_int_equal(uvfio_rx_feed(rx, s + off, step, NULL, 0, 0),
                             0);
        }
        assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
        assert_memory_equal(&m.hdr, &want, sizeof(want));
        assert_false(m.oversize);
        assert_int_equal(m.len, skip);
        check_pat(m.payload, skip, 131);
        assert_int_equal(m.sunk, len - skip);
        for (i = 0; i < len - skip; i++) {
            if (sink[i] != pat(131, skip + i))
                fail_msg("sink byte %zu: %u != %u", i, sink[i],
                         pat(131, skip + i));
        }
        uvfio_msg_free(&m);
        expect(rx, sv[1], 132, 11, 0);
        assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
        teardown_pair(rx, sv);
    }
    free(s);
    free(sink);
}

/* ---- 5: fds -------------------------------------------------------------- */

static void test_fds_whole(void **state)
{
    uint8_t b[64];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], fds0 = count_fds();
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 4);
    make_pipe(p);
    n = put_msg(b, 70, 8);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 70, 8, 2);
    assert_false(m.fds_truncated);
    check_pipe(m.fds);
    uvfio_msg_free(&m);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/*
 * The fds of a read go to the message of its last byte: the last piece of
 * a split message; a read that ends in the second message (its first
 * message gets none); a read that waits in the queue, attributed when its
 * bytes are placed, not to what was in the buffer when it was fed.
 */
static void test_fds_attribution(void **state)
{
    uint8_t b[256];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], fds0 = count_fds();
    size_t total, n, a;
    unsigned count, i;
    uint8_t *s;

    (void)state;
    /* last piece of A carries them */
    rx = setup(sv, 4096, 4096, 4);
    make_pipe(p);
    a = put_msg(b, 71, 30);
    n = a + put_msg(b + a, 72, 30);
    assert_int_equal(uvfio_rx_feed(rx, b, a + 10, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_feed(rx, b + a + 10, n - a - 10, p, 2, 0), 0);
    expect(rx, sv[1], 71, 30, 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 72, 30, 2);
    check_pipe(m.fds);
    uvfio_msg_free(&m);

    /* a read of A and the start of B: B's, not A's; rx reads between */
    make_pipe(p);
    a = put_msg(b, 73, 4);
    n = a + put_msg(b + a, 74, 44);
    assert_int_equal(uvfio_rx_feed(rx, b, a + 1, p, 2, 0), 0);
    expect(rx, sv[1], 73, 4, 0);
    expect_none(rx, sv[1]);
    assert_int_equal(uvfio_rx_feed(rx, b + a + 1, n - a - 1, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 74, 44, 2);
    check_pipe(m.fds);
    uvfio_msg_free(&m);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);

    /* a read that ends in its second message, all fed at once */
    rx = setup(sv, 4096, 4096, 4);
    make_pipe(p);
    a = put_msg(b, 75, 0);
    n = a + put_msg(b + a, 76, 1);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);
    expect(rx, sv[1], 75, 0, 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 76, 1, 2);
    check_pipe(m.fds);
    uvfio_msg_free(&m);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);

    /* queued reads: one with fds behind 200 KiB, and the 200 KiB read
     * itself with fds (its last message's, though most of it was placed
     * at once) */
    rx = setup(sv, 4096, 4096, 4);
    s = many_msgs(200 << 10, 2000, &total, &count);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, total, p, 2, 0), 0);
    assert_true(uvfio_rx_fed_bytes(rx) > 0);
    make_pipe(p);
    n = put_msg(b, 77, 9);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);
    for (i = 0; i < count; i++) {
        assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
        check_msg(&m, (uint16_t)(2000 + i), (i * 37u) % 211u,
                  i == count - 1 ? 2 : 0);
        if (m.nfds)
            check_pipe(m.fds);
        uvfio_msg_free(&m);
    }
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 77, 9, 2);
    check_pipe(m.fds);
    uvfio_msg_free(&m);
    free(s);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/* What the message may not keep is closed, and the message says so. */
static void test_fds_refused(void **state)
{
    uint8_t b[64];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], q[2], three[3], fds0 = count_fds();
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 2);

    /* the kernel dropped some (MSG_CTRUNC): the rest are closed too */
    make_pipe(p);
    n = put_msg(b, 80, 4);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, UVFIO_RX_FED_TRUNC), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 80, 4, 0);
    assert_true(m.fds_truncated);
    uvfio_msg_free(&m);
    assert_int_equal(count_fds(), fds0 + 2);    /* the pair only */

    /* all dropped: no fds, still truncated */
    n = put_msg(b, 81, 0);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, UVFIO_RX_FED_TRUNC), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 81, 0, 0);
    assert_true(m.fds_truncated);
    uvfio_msg_free(&m);

    /* more than max_fds (2) */
    make_pipe(p);
    make_pipe(q);
    three[0] = p[0];
    three[1] = p[1];
    three[2] = q[0];
    n = put_msg(b, 82, 6);
    assert_int_equal(uvfio_rx_feed(rx, b, n, three, 3, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 82, 6, 0);
    assert_true(m.fds_truncated);
    uvfio_msg_free(&m);
    close(q[1]);
    assert_int_equal(count_fds(), fds0 + 2);

    /* two reads of one message, 2 + 1 fds: over the limit together */
    make_pipe(p);
    make_pipe(q);
    close(q[1]);
    n = put_msg(b, 83, 20);
    assert_int_equal(uvfio_rx_feed(rx, b, 5, p, 2, 0), 0);
    assert_int_equal(uvfio_rx_feed(rx, b + 5, n - 5, q, 1, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 83, 20, 0);
    assert_true(m.fds_truncated);
    uvfio_msg_free(&m);
    assert_int_equal(count_fds(), fds0 + 2);

    /* TRUNC on a read that waits in the queue: kept until it is placed */
    {
        size_t total;
        unsigned count, i;
        uint8_t *s = many_msgs(100 << 10, 6000, &total, &count);

        make_pipe(p);
        assert_int_equal(uvfio_rx_feed(rx, s, total, p, 1,
                                       UVFIO_RX_FED_TRUNC), 0);
        close(p[1]);
        assert_true(uvfio_rx_fed_bytes(rx) > 0);
        for (i = 0; i < count; i++) {
            assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
            check_msg(&m, (uint16_t)(6000 + i), (i * 37u) % 211u, 0);
            assert_true(m.fds_truncated == (i == count - 1));
            uvfio_msg_free(&m);
        }
        free(s);
        assert_int_equal(count_fds(), fds0 + 2);
    }

    /* the next message is not marked by its predecessor's trouble */
    n = put_msg(b, 84, 2);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 84, 2, 0);
    assert_false(m.fds_truncated);
    uvfio_msg_free(&m);
    teardown_pair(rx, sv);

    /* an rx that takes no fds at all */
    rx = setup(sv, 4096, 4096, 0);
    make_pipe(p);
    n = put_msg(b, 85, 2);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 85, 2, 0);
    assert_true(m.fds_truncated);
    uvfio_msg_free(&m);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/* More fds than any message may carry (SCM_MAX_FD): refused, closed. */
static void test_fds_over_hard_limit(void **state)
{
    int fds[UVFIO_MAX_FDS_LIMIT + 1], sv[2], fds0 = count_fds();
    uint8_t b[64];
    struct uvfio_rx *rx;
    size_t n, i;

    (void)state;
    rx = setup(sv, 4096, 4096, 4);
    for (i = 0; i < UVFIO_MAX_FDS_LIMIT + 1; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
    }
    n = put_msg(b, 86, 1);
    assert_int_equal(uvfio_rx_feed(rx, b, n, fds, UVFIO_MAX_FDS_LIMIT + 1, 0),
                     -EINVAL);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/* ---- 6: end of stream ------------------------------------------------------ */

static void test_eof(void **state)
{
    uint8_t b[256];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], fds0 = count_fds();
    size_t n;

    (void)state;
    rx = setup(sv, 4096, 4096, 4);
    n = put_msg(b, 100, 10);
    n += put_msg(b + n, 101, 0);
    assert_int_equal(uvfio_rx_feed(rx, b, n, NULL, 0, 0), 0);
    /* the end may not bring fds: refused, closed, and nothing else
     * changes (it was not taken as the end) */
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, NULL, 0, p, 2, 0), -EINVAL);
    assert_int_equal(count_fds(), fds0 + 2);
    assert_int_equal(uvfio_rx_feed(rx, NULL, 0, NULL, 0, 0), 0);
    assert_true(uvfio_rx_buffered(rx));
    /* the socket has bytes, but they are past the end of the stream */
    send_msg_raw(sv[0], 102, 1);
    expect(rx, sv[1], 100, 10, 0);
    expect(rx, sv[1], 101, 0, 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_read_wait(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(unread(sv[1]), 16 + 1);
    /* finished: feeds are refused, their fds closed */
    make_pipe(p);
    n = put_msg(b, 103, 1);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), -ECONNRESET);
    assert_int_equal(count_fds(), fds0 + 2);
    assert_int_equal(uvfio_rx_feed(rx, NULL, 0, NULL, 0, 0), -ECONNRESET);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
}

/* The end behind a queue, and the end inside a message. */
static void test_eof_queued_and_partial(void **state)
{
    uint8_t b[128];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2];
    size_t total, n;
    unsigned count;
    uint8_t *s = many_msgs(150 << 10, 3000, &total, &count);

    (void)state;
    rx = setup(sv, 4096, 4096, 0);
    assert_int_equal(uvfio_rx_feed(rx, s, total, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_feed(rx, b, 0, NULL, 0, 0), 0);
    expect_many(rx, sv[1], 3000, count);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_fed_bytes(rx), 0);
    teardown_pair(rx, sv);

    /* half a message, then the end: no message, the end */
    rx = setup(sv, 4096, 4096, 0);
    n = put_msg(b, 104, 40);
    assert_int_equal(uvfio_rx_feed(rx, b, n - 1, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_feed(rx, b, 0, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ECONNRESET);
    teardown_pair(rx, sv);

    /* the end alone, on an idle rx, by read_one (its shortcut must not
     * read the socket past the end) */
    rx = setup(sv, 4096, 4096, 0);
    send_msg_raw(sv[0], 105, 1);
    expect(rx, sv[1], 105, 1, 0);
    send_msg_raw(sv[0], 106, 1);
    assert_int_equal(uvfio_rx_feed(rx, b, 0, NULL, 0, 0), 0);
    assert_true(uvfio_rx_buffered(rx));     /* the end is something */
    assert_false(uvfio_rx_partial(rx));
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -ECONNRESET);
    assert_int_equal(unread(sv[1]), 16 + 1);
    teardown_pair(rx, sv);
    free(s);
}

/* ---- 7: oversize ----------------------------------------------------------- */

/*
 * Over max_size, under the discard limit: header only with `oversize`,
 * its fds closed, and the message after it intact; fed whole and fed in
 * pieces (the discard goes on across feeds and through the queue).  Over
 * the discard limit: -EPROTO, sticky, and feeds refused with it.
 */
static void test_oversize(void **state)
{
    const size_t big = 100000;
    uint8_t *s = malloc(big + 256);
    struct uvfio_wire_hdr want = hdr_for(110, big);
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], fds0 = count_fds();
    size_t total, a, off, k;

    (void)state;
    assert_non_null(s);
    a = put_msg(s, 110, big);
    total = a + put_msg(s + a, 111, 30);

    rx = setup(sv, 4096, 1 << 20, 4);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, a, p, 2, 0), 0);
    assert_int_equal(uvfio_rx_feed(rx, s + a, total - a, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_true(m.oversize);
    assert_memory_equal(&m.hdr, &want, sizeof(want));
    assert_int_equal(m.len, 0);
    assert_null(m.payload);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    expect(rx, sv[1], 111, 30, 0);
    expect_none(rx, sv[1]);
    assert_int_equal(count_fds(), fds0 + 2);    /* the pair only */

    /* in 7000-byte reads */
    for (off = 0; off < total; off += k) {
        k = total - off < 7000 ? total - off : 7000;
        assert_int_equal(uvfio_rx_feed(rx, s + off, k, NULL, 0, 0), 0);
        if (off < 30000) {
            assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
            assert_true(uvfio_rx_reading_big(rx));     /* discarding */
        }
    }
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    assert_true(m.oversize);
    assert_memory_equal(&m.hdr, &want, sizeof(want));
    assert_int_equal(m.len, 0);
    assert_null(m.payload);
    uvfio_msg_free(&m);
    expect(rx, sv[1], 111, 30, 0);
    teardown_pair(rx, sv);

    /* beyond the discard limit */
    rx = setup(sv, 4096, 50000, 4);
    assert_int_equal(uvfio_rx_feed(rx, s, total, NULL, 0, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -EPROTO);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -EPROTO);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, 16, p, 2, 0), -EPROTO);
    teardown_pair(rx, sv);
    free(s);
    assert_int_equal(count_fds(), fds0);
}

/* ---- 9: freed with things pending ----------------------------------------- */

/*
 * Out of memory.  A read that must wait in the queue and finds no memory
 * loses the stream: the feed says -ENOMEM, closes the fds it was given,
 * and every read from then on says so too.  A lone request whose small
 * buffer cannot be had takes the general way instead, and nothing is lost.
 */
static void test_out_of_memory(void **state)
{
    size_t total = 100u << 10, n = 0;
    uint8_t *b = malloc(total + 64), one[64];
    int sv[2], p[2], fds0 = count_fds();
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    uint16_t id = 0;

    (void)state;
    assert_non_null(b);
    rx = setup(sv, 4096, 4096, 4);
    while (n + 16 + 20 <= total)
        n += put_msg(b + n, id++, 20);
    assert_int_equal(pipe(p), 0);
    malloc_fail_in = 1;
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, UVFIO_RX_FED_DRAINED),
                     -ENOMEM);
    malloc_fail_in = 0;
    assert_int_equal(count_fds(), fds0 + 2);        /* sv only */
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), -ENOMEM);
    assert_int_equal(uvfio_rx_read_one(rx, sv[1], &m), -ENOMEM);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(uvfio_rx_feed(rx, one, put_msg(one, 1, 4), p, 2, 0),
                     -ENOMEM);
    assert_int_equal(count_fds(), fds0 + 2);
    teardown_pair(rx, sv);

    /* the lone fast path without memory for its buffer: the slow way */
    rx = setup(sv, 4096, 4096, 4);
    malloc_fail_in = 1;
    assert_int_equal(uvfio_rx_feed(rx, one, put_msg(one, 7, 9), NULL, 0,
                                   UVFIO_RX_FED_DRAINED), 0);
    malloc_fail_in = 0;
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 1);
    check_msg(&m, 7, 9, 0);
    uvfio_msg_free(&m);
    expect_none(rx, sv[1]);
    teardown_pair(rx, sv);
    free(b);
    assert_int_equal(count_fds(), fds0);
}

/*
 * rx freed with fds in every place they can wait: attributed to a
 * message not handed out, in a queued chunk, and behind the end of the
 * stream; and with a big message half-assembled.  Nothing leaks (counted
 * here; the ASan run sees the memory).
 */
static void test_free_pending(void **state)
{
    uint8_t b[64];
    struct uvfio_rx *rx;
    struct uvfio_msg m;
    int sv[2], p[2], fds0 = count_fds();
    size_t total, n;
    unsigned count;
    uint8_t *s = many_msgs(100 << 10, 4000, &total, &count);

    (void)state;
    rx = setup(sv, 4096, 4096, 4);
    make_pipe(p);
    n = put_msg(b, 120, 3);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);    /* placed */
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, total, p, 2, 0), 0); /* queued */
    assert_true(uvfio_rx_fed_bytes(rx) > 0);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);    /* queued */
    assert_int_equal(uvfio_rx_feed(rx, b, 0, NULL, 0, 0), 0);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, b, n, p, 2, 0), 0);    /* past end */
    assert_int_equal(count_fds(), fds0 + 2 + 8);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);

    /* part of the queue handed out, fds still in it */
    rx = setup(sv, 4096, 4096, 4);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, total, p, 2, 0), 0);
    expect(rx, sv[1], 4000, 0, 0);
    expect(rx, sv[1], 4001, 37, 0);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
    free(s);

    /* a 1 MiB message half in, its fds with it */
    s = malloc((1 << 20) + 16);
    assert_non_null(s);
    total = put_msg(s, 121, 1 << 20);
    rx = setup(sv, 2 << 20, 2 << 20, 4);
    make_pipe(p);
    assert_int_equal(uvfio_rx_feed(rx, s, total / 2, p, 2, 0), 0);
    assert_int_equal(uvfio_rx_read(rx, sv[1], &m), 0);
    teardown_pair(rx, sv);
    assert_int_equal(count_fds(), fds0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_drained),
        cmocka_unit_test(test_drained_partial),
        cmocka_unit_test(test_order_sources),
        cmocka_unit_test(test_feed_after_short_read),
        cmocka_unit_test(test_partial_then_fed),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_queue_small),
        cmocka_unit_test(test_queue_large),
        cmocka_unit_test(test_queue_drained),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_fds_whole),
        cmocka_unit_test(test_fds_attribution),
        cmocka_unit_test(test_fds_refused),
        cmocka_unit_test(test_fds_over_hard_limit),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_eof_queued_and_partial),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_free_pending),
        cmocka_unit_test(test_out_of_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
