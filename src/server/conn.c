// SPDX-License-Identifier: MIT
/*
 * server/conn.c - one client connection.
 *
 * Input is read with proto's incremental receiver, so a client that sends
 * half a message costs only its buffer; at most SRV_CONN_BUDGET messages
 * are handled before the loop turns to other devices, and what is left
 * waits behind the wake eventfd.  Output goes through a bounded queue that
 * drains on EPOLLOUT; a client that lets it fill up is not reading its
 * replies and is dropped.
 *
 * A connection ends on EOF, on a malformed stream, on a full queue, or
 * when told to by the owner; whoever notices first records why in `dead`
 * (any thread), and the dispatch thread tears it down once nothing of it
 * is on the stack: the client's DMA maps and IRQ eventfds go (the core's
 * detach), the device keeps its state, and its socket accepts again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server_priv.h"
#include "util/log.h"

static const char *conn_name(const struct srv_conn *c)
{
    return uvfio_device_name(c->sd->dev);
}

static size_t msg_size_for(uint64_t max_xfer)
{
    if (max_xfer < SRV_MIN_MSG_SIZE)
        max_xfer = SRV_MIN_MSG_SIZE;
    return (size_t)max_xfer + SRV_MSG_OVERHEAD;
}

void conn_set_limits(struct srv_conn *c, uint64_t max_xfer)
{
    size_t size = msg_size_for(max_xfer);

    uvfio_rx_set_limits(c->rx, size, c->srv->opts.max_msg_fds);
    if (c->twin_rx)
        uvfio_rx_set_limits(c->twin_rx, size, 0);
}

static int init_sync(struct srv_conn *c)
{
    pthread_condattr_t attr;
    int r;

    r = pthread_mutex_init(&c->lock, NULL);
    if (r)
        return -r;
    /* Timeouts are measured on the monotonic clock: a wall-clock jump must
     * not make a DMA wait forever or fail at once. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    r = pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (r) {
        pthread_mutex_destroy(&c->lock);
        return -r;
    }
    return 0;
}

static struct srv_conn *conn_alloc(struct srv_dev *sd, int fd)
{
    struct uvfio_server *srv = sd->srv;
    size_t size = msg_size_for(srv->opts.max_data_xfer_size);
    struct srv_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (init_sync(c) < 0) {
        free(c);
        return NULL;
    }
    c->srv = srv;
    c->sd = sd;
    c->out.fd = fd;
    c->twin.fd = -1;
    c->deferred_tail = &c->deferred;
    c->tag = (struct srv_tag){ SRV_TAG_CONN, c };
    c->twin_tag = (struct srv_tag){ SRV_TAG_TWIN, c };
    c->max_xfer = srv->opts.max_data_xfer_size;
    c->client.ctx = c;
    c->client.dma_rw = srv_dma_rw;
    c->client.max_data_xfer = srv->opts.max_data_xfer_size;
    c->client.max_dma_maps = srv->opts.max_dma_maps;
    c->rx = uvfio_rx_new(size, SRV_DISCARD_LIMIT, srv->opts.max_msg_fds);
    c->out.txq = uvfio_txq_new(srv->opts.max_queued_reply_bytes);
    if (!c->rx || !c->out.txq) {
        c->out.fd = -1;     /* stays the caller's */
        conn_free(c);
        return NULL;
    }
    return c;
}

int conn_new(struct srv_dev *sd, int fd)
{
    struct srv_conn *c = conn_alloc(sd, fd);
    int r;

    if (!c)
        return -ENOMEM;
    r = srv_epoll_add(sd->srv, fd, EPOLLIN, &c->tag);
    if (r < 0) {
        c->out.fd = -1;
        conn_free(c);
        return r;
    }
    sd->conn = c;
    /* One client at a time: the next one waits in the listen backlog. */
    srv_dev_listen(sd, false);
    uvfio_info("server: %s: client connected", conn_name(c));
    return 0;
}

/* ---- output ------------------------------------------------------------ */

static struct srv_tag *out_tag(struct srv_conn *c, struct srv_out *o)
{
    return o == &c->twin ? &c->twin_tag : &c->tag;
}

