// SPDX-License-Identifier: MIT
/*
 * tests/edu/test_regs.c - edu's register semantics through the core, as a
 * client sees them: identity, liveness, factorial, the interrupt
 * registers with INTx and MSI, the access-size rules, reset.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

static int setup(void **state)
{
    *state = fx_create(NULL);
    return 0;
}

static int teardown(void **state)
{
    fx_destroy(*state);
    return 0;
}

static void test_pci_identity(void **state)
{
    struct fx *f = *state;
    uint8_t b[4];

    assert_int_equal(cfg_rd(f, 0x00, 2), EDU_VENDOR_ID);
    assert_int_equal(cfg_rd(f, 0x02, 2), EDU_DEVICE_ID);
    assert_int_equal(cfg_rd(f, 0x08, 1), EDU_REVISION);
    assert_int_equal(cfg_rd(f, 0x09, 1), 0x00);        /* prog-if */
    assert_int_equal(cfg_rd(f, 0x0a, 2), 0x00ff);      /* class 00, sub ff */
    assert_int_equal(cfg_rd(f, 0x2c, 2), EDU_SUBSYS_VENDOR_ID);
    assert_int_equal(cfg_rd(f, 0x2e, 2), EDU_SUBSYS_ID);
    assert_int_equal(cfg_rd(f, 0x3d, 1), 1);           /* INTA */
    /* BAR0: 32-bit memory, 1 MiB by sizing */
    cfg_wr(f, 0x10, 0xffffffffu, 4);
    assert_int_equal(cfg_rd(f, 0x10, 4), (uint32_t)~(EDU_BAR_SIZE - 1));
    cfg_wr(f, 0x10, 0xfe000000u, 4);
    /* MSI: one vector, 64-bit */
    assert_int_equal(cfg_rd(f, fx_msi_cap(f) + 2, 2) & 0x008e, 0x0080);
    /* the register block answers */
    assert_int_equal(rd32(f, EDU_REG_ID), 0x010000ed);
    assert_int_equal(bar_rw(f, EDU_BAR_SIZE - 4, b, 4, false), 4);
    assert_int_equal(bar_rw(f, EDU_BAR_SIZE - 2, b, 4, false), -EINVAL);
}

static void test_identity_read_only(void **state)
{
    struct fx *f = *state;

    wr32(f, EDU_REG_ID, 0x12345678);
    assert_int_equal(rd32(f, EDU_REG_ID), EDU_ID_VALUE);
    wr32(f, EDU_REG_IRQ_STATUS, 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    wr64(f, EDU_REG_DMA_MASK, 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_MASK), EDU_DEFAULT_DMA_MASK);
    assert_int_equal(rd32(f, EDU_REG_EXT_VERSION), EDU_EXT_VERSION);
}

static void test_liveness(void **state)
{
    static const uint32_t vals[] = { 0, 1, 0x12345678, 0xffffffff,
                                     0x80000000 };
    struct fx *f = *state;

    assert_int_equal(rd32(f, EDU_REG_LIVENESS), 0);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        wr32(f, EDU_REG_LIVENESS, vals[i]);
        assert_int_equal(rd32(f, EDU_REG_LIVENESS), (uint32_t)~vals[i]);
        /* reading does not invert it back */
        assert_int_equal(rd32(f, EDU_REG_LIVENESS), (uint32_t)~vals[i]);
    }
}

static uint32_t ref_factorial(uint32_t n)
{
    uint32_t r = 1;

    while (n > 1)
        r *= n--;
    return r;
}

static void test_factorial(void **state)
{
    struct fx *f = *state;

    for (uint32_t n = 0; n <= 40; n++) {
        wr32(f, EDU_REG_FACT, n);
        assert_int_equal(rd32(f, EDU_REG_FACT), ref_factorial(n));
        assert_int_equal(rd32(f, EDU_REG_STATUS) & EDU_STATUS_COMPUTING, 0);
    }
    wr32(f, EDU_REG_FACT, 12);
    assert_int_equal(rd32(f, EDU_REG_FACT), 479001600u);
    wr32(f, EDU_REG_FACT, 13);                  /* 6227020800 mod 2^32 */
    assert_int_equal(rd32(f, EDU_REG_FACT), 6227020800ull & 0xffffffffu);
    /* the largest input: 0, and at once */
    wr32(f, EDU_REG_FACT, 0xffffffffu);
    assert_int_equal(rd32(f, EDU_REG_FACT), 0);
    /* no interrupt unless asked */
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
}

static void test_status_register(void **state)
{
    struct fx *f = *state;

    wr32(f, EDU_REG_STATUS, 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_STATUS), EDU_STATUS_IRQFACT);
    wr32(f, EDU_REG_STATUS, EDU_STATUS_COMPUTING);
    assert_int_equal(rd32(f, EDU_REG_STATUS), 0);
}

