// SPDX-License-Identifier: MIT
/*
 * core/region.c - regions: what a driver declares, DEVICE_GET_REGION_INFO
 * with its capability chain and argsz rules, DEVICE_GET_REGION_IO_FDS, and
 * the checks in front of every REGION_READ/WRITE.
 *
 * Regions are declared while the device is being set up, or later from
 * the dispatching thread; the handlers here run on that thread too, so the
 * region table needs no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_priv.h"
#include "internal.h"
#include "pci/pci_core.h"

#define REGION_KNOWN_FLAGS (UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE | \
                            UVFIO_REGION_FLAG_MMAP)

static uint64_t host_page_mask(void)
{
    long ps = sysconf(_SC_PAGESIZE);

    return (uint64_t)(ps > 0 ? ps : 4096) - 1;
}

int uvfio_regions_init(struct uvfio_device *dev)
{
    uint32_t i, n = dev->cfg.num_regions;

    dev->regions = calloc(n ? n : 1, sizeof(*dev->regions));
    if (!dev->regions)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        dev->regions[i].fd = -1;
    return 0;
}

static void region_clear(struct uvfio_region *rg)
{
    if (rg->fd >= 0)
        close(rg->fd);
    free(rg->sparse);
    memset(rg, 0, sizeof(*rg));
    rg->fd = -1;
}

void uvfio_regions_fini(struct uvfio_device *dev)
{
    uint32_t i;

    if (!dev->regions)
        return;
    for (i = 0; i < dev->cfg.num_regions; i++)
        region_clear(&dev->regions[i]);
    free(dev->regions);
    dev->regions = NULL;
}

/* ---- declaring a region ------------------------------------------------ */

/* Areas are mmap windows: page aligned, inside, sorted and disjoint. */
static int region_check_sparse(const struct uvfio_region_config *rc)
{
    const uint64_t mask = host_page_mask();
    uint64_t end = 0;
    uint32_t i;

    if (!rc->nr_sparse)
        return 0;
    if (!(rc->flags & UVFIO_REGION_FLAG_MMAP) || !rc->sparse ||
        rc->nr_sparse > UVFIO_MAX_SPARSE_AREAS)
        return -EINVAL;
    for (i = 0; i < rc->nr_sparse; i++) {
        const struct uvfio_sparse_area *a = &rc->sparse[i];

        if (!a->size || ((a->offset | a->size) & mask))
            return -EINVAL;
        if (a->offset > rc->size || a->size > rc->size - a->offset)
            return -EINVAL;
        if (i && a->offset < end)
            return -EINVAL;
        end = a->offset + a->size;
    }
    return 0;
}

static int region_check(const struct uvfio_device *dev, uint32_t index,
                        const struct uvfio_region_config *rc)
{
    if (index >= dev->cfg.num_regions || (rc->flags & ~REGION_KNOWN_FLAGS))
        return -EINVAL;
    if (!rc->size)
        return rc->flags || rc->nr_sparse ? -EINVAL : 0;
    if (rc->flags & UVFIO_REGION_FLAG_MMAP) {
        if (rc->mmap_fd < 0 || (rc->mmap_offset & host_page_mask()))
            return -EINVAL;
        if (rc->size - 1 > UINT64_MAX - rc->mmap_offset)
            return -EINVAL;
    }
    /* Clients tell device-specific regions apart only by their type. */
    if (dev->cfg.pci && index >= UVFIO_PCI_NUM_REGIONS && !rc->type)
        return -EINVAL;
    return region_check_sparse(rc);
}

/* Fill `rg` from `rc`, owning copies of the fd and the areas.  Without the
 * MMAP flag the mmap fields mean nothing (a zeroed config has fd 0). */
static int region_build(struct uvfio_region *rg,
                        const struct uvfio_region_config *rc)
{
    memset(rg, 0, sizeof(*rg));
    rg->fd = -1;
    if (!rc->size) {
        rg->cfg.mmap_fd = -1;
        return 0;
    }
    rg->cfg = *rc;
    rg->cfg.sparse = NULL;
    rg->cfg.mmap_fd = -1;
    if (!(rc->flags & UVFIO_REGION_FLAG_MMAP)) {
        rg->cfg.mmap_offset = 0;
        return 0;
    }
    if (rc->nr_sparse) {
        rg->sparse = calloc(rc->nr_sparse, sizeof(*rg->sparse));
        if (!rg->sparse)
            return -ENOMEM;
        memcpy(rg->sparse, rc->sparse, rc->nr_sparse * sizeof(*rg->sparse));
        rg->cfg.sparse = rg->sparse;
    }
    rg->fd = fcntl(rc->mmap_fd, F_DUPFD_CLOEXEC, 0);
    if (rg->fd < 0) {
        int r = -errno;

        region_clear(rg);
        return r;
    }
    rg->cfg.mmap_fd = rg->fd;
    return 0;
}

