/* SPDX-License-Identifier: MIT */
/*
 * pci/pci_priv.h - the PCI model's state, shared by the files of src/pci/.
 *
 * Config space is kept as four parallel byte arrays: the live image the
 * guest reads, the power-on image reset restores, and per-byte masks of the
 * bits a guest may write and of the bits a guest clears by writing 1.  The
 * builders (attach, BARs, capabilities) fill all four at once, so reset and
 * the read-only checks of state loading never need to know which register
 * a byte belongs to.  Registers with behaviour beyond masking (command,
 * PMCSR, MSI and MSI-X control) get a fix-up after each write.
 *
 * One mutex guards everything below: drivers may raise interrupts from
 * their own threads while the dispatch thread handles config writes.  It is
 * never held across a driver callback; it is held across uvfio_irq_*()
 * calls into the core, so the core must not call the model with its IRQ
 * lock held.
 */
#ifndef UVFIO_PCI_PCI_PRIV_H
#define UVFIO_PCI_PCI_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/pci.h>

/* ---- type 0 header ------------------------------------------------------ */
#define UPCI_VENDOR_ID          0x00
#define UPCI_DEVICE_ID          0x02
#define UPCI_COMMAND            0x04
#define UPCI_STATUS             0x06
#define UPCI_REVISION           0x08
#define UPCI_CLASS_PROG         0x09
#define UPCI_CACHE_LINE         0x0c
#define UPCI_LATENCY            0x0d
#define UPCI_HEADER_TYPE        0x0e
#define UPCI_BAR0               0x10
#define UPCI_SUBSYS_VENDOR      0x2c
#define UPCI_SUBSYS_ID          0x2e
#define UPCI_ROM_ADDRESS        0x30
#define UPCI_CAP_PTR            0x34
#define UPCI_INT_LINE           0x3c
#define UPCI_INT_PIN            0x3d
#define UPCI_STD_HEADER_END     0x40
#define UPCI_EXT_CAP_START      0x100

#define UPCI_CMD_IO             (1u << 0)
#define UPCI_CMD_MEM            (1u << 1)
#define UPCI_CMD_MASTER         (1u << 2)
#define UPCI_CMD_PARITY         (1u << 6)
#define UPCI_CMD_SERR           (1u << 8)
#define UPCI_CMD_INTX_DISABLE   (1u << 10)

#define UPCI_STATUS_INTX        (1u << 3)
#define UPCI_STATUS_CAP_LIST    (1u << 4)
/* Error bits a function sets and software clears by writing 1. */
#define UPCI_STATUS_ERRORS      0xf900u

#define UPCI_BAR_IO             0x1u
#define UPCI_BAR_MEM64          0x4u
#define UPCI_BAR_PREFETCH       0x8u

/* ---- capabilities ------------------------------------------------------- */
#define UPCI_CAP_ID_PM          0x01
#define UPCI_CAP_ID_MSI         0x05
#define UPCI_CAP_ID_PCIE        0x10
#define UPCI_CAP_ID_MSIX        0x11

#define UPCI_PM_SIZEOF          8
#define UPCI_PM_PMC             2
#define UPCI_PM_CTRL            4
#define UPCI_PM_STATE_MASK      0x3u
#define UPCI_PM_NO_SOFT_RESET   (1u << 3)

#define UPCI_MSI_FLAGS          2
#define UPCI_MSI_ENABLE         (1u << 0)
#define UPCI_MSI_MMC_SHIFT      1
#define UPCI_MSI_MME_SHIFT      4
#define UPCI_MSI_MME_MASK       (0x7u << UPCI_MSI_MME_SHIFT)
#define UPCI_MSI_64BIT          (1u << 7)
#define UPCI_MSI_PVM            (1u << 8)

#define UPCI_MSIX_FLAGS         2
#define UPCI_MSIX_TABLE         4
#define UPCI_MSIX_PBA           8
#define UPCI_MSIX_SIZEOF        12
#define UPCI_MSIX_FMASK         (1u << 14)
#define UPCI_MSIX_ENABLE        (1u << 15)
#define UPCI_MSIX_ENTRY_SIZE    16
#define UPCI_MSIX_ENTRY_CTRL    12
#define UPCI_MSIX_CTRL_MASKED   (1u << 0)
#define UPCI_MSIX_MAX_VECTORS   2048

#define UPCI_PCIE_V2_SIZEOF     0x3c

#define UPCI_NUM_BARS           6

struct upci_bar {
    uint64_t size;              /* 0: not implemented */
    uint32_t flags;             /* UVFIO_PCI_BAR_* */
    bool upper;                 /* high half of the MEM64 BAR below */
    /* What the client may mmap (and so bypass us): checked against the
     * MSI-X table and PBA, which must stay trapped. */
    bool mmap;
    uint32_t nr_sparse;         /* 0 with mmap: the whole BAR */
    struct uvfio_sparse_area *sparse;
};

struct upci_msi {
    uint8_t off;                /* 0: no capability */
    uint8_t nvec;
    bool addr64;
    bool pvm;
};

