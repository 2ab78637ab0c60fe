// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_netns.c - a live migration between two hosts, as
 * near as one machine gets: two network namespaces joined by a veth pair,
 * each with its own uvfio-edu server and its own uvfio-migrate end, the
 * stream over TCP across the veth (--to / --incoming).
 *
 * The addresses (10.231.x.1 and .2/30) exist only on the veth inside the
 * two namespaces: nothing is routed outside them.  The namespaces are
 * named after this process and removed at the end, also after a failed
 * assertion; ones left by a test that was killed are removed at the start
 * of the next run.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lm_fixture.h"

#define NS_PREFIX       "uvfio-lm-"
#define CMD_MS          10000
#define RUN_MS          60000

struct world {
    char dir[64];
    char ns_a[32], ns_b[32];
    char veth_a[16], veth_b[16];
    char ip_a[24], ip_b[24];
    bool ns_made;
    struct lm_server a, b;
};

/* Run a command to completion; its exit status (or -1). */
static int cmd(struct world *w, const char *const *argv, char **out)
{
    char log[160];
    struct child c;
    int st = 0;

    snprintf(log, sizeof(log), "%s/cmd.log", w->dir);
    if (child_start(&c, (char *const *)argv, log, false) ||
        child_wait(&c, CMD_MS, &st))
        return -1;
    if (out)
        *out = slurp(log);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define CMD(w, ...) cmd(w, (const char *const[]){ __VA_ARGS__, NULL }, NULL)

/* Namespaces of ours whose process is gone: a killed earlier run. */
static void remove_stale(struct world *w)
{
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    long pid;

    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, NS_PREFIX, strlen(NS_PREFIX)))
            continue;
        pid = strtol(e->d_name + strlen(NS_PREFIX) + 2, NULL, 10);
        if (pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH)
            CMD(w, "ip", "netns", "del", e->d_name);
    }
    closedir(d);
}

static void names(struct world *w)
{
    int pid = (int)getpid();

    snprintf(w->ns_a, sizeof(w->ns_a), NS_PREFIX "a-%d", pid);
    snprintf(w->ns_b, sizeof(w->ns_b), NS_PREFIX "b-%d", pid);
    snprintf(w->veth_a, sizeof(w->veth_a), "lmva%d", pid % 100000);
    snprintf(w->veth_b, sizeof(w->veth_b), "lmvb%d", pid % 100000);
    snprintf(w->ip_a, sizeof(w->ip_a), "10.231.%d.1", pid % 250 + 1);
    snprintf(w->ip_b, sizeof(w->ip_b), "10.231.%d.2", pid % 250 + 1);
}

static int make_net(struct world *w)
{
    char a_cidr[32], b_cidr[32];

    snprintf(a_cidr, sizeof(a_cidr), "%s/30", w->ip_a);
    snprintf(b_cidr, sizeof(b_cidr), "%s/30", w->ip_b);
    if (CMD(w, "ip", "netns", "add", w->ns_a) ||
        CMD(w, "ip", "netns", "add", w->ns_b))
        return -1;
    w->ns_made = true;
    /* both ends are born inside their namespaces: never in ours */
    if (CMD(w, "ip", "link", "add", w->veth_a, "netns", w->ns_a, "type",
            "veth", "peer", "name", w->veth_b, "netns", w->ns_b) ||
        CMD(w, "ip", "-n", w->ns_a, "addr", "add", a_cidr, "dev",
            w->veth_a) ||
        CMD(w, "ip", "-n", w->ns_b, "addr", "add", b_cidr, "dev",
            w->veth_b) ||
        CMD(w, "ip", "-n", w->ns_a, "link", "set", w->veth_a, "up") ||
        CMD(w, "ip", "-n", w->ns_b, "link", "set", w->veth_b, "up") ||
        CMD(w, "ip", "-n", w->ns_a, "link", "set", "lo", "up") ||
        CMD(w, "ip", "-n", w->ns_b, "link", "set", "lo", "up"))
        return -1;
    return 0;
}

/* uvfio-edu inside a namespace (the socket is a path: any namespace may
 * reach it, but only this host's processes do). */
