/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_arcs.c - what a driver sees.  A recording driver
 * logs every arc the core asks of it; for each of the four flag sets and
 * each (from, to) pair of the 8 states, a MIG_DEVICE_STATE SET must produce
 * exactly the oracle's arc sequence, or the refusal (EINVAL, no arc at all)
 * the oracle predicts.  Then failures: an arc failing leaves the device at
 * the last good state, or in ERROR when the driver says so, and only a
 * reset leaves ERROR.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "core/mig_fsm.h"
#include "mig_util.h"
#include "oracle.h"

#define MAX_LOG 64

struct rec {
    uint32_t from[MAX_LOG], to[MAX_LOG];
    int n;
    int fail_at;            /* arc index to fail, -1 for none */
    int fail_ret;
    bool fail_broken;       /* ... and call uvfio_mig_set_error */
    int resets, aborts, driver_resets;
    bool reset_inside_arc;  /* the next arc resets its own device */
    bool set_error_in_read;
    /* Cross-thread: the arc with this index waits for `go`. */
    int block_at;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool in_block, go;
};


static int rec_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                   enum uvfio_mig_state to)
{
    struct rec *r = uvfio_device_priv(dev);
    int i = r->n;

    assert_true(r->n < MAX_LOG);
    /* The core records the new state only after the arc returns. */
    assert_int_equal(uvfio_mig_state(dev), from);
    r->from[i] = from;
    r->to[i] = to;
    r->n++;
    if (i == r->block_at) {
        pthread_mutex_lock(&r->mu);
        r->in_block = true;
        pthread_cond_broadcast(&r->cv);
        while (!r->go)
            pthread_cond_wait(&r->cv, &r->mu);
        pthread_mutex_unlock(&r->mu);
    }
    if (r->reset_inside_arc) {
        r->reset_inside_arc = false;
        assert_int_equal(uvfio_core_reset(dev), 0);
    }
    if (i == r->fail_at) {
        if (r->fail_broken)
            uvfio_mig_set_error(dev);
        return r->fail_ret;
    }
    return 0;
}

static ssize_t rec_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct rec *r = uvfio_device_priv(dev);

    (void)buf;
    (void)len;
    if (r->set_error_in_read)
        uvfio_mig_set_error(dev);
    return 0;
}

static int rec_resume_write(struct uvfio_device *dev, const void *buf,
                            size_t len)
{
    (void)dev;
    (void)buf;
    (void)len;
    return 0;
}

static int rec_data_size(struct uvfio_device *dev, uint64_t *len)
{
    (void)dev;
    *len = 4242;
    return 0;
}

static int rec_precopy_info(struct uvfio_device *dev, uint64_t *i,
                            uint64_t *d)
{
    (void)dev;
    *i = 0;
    *d = 0;
    return 0;
}

static void rec_stream_abort(struct uvfio_device *dev)
{
    struct rec *r = uvfio_device_priv(dev);

    r->aborts++;
}

static void rec_mig_reset(struct uvfio_device *dev)
{
    struct rec *r = uvfio_device_priv(dev);

    /* The core forced RUNNING before telling the driver. */
    assert_int_equal(uvfio_mig_state(dev), UVFIO_MIG_STATE_RUNNING);
    r->resets++;
}

static int rec_dev_reset(struct uvfio_device *dev)
{
    struct rec *r = uvfio_device_priv(dev);

    r->driver_resets++;
    return 0;
}

static const struct uvfio_migration_ops rec_mig_ops = {
    .arc = rec_arc,
    .save_read = rec_save_read,
    .resume_write = rec_resume_write,
    .get_data_size = rec_data_size,
    .precopy_info = rec_precopy_info,
    .stream_abort = rec_stream_abort,
    .reset = rec_mig_reset,
};

static const struct uvfio_device_ops rec_ops = {
    .name = "recorder",
    .reset = rec_dev_reset,
};

static struct uvfio_device *rec_create(struct rec *r, uint64_t flags)
{
    struct uvfio_device_config cfg = {
        .name = "recorder", .ops = &rec_ops, .num_regions = 1,
        .num_irqs = 1, .mig_ops = &rec_mig_ops, .migration_flags = flags,
        .priv = r,
    };
    struct uvfio_device *dev = NULL;

    memset(r, 0, sizeof(*r));
    r->fail_at = -1;
    r->block_at = -1;
    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    return dev;
}

static void rec_clear(struct rec *r)
{
    r->n = 0;
    r->fail_at = -1;
    r->fail_broken = false;
}

