/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_stream.c - the data streams at the core level:
 * MIG_DATA_READ/WRITE of every edge chunk size in both directions, precopy
 * info interleaved with reads, reset and detach in the middle of each kind
 * of stream, the arcs that end streams, and images refused at
 * RESUMING->STOP (corrupted, truncated) without touching the device.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "blob_dev.h"
#include "mig_util.h"
#include "proto/version.h"

#define SC      UVFIO_MIGRATION_STOP_COPY
#define P2P     UVFIO_MIGRATION_P2P
#define PRE     UVFIO_MIGRATION_PRE_COPY
#define XFER    65536u          /* max_data_xfer of the stand-in client */

enum {
    STOP = UVFIO_MIG_STATE_STOP,
    RUNNING = UVFIO_MIG_STATE_RUNNING,
    STOP_COPY = UVFIO_MIG_STATE_STOP_COPY,
    RESUMING = UVFIO_MIG_STATE_RESUMING,
    PRE_COPY = UVFIO_MIG_STATE_PRE_COPY,
    PRE_COPY_P2P = UVFIO_MIG_STATE_PRE_COPY_P2P,
};

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static struct uvfio_device *mk(struct blob *b, size_t size, uint64_t flags,
                               uint8_t seed, uint64_t xfer)
{
    struct uvfio_device *dev = blob_create(b, size, flags, seed);

    assert_non_null(dev);
    assert_int_equal(mt_attach(dev, UVFIO_EXT_PRECOPY_INFO, xfer), 0);
    return dev;
}

/* Read with `chunk`-byte requests until a short reply, into out; returns
 * the number of requests. */
static size_t drain(struct uvfio_device *dev, uint32_t chunk,
                    struct bytes *out)
{
    uint8_t *buf = malloc(chunk);
    size_t reqs = 0;
    ssize_t n;

    assert_non_null(buf);
    do {
        n = mt_read(dev, buf, chunk);
        assert_true(n >= 0);
        bytes_add(out, buf, (size_t)n);
        reqs++;
    } while ((size_t)n == chunk);
    free(buf);
    return reqs;
}

static void feed(struct uvfio_device *dev, const uint8_t *p, size_t len,
                 uint32_t chunk)
{
    size_t off, n;

    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        assert_int_equal(mt_write(dev, p + off, (uint32_t)n), 0);
    }
}

/* One full STOP_COPY migration src -> dst with the given chunk sizes. */
static void migrate(uint32_t rchunk, uint32_t wchunk, size_t size,
                    uint64_t xfer)
{
    struct blob s, d;
    struct uvfio_device *src = mk(&s, size, SC, 1, xfer);
    struct uvfio_device *dst = mk(&d, size, SC, 2, xfer);
    struct bytes st = { 0 };
    unsigned int reads;
    size_t reqs;
    uint8_t b;

    assert_memory_not_equal(s.regs, d.regs, size);
    assert_int_equal(mt_set_state(src, STOP_COPY), 0);
    reqs = drain(src, rchunk, &st);
    assert_int_equal(st.len, blob_record_size(&s));
    /* Every reply but the last was full. */
    assert_int_equal(reqs, st.len / rchunk + 1);
    /* End of stream is sticky and costs the driver nothing more. */
    reads = s.save_reads;
    assert_int_equal(mt_read(src, &b, 1), 0);
    assert_int_equal(s.save_reads, reads);

    assert_int_equal(mt_set_state(dst, RESUMING), 0);
    feed(dst, st.p, st.len, wchunk);
    assert_int_equal(mt_set_state(dst, RUNNING), 0);
    assert_memory_equal(s.regs, d.regs, size);

    free(st.p);
    blob_destroy(&s);
    blob_destroy(&d);
}

