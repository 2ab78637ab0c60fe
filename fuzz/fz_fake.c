/* SPDX-License-Identifier: MIT */
/* fuzz/fz_fake.c - see fz_fake.h; input format in fz_frame.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fz_fake.h"
#include "fz_frame.h"
#include "fz_input.h"
#include "fz_mirror.h"
#include "fz_util.h"
#include "proto/transport.h"
#include "proto/version.h"

#define MAX_OUTSTANDING     256
#define PAYLOAD_MAX         (0x10000u + 32u)

/* A request the fake sent that the client owes an answer. */
struct outstanding {
    uint16_t id, cmd;
    bool twin;
    bool loose;                 /* a command made of raw input bytes: only
                                   its id, command and socket are known */
    bool valid;                 /* well-formed in the spec layout */
    uint64_t addr, count;       /* as the spec layout reads them */
};

struct fz_fake {
    pthread_t thread;
    struct fz_in in;
    uint8_t cfg;
    uint64_t xfer;              /* the client's offer */
    int sock, twin;
    struct uvfio_rx *rx, *twin_rx;
    struct fz_mirror mir[2];    /* the client's receivers: main, twin */
    bool precise;               /* the message being sent is tracked */
    bool waiting, matched;      /* for the client's current request */
    uint16_t want_id;
    bool versioned, hung_up;
    uint16_t next_id;
    struct outstanding out[MAX_OUTSTANDING];
    size_t nout;
    bool untracked;             /* `out` overflowed: stop checking ids */
    bool trace;                 /* FZ_LOG: print the conversation */
    uint8_t *big;               /* FZS_BIG_MAX bytes, once a BIG turn came */
    size_t big_bytes;           /* sent by BIG turns so far */
    uint8_t buf[UVFIO_HDR_SIZE + PAYLOAD_MAX];
};

/* ---- what the client will see --------------------------------------------- */

static struct outstanding *outstanding_add(struct fz_fake *f, uint16_t id,
                                           uint16_t cmd, bool twin)
{
    struct outstanding *o;

    if (f->nout == MAX_OUTSTANDING) {
        f->untracked = true;
        return NULL;
    }
    o = &f->out[f->nout++];
    memset(o, 0, sizeof(*o));
    o->id = id;
    o->cmd = cmd;
    o->twin = twin;
    o->loose = true;
    return o;
}

/* A message the client's receiver will have complete (fz_mirror). */
static void mirror_message(struct fz_fake *f, const struct uvfio_wire_hdr *h,
                           bool twin)
{
    uint32_t type = h->flags & UVFIO_HDR_TYPE_MASK;

    if (f->trace)
        fprintf(stderr, "fake: -> %s%s id %u cmd %u size %u flags %#x "
                "(%zu owed)\n", twin ? "twin " : "",
                type ? "reply" : "command", h->msg_id, h->cmd, h->size,
                h->flags, f->nout);
    /* The client takes its reply from the main socket only. */
    if (type == UVFIO_HDR_TYPE_REPLY && !twin && f->waiting &&
        h->msg_id == f->want_id)
        f->matched = true;
    /* Every command owes us an answer, also one the input made up. */
    if (type == UVFIO_HDR_TYPE_COMMAND && !(h->flags & UVFIO_HDR_NO_REPLY) &&
        !f->precise)
        outstanding_add(f, h->msg_id, h->cmd, twin);
}

static void main_message(void *opaque, const struct uvfio_wire_hdr *h)
{
    mirror_message(opaque, h, false);
}

static void twin_message(void *opaque, const struct uvfio_wire_hdr *h)
{
    mirror_message(opaque, h, true);
}

/* ---- sending ------------------------------------------------------------------ */

static void hang_up(struct fz_fake *f)
{
    f->hung_up = true;
    shutdown(f->sock, SHUT_RDWR);
    if (f->twin >= 0)
        shutdown(f->twin, SHUT_RDWR);
}

