// SPDX-License-Identifier: MIT
/*
 * server/backend_args.c - a device program's command line, the vfio-user
 * backend program way (uvfio_backend_parse in <uvfio/server.h>).
 *
 * Every device program takes the same --socket-path/--fd/--verbose/--help
 * and the same per-client limits, says the same things about them, and
 * leaves only its own options to a callback.  getopt_long does the
 * splitting, so "--opt VALUE" and abbreviations work as users expect; its
 * own messages are off (they would carry argv[0], a path, and could not
 * know the limit options), so every usage error is worded here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <uvfio/uvfio.h>

/* getopt_long values: the built-in long options, then the program's,
 * above every char so a short option cannot be mistaken for one. */
enum {
    KEY_SOCKET_PATH = 256,
    KEY_FD,
    KEY_PROGRAM,                /* + index in b->options */
};

/* Built-ins, the program's options and the terminator. */
#define MAX_LONGOPTS (4 + UVFIO_BACKEND_MAX_OPTIONS + 1)

static const char default_verbose_help[] =
    "log every protocol event (debug level)";

static void usage(const struct uvfio_backend *b, FILE *f)
{
    fprintf(f, "usage: %s --socket-path=PATH | --fd=N [options]\n\n%s\n",
            b->name, b->about ? b->about : "");
    fputs("  --socket-path=PATH       listen on a new UNIX socket at PATH\n"
          "                           (mode 0600)\n"
          "  --fd=N                   serve on inherited socket fd N\n"
          "                           (listening or already connected)\n",
          f);
    if (b->options_help)
        fputs(b->options_help, f);
    fprintf(f, "  -v, --verbose            %s\n"
            "  -h, --help               this text\n\nLimits per client:\n",
            b->verbose_help ? b->verbose_help : default_verbose_help);
    fputs(uvfio_server_opts_help(), f);
    fputs("\nExit status: 0 after SIGTERM/SIGINT, 1 on a run-time error,\n"
          "2 on bad usage.\n", f);
}

/* Every usage error ends the same way, so a user knows where to look. */
static int usage_error(const struct uvfio_backend *b)
{
    fprintf(stderr, "Try '%s --help'.\n", b->name);
    return -EINVAL;
}

/* Decimal digits only: "+3", " 3" or "0x3" are typos, not descriptors. */
static int parse_fd(const char *s, int *fd)
{
    long long v = 0;

    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (*s - '0');
        if (v > INT_MAX)
            return -EINVAL;
    }
    *fd = (int)v;
    return 0;
}

static int bad_value(const struct uvfio_backend *b, const char *opt,
                     const char *want, const char *val)
{
    fprintf(stderr, "%s: --%s wants %s, got '%s'\n", b->name, opt, want, val);
    return -EINVAL;
}

static int program_option(struct uvfio_backend *b, int idx, const char *arg)
{
    const struct uvfio_backend_option *o = &b->options[idx];
    int r;

    if (!b->parse_option) {
        fprintf(stderr, "%s: --%s is not handled\n", b->name, o->name);
        return -EINVAL;
    }
    r = b->parse_option(b->ctx, o->key, arg);
    if (r < 0 && o->want)
        return bad_value(b, o->name, o->want, arg ? arg : "");
    return r < 0 ? -EINVAL : 0;
}

/*
 * getopt_long refused argv[optind - 1] (or, for a short option, optopt):
 * one of the limits, which it cannot know, or a real mistake.
 */
static int refused(struct uvfio_backend *b, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    int r;

    if (c == ':') {
        fprintf(stderr, "%s: option '%s' wants a value\n", b->name, arg);
        return -EINVAL;
    }
    /* A known option refused: a flag spelt "--flag=VALUE". */
    if (optopt >= KEY_SOCKET_PATH || optopt == 'v' || optopt == 'h') {
        fprintf(stderr, "%s: option '%s' takes no value\n", b->name, arg);
        return -EINVAL;
    }
    if (optopt) {
        fprintf(stderr, "%s: unknown option '-%c'\n", b->name, optopt);
        return -EINVAL;
    }
    r = uvfio_server_opts_parse_arg(&b->server_opts, arg);
    if (r > 0)
        return 0;
    if (r < 0)
        fprintf(stderr, "%s: bad value in '%s'\n", b->name, arg);
    else
        fprintf(stderr, "%s: unknown option '%s'\n", b->name, arg);
    return -EINVAL;
}

