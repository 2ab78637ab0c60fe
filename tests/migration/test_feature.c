/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_feature.c - the DEVICE_FEATURE framework (semantics
 * §6): header rules, per-feature operations and payload sizes, PROBE,
 * ENOTTY for what a device lacks, the driver's own features, and the
 * negotiated precopy-info extension.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "mig_util.h"
#include "proto/version.h"

#define GET     UVFIO_FEATURE_GET
#define SET     UVFIO_FEATURE_SET
#define PROBE   UVFIO_FEATURE_PROBE
#define F_MIG   UVFIO_FEATURE_MIGRATION
#define F_STATE UVFIO_FEATURE_MIG_DEVICE_STATE
#define F_SIZE  UVFIO_FEATURE_MIG_DATA_SIZE
#define F_PRE   UVFIO_FEATURE_PRECOPY_INFO
#define HDR     8u

/* A migratable driver with a device_feature op of its own. */
struct drv {
    uint64_t pre_initial, pre_dirty;
    int feature_calls;
    uint32_t feature_flags;
    size_t feature_len;
    uint8_t feature_in[64];
    int feature_ret;
};

static int drv_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                   enum uvfio_mig_state to)
{
    (void)dev; (void)from; (void)to;
    return 0;
}

static ssize_t drv_read(struct uvfio_device *dev, void *buf, size_t len)
{
    (void)dev; (void)buf; (void)len;
    return 0;
}

static int drv_write(struct uvfio_device *dev, const void *buf, size_t len)
{
    (void)dev; (void)buf; (void)len;
    return 0;
}

static int drv_size(struct uvfio_device *dev, uint64_t *len)
{
    (void)dev;
    *len = 0x1122334455667788ull;
    return 0;
}

static int drv_precopy(struct uvfio_device *dev, uint64_t *i, uint64_t *d)
{
    struct drv *p = uvfio_device_priv(dev);

    *i = p->pre_initial;
    *d = p->pre_dirty;
    return 0;
}

/* Records what it got; a GET fills the buffer with 0xa5 and stamps the
 * first byte with the size it was handed. */
static int drv_feature(struct uvfio_device *dev, uint32_t flags, void *data,
                       size_t len)
{
    struct drv *p = uvfio_device_priv(dev);

    p->feature_calls++;
    p->feature_flags = flags;
    p->feature_len = len;
    memcpy(p->feature_in, data, len < sizeof(p->feature_in) ? len
                                    : sizeof(p->feature_in));
    if (!p->feature_ret && (flags & GET) && len) {
        memset(data, 0xa5, len);
        *(uint8_t *)data = (uint8_t)len;
    }
    return p->feature_ret;
}

static const struct uvfio_migration_ops drv_mig = {
    .arc = drv_arc, .save_read = drv_read, .resume_write = drv_write,
    .get_data_size = drv_size, .precopy_info = drv_precopy,
};

static const struct uvfio_device_ops drv_ops = {
    .name = "feat", .device_feature = drv_feature,
};
static const struct uvfio_device_ops plain_ops = { .name = "plain" };

static struct drv drv;

static struct uvfio_device *make(bool mig, const struct uvfio_device_ops *ops)
{
    struct uvfio_device_config cfg = {
        .name = "feat", .ops = ops, .num_regions = 1, .num_irqs = 1,
        .mig_ops = mig ? &drv_mig : NULL,
        .migration_flags = mig ? UVFIO_MIGRATION_STOP_COPY |
                                 UVFIO_MIGRATION_P2P |
                                 UVFIO_MIGRATION_PRE_COPY : 0,
        .priv = &drv,
    };
    struct uvfio_device *dev = NULL;

    memset(&drv, 0, sizeof(drv));
    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    return dev;
}

static int feat(struct uvfio_device *dev, uint32_t argsz, uint32_t flags,
                const void *payload, size_t len)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int ret = mt_feature(dev, argsz, flags, payload, len, &rep);

    uvfio_buf_free(&rep);
    return ret;
}

static void test_header_rules(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    uint32_t a;

    (void)state;
    for (a = 0; a < HDR; a++)
        assert_int_equal(feat(dev, a, GET | F_MIG, NULL, 0), -EINVAL);
    /* Every bit above PROBE is unknown. */
    for (a = 19; a < 32; a++)
        assert_int_equal(feat(dev, 16, GET | F_MIG | (1u << a), NULL, 0),
                         -EINVAL);
    assert_int_equal(feat(dev, 16, GET | SET | F_STATE, NULL, 0), -EINVAL);
    /* ... also for a feature the driver owns: the header is the core's. */
    assert_int_equal(feat(dev, 16, GET | SET | 0x55, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, 4, GET | 0x55, NULL, 0), -EINVAL);
    assert_int_equal(drv.feature_calls, 0);
    uvfio_device_destroy(dev);
}

