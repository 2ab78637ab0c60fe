/* SPDX-License-Identifier: MIT */
/*
 * fuzz/gen_client.c - the fuzz_client_reply corpus, recorded.
 *
 * The client script (fz_script.c) runs against the real server serving
 * fz_dev, through a proxy that forwards every message both ways and writes
 * down what the server answered to each request as one turn of the fake
 * server's input format (fz_frame.h).  A seed therefore holds a real
 * server's replies, byte for byte, to the very requests the fuzz target
 * will make.  Variants add server DMA requests - valid, refused, in QEMU's
 * layout, on the twin socket - before the answers to the feature calls,
 * when the script's DMA maps are in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "fz_dev.h"
#include "fz_frame.h"
#include "fz_script.h"
#include "fz_util.h"
#include "gen_seeds.h"
#include "proto/transport.h"

struct recorder {
    int cli, srv;               /* the proxy's two ends */
    struct uvfio_rx *rx_cli, *rx_srv;
    struct uvfio_buf out;       /* cfg + turns */
    struct uvfio_buf pre;       /* server requests of the turn being built */
    unsigned int npre;
    bool version_seen, raw_version, inject;
    unsigned int injected;
};

/* Server requests slipped in before the feature replies. */
static const struct injection {
    uint8_t pf;
    uint64_t addr;
    uint32_t count;
    uint16_t dlen;
} injections[] = {
    { 0, FZ_SCRIPT_IOVA_MSG, 64, 0 },
    { FZC_PRE_WRITE, FZ_SCRIPT_IOVA_MSG + 128, 16, 16 },
    { FZC_PRE_WRITE | FZC_PRE_QEMU, FZ_SCRIPT_IOVA_MSG + 256, 8, 8 },
    { 0, FZ_SCRIPT_IOVA_MSG_RO, 32, 0 },
    { FZC_PRE_WRITE, FZ_SCRIPT_IOVA_MSG_RO, 8, 8 },
    { 0, 0x900000, 16, 0 },
    { FZC_PRE_NO_REPLY, FZ_SCRIPT_IOVA_MSG, 8, 0 },
    { FZC_PRE_TWIN, FZ_SCRIPT_IOVA_MSG, 32, 0 },
    { 0, FZ_SCRIPT_IOVA_FD, 16, 0 },
    { FZC_PRE_OTHER_CMD, 0x55, 0, 0 },
};
#define NR_INJECTIONS (sizeof(injections) / sizeof(injections[0]))

static void pre_entry(struct recorder *r, uint8_t pf, uint64_t addr,
                      uint32_t count, const void *data, uint16_t dlen)
{
    gen_put8(&r->pre, pf);
    gen_put64(&r->pre, addr);
    gen_put32(&r->pre, count);
    gen_put16(&r->pre, dlen);
    gen_put(&r->pre, data, dlen);
    r->npre++;
}

static void inject(struct recorder *r)
{
    static const uint8_t data[16] = { 0xd1, 0xd2, 0xd3, 0xd4 };
    const struct injection *in;

    while (r->npre < 3) {
        in = &injections[r->injected++ % NR_INJECTIONS];
        pre_entry(r, in->pf, in->addr, in->count, data, in->dlen);
    }
}

static void turn(struct recorder *r, const struct uvfio_msg *m)
{
    uint8_t rf = 0;

    if (r->inject && m && m->hdr.cmd == UVFIO_CMD_DEVICE_FEATURE)
        inject(r);
    gen_put8(&r->out, (uint8_t)r->npre);
    gen_put(&r->out, r->pre.data, r->pre.len);
    uvfio_buf_reset(&r->pre);
    r->npre = 0;
    if (!m) {
        /* A NO_REPLY command: the turn sends nothing. */
        gen_put8(&r->out, FZC_R_GARBAGE);
        gen_put16(&r->out, 0);
        return;
    }
    if (m->hdr.flags & UVFIO_HDR_ERROR)
        rf |= FZC_R_ERROR;
    if (m->nfds)
        rf |= FZC_R_FDS;
    gen_put8(&r->out, rf);
    if (rf & FZC_R_ERROR)
        gen_put32(&r->out, m->hdr.error);
    if (rf & FZC_R_FDS)
        gen_put8(&r->out, (uint8_t)(m->nfds | FZ_STUB_MEMFD << 2));
    gen_put16(&r->out, (uint16_t)m->len);
    gen_put(&r->out, m->payload, m->len);
}

static void forward(int sock, const struct uvfio_msg *m)
{
    struct uvfio_wire_hdr h = m->hdr;
    struct iovec iov = { m->payload, m->len };

    if (uvfio_msg_send(sock, &h, &iov, m->len ? 1 : 0, m->fds, m->nfds) < 0)
        gen_die("proxy send");
}

