/* SPDX-License-Identifier: MIT */
/*
 * uvfio/migration.h - migration v2 and DMA logging for drivers.
 *
 * (Owned by the migration work, issue 3; this first shape is what the
 * foundation builds against.)
 */
#ifndef UVFIO_MIGRATION_H
#define UVFIO_MIGRATION_H

#include <stdint.h>
#include <sys/types.h>

#include <uvfio/device.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvfio_migration_ops;
struct uvfio_log_ops;

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_MIGRATION_H */
