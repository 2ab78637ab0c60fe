// SPDX-License-Identifier: MIT
/*
 * core/device.c - a device's life: creation from the driver's config,
 * a client attaching and going away, DEVICE_GET_INFO, DEVICE_RESET, and
 * the request ("please give the device back") path.
 *
 * A device outlives its clients: detaching drops what belonged to the
 * client (DMA maps, eventfds, migration streams) and keeps what belongs to
 * the device, as vfio-user asks of a server so that a client can
 * reconnect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device_priv.h"
#include "internal.h"
#include "dirty_core.h"
#include "mig_core.h"
#include "pci/pci_core.h"
#include "util/log.h"

/* ---- creation ---------------------------------------------------------- */

static int device_check_config(const struct uvfio_device_config *cfg)
{
    if (!cfg->ops)
        return -EINVAL;
    if (cfg->num_regions > UVFIO_MAX_REGIONS || cfg->num_irqs > UVFIO_MAX_IRQS)
        return -EINVAL;
    /* vfio-pci's fixed layout: BARs, ROM, config, VGA; INTx..REQ. */
    if (cfg->pci && (cfg->num_regions < UVFIO_PCI_NUM_REGIONS ||
                     cfg->num_irqs < UVFIO_PCI_NUM_IRQS))
        return -EINVAL;
    return 0;
}

static const char *device_pick_name(const struct uvfio_device_config *cfg)
{
    if (cfg->name)
        return cfg->name;
    if (cfg->ops->name)
        return cfg->ops->name;
    return "uvfio";
}

int uvfio_device_create(const struct uvfio_device_config *cfg,
                        struct uvfio_device **out)
{
    struct uvfio_device *dev;
    int r;

    if (!cfg || !out)
        return -EINVAL;
    r = device_check_config(cfg);
    if (r < 0)
        return r;

    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return -ENOMEM;
    dev->cfg = *cfg;
    dev->name = strdup(device_pick_name(cfg));
    if (!dev->name) {
        r = -ENOMEM;
        goto err_free;
    }
    dev->cfg.name = dev->name;

    r = uvfio_regions_init(dev);
    if (r < 0)
        goto err_free;
    r = uvfio_events_init(dev);
    if (r < 0)
        goto err_regions;
    r = uvfio_irqs_init(dev);
    if (r < 0)
        goto err_events;
    r = uvfio_dma_init(dev);
    if (r < 0)
        goto err_irqs;
    r = uvfio_devset_join(dev);
    if (r < 0)
        goto err_dma;
    r = uvfio_dirty_init(dev);
    if (r < 0)
        goto err_devset;
    /* Last: migration may look at everything above through internal.h. */
    r = uvfio_mig_init(dev);
    if (r < 0)
        goto err_dirty;

    *out = dev;
    return 0;

err_dirty:
    uvfio_dirty_destroy(dev);
err_devset:
    uvfio_devset_leave(dev);
err_dma:
    uvfio_dma_fini(dev);
err_irqs:
    uvfio_irqs_fini(dev);
err_events:
    uvfio_events_fini(dev);
err_regions:
    uvfio_regions_fini(dev);
err_free:
    free(dev->name);
    free(dev);
    return r;
}

void uvfio_device_destroy(struct uvfio_device *dev)
{
    if (!dev)
        return;
    /* The API says the caller detaches first; a forgotten client must
     * still get close_device and lose its maps rather than leak them. */
    if (dev->open_count) {
        uvfio_warn("%s: destroyed while a client is attached", dev->name);
        uvfio_core_detach(dev);
    }
    uvfio_mig_destroy(dev);
    uvfio_dirty_destroy(dev);
    if (dev->pci)
        uvfio_pci_free(dev->pci);
    dev->pci = NULL;
    uvfio_devset_leave(dev);
    uvfio_dma_fini(dev);
    /* IRQs before events: dropping an unmask eventfd unwatches it. */
    uvfio_irqs_fini(dev);
    uvfio_events_fini(dev);
    uvfio_regions_fini(dev);
    free(dev->name);
    free(dev);
}

void *uvfio_device_priv(const struct uvfio_device *dev)
{
    return dev ? dev->cfg.priv : NULL;
}

const char *uvfio_device_name(const struct uvfio_device *dev)
{
    return dev ? dev->name : NULL;
}

/* ---- clients ----------------------------------------------------------- */

int uvfio_core_attach(struct uvfio_device *dev,
                      const struct uvfio_core_client *cl)
{
    const struct uvfio_device_ops *ops;
    int r = 0;

    if (!dev || !cl)
        return -EINVAL;
    ops = dev->cfg.ops;

    uvfio_devset_lock(dev);
    if (dev->open_count) {
        r = -EBUSY;
        goto out;
    }
    /* Published before open_device so the driver can already see it. */
    dev->client = *cl;
    dev->open_count = 1;
    uvfio_dma_set_client(dev, cl);
    if (ops->open_device)
        r = ops->open_device(dev);
    if (r < 0) {
        uvfio_dma_clear_client(dev);
        memset(&dev->client, 0, sizeof(dev->client));
        dev->open_count = 0;
    } else {
        r = 0;
    }
out:
    uvfio_devset_unlock(dev);
    return r;
}