/* Bring the device to `s` from wherever it is (reset first). */
static void rec_goto(struct uvfio_device *dev, struct rec *r, uint32_t s)
{
    assert_int_equal(uvfio_core_reset(dev), 0);
    rec_clear(r);
    assert_int_equal(mt_set_state(dev, s), 0);
    assert_int_equal(mt_get_state(dev), (int)s);
    rec_clear(r);
}

static void assert_log(const struct rec *r, uint32_t from,
                       const uint32_t *route, int n)
{
    int i;

    if (r->n != n) {
        fprintf(stderr, "driver saw %d arcs:", r->n);
        for (i = 0; i < r->n; i++)
            fprintf(stderr, " %s->%s", oracle_state_name(r->from[i]),
                    oracle_state_name(r->to[i]));
        fprintf(stderr, "\n");
    }
    assert_int_equal(r->n, n);
    for (i = 0; i < n; i++) {
        assert_int_equal(r->from[i], i ? route[i - 1] : from);
        assert_int_equal(r->to[i], route[i]);
    }
}

/* After a successful SET to `s`: reads work only in a saving state (on the
 * stream that state's route opened), writes only in RESUMING. */
static void assert_stream_matches_state(struct uvfio_device *dev, uint32_t s)
{
    uint8_t b = 0;
    ssize_t rd = mt_read(dev, &b, 1);
    int wr = mt_write(dev, &b, 1);

    if (uvfio_mig_state_saving(s))
        assert_int_equal(rd, 0);
    else
        assert_true(rd == -EINVAL || rd == -ENODEV);
    if (s == UVFIO_MIG_STATE_RESUMING)
        assert_int_equal(wr, 0);
    else
        assert_true(wr == -EINVAL || wr == -ENODEV);
}

static void check_pair(struct uvfio_device *dev, struct rec *r,
                       uint64_t flags, uint32_t from, uint32_t to)
{
    uint32_t route[ORACLE_MAX_ROUTE];
    int n, ret;

    n = oracle_route(from, to, flags, route);
    assert_int_not_equal(n, -ENOTUNIQ);
    rec_goto(dev, r, from);
    ret = mt_set_state(dev, to);
    if (n < 0) {
        assert_int_equal(ret, n);
        assert_int_equal(r->n, 0);
        assert_int_equal(mt_get_state(dev), (int)from);
        return;
    }
    assert_int_equal(ret, 0);
    assert_log(r, from, route, n);
    assert_int_equal(mt_get_state(dev), (int)to);
    assert_stream_matches_state(dev, to);
}

/* The device can never be in a state its flags lack: asking for it is
 * refused with no arc. */
static void check_absent_from(struct uvfio_device *dev, struct rec *r,
                              uint32_t from)
{
    rec_goto(dev, r, UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(mt_set_state(dev, from), -EINVAL);
    assert_int_equal(r->n, 0);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
}

/* ERROR as a starting point: reached through a broken arc; every request
 * then fails with no arc, and only reset leaves. */
static void check_from_error(struct uvfio_device *dev, struct rec *r)
{
    uint32_t to;

    rec_goto(dev, r, UVFIO_MIG_STATE_RUNNING);
    r->fail_at = 0;
    r->fail_ret = -EIO;
    r->fail_broken = true;
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP), -EIO);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_ERROR);
    for (to = 0; to < UVFIO_MIG_STATE_COUNT; to++) {
        rec_clear(r);
        assert_int_equal(mt_set_state(dev, to), -EINVAL);
        assert_int_equal(r->n, 0);
        assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_ERROR);
    }
}

static void test_full_matrix(void **state)
{
    struct rec r;
    uint32_t from, to;
    int fs, pairs = 0;

    (void)state;
    for (fs = 0; fs < 4; fs++) {
        uint64_t flags = oracle_flag_sets[fs];
        struct uvfio_device *dev = rec_create(&r, flags);
        uint64_t got;

        assert_int_equal(mt_get_flags(dev, &got), 0);
        assert_int_equal(got, flags);
        for (from = 0; from < UVFIO_MIG_STATE_COUNT; from++) {
            for (to = 0; to < UVFIO_MIG_STATE_COUNT; to++, pairs++) {
                if (from == UVFIO_MIG_STATE_ERROR)
                    continue;       /* all eight at once below */
                if (!oracle_state_exists(from, flags))
                    check_absent_from(dev, &r, from);
                else
                    check_pair(dev, &r, flags, from, to);
            }
        }
        check_from_error(dev, &r);
        uvfio_device_destroy(dev);
    }
    assert_int_equal(pairs, 4 * 64);
}

/*
 * Every arc of every route, failing: plain failure leaves the last good
 * state; a broken arc leaves ERROR; either way no further arc is tried.
 */
