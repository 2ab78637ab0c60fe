/* SPDX-License-Identifier: MIT */
/*
 * test_version.c - the VERSION capabilities: parsing hostile JSON, building
 * it back, and negotiation never answering more than was offered.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/transport.h"
#include "proto/version.h"

/* Parse a C string the way it arrives: its bytes and the NUL, from an
 * exact-size heap copy so ASan sees any read past it. */
static int parse(const char *s, struct uvfio_caps *c)
{
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    int r;

    assert_non_null(copy);
    memcpy(copy, s, len);
    r = uvfio_caps_parse(copy, len, c);
    free(copy);
    return r;
}

static void assert_defaults(const struct uvfio_caps *c)
{
    struct uvfio_caps d;

    uvfio_caps_defaults(&d);
    assert_memory_equal(c, &d, sizeof(d));
    assert_int_equal(c->max_msg_fds, 1);
    assert_int_equal(c->max_data_xfer_size, 1 << 20);
    assert_int_equal(c->max_dma_maps, 65535);
    assert_int_equal(c->pgsizes, 4096);
    assert_false(c->write_multiple);
    assert_false(c->twin_socket);
    assert_int_equal(c->twin_fd_index, -1);
    assert_int_equal(c->extensions, 0);
}

static void test_defaults(void **state)
{
    struct uvfio_caps c;

    (void)state;
    memset(&c, 0xff, sizeof(c));
    assert_int_equal(uvfio_caps_parse(NULL, 0, &c), 0);
    assert_defaults(&c);
    assert_int_equal(parse("{}", &c), 0);
    assert_defaults(&c);
    assert_int_equal(parse("{\"capabilities\":{}}", &c), 0);
    assert_defaults(&c);
    assert_int_equal(parse("  {\"other\":[1,2,{\"x\":null}]}\n", &c), 0);
    assert_defaults(&c);
}

static void test_qemu_offer(void **state)
{
    struct uvfio_caps c;

    (void)state;
    assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":16,"
                           "\"max_data_xfer_size\":1048576,"
                           "\"migration\":{\"pgsize\":4096,"
                           "\"max_bitmap_size\":134217728}}}", &c), 0);
    assert_int_equal(c.max_msg_fds, 16);
    assert_int_equal(c.max_data_xfer_size, 1048576);
    assert_int_equal(c.max_dma_maps, 65535);
    assert_int_equal(c.pgsizes, 4096);
    assert_true(c.legacy_migration);
    assert_false(c.write_multiple);
    assert_int_equal(c.extensions, 0);
}

static void test_full_offer(void **state)
{
    struct uvfio_caps c;

    (void)state;
    assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":253,"
                           "\"max_data_xfer_size\":4096,"
                           "\"max_dma_maps\":4294967295,"
                           "\"pgsizes\":2101248,"
                           "\"write_multiple\":true,"
                           "\"twin_socket\":{\"supported\":true,\"fd_index\":0},"
                           "\"uvfio\":{\"precopy_info\":true,\"future\":[1]},"
                           "\"unknown\":{\"deep\":{\"er\":1}}}}", &c), 0);
    assert_int_equal(c.max_msg_fds, 253);
    assert_int_equal(c.max_data_xfer_size, 4096);
    assert_int_equal(c.max_dma_maps, 4294967295u);
    assert_int_equal(c.pgsizes, 2101248);
    assert_true(c.write_multiple);
    assert_true(c.twin_socket);
    assert_int_equal(c.twin_fd_index, 0);
    assert_int_equal(c.extensions, UVFIO_EXT_PRECOPY_INFO);
    assert_false(c.legacy_migration);

    assert_int_equal(parse("{\"capabilities\":{\"uvfio\":{\"precopy_info\":false},"
                           "\"twin_socket\":{\"supported\":false},"
                           "\"write_multiple\":false}}", &c), 0);
    assert_int_equal(c.extensions, 0);
    assert_false(c.twin_socket);
    assert_int_equal(c.twin_fd_index, -1);
    assert_false(c.write_multiple);
}

static void test_clamp_data_xfer(void **state)
{
    struct uvfio_caps c;

    (void)state;
    assert_int_equal(parse("{\"capabilities\":{\"max_data_xfer_size\":"
                           "1099511627776}}", &c), 0);
    assert_int_equal(c.max_data_xfer_size, UVFIO_MAX_DATA_XFER_LIMIT);
    assert_int_equal(parse("{\"capabilities\":{\"max_data_xfer_size\":"
                           "18446744073709551615}}", &c), 0);
    assert_int_equal(c.max_data_xfer_size, UVFIO_MAX_DATA_XFER_LIMIT);
}

