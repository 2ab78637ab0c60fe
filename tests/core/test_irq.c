// SPDX-License-Identifier: MIT
/*
 * tests/core/test_irq.c - IRQ indexes: declaring, GET_IRQ_INFO, SET_IRQS
 * validation (kernel semantics 4.2) and per-index rules (4.3), delivery
 * with masks, pending bits, levels and automasking, unmask eventfds, and
 * triggers racing SET_IRQS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "core/internal.h"
#include "fake.h"

#define D_NONE  UVFIO_IRQ_SET_DATA_NONE
#define D_BOOL  UVFIO_IRQ_SET_DATA_BOOL
#define D_EFD   UVFIO_IRQ_SET_DATA_EVENTFD
#define A_MASK  UVFIO_IRQ_SET_ACTION_MASK
#define A_UNM   UVFIO_IRQ_SET_ACTION_UNMASK
#define A_TRIG  UVFIO_IRQ_SET_ACTION_TRIGGER

#define INTX    UVFIO_PCI_INTX_IRQ_INDEX
#define MSI     UVFIO_PCI_MSI_IRQ_INDEX
#define MSIX    UVFIO_PCI_MSIX_IRQ_INDEX
#define ERR     UVFIO_PCI_ERR_IRQ_INDEX
#define REQ     UVFIO_PCI_REQ_IRQ_INDEX

static struct fake fg, fp;
static struct uvfio_device *gen;        /* non-PCI */
static struct uvfio_device *pci;        /* PCI numbering */
static int efd[8];

static void declare(struct uvfio_device *d, uint32_t index, uint32_t count,
                    uint32_t flags)
{
    struct uvfio_irq_config ic = { .count = count, .flags = flags };

    assert_int_equal(uvfio_device_set_irq(d, index, &ic), 0);
}

static int setup(void **state)
{
    int i;

    (void)state;
    memset(&fg, 0, sizeof(fg));
    memset(&fp, 0, sizeof(fp));
    gen = fake_create(&fg, NULL, false, 1, 3, NULL);
    declare(gen, 0, 4, UVFIO_IRQ_INFO_MASKABLE);
    declare(gen, 2, 2, 0);              /* index 1: no vectors */

    pci = fake_create(&fp, NULL, true, 9, 6, NULL);
    declare(pci, INTX, 1, UVFIO_IRQ_INFO_MASKABLE | UVFIO_IRQ_INFO_AUTOMASKED);
    declare(pci, MSI, 4, UVFIO_IRQ_INFO_NORESIZE);
    declare(pci, MSIX, 8, 0);
    declare(pci, ERR, 1, 0);
    declare(pci, REQ, 1, 0);
    declare(pci, 5, 2, UVFIO_IRQ_INFO_MASKABLE);
    for (i = 0; i < 8; i++)
        efd[i] = efd_new();
    return 0;
}

static int teardown(void **state)
{
    int i;

    (void)state;
    uvfio_device_destroy(gen);
    uvfio_device_destroy(pci);
    for (i = 0; i < 8; i++)
        close(efd[i]);
    return 0;
}

/* SET_IRQS with fds: copies of efd[first...], the ones the core did not
 * take closed again. */
static int set_fds(struct uvfio_device *d, uint32_t flags, uint32_t index,
                   uint32_t start, uint32_t count, int first, size_t nfds)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr), .flags = flags, .index = index,
        .start = start, .count = count,
    };
    int fds[8], r;
    size_t i;

    for (i = 0; i < nfds; i++)
        fds[i] = fd_dup(efd[first + i]);
    r = uvfio_core_set_irqs(d, &hdr, NULL, 0, fds, nfds);
    for (i = 0; i < nfds; i++) {
        if (r == 0)
            assert_int_equal(fds[i], -1);
        if (fds[i] >= 0)
            close(fds[i]);
    }
    return r;
}

