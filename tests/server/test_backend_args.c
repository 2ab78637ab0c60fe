// SPDX-License-Identifier: MIT
/*
 * tests/server/test_backend_args.c - uvfio_backend_parse: the backend
 * program conventions' command line, good and bad, with the exact words
 * a user sees on stderr (and nothing on stdout) and the return value a
 * program turns into its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#define MAX_ARGS 16

enum { KEY_FLAG = 7, KEY_LEVEL = 9, KEY_QUIET = 11 };

static const struct uvfio_backend_option prog_options[] = {
    { "flag", 0, KEY_FLAG, NULL },
    { "level", 1, KEY_LEVEL, "a level from 1 to 3" },
    { "quiet-fail", 1, KEY_QUIET, NULL },
    { NULL, 0, 0, NULL },
};

struct prog {
    int flags;
    int level;
    int calls;
};

static int prog_option(void *ctx, int key, const char *arg)
{
    struct prog *p = ctx;

    p->calls++;
    switch (key) {
    case KEY_FLAG:
        if (arg)
            return -EINVAL;     /* a flag never gets a value */
        p->flags++;
        return 0;
    case KEY_LEVEL:
        if (strlen(arg) != 1 || arg[0] < '1' || arg[0] > '3')
            return -EINVAL;
        p->level = arg[0] - '0';
        return 0;
    case KEY_QUIET:
        fprintf(stderr, "prog: --quiet-fail says no to '%s'\n", arg);
        return -ERANGE;
    }
    return -EINVAL;
}

/* One parse with stdout and stderr captured. */
struct result {
    int ret;
    char out[8192];
    char err[2048];
};

static void slurp(int fd, char *buf, size_t len)
{
    ssize_t n;

    n = pread(fd, buf, len - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_true((size_t)n < len - 1);   /* nothing cut off */
}

static int capture_fd(int which, int *saved)
{
    int fd = memfd_create("capture", MFD_CLOEXEC);

    assert_true(fd >= 0);
    *saved = dup(which);
    assert_true(*saved >= 0);
    assert_int_equal(dup2(fd, which), which);
    return fd;
}

static void restore_fd(int which, int saved)
{
    assert_int_equal(dup2(saved, which), which);
    close(saved);
}

static void parse_argv(struct uvfio_backend *b, int argc, char **argv,
                       struct result *r)
{
    int out, err, saved_out, saved_err;

    fflush(stdout);
    fflush(stderr);
    out = capture_fd(1, &saved_out);
    err = capture_fd(2, &saved_err);
    r->ret = uvfio_backend_parse(b, argc, argv);
    fflush(stdout);
    fflush(stderr);
    restore_fd(1, saved_out);
    restore_fd(2, saved_err);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
    close(out);
    close(err);
}

/* argv from the NULL-terminated list after "prog", copied: getopt
 * permutes it and the test keeps its literals. */
static void parse(struct uvfio_backend *b, struct result *r, ...)
{
    static char store[MAX_ARGS][256];
    char *argv[MAX_ARGS + 1];
    const char *a;
    va_list ap;
    int argc = 0;

    argv[argc] = strcpy(store[argc], "/some/where/prog");
    argc++;
    va_start(ap, r);
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < MAX_ARGS && strlen(a) < sizeof(store[0]));
        argv[argc] = strcpy(store[argc], a);
        argc++;
    }
    va_end(ap);
    argv[argc] = NULL;
    parse_argv(b, argc, argv, r);
}

static struct prog prog;

static struct uvfio_backend backend(void)
{
    memset(&prog, 0, sizeof(prog));
    return (struct uvfio_backend){
        .name = "prog",
        .about = "A device for the tests.\n",
        .options_help = "  --flag                   a flag\n",
        .options = prog_options,
        .parse_option = prog_option,
        .ctx = &prog,
    };
}

/* Bad usage: -EINVAL, stdout untouched, stderr exactly `msg` then the
 * pointer to --help. */
static void assert_usage_error(const struct result *r, const char *msg)
{
    char want[1024];

    snprintf(want, sizeof(want), "%sTry 'prog --help'.\n", msg);
    assert_int_equal(r->ret, -EINVAL);
    assert_string_equal(r->err, want);
    assert_string_equal(r->out, "");
}

/* ---- good command lines ------------------------------------------------ */

static void test_socket_path(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    opterr = 1;
    parse(&b, &r, "--socket-path=/tmp/a.sock", NULL);
    assert_int_equal(r.ret, 0);
    assert_int_equal(opterr, 1);
    assert_string_equal(r.err, "");
    assert_string_equal(r.out, "");
    assert_string_equal(b.socket_path, "/tmp/a.sock");
    assert_int_equal(b.fd, -1);
    assert_false(b.verbose);
    assert_int_equal(b.server_opts.log_level, UVFIO_LOG_WARN);
    assert_int_equal(b.server_opts.max_data_xfer_size, 0);
    assert_int_equal(prog.calls, 0);

    /* the value as the next argument, and an abbreviation */
    parse(&b, &r, "--socket-path", "/tmp/b.sock", NULL);
    assert_int_equal(r.ret, 0);
    assert_string_equal(b.socket_path, "/tmp/b.sock");
    parse(&b, &r, "--sock=/tmp/c.sock", NULL);
    assert_int_equal(r.ret, 0);
    assert_string_equal(b.socket_path, "/tmp/c.sock");
}

