// SPDX-License-Identifier: MIT
/*
 * tests/isolation/test_limits.c - the per-client limits and their
 * command-line options: parsed exactly, refused when malformed or out of
 * bounds, and honoured by a real server process (what the client is told
 * in VERSION and what it gets when it goes past them), including through
 * uvfio-serial.
 *
 * usage: test-limits UVFIO_TEST_ISOSERVER UVFIO_SERIAL
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/server.h>
#include <uvfio/uvfio.h>

#include "iso.h"

static const char *serial_bin;

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_values(void **state)
{
    struct uvfio_server_opts o = { 0 };

    (void)state;
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-xfer=64K"), 1);
    assert_int_equal(o.max_data_xfer_size, 65536);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-xfer=64M"), 1);
    assert_int_equal(o.max_data_xfer_size, 64u << 20);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-xfer=4096"), 1);
    assert_int_equal(o.max_data_xfer_size, 4096);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-msg-fds=253"), 1);
    assert_int_equal(o.max_msg_fds, 253);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-dma-maps=4294967295"),
                     1);
    assert_int_equal(o.max_dma_maps, UINT32_MAX);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-queued-bytes=3g"),
                     1);
    assert_int_equal(o.max_queued_reply_bytes, 3ull << 30);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--dma-timeout-ms=250"),
                     1);
    assert_int_equal(o.dma_timeout_ms, 250);
    /* The neighbours of a 32-bit field are untouched by its store. */
    assert_int_equal(o.max_msg_fds, 253);
}

static void test_parse_refusals(void **state)
{
    static const struct { const char *arg; int r; } bad[] = {
        { "--max-xfer=", -EINVAL },
        { "--max-xfer=12x", -EINVAL },
        { "--max-xfer=-1", -EINVAL },
        { "--max-xfer= 1", -EINVAL },
        { "--max-xfer=1MB", -EINVAL },
        { "--max-xfer=65M", -ERANGE },
        { "--max-xfer=4095", -ERANGE },
        { "--max-msg-fds=0", -ERANGE },
        { "--max-msg-fds=254", -ERANGE },
        { "--max-msg-fds=1K", -EINVAL },
        { "--max-dma-maps=4294967296", -ERANGE },
        { "--max-queued-bytes=18446744073709551616", -ERANGE },
        { "--max-queued-bytes=99999999999G", -ERANGE },
        { "--max-queued-bytes=5G", -ERANGE },
        { "--dma-timeout-ms=0", -ERANGE },
        { "--dma-timeout-ms=3600001", -ERANGE },
    };
    struct uvfio_server_opts o, zero;
    size_t i;

    (void)state;
    memset(&zero, 0, sizeof(zero));
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&o, 0, sizeof(o));
        if (uvfio_server_opts_parse_arg(&o, bad[i].arg) != bad[i].r)
            fail_msg("%s: not refused with %d", bad[i].arg, bad[i].r);
        assert_memory_equal(&o, &zero, sizeof(o));
    }
    /* Not ours: left for the program. */
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-xfer"), 0);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--socket-path=/x"), 0);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "-v"), 0);
    assert_int_equal(uvfio_server_opts_parse_arg(NULL, "--max-xfer=1M"),
                     -EINVAL);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, NULL), -EINVAL);
}

static void test_parse_argv(void **state)
{
    char a0[] = "prog", a1[] = "--max-xfer=128K", a2[] = "-v",
         a3[] = "--max-dma-maps=7", a4[] = "--", a5[] = "--max-msg-fds=2",
         a6[] = "--max-msg-fds=999";
    char *argv[] = { a0, a1, a2, a3, a4, a5, NULL };
    char *argv2[] = { a0, a2, a6, a3, NULL };
    struct uvfio_server_opts o = { 0 };
    const char *bad = NULL;
    int argc = 6;

    (void)state;
    assert_int_equal(uvfio_server_opts_parse_args(&o, &argc, argv, &bad), 0);
    assert_int_equal(argc, 4);
    assert_string_equal(argv[0], "prog");
    assert_string_equal(argv[1], "-v");
    assert_string_equal(argv[2], "--");
    assert_string_equal(argv[3], "--max-msg-fds=2");
    assert_null(argv[4]);
    assert_int_equal(o.max_data_xfer_size, 128u << 10);
    assert_int_equal(o.max_dma_maps, 7);
    assert_int_equal(o.max_msg_fds, 0);

    argc = 4;
    assert_int_equal(uvfio_server_opts_parse_args(&o, &argc, argv2, &bad),
                     -ERANGE);
    assert_ptr_equal(bad, a6);
    assert_non_null(strstr(uvfio_server_opts_help(), "--max-queued-bytes"));
    assert_non_null(strstr(uvfio_server_opts_help(), "--dma-timeout-ms"));
}