static void set_pollout(struct srv_conn *c, struct srv_out *o, bool on)
{
    if (o->pollout == on)
        return;
    if (srv_epoll_mod(c->srv, o->fd, EPOLLIN | (on ? EPOLLOUT : 0),
                      out_tag(c, o)) == 0)
        o->pollout = on;
}

/* What a flush of o returned: POLLOUT while bytes remain, the end of the
 * connection when the socket is broken. */
static inline int conn_flushed_locked(struct srv_conn *c, struct srv_out *o,
                                      int r)
{
    if (r == 0 || r == -EAGAIN) {
        set_pollout(c, o, r == -EAGAIN);
        return 0;
    }
    conn_fail_locked(c, -r, "cannot send to the client");
    return r;
}

int conn_flush_locked(struct srv_conn *c, struct srv_out *o)
{
    int r;

    if (c->dead)
        return -ECONNRESET;
    /* The ring's send is out of our hands until its result is seen; the
     * loop flushes then (come round now, for a sender on another thread). */
    if (o->rtx == SRV_RTX_INFLIGHT) {
        srv_wake(c->srv);
        return 0;
    }
    r = conn_rtx_settle_locked(c, o);
    if (r < 0)
        return r;
    return conn_flushed_locked(c, o, uvfio_txq_flush(o->txq, o->fd));
}

/* A push refused: the connection ends (a full queue means a client that
 * does not read its replies). */
static int conn_refused_locked(struct srv_conn *c, int r)
{
    if (r == -ENOBUFS)
        conn_fail_locked(c, ENOBUFS,
                         "queued replies over the limit: client not reading");
    else
        conn_fail_locked(c, -r, "cannot queue a message");
    return r;
}

/* After a push: a refused message ends the connection, else send. */
static int conn_queued_locked(struct srv_conn *c, struct srv_out *o, int r)
{
    if (r < 0)
        return conn_refused_locked(c, r);
    return conn_flush_locked(c, o);
}

/* ---- replies the run loop's ring sends (ring.c) -------------------------- */

/*
 * A reply sent by sendmsg wakes the client, which may take the CPU from
 * the server at once; the server then comes back only to go to sleep.
 * Handed to the ring instead, the reply goes out inside the same
 * io_uring_enter that puts the server to sleep (~3 % of a small round
 * trip, docs/testing.md).  Until then it waits in o->rtx_buf (PENDING);
 * anything else to send on o sends it first, by sendmsg, so the order
 * on the wire is the order of the calls.  Once handed over (INFLIGHT)
 * nobody else may write to the socket - a large message sent meanwhile
 * could interleave with it - so others queue, and the loop, which sees
 * the result as it wakes, flushes the queue.
 */
static bool rtx_take(struct srv_conn *c, struct srv_out *o,
                     const struct uvfio_wire_hdr *hdr,
                     const struct iovec *iov, int iovcnt)
{
    size_t len = (size_t)UVFIO_HDR_SIZE + (iovcnt ? iov->iov_len : 0);
    struct uvfio_wire_hdr h = *hdr;

    if (iovcnt > 1 || len > SRV_RTX_MAX || o->rtx != SRV_RTX_NONE ||
        o->pollout || uvfio_txq_pending(o->txq) || !srv_ring_here(c->srv))
        return false;
    if (!o->rtx_buf) {
        o->rtx_buf = malloc(SRV_RTX_MAX);
        if (!o->rtx_buf)
            return false;
    }
    h.size = (uint32_t)len;
    memcpy(o->rtx_buf, &h, UVFIO_HDR_SIZE);
    if (iovcnt)
        memcpy(o->rtx_buf + UVFIO_HDR_SIZE, iov->iov_base, iov->iov_len);
    o->rtx_len = (uint32_t)len;
    o->rtx = SRV_RTX_PENDING;
    if (srv_ring_tx_add(c->srv, c, o))
        return true;
    o->rtx = SRV_RTX_NONE;
    return false;
}

