/* SPDX-License-Identifier: MIT */
/*
 * core/core.h - what the server needs from the core.
 *
 * The server owns sockets and framing; it decodes a message with proto,
 * then calls one of these handlers with typed, size-checked input.  Each
 * handler owns the semantics of its command - argsz rules, capability
 * chains, validation - and writes its reply payload into `rep`.  A handler
 * returns 0, or -errno for the server to put in an error reply (the reply
 * buffer is then discarded).
 *
 * All handlers run on the server's dispatch thread.
 */
#ifndef UVFIO_CORE_CORE_H
#define UVFIO_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/device.h>

#include "proto/buf.h"
#include "proto/wire.h"

/* The connected client as the core sees it. */
struct uvfio_core_client {
    void *ctx;
    /*
     * Message-path DMA: send DMA_READ (write=false, fill buf) or DMA_WRITE
     * (write=true) for [iova, iova+len) to the client and wait for its
     * reply.  len <= max_data_xfer.  May be called from any thread,
     * including the dispatch thread from inside a handler.
     */
    int (*dma_rw)(void *ctx, bool write, uint64_t iova, void *buf,
                  size_t len);
    uint64_t max_data_xfer;     /* negotiated */
    uint32_t max_dma_maps;      /* negotiated/configured */
    uint32_t extensions;        /* UVFIO_EXT_* negotiated (proto/version.h) */
};

/* A client attaches: open_device on first open (under the set lock).
 * -EBUSY if another client is attached. */
int uvfio_core_attach(struct uvfio_device *dev,
                      const struct uvfio_core_client *cl);
/* The client went away: end migration streams, drop DMA maps (driver's
 * dma_unmap called) and IRQ eventfds, close_device.  Device state is kept.
 * (Added by the device core:) returns only once no thread is inside the
 * client's dma_rw, so the server must fail pending DMA requests first and
 * must not call this from inside dma_rw. */
void uvfio_core_detach(struct uvfio_device *dev);

/* Driver-watched fds (uvfio_device_watch_fd) are multiplexed on one epoll
 * fd per device; the server polls it and calls dispatch when readable. */
int uvfio_core_event_fd(struct uvfio_device *dev);
void uvfio_core_dispatch_events(struct uvfio_device *dev);

/* DEVICE_GET_INFO: reply struct uvfio_wire_device_info (argsz rules). */
int uvfio_core_get_info(struct uvfio_device *dev,
                        const struct uvfio_wire_device_info *req,
                        struct uvfio_buf *rep);

/* DEVICE_GET_REGION_INFO: reply fixed struct + capability chain, or the
 * truncated form with the needed argsz.  *fd_out is the fd to attach
 * (borrowed: the server must not close it), -1 for none. */
int uvfio_core_get_region_info(struct uvfio_device *dev,
                               const struct uvfio_wire_region_info *req,
                               struct uvfio_buf *rep, int *fd_out);

/* DEVICE_GET_REGION_IO_FDS: no ioeventfds are offered today. */
int uvfio_core_get_region_io_fds(struct uvfio_device *dev,
                                 const struct uvfio_wire_region_io_fds *req,
                                 struct uvfio_buf *rep);

int uvfio_core_get_irq_info(struct uvfio_device *dev,
                            const struct uvfio_wire_irq_info *req,
                            struct uvfio_buf *rep);

/* SET_IRQS: hdr + data (data_len bytes after the 20-byte header) + fds.
 * The core takes the fds it keeps by setting their slot to -1; the server
 * closes the rest. */
int uvfio_core_set_irqs(struct uvfio_device *dev,
                        const struct uvfio_wire_irq_set *hdr,
                        const void *data, size_t data_len,
                        int *fds, size_t nfds);

/* REGION_READ/WRITE with bounds and permission checks; the PCI model gets
 * what it owns, the driver the rest. */
ssize_t uvfio_core_region_read(struct uvfio_device *dev, uint32_t index,
                               uint64_t offset, void *buf, size_t count);
ssize_t uvfio_core_region_write(struct uvfio_device *dev, uint32_t index,
                                uint64_t offset, const void *buf,
                                size_t count);

/* DMA_MAP with fd (>= 0: the core takes it, set to -1 on success) or
 * without (-1: message path). */
int uvfio_core_dma_map(struct uvfio_device *dev,
                       const struct uvfio_wire_dma_map *req, int *fd);
/* DMA_UNMAP: exact match or ALL; reply payload = echo of the request
 * (plus the legacy dirty bitmap when asked). */
int uvfio_core_dma_unmap(struct uvfio_device *dev,
                         const struct uvfio_wire_dma_unmap *req,
                         const void *trailer, size_t trailer_len,
                         struct uvfio_buf *rep);

int uvfio_core_reset(struct uvfio_device *dev);

/* DEVICE_FEATURE: `payload` is everything after {argsz, flags}. */
int uvfio_core_feature(struct uvfio_device *dev, uint32_t argsz,
                       uint32_t flags, const void *payload, size_t len,
                       struct uvfio_buf *rep);

/* MIG_DATA_READ/WRITE. */
int uvfio_core_mig_data_read(struct uvfio_device *dev,
                             const struct uvfio_wire_mig_data *req,
                             struct uvfio_buf *rep);
int uvfio_core_mig_data_write(struct uvfio_device *dev,
                              const struct uvfio_wire_mig_data *req,
                              const void *data, size_t len);

#endif /* UVFIO_CORE_CORE_H */