static void test_create_checks_the_whole(void **state)
{
    struct uvfio_server_opts o = { 0 };
    struct uvfio_server *srv = NULL;

    (void)state;
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-xfer=1M"), 1);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-queued-bytes=1M"),
                     1);
    /* The largest reply would not fit in the queue. */
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
    assert_int_equal(uvfio_server_opts_parse_arg(&o, "--max-queued-bytes=2M"),
                     1);
    assert_int_equal(uvfio_server_create(&o, &srv), 0);
    uvfio_server_destroy(srv);
    o.dma_timeout_ms = (uint32_t)INT_MAX + 1u;
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
}

/* ---- honoured by a server process -------------------------------------- */

static void test_limits_honoured(void **state)
{
    static const char *const extra[] = {
        "--max-msg-fds=4", "--max-xfer=64K", "--max-dma-maps=32",
        "--max-queued-bytes=256K", "--dma-timeout-ms=250", NULL,
    };
    struct uvfio_wire_dma_map map = {
        .argsz = sizeof(map), .flags = UVFIO_DMA_MAP_FLAG_READ,
        .size = 0x1000,
    };
    struct uvfio_wire_region_rw rw = { 0, ISO_REGION_RAM, 128u << 10 };
    const struct uvfio_client_caps *caps;
    struct uvfio_client *c;
    struct iso_server s;
    int fds[5], fd, i, r;

    (void)state;
    iso_server_start(&s, 2, extra);
    c = iso_client(&s, 0);
    caps = uvfio_client_caps(c);
    assert_int_equal(caps->max_msg_fds, 4);
    assert_int_equal(caps->max_data_xfer_size, 64u << 10);
    assert_int_equal(caps->max_dma_maps, 32);
    uvfio_client_close(c);

    fd = raw_connect(iso_path(&s, 1));
    assert_true(fd >= 0);
    assert_int_equal(raw_hello(fd), 0);
    for (i = 0; i < 5; i++)
        fds[i] = eventfd(0, EFD_CLOEXEC);
    map.addr = 0x100000;
    assert_int_equal(raw_call(fd, UVFIO_CMD_DMA_MAP, &map, sizeof(map), fds,
                              5, NULL), -EINVAL);
    for (i = 0; i < 5; i++)
        close(fds[i]);
    assert_int_equal(raw_call(fd, UVFIO_CMD_REGION_READ, &rw, sizeof(rw),
                              NULL, 0, NULL), -E2BIG);
    for (i = 0; i < 32; i++) {
        map.addr = 0x100000 + (uint64_t)i * 0x1000;
        assert_int_equal(raw_call(fd, UVFIO_CMD_DMA_MAP, &map, sizeof(map),
                                  NULL, 0, NULL), 0);
    }
    map.addr = 0x900000;
    assert_int_equal(raw_call(fd, UVFIO_CMD_DMA_MAP, &map, sizeof(map), NULL,
                              0, NULL), -ENOSPC);

    /* A quarter of the default queue: dropped after a few replies. */
    rw.count = 64u << 10;
    for (i = 0, r = 0; i < 200 && r == 0; i++) {
        r = raw_send(fd, (uint16_t)i, UVFIO_CMD_REGION_READ, 0, &rw,
                     sizeof(rw), NULL, 0);
        iso_sleep_ms(2);
    }
    assert_true(r == -EPIPE || r == -ECONNRESET);
    assert_true(i < 40);
    assert_true(raw_closed_within(fd, 2000));
    close(fd);
    iso_server_stop(&s);
}

