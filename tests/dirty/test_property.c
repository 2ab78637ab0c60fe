// SPDX-License-Identifier: MIT
/*
 * tests/dirty/test_property.c - the dirty log against a reference model.
 *
 * Each round lays out random DMA maps (fd-backed and message-path, some
 * read-only) in a 16 MiB IOVA space - at 0, at 2^40, and touching 2^64 -
 * starts logging with random ranges (or everything) at a random page size,
 * then runs epochs of: random writes and pinned writes from several
 * threads, random unmaps (some with the dirty bitmap) and new maps, and
 * random REPORT windows at random page sizes, each compared bit for bit
 * with what the model says, then reported again to check what the first
 * one cleared.
 *
 * The model is deliberately plain: a flag per 4 KiB page for "logged", a
 * flag per tracker page for "dirty", and a report computed bit by bit as
 * "does any dirty tracker page overlap this report page inside the
 * window".  Reading clears the tracker pages wholly inside the window.
 *
 * Seeds: a fixed one, then a few from the clock; all are printed, and
 * UVFIO_DIRTY_SEED=<n> replays one.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util.h"

#define SPACE_PAGES     4096u
#define SPACE           ((uint64_t)SPACE_PAGES * PG)
#define MAX_MAPS        128u
#define NTHREADS        3u
#define OPS             64u
#define ROUNDS          30u
#define EPOCHS          3u
#define REPORTS         8u

struct map {
    uint64_t off, size;         /* from the space's base */
    uint32_t prot;
    bool msg;
    bool live;
};

struct op {
    uint64_t off, len;
    bool pin;
    int ret;
};

struct model {
    uint64_t base;
    unsigned int tshift;
    bool everything;
    bool logged[SPACE_PAGES];           /* per 4 KiB page */
    bool dirty[SPACE_PAGES];            /* per tracker page */
    struct map maps[MAX_MAPS];
    unsigned int nmaps;
};

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    /* splitmix64: tiny, good enough, reproducible everywhere */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static uint64_t seed_now;

/* What a seed exercised, printed so a run that checks nothing shows. */
static struct {
    uint64_t reports, unmaps, bits, writes, failed;
} stats;

/* ---- the model --------------------------------------------------------- */

static void model_mark(struct model *m, uint64_t off, uint64_t len)
{
    uint64_t p;

    for (p = off / PG; p <= (off + len - 1) / PG; p++)
        if (m->logged[p])
            m->dirty[(p * PG) >> m->tshift] = true;
}

/* Words of the report of [iova, iova + len) at 2^shift, as the model
 * sees it; the window lies inside the space. */
static void model_report(struct model *m, uint64_t iova, uint64_t len,
                         unsigned int shift, uint64_t *words, bool clear)
{
    uint64_t ps = 1ull << shift, last = iova + (len - 1), n, lo, hi, t;
    uint64_t nbits = len / ps + (len % ps != 0), tps = 1ull << m->tshift;

    memset(words, 0, t_words(len, ps) * 8);
    for (n = 0; n < nbits; n++) {
        lo = iova + n * ps;
        hi = last - lo < ps - 1 ? last : lo + (ps - 1);
        for (t = (lo - m->base) >> m->tshift;
             t <= (hi - m->base) >> m->tshift; t++) {
            if (m->dirty[t]) {
                words[n / 64] |= 1ull << (n % 64);
                break;
            }
        }
    }
    if (!clear)
        return;
    for (t = 0; t < (SPACE >> m->tshift); t++) {
        lo = m->base + t * tps;
        if (lo >= iova && lo + (tps - 1) <= last)
            m->dirty[t] = false;
    }
}

/* ---- layout ------------------------------------------------------------ */

static void map_one(struct tdev *t, struct model *m, struct map *mp)
{
    uint64_t iova = m->base + mp->off, p;
    int r = mp->msg ? t_map_msg(t, iova, mp->size, mp->prot) :
            t_map_fd(t, iova, mp->size, mp->prot);

    assert_int_equal(r, 0);
    mp->live = true;
    if (m->everything)
        for (p = mp->off / PG; p < (mp->off + mp->size) / PG; p++)
            m->logged[p] = true;
}

