// SPDX-License-Identifier: MIT
/*
 * tests/server/test_backend_run.c - uvfio_backend_run: a backend program
 * (backend_main below, built the way uvfio-serial and uvfio-edu are) run
 * in a child process, served on a socket path, on a listening --fd and on
 * a connected --fd, stopped by SIGTERM or SIGINT with exit status 0 and
 * its socket gone, its run-time errors with status 1 and their exact
 * words; and in this process, that the handlers it installs are put back
 * and that a second run at the same time is refused.
 *
 * The children are forks, not execs, so under the 'valgrind' registration
 * they run under valgrind too and a leak or error in them fails the test
 * (their exit status is valgrind's error code then).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fixture.h"
#include "testdev.h"

#define WAIT_MS 20000           /* generous: valgrind and a loaded machine */

static char dir[64], sock_path[128], log_path[128];

/* ---- the program ------------------------------------------------------ */

static int backend_main(int argc, char **argv)
{
    struct uvfio_backend b = {
        .name = "test-backend",
        .about = "The server tests' device.\n",
    };
    struct testdev td;
    int r;

    r = uvfio_backend_parse(&b, argc, argv);
    if (r)
        return r > 0 ? EXIT_SUCCESS : UVFIO_BACKEND_EXIT_USAGE;
    if (testdev_create(&td, "backend"))
        return UVFIO_BACKEND_EXIT_FAILURE;
    r = uvfio_backend_run(&b, td.dev);
    testdev_destroy(&td);
    return r ? UVFIO_BACKEND_EXIT_FAILURE : EXIT_SUCCESS;
}

/* The child keeps only stdio (both into log_path) and `keep_fd`. */
static void child(char **argv, int keep_fd, int block_stops)
{
    int argc = 0, fd;

    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(126);
    close(fd);
    /* valgrind's own fds are at the top of the range: not ours to close */
    for (fd = 3; fd < 256; fd++)
        if (fd != keep_fd)
            close(fd);
    if (block_stops) {
        sigset_t s;

        sigemptyset(&s);
        sigaddset(&s, SIGTERM);
        sigaddset(&s, SIGINT);
        sigprocmask(SIG_BLOCK, &s, NULL);
    }
    while (argv[argc])
        argc++;
    exit(backend_main(argc, argv));
}

