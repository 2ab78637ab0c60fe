// SPDX-License-Identifier: MIT
/*
 * tests/edu/test_copyq.c - the copy queue through the core: the page
 * pattern, window checks, writing over fd-backed and message-path maps,
 * the rate (loose bounds only), stopping, holding in the P2P and stopped
 * migration states and resuming, and the faults that halt it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"
#include "pattern.h"

#define WIN_IOVA        0x100000u
#define PAGE            EDU_CQ_PAGE_SIZE
#define RW              (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)
#define WAIT_MS         5000

struct cq_fx {
    struct fx *f;
    uint8_t *mem;
    int fd;
    size_t size;
};

static int setup_size(void **state, size_t pages)
{
    struct cq_fx *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->f = fx_create(NULL);
    c->size = pages * PAGE;
    c->mem = fx_memfd(c->size, &c->fd);
    assert_int_equal(fx_map_fd(c->f, WIN_IOVA, c->size, c->fd, RW), 0);
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_size(state, 16);
}

static int setup_big(void **state)
{
    return setup_size(state, 256);
}

static int teardown(void **state)
{
    struct cq_fx *c = *state;

    fx_destroy(c->f);
    fx_memfd_free(c->mem, c->size, c->fd);
    free(c);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serve hand-offs while waiting for register `reg` to reach `min`. */
static uint64_t wait_reg_at_least(struct fx *f, uint32_t reg, uint64_t min)
{
    int64_t end = mono_ms() + WAIT_MS;
    uint64_t v;

    while ((v = rd64(f, reg)) < min) {
        if (mono_ms() > end)
            fail_msg("register %#x stuck at %llu (want %llu)", reg,
                     (unsigned long long)v, (unsigned long long)min);
        fx_pump(f, 2);
    }
    return v;
}

static void wait_status(struct fx *f, uint64_t want)
{
    int64_t end = mono_ms() + WAIT_MS;

    while (rd64(f, EDU_REG_CQ_STATUS) != want) {
        if (mono_ms() > end)
            fail_msg("status %#llx, want %#llx",
                     (unsigned long long)rd64(f, EDU_REG_CQ_STATUS),
                     (unsigned long long)want);
        fx_pump(f, 2);
    }
}

static void cq_config(struct fx *f, uint64_t addr, uint64_t size,
                      uint32_t rate)
{
    wr64(f, EDU_REG_CQ_ADDR, addr);
    wr64(f, EDU_REG_CQ_SIZE, size);
    wr64(f, EDU_REG_CQ_RATE, rate);
}

static void cq_enable(struct fx *f, bool on)
{
    wr64(f, EDU_REG_CQ_CTRL, on ? EDU_CQ_CTRL_ENABLE : 0);
}

/* The window says exactly what the progress registers say. */
static void check_progress(struct fx *f, const void *mem, uint64_t size)
{
    uint64_t passes = rd64(f, EDU_REG_CQ_PASSES), pos = rd64(f, EDU_REG_CQ_POS);

    assert_true(pos < size / PAGE);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES),
                     (passes * (size / PAGE) + pos) * PAGE);
    fx_check_window(mem, rd64(f, EDU_REG_CQ_ADDR), size, passes, pos);
}

/* ---- the pattern ----------------------------------------------------------- */

static void test_pattern(void **state)
{
    static uint8_t page[PAGE], copy[PAGE];
    uint64_t pass = 0;

    (void)state;
    edu_cq_page_fill(page, 7, 3, 0x5000);
    assert_int_equal(edu_cq_page_check(page, 3, 0x5000, &pass), 0);
    assert_int_equal(pass, 7);
    assert_int_equal(edu_cq_page_check(page, 4, 0x5000, &pass), -EINVAL);
    assert_int_equal(edu_cq_page_check(page, 3, 0x6000, &pass), -EINVAL);
    /* every word is checked: a torn page fails */
    memcpy(copy, page, PAGE);
    copy[PAGE - 1] ^= 1;
    assert_int_equal(edu_cq_page_check(copy, 3, 0x5000, &pass), -EINVAL);
    memcpy(copy, page, PAGE);
    copy[8] = 0;                        /* the pass number */
    assert_int_equal(edu_cq_page_check(copy, 3, 0x5000, &pass), -EINVAL);
    /* a page of another pass does not pass for this one's body */
    edu_cq_page_fill(copy, 8, 3, 0x5000);
    memcpy(copy + 8, page + 8, 8);
    assert_int_equal(edu_cq_page_check(copy, 3, 0x5000, &pass), -EINVAL);
    memset(copy, 0, PAGE);
    assert_int_equal(edu_cq_page_check(copy, 0, 0, &pass), -EINVAL);
    assert_int_equal(edu_cq_expected_pass(2, 5, 4), 3);
    assert_int_equal(edu_cq_expected_pass(2, 5, 5), 2);
    assert_int_equal(edu_cq_expected_pass(0, 0, 0), 0);
}

