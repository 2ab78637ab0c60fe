// SPDX-License-Identifier: MIT
/*
 * tests/pci/test_state.c - save/load of the model's state, the refusal of
 * every kind of bad blob, write-1-to-clear bits, and device reset.
 *
 * The blob layout is the one documented in src/pci/state.c; the tests
 * build hostile blobs from good ones, re-sealing the checksum so that the
 * deeper checks are the ones that must catch them.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

#define HDR             32
#define CRC_OFF         24
#define CFG(off)        (HDR + (off))

static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    unsigned int k;

    while (len--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void reseal(uint8_t *b, size_t len)
{
    put32(b + CRC_OFF, 0);
    put32(b + CRC_OFF, crc32_ieee(b, len));
}

static uint8_t *save(struct tdev *t, size_t *len)
{
    size_t n = uvfio_pci_state_size(t->pci);
    uint8_t *b = malloc(n + 16);

    assert_non_null(b);
    assert_int_equal(uvfio_pci_save_state(t->pci, b, n + 16), n);
    *len = n;
    return b;
}

static void read_config(struct tdev *t, uint8_t *out)
{
    assert_int_equal(cfg_rw_raw(t, 0, out, 4096, false), 4096);
}

static int setup(void **state)
{
    *state = tdev_create(TDEV_FULL | TDEV_PCIE);
    return 0;
}

static int teardown(void **state)
{
    tdev_destroy(*state);
    return 0;
}

/* A device a guest has been using: every kind of register touched. */
static void dirty_up(struct tdev *t, int msix_efd[TDEV_MSIX_VECS])
{
    uint32_t m = (uint32_t)t->cap_msi, x = (uint32_t)t->cap_msix + 2;
    unsigned int v;

    cfg_wr(t, 0x10, 0xc000, 4);
    cfg_wr(t, 0x14, 0xfe000000, 4);
    cfg_wr(t, 0x1c, 0x12, 4);
    cfg_wr(t, 0x20, 0xfd000000, 4);
    cfg_wr(t, 0x3c, 0x0b, 1);
    cfg_wr(t, 0x04, 0x0007, 2);
    cfg_wr(t, m + 4, 0xfee01000, 4);
    cfg_wr(t, m + 12, 0x4051, 2);
    cfg_wr(t, m + 16, 0x5, 4);
    cfg_wr(t, (uint32_t)t->cap_vndr + 4, 0x99, 1);
    cfg_wr(t, (uint32_t)t->cap_pcie + 8, 0x2030, 2);
    cfg_wr(t, 0x114, 0xbeef, 2);
    for (v = 0; v < TDEV_MSIX_VECS; v++) {
        bar_wr32(t, 1, v * 16, 0xfee00000 + v * 0x1000);
        bar_wr32(t, 1, v * 16 + 8, 0x4060 + v);
        bar_wr32(t, 1, v * 16 + 12, v == 2 || v == 3);
    }
    if (msix_efd)
        assert_int_equal(irq_set_eventfds(t, UVFIO_PCI_MSIX_IRQ_INDEX, 0,
                                          TDEV_MSIX_VECS, msix_efd), 0);
    cfg_wr(t, x, 0x8000, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 2), 0);   /* now pending */
    uvfio_pci_set_intx(t->pci, true);
}