/* Every one of these is refused with -EINVAL and leaves defaults behind. */
static const char *const bad_json[] = {
    /* not an object, or not JSON */
    "", " ", "[]", "1", "\"capabilities\"", "null", "true", "{", "}",
    "{\"capabilities\":{\"max_msg_fds\":1}", "{\"capabilities\":{}} x",
    "{}{}", "{\"a\":1,}", "{\"a\":01}",
    /* json-c takes NaN and Infinity even in strict mode (they are then
     * ignored under unknown keys); for a known key they are not integers */
    "{\"capabilities\":{\"max_msg_fds\":NaN}}",
    "{\"capabilities\":{\"pgsizes\":Infinity}}",
    "{\"capabilities\":{\"max_dma_maps\":-Infinity}}",
    "{\"a\":\"\\u12\"}",
    /* capabilities of the wrong kind */
    "{\"capabilities\":[]}", "{\"capabilities\":null}",
    "{\"capabilities\":1}", "{\"capabilities\":\"x\"}",
    /* wrong types */
    "{\"capabilities\":{\"max_msg_fds\":\"16\"}}",
    "{\"capabilities\":{\"max_msg_fds\":16.0}}",
    "{\"capabilities\":{\"max_msg_fds\":1e1}}",
    "{\"capabilities\":{\"max_msg_fds\":true}}",
    "{\"capabilities\":{\"max_msg_fds\":null}}",
    "{\"capabilities\":{\"max_msg_fds\":[16]}}",
    "{\"capabilities\":{\"max_data_xfer_size\":{}}}",
    "{\"capabilities\":{\"max_dma_maps\":\"many\"}}",
    "{\"capabilities\":{\"pgsizes\":4096.5}}",
    "{\"capabilities\":{\"write_multiple\":1}}",
    "{\"capabilities\":{\"write_multiple\":\"true\"}}",
    "{\"capabilities\":{\"twin_socket\":true}}",
    "{\"capabilities\":{\"twin_socket\":{\"supported\":1}}}",
    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":\"0\"}}}",
    "{\"capabilities\":{\"migration\":5}}",
    "{\"capabilities\":{\"migration\":[]}}",
    "{\"capabilities\":{\"uvfio\":[]}}",
    "{\"capabilities\":{\"uvfio\":{\"precopy_info\":1}}}",
    /* negative */
    "{\"capabilities\":{\"max_msg_fds\":-1}}",
    "{\"capabilities\":{\"max_data_xfer_size\":-4096}}",
    "{\"capabilities\":{\"max_dma_maps\":-1}}",
    "{\"capabilities\":{\"pgsizes\":-4096}}",
    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":-1}}}",
    "{\"capabilities\":{\"max_msg_fds\":-9223372036854775809}}",
    /* out of range / huge */
    "{\"capabilities\":{\"max_msg_fds\":254}}",
    "{\"capabilities\":{\"max_msg_fds\":4294967297}}",
    "{\"capabilities\":{\"max_msg_fds\":18446744073709551616}}",
    "{\"capabilities\":{\"max_data_xfer_size\":0}}",
    "{\"capabilities\":{\"max_data_xfer_size\":4095}}",
    "{\"capabilities\":{\"max_dma_maps\":4294967296}}",
    "{\"capabilities\":{\"pgsizes\":0}}",
    "{\"capabilities\":{\"pgsizes\":9223372036854775808}}",
    "{\"capabilities\":{\"pgsizes\":99999999999999999999999999}}",
    "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":253}}}",
};

static void test_bad_json(void **state)
{
    struct uvfio_caps c;
    size_t i, failed = 0;
    int r;

    (void)state;
    for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        r = parse(bad_json[i], &c);
        if (r != -EINVAL) {
            print_error("accepted (%d): %s\n", r, bad_json[i]);
            failed++;
            continue;
        }
        assert_defaults(&c);
    }
    assert_int_equal(failed, 0);
}

static void test_nested_garbage(void **state)
{
    char deep[4096];
    struct uvfio_caps c;
    size_t n = 0, i;

    (void)state;
    /* nesting far past json-c's depth limit inside an unknown key */
    n += (size_t)snprintf(deep, sizeof(deep), "{\"capabilities\":{\"x\":");
    for (i = 0; i < 1000; i++)
        deep[n++] = '[';
    for (i = 0; i < 1000; i++)
        deep[n++] = ']';
    memcpy(deep + n, "}}", 3);
    assert_int_equal(parse(deep, &c), -EINVAL);
    /* unbalanced */
    memcpy(deep + n - 1, "}}", 3);
    assert_int_equal(parse(deep, &c), -EINVAL);
    /* shallow unknown nesting is ignored */
    assert_int_equal(parse("{\"capabilities\":{\"x\":[[[{\"y\":[1,2]}]]],"
                           "\"max_msg_fds\":4}}", &c), 0);
    assert_int_equal(c.max_msg_fds, 4);
}