/* ---- configuration ------------------------------------------------------------ */

static void expect_refused(struct fx *f, uint64_t addr, uint64_t size)
{
    cq_config(f, addr, size, 1024);
    cq_enable(f, true);
    assert_int_equal(rd64(f, EDU_REG_CQ_CTRL), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_ERROR);
    assert_int_equal(rd64(f, EDU_REG_CQ_ERROR), EINVAL);
}

static void test_bad_window_refused(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    expect_refused(f, WIN_IOVA, 0);
    expect_refused(f, WIN_IOVA + 1, PAGE);
    expect_refused(f, WIN_IOVA, PAGE + 512);
    expect_refused(f, UINT64_MAX - PAGE + 1, 2 * PAGE);     /* wraps */
    /* the last page of the IOVA space is a window like any other: taken,
     * and (unmapped) it faults once the dispatch thread has tried the
     * page the worker could not pin */
    cq_config(f, UINT64_MAX - PAGE + 1, PAGE, 1024);
    cq_enable(f, true);
    assert_int_equal(rd64(f, EDU_REG_CQ_ERROR), 0);
    assert_true(rd64(f, EDU_REG_CQ_CTRL) & EDU_CQ_CTRL_ENABLE);
    wait_status(f, EDU_CQ_STATUS_ERROR);
    assert_int_equal(rd64(f, EDU_REG_CQ_ERROR), EFAULT);
    assert_int_equal(rd64(f, EDU_REG_CQ_CTRL), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), 0);
}

static void test_window_locked_while_enabled(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    cq_config(f, WIN_IOVA, c->size, 4096);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 2 * PAGE);
    wr64(f, EDU_REG_CQ_ADDR, 0x900000);
    wr64(f, EDU_REG_CQ_SIZE, PAGE);
    assert_int_equal(rd64(f, EDU_REG_CQ_ADDR), WIN_IOVA);
    assert_int_equal(rd64(f, EDU_REG_CQ_SIZE), c->size);
    cq_enable(f, false);
    check_progress(f, c->mem, c->size);
    /* stopped: a new window is a new sequence */
    wr64(f, EDU_REG_CQ_SIZE, c->size / 2);
    assert_int_equal(rd64(f, EDU_REG_CQ_PASSES), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_POS), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), 0);
}

/* ---- writing ------------------------------------------------------------------ */

static void test_writes_pattern_fd(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    cq_config(f, WIN_IOVA, c->size, 8192);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), 0);
    cq_enable(f, true);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_ACTIVE);
    wait_reg_at_least(f, EDU_REG_CQ_PASSES, 2);
    cq_enable(f, false);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), 0);
    check_progress(f, c->mem, c->size);
    assert_int_equal(f->dma_rw_calls, 0);           /* all direct */
}

/* Stopped means stopped: nothing lands after the CTRL write returned,
 * and a restart goes on where it stopped. */
static void test_stop_and_restart(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;
    uint64_t bytes;
    uint8_t *copy = malloc(c->size);

    assert_non_null(copy);
    cq_config(f, WIN_IOVA, c->size, 8192);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 5 * PAGE);
    cq_enable(f, false);
    bytes = rd64(f, EDU_REG_CQ_BYTES);
    memcpy(copy, c->mem, c->size);
    fx_sleep_ms(60);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), bytes);
    assert_memory_equal(copy, c->mem, c->size);
    check_progress(f, c->mem, c->size);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, bytes + 20 * PAGE);
    cq_enable(f, false);
    check_progress(f, c->mem, c->size);
    free(copy);
}

/* Loose bounds only: a shared, loaded host may run the worker late, and
 * the pace never bursts to catch up, so only the upper bound is firm. */
static void test_rate(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;
    const uint32_t kib = 1024;          /* 1 MiB/s: 256 pages/s */
    int64_t t0, t1;
    uint64_t bytes, expect;

    cq_config(f, WIN_IOVA, c->size, kib);
    t0 = mono_ms();
    cq_enable(f, true);
    fx_sleep_ms(300);
    cq_enable(f, false);
    t1 = mono_ms();
    bytes = rd64(f, EDU_REG_CQ_BYTES);
    expect = (uint64_t)kib * 1024 * (uint64_t)(t1 - t0) / 1000;
    if (bytes > expect + expect / 4 + PAGE || bytes < expect / 5)
        fail_msg("%llu bytes in %lld ms at %u KiB/s (expected ~%llu)",
                 (unsigned long long)bytes, (long long)(t1 - t0), kib,
                 (unsigned long long)expect);
    check_progress(f, c->mem, c->size);
}

