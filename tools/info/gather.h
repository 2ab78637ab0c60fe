/* SPDX-License-Identifier: MIT */
/*
 * info/gather.h - everything uvfio-info shows, fetched through the client
 * library only, and read-only: nothing is written to the device.
 */
#ifndef UVFIO_INFO_GATHER_H
#define UVFIO_INFO_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/client.h>

#include "pcidesc.h"

/* A hostile server may claim 2^32 regions; we look at this many. */
#define INFO_MAX_REGIONS    64
#define INFO_MAX_IRQS       64

struct info_region {
    int err;                    /* 0, or why GET_REGION_INFO failed */
    struct uvfio_client_region r;
};

struct info_irq {
    int err;
    struct uvfio_client_irq_info irq;
};

struct info {
    const char *socket;
    struct uvfio_client_caps caps;
    struct uvfio_client_device_info dev;
    uint32_t nr_regions;        /* queried: min(dev.num_regions, max) */
    struct info_region *regions;
    uint32_t nr_irqs;
    struct info_irq *irqs;
    /* PCI devices: config space through region 7, then decoded */
    bool pci;
    int config_err;
    uint8_t *config;
    size_t config_len;
    struct pcidesc desc;
};

/* 0, or -errno when not even the device info could be had.  Per-region
 * and per-IRQ failures are recorded in the entries instead. */
int info_gather(struct uvfio_client *c, const char *socket, struct info *out);
void info_free(struct info *in);

const char *info_region_name(uint32_t index, char *buf, size_t len);
const char *info_irq_name(uint32_t index);

#endif /* UVFIO_INFO_GATHER_H */
