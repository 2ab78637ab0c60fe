// SPDX-License-Identifier: MIT
/*
 * core/sigbus_guard.c - the SIGBUS guard: surviving a client that takes
 * away the memory behind a DMA window.
 *
 * A process-wide SIGBUS handler, installed when the first fragile window
 * (guestmem.c) is mapped and never removed.  A fault inside a fragile
 * window gets anonymous memory mapped over the window from the faulting
 * page to its end, the window is marked gone, and the faulting instruction
 * runs again and completes; the DMA copy that hit it then reports -EFAULT
 * and so does every later access.  A fault anywhere else goes to whatever
 * handler was there before, or, if that was the default action, kills the
 * process as it would have without us.
 *
 * Why repair rather than siglongjmp out of the copy: the driver API hands
 * out pins, raw pointers the driver dereferences wherever it likes, and
 * only a handler that can make the faulting address valid protects those
 * too.  It also costs an access nothing but one flag load after the copy.
 * (Under valgrind, resuming after a fault needs
 * --vex-iropt-register-updates=allregs-at-mem-access.)
 *
 * The handler may run on any thread while another maps or unmaps, so the
 * list of fragile windows is built to be read without a lock: chunks of
 * slots that are never freed, each slot a small seqlock.  Writers take
 * guard_lock.  A reader skips a slot whose sequence is odd: it is being
 * filled (its window is not in any DMA table yet) or emptied (its window
 * left the table and the last pin, so nobody can be touching it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guestmem.h"
#include "util/log.h"

_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the SIGBUS handler reads these without a lock");

/* ---- the list of fragile windows --------------------------------------- */

#define GUARD_CHUNK_SLOTS 64

struct uvfio_guard_slot {
    atomic_uint seq;                /* odd while being written */
    atomic_uintptr_t start;
    atomic_uintptr_t len;           /* 0: free */
    atomic_int prot;
    atomic_bool gone;
    struct uvfio_guard_slot *free_next;     /* guard_lock */
};

