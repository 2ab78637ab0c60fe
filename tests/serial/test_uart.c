// SPDX-License-Identifier: MIT
/*
 * The 16550A model, register by register, against the datasheet's
 * behaviour and the sequences Linux's 8250 driver runs on a port.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uart.h"

/* What the model told the outside world. */
struct fake {
    uint8_t out[256];
    size_t out_len;
    size_t tx_budget;           /* bytes the backend takes before pushing back */
    bool irq;
    unsigned int irq_calls;
    uint64_t timer_ns;
    unsigned int timer_calls;
    struct uart u;
};

static size_t fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct fake *f = opaque;

    if (len > f->tx_budget)
        len = f->tx_budget;
    if (len > sizeof(f->out) - f->out_len)
        len = sizeof(f->out) - f->out_len;
    memcpy(f->out + f->out_len, buf, len);
    f->out_len += len;
    f->tx_budget -= len;
    return len;
}

static void fake_irq(void *opaque, bool level)
{
    struct fake *f = opaque;

    f->irq = level;
    f->irq_calls++;
}

static void fake_timer(void *opaque, uint64_t ns)
{
    struct fake *f = opaque;

    f->timer_ns = ns;
    f->timer_calls++;
}

static const struct uart_ops fake_ops = {
    .tx = fake_tx,
    .set_irq = fake_irq,
    .set_timer = fake_timer,
};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->tx_budget = SIZE_MAX;
    uart_init(&f->u, &fake_ops, f);
}

static int setup(void **state)
{
    static struct fake f;

    fake_init(&f);
    *state = &f;
    return 0;
}

#define U(state) (&((struct fake *)*(state))->u)
#define F(state) ((struct fake *)*(state))

static uint8_t rd(struct uart *u, unsigned int reg)
{
    return uart_read(u, reg);
}

static void wr(struct uart *u, unsigned int reg, uint8_t v)
{
    uart_write(u, reg, v);
}

/* 8N1, FIFOs on with the given trigger bits, the way Linux programs it. */
static void program_8n1_fifo(struct uart *u, uint8_t trig)
{
    wr(u, UART_LCR, UART_LCR_DLAB);
    wr(u, UART_DLL, 1);
    wr(u, UART_DLM, 0);
    wr(u, UART_LCR, 0x03);
    wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX | UART_FCR_CLR_TX | trig);
}

static void push_str(struct uart *u, const char *s)
{
    size_t n = strlen(s);

    assert_int_equal(uart_rx_push(u, (const uint8_t *)s, n), n);
}

/* ---- reset values and plain registers ------------------------------------ */

static void test_reset_values(void **state)
{
    struct uart *u = U(state);

    assert_int_equal(rd(u, UART_IER), 0);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_NO_INT);
    assert_int_equal(rd(u, UART_LCR), 0);
    assert_int_equal(rd(u, UART_MCR), 0);
    assert_int_equal(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    /* nothing drives the modem lines: peer present, no deltas */
    assert_int_equal(rd(u, UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
    assert_int_equal(rd(u, UART_SCR), 0);
    assert_false(F(state)->irq);
    assert_int_equal(F(state)->irq_calls, 1);
}

static void test_reset_clears_everything(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    wr(u, UART_IER, UART_IER_THRI);
    wr(u, UART_SCR, 0x5a);
    wr(u, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR);
    push_str(u, "abc");
    assert_true(F(state)->irq);
    uart_reset(u);
    assert_false(F(state)->irq);
    assert_int_equal(rd(u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_NO_INT);
    assert_int_equal(rd(u, UART_SCR), 0);
    assert_int_equal(rd(u, UART_MCR), 0);
    assert_int_equal(uart_rx_room(u), 1);
    /* the pending character timer is cancelled too */
    assert_int_equal(F(state)->timer_ns, 0);
}

static void test_scratch_and_masks(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_SCR, 0xa5);
    assert_int_equal(rd(u, UART_SCR), 0xa5);
    /* IER bits 4-7 and MCR bits 5-7 do not exist on a 16550A: Linux's
     * autoconfig tells a 16550A from an XScale/16750 by exactly this. */
    wr(u, UART_IER, 0xff);
    assert_int_equal(rd(u, UART_IER), 0x0f);
    wr(u, UART_IER, 0);
    wr(u, UART_MCR, 0xff);
    assert_int_equal(rd(u, UART_MCR), 0x1f);
    /* LSR and MSR are not writable */
    wr(u, UART_MCR, 0);
    wr(u, UART_LSR, 0);
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT),
                     UART_LSR_THRE | UART_LSR_TEMT);
}

