/* SPDX-License-Identifier: MIT */
/*
 * core/mig_fsm.h - the migration v2 state machine as pure functions: which
 * states a flag set has, the next primitive arc toward a target, and what
 * an arc does to the data stream.  No device, no locks: core/migration.c
 * walks it, tests check it against an independent oracle.
 */
#ifndef UVFIO_CORE_MIG_FSM_H
#define UVFIO_CORE_MIG_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include <uvfio/abi.h>

/* Whether state `s` (any u32 from the wire) exists for a device with these
 * UVFIO_MIGRATION_* flags.  ERROR never does: it cannot be requested. */
bool uvfio_mig_state_supported(uint32_t s, uint64_t flags);

/*
 * The first primitive arc to take from `cur` toward `target`: the next
 * state (!= cur), or -EINVAL when cur or target does not exist for the
 * flags or the transition is blocked (STOP_COPY -> PRE_COPY*).  Requires
 * cur != target.
 */
int uvfio_mig_next_state(uint32_t cur, uint32_t target, uint64_t flags);

/* What a primitive arc does to the data stream (semantics §7.6). */
enum uvfio_mig_stream_effect {
    UVFIO_MIG_STREAM_NONE,          /* no stream involved */
    UVFIO_MIG_STREAM_OPEN_SAVE,     /* a new saving stream */
    UVFIO_MIG_STREAM_OPEN_RESUME,   /* a new resuming stream */
    UVFIO_MIG_STREAM_CONTINUE,      /* the same saving stream goes on */
    UVFIO_MIG_STREAM_END,           /* the open stream ends */
};

enum uvfio_mig_stream_effect uvfio_mig_arc_effect(uint32_t from, uint32_t to);

/* Whether `s` is one of the states with an open saving stream. */
bool uvfio_mig_state_saving(uint32_t s);

/* "RUNNING_P2P" etc., "?" for a number out of range. */
const char *uvfio_mig_state_name(uint32_t s);

#endif /* UVFIO_CORE_MIG_FSM_H */
