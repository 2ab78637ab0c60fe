// SPDX-License-Identifier: MIT
/*
 * server/server.c - serving devices: the public API and the event loop.
 *
 * One epoll set holds, per device, its listening socket, its client's
 * socket(s) and the core's event fd for the driver's own fds; plus a stop
 * eventfd (uvfio_server_stop) and a wake eventfd through which a
 * connection with work left over, or a thread that broke a connection,
 * makes the loop come round again.  The epoll fd is what an embedding
 * caller polls, so everything that needs the loop must make it readable.
 * uvfio_server_run waits on an io_uring instead where it can, which then
 * watches the client sockets itself and the epoll set for the rest
 * (ring.c says why and how).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "server_priv.h"
#include "util/log.h"

#define SRV_MAX_EVENTS 64

/* Which server, if any, this thread is dispatching right now.  Read on
 * every DMA request and more: initial-exec keeps it a plain %fs load in
 * the shared library instead of a __tls_get_addr call. */
static _Thread_local const struct uvfio_server *tl_dispatching
    __attribute__((tls_model("initial-exec")));

bool srv_on_dispatch_thread(const struct uvfio_server *srv)
{
    return tl_dispatching == srv;
}

static bool is_client_socket(const struct srv_tag *tag)
{
    return tag->kind == SRV_TAG_CONN || tag->kind == SRV_TAG_TWIN;
}

int srv_epoll_add(struct uvfio_server *srv, int fd, uint32_t events,
                  struct srv_tag *tag)
{
    struct epoll_event ev = { .events = events, .data.ptr = tag };

    /* The ring only takes what its own thread adds; anything else (a
     * connection handed over from another thread) is served from epoll,
     * which the ring watches too. */
    if (is_client_socket(tag) && events == EPOLLIN && srv_ring_here(srv) &&
        srv_ring_watch(srv, fd, tag) == 0)
        return 0;
    return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Under the connection's lock when tag is a client socket's. */
int srv_epoll_mod(struct uvfio_server *srv, int fd, uint32_t events,
                  struct srv_tag *tag)
{
    struct epoll_event ev = { .events = events, .data.ptr = tag };
    int op = EPOLL_CTL_MOD;

