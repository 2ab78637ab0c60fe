// SPDX-License-Identifier: MIT
/*
 * tests/pci/test_caps.c - the capability lists as a guest walks them, the
 * builders' limits and refusals, and the regions and IRQ indexes the model
 * declares.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

static int setup_full(void **state)
{
    *state = tdev_create(TDEV_FULL | TDEV_PCIE);
    return 0;
}

static int setup_bare_pcie(void **state)
{
    *state = tdev_create(TDEV_PCIE);
    return 0;
}

static int teardown(void **state)
{
    tdev_destroy(*state);
    return 0;
}

struct walked {
    unsigned int n;
    uint32_t off[64];
    uint32_t id[64];
};

/* The walk Linux's pci_find_capability does, with its loop bound and the
 * sanity checks a careful guest makes on every pointer. */
static void walk_std(struct tdev *t, struct walked *w)
{
    uint32_t pos = cfg_rd(t, 0x34, 1);
    unsigned int ttl = 48, i;

    w->n = 0;
    while (pos && ttl--) {
        assert_true(pos >= 0x40 && pos < 0x100);
        assert_int_equal(pos & 3, 0);
        for (i = 0; i < w->n; i++)
            assert_int_not_equal(w->off[i], pos);
        w->off[w->n] = pos;
        w->id[w->n] = cfg_rd(t, pos, 1);
        w->n++;
        pos = cfg_rd(t, pos + 1, 1);
    }
    assert_int_equal(pos, 0);
}

static void walk_ext(struct tdev *t, struct walked *w)
{
    uint32_t pos = 0x100, hdr;
    unsigned int ttl = (4096 - 256) / 8;

    w->n = 0;
    hdr = cfg_rd(t, pos, 4);
    if (!hdr)
        return;
    while (ttl--) {
        assert_true(pos >= 0x100 && pos < 4096);
        assert_int_equal(pos & 3, 0);
        w->off[w->n] = pos;
        w->id[w->n] = hdr & 0xffff;
        w->n++;
        pos = hdr >> 20;
        if (!pos)
            return;
        assert_true(pos > w->off[w->n - 1]);
        hdr = cfg_rd(t, pos, 4);
    }
    fail_msg("extended capability list does not end");
}

static void test_std_list(void **state)
{
    struct tdev *t = *state;
    static const uint32_t ids[] = { 0x01, 0x05, 0x11, 0x10, 0x09 };
    struct walked w;
    unsigned int i;

    assert_true(cfg_rd(t, 0x06, 2) & 0x10);
    walk_std(t, &w);
    assert_int_equal(w.n, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(w.id[i], ids[i]);
    assert_int_equal(w.off[0], t->cap_pm);
    assert_int_equal(w.off[1], t->cap_msi);
    assert_int_equal(w.off[2], t->cap_msix);
    assert_int_equal(w.off[3], t->cap_pcie);
    assert_int_equal(w.off[4], t->cap_vndr);
    /* Each capability lies past the end of the one before. */
    assert_true(w.off[1] >= w.off[0] + 8);
    assert_true(w.off[2] >= w.off[1] + 0x18);
    assert_true(w.off[3] >= w.off[2] + 12);
    assert_true(w.off[4] >= w.off[3] + 0x3c);
    /* Headers are read-only. */
    cfg_wr(t, (uint32_t)t->cap_msi, 0xffff, 2);
    assert_int_equal(cfg_rd(t, (uint32_t)t->cap_msi, 1), 0x05);
    assert_int_equal(cfg_rd(t, (uint32_t)t->cap_msi + 1, 1), t->cap_msix);
}

static void test_ext_list(void **state)
{
    struct tdev *t = *state;
    struct walked w;

    walk_ext(t, &w);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.id[0], 0x0003);
    assert_int_equal(w.id[1], 0x000b);
    assert_int_equal(cfg_rd(t, 0x100, 4), 0x0003u | 1u << 16 | 0x10cu << 20);
    assert_int_equal(cfg_rd(t, 0x10c, 4), 0x000bu | 1u << 16);
    assert_int_equal(cfg_rd(t, 0x104, 4), 0x04030201);  /* DSN body */
    cfg_wr(t, 0x100, 0, 4);
    cfg_wr(t, 0x104, 0, 4);
    assert_int_equal(cfg_rd(t, 0x100, 4), 0x0003u | 1u << 16 | 0x10cu << 20);
    assert_int_equal(cfg_rd(t, 0x104, 4), 0x04030201);
    /* The vendor one's wmask makes bytes 4-5 of its body writable. */
    cfg_wr(t, 0x110, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, 0x110, 4), 0xddccbbaa);
    cfg_wr(t, 0x114, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, 0x114, 4), 0x0000ffff);
}

