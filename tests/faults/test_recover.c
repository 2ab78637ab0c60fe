// SPDX-License-Identifier: MIT
/*
 * tests/faults/test_recover.c - uvfio-migrate --state, --recover and
 * --discard against a real uvfio-serial left, by a client that went away
 * mid-migration, in each migration state (docs/migration-faults.md).
 *
 * What a detach leaves is the core's promise: the migration state as the
 * last request left it (--state shows it), the device's own state intact
 * (--recover brings it back to RUNNING with its image byte for byte), and
 * a RESUMING device whose session is gone never running what it was fed -
 * not even a whole image (--recover has to reset it: the power-on image).
 */
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

#include "rig.h"
#include "tool.h"

static char *serial_bin, *migrate_bin;

struct rig {
    char dir[64];
    struct server srv, peer;
    bool peer_on;
    struct life life;
    uint8_t *powerup;
    size_t powerup_len;
};

/* No asserts here: a setup that fails gets no teardown, so it cleans up
 * after itself. */
static int rig_setup(void **state)
{
    struct rig *r = calloc(1, sizeof(*r));
    int ret;

    if (!r)
        return -1;
    strcpy(r->dir, "/tmp/uvfio-recover-XXXXXX");
    if (!mkdtemp(r->dir)) {
        free(r);
        return -1;
    }
    tool_setup(migrate_bin, r->dir);
    ret = server_start(&r->srv, &kind_serial, r->dir, serial_bin, 0);
    if (!ret)
        ret = rig_snapshot(r->srv.sock, &r->powerup, &r->powerup_len);
    if (!ret)
        ret = rig_personalize(&r->srv, &r->life, 0x5eed);
    if (ret) {
        fprintf(stderr, "setup: %s\n", strerror(-ret));
        if (r->srv.proc.pid > 0)
            server_stop(&r->srv);
        life_clear(&r->life);
        free(r->powerup);
        rmdir(r->dir);
        free(r);
        return -1;
    }
    *state = r;
    return 0;
}

/* The server ends on SIGTERM with status 0: no leak, no error. */
static int rig_teardown(void **state)
{
    struct rig *r = *state;
    int ret = server_stop(&r->srv), ret2 = 0;

    if (r->peer_on)
        ret2 = server_stop(&r->peer);
    life_clear(&r->life);
    free(r->powerup);
    rmdir(r->dir);
    free(r);
    assert_int_equal(ret, 0);
    assert_int_equal(ret2, 0);
    return 0;
}

/* ---- leaving a device half-way ------------------------------------------- */

static struct uvfio_client *client(struct rig *r)
{
    struct uvfio_client *c = rig_connect(r->srv.sock);

    assert_non_null(c);
    return c;
}

static void set(struct uvfio_client *c, enum uvfio_mig_state s)
{
    assert_int_equal(uvfio_client_mig_set_state(c, s), 0);
}

/* A client takes the device to `s`, reads a little of a saving stream,
 * and goes away. */
static void leave_saving(struct rig *r, enum uvfio_mig_state s)
{
    struct uvfio_client *c = client(r);
    uint8_t buf[8];

    set(c, s);
    if (s == UVFIO_MIG_STATE_PRE_COPY || s == UVFIO_MIG_STATE_STOP_COPY)
        assert_true(uvfio_client_mig_read(c, buf, sizeof(buf)) > 0);
    uvfio_client_close(c);
}

/* A client starts loading `n` bytes of `img` and goes away. */
static void leave_resuming(struct rig *r, const uint8_t *img, size_t n)
{
    struct uvfio_client *c = client(r);

    set(c, UVFIO_MIG_STATE_STOP);
    set(c, UVFIO_MIG_STATE_RESUMING);
    if (n)
        assert_int_equal(uvfio_client_mig_write(c, img, n), 0);
    uvfio_client_close(c);
}

/* ---- running the commands ------------------------------------------------ */

static void run(struct tool_run *t, const char *mode, const char *sock,
                const char *extra)
{
    char *args[] = { (char *)mode, (char *)sock, "--json", (char *)extra,
                     NULL };

    assert_int_equal(tool_run(args, t, proc_budget(10000)), 0);
    if (!t->json)
        fail_msg("%s %s printed no JSON: %s%s", mode, sock,
                 t->out ? t->out : "", t->err ? t->err : "");
}

static void expect_json(struct tool_run *t, int status, const char *result,
                        const char *before, const char *action)
{
    if (tool_exit(t) != status || strcmp(tool_jstr(t, "result"), result) ||
        strcmp(tool_jstr(t, "state_before"), before) ||
        (action && strcmp(tool_jstr(t, "action"), action)))
        fail_msg("wanted exit %d, %s from %s by %s; got %s%s", status,
                 result, before, action ? action : "-", t->out, t->err);
}

