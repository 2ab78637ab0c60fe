/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/test_fsm.c - the pure state machine (core/mig_fsm.c)
 * against the independent oracle and against the routes the algorithms
 * document lists (§1.4), for every flag set and every pair of states.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "core/mig_fsm.h"
#include "oracle.h"

enum {
    ERROR = UVFIO_MIG_STATE_ERROR,
    STOP = UVFIO_MIG_STATE_STOP,
    RUNNING = UVFIO_MIG_STATE_RUNNING,
    STOP_COPY = UVFIO_MIG_STATE_STOP_COPY,
    RESUMING = UVFIO_MIG_STATE_RESUMING,
    RUNNING_P2P = UVFIO_MIG_STATE_RUNNING_P2P,
    PRE_COPY = UVFIO_MIG_STATE_PRE_COPY,
    PRE_COPY_P2P = UVFIO_MIG_STATE_PRE_COPY_P2P,
    END = 99,
};

#define SC  UVFIO_MIGRATION_STOP_COPY
#define P2P UVFIO_MIGRATION_P2P
#define PRE UVFIO_MIGRATION_PRE_COPY

/* Walk the implementation's next-hop function; -errno or the arc count. */
static int fsm_walk(uint32_t from, uint32_t to, uint64_t flags,
                    uint32_t route[ORACLE_MAX_ROUTE])
{
    uint32_t cur = from;
    int n = 0, next;

    if (!uvfio_mig_state_supported(to, flags))
        return -EINVAL;
    while (cur != to) {
        if (n == ORACLE_MAX_ROUTE)
            return -ELOOP;
        next = uvfio_mig_next_state(cur, to, flags);
        if (next < 0)
            return n ? -EPROTO : next;  /* a walk must fail at once or never */
        route[n++] = (uint32_t)next;
        cur = (uint32_t)next;
    }
    return n;
}

static void print_route(const char *who, uint32_t from, const uint32_t *r,
                        int n)
{
    int i;

    fprintf(stderr, "  %s: %s", who, oracle_state_name(from));
    for (i = 0; i < n; i++)
        fprintf(stderr, " -> %s", oracle_state_name(r[i]));
    fprintf(stderr, " (%d)\n", n);
}

static void test_oracle_is_unambiguous(void **state)
{
    uint32_t r[ORACLE_MAX_ROUTE];
    int fs, ret;
    uint32_t from, to;

    (void)state;
    for (fs = 0; fs < 4; fs++)
        for (from = 0; from < UVFIO_MIG_STATE_COUNT; from++)
            for (to = 0; to < UVFIO_MIG_STATE_COUNT; to++) {
                ret = oracle_route(from, to, oracle_flag_sets[fs], r);
                if (ret == -ENOTUNIQ)
                    fprintf(stderr, "%s: %s -> %s ambiguous\n",
                            oracle_flag_set_names[fs],
                            oracle_state_name(from), oracle_state_name(to));
                assert_int_not_equal(ret, -ENOTUNIQ);
            }
}

/* Every pair, every flag set: the implementation walks the oracle's route
 * arc by arc, or refuses exactly what the oracle refuses, with EINVAL. */
static void test_matrix_matches_oracle(void **state)
{
    uint32_t want[ORACLE_MAX_ROUTE], got[ORACLE_MAX_ROUTE];
    int fs, nw, ng, i, compared = 0, refused = 0;
    uint32_t from, to;

    (void)state;
    for (fs = 0; fs < 4; fs++) {
        uint64_t flags = oracle_flag_sets[fs];

        for (from = 0; from < UVFIO_MIG_STATE_COUNT; from++) {
            if (!oracle_state_exists(from, flags))
                continue;   /* the walk never starts there */
            for (to = 0; to < UVFIO_MIG_STATE_COUNT; to++) {
                nw = oracle_route(from, to, flags, want);
                ng = fsm_walk(from, to, flags, got);
                if (nw != ng) {
                    fprintf(stderr, "%s: %s -> %s\n",
                            oracle_flag_set_names[fs],
                            oracle_state_name(from), oracle_state_name(to));
                    if (nw >= 0) print_route("oracle", from, want, nw);
                    if (ng >= 0) print_route("fsm", from, got, ng);
                }
                assert_int_equal(ng, nw);
                for (i = 0; i < nw; i++)
                    assert_int_equal(got[i], want[i]);
                if (nw < 0)
                    refused++;
                compared++;
            }
        }
    }
    /* 4 + 5 + 5 + 7 existing states, 8 targets each. */
    assert_int_equal(compared, (4 + 5 + 5 + 7) * 8);
    /* Each existing state to each absent one (ERROR included), plus
     * STOP_COPY -> PRE_COPY (PRE_COPY set) and -> PRE_COPY(_P2P) (all). */
    assert_int_equal(refused, 4 * 4 + 5 * 3 + 5 * 3 + 7 * 1 + 1 + 2);
}

