// SPDX-License-Identifier: MIT
/*
 * serial/chardev.c - the host-side backends of the UART's line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "chardev.h"

struct chardev {
    int in_fd;
    int out_fd;
    bool close_in;              /* ours to close (not stdio) */
    bool close_out;
    int pty_slave;              /* held open, see chardev_open_pty() */
    char *pty_name;
    /* stdio: what to put back on close */
    int saved_in_flags;
    int saved_out_flags;
    bool saved_termios_valid;
    struct termios saved_termios;
    bool out_broken_logged;
};

static struct chardev *chardev_alloc(void)
{
    struct chardev *cd = calloc(1, sizeof(*cd));

    if (!cd)
        return NULL;
    cd->in_fd = -1;
    cd->out_fd = -1;
    cd->pty_slave = -1;
    cd->saved_in_flags = -1;
    cd->saved_out_flags = -1;
    return cd;
}

static int set_nonblock(int fd, int *saved)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
        return -errno;
    if (saved)
        *saved = flags;
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* epoll refuses regular files and some devices (/dev/null): such an
 * input can never signal readiness, so it is treated as no input. */
static bool pollable(int fd)
{
    struct epoll_event ev = { .events = EPOLLIN };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    bool ok;

    if (ep < 0)
        return false;
    ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
    close(ep);
    return ok;
}

/* ---- stdio ---------------------------------------------------------------- */

/* Raw input so every key reaches the guest at once, but ISIG stays on so
 * ^C still stops the server; output processing stays too, to keep our own
 * log lines readable on the same terminal. */
static void stdin_raw(struct chardev *cd)
{
    struct termios t;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t) < 0)
        return;
    cd->saved_termios = t;
    cd->saved_termios_valid = true;
    t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static int chardev_open_stdio(struct chardev *cd)
{
    struct stat st;
    int ret;

    if (fstat(STDOUT_FILENO, &st) < 0)
        return -errno;
    cd->out_fd = STDOUT_FILENO;
    if (!S_ISREG(st.st_mode)) {
        ret = set_nonblock(STDOUT_FILENO, &cd->saved_out_flags);
        if (ret)
            return ret;
    }
    if (!pollable(STDIN_FILENO))
        return 0;
    ret = set_nonblock(STDIN_FILENO, &cd->saved_in_flags);
    if (ret)
        return ret;
    cd->in_fd = STDIN_FILENO;
    stdin_raw(cd);
    return 0;
}

static void chardev_restore_stdio(struct chardev *cd)
{
    if (cd->saved_termios_valid)
        tcsetattr(STDIN_FILENO, TCSANOW, &cd->saved_termios);
    if (cd->saved_in_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, cd->saved_in_flags);
    if (cd->saved_out_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, cd->saved_out_flags);
}

/* ---- file and pipe -------------------------------------------------------- */

static int chardev_open_file(struct chardev *cd, const char *path)
{
    cd->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (cd->out_fd < 0)
        return -errno;
    cd->close_out = true;
    return 0;
}

/* O_RDWR: opening a FIFO never blocks that way, and holding both ends
 * means a peer that closes and reopens is no end of input. */
static int open_fifo(const char *path)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

    return fd < 0 ? -errno : fd;
}

static int chardev_open_pipe(struct chardev *cd, const char *path)
{
    size_t len = strlen(path);
    char *name = malloc(len + sizeof(".out"));
    int ret;

    if (!name)
        return -ENOMEM;
    memcpy(name, path, len);
    memcpy(name + len, ".in", sizeof(".in"));
    ret = open_fifo(name);
    if (ret >= 0) {
        cd->in_fd = ret;
        memcpy(name + len, ".out", sizeof(".out"));
        ret = open_fifo(name);
        cd->out_fd = ret;
    } else if (ret == -ENOENT) {
        ret = open_fifo(path);
        cd->in_fd = ret;
        cd->out_fd = ret;
    }
    free(name);
    cd->close_in = cd->in_fd >= 0;
    cd->close_out = cd->out_fd >= 0 && cd->out_fd != cd->in_fd;
    return ret < 0 ? ret : 0;
}

