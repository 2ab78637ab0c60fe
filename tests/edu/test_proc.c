// SPDX-License-Identifier: MIT
/*
 * tests/edu/test_proc.c - the real uvfio-edu program over real sockets,
 * driven by the client library: identity, DMA by the edu engine into a
 * memfd guest memory shared with an fd and into memory shared without
 * one (DMA_READ/DMA_WRITE messages), interrupts on eventfds, the copy
 * queue on both kinds of memory, a migration from one process to
 * another with the queue running, and the program's own conventions
 * (usage errors, SIGTERM).
 *
 * usage: test-edu-proc UVFIO_EDU
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "pattern.h"
#include "proc.h"
#include "regs.h"

#define RW      (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)
#define PAGE    EDU_CQ_PAGE_SIZE

static const char *edu_bin;
static char dir[64];
static int wait_scale = 1;
static bool teardown_failed;

struct server {
    struct proc p;
    char sock[128];
};

static struct server main_srv;

/* ---- plumbing ------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int server_start(struct server *s, const char *name)
{
    char opt[160], log[160];
    char *argv[] = { (char *)edu_bin, opt, NULL };

    snprintf(s->sock, sizeof(s->sock), "%s/%s.sock", dir, name);
    snprintf(opt, sizeof(opt), "--socket-path=%s", s->sock);
    snprintf(log, sizeof(log), "%s/%s.log", dir, name);
    if (proc_spawn(&s->p, argv, log, true))
        return -1;
    return proc_wait_socket(&s->p, s->sock, 5000 * wait_scale) ? -1 : 0;
}

/* SIGTERM: exit status 0 and the socket gone. */
static int server_stop(struct server *s)
{
    struct stat st;
    int status = -1;

    if (proc_stop(&s->p, SIGTERM, 10000 * wait_scale, &status))
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return stat(s->sock, &st) == 0 ? -1 : 0;
}

static struct uvfio_client *client_connect(const char *sock)
{
    struct uvfio_client_opts o = { .timeout_ms = 10000u * wait_scale };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(sock, &o, &c), 0);
    return c;
}

static uint64_t rd(struct uvfio_client *c, uint32_t off, size_t len)
{
    uint8_t b[8] = { 0 };
    uint64_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, UVFIO_PCI_BAR0_REGION, off,
                                              b, len), (ssize_t)len);
    for (size_t i = 0; i < len; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static void wr(struct uvfio_client *c, uint32_t off, uint64_t v, size_t len)
{
    uint8_t b[8];

    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    assert_int_equal(uvfio_client_region_write(c, UVFIO_PCI_BAR0_REGION, off,
                                               b, len), (ssize_t)len);
}

static uint32_t cfg_rd(struct uvfio_client *c, uint32_t off, size_t len)
{
    uint32_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, UVFIO_PCI_CONFIG_REGION, off,
                                              &v, len), (ssize_t)len);
    return v;
}

static void cfg_wr(struct uvfio_client *c, uint32_t off, uint32_t v,
                   size_t len)
{
    assert_int_equal(uvfio_client_region_write(c, UVFIO_PCI_CONFIG_REGION,
                                               off, &v, len), (ssize_t)len);
}

static void enable_device(struct uvfio_client *c)
{
    cfg_wr(c, 0x04, 0x0006, 2);         /* memory decode, bus master */
}

static uint32_t dma(struct uvfio_client *c, uint64_t src, uint64_t dst,
                    uint64_t cnt, uint32_t cmd)
{
    wr(c, EDU_REG_DMA_SRC, src, 8);
    wr(c, EDU_REG_DMA_DST, dst, 8);
    wr(c, EDU_REG_DMA_CNT, cnt, 8);
    wr(c, EDU_REG_DMA_CMD, cmd | EDU_DMA_CMD_RUN, 4);
    return (uint32_t)rd(c, EDU_REG_DMA_ERROR, 4);
}

