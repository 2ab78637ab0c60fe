// SPDX-License-Identifier: MIT
/* tests/faults/serial_rig.c - see serial_rig.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "serial_rig.h"

#define BAR0            UVFIO_PCI_BAR0_REGION
#define CFG             UVFIO_PCI_CONFIG_REGION
#define PCI_COMMAND     0x04
#define PCI_CMD_IO      0x0001

/* 16550 registers and bits. */
#define RBR 0
#define THR 0
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
#define FEED_MAX        3       /* under the lowest trigger level but 1 */

#define MAX_DIVISOR     12      /* 4 character times stay under 5 ms */

/* ---- servers ------------------------------------------------------------- */

static int make_line(struct server *s)
{
    char path[160];

    snprintf(path, sizeof(path), "%s.in", s->line);
    if (mkfifo(path, 0600))
        return -errno;
    s->in_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s.out", s->line);
    if (mkfifo(path, 0600))
        return -errno;
    s->out_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return s->in_fd < 0 || s->out_fd < 0 ? -EIO : 0;
}

static void remove_files(struct server *s)
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
    unlink(s->sock);
    unlink(s->log);
}

int server_start(struct server *s, const char *dir, const char *bin,
                 unsigned int id)
{
    char sockopt[160], chardev[160];
    char *argv[] = { (char *)bin, sockopt, chardev, NULL };
    int ret;

    memset(s, 0, sizeof(*s));
    s->id = id;
    s->in_fd = s->out_fd = -1;
    s->fd_baseline = -1;
    snprintf(s->sock, sizeof(s->sock), "%s/s%u.sock", dir, id);
    snprintf(s->line, sizeof(s->line), "%s/s%u.line", dir, id);
    snprintf(s->log, sizeof(s->log), "%s/s%u.log", dir, id);
    ret = make_line(s);
    if (ret)
        return ret;
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", s->sock);
    snprintf(chardev, sizeof(chardev), "--chardev=pipe:%s", s->line);
    ret = proc_start(&s->proc, argv, s->log, s->log, true);
    if (!ret)
        ret = proc_wait_socket(&s->proc, s->sock, proc_budget(10000));
    return ret;
}

int server_stop(struct server *s)
{
    int status = 0, ret;
    char *log;

    if (s->proc.pid <= 0)
        return -ECHILD;
    kill(s->proc.pid, SIGTERM);
    ret = proc_wait(&s->proc, proc_budget(5000), &status, false);
    if (!ret && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        log = proc_slurp(s->log);
        fprintf(stderr, "server %u ended with status %#x:\n%s\n", s->id,
                status, log ? log : "(no log)");
        free(log);
        ret = -EIO;
    }
    remove_files(s);
    return ret;
}

void server_reap_killed(struct server *s)
{
    proc_kill(&s->proc);
    remove_files(s);
}

static bool fds_at(struct server *s, int *now)
{
    *now = proc_fd_count(s->proc.pid);
    return *now == s->fd_baseline;
}

/* Settled: the same count for a few polls in a row. */
static int settle(struct server *s, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    int last = -1, same = 0, n;

    while (proc_now_ms() < end && same < 5) {
        n = proc_fd_count(s->proc.pid);
        same = n == last ? same + 1 : 0;
        last = n;
        proc_sleep_ms(2);
    }
    return last;
}

int server_fds_settled(struct server *s, int timeout_ms, int *now)
{
    long long end = proc_now_ms() + timeout_ms;

    if (s->fd_baseline < 0) {
        s->fd_baseline = settle(s, timeout_ms);
        *now = s->fd_baseline;
        return s->fd_baseline < 0 ? -EIO : 0;
    }
    /* a client that just went may take the server a moment to drop */
    while (!fds_at(s, now)) {
        if (proc_now_ms() >= end)
            return -EMFILE;
        proc_sleep_ms(2);
    }
    return 0;
}

/* ---- looking at a device ------------------------------------------------- */

struct uvfio_client *rig_connect(const char *sock)
{
    struct uvfio_client_opts o = {
        .timeout_ms = (uint32_t)proc_budget(5000),
    };
    struct uvfio_client *c = NULL;

    return uvfio_client_connect(sock, &o, &c) ? NULL : c;
}