static int start_edu(struct world *w, struct lm_server *s, const char *ns,
                     const char *name)
{
    char opt[160];
    const char *argv[] = { "ip", "netns", "exec", ns, lm_edu_bin, opt, NULL };
    int r;

    snprintf(s->path, sizeof(s->path), "%s/%s.sock", w->dir, name);
    snprintf(s->log, sizeof(s->log), "%s/%s.log", w->dir, name);
    snprintf(opt, sizeof(opt), "--socket-path=%s", s->path);
    r = child_start(&s->ch, (char *const *)argv, s->log, false);
    return r ? r : child_wait_socket(&s->ch, s->path, 5000);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));

    if (!w)
        return -1;
    *state = w;
    lm_mkdir(w->dir, sizeof(w->dir));
    names(w);
    remove_stale(w);
    if (geteuid()) {
        fprintf(stderr, "network namespaces need root\n");
        return -1;
    }
    if (make_net(w)) {
        fprintf(stderr, "could not build the two namespaces\n");
        return -1;
    }
    if (start_edu(w, &w->a, w->ns_a, "a") || start_edu(w, &w->b, w->ns_b,
                                                       "b"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    int r;

    r = lm_server_stop(&w->a);
    r |= lm_server_stop(&w->b);
    if (w->ns_made) {
        /* the veth pair goes with its namespaces */
        CMD(w, "ip", "netns", "del", w->ns_a);
        CMD(w, "ip", "netns", "del", w->ns_b);
    }
    lm_rmdir(w->dir);
    free(w);
    return r ? -1 : 0;
}

/* ---- the migration ------------------------------------------------------ */

struct end_run {
    struct child ch;
    char log[160];
    struct json_object *json;
    char *out;
    int status;
};

static void start_end(struct world *w, struct end_run *e, const char *ns,
                      const char *name, const char *const *args)
{
    const char *argv[32] = { "ip", "netns", "exec", ns, lm_migrate_bin };
    int n = 5;

    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    snprintf(e->log, sizeof(e->log), "%s/%s.log", w->dir, name);
    assert_int_equal(child_start(&e->ch, (char *const *)argv, e->log,
                                 false), 0);
}

static void wait_end(struct end_run *e)
{
    const char *line;
    int st = 0;

    assert_int_equal(child_wait(&e->ch, RUN_MS, &st), 0);
    e->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    e->out = slurp(e->log);
    assert_non_null(e->out);
    line = strstr(e->out, "{\"result\"");
    e->json = line ? json_tokener_parse(line) : NULL;
    if (e->status || !e->json)
        fail_msg("an end failed (status %d):\n%s", e->status, e->out);
}

/* A JSON string by path ("verification.memory.digest"). */
static const char *jstr(struct json_object *o, const char *path)
{
    char key[64];
    const char *dot;

    while (o && *path) {
        dot = strchr(path, '.');
        snprintf(key, sizeof(key), "%.*s",
                 (int)(dot ? (size_t)(dot - path) : strlen(path)), path);
        if (!json_object_object_get_ex(o, key, &o))
            return "(none)";
        path = dot ? dot + 1 : "";
    }
    return o ? json_object_get_string(o) : "(none)";
}

/* Bytes that left through the veth in namespace ns, from ip's JSON. */
static uint64_t tx_bytes(struct world *w, const char *ns, const char *dev)
{
    const char *argv[] = { "ip", "-n", ns, "-j", "-s", "link", "show", dev,
                           NULL };
    struct json_object *j, *v;
    uint64_t n = 0;
    char *out = NULL;

    assert_int_equal(cmd(w, argv, &out), 0);
    assert_non_null(out);
    j = json_tokener_parse(out);
    assert_non_null(j);
    v = json_object_array_get_idx(j, 0);
    if (json_object_object_get_ex(v, "stats64", &v) &&
        json_object_object_get_ex(v, "tx", &v) &&
        json_object_object_get_ex(v, "bytes", &v))
        n = (uint64_t)json_object_get_int64(v);
    json_object_put(j);
    free(out);
    return n;
}

static void test_migrate_across_veth(void **state)
{
    struct world *w = *state;
    char in[64], to[64];
    const char *dargs[] = { "--json", "--incoming", in, "--guest-memory",
                            "32M", w->b.path, NULL };
    const char *sargs[] = { "--json", "--guest-memory", "32M",
                            "--guest-write-rate", "64", "--device-dma-rate",
                            "64", "--downtime-ms", "20", "--to", to,
                            w->a.path, NULL };
    struct end_run src = { 0 }, dst = { 0 };
    uint64_t before = tx_bytes(w, w->ns_a, w->veth_a);
    enum uvfio_mig_state st;

    snprintf(in, sizeof(in), "tcp:%s:4444", w->ip_b);
    snprintf(to, sizeof(to), "tcp:%s:4444", w->ip_b);
    start_end(w, &dst, w->ns_b, "dst", dargs);
    start_end(w, &src, w->ns_a, "src", sargs);
    wait_end(&src);
    wait_end(&dst);
    printf("%s", src.out);
    assert_string_equal(jstr(src.json, "result"), "migrated");
    assert_string_equal(jstr(dst.json, "result"), "migrated");
    assert_string_equal(jstr(src.json, "verified"), "true");
    assert_string_equal(jstr(dst.json, "verified"), "true");
    assert_string_equal(jstr(src.json, "to"), to);
    assert_string_equal(jstr(src.json, "verification.memory.digest"),
                        jstr(dst.json, "verification.memory.digest"));
    /* the whole guest memory crossed the veth */
    assert_true(tx_bytes(w, w->ns_a, w->veth_a) - before >= 32ull << 20);
    assert_int_equal(lm_device_state(w->a.path, &st), 0);
    assert_int_equal(st, UVFIO_MIG_STATE_STOP);
    assert_int_equal(lm_device_state(w->b.path, &st), 0);
    assert_int_equal(st, UVFIO_MIG_STATE_RUNNING);
    json_object_put(src.json);
    json_object_put(dst.json);
    free(src.out);
    free(dst.out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_across_veth, setup,
                                        teardown),
    };

    lm_args(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