static int set_none(struct uvfio_device *d, uint32_t flags, uint32_t index,
                    uint32_t start, uint32_t count)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr), .flags = flags, .index = index,
        .start = start, .count = count,
    };

    return uvfio_core_set_irqs(d, &hdr, NULL, 0, NULL, 0);
}

static int set_bool(struct uvfio_device *d, uint32_t flags, uint32_t index,
                    uint32_t start, uint32_t count, const uint8_t *bools)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = (uint32_t)(sizeof(hdr) + count), .flags = D_BOOL | flags,
        .index = index, .start = start, .count = count,
    };

    return uvfio_core_set_irqs(d, &hdr, bools, count, NULL, 0);
}

static void expect_signals(int first, int n, uint64_t want)
{
    int i;

    for (i = first; i < first + n; i++)
        assert_int_equal(efd_read(efd[i]), want);
}

/* ---- declaring and GET_IRQ_INFO ---------------------------------------- */

static void test_set_irq_validation(void **state)
{
    struct uvfio_irq_config ic = { .count = 1 };

    (void)state;
    assert_int_equal(uvfio_device_set_irq(NULL, 0, &ic), -EINVAL);
    assert_int_equal(uvfio_device_set_irq(gen, 0, NULL), -EINVAL);
    assert_int_equal(uvfio_device_set_irq(gen, 3, &ic), -EINVAL);
    ic.flags = 1u << 4;
    assert_int_equal(uvfio_device_set_irq(gen, 0, &ic), -EINVAL);
    ic.flags = UVFIO_IRQ_INFO_AUTOMASKED;
    assert_int_equal(uvfio_device_set_irq(gen, 0, &ic), -EINVAL);
    ic.flags = 0;
    ic.count = 2049;
    assert_int_equal(uvfio_device_set_irq(gen, 0, &ic), -EINVAL);
    ic.count = 2048;
    assert_int_equal(uvfio_device_set_irq(gen, 0, &ic), 0);
    /* vfio-pci's INTx, ERR and REQ are single vectors. */
    ic.count = 2;
    assert_int_equal(uvfio_device_set_irq(pci, INTX, &ic), -EINVAL);
    assert_int_equal(uvfio_device_set_irq(pci, ERR, &ic), -EINVAL);
    assert_int_equal(uvfio_device_set_irq(pci, REQ, &ic), -EINVAL);
    assert_int_equal(uvfio_device_set_irq(pci, MSI, &ic), 0);
}

static int irq_info(struct uvfio_device *d, uint32_t argsz, uint32_t index,
                    struct uvfio_wire_irq_info *out)
{
    struct uvfio_wire_irq_info req = { .argsz = argsz, .index = index };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_get_irq_info(d, &req, &rep);

    if (!r) {
        assert_int_equal(rep.len, sizeof(*out));
        memcpy(out, rep.data, sizeof(*out));
    }
    uvfio_buf_free(&rep);
    return r;
}

static void test_get_irq_info(void **state)
{
    struct uvfio_wire_irq_info info;

    (void)state;
    assert_int_equal(irq_info(pci, 15, INTX, &info), -EINVAL);
    assert_int_equal(irq_info(pci, 16, 6, &info), -EINVAL);
    assert_int_equal(irq_info(pci, 16, INTX, &info), 0);
    assert_int_equal(info.argsz, 16);
    assert_int_equal(info.index, INTX);
    assert_int_equal(info.count, 1);
    /* EVENTFD is how vfio-user delivers, so the core always says so. */
    assert_int_equal(info.flags, UVFIO_IRQ_INFO_EVENTFD |
                     UVFIO_IRQ_INFO_MASKABLE | UVFIO_IRQ_INFO_AUTOMASKED);
    assert_int_equal(irq_info(pci, 64, MSI, &info), 0);
    assert_int_equal(info.argsz, 16);
    assert_int_equal(info.count, 4);
    assert_int_equal(info.flags,
                     UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE);
    assert_int_equal(irq_info(gen, 16, 1, &info), 0);
    assert_int_equal(info.count, 0);
}

