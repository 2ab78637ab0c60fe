/* SPDX-License-Identifier: MIT */
/*
 * client/dma.c - guest memory and the DMA map table.
 *
 * Guest RAM is a memfd so it can be handed to the server (DMA_MAP with the
 * fd, which the server mmaps) and to a migration destination.  It is
 * sealed against growing and shrinking: the server maps it, and a file
 * that shrank under its mapping would SIGBUS the server.
 *
 * The client keeps every map it made in a sorted table.  The table is what
 * makes serving the server's DMA_READ/DMA_WRITE safe: a request is served
 * only from memory the caller registered with uvfio_client_dma_map_msg, with
 * the permission it was mapped with; anything else is EFAULT, so a hostile
 * server cannot read or write arbitrary client memory.  Local overlap is
 * refused before anything is sent, so the table never holds two entries
 * for one address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

#include "client_priv.h"
#include "util/log.h"

#define PROT_MASK (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

/* ---- guest memory ------------------------------------------------------ */

UVFIO_API int uvfio_guest_mem_create(size_t size, const char *name,
                                     struct uvfio_guest_mem *out)
{
    int fd, err;
    void *p;

    out->fd = -1;
    out->host = NULL;
    out->size = 0;
    if (size == 0 || size > (size_t)INT64_MAX)
        return -EINVAL;
    fd = memfd_create(name ? name : "uvfio-guest",
                      MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto fail;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        goto fail;
    out->fd = fd;
    out->host = p;
    out->size = size;
    return 0;
fail:
    err = -errno;
    close(fd);
    return err;
}

UVFIO_API void uvfio_guest_mem_destroy(struct uvfio_guest_mem *m)
{
    if (!m)
        return;
    if (m->host)
        munmap(m->host, m->size);
    if (m->fd >= 0)
        close(m->fd);
    m->host = NULL;
    m->fd = -1;
    m->size = 0;
}

/* ---- the map table ----------------------------------------------------- */

/* Index of the first map whose iova is above `iova`. */
static size_t upper_bound(const struct uvfio_client *c, uint64_t iova)
{
    size_t lo = 0, hi = c->nr_maps, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (c->maps[mid].iova <= iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct uvfio_client_map *
uvfio_client_map_find(const struct uvfio_client *c, uint64_t iova)
{
    size_t i = upper_bound(c, iova);
    const struct uvfio_client_map *m;

    if (i == 0)
        return NULL;
    m = &c->maps[i - 1];
    return iova - m->iova < m->size ? m : NULL;
}

static int map_insert(struct uvfio_client *c, const struct uvfio_client_map *n)
{
    size_t i = upper_bound(c, n->iova);
    struct uvfio_client_map *grown;
    size_t cap;

    /* Neighbours: the one before must end at or before us, the one after
     * must start at or after our end (end = iova + size, no overflow: the
     * caller checked). */
    if (i > 0 && c->maps[i - 1].iova + c->maps[i - 1].size > n->iova)
        return -EEXIST;
    if (i < c->nr_maps && c->maps[i].iova < n->iova + n->size)
        return -EEXIST;
    if (c->nr_maps == c->maps_cap) {
        cap = c->maps_cap ? c->maps_cap * 2 : 16;
        grown = realloc(c->maps, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        c->maps = grown;
        c->maps_cap = cap;
    }
    memmove(&c->maps[i + 1], &c->maps[i], (c->nr_maps - i) * sizeof(*c->maps));
    c->maps[i] = *n;
    c->nr_maps++;
    return 0;
}

static void map_remove(struct uvfio_client *c, uint64_t iova, uint64_t size)
{
    size_t i = upper_bound(c, iova);

    if (i == 0 || c->maps[i - 1].iova != iova || c->maps[i - 1].size != size)
        return;
    i--;
    memmove(&c->maps[i], &c->maps[i + 1],
            (c->nr_maps - i - 1) * sizeof(*c->maps));
    c->nr_maps--;
}

void uvfio_client_maps_free(struct uvfio_client *c)
{
    free(c->maps);
    c->maps = NULL;
    c->nr_maps = 0;
    c->maps_cap = 0;
}

/* ---- DMA_MAP / DMA_UNMAP ----------------------------------------------- */

static int check_range(uint64_t iova, uint64_t size, uint32_t prot)
{
    if (size == 0 || size > UINT64_MAX - iova)
        return -EINVAL;
    if (prot == 0 || (prot & ~PROT_MASK))
        return -EINVAL;
    return 0;
}

static int send_map(struct uvfio_client *c, uint64_t iova, uint64_t size,
                    uint32_t prot, uint64_t offset, int fd)
{
    struct uvfio_wire_dma_map dm = {
        .argsz = sizeof(dm),
        .flags = prot,
        .offset = offset,
        .addr = iova,
        .size = size,
    };
    struct iovec iov = { &dm, sizeof(dm) };

    return uvfio_client_request(c, UVFIO_CMD_DMA_MAP, &iov, 1,
                                fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, NULL);
}

/*
 * The entry goes into the table before the request is sent: once the
 * server has the map it may start DMA on it before its reply reaches us.
 */
static int map_and_record(struct uvfio_client *c,
                          const struct uvfio_client_map *n, uint64_t offset,
                          int fd)
{
    int r;

    r = map_insert(c, n);
    if (r < 0)
        return r;
    r = send_map(c, n->iova, n->size, n->prot, offset, fd);
    if (r < 0)
        map_remove(c, n->iova, n->size);
    return r;
}

UVFIO_API int uvfio_client_dma_map(struct uvfio_client *c, uint64_t iova,
                                   uint64_t size, uint32_t prot, int fd,
                                   uint64_t offset)
{
    struct uvfio_client_map n = { iova, size, prot, NULL };
    int r;

    if (fd < 0)
        return -EBADF;
    r = check_range(iova, size, prot);
    if (r < 0)
        return r;
    if (size > UINT64_MAX - offset)
        return -EINVAL;
    return map_and_record(c, &n, offset, fd);
}

UVFIO_API int uvfio_client_dma_map_msg(struct uvfio_client *c, uint64_t iova,
                                       uint64_t size, uint32_t prot,
                                       void *host)
{
    struct uvfio_client_map n = { iova, size, prot, host };
    int r;

    r = check_range(iova, size, prot);
    if (r < 0)
        return r;
    if (!host || size > UINTPTR_MAX - (uintptr_t)host)
        return -EINVAL;
    return map_and_record(c, &n, 0, -1);
}

static int send_unmap(struct uvfio_client *c, uint32_t flags, uint64_t iova,
                      uint64_t size)
{
    struct uvfio_wire_dma_unmap du = {
        .argsz = sizeof(du),
        .flags = flags,
        .addr = iova,
        .size = size,
    };
    struct iovec iov = { &du, sizeof(du) };
    struct uvfio_wire_dma_unmap echo;
    struct uvfio_msg m;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_DMA_UNMAP, &iov, 1, NULL, 0, &m);
    if (r < 0)
        return r;
    memcpy(&echo, m.payload, sizeof(echo));
    uvfio_msg_free(&m);
    if (echo.addr != iova || echo.size != size) {
        uvfio_warn("client: DMA_UNMAP reply for %#llx+%#llx",
                   (unsigned long long)echo.addr,
                   (unsigned long long)echo.size);
        return -EPROTO;
    }
    return 0;
}

/* The entry leaves the table only once the server confirmed: until then it
 * may still DMA into it (it must finish before it replies). */
UVFIO_API int uvfio_client_dma_unmap(struct uvfio_client *c, uint64_t iova,
                                     uint64_t size)
{
    int r;

    if (size == 0 || size > UINT64_MAX - iova)
        return -EINVAL;
    r = send_unmap(c, 0, iova, size);
    if (r == 0)
        map_remove(c, iova, size);
    return r;
}

UVFIO_API int uvfio_client_dma_unmap_all(struct uvfio_client *c)
{
    int r;

    r = send_unmap(c, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
    if (r == 0)
        c->nr_maps = 0;
    return r;
}
