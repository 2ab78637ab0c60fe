// SPDX-License-Identifier: MIT
/*
 * uvfio-info's config-space decoder on hand-made config spaces: the
 * serial device's own, a PCIe function with every capability decoded,
 * and hostile ones (loops, pointers out of range, caps running off the
 * end) that must be reported, not followed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pcidesc.h"

static uint8_t cfg[4096];
static uint64_t sizes[7];
static struct pcidesc d;

static void put16(unsigned int off, uint16_t v)
{
    cfg[off] = v & 0xff;
    cfg[off + 1] = v >> 8;
}

static void put32(unsigned int off, uint32_t v)
{
    put16(off, v & 0xffff);
    put16(off + 2, v >> 16);
}

static int reset(void **state)
{
    (void)state;
    memset(cfg, 0, sizeof(cfg));
    memset(sizes, 0, sizeof(sizes));
    return 0;
}

/* QEMU's pci-serial as uvfio-serial reproduces it. */
static void make_serial(void)
{
    put16(0x00, 0x1b36);
    put16(0x02, 0x0002);
    cfg[0x08] = 1;
    cfg[0x09] = 0x02;
    cfg[0x0a] = 0x00;
    cfg[0x0b] = 0x07;
    put32(0x10, 0x1);                   /* I/O BAR */
    put16(0x2c, 0x1af4);
    put16(0x2e, 0x1100);
    cfg[0x3d] = 1;
    sizes[0] = 8;
}

static void add_cap(unsigned int off, uint8_t id, unsigned int next)
{
    cfg[off] = id;
    cfg[off + 1] = (uint8_t)next;
}

static void test_serial_identity(void **state)
{
    (void)state;
    make_serial();
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.vendor_id, 0x1b36);
    assert_int_equal(d.device_id, 0x0002);
    assert_int_equal(d.subsys_vendor_id, 0x1af4);
    assert_int_equal(d.subsys_id, 0x1100);
    assert_int_equal(d.revision, 1);
    assert_int_equal(d.class_base, 0x07);
    assert_int_equal(d.prog_if, 0x02);
    assert_string_equal(pcidesc_class_name(d.class_base, d.class_sub),
                        "Serial controller");
    assert_int_equal(d.int_pin, 1);
    assert_true(d.bars[0].present);
    assert_true(d.bars[0].io);
    assert_int_equal(d.bars[0].size, 8);
    for (int i = 1; i < 6; i++)
        assert_false(d.bars[i].present);
    assert_false(d.rom.present);
    assert_int_equal(d.nr_caps, 0);
    assert_null(d.cap_error);
}