/* The pending reply through the queue, as any message would go. */
int conn_rtx_settle_locked(struct srv_conn *c, struct srv_out *o)
{
    struct uvfio_wire_hdr hdr;
    struct iovec iov;
    int r, flushed;

    if (o->rtx != SRV_RTX_PENDING)
        return 0;
    o->rtx = SRV_RTX_NONE;
    memcpy(&hdr, o->rtx_buf, UVFIO_HDR_SIZE);
    iov.iov_base = o->rtx_buf + UVFIO_HDR_SIZE;
    iov.iov_len = o->rtx_len - UVFIO_HDR_SIZE;
    r = uvfio_txq_send(o->txq, o->fd, false, &hdr, &iov, iov.iov_len ? 1 : 0,
                       NULL, 0, &flushed);
    if (r < 0)
        return conn_refused_locked(c, r);
    return conn_flushed_locked(c, o, flushed);
}

void conn_rtx_done_locked(struct srv_conn *c, struct srv_out *o, int res)
{
    if (o->rtx != SRV_RTX_INFLIGHT)
        return;
    o->rtx = SRV_RTX_NONE;
    if (c->dead)
        return;
    if (res == -EAGAIN) {
        /* Not a byte went (one skb, SRV_RTX_MAX): send it the usual way,
         * behind what others queued meanwhile. */
        o->rtx = SRV_RTX_PENDING;
        conn_rtx_settle_locked(c, o);
    } else if (res < 0) {
        conn_fail_locked(c, -res, "cannot send to the client");
        return;
    } else if ((uint32_t)res != o->rtx_len) {
        conn_fail_locked(c, EIO, "the kernel sent part of a small reply");
        return;
    }
    if (uvfio_txq_pending(o->txq))
        conn_flush_locked(c, o);
}

static inline int send_locked(struct srv_conn *c, struct srv_out *o,
                              struct uvfio_wire_hdr *hdr,
                              const struct iovec *iov, int iovcnt,
                              const int *fds, size_t nfds)
{
    int r, flushed;

    if (c->dead)
        return -ECONNRESET;
    if (o->rtx == SRV_RTX_INFLIGHT) {
        r = uvfio_txq_push(o->txq, hdr, iov, iovcnt, fds, nfds);
        if (r < 0)
            return conn_refused_locked(c, r);
        srv_wake(c->srv);
        return 0;
    }
    r = conn_rtx_settle_locked(c, o);
    if (r < 0)
        return r;
    /* Push and flush in one: with nothing queued, the message goes
     * straight from iov and only what the socket leaves is queued. */
    r = uvfio_txq_send(o->txq, o->fd, false, hdr, iov, iovcnt, fds, nfds,
                       &flushed);
    if (r < 0)
        return conn_refused_locked(c, r);
    return conn_flushed_locked(c, o, flushed);
}

int conn_send_locked(struct srv_conn *c, struct srv_out *o,
                     struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                     int iovcnt, const int *fds, size_t nfds)
{
    return send_locked(c, o, hdr, iov, iovcnt, fds, nfds);
}

void conn_reply(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                const void *payload, size_t len, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = req->msg_id,
        .cmd = req->cmd,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };
    struct iovec iov = { (void *)payload, len };

    if (req->flags & UVFIO_HDR_NO_REPLY)
        return;
    pthread_mutex_lock(&c->lock);
    if (nfds || c->dead || !rtx_take(c, &c->out, &hdr, &iov, len ? 1 : 0))
        send_locked(c, &c->out, &hdr, &iov, len ? 1 : 0, fds, nfds);
    pthread_mutex_unlock(&c->lock);
}

void conn_reply_buf_get(struct srv_conn *c, struct uvfio_buf *b)
{
    *b = c->rep;
    c->rep = (struct uvfio_buf)UVFIO_BUF_INIT;
    b->len = 0;
    if (!c->rep_lent)
        return;
    /* Lent to the queue with a big reply: back once that has gone. */
    pthread_mutex_lock(&c->lock);
    uvfio_txq_reclaim(c->out.txq, b);
    pthread_mutex_unlock(&c->lock);
    c->rep_lent = b->cap < SRV_REPLY_TAKE_MIN;
}

