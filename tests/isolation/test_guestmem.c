// SPDX-License-Identifier: MIT
/*
 * tests/isolation/test_guestmem.c - guest memory that goes away, with a
 * real server process.
 *
 * A client that shrinks the file behind a DMA map makes the device's next
 * access to it fault.  The server survives that: the access fails with
 * EFAULT, on the dispatch thread and on a driver's worker thread alike,
 * the device and every other device keep being served, and the client may
 * unmap the dead window and map fresh memory.  A sealed memfd cannot be
 * shrunk at all; a client unmapping or closing its own copy of guest
 * memory takes nothing from the server.  With the guard off
 * (--require-seal, or UVFIO_SIGBUS_GUARD=0 in the server's environment)
 * an unsealed fd is refused at DMA_MAP with EPERM instead.
 *
 * usage: test-guestmem UVFIO_TEST_ISOSERVER
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso.h"

#define IOVA    0x10000000ull
#define WIN     (64u << 10)
#define RW      (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

static struct iso_server srv;

static int group_setup(void **state)
{
    (void)state;
    iso_server_start(&srv, 2, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    iso_server_stop(&srv);
    return 0;
}

/* The probe of a test that failed half way, still running. */
static struct iso_probe *unfinished;

/* Stop it, and give the next test a fresh server, so that one failure
 * does not make every later test fail too. */
static int test_teardown(void **state)
{
    struct iso_stats st;

    if (!unfinished)
        return 0;
    iso_probe_stop(unfinished, &st);
    unfinished = NULL;
    iso_server_stop(&srv);
    return group_setup(state);
}

static int unsealed_memfd(size_t size)
{
    int fd = memfd_create("unsealed-guest", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

/* Guest memory in a plain file, as QEMU's memory-backend-file has it. */
static int plain_file(size_t size)
{
    char path[160];
    int fd;

    snprintf(path, sizeof(path), "%s/guest-ram", srv.dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static uint32_t pattern_hash(uint32_t seed, size_t len)
{
    uint8_t *p = malloc(len);
    uint32_t h;

    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed + i);
    h = iso_fnv1a(p, len);
    free(p);
    return h;
}

/* The device writes a pattern and reads it back: both through the map. */
static void assert_dma_works(struct uvfio_client *c, uint64_t iova,
                             uint32_t seed)
{
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_WRITE, iova, 4096, seed), 0);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, iova, 4096, 0), 0);
    assert_int_equal(iso_hash(c), pattern_hash(seed, 4096));
}

static bool log_has(const struct iso_server *s, const char *text)
{
    char *log = iso_server_log(s);
    bool found = log && strstr(log, text);

    free(log);
    return found;
}

/* ---- sealed memory ------------------------------------------------------ */

static void test_sealed_cannot_shrink(void **state)
{
    struct uvfio_guest_mem gm;
    struct uvfio_client *c;

    (void)state;
    assert_int_equal(uvfio_guest_mem_create(WIN, "sealed", &gm), 0);
    c = iso_client(&srv, 1);
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, gm.fd, 0), 0);
    assert_dma_works(c, IOVA, 3);
    assert_int_equal(((uint8_t *)gm.host)[10], 13);
    assert_int_equal(ftruncate(gm.fd, 0), -1);
    assert_int_equal(errno, EPERM);
    assert_dma_works(c, IOVA + 8192, 4);
    uvfio_client_close(c);
    uvfio_guest_mem_destroy(&gm);
}

/* ---- memory taken away -------------------------------------------------- */

/*
 * Outcome: EFAULT for that DMA, the process and its devices unharmed, the
 * client free to unmap the dead window and map new memory.  Ten rounds,
 * each a fresh window shrunk under the device, while a probe times the
 * other device.
 */
static void shrink_and_check(const char *what, int (*make)(size_t),
                             bool worker)
{
    uint32_t rd = worker ? ISO_CMD_READ_BG : ISO_CMD_READ;
    uint32_t wr = worker ? ISO_CMD_WRITE_BG : ISO_CMD_WRITE;
    /* Not on the stack: the probe thread outlives a test that fails. */
    static struct iso_probe probe;
    struct uvfio_guest_mem fresh;
    struct iso_stats st;
    struct uvfio_client *c;
    int fd, round;

    iso_probe_start(&probe, &srv, 0);
    unfinished = &probe;
    c = iso_client(&srv, 1);
    for (round = 0; round < 10; round++) {
        fd = make(WIN);
        assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, fd, 0), 0);
        assert_dma_works(c, IOVA, 9);
        assert_int_equal(ftruncate(fd, 0), 0);
        iso_dma_cmd(c, rd, IOVA, 4096, 0);
        assert_int_equal(iso_wait_idle(c, 5000), -EFAULT);
        iso_dma_cmd(c, wr, IOVA + 4096, 4096, 1);
        assert_int_equal(iso_wait_idle(c, 5000), -EFAULT);
        iso_check_id(c, 1);
        assert_int_equal(uvfio_client_dma_unmap(c, IOVA, WIN), 0);
        close(fd);
        iso_sleep_ms(20);
    }
    assert_true(log_has(&srv, "took away the memory"));

    assert_int_equal(uvfio_guest_mem_create(WIN, "fresh", &fresh), 0);
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, fresh.fd, 0), 0);
    assert_dma_works(c, IOVA, 21);
    uvfio_client_close(c);
    uvfio_guest_mem_destroy(&fresh);

    unfinished = NULL;
    iso_probe_stop(&probe, &st);
    iso_probe_check(what, &st, &probe, 20, 100, 500);
    iso_server_assert_idle(&srv);
}

