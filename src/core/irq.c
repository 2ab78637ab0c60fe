// SPDX-License-Identifier: MIT
/*
 * core/irq.c - interrupts: the IRQ indexes a driver declares,
 * DEVICE_GET_IRQ_INFO, DEVICE_SET_IRQS with the kernel's validation and
 * per-index rules, and delivery of what the device raises (edges, levels,
 * masking, pending bits) to the client's eventfds.
 *
 * On a PCI device indexes 0-4 follow vfio-pci (INTx, MSI, MSI-X, ERR,
 * REQ); any other index, and every index of a non-PCI device, follows
 * the generic rules its info flags describe.
 *
 * One mutex guards all IRQ state.  Eventfds are written with it held (a
 * write never blocks, see irq_signal) so that a concurrent SET_IRQS cannot
 * close and reuse the fd number under a driver thread's trigger.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_priv.h"
#include "internal.h"
#include "util/log.h"

#define IRQ_INFO_KNOWN (UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE | \
                        UVFIO_IRQ_INFO_AUTOMASKED | UVFIO_IRQ_INFO_NORESIZE)
#define IRQ_SET_KNOWN  (UVFIO_IRQ_SET_DATA_TYPE_MASK | \
                        UVFIO_IRQ_SET_ACTION_TYPE_MASK)

enum irq_kind {
    IRQ_GENERIC,
    IRQ_INTX,               /* PCI 0 */
    IRQ_MSI,                /* PCI 1 and 2: MSI, MSI-X */
    IRQ_SINGLE,             /* PCI 3 and 4: ERR, REQ */
};

static enum irq_kind irq_kind(const struct uvfio_device *dev, uint32_t index)
{
    if (!dev->cfg.pci)
        return IRQ_GENERIC;
    switch (index) {
    case UVFIO_PCI_INTX_IRQ_INDEX:
        return IRQ_INTX;
    case UVFIO_PCI_MSI_IRQ_INDEX:
    case UVFIO_PCI_MSIX_IRQ_INDEX:
        return IRQ_MSI;
    case UVFIO_PCI_ERR_IRQ_INDEX:
    case UVFIO_PCI_REQ_IRQ_INDEX:
        return IRQ_SINGLE;
    default:
        return IRQ_GENERIC;
    }
}

/* ---- eventfds ---------------------------------------------------------- */

/*
 * The kernel's eventfd_signal never blocks (a counter at its ceiling stays
 * there), but write(2) on a blocking eventfd waits for room, and the fd is
 * the client's.  So look for room first: a saturated counter already tells
 * the client "at least one interrupt".  (A client that races its own
 * counter up between the poll and the write can still stall this write;
 * making its fd non-blocking behind its back would break clients that
 * block in read().)
 */
static void irq_signal(int fd)
{
    static const uint64_t one = 1;
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
        return;
    if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        uvfio_debug("irq eventfd %d: write failed", fd);
}

/*
 * The kernel takes only eventfds here; anything else (a pipe that can
 * fill up, a socket) could make irq_signal misbehave.  Without /proc,
 * settle for an anonymous inode (no file type bits): that still keeps out
 * pipes, sockets and files, and the other anonymous kinds refuse writes.
 */
static bool fd_is_eventfd(int fd)
{
    char path[32], target[32];
    struct stat st;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = '\0';
        return strcmp(target, "anon_inode:[eventfd]") == 0;
    }
    return errno == ENOENT && fstat(fd, &st) == 0 &&
           (st.st_mode & S_IFMT) == 0;
}

/* Each fd an eventfd, or -1 (de-assign that vector). */
static int irq_check_fds(const int *fds, size_t nfds)
{
    size_t i;

    for (i = 0; i < nfds; i++)
        if (fds[i] != -1 && (fds[i] < 0 || !fd_is_eventfd(fds[i])))
            return -EINVAL;
    return 0;
}

/* vfio-user sends no fds to de-assign a range, else one per vector. */
static int irq_take_fd(int *fds, size_t nfds, uint32_t i)
{
    int fd;

    if (!nfds)
        return -1;
    fd = fds[i];
    fds[i] = -1;
    return fd;
}

/* ---- vector state, irq_lock held --------------------------------------- */

