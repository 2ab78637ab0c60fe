// SPDX-License-Identifier: MIT
/*
 * tests/dirty/test_dma.c - device DMA is tracked: writes by message, pins
 * released, the DMA_UNMAP dirty bitmap (its errnos and its bits), and no
 * bit lost or reported twice while writers race the reader, or while
 * logging starts and stops under them.
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

#define RW  (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

static struct uvfio_dirty_range R(uint64_t iova, uint64_t length)
{
    struct uvfio_dirty_range r = { iova, length };

    return r;
}

static void start_all(struct tdev *t)
{
    uint64_t ps = PG;

    assert_int_equal(t_start(t, NULL, 0, &ps), 0);
}

/* ---- the message path -------------------------------------------------- */

static void test_message_writes_marked(void **state)
{
    uint8_t buf[3 * PG];
    uint64_t w[1];
    struct tdev t;

    (void)state;
    memset(buf, 0x33, sizeof(buf));
    tdev_init(&t, NULL, 0, 32 * PG, 0);
    assert_int_equal(t_map_msg(&t, 0, 64 * PG, RW), 0);
    start_all(&t);
    assert_int_equal(uvfio_dma_write(t.dev, 10 * PG + 1, buf, 2 * PG), 0);
    assert_true(t.msg_writes >= 1);
    assert_int_equal(t.mem[10 * PG + 1], 0x33);
    /* reads are no writes */
    assert_int_equal(uvfio_dma_read(t.dev, 20 * PG, buf, PG), 0);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 7ull << 10);
    /* a write the client failed may still have landed in part: it counts
     * (the fake client only holds the first 32 pages) */
    assert_int_equal(uvfio_dma_write(t.dev, 40 * PG, buf, PG), -EFAULT);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 1ull << 40);
    tdev_fini(&t);
}

/* ---- pins -------------------------------------------------------------- */

static void test_pin_marks_on_release(void **state)
{
    struct uvfio_dma_pin pin, rpin;
    uint64_t w[1];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 64 * PG, RW), 0);
    start_all(&t);
    assert_int_equal(uvfio_dma_pin(t.dev, 5 * PG, 3 * PG, true, &pin), 0);
    assert_int_equal(uvfio_dma_pin(t.dev, 20 * PG, PG, false, &rpin), 0);
    memset(pin.host, 1, 3 * PG);
    /* held: the device may still be writing */
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 0);
    uvfio_dma_unpin(t.dev, &pin);
    uvfio_dma_unpin(t.dev, &rpin);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 7ull << 5);
    /* released after logging stopped: nothing to mark, nothing breaks */
    assert_int_equal(uvfio_dma_pin(t.dev, 5 * PG, PG, true, &pin), 0);
    assert_int_equal(t_stop(&t), 0);
    uvfio_dma_unpin(t.dev, &pin);
    start_all(&t);
    assert_int_equal(t_report(&t, 0, 64 * PG, PG, w), 0);
    assert_int_equal(w[0], 0);
    tdev_fini(&t);
}

/* ---- DMA_UNMAP with a dirty bitmap ------------------------------------- */

static int unmap_raw(struct tdev *t, uint32_t argsz, uint32_t flags,
                     uint64_t iova, uint64_t size, uint64_t pgsize,
                     uint32_t bytes, size_t trailer_len)
{
    struct uvfio_wire_dma_unmap u = { argsz, flags, iova, size };
    struct uvfio_wire_bitmap bm = { pgsize, bytes };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_dma_unmap(t->dev, &u, &bm, trailer_len, &rep);

    uvfio_buf_free(&rep);
    return r;
}

static void test_unmap_bitmap_errnos(void **state)
{
    const uint32_t bm = UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
    const uint32_t full = 24 + 12 + 8;
    uint8_t out[8], b = 1;
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 4096);
    assert_int_equal(t_map_fd(&t, 0, 64 * PG, RW), 0);
    /* logging off */
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG, 8, out), -EINVAL);
    start_all(&t);
    assert_int_equal(uvfio_dma_write(t.dev, 3 * PG, &b, 1), 0);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG / 2, 16, out),
                     -EINVAL);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, 3 * PG, 8, out), -EINVAL);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG, 7, out), -EINVAL);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG, 4097, out), -E2BIG);
    assert_int_equal(unmap_raw(&t, full - 1, bm, 0, 64 * PG, PG, 8, 12),
                     -EINVAL);
    assert_int_equal(unmap_raw(&t, full, bm, 0, 64 * PG, PG, 8, 8), -EINVAL);
    assert_int_equal(unmap_raw(&t, full, bm | UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0,
                               PG, 8, 12), -EINVAL);
    /* not a map: refused, nothing read */
    assert_int_equal(t_unmap_dirty(&t, 0, 32 * PG, PG, 8, out), -EINVAL);
    assert_int_equal(t_unmap_dirty(&t, PG, 64 * PG, PG, 8, out), -EINVAL);
    /* every refusal left the map and its log alone */
    assert_int_equal(uvfio_dma_write(t.dev, 4 * PG, &b, 1), 0);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG, 8, out), 0);
    assert_int_equal(out[0], 0x18);
    assert_int_equal(uvfio_dma_write(t.dev, 0, &b, 1), -EFAULT);
    tdev_fini(&t);
}

