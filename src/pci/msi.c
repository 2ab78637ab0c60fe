// SPDX-License-Identifier: MIT
/*
 * pci/msi.c - the MSI capability and delivery through it.
 *
 * Message address and data are the guest's business (the client turns our
 * eventfd signal into the message); what the model owns is whether a
 * message may be sent: enable, the number of vectors the guest granted
 * (Multiple Message Enable) and, when offered, the per-vector mask and
 * pending bits.  An MSI is a memory write, so it also needs bus mastering.
 */
#include <errno.h>

#include "core/internal.h"
#include "pci/pci_priv.h"

static uint32_t upci_msi_mask_off(const struct uvfio_pci *pci)
{
    return pci->msi.off + (pci->msi.addr64 ? 0x10u : 0x0cu);
}

static uint32_t upci_msi_pending_off(const struct uvfio_pci *pci)
{
    return upci_msi_mask_off(pci) + 4;
}

static uint32_t upci_msi_vec_bits(unsigned int nvec)
{
    return nvec >= 32 ? UINT32_MAX : (1u << nvec) - 1;
}

static unsigned int upci_log2(unsigned int v)
{
    unsigned int l = 0;

    while (v > 1) {
        v >>= 1;
        l++;
    }
    return l;
}

static void upci_msi_layout(struct uvfio_pci *pci, int off)
{
    uint32_t data = (uint32_t)off + (pci->msi.addr64 ? 0x0cu : 0x08u);
    uint16_t flags = (uint16_t)(upci_log2(pci->msi.nvec) << UPCI_MSI_MMC_SHIFT);

    if (pci->msi.addr64)
        flags |= UPCI_MSI_64BIT;
    if (pci->msi.pvm)
        flags |= UPCI_MSI_PVM;
    upci_init16(pci, off + UPCI_MSI_FLAGS, flags,
                UPCI_MSI_ENABLE | UPCI_MSI_MME_MASK, 0);
    /* Messages are dword writes: the address' low two bits are 0. */
    upci_init32(pci, off + 4, 0, 0xfffffffcu, 0);
    if (pci->msi.addr64)
        upci_init32(pci, off + 8, 0, UINT32_MAX, 0);
    upci_init16(pci, data, 0, 0xffff, 0);
    if (pci->msi.pvm) {
        upci_init32(pci, upci_msi_mask_off(pci), 0,
                    upci_msi_vec_bits(pci->msi.nvec), 0);
        upci_init32(pci, upci_msi_pending_off(pci), 0, 0, 0);
    }
}

int uvfio_pci_add_cap_msi(struct uvfio_pci *pci, unsigned int nvec,
                          bool addr64, bool per_vector_mask)
{
    struct uvfio_irq_config ic = { .count = nvec,
                                   .flags = UVFIO_IRQ_INFO_EVENTFD |
                                            UVFIO_IRQ_INFO_NORESIZE };
    size_t size = (addr64 ? 0x10 : 0x0c) + (per_vector_mask ? 8 : 0);
    int off, ret;

    if (!pci || !nvec || nvec > 32 || (nvec & (nvec - 1)))
        return -EINVAL;
    upci_lock(pci);
    if (pci->msi.off) {
        upci_unlock(pci);
        return -EEXIST;
    }
    off = upci_cap_alloc(pci, UPCI_CAP_ID_MSI, size);
    if (off > 0) {
        pci->msi.off = (uint8_t)off;
        pci->msi.nvec = (uint8_t)nvec;
        pci->msi.addr64 = addr64;
        pci->msi.pvm = per_vector_mask;
        upci_msi_layout(pci, off);
    }
    upci_unlock(pci);
    if (off < 0)
        return off;
    ret = uvfio_device_set_irq(pci->dev, UVFIO_PCI_MSI_IRQ_INDEX, &ic);
    return ret ? ret : off;
}

static uint16_t upci_msi_flags(const struct uvfio_pci *pci)
{
    return upci_cfg16(pci, pci->msi.off + UPCI_MSI_FLAGS);
}

bool upci_msi_enabled(const struct uvfio_pci *pci)
{
    return pci->msi.off && (upci_msi_flags(pci) & UPCI_MSI_ENABLE);
}

static unsigned int upci_msi_granted(const struct uvfio_pci *pci)
{
    return 1u << ((upci_msi_flags(pci) & UPCI_MSI_MME_MASK) >>
                  UPCI_MSI_MME_SHIFT);
}

static bool upci_bus_master(const struct uvfio_pci *pci)
{
    return upci_cfg16(pci, UPCI_COMMAND) & UPCI_CMD_MASTER;
}

/*
 * A vector beyond what the guest granted shares the last granted one, as
 * devices given fewer messages than they asked for do: the guest's handler
 * then polls the device's sources.  Beyond what the capability offers, the
 * vector does not exist.
 */
int upci_msi_notify(struct uvfio_pci *pci, unsigned int vector)
{
    unsigned int granted = upci_msi_granted(pci);
    uint32_t bit;

    if (vector >= pci->msi.nvec)
        return -ENOENT;
    if (vector >= granted)
        vector = granted - 1;
    bit = 1u << vector;
    if (pci->msi.pvm &&
        (upci_get32(pci->config + upci_msi_mask_off(pci)) & bit)) {
        uint32_t pend = upci_msi_pending_off(pci);

        upci_set_cfg32(pci, pend, upci_get32(pci->config + pend) | bit);
        return 0;
    }
    if (!upci_bus_master(pci))
        return -ENOENT;
    return uvfio_irq_trigger(pci->dev, UVFIO_PCI_MSI_IRQ_INDEX, vector);
}

/* Send what became unmasked; keep the rest pending. */
static void upci_msi_flush(struct uvfio_pci *pci)
{
    uint32_t pend_off = upci_msi_pending_off(pci);
    uint32_t pending, ready;
    unsigned int v;

    if (!pci->msi.pvm || !upci_msi_enabled(pci) || !upci_bus_master(pci))
        return;
    pending = upci_get32(pci->config + pend_off);
    ready = pending & ~upci_get32(pci->config + upci_msi_mask_off(pci)) &
            upci_msi_vec_bits(upci_msi_granted(pci));
    if (!ready)
        return;
    upci_set_cfg32(pci, pend_off, pending & ~ready);
    for (v = 0; v < 32; v++)
        if (ready & (1u << v))
            uvfio_irq_trigger(pci->dev, UVFIO_PCI_MSI_IRQ_INDEX, v);
}

/*
 * Multiple Message Enable above Multiple Message Capable is undefined in
 * the spec; granting what exists is the only reading a guest can rely on.
 */
void upci_msi_written(struct uvfio_pci *pci)
{
    uint32_t reg = pci->msi.off + UPCI_MSI_FLAGS;
    uint16_t flags;
    unsigned int mmc;

    if (!pci->msi.off)
        return;
    flags = upci_cfg16(pci, reg);
    mmc = (flags >> UPCI_MSI_MMC_SHIFT) & 0x7;
    if (((flags & UPCI_MSI_MME_MASK) >> UPCI_MSI_MME_SHIFT) > mmc)
        upci_set_cfg16(pci, reg, (uint16_t)((flags & ~UPCI_MSI_MME_MASK) |
                                            (mmc << UPCI_MSI_MME_SHIFT)));
    upci_msi_flush(pci);
}