static void test_round_trip(void **state)
{
    struct tdev *src = *state, *dst = tdev_create(TDEV_FULL | TDEV_PCIE);
    static uint8_t a[4096], b[4096];
    uint8_t ta[0x80], tb[0x80];
    int efd[TDEV_MSIX_VECS];
    unsigned int v;
    uint8_t *blob;
    size_t len;

    for (v = 0; v < TDEV_MSIX_VECS; v++)
        efd[v] = efd_new();
    dirty_up(src, NULL);
    blob = save(src, &len);
    assert_int_equal(len, 32 + 4096 + 8 * 16 + 8);
    assert_int_equal(uvfio_pci_load_state(dst->pci, blob, len), 0);

    read_config(src, a);
    read_config(dst, b);
    assert_memory_equal(a, b, 4096);
    assert_true(b[6] & 0x8);                            /* INTx status */
    assert_int_equal(bar_rd(src, 1, 0, ta, sizeof(ta)), sizeof(ta));
    assert_int_equal(bar_rd(dst, 1, 0, tb, sizeof(tb)), sizeof(tb));
    assert_memory_equal(ta, tb, sizeof(ta));
    assert_int_equal(bar_rd32(dst, 1, TDEV_PBA_OFF), 1u << 2);

    /* It behaves as the source did: the pending vector goes on unmask,
     * the still-masked one pends, the unmasked ones are sent. */
    assert_int_equal(irq_set_eventfds(dst, UVFIO_PCI_MSIX_IRQ_INDEX, 0,
                                      TDEV_MSIX_VECS, efd), 0);
    assert_int_equal(uvfio_pci_notify(dst->pci, 3), 0);
    assert_int_equal(efd_take(efd[3]), 0);
    assert_int_equal(uvfio_pci_notify(dst->pci, 5), 0);
    assert_int_equal(efd_take(efd[5]), 1);
    bar_wr32(dst, 1, 2 * 16 + 12, 0);
    assert_int_equal(efd_take(efd[2]), 1);
    assert_int_equal(bar_rd32(dst, 1, TDEV_PBA_OFF), 1u << 3);

    /* And a blob of the loaded state is the source's blob. */
    {
        size_t len2;
        uint8_t *again;

        bar_wr32(dst, 1, 2 * 16 + 12, 1);
        assert_int_equal(uvfio_pci_notify(dst->pci, 2), 0);
        bar_wr32(src, 1, 3 * 16 + 12, 0);
        bar_wr32(src, 1, 3 * 16 + 12, 1);
        assert_int_equal(uvfio_pci_notify(src->pci, 3), 0);
        free(blob);
        blob = save(src, &len);
        again = save(dst, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(blob, again, len);
        free(again);
    }
    free(blob);
    for (v = 0; v < TDEV_MSIX_VECS; v++)
        close(efd[v]);
    tdev_destroy(dst);
}

static void test_save_needs_room(void **state)
{
    struct tdev *t = *state;
    size_t n = uvfio_pci_state_size(t->pci);
    uint8_t *b = malloc(n);

    assert_int_equal(uvfio_pci_save_state(t->pci, NULL, 0), -ENOSPC);
    assert_int_equal(uvfio_pci_save_state(t->pci, b, n - 1), -ENOSPC);
    assert_int_equal(uvfio_pci_save_state(t->pci, NULL, n), -EINVAL);
    assert_int_equal(uvfio_pci_save_state(t->pci, b, n), n);
    free(b);
    assert_int_equal(uvfio_pci_state_size(NULL), 0);
}

/* Every corruption is refused and leaves the device as it was. */
static void expect_refused(struct tdev *t, const uint8_t *blob, size_t len)
{
    static uint8_t before[4096], after[4096];

    read_config(t, before);
    assert_int_equal(uvfio_pci_load_state(t->pci, blob, len), -EINVAL);
    read_config(t, after);
    assert_memory_equal(before, after, 4096);
}

static void mutate(struct tdev *t, const uint8_t *good, size_t len,
                   size_t at, uint8_t xor_bits, bool seal)
{
    uint8_t *b = malloc(len);

    memcpy(b, good, len);
    b[at] ^= xor_bits;
    if (seal)
        reseal(b, len);
    expect_refused(t, b, len);
    free(b);
}

static void test_load_refuses_bad_blobs(void **state)
{
    struct tdev *src = *state, *dst = tdev_create(TDEV_FULL | TDEV_PCIE);
    uint32_t m = (uint32_t)src->cap_msi, pm = (uint32_t)src->cap_pm;
    size_t len, table = HDR + 4096, pbao = table + 8 * 16;
    uint8_t *good, *big;

    dirty_up(src, NULL);
    good = save(src, &len);
    cfg_wr(dst, 0x3c, 0x42, 1);

    /* Sizes. */
    expect_refused(dst, good, len - 1);
    expect_refused(dst, good, 0);
    expect_refused(dst, good, HDR);
    big = calloc(1, len + 1);
    memcpy(big, good, len);
    expect_refused(dst, big, len + 1);
    free(big);
    assert_int_equal(uvfio_pci_load_state(dst->pci, NULL, len), -EINVAL);

    /* Header fields, each re-sealed so only its own check can fail. */
    mutate(dst, good, len, 0, 0x01, true);              /* magic */
    mutate(dst, good, len, 4, 0x02, true);              /* version */
    mutate(dst, good, len, 6, 0x01, true);              /* header size */
    mutate(dst, good, len, 9, 0x01, true);              /* config size */
    mutate(dst, good, len, 12, 0x01, true);             /* vectors */
    mutate(dst, good, len, 16, 0x04, true);             /* unknown flag */
    mutate(dst, good, len, 20, 0x10, true);             /* layout */
    mutate(dst, good, len, 28, 0x01, true);             /* reserved */

    /* Checksum: a flipped bit anywhere, or in the CRC itself. */
    mutate(dst, good, len, CRC_OFF, 0x01, false);
    mutate(dst, good, len, CFG(0x3c), 0x01, false);
    mutate(dst, good, len, len - 1, 0x80, false);

    /* Sealed, but not a state the guest could produce on this device. */
    mutate(dst, good, len, CFG(0x00), 0x01, true);      /* vendor id */
    mutate(dst, good, len, CFG(0x34), 0x04, true);      /* cap pointer */
    mutate(dst, good, len, CFG(0x06), 0x10, true);      /* cap list bit */
    mutate(dst, good, len, CFG(0x10), 0x02, true);      /* BAR0 reserved */
    mutate(dst, good, len, CFG(0x18), 0x80, true);      /* BAR2 size bit */
    mutate(dst, good, len, CFG(0x04), 0x08, true);      /* special cycles */
    mutate(dst, good, len, CFG(m + 2), 0x70, true);     /* MME 7 > MMC 2 */
    mutate(dst, good, len, CFG(m + 20), 0x10, true);    /* pending >= nvec */
    mutate(dst, good, len, CFG(pm + 4), 0x02, true);    /* D2 */
    mutate(dst, good, len, CFG(0x104), 0x01, true);     /* DSN */
    mutate(dst, good, len, table + 12, 0x02, true);     /* ctrl reserved */
    mutate(dst, good, len, table + 16, 0x01, true);     /* address bit 0 */
    mutate(dst, good, len, pbao + 1, 0x01, true);       /* vector 8 */

    /* A blob of a device shaped differently, though of the same size. */
    {
        struct tdev *other = tdev_create(TDEV_FULL | TDEV_PCIE);
        uint8_t b[2] = { 0 };

        assert_true(uvfio_pci_add_cap(other->pci, 0x09, b, 2, NULL) > 0);
        expect_refused(other, good, len);
        tdev_destroy(other);
    }
    /* And of a conventional device. */
    {
        struct tdev *conv = tdev_create(TDEV_FULL);
        size_t clen;
        uint8_t *cblob = save(conv, &clen);

        expect_refused(dst, cblob, clen);
        assert_int_equal(uvfio_pci_load_state(conv->pci, good, len),
                         -EINVAL);
        free(cblob);
        tdev_destroy(conv);
    }
    assert_int_equal(cfg_rd(dst, 0x3c, 1), 0x42);
    free(good);
    tdev_destroy(dst);
}

/* The error bits only the function sets; a loaded state is how the test
 * gets a function that has seen errors. */
static void test_w1c_bits(void **state)
{
    struct tdev *t = *state;
    uint32_t x = (uint32_t)t->cap_pcie;
    size_t len;
    uint8_t *b = save(t, &len);

    b[CFG(0x07)] |= 0xf9;
    b[CFG(x + 0x0a)] |= 0x0f;
    reseal(b, len);
    assert_int_equal(uvfio_pci_load_state(t->pci, b, len), 0);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0xf910);
    cfg_wr(t, 0x06, 0x2000, 2);                 /* received master abort */
    assert_int_equal(cfg_rd(t, 0x06, 2), 0xd910);
    cfg_wr(t, 0x06, 0x0000, 2);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0xd910);
    /* Writing the command half of the dword leaves status alone. */
    cfg_wr(t, 0x04, 0x00000002, 4);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0xd910);
    cfg_wr(t, 0x06, 0xd900, 2);
    assert_int_equal(cfg_rd(t, 0x06, 2), 0x0010);
    assert_int_equal(cfg_rd(t, x + 0x0a, 2), 0x000f);
    cfg_wr(t, x + 0x0a, 0x0001, 2);
    assert_int_equal(cfg_rd(t, x + 0x0a, 2), 0x000e);
    free(b);
}

