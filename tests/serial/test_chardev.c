// SPDX-License-Identifier: MIT
/*
 * The UART's host-side backends: each one moves bytes both ways without
 * blocking, pushes back instead of losing data, and refuses bad specs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "chardev.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/uvfio-chardev-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static ssize_t read_retry(int fd, void *buf, size_t len)
{
    /* the fds under test are non-blocking; our side waits a little */
    for (int i = 0; i < 200; i++) {
        ssize_t n = read(fd, buf, len);

        if (n >= 0 || errno != EAGAIN)
            return n;
        usleep(1000);
    }
    return -1;
}

static void test_bad_specs(void **state)
{
    static const char *const bad[] = {
        "", "bogus", "file:", "pipe:", "file", "STDIO", "pty:", "null:x",
    };
    struct chardev *cd = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(chardev_open(bad[i], &cd), -EINVAL);
    assert_int_equal(chardev_open(NULL, &cd), -EINVAL);
    assert_int_equal(chardev_open("file:/nonexistent-dir/x", &cd), -ENOENT);
    assert_int_equal(chardev_open("pipe:/nonexistent-dir/x", &cd), -ENOENT);
    assert_null(cd);
}

static void test_null(void **state)
{
    struct chardev *cd;
    char buf[4];

    (void)state;
    assert_int_equal(chardev_open("null", &cd), 0);
    assert_int_equal(chardev_in_fd(cd), -1);
    assert_int_equal(chardev_out_fd(cd), -1);
    assert_int_equal(chardev_write(cd, "abc", 3), 3);
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), 0);
    assert_null(chardev_pty_name(cd));
    chardev_close(cd);
}

static void test_file(void **state)
{
    char path[128], spec[160], buf[32];
    struct chardev *cd;
    int fd;

    (void)state;
    path_in_tmp(path, sizeof(path), "out.txt");
    snprintf(spec, sizeof(spec), "file:%s", path);
    /* an old file is truncated, not appended to */
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(write(fd, "stale stale stale", 17) == 17);
    close(fd);
    assert_int_equal(chardev_open(spec, &cd), 0);
    assert_int_equal(chardev_in_fd(cd), -1);
    assert_int_equal(chardev_write(cd, "line 1\n", 7), 7);
    assert_int_equal(chardev_write(cd, "line 2\n", 7), 7);
    chardev_close(cd);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 14);
    assert_memory_equal(buf, "line 1\nline 2\n", 14);
    close(fd);
}

static void test_pipe_pair(void **state)
{
    char base[128], in[140], out[140], spec[160], buf[16];
    struct chardev *cd;
    int to_dev, from_dev;

    (void)state;
    path_in_tmp(base, sizeof(base), "serial");
    snprintf(in, sizeof(in), "%s.in", base);
    snprintf(out, sizeof(out), "%s.out", base);
    assert_int_equal(mkfifo(in, 0600), 0);
    assert_int_equal(mkfifo(out, 0600), 0);
    snprintf(spec, sizeof(spec), "pipe:%s", base);
    /* opening does not wait for the other ends */
    assert_int_equal(chardev_open(spec, &cd), 0);
    assert_true(chardev_in_fd(cd) >= 0);
    assert_true(chardev_out_fd(cd) >= 0);
    assert_int_not_equal(chardev_in_fd(cd), chardev_out_fd(cd));
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), -EAGAIN);

    to_dev = open(in, O_WRONLY | O_NONBLOCK);
    from_dev = open(out, O_RDONLY | O_NONBLOCK);
    assert_true(to_dev >= 0 && from_dev >= 0);
    assert_int_equal(write(to_dev, "ping", 4), 4);
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(chardev_write(cd, "pong", 4), 4);
    assert_int_equal(read_retry(from_dev, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    /* the peer closing its end is not the end of our input */
    close(to_dev);
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), -EAGAIN);
    close(from_dev);
    chardev_close(cd);
    unlink(in);
    unlink(out);
}

static void test_pipe_single(void **state)
{
    char path[128], spec[160], buf[8];
    struct chardev *cd;

    (void)state;
    path_in_tmp(path, sizeof(path), "both");
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(spec, sizeof(spec), "pipe:%s", path);
    assert_int_equal(chardev_open(spec, &cd), 0);
    assert_int_equal(chardev_in_fd(cd), chardev_out_fd(cd));
    assert_int_equal(chardev_write(cd, "xy", 2), 2);
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), 2);
    chardev_close(cd);
    unlink(path);
}