int rig_state(const char *sock, enum uvfio_mig_state *st)
{
    struct uvfio_client *c = rig_connect(sock);
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = uvfio_client_mig_get_state(c, st);
    uvfio_client_close(c);
    return ret;
}

static int read_stream(struct uvfio_client *c, uint8_t **img, size_t *len)
{
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap), *nb;
    ssize_t r;

    while (buf) {
        r = uvfio_client_mig_read(c, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        n += (size_t)r;
        if (n < cap)
            break;
        nb = realloc(buf, cap * 2);
        if (!nb)
            break;
        buf = nb;
        cap *= 2;
    }
    if (!buf || n == cap) {
        free(buf);
        return -ENOMEM;
    }
    *img = buf;
    *len = n;
    return 0;
}

int rig_snapshot(const char *sock, uint8_t **img, size_t *len)
{
    struct uvfio_client *c = rig_connect(sock);
    enum uvfio_mig_state st;
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = uvfio_client_mig_get_state(c, &st);
    if (!ret && st != UVFIO_MIG_STATE_RUNNING)
        ret = -EBUSY;
    if (!ret)
        ret = uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_STOP_COPY);
    if (!ret) {
        ret = read_stream(c, img, len);
        /* back to RUNNING whatever happened to the read */
        if (uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING) && !ret) {
            free(*img);
            ret = -EIO;
        }
    }
    uvfio_client_close(c);
    return ret;
}

/* ---- playing the guest --------------------------------------------------- */

static int reg_read(struct uvfio_client *c, unsigned int reg, uint8_t *v)
{
    return uvfio_client_region_read(c, BAR0, reg, v, 1) == 1 ? 0 : -EIO;
}

static int reg_write(struct uvfio_client *c, unsigned int reg, uint8_t v)
{
    return uvfio_client_region_write(c, BAR0, reg, &v, 1) == 1 ? 0 : -EIO;
}

static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
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
    if (n != life->rx_len || memcmp(got, life->rx, n)) {
        fprintf(stderr, "RX FIFO: %zu bytes, expected %zu:", n,
                life->rx_len);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %02x%s", got[i], i < life->rx_len &&
                    got[i] == life->rx[i] ? "" : "!");
        fprintf(stderr, "\n");
        return -EBADMSG;
    }
    life->rx_len = 0;
    return 0;
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

static int program(struct uvfio_client *c, uint32_t *rnd)
{
    uint16_t div = (uint16_t)(1 + next_rand(rnd) % MAX_DIVISOR);
    uint8_t lcr = 0x03 | (next_rand(rnd) & 0x04);   /* 8 bits, 1 or 2 stop */
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
        ret = reg_write(c, FCR, (uint8_t)(0x01 | (1 + next_rand(rnd) % 3)
                                                  << 6));
    if (!ret)
        ret = reg_write(c, MCR, (uint8_t)(next_rand(rnd) & 0x0f));
    if (!ret)
        ret = reg_write(c, SCR, (uint8_t)next_rand(rnd));
    if (!ret)
        ret = reg_write(c, IER, (uint8_t)((next_rand(rnd) & 0x0f) |
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
    size_t n = 1 + next_rand(rnd) % FEED_MAX;
    int pending = 1, ret;
    uint8_t lsr = 0, iir = 0;

    for (size_t i = 0; i < n; i++)
        life->rx[i] = (uint8_t)next_rand(rnd);
    if (write(s->in_fd, life->rx, n) != (ssize_t)n)
        return -EIO;
    life->rx_len = n;
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

int rig_personalize(struct server *s, struct life *life, uint32_t seed)
{
    struct uvfio_client *c = rig_connect(s->sock);
    uint32_t rnd = seed | 1;
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = enable_io(c);
    if (!ret)
        ret = drain_rx(c, life);
    if (!ret)
        ret = program(c, &rnd);
    if (!ret)
        ret = feed_rx(s, c, life, &rnd);
    uvfio_client_close(c);
    if (ret)
        return ret;
    life_clear(life);
    return rig_snapshot(s->sock, &life->image, &life->image_len);
}

void life_clear(struct life *life)
{
    free(life->image);
    life->image = NULL;
    life->image_len = 0;
}