/* What the model derives is derived again, not taken from the blob. */
static void test_load_rederives(void **state)
{
    struct tdev *t = *state;
    int efd = efd_new();
    size_t len;
    uint8_t *b = save(t, &len);

    assert_int_equal(irq_set_eventfds(t, UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                      &efd), 0);
    /* Status says "interrupt", the level flag says not: the flag wins. */
    b[CFG(0x06)] |= 0x08;
    reseal(b, len);
    assert_int_equal(uvfio_pci_load_state(t->pci, b, len), 0);
    assert_int_equal(cfg_rd(t, 0x06, 2) & 0x8, 0);
    assert_int_equal(efd_take(efd), 0);
    /* The level flag set: status shows it and the line goes up. */
    b[16] |= 0x01;
    reseal(b, len);
    assert_int_equal(uvfio_pci_load_state(t->pci, b, len), 0);
    assert_int_equal(cfg_rd(t, 0x06, 2) & 0x8, 0x8);
    assert_int_equal(efd_take(efd), 1);
    /* ... unless the loaded command register disables INTx. */
    uvfio_pci_set_intx(t->pci, false);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    b[CFG(0x05)] |= 0x04;
    reseal(b, len);
    assert_int_equal(uvfio_pci_load_state(t->pci, b, len), 0);
    assert_int_equal(efd_take(efd), 0);
    cfg_wr(t, 0x04, 0, 2);
    assert_int_equal(efd_take(efd), 1);
    free(b);
    close(efd);
}

