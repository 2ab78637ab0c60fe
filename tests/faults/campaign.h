/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/campaign.h - the fault campaign's world: two uvfio-serial
 * servers, one of them running the device (its `life`), the other idle;
 * migrations between them, plain or through fault-injecting proxies; and
 * the documented commands that clean up after a fault.
 *
 * Every helper asserts (cmocka) rather than returning errors: a campaign
 * stops at the first broken promise, naming it.
 */
#ifndef UVFIO_TESTS_FAULTS_CAMPAIGN_H
#define UVFIO_TESTS_FAULTS_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy.h"
#include "rig.h"
#include "tool.h"

/* uvfio-migrate's ways of moving the device (the chunk size is the
 * kind's: its stream must take many messages, not too many). */
struct config {
    const char *name;
    const char *args[8];
};

extern const struct config configs[];
#define N_CONFIGS   3u

enum who { WHO_TOOL, WHO_SRC, WHO_DST, WHO_COUNT };

/* One fault to inject: what, to whom or where, in which phase. */
struct cell {
    enum fault_kind kind;
    enum who who;               /* KILL: the victim; else the side cut */
    unsigned int config;
    enum phase phase;
};

struct campaign {
    const struct kind *kind;
    const char *bin;            /* the kind's server */
    char dir[64];
    struct server srv[2];
    int home;                   /* srv[home] runs the device */
    struct life life;
    uint8_t *powerup;           /* a fresh device's image */
    size_t powerup_len;
    unsigned int next_id;
    unsigned int ref[N_CONFIGS][PH_COUNT][SIDE_COUNT];
    uint32_t rnd;
};

/* What one migration through the proxies came to. */
struct outcome {
    struct fault_run run;
    struct tool_run tool;
};

uint32_t rand32(struct campaign *c);

struct server *home(struct campaign *c);
struct server *spare(struct campaign *c);
void start_server(struct campaign *c, struct server *s);
void replace_killed(struct campaign *c, struct server *s);

enum uvfio_mig_state state_of(struct server *s);
void expect_image(struct server *s, const uint8_t *img, size_t len,
                  const char *what);
/* A new guest configuration and new bytes at home: the life to keep. */
void new_life(struct campaign *c);
/* A RESUMING device whose session died must refuse to run. */
void expect_refuses_to_run(struct server *s);
/* Both servers hold no descriptor of a connection that is gone. */
void expect_fds_back(struct campaign *c);

/* uvfio-migrate --recover: RUNNING again with the life's image. */
void recover_source(struct campaign *c, struct server *s);
/* uvfio-migrate --discard: the power-on image. */
void discard(struct campaign *c, struct server *s);

/* home -> spare through the proxies, faulted by `plan`. */
void migrate_via_proxies(struct campaign *c, unsigned int config,
                         struct fault_plan *plan, struct outcome *o);
void outcome_free(struct outcome *o);
/* home -> spare, which must work; the device moves. */
void migrate_ok(struct campaign *c, unsigned int config);
/* Without faults: how many messages each phase has, per side. */
void reference(struct campaign *c, unsigned int config);

/* After a fault: check everything docs/migration-faults.md promises for
 * it, recover as documented; srv[home] runs the device again, or (the
 * source server was lost with it) a new one. */
void judge(struct campaign *c, const struct cell *cell, struct outcome *o);

#endif /* UVFIO_TESTS_FAULTS_CAMPAIGN_H */
