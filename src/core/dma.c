// SPDX-License-Identifier: MIT
/*
 * core/dma.c - the DMA table: the IOVA windows a client mapped
 * (DMA_MAP/DMA_UNMAP), and the driver's way into them (uvfio_dma_read,
 * uvfio_dma_write, pins).
 *
 * Windows the client shared with an fd are mmapped and copied directly;
 * the others are reached with DMA_READ/DMA_WRITE messages through the
 * attached client.  The table is a sorted array searched by bisection
 * under a rwlock: driver threads access guest memory under it shared, the
 * dispatch thread maps and unmaps under it exclusively, so an unmap waits
 * for every direct copy into the window to finish.
 *
 * A map is reference counted: the table holds one reference and every pin
 * another, so a window unmapped while pinned leaves the table at once (no
 * new access finds it) but stays mmapped until the last unpin.
 *
 * The mmap itself, and surviving a client that shrinks the file behind a
 * window afterwards, are guestmem.c's: a window whose memory went away is
 * "gone", and every access to it is -EFAULT.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_priv.h"
#include "dirty_core.h"
#include "guestmem.h"
#include "internal.h"
#include "util/log.h"

#define DMA_MAP_KNOWN   (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)
#define DMA_UNMAP_KNOWN (UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | \
                         UVFIO_DMA_UNMAP_FLAG_ALL)

struct uvfio_dma_map {
    uint64_t iova;
    uint64_t size;
    uint64_t last;              /* iova + size - 1: a map may end at 2^64 */
    uint32_t flags;             /* UVFIO_DMA_MAP_FLAG_* */
    void *host;                 /* NULL: reached by messages */
    struct uvfio_guestmem mem;  /* the mapping behind host */
    atomic_bool gone_told;      /* "memory went away" logged */
    atomic_uint refs;           /* the table's, plus one per pin */
};

static void dma_map_put(struct uvfio_dma_map *m)
{
    if (atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->host) {
        uvfio_guestmem_unmap(&m->mem);
        uvfio_guestmem_uncharge(m->size);
    }
    free(m);
}

/* ---- life cycle and client --------------------------------------------- */

