/* SPDX-License-Identifier: MIT */
/*
 * tests/e2e/test_serial_mig.c - uvfio-serial's migration driver at the
 * core level: two real serial devices on FIFO chardevs, driven through
 * uvfio_core_* exactly as the server drives them, the bytes on their
 * lines checked from the FIFOs' other ends.
 *
 * What is asserted: the stream carries configuration, both FIFOs and the
 * PCI state (a destination that was never configured works as the source
 * did, without a single config write); PRE_COPY sends config first and a
 * state record exactly when something changed; the line is closed in the
 * P2P and stopped states and the character timer held while stopped, so
 * the source neither loses nor repeats a byte; and RESUMING->STOP refuses
 * every damaged, truncated, reordered, overlong or illegal stream without
 * changing the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <uvfio/migration.h>
#include <uvfio/pci.h>

#include "chardev.h"
#include "core/core.h"
#include "migration.h"
#include "proto/version.h"
#include "serial.h"
#include "uart.h"

#define STOP        UVFIO_MIG_STATE_STOP
#define RUNNING     UVFIO_MIG_STATE_RUNNING
#define STOP_COPY   UVFIO_MIG_STATE_STOP_COPY
#define RESUMING    UVFIO_MIG_STATE_RESUMING
#define RUNNING_P2P UVFIO_MIG_STATE_RUNNING_P2P
#define PRE_COPY    UVFIO_MIG_STATE_PRE_COPY
#define PRE_COPY_P2P UVFIO_MIG_STATE_PRE_COPY_P2P

#define BAR0        UVFIO_PCI_BAR0_REGION
#define CFG         UVFIO_PCI_CONFIG_REGION
#define PCI_COMMAND 0x04
#define PCI_CMD_IO  0x0001
#define IMG_HDR     UVFIO_MIG_IMAGE_HDR_SIZE
#define REC_HDR     sizeof(struct serial_rec_hdr)

/* One serial device and the host's ends of its line. */
struct port {
    char base[PATH_MAX];
    struct serial *s;
    struct uvfio_device *dev;
    int in_fd;          /* we write here, the guest reads it */
    int out_fd;         /* the guest's output arrives here */
};

struct pair {
    char dir[64];
    struct port src, dst;
};

static int open_fifo(const char *base, const char *sfx)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s%s", base, sfx);
    assert_int_equal(mkfifo(path, 0600), 0);
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void port_open(struct port *p, const char *dir, const char *name)
{
    struct uvfio_core_client cl = {
        .max_data_xfer = 1u << 20, .max_dma_maps = 16,
        .extensions = UVFIO_EXT_PRECOPY_INFO,
    };
    char spec[PATH_MAX + 8];
    struct chardev *cd;
    uint16_t cmd = PCI_CMD_IO;

    snprintf(p->base, sizeof(p->base), "%s/%s", dir, name);
    p->in_fd = open_fifo(p->base, ".in");
    p->out_fd = open_fifo(p->base, ".out");
    snprintf(spec, sizeof(spec), "pipe:%s", p->base);
    assert_int_equal(chardev_open(spec, &cd), 0);
    assert_int_equal(serial_create(cd, &p->s), 0);
    p->dev = serial_device(p->s);
    assert_int_equal(uvfio_core_attach(p->dev, &cl), 0);
    /* the source's guest enables I/O decode; the destination must get it
     * from the stream, so only the source does this (see pair_setup) */
    if (!strcmp(name, "src"))
        assert_int_equal(uvfio_core_region_write(p->dev, CFG, PCI_COMMAND,
                                                 &cmd, 2), 2);
}

static void port_close(struct port *p)
{
    uvfio_core_detach(p->dev);
    serial_destroy(p->s);
    close(p->in_fd);
    close(p->out_fd);
}

static int pair_setup(void **state)
{
    struct pair *pr = calloc(1, sizeof(*pr));

    assert_non_null(pr);
    strcpy(pr->dir, "/tmp/uvfio-sermig-XXXXXX");
    assert_non_null(mkdtemp(pr->dir));
    port_open(&pr->src, pr->dir, "src");
    port_open(&pr->dst, pr->dir, "dst");
    *state = pr;
    return 0;
}

static void unlink_fifos(const struct port *p)
{
    char path[PATH_MAX + 8];

    snprintf(path, sizeof(path), "%s.in", p->base);
    unlink(path);
    snprintf(path, sizeof(path), "%s.out", p->base);
    unlink(path);
}