static void test_factorial_interrupt_intx(void **state)
{
    struct fx *f = *state;
    int efd = efd_new();

    assert_int_equal(fx_irq_eventfd(f, UVFIO_PCI_INTX_IRQ_INDEX, efd), 0);
    wr32(f, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
    wr32(f, EDU_REG_FACT, 5);
    assert_int_equal(rd32(f, EDU_REG_FACT), 120);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
    assert_int_equal(efd_take(efd), 1);
    assert_true(cfg_rd(f, 0x06, 2) & 0x0008);   /* interrupt status */
    wr32(f, EDU_REG_IRQ_ACK, EDU_IRQ_FACT);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_false(cfg_rd(f, 0x06, 2) & 0x0008);
    /* IRQFACT cleared: a factorial raises nothing */
    assert_int_equal(fx_irq_unmask(f, UVFIO_PCI_INTX_IRQ_INDEX), 0);
    wr32(f, EDU_REG_STATUS, 0);
    wr32(f, EDU_REG_FACT, 6);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(efd_take(efd), 0);
    close(efd);
}

/* INTx is a level: it stays asserted while any status bit is set, and
 * the core's automasking means one signal per unmask. */
static void test_raise_ack_intx(void **state)
{
    struct fx *f = *state;
    int efd = efd_new();

    assert_int_equal(fx_irq_eventfd(f, UVFIO_PCI_INTX_IRQ_INDEX, efd), 0);
    wr32(f, EDU_REG_IRQ_RAISE, 0x5);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0x5);
    assert_int_equal(efd_take(efd), 1);
    wr32(f, EDU_REG_IRQ_RAISE, 0x10);               /* line already high */
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0x15);
    assert_int_equal(efd_take(efd), 0);
    wr32(f, EDU_REG_IRQ_ACK, 0x1);                  /* still bits left */
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0x14);
    assert_int_equal(fx_irq_unmask(f, UVFIO_PCI_INTX_IRQ_INDEX), 0);
    assert_int_equal(efd_take(efd), 1);             /* still asserted */
    wr32(f, EDU_REG_IRQ_ACK, 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(fx_irq_unmask(f, UVFIO_PCI_INTX_IRQ_INDEX), 0);
    assert_int_equal(efd_take(efd), 0);             /* deasserted */
    wr32(f, EDU_REG_IRQ_RAISE, 0);                  /* nothing raised */
    assert_int_equal(efd_take(efd), 0);
    wr32(f, EDU_REG_IRQ_RAISE, 0x80000000u);
    assert_int_equal(efd_take(efd), 1);
    /* INTx disabled in the command register: the line stays quiet */
    wr32(f, EDU_REG_IRQ_ACK, 0x80000000u);
    assert_int_equal(fx_irq_unmask(f, UVFIO_PCI_INTX_IRQ_INDEX), 0);
    cfg_wr(f, 0x04, cfg_rd(f, 0x04, 2) | 0x0400, 2);
    wr32(f, EDU_REG_IRQ_RAISE, 0x2);
    assert_int_equal(efd_take(efd), 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0x2);
    close(efd);
}

static void msi_enable(struct fx *f)
{
    uint32_t cap = fx_msi_cap(f);

    cfg_wr(f, cap + 2, cfg_rd(f, cap + 2, 2) | 1, 2);
}

/* With MSI every raise is a message (edu's msi_notify).  (The core lets
 * a client bind one interrupt mode at a time, as the kernel does, so the
 * INTx eventfd is not bound here.) */
static void test_raise_ack_msi(void **state)
{
    struct fx *f = *state;
    int msi = efd_new();

    assert_int_equal(fx_irq_eventfd(f, UVFIO_PCI_MSI_IRQ_INDEX, msi), 0);
    msi_enable(f);
    wr32(f, EDU_REG_IRQ_RAISE, 0x100);
    assert_int_equal(efd_take(msi), 1);
    wr32(f, EDU_REG_IRQ_RAISE, 0x200);
    assert_int_equal(efd_take(msi), 1);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0x300);
    wr32(f, EDU_REG_IRQ_ACK, 0x300);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(efd_take(msi), 0);
    /* the factorial interrupt takes the same way */
    wr32(f, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
    wr32(f, EDU_REG_FACT, 3);
    assert_int_equal(efd_take(msi), 1);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
    /* an MSI is a memory write: not without bus mastering */
    wr32(f, EDU_REG_IRQ_ACK, EDU_IRQ_FACT);
    fx_bus_master(f, false);
    wr32(f, EDU_REG_IRQ_RAISE, 0x1);
    assert_int_equal(efd_take(msi), 0);
    close(msi);
}

/* Only 4-byte accesses below 0x80, 4 or 8 from there, each at a
 * register's own offset; everything else reads all-ones and writes
 * nothing, and never fails. */
