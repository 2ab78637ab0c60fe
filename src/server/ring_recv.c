// SPDX-License-Identifier: MIT
/*
 * server/ring_recv.c - the run loop's ring reads the clients' requests.
 *
 * With a multishot poll (ring.c) a small request costs the server two
 * syscalls: the io_uring_enter that sends the last reply and sleeps, and
 * the recvmsg that reads the request the poll announced.  A multishot
 * RECVMSG into provided buffers reads the request inside the same
 * io_uring_enter, as the task wakes: one syscall per round trip, 6-8 %
 * of a REGION_READ against a raw socket ping-pong (bench/ring_shapes,
 * docs/testing.md).  The bytes (and SCM_RIGHTS fds) a completion brings are
 * fed to the connection's receiver (uvfio_rx_feed) and the buffer goes
 * straight back to the ring, so a few buffers serve every connection.
 *
 * Order.  The receiver may still read the socket itself (a handler that
 * waits inline for a DMA reply, a connection in poll mode), so both
 * readers must take bytes in stream order.  The ring reads a socket only
 * inside an io_uring_enter of the thread that owns it (DEFER_TASKRUN runs
 * the receive as that thread's task work, and a new receive reads at
 * once as it is submitted), and every io_uring_enter of the ring code is
 * followed by a reap that feeds every completion before control goes back
 * to anything that might read (ring.c: reap, get_sqe's "unreaped").  So
 * whatever the ring read is in the receiver before the receiver reads the
 * socket again.
 *
 * Read-ahead.  The socket buffer no longer holds a client back while the
 * ring reads for it, so a connection that has more fed than its receive
 * buffer holds, or has a message bigger than that buffer under way
 * (a 64 MiB MIG_DATA_WRITE is better read straight into its payload than
 * copied out of 8 KiB buffers), goes back to a poll (conn_feed says so);
 * it gets its receive again once its receiver is idle
 * (srv_ring_after_event).  So a flooding client costs at most one reap's
 * worth of buffers (RECV_NBUF x RECV_BUF_SIZE) beyond its receive buffer.
 *
 * Receives are not used on twin sockets (DMA replies only, rare) or when
 * the kernel cannot do them (provided-buffer rings came in 5.19, multishot
 * RECVMSG in 6.0); UVFIO_NO_RING_RECV=1 turns them off.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/transport.h"
#include "ring_priv.h"
#include "util/log.h"

/* 256 KiB for the server: a small request needs one buffer (a 4 KiB
 * REGION_WRITE fits with the control room), a big message reads at most
 * this much ahead before its connection reads for itself. */
#define RECV_NBUF       32u             /* a power of two */
#define RECV_BUF_SIZE   (8u << 10)
#define RECV_BGID       0
#define RECV_RING_BYTES (RECV_NBUF * sizeof(struct io_uring_buf))
#define RECV_BUFS_BYTES ((size_t)RECV_NBUF * RECV_BUF_SIZE)

static uint8_t *buf_of(const struct ring_recv *rv, uint32_t bid)
{
    return rv->bufs + (size_t)bid * RECV_BUF_SIZE;
}

/* Buffer bid back in the ring, for the kernel to fill again. */
static void give_back(struct ring_recv *rv, uint32_t bid)
{
    io_uring_buf_ring_add(rv->br, buf_of(rv, bid), RECV_BUF_SIZE,
                          (unsigned short)bid,
                          io_uring_buf_ring_mask(RECV_NBUF), 0);
    io_uring_buf_ring_advance(rv->br, 1);
}