static void test_unmap_bitmap_bits(void **state)
{
    const uint64_t base = 16 * PG;
    uint8_t out[16], b = 1;
    uint64_t w[2];
    struct tdev t;
    int i;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, base, 70 * PG, RW), 0);
    assert_int_equal(t_map_fd(&t, 100 * PG, 16 * PG, RW), 0);
    {
        struct uvfio_dirty_range r = R(0, 128 * PG);
        uint64_t ps = PG;

        assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    }
    assert_int_equal(uvfio_dma_write(t.dev, base, &b, 1), 0);
    assert_int_equal(uvfio_dma_write(t.dev, base + 8 * PG, &b, 1), 0);
    assert_int_equal(uvfio_dma_write(t.dev, base + 69 * PG, &b, 1), 0);
    /* 70 pages: 9 bytes, byte-sized as libvfio-user clients size it */
    memset(out, 0xee, sizeof(out));
    assert_int_equal(t_unmap_dirty(&t, base, 70 * PG, PG, 9, out), 0);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 1);
    for (i = 2; i < 8; i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(out[8], 1u << 5);
    assert_int_equal(out[9], 0xee);         /* nothing past 9 bytes */
    /* read and cleared: the log of that range is clean now */
    assert_int_equal(t_report(&t, 0, 128 * PG, PG, w), 0);
    assert_int_equal(w[0] | w[1], 0);

    /* a larger bitmap is zero-padded; a coarser page size folds pages */
    assert_int_equal(uvfio_dma_write(t.dev, 101 * PG, &b, 1), 0);
    assert_int_equal(uvfio_dma_write(t.dev, 115 * PG, &b, 1), 0);
    memset(out, 0xee, sizeof(out));
    assert_int_equal(t_unmap_dirty(&t, 100 * PG, 16 * PG, 2 * PG, 16, out),
                     0);
    assert_int_equal(out[0], 0x81);
    for (i = 1; i < 16; i++)
        assert_int_equal(out[i], 0);
    tdev_fini(&t);
}

/* The driver releases its pins while the window goes: those pages are in
 * the bitmap. */
static void unpin_on_unmap(struct tdev *t, uint64_t iova, uint64_t len)
{
    struct uvfio_dma_pin *pin = t->opaque;

    (void)iova;
    (void)len;
    memset(pin->host, 2, pin->len);
    uvfio_dma_unpin(t->dev, pin);
}

static void test_unmap_bitmap_with_pin(void **state)
{
    struct uvfio_dma_pin pin;
    uint8_t out[1];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 8 * PG, RW), 0);
    start_all(&t);
    assert_int_equal(uvfio_dma_pin(t.dev, 2 * PG, 2 * PG, true, &pin), 0);
    t.opaque = &pin;
    t.on_unmap = unpin_on_unmap;
    assert_int_equal(t_unmap_dirty(&t, 0, 8 * PG, PG, 1, out), 0);
    assert_int_equal(out[0], 0x0c);
    tdev_fini(&t);
}

/* ---- concurrency ------------------------------------------------------- */

#define NPAGES      4096u
#define NWRITERS    3u

struct writer {
    struct tdev *t;
    unsigned int id;
    unsigned int seed;
    volatile int *stop;         /* for the start/stop test */
};

/* Each page of this writer's share (page % NWRITERS == id) once, in a
 * random order, so neighbouring bits of a word race each other. */
static void *write_share(void *arg)
{
    struct writer *w = arg;
    uint32_t pages[NPAGES / NWRITERS + 1], n = 0, i, j, tmp;
    uint8_t b = (uint8_t)w->id;

    for (i = w->id; i < NPAGES; i += NWRITERS)
        pages[n++] = i;
    for (i = n - 1; i > 0; i--) {
        j = (uint32_t)rand_r(&w->seed) % (i + 1);
        tmp = pages[i];
        pages[i] = pages[j];
        pages[j] = tmp;
    }
    for (i = 0; i < n; i++)
        if (uvfio_dma_write(w->t->dev, (uint64_t)pages[i] * PG, &b, 1))
            return (void *)1;
    return NULL;
}