/* A conventional PCI function has no ERR index at all, as in vfio-pci; an
 * undeclared INTx (no pin) is only "0 vectors". */
static void test_get_irq_info_err_needs_pcie(void **state)
{
    struct uvfio_wire_irq_info info;
    struct fake g = { 0 };
    struct uvfio_device *d = fake_create(&g, NULL, true, 9, 5, NULL);

    (void)state;
    assert_int_equal(irq_info(d, 16, ERR, &info), -EINVAL);
    assert_int_equal(irq_info(d, 16, INTX, &info), 0);
    assert_int_equal(info.count, 0);
    declare(d, ERR, 1, 0);
    assert_int_equal(irq_info(d, 16, ERR, &info), 0);
    assert_int_equal(info.count, 1);
    uvfio_device_destroy(d);
}

/* ---- SET_IRQS header validation (semantics 4.2) ------------------------ */

static void test_set_irqs_header_einval(void **state)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = 19, .flags = D_NONE | A_TRIG, .index = 0, .start = 0,
        .count = 1,
    };
    uint8_t bools[4] = { 1, 1, 1, 1 };
    int pipefd[2], fds[2];

    (void)state;
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, NULL, 0, NULL, 0),
                     -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 3, 0, 1), -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, UINT32_MAX, 0, 1),
                     -EINVAL);
    /* count >= U32_MAX - start */
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 1, UINT32_MAX - 1),
                     -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 0, UINT32_MAX),
                     -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG | (1u << 6), 0, 0, 1),
                     -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG | (1u << 31), 0, 0, 1),
                     -EINVAL);
    /* Outside the index's vectors. */
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 4, 0), -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 2, 3), -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 0, 5), -EINVAL);
    /* An index without vectors refuses everything, disabling included. */
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 1, 0, 0), -EINVAL);
    /* Exactly one data type. */
    assert_int_equal(set_none(gen, A_TRIG, 0, 0, 1), -EINVAL);
    assert_int_equal(set_none(gen, D_NONE | D_BOOL | A_TRIG, 0, 0, 1),
                     -EINVAL);
    assert_int_equal(set_none(gen, D_BOOL | D_EFD | A_TRIG, 0, 0, 1),
                     -EINVAL);
    /* BOOL: count bytes, both in argsz and in what arrived. */
    hdr.argsz = 20 + 1;
    hdr.flags = D_BOOL | A_TRIG;
    hdr.count = 2;
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, bools, 2, NULL, 0),
                     -EINVAL);
    hdr.argsz = 20 + 2;
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, bools, 1, NULL, 0),
                     -EINVAL);
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, bools, 2, NULL, 0), 0);
    /* EVENTFD: none (de-assign) or one per vector. */
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 2, 0, 1), -EINVAL);
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, 0, 2), -EINVAL);
    /* fds with a data type that takes none. */
    assert_int_equal(set_fds(gen, D_NONE | A_TRIG, 0, 0, 1, 0, 1), -EINVAL);
    assert_int_equal(set_fds(gen, D_BOOL | A_TRIG, 0, 0, 1, 0, 1), -EINVAL);

    /* Not an eventfd: refused, and no fd is taken. */
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    hdr.argsz = 20;
    hdr.flags = D_EFD | A_TRIG;
    hdr.count = 2;
    fds[0] = fd_dup(efd[0]);
    fds[1] = pipefd[1];
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, NULL, 0, fds, 2), -EINVAL);
    assert_int_equal(fds[1], pipefd[1]);
    assert_true(fd_is_open(fds[0]));
    assert_false(uvfio_irq_enabled(gen, 0, 0));
    fds[1] = -2;
    assert_int_equal(uvfio_core_set_irqs(gen, &hdr, NULL, 0, fds, 2), -EINVAL);
    close(fds[0]);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_set_irqs_action_enotty(void **state)
{
    (void)state;
    assert_int_equal(set_none(gen, D_NONE, 0, 0, 1), -ENOTTY);
    assert_int_equal(set_none(gen, D_NONE | A_MASK | A_UNM, 0, 0, 1),
                     -ENOTTY);
    assert_int_equal(set_none(gen, D_NONE | A_MASK | A_TRIG, 0, 0, 1),
                     -ENOTTY);
    /* Masking an index that is not MASKABLE. */
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 2, 0, 1), -ENOTTY);
    assert_int_equal(set_none(gen, D_NONE | A_UNM, 2, 0, 1), -ENOTTY);
    /* An eventfd that masks: no such thing. */
    assert_int_equal(set_fds(gen, D_EFD | A_MASK, 0, 0, 1, 0, 1), -ENOTTY);
}

