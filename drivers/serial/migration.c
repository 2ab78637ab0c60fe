// SPDX-License-Identifier: MIT
/*
 * serial/migration.c - uvfio-serial's live migration: STOP_COPY, P2P and
 * PRE_COPY.
 *
 * The stream is a sequence of records run by the core's record helper
 * (uvfio_mig_records: each record one framed image with magic, version,
 * length and CRC-32, cut, handed out, received, ordered and applied by the
 * helper).  This file says what a record holds - a payload opening with a
 * small record header naming its kind - and keeps the line:
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

static struct serial_mig *mig_of(struct uvfio_device *dev)
{
    return serial_mig(uvfio_device_priv(dev));
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

/* ---- the records: what they hold ----------------------------------------- */

static void *rec_new(uint8_t kind, size_t len, uint32_t pci_len)
{
    struct serial_rec_hdr h = {
        .kind = kind, .uart_version = UART_STATE_VERSION, .pci_len = pci_len,
    };
    uint8_t *p = malloc(len);

    if (p)
        memcpy(p, &h, sizeof(h));
    return p;
}

static int build_config(const struct uart_state *st, void **out, size_t *len)
{
    struct serial_rec_config c = {
        .lcr = st->lcr, .dll = st->dll, .dlm = st->dlm, .ier = st->ier,
        .fcr = st->fcr, .mcr = st->mcr, .scr = st->scr,
    };
    uint8_t *p = rec_new(SERIAL_REC_CONFIG, REC_CONFIG_LEN, 0);

    if (!p)
        return -ENOMEM;
    memcpy(p + sizeof(struct serial_rec_hdr), &c, sizeof(c));
    *out = p;
    *len = REC_CONFIG_LEN;
    return 0;
}

static int build_state(const struct uart_state *st, void **out, size_t *len)
{
    uint8_t *p = rec_new(SERIAL_REC_STATE, REC_STATE_LEN, 0);

    if (!p)
        return -ENOMEM;
    memcpy(p + sizeof(struct serial_rec_hdr), st, sizeof(*st));
    *out = p;
    *len = REC_STATE_LEN;
    return 0;
}

static size_t serial_final_len(struct uvfio_device *dev)
{
    return REC_STATE_LEN + uvfio_pci_state_size(uvfio_pci_of(dev));
}

/* uart_state and the PCI model's blob, cut while the device is stopped. */
static int build_final(struct uvfio_device *dev, const struct uart_state *st,
                       void **out, size_t *len)
{
    struct uvfio_pci *pci = uvfio_pci_of(dev);
    size_t pci_len = uvfio_pci_state_size(pci), n = serial_final_len(dev);
    uint8_t *p = rec_new(SERIAL_REC_FINAL, n, (uint32_t)pci_len);
    ssize_t got;

    if (!p)
        return -ENOMEM;
    memcpy(p + sizeof(struct serial_rec_hdr), st, sizeof(*st));
    got = uvfio_pci_save_state(pci, p + REC_STATE_LEN, pci_len);
    if (got < 0 || (size_t)got != pci_len) {
        free(p);
        return got < 0 ? (int)got : -EIO;
    }
    *out = p;
    *len = n;
    return 0;
}

static int serial_build(struct uvfio_device *dev, enum uvfio_mig_rec_kind kind,
                        void **payload, size_t *len)
{
    const struct uart_state *st = &mig_of(dev)->uart->st;

    switch (kind) {
    case UVFIO_MIG_REC_CONFIG:
        return build_config(st, payload, len);
    case UVFIO_MIG_REC_STATE:
        return build_state(st, payload, len);
    case UVFIO_MIG_REC_FINAL:
        return build_final(dev, st, payload, len);
    }
    return -EINVAL;
}

/* ---- the records: judging a received one --------------------------------- */

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

/* The header and then the body its kind says; the helper checks the
 * order of the kinds. */
static int serial_check(struct uvfio_device *dev, const void *payload,
                        size_t len, enum uvfio_mig_rec_kind *kind)
{
    size_t pci_len = uvfio_pci_state_size(uvfio_pci_of(dev));
    const uint8_t *p = payload;
    struct serial_rec_hdr h;
    int ret;

    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, p, sizeof(h));
    if (h.uart_version != UART_STATE_VERSION || h.reserved)
        return -EINVAL;
    if (h.pci_len != (h.kind == SERIAL_REC_FINAL ? pci_len : 0))
        return -EINVAL;
    switch (h.kind) {
    case SERIAL_REC_CONFIG:
        ret = check_config(p, len);
        break;
    case SERIAL_REC_STATE:
        ret = check_state(p, len, REC_STATE_LEN);
        break;
    case SERIAL_REC_FINAL:
        ret = check_state(p, len, REC_STATE_LEN + pci_len);
        break;
    default:
        return -EINVAL;
    }
    if (!ret)
        *kind = (enum uvfio_mig_rec_kind)h.kind;
    return ret;
}

