// SPDX-License-Identifier: MIT
/*
 * pci/caps.c - the capability lists: standard capabilities chained from
 * the pointer at 0x34 in the 0x40-0xff area, extended ones chained from
 * 0x100 in PCIe config space.  Each is laid out where the previous one
 * ended, dword aligned, in the order the driver adds them.
 *
 * MSI and MSI-X have files of their own (msi.c, msix.c); here are the
 * list builder, Power Management, the PCIe capability and the generic
 * ones whose contents the driver supplies.
 */
#include <errno.h>

#include "pci/pci_priv.h"

#define UPCI_CFG_STD_END        0x100u

int upci_cap_alloc(struct uvfio_pci *pci, uint8_t id, size_t size)
{
    uint32_t off = pci->cap_next;
    uint8_t hdr[2] = { id, 0 };

    size = (size + 3) & ~(size_t)3;
    if (size > UPCI_CFG_STD_END - off)
        return -ENOSPC;
    upci_init_bytes(pci, off, hdr, NULL, NULL, 2);
    if (pci->cap_last) {
        pci->config[pci->cap_last + 1] = (uint8_t)off;
        pci->power_on[pci->cap_last + 1] = (uint8_t)off;
    } else {
        pci->config[UPCI_CAP_PTR] = (uint8_t)off;
        pci->power_on[UPCI_CAP_PTR] = (uint8_t)off;
        pci->config[UPCI_STATUS] |= UPCI_STATUS_CAP_LIST;
        pci->power_on[UPCI_STATUS] |= UPCI_STATUS_CAP_LIST;
    }
    pci->cap_last = (uint16_t)off;
    pci->cap_next = (uint16_t)(off + size);
    return (int)off;
}

/* ---- Power Management ----------------------------------------------------- */

/* Version 1.2 of the PM spec; D0 and D3hot only, no PME.  No_Soft_Reset
 * says the function keeps its state across D3hot -> D0, which is true of
 * us: there is nothing to lose. */
#define UPCI_PM_PMC_VERSION     0x0003u

int uvfio_pci_add_cap_pm(struct uvfio_pci *pci)
{
    int off;

    if (!pci)
        return -EINVAL;
    upci_lock(pci);
    if (pci->pm_off) {
        upci_unlock(pci);
        return -EEXIST;
    }
    off = upci_cap_alloc(pci, UPCI_CAP_ID_PM, UPCI_PM_SIZEOF);
    if (off > 0) {
        upci_init16(pci, off + UPCI_PM_PMC, UPCI_PM_PMC_VERSION, 0, 0);
        upci_init16(pci, off + UPCI_PM_CTRL, UPCI_PM_NO_SOFT_RESET,
                    UPCI_PM_STATE_MASK, 0);
        pci->pm_off = (uint8_t)off;
    }
    upci_unlock(pci);
    return off;
}

/* A write asking for D1 or D2, which PMC does not offer, is ignored, as
 * the PM spec tells a function to do. */
void upci_pm_fixup(struct uvfio_pci *pci, uint16_t old_ctrl)
{
    uint32_t reg = pci->pm_off + UPCI_PM_CTRL;
    uint16_t ctrl = upci_cfg16(pci, reg);
    uint16_t state = ctrl & UPCI_PM_STATE_MASK;

    if (state == 1 || state == 2)
        upci_set_cfg16(pci, reg, (uint16_t)((ctrl & ~UPCI_PM_STATE_MASK) |
                                            (old_ctrl & UPCI_PM_STATE_MASK)));
}

/* ---- PCI Express (v2, endpoint) -------------------------------------------- */

#define UPCIE_FLAGS             0x02
#define UPCIE_DEVCAP            0x04
#define UPCIE_DEVCTL            0x08
#define UPCIE_DEVSTA            0x0a
#define UPCIE_LNKCAP            0x0c
#define UPCIE_LNKCTL            0x10
#define UPCIE_LNKSTA            0x12
#define UPCIE_LNKCAP2           0x2c
#define UPCIE_LNKCTL2           0x30

#define UPCIE_FLAGS_V2_ENDPOINT 0x0002u        /* version 2, type 0 */
#define UPCIE_DEVCAP_RBER       (1u << 15)
/* Error reporting enables, relaxed ordering, max payload, no snoop, max
 * read request; extended tags, phantom functions, aux power and FLR are
 * not supported and so hardwired to 0. */
#define UPCIE_DEVCTL_WMASK      0x78ffu
#define UPCIE_DEVCTL_DEFAULT    0x2810u         /* RO, NS, 512 B reads */
#define UPCIE_DEVSTA_W1C        0x000fu         /* the error-detected bits */
/* A virtual x1 link at 2.5 GT/s that is always up and trained. */
#define UPCIE_LNKCAP_X1_GEN1    0x00000011u
#define UPCIE_LNKCTL_WMASK      0x02c3u         /* ASPM, CCC, ES, HAWD */
#define UPCIE_LNKSTA_X1_GEN1    0x1011u         /* + slot clock */
#define UPCIE_LNKCAP2_GEN1      0x00000002u
#define UPCIE_LNKCTL2_WMASK     0x003fu
#define UPCIE_LNKCTL2_GEN1      0x0001u