static void lay_out(struct tdev *t, struct model *m, struct rng *r)
{
    static const uint32_t prots[] = {
        UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE,
        UVFIO_DMA_MAP_FLAG_WRITE, UVFIO_DMA_MAP_FLAG_READ,
    };
    uint64_t at = below(r, 8) * PG, size;
    struct map *mp;

    m->nmaps = 0;
    while (m->nmaps < MAX_MAPS / 2) {
        size = (1 + below(r, 256)) * PG;
        if (at >= SPACE || size > SPACE - at)
            break;
        mp = &m->maps[m->nmaps++];
        mp->off = at;
        mp->size = size;
        mp->prot = prots[below(r, 10) < 8 ? below(r, 2) : 2];
        mp->msg = below(r, 3) == 0;
        map_one(t, m, mp);
        at += size + below(r, 64) * PG;
    }
}

/* Random disjoint ranges on a `gran` grid below the last 2 MiB of the
 * space (a range may not reach 2^64). */
static uint32_t pick_ranges(struct rng *r, uint64_t gran, uint64_t base,
                            struct uvfio_dirty_range *out)
{
    uint64_t units = (SPACE - (2ull << 20)) / gran, at = 0, len;
    uint32_t n = 0, want = 1 + (uint32_t)below(r, 8);

    while (n < want) {
        at += below(r, units / 8 + 1);
        len = 1 + below(r, units / 4 + 1);
        if (at >= units || len > units - at)
            break;
        out[n].iova = base + at * gran;
        out[n].length = len * gran;
        at += len;
        n++;
    }
    return n;
}

static void start_logging(struct tdev *t, struct model *m, struct rng *r)
{
    static const uint64_t hints[] = { 512, PG, 2 * PG, 16 * PG, 2u << 20 };
    struct uvfio_dirty_range ranges[8];
    uint64_t hint = hints[below(r, 5)], ps = hint, gran, p, i;
    uint32_t nr = 0;

    gran = hint < PG ? PG : hint;
    m->everything = below(r, 4) == 0;
    if (!m->everything)
        nr = pick_ranges(r, gran, m->base, ranges);
    if (!nr)
        m->everything = true;
    /* Shuffled: START takes the ranges in any order. */
    if (nr > 1) {
        struct uvfio_dirty_range tmp = ranges[0];

        i = below(r, nr);
        ranges[0] = ranges[i];
        ranges[i] = tmp;
    }
    assert_int_equal(t_start(t, ranges, nr, &ps), 0);
    assert_int_equal(ps, gran);
    m->tshift = (unsigned int)__builtin_ctzll(ps);
    memset(m->logged, 0, sizeof(m->logged));
    memset(m->dirty, 0, sizeof(m->dirty));
    for (i = 0; i < nr; i++)
        for (p = (ranges[i].iova - m->base) / PG;
             p < (ranges[i].iova - m->base + ranges[i].length) / PG; p++)
            m->logged[p] = true;
    if (m->everything)
        for (i = 0; i < m->nmaps; i++)
            if (m->maps[i].live)
                for (p = m->maps[i].off / PG;
                     p < (m->maps[i].off + m->maps[i].size) / PG; p++)
                    m->logged[p] = true;
}

/* ---- writers ----------------------------------------------------------- */

struct worker {
    struct tdev *t;
    uint64_t base;
    struct op ops[OPS];
};

