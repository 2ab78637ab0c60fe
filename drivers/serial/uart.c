// SPDX-License-Identifier: MIT
/*
 * serial/uart.c - the 16550A register model (see uart.h for what is and is
 * not modelled).
 *
 * The interrupt identification is never stored: it is recomputed from the
 * sources (line errors, receive level, timeout, THRE latch, modem deltas)
 * whenever something changes, so it cannot disagree with them, and the
 * level goes out through ops->set_irq only when it actually changes.
 */
#include <errno.h>
#include <string.h>

#include "uart.h"

static const uint8_t rx_trigger_levels[4] = { 1, 4, 8, 14 };

static bool fifo_enabled(const struct uart_state *st)
{
    return st->fcr & UART_FCR_ENABLE;
}

/* Without FIFOs the chip has a single holding register each way. */
static unsigned int fifo_capacity(const struct uart_state *st)
{
    return fifo_enabled(st) ? UART_FIFO_SIZE : 1;
}

static bool loopback(const struct uart_state *st)
{
    return st->mcr & UART_MCR_LOOP;
}

static uint8_t rx_top_index(const struct uart_state *st)
{
    return st->rx_head;
}

static bool rx_fifo_has_error(const struct uart_state *st)
{
    for (unsigned int i = 0; i < st->rx_count; i++)
        if (st->rx_err[(st->rx_head + i) % UART_FIFO_SIZE])
            return true;
    return false;
}

static uint8_t lsr_value(const struct uart_state *st)
{
    uint8_t lsr = st->lsr & UART_LSR_ERRS;

    if (st->rx_count)
        lsr |= UART_LSR_DR;
    if (!st->tx_count)
        lsr |= UART_LSR_THRE | UART_LSR_TEMT;
    if (fifo_enabled(st) && rx_fifo_has_error(st))
        lsr |= UART_LSR_FIFOE;
    return lsr;
}

static bool rx_data_interrupt(const struct uart_state *st)
{
    if (fifo_enabled(st))
        return st->rx_count >= rx_trigger_levels[st->fcr >> 6];
    return st->rx_count > 0;
}

/* Interrupt identification by priority: line status, received data /
 * character timeout, THR empty, modem status. */
static uint8_t iir_id(const struct uart_state *st)
{
    if ((st->ier & UART_IER_RLSI) && (st->lsr & UART_LSR_ERRS))
        return UART_IIR_RLSI;
    if (st->ier & UART_IER_RDI) {
        if (rx_data_interrupt(st))
            return UART_IIR_RDI;
        if (st->timeout_ipending)
            return UART_IIR_CTI;
    }
    if ((st->ier & UART_IER_THRI) && st->thr_ipending)
        return UART_IIR_THRI;
    if ((st->ier & UART_IER_MSI) && (st->msr & UART_MSR_DELTAS))
        return UART_IIR_MSI;
    return UART_IIR_NO_INT;
}

bool uart_irq_pending(const struct uart *u)
{
    return iir_id(&u->st) != UART_IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
    bool level = uart_irq_pending(u);

    if (level == u->irq_level)
        return;
    u->irq_level = level;
    u->ops->set_irq(u->opaque, level);
}

/* ---- character timeout --------------------------------------------------- */

uint64_t uart_char_time_ns(const struct uart_state *st)
{
    uint64_t divisor = (uint64_t)st->dll | (uint64_t)st->dlm << 8;
    unsigned int data_bits = 5 + (st->lcr & UART_LCR_WLEN);
    /* Counted in half bits: 5-bit words with two stop bits use 1.5. */
    unsigned int half_bits = 2 * (1 + data_bits);

    if (st->lcr & UART_LCR_PARITY)
        half_bits += 2;
    if (st->lcr & UART_LCR_STOP)
        half_bits += data_bits == 5 ? 3 : 4;
    else
        half_bits += 2;
    /* A zero divisor is undefined on the chip; run at the fastest rate. */
    if (!divisor)
        divisor = 1;
    return half_bits * 1000000000ull * 16 * divisor / (2ull * UART_CLOCK_HZ);
}

static void timer_start(struct uart *u)
{
    u->st.timer_armed = 1;
    u->ops->set_timer(u->opaque, 4 * uart_char_time_ns(&u->st));
}

