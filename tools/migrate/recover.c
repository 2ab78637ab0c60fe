// SPDX-License-Identifier: MIT
/*
 * migrate/recover.c - uvfio-migrate --state / --recover / --discard.
 *
 * A migration that dies with its tool (SIGKILL, a crash, a cut socket)
 * leaves the devices where the last request put them: the core ends the
 * data streams when the client goes, but keeps the migration state, as a
 * kernel device keeps it when its data fd is closed.  Only whoever ran the
 * migration knows whether the destination already took over, so nothing
 * is undone behind its back; these modes are the documented way back
 * (docs/migration-faults.md says which one to use when).
 *
 * --recover walks the device to RUNNING along the kernel's route, which
 * keeps the device's state from every saving state and from STOP; only
 * when the device refuses (a RESUMING device whose session died, ERROR)
 * does it reset.  --discard resets outright: a destination's half-loaded
 * (or fully loaded but never started) image must not run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "migrate.h"
#include "recover.h"
#include "report.h"

#define RECOVER_FAILED  1   /* unreachable, or not even a reset worked */

enum recover_mode { MODE_NONE, MODE_STATE, MODE_RECOVER, MODE_DISCARD };

enum recover_action { ACT_NONE, ACT_ROUTE, ACT_RESET };

struct recover {
    enum recover_mode mode;
    const char *path;
    bool json, quiet;
    uint32_t timeout_ms;

    /* what happened */
    bool migratable;
    uint64_t flags;
    bool have_before, have_after;
    enum uvfio_mig_state before, after;
    enum recover_action action;
    int route_err;              /* why the route to RUNNING failed */
    int err;                    /* the failure that ends the run */
    char step[128];
};

static const char *const mode_names[] = {
    [MODE_STATE] = "state", [MODE_RECOVER] = "recover",
    [MODE_DISCARD] = "discard",
};

static const char *const action_names[] = {
    [ACT_NONE] = "none", [ACT_ROUTE] = "route", [ACT_RESET] = "reset",
};

/* ---- the command line ---------------------------------------------------- */

static void recover_usage(FILE *f)
{
    fprintf(f,
        "usage: uvfio-migrate --state SOCKET [--json] [--timeout MS]\n"
        "       uvfio-migrate --recover SOCKET [--json] [-q] [--timeout MS]\n"
        "       uvfio-migrate --discard SOCKET [--json] [-q] [--timeout MS]\n"
        "\n"
        "After a migration that did not finish (docs/migration-faults.md):\n"
        "  --state    print the device's migration state\n"
        "  --recover  put the device back to RUNNING with its state (the\n"
        "             source); reset it only if it cannot get there\n"
        "  --discard  reset the device (a half-loaded destination)\n"
        "\n"
        "Exit status: 0 done (--recover: RUNNING with its state); 1 the\n"
        "device could not be reached or not even reset; 2 bad usage;\n"
        "3 --recover had to reset the device: its state is lost.\n");
}

static enum recover_mode mode_of(const char *arg)
{
    static const struct { const char *name; enum recover_mode mode; } m[] = {
        { "--state", MODE_STATE }, { "--recover", MODE_RECOVER },
        { "--discard", MODE_DISCARD },
    };

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        size_t n = strlen(m[i].name);

        if (!strncmp(arg, m[i].name, n) && (!arg[n] || arg[n] == '='))
            return m[i].mode;
    }
    return MODE_NONE;
}

static int set_mode(struct recover *r, enum recover_mode mode,
                    const char *path)
{
    if (r->mode != MODE_NONE) {
        fprintf(stderr, "uvfio-migrate: give one of --state, --recover "
                "and --discard\n");
        return -EINVAL;
    }
    r->mode = mode;
    r->path = path;
    return 0;
}

