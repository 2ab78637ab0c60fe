/* SPDX-License-Identifier: MIT */
/*
 * proto/txq.c - the output queue of a non-blocking socket.
 *
 * A queued message is a list of pieces sent in order.  The header and the
 * small pieces are copied into the message itself, so the caller can reuse
 * its buffers at once; that is the right trade for the small messages that
 * make up nearly all traffic.  Big payloads are not copied: a copy of 64
 * MiB costs more than the socket needs to move it, and a fresh 64 MiB
 * allocation costs as much again in page faults.  So a big payload is
 * either
 *  - taken (uvfio_txq_push_buf): the queue owns a uvfio_buf's allocation,
 *    and once it is sent keeps it (the largest one) for uvfio_txq_reclaim,
 *    so a connection that sends one big reply after another builds each
 *    in the same, already faulted-in pages; or
 *  - referenced (uvfio_txq_push_ref): the caller's own memory, valid until
 *    the caller calls uvfio_txq_unref, which copies whatever is still
 *    unsent.  A synchronous caller (send, wait for the reply) almost never
 *    has anything left to copy.
 *
 * fds ride on the first byte of their message, and a message whose fds
 * have not gone yet is sent on its own so the receiver can tell whose they
 * are (see transport.c); fd-less messages are batched into one sendmsg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport_priv.h"

#define TXQ_BATCH_IOV   64

struct txq_piece {
    const uint8_t *p;
    size_t len;                 /* never 0 */
};

struct txq_msg {
    struct txq_msg *next;
    size_t len;                 /* whole message */
    size_t sent;                /* bytes of it already written */
    unsigned int npieces;
    unsigned int cur;           /* first piece not wholly written */
    size_t cur_off;             /* bytes of that piece written */
    int *fds;                   /* our dups, closed once the first byte left */
    size_t nfds;
    uint8_t *owned;             /* allocation taken from a uvfio_buf */
    size_t owned_cap;
    bool refs;                  /* some piece is the caller's memory */
    struct txq_piece pieces[];  /* then the bytes of the copied pieces */
};

struct uvfio_txq {
    struct txq_msg *head, **tailp;
    size_t bytes;               /* unsent */
    size_t max_bytes;
    int err;                    /* sticky: the stream was lost */
    uint8_t *spare;             /* a sent owned allocation, for reclaim */
    size_t spare_cap;
};

struct uvfio_txq *uvfio_txq_new(size_t max_bytes)
{
    struct uvfio_txq *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    q->tailp = &q->head;
    q->max_bytes = max_bytes;
    return q;
}

/* Keep the larger of the spare and `p` (a sent owned allocation). */
static void keep_spare(struct uvfio_txq *q, uint8_t *p, size_t cap)
{
    if (q->spare && q->spare_cap >= cap) {
        free(p);
        return;
    }
    free(q->spare);
    q->spare = p;
    q->spare_cap = cap;
}

static void msg_free(struct txq_msg *m)
{
    if (m->fds)
        uvfio_close_fds(m->fds, m->nfds);
    free(m->fds);
    free(m->owned);
    free(m);
}

/* A message is done: its owned allocation may serve the next one. */
static void msg_done(struct uvfio_txq *q, struct txq_msg *m)
{
    if (m->owned) {
        keep_spare(q, m->owned, m->owned_cap);
        m->owned = NULL;
    }
    msg_free(m);
}

void uvfio_txq_free(struct uvfio_txq *q)
{
    struct txq_msg *m;

    if (!q)
        return;
    while ((m = q->head)) {
        q->head = m->next;
        msg_free(m);
    }
    free(q->spare);
    free(q);
}

size_t uvfio_txq_pending(const struct uvfio_txq *q)
{
    return q->bytes;
}

void uvfio_txq_reclaim(struct uvfio_txq *q, struct uvfio_buf *b)
{
    if (!q->spare || q->spare_cap <= b->cap)
        return;
    free(b->data);
    b->data = q->spare;
    b->cap = q->spare_cap;
    b->len = 0;
    q->spare = NULL;
    q->spare_cap = 0;
}

/* ---- building a message ---------------------------------------------- */

/* How the pieces of a push are laid out: what is copied, what is not. */
struct layout {
    const void *head;           /* a first piece, always copied: the */
    size_t head_len;            /* header (0: none) */
    const struct iovec *iov;
    int iovcnt;
    size_t ref_min;             /* pieces this big are referenced */
    const uint8_t *tail;        /* an owned payload after the iovecs */
    size_t tail_len;
};

static bool is_ref(const struct layout *l, size_t len)
{
    return len >= l->ref_min;
}