static void send_all(struct fz_fake *f, bool twin, const uint8_t *p,
                     size_t len, const int *fds, size_t nfds)
{
    int sock = twin && f->twin >= 0 ? f->twin : f->sock;
    struct pollfd pfd = { .fd = sock, .events = POLLOUT };
    size_t off = 0;
    long n;

    fz_mirror_feed(&f->mir[sock != f->sock], p, len,
                   sock != f->sock ? twin_message : main_message, f);
    while (off < len) {
        n = fz_send(sock, p + off, len - off, off ? NULL : fds,
                    off ? 0 : nfds);
        if (n == -EAGAIN) {
            if (poll(&pfd, 1, FZ_FAKE_STUCK_MS) == 0)
                fz_fail("client stopped reading");
            continue;
        }
        if (n < 0)
            return;             /* the client is gone: nothing to tell */
        off += (size_t)n;
    }
}

static void send_msg(struct fz_fake *f, bool twin, struct uvfio_wire_hdr *h,
                     const void *payload, size_t len, const int *fds,
                     size_t nfds)
{
    h->size = (uint32_t)(UVFIO_HDR_SIZE + len);
    memcpy(f->buf, h, UVFIO_HDR_SIZE);
    if (len > PAYLOAD_MAX) {
        /* A BIG one: header (with the fds), then the payload. */
        send_all(f, twin, f->buf, UVFIO_HDR_SIZE, fds, nfds);
        send_all(f, twin, payload, len, NULL, 0);
        return;
    }
    if (len)
        memmove(f->buf + UVFIO_HDR_SIZE, payload, len);
    send_all(f, twin, f->buf, UVFIO_HDR_SIZE + len, fds, nfds);
}

/* ---- a turn ---------------------------------------------------------------------- */

static void remember(struct fz_fake *f, const struct uvfio_wire_hdr *h,
                     bool twin, const uint8_t *payload, size_t len)
{
    struct outstanding *o;
    struct uvfio_wire_dma_rw spec;

    o = outstanding_add(f, h->msg_id, h->cmd, twin && f->twin >= 0);
    if (!o)
        return;
    o->loose = false;
    o->valid = uvfio_wire_check_dma_request(h->cmd, payload, len, f->xfer,
                                            false) == 0;
    memcpy(&spec, payload, sizeof(spec));
    o->addr = spec.addr;
    o->count = spec.count;
}

/* A server-initiated request, built in f->buf's payload area. */
static void pre_request(struct fz_fake *f)
{
    uint8_t pf = fz_u8(&f->in), *p = f->buf + UVFIO_HDR_SIZE;
    uint64_t addr = fz_u64(&f->in);
    uint32_t count = fz_u32(&f->in);
    uint64_t count64 = count | (pf & 0x20 ? 1ull << 32 : 0);
    struct uvfio_wire_hdr h = {
        .msg_id = f->next_id++,
        .cmd = pf & FZC_PRE_WRITE ? UVFIO_CMD_DMA_WRITE : UVFIO_CMD_DMA_READ,
        .flags = UVFIO_HDR_TYPE_COMMAND |
                 (pf & FZC_PRE_NO_REPLY ? UVFIO_HDR_NO_REPLY : 0),
    };
    size_t dlen, len;
    const uint8_t *data = fz_view(&f->in, fz_u16(&f->in), &dlen);

    if (pf & FZC_PRE_OTHER_CMD)
        h.cmd = (uint16_t)(addr & 0xff);
    memcpy(p, &addr, 8);
    if (pf & FZC_PRE_QEMU) {
        memcpy(p + 8, &count, 4);
        memcpy(p + 12, data, dlen);
        memset(p + 12 + dlen, 0, 4);
        len = 12 + dlen + 4;
    } else {
        memcpy(p + 8, &count64, 8);
        memcpy(p + 16, data, dlen);
        len = 16 + dlen;
    }
    /* Known exactly only if the client's receiver is between messages:
     * after a partial garbage header these bytes become part of another
     * message, which the mirror records as it completes. */
    f->precise = fz_mirror_synced(&f->mir[(pf & FZC_PRE_TWIN) &&
                                          f->twin >= 0]);
    if (f->precise && !(h.flags & UVFIO_HDR_NO_REPLY))
        remember(f, &h, pf & FZC_PRE_TWIN, p, len);
    send_msg(f, pf & FZC_PRE_TWIN, &h, p, len, NULL, 0);
    f->precise = false;
}

