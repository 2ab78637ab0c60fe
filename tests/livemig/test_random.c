// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_random.c - 100 live migrations with randomized guest
 * memory size (4-64 MiB), guest write rate, device DMA rate and window,
 * downtime budget, round limit and write tracker, between two real
 * uvfio-edu servers, back and forth.  Every one must be byte-exact.
 *
 * The migration's own verdict is not taken on trust: the test keeps both
 * ends' final memory (the live_opts.inspect hook) and compares them
 * itself, and checks every page of the device's DMA window at the
 * destination is either untouched or a whole copy-queue page (a page the
 * device was writing while it was copied would be torn: mixed passes).
 * Device state is compared by the migration (a fresh STOP_COPY image of
 * the destination against the source's final one).
 *
 * Reproduce a run with LIVEMIG_SEED=<the printed seed>.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "live.h"
#include "lm_fixture.h"
#include "pagebits.h"
#include "pattern.h"

#define RUNS            100
#define MIB             (1ull << 20)

struct copies {
    pthread_mutex_t lock;
    uint8_t *src, *dst;
    uint64_t size;
};

static void keep(void *opaque, bool source, const uint8_t *mem,
                 uint64_t size)
{
    struct copies *c = opaque;
    uint8_t *p = malloc(size);

    assert_non_null(p);
    memcpy(p, mem, size);
    pthread_mutex_lock(&c->lock);
    if (source)
        c->src = p;
    else
        c->dst = p;
    c->size = size;
    pthread_mutex_unlock(&c->lock);
}

struct params {
    uint64_t size, write_rate, dma_rate, window, seed;
    uint32_t downtime;
    unsigned int rounds;
    enum wptrack_mode tracker;
    bool no_device_precopy;
};

static void pick(uint64_t *rng, struct params *p)
{
    uint64_t pages = (4 * MIB) / LM_PAGE_SIZE +
                     lm_rand(rng) % ((60 * MIB) / LM_PAGE_SIZE + 1);

    p->size = pages * LM_PAGE_SIZE;
    p->write_rate = lm_rand(rng) % 5 ? (1 + lm_rand(rng) % 256) * MIB : 0;
    p->dma_rate = lm_rand(rng) % 5 ? (1 + lm_rand(rng) % 256) * MIB : 0;
    p->window = (1 + lm_rand(rng) % (pages / 2)) * LM_PAGE_SIZE;
    /* half of the budgets tight enough to need several rounds */
    p->downtime = 1 + (uint32_t)(lm_rand(rng) % (lm_rand(rng) % 2 ? 5 : 300));
    p->rounds = 1 + (unsigned int)(lm_rand(rng) % 20);
    p->tracker = lm_rand(rng) % 4 ? WPTRACK_ASYNC : WPTRACK_SYNC;
    p->no_device_precopy = lm_rand(rng) % 5 == 0;
    p->seed = lm_rand(rng);
}

/* Every page of the window at the destination: never written (zero) or
 * one whole pattern page for its index and address. */
static void check_window(const uint8_t *mem, const struct params *p,
                         unsigned int run)
{
    uint64_t base = p->size - p->window, pass;
    static const uint8_t zero[LM_PAGE_SIZE];

    for (uint64_t i = 0; i < p->window / LM_PAGE_SIZE; i++) {
        const uint8_t *page = mem + base + i * LM_PAGE_SIZE;

        if (!memcmp(page, zero, sizeof(zero)))
            continue;
        if (edu_cq_page_check(page, i, base + i * LM_PAGE_SIZE, &pass))
            fail_msg("run %u: device window page %llu is not a whole "
                     "copy-queue page", run, (unsigned long long)i);
    }
}

static void first_difference(const struct copies *c, unsigned int run)
{
    for (uint64_t off = 0; off < c->size; off += LM_PAGE_SIZE)
        if (memcmp(c->src + off, c->dst + off, LM_PAGE_SIZE))
            fail_msg("run %u: the test's own comparison: page at %#llx "
                     "differs, yet the migration said verified", run,
                     (unsigned long long)off);
}

static void one_run(unsigned int run, const struct params *p,
                    const char *src, const char *dst, double *downtime)
{
    struct copies c = { .lock = PTHREAD_MUTEX_INITIALIZER };
    struct live_opts o = {
        .src_path = src,
        .dst_path = dst,
        .mem_size = p->size,
        .write_rate = p->write_rate,
        .dev_dma_rate = p->dma_rate,
        .dev_dma_window = p->window,
        .downtime_ms = p->downtime,
        .max_rounds = p->rounds,
        .timeout_ms = 20000,
        .seed = p->seed,
        .tracker = p->tracker,
        .no_device_precopy = p->no_device_precopy,
        .corrupt_page = -1,
        .inspect = keep,
        .inspect_opaque = &c,
    };
    struct live_result r;
    int ret;

    ret = live_run(&o, &r);
    printf("run %3u: %5.1f MiB, guest %3llu MiB/s (%s), device %3llu MiB/s "
           "over %5llu pages%s, budget %3u ms, <= %2u rounds: ", run,
           (double)p->size / MIB, (unsigned long long)(p->write_rate / MIB),
           wptrack_mode_name(p->tracker),
           (unsigned long long)(p->dma_rate / MIB),
           (unsigned long long)(p->window / LM_PAGE_SIZE),
           p->no_device_precopy ? " (state at the stop)" : "", p->downtime,
           p->rounds);
    if (ret)
        fail_msg("run %u failed: %s: %s", run, r.step, strerror(-ret));
    printf("%u rounds (%s), %llu pages at the stop, downtime %.2f ms, %s\n",
           r.rounds, r.converged ? "converged" : "round limit",
           (unsigned long long)r.final_pages, r.downtime_ms,
           r.verified ? "byte-exact" : "DIFFERENT");
    fflush(stdout);
    assert_true(r.verified);
    assert_true(r.dst.flags & LM_RESULT_RUNNING);
    assert_non_null(c.src);
    assert_non_null(c.dst);
    assert_int_equal(c.size, p->size);
    if (memcmp(c.src, c.dst, c.size))
        first_difference(&c, run);
    if (p->dma_rate)
        check_window(c.dst, p, run);
    *downtime = r.downtime_ms;
    live_result_free(&r);
    free(c.src);
    free(c.dst);
}

struct servers {
    struct lm_server a, b;
    char dir[64];
};

static int setup(void **state)
{
    struct servers *sv = calloc(1, sizeof(*sv));

    if (!sv)
        return -1;
    lm_mkdir(sv->dir, sizeof(sv->dir));
    *state = sv;
    if (lm_server_start(&sv->a, lm_edu_bin, sv->dir, "a", NULL, false) ||
        lm_server_start(&sv->b, lm_edu_bin, sv->dir, "b", NULL, false))
        return -1;
    return 0;
}

/* Also after a failed assertion: no server outlives the test. */
static int teardown(void **state)
{
    struct servers *sv = *state;
    int r;

    r = lm_server_stop(&sv->a);
    r |= lm_server_stop(&sv->b);
    lm_rmdir(sv->dir);
    free(sv);
    return r ? -1 : 0;
}

static void test_random_migrations(void **state)
{
    struct servers *sv = *state;
    uint64_t rng = lm_seed("livemig-random");
    double downtime, worst = 0, sum = 0;
    uint64_t t0 = lm_now_ms();

    for (unsigned int run = 0; run < RUNS; run++) {
        struct params p;

        pick(&rng, &p);
        /* back and forth: the device that just arrived leaves again */
        one_run(run, &p, run % 2 ? sv->b.path : sv->a.path,
                run % 2 ? sv->a.path : sv->b.path, &downtime);
        sum += downtime;
        if (downtime > worst)
            worst = downtime;
    }
    printf("%d migrations byte-exact in %.1f s; downtime mean %.2f ms, "
           "worst %.2f ms\n", RUNS, (double)(lm_now_ms() - t0) / 1e3,
           sum / RUNS, worst);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_migrations, setup,
                                        teardown),
    };

    lm_args(argc, argv);
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
