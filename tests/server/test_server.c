// SPDX-License-Identifier: MIT
/*
 * tests/server/test_server.c - the server object: options, sockets
 * (path, mode 0600, --fd listening or connected), the loop embedded in
 * the caller's poll, stopping from a signal handler, removing devices,
 * and the fairness of the loop between devices.
 *
 * Most tests here drive the loop themselves (no server thread), so what
 * the server does between two dispatch calls is exactly observable.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(fx_start(fx, NULL, 2, false), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    free(*state);
    return 0;
}

/* Dispatch as an embedding caller would - poll the server's fd, then
 * dispatch(0) - until `fd` is readable or the time is up. */
static bool pump_until_readable(struct uvfio_server *srv, int fd, int ms)
{
    int64_t deadline = fx_now_ms() + ms;
    struct pollfd pfd[2];

    while (fx_now_ms() < deadline) {
        pfd[0] = (struct pollfd){ uvfio_server_fd(srv), POLLIN, 0 };
        pfd[1] = (struct pollfd){ fd, POLLIN, 0 };
        if (poll(pfd, 2, 10) < 0)
            return false;
        if (pfd[1].revents)
            return true;
        if (pfd[0].revents & POLLIN)
            assert_true(uvfio_server_dispatch(srv, 0) >= 0);
    }
    return false;
}

/* Send a request and pump the loop until its reply is read. */
static int embedded_call(struct fixture *fx, struct tclient *tc,
                         uint16_t cmd, const void *p, size_t len,
                         struct uvfio_msg *out)
{
    uint16_t id = tc_send(tc, cmd, 0, p, len, NULL, 0);

    if (!pump_until_readable(fx->srv, tc->fd, 2000))
        return -ETIMEDOUT;
    return tc_wait(tc, id, out, 100);
}

static void embedded_hello_path(struct fixture *fx, const char *path,
                                struct tclient *tc)
{
    struct uvfio_wire_version v = { 0, 2 };
    struct uvfio_msg m;

    assert_int_equal(tc_connect(tc, path), 0);
    assert_int_equal(embedded_call(fx, tc, UVFIO_CMD_VERSION, &v, sizeof(v),
                                   &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
}

static void embedded_hello(struct fixture *fx, int dev, struct tclient *tc)
{
    embedded_hello_path(fx, fx->path[dev], tc);
}

static void embedded_rom_read(struct fixture *fx, struct tclient *tc)
{
    struct uvfio_wire_region_rw rw = { 0, TD_ROM, 4 };
    struct uvfio_msg m;

    assert_int_equal(embedded_call(fx, tc, UVFIO_CMD_REGION_READ, &rw,
                                   sizeof(rw), &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.payload[sizeof(rw)], 0xa5);
    uvfio_msg_free(&m);
}

/* ---- options ----------------------------------------------------------- */

static void test_options(void **state)
{
    struct uvfio_server_opts o;
    struct uvfio_server *srv;

    (void)state;
    o = (struct uvfio_server_opts){ .max_data_xfer_size = (64u << 20) + 1 };
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
    o = (struct uvfio_server_opts){ .max_msg_fds = 254 };
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
    /* A queue that cannot hold one full reply would drop good clients. */
    o = (struct uvfio_server_opts){ .max_queued_reply_bytes = 1u << 20 };
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
    o = (struct uvfio_server_opts){ .log_level = 99 };
    assert_int_equal(uvfio_server_create(&o, &srv), -EINVAL);
    o = (struct uvfio_server_opts){ .max_data_xfer_size = 64u << 20,
                                    .max_msg_fds = 253 };
    assert_int_equal(uvfio_server_create(&o, &srv), 0);
    uvfio_server_destroy(srv);
    assert_int_equal(uvfio_server_create(NULL, NULL), -EINVAL);
}

/* ---- sockets ----------------------------------------------------------- */

static void test_socket_mode_0600(void **state)
{
    struct fixture *fx = *state;
    struct stat st;
    char path[160];
    mode_t old;
    int r;

    /* Even with a umask that would leave it world-writable. */
    snprintf(path, sizeof(path), "%s/open.sock", fx->dir);
    old = umask(0);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    r = uvfio_server_add_device(fx->srv, fx->td[0].dev, path);
    umask(old);
    assert_int_equal(r, 0);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(lstat(fx->path[1], &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    assert_int_equal(lstat(path, &st), -1);
}

/*
 * A launcher (or QEMU) that waits for the socket file and then connects
 * must never find a file that does not listen yet: the final name has to
 * arrive by rename() of a socket already listening, never be created by
 * bind().  inotify tells which of the two happened, deterministically.
 */
static void test_socket_appears_listening(void **state)
{
    struct fixture *fx = *state;
    char path[160], buf[4096] __attribute__((aligned(8)));
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    bool moved = false, created = false;
    struct dirent *de;
    ssize_t n;
    DIR *d;
    int in, c;

    snprintf(path, sizeof(path), "%s/late.sock", fx->dir);
    in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, fx->dir, IN_CREATE | IN_MOVED_TO) >= 0);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    assert_int_equal(uvfio_server_add_device(fx->srv, fx->td[0].dev, path), 0);

    while ((n = read(in, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;

            if (ev->len && strcmp(ev->name, "late.sock") == 0) {
                moved |= (ev->mask & IN_MOVED_TO) != 0;
                created |= (ev->mask & IN_CREATE) != 0;
            }
            p += sizeof(*ev) + ev->len;
        }
    }
    close(in);
    assert_true(moved);
    assert_false(created);

    /* No temporary name left behind, and the path answers at once. */
    d = opendir(fx->dir);
    assert_non_null(d);
    while ((de = readdir(d)))
        assert_null(strstr(de->d_name, ".tmp"));
    closedir(d);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(c);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
}

static void test_path_rules(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_device *dev = fx->td[0].dev;
    char path[300], buf[8] = { 0 };
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), 0);
    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), -ENOENT);