/* Pieces and copied bytes the message needs. */
static void layout_count(const struct layout *l, unsigned int *npieces,
                         size_t *copied)
{
    bool in_copy = l->head_len != 0;
    int i;

    *npieces = in_copy;
    *copied = l->head_len;
    for (i = 0; i < l->iovcnt; i++) {
        size_t len = l->iov[i].iov_len;

        if (!len)
            continue;
        if (is_ref(l, len)) {
            (*npieces)++;
            in_copy = false;
            continue;
        }
        if (!in_copy)
            (*npieces)++;
        in_copy = true;
        *copied += len;
    }
    if (l->tail_len)
        (*npieces)++;
}

static void layout_fill(struct txq_msg *m, const struct layout *l)
{
    uint8_t *dst = (uint8_t *)(m->pieces + m->npieces);
    bool in_copy = l->head_len != 0;
    unsigned int k = 0;
    int i;

    /* Same walk as layout_count, so the pieces fit what was allocated. */
    if (in_copy) {
        memcpy(dst, l->head, l->head_len);
        m->pieces[k++] = (struct txq_piece){ dst, l->head_len };
        dst += l->head_len;
    }
    for (i = 0; i < l->iovcnt; i++) {
        size_t len = l->iov[i].iov_len;

        if (!len)
            continue;
        if (is_ref(l, len)) {
            m->pieces[k++] = (struct txq_piece){ l->iov[i].iov_base, len };
            m->refs = true;
            in_copy = false;
            continue;
        }
        if (!in_copy)
            m->pieces[k++] = (struct txq_piece){ dst, 0 };
        in_copy = true;
        memcpy(dst, l->iov[i].iov_base, len);
        m->pieces[k - 1].len += len;
        dst += len;
    }
    if (l->tail_len)
        m->pieces[k++] = (struct txq_piece){ l->tail, l->tail_len };
}

/* A message of `len` bytes laid out as l says, without fds. */
static struct txq_msg *msg_new(const struct layout *l, size_t len)
{
    unsigned int npieces;
    struct txq_msg *m;
    size_t copied;

    layout_count(l, &npieces, &copied);
    m = calloc(1, sizeof(*m) + npieces * sizeof(struct txq_piece) + copied);
    if (!m)
        return NULL;
    m->len = len;
    m->npieces = npieces;
    layout_fill(m, l);
    return m;
}

static int dup_fds(struct txq_msg *m, const int *fds, size_t nfds)
{
    if (!nfds)
        return 0;
    m->fds = malloc(nfds * sizeof(int));
    if (!m->fds)
        return -ENOMEM;
    for (m->nfds = 0; m->nfds < nfds; m->nfds++) {
        m->fds[m->nfds] = fcntl(fds[m->nfds], F_DUPFD_CLOEXEC, 0);
        if (m->fds[m->nfds] < 0)
            return -errno;
    }
    return 0;
}

static void enqueue(struct uvfio_txq *q, struct txq_msg *m)
{
    *q->tailp = m;
    q->tailp = &m->next;
    q->bytes += m->len;
}

/* hdr->size over the iovecs and the tail; -ENOBUFS past the queue's room. */
static int msg_check(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                     const struct layout *l, size_t nfds)
{
    int r;

    if (q->err)
        return q->err;
    r = uvfio_msg_size(hdr, l->iov, l->iovcnt, nfds);
    if (r < 0)
        return r;
    if (l->tail_len > UINT32_MAX - hdr->size)
        return -EMSGSIZE;
    hdr->size += (uint32_t)l->tail_len;
    if (hdr->size > q->max_bytes - q->bytes)
        return -ENOBUFS;
    return 0;
}

/* Size checks, then the message with its pieces laid out and fds dup'ed. */
static int msg_build(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                     struct layout *l, const int *fds, size_t nfds,
                     struct txq_msg **out)
{
    struct txq_msg *m;
    int r;

    r = msg_check(q, hdr, l, nfds);
    if (r < 0)
        return r;
    l->head = hdr;
    l->head_len = UVFIO_HDR_SIZE;
    m = msg_new(l, hdr->size);
    if (!m)
        return -ENOMEM;
    r = dup_fds(m, fds, nfds);
    if (r < 0) {
        msg_free(m);
        return r;
    }
    *out = m;
    return 0;
}

static int push(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                const struct iovec *iov, int iovcnt, const int *fds,
                size_t nfds, size_t ref_min)
{
    struct layout l = { NULL, 0, iov, iovcnt, ref_min, NULL, 0 };
    struct txq_msg *m;
    int r;

    r = msg_build(q, hdr, &l, fds, nfds, &m);
    if (r < 0)
        return r;
    enqueue(q, m);
    return 0;
}

int uvfio_txq_push(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                   const struct iovec *iov, int iovcnt,
                   const int *fds, size_t nfds)
{
    return push(q, hdr, iov, iovcnt, fds, nfds, SIZE_MAX);
}