static void from_server(struct recorder *r, struct uvfio_msg *m)
{
    struct uvfio_wire_dma_rw rw;

    forward(r->cli, m);
    if ((m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_COMMAND) {
        memcpy(&rw, m->payload, sizeof(rw));
        pre_entry(r, m->hdr.cmd == UVFIO_CMD_DMA_WRITE ? FZC_PRE_WRITE : 0,
                  rw.addr, (uint32_t)rw.count, m->payload + sizeof(rw),
                  (uint16_t)(m->len - sizeof(rw)));
        return;
    }
    if (!r->version_seen) {
        r->version_seen = true;
        if (!r->raw_version)
            return;     /* the fake answers VERSION itself */
    }
    turn(r, m);
}

static void from_client(struct recorder *r, struct uvfio_msg *m)
{
    forward(r->srv, m);
    if ((m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_COMMAND &&
        (m->hdr.flags & UVFIO_HDR_NO_REPLY))
        turn(r, NULL);
}

/* One side: 1 after handling a message, 0 when none, -1 at EOF. */
static int pump(struct recorder *r, bool client)
{
    struct uvfio_msg m;
    int ret;

    memset(&m, 0, sizeof(m));
    ret = uvfio_rx_read(client ? r->rx_cli : r->rx_srv,
                        client ? r->cli : r->srv, &m);
    if (ret <= 0)
        return ret < 0 ? -1 : 0;
    if (client)
        from_client(r, &m);
    else
        from_server(r, &m);
    uvfio_msg_free(&m);
    return 1;
}

static void *proxy_main(void *arg)
{
    struct recorder *r = arg;
    struct pollfd pfd[2];
    int a, b;

    for (;;) {
        a = pump(r, true);
        b = pump(r, false);
        if (a < 0 || b < 0)
            break;
        if (a || b)
            continue;
        pfd[0] = (struct pollfd){ .fd = r->cli, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = r->srv, .events = POLLIN };
        if (poll(pfd, 2, 10000) == 0)
            gen_die("proxy: nothing for 10 s");
    }
    shutdown(r->srv, SHUT_RDWR);
    return NULL;
}

static void *server_main(void *arg)
{
    uvfio_server_run(arg);
    return NULL;
}

static void record(const char *dir, const char *name, uint8_t cfg,
                   bool inject_dma)
{
    struct recorder r = { .out = UVFIO_BUF_INIT, .pre = UVFIO_BUF_INIT };
    struct uvfio_server *srv;
    struct fz_dev *d = fz_dev_new();
    pthread_t ts, tp;
    int a[2], b[2];

    if (!d || uvfio_server_create(NULL, &srv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) < 0 ||
        uvfio_server_add_device_fd(srv, fz_dev_device(d), b[1]) < 0)
        gen_die("recording setup");
    r.cli = a[1];
    r.srv = b[0];
    r.raw_version = cfg & FZC_CFG_RAW_VERSION;
    r.inject = inject_dma;
    r.rx_cli = uvfio_rx_new(1u << 21, UINT32_MAX, 16);
    r.rx_srv = uvfio_rx_new(1u << 21, UINT32_MAX, 16);
    if (!r.rx_cli || !r.rx_srv || fcntl(r.cli, F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(r.srv, F_SETFL, O_NONBLOCK) < 0)
        gen_die("recording setup");
    gen_put8(&r.out, cfg);
    if (pthread_create(&ts, NULL, server_main, srv) ||
        pthread_create(&tp, NULL, proxy_main, &r))
        gen_die("threads");
    fz_script_run(a[0], cfg);
    pthread_join(tp, NULL);
    uvfio_server_stop(srv);
    pthread_join(ts, NULL);
    uvfio_server_destroy(srv);
    fz_dev_free(d);
    close(r.cli);
    close(r.srv);
    uvfio_rx_free(r.rx_cli);
    uvfio_rx_free(r.rx_srv);
    uvfio_buf_free(&r.pre);
    gen_write(dir, "fuzz_client_reply", name, &r.out);
    uvfio_buf_free(&r.out);
}

void gen_client_seeds(const char *dir)
{
    record(dir, "session", 0, false);
    record(dir, "session-small-xfer", FZC_CFG_SMALL_XFER, false);
    record(dir, "session-dma", 0, true);
    record(dir, "session-twin-dma", FZC_CFG_TWIN, true);
    record(dir, "session-raw-version", FZC_CFG_RAW_VERSION, false);
}