    /* Somebody's file is never replaced. */
    snprintf(path, sizeof(path), "%s/file", fx->dir);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_int_equal(write(fd, "keep", 4), 4);
    close(fd);
    assert_int_equal(uvfio_server_add_device(fx->srv, dev, path), -EEXIST);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    close(fd);
    unlink(path);

    /* A socket left over by a previous run is. */
    snprintf(path, sizeof(path), "%s/stale.sock", fx->dir);
    assert_true(strlen(path) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    assert_int_equal(uvfio_server_add_device(fx->srv, dev, path), 0);
    assert_int_equal(uvfio_server_add_device(fx->srv, dev, path), -EEXIST);
    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), 0);

    memset(path, 'x', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = 0;
    assert_int_equal(uvfio_server_add_device(fx->srv, dev, path),
                     -ENAMETOOLONG);
    assert_int_equal(uvfio_server_add_device(fx->srv, dev, ""), -EINVAL);
}

/* --fd=N with a listening socket: served like a path, client after
 * client. */
static void test_fd_listening(void **state)
{
    struct fixture *fx = *state;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    struct tclient tc;
    int fd, i;

    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/inherited.sock",
             fx->dir);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(uvfio_server_add_device_fd(fx->srv, fx->td[0].dev, fd),
                     0);
    for (i = 0; i < 2; i++) {
        embedded_hello_path(fx, sun.sun_path, &tc);
        embedded_rom_read(fx, &tc);
        tc_close(&tc);
        while (uvfio_device_open_count(fx->td[0].dev))
            assert_true(uvfio_server_dispatch(fx->srv, 100) >= 0);
    }
    assert_int_equal(atomic_load(&fx->td[0].opens), 2);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    unlink(sun.sun_path);
}

/* --fd=N already connected: that client, and nobody after it. */
static void test_fd_connected(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_device *dev = fx->td[0].dev;
    struct uvfio_wire_version v = { 0, 2 };
    struct uvfio_msg m;
    struct tclient tc;
    int sv[2], fds0;

    fds0 = fx_count_fds();
    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(uvfio_server_add_device_fd(fx->srv, dev, sv[0]), 0);
    assert_int_equal(tc_attach(&tc, sv[1]), 0);
    assert_int_equal(embedded_call(fx, &tc, UVFIO_CMD_VERSION, &v, sizeof(v),
                                   &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    uvfio_msg_free(&m);
    assert_int_equal(uvfio_device_open_count(dev), 1);
    embedded_rom_read(fx, &tc);
    tc_close(&tc);
    while (uvfio_device_open_count(dev))
        assert_true(uvfio_server_dispatch(fx->srv, 100) >= 0);
    /* The server closed its end: one fd fewer than before (the removed
     * listening socket), none more. */
    assert_int_equal(fx_count_fds(), fds0 - 1);
    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), 0);
}

