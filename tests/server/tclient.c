// SPDX-License-Identifier: MIT
/*
 * tests/server/tclient.c - the raw test client (tclient.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tclient.h"

#define TC_MAX_MSG  ((64u << 20) + 4096u)

static int64_t tc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tc_attach(struct tclient *tc, int fd)
{
    memset(tc, 0, sizeof(*tc));
    tc->fd = fd;
    tc->twin = -1;
    tc->next_id = 100;
    tc->max_xfer = 1u << 20;
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    tc->rx = uvfio_rx_new(TC_MAX_MSG, TC_MAX_MSG, 16);
    return tc->rx ? 0 : -ENOMEM;
}

int tc_connect(struct tclient *tc, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd, r;

    /* Closable whatever happens below (tc_attach sets it up again). */
    memset(tc, 0, sizeof(*tc));
    tc->fd = tc->twin = -1;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    r = tc_attach(tc, fd);
    if (r < 0)
        tc_close(tc);
    return r;
}

void tc_close(struct tclient *tc)
{
    if (tc->fd >= 0)
        close(tc->fd);
    if (tc->twin >= 0)
        close(tc->twin);
    uvfio_rx_free(tc->rx);
    uvfio_rx_free(tc->twin_rx);
    tc->fd = tc->twin = -1;
    tc->rx = tc->twin_rx = NULL;
}

uint16_t tc_send(struct tclient *tc, uint16_t cmd, uint32_t flags,
                 const void *payload, size_t len, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr hdr = {
        .msg_id = tc->next_id++,
        .cmd = cmd,
        .flags = flags,
    };
    struct iovec iov = { (void *)payload, len };

    if (uvfio_msg_send(tc->fd, &hdr, &iov, len ? 1 : 0, fds, nfds) < 0)
        return 0xffff;
    return hdr.msg_id;
}

