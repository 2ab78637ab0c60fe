/* SPDX-License-Identifier: MIT */
/*
 * client/client.c - connecting, VERSION negotiation, closing.
 *
 * The client offers its limits and features in VERSION and believes the
 * reply only as far as it is consistent with the offer: a feature (a
 * boolean, an extension, a page size) the client did not offer is a
 * protocol error, because acting on it would mean speaking a dialect the
 * caller did not ask for.  Numbers are different: each side states its own
 * receive limits (libvfio-user answers with its own maxima whatever the
 * offer), so the client keeps the smaller of the two for what it sends.
 *
 * connect_fd always takes the socket, also on failure, so that a caller
 * never has to guess whether to close it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client_priv.h"
#include "proto/buf.h"
#include "proto/version.h"
#include "util/log.h"

#define DEFAULT_MAX_MSG_FDS     16u

static int offer_from_opts(const struct uvfio_client_opts *o,
                           struct uvfio_caps *offer)
{
    uvfio_caps_defaults(offer);
    if (o->max_msg_fds > UVFIO_MAX_FDS_LIMIT)
        return -EINVAL;
    if (o->max_data_xfer_size &&
        (o->max_data_xfer_size < 4096 ||
         o->max_data_xfer_size > UVFIO_MAX_DATA_XFER_LIMIT))
        return -EINVAL;
    offer->max_msg_fds = o->max_msg_fds ? o->max_msg_fds : DEFAULT_MAX_MSG_FDS;
    offer->max_data_xfer_size = o->max_data_xfer_size ?
        o->max_data_xfer_size : UVFIO_DEFAULT_MAX_DATA_XFER;
    offer->write_multiple = !o->no_write_multiple;
    offer->twin_socket = o->twin_socket;
    offer->extensions = o->precopy_info ? UVFIO_EXT_PRECOPY_INFO : 0;
    return 0;
}

static int chan_open(struct uvfio_client *c, struct uvfio_client_chan *ch,
                     int sock)
{
    /* Longest single sleep in recvmsg while waiting for a reply: the
     * request's deadline is checked between sleeps. */
    struct timeval slice = { .tv_sec = 0, .tv_usec = 200 * 1000 };
    int fl = fcntl(sock, F_GETFL);

    ch->sock = sock;
    /* Blocking mode, with every operation that must not block done with
     * MSG_DONTWAIT: then a request can wait for its reply asleep in
     * recvmsg itself instead of poll + recvmsg (request.c), one syscall
     * less per round trip - most of the cost of a small request. */
    if (fl < 0 || fcntl(sock, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof(slice)) < 0)
        return -errno;
    /* Discarding an oversized message is cheaper than losing the stream,
     * but only up to the largest message a sane peer could send. */
    ch->rx = uvfio_rx_new(c->rx_max, (size_t)UVFIO_MAX_DATA_XFER_LIMIT +
                          c->rx_max, c->rx_fds);
    /* Room for one maximal request plus the DMA replies queued behind it. */
    ch->txq = uvfio_txq_new(4 * (size_t)c->rx_max);
    if (!ch->rx || !ch->txq)
        return -ENOMEM;
    uvfio_rx_set_dontwait(ch->rx, true);
    return 0;
}

static void chan_close(struct uvfio_client_chan *ch)
{
    if (ch->rx)
        uvfio_rx_free(ch->rx);
    if (ch->txq)
        uvfio_txq_free(ch->txq);
    if (ch->sock >= 0)
        close(ch->sock);
    ch->rx = NULL;
    ch->txq = NULL;
    ch->sock = -1;
}

/* A reply feature the offer did not contain, or a version we can't speak. */
static int check_subset(const struct uvfio_wire_version *v,
                        const struct uvfio_caps *offer,
                        const struct uvfio_caps *rep)
{
    if (v->major != UVFIO_PROTO_MAJOR || v->minor > UVFIO_PROTO_MINOR) {
        uvfio_warn("client: server answered version %u.%u to %u.%u",
                   v->major, v->minor, UVFIO_PROTO_MAJOR, UVFIO_PROTO_MINOR);
        return -EPROTO;
    }
    if ((rep->write_multiple && !offer->write_multiple) ||
        (rep->twin_socket && !offer->twin_socket) ||
        (rep->extensions & ~offer->extensions) ||
        (rep->pgsizes & ~offer->pgsizes)) {
        uvfio_warn("client: server's capabilities are not a subset of ours");
        return -EPROTO;
    }
    return 0;
}

static void caps_from_reply(struct uvfio_client *c,
                            const struct uvfio_wire_version *v,
                            const struct uvfio_caps *offer,
                            const struct uvfio_caps *rep)
{
    struct uvfio_client_caps *k = &c->caps;

    k->major = v->major;
    k->minor = v->minor;
    k->max_msg_fds = rep->max_msg_fds;
    k->max_data_xfer_size = rep->max_data_xfer_size;
    if (offer->max_data_xfer_size < k->max_data_xfer_size)
        k->max_data_xfer_size = offer->max_data_xfer_size;
    k->max_dma_maps = rep->max_dma_maps;
    k->pgsizes = rep->pgsizes;
    k->write_multiple = rep->write_multiple;
    k->twin_socket = rep->twin_socket;
    k->precopy_info = rep->extensions & UVFIO_EXT_PRECOPY_INFO;
}

static int setup_twin(struct uvfio_client *c, const struct uvfio_caps *rep,
                      struct uvfio_msg *m)
{
    struct epoll_event ev = { .events = EPOLLIN };
    int fd, r;

