// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_verify.c - the page bitmap a migration sends from,
 * and the hashes and comparisons that judge its result.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pagebits.h"
#include "verify.h"

/* ---- pagebits ----------------------------------------------------------- */

/* A plain bool array to check the bitmap against. */
static void check_against(const struct pagebits *b, const bool *ref)
{
    uint64_t n = 0, pos = 0, run, expect_pos;

    for (uint64_t i = 0; i < b->nbits; i++) {
        assert_int_equal(pagebits_test(b, i), ref[i]);
        n += ref[i];
    }
    assert_int_equal(pagebits_count(b), n);
    /* the runs visit exactly the set bits, in order, each run maximal */
    expect_pos = 0;
    while ((run = pagebits_next_run(b, &pos, UINT64_MAX))) {
        for (; expect_pos < pos; expect_pos++)
            assert_false(ref[expect_pos]);
        for (uint64_t i = pos; i < pos + run; i++)
            assert_true(ref[i]);
        assert_true(pos + run == b->nbits || !ref[pos + run]);
        pos += run;
        expect_pos = pos;
    }
    for (; expect_pos < b->nbits; expect_pos++)
        assert_false(ref[expect_pos]);
}

static void test_pagebits_ranges(void **state)
{
    static const uint64_t sizes[] = { 1, 63, 64, 65, 127, 128, 1000, 4097 };
    struct pagebits b;
    uint64_t seed = 1;

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        bool *ref = calloc(n, sizeof(*ref));

        assert_non_null(ref);
        assert_int_equal(pagebits_init(&b, n), 0);
        for (int k = 0; k < 200; k++) {
            uint64_t first, count;

            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            first = (seed >> 33) % (n + 3);
            count = (seed >> 13) % 150;
            pagebits_set_range(&b, first, count);
            for (uint64_t i = first; i < n && i < first + count; i++)
                ref[i] = true;
            if (k % 37 == 0) {
                pagebits_clear(&b);
                memset(ref, 0, n * sizeof(*ref));
            }
            check_against(&b, ref);
        }
        pagebits_fini(&b);
        free(ref);
    }
}

/* A report ORed in may carry bits past the end: they never count. */
static void test_pagebits_tail_ignored(void **state)
{
    struct pagebits b;
    uint64_t words[2] = { 0, ~0ull };
    uint64_t pos = 0;

    (void)state;
    assert_int_equal(pagebits_init(&b, 70), 0);
    pagebits_or(&b, words);
    assert_int_equal(pagebits_count(&b), 6);
    assert_int_equal(pagebits_next_run(&b, &pos, UINT64_MAX), 6);
    assert_int_equal(pos, 64);
    pos = 70;
    assert_int_equal(pagebits_next_run(&b, &pos, UINT64_MAX), 0);
    assert_false(pagebits_test(&b, 70));
    pagebits_fill(&b);
    assert_int_equal(pagebits_count(&b), 70);
    pos = 0;
    assert_int_equal(pagebits_next_run(&b, &pos, 16), 16);
    assert_int_equal(pos, 0);
    pagebits_fini(&b);
}

static void test_pagebits_bad_size(void **state)
{
    struct pagebits b;

    (void)state;
    assert_int_equal(pagebits_init(&b, 0), -EINVAL);
    assert_int_equal(pagebits_init(&b, UINT64_MAX), -EINVAL);
    pagebits_fini(&b);      /* safe on a failed init */
}

/* ---- hashes ------------------------------------------------------------- */

/* Every single-bit change anywhere in a page, and every length, changes
 * the hash: what a missed, torn or misplaced page looks like. */
static void test_hash_sensitive(void **state)
{
    uint8_t page[4096];
    uint64_t h0;

    (void)state;
    for (size_t i = 0; i < sizeof(page); i++)
        page[i] = (uint8_t)(i * 7 + 3);
    h0 = verify_hash(page, sizeof(page));
    assert_int_equal(verify_hash(page, sizeof(page)), h0);
    for (size_t bit = 0; bit < sizeof(page) * 8; bit += 7) {
        page[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(verify_hash(page, sizeof(page)) != h0);
        page[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t len = 0; len < 100; len++)
        assert_true(verify_hash(page, len) != verify_hash(page, len + 1));
    /* zero pages of different lengths differ too */
    memset(page, 0, sizeof(page));
    assert_true(verify_hash(page, 4096) != verify_hash(page, 4088));
    /* misalignment gives the same answer */
    {
        uint8_t *copy = malloc(4097);

        assert_non_null(copy);
        memcpy(copy + 1, page, 4096);
        assert_int_equal(verify_hash(copy + 1, 4096),
                         verify_hash(page, 4096));
        free(copy);
    }
}

/* Swapping two pages keeps their multiset but must change the digest. */
static void test_digest_order(void **state)
{
    enum { N = 16 };
    uint8_t *mem = calloc(N, 4096);
    uint64_t a[N], b[N];

    (void)state;
    assert_non_null(mem);
    for (int i = 0; i < N; i++)
        memset(mem + i * 4096, i, 4096);
    verify_page_sums(mem, N, a);
    memset(mem + 3 * 4096, 9, 4096);
    memset(mem + 9 * 4096, 3, 4096);
    verify_page_sums(mem, N, b);
    assert_true(verify_digest(a, N) != verify_digest(b, N));
    free(mem);
}

/* ---- comparisons -------------------------------------------------------- */

static void test_compare_sums(void **state)
{
    enum { N = 100 };
    uint64_t a[N], b[N];
    struct verify_mem m;

    (void)state;
    for (int i = 0; i < N; i++)
        a[i] = b[i] = (uint64_t)i * 977;
    verify_compare_sums(a, b, N, &m);
    assert_int_equal(m.differ, 0);
    assert_int_equal(m.nlisted, 0);
    assert_int_equal(m.npages, N);

    for (int i = 5; i < N; i += 9)
        b[i]++;
    verify_compare_sums(a, b, N, &m);
    assert_int_equal(m.differ, 11);
    assert_int_equal(m.first, 5);
    assert_int_equal(m.nlisted, VERIFY_LISTED);
    for (unsigned int i = 0; i < VERIFY_LISTED; i++)
        assert_int_equal(m.listed[i], 5 + 9 * i);
}

static void test_compare_bytes(void **state)
{
    const char *s = "abcdefgh";
    struct verify_dev d;

    (void)state;
    verify_compare_bytes(s, 8, s, 8, &d);
    assert_true(d.same);
    verify_compare_bytes(s, 8, "abcdXfgh", 8, &d);
    assert_false(d.same);
    assert_int_equal(d.first, 4);
    /* a prefix: the first difference is where the shorter ends */
    verify_compare_bytes(s, 8, s, 5, &d);
    assert_false(d.same);
    assert_int_equal(d.first, 5);
    assert_int_equal(d.src_len, 8);
    assert_int_equal(d.dst_len, 5);
    verify_compare_bytes(s, 0, s, 0, &d);
    assert_true(d.same);
    verify_compare_bytes("x", 1, "y", 1, &d);
    assert_false(d.same);
    assert_int_equal(d.first, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pagebits_ranges),
        cmocka_unit_test(test_pagebits_tail_ignored),
        cmocka_unit_test(test_pagebits_bad_size),
        cmocka_unit_test(test_hash_sensitive),
        cmocka_unit_test(test_digest_order),
        cmocka_unit_test(test_compare_sums),
        cmocka_unit_test(test_compare_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
