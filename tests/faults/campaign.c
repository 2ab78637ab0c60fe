// SPDX-License-Identifier: MIT
/* tests/faults/campaign.c - see campaign.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "campaign.h"

#define TOOL_TIMEOUT_MS 3000    /* the tool's own per-request timeout */

/* Long precopy in small chunks, stop-copy only, a precopy that converges
 * at once. */
const struct config configs[N_CONFIGS] = {
    { "precopy", { "--threshold", "0", "--max-iterations", "3", NULL } },
    { "stop-copy", { "--no-precopy", NULL } },
    { "converge", { NULL } },
};

uint32_t rand32(struct campaign *c)
{
    c->rnd ^= c->rnd << 13;
    c->rnd ^= c->rnd >> 17;
    c->rnd ^= c->rnd << 5;
    return c->rnd;
}

/* ---- servers and devices ------------------------------------------------- */

struct server *home(struct campaign *c)
{
    return &c->srv[c->home];
}

struct server *spare(struct campaign *c)
{
    return &c->srv[!c->home];
}

void start_server(struct campaign *c, struct server *s)
{
    int now;

    assert_int_equal(server_start(s, c->kind, c->dir, c->bin, c->next_id++),
                     0);
    assert_int_equal(server_fds_settled(s, proc_budget(2000), &now), 0);
}

void replace_killed(struct campaign *c, struct server *s)
{
    server_reap_killed(s);
    start_server(c, s);
}

enum uvfio_mig_state state_of(struct server *s)
{
    enum uvfio_mig_state st = UVFIO_MIG_STATE_ERROR;
    int ret = rig_state(s->sock, &st);

    if (ret)
        fail_msg("server %u: no state: %s", s->id, strerror(-ret));
    return st;
}

void expect_image(struct server *s, const uint8_t *img, size_t len,
                  const char *what)
{
    uint8_t *now = NULL;
    size_t n = 0, i = 0;
    int ret = rig_snapshot(s->sock, &now, &n);

    if (ret)
        fail_msg("server %u: no image (%s): %s", s->id, what,
                 strerror(-ret));
    while (i < n && i < len && now[i] == img[i])
        i++;
    free(now);
    if (n != len || i != len)
        fail_msg("server %u: the image is not %s (%zu bytes vs %zu, they "
                 "part at byte %zu)", s->id, what, n, len, i);
}

void new_life(struct campaign *c)
{
    int ret = rig_personalize(home(c), &c->life, rand32(c));

    if (ret)
        fail_msg("server %u: playing the guest: %s", home(c)->id,
                 strerror(-ret));
}