static void vec_fire(const struct uvfio_irq_index *idx,
                     struct uvfio_irq_vector *v)
{
    irq_signal(v->trigger_fd);
    if (idx->flags & UVFIO_IRQ_INFO_AUTOMASKED)
        v->masked = true;
}

/* Deliver what the mask held back: a pending edge, or a level still high. */
static void vec_catch_up(const struct uvfio_irq_index *idx,
                         struct uvfio_irq_vector *v)
{
    bool level = (idx->flags & UVFIO_IRQ_INFO_AUTOMASKED) && v->level;

    if (v->masked || v->trigger_fd < 0 || !(v->pending || level))
        return;
    v->pending = false;
    vec_fire(idx, v);
}

static void vec_unmask(const struct uvfio_irq_index *idx,
                       struct uvfio_irq_vector *v)
{
    v->masked = false;
    vec_catch_up(idx, v);
}

static void vec_set_trigger(const struct uvfio_irq_index *idx,
                            struct uvfio_irq_vector *v, int fd)
{
    if (v->trigger_fd >= 0)
        close(v->trigger_fd);
    v->trigger_fd = fd;
    if (fd < 0)
        v->pending = false;
    vec_catch_up(idx, v);
}

static void irq_unmask_fd_cb(struct uvfio_device *dev, int fd,
                             uint32_t revents, void *opaque);

/* The unmask eventfd is watched edge-triggered, so it is never read: each
 * write by the client is one wakeup, and a client blocked on its own
 * counter is the client's business. */
static int vec_set_unmask_fd(struct uvfio_device *dev, uint32_t index,
                             uint32_t vector, int fd)
{
    struct uvfio_irq_vector *v = &dev->irqs[index].vec[vector];
    uintptr_t key = ((uintptr_t)index << 16) | vector;
    int r;

    if (fd >= 0) {
        r = uvfio_device_watch_fd(dev, fd, EPOLLIN | EPOLLET,
                                  irq_unmask_fd_cb, (void *)key);
        if (r < 0)
            return r;
    }
    if (v->unmask_fd >= 0) {
        uvfio_device_unwatch_fd(dev, v->unmask_fd);
        close(v->unmask_fd);
    }
    v->unmask_fd = fd;
    return 0;
}

static void vec_reset(struct uvfio_device *dev, uint32_t index,
                      uint32_t vector)
{
    struct uvfio_irq_index *idx = &dev->irqs[index];
    struct uvfio_irq_vector *v = &idx->vec[vector];

    vec_set_trigger(idx, v, -1);
    vec_set_unmask_fd(dev, index, vector, -1);
    v->masked = false;
    v->pending = false;
}

/* The line level is the device's, not the client's: it survives. */
static void irq_disable_index(struct uvfio_device *dev, uint32_t index)
{
    struct uvfio_irq_index *idx = &dev->irqs[index];
    uint32_t i;

    for (i = 0; i < idx->count; i++)
        vec_reset(dev, index, i);
    idx->enabled = false;
    idx->nvec_enabled = 0;
}

static void irq_unmask_fd_cb(struct uvfio_device *dev, int fd,
                             uint32_t revents, void *opaque)
{
    uintptr_t key = (uintptr_t)opaque;
    uint32_t index = (uint32_t)(key >> 16), vector = key & 0xffff;
    struct uvfio_irq_index *idx;

    (void)revents;
    pthread_mutex_lock(&dev->irq_lock);
    /* The index may have been re-declared since: only the fd we watched
     * for this vector may unmask it. */
    if (index < dev->cfg.num_irqs) {
        idx = &dev->irqs[index];
        if (vector < idx->count && idx->vec[vector].unmask_fd == fd)
            vec_unmask(idx, &idx->vec[vector]);
    }
    pthread_mutex_unlock(&dev->irq_lock);
}

/* ---- life cycle -------------------------------------------------------- */

static struct uvfio_irq_vector *vec_alloc(uint32_t count)
{
    struct uvfio_irq_vector *vec;
    uint32_t i;

    vec = calloc(count ? count : 1, sizeof(*vec));
    if (!vec)
        return NULL;
    for (i = 0; i < count; i++) {
        vec[i].trigger_fd = -1;
        vec[i].unmask_fd = -1;
    }
    return vec;
}

