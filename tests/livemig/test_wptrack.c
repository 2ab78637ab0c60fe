// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_wptrack.c - the guest-write tracker, in both of its
 * modes, on a shared memfd mapping as uvfio-migrate uses it.
 *
 * The property a migration rests on is tested head-on: a writer thread
 * that knows nothing of the tracker hammers random pages while a copier
 * does what precopy does (collect, then copy what was collected into a
 * shadow), round after round; after the writer pauses and one last
 * collect-and-copy, the shadow must equal the memory byte for byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pagebits.h"
#include "workload.h"
#include "wptrack.h"

struct mem {
    int fd;
    uint8_t *p;                 /* "the VMM's" mapping: tracked */
    uint8_t *dev;               /* another mapping: "the device's" */
    size_t size;
};

static void mem_make(struct mem *m, size_t size)
{
    m->size = size;
    m->fd = memfd_create("lm-test", MFD_CLOEXEC);
    assert_true(m->fd >= 0);
    assert_int_equal(ftruncate(m->fd, (off_t)size), 0);
    m->p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    assert_true(m->p != MAP_FAILED);
    m->dev = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    assert_true(m->dev != MAP_FAILED);
}

static void mem_free(struct mem *m)
{
    munmap(m->p, m->size);
    munmap(m->dev, m->size);
    close(m->fd);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* ---- exactly the written pages ------------------------------------------ */

static void exact_pages(enum wptrack_mode mode)
{
    static const uint64_t pages[] = { 0, 1, 2, 77, 255, 1000, 1023 };
    struct pagebits b;
    struct wptrack *t;
    struct mem m;
    uint64_t found;

    mem_make(&m, 1024 * 4096);
    memset(m.p, 0x11, 8 * 4096);            /* some pages populated */
    assert_int_equal(pagebits_init(&b, 1024), 0);
    assert_int_equal(wptrack_start(m.p, m.size, mode, &t), 0);
    assert_int_equal(wptrack_mode(t), mode);

    /* nothing written yet, whether populated or not */
    assert_int_equal(wptrack_collect(t, &b, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(pagebits_count(&b), 0);

    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        m.p[pages[i] * 4096 + i * 13] = (uint8_t)(i + 1);
    /* the device's writes are not the tracker's to see */
    m.dev[500 * 4096] = 1;
    m.dev[3 * 4096] = 1;
    assert_int_equal(wptrack_collect(t, &b, &found), 0);
    assert_int_equal(found, sizeof(pages) / sizeof(pages[0]));
    assert_int_equal(pagebits_count(&b), found);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        assert_true(pagebits_test(&b, pages[i]));

    /* reported once: protected again */
    pagebits_clear(&b);
    assert_int_equal(wptrack_collect(t, &b, &found), 0);
    assert_int_equal(found, 0);

    /* a second write to a reported page is found again, and a read is
     * not a write */
    m.p[77 * 4096 + 5] = 0x42;
    assert_int_equal(m.p[600 * 4096], 0);
    assert_int_equal(wptrack_collect(t, &b, &found), 0);
    assert_int_equal(found, 1);
    assert_true(pagebits_test(&b, 77));
    assert_false(pagebits_test(&b, 600));

    wptrack_stop(t);
    /* untracked memory is plain memory again */
    m.p[10 * 4096] = 5;
    assert_int_equal(m.dev[10 * 4096], 5);
    pagebits_fini(&b);
    mem_free(&m);
}

static void test_exact_async(void **state)
{
    (void)state;
    exact_pages(WPTRACK_ASYNC);
}

static void test_exact_sync(void **state)
{
    (void)state;
    exact_pages(WPTRACK_SYNC);
}

/* AUTO picks the asynchronous mode whenever the kernel has it (it costs
 * the guest no round trip per page), the synchronous one otherwise. */
static void test_auto_prefers_async(void **state)
{
    enum wptrack_mode want = WPTRACK_SYNC;
    struct wptrack *t;
    struct mem m;

    (void)state;
    mem_make(&m, 16 * 4096);
    if (!wptrack_start(m.p, m.size, WPTRACK_ASYNC, &t)) {
        want = WPTRACK_ASYNC;
        wptrack_stop(t);
    }
    assert_int_equal(wptrack_start(m.p, m.size, WPTRACK_AUTO, &t), 0);
    assert_int_equal(wptrack_mode(t), want);
    assert_string_equal(wptrack_mode_name(wptrack_mode(t)),
                        want == WPTRACK_ASYNC ? "uffd-wp-async" : "uffd-wp");
    wptrack_stop(t);
    mem_free(&m);
}

static void test_bad_args(void **state)
{
    struct pagebits small;
    struct wptrack *t;
    struct mem m;

    (void)state;
    mem_make(&m, 16 * 4096);
    assert_int_equal(wptrack_start(m.p + 1, 4096, WPTRACK_AUTO, &t),
                     -EINVAL);
    assert_null(t);
    assert_int_equal(wptrack_start(m.p, 4095, WPTRACK_AUTO, &t), -EINVAL);
    assert_int_equal(wptrack_start(NULL, 4096, WPTRACK_AUTO, &t), -EINVAL);
    assert_int_equal(wptrack_start(m.p, 0, WPTRACK_AUTO, &t), -EINVAL);
    /* memory that is not mapped cannot be registered */
    assert_true(wptrack_start((void *)(uintptr_t)4096, 4096, WPTRACK_ASYNC,
                              &t) < 0);
    assert_int_equal(wptrack_start(m.p, m.size, WPTRACK_ASYNC, &t), 0);
    assert_int_equal(pagebits_init(&small, 15), 0);
    assert_int_equal(wptrack_collect(t, &small, NULL), -EINVAL);
    pagebits_fini(&small);
    wptrack_stop(t);
    wptrack_stop(NULL);
    mem_free(&m);
}

/* ---- precopy against a racing writer ------------------------------------ */

static void copy_marked(const struct mem *m, uint8_t *shadow,
                        const struct pagebits *b)
{
    uint64_t pos = 0, run;

    while ((run = pagebits_next_run(b, &pos, UINT64_MAX))) {
        memcpy(shadow + pos * 4096, m->p + pos * 4096, run * 4096);
        pos += run;
    }
}

static void race(enum wptrack_mode mode, uint64_t rate, unsigned int ms)
{
    struct workload_opts wo;
    struct workload *w;
    struct pagebits b;
    struct wptrack *t;
    uint64_t t_end, rounds = 0, sent = 0;
    uint8_t *shadow;
    struct mem m;
    size_t npages = 2048;

    mem_make(&m, npages * 4096);
    shadow = calloc(npages, 4096);
    assert_non_null(shadow);
    assert_int_equal(pagebits_init(&b, npages), 0);
    wo = (struct workload_opts){ .base = m.p, .size = m.size,
                                 .rate = rate, .seed = 42 };
    assert_int_equal(workload_start(&wo, &w), 0);
    sleep_ms(5);

    /* round 0: protect, then copy everything */
    assert_int_equal(wptrack_start(m.p, m.size, mode, &t), 0);
    memcpy(shadow, m.p, m.size);
    t_end = now_ms() + ms;
    while (now_ms() < t_end) {
        pagebits_clear(&b);
        assert_int_equal(wptrack_collect(t, &b, NULL), 0);
        copy_marked(&m, shadow, &b);
        sent += pagebits_count(&b);
        rounds++;
    }
    /* the vCPU pause, the last dirty set, and nothing may be missing */
    workload_pause(w);
    pagebits_clear(&b);
    assert_int_equal(wptrack_collect(t, &b, NULL), 0);
    copy_marked(&m, shadow, &b);
    assert_true(workload_writes(w) > 100);
    assert_true(sent > 0);
    if (memcmp(shadow, m.p, m.size)) {
        for (size_t i = 0; i < npages; i++)
            if (memcmp(shadow + i * 4096, m.p + i * 4096, 4096))
                fail_msg("%s: page %zu differs after %llu rounds",
                         wptrack_mode_name(mode), i,
                         (unsigned long long)rounds);
    }
    /* paused means paused */
    sleep_ms(20);
    pagebits_clear(&b);
    assert_int_equal(wptrack_collect(t, &b, NULL), 0);
    assert_int_equal(pagebits_count(&b), 0);

    workload_stop(w);
    wptrack_stop(t);
    pagebits_fini(&b);
    free(shadow);
    mem_free(&m);
}

static void test_race_async(void **state)
{
    (void)state;
    race(WPTRACK_ASYNC, 400ull << 20, 400);
}

static void test_race_sync(void **state)
{
    (void)state;
    race(WPTRACK_SYNC, 100ull << 20, 400);
}

/* A writer blocked on a protected page (SYNC) is released by stop: the
 * tracker never leaves a vCPU hung. */
static void test_stop_releases_writer(void **state)
{
    struct workload_opts wo;
    struct workload *w;
    struct wptrack *t;
    struct mem m;
    uint64_t before;

    (void)state;
    mem_make(&m, 64 * 4096);
    assert_int_equal(wptrack_start(m.p, m.size, WPTRACK_SYNC, &t), 0);
    wo = (struct workload_opts){ .base = m.p, .size = m.size,
                                 .rate = 64ull << 20, .seed = 7 };
    assert_int_equal(workload_start(&wo, &w), 0);
    sleep_ms(20);
    wptrack_stop(t);
    before = workload_writes(w);
    sleep_ms(20);
    assert_true(workload_writes(w) > before);
    workload_stop(w);
    mem_free(&m);
}

/* ---- the workload's pace ------------------------------------------------ */

static void test_workload_rate(void **state)
{
    struct workload_opts wo;
    struct workload *w;
    struct mem m;
    uint64_t n;

    (void)state;
    mem_make(&m, 256 * 4096);
    /* 4 MiB/s = 1024 pages a second: ~205 in 200 ms.  Never a burst past
     * the pace; fewer only if this loaded host starves the writer */
    wo = (struct workload_opts){ .base = m.p, .size = m.size,
                                 .rate = 4ull << 20, .seed = 1 };
    assert_int_equal(workload_start(&wo, &w), 0);
    sleep_ms(200);
    n = workload_writes(w);
    assert_in_range(n, 10, 320);
    workload_pause(w);
    n = workload_writes(w);
    sleep_ms(30);
    assert_int_equal(workload_writes(w), n);
    workload_resume(w);
    sleep_ms(30);
    assert_true(workload_writes(w) > n);
    workload_stop(w);

    /* rate 0 never writes */
    wo.rate = 0;
    assert_int_equal(workload_start(&wo, &w), 0);
    sleep_ms(10);
    assert_int_equal(workload_writes(w), 0);
    workload_stop(w);
    wo.size = 100;
    assert_int_equal(workload_start(&wo, &w), -EINVAL);
    mem_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_async),
        cmocka_unit_test(test_exact_sync),
        cmocka_unit_test(test_auto_prefers_async),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_race_async),
        cmocka_unit_test(test_race_sync),
        cmocka_unit_test(test_stop_releases_writer),
        cmocka_unit_test(test_workload_rate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
