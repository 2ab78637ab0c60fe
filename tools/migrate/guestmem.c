// SPDX-License-Identifier: MIT
/*
 * migrate/guestmem.c - one side of a live migration as a VMM holds it:
 * the connection to its device and the guest memory it gave the device
 * (live_priv.h).
 *
 * Guest memory is a sealed memfd (uvfio_guest_mem_create) mapped shared
 * here and DMA-mapped at IOVA 0, read and write, so that the device
 * reaches it by its own mapping: the guest's writes (ours) and the
 * device's (the server's) land in the same pages, and each is tracked by
 * whoever makes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "live_priv.h"

/* Linux 5.14, for C libraries that do not have it yet */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int live_side_connect(struct live_side *sd, const char *path,
                      uint32_t timeout_ms)
{
    struct uvfio_client_opts co = {
        .precopy_info = true,
        .timeout_ms = timeout_ms,
    };

    return uvfio_client_connect(path, &co, &sd->dev);
}

/*
 * Back every page now, as a running guest's memory is backed: a page
 * first touched during the migration costs a fault on each side and makes
 * the first round several times slower than the copy itself; and an
 * out-of-memory is an error here rather than a SIGBUS in the guest later.
 * Populating our mapping is only an optimisation.
 */
static int populate(struct live_side *sd, uint64_t size)
{
    if (fallocate(sd->mem.fd, 0, 0, (off_t)size))
        return -errno;
    (void)madvise(sd->mem.host, (size_t)size, MADV_POPULATE_WRITE);
    return 0;
}

int live_side_memory(struct live_side *sd, uint64_t size, const char *name)
{
    int r;

    if (!size || size % LM_PAGE_SIZE || size > SIZE_MAX)
        return -EINVAL;
    r = uvfio_guest_mem_create((size_t)size, name, &sd->mem);
    if (!r)
        r = populate(sd, size);
    if (r)
        return r;
    sd->host = sd->mem.host;
    sd->npages = size >> LM_PAGE_SHIFT;
    r = uvfio_client_dma_map(sd->dev, 0, size, UVFIO_DMA_MAP_FLAG_READ |
                             UVFIO_DMA_MAP_FLAG_WRITE, sd->mem.fd, 0);
    if (r)
        return r;
    sd->mapped = true;
    return 0;
}

int live_side_flags(struct live_side *sd, uint64_t *flags)
{
    int r = uvfio_client_mig_get_flags(sd->dev, flags);

    if (r == -ENOTTY)
        return -EOPNOTSUPP;
    if (!r && !(*flags & UVFIO_MIGRATION_STOP_COPY))
        return -EOPNOTSUPP;
    return r;
}

/* The device drops its maps with the connection; the memory goes after
 * it, so the device never holds a mapping of freed memory. */
void live_side_close(struct live_side *sd)
{
    if (sd->dev)
        uvfio_client_close(sd->dev);
    if (sd->mem.host)
        uvfio_guest_mem_destroy(&sd->mem);
    memset(sd, 0, sizeof(*sd));
}
