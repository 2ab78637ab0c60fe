// SPDX-License-Identifier: MIT
/*
 * tests/pci/test_config.c - config space through region 7: read-only
 * registers, BAR sizing, command and status, access sizes, decode gating.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

static int setup_full(void **state)
{
    *state = tdev_create(TDEV_FULL | TDEV_PCIE);
    return 0;
}

static int setup_full_conv(void **state)
{
    *state = tdev_create(TDEV_FULL);
    return 0;
}

static int setup_bare(void **state)
{
    *state = tdev_create(0);
    return 0;
}

static int teardown(void **state)
{
    tdev_destroy(*state);
    return 0;
}

/* ---- attach ----------------------------------------------------------------- */

static const struct uvfio_device_ops plain_ops = { .name = "plain" };

static struct uvfio_device *plain_device(bool pci, uint32_t nregions)
{
    struct uvfio_device_config dc = {
        .ops = &plain_ops,
        .num_regions = nregions,
        .num_irqs = pci ? UVFIO_PCI_NUM_IRQS : 1,
        .pci = pci,
    };
    struct uvfio_device *dev;

    assert_int_equal(uvfio_device_create(&dc, &dev), 0);
    return dev;
}

static void test_attach_rules(void **state)
{
    struct uvfio_pci_config pc = { .vendor_id = 0x1234, .device_id = 1 };
    struct uvfio_device *dev;
    struct uvfio_pci *pci, *again;

    (void)state;
    dev = plain_device(false, 9);
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), -EINVAL);
    assert_null(uvfio_pci_of(dev));
    uvfio_device_destroy(dev);

    dev = plain_device(true, 9);
    assert_int_equal(uvfio_pci_attach(NULL, &pc, &pci), -EINVAL);
    assert_int_equal(uvfio_pci_attach(dev, NULL, &pci), -EINVAL);
    pc.intx_pin = 5;
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), -EINVAL);
    pc.intx_pin = 1;
    pc.vendor_id = 0xffff;
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), -EINVAL);
    pc.vendor_id = 0x1234;
    pc.class_code = 0x1000000;
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), -EINVAL);
    pc.class_code = 0;
    assert_null(uvfio_pci_of(dev));
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), 0);
    assert_ptr_equal(uvfio_pci_of(dev), pci);
    assert_ptr_equal(uvfio_pci_device(pci), dev);
    assert_int_equal(uvfio_pci_attach(dev, &pc, &again), -EEXIST);
    uvfio_device_destroy(dev);
}

/* ---- identity ----------------------------------------------------------------- */

static void test_ids_read_only(void **state)
{
    struct tdev *t = *state;
    static const uint32_t ro[] = { 0x00, 0x08, 0x0c, 0x2c, 0x28, 0x30 };
    uint32_t before[6];
    unsigned int i;

    assert_int_equal(cfg_rd(t, 0x00, 2), TDEV_VENDOR);
    assert_int_equal(cfg_rd(t, 0x02, 2), TDEV_DEVICE);
    assert_int_equal(cfg_rd(t, 0x08, 1), TDEV_REV);
    assert_int_equal(cfg_rd(t, 0x09, 1), TDEV_CLASS & 0xff);
    assert_int_equal(cfg_rd(t, 0x0a, 2), TDEV_CLASS >> 8);
    assert_int_equal(cfg_rd(t, 0x2c, 2), TDEV_SVID);
    assert_int_equal(cfg_rd(t, 0x2e, 2), TDEV_SSID);
    assert_int_equal(cfg_rd(t, 0x0e, 1), 0);            /* type 0, single */
    assert_int_equal(cfg_rd(t, 0x3d, 1), 1);            /* INTA */

    for (i = 0; i < 6; i++)
        before[i] = cfg_rd(t, ro[i], 4);
    for (i = 0; i < 6; i++)
        cfg_wr(t, ro[i], 0xffffffff, 4);
    /* Cache line size is the one writable byte of the 0x0c dword. */
    assert_int_equal(cfg_rd(t, 0x0c, 1), 0xff);
    assert_int_equal(cfg_rd(t, 0x0d, 3), before[2] >> 8);
    for (i = 0; i < 6; i++)
        if (ro[i] != 0x0c)
            assert_int_equal(cfg_rd(t, ro[i], 4), before[i]);
    cfg_wr(t, 0x3d, 0x04, 1);
    assert_int_equal(cfg_rd(t, 0x3d, 1), 1);
    cfg_wr(t, 0x34, 0x80, 1);
    assert_int_equal(cfg_rd(t, 0x34, 1), t->cap_pm);
}

