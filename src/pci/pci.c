// SPDX-License-Identifier: MIT
/*
 * pci/pci.c - the PCI model's life: attaching it to a device, declaring
 * BARs, routing the core's region accesses, reset and teardown.
 *
 * The model declares the regions and IRQ indexes whose shape it knows
 * (config space, BARs, INTx/MSI/MSI-X/ERR/REQ) so a driver cannot describe
 * them inconsistently with what config space says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "pci/pci_core.h"
#include "pci/pci_priv.h"

static void upci_header_init(struct uvfio_pci *pci)
{
    const struct uvfio_pci_config *c = &pci->cfg;
    uint16_t cmd_wmask = UPCI_CMD_MASTER | UPCI_CMD_PARITY | UPCI_CMD_SERR |
                         UPCI_CMD_INTX_DISABLE;
    uint8_t class[3] = { (uint8_t)c->class_code, (uint8_t)(c->class_code >> 8),
                         (uint8_t)(c->class_code >> 16) };
    uint8_t ff = 0xff;

    upci_init16(pci, UPCI_VENDOR_ID, c->vendor_id, 0, 0);
    upci_init16(pci, UPCI_DEVICE_ID, c->device_id, 0, 0);
    /* IO and MEM enables become writable as BARs of each kind appear. */
    upci_init16(pci, UPCI_COMMAND, 0, cmd_wmask, 0);
    upci_init16(pci, UPCI_STATUS, 0, 0, UPCI_STATUS_ERRORS);
    upci_init_bytes(pci, UPCI_REVISION, &c->revision, NULL, NULL, 1);
    upci_init_bytes(pci, UPCI_CLASS_PROG, class, NULL, NULL, 3);
    upci_init_bytes(pci, UPCI_CACHE_LINE, NULL, &ff, NULL, 1);
    /* PCIe hardwires the latency timer to 0. */
    if (!c->pcie)
        upci_init_bytes(pci, UPCI_LATENCY, NULL, &ff, NULL, 1);
    upci_init16(pci, UPCI_SUBSYS_VENDOR, c->subsys_vendor_id, 0, 0);
    upci_init16(pci, UPCI_SUBSYS_ID, c->subsys_id, 0, 0);
    upci_init_bytes(pci, UPCI_INT_LINE, NULL, &ff, NULL, 1);
    upci_init_bytes(pci, UPCI_INT_PIN, &c->intx_pin, NULL, NULL, 1);
}

static int upci_declare_irqs(struct uvfio_pci *pci)
{
    struct uvfio_irq_config intx = {
        .count = pci->cfg.intx_pin ? 1 : 0,
        .flags = pci->cfg.intx_pin ? UVFIO_IRQ_INFO_EVENTFD |
                 UVFIO_IRQ_INFO_MASKABLE | UVFIO_IRQ_INFO_AUTOMASKED : 0,
    };
    struct uvfio_irq_config one = { .count = 1,
                                    .flags = UVFIO_IRQ_INFO_EVENTFD };
    int ret;

    ret = uvfio_device_set_irq(pci->dev, UVFIO_PCI_INTX_IRQ_INDEX, &intx);
    if (!ret && pci->cfg.pcie)
        ret = uvfio_device_set_irq(pci->dev, UVFIO_PCI_ERR_IRQ_INDEX, &one);
    if (!ret)
        ret = uvfio_device_set_irq(pci->dev, UVFIO_PCI_REQ_IRQ_INDEX, &one);
    return ret;
}

static int upci_check_config(struct uvfio_device *dev,
                             const struct uvfio_pci_config *cfg)
{
    const struct uvfio_device_config *dc = uvfio_device_cfg(dev);

    if (!dc->pci || dc->num_regions < UVFIO_PCI_NUM_REGIONS ||
        dc->num_irqs < UVFIO_PCI_NUM_IRQS)
        return -EINVAL;
    /* 0xffff is what a read of an absent function returns. */
    if (cfg->vendor_id == 0xffff || cfg->intx_pin > 4 ||
        cfg->class_code > 0xffffff)
        return -EINVAL;
    return uvfio_device_pci(dev) ? -EEXIST : 0;
}

static struct uvfio_pci *upci_alloc(uint32_t cfg_size)
{
    struct uvfio_pci *pci = calloc(1, sizeof(*pci));

    if (!pci)
        return NULL;
    /* One block for the four parallel arrays. */
    pci->config = calloc(4, cfg_size);
    if (!pci->config) {
        free(pci);
        return NULL;
    }
    pci->power_on = pci->config + cfg_size;
    pci->wmask = pci->power_on + cfg_size;
    pci->w1cmask = pci->wmask + cfg_size;
    pci->cfg_size = cfg_size;
    pci->cap_next = UPCI_STD_HEADER_END;
    pci->ext_next = UPCI_EXT_CAP_START;
    pthread_mutex_init(&pci->lock, NULL);
    return pci;
}

