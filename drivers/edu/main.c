// SPDX-License-Identifier: MIT
/*
 * uvfio-edu - QEMU's edu PCI device with a copy queue, served over
 * vfio-user, live-migratable.
 *
 * Follows the vfio-user backend program conventions: --socket-path=PATH
 * or --fd=N, stays in the foreground, exits cleanly (status 0, socket
 * removed) on SIGTERM or SIGINT.  See docs/uvfio-edu.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "edu.h"
#include "regs.h"

#define EXIT_USAGE 2

struct options {
    const char *socket_path;
    int fd;
    struct edu_opts edu;
};

static struct uvfio_server *volatile running_server;
static volatile sig_atomic_t stop_requested;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvfio-edu --socket-path=PATH | --fd=N [options]\n"
        "\n"
        "QEMU's edu PCI device (1234:11e8) with a copy queue that keeps\n"
        "writing guest memory, served over vfio-user; it migrates with\n"
        "STOP_COPY, P2P and PRE_COPY.\n"
        "\n"
        "  --socket-path=PATH     listen on a new UNIX socket at PATH (0600)\n"
        "  --fd=N                 serve on inherited socket fd N (listening\n"
        "                         or already connected)\n"
        "  --dma-mask=MASK        DMA engine address mask (default 0x%llx,\n"
        "                         edu's 28 bits)\n"
        "  --cq-window=IOVA:SIZE  power-on copy-queue window (4 KiB aligned)\n"
        "  --cq-rate=MIB          power-on copy-queue rate in MiB/s\n"
        "  -v, --verbose          log protocol events and guest errors\n"
        "  -h, --help             this text\n"
        "\n"
        "Exit status: 0 after SIGTERM/SIGINT, 1 on a run-time error,\n"
        "2 on bad usage.\n", (unsigned long long)EDU_DEFAULT_DMA_MASK);
}

static int parse_u64(const char *s, char **end, uint64_t *v)
{
    unsigned long long x;

    if (*s == '-' || *s == '\0')
        return -EINVAL;
    errno = 0;
    x = strtoull(s, end, 0);
    if (errno || *end == s)
        return -EINVAL;
    *v = x;
    return 0;
}

static int parse_num(const char *s, uint64_t *v)
{
    char *end;

    if (parse_u64(s, &end, v) || *end)
        return -EINVAL;
    return 0;
}

static int parse_fd(const char *s, int *fd)
{
    uint64_t v;

    if (parse_num(s, &v) || v > INT_MAX)
        return -EINVAL;
    *fd = (int)v;
    return 0;
}

static int parse_window(const char *s, struct edu_opts *o)
{
    char *end;

    if (parse_u64(s, &end, &o->cq_addr) || *end != ':' ||
        parse_num(end + 1, &o->cq_size))
        return -EINVAL;
    if (!o->cq_size || o->cq_addr % EDU_CQ_PAGE_SIZE ||
        o->cq_size % EDU_CQ_PAGE_SIZE || o->cq_size - 1 > UINT64_MAX - o->cq_addr)
        return -EINVAL;
    return 0;
}

static int parse_rate(const char *s, struct edu_opts *o)
{
    uint64_t mib;

    if (parse_num(s, &mib) || mib > EDU_CQ_MAX_RATE / 1024)
        return -EINVAL;
    o->cq_rate = (uint32_t)(mib * 1024);
    return 0;
}

static int bad_value(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "uvfio-edu: --%s wants %s, got '%s'\n", opt, want, val);
    return -EINVAL;
}

static int parse_one(int c, const char *arg, struct options *o)
{
    switch (c) {
    case 's':
        o->socket_path = arg;
        return 0;
    case 'f':
        return parse_fd(arg, &o->fd) ?
               bad_value("fd", arg, "a file descriptor number") : 0;
    case 'm':
        return parse_num(arg, &o->edu.dma_mask) || !o->edu.dma_mask ?
               bad_value("dma-mask", arg, "a non-zero mask") : 0;
    case 'w':
        return parse_window(arg, &o->edu) ?
               bad_value("cq-window", arg, "IOVA:SIZE, both 4 KiB aligned") : 0;
    case 'r':
        return parse_rate(arg, &o->edu) ?
               bad_value("cq-rate", arg, "MiB/s from 0 to 16384") : 0;
    case 'v':
        o->edu.verbose = true;
        return 0;
    case 'h':
        usage(stdout);
        exit(EXIT_SUCCESS);
    default:
        return -EINVAL;
    }
}

static int check_args(struct options *o)
{
    if (!o->socket_path == (o->fd < 0)) {
        fprintf(stderr, "uvfio-edu: give exactly one of --socket-path=PATH "
                "and --fd=N\n");
        return -EINVAL;
    }
    if (o->fd >= 0 && fcntl(o->fd, F_GETFD) < 0) {
        fprintf(stderr, "uvfio-edu: --fd=%d is not an open file descriptor "
                "(did the parent pass it on?)\n", o->fd);
        return -EINVAL;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "socket-path", required_argument, NULL, 's' },
        { "fd", required_argument, NULL, 'f' },
        { "dma-mask", required_argument, NULL, 'm' },
        { "cq-window", required_argument, NULL, 'w' },
        { "cq-rate", required_argument, NULL, 'r' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct options){ .fd = -1 };
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1)
        if (parse_one(c, optarg, o))
            return -EINVAL;
    if (optind < argc) {
        fprintf(stderr, "uvfio-edu: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    return check_args(o);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (running_server)
        uvfio_server_stop(running_server);
}

/* SIGPIPE would kill us when a client goes away; that is handled where
 * the write fails. */
