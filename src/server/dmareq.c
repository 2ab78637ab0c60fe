// SPDX-License-Identifier: MIT
/*
 * server/dmareq.c - message-path DMA: DMA_READ and DMA_WRITE to the client.
 *
 * Guest memory the client mapped without an fd can only be reached by
 * asking the client.  The core calls srv_dma_rw() for that, from any
 * thread, including the dispatch thread in the middle of a command
 * handler.  A request gets a server-chosen msg_id and waits, at most
 * dma_timeout_ms (then EIO), for the reply with that id:
 *
 *   - on another thread it sleeps on conn->cond; the dispatch thread,
 *     which alone reads the sockets, matches the reply and wakes it;
 *   - on the dispatch thread nobody else would read the socket, so the
 *     waiter reads it itself: replies are matched the same way, and client
 *     commands that arrive meanwhile (the protocol lets both directions
 *     interleave) are parked and handled afterwards, in order.
 *
 * A transfer longer than the negotiated max_data_xfer_size is split.
 *
 * Layouts.  The spec and libvfio-user put {u64 addr; u64 count; data}.
 * QEMU's client (hw/vfio-user/pci.c) reads and writes its own struct
 * {hdr; u64 offset; u32 count; char data[]} with data at payload offset 12,
 * and because that struct is not packed its sizeof is 32, not 28: QEMU
 * refuses a request shorter than 16 payload bytes, takes a DMA_WRITE's
 * count only if the payload has 4 bytes to spare after the data, and
 * answers a DMA_READ with {offset, u32 count, data, 4 zero bytes}.  So:
 *
 *   DMA_READ request   {u64 addr; u64 count}: the same bytes QEMU reads as
 *                      {addr; u32 count; pad} on a little-endian host, so
 *                      one form serves both;
 *   DMA_WRITE request  spec: {u64 addr; u64 count; data}
 *                      QEMU: {u64 addr; u32 count; data; u32 0};
 *   DMA_READ reply     16 + count bytes: data at 16 (spec) or at 12 (QEMU,
 *                      padded); 12 + count bytes: data at 12 (a packed
 *                      QEMU-style peer) - the size alone cannot tell the
 *                      two 16 + count forms apart, the client's layout does;
 *   DMA_WRITE reply    header only (QEMU), or addr and a 4- or 8-byte count.
 *
 * A client gets the QEMU layout when it proposed version 0.0
 * (negotiate.c).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "server_priv.h"
#include "util/log.h"

struct srv_dma_wait {
    struct srv_dma_wait *next;
    uint16_t msg_id;
    uint16_t cmd;
    uint64_t iova;
    void *buf;              /* DMA_READ: where the data goes */
    size_t len;
    bool qemu;              /* layout the request went out in */
    bool done;
    int result;
};

/* ---- the table of outstanding requests (lock held) --------------------- */

static bool id_in_use(const struct srv_conn *c, uint16_t id)
{
    const struct srv_dma_wait *w;

    for (w = c->waits; w; w = w->next)
        if (w->msg_id == id)
            return true;
    return false;
}

static uint16_t alloc_id(struct srv_conn *c)
{
    /* Fewer requests than ids are ever outstanding (one per thread). */
    while (id_in_use(c, c->next_dma_id))
        c->next_dma_id++;
    return c->next_dma_id++;
}