/* ---- generic index ----------------------------------------------------- */

static void test_generic_triggers(void **state)
{
    const uint8_t only1[2] = { 0, 1 };

    (void)state;
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 2, 0, 2), 0);
    assert_true(uvfio_irq_enabled(gen, 0, 0));
    assert_true(uvfio_irq_enabled(gen, 0, 1));
    assert_false(uvfio_irq_enabled(gen, 0, 2));
    assert_false(uvfio_irq_enabled(gen, 0, 9));
    assert_false(uvfio_irq_enabled(gen, 7, 0));

    assert_int_equal(uvfio_irq_trigger(gen, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 1), 0);
    expect_signals(0, 1, 0);
    expect_signals(1, 1, 2);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 2), -ENOENT);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 4), -EINVAL);
    assert_int_equal(uvfio_irq_trigger(gen, 3, 0), -EINVAL);
    assert_int_equal(uvfio_irq_trigger(NULL, 0, 0), -EINVAL);

    /* Loopback: NONE signals every vector in range, BOOL the chosen. */
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 0, 3), 0);
    expect_signals(0, 2, 1);
    assert_int_equal(set_bool(gen, A_TRIG, 0, 0, 2, only1), 0);
    expect_signals(0, 1, 0);
    expect_signals(1, 1, 1);

    /* EVENTFD with no fds de-assigns just that range. */
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 1, 1, 0, 0), 0);
    assert_true(uvfio_irq_enabled(gen, 0, 0));
    assert_false(uvfio_irq_enabled(gen, 0, 1));
    /* Replacing an fd: the new one is signalled, the old one not. */
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, 3, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    expect_signals(0, 1, 0);
    expect_signals(3, 1, 1);
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 0, 0, 0), -EINVAL);

    /* TRIGGER + NONE + count 0 disables the index; again is harmless. */
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 0, 0), 0);
    assert_false(uvfio_irq_enabled(gen, 0, 0));
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 0, 0), 0);
}

static void test_generic_mask_pending(void **state)
{
    const uint8_t pick[4] = { 1, 0, 1, 0 };

    (void)state;
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 4, 0, 4), 0);
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    expect_signals(0, 1, 0);
    /* One pending bit, delivered once on unmask. */
    assert_int_equal(set_none(gen, D_NONE | A_UNM, 0, 0, 1), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(set_none(gen, D_NONE | A_UNM, 0, 0, 1), 0);
    expect_signals(0, 1, 0);
    /* Not automasked: it stays unmasked after delivering. */
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    expect_signals(0, 1, 1);

    /* BOOL picks vectors. */
    assert_int_equal(set_bool(gen, A_MASK, 0, 0, 4, pick), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 2), 0);
    expect_signals(0, 1, 0);
    expect_signals(1, 1, 1);
    expect_signals(2, 1, 0);
    assert_int_equal(set_bool(gen, A_UNM, 0, 0, 4, pick), 0);
    expect_signals(0, 1, 1);
    expect_signals(2, 1, 1);

    /* Removing the eventfd drops a pending interrupt with it. */
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 3, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 3), 0);
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 3, 1, 0, 0), 0);
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 3, 1, 3, 1), 0);
    assert_int_equal(set_none(gen, D_NONE | A_UNM, 0, 3, 1), 0);
    expect_signals(3, 1, 0);
}

