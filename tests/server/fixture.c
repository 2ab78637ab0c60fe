// SPDX-License-Identifier: MIT
/*
 * tests/server/fixture.c - a server with test devices, run in a thread.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

int64_t fx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *run_thread(void *arg)
{
    struct fixture *fx = arg;

    fx->run_result = uvfio_server_run(fx->srv);
    return NULL;
}

int fx_start(struct fixture *fx, const struct uvfio_server_opts *opts,
             int ndev, bool thread)
{
    char name[32];
    int i, r;

    memset(fx, 0, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/uvfio-srv-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -errno;
    r = uvfio_server_create(opts, &fx->srv);
    if (r < 0)
        return r;
    for (i = 0; i < ndev; i++) {
        snprintf(name, sizeof(name), "td%d", i);
        snprintf(fx->path[i], sizeof(fx->path[i]), "%s/dev%d.sock", fx->dir,
                 i);
        r = testdev_create(&fx->td[i], name);
        if (r < 0)
            return r;
        fx->ndev = i + 1;
        r = uvfio_server_add_device(fx->srv, fx->td[i].dev, fx->path[i]);
        if (r < 0)
            return r;
    }
    if (thread) {
        r = -pthread_create(&fx->thread, NULL, run_thread, fx);
        fx->running = r == 0;
    }
    return r;
}

void fx_stop(struct fixture *fx)
{
    int i;

    if (fx->running) {
        uvfio_server_stop(fx->srv);
        pthread_join(fx->thread, NULL);
        assert_int_equal(fx->run_result, 0);
    }
    uvfio_server_destroy(fx->srv);
    for (i = 0; i < fx->ndev; i++) {
        testdev_destroy(&fx->td[i]);
        unlink(fx->path[i]);
    }
    rmdir(fx->dir);
    memset(fx, 0, sizeof(*fx));
}

bool fx_wait(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = fx_now_ms() + timeout_ms;

    while (!cond(arg)) {
        if (fx_now_ms() > deadline)
            return false;
        usleep(2000);
    }
    return true;
}

struct open_wait {
    struct uvfio_device *dev;
    unsigned int n;
};

static bool open_is(void *arg)
{
    struct open_wait *w = arg;

    return uvfio_device_open_count(w->dev) == w->n;
}

bool fx_wait_open(struct uvfio_device *dev, unsigned int n, int timeout_ms)
{
    struct open_wait w = { dev, n };

    return fx_wait(open_is, &w, timeout_ms);
}

int fx_count_fds(void)
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
    return n - 1;       /* the DIR's own fd */
}

void fx_client(struct fixture *fx, int dev, struct tclient *tc)
{
    assert_int_equal(tc_connect(tc, fx->path[dev]), 0);
    assert_int_equal(tc_hello(tc, false, false), 0);
}
