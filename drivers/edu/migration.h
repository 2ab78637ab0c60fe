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

/* Fields are migration.c's own. */
struct edu_mig {
    /* saving */
    struct uvfio_mig_image out;         /* the record being read */
    struct uvfio_mig_image out_next;    /* FINAL, behind a half-read one */
    bool out_initial;           /* `out` is the CONFIG record */
    bool precopy;               /* STATE records are being produced */
    uint8_t *sent;              /* the STATE the client has, or would have */
    size_t sent_len;

    /* resuming */
    struct uvfio_mig_image in;          /* the record being received */
    bool in_active;
    unsigned int in_records;
    bool in_config_seen;
    uint8_t *final;             /* the FINAL payload, checked */
    size_t final_len;
};

void edu_mig_clear(struct edu_mig *m);

#endif /* UVFIO_EDU_MIGRATION_H */
