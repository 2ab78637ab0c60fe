// SPDX-License-Identifier: MIT
/*
 * The real uvfio-serial program over its real socket, driven through the
 * client library (and, for what the library does not send, through raw
 * protocol messages): every command, UART bytes arriving at the chardev in
 * order, interrupts on the INTx eventfd, bad requests answered without
 * harm, state kept across clients, a clean exit on SIGTERM.
 *
 * usage: test-integration-serial UVFIO_SERIAL UVFIO_INFO
 * (UVFIO_VALGRIND=1: the servers run under valgrind, see proc.h)
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>
#include <json-c/json.h>

#include <uvfio/uvfio.h>

#include "proc.h"
#include "proto/transport.h"
#include "proto/wire.h"

/* UART registers and bits the tests use (the device's datasheet). */
#define THR 0
#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7

static const char *serial_bin, *info_bin;
static char dir[64], sock_path[128], out_path[128];
static char pipe_sock[128], pipe_base[128];
static struct proc dev_file, dev_pipe;
static struct proc dev_stdio;           /* killed by the group teardown if a
                                           failed test left it running */
static int wait_scale = 1;              /* valgrind is ~20x slower */
/* cmocka does not count a failed group teardown: we do */
static bool teardown_failed;

/* ---- helpers ---------------------------------------------------------------- */

static struct uvfio_client *connect_to(const char *path)
{
    struct uvfio_client_opts o = { .timeout_ms = 10000u * wait_scale };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(path, &o, &c), 0);
    return c;
}

static void cfg_write16(struct uvfio_client *c, uint32_t off, uint16_t v)
{
    assert_int_equal(uvfio_client_region_write(c, UVFIO_PCI_CONFIG_REGION, off,
                                               &v, 2), 2);
}

static uint32_t cfg_read(struct uvfio_client *c, uint32_t off, size_t len)
{
    uint32_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, UVFIO_PCI_CONFIG_REGION, off,
                                              &v, len), (ssize_t)len);
    return v;
}

static void uart_wr(struct uvfio_client *c, unsigned int reg, uint8_t v)
{
    assert_int_equal(uvfio_client_region_write(c, UVFIO_PCI_BAR0_REGION, reg,
                                               &v, 1), 1);
}

static uint8_t uart_rd(struct uvfio_client *c, unsigned int reg)
{
    uint8_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, UVFIO_PCI_BAR0_REGION, reg,
                                              &v, 1), 1);
    return v;
}

/* What a guest's BIOS and driver do first: decode on, 8N1, FIFOs on. */
static void uart_setup(struct uvfio_client *c, uint8_t fcr)
{
    cfg_write16(c, 0x04, (uint16_t)(cfg_read(c, 0x04, 2) | 0x1));
    uart_wr(c, LCR, 0x80);
    uart_wr(c, 0, 1);
    uart_wr(c, 1, 0);
    uart_wr(c, LCR, 0x03);
    uart_wr(c, FCR, fcr);
    uart_wr(c, IER, 0);
    uart_wr(c, MCR, 0x0b);              /* DTR RTS OUT2, as Linux */
}

static bool wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, timeout_ms * wait_scale) == 1;
}

static size_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static int setup_client(void **state)
{
    *state = connect_to(sock_path);
    return 0;
}

static int teardown_client(void **state)
{
    uvfio_client_close(*state);
    return 0;
}

/* ---- the servers ------------------------------------------------------------- */

static int start_device(struct proc *p, const char *sock, const char *chardev,
                        const char *log)
{
    char sockopt[160], chopt[160];
    char *argv[] = { (char *)serial_bin, sockopt, chopt, NULL };

    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", sock);
    snprintf(chopt, sizeof(chopt), "--chardev=%s", chardev);
    if (proc_spawn(p, argv, log, true))
        return -1;
    return proc_wait_socket(p, sock, 5000 * wait_scale);
}