static int parse_timeout(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || !v || v > 3600000) {
        fprintf(stderr, "uvfio-migrate: --timeout '%s': want 1..3600000 "
                "ms\n", s);
        return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

static int recover_opt(struct recover *r, int opt, const char *arg)
{
    switch (opt) {
    case 'S': return set_mode(r, MODE_STATE, arg);
    case 'R': return set_mode(r, MODE_RECOVER, arg);
    case 'D': return set_mode(r, MODE_DISCARD, arg);
    case 'j': r->json = true; return 0;
    case 'q': r->quiet = true; return 0;
    case 'T': return parse_timeout(arg, &r->timeout_ms);
    case 'h':
        recover_usage(stdout);
        exit(EXIT_SUCCESS);
    default:
        return -EINVAL;
    }
}

static int recover_args(int argc, char **argv, struct recover *r)
{
    static const struct option longopts[] = {
        { "state", required_argument, NULL, 'S' },
        { "recover", required_argument, NULL, 'R' },
        { "discard", required_argument, NULL, 'D' },
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "timeout", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1)
        if (recover_opt(r, opt, optarg))
            return -EINVAL;
    if (optind != argc) {
        fprintf(stderr, "uvfio-migrate: --%s takes one SOCKET, not '%s'\n",
                mode_names[r->mode], argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* ---- talking to the device ----------------------------------------------- */

static int __attribute__((format(printf, 3, 4)))
fail(struct recover *r, int err, const char *fmt, ...)
{
    va_list ap;

    r->err = err;
    va_start(ap, fmt);
    vsnprintf(r->step, sizeof(r->step), fmt, ap);
    va_end(ap);
    return err;
}

static int open_device(struct recover *r, struct uvfio_client **c)
{
    struct uvfio_client_opts co = { .timeout_ms = r->timeout_ms };
    int ret;

    ret = uvfio_client_connect(r->path, &co, c);
    if (ret)
        return fail(r, ret, "connecting to %s%s", r->path,
                    ret == -ETIMEDOUT ? " (no answer: is another client "
                    "attached?)" : "");
    ret = uvfio_client_mig_get_flags(*c, &r->flags);
    if (ret == -ENOTTY)
        return 0;               /* no migration: no migration state */
    if (ret)
        return fail(r, ret, "asking for the migration flags");
    r->migratable = true;
    ret = uvfio_client_mig_get_state(*c, &r->before);
    if (ret)
        return fail(r, ret, "asking for the migration state");
    r->have_before = true;
    return 0;
}

/* The state now, which the caller requires to be RUNNING. */
static int settled_running(struct recover *r, struct uvfio_client *c)
{
    int ret;

    if (!r->migratable)
        return 0;
    ret = uvfio_client_mig_get_state(c, &r->after);
    if (ret)
        return ret;
    r->have_after = true;
    return r->after == UVFIO_MIG_STATE_RUNNING ? 0 : -EIO;
}

static int reset_device(struct recover *r, struct uvfio_client *c)
{
    int ret;

    r->action = ACT_RESET;
    ret = uvfio_client_reset(c);
    if (!ret)
        ret = settled_running(r, c);
    if (ret)
        return fail(r, ret, "resetting the device");
    return 0;
}

/*
 * From PRE_COPY*, STOP_COPY, STOP and RUNNING_P2P the route to RUNNING
 * keeps the device's state; from RESUMING it passes through
 * RESUMING->STOP, which the core refuses when the session that fed the
 * image is gone, and from ERROR there is no route: those are reset.
 */
static int do_recover(struct recover *r, struct uvfio_client *c)
{
    int ret;

    if (!r->migratable || r->before == UVFIO_MIG_STATE_RUNNING) {
        r->after = r->before;
        r->have_after = r->have_before;
        return 0;
    }
    r->action = ACT_ROUTE;
    ret = uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING);
    if (!ret)
        ret = settled_running(r, c);
    if (!ret)
        return 0;
    r->route_err = ret;
    return reset_device(r, c);
}

static int recover_run(struct recover *r)
{
    struct uvfio_client *c = NULL;
    int ret;

    ret = open_device(r, &c);
    if (!ret && r->mode == MODE_RECOVER)
        ret = do_recover(r, c);
    else if (!ret && r->mode == MODE_DISCARD)
        ret = reset_device(r, c);
    if (c)
        uvfio_client_close(c);
    return ret;
}

static int exit_status(const struct recover *r)
{
    if (r->err)
        return RECOVER_FAILED;
    if (r->mode == MODE_RECOVER && r->action == ACT_RESET)
        return EXIT_FAILED_LOST;
    return EXIT_SUCCESS;
}

/* ---- saying what happened ------------------------------------------------ */

static const char *state_or_none(bool have, enum uvfio_mig_state s)
{
    return have ? mig_state_name(s) : "-";
}

static void text_state(FILE *f, const struct recover *r)
{
    if (!r->migratable) {
        fprintf(f, "%s: the device cannot migrate (no migration state)\n",
                r->path);
        return;
    }
    fprintf(f, "%s: %s (migration flags %#llx:%s%s%s)\n", r->path,
            mig_state_name(r->before), (unsigned long long)r->flags,
            r->flags & UVFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
            r->flags & UVFIO_MIGRATION_P2P ? " P2P" : "",
            r->flags & UVFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
}

static void text_done(FILE *f, const struct recover *r)
{
    const char *before = state_or_none(r->have_before, r->before);

    if (r->mode == MODE_STATE) {
        text_state(f, r);
    } else if (r->mode == MODE_DISCARD) {
        fprintf(f, "%s: %s -> reset -> RUNNING: device state discarded\n",
                r->path, before);
    } else if (r->action == ACT_NONE) {
        fprintf(f, "%s: %s already: nothing to recover\n", r->path,
                r->migratable ? before : "not migratable");
    } else if (r->action == ACT_ROUTE) {
        fprintf(f, "%s: %s -> RUNNING: device state kept\n", r->path,
                before);
    } else {
        fprintf(f, "%s: %s could not return to RUNNING (%s): reset, "
                "device state lost\n", r->path, before,
                strerror(-r->route_err));
    }
}

static void text_error(FILE *f, const struct recover *r)
{
    fprintf(f, "uvfio-migrate: --%s %s: %s: %s\n", mode_names[r->mode],
            r->path, r->step, strerror(-r->err));
    if (r->action == ACT_RESET)
        fprintf(f, "uvfio-migrate: the device could not even be reset: "
                "its state is unknown\n");
}

/* json-c's NULL object is JSON null: add() treats a NULL value as a
 * failed allocation only when null was not meant. */
static int add(struct json_object *o, const char *key, struct json_object *v,
               bool may_be_null)
{
    if (!v && !may_be_null)
        return -ENOMEM;
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

static struct json_object *json_state(bool have, enum uvfio_mig_state s)
{
    return have ? json_object_new_string(mig_state_name(s)) : NULL;
}

static struct json_object *json_error(const struct recover *r)
{
    struct json_object *e;

    if (!r->err)
        return NULL;
    e = json_object_new_object();
    if (e && (add(e, "step", json_object_new_string(r->step), false) ||
              add(e, "errno", json_object_new_int(-r->err), false) ||
              add(e, "message", json_object_new_string(strerror(-r->err)),
                  false))) {
        json_object_put(e);
        return NULL;
    }
    return e;
}

static const char *result_name(const struct recover *r)
{
    if (r->err)
        return "failed";
    if (r->mode == MODE_STATE)
        return "state";
    return r->action == ACT_RESET ? "reset" : "running";
}

static int json_fill(struct json_object *j, const struct recover *r)
{
    bool act = r->mode != MODE_STATE;
    int ret = 0;

    ret |= add(j, "mode", json_object_new_string(mode_names[r->mode]),
               false);
    ret |= add(j, "socket", json_object_new_string(r->path), false);
    ret |= add(j, "result", json_object_new_string(result_name(r)), false);
    ret |= add(j, "exit_status", json_object_new_int(exit_status(r)), false);
    ret |= add(j, "migratable", json_object_new_boolean(r->migratable),
               false);
    ret |= add(j, "migration_flags", json_object_new_int64(
                   (int64_t)r->flags), false);
    ret |= add(j, "state_before", json_state(r->have_before, r->before),
               true);
    ret |= add(j, "state_after", json_state(r->have_after, r->after), true);
    ret |= add(j, "action", act ? json_object_new_string(
                   action_names[r->action]) : NULL, true);
    ret |= add(j, "route_error", r->route_err ? json_object_new_string(
                   strerror(-r->route_err)) : NULL, true);
    ret |= add(j, "error", json_error(r), !r->err);
    return ret ? -ENOMEM : 0;
}

static void print_json(const struct recover *r)
{
    struct json_object *j = json_object_new_object();

    if (j && !json_fill(j, r))
        printf("%s\n", json_object_to_json_string_ext(
                   j, JSON_C_TO_STRING_PLAIN));
    else
        fprintf(stderr, "uvfio-migrate: out of memory for the JSON\n");
    json_object_put(j);
}

/* ---- entry --------------------------------------------------------------- */

static bool recovery_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (mode_of(argv[i]) != MODE_NONE)
            return true;
    return false;
}

int recover_main(int argc, char **argv)
{
    struct recover r = { .mode = MODE_NONE };

    if (!recovery_wanted(argc, argv))
        return -1;
    if (recover_args(argc, argv, &r)) {
        fprintf(stderr, "Try 'uvfio-migrate --help'.\n");
        return EXIT_USAGE;
    }
    /* the library's own warnings would interleave with our report */
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    recover_run(&r);
    if (r.err)
        text_error(stderr, &r);
    if (r.json)
        print_json(&r);
    else if (!r.err && (!r.quiet || r.mode == MODE_STATE))
        text_done(stdout, &r);
    return exit_status(&r);
}
