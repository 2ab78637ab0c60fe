/* SPDX-License-Identifier: MIT */
/*
 * serial/uart.h - a 16550A UART, the register model and nothing else.
 *
 * The model does no I/O of its own: transmitted bytes leave through
 * ops->tx, received bytes are pushed in with uart_rx_push(), the interrupt
 * output is reported through ops->set_irq and the receive character
 * timeout through ops->set_timer.  That keeps it testable byte by byte and
 * lets the glue (serial.c) decide where bytes and interrupts go.
 *
 * Everything that a saved device must carry lives in struct uart_state:
 * plain fixed-size data, no pointers, so a migration stream can hold it
 * as is; uart_state_load() checks an incoming copy before using it.
 *
 * Deliberate simplifications, each invisible to a driver that follows the
 * datasheet:
 *  - transmission takes no time: a byte written to THR leaves as soon as
 *    ops->tx takes it, so THRE/TEMT only stay clear while the backend
 *    pushes back;
 *  - the character timeout is four character times at the programmed
 *    baud rate, counted by the glue's timer (ops->set_timer);
 *  - MCR OUT2 does not gate the interrupt output.  On PC mainboards an
 *    external gate wired to OUT2 does, but the UART chip itself and
 *    QEMU's model do not, and Linux sets OUT2 on every port with an IRQ
 *    anyway, so gating would only break drivers that forget it.
 */
#ifndef UVFIO_SERIAL_UART_H
#define UVFIO_SERIAL_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets (DLAB selects DLL/DLM at 0 and 1). */
#define UART_RBR        0       /* read, DLAB=0 */
#define UART_THR        0       /* write, DLAB=0 */
#define UART_DLL        0       /* DLAB=1 */
#define UART_IER        1       /* DLAB=0 */
#define UART_DLM        1       /* DLAB=1 */
#define UART_IIR        2       /* read */
#define UART_FCR        2       /* write */
#define UART_LCR        3
#define UART_MCR        4
#define UART_LSR        5
#define UART_MSR        6
#define UART_SCR        7
#define UART_NR_REGS    8

#define UART_IER_RDI    0x01    /* received data available */
#define UART_IER_THRI   0x02    /* transmitter holding register empty */
#define UART_IER_RLSI   0x04    /* receiver line status */
#define UART_IER_MSI    0x08    /* modem status */
#define UART_IER_MASK   0x0f

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_RLSI   0x06
#define UART_IIR_CTI    0x0c    /* character timeout */
#define UART_IIR_FIFO   0xc0    /* both bits set when FIFOs are enabled */

#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLR_RX 0x02
#define UART_FCR_CLR_TX 0x04
#define UART_FCR_DMA    0x08
#define UART_FCR_TRIG   0xc0    /* RX trigger: 1, 4, 8, 14 bytes */

#define UART_LCR_WLEN   0x03    /* word length - 5 */
#define UART_LCR_STOP   0x04
#define UART_LCR_PARITY 0x08
#define UART_LCR_DLAB   0x80

#define UART_MCR_DTR    0x01
#define UART_MCR_RTS    0x02
#define UART_MCR_OUT1   0x04
#define UART_MCR_OUT2   0x08
#define UART_MCR_LOOP   0x10
#define UART_MCR_MASK   0x1f

#define UART_LSR_DR     0x01
#define UART_LSR_OE     0x02
#define UART_LSR_PE     0x04
#define UART_LSR_FE     0x08
#define UART_LSR_BI     0x10
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40
#define UART_LSR_FIFOE  0x80    /* an error is somewhere in the RX FIFO */
#define UART_LSR_ERRS   (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

#define UART_MSR_DCTS   0x01
#define UART_MSR_DDSR   0x02
#define UART_MSR_TERI   0x04
#define UART_MSR_DDCD   0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS    0x10
#define UART_MSR_DSR    0x20
#define UART_MSR_RI     0x40
#define UART_MSR_DCD    0x80

