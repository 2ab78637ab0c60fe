// SPDX-License-Identifier: MIT
/*
 * tests/pci/test_irq.c - interrupts as the guest configures them: MSI-X
 * table masks, function mask and PBA; MSI vector limits and per-vector
 * masks; the INTx line with Interrupt Disable and automasking.  Delivery
 * is observed on the eventfds a client hands over with SET_IRQS.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

#define CMD_IO          0x0001
#define CMD_MEM         0x0002
#define CMD_MASTER      0x0004
#define CMD_INTX_OFF    0x0400

struct irqfix {
    struct tdev *t;
    int efd[TDEV_MSIX_VECS];
};

static int setup(void **state)
{
    struct irqfix *f = calloc(1, sizeof(*f));
    unsigned int i;

    f->t = tdev_create(TDEV_FULL | TDEV_PCIE);
    for (i = 0; i < TDEV_MSIX_VECS; i++)
        f->efd[i] = efd_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct irqfix *f = *state;
    unsigned int i;

    tdev_destroy(f->t);
    for (i = 0; i < TDEV_MSIX_VECS; i++)
        close(f->efd[i]);
    free(f);
    return 0;
}

/* Which eventfds fired since the last look, as a bitmask; counts > 1 are
 * reported through *extra. */
static unsigned int fired(struct irqfix *f, unsigned int n, unsigned int *extra)
{
    unsigned int mask = 0, i;

    if (extra)
        *extra = 0;
    for (i = 0; i < n; i++) {
        uint64_t c = efd_take(f->efd[i]);

        if (c)
            mask |= 1u << i;
        if (c > 1 && extra)
            *extra += (unsigned int)(c - 1);
    }
    return mask;
}

/* ---- MSI-X ------------------------------------------------------------------ */

static uint32_t msix_ctrl(struct irqfix *f)
{
    return (uint32_t)f->t->cap_msix + 2;
}

static void msix_entry(struct tdev *t, unsigned int v, uint32_t data,
                       bool masked)
{
    uint32_t e = v * 16;

    bar_wr32(t, 1, e + 0, 0xfee00000);
    bar_wr32(t, 1, e + 4, 0);
    bar_wr32(t, 1, e + 8, data);
    bar_wr32(t, 1, e + 12, masked ? 1 : 0);
}

static uint32_t pba(struct tdev *t)
{
    return bar_rd32(t, 1, TDEV_PBA_OFF);
}

static void msix_on(struct irqfix *f)
{
    assert_int_equal(irq_set_eventfds(f->t, UVFIO_PCI_MSIX_IRQ_INDEX, 0,
                                      TDEV_MSIX_VECS, f->efd), 0);
    cfg_wr(f->t, 0x04, CMD_MEM | CMD_MASTER, 2);
    cfg_wr(f->t, msix_ctrl(f), 0x8000, 2);
}

static void test_msix_table_reset_state(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    unsigned int v;

    assert_int_equal(cfg_rd(t, msix_ctrl(f), 2), TDEV_MSIX_VECS - 1);
    assert_int_equal(cfg_rd(t, (uint32_t)t->cap_msix + 4, 4), 0x1);
    assert_int_equal(cfg_rd(t, (uint32_t)t->cap_msix + 8, 4),
                     TDEV_PBA_OFF | 1);
    cfg_wr(t, 0x04, CMD_MEM, 2);
    for (v = 0; v < TDEV_MSIX_VECS; v++) {
        assert_int_equal(bar_rd32(t, 1, v * 16), 0);
        assert_int_equal(bar_rd32(t, 1, v * 16 + 12), 1);   /* masked */
    }
    assert_int_equal(pba(t), 0);
    /* Only enable and function mask are writable in message control. */
    cfg_wr(t, msix_ctrl(f), 0xffff, 2);
    assert_int_equal(cfg_rd(t, msix_ctrl(f), 2), 0xc000 | (TDEV_MSIX_VECS - 1));
}

/* QEMU emulates the table itself and never writes ours: until the client
 * writes the table, vector masking is the client's and messages go. */
