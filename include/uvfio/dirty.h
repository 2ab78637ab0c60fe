/* SPDX-License-Identifier: MIT */
/*
 * uvfio/dirty.h - DMA dirty logging: the pages a device wrote into guest
 * memory, which a live migration must copy again.
 *
 * Driver side.  Every device is trackable for free: each write a driver
 * makes through uvfio_dma_write(), or through a writable uvfio_dma_pin()
 * when it is released, marks its pages while a client has logging on.  A
 * driver whose device also writes guest memory by other means (a passed
 * through device with its own tracker) fills in a uvfio_log_ops, shaped
 * like the kernel's vfio_log_ops, and names it in
 * uvfio_device_config.log_ops; the core then asks it as well, and a report
 * holds both.
 *
 * VMM side.  The uvfio_client_dma_logging_* calls drive DEVICE_FEATURE
 * DMA_LOGGING_START / STOP / REPORT (features 6, 7, 8) over a client
 * connection, and uvfio_client_dma_unmap_dirty() is the older scheme's
 * DMA_UNMAP with a dirty bitmap.
 *
 * What the core does with the wire requests (kernel semantics §8, with
 * the choices vfio-user leaves open):
 *
 *   START   page_size must be a power of two (0 or anything else: EINVAL);
 *           it is a hint: the core tracks at max(page_size, 4 KiB), coarser
 *           if the ranges would need more than 256 MiB of bitmap, and
 *           writes its choice back in the reply.  num_ranges 0 logs
 *           everything the client maps, now or later (the vfio-user
 *           protocol's meaning; the kernel refuses 0).  More than 256
 *           ranges: E2BIG.  A range of length 0 or not a multiple of
 *           page_size: EINVAL; iova + length past 2^64: EOVERFLOW;
 *           overlapping ranges: EINVAL.  START while logging: EBUSY.
 *   STOP    always succeeds, logging or not.
 *   REPORT  page_size a power of two >= 4 KiB and length > 0, else EINVAL;
 *           iova + length past 2^64: EOVERFLOW; logging off: EINVAL; a
 *           bitmap larger than the negotiated max_data_xfer_size: E2BIG
 *           (the client call below splits into windows); argsz too small
 *           for the reply with its bitmap: EINVAL.  Bit n stands for
 *           [iova + n * page_size, + page_size), in u64 word n / 64, bit
 *           n % 64.  A dirty tracker page sets every report bit it
 *           overlaps; reading clears the tracker pages that lie wholly
 *           inside the reported range (one that straddles its edge stays
 *           dirty and is reported again next time: over-reporting is safe,
 *           losing a page is not).
 *
 * The log is kept by IOVA, as a device's own tracker keeps it: unmapping
 * a window does not forget pages dirtied in it.  Logging survives a device
 * reset and ends when the client goes away.
 *
 * Errors are negative errno values throughout.
 */
#ifndef UVFIO_DIRTY_H
#define UVFIO_DIRTY_H

#include <stddef.h>
#include <stdint.h>

#include <uvfio/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef UVFIO_API
#define UVFIO_API __attribute__((visibility("default")))
#endif

struct uvfio_device;
struct uvfio_client;

/* One IOVA range: [iova, iova + length). */
struct uvfio_dirty_range {
    uint64_t iova;
    uint64_t length;
};

/* START accepts at most this many ranges (the kernel's guarantee on 4 KiB
 * hosts); more is E2BIG. */
#define UVFIO_DIRTY_MAX_RANGES  256u

/* ---- driver side ------------------------------------------------------- */

/* A report being filled: opaque. */
struct uvfio_dirty_bitmap;

/*
 * Record [iova, iova + length) as dirty: every report page it overlaps
 * inside the range being reported gets its bit, the part outside the range
 * is ignored, so a tracker may hand over whole pages of its own size.
 */
UVFIO_API void uvfio_dirty_bitmap_set(struct uvfio_dirty_bitmap *dirty,
                                      uint64_t iova, uint64_t length);

struct uvfio_log_ops {
    /*
     * Start logging device writes to `ranges`: sorted by IOVA, disjoint,
     * non-empty, multiples of the client's page size; nr == 0 means every
     * address.  At most max_ranges of them: the core has combined the
     * client's ranges for a tracker that takes fewer
     * (uvfio_dirty_combine_ranges).  *page_size holds the client's hint;
     * set it to the granularity the tracker uses.  Called only while
     * logging is off.
     */
    int (*log_start)(struct uvfio_device *dev,
                     const struct uvfio_dirty_range *ranges, uint32_t nr,
                     uint64_t *page_size);
    int (*log_stop)(struct uvfio_device *dev);
    /* Report the pages written in [iova, iova + length) since the last
     * report into `dirty` with uvfio_dirty_bitmap_set, and forget them. */
    int (*log_read_and_clear)(struct uvfio_device *dev, uint64_t iova,
                              uint64_t length,
                              struct uvfio_dirty_bitmap *dirty);
    /* Ranges the tracker can follow; 0 = any number. */
    uint32_t max_ranges;
};

/*
 * Shrink a sorted, disjoint set of ranges to at most `max` by merging
 * neighbours across the smallest gaps first (leftmost first among equal
 * gaps), as the kernel's vfio_combine_iova_ranges does: the result covers
 * the union plus exactly the nr - max smallest gaps.  max == 1 gives one
 * range from the first start to the last end.  Returns the new count
 * (ranges[0..count) hold the result), nr unchanged when nr <= max or
 * max == 0, or -EINVAL for an unsorted, overlapping or empty range, one
 * reaching 2^64 (START refuses those too), or nr > INT32_MAX.
 * O((nr - max) * nr).
 */
UVFIO_API int uvfio_dirty_combine_ranges(struct uvfio_dirty_range *ranges,
                                         uint32_t nr, uint32_t max);

/* ---- VMM side ---------------------------------------------------------- */

/*
 * DMA_LOGGING_START for `ranges` (nr == 0: everything).  *page_size is the
 * hint going in and the server's choice coming back.
 */
UVFIO_API int
uvfio_client_dma_logging_start(struct uvfio_client *c,
                               const struct uvfio_dirty_range *ranges,
                               uint32_t nr, uint64_t *page_size);
UVFIO_API int uvfio_client_dma_logging_stop(struct uvfio_client *c);

/*
 * DMA_LOGGING_REPORT of [iova, iova + length) at page_size: the dirty bits
 * are ORed into `bitmap`, which holds ceil(length / page_size) bits in u64
 * words (zero it first; ORing lets a caller gather several devices into
 * one bitmap, as the kernel's report does).  Any length: the range is
 * reported in windows whose bitmap fits max_data_xfer_size.  On error the
 * log must be taken as lost: count everything dirty, or restart logging.
 */
UVFIO_API int uvfio_client_dma_logging_report(struct uvfio_client *c,
                                              uint64_t iova, uint64_t length,
                                              uint64_t page_size,
                                              uint64_t *bitmap);

/*
 * DMA_UNMAP of the map [iova, iova + size) that also returns the pages
 * dirtied in it, at pgsize (a power of two >= 4 KiB), into bitmap: bytes
 * bytes, at least ceil(size / pgsize / 8), overwritten.  Needs logging on
 * (-EINVAL otherwise).  The older scheme, for clients that unmap without
 * reporting first.
 */
UVFIO_API int uvfio_client_dma_unmap_dirty(struct uvfio_client *c,
                                           uint64_t iova, uint64_t size,
                                           uint64_t pgsize, void *bitmap,
                                           size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_DIRTY_H */
