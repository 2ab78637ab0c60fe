/* SPDX-License-Identifier: MIT */
/*
 * uvfio/client.h - the VMM side of vfio-user.
 *
 * Connect to a device's socket, negotiate, read the device's description,
 * access its regions (by message or through mmap of its sparse areas), give
 * it guest memory (memfd-backed, DMA_MAP/UNMAP), serve the DMA_READ/WRITE
 * requests it sends for memory shared without an fd, bind IRQ eventfds, and
 * drive migration and dirty logging.
 *
 * A client object is used by one thread at a time (callers serialise);
 * requests are synchronous.  Server-initiated DMA requests are served while
 * waiting for a reply, and by uvfio_client_dispatch() when idle (poll
 * uvfio_client_fd() for that).  Errors are negative errno; an error reply
 * from the server is returned as its errno.
 */
#ifndef UVFIO_CLIENT_H
#define UVFIO_CLIENT_H

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

struct uvfio_client;

/* What the client offers in VERSION; 0 / false = the default in brackets. */
struct uvfio_client_opts {
    uint32_t max_msg_fds;               /* [16] */
    uint64_t max_data_xfer_size;        /* [1 MiB], at most 64 MiB */
    bool no_write_multiple;             /* don't offer write_multiple */
    bool twin_socket;                   /* ask for a second socket for
                                           server->client DMA requests */
    bool precopy_info;                  /* ask for the uvfio precopy-info
                                           extension (migration) */
    /* Added by the client library: how long one request (or the VERSION
     * handshake) may wait for its reply before -ETIMEDOUT [30000]. */
    uint32_t timeout_ms;
};

/* What was negotiated. */
struct uvfio_client_caps {
    uint16_t major, minor;
    uint32_t max_msg_fds;               /* the server's */
    uint64_t max_data_xfer_size;        /* the smaller of both */
    uint64_t max_dma_maps;
    uint64_t pgsizes;
    bool write_multiple;
    bool twin_socket;
    bool precopy_info;
};

UVFIO_API int uvfio_client_connect(const char *path,
                                   const struct uvfio_client_opts *opts,
                                   struct uvfio_client **out);
/* Same over an already connected socket; the client owns it afterwards. */
UVFIO_API int uvfio_client_connect_fd(int fd,
                                      const struct uvfio_client_opts *opts,
                                      struct uvfio_client **out);
UVFIO_API void uvfio_client_close(struct uvfio_client *c);
/* How long each request from now on may wait for its reply before
 * -ETIMEDOUT, as uvfio_client_opts.timeout_ms (0: the default).  A VMM
 * may give a slow step (a STOP_COPY read) more time than register
 * accesses; a request already waiting keeps the deadline it had. */
UVFIO_API void uvfio_client_set_timeout(struct uvfio_client *c,
                                        uint32_t timeout_ms);
UVFIO_API const struct uvfio_client_caps *
uvfio_client_caps(const struct uvfio_client *c);

/* ---- device description ------------------------------------------------ */

struct uvfio_client_device_info {
    uint32_t flags;                     /* UVFIO_DEVICE_FLAGS_* */
    uint32_t num_regions;
    uint32_t num_irqs;
};

struct uvfio_client_region {
    uint32_t index;
    uint32_t flags;                     /* UVFIO_REGION_FLAG_* */
    uint64_t size;
    uint64_t offset;                    /* mmap offset in fd */
    int fd;                             /* -1 unless MMAP; the client owns
                                           it until uvfio_client_region_free */
    uint32_t nr_sparse;
    /* NULL without a sparse-mmap capability; non-NULL with one, even of
     * 0 areas (then nothing of the region may be mmapped). */
    struct { uint64_t offset, size; } *sparse;
    bool has_type;
    uint32_t type, subtype;
    bool msix_mappable;
};

UVFIO_API int uvfio_client_device_info(struct uvfio_client *c,
                                       struct uvfio_client_device_info *out);
/* Fetches the region info with its whole capability chain (retrying with
 * the size the server asks for). */
UVFIO_API int uvfio_client_region_info(struct uvfio_client *c, uint32_t index,
                                       struct uvfio_client_region *out);
UVFIO_API void uvfio_client_region_free(struct uvfio_client_region *r);