int uvfio_pci_add_cap_pcie(struct uvfio_pci *pci)
{
    int off;

    if (!pci || !pci->cfg.pcie)
        return -EINVAL;
    upci_lock(pci);
    if (pci->pcie_off) {
        upci_unlock(pci);
        return -EEXIST;
    }
    off = upci_cap_alloc(pci, UPCI_CAP_ID_PCIE, UPCI_PCIE_V2_SIZEOF);
    if (off > 0) {
        upci_init16(pci, off + UPCIE_FLAGS, UPCIE_FLAGS_V2_ENDPOINT, 0, 0);
        upci_init32(pci, off + UPCIE_DEVCAP, UPCIE_DEVCAP_RBER, 0, 0);
        upci_init16(pci, off + UPCIE_DEVCTL, UPCIE_DEVCTL_DEFAULT,
                    UPCIE_DEVCTL_WMASK, 0);
        upci_init16(pci, off + UPCIE_DEVSTA, 0, 0, UPCIE_DEVSTA_W1C);
        upci_init32(pci, off + UPCIE_LNKCAP, UPCIE_LNKCAP_X1_GEN1, 0, 0);
        upci_init16(pci, off + UPCIE_LNKCTL, 0, UPCIE_LNKCTL_WMASK, 0);
        upci_init16(pci, off + UPCIE_LNKSTA, UPCIE_LNKSTA_X1_GEN1, 0, 0);
        upci_init32(pci, off + UPCIE_LNKCAP2, UPCIE_LNKCAP2_GEN1, 0, 0);
        upci_init16(pci, off + UPCIE_LNKCTL2, UPCIE_LNKCTL2_GEN1,
                    UPCIE_LNKCTL2_WMASK, 0);
        pci->pcie_off = (uint8_t)off;
    }
    upci_unlock(pci);
    return off;
}

/* ---- capabilities the driver describes -------------------------------------- */

/* The ones the model implements itself cannot come in as opaque bytes: two
 * MSI capabilities, say, would leave the guest and the model disagreeing
 * about which one is live. */
static bool upci_cap_id_reserved(uint8_t id)
{
    return id == UPCI_CAP_ID_PM || id == UPCI_CAP_ID_MSI ||
           id == UPCI_CAP_ID_PCIE || id == UPCI_CAP_ID_MSIX;
}

int uvfio_pci_add_cap(struct uvfio_pci *pci, uint8_t id, const void *body,
                      size_t len, const void *wmask)
{
    int off;

    if (!pci || upci_cap_id_reserved(id) || (len && !body))
        return -EINVAL;
    if (len > UPCI_CFG_STD_END - UPCI_STD_HEADER_END)
        return -ENOSPC;
    upci_lock(pci);
    off = upci_cap_alloc(pci, id, 2 + len);
    if (off > 0 && len)
        upci_init_bytes(pci, (uint32_t)off + 2, body, wmask, NULL, len);
    upci_unlock(pci);
    return off;
}

/* Header: id in bits 15:0, version 19:16, next offset 31:20. */
static uint32_t upci_ext_header(uint16_t id, uint8_t version, uint32_t next)
{
    return (uint32_t)id | (uint32_t)version << 16 | next << 20;
}

static void upci_ext_link(struct uvfio_pci *pci, uint32_t off)
{
    uint32_t prev;

    if (!pci->ext_last)
        return;
    prev = upci_get32(pci->power_on + pci->ext_last) & 0x000fffffu;
    prev |= off << 20;
    upci_put32(pci->power_on + pci->ext_last, prev);
    upci_put32(pci->config + pci->ext_last, prev);
}

int uvfio_pci_add_ext_cap(struct uvfio_pci *pci, uint16_t id, uint8_t version,
                          const void *body, size_t len, const void *wmask)
{
    uint32_t off, size;

    /* Id 0 with next 0 is what "no extended capabilities" reads as. */
    if (!pci || !pci->cfg.pcie || id == 0 || version > 0xf ||
        (len && !body))
        return -EINVAL;
    upci_lock(pci);
    off = pci->ext_next;
    if (off + 4 > pci->cfg_size || len > pci->cfg_size - off - 4) {
        upci_unlock(pci);
        return -ENOSPC;
    }
    size = (uint32_t)(4 + len + 3) & ~3u;
    upci_init32(pci, off, upci_ext_header(id, version, 0), 0, 0);
    if (len)
        upci_init_bytes(pci, off + 4, body, wmask, NULL, len);
    upci_ext_link(pci, off);
    pci->ext_last = (uint16_t)off;
    pci->ext_next = (uint16_t)(off + size);
    upci_unlock(pci);
    return (int)off;
}
