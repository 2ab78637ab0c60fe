// SPDX-License-Identifier: MIT
/*
 * core/events.c - the fds a device wants watched (a driver's own inputs,
 * and the clients' IRQ unmask eventfds), multiplexed on one epoll fd per
 * device that the server polls and dispatches like libuv's embeddable
 * backend fd.
 *
 * Epoll entries carry a watch id, never a pointer or the bare fd number:
 * an event already fetched for a watch that a callback then removed (and
 * whose fd number may even be reused by a new watch) finds no id and is
 * dropped instead of reaching freed memory or the wrong callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "device_priv.h"
#include "internal.h"
#include "util/log.h"

/* Events handled per dispatch call; what is left keeps the epoll fd
 * readable, so the server simply calls again. */
#define EVENTS_BATCH 32

struct uvfio_watch {
    struct uvfio_watch *next;
    uint64_t id;
    int fd;
    uvfio_fd_cb cb;
    void *opaque;
};

int uvfio_events_init(struct uvfio_device *dev)
{
    struct uvfio_events *ev = &dev->events;

    ev->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ev->epfd < 0)
        return -errno;
    pthread_mutex_init(&ev->lock, NULL);
    ev->watches = NULL;
    ev->next_id = 1;
    return 0;
}

void uvfio_events_fini(struct uvfio_device *dev)
{
    struct uvfio_events *ev = &dev->events;
    struct uvfio_watch *w;

    while ((w = ev->watches)) {
        ev->watches = w->next;
        free(w);
    }
    close(ev->epfd);
    ev->epfd = -1;
    pthread_mutex_destroy(&ev->lock);
}

static struct uvfio_watch **watch_by_fd(struct uvfio_events *ev, int fd)
{
    struct uvfio_watch **pp;

    for (pp = &ev->watches; *pp; pp = &(*pp)->next)
        if ((*pp)->fd == fd)
            return pp;
    return NULL;
}

static struct uvfio_watch *watch_by_id(struct uvfio_events *ev, uint64_t id)
{
    struct uvfio_watch *w;

    for (w = ev->watches; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

/* `events` goes to epoll as is, so EPOLLET and EPOLLONESHOT work too. */
int uvfio_device_watch_fd(struct uvfio_device *dev, int fd, uint32_t events,
                          uvfio_fd_cb cb, void *opaque)
{
    struct uvfio_events *ev;
    struct epoll_event ee = { 0 };
    struct uvfio_watch *w;
    int r = 0;

    if (!dev || fd < 0 || !cb)
        return -EINVAL;
    ev = &dev->events;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;

    pthread_mutex_lock(&ev->lock);
    if (watch_by_fd(ev, fd)) {
        r = -EEXIST;
        goto out;
    }
    w->id = ev->next_id++;
    w->fd = fd;
    w->cb = cb;
    w->opaque = opaque;
    ee.events = events;
    ee.data.u64 = w->id;
    if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
        r = -errno;
        goto out;
    }
    w->next = ev->watches;
    ev->watches = w;
    w = NULL;
out:
    pthread_mutex_unlock(&ev->lock);
    free(w);
    return r;
}

int uvfio_device_unwatch_fd(struct uvfio_device *dev, int fd)
{
    struct uvfio_events *ev;
    struct uvfio_watch **pp, *w = NULL;

    if (!dev || fd < 0)
        return -EINVAL;
    ev = &dev->events;
    pthread_mutex_lock(&ev->lock);
    pp = watch_by_fd(ev, fd);
    if (pp) {
        w = *pp;
        *pp = w->next;
        /* EBADF when the owner closed the fd first: epoll already forgot
         * it then, which is all we wanted. */
        epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
    }
    pthread_mutex_unlock(&ev->lock);
    if (!w)
        return -ENOENT;
    free(w);
    return 0;
}

int uvfio_core_event_fd(struct uvfio_device *dev)
{
    return dev->events.epfd;
}

void uvfio_core_dispatch_events(struct uvfio_device *dev)
{
    struct uvfio_events *ev = &dev->events;
    struct epoll_event evs[EVENTS_BATCH];
    struct uvfio_watch *w, copy;
    int i, n;

    n = epoll_wait(ev->epfd, evs, EVENTS_BATCH, 0);
    if (n < 0) {
        if (errno != EINTR)
            uvfio_warn("%s: epoll_wait: %s", dev->name, uvfio_strerror(errno));
        return;
    }
    for (i = 0; i < n; i++) {
        pthread_mutex_lock(&ev->lock);
        w = watch_by_id(ev, evs[i].data.u64);
        if (w)
            copy = *w;
        pthread_mutex_unlock(&ev->lock);
        /* Called unlocked: a callback may watch or unwatch, itself too. */
        if (w)
            copy.cb(dev, copy.fd, evs[i].events, copy.opaque);
    }
}
