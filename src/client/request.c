/* SPDX-License-Identifier: MIT */
/*
 * client/request.c - the request/reply engine.
 *
 * Requests are synchronous for the caller, but the socket is not a simple
 * ping-pong: the server may send DMA_READ/DMA_WRITE at any moment (on the
 * main socket, or on the twin socket when negotiated), and may need the
 * answer before it can answer us.  So one loop does everything: it writes
 * our queued bytes as the socket takes them, reads whatever arrives, serves
 * DMA requests, and stops when the reply it waits for is in - all under one
 * deadline.
 *
 * Replies are matched by msg_id.  A reply whose msg_id is not the one we
 * wait for is dropped: it is the late answer to a request that timed out
 * (the connection stays usable after a timeout, since the output queue
 * keeps the byte stream whole).  A reply with our msg_id but another
 * command is a protocol error.  Commands from the server other than the DMA
 * ones get an ENOSYS error reply.
 *
 * The socket is non-blocking; writes go through proto's uvfio_txq so that a
 * DMA reply produced while a large request is half-written is queued behind
 * it instead of corrupting the stream.  A request with nothing queued
 * before it is written straight from the caller's memory in one sendmsg
 * (uvfio_txq_send), and the common wait - no twin socket, nothing
 * buffered, nothing left to write - sleeps in recvmsg at once: a small
 * request costs one sendmsg, one recvmsg and one clock read.
 *
 * Big data is not copied on the way.  A command's big payload (a
 * MIG_DATA_WRITE chunk) is sent from the caller's memory: the queue only
 * references it, and before the request returns - whatever the outcome -
 * whatever of it is still unsent is copied (uvfio_txq_unref), which after
 * a reply is nothing.  A reply's big data (MIG_DATA_READ) can be read
 * straight into the caller's memory through the receiver's sink, disarmed
 * before the request returns so a late reply never lands there.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "client_priv.h"
#include "util/log.h"

/* Messages handled per socket per loop turn: a flooding server must not
 * keep us from looking at the clock. */
#define DRAIN_BATCH 64

