// SPDX-License-Identifier: MIT
/*
 * pci/state.c - the model's state as a migration blob.
 *
 * Layout (all little-endian):
 *
 *   0  u32 magic "UPCS"          16  u32 flags (INTx level, table used)
 *   4  u16 version               20  u32 layout: CRC of the power-on image
 *   6  u16 header size                   and masks - the device's shape
 *   8  u32 config size           24  u32 CRC of the blob, this field 0
 *  12  u32 MSI-X vectors         28  u32 reserved, 0
 *  32  config space, MSI-X table, PBA
 *
 * A blob is only loaded into a model of the same shape, and only if every
 * byte is one the guest could have produced on it: read-only bits equal
 * their power-on value, fields hold values the device implements.  It is
 * checked completely before anything changes, and what the model derives
 * from config space (interrupt mode, the INTx line, decode) is derived
 * again afterwards rather than trusted.
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "pci/pci_priv.h"

#define UPCS_MAGIC              0x53435055u     /* "UPCS" */
#define UPCS_VERSION            1
#define UPCS_HDR_SIZE           32
#define UPCS_F_INTX_LEVEL       (1u << 0)
#define UPCS_F_TABLE_USED       (1u << 1)
#define UPCS_CRC_OFF            24

static uint32_t upci_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
    unsigned int k;

    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static uint32_t upci_layout_id(const struct uvfio_pci *pci)
{
    uint32_t crc = upci_crc32(0, pci->power_on, pci->cfg_size);

    crc = upci_crc32(crc, pci->wmask, pci->cfg_size);
    return upci_crc32(crc, pci->w1cmask, pci->cfg_size);
}

static size_t upci_table_size(const struct uvfio_pci *pci)
{
    return (size_t)pci->msix.nvec * UPCI_MSIX_ENTRY_SIZE;
}

size_t uvfio_pci_state_size(const struct uvfio_pci *pci)
{
    if (!pci)
        return 0;
    return UPCS_HDR_SIZE + pci->cfg_size + upci_table_size(pci) +
           (pci->msix.off ? upci_pba_size(pci->msix.nvec) : 0);
}

/* The blob's CRC, computed as if its CRC field were 0. */
static uint32_t upci_blob_crc(const uint8_t *b, size_t len)
{
    static const uint8_t zero[4];
    uint32_t crc = upci_crc32(0, b, UPCS_CRC_OFF);

    crc = upci_crc32(crc, zero, 4);
    return upci_crc32(crc, b + UPCS_CRC_OFF + 4, len - UPCS_CRC_OFF - 4);
}

ssize_t uvfio_pci_save_state(const struct uvfio_pci *pci, void *buf,
                             size_t len)
{
    size_t need = uvfio_pci_state_size(pci);
    uint8_t *b = buf, *p;
    uint32_t flags = 0;

    if (!pci || (!buf && len))
        return -EINVAL;
    if (len < need)
        return -ENOSPC;
    memset(b, 0, UPCS_HDR_SIZE);
    upci_put32(b, UPCS_MAGIC);
    upci_put16(b + 4, UPCS_VERSION);
    upci_put16(b + 6, UPCS_HDR_SIZE);
    upci_put32(b + 8, pci->cfg_size);
    upci_put32(b + 12, pci->msix.nvec);
    upci_put32(b + 20, upci_layout_id(pci));

    upci_lock(pci);
    if (pci->intx_level)
        flags |= UPCS_F_INTX_LEVEL;
    if (pci->msix.table_used)
        flags |= UPCS_F_TABLE_USED;
    upci_put32(b + 16, flags);
    p = b + UPCS_HDR_SIZE;
    memcpy(p, pci->config, pci->cfg_size);
    p += pci->cfg_size;
    if (pci->msix.off) {
        memcpy(p, pci->msix.table, upci_table_size(pci));
        p += upci_table_size(pci);
        memcpy(p, pci->msix.pba, upci_pba_size(pci->msix.nvec));
    }
    upci_unlock(pci);

    upci_put32(b + UPCS_CRC_OFF, upci_blob_crc(b, need));
    return (ssize_t)need;
}

/* ---- loading ------------------------------------------------------------- */