static void test_fd(void **state)
{
    struct uvfio_backend b = backend();
    char arg[32];
    struct result r;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    (void)state;
    assert_true(fd >= 0);
    snprintf(arg, sizeof(arg), "--fd=%d", fd);
    parse(&b, &r, arg, "-v", NULL);
    assert_int_equal(r.ret, 0);
    assert_string_equal(r.err, "");
    assert_null(b.socket_path);
    assert_int_equal(b.fd, fd);
    assert_true(b.verbose);
    assert_int_equal(b.server_opts.log_level, UVFIO_LOG_DEBUG);
    /* parse only looks: the fd is still the caller's */
    assert_true(fcntl(fd, F_GETFD) >= 0);
    close(fd);
    uvfio_log_set_level(UVFIO_LOG_WARN);
}

static void test_limits_and_program_options(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    parse(&b, &r, "--max-xfer=64K", "--flag", "--socket-path=/tmp/s",
          "--level", "2", "--max-msg-fds=4", "--flag", "--max-dma-maps=9",
          "--max-queued-bytes=1M", "--dma-timeout-ms=250", "--verbose",
          NULL);
    assert_int_equal(r.ret, 0);
    assert_string_equal(r.err, "");
    assert_int_equal(b.server_opts.max_data_xfer_size, 64u << 10);
    assert_int_equal(b.server_opts.max_msg_fds, 4);
    assert_int_equal(b.server_opts.max_dma_maps, 9);
    assert_int_equal(b.server_opts.max_queued_reply_bytes, 1u << 20);
    assert_int_equal(b.server_opts.dma_timeout_ms, 250);
    assert_int_equal(prog.flags, 2);
    assert_int_equal(prog.level, 2);
    assert_int_equal(prog.calls, 3);
    assert_true(b.verbose);
    uvfio_log_set_level(UVFIO_LOG_WARN);

    /* a second parse starts from nothing: no limit, no verbose left over */
    parse(&b, &r, "--socket-path=/tmp/s", NULL);
    assert_int_equal(r.ret, 0);
    assert_int_equal(b.server_opts.max_data_xfer_size, 0);
    assert_int_equal(b.server_opts.max_msg_fds, 0);
    assert_false(b.verbose);
}

static void test_help(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    /* --help wins over anything wrong after it */
    parse(&b, &r, "--help", "--bogus", NULL);
    assert_int_equal(r.ret, 1);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "usage: prog --socket-path=PATH | --fd=N "
                                  "[options]\n\nA device for the tests.\n"));
    assert_non_null(strstr(r.out, "  --flag                   a flag\n"
                                  "  -v, --verbose            log every "
                                  "protocol event (debug level)\n"
                                  "  -h, --help               this text\n"));
    assert_non_null(strstr(r.out, "Limits per client:\n"));
    assert_non_null(strstr(r.out, uvfio_server_opts_help()));
    assert_non_null(strstr(r.out, "\nExit status: 0 after SIGTERM/SIGINT, "
                                  "1 on a run-time error,\n2 on bad "
                                  "usage.\n"));

    b.verbose_help = "say more";
    parse(&b, &r, "-h", NULL);
    assert_int_equal(r.ret, 1);
    assert_non_null(strstr(r.out, "  -v, --verbose            say more\n"));
}

/* ---- bad command lines -------------------------------------------------- */

static void test_endpoint_errors(void **state)
{
    struct uvfio_backend b = backend();
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    char arg[32], msg[160];
    struct result r;

    (void)state;
    parse(&b, &r, NULL);
    assert_usage_error(&r, "prog: give exactly one of --socket-path=PATH "
                           "and --fd=N\n");
    parse(&b, &r, "--fd=0", "--socket-path=/tmp/x", NULL);
    assert_usage_error(&r, "prog: give exactly one of --socket-path=PATH "
                           "and --fd=N\n");

    /* a number of a descriptor that is not open (and that the capture's
     * own fds, taking the lowest free numbers, cannot take) */
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 999), 999);
    close(999);
    close(fd);
    fd = 999;
    snprintf(arg, sizeof(arg), "--fd=%d", fd);
    parse(&b, &r, arg, NULL);
    snprintf(msg, sizeof(msg), "prog: --fd=%d is not an open file "
             "descriptor (did the parent pass it on?)\n", fd);
    assert_usage_error(&r, msg);
}