/* The message-path DMA timeout, as the option sets it. */
static void test_dma_timeout_option(void **state)
{
    static const char *const extra[] = { "--dma-timeout-ms=250", NULL };
    struct uvfio_wire_dma_map map = {
        .argsz = sizeof(map), .flags = UVFIO_DMA_MAP_FLAG_READ,
        .addr = 0x100000, .size = 0x1000,
    };
    struct {
        struct uvfio_wire_region_rw rw;
        uint64_t addr;
        uint32_t len, seed, cmd;
    } __attribute__((packed)) w = {
        { ISO_REG_ADDR, ISO_REGION_REGS, 20 }, 0x100000, 16, 0, ISO_CMD_READ,
    };
    struct iso_server s;
    int64_t t0, took;
    int fd;

    (void)state;
    iso_server_start(&s, 1, extra);
    fd = raw_connect(iso_path(&s, 0));
    assert_true(fd >= 0);
    assert_int_equal(raw_hello(fd), 0);
    assert_int_equal(raw_call(fd, UVFIO_CMD_DMA_MAP, &map, sizeof(map), NULL,
                              0, NULL), 0);
    t0 = iso_now_us();
    assert_int_equal(raw_call(fd, UVFIO_CMD_REGION_WRITE, &w, sizeof(w), NULL,
                              0, NULL), 0);
    took = (iso_now_us() - t0) / 1000;
    assert_true(took >= 240);
    assert_true(took < 1000 * iso_scale());
    close(fd);
    iso_server_stop(&s);
}

/* ---- uvfio-serial takes them too ---------------------------------------- */

/* The socket file exists a moment before the server listens on it. */
static int connect_when_listening(const char *path, struct uvfio_client **c)
{
    int64_t end = iso_now_us() + 5000000LL * iso_scale();
    int r;

    while ((r = uvfio_client_connect(path, NULL, c)) == -ECONNREFUSED &&
           iso_now_us() < end)
        iso_sleep_ms(5);
    return r;
}

static void test_serial_takes_the_options(void **state)
{
    char dir[64], path[128], sockarg[160];
    char *argv[] = {
        (char *)serial_bin, sockarg, "--chardev=null", "--max-xfer=64K",
        "--max-msg-fds=4", "--max-dma-maps=8", NULL,
    };
    char *bad[] = {
        (char *)serial_bin, sockarg, "--chardev=null", "--max-xfer=64Q", NULL,
    };
    const struct uvfio_client_caps *caps;
    struct uvfio_client *c = NULL;
    struct proc p;
    int status;

    (void)state;
    assert_int_equal(tmpdir_create(dir, sizeof(dir)), 0);
    snprintf(path, sizeof(path), "%s/serial.sock", dir);
    snprintf(sockarg, sizeof(sockarg), "--socket-path=%s", path);
    assert_int_equal(proc_run(bad, "/dev/null", 5000), 2);

    assert_int_equal(proc_spawn(&p, argv, NULL, true), 0);
    assert_int_equal(proc_wait_socket(&p, path, 10000 * iso_scale()), 0);
    assert_int_equal(connect_when_listening(path, &c), 0);
    caps = uvfio_client_caps(c);
    assert_int_equal(caps->max_data_xfer_size, 64u << 10);
    assert_int_equal(caps->max_msg_fds, 4);
    assert_int_equal(caps->max_dma_maps, 8);
    uvfio_client_close(c);
    assert_int_equal(proc_stop(&p, SIGTERM, 10000 * iso_scale(), &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_argv),
        cmocka_unit_test(test_create_checks_the_whole),
        cmocka_unit_test(test_limits_honoured),
        cmocka_unit_test(test_dma_timeout_option),
        cmocka_unit_test(test_serial_takes_the_options),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s UVFIO_TEST_ISOSERVER UVFIO_SERIAL\n",
                argv[0]);
        return 2;
    }
    iso_output_init();
    iso_server_bin = argv[1];
    serial_bin = argv[2];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
