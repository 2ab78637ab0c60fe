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
};

/*
 * (Added for robustness.)  The limits above as command-line options, so
 * every program spells them the same way:
 *
 *   --max-msg-fds=N  --max-xfer=SIZE  --max-dma-maps=N
 *   --max-queued-bytes=SIZE  --dma-timeout-ms=N
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

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_SERVER_H */
