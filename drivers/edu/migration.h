/* SPDX-License-Identifier: MIT */
/*
 * edu/migration.h - live migration of uvfio-edu: STOP_COPY, P2P and
 * PRE_COPY, with the records of state.h; migration.c explains the stream.
 */
#ifndef UVFIO_EDU_MIGRATION_H
#define UVFIO_EDU_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/migration.h>

#define EDU_MIG_FLAGS (UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P | \
                       UVFIO_MIGRATION_PRE_COPY)

extern const struct uvfio_migration_ops edu_mig_ops;

/* The record stream is the core's helper; state.h says what it carries. */
struct edu_mig {
    struct uvfio_mig_records rec;
};

void edu_mig_init(struct edu_mig *m);
void edu_mig_clear(struct edu_mig *m);

#endif /* UVFIO_EDU_MIGRATION_H */
