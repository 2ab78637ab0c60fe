// SPDX-License-Identifier: MIT
/*
 * server/dispatch.c - one client command, from bytes to reply.
 *
 * Every command goes through the same gate, in this order: a message the
 * transport had to skip (oversize: E2BIG) or that came with more fds than
 * allowed (EINVAL); VERSION before anything else (EINVAL); proto's
 * per-command size and count checks (their errno).  Only then is the
 * payload decoded - memcpy into local structs, since a payload has no
 * alignment - and handed to the core, whose -errno becomes the error
 * reply.  A command flagged NO_REPLY gets no reply either way; a failure
 * is logged instead.  Fds the core did not keep are closed by the caller
 * (uvfio_msg_free), so none can leak whatever the outcome.
 */
#include <errno.h>
#include <string.h>

#include "server_priv.h"
#include "util/log.h"

struct cmd_ctx {
    struct srv_conn *c;
    struct uvfio_device *dev;
    struct uvfio_msg *m;
    struct uvfio_buf rep;
    int reply_fd;               /* borrowed from the core, -1 for none */
};

typedef int (*cmd_fn)(struct cmd_ctx *x);

static int cmd_dma_map(struct cmd_ctx *x)
{
    struct uvfio_wire_dma_map req;
    int none = -1;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_dma_map(x->dev, &req,
                              x->m->nfds ? &x->m->fds[0] : &none);
}

static int cmd_dma_unmap(struct cmd_ctx *x)
{
    struct uvfio_wire_dma_unmap req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_dma_unmap(x->dev, &req, x->m->payload + sizeof(req),
                                x->m->len - sizeof(req), &x->rep);
}

static int cmd_get_info(struct cmd_ctx *x)
{
    struct uvfio_wire_device_info req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_get_info(x->dev, &req, &x->rep);
}

static int cmd_region_info(struct cmd_ctx *x)
{
    struct uvfio_wire_region_info req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_get_region_info(x->dev, &req, &x->rep, &x->reply_fd);
}

static int cmd_io_fds(struct cmd_ctx *x)
{
    struct uvfio_wire_region_io_fds req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_get_region_io_fds(x->dev, &req, &x->rep);
}

static int cmd_irq_info(struct cmd_ctx *x)
{
    struct uvfio_wire_irq_info req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_get_irq_info(x->dev, &req, &x->rep);
}

static int cmd_set_irqs(struct cmd_ctx *x)
{
    struct uvfio_wire_irq_set req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_set_irqs(x->dev, &req, x->m->payload + sizeof(req),
                               x->m->len - sizeof(req), x->m->fds,
                               x->m->nfds);
}

static int cmd_region_read(struct cmd_ctx *x)
{
    struct uvfio_wire_region_rw rw;
    uint8_t *data;
    ssize_t n;

    memcpy(&rw, x->m->payload, sizeof(rw));
    /* The reply buffer is empty: room for the fixed part and the data. */
    if (x->rep.cap < sizeof(rw) + (size_t)rw.count &&
        uvfio_buf_reserve(&x->rep, sizeof(rw) + (size_t)rw.count) < 0)
        return -ENOMEM;
    data = x->rep.data + sizeof(rw);
    /* Zeroed: a driver that counts bytes it did not write leaks nothing. */
    memset(data, 0, rw.count);
    n = uvfio_core_region_read(x->dev, rw.region, rw.offset, data, rw.count);
    if (n < 0)
        return (int)n;
    if ((size_t)n > rw.count)
        return -EIO;            /* a driver claiming more than asked */
    /* A short read answers with what there is. */
    rw.count = (uint32_t)n;
    x->rep.len = sizeof(rw) + rw.count;
    memcpy(x->rep.data, &rw, sizeof(rw));
    return 0;
}

static int cmd_region_write(struct cmd_ctx *x)
{
    struct uvfio_wire_region_rw rw;
    ssize_t n;

    memcpy(&rw, x->m->payload, sizeof(rw));
    n = uvfio_core_region_write(x->dev, rw.region, rw.offset,
                                x->m->payload + sizeof(rw), rw.count);
    if (n < 0)
        return (int)n;
    if ((size_t)n > rw.count)
        return -EIO;
    rw.count = (uint32_t)n;
    return uvfio_buf_append(&x->rep, &rw, sizeof(rw));
}

static int cmd_reset(struct cmd_ctx *x)
{
    return uvfio_core_reset(x->dev);
}

/*
 * The writes are applied in order, as if they had been sent one by one:
 * the first that fails ends the message with its errno, and the writes
 * before it stay done - a device register write cannot be taken back, and
 * a posted write is exactly what this command batches.  A short write
 * counts as a failure (EIO) because an entry is one register access.
 */