static void test_latency_timer(void **state)
{
    struct tdev *t = *state;
    struct tdev *conv = tdev_create(0);

    /* PCIe hardwires it; conventional PCI lets the guest set it. */
    cfg_wr(t, 0x0d, 0x40, 1);
    assert_int_equal(cfg_rd(t, 0x0d, 1), 0);
    cfg_wr(conv, 0x0d, 0x40, 1);
    assert_int_equal(cfg_rd(conv, 0x0d, 1), 0x40);
    tdev_destroy(conv);
}

static void test_interrupt_line_and_pin(void **state)
{
    struct tdev *t = *state;
    struct tdev *nopin = tdev_create(TDEV_NO_PIN);

    cfg_wr(t, 0x3c, 0x0b, 1);
    assert_int_equal(cfg_rd(t, 0x3c, 1), 0x0b);
    cfg_wr(t, 0x3c, 0xffff, 2);
    assert_int_equal(cfg_rd(t, 0x3c, 2), 0x01ff);
    assert_int_equal(cfg_rd(nopin, 0x3d, 1), 0);
    tdev_destroy(nopin);
}

/* ---- BARs ------------------------------------------------------------------------ */

/* What Linux's __pci_read_base does: save, write all-ones, read, restore. */
static uint32_t size_probe(struct tdev *t, unsigned int bar)
{
    uint32_t reg = 0x10 + 4 * bar, orig, sz;

    orig = cfg_rd(t, reg, 4);
    cfg_wr(t, reg, 0xffffffff, 4);
    sz = cfg_rd(t, reg, 4);
    cfg_wr(t, reg, orig, 4);
    assert_int_equal(cfg_rd(t, reg, 4), orig);
    return sz;
}

static void test_bar_sizing(void **state)
{
    struct tdev *t = *state;
    uint16_t cmd = (uint16_t)cfg_rd(t, 0x04, 2);

    /* Linux turns decode off around the probe. */
    cfg_wr(t, 0x04, cmd & ~0x3u, 2);
    assert_int_equal(cfg_rd(t, 0x10, 4), 0x1);          /* IO type bit */
    assert_int_equal(size_probe(t, 0), 0xffffffe1);     /* 32 B IO */
    assert_int_equal(size_probe(t, 1), 0xfffff000);     /* 4 KiB MEM32 */
    /* 8 GiB MEM64 prefetchable: no address bits in the low dword. */
    assert_int_equal(size_probe(t, 2), 0x0000000c);
    assert_int_equal(size_probe(t, 3), 0xfffffffe);
    /* 16 KiB MEM64: the upper dword is all address. */
    assert_int_equal(size_probe(t, 4), 0xffffc004);
    assert_int_equal(size_probe(t, 5), 0xffffffff);
    cfg_wr(t, 0x04, cmd, 2);
}

static void test_bar_addresses(void **state)
{
    struct tdev *t = *state;

    cfg_wr(t, 0x10, 0xc0e5, 4);
    assert_int_equal(cfg_rd(t, 0x10, 4), 0xc0e1);       /* below 32 B gone */
    cfg_wr(t, 0x14, 0xfebf1234, 4);
    assert_int_equal(cfg_rd(t, 0x14, 4), 0xfebf1000);
    cfg_wr(t, 0x18, 0x80000000, 4);
    cfg_wr(t, 0x1c, 0x00000013, 4);
    assert_int_equal(cfg_rd(t, 0x18, 4), 0x0000000c);   /* 8 GiB aligned */
    assert_int_equal(cfg_rd(t, 0x1c, 4), 0x00000012);
    cfg_wr(t, 0x20, 0xfe000000, 4);
    cfg_wr(t, 0x24, 0x00000080, 4);
    assert_int_equal(cfg_rd(t, 0x20, 4), 0xfe000004);
    assert_int_equal(cfg_rd(t, 0x24, 4), 0x00000080);
    /* Byte writes go through the same masks. */
    cfg_wr(t, 0x15, 0xff, 1);
    assert_int_equal(cfg_rd(t, 0x14, 4), 0xfebff000);
}