static int pair_teardown(void **state)
{
    struct pair *pr = *state;

    port_close(&pr->src);
    port_close(&pr->dst);
    unlink_fifos(&pr->src);
    unlink_fifos(&pr->dst);
    rmdir(pr->dir);
    free(pr);
    return 0;
}

/* ---- the guest's and the host's side of a port --------------------------- */

static void reg_w(struct port *p, unsigned int reg, uint8_t v)
{
    assert_int_equal(uvfio_core_region_write(p->dev, BAR0, reg, &v, 1), 1);
}

static uint8_t reg_r(struct port *p, unsigned int reg)
{
    uint8_t v = 0;

    assert_int_equal(uvfio_core_region_read(p->dev, BAR0, reg, &v, 1), 1);
    return v;
}

static uint16_t cfg_r16(struct port *p, uint32_t off)
{
    uint16_t v = 0;

    assert_int_equal(uvfio_core_region_read(p->dev, CFG, off, &v, 2), 2);
    return v;
}

/* What a driver's probe leaves behind: 115200 8N1, FIFOs on with the
 * 8-byte trigger, interrupts on, modem lines up, a scratch value. */
static void guest_configure(struct port *p)
{
    reg_w(p, UART_LCR, UART_LCR_DLAB);
    reg_w(p, UART_DLL, 1);
    reg_w(p, UART_DLM, 0);
    reg_w(p, UART_LCR, 0x03);
    reg_w(p, UART_FCR, UART_FCR_ENABLE | 0x80);
    reg_w(p, UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    reg_w(p, UART_SCR, 0x5a);
    reg_w(p, UART_IER, UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI);
}

static void assert_configured(struct port *p)
{
    assert_int_equal(reg_r(p, UART_LCR), 0x03);
    assert_int_equal(reg_r(p, UART_IER),
                     UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI);
    assert_int_equal(reg_r(p, UART_MCR),
                     UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    assert_int_equal(reg_r(p, UART_SCR), 0x5a);
    reg_w(p, UART_LCR, 0x83);
    assert_int_equal(reg_r(p, UART_DLL), 1);
    assert_int_equal(reg_r(p, UART_DLM), 0);
    reg_w(p, UART_LCR, 0x03);
    /* FIFOs on: the IIR's top bits say so */
    assert_int_equal(reg_r(p, UART_IIR) & UART_IIR_FIFO, UART_IIR_FIFO);
}

/* Let the device handle what its chardev and timer have for it. */
static void pump(struct port *p)
{
    for (int i = 0; i < 4; i++)
        uvfio_core_dispatch_events(p->dev);
}

static void host_send(struct port *p, const void *buf, size_t len)
{
    assert_int_equal(write(p->in_fd, buf, len), (ssize_t)len);
    pump(p);
}

/* Everything the guest's output put on the line so far. */
static size_t host_recv(struct port *p, uint8_t *buf, size_t max)
{
    ssize_t n = read(p->out_fd, buf, max);

    if (n < 0) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return (size_t)n;
}

/* Bytes still waiting in the port's input FIFO (the device left them). */
static size_t host_unread(struct port *p, uint8_t *buf, size_t max)
{
    ssize_t n = read(p->in_fd, buf, max);

    if (n < 0) {
        assert_int_equal(errno, EAGAIN);
        return 0;
    }
    return (size_t)n;
}

/* 1200 baud: four character times are ~33 ms, long enough that nothing
 * between two statements of a test outlasts them.  The THRE interrupt is
 * acknowledged (an IIR read), so the IIR names only what comes next. */
static void slow_line(struct port *p)
{
    reg_w(p, UART_LCR, 0x83);
    reg_w(p, UART_DLL, 96);
    reg_w(p, UART_LCR, 0x03);
    assert_int_equal(reg_r(p, UART_IIR) & 0x0f, UART_IIR_THRI);
    assert_int_equal(reg_r(p, UART_IIR) & 0x0f, UART_IIR_NO_INT);
}

static bool rx_ready(struct port *p)
{
    return reg_r(p, UART_LSR) & UART_LSR_DR;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* ---- migration through the core ------------------------------------------ */

static int set_state(struct port *p, uint32_t state)
{
    struct uvfio_wire_feature_mig_state st = { state, UINT32_MAX };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint32_t flags = UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE;
    int ret;

    ret = uvfio_core_feature(p->dev, 16, flags, &st, sizeof(st), &rep);
    uvfio_buf_free(&rep);
    return ret;
}

static int feature_get(struct port *p, uint32_t index, void *out, size_t n)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int ret;

    ret = uvfio_core_feature(p->dev, (uint32_t)(8 + n),
                             UVFIO_FEATURE_GET | index, NULL, 0, &rep);
    if (!ret) {
        assert_int_equal(rep.len, 8 + n);
        memcpy(out, rep.data + 8, n);
    }
    uvfio_buf_free(&rep);
    return ret;
}

static uint32_t get_state(struct port *p)
{
    struct uvfio_wire_feature_mig_state st;

    assert_int_equal(feature_get(p, UVFIO_FEATURE_MIG_DEVICE_STATE, &st,
                                 sizeof(st)), 0);
    return st.device_state;
}

static void precopy_info(struct port *p, uint64_t *initial, uint64_t *dirty)
{
    uint64_t v[2];

    assert_int_equal(feature_get(p, UVFIO_FEATURE_PRECOPY_INFO, v,
                                 sizeof(v)), 0);
    *initial = v[0];
    *dirty = v[1];
}

static uint64_t data_size(struct port *p)
{
    uint64_t v;

    assert_int_equal(feature_get(p, UVFIO_FEATURE_MIG_DATA_SIZE, &v,
                                 sizeof(v)), 0);
    return v;
}

/* One MIG_DATA_READ: bytes returned or -errno. */
static ssize_t mig_read(struct port *p, void *buf, uint32_t size)
{
    struct uvfio_wire_mig_data req = { 8 + size, size }, hdr;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int ret;

    ret = uvfio_core_mig_data_read(p->dev, &req, &rep);
    if (ret) {
        uvfio_buf_free(&rep);
        return ret;
    }
    memcpy(&hdr, rep.data, sizeof(hdr));
    assert_true(hdr.size <= size);
    assert_int_equal(rep.len, 8 + hdr.size);
    memcpy(buf, rep.data + 8, hdr.size);
    uvfio_buf_free(&rep);
    return hdr.size;
}

static int mig_write(struct port *p, const void *buf, uint32_t size)
{
    struct uvfio_wire_mig_data req = { 8 + size, size };

    return uvfio_core_mig_data_write(p->dev, &req, buf, size);
}

/* Everything the saving stream has now, appended to `out`. */
static size_t drain(struct port *p, struct uvfio_buf *out)
{
    uint8_t chunk[4096];
    size_t total = 0;
    ssize_t n;

    do {
        n = mig_read(p, chunk, sizeof(chunk));
        assert_true(n >= 0);
        assert_int_equal(uvfio_buf_append(out, chunk, (size_t)n), 0);
        total += (size_t)n;
    } while (n == (ssize_t)sizeof(chunk));
    return total;
}

/* The whole stream in pieces of `piece` bytes. */
static int feed(struct port *p, const uint8_t *buf, size_t len, size_t piece)
{
    int ret = 0;

    for (size_t off = 0; off < len && !ret; off += piece)
        ret = mig_write(p, buf + off,
                        (uint32_t)(len - off < piece ? len - off : piece));
    return ret;
}

/* src STOP_COPY -> its whole stream, src left in STOP. */
static void save_stopcopy(struct port *src, struct uvfio_buf *stream)
{
    assert_int_equal(set_state(src, STOP_COPY), 0);
    drain(src, stream);
    assert_int_equal(mig_read(src, stream->data, 1), 0);    /* end */
    assert_int_equal(set_state(src, STOP), 0);
}

static void resume(struct port *dst, const struct uvfio_buf *stream)
{
    assert_int_equal(set_state(dst, RESUMING), 0);
    assert_int_equal(feed(dst, stream->data, stream->len, 4096), 0);
    assert_int_equal(set_state(dst, RUNNING), 0);
}

/* ---- tests --------------------------------------------------------------- */

static void test_flags_and_size(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf stream = UVFIO_BUF_INIT;
    uint64_t flags = 0, est;

    assert_int_equal(feature_get(&pr->src, UVFIO_FEATURE_MIGRATION, &flags,
                                 sizeof(flags)), 0);
    assert_int_equal(flags, UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P |
                            UVFIO_MIGRATION_PRE_COPY);
    /* the estimate asked while running is what STOP_COPY then produces */
    est = data_size(&pr->src);
    assert_int_equal(est, IMG_HDR + REC_HDR + sizeof(struct uart_state) +
                     uvfio_pci_state_size(uvfio_pci_of(pr->src.dev)));
    assert_int_equal(set_state(&pr->src, STOP_COPY), 0);
    assert_int_equal(data_size(&pr->src), est);
    assert_int_equal(drain(&pr->src, &stream), est);
    assert_int_equal(data_size(&pr->src), 0);
    assert_int_equal(set_state(&pr->src, RUNNING), 0);
    uvfio_buf_free(&stream);
}

/*
 * The full STOP_COPY round trip with bytes in both FIFOs: five received
 * bytes the guest has not read yet, and output the chardev would not take
 * (its pipe shrunk and filled).  The destination was never configured and
 * its I/O decode never enabled: everything it shows comes from the stream.
 */
static void test_stopcopy_carries_fifos(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf stream = UVFIO_BUF_INIT;
    static uint8_t wrote[8192], line[8192];
    const uint8_t rx[5] = { 'h', 'e', 'l', 'l', 'o' };
    size_t nw = 0, got = 0, n;
    uint8_t junk[16];

    guest_configure(&pr->src);
    host_send(&pr->src, rx, sizeof(rx));
    assert_true(rx_ready(&pr->src));

    assert_true(fcntl(pr->src.out_fd, F_SETPIPE_SZ, 4096) >= 4096);
    /* write until THR stays busy, then four more: the TX FIFO holds 5 */
    while (reg_r(&pr->src, UART_LSR) & UART_LSR_THRE) {
        wrote[nw] = (uint8_t)(nw * 7 + 1);
        reg_w(&pr->src, UART_THR, wrote[nw++]);
        assert_true(nw < sizeof(wrote) - 8);
    }
    for (int i = 0; i < 4; i++) {
        wrote[nw] = (uint8_t)(nw * 7 + 1);
        reg_w(&pr->src, UART_THR, wrote[nw++]);
    }

    save_stopcopy(&pr->src, &stream);
    /* the stopped source takes nothing more from its line either way */
    assert_int_equal(write(pr->src.in_fd, "zz", 2), 2);
    while ((n = host_recv(&pr->src, line + got, sizeof(line) - got)))
        got += n;
    pump(&pr->src);
    assert_int_equal(host_recv(&pr->src, junk, sizeof(junk)), 0);
    assert_int_equal(host_unread(&pr->src, junk, sizeof(junk)), 2);
    assert_int_equal(got, nw - 5);

    resume(&pr->dst, &stream);
    assert_int_equal(cfg_r16(&pr->dst, PCI_COMMAND) & PCI_CMD_IO, PCI_CMD_IO);
    assert_configured(&pr->dst);
    for (size_t i = 0; i < sizeof(rx); i++) {
        assert_true(rx_ready(&pr->dst));
        assert_int_equal(reg_r(&pr->dst, UART_RBR), rx[i]);
    }
    assert_false(rx_ready(&pr->dst));
    /* the five waiting output bytes leave from the destination, once */
    pump(&pr->dst);
    while ((n = host_recv(&pr->dst, line + got, sizeof(line) - got)))
        got += n;
    assert_int_equal(got, nw);
    assert_memory_equal(line, wrote, nw);
    assert_true(reg_r(&pr->dst, UART_LSR) & UART_LSR_TEMT);
    uvfio_buf_free(&stream);
}

/* Split the saving stream into its framed records. */
static size_t records(const struct uvfio_buf *s, uint8_t *kinds, size_t max)
{
    size_t off = 0, n = 0;
    uint64_t len;

    while (off < s->len && n < max) {
        assert_true(s->len - off >= IMG_HDR + REC_HDR);
        memcpy(&len, s->data + off + 24, sizeof(len));
        kinds[n++] = s->data[off + IMG_HDR];
        off += IMG_HDR + len;
    }
    assert_int_equal(off, s->len);
    return n;
}

/*
 * PRE_COPY: the configuration first (initial_bytes), then a state record
 * exactly when something changed (dirty_bytes), and nothing when nothing
 * did.  Input that arrives during precopy reaches the destination.
 */
static void test_precopy_records(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf stream = UVFIO_BUF_INIT;
    uint64_t initial, dirty, sz;
    uint8_t kinds[8], b;
    size_t n;

    guest_configure(&pr->src);
    assert_int_equal(set_state(&pr->src, PRE_COPY), 0);
    precopy_info(&pr->src, &initial, &dirty);
    assert_int_equal(initial, IMG_HDR + REC_HDR +
                              sizeof(struct serial_rec_config));
    assert_int_equal(dirty, 0);
    assert_int_equal(drain(&pr->src, &stream), initial);
    precopy_info(&pr->src, &initial, &dirty);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, 0);
    assert_int_equal(drain(&pr->src, &stream), 0);

    /* the guest is still running: input arrives, the state is dirty */
    host_send(&pr->src, "ab", 2);
    assert_true(rx_ready(&pr->src));
    precopy_info(&pr->src, &initial, &dirty);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, IMG_HDR + REC_HDR + sizeof(struct uart_state));
    assert_int_equal(drain(&pr->src, &stream), dirty);
    precopy_info(&pr->src, &initial, &dirty);
    assert_int_equal(dirty, 0);

    /* a read by the guest is a change too, and more input after it */
    assert_int_equal(reg_r(&pr->src, UART_RBR), 'a');
    host_send(&pr->src, "cd", 2);
    sz = data_size(&pr->src);
    assert_int_equal(set_state(&pr->src, PRE_COPY_P2P), 0);
    /* quiesced: input stays on the line */
    host_send(&pr->src, "e", 1);
    assert_int_equal(set_state(&pr->src, STOP_COPY), 0);
    /* the pending dirty record is superseded by the final one */
    assert_int_equal(drain(&pr->src, &stream), sz);
    assert_int_equal(set_state(&pr->src, STOP), 0);

    n = records(&stream, kinds, sizeof(kinds));
    assert_int_equal(n, 3);
    assert_int_equal(kinds[0], SERIAL_REC_CONFIG);
    assert_int_equal(kinds[1], SERIAL_REC_STATE);
    assert_int_equal(kinds[2], SERIAL_REC_FINAL);

    resume(&pr->dst, &stream);
    assert_configured(&pr->dst);
    for (const char *c = "bcd"; *c; c++)
        assert_int_equal(reg_r(&pr->dst, UART_RBR), *c);
    assert_false(rx_ready(&pr->dst));
    assert_int_equal(host_unread(&pr->src, &b, 1), 1);
    assert_int_equal(b, 'e');
    uvfio_buf_free(&stream);
}

