/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_dev.c - see fz_dev.h.
 *
 * The device is deliberately plain where plainness costs no coverage: its
 * job is to let every core path be reached and to hold its own invariants
 * (pins dropped before an unmap returns, streams only while open), so that
 * what breaks under the fuzzer is the library, not the fixture.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fz_dev.h"

struct fz_dev {
    struct uvfio_device *dev;
    struct uvfio_pci *pci;
    uint8_t bar0[FZ_BAR0_SIZE];
    uint8_t bar4[FZ_BAR4_SIZE];
    uint8_t vendor[FZ_VENDOR_SIZE];
    uint8_t scratch[8];
    uint8_t dmabuf[FZ_DEV_DMA_MAX];
    int memfd;
    uint8_t *bar2;              /* the memfd, as the client may mmap it */
    struct uvfio_dma_pin pin;
    bool pinned;
    unsigned int ops;

    /* Migration: the saving stream is `pre` (initial image, refreshed
     * while dirty) then `fin` (STOP_COPY); resuming fills `in` image after
     * image and keeps the last complete one in `good`. */
    struct uvfio_mig_image pre, fin, in;
    size_t in_bytes;            /* bytes of the current incoming image */
    uint8_t *good;
    bool dirty;
};

/* ---- state blob ---------------------------------------------------------- */

static size_t state_size(const struct fz_dev *d)
{
    return sizeof(d->bar0) + sizeof(d->vendor) + sizeof(d->scratch) +
           uvfio_pci_state_size(d->pci);
}