static void test_failure_injection(void **state)
{
    uint32_t route[ORACLE_MAX_ROUTE], from, to;
    struct rec r;
    int fs, n, k, broken, cases = 0;

    (void)state;
    for (fs = 0; fs < 4; fs++) {
        uint64_t flags = oracle_flag_sets[fs];
        struct uvfio_device *dev = rec_create(&r, flags);

        for (from = 1; from < UVFIO_MIG_STATE_COUNT; from++)
            for (to = 1; to < UVFIO_MIG_STATE_COUNT; to++) {
                n = oracle_route(from, to, flags, route);
                for (k = 0; k < n; k++)
                    for (broken = 0; broken < 2; broken++) {
                        rec_goto(dev, &r, from);
                        r.fail_at = k;
                        r.fail_ret = -EBUSY;
                        r.fail_broken = broken;
                        assert_int_equal(mt_set_state(dev, to), -EBUSY);
                        assert_int_equal(r.n, k + 1);
                        assert_int_equal(mt_get_state(dev),
                                         broken ? UVFIO_MIG_STATE_ERROR
                                         : k ? (int)route[k - 1]
                                             : (int)from);
                        cases++;
                    }
            }
        uvfio_device_destroy(dev);
    }
    assert_true(cases > 300);
}

/* A broken arc that still returns 0 is a failure too (-EIO). */
static void test_broken_arc_returning_zero(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, UVFIO_MIGRATION_STOP_COPY);

    (void)state;
    r.fail_at = 0;
    r.fail_ret = 0;
    r.fail_broken = true;
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP), -EIO);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_ERROR);
    /* Reset is the way out, and the driver hears of it. */
    assert_int_equal(uvfio_core_reset(dev), 0);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(r.resets, 1);
    rec_clear(&r);
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(r.n, 1);
    uvfio_device_destroy(dev);
}

/* An arc returning a positive value is a driver bug, not success. */
static void test_positive_return_is_error(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, UVFIO_MIGRATION_STOP_COPY);

    (void)state;
    r.fail_at = 0;
    r.fail_ret = 1;
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP), -EIO);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    uvfio_device_destroy(dev);
}

/* Only an arc may put the device in ERROR. */
static void test_set_error_outside_arc_ignored(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, UVFIO_MIGRATION_STOP_COPY);
    uint8_t b;

    (void)state;
    uvfio_mig_set_error(dev);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP_COPY), 0);
    r.set_error_in_read = true;
    assert_int_equal(mt_read(dev, &b, 1), 0);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_STOP_COPY);
    uvfio_device_destroy(dev);
}

/* A driver that resets its own device from inside an arc: the reset waits
 * for the state lock (no deadlock) and lands when the walk lets go. */
static void test_reset_from_inside_arc(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, UVFIO_MIGRATION_STOP_COPY |
                                              UVFIO_MIGRATION_P2P);

    (void)state;
    r.reset_inside_arc = true;
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP_COPY), 0);
    /* The walk finished its three arcs, then the reset ran. */
    assert_int_equal(r.n, 3);
    assert_int_equal(r.resets, 1);
    assert_int_equal(r.aborts, 1);      /* it ended the new stream */
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    uvfio_device_destroy(dev);
}

struct setter {
    struct uvfio_device *dev;
    uint32_t target;
    int ret;
};

static void *set_thread(void *arg)
{
    struct setter *s = arg;

    s->ret = mt_set_state(s->dev, s->target);
    return NULL;
}

/* A reset from another thread while a walk is in an arc does not wait for
 * the walk (the kernel's deferred reset): the walk finishes its arcs, then
 * the reset lands, and the device ends in RUNNING with its stream ended. */
static void test_reset_from_other_thread_is_deferred(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, UVFIO_MIGRATION_STOP_COPY |
                                              UVFIO_MIGRATION_P2P);
    struct setter s = { dev, UVFIO_MIG_STATE_STOP_COPY, 1 };
    pthread_t th;

    (void)state;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.block_at = 1;                     /* RUNNING_P2P -> STOP */
    assert_int_equal(pthread_create(&th, NULL, set_thread, &s), 0);
    pthread_mutex_lock(&r.mu);
    while (!r.in_block)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);

    /* The walk holds the state lock inside an arc: the reset is queued. */
    assert_int_equal(uvfio_core_reset(dev), 0);
    assert_int_equal(r.resets, 0);
    assert_int_equal(uvfio_mig_state(dev), UVFIO_MIG_STATE_RUNNING_P2P);

    pthread_mutex_lock(&r.mu);
    r.go = true;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
    assert_int_equal(pthread_join(th, NULL), 0);

    assert_int_equal(s.ret, 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.resets, 1);
    assert_int_equal(r.aborts, 1);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    {
        uint8_t b;

        assert_int_equal(mt_read(dev, &b, 1), -ENODEV);
    }
    uvfio_device_destroy(dev);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}