/* The rate may change while running; 0 holds the queue without
 * stopping it. */
static void test_rate_change_and_zero(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;
    uint64_t bytes;

    cq_config(f, WIN_IOVA, c->size, 64);            /* 16 pages/s */
    cq_enable(f, true);
    wr64(f, EDU_REG_CQ_RATE, 16384);                /* 16 MiB/s */
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 64 * PAGE);
    wr64(f, EDU_REG_CQ_RATE, 0);
    bytes = rd64(f, EDU_REG_CQ_BYTES);
    fx_sleep_ms(80);
    /* at most the page that was under way when the rate dropped */
    assert_true(rd64(f, EDU_REG_CQ_BYTES) <= bytes + PAGE);
    bytes = rd64(f, EDU_REG_CQ_BYTES);
    fx_sleep_ms(50);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), bytes);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_ACTIVE);
    wr64(f, EDU_REG_CQ_RATE, 16384);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, bytes + 16 * PAGE);
    cq_enable(f, false);
    check_progress(f, c->mem, c->size);
}

/* Windows shared without an fd: every page is a DMA_WRITE, sent by the
 * dispatch thread on the worker's behalf. */
static void test_message_path(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;
    const size_t size = 8 * PAGE;
    uint8_t *host = calloc(1, size);

    assert_non_null(host);
    assert_int_equal(fx_map_msg(f, 0x40000000, size, host, RW), 0);
    cq_config(f, 0x40000000, size, 8192);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_PASSES, 3);
    cq_enable(f, false);
    check_progress(f, host, size);
    assert_true(f->dma_rw_calls >= 3 * 8);
    /* a window spanning an fd-backed map and a message-path one */
    assert_int_equal(fx_unmap(f, 0x40000000, size), 0);
    assert_int_equal(fx_map_msg(f, WIN_IOVA + c->size, size, host, RW), 0);
    memset(host, 0, size);
    memset(c->mem, 0, c->size);
    cq_config(f, WIN_IOVA + c->size - 4 * PAGE, 8 * PAGE, 8192);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_PASSES, 2);
    cq_enable(f, false);
    {
        uint8_t *joined = malloc(8 * PAGE);

        assert_non_null(joined);
        memcpy(joined, c->mem + c->size - 4 * PAGE, 4 * PAGE);
        memcpy(joined + 4 * PAGE, host, 4 * PAGE);
        check_progress(f, joined, 8 * PAGE);
        free(joined);
    }
    free(host);
}

/* ---- holding for migration ------------------------------------------------------ */

static void expect_still(struct cq_fx *c)
{
    struct fx *f = c->f;
    uint64_t bytes = rd64(f, EDU_REG_CQ_BYTES);

    /* exact on return of the arc: the window matches the position */
    check_progress(f, c->mem, c->size);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_PAUSED);
    fx_pump(f, 60);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), bytes);
}

static void expect_moving(struct cq_fx *c)
{
    struct fx *f = c->f;

    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_ACTIVE);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, rd64(f, EDU_REG_CQ_BYTES) +
                      8 * PAGE);
}

static void test_held_by_migration(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    cq_config(f, WIN_IOVA, c->size, 8192);
    cq_enable(f, true);
    expect_moving(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    expect_still(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_STOP), 0);
    expect_still(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING), 0);
    expect_moving(c);
    /* precopy runs, its P2P form holds */
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_PRE_COPY), 0);
    expect_moving(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_PRE_COPY_P2P), 0);
    expect_still(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_STOP_COPY), 0);
    expect_still(c);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING), 0);
    expect_moving(c);
    /* CTRL and the registers still answer while held */
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    cq_enable(f, false);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), 0);
    cq_enable(f, true);
    expect_still(c);
    /* a reset leaves the held state (and stops the queue) */
    assert_int_equal(uvfio_core_reset(f->dev), 0);
    fx_bus_master(f, true);
    assert_int_equal(fx_get_state(f), UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), 0);
}

/* The same over the message path: a hand-off the dispatch thread has not
 * served yet when the hold comes is cancelled, not waited for. */
