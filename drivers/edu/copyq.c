// SPDX-License-Identifier: MIT
/*
 * edu/copyq.c - the copy queue (copyq.h): its registers, its worker and
 * its pace.
 *
 * The worker writes one page at a time.  Before each it checks under the
 * lock that it may (enabled, not held, not exiting) and marks itself busy;
 * whoever stops or holds the queue takes the permission away first and
 * then waits for busy to drop, so once they return no DMA is in flight
 * and none will start.  A page is counted (CQ_POS, CQ_BYTES) in the same
 * critical section that clears busy: it is either written and counted or
 * not written at all, which is what makes a migrated position exact.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "copyq.h"
#include "pattern.h"

#define NSEC_PER_SEC    1000000000ull
/* A worker this far behind its pace (a slow message path, a loaded host)
 * starts afresh rather than bursting to catch up. */
#define PACE_MAX_LAG_NS (50ull * 1000000ull)
#define ERRNO_MAX       4095u

/* ---- pace ---------------------------------------------------------------- */

struct pace {
    uint64_t t0;                /* ns, CLOCK_MONOTONIC */
    uint64_t bytes;             /* written since t0 */
    uint64_t bps;               /* bytes per second, at most 2^34 */
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void pace_start(struct pace *p, uint32_t rate_kib)
{
    p->t0 = now_ns();
    p->bytes = 0;
    p->bps = (uint64_t)rate_kib * 1024;
}

/* When the next page may go.  The remainder is below 2^34 (the rate
 * register's cap), so its product with 10^9 fits in 64 bits. */
static uint64_t pace_due(const struct pace *p)
{
    return p->t0 + p->bytes / p->bps * NSEC_PER_SEC +
           p->bytes % p->bps * NSEC_PER_SEC / p->bps;
}

/* ---- state --------------------------------------------------------------- */

static bool window_ok(const struct edu_cq_state *st)
{
    return st->size && !(st->addr % EDU_CQ_PAGE_SIZE) &&
           !(st->size % EDU_CQ_PAGE_SIZE) &&
           st->size - 1 <= UINT64_MAX - st->addr;
}

static bool enabled(const struct edu_cq *q)
{
    return q->st.ctrl & EDU_CQ_CTRL_ENABLE;
}

static bool may_run_locked(const struct edu_cq *q)
{
    return !q->exit && enabled(q) && !q->held && q->st.rate;
}

static uint32_t status_locked(const struct edu_cq *q)
{
    uint32_t s = 0;

    if (enabled(q))
        s |= q->held ? EDU_CQ_STATUS_PAUSED : EDU_CQ_STATUS_ACTIVE;
    if (q->st.error)
        s |= EDU_CQ_STATUS_ERROR;
    return s;
}

/*
 * The caller has taken the worker's permission away: cancel a page handed
 * to the dispatch thread (that is us, or nobody), and wait out a direct
 * copy (microseconds) or the counting of a handed-off page already
 * written, so that no page lands or is counted after we return.
 */
static void settle_locked(struct edu_cq *q)
{
    if (q->req == EDU_CQ_REQ_PENDING)
        q->req = EDU_CQ_REQ_CANCELLED;
    pthread_cond_broadcast(&q->cond);
    while (q->busy || q->req == EDU_CQ_REQ_DONE)
        pthread_cond_wait(&q->cond, &q->lock);
}

/* Something the worker must see: a new rate, a start, a release. */
static void kick_locked(struct edu_cq *q)
{
    q->gen++;
    pthread_cond_broadcast(&q->cond);
}

/* ---- writing a page ------------------------------------------------------ */

/*
 * Windows shared without an fd: the dispatch thread writes the page, where
 * the server can wait for the client's reply inline.  -ECANCELED when the
 * queue was stopped or held meanwhile: the page was not written.
 */
static int handoff_locked(struct edu_cq *q, uint64_t iova)
{
    uint64_t one = 1;
    int r;

    if (!may_run_locked(q))
        return -ECANCELED;
    q->req = EDU_CQ_REQ_PENDING;
    q->req_iova = iova;
    if (write(q->efd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
        q->req = EDU_CQ_REQ_NONE;
        return -EIO;
    }
    while (q->req == EDU_CQ_REQ_PENDING)
        pthread_cond_wait(&q->cond, &q->lock);
    r = q->req == EDU_CQ_REQ_DONE ? q->req_result : -ECANCELED;
    /* still under the lock: the caller counts the page before anyone
     * waiting in settle_locked sees NONE */
    q->req = EDU_CQ_REQ_NONE;
    pthread_cond_broadcast(&q->cond);
    return r;
}

/* Called and returns with the lock held; drops it around the copy. */
static int write_page_locked(struct edu_cq *q, uint64_t iova)
{
    struct uvfio_dma_pin pin;
    int r;

    q->busy = true;
    pthread_mutex_unlock(&q->lock);
    r = uvfio_dma_pin(q->dev, iova, EDU_CQ_PAGE_SIZE, true, &pin);
    if (!r) {
        memcpy(pin.host, q->page, EDU_CQ_PAGE_SIZE);
        uvfio_dma_unpin(q->dev, &pin);
    }
    pthread_mutex_lock(&q->lock);
    q->busy = false;
    pthread_cond_broadcast(&q->cond);
    /* not inside one fd-backed window: by message, or not mapped at all */
    return r == -EFAULT ? handoff_locked(q, iova) : r;
}

static void cq_handoff_ready(struct uvfio_device *dev, int fd,
                             uint32_t revents, void *opaque)
{
    struct edu_cq *q = opaque;
    uint64_t iova, n;
    ssize_t got;
    int r;

    (void)revents;
    got = read(fd, &n, sizeof(n));      /* EAGAIN: a spurious wake-up */
    (void)got;
    pthread_mutex_lock(&q->lock);
    if (q->req != EDU_CQ_REQ_PENDING) {
        pthread_mutex_unlock(&q->lock);
        return;
    }
    iova = q->req_iova;
    pthread_mutex_unlock(&q->lock);
    /* Only this thread cancels, so the page stays ours meanwhile. */
    r = uvfio_dma_write(dev, iova, q->page, EDU_CQ_PAGE_SIZE);
    pthread_mutex_lock(&q->lock);
    if (q->req == EDU_CQ_REQ_PENDING) {
        q->req = EDU_CQ_REQ_DONE;
        q->req_result = r;
        pthread_cond_broadcast(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
}

/* ---- the worker ------------------------------------------------------------ */

static void one_page_locked(struct edu_cq *q, struct pace *pace)
{
    struct edu_cq_state *st = &q->st;
    uint64_t iova = st->addr + st->pos * EDU_CQ_PAGE_SIZE;
    int r;

    edu_cq_page_fill(q->page, st->passes + 1, st->pos, iova);
    r = write_page_locked(q, iova);
    if (r == -ECANCELED)
        return;
    if (r < 0) {
        /* a DMA fault halts the engine, as it would on hardware */
        st->error = (uint32_t)-r;
        st->ctrl &= ~EDU_CQ_CTRL_ENABLE;
        kick_locked(q);
        return;
    }
    pace->bytes += EDU_CQ_PAGE_SIZE;
    st->bytes += EDU_CQ_PAGE_SIZE;
    if (++st->pos == st->size / EDU_CQ_PAGE_SIZE) {
        st->pos = 0;
        st->passes++;
    }
}

static void wait_until_locked(struct edu_cq *q, uint64_t when)
{
    struct timespec ts = {
        .tv_sec = (time_t)(when / NSEC_PER_SEC),
        .tv_nsec = (long)(when % NSEC_PER_SEC),
    };

    pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

static void *cq_worker(void *arg)
{
    struct edu_cq *q = arg;
    struct pace pace = { 0 };
    uint64_t gen = 0, now, due;

    pthread_mutex_lock(&q->lock);
    while (!q->exit) {
        if (!may_run_locked(q)) {
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        if (gen != q->gen) {
            gen = q->gen;
            pace_start(&pace, q->st.rate);
        }
        now = now_ns();
        due = pace_due(&pace);
        if (now < due) {
            wait_until_locked(q, due);
            continue;
        }
        if (now - due > PACE_MAX_LAG_NS) {
            pace.t0 = now;
            pace.bytes = 0;
        }
        one_page_locked(q, &pace);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* ---- registers --------------------------------------------------------------- */

static void start_locked(struct edu_cq *q)
{
    if (enabled(q))
        return;
    if (!window_ok(&q->st)) {
        q->st.error = EINVAL;
        return;
    }
    q->st.error = 0;
    q->st.ctrl |= EDU_CQ_CTRL_ENABLE;
    kick_locked(q);
}

/* When the write returns nothing more is written: a guest that stops the
 * queue and then reads the window sees the last page. */
static void stop_locked(struct edu_cq *q)
{
    if (!enabled(q))
        return;
    q->st.ctrl &= ~EDU_CQ_CTRL_ENABLE;
    kick_locked(q);
    settle_locked(q);
}

/* A new window starts a new sequence. */
static void set_window_locked(struct edu_cq *q, uint64_t *field, uint64_t v)
{
    if (enabled(q))
        return;                 /* as edu's DMA registers while running */
    *field = v;
    q->st.passes = 0;
    q->st.pos = 0;
    q->st.bytes = 0;
}

bool edu_cq_read(struct edu_cq *q, uint32_t reg, uint64_t *val)
{
    const struct edu_cq_state *st = &q->st;
    bool known = true;

    pthread_mutex_lock(&q->lock);
    switch (reg) {
    case EDU_REG_CQ_ADDR:   *val = st->addr; break;
    case EDU_REG_CQ_SIZE:   *val = st->size; break;
    case EDU_REG_CQ_RATE:   *val = st->rate; break;
    case EDU_REG_CQ_CTRL:   *val = st->ctrl; break;
    case EDU_REG_CQ_STATUS: *val = status_locked(q); break;
    case EDU_REG_CQ_ERROR:  *val = st->error; break;
    case EDU_REG_CQ_PASSES: *val = st->passes; break;
    case EDU_REG_CQ_POS:    *val = st->pos; break;
    case EDU_REG_CQ_BYTES:  *val = st->bytes; break;
    default:                known = false; break;
    }
    pthread_mutex_unlock(&q->lock);
    return known;
}

bool edu_cq_write(struct edu_cq *q, uint32_t reg, uint64_t val)
{
    bool known = true;

    pthread_mutex_lock(&q->lock);
    switch (reg) {
    case EDU_REG_CQ_ADDR:
        set_window_locked(q, &q->st.addr, val);
        break;
    case EDU_REG_CQ_SIZE:
        set_window_locked(q, &q->st.size, val);
        break;
    case EDU_REG_CQ_RATE:
        /* may change while running: a test slows the device down to let
         * a migration converge */
        q->st.rate = (uint32_t)val > EDU_CQ_MAX_RATE ? EDU_CQ_MAX_RATE :
                     (uint32_t)val;
        kick_locked(q);
        break;
    case EDU_REG_CQ_CTRL:
        if (val & EDU_CQ_CTRL_ENABLE)
            start_locked(q);
        else
            stop_locked(q);
        break;
    case EDU_REG_CQ_STATUS:
    case EDU_REG_CQ_ERROR:
    case EDU_REG_CQ_PASSES:
    case EDU_REG_CQ_POS:
    case EDU_REG_CQ_BYTES:
        break;                  /* read-only */
    default:
        known = false;
        break;
    }
    pthread_mutex_unlock(&q->lock);
    return known;
}

/* ---- migration and reset ------------------------------------------------------ */

void edu_cq_hold(struct edu_cq *q, bool held)
{
    pthread_mutex_lock(&q->lock);
    q->held = held;
    kick_locked(q);
    if (held)
        settle_locked(q);
    pthread_mutex_unlock(&q->lock);
}

void edu_cq_get_state(struct edu_cq *q, struct edu_cq_state *st)
{
    pthread_mutex_lock(&q->lock);
    *st = q->st;
    pthread_mutex_unlock(&q->lock);
}

int edu_cq_state_check(const struct edu_cq_state *st)
{
    if ((st->ctrl & ~EDU_CQ_CTRL_ENABLE) || st->rate > EDU_CQ_MAX_RATE ||
        st->error > ERRNO_MAX)
        return -EINVAL;
    if (!st->size)
        return st->pos || (st->ctrl & EDU_CQ_CTRL_ENABLE) ? -EINVAL : 0;
    if (!window_ok(st) || st->pos >= st->size / EDU_CQ_PAGE_SIZE)
        return -EINVAL;
    return 0;
}

/* Held, the worker neither writes nor counts: the new state is not
 * disturbed by a page of the old one. */
void edu_cq_set_state(struct edu_cq *q, const struct edu_cq_state *st)
{
    pthread_mutex_lock(&q->lock);
    q->st = *st;
    kick_locked(q);
    pthread_mutex_unlock(&q->lock);
}

/* Stopped first: a page under way must be counted in the old state, not
 * in the power-on one. */
void edu_cq_reset(struct edu_cq *q)
{
    pthread_mutex_lock(&q->lock);
    q->st.ctrl &= ~EDU_CQ_CTRL_ENABLE;
    kick_locked(q);
    settle_locked(q);
    q->st = q->power_on;
    pthread_mutex_unlock(&q->lock);
}

void edu_cq_unpinned(struct edu_cq *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->busy)
        pthread_cond_wait(&q->cond, &q->lock);
    pthread_mutex_unlock(&q->lock);
}

/* ---- life cycle ------------------------------------------------------------------ */

/* The worker takes no signals: the program's handlers run on its main
 * thread, and a timed wait is never cut short. */
static int start_worker(struct edu_cq *q)
{
    sigset_t all, old;
    int r;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&q->thread, NULL, cq_worker, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    q->thread_started = true;
    return 0;
}

static void preset_apply(struct edu_cq *q, const struct edu_cq_state *preset)
{
    if (preset) {
        q->power_on.addr = preset->addr;
        q->power_on.size = preset->size;
        q->power_on.rate = preset->rate > EDU_CQ_MAX_RATE ? EDU_CQ_MAX_RATE :
                           preset->rate;
    }
    q->st = q->power_on;
}

int edu_cq_init(struct edu_cq *q, struct uvfio_device *dev,
                const struct edu_cq_state *preset)
{
    pthread_condattr_t ca;
    int r;

    memset(q, 0, sizeof(*q));
    q->dev = dev;
    q->efd = -1;
    q->gen = 1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    preset_apply(q, preset);

    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        r = -errno;
        goto fail;
    }
    r = uvfio_device_watch_fd(dev, q->efd, EPOLLIN, cq_handoff_ready, q);
    if (r)
        goto fail;
    q->watching = true;
    r = start_worker(q);
    if (r)
        goto fail;
    return 0;
fail:
    edu_cq_fini(q);
    return r;
}

/* Also on a half-initialised or already finished queue. */
void edu_cq_fini(struct edu_cq *q)
{
    if (!q->dev)
        return;
    if (q->thread_started) {
        pthread_mutex_lock(&q->lock);
        q->exit = true;
        settle_locked(q);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
        q->thread_started = false;
    }
    if (q->watching)
        uvfio_device_unwatch_fd(q->dev, q->efd);
    q->watching = false;
    if (q->efd >= 0)
        close(q->efd);
    q->efd = -1;
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    q->dev = NULL;
}
