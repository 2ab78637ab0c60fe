/* SPDX-License-Identifier: MIT */
/*
 * uvfio/server.h - serving devices to vfio-user clients.
 *
 * One listening socket per device, any number of devices per server, one
 * client per device at a time.  The loop is an epoll set: run it on its own
 * (uvfio_server_run) or embed it in the caller's loop by polling
 * uvfio_server_fd() and calling uvfio_server_dispatch(srv, 0) when it is
 * readable, as with libuv's embeddable backend fd.
 *
 * When a client disconnects its DMA maps and IRQ eventfds are dropped, the
 * device state is kept, and the socket accepts the next client.
 */
#ifndef UVFIO_SERVER_H
#define UVFIO_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/device.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvfio_server;

/* Limits applied to every client; 0 = the default in brackets. */
struct uvfio_server_opts {
    uint32_t max_msg_fds;           /* fds per message [16] */
    uint64_t max_data_xfer_size;    /* offered; client may lower [1 MiB],
                                       at most 64 MiB */
    uint32_t max_dma_maps;          /* per client [65535] */
    uint64_t max_queued_reply_bytes;/* per client, before it is dropped as
                                       not reading [max_data_xfer + 1 MiB] */
    int log_level;                  /* UVFIO_LOG_* (uvfio.h) [WARN] */
    /* (Added for robustness, docs/robustness.md.)  How long a DMA_READ or
     * DMA_WRITE to the client waits for its reply before failing with
     * EIO [10000].  A driver that does message-path DMA inside a command
     * handler holds the whole loop - every device of this server - for up
     * to this long when its client does not answer. */
    uint32_t dma_timeout_ms;
    /* (Added for issue 2's latency figure.)  UVFIO_SERVER_* below. */
    uint32_t flags;
};

/*
 * uvfio_server_run() waits on io_uring when the kernel allows it (a
 * DEFER_TASKRUN ring, Linux >= 6.1: a small request's round trip is
 * ~300 ns shorter than with epoll) and on epoll otherwise.  This flag, the
 * option --no-io-uring, or UVFIO_NO_IO_URING=1 in the environment ask for
 * epoll regardless.  On the ring the server also reads its clients'
 * requests inside the wait (multishot receives, Linux >= 6.0: one
 * syscall per small request instead of two); UVFIO_NO_RING_RECV=1 in the
 * environment has the ring poll the sockets instead.  The embedded loop
 * (uvfio_server_fd + dispatch) is always epoll.
 */
#define UVFIO_SERVER_NO_IO_URING    (1u << 0)

/*
 * (Added for robustness.)  The limits above as command-line options, so
 * every program spells them the same way:
 *
 *   --max-msg-fds=N  --max-xfer=SIZE  --max-dma-maps=N
 *   --max-queued-bytes=SIZE  --dma-timeout-ms=N  --no-io-uring
 *
 * SIZE may end in K, M or G (powers of 1024).  parse_arg looks at one
 * argument: 1 when it was one of these (stored in *opts), 0 when it is
 * not, -EINVAL for a malformed value, -ERANGE for one out of bounds.
 * parse_args takes those out of argv (argv[0] stays), shifting the rest
 * down and updating *argc, and stops at the first bad one, pointing *bad
 * at it.  help is the text describing them, for a program's --help.
 */
UVFIO_API int uvfio_server_opts_parse_arg(struct uvfio_server_opts *opts,
                                          const char *arg);
UVFIO_API int uvfio_server_opts_parse_args(struct uvfio_server_opts *opts,
                                           int *argc, char **argv,
                                           const char **bad);
UVFIO_API const char *uvfio_server_opts_help(void);

UVFIO_API int uvfio_server_create(const struct uvfio_server_opts *opts,
                                  struct uvfio_server **out);
/* Stops listening, disconnects clients (close_device runs), frees the
 * server; devices stay the caller's. */
UVFIO_API void uvfio_server_destroy(struct uvfio_server *srv);

/* Serve `dev` on a new UNIX socket at `path` (created mode 0600; an
 * existing socket file at path is replaced, any other file is -EEXIST). */
UVFIO_API int uvfio_server_add_device(struct uvfio_server *srv,
                                      struct uvfio_device *dev,
                                      const char *path);
/* Serve `dev` on an fd the caller got from elsewhere (--fd=N): either a
 * listening socket or one already connected to the client.  The server
 * owns the fd from then on. */