static void test_reset(void **state)
{
    struct tdev *t = *state, *fresh = tdev_create(TDEV_FULL | TDEV_PCIE);
    static uint8_t a[4096], b[4096];
    unsigned int v;

    dirty_up(t, NULL);
    assert_int_equal(uvfio_core_reset(t->dev), 0);
    read_config(t, a);
    read_config(fresh, b);
    /* Power-on values everywhere but the INTx status: the line's level
     * is the driver's and it did not drop it. */
    assert_int_equal(a[6], b[6] | 0x8);
    a[6] = b[6];
    assert_memory_equal(a, b, 4096);
    uvfio_pci_set_intx(t->pci, false);
    assert_int_equal(cfg_rd(t, 0x06, 2), cfg_rd(fresh, 0x06, 2));

    cfg_wr(t, 0x04, 0x0002, 2);
    for (v = 0; v < TDEV_MSIX_VECS; v++) {
        assert_int_equal(bar_rd32(t, 1, v * 16), 0);
        assert_int_equal(bar_rd32(t, 1, v * 16 + 8), 0);
        assert_int_equal(bar_rd32(t, 1, v * 16 + 12), 1);
    }
    assert_int_equal(bar_rd32(t, 1, TDEV_PBA_OFF), 0);
    assert_false(uvfio_pci_bus_master(t->pci));
    tdev_destroy(fresh);
}

/* After a reset the table is again the client's to emulate until it is
 * written: a QEMU-style client keeps getting its MSI-X interrupts. */
static void test_reset_forgets_table_use(void **state)
{
    struct tdev *t = *state;
    int efd[TDEV_MSIX_VECS];
    unsigned int v;

    for (v = 0; v < TDEV_MSIX_VECS; v++)
        efd[v] = efd_new();
    dirty_up(t, efd);
    assert_int_equal(uvfio_core_reset(t->dev), 0);
    cfg_wr(t, 0x04, 0x0006, 2);
    cfg_wr(t, (uint32_t)t->cap_msix + 2, 0x8000, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 2), 0);
    assert_int_equal(efd_take(efd[2]), 1);
    for (v = 0; v < TDEV_MSIX_VECS; v++)
        close(efd[v]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_needs_room, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_load_refuses_bad_blobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_w1c_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_rederives, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_forgets_table_use, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("pci-state", tests, NULL, NULL);
}
