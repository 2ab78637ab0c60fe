// SPDX-License-Identifier: MIT
/*
 * DMA between a real server process and the client library: guest memory
 * shared by fd (the server reads and writes it directly), memory shared
 * without an fd (every access is a DMA_READ/DMA_WRITE message the client
 * serves while it waits for its own reply), ranges spanning maps,
 * permissions, unmapped addresses.  The device is uvfio-test-dmadev.
 *
 * usage: test-integration-dma UVFIO_TEST_DMADEV
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
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "proc.h"

#define REG_ADDR        0x00
#define REG_LEN         0x08
#define REG_SEED        0x0c
#define REG_CMD         0x10
#define REG_STATUS      0x14
#define REG_HASH        0x18
#define CMD_READ        1
#define CMD_WRITE       2

#define RW (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

static const char *dmadev_bin;
static char dir[64], sock_path[128];
static struct proc dev;
static int wait_scale = 1;
static bool teardown_failed;

static uint32_t fnv1a(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void reg_write(struct uvfio_client *c, uint32_t off, const void *v,
                      size_t len)
{
    assert_int_equal(uvfio_client_region_write(c, 0, off, v, len), (ssize_t)len);
}

static uint32_t reg_read32(struct uvfio_client *c, uint32_t off)
{
    uint32_t v;

    assert_int_equal(uvfio_client_region_read(c, 0, off, &v, 4), 4);
    return v;
}

/* Program a command and run it; returns the device's STATUS. */
static int dma_cmd(struct uvfio_client *c, uint32_t cmd, uint64_t addr,
                   uint32_t len, uint32_t seed)
{
    reg_write(c, REG_ADDR, &addr, 8);
    reg_write(c, REG_LEN, &len, 4);
    reg_write(c, REG_SEED, &seed, 4);
    reg_write(c, REG_CMD, &cmd, 4);
    return (int)reg_read32(c, REG_STATUS);
}

static void fill(uint8_t *p, size_t len, unsigned int salt)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31 + salt + (i >> 8));
}

static void expect_pattern(const uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seed + i))
            fail_msg("byte %zu is %#x, want %#x", i, p[i], (uint8_t)(seed + i));
}

static int setup_client(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = 10000u * wait_scale };
    struct uvfio_client *c = NULL;

    if (uvfio_client_connect(sock_path, &o, &c))
        return -1;
    *state = c;
    return 0;
}

static int teardown_client(void **state)
{
    uvfio_client_close(*state);
    return 0;
}

static void test_dma_fd_backed(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;
    uint8_t *g;

    assert_int_equal(uvfio_guest_mem_create(1u << 20, "it-dma", &mem), 0);
    g = mem.host;
    fill(g, mem.size, 3);
    assert_int_equal(uvfio_client_dma_map(c, 0x100000, mem.size, RW, mem.fd, 0), 0);

    assert_int_equal(dma_cmd(c, CMD_READ, 0x100000 + 100, 5000, 0), 0);
    assert_int_equal(reg_read32(c, REG_HASH), fnv1a(g + 100, 5000));

    memset(g, 0xee, 8192);
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x100000 + 1, 4096, 7), 0);
    expect_pattern(g + 1, 4096, 7);
    assert_int_equal(g[0], 0xee);               /* nothing outside the range */
    assert_int_equal(g[4097], 0xee);

    /* the last byte of the map is in, one past it is not */
    assert_int_equal(dma_cmd(c, CMD_READ, 0x100000 + mem.size - 1, 1, 0), 0);
    assert_int_equal(dma_cmd(c, CMD_READ, 0x100000 + mem.size - 1, 2, 0), -EFAULT);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x100000, mem.size), 0);
    assert_int_equal(dma_cmd(c, CMD_READ, 0x100000, 16, 0), -EFAULT);
    uvfio_guest_mem_destroy(&mem);
}

static void test_dma_message_path(void **state)
{
    struct uvfio_client *c = *state;
    size_t len = 128u << 10;
    uint8_t *host = malloc(len);

    assert_non_null(host);
    fill(host, len, 9);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x40000000, len, RW, host), 0);
    /* served by the client as DMA_READ while it waits for its own reply */
    assert_int_equal(dma_cmd(c, CMD_READ, 0x40000000 + 3, 100000, 0), 0);
    assert_int_equal(reg_read32(c, REG_HASH), fnv1a(host + 3, 100000));
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x40000000 + 10, 70000, 200), 0);
    expect_pattern(host + 10, 70000, 200);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x40000000, len), 0);
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x40000000, 16, 0), -EFAULT);
    free(host);
}