static void *run_ops(void *arg)
{
    struct worker *w = arg;
    static const uint8_t data[64 * 4096];
    struct uvfio_dma_pin pin;
    struct op *o;
    unsigned int i;

    for (i = 0; i < OPS; i++) {
        o = &w->ops[i];
        if (!o->pin) {
            o->ret = uvfio_dma_write(w->t->dev, w->base + o->off, data,
                                     (size_t)o->len);
            continue;
        }
        o->ret = uvfio_dma_pin(w->t->dev, w->base + o->off, (size_t)o->len,
                               true, &pin);
        if (!o->ret) {
            memset(pin.host, 0x77, pin.len);
            uvfio_dma_unpin(w->t->dev, &pin);
        }
    }
    return NULL;
}

/*
 * Thread `id` writes inside its own 256 KiB chunks (every NTHREADS-th), so
 * the guest bytes never race - only the dirty bitmap's words do, which
 * cover 64 pages of neighbouring chunks.  Most writes are short; some fill
 * whole bitmap words.
 */
static void plan_ops(struct worker *w, unsigned int id, struct rng *r)
{
    const uint64_t chunk = 64 * PG, nchunks = SPACE / chunk / NTHREADS;
    uint64_t start, in, most;
    unsigned int i;

    for (i = 0; i < OPS; i++) {
        start = (below(r, nchunks) * NTHREADS + id) * chunk;
        in = below(r, chunk - 64);
        if (below(r, 2))
            in &= ~(PG - 1);
        most = below(r, 8) ? 3 * PG : chunk;
        if (most == chunk && below(r, 2))
            in = 0;
        w->ops[i].off = start + in;
        w->ops[i].len = 1 + below(r, most);
        if (most == chunk && below(r, 2))
            w->ops[i].len = chunk - in;
        if (w->ops[i].len > chunk - in)
            w->ops[i].len = chunk - in;
        w->ops[i].pin = below(r, 6) == 0;
    }
}

