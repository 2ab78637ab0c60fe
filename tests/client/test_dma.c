/* SPDX-License-Identifier: MIT */
/*
 * tests/client/test_dma.c - guest memory, and serving the server's
 * DMA_READ/DMA_WRITE: in both layouts, while a request waits for its reply
 * and through uvfio_client_dispatch, on the main and on the twin socket;
 * and refusing every request outside what the client mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_session.h"

static const struct uvfio_wire_device_info good_info = { 16, 0, 9, 5 };

/* ---- guest memory ------------------------------------------------------ */

static void test_guest_mem(void **state)
{
    struct uvfio_guest_mem gm;
    uint8_t *own;
    int seals;

    (void)state;
    assert_int_equal(uvfio_guest_mem_create(0, NULL, &gm), -EINVAL);
    assert_int_equal(uvfio_guest_mem_create(1 << 20, "ram", &gm), 0);
    assert_true(gm.fd >= 0);
    assert_int_equal(gm.size, 1 << 20);
    seals = fcntl(gm.fd, F_GET_SEALS);
    assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    /* Sealed: a peer that maps it cannot be SIGBUSed by a shrink. */
    assert_int_equal(ftruncate(gm.fd, 4096), -1);
    assert_int_equal(errno, EPERM);
    /* Another mapping of the fd (what a server does) sees our writes. */
    own = mmap(NULL, 1 << 20, PROT_READ, MAP_SHARED, gm.fd, 0);
    assert_true(own != MAP_FAILED);
    ((uint8_t *)gm.host)[12345] = 0x5a;
    assert_int_equal(own[12345], 0x5a);
    munmap(own, 1 << 20);
    uvfio_guest_mem_destroy(&gm);
    assert_int_equal(gm.fd, -1);
    assert_null(gm.host);
}

/* ---- wire helpers for DMA requests -------------------------------------- */

struct dma_spec {
    uint64_t addr;
    uint64_t count;
    uint8_t data[64];
} __attribute__((packed));

/* Send DMA_READ/DMA_WRITE `id` in the spec layout. */
static int send_dma(int sock, uint16_t id, uint16_t cmd, uint32_t flags,
                    uint64_t addr, uint64_t count, const void *data,
                    size_t dlen)
{
    struct uvfio_wire_hdr h = { .msg_id = id, .cmd = cmd,
                                .flags = UVFIO_HDR_TYPE_COMMAND | flags };
    struct dma_spec s = { addr, count, { 0 } };
    struct iovec iov = { &s, 16 + dlen };

    if (dlen > sizeof(s.data))
        return -EINVAL;
    if (dlen)
        memcpy(s.data, data, dlen);
    return uvfio_msg_send(sock, &h, &iov, 1, NULL, 0);
}

static bool recv_on(int sock, struct uvfio_msg *m)
{
    struct pollfd p = { .fd = sock, .events = POLLIN };

    memset(m, 0, sizeof(*m));
    if (poll(&p, 1, 3000) != 1)
        return false;
    return uvfio_msg_recv(sock, m, 1 << 22, 4) == 0;
}