void ring_recv_setup(struct srv_ring *r)
{
    struct ring_recv *rv = &r->recv;
    struct io_uring_buf_reg reg = {
        .ring_entries = RECV_NBUF,
        .bgid = RECV_BGID,
    };
    int ret;

    rv->on = false;
    if (ring_env_on("UVFIO_NO_RING_RECV"))
        return;
    if (rv->registered) {
        rv->on = true;              /* a later run on the same ring */
        return;
    }
    /* Untouched pages cost nothing: mapped once, kept across runs. */
    if (!rv->br) {
        void *br = mmap(NULL, RECV_RING_BYTES, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void *bufs = mmap(NULL, RECV_BUFS_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (br == MAP_FAILED || bufs == MAP_FAILED) {
            if (br != MAP_FAILED)
                munmap(br, RECV_RING_BYTES);
            if (bufs != MAP_FAILED)
                munmap(bufs, RECV_BUFS_BYTES);
            return;
        }
        rv->br = br;
        rv->bufs = bufs;
        /* Room for as many fds as any message may carry: the receiver
         * closes what is over its own limit, as it does for a read. */
        rv->tmpl.msg_controllen =
            CMSG_SPACE(UVFIO_MAX_FDS_LIMIT * sizeof(int));
    }
    reg.ring_addr = (uint64_t)(uintptr_t)rv->br;
    ret = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (ret < 0) {
        uvfio_debug("server: no provided-buffer ring (%s): polling sockets",
                    uvfio_strerror(ret));
        return;
    }
    /* Every buffer in (a ring made anew starts empty). */
    io_uring_buf_ring_init(rv->br);
    for (uint32_t b = 0; b < RECV_NBUF; b++)
        give_back(rv, b);
    rv->registered = true;
    rv->on = true;
}

void ring_recv_teardown(struct srv_ring *r)
{
    struct ring_recv *rv = &r->recv;

    /* (The registration ends with the ring.) */
    if (rv->br)
        munmap(rv->br, RECV_RING_BYTES);
    if (rv->bufs)
        munmap(rv->bufs, RECV_BUFS_BYTES);
    memset(rv, 0, sizeof(*rv));
}

int ring_arm_recv(struct srv_ring *r, uint32_t i)
{
    struct io_uring_sqe *sqe = ring_get_sqe(r);

    if (!sqe)
        return -EBUSY;
    io_uring_prep_recvmsg_multishot(sqe, r->slots[i].fd, &r->recv.tmpl,
                                    MSG_CMSG_CLOEXEC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_BGID;
    io_uring_sqe_set_data64(sqe, slot_key(r, i) | KEY_RECV);
    r->slots[i].mode = SLOT_RECV;
    return 0;
}

void ring_disarm(struct srv_ring *r, uint32_t i)
{
    struct ring_slot *s = &r->slots[i];
    struct io_uring_sqe *sqe;

    if (s->mode == SLOT_NONE)
        return;
    sqe = ring_get_sqe(r);
    if (sqe) {
        /* An ASYNC_CANCEL, not a POLL_REMOVE, for a poll too: a remove
         * fails (-EALREADY) while an event of the poll waits to be run as
         * task work - as one does whenever data came in the same turn - and
         * leaves the poll armed for good. */
        io_uring_prep_cancel64(sqe, slot_key(r, i) |
                               (s->mode == SLOT_RECV ? KEY_RECV : 0), 0);
        io_uring_sqe_set_data64(sqe, KEY_CANCEL);
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
    }
    s->mode = SLOT_NONE;
    s->arm++;               /* what it still completes is not current */
}

/* From the ring's receive to a poll: the connection reads for itself. */
static void to_poll(struct srv_ring *r, uint32_t i)
{
    RING_COUNT(r, to_poll);
    ring_disarm(r, i);
    if (ring_arm_poll(r, i) < 0)
        uvfio_warn("server: cannot poll a client socket");
}

void srv_ring_after_event(struct uvfio_server *srv,
                          const struct srv_ring_event *ev)
{
    struct srv_ring *r = srv->ring;
    struct ring_slot *s;
    uint32_t i;

    if (ev->key & KEY_RECV)
        return;             /* (the common case: already receiving) */
    s = key_slot(r, ev->key);
    if (!s || s->tag != ev->tag || !s->recv_ok || s->mode != SLOT_POLL ||
        !r->recv.on || !conn_rx_idle(s->tag->obj))
        return;
    i = (uint32_t)(s - r->slots);
    RING_COUNT(r, to_recv);
    ring_disarm(r, i);
    if (ring_arm_recv(r, i) < 0)
        to_poll(r, i);
    ring_settle(r);
}

void uvfio_server_ring_counts(struct uvfio_server *srv,
                              struct srv_ring_counts *out)
{
    const struct srv_ring_counts *c = srv->ring ? &srv->ring->counts : NULL;

    memset(out, 0, sizeof(*out));
    out->ring_fd = -1;
    if (!c)
        return;
    out->ring_fd = srv->ring->ring.ring_fd;
    out->fed = __atomic_load_n(&c->fed, __ATOMIC_RELAXED);
    out->to_poll = __atomic_load_n(&c->to_poll, __ATOMIC_RELAXED);
    out->to_recv = __atomic_load_n(&c->to_recv, __ATOMIC_RELAXED);
    out->rearmed = __atomic_load_n(&c->rearmed, __ATOMIC_RELAXED);
}

/* The fds a receive brought, marked close-on-exec (a kernel that does
 * not honour MSG_CMSG_CLOEXEC for io_uring must not leak them to a
 * child); how many. */
static size_t take_fds(struct io_uring_recvmsg_out *o, struct msghdr *tmpl,
                       int *fds)
{
    struct cmsghdr *c;
    size_t n = 0, k, j;
    int fd, fl;

    for (c = io_uring_recvmsg_cmsg_firsthdr(o, tmpl); c;
         c = io_uring_recvmsg_cmsg_nexthdr(o, tmpl, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (j = 0; j < k; j++) {
            memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
            if (n == UVFIO_MAX_FDS_LIMIT) {     /* cannot happen: room */
                close(fd);
                continue;
            }
            fl = fcntl(fd, F_GETFD);
            if (fl >= 0 && !(fl & FD_CLOEXEC))
                fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
            fds[n++] = fd;
        }
    }
    return n;
}

/*
 * The bytes and fds of a receive's buffer to slot s's connection (NULL:
 * gone, they are dropped).  The buffer goes back at once.  -1 when the
 * completion does not describe a buffer of ours; else 1 at the end of the
 * stream, 2 when the connection should stop reading ahead, 0 otherwise.
 */
static int feed(struct srv_ring *r, const struct io_uring_cqe *cqe,
                struct ring_slot *s)
{
    struct ring_recv *rv = &r->recv;
    uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    struct io_uring_recvmsg_out *o;
    int fds[UVFIO_MAX_FDS_LIMIT];
    size_t n, nfds;
    int ret = 0;

    if (!(cqe->flags & IORING_CQE_F_BUFFER) || bid >= RECV_NBUF)
        return -1;
    o = io_uring_recvmsg_validate(buf_of(rv, bid), cqe->res, &rv->tmpl);
    if (!o) {
        give_back(rv, bid);
        return -1;
    }
    nfds = take_fds(o, &rv->tmpl, fds);
    n = io_uring_recvmsg_payload_length(o, cqe->res, &rv->tmpl);
    if (!s) {
        while (nfds)
            close(fds[--nfds]);
    } else {
        RING_COUNT(r, fed);
        if (conn_feed(s->tag->obj, io_uring_recvmsg_payload(o, &rv->tmpl),
                      n, fds, nfds, o->flags & MSG_CTRUNC))
            ret = 2;
        if (!n)
            ret = 1;
    }
    give_back(rv, bid);
    return ret;
}

void ring_recv_cqe(struct srv_ring *r, const struct io_uring_cqe *cqe,
                   struct reap_out *out)
{
    uint64_t key = io_uring_cqe_get_data64(cqe);
    struct ring_slot *s = key_slot(r, key);
    bool more = cqe->flags & IORING_CQE_F_MORE;
    uint32_t i;
    int fed = -1;

    if (cqe->res >= 0) {
        fed = feed(r, cqe, s);
        if (fed >= 0 && s)
            ring_deliver(r, out, s->tag, key, EPOLLIN | SRV_EV_FED |
                         (fed == 1 ? EPOLLRDHUP : 0));
    } else if (cqe->flags & IORING_CQE_F_BUFFER) {
        give_back(&r->recv, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    }
    /* What is armed now is not this receive's business unless it is
     * still the one armed. */
    if (!s || s->mode != SLOT_RECV || !key_current(s, key))
        return;
    i = (uint32_t)(s - r->slots);
    if (!more)
        s->mode = SLOT_NONE;        /* this receive has ended */
    if (fed == 1)
        return;                     /* the end: nothing more to read */
    if (fed == 2) {
        to_poll(r, i);
    } else if (fed == 0 || cqe->res == -ENOBUFS) {
        /* Buffers ran out (they are all back by now) or the kernel ended
         * the receive for a reason of its own: again. */
        if (!more) {
            RING_COUNT(r, rearmed);
            if (ring_arm_recv(r, i) < 0)
                to_poll(r, i);
        }
    } else {
        /* Anything else: the connection reads the socket itself, and
         * finds out what is wrong.  A kernel that cannot receive this way
         * says so once for all. */
        if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP) {
            uvfio_debug("server: no multishot receive (%s): polling sockets",
                        uvfio_strerror(cqe->res));
            r->recv.on = false;
        }
        to_poll(r, i);
        ring_deliver(r, out, s->tag, key & ~KEY_RECV, EPOLLIN);
    }
}