static void test_chunk_sizes(void **state)
{
    static const uint32_t sizes[] = { 1, 4095, 4096, 4097, XFER };
    size_t i, n = sizeof(sizes) / sizeof(sizes[0]);

    (void)state;
    /* A state larger than one transfer, so `max` splits too.  Each read
     * size meets a different write size; 1 meets 1 once more. */
    for (i = 0; i < n; i++)
        migrate(sizes[i], sizes[(i + 1) % n], 70000, XFER);
    migrate(1, 1, 70000, XFER);
    migrate(XFER, XFER, 70000, XFER);
}

/* The default 1 MiB transfer, state well over it. */
static void test_default_max_xfer(void **state)
{
    (void)state;
    migrate(UVFIO_DEFAULT_MAX_DATA_XFER, UVFIO_DEFAULT_MAX_DATA_XFER,
            (3u << 20) / 2, UVFIO_DEFAULT_MAX_DATA_XFER);
}

/* Requests beyond the negotiated transfer size, or that lie about their
 * size, are refused and change nothing. */
static void test_bad_requests(void **state)
{
    struct blob s;
    struct uvfio_device *dev = mk(&s, 5000, SC, 1, XFER);
    struct uvfio_wire_mig_data req;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    static uint8_t big[XFER + 1];
    struct bytes st = { 0 };

    (void)state;
    assert_int_equal(mt_set_state(dev, STOP_COPY), 0);
    assert_int_equal(mt_read(dev, big, XFER + 1), -EINVAL);
    /* argsz must hold the reply. */
    req.argsz = 8 + 99;
    req.size = 100;
    assert_int_equal(uvfio_core_mig_data_read(dev, &req, &rep), -EINVAL);
    req.argsz = 0;
    req.size = UINT32_MAX;
    assert_int_equal(uvfio_core_mig_data_read(dev, &req, &rep), -EINVAL);
    assert_int_equal(rep.len, 0);
    assert_int_equal(s.save_reads, 0);
    /* A zero-byte read is a no-op that says nothing about the stream. */
    assert_int_equal(mt_read(dev, big, 0), 0);
    drain(dev, 4096, &st);
    assert_int_equal(st.len, blob_record_size(&s));
    free(st.p);

    assert_int_equal(mt_set_state(dev, STOP), 0);
    assert_int_equal(mt_set_state(dev, RESUMING), 0);
    assert_int_equal(mt_write(dev, big, XFER + 1), -EINVAL);
    req.argsz = 8 + 10;
    req.size = 10;
    assert_int_equal(uvfio_core_mig_data_write(dev, &req, big, 9), -EINVAL);
    req.argsz = 8 + 9;
    assert_int_equal(uvfio_core_mig_data_write(dev, &req, big, 10), -EINVAL);
    req.argsz = 8;
    req.size = 10;
    assert_int_equal(uvfio_core_mig_data_write(dev, &req, big, 10), -EINVAL);
    /* None of that reached the driver: the stream is intact. */
    assert_int_equal(mt_write(dev, big, 0), 0);
    assert_int_equal(uvfio_core_reset(dev), 0);
    uvfio_buf_free(&rep);
    blob_destroy(&s);
}

/* A driver that hands out a few bytes at a time still fills each reply:
 * a short reply must mean "no more now". */
static void test_short_driver_reads_are_joined(void **state)
{
    struct blob s;
    struct uvfio_device *dev = mk(&s, 20000, SC, 1, XFER);
    uint8_t buf[4096];

    (void)state;
    s.stingy = 7;
    assert_int_equal(mt_set_state(dev, STOP_COPY), 0);
    assert_int_equal(mt_read(dev, buf, sizeof(buf)), sizeof(buf));
    assert_true(s.save_reads >= sizeof(buf) / 7);
    blob_destroy(&s);
}

static void precopy_info(struct uvfio_device *dev, uint64_t *i, uint64_t *d)
{
    assert_int_equal(mt_precopy_info(dev, i, d), 0);
}

/* PRE_COPY (or PRE_COPY_P2P): reads interleaved with PRECOPY_INFO; then
 * STOP_COPY; the whole stream loads on the destination. */