struct uvfio_client_irq_info {
    uint32_t flags;                     /* UVFIO_IRQ_INFO_* */
    uint32_t count;
};
UVFIO_API int uvfio_client_irq_info(struct uvfio_client *c, uint32_t index,
                                    struct uvfio_client_irq_info *out);

/*
 * SET_IRQS.  flags: one DATA_* and one ACTION_*.  DATA_BOOL takes `count`
 * bytes in `data`; DATA_EVENTFD takes `count` fds in `fds` (-1 entries
 * de-assign: they are sent as no fd, in order).  count 0 + DATA_NONE +
 * TRIGGER disables the index.
 */
UVFIO_API int uvfio_client_set_irqs(struct uvfio_client *c, uint32_t flags,
                                    uint32_t index, uint32_t start,
                                    uint32_t count, const void *data,
                                    const int *fds);

UVFIO_API int uvfio_client_reset(struct uvfio_client *c);

/* ---- region access ----------------------------------------------------- */

/* Reads/writes of any length: split at max_data_xfer_size. */
UVFIO_API ssize_t uvfio_client_region_read(struct uvfio_client *c,
                                           uint32_t index, uint64_t offset,
                                           void *buf, size_t count);
UVFIO_API ssize_t uvfio_client_region_write(struct uvfio_client *c,
                                            uint32_t index, uint64_t offset,
                                            const void *buf, size_t count);
/*
 * Posted write: no reply is waited for.  Writes of <= 8 bytes are batched
 * into REGION_WRITE_MULTI when the server offered write_multiple, others go
 * out as REGION_WRITE with NO_REPLY.  Any non-posted request, and
 * uvfio_client_flush, sends the batch first, so ordering is kept.
 */
UVFIO_API int uvfio_client_region_write_posted(struct uvfio_client *c,
                                               uint32_t index, uint64_t offset,
                                               const void *buf, size_t count);
UVFIO_API int uvfio_client_flush(struct uvfio_client *c);

/* mmap sparse area `area` of a region (or the whole region when it has no
 * sparse cap and area == 0).  Returns the mapping or NULL with errno set. */
UVFIO_API void *uvfio_client_region_mmap(struct uvfio_client *c,
                                         const struct uvfio_client_region *r,
                                         uint32_t area, size_t *len);

/* ---- guest memory ------------------------------------------------------ */

/* A memfd of `size` bytes mapped shared in this process: the usual guest
 * RAM of a VMM.  The memfd is sealed against shrinking. */
struct uvfio_guest_mem {
    int fd;
    void *host;
    size_t size;
};
UVFIO_API int uvfio_guest_mem_create(size_t size, const char *name,
                                     struct uvfio_guest_mem *out);
UVFIO_API void uvfio_guest_mem_destroy(struct uvfio_guest_mem *m);

/* DMA_MAP [iova, iova+size) to `fd` at `offset` (the server mmaps it).
 * prot: UVFIO_DMA_MAP_FLAG_READ | _WRITE.  `host` is this process's
 * mapping of the same bytes (may be NULL). */
UVFIO_API int uvfio_client_dma_map(struct uvfio_client *c, uint64_t iova,
                                   uint64_t size, uint32_t prot, int fd,
                                   uint64_t offset);
/* DMA_MAP without an fd: the server reaches this memory only through
 * DMA_READ/DMA_WRITE requests, which the client serves from `host`. */
UVFIO_API int uvfio_client_dma_map_msg(struct uvfio_client *c, uint64_t iova,
                                       uint64_t size, uint32_t prot,
                                       void *host);
UVFIO_API int uvfio_client_dma_unmap(struct uvfio_client *c, uint64_t iova,
                                     uint64_t size);
UVFIO_API int uvfio_client_dma_unmap_all(struct uvfio_client *c);

/* ---- serving the server's requests when idle ---------------------------- */

/* Poll this fd for readability; then call dispatch, which serves any
 * DMA_READ/DMA_WRITE requests waiting.  Returns the number served or
 * -errno (-ECONNRESET: the server went away). */
UVFIO_API int uvfio_client_fd(const struct uvfio_client *c);
UVFIO_API int uvfio_client_dispatch(struct uvfio_client *c, int timeout_ms);

/* ---- device features (migration, dirty logging) ------------------------- */

/* Raw DEVICE_FEATURE: `data` is in/out for GET (its size is len). */
UVFIO_API int uvfio_client_feature(struct uvfio_client *c, uint32_t flags,
                                   void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_CLIENT_H */