int uvfio_pci_attach(struct uvfio_device *dev,
                     const struct uvfio_pci_config *cfg,
                     struct uvfio_pci **out)
{
    struct uvfio_region_config rc = { .flags = UVFIO_REGION_FLAG_READ |
                                               UVFIO_REGION_FLAG_WRITE };
    struct uvfio_pci *pci;
    int ret;

    if (!dev || !cfg || !out)
        return -EINVAL;
    ret = upci_check_config(dev, cfg);
    if (ret)
        return ret;
    pci = upci_alloc(cfg->pcie ? UVFIO_PCIE_CONFIG_SIZE :
                                 UVFIO_PCI_CONFIG_SIZE);
    if (!pci)
        return -ENOMEM;
    pci->dev = dev;
    pci->cfg = *cfg;
    upci_header_init(pci);

    rc.size = pci->cfg_size;
    ret = uvfio_device_set_region(dev, UVFIO_PCI_CONFIG_REGION, &rc);
    if (!ret) {
        ret = upci_declare_irqs(pci);
        if (ret) {
            rc.size = 0;
            rc.flags = 0;
            uvfio_device_set_region(dev, UVFIO_PCI_CONFIG_REGION, &rc);
        }
    }
    if (ret) {
        uvfio_pci_free(pci);
        return ret;
    }
    uvfio_device_set_pci(dev, pci);
    *out = pci;
    return 0;
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

/* ---- BARs ---------------------------------------------------------------- */

static int upci_check_bar(const struct uvfio_pci *pci, unsigned int bar,
                          uint64_t size, uint32_t flags)
{
    uint32_t type = flags & (UVFIO_PCI_BAR_IO | UVFIO_PCI_BAR_MEM32 |
                             UVFIO_PCI_BAR_MEM64);
    uint64_t min = 16, max = 1ull << 63;

    if (bar >= UPCI_NUM_BARS || (flags & ~(type | UVFIO_PCI_BAR_PREFETCH)))
        return -EINVAL;
    if (type != UVFIO_PCI_BAR_IO && type != UVFIO_PCI_BAR_MEM32 &&
        type != UVFIO_PCI_BAR_MEM64)
        return -EINVAL;
    if (type == UVFIO_PCI_BAR_IO) {
        if (flags & UVFIO_PCI_BAR_PREFETCH)
            return -EINVAL;
        /* The PCI spec caps I/O BARs at 256 bytes. */
        min = 4;
        max = 256;
    } else if (type == UVFIO_PCI_BAR_MEM32) {
        max = 1ull << 31;
    } else if (bar + 1 >= UPCI_NUM_BARS) {
        return -EINVAL;
    }
    if (size < min || size > max || (size & (size - 1)))
        return -EINVAL;
    if (pci->bars[bar].size || pci->bars[bar].upper ||
        (type == UVFIO_PCI_BAR_MEM64 && (pci->bars[bar + 1].size ||
                                         pci->bars[bar + 1].upper)))
        return -EEXIST;
    return 0;
}

/* Remember what the client may map, to keep the MSI-X table out of it. */
static int upci_bar_mmap_info(struct upci_bar *b,
                              const struct uvfio_region_config *rc)
{
    size_t bytes;

    if (!(rc->flags & UVFIO_REGION_FLAG_MMAP))
        return 0;
    b->mmap = true;
    if (!rc->nr_sparse)
        return 0;
    if (!rc->sparse)
        return -EINVAL;
    bytes = (size_t)rc->nr_sparse * sizeof(*rc->sparse);
    b->sparse = malloc(bytes);
    if (!b->sparse)
        return -ENOMEM;
    memcpy(b->sparse, rc->sparse, bytes);
    b->nr_sparse = rc->nr_sparse;
    return 0;
}

/* Type bits are read-only; the address bits above the size are the only
 * writable ones, which is what makes the all-ones sizing probe work. */
static void upci_bar_registers(struct uvfio_pci *pci, unsigned int bar,
                               uint64_t size, uint32_t flags)
{
    uint32_t reg = UPCI_BAR0 + 4 * bar;
    uint64_t addr_mask = ~(size - 1);
    uint32_t type = 0;
    uint16_t cmd;

    if (flags & UVFIO_PCI_BAR_IO) {
        upci_init32(pci, reg, UPCI_BAR_IO, (uint32_t)addr_mask & ~0x3u, 0);
        cmd = UPCI_CMD_IO;
    } else {
        if (flags & UVFIO_PCI_BAR_MEM64)
            type |= UPCI_BAR_MEM64;
        if (flags & UVFIO_PCI_BAR_PREFETCH)
            type |= UPCI_BAR_PREFETCH;
        upci_init32(pci, reg, type, (uint32_t)addr_mask & ~0xfu, 0);
        if (flags & UVFIO_PCI_BAR_MEM64)
            upci_init32(pci, reg + 4, 0, (uint32_t)(addr_mask >> 32), 0);
        cmd = UPCI_CMD_MEM;
    }
    pci->wmask[UPCI_COMMAND] |= (uint8_t)cmd;
}

int uvfio_pci_add_bar(struct uvfio_pci *pci, unsigned int bar, uint64_t size,
                      uint32_t flags, const struct uvfio_region_config *rc)
{
    struct uvfio_region_config r = { 0 };
    struct upci_bar b = { .size = size, .flags = flags };
    int ret;

    if (!pci)
        return -EINVAL;
    ret = upci_check_bar(pci, bar, size, flags);
    if (ret)
        return ret;
    if (rc)
        r = *rc;
    /* Port I/O cannot be mapped. */
    if ((flags & UVFIO_PCI_BAR_IO) && (r.flags & UVFIO_REGION_FLAG_MMAP))
        return -EINVAL;
    r.size = size;
    r.flags |= UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE;
    ret = upci_bar_mmap_info(&b, &r);
    if (!ret)
        ret = uvfio_device_set_region(pci->dev, bar, &r);
    if (ret) {
        free(b.sparse);
        return ret;
    }

    upci_lock(pci);
    pci->bars[bar] = b;
    if (flags & UVFIO_PCI_BAR_MEM64)
        pci->bars[bar + 1].upper = true;
    upci_bar_registers(pci, bar, size, flags);
    upci_unlock(pci);
    return 0;
}

/* ---- run time ------------------------------------------------------------ */

static uint16_t upci_command(const struct uvfio_pci *pci)
{
    return upci_get16(pci->config + UPCI_COMMAND);
}

bool uvfio_pci_io_enabled(const struct uvfio_pci *pci)
{
    bool on;

    upci_lock(pci);
    on = upci_command(pci) & UPCI_CMD_IO;
    upci_unlock(pci);
    return on;
}

bool uvfio_pci_mem_enabled(const struct uvfio_pci *pci)
{
    bool on;

    upci_lock(pci);
    on = upci_command(pci) & UPCI_CMD_MEM;
    upci_unlock(pci);
    return on;
}

bool uvfio_pci_bus_master(const struct uvfio_pci *pci)
{
    bool on;

    upci_lock(pci);
    on = upci_command(pci) & UPCI_CMD_MASTER;
    upci_unlock(pci);
    return on;
}

/* A function outside D0 or with the BAR's decode off does not respond. */
static bool upci_bar_decodes(struct uvfio_pci *pci, const struct upci_bar *b)
{
    uint16_t need = (b->flags & UVFIO_PCI_BAR_IO) ? UPCI_CMD_IO : UPCI_CMD_MEM;
    bool on;

    upci_lock(pci);
    on = (upci_command(pci) & need) && upci_in_d0(pci);
    upci_unlock(pci);
    return on;
}

bool uvfio_pci_region_access(struct uvfio_pci *pci, uint32_t index,
                             uint64_t offset, void *buf, size_t count,
                             bool write, ssize_t *ret)
{
    const struct upci_bar *b;

    if (index == UVFIO_PCI_CONFIG_REGION) {
        *ret = upci_config_access(pci, offset, buf, count, write);
        return true;
    }
    if (index >= UPCI_NUM_BARS || !pci->bars[index].size)
        return false;
    b = &pci->bars[index];
    if (!upci_bar_decodes(pci, b)) {
        /* Master abort: reads complete with all-ones, writes vanish. */
        if (!write)
            memset(buf, 0xff, count);
        *ret = (ssize_t)count;
        return true;
    }
    return upci_msix_bar_access(pci, index, offset, buf, count, write, ret);
}

/*
 * The driver's own device state - including the level of its interrupt
 * line - is not ours to reset: its reset op does that and tells us.
 */
void uvfio_pci_reset(struct uvfio_pci *pci)
{
    upci_lock(pci);
    memcpy(pci->config, pci->power_on, pci->cfg_size);
    upci_msix_reset(pci);
    upci_intx_update(pci);
    upci_unlock(pci);
}

void uvfio_pci_free(struct uvfio_pci *pci)
{
    unsigned int i;

    if (!pci)
        return;
    for (i = 0; i < UPCI_NUM_BARS; i++)
        free(pci->bars[i].sparse);
    free(pci->msix.table);
    free(pci->msix.pba);
    free(pci->config);
    pthread_mutex_destroy(&pci->lock);
    free(pci);
}