static int cmd_write_multi(struct cmd_ctx *x)
{
    const uint8_t *p = x->m->payload + sizeof(struct uvfio_wire_write_multi);
    struct uvfio_wire_write_multi wm;
    struct uvfio_wire_write_multi_entry e;
    uint64_t i;
    ssize_t n;

    if (!x->c->write_multiple)
        return -ENOTSUP;
    memcpy(&wm, x->m->payload, sizeof(wm));
    for (i = 0; i < wm.wr_cnt; i++, p += sizeof(e)) {
        memcpy(&e, p, sizeof(e));
        n = uvfio_core_region_write(x->dev, e.region, e.offset, e.data,
                                    e.count);
        if (n < 0)
            return (int)n;
        if ((size_t)n != e.count)
            return -EIO;
    }
    wm.wr_cnt = i;
    return uvfio_buf_append(&x->rep, &wm, sizeof(wm));
}

static int cmd_feature(struct cmd_ctx *x)
{
    struct uvfio_wire_feature f;

    memcpy(&f, x->m->payload, sizeof(f));
    return uvfio_core_feature(x->dev, f.argsz, f.flags,
                              x->m->payload + sizeof(f),
                              x->m->len - sizeof(f), &x->rep);
}

static int cmd_mig_read(struct cmd_ctx *x)
{
    struct uvfio_wire_mig_data req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_mig_data_read(x->dev, &req, &x->rep);
}

static int cmd_mig_write(struct cmd_ctx *x)
{
    struct uvfio_wire_mig_data req;

    memcpy(&req, x->m->payload, sizeof(req));
    return uvfio_core_mig_data_write(x->dev, &req,
                                     x->m->payload + sizeof(req),
                                     x->m->len - sizeof(req));
}

/* VERSION is not here (negotiate.c); DMA_READ/WRITE go the other way and
 * command 14 is gone: proto refuses those before a table lookup. */
static const cmd_fn handlers[UVFIO_CMD_MAX + 1] = {
    [UVFIO_CMD_DMA_MAP] = cmd_dma_map,
    [UVFIO_CMD_DMA_UNMAP] = cmd_dma_unmap,
    [UVFIO_CMD_DEVICE_GET_INFO] = cmd_get_info,
    [UVFIO_CMD_DEVICE_GET_REGION_INFO] = cmd_region_info,
    [UVFIO_CMD_DEVICE_GET_REGION_IO_FDS] = cmd_io_fds,
    [UVFIO_CMD_DEVICE_GET_IRQ_INFO] = cmd_irq_info,
    [UVFIO_CMD_DEVICE_SET_IRQS] = cmd_set_irqs,
    [UVFIO_CMD_REGION_READ] = cmd_region_read,
    [UVFIO_CMD_REGION_WRITE] = cmd_region_write,
    [UVFIO_CMD_DEVICE_RESET] = cmd_reset,
    [UVFIO_CMD_REGION_WRITE_MULTI] = cmd_write_multi,
    [UVFIO_CMD_DEVICE_FEATURE] = cmd_feature,
    [UVFIO_CMD_MIG_DATA_READ] = cmd_mig_read,
    [UVFIO_CMD_MIG_DATA_WRITE] = cmd_mig_write,
};

/* The gate: 0 when the command may run, else the errno to answer. */
static int gate(struct srv_conn *c, const struct uvfio_msg *m)
{
    uint64_t max_xfer;
    uint16_t cmd = m->hdr.cmd;

    if (m->oversize)
        return -E2BIG;
    if (m->fds_truncated)
        return -EINVAL;
    if (!c->negotiated && cmd != UVFIO_CMD_VERSION)
        return -EINVAL;
    /* Only this thread writes max_xfer (negotiate.c), so it reads it
     * without the lock, which is there for the other threads' DMA. */
    max_xfer = c->max_xfer;
    return uvfio_wire_check_request(cmd, m->payload, m->len, m->nfds,
                                    max_xfer);
}

static void run_cmd(struct srv_conn *c, struct uvfio_msg *m)
{
    struct cmd_ctx x = {
        .c = c, .dev = c->sd->dev, .m = m, .reply_fd = -1,
    };
    cmd_fn fn = m->hdr.cmd <= UVFIO_CMD_MAX ? handlers[m->hdr.cmd] : NULL;
    int r;

    conn_reply_buf_get(c, &x.rep);
    r = fn ? fn(&x) : -ENOSYS;
    if (r < 0)
        conn_reply_error(c, &m->hdr, -r);
    else
        conn_reply_buf(c, &m->hdr, &x.rep,
                       x.reply_fd >= 0 ? &x.reply_fd : NULL,
                       x.reply_fd >= 0 ? 1 : 0);
    conn_reply_buf_put(c, &x.rep);
}

void srv_dispatch_msg(struct srv_conn *c, struct uvfio_msg *m)
{
    int r;

    if ((m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY) {
        srv_dma_reply(c, m);
        return;
    }
    r = gate(c, m);
    if (r < 0) {
        conn_reply_error(c, &m->hdr, -r);
        return;
    }
    if (m->hdr.cmd == UVFIO_CMD_VERSION)
        srv_version(c, m);
    else
        run_cmd(c, m);
}