static void test_dlab_selects_divisor(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_LCR, UART_LCR_DLAB | 0x03);
    wr(u, UART_DLL, 0x34);
    wr(u, UART_DLM, 0x12);
    assert_int_equal(rd(u, UART_DLL), 0x34);
    assert_int_equal(rd(u, UART_DLM), 0x12);
    /* divisor writes are not transmitted and do not touch IER */
    assert_int_equal(F(state)->out_len, 0);
    wr(u, UART_LCR, 0x03);
    assert_int_equal(rd(u, UART_IER), 0);
    wr(u, UART_IER, UART_IER_RDI);
    wr(u, UART_LCR, UART_LCR_DLAB);
    assert_int_equal(rd(u, UART_DLM), 0x12);
}

static void test_bad_register_index(void **state)
{
    struct uart *u = U(state);

    assert_int_equal(rd(u, 8), 0xff);
    assert_int_equal(rd(u, 0xffffffffu), 0xff);
    wr(u, 9, 0x55);
    wr(u, 0xffffffffu, 0x55);
    assert_int_equal(F(state)->out_len, 0);
    assert_int_equal(rd(u, UART_SCR), 0);
}

/* ---- transmit ------------------------------------------------------------- */

static void test_tx_bytes_in_order(void **state)
{
    struct uart *u = U(state);
    const char *msg = "hello, 16550";

    program_8n1_fifo(u, 0);
    for (const char *p = msg; *p; p++)
        wr(u, UART_THR, (uint8_t)*p);
    assert_int_equal(F(state)->out_len, strlen(msg));
    assert_memory_equal(F(state)->out, msg, strlen(msg));
    assert_int_equal(rd(u, UART_LSR) & 0x60, 0x60);
}

static void test_tx_backpressure_fifo(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    F(state)->tx_budget = 0;
    for (int i = 0; i < 20; i++)
        wr(u, UART_THR, (uint8_t)('a' + i));
    /* held in the FIFO: THR not empty, transmitter busy */
    assert_int_equal(rd(u, UART_LSR) & 0x60, 0);
    assert_int_equal(F(state)->out_len, 0);
    /* the backend takes 5, then the rest; the 4 bytes written into the
     * full FIFO are lost as on the chip */
    F(state)->tx_budget = 5;
    uart_tx_kick(u);
    assert_int_equal(F(state)->out_len, 5);
    assert_int_equal(rd(u, UART_LSR) & 0x60, 0);
    F(state)->tx_budget = SIZE_MAX;
    uart_tx_kick(u);
    assert_int_equal(F(state)->out_len, 16);
    assert_memory_equal(F(state)->out, "abcdefghijklmnop", 16);
    assert_int_equal(rd(u, UART_LSR) & 0x60, 0x60);
}

static void test_tx_backpressure_no_fifo(void **state)
{
    struct uart *u = U(state);

    F(state)->tx_budget = 0;
    wr(u, UART_THR, 'x');
    wr(u, UART_THR, 'y');       /* THR full: lost */
    F(state)->tx_budget = SIZE_MAX;
    uart_tx_kick(u);
    assert_int_equal(F(state)->out_len, 1);
    assert_int_equal(F(state)->out[0], 'x');
}