static void timer_stop(struct uart *u)
{
    if (!u->st.timer_armed)
        return;
    u->st.timer_armed = 0;
    u->ops->set_timer(u->opaque, 0);
}

void uart_timeout(struct uart *u)
{
    u->st.timer_armed = 0;
    if (fifo_enabled(&u->st) && u->st.rx_count)
        u->st.timeout_ipending = 1;
    update_irq(u);
}

/* ---- receive ------------------------------------------------------------- */

/* The errors of the byte at the top of the FIFO show in the LSR. */
static void reveal_top_errors(struct uart_state *st)
{
    if (st->rx_count)
        st->lsr |= st->rx_err[rx_top_index(st)];
}

static void rx_clear(struct uart *u)
{
    u->st.rx_count = 0;
    u->st.timeout_ipending = 0;
    timer_stop(u);
}

/* One byte off the line.  A full FIFO loses it (overrun); without FIFOs
 * the single holding register is overwritten instead, as on a 16450. */
static void rx_put(struct uart_state *st, uint8_t byte, uint8_t err)
{
    unsigned int idx;

    if (st->rx_count >= fifo_capacity(st)) {
        st->lsr |= UART_LSR_OE;
        if (fifo_enabled(st))
            return;
        st->rx_count = 0;
    }
    idx = (st->rx_head + st->rx_count) % UART_FIFO_SIZE;
    st->rx_fifo[idx] = byte;
    st->rx_err[idx] = err;
    if (++st->rx_count == 1)
        reveal_top_errors(st);
}

/* The character timer restarts with every byte in and every read. */
static void rx_activity(struct uart *u)
{
    if (fifo_enabled(&u->st) && u->st.rx_count)
        timer_start(u);
    else
        timer_stop(u);
}

size_t uart_rx_room(const struct uart *u)
{
    if (loopback(&u->st))
        return UART_FIFO_SIZE;
    return fifo_capacity(&u->st) - u->st.rx_count;
}

size_t uart_rx_push(struct uart *u, const uint8_t *buf, size_t len)
{
    size_t n;

    if (loopback(&u->st))
        return len;
    n = uart_rx_room(u);
    if (n > len)
        n = len;
    for (size_t i = 0; i < n; i++)
        rx_put(&u->st, buf[i], 0);
    if (n)
        rx_activity(u);
    update_irq(u);
    return n;
}

void uart_rx_break(struct uart *u)
{
    if (loopback(&u->st))
        return;
    rx_put(&u->st, 0, UART_LSR_BI);
    rx_activity(u);
    update_irq(u);
}

static uint8_t rx_pop(struct uart *u)
{
    struct uart_state *st = &u->st;
    uint8_t byte;

    if (!st->rx_count) {
        /* An empty RBR still holds the byte read last. */
        return st->rx_fifo[(st->rx_head + UART_FIFO_SIZE - 1) % UART_FIFO_SIZE];
    }
    byte = st->rx_fifo[st->rx_head];
    st->rx_err[st->rx_head] = 0;
    st->rx_head = (st->rx_head + 1) % UART_FIFO_SIZE;
    st->rx_count--;
    st->timeout_ipending = 0;
    reveal_top_errors(st);
    rx_activity(u);
    return byte;
}

/* ---- transmit ------------------------------------------------------------ */

/* Hand the backend what it takes; THR empties in no time otherwise. */
static void tx_drain(struct uart *u)
{
    struct uart_state *st = &u->st;

    while (st->tx_count) {
        size_t chunk = UART_FIFO_SIZE - st->tx_head;
        size_t n;

        if (chunk > st->tx_count)
            chunk = st->tx_count;
        n = u->ops->tx(u->opaque, &st->tx_fifo[st->tx_head], chunk);
        if (!n)
            return;
        if (n > chunk)
            n = chunk;
        st->tx_head = (st->tx_head + n) % UART_FIFO_SIZE;
        st->tx_count -= n;
    }
    /* THR just became empty: that is what latches the THRE interrupt. */
    st->thr_ipending = 1;
}

void uart_tx_kick(struct uart *u)
{
    if (!u->st.tx_count)
        return;
    tx_drain(u);
    update_irq(u);
}

