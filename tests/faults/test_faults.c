// SPDX-License-Identifier: MIT
/*
 * tests/faults/test_faults.c - faults during migration, randomized.
 *
 * The real uvfio-migrate moves a real device - uvfio-serial, then
 * uvfio-edu - between two real servers of its kind through two
 * fault-injecting proxies, and in the middle of it one
 * thing goes wrong: the tool, the source server or the destination server
 * is SIGKILLed, or one socket is cut or truncated mid-message - at a
 * random message of a chosen phase.  Every phase meets every fault (the
 * schedule is a shuffled list of all of them, repeated until there are
 * enough kills), and every outcome is judged against what
 * docs/migration-faults.md promises for that fault in that phase
 * (judge.c): the tool's exit status and report, both devices' states, the
 * documented recovery (--recover, --discard) bringing the source back with
 * its image byte for byte and the destination to its power-on image.
 * After every fault: no server holds a descriptor of a connection that is
 * gone, and a migration works again, carrying the device byte for byte
 * (its image, and the bytes waiting in its UART, read out in order at the
 * destination: a UART's received bytes, an edu DMA buffer).  At the end
 * every surviving server must exit 0 on SIGTERM, which LeakSanitizer (the
 * sanitizer build) or valgrind turn into a leak check.
 *
 * The seed is printed; UVFIO_FAULTS_SEED=N replays it.  How many faults of
 * each sort: UVFIO_FAULTS_KILLS and UVFIO_FAULTS_CUTS for uvfio-serial
 * (200 and 64), UVFIO_FAULTS_EDU_KILLS and UVFIO_FAULTS_EDU_CUTS for
 * uvfio-edu (66 and 27: every victim in every phase of every config once,
 * every cut once).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "campaign.h"

#define DEFAULT_KILLS       200
#define DEFAULT_CUTS        64
#define DEFAULT_EDU_KILLS   66
#define DEFAULT_EDU_CUTS    27

static char *serial_bin, *migrate_bin, *edu_bin;

static unsigned int env_uint(const char *name, unsigned int dflt)
{
    const char *v = getenv(name);

    return v && *v ? (unsigned int)strtoul(v, NULL, 0) : dflt;
}

static const char *fault_words(const struct cell *k)
{
    static const char *const kill[WHO_COUNT] = {
        "SIGKILL the tool", "SIGKILL the source server",
        "SIGKILL the destination server",
    };
    static const char *const cut[WHO_COUNT] = {
        "?", "cut the source socket", "cut the destination socket",
    };
    static const char *const trunc[WHO_COUNT] = {
        "?", "truncate the source socket", "truncate the destination socket",
    };

    if (k->kind == FAULT_KILL)
        return kill[k->who];
    return k->kind == FAULT_CUT ? cut[k->who] : trunc[k->who];
}

/* ---- the schedule -------------------------------------------------------- */

struct schedule {
    struct cell *cells;
    size_t n, cap;
    unsigned int kills, cuts;
};

static void add_cell(struct schedule *s, enum fault_kind kind, enum who who,
                     unsigned int config, enum phase ph)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->cells = realloc(s->cells, s->cap * sizeof(*s->cells));
        assert_non_null(s->cells);
    }
    s->cells[s->n++] = (struct cell){ kind, who, config, ph };
    if (kind == FAULT_KILL)
        s->kills++;
    else
        s->cuts++;
}

static unsigned int msgs(const struct campaign *c, unsigned int config,
                         enum phase ph, int side)
{
    if (side == SIDE_ANY)
        return c->ref[config][ph][SIDE_SRC] + c->ref[config][ph][SIDE_DST];
    return c->ref[config][ph][side];
}

static void shuffle(struct schedule *s, struct campaign *c)
{
    for (size_t i = s->n; i > 1; i--) {
        size_t j = rand32(c) % i;
        struct cell t = s->cells[i - 1];

        s->cells[i - 1] = s->cells[j];
        s->cells[j] = t;
    }
}

/* Every (victim, config, phase) that has messages, round after round,
 * the last round a random part of one, until there are `want` kills. */