static void test_thre_interrupt(void **state)
{
    struct uart *u = U(state);

    /* enabling THRI with THR empty interrupts at once */
    wr(u, UART_IER, UART_IER_THRI);
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_THRI);
    /* reading IIR acknowledged it */
    assert_false(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_NO_INT);
    /* a transmitted byte empties THR again: new interrupt */
    wr(u, UART_THR, 'z');
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_THRI);
    /* held by the backend: no THRE interrupt until it drains */
    F(state)->tx_budget = 0;
    wr(u, UART_THR, 'q');
    assert_false(F(state)->irq);
    F(state)->tx_budget = SIZE_MAX;
    uart_tx_kick(u);
    assert_true(F(state)->irq);
    /* disabling THRI drops the line and forgets the latch */
    wr(u, UART_IER, 0);
    assert_false(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_NO_INT);
}

/* serial8250_do_startup()'s THRE re-assertion test, step by step. */
static void test_linux_thre_test(void **state)
{
    struct uart *u = U(state);
    uint8_t iir1, iir;

    wr(u, UART_IER, UART_IER_THRI);
    iir1 = rd(u, UART_IIR);
    wr(u, UART_IER, 0);
    wr(u, UART_IER, UART_IER_THRI);
    iir = rd(u, UART_IIR);
    wr(u, UART_IER, 0);
    /* UART_BUG_THRE is set when iir1 has an interrupt and iir has none */
    assert_false(iir1 & UART_IIR_NO_INT);
    assert_false(iir & UART_IIR_NO_INT);
    /* ... and the TXEN check: IER=THRI, LSR, IIR must show it */
    wr(u, UART_IER, UART_IER_THRI);
    assert_true(rd(u, UART_LSR) & UART_LSR_TEMT);
    assert_false(rd(u, UART_IIR) & UART_IIR_NO_INT);
}

/* autoconfig(): what Linux reads to call the port a 16550A. */
static void test_linux_autoconfig(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_IER, 0);
    assert_int_equal(rd(u, UART_IER) & 0x0f, 0);
    wr(u, UART_IER, 0x0f);
    assert_int_equal(rd(u, UART_IER) & 0x0f, 0x0f);
    wr(u, UART_IER, 0);
    wr(u, UART_FCR, UART_FCR_ENABLE);
    assert_int_equal(rd(u, UART_IIR) >> 6, 3);
    /* no EFR behind LCR=0xBF or 0x80: offset 2 still reads IIR, nonzero */
    wr(u, UART_LCR, 0xbf);
    assert_int_not_equal(rd(u, UART_FCR), 0);
    wr(u, UART_LCR, 0x80);
    assert_int_not_equal(rd(u, UART_FCR), 0);
    /* not a 16750: the 64-byte FIFO bit never shows in IIR */
    wr(u, UART_FCR, UART_FCR_ENABLE | 0x20);
    assert_int_equal(rd(u, UART_IIR) & 0x20, 0);
    wr(u, UART_LCR, 0);
    assert_int_equal(rd(u, UART_IIR) & 0x20, 0);
}

/* ---- receive -------------------------------------------------------------- */

static void test_rx_no_fifo(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_IER, UART_IER_RDI);
    assert_int_equal(uart_rx_room(u), 1);
    push_str(u, "A");
    assert_int_equal(uart_rx_room(u), 0);
    assert_int_equal(uart_rx_push(u, (const uint8_t *)"B", 1), 0);
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_RDI);
    assert_true(rd(u, UART_LSR) & UART_LSR_DR);
    assert_int_equal(rd(u, UART_RBR), 'A');
    assert_false(F(state)->irq);
    assert_false(rd(u, UART_LSR) & UART_LSR_DR);
    /* no timer without FIFOs */
    assert_int_equal(F(state)->timer_calls, 0);
}

static void test_rx_fifo_backpressure(void **state)
{
    struct uart *u = U(state);
    uint8_t buf[20];

    program_8n1_fifo(u, 0);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(uart_rx_push(u, buf, sizeof(buf)), 16);
    assert_int_equal(uart_rx_room(u), 0);
    /* refused bytes are not an overrun: the caller keeps them */
    assert_false(rd(u, UART_LSR) & UART_LSR_OE);
    rd(u, UART_RBR);
    assert_int_equal(uart_rx_room(u), 1);
}