static void unlink_wait(struct srv_conn *c, struct srv_dma_wait *w)
{
    struct srv_dma_wait **pp;

    for (pp = &c->waits; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

void srv_dma_fail_all_locked(struct srv_conn *c, int err)
{
    while (c->waits) {
        struct srv_dma_wait *w = c->waits;

        c->waits = w->next;
        w->done = true;
        w->result = err;
    }
}

/* ---- sending ------------------------------------------------------------ */

static int send_request_locked(struct srv_conn *c, struct srv_dma_wait *w,
                               const void *data)
{
    static const uint8_t pad[4];
    struct uvfio_wire_hdr hdr = {
        .msg_id = w->msg_id,
        .cmd = w->cmd,
        .flags = UVFIO_HDR_TYPE_COMMAND,
    };
    struct uvfio_wire_dma_rw spec = { w->iova, w->len };
    struct uvfio_wire_dma_rw_qemu q = { w->iova, (uint32_t)w->len };
    struct srv_out *o = c->twin.fd >= 0 ? &c->twin : &c->out;
    struct iovec iov[3];
    int n = 0;

    if (w->cmd == UVFIO_CMD_DMA_WRITE && w->qemu) {
        iov[n++] = (struct iovec){ &q, sizeof(q) };
        iov[n++] = (struct iovec){ (void *)data, w->len };
        iov[n++] = (struct iovec){ (void *)pad, sizeof(pad) };
    } else {
        iov[n++] = (struct iovec){ &spec, sizeof(spec) };
        if (w->cmd == UVFIO_CMD_DMA_WRITE)
            iov[n++] = (struct iovec){ (void *)data, w->len };
    }
    return conn_send_locked(c, o, &hdr, iov, n, NULL, 0);
}

/* ---- the reply --------------------------------------------------------- */

static int reply_errno(const struct uvfio_wire_hdr *h)
{
    /* A peer's errno is only a number: keep it in the range errno has. */
    if (h->error == 0 || h->error > 4095)
        return -EIO;
    return -(int)h->error;
}

/* Where a DMA_READ reply's data starts, or -EIO if it fits no layout. */
static int read_reply_data(const struct srv_dma_wait *w,
                           const struct uvfio_msg *m, size_t *off)
{
    struct uvfio_wire_dma_rw spec;
    struct uvfio_wire_dma_rw_qemu q;

    if (m->len == sizeof(spec) + w->len && !w->qemu) {
        memcpy(&spec, m->payload, sizeof(spec));
        if (spec.addr != w->iova || spec.count != w->len)
            return -EIO;
        *off = sizeof(spec);
        return 0;
    }
    if (m->len == sizeof(spec) + w->len || m->len == sizeof(q) + w->len) {
        memcpy(&q, m->payload, sizeof(q));
        if (q.addr != w->iova || q.count != w->len)
            return -EIO;
        *off = sizeof(q);
        return 0;
    }
    return -EIO;
}

static int check_write_reply(const struct srv_dma_wait *w,
                             const struct uvfio_msg *m)
{
    struct uvfio_wire_dma_rw spec;
    struct uvfio_wire_dma_rw_qemu q;

    if (m->len == 0)
        return 0;
    if (m->len == sizeof(spec)) {
        memcpy(&spec, m->payload, sizeof(spec));
        return spec.addr == w->iova && spec.count == w->len ? 0 : -EIO;
    }
    if (m->len == sizeof(q)) {
        memcpy(&q, m->payload, sizeof(q));
        return q.addr == w->iova && q.count == w->len ? 0 : -EIO;
    }
    return -EIO;
}

static int parse_reply(struct srv_dma_wait *w, const struct uvfio_msg *m)
{
    size_t off;
    int r;

    if (m->hdr.flags & UVFIO_HDR_ERROR)
        return reply_errno(&m->hdr);
    if (m->oversize || m->nfds)
        return -EIO;
    if (w->cmd == UVFIO_CMD_DMA_WRITE)
        return check_write_reply(w, m);
    r = read_reply_data(w, m, &off);
    if (r < 0)
        return r;
    memcpy(w->buf, m->payload + off, w->len);
    return 0;
}

void srv_dma_reply(struct srv_conn *c, struct uvfio_msg *m)
{
    struct srv_dma_wait *w;

    pthread_mutex_lock(&c->lock);
    for (w = c->waits; w; w = w->next)
        if (w->msg_id == m->hdr.msg_id && w->cmd == m->hdr.cmd)
            break;
    if (!w) {
        pthread_mutex_unlock(&c->lock);
        /* Late (after a timeout) or made up: nobody to give it to. */
        uvfio_debug("server: %s: reply to no request (%s, id %u) dropped",
                    uvfio_device_name(c->sd->dev),
                    uvfio_cmd_name(m->hdr.cmd), m->hdr.msg_id);
        return;
    }
    w->result = parse_reply(w, m);
    if (w->result == -EIO)
        uvfio_warn("server: %s: malformed %s reply",
                   uvfio_device_name(c->sd->dev), uvfio_cmd_name(w->cmd));
    w->done = true;
    unlink_wait(c, w);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* ---- waiting ----------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timed_out(struct srv_conn *c, const struct srv_dma_wait *w)
{
    uvfio_warn("server: %s: no reply to %s of %zu bytes at 0x%llx",
               uvfio_device_name(c->sd->dev), uvfio_cmd_name(w->cmd), w->len,
               (unsigned long long)w->iova);
}

/* Another thread: sleep until the dispatch thread hands the reply over. */
static int wait_cond_locked(struct srv_conn *c, struct srv_dma_wait *w)
{
    struct timespec ts;
    int64_t deadline = now_ms() + c->srv->dma_timeout_ms;

    ts.tv_sec = deadline / 1000;
    ts.tv_nsec = (deadline % 1000) * 1000000;
    while (!w->done && !c->dead) {
        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (w->done)
        return w->result;
    if (c->dead)
        return -ECONNRESET;
    timed_out(c, w);
    return -EIO;
}

/* Dispatch thread: read the client socket until our reply is in; park
 * the commands met on the way. */
static void read_main_inline(struct srv_conn *c, const struct srv_dma_wait *w)
{
    struct uvfio_msg m;
    int r;

    for (;;) {
        memset(&m, 0, sizeof(m));
        r = uvfio_rx_read(c->rx, c->out.fd, &m);
        if (r == 0)
            return;
        if (r < 0) {
            conn_fail(c, -r, r == -ECONNRESET ? "client disconnected" :
                      "malformed message header");
            return;
        }
        if ((m.hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY) {
            srv_dma_reply(c, &m);
            uvfio_msg_free(&m);
        } else if (conn_defer(c, &m) < 0) {
            conn_fail(c, ENOBUFS,
                      "too many commands while a DMA reply was awaited");
            return;
        }
        pthread_mutex_lock(&c->lock);
        r = w->done;
        pthread_mutex_unlock(&c->lock);
        if (r)
            return;
    }
}

struct inline_state {
    bool done, dead, out_pending, twin_pending;
    int result;
};

static void inline_state(struct srv_conn *c, const struct srv_dma_wait *w,
                         struct inline_state *s)
{
    pthread_mutex_lock(&c->lock);
    s->done = w->done;
    s->result = w->result;
    s->dead = c->dead != 0;
    s->out_pending = uvfio_txq_pending(c->out.txq) != 0;
    s->twin_pending = c->twin.fd >= 0 && uvfio_txq_pending(c->twin.txq);
    pthread_mutex_unlock(&c->lock);
}

static void flush_both(struct srv_conn *c)
{
    pthread_mutex_lock(&c->lock);
    conn_flush_locked(c, &c->out);
    if (c->twin.fd >= 0 && !c->dead)
        conn_flush_locked(c, &c->twin);
    pthread_mutex_unlock(&c->lock);
}

static int wait_inline(struct srv_conn *c, struct srv_dma_wait *w)
{
    int64_t deadline = now_ms() + c->srv->dma_timeout_ms, left;
    struct pollfd pfd[2];
    struct inline_state s;
    int n;

    for (;;) {
        inline_state(c, w, &s);
        if (s.done)
            return s.result;
        if (s.dead)
            return -ECONNRESET;
        left = deadline - now_ms();
        if (left <= 0) {
            timed_out(c, w);
            return -EIO;
        }
        if (c->twin_ready) {
            /* Buffered already: poll() would not see it. */
            conn_read_twin(c);
            continue;
        }
        if (uvfio_rx_buffered(c->rx)) {
            /* Input the ring read before this wait began (ring_recv.c) -
             * the reply among it, perhaps - is not in the socket. */
            read_main_inline(c, w);
            inline_state(c, w, &s);
            if (s.done || s.dead)
                continue;
        }
        pfd[0] = (struct pollfd){ c->out.fd,
                                  POLLIN | (s.out_pending ? POLLOUT : 0), 0 };
        pfd[1] = (struct pollfd){ c->twin.fd,
                                  POLLIN | (s.twin_pending ? POLLOUT : 0), 0 };
        n = poll(pfd, c->twin.fd >= 0 ? 2 : 1, (int)left);
        if (n <= 0)
            continue;           /* EINTR or timeout: the top decides */
        if ((pfd[0].revents | pfd[1].revents) & POLLOUT)
            flush_both(c);
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            uvfio_rx_note_readable(c->rx, false);
            read_main_inline(c, w);
        }
        if (c->twin.fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
            conn_read_twin(c);
    }
}

/* One request of at most max_xfer bytes. */
static int dma_one(struct srv_conn *c, bool write, uint64_t iova, void *buf,
                   size_t len, bool inline_wait)
{
    struct srv_dma_wait w = {
        .cmd = write ? UVFIO_CMD_DMA_WRITE : UVFIO_CMD_DMA_READ,
        .iova = iova,
        .buf = buf,
        .len = len,
    };
    int r;

    pthread_mutex_lock(&c->lock);
    w.msg_id = alloc_id(c);
    w.qemu = c->qemu_dma_layout;
    w.next = c->waits;
    c->waits = &w;
    r = send_request_locked(c, &w, buf);
    if (r == 0 && inline_wait) {
        pthread_mutex_unlock(&c->lock);
        r = wait_inline(c, &w);
        pthread_mutex_lock(&c->lock);
    } else if (r == 0) {
        r = wait_cond_locked(c, &w);
    } else {
        r = -ECONNRESET;
    }
    unlink_wait(c, &w);
    pthread_mutex_unlock(&c->lock);
    return r;
}

int srv_dma_rw(void *ctx, bool write, uint64_t iova, void *buf, size_t len)
{
    struct srv_conn *c = ctx;
    bool inline_wait = srv_on_dispatch_thread(c->srv);
    uint64_t chunk;
    size_t done = 0, n;
    int r = 0;

    if (len == 0)
        return 0;
    if (!buf || len - 1 > UINT64_MAX - iova)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        pthread_mutex_unlock(&c->lock);
        return -ECONNRESET;
    }
    c->users++;
    /* proto refuses an offer below 4 KiB; never loop on a zero anyway. */
    chunk = c->max_xfer ? c->max_xfer : UVFIO_DEFAULT_MAX_DATA_XFER;
    pthread_mutex_unlock(&c->lock);

    while (done < len && r == 0) {
        n = len - done < chunk ? len - done : (size_t)chunk;
        r = dma_one(c, write, iova + done, (uint8_t *)buf + done, n,
                    inline_wait);
        done += n;
    }
    if (inline_wait) {
        /* Commands may have been parked, input left in the receiver. */
        c->ready = true;
        srv_wake(c->srv);
    }

    pthread_mutex_lock(&c->lock);
    if (--c->users == 0)
        pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return r;
}