static void test_pty(void **state)
{
    struct chardev *cd;
    struct termios t;
    char buf[64];
    const char *name;
    size_t total = 0;
    int slave;

    (void)state;
    assert_int_equal(chardev_open("pty", &cd), 0);
    name = chardev_pty_name(cd);
    assert_non_null(name);
    assert_memory_equal(name, "/dev/pts/", 9);
    slave = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
    assert_true(slave >= 0);
    /* raw: single bytes pass without a newline, nothing is echoed */
    assert_int_equal(tcgetattr(slave, &t), 0);
    assert_false(t.c_lflag & (ICANON | ECHO));
    assert_int_equal(write(slave, "k", 1), 1);
    usleep(10000);
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'k');
    assert_int_equal(chardev_read(cd, buf, sizeof(buf)), -EAGAIN);
    assert_int_equal(chardev_write(cd, "out\n", 4), 4);
    assert_int_equal(read_retry(slave, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "out\n", 4);
    /* nobody reading: the pty fills up and pushes back, no error */
    memset(buf, 'z', sizeof(buf));
    for (int i = 0; i < 100000; i++) {
        size_t n = chardev_write(cd, buf, sizeof(buf));

        if (n == 0)
            break;
        total += n;
    }
    assert_int_equal(chardev_write(cd, buf, sizeof(buf)), 0);
    assert_true(total > 0 && total < 64 * 100000);
    close(slave);
    chardev_close(cd);
}

/* stdio touches our own fds 0 and 1: run it in a child with pipes there. */
static int stdio_child(int in_r, int out_w, int go_r)
{
    struct chardev *cd;
    char buf[8];
    int ret = 0;

    if (dup2(in_r, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0)
        return 10;
    if (chardev_open("stdio", &cd))
        return 11;
    if (chardev_in_fd(cd) != 0 || chardev_out_fd(cd) != 1)
        ret = 12;
    else if (!(fcntl(0, F_GETFL) & O_NONBLOCK))
        ret = 13;
    else if (chardev_read(cd, buf, sizeof(buf)) != -EAGAIN)
        ret = 14;
    else if (chardev_write(cd, "S", 1) != 1)
        ret = 15;
    chardev_close(cd);
    /* non-blocking mode is put back for whoever shares the fds */
    if (!ret && (fcntl(0, F_GETFL) & O_NONBLOCK))
        ret = 16;
    if (ret)
        return ret;
    /* a stdout nobody reads any more: output is dropped, no SIGPIPE.
     * The parent says when it has closed its reading end. */
    signal(SIGPIPE, SIG_IGN);
    close(out_w);
    if (read(go_r, buf, 1) != 1)
        return 19;
    if (dup2(go_r, STDIN_FILENO) < 0 || chardev_open("stdio", &cd))
        return 17;
    if (chardev_write(cd, "gone", 4) != 4 || chardev_out_fd(cd) != -1)
        ret = 18;
    chardev_close(cd);
    return ret;
}

static void test_stdio(void **state)
{
    int in[2], out[2], other[2], status;
    char c;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(other), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        int ret = stdio_child(in[0], out[1], other[0]);
        _exit(ret);
    }
    close(in[0]);
    close(out[1]);
    close(other[0]);
    assert_int_equal(read(out[0], &c, 1), 1);
    assert_int_equal(c, 'S');
    close(out[0]);
    assert_int_equal(write(other[1], "g", 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(in[1]);
    close(other[1]);
}

static void test_stdio_unpollable_input(void **state)
{
    int status;
    pid_t pid;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct chardev *cd;
        int fd = open("/dev/null", O_RDONLY);

        /* /dev/null cannot be waited on: no input rather than a busy loop */
        if (fd < 0 || dup2(fd, 0) < 0 || chardev_open("stdio", &cd))
            _exit(1);
        _exit(chardev_in_fd(cd) == -1 ? 0 : 2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_pipe_pair),
        cmocka_unit_test(test_pipe_single),
        cmocka_unit_test(test_pty),
        cmocka_unit_test(test_stdio),
        cmocka_unit_test(test_stdio_unpollable_input),
    };

    return cmocka_run_group_tests_name("serial-chardev", tests,
                                       make_tmpdir, remove_tmpdir);
}
