// SPDX-License-Identifier: MIT
/*
 * tests/faults/judge.c - what docs/migration-faults.md promises after each
 * fault, checked, and the documented recovery carried out.
 *
 * The proxies' tracker says exactly where both devices were when the fault
 * struck (the server's view: a reply seen is a request done) and whether
 * the tool learnt that the destination runs.  From that, each fault has
 * one right answer: the tool's exit status and report, each device's
 * state, each device's image.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "campaign.h"

#define S_STOP      UVFIO_MIG_STATE_STOP
#define S_RUNNING   UVFIO_MIG_STATE_RUNNING
#define S_RESUMING  UVFIO_MIG_STATE_RESUMING

static const struct track_dev *at(const struct outcome *o, enum side s)
{
    return &o->run.at_fire.dev[s];
}

/* The tool got the destination's RUNNING reply: the device moved. */
static bool tool_saw_switch(const struct outcome *o)
{
    return o->run.track.dev[SIDE_DST].tool_saw_run;
}

static void __attribute__((format(printf, 2, 3)))
broken(const struct outcome *o, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    fail_msg("%s\n  uvfio-migrate exit %d\n  stdout: %s\n  stderr: %s", why,
             tool_exit(&o->tool), o->tool.out ? o->tool.out : "",
             o->tool.err ? o->tool.err : "");
}

static void expect_exit(const struct outcome *o, int want)
{
    if (tool_exit(&o->tool) != want)
        broken(o, "wanted exit status %d", want);
}

static bool said(const struct outcome *o, const char *words)
{
    return o->tool.err && strstr(o->tool.err, words);
}

static bool after_is(const struct outcome *o, const char *key,
                     const char *a, const char *b)
{
    const char *v = tool_jstr(&o->tool, key);

    return !strcmp(v, a) || (b && !strcmp(v, b));
}

/* A device the tool never reached keeps the state it had; one the
 * server saw a request through is where the tracker says. */
static void expect_state(const struct outcome *o, struct server *s,
                         enum side side)
{
    enum uvfio_mig_state st = state_of(s);
    int want = at(o, side)->state;

    if (want != TRACK_UNKNOWN && (int)st != want)
        broken(o, "the %s is in state %d, the last request it took left "
               "it in %d", side == SIDE_SRC ? "source" : "destination", st,
               want);
}

/* The destination as the tool left it after resetting it (or not). */
static void expect_destination_reset(struct campaign *c,
                                     const struct outcome *o)
{
    if (after_is(o, "destination_after", "untouched", NULL)) {
        if (at(o, SIDE_DST)->resumed)
            broken(o, "a destination that took RESUMING is 'untouched'");
        return;
    }
    if (!after_is(o, "destination_after", "reset", NULL))
        broken(o, "wanted the destination reset");
    if (state_of(spare(c)) != S_RUNNING)
        broken(o, "a reset destination is not RUNNING");
    expect_image(spare(c), c->powerup, c->powerup_len,
                 "the power-on one, after the tool's reset");
}

/* The tool could not reset the destination: it says so, and the
 * destination is where the fault left it, never running a partial image. */
static void expect_destination_stranded(const struct outcome *o)
{
    if (!after_is(o, "destination_after", "not-reset", "untouched") ||
        (at(o, SIDE_DST)->resumed &&
         !after_is(o, "destination_after", "not-reset", NULL)))
        broken(o, "wanted the destination 'not-reset'");
    if (after_is(o, "destination_after", "not-reset", NULL) &&
        !said(o, "--discard"))
        broken(o, "the tool did not say how to discard the destination");
}

/* ---- the tool killed ----------------------------------------------------- */

/*
 * No report, no cleanup: both devices stay where the last request put
 * them.  The documented rule tells the cases apart by the two states:
 * destination RUNNING and source not RUNNING - the migration completed,
 * the device lives at the destination and the source is stale; anything
 * else - the source is the device: --recover it, --discard the
 * destination.
 */
static void judge_tool_killed(struct campaign *c, const struct outcome *o)
{
    enum uvfio_mig_state s = state_of(home(c)), d = state_of(spare(c));
    bool completed = at(o, SIDE_DST)->ran;

    expect_state(o, home(c), SIDE_SRC);
    expect_state(o, spare(c), SIDE_DST);
    if ((d == S_RUNNING && s != S_RUNNING) != completed)
        broken(o, "the documented rule misjudges source %d, destination "
               "%d", s, d);
    if (completed) {
        expect_image(spare(c), c->life.image, c->life.image_len,
                     "the migrated one");
        discard(c, home(c));
        c->home = !c->home;
        return;
    }
    if (d == S_RESUMING)
        expect_refuses_to_run(spare(c));
    recover_source(c, home(c));
    discard(c, spare(c));
}