/* The client's unmask eventfd, served by the device's event loop. */
static void test_unmask_eventfd(void **state)
{
    int before;

    (void)state;
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, 0, 1), 0);
    before = count_open_fds();
    assert_int_equal(set_fds(gen, D_EFD | A_UNM, 0, 0, 1, 5, 1), 0);
    assert_int_equal(count_open_fds(), before + 1);
    assert_int_equal(set_fds(gen, D_EFD | A_UNM, 0, 0, 0, 0, 0), -EINVAL);

    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    uvfio_core_dispatch_events(gen);
    expect_signals(0, 1, 0);
    efd_write(efd[5], 1);
    uvfio_core_dispatch_events(gen);
    expect_signals(0, 1, 1);

    /* Every write is an unmask, even if the counter was never drained. */
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    efd_write(efd[5], 1);
    uvfio_core_dispatch_events(gen);
    expect_signals(0, 1, 1);

    /* De-assigned: its writes unmask nothing, and the copy is closed. */
    assert_int_equal(set_fds(gen, D_EFD | A_UNM, 0, 0, 1, 0, 0), 0);
    assert_int_equal(count_open_fds(), before);
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    efd_write(efd[5], 1);
    uvfio_core_dispatch_events(gen);
    expect_signals(0, 1, 0);
    efd_read(efd[5]);
}

/* ---- PCI INTx ---------------------------------------------------------- */

static void test_intx_rules(void **state)
{
    (void)state;
    /* Mask/unmask need INTx on, start 0, count 1. */
    assert_int_equal(set_none(pci, D_NONE | A_MASK, INTX, 0, 1), -EINVAL);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, INTX, 0, 1), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 1), 0);
    assert_true(uvfio_irq_enabled(pci, INTX, 0));
    assert_int_equal(set_none(pci, D_NONE | A_MASK, INTX, 0, 0), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_MASK, INTX, 0, 1, 1, 1), -ENOTTY);
    assert_int_equal(set_none(pci, D_NONE | A_MASK, INTX, 0, 1), 0);
    /* Loopback signals past the mask. */
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, INTX, 0, 1), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    /* De-assigning the eventfd keeps INTx the active mode. */
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 0), 0);
    assert_false(uvfio_irq_enabled(pci, INTX, 0));
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 0, 1, 1, 1), -EINVAL);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, INTX, 0, 0), 0);
    assert_int_equal(set_none(pci, D_NONE | A_MASK, INTX, 0, 1), -EINVAL);
}

static void test_intx_level_automask(void **state)
{
    (void)state;
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 1), 0);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(0, 1, 1);
    /* Automasked: the line bouncing while masked says nothing. */
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, false), 0);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(0, 1, 0);
    /* Unmask with the level still high: signal, and masked again. */
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    expect_signals(0, 1, 1);
    /* Level low, then unmask: quiet; the next rising edge signals. */
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, false), 0);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    expect_signals(0, 1, 0);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(0, 1, 0);

    /* Edges on an automasked line: masked after each, pending while so. */
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, false), 0);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(pci, INTX, 0), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(uvfio_irq_trigger(pci, INTX, 0), 0);
    expect_signals(0, 1, 0);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, INTX, 0, 1), 0);
    expect_signals(0, 1, 1);

    /* Levels only exist on automasked indexes. */
    assert_int_equal(uvfio_irq_set_level(pci, MSI, 0, true), -EINVAL);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 1, true), -EINVAL);
    assert_int_equal(uvfio_irq_set_level(NULL, INTX, 0, true), -EINVAL);
}

/* A line already high when the client installs its eventfd asserts at
 * once, as a real INTx would. */
static void test_intx_level_before_enable(void **state)
{
    (void)state;
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 1), 0);
    expect_signals(0, 1, 1);
}