static void test_msix_client_emulated_table(void **state)
{
    struct irqfix *f = *state;

    msix_on(f);
    assert_int_equal(uvfio_pci_notify(f->t->pci, 3), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 3);
    assert_int_equal(pba(f->t), 0);
    /* The function mask is in config space, which every client writes. */
    cfg_wr(f->t, msix_ctrl(f), 0xc000, 2);
    assert_int_equal(uvfio_pci_notify(f->t->pci, 5), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 0);
    assert_int_equal(pba(f->t), 1u << 5);
    cfg_wr(f->t, msix_ctrl(f), 0x8000, 2);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 5);
    assert_int_equal(pba(f->t), 0);
}

static void test_msix_vector_mask_and_pba(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    unsigned int extra;

    msix_on(f);
    msix_entry(t, 3, 0x4023, true);
    msix_entry(t, 4, 0x4024, false);

    assert_int_equal(uvfio_pci_notify(t->pci, 4), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 4);

    /* Masked: pending, once, however often it fires. */
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 0);
    assert_int_equal(pba(t), 1u << 3);
    bar_wr32(t, 1, 3 * 16 + 12, 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, &extra), 1u << 3);
    assert_int_equal(extra, 0);
    assert_int_equal(pba(t), 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 3);

    /* Function mask holds every vector; unmasking releases only the
     * vectors that are not masked on their own. */
    bar_wr32(t, 1, 4 * 16 + 12, 1);
    cfg_wr(t, msix_ctrl(f), 0xc000, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 4), 0);
    assert_int_equal(pba(t), (1u << 3) | (1u << 4));
    cfg_wr(t, msix_ctrl(f), 0x8000, 2);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 3);
    assert_int_equal(pba(t), 1u << 4);
    /* A qword write of data + control, unmasking. */
    {
        uint8_t q[8] = { 0x24, 0x40, 0, 0, 0, 0, 0, 0 };

        assert_int_equal(bar_wr(t, 1, 4 * 16 + 8, q, 8), 8);
    }
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 4);
    assert_int_equal(pba(t), 0);
}

static void test_msix_delivery_conditions(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    msix_on(f);
    msix_entry(t, 1, 0x4021, false);
    assert_int_equal(uvfio_pci_notify(t->pci, TDEV_MSIX_VECS), -ENOENT);
    /* No bus mastering, no memory write, no message. */
    cfg_wr(t, 0x04, CMD_MEM, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 1), -ENOENT);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 0);
    cfg_wr(t, 0x04, CMD_MEM | CMD_MASTER, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 1), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 1);
    /* The client took its eventfds away: the message is lost. */
    assert_int_equal(irq_disable(t, UVFIO_PCI_MSIX_IRQ_INDEX), 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 1), -ENOENT);
    /* MSI-X disabled (and no MSI, no INTx eventfd): nowhere to go. */
    cfg_wr(t, msix_ctrl(f), 0x0000, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 1), -ENOENT);
}

static void test_msix_table_access_rules(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    unsigned int reads, writes;
    uint8_t b[32];

    cfg_wr(t, 0x04, CMD_MEM, 2);
    reads = t->driver_reads;
    writes = t->driver_writes;

    /* Only dword-granular writes; the rest is refused untouched. */
    b[0] = 0x00;
    assert_int_equal(bar_wr(t, 1, 12, b, 1), -EINVAL);
    assert_int_equal(bar_wr(t, 1, 12, b, 2), -EINVAL);
    memset(b, 0, 4);
    assert_int_equal(bar_wr(t, 1, 10, b, 4), -EINVAL);
    assert_int_equal(bar_wr(t, 1, 12, b, 6), -EINVAL);
    assert_int_equal(bar_rd32(t, 1, 12), 1);

    /* Reserved bits: address bits 1:0 and vector control above bit 0. */
    bar_wr32(t, 1, 0, 0xfee00003);
    assert_int_equal(bar_rd32(t, 1, 0), 0xfee00000);
    bar_wr32(t, 1, 12, 0xfffffffe);
    assert_int_equal(bar_rd32(t, 1, 12), 0);
    bar_wr32(t, 1, 12, 0xffffffff);
    assert_int_equal(bar_rd32(t, 1, 12), 1);
    bar_wr32(t, 1, 8, 0xabcd1234);
    assert_int_equal(bar_rd32(t, 1, 8), 0xabcd1234);

    /* Reads of any shape are served. */
    assert_int_equal(bar_rd(t, 1, 9, b, 3), 3);
    assert_int_equal(b[0], 0x12);
    assert_int_equal(b[2], 0xab);
    assert_int_equal(bar_rd(t, 1, 12, b, 1), 1);
    assert_int_equal(b[0], 1);

    /* The PBA is read-only. */
    bar_wr32(t, 1, TDEV_PBA_OFF, 0xffffffff);
    assert_int_equal(pba(t), 0);
    assert_int_equal(t->driver_reads, reads);
    assert_int_equal(t->driver_writes, writes);
}

