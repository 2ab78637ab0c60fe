// SPDX-License-Identifier: MIT
/*
 * tests/migration/test_records.c - the record-stream helper
 * (uvfio_mig_records) through a small device that delegates every stream
 * op to it, driven the way the server drives it (mig_util.h).
 *
 * The device's records: CONFIG = kind + cfg[8], STATE = kind + regs[32],
 * FINAL = kind + cfg + regs.  A cfg[0] of ILLEGAL is a value its check()
 * refuses.  Streams the helper must refuse are built here by hand, framed
 * with the image helper, so every rule is hit on purpose: the order of
 * kinds, truncation, oversize, corruption, apply-or-nothing; and the good
 * stream is moved in every chunk size from 1 byte to past its length.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mig_util.h"
#include "proto/version.h"

#define R_MAGIC         0x5344524345525655ull   /* "UVRECRDS" */
#define R_VERSION       2u
#define CFG_LEN         8u
#define REGS_LEN        32u
#define LEN_CONFIG      (1u + CFG_LEN)
#define LEN_STATE       (1u + REGS_LEN)
#define LEN_FINAL       (1u + CFG_LEN + REGS_LEN)
#define ILLEGAL         0xee
#define XFER            (1u << 20)
#define MIG_FLAGS       (UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P | \
                         UVFIO_MIGRATION_PRE_COPY)

struct rdev {
    struct uvfio_device *dev;
    struct uvfio_mig_records rec;
    uint8_t cfg[CFG_LEN];
    uint8_t regs[REGS_LEN];
    int fail_build;             /* kind whose build() fails, 0 none */
    int fail_apply;             /* apply() fails with this, 0 none */
    unsigned int applies;       /* apply() calls that changed the device */
};

static struct rdev *rdev_of(struct uvfio_device *dev)
{
    return uvfio_device_priv(dev);
}

/* ---- the device's content -------------------------------------------------- */

static size_t r_final_len(struct uvfio_device *dev)
{
    (void)dev;
    return LEN_FINAL;
}

static int r_build(struct uvfio_device *dev, enum uvfio_mig_rec_kind kind,
                   void **payload, size_t *len)
{
    struct rdev *d = rdev_of(dev);
    size_t n = kind == UVFIO_MIG_REC_CONFIG ? LEN_CONFIG :
               kind == UVFIO_MIG_REC_STATE ? LEN_STATE : LEN_FINAL;
    uint8_t *p;

    if (d->fail_build == (int)kind)
        return -EIO;
    p = malloc(n);
    if (!p)
        return -ENOMEM;
    p[0] = (uint8_t)kind;
    if (kind != UVFIO_MIG_REC_STATE)
        memcpy(p + 1, d->cfg, CFG_LEN);
    if (kind == UVFIO_MIG_REC_STATE)
        memcpy(p + 1, d->regs, REGS_LEN);
    if (kind == UVFIO_MIG_REC_FINAL)
        memcpy(p + 1 + CFG_LEN, d->regs, REGS_LEN);
    *payload = p;
    *len = n;
    return 0;
}

static int r_check(struct uvfio_device *dev, const void *payload, size_t len,
                   enum uvfio_mig_rec_kind *kind)
{
    const uint8_t *p = payload;

    (void)dev;
    if (len < 1)
        return -EINVAL;
    switch (p[0]) {
    case UVFIO_MIG_REC_CONFIG:
        if (len != LEN_CONFIG || p[1] == ILLEGAL)
            return -EINVAL;
        break;
    case UVFIO_MIG_REC_STATE:
        if (len != LEN_STATE)
            return -EINVAL;
        break;
    case UVFIO_MIG_REC_FINAL:
        if (len != LEN_FINAL || p[1] == ILLEGAL)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    *kind = p[0];
    return 0;
}

static int r_apply(struct uvfio_device *dev, const void *payload, size_t len)
{
    struct rdev *d = rdev_of(dev);
    const uint8_t *p = payload;

    assert_int_equal(len, LEN_FINAL);
    if (d->fail_apply)
        return d->fail_apply;
    memcpy(d->cfg, p + 1, CFG_LEN);
    memcpy(d->regs, p + 1 + CFG_LEN, REGS_LEN);
    d->applies++;
    return 0;
}

static const struct uvfio_mig_records_ops ops_first_state = {
    .magic = R_MAGIC, .version = R_VERSION,
    .final_len = r_final_len, .build = r_build, .check = r_check,
    .apply = r_apply,
};

static const struct uvfio_mig_records_ops ops_since_config = {
    .magic = R_MAGIC, .version = R_VERSION, .state_since_config = true,
    .final_len = r_final_len, .build = r_build, .check = r_check,
    .apply = r_apply,
};

/* ---- the device's migration ops: nothing but the helper ---------------- */

static int r_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                 enum uvfio_mig_state to)
{
    return uvfio_mig_records_arc(&rdev_of(dev)->rec, dev, from, to);
}

