// SPDX-License-Identifier: MIT
/*
 * uvfio-serial - a PCI 16550A UART served over vfio-user.
 *
 * Follows the vfio-user backend program conventions: --socket-path=PATH
 * or --fd=N, stays in the foreground, exits cleanly (status 0, socket
 * removed) on SIGTERM or SIGINT.  See docs/uvfio-serial.md.
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

#include "chardev.h"
#include "serial.h"

#define EXIT_USAGE 2

struct options {
    const char *socket_path;
    int fd;
    const char *chardev;
    bool verbose;
};

/* The per-client limits (--max-xfer=... etc., docs/robustness.md). */
static struct uvfio_server_opts server_opts;
static struct uvfio_server *volatile running_server;
static volatile sig_atomic_t stop_requested;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvfio-serial --socket-path=PATH | --fd=N [options]\n"
        "\n"
        "A PCI 16550A UART (1b36:0002, as QEMU's pci-serial) served over\n"
        "vfio-user.\n"
        "\n"
        "  --socket-path=PATH  listen on a new UNIX socket at PATH (mode 0600)\n"
        "  --fd=N              serve on inherited socket fd N (listening or\n"
        "                      already connected)\n"
        "  --chardev=SPEC      the UART's line: stdio (default), null, pty,\n"
        "                      file:PATH, pipe:PATH (PATH.in/PATH.out FIFOs)\n"
        "  -v, --verbose       log every protocol event (debug level)\n"
        "  -h, --help          this text\n"
        "\n"
        "Limits per client:\n");
    fputs(uvfio_server_opts_help(), f);
    fprintf(f,
        "\n"
        "Exit status: 0 after SIGTERM/SIGINT, 1 on a run-time error,\n"
        "2 on bad usage.\n");
}

static int parse_fd(const char *s, int *fd)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > INT_MAX)
        return -EINVAL;
    *fd = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "socket-path", required_argument, NULL, 's' },
        { "fd", required_argument, NULL, 'f' },
        { "chardev", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct options){ .fd = -1, .chardev = "stdio" };
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->socket_path = optarg;
            break;
        case 'f':
            if (parse_fd(optarg, &o->fd)) {
                fprintf(stderr, "uvfio-serial: --fd wants a file descriptor "
                        "number, got '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        case 'c':
            o->chardev = optarg;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "uvfio-serial: unexpected argument '%s'\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->socket_path == (o->fd < 0)) {
        fprintf(stderr, "uvfio-serial: give exactly one of --socket-path=PATH "
                "and --fd=N\n");
        return -EINVAL;
    }
    if (o->fd >= 0 && fcntl(o->fd, F_GETFD) < 0) {
        fprintf(stderr, "uvfio-serial: --fd=%d is not an open file descriptor "
                "(did the parent pass it on?)\n", o->fd);
        return -EINVAL;
    }
    return 0;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (running_server)
        uvfio_server_stop(running_server);
}

/* SIGPIPE would kill us when a client or a chardev reader goes away; both
 * are handled where the write fails. */
static int install_signals(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int open_chardev(const char *spec, struct chardev **cd)
{
    int ret = chardev_open(spec, cd);

    if (ret == -EINVAL)
        fprintf(stderr, "uvfio-serial: unknown --chardev '%s': use stdio, "
                "null, pty, file:PATH or pipe:PATH\n", spec);
    else if (ret)
        fprintf(stderr, "uvfio-serial: cannot open --chardev '%s': %s\n",
                spec, strerror(-ret));
    else if (chardev_pty_name(*cd))
        fprintf(stderr, "uvfio-serial: chardev pty: %s\n",
                chardev_pty_name(*cd));
    return ret;
}

static int serve(struct uvfio_server *srv, struct serial *s,
                 const struct options *o)
{
    struct uvfio_device *dev = serial_device(s);
    int ret;

    running_server = srv;
    if (o->socket_path)
        ret = uvfio_server_add_device(srv, dev, o->socket_path);
    else
        ret = uvfio_server_add_device_fd(srv, dev, o->fd);
    if (ret) {
        if (o->socket_path)
            fprintf(stderr, "uvfio-serial: cannot listen on %s: %s%s\n",
                    o->socket_path, strerror(-ret),
                    ret == -EEXIST ? " (a file that is not a socket is in "
                    "the way: remove it or choose another path)" : "");
        else
            fprintf(stderr, "uvfio-serial: cannot serve on fd %d: %s\n",
                    o->fd, strerror(-ret));
        running_server = NULL;
        return ret;
    }
    if (o->socket_path)
        fprintf(stderr, "uvfio-serial: listening on %s\n", o->socket_path);
    /* a signal that came before the handler could reach the server */
    ret = stop_requested ? 0 : uvfio_server_run(srv);
    running_server = NULL;
    if (ret)
        fprintf(stderr, "uvfio-serial: server stopped: %s\n", strerror(-ret));
    uvfio_server_remove_device(srv, dev);
    return ret;
}

static int run(const struct options *o)
{
    struct uvfio_server_opts so = server_opts;
    struct uvfio_server *srv;
    struct chardev *cd;
    struct serial *s;
    int ret;

    so.log_level = o->verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN;
    ret = open_chardev(o->chardev, &cd);
    if (ret)
        return ret;
    ret = serial_create(cd, &s);
    if (ret) {
        fprintf(stderr, "uvfio-serial: cannot create the device: %s\n",
                strerror(-ret));
        return ret;
    }
    ret = uvfio_server_create(&so, &srv);
    if (ret) {
        fprintf(stderr, "uvfio-serial: cannot create the server: %s\n",
                strerror(-ret));
        serial_destroy(s);
        return ret;
    }
    ret = serve(srv, s, o);
    uvfio_server_destroy(srv);
    serial_destroy(s);
    return ret;
}

int main(int argc, char **argv)
{
    const char *bad = NULL;
    struct options o;

    if (uvfio_server_opts_parse_args(&server_opts, &argc, argv, &bad)) {
        fprintf(stderr, "uvfio-serial: bad value in '%s'\n", bad);
        fprintf(stderr, "Try 'uvfio-serial --help'.\n");
        return EXIT_USAGE;
    }
    if (parse_args(argc, argv, &o)) {
        fprintf(stderr, "Try 'uvfio-serial --help'.\n");
        return EXIT_USAGE;
    }
    uvfio_log_set_level(o.verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN);
    if (install_signals()) {
        perror("uvfio-serial: sigaction");
        return EXIT_FAILURE;
    }
    return run(&o) ? EXIT_FAILURE : EXIT_SUCCESS;
}
