/* SPDX-License-Identifier: MIT */
/*
 * uvfio/device.h - the driver API.
 *
 * Shaped like the kernel's vfio_device_ops: a driver describes its device
 * (regions, IRQ indexes, optional PCI config space via uvfio/pci.h,
 * optional migration ops via uvfio/migration.h and DMA-logging ops via
 * uvfio/dirty.h) and fills in an ops table.  The core owns every piece of
 * ABI plumbing - argsz rules, capability chains, SET_IRQS validation, the
 * DMA table, feature dispatch, the migration state machine - so a driver
 * supplies only content.
 *
 * Threading: every callback runs on the thread that dispatches the server
 * (see uvfio/server.h).  The DMA and IRQ functions below may be called from
 * any thread.  Errors are negative errno values throughout.
 */
#ifndef UVFIO_DEVICE_H
#define UVFIO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef UVFIO_API
#define UVFIO_API __attribute__((visibility("default")))
#endif

struct uvfio_device;
struct uvfio_migration_ops;   /* uvfio/migration.h */
struct uvfio_log_ops;         /* uvfio/dirty.h */

struct uvfio_device_ops {
    const char *name;

    /* First client attaches / last client goes away.  Called with the
     * device set's lock held (see devset_id).  open may fail with -errno,
     * which refuses the client. */
    int (*open_device)(struct uvfio_device *dev);
    void (*close_device)(struct uvfio_device *dev);

    /*
     * Region access.  The core has already checked that the region exists,
     * allows the access (READ/WRITE flags), and that [offset, offset+count)
     * lies inside it; accesses the PCI model owns (config space, MSI-X
     * table and PBA) never reach the driver.  Return count, or -errno.
     */
    ssize_t (*read)(struct uvfio_device *dev, uint32_t index,
                    uint64_t offset, void *buf, size_t count);
    ssize_t (*write)(struct uvfio_device *dev, uint32_t index,
                     uint64_t offset, const void *buf, size_t count);

    /* DEVICE_RESET.  Offered to clients (the RESET info flag) only when
     * set.  The core resets IRQ state and migration state itself. */
    int (*reset)(struct uvfio_device *dev);

    /* The host wants the device back: count starts at 0 and grows with
     * every repeat.  The default forwards it on the REQ IRQ eventfd. */
    void (*request)(struct uvfio_device *dev, unsigned int count);

    /* [iova, iova+length) is being unmapped: drop every uvfio_dma_pin of
     * it before returning. */
    void (*dma_unmap)(struct uvfio_device *dev, uint64_t iova,
                      uint64_t length);

    /* DEVICE_FEATURE for features the core does not own.  `data` is the
     * payload (in/out for GET), `len` its size.  Return 0 or -errno;
     * leaving it NULL answers -ENOTTY. */
    int (*device_feature)(struct uvfio_device *dev, uint32_t flags,
                          void *data, size_t len);
};

/* What a driver declares when it creates a device. */
struct uvfio_device_config {
    const char *name;                       /* for logs and tools */
    const struct uvfio_device_ops *ops;
    uint32_t num_regions;                   /* max region index + 1 */
    uint32_t num_irqs;                      /* max IRQ index + 1 */
    bool pci;                               /* DEVICE_GET_INFO PCI flag */
    /* Devices created with the same non-NULL devset_id form a device set:
     * one lock around open/close/reset of every member, as in the kernel.
     * NULL makes a set of one. */
    const void *devset_id;
    /* Migration: NULL for none.  migration_flags must include
     * UVFIO_MIGRATION_STOP_COPY when mig_ops is set. */
    const struct uvfio_migration_ops *mig_ops;
    uint64_t migration_flags;
    /* DMA logging: NULL gives the core's own tracking of the DMA the driver
     * does through uvfio_dma_*; a driver whose device writes guest memory
     * by other means supplies its own. */
    const struct uvfio_log_ops *log_ops;
    void *priv;                             /* uvfio_device_priv() */
};

UVFIO_API int uvfio_device_create(const struct uvfio_device_config *cfg,
                                  struct uvfio_device **out);
/* The device must not be attached to a server any more. */
UVFIO_API void uvfio_device_destroy(struct uvfio_device *dev);
UVFIO_API void *uvfio_device_priv(const struct uvfio_device *dev);
UVFIO_API const char *uvfio_device_name(const struct uvfio_device *dev);

/* ---- regions ----------------------------------------------------------- */

struct uvfio_sparse_area {
    uint64_t offset;        /* from the start of the region */
    uint64_t size;
};

struct uvfio_region_config {
    uint64_t size;                  /* 0: region not implemented */
    uint32_t flags;                 /* UVFIO_REGION_FLAG_READ/WRITE/MMAP */
    /* Backing for mmap (MMAP flag): the fd handed to the client and the
     * file offset of the region's first byte.  The core dups the fd. */
    int mmap_fd;
    uint64_t mmap_offset;
    /* With MMAP: the only windows a client may map; none = whole region. */
    uint32_t nr_sparse;
    const struct uvfio_sparse_area *sparse;   /* copied */
    /* Device-specific regions (PCI index >= 9) carry a TYPE capability. */
    uint32_t type;
    uint32_t subtype;
    bool msix_mappable;             /* MSIX_MAPPABLE capability */
};

/* Declare region `index`.  Areas must lie inside the region, be page
 * aligned, sorted and disjoint; index >= 9 on a PCI device needs a type. */
UVFIO_API int uvfio_device_set_region(struct uvfio_device *dev, uint32_t index,
                                      const struct uvfio_region_config *rc);

/* ---- interrupts -------------------------------------------------------- */

struct uvfio_irq_config {
    uint32_t count;                 /* vectors; 0 = not implemented */
    uint32_t flags;                 /* UVFIO_IRQ_INFO_* */
};

