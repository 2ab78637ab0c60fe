// SPDX-License-Identifier: MIT
/*
 * core/guestmem.c - guest memory mapped into this process: sealed or not,
 * and the process budget for it.
 *
 * Sealed or not.  An fd sealed against shrinking (F_SEAL_SHRINK: QEMU's
 * memory-backend-memfd by default, uvfio_guest_mem_create) keeps every
 * page of the window for as long as it is mapped; it is mapped and copied
 * with no check at all.  Anything else - an unsealed memfd, a plain file
 * (QEMU's memory-backend-file), hugetlbfs, whose pages may fail to come
 * even inside the file - is fragile: it is mapped only while the SIGBUS
 * guard (sigbus_guard.c) is on, which is the default; with
 * uvfio_set_guest_mem_policy(REQUIRE_SEAL) or UVFIO_SIGBUS_GUARD=0 it is
 * refused with EPERM.
 *
 * The budget.  Each window is a mapping of the process; the kernel allows
 * vm.max_map_count of them, for malloc, thread stacks and the driver's own
 * too, and the address space is finite.  Windows may use half the one and
 * a quarter of the other, shared out evenly between the devices.
 */
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <uvfio/device.h>

#include "guestmem.h"
#include "util/log.h"

#ifndef F_GET_SEALS
#define F_LINUX_SPECIFIC_BASE 1024
#define F_GET_SEALS (F_LINUX_SPECIFIC_BASE + 10)
#endif
#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif
#define HUGETLBFS_SUPER_MAGIC 0x958458f6

/* ---- the policy -------------------------------------------------------- */

static atomic_int guest_policy = -1;    /* -1: not chosen yet */
static atomic_uint unsealed_told;

UVFIO_API int uvfio_set_guest_mem_policy(enum uvfio_guest_mem_policy p)
{
    if (p != UVFIO_GUEST_MEM_GUARD && p != UVFIO_GUEST_MEM_REQUIRE_SEAL)
        return -EINVAL;
    atomic_store(&guest_policy, (int)p);
    return 0;
}

static enum uvfio_guest_mem_policy policy(void)
{
    const char *env;
    int p = atomic_load(&guest_policy), unset = -1;

    if (p >= 0)
        return (enum uvfio_guest_mem_policy)p;
    env = getenv("UVFIO_SIGBUS_GUARD");
    p = env && !strcmp(env, "0") ? UVFIO_GUEST_MEM_REQUIRE_SEAL
                                 : UVFIO_GUEST_MEM_GUARD;
    /* An explicit choice made meanwhile wins over the environment. */
    atomic_compare_exchange_strong(&guest_policy, &unset, p);
    return (enum uvfio_guest_mem_policy)atomic_load(&guest_policy);
}

/* A hostile client can provoke a refusal a million times: say it the
 * first few, then only at debug level. */
#define GM_WARN_TIMES 8

static bool warn_again(atomic_uint *told)
{
    return atomic_fetch_add(told, 1) < GM_WARN_TIMES;
}

/* ---- the process budget ------------------------------------------------ */

static pthread_once_t budget_once = PTHREAD_ONCE_INIT;
static uint64_t budget_maps, budget_bytes;
static atomic_uint_fast64_t used_maps, used_bytes;
static atomic_uint nr_devices;
static atomic_uint budget_told;

static uint64_t read_max_map_count(void)
{
    unsigned long long v = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v ? v : 65530;   /* the kernel's default */
}

/*
 * The address space the process may use: RLIMIT_AS when one is set,
 * otherwise the architecture's user address space - 2^47 on x86_64 (4-level
 * paging; 5-level needs an explicit opt-in per mapping), and on other
 * 64-bit architectures the power of two above the stack, never taken below
 * 2^39, the smallest any of them configures.  (Guessing from the stack
 * alone was wrong under valgrind, which places stacks low.)
 */
static uint64_t address_space_bytes(void)
{
    struct rlimit rl;
    uint64_t arch;

#if defined(__x86_64__)
    arch = 1ull << 47;
#else
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    int bits = 64 - __builtin_clzll((unsigned long long)sp | 1);

    arch = bits >= 63 ? (1ull << 62) : (1ull << (bits < 39 ? 39 : bits));
#endif
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (uint64_t)rl.rlim_cur < arch)
        return (uint64_t)rl.rlim_cur;
    return arch;
}

/* Half the mappings the kernel allows us and a quarter of the address
 * space: the rest stays for malloc, thread stacks, the driver's own. */
static void budget_init(void)
{
    budget_maps = read_max_map_count() / 2;
    budget_bytes = address_space_bytes() / 4;
}

void uvfio_guestmem_device_added(void)
{
    atomic_fetch_add(&nr_devices, 1);
}

void uvfio_guestmem_device_removed(void)
{
    atomic_fetch_sub(&nr_devices, 1);
}