static void test_short_config_refused(void **state)
{
    (void)state;
    assert_int_equal(pcidesc_decode(cfg, 63, sizes, &d), -EINVAL);
    /* a 64-byte header alone decodes, without capabilities */
    make_serial();
    put16(0x06, 0x10);
    cfg[0x34] = 0x40;
    assert_int_equal(pcidesc_decode(cfg, 64, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 0);
}

static void test_bars_64bit_and_rom(void **state)
{
    (void)state;
    put32(0x10, 0xfe000000);            /* mem32 */
    put32(0x18, 0x0000000c | 0x80000000);   /* mem64 prefetchable */
    put32(0x1c, 0x00000001);
    put32(0x30, 0xfff80001);
    sizes[0] = 4096;
    sizes[2] = 1u << 20;
    sizes[6] = 1u << 19;
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_false(d.bars[0].mem64);
    assert_int_equal(d.bars[0].addr, 0xfe000000);
    assert_true(d.bars[2].mem64);
    assert_true(d.bars[2].prefetch);
    assert_int_equal(d.bars[2].addr, 0x180000000ull);
    assert_int_equal(d.bars[2].size, 1u << 20);
    assert_true(d.bars[3].upper_half);
    assert_true(d.rom.present);
    assert_true(d.rom.enabled);
    assert_int_equal(d.rom.addr, 0xfff80000);
    /* a 64-bit type in BAR5 has no upper half to take */
    reset(NULL);
    put32(0x24, 0x4);
    sizes[5] = 16;
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_false(d.bars[5].mem64);
}

static void test_all_caps(void **state)
{
    (void)state;
    put16(0x06, 0x10);                  /* capability list */
    cfg[0x34] = 0x40;
    /* PM v3, D1 D2, PME from D3hot, in D3hot */
    add_cap(0x40, 0x01, 0x50);
    put16(0x42, 0x3 | 1u << 9 | 1u << 10 | 1u << 14);
    put16(0x44, 0x3 | 1u << 3);
    /* MSI: 4 vectors, 64-bit, per-vector mask, enabled with 2 */
    add_cap(0x50, 0x05, 0x70);
    put16(0x52, 1 | 2u << 1 | 1u << 4 | 1u << 7 | 1u << 8);
    put32(0x54, 0xfee00000);
    put32(0x58, 0x1);
    put16(0x5c, 0x4021);
    put32(0x60, 0x2);
    put32(0x64, 0x1);
    /* MSI-X: 8 entries, table BAR1+0, PBA BAR1+0x800 */
    add_cap(0x70, 0x11, 0x80);
    put16(0x72, 7 | 1u << 14);
    put32(0x74, 0x1);
    put32(0x78, 0x801);
    /* PCIe v2 endpoint */
    add_cap(0x80, 0x10, 0xc0);
    put16(0x82, 0x2);
    put32(0x84, 0x1 | 1u << 28);        /* 256-byte payload, FLR */
    put16(0x88, 0x2 << 12);             /* MaxReadReq 512 */
    put32(0x8c, 0x1 | 1u << 4);         /* 2.5GT/s x1 */
    put16(0x92, 0x1 | 1u << 4);
    /* a vendor cap, then one nobody knows */
    add_cap(0xc0, 0x09, 0xd0);
    cfg[0xc2] = 8;
    add_cap(0xd0, 0x7f, 0);
    /* extended: AER at 0x100, DSN at 0x140 */
    put32(0x100, 0x0001 | 1u << 16 | 0x140u << 20);
    put32(0x140, 0x0003 | 1u << 16);
    put32(0x144, 0x89abcdef);
    put32(0x148, 0x01234567);

    assert_int_equal(pcidesc_decode(cfg, 4096, sizes, &d), 0);
    assert_null(d.cap_error);
    assert_int_equal(d.nr_caps, 8);

    assert_int_equal(d.caps[0].kind, PCIDESC_CAP_PM);
    assert_int_equal(d.caps[0].u.pm.version, 3);
    assert_true(d.caps[0].u.pm.d1 && d.caps[0].u.pm.d2);
    assert_int_equal(d.caps[0].u.pm.pme_support, 0x8);
    assert_int_equal(d.caps[0].u.pm.power_state, 3);
    assert_true(d.caps[0].u.pm.no_soft_reset);

    assert_int_equal(d.caps[1].kind, PCIDESC_CAP_MSI);
    assert_true(d.caps[1].u.msi.enable);
    assert_int_equal(d.caps[1].u.msi.vectors_max, 4);
    assert_int_equal(d.caps[1].u.msi.vectors_enabled, 2);
    assert_int_equal(d.caps[1].u.msi.address, 0x1fee00000ull);
    assert_int_equal(d.caps[1].u.msi.data, 0x4021);
    assert_int_equal(d.caps[1].u.msi.mask, 2);
    assert_int_equal(d.caps[1].u.msi.pending, 1);

    assert_int_equal(d.caps[2].kind, PCIDESC_CAP_MSIX);
    assert_int_equal(d.caps[2].u.msix.table_size, 8);
    assert_true(d.caps[2].u.msix.function_mask);
    assert_false(d.caps[2].u.msix.enable);
    assert_int_equal(d.caps[2].u.msix.table_bar, 1);
    assert_int_equal(d.caps[2].u.msix.pba_offset, 0x800);

    assert_int_equal(d.caps[3].kind, PCIDESC_CAP_PCIE);
    assert_int_equal(d.caps[3].u.pcie.version, 2);
    assert_string_equal(pcidesc_pcie_type_name(d.caps[3].u.pcie.port_type),
                        "Endpoint");
    assert_int_equal(pcidesc_payload_bytes(d.caps[3].u.pcie.devcap & 7), 256);
    assert_int_equal(pcidesc_payload_bytes(d.caps[3].u.pcie.devctl >> 12), 512);
    assert_true(d.caps[3].u.pcie.has_link);
    assert_int_equal(d.caps[3].u.pcie.lnksta & 0x3ff, 0x11);

    assert_int_equal(d.caps[4].kind, PCIDESC_CAP_VNDR);
    assert_int_equal(d.caps[4].u.vndr_len, 8);
    assert_int_equal(d.caps[5].kind, PCIDESC_CAP_OTHER);
    assert_null(pcidesc_cap_name(d.caps[5].id));

    assert_true(d.caps[6].ext);
    assert_int_equal(d.caps[6].id, 1);
    assert_string_equal(pcidesc_ext_cap_name(1), "Advanced Error Reporting");
    assert_int_equal(d.caps[7].kind, PCIDESC_EXT_DSN);
    assert_int_equal(d.caps[7].offset, 0x140);
    assert_int_equal(d.caps[7].u.dsn, 0x0123456789abcdefull);
}

static void test_caps_ignored_without_status_bit(void **state)
{
    (void)state;
    cfg[0x34] = 0x40;
    add_cap(0x40, 0x01, 0);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 0);
}

