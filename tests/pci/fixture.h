/* SPDX-License-Identifier: MIT */
/*
 * tests/pci/fixture.h - a test function behind the PCI model, driven the
 * way a client drives it: through the core's region and SET_IRQS handlers.
 *
 * Layout of the full device (tdev_create with TDEV_FULL):
 *   BAR0  IO    32 B
 *   BAR1  MEM32 4 KiB     MSI-X table at 0x000 (8 vectors), PBA at 0x800
 *   BAR2  MEM64 8 GiB prefetchable (upper BAR3)
 *   BAR4  MEM64 16 KiB (upper BAR5)
 *   caps  PM, MSI (4 vectors, 64-bit, per-vector mask), MSI-X, PCIe,
 *         vendor-specific (0x09) with one writable byte
 *   ext   DSN (0x0003) and a vendor-specific (0x000b) one
 */
#ifndef TESTS_PCI_FIXTURE_H
#define TESTS_PCI_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/device.h>
#include <uvfio/pci.h>

#define TDEV_VENDOR     0x1b36
#define TDEV_DEVICE     0x1234
#define TDEV_SVID       0x1af4
#define TDEV_SSID       0x0042
#define TDEV_REV        0x07
#define TDEV_CLASS      0x070002u

#define TDEV_MSI_VECS   4
#define TDEV_MSIX_VECS  8
#define TDEV_PBA_OFF    0x800u

/* Flags for tdev_create. */
#define TDEV_FULL       (1u << 0)   /* every BAR and capability above */
#define TDEV_PCIE       (1u << 1)   /* 4 KiB config space */
#define TDEV_NO_PIN     (1u << 2)   /* intx_pin 0 */

struct tdev {
    struct uvfio_device *dev;
    struct uvfio_pci *pci;
    uint8_t io[32];
    uint8_t mem1[4096];
    uint8_t mem4[16384];
    unsigned int driver_reads;
    unsigned int driver_writes;
    unsigned int cfg_written;
    uint32_t cfg_written_off;
    uint32_t cfg_written_len;
    int cap_pm, cap_msi, cap_msix, cap_pcie, cap_vndr;
    int ext_dsn, ext_vndr;
};

struct tdev *tdev_create(unsigned int flags);
void tdev_destroy(struct tdev *t);

/* Config space through region 7; the helpers assert the access worked. */
uint32_t cfg_rd(struct tdev *t, uint32_t off, unsigned int len);
void cfg_wr(struct tdev *t, uint32_t off, uint32_t val, unsigned int len);
ssize_t cfg_rw_raw(struct tdev *t, uint64_t off, void *buf, size_t len,
                   bool write);

/* BAR accesses, returning the core's result. */
ssize_t bar_rd(struct tdev *t, unsigned int bar, uint64_t off, void *buf,
               size_t len);
ssize_t bar_wr(struct tdev *t, unsigned int bar, uint64_t off,
               const void *buf, size_t len);
uint32_t bar_rd32(struct tdev *t, unsigned int bar, uint64_t off);
void bar_wr32(struct tdev *t, unsigned int bar, uint64_t off, uint32_t val);

/* SET_IRQS helpers; return the core's result. */
/* Eventfds for vectors [start, start+count) of `index` (dups are passed,
 * the callers keep theirs). */
int irq_set_eventfds(struct tdev *t, uint32_t index, uint32_t start,
                     uint32_t count, const int *fds);
int irq_disable(struct tdev *t, uint32_t index);
int irq_unmask(struct tdev *t, uint32_t index, uint32_t vector);
/* A fresh non-blocking eventfd; events taken and cleared. */
int efd_new(void);
uint64_t efd_take(int fd);

#endif /* TESTS_PCI_FIXTURE_H */