int tc_send_bytes(struct tclient *tc, const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    ssize_t n;

    while (len) {
        n = send(tc->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { tc->fd, POLLOUT, 0 };

            if (poll(&pfd, 1, TC_TIMEOUT_MS) <= 0)
                return -ETIMEDOUT;
            continue;
        }
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int tc_errno(const struct uvfio_msg *m)
{
    if (m->hdr.flags & UVFIO_HDR_ERROR)
        return -(int)m->hdr.error;
    return 0;
}

/* ---- serving the server's DMA ------------------------------------------ */

static int dma_reply(int fd, const struct uvfio_wire_hdr *req,
                     const struct iovec *iov, int n)
{
    struct uvfio_wire_hdr hdr = *req;

    hdr.flags = UVFIO_HDR_TYPE_REPLY;
    hdr.error = 0;
    return uvfio_msg_send(fd, &hdr, iov, n, NULL, 0);
}

static uint8_t *guest(struct tclient *tc, uint64_t addr, uint64_t count)
{
    if (addr < tc->mem_iova || count > tc->mem_len ||
        addr - tc->mem_iova > tc->mem_len - count)
        return NULL;
    return tc->mem + (addr - tc->mem_iova);
}

/* Exactly QEMU's checks and layouts (hw/vfio-user/pci.c): its struct is
 * {hdr; u64 offset; u32 count; data[]} with sizeof 32. */
static int serve_qemu(struct tclient *tc, int fd, const struct uvfio_msg *m)
{
    static const uint8_t pad[4];
    struct uvfio_wire_dma_rw_qemu q;
    struct iovec iov[3];
    uint8_t *g;

    if (m->hdr.size < 32)
        return uvfio_msg_send_error(fd, &m->hdr, EINVAL);
    memcpy(&q, m->payload, sizeof(q));
    if (m->hdr.cmd == UVFIO_CMD_DMA_READ) {
        if (q.count > tc->max_xfer)
            return uvfio_msg_send_error(fd, &m->hdr, E2BIG);
        g = guest(tc, q.addr, q.count);
        if (!g)
            return uvfio_msg_send_error(fd, &m->hdr, EFAULT);
        iov[0] = (struct iovec){ &q, sizeof(q) };
        iov[1] = (struct iovec){ g, q.count };
        iov[2] = (struct iovec){ (void *)pad, sizeof(pad) };
        return dma_reply(fd, &m->hdr, iov, 3);
    }
    if (q.count > m->hdr.size - 32)
        return uvfio_msg_send_error(fd, &m->hdr, E2BIG);
    g = guest(tc, q.addr, q.count);
    if (!g)
        return uvfio_msg_send_error(fd, &m->hdr, EFAULT);
    memcpy(g, m->payload + sizeof(q), q.count);
    return dma_reply(fd, &m->hdr, NULL, 0);
}

static int serve_spec(struct tclient *tc, int fd, const struct uvfio_msg *m)
{
    struct uvfio_wire_dma_rw rw;
    struct iovec iov[2];
    uint8_t *g;
    int r;

    r = uvfio_wire_check_dma_request(m->hdr.cmd, m->payload, m->len,
                                     tc->max_xfer, false);
    if (r < 0)
        return uvfio_msg_send_error(fd, &m->hdr, -r);
    if (m->len < sizeof(rw))
        return uvfio_msg_send_error(fd, &m->hdr, EPROTO);
    memcpy(&rw, m->payload, sizeof(rw));
    g = guest(tc, rw.addr, rw.count);
    if (!g)
        return uvfio_msg_send_error(fd, &m->hdr, EFAULT);
    iov[0] = (struct iovec){ &rw, sizeof(rw) };
    if (m->hdr.cmd == UVFIO_CMD_DMA_READ) {
        iov[1] = (struct iovec){ g, rw.count };
        return dma_reply(fd, &m->hdr, iov, 2);
    }
    memcpy(g, m->payload + sizeof(rw), rw.count);
    return dma_reply(fd, &m->hdr, iov, 1);
}

static int serve_dma(struct tclient *tc, int fd, const struct uvfio_msg *m,
                     bool twin)
{
    uint64_t count;

    tc->dma_requests++;
    if (twin)
        tc->dma_on_twin++;
    tc->last_dma_payload = m->len;
    tc->last_dma_hdr = m->hdr;
    if (m->len >= 12) {
        count = 0;
        memcpy(&count, m->payload + 8, 4);
        if (count > tc->max_dma_count)
            tc->max_dma_count = count;
    }
    if (tc->dma_ignore)
        return 0;
    if (tc->dma_error)
        return uvfio_msg_send_error(fd, &m->hdr, tc->dma_error);
    return tc->qemu ? serve_qemu(tc, fd, m) : serve_spec(tc, fd, m);
}

/* ---- receiving --------------------------------------------------------- */

/* One message from either socket: 1, 0 on timeout, -errno. */
static int tc_next(struct tclient *tc, struct uvfio_msg *m, bool *twin,
                   int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    struct pollfd pfd[2];
    int r, n;

    for (;;) {
        memset(m, 0, sizeof(*m));
        r = uvfio_rx_read(tc->rx, tc->fd, m);
        *twin = false;
        if (r == 0 && tc->twin >= 0) {
            r = uvfio_rx_read(tc->twin_rx, tc->twin, m);
            *twin = true;
        }
        if (r != 0)
            return r;
        pfd[0] = (struct pollfd){ tc->fd, POLLIN, 0 };
        pfd[1] = (struct pollfd){ tc->twin, POLLIN, 0 };
        n = poll(pfd, tc->twin >= 0 ? 2 : 1,
                 (int)(deadline - tc_now_ms() > 0 ? deadline - tc_now_ms()
                                                  : 0));
        if (n == 0)
            return 0;
    }
}

static bool is_dma_request(const struct uvfio_msg *m)
{
    return (m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_COMMAND &&
           (m->hdr.cmd == UVFIO_CMD_DMA_READ ||
            m->hdr.cmd == UVFIO_CMD_DMA_WRITE);
}

int tc_wait(struct tclient *tc, uint16_t id, struct uvfio_msg *out,
            int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    struct uvfio_msg m;
    bool twin;
    int r;

    for (;;) {
        int64_t left = deadline - tc_now_ms();

        r = tc_next(tc, &m, &twin, left > 0 ? (int)left : 0);
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0)
            return r;
        if (is_dma_request(&m)) {
            serve_dma(tc, twin ? tc->twin : tc->fd, &m, twin);
            uvfio_msg_free(&m);
            continue;
        }
        if (m.hdr.msg_id != id || twin) {
            uvfio_msg_free(&m);
            return -EPROTO;
        }
        *out = m;
        return 0;
    }
}

int tc_call(struct tclient *tc, uint16_t cmd, const void *payload,
            size_t len, const int *fds, size_t nfds, struct uvfio_msg *out)
{
    uint16_t id = tc_send(tc, cmd, 0, payload, len, fds, nfds);

    if (id == 0xffff)
        return -EPIPE;
    return tc_wait(tc, id, out, TC_TIMEOUT_MS);
}

int tc_call_err(struct tclient *tc, uint16_t cmd, const void *payload,
                size_t len, const int *fds, size_t nfds)
{
    struct uvfio_msg m;
    int r = tc_call(tc, cmd, payload, len, fds, nfds, &m);

    if (r < 0)
        return r == -ETIMEDOUT ? -ETIME : r;    /* not a server errno */
    r = tc_errno(&m);
    uvfio_msg_free(&m);
    return r;
}

int tc_serve_until(struct tclient *tc, atomic_bool *stop, int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    struct uvfio_msg m;
    bool twin;
    int r;

    while (!atomic_load(stop)) {
        if (tc_now_ms() > deadline)
            return -ETIMEDOUT;
        r = tc_next(tc, &m, &twin, 10);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        if (is_dma_request(&m))
            serve_dma(tc, twin ? tc->twin : tc->fd, &m, twin);
        uvfio_msg_free(&m);
    }
    return 0;
}

bool tc_wait_closed(struct tclient *tc, int timeout_ms)
{
    int64_t deadline = tc_now_ms() + timeout_ms;
    struct uvfio_msg m;
    bool twin;
    int r;

    while (tc_now_ms() < deadline) {
        r = tc_next(tc, &m, &twin, 20);
        if (r < 0)
            return true;
        if (r > 0)
            uvfio_msg_free(&m);
    }
    return false;
}

/* ---- VERSION ----------------------------------------------------------- */

int tc_version(struct tclient *tc, uint16_t major, uint16_t minor,
               const char *json, struct uvfio_msg *out)
{
    struct uvfio_wire_version v = { major, minor };
    size_t jlen = json ? strlen(json) + 1 : 0;
    uint8_t *p = malloc(sizeof(v) + jlen + 1);
    int r;

    if (!p)
        return -ENOMEM;
    memcpy(p, &v, sizeof(v));
    if (json)
        memcpy(p + sizeof(v), json, jlen);
    r = tc_call(tc, UVFIO_CMD_VERSION, p, sizeof(v) + jlen, NULL, 0, out);
    free(p);
    if (r < 0)
        return r;
    r = tc_errno(out);
    if (r == 0 && out->nfds == 1) {
        tc->twin = out->fds[0];
        out->fds[0] = -1;
        fcntl(tc->twin, F_SETFL, fcntl(tc->twin, F_GETFL) | O_NONBLOCK);
        tc->twin_rx = uvfio_rx_new(TC_MAX_MSG, TC_MAX_MSG, 0);
    }
    return r;
}

int tc_hello(struct tclient *tc, bool qemu, bool twin)
{
    char json[256];
    struct uvfio_msg m;
    int r;

    snprintf(json, sizeof(json),
             "{\"capabilities\":{\"max_msg_fds\":16,"
             "\"max_data_xfer_size\":%llu,\"write_multiple\":true%s}}",
             (unsigned long long)tc->max_xfer,
             twin ? ",\"twin_socket\":{\"supported\":true}" : "");
    tc->qemu = qemu;
    r = tc_version(tc, 0, qemu ? 0 : 2, json, &m);
    if (r == 0)
        uvfio_msg_free(&m);
    return r;
}

/* ---- common requests --------------------------------------------------- */

int tc_region_read(struct tclient *tc, uint32_t region, uint64_t offset,
                   void *buf, uint32_t count)
{
    struct uvfio_wire_region_rw rw = { offset, region, count };
    struct uvfio_msg m;
    int r = tc_call(tc, UVFIO_CMD_REGION_READ, &rw, sizeof(rw), NULL, 0, &m);

    if (r < 0)
        return r == -ETIMEDOUT ? -ETIME : r;
    r = tc_errno(&m);
    if (r == 0 && m.len != sizeof(rw) + count)
        r = -EPROTO;
    if (r == 0)
        memcpy(buf, m.payload + sizeof(rw), count);
    uvfio_msg_free(&m);
    return r;
}

int tc_region_write(struct tclient *tc, uint32_t region, uint64_t offset,
                    const void *buf, uint32_t count)
{
    struct uvfio_wire_region_rw rw = { offset, region, count };
    uint8_t *p = malloc(sizeof(rw) + count);
    int r;

    if (!p)
        return -ENOMEM;
    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), buf, count);
    r = tc_call_err(tc, UVFIO_CMD_REGION_WRITE, p, sizeof(rw) + count,
                    NULL, 0);
    free(p);
    return r;
}

int tc_dma_map(struct tclient *tc, uint64_t iova, uint64_t size,
               uint32_t flags, int fd, uint64_t offset)
{
    struct uvfio_wire_dma_map map = {
        .argsz = sizeof(map), .flags = flags, .offset = offset,
        .addr = iova, .size = size,
    };

    return tc_call_err(tc, UVFIO_CMD_DMA_MAP, &map, sizeof(map),
                       fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}