static void test_msix_bulk_access_around_table(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    uint8_t b[64], expect[64];

    cfg_wr(t, 0x04, CMD_MEM, 2);
    memset(t->mem1, 0x5a, sizeof(t->mem1));

    /* Driver bytes, then the PBA, then driver bytes again. */
    assert_int_equal(bar_rd(t, 1, TDEV_PBA_OFF - 8, b, 24), 24);
    memset(expect, 0x5a, 24);
    memset(expect + 8, 0, 8);
    assert_memory_equal(b, expect, 24);

    /* A write over the table's end lands in both. */
    memset(b, 0, 24);
    b[16] = 0x77;
    assert_int_equal(bar_wr(t, 1, 0x78, b, 24), 24);
    assert_int_equal(bar_rd32(t, 1, 0x7c), 0);          /* vector 7 unmasked */
    assert_int_equal(t->mem1[0x88], 0x77);
    assert_int_equal(t->mem1[0x80], 0x00);

    /* Misaligned at the table: refused before the driver sees a byte. */
    memcpy(expect, t->mem1 + 0x80, 8);
    memset(b, 0xee, sizeof(b));
    assert_int_equal(bar_wr(t, 1, 0x7e, b, 8), -EINVAL);
    assert_memory_equal(t->mem1 + 0x80, expect, 8);
    assert_int_equal(bar_rd32(t, 1, 0x7c), 0);

    /* The whole BAR in one read. */
    {
        static uint8_t all[4096];

        assert_int_equal(bar_rd(t, 1, 0, all, sizeof(all)), 4096);
        assert_int_equal(all[12], 1);                   /* vector 0 ctrl */
        assert_int_equal(all[0x7c], 0);
        assert_int_equal(all[0x88], 0x77);
        assert_int_equal(all[TDEV_PBA_OFF], 0);
        assert_int_equal(all[4095], 0x5a);
    }
}

/* Two threads, one raising, one masking and unmasking: nothing is lost
 * for good and nothing stays pending once everything is unmasked. */
struct storm {
    struct uvfio_pci *pci;
    unsigned int rounds;
};

static void *storm_raiser(void *arg)
{
    struct storm *s = arg;
    unsigned int i;

    for (i = 0; i < s->rounds; i++)
        uvfio_pci_notify(s->pci, i % TDEV_MSIX_VECS);
    return NULL;
}

static void test_msix_concurrent_notify(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    struct storm s = { t->pci, 20000 };
    pthread_t th;
    unsigned int i;

    msix_on(f);
    for (i = 0; i < TDEV_MSIX_VECS; i++)
        msix_entry(t, i, 0x4000 + i, false);
    assert_int_equal(pthread_create(&th, NULL, storm_raiser, &s), 0);
    for (i = 0; i < 2000; i++)
        cfg_wr(t, msix_ctrl(f), (i & 1) ? 0x8000 : 0xc000, 2);
    pthread_join(th, NULL);
    cfg_wr(t, msix_ctrl(f), 0x8000, 2);
    assert_int_equal(pba(t), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 0xff);
}

/* ---- MSI --------------------------------------------------------------------- */

