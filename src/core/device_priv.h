/* SPDX-License-Identifier: MIT */
/*
 * core/device_priv.h - struct uvfio_device, shared only by the device core
 * files (device.c, region.c, irq.c, dma.c, devset.c, events.c).  Everyone
 * else goes through core/internal.h.
 *
 * Locks, and the only order in which they nest:
 *   device set lock  ->  irq_lock  ->  events lock
 * The DMA table's rwlock and client lock never nest with those.  No lock is
 * held while a driver op or a watch callback runs, except the device set
 * lock, which the driver API documents as held around open/close/reset.
 */
#ifndef UVFIO_CORE_DEVICE_PRIV_H
#define UVFIO_CORE_DEVICE_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvfio/device.h>

#include "core.h"

/* Bounds on what a driver may declare: enough for any PCI function (9 fixed
 * regions plus device-specific ones, 5 IRQ indexes plus spares, 2048 MSI-X
 * vectors) while keeping every reply far below a message's size limit. */
#define UVFIO_MAX_REGIONS       64u
#define UVFIO_MAX_IRQS          16u
#define UVFIO_MAX_IRQ_VECTORS   2048u
#define UVFIO_MAX_SPARSE_AREAS  1024u

/* The IOVA granularity vfio-user advertises (pgsizes 4096). */
#define UVFIO_DMA_PAGE_SIZE     4096u

struct uvfio_devset;
struct uvfio_dma_map;
struct uvfio_watch;

struct uvfio_region {
    struct uvfio_region_config cfg;     /* .sparse points at our copy */
    struct uvfio_sparse_area *sparse;
    int fd;                             /* our dup of cfg.mmap_fd, or -1 */
};

struct uvfio_irq_vector {
    int trigger_fd;         /* device -> client */
    int unmask_fd;          /* client -> device: unmask when signalled */
    bool masked;
    bool pending;           /* fired while masked */
    bool level;             /* line level, AUTOMASKED indexes */
};

struct uvfio_irq_index {
    uint32_t count;
    uint32_t flags;                     /* UVFIO_IRQ_INFO_* */
    bool enabled;                       /* PCI INTx/MSI/MSI-X mode is on */
    uint32_t nvec_enabled;              /* MSI/MSI-X vectors enabled */
    struct uvfio_irq_vector *vec;
};

struct uvfio_dma_table {
    pthread_rwlock_t lock;              /* shared: accesses; excl: map/unmap */
    struct uvfio_dma_map **maps;        /* sorted by IOVA, disjoint */
    size_t nr;
    size_t cap;
    /* Of those, mmapped ones: this device's part of the process budget
     * (guestmem.c). */
    uint64_t host_maps;
    uint64_t host_bytes;

    /* The client serving message-path DMA, and how many threads are
     * inside its dma_rw right now (detach waits for them). */
    pthread_mutex_t client_lock;
    pthread_cond_t client_idle;
    struct uvfio_core_client client;
    bool has_client;
    unsigned int client_users;
};

struct uvfio_events {
    int epfd;
    pthread_mutex_t lock;
    struct uvfio_watch *watches;
    uint64_t next_id;
};

struct uvfio_device {
    struct uvfio_device_config cfg;     /* .name points at our copy */
    char *name;

    struct uvfio_region *regions;       /* cfg.num_regions */

    pthread_mutex_t irq_lock;
    struct uvfio_irq_index *irqs;       /* cfg.num_irqs */

    struct uvfio_dma_table dma;
    struct uvfio_events events;

    /* Device set membership; open_count and the client change only under
     * the set lock. */
    struct uvfio_devset *set;
    struct uvfio_device *set_next;
    unsigned int open_count;
    struct uvfio_core_client client;

    struct uvfio_pci *pci;
    void *mig;
    void *log;
};

/* region.c */
int uvfio_regions_init(struct uvfio_device *dev);
void uvfio_regions_fini(struct uvfio_device *dev);

/* irq.c */
int uvfio_irqs_init(struct uvfio_device *dev);
void uvfio_irqs_fini(struct uvfio_device *dev);
/* Detach: every index disabled, every eventfd closed. */
void uvfio_irqs_drop_all(struct uvfio_device *dev);

/* dma.c */
int uvfio_dma_init(struct uvfio_device *dev);
void uvfio_dma_fini(struct uvfio_device *dev);
void uvfio_dma_set_client(struct uvfio_device *dev,
                          const struct uvfio_core_client *cl);
/* Returns once no thread is inside the old client's dma_rw. */
void uvfio_dma_clear_client(struct uvfio_device *dev);
/* Unmap everything, calling the driver's dma_unmap for each map. */
void uvfio_dma_drop_all(struct uvfio_device *dev);

/* devset.c */
int uvfio_devset_join(struct uvfio_device *dev);
void uvfio_devset_leave(struct uvfio_device *dev);
void uvfio_devset_lock(const struct uvfio_device *dev);
void uvfio_devset_unlock(const struct uvfio_device *dev);

/* device.c: what DEVICE_RESET does to one device, set lock held. */
int uvfio_device_reset_locked(struct uvfio_device *dev);

/* events.c */
int uvfio_events_init(struct uvfio_device *dev);
void uvfio_events_fini(struct uvfio_device *dev);

#endif /* UVFIO_CORE_DEVICE_PRIV_H */