static void precopy_run(uint64_t flags, uint32_t pre_state)
{
    struct blob s, d;
    struct uvfio_device *src = mk(&s, 10000, flags, 1, XFER);
    struct uvfio_device *dst = mk(&d, 10000, flags, 2, XFER);
    struct bytes st = { 0 };
    uint64_t init, dirty, last_init, rec = blob_record_size(&s);
    uint8_t buf[1000];
    unsigned int reads;
    ssize_t n;

    assert_int_equal(mt_set_state(src, pre_state), 0);
    precopy_info(src, &init, &dirty);
    assert_int_equal(init, rec);
    assert_int_equal(dirty, 0);

    /* initial_bytes falls by exactly what was read, down to 0. */
    last_init = init;
    while ((n = mt_read(src, buf, sizeof(buf))) > 0) {
        bytes_add(&st, buf, (size_t)n);
        precopy_info(src, &init, &dirty);
        assert_int_equal(init, last_init - (uint64_t)n);
        assert_int_equal(dirty, 0);
        last_init = init;
        if (n < (ssize_t)sizeof(buf))
            break;
    }
    assert_int_equal(init, 0);
    assert_int_equal(st.len, rec);
    /* Nothing now is not the end: the driver is asked again each time. */
    reads = s.save_reads;
    assert_int_equal(mt_read(src, buf, sizeof(buf)), 0);
    assert_int_equal(mt_read(src, buf, sizeof(buf)), 0);
    assert_true(s.save_reads > reads);

    /* The device changes: dirty_bytes rises, then falls as it is read. */
    blob_touch(&s, 100, 50);
    precopy_info(src, &init, &dirty);
    assert_int_equal(init, 0);
    assert_int_equal(dirty, rec);
    n = mt_read(src, buf, 500);
    assert_int_equal(n, 500);
    bytes_add(&st, buf, 500);
    precopy_info(src, &init, &dirty);
    assert_int_equal(dirty, rec - 500);

    /* A driver that reports initial_bytes growing back is not believed. */
    s.initial_bump = 4096;
    precopy_info(src, &init, &dirty);
    assert_int_equal(init, 0);
    s.initial_bump = 0;

    /* With P2P, precopy moves between its two states mid-stream. */
    if (flags & P2P) {
        uint32_t other = pre_state == PRE_COPY ? PRE_COPY_P2P : PRE_COPY;

        assert_int_equal(mt_set_state(src, other), 0);
        n = mt_read(src, buf, 100);
        assert_int_equal(n, 100);
        bytes_add(&st, buf, 100);
        precopy_info(src, &init, &dirty);
        assert_int_equal(dirty, rec - 600);
    }

    blob_touch(&s, 0, 10);
    assert_int_equal(mt_set_state(src, STOP_COPY), 0);
    assert_int_equal(mt_precopy_info(src, &init, &dirty), -EINVAL);
    drain(src, 4097, &st);
    /* I, the rest of one D, and the final F. */
    assert_int_equal(st.len, 3 * rec);

    assert_int_equal(mt_set_state(dst, RESUMING), 0);
    feed(dst, st.p, st.len, 333);
    assert_int_equal(mt_set_state(dst, RUNNING), 0);
    assert_memory_equal(s.regs, d.regs, s.size);
    assert_int_equal(mt_precopy_info(dst, &init, &dirty), -EINVAL);

    free(st.p);
    blob_destroy(&s);
    blob_destroy(&d);
}

static void test_precopy_interleaved(void **state)
{
    (void)state;
    precopy_run(SC | PRE, PRE_COPY);
    precopy_run(SC | P2P | PRE, PRE_COPY);
    precopy_run(SC | P2P | PRE, PRE_COPY_P2P);
}

enum stream_kind { K_PRE, K_STOP_COPY, K_RESUMING };

/* Open a stream of kind k and move a few bytes through it. */
static void open_and_use(struct uvfio_device *dev, struct blob *b,
                         enum stream_kind k)
{
    uint8_t buf[100];