/* The reply to `id` must be an ERROR with `err`. */
static bool refused(int sock, uint16_t id, uint32_t err)
{
    struct uvfio_msg m;
    bool ok;

    if (!recv_on(sock, &m))
        return false;
    ok = m.hdr.msg_id == id && (m.hdr.flags & UVFIO_HDR_ERROR) &&
         (m.hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY &&
         m.hdr.error == err && m.len == 0;
    uvfio_msg_free(&m);
    return ok;
}

/* A DMA_READ reply for `id`: {addr, count} and the data. */
static bool read_reply_ok(int sock, uint16_t id, uint64_t addr,
                          const void *want, size_t count)
{
    struct dma_spec s;
    struct uvfio_msg m;
    bool ok;

    if (!recv_on(sock, &m))
        return false;
    ok = m.hdr.msg_id == id && m.hdr.cmd == UVFIO_CMD_DMA_READ &&
         m.hdr.flags == UVFIO_HDR_TYPE_REPLY && m.len == 16 + count;
    if (ok) {
        memcpy(&s, m.payload, 16);
        ok = s.addr == addr && s.count == count &&
             memcmp(m.payload + 16, want, count) == 0;
    }
    uvfio_msg_free(&m);
    return ok;
}

/* A DMA_WRITE reply: {addr, u64 count}. */
static bool write_reply_ok(int sock, uint16_t id, uint64_t addr,
                           size_t count)
{
    struct dma_spec s;
    struct uvfio_msg m;
    bool ok;

    if (!recv_on(sock, &m))
        return false;
    ok = m.hdr.msg_id == id && m.hdr.cmd == UVFIO_CMD_DMA_WRITE &&
         m.hdr.flags == UVFIO_HDR_TYPE_REPLY && m.len == 16;
    if (ok) {
        memcpy(&s, m.payload, 16);
        ok = s.addr == addr && s.count == count;
    }
    uvfio_msg_free(&m);
    return ok;
}

/* ---- served while a request waits --------------------------------------- */

#define IOVA    0x10000ull

struct mem_ctx {
    uint8_t *host;              /* the client's map at IOVA, 4 KiB */
};

static bool answer_map(struct fake *f)
{
    struct uvfio_msg m;

    if (!fake_expect(f, UVFIO_CMD_DMA_MAP, &m))
        return false;
    fake_reply(f, &m, NULL, 0, NULL, 0);
    uvfio_msg_free(&m);
    return true;
}

static void script_serve_while_waiting(struct fake *f)
{
    struct mem_ctx *x = f->arg;
    uint8_t data[32];
    struct uvfio_msg m;
    int i;

    for (i = 0; i < 32; i++)
        data[i] = (uint8_t)(0xc0 + i);
    if (!answer_map(f) || !fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    /* The client waits for GET_INFO; the server needs guest memory first. */
    FAKE_CHECK(f, send_dma(f->sock, 500, UVFIO_CMD_DMA_READ, 0, IOVA + 0x10,
                           32, NULL, 0) == 0);
    FAKE_CHECK(f, read_reply_ok(f->sock, 500, IOVA + 0x10, x->host + 0x10,
                                32));
    FAKE_CHECK(f, send_dma(f->sock, 501, UVFIO_CMD_DMA_WRITE, 0, IOVA + 0x100,
                           32, data, 32) == 0);
    FAKE_CHECK(f, write_reply_ok(f->sock, 501, IOVA + 0x100, 32));
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
}

static void test_serve_while_waiting(void **state)
{
    uint8_t *host = calloc(1, 4096);
    struct mem_ctx x = { host };
    struct uvfio_client_device_info di;
    struct uvfio_client *c;
    struct fake f;
    int i;

    (void)state;
    for (i = 0; i < 4096; i++)
        host[i] = (uint8_t)(i * 3);
    fake_init(&f, script_serve_while_waiting);
    f.arg = &x;
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, 4096,
                                              UVFIO_DMA_MAP_FLAG_READ |
                                              UVFIO_DMA_MAP_FLAG_WRITE, host),
                     0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_int_equal(di.num_irqs, 5);
    for (i = 0; i < 32; i++)
        assert_int_equal(host[0x100 + i], 0xc0 + i);
    assert_int_equal(host[0x100 + 32], (uint8_t)((0x100 + 32) * 3));
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    free(host);
}

/* ---- refusals ------------------------------------------------------------ */

/*
 * Maps: IOVA (4 KiB, RW, host A), IOVA+0x1000 (4 KiB, RW, host B:
 * adjacent), 0x20000 read-only, 0x30000 write-only, 0x40000 fd-backed.
 */
struct refuse_ctx {
    uint8_t *a, *b;
};

static void script_refusals(struct fake *f)
{
    struct refuse_ctx *x = f->arg;
    uint8_t data[32], want[32];
    struct uvfio_wire_hdr h;
    struct uvfio_msg m;
    int i, efd;

    memset(data, 0xee, sizeof(data));
    for (i = 0; i < 5; i++)
        if (!answer_map(f))
            return;
    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    /* Outside every map; crossing the end of the last RW map. */
    FAKE_CHECK(f, send_dma(f->sock, 1, UVFIO_CMD_DMA_READ, 0, 0x50000, 8,
                           NULL, 0) == 0 && refused(f->sock, 1, EFAULT));
    FAKE_CHECK(f, send_dma(f->sock, 2, UVFIO_CMD_DMA_WRITE, 0,
                           IOVA + 0x2000 - 16, 32, data, 32) == 0 &&
                  refused(f->sock, 2, EFAULT));
    /* Permissions: write to read-only, read from write-only. */
    FAKE_CHECK(f, send_dma(f->sock, 3, UVFIO_CMD_DMA_WRITE, 0, 0x20000, 8,
                           data, 8) == 0 && refused(f->sock, 3, EFAULT));
    FAKE_CHECK(f, send_dma(f->sock, 4, UVFIO_CMD_DMA_READ, 0, 0x30000, 8,
                           NULL, 0) == 0 && refused(f->sock, 4, EFAULT));
    /* fd-backed: the server maps it itself; the client has no pointer. */
    FAKE_CHECK(f, send_dma(f->sock, 5, UVFIO_CMD_DMA_READ, 0, 0x40000, 8,
                           NULL, 0) == 0 && refused(f->sock, 5, EFAULT));
    /* Malformed: count 0; data length not matching count; over max. */
    FAKE_CHECK(f, send_dma(f->sock, 6, UVFIO_CMD_DMA_READ, 0, IOVA, 0,
                           NULL, 0) == 0 && refused(f->sock, 6, EINVAL));
    FAKE_CHECK(f, send_dma(f->sock, 7, UVFIO_CMD_DMA_WRITE, 0, IOVA, 40,
                           data, 32) == 0 && refused(f->sock, 7, EINVAL));
    FAKE_CHECK(f, send_dma(f->sock, 8, UVFIO_CMD_DMA_READ, 0, IOVA,
                           2u << 20, NULL, 0) == 0 &&
                  refused(f->sock, 8, E2BIG));
    /* A DMA request with an fd attached. */
    efd = memfd_create("stray", MFD_CLOEXEC);
    h = (struct uvfio_wire_hdr){ .msg_id = 9, .cmd = UVFIO_CMD_DMA_READ };
    FAKE_CHECK(f, uvfio_msg_send(f->sock, &h, &(struct iovec){
                   &(struct dma_spec){ IOVA, 8, { 0 } }, 16 }, 1, &efd, 1) == 0);
    close(efd);
    FAKE_CHECK(f, refused(f->sock, 9, EINVAL));
    /* Spanning the two adjacent RW maps is fine, both ways. */
    memcpy(want, x->a + 4096 - 16, 16);
    memcpy(want + 16, x->b, 16);
    FAKE_CHECK(f, send_dma(f->sock, 10, UVFIO_CMD_DMA_READ, 0,
                           IOVA + 4096 - 16, 32, NULL, 0) == 0);
    FAKE_CHECK(f, read_reply_ok(f->sock, 10, IOVA + 4096 - 16, want, 32));
    /* A posted DMA_WRITE: applied, never answered.  The next reply must
     * be the one to 12. */
    FAKE_CHECK(f, send_dma(f->sock, 11, UVFIO_CMD_DMA_WRITE,
                           UVFIO_HDR_NO_REPLY, IOVA + 4096 - 8, 16, data, 16) == 0);
    FAKE_CHECK(f, send_dma(f->sock, 12, UVFIO_CMD_DMA_READ, 0, 0x50000, 8,
                           NULL, 0) == 0 && refused(f->sock, 12, EFAULT));
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
    /* After the unmap, the same range is refused. */
    if (!fake_expect(f, UVFIO_CMD_DMA_UNMAP, &m))
        return;
    fake_reply(f, &m, m.payload, m.len, NULL, 0);
    uvfio_msg_free(&m);
    if (!fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    FAKE_CHECK(f, send_dma(f->sock, 13, UVFIO_CMD_DMA_READ, 0, IOVA, 8,
                           NULL, 0) == 0 && refused(f->sock, 13, EFAULT));
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
}

static void test_refusals(void **state)
{
    uint8_t *a = calloc(1, 4096), *b = calloc(1, 4096);
    uint8_t *ro = calloc(1, 4096), *wo = calloc(1, 4096);
    struct refuse_ctx x = { a, b };
    struct uvfio_client_device_info di;
    struct uvfio_guest_mem gm;
    struct uvfio_client *c;
    struct fake f;
    int i;

    (void)state;
    for (i = 0; i < 4096; i++) {
        a[i] = (uint8_t)i;
        b[i] = (uint8_t)(255 - i);
    }
    memset(ro, 0x11, 4096);
    assert_int_equal(uvfio_guest_mem_create(4096, "fdmap", &gm), 0);
    fake_init(&f, script_refusals);
    f.arg = &x;
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, 4096, 3, a), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA + 4096, 4096, 3, b), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x20000, 4096,
                                              UVFIO_DMA_MAP_FLAG_READ, ro), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x30000, 4096,
                                              UVFIO_DMA_MAP_FLAG_WRITE, wo), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x40000, 4096, 3, gm.fd, 0), 0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    /* Refused writes changed nothing; the posted one landed across the
     * boundary of the two maps. */
    for (i = 0; i < 4096; i++)
        assert_int_equal(ro[i], 0x11);
    for (i = 0; i < 8; i++) {
        assert_int_equal(a[4096 - 8 + i], 0xee);
        assert_int_equal(b[i], 0xee);
    }
    assert_int_equal(a[4096 - 16 - 1], (uint8_t)(4096 - 17));
    assert_int_equal(b[8], (uint8_t)(255 - 8));
    assert_int_equal(uvfio_client_dma_unmap(c, IOVA, 4096), 0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    uvfio_guest_mem_destroy(&gm);
    free(a);
    free(b);
    free(ro);
    free(wo);
}

