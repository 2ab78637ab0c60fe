/* SPDX-License-Identifier: MIT */
/*
 * pci/pci_core.h - the hooks the core calls into the PCI model.
 */
#ifndef UVFIO_PCI_PCI_CORE_H
#define UVFIO_PCI_PCI_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/pci.h>

/*
 * A client access to region `index` at [offset, offset+count), already
 * bounds- and permission-checked by the core.  Returns false when the model
 * does not own those bytes (the core then asks the driver); true when it
 * handled them, with the byte count or -errno in *ret.  The model owns all
 * of config space and the MSI-X table and PBA; for a BAR whose decode is
 * disabled in the command register it also answers (reads all-ones, writes
 * dropped), as a real function would not respond.
 */
bool uvfio_pci_region_access(struct uvfio_pci *pci, uint32_t index,
                             uint64_t offset, void *buf, size_t count,
                             bool write, ssize_t *ret);

/* DEVICE_RESET: config space back to power-on values (BARs, command,
 * MSI/MSI-X disabled), MSI-X table masked, PBA clear. */
void uvfio_pci_reset(struct uvfio_pci *pci);

/* Device destruction. */
void uvfio_pci_free(struct uvfio_pci *pci);

#endif /* UVFIO_PCI_PCI_CORE_H */