int uvfio_device_set_region(struct uvfio_device *dev, uint32_t index,
                            const struct uvfio_region_config *rc)
{
    struct uvfio_region rg;
    int r;

    if (!dev || !rc)
        return -EINVAL;
    r = region_check(dev, index, rc);
    if (r < 0)
        return r;
    r = region_build(&rg, rc);
    if (r < 0)
        return r;
    region_clear(&dev->regions[index]);
    dev->regions[index] = rg;
    return 0;
}

/* ---- DEVICE_GET_REGION_INFO -------------------------------------------- */

/*
 * The chain is built apart from the fixed struct and copied after it;
 * `next` offsets count from the start of the info struct, so each is the
 * capability's place in the chain plus the struct's size (and 0 can never
 * be a target, which keeps it free as the terminator).
 */
struct cap_chain {
    struct uvfio_buf buf;
    size_t last;            /* offset of the last header in buf */
};

static void *cap_chain_add(struct cap_chain *c, uint16_t id, uint16_t version,
                           size_t len)
{
    size_t off = c->buf.len;
    struct uvfio_wire_cap_header *h, *prev;

    h = uvfio_buf_extend(&c->buf, len);
    if (!h)
        return NULL;
    h->id = id;
    h->version = version;
    h->next = 0;
    if (off) {
        prev = (struct uvfio_wire_cap_header *)(c->buf.data + c->last);
        prev->next = (uint32_t)(sizeof(struct uvfio_wire_region_info) + off);
    }
    c->last = off;
    return h;
}

static int cap_add_sparse(struct cap_chain *c, const struct uvfio_region *rg)
{
    struct uvfio_wire_cap_sparse_mmap *cap;
    struct uvfio_wire_sparse_area *areas;
    uint32_t i, n = rg->cfg.nr_sparse;

    cap = cap_chain_add(c, UVFIO_REGION_CAP_SPARSE_MMAP,
                        UVFIO_REGION_CAP_SPARSE_MMAP_VERSION,
                        sizeof(*cap) + (size_t)n * sizeof(*areas));
    if (!cap)
        return -ENOMEM;
    cap->nr_areas = n;
    areas = (struct uvfio_wire_sparse_area *)(cap + 1);
    for (i = 0; i < n; i++) {
        areas[i].offset = rg->sparse[i].offset;
        areas[i].size = rg->sparse[i].size;
    }
    return 0;
}

static int cap_add_type(struct cap_chain *c, const struct uvfio_region *rg)
{
    struct uvfio_wire_cap_type *cap;

    cap = cap_chain_add(c, UVFIO_REGION_CAP_TYPE,
                        UVFIO_REGION_CAP_TYPE_VERSION, sizeof(*cap));
    if (!cap)
        return -ENOMEM;
    cap->type = rg->cfg.type;
    cap->subtype = rg->cfg.subtype;
    return 0;
}

static int region_build_caps(const struct uvfio_region *rg, struct cap_chain *c)
{
    int r = 0;

    if (rg->cfg.nr_sparse)
        r = cap_add_sparse(c, rg);
    if (!r && rg->cfg.type)
        r = cap_add_type(c, rg);
    if (!r && rg->cfg.msix_mappable &&
        !cap_chain_add(c, UVFIO_REGION_CAP_MSIX_MAPPABLE,
                       UVFIO_REGION_CAP_MSIX_MAPPABLE_VERSION,
                       sizeof(struct uvfio_wire_cap_header)))
        r = -ENOMEM;
    return r;
}

/*
 * A buffer too small for the chain is not an error: the reply says CAPS
 * and how big a buffer is needed (argsz), with cap_offset 0 and no chain,
 * and the client asks again.  The mmap fd goes only with a complete
 * answer, the one the client keeps.
 */
int uvfio_core_get_region_info(struct uvfio_device *dev,
                               const struct uvfio_wire_region_info *req,
                               struct uvfio_buf *rep, int *fd_out)
{
    struct uvfio_wire_region_info info = { 0 };
    struct cap_chain chain = { UVFIO_BUF_INIT, 0 };
    const struct uvfio_region *rg;
    bool complete;
    int r = 0;

