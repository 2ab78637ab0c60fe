/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_image.c - the framed state image helper: CRC-32,
 * save/read, and every way a received image can be wrong.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <uvfio/migration.h>

#define MAGIC   0x53455249414c3031ull
#define VER     3u

static void test_crc32_known_values(void **state)
{
    (void)state;
    /* The standard check value of CRC-32/IEEE, and the empty string. */
    assert_int_equal(uvfio_crc32(0, "123456789", 9), 0xcbf43926u);
    assert_int_equal(uvfio_crc32(0, "", 0), 0);
    /* Continuation equals one pass. */
    assert_int_equal(uvfio_crc32(uvfio_crc32(0, "12345", 5), "6789", 4),
                     0xcbf43926u);
}

/* Save an image of `n` pattern bytes into a malloc'd stream. */
static uint8_t *make_stream(size_t n, uint32_t version, size_t *len)
{
    struct uvfio_mig_image img = { 0 };
    uint8_t *state = malloc(n + 1), *out;
    size_t i, got = 0;
    ssize_t r;

    for (i = 0; i < n; i++)
        state[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(uvfio_mig_image_save(&img, MAGIC, version, state, n), 0);
    *len = (size_t)uvfio_mig_image_size(n);
    assert_int_equal(uvfio_mig_image_remaining(&img), *len);
    out = malloc(*len + 1);
    /* Odd-sized reads: the stream must come out whole and in order. */
    while ((r = uvfio_mig_image_read(&img, out + got, 13)) > 0)
        got += (size_t)r;
    assert_int_equal(r, 0);
    assert_int_equal(got, *len);
    assert_int_equal(uvfio_mig_image_remaining(&img), 0);
    uvfio_mig_image_clear(&img);
    free(state);
    return out;
}

static int load(const uint8_t *s, size_t len, size_t chunk, size_t max,
                uint32_t version, const void **payload, size_t *plen,
                struct uvfio_mig_image *img)
{
    size_t off, n;
    int ret;

    assert_int_equal(uvfio_mig_image_load_begin(img, MAGIC, version, max), 0);
    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        ret = uvfio_mig_image_write(img, s + off, n);
        if (ret)
            return ret;
    }
    return uvfio_mig_image_load_end(img, payload, plen, NULL);
}

static void test_roundtrip_any_chunking(void **state)
{
    static const size_t chunks[] = { 1, 2, 31, 32, 33, 4096, 100000 };
    struct uvfio_mig_image img = { 0 };
    const uint8_t *p;
    size_t len, plen, i, k;
    uint8_t *s = make_stream(5000, VER, &len);

    (void)state;
    for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        assert_int_equal(load(s, len, chunks[k], 5000, VER,
                              (const void **)&p, &plen, &img), 0);
        assert_int_equal(plen, 5000);
        for (i = 0; i < plen; i++)
            assert_int_equal(p[i], (uint8_t)(i * 7 + 1));
        assert_int_equal(uvfio_mig_image_needed(&img), 0);
        uvfio_mig_image_clear(&img);
    }
    free(s);
}

static void test_empty_payload(void **state)
{
    struct uvfio_mig_image img = { 0 };
    const void *p;
    size_t len, plen = 99;
    uint8_t *s = make_stream(0, VER, &len);

    (void)state;
    assert_int_equal(len, UVFIO_MIG_IMAGE_HDR_SIZE);
    assert_int_equal(load(s, len, 7, 0, VER, &p, &plen, &img), 0);
    assert_int_equal(plen, 0);
    uvfio_mig_image_clear(&img);
    free(s);
}

static void test_truncated(void **state)
{
    struct uvfio_mig_image img = { 0 };
    const void *p;
    size_t len, plen, cut;
    uint8_t *s = make_stream(300, VER, &len);

    (void)state;
    /* Every possible truncation point, header included. */
    for (cut = 0; cut < len; cut++) {
        assert_int_equal(load(s, cut, 64, 300, VER, &p, &plen, &img),
                         -EINVAL);
        /* Header first, then the payload the header announced. */
        assert_int_equal(uvfio_mig_image_needed(&img),
                         cut < UVFIO_MIG_IMAGE_HDR_SIZE
                         ? UVFIO_MIG_IMAGE_HDR_SIZE - cut : len - cut);
        uvfio_mig_image_clear(&img);
    }
    free(s);
}

