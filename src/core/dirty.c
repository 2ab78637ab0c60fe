// SPDX-License-Identifier: MIT
/*
 * core/dirty.c - DMA dirty logging for a device: DEVICE_FEATURE
 * DMA_LOGGING_START / STOP / REPORT (features 6, 7, 8; semantics §8), the
 * older DMA_UNMAP with a dirty bitmap (§9.3), and the hooks through which
 * the device core reports the guest memory a driver writes.
 *
 * Two trackers can answer a report.  The core's own (dirty_track.c) logs
 * every write that goes through the DMA API, for every device.  A driver
 * with its own (uvfio_log_ops) is started, stopped and read alongside it,
 * and both set bits in the same bitmap, so a passthrough driver that also
 * writes through the DMA API loses nothing either way.
 *
 * Locking.  One mutex serialises START, STOP, REPORT, unmap reports and
 * detach: there is a single reader of the log at any time, which the
 * tracker's fast read-and-clear relies on.  The tracker pointer itself is
 * swapped only under the DMA table's lock held exclusive, and DMA writers
 * mark under it held shared, so a STOP waits for the writers in flight and
 * none of them ever sees a freed bitmap.  Order: this mutex, then the DMA
 * table lock; driver callbacks run with the mutex held only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_core.h"
#include "dirty_priv.h"
#include "internal.h"
#include "util/log.h"

#define FEATURE_HDR     sizeof(struct uvfio_wire_feature)
#define FEATURE_GET_SET (UVFIO_FEATURE_GET | UVFIO_FEATURE_SET)

struct uvfio_dirty {
    pthread_mutex_t lock;
    const struct uvfio_log_ops *ops;    /* the driver's, or NULL */
    bool started;
    struct dirty_tracker *trk;          /* see "Locking" above */
};