/* ---- a DMA request in the same read as the reply ------------------------- */

struct two_msgs {
    struct uvfio_wire_hdr h1;
    struct uvfio_wire_device_info info;
    struct uvfio_wire_hdr h2;
    struct uvfio_wire_dma_rw dma;
    uint8_t data[4];
} __attribute__((packed));

static void script_same_read(struct fake *f)
{
    struct two_msgs t = {
        .h2 = { .msg_id = 90, .cmd = UVFIO_CMD_DMA_WRITE,
                .size = 16 + 16 + 4 },
        .dma = { IOVA, 4 },
        .data = { 0xde, 0xad, 0xbe, 0xef },
    };
    struct uvfio_msg m;

    if (!answer_map(f) || !fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m))
        return;
    t.h1 = (struct uvfio_wire_hdr){ .msg_id = m.hdr.msg_id,
                                    .cmd = m.hdr.cmd, .size = 32,
                                    .flags = UVFIO_HDR_TYPE_REPLY };
    t.info = good_info;
    uvfio_msg_free(&m);
    /* One write: the client reads both with one recvmsg, and must not
     * leave the request sitting in its buffer when it returns. */
    FAKE_CHECK(f, send(f->sock, &t, sizeof(t), 0) == sizeof(t));
    FAKE_CHECK(f, write_reply_ok(f->sock, 90, IOVA, 4));
}