static void write_thr(struct uart *u, uint8_t val)
{
    struct uart_state *st = &u->st;

    st->thr_ipending = 0;
    if (loopback(st)) {
        /* The transmitter feeds the receiver; the line stays idle. */
        rx_put(st, val, 0);
        rx_activity(u);
        st->thr_ipending = 1;
        return;
    }
    if (st->tx_count < fifo_capacity(st)) {
        st->tx_fifo[(st->tx_head + st->tx_count) % UART_FIFO_SIZE] = val;
        st->tx_count++;
    }
    /* else: written into a full FIFO, the byte is lost as on the chip */
    tx_drain(u);
}

/* ---- modem status -------------------------------------------------------- */

/* In loopback the modem outputs drive the modem inputs. */
static uint8_t modem_inputs(const struct uart_state *st)
{
    uint8_t in = 0;

    if (!loopback(st))
        return st->msr_lines;
    if (st->mcr & UART_MCR_RTS)
        in |= UART_MSR_CTS;
    if (st->mcr & UART_MCR_DTR)
        in |= UART_MSR_DSR;
    if (st->mcr & UART_MCR_OUT1)
        in |= UART_MSR_RI;
    if (st->mcr & UART_MCR_OUT2)
        in |= UART_MSR_DCD;
    return in;
}

/* Latch delta bits for the inputs that changed (RI: trailing edge only). */
static void update_msr(struct uart_state *st)
{
    uint8_t now = modem_inputs(st);
    uint8_t old = st->msr & 0xf0;
    uint8_t changed = now ^ old;
    uint8_t deltas = st->msr & UART_MSR_DELTAS;

    if (changed & UART_MSR_CTS)
        deltas |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR)
        deltas |= UART_MSR_DDSR;
    if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
        deltas |= UART_MSR_TERI;
    if (changed & UART_MSR_DCD)
        deltas |= UART_MSR_DDCD;
    st->msr = now | deltas;
}

void uart_set_modem_lines(struct uart *u, uint8_t lines)
{
    u->st.msr_lines = lines & 0xf0;
    update_msr(&u->st);
    update_irq(u);
}

/* ---- register writes ----------------------------------------------------- */

static void write_ier(struct uart *u, uint8_t val)
{
    struct uart_state *st = &u->st;
    uint8_t changed = (st->ier ^ val) & UART_IER_MASK;

    st->ier = val & UART_IER_MASK;
    /*
     * Enabling THRI while THR is empty raises the interrupt at once, and
     * disabling it forgets the latch: real chips do, and Linux's startup
     * test (IER=THRI, IIR, IER=0, IER=THRI, IIR) calls a UART that does
     * not re-assert here buggy and falls back to polling.
     */
    if (changed & UART_IER_THRI)
        st->thr_ipending = (st->ier & UART_IER_THRI) && !st->tx_count;
}

static void write_fcr(struct uart *u, uint8_t val)
{
    struct uart_state *st = &u->st;

    /* Switching the FIFOs on or off empties them. */
    if ((st->fcr ^ val) & UART_FCR_ENABLE) {
        rx_clear(u);
        st->tx_count = 0;
    }
    if (val & UART_FCR_CLR_RX)
        rx_clear(u);
    if ((val & UART_FCR_CLR_TX) && st->tx_count) {
        st->tx_count = 0;
        st->thr_ipending = 1;
    }
    /* The other bits only take when the same write keeps FIFOs enabled. */
    if (val & UART_FCR_ENABLE)
        st->fcr = val & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG);
    else
        st->fcr = 0;
}

static void write_mcr(struct uart *u, uint8_t val)
{
    u->st.mcr = val & UART_MCR_MASK;
    update_msr(&u->st);
}

void uart_write(struct uart *u, unsigned int reg, uint8_t val)
{
    struct uart_state *st = &u->st;
    bool dlab = st->lcr & UART_LCR_DLAB;

    switch (reg) {
    case UART_THR:
        if (dlab)
            st->dll = val;
        else
            write_thr(u, val);
        break;
    case UART_IER:
        if (dlab)
            st->dlm = val;
        else
            write_ier(u, val);
        break;
    case UART_FCR:
        write_fcr(u, val);
        break;
    case UART_LCR:
        st->lcr = val;
        break;
    case UART_MCR:
        write_mcr(u, val);
        break;
    case UART_SCR:
        st->scr = val;
        break;
    default:
        /* LSR and MSR writes are the chip's factory test: ignored. */
        break;
    }
    update_irq(u);
}