    if (tag->in_ring) {
        /* The ring has the input; epoll holds POLLOUT alone, if any. */
        ev.events &= ~(uint32_t)EPOLLIN;
        if (ev.events)
            op = tag->out_in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        else if (tag->out_in_epoll)
            op = EPOLL_CTL_DEL;
        else
            return 0;
        if (epoll_ctl(srv->epfd, op, fd, &ev) < 0)
            return -errno;
        tag->out_in_epoll = ev.events != 0;
        return 0;
    }
    return epoll_ctl(srv->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

void srv_epoll_del(struct uvfio_server *srv, int fd)
{
    /* A socket the ring watches is let go of by the ring's own thread;
     * from any other, the ring keeps the file until the run ends. */
    if (srv_ring_here(srv))
        srv_ring_unwatch(srv, fd);
    epoll_ctl(srv->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void srv_wake(struct uvfio_server *srv)
{
    uint64_t one = 1;

    /* Only fails when the counter is saturated: it is readable anyway. */
    if (write(srv->wake_fd, &one, sizeof(one)) < 0)
        return;
}

void uvfio_server_set_dma_timeout(struct uvfio_server *srv, int ms)
{
    srv->dma_timeout_ms = ms;
}

/* ---- options ----------------------------------------------------------- */

static int resolve_opts(const struct uvfio_server_opts *in,
                        struct uvfio_server_opts *o)
{
    uint64_t min_queue;

    memset(o, 0, sizeof(*o));
    if (in)
        *o = *in;
    if (!o->max_msg_fds)
        o->max_msg_fds = SRV_DEFAULT_MAX_MSG_FDS;
    if (!o->max_data_xfer_size)
        o->max_data_xfer_size = UVFIO_DEFAULT_MAX_DATA_XFER;
    if (!o->max_dma_maps)
        o->max_dma_maps = UVFIO_DEFAULT_MAX_DMA_MAPS;
    if (!o->max_queued_reply_bytes)
        o->max_queued_reply_bytes = o->max_data_xfer_size +
                                    SRV_DEFAULT_QUEUE_SLACK;
    if (!o->dma_timeout_ms)
        o->dma_timeout_ms = SRV_DMA_TIMEOUT_MS;
    if (o->dma_timeout_ms > INT_MAX)
        return -EINVAL;
    if (o->max_msg_fds > UVFIO_MAX_FDS_LIMIT ||
        o->max_data_xfer_size > UVFIO_MAX_DATA_XFER_LIMIT)
        return -EINVAL;
    /* The largest single reply must fit, or a client doing nothing wrong
     * would be dropped for reading a region. */
    min_queue = o->max_data_xfer_size + SRV_MSG_OVERHEAD;
    if (o->max_queued_reply_bytes < min_queue)
        return -EINVAL;
    if (o->log_level < 0 || o->log_level > UVFIO_LOG_NONE)
        return -EINVAL;
    if (o->flags & ~UVFIO_SERVER_NO_IO_URING)
        return -EINVAL;
    return 0;
}

/* ---- create / destroy -------------------------------------------------- */

static int make_eventfd(struct uvfio_server *srv, int *fd,
                        struct srv_tag *tag, enum srv_tag_kind kind)
{
    *fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (*fd < 0)
        return -errno;
    tag->kind = kind;
    tag->obj = srv;
    return srv_epoll_add(srv, *fd, EPOLLIN, tag);
}

UVFIO_API int uvfio_server_create(const struct uvfio_server_opts *opts,
                                  struct uvfio_server **out)
{
    struct uvfio_server *srv;
    int r;

    if (!out)
        return -EINVAL;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->epfd = srv->stop_fd = srv->wake_fd = srv->reserve_fd = -1;
    srv->dma_timeout_ms = SRV_DMA_TIMEOUT_MS;
    r = resolve_opts(opts, &srv->opts);
    if (r < 0)
        goto fail;
    srv->dma_timeout_ms = (int)srv->opts.dma_timeout_ms;
    srv->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv->epfd < 0) {
        r = -errno;
        goto fail;
    }
    r = make_eventfd(srv, &srv->stop_fd, &srv->stop_tag, SRV_TAG_STOP);
    if (r < 0)
        goto fail;
    r = make_eventfd(srv, &srv->wake_fd, &srv->wake_tag, SRV_TAG_WAKE);
    if (r < 0)
        goto fail;
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* The level is process-wide: only touch it when asked to. */
    if (srv->opts.log_level)
        uvfio_log_set_level((enum uvfio_log_level)srv->opts.log_level);
    /* Without one, the run loop waits in epoll: nothing is lost. */
    srv_ring_create(srv);
    *out = srv;
    return 0;
fail:
    uvfio_server_destroy(srv);
    return r;
}

void srv_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* What went away during a dispatch call, freed once it is over. */
static void free_dead(struct uvfio_server *srv)
{
    while (srv->zombies) {
        struct srv_conn *c = srv->zombies;

        srv->zombies = c->zombie_next;
        conn_free(c);
    }
    while (srv->dead_devs) {
        struct srv_dev *sd = srv->dead_devs;

        srv->dead_devs = sd->next;
        srv_dev_free(sd);
    }
}

UVFIO_API void uvfio_server_destroy(struct uvfio_server *srv)
{
    if (!srv)
        return;
    while (srv->devs)
        srv_dev_teardown(srv->devs);
    free_dead(srv);
    srv_close_fd(&srv->stop_fd);
    srv_close_fd(&srv->wake_fd);
    srv_close_fd(&srv->reserve_fd);
    srv_ring_destroy(srv);
    srv_close_fd(&srv->epfd);
    free(srv);
}

/* ---- the loop ---------------------------------------------------------- */

UVFIO_API int uvfio_server_fd(const struct uvfio_server *srv)
{
    return srv ? srv->epfd : -EINVAL;
}

static void drain_eventfd(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0)
        return;     /* EAGAIN: already drained */
}

/* Connections with work left, or broken by another thread. */
static void scan_conns(struct uvfio_server *srv)
{
    struct srv_dev *sd, *next;
    bool again = false;
    int dead;

    for (sd = srv->devs; sd; sd = next) {
        struct srv_conn *c = sd->conn;

        next = sd->next;
        if (!c)
            continue;
        pthread_mutex_lock(&c->lock);
        dead = c->dead;
        pthread_mutex_unlock(&c->lock);
        if (dead)
            conn_destroy(c);
        else if (c->ready || c->twin_ready)
            conn_process(c);
        if (sd->conn && (sd->conn->ready || sd->conn->twin_ready))
            again = true;
    }
    if (again)
        srv_wake(srv);
}

static void handle_event(struct uvfio_server *srv, struct srv_tag *tag,
                         uint32_t events)
{
    struct srv_dev *sd;

    switch (tag->kind) {
    case SRV_TAG_STOP:
        drain_eventfd(srv->stop_fd);
        srv->stop_seen = true;
        break;
    case SRV_TAG_WAKE:
        drain_eventfd(srv->wake_fd);
        scan_conns(srv);
        break;
    case SRV_TAG_LISTEN:
        sd = tag->obj;
        if (!sd->removed && !sd->conn) {
            int fd = srv_accept(srv, sd->listen_fd);

            if (fd >= 0 && conn_new(sd, fd) < 0)
                close(fd);
        }
        break;
    case SRV_TAG_CORE_EVENT:
        sd = tag->obj;
        if (!sd->removed)
            uvfio_core_dispatch_events(sd->dev);
        break;
    case SRV_TAG_CONN:
    case SRV_TAG_TWIN:
        conn_handle_event(tag->obj, tag->kind == SRV_TAG_TWIN, events);
        break;
    }
}

static void dispatch_begin(struct uvfio_server *srv,
                           const struct uvfio_server **outer)
{
    *outer = tl_dispatching;
    tl_dispatching = srv;
    srv->dispatch_depth++;
}

static void dispatch_end(struct uvfio_server *srv,
                         const struct uvfio_server *outer)
{
    srv->dispatch_depth--;
    tl_dispatching = outer;
    if (!srv->dispatch_depth)
        free_dead(srv);
}

/* Wait up to timeout_ms for the epoll set; the count handled or -errno.
 * Inside a dispatch (dispatch_begin) only once the wait is over. */
static int handle_epoll(struct uvfio_server *srv, int timeout_ms)
{
    struct epoll_event evs[SRV_MAX_EVENTS];
    const struct uvfio_server *outer;
    bool nested = srv->dispatch_depth > 0;
    int n, i;

    n = epoll_wait(srv->epfd, evs, SRV_MAX_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (!nested)
        dispatch_begin(srv, &outer);
    for (i = 0; i < n; i++)
        handle_event(srv, evs[i].data.ptr, evs[i].events);
    if (!nested)
        dispatch_end(srv, outer);
    return n;
}

UVFIO_API int uvfio_server_dispatch(struct uvfio_server *srv, int timeout_ms)
{
    if (!srv)
        return -EINVAL;
    return handle_epoll(srv, timeout_ms);
}

/* One turn of the run loop on the ring (ring.c). */
static int dispatch_ring(struct uvfio_server *srv)
{
    struct srv_ring_event evs[SRV_MAX_EVENTS];
    const struct uvfio_server *outer;
    int n, i, r = 0;

    n = srv_ring_wait(srv, evs, SRV_MAX_EVENTS);
    if (n < 0)
        return n;
    dispatch_begin(srv, &outer);
    for (i = 0; i < n && r >= 0; i++) {
        if (!evs[i].tag)
            r = handle_epoll(srv, 0);
        else if (srv_ring_event_live(srv, &evs[i])) {
            handle_event(srv, evs[i].tag, evs[i].events);
            if (srv_ring_event_live(srv, &evs[i]))
                srv_ring_after_event(srv, &evs[i]);
        }
    }
    dispatch_end(srv, outer);
    return r;
}

UVFIO_API int uvfio_server_run(struct uvfio_server *srv)
{
    bool ring;
    int r = 0;

    if (!srv)
        return -EINVAL;
    ring = srv_ring_start(srv) == 0;
    while (!srv->stop_seen && r >= 0)
        r = ring ? dispatch_ring(srv) : uvfio_server_dispatch(srv, -1);
    if (ring)
        srv_ring_stop(srv);
    if (r < 0)
        return r;
    srv->stop_seen = false;
    return 0;
}

UVFIO_API void uvfio_server_stop(struct uvfio_server *srv)
{
    uint64_t one = 1;
    int saved = errno;      /* a signal handler must leave errno alone */
    ssize_t n;

    if (!srv)
        return;
    /* Fails only when the counter is saturated: a stop is pending then. */
    n = write(srv->stop_fd, &one, sizeof(one));
    (void)n;
    errno = saved;
}
