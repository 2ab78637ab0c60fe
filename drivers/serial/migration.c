// SPDX-License-Identifier: MIT
/*
 * serial/migration.c - uvfio-serial's live migration: STOP_COPY, P2P and
 * PRE_COPY.
 *
 * The stream is a sequence of records, each one framed image of the core's
 * helper (magic, version, length, CRC-32), whose payload starts with a
 * small record header naming its kind:
 *
 *   CONFIG  the registers that define the line (LCR, divisor, IER, FCR,
 *           MCR, SCR): the initial precopy data, read while the guest
 *           runs, so a destination that cannot take this line refuses it
 *           before the source stops;
 *   STATE   the whole struct uart_state (registers, both FIFOs, latched
 *           interrupts), sent in PRE_COPY whenever it changed since the
 *           last record: the dirty data;
 *   FINAL   struct uart_state and the PCI model's blob (config space:
 *           BAR, command register, INTx state), cut when the device
 *           stopped.  The only record that is applied.
 *
 * A stream is [CONFIG STATE*] FINAL: a precopy stream opens with CONFIG,
 * a STOP->STOP_COPY stream is FINAL alone.  The destination checks every
 * record as soon as it is complete (frame, kind, order, sizes, legal
 * register values) and keeps only FINAL; RESUMING->STOP applies it whole
 * or not at all.
 *
 * No byte is lost: received bytes still in the RX FIFO and transmitted
 * bytes still in the TX FIFO are part of uart_state, hence of FINAL.  What
 * the chardev already took is gone from the device and must not be sent
 * again, so the line is closed whenever the device must hold still:
 *
 *   RUNNING, PRE_COPY             line open, character timer running;
 *   RUNNING_P2P, PRE_COPY_P2P     line closed both ways - a UART's way of
 *                                 "not initiating": no input is pulled
 *                                 from the chardev, no output pushed to it
 *                                 (THR writes queue in the TX FIFO); the
 *                                 registers still answer, the timer runs;
 *   STOP, STOP_COPY, RESUMING     line closed and the character timer held,
 *                                 so nothing changes the state at all.
 *
 * Register accesses by the client in a stopped state still reach the
 * model; the uapi leaves such misuse to the user (semantics §7.2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/pci.h>

#include "migration.h"
#include "serial.h"

#define REC_CONFIG_LEN  (sizeof(struct serial_rec_hdr) + \
                         sizeof(struct serial_rec_config))
#define REC_STATE_LEN   (sizeof(struct serial_rec_hdr) + \
                         sizeof(struct uart_state))
#define REC_HDR(k)      { .kind = (k), .uart_version = UART_STATE_VERSION }

static struct serial_mig *mig_of(struct uvfio_device *dev)
{
    return serial_mig(uvfio_device_priv(dev));
}

void serial_mig_init(struct serial_mig *m, struct serial *s, struct uart *u,
                     void (*resync)(struct serial *s))
{
    memset(m, 0, sizeof(*m));
    m->serial = s;
    m->uart = u;
    m->resync = resync;
    m->line_open = true;
}

bool serial_mig_line_open(const struct serial_mig *m)
{
    return m->line_open;
}

/* ---- the line ------------------------------------------------------------ */

static bool state_is_stopped(enum uvfio_mig_state s)
{
    return s == UVFIO_MIG_STATE_STOP || s == UVFIO_MIG_STATE_STOP_COPY ||
           s == UVFIO_MIG_STATE_RESUMING || s == UVFIO_MIG_STATE_ERROR;
}

static void timer_hold(struct serial_mig *m)
{
    /* timer_armed stays set in the state: whoever runs it next re-arms */
    m->uart->ops->set_timer(m->uart->opaque, 0);
}

/* Re-install the state as it is: uart_state_load re-arms the character
 * timer when the state says it is counting. */
static void timer_release(struct serial_mig *m)
{
    struct uart_state st = m->uart->st;

    uart_state_load(m->uart, &st);
}

/* Open or close the line and hold or release the timer for state `s`. */
static void line_enter(struct serial_mig *m, enum uvfio_mig_state s)
{
    bool stopped = state_is_stopped(s);

    if (stopped)
        timer_hold(m);
    else if (m->frozen)
        timer_release(m);
    m->frozen = stopped;
    m->line_open = s == UVFIO_MIG_STATE_RUNNING ||
                   s == UVFIO_MIG_STATE_PRE_COPY;
    /* output that waited while the line was closed goes now */
    if (m->line_open)
        uart_tx_kick(m->uart);
    m->resync(m->serial);
}

/* ---- saving -------------------------------------------------------------- */

