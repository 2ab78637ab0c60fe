/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/proxy.h - a fault-injecting UNIX-socket proxy between
 * uvfio-migrate and one vfio-user server.
 *
 * It listens on its own socket path, and for the one connection the tool
 * makes it connects to the real device socket and forwards both ways, a
 * whole vfio-user message at a time (file descriptors included), telling
 * the shared tracker about every message.  The two proxies of a migration
 * share one fault_run: when the message the plan names comes by, the
 * proxy that sees it holds it and injects the fault:
 *
 *   KILL      SIGKILL the victim (the tool or either server) and wait
 *             until it is gone; the held message then goes on only if its
 *             receiver is still there (a message to or from a server that
 *             was killed elsewhere is delivered);
 *   CUT       pass on the first `byte` bytes of it, then close both ends;
 *   TRUNCATE  pass on the first `byte` bytes, then end that direction
 *             (the receiver sees end-of-file mid-message), the other
 *             direction still flowing.
 */
#ifndef UVFIO_TESTS_FAULTS_PROXY_H
#define UVFIO_TESTS_FAULTS_PROXY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "proc.h"
#include "track.h"

enum fault_kind { FAULT_NONE, FAULT_KILL, FAULT_CUT, FAULT_TRUNCATE };

#define SIDE_ANY    (-1)
#define VICTIM_TOOL (-1)

struct fault_plan {
    enum fault_kind kind;
    enum phase phase;
    int side;                   /* SIDE_ANY, or the proxy that fires */
    unsigned int index;         /* the index-th message of `phase` seen
                                   (on `side`), from 1 */
    size_t byte;                /* CUT/TRUNCATE: this modulo the message's
                                   size is what is passed on first */
    const struct proc *victim;  /* KILL */
    int victim_side;            /* KILL: VICTIM_TOOL or the server's side */
};

/* One migration's two proxies: the plan, the tracker, what happened. */
struct fault_run {
    pthread_mutex_t lock;
    struct track track;
    struct fault_plan plan;
    unsigned int count[PH_COUNT][SIDE_COUNT];   /* messages seen */
    bool fired;
    enum side fired_side;
    enum dir fired_dir;
    enum phase fired_phase;
    char fired_what[96];
    struct track at_fire;       /* the tracker when the fault struck */
};

void fault_run_init(struct fault_run *r, int src_state, int dst_state,
                    const struct fault_plan *plan);
void fault_run_destroy(struct fault_run *r);

struct proxy;

int proxy_start(struct proxy **out, struct fault_run *run, enum side side,
                const char *listen_path, const char *target_path);
/* Until its connection is over (or it never came), at most timeout_ms;
 * then it is stopped.  Frees the proxy.  0 or -ETIMEDOUT. */
int proxy_finish(struct proxy *p, int timeout_ms);

#endif /* UVFIO_TESTS_FAULTS_PROXY_H */