/* A record half read when the device stops is finished before FINAL. */
static void test_final_after_partial_record(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf stream = UVFIO_BUF_INIT;
    uint8_t kinds[4], part[10];

    guest_configure(&pr->src);
    assert_int_equal(set_state(&pr->src, PRE_COPY), 0);
    assert_int_equal(mig_read(&pr->src, part, sizeof(part)), sizeof(part));
    assert_int_equal(uvfio_buf_append(&stream, part, sizeof(part)), 0);
    assert_int_equal(set_state(&pr->src, STOP_COPY), 0);
    drain(&pr->src, &stream);
    assert_int_equal(records(&stream, kinds, 4), 2);
    assert_int_equal(kinds[0], SERIAL_REC_CONFIG);
    assert_int_equal(kinds[1], SERIAL_REC_FINAL);
    assert_int_equal(set_state(&pr->src, STOP), 0);
    resume(&pr->dst, &stream);
    assert_configured(&pr->dst);
    uvfio_buf_free(&stream);
}

/* P2P states: registers answer, the line does not move; RUNNING again
 * lets the queued output go and the waiting input in. */
static void test_p2p_closes_line(void **state)
{
    struct pair *pr = *state;
    uint8_t buf[4];

    guest_configure(&pr->src);
    assert_int_equal(set_state(&pr->src, RUNNING_P2P), 0);
    host_send(&pr->src, "x", 1);
    assert_false(rx_ready(&pr->src));
    reg_w(&pr->src, UART_THR, 'y');
    assert_false(reg_r(&pr->src, UART_LSR) & UART_LSR_THRE);
    pump(&pr->src);
    assert_int_equal(host_recv(&pr->src, buf, sizeof(buf)), 0);

    assert_int_equal(set_state(&pr->src, RUNNING), 0);
    pump(&pr->src);
    assert_int_equal(host_recv(&pr->src, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'y');
    assert_true(rx_ready(&pr->src));
    assert_int_equal(reg_r(&pr->src, UART_RBR), 'x');
}

/*
 * The character timeout is state: it must not fire while stopped (the
 * image was cut without it), and must fire once running again.
 */
static void test_stop_holds_timer(void **state)
{
    struct pair *pr = *state;

    guest_configure(&pr->src);
    slow_line(&pr->src);
    host_send(&pr->src, "t", 1);     /* below the trigger of 8 */
    assert_int_equal(set_state(&pr->src, STOP), 0);
    sleep_ms(80);
    pump(&pr->src);
    assert_int_equal(reg_r(&pr->src, UART_IIR) & 0x0f, UART_IIR_NO_INT);

    assert_int_equal(set_state(&pr->src, RUNNING), 0);
    sleep_ms(80);
    pump(&pr->src);
    assert_int_equal(reg_r(&pr->src, UART_IIR) & 0x0f, UART_IIR_CTI);
}

/* After the source stopped with a timeout counting, the destination
 * runs it out: the interrupt comes without another byte. */
static void test_timer_migrates(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf stream = UVFIO_BUF_INIT;

    guest_configure(&pr->src);
    slow_line(&pr->src);
    host_send(&pr->src, "t", 1);
    save_stopcopy(&pr->src, &stream);
    assert_int_equal(serial_uart(pr->src.s)->st.timeout_ipending, 0);
    resume(&pr->dst, &stream);
    assert_int_equal(reg_r(&pr->dst, UART_IIR) & 0x0f, UART_IIR_NO_INT);
    sleep_ms(80);
    pump(&pr->dst);
    assert_int_equal(reg_r(&pr->dst, UART_IIR) & 0x0f, UART_IIR_CTI);
    assert_int_equal(reg_r(&pr->dst, UART_RBR), 't');
    uvfio_buf_free(&stream);
}

/* ---- the destination refuses bad streams --------------------------------- */

/* A valid precopy + final stream from a configured source. */
static void make_stream(struct pair *pr, struct uvfio_buf *stream)
{
    guest_configure(&pr->src);
    host_send(&pr->src, "q", 1);
    assert_int_equal(set_state(&pr->src, PRE_COPY), 0);
    drain(&pr->src, stream);
    host_send(&pr->src, "r", 1);
    drain(&pr->src, stream);
    assert_int_equal(set_state(&pr->src, STOP_COPY), 0);
    drain(&pr->src, stream);
    assert_int_equal(set_state(&pr->src, STOP), 0);
}

/* Offset of record `i` in the stream. */
static size_t record_off(const struct uvfio_buf *s, unsigned int i)
{
    size_t off = 0;
    uint64_t len;

    while (i--) {
        memcpy(&len, s->data + off + 24, sizeof(len));
        off += IMG_HDR + len;
    }
    return off;
}

/* Re-seal record `i` after a deliberate edit, so only the check that is
 * meant to catch the edit can. */
static void reseal(struct uvfio_buf *s, unsigned int i)
{
    size_t off = record_off(s, i);
    uint64_t len;
    uint32_t crc;

    memcpy(&len, s->data + off + 24, sizeof(len));
    crc = uvfio_crc32(0, s->data + off + IMG_HDR, len);
    memcpy(s->data + off + 20, &crc, sizeof(crc));
}

/* Everything a refused stream must leave as it was: the UART model's
 * state and the PCI model's, byte for byte. */
struct dev_snapshot {
    struct uart_state uart;
    uint8_t pci[4096];
    size_t pci_len;
};

static void snapshot(struct port *p, struct dev_snapshot *s)
{
    ssize_t n;

    s->uart = serial_uart(p->s)->st;
    n = uvfio_pci_save_state(uvfio_pci_of(p->dev), s->pci, sizeof(s->pci));
    assert_true(n > 0);
    s->pci_len = (size_t)n;
}

static void assert_unchanged(struct port *p, const struct dev_snapshot *was)
{
    struct dev_snapshot now;

    snapshot(p, &now);
    assert_memory_equal(&now.uart, &was->uart, sizeof(now.uart));
    assert_int_equal(now.pci_len, was->pci_len);
    assert_memory_equal(now.pci, was->pci, now.pci_len);
}

/* Feed `s` to the destination: expect write error `werr` (0: all
 * accepted) and then RESUMING->STOP error `serr`, with the device still
 * in RESUMING and not changed in any way; then reset it for the next. */
static void refused(struct port *dst, const struct uvfio_buf *s, int werr,
                    int serr)
{
    struct dev_snapshot was;

    assert_int_equal(set_state(dst, RESUMING), 0);
    snapshot(dst, &was);
    assert_int_equal(feed(dst, s->data, s->len, 7), werr);
    assert_int_equal(set_state(dst, STOP), serr);
    assert_int_equal(get_state(dst), RESUMING);
    assert_unchanged(dst, &was);
    assert_int_equal(uvfio_core_reset(dst->dev), 0);
    assert_int_equal(get_state(dst), RUNNING);
}

static void copy_buf(struct uvfio_buf *to, const struct uvfio_buf *from)
{
    to->len = 0;
    assert_int_equal(uvfio_buf_append(to, from->data, from->len), 0);
}

static void test_refuses_damage(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf good = UVFIO_BUF_INIT, bad = UVFIO_BUF_INIT;
    size_t fin;
    uint32_t u32;

    make_stream(pr, &good);
    fin = record_off(&good, 2);
    assert_int_equal(good.data[fin + IMG_HDR], SERIAL_REC_FINAL);

    /* empty stream: nothing to apply */
    assert_int_equal(set_state(&pr->dst, RESUMING), 0);
    assert_int_equal(set_state(&pr->dst, STOP), -EINVAL);
    assert_int_equal(uvfio_core_reset(pr->dst.dev), 0);

    /* one flipped payload bit: the record's CRC */
    copy_buf(&bad, &good);
    bad.data[fin + IMG_HDR + REC_HDR + 3] ^= 0x10;
    refused(&pr->dst, &bad, -EBADMSG, -EINVAL);

    /* truncated by one byte: FINAL never completes */
    copy_buf(&bad, &good);
    bad.len--;
    refused(&pr->dst, &bad, 0, -EINVAL);

    /* cut at the record boundary before FINAL */
    copy_buf(&bad, &good);
    bad.len = fin;
    refused(&pr->dst, &bad, 0, -EINVAL);

    /* a byte after FINAL */
    copy_buf(&bad, &good);
    assert_int_equal(uvfio_buf_append(&bad, "", 1), 0);
    refused(&pr->dst, &bad, -EFBIG, -EINVAL);

    /* another device's image (magic) */
    copy_buf(&bad, &good);
    bad.data[8] ^= 1;
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* a newer stream version */
    copy_buf(&bad, &good);
    u32 = SERIAL_MIG_VERSION + 1;
    memcpy(bad.data + 16, &u32, sizeof(u32));
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);
    uvfio_buf_free(&good);
    uvfio_buf_free(&bad);
}