static int group_setup(void **state)
{
    char spec[160], log[160], fifo[160];

    (void)state;
    if (proc_valgrind_wanted())
        wait_scale = 20;
    if (tmpdir_create(dir, sizeof(dir)))
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/serial.sock", dir);
    snprintf(out_path, sizeof(out_path), "%s/uart.out", dir);
    snprintf(pipe_sock, sizeof(pipe_sock), "%s/pipe.sock", dir);
    snprintf(pipe_base, sizeof(pipe_base), "%s/line", dir);
    snprintf(fifo, sizeof(fifo), "%s.in", pipe_base);
    if (mkfifo(fifo, 0600))
        return -1;
    snprintf(fifo, sizeof(fifo), "%s.out", pipe_base);
    if (mkfifo(fifo, 0600))
        return -1;

    snprintf(spec, sizeof(spec), "file:%s", out_path);
    snprintf(log, sizeof(log), "%s/serial.log", dir);
    if (start_device(&dev_file, sock_path, spec, log))
        return -1;
    snprintf(spec, sizeof(spec), "pipe:%s", pipe_base);
    snprintf(log, sizeof(log), "%s/pipe.log", dir);
    return start_device(&dev_pipe, pipe_sock, spec, log) ? -1 : 0;
}

static int stop_device(struct proc *p, const char *sock)
{
    struct stat st;
    int status = -1;

    if (proc_stop(p, SIGTERM, 10000 * wait_scale, &status))
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "server did not exit 0 on SIGTERM (status %#x)\n", status);
        return -1;
    }
    if (stat(sock, &st) == 0) {
        fprintf(stderr, "socket %s left behind\n", sock);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    int ret = 0;

    (void)state;
    if (dev_stdio.pid > 0)
        proc_stop(&dev_stdio, SIGKILL, 5000, NULL);
    if (stop_device(&dev_file, sock_path))
        ret = -1;
    if (stop_device(&dev_pipe, pipe_sock))
        ret = -1;
    tmpdir_remove(dir);
    teardown_failed = ret != 0;
    return ret;
}

/* ---- negotiation and description ---------------------------------------------- */

static void test_version(void **state)
{
    const struct uvfio_client_caps *caps = uvfio_client_caps(*state);

    assert_int_equal(caps->major, 0);
    assert_true(caps->minor <= 2);
    assert_true(caps->write_multiple);
    assert_true(caps->max_data_xfer_size >= 4096);
    assert_true(caps->max_msg_fds >= 1);
}

static void test_device_info(void **state)
{
    struct uvfio_client_device_info di;

    assert_int_equal(uvfio_client_device_info(*state, &di), 0);
    assert_true(di.flags & UVFIO_DEVICE_FLAGS_PCI);
    assert_true(di.flags & UVFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(di.num_regions, UVFIO_PCI_NUM_REGIONS);
    assert_int_equal(di.num_irqs, UVFIO_PCI_NUM_IRQS);
}

static void test_region_info(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_client_region r;
    struct uvfio_client_device_info di;

    for (uint32_t i = 0; i < UVFIO_PCI_NUM_REGIONS; i++) {
        assert_int_equal(uvfio_client_region_info(c, i, &r), 0);
        assert_int_equal(r.index, i);
        if (i == UVFIO_PCI_BAR0_REGION) {
            assert_int_equal(r.size, 8);
            assert_int_equal(r.flags & 3, UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE);
            assert_false(r.flags & UVFIO_REGION_FLAG_MMAP);
        } else if (i == UVFIO_PCI_CONFIG_REGION) {
            assert_int_equal(r.size, UVFIO_PCI_CONFIG_SIZE);
        } else {
            assert_int_equal(r.size, 0);
        }
        assert_int_equal(r.fd, -1);
        uvfio_client_region_free(&r);
    }
    /* indexes past the end: an error reply, and the connection lives on */
    assert_true(uvfio_client_region_info(c, UVFIO_PCI_NUM_REGIONS, &r) < 0);
    assert_true(uvfio_client_region_info(c, 0xffffffffu, &r) < 0);
    assert_int_equal(uvfio_client_device_info(c, &di), 0);
}

static void test_irq_info(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_client_irq_info ii;

    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
    assert_int_equal(ii.count, 1);
    assert_true(ii.flags & UVFIO_IRQ_INFO_EVENTFD);
    assert_true(ii.flags & UVFIO_IRQ_INFO_MASKABLE);
    assert_true(ii.flags & UVFIO_IRQ_INFO_AUTOMASKED);
    /* QEMU's layout: no MSI, no MSI-X */
    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_MSI_IRQ_INDEX, &ii), 0);
    assert_int_equal(ii.count, 0);
    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_MSIX_IRQ_INDEX, &ii), 0);
    assert_int_equal(ii.count, 0);
    assert_true(uvfio_client_irq_info(c, UVFIO_PCI_NUM_IRQS, &ii) < 0);
    assert_int_equal(uvfio_client_irq_info(c, UVFIO_PCI_INTX_IRQ_INDEX, &ii), 0);
}

