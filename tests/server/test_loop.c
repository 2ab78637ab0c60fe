// SPDX-License-Identifier: MIT
/*
 * tests/server/test_loop.c - the run loop's two ways of waiting.
 *
 * uvfio_server_run waits on io_uring where it can and on epoll otherwise
 * (src/server/ring.c); this file runs once each way (meson.build registers
 * it a second time with UVFIO_NO_IO_URING=1), and so do the other server
 * tests.  What is here is what the ring could get wrong that epoll cannot:
 *  - its polls are edge-triggered, so bytes and the end of the stream that
 *    arrive together must both be seen from one event, and so must a burst
 *    of messages carrying fds, which the kernel hands out one recvmsg each
 *    (QEMU maps guest memory that way: it stalled before the fix);
 *  - it belongs to one thread, so a run that ends, an embedded dispatch in
 *    between and a run on another thread must hand the same connection
 *    over without losing it;
 *  - it holds the sockets' files, so a connection the server ends must end
 *    for the peer at once;
 *  - it sends small replies itself as it goes to sleep, outside the
 *    connection's lock, so a large message another thread sends meanwhile
 *    must neither interleave with one nor be lost behind it;
 *  - it reads the command sockets itself (ring_recv.c), so it must really
 *    do so where it can, hand a big message or a flood back to the
 *    connection's own reads and take over again after, all without losing
 *    or reordering a byte, and serve a neighbour of a flooding client.
 * meson.build registers the file a third time with UVFIO_NO_RING_RECV=1:
 * the ring then polls the command sockets as it does the twin sockets.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "fixture.h"
#include "server/server_priv.h"     /* uvfio_server_ring_counts */

#define TRIES 20

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(fx_start(fx, NULL, 1, true), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    free(*state);
    return 0;
}

static void assert_reads_rom(struct tclient *tc)
{
    uint8_t b[4] = { 0 };

    assert_int_equal(tc_region_read(tc, TD_ROM, 0, b, sizeof(b)), 0);
    assert_int_equal(b[0], 0xa5);
}

/* Half a message and the end of the stream, sent back to back so that the
 * server usually sees both in one readiness event: it must still notice
 * the end, drop the client and take the next one. */
static void test_half_message_then_eof(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_REGION_READ, 32, 0, 0 };
    struct tclient tc;
    int i;

    for (i = 0; i < TRIES; i++) {
        fx_client(fx, 0, &tc);
        assert_int_equal(tc_send_bytes(&tc, &h, 10), 0);
        assert_int_equal(shutdown(tc.fd, SHUT_WR), 0);
        if (!tc_wait_closed(&tc, 2000))
            fail_msg("try %d: the server never saw the end of the stream", i);
        tc_close(&tc);
        assert_true(fx_wait_open(fx->td[0].dev, 0, 2000));
    }
    /* ... and before VERSION, the bytes racing the accept itself. */
    for (i = 0; i < TRIES; i++) {
        assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
        assert_int_equal(tc_send_bytes(&tc, &h, 10), 0);
        assert_int_equal(shutdown(tc.fd, SHUT_WR), 0);
        if (!tc_wait_closed(&tc, 2000))
            fail_msg("try %d: an unnegotiated client was never dropped", i);
        tc_close(&tc);
    }
    fx_client(fx, 0, &tc);
    assert_reads_rom(&tc);
    tc_close(&tc);
}

/* A burst of messages with fds, all sent before the server looks: each
 * recvmsg stops after one of them, short, with the rest still queued and
 * no further event to come - every one must be answered anyway. */
