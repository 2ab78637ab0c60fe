/* SPDX-License-Identifier: MIT */
/*
 * uvfio/abi.h - numbers of the VFIO user ABI that every layer shares.
 *
 * These are facts of the kernel uapi and of the vfio-user protocol (flag
 * bits, state numbers, region and IRQ indexes).  They are spelled out here
 * rather than taken from <linux/vfio.h> so that a driver or a VMM built
 * against uvfio does not depend on how new the build host's kernel headers
 * are, and so that no public header drags the kernel's namespace in.
 */
#ifndef UVFIO_ABI_H
#define UVFIO_ABI_H

#include <stdint.h>

/* Device info flags (DEVICE_GET_INFO). */
#define UVFIO_DEVICE_FLAGS_RESET        (1u << 0)
#define UVFIO_DEVICE_FLAGS_PCI          (1u << 1)
#define UVFIO_DEVICE_FLAGS_CAPS         (1u << 7)

/* Region info flags (DEVICE_GET_REGION_INFO). */
#define UVFIO_REGION_FLAG_READ          (1u << 0)
#define UVFIO_REGION_FLAG_WRITE         (1u << 1)
#define UVFIO_REGION_FLAG_MMAP          (1u << 2)
#define UVFIO_REGION_FLAG_CAPS          (1u << 3)

/* Region capability ids and versions. */
#define UVFIO_REGION_CAP_SPARSE_MMAP    1
#define UVFIO_REGION_CAP_TYPE           2
#define UVFIO_REGION_CAP_MSIX_MAPPABLE  3
#define UVFIO_REGION_CAP_SPARSE_MMAP_VERSION 1
#define UVFIO_REGION_CAP_TYPE_VERSION   1
#define UVFIO_REGION_CAP_MSIX_MAPPABLE_VERSION 1
#define UVFIO_REGION_TYPE_PCI_VENDOR_TYPE (1u << 31)

/* vfio-pci fixed region indexes. */
enum uvfio_pci_region {
    UVFIO_PCI_BAR0_REGION = 0,
    UVFIO_PCI_BAR1_REGION,
    UVFIO_PCI_BAR2_REGION,
    UVFIO_PCI_BAR3_REGION,
    UVFIO_PCI_BAR4_REGION,
    UVFIO_PCI_BAR5_REGION,
    UVFIO_PCI_ROM_REGION,
    UVFIO_PCI_CONFIG_REGION,
    UVFIO_PCI_VGA_REGION,
    UVFIO_PCI_NUM_REGIONS            /* first device-specific index */
};

/* IRQ info flags (DEVICE_GET_IRQ_INFO). */
#define UVFIO_IRQ_INFO_EVENTFD          (1u << 0)
#define UVFIO_IRQ_INFO_MASKABLE         (1u << 1)
#define UVFIO_IRQ_INFO_AUTOMASKED       (1u << 2)
#define UVFIO_IRQ_INFO_NORESIZE         (1u << 3)

/* SET_IRQS flags: exactly one DATA_* and one ACTION_* per request. */
#define UVFIO_IRQ_SET_DATA_NONE         (1u << 0)
#define UVFIO_IRQ_SET_DATA_BOOL         (1u << 1)
#define UVFIO_IRQ_SET_DATA_EVENTFD      (1u << 2)
#define UVFIO_IRQ_SET_ACTION_MASK       (1u << 3)
#define UVFIO_IRQ_SET_ACTION_UNMASK     (1u << 4)
#define UVFIO_IRQ_SET_ACTION_TRIGGER    (1u << 5)
#define UVFIO_IRQ_SET_DATA_TYPE_MASK    0x7u
#define UVFIO_IRQ_SET_ACTION_TYPE_MASK  0x38u

/* vfio-pci IRQ indexes. */
enum uvfio_pci_irq {
    UVFIO_PCI_INTX_IRQ_INDEX = 0,
    UVFIO_PCI_MSI_IRQ_INDEX,
    UVFIO_PCI_MSIX_IRQ_INDEX,
    UVFIO_PCI_ERR_IRQ_INDEX,
    UVFIO_PCI_REQ_IRQ_INDEX,
    UVFIO_PCI_NUM_IRQS
};

/* DMA_MAP flags. */
#define UVFIO_DMA_MAP_FLAG_READ         (1u << 0)
#define UVFIO_DMA_MAP_FLAG_WRITE        (1u << 1)
/* DMA_UNMAP flags (legacy bits still sent by some clients). */
#define UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1u << 0)
#define UVFIO_DMA_UNMAP_FLAG_ALL        (1u << 1)

/* DEVICE_FEATURE flags and feature indexes. */
#define UVFIO_FEATURE_MASK              0xffffu
#define UVFIO_FEATURE_GET               (1u << 16)
#define UVFIO_FEATURE_SET               (1u << 17)
#define UVFIO_FEATURE_PROBE             (1u << 18)

enum uvfio_feature {
    UVFIO_FEATURE_PCI_VF_TOKEN = 0,
    UVFIO_FEATURE_MIGRATION = 1,
    UVFIO_FEATURE_MIG_DEVICE_STATE = 2,
    UVFIO_FEATURE_DMA_LOGGING_START = 6,
    UVFIO_FEATURE_DMA_LOGGING_STOP = 7,
    UVFIO_FEATURE_DMA_LOGGING_REPORT = 8,
    UVFIO_FEATURE_MIG_DATA_SIZE = 9,
};

/* MIGRATION feature flags. */
#define UVFIO_MIGRATION_STOP_COPY       (1ull << 0)
#define UVFIO_MIGRATION_P2P             (1ull << 1)
#define UVFIO_MIGRATION_PRE_COPY        (1ull << 2)

/* Migration v2 device states, numbered as the uapi numbers them. */
enum uvfio_mig_state {
    UVFIO_MIG_STATE_ERROR = 0,
    UVFIO_MIG_STATE_STOP = 1,
    UVFIO_MIG_STATE_RUNNING = 2,
    UVFIO_MIG_STATE_STOP_COPY = 3,
    UVFIO_MIG_STATE_RESUMING = 4,
    UVFIO_MIG_STATE_RUNNING_P2P = 5,
    UVFIO_MIG_STATE_PRE_COPY = 6,
    UVFIO_MIG_STATE_PRE_COPY_P2P = 7,
    UVFIO_MIG_STATE_COUNT = 8
};

/* PCI config space sizes. */
#define UVFIO_PCI_CONFIG_SIZE           256u
#define UVFIO_PCIE_CONFIG_SIZE          4096u

#endif /* UVFIO_ABI_H */