    *fd_out = -1;
    if (req->argsz < sizeof(info) || req->index >= dev->cfg.num_regions)
        return -EINVAL;
    rg = &dev->regions[req->index];
    info.index = req->index;
    if (rg->cfg.size) {
        info.flags = rg->cfg.flags;
        info.size = rg->cfg.size;
        info.offset = rg->cfg.mmap_offset;
        r = region_build_caps(rg, &chain);
        if (r < 0)
            goto out;
    }
    if (chain.buf.len)
        info.flags |= UVFIO_REGION_FLAG_CAPS;
    info.argsz = (uint32_t)(sizeof(info) + chain.buf.len);
    complete = req->argsz >= info.argsz;
    if (complete && chain.buf.len)
        info.cap_offset = sizeof(info);

    r = uvfio_buf_append(rep, &info, sizeof(info));
    if (!r && complete)
        r = uvfio_buf_append(rep, chain.buf.data, chain.buf.len);
    if (!r && complete && (info.flags & UVFIO_REGION_FLAG_MMAP))
        *fd_out = rg->fd;
out:
    uvfio_buf_free(&chain.buf);
    return r;
}

/* ---- DEVICE_GET_REGION_IO_FDS ------------------------------------------ */

/*
 * uvfio offers no ioeventfds or ioregionfds yet: every region answers with
 * zero sub-regions, which tells the client to trap all of it by messages.
 */
int uvfio_core_get_region_io_fds(struct uvfio_device *dev,
                                 const struct uvfio_wire_region_io_fds *req,
                                 struct uvfio_buf *rep)
{
    struct uvfio_wire_region_io_fds out = { 0 };

    if (req->argsz < sizeof(out) || req->index >= dev->cfg.num_regions)
        return -EINVAL;
    /* Both are output-only; the spec has the client send zero. */
    if (req->flags || req->count)
        return -EINVAL;
    out.argsz = sizeof(out);
    out.index = req->index;
    return uvfio_buf_append(rep, &out, sizeof(out));
}

/* ---- REGION_READ / REGION_WRITE ---------------------------------------- */

static int region_check_access(const struct uvfio_device *dev, uint32_t index,
                               uint64_t offset, size_t count, uint32_t need)
{
    const struct uvfio_region *rg;

    if (index >= dev->cfg.num_regions)
        return -EINVAL;
    rg = &dev->regions[index];
    if (!rg->cfg.size || !(rg->cfg.flags & need))
        return -EINVAL;
    /* A zero-byte access has no meaning; count must also fit the return. */
    if (!count || count > SSIZE_MAX)
        return -EINVAL;
    if (offset > rg->cfg.size || count > rg->cfg.size - offset)
        return -EINVAL;
    return 0;
}

/* The driver (or PCI model) moved all of it, or the access failed: a
 * short count would leave the client's buffer half stale. */
static ssize_t region_result(ssize_t r, size_t count)
{
    if (r < 0)
        return r >= -4095 ? r : -EIO;
    return (size_t)r == count ? r : -EIO;
}

ssize_t uvfio_core_region_read(struct uvfio_device *dev, uint32_t index,
                               uint64_t offset, void *buf, size_t count)
{
    const struct uvfio_device_ops *ops = dev->cfg.ops;
    ssize_t ret;
    int r;

    r = region_check_access(dev, index, offset, count,
                            UVFIO_REGION_FLAG_READ);
    if (r < 0)
        return r;
    if (dev->pci &&
        uvfio_pci_region_access(dev->pci, index, offset, buf, count, false,
                                &ret))
        return region_result(ret, count);
    if (!ops->read)
        return -EINVAL;
    return region_result(ops->read(dev, index, offset, buf, count), count);
}

ssize_t uvfio_core_region_write(struct uvfio_device *dev, uint32_t index,
                                uint64_t offset, const void *buf,
                                size_t count)
{
    const struct uvfio_device_ops *ops = dev->cfg.ops;
    ssize_t ret;
    int r;

    r = region_check_access(dev, index, offset, count,
                            UVFIO_REGION_FLAG_WRITE);
    if (r < 0)
        return r;
    /* The hook's buffer is in/out for both directions; a write only
     * reads it. */
    if (dev->pci &&
        uvfio_pci_region_access(dev->pci, index, offset, (void *)buf, count,
                                true, &ret))
        return region_result(ret, count);
    if (!ops->write)
        return -EINVAL;
    return region_result(ops->write(dev, index, offset, buf, count), count);
}
