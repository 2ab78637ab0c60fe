// SPDX-License-Identifier: MIT
/*
 * tests/core/test_devset.c - device sets: membership by devset_id, the
 * set lock around open/close/reset, uvfio_device_set_for_each and the
 * set-wide (hot) reset.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fake.h"

static const int set_a, set_b;          /* their addresses are the ids */

struct collect {
    struct uvfio_device *seen[8];
    int n;
    int stop_at;                        /* return 1 at this member, or -1 */
};

static int collect_cb(struct uvfio_device *m, void *opaque)
{
    struct collect *c = opaque;

    c->seen[c->n++] = m;
    return c->n == c->stop_at ? 1 : 0;
}

static void test_membership(void **state)
{
    struct fake f[4] = { { 0 } };
    struct uvfio_device *a1, *a2, *b1, *solo, *a3;
    struct collect c = { .stop_at = -1 };

    (void)state;
    a1 = fake_create(&f[0], NULL, false, 1, 0, &set_a);
    b1 = fake_create(&f[1], NULL, false, 1, 0, &set_b);
    a2 = fake_create(&f[2], NULL, false, 1, 0, &set_a);
    solo = fake_create(&f[3], NULL, false, 1, 0, NULL);

    assert_int_equal(uvfio_device_set_for_each(a2, collect_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_ptr_equal(c.seen[0], a1);    /* creation order */
    assert_ptr_equal(c.seen[1], a2);

    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    assert_int_equal(uvfio_device_set_for_each(b1, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_ptr_equal(c.seen[0], b1);
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    assert_int_equal(uvfio_device_set_for_each(solo, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);

    /* The first non-zero return stops the walk and is returned. */
    memset(&c, 0, sizeof(c));
    c.stop_at = 1;
    assert_int_equal(uvfio_device_set_for_each(a1, collect_cb, &c), 1);
    assert_int_equal(c.n, 1);
    assert_int_equal(uvfio_device_set_for_each(NULL, collect_cb, &c),
                     -EINVAL);
    assert_int_equal(uvfio_device_set_for_each(a1, NULL, &c), -EINVAL);

    /* Leaving keeps the rest; an emptied set is gone and a new device
     * with the same id starts a new one. */
    uvfio_device_destroy(a1);
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    assert_int_equal(uvfio_device_set_for_each(a2, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_ptr_equal(c.seen[0], a2);
    uvfio_device_destroy(a2);
    a3 = fake_create(&f[0], NULL, false, 1, 0, &set_a);
    memset(&c, 0, sizeof(c));
    c.stop_at = -1;
    assert_int_equal(uvfio_device_set_for_each(a3, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);

    uvfio_device_destroy(a3);
    uvfio_device_destroy(b1);
    uvfio_device_destroy(solo);
}

/* ---- decisions under the set lock -------------------------------------- */

static struct uvfio_device *pair[2];

static int count_open_cb(struct uvfio_device *m, void *opaque)
{
    *(unsigned int *)opaque += uvfio_device_open_count(m);
    return 0;
}

/* open_device asks "is a sibling open?", the question the lock is for. */
static int open_checks_siblings(struct fake *ff)
{
    unsigned int open = 0;

    assert_int_equal(uvfio_device_set_for_each(ff->dev, count_open_cb, &open),
                     0);
    /* This device counts itself as attaching already. */
    return open > 1 ? -EBUSY : 0;
}

static void test_open_sees_siblings(void **state)
{
    struct fake f[2] = { { 0 } };
    struct fake_client c0, c1;

    (void)state;
    fake_client_init(&c0, 0, 0, 4096, 8);
    fake_client_init(&c1, 0, 0, 4096, 8);
    f[0].on_open = open_checks_siblings;
    f[1].on_open = open_checks_siblings;
    pair[0] = fake_create(&f[0], NULL, false, 1, 0, &set_a);
    pair[1] = fake_create(&f[1], NULL, false, 1, 0, &set_a);
    assert_int_equal(uvfio_core_attach(pair[0], &c0.cl), 0);
    assert_int_equal(uvfio_core_attach(pair[1], &c1.cl), -EBUSY);
    assert_int_equal(uvfio_device_open_count(pair[1]), 0);
    uvfio_core_detach(pair[0]);
    assert_int_equal(uvfio_core_attach(pair[1], &c1.cl), 0);
    uvfio_core_detach(pair[1]);
    uvfio_device_destroy(pair[0]);
    uvfio_device_destroy(pair[1]);
}

/* Two threads attaching and detaching siblings: their open/close ops
 * never run at the same time. */
static atomic_int in_op;
static atomic_int overlaps;

static int slow_open(struct fake *ff)
{
    (void)ff;
    if (atomic_fetch_add(&in_op, 1) != 0)
        atomic_fetch_add(&overlaps, 1);
    usleep(200);
    atomic_fetch_sub(&in_op, 1);
    return 0;
}

static void slow_close(struct fake *ff)
{
    slow_open(ff);
}

static void *attach_loop(void *arg)
{
    struct uvfio_device *d = arg;
    struct fake_client c;
    int i;

    fake_client_init(&c, 0, 0, 4096, 8);
    for (i = 0; i < 100; i++) {
        assert_int_equal(uvfio_core_attach(d, &c.cl), 0);
        uvfio_core_detach(d);
    }
    return NULL;
}

static void test_set_lock_serializes(void **state)
{
    struct fake f[2] = { { 0 } };
    pthread_t th[2];
    int i;

    (void)state;
    atomic_store(&overlaps, 0);
    for (i = 0; i < 2; i++) {
        f[i].on_open = slow_open;
        f[i].on_close = slow_close;
        pair[i] = fake_create(&f[i], NULL, false, 1, 0, &set_b);
    }
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, attach_loop, pair[i]),
                         0);
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&overlaps), 0);
    assert_int_equal(f[0].opens, 100);
    assert_int_equal(f[1].closes, 100);
    for (i = 0; i < 2; i++)
        uvfio_device_destroy(pair[i]);
}

/* ---- hot reset --------------------------------------------------------- */

static void test_set_reset(void **state)
{
    struct uvfio_irq_config ic = { .count = 1,
                                   .flags = UVFIO_IRQ_INFO_MASKABLE };
    struct uvfio_wire_irq_set mask = {
        .argsz = 20, .index = 0, .start = 0, .count = 1,
        .flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK,
    };
    struct uvfio_wire_irq_set trig = {
        .argsz = 20, .index = 0, .start = 0, .count = 1,
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
    };
    struct uvfio_device_ops no_reset = fake_ops;
    struct fake f[3] = { { 0 } };
    struct uvfio_device *d[3];
    struct fake_client c;
    int efd = efd_new(), fd, i;

    (void)state;
    no_reset.reset = NULL;
    fake_client_init(&c, 0, 0, 4096, 8);
    d[0] = fake_create(&f[0], NULL, false, 1, 1, &set_a);
    d[1] = fake_create(&f[1], NULL, false, 1, 1, &set_a);
    d[2] = fake_create(&f[2], &no_reset, false, 1, 1, &set_a);
    for (i = 0; i < 3; i++)
        assert_int_equal(uvfio_device_set_irq(d[i], 0, &ic), 0);

    /* A sibling in use blocks it; the caller's own client does not. */
    assert_int_equal(uvfio_core_attach(d[1], &c.cl), 0);
    assert_int_equal(uvfio_device_set_reset(d[0]), -EBUSY);
    assert_int_equal(f[0].resets + f[1].resets, 0);
    assert_int_equal(uvfio_device_set_reset(d[1]), 0);
    assert_int_equal(f[0].resets, 1);
    assert_int_equal(f[1].resets, 1);

    /* Every member, even one without its own reset op, loses its IRQ
     * state; a failing member does not stop the others. */
    fd = fd_dup(efd);
    assert_int_equal(uvfio_core_set_irqs(d[2], &trig, NULL, 0, &fd, 1), 0);
    assert_int_equal(uvfio_core_set_irqs(d[2], &mask, NULL, 0, NULL, 0), 0);
    assert_int_equal(uvfio_irq_trigger(d[2], 0, 0), 0);
    f[0].reset_ret = -EIO;
    assert_int_equal(uvfio_device_set_reset(d[1]), -EIO);
    assert_int_equal(f[0].resets, 2);
    assert_int_equal(f[1].resets, 2);
    assert_int_equal(uvfio_irq_trigger(d[2], 0, 0), 0);
    assert_int_equal(efd_read(efd), 1);
    assert_int_equal(uvfio_device_set_reset(NULL), -EINVAL);

    uvfio_core_detach(d[1]);
    for (i = 0; i < 3; i++)
        uvfio_device_destroy(d[i]);
    close(efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_open_sees_siblings),
        cmocka_unit_test(test_set_lock_serializes),
        cmocka_unit_test(test_set_reset),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