static void test_intx_unmask_eventfd(void **state)
{
    (void)state;
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 1), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_UNM, INTX, 0, 1, 1, 1), 0);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(0, 1, 1);
    efd_write(efd[1], 1);
    uvfio_core_dispatch_events(pci);
    expect_signals(0, 1, 1);            /* still high: again */
    efd_read(efd[1]);
}

/* ---- PCI MSI / MSI-X and mode exclusion -------------------------------- */

static void test_msi_modes(void **state)
{
    (void)state;
    /* Not enabled: no loopback. */
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, MSI, 0, 1), -EINVAL);
    assert_int_equal(set_none(pci, D_NONE | A_MASK, MSI, 0, 1), -ENOTTY);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, MSIX, 0, 1), -ENOTTY);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 0, 0, 0, 0), -EINVAL);

    /* MSI with 2 vectors; NORESIZE fixes that set. */
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 0, 2, 0, 2), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 2, 2, 2, 2), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 1, 1, 2, 1), 0);
    assert_int_equal(uvfio_irq_trigger(pci, MSI, 1), 0);
    expect_signals(1, 1, 0);
    expect_signals(2, 1, 1);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, MSI, 0, 2), 0);
    expect_signals(0, 1, 1);
    expect_signals(2, 1, 1);

    /* Only one mode at a time. */
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSIX, 0, 1, 3, 1), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 3, 1), -EINVAL);
    assert_false(uvfio_irq_enabled(pci, MSIX, 0));
    /* ERR, REQ and device-specific indexes are not modes. */
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, REQ, 0, 1, 4, 1), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, 5, 0, 1, 5, 1), 0);

    /* Disable MSI; MSI-X (resizable) may then grow. */
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, MSI, 0, 0), 0);
    assert_false(uvfio_irq_enabled(pci, MSI, 0));
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSIX, 0, 1, 3, 1), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSIX, 4, 2, 6, 2), 0);
    assert_true(uvfio_irq_enabled(pci, MSIX, 5));
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, MSI, 0, 1, 0, 1), -EINVAL);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, MSIX, 0, 0), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 0, 1), 0);
}

static void test_err_req(void **state)
{
    const uint8_t one = 1, zero = 0;

    (void)state;
    assert_int_equal(set_none(pci, D_NONE | A_MASK, REQ, 0, 1), -ENOTTY);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, ERR, 0, 1), -ENOTTY);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, REQ, 0, 1), -EINVAL);
    assert_int_equal(set_bool(pci, A_TRIG, REQ, 0, 0, NULL), -EINVAL);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, REQ, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, REQ, 1, 0), -EINVAL);

    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, REQ, 0, 1, 0, 1), 0);
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, ERR, 0, 1, 1, 1), 0);
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, REQ, 0, 1), 0);
    expect_signals(0, 1, 1);
    assert_int_equal(set_bool(pci, A_TRIG, ERR, 0, 1, &one), 0);
    assert_int_equal(set_bool(pci, A_TRIG, ERR, 0, 1, &zero), 0);
    expect_signals(1, 1, 1);
    assert_int_equal(uvfio_irq_trigger(pci, ERR, 0), 0);
    expect_signals(1, 1, 1);
    /* NONE with count 0 releases; EVENTFD with no fd too. */
    assert_int_equal(set_none(pci, D_NONE | A_TRIG, REQ, 0, 0), 0);
    assert_false(uvfio_irq_enabled(pci, REQ, 0));
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, ERR, 0, 1, 0, 0), 0);
    assert_false(uvfio_irq_enabled(pci, ERR, 0));
}

/* A PCI index past REQ follows the generic rules of its flags. */
static void test_pci_device_specific_index(void **state)
{
    (void)state;
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, 5, 0, 2, 0, 2), 0);
    assert_int_equal(set_none(pci, D_NONE | A_MASK, 5, 1, 1), 0);
    assert_int_equal(uvfio_irq_trigger(pci, 5, 1), 0);
    expect_signals(1, 1, 0);
    assert_int_equal(set_none(pci, D_NONE | A_UNM, 5, 0, 2), 0);
    expect_signals(1, 1, 1);
}

