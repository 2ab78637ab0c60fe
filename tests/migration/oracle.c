/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/oracle.c - an independent model of the routes.
 *
 * Knows only the arc lists of semantics §7.3 and the route rules of §7.4:
 *  1. shortest route over the device's arcs;
 *  2. the saving group {PRE_COPY, PRE_COPY_P2P, STOP_COPY} is never entered
 *     on the way; a route may stay inside it only while it goes from one
 *     saving state to another in the same stream, and a route that leaves
 *     the group leaves it at its first arc ("PRE_COPY -> STOP goes
 *     PRE_COPY -> RUNNING (-> RUNNING_P2P) -> STOP");
 *  3. STOP_COPY -> PRE_COPY(_P2P) is refused;
 *  4. a state the device lacks, ERROR, or a number >= 8 is refused.
 * It enumerates every simple path, so it also notices when those rules
 * leave a choice between two shortest routes.
 */
#include <errno.h>
#include <stddef.h>

#include "oracle.h"

enum {
    ERROR = UVFIO_MIG_STATE_ERROR,
    STOP = UVFIO_MIG_STATE_STOP,
    RUNNING = UVFIO_MIG_STATE_RUNNING,
    STOP_COPY = UVFIO_MIG_STATE_STOP_COPY,
    RESUMING = UVFIO_MIG_STATE_RESUMING,
    RUNNING_P2P = UVFIO_MIG_STATE_RUNNING_P2P,
    PRE_COPY = UVFIO_MIG_STATE_PRE_COPY,
    PRE_COPY_P2P = UVFIO_MIG_STATE_PRE_COPY_P2P,
    NSTATES = UVFIO_MIG_STATE_COUNT,
};

const uint64_t oracle_flag_sets[4] = {
    UVFIO_MIGRATION_STOP_COPY,
    UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P,
    UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_PRE_COPY,
    UVFIO_MIGRATION_STOP_COPY | UVFIO_MIGRATION_P2P |
        UVFIO_MIGRATION_PRE_COPY,
};

const char *const oracle_flag_set_names[4] = {
    "STOP_COPY", "STOP_COPY+P2P", "STOP_COPY+PRE_COPY",
    "STOP_COPY+P2P+PRE_COPY",
};

const char *oracle_state_name(uint32_t s)
{
    static const char *const n[NSTATES] = {
        "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
        "PRE_COPY", "PRE_COPY_P2P",
    };
    return s < NSTATES ? n[s] : "(bad)";
}

bool oracle_state_exists(uint32_t s, uint64_t flags)
{
    bool p2p = flags & UVFIO_MIGRATION_P2P;
    bool pre = flags & UVFIO_MIGRATION_PRE_COPY;

    if (!(flags & UVFIO_MIGRATION_STOP_COPY))
        return false;
    switch (s) {
    case STOP: case RUNNING: case STOP_COPY: case RESUMING:
        return true;
    case RUNNING_P2P:
        return p2p;
    case PRE_COPY:
        return pre;
    case PRE_COPY_P2P:
        return p2p && pre;
    default:
        return false;
    }
}

struct arc { uint32_t from, to; };

/* Semantics §7.3, list by list. */
static const struct arc arcs_always[] = {
    { STOP, RESUMING }, { RESUMING, STOP }, { STOP, STOP_COPY },
    { STOP_COPY, STOP },
};
static const struct arc arcs_no_p2p[] = {
    { RUNNING, STOP }, { STOP, RUNNING },
};
static const struct arc arcs_p2p[] = {
    { RUNNING, RUNNING_P2P }, { RUNNING_P2P, RUNNING },
    { RUNNING_P2P, STOP }, { STOP, RUNNING_P2P },
};
static const struct arc arcs_pre_no_p2p[] = {
    { RUNNING, PRE_COPY }, { PRE_COPY, RUNNING }, { PRE_COPY, STOP_COPY },
};
static const struct arc arcs_pre_p2p[] = {
    { RUNNING, PRE_COPY }, { PRE_COPY, RUNNING },
    { PRE_COPY, PRE_COPY_P2P }, { PRE_COPY_P2P, PRE_COPY },
    { PRE_COPY_P2P, RUNNING_P2P }, { PRE_COPY_P2P, STOP_COPY },
    { RUNNING_P2P, PRE_COPY_P2P },
};

static bool in_list(const struct arc *l, size_t n, uint32_t f, uint32_t t)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (l[i].from == f && l[i].to == t)
            return true;
    return false;
}

#define IN(l, f, t) in_list(l, sizeof(l) / sizeof(l[0]), f, t)

bool oracle_arc_exists(uint32_t from, uint32_t to, uint64_t flags)
{
    bool p2p = flags & UVFIO_MIGRATION_P2P;
    bool pre = flags & UVFIO_MIGRATION_PRE_COPY;

    if (!(flags & UVFIO_MIGRATION_STOP_COPY))
        return false;
    if (IN(arcs_always, from, to))
        return true;
    if (!p2p && IN(arcs_no_p2p, from, to))
        return true;
    if (p2p && IN(arcs_p2p, from, to))
        return true;
    if (pre && !p2p && IN(arcs_pre_no_p2p, from, to))
        return true;
    if (pre && p2p && IN(arcs_pre_p2p, from, to))
        return true;
    return false;
}

static bool saving(uint32_t s)
{
    return s == PRE_COPY || s == PRE_COPY_P2P || s == STOP_COPY;
}

/* Rule 2 for a state `s` in the middle of a route. */
static bool may_pass(uint32_t from, uint32_t to, uint32_t s, bool all_saving)
{
    if (!saving(s))
        return true;
    return saving(from) && saving(to) && all_saving;
}

struct search {
    uint32_t from, to;
    uint64_t flags;
    uint32_t path[ORACLE_MAX_ROUTE];
    uint32_t best[ORACLE_MAX_ROUTE];
    int best_len;
    int best_count;         /* shortest routes found of best_len */
    bool visited[NSTATES];
};

static void dfs(struct search *s, uint32_t at, int len, bool all_saving)
{
    uint32_t n;
    int i;

    if (at == s->to) {
        if (s->best_len < 0 || len < s->best_len) {
            s->best_len = len;
            s->best_count = 1;
            for (i = 0; i < len; i++)
                s->best[i] = s->path[i];
        } else if (len == s->best_len) {
            s->best_count++;
        }
        return;
    }
    if (len == ORACLE_MAX_ROUTE)
        return;
    if (len > 0 && !may_pass(s->from, s->to, at, all_saving))
        return;
    for (n = 0; n < NSTATES; n++) {
        if (s->visited[n] || !oracle_arc_exists(at, n, s->flags))
            continue;
        s->visited[n] = true;
        s->path[len] = n;
        dfs(s, n, len + 1, all_saving && saving(n));
        s->visited[n] = false;
    }
}

int oracle_route(uint32_t from, uint32_t to, uint64_t flags,
                 uint32_t route[ORACLE_MAX_ROUTE])
{
    struct search s = { .from = from, .to = to, .flags = flags,
                        .best_len = -1 };
    int i;

    if (!oracle_state_exists(from, flags) || !oracle_state_exists(to, flags))
        return -EINVAL;
    if (from == to)
        return 0;
    if (from == STOP_COPY && (to == PRE_COPY || to == PRE_COPY_P2P))
        return -EINVAL;
    s.visited[from] = true;
    dfs(&s, from, 0, saving(from));
    if (s.best_len < 0)
        return -EINVAL;
    if (s.best_count > 1)
        return -ENOTUNIQ;
    for (i = 0; i < s.best_len; i++)
        route[i] = s.best[i];
    return s.best_len;
}
