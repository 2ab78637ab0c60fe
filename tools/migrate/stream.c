// SPDX-License-Identifier: MIT
/*
 * migrate/stream.c - framing and moving the live-migration records
 * (stream.h).
 *
 * The fd is non-blocking and every wait is a poll() against a deadline,
 * so no peer can hold an end forever.  Pages go out by reference: the
 * batch is a list of iovecs pointing into guest memory, written with one
 * sendmsg, and the kernel reads the pages only then - after the caller
 * re-protected them, which is the order the trackers need.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pagebits.h"
#include "records.h"
#include "stream.h"

#define SMALL_PAYLOAD   (LM_SEND_INLINE / 4)

static const char *const rec_names[LM_REC_TYPE_COUNT] = {
    [LM_REC_HELLO] = "HELLO",
    [LM_REC_READY] = "READY",
    [LM_REC_PAGES] = "PAGES",
    [LM_REC_DEVDATA] = "DEVDATA",
    [LM_REC_ROUND] = "ROUND",
    [LM_REC_SWITCHOVER] = "SWITCHOVER",
    [LM_REC_END] = "END",
    [LM_REC_SUMS] = "SUMS",
    [LM_REC_LOADED] = "LOADED",
    [LM_REC_RESULT] = "RESULT",
    [LM_REC_ERROR] = "ERROR",
};

const char *lm_rec_name(uint32_t type)
{
    return type && type < LM_REC_TYPE_COUNT ? rec_names[type] : "UNKNOWN";
}

/* ---- what a header may say ---------------------------------------------- */

static int check_fixed(const struct lm_rec *r, uint64_t len)
{
    return r->len == len && !r->addr ? 0 : -EPROTO;
}

static int check_pages(const struct lm_rec *r)
{
    if (!r->len || r->len > LM_MAX_PAYLOAD || r->len % LM_PAGE_SIZE ||
        r->addr % LM_PAGE_SIZE || r->len > UINT64_MAX - r->addr)
        return -EPROTO;
    return 0;
}

static int check_sums(const struct lm_rec *r)
{
    if (!r->len || r->len > LM_MAX_PAYLOAD || r->len % 8 ||
        r->addr > UINT64_MAX - r->len / 8)
        return -EPROTO;
    return 0;
}

int lm_rec_check(const struct lm_rec *r)
{
    switch (r->type) {
    case LM_REC_HELLO:
        return check_fixed(r, LM_HELLO_SIZE);
    case LM_REC_READY:
        return check_fixed(r, LM_READY_SIZE);
    case LM_REC_PAGES:
        return check_pages(r);
    case LM_REC_DEVDATA:
        return r->len && r->len <= LM_MAX_PAYLOAD && !r->addr ? 0 : -EPROTO;
    case LM_REC_ROUND:
        return r->len ? -EPROTO : 0;
    case LM_REC_SWITCHOVER:
    case LM_REC_LOADED:
        return check_fixed(r, 0);
    case LM_REC_END:
        return check_fixed(r, LM_END_SIZE);
    case LM_REC_SUMS:
        return check_sums(r);
    case LM_REC_RESULT:
        return check_fixed(r, LM_RESULT_SIZE);
    case LM_REC_ERROR:
        if (r->addr || r->len < LM_ERROR_MIN ||
            r->len > LM_ERROR_MIN + LM_ERROR_TEXT_MAX)
            return -EPROTO;
        return 0;
    default:
        return -EPROTO;
    }
}

/* ---- waiting ------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for `events` until the deadline: 0, -ETIMEDOUT, or the peer is
 * gone (-ECONNRESET) when only an error condition is left. */