int uvfio_irqs_init(struct uvfio_device *dev)
{
    uint32_t n = dev->cfg.num_irqs;

    dev->irqs = calloc(n ? n : 1, sizeof(*dev->irqs));
    if (!dev->irqs)
        return -ENOMEM;
    pthread_mutex_init(&dev->irq_lock, NULL);
    return 0;
}

void uvfio_irqs_drop_all(struct uvfio_device *dev)
{
    uint32_t i;

    pthread_mutex_lock(&dev->irq_lock);
    for (i = 0; i < dev->cfg.num_irqs; i++)
        irq_disable_index(dev, i);
    pthread_mutex_unlock(&dev->irq_lock);
}

void uvfio_irqs_fini(struct uvfio_device *dev)
{
    uint32_t i;

    if (!dev->irqs)
        return;
    uvfio_irqs_drop_all(dev);
    for (i = 0; i < dev->cfg.num_irqs; i++)
        free(dev->irqs[i].vec);
    free(dev->irqs);
    dev->irqs = NULL;
    pthread_mutex_destroy(&dev->irq_lock);
}

/* A function reset: lines low, masks and pending bits clear, and the
 * client's eventfds (its configuration, not the device's) kept. */
void uvfio_irq_reset_state(struct uvfio_device *dev)
{
    uint32_t i, j;

    pthread_mutex_lock(&dev->irq_lock);
    for (i = 0; i < dev->cfg.num_irqs; i++) {
        for (j = 0; j < dev->irqs[i].count; j++) {
            struct uvfio_irq_vector *v = &dev->irqs[i].vec[j];

            v->masked = false;
            v->pending = false;
            v->level = false;
        }
    }
    pthread_mutex_unlock(&dev->irq_lock);
}

/* ---- declaring an index ------------------------------------------------ */

static int irq_check_config(const struct uvfio_device *dev, uint32_t index,
                            const struct uvfio_irq_config *ic)
{
    if (index >= dev->cfg.num_irqs || (ic->flags & ~IRQ_INFO_KNOWN) ||
        ic->count > UVFIO_MAX_IRQ_VECTORS)
        return -EINVAL;
    /* Automasking is masking the core does by itself. */
    if ((ic->flags & UVFIO_IRQ_INFO_AUTOMASKED) &&
        !(ic->flags & UVFIO_IRQ_INFO_MASKABLE))
        return -EINVAL;
    /* vfio-pci's INTx, ERR and REQ are single lines. */
    if (irq_kind(dev, index) == IRQ_INTX || irq_kind(dev, index) == IRQ_SINGLE)
        return ic->count > 1 ? -EINVAL : 0;
    return 0;
}

/* Re-declaring an index drops the client's eventfds on it, as a resized
 * MSI capability would. */
int uvfio_device_set_irq(struct uvfio_device *dev, uint32_t index,
                         const struct uvfio_irq_config *ic)
{
    struct uvfio_irq_vector *vec, *old;
    struct uvfio_irq_index *idx;
    int r;

    if (!dev || !ic)
        return -EINVAL;
    r = irq_check_config(dev, index, ic);
    if (r < 0)
        return r;
    vec = vec_alloc(ic->count);
    if (!vec)
        return -ENOMEM;

    pthread_mutex_lock(&dev->irq_lock);
    idx = &dev->irqs[index];
    irq_disable_index(dev, index);
    old = idx->vec;
    idx->vec = vec;
    idx->count = ic->count;
    /* vfio-user can only deliver through eventfds. */
    idx->flags = ic->flags | UVFIO_IRQ_INFO_EVENTFD;
    pthread_mutex_unlock(&dev->irq_lock);
    free(old);
    return 0;
}

/* ---- DEVICE_GET_IRQ_INFO ----------------------------------------------- */

int uvfio_core_get_irq_info(struct uvfio_device *dev,
                            const struct uvfio_wire_irq_info *req,
                            struct uvfio_buf *rep)
{
    struct uvfio_wire_irq_info info = { 0 };