static ssize_t r_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    return uvfio_mig_records_save_read(&rdev_of(dev)->rec, dev, buf, len);
}

static int r_resume_write(struct uvfio_device *dev, const void *buf,
                          size_t len)
{
    return uvfio_mig_records_resume_write(&rdev_of(dev)->rec, dev, buf, len);
}

static int r_data_size(struct uvfio_device *dev, uint64_t *len)
{
    return uvfio_mig_records_data_size(&rdev_of(dev)->rec, dev, len);
}

static int r_precopy_info(struct uvfio_device *dev, uint64_t *initial,
                          uint64_t *dirty)
{
    return uvfio_mig_records_precopy_info(&rdev_of(dev)->rec, dev, initial,
                                          dirty);
}

static void r_abort(struct uvfio_device *dev)
{
    uvfio_mig_records_clear(&rdev_of(dev)->rec);
}

static int r_dev_reset(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

static const struct uvfio_migration_ops r_mig_ops = {
    .arc = r_arc, .save_read = r_save_read, .resume_write = r_resume_write,
    .get_data_size = r_data_size, .precopy_info = r_precopy_info,
    .stream_abort = r_abort, .reset = r_abort,
};

static const struct uvfio_device_ops r_dev_ops = {
    .name = "records", .reset = r_dev_reset,
};

static struct rdev *rdev_new(const struct uvfio_mig_records_ops *ops,
                             uint8_t seed)
{
    struct uvfio_device_config cfg = {
        .name = "records", .ops = &r_dev_ops, .num_regions = 1,
        .num_irqs = 1, .mig_ops = &r_mig_ops, .migration_flags = MIG_FLAGS,
    };
    struct rdev *d = calloc(1, sizeof(*d));
    size_t i;

    assert_non_null(d);
    for (i = 0; i < CFG_LEN; i++)
        d->cfg[i] = (uint8_t)(seed + i);
    for (i = 0; i < REGS_LEN; i++)
        d->regs[i] = (uint8_t)(seed * 7 + i * 13);
    uvfio_mig_records_init(&d->rec, ops);
    cfg.priv = d;
    assert_int_equal(uvfio_device_create(&cfg, &d->dev), 0);
    assert_int_equal(mt_attach(d->dev, UVFIO_EXT_PRECOPY_INFO, XFER), 0);
    return d;
}

static void rdev_free(struct rdev *d)
{
    uvfio_core_detach(d->dev);
    uvfio_device_destroy(d->dev);
    uvfio_mig_records_clear(&d->rec);
    free(d);
}

/* ---- streams, by hand -------------------------------------------------------- */

struct bytes {
    uint8_t p[4096];
    size_t len;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    assert_true(n <= sizeof(b->p) - b->len);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Frame `payload` as the helper's records are framed, into b. */
static void frame(struct bytes *b, uint64_t magic, uint32_t version,
                  const void *payload, size_t len)
{
    struct uvfio_mig_image img = { 0 };
    ssize_t n;

    assert_int_equal(uvfio_mig_image_save(&img, magic, version, payload,
                                          len), 0);
    assert_true(uvfio_mig_image_remaining(&img) <= sizeof(b->p) - b->len);
    n = uvfio_mig_image_read(&img, b->p + b->len, sizeof(b->p) - b->len);
    assert_int_equal(n, uvfio_mig_image_size(len));
    b->len += (size_t)n;
    uvfio_mig_image_clear(&img);
}

/* A record of `kind` with payload bytes from `fill`, `len` long. */
static void rec(struct bytes *b, uint8_t kind, size_t len, uint8_t fill)
{
    uint8_t p[128];

    assert_true(len >= 1 && len <= sizeof(p));
    memset(p, fill, len);
    p[0] = kind;
    frame(b, R_MAGIC, R_VERSION, p, len);
}

static void rec_config(struct bytes *b) { rec(b, 1, LEN_CONFIG, 0x11); }
static void rec_state(struct bytes *b) { rec(b, 2, LEN_STATE, 0x22); }
static void rec_final(struct bytes *b) { rec(b, 3, LEN_FINAL, 0x33); }

/* ---- driving ---------------------------------------------------------------- */

static void to_state(struct rdev *d, uint32_t state)
{
    assert_int_equal(mt_set_state(d->dev, state), 0);
    assert_int_equal(mt_get_state(d->dev), state);
}

/* Read with `chunk`-byte requests until a short one; appends to out. */
static void drain(struct rdev *d, uint32_t chunk, struct bytes *out)
{
    uint8_t buf[512];
    size_t got;
    ssize_t n;

    assert_true(chunk <= sizeof(buf));
    do {
        n = mt_read(d->dev, buf, chunk);
        assert_true(n >= 0 && (size_t)n <= chunk);
        got = n > 0 ? (size_t)n : 0;
        put(out, buf, got);
    } while (got == chunk);
}

/* Write all of b in `chunk`-byte requests: the first error, or 0. */
static int feed(struct rdev *d, const struct bytes *b, size_t chunk)
{
    size_t off, n;
    int ret;

    for (off = 0; off < b->len; off += n) {
        n = b->len - off < chunk ? b->len - off : chunk;
        ret = mt_write(d->dev, b->p + off, (uint32_t)n);
        if (ret)
            return ret;
    }
    return 0;
}

/* The kinds of the records in a stream, checking each frame's length. */
static size_t kinds_of(const struct bytes *b, uint8_t *kinds, size_t max)
{
    size_t off = 0, n = 0;
    uint64_t plen;

    while (off < b->len) {
        assert_true(b->len - off >= UVFIO_MIG_IMAGE_HDR_SIZE + 1);
        memcpy(&plen, b->p + off + 24, sizeof(plen));
        assert_true(plen <= b->len - off - UVFIO_MIG_IMAGE_HDR_SIZE);
        assert_true(n < max);
        kinds[n++] = b->p[off + UVFIO_MIG_IMAGE_HDR_SIZE];
        off += UVFIO_MIG_IMAGE_HDR_SIZE + (size_t)plen;
    }
    return n;
}

/* A fresh destination in RESUMING. */
static struct rdev *dest_new(void)
{
    struct rdev *d = rdev_new(&ops_first_state, 200);

    to_state(d, UVFIO_MIG_STATE_STOP);
    to_state(d, UVFIO_MIG_STATE_RESUMING);
    return d;
}

/* The device still holds what it was created with: nothing was applied. */
static void assert_untouched(const struct rdev *d)
{
    struct rdev ref;
    size_t i;

    for (i = 0; i < CFG_LEN; i++)
        ref.cfg[i] = (uint8_t)(200 + i);
    for (i = 0; i < REGS_LEN; i++)
        ref.regs[i] = (uint8_t)(200 * 7 + i * 13);
    assert_int_equal(d->applies, 0);
    assert_memory_equal(d->cfg, ref.cfg, CFG_LEN);
    assert_memory_equal(d->regs, ref.regs, REGS_LEN);
}

/*
 * Feed a stream the destination must refuse: the write fails with
 * `write_err` (0: every write is taken) and then RESUMING->STOP fails with
 * `stop_err`, leaving the device in RESUMING with nothing applied.
 */
static void expect_refused(const struct bytes *b, size_t chunk, int write_err,
                           int stop_err)
{
    struct rdev *d = dest_new();

    assert_int_equal(feed(d, b, chunk), write_err);
    assert_int_equal(mt_set_state(d->dev, UVFIO_MIG_STATE_STOP), stop_err);
    assert_int_equal(mt_get_state(d->dev), UVFIO_MIG_STATE_RESUMING);
    assert_untouched(d);
    rdev_free(d);
}

/* ---- a whole migration, every chunk size --------------------------------------- */

/* Source: PRE_COPY, CONFIG + STATE, a change, STATE, STOP_COPY, FINAL. */
static void source_stream(struct rdev *s, uint32_t chunk, struct bytes *out)
{
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    drain(s, chunk, out);
    s->regs[3] ^= 0x5a;
    drain(s, chunk, out);
    to_state(s, UVFIO_MIG_STATE_STOP_COPY);
    drain(s, chunk, out);
    to_state(s, UVFIO_MIG_STATE_STOP);
}

static void test_roundtrip_every_chunk(void **state)
{
    size_t total = 2 * uvfio_mig_image_size(LEN_STATE) +
                   uvfio_mig_image_size(LEN_CONFIG) +
                   uvfio_mig_image_size(LEN_FINAL);
    uint8_t kinds[8];
    uint32_t chunk;

    (void)state;
    for (chunk = 1; chunk <= total + 1; chunk++) {
        struct rdev *s = rdev_new(&ops_first_state, (uint8_t)(chunk % 100));
        struct rdev *d = dest_new();
        struct bytes b = { .len = 0 };

        source_stream(s, chunk, &b);
        assert_int_equal(b.len, total);
        assert_int_equal(kinds_of(&b, kinds, 8), 4);
        assert_int_equal(kinds[0], UVFIO_MIG_REC_CONFIG);
        assert_int_equal(kinds[1], UVFIO_MIG_REC_STATE);
        assert_int_equal(kinds[2], UVFIO_MIG_REC_STATE);
        assert_int_equal(kinds[3], UVFIO_MIG_REC_FINAL);

        assert_int_equal(feed(d, &b, chunk), 0);
        to_state(d, UVFIO_MIG_STATE_STOP);
        assert_int_equal(d->applies, 1);
        assert_memory_equal(d->cfg, s->cfg, CFG_LEN);
        assert_memory_equal(d->regs, s->regs, REGS_LEN);
        to_state(d, UVFIO_MIG_STATE_RUNNING);
        rdev_free(s);
        rdev_free(d);
    }
}

/* STOP->STOP_COPY is FINAL alone, and a destination takes it. */
static void test_stop_copy_alone(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 9);
    struct rdev *d = dest_new();
    struct bytes b = { .len = 0 };
    uint8_t kinds[4];

    (void)state;
    to_state(s, UVFIO_MIG_STATE_STOP);
    to_state(s, UVFIO_MIG_STATE_STOP_COPY);
    drain(s, 7, &b);
    assert_int_equal(kinds_of(&b, kinds, 4), 1);
    assert_int_equal(kinds[0], UVFIO_MIG_REC_FINAL);
    assert_int_equal(feed(d, &b, 5), 0);
    to_state(d, UVFIO_MIG_STATE_STOP);
    assert_memory_equal(d->regs, s->regs, REGS_LEN);
    rdev_free(s);
    rdev_free(d);
}

/* STOP_COPY while CONFIG is half read: CONFIG is finished, then FINAL; the
 * STATE that was due is not sent any more. */
static void test_final_behind_half_record(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 4);
    struct rdev *d = dest_new();
    struct bytes b = { .len = 0 };
    uint64_t size;
    uint8_t kinds[4];

    (void)state;
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_data_size(s->dev, &size), 0);
    assert_int_equal(size, uvfio_mig_image_size(LEN_CONFIG) +
                     uvfio_mig_image_size(LEN_FINAL));
    assert_int_equal(mt_read(s->dev, b.p, 10), 10);
    b.len = 10;
    to_state(s, UVFIO_MIG_STATE_STOP_COPY);
    assert_int_equal(mt_data_size(s->dev, &size), 0);
    assert_int_equal(size, uvfio_mig_image_size(LEN_CONFIG) - 10 +
                     uvfio_mig_image_size(LEN_FINAL));
    drain(s, 3, &b);
    assert_int_equal(mt_data_size(s->dev, &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(kinds_of(&b, kinds, 4), 2);
    assert_int_equal(kinds[0], UVFIO_MIG_REC_CONFIG);
    assert_int_equal(kinds[1], UVFIO_MIG_REC_FINAL);
    assert_int_equal(feed(d, &b, 64), 0);
    to_state(d, UVFIO_MIG_STATE_STOP);
    assert_int_equal(d->applies, 1);
    rdev_free(s);
    rdev_free(d);
}

/* ---- precopy accounting ----------------------------------------------------------- */

/* initial_bytes as the helper itself reports it (the core would clamp it)
 * falls by exactly what was read and never rises, also when the device
 * changes; the change shows as dirty bytes once CONFIG is gone. */
static void test_precopy_initial_monotonic(void **state)
{
    struct rdev *s = rdev_new(&ops_since_config, 1);
    uint64_t cfg = uvfio_mig_image_size(LEN_CONFIG);
    uint64_t st = uvfio_mig_image_size(LEN_STATE);
    uint64_t initial, dirty, last = UINT64_MAX, i;
    uint8_t byte;

    (void)state;
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    for (i = 0; i < cfg; i++) {
        assert_int_equal(uvfio_mig_records_precopy_info(&s->rec, s->dev,
                                                        &initial, &dirty), 0);
        assert_int_equal(initial, cfg - i);
        assert_true(initial < last);
        last = initial;
        /* a change halfway is dirty data, never initial data */
        assert_int_equal(dirty, i < cfg / 2 ? 0 : st);
        if (i == cfg / 2 - 1)
            s->regs[0]++;
        assert_int_equal(mt_read(s->dev, &byte, 1), 1);
    }
    assert_int_equal(mt_precopy_info(s->dev, &initial, &dirty), 0);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, st);
    rdev_free(s);
}

