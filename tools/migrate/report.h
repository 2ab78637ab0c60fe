/* SPDX-License-Identifier: MIT */
/*
 * migrate/report.h - what uvfio-migrate prints once it is over: a summary
 * or one JSON object on stdout, the failure on stderr.
 */
#ifndef UVFIO_TOOLS_MIGRATE_REPORT_H
#define UVFIO_TOOLS_MIGRATE_REPORT_H

#include <stdio.h>

#include "migrate.h"

/* Exit statuses (docs/uvfio-migrate.md). */
#define EXIT_MIGRATED           0
#define EXIT_FAILED_RECOVERED   1   /* the source runs, state intact */
#define EXIT_USAGE              2
#define EXIT_FAILED_LOST        3   /* the source was reset or is lost */
#define EXIT_SOURCE_NOT_STOPPED 4   /* migrated, the source did not stop */

int report_exit_status(int ret, const struct mig_result *r);

void report_text(FILE *f, const struct mig_opts *o,
                 const struct mig_result *r);
/* Returns 0, or -ENOMEM when the object could not be built. */
int report_json(FILE *f, const struct mig_opts *o, const struct mig_result *r,
                int status);
void report_error(FILE *f, const struct mig_result *r);

/* "1.5 KiB", "27.0 MiB", "352 B". */
const char *report_bytes(char *buf, size_t len, uint64_t n);

#endif /* UVFIO_TOOLS_MIGRATE_REPORT_H */