    if (k == K_PRE) {
        assert_int_equal(mt_set_state(dev, PRE_COPY), 0);
        assert_int_equal(mt_read(dev, buf, 100), 100);
    } else if (k == K_STOP_COPY) {
        assert_int_equal(mt_set_state(dev, STOP_COPY), 0);
        assert_int_equal(mt_read(dev, buf, 100), 100);
    } else {
        struct uvfio_mig_image img = { 0 };

        assert_int_equal(uvfio_mig_image_save(&img, BLOB_MAGIC, BLOB_VERSION,
                                              b->regs, b->size), 0);
        assert_int_equal(uvfio_mig_image_read(&img, buf + 1, 99), 99);
        buf[0] = 'F';
        assert_int_equal(mt_set_state(dev, RESUMING), 0);
        assert_int_equal(mt_write(dev, buf, 100), 0);
        uvfio_mig_image_clear(&img);
    }
}

static void assert_stream_gone(struct uvfio_device *dev, enum stream_kind k)
{
    uint8_t b = 'F';

    if (k == K_RESUMING)
        assert_int_equal(mt_write(dev, &b, 1), -ENODEV);
    else
        assert_int_equal(mt_read(dev, &b, 1), -ENODEV);
}

/* A complete STOP_COPY stream still works afterwards. */
static void assert_fresh_stream_works(struct uvfio_device *dev,
                                      struct blob *b)
{
    struct bytes st = { 0 };

    assert_int_equal(mt_set_state(dev, STOP_COPY), 0);
    drain(dev, 4096, &st);
    assert_int_equal(st.len, blob_record_size(b));
    assert_int_equal(st.p[0], 'F');
    assert_int_equal(mt_set_state(dev, RUNNING), 0);
    free(st.p);
}

static void test_reset_mid_stream(void **state)
{
    enum stream_kind k;

    (void)state;
    for (k = K_PRE; k <= K_RESUMING; k++) {
        struct blob b;
        struct uvfio_device *dev = mk(&b, 3000, SC | P2P | PRE, 1, XFER);
        uint8_t before[3000];
        uint64_t i, dd;

        memcpy(before, b.regs, sizeof(before));
        open_and_use(dev, &b, k);
        assert_int_equal(uvfio_core_reset(dev), 0);
        assert_int_equal(mt_get_state(dev), RUNNING);
        assert_int_equal(b.aborts, 1);
        assert_int_equal(b.resets, 1);
        assert_stream_gone(dev, k);
        assert_stream_gone(dev, k);
        assert_int_equal(mt_precopy_info(dev, &i, &dd), -EINVAL);
        /* An abandoned resume applied nothing. */
        assert_memory_equal(b.regs, before, sizeof(before));
        assert_fresh_stream_works(dev, &b);
        blob_destroy(&b);
    }
}

static void test_detach_mid_stream(void **state)
{
    enum stream_kind k;

    (void)state;
    for (k = K_PRE; k <= K_RESUMING; k++) {
        struct blob b;
        struct uvfio_device *dev = mk(&b, 3000, SC | P2P | PRE, 1, XFER);
        uint32_t in_state = k == K_PRE ? PRE_COPY
                          : k == K_STOP_COPY ? STOP_COPY : RESUMING;
        uint8_t before[3000];
        uint64_t i, dd;

        memcpy(before, b.regs, sizeof(before));
        open_and_use(dev, &b, k);
        uvfio_core_detach(dev);
        assert_int_equal(b.aborts, 1);
        /* The next client finds the device where it was, the stream gone. */
        assert_int_equal(mt_attach(dev, UVFIO_EXT_PRECOPY_INFO, XFER), 0);
        assert_int_equal(mt_get_state(dev), (int)in_state);
        assert_stream_gone(dev, k);
        if (k == K_PRE)
            assert_int_equal(mt_precopy_info(dev, &i, &dd), -ENODEV);
        if (k == K_RESUMING) {
            /* Half an image never loads; reset abandons it. */
            assert_int_equal(mt_set_state(dev, RUNNING), -EINVAL);
            assert_int_equal(mt_get_state(dev), RESUMING);
            assert_memory_equal(b.regs, before, sizeof(before));
            assert_int_equal(uvfio_core_reset(dev), 0);
        } else {
            assert_int_equal(mt_set_state(dev, RUNNING), 0);
        }
        assert_int_equal(b.aborts, 1);
        assert_fresh_stream_works(dev, &b);
        blob_destroy(&b);
    }
}