static void test_access_rules(void **state)
{
    struct fx *f = *state;
    uint8_t b[16], ones[16];
    struct fx_snapshot before, after;

    memset(ones, 0xff, sizeof(ones));
    wr32(f, EDU_REG_LIVENESS, 0x0f0f0f0f);
    fx_snapshot(f, &before);
    for (size_t len = 1; len <= 16; len++) {
        if (len == 4)
            continue;
        memset(b, 0, sizeof(b));
        assert_int_equal(bar_rw(f, EDU_REG_LIVENESS, b, len, false),
                         (ssize_t)len);
        assert_memory_equal(b, ones, len);
        memset(b, 0, sizeof(b));
        assert_int_equal(bar_rw(f, EDU_REG_LIVENESS, b, len, true),
                         (ssize_t)len);
    }
    assert_int_equal(rd32(f, EDU_REG_LIVENESS), 0xf0f0f0f0);
    /* 8 bytes below 0x80: not a register access */
    assert_int_equal(rd64(f, EDU_REG_ID), UINT64_MAX);
    /* 4-byte accesses off a register's offset */
    assert_int_equal(rd32(f, 0x02), 0xffffffff);
    assert_int_equal(rd32(f, 0x40), 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_DMA_SRC + 4), 0xffffffff);
    assert_int_equal(rd64(f, 0x1004), UINT64_MAX);
    /* write-only registers */
    assert_int_equal(rd32(f, EDU_REG_IRQ_RAISE), 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_IRQ_ACK), 0xffffffff);
    /* the DMA buffer lives in DMA space, not in the BAR */
    assert_int_equal(rd32(f, EDU_DMA_BUF_ADDR), 0xffffffff);
    wr32(f, 0x02, 0);
    wr32(f, 0x40, 0);
    wr32(f, EDU_DMA_BUF_ADDR, 0);
    wr64(f, 0x1004, 0);
    wr32(f, EDU_BAR_SIZE - 4, 0);
    fx_snapshot(f, &after);
    fx_snapshot_equal(&before, &after);
}

/* 64-bit registers: 8-byte accesses whole, 4-byte ones the low half
 * (written zero-extended); 32-bit registers read zero-extended. */
static void test_wide_registers(void **state)
{
    struct fx *f = *state;

    wr64(f, EDU_REG_DMA_SRC, 0x1122334455667788ull);
    assert_int_equal(rd64(f, EDU_REG_DMA_SRC), 0x1122334455667788ull);
    assert_int_equal(rd32(f, EDU_REG_DMA_SRC), 0x55667788);
    wr32(f, EDU_REG_DMA_SRC, 0xaabbccdd);
    assert_int_equal(rd64(f, EDU_REG_DMA_SRC), 0xaabbccddull);
    wr64(f, EDU_REG_DMA_CNT, 0xffffffffffull);
    assert_int_equal(rd64(f, EDU_REG_DMA_CNT), 0xffffffffffull);
    assert_int_equal(rd64(f, EDU_REG_EXT_VERSION), EDU_EXT_VERSION);
    wr64(f, EDU_REG_CQ_RATE, 0x100000400ull);       /* low half: 1024 */
    assert_int_equal(rd64(f, EDU_REG_CQ_RATE), 1024);
    wr32(f, EDU_REG_CQ_RATE, 512);
    assert_int_equal(rd32(f, EDU_REG_CQ_RATE), 512);
    wr32(f, EDU_REG_CQ_RATE, EDU_CQ_MAX_RATE + 1);  /* capped */
    assert_int_equal(rd64(f, EDU_REG_CQ_RATE), EDU_CQ_MAX_RATE);
}

static void test_memory_decode_off(void **state)
{
    struct fx *f = *state;

    wr32(f, EDU_REG_LIVENESS, 0);
    cfg_wr(f, 0x04, 0, 2);
    assert_int_equal(rd32(f, EDU_REG_ID), 0xffffffff);
    wr32(f, EDU_REG_LIVENESS, 0x1234);              /* master abort */
    cfg_wr(f, 0x04, 0x0006, 2);
    assert_int_equal(rd32(f, EDU_REG_LIVENESS), 0xffffffff);
    assert_int_equal(rd32(f, EDU_REG_ID), EDU_ID_VALUE);
}

static void test_reset(void **state)
{
    struct fx *f = *state;
    int efd = efd_new();

    assert_int_equal(fx_irq_eventfd(f, UVFIO_PCI_INTX_IRQ_INDEX, efd), 0);
    wr32(f, EDU_REG_LIVENESS, 7);
    wr32(f, EDU_REG_FACT, 4);
    wr32(f, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
    wr32(f, EDU_REG_IRQ_RAISE, 0x30);
    wr64(f, EDU_REG_DMA_DST, 0x1234);
    wr64(f, EDU_REG_CQ_ADDR, 0x10000);
    assert_true(cfg_rd(f, 0x06, 2) & 0x0008);
    assert_int_equal(uvfio_core_reset(f->dev), 0);
    assert_int_equal(cfg_rd(f, 0x04, 2), 0);        /* decode off again */
    fx_bus_master(f, true);
    assert_int_equal(rd32(f, EDU_REG_LIVENESS), 0);
    assert_int_equal(rd32(f, EDU_REG_FACT), 0);
    assert_int_equal(rd32(f, EDU_REG_STATUS), 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_DST), 0);
    assert_int_equal(rd64(f, EDU_REG_CQ_ADDR), 0);
    assert_false(cfg_rd(f, 0x06, 2) & 0x0008);      /* line low */
    close(efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pci_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_liveness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factorial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factorial_interrupt_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raise_ack_intx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raise_ack_msi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wide_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_decode_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
    };

    return cmocka_run_group_tests_name("edu-regs", tests, NULL, NULL);
}