static void test_unsealed_memfd_shrunk(void **state)
{
    (void)state;
    shrink_and_check("memfd shrunk, inline DMA", unsealed_memfd, false);
}

static void test_unsealed_memfd_shrunk_worker(void **state)
{
    (void)state;
    shrink_and_check("memfd shrunk, worker DMA", unsealed_memfd, true);
}

static void test_plain_file_shrunk(void **state)
{
    (void)state;
    shrink_and_check("file shrunk, inline DMA", plain_file, false);
}

/* Half the window goes: what is left works until the device touches the
 * missing half; from then on the window is dead as a whole. */
static void test_partly_shrunk_window_dies_whole(void **state)
{
    struct uvfio_client *c = iso_client(&srv, 1);
    int fd = unsealed_memfd(WIN);

    (void)state;
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, fd, 0), 0);
    assert_int_equal(ftruncate(fd, WIN / 2), 0);
    assert_dma_works(c, IOVA, 5);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, IOVA + WIN - 4096, 4096, 0),
                     -EFAULT);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, IOVA, 4096, 0), -EFAULT);
    /* A read straddling the hole from the live half fails too. */
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, IOVA + WIN / 2 - 8, 16, 0),
                     -EFAULT);
    iso_check_id(c, 1);
    uvfio_client_close(c);
    close(fd);
}

/* ---- the client's own copy ----------------------------------------------- */

/* The server has its own mapping: the client dropping its mapping and its
 * fd changes nothing for the device. */
static void test_client_unmaps_its_copy(void **state)
{
    struct uvfio_guest_mem gm;
    struct uvfio_client *c;
    int fd = unsealed_memfd(WIN);

    (void)state;
    assert_int_equal(uvfio_guest_mem_create(WIN, "sealed", &gm), 0);
    c = iso_client(&srv, 1);
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, gm.fd, 0), 0);
    assert_int_equal(uvfio_client_dma_map(c, IOVA + WIN, WIN, RW, fd, 0), 0);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_WRITE, IOVA + 100, 4096, 77), 0);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_WRITE, IOVA + WIN + 100, 4096, 78),
                     0);
    uvfio_guest_mem_destroy(&gm);
    close(fd);
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, IOVA + 100, 4096, 0), 0);
    assert_int_equal(iso_hash(c), pattern_hash(77, 4096));
    assert_int_equal(iso_dma_cmd(c, ISO_CMD_READ, IOVA + WIN + 100, 4096, 0),
                     0);
    assert_int_equal(iso_hash(c), pattern_hash(78, 4096));
    assert_dma_works(c, IOVA + WIN, 6);
    uvfio_client_close(c);
}

/* ---- the guard off -------------------------------------------------------- */

static void assert_unsealed_refused(const struct iso_server *s)
{
    struct uvfio_guest_mem gm;
    struct uvfio_client *c = iso_client(s, 0);
    int fd = unsealed_memfd(WIN), file = plain_file(WIN);

    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, fd, 0), -EPERM);
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, file, 0), -EPERM);
    assert_int_equal(uvfio_guest_mem_create(WIN, "sealed", &gm), 0);
    assert_int_equal(uvfio_client_dma_map(c, IOVA, WIN, RW, gm.fd, 0), 0);
    assert_dma_works(c, IOVA, 8);
    iso_check_id(c, 0);
    uvfio_client_close(c);
    uvfio_guest_mem_destroy(&gm);
    close(fd);
    close(file);
    assert_true(log_has(s, "not sealed against shrinking"));
}

static void test_require_seal_option(void **state)
{
    static const char *const extra[] = { "--require-seal", NULL };
    struct iso_server strict;

    (void)state;
    iso_server_start(&strict, 1, extra);
    assert_unsealed_refused(&strict);
    iso_server_stop(&strict);
}

static void test_require_seal_environment(void **state)
{
    struct iso_server strict;

    (void)state;
    assert_int_equal(setenv("UVFIO_SIGBUS_GUARD", "0", 1), 0);
    iso_server_start(&strict, 1, NULL);
    unsetenv("UVFIO_SIGBUS_GUARD");
    assert_unsealed_refused(&strict);
    iso_server_stop(&strict);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_cannot_shrink),
        cmocka_unit_test_teardown(test_unsealed_memfd_shrunk, test_teardown),
        cmocka_unit_test_teardown(test_unsealed_memfd_shrunk_worker,
                                  test_teardown),
        cmocka_unit_test_teardown(test_plain_file_shrunk, test_teardown),
        cmocka_unit_test(test_partly_shrunk_window_dies_whole),
        cmocka_unit_test(test_client_unmaps_its_copy),
        cmocka_unit_test(test_require_seal_option),
        cmocka_unit_test(test_require_seal_environment),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s UVFIO_TEST_ISOSERVER\n", argv[0]);
        return 2;
    }
    iso_output_init();
    iso_server_bin = argv[1];
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