/* Poll a register, serving the device's DMA requests meanwhile. */
static uint64_t wait_reg(struct uvfio_client *c, uint32_t off, uint64_t min)
{
    int64_t end = mono_ms() + 10000 * wait_scale;
    uint64_t v;

    while ((v = rd(c, off, 8)) < min) {
        if (mono_ms() > end)
            fail_msg("register %#x stuck at %llu, want %llu", off,
                     (unsigned long long)v, (unsigned long long)min);
        assert_true(uvfio_client_dispatch(c, 5) >= 0);
    }
    return v;
}

static void check_window(struct uvfio_client *c, const uint8_t *host,
                         uint64_t iova, uint64_t size)
{
    uint64_t passes = rd(c, EDU_REG_CQ_PASSES, 8), pos = rd(c, EDU_REG_CQ_POS, 8);
    uint64_t got, want;

    assert_int_equal(rd(c, EDU_REG_CQ_BYTES, 8),
                     (passes * (size / PAGE) + pos) * PAGE);
    for (uint64_t i = 0; i < size / PAGE; i++) {
        want = edu_cq_expected_pass(passes, pos, i);
        if (!want)
            continue;
        if (edu_cq_page_check(host + i * PAGE, i, iova + i * PAGE, &got))
            fail_msg("page %llu is not a pattern page", (unsigned long long)i);
        if (got != want)
            fail_msg("page %llu from pass %llu, want %llu",
                     (unsigned long long)i, (unsigned long long)got,
                     (unsigned long long)want);
    }
}

static int efd_wait(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    uint64_t v = 0;

    if (poll(&p, 1, ms) <= 0)
        return 0;
    return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? (int)v : 0;
}

/* ---- tests ------------------------------------------------------------------ */

static int setup_client(void **state)
{
    *state = client_connect(main_srv.sock);
    enable_device(*state);
    return 0;
}

static int teardown_client(void **state)
{
    struct uvfio_client *c = *state;

    wr(c, EDU_REG_CQ_CTRL, 0, 8);
    uvfio_client_close(c);
    return 0;
}

static void test_identity(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_client_device_info di;
    struct uvfio_client_region r;
    struct uvfio_client_irq_info ii;

    assert_int_equal(uvfio_client_device_info(c, &di), 0);
    assert_true(di.flags & UVFIO_DEVICE_FLAGS_PCI);
    assert_true(di.flags & UVFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(uvfio_client_region_info(c, UVFIO_PCI_BAR0_REGION, &r), 0);
    assert_int_equal(r.size, EDU_BAR_SIZE);
    uvfio_client_region_free(&r);
    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_MSI_IRQ_INDEX, &ii), 0);
    assert_int_equal(ii.count, 1);
    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
    assert_int_equal(ii.count, 1);
    assert_int_equal(cfg_rd(c, 0x00, 4), 0x11e81234u);
    assert_int_equal(cfg_rd(c, 0x08, 4), 0x00ff0010u);
    assert_int_equal(rd(c, EDU_REG_ID, 4), EDU_ID_VALUE);
    wr(c, EDU_REG_LIVENESS, 0x1234, 4);
    assert_int_equal(rd(c, EDU_REG_LIVENESS, 4), ~0x1234u);
    wr(c, EDU_REG_FACT, 7, 4);
    assert_int_equal(rd(c, EDU_REG_FACT, 4), 5040);
    assert_int_equal(rd(c, 0x02, 2), 0xffff);       /* not an access edu takes */
}

