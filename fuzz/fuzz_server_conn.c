/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_server_conn.c - a whole client connection, as bytes.
 *
 * The fuzzer plays a vfio-user client of a real server (uvfio_server over
 * a socketpair, served in-process by uvfio_server_dispatch) in front of the
 * real core, PCI model and migration code, with fz_dev as the driver.
 * Input format: fz_frame.h.  A valid VERSION goes first so every input is
 * past negotiation; the records then reach the server's real receive path
 * as a byte stream, with stand-in fds attached where the input says, and
 * the server runs after each record unless the record asks to be
 * pipelined with the next (which is how a DMA reply can be waiting in the
 * socket by the time the device asks for it).
 *
 * Besides "no crash, no leak", what the server sends back is checked:
 * every command it will have received (the harness replays the server's
 * receiver on what it sends, fz_mirror) is answered exactly once, in
 * order, unless flagged NO_REPLY - and by the time the server goes quiet,
 * unless it dropped the connection; every reply is well-formed for its
 * command (proto's own reply checks), an error reply carries an errno and
 * nothing else, a DMA request is well-formed in the layout negotiated, no
 * message exceeds the negotiated size, VERSION answers a subset of the
 * offer, and after the connection and server are gone the process holds
 * exactly the fds it held before.
 *
 * Time: message-path DMA that nobody answers costs the server's DMA
 * timeout, 1 ms here (uvfio_server_opts.dma_timeout_ms), and the device
 * performs at most FZ_DEV_MAX_OPS operations per input.  Nothing else
 * waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "fz_dev.h"
#include "fz_frame.h"
#include "fz_input.h"
#include "fz_mirror.h"
#include "fz_util.h"
#include "proto/transport.h"
#include "proto/version.h"

#define SETTLE_MAX      10000   /* dispatch rounds before "livelock" */
#define KEPT_MAX        8       /* eventfds the client keeps to signal */
#define STALL_MAX       64      /* full socket rounds before giving up */
#define SERVER_XFER     (64u << 10)
#define RX_SLACK        4096u
/* A message announcing more than this ends the connection instead of
 * being skipped (docs/robustness.md: 65 MiB). */
#define SERVER_DISCARD  ((64ull << 20) + (1ull << 20))
#define EXPECT_MAX      4096u   /* answers owed, per socket */

static const char qemu_json[] =
    "{\"capabilities\": {\"pgsizes\": 4096, \"max_msg_fds\": 16, "
    "\"max_dma_maps\": 65535, \"max_data_xfer_size\": 1048576, "
    "\"migration\": {\"max_bitmap_size\": 268435456, \"pgsize\": 4096}, "
    "\"write_multiple\": true}}";

/* Answers the server owes on one socket, oldest first. */
struct owed {
    struct fz_mirror mir;       /* the server's receiver on that socket */
    struct { uint16_t id, cmd; } q[EXPECT_MAX];
    size_t head, n;
    bool untracked;             /* q overflowed: stop checking */
};

struct sess {
    struct fz_dev *dev;
    struct uvfio_server *srv;
    int sock, twin;             /* the client's ends, -1 when gone */
    struct uvfio_rx *rx, *twin_rx;
    struct uvfio_caps offer;
    bool qemu;                  /* proposed 0.0: QEMU's DMA layout */
    bool negotiated;
    uint64_t max_xfer;          /* what replies are held to */
    bool closed;                /* the server dropped us, or we hung up */
    int kept[KEPT_MAX];         /* our copies of eventfds sent */
    unsigned int nkept;
    bool trace;                 /* FZ_LOG: print what the server sends */
    struct owed owed[2];        /* main, twin */
    size_t big_bytes;           /* sent by BIG records so far */
};

/* ---- what the server owes -------------------------------------------------- */

static void owe(void *opaque, const struct uvfio_wire_hdr *h)
{
    struct owed *o = opaque;

    if ((h->flags & UVFIO_HDR_TYPE_MASK) != UVFIO_HDR_TYPE_COMMAND ||
        (h->flags & UVFIO_HDR_NO_REPLY))
        return;
    if (o->n == EXPECT_MAX) {
        o->untracked = true;
        return;
    }
    o->q[(o->head + o->n++) % EXPECT_MAX].id = h->msg_id;
    o->q[(o->head + o->n - 1) % EXPECT_MAX].cmd = h->cmd;
}

/* A reply arrived: it must answer the oldest command still owed. */
static void paid(struct owed *o, const struct uvfio_wire_hdr *h, bool twin)
{
    if (o->untracked)
        return;
    if (!o->n)
        fz_fail("reply %u to command %u on the %s socket answers nothing",
                h->msg_id, h->cmd, twin ? "twin" : "main");
    if (o->q[o->head].id != h->msg_id || o->q[o->head].cmd != h->cmd)
        fz_fail("reply %u/%u on the %s socket, but %u/%u is owed first",
                h->msg_id, h->cmd, twin ? "twin" : "main", o->q[o->head].id,
                o->q[o->head].cmd);
    o->head = (o->head + 1) % EXPECT_MAX;
    o->n--;
}

/* The server went quiet: every command it has must have been answered,
 * unless it dropped the connection or we sent bytes it cannot parse. */
static void all_paid(const struct sess *s)
{
    int i;

    for (i = 0; i < 2 && !s->closed; i++)
        if (s->owed[i].n && !s->owed[i].untracked && !s->owed[i].mir.broken)
            fz_fail("server idle with %zu command(s) unanswered on the %s "
                    "socket, the first %u/%u", s->owed[i].n,
                    i ? "twin" : "main", s->owed[i].q[s->owed[i].head].id,
                    s->owed[i].q[s->owed[i].head].cmd);
}

/* ---- what the server sends ------------------------------------------------ */

static void check_version_reply(struct sess *s, struct uvfio_msg *m)
{
    struct uvfio_caps rep;
    const struct uvfio_caps *o = &s->offer;

    if (s->negotiated)
        fz_fail("second successful VERSION reply");
    if (uvfio_caps_parse((const char *)m->payload + 4, m->len - 4, &rep) < 0)
        fz_fail("server's VERSION JSON does not parse");
    if ((rep.pgsizes & ~o->pgsizes) || (rep.write_multiple &&
        !o->write_multiple) || (rep.twin_socket && !o->twin_socket) ||
        (rep.extensions & ~o->extensions) ||
        rep.max_data_xfer_size > o->max_data_xfer_size ||
        rep.max_msg_fds > o->max_msg_fds)
        fz_fail("VERSION reply is not a subset of the offer");
    if (rep.twin_socket) {
        if (rep.twin_fd_index != 0 || m->nfds != 1)
            fz_fail("twin socket announced but not attached");
        s->twin = m->fds[0];
        m->fds[0] = -1;
        s->twin_rx = uvfio_rx_new(s->max_xfer + RX_SLACK, UINT32_MAX, 0);
        if (!s->twin_rx || fcntl(s->twin, F_SETFL, O_NONBLOCK) < 0)
            fz_fail("twin setup: %s", strerror(errno));
    }
    s->max_xfer = rep.max_data_xfer_size;
    s->negotiated = true;
}

static void check_reply(struct sess *s, struct uvfio_msg *m)
{
    if (m->hdr.flags & UVFIO_HDR_ERROR) {
        if (m->hdr.error == 0 || m->hdr.error > 4095 || m->len || m->nfds)
            fz_fail("error reply to %u: errno %u, %zu bytes, %zu fds",
                    m->hdr.cmd, m->hdr.error, m->len, m->nfds);
        return;
    }
    if (uvfio_wire_check_reply(m->hdr.cmd, m->payload, m->len, m->nfds,
                               s->max_xfer) < 0)
        fz_fail("malformed reply to %s: %zu bytes, %zu fds",
                uvfio_cmd_name(m->hdr.cmd), m->len, m->nfds);
    if (m->hdr.cmd == UVFIO_CMD_VERSION)
        check_version_reply(s, m);
}

static void check_msg(struct sess *s, struct uvfio_msg *m, bool twin)
{
    uint32_t type = m->hdr.flags & UVFIO_HDR_TYPE_MASK;

    if (s->trace)
        fprintf(stderr, "fuzz: <- %s%s %u id %u errno %u, %zu bytes\n",
                twin ? "twin " : "", type ? "reply" : "request", m->hdr.cmd,
                m->hdr.msg_id, m->hdr.error, m->len);

    if (m->oversize || m->fds_truncated)
        fz_fail("server sent %s %u of %u bytes / too many fds",
                type ? "reply" : "command", m->hdr.cmd, m->hdr.size);
    if (type == UVFIO_HDR_TYPE_REPLY) {
        /* On the twin only a command sent there by mistake is answered,
         * and only with an error. */
        if (twin && !(m->hdr.flags & UVFIO_HDR_ERROR))
            fz_fail("reply to %u on the twin socket", m->hdr.cmd);
        paid(&s->owed[twin], &m->hdr, twin);
        check_reply(s, m);
        return;
    }
    if (type != UVFIO_HDR_TYPE_COMMAND || m->nfds ||
        uvfio_wire_check_dma_request(m->hdr.cmd, m->payload, m->len,
                                     s->max_xfer, s->qemu) < 0)
        fz_fail("malformed server request %u (%zu bytes) on the %s socket",
                m->hdr.cmd, m->len, twin ? "twin" : "main");
}

/* Read everything the server has sent so far, checking each message. */
static void drain_one(struct sess *s, int *sock, struct uvfio_rx *rx,
                      bool twin)
{
    struct uvfio_msg m;
    int r;

    while (*sock >= 0) {
        memset(&m, 0, sizeof(m));
        r = uvfio_rx_read(rx, *sock, &m);
        if (r == 0)
            return;
        if (r == -ECONNRESET) {
            s->closed = true;
            return;
        }
        if (r < 0)
            fz_fail("server's byte stream broke: %s", strerror(-r));
        check_msg(s, &m, twin);
        uvfio_msg_free(&m);
    }
}

static void drain(struct sess *s)
{
    drain_one(s, &s->sock, s->rx, false);
    if (s->twin_rx)
        drain_one(s, &s->twin, s->twin_rx, true);
}

/* Let the server handle everything it has, until it goes quiet. */
static void settle(struct sess *s)
{
    int i, n;

    for (i = 0; i < SETTLE_MAX; i++) {
        n = uvfio_server_dispatch(s->srv, 0);
        if (n < 0)
            fz_fail("dispatch: %s", strerror(-n));
        drain(s);
        if (n == 0) {
            all_paid(s);
            return;
        }
    }
    fz_fail("server still busy after %d rounds", SETTLE_MAX);
}

/* ---- what the client sends ------------------------------------------------- */

static void send_bytes(struct sess *s, int sock, const uint8_t *p, size_t len,
                       const int *fds, size_t nfds)
{
    struct owed *o = &s->owed[sock == s->twin];
    size_t off = 0;
    int stalls = 0;
    long n;

    while (off < len && sock >= 0 && !s->closed) {
        n = fz_send(sock, p + off, len - off, off ? NULL : fds,
                    off ? 0 : nfds);
        if (n == -EAGAIN) {
            if (++stalls > STALL_MAX)
                return;
            settle(s);
            continue;
        }
        if (n < 0) {
            s->closed = true;   /* EPIPE / ECONNRESET: we were dropped */
            return;
        }
        /* What the server will parse is what it got. */
        fz_mirror_feed(&o->mir, p + off, (size_t)n, owe, o);
        off += (size_t)n;
    }
}

static size_t build_msg(struct fz_in *in, uint8_t *buf)
{
    struct uvfio_wire_hdr h = { 0 };
    size_t len;

    h.cmd = fz_u8(in);
    h.flags = fz_u8(in);
    h.msg_id = fz_u16(in);
    h.error = fz_u8(in);
    fz_take(in, buf + sizeof(h), len = fz_u16(in));
    h.size = (uint32_t)(sizeof(h) + len);
    memcpy(buf, &h, sizeof(h));
    return sizeof(h) + len;
}

/* A BIG record into buf (FZS_BIG_MAX bytes); 0 past the input's budget. */
static size_t build_big(struct sess *s, struct fz_in *in, uint8_t *buf)
{
    struct uvfio_wire_hdr h = { 0 };
    uint8_t fill;
    size_t size, pre;

    h.cmd = fz_u8(in);
    h.flags = fz_u8(in);
    h.msg_id = fz_u16(in);
    size = fz_u16(in);
    size |= (size_t)fz_u8(in) << 16;
    fill = fz_u8(in);
    size = size < sizeof(h) ? sizeof(h) : size;
    size = size > FZS_BIG_MAX ? FZS_BIG_MAX : size;
    pre = size - sizeof(h) < 16 ? size - sizeof(h) : 16;
    fz_take(in, buf + sizeof(h), pre);
    if (size > FZS_BIG_BUDGET - s->big_bytes)
        return 0;
    s->big_bytes += size;
    memset(buf + sizeof(h) + pre, fill, size - sizeof(h) - pre);
    h.size = (uint32_t)size;
    memcpy(buf, &h, sizeof(h));
    return size;
}

static void close_fds(int *fds, size_t n)
{
    while (n--)
        close(fds[n]);
}

/* The eventfds a client sends are ones it can signal later. */
static void keep_eventfd(struct sess *s, int fd)
{
    int copy;

    if (s->nkept == KEPT_MAX)
        return;
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        fz_fail("dup: %s", strerror(errno));
    s->kept[s->nkept++] = copy;
}

static void signal_kept(struct sess *s, uint8_t idx)
{
    uint64_t one = 1;

    if (s->trace)
        fprintf(stderr, "fuzz: signal eventfd %u of %u\n",
                s->nkept ? idx % s->nkept : 0, s->nkept);
    if (s->nkept && write(s->kept[idx % s->nkept], &one, sizeof(one)) < 0)
        fz_fail("eventfd write: %s", strerror(errno));
    settle(s);
}

/* One record; false once the input asked to hang up. */
static bool run_record(struct sess *s, struct fz_in *in, uint8_t *buf)
{
    uint8_t op = fz_u8(in);
    unsigned int kind = op & FZS_KIND_MASK;
    size_t nfds = (op & FZS_NFDS_MASK) >> FZS_NFDS_SHIFT, i, len = 0;
    int fds[3];

    if (kind == FZS_HANGUP) {
        shutdown(s->sock, SHUT_WR);
        settle(s);
        return false;
    }
    if (kind == FZS_SETTLE) {
        settle(s);
        return true;
    }
    if (kind == FZS_SIGNAL) {
        signal_kept(s, fz_u8(in));
        return true;
    }
    if (kind == FZS_RAW || kind == FZS_RAW_TWIN)
        fz_take(in, buf, len = fz_u16(in));
    else if (kind == FZS_BIG)
        len = build_big(s, in, buf);
    else
        len = build_msg(in, buf);
    for (i = 0; i < nfds; i++) {
        fds[i] = fz_stub_fd((enum fz_stub)(op >> FZS_FDKIND_SHIFT));
        if (fds[i] < 0)
            fz_fail("stub fd: %s", strerror(-fds[i]));
        if (op >> FZS_FDKIND_SHIFT == FZ_STUB_EVENTFD)
            keep_eventfd(s, fds[i]);
    }
    send_bytes(s, kind == FZS_MSG_TWIN || kind == FZS_RAW_TWIN ? s->twin :
               s->sock, buf, len, fds, nfds);
    close_fds(fds, nfds);
    if (!(op & FZS_PIPELINE))
        settle(s);
    return true;
}

/* ---- the session ------------------------------------------------------------ */

static void make_offer(struct sess *s, uint8_t cfg)
{
    static const uint64_t xfer[4] = { 4096, 16384, 65536, 65536 };

    uvfio_caps_defaults(&s->offer);
    if (cfg & FZS_CFG_QEMU_JSON) {
        /* What QEMU's literal JSON means, for the subset check. */
        uvfio_caps_parse(qemu_json, sizeof(qemu_json), &s->offer);
        s->max_xfer = s->offer.max_data_xfer_size;
        return;
    }
    s->offer.max_msg_fds = 16;
    s->offer.max_data_xfer_size = xfer[(cfg & FZS_CFG_XFER_MASK) >>
                                       FZS_CFG_XFER_SHIFT];
    s->offer.write_multiple = !(cfg & FZS_CFG_NO_WM);
    s->offer.twin_socket = cfg & FZS_CFG_TWIN;
    s->offer.extensions = cfg & FZS_CFG_PRECOPY ? UVFIO_EXT_PRECOPY_INFO : 0;
    s->max_xfer = s->offer.max_data_xfer_size;
}

static void negotiate(struct sess *s, uint8_t cfg)
{
    struct uvfio_wire_version v = { 0, cfg & FZS_CFG_QEMU ? 0 : 2 };
    struct uvfio_wire_hdr h = { .cmd = UVFIO_CMD_VERSION };
    struct uvfio_buf b = UVFIO_BUF_INIT;

    make_offer(s, cfg);
    s->qemu = v.minor == 0;
    if (uvfio_buf_append(&b, &h, sizeof(h)) < 0 ||
        uvfio_buf_append(&b, &v, sizeof(v)) < 0 ||
        (cfg & FZS_CFG_QEMU_JSON ?
         uvfio_buf_append(&b, qemu_json, sizeof(qemu_json)) :
         uvfio_caps_format(&s->offer, &b)) < 0)
        fz_fail("cannot build VERSION");
    h.size = (uint32_t)b.len;
    memcpy(b.data, &h, sizeof(h));
    send_bytes(s, s->sock, b.data, b.len, NULL, 0);
    uvfio_buf_free(&b);
    settle(s);
    if (!s->negotiated)
        fz_fail("a valid VERSION was not answered");
}

static void sess_open(struct sess *s)
{
    const struct uvfio_server_opts opts = {
        .max_msg_fds = 8,
        .max_data_xfer_size = SERVER_XFER,
        .dma_timeout_ms = 1,
    };
    int sv[2];

    memset(s, 0, sizeof(*s));
    s->twin = -1;
    fz_mirror_init(&s->owed[0].mir, SERVER_DISCARD);
    fz_mirror_init(&s->owed[1].mir, SERVER_DISCARD);
    s->trace = getenv("FZ_LOG");
    s->dev = fz_dev_new();
    if (!s->dev || uvfio_server_create(&opts, &s->srv) < 0)
        fz_fail("cannot create the device or the server");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fz_fail("socketpair: %s", strerror(errno));
    if (uvfio_server_add_device_fd(s->srv, fz_dev_device(s->dev),
                                   sv[1]) < 0)
        fz_fail("add_device_fd failed");
    s->sock = sv[0];
    s->rx = uvfio_rx_new(SERVER_XFER + RX_SLACK, UINT32_MAX, 1);
    if (!s->rx || fcntl(s->sock, F_SETFL, O_NONBLOCK) < 0)
        fz_fail("client setup: %s", strerror(errno));
}

static void sess_close(struct sess *s)
{
    close_fds(s->kept, s->nkept);
    if (s->sock >= 0)
        close(s->sock);
    if (s->twin >= 0)
        close(s->twin);
    uvfio_server_destroy(s->srv);
    fz_dev_free(s->dev);
    uvfio_rx_free(s->rx);
    uvfio_rx_free(s->twin_rx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[FZS_BIG_MAX];
    struct fz_in in = { data, size };
    int fds_before = fz_fd_count();
    struct sess s;

    sess_open(&s);
    negotiate(&s, fz_u8(&in));
    while (!fz_done(&in) && !s.closed && run_record(&s, &in, buf))
        ;
    sess_close(&s);
    if (fz_fd_count() != fds_before)
        fz_fail("fd leak: %d open before, %d after", fds_before,
                fz_fd_count());
    return 0;
}
