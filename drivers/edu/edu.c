// SPDX-License-Identifier: MIT
/*
 * edu/edu.c - the uvfio-edu PCI function: QEMU's edu identity and layout
 * (1 MiB memory BAR0, MSI with one vector, INTx pin A), its device ops,
 * and interrupt delivery.
 *
 * Interrupts follow edu: IRQ_STATUS collects the raised bits; while any is
 * set the device asserts its interrupt.  With MSI enabled each raise sends
 * a message (also when the bits were set already: a driver that acks only
 * some bits gets no second message for the rest, as on edu).  The INTx
 * level always follows IRQ_STATUS != 0; the PCI model keeps the pin quiet
 * while MSI is enabled or INTx is disabled in the command register, and
 * the core delivers it as a level-triggered, automasked line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edu_priv.h"

#define MSI_FLAGS       2       /* message control, from the capability */
#define MSI_ENABLE      0x0001

/* ---- interrupts ---------------------------------------------------------- */

static bool msi_enabled(struct edu *e)
{
    return e->msi_cap > 0 &&
           (uvfio_pci_config_read(e->pci, (uint32_t)e->msi_cap + MSI_FLAGS, 2) &
            MSI_ENABLE);
}

void edu_irq_sync(struct edu *e)
{
    uvfio_pci_set_intx(e->pci, e->st.irq_status != 0);
}

void edu_irq_raise(struct edu *e, uint32_t bits)
{
    e->st.irq_status |= bits;
    if (!e->st.irq_status)
        return;
    if (msi_enabled(e))
        uvfio_pci_notify(e->pci, 0);   /* -ENOENT: masked or no eventfd */
    edu_irq_sync(e);
}

void edu_irq_lower(struct edu *e, uint32_t bits)
{
    e->st.irq_status &= ~bits;
    edu_irq_sync(e);
}

void edu_hold(struct edu *e, bool held)
{
    e->held = held;
    edu_cq_hold(&e->cq, held);
    if (!held)
        edu_dma_kick(e);
}

void edu_guest_error(struct edu *e, const char *fmt, ...)
{
    va_list ap;

    if (!e->verbose)
        return;
    fputs("uvfio-edu: guest error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- device ops ------------------------------------------------------------ */

static ssize_t edu_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    if (index != UVFIO_PCI_BAR0_REGION)
        return -EINVAL;
    return edu_bar_read(uvfio_device_priv(dev), offset, buf, count);
}

static ssize_t edu_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    if (index != UVFIO_PCI_BAR0_REGION)
        return -EINVAL;
    return edu_bar_write(uvfio_device_priv(dev), offset, buf, count);
}

/* Power-on state: registers and buffer zero, the queue stopped on its
 * preset window.  Migration's hold is the migration reset's business. */
static int edu_reset(struct uvfio_device *dev)
{
    struct edu *e = uvfio_device_priv(dev);

    edu_cq_reset(&e->cq);
    memset(&e->st, 0, sizeof(e->st));
    edu_irq_sync(e);
    return 0;
}

static void edu_dma_unmap(struct uvfio_device *dev, uint64_t iova,
                          uint64_t length)
{
    struct edu *e = uvfio_device_priv(dev);

    (void)iova;
    (void)length;
    /* The edu engine runs only inside a register write; the queue's
     * worker pins one page at a time. */
    edu_cq_unpinned(&e->cq);
}

static const struct uvfio_device_ops edu_ops = {
    .name = "uvfio-edu",
    .read = edu_read,
    .write = edu_write,
    .reset = edu_reset,
    .dma_unmap = edu_dma_unmap,
};

/* ---- life cycle ------------------------------------------------------------ */

static int edu_pci_setup(struct edu *e)
{
    const struct uvfio_pci_config pc = {
        .vendor_id = EDU_VENDOR_ID,
        .device_id = EDU_DEVICE_ID,
        .subsys_vendor_id = EDU_SUBSYS_VENDOR_ID,
        .subsys_id = EDU_SUBSYS_ID,
        .revision = EDU_REVISION,
        .class_code = EDU_CLASS_CODE,
        .intx_pin = 1,
        .priv = e,
    };
    int ret;

    ret = uvfio_pci_attach(e->dev, &pc, &e->pci);
    if (ret)
        return ret;
    ret = uvfio_pci_add_bar(e->pci, 0, EDU_BAR_SIZE, UVFIO_PCI_BAR_MEM32, NULL);
    if (ret)
        return ret;
    /* edu: one vector, 64-bit address, no per-vector masking */
    e->msi_cap = uvfio_pci_add_cap_msi(e->pci, 1, true, false);
    return e->msi_cap < 0 ? e->msi_cap : 0;
}

static int edu_device_setup(struct edu *e)
{
    const struct uvfio_device_config dc = {
        .name = "uvfio-edu",
        .ops = &edu_ops,
        .num_regions = UVFIO_PCI_NUM_REGIONS,
        .num_irqs = UVFIO_PCI_NUM_IRQS,
        .pci = true,
        .mig_ops = &edu_mig_ops,
        .migration_flags = EDU_MIG_FLAGS,
        .priv = e,
    };
    int ret;

    ret = uvfio_device_create(&dc, &e->dev);
    if (ret)
        return ret;
    return edu_pci_setup(e);
}

int edu_create(const struct edu_opts *o, struct edu **out)
{
    static const struct edu_opts defaults;
    struct edu_cq_state preset = { 0 };
    struct edu *e;
    int ret;

    if (!o)
        o = &defaults;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->dma_mask = o->dma_mask ? o->dma_mask : EDU_DEFAULT_DMA_MASK;
    e->verbose = o->verbose;
    edu_mig_init(&e->mig);
    ret = edu_device_setup(e);
    if (ret)
        goto fail;
    preset.addr = o->cq_addr;
    preset.size = o->cq_size;
    preset.rate = o->cq_rate;
    ret = edu_cq_init(&e->cq, e->dev, &preset);
    if (ret)
        goto fail;
    *out = e;
    return 0;
fail:
    edu_destroy(e);
    return ret;
}

/* The worker first: it is the one thread that could still touch dev. */
void edu_destroy(struct edu *e)
{
    if (!e)
        return;
    edu_cq_fini(&e->cq);
    edu_mig_clear(&e->mig);
    if (e->dev)
        uvfio_device_destroy(e->dev);
    free(e);
}

struct uvfio_device *edu_device(struct edu *e)
{
    return e->dev;
}