static void test_no_ext_caps(void **state)
{
    struct tdev *t = *state;

    /* "No extended capabilities" reads as a zero header at 0x100. */
    assert_int_equal(cfg_rd(t, 0x100, 4), 0);
    assert_int_equal(cfg_rd(t, 0x34, 1), 0);
    assert_int_equal(cfg_rd(t, 0x06, 2) & 0x10, 0);
}

static void test_generic_cap(void **state)
{
    struct tdev *t = *state;
    uint32_t v = (uint32_t)t->cap_vndr;

    assert_int_equal(cfg_rd(t, v, 1), 0x09);
    assert_int_equal(cfg_rd(t, v + 2, 4), 0x33221108);
    cfg_wr(t, v + 2, 0xffffffff, 4);
    /* Only the body byte the wmask names took the write. */
    assert_int_equal(cfg_rd(t, v + 2, 4), 0x33ff1108);
    assert_int_equal(cfg_rd(t, v + 6, 2), 0x5544);
}

static void test_std_space_fills_up(void **state)
{
    struct tdev *t = *state;
    uint8_t body[30] = { 0 };
    struct walked w;
    int off, last = 0, n = 0;

    while ((off = uvfio_pci_add_cap(t->pci, 0x09, body, sizeof(body),
                                    NULL)) > 0) {
        assert_true(off > last);
        assert_true(off + 32 <= 0x100);
        last = off;
        n++;
    }
    assert_int_equal(off, -ENOSPC);
    assert_int_equal(n, 6);                     /* 0x40 .. 0xff by 32 */
    /* A smaller one still fits nowhere: the area is exactly used up. */
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x09, NULL, 0, NULL), -ENOSPC);
    assert_int_equal(uvfio_pci_add_cap_pm(t->pci), -ENOSPC);
    walk_std(t, &w);
    assert_int_equal(w.n, 6);
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x09, body, 255, NULL),
                     -ENOSPC);
}

static void test_ext_space_fills_up(void **state)
{
    struct tdev *t = *state;
    static uint8_t body[1020];
    struct walked w;
    int off;

    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, body, 1020,
                                           NULL), 0x100);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, body, 1020,
                                           NULL), 0x500);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, body, 1020,
                                           NULL), 0x900);
    /* 0xd00 .. 0xfff is 768 bytes: a 1 KiB one no longer fits. */
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, body, 1020,
                                           NULL), -ENOSPC);
    off = uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, body, 764, NULL);
    assert_int_equal(off, 0xd00);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, NULL, 0, NULL),
                     -ENOSPC);
    walk_ext(t, &w);
    assert_int_equal(w.n, 4);
    assert_int_equal(w.off[3], 0xd00);
}

static void test_builder_refusals(void **state)
{
    struct tdev *t = *state;
    uint8_t b[4] = { 0 };

    assert_int_equal(uvfio_pci_add_cap_pm(t->pci), -EEXIST);
    assert_int_equal(uvfio_pci_add_cap_msi(t->pci, 1, false, false), -EEXIST);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 4, 0, 4, 0x100),
                     -EEXIST);
    assert_int_equal(uvfio_pci_add_cap_pcie(t->pci), -EEXIST);
    /* The model's own capabilities cannot come in as opaque bytes. */
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x01, b, 4, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x05, b, 4, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x10, b, 4, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x11, b, 4, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap(t->pci, 0x09, NULL, 4, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0, 1, b, 4, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x0b, 16, b, 4, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_ext_cap(t->pci, 0x0b, 1, NULL, 4, NULL),
                     -EINVAL);
}