void expect_refuses_to_run(struct server *s)
{
    struct uvfio_client *cl = rig_connect(s->sock);
    enum uvfio_mig_state st = UVFIO_MIG_STATE_ERROR;
    int ret;

    assert_non_null(cl);
    ret = uvfio_client_mig_set_state(cl, UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(uvfio_client_mig_get_state(cl, &st), 0);
    uvfio_client_close(cl);
    if (ret != -EINVAL || st != UVFIO_MIG_STATE_RESUMING)
        fail_msg("server %u: a detached RESUMING device answered %d to "
                 "RUNNING and is in state %d", s->id, ret, st);
}

void expect_fds_back(struct campaign *c)
{
    int now;

    for (int i = 0; i < 2; i++) {
        struct server *s = &c->srv[i];

        if (server_fds_settled(s, proc_budget(2000), &now))
            fail_msg("server %u keeps %d descriptors, %d with no client",
                     s->id, now, s->fd_baseline);
    }
}

/* ---- the documented commands --------------------------------------------- */

static void device_command(const char *mode, struct server *s, int want_exit,
                           const char *want_result)
{
    char *args[] = { (char *)mode, s->sock, "--json", NULL };
    struct tool_run r;

    assert_int_equal(tool_run(args, &r, proc_budget(10000)), 0);
    if (tool_exit(&r) != want_exit ||
        strcmp(tool_jstr(&r, "result"), want_result) ||
        strcmp(tool_jstr(&r, "state_after"), "RUNNING"))
        fail_msg("%s %s: exit %d: %s%s(wanted exit %d, %s)", mode, s->sock,
                 tool_exit(&r), r.out ? r.out : "", r.err ? r.err : "",
                 want_exit, want_result);
    tool_run_free(&r);
}

void recover_source(struct campaign *c, struct server *s)
{
    device_command("--recover", s, 0, "running");
    expect_image(s, c->life.image, c->life.image_len,
                 "the source's own, after --recover");
}

void discard(struct campaign *c, struct server *s)
{
    device_command("--discard", s, 0, "reset");
    expect_image(s, c->powerup, c->powerup_len,
                 "the power-on one, after --discard");
}

/* ---- migrations ---------------------------------------------------------- */

static void args_for(const struct campaign *c, unsigned int config,
                     char **args, const char *src, const char *dst)
{
    int n = 0;

    args[n++] = "--json";
    args[n++] = "--chunk";
    args[n++] = (char *)c->kind->chunk[config];
    args[n++] = "--timeout";
    args[n++] = proc_valgrind_wanted() ? "60000" : "3000";
    for (int i = 0; configs[config].args[i]; i++)
        args[n++] = (char *)configs[config].args[i];
    args[n++] = (char *)src;
    args[n++] = (char *)dst;
    args[n] = NULL;
}

/* The tool, if it is the victim, is filled in here.  On return the
 * proxies are done and the tool reaped; a killed server is not. */
void migrate_via_proxies(struct campaign *c, unsigned int config,
                         struct fault_plan *plan, struct outcome *o)
{
    bool tool_victim = plan->kind == FAULT_KILL &&
                       plan->victim_side == VICTIM_TOOL;
    char psrc[96], pdst[96];
    struct proxy *ps, *pd;
    struct proc tool;
    char *args[20];
    int ret, gone;

    memset(&tool, 0, sizeof(tool));
    tool.pidfd = -1;
    if (tool_victim)
        plan->victim = &tool;
    snprintf(psrc, sizeof(psrc), "%s/proxy-src.sock", c->dir);
    snprintf(pdst, sizeof(pdst), "%s/proxy-dst.sock", c->dir);
    fault_run_init(&o->run, UVFIO_MIG_STATE_RUNNING, state_of(spare(c)),
                   plan);
    assert_int_equal(proxy_start(&ps, &o->run, SIDE_SRC, psrc,
                                 home(c)->sock), 0);
    assert_int_equal(proxy_start(&pd, &o->run, SIDE_DST, pdst,
                                 spare(c)->sock), 0);
    args_for(c, config, args, psrc, pdst);
    /* the proxies read the victim's pid under this lock */
    pthread_mutex_lock(&o->run.lock);
    ret = tool_spawn(&tool, args);
    pthread_mutex_unlock(&o->run.lock);
    assert_int_equal(ret, 0);

    /* The proxies let go once the tool is gone; reaping it waits for
     * them, as a proxy may still be watching its pidfd. */
    gone = proc_wait_gone(&tool, proc_budget(20000));
    assert_int_equal(proxy_finish(ps, proc_budget(5000)), 0);
    assert_int_equal(proxy_finish(pd, proc_budget(5000)), 0);
    assert_int_equal(tool_collect(&tool, &o->tool, proc_budget(1000),
                                  tool_victim), 0);
    if (gone)
        fail_msg("uvfio-migrate did not end: %s", o->tool.err);
    if (!tool_victim && o->tool.ms > proc_budget(TOOL_TIMEOUT_MS - 500))
        fail_msg("uvfio-migrate took %lld ms: it waited for a timeout "
                 "instead of seeing the fault", o->tool.ms);
}

void outcome_free(struct outcome *o)
{
    tool_run_free(&o->tool);
    fault_run_destroy(&o->run);
}

void migrate_ok(struct campaign *c, unsigned int config)
{
    char *args[20];
    struct tool_run r;

    args_for(c, config, args, home(c)->sock, spare(c)->sock);
    assert_int_equal(tool_run(args, &r, proc_budget(20000)), 0);
    if (tool_exit(&r) != 0 || strcmp(tool_jstr(&r, "source_after"),
                                      "stopped"))
        fail_msg("a migration (%s) that should work failed: exit %d: "
                 "%s%s", configs[config].name, tool_exit(&r),
                 r.out ? r.out : "", r.err ? r.err : "");
    tool_run_free(&r);
    expect_image(spare(c), c->life.image, c->life.image_len,
                 "the migrated one");
    assert_int_equal(state_of(home(c)), UVFIO_MIG_STATE_STOP);
    c->home = !c->home;
}

void reference(struct campaign *c, unsigned int config)
{
    struct fault_plan none = { .kind = FAULT_NONE };
    struct outcome o;

    new_life(c);
    migrate_via_proxies(c, config, &none, &o);
    if (tool_exit(&o.tool) != 0)
        fail_msg("reference migration (%s): exit %d: %s",
                 configs[config].name, tool_exit(&o.tool), o.tool.err);
    memcpy(c->ref[config], o.run.count, sizeof(c->ref[config]));
    printf("%s: reference %-9s messages per phase (source+destination):",
           c->kind->name, configs[config].name);
    for (int p = 0; p < PH_COUNT; p++)
        printf(" %s %u+%u", phase_name(p), o.run.count[p][SIDE_SRC],
               o.run.count[p][SIDE_DST]);
    printf("\n");
    outcome_free(&o);
    expect_image(spare(c), c->life.image, c->life.image_len,
                 "the migrated one");
    c->home = !c->home;
}