UVFIO_API int uvfio_device_set_irq(struct uvfio_device *dev, uint32_t index,
                                   const struct uvfio_irq_config *ic);

/*
 * Signal vector `vector` of IRQ `index` to the client (its trigger
 * eventfd).  A masked vector is remembered as pending and delivered on
 * unmask.  Returns 0, -ENOENT when the client set no eventfd for it (the
 * interrupt is lost, as on real hardware with the vector disabled), or
 * -EINVAL for a bad index/vector.
 */
UVFIO_API int uvfio_irq_trigger(struct uvfio_device *dev, uint32_t index,
                                uint32_t vector);

/*
 * Level-triggered lines (AUTOMASKED indexes, i.e. INTx): the core signals
 * on a rising level while unmasked and masks the line, and signals again
 * when the client unmasks while the level is still high.
 */
UVFIO_API int uvfio_irq_set_level(struct uvfio_device *dev, uint32_t index,
                                  uint32_t vector, bool level);

/* Whether the client has a trigger eventfd on (index, vector). */
UVFIO_API bool uvfio_irq_enabled(struct uvfio_device *dev, uint32_t index,
                                 uint32_t vector);

/* ---- guest memory (DMA) ------------------------------------------------ */

/*
 * Copy to/from guest memory by IOVA.  The range may span several DMA maps
 * but must be fully mapped with the needed permission: -EFAULT otherwise.
 * Maps the client shared with an fd are accessed directly; the others by
 * DMA_READ/DMA_WRITE messages to the client.  On a PCI device, DMA with
 * bus mastering disabled fails with -EPERM.  Safe from any thread.
 */
UVFIO_API int uvfio_dma_read(struct uvfio_device *dev, uint64_t iova,
                             void *buf, size_t len);
UVFIO_API int uvfio_dma_write(struct uvfio_device *dev, uint64_t iova,
                              const void *buf, size_t len);

/*
 * Longer-lived direct access to one directly mapped range, like a pinned
 * scatter-gather list: the pointer stays valid until uvfio_dma_unpin even
 * if the client unmaps meanwhile (the core then defers the munmap).  A
 * writable pin marks its pages dirty on unpin, as the kernel's pinning
 * does.  -EFAULT if the range is not inside one fd-backed map.
 */
struct uvfio_dma_pin {
    void *host;                     /* first byte of the range */
    uint64_t iova;
    size_t len;
    bool write;
    void *priv_;                    /* core's; do not touch */
};

UVFIO_API int uvfio_dma_pin(struct uvfio_device *dev, uint64_t iova, size_t len,
                            bool write, struct uvfio_dma_pin *pin);
UVFIO_API void uvfio_dma_unpin(struct uvfio_device *dev,
                               struct uvfio_dma_pin *pin);

/*
 * (Added for robustness, docs/robustness.md.)  Guest memory that goes
 * away: a client may DMA_MAP an fd it can still shrink (an unsealed memfd,
 * a plain file), and touching a page past the file's new end raises
 * SIGBUS.  Fds sealed against shrinking (F_SEAL_SHRINK, as QEMU's
 * memory-backend-memfd and uvfio_guest_mem_create seal them) cannot, and
 * are accessed with no check at all.  For the others:
 *
 *   GUARD (default): the core installs a process-wide SIGBUS handler when
 *   the first such map arrives, chained to the handler that was there
 *   before for every fault that is not in one of those maps.  A fault in
 *   one replaces the lost pages with anonymous memory and marks the map
 *   gone: uvfio_dma_read/write on it fail with -EFAULT from then on, and
 *   a pin of it reads zeros and loses its writes instead of crashing.
 *   If the program installs another SIGBUS handler later, the guard puts
 *   itself back in front of it at the next such map, chained to it.
 *
 *   REQUIRE_SEAL: no handler; DMA_MAP of an unsealed fd fails with -EPERM.
 *   The environment variable UVFIO_SIGBUS_GUARD=0 selects it too.
 *
 * Process-wide; choose before serving.  Returns 0 or -EINVAL.
 */
enum uvfio_guest_mem_policy {
    UVFIO_GUEST_MEM_GUARD = 0,
    UVFIO_GUEST_MEM_REQUIRE_SEAL = 1,
};
UVFIO_API int uvfio_set_guest_mem_policy(enum uvfio_guest_mem_policy p);

/* ---- file descriptors a driver wants to watch -------------------------- */

/*
 * Call `cb` on the dispatching thread when `fd` is ready for `events`
 * (EPOLLIN, EPOLLOUT, ...).  For a driver's own inputs: a chardev, a
 * timerfd, an eventfd its worker threads signal.
 */
typedef void (*uvfio_fd_cb)(struct uvfio_device *dev, int fd,
                            uint32_t revents, void *opaque);
UVFIO_API int uvfio_device_watch_fd(struct uvfio_device *dev, int fd,
                                    uint32_t events, uvfio_fd_cb cb,
                                    void *opaque);
UVFIO_API int uvfio_device_unwatch_fd(struct uvfio_device *dev, int fd);

/* ---- device sets ------------------------------------------------------- */

/* Number of clients attached (0 or 1 today). */
UVFIO_API unsigned int uvfio_device_open_count(const struct uvfio_device *dev);
/* Members of dev's set, dev included, in creation order: for decisions an
 * open_device/close_device op takes under the set lock it already holds. */
UVFIO_API int uvfio_device_set_for_each(struct uvfio_device *dev,
                                        int (*fn)(struct uvfio_device *member,
                                                  void *opaque),
                                        void *opaque);
/* Reset every member of the set together (a hot reset): -EBUSY if a member
 * other than `dev` is open. */
UVFIO_API int uvfio_device_set_reset(struct uvfio_device *dev);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_DEVICE_H */