/* Both ways of counting the first STATE, seen by a client. */
static void test_precopy_first_state(void **state)
{
    struct rdev *a = rdev_new(&ops_first_state, 1);
    struct rdev *b = rdev_new(&ops_since_config, 1);
    uint64_t cfg = uvfio_mig_image_size(LEN_CONFIG);
    uint64_t st = uvfio_mig_image_size(LEN_STATE);
    uint64_t initial, dirty;
    struct bytes out = { .len = 0 };

    (void)state;
    to_state(a, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_precopy_info(a->dev, &initial, &dirty), 0);
    assert_int_equal(initial, cfg);
    assert_int_equal(dirty, st);
    drain(a, 16, &out);
    assert_int_equal(out.len, cfg + st);
    assert_int_equal(mt_precopy_info(a->dev, &initial, &dirty), 0);
    assert_int_equal(initial + dirty, 0);

    out.len = 0;
    to_state(b, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_precopy_info(b->dev, &initial, &dirty), 0);
    assert_int_equal(initial, cfg);
    assert_int_equal(dirty, 0);
    drain(b, 16, &out);
    assert_int_equal(out.len, cfg);
    b->regs[5]++;
    assert_int_equal(mt_precopy_info(b->dev, &initial, &dirty), 0);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, st);
    drain(b, 16, &out);
    assert_int_equal(out.len, cfg + st);
    /* what was just sent is not dirty again; STATE being read counts */
    assert_int_equal(mt_precopy_info(b->dev, &initial, &dirty), 0);
    assert_int_equal(dirty, 0);
    b->regs[5]++;
    assert_int_equal(mt_read(b->dev, out.p, 4), 4);
    assert_int_equal(mt_precopy_info(b->dev, &initial, &dirty), 0);
    assert_int_equal(dirty, st - 4);
    /* a STATE half read is dirty data, also before the core's clamp */
    assert_int_equal(uvfio_mig_records_precopy_info(&b->rec, b->dev,
                                                    &initial, &dirty), 0);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, st - 4);
    rdev_free(a);
    rdev_free(b);
}