static void test_burst_with_fds(void **state)
{
    enum { N = 16, PAGE = 4096 };
    struct fixture *fx = *state;
    struct uvfio_wire_dma_map map = {
        .argsz = sizeof(map),
        .flags = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE,
        .size = PAGE,
    };
    struct tclient tc;
    struct uvfio_msg m;
    uint16_t ids[N];
    int fd, i, round;

    fd = memfd_create("loop-burst", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, PAGE * N), 0);
    fx_client(fx, 0, &tc);
    for (round = 0; round < 4; round++) {
        for (i = 0; i < N; i++) {
            map.addr = (uint64_t)(round * N + i) * PAGE;
            map.offset = (uint64_t)i * PAGE;
            ids[i] = tc_send(&tc, UVFIO_CMD_DMA_MAP, 0, &map, sizeof(map),
                             &fd, 1);
        }
        for (i = 0; i < N; i++) {
            if (tc_wait(&tc, ids[i], &m, 2000) != 0)
                fail_msg("round %d: no reply to DMA_MAP %d of %d", round, i,
                         N);
            assert_int_equal(tc_errno(&m), 0);
            uvfio_msg_free(&m);
        }
    }
    assert_reads_rom(&tc);
    tc_close(&tc);
    close(fd);
}

/* A malformed header makes the server end the connection: the peer must
 * see EOF at once, not when the loop next happens to wake. */
static void test_server_side_close_reaches_peer(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_REGION_READ, 8, 0, 0 };
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_reads_rom(&tc);
    assert_int_equal(tc_send_bytes(&tc, &h, sizeof(h)), 0);   /* size 8 */
    assert_true(tc_wait_closed(&tc, 1000));
    tc_close(&tc);
    assert_true(fx_wait_open(fx->td[0].dev, 0, 2000));
}

/* ---- replies the ring sends, and another thread's big messages ---------- */

#define DMA_XFER    (64u << 10)
#define DMA_IOVA    0x200000ull
#define DMA_SIZE    (256u << 10)
#define DMA_LEN     200000u         /* four DMA_WRITE messages per call */

struct dma_writer {
    struct uvfio_device *dev;
    uint8_t *src;
    int rounds, result;
    atomic_bool done;
};

static void *dma_writer_main(void *arg)
{
    struct dma_writer *w = arg;

    for (int i = 0; i < w->rounds && w->result == 0; i++) {
        w->src[0] = (uint8_t)i;     /* each round's bytes differ */
        w->result = uvfio_dma_write(w->dev, DMA_IOVA + 5, w->src, DMA_LEN);
    }
    atomic_store(&w->done, true);
    return NULL;
}

/* A driver thread writes guest memory by DMA_WRITE messages of 64 KiB
 * (several skbs each) while the client keeps asking REGION_READs whose
 * small replies the ring sends: every reply and every DMA byte must come
 * through whole and in order (tc_wait serves the DMA requests and fails
 * on any stray or broken message). */
static void test_replies_and_big_messages_from_a_thread(void **state)
{
    struct uvfio_server_opts opts = { .max_data_xfer_size = DMA_XFER };
    struct dma_writer w = { .rounds = 40 };
    uint8_t *guest = calloc(1, DMA_SIZE);
    struct fixture fx;
    struct tclient tc;
    pthread_t t;
    int reads = 0;

    (void)state;
    assert_non_null(guest);
    w.src = malloc(DMA_LEN);
    assert_non_null(w.src);
    for (size_t i = 0; i < DMA_LEN; i++)
        w.src[i] = (uint8_t)(i * 7 + (i >> 11));
    assert_int_equal(fx_start(&fx, &opts, 1, true), 0);
    assert_int_equal(tc_connect(&tc, fx.path[0]), 0);
    tc.max_xfer = DMA_XFER;
    assert_int_equal(tc_hello(&tc, false, false), 0);
    tc.mem = guest;
    tc.mem_iova = DMA_IOVA;
    tc.mem_len = DMA_SIZE;
    assert_int_equal(tc_dma_map(&tc, DMA_IOVA, DMA_SIZE,
                                UVFIO_DMA_MAP_FLAG_READ |
                                UVFIO_DMA_MAP_FLAG_WRITE, -1, 0), 0);

    w.dev = fx.td[0].dev;
    assert_int_equal(pthread_create(&t, NULL, dma_writer_main, &w), 0);
    while (!atomic_load(&w.done)) {
        assert_reads_rom(&tc);
        reads++;
    }
    /* The last DMA requests may still want serving. */
    assert_int_equal(tc_serve_until(&tc, &w.done, 2000), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.result, 0);
    assert_true(reads > 0);
    assert_int_equal(tc.dma_requests,
                     w.rounds * ((DMA_LEN + DMA_XFER - 1) / DMA_XFER));
    w.src[0] = (uint8_t)(w.rounds - 1);
    assert_memory_equal(guest + 5, w.src, DMA_LEN);
    assert_reads_rom(&tc);
    tc_close(&tc);
    fx_stop(&fx);
    free(w.src);
    free(guest);
}