static void test_refuses_illegal(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf good = UVFIO_BUF_INIT, bad = UVFIO_BUF_INIT;
    size_t fin, st1, pci;
    uint32_t u32;

    make_stream(pr, &good);
    st1 = record_off(&good, 1) + IMG_HDR;
    fin = record_off(&good, 2) + IMG_HDR;
    pci = fin + REC_HDR + sizeof(struct uart_state);

    /* FINAL with IER bits the chip does not have */
    copy_buf(&bad, &good);
    bad.data[fin + REC_HDR + offsetof(struct uart_state, ier)] = 0xff;
    reseal(&bad, 2);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* FINAL with an RX count beyond the FIFO */
    copy_buf(&bad, &good);
    bad.data[fin + REC_HDR + offsetof(struct uart_state, rx_count)] = 17;
    reseal(&bad, 2);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* a STATE record with an impossible FIFO head */
    copy_buf(&bad, &good);
    assert_int_equal(bad.data[st1], SERIAL_REC_STATE);
    bad.data[st1 + REC_HDR + offsetof(struct uart_state, tx_head)] = 16;
    reseal(&bad, 1);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* CONFIG with an MCR bit beyond loopback */
    copy_buf(&bad, &good);
    bad.data[IMG_HDR + REC_HDR + offsetof(struct serial_rec_config, mcr)] =
        0x20;
    reseal(&bad, 0);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* an unknown record kind */
    copy_buf(&bad, &good);
    bad.data[st1] = 9;
    reseal(&bad, 1);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* another UART layout version */
    copy_buf(&bad, &good);
    bad.data[fin + 1] = UART_STATE_VERSION + 1;
    reseal(&bad, 2);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* FINAL claiming a PCI blob of another size */
    copy_buf(&bad, &good);
    memcpy(&u32, bad.data + fin + 4, sizeof(u32));
    u32 -= 4;
    memcpy(bad.data + fin + 4, &u32, sizeof(u32));
    reseal(&bad, 2);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* a PCI blob the model refuses (its own magic), all else intact: the
     * only refusal left for RESUMING->STOP itself */
    copy_buf(&bad, &good);
    bad.data[pci] ^= 0xff;
    reseal(&bad, 2);
    refused(&pr->dst, &bad, 0, -EINVAL);
    uvfio_buf_free(&good);
    uvfio_buf_free(&bad);
}

