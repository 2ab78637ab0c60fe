// SPDX-License-Identifier: MIT
/*
 * tests/core/test_events.c - fds a driver watches through the device's
 * epoll fd: registration errors, dispatch, callbacks that unwatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fake.h"

static struct fake f;
static struct uvfio_device *dev;

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof(f));
    dev = fake_create(&f, NULL, false, 1, 0, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uvfio_device_destroy(dev);
    return 0;
}

struct hit {
    int calls;
    int fd;
    uint32_t revents;
    struct uvfio_device *dev;
    int unwatch;                /* fd to unwatch from the callback, or -1 */
    int unwatch_ret;
};

static void hit_cb(struct uvfio_device *d, int fd, uint32_t revents,
                   void *opaque)
{
    struct hit *h = opaque;

    h->calls++;
    h->fd = fd;
    h->revents = revents;
    h->dev = d;
    efd_read(fd);
    if (h->unwatch >= 0)
        h->unwatch_ret = uvfio_device_unwatch_fd(d, h->unwatch);
}

static bool readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_watch_errors(void **state)
{
    struct hit h = { .unwatch = -1 };
    int e = efd_new(), file = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

    (void)state;
    assert_int_equal(uvfio_device_watch_fd(NULL, e, EPOLLIN, hit_cb, &h),
                     -EINVAL);
    assert_int_equal(uvfio_device_watch_fd(dev, -1, EPOLLIN, hit_cb, &h),
                     -EINVAL);
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, NULL, &h),
                     -EINVAL);
    /* epoll's own refusal: a regular file is always ready. */
    assert_true(file >= 0);
    assert_int_equal(uvfio_device_watch_fd(dev, file, EPOLLIN, hit_cb, &h),
                     -EPERM);
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, hit_cb, &h), 0);
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, hit_cb, &h),
                     -EEXIST);
    assert_int_equal(uvfio_device_unwatch_fd(dev, e), 0);
    assert_int_equal(uvfio_device_unwatch_fd(dev, e), -ENOENT);
    assert_int_equal(uvfio_device_unwatch_fd(dev, -1), -EINVAL);
    assert_int_equal(uvfio_device_unwatch_fd(NULL, e), -EINVAL);
    close(file);
    close(e);
}

static void test_dispatch(void **state)
{
    struct hit h = { .unwatch = -1 };
    int e = efd_new(), epfd = uvfio_core_event_fd(dev);

    (void)state;
    assert_true(epfd >= 0);
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, hit_cb, &h), 0);
    assert_false(readable(epfd));
    uvfio_core_dispatch_events(dev);    /* nothing ready: returns at once */
    assert_int_equal(h.calls, 0);

    efd_write(e, 1);
    assert_true(readable(epfd));
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.fd, e);
    assert_ptr_equal(h.dev, dev);
    assert_true(h.revents & EPOLLIN);
    assert_false(readable(epfd));

    /* Unwatched: writes no longer reach the callback. */
    assert_int_equal(uvfio_device_unwatch_fd(dev, e), 0);
    efd_write(e, 1);
    assert_false(readable(epfd));
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h.calls, 1);
    close(e);
}

static void test_callback_unwatches_itself(void **state)
{
    struct hit h = { .unwatch = -1 };
    int e = efd_new();

    (void)state;
    h.unwatch = e;
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, hit_cb, &h), 0);
    efd_write(e, 1);
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.unwatch_ret, 0);
    efd_write(e, 1);
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h.calls, 1);
    /* The fd can be watched again. */
    h.unwatch = -1;
    assert_int_equal(uvfio_device_watch_fd(dev, e, EPOLLIN, hit_cb, &h), 0);
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h.calls, 2);
    close(e);
}

/* Both ready in one batch; whichever runs first removes the other, which
 * must then not be called. */
static void test_callback_unwatches_other(void **state)
{
    struct hit h1 = { .unwatch = -1 }, h2 = { .unwatch = -1 };
    int e1 = efd_new(), e2 = efd_new();

    (void)state;
    h1.unwatch = e2;
    h2.unwatch = e1;
    assert_int_equal(uvfio_device_watch_fd(dev, e1, EPOLLIN, hit_cb, &h1), 0);
    assert_int_equal(uvfio_device_watch_fd(dev, e2, EPOLLIN, hit_cb, &h2), 0);
    efd_write(e1, 1);
    efd_write(e2, 1);
    uvfio_core_dispatch_events(dev);
    assert_int_equal(h1.calls + h2.calls, 1);
    assert_int_equal(h1.calls ? h1.unwatch_ret : h2.unwatch_ret, 0);
    close(e1);
    close(e2);
}

/* More ready fds than one batch: the epoll fd stays readable and the
 * next dispatch takes the rest. */
static void test_many_ready(void **state)
{
    struct hit h[40];
    int e[40], i, total = 0;

    (void)state;
    for (i = 0; i < 40; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        h[i].unwatch = -1;
        e[i] = efd_new();
        assert_int_equal(uvfio_device_watch_fd(dev, e[i], EPOLLIN, hit_cb,
                                               &h[i]), 0);
        efd_write(e[i], 1);
    }
    uvfio_core_dispatch_events(dev);
    for (i = 0; i < 40; i++)
        total += h[i].calls;
    assert_true(total > 0 && total < 40);
    assert_true(readable(uvfio_core_event_fd(dev)));
    uvfio_core_dispatch_events(dev);
    for (i = 0, total = 0; i < 40; i++) {
        assert_int_equal(h[i].calls, 1);
        total += h[i].calls;
    }
    assert_int_equal(total, 40);
    for (i = 0; i < 40; i++)
        close(e[i]);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_watch_errors),
        T(test_dispatch),
        T(test_callback_unwatches_itself),
        T(test_callback_unwatches_other),
        T(test_many_ready),
    };
#undef T

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