struct upci_msix {
    uint16_t off;               /* 0: no capability */
    uint16_t nvec;
    uint8_t table_bar;
    uint8_t pba_bar;
    uint32_t table_off;
    uint32_t pba_off;
    uint8_t *table;             /* nvec * 16 bytes, little-endian */
    uint8_t *pba;               /* upci_pba_size() bytes */
    /*
     * Whether the client programs the table through us.  QEMU's vfio-pci
     * emulates the table itself and never writes ours (as with kernel VFIO,
     * where the table is not the user's), masking vectors by moving its
     * eventfds; our power-on "all masked" would then silence MSI-X for
     * good.  So until the first table write since reset the vector masks
     * are the client's business and only enable/function mask apply.
     */
    bool table_used;
};

struct uvfio_pci {
    struct uvfio_device *dev;
    struct uvfio_pci_config cfg;
    pthread_mutex_t lock;

    uint32_t cfg_size;          /* 256 or 4096 */
    uint8_t *config;            /* live image */
    uint8_t *power_on;          /* reset values */
    uint8_t *wmask;             /* guest-writable bits */
    uint8_t *w1cmask;           /* write-1-to-clear bits */

    struct upci_bar bars[UPCI_NUM_BARS];

    uint16_t cap_next;          /* next free standard cap offset */
    uint16_t cap_last;          /* last standard cap, 0 if none */
    uint16_t ext_next;          /* next free extended cap offset */
    uint16_t ext_last;          /* last extended cap, 0 if none */
    uint8_t pm_off;
    uint8_t pcie_off;
    struct upci_msi msi;
    struct upci_msix msix;

    bool intx_level;            /* what the driver says */
};

/* ---- little-endian helpers ----------------------------------------------- */
static inline uint16_t upci_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t upci_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void upci_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void upci_put32(uint8_t *p, uint32_t v)
{
    upci_put16(p, (uint16_t)v);
    upci_put16(p + 2, (uint16_t)(v >> 16));
}

static inline bool upci_ranges_overlap(uint64_t a, uint64_t alen,
                                       uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

static inline void upci_lock(const struct uvfio_pci *pci)
{
    pthread_mutex_lock((pthread_mutex_t *)&pci->lock);
}

static inline void upci_unlock(const struct uvfio_pci *pci)
{
    pthread_mutex_unlock((pthread_mutex_t *)&pci->lock);
}

/* ---- config.c: the image and its masks ----------------------------------- */
/* Define the power-on value and masks of `len` bytes at `off` (builders). */
void upci_init_bytes(struct uvfio_pci *pci, uint32_t off, const void *val,
                     const void *wmask, const void *w1c, size_t len);
void upci_init16(struct uvfio_pci *pci, uint32_t off, uint16_t val,
                 uint16_t wmask, uint16_t w1c);
void upci_init32(struct uvfio_pci *pci, uint32_t off, uint32_t val,
                 uint32_t wmask, uint32_t w1c);
uint16_t upci_cfg16(const struct uvfio_pci *pci, uint32_t off);
/* Change bits the model itself owns (read-only to the guest). */
void upci_set_cfg16(struct uvfio_pci *pci, uint32_t off, uint16_t val);
void upci_set_cfg32(struct uvfio_pci *pci, uint32_t off, uint32_t val);
ssize_t upci_config_access(struct uvfio_pci *pci, uint64_t off, void *buf,
                           size_t count, bool write);
bool upci_in_d0(const struct uvfio_pci *pci);

/* ---- caps.c -------------------------------------------------------------- */
/* Reserve `size` bytes for standard capability `id`, chained last;
 * returns the offset or -ENOSPC. */
int upci_cap_alloc(struct uvfio_pci *pci, uint8_t id, size_t size);
void upci_pm_fixup(struct uvfio_pci *pci, uint16_t old_ctrl);

/* ---- msi.c --------------------------------------------------------------- */
bool upci_msi_enabled(const struct uvfio_pci *pci);
int upci_msi_notify(struct uvfio_pci *pci, unsigned int vector);
void upci_msi_written(struct uvfio_pci *pci);

/* ---- msix.c -------------------------------------------------------------- */
bool upci_msix_enabled(const struct uvfio_pci *pci);
int upci_msix_notify(struct uvfio_pci *pci, unsigned int vector);
void upci_msix_written(struct uvfio_pci *pci);
void upci_msix_reset(struct uvfio_pci *pci);
size_t upci_pba_size(unsigned int nvec);
/* A BAR access touching the table or PBA; false if it touches neither. */
bool upci_msix_bar_access(struct uvfio_pci *pci, unsigned int bar,
                          uint64_t off, void *buf, size_t count, bool write,
                          ssize_t *ret);

/* ---- intr.c -------------------------------------------------------------- */
/* Re-evaluate the INTx line after a change of level, command or mode. */
void upci_intx_update(struct uvfio_pci *pci);

#endif /* UVFIO_PCI_PCI_PRIV_H */