/* 1 for --help, 0 to go on, -EINVAL after saying what is wrong. */
static int one_option(struct uvfio_backend *b, int c, char **argv)
{
    switch (c) {
    case KEY_SOCKET_PATH:
        b->socket_path = optarg;
        return 0;
    case KEY_FD:
        return parse_fd(optarg, &b->fd) ?
               bad_value(b, "fd", "a file descriptor number", optarg) : 0;
    case 'v':
        b->verbose = true;
        return 0;
    case 'h':
        return 1;
    case ':':
    case '?':
        return refused(b, c, argv);
    default:
        return program_option(b, c - KEY_PROGRAM, optarg);
    }
}

static int build_longopts(const struct uvfio_backend *b, struct option *lo)
{
    static const struct option builtin[] = {
        { "socket-path", required_argument, NULL, KEY_SOCKET_PATH },
        { "fd", required_argument, NULL, KEY_FD },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
    };
    int n = 0, i;

    memcpy(lo, builtin, sizeof(builtin));
    for (i = 0; b->options && b->options[i].name; i++) {
        if (i == UVFIO_BACKEND_MAX_OPTIONS)
            return -E2BIG;
        lo[4 + i] = (struct option){
            b->options[i].name,
            b->options[i].has_arg ? required_argument : no_argument,
            NULL, KEY_PROGRAM + i,
        };
        n = i + 1;
    }
    lo[4 + n] = (struct option){ NULL, 0, NULL, 0 };
    return 0;
}

/* Exactly one place to serve on, and an fd that is really there. */
static int check_endpoint(const struct uvfio_backend *b)
{
    if (!b->socket_path == (b->fd < 0)) {
        fprintf(stderr, "%s: give exactly one of --socket-path=PATH and "
                "--fd=N\n", b->name);
        return -EINVAL;
    }
    if (b->fd >= 0 && fcntl(b->fd, F_GETFD) < 0) {
        fprintf(stderr, "%s: --fd=%d is not an open file descriptor (did "
                "the parent pass it on?)\n", b->name, b->fd);
        return -EINVAL;
    }
    return 0;
}

static int parse_all(struct uvfio_backend *b, int argc, char **argv,
                     const struct option *lo)
{
    int c, r;

    /* ':' first: a missing value is told apart from an unknown option. */
    while ((c = getopt_long(argc, argv, ":vh", lo, NULL)) != -1) {
        r = one_option(b, c, argv);
        if (r)
            return r;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", b->name,
                argv[optind]);
        return -EINVAL;
    }
    return check_endpoint(b);
}

UVFIO_API int uvfio_backend_parse(struct uvfio_backend *b, int argc,
                                  char **argv)
{
    struct option lo[MAX_LONGOPTS];
    int saved_opterr = opterr, r;

    if (!b || !b->name || argc < 1 || !argv)
        return -EINVAL;
    r = build_longopts(b, lo);
    if (r) {
        fprintf(stderr, "%s: more than %d program options\n", b->name,
                UVFIO_BACKEND_MAX_OPTIONS);
        return -EINVAL;
    }
    b->socket_path = NULL;
    b->fd = -1;
    b->verbose = false;
    b->server_opts = (struct uvfio_server_opts){ 0 };
    /* 0, not 1: glibc starts over completely, for a second parse. */
    optind = 0;
    opterr = 0;
    r = parse_all(b, argc, argv, lo);
    /* getopt's state is the program's: leave it as it was found */
    opterr = saved_opterr;
    if (r > 0) {
        usage(b, stdout);
        return 1;
    }
    if (r < 0)
        return usage_error(b);
    uvfio_log_set_level(b->verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN);
    b->server_opts.log_level = b->verbose ? UVFIO_LOG_DEBUG : UVFIO_LOG_WARN;
    return 0;
}
