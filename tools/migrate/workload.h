/* SPDX-License-Identifier: MIT */
/*
 * migrate/workload.h - the synthetic guest: a thread that keeps writing
 * pages of guest memory at a set rate, as a vCPU would, knowing nothing
 * of the migration (its writes are found by wptrack, never told).
 *
 * Each write fills one whole 4 KiB page, chosen at random in the window,
 * with words derived from a running sequence number: a page copied
 * stale, torn or to the wrong place changes the memory's hash.
 */
#ifndef UVFIO_TOOLS_MIGRATE_WORKLOAD_H
#define UVFIO_TOOLS_MIGRATE_WORKLOAD_H

#include <stdint.h>

struct workload_opts {
    uint8_t *base;              /* the window: [base, base + size) */
    uint64_t size;              /* a multiple of 4 KiB */
    uint64_t rate;              /* bytes per second; 0: never writes */
    uint64_t seed;
};

struct workload;

int workload_start(const struct workload_opts *o, struct workload **out);
/* The vCPU pause: on return no write is in progress and none will start
 * until workload_resume(). */
void workload_pause(struct workload *w);
void workload_resume(struct workload *w);
/* Pages written so far. */
uint64_t workload_writes(struct workload *w);
void workload_stop(struct workload *w);

#endif /* UVFIO_TOOLS_MIGRATE_WORKLOAD_H */