static void test_fd_refused(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_device *dev = fx->td[0].dev;
    int p[2], d;

    assert_int_equal(uvfio_server_remove_device(fx->srv, dev), 0);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(uvfio_server_add_device_fd(fx->srv, dev, p[0]),
                     -ENOTSOCK);
    /* Not taken: still the caller's to close. */
    assert_true(fcntl(p[0], F_GETFD) >= 0);
    close(p[0]);
    close(p[1]);
    d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(uvfio_server_add_device_fd(fx->srv, dev, d),
                     -EPROTOTYPE);
    close(d);
    assert_int_equal(uvfio_server_add_device_fd(fx->srv, dev, -1), -EBADF);
}

/* ---- the loop ---------------------------------------------------------- */

static void test_embedded(void **state)
{
    struct fixture *fx = *state;
    struct tclient a, b;

    embedded_hello(fx, 0, &a);
    embedded_hello(fx, 1, &b);
    embedded_rom_read(fx, &a);
    embedded_rom_read(fx, &b);
    /* Nothing to do: dispatch(0) returns at once with 0 events. */
    assert_int_equal(uvfio_server_dispatch(fx->srv, 0), 0);
    tc_close(&a);
    tc_close(&b);
}

/*
 * Fairness, counted exactly: a client has 1000 requests buffered at the
 * server before another device's client sends one.  After one turn of the
 * loop the second client has its answer, and the first has only a
 * budget's worth of replies, not a thousand.
 */