static void test_corrupted(void **state)
{
    struct uvfio_mig_image img = { 0 };
    const void *p;
    size_t len, plen, at;
    uint8_t *s = make_stream(300, VER, &len);
    int ret;

    (void)state;
    /* Flip one bit anywhere: every position must be refused, by the
     * header checks (frame, magic, version, length) or by the CRC. */
    for (at = 0; at < len; at++) {
        s[at] ^= 0x10;
        ret = load(s, len, 50, 300, VER, &p, &plen, &img);
        assert_true(ret == -EINVAL || ret == -EBADMSG || ret == -EFBIG);
        uvfio_mig_image_clear(&img);
        s[at] ^= 0x10;
    }
    /* A payload byte specifically: the CRC catches it. */
    s[UVFIO_MIG_IMAGE_HDR_SIZE + 100] ^= 1;
    assert_int_equal(load(s, len, 50, 300, VER, &p, &plen, &img), -EBADMSG);
    uvfio_mig_image_clear(&img);
    free(s);
}

static void test_header_refused_early(void **state)
{
    struct uvfio_mig_image img = { 0 };
    uint8_t *s;
    size_t len;

    (void)state;
    /* A newer driver's image: refused as soon as the header is in. */
    s = make_stream(100, VER + 1, &len);
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 100), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s,
                                           UVFIO_MIG_IMAGE_HDR_SIZE - 1), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s + 31, 1), -EINVAL);
    /* The error sticks. */
    assert_int_equal(uvfio_mig_image_write(&img, s + 32, 1), -EINVAL);
    uvfio_mig_image_clear(&img);
    free(s);

    /* An older one is accepted and its version reported. */
    s = make_stream(100, VER - 1, &len);
    {
        const void *p;
        size_t plen;
        uint32_t v = 0;

        assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 100),
                         0);
        assert_int_equal(uvfio_mig_image_write(&img, s, len), 0);
        assert_int_equal(uvfio_mig_image_load_end(&img, &p, &plen, &v), 0);
        assert_int_equal(v, VER - 1);
        uvfio_mig_image_clear(&img);
    }
    /* Another device's magic. */
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC + 1, VER, 100), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s, len), -EINVAL);
    uvfio_mig_image_clear(&img);
    /* More state than this device can hold. */
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 99), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s, len), -EINVAL);
    uvfio_mig_image_clear(&img);
    free(s);
}

static void test_overrun(void **state)
{
    struct uvfio_mig_image img = { 0 };
    uint8_t *s, extra[2] = { 0, 0 };
    const void *p;
    size_t len, plen;

    (void)state;
    s = make_stream(100, VER, &len);
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 100), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s, len), 0);
    assert_int_equal(uvfio_mig_image_write(&img, extra, 1), -EFBIG);
    assert_int_equal(uvfio_mig_image_load_end(&img, &p, &plen, NULL), -EFBIG);
    uvfio_mig_image_clear(&img);
    /* In one write too. */
    s = realloc(s, len + 1);
    s[len] = 0;
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 100), 0);
    assert_int_equal(uvfio_mig_image_write(&img, s, len + 1), -EFBIG);
    uvfio_mig_image_clear(&img);
    free(s);
}

static void test_misuse(void **state)
{
    struct uvfio_mig_image img = { 0 };
    uint8_t b[4] = { 1, 2, 3, 4 };
    const void *p;
    size_t plen;

    (void)state;
    /* A cleared/zeroed image is neither saving nor loading. */
    assert_int_equal(uvfio_mig_image_read(&img, b, 4), 0);
    assert_int_equal(uvfio_mig_image_write(&img, b, 4), -EINVAL);
    assert_int_equal(uvfio_mig_image_load_end(&img, &p, &plen, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_mig_image_needed(&img), 0);
    /* Reading a loading image is a driver bug. */
    assert_int_equal(uvfio_mig_image_load_begin(&img, MAGIC, VER, 10), 0);
    assert_int_equal(uvfio_mig_image_read(&img, b, 4), -EINVAL);
    assert_int_equal(uvfio_mig_image_needed(&img), UVFIO_MIG_IMAGE_HDR_SIZE);
    uvfio_mig_image_clear(&img);
    uvfio_mig_image_clear(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_values),
        cmocka_unit_test(test_roundtrip_any_chunking),
        cmocka_unit_test(test_empty_payload),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_corrupted),
        cmocka_unit_test(test_header_refused_early),
        cmocka_unit_test(test_overrun),
        cmocka_unit_test(test_misuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