UVFIO_API int uvfio_server_add_device_fd(struct uvfio_server *srv,
                                         struct uvfio_device *dev, int fd);
/* Stop serving `dev` (its client is disconnected, its socket removed). */
UVFIO_API int uvfio_server_remove_device(struct uvfio_server *srv,
                                         struct uvfio_device *dev);

/* The epoll fd to poll for readability when embedding. */
UVFIO_API int uvfio_server_fd(const struct uvfio_server *srv);
/* Wait up to timeout_ms (-1: forever, 0: don't) and handle what is ready.
 * Returns the number of events handled or -errno. */
UVFIO_API int uvfio_server_dispatch(struct uvfio_server *srv, int timeout_ms);
/* Dispatch until uvfio_server_stop(); returns 0 or -errno. */
UVFIO_API int uvfio_server_run(struct uvfio_server *srv);
/* Make uvfio_server_run return.  Async-signal-safe and thread-safe. */
UVFIO_API void uvfio_server_stop(struct uvfio_server *srv);

/*
 * (Added for the device programs.)  The vfio-user backend program
 * conventions, once for every program that serves one device:
 *
 *   NAME --socket-path=PATH | --fd=N [-v|--verbose] [-h|--help]
 *        [the limits, --max-xfer=SIZE...] [the program's own options]
 *
 * and SIGTERM or SIGINT ending it with status 0 and its socket removed.
 * The program fills in the first part of struct uvfio_backend, calls
 * uvfio_backend_parse, creates its device, and hands it to
 * uvfio_backend_run.  Every message starts with "NAME: "; the only one a
 * good run prints is "NAME: listening on PATH" (none with --fd).
 */
#define UVFIO_BACKEND_EXIT_FAILURE  1   /* a run-time error */
#define UVFIO_BACKEND_EXIT_USAGE    2   /* bad usage */
#define UVFIO_BACKEND_MAX_OPTIONS   32  /* program options at most */

struct uvfio_backend_option {
    const char *name;           /* long name without "--"; NULL ends a list */
    int has_arg;                /* 1: --name=VALUE or --name VALUE */
    int key;                    /* handed to parse_option */
    /* What a good value looks like, for "NAME: --name wants WANT, got
     * 'VALUE'" when parse_option refuses it; NULL: parse_option says
     * why itself. */
    const char *want;
};

struct uvfio_backend {
    /* Set by the program. */
    const char *name;           /* "uvfio-serial" */
    const char *about;          /* the --help paragraph(s) saying what it
                                   serves, each line ending in '\n' */
    const char *options_help;   /* its options' --help lines, the text at
                                   column 27 as uvfio_server_opts_help();
                                   NULL: none */
    const char *verbose_help;   /* NULL: "log every protocol event (debug
                                   level)" */
    const struct uvfio_backend_option *options;     /* NULL: none */
    /* 0 when `arg` (NULL for a flag) is good, -errno when not. */
    int (*parse_option)(void *ctx, int key, const char *arg);
    void *ctx;

    /* Filled in by uvfio_backend_parse. */
    const char *socket_path;    /* NULL with --fd */
    int fd;                     /* -1 with --socket-path */
    bool verbose;
    struct uvfio_server_opts server_opts;
};

/*
 * Parse argv (getopt_long rules: "--opt=V" or "--opt V", "--" ends the
 * options; argv is permuted; the limits take the "=" form only) and set
 * the library's log level (DEBUG with --verbose, else WARN), so that
 * creating the device already logs at it.  Returns 0 to go on; 1 when
 * --help was printed on stdout (exit 0); -EINVAL for bad usage, said on
 * stderr with a "Try 'NAME --help'." line (exit UVFIO_BACKEND_EXIT_USAGE).
 * --fd=N must be open already.
 */
UVFIO_API int uvfio_backend_parse(struct uvfio_backend *b, int argc,
                                  char **argv);
/*
 * Serve `dev` as parsed until SIGTERM or SIGINT: handlers for both are
 * installed, and both unblocked, for the time of the call (what was there
 * before is put back after); SIGPIPE is ignored from then on.  The device
 * is the caller's again when it returns: 0 after a signal, -errno after a
 * failure it said on stderr (exit UVFIO_BACKEND_EXIT_FAILURE).  One at a
 * time per process: -EBUSY.
 */
UVFIO_API int uvfio_backend_run(struct uvfio_backend *b,
                                struct uvfio_device *dev);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_SERVER_H */
