/* SPDX-License-Identifier: MIT */
/*
 * migrate/wptrack.h - which pages of guest memory the guest wrote, found
 * by the kernel without the writer's help: userfaultfd write-protection
 * of our mapping of the guest memory.
 *
 * Two ways to use it, chosen at start:
 *
 *   ASYNC  (Linux >= 6.7) UFFD_FEATURE_WP_ASYNC: the kernel resolves a
 *          write fault itself by lifting the protection of that page, and
 *          PAGEMAP_SCAN with PM_SCAN_WP_MATCHING reports the pages whose
 *          protection is gone and protects them again, atomically per
 *          page.  No thread, no message per write.
 *   SYNC   (Linux >= 5.19 for shmem) the classic form: every first write
 *          to a protected page stops the writer and sends us a message; a
 *          thread of ours records the page and lifts the protection.
 *
 * Soft-dirty (/proc/self/pagemap bit 55 + clear_refs 4) would be a third
 * way, but only on kernels built with CONFIG_MEM_SOFT_DIRTY, and clear_refs
 * works on the whole process, not one range: not implemented.
 *
 * Only writes through this process's mapping are seen.  Writes through
 * another mapping of the same memfd (the device server's DMA) are not:
 * those are the device's to report (DMA logging).
 */
#ifndef UVFIO_TOOLS_MIGRATE_WPTRACK_H
#define UVFIO_TOOLS_MIGRATE_WPTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "pagebits.h"

enum wptrack_mode {
    WPTRACK_AUTO,               /* ASYNC if the kernel has it, else SYNC */
    WPTRACK_ASYNC,
    WPTRACK_SYNC,
};

struct wptrack;

/*
 * Start tracking writes to [base, base + size) (page aligned, a shared
 * mapping of ours).  Every page is write-protected before this returns, so
 * every write after it is found by the next collect.  -EPERM without the
 * privilege for userfaultfd, -EOPNOTSUPP when the kernel lacks the mode.
 */
int wptrack_start(void *base, size_t size, enum wptrack_mode mode,
                  struct wptrack **out);
/*
 * OR into `bits` (bit 0 = base) every page written since the previous
 * collect (or the start), each protected again before it is reported: a
 * write that lands while the caller copies a reported page is found by
 * the next collect.  *found (may be NULL) is the number of pages.
 */
int wptrack_collect(struct wptrack *t, struct pagebits *bits,
                    uint64_t *found);
/* Stop tracking; writers blocked in a fault (SYNC) go on. */
void wptrack_stop(struct wptrack *t);

enum wptrack_mode wptrack_mode(const struct wptrack *t);
const char *wptrack_mode_name(enum wptrack_mode m);

#endif /* UVFIO_TOOLS_MIGRATE_WPTRACK_H */