/* The arcs that end streams, and streams that never were. */
static void test_stream_lifetimes(void **state)
{
    struct blob b;
    struct uvfio_device *dev = mk(&b, 3000, SC | PRE, 1, XFER);
    struct bytes st = { 0 };
    uint8_t x = 0;

    (void)state;
    /* Never opened: EINVAL, in both directions. */
    assert_int_equal(mt_read(dev, &x, 1), -EINVAL);
    assert_int_equal(mt_write(dev, &x, 1), -EINVAL);

    assert_int_equal(mt_set_state(dev, PRE_COPY), 0);
    assert_int_equal(mt_write(dev, &x, 1), -EINVAL);    /* wrong way */
    assert_int_equal(mt_read(dev, &x, 1), 1);
    assert_int_equal(mt_set_state(dev, RUNNING), 0);    /* ends it */
    assert_int_equal(mt_read(dev, &x, 1), -ENODEV);

    assert_int_equal(mt_set_state(dev, STOP_COPY), 0);  /* a new one */
    drain(dev, 512, &st);
    assert_int_equal(mt_set_state(dev, STOP), 0);       /* ends it */
    assert_int_equal(mt_read(dev, &x, 1), -ENODEV);

    assert_int_equal(mt_set_state(dev, RESUMING), 0);
    assert_int_equal(mt_read(dev, &x, 1), -EINVAL);     /* wrong way */
    feed(dev, st.p, st.len, 4096);
    assert_int_equal(mt_set_state(dev, STOP), 0);       /* ends it */
    assert_int_equal(mt_write(dev, &x, 1), -ENODEV);
    free(st.p);

    /* A driver read error breaks the stream for good. */
    assert_int_equal(mt_set_state(dev, PRE_COPY), 0);
    b.fail_read = -EIO;
    assert_int_equal(mt_read(dev, &x, 1), -EIO);
    assert_int_equal(mt_read(dev, &x, 1), -ENODEV);
    {
        uint64_t i, dd;

        assert_int_equal(mt_precopy_info(dev, &i, &dd), -ENODEV);
    }
    assert_int_equal(mt_set_state(dev, RUNNING), 0);
    blob_destroy(&b);
}

/* A whole STOP_COPY stream of a device of the given seed. */
static void full_stream(size_t size, uint8_t seed, struct bytes *st)
{
    struct blob s;
    struct uvfio_device *src = mk(&s, size, SC, seed, XFER);

    assert_int_equal(mt_set_state(src, STOP_COPY), 0);
    drain(src, XFER, st);
    blob_destroy(&s);
}

/* Load `len` bytes of `img` (with `flip` xor'ed in at `at`) and expect the
 * write error `werr` (0: all accepted) and RESUMING->STOP to fail with
 * `serr`, leaving the device exactly as it was. */