static void test_fairness(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_rw rw = { 0, TD_REGS, 4 };
    enum { N = 1000, MSG = 32 };
    uint8_t *burst = malloc(N * MSG), reply[64];
    struct tclient flood, other;
    struct uvfio_msg m;
    struct pollfd pfd;
    size_t got = 0;
    ssize_t n;
    uint16_t id;
    int i;

    assert_non_null(burst);
    embedded_hello(fx, 0, &flood);
    embedded_hello(fx, 1, &other);
    for (i = 0; i < N; i++) {
        struct uvfio_wire_hdr h = { (uint16_t)i, UVFIO_CMD_REGION_READ, MSG,
                                    0, 0 };

        memcpy(burst + i * MSG, &h, sizeof(h));
        memcpy(burst + i * MSG + sizeof(h), &rw, sizeof(rw));
    }
    assert_int_equal(tc_send_bytes(&flood, burst, N * MSG), 0);
    id = tc_send(&other, UVFIO_CMD_REGION_READ, 0, &rw, sizeof(rw), NULL, 0);

    for (i = 0; i < 3; i++) {
        pfd = (struct pollfd){ other.fd, POLLIN, 0 };
        if (poll(&pfd, 1, 0) == 1)
            break;
        assert_true(uvfio_server_dispatch(fx->srv, 100) >= 0);
    }
    assert_int_equal(tc_wait(&other, id, &m, 100), 0);
    uvfio_msg_free(&m);
    /* Count the flood's replies so far (36 bytes each). */
    while ((n = recv(flood.fd, reply, sizeof(reply), MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    assert_true(got / 36 >= 32);
    assert_true(got / 36 <= 4 * 32);
    free(burst);
    tc_close(&flood);
    tc_close(&other);
}

/* The driver's own fds (uvfio_device_watch_fd) are served by the loop. */
static void on_watched(struct uvfio_device *dev, int fd, uint32_t revents,
                       void *opaque)
{
    uint64_t v;

    (void)dev;
    (void)revents;
    if (read(fd, &v, sizeof(v)) == sizeof(v))
        atomic_fetch_add((atomic_int *)opaque, (int)v);
}

static void test_driver_fd_watched(void **state)
{
    struct fixture *fx = *state;
    atomic_int seen = 0;
    uint64_t three = 3;
    int efd, i;

    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_int_equal(uvfio_device_watch_fd(fx->td[1].dev, efd, EPOLLIN,
                                           on_watched, &seen), 0);
    assert_int_equal(write(efd, &three, sizeof(three)), sizeof(three));
    for (i = 0; i < 50 && atomic_load(&seen) != 3; i++)
        assert_true(uvfio_server_dispatch(fx->srv, 20) >= 0);
    assert_int_equal(atomic_load(&seen), 3);
    assert_int_equal(uvfio_device_unwatch_fd(fx->td[1].dev, efd), 0);
    close(efd);
}

/* In a child: no fd left, a client knocks.  The connection must be shed,
 * not left to wake the loop over and over.  Exit 0 if the loop stayed
 * quiet. */
static void out_of_fds_child(struct fixture *fx, int ready)
{
    struct rlimit rl;
    int64_t end;
    long events = 0;
    int maxfd = 0, fd, n;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        _exit(2);
    /* Fds at or over the limit are not ours (valgrind keeps some there). */
    while (d && (e = readdir(d)))
        if (atoi(e->d_name) > maxfd && (rlim_t)atoi(e->d_name) < rl.rlim_cur)
            maxfd = atoi(e->d_name);
    if (d)
        closedir(d);
    rl.rlim_cur = (rlim_t)maxfd + 1;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        _exit(2);
    while ((fd = open("/dev/null", O_RDONLY)) >= 0)
        ;                               /* fill every hole below the limit */
    if (write(ready, "r", 1) != 1)
        _exit(3);
    end = fx_now_ms() + 600;
    while (fx_now_ms() < end) {
        n = uvfio_server_dispatch(fx->srv, 50);
        if (n < 0)
            _exit(4);
        events += n;
    }
    _exit(events < 50 ? 0 : 1);
}

static void test_out_of_fds_sheds_client(void **state)
{
    struct fixture *fx = *state;
    struct pollfd pfd;
    struct tclient tc;
    int ready[2], status = -1, i;
    char c;
    pid_t pid;

    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        out_of_fds_child(fx, ready[1]);
    close(ready[1]);
    pfd = (struct pollfd){ ready[0], POLLIN, 0 };
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_true(tc_wait_closed(&tc, 2000));
    tc_close(&tc);
    for (i = 0; i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (i == 300) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static struct uvfio_server *signal_target;

static void on_signal(int sig)
{
    (void)sig;
    uvfio_server_stop(signal_target);
}

struct killer {
    pthread_t target;
    int sig;
};

static void *send_signal(void *arg)
{
    struct killer *k = arg;

    usleep(100 * 1000);
    pthread_kill(k->target, k->sig);
    return NULL;
}

static void test_stop_from_signal_handler(void **state)
{
    struct fixture *fx = *state;
    struct sigaction sa = { .sa_handler = on_signal }, old;
    struct killer k = { pthread_self(), SIGUSR1 };
    pthread_t t;
    int64_t t0;

    signal_target = fx->srv;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    assert_int_equal(pthread_create(&t, NULL, send_signal, &k), 0);
    t0 = fx_now_ms();
    assert_int_equal(uvfio_server_run(fx->srv), 0);
    assert_true(fx_now_ms() - t0 < 5000);
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);

    /* A stop asked for before run() makes run() return at once. */
    uvfio_server_stop(fx->srv);
    assert_int_equal(uvfio_server_run(fx->srv), 0);
}

/* Removing a device with a client attached disconnects the client; the
 * other device carries on. */
static void test_remove_with_client(void **state)
{
    struct fixture *fx = *state;
    struct tclient a, b;
    struct stat st;

    embedded_hello(fx, 0, &a);
    embedded_hello(fx, 1, &b);
    assert_int_equal(uvfio_device_open_count(fx->td[0].dev), 1);
    assert_int_equal(uvfio_server_remove_device(fx->srv, fx->td[0].dev), 0);
    assert_int_equal(uvfio_device_open_count(fx->td[0].dev), 0);
    assert_int_equal(atomic_load(&fx->td[0].closes), 1);
    assert_true(tc_wait_closed(&a, 1000));
    assert_int_equal(lstat(fx->path[0], &st), -1);
    embedded_rom_read(fx, &b);
    tc_close(&a);
    tc_close(&b);
}

/* Destroying the server detaches every client and removes the sockets. */
static void test_destroy_with_clients(void **state)
{
    struct fixture *fx = *state;
    struct tclient a;
    struct stat st;

    embedded_hello(fx, 0, &a);
    uvfio_server_destroy(fx->srv);
    fx->srv = NULL;
    assert_int_equal(uvfio_device_open_count(fx->td[0].dev), 0);
    assert_int_equal(atomic_load(&fx->td[0].closes), 1);
    assert_true(tc_wait_closed(&a, 1000));
    assert_int_equal(lstat(fx->path[0], &st), -1);
    assert_int_equal(lstat(fx->path[1], &st), -1);
    tc_close(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        cmocka_unit_test(test_options),
        T(test_socket_mode_0600),
        T(test_socket_appears_listening),
        T(test_path_rules),
        T(test_fd_listening),
        T(test_fd_connected),
        T(test_fd_refused),
        T(test_embedded),
        T(test_fairness),
        T(test_driver_fd_watched),
        T(test_out_of_fds_sheds_client),
        T(test_stop_from_signal_handler),
        T(test_remove_with_client),
        T(test_destroy_with_clients),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