static void test_dma_fd_memory(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;
    uint8_t *g;

    assert_int_equal(uvfio_guest_mem_create(1u << 20, "edu-it", &mem), 0);
    g = mem.host;
    for (size_t i = 0; i < 8192; i++)
        g[i] = (uint8_t)(i * 3 + 1);
    assert_int_equal(uvfio_client_dma_map(c, 0x100000, mem.size, RW, mem.fd, 0), 0);
    assert_int_equal(dma(c, 0x100000 + 10, EDU_DMA_BUF_ADDR, 4096, 0), 0);
    assert_int_equal(dma(c, EDU_DMA_BUF_ADDR, 0x100000 + 0x10000, 4096,
                         EDU_DMA_CMD_TO_RAM), 0);
    assert_memory_equal(g + 0x10000, g + 10, 4096);
    assert_int_equal(dma(c, 0x100000 + mem.size - 8, EDU_DMA_BUF_ADDR, 16, 0),
                     EFAULT);
    assert_int_equal(dma(c, 0x100000, EDU_DMA_BUF_ADDR + 4095, 2, 0), EINVAL);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x100000, mem.size), 0);
    uvfio_guest_mem_destroy(&mem);
}

static void test_dma_message_memory(void **state)
{
    struct uvfio_client *c = *state;
    uint8_t *host = calloc(1, 65536);

    assert_non_null(host);
    for (size_t i = 0; i < 4096; i++)
        host[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x4000000, 65536, RW, host), 0);
    assert_int_equal(dma(c, 0x4000000, EDU_DMA_BUF_ADDR, 4096, 0), 0);
    assert_int_equal(dma(c, EDU_DMA_BUF_ADDR + 100, 0x4000000 + 0x8000, 3000,
                         EDU_DMA_CMD_TO_RAM), 0);
    assert_memory_equal(host + 0x8000, host + 100, 3000);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x4000000, 65536), 0);
    assert_int_equal(dma(c, 0x4000000, EDU_DMA_BUF_ADDR, 16, 0), EFAULT);
    free(host);
}

static void test_interrupts(void **state)
{
    struct uvfio_client *c = *state;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint32_t cap;

    assert_true(efd >= 0);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_EVENTFD |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                           NULL, &efd), 0);
    wr(c, EDU_REG_IRQ_RAISE, 0x8, 4);
    assert_int_equal(efd_wait(efd, 5000 * wait_scale), 1);
    assert_int_equal(rd(c, EDU_REG_IRQ_STATUS, 4), 0x8);
    wr(c, EDU_REG_IRQ_ACK, 0x8, 4);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 0,
                                           NULL, NULL), 0);
    /* MSI: the DMA completion interrupt */
    cap = cfg_rd(c, 0x34, 1);
    while (cap && cfg_rd(c, cap, 1) != 0x05)
        cap = cfg_rd(c, cap + 1, 1);
    assert_true(cap);
    cfg_wr(c, cap + 2, cfg_rd(c, cap + 2, 2) | 1, 2);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_EVENTFD |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_MSI_IRQ_INDEX, 0, 1,
                                           NULL, &efd), 0);
    assert_int_equal(dma(c, EDU_DMA_BUF_ADDR, 0xdead000, 0,
                         EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ), 0);
    assert_int_equal(efd_wait(efd, 5000 * wait_scale), 1);
    assert_int_equal(rd(c, EDU_REG_IRQ_STATUS, 4), EDU_IRQ_DMA);
    wr(c, EDU_REG_IRQ_ACK, EDU_IRQ_DMA, 4);
    cfg_wr(c, cap + 2, cfg_rd(c, cap + 2, 2) & ~1u, 2);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_MSI_IRQ_INDEX, 0, 0,
                                           NULL, NULL), 0);
    close(efd);
}

static void cq_start(struct uvfio_client *c, uint64_t iova, uint64_t size,
                     uint32_t kib)
{
    wr(c, EDU_REG_CQ_ADDR, iova, 8);
    wr(c, EDU_REG_CQ_SIZE, size, 8);
    wr(c, EDU_REG_CQ_RATE, kib, 8);
    wr(c, EDU_REG_CQ_CTRL, EDU_CQ_CTRL_ENABLE, 8);
    assert_int_equal(rd(c, EDU_REG_CQ_STATUS, 8), EDU_CQ_STATUS_ACTIVE);
}

