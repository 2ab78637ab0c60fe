/* SPDX-License-Identifier: MIT */
/*
 * uvfio/pci.h - the PCI device model a driver attaches to its device.
 *
 * It emulates a type 0 config space (256 B, or 4 KiB for PCIe) the way a
 * real function behaves: read-only and write-1-to-clear bits, BAR sizing,
 * command-register gating of memory/IO decode and bus mastering, a
 * capability list (PM, MSI, MSI-X, PCIe, extended capabilities) and the
 * MSI-X table and PBA inside a BAR with their masks and pending bits.
 * Interrupts a driver raises are delivered in whatever mode the guest
 * enabled (MSI-X, MSI or INTx) through the client's eventfds.
 *
 * Once attached, the core routes region 7 (config space) and accesses to
 * the MSI-X table/PBA to the model; everything else in a BAR reaches the
 * driver's read/write ops.
 */
#ifndef UVFIO_PCI_H
#define UVFIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/device.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvfio_pci;

struct uvfio_pci_ops {
    /* After the model applied a config write at [offset, offset+len) -
     * e.g. a command register change.  Optional. */
    void (*config_written)(struct uvfio_pci *pci, uint32_t offset,
                           uint32_t len);
};

struct uvfio_pci_config {
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
    uint8_t revision;
    uint32_t class_code;        /* class << 16 | subclass << 8 | prog-if */
    uint8_t intx_pin;           /* 0 none, 1..4 = INTA..INTD */
    bool pcie;                  /* 4 KiB config space */
    const struct uvfio_pci_ops *ops;
    void *priv;                 /* uvfio_pci_priv() */
};

/* Attach the model to a device created with .pci = true and
 * num_regions >= 9, num_irqs >= 5.  Declares region 7 and the IRQ indexes
 * (INTx from intx_pin, REQ always, ERR for PCIe; MSI/MSI-X as added). */
UVFIO_API int uvfio_pci_attach(struct uvfio_device *dev,
                               const struct uvfio_pci_config *cfg,
                               struct uvfio_pci **out);
UVFIO_API struct uvfio_pci *uvfio_pci_of(struct uvfio_device *dev);
UVFIO_API struct uvfio_device *uvfio_pci_device(struct uvfio_pci *pci);
UVFIO_API void *uvfio_pci_priv(struct uvfio_pci *pci);

/* BARs.  flags: one of IO / MEM32 / MEM64 (taking bar and bar+1), plus
 * PREFETCH for memory.  size is a power of two (>= 4 for IO, >= 16 for
 * memory).  `rc` may add mmap backing and sparse areas; its size and
 * READ/WRITE flags are filled in by the model.  NULL for plain trapped
 * BARs. */
#define UVFIO_PCI_BAR_IO        (1u << 0)
#define UVFIO_PCI_BAR_MEM32     (1u << 1)
#define UVFIO_PCI_BAR_MEM64     (1u << 2)
#define UVFIO_PCI_BAR_PREFETCH  (1u << 3)
UVFIO_API int uvfio_pci_add_bar(struct uvfio_pci *pci, unsigned int bar,
                                uint64_t size, uint32_t flags,
                                const struct uvfio_region_config *rc);

/* Capabilities, each returns its config-space offset or -errno (-ENOSPC
 * when config space is full). */
UVFIO_API int uvfio_pci_add_cap_pm(struct uvfio_pci *pci);
/* nvec: 1, 2, 4, ..., 32. */
UVFIO_API int uvfio_pci_add_cap_msi(struct uvfio_pci *pci, unsigned int nvec,
                                    bool addr64, bool per_vector_mask);
/* Table and PBA live in BARs already added; offsets 8-byte aligned. */
UVFIO_API int uvfio_pci_add_cap_msix(struct uvfio_pci *pci, unsigned int nvec,
                                     unsigned int table_bar,
                                     uint32_t table_offset,
                                     unsigned int pba_bar,
                                     uint32_t pba_offset);
/* PCIe capability (v2, endpoint); requires cfg.pcie. */
UVFIO_API int uvfio_pci_add_cap_pcie(struct uvfio_pci *pci);
/* Any other capability: body excludes the 2-byte id/next header; its bytes
 * are read-only to the guest unless wmask (same length, may be NULL) says
 * otherwise. */
UVFIO_API int uvfio_pci_add_cap(struct uvfio_pci *pci, uint8_t id,
                                const void *body, size_t len,
                                const void *wmask);
/* Extended capability (PCIe config space, offset >= 0x100); body excludes
 * the 4-byte header. */
UVFIO_API int uvfio_pci_add_ext_cap(struct uvfio_pci *pci, uint16_t id,
                                    uint8_t version, const void *body,
                                    size_t len, const void *wmask);

/* ---- run time ---------------------------------------------------------- */

/* Deliver vector `vector` in the enabled mode: MSI-X (honouring function
 * and vector masks, setting the PBA bit while masked), MSI (honouring
 * per-vector masks), or - with neither enabled - a pulse on INTx.
 * Returns 0, or -ENOENT when no mode can deliver it. */
UVFIO_API int uvfio_pci_notify(struct uvfio_pci *pci, unsigned int vector);
/* Level of the INTx line (e.g. a UART's "interrupt pending"): drives the
 * interrupt status bit, honours the command register's INTx disable, and
 * reaches the client as a level-triggered, automasked INTx. */
UVFIO_API void uvfio_pci_set_intx(struct uvfio_pci *pci, bool level);

UVFIO_API bool uvfio_pci_io_enabled(const struct uvfio_pci *pci);
UVFIO_API bool uvfio_pci_mem_enabled(const struct uvfio_pci *pci);
UVFIO_API bool uvfio_pci_bus_master(const struct uvfio_pci *pci);

/* Raw config space reads for drivers (little-endian as on the bus). */
UVFIO_API uint32_t uvfio_pci_config_read(const struct uvfio_pci *pci,
                                         uint32_t offset, unsigned int len);

/*
 * Migration: the complete emulated state (config space contents, MSI-X
 * table and PBA, INTx level) as an opaque, versioned, self-checking blob.
 * save: returns the size written, or -ENOSPC when len is smaller than
 * uvfio_pci_state_size() (the size needed; `len` is passed by value, so
 * it cannot be reported through it - contract comment corrected by the
 * PCI model).  load: -EINVAL on a blob that does not match this model's
 * layout.
 */
UVFIO_API ssize_t uvfio_pci_save_state(const struct uvfio_pci *pci, void *buf,
                                       size_t len);
UVFIO_API size_t uvfio_pci_state_size(const struct uvfio_pci *pci);
UVFIO_API int uvfio_pci_load_state(struct uvfio_pci *pci, const void *buf,
                                   size_t len);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_PCI_H */
