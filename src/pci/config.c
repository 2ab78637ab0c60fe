// SPDX-License-Identifier: MIT
/*
 * pci/config.c - config space as the guest sees it through region 7.
 *
 * Accesses of any size and alignment are accepted and handled byte by
 * byte: config space has no side effects on read, and each byte of a write
 * goes through its own write and write-1-to-clear masks, so splitting never
 * changes the outcome of a naturally aligned 1/2/4-byte access.  This also
 * serves the accesses real clients make that are not naturally aligned:
 * QEMU reads the whole space in one go when it realizes the device, and an
 * x86 guest may access a word at 0xcfd.  Registers with behaviour beyond
 * masking are fixed up once per write, after all its bytes landed.
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "pci/pci_priv.h"

void upci_init_bytes(struct uvfio_pci *pci, uint32_t off, const void *val,
                     const void *wmask, const void *w1c, size_t len)
{
    if (val) {
        memcpy(pci->config + off, val, len);
        memcpy(pci->power_on + off, val, len);
    } else {
        memset(pci->config + off, 0, len);
        memset(pci->power_on + off, 0, len);
    }
    if (wmask)
        memcpy(pci->wmask + off, wmask, len);
    else
        memset(pci->wmask + off, 0, len);
    if (w1c)
        memcpy(pci->w1cmask + off, w1c, len);
    else
        memset(pci->w1cmask + off, 0, len);
}

void upci_init16(struct uvfio_pci *pci, uint32_t off, uint16_t val,
                 uint16_t wmask, uint16_t w1c)
{
    uint8_t v[2], w[2], c[2];

    upci_put16(v, val);
    upci_put16(w, wmask);
    upci_put16(c, w1c);
    upci_init_bytes(pci, off, v, w, c, 2);
}

void upci_init32(struct uvfio_pci *pci, uint32_t off, uint32_t val,
                 uint32_t wmask, uint32_t w1c)
{
    uint8_t v[4], w[4], c[4];

    upci_put32(v, val);
    upci_put32(w, wmask);
    upci_put32(c, w1c);
    upci_init_bytes(pci, off, v, w, c, 4);
}

uint16_t upci_cfg16(const struct uvfio_pci *pci, uint32_t off)
{
    return upci_get16(pci->config + off);
}

void upci_set_cfg16(struct uvfio_pci *pci, uint32_t off, uint16_t val)
{
    upci_put16(pci->config + off, val);
}

void upci_set_cfg32(struct uvfio_pci *pci, uint32_t off, uint32_t val)
{
    upci_put32(pci->config + off, val);
}

bool upci_in_d0(const struct uvfio_pci *pci)
{
    if (!pci->pm_off)
        return true;
    return !(upci_cfg16(pci, pci->pm_off + UPCI_PM_CTRL) & UPCI_PM_STATE_MASK);
}

static void upci_write_byte(struct uvfio_pci *pci, uint32_t off, uint8_t val)
{
    uint8_t w = pci->wmask[off];
    uint8_t v = (uint8_t)((pci->config[off] & ~w) | (val & w));

    pci->config[off] = (uint8_t)(v & ~(val & pci->w1cmask[off]));
}

static bool upci_touches(uint64_t off, size_t len, uint32_t reg,
                         uint32_t reg_len)
{
    return reg && upci_ranges_overlap(off, len, reg, reg_len);
}

/* Behaviour that masks cannot express, once the whole write landed. */
static void upci_after_write(struct uvfio_pci *pci, uint64_t off, size_t len,
                             uint16_t old_pmcsr)
{
    if (pci->pm_off && upci_touches(off, len, pci->pm_off + UPCI_PM_CTRL, 2))
        upci_pm_fixup(pci, old_pmcsr);
    /* Enables, masks and bus mastering all decide whether held-back
     * messages may go now, so look after every write. */
    upci_msi_written(pci);
    upci_msix_written(pci);
    upci_intx_update(pci);
}

static ssize_t upci_config_write(struct uvfio_pci *pci, uint32_t off,
                                 const uint8_t *src, size_t count)
{
    const struct uvfio_pci_ops *ops = pci->cfg.ops;
    uint16_t old_pmcsr = 0;
    size_t i;

    upci_lock(pci);
    if (pci->pm_off)
        old_pmcsr = upci_cfg16(pci, pci->pm_off + UPCI_PM_CTRL);
    for (i = 0; i < count; i++)
        upci_write_byte(pci, off + (uint32_t)i, src[i]);
    upci_after_write(pci, off, count, old_pmcsr);
    upci_unlock(pci);

    /* Outside the lock: the driver may call back into the model. */
    if (ops && ops->config_written)
        ops->config_written(pci, off, (uint32_t)count);
    return (ssize_t)count;
}

ssize_t upci_config_access(struct uvfio_pci *pci, uint64_t off, void *buf,
                           size_t count, bool write)
{
    /* The core checked this against region 7's size; stay safe anyway. */
    if (off > pci->cfg_size || count > pci->cfg_size - off)
        return -EINVAL;
    if (write)
        return upci_config_write(pci, (uint32_t)off, buf, count);
    upci_lock(pci);
    memcpy(buf, pci->config + off, count);
    upci_unlock(pci);
    return (ssize_t)count;
}

/* For drivers; out-of-range reads float high like an absent register. */
uint32_t uvfio_pci_config_read(const struct uvfio_pci *pci, uint32_t offset,
                               unsigned int len)
{
    uint32_t val = 0;
    unsigned int i;

    if (!pci || (len != 1 && len != 2 && len != 4) ||
        offset >= pci->cfg_size || len > pci->cfg_size - offset)
        return UINT32_MAX;
    upci_lock(pci);
    for (i = 0; i < len; i++)
        val |= (uint32_t)pci->config[offset + i] << (8 * i);
    upci_unlock(pci);
    return val;
}