static void test_racing_reader_loses_nothing(void **state)
{
    uint64_t acc[NPAGES / 64] = { 0 }, w[NPAGES / 64];
    struct writer wr[NWRITERS];
    pthread_t th[NWRITERS];
    unsigned int seed = (unsigned int)time(NULL), i, k;
    uint64_t total = 0, off, len;
    void *ret;

    (void)state;
    printf("# racing reader seed %u\n", seed);
    {
        struct tdev t;

        tdev_init(&t, NULL, 0, 0, 0);
        assert_int_equal(t_map_fd(&t, 0, NPAGES * PG, RW), 0);
        start_all(&t);
        for (i = 0; i < NWRITERS; i++) {
            wr[i] = (struct writer){ &t, i, seed + i, NULL };
            assert_int_equal(pthread_create(&th[i], NULL, write_share,
                                            &wr[i]), 0);
        }
        /* random word-aligned and unaligned page windows while they run */
        for (k = 0; k < 400; k++) {
            off = rand_r(&seed) % NPAGES;
            len = 1 + rand_r(&seed) % (NPAGES - off);
            memset(w, 0, sizeof(w));
            assert_int_equal(t_report(&t, off * PG, len * PG, PG, w), 0);
            for (i = 0; i < len; i++) {
                if (!t_bit(w, i))
                    continue;
                if (t_bit(acc, off + i))
                    fail_msg("seed %u: page %lu reported twice", seed,
                             (unsigned long)(off + i));
                acc[(off + i) / 64] |= 1ull << ((off + i) % 64);
                total++;
            }
        }
        for (i = 0; i < NWRITERS; i++) {
            assert_int_equal(pthread_join(th[i], &ret), 0);
            assert_null(ret);
        }
        assert_int_equal(t_report(&t, 0, NPAGES * PG, PG, w), 0);
        for (i = 0; i < NPAGES / 64; i++) {
            if (acc[i] & w[i])
                fail_msg("seed %u: word %u reported twice", seed, i);
            acc[i] |= w[i];
            total += (uint64_t)__builtin_popcountll(w[i]);
            assert_int_equal(acc[i], ~0ull);
        }
        assert_int_equal(total, NPAGES);
        tdev_fini(&t);
    }
}

/* Pages of this writer's share only: the guest bytes never race, the
 * bitmap words do. */
static void *write_until_stopped(void *arg)
{
    struct writer *w = arg;
    uint8_t buf[PG] = { 0 };
    uint64_t page;

    while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
        page = (uint64_t)(rand_r(&w->seed) % (NPAGES / NWRITERS));
        page = page * NWRITERS + w->id;
        if (uvfio_dma_write(w->t->dev, page * PG, buf, sizeof(buf)))
            return (void *)1;
    }
    return NULL;
}

/* START, STOP and REPORT while writers mark: none of them may touch a
 * tracker being freed (ASan and TSan builds watch this one). */
static void test_start_stop_under_writers(void **state)
{
    struct uvfio_dirty_range r = R(0, NPAGES * PG);
    struct writer wr[NWRITERS];
    pthread_t th[NWRITERS];
    volatile int stop = 0;
    uint64_t w[NPAGES / 64], ps;
    struct tdev t;
    unsigned int i, k;
    void *ret;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, NPAGES * PG, RW), 0);
    for (i = 0; i < NWRITERS; i++) {
        wr[i] = (struct writer){ &t, i, 77u + i, &stop };
        assert_int_equal(pthread_create(&th[i], NULL, write_until_stopped,
                                        &wr[i]), 0);
    }
    for (k = 0; k < 150; k++) {
        ps = k % 3 ? PG : 0x200000;
        assert_int_equal(k % 2 ? t_start(&t, NULL, 0, &ps) :
                         t_start(&t, &r, 1, &ps), 0);
        assert_int_equal(t_report(&t, 0, NPAGES * PG, PG, w), 0);
        assert_int_equal(t_stop(&t), 0);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (i = 0; i < NWRITERS; i++) {
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    /* and logging still works exactly afterwards */
    ps = PG;
    assert_int_equal(t_start(&t, &r, 1, &ps), 0);
    {
        uint8_t b = 9;

        assert_int_equal(uvfio_dma_write(t.dev, 77 * PG, &b, 1), 0);
    }
    assert_int_equal(t_report(&t, 0, NPAGES * PG, PG, w), 0);
    assert_int_equal(t_popcount(w, NPAGES / 64), 1);
    assert_true(t_bit(w, 77));
    tdev_fini(&t);
}

/* Whatever a client does with logging, no fd is left behind. */
static void test_no_fd_leak(void **state)
{
    int before = t_count_fds();
    uint8_t out[8];
    struct tdev t;

    (void)state;
    tdev_init(&t, NULL, 0, 0, 0);
    assert_int_equal(t_map_fd(&t, 0, 64 * PG, RW), 0);
    assert_int_equal(t_map_fd(&t, 64 * PG, 64 * PG, RW), 0);
    start_all(&t);
    t_touch(&t, 0, 128);
    assert_int_equal(t_unmap_dirty(&t, 0, 64 * PG, PG, 8, out), 0);
    tdev_fini(&t);
    assert_int_equal(t_count_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_writes_marked),
        cmocka_unit_test(test_pin_marks_on_release),
        cmocka_unit_test(test_unmap_bitmap_errnos),
        cmocka_unit_test(test_unmap_bitmap_bits),
        cmocka_unit_test(test_unmap_bitmap_with_pin),
        cmocka_unit_test(test_racing_reader_loses_nothing),
        cmocka_unit_test(test_start_stop_under_writers),
        cmocka_unit_test(test_no_fd_leak),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