/* What Linux's 8250_pci matches on, read back through region 7. */
static void test_config_identity(void **state)
{
    struct uvfio_client *c = *state;

    assert_int_equal(cfg_read(c, 0x00, 2), 0x1b36);
    assert_int_equal(cfg_read(c, 0x02, 2), 0x0002);
    assert_int_equal(cfg_read(c, 0x08, 4), 0x07000201);  /* class, prog-if, rev */
    assert_int_equal(cfg_read(c, 0x2c, 2), 0x1af4);
    assert_int_equal(cfg_read(c, 0x2e, 2), 0x1100);
    assert_int_equal(cfg_read(c, 0x3d, 1), 1);            /* INTA */
    assert_int_equal(cfg_read(c, 0x10, 4) & 1, 1);        /* I/O BAR */
    assert_int_equal(cfg_read(c, 0x14, 4), 0);
    assert_int_equal(cfg_read(c, 0x06, 2) & 0x10, 0);     /* no caps */
    /* IDs are read-only */
    cfg_write16(c, 0x00, 0xdead);
    assert_int_equal(cfg_read(c, 0x00, 2), 0x1b36);
}

/* ---- raw protocol: what the client library has no call for ------------------- */

static int raw_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(sock_path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void raw_request(int fd, uint16_t id, uint16_t cmd, const void *payload,
                        size_t len, struct uvfio_msg *reply)
{
    struct uvfio_wire_hdr h = { .msg_id = id, .cmd = cmd };
    struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
    struct timeval tv = { .tv_sec = 10 * wait_scale };

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(uvfio_msg_send(fd, &h, &iov, len ? 1 : 0, NULL, 0), 0);
    assert_int_equal(uvfio_msg_recv(fd, reply, 1u << 20, 16), 0);
    assert_int_equal(reply->hdr.msg_id, id);
    assert_int_equal(reply->hdr.cmd, cmd);
    assert_int_equal(reply->hdr.flags & UVFIO_HDR_TYPE_MASK, UVFIO_HDR_TYPE_REPLY);
}

static void test_raw_region_io_fds(void **state)
{
    static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8}}";
    uint8_t ver[sizeof(struct uvfio_wire_version) + sizeof(caps)];
    struct uvfio_wire_version *v = (void *)ver;
    struct uvfio_wire_region_io_fds req = { .argsz = 256, .index = 0 };
    struct uvfio_wire_device_info di = { .argsz = sizeof(di) };
    const struct uvfio_wire_region_io_fds *rep;
    struct uvfio_msg m;
    int fd = raw_connect();

    (void)state;
    v->major = 0;
    v->minor = 0;
    memcpy(ver + sizeof(*v), caps, sizeof(caps));
    raw_request(fd, 1, UVFIO_CMD_VERSION, ver, sizeof(ver), &m);
    assert_false(m.hdr.flags & UVFIO_HDR_ERROR);
    uvfio_msg_free(&m);

    /* the UART offers no ioeventfds: an empty, well-formed answer */
    raw_request(fd, 2, UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, &req, sizeof(req), &m);
    assert_false(m.hdr.flags & UVFIO_HDR_ERROR);
    assert_true(m.len >= sizeof(*rep));
    rep = (const void *)m.payload;
    assert_int_equal(rep->index, 0);
    assert_int_equal(rep->count, 0);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);

    /* a region that does not exist, a command that does not exist, a
     * truncated payload: error replies with an errno, connection alive */
    req.index = 99;
    raw_request(fd, 3, UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, &req, sizeof(req), &m);
    assert_true(m.hdr.flags & UVFIO_HDR_ERROR);
    assert_int_not_equal(m.hdr.error, 0);
    uvfio_msg_free(&m);
    raw_request(fd, 4, 0x7777, &req, sizeof(req), &m);
    assert_true(m.hdr.flags & UVFIO_HDR_ERROR);
    uvfio_msg_free(&m);
    raw_request(fd, 5, UVFIO_CMD_REGION_READ, &req, 3, &m);
    assert_true(m.hdr.flags & UVFIO_HDR_ERROR);
    uvfio_msg_free(&m);

    raw_request(fd, 6, UVFIO_CMD_DEVICE_GET_INFO, &di, sizeof(di), &m);
    assert_false(m.hdr.flags & UVFIO_HDR_ERROR);
    assert_int_equal(((const struct uvfio_wire_device_info *)m.payload)->num_regions,
                     UVFIO_PCI_NUM_REGIONS);
    uvfio_msg_free(&m);
    close(fd);
}