/*
 * A device's client may hold its share of the budget - the budget divided
 * by the devices the process has - so that no client can starve another
 * device of windows, whatever order they come in.
 */
int uvfio_guestmem_charge(uint64_t dev_maps, uint64_t dev_bytes,
                          uint64_t size)
{
    unsigned int ndev;
    uint64_t share_maps, share_bytes;

    pthread_once(&budget_once, budget_init);
    ndev = atomic_load(&nr_devices);
    if (!ndev)
        ndev = 1;
    share_maps = budget_maps / ndev;
    share_bytes = budget_bytes / ndev;
    if (dev_maps >= share_maps || dev_bytes > share_bytes ||
        size > share_bytes - dev_bytes) {
        uvfio_log(warn_again(&budget_told) ? UVFIO_LOG_WARN : UVFIO_LOG_DEBUG,
                  "DMA_MAP refused: the device's share of the process "
                  "budget for guest memory mappings is used up (%llu "
                  "windows, %llu bytes; %u devices share %llu windows)",
                  (unsigned long long)dev_maps, (unsigned long long)dev_bytes,
                  ndev, (unsigned long long)budget_maps);
        return -ENOSPC;
    }
    /* The shares shrink as devices are added; the total never grows. */
    if (atomic_fetch_add(&used_maps, 1) >= budget_maps) {
        atomic_fetch_sub(&used_maps, 1);
        return -ENOSPC;
    }
    if (atomic_fetch_add(&used_bytes, size) + size > budget_bytes) {
        atomic_fetch_sub(&used_bytes, size);
        atomic_fetch_sub(&used_maps, 1);
        return -ENOSPC;
    }
    return 0;
}

void uvfio_guestmem_uncharge(uint64_t size)
{
    atomic_fetch_sub(&used_maps, 1);
    atomic_fetch_sub(&used_bytes, size);
}

/* ---- mapping ----------------------------------------------------------- */

/* Only a memfd sealed against shrinking is sure to keep its pages; on
 * hugetlbfs a page may fail to come even inside the file. */
static bool cannot_shrink(int fd, const struct stat *st)
{
    struct statfs sfs;
    int seals;

    if (!S_ISREG(st->st_mode))
        return false;
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
        return false;
    return fstatfs(fd, &sfs) == 0 &&
           (unsigned long)sfs.f_type != HUGETLBFS_SUPER_MAGIC;
}

static int dma_prot(uint32_t dma_flags)
{
    int prot = PROT_NONE;

    if (dma_flags & UVFIO_DMA_MAP_FLAG_READ)
        prot |= PROT_READ;
    if (dma_flags & UVFIO_DMA_MAP_FLAG_WRITE)
        prot |= PROT_WRITE;
    return prot;
}

int uvfio_guestmem_map(struct uvfio_guestmem *gm, int fd, uint64_t offset,
                       uint64_t size, uint32_t dma_flags)
{
    int prot = dma_prot(dma_flags), r;
    bool fragile;
    struct stat st;
    void *p;

    memset(gm, 0, sizeof(*gm));
    if (size > SIZE_MAX || offset > INT64_MAX)
        return -EINVAL;
    /* A window the file cannot back faults at once: refuse it now. */
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) && (offset > (uint64_t)st.st_size ||
                                size > (uint64_t)st.st_size - offset))
        return -EINVAL;
    fragile = !cannot_shrink(fd, &st);
    if (fragile && policy() == UVFIO_GUEST_MEM_REQUIRE_SEAL) {
        uvfio_log(warn_again(&unsealed_told) ? UVFIO_LOG_WARN
                                             : UVFIO_LOG_DEBUG,
                  "DMA_MAP refused: the fd is not sealed against shrinking "
                  "(F_SEAL_SHRINK) and the SIGBUS guard is off");
        return -EPERM;
    }
    p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, (off_t)offset);
    if (p == MAP_FAILED)
        return -errno;
    gm->host = p;
    gm->size = size;
    if (fragile) {
        r = uvfio_guard_add(p, size, prot, &gm->guard);
        if (r < 0) {
            munmap(p, (size_t)size);
            memset(gm, 0, sizeof(*gm));
            return r;
        }
    }
    return 0;
}

void uvfio_guestmem_unmap(struct uvfio_guestmem *gm)
{
    if (!gm->host)
        return;
    /* Out of the list first: the handler must never repair an address
     * that is about to belong to someone else's mapping. */
    if (gm->guard)
        uvfio_guard_remove(gm->guard);
    munmap(gm->host, (size_t)gm->size);
    memset(gm, 0, sizeof(*gm));
}

bool uvfio_guestmem_gone(const struct uvfio_guestmem *gm)
{
    return gm->guard && uvfio_guard_gone(gm->guard);
}