static void test_copy_queue_fd(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;

    assert_int_equal(uvfio_guest_mem_create(32 * PAGE, "edu-cq", &mem), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x800000, mem.size, RW, mem.fd, 0), 0);
    cq_start(c, 0x800000, mem.size, 8192);
    wait_reg(c, EDU_REG_CQ_PASSES, 2);
    wr(c, EDU_REG_CQ_CTRL, 0, 8);
    check_window(c, mem.host, 0x800000, mem.size);
    assert_int_equal(rd(c, EDU_REG_CQ_ERROR, 8), 0);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x800000, mem.size), 0);
    uvfio_guest_mem_destroy(&mem);
}

/* Every page a DMA_WRITE message the client serves: while it waits for
 * its own replies and in uvfio_client_dispatch. */
static void test_copy_queue_message(void **state)
{
    struct uvfio_client *c = *state;
    const size_t size = 8 * PAGE;
    uint8_t *host = calloc(1, size);

    assert_non_null(host);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x900000, size, RW, host), 0);
    cq_start(c, 0x900000, size, 2048);
    wait_reg(c, EDU_REG_CQ_PASSES, 2);
    wr(c, EDU_REG_CQ_CTRL, 0, 8);
    check_window(c, host, 0x900000, size);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x900000, size), 0);
    free(host);
}

/* A client that leaves with the queue running: the queue faults on the
 * vanished maps, the next client finds it stopped with EFAULT. */
static void test_client_leaves_running(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;

    assert_int_equal(uvfio_guest_mem_create(16 * PAGE, "edu-leave", &mem), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x800000, mem.size, RW, mem.fd, 0), 0);
    cq_start(c, 0x800000, mem.size, 16384);
    wait_reg(c, EDU_REG_CQ_BYTES, 4 * PAGE);
    uvfio_client_close(c);
    *state = c = client_connect(main_srv.sock);
    {
        int64_t end = mono_ms() + 10000 * wait_scale;

        while (rd(c, EDU_REG_CQ_STATUS, 8) != EDU_CQ_STATUS_ERROR) {
            assert_true(mono_ms() < end);
            usleep(2000);
        }
    }
    assert_int_equal(rd(c, EDU_REG_CQ_ERROR, 8), EFAULT);
    uvfio_guest_mem_destroy(&mem);
}

/* ---- migration between two processes ---------------------------------------- */