/* A BIG payload (fz_frame.h); its length 0 past the input's budget. */
static const uint8_t *big_payload(struct fz_fake *f, size_t *len)
{
    size_t n = fz_u16(&f->in), pre;
    uint8_t fill;

    n |= (size_t)fz_u8(&f->in) << 16;
    n = n > FZS_BIG_MAX - UVFIO_HDR_SIZE ? FZS_BIG_MAX - UVFIO_HDR_SIZE : n;
    fill = fz_u8(&f->in);
    if (!f->big && !(f->big = malloc(FZS_BIG_MAX)))
        fz_fail("out of memory");
    pre = n < 16 ? n : 16;
    fz_take(&f->in, f->big, pre);
    *len = n > FZS_BIG_BUDGET - f->big_bytes ? 0 : n;
    f->big_bytes += *len;
    memset(f->big + pre, fill, *len > pre ? *len - pre : 0);
    return f->big;
}

static void reply(struct fz_fake *f, const struct uvfio_wire_hdr *req)
{
    uint8_t rf = fz_u8(&f->in), fdspec = 0;
    struct uvfio_wire_hdr h = {
        .msg_id = req->msg_id, .cmd = req->cmd, .flags = UVFIO_HDR_TYPE_REPLY,
    };
    const uint8_t *payload;
    size_t len, nfds = 0, i;
    int fds[3];

    if (rf & FZC_R_RAW_HDR) {
        h.msg_id = fz_u16(&f->in);
        h.cmd = fz_u16(&f->in);
        h.flags = fz_u8(&f->in);
    }
    if (rf & FZC_R_ERROR) {
        h.flags |= UVFIO_HDR_ERROR;
        h.error = fz_u32(&f->in);
    }
    if (rf & FZC_R_FDS) {
        fdspec = fz_u8(&f->in);
        nfds = fdspec & 3;
    }
    if (rf & FZC_R_BIG)
        payload = big_payload(f, &len);
    else
        payload = fz_view(&f->in, fz_u16(&f->in), &len);
    for (i = 0; i < nfds; i++) {
        fds[i] = fz_stub_fd((enum fz_stub)((fdspec >> 2) & 3));
        if (fds[i] < 0)
            fz_fail("stub fd: %s", strerror(-fds[i]));
    }
    if (rf & FZC_R_GARBAGE)
        send_all(f, rf & FZC_R_TWIN, payload, len, fds, nfds);
    else
        send_msg(f, rf & FZC_R_TWIN, &h, payload, len, fds, nfds);
    while (nfds)
        close(fds[--nfds]);
}

static void turn(struct fz_fake *f, const struct uvfio_wire_hdr *req)
{
    unsigned int npre = fz_u8(&f->in) & 3;

    while (npre--)
        pre_request(f);
    reply(f, req);
}

/* ---- VERSION ----------------------------------------------------------------------- */

static int make_twin(struct fz_fake *f, int *client_end)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   sv) < 0)
        return -errno;
    f->twin = sv[0];
    *client_end = sv[1];
    f->twin_rx = uvfio_rx_new(f->xfer + 4096, UINT32_MAX, 0);
    return f->twin_rx ? 0 : -ENOMEM;
}