/* Records in the wrong order: STATE without CONFIG, CONFIG twice. */
static void test_refuses_order(void **state)
{
    struct pair *pr = *state;
    struct uvfio_buf good = UVFIO_BUF_INIT, bad = UVFIO_BUF_INIT;
    size_t st1, fin;

    make_stream(pr, &good);
    st1 = record_off(&good, 1);
    fin = record_off(&good, 2);

    /* STATE FINAL: no CONFIG first */
    bad.len = 0;
    assert_int_equal(uvfio_buf_append(&bad, good.data + st1,
                                      good.len - st1), 0);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* CONFIG CONFIG ... */
    bad.len = 0;
    assert_int_equal(uvfio_buf_append(&bad, good.data, st1), 0);
    assert_int_equal(uvfio_buf_append(&bad, good.data, good.len), 0);
    refused(&pr->dst, &bad, -EINVAL, -EINVAL);

    /* FINAL alone is a whole STOP_COPY stream */
    bad.len = 0;
    assert_int_equal(uvfio_buf_append(&bad, good.data + fin,
                                      good.len - fin), 0);
    assert_int_equal(set_state(&pr->dst, RESUMING), 0);
    assert_int_equal(feed(&pr->dst, bad.data, bad.len, 1), 0);
    assert_int_equal(set_state(&pr->dst, RUNNING), 0);
    assert_configured(&pr->dst);
    assert_int_equal(reg_r(&pr->dst, UART_RBR), 'q');
    assert_int_equal(reg_r(&pr->dst, UART_RBR), 'r');
    uvfio_buf_free(&good);
    uvfio_buf_free(&bad);
}