/* ---- the UART through the wire ------------------------------------------------- */

static void expect_output(const char *what, size_t from, const char *bytes,
                          size_t len)
{
    size_t got;
    char *s = file_wait(out_path, from + len, 5000 * wait_scale, &got);

    bool same = s && got == from + len && !memcmp(s + from, bytes, len);

    free(s);
    if (!same)
        fail_msg("%s: chardev file has %zu bytes, want %zu (or other bytes)",
                 what, got, from + len);
}

static void test_uart_output_in_order(void **state)
{
    struct uvfio_client *c = *state;
    const char *msg = "hello from uvfio-serial\r\n";
    size_t from = file_size(out_path);

    uart_setup(c, 0x07);
    for (const char *p = msg; *p; p++) {
        /* as a polling driver: wait for THRE, then write */
        assert_true(uart_rd(c, LSR) & 0x20);
        uart_wr(c, THR, (uint8_t)*p);
    }
    expect_output("synchronous writes", from, msg, strlen(msg));
}

/* Posted writes travel as REGION_WRITE_MULTI and must keep their order. */
static void test_uart_output_write_multi(void **state)
{
    struct uvfio_client *c = *state;
    char msg[300];
    size_t from = file_size(out_path);

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (char)('A' + i % 26);
    uart_setup(c, 0x07);
    for (size_t i = 0; i < sizeof(msg); i++)
        assert_int_equal(uvfio_client_region_write_posted(c, UVFIO_PCI_BAR0_REGION,
                                                          THR, &msg[i], 1), 0);
    /* a non-posted request sends the batch first and, replied, proves
     * every posted write before it done */
    assert_true(uart_rd(c, LSR) & 0x40);
    expect_output("posted writes", from, msg, sizeof(msg));
}

static void test_intx_eventfd(void **state)
{
    struct uvfio_client *c = *state;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t n;

    assert_true(efd >= 0);
    uart_setup(c, 0x07);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_EVENTFD |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                           NULL, &efd), 0);
    assert_false(wait_readable(efd, 50));
    /* enabling THRI with THR empty raises the line at once */
    uart_wr(c, IER, 0x02);
    assert_true(wait_readable(efd, 2000));
    assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
    assert_true(n >= 1);
    assert_int_equal(uart_rd(c, IIR), 0xc2);    /* acknowledges THRE */
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_ACTION_UNMASK,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                           NULL, NULL), 0);
    assert_false(wait_readable(efd, 50));
    /* a byte sent empties THR again: a second interrupt */
    uart_wr(c, THR, '!');
    assert_true(wait_readable(efd, 2000));
    assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
    uart_wr(c, IER, 0);
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_NONE |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 0,
                                           NULL, NULL), 0);
    close(efd);
}