static void test_held_message_path(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;
    const size_t size = 8 * PAGE;
    uint8_t *host = calloc(1, size);
    uint64_t bytes;

    assert_non_null(host);
    assert_int_equal(fx_map_msg(f, 0x40000000, size, host, RW), 0);
    cq_config(f, 0x40000000, size, 16384);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 10 * PAGE);
    fx_sleep_ms(20);        /* the worker is waiting for us by now */
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    bytes = rd64(f, EDU_REG_CQ_BYTES);
    fx_pump(f, 50);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), bytes);
    check_progress(f, host, size);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING), 0);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, bytes + 10 * PAGE);
    cq_enable(f, false);
    check_progress(f, host, size);
    free(host);
}

/* ---- faults ---------------------------------------------------------------------- */

static void expect_fault(struct fx *f, uint32_t err)
{
    wait_status(f, EDU_CQ_STATUS_ERROR);
    assert_int_equal(rd64(f, EDU_REG_CQ_ERROR), err);
    assert_int_equal(rd64(f, EDU_REG_CQ_CTRL), 0);
}

static void test_faults(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    /* the window runs past the map */
    cq_config(f, WIN_IOVA + c->size - 2 * PAGE, 4 * PAGE, 8192);
    cq_enable(f, true);
    expect_fault(f, EFAULT);
    assert_int_equal(rd64(f, EDU_REG_CQ_POS), 2);
    /* a restart clears the error */
    memset(c->mem, 0, c->size);
    cq_config(f, WIN_IOVA, c->size, 8192);
    cq_enable(f, true);
    assert_int_equal(rd64(f, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_ACTIVE);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 4 * PAGE);
    /* bus mastering off halts it */
    fx_bus_master(f, false);
    expect_fault(f, EPERM);
    fx_bus_master(f, true);
    check_progress(f, c->mem, c->size);
    /* a read-only window */
    assert_int_equal(fx_unmap(f, WIN_IOVA, c->size), 0);
    assert_int_equal(fx_map_fd(f, WIN_IOVA, c->size, c->fd,
                               UVFIO_DMA_MAP_FLAG_READ), 0);
    cq_enable(f, true);
    expect_fault(f, EFAULT);
}

/* The client unmaps the window while the worker writes into it. */
static void test_unmap_while_running(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    cq_config(f, WIN_IOVA, c->size, 16384);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 16 * PAGE);
    assert_int_equal(fx_unmap(f, WIN_IOVA, c->size), 0);
    expect_fault(f, EFAULT);
    check_progress(f, c->mem, c->size);
}

/* A device reset stops the queue and returns it to its power-on window. */
static void test_reset_to_preset(void **state)
{
    struct cq_fx *c = *state;
    const struct edu_opts o = {
        .cq_addr = WIN_IOVA, .cq_size = 4 * PAGE, .cq_rate = 2048,
    };
    struct fx *f;

    fx_destroy(c->f);
    c->f = f = fx_create(&o);
    assert_int_equal(fx_map_fd(f, WIN_IOVA, c->size, c->fd, RW), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_ADDR), WIN_IOVA);
    assert_int_equal(rd64(f, EDU_REG_CQ_SIZE), 4 * PAGE);
    assert_int_equal(rd64(f, EDU_REG_CQ_RATE), 2048);
    wr64(f, EDU_REG_CQ_RATE, 16384);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_PASSES, 2);
    assert_int_equal(uvfio_core_reset(f->dev), 0);
    fx_bus_master(f, true);
    assert_int_equal(rd64(f, EDU_REG_CQ_CTRL), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_RATE), 2048);
    assert_int_equal(rd64(f, EDU_REG_CQ_SIZE), 4 * PAGE);
    assert_int_equal(rd64(f, EDU_REG_CQ_PASSES), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_BYTES), 0);
}

/* A device destroyed while its queue runs joins the worker cleanly. */
static void test_destroy_while_running(void **state)
{
    struct cq_fx *c = *state;
    struct fx *f = c->f;

    cq_config(f, WIN_IOVA, c->size, 16384);
    cq_enable(f, true);
    wait_reg_at_least(f, EDU_REG_CQ_BYTES, 4 * PAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern),
        cmocka_unit_test_setup_teardown(test_bad_window_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_locked_while_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_pattern_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_rate_change_and_zero, setup_big, teardown),
        cmocka_unit_test_setup_teardown(test_message_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_by_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_message_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmap_while_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_to_preset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_while_running, setup, teardown),
    };

    return cmocka_run_group_tests_name("edu-copyq", tests, NULL, NULL);
}