static void test_unimplemented_bars(void **state)
{
    struct tdev *t = *state;
    unsigned int bar;

    for (bar = 0; bar < 6; bar++) {
        assert_int_equal(cfg_rd(t, 0x10 + 4 * bar, 4), 0);
        assert_int_equal(size_probe(t, bar), 0);
    }
    /* No expansion ROM. */
    cfg_wr(t, 0x30, 0xfffff801, 4);
    assert_int_equal(cfg_rd(t, 0x30, 4), 0);
}

/* ---- command and status ----------------------------------------------------------- */

static void test_command_writable_bits(void **state)
{
    struct tdev *t = *state;
    struct tdev *bare = tdev_create(0), *memonly = tdev_create(0);

    cfg_wr(t, 0x04, 0xffff, 2);
    assert_int_equal(cfg_rd(t, 0x04, 2), 0x0547);
    assert_true(uvfio_pci_io_enabled(t->pci));
    assert_true(uvfio_pci_mem_enabled(t->pci));
    assert_true(uvfio_pci_bus_master(t->pci));
    cfg_wr(t, 0x04, 0x0000, 2);
    assert_false(uvfio_pci_io_enabled(t->pci));
    assert_false(uvfio_pci_mem_enabled(t->pci));
    assert_false(uvfio_pci_bus_master(t->pci));

    /* Enables for resources a function lacks are hardwired to 0. */
    cfg_wr(bare, 0x04, 0xffff, 2);
    assert_int_equal(cfg_rd(bare, 0x04, 2), 0x0544);
    assert_int_equal(uvfio_pci_add_bar(memonly->pci, 2, 4096,
                                       UVFIO_PCI_BAR_MEM32, NULL), 0);
    cfg_wr(memonly, 0x04, 0xffff, 2);
    assert_int_equal(cfg_rd(memonly, 0x04, 2), 0x0546);
    tdev_destroy(bare);
    tdev_destroy(memonly);
}

static void test_status_register(void **state)
{
    struct tdev *t = *state;
    struct tdev *bare = tdev_create(0);

    assert_int_equal(cfg_rd(t, 0x06, 2), 0x0010);       /* caps list */
    assert_int_equal(cfg_rd(bare, 0x06, 2), 0x0000);
    assert_int_equal(cfg_rd(bare, 0x34, 1), 0);
    /* Nothing the guest writes sets a status bit; the W1C error bits
     * are exercised with a loaded state in test_state.c. */
    cfg_wr(t, 0x06, 0xffff, 2);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0x0010);
    cfg_wr(t, 0x04, 0xffff0000u | 0x0002, 4);
    assert_int_equal(cfg_rd(t, 0x04, 4), 0x00100002);
    tdev_destroy(bare);
}

/* ---- access shapes ------------------------------------------------------------------ */

static void test_access_sizes(void **state)
{
    struct tdev *t = *state;
    uint8_t all[4096], b[8];
    uint32_t off;

    assert_int_equal(cfg_rw_raw(t, 0, all, sizeof(all), false), 4096);
    for (off = 0; off < 0x40; off++)
        assert_int_equal(cfg_rd(t, off, 1), all[off]);
    /* Unaligned word and three-byte accesses see the same bytes. */
    assert_int_equal(cfg_rd(t, 0x01, 2), all[1] | all[2] << 8);
    assert_int_equal(cfg_rd(t, 0x09, 3), TDEV_CLASS);
    assert_int_equal(cfg_rw_raw(t, 0x3b, b, 3, false), 3);
    assert_memory_equal(b, all + 0x3b, 3);
    /* An unaligned write spanning line and pin changes only the line. */
    b[0] = 0x0a;
    b[1] = 0x09;
    assert_int_equal(cfg_rw_raw(t, 0x3c, b, 2, true), 2);
    assert_int_equal(cfg_rd(t, 0x3c, 2), 0x010a);
    /* Past the end of config space: the core refuses. */
    assert_true(cfg_rw_raw(t, 4096, b, 1, false) < 0);
    assert_true(cfg_rw_raw(t, 4094, b, 4, false) < 0);
    assert_true(cfg_rw_raw(t, 4095, b, 1, false) == 1);
}

