// SPDX-License-Identifier: MIT
/*
 * tests/pci/fixture.c - the test function of fixture.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

/* ---- the driver: plain memory behind BARs 0, 1 and 4 ----------------------- */

static uint8_t *tdev_backing(struct tdev *t, uint32_t index, size_t *size)
{
    switch (index) {
    case 0:
        *size = sizeof(t->io);
        return t->io;
    case 1:
        *size = sizeof(t->mem1);
        return t->mem1;
    case 4:
        *size = sizeof(t->mem4);
        return t->mem4;
    default:
        return NULL;
    }
}

static ssize_t tdev_read(struct uvfio_device *dev, uint32_t index,
                         uint64_t off, void *buf, size_t count)
{
    struct tdev *t = uvfio_device_priv(dev);
    size_t size;
    uint8_t *mem = tdev_backing(t, index, &size);

    t->driver_reads++;
    if (index == 2) {                   /* 8 GiB of a constant pattern */
        memset(buf, 0xa5, count);
        return (ssize_t)count;
    }
    if (!mem || off > size || count > size - off)
        return -EINVAL;
    memcpy(buf, mem + off, count);
    return (ssize_t)count;
}

static ssize_t tdev_write(struct uvfio_device *dev, uint32_t index,
                          uint64_t off, const void *buf, size_t count)
{
    struct tdev *t = uvfio_device_priv(dev);
    size_t size;
    uint8_t *mem = tdev_backing(t, index, &size);

    t->driver_writes++;
    if (index == 2)
        return (ssize_t)count;
    if (!mem || off > size || count > size - off)
        return -EINVAL;
    memcpy(mem + off, buf, count);
    return (ssize_t)count;
}

static int tdev_reset(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

static const struct uvfio_device_ops tdev_ops = {
    .name = "pci-test",
    .read = tdev_read,
    .write = tdev_write,
    .reset = tdev_reset,
};

static void tdev_config_written(struct uvfio_pci *pci, uint32_t off,
                                uint32_t len)
{
    struct tdev *t = uvfio_pci_priv(pci);

    t->cfg_written++;
    t->cfg_written_off = off;
    t->cfg_written_len = len;
}

static const struct uvfio_pci_ops tdev_pci_ops = {
    .config_written = tdev_config_written,
};

/* ---- building it ----------------------------------------------------------- */

static void tdev_add_bars(struct tdev *t)
{
    assert_int_equal(uvfio_pci_add_bar(t->pci, 0, 32, UVFIO_PCI_BAR_IO, NULL),
                     0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 1, 4096, UVFIO_PCI_BAR_MEM32,
                                       NULL), 0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 2, 8ull << 30,
                                       UVFIO_PCI_BAR_MEM64 |
                                       UVFIO_PCI_BAR_PREFETCH, NULL), 0);
    assert_int_equal(uvfio_pci_add_bar(t->pci, 4, 16384, UVFIO_PCI_BAR_MEM64,
                                       NULL), 0);
}