static void msi_on(struct irqfix *f, unsigned int mme)
{
    uint32_t m = (uint32_t)f->t->cap_msi;

    assert_int_equal(irq_set_eventfds(f->t, UVFIO_PCI_MSI_IRQ_INDEX, 0,
                                      TDEV_MSI_VECS, f->efd), 0);
    cfg_wr(f->t, 0x04, CMD_MASTER, 2);
    cfg_wr(f->t, m + 4, 0xfee00000, 4);
    cfg_wr(f->t, m + 8, 0, 4);
    cfg_wr(f->t, m + 12, 0x4041, 2);
    cfg_wr(f->t, m + 2, 0x0001 | mme << 4, 2);
}

static void test_msi_capability_layout(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    uint32_t m = (uint32_t)t->cap_msi;

    /* 64-bit, per-vector masking, 4 vectors capable, none enabled. */
    assert_int_equal(cfg_rd(t, m + 2, 2), 0x0184);
    cfg_wr(t, m + 4, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, m + 4, 4), 0xfffffffc);
    cfg_wr(t, m + 8, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, m + 8, 4), 0xffffffff);
    cfg_wr(t, m + 12, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, m + 12, 4), 0x0000ffff);
    /* Mask bits exist for the 4 vectors only; pending is read-only. */
    cfg_wr(t, m + 16, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, m + 16, 4), 0xf);
    cfg_wr(t, m + 20, 0xffffffff, 4);
    assert_int_equal(cfg_rd(t, m + 20, 4), 0);
    /* Multiple Message Enable cannot exceed what is capable. */
    cfg_wr(t, m + 2, 0x0070, 2);
    assert_int_equal((cfg_rd(t, m + 2, 2) >> 4) & 7, 2);
}

static void test_msi_vectors(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    msi_on(f, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 2), 0);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 3);
    assert_int_equal(uvfio_pci_notify(t->pci, TDEV_MSI_VECS), -ENOENT);

    /* Granted fewer than asked for: the sources share the last one. */
    cfg_wr(t, (uint32_t)t->cap_msi + 2, 0x0011, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 3), 0);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 1);
    cfg_wr(t, (uint32_t)t->cap_msi + 2, 0x0001, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 2), 0);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 0);

    cfg_wr(t, 0x04, 0, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), -ENOENT);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 0);
}

static void test_msi_per_vector_mask(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    uint32_t m = (uint32_t)t->cap_msi;

    msi_on(f, 2);
    cfg_wr(t, m + 16, 0x2, 4);
    assert_int_equal(uvfio_pci_notify(t->pci, 1), 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), 0);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 0);
    assert_int_equal(cfg_rd(t, m + 20, 4), 0x2);
    /* The guest cannot clear a pending bit; unmasking sends it. */
    cfg_wr(t, m + 20, 0, 4);
    assert_int_equal(cfg_rd(t, m + 20, 4), 0x2);
    cfg_wr(t, m + 16, 0x0, 4);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 1);
    assert_int_equal(cfg_rd(t, m + 20, 4), 0);
    /* Held while bus mastering is off, sent when it comes back. */
    cfg_wr(t, m + 16, 0x1, 4);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), 0);
    cfg_wr(t, 0x04, 0, 2);
    cfg_wr(t, m + 16, 0x0, 4);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 0);
    cfg_wr(t, 0x04, CMD_MASTER, 2);
    assert_int_equal(fired(f, TDEV_MSI_VECS, NULL), 1u << 0);
}

static void test_msix_wins_over_msi(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    /* A confused guest enabling both: the model follows MSI-X. */
    cfg_wr(t, (uint32_t)t->cap_msi + 2, 0x0001, 2);
    msix_on(f);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), 0);
    assert_int_equal(fired(f, TDEV_MSIX_VECS, NULL), 1u << 0);
}

/* ---- INTx -------------------------------------------------------------------- */

static void intx_on(struct irqfix *f)
{
    assert_int_equal(irq_set_eventfds(f->t, UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                                      f->efd), 0);
}

static bool intx_status(struct tdev *t)
{
    return cfg_rd(t, 0x06, 2) & 0x8;
}