int uvfio_txq_push_ref(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                       const struct iovec *iov, int iovcnt,
                       const int *fds, size_t nfds)
{
    return push(q, hdr, iov, iovcnt, fds, nfds, UVFIO_TXQ_REF_MIN);
}

int uvfio_txq_push_buf(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                       struct uvfio_buf *payload, const int *fds, size_t nfds)
{
    struct layout l = { NULL, 0, NULL, 0, SIZE_MAX, payload->data,
                        payload->len };
    struct txq_msg *m;
    int r;

    r = msg_build(q, hdr, &l, fds, nfds, &m);
    if (r < 0)
        return r;
    m->owned = payload->data;
    m->owned_cap = payload->cap;
    *payload = (struct uvfio_buf)UVFIO_BUF_INIT;
    enqueue(q, m);
    return 0;
}

/* ---- letting go of referenced memory ------------------------------------ */

/* The unsent rest of m as a message of its own, all of it copied. */
static struct txq_msg *msg_flatten(const struct txq_msg *m)
{
    size_t left = m->len - m->sent, off = m->cur_off;
    struct txq_msg *f;
    uint8_t *dst;
    unsigned int i;

    f = calloc(1, sizeof(*f) + sizeof(struct txq_piece) + left);
    if (!f)
        return NULL;
    dst = (uint8_t *)(f->pieces + 1);
    f->pieces[0] = (struct txq_piece){ dst, left };
    f->npieces = 1;
    f->len = left;
    for (i = m->cur; i < m->npieces; i++, off = 0) {
        memcpy(dst, m->pieces[i].p + off, m->pieces[i].len - off);
        dst += m->pieces[i].len - off;
    }
    return f;
}

/* No memory to copy into: nothing referenced may stay, and what is left
 * of the stream cannot be sent whole any more. */
static int txq_break(struct uvfio_txq *q)
{
    struct txq_msg **pp = &q->head, *m;

    q->err = -ENOMEM;
    while ((m = *pp)) {
        if (!m->refs) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        q->bytes -= m->len - m->sent;
        msg_free(m);
    }
    q->tailp = pp;
    return q->err;
}

int uvfio_txq_unref(struct uvfio_txq *q)
{
    struct txq_msg **pp, *m, *f;

    for (pp = &q->head; (m = *pp); pp = &f->next) {
        f = m;
        if (!m->refs)
            continue;
        f = msg_flatten(m);
        if (!f)
            return txq_break(q);
        /* fds not yet sent go with what is left of their message. */
        f->fds = m->fds;
        f->nfds = m->nfds;
        m->fds = NULL;
        m->nfds = 0;
        f->next = m->next;
        *pp = f;
        if (q->tailp == &m->next)
            q->tailp = &f->next;
        msg_done(q, m);
    }
    return 0;
}

/* ---- sending ---------------------------------------------------------- */

/* m's unsent pieces into iov (at most `room`); how many were used. */
static int msg_iov(const struct txq_msg *m, struct iovec *iov, int room)
{
    size_t off = m->cur_off;
    unsigned int i;
    int n = 0;

    for (i = m->cur; i < m->npieces && n < room; i++, off = 0) {
        iov[n].iov_base = (void *)(m->pieces[i].p + off);
        iov[n].iov_len = m->pieces[i].len - off;
        n++;
    }
    return n;
}

/*
 * The iovec for the next sendmsg.  A message whose fds have not gone yet
 * is sent on its own so the receiver can tell whose fds they are; fd-less
 * messages are batched.
 */
static int txq_iov(struct uvfio_txq *q, struct iovec *iov)
{
    struct txq_msg *m = q->head;
    int n;

    n = msg_iov(m, iov, TXQ_BATCH_IOV);
    if (m->nfds)
        return n;
    for (m = m->next; m && !m->nfds && n < TXQ_BATCH_IOV; m = m->next)
        n += msg_iov(m, iov + n, TXQ_BATCH_IOV - n);
    return n;
}

/* Account up to n written bytes to m; returns how many it took. */
static size_t msg_advance(struct txq_msg *m, size_t n)
{
    size_t used = 0, k;

    while (used < n && m->cur < m->npieces) {
        k = m->pieces[m->cur].len - m->cur_off;
        if (k > n - used)
            k = n - used;
        m->cur_off += k;
        used += k;
        if (m->cur_off == m->pieces[m->cur].len) {
            m->cur++;
            m->cur_off = 0;
        }
    }
    m->sent += used;
    return used;
}

static void txq_consume(struct uvfio_txq *q, size_t n)
{
    struct txq_msg *m = q->head;

    if (m->nfds) {
        uvfio_close_fds(m->fds, m->nfds);
        m->nfds = 0;
    }
    q->bytes -= n;
    while (n) {
        m = q->head;
        n -= msg_advance(m, n);
        if (m->sent < m->len)
            return;
        q->head = m->next;
        if (!q->head)
            q->tailp = &q->head;
        msg_done(q, m);
    }
}