void conn_reply_buf_put(struct srv_conn *c, struct uvfio_buf *b)
{
    if (c->rep.data)        /* only when a nested command built its own */
        uvfio_buf_free(&c->rep);
    c->rep = *b;
    *b = (struct uvfio_buf)UVFIO_BUF_INIT;
}

void conn_reply_buf(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                    struct uvfio_buf *b, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = req->msg_id,
        .cmd = req->cmd,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };

    if (req->flags & UVFIO_HDR_NO_REPLY)
        return;
    /* A small reply is sent from b (what the socket does not take is
     * copied into the queue): cheaper than passing buffers around. */
    if (b->len < SRV_REPLY_TAKE_MIN) {
        struct iovec iov = { b->data, b->len };

        pthread_mutex_lock(&c->lock);
        if (nfds || c->dead ||
            !rtx_take(c, &c->out, &hdr, &iov, b->len ? 1 : 0))
            send_locked(c, &c->out, &hdr, &iov, b->len ? 1 : 0, fds, nfds);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (!c->dead)
        conn_queued_locked(c, &c->out,
                           uvfio_txq_push_buf(c->out.txq, &hdr, b, fds,
                                              nfds));
    pthread_mutex_unlock(&c->lock);
    if (!b->data)
        c->rep_lent = true;
}

void conn_reply_error(struct srv_conn *c, const struct uvfio_wire_hdr *req,
                      int err)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = req->msg_id,
        .cmd = req->cmd,
        .flags = UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR,
        .error = (uint32_t)err,
    };

    if (req->flags & UVFIO_HDR_NO_REPLY) {
        /* Nobody will hear of it otherwise. */
        uvfio_warn("server: %s: %s (no reply wanted) failed: %s",
                   conn_name(c), uvfio_cmd_name(req->cmd),
                   uvfio_strerror(err));
        return;
    }
    uvfio_debug("server: %s: %s failed: %s", conn_name(c),
                uvfio_cmd_name(req->cmd), uvfio_strerror(err));
    pthread_mutex_lock(&c->lock);
    conn_send_locked(c, &c->out, &hdr, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&c->lock);
}

/* ---- ending ------------------------------------------------------------ */

void conn_fail_locked(struct srv_conn *c, int err, const char *why)
{
    if (c->dead)
        return;
    /* Atomic because conn_dead() reads it without the lock. */
    __atomic_store_n(&c->dead, err ? err : ECONNRESET, __ATOMIC_RELEASE);
    if (err == ECONNRESET)
        uvfio_info("server: %s: %s", conn_name(c), why);
    else
        uvfio_warn("server: %s: dropping client: %s (%s)", conn_name(c),
                   why, uvfio_strerror(err));
    srv_dma_fail_all_locked(c, -ECONNRESET);
    pthread_cond_broadcast(&c->cond);
    /* Anyone blocked in poll() on these sockets - a DMA wait on the
     * dispatch thread, the client - learns at once. */
    shutdown(c->out.fd, SHUT_RDWR);
    if (c->twin.fd >= 0)
        shutdown(c->twin.fd, SHUT_RDWR);
    /* The teardown runs on the dispatch thread; make it come round. */
    srv_wake(c->srv);
}

void conn_fail(struct srv_conn *c, int err, const char *why)
{
    pthread_mutex_lock(&c->lock);
    conn_fail_locked(c, err, why);
    pthread_mutex_unlock(&c->lock);
}

/*
 * Whether the connection has ended, for the dispatch thread's loop,
 * without the lock: `dead` only ever goes from 0 to an errno (under the
 * lock, atomically), and a stale 0 read here is what a read just before
 * another thread's conn_fail would have seen - the message handled then
 * finds the connection dead when it replies, and the next check ends it.
 */
static bool conn_dead(struct srv_conn *c)
{
    return __atomic_load_n(&c->dead, __ATOMIC_ACQUIRE) != 0;
}

static void close_out(struct srv_conn *c, struct srv_out *o)
{
    if (o->fd < 0)
        return;
    srv_ring_tx_forget(c->srv, o);
    o->rtx = SRV_RTX_NONE;
    srv_epoll_del(c->srv, o->fd);
    close(o->fd);
    o->fd = -1;
}

