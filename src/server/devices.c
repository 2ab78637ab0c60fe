// SPDX-License-Identifier: MIT
/*
 * server/devices.c - the devices a server serves.
 *
 * Each device has a slot: its listening socket (from a path or inherited),
 * the core's event fd for the driver's own fds, and its one client.  While
 * a client is connected the listening socket is out of the epoll set, so a
 * second client waits in the kernel's backlog instead of being accepted
 * and refused; it goes back in when the client leaves.  A device served on
 * an inherited connected socket has no listening socket: once its client
 * leaves it is not served any more, though its slot stays until removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "server_priv.h"
#include "util/log.h"

int srv_dev_listen(struct srv_dev *sd, bool on)
{
    int r;

    if (sd->listen_fd < 0 || sd->listening == on)
        return 0;
    if (on) {
        r = srv_epoll_add(sd->srv, sd->listen_fd, EPOLLIN, &sd->listen_tag);
        if (r < 0) {
            uvfio_warn("server: %s: cannot listen again: %s",
                       uvfio_device_name(sd->dev), uvfio_strerror(r));
            return r;
        }
    } else {
        srv_epoll_del(sd->srv, sd->listen_fd);
    }
    sd->listening = on;
    return 0;
}

static struct srv_dev *find_dev(struct uvfio_server *srv,
                                const struct uvfio_device *dev)
{
    struct srv_dev *sd;

    for (sd = srv->devs; sd; sd = sd->next)
        if (sd->dev == dev)
            return sd;
    return NULL;
}

static struct srv_dev *dev_new(struct uvfio_server *srv,
                               struct uvfio_device *dev)
{
    struct srv_dev *sd = calloc(1, sizeof(*sd));

    if (!sd)
        return NULL;
    sd->srv = srv;
    sd->dev = dev;
    sd->listen_fd = -1;
    sd->event_fd = -1;
    sd->listen_tag = (struct srv_tag){ SRV_TAG_LISTEN, sd };
    sd->event_tag = (struct srv_tag){ SRV_TAG_CORE_EVENT, sd };
    return sd;
}

/* Watch the core's fd for the driver's own inputs (timers, chardevs). */
static int dev_watch_core(struct srv_dev *sd)
{
    int fd = uvfio_core_event_fd(sd->dev);
    int r;

    if (fd < 0)
        return 0;
    r = srv_epoll_add(sd->srv, fd, EPOLLIN, &sd->event_tag);
    if (r < 0)
        return r;
    sd->event_fd = fd;
    return 0;
}

static void dev_link(struct srv_dev *sd)
{
    sd->next = sd->srv->devs;
    sd->srv->devs = sd;
}

static void dev_unlink(struct srv_dev *sd)
{
    struct srv_dev **pp;

    for (pp = &sd->srv->devs; *pp; pp = &(*pp)->next) {
        if (*pp == sd) {
            *pp = sd->next;
            return;
        }
    }
}

void srv_dev_free(struct srv_dev *sd)
{
    free(sd->path);
    free(sd);
}

/* Disconnect the client, close the sockets, forget the device. */
void srv_dev_teardown(struct srv_dev *sd)
{
    struct uvfio_server *srv = sd->srv;

    if (sd->conn)
        conn_destroy(sd->conn);
    srv_dev_listen(sd, false);
    if (sd->event_fd >= 0)
        srv_epoll_del(srv, sd->event_fd);
    srv_close_fd(&sd->listen_fd);
    if (sd->path)
        srv_unlink_path(sd->path, sd->path_dev, sd->path_ino);
    dev_unlink(sd);
    sd->removed = true;
    if (srv->dispatch_depth) {
        sd->next = srv->dead_devs;
        srv->dead_devs = sd;
    } else {
        srv_dev_free(sd);
    }
}

static int check_new_dev(struct uvfio_server *srv, struct uvfio_device *dev)
{
    if (!srv || !dev)
        return -EINVAL;
    return find_dev(srv, dev) ? -EEXIST : 0;
}

UVFIO_API int uvfio_server_add_device(struct uvfio_server *srv,
                                      struct uvfio_device *dev,
                                      const char *path)
{
    struct srv_dev *sd;
    int r;

    r = check_new_dev(srv, dev);
    if (r < 0)
        return r;
    if (!path)
        return -EINVAL;
    sd = dev_new(srv, dev);
    if (!sd)
        return -ENOMEM;
    sd->path = strdup(path);
    if (!sd->path) {
        free(sd);
        return -ENOMEM;
    }
    r = srv_listen_path(path, &sd->listen_fd, &sd->path_dev, &sd->path_ino);
    if (r < 0) {
        free(sd->path);
        free(sd);
        return r;
    }
    dev_link(sd);
    r = dev_watch_core(sd);
    if (r == 0)
        r = srv_dev_listen(sd, true);
    if (r < 0)
        srv_dev_teardown(sd);
    return r;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return 0;
}

/*
 * On failure the fd stays the caller's: it did not become part of the
 * server.  (server.h says the server owns it "from then on", i.e. once
 * this returned 0.)
 */
UVFIO_API int uvfio_server_add_device_fd(struct uvfio_server *srv,
                                         struct uvfio_device *dev, int fd)
{
    struct srv_dev *sd;
    int kind, r;

    r = check_new_dev(srv, dev);
    if (r < 0)
        return r;
    if (fd < 0)
        return -EBADF;
    kind = srv_classify_fd(fd);
    if (kind < 0)
        return kind;
    r = set_nonblock(fd);
    if (r < 0)
        return r;
    sd = dev_new(srv, dev);
    if (!sd)
        return -ENOMEM;
    dev_link(sd);
    r = dev_watch_core(sd);
    if (r < 0)
        goto fail;
    if (kind == 1) {
        sd->listen_fd = fd;
        r = srv_dev_listen(sd, true);
        if (r < 0) {
            sd->listen_fd = -1;     /* stays the caller's */
            goto fail;
        }
        return 0;
    }
    /* Connected: this one client is served, and nobody after it. */
    r = conn_new(sd, fd);
    if (r < 0)
        goto fail;
    return 0;
fail:
    srv_dev_teardown(sd);
    return r;
}

UVFIO_API int uvfio_server_remove_device(struct uvfio_server *srv,
                                         struct uvfio_device *dev)
{
    struct srv_dev *sd;

    if (!srv || !dev)
        return -EINVAL;
    sd = find_dev(srv, dev);
    if (!sd)
        return -ENOENT;
    /* From inside this device's own command handling the connection is on
     * the stack: it cannot be torn down under itself. */
    if (sd->conn && sd->conn->depth)
        return -EBUSY;
    srv_dev_teardown(sd);
    return 0;
}