/* ---- register reads ------------------------------------------------------ */

static uint8_t read_iir(struct uart *u)
{
    uint8_t id = iir_id(&u->st);

    /* Reading IIR while it names THRE is what acknowledges THRE. */
    if (id == UART_IIR_THRI)
        u->st.thr_ipending = 0;
    return id | (fifo_enabled(&u->st) ? UART_IIR_FIFO : 0);
}

static uint8_t read_lsr(struct uart *u)
{
    uint8_t val = lsr_value(&u->st);

    u->st.lsr &= ~UART_LSR_ERRS;
    return val;
}

static uint8_t read_msr(struct uart *u)
{
    uint8_t val = u->st.msr;

    u->st.msr &= ~UART_MSR_DELTAS;
    return val;
}

uint8_t uart_read(struct uart *u, unsigned int reg)
{
    struct uart_state *st = &u->st;
    bool dlab = st->lcr & UART_LCR_DLAB;
    uint8_t val;

    switch (reg) {
    case UART_RBR:
        val = dlab ? st->dll : rx_pop(u);
        break;
    case UART_IER:
        val = dlab ? st->dlm : st->ier;
        break;
    case UART_IIR:
        val = read_iir(u);
        break;
    case UART_LCR:
        val = st->lcr;
        break;
    case UART_MCR:
        val = st->mcr;
        break;
    case UART_LSR:
        val = read_lsr(u);
        break;
    case UART_MSR:
        val = read_msr(u);
        break;
    case UART_SCR:
        val = st->scr;
        break;
    default:
        val = 0xff;
        break;
    }
    update_irq(u);
    return val;
}

/* ---- life cycle ---------------------------------------------------------- */

void uart_reset(struct uart *u)
{
    uint8_t lines = u->st.msr_lines;

    timer_stop(u);
    memset(&u->st, 0, sizeof(u->st));
    u->st.msr_lines = lines;
    /* The divisor is undefined after reset; 12 is 9600 baud. */
    u->st.dll = 12;
    update_msr(&u->st);
    u->st.msr &= ~UART_MSR_DELTAS;
    update_irq(u);
}

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque)
{
    memset(u, 0, sizeof(*u));
    u->ops = ops;
    u->opaque = opaque;
    /* Nothing drives the modem lines: present an attached, ready peer. */
    u->st.msr_lines = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    uart_reset(u);
    u->ops->set_irq(u->opaque, u->irq_level);
}

/* ---- saved state --------------------------------------------------------- */

static bool is_bool(uint8_t v)
{
    return v <= 1;
}

static bool fifo_state_valid(const struct uart_state *st)
{
    unsigned int cap = fifo_capacity(st);

    if (st->rx_head >= UART_FIFO_SIZE || st->tx_head >= UART_FIFO_SIZE)
        return false;
    if (st->rx_count > cap || st->tx_count > cap)
        return false;
    for (unsigned int i = 0; i < UART_FIFO_SIZE; i++)
        if (st->rx_err[i] & ~(UART_LSR_PE | UART_LSR_FE | UART_LSR_BI))
            return false;
    return true;
}

static bool state_valid(const struct uart_state *st)
{
    if (st->ier & ~UART_IER_MASK || st->mcr & ~UART_MCR_MASK)
        return false;
    if (st->fcr & ~(UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIG))
        return false;
    if (!(st->fcr & UART_FCR_ENABLE) && st->fcr)
        return false;
    if (st->lsr & ~UART_LSR_ERRS || st->msr_lines & 0x0f)
        return false;
    if (!is_bool(st->thr_ipending) || !is_bool(st->timeout_ipending) ||
        !is_bool(st->timer_armed))
        return false;
    return fifo_state_valid(st);
}

int uart_state_load(struct uart *u, const struct uart_state *st)
{
    if (!state_valid(st))
        return -EINVAL;
    u->st = *st;
    if (u->st.timer_armed)
        timer_start(u);
    else
        u->ops->set_timer(u->opaque, 0);
    u->irq_level = uart_irq_pending(u);
    u->ops->set_irq(u->opaque, u->irq_level);
    return 0;
}