/* A new precopy stream starts its accounting over. */
static void test_precopy_reopen(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 3);
    uint64_t initial, dirty;
    uint8_t buf[8];

    (void)state;
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_read(s->dev, buf, 8), 8);
    to_state(s, UVFIO_MIG_STATE_RUNNING);
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_precopy_info(s->dev, &initial, &dirty), 0);
    assert_int_equal(initial, uvfio_mig_image_size(LEN_CONFIG));
    rdev_free(s);
}

/* ---- build failures ----------------------------------------------------------- */

static void test_build_failures(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 3);
    uint8_t buf[256];

    (void)state;
    s->fail_build = UVFIO_MIG_REC_CONFIG;
    assert_int_equal(mt_set_state(s->dev, UVFIO_MIG_STATE_PRE_COPY), -EIO);
    assert_int_equal(mt_get_state(s->dev), UVFIO_MIG_STATE_RUNNING);

    s->fail_build = UVFIO_MIG_REC_FINAL;
    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    /* the route goes through PRE_COPY_P2P; its last arc is refused */
    assert_int_equal(mt_set_state(s->dev, UVFIO_MIG_STATE_STOP_COPY), -EIO);
    assert_int_equal(mt_get_state(s->dev), UVFIO_MIG_STATE_PRE_COPY_P2P);

    /* the STATE due after CONFIG cannot be built: the stream breaks */
    s->fail_build = UVFIO_MIG_REC_STATE;
    assert_int_equal(mt_read(s->dev, buf, sizeof(buf)), -EIO);
    assert_int_equal(mt_read(s->dev, buf, sizeof(buf)), -ENODEV);
    rdev_free(s);
}