static void test_ops_and_sizes(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    uint32_t st[2] = { UVFIO_MIG_STATE_STOP, UINT32_MAX };

    (void)state;
    /* Operations a feature does not support, PROBE or not. */
    assert_int_equal(feat(dev, 16, SET | F_MIG, st, 8), -EINVAL);
    assert_int_equal(feat(dev, 16, PROBE | SET | F_MIG, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, 16, SET | F_SIZE, st, 8), -EINVAL);
    assert_int_equal(feat(dev, 16, PROBE | SET | F_SIZE, NULL, 0), -EINVAL);
    /* Neither GET nor SET, without PROBE. */
    assert_int_equal(feat(dev, 16, F_MIG, NULL, 0), -EINVAL);
    /* Payload below the feature's minimum. */
    assert_int_equal(feat(dev, HDR + 7, GET | F_MIG, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR + 7, GET | F_STATE, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR + 7, GET | F_SIZE, NULL, 0), -EINVAL);
    /* A SET whose argsz announces 8 bytes but whose message holds 4. */
    assert_int_equal(feat(dev, HDR + 8, SET | F_STATE, st, 4), -EINVAL);
    assert_int_equal(feat(dev, HDR + 4, SET | F_STATE, st, 8), -EINVAL);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    /* A larger argsz is fine; the reply says what it really needs. */
    {
        struct uvfio_buf rep = UVFIO_BUF_INIT;
        uint32_t h[2];
        uint64_t f;

        assert_int_equal(mt_feature(dev, 4096, GET | F_MIG, NULL, 0, &rep),
                         0);
        assert_int_equal(rep.len, HDR + 8);
        memcpy(h, rep.data, 8);
        memcpy(&f, rep.data + 8, 8);
        assert_int_equal(h[0], HDR + 8);
        assert_int_equal(h[1], GET | F_MIG);
        assert_int_equal(f, UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P |
                            UVFIO_MIGRATION_PRE_COPY);
        uvfio_buf_free(&rep);
    }
    /* A SET with more payload than needed works (the rest is ignored). */
    {
        uint32_t big[4] = { UVFIO_MIG_STATE_STOP, UINT32_MAX, 7, 7 };

        assert_int_equal(feat(dev, HDR + 16, SET | F_STATE, big, 16), 0);
        assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_STOP);
    }
    uvfio_device_destroy(dev);
}

static void test_probe(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint32_t h[2];

    (void)state;
    /* PROBE needs no payload and touches nothing; the reply echoes. */
    assert_int_equal(mt_feature(dev, HDR, PROBE | GET | F_MIG, NULL, 0, &rep),
                     0);
    assert_int_equal(rep.len, HDR);
    memcpy(h, rep.data, 8);
    assert_int_equal(h[0], HDR);
    assert_int_equal(h[1], PROBE | GET | F_MIG);
    uvfio_buf_free(&rep);
    assert_int_equal(feat(dev, HDR, PROBE | GET | SET | F_STATE, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | SET | F_STATE, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | F_STATE, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | GET | F_SIZE, NULL, 0), 0);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    uvfio_device_destroy(dev);
}

/* A device without migration: its features are ENOTTY, PROBE included,
 * and so are the data commands. */
static void test_no_migration(void **state)
{
    struct uvfio_device *dev = make(false, &plain_ops);
    uint32_t st[2] = { UVFIO_MIG_STATE_STOP, UINT32_MAX };
    uint8_t b = 0;

    (void)state;
    assert_int_equal(feat(dev, 16, GET | F_MIG, NULL, 0), -ENOTTY);
    assert_int_equal(feat(dev, 16, PROBE | GET | F_MIG, NULL, 0), -ENOTTY);
    assert_int_equal(feat(dev, 16, GET | F_STATE, NULL, 0), -ENOTTY);
    assert_int_equal(feat(dev, 16, SET | F_STATE, st, 8), -ENOTTY);
    assert_int_equal(feat(dev, 16, GET | F_SIZE, NULL, 0), -ENOTTY);
    assert_int_equal(mt_read(dev, &b, 1), -ENOTTY);
    assert_int_equal(mt_write(dev, &b, 1), -ENOTTY);
    assert_int_equal(uvfio_mig_state(dev), UVFIO_MIG_STATE_ERROR);
    /* Unknown features without a driver op: ENOTTY as well. */
    assert_int_equal(feat(dev, 16, GET | 0x55, NULL, 0), -ENOTTY);
    uvfio_device_destroy(dev);
}

/* DMA logging belongs to the dirty-tracking work: ENOTTY for now, on any
 * device, PROBE included, and the driver never sees it. */
/*
 * DMA logging (6/7/8) belongs to the core: each answers with its own
 * GET/SET rules and never reaches the driver's feature op.  (The logging
 * itself is tested in tests/dirty.)
 */