static void test_rx_trigger_levels(void **state)
{
    static const struct { uint8_t bits, level; } t[] = {
        { 0x00, 1 }, { 0x40, 4 }, { 0x80, 8 }, { 0xc0, 14 },
    };
    struct uart *u = U(state);

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        program_8n1_fifo(u, t[i].bits);
        wr(u, UART_IER, UART_IER_RDI);
        for (unsigned int n = 1; n <= t[i].level; n++) {
            push_str(u, "x");
            assert_int_equal(F(state)->irq, n == t[i].level);
        }
        assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
        /* dropping below the level clears it */
        rd(u, UART_RBR);
        if (t[i].level > 1)
            assert_false(F(state)->irq);
    }
}

static void test_rx_char_timeout(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0x80);          /* trigger at 8 */
    wr(u, UART_IER, UART_IER_RDI);
    push_str(u, "hi\n");
    assert_false(F(state)->irq);
    /* 4 characters of 10 bits at 115200 baud */
    assert_int_equal(F(state)->timer_ns, 4 * 86805);
    uart_timeout(u);
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_CTI);
    /* the first read clears the timeout and restarts the count */
    F(state)->timer_calls = 0;
    assert_int_equal(rd(u, UART_RBR), 'h');
    assert_false(F(state)->irq);
    assert_int_equal(F(state)->timer_calls, 1);
    assert_int_not_equal(F(state)->timer_ns, 0);
    assert_int_equal(rd(u, UART_RBR), 'i');
    assert_int_equal(rd(u, UART_RBR), '\n');
    /* empty: the timer is stopped, a late expiry does nothing */
    assert_int_equal(F(state)->timer_ns, 0);
    uart_timeout(u);
    assert_false(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
}

static void test_empty_rbr_repeats_last(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    push_str(u, "Q");
    assert_int_equal(rd(u, UART_RBR), 'Q');
    assert_int_equal(rd(u, UART_RBR), 'Q');
    assert_false(rd(u, UART_LSR) & UART_LSR_DR);
}

static void test_fcr_clears(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    wr(u, UART_IER, UART_IER_RDI | UART_IER_THRI);
    rd(u, UART_IIR);
    F(state)->tx_budget = 0;
    wr(u, UART_THR, 'a');
    push_str(u, "bc");
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_DR | UART_LSR_THRE),
                     UART_LSR_DR);
    wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX);
    assert_false(rd(u, UART_LSR) & UART_LSR_DR);
    assert_int_equal(uart_rx_room(u), 16);
    wr(u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_TX);
    assert_true(rd(u, UART_LSR) & UART_LSR_THRE);
    /* clearing TX empties THR: THRE interrupt */
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_THRI);
    F(state)->tx_budget = SIZE_MAX;
    uart_tx_kick(u);
    assert_int_equal(F(state)->out_len, 0);
}

static void test_fifo_enable_toggle(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    push_str(u, "abcd");
    assert_int_equal(rd(u, UART_IIR) & UART_IIR_FIFO, UART_IIR_FIFO);
    /* turning FIFOs off empties them and hides the IIR FIFO bits */
    wr(u, UART_FCR, 0xc0);
    assert_int_equal(rd(u, UART_IIR) & UART_IIR_FIFO, 0);
    assert_false(rd(u, UART_LSR) & UART_LSR_DR);
    assert_int_equal(uart_rx_room(u), 1);
    /* trigger bits written without the enable bit did not take */
    wr(u, UART_FCR, UART_FCR_ENABLE);
    wr(u, UART_IER, UART_IER_RDI);
    push_str(u, "a");
    assert_true(F(state)->irq);
}

/* ---- loopback and modem status -------------------------------------------- */