static int upci_check_header(const struct uvfio_pci *pci, const uint8_t *b,
                             size_t len)
{
    if (len != uvfio_pci_state_size(pci) || len < UPCS_HDR_SIZE)
        return -EINVAL;
    if (upci_get32(b) != UPCS_MAGIC || upci_get16(b + 4) != UPCS_VERSION ||
        upci_get16(b + 6) != UPCS_HDR_SIZE ||
        upci_get32(b + 8) != pci->cfg_size ||
        upci_get32(b + 12) != pci->msix.nvec ||
        (upci_get32(b + 16) & ~(UPCS_F_INTX_LEVEL | UPCS_F_TABLE_USED)) ||
        upci_get32(b + 20) != upci_layout_id(pci) || upci_get32(b + 28))
        return -EINVAL;
    if (upci_get32(b + UPCS_CRC_OFF) != upci_blob_crc(b, len))
        return -EINVAL;
    return 0;
}

/* Read-only bits the model itself changes at run time, at byte `off`. */
static uint8_t upci_dynamic_bits(const struct uvfio_pci *pci, uint32_t off)
{
    if (off == UPCI_STATUS && pci->cfg.intx_pin)
        return UPCI_STATUS_INTX;
    if (pci->msi.off && pci->msi.pvm) {
        uint32_t pend = pci->msi.off + (pci->msi.addr64 ? 0x14u : 0x10u);
        uint32_t bits = pci->msi.nvec >= 32 ? UINT32_MAX :
                        (1u << pci->msi.nvec) - 1;

        if (off >= pend && off < pend + 4)
            return (uint8_t)(bits >> (8 * (off - pend)));
    }
    return 0;
}

static int upci_check_config_image(const struct uvfio_pci *pci,
                                   const uint8_t *cfg)
{
    uint32_t i;

    for (i = 0; i < pci->cfg_size; i++) {
        uint8_t fixed = (uint8_t)~(pci->wmask[i] | pci->w1cmask[i] |
                                   upci_dynamic_bits(pci, i));

        if ((cfg[i] ^ pci->power_on[i]) & fixed)
            return -EINVAL;
    }
    if (pci->pm_off) {
        unsigned int state = upci_get16(cfg + pci->pm_off + UPCI_PM_CTRL) &
                             UPCI_PM_STATE_MASK;

        if (state == 1 || state == 2)
            return -EINVAL;
    }
    if (pci->msi.off) {
        uint16_t flags = upci_get16(cfg + pci->msi.off + UPCI_MSI_FLAGS);

        if (((flags & UPCI_MSI_MME_MASK) >> UPCI_MSI_MME_SHIFT) >
            ((flags >> UPCI_MSI_MMC_SHIFT) & 0x7))
            return -EINVAL;
    }
    return 0;
}

static int upci_check_msix(const struct uvfio_pci *pci, const uint8_t *table,
                           const uint8_t *pba)
{
    unsigned int v, nvec = pci->msix.nvec;

    for (v = 0; v < nvec; v++) {
        const uint8_t *e = table + v * UPCI_MSIX_ENTRY_SIZE;

        if ((e[0] & 0x3) ||
            (upci_get32(e + UPCI_MSIX_ENTRY_CTRL) & ~UPCI_MSIX_CTRL_MASKED))
            return -EINVAL;
    }
    for (v = nvec; v < upci_pba_size(nvec) * 8; v++)
        if (pba[v / 8] & (1u << (v % 8)))
            return -EINVAL;
    return 0;
}

int uvfio_pci_load_state(struct uvfio_pci *pci, const void *buf, size_t len)
{
    const uint8_t *b = buf, *cfg, *table, *pba;
    uint32_t flags;
    int ret;

    if (!pci || !buf)
        return -EINVAL;
    ret = upci_check_header(pci, b, len);
    if (ret)
        return ret;
    cfg = b + UPCS_HDR_SIZE;
    table = cfg + pci->cfg_size;
    pba = table + upci_table_size(pci);
    ret = upci_check_config_image(pci, cfg);
    if (!ret && pci->msix.off)
        ret = upci_check_msix(pci, table, pba);
    if (ret)
        return ret;

    flags = upci_get32(b + 16);
    upci_lock(pci);
    memcpy(pci->config, cfg, pci->cfg_size);
    if (pci->msix.off) {
        memcpy(pci->msix.table, table, upci_table_size(pci));
        memcpy(pci->msix.pba, pba, upci_pba_size(pci->msix.nvec));
        pci->msix.table_used = flags & UPCS_F_TABLE_USED;
    }
    pci->intx_level = flags & UPCS_F_INTX_LEVEL;
    upci_intx_update(pci);
    upci_unlock(pci);
    return 0;
}
