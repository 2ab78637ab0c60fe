/* SPDX-License-Identifier: MIT */
/*
 * proto/transport.c - whole messages over an AF_UNIX stream socket.
 *
 * Receiving.  Small messages dominate (a 4-byte register read is 32 bytes
 * on the wire), so the receiver reads greedily into a 64 KiB buffer: one
 * recvmsg usually brings a whole request, often several, and they are
 * handed out one by one without further syscalls.  A message larger than
 * that buffer gets its own payload allocation and the rest of it is read
 * straight into place (with the buffer as a last iovec so the bytes of
 * the next messages still come in the same call); 64 MiB payloads are
 * never copied twice.  That allocation can come back (uvfio_rx_recycle) to
 * hold the next big message, and an expected reply can be read straight
 * into the caller's memory (the sink): a big message then lands where it
 * belongs without an allocation and without a copy.  A message over the
 * size limit but under the discard limit is read and thrown away, then
 * handed out header-only with `oversize` set, so the server can answer
 * E2BIG and carry on.
 *
 * File descriptors.  SCM_RIGHTS fds arrive with the first byte of the
 * sendmsg they were attached to, and Linux ends a stream recvmsg right
 * after (or inside) the first skb that carries fds - but it does NOT stop
 * before that skb: "AB" sent as A then B-with-fds comes back as one read
 * of "AB" plus B's fds (checked on 6.x).  So the skb that carried the fds
 * always ends the read, and the fds belong to the message that contains
 * the LAST byte of the read.  That is exact for any sender that sends a
 * message carrying fds in sendmsg calls of its own, as QEMU, libvfio-user
 * and this file do (uvfio_txq never batches another message into the
 * sendmsg that carries fds).  fds are attributed when they arrive - the
 * owner's stream position is recorded - and collected when the owner is
 * handed out; anything left over, over the limit, or truncated by the
 * kernel (MSG_CTRUNC) is closed.
 *
 * "Drained": on a non-blocking socket a read that returned fewer bytes
 * than asked means the socket was empty at that moment, so the next
 * uvfio_rx_read() that finds nothing buffered returns 0 without trying
 * another recvmsg (the caller polls anyway).  That halves the syscalls of
 * a request/reply loop.  Blocking sockets never take that shortcut.
 *
 * Fed bytes (uvfio_rx_feed): the server's run loop lets io_uring read its
 * clients' sockets and hands each read over.  A read fed is placed where
 * rx_fill would have put it, with the same fd attribution; what does not
 * fit waits in a queue of chunks, which rx_fill empties before it reads
 * the socket again - so the stream stays in order whoever read it.  An
 * empty chunk is the end of the stream.
 *
 * Sending writes header and payload with one sendmsg (MSG_NOSIGNAL) and
 * loops over partial writes; fds go with the first byte only.  The output
 * queue for non-blocking sockets is txq.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_priv.h"

#define RX_BUF_SIZE     (64u << 10)
#define STACK_IOV       8
/* Payloads up to this size are given a buffer of exactly this size, which
 * comes back with uvfio_rx_recycle: a request/reply loop then allocates
 * nothing per message. */
#define RX_SMALL_CAP    256u

/*
 * A kept buffer hides a read past a payload's end from ASan, which only
 * sees the allocation: so in an ASan build (the fuzzers, make check's
 * second run) the bytes past `len` are poisoned, and such a read is
 * caught as it would be in a payload allocated to size.  (memcheck, for
 * which the same would cost client requests on every message of every
 * build, is not told: the ASan run covers the same tests.)
 */
#if defined(__SANITIZE_ADDRESS__)
#define RX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RX_ASAN 1
#endif
#endif
#ifdef RX_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);

/* Only [0, len) of a small buffer may be touched. */
static void small_fence(uint8_t *p, size_t len)
{
    __asan_unpoison_memory_region(p, RX_SMALL_CAP);
    __asan_poison_memory_region(p + len, RX_SMALL_CAP - len);
}

/* The whole small buffer is usable again (before it is freed). */
static void small_unfence(uint8_t *p)
{
    __asan_unpoison_memory_region(p, RX_SMALL_CAP);
}
#else
#define small_fence(p, len)     ((void)(p), (void)(len))
#define small_unfence(p)        ((void)(p))
#endif

/* fds that arrived for the message starting at stream position `owner`. */
struct fd_batch {
    uint64_t owner;
    int *fds;
    size_t n;
    bool truncated;
};

/* A fed read (or the rest of one) that did not fit the buffer. */
struct fed_chunk {
    struct fed_chunk *next;
    size_t len, off;        /* len 0: the end of the stream */
    size_t nfds;
    bool trunc;
    int fds[];              /* then the len bytes */
};

enum rx_state {
    RX_BUFFERED,    /* next message (if any) starts at buf[head] */
    RX_LARGE,       /* reading a message straight into its payload */
    RX_DISCARD,     /* dropping the payload of an oversize message */
};

struct uvfio_rx {
    size_t max_size;
    size_t discard_limit;
    unsigned max_fds;
    size_t cmsg_len;        /* control room for max_fds fds (0: none) */
    bool exact;             /* never read past the current message */
    int sock;               /* socket whose blocking mode is cached */
    bool nonblock;
    bool dontwait;          /* blocking socket read with MSG_DONTWAIT */
    bool wait_once;         /* the next recvmsg may block */
    bool drained;
    bool hangup;            /* see uvfio_rx_note_readable */
    int err;                /* sticky: the stream is finished */

    uint8_t *buf;
    size_t head, tail;
    uint64_t base;          /* stream position of buf[head] */
    uint64_t pos;           /* stream position of the next byte read */