int uvfio_dma_init(struct uvfio_device *dev)
{
    struct uvfio_dma_table *t = &dev->dma;
    pthread_rwlockattr_t attr;
    int r;

    memset(t, 0, sizeof(*t));
    pthread_rwlockattr_init(&attr);
    /* glibc prefers readers by default: a driver thread streaming DMA
     * would starve the dispatch thread's DMA_UNMAP forever. */
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    r = pthread_rwlock_init(&t->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (r)
        return -r;
    pthread_mutex_init(&t->client_lock, NULL);
    pthread_cond_init(&t->client_idle, NULL);
    uvfio_guestmem_device_added();
    return 0;
}

void uvfio_dma_fini(struct uvfio_device *dev)
{
    struct uvfio_dma_table *t = &dev->dma;

    uvfio_dma_drop_all(dev);
    uvfio_guestmem_device_removed();
    pthread_cond_destroy(&t->client_idle);
    pthread_mutex_destroy(&t->client_lock);
    pthread_rwlock_destroy(&t->lock);
}

void uvfio_dma_set_client(struct uvfio_device *dev,
                          const struct uvfio_core_client *cl)
{
    struct uvfio_dma_table *t = &dev->dma;

    pthread_mutex_lock(&t->client_lock);
    t->client = *cl;
    t->has_client = true;
    pthread_mutex_unlock(&t->client_lock);
}

/*
 * After this no thread is inside the old client's dma_rw, so the server
 * may free what its ctx points to.  The server must make its dma_rw fail
 * promptly once the connection is gone (and must not detach from inside
 * dma_rw), or this waits for it.
 */
void uvfio_dma_clear_client(struct uvfio_device *dev)
{
    struct uvfio_dma_table *t = &dev->dma;

    pthread_mutex_lock(&t->client_lock);
    t->has_client = false;
    while (t->client_users)
        pthread_cond_wait(&t->client_idle, &t->client_lock);
    memset(&t->client, 0, sizeof(t->client));
    pthread_mutex_unlock(&t->client_lock);
}

static bool dma_client_get(struct uvfio_dma_table *t,
                           struct uvfio_core_client *out)
{
    bool ok;

    pthread_mutex_lock(&t->client_lock);
    ok = t->has_client && t->client.dma_rw;
    if (ok) {
        *out = t->client;
        t->client_users++;
    }
    pthread_mutex_unlock(&t->client_lock);
    return ok;
}

static void dma_client_put(struct uvfio_dma_table *t)
{
    pthread_mutex_lock(&t->client_lock);
    if (--t->client_users == 0)
        pthread_cond_broadcast(&t->client_idle);
    pthread_mutex_unlock(&t->client_lock);
}

/* A limit the server left at 0 means the spec's default. */
static uint32_t dma_max_maps(struct uvfio_dma_table *t)
{
    uint32_t n = 0;

    pthread_mutex_lock(&t->client_lock);
    if (t->has_client)
        n = t->client.max_dma_maps;
    pthread_mutex_unlock(&t->client_lock);
    return n ? n : UVFIO_DEFAULT_MAX_DMA_MAPS;
}

/* ---- the sorted table -------------------------------------------------- */

/* Index of the first map that ends at or after `iova`; t->nr if none. */
static size_t dma_lower_bound(const struct uvfio_dma_table *t, uint64_t iova)
{
    size_t lo = 0, hi = t->nr, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (t->maps[mid]->last < iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct uvfio_dma_map *dma_lookup(const struct uvfio_dma_table *t,
                                        uint64_t iova)
{
    size_t i = dma_lower_bound(t, iova);

    if (i < t->nr && t->maps[i]->iova <= iova)
        return t->maps[i];
    return NULL;
}

/* Every byte of [iova, last] mapped, with `need` permission. */
static bool dma_range_ok(const struct uvfio_dma_table *t, uint64_t iova,
                         uint64_t last, uint32_t need)
{
    size_t i;

    for (i = dma_lower_bound(t, iova); i < t->nr; i++) {
        const struct uvfio_dma_map *m = t->maps[i];

        if (m->iova > iova || !(m->flags & need))
            return false;
        if (m->last >= last)
            return true;
        iova = m->last + 1;
    }
    return false;
}

static int dma_insert(struct uvfio_dma_table *t, struct uvfio_dma_map *m)
{
    struct uvfio_dma_map **maps;
    size_t i, cap;

    if (t->nr == t->cap) {
        cap = t->cap ? t->cap * 2 : 16;
        maps = realloc(t->maps, cap * sizeof(*maps));
        if (!maps)
            return -ENOMEM;
        t->maps = maps;
        t->cap = cap;
    }
    i = dma_lower_bound(t, m->iova);
    memmove(&t->maps[i + 1], &t->maps[i], (t->nr - i) * sizeof(*t->maps));
    t->maps[i] = m;
    t->nr++;
    return 0;
}

/* Table lock held exclusive: m left the table. */
static void dma_uncount(struct uvfio_dma_table *t,
                        const struct uvfio_dma_map *m)
{
    if (!m->host)
        return;
    t->host_maps--;
    t->host_bytes -= m->size;
}

/* Take the map that is exactly [iova, iova+size) out of the table. */
static struct uvfio_dma_map *dma_take_exact(struct uvfio_dma_table *t,
                                            uint64_t iova, uint64_t size)
{
    struct uvfio_dma_map *m = NULL;
    size_t i;

    pthread_rwlock_wrlock(&t->lock);
    i = dma_lower_bound(t, iova);
    if (i < t->nr && t->maps[i]->iova == iova && t->maps[i]->size == size) {
        m = t->maps[i];
        memmove(&t->maps[i], &t->maps[i + 1],
                (t->nr - i - 1) * sizeof(*t->maps));
        t->nr--;
        dma_uncount(t, m);
    }
    pthread_rwlock_unlock(&t->lock);
    return m;
}

/* A map already out of the table: the driver drops its pins, then the
 * table's reference goes (the memory with it, unless still pinned). */
static void dma_retire(struct uvfio_device *dev, struct uvfio_dma_map *m)
{
    if (dev->cfg.ops->dma_unmap)
        dev->cfg.ops->dma_unmap(dev, m->iova, m->size);
    if (atomic_load(&m->refs) > 1)
        uvfio_warn("%s: DMA [%#llx, +%#llx) still pinned after dma_unmap; "
                   "its memory stays mapped until the last unpin", dev->name,
                   (unsigned long long)m->iova, (unsigned long long)m->size);
    dma_map_put(m);
}

void uvfio_dma_drop_all(struct uvfio_device *dev)
{
    struct uvfio_dma_table *t = &dev->dma;
    struct uvfio_dma_map **maps;
    size_t i, n;

    pthread_rwlock_wrlock(&t->lock);
    maps = t->maps;
    n = t->nr;
    t->maps = NULL;
    t->nr = t->cap = 0;
    t->host_maps = t->host_bytes = 0;
    pthread_rwlock_unlock(&t->lock);

    for (i = 0; i < n; i++)
        dma_retire(dev, maps[i]);
    free(maps);
}

/* ---- the table for dirty logging (internal.h) -------------------------- */

void uvfio_dma_table_lock(struct uvfio_device *dev, bool exclusive)
{
    if (exclusive)
        pthread_rwlock_wrlock(&dev->dma.lock);
    else
        pthread_rwlock_rdlock(&dev->dma.lock);
}

void uvfio_dma_table_unlock(struct uvfio_device *dev)
{
    pthread_rwlock_unlock(&dev->dma.lock);
}

void uvfio_dma_table_walk(struct uvfio_device *dev,
                          void (*fn)(void *opaque, uint64_t iova,
                                     uint64_t last),
                          void *opaque)
{
    size_t i;

    for (i = 0; i < dev->dma.nr; i++)
        fn(opaque, dev->dma.maps[i]->iova, dev->dma.maps[i]->last);
}

/* ---- DMA_MAP / DMA_UNMAP ----------------------------------------------- */

static int dma_check_map(const struct uvfio_wire_dma_map *req, int fd)
{
    if (req->argsz < sizeof(*req))
        return -EINVAL;
    /* A window nobody may read or write is no window (PROT_NONE). */
    if (!req->flags || (req->flags & ~DMA_MAP_KNOWN))
        return -EINVAL;
    if (!req->size || ((req->addr | req->size) & (UVFIO_DMA_PAGE_SIZE - 1)))
        return -EINVAL;
    if (req->size - 1 > UINT64_MAX - req->addr)
        return -EINVAL;
    if (fd >= 0 && (req->size > SIZE_MAX || req->offset > INT64_MAX ||
                    req->size - 1 > UINT64_MAX - req->offset))
        return -EINVAL;
    return 0;
}

/* Table lock held exclusive.  Within this device's share of the process
 * budget (guestmem.c), so that no client can exhaust the mappings the
 * whole process - other devices included - depends on. */
static int dma_mmap(struct uvfio_dma_table *t, struct uvfio_dma_map *m,
                    int fd, uint64_t offset)
{
    int r = uvfio_guestmem_charge(t->host_maps, t->host_bytes, m->size);

    if (r < 0)
        return r;
    r = uvfio_guestmem_map(&m->mem, fd, offset, m->size, m->flags);
    if (r < 0) {
        uvfio_guestmem_uncharge(m->size);
        return r;
    }
    m->host = m->mem.host;
    t->host_maps++;
    t->host_bytes += m->size;
    return 0;
}

static int dma_add(struct uvfio_device *dev, struct uvfio_dma_map *m, int fd,
                   uint64_t offset)
{
    struct uvfio_dma_table *t = &dev->dma;
    uint32_t max = dma_max_maps(t);
    size_t i;
    int r = 0;

    pthread_rwlock_wrlock(&t->lock);
    i = dma_lower_bound(t, m->iova);
    if (i < t->nr && t->maps[i]->iova <= m->last)
        r = -EEXIST;
    else if (t->nr >= max)
        r = -ENOSPC;
    if (!r && fd >= 0)
        r = dma_mmap(t, m, fd, offset);
    if (!r) {
        r = dma_insert(t, m);
        if (r < 0 && m->host) {
            dma_uncount(t, m);
            uvfio_guestmem_unmap(&m->mem);
            uvfio_guestmem_uncharge(m->size);
            m->host = NULL;
        }
    }
    /* A client logging everything has this window logged from its first
     * write on. */
    if (!r)
        uvfio_dirty_map_added(dev, m->iova, m->last);
    pthread_rwlock_unlock(&t->lock);
    return r;
}

/* With an fd the memory is mapped and the fd closed: the mapping keeps
 * the memory alive.  On failure the fd stays the server's to close. */
int uvfio_core_dma_map(struct uvfio_device *dev,
                       const struct uvfio_wire_dma_map *req, int *fd)
{
    int in = fd ? *fd : -1;
    struct uvfio_dma_map *m;
    int r;

    r = dma_check_map(req, in);
    if (r < 0)
        return r;
    m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->iova = req->addr;
    m->size = req->size;
    m->last = req->addr + (req->size - 1);
    m->flags = req->flags;
    atomic_init(&m->refs, 1);

    r = dma_add(dev, m, in, req->offset);
    if (r < 0) {
        free(m);
        return r;
    }
    if (in >= 0) {
        close(in);
        *fd = -1;
    }
    return 0;
}

int uvfio_core_dma_unmap(struct uvfio_device *dev,
                         const struct uvfio_wire_dma_unmap *req,
                         const void *trailer, size_t trailer_len,
                         struct uvfio_buf *rep)
{
    struct uvfio_dma_map *m;
    size_t extra = 0;
    int r;

    if (req->argsz < sizeof(*req) || (req->flags & ~DMA_UNMAP_KNOWN))
        return -EINVAL;
    if ((req->flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
        (req->flags & UVFIO_DMA_UNMAP_FLAG_ALL))
        return -EINVAL;
    if ((req->flags & UVFIO_DMA_UNMAP_FLAG_ALL) && (req->addr || req->size))
        return -EINVAL;
    /* The legacy dirty bitmap (core/dirty.c) is checked before anything
     * is unmapped, and read once the window is gone. */
    if (req->flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
        r = uvfio_dirty_unmap_prepare(dev, req, trailer, trailer_len, &extra);
        if (r < 0)
            return r;
    }
    /* Room for the reply first: once unmapped, the answer must go out. */
    r = uvfio_buf_reserve(rep, sizeof(*req) + extra);
    if (r < 0)
        return r;

    if (req->flags & UVFIO_DMA_UNMAP_FLAG_ALL) {
        uvfio_dma_drop_all(dev);
    } else {
        /* vfio-user: only a window exactly as mapped can be unmapped. */
        m = dma_take_exact(&dev->dma, req->addr, req->size);
        if (!m)
            return -EINVAL;
        dma_retire(dev, m);
    }
    r = uvfio_buf_append(rep, req, sizeof(*req));
    if (!r && extra)
        r = uvfio_dirty_unmap_bitmap(dev, req, trailer, rep);
    return r;
}

/* ---- guest memory access ----------------------------------------------- */

/*
 * Message path.  Called with the table lock held shared; it is dropped
 * while the client works, because the client's reply may have to come
 * through the dispatch thread, which may itself be waiting for the lock
 * to handle a DMA_UNMAP.  Taken again before returning.
 */
static int dma_msg(struct uvfio_dma_table *t, uint64_t iova, void *buf,
                   size_t len, bool write)
{
    struct uvfio_core_client cl;
    uint8_t *p = buf;
    size_t chunk, max;
    int r = 0;

    /*
     * No client, no way to reach that memory: for the driver this is the
     * same as an unmapped address.  (It cannot normally happen: detach
     * drops message-path maps before it forgets the client.)
     */
    if (!dma_client_get(t, &cl))
        return -EFAULT;
    max = cl.max_data_xfer ? cl.max_data_xfer : UVFIO_DEFAULT_MAX_DATA_XFER;
    pthread_rwlock_unlock(&t->lock);
    while (len && r >= 0) {
        chunk = len < max ? len : max;
        r = cl.dma_rw(cl.ctx, write, iova, p, chunk);
        iova += chunk;
        p += chunk;
        len -= chunk;
    }
    dma_client_put(t);
    pthread_rwlock_rdlock(&t->lock);
    return r < 0 ? r : 0;
}

/*
 * The client shrank the file behind the window (guestmem.c repaired the
 * fault): asked before a copy and again after it, since the copy itself
 * may be what hit the hole - it then read zeros or wrote into nothing.
 */
static bool dma_gone(struct uvfio_device *dev, struct uvfio_dma_map *m)
{
    if (!uvfio_guestmem_gone(&m->mem))
        return false;
    if (!atomic_exchange(&m->gone_told, true))
        uvfio_warn("%s: the client took away the memory behind DMA "
                   "[%#llx, +%#llx) (shrank the file): its DMA fails with "
                   "EFAULT", dev->name, (unsigned long long)m->iova,
                   (unsigned long long)m->size);
    return true;
}

static int dma_seg_read(struct uvfio_device *dev, struct uvfio_dma_map *m,
                        uint64_t iova, void *buf, size_t len)
{
    if (!m->host)
        return dma_msg(&dev->dma, iova, buf, len, false);
    if (dma_gone(dev, m))
        return -EFAULT;
    memcpy(buf, (uint8_t *)m->host + (iova - m->iova), len);
    return dma_gone(dev, m) ? -EFAULT : 0;
}

/* Every write into guest memory passes here: dirty tracking hooks in. */
static int dma_seg_write(struct uvfio_device *dev, struct uvfio_dma_map *m,
                         uint64_t iova, const void *buf, size_t len)
{
    if (!m->host)
        return dma_msg(&dev->dma, iova, (void *)buf, len, true);
    if (dma_gone(dev, m))
        return -EFAULT;
    memcpy((uint8_t *)m->host + (iova - m->iova), buf, len);
    return dma_gone(dev, m) ? -EFAULT : 0;
}

/* For a non-empty access (len > 0). */
static int dma_check_access(struct uvfio_device *dev, uint64_t iova,
                            size_t len)
{
    if (len - 1 > UINT64_MAX - iova)
        return -EFAULT;
    /* A function with bus mastering off issues no DMA at all. */
    if (dev->pci && !uvfio_pci_bus_master(dev->pci))
        return -EPERM;
    return 0;
}

/*
 * The whole range is checked before the first byte moves, so a write to a
 * range with a hole changes nothing.  After a message-path segment the
 * lock was dropped, so each segment is looked up afresh: a window
 * unmapped meanwhile ends the access with -EFAULT.
 */
static int dma_access(struct uvfio_device *dev, uint64_t iova, void *buf,
                      size_t len, bool write)
{
    uint32_t need = write ? UVFIO_DMA_MAP_FLAG_WRITE : UVFIO_DMA_MAP_FLAG_READ;
    struct uvfio_dma_table *t = &dev->dma;
    struct uvfio_dma_map *m;
    uint8_t *p = buf;
    size_t seg;
    int r = 0;

    pthread_rwlock_rdlock(&t->lock);
    if (!dma_range_ok(t, iova, iova + (len - 1), need))
        r = -EFAULT;
    while (!r && len) {
        m = dma_lookup(t, iova);
        if (!m || !(m->flags & need)) {
            r = -EFAULT;
            break;
        }
        seg = m->last - iova + 1 < len ? m->last - iova + 1 : len;
        if (write) {
            r = dma_seg_write(dev, m, iova, p, seg);
            /* Even a failed write may have landed in part. */
            uvfio_dirty_mark(dev, iova, seg);
        } else
            r = dma_seg_read(dev, m, iova, p, seg);
        iova += seg;
        p += seg;
        len -= seg;
    }
    pthread_rwlock_unlock(&t->lock);
    return r;
}

int uvfio_dma_read(struct uvfio_device *dev, uint64_t iova, void *buf,
                   size_t len)
{
    int r;

    if (!dev || (!buf && len))
        return -EINVAL;
    if (!len)
        return 0;
    r = dma_check_access(dev, iova, len);
    return r < 0 ? r : dma_access(dev, iova, buf, len, false);
}

int uvfio_dma_write(struct uvfio_device *dev, uint64_t iova, const void *buf,
                    size_t len)
{
    int r;

    if (!dev || (!buf && len))
        return -EINVAL;
    if (!len)
        return 0;
    r = dma_check_access(dev, iova, len);
    return r < 0 ? r : dma_access(dev, iova, (void *)buf, len, true);
}

/* ---- pins -------------------------------------------------------------- */

int uvfio_dma_pin(struct uvfio_device *dev, uint64_t iova, size_t len,
                  bool write, struct uvfio_dma_pin *pin)
{
    uint32_t need = write ? UVFIO_DMA_MAP_FLAG_WRITE : UVFIO_DMA_MAP_FLAG_READ;
    struct uvfio_dma_table *t;
    struct uvfio_dma_map *m;
    int r = 0;

    if (!pin)
        return -EINVAL;
    memset(pin, 0, sizeof(*pin));
    if (!dev || !len)
        return -EINVAL;
    r = dma_check_access(dev, iova, len);
    if (r < 0)
        return r;
    t = &dev->dma;

    pthread_rwlock_rdlock(&t->lock);
    m = dma_lookup(t, iova);
    /* One fd-backed window: a message-path window has no address. */
    if (!m || !m->host || !(m->flags & need) || len - 1 > m->last - iova ||
        dma_gone(dev, m)) {
        r = -EFAULT;
    } else {
        atomic_fetch_add(&m->refs, 1);
        pin->host = (uint8_t *)m->host + (iova - m->iova);
        pin->iova = iova;
        pin->len = len;
        pin->write = write;
        pin->priv_ = m;
    }
    pthread_rwlock_unlock(&t->lock);
    return r;
}

/* A writable pin's range is dirty once released, as the kernel's pinning
 * reports it: the driver may have written any of it meanwhile. */
void uvfio_dma_unpin(struct uvfio_device *dev, struct uvfio_dma_pin *pin)
{
    if (!pin || !pin->priv_)
        return;
    if (dev && pin->write) {
        pthread_rwlock_rdlock(&dev->dma.lock);
        uvfio_dirty_mark(dev, pin->iova, pin->len);
        pthread_rwlock_unlock(&dev->dma.lock);
    }
    dma_map_put(pin->priv_);
    memset(pin, 0, sizeof(*pin));
}