static void expect_state(struct rig *r, const char *name)
{
    struct tool_run t;

    run(&t, "--state", r->srv.sock, NULL);
    expect_json(&t, 0, "state", name, NULL);
    tool_run_free(&t);
}

static void expect_image(struct rig *r, const uint8_t *img, size_t len)
{
    uint8_t *now = NULL;
    size_t n = 0;

    assert_int_equal(rig_snapshot(r->srv.sock, &now, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(now, img, len);
    free(now);
}

/* The state survives the detach; --recover walks back, image intact. */
static void recovers_by_route(struct rig *r, enum uvfio_mig_state s,
                              const char *name)
{
    struct tool_run t;

    leave_saving(r, s);
    expect_state(r, name);
    run(&t, "--recover", r->srv.sock, NULL);
    expect_json(&t, 0, "running", name, "route");
    assert_string_equal(tool_jstr(&t, "state_after"), "RUNNING");
    tool_run_free(&t);
    expect_image(r, r->life.image, r->life.image_len);
}

/* ---- tests --------------------------------------------------------------- */

static void test_recover_saving_states(void **state)
{
    struct rig *r = *state;

    recovers_by_route(r, UVFIO_MIG_STATE_PRE_COPY, "PRE_COPY");
    recovers_by_route(r, UVFIO_MIG_STATE_PRE_COPY_P2P, "PRE_COPY_P2P");
    recovers_by_route(r, UVFIO_MIG_STATE_STOP_COPY, "STOP_COPY");
}

static void test_recover_stopped_states(void **state)
{
    struct rig *r = *state;

    recovers_by_route(r, UVFIO_MIG_STATE_STOP, "STOP");
    recovers_by_route(r, UVFIO_MIG_STATE_RUNNING_P2P, "RUNNING_P2P");
}

static void test_recover_running_is_a_no_op(void **state)
{
    struct rig *r = *state;
    struct tool_run t;

    run(&t, "--recover", r->srv.sock, NULL);
    expect_json(&t, 0, "running", "RUNNING", "none");
    tool_run_free(&t);
    expect_image(r, r->life.image, r->life.image_len);
}

/*
 * A destination whose loader went away: refused back to RUNNING whatever
 * it got - nothing, half an image, a whole one - so --recover resets it,
 * and what it runs is the power-on device, never the image.
 */
static void test_recover_resets_a_dead_resume(void **state)
{
    struct rig *r = *state;
    struct life other = { 0 };
    size_t cut[3];
    struct tool_run t;

    /* an image of another configuration of the same device */
    memcpy(other.held, r->life.held, r->life.held_len);
    other.held_len = r->life.held_len;
    assert_int_equal(rig_personalize(&r->srv, &other, 0xbeef), 0);
    cut[0] = 0;
    cut[1] = other.image_len / 2;
    cut[2] = other.image_len;
    for (int i = 0; i < 3; i++) {
        leave_resuming(r, other.image, cut[i]);
        expect_state(r, "RESUMING");
        run(&t, "--recover", r->srv.sock, NULL);
        expect_json(&t, 3, "reset", "RESUMING", "reset");
        assert_string_equal(tool_jstr(&t, "route_error"),
                            "Invalid argument");
        assert_string_equal(tool_jstr(&t, "state_after"), "RUNNING");
        tool_run_free(&t);
        expect_image(r, r->powerup, r->powerup_len);
    }
    life_clear(&other);
}

static void test_discard(void **state)
{
    struct rig *r = *state;
    struct tool_run t;

    leave_saving(r, UVFIO_MIG_STATE_STOP_COPY);
    run(&t, "--discard", r->srv.sock, NULL);
    expect_json(&t, 0, "reset", "STOP_COPY", "reset");
    tool_run_free(&t);
    expect_image(r, r->powerup, r->powerup_len);
}

/* Without --json: one line saying what was done. */
static void test_text(void **state)
{
    struct rig *r = *state;
    char *args[] = { "--recover", r->srv.sock, NULL };
    char *sargs[] = { "--state", r->srv.sock, NULL };
    struct tool_run t;

    leave_saving(r, UVFIO_MIG_STATE_PRE_COPY_P2P);
    assert_int_equal(tool_run(sargs, &t, proc_budget(10000)), 0);
    assert_int_equal(tool_exit(&t), 0);
    assert_non_null(strstr(t.out, ": PRE_COPY_P2P (migration flags 0x7: "
                                  "STOP_COPY P2P PRE_COPY)"));
    tool_run_free(&t);
    assert_int_equal(tool_run(args, &t, proc_budget(10000)), 0);
    assert_int_equal(tool_exit(&t), 0);
    assert_non_null(strstr(t.out, ": PRE_COPY_P2P -> RUNNING: device "
                                  "state kept"));
    tool_run_free(&t);
}

/* A source left half-way is not migrated again until it is recovered. */
static void test_migrate_after_recover(void **state)
{
    struct rig *r = *state;
    char *margs[] = { "--json", r->srv.sock, r->peer.sock, NULL };
    struct tool_run t;
    uint8_t *img = NULL;
    size_t n = 0;

    assert_int_equal(server_start(&r->peer, &kind_serial, r->dir,
                                  serial_bin, 1), 0);
    r->peer_on = true;
    leave_saving(r, UVFIO_MIG_STATE_STOP_COPY);
    assert_int_equal(tool_run(margs, &t, proc_budget(20000)), 0);
    assert_int_equal(tool_exit(&t), 1);
    assert_non_null(strstr(tool_jstep(&t), "not RUNNING"));
    assert_string_equal(tool_jstr(&t, "source_after"), "untouched");
    tool_run_free(&t);

    run(&t, "--recover", r->srv.sock, NULL);
    expect_json(&t, 0, "running", "STOP_COPY", "route");
    tool_run_free(&t);
    assert_int_equal(tool_run(margs, &t, proc_budget(20000)), 0);
    assert_int_equal(tool_exit(&t), 0);
    tool_run_free(&t);
    assert_int_equal(rig_snapshot(r->peer.sock, &img, &n), 0);
    assert_int_equal(n, r->life.image_len);
    assert_memory_equal(img, r->life.image, n);
    free(img);
}

/* Nothing there, or somebody else attached: exit 1, saying why. */
static void test_unreachable(void **state)
{
    struct rig *r = *state;
    char missing[128];
    struct uvfio_client *busy;
    struct tool_run t;

    snprintf(missing, sizeof(missing), "%s/nothing.sock", r->dir);
    run(&t, "--recover", missing, NULL);
    assert_int_equal(tool_exit(&t), 1);
    assert_string_equal(tool_jstr(&t, "result"), "failed");
    assert_non_null(strstr(tool_jstep(&t), "connecting to"));
    tool_run_free(&t);

    busy = client(r);
    {
        char *args[] = { "--discard", r->srv.sock, "--json", "--timeout",
                         "300", NULL };

        assert_int_equal(tool_run(args, &t, proc_budget(10000)), 0);
    }
    uvfio_client_close(busy);
    assert_int_equal(tool_exit(&t), 1);
    assert_non_null(strstr(tool_jstep(&t), "another client attached"));
    tool_run_free(&t);
    /* and nothing was done to the device */
    expect_image(r, r->life.image, r->life.image_len);
}

static void test_usage(void **state)
{
    struct rig *r = *state;
    char *s = r->srv.sock;
    char *bad[][6] = {
        { "--recover", NULL },
        { "--recover", s, "extra", NULL },
        { "--recover", s, "--discard", s, NULL },
        { "--state", s, "--timeout", "0", NULL },
        { "--discard", s, "--timeout", "soon", NULL },
        { "--recover", s, "--threshold", "0", NULL },
    };
    char *help[] = { "--discard", s, "--help", NULL };
    struct tool_run t;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(tool_run(bad[i], &t, proc_budget(5000)), 0);
        if (tool_exit(&t) != 2)
            fail_msg("case %zu: exit %d, not 2", i, tool_exit(&t));
        tool_run_free(&t);
    }
    assert_int_equal(tool_run(help, &t, proc_budget(5000)), 0);
    assert_int_equal(tool_exit(&t), 0);
    assert_non_null(strstr(t.out, "--discard SOCKET"));
    tool_run_free(&t);
    /* none of that touched the device */
    expect_image(r, r->life.image, r->life.image_len);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)
        T(test_recover_saving_states),
        T(test_recover_stopped_states),
        T(test_recover_running_is_a_no_op),
        T(test_recover_resets_a_dead_resume),
        T(test_discard),
        T(test_text),
        T(test_migrate_after_recover),
        T(test_unreachable),
        T(test_usage),
#undef T
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s UVFIO_SERIAL UVFIO_MIGRATE\n", argv[0]);
        return 2;
    }
    serial_bin = argv[1];
    migrate_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
