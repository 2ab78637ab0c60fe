// SPDX-License-Identifier: MIT
/*
 * server/backend.c - a device program's life once its arguments are
 * parsed (uvfio_backend_run in <uvfio/server.h>): serve one device on the
 * path or fd it was given until SIGTERM or SIGINT, then leave nothing
 * behind - socket removed, client disconnected, exit status 0 - since a
 * VMM or a test that stops a backend expects it gone without a trace.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <uvfio/uvfio.h>

/* What the signal handler reaches: the server being run (NULL before
 * and after), and whether a stop came before there was one. */
static _Atomic(struct uvfio_server *) running_server;
static volatile sig_atomic_t stop_requested;
static atomic_bool busy;

struct saved_signals {
    struct sigaction term, intr;
    sigset_t mask;
};

static void on_stop_signal(int sig)
{
    struct uvfio_server *srv = atomic_load(&running_server);

    (void)sig;
    stop_requested = 1;
    /* async-signal-safe: one write to an eventfd */
    if (srv)
        uvfio_server_stop(srv);
}

/*
 * SIGPIPE would kill the program when a client goes away mid-reply; that
 * is handled where the write fails.  A parent may have left SIGTERM or
 * SIGINT blocked (they are inherited through exec): then we would never
 * stop, so they are unblocked for the time of the run.
 */
static int install_signals(struct saved_signals *old)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigset_t stops;

    sigemptyset(&sa.sa_mask);
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    if (sigaction(SIGTERM, &sa, &old->term))
        return -errno;
    if (sigaction(SIGINT, &sa, &old->intr)) {
        int r = -errno;

        sigaction(SIGTERM, &old->term, NULL);
        return r;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_sigmask(SIG_UNBLOCK, &stops, &old->mask);
    return 0;
}

static void restore_signals(const struct saved_signals *old)
{
    pthread_sigmask(SIG_SETMASK, &old->mask, NULL);
    sigaction(SIGINT, &old->intr, NULL);
    sigaction(SIGTERM, &old->term, NULL);
}

static int add_device(const struct uvfio_backend *b, struct uvfio_server *srv,
                      struct uvfio_device *dev)
{
    int r;

    if (!b->socket_path) {
        r = uvfio_server_add_device_fd(srv, dev, b->fd);
        if (r)
            fprintf(stderr, "%s: cannot serve on fd %d: %s\n", b->name,
                    b->fd, strerror(-r));
        return r;
    }
    r = uvfio_server_add_device(srv, dev, b->socket_path);
    if (r)
        fprintf(stderr, "%s: cannot listen on %s: %s%s\n", b->name,
                b->socket_path, strerror(-r), r == -EEXIST ?
                " (a file that is not a socket is in the way: remove it or "
                "choose another path)" : "");
    else
        fprintf(stderr, "%s: listening on %s\n", b->name, b->socket_path);
    return r;
}

/* The server is reachable from the handler from before the device is
 * added: a stop that comes while it is being added is not lost, as
 * uvfio_server_stop before uvfio_server_run makes the run return. */
static int serve(const struct uvfio_backend *b, struct uvfio_server *srv,
                 struct uvfio_device *dev)
{
    int r;

    atomic_store(&running_server, srv);
    r = add_device(b, srv, dev);
    if (!r) {
        r = stop_requested ? 0 : uvfio_server_run(srv);
        if (r)
            fprintf(stderr, "%s: server stopped: %s\n", b->name,
                    strerror(-r));
        uvfio_server_remove_device(srv, dev);
    }
    atomic_store(&running_server, NULL);
    return r;
}

static int run_server(const struct uvfio_backend *b, struct uvfio_device *dev)
{
    struct uvfio_server *srv;
    int r;

    r = uvfio_server_create(&b->server_opts, &srv);
    if (r) {
        fprintf(stderr, "%s: cannot create the server: %s\n", b->name,
                strerror(-r));
        return r;
    }
    r = serve(b, srv, dev);
    uvfio_server_destroy(srv);
    return r;
}

UVFIO_API int uvfio_backend_run(struct uvfio_backend *b,
                                struct uvfio_device *dev)
{
    struct saved_signals old;
    int r;

    if (!b || !b->name || !dev || !b->socket_path == (b->fd < 0))
        return -EINVAL;
    if (atomic_exchange(&busy, true))
        return -EBUSY;
    stop_requested = 0;
    r = install_signals(&old);
    if (r) {
        fprintf(stderr, "%s: cannot install the signal handlers: %s\n",
                b->name, strerror(-r));
    } else {
        r = run_server(b, dev);
        restore_signals(&old);
    }
    atomic_store(&busy, false);
    return r;
}
