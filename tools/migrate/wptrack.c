// SPDX-License-Identifier: MIT
/*
 * migrate/wptrack.c - finding the guest's writes with userfaultfd
 * write-protection (wptrack.h).
 *
 * The guarantee a migration needs: a page written after a collect shows
 * up in a later collect.  Both modes give it by protecting a page again
 * before reporting it, never after:
 *
 *   ASYNC  PAGEMAP_SCAN tests "written" and re-protects under the page
 *          table lock, page by page, so a write either landed before the
 *          scan (reported now, and the caller copies the page after) or
 *          faults after it (the kernel marks it written again).
 *   SYNC   the fault thread records a page and lifts its protection under
 *          `lock`; collect re-protects the recorded pages and takes the
 *          record under the same lock.  A writer woken after the
 *          re-protection faults again and is recorded again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "wptrack.h"

/* Newer than Debian 12's uapi headers (Linux 6.1): the kernel ABI, as
 * documented in Documentation/admin-guide/mm/userfaultfd.rst and
 * pagemap.rst. */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW             _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY             1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1ull << 12)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC           (1ull << 15)
#endif

struct lm_page_region {
    uint64_t start, end, categories;
};

struct lm_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask;
    uint64_t return_mask;
};

#define LM_PAGEMAP_SCAN         _IOWR('f', 16, struct lm_pm_scan_arg)
#define LM_PAGE_IS_WRITTEN      (1ull << 1)
#define LM_PM_SCAN_WP_MATCHING  (1ull << 0)
#define LM_PM_SCAN_CHECK_WPASYNC (1ull << 1)

#define SCAN_VEC        256     /* regions per PAGEMAP_SCAN call */
#define MSG_BATCH       32      /* fault messages per read */

struct wptrack {
    enum wptrack_mode mode;
    uint8_t *base;
    size_t size;
    int uffd;
    int pagemap;                /* ASYNC */
    /* SYNC: */
    pthread_t thread;
    bool thread_started;
    int stop_efd;
    pthread_mutex_t lock;
    struct pagebits pending;    /* written since the last collect */
    int fault_err;              /* the fault thread gave up: sticky */
};

/* ---- userfaultfd -------------------------------------------------------- */

/*
 * The system call first.  Without CAP_SYS_PTRACE and with
 * vm.unprivileged_userfaultfd=0 only a user-mode-only fd is allowed (the
 * guest's writes are all user mode).  Where the system call is filtered
 * (container seccomp profiles) or unknown (valgrind), /dev/userfaultfd
 * (Linux 6.1) gives the same fd to whoever may open the device.
 */
static int uffd_open_dev(void)
{
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), fd;

    if (dev < 0)
        return -errno;
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    fd = fd < 0 ? -errno : fd;
    close(dev);
    return fd;
}

static int uffd_open(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), r;

    if (fd < 0 && errno == EPERM)
        fd = (int)syscall(SYS_userfaultfd,
                          O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd >= 0)
        return fd;
    r = -errno;
    fd = uffd_open_dev();
    if (fd >= 0)
        return fd;
    return r == -ENOSYS ? -EOPNOTSUPP : r;
}

/* The API handshake, asking for `want`; shmem write-protection is needed
 * either way (it is what the kernel calls HUGETLBFS_SHMEM). */
static int uffd_api(int fd, uint64_t want)
{
    struct uffdio_api api = { .api = UFFD_API, .features = want };

    if (ioctl(fd, UFFDIO_API, &api))
        return errno == EINVAL ? -EOPNOTSUPP : -errno;
    if (!(api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM))
        return -EOPNOTSUPP;
    return 0;
}

static int uffd_register(struct wptrack *t)
{
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)t->base, .len = t->size },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };

    if (ioctl(t->uffd, UFFDIO_REGISTER, &reg))
        return errno == EINVAL ? -EOPNOTSUPP : -errno;
    if (!(reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT)))
        return -EOPNOTSUPP;
    return 0;
}

