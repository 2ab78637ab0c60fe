/* SPDX-License-Identifier: MIT */
/*
 * migrate/progress.h - the progress bar uvfio-migrate draws on a terminal:
 * one line, redrawn in place at most ten times a second and on every
 * change of phase.
 */
#ifndef UVFIO_TOOLS_MIGRATE_PROGRESS_H
#define UVFIO_TOOLS_MIGRATE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "migrate.h"

struct progress_bar {
    FILE *f;
    uint64_t last_ns;
    enum mig_phase last_phase;
    unsigned int last_iteration;
    bool drawn;
};

void progress_init(struct progress_bar *b, FILE *f);
/* A mig_opts.progress callback; opaque is the bar. */
void progress_update(void *opaque, const struct mig_progress *p);
/* Leave the line so what follows starts on a fresh one. */
void progress_finish(struct progress_bar *b);

#endif /* UVFIO_TOOLS_MIGRATE_PROGRESS_H */
