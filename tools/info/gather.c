// SPDX-License-Identifier: MIT
/*
 * info/gather.c - asking the device about itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gather.h"

const char *info_region_name(uint32_t index, char *buf, size_t len)
{
    static const char *const names[] = {
        "BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA",
    };

    if (index < sizeof(names) / sizeof(names[0]))
        return names[index];
    snprintf(buf, len, "REGION%u", index);
    return buf;
}

const char *info_irq_name(uint32_t index)
{
    static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };

    return index < sizeof(names) / sizeof(names[0]) ? names[index] : "IRQ";
}

static int gather_regions(struct uvfio_client *c, struct info *in)
{
    in->nr_regions = in->dev.num_regions;
    if (in->nr_regions > INFO_MAX_REGIONS)
        in->nr_regions = INFO_MAX_REGIONS;
    in->regions = calloc(in->nr_regions ? in->nr_regions : 1,
                         sizeof(*in->regions));
    if (!in->regions)
        return -ENOMEM;
    for (uint32_t i = 0; i < in->nr_regions; i++) {
        in->regions[i].r.fd = -1;
        in->regions[i].err = uvfio_client_region_info(c, i, &in->regions[i].r);
    }
    return 0;
}

static int gather_irqs(struct uvfio_client *c, struct info *in)
{
    in->nr_irqs = in->dev.num_irqs;
    if (in->nr_irqs > INFO_MAX_IRQS)
        in->nr_irqs = INFO_MAX_IRQS;
    in->irqs = calloc(in->nr_irqs ? in->nr_irqs : 1, sizeof(*in->irqs));
    if (!in->irqs)
        return -ENOMEM;
    for (uint32_t i = 0; i < in->nr_irqs; i++)
        in->irqs[i].err = uvfio_client_irq_info(c, i, &in->irqs[i].irq);
    return 0;
}

static uint64_t region_size(const struct info *in, uint32_t index)
{
    if (index >= in->nr_regions || in->regions[index].err)
        return 0;
    return in->regions[index].r.size;
}

/* Config space is read, never written: sizing BARs by writing them would
 * disturb a device a guest may be using right now. */
static int gather_config(struct uvfio_client *c, struct info *in)
{
    uint64_t sizes[PCIDESC_NR_BARS + 1];
    uint64_t len = region_size(in, UVFIO_PCI_CONFIG_REGION);
    ssize_t n;

    if (len < 64)
        return -ENODEV;
    if (len > UVFIO_PCIE_CONFIG_SIZE)
        len = UVFIO_PCIE_CONFIG_SIZE;
    in->config = calloc(1, len);
    if (!in->config)
        return -ENOMEM;
    n = uvfio_client_region_read(c, UVFIO_PCI_CONFIG_REGION, 0, in->config, len);
    if (n < 0)
        return (int)n;
    if ((uint64_t)n != len)
        return -EIO;
    in->config_len = len;
    for (uint32_t i = 0; i <= PCIDESC_NR_BARS; i++)
        sizes[i] = region_size(in, i);
    return pcidesc_decode(in->config, in->config_len, sizes, &in->desc);
}

int info_gather(struct uvfio_client *c, const char *socket, struct info *out)
{
    int ret;

    memset(out, 0, sizeof(*out));
    out->socket = socket;
    out->caps = *uvfio_client_caps(c);
    ret = uvfio_client_device_info(c, &out->dev);
    if (ret)
        return ret;
    ret = gather_regions(c, out);
    if (!ret)
        ret = gather_irqs(c, out);
    if (ret)
        return ret;
    out->pci = out->dev.flags & UVFIO_DEVICE_FLAGS_PCI;
    if (out->pci)
        out->config_err = gather_config(c, out);
    return 0;
}

void info_free(struct info *in)
{
    for (uint32_t i = 0; in->regions && i < in->nr_regions; i++)
        if (!in->regions[i].err)
            uvfio_client_region_free(&in->regions[i].r);
    free(in->regions);
    free(in->irqs);
    free(in->config);
    memset(in, 0, sizeof(*in));
}
