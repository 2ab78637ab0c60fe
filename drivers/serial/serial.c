// SPDX-License-Identifier: MIT
/*
 * serial/serial.c - glue between the UART model, the PCI model and the
 * chardev: BAR0 accesses become register accesses, the UART's interrupt
 * output becomes the INTx level, its character timer a timerfd, and its
 * line the chardev, with flow control both ways:
 *
 *  - input is read from the chardev only as far as the RX FIFO has room,
 *    and not watched at all while it is full, so a guest that stops
 *    reading stalls the sender instead of losing bytes;
 *  - output the chardev does not take stays in the TX FIFO (THRE clear)
 *    until the chardev is writable again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uvfio/pci.h>

#include "migration.h"
#include "serial.h"

struct serial {
    struct uvfio_device *dev;
    struct uvfio_pci *pci;
    struct chardev *cd;
    struct uart uart;
    struct serial_mig mig;          /* migration.c */
    int timer_fd;
    bool input_over;            /* chardev input ended or failed */
    /* what is registered with uvfio_device_watch_fd right now */
    struct serial_watch {
        int fd;
        uint32_t events;
    } in_watch, out_watch;
};

/* ---- UART outputs --------------------------------------------------------- */

static size_t serial_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct serial *s = opaque;

    /* a closed line pushes back: the bytes wait in the TX FIFO */
    if (!serial_mig_line_open(&s->mig))
        return 0;
    return chardev_write(s->cd, buf, len);
}

static void serial_set_irq(void *opaque, bool level)
{
    struct serial *s = opaque;

    uvfio_pci_set_intx(s->pci, level);
}

static void serial_set_timer(void *opaque, uint64_t ns)
{
    struct serial *s = opaque;
    struct itimerspec its = {
        .it_value = {
            .tv_sec = (time_t)(ns / 1000000000u),
            .tv_nsec = (long)(ns % 1000000000u),
        },
    };

    timerfd_settime(s->timer_fd, 0, &its, NULL);
}

static const struct uart_ops serial_uart_ops = {
    .tx = serial_tx,
    .set_irq = serial_set_irq,
    .set_timer = serial_set_timer,
};

/* ---- event sources -------------------------------------------------------- */

static void serial_fd_ready(struct uvfio_device *dev, int fd, uint32_t revents,
                            void *opaque);

/*
 * Make `w` watch exactly (fd, events).  The fd is remembered rather than
 * asked from the chardev each time: a chardev whose output broke reports
 * no fd any more, and its old registration must still go, or a hung-up
 * fd would wake the loop forever.
 */
static int watch_set(struct serial *s, struct serial_watch *w, int fd,
                     uint32_t events)
{
    int ret;

    if (!events)
        fd = -1;
    if (w->fd == fd && w->events == events)
        return 0;
    if (w->fd >= 0)
        uvfio_device_unwatch_fd(s->dev, w->fd);
    w->fd = -1;
    w->events = 0;
    if (fd < 0)
        return 0;
    ret = uvfio_device_watch_fd(s->dev, fd, events, serial_fd_ready, s);
    if (!ret) {
        w->fd = fd;
        w->events = events;
    }
    return ret;
}

/* Watch the chardev for exactly what the UART can use right now. */
static void serial_sync_watches(struct serial *s)
{
    int in_fd = chardev_in_fd(s->cd);
    int out_fd = chardev_out_fd(s->cd);
    uint32_t in = 0, out = 0;

    if (in_fd >= 0 && !s->input_over && uart_rx_room(&s->uart))
        in = EPOLLIN;
    if (out_fd >= 0 && s->uart.st.tx_count)
        out = EPOLLOUT;
    /* migration holds the line still: nothing to wait for */
    if (!serial_mig_line_open(&s->mig))
        in = out = 0;
    /* one fd both ways (pty, single FIFO): one registration */
    if (in_fd >= 0 && in_fd == out_fd) {
        watch_set(s, &s->out_watch, -1, 0);
        watch_set(s, &s->in_watch, in_fd, in | out);
        return;
    }
    if (watch_set(s, &s->in_watch, in_fd, in) == -EPERM)
        s->input_over = true;
    watch_set(s, &s->out_watch, out_fd, out);
}

static void serial_rx(struct serial *s, uint32_t revents)
{
    uint8_t buf[UART_FIFO_SIZE];
    size_t room = uart_rx_room(&s->uart);
    ssize_t n;

    if (room > sizeof(buf))
        room = sizeof(buf);
    if (!room)
        return;
    n = chardev_read(s->cd, buf, room);
    if (n > 0) {
        uart_rx_push(&s->uart, buf, (size_t)n);
        return;
    }
    /* end of input, an error, or a hang-up with nothing to read (which
     * would wake us forever): stop listening */
    if (n != -EAGAIN || (revents & (EPOLLHUP | EPOLLERR)))
        s->input_over = true;
}