static void test_dma_spans_maps(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem a;
    uint8_t *b = malloc(65536), expect[8192];

    assert_non_null(b);
    assert_int_equal(uvfio_guest_mem_create(65536, "it-span", &a), 0);
    fill(a.host, 65536, 1);
    fill(b, 65536, 2);
    /* an fd-backed map followed directly by a message-path map */
    assert_int_equal(uvfio_client_dma_map(c, 0x200000, 65536, RW, a.fd, 0), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x210000, 65536, RW, b), 0);
    memcpy(expect, (uint8_t *)a.host + 65536 - 4096, 4096);
    memcpy(expect + 4096, b, 4096);
    assert_int_equal(dma_cmd(c, CMD_READ, 0x210000 - 4096, 8192, 0), 0);
    assert_int_equal(reg_read32(c, REG_HASH), fnv1a(expect, sizeof(expect)));
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x210000 - 100, 200, 50), 0);
    expect_pattern((uint8_t *)a.host + 65536 - 100, 100, 50);
    expect_pattern(b, 100, 150);
    assert_int_equal(uvfio_client_dma_unmap_all(c), 0);
    uvfio_guest_mem_destroy(&a);
    free(b);
}

static void test_dma_permissions(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;
    uint8_t *ro = malloc(8192);

    assert_non_null(ro);
    memset(ro, 0x11, 8192);
    assert_int_equal(uvfio_guest_mem_create(65536, "it-ro", &mem), 0);
    memset(mem.host, 0x22, mem.size);
    assert_int_equal(uvfio_client_dma_map(c, 0x300000, mem.size,
                                          UVFIO_DMA_MAP_FLAG_READ, mem.fd, 0), 0);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x400000, 8192,
                                              UVFIO_DMA_MAP_FLAG_READ, ro), 0);
    assert_int_equal(dma_cmd(c, CMD_READ, 0x300000, 64, 0), 0);
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x300000, 64, 0), -EFAULT);
    assert_int_equal(dma_cmd(c, CMD_WRITE, 0x400000, 64, 0), -EFAULT);
    assert_int_equal(((uint8_t *)mem.host)[0], 0x22);
    assert_int_equal(ro[0], 0x11);
    /* nowhere mapped at all */
    assert_int_equal(dma_cmd(c, CMD_READ, 0xdead0000, 4, 0), -EFAULT);
    assert_int_equal(dma_cmd(c, CMD_READ, UINT64_MAX - 1, 4, 0), -EFAULT);
    assert_int_equal(uvfio_client_dma_unmap_all(c), 0);
    uvfio_guest_mem_destroy(&mem);
    free(ro);
}

/* A client that goes away leaves no maps behind for the next one. */
static void test_maps_dropped_on_disconnect(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;

    assert_int_equal(uvfio_guest_mem_create(65536, "it-drop", &mem), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x500000, mem.size, RW, mem.fd, 0), 0);
    assert_int_equal(dma_cmd(c, CMD_READ, 0x500000, 16, 0), 0);
    uvfio_client_close(c);
    *state = NULL;
    assert_int_equal(setup_client(state), 0);
    assert_int_equal(dma_cmd(*state, CMD_READ, 0x500000, 16, 0), -EFAULT);
    uvfio_guest_mem_destroy(&mem);
}

static int group_setup(void **state)
{
    char opt[160], log[160];
    char *argv[] = { (char *)dmadev_bin, opt, NULL };

    (void)state;
    if (proc_valgrind_wanted())
        wait_scale = 20;
    if (tmpdir_create(dir, sizeof(dir)))
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/dma.sock", dir);
    snprintf(opt, sizeof(opt), "--socket-path=%s", sock_path);
    snprintf(log, sizeof(log), "%s/dmadev.log", dir);
    if (proc_spawn(&dev, argv, log, true))
        return -1;
    return proc_wait_socket(&dev, sock_path, 5000 * wait_scale) ? -1 : 0;
}

static int group_teardown(void **state)
{
    struct stat st;
    int status = -1, ret = 0;

    (void)state;
    if (proc_stop(&dev, SIGTERM, 10000 * wait_scale, &status))
        ret = -1;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ret = -1;
    if (stat(sock_path, &st) == 0)
        ret = -1;
    tmpdir_remove(dir);
    teardown_failed = ret != 0;
    return ret;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dma_fd_backed, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_message_path, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_spans_maps, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_permissions, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_maps_dropped_on_disconnect, setup_client, teardown_client),
    };
    int failed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s UVFIO_TEST_DMADEV\n", argv[0]);
        return 2;
    }
    dmadev_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    uvfio_log_set_level(UVFIO_LOG_NONE);
    failed = cmocka_run_group_tests_name("integration-dma", tests,
                                         group_setup, group_teardown);
    return failed || teardown_failed ? 1 : 0;
}