static void test_msi_refusals(void **state)
{
    struct tdev *t = *state;

    assert_int_equal(uvfio_pci_add_cap_msi(t->pci, 0, false, false), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msi(t->pci, 3, false, false), -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msi(t->pci, 64, false, false),
                     -EINVAL);
    assert_true(uvfio_pci_add_cap_msi(t->pci, 32, false, true) > 0);
}

static void test_msix_refusals(void **state)
{
    struct tdev *t = *state;
    struct uvfio_sparse_area whole = { 0, 4096 };
    struct uvfio_region_config mm = {
        .flags = UVFIO_REGION_FLAG_MMAP,
        .mmap_fd = memfd_create("bar2", MFD_CLOEXEC),
        .nr_sparse = 1,
        .sparse = &whole,
    };

    assert_true(mm.mmap_fd >= 0);
    assert_int_equal(ftruncate(mm.mmap_fd, 4096), 0);

    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 16, UVFIO_PCI_BAR_IO, NULL),
                     0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 1, 4096, UVFIO_PCI_BAR_MEM32,
                                       NULL), 0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 2, 4096, UVFIO_PCI_BAR_MEM32,
                                       &mm), 0);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 0, 1, 0, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 2049, 1, 0, 1, 0x800),
                     -EINVAL);
    /* In an I/O BAR, an absent BAR, past the BAR's end, misaligned. */
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 0, 0, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 3, 0, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 6, 0, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 2, 1, 4080, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 1, 0, 1, 4096),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 1, 4, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 1, 0, 1, 0x804),
                     -EINVAL);
    /* Table and PBA overlapping. */
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 8, 1, 0, 1, 0x78),
                     -EINVAL);
    /* A table the client could mmap would never reach the model. */
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 2, 0, 1, 0x800),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 1, 0, 2, 0x800),
                     -EINVAL);
    /* Mappable as a whole, without sparse areas. */
    mm.nr_sparse = 0;
    mm.sparse = NULL;
    assert_int_equal(uvfio_pci_add_bar(t->pci, 4, 4096, UVFIO_PCI_BAR_MEM32,
                                       &mm), 0);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 1, 4, 0, 1, 0x800),
                     -EINVAL);
    close(mm.mmap_fd);
    /* Nothing was half-built by the refusals. */
    assert_int_equal(cfg_rd(t, 0x34, 1), 0);
    assert_int_equal(uvfio_pci_add_cap_msix(t->pci, 8, 1, 0, 1, 0x80), 0x40);
}

static void test_bar_refusals(void **state)
{
    struct tdev *t = *state;

    assert_int_equal(uvfio_pci_add_bar(t->pci, 6, 16, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 5, 16, UVFIO_PCI_BAR_MEM64,
                                       NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 24, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 8, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 512, UVFIO_PCI_BAR_IO,
                                       NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 2, UVFIO_PCI_BAR_IO, NULL),
                     -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 1ull << 32,
                                       UVFIO_PCI_BAR_MEM32, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 16, UVFIO_PCI_BAR_IO |
                                       UVFIO_PCI_BAR_PREFETCH, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 16, UVFIO_PCI_BAR_IO |
                                       UVFIO_PCI_BAR_MEM32, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 16, 0, NULL), -EINVAL);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 16, 1u << 7, NULL),
                     -EINVAL);
    /* Taken slots, including the upper half of a 64-bit BAR. */
    assert_int_equal(uvfio_pci_add_bar(t->pci, 2, 4096, UVFIO_PCI_BAR_MEM64,
                                       NULL), 0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 3, 16, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EEXIST);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 1, 16, UVFIO_PCI_BAR_MEM64,
                                       NULL), -EEXIST);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 2, 16, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EEXIST);
    assert_int_equal(uvfio_pci_add_bar(NULL, 0, 16, UVFIO_PCI_BAR_MEM32,
                                       NULL), -EINVAL);
    /* Refused BARs left no trace in config space. */
    assert_int_equal(cfg_rd(t, 0x10, 4), 0);
    assert_int_equal(cfg_rd(t, 0x14, 4), 0);
}