/* Protect (wp) or release [off, off + len) of the range. */
static int uffd_protect(struct wptrack *t, size_t off, size_t len, bool wp)
{
    struct uffdio_writeprotect w = {
        .range = { .start = (uintptr_t)(t->base + off), .len = len },
        .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };

    return ioctl(t->uffd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

/* ---- ASYNC: PAGEMAP_SCAN ------------------------------------------------ */

static void mark_region(struct wptrack *t, const struct lm_page_region *r,
                        struct pagebits *bits, uint64_t *found)
{
    uint64_t first = (r->start - (uintptr_t)t->base) >> LM_PAGE_SHIFT;
    uint64_t count = (r->end - r->start) >> LM_PAGE_SHIFT;

    pagebits_set_range(bits, first, count);
    *found += count;
}

/* One scan over the whole range, continued where a full vector stopped
 * it.  With bits == NULL, only re-protects. */
static int async_scan(struct wptrack *t, struct pagebits *bits,
                      uint64_t *found)
{
    struct lm_page_region vec[SCAN_VEC];
    uint64_t end = (uintptr_t)(t->base + t->size);
    struct lm_pm_scan_arg a = {
        .size = sizeof(a),
        .flags = LM_PM_SCAN_WP_MATCHING | LM_PM_SCAN_CHECK_WPASYNC,
        .start = (uintptr_t)t->base,
        .end = end,
        .vec = (uintptr_t)vec,
        .vec_len = SCAN_VEC,
        .category_mask = LM_PAGE_IS_WRITTEN,
        .return_mask = LM_PAGE_IS_WRITTEN,
    };
    int n;

    /* the kernel fills vec behind a pointer no checker can follow
     * (valgrind): start from defined bytes */
    memset(vec, 0, sizeof(vec));
    while (a.start < end) {
        n = ioctl(t->pagemap, LM_PAGEMAP_SCAN, &a);
        if (n < 0)
            return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : -errno;
        for (int i = 0; bits && i < n; i++)
            mark_region(t, &vec[i], bits, found);
        if (a.walk_end <= a.start || a.walk_end > end)
            return -EIO;        /* the kernel made no progress: never loop */
        a.start = a.walk_end;
    }
    return 0;
}

static int async_start(struct wptrack *t)
{
    int r;

    t->uffd = uffd_open();
    if (t->uffd < 0)
        return t->uffd;
    r = uffd_api(t->uffd, UFFD_FEATURE_WP_ASYNC);
    if (!r)
        r = uffd_register(t);
    if (!r)
        r = uffd_protect(t, 0, t->size, true);
    if (r)
        return r;
    t->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (t->pagemap < 0)
        return -errno;
    /* a kernel without PAGEMAP_SCAN says so here, not mid-migration */
    return async_scan(t, NULL, NULL);
}

/* ---- SYNC: the fault thread --------------------------------------------- */

static int sync_fault(struct wptrack *t, const struct uffd_msg *m)
{
    uint64_t addr = m->arg.pagefault.address & ~(uint64_t)(LM_PAGE_SIZE - 1);
    size_t off;
    int r;

    if (m->event != UFFD_EVENT_PAGEFAULT ||
        !(m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
        return 0;               /* registered for WP only: not ours */
    if (addr < (uintptr_t)t->base || addr - (uintptr_t)t->base >= t->size)
        return -EIO;
    off = (size_t)(addr - (uintptr_t)t->base);
    pthread_mutex_lock(&t->lock);
    pagebits_set_range(&t->pending, off >> LM_PAGE_SHIFT, 1);
    r = uffd_protect(t, off, LM_PAGE_SIZE, false);   /* and wakes */
    pthread_mutex_unlock(&t->lock);
    return r;
}

static int sync_drain(struct wptrack *t)
{
    struct uffd_msg msg[MSG_BATCH];
    ssize_t n;
    int r;

    for (;;) {
        n = read(t->uffd, msg, sizeof(msg));
        if (n < 0)
            return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -errno;
        for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
            r = sync_fault(t, &msg[i]);
            if (r)
                return r;
        }
    }
}

static void *sync_thread(void *arg)
{
    struct wptrack *t = arg;
    struct pollfd p[2] = {
        { .fd = t->uffd, .events = POLLIN },
        { .fd = t->stop_efd, .events = POLLIN },
    };
    int r = 0;

    while (!r) {
        if (poll(p, 2, -1) < 0) {
            r = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
            r = -EIO;
        else if (p[0].revents & POLLIN)
            r = sync_drain(t);
    }
    if (r) {
        /* a writer could stay blocked: the collect that follows fails,
         * and stop() closes the fd, which releases every writer */
        pthread_mutex_lock(&t->lock);
        t->fault_err = r;
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

static int sync_spawn(struct wptrack *t)
{
    sigset_t all, old;
    int r;

    t->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->stop_efd < 0)
        return -errno;
    /* signals are for the main thread (cancel on SIGINT) */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&t->thread, NULL, sync_thread, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    t->thread_started = true;
    return 0;
}

static int sync_start(struct wptrack *t)
{
    int r;

    r = pagebits_init(&t->pending, t->size >> LM_PAGE_SHIFT);
    if (r)
        return r;
    t->uffd = uffd_open();
    if (t->uffd < 0)
        return t->uffd;
    r = uffd_api(t->uffd, 0);
    if (!r)
        r = uffd_register(t);
    if (!r)
        r = uffd_protect(t, 0, t->size, true);
    if (!r)
        r = sync_spawn(t);
    return r;
}

/* Re-protect what the fault thread released, then hand it over. */
static int sync_collect(struct wptrack *t, struct pagebits *bits,
                        uint64_t *found)
{
    uint64_t pos = 0, run;
    int r;

    pthread_mutex_lock(&t->lock);
    r = t->fault_err;
    while (!r && (run = pagebits_next_run(&t->pending, &pos, UINT64_MAX))) {
        r = uffd_protect(t, (size_t)pos << LM_PAGE_SHIFT,
                         (size_t)run << LM_PAGE_SHIFT, true);
        pagebits_set_range(bits, pos, run);
        *found += run;
        pos += run;
    }
    if (!r)
        pagebits_clear(&t->pending);
    pthread_mutex_unlock(&t->lock);
    return r;
}

/* ---- the interface ------------------------------------------------------ */

static struct wptrack *alloc_tracker(void *base, size_t size,
                                     enum wptrack_mode mode)
{
    struct wptrack *t = calloc(1, sizeof(*t));

    if (!t)
        return NULL;
    t->mode = mode;
    t->base = base;
    t->size = size;
    t->uffd = -1;
    t->pagemap = -1;
    t->stop_efd = -1;
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

static int start_mode(void *base, size_t size, enum wptrack_mode mode,
                      struct wptrack **out)
{
    struct wptrack *t = alloc_tracker(base, size, mode);
    int r;

    if (!t)
        return -ENOMEM;
    r = mode == WPTRACK_ASYNC ? async_start(t) : sync_start(t);
    if (r) {
        wptrack_stop(t);
        return r;
    }
    *out = t;
    return 0;
}

int wptrack_start(void *base, size_t size, enum wptrack_mode mode,
                  struct wptrack **out)
{
    int r;

    *out = NULL;
    if (!base || !size || (uintptr_t)base % LM_PAGE_SIZE ||
        size % LM_PAGE_SIZE || (uintptr_t)base > UINTPTR_MAX - size)
        return -EINVAL;
    if (mode != WPTRACK_AUTO)
        return start_mode(base, size, mode, out);
    r = start_mode(base, size, WPTRACK_ASYNC, out);
    if (r == -EOPNOTSUPP)
        r = start_mode(base, size, WPTRACK_SYNC, out);
    return r;
}

int wptrack_collect(struct wptrack *t, struct pagebits *bits,
                    uint64_t *found)
{
    uint64_t n = 0;
    int r;

    if (bits->nbits < t->size >> LM_PAGE_SHIFT)
        return -EINVAL;
    if (t->mode == WPTRACK_ASYNC)
        r = async_scan(t, bits, &n);
    else
        r = sync_collect(t, bits, &n);
    if (found)
        *found = n;
    return r;
}

void wptrack_stop(struct wptrack *t)
{
    uint64_t one = 1;

    if (!t)
        return;
    if (t->thread_started) {
        if (write(t->stop_efd, &one, sizeof(one)) != sizeof(one))
            abort();            /* an eventfd write cannot fail here */
        pthread_join(t->thread, NULL);
    }
    /* closing the userfaultfd lifts every protection and wakes every
     * writer still waiting on a fault */
    if (t->uffd >= 0)
        close(t->uffd);
    if (t->pagemap >= 0)
        close(t->pagemap);
    if (t->stop_efd >= 0)
        close(t->stop_efd);
    pagebits_fini(&t->pending);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

enum wptrack_mode wptrack_mode(const struct wptrack *t)
{
    return t->mode;
}

const char *wptrack_mode_name(enum wptrack_mode m)
{
    switch (m) {
    case WPTRACK_ASYNC:
        return "uffd-wp-async";
    case WPTRACK_SYNC:
        return "uffd-wp";
    default:
        return "auto";
    }
}
