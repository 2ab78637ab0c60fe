// SPDX-License-Identifier: MIT
/*
 * tests/faults/kind_serial.c - uvfio-serial as a fault-campaign device.
 *
 * The server runs on FIFO chardevs whose host ends the test holds.  The
 * guest programs the UART with random register values and puts 1 to 3
 * bytes on its line, which wait in the RX FIFO; at the next round, on
 * whichever server the device then lives, they must come out of RBR in
 * order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rig.h"

#define BAR0            UVFIO_PCI_BAR0_REGION
#define CFG             UVFIO_PCI_CONFIG_REGION
#define PCI_COMMAND     0x04
#define PCI_CMD_IO      0x0001

/* 16550 registers and bits. */
#define RBR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7
#define LCR_DLAB        0x80
#define LSR_DR          0x01
#define IER_RDI         0x01
#define IIR_ID          0x0f
#define IIR_CTI         0x0c    /* character timeout */

#define MAX_DIVISOR     12      /* 4 character times stay under 5 ms */
#define FEED_MAX        3       /* under the lowest trigger level but 1 */

/* ---- the server ---------------------------------------------------------- */

static int make_fifo(const char *line, const char *suffix, int *fd)
{
    char path[160];

    snprintf(path, sizeof(path), "%s%s", line, suffix);
    if (mkfifo(path, 0600))
        return -errno;
    *fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return *fd < 0 ? -errno : 0;
}

static int serial_prepare(struct server *s, char **args, int max)
{
    int ret;

    if (max < 1)
        return -E2BIG;
    ret = make_fifo(s->line, ".in", &s->in_fd);
    if (!ret)
        ret = make_fifo(s->line, ".out", &s->out_fd);
    if (ret)
        return ret;
    snprintf(s->arg, sizeof(s->arg), "--chardev=pipe:%s", s->line);
    args[0] = s->arg;
    return 1;
}

static void serial_cleanup(struct server *s)
{
    char path[160];

    if (s->in_fd >= 0)
        close(s->in_fd);
    if (s->out_fd >= 0)
        close(s->out_fd);
    s->in_fd = s->out_fd = -1;
    snprintf(path, sizeof(path), "%s.in", s->line);
    unlink(path);
    snprintf(path, sizeof(path), "%s.out", s->line);
    unlink(path);
}

/* ---- the guest ----------------------------------------------------------- */

static int reg_read(struct uvfio_client *c, unsigned int reg, uint8_t *v)
{
    return uvfio_client_region_read(c, BAR0, reg, v, 1) == 1 ? 0 : -EIO;
}

static int reg_write(struct uvfio_client *c, unsigned int reg, uint8_t v)
{
    return uvfio_client_region_write(c, BAR0, reg, &v, 1) == 1 ? 0 : -EIO;
}

/* The BAR answers only with I/O decoding on (a fresh device has it off). */
static int enable_io(struct uvfio_client *c)
{
    uint16_t cmd = 0;

    if (uvfio_client_region_read(c, CFG, PCI_COMMAND, &cmd, 2) != 2)
        return -EIO;
    cmd |= PCI_CMD_IO;
    if (uvfio_client_region_write(c, CFG, PCI_COMMAND, &cmd, 2) != 2)
        return -EIO;
    return 0;
}

/* Every byte waiting in the RX FIFO, compared with what life expects. */
static int drain_rx(struct uvfio_client *c, struct life *life)
{
    uint8_t got[32], lsr = 0;
    size_t n = 0;
    int ret = 0;

    while (!ret && n < sizeof(got)) {
        ret = reg_read(c, LSR, &lsr);
        if (ret || !(lsr & LSR_DR))
            break;
        ret = reg_read(c, RBR, &got[n++]);
    }
    if (ret)
        return ret;
    if (n != life->held_len || memcmp(got, life->held, n)) {
        fprintf(stderr, "RX FIFO: %zu bytes, expected %zu:", n,
                life->held_len);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x%s", got[i], i < life->held_len &&
                    got[i] == life->held[i] ? "" : "!");
        fprintf(stderr, "\n");
        return -EBADMSG;
    }
    life->held_len = 0;
    return 0;
}

static int program(struct uvfio_client *c, uint32_t *rnd)
{
    uint16_t div = (uint16_t)(1 + rig_rand(rnd) % MAX_DIVISOR);
    uint8_t lcr = 0x03 | (rig_rand(rnd) & 0x04);   /* 8 bits, 1 or 2 stop */
    int ret;

    ret = reg_write(c, LCR, LCR_DLAB);
    if (!ret)
        ret = reg_write(c, DLL, (uint8_t)div);
    if (!ret)
        ret = reg_write(c, DLM, 0);
    if (!ret)
        ret = reg_write(c, LCR, lcr);
    /* FIFOs on, a trigger level of 4, 8 or 14, nothing reset: the few
     * bytes fed stay under it, so their character timeout shows in IIR */
    if (!ret)
        ret = reg_write(c, FCR, (uint8_t)(0x01 | (1 + rig_rand(rnd) % 3)
                                                  << 6));
    if (!ret)
        ret = reg_write(c, MCR, (uint8_t)(rig_rand(rnd) & 0x0f));
    if (!ret)
        ret = reg_write(c, SCR, (uint8_t)rig_rand(rnd));
    if (!ret)
        ret = reg_write(c, IER, (uint8_t)((rig_rand(rnd) & 0x0f) |
                                          IER_RDI));
    return ret;
}

/*
 * New bytes on the line, until the UART has taken them all and their
 * character timeout has struck (IIR says so; reading IIR with a timeout
 * pending changes nothing): from then on the state holds still, so the
 * image taken next is the device's for as long as nobody touches it.
 */
static int feed_rx(struct server *s, struct uvfio_client *c,
                   struct life *life, uint32_t *rnd)
{
    long long end = proc_now_ms() + proc_budget(5000);
    size_t n = 1 + rig_rand(rnd) % FEED_MAX;
    int pending = 1, ret;
    uint8_t lsr = 0, iir = 0;

    for (size_t i = 0; i < n; i++)
        life->held[i] = (uint8_t)rig_rand(rnd);
    if (write(s->in_fd, life->held, n) != (ssize_t)n)
        return -EIO;
    life->held_len = n;
    for (;;) {
        ret = reg_read(c, LSR, &lsr);
        if (!ret && ioctl(s->in_fd, FIONREAD, &pending))
            ret = -errno;
        if (!ret)
            ret = reg_read(c, IIR, &iir);
        if (ret || ((lsr & LSR_DR) && !pending &&
                    (iir & IIR_ID) == IIR_CTI))
            return ret;
        if (proc_now_ms() >= end)
            return -ETIMEDOUT;
        proc_sleep_ms(1);
    }
}

static int serial_play(struct server *s, struct uvfio_client *c,
                       struct life *life, uint32_t seed)
{
    uint32_t rnd = seed;
    int ret;

    ret = enable_io(c);
    if (!ret)
        ret = drain_rx(c, life);
    if (!ret)
        ret = program(c, &rnd);
    if (!ret)
        ret = feed_rx(s, c, life, &rnd);
    return ret;
}

const struct kind kind_serial = {
    .name = "uvfio-serial",
    .chunk = { "24", "64", "4096" },
    .prepare = serial_prepare,
    .cleanup = serial_cleanup,
    .play = serial_play,
};