static void test_reset(void **state)
{
    struct uvfio_client *c = *state;

    uart_setup(c, 0x07);
    uart_wr(c, SCR, 0x5a);
    uart_wr(c, IER, 0x05);
    assert_int_equal(uart_rd(c, SCR), 0x5a);
    assert_int_equal(uvfio_client_reset(c), 0);
    /* decode is off after a reset: turn it on again to look */
    cfg_write16(c, 0x04, 0x1);
    assert_int_equal(uart_rd(c, SCR), 0);
    assert_int_equal(uart_rd(c, IER), 0);
    assert_int_equal(uart_rd(c, IIR), 0x01);
    assert_int_equal(uart_rd(c, LSR), 0x60);
}

static void test_dma_map_unmap(void **state)
{
    struct uvfio_client *c = *state;
    struct uvfio_guest_mem mem;
    char *host = malloc(65536);
    const uint32_t rw = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE;

    assert_non_null(host);
    assert_int_equal(uvfio_guest_mem_create(1u << 20, "it-serial", &mem), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x10000000, 1u << 20, rw, mem.fd, 0), 0);
    assert_int_equal(uvfio_client_dma_map(c, 0x10000000, 1u << 20, rw, mem.fd, 0), -EEXIST);
    assert_int_equal(uvfio_client_dma_map_msg(c, 0x20000000, 65536, rw, host), 0);
    /* an unmap must match a map exactly */
    assert_true(uvfio_client_dma_unmap(c, 0x10000000, 4096) < 0);
    assert_int_equal(uvfio_client_dma_unmap(c, 0x10000000, 1u << 20), 0);
    assert_true(uvfio_client_dma_unmap(c, 0x10000000, 1u << 20) < 0);
    assert_int_equal(uvfio_client_dma_unmap_all(c), 0);
    assert_true(uvfio_client_dma_unmap(c, 0x20000000, 65536) < 0);
    uvfio_guest_mem_destroy(&mem);
    free(host);
}

static void test_bad_accesses_survive(void **state)
{
    struct uvfio_client *c = *state;
    uint8_t buf[16] = { 0 };

    uart_setup(c, 0x07);
    assert_true(uvfio_client_region_read(c, UVFIO_PCI_BAR0_REGION, 6, buf, 4) < 0);
    assert_true(uvfio_client_region_read(c, UVFIO_PCI_BAR0_REGION, 8, buf, 1) < 0);
    assert_true(uvfio_client_region_write(c, UVFIO_PCI_BAR0_REGION, ~0ull, buf, 1) < 0);
    assert_true(uvfio_client_region_read(c, UVFIO_PCI_CONFIG_REGION, 250, buf, 16) < 0);
    assert_true(uvfio_client_region_write(c, UVFIO_PCI_BAR1_REGION, 0, buf, 1) < 0);
    assert_true(uvfio_client_region_read(c, 1000, 0, buf, 1) < 0);
    /* still serving, UART untouched */
    uart_wr(c, SCR, 0x3c);
    assert_int_equal(uart_rd(c, SCR), 0x3c);
}

static void test_state_kept_across_clients(void **state)
{
    struct uvfio_client *c = *state;

    uart_setup(c, 0x07);
    uart_wr(c, SCR, 0x77);
    uvfio_client_close(c);
    /* the next client finds the device as the last one left it */
    c = connect_to(sock_path);
    *state = c;
    assert_int_equal(uart_rd(c, SCR), 0x77);
    uvfio_client_close(c);
    c = connect_to(sock_path);
    *state = c;
    assert_int_equal(uart_rd(c, SCR), 0x77);
}