static void test_logging_owned_by_core(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    /* REPORT of one 4 KiB page: {iova, length, page_size} + one word. */
    uint64_t report[4] = { 0, 4096, 4096, 0 };

    (void)state;
    assert_int_equal(feat(dev, HDR, PROBE | SET | 6, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | GET | 6, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR, PROBE | SET | 7, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | GET | 7, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR, PROBE | GET | 8, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR, PROBE | SET | 8, NULL, 0), -EINVAL);
    /* STOP without START is fine; REPORT without START is not. */
    assert_int_equal(feat(dev, HDR, SET | 7, NULL, 0), 0);
    assert_int_equal(feat(dev, HDR + 32, GET | 8, report, 24), -EINVAL);
    assert_int_equal(drv.feature_calls, 0);
    uvfio_device_destroy(dev);
}

static void test_driver_features(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint8_t in[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    uint32_t h[2];

    (void)state;
    /* SET: the driver gets the payload received; the reply echoes it. */
    assert_int_equal(mt_feature(dev, HDR + 12, SET | 0x0, in, 12, &rep), 0);
    assert_int_equal(drv.feature_calls, 1);
    assert_int_equal(drv.feature_flags, SET | 0x0);
    assert_int_equal(drv.feature_len, 12);
    assert_memory_equal(drv.feature_in, in, 12);
    assert_int_equal(rep.len, HDR + 12);
    assert_memory_equal(rep.data + HDR, in, 12);
    uvfio_buf_reset(&rep);

    /* GET: a buffer of argsz - 8 holding what the client sent, and the
     * reply carries all of it. */
    assert_int_equal(mt_feature(dev, HDR + 20, GET | 0x77, in, 4, &rep), 0);
    assert_int_equal(drv.feature_len, 20);
    assert_memory_equal(drv.feature_in, in, 4);
    assert_int_equal(drv.feature_in[4], 0);
    assert_int_equal(rep.len, HDR + 20);
    memcpy(h, rep.data, 8);
    assert_int_equal(h[0], HDR + 20);
    assert_int_equal(h[1], GET | 0x77);
    assert_int_equal(rep.data[HDR], 20);
    assert_int_equal(rep.data[HDR + 19], 0xa5);
    uvfio_buf_reset(&rep);

    /* PROBE of a driver feature is the driver's to answer. */
    drv.feature_ret = -ENOTTY;
    assert_int_equal(mt_feature(dev, HDR, PROBE | SET | 0x3, NULL, 0, &rep),
                     -ENOTTY);
    assert_int_equal(drv.feature_flags, PROBE | SET | 0x3);
    assert_int_equal(rep.len, 0);
    /* A driver error reaches the client; a positive return is a bug. */
    drv.feature_ret = 5;
    assert_int_equal(feat(dev, HDR, SET | 0x3, NULL, 0), -EIO);
    drv.feature_ret = 0;

    /* A GET buffer larger than a transfer is refused, not allocated. */
    assert_int_equal(feat(dev, UINT32_MAX, GET | 0x77, NULL, 0), -EINVAL);
    assert_int_equal(mt_attach(dev, 0, 4096), 0);
    assert_int_equal(feat(dev, HDR + 4097, GET | 0x77, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR + 4096, GET | 0x77, NULL, 0), 0);
    uvfio_core_detach(dev);
    uvfio_buf_free(&rep);
    uvfio_device_destroy(dev);
}

/* 0x7f01 is a core feature only for a client that negotiated it; for any
 * other it is as unknown as any index (here: the driver's to answer). */
static void test_precopy_info_negotiated(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    uint64_t i, d;

    (void)state;
    assert_int_equal(mt_attach(dev, 0, UVFIO_DEFAULT_MAX_DATA_XFER), 0);
    drv.feature_ret = -ENOTTY;
    assert_int_equal(mt_precopy_info(dev, &i, &d), -ENOTTY);
    assert_int_equal(drv.feature_calls, 1);
    assert_int_equal(drv.feature_flags, GET | F_PRE);
    uvfio_core_detach(dev);

    assert_int_equal(mt_attach(dev, UVFIO_EXT_PRECOPY_INFO,
                               UVFIO_DEFAULT_MAX_DATA_XFER), 0);
    /* Outside PRE_COPY*: EINVAL. */
    assert_int_equal(mt_precopy_info(dev, &i, &d), -EINVAL);
    assert_int_equal(feat(dev, HDR + 15, GET | F_PRE, NULL, 0), -EINVAL);
    assert_int_equal(feat(dev, HDR + 16, SET | F_PRE, &i, 8), -EINVAL);
    assert_int_equal(feat(dev, HDR, PROBE | GET | F_PRE, NULL, 0), 0);
    drv.pre_initial = 1000;
    drv.pre_dirty = 7;
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_PRE_COPY), 0);
    assert_int_equal(mt_precopy_info(dev, &i, &d), 0);
    assert_int_equal(i, 1000);
    assert_int_equal(d, 7);
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_PRE_COPY_P2P), 0);
    assert_int_equal(mt_precopy_info(dev, &i, &d), 0);
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_int_equal(mt_precopy_info(dev, &i, &d), -EINVAL);
    assert_int_equal(drv.feature_calls, 1);
    uvfio_core_detach(dev);
    uvfio_device_destroy(dev);

    /* Negotiated, but the device cannot migrate: ENOTTY. */
    dev = make(false, &plain_ops);
    assert_int_equal(mt_attach(dev, UVFIO_EXT_PRECOPY_INFO,
                               UVFIO_DEFAULT_MAX_DATA_XFER), 0);
    assert_int_equal(mt_precopy_info(dev, &i, &d), -ENOTTY);
    uvfio_core_detach(dev);
    uvfio_device_destroy(dev);
}