    enum rx_state state;
    struct uvfio_wire_hdr hdr;      /* LARGE / DISCARD message */
    uint64_t start, end;            /* its stream range */
    uint8_t *payload;               /* LARGE: payload bytes [0, split) */
    size_t payload_cap;
    uint8_t *sunk_to;               /* LARGE: payload bytes [split, len) */
    size_t split;
    size_t got;
    size_t skip;                    /* DISCARD: bytes still to drop */

    struct uvfio_rx_sink sink;
    bool sink_armed;
    uint8_t *spare;                 /* recycled payload for the next big one */
    size_t spare_cap;
    uint8_t *small;                 /* recycled RX_SMALL_CAP-byte payload */

    struct fd_batch *batches;
    size_t nbatches;

    struct fed_chunk *fed, **fed_tail;
    size_t fed_bytes;
    /* A small message fed alone into an idle rx, kept whole for the next
     * read (fed_lone); it comes before everything in buf and fed. */
    bool lone;
    struct uvfio_wire_hdr lone_hdr;
    uint8_t *lone_payload;          /* RX_SMALL_CAP bytes */

    union uvfio_fd_cmsg cmsg;
};

void uvfio_close_fds(int *fds, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

void uvfio_msg_free(struct uvfio_msg *m)
{
    if (!m)
        return;
    if (m->payload) {
        if (m->cap == RX_SMALL_CAP)
            small_unfence(m->payload);
        free(m->payload);
    }
    if (m->fds) {
        uvfio_close_fds(m->fds, m->nfds);
        free(m->fds);
    }
    memset(m, 0, sizeof(*m));
}

/* ---- fd attribution ------------------------------------------------------ */

static void batch_drop(struct uvfio_rx *rx)
{
    uvfio_close_fds(rx->batches[0].fds, rx->batches[0].n);
    free(rx->batches[0].fds);
    rx->nbatches--;
    memmove(rx->batches, rx->batches + 1, rx->nbatches * sizeof(*rx->batches));
}

/* Stream position of the message that contains byte `last`. */
static uint64_t owner_of(const struct uvfio_rx *rx, uint64_t last)
{
    struct uvfio_wire_hdr h;
    uint64_t pos = rx->base;

    if (rx->state != RX_BUFFERED) {
        if (last < rx->end)
            return rx->start;
        pos = rx->end;
    }
    /* Every byte in [base, last] is in buf[head..tail). */
    while (last - pos >= sizeof(h)) {
        memcpy(&h, rx->buf + rx->head + (pos - rx->base), sizeof(h));
        if (h.size < sizeof(h) || last - pos < h.size)
            break;
        pos += h.size;
    }
    return pos;
}

static int add_fds(struct uvfio_rx *rx, uint64_t owner, int *fds, size_t n,
                   bool truncated)
{
    struct fd_batch *b = rx->nbatches ? &rx->batches[rx->nbatches - 1] : NULL;
    int *grown;

    if (!b || b->owner != owner) {
        b = realloc(rx->batches, (rx->nbatches + 1) * sizeof(*b));
        if (!b) {
            uvfio_close_fds(fds, n);
            return -ENOMEM;
        }
        rx->batches = b;
        b += rx->nbatches++;
        memset(b, 0, sizeof(*b));
        b->owner = owner;
    }
    if (truncated || b->truncated || b->n + n > rx->max_fds) {
        uvfio_close_fds(fds, n);
        uvfio_close_fds(b->fds, b->n);
        b->n = 0;
        b->truncated = true;
        return 0;
    }
    grown = realloc(b->fds, (b->n + n) * sizeof(int));
    if (!grown) {
        uvfio_close_fds(fds, n);
        return -ENOMEM;
    }
    memcpy(grown + b->n, fds, n * sizeof(int));
    b->fds = grown;
    b->n += n;
    return 0;
}

/* Give the message starting at `start` its fds; close strays before it. */
static void take_fds(struct uvfio_rx *rx, uint64_t start, struct uvfio_msg *m)
{
    while (rx->nbatches && rx->batches[0].owner < start)
        batch_drop(rx);
    if (!rx->nbatches || rx->batches[0].owner != start)
        return;
    m->fds_truncated = rx->batches[0].truncated;
    if (rx->batches[0].n) {
        m->fds = rx->batches[0].fds;
        m->nfds = rx->batches[0].n;
        rx->batches[0].fds = NULL;
        rx->batches[0].n = 0;
    }
    batch_drop(rx);
}

/* Every SCM_RIGHTS fd of a received message, into fds[]. */
static size_t gather_fds(struct msghdr *mh, int *fds)
{
    struct cmsghdr *c;
    size_t n = 0, k;

    for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if (k > UVFIO_MAX_FDS_LIMIT - n)    /* cannot happen: buffer size */
            k = UVFIO_MAX_FDS_LIMIT - n;
        memcpy(fds + n, CMSG_DATA(c), k * sizeof(int));
        n += k;
    }
    return n;
}

/* After a read of at least one byte: file the fds under their owner. */
static int collect_fds(struct uvfio_rx *rx, struct msghdr *mh)
{
    int fds[UVFIO_MAX_FDS_LIMIT];
    bool trunc = mh->msg_flags & MSG_CTRUNC;
    size_t n = gather_fds(mh, fds);

    if (!n && !trunc)
        return 0;
    return add_fds(rx, owner_of(rx, rx->pos - 1), fds, n, trunc);
}

/* Drop the first fed chunk and whatever fds it still holds. */
static void fed_pop(struct uvfio_rx *rx)
{
    struct fed_chunk *f = rx->fed;

    uvfio_close_fds(f->fds, f->nfds);
    rx->fed_bytes -= f->len - f->off;
    rx->fed = f->next;
    if (!rx->fed)
        rx->fed_tail = &rx->fed;
    free(f);
}