/* A correct answer, so that most inputs get past the handshake. */
static void valid_version(struct fz_fake *f, const struct uvfio_msg *m)
{
    struct uvfio_wire_version v = { 0, 2 };
    struct uvfio_caps offer, lim, rep;
    struct uvfio_wire_hdr h = {
        .msg_id = m->hdr.msg_id, .cmd = UVFIO_CMD_VERSION,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };
    struct uvfio_buf b = UVFIO_BUF_INIT;
    int client_end = -1;

    if (m->len < sizeof(v) ||
        uvfio_caps_parse((const char *)m->payload + sizeof(v),
                         m->len - sizeof(v), &offer) < 0)
        fz_fail("the client's own VERSION offer does not parse");
    uvfio_caps_defaults(&lim);
    lim.max_msg_fds = 8;
    lim.write_multiple = lim.twin_socket = true;
    lim.extensions = UVFIO_EXT_PRECOPY_INFO;
    if (uvfio_caps_negotiate(&offer, &lim, &rep) < 0)
        fz_fail("the client's offer shares no page size with the defaults");
    if (rep.twin_socket && make_twin(f, &client_end) == 0)
        rep.twin_fd_index = 0;
    else
        rep.twin_socket = false;
    if (uvfio_buf_append(&b, &v, sizeof(v)) < 0 || uvfio_caps_format(&rep, &b))
        fz_fail("cannot build the VERSION reply");
    send_msg(f, false, &h, b.data, b.len, &client_end, client_end >= 0);
    uvfio_buf_free(&b);
    if (client_end >= 0)
        close(client_end);
}

/* ---- the client's messages --------------------------------------------------------- */

static void check_dma_reply(struct fz_fake *f, const struct uvfio_msg *m,
                            bool twin)
{
    struct uvfio_wire_dma_rw echo;
    struct outstanding o;
    size_t i;

    /* Replies come in the order of the requests: the oldest match. */
    for (i = 0; i < f->nout; i++)
        if (f->out[i].id == m->hdr.msg_id && f->out[i].cmd == m->hdr.cmd &&
            f->out[i].twin == twin)
            break;
    if (i == f->nout) {
        if (!f->untracked)
            fz_fail("client replied to request %u it was never sent",
                    m->hdr.msg_id);
        return;
    }
    o = f->out[i];
    f->nout--;
    memmove(&f->out[i], &f->out[i + 1], (f->nout - i) * sizeof(o));
    if (m->nfds)
        fz_fail("client's reply to %u carries fds", o.id);
    if (m->hdr.flags & UVFIO_HDR_ERROR) {
        if (m->hdr.error == 0 || m->hdr.error > 4095 || m->len)
            fz_fail("client's error reply: errno %u, %zu bytes",
                    m->hdr.error, m->len);
        return;
    }
    if (o.loose)
        return;
    if (!o.valid)
        fz_fail("client served a malformed %s request", o.cmd ==
                UVFIO_CMD_DMA_READ ? "DMA_READ" : "DMA_WRITE or other");
    if (uvfio_wire_check_dma_reply(o.cmd, m->payload, m->len, f->xfer,
                                   false) < 0)
        fz_fail("client's DMA reply is malformed (%zu bytes)", m->len);
    if (m->len >= sizeof(echo)) {
        memcpy(&echo, m->payload, sizeof(echo));
        if (echo.addr != o.addr || echo.count != o.count)
            fz_fail("client's DMA reply echoes another request");
    }
}

/* The next message from the client: 1, or 0 once it has closed. */
static int next_msg(struct fz_fake *f, struct uvfio_msg *m, bool *twin)
{
    struct pollfd pfd[2];
    int r, n;

    for (;;) {
        memset(m, 0, sizeof(*m));
        *twin = false;
        r = uvfio_rx_read(f->rx, f->sock, m);
        if (r < 0 && r != -ECONNRESET)
            fz_fail("client's byte stream broke: %s", strerror(-r));
        if (r != 0)
            return r > 0;
        if (f->twin >= 0) {
            *twin = true;
            r = uvfio_rx_read(f->twin_rx, f->twin, m);
            if (r > 0)
                return 1;
            if (r < 0) {
                close(f->twin);
                f->twin = -1;
            }
        }
        pfd[0] = (struct pollfd){ .fd = f->sock, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = f->twin, .events = POLLIN };
        n = poll(pfd, f->twin >= 0 ? 2 : 1, FZ_FAKE_STUCK_MS);
        if (n == 0)
            fz_fail("client neither sends nor goes away");
    }
}