static void test_conventional_is_256_bytes(void **state)
{
    struct tdev *t = *state;
    uint8_t b[4];

    assert_int_equal(cfg_rw_raw(t, 252, b, 4, false), 4);
    assert_true(cfg_rw_raw(t, 256, b, 4, false) < 0);
    assert_true(cfg_rw_raw(t, 254, b, 4, true) < 0);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, b, 4, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_pcie(t->pci), -EINVAL);
}

static void test_config_written_callback(void **state)
{
    struct tdev *t = *state;

    assert_int_equal(t->cfg_written, 0);
    cfg_wr(t, 0x04, 0x0002, 2);
    assert_int_equal(t->cfg_written, 1);
    assert_int_equal(t->cfg_written_off, 0x04);
    assert_int_equal(t->cfg_written_len, 2);
    /* A write that changes nothing is still reported; reads are not. */
    cfg_wr(t, 0x00, 0, 4);
    cfg_rd(t, 0x04, 2);
    assert_int_equal(t->cfg_written, 2);
    assert_int_equal(t->cfg_written_off, 0x00);
    assert_int_equal(t->cfg_written_len, 4);
}

static void test_config_read_for_drivers(void **state)
{
    struct tdev *t = *state;

    assert_int_equal(uvfio_pci_config_read(t->pci, 0, 4),
                     TDEV_VENDOR | (uint32_t)TDEV_DEVICE << 16);
    assert_int_equal(uvfio_pci_config_read(t->pci, 0x2e, 2), TDEV_SSID);
    assert_int_equal(uvfio_pci_config_read(t->pci, 0x08, 1), TDEV_REV);
    cfg_wr(t, 0x04, 0x0006, 2);
    assert_int_equal(uvfio_pci_config_read(t->pci, 0x04, 2), 0x0006);
    assert_int_equal(uvfio_pci_config_read(t->pci, 0, 3), UINT32_MAX);
    assert_int_equal(uvfio_pci_config_read(t->pci, 4096, 1), UINT32_MAX);
    assert_int_equal(uvfio_pci_config_read(t->pci, 4094, 4), UINT32_MAX);
    assert_int_equal(uvfio_pci_config_read(NULL, 0, 4), UINT32_MAX);
}

/* ---- decode gating ----------------------------------------------------------------------- */

static void test_decode_gating(void **state)
{
    struct tdev *t = *state;
    uint8_t buf[8], ones[8];
    unsigned int reads, writes;

    memset(ones, 0xff, sizeof(ones));
    memset(t->io, 0x11, sizeof(t->io));
    memset(t->mem4, 0x22, sizeof(t->mem4));

    /* Decode off: the function does not answer; the driver never hears. */
    reads = t->driver_reads;
    writes = t->driver_writes;
    assert_int_equal(bar_rd(t, 0, 0, buf, 4), 4);
    assert_memory_equal(buf, ones, 4);
    assert_int_equal(bar_rd(t, 4, 8, buf, 8), 8);
    assert_memory_equal(buf, ones, 8);
    assert_int_equal(bar_rd(t, 1, 0, buf, 4), 4);       /* MSI-X table */
    assert_memory_equal(buf, ones, 4);
    memset(buf, 0x99, sizeof(buf));
    assert_int_equal(bar_wr(t, 0, 0, buf, 4), 4);
    assert_int_equal(bar_wr(t, 4, 0, buf, 8), 8);
    assert_int_equal(t->driver_reads, reads);
    assert_int_equal(t->driver_writes, writes);
    assert_int_equal(t->io[0], 0x11);
    assert_int_equal(t->mem4[0], 0x22);

    /* IO on, memory still off. */
    cfg_wr(t, 0x04, 0x0001, 2);
    assert_int_equal(bar_rd(t, 0, 0, buf, 4), 4);
    assert_int_equal(buf[0], 0x11);
    assert_int_equal(bar_rd(t, 4, 0, buf, 4), 4);
    assert_memory_equal(buf, ones, 4);

    /* Memory on. */
    cfg_wr(t, 0x04, 0x0002, 2);
    assert_int_equal(bar_rd(t, 4, 0, buf, 4), 4);
    assert_int_equal(buf[0], 0x22);
    assert_int_equal(bar_rd(t, 0, 0, buf, 4), 4);
    assert_memory_equal(buf, ones, 4);
    memset(buf, 0x33, 4);
    assert_int_equal(bar_wr(t, 4, 4, buf, 4), 4);
    assert_int_equal(t->mem4[4], 0x33);
    assert_int_equal(bar_rd(t, 2, 0x1ffffff00ull, buf, 8), 8);
    assert_int_equal(buf[7], 0xa5);
}