/* ---- the destination's rules ------------------------------------------------------- */

static void test_order_violations(void **state)
{
    struct bytes b;

    (void)state;
    /* STATE before any CONFIG */
    b.len = 0;
    rec_state(&b);
    rec_final(&b);
    expect_refused(&b, 1, -EINVAL, -EINVAL);
    /* CONFIG twice */
    b.len = 0;
    rec_config(&b);
    rec_config(&b);
    rec_final(&b);
    expect_refused(&b, 1000, -EINVAL, -EINVAL);
    /* CONFIG after a STATE */
    b.len = 0;
    rec_config(&b);
    rec_state(&b);
    rec_config(&b);
    expect_refused(&b, 3, -EINVAL, -EINVAL);
    /* anything after FINAL: a record, or a single byte */
    b.len = 0;
    rec_config(&b);
    rec_final(&b);
    rec_state(&b);
    expect_refused(&b, 17, -EFBIG, -EINVAL);
    b.len = 0;
    rec_final(&b);
    put(&b, "x", 1);
    expect_refused(&b, 1, -EFBIG, -EINVAL);
    /* FINAL twice */
    b.len = 0;
    rec_final(&b);
    rec_final(&b);
    expect_refused(&b, 4096, -EFBIG, -EINVAL);
    /* a kind the driver does not know */
    b.len = 0;
    rec(&b, 4, LEN_STATE, 0);
    expect_refused(&b, 2, -EINVAL, -EINVAL);
    /* a value the driver's check refuses (cfg[0]) */
    b.len = 0;
    rec(&b, 1, LEN_CONFIG, ILLEGAL);
    expect_refused(&b, 9, -EINVAL, -EINVAL);
}