static int install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int add_device(struct uvfio_server *srv, struct uvfio_device *dev,
                      const struct options *o)
{
    int ret;

    if (o->socket_path)
        ret = uvfio_server_add_device(srv, dev, o->socket_path);
    else
        ret = uvfio_server_add_device_fd(srv, dev, o->fd);
    if (!ret && o->socket_path)
        fprintf(stderr, "uvfio-edu: listening on %s\n", o->socket_path);
    else if (ret && o->socket_path)
        fprintf(stderr, "uvfio-edu: cannot listen on %s: %s%s\n",
                o->socket_path, strerror(-ret),
                ret == -EEXIST ? " (a file that is not a socket is in the "
                "way: remove it or choose another path)" : "");
    else if (ret)
        fprintf(stderr, "uvfio-edu: cannot serve on fd %d: %s\n", o->fd,
                strerror(-ret));
    return ret;
}

static int serve(struct uvfio_server *srv, struct edu *e,
                 const struct options *o)
{
    struct uvfio_device *dev = edu_device(e);
    int ret;

    running_server = srv;
    ret = add_device(srv, dev, o);
    if (ret) {
        running_server = NULL;
        return ret;
    }
    /* a signal that came before the handler could reach the server */
    ret = stop_requested ? 0 : uvfio_server_run(srv);
    running_server = NULL;
    if (ret)
        fprintf(stderr, "uvfio-edu: server stopped: %s\n", strerror(-ret));
    uvfio_server_remove_device(srv, dev);
    return ret;
}

static int run(const struct options *o)
{
    struct uvfio_server_opts so = {
        .log_level = o->edu.verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN,
    };
    struct uvfio_server *srv;
    struct edu *e;
    int ret;

    ret = edu_create(&o->edu, &e);
    if (ret) {
        fprintf(stderr, "uvfio-edu: cannot create the device: %s\n",
                strerror(-ret));
        return ret;
    }
    ret = uvfio_server_create(&so, &srv);
    if (ret) {
        fprintf(stderr, "uvfio-edu: cannot create the server: %s\n",
                strerror(-ret));
        edu_destroy(e);
        return ret;
    }
    ret = serve(srv, e, o);
    uvfio_server_destroy(srv);
    edu_destroy(e);
    return ret;
}

int main(int argc, char **argv)
{
    struct options o;

    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "Try 'uvfio-edu --help'.\n");
        return EXIT_USAGE;
    }
    uvfio_log_set_level(o.edu.verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN);
    if (install_signals()) {
        perror("uvfio-edu: sigaction");
        return EXIT_FAILURE;
    }
    return run(&o) ? EXIT_FAILURE : EXIT_SUCCESS;
}