static struct uvfio_dirty *dirty_of(const struct uvfio_device *dev)
{
    return uvfio_device_log(dev);
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* The largest bitmap one message may carry to this device's client. */
static uint64_t max_xfer(struct uvfio_device *dev)
{
    const struct uvfio_core_client *cl = uvfio_device_client(dev);

    return cl && cl->max_data_xfer ? cl->max_data_xfer :
           UVFIO_DEFAULT_MAX_DATA_XFER;
}

/* ---- life cycle -------------------------------------------------------- */

int uvfio_dirty_init(struct uvfio_device *dev)
{
    const struct uvfio_log_ops *ops = uvfio_device_cfg(dev)->log_ops;
    struct uvfio_dirty *d;

    if (ops && (!ops->log_start || !ops->log_stop ||
                !ops->log_read_and_clear))
        return -EINVAL;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->ops = ops;
    uvfio_device_set_log(dev, d);
    return 0;
}

/* Mutex held.  The core tracker stops whatever the driver answers, so a
 * failed STOP still lets the next START begin afresh. */
static int dirty_stop_locked(struct uvfio_device *dev, struct uvfio_dirty *d)
{
    struct dirty_tracker *t;
    int r = 0;

    if (!d->started)
        return 0;
    uvfio_dma_table_lock(dev, true);
    t = d->trk;
    d->trk = NULL;
    uvfio_dma_table_unlock(dev);
    dirty_track_free(t);
    d->started = false;
    if (d->ops)
        r = d->ops->log_stop(dev);
    return r > 0 ? -EIO : r;
}

void uvfio_dirty_destroy(struct uvfio_device *dev)
{
    struct uvfio_dirty *d = dirty_of(dev);

    if (!d)
        return;
    dirty_stop_locked(dev, d);
    uvfio_device_set_log(dev, NULL);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void uvfio_dirty_on_detach(struct uvfio_device *dev)
{
    struct uvfio_dirty *d = dirty_of(dev);

    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    dirty_stop_locked(dev, d);
    pthread_mutex_unlock(&d->lock);
}

/* ---- hooks from the DMA table ------------------------------------------ */

void uvfio_dirty_mark(struct uvfio_device *dev, uint64_t iova, uint64_t len)
{
    struct uvfio_dirty *d = dirty_of(dev);
    struct dirty_tracker *t = d ? d->trk : NULL;
    uint64_t last;

    if (!t || !len)
        return;
    last = len - 1 > UINT64_MAX - iova ? UINT64_MAX : iova + (len - 1);
    /* The data must be visible before the bit can be seen: a reader that
     * finds the bit already set from an earlier write reports it, and the
     * client then copies the page, which must hold this write too. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    dirty_track_mark(t, iova, last);
}

void uvfio_dirty_map_added(struct uvfio_device *dev, uint64_t iova,
                           uint64_t last)
{
    struct uvfio_dirty *d = dirty_of(dev);

    if (d && d->trk && d->trk->everything)
        dirty_track_add_uncovered(d->trk, iova, last);
}

/* ---- START ------------------------------------------------------------- */

static struct dirty_tracker *tracker_build(const struct uvfio_dirty_range *r,
                                           uint32_t nr, unsigned int hint)
{
    unsigned int shift = nr ? dirty_track_pick_shift(r, nr, hint) :
                         hint < DIRTY_MIN_SHIFT ? DIRTY_MIN_SHIFT : hint;
    struct dirty_tracker *t = dirty_track_new(shift, nr == 0);
    uint32_t i;

    for (i = 0; t && i < nr; i++) {
        if (dirty_track_add(t, r[i].iova, r[i].iova + (r[i].length - 1))) {
            dirty_track_free(t);
            t = NULL;
        }
    }
    return t;
}

static void log_map(void *opaque, uint64_t iova, uint64_t last)
{
    dirty_track_add_uncovered(opaque, iova, last);
}

/* Under the DMA table lock: the maps of "log everything" join the tracker
 * in the same critical section that makes writers see it. */
static void tracker_publish(struct uvfio_device *dev, struct uvfio_dirty *d,
                            struct dirty_tracker *t)
{
    uvfio_dma_table_lock(dev, true);
    if (t->everything)
        uvfio_dma_table_walk(dev, log_map, t);
    d->trk = t;
    uvfio_dma_table_unlock(dev);
}

/* The driver's tracker, on ranges combined down to what it follows. */
static int driver_start(struct uvfio_device *dev, struct uvfio_dirty *d,
                        const struct uvfio_dirty_range *ranges, uint32_t nr,
                        uint64_t *page_size)
{
    struct uvfio_dirty_range *mine = NULL;
    uint64_t ps = *page_size;
    int n = (int)nr, r;

    if (nr) {
        mine = malloc(nr * sizeof(*mine));
        if (!mine)
            return -ENOMEM;
        memcpy(mine, ranges, nr * sizeof(*mine));
        n = uvfio_dirty_combine_ranges(mine, nr, d->ops->max_ranges);
    }
    r = n < 0 ? n : d->ops->log_start(dev, mine, (uint32_t)n, &ps);
    free(mine);
    if (r)
        return r > 0 ? -EIO : r;
    if (!is_pow2(ps)) {
        uvfio_warn("%s: log_start chose page size %#llx, not a power of "
                   "two", uvfio_device_name(dev), (unsigned long long)ps);
        d->ops->log_stop(dev);
        return -EIO;
    }
    *page_size = ps;
    return 0;
}

static int dirty_start_locked(struct uvfio_device *dev, struct uvfio_dirty *d,
                              const struct uvfio_dirty_range *ranges,
                              uint32_t nr, uint64_t *page_size)
{
    struct dirty_tracker *t;
    int r;

    if (d->started)
        return -EBUSY;
    if (d->ops) {
        r = driver_start(dev, d, ranges, nr, page_size);
        if (r < 0)
            return r;
    }
    t = tracker_build(ranges, nr, (unsigned int)__builtin_ctzll(*page_size));
    if (!t) {
        if (d->ops)
            d->ops->log_stop(dev);
        return -ENOMEM;
    }
    /* Without a driver tracker the core's granularity is the answer. */
    if (!d->ops)
        *page_size = 1ull << t->shift;
    tracker_publish(dev, d, t);
    d->started = true;
    return 0;
}

/* ---- the feature requests ---------------------------------------------- */

/* Semantics §6 for one feature: 1 to go on, 0 for a PROBE to answer. */
static int feature_check(uint32_t supported, uint32_t flags)
{
    if ((flags & FEATURE_GET_SET) & ~supported)
        return -EINVAL;
    if (flags & UVFIO_FEATURE_PROBE)
        return 0;
    return (flags & FEATURE_GET_SET) ? 1 : -EINVAL;
}

static int feature_echo(uint32_t argsz, uint32_t flags, const void *payload,
                        size_t len, struct uvfio_buf *rep)
{
    struct uvfio_wire_feature hdr = { .argsz = argsz, .flags = flags };
    int r;

    r = uvfio_buf_append(rep, &hdr, sizeof(hdr));
    if (!r && len)
        r = uvfio_buf_append(rep, payload, len);
    return r;
}

static int feature_start(struct uvfio_device *dev, struct uvfio_dirty *d,
                         uint32_t argsz, uint32_t flags, const uint8_t *payload,
                         size_t len, struct uvfio_buf *rep)
{
    struct uvfio_wire_logging_control ctl;
    struct uvfio_dirty_range *ranges;
    uint64_t page_size;
    size_t need;
    int r;

    r = feature_check(UVFIO_FEATURE_SET, flags);
    if (r <= 0)
        return r ? r : feature_echo(argsz, flags, payload, len, rep);
    if (len < sizeof(ctl) || argsz - FEATURE_HDR < sizeof(ctl))
        return -EINVAL;
    memcpy(&ctl, payload, sizeof(ctl));
    if (ctl.num_ranges > UVFIO_DIRTY_MAX_RANGES)
        return -E2BIG;
    need = sizeof(ctl) + ctl.num_ranges *
           sizeof(struct uvfio_wire_logging_range);
    if (len < need || argsz - FEATURE_HDR < need || !is_pow2(ctl.page_size))
        return -EINVAL;
    r = dirty_ranges_parse(payload + sizeof(ctl), ctl.num_ranges,
                           ctl.page_size, &ranges);
    /* Room for the echo first: once logging runs, the answer must go. */
    if (!r)
        r = uvfio_buf_reserve(rep, FEATURE_HDR + need);
    page_size = ctl.page_size;
    if (!r) {
        pthread_mutex_lock(&d->lock);
        r = dirty_start_locked(dev, d, ranges, ctl.num_ranges, &page_size);
        pthread_mutex_unlock(&d->lock);
    }
    free(ranges);
    if (r)
        return r;
    ctl.page_size = page_size;
    r = feature_echo(argsz, flags, &ctl, sizeof(ctl), rep);
    if (!r)
        r = uvfio_buf_append(rep, payload + sizeof(ctl), need - sizeof(ctl));
    return r;
}

static int feature_stop(struct uvfio_device *dev, struct uvfio_dirty *d,
                        uint32_t argsz, uint32_t flags, const void *payload,
                        size_t len, struct uvfio_buf *rep)
{
    int r = feature_check(UVFIO_FEATURE_SET, flags);

    if (r <= 0)
        return r ? r : feature_echo(argsz, flags, payload, len, rep);
    r = uvfio_buf_reserve(rep, FEATURE_HDR + len);
    if (r)
        return r;
    pthread_mutex_lock(&d->lock);
    r = dirty_stop_locked(dev, d);
    pthread_mutex_unlock(&d->lock);
    return r ? r : feature_echo(argsz, flags, payload, len, rep);
}

/* Mutex held: read and clear both trackers into bm. */
static int dirty_collect(struct uvfio_device *dev, struct uvfio_dirty *d,
                         struct uvfio_dirty_bitmap *bm)
{
    int r = 0;

    uvfio_dma_table_lock(dev, false);
    if (d->trk)
        dirty_track_report(d->trk, bm);
    uvfio_dma_table_unlock(dev);
    if (d->ops)
        r = d->ops->log_read_and_clear(dev, bm->iova,
                                       bm->last - bm->iova + 1, bm);
    dirty_bitmap_finish(bm);
    return r > 0 ? -EIO : r;
}

static int report_check(const struct uvfio_wire_logging_report *req)
{
    if (req->page_size < DIRTY_MIN_PAGE || !is_pow2(req->page_size) ||
        !req->length)
        return -EINVAL;
    return req->length > UINT64_MAX - req->iova ? -EOVERFLOW : 0;
}

/* Mutex held: the reply, its bitmap filled in place (room reserved, not
 * cleared: the bitmap writes every word itself). */
static int report_reply(struct uvfio_device *dev, struct uvfio_dirty *d,
                        uint32_t flags,
                        const struct uvfio_wire_logging_report *req,
                        uint64_t bytes, struct uvfio_buf *rep)
{
    size_t size = FEATURE_HDR + sizeof(*req) + bytes;
    struct uvfio_wire_feature hdr = { (uint32_t)size, flags };
    struct uvfio_dirty_bitmap bm;
    uint8_t *out;
    int r;

    r = uvfio_buf_reserve(rep, size);
    if (r)
        return r;
    out = rep->data + rep->len;
    memcpy(out, &hdr, sizeof(hdr));
    memcpy(out + FEATURE_HDR, req, sizeof(*req));
    dirty_bitmap_init(&bm, req->iova, req->length,
                      (unsigned int)__builtin_ctzll(req->page_size),
                      out + FEATURE_HDR + sizeof(*req), false);
    r = dirty_collect(dev, d, &bm);
    if (!r)
        rep->len += size;
    return r;
}

static int feature_report(struct uvfio_device *dev, struct uvfio_dirty *d,
                          uint32_t argsz, uint32_t flags, const void *payload,
                          size_t len, struct uvfio_buf *rep)
{
    struct uvfio_wire_logging_report req;
    uint64_t nbits, bytes;
    int r = feature_check(UVFIO_FEATURE_GET, flags);

    if (r <= 0)
        return r ? r : feature_echo(argsz, flags, payload, len, rep);
    if (len < sizeof(req) || argsz - FEATURE_HDR < sizeof(req))
        return -EINVAL;
    memcpy(&req, payload, sizeof(req));
    r = report_check(&req);
    if (r)
        return r;
    nbits = dirty_bitmap_nbits(req.length,
                               (unsigned int)__builtin_ctzll(req.page_size));
    bytes = (nbits / 64 + (nbits % 64 != 0)) * 8;
    /* One reply carries the whole bitmap: a bigger one is the client's to
     * split (uvfio_client_dma_logging_report does). */
    if (bytes > max_xfer(dev))
        return -E2BIG;
    if ((uint64_t)argsz - FEATURE_HDR - sizeof(req) < bytes)
        return -EINVAL;
    pthread_mutex_lock(&d->lock);
    r = d->started ? report_reply(dev, d, flags, &req, bytes, rep) : -EINVAL;
    pthread_mutex_unlock(&d->lock);
    return r;
}

int uvfio_dirty_feature(struct uvfio_device *dev, uint32_t argsz,
                        uint32_t flags, const void *payload, size_t len,
                        struct uvfio_buf *rep)
{
    struct uvfio_dirty *d = dirty_of(dev);

    if (!d)
        return -ENOTTY;
    switch (flags & UVFIO_FEATURE_MASK) {
    case UVFIO_FEATURE_DMA_LOGGING_START:
        return feature_start(dev, d, argsz, flags, payload, len, rep);
    case UVFIO_FEATURE_DMA_LOGGING_STOP:
        return feature_stop(dev, d, argsz, flags, payload, len, rep);
    case UVFIO_FEATURE_DMA_LOGGING_REPORT:
        return feature_report(dev, d, argsz, flags, payload, len, rep);
    default:
        return -ENOTTY;
    }
}

/* ---- DMA_UNMAP with a dirty bitmap ------------------------------------- */

/*
 * As the kernel's type1: logging must be on (EINVAL), and the bitmap must
 * hold a bit per page of the range.  The kernel wants whole u64 words and
 * exactly its IOMMU page size; libvfio-user's clients size the bitmap in
 * bytes, so whole bytes are enough here, and any power of two >= 4 KiB
 * works as the page size.
 */
int uvfio_dirty_unmap_prepare(struct uvfio_device *dev,
                              const struct uvfio_wire_dma_unmap *req,
                              const void *trailer, size_t trailer_len,
                              size_t *reply_extra)
{
    struct uvfio_dirty *d = dirty_of(dev);
    struct uvfio_wire_bitmap bm;
    uint64_t nbits;
    bool on;

    if (!d || trailer_len < sizeof(bm) || !req->size ||
        req->size - 1 > UINT64_MAX - req->addr)
        return -EINVAL;
    memcpy(&bm, trailer, sizeof(bm));
    if (bm.pgsize < DIRTY_MIN_PAGE || !is_pow2(bm.pgsize))
        return -EINVAL;
    nbits = dirty_bitmap_nbits(req->size,
                               (unsigned int)__builtin_ctzll(bm.pgsize));
    if (bm.size < nbits / 8 + (nbits % 8 != 0))
        return -EINVAL;
    if (bm.size > max_xfer(dev))
        return -E2BIG;
    if ((uint64_t)req->argsz < sizeof(*req) + sizeof(bm) + (uint64_t)bm.size)
        return -EINVAL;
    pthread_mutex_lock(&d->lock);
    on = d->started;
    pthread_mutex_unlock(&d->lock);
    if (!on)
        return -EINVAL;
    /* Filled a word at a time: the tail past bm.size is cut afterwards. */
    *reply_extra = sizeof(bm) + ((size_t)bm.size + 7) / 8 * 8;
    return 0;
}

/* The map is gone: nothing can dirty it any more, pins included. */
int uvfio_dirty_unmap_bitmap(struct uvfio_device *dev,
                             const struct uvfio_wire_dma_unmap *req,
                             const void *trailer, struct uvfio_buf *rep)
{
    struct uvfio_dirty *d = dirty_of(dev);
    struct uvfio_dirty_bitmap bits;
    struct uvfio_wire_bitmap bm;
    size_t start = rep->len;
    uint8_t *out;
    int r;

    memcpy(&bm, trailer, sizeof(bm));
    out = uvfio_buf_extend(rep, sizeof(bm) + ((size_t)bm.size + 7) / 8 * 8);
    if (!out)
        return -ENOMEM;
    memcpy(out, &bm, sizeof(bm));
    dirty_bitmap_init(&bits, req->addr, req->size,
                      (unsigned int)__builtin_ctzll(bm.pgsize),
                      out + sizeof(bm), true);
    pthread_mutex_lock(&d->lock);
    r = d->started ? dirty_collect(dev, d, &bits) : -EINVAL;
    pthread_mutex_unlock(&d->lock);
    rep->len = r ? start : start + sizeof(bm) + bm.size;
    return r;
}