#define UART_FIFO_SIZE  16
/* The 1.8432 MHz crystal of PC serial ports: 115200 baud at divisor 1. */
#define UART_CLOCK_HZ   1843200u
#define UART_BASE_BAUD  (UART_CLOCK_HZ / 16)

/* Version of struct uart_state's layout, for whoever saves it. */
#define UART_STATE_VERSION 1

/* Everything a running UART is, as plain data.  FIFOs are rings: `head`
 * is the oldest byte, `count` how many follow it. */
struct uart_state {
    uint8_t ier;
    uint8_t fcr;                /* last value written, FIFO enable kept */
    uint8_t lcr;
    uint8_t mcr;
    uint8_t lsr;
    uint8_t msr;
    uint8_t scr;
    uint8_t dll;
    uint8_t dlm;
    uint8_t msr_lines;          /* modem inputs from outside: CTS/DSR/RI/DCD */
    uint8_t thr_ipending;       /* THRE interrupt latched, cleared by IIR read
                                   or a THR write */
    uint8_t timeout_ipending;   /* character timeout latched */
    uint8_t timer_armed;        /* a character timeout is being counted */
    uint8_t rx_head;
    uint8_t rx_count;
    uint8_t tx_head;
    uint8_t tx_count;
    uint8_t rx_fifo[UART_FIFO_SIZE];
    uint8_t rx_err[UART_FIFO_SIZE];   /* PE/FE/BI of each received byte */
    uint8_t tx_fifo[UART_FIFO_SIZE];
};

struct uart_ops {
    /* Take up to len bytes for the line; return how many were taken (0
     * when the backend cannot take any now: call uart_tx_kick later). */
    size_t (*tx)(void *opaque, const uint8_t *buf, size_t len);
    /* The interrupt output changed level. */
    void (*set_irq)(void *opaque, bool level);
    /* Start (ns > 0, replacing any running one) or stop (ns == 0) the
     * character timeout; on expiry call uart_timeout(). */
    void (*set_timer)(void *opaque, uint64_t ns);
};

struct uart {
    struct uart_state st;
    const struct uart_ops *ops;
    void *opaque;
    bool irq_level;             /* last level reported through set_irq */
};

/* Power-on state; reports the (low) interrupt level once. */
void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque);
/* Master reset: registers and FIFOs back to power-on values. */
void uart_reset(struct uart *u);

uint8_t uart_read(struct uart *u, unsigned int reg);
void uart_write(struct uart *u, unsigned int reg, uint8_t val);

/* Bytes from the line.  Returns how many were consumed: never more than
 * uart_rx_room(), so a caller that reads its backend only that far loses
 * nothing.  In loopback mode the line is disconnected and input is
 * consumed and dropped, as on the chip. */
size_t uart_rx_push(struct uart *u, const uint8_t *buf, size_t len);
size_t uart_rx_room(const struct uart *u);
/* A break condition on the line: a zero byte flagged BI. */
void uart_rx_break(struct uart *u);
/* Modem status inputs (UART_MSR_CTS/DSR/RI/DCD) driven from outside. */
void uart_set_modem_lines(struct uart *u, uint8_t lines);

/* The backend can take bytes again. */
void uart_tx_kick(struct uart *u);
/* The timer started by ops->set_timer expired. */
void uart_timeout(struct uart *u);

/* The level of the interrupt output. */
bool uart_irq_pending(const struct uart *u);
/* One character on the wire at the programmed format and baud rate. */
uint64_t uart_char_time_ns(const struct uart_state *st);

/* Install a saved state after checking it is one this model can produce;
 * -EINVAL (nothing changed) otherwise.  Re-reports the interrupt level
 * and re-arms the timer as the state requires. */
int uart_state_load(struct uart *u, const struct uart_state *st);

#endif /* UVFIO_SERIAL_UART_H */
