// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_cli.c - uvfio-migrate --guest-memory, the real
 * program between real uvfio-edu servers: in one process and as two
 * processes over TCP, its JSON, its exit statuses, what it refuses, what
 * it does when the verification fails, the wrong device answers, or
 * SIGINT arrives mid-precopy.  With UVFIO_VALGRIND=1 (the 'valgrind'
 * registration) every uvfio-migrate runs under valgrind.
 */
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "lm_fixture.h"

#define RUN_MS          (child_valgrind_wanted() ? 240000 : 30000)

struct world {
    struct lm_server a, b;
    char dir[64];
    unsigned int logs;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));

    if (!w)
        return -1;
    lm_mkdir(w->dir, sizeof(w->dir));
    *state = w;
    if (lm_server_start(&w->a, lm_edu_bin, w->dir, "a", NULL, false) ||
        lm_server_start(&w->b, lm_edu_bin, w->dir, "b", NULL, false))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    int r = lm_server_stop(&w->a);

    r |= lm_server_stop(&w->b);
    lm_rmdir(w->dir);
    free(w);
    return r ? -1 : 0;
}

/* ---- running the program ------------------------------------------------ */

struct run {
    struct child ch;
    char log[160];
    int status;                 /* exit status, or -1 */
    char *out;                  /* stdout and stderr */
    struct json_object *json;   /* the JSON line, if any */
};

static void run_start(struct world *w, struct run *r, const char *const *args)
{
    char *argv[40];
    int n = 0;

    argv[n++] = (char *)lm_migrate_bin;
    while (*args && n < 39)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    memset(r, 0, sizeof(*r));
    snprintf(r->log, sizeof(r->log), "%s/migrate-%u.log", w->dir, w->logs++);
    assert_int_equal(child_start(&r->ch, argv, r->log, true), 0);
}

static void run_wait(struct run *r)
{
    const char *line;
    int st = 0;

    assert_int_equal(child_wait(&r->ch, RUN_MS, &st), 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = slurp(r->log);
    assert_non_null(r->out);
    line = strstr(r->out, "{\"result\"");
    if (line)
        r->json = json_tokener_parse(line);
}

static void run(struct world *w, struct run *r, const char *const *args)
{
    run_start(w, r, args);
    run_wait(r);
}

static void run_free(struct run *r)
{
    json_object_put(r->json);
    free(r->out);
}

/* A JSON value by path ("verification.memory.pages"). */
static struct json_object *get(struct json_object *o, const char *path)
{
    char key[64];
    const char *dot;

    while (o && *path) {
        dot = strchr(path, '.');
        snprintf(key, sizeof(key), "%.*s",
                 (int)(dot ? (size_t)(dot - path) : strlen(path)), path);
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, strtoul(key, NULL, 10));
        else if (!json_object_object_get_ex(o, key, &o))
            return NULL;
        path = dot ? dot + 1 : "";
    }
    return o;
}

static int64_t get_int(struct run *r, const char *path)
{
    struct json_object *v = get(r->json, path);

    if (!v)
        fail_msg("no %s in: %s", path, r->out);
    return json_object_get_int64(v);
}

static const char *get_str(struct run *r, const char *path)
{
    struct json_object *v = get(r->json, path);

    return v ? json_object_get_string(v) : "(none)";
}

static bool get_bool(struct run *r, const char *path)
{
    return json_object_get_boolean(get(r->json, path));
}

static void expect_status(struct run *r, int status)
{
    if (r->status != status)
        fail_msg("exit status %d, wanted %d; output:\n%s", r->status,
                 status, r->out);
}

static void expect_state(const char *path, enum uvfio_mig_state want)
{
    enum uvfio_mig_state st = UVFIO_MIG_STATE_ERROR;

    assert_int_equal(lm_device_state(path, &st), 0);
    assert_int_equal(st, want);
}

/* Bring a device back to RUNNING between attempts (reset if it refuses). */
static void put_running(const char *path)
{
    struct uvfio_client_opts o = { .timeout_ms = 5000 };
    struct uvfio_client *c;

    assert_int_equal(uvfio_client_connect(path, &o, &c), 0);
    if (uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING))
        assert_int_equal(uvfio_client_reset(c), 0);
    uvfio_client_close(c);
    expect_state(path, UVFIO_MIG_STATE_RUNNING);
}

/* ---- migrations --------------------------------------------------------- */