/* The routes the algorithms document spells out (§1.4). */
struct doc_route {
    uint64_t flags;
    uint32_t path[ORACLE_MAX_ROUTE + 1];    /* from, ..., to, END */
};

static const struct doc_route doc_routes[] = {
    { SC | P2P | PRE, { RUNNING, RUNNING_P2P, STOP, END } },
    { SC | P2P | PRE, { RUNNING, RUNNING_P2P, STOP, STOP_COPY, END } },
    { SC | P2P | PRE, { RUNNING, RUNNING_P2P, PRE_COPY_P2P, END } },
    { SC | P2P | PRE, { STOP, RUNNING_P2P, RUNNING, END } },
    { SC | P2P | PRE, { STOP, RUNNING_P2P, RUNNING, PRE_COPY, END } },
    { SC | P2P | PRE, { PRE_COPY, RUNNING, RUNNING_P2P, STOP, END } },
    { SC | P2P | PRE, { PRE_COPY, PRE_COPY_P2P, STOP_COPY, END } },
    { SC | P2P | PRE,
      { PRE_COPY, RUNNING, RUNNING_P2P, STOP, RESUMING, END } },
    { SC | P2P | PRE, { PRE_COPY_P2P, RUNNING_P2P, RUNNING, END } },
    { SC | P2P | PRE, { STOP_COPY, STOP, RUNNING_P2P, RUNNING, END } },
    { SC | P2P | PRE, { RESUMING, STOP, RUNNING_P2P, RUNNING, END } },
    { SC | P2P | PRE,
      { RESUMING, STOP, RUNNING_P2P, RUNNING, PRE_COPY, END } },
    { SC, { RUNNING, STOP, END } },
    { SC, { STOP, RUNNING, END } },
    { SC, { STOP_COPY, STOP, RUNNING, END } },
    { SC, { RESUMING, STOP, RUNNING, END } },
    { SC | PRE, { PRE_COPY, STOP_COPY, END } },
    { SC | PRE, { PRE_COPY, RUNNING, STOP, END } },
    { SC | PRE, { STOP, RUNNING, PRE_COPY, END } },
};

static void test_documented_routes(void **state)
{
    uint32_t r[ORACLE_MAX_ROUTE];
    size_t i;
    int n, k, len;

    (void)state;
    for (i = 0; i < sizeof(doc_routes) / sizeof(doc_routes[0]); i++) {
        const struct doc_route *d = &doc_routes[i];

        for (len = 0; d->path[len + 1] != END; len++)
            ;
        n = oracle_route(d->path[0], d->path[len], d->flags, r);
        assert_int_equal(n, len);
        for (k = 0; k < n; k++)
            assert_int_equal(r[k], d->path[k + 1]);
        n = fsm_walk(d->path[0], d->path[len], d->flags, r);
        assert_int_equal(n, len);
        for (k = 0; k < n; k++)
            assert_int_equal(r[k], d->path[k + 1]);
    }
}

/* STOP_COPY -> PRE_COPY(_P2P) is refused at once, not looped on (the
 * kernel's 2026 fix), on every device that has the target. */
static void test_blocked_arc_does_not_loop(void **state)
{
    int fs;

    (void)state;
    for (fs = 0; fs < 4; fs++) {
        uint64_t flags = oracle_flag_sets[fs];

        assert_int_equal(uvfio_mig_next_state(STOP_COPY, PRE_COPY, flags),
                         -EINVAL);
        assert_int_equal(uvfio_mig_next_state(STOP_COPY, PRE_COPY_P2P,
                                              flags), -EINVAL);
    }
}