/* The grammar's good cases, on the same hand-made records. */
static void test_order_accepted(void **state)
{
    static const char *const streams[] = { "F", "CF", "CSF", "CSSSF" };
    struct rdev *d;
    struct bytes b;
    const char *k;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        b.len = 0;
        for (k = streams[i]; *k; k++) {
            if (*k == 'C')
                rec_config(&b);
            else if (*k == 'S')
                rec_state(&b);
            else
                rec_final(&b);
        }
        d = dest_new();
        assert_int_equal(feed(d, &b, 13), 0);
        to_state(d, UVFIO_MIG_STATE_STOP);
        assert_int_equal(d->applies, 1);
        assert_int_equal(d->cfg[0], 0x33);
        assert_int_equal(d->regs[REGS_LEN - 1], 0x33);
        rdev_free(d);
    }
}

/* Streams that stop short are taken but never applied. */
static void test_truncated(void **state)
{
    struct bytes b;
    size_t cut, whole;

    (void)state;
    /* no FINAL at all */
    b.len = 0;
    rec_config(&b);
    rec_state(&b);
    expect_refused(&b, 64, 0, -EINVAL);
    /* nothing at all */
    b.len = 0;
    expect_refused(&b, 64, 0, -EINVAL);
    /* FINAL cut at every byte, header included */
    b.len = 0;
    rec_config(&b);
    rec_final(&b);
    whole = b.len;
    for (cut = uvfio_mig_image_size(LEN_CONFIG); cut < whole; cut++) {
        b.len = cut;
        expect_refused(&b, 7, 0, -EINVAL);
    }
}