static pid_t spawn(int keep_fd, int block_stops, ...)
{
    char *argv[8] = { "test-backend" };
    va_list ap;
    pid_t pid;
    int n = 1;

    va_start(ap, block_stops);
    while (n < 7 && (argv[n] = va_arg(ap, char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child(argv, keep_fd, block_stops);
    return pid;
}

/* Exit status, or -1 when it was killed or did not end in time. */
static int wait_exit(pid_t pid, int ms)
{
    int64_t end = fx_now_ms() + ms;
    int st;

    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (fx_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(2000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int stop(pid_t pid, int sig)
{
    kill(pid, sig);
    return wait_exit(pid, WAIT_MS);
}

/* Poll until a client negotiates on `path` (a socket file exists a
 * moment before its listen()). */
static struct uvfio_client *connect_path(const char *path)
{
    int64_t end = fx_now_ms() + WAIT_MS;
    struct uvfio_client_opts o = { .timeout_ms = WAIT_MS };
    struct uvfio_client *c = NULL;
    int r;

    while ((r = uvfio_client_connect(path, &o, &c)) < 0 &&
           fx_now_ms() < end)
        usleep(5000);
    assert_int_equal(r, 0);
    return c;
}

static void assert_serves(struct uvfio_client *c, uint64_t xfer)
{
    uint32_t v = 0x5a5aa5a5, back = 0;

    assert_int_equal(uvfio_client_caps(c)->max_data_xfer_size, xfer);
    assert_int_equal(uvfio_client_region_write(c, TD_REGS, 16, &v, 4), 4);
    assert_int_equal(uvfio_client_region_read(c, TD_REGS, 16, &back, 4), 4);
    assert_int_equal(back, v);
}

static void assert_log(const char *want)
{
    char got[1024];
    ssize_t n;
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    n = read(fd, got, sizeof(got) - 1);
    close(fd);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static int listening_socket(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/uvfio-backend-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/dev.sock", dir);
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(sock_path);
    unlink(log_path);
    return rmdir(dir);
}

/* ---- served on a path ------------------------------------------------- */

static void test_sigterm_on_path(void **state)
{
    char arg[160], want[200];
    struct uvfio_client *c;
    pid_t pid;

    (void)state;
    snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
    pid = spawn(-1, false, arg, "--max-xfer=64K", NULL);
    c = connect_path(sock_path);
    assert_serves(c, 64u << 10);
    /* the client is still attached when the stop comes */
    assert_int_equal(stop(pid, SIGTERM), 0);
    assert_false(exists(sock_path));
    assert_int_equal(uvfio_client_reset(c) < 0, 1);
    uvfio_client_close(c);
    snprintf(want, sizeof(want), "test-backend: listening on %s\n",
             sock_path);
    assert_log(want);
}

static void test_sigint_blocked_by_parent(void **state)
{
    char arg[160], want[200];
    struct uvfio_client *c;
    pid_t pid;

    (void)state;
    /* A parent that leaves the stop signals blocked must not make an
     * unstoppable server. */
    snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
    pid = spawn(-1, true, arg, NULL);
    c = connect_path(sock_path);
    assert_serves(c, 1u << 20);
    uvfio_client_close(c);
    assert_int_equal(stop(pid, SIGINT), 0);
    assert_false(exists(sock_path));
    snprintf(want, sizeof(want), "test-backend: listening on %s\n",
             sock_path);
    assert_log(want);
}

/* ---- served on an inherited fd ---------------------------------------- */

static void test_fd_listening(void **state)
{
    char arg[32];
    struct uvfio_client *c;
    int lfd = listening_socket(sock_path);
    pid_t pid;

    (void)state;
    snprintf(arg, sizeof(arg), "--fd=%d", lfd);
    pid = spawn(lfd, false, arg, "--max-xfer=128K", NULL);
    close(lfd);
    /* the backlog takes the connection even before the child listens */
    c = connect_path(sock_path);
    assert_serves(c, 128u << 10);
    uvfio_client_close(c);
    /* and it takes the next client */
    c = connect_path(sock_path);
    assert_serves(c, 128u << 10);
    uvfio_client_close(c);
    assert_int_equal(stop(pid, SIGTERM), 0);
    assert_log("");             /* nothing said on a good run with --fd */
}

static void test_fd_connected(void **state)
{
    struct uvfio_client_opts o = { .timeout_ms = WAIT_MS };
    struct uvfio_client *c = NULL;
    char arg[32];
    int sv[2];
    pid_t pid;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    snprintf(arg, sizeof(arg), "--fd=%d", sv[1]);
    /* CLOEXEC does not matter to a fork: the child keeps sv[1] */
    pid = spawn(sv[1], false, arg, NULL);
    close(sv[1]);
    assert_int_equal(uvfio_client_connect_fd(sv[0], &o, &c), 0);
    assert_serves(c, 1u << 20);
    assert_int_equal(stop(pid, SIGTERM), 0);
    assert_log("");
    /* the server's end went with it */
    assert_true(uvfio_client_reset(c) < 0);
    uvfio_client_close(c);
}

/* ---- run-time errors: status 1 and why -------------------------------- */

static void test_path_in_the_way(void **state)
{
    char arg[160], want[400];
    int fd = open(sock_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
    assert_int_equal(wait_exit(spawn(-1, false, arg, NULL), WAIT_MS), 1);
    snprintf(want, sizeof(want), "test-backend: cannot listen on %s: File "
             "exists (a file that is not a socket is in the way: remove it "
             "or choose another path)\n", sock_path);
    assert_log(want);
    assert_true(exists(sock_path));     /* someone else's: left alone */
}

static void test_fd_not_a_socket(void **state)
{
    char arg[32], want[160];
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    snprintf(arg, sizeof(arg), "--fd=%d", p[0]);
    assert_int_equal(wait_exit(spawn(p[0], false, arg, NULL), WAIT_MS), 1);
    close(p[0]);
    close(p[1]);
    snprintf(want, sizeof(want), "test-backend: cannot serve on fd %d: "
             "Socket operation on non-socket\n", p[0]);
    assert_log(want);
}

static void test_limits_do_not_fit(void **state)
{
    char arg[160];

    (void)state;
    /* each value alone is good; the queue cannot hold one 1M reply */
    snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
    assert_int_equal(wait_exit(spawn(-1, false, arg, "--max-queued-bytes=8K",
                                     NULL), WAIT_MS), 1);
    assert_log("test-backend: cannot create the server: Invalid argument\n");
    assert_false(exists(sock_path));
}

static void test_usage_and_help_status(void **state)
{
    (void)state;
    assert_int_equal(wait_exit(spawn(-1, false, NULL), WAIT_MS), 2);
    assert_log("test-backend: give exactly one of --socket-path=PATH and "
               "--fd=N\nTry 'test-backend --help'.\n");
    assert_int_equal(wait_exit(spawn(-1, false, "--help", NULL), WAIT_MS), 0);
}

/* ---- in this process -------------------------------------------------- */

static volatile sig_atomic_t old_handler_hits;

static void old_handler(int sig)
{
    (void)sig;
    old_handler_hits++;
}

struct run_arg {
    struct uvfio_backend *b;
    struct testdev *td;
    int ret;
};

static void *run_thread(void *p)
{
    struct run_arg *a = p;

    a->ret = uvfio_backend_run(a->b, a->td->dev);
    return NULL;
}

static void test_one_run_handlers_restored(void **state)
{
    struct uvfio_backend b = { .name = "test-backend" };
    struct sigaction sa = { .sa_handler = old_handler }, now;
    struct testdev td, td2;
    struct run_arg a = { &b, &td, -1 };
    char arg[160];
    char *argv[] = { "test-backend", arg, NULL };
    struct uvfio_client *c;
    pthread_t t;
    int fds = fx_count_fds();

    (void)state;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGTERM, &sa, NULL), 0);
    snprintf(arg, sizeof(arg), "--socket-path=%s", sock_path);
    assert_int_equal(uvfio_backend_parse(&b, 2, argv), 0);
    assert_int_equal(testdev_create(&td, "one"), 0);
    assert_int_equal(testdev_create(&td2, "two"), 0);
    assert_int_equal(pthread_create(&t, NULL, run_thread, &a), 0);
    c = connect_path(sock_path);
    assert_serves(c, 1u << 20);
    uvfio_client_close(c);

    assert_int_equal(uvfio_backend_run(&b, td2.dev), -EBUSY);
    assert_int_equal(uvfio_backend_run(NULL, td2.dev), -EINVAL);
    /* the stop handler, not ours, takes it while the run lasts */
    assert_int_equal(kill(getpid(), SIGTERM), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.ret, 0);
    assert_int_equal(old_handler_hits, 0);
    assert_false(exists(sock_path));

    /* ours again */
    assert_int_equal(sigaction(SIGTERM, NULL, &now), 0);
    assert_ptr_equal(now.sa_handler, old_handler);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(old_handler_hits, 1);
    signal(SIGTERM, SIG_DFL);
    testdev_destroy(&td);
    testdev_destroy(&td2);
    assert_int_equal(fx_count_fds(), fds);
}

static void test_run_misuse(void **state)
{
    struct uvfio_backend b = { .name = "x", .socket_path = "/tmp/x",
                               .fd = 3 };
    struct testdev td;

    (void)state;
    assert_int_equal(testdev_create(&td, "misuse"), 0);
    /* both or neither place to serve on: never parsed */
    assert_int_equal(uvfio_backend_run(&b, td.dev), -EINVAL);
    b.socket_path = NULL;
    b.fd = -1;
    assert_int_equal(uvfio_backend_run(&b, td.dev), -EINVAL);
    b.fd = 3;
    assert_int_equal(uvfio_backend_run(&b, NULL), -EINVAL);
    b.name = NULL;
    assert_int_equal(uvfio_backend_run(&b, td.dev), -EINVAL);
    testdev_destroy(&td);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_on_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_blocked_by_parent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fd_listening, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_connected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_in_the_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_not_a_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_do_not_fit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_help_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_run_handlers_restored, setup,
                                        teardown),
        cmocka_unit_test(test_run_misuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
