// SPDX-License-Identifier: MIT
/*
 * core/devset.c - device sets: devices that share a reset domain share one
 * lock around open, close and reset, so that a decision about the whole
 * set ("is any sibling open?", "reset them all") is made race-free, as in
 * the kernel's vfio_device_set.
 *
 * Sets are found by the driver's opaque devset_id in a process-wide
 * registry; a NULL id makes a set of one.  A set lives as long as it has
 * members.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "device_priv.h"
#include "internal.h"

struct uvfio_devset {
    struct uvfio_devset *next;          /* registry */
    const void *id;                     /* NULL: a set of one */
    /*
     * Recursive because the driver API lets open/close/reset ops, which
     * run with this lock held, call uvfio_device_set_for_each() and
     * uvfio_device_open_count() on their own set.
     */
    pthread_mutex_t lock;
    struct uvfio_device *members;       /* creation order */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uvfio_devset *registry;

static struct uvfio_devset *devset_find(const void *id)
{
    struct uvfio_devset *set;

    for (set = registry; set; set = set->next)
        if (set->id == id)
            return set;
    return NULL;
}

static struct uvfio_devset *devset_new(const void *id)
{
    pthread_mutexattr_t attr;
    struct uvfio_devset *set;
    int r;

    set = calloc(1, sizeof(*set));
    if (!set)
        return NULL;
    set->id = id;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    r = pthread_mutex_init(&set->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (r) {
        free(set);
        return NULL;
    }
    return set;
}

static void devset_append(struct uvfio_devset *set, struct uvfio_device *dev)
{
    struct uvfio_device **pp = &set->members;

    while (*pp)
        pp = &(*pp)->set_next;
    dev->set_next = NULL;
    *pp = dev;
}

static void devset_remove(struct uvfio_devset *set, struct uvfio_device *dev)
{
    struct uvfio_device **pp;

    for (pp = &set->members; *pp; pp = &(*pp)->set_next) {
        if (*pp == dev) {
            *pp = dev->set_next;
            dev->set_next = NULL;
            return;
        }
    }
}

static void registry_unlink(struct uvfio_devset *set)
{
    struct uvfio_devset **pp;

    for (pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == set) {
            *pp = set->next;
            return;
        }
    }
}

int uvfio_devset_join(struct uvfio_device *dev)
{
    const void *id = dev->cfg.devset_id;
    struct uvfio_devset *set = NULL;

    pthread_mutex_lock(&registry_lock);
    if (id)
        set = devset_find(id);
    if (!set) {
        set = devset_new(id);
        if (!set) {
            pthread_mutex_unlock(&registry_lock);
            return -ENOMEM;
        }
        set->next = registry;
        registry = set;
    }
    pthread_mutex_lock(&set->lock);
    devset_append(set, dev);
    dev->set = set;
    pthread_mutex_unlock(&set->lock);
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

void uvfio_devset_leave(struct uvfio_device *dev)
{
    struct uvfio_devset *set = dev->set;
    bool empty;

    if (!set)
        return;
    pthread_mutex_lock(&registry_lock);
    pthread_mutex_lock(&set->lock);
    devset_remove(set, dev);
    empty = !set->members;
    pthread_mutex_unlock(&set->lock);
    if (empty) {
        registry_unlink(set);
        pthread_mutex_destroy(&set->lock);
        free(set);
    }
    pthread_mutex_unlock(&registry_lock);
    dev->set = NULL;
}

void uvfio_devset_lock(const struct uvfio_device *dev)
{
    pthread_mutex_lock(&dev->set->lock);
}

void uvfio_devset_unlock(const struct uvfio_device *dev)
{
    pthread_mutex_unlock(&dev->set->lock);
}

/*
 * Stops at the first callback that returns non-zero and returns that
 * value.  The callback must not create or destroy devices of this set.
 */
int uvfio_device_set_for_each(struct uvfio_device *dev,
                              int (*fn)(struct uvfio_device *member,
                                        void *opaque),
                              void *opaque)
{
    struct uvfio_device *m;
    int r = 0;

    if (!dev || !fn)
        return -EINVAL;
    uvfio_devset_lock(dev);
    for (m = dev->set->members; m && !r; m = m->set_next)
        r = fn(m, opaque);
    uvfio_devset_unlock(dev);
    return r;
}

static bool devset_others_open(const struct uvfio_device *dev)
{
    const struct uvfio_device *m;

    for (m = dev->set->members; m; m = m->set_next)
        if (m != dev && m->open_count)
            return true;
    return false;
}

/*
 * A hot reset hits every function behind the slot or bus, so it is only
 * allowed when nobody else is using one of them.  Every member is reset,
 * its driver's reset op included when it has one, even after a member
 * failed: the bus reset has happened to all of them.  The first error is
 * returned.
 */
int uvfio_device_set_reset(struct uvfio_device *dev)
{
    struct uvfio_device *m;
    int r = 0, err;

    if (!dev)
        return -EINVAL;
    uvfio_devset_lock(dev);
    if (devset_others_open(dev)) {
        r = -EBUSY;
        goto out;
    }
    for (m = dev->set->members; m; m = m->set_next) {
        err = uvfio_device_reset_locked(m);
        if (err < 0 && !r)
            r = err;
    }
out:
    uvfio_devset_unlock(dev);
    return r;
}