/* Records longer than the largest the device takes, or than their kind. */
static void test_oversized(void **state)
{
    uint8_t big[LEN_FINAL + 1];
    struct bytes b;

    (void)state;
    memset(big, 0x33, sizeof(big));
    big[0] = UVFIO_MIG_REC_FINAL;
    /* refused as soon as the header says so */
    b.len = 0;
    frame(&b, R_MAGIC, R_VERSION, big, sizeof(big));
    b.len = UVFIO_MIG_IMAGE_HDR_SIZE;
    expect_refused(&b, 1, -EINVAL, -EINVAL);
    /* within the limit, but too long for its kind */
    b.len = 0;
    rec(&b, UVFIO_MIG_REC_CONFIG, LEN_CONFIG + 1, 0x11);
    expect_refused(&b, 5, -EINVAL, -EINVAL);
    /* too short for its kind */
    b.len = 0;
    rec(&b, UVFIO_MIG_REC_FINAL, LEN_FINAL - 1, 0x33);
    expect_refused(&b, 5, -EINVAL, -EINVAL);
    /* an empty payload */
    b.len = 0;
    frame(&b, R_MAGIC, R_VERSION, "", 0);
    expect_refused(&b, 5, -EINVAL, -EINVAL);
}

/* Another device's magic or a newer version: refused at the header; an
 * older version is the driver's to take. */
static void test_foreign_frames(void **state)
{
    uint8_t p[LEN_FINAL];
    struct rdev *d;
    struct bytes b;

    (void)state;
    memset(p, 0x33, sizeof(p));
    p[0] = UVFIO_MIG_REC_FINAL;
    b.len = 0;
    frame(&b, R_MAGIC + 1, R_VERSION, p, sizeof(p));
    expect_refused(&b, 64, -EINVAL, -EINVAL);
    b.len = 0;
    frame(&b, R_MAGIC, R_VERSION + 1, p, sizeof(p));
    expect_refused(&b, 64, -EINVAL, -EINVAL);

    b.len = 0;
    frame(&b, R_MAGIC, R_VERSION - 1, p, sizeof(p));
    d = dest_new();
    assert_int_equal(feed(d, &b, 64), 0);
    to_state(d, UVFIO_MIG_STATE_STOP);
    assert_int_equal(d->applies, 1);
    rdev_free(d);
}

/* Every single damaged byte of a good stream is caught: frame fields by
 * the header checks, payload and CRC by the CRC. */
static void test_corrupted_every_byte(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 77);
    struct bytes good = { .len = 0 }, bad;
    size_t i;
    int ret;

    (void)state;
    source_stream(s, 512, &good);
    for (i = 0; i < good.len; i++) {
        struct rdev *d = dest_new();

        bad = good;
        bad.p[i] ^= 0xff;
        ret = feed(d, &bad, 1 + i % 50);
        assert_true(ret == -EINVAL || ret == -EBADMSG || ret == -EFBIG);
        assert_int_equal(mt_set_state(d->dev, UVFIO_MIG_STATE_STOP), -EINVAL);
        assert_untouched(d);
        rdev_free(d);
    }
    rdev_free(s);
}

/* The driver's apply refuses: the arc fails, the device stays in RESUMING
 * and unchanged, and a reset gets it out. */