/* Reset: RUNNING from anywhere, with the driver's migration reset op. */
static void test_reset_from_every_state(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, oracle_flag_sets[3]);
    uint32_t s;

    (void)state;
    for (s = 1; s < UVFIO_MIG_STATE_COUNT; s++) {
        rec_goto(dev, &r, s);
        r.resets = 0;
        assert_int_equal(uvfio_core_reset(dev), 0);
        assert_int_equal(r.resets, 1);
        assert_int_equal(r.n, 0);       /* no arc: reset is not a walk */
        assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
        assert_int_equal(uvfio_mig_state(dev), UVFIO_MIG_STATE_RUNNING);
    }
    uvfio_device_destroy(dev);
}

/* What uvfio_device_create accepts as a migration declaration. */
static void test_declaration_checked(void **state)
{
    struct uvfio_migration_ops no_info = rec_mig_ops, no_arc = rec_mig_ops;
    struct uvfio_migration_ops no_read = rec_mig_ops, no_size = rec_mig_ops;
    struct uvfio_migration_ops no_write = rec_mig_ops;
    struct {
        const struct uvfio_migration_ops *ops;
        uint64_t flags;
        int want;
    } cases[] = {
        { &rec_mig_ops, 0, -EINVAL },
        { &rec_mig_ops, UVFIO_MIGRATION_P2P, -EINVAL },
        { &rec_mig_ops, UVFIO_MIGRATION_PRE_COPY, -EINVAL },
        { &rec_mig_ops, UVFIO_MIGRATION_STOP_COPY | (1ull << 3), -EINVAL },
        { &rec_mig_ops, UVFIO_MIGRATION_STOP_COPY | (1ull << 63), -EINVAL },
        { &no_info, UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_PRE_COPY,
          -EINVAL },
        { &no_info, UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P, 0 },
        { &no_arc, UVFIO_MIGRATION_STOP_COPY, -EINVAL },
        { &no_read, UVFIO_MIGRATION_STOP_COPY, -EINVAL },
        { &no_write, UVFIO_MIGRATION_STOP_COPY, -EINVAL },
        { &no_size, UVFIO_MIGRATION_STOP_COPY, -EINVAL },
        { NULL, UVFIO_MIGRATION_STOP_COPY, -EINVAL },
        { NULL, 0, 0 },
    };
    struct rec r;
    size_t i;

    (void)state;
    no_info.precopy_info = NULL;
    no_arc.arc = NULL;
    no_read.save_read = NULL;
    no_write.resume_write = NULL;
    no_size.get_data_size = NULL;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct uvfio_device_config cfg = {
            .name = "decl", .ops = &rec_ops, .num_regions = 1,
            .num_irqs = 1, .mig_ops = cases[i].ops,
            .migration_flags = cases[i].flags, .priv = &r,
        };
        struct uvfio_device *dev = NULL;
        int ret = uvfio_device_create(&cfg, &dev);

        assert_int_equal(ret, cases[i].want);
        if (!ret) {
            assert_non_null(dev);
            uvfio_device_destroy(dev);
        }
    }
}

/* Many SETs to the current state: no arcs, success (rule 4). */
static void test_same_state_is_noop(void **state)
{
    struct rec r;
    struct uvfio_device *dev = rec_create(&r, oracle_flag_sets[3]);
    uint32_t s;

    (void)state;
    for (s = 1; s < UVFIO_MIG_STATE_COUNT; s++) {
        rec_goto(dev, &r, s);
        assert_int_equal(mt_set_state(dev, s), 0);
        assert_int_equal(r.n, 0);
        assert_int_equal(mt_get_state(dev), (int)s);
    }
    uvfio_device_destroy(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_matrix),
        cmocka_unit_test(test_failure_injection),
        cmocka_unit_test(test_broken_arc_returning_zero),
        cmocka_unit_test(test_positive_return_is_error),
        cmocka_unit_test(test_set_error_outside_arc_ignored),
        cmocka_unit_test(test_reset_from_inside_arc),
        cmocka_unit_test(test_reset_from_other_thread_is_deferred),
        cmocka_unit_test(test_reset_from_every_state),
        cmocka_unit_test(test_declaration_checked),
        cmocka_unit_test(test_same_state_is_noop),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
