/* SPDX-License-Identifier: MIT */
/*
 * migrate/live_report.h - what uvfio-migrate prints after a live
 * migration with guest memory: the summary or one JSON object on stdout
 * (schema in docs/uvfio-migrate.md, "Live migration"), the failure and
 * any verification mismatch on stderr.
 */
#ifndef UVFIO_TOOLS_MIGRATE_LIVE_REPORT_H
#define UVFIO_TOOLS_MIGRATE_LIVE_REPORT_H

#include <stdio.h>

#include "live.h"

enum live_role {
    LIVE_ROLE_BOTH,             /* SOURCE DEST in this process */
    LIVE_ROLE_SOURCE,           /* --to */
    LIVE_ROLE_DEST,             /* --incoming */
};

int live_exit_status(int ret, const struct live_result *r,
                     enum live_role role);
void live_report_text(FILE *f, const struct live_opts *o,
                      const struct live_result *r, enum live_role role);
void live_report_error(FILE *f, const struct live_result *r,
                       enum live_role role);
/* 0, or -ENOMEM when the object could not be built. */
int live_report_json(FILE *f, const struct live_opts *o,
                     const struct live_result *r, enum live_role role,
                     int status);

#endif /* UVFIO_TOOLS_MIGRATE_LIVE_REPORT_H */