/*
 * RESUMING->STOP: everything or nothing.  The UART state was found legal
 * when FINAL arrived; the PCI model checks its blob completely before it
 * changes anything, so it goes first, and is put back should the UART
 * still refuse.
 */
static int serial_apply(struct uvfio_device *dev, const void *payload,
                        size_t len)
{
    const uint8_t *p = (const uint8_t *)payload + REC_STATE_LEN;
    struct uvfio_pci *pci = uvfio_pci_of(dev);
    size_t pci_len = len - REC_STATE_LEN;
    struct uart_state st;
    uint8_t *old;
    ssize_t n;
    int ret;

    old = malloc(pci_len ? pci_len : 1);
    if (!old)
        return -ENOMEM;
    n = uvfio_pci_save_state(pci, old, pci_len);
    ret = n < 0 ? (int)n : 0;
    if (!ret)
        ret = uvfio_pci_load_state(pci, p, pci_len);
    if (!ret) {
        memcpy(&st, (const uint8_t *)payload + sizeof(struct serial_rec_hdr),
               sizeof(st));
        ret = uart_state_load(mig_of(dev)->uart, &st);
        if (ret)
            uvfio_pci_load_state(pci, old, pci_len);
    }
    free(old);
    return ret;
}

_Static_assert(SERIAL_REC_CONFIG == (int)UVFIO_MIG_REC_CONFIG &&
               SERIAL_REC_STATE == (int)UVFIO_MIG_REC_STATE &&
               SERIAL_REC_FINAL == (int)UVFIO_MIG_REC_FINAL,
               "serial's record kinds are the helper's");

/* STATE is the dirty data: only a UART that changed since CONFIG (or the
 * last STATE) sends one. */
static const struct uvfio_mig_records_ops serial_records_ops = {
    .magic = SERIAL_MIG_MAGIC,
    .version = SERIAL_MIG_VERSION,
    .state_since_config = true,
    .final_len = serial_final_len,
    .build = serial_build,
    .check = serial_check,
    .apply = serial_apply,
};

void serial_mig_init(struct serial_mig *m, struct serial *s, struct uart *u,
                     void (*resync)(struct serial *s))
{
    memset(m, 0, sizeof(*m));
    m->serial = s;
    m->uart = u;
    m->resync = resync;
    m->line_open = true;
    uvfio_mig_records_init(&m->rec, &serial_records_ops);
}

bool serial_mig_line_open(const struct serial_mig *m)
{
    return m->line_open;
}

/* ---- the stream ops: the core's helper ------------------------------------- */

static ssize_t serial_save_read(struct uvfio_device *dev, void *buf,
                                size_t len)
{
    return uvfio_mig_records_save_read(&mig_of(dev)->rec, dev, buf, len);
}

static int serial_precopy_info(struct uvfio_device *dev,
                               uint64_t *initial_bytes, uint64_t *dirty_bytes)
{
    return uvfio_mig_records_precopy_info(&mig_of(dev)->rec, dev,
                                          initial_bytes, dirty_bytes);
}

static int serial_data_size(struct uvfio_device *dev, uint64_t *len)
{
    return uvfio_mig_records_data_size(&mig_of(dev)->rec, dev, len);
}

static int serial_resume_write(struct uvfio_device *dev, const void *buf,
                               size_t len)
{
    return uvfio_mig_records_resume_write(&mig_of(dev)->rec, dev, buf, len);
}

/* ---- arcs ---------------------------------------------------------------- */

static int serial_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                      enum uvfio_mig_state to)
{
    struct serial_mig *m = mig_of(dev);
    int ret;

    /* the line follows once the stream work succeeded */
    ret = uvfio_mig_records_arc(&m->rec, dev, from, to);
    if (ret)
        return ret;
    line_enter(m, to);
    return 0;
}

static void serial_stream_abort(struct uvfio_device *dev)
{
    uvfio_mig_records_clear(&mig_of(dev)->rec);
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
    uvfio_mig_records_clear(&m->rec);
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
