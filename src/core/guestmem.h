/* SPDX-License-Identifier: MIT */
/*
 * core/guestmem.h - guest memory mapped into this process (DMA_MAP with an
 * fd: guestmem.c), and surviving its owner taking it away (sigbus_guard.c).
 *
 * A client may hand over an fd it can still shrink; a page past the file's
 * new end raises SIGBUS when touched.  Fds sealed against shrinking cannot
 * do that and are mapped as they are.  The others are "fragile": they are
 * listed where a SIGBUS handler can find them, and a fault inside one
 * replaces the vanished pages with anonymous memory and marks the window
 * gone, so the access completes and the core turns it into -EFAULT.  See
 * docs/robustness.md for the decision and its trade-offs.
 *
 * The process also keeps a budget of windows and bytes mapped this way, so
 * that clients together cannot exhaust the address space or the kernel's
 * vm.max_map_count for everything else the process does.
 */
#ifndef UVFIO_CORE_GUESTMEM_H
#define UVFIO_CORE_GUESTMEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct uvfio_guard_slot;

struct uvfio_guestmem {
    void *host;
    uint64_t size;
    struct uvfio_guard_slot *guard;     /* NULL: sealed, cannot go away */
};

/*
 * mmap `size` bytes of `fd` at `offset` with the protection of the DMA map
 * flags (UVFIO_DMA_MAP_FLAG_READ/WRITE).  -EINVAL when the file cannot back
 * the window, -EPERM for an unsealed fd when the guard is off, -ENOSPC
 * past the process budget, or mmap's errno.
 */
int uvfio_guestmem_map(struct uvfio_guestmem *gm, int fd, uint64_t offset,
                       uint64_t size, uint32_t dma_flags);
void uvfio_guestmem_unmap(struct uvfio_guestmem *gm);

/* Whether the client took the memory away (a fault hit the window). */
bool uvfio_guestmem_gone(const struct uvfio_guestmem *gm);

/* The budget is shared out between the devices of the process. */
void uvfio_guestmem_device_added(void);
void uvfio_guestmem_device_removed(void);
/* Room for one more window of `size` bytes on a device that holds
 * dev_maps windows of dev_bytes: 0 (charged), or -ENOSPC. */
int uvfio_guestmem_charge(uint64_t dev_maps, uint64_t dev_bytes,
                          uint64_t size);
void uvfio_guestmem_uncharge(uint64_t size);

/* sigbus_guard.c: a fragile window [start, start+len) faults safely from
 * now on; gone once a fault hit it.  -EPERM/-ENOMEM/-errno of sigaction. */
int uvfio_guard_add(void *start, uint64_t len, int prot,
                    struct uvfio_guard_slot **out);
void uvfio_guard_remove(struct uvfio_guard_slot *s);
bool uvfio_guard_gone(const struct uvfio_guard_slot *s);

#endif /* UVFIO_CORE_GUESTMEM_H */