struct guard_chunk {
    struct uvfio_guard_slot slot[GUARD_CHUNK_SLOTS];
    struct guard_chunk *_Atomic next;
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct guard_chunk guard_first;
static struct guard_chunk *guard_last = &guard_first;   /* guard_lock */
static unsigned int guard_last_used;                    /* guard_lock */
static struct uvfio_guard_slot *guard_free;             /* guard_lock */

/* Where a fault that is not ours goes: one of two copies, so that a
 * reinstall never rewrites the one a running handler may be reading. */
static struct sigaction guard_old_store[2];
static struct sigaction *_Atomic guard_old;
static bool guard_installed;                            /* guard_lock */
static uintptr_t guard_page = 4096;

static void slot_write(struct uvfio_guard_slot *s, uintptr_t start,
                       uintptr_t len, int prot)
{
    unsigned int seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->start, start, memory_order_relaxed);
    atomic_store_explicit(&s->len, len, memory_order_relaxed);
    atomic_store_explicit(&s->prot, prot, memory_order_relaxed);
    atomic_store_explicit(&s->gone, false, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/* A consistent view of a slot, or false if it is being written. */
static bool slot_read(struct uvfio_guard_slot *s, uintptr_t *start,
                      uintptr_t *len, int *prot)
{
    unsigned int seq = atomic_load_explicit(&s->seq, memory_order_acquire);

    if (seq & 1)
        return false;
    *start = atomic_load_explicit(&s->start, memory_order_relaxed);
    *len = atomic_load_explicit(&s->len, memory_order_relaxed);
    *prot = atomic_load_explicit(&s->prot, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    return atomic_load_explicit(&s->seq, memory_order_relaxed) == seq;
}

/* guard_lock held. */
static struct uvfio_guard_slot *slot_get(void)
{
    struct uvfio_guard_slot *s = guard_free;
    struct guard_chunk *c;

    if (s) {
        guard_free = s->free_next;
        return s;
    }
    if (guard_last_used == GUARD_CHUNK_SLOTS) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return NULL;
        /* Published last: a reader sees the chunk whole or not at all. */
        atomic_store_explicit(&guard_last->next, c, memory_order_release);
        guard_last = c;
        guard_last_used = 0;
    }
    return &guard_last->slot[guard_last_used++];
}

/* ---- the handler ------------------------------------------------------- */

/* Make the rest of the window from the faulting page on valid memory. */
static bool guard_repair(uintptr_t addr)
{
    struct guard_chunk *c = &guard_first;
    uintptr_t start, len, page, end;
    unsigned int i;
    int prot;

    for (; c; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
        for (i = 0; i < GUARD_CHUNK_SLOTS; i++) {
            struct uvfio_guard_slot *s = &c->slot[i];

            if (!slot_read(s, &start, &len, &prot) || !len ||
                addr - start >= len)
                continue;
            page = addr & ~(guard_page - 1);
            end = (start + len + guard_page - 1) & ~(guard_page - 1);
            if (mmap((void *)page, end - page, prot,
                     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0) == MAP_FAILED)
                return false;
            atomic_store_explicit(&s->gone, true, memory_order_relaxed);
            return true;
        }
    }
    return false;
}

static void guard_chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *old = atomic_load(&guard_old);
    struct sigaction dfl;

    if (old && (old->sa_flags & SA_SIGINFO)) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old && old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* The default action (a fault cannot be ignored): put it back.  A
     * fault happens again when we return; a sent signal is sent again. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void guard_on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;

    if (si->si_code == BUS_ADRERR && guard_repair((uintptr_t)si->si_addr)) {
        errno = saved;
        return;
    }
    errno = saved;
    guard_chain(sig, si, uc);
}

/*
 * guard_lock held.  Checked at every fragile map, since the program may
 * have changed SIGBUS since the last one (code that saves and restores
 * handlers around its work, as cmocka does around each test, takes the
 * guard out): the guard goes back in front of whatever is there now,
 * which still gets every fault that is not in a fragile window.  A program
 * that wants SIGBUS to itself chooses UVFIO_GUEST_MEM_REQUIRE_SEAL.  (A
 * handler installed after ours that chains back to ours would pass a
 * fault that is nobody's round in a loop until the stack overflows: the
 * process ends then, as it would have at the fault.)
 *
 * SA_NODEFER: the handler may end in the default action re-raising, which
 * must not find SIGBUS blocked.
 */
static int guard_install(void)
{
    struct sigaction sa, cur, *slot;
    long pg;

    if (sigaction(SIGBUS, NULL, &cur) < 0)
        return -errno;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == guard_on_sigbus)
        return 0;
    if (guard_installed)
        uvfio_debug("guest memory: SIGBUS has another handler now; the "
                    "guard goes back in front of it");
    pg = sysconf(_SC_PAGESIZE);
    if (pg > 0)
        guard_page = (uintptr_t)pg;
    slot = atomic_load(&guard_old) == &guard_old_store[0] ?
           &guard_old_store[1] : &guard_old_store[0];
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guard_on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, slot) < 0)
        return -errno;
    atomic_store(&guard_old, slot);
    guard_installed = true;
    return 0;
}

/* ---- adding and removing windows -------------------------------------- */

int uvfio_guard_add(void *start, uint64_t len, int prot,
                    struct uvfio_guard_slot **out)
{
    struct uvfio_guard_slot *s;
    int r;

    pthread_mutex_lock(&guard_lock);
    r = guard_install();
    s = r < 0 ? NULL : slot_get();
    if (s)
        slot_write(s, (uintptr_t)start, (uintptr_t)len, prot);
    else if (r == 0)
        r = -ENOMEM;
    pthread_mutex_unlock(&guard_lock);
    *out = s;
    return r;
}

void uvfio_guard_remove(struct uvfio_guard_slot *s)
{
    pthread_mutex_lock(&guard_lock);
    slot_write(s, 0, 0, PROT_NONE);
    s->free_next = guard_free;
    guard_free = s;
    pthread_mutex_unlock(&guard_lock);
}

bool uvfio_guard_gone(const struct uvfio_guard_slot *s)
{
    return atomic_load_explicit(&s->gone, memory_order_relaxed);
}