static void test_bad_numbers(void **state)
{
    static const uint32_t bad[] = { 8, 9, 255, 0x80000000u, UINT32_MAX };
    size_t i;
    int fs;

    (void)state;
    for (fs = 0; fs < 4; fs++) {
        uint64_t flags = oracle_flag_sets[fs];

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            assert_false(uvfio_mig_state_supported(bad[i], flags));
            assert_int_equal(uvfio_mig_next_state(RUNNING, bad[i], flags),
                             -EINVAL);
            assert_int_equal(uvfio_mig_next_state(bad[i], RUNNING, flags),
                             -EINVAL);
        }
        assert_int_equal(uvfio_mig_next_state(ERROR, RUNNING, flags),
                         -EINVAL);
        assert_int_equal(uvfio_mig_next_state(RUNNING, ERROR, flags),
                         -EINVAL);
    }
    /* Without STOP_COPY nothing exists. */
    assert_false(uvfio_mig_state_supported(RUNNING, P2P | PRE));
    assert_int_equal(uvfio_mig_next_state(RUNNING, STOP, 0), -EINVAL);
}

static void test_supported_matches_oracle(void **state)
{
    uint32_t s;
    int fs;

    (void)state;
    for (fs = 0; fs < 4; fs++)
        for (s = 0; s < 12; s++)
            assert_int_equal(uvfio_mig_state_supported(s,
                                                       oracle_flag_sets[fs]),
                             oracle_state_exists(s, oracle_flag_sets[fs]));
}

/* Semantics §7.6, arc by arc, for every arc of every flag set. */
static enum uvfio_mig_stream_effect doc_effect(uint32_t f, uint32_t t)
{
    if ((f == RUNNING && t == PRE_COPY) ||
        (f == RUNNING_P2P && t == PRE_COPY_P2P) ||
        (f == STOP && t == STOP_COPY))
        return UVFIO_MIG_STREAM_OPEN_SAVE;
    if (f == STOP && t == RESUMING)
        return UVFIO_MIG_STREAM_OPEN_RESUME;
    if ((f == PRE_COPY && t == PRE_COPY_P2P) ||
        (f == PRE_COPY_P2P && t == PRE_COPY) ||
        (f == PRE_COPY_P2P && t == STOP_COPY) ||
        (f == PRE_COPY && t == STOP_COPY))
        return UVFIO_MIG_STREAM_CONTINUE;
    if ((f == PRE_COPY && t == RUNNING) ||
        (f == PRE_COPY_P2P && t == RUNNING_P2P) ||
        (f == STOP_COPY && t == STOP) || (f == RESUMING && t == STOP))
        return UVFIO_MIG_STREAM_END;
    return UVFIO_MIG_STREAM_NONE;
}

static void test_arc_stream_effects(void **state)
{
    uint32_t f, t;
    int fs, arcs = 0;

    (void)state;
    for (fs = 0; fs < 4; fs++)
        for (f = 0; f < UVFIO_MIG_STATE_COUNT; f++)
            for (t = 0; t < UVFIO_MIG_STATE_COUNT; t++) {
                if (!oracle_arc_exists(f, t, oracle_flag_sets[fs]))
                    continue;
                assert_int_equal(uvfio_mig_arc_effect(f, t),
                                 doc_effect(f, t));
                arcs++;
            }
    /* 6 + 8 + 9 + 15 arcs in §7.3's lists. */
    assert_int_equal(arcs, 6 + 8 + 9 + 15);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(uvfio_mig_state_name(PRE_COPY_P2P), "PRE_COPY_P2P");
    assert_string_equal(uvfio_mig_state_name(ERROR), "ERROR");
    assert_string_equal(uvfio_mig_state_name(8), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_is_unambiguous),
        cmocka_unit_test(test_matrix_matches_oracle),
        cmocka_unit_test(test_documented_routes),
        cmocka_unit_test(test_blocked_arc_does_not_loop),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_supported_matches_oracle),
        cmocka_unit_test(test_arc_stream_effects),
        cmocka_unit_test(test_state_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
