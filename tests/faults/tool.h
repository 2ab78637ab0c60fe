/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/tool.h - running the real uvfio-migrate and reading what it
 * said: its exit status, its JSON object (stdout), its words (stderr).
 */
#ifndef UVFIO_TESTS_FAULTS_TOOL_H
#define UVFIO_TESTS_FAULTS_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "proc.h"

struct tool_run {
    int status;                 /* as waitpid gives it */
    long long ms;               /* how long it ran */
    char *out, *err;            /* stdout, stderr */
    struct json_object *json;   /* stdout parsed; NULL if it is not JSON */
};

/* The program, and a directory for its output files. */
void tool_setup(const char *bin, const char *dir);

/* Start it with `args` (no argv[0], NULL-terminated). */
int tool_spawn(struct proc *p, char *const args[]);
/* Wait for it (bounded) and read what it said.  killed: it was SIGKILLed
 * on purpose (no valgrind summary to check). */
int tool_collect(struct proc *p, struct tool_run *r, int timeout_ms,
                 bool killed);
/* Both. */
int tool_run(char *const args[], struct tool_run *r, int timeout_ms);
void tool_run_free(struct tool_run *r);

/* The exit status, or -1 when it did not exit by itself. */
int tool_exit(const struct tool_run *r);
/* A string member of the JSON object ("" when absent). */
const char *tool_jstr(const struct tool_run *r, const char *key);
/* The error object's "step" ("" when absent). */
const char *tool_jstep(const struct tool_run *r);

#endif /* UVFIO_TESTS_FAULTS_TOOL_H */