/* ---- pty ------------------------------------------------------------------ */

/*
 * We keep the slave open ourselves: without that, the master reports
 * hang-up and I/O errors until someone opens the slave, and loses what was
 * written before.  Held open, the pty behaves like a line with a patient
 * listener: output waits in its buffer (pushing back when that is full)
 * until a terminal program attaches.
 */
static int chardev_open_pty(struct chardev *cd)
{
    struct termios t;
    const char *name;
    int fd;

    fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    cd->in_fd = cd->out_fd = fd;
    cd->close_in = true;
    if (grantpt(fd) < 0 || unlockpt(fd) < 0 || !(name = ptsname(fd)))
        return -errno;
    cd->pty_name = strdup(name);
    if (!cd->pty_name)
        return -ENOMEM;
    cd->pty_slave = open(cd->pty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (cd->pty_slave < 0)
        return -errno;
    /* a serial line carries bytes, not lines: no echo, no translation */
    if (tcgetattr(cd->pty_slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(cd->pty_slave, TCSANOW, &t);
    }
    return 0;
}

/* ---- common --------------------------------------------------------------- */

static int chardev_dispatch(struct chardev *cd, const char *spec)
{
    if (!strcmp(spec, "stdio"))
        return chardev_open_stdio(cd);
    if (!strcmp(spec, "null"))
        return 0;
    if (!strcmp(spec, "pty"))
        return chardev_open_pty(cd);
    if (!strncmp(spec, "file:", 5) && spec[5])
        return chardev_open_file(cd, spec + 5);
    if (!strncmp(spec, "pipe:", 5) && spec[5])
        return chardev_open_pipe(cd, spec + 5);
    return -EINVAL;
}

int chardev_open(const char *spec, struct chardev **out)
{
    struct chardev *cd;
    int ret;

    if (!spec)
        return -EINVAL;
    cd = chardev_alloc();
    if (!cd)
        return -ENOMEM;
    ret = chardev_dispatch(cd, spec);
    if (ret) {
        chardev_close(cd);
        return ret;
    }
    *out = cd;
    return 0;
}

void chardev_close(struct chardev *cd)
{
    if (!cd)
        return;
    chardev_restore_stdio(cd);
    if (cd->close_in && cd->in_fd >= 0)
        close(cd->in_fd);
    if (cd->close_out && cd->out_fd >= 0)
        close(cd->out_fd);
    if (cd->pty_slave >= 0)
        close(cd->pty_slave);
    free(cd->pty_name);
    free(cd);
}

int chardev_in_fd(const struct chardev *cd)
{
    return cd->in_fd;
}

int chardev_out_fd(const struct chardev *cd)
{
    return cd->out_fd;
}

const char *chardev_pty_name(const struct chardev *cd)
{
    return cd->pty_name;
}

ssize_t chardev_read(struct chardev *cd, void *buf, size_t len)
{
    ssize_t n;

    if (cd->in_fd < 0)
        return 0;
    do {
        n = read(cd->in_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return n;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* The reader went away for good: stop writing, keep the line "sending". */
static void output_broken(struct chardev *cd, int err)
{
    if (!cd->out_broken_logged)
        fprintf(stderr, "uvfio-serial: chardev output failed (%s); "
                "dropping UART output from now on\n", strerror(err));
    cd->out_broken_logged = true;
    if (cd->close_out && cd->out_fd != cd->in_fd)
        close(cd->out_fd);
    cd->out_fd = -1;
}

size_t chardev_write(struct chardev *cd, const void *buf, size_t len)
{
    ssize_t n;

    if (cd->out_fd < 0)
        return len;
    do {
        n = write(cd->out_fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n >= 0)
        return (size_t)n;
    if (errno == EWOULDBLOCK)
        return 0;
    output_broken(cd, errno);
    return len;
}