/* A malloc'd copy of the whole device state, NULL on failure. */
static uint8_t *state_save(const struct fz_dev *d)
{
    size_t regs = sizeof(d->bar0) + sizeof(d->vendor) + sizeof(d->scratch);
    uint8_t *s = malloc(state_size(d));

    if (!s)
        return NULL;
    memcpy(s, d->bar0, sizeof(d->bar0));
    memcpy(s + sizeof(d->bar0), d->vendor, sizeof(d->vendor));
    memcpy(s + sizeof(d->bar0) + sizeof(d->vendor), d->scratch,
           sizeof(d->scratch));
    if (uvfio_pci_save_state(d->pci, s + regs, state_size(d) - regs) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* Config space first: it is the part that can refuse, and nothing may be
 * applied from an image that is refused. */
static int state_load(struct fz_dev *d, const uint8_t *s)
{
    size_t regs = sizeof(d->bar0) + sizeof(d->vendor) + sizeof(d->scratch);
    int r;

    r = uvfio_pci_load_state(d->pci, s + regs, state_size(d) - regs);
    if (r < 0)
        return r;
    memcpy(d->bar0, s, sizeof(d->bar0));
    memcpy(d->vendor, s + sizeof(d->bar0), sizeof(d->vendor));
    memcpy(d->scratch, s + sizeof(d->bar0) + sizeof(d->vendor),
           sizeof(d->scratch));
    return 0;
}

/* ---- DMA, pins and interrupts --------------------------------------------- */

static void unpin(struct fz_dev *d)
{
    if (!d->pinned)
        return;
    uvfio_dma_unpin(d->dev, &d->pin);
    d->pinned = false;
}

static int pin(struct fz_dev *d, uint64_t iova, uint32_t len)
{
    int r;

    unpin(d);
    if (len > FZ_DEV_DMA_MAX)
        return -EINVAL;
    r = uvfio_dma_pin(d->dev, iova, len, true, &d->pin);
    if (r < 0)
        return r;
    /* Touch every pinned byte: a pin that is not really mapped faults. */
    memset(d->pin.host, 0xa5, d->pin.len);
    d->pinned = true;
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static int run_op(struct fz_dev *d)
{
    uint64_t iova;
    uint32_t len = get32(d->bar0 + FZ_REG_LEN);

    memcpy(&iova, d->bar0 + FZ_REG_IOVA, sizeof(iova));
    if (d->ops >= FZ_DEV_MAX_OPS)
        return -EBUSY;
    d->ops++;
    switch (get32(d->bar0 + FZ_REG_OP)) {
    case FZ_OP_DMA_READ:
        if (len > FZ_DEV_DMA_MAX)
            return -EINVAL;
        return uvfio_dma_read(d->dev, iova, d->dmabuf, len);
    case FZ_OP_DMA_WRITE:
        if (len > FZ_DEV_DMA_MAX)
            return -EINVAL;
        return uvfio_dma_write(d->dev, iova, d->dmabuf, len);
    case FZ_OP_PIN:
        return pin(d, iova, len);
    case FZ_OP_UNPIN:
        unpin(d);
        return 0;
    case FZ_OP_NOTIFY:
        return uvfio_pci_notify(d->pci, len);
    case FZ_OP_INTX:
        uvfio_pci_set_intx(d->pci, len & 1);
        return 0;
    case FZ_OP_TRIGGER:
        return uvfio_irq_trigger(d->dev, len >> 8, len & 0xff);
    default:
        return -EINVAL;
    }
}

/* ---- region access --------------------------------------------------------- */

/* The core has checked [offset, offset+count) against the region size. */
static uint8_t *backing(struct fz_dev *d, uint32_t index, uint64_t offset)
{
    switch (index) {
    case UVFIO_PCI_BAR0_REGION:
        return d->bar0 + offset;
    case UVFIO_PCI_BAR2_REGION:
        return d->bar2 + offset;
    case UVFIO_PCI_BAR4_REGION:
        return d->bar4 + offset;
    case FZ_VENDOR_REGION:
        return d->vendor + offset;
    default:
        return NULL;
    }
}

static ssize_t fz_read(struct uvfio_device *dev, uint32_t index,
                       uint64_t offset, void *buf, size_t count)
{
    uint8_t *p = backing(uvfio_device_priv(dev), index, offset);

    if (!p)
        return -EINVAL;
    memcpy(buf, p, count);
    return (ssize_t)count;
}

static ssize_t fz_write(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, const void *buf, size_t count)
{
    struct fz_dev *d = uvfio_device_priv(dev);
    uint8_t *p = backing(d, index, offset);
    int32_t result;

    if (!p)
        return -EINVAL;
    memcpy(p, buf, count);
    d->dirty = true;
    if (index == UVFIO_PCI_BAR0_REGION && offset <= FZ_REG_OP &&
        offset + count > FZ_REG_OP) {
        result = run_op(d);
        memcpy(d->bar0 + FZ_REG_RESULT, &result, sizeof(result));
    }
    return (ssize_t)count;
}

/* ---- device ops ------------------------------------------------------------- */

static int fz_open(struct uvfio_device *dev)
{
    (void)dev;
    return 0;
}

static void fz_close(struct uvfio_device *dev)
{
    unpin(uvfio_device_priv(dev));
}

static int fz_reset(struct uvfio_device *dev)
{
    struct fz_dev *d = uvfio_device_priv(dev);

    unpin(d);
    memset(d->bar0, 0, sizeof(d->bar0));
    memset(d->bar4, 0, sizeof(d->bar4));
    memset(d->vendor, 0, sizeof(d->vendor));
    return 0;
}

static void fz_dma_unmap(struct uvfio_device *dev, uint64_t iova,
                         uint64_t length)
{
    struct fz_dev *d = uvfio_device_priv(dev);

    /* Overlap test on last bytes: iova + length may be 2^64. */
    if (d->pinned && d->pin.iova <= iova + (length - 1) &&
        iova <= d->pin.iova + (d->pin.len - 1))
        unpin(d);
}

static int fz_feature(struct uvfio_device *dev, uint32_t flags, void *data,
                      size_t len)
{
    struct fz_dev *d = uvfio_device_priv(dev);

    if ((flags & UVFIO_FEATURE_MASK) != FZ_FEATURE_SCRATCH)
        return -ENOTTY;
    if (flags & UVFIO_FEATURE_PROBE)
        return 0;
    if (len < sizeof(d->scratch))
        return -EINVAL;
    if (flags & UVFIO_FEATURE_GET)
        memcpy(data, d->scratch, sizeof(d->scratch));
    else
        memcpy(d->scratch, data, sizeof(d->scratch));
    return 0;
}

static const struct uvfio_device_ops fz_ops = {
    .name = "fuzz",
    .open_device = fz_open,
    .close_device = fz_close,
    .read = fz_read,
    .write = fz_write,
    .reset = fz_reset,
    .dma_unmap = fz_dma_unmap,
    .device_feature = fz_feature,
};

/* ---- migration ---------------------------------------------------------------- */

static int save_image(struct fz_dev *d, struct uvfio_mig_image *img)
{
    uint8_t *s = state_save(d);
    int r;

    if (!s)
        return -ENOMEM;
    uvfio_mig_image_clear(img);
    r = uvfio_mig_image_save(img, FZ_MIG_MAGIC, 1, s, state_size(d));
    free(s);
    d->dirty = false;
    return r;
}

static void drop_streams(struct fz_dev *d)
{
    uvfio_mig_image_clear(&d->pre);
    uvfio_mig_image_clear(&d->fin);
    uvfio_mig_image_clear(&d->in);
    free(d->good);
    d->good = NULL;
    d->in_bytes = 0;
}

static int resume_begin(struct fz_dev *d)
{
    drop_streams(d);
    return uvfio_mig_image_load_begin(&d->in, FZ_MIG_MAGIC, 1, state_size(d));
}

/* The image in `in` is complete: keep it as the latest good one. */
static int resume_image_done(struct fz_dev *d)
{
    const void *state;
    size_t len;
    int r;

    r = uvfio_mig_image_load_end(&d->in, &state, &len, NULL);
    if (r == 0 && len != state_size(d))
        r = -EINVAL;
    if (r == 0) {
        free(d->good);
        d->good = malloc(len);
        if (!d->good)
            r = -ENOMEM;
        else
            memcpy(d->good, state, len);
    }
    uvfio_mig_image_clear(&d->in);
    d->in_bytes = 0;
    if (r < 0)
        return r;
    return uvfio_mig_image_load_begin(&d->in, FZ_MIG_MAGIC, 1, state_size(d));
}

static int resume_end(struct fz_dev *d)
{
    int r;

    /* Half an image, or none at all: refuse, change nothing. */
    if (d->in_bytes || !d->good)
        return -EINVAL;
    r = state_load(d, d->good);
    if (r == 0)
        drop_streams(d);
    return r;
}

static int fz_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                  enum uvfio_mig_state to)
{
    struct fz_dev *d = uvfio_device_priv(dev);

    switch (to) {
    case UVFIO_MIG_STATE_PRE_COPY:
    case UVFIO_MIG_STATE_PRE_COPY_P2P:
        if (from == UVFIO_MIG_STATE_RUNNING ||
            from == UVFIO_MIG_STATE_RUNNING_P2P) {
            drop_streams(d);
            return save_image(d, &d->pre);
        }
        return 0;
    case UVFIO_MIG_STATE_STOP_COPY:
        if (from == UVFIO_MIG_STATE_STOP)
            drop_streams(d);
        return save_image(d, &d->fin);
    case UVFIO_MIG_STATE_RESUMING:
        return resume_begin(d);
    case UVFIO_MIG_STATE_STOP:
        if (from == UVFIO_MIG_STATE_RESUMING)
            return resume_end(d);
        if (from == UVFIO_MIG_STATE_STOP_COPY)
            drop_streams(d);
        return 0;
    case UVFIO_MIG_STATE_RUNNING:
    case UVFIO_MIG_STATE_RUNNING_P2P:
        if (from == UVFIO_MIG_STATE_PRE_COPY ||
            from == UVFIO_MIG_STATE_PRE_COPY_P2P)
            drop_streams(d);
        return 0;
    default:
        return -EINVAL;
    }
}

static bool precopy(struct uvfio_device *dev)
{
    enum uvfio_mig_state s = uvfio_mig_state(dev);

    return s == UVFIO_MIG_STATE_PRE_COPY || s == UVFIO_MIG_STATE_PRE_COPY_P2P;
}

static ssize_t fz_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct fz_dev *d = uvfio_device_priv(dev);
    ssize_t n;

    n = uvfio_mig_image_read(&d->pre, buf, len);
    if (n)
        return n;
    n = uvfio_mig_image_read(&d->fin, buf, len);
    if (n || !precopy(dev) || !d->dirty)
        return n;
    /* Pre-copy, initial image gone, device touched since: a fresh one. */
    if (save_image(d, &d->pre) < 0)
        return -ENOMEM;
    return uvfio_mig_image_read(&d->pre, buf, len);
}

static int fz_resume_write(struct uvfio_device *dev, const void *buf,
                           size_t len)
{
    struct fz_dev *d = uvfio_device_priv(dev);
    const uint8_t *p = buf;
    size_t need, n;
    int r;

    while (len) {
        need = uvfio_mig_image_needed(&d->in);
        if (need == 0)
            return -EINVAL;     /* a sticky error of the image */
        n = need < len ? need : len;
        r = uvfio_mig_image_write(&d->in, p, n);
        if (r < 0)
            return r;
        d->in_bytes += n;
        p += n;
        len -= n;
        /* Header and payload are two steps: done only when neither is
         * missing (a failed write returned above). */
        if (!uvfio_mig_image_needed(&d->in)) {
            r = resume_image_done(d);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int fz_data_size(struct uvfio_device *dev, uint64_t *len)
{
    *len = uvfio_mig_image_size(state_size(uvfio_device_priv(dev)));
    return 0;
}

static int fz_precopy_info(struct uvfio_device *dev, uint64_t *initial,
                           uint64_t *dirty)
{
    struct fz_dev *d = uvfio_device_priv(dev);

    *initial = uvfio_mig_image_remaining(&d->pre);
    *dirty = d->dirty && !*initial ? uvfio_mig_image_size(state_size(d)) : 0;
    return 0;
}

static void fz_stream_abort(struct uvfio_device *dev)
{
    drop_streams(uvfio_device_priv(dev));
}

static const struct uvfio_migration_ops fz_mig_ops = {
    .arc = fz_arc,
    .save_read = fz_save_read,
    .resume_write = fz_resume_write,
    .get_data_size = fz_data_size,
    .precopy_info = fz_precopy_info,
    .stream_abort = fz_stream_abort,
};

/* ---- creation --------------------------------------------------------------- */

static int add_bars(struct fz_dev *d)
{
    static const struct uvfio_sparse_area areas[2] = {
        { 0, 4096 }, { 8192, 4096 },
    };
    const struct uvfio_region_config mm = {
        .flags = UVFIO_REGION_FLAG_MMAP,
        .mmap_fd = d->memfd,
        .nr_sparse = 2,
        .sparse = areas,
    };
    int r;

    r = uvfio_pci_add_bar(d->pci, 0, FZ_BAR0_SIZE, UVFIO_PCI_BAR_MEM32, NULL);
    if (r == 0)
        r = uvfio_pci_add_bar(d->pci, 2, FZ_BAR2_SIZE,
                              UVFIO_PCI_BAR_MEM64 | UVFIO_PCI_BAR_PREFETCH,
                              &mm);
    if (r == 0)
        r = uvfio_pci_add_bar(d->pci, 4, FZ_BAR4_SIZE, UVFIO_PCI_BAR_MEM32,
                              NULL);
    return r;
}

static int add_caps(struct fz_dev *d)
{
    static const uint8_t body[8] = { 8, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
    static const uint8_t wmask[8] = { 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
    int r;

    r = uvfio_pci_add_cap_pm(d->pci);
    if (r >= 0)
        r = uvfio_pci_add_cap_msi(d->pci, FZ_MSI_VECTORS, true, true);
    if (r >= 0)
        r = uvfio_pci_add_cap_msix(d->pci, FZ_MSIX_VECTORS, 4, 0, 4,
                                   FZ_MSIX_PBA_OFFSET);
    if (r >= 0)
        r = uvfio_pci_add_cap_pcie(d->pci);
    if (r >= 0)
        r = uvfio_pci_add_ext_cap(d->pci, 0x000b, 1, body, sizeof(body),
                                  wmask);
    return r < 0 ? r : 0;
}

static int declare(struct fz_dev *d)
{
    const struct uvfio_pci_config pc = {
        .vendor_id = 0x1b36, .device_id = 0x00f0,
        .subsys_vendor_id = 0x1b36, .subsys_id = 0x0001,
        .revision = 1, .class_code = 0xff0000, .intx_pin = 1, .pcie = true,
    };
    const struct uvfio_region_config vendor = {
        .size = FZ_VENDOR_SIZE,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE,
        .mmap_fd = -1,
        .type = UVFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1b36,
        .subtype = 1,
    };
    int r;

    r = uvfio_pci_attach(d->dev, &pc, &d->pci);
    if (r == 0)
        r = add_bars(d);
    if (r == 0)
        r = add_caps(d);
    if (r == 0)
        r = uvfio_device_set_region(d->dev, FZ_VENDOR_REGION, &vendor);
    return r;
}

static int make_bar2(struct fz_dev *d)
{
    void *p;

    d->memfd = memfd_create("fuzz-bar2", MFD_CLOEXEC);
    if (d->memfd < 0 || ftruncate(d->memfd, FZ_BAR2_SIZE) < 0)
        return -errno;
    p = mmap(NULL, FZ_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd,
             0);
    if (p == MAP_FAILED)
        return -errno;
    d->bar2 = p;
    return 0;
}

struct fz_dev *fz_dev_new(void)
{
    struct fz_dev *d = calloc(1, sizeof(*d));
    struct uvfio_device_config cfg = {
        .name = "fuzz",
        .ops = &fz_ops,
        .num_regions = FZ_NUM_REGIONS,
        .num_irqs = UVFIO_PCI_NUM_IRQS,
        .pci = true,
        .mig_ops = &fz_mig_ops,
        .migration_flags = UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P |
                           UVFIO_MIGRATION_PRE_COPY,
    };

    if (!d)
        return NULL;
    d->memfd = -1;
    cfg.priv = d;
    if (make_bar2(d) < 0 || uvfio_device_create(&cfg, &d->dev) < 0 ||
        declare(d) < 0) {
        fz_dev_free(d);
        return NULL;
    }
    return d;
}

void fz_dev_free(struct fz_dev *d)
{
    if (!d)
        return;
    unpin(d);
    if (d->dev)
        uvfio_device_destroy(d->dev);
    drop_streams(d);
    if (d->bar2)
        munmap(d->bar2, FZ_BAR2_SIZE);
    if (d->memfd >= 0)
        close(d->memfd);
    free(d);
}

struct uvfio_device *fz_dev_device(struct fz_dev *d)
{
    return d->dev;
}

int fz_dev_image(struct fz_dev *d, uint8_t **out, size_t *len)
{
    struct uvfio_mig_image img = { 0 };
    ssize_t n;
    int r;

    r = save_image(d, &img);
    if (r < 0)
        return r;
    *len = uvfio_mig_image_remaining(&img);
    *out = malloc(*len);
    n = *out ? uvfio_mig_image_read(&img, *out, *len) : -ENOMEM;
    uvfio_mig_image_clear(&img);
    if (n < 0 || (size_t)n != *len) {
        free(*out);
        *out = NULL;
        return n < 0 ? (int)n : -EIO;
    }
    return 0;
}