static void refuse(const struct bytes *img, size_t len, size_t at,
                   uint8_t flip, int werr, int serr)
{
    struct blob d;
    struct uvfio_device *dst = mk(&d, 5000, SC | P2P, 9, XFER);
    uint8_t *copy = malloc(img->len + 1), before[5000];
    size_t off, n;
    int ret = 0;

    memcpy(copy, img->p, img->len);
    copy[img->len] = 'F';
    if (at < len)
        copy[at] ^= flip;
    memcpy(before, d.regs, sizeof(before));
    assert_int_equal(mt_set_state(dst, RESUMING), 0);
    for (off = 0; off < len && !ret; off += n) {
        n = len - off < 1000 ? len - off : 1000;
        ret = mt_write(dst, copy + off, (uint32_t)n);
    }
    assert_int_equal(ret, werr);
    if (werr)       /* the stream is broken from then on */
        assert_int_equal(mt_write(dst, copy, 1), -ENODEV);
    assert_int_equal(mt_set_state(dst, STOP), serr);
    assert_int_equal(mt_set_state(dst, RUNNING), serr ? serr : 0);
    assert_int_equal(mt_get_state(dst), serr ? RESUMING : RUNNING);
    if (serr) {
        assert_memory_equal(d.regs, before, sizeof(before));
        /* Only reset leaves it, and the device is still untouched. */
        assert_int_equal(uvfio_core_reset(dst), 0);
        assert_int_equal(mt_get_state(dst), RUNNING);
        assert_memory_equal(d.regs, before, sizeof(before));
    }
    free(copy);
    blob_destroy(&d);
}

static void test_corrupted_image_refused(void **state)
{
    struct bytes img = { 0 };
    size_t hdr = 1 + UVFIO_MIG_IMAGE_HDR_SIZE;

    (void)state;
    full_stream(5000, 3, &img);
    /* Sanity: the untouched image loads. */
    refuse(&img, img.len, img.len, 0, 0, 0);
    /* A damaged payload byte: accepted on the way, refused by the CRC in
     * the RESUMING->STOP arc. */
    refuse(&img, img.len, hdr + 4000, 0x40, 0, -EBADMSG);
    refuse(&img, img.len, img.len - 1, 0x01, 0, -EBADMSG);
    /* A damaged header: refused as soon as it arrives, the stream is
     * broken, and the core refuses RESUMING->STOP without asking. */
    refuse(&img, img.len, 1, 0xff, -EINVAL, -EINVAL);        /* frame */
    refuse(&img, img.len, 1 + 8, 0x01, -EINVAL, -EINVAL);    /* magic */
    refuse(&img, img.len, 0, 'F' ^ 'X', -EINVAL, -EINVAL);   /* tag */
    free(img.p);
}

static void test_truncated_image_refused(void **state)
{
    struct bytes img = { 0 };

    (void)state;
    full_stream(5000, 3, &img);
    refuse(&img, img.len - 1, img.len, 0, 0, -EINVAL);
    refuse(&img, 1 + UVFIO_MIG_IMAGE_HDR_SIZE, img.len, 0, 0, -EINVAL);
    refuse(&img, 10, img.len, 0, 0, -EINVAL);
    refuse(&img, 1, img.len, 0, 0, -EINVAL);
    refuse(&img, 0, img.len, 0, 0, -EINVAL);
    /* One byte too many is refused on arrival. */
    refuse(&img, img.len + 1, img.len + 1, 0, -EFBIG, -EINVAL);
    free(img.p);
}

static void test_data_size_every_state(void **state)
{
    struct blob b;
    struct uvfio_device *dev = mk(&b, 4321, SC | P2P | PRE, 1, XFER);
    static const uint32_t states[] = { RUNNING, PRE_COPY, PRE_COPY_P2P,
                                       STOP_COPY, STOP, RESUMING };
    uint64_t len;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        assert_int_equal(mt_set_state(dev, states[i]), 0);
        assert_int_equal(mt_data_size(dev, &len), 0);
        assert_int_equal(len, blob_record_size(&b));
    }
    assert_int_equal(uvfio_core_reset(dev), 0);
    blob_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_sizes),
        cmocka_unit_test(test_default_max_xfer),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_short_driver_reads_are_joined),
        cmocka_unit_test(test_precopy_interleaved),
        cmocka_unit_test(test_reset_mid_stream),
        cmocka_unit_test(test_detach_mid_stream),
        cmocka_unit_test(test_stream_lifetimes),
        cmocka_unit_test(test_corrupted_image_refused),
        cmocka_unit_test(test_truncated_image_refused),
        cmocka_unit_test(test_data_size_every_state),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