static void schedule_kills(struct schedule *s, struct campaign *c,
                           unsigned int want)
{
    struct schedule round = { 0 };
    unsigned int start = s->kills;

    for (unsigned int cf = 0; cf < N_CONFIGS; cf++)
        for (int ph = 0; ph < PH_COUNT; ph++)
            for (int w = 0; w < WHO_COUNT && msgs(c, cf, ph, SIDE_ANY); w++)
                add_cell(&round, FAULT_KILL, w, cf, ph);
    while (s->kills - start < want) {
        shuffle(&round, c);
        for (size_t i = 0; i < round.n && s->kills - start < want; i++)
            add_cell(s, FAULT_KILL, round.cells[i].who,
                     round.cells[i].config, round.cells[i].phase);
    }
    free(round.cells);
}

/* Every (cut or truncate, side, phase) the side has messages in, each
 * under a config drawn at random among those where it has, repeated. */
static void schedule_cuts(struct schedule *s, struct campaign *c,
                          unsigned int want)
{
    unsigned int start = s->cuts, cf, tries;

    while (s->cuts - start < want) {
        for (int k = FAULT_CUT; k <= FAULT_TRUNCATE; k++)
            for (int side = SIDE_SRC; side < SIDE_COUNT; side++)
                for (int ph = 0; ph < PH_COUNT; ph++) {
                    for (tries = 0, cf = rand32(c) % N_CONFIGS;
                         tries < N_CONFIGS && !msgs(c, cf, ph, side);
                         tries++)
                        cf = (cf + 1) % N_CONFIGS;
                    if (tries < N_CONFIGS && s->cuts - start < want)
                        add_cell(s, k, side == SIDE_SRC ? WHO_SRC : WHO_DST,
                                 cf, ph);
                }
    }
}

/* ---- one fault ----------------------------------------------------------- */

static void plan_for(struct campaign *c, const struct cell *k,
                     struct fault_plan *p)
{
    int side = k->kind == FAULT_KILL ? SIDE_ANY :
               k->who == WHO_SRC ? SIDE_SRC : SIDE_DST;

    memset(p, 0, sizeof(*p));
    p->kind = k->kind;
    p->phase = k->phase;
    p->side = side;
    p->index = 1 + rand32(c) % msgs(c, k->config, k->phase, side);
    p->byte = rand32(c);
    if (k->kind != FAULT_KILL)
        return;
    if (k->who == WHO_TOOL) {
        p->victim_side = VICTIM_TOOL;       /* the proc: migrate_via... */
    } else {
        struct server *s = k->who == WHO_SRC ? home(c) : spare(c);

        p->victim_side = k->who == WHO_SRC ? SIDE_SRC : SIDE_DST;
        p->victim = &s->proc;
        s->doomed = true;       /* until it is replaced */
    }
}

static void one_fault(struct campaign *c, unsigned int n,
                      const struct cell *k,
                      unsigned int hits[][WHO_COUNT][PH_COUNT])
{
    struct fault_plan plan;
    struct outcome o;

    new_life(c);
    expect_fds_back(c);
    plan_for(c, k, &plan);
    migrate_via_proxies(c, k->config, &plan, &o);
    printf("#%-3u %-32s %-12s %-9s at %s on the %s side: exit %d\n", n,
           fault_words(k), phase_name(k->phase), configs[k->config].name,
           o.run.fired ? o.run.fired_what : "(nothing)",
           o.run.fired_side == SIDE_SRC ? "source" : "destination",
           tool_exit(&o.tool));
    judge(c, k, &o);
    outcome_free(&o);
    hits[k->kind][k->who][k->phase]++;

    /* whatever happened, moving the device works again */
    migrate_ok(c, rand32(c) % N_CONFIGS);
    expect_fds_back(c);
}

/* ---- the campaign -------------------------------------------------------- */

static void print_coverage(unsigned int hits[][WHO_COUNT][PH_COUNT])
{
    static const char *const rows[] = { NULL, "kill", "cut", "truncate" };

    printf("%-22s", "faults per phase");
    for (int p = 0; p < PH_COUNT; p++)
        printf(" %12s", phase_name(p));
    printf("\n");
    for (int k = FAULT_KILL; k <= FAULT_TRUNCATE; k++)
        for (int w = 0; w < WHO_COUNT; w++) {
            if (k != FAULT_KILL && w == WHO_TOOL)
                continue;
            printf("%-8s %-13s", rows[k], w == WHO_TOOL ? "tool" :
                   w == WHO_SRC ? "source" : "destination");
            for (int p = 0; p < PH_COUNT; p++)
                printf(" %12u", hits[k][w][p]);
            printf("\n");
        }
}