/* ---- receiver state machine --------------------------------------------- */

struct uvfio_rx *uvfio_rx_new(size_t max_size, size_t discard_limit,
                              unsigned max_fds)
{
    struct uvfio_rx *rx;

    if (max_size < UVFIO_HDR_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    rx = calloc(1, sizeof(*rx));
    if (!rx)
        return NULL;
    rx->buf = malloc(RX_BUF_SIZE);
    if (!rx->buf) {
        free(rx);
        return NULL;
    }
    rx->discard_limit = discard_limit;
    rx->sock = -1;
    rx->fed_tail = &rx->fed;
    uvfio_rx_set_limits(rx, max_size, max_fds);
    return rx;
}

void uvfio_rx_free(struct uvfio_rx *rx)
{
    if (!rx)
        return;
    while (rx->nbatches)
        batch_drop(rx);
    free(rx->batches);
    while (rx->fed)
        fed_pop(rx);
    if (rx->lone_payload)
        small_unfence(rx->lone_payload);
    free(rx->lone_payload);
    free(rx->payload);
    free(rx->spare);
    if (rx->small)
        small_unfence(rx->small);
    free(rx->small);
    free(rx->buf);
    free(rx);
}

void uvfio_rx_set_limits(struct uvfio_rx *rx, size_t max_size,
                         unsigned max_fds)
{
    rx->max_size = max_size;
    if (rx->discard_limit < max_size)
        rx->discard_limit = max_size;
    rx->max_fds = max_fds < UVFIO_MAX_FDS_LIMIT ? max_fds : UVFIO_MAX_FDS_LIMIT;
    rx->cmsg_len = rx->max_fds ? CMSG_SPACE(rx->max_fds * sizeof(int)) : 0;
    /* A lowered limit lowers what may be kept for later, too. */
    if (rx->spare_cap > max_size) {
        free(rx->spare);
        rx->spare = NULL;
        rx->spare_cap = 0;
    }
}

bool uvfio_rx_partial(const struct uvfio_rx *rx)
{
    return rx->state != RX_BUFFERED || rx->tail > rx->head;
}

/* Nothing buffered, started, fed, waiting for its owner (fds) or armed
 * (the sink): the next bytes begin a message and nothing comes before
 * them - the lone shortcuts' condition. */
static inline bool rx_idle(const struct uvfio_rx *rx)
{
    return rx->state == RX_BUFFERED && rx->head == rx->tail &&
           !rx->nbatches && !rx->sink_armed && !rx->fed && !rx->lone;
}

void uvfio_rx_note_readable(struct uvfio_rx *rx, bool hangup)
{
    rx->drained = false;
    if (hangup)
        rx->hangup = true;
}

static void msg_init(struct uvfio_msg *m, const struct uvfio_wire_hdr *hdr)
{
    memset(m, 0, sizeof(*m));
    m->hdr = *hdr;
}

/* A small message whose payload already sits in a small buffer (none
 * for a header-only one), handed out in it: a lone read's, a lone feed's. */
static inline void small_out(struct uvfio_msg *out,
                             const struct uvfio_wire_hdr *h, uint8_t *small)
{
    size_t len = h->size - UVFIO_HDR_SIZE;

    msg_init(out, h);
    if (len) {
        out->payload = small;
        out->len = len;
        out->cap = RX_SMALL_CAP;
        small_fence(small, len);
    }
}

/* The lone message fed: out of rx, into *out. */
static void take_lone(struct uvfio_rx *rx, struct uvfio_msg *out)
{
    rx->lone = false;
    small_out(out, &rx->lone_hdr, rx->lone_payload);
    rx->lone_payload = NULL;
}

/* ---- payload memory: recycled buffers and the sink ---------------------- */

void uvfio_rx_recycle(struct uvfio_rx *rx, struct uvfio_msg *m)
{
    /* One small buffer, so that small messages cost no allocation. */
    if (m->payload && m->cap == RX_SMALL_CAP && !rx->small) {
        rx->small = m->payload;
        if (!m->fds) {
            memset(m, 0, sizeof(*m));   /* all uvfio_msg_free has left */
            return;
        }
        m->payload = NULL;
    }
    /* And what saves the faulting-in of a big one, never more than one
     * such buffer. */
    if (m->payload && m->cap > RX_BUF_SIZE && m->cap <= rx->max_size &&
        m->cap > rx->spare_cap) {
        free(rx->spare);
        rx->spare = m->payload;
        rx->spare_cap = m->cap;
        m->payload = NULL;
    }
    uvfio_msg_free(m);
}

/* The small buffer, or a new one: the caller's from now on. */
static uint8_t *small_take(struct uvfio_rx *rx)
{
    uint8_t *p = rx->small ? rx->small : malloc(RX_SMALL_CAP);

    if (p)
        rx->small = NULL;
    return p;
}

/* A buffer of at least `size` bytes for a payload: the spare if it fits
 * and the payload is big enough to be worth it. */
static uint8_t *payload_alloc(struct uvfio_rx *rx, size_t size, size_t *cap)
{
    uint8_t *p;

    if (size > RX_BUF_SIZE && rx->spare && rx->spare_cap >= size) {
        p = rx->spare;
        *cap = rx->spare_cap;
        rx->spare = NULL;
        rx->spare_cap = 0;
        return p;
    }
    p = malloc(size);
    *cap = size;
    return p;
}

void uvfio_rx_set_sink(struct uvfio_rx *rx, const struct uvfio_rx_sink *s)
{
    rx->sink = *s;
    rx->sink_armed = s->buf != NULL;
}

void uvfio_rx_clear_sink(struct uvfio_rx *rx)
{
    rx->sink_armed = false;
    if (rx->state != RX_LARGE || !rx->sunk_to)
        return;
    /*
     * Its reply is half in and the memory is going away: drop the rest as
     * for an oversize message.  An unfinished LARGE payload has taken
     * every byte read since it started, so the buffer is empty and the
     * next byte read is the first one to drop.
     */
    free(rx->payload);
    rx->payload = NULL;
    rx->sunk_to = NULL;
    rx->skip = rx->hdr.size - UVFIO_HDR_SIZE - rx->got;
    rx->head = rx->tail = 0;
    rx->base = rx->pos;
    rx->state = RX_DISCARD;
}

/* Whether the message with header h is the one the sink waits for. */
static bool sink_takes(const struct uvfio_rx *rx, const struct uvfio_wire_hdr *h)
{
    const struct uvfio_rx_sink *s = &rx->sink;
    size_t len = h->size - UVFIO_HDR_SIZE;

    return rx->sink_armed &&
           (h->flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY &&
           !(h->flags & UVFIO_HDR_ERROR) &&
           h->msg_id == s->msg_id && h->cmd == s->cmd &&
           len > s->skip && len - s->skip <= s->len;
}

static int next_discard(struct uvfio_rx *rx, struct uvfio_msg *out)
{
    size_t n = rx->tail - rx->head;

    if (n > rx->skip)
        n = rx->skip;
    rx->head += n;
    rx->base += n;
    rx->skip -= n;
    if (rx->skip)
        return 0;
    msg_init(out, &rx->hdr);
    out->oversize = true;
    /* The message is refused: whatever came with it is not the caller's. */
    take_fds(rx, rx->start, out);
    if (out->fds)
        uvfio_close_fds(out->fds, out->nfds);
    free(out->fds);
    out->fds = NULL;
    out->nfds = 0;
    rx->state = RX_BUFFERED;
    return 1;
}

static int next_large(struct uvfio_rx *rx, struct uvfio_msg *out)
{
    if (rx->got < rx->hdr.size - UVFIO_HDR_SIZE)
        return 0;
    msg_init(out, &rx->hdr);
    out->payload = rx->payload;
    out->len = rx->split;
    out->cap = rx->payload_cap;
    out->sunk = rx->got - rx->split;
    rx->payload = NULL;
    rx->sunk_to = NULL;
    take_fds(rx, rx->start, out);
    rx->state = RX_BUFFERED;
    return 1;
}

static int start_discard(struct uvfio_rx *rx, const struct uvfio_wire_hdr *h,
                         struct uvfio_msg *out)
{
    rx->hdr = *h;
    rx->start = rx->base;
    rx->end = rx->base + h->size;
    rx->skip = h->size - UVFIO_HDR_SIZE;
    rx->head += UVFIO_HDR_SIZE;
    rx->base += UVFIO_HDR_SIZE;
    rx->state = RX_DISCARD;
    return next_discard(rx, out);
}

/* Payload bytes [got, got + n) of a LARGE message, from src to their place. */
static void large_place(struct uvfio_rx *rx, const uint8_t *src, size_t n)
{
    size_t k = 0;

    if (rx->got < rx->split) {
        k = rx->split - rx->got < n ? rx->split - rx->got : n;
        memcpy(rx->payload + rx->got, src, k);
    }
    if (n > k)
        memcpy(rx->sunk_to + (rx->got + k - rx->split), src + k, n - k);
    rx->got += n;
}

/* A big message gets its own payload buffer, or the sink; move what is
 * buffered of it there and read the rest straight into place. */
static int start_large(struct uvfio_rx *rx, const struct uvfio_wire_hdr *h)
{
    size_t have = rx->tail - rx->head - UVFIO_HDR_SIZE;
    size_t len = h->size - UVFIO_HDR_SIZE;

    rx->split = len;
    rx->sunk_to = NULL;
    if (sink_takes(rx, h)) {
        rx->sink_armed = false;
        rx->split = rx->sink.skip;
        rx->sunk_to = rx->sink.buf;
    }
    rx->payload = NULL;
    rx->payload_cap = 0;
    if (rx->split) {
        rx->payload = payload_alloc(rx, rx->split, &rx->payload_cap);
        if (!rx->payload)
            return -ENOMEM;
    }
    rx->got = 0;
    large_place(rx, rx->buf + rx->head + UVFIO_HDR_SIZE, have);
    rx->hdr = *h;
    rx->start = rx->base;
    rx->end = rx->base + h->size;
    rx->head = rx->tail = 0;
    rx->base = rx->end;
    rx->state = RX_LARGE;
    return 0;
}

static int deliver_buffered(struct uvfio_rx *rx, const struct uvfio_wire_hdr *h,
                            struct uvfio_msg *out)
{
    const uint8_t *src = rx->buf + rx->head + UVFIO_HDR_SIZE;
    size_t len = h->size - UVFIO_HDR_SIZE;

    msg_init(out, h);
    if (rx->sink_armed && sink_takes(rx, h)) {
        rx->sink_armed = false;
        out->sunk = len - rx->sink.skip;
        memcpy(rx->sink.buf, src + rx->sink.skip, out->sunk);
        len = rx->sink.skip;
    }
    if (len > RX_SMALL_CAP) {
        out->payload = malloc(len);
        if (!out->payload)
            return -ENOMEM;
        out->cap = len;
    } else if (len) {
        out->payload = small_take(rx);
        if (!out->payload)
            return -ENOMEM;
        out->cap = RX_SMALL_CAP;
        small_fence(out->payload, len);
    }
    if (len) {
        memcpy(out->payload, src, len);
        out->len = len;
    }
    if (rx->nbatches)           /* (none: the common case) */
        take_fds(rx, rx->base, out);
    rx->head += h->size;
    rx->base += h->size;
    return 1;
}

static int next_buffered(struct uvfio_rx *rx, struct uvfio_msg *out)
{
    size_t avail = rx->tail - rx->head;
    struct uvfio_wire_hdr h;
    int r;

    if (avail < sizeof(h))
        return 0;
    memcpy(&h, rx->buf + rx->head, sizeof(h));
    r = uvfio_wire_check_hdr(&h, rx->max_size);
    if (r == -E2BIG && h.size <= rx->discard_limit)
        return start_discard(rx, &h, out);
    if (r < 0)
        return -EPROTO;
    if (h.size <= avail)
        return deliver_buffered(rx, &h, out);
    if (h.size > RX_BUF_SIZE)
        return start_large(rx, &h);
    return 0;
}

/* 1 with a message, 0 when more bytes are needed, or -errno. */
static int rx_next(struct uvfio_rx *rx, struct uvfio_msg *out)
{
    switch (rx->state) {
    case RX_LARGE:
        return next_large(rx, out);
    case RX_DISCARD:
        return next_discard(rx, out);
    default:
        return next_buffered(rx, out);
    }
}

/* Bytes the current message still lacks (exact mode reads no more). */
static size_t still_needed(const struct uvfio_rx *rx)
{
    struct uvfio_wire_hdr h;
    size_t avail = rx->tail - rx->head;

    if (rx->state == RX_DISCARD)
        return rx->skip < RX_BUF_SIZE ? rx->skip : RX_BUF_SIZE;
    if (avail < sizeof(h))
        return sizeof(h) - avail;
    memcpy(&h, rx->buf + rx->head, sizeof(h));
    return h.size - avail;
}

/* Where the rest of a LARGE message goes: its payload, then the sink. */
static size_t large_iov(const struct uvfio_rx *rx, struct iovec *iov,
                        int *niov)
{
    size_t len = rx->hdr.size - UVFIO_HDR_SIZE;
    size_t from = rx->got > rx->split ? rx->got : rx->split;

    if (rx->got < rx->split) {
        iov[*niov].iov_base = rx->payload + rx->got;
        iov[*niov].iov_len = rx->split - rx->got;
        (*niov)++;
    }
    if (len > from) {
        iov[*niov].iov_base = rx->sunk_to + (from - rx->split);
        iov[*niov].iov_len = len - from;
        (*niov)++;
    }
    return len - rx->got;
}

static size_t rx_iov(struct uvfio_rx *rx, struct iovec *iov, int *niov)
{
    size_t room, want = 0;

    *niov = 0;
    if (rx->state == RX_LARGE) {
        want = large_iov(rx, iov, niov);
        if (rx->exact)
            return want;
    } else if (rx->head == rx->tail) {
        rx->head = rx->tail = 0;
    } else if (rx->head) {
        memmove(rx->buf, rx->buf + rx->head, rx->tail - rx->head);
        rx->tail -= rx->head;
        rx->head = 0;
    }
    room = RX_BUF_SIZE - rx->tail;
    if (rx->exact && still_needed(rx) < room)
        room = still_needed(rx);
    iov[*niov].iov_base = rx->buf + rx->tail;
    iov[*niov].iov_len = room;
    (*niov)++;
    return want + room;     /* (large_iov's pieces add up to its want) */
}

static void rx_account(struct uvfio_rx *rx, size_t n)
{
    size_t k;

    rx->pos += n;
    if (rx->state == RX_LARGE) {
        k = rx->hdr.size - UVFIO_HDR_SIZE - rx->got;
        k = n < k ? n : k;
        rx->got += k;
        n -= k;
    }
    rx->tail += n;
}

/* ---- fed bytes ------------------------------------------------------------ */

/* Up to n fed bytes to where a recvmsg would have put them; how many. */
static size_t fed_place(struct uvfio_rx *rx, const uint8_t *p, size_t n)
{
    struct iovec iov[3];
    size_t done = 0, k;
    int niov, i;

    rx_iov(rx, iov, &niov);
    for (i = 0; i < niov && done < n; i++) {
        k = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;
        memcpy(iov[i].iov_base, p + done, k);
        done += k;
    }
    rx_account(rx, done);
    return done;
}

/* A fed read is all placed: its fds to the message of its last byte. */
static int fed_fds(struct uvfio_rx *rx, int *fds, size_t n, bool trunc)
{
    if (!n && !trunc)
        return 0;
    return add_fds(rx, owner_of(rx, rx->pos - 1), fds, n, trunc);
}

/*
 * The usual feed - one small request, alone, into an idle rx - kept whole
 * for the next read, its payload already in the small buffer it will be
 * handed out in (as rx_read_lone does for a read of its own).  false when
 * the bytes are anything else.
 */
static bool fed_lone(struct uvfio_rx *rx, const uint8_t *p, size_t n)
{
    struct uvfio_wire_hdr h;
    uint8_t *small;

    if (n < UVFIO_HDR_SIZE || n > UVFIO_HDR_SIZE + RX_SMALL_CAP ||
        !rx_idle(rx) || rx->exact)
        return false;
    memcpy(&h, p, sizeof(h));
    if (h.size != n || uvfio_wire_check_hdr(&h, rx->max_size) < 0)
        return false;
    if (n > UVFIO_HDR_SIZE) {
        small = small_take(rx);
        if (!small)
            return false;
        small_unfence(small);
        memcpy(small, p + UVFIO_HDR_SIZE, n - UVFIO_HDR_SIZE);
        rx->lone_payload = small;
    }
    rx->lone_hdr = h;
    rx->lone = true;
    rx->pos += n;
    rx->base += n;
    rx->head = rx->tail = 0;
    return true;
}

int uvfio_rx_feed(struct uvfio_rx *rx, const void *bytes, size_t n,
                  int *fds, size_t nfds, unsigned int flags)
{
    bool trunc = flags & UVFIO_RX_FED_TRUNC;
    const uint8_t *p = bytes;
    struct fed_chunk *f;
    size_t k;

    if (rx->err || (!n && nfds) || nfds > UVFIO_MAX_FDS_LIMIT) {
        uvfio_close_fds(fds, nfds);
        return rx->err ? rx->err : -EINVAL;
    }
    /* What rx knew of the socket is stale: someone else read it. */
    rx->drained = flags & UVFIO_RX_FED_DRAINED;
    if (!nfds && !trunc && fed_lone(rx, p, n))
        return 0;
    /* Straight into place unless earlier bytes still wait. */
    if (!rx->fed && n) {
        k = fed_place(rx, p, n);
        if (k == n) {
            if (fed_fds(rx, fds, nfds, trunc) < 0)
                return rx->err = -ENOMEM;
            return 0;
        }
        p += k;
        n -= k;
    }
    f = malloc(sizeof(*f) + nfds * sizeof(int) + n);
    if (!f) {
        uvfio_close_fds(fds, nfds);
        return rx->err = -ENOMEM;
    }
    f->next = NULL;
    f->len = n;
    f->off = 0;
    f->nfds = nfds;
    f->trunc = trunc;
    if (nfds)
        memcpy(f->fds, fds, nfds * sizeof(int));
    if (n)
        memcpy((uint8_t *)(f->fds + nfds), p, n);
    *rx->fed_tail = f;
    rx->fed_tail = &f->next;
    rx->fed_bytes += n;
    return 0;
}

size_t uvfio_rx_fed_bytes(const struct uvfio_rx *rx)
{
    return rx->fed_bytes;
}

bool uvfio_rx_buffered(const struct uvfio_rx *rx)
{
    return rx->lone || rx->fed || uvfio_rx_partial(rx);
}

bool uvfio_rx_reading_big(const struct uvfio_rx *rx)
{
    struct uvfio_wire_hdr h;

    if (rx->state != RX_BUFFERED)
        return true;
    /* Or about to: the header of one is in. */
    if (rx->tail - rx->head < sizeof(h))
        return false;
    memcpy(&h, rx->buf + rx->head, sizeof(h));
    return h.size > RX_BUF_SIZE;
}

/* rx_fill's source while anything fed waits: 1, or -errno at the end. */
static int fed_fill(struct uvfio_rx *rx)
{
    struct fed_chunk *f = rx->fed;
    size_t k;
    int r;

    if (!f->len)
        return -ECONNRESET;     /* (the chunk stays: so does the end) */
    k = fed_place(rx, (uint8_t *)(f->fds + f->nfds) + f->off,
                  f->len - f->off);
    if (!k)
        return -ENOBUFS;        /* cannot happen: rx_fill has room */
    f->off += k;
    rx->fed_bytes -= k;
    if (f->off < f->len)
        return 1;
    r = fed_fds(rx, f->fds, f->nfds, f->trunc);
    f->nfds = 0;                /* given away (or closed) */
    fed_pop(rx);
    return r < 0 ? -ENOMEM : 1;
}

static inline int rx_got(struct uvfio_rx *rx, struct msghdr *mh, ssize_t n,
                         size_t want);

/* One recvmsg: 1 when bytes came, 0 on EAGAIN, -errno at the end.  Fed
 * bytes come first. */
static int rx_fill(struct uvfio_rx *rx, int sock)
{
    struct iovec iov[3];
    struct msghdr mh = { .msg_iov = iov };
    size_t want;
    ssize_t n;
    int niov, flags;

    if (rx->fed)
        return fed_fill(rx);
    want = rx_iov(rx, iov, &niov);
    mh.msg_iovlen = (size_t)niov;
    if (rx->max_fds) {
        mh.msg_control = rx->cmsg.bytes;
        mh.msg_controllen = CMSG_SPACE(rx->max_fds * sizeof(int));
    }
    flags = MSG_CMSG_CLOEXEC;
    if (rx->dontwait && !rx->wait_once)
        flags |= MSG_DONTWAIT;
    rx->wait_once = false;
    do {
        n = recvmsg(sock, &mh, flags);
    } while (n < 0 && errno == EINTR);
    return rx_got(rx, &mh, n, want);
}

/* The outcome of rx_fill's recvmsg (n as it returned, errno if < 0). */
static inline int rx_got(struct uvfio_rx *rx, struct msghdr *mh, ssize_t n,
                         size_t want)
{
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    if (n == 0) {
        int fds[UVFIO_MAX_FDS_LIMIT];

        /* Stream sockets send no fds without bytes; never leak anyway. */
        uvfio_close_fds(fds, gather_fds(mh, fds));
        return -ECONNRESET;
    }
    rx_account(rx, (size_t)n);
    /* Short means the socket is empty - unless the read stopped after a
     * message that carried fds: the kernel's stream reader never reads on
     * past one, however much is queued behind it (an edge-triggered
     * poller would never tell of those bytes again). */
    rx->drained = rx->nonblock && !rx->hangup && (size_t)n < want &&
                  mh->msg_controllen == 0 && !(mh->msg_flags & MSG_CTRUNC);
    if (!mh->msg_controllen && !(mh->msg_flags & MSG_CTRUNC))
        return 1;               /* no fds came: the common case */
    return collect_fds(rx, mh) < 0 ? -ENOMEM : 1;
}

static void rx_check_mode(struct uvfio_rx *rx, int sock)
{
    int fl;

    if (rx->sock == sock)
        return;
    fl = fcntl(sock, F_GETFL);
    rx->sock = sock;
    rx->nonblock = !rx->exact && fl >= 0 && ((fl & O_NONBLOCK) || rx->dontwait);
}

void uvfio_rx_set_dontwait(struct uvfio_rx *rx, bool on)
{
    rx->dontwait = on;
    rx->sock = -1;          /* re-derive the mode on the next read */
}

int uvfio_rx_read_wait(struct uvfio_rx *rx, int sock, struct uvfio_msg *out)
{
    int r;

    if (!rx->dontwait || rx->err)
        return uvfio_rx_read(rx, sock, out);
    /*
     * A message already buffered whole is handed out before any recvmsg,
     * so only a caller that needs more bytes ever sleeps - including one
     * waiting for the rest of a big message, which must not spin on
     * EAGAIN while the peer's bytes trickle in.
     */
    rx->drained = false;
    rx->wait_once = true;
    r = uvfio_rx_read(rx, sock, out);
    rx->wait_once = false;
    return r;
}

static int rx_read(struct uvfio_rx *rx, int sock, struct uvfio_msg *out);

/* rx_read_lone's recvmsg was not the shortcut's: on as rx_read would have
 * gone on after its first rx_fill. */
static __attribute__((noinline, cold)) int
rx_lone_general(struct uvfio_rx *rx, int sock, struct msghdr *mh, ssize_t n,
                struct uvfio_msg *out)
{
    int r;

    /* The bytes the read put in the small buffer, back in their place. */
    if (n > (ssize_t)UVFIO_HDR_SIZE)
        memcpy(rx->buf + UVFIO_HDR_SIZE, mh->msg_iov[1].iov_base,
               (size_t)n - UVFIO_HDR_SIZE < RX_SMALL_CAP ?
               (size_t)n - UVFIO_HDR_SIZE : RX_SMALL_CAP);
    r = rx_got(rx, mh, n, RX_BUF_SIZE);

    if (r < 0)
        rx->err = r;
    if (r <= 0)
        return r;
    return rx_read(rx, sock, out);
}

/*
 * uvfio_rx_read_one's shortcut: rx is idle (nothing buffered, no message
 * started, no fds waiting for their owner, no sink, the socket's mode
 * known) and one recvmsg - which sleeps on the client's blocking socket
 * (dontwait mode) and not on the server's O_NONBLOCK one - brings exactly
 * one whole small
 * message without fds - the reply to a small request.  The read puts the
 * first RX_SMALL_CAP payload bytes straight into the small payload buffer
 * (the rest of the buffer's layout unchanged), so that message needs no
 * copy.  Anything else that comes (part of a message, more than one, a
 * bigger one, fds, a bad header) is first made contiguous in the buffer,
 * then accounted exactly as rx_fill does, and the general walk goes on
 * from there.
 */
static int rx_read_lone(struct uvfio_rx *rx, int sock, struct uvfio_msg *out)
{
    uint8_t *small = rx->small ? rx->small : malloc(RX_SMALL_CAP);
    struct iovec iov[3] = {
        { rx->buf, UVFIO_HDR_SIZE },
        { small, RX_SMALL_CAP },
        { rx->buf + UVFIO_HDR_SIZE + RX_SMALL_CAP,
          RX_BUF_SIZE - UVFIO_HDR_SIZE - RX_SMALL_CAP },
    };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
    struct uvfio_wire_hdr h;
    ssize_t n;

    if (!small)
        return uvfio_rx_read_wait(rx, sock, out);
    rx->small = small;
    small_unfence(small);
    rx->head = rx->tail = 0;
    rx->drained = false;
    if (rx->cmsg_len) {
        mh.msg_control = rx->cmsg.bytes;
        mh.msg_controllen = rx->cmsg_len;
    }
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0 || mh.msg_controllen || (mh.msg_flags & MSG_CTRUNC) ||
        (size_t)n < UVFIO_HDR_SIZE ||
        (size_t)n > UVFIO_HDR_SIZE + RX_SMALL_CAP)
        return rx_lone_general(rx, sock, &mh, n, out);
    memcpy(&h, rx->buf, sizeof(h));
    if (h.size != (size_t)n || uvfio_wire_check_hdr(&h, rx->max_size) < 0)
        return rx_lone_general(rx, sock, &mh, n, out);
    /* What rx_fill, then deliver_buffered, then the caller's next
     * uvfio_rx_read (which would find the read short and nothing
     * buffered) would leave. */
    rx->pos += (size_t)n;
    rx->base += (size_t)n;
    small_out(out, &h, small);
    if ((size_t)n > UVFIO_HDR_SIZE)
        rx->small = NULL;       /* handed out with the message */
    return 2;
}

int uvfio_rx_read_one(struct uvfio_rx *rx, int sock, struct uvfio_msg *out)
{
    if (rx->lone && !rx->err) {
        take_lone(rx, out);
        /* 2 when a read would now find nothing, as rx_read_lone says. */
        if (rx->drained && !rx->fed && !uvfio_rx_partial(rx)) {
            rx->drained = false;
            return 2;
        }
        return 1;
    }
    if (rx->err || !rx->nonblock || rx->hangup || rx->sock != sock ||
        !rx_idle(rx))
        return uvfio_rx_read_wait(rx, sock, out);
    /* A non-blocking socket known to be empty (as uvfio_rx_read): after
     * the bytes fed until it was (server/ring.c). */
    if (rx->drained && !rx->dontwait) {
        rx->drained = false;
        return 0;
    }
    return rx_read_lone(rx, sock, out);
}

/* uvfio_rx_read past its shortcut (out of line, so that the shortcut
 * does not pay for this one's registers). */
static __attribute__((noinline)) int rx_read(struct uvfio_rx *rx, int sock,
                                             struct uvfio_msg *out)
{
    int r;

    rx_check_mode(rx, sock);
    for (;;) {
        r = rx_next(rx, out);
        if (r != 0)
            break;
        if (rx->drained && !rx->fed) {
            rx->drained = false;
            return 0;
        }
        r = rx_fill(rx, sock);
        if (r <= 0)
            break;
    }
    if (r < 0)
        rx->err = r;
    return r;
}

int uvfio_rx_read(struct uvfio_rx *rx, int sock, struct uvfio_msg *out)
{
    if (rx->err)
        return rx->err;
    if (rx->lone) {
        take_lone(rx, out);
        return 1;
    }
    /* What a request/reply loop asks after each message: nothing is
     * buffered and the last read came back short - "nothing for now",
     * without the walk (which would come to the same answer). */
    if (rx->drained && rx->head == rx->tail && rx->state == RX_BUFFERED &&
        rx->sock == sock && !rx->fed) {
        rx->drained = false;
        return 0;
    }
    return rx_read(rx, sock, out);
}

static int wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    int fl = fcntl(fd, F_GETFL);

    /* EAGAIN on a blocking socket is SO_RCVTIMEO/SO_SNDTIMEO expiring:
     * the caller asked for that, so report it instead of waiting on. */
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK))
        return -EAGAIN;
    while (poll(&p, 1, -1) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int uvfio_msg_recv(int sock, struct uvfio_msg *out, size_t max_size,
                   unsigned max_fds)
{
    struct uvfio_rx *rx;
    int r;

    /* Exact reads keep the stream in step even for an oversize message,
     * so any well-formed size can be skipped. */
    rx = uvfio_rx_new(max_size, UINT32_MAX, max_fds);
    if (!rx)
        return -errno;
    rx->exact = true;
    memset(out, 0, sizeof(*out));
    while ((r = uvfio_rx_read(rx, sock, out)) == 0) {
        r = wait_fd(sock, POLLIN);
        if (r < 0)
            break;
    }
    uvfio_rx_free(rx);
    if (r == 1 && out->oversize)
        return -E2BIG;
    return r == 1 ? 0 : r;
}

/* ---- sending -------------------------------------------------------------- */

void uvfio_attach_fds(struct msghdr *mh, union uvfio_fd_cmsg *c,
                      const int *fds, size_t nfds)
{
    struct cmsghdr *h;

    if (!nfds)
        return;
    memset(c->bytes, 0, CMSG_SPACE(nfds * sizeof(int)));
    mh->msg_control = c->bytes;
    mh->msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    h = CMSG_FIRSTHDR(mh);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
}

/* Drop `n` sent bytes from the front of an iovec array. */
static void iov_advance(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

static int send_all(int sock, struct iovec *iov, int cnt, const int *fds,
                    size_t nfds)
{
    union uvfio_fd_cmsg c;
    struct msghdr mh;
    ssize_t n;
    int r;

    while (cnt) {
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)cnt;
        uvfio_attach_fds(&mh, &c, fds, nfds);
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            r = wait_fd(sock, POLLOUT);
            if (r < 0)
                return r;
            continue;
        }
        nfds = 0;   /* they went with the first byte */
        iov_advance(&iov, &cnt, (size_t)n);
    }
    return 0;
}