static void serial_timer_expired(struct serial *s)
{
    uint64_t ticks;

    if (read(s->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
        uart_timeout(&s->uart);
}

static void serial_fd_ready(struct uvfio_device *dev, int fd, uint32_t revents,
                            void *opaque)
{
    struct serial *s = opaque;

    (void)dev;
    if (fd == s->timer_fd) {
        serial_timer_expired(s);
    } else {
        if (fd == chardev_in_fd(s->cd) &&
            (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            serial_rx(s, revents);
        if (fd == chardev_out_fd(s->cd) && (revents & (EPOLLOUT | EPOLLERR)))
            uart_tx_kick(&s->uart);
    }
    serial_sync_watches(s);
}

/* ---- device ops ------------------------------------------------------------ */

/* Multi-byte accesses are split into byte accesses in address order, as
 * a bus bridge does for a chip with 8-bit registers. */
static ssize_t serial_read(struct uvfio_device *dev, uint32_t index,
                           uint64_t offset, void *buf, size_t count)
{
    struct serial *s = uvfio_device_priv(dev);
    uint8_t *p = buf;

    if (index != UVFIO_PCI_BAR0_REGION || offset >= SERIAL_BAR_SIZE ||
        count > SERIAL_BAR_SIZE - offset)
        return -EINVAL;
    for (size_t i = 0; i < count; i++)
        p[i] = uart_read(&s->uart, (unsigned int)offset + i);
    serial_sync_watches(s);
    return (ssize_t)count;
}

static ssize_t serial_write(struct uvfio_device *dev, uint32_t index,
                            uint64_t offset, const void *buf, size_t count)
{
    struct serial *s = uvfio_device_priv(dev);
    const uint8_t *p = buf;

    if (index != UVFIO_PCI_BAR0_REGION || offset >= SERIAL_BAR_SIZE ||
        count > SERIAL_BAR_SIZE - offset)
        return -EINVAL;
    for (size_t i = 0; i < count; i++)
        uart_write(&s->uart, (unsigned int)offset + i, p[i]);
    serial_sync_watches(s);
    return (ssize_t)count;
}

static int serial_reset(struct uvfio_device *dev)
{
    struct serial *s = uvfio_device_priv(dev);

    uart_reset(&s->uart);
    serial_sync_watches(s);
    return 0;
}

static const struct uvfio_device_ops serial_ops = {
    .name = "uvfio-serial",
    .read = serial_read,
    .write = serial_write,
    .reset = serial_reset,
};

/* ---- life cycle ------------------------------------------------------------ */

static int serial_pci_setup(struct serial *s)
{
    const struct uvfio_pci_config pc = {
        .vendor_id = SERIAL_VENDOR_ID,
        .device_id = SERIAL_DEVICE_ID,
        .subsys_vendor_id = SERIAL_SUBSYS_VENDOR_ID,
        .subsys_id = SERIAL_SUBSYS_ID,
        .revision = SERIAL_REVISION,
        .class_code = SERIAL_CLASS_CODE,
        .intx_pin = 1,
    };
    int ret;

    ret = uvfio_pci_attach(s->dev, &pc, &s->pci);
    if (ret)
        return ret;
    /* QEMU's layout exactly: one I/O BAR, no capabilities, no MSI. */
    return uvfio_pci_add_bar(s->pci, 0, SERIAL_BAR_SIZE, UVFIO_PCI_BAR_IO,
                             NULL);
}

static int serial_device_setup(struct serial *s)
{
    const struct uvfio_device_config dc = {
        .name = "uvfio-serial",
        .ops = &serial_ops,
        .num_regions = UVFIO_PCI_NUM_REGIONS,
        .num_irqs = UVFIO_PCI_NUM_IRQS,
        .pci = true,
        .mig_ops = &serial_mig_ops,
        .migration_flags = SERIAL_MIG_FLAGS,
        .priv = s,
    };
    int ret;

    ret = uvfio_device_create(&dc, &s->dev);
    if (ret)
        return ret;
    ret = serial_pci_setup(s);
    if (ret)
        return ret;
    return uvfio_device_watch_fd(s->dev, s->timer_fd, EPOLLIN,
                                 serial_fd_ready, s);
}

int serial_create(struct chardev *cd, struct serial **out)
{
    struct serial *s = calloc(1, sizeof(*s));
    int ret;

    if (!s) {
        chardev_close(cd);
        return -ENOMEM;
    }
    s->cd = cd;
    serial_mig_init(&s->mig, s, &s->uart, serial_sync_watches);
    s->in_watch.fd = -1;
    s->out_watch.fd = -1;
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->timer_fd < 0) {
        ret = -errno;
        goto fail;
    }
    ret = serial_device_setup(s);
    if (ret)
        goto fail;
    uart_init(&s->uart, &serial_uart_ops, s);
    serial_sync_watches(s);
    *out = s;
    return 0;
fail:
    serial_destroy(s);
    return ret;
}

void serial_destroy(struct serial *s)
{
    if (!s)
        return;
    if (s->dev)
        uvfio_device_destroy(s->dev);
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    serial_mig_clear(&s->mig);
    chardev_close(s->cd);
    free(s);
}

struct uvfio_device *serial_device(struct serial *s)
{
    return s->dev;
}

struct uart *serial_uart(struct serial *s)
{
    return &s->uart;
}

struct serial_mig *serial_mig(struct serial *s)
{
    return &s->mig;
}