static void test_loopback(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    wr(u, UART_MCR, UART_MCR_LOOP);
    rd(u, UART_MSR);
    wr(u, UART_THR, 'L');
    wr(u, UART_THR, 'B');
    /* nothing on the line, both bytes in our own receiver */
    assert_int_equal(F(state)->out_len, 0);
    assert_int_equal(rd(u, UART_RBR), 'L');
    assert_int_equal(rd(u, UART_RBR), 'B');
    /* the line input is disconnected: consumed and dropped */
    push_str(u, "ext");
    assert_false(rd(u, UART_LSR) & UART_LSR_DR);
    /* outputs drive inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
    wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
    assert_int_equal(rd(u, UART_MSR) & 0xf0, UART_MSR_CTS | UART_MSR_DCD);
    wr(u, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
    assert_int_equal(rd(u, UART_MSR),
                     UART_MSR_DSR | UART_MSR_RI | UART_MSR_DCTS |
                     UART_MSR_DDSR | UART_MSR_DDCD);
    /* RI falling: trailing-edge delta */
    wr(u, UART_MCR, UART_MCR_LOOP);
    assert_int_equal(rd(u, UART_MSR), UART_MSR_TERI | UART_MSR_DDSR);
    /* back out of loopback the line is connected again */
    wr(u, UART_MCR, 0);
    push_str(u, "x");
    assert_int_equal(rd(u, UART_RBR), 'x');
}

static void test_modem_status_interrupt(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_IER, UART_IER_MSI);
    assert_false(F(state)->irq);
    uart_set_modem_lines(u, UART_MSR_DSR | UART_MSR_DCD);   /* CTS drops */
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_MSI);
    assert_int_equal(rd(u, UART_MSR), UART_MSR_DSR | UART_MSR_DCD | UART_MSR_DCTS);
    assert_false(F(state)->irq);
    /* RI rising is not a delta, falling is */
    uart_set_modem_lines(u, UART_MSR_DSR | UART_MSR_DCD | UART_MSR_RI);
    assert_false(F(state)->irq);
    uart_set_modem_lines(u, UART_MSR_DSR | UART_MSR_DCD);
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_MSR) & UART_MSR_DELTAS, UART_MSR_TERI);
}

/* ---- line status and priorities ------------------------------------------- */

static void test_overrun_and_rls(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0xc0);
    wr(u, UART_MCR, UART_MCR_LOOP);
    wr(u, UART_IER, UART_IER_RLSI | UART_IER_RDI);
    for (int i = 0; i < 17; i++)
        wr(u, UART_THR, (uint8_t)i);
    /* the 17th byte found the FIFO full: overrun, the FIFO is intact */
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_OE | UART_LSR_DR),
                     UART_LSR_OE | UART_LSR_DR);
    /* LSR read cleared OE: now the data interrupt shows */
    assert_false(rd(u, UART_LSR) & UART_LSR_OE);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
    for (int i = 0; i < 16; i++)
        assert_int_equal(rd(u, UART_RBR), i);
}

static void test_overrun_no_fifo_overwrites(void **state)
{
    struct uart *u = U(state);

    wr(u, UART_MCR, UART_MCR_LOOP);
    wr(u, UART_THR, '1');
    wr(u, UART_THR, '2');
    assert_true(rd(u, UART_LSR) & UART_LSR_OE);
    assert_int_equal(rd(u, UART_RBR), '2');
}

static void test_break_reported_at_top(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    wr(u, UART_IER, UART_IER_RLSI);
    push_str(u, "ab");
    uart_rx_break(u);
    /* the break is third in the FIFO: only the FIFO-error bit shows */
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_BI | UART_LSR_FIFOE),
                     UART_LSR_FIFOE);
    assert_false(F(state)->irq);
    rd(u, UART_RBR);
    rd(u, UART_RBR);
    /* now at the top: BI and the line status interrupt */
    assert_true(F(state)->irq);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_RLSI);
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_BI | UART_LSR_DR),
                     UART_LSR_BI | UART_LSR_DR);
    assert_int_equal(rd(u, UART_RBR), 0);
    assert_int_equal(rd(u, UART_LSR) & (UART_LSR_BI | UART_LSR_FIFOE), 0);
    assert_false(F(state)->irq);
}