static void test_request_behind_reply(void **state)
{
    uint8_t host[4096] = { 0 };
    struct uvfio_client_device_info di;
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    fake_init(&f, script_same_read);
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, sizeof(host), 3, host),
                     0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_int_equal(host[0], 0xde);
    assert_int_equal(host[3], 0xef);
    assert_int_equal(fake_join(&f), 0);
    uvfio_client_close(c);
}

/* ---- served by dispatch when idle --------------------------------------- */

static void script_idle(struct fake *f)
{
    uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    int *go = f->arg;
    uint64_t v;

    if (!answer_map(f))
        return;
    /* Only once the client is idle, or the map request would serve it. */
    FAKE_CHECK(f, read(*go, &v, sizeof(v)) == sizeof(v));
    FAKE_CHECK(f, send_dma(f->sock, 40, UVFIO_CMD_DMA_WRITE, 0, IOVA + 8, 8,
                           data, 8) == 0);
    FAKE_CHECK(f, write_reply_ok(f->sock, 40, IOVA + 8, 8));
    FAKE_CHECK(f, fake_wait_eof(f, 5000));
}

static void test_dispatch_idle(void **state)
{
    uint8_t host[64] = { 0 };
    struct uvfio_client *c;
    struct pollfd p;
    struct fake f;
    int64_t t0;

    int go = eventfd(0, EFD_CLOEXEC);

    (void)state;
    fake_init(&f, script_idle);
    f.arg = &go;
    assert_int_equal(fake_connect(&f, NULL, &c), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, sizeof(host), 3, host),
                     0);
    assert_int_equal(write(go, &(uint64_t){ 1 }, 8), 8);
    p = (struct pollfd){ .fd = uvfio_client_fd(c), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 3000), 1);
    assert_int_equal(uvfio_client_dispatch(c, 1000), 1);
    assert_int_equal(host[8], 1);
    assert_int_equal(host[15], 8);
    assert_int_equal(host[16], 0);
    /* Nothing waiting: returns 0 after about the timeout. */
    t0 = fake_now_ms();
    assert_int_equal(uvfio_client_dispatch(c, 50), 0);
    assert_true(fake_now_ms() - t0 >= 40);
    assert_int_equal(uvfio_client_dispatch(c, 0), 0);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    close(go);
}

/* ---- twin socket --------------------------------------------------------- */

struct twin_ctx {
    uint8_t *host;
    int go;                     /* eventfd: the client is idle now */
};