static void test_bar_regions(void **state)
{
    struct tdev *t = *state;
    struct uvfio_wire_region_info req = { .argsz = sizeof(req) };
    const struct uvfio_wire_region_info *info;
    static const uint64_t sizes[9] = { 32, 4096, 8ull << 30, 0, 16384, 0,
                                       0, 4096, 0 };
    uint32_t i;
    int fd;

    for (i = 0; i < 9; i++) {
        struct uvfio_buf rep = UVFIO_BUF_INIT;

        req.index = i;
        assert_int_equal(uvfio_core_get_region_info(t->dev, &req, &rep, &fd),
                         0);
        info = (const void *)rep.data;
        assert_int_equal(info->size, sizes[i]);
        if (sizes[i])
            assert_int_equal(info->flags & 3, 3);
        else
            assert_int_equal(info->flags, 0);
        uvfio_buf_free(&rep);
    }
}

static void test_irq_infos(void **state)
{
    struct tdev *t = *state;
    struct tdev *conv = tdev_create(TDEV_NO_PIN);
    static const uint32_t count[5] = { 1, TDEV_MSI_VECS, TDEV_MSIX_VECS, 1,
                                       1 };
    static const uint32_t flags[5] = { 0x7, 0x9, 0x9, 0x1, 0x1 };
    struct uvfio_wire_irq_info req = { .argsz = sizeof(req) };
    const struct uvfio_wire_irq_info *info;
    uint32_t i;

    for (i = 0; i < 5; i++) {
        struct uvfio_buf rep = UVFIO_BUF_INIT;

        req.index = i;
        assert_int_equal(uvfio_core_get_irq_info(t->dev, &req, &rep), 0);
        info = (const void *)rep.data;
        assert_int_equal(info->count, count[i]);
        assert_int_equal(info->flags, flags[i]);
        uvfio_buf_free(&rep);
    }
    /* No pin, no INTx; not PCIe, no ERR; REQ always.  (How an index of
     * no vectors is reported - count 0, or EINVAL for a conventional
     * device's ERR as vfio-pci does - is the core's call.) */
    for (i = 0; i < 5; i++) {
        struct uvfio_buf rep = UVFIO_BUF_INIT;
        int r;

        req.index = i;
        r = uvfio_core_get_irq_info(conv->dev, &req, &rep);
        if (i == UVFIO_PCI_ERR_IRQ_INDEX && r == -EINVAL)
            continue;
        assert_int_equal(r, 0);
        info = (const void *)rep.data;
        assert_int_equal(info->count, i == 4 ? 1 : 0);
        uvfio_buf_free(&rep);
    }
    tdev_destroy(conv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_std_list, setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_ext_list, setup_full, teardown),
        cmocka_unit_test_setup_teardown(test_no_ext_caps, setup_bare_pcie,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_generic_cap, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_std_space_fills_up,
                                        setup_bare_pcie, teardown),
        cmocka_unit_test_setup_teardown(test_ext_space_fills_up,
                                        setup_bare_pcie, teardown),
        cmocka_unit_test_setup_teardown(test_builder_refusals, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_msi_refusals, setup_bare_pcie,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_msix_refusals, setup_bare_pcie,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bar_refusals, setup_bare_pcie,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bar_regions, setup_full,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_irq_infos, setup_full, teardown),
    };

    return cmocka_run_group_tests_name("pci-caps", tests, NULL, NULL);
}