static void write_epoch(struct tdev *t, struct model *m, struct rng *r)
{
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    unsigned int i, j;

    for (i = 0; i < NTHREADS; i++) {
        w[i].t = t;
        w[i].base = m->base;
        plan_ops(&w[i], i, r);
        assert_int_equal(pthread_create(&th[i], NULL, run_ops, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        for (j = 0; j < OPS; j++) {
            stats.writes++;
            stats.failed += w[i].ops[j].ret != 0;
            if (w[i].ops[j].ret == 0)
                model_mark(m, w[i].ops[j].off, w[i].ops[j].len);
            else
                assert_true(w[i].ops[j].ret == -EFAULT);
        }
    }
}

/* ---- checks ------------------------------------------------------------ */

static void check_report(struct tdev *t, struct model *m, uint64_t off,
                         uint64_t len, unsigned int shift, const char *what)
{
    size_t n = t_words(len, 1ull << shift);
    uint64_t *got = malloc(n * 8), *want = malloc(n * 8);
    size_t i;

    assert_int_equal(t_report(t, m->base + off, len, 1ull << shift, got), 0);
    model_report(m, m->base + off, len, shift, want, true);
    stats.reports++;
    for (i = 0; i < n; i++)
        stats.bits += (uint64_t)__builtin_popcountll(want[i]);
    for (i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("seed %llu: %s [+%#llx, +%#llx) at 2^%u, tracker 2^%u: "
                     "word %zu is %#llx, model %#llx",
                     (unsigned long long)seed_now, what,
                     (unsigned long long)off, (unsigned long long)len, shift,
                     m->tshift, i, (unsigned long long)got[i],
                     (unsigned long long)want[i]);
    free(got);
    free(want);
}

static void random_report(struct tdev *t, struct model *m, struct rng *r)
{
    uint64_t off = below(r, SPACE), len;
    unsigned int shift = 12 + (unsigned int)below(r, 10);

    if (below(r, 5))
        off &= ~(PG - 1);
    len = 1 + below(r, SPACE - off);
    if (below(r, 4) && len > PG)
        len &= ~(PG - 1);
    /* Never up to 2^64: a report may not reach it. */
    if (m->base + off + len == 0)
        len--;
    if (!len)
        return;
    check_report(t, m, off, len, shift, "report");
    check_report(t, m, off, len, shift, "second report");
}

/* Unmap a live map (half the time with its dirty bitmap) and map it again,
 * maybe with the other kind of backing. */
static void remap_one(struct tdev *t, struct model *m, struct rng *r)
{
    struct map *mp = &m->maps[below(r, m->nmaps)];
    uint64_t iova = m->base + mp->off, pgsize = PG << below(r, 5), nbits;
    uint32_t bytes;
    uint8_t *got, *want;
    size_t room;

    if (!mp->live)
        return;
    if (below(r, 2)) {
        assert_int_equal(t_unmap(t, iova, mp->size), 0);
    } else {
        /* whole bytes are enough; a few more are zero-padded */
        nbits = mp->size / pgsize + (mp->size % pgsize != 0);
        bytes = (uint32_t)((nbits + 7) / 8 + below(r, 8));
        room = t_words(mp->size, pgsize) * 8 + 8;
        got = malloc(room);
        want = malloc(room);
        assert_int_equal(t_unmap_dirty(t, iova, mp->size, pgsize, bytes,
                                       got), 0);
        memset(want, 0, room);
        model_report(m, iova, mp->size, (unsigned int)__builtin_ctzll(pgsize),
                     (uint64_t *)(void *)want, true);
        stats.unmaps++;
        if (memcmp(got, want, bytes))
            fail_msg("seed %llu: unmap bitmap of [+%#llx, +%#llx) at %#llx",
                     (unsigned long long)seed_now,
                     (unsigned long long)mp->off,
                     (unsigned long long)mp->size,
                     (unsigned long long)pgsize);
        free(got);
        free(want);
    }
    mp->live = false;
    if (below(r, 3)) {
        mp->msg = !mp->msg;
        map_one(t, m, mp);
    }
}

/* ---- the rounds -------------------------------------------------------- */

static void one_round(struct rng *r, unsigned int round)
{
    static const uint64_t bases[] = { 0, 1ull << 40, 0 - SPACE };
    struct model *m = calloc(1, sizeof(*m));
    unsigned int e, k;
    struct tdev t;

    m->base = bases[round % 3];
    tdev_init(&t, NULL, m->base, SPACE, 0);
    lay_out(&t, m, r);
    start_logging(&t, m, r);
    for (e = 0; e < EPOCHS; e++) {
        write_epoch(&t, m, r);
        for (k = 0; k < 3; k++)
            remap_one(&t, m, r);
        for (k = 0; k < REPORTS; k++)
            random_report(&t, m, r);
        /* and the whole space, so nothing the model holds goes unseen */
        check_report(&t, m, 0, SPACE - PG, 12, "full report");
    }
    assert_int_equal(t_stop(&t), 0);
    tdev_fini(&t);
    free(m);
}

static void run_seed(uint64_t seed)
{
    struct rng r = { seed };
    unsigned int round;

    seed_now = seed;
    memset(&stats, 0, sizeof(stats));
    printf("# dirty property seed %llu\n", (unsigned long long)seed);
    fflush(stdout);
    for (round = 0; round < ROUNDS; round++)
        one_round(&r, round);
    printf("#   %llu writes (%llu refused), %llu reports and %llu unmap "
           "bitmaps matched the model, %llu dirty bits among them\n",
           (unsigned long long)stats.writes, (unsigned long long)stats.failed,
           (unsigned long long)stats.reports, (unsigned long long)stats.unmaps,
           (unsigned long long)stats.bits);
}

static void test_property(void **state)
{
    const char *env = getenv("UVFIO_DIRTY_SEED");
    struct timespec ts;
    int i;

    (void)state;
    if (env) {
        run_seed(strtoull(env, NULL, 0));
        return;
    }
    run_seed(0x5eed2024);
    clock_gettime(CLOCK_REALTIME, &ts);
    for (i = 0; i < 3; i++)
        run_seed((uint64_t)ts.tv_sec * 1000003u + (uint64_t)ts.tv_nsec + i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