/* hdr->size from the pieces; -EMSGSIZE past the 32-bit size field. */
int uvfio_msg_size(struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                   int iovcnt, size_t nfds)
{
    uint64_t total = UVFIO_HDR_SIZE;
    int i;

    if (iovcnt < 0 || iovcnt >= IOV_MAX || (iovcnt && !iov) ||
        nfds > UVFIO_MAX_FDS_LIMIT)
        return -EINVAL;
    for (i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > UINT32_MAX - total)
            return -EMSGSIZE;
        total += iov[i].iov_len;
    }
    hdr->size = (uint32_t)total;
    return 0;
}

int uvfio_msg_send(int sock, struct uvfio_wire_hdr *hdr,
                   const struct iovec *iov, int iovcnt,
                   const int *fds, size_t nfds)
{
    struct iovec stack[STACK_IOV], *vec = stack;
    int r;

    r = uvfio_msg_size(hdr, iov, iovcnt, nfds);
    if (r < 0)
        return r;
    if (iovcnt + 1 > STACK_IOV) {
        vec = malloc((size_t)(iovcnt + 1) * sizeof(*vec));
        if (!vec)
            return -ENOMEM;
    }
    vec[0].iov_base = hdr;
    vec[0].iov_len = UVFIO_HDR_SIZE;
    if (iovcnt)
        memcpy(vec + 1, iov, (size_t)iovcnt * sizeof(*vec));
    r = send_all(sock, vec, iovcnt + 1, fds, nfds);
    if (vec != stack)
        free(vec);
    return r;
}

int uvfio_msg_send_error(int sock, const struct uvfio_wire_hdr *req, int err)
{
    struct uvfio_wire_hdr h = {
        .msg_id = req->msg_id,
        .cmd = req->cmd,
        .flags = UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR,
        .error = (uint32_t)(err < 0 ? -err : err),
    };

    return uvfio_msg_send(sock, &h, NULL, 0, NULL, 0);
}