int uvfio_txq_flush(struct uvfio_txq *q, int sock)
{
    struct iovec iov[TXQ_BATCH_IOV];
    union uvfio_fd_cmsg c;
    struct msghdr mh;
    ssize_t n;

    if (q->err)
        return q->err;
    while (q->head) {
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)txq_iov(q, iov);
        uvfio_attach_fds(&mh, &c, q->head->fds, q->head->nfds);
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -EAGAIN;
            return -errno;
        }
        txq_consume(q, (size_t)n);
    }
    return 0;
}

/* ---- push and flush in one --------------------------------------------- */

/* Pieces a message may have to be sent straight from the caller's iovec. */
#define TXQ_DIRECT_IOV  8

/* Drop `n` sent bytes from the front of an iovec array. */
static void vec_advance(struct iovec **v, int *cnt, size_t n)
{
    while (*cnt && n >= (*v)->iov_len) {
        n -= (*v)->iov_len;
        (*v)++;
        (*cnt)--;
    }
    if (*cnt) {
        (*v)->iov_base = (uint8_t *)(*v)->iov_base + n;
        (*v)->iov_len -= n;
    }
}

/*
 * The common case of a request/reply loop is an empty queue: then the
 * message goes straight from the caller's iovec with one sendmsg, and
 * only what the socket does not take becomes a queue entry - the same
 * bytes in the same order as a push and a flush, without the entry and
 * the copy.  A message with fds takes the queue's path (the queue dups
 * them, and a bad fd fails the push, not the send), as does one with more
 * pieces than the stack holds.
 */
/* The socket did not take all of a message sent from vec (n bytes, or
 * -1 with errno): queue the rest as push and flush would have. */
static __attribute__((noinline)) int
send_rest(struct uvfio_txq *q, int sock, struct uvfio_wire_hdr *hdr,
          const struct iovec *iov, int iovcnt, struct iovec *v, int cnt,
          ssize_t n, size_t ref_min, int *flushed)
{
    struct layout l;
    struct txq_msg *m;
    int r;

    if (n < 0) {
        /* Nothing went: exactly a push, then a flush that failed. */
        int err = (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN
                                                            : -errno;

        r = push(q, hdr, iov, iovcnt, NULL, 0, ref_min);
        if (r == 0)
            *flushed = err;
        return r;
    }
    /* The socket took part of it: the rest is queued, as a message of its
     * own, and the flush carries on as it would have. */
    vec_advance(&v, &cnt, (size_t)n);
    l = (struct layout){ NULL, 0, v, cnt, ref_min, NULL, 0 };
    m = msg_new(&l, hdr->size - (size_t)n);
    if (!m) {
        /* Half a message is out and the rest cannot be kept. */
        q->err = -ENOMEM;
        *flushed = q->err;
        return 0;
    }
    enqueue(q, m);
    *flushed = uvfio_txq_flush(q, sock);
    return 0;
}

int uvfio_txq_send(struct uvfio_txq *q, int sock, bool ref,
                   struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                   int iovcnt, const int *fds, size_t nfds, int *flushed)
{
    size_t ref_min = ref ? UVFIO_TXQ_REF_MIN : SIZE_MAX;
    struct iovec vec[TXQ_DIRECT_IOV];
    struct msghdr mh = { .msg_iov = vec };
    uint64_t size = UVFIO_HDR_SIZE;
    int cnt, r, i;
    ssize_t n;

    if (q->head || q->err || nfds || iovcnt < 0 || iovcnt >= TXQ_DIRECT_IOV ||
        (iovcnt && !iov))
        goto queued;
    /* uvfio_msg_size and msg_check's sums, as the iovec is copied. */
    vec[0] = (struct iovec){ hdr, UVFIO_HDR_SIZE };
    for (i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > UINT32_MAX)
            goto queued;            /* (no sum of these can wrap) */
        size += iov[i].iov_len;
        vec[i + 1] = iov[i];
    }
    /* Past the size field, or the queue's room (it is empty): refused
     * exactly as the push refuses it. */
    if (size > UINT32_MAX || size > q->max_bytes)
        goto queued;
    hdr->size = (uint32_t)size;
    cnt = iovcnt + 1;
    mh.msg_iovlen = (size_t)cnt;
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)hdr->size) {
        *flushed = 0;
        return 0;
    }
    return send_rest(q, sock, hdr, iov, iovcnt, vec, cnt, n, ref_min,
                     flushed);

queued:
    r = push(q, hdr, iov, iovcnt, fds, nfds, ref_min);
    if (r == 0)
        *flushed = uvfio_txq_flush(q, sock);
    return r;
}
