/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/track.h - what a migration's vfio-user traffic says about
 * the two devices, as seen by the proxies between uvfio-migrate and the
 * servers: each device's migration state as its server has it (a reply
 * seen) and as the tool knows it (a reply delivered), and from both the
 * phase the migration is in.
 *
 * The tool is synchronous - one request, its reply, the next - so the
 * state after every message is exact, and a fault injected at a message
 * has a precisely known starting point.
 */
#ifndef UVFIO_TESTS_FAULTS_TRACK_H
#define UVFIO_TESTS_FAULTS_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum side { SIDE_SRC, SIDE_DST, SIDE_COUNT };
enum dir { DIR_TO_SERVER, DIR_TO_TOOL };

/* The phases of docs/uvfio-migrate.md's steps, by the devices' states. */
enum phase {
    PH_SETUP,           /* connecting, checking; nothing changed yet */
    PH_DST_RESUMING,    /* destination RESUMING, source still RUNNING */
    PH_PRECOPY,         /* source PRE_COPY */
    PH_PRECOPY_P2P,     /* source PRE_COPY_P2P */
    PH_STOPCOPY,        /* source STOP_COPY, destination RESUMING */
    PH_LOADED,          /* destination STOP: the image accepted */
    PH_SWITCHED,        /* destination RUNNING, source still STOP_COPY */
    PH_DONE,            /* source STOP */
    PH_COUNT
};

#define TRACK_UNKNOWN   (-1)    /* a state request failed: anywhere */
#define TRACK_PENDING   4

struct track_dev {
    int state;          /* as the server has it */
    int told;           /* as the tool was told */
    bool resumed;       /* reached RESUMING in this run */
    bool ran;           /* RUNNING again after RESUMING (destination) */
    bool tool_saw_run;  /* ... and the tool got that reply */
    struct {
        bool used;
        uint16_t id;
        int target;     /* the state the request asks for, or -1 */
    } pend[TRACK_PENDING];
};

struct track {
    struct track_dev dev[SIDE_COUNT];
};

/* Both devices' states before the tool connects. */
void track_init(struct track *t, int src_state, int dst_state);
/* A whole message seen by a proxy: the server's view is updated (a reply
 * applies its request).  Returns the phase after it. */
enum phase track_seen(struct track *t, enum side s, enum dir d,
                      const uint8_t *msg, size_t len);
/* The message was passed on: a reply is now known to the tool. */
void track_delivered(struct track *t, enum side s, enum dir d,
                     const uint8_t *msg, size_t len);
enum phase track_phase(const struct track *t);

const char *phase_name(enum phase p);
/* "SET STOP_COPY", "MIG_DATA_READ", ...: what a message is, for logs. */
void track_describe(const struct track *t, enum side s, const uint8_t *msg,
                    size_t len, char *buf, size_t size);

#endif /* UVFIO_TESTS_FAULTS_TRACK_H */