static void test_d3hot_stops_decode(void **state)
{
    struct tdev *t = *state;
    uint32_t pmcsr = (uint32_t)t->cap_pm + 4;
    uint8_t buf[4];

    memset(t->mem4, 0x22, sizeof(t->mem4));
    cfg_wr(t, 0x04, 0x0002, 2);
    cfg_wr(t, pmcsr, 0x0003, 2);
    assert_int_equal(cfg_rd(t, pmcsr, 2) & 3, 3);
    assert_int_equal(bar_rd(t, 4, 0, buf, 4), 4);
    assert_int_equal(buf[0], 0xff);
    /* Config space still answers in D3hot; back to D0 decodes again and,
     * with No_Soft_Reset, keeps its configuration. */
    cfg_wr(t, pmcsr, 0x0000, 2);
    assert_int_equal(cfg_rd(t, 0x04, 2), 0x0002);
    assert_int_equal(bar_rd(t, 4, 0, buf, 4), 4);
    assert_int_equal(buf[0], 0x22);
}

static void test_pm_states(void **state)
{
    struct tdev *t = *state;
    uint32_t pm = (uint32_t)t->cap_pm;

    assert_int_equal(cfg_rd(t, pm, 1), 0x01);
    assert_int_equal(cfg_rd(t, pm + 2, 2) & 0x7, 3);     /* PM 1.2 */
    assert_int_equal(cfg_rd(t, pm + 2, 2) & 0x0600, 0);  /* no D1/D2 */
    assert_int_equal(cfg_rd(t, pm + 4, 2), 0x0008);      /* No_Soft_Reset */
    /* D1 and D2 are not offered: such writes leave the state alone. */
    cfg_wr(t, pm + 4, 0x0001, 2);
    assert_int_equal(cfg_rd(t, pm + 4, 2), 0x0008);
    cfg_wr(t, pm + 4, 0x0003, 2);
    cfg_wr(t, pm + 4, 0x0002, 2);
    assert_int_equal(cfg_rd(t, pm + 4, 2), 0x000b);
    /* No PME: PME_En and PME_Status stay 0. */
    cfg_wr(t, pm + 4, 0xffff, 2);
    assert_int_equal(cfg_rd(t, pm + 4, 2), 0x000b);
    cfg_wr(t, pm + 4, 0x0000, 2);
    assert_int_equal(cfg_rd(t, pm + 4, 2), 0x0008);
}

static void test_pcie_registers(void **state)
{
    struct tdev *t = *state;
    uint32_t x = (uint32_t)t->cap_pcie;

    assert_int_equal(cfg_rd(t, x, 1), 0x10);
    assert_int_equal(cfg_rd(t, x + 2, 2), 0x0002);      /* v2 endpoint */
    assert_int_equal(cfg_rd(t, x + 8, 2), 0x2810);
    cfg_wr(t, x + 8, 0xffff, 2);
    /* FLR, aux power, phantom functions, extended tags: not supported. */
    assert_int_equal(cfg_rd(t, x + 8, 2), 0x78ff);
    /* Device status: error bits are W1C and clear; nothing else moves. */
    cfg_wr(t, x + 0x0a, 0xffff, 2);
    assert_int_equal(cfg_rd(t, x + 0x0a, 2), 0);
    assert_int_equal(cfg_rd(t, x + 0x12, 2), 0x1011);   /* x1 2.5 GT/s */
    cfg_wr(t, x + 0x12, 0xffff, 2);
    assert_int_equal(cfg_rd(t, x + 0x12, 2), 0x1011);
    assert_int_equal(cfg_rd(t, x + 0x2c, 4), 0x2);
}

