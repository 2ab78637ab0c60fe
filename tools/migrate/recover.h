/* SPDX-License-Identifier: MIT */
/*
 * migrate/recover.h - uvfio-migrate's one-device modes, for the aftermath
 * of a migration that did not finish (docs/migration-faults.md):
 *
 *   --state SOCKET     print the device's migration state
 *   --recover SOCKET   put it back to RUNNING along the kernel's route,
 *                      keeping its state; reset it only if that fails
 *   --discard SOCKET   reset it (a half-loaded destination)
 */
#ifndef UVFIO_TOOLS_MIGRATE_RECOVER_H
#define UVFIO_TOOLS_MIGRATE_RECOVER_H

/*
 * When argv asks for one of the modes above, run it and return the exit
 * status (>= 0); otherwise return -1 and leave argv to the migration.
 */
int recover_main(int argc, char **argv);

#endif /* UVFIO_TOOLS_MIGRATE_RECOVER_H */