    if (req->argsz < sizeof(info) || req->index >= dev->cfg.num_irqs)
        return -EINVAL;
    info.argsz = sizeof(info);
    info.index = req->index;
    pthread_mutex_lock(&dev->irq_lock);
    info.flags = dev->irqs[req->index].flags;
    info.count = dev->irqs[req->index].count;
    pthread_mutex_unlock(&dev->irq_lock);
    /*
     * vfio-pci knows ERR only on PCIe functions and refuses the index
     * elsewhere; QEMU reads "count 0" as failed error recovery and warns
     * on every start (tests/qemu/INTEROP.md).
     */
    if (dev->cfg.pci && req->index == UVFIO_PCI_ERR_IRQ_INDEX && !info.count)
        return -EINVAL;
    return uvfio_buf_append(rep, &info, sizeof(info));
}

/* ---- DEVICE_SET_IRQS --------------------------------------------------- */

struct irq_set {
    struct uvfio_device *dev;
    struct uvfio_irq_index *idx;
    uint32_t index, start, count;
    uint32_t action, dtype;
    const uint8_t *bools;       /* DATA_BOOL */
    int *fds;                   /* DATA_EVENTFD; nfds 0 = de-assign */
    size_t nfds;
};

/*
 * The generic header checks the kernel makes before any index-specific
 * code, all EINVAL.  In vfio-user the eventfds come as SCM_RIGHTS, not in
 * data[], so for DATA_EVENTFD the count check is on the fds instead.
 */
static int irq_check_set(const struct uvfio_device *dev,
                         const struct uvfio_wire_irq_set *hdr,
                         size_t data_len, const int *fds, size_t nfds)
{
    const struct uvfio_irq_index *idx;

    if (hdr->argsz < sizeof(*hdr) || hdr->index >= dev->cfg.num_irqs)
        return -EINVAL;
    if (hdr->count >= UINT32_MAX - hdr->start)
        return -EINVAL;
    if (hdr->flags & ~IRQ_SET_KNOWN)
        return -EINVAL;
    idx = &dev->irqs[hdr->index];
    if (hdr->start >= idx->count || hdr->start + hdr->count > idx->count)
        return -EINVAL;

    switch (hdr->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK) {
    case UVFIO_IRQ_SET_DATA_NONE:
        return nfds ? -EINVAL : 0;
    case UVFIO_IRQ_SET_DATA_BOOL:
        if (nfds || hdr->argsz - sizeof(*hdr) < hdr->count ||
            data_len < hdr->count)
            return -EINVAL;
        return 0;
    case UVFIO_IRQ_SET_DATA_EVENTFD:
        if (nfds && nfds != hdr->count)
            return -EINVAL;
        return irq_check_fds(fds, nfds);
    default:
        return -EINVAL;
    }
}

/* NONE: every vector in range; BOOL: those whose byte is non-zero. */
static bool set_selects(const struct irq_set *s, uint32_t i)
{
    return s->dtype == UVFIO_IRQ_SET_DATA_NONE || s->bools[i - s->start];
}

/* TRIGGER with NONE/BOOL: the client tests its delivery path.  The raw
 * signal, past any mask, as vfio-pci does. */
static void set_loopback(const struct irq_set *s)
{
    uint32_t i;

    for (i = s->start; i < s->start + s->count; i++)
        if (set_selects(s, i) && s->idx->vec[i].trigger_fd >= 0)
            irq_signal(s->idx->vec[i].trigger_fd);
}

static void set_triggers(const struct irq_set *s)
{
    uint32_t i;

    for (i = 0; i < s->count; i++)
        vec_set_trigger(s->idx, &s->idx->vec[s->start + i],
                        irq_take_fd(s->fds, s->nfds, i));
}

static void set_masks(const struct irq_set *s)
{
    uint32_t i;

    for (i = s->start; i < s->start + s->count; i++) {
        if (!set_selects(s, i))
            continue;
        if (s->action == UVFIO_IRQ_SET_ACTION_MASK)
            s->idx->vec[i].masked = true;
        else
            vec_unmask(s->idx, &s->idx->vec[i]);
    }
}

static int set_unmask_fds(const struct irq_set *s)
{
    uint32_t i;
    int fd, r;

    for (i = 0; i < s->count; i++) {
        fd = s->nfds ? s->fds[i] : -1;
        r = vec_set_unmask_fd(s->dev, s->index, s->start + i, fd);
        if (r < 0)
            return r;
        if (s->nfds)
            s->fds[i] = -1;
    }
    return 0;
}