/* ---- input from the line: the pipe chardev ------------------------------------- */

static void read_line_bytes(struct uvfio_client *c, char *buf, size_t want)
{
    size_t got = 0;

    for (int tries = 0; got < want && tries < 5000 * wait_scale; tries++) {
        uint8_t lsr = uart_rd(c, LSR);

        assert_false(lsr & 0x02);       /* never an overrun */
        if (lsr & 0x01)
            buf[got++] = (char)uart_rd(c, RBR);
        else
            usleep(1000);
    }
    assert_int_equal(got, want);
}

static void test_pipe_rx_tx_and_interrupt(void **state)
{
    struct uvfio_client *c = connect_to(pipe_sock);
    char in_path[160], out_path_p[160], big[200], got[200];
    int to_dev, from_dev, efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    (void)state;
    snprintf(in_path, sizeof(in_path), "%s.in", pipe_base);
    snprintf(out_path_p, sizeof(out_path_p), "%s.out", pipe_base);
    to_dev = open(in_path, O_WRONLY | O_NONBLOCK);
    from_dev = open(out_path_p, O_RDONLY | O_NONBLOCK);
    assert_true(to_dev >= 0 && from_dev >= 0 && efd >= 0);

    uart_setup(c, 0x07);                /* RX trigger at 1 byte */
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_EVENTFD |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                           NULL, &efd), 0);
    uart_wr(c, IER, 0x01);
    assert_int_equal(write(to_dev, "abc", 3), 3);
    assert_true(wait_readable(efd, 2000));
    assert_int_equal(uart_rd(c, IIR) & 0x0f, 0x04);
    read_line_bytes(c, got, 3);
    assert_memory_equal(got, "abc", 3);
    uart_wr(c, IER, 0);

    /* far more than the 16-byte FIFO: flow control holds the rest back */
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(' ' + i % 90);
    assert_int_equal(write(to_dev, big, sizeof(big)), (ssize_t)sizeof(big));
    read_line_bytes(c, got, sizeof(big));
    assert_memory_equal(got, big, sizeof(big));

    uart_wr(c, THR, 'Z');
    assert_true(wait_readable(from_dev, 2000));
    assert_int_equal(read(from_dev, got, sizeof(got)), 1);
    assert_int_equal(got[0], 'Z');

    close(to_dev);
    close(from_dev);
    close(efd);
    uvfio_client_close(c);
}

/* Linux programs a receive trigger of 8: a short line must still arrive,
 * by the character timeout the device's timer raises. */
static void test_pipe_char_timeout(void **state)
{
    struct uvfio_client *c = connect_to(pipe_sock);
    char in_path[160], got[4];
    int to_dev, efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    (void)state;
    snprintf(in_path, sizeof(in_path), "%s.in", pipe_base);
    to_dev = open(in_path, O_WRONLY | O_NONBLOCK);
    assert_true(to_dev >= 0 && efd >= 0);
    uart_setup(c, 0x87);                /* FIFOs on, cleared, trigger 8 */
    assert_int_equal(uvfio_client_set_irqs(c, UVFIO_IRQ_SET_DATA_EVENTFD |
                                           UVFIO_IRQ_SET_ACTION_TRIGGER,
                                           UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                           NULL, &efd), 0);
    uart_wr(c, IER, 0x01);
    assert_int_equal(write(to_dev, "hi\n", 3), 3);
    assert_true(wait_readable(efd, 2000));
    assert_int_equal(uart_rd(c, IIR), 0xcc);    /* timeout, not data */
    read_line_bytes(c, got, 3);
    assert_memory_equal(got, "hi\n", 3);
    assert_int_equal(uart_rd(c, IIR), 0xc1);
    uart_wr(c, IER, 0);
    close(to_dev);
    close(efd);
    uvfio_client_close(c);
}

