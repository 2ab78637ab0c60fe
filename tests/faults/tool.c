// SPDX-License-Identifier: MIT
/* tests/faults/tool.c - see tool.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"

static const char *tool_bin;
static char out_path[160], err_path[160];

void tool_setup(const char *bin, const char *dir)
{
    tool_bin = bin;
    snprintf(out_path, sizeof(out_path), "%s/tool.out", dir);
    snprintf(err_path, sizeof(err_path), "%s/tool.err", dir);
}

int tool_spawn(struct proc *p, char *const args[])
{
    char *argv[32];
    int n = 0;

    argv[n++] = (char *)tool_bin;
    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    return proc_start(p, argv, out_path, err_path, true);
}

int tool_collect(struct proc *p, struct tool_run *r, int timeout_ms,
                 bool killed)
{
    long long t0 = proc_now_ms();
    int ret;

    memset(r, 0, sizeof(*r));
    ret = proc_wait(p, timeout_ms, &r->status, killed);
    r->ms = proc_now_ms() - t0;
    r->out = proc_slurp(out_path);
    r->err = proc_slurp(err_path);
    if (r->out && *r->out)
        r->json = json_tokener_parse(r->out);
    unlink(out_path);
    unlink(err_path);
    return ret;
}

int tool_run(char *const args[], struct tool_run *r, int timeout_ms)
{
    long long t0 = proc_now_ms();
    struct proc p;
    int ret;

    ret = tool_spawn(&p, args);
    if (ret) {
        memset(r, 0, sizeof(*r));
        return ret;
    }
    ret = tool_collect(&p, r, timeout_ms, false);
    r->ms = proc_now_ms() - t0;
    return ret;
}

void tool_run_free(struct tool_run *r)
{
    free(r->out);
    free(r->err);
    json_object_put(r->json);
    memset(r, 0, sizeof(*r));
}

int tool_exit(const struct tool_run *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

const char *tool_jstr(const struct tool_run *r, const char *key)
{
    struct json_object *v;

    if (!r->json || !json_object_object_get_ex(r->json, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

const char *tool_jstep(const struct tool_run *r)
{
    struct json_object *e, *s;

    if (!r->json || !json_object_object_get_ex(r->json, "error", &e) || !e ||
        !json_object_object_get_ex(e, "step", &s))
        return "";
    return json_object_get_string(s);
}