static int save_config(struct serial_mig *m)
{
    const struct uart_state *st = &m->uart->st;
    struct {
        struct serial_rec_hdr h;
        struct serial_rec_config c;
    } __attribute__((packed)) rec = {
        .h = REC_HDR(SERIAL_REC_CONFIG),
        .c = { .lcr = st->lcr, .dll = st->dll, .dlm = st->dlm,
               .ier = st->ier, .fcr = st->fcr, .mcr = st->mcr,
               .scr = st->scr },
    };

    return uvfio_mig_image_save(&m->out, SERIAL_MIG_MAGIC, SERIAL_MIG_VERSION,
                                &rec, sizeof(rec));
}

static int save_state(struct serial_mig *m)
{
    struct {
        struct serial_rec_hdr h;
        struct uart_state st;
    } __attribute__((packed)) rec = {
        .h = REC_HDR(SERIAL_REC_STATE),
        .st = m->uart->st,
    };

    m->sent = m->uart->st;
    return uvfio_mig_image_save(&m->out, SERIAL_MIG_MAGIC, SERIAL_MIG_VERSION,
                                &rec, sizeof(rec));
}

static size_t final_len(struct uvfio_device *dev)
{
    return REC_STATE_LEN + uvfio_pci_state_size(uvfio_pci_of(dev));
}

/* The FINAL record into `img`. */
static int save_final(struct uvfio_device *dev, struct serial_mig *m,
                      struct uvfio_mig_image *img)
{
    struct uvfio_pci *pci = uvfio_pci_of(dev);
    size_t pci_len = uvfio_pci_state_size(pci), len = final_len(dev);
    struct serial_rec_hdr h = {
        .kind = SERIAL_REC_FINAL, .uart_version = UART_STATE_VERSION,
        .pci_len = (uint32_t)pci_len,
    };
    uint8_t *buf = malloc(len);
    ssize_t n;
    int ret;

    if (!buf)
        return -ENOMEM;
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), &m->uart->st, sizeof(m->uart->st));
    n = uvfio_pci_save_state(pci, buf + REC_STATE_LEN, pci_len);
    if (n < 0 || (size_t)n != pci_len)
        ret = n < 0 ? (int)n : -EIO;
    else
        ret = uvfio_mig_image_save(img, SERIAL_MIG_MAGIC, SERIAL_MIG_VERSION,
                                   buf, len);
    free(buf);
    return ret;
}

static void saving_drop(struct serial_mig *m)
{
    uvfio_mig_image_clear(&m->out);
    uvfio_mig_image_clear(&m->out_next);
    m->out_initial = false;
    m->precopy = false;
}

static int precopy_start(struct serial_mig *m)
{
    int ret;

    saving_drop(m);
    ret = save_config(m);
    if (ret)
        return ret;
    /* dirty is measured against the state the initial data was cut from */
    m->sent = m->uart->st;
    m->out_initial = true;
    m->precopy = true;
    return 0;
}

/* Into STOP_COPY: the final record follows whatever record is half read,
 * since the stream cannot drop bytes it has started to hand out. */
static int final_start(struct uvfio_device *dev, struct serial_mig *m)
{
    struct uvfio_mig_image *img = &m->out;
    int ret;

    if (uvfio_mig_image_remaining(&m->out))
        img = &m->out_next;
    ret = save_final(dev, m, img);
    if (ret)
        return ret;
    if (img == &m->out)
        m->out_initial = false;
    m->precopy = false;
    return 0;
}

static bool state_dirty(const struct serial_mig *m)
{
    return memcmp(&m->sent, &m->uart->st, sizeof(m->sent)) != 0;
}

/* `out` is used up: what goes next, if anything. */
static int saving_next(struct serial_mig *m)
{
    m->out_initial = false;
    if (m->out_next.buf_) {
        uvfio_mig_image_clear(&m->out);
        m->out = m->out_next;
        memset(&m->out_next, 0, sizeof(m->out_next));
        return 0;
    }
    if (m->precopy && state_dirty(m))
        return save_state(m);
    return 0;
}

static ssize_t serial_save_read(struct uvfio_device *dev, void *buf,
                                size_t len)
{
    struct serial_mig *m = mig_of(dev);
    int ret;

    if (!uvfio_mig_image_remaining(&m->out)) {
        ret = saving_next(m);
        if (ret)
            return ret;
    }
    return uvfio_mig_image_read(&m->out, buf, len);
}

static int serial_precopy_info(struct uvfio_device *dev,
                               uint64_t *initial_bytes, uint64_t *dirty_bytes)
{
    struct serial_mig *m = mig_of(dev);
    size_t left = uvfio_mig_image_remaining(&m->out);

    *initial_bytes = m->out_initial ? left : 0;
    *dirty_bytes = m->out_initial ? 0 : left;
    if (state_dirty(m))
        *dirty_bytes += uvfio_mig_image_size(REC_STATE_LEN);
    return 0;
}

