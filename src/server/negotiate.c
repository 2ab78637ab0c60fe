// SPDX-License-Identifier: MIT
/*
 * server/negotiate.c - VERSION, the first message of every connection.
 *
 * The client proposes a version and its capabilities; the server answers
 * with the same major, a minor no higher than proposed, and capabilities
 * that are a subset of the offer (proto's uvfio_caps_negotiate).  Only
 * then is the client attached to the device, with the negotiated limits.
 *
 * Which DMA_READ/DMA_WRITE layout the client gets (dmareq.c) is decided
 * here as well, from the proposed minor: QEMU's client, the only one with
 * the u32-count layout, proposes 0.0; libvfio-user and everything written
 * to the current spec proposes 0.2 (there was never a 0.1 client with the
 * QEMU layout).  The legacy "migration" capability is no fingerprint:
 * old libvfio-user clients sent it too.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_priv.h"
#include "util/log.h"

static void server_limits(const struct uvfio_server *srv,
                          struct uvfio_caps *lim)
{
    uvfio_caps_defaults(lim);
    lim->max_msg_fds = srv->opts.max_msg_fds;
    lim->max_data_xfer_size = srv->opts.max_data_xfer_size;
    lim->max_dma_maps = srv->opts.max_dma_maps;
    lim->pgsizes = UVFIO_DEFAULT_PGSIZES;
    lim->write_multiple = true;
    lim->twin_socket = true;
    lim->twin_fd_index = -1;
    lim->extensions = UVFIO_EXT_PRECOPY_INFO;
}

/* The twin socket: the client's end travels with the reply. */
static int make_twin(struct srv_conn *c, int *client_end)
{
    size_t size = c->srv->opts.max_data_xfer_size + SRV_MSG_OVERHEAD;
    int sv[2], r;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        return -errno;
    c->twin_rx = uvfio_rx_new(size, SRV_DISCARD_LIMIT, 0);
    c->twin.txq = uvfio_txq_new(c->srv->opts.max_queued_reply_bytes);
    if (!c->twin_rx || !c->twin.txq) {
        r = -ENOMEM;
        goto fail;
    }
    r = srv_epoll_add(c->srv, sv[1], EPOLLIN, &c->twin_tag);
    if (r < 0)
        goto fail;
    pthread_mutex_lock(&c->lock);
    c->twin.fd = sv[1];
    pthread_mutex_unlock(&c->lock);
    *client_end = sv[0];
    return 0;
fail:
    uvfio_rx_free(c->twin_rx);
    uvfio_txq_free(c->twin.txq);
    c->twin_rx = NULL;
    c->twin.txq = NULL;
    close(sv[0]);
    close(sv[1]);
    return r;
}

/* Parse the offer; 0 or the errno for the error reply. */
static int parse_offer(const struct uvfio_msg *m, struct uvfio_wire_version *v,
                       struct uvfio_caps *offer)
{
    memcpy(v, m->payload, sizeof(*v));
    if (v->major != UVFIO_PROTO_MAJOR)
        return -ENOTSUP;
    return uvfio_caps_parse((const char *)m->payload + sizeof(*v),
                            m->len - sizeof(*v), offer);
}

/* Adopt the negotiated values and attach to the device. */
static int adopt(struct srv_conn *c, const struct uvfio_caps *rep,
                 uint16_t minor)
{
    int r;

    c->client.max_data_xfer = rep->max_data_xfer_size;
    c->client.max_dma_maps = rep->max_dma_maps > UINT32_MAX ?
                             UINT32_MAX : (uint32_t)rep->max_dma_maps;
    c->client.extensions = rep->extensions;
    pthread_mutex_lock(&c->lock);
    c->max_xfer = rep->max_data_xfer_size;
    c->qemu_dma_layout = minor == 0;
    pthread_mutex_unlock(&c->lock);
    r = uvfio_core_attach(c->sd->dev, &c->client);
    if (r < 0)
        return r;
    c->attached = true;
    c->negotiated = true;
    c->write_multiple = rep->write_multiple;
    conn_set_limits(c, rep->max_data_xfer_size);
    return 0;
}

static int send_reply(struct srv_conn *c, const struct uvfio_msg *m,
                      struct uvfio_caps *rep, uint16_t minor, int twin_fd)
{
    struct uvfio_wire_version v = { UVFIO_PROTO_MAJOR, minor };
    struct uvfio_buf b = UVFIO_BUF_INIT;
    int r;

    r = uvfio_buf_append(&b, &v, sizeof(v));
    if (r == 0)
        r = uvfio_caps_format(rep, &b);
    if (r == 0)
        conn_reply(c, &m->hdr, b.data, b.len, twin_fd >= 0 ? &twin_fd : NULL,
                   twin_fd >= 0 ? 1 : 0);
    uvfio_buf_free(&b);
    return r;
}

void srv_version(struct srv_conn *c, struct uvfio_msg *m)
{
    struct uvfio_caps offer, lim, rep;
    struct uvfio_wire_version v;
    uint16_t minor;
    int twin_fd = -1, r;

    if (c->negotiated) {
        conn_reply_error(c, &m->hdr, EINVAL);
        return;
    }
    r = parse_offer(m, &v, &offer);
    if (r == -ENOTSUP) {
        /* Nothing else can be said in a protocol we do not speak. */
        conn_reply_error(c, &m->hdr, ENOTSUP);
        conn_fail(c, ENOTSUP, "client proposed an unknown major version");
        return;
    }
    if (r < 0) {
        conn_reply_error(c, &m->hdr, -r);
        return;
    }
    minor = v.minor < UVFIO_PROTO_MINOR ? v.minor : UVFIO_PROTO_MINOR;
    server_limits(c->srv, &lim);
    r = uvfio_caps_negotiate(&offer, &lim, &rep);
    if (r < 0) {
        conn_reply_error(c, &m->hdr, -r);
        conn_fail(c, -r, "no capabilities in common with the client");
        return;
    }
    rep.twin_fd_index = -1;
    /* A twin socket nobody hears of (NO_REPLY), or that the client cannot
     * receive (max_msg_fds 0), would only leak. */
    if (rep.twin_socket && rep.max_msg_fds > 0 &&
        !(m->hdr.flags & UVFIO_HDR_NO_REPLY) && make_twin(c, &twin_fd) == 0)
        rep.twin_fd_index = 0;
    else
        rep.twin_socket = false;
    r = adopt(c, &rep, minor);
    if (r == 0)
        r = send_reply(c, m, &rep, minor, twin_fd);
    if (r < 0) {
        conn_reply_error(c, &m->hdr, -r);
        conn_fail(c, -r, "cannot attach the client to the device");
    }
    if (twin_fd >= 0)
        close(twin_fd);         /* the queue holds its own copy */
}