/* MASK/UNMASK once the index-specific preconditions hold. */
static int set_mask_action(const struct irq_set *s)
{
    if (s->dtype != UVFIO_IRQ_SET_DATA_EVENTFD) {
        set_masks(s);
        return 0;
    }
    /* An fd that masks when signalled has no use vfio-pci knows of. */
    if (s->action == UVFIO_IRQ_SET_ACTION_MASK)
        return -ENOTTY;
    return s->count ? set_unmask_fds(s) : -EINVAL;
}

/* Only one of INTx, MSI and MSI-X is the device's interrupt mode. */
static bool other_mode_enabled(const struct irq_set *s)
{
    uint32_t i;

    for (i = UVFIO_PCI_INTX_IRQ_INDEX; i <= UVFIO_PCI_MSIX_IRQ_INDEX; i++)
        if (i != s->index && s->dev->irqs[i].enabled)
            return true;
    return false;
}

static bool set_is_disable(const struct irq_set *s)
{
    return s->action == UVFIO_IRQ_SET_ACTION_TRIGGER &&
           s->dtype == UVFIO_IRQ_SET_DATA_NONE && !s->count;
}

static int set_intx(struct irq_set *s)
{
    struct uvfio_irq_vector *v = &s->idx->vec[0];

    if (s->action != UVFIO_IRQ_SET_ACTION_TRIGGER) {
        if (!(s->idx->flags & UVFIO_IRQ_INFO_MASKABLE))
            return -ENOTTY;
        if (!s->idx->enabled || s->start || s->count != 1)
            return -EINVAL;
        return set_mask_action(s);
    }
    if (other_mode_enabled(s) || s->start || s->count != 1)
        return -EINVAL;
    if (s->dtype == UVFIO_IRQ_SET_DATA_EVENTFD) {
        if (!s->idx->enabled) {
            s->idx->enabled = true;
            v->masked = false;
            v->pending = false;
        }
        set_triggers(s);
        return 0;
    }
    if (!s->idx->enabled)
        return -EINVAL;
    set_loopback(s);
    return 0;
}

/* MSI/MSI-X enable with start + count vectors; with NORESIZE that set is
 * fixed until the index is disabled. */
static int set_msi(struct irq_set *s)
{
    uint32_t end = s->start + s->count;

    if (s->action != UVFIO_IRQ_SET_ACTION_TRIGGER)
        return -ENOTTY;
    if (other_mode_enabled(s))
        return -EINVAL;
    if (s->dtype == UVFIO_IRQ_SET_DATA_EVENTFD) {
        if (!s->count)
            return -EINVAL;
        if (!s->idx->enabled) {
            s->idx->enabled = true;
            s->idx->nvec_enabled = end;
        } else if (end > s->idx->nvec_enabled) {
            if (s->idx->flags & UVFIO_IRQ_INFO_NORESIZE)
                return -EINVAL;
            s->idx->nvec_enabled = end;
        }
        set_triggers(s);
        return 0;
    }
    if (!s->idx->enabled)
        return -EINVAL;
    set_loopback(s);
    return 0;
}

static int set_single(struct irq_set *s)
{
    struct uvfio_irq_vector *v = &s->idx->vec[0];

    if (s->action != UVFIO_IRQ_SET_ACTION_TRIGGER)
        return -ENOTTY;
    if (s->start || s->count > 1)
        return -EINVAL;
    switch (s->dtype) {
    case UVFIO_IRQ_SET_DATA_NONE:
        if (v->trigger_fd < 0)
            return -EINVAL;
        irq_signal(v->trigger_fd);
        return 0;
    case UVFIO_IRQ_SET_DATA_BOOL:
        if (!s->count)
            return -EINVAL;
        set_loopback(s);
        return 0;
    default:
        if (!s->count)
            return -EINVAL;
        set_triggers(s);
        return 0;
    }
}

static int set_generic(struct irq_set *s)
{
    if (s->action != UVFIO_IRQ_SET_ACTION_TRIGGER) {
        if (!(s->idx->flags & UVFIO_IRQ_INFO_MASKABLE))
            return -ENOTTY;
        return set_mask_action(s);
    }
    if (s->dtype == UVFIO_IRQ_SET_DATA_EVENTFD) {
        if (!s->count)
            return -EINVAL;
        set_triggers(s);
        return 0;
    }
    set_loopback(s);
    return 0;
}