static int serial_data_size(struct uvfio_device *dev, uint64_t *len)
{
    struct serial_mig *m = mig_of(dev);
    uint64_t n = uvfio_mig_image_remaining(&m->out);

    if (m->out_next.buf_)
        n += uvfio_mig_image_remaining(&m->out_next);
    else if (uvfio_mig_state(dev) != UVFIO_MIG_STATE_STOP_COPY)
        n += uvfio_mig_image_size(final_len(dev));
    *len = n;
    return 0;
}

/* ---- resuming ------------------------------------------------------------ */

static size_t scratch_tx(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    return len;
}

static void scratch_set_irq(void *opaque, bool level)
{
    (void)opaque;
    (void)level;
}

static void scratch_set_timer(void *opaque, uint64_t ns)
{
    (void)opaque;
    (void)ns;
}

static const struct uart_ops scratch_ops = {
    .tx = scratch_tx, .set_irq = scratch_set_irq,
    .set_timer = scratch_set_timer,
};

/* Whether the model accepts `st`, asked of a scratch UART wired to
 * nothing, so the device's own one is not touched by a refusal. */
static bool uart_state_legal(const struct uart_state *st)
{
    struct uart scratch;

    uart_init(&scratch, &scratch_ops, NULL);
    return uart_state_load(&scratch, st) == 0;
}

static bool config_legal(const struct serial_rec_config *c)
{
    uint8_t fifo_bits = UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG;

    if ((c->ier & ~UART_IER_MASK) || (c->mcr & ~UART_MCR_MASK) ||
        c->reserved)
        return false;
    if (c->fcr & ~fifo_bits)
        return false;
    /* without the FIFO enable the model keeps no FCR bits */
    return (c->fcr & UART_FCR_ENABLE) || !c->fcr;
}

static int check_config(const uint8_t *p, size_t len)
{
    struct serial_rec_config c;

    if (len != REC_CONFIG_LEN)
        return -EINVAL;
    memcpy(&c, p + sizeof(struct serial_rec_hdr), sizeof(c));
    return config_legal(&c) ? 0 : -EINVAL;
}

static int check_state(const uint8_t *p, size_t len, size_t want)
{
    struct uart_state st;

    if (len != want)
        return -EINVAL;
    memcpy(&st, p + sizeof(struct serial_rec_hdr), sizeof(st));
    return uart_state_legal(&st) ? 0 : -EINVAL;
}

/* The stream grammar: CONFIG only first, STATE only after CONFIG,
 * FINAL once (nothing may follow it: see resume_write). */
static int check_order(const struct serial_mig *m, uint8_t kind)
{
    switch (kind) {
    case SERIAL_REC_CONFIG:
        return m->in_records == 0 ? 0 : -EINVAL;
    case SERIAL_REC_STATE:
        return m->in_config_seen ? 0 : -EINVAL;
    case SERIAL_REC_FINAL:
        return 0;
    default:
        return -EINVAL;
    }
}

static int keep_final(struct serial_mig *m, const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len - sizeof(struct serial_rec_hdr));

    if (!copy)
        return -ENOMEM;
    memcpy(copy, p + sizeof(struct serial_rec_hdr),
           len - sizeof(struct serial_rec_hdr));
    m->final = copy;
    m->final_len = len - sizeof(struct serial_rec_hdr);
    return 0;
}

/* A record is complete: judge it now, keep it only if it is FINAL. */
static int record_done(struct uvfio_device *dev, struct serial_mig *m)
{
    size_t pci_len = uvfio_pci_state_size(uvfio_pci_of(dev));
    struct serial_rec_hdr h;
    const void *payload;
    const uint8_t *p;
    size_t len;
    int ret;

    ret = uvfio_mig_image_load_end(&m->in, &payload, &len, NULL);
    if (ret)
        return ret;
    p = payload;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, p, sizeof(h));
    if (h.uart_version != UART_STATE_VERSION || h.reserved)
        return -EINVAL;
    ret = check_order(m, h.kind);
    if (ret)
        return ret;
    if (h.kind != SERIAL_REC_FINAL && h.pci_len)
        return -EINVAL;

    switch (h.kind) {
    case SERIAL_REC_CONFIG:
        ret = check_config(p, len);
        m->in_config_seen = !ret;
        break;
    case SERIAL_REC_STATE:
        ret = check_state(p, len, REC_STATE_LEN);
        break;
    default:
        if (h.pci_len != pci_len)
            return -EINVAL;
        ret = check_state(p, len, REC_STATE_LEN + pci_len);
        if (!ret)
            ret = keep_final(m, p, len);
        break;
    }
    if (ret)
        return ret;
    m->in_records++;
    uvfio_mig_image_clear(&m->in);
    m->in_active = false;
    return 0;
}

static void resuming_drop(struct serial_mig *m)
{
    uvfio_mig_image_clear(&m->in);
    m->in_active = false;
    m->in_records = 0;
    m->in_config_seen = false;
    free(m->final);
    m->final = NULL;
    m->final_len = 0;
}