static void test_nul_handling(void **state)
{
    static const char no_nul[] = "{\"capabilities\":{}}";
    static const char after[] = "{}\0garbage that is not JSON";
    static const char inner[] = "{\"capabilities\":\0{\"max_msg_fds\":4}}";
    char *copy;
    struct uvfio_caps c;

    (void)state;
    /* exactly the JSON bytes, no NUL: refused without reading past them */
    copy = malloc(sizeof(no_nul) - 1);
    assert_non_null(copy);
    memcpy(copy, no_nul, sizeof(no_nul) - 1);
    assert_int_equal(uvfio_caps_parse(copy, sizeof(no_nul) - 1, &c), -EINVAL);
    free(copy);
    /* a lone NUL is an empty document, not an object */
    assert_int_equal(uvfio_caps_parse("", 1, &c), -EINVAL);
    /* bytes after the NUL are not looked at */
    assert_int_equal(uvfio_caps_parse(after, sizeof(after), &c), 0);
    assert_defaults(&c);
    /* the JSON ends at the first NUL */
    assert_int_equal(uvfio_caps_parse(inner, sizeof(inner), &c), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
    struct uvfio_buf b = UVFIO_BUF_INIT;
    struct uvfio_caps c, back;

    (void)state;
    uvfio_caps_defaults(&c);
    assert_int_equal(uvfio_caps_format(&c, &b), 0);
    assert_int_equal(b.data[b.len - 1], '\0');
    assert_int_equal(strlen((char *)b.data) + 1, b.len);
    assert_null(strstr((char *)b.data, "twin_socket"));
    assert_null(strstr((char *)b.data, "uvfio"));
    assert_null(strstr((char *)b.data, "write_multiple"));
    assert_null(strstr((char *)b.data, "migration"));
    assert_int_equal(uvfio_caps_parse((char *)b.data, b.len, &back), 0);
    assert_memory_equal(&c, &back, sizeof(c));

    c.max_msg_fds = 253;
    c.max_data_xfer_size = UVFIO_MAX_DATA_XFER_LIMIT;
    c.max_dma_maps = UINT32_MAX;
    c.pgsizes = INT64_MAX;
    c.write_multiple = true;
    c.twin_socket = true;
    c.twin_fd_index = 0;
    c.extensions = UVFIO_EXT_PRECOPY_INFO;
    uvfio_buf_reset(&b);
    assert_int_equal(uvfio_caps_format(&c, &b), 0);
    assert_non_null(strstr((char *)b.data, "\"precopy_info\":true"));
    assert_non_null(strstr((char *)b.data, "\"fd_index\":0"));
    assert_int_equal(uvfio_caps_parse((char *)b.data, b.len, &back), 0);
    assert_memory_equal(&c, &back, sizeof(c));

    /* format appends */
    b.len--;
    assert_int_equal(uvfio_caps_format(&c, &b), 0);
    assert_int_equal(b.data[b.len - 1], '\0');
    uvfio_buf_free(&b);
}

static void test_negotiate(void **state)
{
    struct uvfio_caps off, lim, rep;

    (void)state;
    assert_int_equal(parse("{\"capabilities\":{\"max_msg_fds\":16,"
                           "\"max_data_xfer_size\":1048576,"
                           "\"pgsizes\":12288,"
                           "\"migration\":{\"pgsize\":4096}}}", &off), 0);
    uvfio_caps_defaults(&lim);
    lim.max_msg_fds = 8;
    lim.max_data_xfer_size = 1ull << 40;
    lim.max_dma_maps = 100;
    lim.pgsizes = 4096 | (2u << 20);
    lim.write_multiple = true;
    lim.twin_socket = true;
    lim.twin_fd_index = 3;
    lim.extensions = UVFIO_EXT_PRECOPY_INFO;
    assert_int_equal(uvfio_caps_negotiate(&off, &lim, &rep), 0);
    assert_int_equal(rep.max_msg_fds, 8);
    assert_int_equal(rep.max_data_xfer_size, 1048576);
    assert_int_equal(rep.max_dma_maps, 100);
    assert_int_equal(rep.pgsizes, 4096);
    assert_false(rep.write_multiple);   /* not offered */
    assert_false(rep.twin_socket);
    assert_int_equal(rep.twin_fd_index, -1);
    assert_int_equal(rep.extensions, 0);
    assert_false(rep.legacy_migration); /* never echoed */

    /* limits above the hard ceiling are clamped */
    off.max_data_xfer_size = UVFIO_MAX_DATA_XFER_LIMIT;
    off.write_multiple = true;
    off.twin_socket = true;
    off.extensions = UVFIO_EXT_PRECOPY_INFO;
    assert_int_equal(uvfio_caps_negotiate(&off, &lim, &rep), 0);
    assert_int_equal(rep.max_data_xfer_size, UVFIO_MAX_DATA_XFER_LIMIT);
    assert_true(rep.write_multiple);
    assert_true(rep.twin_socket);
    assert_int_equal(rep.extensions, UVFIO_EXT_PRECOPY_INFO);

    /* no page size in common */
    off.pgsizes = 8192;
    assert_int_equal(uvfio_caps_negotiate(&off, &lim, &rep), -ENOTSUP);
}

/* ---- property: the reply is a subset of the offer -------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_caps(struct uvfio_caps *c)
{
    uvfio_caps_defaults(c);
    c->max_msg_fds = (uint32_t)(rnd() % (UVFIO_MAX_FDS_LIMIT + 1));
    c->max_data_xfer_size = 4096 + rnd() % (UVFIO_MAX_DATA_XFER_LIMIT - 4095);
    c->max_dma_maps = rnd() % ((uint64_t)UINT32_MAX + 1);
    c->pgsizes = (rnd() & rnd() & INT64_MAX) | (rnd() & 1 ? 4096 : 0);
    if (!c->pgsizes)
        c->pgsizes = 1;
    c->write_multiple = rnd() & 1;
    c->twin_socket = rnd() & 1;
    c->extensions = rnd() & 1 ? UVFIO_EXT_PRECOPY_INFO : 0;
}

/* Through JSON and back, as the server would see it. */
static void via_json(const struct uvfio_caps *in, struct uvfio_caps *out)
{
    struct uvfio_buf b = UVFIO_BUF_INIT;

    assert_int_equal(uvfio_caps_format(in, &b), 0);
    assert_int_equal(uvfio_caps_parse((char *)b.data, b.len, out), 0);
    uvfio_buf_free(&b);
}

static void assert_subset(const struct uvfio_caps *rep,
                          const struct uvfio_caps *off,
                          const struct uvfio_caps *lim)
{
    assert_true(rep->max_msg_fds <= off->max_msg_fds);
    assert_true(rep->max_msg_fds <= lim->max_msg_fds);
    assert_true(rep->max_data_xfer_size <= off->max_data_xfer_size);
    assert_true(rep->max_data_xfer_size <= UVFIO_MAX_DATA_XFER_LIMIT);
    assert_true(rep->max_dma_maps <= off->max_dma_maps);
    assert_true(rep->max_dma_maps <= lim->max_dma_maps);
    assert_int_not_equal(rep->pgsizes, 0);
    assert_int_equal(rep->pgsizes & ~off->pgsizes, 0);
    assert_int_equal(rep->pgsizes & ~lim->pgsizes, 0);
    assert_true(!rep->write_multiple || off->write_multiple);
    assert_true(!rep->twin_socket || off->twin_socket);
    assert_int_equal(rep->extensions & ~off->extensions, 0);
    assert_int_equal(rep->extensions & ~lim->extensions, 0);
}

static void test_negotiate_random(void **state)
{
    struct uvfio_caps off, wire, lim, rep, rep_back;
    unsigned i, empty = 0;
    int r;

    (void)state;
    for (i = 0; i < 3000; i++) {
        random_caps(&off);
        random_caps(&lim);
        via_json(&off, &wire);
        assert_memory_equal(&off, &wire, sizeof(off));
        r = uvfio_caps_negotiate(&wire, &lim, &rep);
        if (r == -ENOTSUP) {
            assert_int_equal(off.pgsizes & lim.pgsizes, 0);
            empty++;
            continue;
        }
        assert_int_equal(r, 0);
        assert_subset(&rep, &off, &lim);
        /* and the client reading the reply sees the same subset */
        via_json(&rep, &rep_back);
        assert_memory_equal(&rep, &rep_back, sizeof(rep));
    }
    /* the generator exercised both outcomes */
    assert_true(empty > 0 && empty < i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_qemu_offer),
        cmocka_unit_test(test_full_offer),
        cmocka_unit_test(test_clamp_data_xfer),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_nested_garbage),
        cmocka_unit_test(test_nul_handling),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_negotiate_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