/* stdio: output on our pipe; then the reader goes away, and the device
 * must drop output quietly - no busy loop on the dead fd, still serving. */
static void test_stdio_reader_gone(void **state)
{
    char sock[128], sockopt[160], *argv[] = { (char *)serial_bin, sockopt,
                                              "--chardev=stdio", NULL };
    struct uvfio_client *c;
    struct proc *p = &dev_stdio;
    int pipefd[2], status = -1;
    long before, after;
    char ch;

    (void)state;
    snprintf(sock, sizeof(sock), "%s/stdio.sock", dir);
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", sock);
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    assert_true(fcntl(pipefd[0], F_SETPIPE_SZ, 4096) > 0);
    assert_int_equal(proc_spawn_stdout(p, argv, pipefd[1]), 0);
    close(pipefd[1]);
    assert_int_equal(proc_wait_socket(p, sock, 5000), 0);
    c = connect_to(sock);
    uart_setup(c, 0x07);
    uart_wr(c, THR, 'x');
    assert_true(wait_readable(pipefd[0], 2000));
    assert_int_equal(read(pipefd[0], &ch, 1), 1);
    assert_int_equal(ch, 'x');

    /* fill the pipe: the chardev pushes back, the device waits for room */
    for (int i = 0; i < 8192; i++)
        assert_int_equal(uvfio_client_region_write_posted(c, UVFIO_PCI_BAR0_REGION,
                                                          THR, "y", 1), 0);
    assert_false(uart_rd(c, LSR) & 0x40);
    /* the reader goes away while the device waits on the full pipe */
    close(pipefd[0]);
    for (int i = 0; i < 100 && !(uart_rd(c, LSR) & 0x40); i++)
        usleep(10000);
    assert_true(uart_rd(c, LSR) & 0x40);        /* dropped, not stuck */
    before = proc_cpu_ticks(p);
    usleep(500000);
    after = proc_cpu_ticks(p);
    assert_true(before >= 0 && after >= 0);
    if (after - before > 10)
        fail_msg("uvfio-serial used %ld ticks in 0.5 s idle", after - before);
    uart_wr(c, SCR, 0x42);
    assert_int_equal(uart_rd(c, SCR), 0x42);
    uvfio_client_close(c);
    assert_int_equal(proc_stop(p, SIGTERM, 5000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- uvfio-info against the running device -------------------------------------- */

static void test_info_text(void **state)
{
    char out[160];
    char *argv[] = { (char *)info_bin, sock_path, NULL };
    char *s;

    (void)state;
    snprintf(out, sizeof(out), "%s/info.txt", dir);
    assert_int_equal(proc_run(argv, out, 10000 * wait_scale), 0);
    s = file_slurp(out, NULL);
    assert_non_null(s);
    assert_non_null(strstr(s, "Serial controller [0700]: Device [1b36:0002] (rev 01) (prog-if 02 [16550])"));
    assert_non_null(strstr(s, "Subsystem: Device [1af4:1100]"));
    assert_non_null(strstr(s, "Interrupt: pin A"));
    assert_non_null(strstr(s, "Region 0: I/O ports at"));
    assert_non_null(strstr(s, "[size=8]"));
    assert_non_null(strstr(s, "INTx: count=1 [EVENTFD MASKABLE AUTOMASKED]"));
    free(s);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;

    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static void test_info_json(void **state)
{
    char out[160];
    char *argv[] = { (char *)info_bin, "--json", sock_path, NULL };
    json_object *root, *pci, *bar, *regions;
    char *s;

    (void)state;
    snprintf(out, sizeof(out), "%s/info.json", dir);
    assert_int_equal(proc_run(argv, out, 10000 * wait_scale), 0);
    s = file_slurp(out, NULL);
    assert_non_null(s);
    root = json_tokener_parse(s);
    assert_non_null(root);
    pci = jget(root, "pci");
    assert_int_equal(json_object_get_int(jget(pci, "vendor_id")), 0x1b36);
    assert_int_equal(json_object_get_int(jget(pci, "device_id")), 0x0002);
    assert_int_equal(json_object_get_int(jget(pci, "class")), 0x070002);
    assert_int_equal(json_object_array_length(jget(pci, "bars")), 1);
    bar = json_object_array_get_idx(jget(pci, "bars"), 0);
    assert_string_equal(json_object_get_string(jget(bar, "type")), "io");
    assert_int_equal(json_object_get_int(jget(bar, "size")), 8);
    assert_int_equal(json_object_array_length(jget(pci, "capabilities")), 0);
    regions = jget(root, "regions");
    assert_int_equal(json_object_array_length(regions), UVFIO_PCI_NUM_REGIONS);
    assert_int_equal(json_object_get_int(jget(json_object_array_get_idx(regions, 7),
                                              "size")), 256);
    json_object_put(root);
    free(s);
}

static void test_info_errors(void **state)
{
    char missing[160];
    char *no_sock[] = { (char *)info_bin, missing, NULL };
    char *no_args[] = { (char *)info_bin, NULL };
    char *two[] = { (char *)info_bin, sock_path, sock_path, NULL };

    (void)state;
    snprintf(missing, sizeof(missing), "%s/nothing-here.sock", dir);
    assert_int_equal(proc_run(no_sock, "/dev/null", 10000), 3);
    assert_int_equal(proc_run(no_args, "/dev/null", 10000), 2);
    assert_int_equal(proc_run(two, "/dev/null", 10000), 2);
}

static void test_serial_usage_errors(void **state)
{
    char *bad_fd[] = { (char *)serial_bin, "--fd=notanumber", NULL };
    char *closed_fd[] = { (char *)serial_bin, "--fd=999", NULL };
    char *none[] = { (char *)serial_bin, NULL };
    char *both[] = { (char *)serial_bin, "--fd=0", "--socket-path=/tmp/x", NULL };
    char chopt[] = "--chardev=bogus";
    char sockopt[160];
    char *bad_chardev[] = { (char *)serial_bin, sockopt, chopt, NULL };

    (void)state;
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s/never.sock", dir);
    assert_int_equal(proc_run(bad_fd, "/dev/null", 10000), 2);
    assert_int_equal(proc_run(closed_fd, "/dev/null", 10000), 2);
    assert_int_equal(proc_run(none, "/dev/null", 10000), 2);
    assert_int_equal(proc_run(both, "/dev/null", 10000), 2);
    assert_int_equal(proc_run(bad_chardev, "/dev/null", 10000), 1);
}

int main(int argc, char **argv)
{
    int failed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_version, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_device_info, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_region_info, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_irq_info, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_config_identity, setup_client, teardown_client),
        cmocka_unit_test(test_raw_region_io_fds),
        cmocka_unit_test_setup_teardown(test_uart_output_in_order, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_uart_output_write_multi, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_intx_eventfd, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_reset, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_dma_map_unmap, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_bad_accesses_survive, setup_client, teardown_client),
        cmocka_unit_test_setup_teardown(test_state_kept_across_clients, setup_client, teardown_client),
        cmocka_unit_test(test_pipe_rx_tx_and_interrupt),
        cmocka_unit_test(test_pipe_char_timeout),
        cmocka_unit_test(test_stdio_reader_gone),
        cmocka_unit_test(test_info_text),
        cmocka_unit_test(test_info_json),
        cmocka_unit_test(test_info_errors),
        cmocka_unit_test(test_serial_usage_errors),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s UVFIO_SERIAL UVFIO_INFO\n", argv[0]);
        return 2;
    }
    serial_bin = argv[1];
    info_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    uvfio_log_set_level(UVFIO_LOG_NONE);
    failed = cmocka_run_group_tests_name("integration-serial", tests,
                                         group_setup, group_teardown);
    return failed || teardown_failed ? 1 : 0;
}