static int irq_set_locked(struct irq_set *s)
{
    /*
     * Disabling is allowed whatever the index's state, unlike the kernel
     * (which refuses to disable a mode that is not on): libvfio-user and
     * the vfio-user spec treat it as idempotent, and clients rely on it.
     */
    if (set_is_disable(s)) {
        irq_disable_index(s->dev, s->index);
        return 0;
    }
    switch (irq_kind(s->dev, s->index)) {
    case IRQ_INTX:
        return set_intx(s);
    case IRQ_MSI:
        return set_msi(s);
    case IRQ_SINGLE:
        return set_single(s);
    default:
        return set_generic(s);
    }
}

int uvfio_core_set_irqs(struct uvfio_device *dev,
                        const struct uvfio_wire_irq_set *hdr,
                        const void *data, size_t data_len,
                        int *fds, size_t nfds)
{
    struct irq_set s = {
        .dev = dev,
        .index = hdr->index,
        .start = hdr->start,
        .count = hdr->count,
        .action = hdr->flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK,
        .dtype = hdr->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK,
        .bools = data,
        .fds = fds,
        .nfds = nfds,
    };
    int r;

    pthread_mutex_lock(&dev->irq_lock);
    r = irq_check_set(dev, hdr, data_len, fds, nfds);
    if (r < 0)
        goto out;
    s.idx = &dev->irqs[hdr->index];
    /* Exactly one action; vfio-pci answers "not implemented" otherwise. */
    if (s.action != UVFIO_IRQ_SET_ACTION_MASK &&
        s.action != UVFIO_IRQ_SET_ACTION_UNMASK &&
        s.action != UVFIO_IRQ_SET_ACTION_TRIGGER) {
        r = -ENOTTY;
        goto out;
    }
    r = irq_set_locked(&s);
out:
    pthread_mutex_unlock(&dev->irq_lock);
    return r;
}

/* ---- what the device raises -------------------------------------------- */

static struct uvfio_irq_vector *irq_vec(struct uvfio_device *dev,
                                        uint32_t index, uint32_t vector)
{
    if (index >= dev->cfg.num_irqs || vector >= dev->irqs[index].count)
        return NULL;
    return &dev->irqs[index].vec[vector];
}

int uvfio_irq_trigger(struct uvfio_device *dev, uint32_t index,
                      uint32_t vector)
{
    struct uvfio_irq_vector *v;
    int r = 0;

    if (!dev)
        return -EINVAL;
    pthread_mutex_lock(&dev->irq_lock);
    v = irq_vec(dev, index, vector);
    if (!v)
        r = -EINVAL;
    else if (v->trigger_fd < 0)
        r = -ENOENT;
    else if (v->masked)
        v->pending = true;
    else
        vec_fire(&dev->irqs[index], v);
    pthread_mutex_unlock(&dev->irq_lock);
    return r;
}

int uvfio_irq_set_level(struct uvfio_device *dev, uint32_t index,
                        uint32_t vector, bool level)
{
    struct uvfio_irq_vector *v;
    int r = 0;

    if (!dev)
        return -EINVAL;
    pthread_mutex_lock(&dev->irq_lock);
    v = irq_vec(dev, index, vector);
    if (!v || !(dev->irqs[index].flags & UVFIO_IRQ_INFO_AUTOMASKED)) {
        r = -EINVAL;
    } else {
        bool rising = level && !v->level;

        v->level = level;
        if (rising)
            vec_catch_up(&dev->irqs[index], v);
    }
    pthread_mutex_unlock(&dev->irq_lock);
    return r;
}

bool uvfio_irq_enabled(struct uvfio_device *dev, uint32_t index,
                       uint32_t vector)
{
    struct uvfio_irq_vector *v;
    bool on;

    if (!dev)
        return false;
    pthread_mutex_lock(&dev->irq_lock);
    v = irq_vec(dev, index, vector);
    on = v && v->trigger_fd >= 0;
    pthread_mutex_unlock(&dev->irq_lock);
    return on;
}
