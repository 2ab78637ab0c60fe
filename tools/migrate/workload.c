// SPDX-License-Identifier: MIT
/*
 * migrate/workload.c - the synthetic guest's writer (workload.h).
 *
 * The pace is kept against the clock from the start (or the last resume):
 * the thread writes until it is due, then sleeps until the next page is.
 * A writer that fell far behind (a loaded host) starts afresh instead of
 * bursting, as a vCPU that was not scheduled would.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagebits.h"
#include "workload.h"

#define NSEC_PER_SEC    1000000000ull
#define MAX_LAG_NS      (50ull * 1000000ull)
#define MAX_SLEEP_NS    (5ull * 1000000ull)  /* look at pause requests */
#define WORD_MIX        0x9e3779b97f4a7c15ull

struct workload {
    struct workload_opts o;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool exit, paused, busy;
    uint64_t gen;               /* bumped by resume: the pace restarts */
    uint64_t writes;
    uint64_t rng;
    uint64_t seq;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: enough to spread writes, and reproducible from a seed */
static uint64_t next_rand(struct workload *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545f4914f6cdd1dull;
}

static void write_page(struct workload *w)
{
    uint64_t npages = w->o.size >> LM_PAGE_SHIFT;
    uint64_t *p = (uint64_t *)(w->o.base +
                               (next_rand(w) % npages << LM_PAGE_SHIFT));
    uint64_t seq = ++w->seq;

    for (unsigned int k = 0; k < LM_PAGE_SIZE / 8; k++)
        p[k] = seq * WORD_MIX ^ k;
}

/* Due time of the next page, from t0 and the bytes written since. */
static uint64_t due_ns(uint64_t t0, uint64_t bytes, uint64_t rate)
{
    return t0 + bytes / rate * NSEC_PER_SEC +
           bytes % rate * NSEC_PER_SEC / rate;
}

static void sleep_until(uint64_t when)
{
    uint64_t now = now_ns();
    struct timespec ts;

    if (when <= now)
        return;
    if (when - now > MAX_SLEEP_NS)
        when = now + MAX_SLEEP_NS;
    ts.tv_sec = (time_t)(when / NSEC_PER_SEC);
    ts.tv_nsec = (long)(when % NSEC_PER_SEC);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Wait while paused; false once told to exit.  Lock held. */
static bool may_write_locked(struct workload *w)
{
    while (!w->exit && (w->paused || !w->o.rate))
        pthread_cond_wait(&w->cond, &w->lock);
    return !w->exit;
}

static void *workload_thread(void *arg)
{
    struct workload *w = arg;
    uint64_t t0 = 0, bytes = 0, gen = 0, due, now;

    pthread_mutex_lock(&w->lock);
    while (may_write_locked(w)) {
        if (gen != w->gen) {
            gen = w->gen;
            t0 = now_ns();
            bytes = 0;
        }
        due = due_ns(t0, bytes, w->o.rate);
        now = now_ns();
        if (now < due) {
            pthread_mutex_unlock(&w->lock);
            sleep_until(due);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (now - due > MAX_LAG_NS) {
            t0 = now;
            bytes = 0;
        }
        w->busy = true;
        pthread_mutex_unlock(&w->lock);
        write_page(w);
        pthread_mutex_lock(&w->lock);
        w->busy = false;
        w->writes++;
        bytes += LM_PAGE_SIZE;
        pthread_cond_broadcast(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int workload_start(const struct workload_opts *o, struct workload **out)
{
    struct workload *w;
    sigset_t all, old;
    int r;

    *out = NULL;
    if (!o->base || o->size < LM_PAGE_SIZE || o->size % LM_PAGE_SIZE)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->o = *o;
    w->rng = o->seed * WORD_MIX + 1;    /* xorshift must not start at 0 */
    if (!w->rng)
        w->rng = 1;
    w->gen = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&w->thread, NULL, workload_thread, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return -r;
    }
    *out = w;
    return 0;
}

void workload_pause(struct workload *w)
{
    pthread_mutex_lock(&w->lock);
    w->paused = true;
    while (w->busy)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

void workload_resume(struct workload *w)
{
    pthread_mutex_lock(&w->lock);
    w->paused = false;
    w->gen++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

uint64_t workload_writes(struct workload *w)
{
    uint64_t n;

    pthread_mutex_lock(&w->lock);
    n = w->writes;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void workload_stop(struct workload *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->exit = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