static void test_cap_loop(void **state)
{
    (void)state;
    put16(0x06, 0x10);
    cfg[0x34] = 0x40;
    add_cap(0x40, 0x01, 0x48);
    add_cap(0x48, 0x05, 0x40);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 2);
    assert_non_null(d.cap_error);
    assert_non_null(strstr(d.cap_error, "loop"));
    /* a capability pointing at itself */
    add_cap(0x40, 0x01, 0x40);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 1);
    assert_non_null(d.cap_error);
}

static void test_cap_pointer_out_of_range(void **state)
{
    (void)state;
    put16(0x06, 0x10);
    cfg[0x34] = 0x10;                   /* into the header */
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 0);
    assert_non_null(strstr(d.cap_error, "out of range"));
    /* the low two bits are reserved and ignored, as the spec says */
    cfg[0x34] = 0x43;
    add_cap(0x40, 0x01, 0);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 1);
    assert_int_equal(d.caps[0].offset, 0x40);
}

static void test_cap_running_off_the_end(void **state)
{
    (void)state;
    put16(0x06, 0x10);
    cfg[0x34] = 0xf8;
    add_cap(0xf8, 0x05, 0xfc);
    put16(0xfa, 1u << 7 | 1u << 8);     /* 64-bit maskable: 24 bytes */
    add_cap(0xfc, 0x10, 0);             /* PCIe needs 20 bytes */
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 2);
    assert_true(d.caps[0].truncated);
    assert_true(d.caps[1].truncated);
    assert_null(d.cap_error);
}

static void test_many_caps(void **state)
{
    (void)state;
    /* every dword slot from 0x40 up chained in order: 48 capabilities */
    put16(0x06, 0x10);
    cfg[0x34] = 0x40;
    for (unsigned int off = 0x40; off < 0x100; off += 4)
        add_cap(off, 0x7e, off + 4 < 0x100 ? off + 4 : 0);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 48);
    assert_null(d.cap_error);
}

static void test_ext_cap_hostile(void **state)
{
    (void)state;
    /* loop */
    put32(0x100, 0x0001 | 0x200u << 20);
    put32(0x200, 0x0002 | 0x100u << 20);
    assert_int_equal(pcidesc_decode(cfg, 4096, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 2);
    assert_non_null(strstr(d.cap_error, "loops"));
    /* next pointing back into standard config space */
    put32(0x200, 0x0002 | 0x040u << 20);
    assert_int_equal(pcidesc_decode(cfg, 4096, sizes, &d), 0);
    assert_non_null(strstr(d.cap_error, "out of range"));
    /* a DSN at the very end cannot hold its 8 bytes */
    put32(0x100, 0x0001 | 0xffcu << 20);
    put32(0xffc, 0x0003);
    assert_int_equal(pcidesc_decode(cfg, 4096, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 2);
    assert_true(d.caps[1].truncated);
    /* all ones: no extended capabilities */
    put32(0x100, 0xffffffff);
    assert_int_equal(pcidesc_decode(cfg, 4096, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 0);
    /* not looked at in a 256-byte config space */
    put32(0x100, 0x0001);
    assert_int_equal(pcidesc_decode(cfg, 256, sizes, &d), 0);
    assert_int_equal(d.nr_caps, 0);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(pcidesc_class_name(0x02, 0x00), "Ethernet controller");
    assert_string_equal(pcidesc_class_name(0x02, 0x80), "Network controller");
    assert_null(pcidesc_class_name(0x40, 0x00));
    assert_string_equal(pcidesc_cap_name(0x11), "MSI-X");
    assert_null(pcidesc_cap_name(0xffff));
    assert_null(pcidesc_ext_cap_name(0x14));
    assert_null(pcidesc_ext_cap_name(0xffff));
    assert_null(pcidesc_pcie_type_name(0x2));
    assert_null(pcidesc_pcie_type_name(0xf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_serial_identity, reset),
        cmocka_unit_test_setup(test_short_config_refused, reset),
        cmocka_unit_test_setup(test_bars_64bit_and_rom, reset),
        cmocka_unit_test_setup(test_all_caps, reset),
        cmocka_unit_test_setup(test_caps_ignored_without_status_bit, reset),
        cmocka_unit_test_setup(test_cap_loop, reset),
        cmocka_unit_test_setup(test_cap_pointer_out_of_range, reset),
        cmocka_unit_test_setup(test_cap_running_off_the_end, reset),
        cmocka_unit_test_setup(test_many_caps, reset),
        cmocka_unit_test_setup(test_ext_cap_hostile, reset),
        cmocka_unit_test_setup(test_names, reset),
    };

    return cmocka_run_group_tests_name("info-pcidesc", tests, NULL, NULL);
}