/* ---- hostile writes -------------------------------------------------------------------- */

/* What must hold whatever a guest wrote: identity, the capability chain
 * and the extended chain exactly as built. */
static void assert_invariants(struct tdev *t, const uint8_t *chain_ref)
{
    uint8_t now[4096];
    uint32_t pos, n = 0;

    assert_int_equal(cfg_rd(t, 0x00, 4), TDEV_VENDOR | TDEV_DEVICE << 16);
    assert_int_equal(cfg_rd(t, 0x08, 4), TDEV_REV | TDEV_CLASS << 8);
    assert_int_equal(cfg_rd(t, 0x0e, 1), 0);
    assert_int_equal(cfg_rw_raw(t, 0, now, sizeof(now), false), 4096);
    for (pos = now[0x34]; pos; pos = now[pos + 1]) {
        assert_true(pos >= 0x40 && pos < 0x100 && !(pos & 3));
        assert_int_equal(now[pos], chain_ref[pos]);
        assert_int_equal(now[pos + 1], chain_ref[pos + 1]);
        assert_true(++n <= 48);
    }
    assert_int_equal(n, 5);
    assert_memory_equal(now + 0x100, chain_ref + 0x100, 4);
    assert_memory_equal(now + 0x10c, chain_ref + 0x10c, 4);
    /* Multiple Message Enable never exceeds what is capable. */
    assert_true(((now[t->cap_msi + 2] >> 4) & 7) <= 2);
    /* Power state never lands on an unsupported D1/D2. */
    assert_true((now[t->cap_pm + 4] & 3) == 0 || (now[t->cap_pm + 4] & 3) == 3);
}

static void test_whole_space_writes(void **state)
{
    struct tdev *t = *state;
    static uint8_t ref[4096], buf[4096];

    assert_int_equal(cfg_rw_raw(t, 0, ref, sizeof(ref), false), 4096);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(cfg_rw_raw(t, 0, buf, sizeof(buf), true), 4096);
    assert_invariants(t, ref);
    assert_int_equal(cfg_rd(t, 0x04, 2), 0x0547);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0x0010);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(cfg_rw_raw(t, 0, buf, sizeof(buf), true), 4096);
    assert_invariants(t, ref);
    assert_int_equal(cfg_rd(t, 0x04, 2), 0);
}

/* Deterministic pseudo-random writes of every size at every offset. */
static void test_random_writes(void **state)
{
    struct tdev *t = *state;
    static uint8_t ref[4096];
    uint8_t buf[64];
    uint32_t x = 0x12345678, i, j, off, len;

    assert_int_equal(cfg_rw_raw(t, 0, ref, sizeof(ref), false), 4096);
    for (i = 0; i < 3000; i++) {
        x = x * 1103515245u + 12345u;
        off = (x >> 8) % ((i & 1) ? 0x100 : 4096);
        len = 1 + (x >> 24) % sizeof(buf);
        if (len > 4096 - off)
            len = 4096 - off;
        for (j = 0; j < len; j++) {
            x = x * 1103515245u + 12345u;
            buf[j] = (uint8_t)(x >> 16);
        }
        assert_int_equal(cfg_rw_raw(t, off, buf, len, true), len);
        if (!(i % 100))
            assert_invariants(t, ref);
    }
    assert_invariants(t, ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attach_rules),
        cmocka_unit_test_setup_teardown(test_ids_read_only, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_latency_timer, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_line_and_pin,
                                        setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bar_addresses, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unimplemented_bars, setup_bare,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_writable_bits,
                                        setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_status_register, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_access_sizes, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conventional_is_256_bytes,
                                        setup_full_conv, teardown),
        cmocka_unit_test_setup_teardown(test_config_written_callback,
                                        setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_config_read_for_drivers,
                                        setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_decode_gating, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_d3hot_stops_decode, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pm_states, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pcie_registers, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_whole_space_writes, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_writes, setup_full,
                                        teardown),
    };

    return cmocka_run_group_tests_name("pci-config", tests, NULL, NULL);
}
