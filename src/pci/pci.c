// SPDX-License-Identifier: MIT
/*
 * pci/pci.c - attaching the PCI model to a device.
 *
 * First cut: the entry points exist so the core links; the emulation
 * lands in the following commits.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/internal.h"
#include "pci/pci_core.h"

struct uvfio_pci {
    struct uvfio_device *dev;
    struct uvfio_pci_config cfg;
};

int uvfio_pci_attach(struct uvfio_device *dev,
                     const struct uvfio_pci_config *cfg,
                     struct uvfio_pci **out)
{
    (void)dev; (void)cfg; (void)out;
    return -ENOSYS;
}

struct uvfio_pci *uvfio_pci_of(struct uvfio_device *dev)
{
    return dev ? uvfio_device_pci(dev) : NULL;
}

struct uvfio_device *uvfio_pci_device(struct uvfio_pci *pci)
{
    return pci->dev;
}

void *uvfio_pci_priv(struct uvfio_pci *pci)
{
    return pci->cfg.priv;
}

int uvfio_pci_add_bar(struct uvfio_pci *pci, unsigned int bar, uint64_t size,
                      uint32_t flags, const struct uvfio_region_config *rc)
{
    (void)pci; (void)bar; (void)size; (void)flags; (void)rc;
    return -ENOSYS;
}

int uvfio_pci_add_cap_pm(struct uvfio_pci *pci)
{
    (void)pci;
    return -ENOSYS;
}

int uvfio_pci_add_cap_msi(struct uvfio_pci *pci, unsigned int nvec,
                          bool addr64, bool per_vector_mask)
{
    (void)pci; (void)nvec; (void)addr64; (void)per_vector_mask;
    return -ENOSYS;
}

int uvfio_pci_add_cap_msix(struct uvfio_pci *pci, unsigned int nvec,
                           unsigned int table_bar, uint32_t table_offset,
                           unsigned int pba_bar, uint32_t pba_offset)
{
    (void)pci; (void)nvec; (void)table_bar; (void)table_offset;
    (void)pba_bar; (void)pba_offset;
    return -ENOSYS;
}

int uvfio_pci_add_cap_pcie(struct uvfio_pci *pci)
{
    (void)pci;
    return -ENOSYS;
}

int uvfio_pci_add_cap(struct uvfio_pci *pci, uint8_t id, const void *body,
                      size_t len, const void *wmask)
{
    (void)pci; (void)id; (void)body; (void)len; (void)wmask;
    return -ENOSYS;
}

int uvfio_pci_add_ext_cap(struct uvfio_pci *pci, uint16_t id, uint8_t version,
                          const void *body, size_t len, const void *wmask)
{
    (void)pci; (void)id; (void)version; (void)body; (void)len; (void)wmask;
    return -ENOSYS;
}

int uvfio_pci_notify(struct uvfio_pci *pci, unsigned int vector)
{
    (void)pci; (void)vector;
    return -ENOENT;
}

void uvfio_pci_set_intx(struct uvfio_pci *pci, bool level)
{
    (void)pci; (void)level;
}

bool uvfio_pci_io_enabled(const struct uvfio_pci *pci)
{
    (void)pci;
    return false;
}

bool uvfio_pci_mem_enabled(const struct uvfio_pci *pci)
{
    (void)pci;
    return false;
}

bool uvfio_pci_bus_master(const struct uvfio_pci *pci)
{
    (void)pci;
    return false;
}

uint32_t uvfio_pci_config_read(const struct uvfio_pci *pci, uint32_t offset,
                               unsigned int len)
{
    (void)pci; (void)offset; (void)len;
    return 0;
}

ssize_t uvfio_pci_save_state(const struct uvfio_pci *pci, void *buf,
                             size_t len)
{
    (void)pci; (void)buf; (void)len;
    return -ENOSYS;
}

size_t uvfio_pci_state_size(const struct uvfio_pci *pci)
{
    (void)pci;
    return 0;
}

int uvfio_pci_load_state(struct uvfio_pci *pci, const void *buf, size_t len)
{
    (void)pci; (void)buf; (void)len;
    return -ENOSYS;
}

bool uvfio_pci_region_access(struct uvfio_pci *pci, uint32_t index,
                             uint64_t offset, void *buf, size_t count,
                             bool write, ssize_t *ret)
{
    (void)pci; (void)index; (void)offset; (void)buf; (void)count;
    (void)write; (void)ret;
    return false;
}

void uvfio_pci_reset(struct uvfio_pci *pci)
{
    (void)pci;
}

void uvfio_pci_free(struct uvfio_pci *pci)
{
    free(pci);
}