static void campaign(struct campaign *c, unsigned int kills,
                     unsigned int cuts)
{
    unsigned int hits[4][WHO_COUNT][PH_COUNT] = { { { 0 } } };
    struct schedule s = { 0 };
    long long t0 = proc_now_ms();

    /* here, not in the setup: a failure now still gets the teardown */
    start_server(c, &c->srv[0]);
    start_server(c, &c->srv[1]);
    assert_int_equal(rig_snapshot(c->srv[1].sock, &c->powerup,
                                  &c->powerup_len), 0);
    for (unsigned int cf = 0; cf < N_CONFIGS; cf++)
        reference(c, cf);
    schedule_kills(&s, c, kills);
    schedule_cuts(&s, c, cuts);
    shuffle(&s, c);
    printf("%u kills and %u cuts\n", s.kills, s.cuts);
    for (size_t i = 0; i < s.n; i++)
        one_fault(c, (unsigned int)i + 1, &s.cells[i], hits);
    free(s.cells);
    print_coverage(hits);
    printf("%s: %zu faults in %lld ms\n", c->kind->name, s.n,
           proc_now_ms() - t0);
}

static void test_serial_campaign(void **state)
{
    campaign(*state, env_uint("UVFIO_FAULTS_KILLS", DEFAULT_KILLS),
             env_uint("UVFIO_FAULTS_CUTS", DEFAULT_CUTS));
}

static void test_edu_campaign(void **state)
{
    campaign(*state, env_uint("UVFIO_FAULTS_EDU_KILLS", DEFAULT_EDU_KILLS),
             env_uint("UVFIO_FAULTS_EDU_CUTS", DEFAULT_EDU_CUTS));
}

static int campaign_setup(void **state, const struct kind *kind,
                          const char *bin)
{
    struct campaign *c = calloc(1, sizeof(*c));
    uint32_t seed = env_uint("UVFIO_FAULTS_SEED", 0);

    assert_non_null(c);
    if (!seed)
        seed = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
    printf("%s: seed %u (UVFIO_FAULTS_SEED=%u replays this run)\n",
           kind->name, seed, seed);
    c->rnd = seed ? seed : 1;
    c->kind = kind;
    c->bin = bin;
    strcpy(c->dir, "/tmp/uvfio-faults-XXXXXX");
    assert_non_null(mkdtemp(c->dir));
    tool_setup(migrate_bin, c->dir);
    *state = c;
    return 0;
}

static int serial_setup(void **state)
{
    return campaign_setup(state, &kind_serial, serial_bin);
}

static int edu_setup(void **state)
{
    return campaign_setup(state, &kind_edu, edu_bin);
}

/* Survivors end on SIGTERM with status 0: no leak, no error. */
static int campaign_teardown(void **state)
{
    struct campaign *c = *state;
    int r[2];

    for (int i = 0; i < 2; i++) {
        /* a campaign that failed half-way may leave a victim behind */
        r[i] = 0;
        if (c->srv[i].proc.pid <= 0)
            continue;
        if (c->srv[i].doomed)
            server_reap_killed(&c->srv[i]);
        else
            r[i] = server_stop(&c->srv[i]);
    }

    life_clear(&c->life);
    free(c->powerup);
    rmdir(c->dir);
    free(c);
    assert_int_equal(r[0], 0);
    assert_int_equal(r[1], 0);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serial_campaign, serial_setup,
                                        campaign_teardown),
        cmocka_unit_test_setup_teardown(test_edu_campaign, edu_setup,
                                        campaign_teardown),
    };

    if (argc != 4) {
        fprintf(stderr, "usage: %s UVFIO_SERIAL UVFIO_MIGRATE UVFIO_EDU\n",
                argv[0]);
        return 2;
    }
    serial_bin = argv[1];
    migrate_bin = argv[2];
    edu_bin = argv[3];
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