static void test_fd_values(void **state)
{
    static const char *const bad[] = {
        "notanumber", "", "-1", "+3", " 3", "0x3", "3x", "2147483648",
        "99999999999999999999999",
    };
    struct uvfio_backend b = backend();
    char arg[64], msg[160];
    struct result r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(arg, sizeof(arg), "--fd=%s", bad[i]);
        parse(&b, &r, arg, NULL);
        snprintf(msg, sizeof(msg), "prog: --fd wants a file descriptor "
                 "number, got '%s'\n", bad[i]);
        assert_usage_error(&r, msg);
    }
    /* the largest one is a number, just not an open descriptor */
    parse(&b, &r, "--fd=2147483647", NULL);
    assert_usage_error(&r, "prog: --fd=2147483647 is not an open file "
                           "descriptor (did the parent pass it on?)\n");
}

static void test_option_errors(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    parse(&b, &r, "--socket-path=/tmp/x", "--bogus", NULL);
    assert_usage_error(&r, "prog: unknown option '--bogus'\n");
    parse(&b, &r, "--socket-path=/tmp/x", "-vx", NULL);
    assert_usage_error(&r, "prog: unknown option '-x'\n");
    parse(&b, &r, "--socket-path", NULL);
    assert_usage_error(&r, "prog: option '--socket-path' wants a value\n");
    parse(&b, &r, "--socket-path=/tmp/x", "--verbose=yes", NULL);
    assert_usage_error(&r, "prog: option '--verbose=yes' takes no value\n");
    parse(&b, &r, "--socket-path=/tmp/x", "--flag=1", NULL);
    assert_usage_error(&r, "prog: option '--flag=1' takes no value\n");
    parse(&b, &r, "--socket-path=/tmp/x", "extra", NULL);
    assert_usage_error(&r, "prog: unexpected argument 'extra'\n");
    /* after "--" an option is an operand */
    parse(&b, &r, "--socket-path=/tmp/x", "--", "--flag", NULL);
    assert_usage_error(&r, "prog: unexpected argument '--flag'\n");
    assert_int_equal(prog.flags, 0);
}

static void test_limit_errors(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    parse(&b, &r, "--socket-path=/tmp/x", "--max-xfer=64Q", NULL);
    assert_usage_error(&r, "prog: bad value in '--max-xfer=64Q'\n");
    parse(&b, &r, "--max-xfer=65M", "--socket-path=/tmp/x", NULL);
    assert_usage_error(&r, "prog: bad value in '--max-xfer=65M'\n");
    parse(&b, &r, "--socket-path=/tmp/x", "--max-msg-fds=0", NULL);
    assert_usage_error(&r, "prog: bad value in '--max-msg-fds=0'\n");
    /* the limits are spelt with '=' only */
    parse(&b, &r, "--socket-path=/tmp/x", "--max-xfer", "64K", NULL);
    assert_usage_error(&r, "prog: unknown option '--max-xfer'\n");
}

static void test_program_refuses(void **state)
{
    struct uvfio_backend b = backend();
    struct result r;

    (void)state;
    /* refused with a `want`: the library words it */
    parse(&b, &r, "--socket-path=/tmp/x", "--level=7", NULL);
    assert_usage_error(&r, "prog: --level wants a level from 1 to 3, "
                           "got '7'\n");
    /* refused without: the program said why, whatever the errno */
    parse(&b, &r, "--socket-path=/tmp/x", "--quiet-fail=x", NULL);
    assert_usage_error(&r, "prog: --quiet-fail says no to 'x'\n");
    parse(&b, &r, "--quiet", NULL);
    assert_usage_error(&r, "prog: option '--quiet' wants a value\n");

    /* a program with options but no callback cannot take them */
    b.parse_option = NULL;
    parse(&b, &r, "--socket-path=/tmp/x", "--flag", NULL);
    assert_usage_error(&r, "prog: --flag is not handled\n");
}

static void test_misuse(void **state)
{
    struct uvfio_backend_option many[UVFIO_BACKEND_MAX_OPTIONS + 2];
    struct uvfio_backend b = backend();
    char *argv[] = { "prog", "--socket-path=/x", NULL };
    struct result r;

    (void)state;
    assert_int_equal(uvfio_backend_parse(NULL, 2, argv), -EINVAL);
    assert_int_equal(uvfio_backend_parse(&b, 0, argv), -EINVAL);
    assert_int_equal(uvfio_backend_parse(&b, 2, NULL), -EINVAL);
    b.name = NULL;
    assert_int_equal(uvfio_backend_parse(&b, 2, argv), -EINVAL);

    b = backend();
    for (int i = 0; i < UVFIO_BACKEND_MAX_OPTIONS + 1; i++)
        many[i] = (struct uvfio_backend_option){ "x", 0, i, NULL };
    many[UVFIO_BACKEND_MAX_OPTIONS + 1].name = NULL;
    b.options = many;
    parse(&b, &r, "--socket-path=/x", NULL);
    assert_int_equal(r.ret, -EINVAL);
    assert_string_equal(r.err, "prog: more than 32 program options\n");

    /* exactly the most is fine */
    many[UVFIO_BACKEND_MAX_OPTIONS].name = NULL;
    parse(&b, &r, "--socket-path=/x", NULL);
    assert_int_equal(r.ret, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_path),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_limits_and_program_options),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_fd_values),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_limit_errors),
        cmocka_unit_test(test_program_refuses),
        cmocka_unit_test(test_misuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