static void test_apply_or_nothing(void **state)
{
    struct rdev *d = dest_new();
    struct bytes b = { .len = 0 };

    (void)state;
    rec_config(&b);
    rec_final(&b);
    assert_int_equal(feed(d, &b, 11), 0);
    d->fail_apply = -ERANGE;
    assert_int_equal(mt_set_state(d->dev, UVFIO_MIG_STATE_RUNNING), -ERANGE);
    assert_int_equal(mt_get_state(d->dev), UVFIO_MIG_STATE_RESUMING);
    assert_untouched(d);
    assert_int_equal(uvfio_core_reset(d->dev), 0);
    assert_int_equal(mt_get_state(d->dev), UVFIO_MIG_STATE_RUNNING);
    rdev_free(d);
}

/* The helper's own refusal, without the core in front: RESUMING->STOP
 * after a clear, or with a record still open, never calls apply(). */
static void test_helper_direct(void **state)
{
    struct rdev *d = dest_new();
    struct bytes b = { .len = 0 };

    (void)state;
    rec_final(&b);
    assert_int_equal(uvfio_mig_records_resume_write(&d->rec, d->dev, b.p,
                                                    b.len - 1), 0);
    assert_int_equal(uvfio_mig_records_arc(&d->rec, d->dev,
                                           UVFIO_MIG_STATE_RESUMING,
                                           UVFIO_MIG_STATE_STOP), -EINVAL);
    assert_int_equal(uvfio_mig_records_resume_write(&d->rec, d->dev,
                                                    b.p + b.len - 1, 1), 0);
    uvfio_mig_records_clear(&d->rec);
    assert_int_equal(uvfio_mig_records_arc(&d->rec, d->dev,
                                           UVFIO_MIG_STATE_RESUMING,
                                           UVFIO_MIG_STATE_STOP), -EINVAL);
    assert_untouched(d);
    /* a zero-length write takes nothing and breaks nothing */
    assert_int_equal(uvfio_mig_records_resume_write(&d->rec, d->dev, b.p, 0),
                     0);
    assert_int_equal(uvfio_mig_records_resume_write(&d->rec, d->dev, b.p,
                                                    b.len), 0);
    assert_int_equal(uvfio_mig_records_arc(&d->rec, d->dev,
                                           UVFIO_MIG_STATE_RESUMING,
                                           UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(d->applies, 1);
    rdev_free(d);
}

/* A client that goes away mid-stream takes the stream with it. */
static void test_detach_mid_stream(void **state)
{
    struct rdev *s = rdev_new(&ops_first_state, 5);
    struct rdev *d = dest_new();
    struct bytes b = { .len = 0 };
    uint64_t initial, dirty;
    uint8_t buf[8];

    (void)state;
    rec_config(&b);
    rec_final(&b);
    assert_int_equal(feed(d, &b, 5), 0);
    uvfio_core_detach(d->dev);
    assert_int_equal(mt_attach(d->dev, UVFIO_EXT_PRECOPY_INFO, XFER), 0);
    assert_int_equal(mt_set_state(d->dev, UVFIO_MIG_STATE_STOP), -EINVAL);
    assert_untouched(d);

    to_state(s, UVFIO_MIG_STATE_PRE_COPY);
    assert_int_equal(mt_read(s->dev, buf, 8), 8);
    uvfio_core_detach(s->dev);
    assert_int_equal(mt_attach(s->dev, UVFIO_EXT_PRECOPY_INFO, XFER), 0);
    assert_int_equal(mt_read(s->dev, buf, 8), -ENODEV);
    /* and the helper holds nothing of it */
    assert_int_equal(uvfio_mig_records_precopy_info(&s->rec, s->dev,
                                                    &initial, &dirty), 0);
    assert_int_equal(initial + dirty, 0);
    rdev_free(s);
    rdev_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_chunk),
        cmocka_unit_test(test_stop_copy_alone),
        cmocka_unit_test(test_final_behind_half_record),
        cmocka_unit_test(test_precopy_initial_monotonic),
        cmocka_unit_test(test_precopy_first_state),
        cmocka_unit_test(test_precopy_reopen),
        cmocka_unit_test(test_build_failures),
        cmocka_unit_test(test_order_violations),
        cmocka_unit_test(test_order_accepted),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_foreign_frames),
        cmocka_unit_test(test_corrupted_every_byte),
        cmocka_unit_test(test_apply_or_nothing),
        cmocka_unit_test(test_helper_direct),
        cmocka_unit_test(test_detach_mid_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