static void test_local_json(void **state)
{
    struct world *w = *state;
    const char *args[] = { "--json", "--guest-memory", "16M",
                           "--guest-write-rate", "64", "--device-dma-rate",
                           "64", "--downtime-ms", "50", w->a.path, w->b.path,
                           NULL };
    struct run r;

    run(w, &r, args);
    expect_status(&r, 0);
    assert_non_null(r.json);
    assert_string_equal(get_str(&r, "result"), "migrated");
    assert_string_equal(get_str(&r, "mode"), "live");
    assert_string_equal(get_str(&r, "role"), "both");
    assert_true(get_bool(&r, "verified"));
    assert_true(get_bool(&r, "verification.memory.identical"));
    assert_true(get_bool(&r, "verification.device.identical"));
    assert_int_equal(get_int(&r, "verification.memory.pages"), 4096);
    assert_int_equal(get_int(&r, "verification.memory.differing_pages"), 0);
    assert_int_equal(get_int(&r, "guest_memory"), 16 << 20);
    assert_int_equal(get_int(&r, "device_dma_rate"), 64 << 20);
    assert_true(json_object_array_length(get(r.json, "rounds")) >= 1);
    assert_int_equal(get_int(&r, "rounds.0.pages") >= 0, 1);
    assert_string_equal(get_str(&r, "source_after"), "stopped");
    assert_string_equal(get_str(&r, "destination_after"), "running");
    assert_true(get(r.json, "downtime_breakdown.send_ms") != NULL);
    assert_null(get(r.json, "error"));
    expect_state(w->a.path, UVFIO_MIG_STATE_STOP);
    expect_state(w->b.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&r);
}

/*
 * The summary, with the synchronous tracker - except under valgrind, which
 * runs one thread at a time: a guest thread stopped in a userfaultfd fault
 * keeps the thread that would resolve it from ever running.
 */
static void test_local_text_sync(void **state)
{
    struct world *w = *state;
    bool vg = child_valgrind_wanted();
    const char *args[] = { "--guest-memory", "8M", "--guest-write-rate",
                           "32", "--write-tracker", vg ? "async" : "sync",
                           w->a.path, w->b.path, NULL };
    struct run r;

    run(w, &r, args);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "live-migrated"));
    assert_non_null(strstr(r.out, vg ? "found by uffd-wp-async," :
                                       "found by uffd-wp,"));
    assert_non_null(strstr(r.out, "verified   memory: 2048 pages identical"));
    run_free(&r);
}

/* --no-precopy: memory in rounds, the device's state only at the stop
 * (the device stays RUNNING, not PRE_COPY, while memory is copied). */
static void test_device_state_at_stop_only(void **state)
{
    struct world *w = *state;
    const char *args[] = { "--json", "--no-precopy", "--guest-memory", "8M",
                           "--guest-write-rate", "32", "--device-dma-rate",
                           "32", "--downtime-ms", "5", w->a.path, w->b.path,
                           NULL };
    struct run r;

    run(w, &r, args);
    expect_status(&r, 0);
    assert_false(get_bool(&r, "precopy"));
    assert_true(get_bool(&r, "verified"));
    assert_int_equal(get_int(&r, "rounds.0.device_bytes"), 0);
    assert_true(get_int(&r, "final_device_bytes") > 0);
    run_free(&r);
}

/* --corrupt-dest-page: the verifier names the page, the destination is
 * reset, the source runs on with its state. */
static void test_verification_catches_damage(void **state)
{
    struct world *w = *state;
    const char *args[] = { "--json", "--guest-memory", "8M",
                           "--guest-write-rate", "16", "--corrupt-dest-page",
                           "7", w->a.path, w->b.path, NULL };
    struct json_object *list;
    struct run r;

    run(w, &r, args);
    expect_status(&r, 1);
    assert_string_equal(get_str(&r, "result"), "failed");
    assert_false(get_bool(&r, "verified"));
    assert_false(get_bool(&r, "verification.memory.identical"));
    assert_true(get_bool(&r, "verification.device.identical"));
    assert_int_equal(get_int(&r, "verification.memory.differing_pages"), 1);
    assert_int_equal(get_int(&r, "verification.memory."
                             "first_differing_address"), 7 * 4096);
    list = get(r.json, "verification.memory.differing_page_list");
    assert_int_equal(json_object_array_length(list), 1);
    assert_int_equal(json_object_get_int64(json_object_array_get_idx(list,
                                                                     0)), 7);
    assert_int_equal(get_int(&r, "error.errno"), EBADMSG);
    assert_string_equal(get_str(&r, "source_after"), "running");
    assert_non_null(strstr(r.out, "MISMATCH   memory: 1 of 2048 pages "
                           "differ; first at guest address 0x7000"));
    expect_state(w->a.path, UVFIO_MIG_STATE_RUNNING);
    expect_state(w->b.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&r);
}