static void test_state_values(void **state)
{
    struct uvfio_device *dev = make(true, &drv_ops);
    static const uint32_t bad[] = { UVFIO_MIG_STATE_ERROR, 8, 9, 0x100,
                                    UINT32_MAX };
    uint64_t len;
    size_t k;

    (void)state;
    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_int_equal(mt_set_state(dev, bad[k]), -EINVAL);
        assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    }
    assert_int_equal(mt_data_size(dev, &len), 0);
    assert_int_equal(len, 0x1122334455667788ull);
    uvfio_device_destroy(dev);
}

/* Hostile headers: random argsz, flags and payload lengths, thousands of
 * times, on a migratable device attached to a client with the extension.
 * Nothing may crash (run under ASan/valgrind), every answer is 0 or one of
 * the errnos the framework uses, a success reply is well-formed, and the
 * device stays usable. */
static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static void test_random_headers(void **state)
{
    static uint8_t payload[512];
    struct uvfio_device *dev = make(true, &drv_ops);
    static const uint32_t idx[] = { 0, 1, 2, 3, 6, 7, 8, 9, 12, 0x7f01,
                                    0xffff };
    int i, ok = 0;

    (void)state;
    assert_int_equal(mt_attach(dev, UVFIO_EXT_PRECOPY_INFO, 4096), 0);
    drv.feature_ret = -ENOTTY;
    for (i = 0; i < 20000; i++) {
        struct uvfio_buf rep = UVFIO_BUF_INIT;
        uint32_t flags = idx[rnd() % (sizeof(idx) / sizeof(idx[0]))];
        uint32_t argsz, len = rnd() % 40;
        int ret, k;

        flags |= (rnd() & 7) << 16;
        if (rnd() % 16 == 0)
            flags |= 1u << (19 + rnd() % 13);
        argsz = rnd() % 4 == 0 ? rnd() : rnd() % 48;
        for (k = 0; k < (int)len; k++)
            payload[k] = (uint8_t)rnd();
        /* Valid states now and then, so SETs also walk. */
        if (rnd() % 2)
            payload[0] = (uint8_t)(rnd() % 8), payload[1] = 0,
            payload[2] = 0, payload[3] = 0;
        ret = mt_feature(dev, argsz, flags, payload, len, &rep);
        /* EBUSY/E2BIG/EOVERFLOW: what DMA logging answers (a second
         * START, too many ranges or too big a report, a wrapping range). */
        assert_true(ret == 0 || ret == -EINVAL || ret == -ENOTTY ||
                    ret == -ENODEV || ret == -EBUSY || ret == -E2BIG ||
                    ret == -EOVERFLOW);
        if (ret == 0) {
            uint32_t h[2];

            assert_true(rep.len >= HDR);
            memcpy(h, rep.data, 8);
            assert_int_equal(h[1], flags);
            ok++;
        } else {
            assert_int_equal(rep.len, 0);
        }
        uvfio_buf_free(&rep);
    }
    assert_true(ok > 100);
    /* Still serving: back to RUNNING from wherever the noise left it
     * (this driver's arcs never fail, so it cannot be in ERROR). */
    assert_true(mt_get_state(dev) > 0);
    assert_int_equal(mt_set_state(dev, UVFIO_MIG_STATE_RUNNING), 0);
    assert_int_equal(mt_get_state(dev), UVFIO_MIG_STATE_RUNNING);
    uvfio_core_detach(dev);
    uvfio_device_destroy(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_ops_and_sizes),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_no_migration),
        cmocka_unit_test(test_logging_owned_by_core),
        cmocka_unit_test(test_driver_features),
        cmocka_unit_test(test_precopy_info_negotiated),
        cmocka_unit_test(test_state_values),
        cmocka_unit_test(test_random_headers),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
