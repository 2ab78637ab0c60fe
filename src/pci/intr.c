// SPDX-License-Identifier: MIT
/*
 * pci/intr.c - which interrupt mode a notification takes, and the INTx
 * line.
 *
 * The guest picks the mode in config space: MSI-X when its enable bit is
 * set, else MSI when its enable bit is set, else INTx.  A function with MSI
 * or MSI-X enabled must not assert INTx, and the command register's
 * Interrupt Disable holds the line low; the status register's Interrupt
 * Status still shows the function's own view, which is how a guest finds
 * out whether a shared line was ours.
 */
#include <errno.h>

#include "core/internal.h"
#include "pci/pci_priv.h"

static bool upci_intx_allowed(const struct uvfio_pci *pci)
{
    return pci->cfg.intx_pin &&
           !(upci_cfg16(pci, UPCI_COMMAND) & UPCI_CMD_INTX_DISABLE) &&
           !upci_msi_enabled(pci) && !upci_msix_enabled(pci);
}

/*
 * The line's level is sent to the core every time, changed or not: the
 * core acts on edges only, and re-sending heals the case where it forgot
 * the level (its IRQ state is reset after ours on a device reset).
 */
void upci_intx_update(struct uvfio_pci *pci)
{
    uint16_t status = upci_cfg16(pci, UPCI_STATUS);

    if (!pci->cfg.intx_pin)
        return;
    if (pci->intx_level)
        status |= UPCI_STATUS_INTX;
    else
        status &= (uint16_t)~UPCI_STATUS_INTX;
    upci_set_cfg16(pci, UPCI_STATUS, status);
    uvfio_irq_set_level(pci->dev, UVFIO_PCI_INTX_IRQ_INDEX, 0,
                        pci->intx_level && upci_intx_allowed(pci));
}

void uvfio_pci_set_intx(struct uvfio_pci *pci, bool level)
{
    if (!pci)
        return;
    upci_lock(pci);
    pci->intx_level = level;
    upci_intx_update(pci);
    upci_unlock(pci);
}

/*
 * A notification without MSI or MSI-X is one interrupt on the shared INTx
 * line, whatever the vector: the guest's handler asks the device which of
 * its sources fired.
 */
static int upci_intx_pulse(struct uvfio_pci *pci)
{
    if (!upci_intx_allowed(pci))
        return -ENOENT;
    return uvfio_irq_trigger(pci->dev, UVFIO_PCI_INTX_IRQ_INDEX, 0);
}

int uvfio_pci_notify(struct uvfio_pci *pci, unsigned int vector)
{
    int ret;

    if (!pci)
        return -EINVAL;
    upci_lock(pci);
    if (upci_msix_enabled(pci))
        ret = upci_msix_notify(pci, vector);
    else if (upci_msi_enabled(pci))
        ret = upci_msi_notify(pci, vector);
    else
        ret = upci_intx_pulse(pci);
    upci_unlock(pci);
    return ret;
}