struct waiter {
    uint16_t id;
    uint16_t cmd;
    bool done;
    int err;
    struct uvfio_msg *msg;      /* where the reply goes (zeroed until) */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A request's deadline.  Most requests are answered in the first read and
 * never look at it again, so it is taken from the coarse clock (~6 ns
 * against ~28 ns for the precise one here, a twentieth of a small round
 * trip's gap to a raw ping-pong).  The coarse clock is the precise one as
 * of the last tick, so it lags by less than its resolution; adding the
 * resolution makes the deadline never early and at most one tick (4 ms at
 * HZ=250) late.  Every later check reads the precise clock.
 */
static int64_t deadline_in(int timeout_ms)
{
    static int64_t tick_ms = -1;        /* -1: not known yet; 0: no coarse */
    int64_t tick = __atomic_load_n(&tick_ms, __ATOMIC_RELAXED);
    struct timespec ts;

    if (tick < 0) {
        tick = clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 &&
               ts.tv_sec == 0 ? (ts.tv_nsec + 999999) / 1000000 : 0;
        __atomic_store_n(&tick_ms, tick, __ATOMIC_RELAXED);
    }
    if (!tick || clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
        return now_ms() + timeout_ms;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + tick +
           timeout_ms;
}

static int ms_left(int64_t deadline)
{
    int64_t left = deadline - now_ms();

    if (left <= 0)
        return 0;
    return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static int client_fail(struct uvfio_client *c, int err)
{
    /* EPIPE and ECONNRESET mean the same to a caller: the server is gone. */
    if (err == -EPIPE)
        err = -ECONNRESET;
    if (!c->dead) {
        uvfio_debug("client: connection ended: %s", uvfio_strerror(err));
        c->dead = err;
    }
    return c->dead;
}

int uvfio_client_reply_errno(const struct uvfio_msg *m)
{
    uint32_t e = m->hdr.error;

    /* An ERROR reply may carry errno 0 (spec); the caller still failed. */
    if (e == 0 || e > 4095)
        return -EIO;
    return -(int)e;
}

int uvfio_client_push_error(struct uvfio_client_chan *ch,
                            const struct uvfio_wire_hdr *req, int err)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = req->msg_id,
        .cmd = req->cmd,
        .flags = UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR,
        .error = (uint32_t)-err,
    };

    return uvfio_txq_push(ch->txq, &hdr, NULL, 0, NULL, 0);
}

void uvfio_client_rx_reserve(struct uvfio_client *c, size_t size)
{
    if (size <= c->rx_max)
        return;
    c->rx_max = size;
    uvfio_rx_set_limits(c->main.rx, c->rx_max, c->rx_fds);
    if (c->twin.rx)
        uvfio_rx_set_limits(c->twin.rx, c->rx_max, c->rx_fds);
}

static void handle_command(struct uvfio_client *c,
                           struct uvfio_client_chan *ch,
                           const struct uvfio_msg *m, int *served)
{
    if (m->hdr.cmd == UVFIO_CMD_DMA_READ || m->hdr.cmd == UVFIO_CMD_DMA_WRITE) {
        uvfio_client_serve_dma(c, ch, m);
        if (served)
            (*served)++;
        return;
    }
    uvfio_debug("client: server sent command %u (%s): refused",
                m->hdr.cmd, uvfio_cmd_name(m->hdr.cmd));
    if (!(m->hdr.flags & UVFIO_HDR_NO_REPLY))
        uvfio_client_push_error(ch, &m->hdr, -ENOSYS);
}

/* Takes ownership of *m.  Whether it was a command (which may have
 * queued an answer). */
static bool handle_msg(struct uvfio_client *c, struct uvfio_client_chan *ch,
                       struct uvfio_msg *m, struct waiter *w, int *served)
{
    if ((m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_COMMAND) {
        handle_command(c, ch, m, served);
        uvfio_rx_recycle(ch->rx, m);
        return true;
    }
    if (ch != &c->main || !w || w->done || m->hdr.msg_id != w->id) {
        uvfio_debug("client: dropping unexpected reply id %u (%s)",
                    m->hdr.msg_id, uvfio_cmd_name(m->hdr.cmd));
        uvfio_msg_free(m);
        return false;
    }
    w->done = true;
    if (m->hdr.cmd != w->cmd) {
        uvfio_warn("client: reply to %s came back as %s",
                   uvfio_cmd_name(w->cmd), uvfio_cmd_name(m->hdr.cmd));
        w->err = -EPROTO;
        uvfio_msg_free(m);
        return false;
    }
    *w->msg = *m;
    memset(m, 0, sizeof(*m));
    return false;
}

static bool chan_pending(const struct uvfio_client_chan *ch)
{
    return ch->sock >= 0 && uvfio_txq_pending(ch->txq) > 0;
}

static int chan_flush(struct uvfio_client *c, struct uvfio_client_chan *ch)
{
    int r;

    if (!chan_pending(ch))
        return 0;
    r = uvfio_txq_flush(ch->txq, ch->sock);
    if (r == -EAGAIN)
        return 0;
    return r < 0 ? client_fail(c, r) : 0;
}

/* Read what the socket has (bounded), handing each message out.  The
 * number of commands among them, or -errno. */
static int chan_drain(struct uvfio_client *c, struct uvfio_client_chan *ch,
                      struct waiter *w, int *served)
{
    struct uvfio_msg m;
    int i, r, cmds = 0;

    /* Read until rx says "nothing more": after a short read it says so
     * without another syscall, so draining past our reply is free, and it
     * serves a DMA request that came in the same read.  (m is only looked
     * at when rx filled it in.) */
    ch->backlog = false;
    for (i = 0; i < DRAIN_BATCH; i++) {
        r = uvfio_rx_read(ch->rx, ch->sock, &m);
        if (r == 0)
            return cmds;
        if (r < 0)
            return client_fail(c, r);
        cmds += handle_msg(c, ch, &m, w, served);
    }
    ch->backlog = true;
    return cmds;
}

static bool all_flushed(const struct uvfio_client *c)
{
    return !chan_pending(&c->main) && !chan_pending(&c->twin);
}

/*
 * The common case: a request is out, nothing is buffered, and there is no
 * twin socket to watch - so the reply (or a DMA request) can only come on
 * the main socket.  Sleep in recvmsg itself (bounded by SO_RCVTIMEO, see
 * client.c) instead of poll + recvmsg.
 */
static bool can_wait_in_recv(const struct uvfio_client *c,
                             const struct waiter *w)
{
    return w && c->twin.sock < 0 && !c->main.backlog && all_flushed(c);
}

/* What chan_wait does with what uvfio_rx_read_one returned (r, and *m
 * when r > 0). */
static int chan_took(struct uvfio_client *c, struct uvfio_client_chan *ch,
                     struct waiter *w, int *served, int r, struct uvfio_msg *m)
{
    bool cmds;

    if (r < 0)
        return client_fail(c, r);
    if (r == 0)
        return 0;       /* a sleep slice passed: the caller checks the clock */
    cmds = handle_msg(c, ch, m, w, served);
    /* 2: it came alone, and draining would find nothing. */
    r = r == 2 ? 0 : chan_drain(c, ch, w, served);
    if (r < 0)
        return r;
    /* Only a command can have queued something (a DMA reply). */
    return cmds || r ? chan_flush(c, ch) : 0;
}

static int chan_wait(struct uvfio_client *c, struct uvfio_client_chan *ch,
                     struct waiter *w, int *served)
{
    struct uvfio_msg m;
    int r;

    /* (m is only looked at when rx filled it in.) */
    r = uvfio_rx_read_one(ch->rx, ch->sock, &m);
    return chan_took(c, ch, w, served, r, &m);
}

/*
 * One turn: write what can be written, wait up to `timeout` ms for the
 * sockets, read and serve what arrived.
 */
static int pump(struct uvfio_client *c, int timeout, struct waiter *w,
                int *served)
{
    struct uvfio_client_chan *chans[2] = { &c->main, &c->twin };
    struct pollfd pfd[2];
    int i, n = 0, r;

    if (timeout != 0) {
        r = chan_flush(c, &c->main);
        if (r < 0)
            return r;
        if (can_wait_in_recv(c, w))
            return chan_wait(c, &c->main, w, served);
    }
    for (i = 0; i < 2; i++) {
        if (chans[i]->sock < 0)
            continue;
        r = chan_flush(c, chans[i]);
        if (r < 0)
            return r;
        /* Only flushing, and done: nothing to wait for. */
        if (!w && !served && all_flushed(c))
            return 0;
        /* Messages already buffered in rx are invisible to poll. */
        if (chans[i]->backlog)
            timeout = 0;
        pfd[n].fd = chans[i]->sock;
        pfd[n].events = POLLIN | (chan_pending(chans[i]) ? POLLOUT : 0);
        pfd[n].revents = 0;
        n++;
    }
    r = poll(pfd, n, timeout);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    for (i = 0, n = 0; i < 2; i++) {
        if (chans[i]->sock < 0)
            continue;
        if ((pfd[n++].revents & (POLLIN | POLLHUP | POLLERR)) ||
            chans[i]->backlog) {
            r = chan_drain(c, chans[i], w, served);
            if (r < 0)
                return r;
        }
        r = chan_flush(c, chans[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Run the loop until our bytes (and any DMA replies) are on the wire. */
static int flush_until(struct uvfio_client *c, int64_t deadline)
{
    int r;

    while (!all_flushed(c)) {
        if (c->dead)
            return c->dead;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        r = pump(c, ms_left(deadline), NULL, NULL);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The wait for the reply, once its first turn is over (the deadline
 * was read before it). */
static int wait_rest(struct uvfio_client *c, struct waiter *w,
                     int64_t deadline)
{
    int timeout, r;

    /* The time left is only looked at when a turn did not bring the
     * reply: one clock read per request when the first one does. */
    while (!w->done) {
        timeout = ms_left(deadline);
        if (timeout == 0)
            return -ETIMEDOUT;
        r = pump(c, timeout, w, NULL);
        if (r < 0)
            return r;
    }
    /* DMA replies queued while waiting should not sit in the queue; but
     * our reply is in, so a server too slow to take them does not turn
     * this request into a failure (they go with the next call). */
    if (!all_flushed(c))
        flush_until(c, deadline);
    return 0;
}

/* `sent`: the request left whole and nothing else is queued. */
static int wait_reply(struct uvfio_client *c, struct waiter *w, bool sent,
                      int64_t deadline)
{
    int r;

    /* The first turn of pump() when it has nothing to flush and sleeps
     * in recvmsg, without asking the queue what we know. */
    if (sent && c->twin.sock < 0 && !c->main.backlog)
        r = chan_wait(c, &c->main, w, NULL);
    else
        r = pump(c, c->timeout_ms, w, NULL);
    if (r < 0)
        return r;
    return wait_rest(c, w, deadline);
}

static int check_reply(struct uvfio_client *c, uint16_t cmd,
                       const struct uvfio_msg *m)
{
    int r;

    if (m->hdr.flags & UVFIO_HDR_ERROR)
        return uvfio_client_reply_errno(m);
    if (m->oversize || m->fds_truncated || (m->sunk && m->nfds)) {
        uvfio_warn("client: %s reply too big or with too many fds",
                   uvfio_cmd_name(cmd));
        return -EPROTO;
    }
    /* Only the fixed part is here; its caller checks it against sunk. */
    if (m->sunk)
        return 0;
    r = uvfio_wire_check_reply(cmd, m->payload, m->len, m->nfds,
                               c->caps.max_data_xfer_size);
    if (r < 0) {
        uvfio_warn("client: malformed %s reply (%zu bytes, %zu fds): %s",
                   uvfio_cmd_name(cmd), m->len, m->nfds, uvfio_strerror(r));
        return -EPROTO;
    }
    return 0;
}

/* check_reply for a reply uvfio_rx_read_one delivered alone: it has no
 * fds, and is neither oversize nor sunk, so only the ERROR flag and the
 * payload are left to look at. */
static inline __attribute__((always_inline)) int
check_lone_reply(struct uvfio_client *c, uint16_t cmd,
                 const struct uvfio_msg *m)
{
    if (!(m->hdr.flags & UVFIO_HDR_ERROR) &&
        uvfio_wire_check_reply(cmd, m->payload, m->len, 0,
                               c->caps.max_data_xfer_size) == 0)
        return 0;
    return check_reply(c, cmd, m);     /* the same verdict, and its words */
}

/*
 * A message this small leaves an AF_UNIX stream socket whole or not at
 * all: the kernel cuts a stream write into skbs of up to half the send
 * buffer (whose floor, SOCK_MIN_SNDBUF, is over 4 KiB), and a write that
 * fails on its first skb sends nothing.
 */
#define DIRECT_MAX      256u

/*
 * send_cmd's shortcut for the commonest request: nothing queued before
 * it, no fds, a header and at most two small pieces - one sendmsg straight
 * from the caller's memory, without the queue.  true when it went whole;
 * false when this is not that case or the socket refused it (nothing was
 * sent, and send_cmd's general way does it all again).
 */
static inline __attribute__((always_inline)) bool
send_direct(struct uvfio_client *c, struct uvfio_wire_hdr *hdr,
            const struct iovec *iov, int iovcnt)
{
    struct iovec vec[3];
    struct msghdr mh = { .msg_iov = vec };
    size_t size = UVFIO_HDR_SIZE;
    ssize_t n;
    int i;

    if (iovcnt < 0 || iovcnt > 2 || (iovcnt && !iov) ||
        uvfio_txq_pending(c->main.txq))
        return false;
    vec[0] = (struct iovec){ hdr, UVFIO_HDR_SIZE };
    for (i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > DIRECT_MAX)
            return false;
        size += iov[i].iov_len;
        vec[i + 1] = iov[i];
    }
    if (size > DIRECT_MAX)
        return false;
    hdr->size = (uint32_t)size;
    mh.msg_iovlen = (size_t)iovcnt + 1;
    do {
        n = sendmsg(c->main.sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)size)
        return true;
    if (n > 0) {
        /* Cannot happen (DIRECT_MAX); were it to, the stream is lost. */
        uvfio_warn("client: a %zu-byte request went out in part (%zd)",
                   size, n);
        client_fail(c, -EIO);
        return true;
    }
    return false;
}

/*
 * Queue the command and write what the socket takes of it (*sent, if
 * asked: all of it, and nothing else is queued).  With nothing
 * queued before it (the common case) it goes straight from the caller's
 * iovec in one sendmsg; what the socket does not take is queued, big
 * pieces by reference (see uvfio_txq_send), and the waits that follow
 * write it.  0 once queued, or -errno: refused (nothing sent), or the
 * connection broke.
 */
static int send_cmd(struct uvfio_client *c, uint16_t cmd, uint32_t flags,
                    const struct iovec *iov, int iovcnt, const int *fds,
                    size_t nfds, uint16_t *id, bool *sent)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = c->next_id++,
        .cmd = cmd,
        .flags = UVFIO_HDR_TYPE_COMMAND | flags,
    };
    int r, flushed;

    if (c->dead)
        return c->dead;
    /* Posted writes issued before this command must reach the device
     * first: they go out ahead of it on the same stream. */
    if (c->batch_cnt) {
        r = uvfio_client_batch_push(c);
        if (r < 0)
            return r;
    }
    if (!nfds && send_direct(c, &hdr, iov, iovcnt)) {
        if (id)
            *id = hdr.msg_id;
        if (sent)
            *sent = true;
        return c->dead;
    }
    r = uvfio_txq_send(c->main.txq, c->main.sock, true, &hdr, iov, iovcnt,
                       fds, nfds, &flushed);
    if (r < 0)
        return r;
    if (id)
        *id = hdr.msg_id;
    if (flushed < 0 && flushed != -EAGAIN)
        return client_fail(c, flushed);
    if (sent)
        *sent = flushed == 0;   /* the queue is empty */
    return 0;
}

/* The caller's payload is about to go away: copy what is left of it. */
static int unref_payload(struct uvfio_client *c, int r)
{
    /* An empty queue references nothing. */
    if (uvfio_txq_pending(c->main.txq) && uvfio_txq_unref(c->main.txq) < 0)
        return client_fail(c, -ENOMEM);
    return r;
}

static bool is_reply_to(const struct uvfio_msg *m, uint16_t id,
                        uint16_t cmd)
{
    return (m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY &&
           m->hdr.msg_id == id && m->hdr.cmd == cmd;
}

/* A request's end once its wait is over (r as the wait left it, err the
 * waiter's): its payload no longer referenced, the reply checked.  The
 * caller owns *out only on success (`owned`); it is empty otherwise. */
static int request_end(struct uvfio_client *c, uint16_t cmd, int r, int err,
                       struct uvfio_msg *out, bool owned)
{
    r = unref_payload(c, r);
    if (r == 0)
        r = err;
    if (r == 0)
        r = check_reply(c, cmd, out);
    if (r < 0 || !owned)
        uvfio_client_msg_done(c, out);
    return r;
}

/*
 * After the first read of a request that went out whole with nothing
 * queued (r and *out as uvfio_rx_read_one left them), when that read was
 * not simply our reply: on exactly as wait_reply's first turn and the
 * turns after it.
 */
static __attribute__((noinline)) int
request_rest(struct uvfio_client *c, uint16_t cmd, uint16_t id,
             struct uvfio_msg *out, bool owned, int r, int64_t deadline)
{
    struct waiter w = { .id = id, .cmd = cmd, .msg = out };
    struct uvfio_msg m;

    if (r > 0)
        m = *out;
    memset(out, 0, sizeof(*out));       /* (the waiter's: empty until) */
    r = chan_took(c, &c->main, &w, NULL, r, &m);
    if (r == 0)
        r = wait_rest(c, &w, deadline);
    return request_end(c, cmd, r, w.err, out, owned);
}

/* A request that went out whole with nothing queued: its first read, and
 * when that brought our reply alone, straight to the checks. */
static inline int read_reply(struct uvfio_client *c, uint16_t cmd,
                             uint16_t id, struct uvfio_msg *out, bool owned,
                             int64_t deadline)
{
    int r = uvfio_rx_read_one(c->main.rx, c->main.sock, out);

    if (r == 2 && is_reply_to(out, id, cmd)) {
        r = check_lone_reply(c, cmd, out);
        if (r < 0 || !owned)
            uvfio_client_msg_done(c, out);
        return r;
    }
    return request_rest(c, cmd, id, out, owned, r, deadline);
}

static int request(struct uvfio_client *c, uint16_t cmd,
                   const struct iovec *iov, int iovcnt, const int *fds,
                   size_t nfds, const struct uvfio_client_sink *sink,
                   struct uvfio_msg *reply)
{
    struct uvfio_msg local, *out = reply ? reply : &local;
    struct waiter w = { .cmd = cmd, .msg = out };
    bool sent = false;
    int64_t deadline;
    int r;

    r = send_cmd(c, cmd, 0, iov, iovcnt, fds, nfds, &w.id, &sent);
    if (r < 0) {
        memset(out, 0, sizeof(*out));
        return unref_payload(c, r);
    }
    deadline = deadline_in(c->timeout_ms);
    if (sent && !sink && c->twin.sock < 0 && !c->main.backlog)
        return read_reply(c, cmd, w.id, out, reply != NULL, deadline);
    memset(out, 0, sizeof(*out));
    if (sink)
        uvfio_rx_set_sink(c->main.rx, &(struct uvfio_rx_sink){
            .msg_id = w.id, .cmd = cmd, .skip = sink->skip,
            .buf = sink->buf, .len = sink->len,
        });
    r = wait_reply(c, &w, sent, deadline);
    if (sink)
        uvfio_rx_clear_sink(c->main.rx);
    return request_end(c, cmd, r, w.err, out, reply != NULL);
}

/*
 * The commonest request: nothing batched, queued or buffered, no fds, no
 * twin socket, a small message.  It goes out in one sendmsg straight from
 * the caller's memory (send_direct), and one recvmsg brings the reply
 * (uvfio_rx_read_one); when that read brought our reply and nothing else,
 * nothing was served, queued or left buffered: straight to the checks.
 * Anything else is request()'s: before a byte is sent, from the start;
 * after, from where its first read left (request_rest).
 */
int uvfio_client_request(struct uvfio_client *c, uint16_t cmd,
                         const struct iovec *iov, int iovcnt,
                         const int *fds, size_t nfds,
                         struct uvfio_msg *reply)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = c->next_id,
        .cmd = cmd,
        .flags = UVFIO_HDR_TYPE_COMMAND,
    };
    struct uvfio_msg local, *out = reply ? reply : &local;

    if (nfds || c->dead || c->batch_cnt || c->twin.sock >= 0 ||
        c->main.backlog || !send_direct(c, &hdr, iov, iovcnt))
        return request(c, cmd, iov, iovcnt, fds, nfds, NULL, reply);
    c->next_id++;
    if (c->dead) {                      /* (send_direct's "cannot happen") */
        memset(out, 0, sizeof(*out));
        return c->dead;
    }
    return read_reply(c, cmd, hdr.msg_id, out, reply != NULL,
                      deadline_in(c->timeout_ms));
}

int uvfio_client_request_sink(struct uvfio_client *c, uint16_t cmd,
                              const struct iovec *iov, int iovcnt,
                              const struct uvfio_client_sink *sink,
                              struct uvfio_msg *reply)
{
    return request(c, cmd, iov, iovcnt, NULL, 0, sink, reply);
}

int uvfio_client_post(struct uvfio_client *c, uint16_t cmd,
                      const struct iovec *iov, int iovcnt)
{
    int r;

    r = send_cmd(c, cmd, UVFIO_HDR_NO_REPLY, iov, iovcnt, NULL, 0, NULL,
                 NULL);
    if (r == 0 && !all_flushed(c))
        r = flush_until(c, now_ms() + c->timeout_ms);
    return unref_payload(c, r);
}

UVFIO_API int uvfio_client_flush(struct uvfio_client *c)
{
    int r;

    if (c->dead)
        return c->dead;
    r = uvfio_client_batch_push(c);
    if (r < 0)
        return r;
    return flush_until(c, now_ms() + c->timeout_ms);
}

UVFIO_API int uvfio_client_fd(const struct uvfio_client *c)
{
    return c->epfd >= 0 ? c->epfd : c->main.sock;
}

/*
 * Serve what is waiting; if nothing is, wait up to timeout_ms for
 * something.  The DMA replies are flushed before returning (bounded by the
 * request timeout: a server that does not read them is its own problem).
 */
UVFIO_API int uvfio_client_dispatch(struct uvfio_client *c, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
    int served = 0, r;

    if (c->dead)
        return c->dead;
    for (;;) {
        r = pump(c, timeout_ms < 0 ? -1 : ms_left(deadline), NULL, &served);
        if (r < 0)
            return r;
        if (served || now_ms() >= deadline)
            break;
    }
    r = flush_until(c, now_ms() + c->timeout_ms);
    return r < 0 ? r : served;
}