/* Whether this registration's server reads with the ring (test_env), not
 * polls (UVFIO_NO_RING_RECV) or waits in epoll (UVFIO_NO_IO_URING).  The
 * machines this runs on have the kernel for it (6.0 or later): a server
 * that silently fell back to polling fails here. */
static bool env_on(const char *name)
{
    const char *v = getenv(name);

    return v && *v && strcmp(v, "0") != 0;
}

static bool ring_receives(void)
{
    /* (Under valgrind the server always waits in epoll: ring.c.) */
    return !env_on("UVFIO_NO_IO_URING") && !env_on("UVFIO_NO_RING_RECV") &&
           !RUNNING_ON_VALGRIND;
}

static struct srv_ring_counts counts(struct fixture *fx)
{
    struct srv_ring_counts c;

    uvfio_server_ring_counts(fx->srv, &c);
    return c;
}

/* ---- one connection through run, dispatch, and run on another thread --- */

struct runner {
    struct uvfio_server *srv;
    pthread_t thread;
    int result;
    atomic_bool stop;       /* for the embedded dispatcher */
    bool embedded;
};

static void *run_main(void *arg)
{
    struct runner *r = arg;

    r->result = uvfio_server_run(r->srv);
    return NULL;
}

/* An embedding caller: poll the server's fd, dispatch what is ready. */
static void *embed_main(void *arg)
{
    struct runner *r = arg;
    struct pollfd pfd = { uvfio_server_fd(r->srv), POLLIN, 0 };

    while (!atomic_load(&r->stop)) {
        if (poll(&pfd, 1, 20) > 0 && uvfio_server_dispatch(r->srv, 0) < 0) {
            r->result = -EIO;
            break;
        }
    }
    return NULL;
}

static void runner_start(struct runner *r, struct uvfio_server *srv,
                         bool embedded)
{
    memset(r, 0, sizeof(*r));
    r->srv = srv;
    r->embedded = embedded;
    assert_int_equal(pthread_create(&r->thread, NULL,
                                    embedded ? embed_main : run_main, r), 0);
}

static void runner_stop(struct runner *r)
{
    if (r->embedded)
        atomic_store(&r->stop, true);
    else
        uvfio_server_stop(r->srv);
    pthread_join(r->thread, NULL);
    assert_int_equal(r->result, 0);
}