/* Turns until the client has what it waits for, or the input ends. */
static void answer(struct fz_fake *f, const struct uvfio_msg *m)
{
    if (!f->versioned) {
        f->versioned = true;
        if (m->hdr.cmd != UVFIO_CMD_VERSION)
            fz_fail("client began with command %u", m->hdr.cmd);
        if (!(f->cfg & FZC_CFG_RAW_VERSION)) {
            valid_version(f, m);
            return;
        }
    }
    f->want_id = m->hdr.msg_id;
    f->waiting = !(m->hdr.flags & UVFIO_HDR_NO_REPLY);
    f->matched = false;
    do {
        if (fz_done(&f->in)) {
            hang_up(f);
            return;
        }
        turn(f, &m->hdr);
    } while (f->waiting && !f->matched && !f->mir[0].broken &&
             !f->mir[1].broken);
}

static void *fake_main(void *arg)
{
    struct fz_fake *f = arg;
    struct uvfio_msg m;
    bool twin;

    while (next_msg(f, &m, &twin) == 1) {
        if (f->trace)
            fprintf(stderr, "fake: <- %s%s id %u cmd %u, %zu bytes\n",
                    twin ? "twin " : "", m.hdr.flags & UVFIO_HDR_TYPE_MASK ?
                    "reply" : "command", m.hdr.msg_id, m.hdr.cmd, m.len);
        if (m.oversize || m.fds_truncated)
            fz_fail("client sent %u bytes / too many fds", m.hdr.size);
        if ((m.hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY)
            check_dma_reply(f, &m, twin);
        else if (twin)
            fz_fail("client sent a command on the twin socket");
        else if (!f->hung_up)
            answer(f, &m);
        uvfio_msg_free(&m);
    }
    return NULL;
}

struct fz_fake *fz_fake_start(int sock, const uint8_t *data, size_t size,
                              uint64_t xfer)
{
    struct fz_fake *f = calloc(1, sizeof(*f));
    /* The client's receive limit (client_priv.h's slack) and its discard
     * limit on top. */
    size_t rx_max = UVFIO_HDR_SIZE + xfer + (64u << 10);

    if (!f)
        return NULL;
    f->in = (struct fz_in){ data, size };
    f->cfg = fz_u8(&f->in);
    f->xfer = xfer;
    /* The client's discard limit (client.c's chan_open). */
    fz_mirror_init(&f->mir[0], UVFIO_MAX_DATA_XFER_LIMIT + rx_max);
    fz_mirror_init(&f->mir[1], UVFIO_MAX_DATA_XFER_LIMIT + rx_max);
    f->sock = sock;
    f->twin = -1;
    f->trace = getenv("FZ_LOG");
    /* Client messages: its largest is a full region or migration write. */
    f->rx = uvfio_rx_new(rx_max, UINT32_MAX, 8);
    if (!f->rx || fcntl(sock, F_SETFL, O_NONBLOCK) < 0 ||
        pthread_create(&f->thread, NULL, fake_main, f)) {
        uvfio_rx_free(f->rx);
        free(f);
        return NULL;
    }
    return f;
}

void fz_fake_join(struct fz_fake *f)
{
    pthread_join(f->thread, NULL);
    close(f->sock);
    if (f->twin >= 0)
        close(f->twin);
    uvfio_rx_free(f->rx);
    uvfio_rx_free(f->twin_rx);
    free(f->big);
    free(f);
}