void uvfio_core_detach(struct uvfio_device *dev)
{
    const struct uvfio_device_ops *ops;

    if (!dev)
        return;
    ops = dev->cfg.ops;

    uvfio_devset_lock(dev);
    if (!dev->open_count)
        goto out;
    /* Streams first: their reads and writes must fail from now on. */
    uvfio_mig_on_detach(dev);
    uvfio_dma_drop_all(dev);
    /* Logging belongs to the client that started it. */
    uvfio_dirty_on_detach(dev);
    uvfio_dma_clear_client(dev);
    uvfio_irqs_drop_all(dev);
    if (ops->close_device)
        ops->close_device(dev);
    memset(&dev->client, 0, sizeof(dev->client));
    dev->open_count = 0;
out:
    uvfio_devset_unlock(dev);
}

unsigned int uvfio_device_open_count(const struct uvfio_device *dev)
{
    unsigned int n;

    if (!dev)
        return 0;
    uvfio_devset_lock(dev);
    n = dev->open_count;
    uvfio_devset_unlock(dev);
    return n;
}

/* ---- DEVICE_GET_INFO --------------------------------------------------- */

int uvfio_core_get_info(struct uvfio_device *dev,
                        const struct uvfio_wire_device_info *req,
                        struct uvfio_buf *rep)
{
    struct uvfio_wire_device_info info = { 0 };

    if (req->argsz < sizeof(info))
        return -EINVAL;
    info.argsz = sizeof(info);
    if (dev->cfg.ops->reset)
        info.flags |= UVFIO_DEVICE_FLAGS_RESET;
    if (dev->cfg.pci)
        info.flags |= UVFIO_DEVICE_FLAGS_PCI;
    info.num_regions = dev->cfg.num_regions;
    info.num_irqs = dev->cfg.num_irqs;
    return uvfio_buf_append(rep, &info, sizeof(info));
}

/* ---- DEVICE_RESET ------------------------------------------------------ */

/*
 * Everything a function reset touches.  The driver goes first: if it
 * cannot reset its device, the core's view (config space, IRQ masks,
 * migration state) must not pretend otherwise.
 */
int uvfio_device_reset_locked(struct uvfio_device *dev)
{
    const struct uvfio_device_ops *ops = dev->cfg.ops;
    int r;

    if (ops->reset) {
        r = ops->reset(dev);
        if (r < 0)
            return r;
    }
    /* IRQ state first: the PCI model's reset re-derives the INTx level from
     * the driver's line and must not have it wiped afterwards. */
    uvfio_irq_reset_state(dev);
    if (dev->pci)
        uvfio_pci_reset(dev->pci);
    uvfio_mig_on_reset(dev);
    return 0;
}

int uvfio_core_reset(struct uvfio_device *dev)
{
    int r;

    /* No RESET flag in GET_INFO: the kernel answers EINVAL. */
    if (!dev->cfg.ops->reset)
        return -EINVAL;
    uvfio_devset_lock(dev);
    r = uvfio_device_reset_locked(dev);
    uvfio_devset_unlock(dev);
    return r;
}

/* ---- request ----------------------------------------------------------- */

void uvfio_device_request(struct uvfio_device *dev, unsigned int count)
{
    int r = -ENOENT;

    if (dev->cfg.ops->request) {
        dev->cfg.ops->request(dev, count);
        return;
    }
    /* vfio-pci's default: a signal on the REQ eventfd, if there is one. */
    if (dev->cfg.pci)
        r = uvfio_irq_trigger(dev, UVFIO_PCI_REQ_IRQ_INDEX, 0);
    if (r < 0)
        uvfio_warn("%s: device requested back (#%u) but the client has no "
                   "REQ eventfd to tell", dev->name, count);
}

/* ---- accessors for the rest of the core (internal.h) ------------------- */

const struct uvfio_device_config *uvfio_device_cfg(const struct uvfio_device *dev)
{
    return &dev->cfg;
}

struct uvfio_pci *uvfio_device_pci(const struct uvfio_device *dev)
{
    return dev->pci;
}

void uvfio_device_set_pci(struct uvfio_device *dev, struct uvfio_pci *pci)
{
    dev->pci = pci;
}

void *uvfio_device_mig(const struct uvfio_device *dev)
{
    return dev->mig;
}

void uvfio_device_set_mig(struct uvfio_device *dev, void *mig)
{
    dev->mig = mig;
}

void *uvfio_device_log(const struct uvfio_device *dev)
{
    return dev->log;
}

void uvfio_device_set_log(struct uvfio_device *dev, void *log)
{
    dev->log = log;
}

const struct uvfio_core_client *uvfio_device_client(const struct uvfio_device *dev)
{
    return dev->open_count ? &dev->client : NULL;
}