static unsigned int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void tcp_pair(struct world *w, struct run *src, struct run *dst,
                     const char *src_mem, const char *dst_mem)
{
    char to[64], in[64];
    unsigned int port = free_port();
    const char *dargs[] = { "--json", "--incoming", in, dst_mem ? "--guest-"
                            "memory" : w->b.path, dst_mem ? dst_mem : NULL,
                            dst_mem ? w->b.path : NULL, NULL };
    const char *sargs[] = { "--json", "--guest-memory", src_mem,
                            "--guest-write-rate", "32", "--device-dma-rate",
                            "32", "--to", to, w->a.path, NULL };

    snprintf(to, sizeof(to), "tcp:127.0.0.1:%u", port);
    snprintf(in, sizeof(in), "tcp:127.0.0.1:%u", port);
    run_start(w, dst, dargs);
    run_start(w, src, sargs);
    run_wait(src);
    run_wait(dst);
}

static void test_tcp_two_processes(void **state)
{
    struct world *w = *state;
    struct run src, dst;

    expect_state(w->a.path, UVFIO_MIG_STATE_RUNNING);
    tcp_pair(w, &src, &dst, "16M", NULL);
    expect_status(&src, 0);
    expect_status(&dst, 0);
    assert_string_equal(get_str(&src, "role"), "source");
    assert_string_equal(get_str(&dst, "role"), "destination");
    assert_true(get_bool(&src, "verified"));
    assert_true(get_bool(&dst, "verified"));
    assert_int_equal(get_int(&dst, "guest_memory"), 16 << 20);
    assert_string_equal(get_str(&src, "verification.memory.digest"),
                        get_str(&dst, "verification.memory.digest"));
    expect_state(w->a.path, UVFIO_MIG_STATE_STOP);
    expect_state(w->b.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&src);
    run_free(&dst);
}

/* Each end states its memory size: a mismatch is refused before the
 * source changes anything. */
static void test_tcp_memory_mismatch(void **state)
{
    struct world *w = *state;
    struct run src, dst;

    tcp_pair(w, &src, &dst, "16M", "8M");
    expect_status(&src, 1);
    expect_status(&dst, 1);
    assert_string_equal(get_str(&src, "source_after"), "untouched");
    assert_non_null(strstr(get_str(&src, "error.step"), "guest memory"));
    assert_int_equal(get_int(&src, "error.errno"), EINVAL);
    expect_state(w->a.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&src);
    run_free(&dst);
}

/* A uvfio-serial where a uvfio-edu is expected refuses the data; the
 * source goes back to RUNNING with its state. */
static void test_wrong_destination_device(void **state)
{
    struct world *w = *state;
    struct lm_server serial;
    struct run r;

    assert_int_equal(lm_server_start(&serial, lm_serial_bin, w->dir,
                                     "serial", "--chardev=null", false), 0);
    {
        const char *args[] = { "--json", "--guest-memory", "8M",
                               w->a.path, serial.path, NULL };

        run(w, &r, args);
    }
    assert_int_equal(lm_server_stop(&serial), 0);
    expect_status(&r, 1);
    assert_true(get_bool(&r, "error.destination_failed"));
    assert_string_equal(get_str(&r, "source_after"), "running");
    expect_state(w->a.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&r);
}

/* Device DMA is uvfio-edu's copy queue: another device is refused before
 * anything changes. */
static void test_device_dma_needs_edu(void **state)
{
    struct world *w = *state;
    struct lm_server serial;
    struct run r;

    assert_int_equal(lm_server_start(&serial, lm_serial_bin, w->dir,
                                     "serial2", "--chardev=null", false), 0);
    {
        const char *args[] = { "--guest-memory", "8M", "--device-dma-rate",
                               "8", serial.path, w->b.path, NULL };

        run(w, &r, args);
    }
    assert_int_equal(lm_server_stop(&serial), 0);
    expect_status(&r, 1);
    assert_non_null(strstr(r.out, "needs a uvfio-edu device"));
    assert_non_null(strstr(r.out, "was not changed"));
    run_free(&r);
}

/* A device that rewrites its whole window faster than any round can send
 * it never converges under a 1 ms budget: SIGINT ends the migration and
 * the source runs on.  Returns whether the premise held: on a loaded host
 * the device's copy thread can be starved for a round, which then fits
 * the budget - the SIGINT lands in the stop instead, and the scenario is
 * not the one this test is about. */
