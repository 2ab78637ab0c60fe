/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/oracle.h - the routes of the migration state machine,
 * derived without the core's tables: a search over the primitive arcs of
 * semantics §7.3 under the route rules of §7.4.
 */
#ifndef UVFIO_TEST_MIG_ORACLE_H
#define UVFIO_TEST_MIG_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/abi.h>

#define ORACLE_MAX_ROUTE 8

/* The four flag sets a driver may declare. */
extern const uint64_t oracle_flag_sets[4];
extern const char *const oracle_flag_set_names[4];

/* Whether the state exists for the flags (ERROR never can be asked for). */
bool oracle_state_exists(uint32_t s, uint64_t flags);

/* Whether from->to is a primitive arc a driver with these flags has. */
bool oracle_arc_exists(uint32_t from, uint32_t to, uint64_t flags);

/*
 * The route from -> to: the states after `from`, in order, into route[];
 * returns their number (0 when from == to), -EINVAL when the request must
 * be refused, or -ENOTUNIQ when the rules allow two different shortest
 * routes (the rules would then be incomplete - a test failure).
 */
int oracle_route(uint32_t from, uint32_t to, uint64_t flags,
                 uint32_t route[ORACLE_MAX_ROUTE]);

const char *oracle_state_name(uint32_t s);

#endif /* UVFIO_TEST_MIG_ORACLE_H */