static void test_interrupt_priorities(void **state)
{
    struct uart *u = U(state);

    program_8n1_fifo(u, 0);
    wr(u, UART_IER, UART_IER_MASK);
    rd(u, UART_IIR);                              /* ack the THRE */
    uart_set_modem_lines(u, 0);                   /* MSR delta */
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_MSI);
    wr(u, UART_THR, '.');                         /* THRE again */
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_THRI);
    wr(u, UART_THR, '.');
    push_str(u, "r");                             /* data above THRE */
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_RDI);
    uart_rx_break(u);                             /* not yet at top */
    rd(u, UART_RBR);
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_RLSI);
    rd(u, UART_LSR);
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_RDI);
    rd(u, UART_RBR);
    /* the second THR write latched THRE again: below data, above MSR */
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_THRI);
    assert_int_equal(rd(u, UART_IIR) & 0x0f, UART_IIR_MSI);
    rd(u, UART_MSR);
    assert_int_equal(rd(u, UART_IIR), UART_IIR_FIFO | UART_IIR_NO_INT);
    assert_false(F(state)->irq);
}

static void test_irq_reported_on_change_only(void **state)
{
    struct uart *u = U(state);
    unsigned int calls = F(state)->irq_calls;

    wr(u, UART_SCR, 1);
    rd(u, UART_LSR);
    wr(u, UART_IER, UART_IER_RDI);
    assert_int_equal(F(state)->irq_calls, calls);
    push_str(u, "x");
    assert_int_equal(F(state)->irq_calls, calls + 1);
    rd(u, UART_IIR);
    rd(u, UART_LSR);
    assert_int_equal(F(state)->irq_calls, calls + 1);
    rd(u, UART_RBR);
    assert_int_equal(F(state)->irq_calls, calls + 2);
}

/* ---- timing --------------------------------------------------------------- */

static void test_char_time(void **state)
{
    struct uart_state st;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.dll = 1;
    st.lcr = 0x03;                      /* 8N1: 10 bits */
    assert_int_equal(uart_char_time_ns(&st), 86805);
    st.lcr = 0x03 | UART_LCR_PARITY | UART_LCR_STOP;   /* 8E2: 12 bits */
    assert_int_equal(uart_char_time_ns(&st), 104166);
    st.lcr = UART_LCR_STOP;             /* 5 bits, 1.5 stop: 7.5 bits */
    assert_int_equal(uart_char_time_ns(&st), 65104);
    st.lcr = 0x03;
    st.dll = 12;                        /* 9600 baud */
    assert_int_equal(uart_char_time_ns(&st), 1041666);
    st.dll = 0;
    st.dlm = 0;
    assert_int_equal(uart_char_time_ns(&st), 86805);
    st.dll = 0xff;
    st.dlm = 0xff;                      /* slowest: no overflow */
    assert_int_equal(uart_char_time_ns(&st), 5688802083ull);
}

/* ---- saved state ---------------------------------------------------------- */

static void test_state_roundtrip(void **state)
{
    struct uart *u = U(state);
    static struct fake dst;
    struct fake *g = &dst;
    struct uart_state saved;

    program_8n1_fifo(u, 0x40);
    wr(u, UART_IER, UART_IER_RDI | UART_IER_MSI);
    wr(u, UART_SCR, 0x77);
    wr(u, UART_MCR, UART_MCR_OUT2 | UART_MCR_RTS);
    push_str(u, "saved!");
    saved = u->st;

    fake_init(g);           /* a fresh UART, as on a destination */
    g->irq_calls = 0;
    assert_int_equal(uart_state_load(&g->u, &saved), 0);
    assert_true(g->irq);
    assert_int_equal(g->irq_calls, 1);
    /* the character timer was running: it runs again */
    assert_int_not_equal(g->timer_ns, 0);
    assert_int_equal(rd(&g->u, UART_SCR), 0x77);
    assert_int_equal(rd(&g->u, UART_MCR), UART_MCR_OUT2 | UART_MCR_RTS);
    assert_int_equal(rd(&g->u, UART_IIR), UART_IIR_FIFO | UART_IIR_RDI);
    for (const char *p = "saved!"; *p; p++)
        assert_int_equal(rd(&g->u, UART_RBR), *p);
    assert_false(g->irq);
}