static void test_intx_level_and_automask(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    intx_on(f);
    assert_false(intx_status(t));
    uvfio_pci_set_intx(t->pci, true);
    assert_true(intx_status(t));
    assert_int_equal(efd_take(f->efd[0]), 1);
    /* Automasked: a new edge waits for the unmask. */
    uvfio_pci_set_intx(t->pci, false);
    assert_false(intx_status(t));
    uvfio_pci_set_intx(t->pci, true);
    assert_int_equal(efd_take(f->efd[0]), 0);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 1);
    /* Still high at the next unmask: level-triggered, it fires again. */
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 1);
    uvfio_pci_set_intx(t->pci, false);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 0);
}

static void test_intx_disable_bit(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    intx_on(f);
    cfg_wr(t, 0x04, CMD_INTX_OFF, 2);
    uvfio_pci_set_intx(t->pci, true);
    /* The function still shows its interrupt; the line stays low. */
    assert_true(intx_status(t));
    assert_int_equal(efd_take(f->efd[0]), 0);
    cfg_wr(t, 0x04, 0, 2);
    assert_int_equal(efd_take(f->efd[0]), 1);
    /* Disabling drops the line, re-enabling raises it again. */
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 1);
    cfg_wr(t, 0x04, CMD_INTX_OFF, 2);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 0);
    cfg_wr(t, 0x04, 0, 2);
    assert_int_equal(efd_take(f->efd[0]), 1);
    /* The status bit is the function's, not the guest's to write. */
    cfg_wr(t, 0x06, 0x0008, 2);
    assert_true(intx_status(t));
}

static void test_intx_off_under_msi(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;
    uint32_t m = (uint32_t)t->cap_msi;

    intx_on(f);
    cfg_wr(t, m + 2, 0x0001, 2);
    uvfio_pci_set_intx(t->pci, true);
    assert_int_equal(efd_take(f->efd[0]), 0);
    cfg_wr(t, m + 2, 0x0000, 2);
    assert_int_equal(efd_take(f->efd[0]), 1);
    uvfio_pci_set_intx(t->pci, false);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    cfg_wr(t, msix_ctrl(f), 0x8000, 2);
    uvfio_pci_set_intx(t->pci, true);
    assert_int_equal(efd_take(f->efd[0]), 0);
}

static void test_intx_pulse(void **state)
{
    struct irqfix *f = *state;
    struct tdev *t = f->t;

    /* Without MSI or MSI-X a notification is an INTx, whatever vector. */
    assert_int_equal(uvfio_pci_notify(t->pci, 0), -ENOENT);   /* no efd */
    intx_on(f);
    assert_int_equal(uvfio_pci_notify(t->pci, 5), 0);
    assert_int_equal(efd_take(f->efd[0]), 1);
    /* Automasked: the next one waits for the unmask. */
    assert_int_equal(uvfio_pci_notify(t->pci, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 0);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    assert_int_equal(efd_take(f->efd[0]), 1);
    assert_int_equal(irq_unmask(t, UVFIO_PCI_INTX_IRQ_INDEX, 0), 0);
    cfg_wr(t, 0x04, CMD_INTX_OFF, 2);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), -ENOENT);
    assert_int_equal(efd_take(f->efd[0]), 0);
}

static void test_no_pin(void **state)
{
    struct tdev *t = tdev_create(TDEV_NO_PIN);

    (void)state;
    uvfio_pci_set_intx(t->pci, true);
    assert_int_equal(cfg_rd(t, 0x06, 2) & 0x8, 0);
    assert_int_equal(uvfio_pci_notify(t->pci, 0), -ENOENT);
    assert_int_equal(uvfio_pci_notify(NULL, 0), -EINVAL);
    tdev_destroy(t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_msix_table_reset_state),
        T(test_msix_client_emulated_table),
        T(test_msix_vector_mask_and_pba),
        T(test_msix_delivery_conditions),
        T(test_msix_table_access_rules),
        T(test_msix_bulk_access_around_table),
        T(test_msix_concurrent_notify),
        T(test_msi_capability_layout),
        T(test_msi_vectors),
        T(test_msi_per_vector_mask),
        T(test_msix_wins_over_msi),
        T(test_intx_level_and_automask),
        T(test_intx_disable_bit),
        T(test_intx_off_under_msi),
        T(test_intx_pulse),
        cmocka_unit_test(test_no_pin),
    };

    return cmocka_run_group_tests_name("pci-irq", tests, NULL, NULL);
}