static void tdev_add_caps(struct tdev *t, bool pcie)
{
    static const uint8_t vndr_body[6] = { 8, 0x11, 0x22, 0x33, 0x44, 0x55 };
    static const uint8_t vndr_wmask[6] = { 0, 0, 0xff, 0, 0, 0 };
    static const uint8_t dsn[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static const uint8_t ext_body[8] = { 0xaa, 0xbb, 0xcc, 0xdd };
    static const uint8_t ext_wmask[8] = { 0, 0, 0, 0, 0xff, 0xff, 0, 0 };

    t->cap_pm = uvfio_pci_add_cap_pm(t->pci);
    t->cap_msi = uvfio_pci_add_cap_msi(t->pci, TDEV_MSI_VECS, true, true);
    t->cap_msix = uvfio_pci_add_cap_msix(t->pci, TDEV_MSIX_VECS, 1, 0, 1,
                                         TDEV_PBA_OFF);
    assert_true(t->cap_pm >= 0x40);
    assert_true(t->cap_msi > t->cap_pm);
    assert_true(t->cap_msix > t->cap_msi);
    t->cap_pcie = pcie ? uvfio_pci_add_cap_pcie(t->pci) : 0;
    if (pcie)
        assert_true(t->cap_pcie > t->cap_msix);
    t->cap_vndr = uvfio_pci_add_cap(t->pci, 0x09, vndr_body,
                                    sizeof(vndr_body), vndr_wmask);
    assert_true(t->cap_vndr > 0);
    if (!pcie)
        return;
    t->ext_dsn = uvfio_pci_add_ext_cap(t->pci, 0x0003, 1, dsn, sizeof(dsn),
                                       NULL);
    t->ext_vndr = uvfio_pci_add_ext_cap(t->pci, 0x000b, 1, ext_body,
                                        sizeof(ext_body), ext_wmask);
    assert_int_equal(t->ext_dsn, 0x100);
    assert_int_equal(t->ext_vndr, 0x10c);
}

struct tdev *tdev_create(unsigned int flags)
{
    struct tdev *t = calloc(1, sizeof(*t));
    struct uvfio_device_config dc = {
        .name = "pci-test",
        .ops = &tdev_ops,
        .num_regions = UVFIO_PCI_NUM_REGIONS,
        .num_irqs = UVFIO_PCI_NUM_IRQS,
        .pci = true,
    };
    struct uvfio_pci_config pc = {
        .vendor_id = TDEV_VENDOR,
        .device_id = TDEV_DEVICE,
        .subsys_vendor_id = TDEV_SVID,
        .subsys_id = TDEV_SSID,
        .revision = TDEV_REV,
        .class_code = TDEV_CLASS,
        .intx_pin = (flags & TDEV_NO_PIN) ? 0 : 1,
        .pcie = (flags & TDEV_PCIE) != 0,
        .ops = &tdev_pci_ops,
    };

    assert_non_null(t);
    dc.priv = t;
    pc.priv = t;
    assert_int_equal(uvfio_device_create(&dc, &t->dev), 0);
    assert_int_equal(uvfio_pci_attach(t->dev, &pc, &t->pci), 0);
    assert_ptr_equal(uvfio_pci_of(t->dev), t->pci);
    if (flags & TDEV_FULL) {
        tdev_add_bars(t);
        tdev_add_caps(t, pc.pcie);
    }
    return t;
}

void tdev_destroy(struct tdev *t)
{
    uvfio_device_destroy(t->dev);
    free(t);
}

/* ---- access helpers ---------------------------------------------------------- */

ssize_t cfg_rw_raw(struct tdev *t, uint64_t off, void *buf, size_t len,
                   bool write)
{
    if (write)
        return uvfio_core_region_write(t->dev, UVFIO_PCI_CONFIG_REGION, off,
                                       buf, len);
    return uvfio_core_region_read(t->dev, UVFIO_PCI_CONFIG_REGION, off, buf,
                                  len);
}

uint32_t cfg_rd(struct tdev *t, uint32_t off, unsigned int len)
{
    uint8_t b[4] = { 0 };
    uint32_t v = 0;
    unsigned int i;

    assert_int_equal(cfg_rw_raw(t, off, b, len, false), len);
    for (i = 0; i < len; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

void cfg_wr(struct tdev *t, uint32_t off, uint32_t val, unsigned int len)
{
    uint8_t b[4];
    unsigned int i;

    for (i = 0; i < 4; i++)
        b[i] = (uint8_t)(val >> (8 * i));
    assert_int_equal(cfg_rw_raw(t, off, b, len, true), len);
}

ssize_t bar_rd(struct tdev *t, unsigned int bar, uint64_t off, void *buf,
               size_t len)
{
    return uvfio_core_region_read(t->dev, bar, off, buf, len);
}

ssize_t bar_wr(struct tdev *t, unsigned int bar, uint64_t off,
               const void *buf, size_t len)
{
    return uvfio_core_region_write(t->dev, bar, off, buf, len);
}

uint32_t bar_rd32(struct tdev *t, unsigned int bar, uint64_t off)
{
    uint8_t b[4];

    assert_int_equal(bar_rd(t, bar, off, b, 4), 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

void bar_wr32(struct tdev *t, unsigned int bar, uint64_t off, uint32_t val)
{
    uint8_t b[4] = { (uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
                     (uint8_t)(val >> 24) };

    assert_int_equal(bar_wr(t, bar, off, b, 4), 4);
}

/* ---- interrupts ---------------------------------------------------------------- */

int irq_set_eventfds(struct tdev *t, uint32_t index, uint32_t start,
                     uint32_t count, const int *fds)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr),
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = index,
        .start = start,
        .count = count,
    };
    int dups[64];
    uint32_t i;
    int r;

    assert_true(count <= 64);
    for (i = 0; i < count; i++) {
        dups[i] = dup(fds[i]);
        assert_true(dups[i] >= 0);
    }
    r = uvfio_core_set_irqs(t->dev, &hdr, NULL, 0, dups, count);
    for (i = 0; i < count; i++)
        if (dups[i] >= 0)
            close(dups[i]);
    return r;
}

int irq_disable(struct tdev *t, uint32_t index)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr),
        .flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = index,
    };

    return uvfio_core_set_irqs(t->dev, &hdr, NULL, 0, NULL, 0);
}

int irq_unmask(struct tdev *t, uint32_t index, uint32_t vector)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr),
        .flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK,
        .index = index,
        .start = vector,
        .count = 1,
    };

    return uvfio_core_set_irqs(t->dev, &hdr, NULL, 0, NULL, 0);
}

int efd_new(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    assert_true(fd >= 0);
    return fd;
}

uint64_t efd_take(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return 0;
    return v;
}