static void test_state_load_rejects(void **state)
{
    struct uart *u = U(state);
    struct uart_state good, bad;

    program_8n1_fifo(u, 0);
    push_str(u, "keep");
    good = u->st;

#define REJECT(field, value)                                          \
    do {                                                              \
        bad = good;                                                   \
        bad.field = (value);                                          \
        assert_int_equal(uart_state_load(u, &bad), -EINVAL);          \
        assert_memory_equal(&u->st, &good, sizeof(good));             \
    } while (0)

    REJECT(rx_count, 17);
    REJECT(tx_count, 17);
    REJECT(rx_head, 16);
    REJECT(tx_head, 255);
    REJECT(ier, 0x10);
    REJECT(mcr, 0x20);
    REJECT(fcr, 0x02);
    REJECT(fcr, 0x80);          /* trigger bits without the enable bit */
    REJECT(lsr, UART_LSR_DR);   /* derived, never stored */
    REJECT(msr_lines, UART_MSR_DCTS);
    REJECT(thr_ipending, 2);
    REJECT(timeout_ipending, 0xff);
    REJECT(timer_armed, 7);
    REJECT(rx_err[3], UART_LSR_OE);
    /* a FIFO count that only fits when FIFOs are enabled */
    bad = good;
    bad.fcr = 0;
    bad.rx_count = 2;
    assert_int_equal(uart_state_load(u, &bad), -EINVAL);
#undef REJECT
    assert_int_equal(rd(u, UART_RBR), 'k');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reset_values, setup),
        cmocka_unit_test_setup(test_reset_clears_everything, setup),
        cmocka_unit_test_setup(test_scratch_and_masks, setup),
        cmocka_unit_test_setup(test_dlab_selects_divisor, setup),
        cmocka_unit_test_setup(test_bad_register_index, setup),
        cmocka_unit_test_setup(test_tx_bytes_in_order, setup),
        cmocka_unit_test_setup(test_tx_backpressure_fifo, setup),
        cmocka_unit_test_setup(test_tx_backpressure_no_fifo, setup),
        cmocka_unit_test_setup(test_thre_interrupt, setup),
        cmocka_unit_test_setup(test_linux_thre_test, setup),
        cmocka_unit_test_setup(test_linux_autoconfig, setup),
        cmocka_unit_test_setup(test_rx_no_fifo, setup),
        cmocka_unit_test_setup(test_rx_fifo_backpressure, setup),
        cmocka_unit_test_setup(test_rx_trigger_levels, setup),
        cmocka_unit_test_setup(test_rx_char_timeout, setup),
        cmocka_unit_test_setup(test_empty_rbr_repeats_last, setup),
        cmocka_unit_test_setup(test_fcr_clears, setup),
        cmocka_unit_test_setup(test_fifo_enable_toggle, setup),
        cmocka_unit_test_setup(test_loopback, setup),
        cmocka_unit_test_setup(test_modem_status_interrupt, setup),
        cmocka_unit_test_setup(test_overrun_and_rls, setup),
        cmocka_unit_test_setup(test_overrun_no_fifo_overwrites, setup),
        cmocka_unit_test_setup(test_break_reported_at_top, setup),
        cmocka_unit_test_setup(test_interrupt_priorities, setup),
        cmocka_unit_test_setup(test_irq_reported_on_change_only, setup),
        cmocka_unit_test(test_char_time),
        cmocka_unit_test_setup(test_state_roundtrip, setup),
        cmocka_unit_test_setup(test_state_load_rejects, setup),
    };

    return cmocka_run_group_tests_name("serial-uart", tests, NULL, NULL);
}