static void mig_move(struct uvfio_client *src, struct uvfio_client *dst)
{
    size_t cap = 1u << 20, len = 0;
    uint8_t *img = malloc(cap);
    ssize_t n;

    assert_non_null(img);
    assert_int_equal(uvfio_client_mig_set_state(src, UVFIO_MIG_STATE_STOP_COPY), 0);
    while ((n = uvfio_client_mig_read(src, img + len, cap - len)) > 0)
        len += (size_t)n;
    assert_int_equal(n, 0);
    assert_true(len > 4096 && len < cap);
    assert_int_equal(uvfio_client_mig_set_state(src, UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(uvfio_client_mig_set_state(dst, UVFIO_MIG_STATE_RESUMING), 0);
    assert_int_equal(uvfio_client_mig_write(dst, img, len), 0);
    assert_int_equal(uvfio_client_mig_set_state(dst, UVFIO_MIG_STATE_STOP), 0);
    free(img);
}

static void test_migrate_with_queue_running(void **state)
{
    struct uvfio_client *src = *state, *dst;
    struct uvfio_guest_mem a, b;
    struct server dsrv;
    uint64_t passes, flags;

    assert_int_equal(uvfio_client_mig_get_flags(src, &flags), 0);
    assert_int_equal(flags, UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P |
                            UVFIO_MIGRATION_PRE_COPY);
    assert_int_equal(server_start(&dsrv, "dst"), 0);
    dst = client_connect(dsrv.sock);
    assert_int_equal(uvfio_guest_mem_create(16 * PAGE, "edu-src", &a), 0);
    assert_int_equal(uvfio_guest_mem_create(16 * PAGE, "edu-dst", &b), 0);
    assert_int_equal(uvfio_client_dma_map(src, 0x800000, a.size, RW, a.fd, 0), 0);
    wr(src, EDU_REG_LIVENESS, 42, 4);
    cq_start(src, 0x800000, a.size, 8192);
    wait_reg(src, EDU_REG_CQ_PASSES, 1);

    mig_move(src, dst);
    /* the source's memory, copied once it stopped: what a migration
     * tool does with the last dirty pages */
    memcpy(b.host, a.host, a.size);
    assert_int_equal(uvfio_client_dma_map(dst, 0x800000, b.size, RW, b.fd, 0), 0);
    passes = rd(dst, EDU_REG_CQ_PASSES, 8);
    assert_int_equal(passes, rd(src, EDU_REG_CQ_PASSES, 8));
    assert_int_equal(rd(dst, EDU_REG_CQ_POS, 8), rd(src, EDU_REG_CQ_POS, 8));
    assert_int_equal(rd(dst, EDU_REG_LIVENESS, 4), ~42u);
    assert_int_equal(uvfio_client_mig_set_state(dst, UVFIO_MIG_STATE_RUNNING), 0);
    wait_reg(dst, EDU_REG_CQ_PASSES, passes + 2);
    wr(dst, EDU_REG_CQ_CTRL, 0, 8);
    check_window(dst, b.host, 0x800000, b.size);
    check_window(src, a.host, 0x800000, a.size);

    /* the source goes back to work for the other tests */
    assert_int_equal(uvfio_client_mig_set_state(src, UVFIO_MIG_STATE_RUNNING), 0);
    wr(src, EDU_REG_CQ_CTRL, 0, 8);
    assert_int_equal(uvfio_client_dma_unmap_all(src), 0);
    uvfio_client_close(dst);
    uvfio_guest_mem_destroy(&a);
    uvfio_guest_mem_destroy(&b);
    assert_int_equal(server_stop(&dsrv), 0);
}

static void test_usage(void **state)
{
    char out[160];
    char *none[] = { (char *)edu_bin, NULL };
    char *both[] = { (char *)edu_bin, "--socket-path=/nonexistent/x", "--fd=0",
                     NULL };
    char *badwin[] = { (char *)edu_bin, "--socket-path=/tmp/x",
                       "--cq-window=0x1001:0x1000", NULL };
    char *help[] = { (char *)edu_bin, "--help", NULL };

    (void)state;
    snprintf(out, sizeof(out), "%s/usage.out", dir);
    assert_int_equal(proc_run(none, out, 5000 * wait_scale), 2);
    assert_int_equal(proc_run(both, out, 5000 * wait_scale), 2);
    assert_int_equal(proc_run(badwin, out, 5000 * wait_scale), 2);
    assert_int_equal(proc_run(help, out, 5000 * wait_scale), 0);
}

static int group_setup(void **state)
{
    (void)state;
    if (proc_valgrind_wanted())
        wait_scale = 20;
    if (tmpdir_create(dir, sizeof(dir)))
        return -1;
    return server_start(&main_srv, "edu");
}

static int group_teardown(void **state)
{
    int ret;

    (void)state;
    ret = server_stop(&main_srv);
    tmpdir_remove(dir);
    teardown_failed = ret != 0;
    return ret;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_fd_memory, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_message_memory, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_interrupts, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_copy_queue_fd, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_copy_queue_message, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_client_leaves_running, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_migrate_with_queue_running, setup_client, teardown_client),
        cmocka_unit_test(test_usage),
    };
    int failed;

    if (argc != 2) {
        fprintf(stderr, "usage: %s UVFIO_EDU\n", argv[0]);
        return 2;
    }
    edu_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    uvfio_log_set_level(UVFIO_LOG_NONE);
    failed = cmocka_run_group_tests_name("edu-proc", tests, group_setup,
                                         group_teardown);
    return failed || teardown_failed ? 1 : 0;
}