static bool sigint_mid_precopy_once(struct world *w)
{
    const char *args[] = { "--json", "--progress", "--guest-memory", "16M",
                           "--guest-write-rate", "1024", "--device-dma-rate",
                           "16G", "--device-dma-window", "12M",
                           "--downtime-ms", "1", "--max-iterations",
                           "1000000", w->a.path, w->b.path, NULL };
    uint64_t t0;
    char *log;
    struct run r;
    bool converged, ended = false;

    run_start(w, &r, args);
    t0 = lm_now_ms();
    for (;;) {
        log = slurp(r.log);
        if (log && strstr(log, "precopy #3"))
            break;
        /* Over before round 3 (the device starved, a round fit the
         * budget): not the scenario either - waiting for round 3 then
         * only ran into the timeout. */
        ended = log && strstr(log, "{\"result\"");
        free(log);
        log = NULL;
        if (ended)
            break;
        if (lm_now_ms() - t0 > (uint64_t)RUN_MS)
            fail_msg("precopy never reached round 3");
        usleep(20000);
    }
    free(log);
    if (!ended)
        kill(r.ch.pid, SIGINT);
    run_wait(&r);
    converged = r.json && get_bool(&r, "converged");
    if (ended || converged) {
        /* The premise did not hold: both devices back to RUNNING (the
         * source may have been stopped by a completed migration) for the
         * next attempt. */
        put_running(w->a.path);
        put_running(w->b.path);
        run_free(&r);
        return false;
    }
    expect_status(&r, 1);
    assert_int_equal(get_int(&r, "error.errno"), EINTR);
    assert_string_equal(get_str(&r, "source_after"), "running");
    expect_state(w->a.path, UVFIO_MIG_STATE_RUNNING);
    expect_state(w->b.path, UVFIO_MIG_STATE_RUNNING);
    run_free(&r);
    return true;
}

static void test_sigint_mid_precopy(void **state)
{
    bool mid_precopy = false;

    for (int attempt = 0; attempt < 3 && !mid_precopy; attempt++)
        mid_precopy = sigint_mid_precopy_once(*state);
    assert_true(mid_precopy);
}

/* ---- what the command line refuses -------------------------------------- */

static void test_usage_errors(void **state)
{
    struct world *w = *state;
    const char *a = w->a.path, *b = w->b.path;
    const char *bad[][12] = {
        { "--to", "tcp:127.0.0.1:5000", a },            /* no memory */
        { "--guest-memory", "8M", "--to", "tcp:h:1", "--incoming",
          "tcp::1", a },                                /* both ends */
        { "--guest-memory", "5000", a, b },             /* not 4K */
        { "--guest-memory", "2T", a, b },               /* too much */
        { "--guest-memory", "8M", "--threshold", "1K", a, b },
        { "--guest-memory", "8M", "--chunk", "4K", a, b },
        { "--guest-memory", "8M", "--max-xfer", "64K", a, b },
        { "--guest-memory", "8M", a },                  /* one socket */
        { "--guest-memory", "8M", "--to", "tcp:h:1", a, b },
        { "--guest-memory", "8M", "--to", "udp:h:1", a },
        { "--guest-memory", "8M", "--to", "tcp::1", a },    /* no host */
        { "--incoming", "tcp:127.0.0.1:0", b },         /* port 0 */
        { "--incoming", "tcp:127.0.0.1:70000", b },
        { "--guest-memory", "8M", "--device-dma-window", "1M", a, b },
        { "--guest-memory", "8M", "--write-tracker", "magic", a, b },
        { "--guest-memory", "8M", "--guest-write-rate", "fast", a, b },
        { "--guest-memory", "8M", "--guest-write-rate", "17G", a, b },
        { "--guest-memory", "8M", "--downtime-ms", "0", a, b },
        { "--guest-memory", "8M", a, a },               /* same socket */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct run r;

        run(w, &r, bad[i]);
        if (r.status != 2)
            fail_msg("command line %zu: status %d, wanted 2:\n%s", i,
                     r.status, r.out);
        run_free(&r);
    }
    /* nothing was touched */
    expect_state(a, UVFIO_MIG_STATE_RUNNING);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_local_json),
        T(test_local_text_sync),
        T(test_device_state_at_stop_only),
        T(test_verification_catches_damage),
        T(test_tcp_two_processes),
        T(test_tcp_memory_mismatch),
        T(test_wrong_destination_device),
        T(test_device_dma_needs_edu),
        T(test_sigint_mid_precopy),
        T(test_usage_errors),
    };
#undef T

    lm_args(argc, argv);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