/* ---- reset, re-declaring ----------------------------------------------- */

static void test_reset_state_keeps_eventfds(void **state)
{
    (void)state;
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, 0, 1), 0);
    assert_int_equal(set_none(gen, D_NONE | A_MASK, 0, 0, 1), 0);
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    uvfio_irq_reset_state(gen);
    /* The pending bit went with the reset; the eventfd stayed. */
    assert_int_equal(set_none(gen, D_NONE | A_UNM, 0, 0, 1), 0);
    expect_signals(0, 1, 0);
    assert_true(uvfio_irq_enabled(gen, 0, 0));
    assert_int_equal(uvfio_irq_trigger(gen, 0, 0), 0);
    expect_signals(0, 1, 1);

    /* INTx level low again after a reset. */
    assert_int_equal(set_fds(pci, D_EFD | A_TRIG, INTX, 0, 1, 1, 1), 0);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(1, 1, 1);
    uvfio_irq_reset_state(pci);
    assert_int_equal(uvfio_irq_set_level(pci, INTX, 0, true), 0);
    expect_signals(1, 1, 1);
}

static void test_redeclare_drops_eventfds(void **state)
{
    int before = count_open_fds();

    (void)state;
    assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 4, 0, 4), 0);
    assert_int_equal(set_fds(gen, D_EFD | A_UNM, 0, 0, 1, 4, 1), 0);
    assert_int_equal(count_open_fds(), before + 5);
    declare(gen, 0, 2, UVFIO_IRQ_INFO_MASKABLE);
    assert_int_equal(count_open_fds(), before);
    assert_false(uvfio_irq_enabled(gen, 0, 0));
    assert_int_equal(set_none(gen, D_NONE | A_TRIG, 0, 2, 1), -EINVAL);
}

/* ---- a driver thread triggering while the client reconfigures ---------- */

struct race {
    atomic_bool stop;
    long fired, lost;
};

static void *trigger_loop(void *arg)
{
    struct race *r = arg;
    int ret;

    while (!atomic_load(&r->stop)) {
        ret = uvfio_irq_trigger(gen, 0, 0);
        assert_true(ret == 0 || ret == -ENOENT);
        if (ret == 0)
            r->fired++;
        else
            r->lost++;
    }
    return NULL;
}

static void test_trigger_races_set_irqs(void **state)
{
    struct race r = { .stop = false };
    struct timespec t0, now;
    pthread_t th;
    int rounds = 0, before = count_open_fds();

    (void)state;
    assert_int_equal(pthread_create(&th, NULL, trigger_loop, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, rounds & 7, 1),
                         0);
        assert_int_equal(set_fds(gen, D_EFD | A_TRIG, 0, 0, 1, 0, 0), 0);
        rounds++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000000000L +
             (now.tv_nsec - t0.tv_nsec) < 200000000L);
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_true(rounds > 10);
    assert_true(r.fired + r.lost > 0);
    assert_int_equal(count_open_fds(), before);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_set_irq_validation),
        T(test_get_irq_info),
        cmocka_unit_test(test_get_irq_info_err_needs_pcie),
        T(test_set_irqs_header_einval),
        T(test_set_irqs_action_enotty),
        T(test_generic_triggers),
        T(test_generic_mask_pending),
        T(test_unmask_eventfd),
        T(test_intx_rules),
        T(test_intx_level_automask),
        T(test_intx_level_before_enable),
        T(test_intx_unmask_eventfd),
        T(test_msi_modes),
        T(test_err_req),
        T(test_pci_device_specific_index),
        T(test_reset_state_keeps_eventfds),
        T(test_redeclare_drops_eventfds),
        T(test_trigger_races_set_irqs),
    };
#undef T

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