static void test_connection_survives_loop_changes(void **state)
{
    struct uvfio_wire_device_info info = { .argsz = sizeof(info) };
    struct fixture fx;
    struct runner r;
    struct tclient tc;
    struct uvfio_msg m;
    uint16_t id;
    int fds;

    (void)state;
    assert_int_equal(fx_start(&fx, NULL, 1, false), 0);

    runner_start(&r, fx.srv, false);
    fx_client(&fx, 0, &tc);
    assert_reads_rom(&tc);
    fds = fx_count_fds();
    runner_stop(&r);

    /* Bytes sent while nobody waits are there for whoever comes next. */
    id = tc_send(&tc, UVFIO_CMD_DEVICE_GET_INFO, 0, &info, sizeof(info),
                 NULL, 0);
    runner_start(&r, fx.srv, true);
    assert_int_equal(tc_wait(&tc, id, &m, 2000), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
    assert_reads_rom(&tc);
    runner_stop(&r);

    /* A run on another thread than the first: the ring is rebuilt there;
     * and each run reads with the ring again, the same ring or a new one
     * (its buffers registered once per ring). */
    for (int i = 0; i < 3; i++) {
        struct srv_ring_counts c0, c1;

        runner_start(&r, fx.srv, false);
        c0 = counts(&fx);
        assert_reads_rom(&tc);
        assert_reads_rom(&tc);
        c1 = counts(&fx);
        if (ring_receives())
            assert_true(c1.fed > c0.fed);
        runner_stop(&r);
    }
    assert_int_equal(fx_count_fds(), fds);

    /* Ending the connection between runs still ends it for the peer. */
    runner_start(&r, fx.srv, false);
    tc_close(&tc);
    assert_true(fx_wait_open(fx.td[0].dev, 0, 2000));
    fx_client(&fx, 0, &tc);
    assert_reads_rom(&tc);
    tc_close(&tc);
    runner_stop(&r);
    fx_stop(&fx);
}

/* ---- the ring's own receive ---------------------------------------------- */

/*
 * Requests the kernel holds armed on the ring, from its fdinfo
 * ("PollList:", one line per request waiting on a file) - what no count
 * of ours can show: a removal the kernel refused leaves a request behind
 * that runs on every wake-up of its socket from then on.  (A POLL_REMOVE
 * is refused while the poll's event waits to be run; these accumulated by
 * the thousand with the mode switches before ring_disarm cancelled.)
 */
static int ring_armed(struct fixture *fx)
{
    struct srv_ring_counts c = counts(fx);
    char path[64], line[256];
    bool in_list = false;
    int n = 0;
    FILE *f;

    if (c.ring_fd < 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", c.ring_fd);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "PollList:", 9))
            in_list = true;
        else if (in_list && strstr(line, "op="))
            n++;
        else if (in_list && line[0] != ' ')
            in_list = false;
    }
    fclose(f);
    return n;
}

/* Wait (2 s at most) for the ring to hold at most `n` requests: the
 * loop takes the removals of a turn in its next wait. */
static void assert_armed_at_most(struct fixture *fx, int n)
{
    int i, got = 0;

    for (i = 0; i < 200; i++) {
        got = ring_armed(fx);
        if (got <= n)
            return;
        usleep(10000);
    }
    fail_msg("the ring holds %d requests, expected at most %d", got, n);
}

/* Small requests one after the other: each is read by the ring. */
static void test_ring_reads_requests(void **state)
{
    struct fixture *fx = *state;
    struct srv_ring_counts before, after;
    struct tclient tc;
    int i;

    fx_client(fx, 0, &tc);
    before = counts(fx);
    for (i = 0; i < 100; i++)
        assert_reads_rom(&tc);
    after = counts(fx);
    if (ring_receives()) {
        assert_true(after.fed - before.fed >= 100);
        assert_int_equal(after.to_poll, before.to_poll);
    } else {
        assert_int_equal(after.fed, 0);
    }
    tc_close(&tc);
}

/*
 * Messages bigger than the receive buffer are read by the connection
 * itself (copying them out of the ring's buffers would cost a copy more);
 * small ones after them by the ring again.  Every byte must arrive where
 * it belongs whichever reader took it.
 */
static void test_big_messages_leave_the_ring_and_come_back(void **state)
{
    struct fixture *fx = *state;
    struct srv_ring_counts before, after;
    const uint32_t len = 200u << 10;
    uint8_t *out = malloc(len), *back = malloc(len);
    struct tclient tc;
    int i;
    uint32_t k;

    assert_non_null(out);
    assert_non_null(back);
    fx_client(fx, 0, &tc);
    before = counts(fx);
    for (i = 0; i < 5; i++) {
        for (k = 0; k < len; k++)
            out[k] = (uint8_t)(k * 7 + (uint32_t)i * 13 + (k >> 8));
        assert_int_equal(tc_region_write(&tc, TD_DMABUF, 0, out, len), 0);
        assert_reads_rom(&tc);
        memset(back, 0, len);
        assert_int_equal(tc_region_read(&tc, TD_DMABUF, 0, back, len), 0);
        assert_memory_equal(back, out, len);
        assert_reads_rom(&tc);
    }
    after = counts(fx);
    if (ring_receives()) {
        assert_true(after.to_poll - before.to_poll >= 5);
        assert_true(after.to_recv - before.to_recv >= 5);
        /* ... and the small requests after them were the ring's again. */
        assert_true(after.fed - before.fed >= 15);
    }
    /* What every switch removed is gone: the connection's one request
     * and the epoll fd's poll. */
    assert_armed_at_most(fx, 2);
    tc_close(&tc);
    free(out);
    free(back);
}

/*
 * Big posted writes back to back: the connection switches between its
 * own reads (each message is bigger than the receive buffer) and the
 * ring's receive (idle between two of them) while the next one is
 * already arriving - when a removal can be refused - and nothing it
 * removed may stay armed.
 */
static void test_big_posted_writes_leave_nothing_armed(void **state)
{
    struct fixture *fx = *state;
    const uint32_t len = 96u << 10;
    const size_t one = sizeof(struct uvfio_wire_hdr) +
                       sizeof(struct uvfio_wire_region_rw) + len;
    uint8_t *msg = malloc(one), *back = malloc(len);
    struct tclient tc;
    int i;

    assert_non_null(msg);
    assert_non_null(back);
    fx_client(fx, 0, &tc);
    for (i = 0; i < 300; i++) {
        struct uvfio_wire_hdr h = {
            .msg_id = (uint16_t)i, .cmd = UVFIO_CMD_REGION_WRITE,
            .size = (uint32_t)one, .flags = UVFIO_HDR_NO_REPLY,
        };
        struct uvfio_wire_region_rw rw = { 0, TD_DMABUF, len };

        memcpy(msg, &h, sizeof(h));
        memcpy(msg + sizeof(h), &rw, sizeof(rw));
        memset(msg + sizeof(h) + sizeof(rw), i, len);
        assert_int_equal(tc_send_bytes(&tc, msg, one), 0);
    }
    assert_int_equal(tc_region_read(&tc, TD_DMABUF, 0, back, len), 0);
    for (i = 0; i < (int)len; i++)
        if (back[i] != (uint8_t)299)
            fail_msg("byte %d is %u, not the last write's", i, back[i]);
    assert_armed_at_most(fx, 2);
    tc_close(&tc);
    free(msg);
    free(back);
}

/* A client that floods posted writes, batched into big sends. */
struct flooder {
    struct tclient *tc;
    atomic_bool stop;
    uint32_t last;          /* the value of the last write sent */
    int err;
};

#define FLOOD_BATCH 1024u

static void *flood_main(void *arg)
{
    struct flooder *f = arg;
    const size_t one = sizeof(struct uvfio_wire_hdr) +
                       sizeof(struct uvfio_wire_region_rw) + 4;
    uint8_t *batch = malloc(one * FLOOD_BATCH);
    uint32_t v = 0, i;

    if (!batch) {
        f->err = -ENOMEM;
        return NULL;
    }
    while (!atomic_load(&f->stop) && !f->err) {
        for (i = 0; i < FLOOD_BATCH; i++) {
            struct uvfio_wire_hdr h = {
                .msg_id = (uint16_t)v, .cmd = UVFIO_CMD_REGION_WRITE,
                .size = (uint32_t)one, .flags = UVFIO_HDR_NO_REPLY,
            };
            struct uvfio_wire_region_rw rw = { 0, TD_REGS, 4 };
            uint8_t *p = batch + i * one;

            v++;
            memcpy(p, &h, sizeof(h));
            memcpy(p + sizeof(h), &rw, sizeof(rw));
            memcpy(p + sizeof(h) + sizeof(rw), &v, 4);
        }
        f->err = tc_send_bytes(f->tc, batch, one * FLOOD_BATCH);
    }
    f->last = v;
    free(batch);
    return NULL;
}

/*
 * One client floods its device with posted writes while another keeps
 * reading its own: the ring's buffers are shared, so the flood must
 * neither starve the neighbour (ENOBUFS must come back) nor be read ahead
 * without bound (it is handed back to the connection's own reads), and
 * every write must land, in order: the register ends at the last value.
 */
static void test_flood_beside_a_neighbour(void **state)
{
    struct fixture fx;
    struct tclient a, b;
    struct srv_ring_counts c;
    struct flooder f;
    pthread_t t;
    uint32_t reg = 0;
    int i;

    (void)state;
    assert_int_equal(fx_start(&fx, NULL, 2, true), 0);
    fx_client(&fx, 0, &a);
    fx_client(&fx, 1, &b);
    memset(&f, 0, sizeof(f));
    f.tc = &a;
    assert_int_equal(pthread_create(&t, NULL, flood_main, &f), 0);
    for (i = 0; i < 300; i++)
        assert_reads_rom(&b);
    atomic_store(&f.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(f.err, 0);
    assert_true(f.last >= FLOOD_BATCH);
    /* A request with a reply after the posted writes: they are all done. */
    assert_int_equal(tc_region_read(&a, TD_REGS, 0, &reg, 4), 0);
    assert_int_equal(reg, f.last);
    assert_armed_at_most(&fx, 3);
    c = counts(&fx);
    print_message("flood: %u posted writes while the neighbour read 300 "
                  "times; ring: %llu fed, %llu to poll, %llu back, %llu "
                  "re-armed\n", f.last, (unsigned long long)c.fed,
                  (unsigned long long)c.to_poll,
                  (unsigned long long)c.to_recv,
                  (unsigned long long)c.rearmed);
    tc_close(&a);
    tc_close(&b);
    fx_stop(&fx);
}

/* One thread that runs the server twice: the second run is on the same
 * ring, which must read for the connections again. */
struct twice {
    struct uvfio_server *srv;
    atomic_int runs;
    int result;
};

static void *twice_main(void *arg)
{
    struct twice *t = arg;

    for (int k = 0; k < 2; k++) {
        t->result |= uvfio_server_run(t->srv);
        atomic_store(&t->runs, k + 1);
    }
    return NULL;
}

static void test_second_run_on_the_same_thread(void **state)
{
    struct srv_ring_counts c0, c1;
    struct fixture fx;
    struct tclient tc;
    struct twice t = { 0 };
    pthread_t th;

    (void)state;
    assert_int_equal(fx_start(&fx, NULL, 1, false), 0);
    t.srv = fx.srv;
    assert_int_equal(pthread_create(&th, NULL, twice_main, &t), 0);
    fx_client(&fx, 0, &tc);
    for (int k = 0; k < 2; k++) {
        c0 = counts(&fx);
        assert_reads_rom(&tc);
        assert_reads_rom(&tc);
        c1 = counts(&fx);
        if (ring_receives())
            assert_true(c1.fed >= c0.fed + 2);
        uvfio_server_stop(fx.srv);
        while (atomic_load(&t.runs) < k + 1)
            usleep(1000);
    }
    pthread_join(th, NULL);
    assert_int_equal(t.result, 0);
    tc_close(&tc);
    fx_stop(&fx);
}

/* ---- the option ---------------------------------------------------------- */

static void test_flags_option(void **state)
{
    struct uvfio_server_opts o = { 0 };
    struct uvfio_server *srv = NULL;

    (void)state;
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--no-io-uring"), 1);
    assert_int_equal(o.flags, UVFIO_SERVER_NO_IO_URING);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--no-io-uring=1"), 0);
    assert_non_null(strstr(uvfio_server_opts_help(), "--no-io-uring"));
    assert_int_equal(uvfio_server_create(&o, &srv), 0);
    uvfio_server_destroy(srv);
    o.flags = 1u << 7;
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_half_message_then_eof, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_burst_with_fds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_side_close_reaches_peer,
                                        setup, teardown),
        cmocka_unit_test(test_replies_and_big_messages_from_a_thread),
        cmocka_unit_test_setup_teardown(test_ring_reads_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_big_messages_leave_the_ring_and_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_big_posted_writes_leave_nothing_armed, setup, teardown),
        cmocka_unit_test(test_flood_beside_a_neighbour),
        cmocka_unit_test(test_second_run_on_the_same_thread),
        cmocka_unit_test(test_connection_survives_loop_changes),
        cmocka_unit_test(test_flags_option),
    };

    printf("server loop: waiting on %s\n",
           getenv("UVFIO_NO_IO_URING") ? "epoll (UVFIO_NO_IO_URING)" :
           "io_uring where the kernel has it");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