static void script_twin(struct fake *f)
{
    const char json[] = "{\"capabilities\":{\"max_msg_fds\":8,"
                        "\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}";
    struct uvfio_wire_version v = { 0, 0 };
    struct twin_ctx *x = f->arg;
    uint8_t data[4] = { 9, 9, 9, 9 };
    uint8_t *host = x->host;
    struct uvfio_msg m;
    uint64_t go;
    int tw[2];

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return;
    FAKE_CHECK(f, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tw) == 0);
    {
        struct uvfio_wire_hdr h = { .msg_id = m.hdr.msg_id,
                                    .cmd = UVFIO_CMD_VERSION,
                                    .flags = UVFIO_HDR_TYPE_REPLY };
        struct iovec iov[2] = { { &v, sizeof(v) },
                                { (void *)json, sizeof(json) } };

        uvfio_msg_send(f->sock, &h, iov, 2, &tw[1], 1);
    }
    close(tw[1]);
    uvfio_msg_free(&m);
    if (!answer_map(f) || !fake_expect(f, UVFIO_CMD_DEVICE_GET_INFO, &m)) {
        close(tw[0]);
        return;
    }
    /* Server->client DMA goes on the twin socket, its reply comes back
     * there too, while the main socket waits. */
    if (send_dma(tw[0], 70, UVFIO_CMD_DMA_READ, 0, IOVA, 4, NULL, 0) != 0 ||
        !read_reply_ok(tw[0], 70, IOVA, host, 4))
        fake_fail(f, __LINE__, "twin DMA_READ while waiting");
    fake_reply(f, &m, &good_info, 16, NULL, 0);
    uvfio_msg_free(&m);
    /* And when the client is idle. */
    if (read(x->go, &go, sizeof(go)) != sizeof(go))
        fake_fail(f, __LINE__, "go");
    if (send_dma(tw[0], 71, UVFIO_CMD_DMA_WRITE, 0, IOVA, 4, data, 4) != 0 ||
        !write_reply_ok(tw[0], 71, IOVA, 4))
        fake_fail(f, __LINE__, "twin DMA_WRITE when idle");
    if (!fake_wait_eof(f, 5000))
        fake_fail(f, __LINE__, "client did not close");
    close(tw[0]);
}

static void test_twin_socket(void **state)
{
    struct uvfio_client_opts o = { .twin_socket = true };
    uint8_t host[16] = { 4, 3, 2, 1 };
    struct twin_ctx x = { host, eventfd(0, EFD_CLOEXEC) };
    struct uvfio_client_device_info di;
    struct uvfio_client *c;
    struct pollfd p;
    struct fake f;

    (void)state;
    fake_init(&f, script_twin);
    f.no_handshake = true;
    f.arg = &x;
    assert_int_equal(fake_connect(&f, &o, &c), 0);
    assert_true(uvfio_client_caps(c)->twin_socket);
    assert_int_equal(uvfio_client_dma_map_msg(c, IOVA, sizeof(host), 3, host),
                     0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_int_equal(write(x.go, &(uint64_t){ 1 }, 8), 8);
    /* The pollable fd covers the twin socket. */
    p = (struct pollfd){ .fd = uvfio_client_fd(c), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 3000), 1);
    assert_int_equal(uvfio_client_dispatch(c, 1000), 1);
    assert_int_equal(host[0], 9);
    assert_int_equal(host[3], 9);
    uvfio_client_close(c);
    assert_int_equal(fake_join(&f), 0);
    close(x.go);
}

/* twin_socket granted but no fd in the reply. */
static void script_until_eof(struct fake *f)
{
    FAKE_CHECK(f, fake_wait_eof(f, 5000));
}

static void test_twin_without_fd(void **state)
{
    struct uvfio_client_opts o = { .twin_socket = true };
    struct uvfio_client *c;
    struct fake f;

    (void)state;
    fake_init(&f, script_until_eof);
    f.caps_json = "{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
                  "\"fd_index\":0}}}";
    assert_int_equal(fake_connect(&f, &o, &c), -EPROTO);
    assert_null(c);
    assert_int_equal(fake_join(&f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FAKE_TEST(test_guest_mem),
        FAKE_TEST(test_serve_while_waiting),
        FAKE_TEST(test_refusals),
        FAKE_TEST(test_request_behind_reply),
        FAKE_TEST(test_dispatch_idle),
        FAKE_TEST(test_twin_socket),
        FAKE_TEST(test_twin_without_fd),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