/* ---- a server killed ----------------------------------------------------- */

static void judge_destination_killed(struct campaign *c,
                                     const struct outcome *o)
{
    if (tool_saw_switch(o)) {
        /* it died after taking over: the source, in STOP, still holds
         * the device as it was at the switch */
        expect_exit(o, 0);
        if (state_of(home(c)) != S_STOP)
            broken(o, "a migrated source is not in STOP");
        recover_source(c, home(c));
    } else {
        expect_exit(o, 1);
        if (!after_is(o, "source_after", "running", "untouched") ||
            !strstr(tool_jstep(&o->tool), "destination"))
            broken(o, "wanted the source running and the destination "
                   "named as what failed");
        expect_destination_stranded(o);
        if (state_of(home(c)) != S_RUNNING)
            broken(o, "the source is not RUNNING");
        expect_image(home(c), c->life.image, c->life.image_len,
                     "the source's own");
    }
    replace_killed(c, spare(c));
}

/* The source is gone with its state (unless the device already moved). */
static void judge_source_killed(struct campaign *c, const struct outcome *o)
{
    if (tool_saw_switch(o)) {
        expect_exit(o, 4);
        expect_image(spare(c), c->life.image, c->life.image_len,
                     "the migrated one");
        replace_killed(c, home(c));
        c->home = !c->home;
        return;
    }
    if (tool_exit(&o->tool) == 1) {
        /* it never got through to the source at all */
        if (strncmp(tool_jstep(&o->tool), "connecting to the source", 24) ||
            !after_is(o, "source_after", "untouched", NULL))
            broken(o, "exit 1 but the source had been reached");
    } else {
        expect_exit(o, 3);
        if (!after_is(o, "source_after", "unknown", NULL) ||
            !said(o, "lost the connection to the source"))
            broken(o, "the tool did not say the source was lost");
    }
    expect_destination_reset(c, o);
    replace_killed(c, home(c));
    /* the device died with its server: a new one takes its place */
    life_forget(&c->life);
    new_life(c);
}

/* ---- a socket cut -------------------------------------------------------- */

/* The source's server lives on, holding the device as the last request
 * left it: --recover brings it back (or, once the destination runs the
 * device, --discard clears the stale copy). */
static void judge_source_cut(struct campaign *c, const struct outcome *o)
{
    expect_state(o, home(c), SIDE_SRC);
    if (tool_saw_switch(o)) {
        expect_exit(o, 4);
        expect_image(spare(c), c->life.image, c->life.image_len,
                     "the migrated one");
        discard(c, home(c));
        c->home = !c->home;
        return;
    }
    if (tool_exit(&o->tool) == 1) {
        if (strncmp(tool_jstep(&o->tool), "connecting to the source", 24))
            broken(o, "exit 1 but the source had been reached");
    } else {
        expect_exit(o, 3);
        if (!said(o, "lost the connection to the source") ||
            !said(o, "--recover"))
            broken(o, "the tool did not say the source was lost and how "
                   "to recover it");
    }
    expect_destination_reset(c, o);
    recover_source(c, home(c));
}

static void judge_destination_cut(struct campaign *c,
                                  const struct outcome *o)
{
    expect_exit(o, 1);
    if (!after_is(o, "source_after", "running", "untouched"))
        broken(o, "wanted the source running");
    if (state_of(home(c)) != S_RUNNING)
        broken(o, "the source is not RUNNING");
    expect_image(home(c), c->life.image, c->life.image_len,
                 "the source's own");
    expect_destination_stranded(o);
    expect_state(o, spare(c), SIDE_DST);
    if (state_of(spare(c)) == S_RESUMING)
        expect_refuses_to_run(spare(c));
    discard(c, spare(c));
}

void judge(struct campaign *c, const struct cell *cell, struct outcome *o)
{
    if (!o->run.fired)
        broken(o, "the fault never struck: phase %s had fewer messages "
               "than in the reference run", phase_name(cell->phase));
    if (cell->kind == FAULT_KILL && cell->who == WHO_TOOL)
        judge_tool_killed(c, o);
    else if (cell->kind == FAULT_KILL && cell->who == WHO_DST)
        judge_destination_killed(c, o);
    else if (cell->kind == FAULT_KILL)
        judge_source_killed(c, o);
    else if (cell->who == WHO_SRC)
        judge_source_cut(c, o);
    else
        judge_destination_cut(c, o);
}