/* A reset abandons RESUMING: the device runs again with its line open. */
static void test_reset_leaves_resuming(void **state)
{
    struct pair *pr = *state;
    uint8_t buf[2];

    assert_int_equal(set_state(&pr->dst, RESUMING), 0);
    assert_int_equal(mig_write(&pr->dst, "UVMI", 4), 0);
    assert_int_equal(uvfio_core_reset(pr->dst.dev), 0);
    assert_int_equal(get_state(&pr->dst), RUNNING);
    /* decode is off after reset: turn it on as a guest would */
    {
        uint16_t cmd = PCI_CMD_IO;

        assert_int_equal(uvfio_core_region_write(pr->dst.dev, CFG,
                                                 PCI_COMMAND, &cmd, 2), 2);
    }
    host_send(&pr->dst, "k", 1);
    assert_true(rx_ready(&pr->dst));
    reg_w(&pr->dst, UART_THR, 'm');
    assert_int_equal(host_recv(&pr->dst, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'm');
}

/* The client goes away mid-precopy: the stream is gone, not the device. */
static void test_detach_mid_precopy(void **state)
{
    struct pair *pr = *state;
    struct uvfio_core_client cl = {
        .max_data_xfer = 1u << 20, .max_dma_maps = 16,
        .extensions = UVFIO_EXT_PRECOPY_INFO,
    };
    uint8_t b[8];

    guest_configure(&pr->src);
    assert_int_equal(set_state(&pr->src, PRE_COPY), 0);
    assert_int_equal(mig_read(&pr->src, b, sizeof(b)), sizeof(b));
    uvfio_core_detach(pr->src.dev);
    assert_int_equal(uvfio_core_attach(pr->src.dev, &cl), 0);
    assert_int_equal(mig_read(&pr->src, b, sizeof(b)), -ENODEV);
    assert_int_equal(set_state(&pr->src, RUNNING), 0);
    assert_configured(&pr->src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flags_and_size, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_stopcopy_carries_fifos,
                                        pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_precopy_records, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_final_after_partial_record,
                                        pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_p2p_closes_line, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_stop_holds_timer, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_timer_migrates, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_damage, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_illegal, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_refuses_order, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_reset_leaves_resuming,
                                        pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_detach_mid_precopy, pair_setup,
                                        pair_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
