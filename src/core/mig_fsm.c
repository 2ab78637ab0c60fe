/* SPDX-License-Identifier: MIT */
/*
 * core/mig_fsm.c - next-hop stepping of the migration v2 state machine.
 *
 * The route between any two states is fixed by two constant tables
 * (algorithms §1.1): the first arc toward each target on a device with
 * every optional feature, and the flags each state needs.  Skipping the
 * states a device lacks yields the shortest route on its reduced graph,
 * which is exactly the arc sequence a kernel variant driver sees.
 */
#include <errno.h>
#include <stddef.h>

#include "mig_fsm.h"

#define ERR     UVFIO_MIG_STATE_ERROR
#define STOP    UVFIO_MIG_STATE_STOP
#define RUN     UVFIO_MIG_STATE_RUNNING
#define SCOPY   UVFIO_MIG_STATE_STOP_COPY
#define RESUME  UVFIO_MIG_STATE_RESUMING
#define RP2P    UVFIO_MIG_STATE_RUNNING_P2P
#define PRE     UVFIO_MIG_STATE_PRE_COPY
#define PREP2P  UVFIO_MIG_STATE_PRE_COPY_P2P
#define NSTATES UVFIO_MIG_STATE_COUNT

/* next_hop[cur][target]; ERROR marks a blocked transition. */
static const uint8_t next_hop[NSTATES][NSTATES] = {
    [STOP] = {
        [STOP] = STOP, [RUN] = RP2P, [SCOPY] = SCOPY, [RESUME] = RESUME,
        [RP2P] = RP2P, [PRE] = RP2P, [PREP2P] = RP2P, [ERR] = ERR,
    },
    [RUN] = {
        [STOP] = RP2P, [RUN] = RUN, [SCOPY] = RP2P, [RESUME] = RP2P,
        [RP2P] = RP2P, [PRE] = PRE, [PREP2P] = RP2P, [ERR] = ERR,
    },
    [SCOPY] = {
        [STOP] = STOP, [RUN] = STOP, [SCOPY] = SCOPY, [RESUME] = STOP,
        [RP2P] = STOP, [PRE] = ERR, [PREP2P] = ERR, [ERR] = ERR,
    },
    [RESUME] = {
        [STOP] = STOP, [RUN] = STOP, [SCOPY] = STOP, [RESUME] = RESUME,
        [RP2P] = STOP, [PRE] = STOP, [PREP2P] = STOP, [ERR] = ERR,
    },
    [RP2P] = {
        [STOP] = STOP, [RUN] = RUN, [SCOPY] = STOP, [RESUME] = STOP,
        [RP2P] = RP2P, [PRE] = RUN, [PREP2P] = PREP2P, [ERR] = ERR,
    },
    [PRE] = {
        [STOP] = RUN, [RUN] = RUN, [SCOPY] = PREP2P, [RESUME] = RUN,
        [RP2P] = RUN, [PRE] = PRE, [PREP2P] = PREP2P, [ERR] = ERR,
    },
    [PREP2P] = {
        [STOP] = RP2P, [RUN] = RP2P, [SCOPY] = SCOPY, [RESUME] = RP2P,
        [RP2P] = RP2P, [PRE] = PRE, [PREP2P] = PREP2P, [ERR] = ERR,
    },
    /* [ERR] is all ERROR (zero). */
};

#define F_SC    UVFIO_MIGRATION_STOP_COPY
#define F_P2P   UVFIO_MIGRATION_P2P
#define F_PRE   UVFIO_MIGRATION_PRE_COPY

/* The flags a state needs to exist; ERROR needs every bit, so never. */
static const uint64_t state_needs[NSTATES] = {
    [ERR] = ~0ull,
    [STOP] = F_SC,
    [RUN] = F_SC,
    [SCOPY] = F_SC,
    [RESUME] = F_SC,
    [RP2P] = F_SC | F_P2P,
    [PRE] = F_SC | F_PRE,
    [PREP2P] = F_SC | F_P2P | F_PRE,
};

bool uvfio_mig_state_supported(uint32_t s, uint64_t flags)
{
    if (s >= NSTATES)
        return false;
    return (state_needs[s] & flags) == state_needs[s];
}

int uvfio_mig_next_state(uint32_t cur, uint32_t target, uint64_t flags)
{
    uint32_t n;

    if (!uvfio_mig_state_supported(cur, flags) ||
        !uvfio_mig_state_supported(target, flags))
        return -EINVAL;

    n = next_hop[cur][target];
    /* Stop on ERROR: it is never supported, and next_hop[ERROR][*] is
     * ERROR, so a loop on "supported" alone would never end (the kernel's
     * 2026 infinite-loop fix). */
    while (n != ERR && !uvfio_mig_state_supported(n, flags))
        n = next_hop[n][target];
    if (n == ERR)
        return -EINVAL;
    return (int)n;
}

bool uvfio_mig_state_saving(uint32_t s)
{
    return s == PRE || s == PREP2P || s == SCOPY;
}

enum uvfio_mig_stream_effect uvfio_mig_arc_effect(uint32_t from, uint32_t to)
{
    if ((from == RUN && to == PRE) || (from == RP2P && to == PREP2P) ||
        (from == STOP && to == SCOPY))
        return UVFIO_MIG_STREAM_OPEN_SAVE;
    if (from == STOP && to == RESUME)
        return UVFIO_MIG_STREAM_OPEN_RESUME;
    if (uvfio_mig_state_saving(from) && uvfio_mig_state_saving(to))
        return UVFIO_MIG_STREAM_CONTINUE;
    if (uvfio_mig_state_saving(from) || from == RESUME)
        return UVFIO_MIG_STREAM_END;
    return UVFIO_MIG_STREAM_NONE;
}

const char *uvfio_mig_state_name(uint32_t s)
{
    static const char *const names[NSTATES] = {
        [ERR] = "ERROR", [STOP] = "STOP", [RUN] = "RUNNING",
        [SCOPY] = "STOP_COPY", [RESUME] = "RESUMING",
        [RP2P] = "RUNNING_P2P", [PRE] = "PRE_COPY",
        [PREP2P] = "PRE_COPY_P2P",
    };

    return s < NSTATES ? names[s] : "?";
}
