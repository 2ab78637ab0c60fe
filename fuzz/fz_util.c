/* SPDX-License-Identifier: MIT */
/* fuzz/fz_util.c - see fz_util.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "fz_util.h"

static void log_sink(enum uvfio_log_level level, const char *msg, void *opaque)
{
    (void)level;
    (void)msg;
    (void)opaque;
}

void fz_quiet_logs(void)
{
    /* FZ_LOG=1 shows the log, to see what an input makes the code do. */
    if (!getenv("FZ_LOG"))
        uvfio_log_set_handler(log_sink, NULL);
    uvfio_log_set_level(UVFIO_LOG_DEBUG);
}

void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz invariant broken: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

int fz_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;       /* the directory's own fd */
}

static int memfd_stub(void)
{
    int fd = memfd_create("fuzz-stub", MFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, FZ_STUB_MEMFD_SIZE) < 0) {
        int err = -errno;

        close(fd);
        return err;
    }
    return fd;
}

static int pipe_stub(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    close(p[1]);
    return p[0];
}

int fz_stub_fd(enum fz_stub kind)
{
    int fd;

    switch (kind) {
    case FZ_STUB_EVENTFD:
        fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
    case FZ_STUB_MEMFD:
        return memfd_stub();
    case FZ_STUB_DEVNULL:
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    case FZ_STUB_PIPE:
        return pipe_stub();
    }
    return -EINVAL;
}

long fz_send(int sock, const void *buf, size_t len, const int *fds,
             size_t nfds)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(8 * sizeof(int))];
    } ctl;
    struct iovec iov = { (void *)buf, len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *c;
    ssize_t n;

    if (nfds > 8)
        return -EINVAL;
    if (nfds) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.bytes;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (long)n;
}