    if (rep->twin_fd_index < 0 || (size_t)rep->twin_fd_index >= m->nfds) {
        uvfio_warn("client: twin socket promised but not sent");
        return -EPROTO;
    }
    fd = m->fds[rep->twin_fd_index];
    m->fds[rep->twin_fd_index] = -1;
    r = chan_open(c, &c->twin, fd);
    if (r < 0)
        return r;
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd < 0)
        return -errno;
    ev.data.fd = c->main.sock;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->main.sock, &ev) < 0)
        return -errno;
    ev.data.fd = c->twin.sock;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->twin.sock, &ev) < 0)
        return -errno;
    return 0;
}

static int parse_version_reply(struct uvfio_client *c,
                               const struct uvfio_caps *offer,
                               struct uvfio_msg *m)
{
    struct uvfio_wire_version v;
    struct uvfio_caps rep;
    int r;

    memcpy(&v, m->payload, sizeof(v));
    r = uvfio_caps_parse((const char *)m->payload + sizeof(v),
                         m->len - sizeof(v), &rep);
    if (r < 0) {
        uvfio_warn("client: bad capabilities in VERSION reply");
        return -EPROTO;
    }
    r = check_subset(&v, offer, &rep);
    if (r < 0)
        return r;
    caps_from_reply(c, &v, offer, &rep);
    return rep.twin_socket ? setup_twin(c, &rep, m) : 0;
}

static int negotiate(struct uvfio_client *c, const struct uvfio_caps *offer)
{
    struct uvfio_wire_version v = {
        .major = UVFIO_PROTO_MAJOR,
        .minor = UVFIO_PROTO_MINOR,
    };
    struct uvfio_buf json = UVFIO_BUF_INIT;
    struct uvfio_msg m = { 0 };
    struct iovec iov[2];
    int r;

    r = uvfio_caps_format(offer, &json);
    if (r < 0)
        return r;
    iov[0] = (struct iovec){ &v, sizeof(v) };
    iov[1] = (struct iovec){ json.data, json.len };
    r = uvfio_client_request(c, UVFIO_CMD_VERSION, iov, 2, NULL, 0, &m);
    uvfio_buf_free(&json);
    if (r < 0)
        return r;
    r = parse_version_reply(c, offer, &m);
    uvfio_msg_free(&m);
    return r;
}

static int timeout_of(uint32_t timeout_ms)
{
    if (!timeout_ms)
        return UVFIO_CLIENT_DEFAULT_TIMEOUT_MS;
    return (int)(timeout_ms > 0x7fffffff ? 0x7fffffff : timeout_ms);
}

UVFIO_API void uvfio_client_set_timeout(struct uvfio_client *c,
                                        uint32_t timeout_ms)
{
    if (c)
        c->timeout_ms = timeout_of(timeout_ms);
}

static struct uvfio_client *client_alloc(const struct uvfio_caps *offer,
                                         uint32_t timeout_ms)
{
    struct uvfio_client *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->main.sock = -1;
    c->twin.sock = -1;
    c->epfd = -1;
    c->timeout_ms = timeout_of(timeout_ms);
    c->rx_xfer = offer->max_data_xfer_size;
    c->rx_max = UVFIO_HDR_SIZE + c->rx_xfer + UVFIO_CLIENT_RX_SLACK;
    c->rx_fds = offer->max_msg_fds;
    /* Until the reply says otherwise, hold the server to our own limit. */
    c->caps.max_data_xfer_size = c->rx_xfer;
    return c;
}

UVFIO_API int uvfio_client_connect_fd(int fd,
                                      const struct uvfio_client_opts *opts,
                                      struct uvfio_client **out)
{
    const struct uvfio_client_opts none = { 0 };
    struct uvfio_client *c;
    struct uvfio_caps offer;
    int r;

    *out = NULL;
    if (fd < 0)
        return -EBADF;
    r = offer_from_opts(opts ? opts : &none, &offer);
    if (r < 0) {
        close(fd);
        return r;
    }
    c = client_alloc(&offer, opts ? opts->timeout_ms : 0);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    r = chan_open(c, &c->main, fd);
    if (r == 0)
        r = negotiate(c, &offer);
    if (r < 0) {
        uvfio_client_close(c);
        return r;
    }
    *out = c;
    return 0;
}

UVFIO_API int uvfio_client_connect(const char *path,
                                   const struct uvfio_client_opts *opts,
                                   struct uvfio_client **out)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    *out = NULL;
    if (!path || !*path)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = -errno;

        close(fd);
        return err;
    }
    return uvfio_client_connect_fd(fd, opts, out);
}

/*
 * Posted writes still batched are handed to the socket if it takes them
 * without waiting; a caller who needs them delivered calls
 * uvfio_client_flush first.
 */
UVFIO_API void uvfio_client_close(struct uvfio_client *c)
{
    if (!c)
        return;
    if (!c->dead && c->main.txq && uvfio_client_batch_push(c) == 0)
        uvfio_txq_flush(c->main.txq, c->main.sock);
    if (c->epfd >= 0)
        close(c->epfd);
    chan_close(&c->twin);
    chan_close(&c->main);
    uvfio_client_maps_free(c);
    free(c->batch);
    free(c);
}

UVFIO_API const struct uvfio_client_caps *
uvfio_client_caps(const struct uvfio_client *c)
{
    return &c->caps;
}
