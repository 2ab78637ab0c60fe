/* SPDX-License-Identifier: MIT */
/*
 * tests/server/fixture.h - a server with test devices, run in a thread.
 */
#ifndef TESTS_SERVER_FIXTURE_H
#define TESTS_SERVER_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>

#include <uvfio/server.h>

#include "tclient.h"
#include "testdev.h"

#define FX_MAX_DEVS 3

struct fixture {
    char dir[64];
    char path[FX_MAX_DEVS][128];
    struct testdev td[FX_MAX_DEVS];
    int ndev;
    struct uvfio_server *srv;
    pthread_t thread;
    bool running;
    int run_result;
};

/* Create the server (opts may be NULL) and `ndev` devices listening in a
 * fresh directory; start uvfio_server_run in a thread unless !thread. */
int fx_start(struct fixture *fx, const struct uvfio_server_opts *opts,
             int ndev, bool thread);
/* Stop the thread, destroy server and devices, remove the directory. */
void fx_stop(struct fixture *fx);

/* Poll `cond(arg)` every 2 ms for up to timeout_ms. */
bool fx_wait(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Wait until dev has `n` clients attached. */
bool fx_wait_open(struct uvfio_device *dev, unsigned int n, int timeout_ms);

/* Open fds of this process (for leak checks). */
int fx_count_fds(void);
int64_t fx_now_ms(void);

/* Connect and negotiate: 0.2 / spec layout, no twin socket. */
void fx_client(struct fixture *fx, int dev, struct tclient *tc);

#endif /* TESTS_SERVER_FIXTURE_H */