static int serial_resume_write(struct uvfio_device *dev, const void *buf,
                               size_t len)
{
    struct serial_mig *m = mig_of(dev);
    size_t max = final_len(dev);
    const uint8_t *p = buf;
    size_t n;
    int ret;

    while (len) {
        /* FINAL is the last record: bytes after it are an overrun */
        if (m->final)
            return -EFBIG;
        if (!m->in_active) {
            ret = uvfio_mig_image_load_begin(&m->in, SERIAL_MIG_MAGIC,
                                             SERIAL_MIG_VERSION, max);
            if (ret)
                return ret;
            m->in_active = true;
        }
        n = uvfio_mig_image_needed(&m->in);
        if (!n)
            return -EINVAL;
        if (n > len)
            n = len;
        ret = uvfio_mig_image_write(&m->in, p, n);
        if (ret)
            return ret;
        p += n;
        len -= n;
        if (!uvfio_mig_image_needed(&m->in)) {
            ret = record_done(dev, m);
            if (ret)
                return ret;
        }
    }
    return 0;
}

/*
 * RESUMING->STOP: everything or nothing.  The UART state was found legal
 * when FINAL arrived; the PCI model checks its blob completely before it
 * changes anything, so it goes first, and is put back should the UART
 * still refuse.
 */
static int resume_apply(struct uvfio_device *dev, struct serial_mig *m)
{
    struct uvfio_pci *pci = uvfio_pci_of(dev);
    size_t pci_len = m->final_len - sizeof(struct uart_state);
    struct uart_state st;
    uint8_t *old;
    ssize_t n;
    int ret;

    if (m->in_active || !m->final)
        return -EINVAL;         /* truncated stream */
    old = malloc(pci_len);
    if (!old)
        return -ENOMEM;
    n = uvfio_pci_save_state(pci, old, pci_len);
    ret = n < 0 ? (int)n : 0;
    if (!ret)
        ret = uvfio_pci_load_state(pci, m->final + sizeof(st), pci_len);
    if (!ret) {
        memcpy(&st, m->final, sizeof(st));
        ret = uart_state_load(m->uart, &st);
        if (ret)
            uvfio_pci_load_state(pci, old, pci_len);
    }
    free(old);
    return ret;
}

/* ---- arcs ---------------------------------------------------------------- */

/* What the arc does to the streams; the line follows once this worked. */
static int arc_stream(struct uvfio_device *dev, struct serial_mig *m,
                      enum uvfio_mig_state from, enum uvfio_mig_state to)
{
    int ret;

    switch (to) {
    case UVFIO_MIG_STATE_PRE_COPY:
    case UVFIO_MIG_STATE_PRE_COPY_P2P:
        /* PRE_COPY <-> PRE_COPY_P2P keeps the stream going */
        if (from == UVFIO_MIG_STATE_RUNNING ||
            from == UVFIO_MIG_STATE_RUNNING_P2P)
            return precopy_start(m);
        return 0;
    case UVFIO_MIG_STATE_STOP_COPY:
        if (from == UVFIO_MIG_STATE_STOP)
            saving_drop(m);
        return final_start(dev, m);
    case UVFIO_MIG_STATE_RESUMING:
        resuming_drop(m);
        return 0;
    default:
        break;
    }
    if (from == UVFIO_MIG_STATE_RESUMING) {
        ret = resume_apply(dev, m);
        if (ret)
            return ret;
        resuming_drop(m);
    }
    /* leaving the saving group ends the stream */
    saving_drop(m);
    return 0;
}

static int serial_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                      enum uvfio_mig_state to)
{
    struct serial_mig *m = mig_of(dev);
    int ret;

    ret = arc_stream(dev, m, from, to);
    if (ret)
        return ret;
    line_enter(m, to);
    return 0;
}

static void serial_stream_abort(struct uvfio_device *dev)
{
    struct serial_mig *m = mig_of(dev);

    saving_drop(m);
    resuming_drop(m);
}

/* DEVICE_RESET: the core is back in RUNNING; so is the line. */
static void serial_mig_reset(struct uvfio_device *dev)
{
    struct serial_mig *m = mig_of(dev);

    serial_stream_abort(dev);
    line_enter(m, UVFIO_MIG_STATE_RUNNING);
}

void serial_mig_clear(struct serial_mig *m)
{
    saving_drop(m);
    resuming_drop(m);
}

const struct uvfio_migration_ops serial_mig_ops = {
    .arc = serial_arc,
    .save_read = serial_save_read,
    .resume_write = serial_resume_write,
    .get_data_size = serial_data_size,
    .precopy_info = serial_precopy_info,
    .stream_abort = serial_stream_abort,
    .reset = serial_mig_reset,
};