static int wait_fd(struct lm_stream *s, short events, uint64_t deadline)
{
    struct pollfd p = { .fd = s->fd, .events = events };
    uint64_t now;
    int n;

    for (;;) {
        now = now_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        n = poll(&p, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (!n)
            return -ETIMEDOUT;
        if (p.revents & events)
            return 0;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return -ECONNRESET;
    }
}

/* ---- open/close --------------------------------------------------------- */

int lm_stream_open(int fd, int timeout_ms, struct lm_stream **out)
{
    struct lm_stream *s;
    int fl;

    *out = NULL;
    if (fd < 0 || timeout_ms <= 0) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        fl = -errno;
        close(fd);
        return fl;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    s->fd = fd;
    s->timeout_ms = timeout_ms;
    *out = s;
    return 0;
}

void lm_stream_close(struct lm_stream *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s);
}

/* ---- sending ------------------------------------------------------------ */

/* Write the iovecs out, however the kernel splits them. */
static ssize_t send_some(struct lm_stream *s, struct iovec *iov,
                         unsigned int n)
{
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
    ssize_t w;

    /* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE */
    w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == ENOTSOCK)
        w = writev(s->fd, iov, (int)n);
    return w;
}

static int write_iov(struct lm_stream *s, struct iovec *iov, unsigned int n)
{
    uint64_t deadline = now_ms() + (uint64_t)s->timeout_ms;
    ssize_t w;
    int r;

    while (n) {
        w = send_some(s, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return errno == EPIPE ? -ECONNRESET : -errno;
            r = wait_fd(s, POLLOUT, deadline);
            if (r)
                return r;
            continue;
        }
        s->bytes_out += (uint64_t)w;
        while (n && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
        /* progress restarts the clock: the timeout is for a stuck peer,
         * not for a slow transfer */
        deadline = now_ms() + (uint64_t)s->timeout_ms;
    }
    return 0;
}

int lm_flush(struct lm_stream *s)
{
    int r = write_iov(s, s->iov, s->niov);

    s->niov = 0;
    s->inl_used = 0;
    return r;
}

static void *inline_space(struct lm_stream *s, size_t len)
{
    void *p = s->inl + s->inl_used;

    s->inl_used += len;
    return p;
}

static void put_header(uint8_t *p, uint32_t type, uint64_t addr,
                       uint64_t len)
{
    uint32_t t = htole32(type), flags = 0;
    uint64_t a = htole64(addr), l = htole64(len);

    memcpy(p, &t, 4);
    memcpy(p + 4, &flags, 4);
    memcpy(p + 8, &a, 8);
    memcpy(p + 16, &l, 8);
}

/* Room for a header, two iovecs and `copy` inline bytes, flushing the
 * batch first if need be. */
static int make_room(struct lm_stream *s, size_t copy)
{
    if (s->niov + 2 <= LM_SEND_IOV &&
        s->inl_used + LM_REC_HDR_SIZE + copy <= LM_SEND_INLINE)
        return 0;
    return lm_flush(s);
}

static void add_iov(struct lm_stream *s, const void *p, size_t len)
{
    struct iovec *last = s->niov ? &s->iov[s->niov - 1] : NULL;

    if (!len)
        return;
    /* inline pieces laid out back to back go out as one iovec */
    if (last && (const uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += len;
        return;
    }
    s->iov[s->niov].iov_base = (void *)p;
    s->iov[s->niov].iov_len = len;
    s->niov++;
}

static int queue(struct lm_stream *s, uint32_t type, uint64_t addr,
                 const void *payload, size_t len, bool copy)
{
    struct lm_rec rec = { .type = type, .addr = addr, .len = len };
    uint8_t *hdr;
    int r;

    r = lm_rec_check(&rec);
    if (r)
        return -EINVAL;         /* our own bug: never put it on the wire */
    r = make_room(s, copy ? len : 0);
    if (r)
        return r;
    hdr = inline_space(s, LM_REC_HDR_SIZE);
    put_header(hdr, type, addr, len);
    add_iov(s, hdr, LM_REC_HDR_SIZE);
    if (copy && len) {
        void *p = inline_space(s, len);

        memcpy(p, payload, len);
        add_iov(s, p, len);
    } else {
        add_iov(s, payload, len);
    }
    return 0;
}

int lm_send(struct lm_stream *s, uint32_t type, uint64_t addr,
            const void *payload, size_t len)
{
    if (len > SMALL_PAYLOAD)
        return -EINVAL;
    return queue(s, type, addr, payload, len, true);
}

int lm_send_ref(struct lm_stream *s, uint32_t type, uint64_t addr,
                const void *payload, size_t len)
{
    return queue(s, type, addr, payload, len, false);
}

void lm_send_error(struct lm_stream *s, int err, const char *fmt, ...)
{
    uint8_t buf[LM_ERROR_MIN + LM_ERROR_TEXT_MAX];
    char text[LM_ERROR_TEXT_MAX + 1];
    size_t len;
    va_list ap;

    if (!s)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    lm_error_encode(err, text, buf, &len);
    /* whatever was queued may never go: the error must */
    s->niov = 0;
    s->inl_used = 0;
    if (!lm_send(s, LM_REC_ERROR, 0, buf, len))
        (void)lm_flush(s);
}

/* ---- receiving ---------------------------------------------------------- */

/* Read into dst (len bytes) from the buffer first, then the socket;
 * `fill` lets small reads refill the buffer instead of reading direct. */
static int read_exact(struct lm_stream *s, uint8_t *dst, size_t len)
{
    uint64_t deadline = now_ms() + (uint64_t)s->timeout_ms;
    size_t n;
    ssize_t got;
    int r;

    while (len) {
        if (s->rpos < s->rlen) {
            n = s->rlen - s->rpos < len ? s->rlen - s->rpos : len;
            memcpy(dst, s->rbuf + s->rpos, n);
            s->rpos += n;
            dst += n;
            len -= n;
            continue;
        }
        /* large reads go straight to their destination (guest memory);
         * small ones through the buffer, to save system calls */
        if (len >= sizeof(s->rbuf) / 2)
            got = read(s->fd, dst, len);
        else
            got = read(s->fd, s->rbuf, sizeof(s->rbuf));
        if (got == 0)
            return -ECONNRESET;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -errno;
            r = wait_fd(s, POLLIN, deadline);
            if (r)
                return r;
            continue;
        }
        s->bytes_in += (uint64_t)got;
        deadline = now_ms() + (uint64_t)s->timeout_ms;
        if (len >= sizeof(s->rbuf) / 2) {
            dst += got;
            len -= (size_t)got;
        } else {
            s->rpos = 0;
            s->rlen = (size_t)got;
        }
    }
    return 0;
}

int lm_recv(struct lm_stream *s, struct lm_rec *rec)
{
    uint8_t h[LM_REC_HDR_SIZE];
    uint32_t type, flags;
    int r;

    if (s->payload_left)
        return -EINVAL;         /* the caller skipped a payload */
    r = read_exact(s, h, sizeof(h));
    if (r)
        return r;
    memcpy(&type, h, 4);
    memcpy(&flags, h + 4, 4);
    memcpy(&rec->addr, h + 8, 8);
    memcpy(&rec->len, h + 16, 8);
    rec->type = le32toh(type);
    rec->addr = le64toh(rec->addr);
    rec->len = le64toh(rec->len);
    if (flags || lm_rec_check(rec))
        return -EPROTO;
    s->payload_left = rec->len;
    return 0;
}

bool lm_readable(struct lm_stream *s)
{
    struct pollfd p = { .fd = s->fd, .events = POLLIN };

    return s->rpos < s->rlen || poll(&p, 1, 0) > 0;
}

int lm_recv_payload(struct lm_stream *s, void *buf, size_t len)
{
    int r;

    if (len > s->payload_left)
        return -EINVAL;
    r = read_exact(s, buf, len);
    if (!r)
        s->payload_left -= len;
    return r;
}

int lm_recv_skip(struct lm_stream *s)
{
    uint8_t tmp[4096];
    size_t n;
    int r;

    while (s->payload_left) {
        n = s->payload_left < sizeof(tmp) ? (size_t)s->payload_left :
                                            sizeof(tmp);
        r = lm_recv_payload(s, tmp, n);
        if (r)
            return r;
    }
    return 0;
}
