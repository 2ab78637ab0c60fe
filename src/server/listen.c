// SPDX-License-Identifier: MIT
/*
 * server/listen.c - the sockets a device is served on.
 *
 * A device listens on its own UNIX socket, created 0600 so that only its
 * owner can connect (a vfio-user client can DMA into and out of the
 * device, so the socket is as sensitive as the device), or on an fd the
 * caller inherited (--fd=N), which may be listening or already connected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server_priv.h"
#include "util/log.h"

static int fill_addr(const char *path, struct sockaddr_un *sun)
{
    size_t len = strlen(path);

    if (len == 0)
        return -EINVAL;
    if (len >= sizeof(sun->sun_path))
        return -ENAMETOOLONG;
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len);
    return 0;
}

/* An old socket at path is a leftover of a previous run: replace it.
 * Anything else there is someone's file: refuse. */
static int clear_path(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/*
 * A temporary name next to `path` to bind under, so that `path` appears
 * only once the socket listens: a launcher (or QEMU) that waits for the
 * file and then connects must never get ECONNREFUSED.  Falls back to path
 * itself when the longer name does not fit in sun_path.
 */
static void tmp_name(const char *path, char *tmp, size_t size)
{
    static _Atomic unsigned int seq;
    int n;

    n = snprintf(tmp, size, "%s.%d.%u.tmp", path, (int)getpid(),
                 atomic_fetch_add(&seq, 1));
    if (n < 0 || (size_t)n >= size ||
        (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
        snprintf(tmp, size, "%s", path);
}

int srv_listen_path(const char *path, int *fd_out, uint64_t *dev_out,
                    uint64_t *ino_out)
{
    struct sockaddr_un sun;
    char tmp[sizeof(sun.sun_path) + 32];
    struct stat st;
    int fd, r;

    r = fill_addr(path, &sun);
    if (r < 0)
        return r;
    r = clear_path(path);
    if (r < 0)
        return r;
    tmp_name(path, tmp, sizeof(tmp));
    r = fill_addr(tmp, &sun);
    if (r < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /*
     * Linux creates the socket file with the socket inode's mode minus the
     * umask, so setting the mode before bind() leaves no moment at which
     * the file is more open than 0600, whatever the process umask is.  The
     * chmod after bind() covers kernels that do otherwise.
     */
    if (fchmod(fd, S_IRUSR | S_IWUSR) < 0 ||
        bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        r = -errno;
        goto fail;
    }
    if (chmod(tmp, S_IRUSR | S_IWUSR) < 0 ||
        listen(fd, SRV_LISTEN_BACKLOG) < 0 ||
        (strcmp(tmp, path) != 0 && rename(tmp, path) < 0) ||
        lstat(path, &st) < 0) {
        r = -errno;
        unlink(tmp);
        goto fail;
    }
    *fd_out = fd;
    *dev_out = st.st_dev;
    *ino_out = st.st_ino;
    return 0;
fail:
    close(fd);
    return r;
}

int srv_classify_fd(int fd)
{
    int val = 0;
    socklen_t len = sizeof(val);

    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0)
        return -errno;
    if (val != AF_UNIX)
        return -EAFNOSUPPORT;
    len = sizeof(val);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0)
        return -errno;
    if (val != SOCK_STREAM)
        return -EPROTOTYPE;
    len = sizeof(val);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0)
        return -errno;
    return val ? 1 : 0;
}

void srv_unlink_path(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;

    /* Someone may have replaced the file since: leave theirs alone. */
    if (lstat(path, &st) < 0)
        return;
    if (S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}

/*
 * Out of fds, a level-triggered listening socket would wake the loop
 * forever.  Give up the spare fd, take the connection and close it at
 * once, so the client sees a clean refusal and the loop quietens.
 */
static void shed_connection(struct uvfio_server *srv, int listen_fd)
{
    int fd;

    if (srv->reserve_fd < 0)
        return;
    close(srv->reserve_fd);
    srv->reserve_fd = -1;
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int srv_accept(struct uvfio_server *srv, int listen_fd)
{
    int fd;

    for (;;) {
        fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
            continue;
        case EMFILE:
        case ENFILE:
            uvfio_warn("server: out of file descriptors, refusing a client");
            shed_connection(srv, listen_fd);
            return -EMFILE;
        default:
            return -errno;
        }
    }
}