void conn_destroy(struct srv_conn *c)
{
    struct srv_dev *sd = c->sd;
    struct uvfio_server *srv = c->srv;

    /* Still on the stack: conn_process tears it down on the way out. */
    if (c->closed || c->depth)
        return;
    c->closed = true;
    conn_fail(c, ECONNRESET, "connection closed");
    /* Before the core lets go of the device, every DMA waiter has been
     * failed above, so a detach that waits for DMA in flight cannot hang. */
    if (c->attached)
        uvfio_core_detach(sd->dev);
    c->attached = false;
    pthread_mutex_lock(&c->lock);
    while (c->users)
        pthread_cond_wait(&c->cond, &c->lock);
    close_out(c, &c->out);
    close_out(c, &c->twin);
    pthread_mutex_unlock(&c->lock);
    sd->conn = NULL;
    if (sd->listen_fd >= 0)
        srv_dev_listen(sd, true);
    else
        uvfio_info("server: %s: its only client left; not served any more",
                   uvfio_device_name(sd->dev));
    if (srv->dispatch_depth) {
        c->zombie_next = srv->zombies;
        srv->zombies = c;
    } else {
        conn_free(c);
    }
}

void conn_free(struct srv_conn *c)
{
    while (c->deferred) {
        struct srv_deferred *d = c->deferred;

        c->deferred = d->next;
        uvfio_msg_free(&d->msg);
        free(d);
    }
    if (c->out.fd >= 0)
        close(c->out.fd);
    if (c->twin.fd >= 0)
        close(c->twin.fd);
    uvfio_rx_free(c->rx);
    uvfio_rx_free(c->twin_rx);
    uvfio_buf_free(&c->rep);
    uvfio_txq_free(c->out.txq);
    uvfio_txq_free(c->twin.txq);
    free(c->out.rtx_buf);
    free(c->twin.rtx_buf);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- input ------------------------------------------------------------- */

int conn_defer(struct srv_conn *c, struct uvfio_msg *m)
{
    struct srv_deferred *d;

    if (c->deferred_msgs >= SRV_DEFER_MAX_MSGS ||
        m->len > c->srv->opts.max_queued_reply_bytes - c->deferred_bytes) {
        uvfio_msg_free(m);
        return -ENOBUFS;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        uvfio_msg_free(m);
        return -ENOMEM;
    }
    d->msg = *m;
    memset(m, 0, sizeof(*m));
    *c->deferred_tail = d;
    c->deferred_tail = &d->next;
    c->deferred_msgs++;
    c->deferred_bytes += d->msg.len;
    return 0;
}

static bool undefer(struct srv_conn *c, struct uvfio_msg *m)
{
    struct srv_deferred *d = c->deferred;

    if (!d)
        return false;
    c->deferred = d->next;
    if (!c->deferred)
        c->deferred_tail = &c->deferred;
    c->deferred_msgs--;
    c->deferred_bytes -= d->msg.len;
    *m = d->msg;
    free(d);
    return true;
}

static const char *rx_error(int r)
{
    if (r == -ECONNRESET)
        return "client disconnected";
    if (r == -EPROTO)
        return "malformed message header";
    return "receive failed";
}

/* The next message: one parked during a DMA wait first, then the socket.
 * 1 with a message, 2 with one that came alone (nothing after it yet),
 * 0 when there is none for now, -errno when done. */
static int next_msg(struct srv_conn *c, struct uvfio_msg *m)
{
    if (undefer(c, m))
        return 1;
    /* 2: a request that came alone in one read - the usual case - and
     * nothing after it yet, so the next read need not be tried. */
    return uvfio_rx_read_one(c->rx, c->out.fd, m);
}

void conn_process(struct srv_conn *c)
{
    struct uvfio_msg m;
    unsigned int n = 0;
    int r = 0;

    if (c->closed)
        return;
    if (c->depth) {
        /* Already on the stack (a nested dispatch): come back later. */
        c->ready = true;
        srv_wake(c->srv);
        return;
    }
    if (c->twin_ready)
        conn_read_twin(c);
    c->depth++;
    c->ready = false;
    for (n = 0; n < SRV_CONN_BUDGET && !conn_dead(c); n++) {
        /* m is only looked at when next_msg filled it in (r == 1). */
        r = next_msg(c, &m);
        if (r <= 0)
            break;
        srv_dispatch_msg(c, &m);
        /* A big payload (MIG_DATA_WRITE) may hold the next big one. */
        uvfio_rx_recycle(c->rx, &m);
        if (r == 2) {
            r = 0;
            break;
        }
    }
    c->depth--;
    if (r < 0)
        conn_fail(c, -r, rx_error(r));
    else if (n == SRV_CONN_BUDGET)
        c->ready = true;        /* more may be buffered: share the loop */
    if (conn_dead(c))
        conn_destroy(c);
    else if (c->ready || c->twin_ready)
        srv_wake(c->srv);
}

/* The twin socket carries only the client's replies to DMA requests. */
void conn_twin_message(struct srv_conn *c, struct uvfio_msg *m)
{
    struct uvfio_wire_hdr hdr = m->hdr;

    if ((hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY) {
        srv_dma_reply(c, m);
        return;
    }
    if (hdr.flags & UVFIO_HDR_NO_REPLY)
        return;
    hdr.flags = UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR;
    hdr.error = EINVAL;
    pthread_mutex_lock(&c->lock);
    conn_send_locked(c, &c->twin, &hdr, NULL, 0, NULL, 0);
    pthread_mutex_unlock(&c->lock);
}

void conn_read_twin(struct srv_conn *c)
{
    struct uvfio_msg m;
    unsigned int n;
    int r;

    c->twin_ready = false;
    for (n = 0; n < SRV_CONN_BUDGET; n++) {
        memset(&m, 0, sizeof(m));
        r = uvfio_rx_read(c->twin_rx, c->twin.fd, &m);
        if (r == 0)
            return;
        if (r < 0) {
            conn_fail(c, -r, r == -ECONNRESET ? "twin socket closed" :
                      rx_error(r));
            return;
        }
        conn_twin_message(c, &m);
        uvfio_msg_free(&m);
    }
    /* More may sit in the receiver where epoll cannot see it. */
    c->twin_ready = true;
    srv_wake(c->srv);
}

/* Input for c (or its twin) that the next conn_process must look at. */
static void note_input(struct srv_conn *c, bool twin, uint32_t events)
{
    /* The ring's polls are edge-triggered: this event may be the only one
     * for bytes that came after the last short read.  Bytes the ring read
     * itself are in the receiver already, and the socket is empty. */
    if (!(events & SRV_EV_FED))
        uvfio_rx_note_readable(twin ? c->twin_rx : c->rx,
                               events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
    if (twin)
        c->twin_ready = true;
    else
        c->ready = true;
}

void conn_handle_event(struct srv_conn *c, bool twin, uint32_t events)
{
    if (c->closed)
        return;
    if (events & EPOLLOUT) {
        pthread_mutex_lock(&c->lock);
        conn_flush_locked(c, twin ? &c->twin : &c->out);
        pthread_mutex_unlock(&c->lock);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        note_input(c, twin, events);
    conn_process(c);
}

void conn_note_event(struct srv_conn *c, bool twin, uint32_t events)
{
    if (c->closed)
        return;
    note_input(c, twin, events);
    srv_wake(c->srv);
}

/* ---- input the ring read (ring_recv.c) ---------------------------------- */

bool conn_feed(struct srv_conn *c, const void *p, size_t n, int *fds,
               size_t nfds, bool trunc)
{
    /* An error stays in the receiver: the next read reports it. */
    int r = uvfio_rx_feed(c->rx, p, n, fds, nfds, UVFIO_RX_FED_DRAINED |
                          (trunc ? UVFIO_RX_FED_TRUNC : 0));

    return r < 0 || uvfio_rx_fed_bytes(c->rx) || uvfio_rx_reading_big(c->rx);
}

bool conn_rx_idle(struct srv_conn *c)
{
    return !c->closed && !conn_dead(c) && !c->ready && !c->deferred &&
           !uvfio_rx_buffered(c->rx);
}
