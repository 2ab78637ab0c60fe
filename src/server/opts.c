// SPDX-License-Identifier: MIT
/*
 * server/opts.c - the per-client limits as command-line options.
 *
 * Every program that serves devices takes the same spelling, so that an
 * operator who learnt it for one (docs/robustness.md) knows it for all.
 * Values are checked here as far as they can be alone; whether they fit
 * together (the reply queue must hold the largest reply) is
 * uvfio_server_create's to say.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

enum opt_kind { OPT_COUNT, OPT_SIZE };

struct opt_desc {
    const char *name;           /* with the leading "--" and the "=" */
    enum opt_kind kind;
    uint64_t min, max;
    size_t field;               /* offset in struct uvfio_server_opts */
    unsigned int width;         /* 4 or 8 bytes */
};

#define OPT(n, k, lo, hi, f) \
    { n, k, lo, hi, offsetof(struct uvfio_server_opts, f), \
      sizeof(((struct uvfio_server_opts *)0)->f) }

static const struct opt_desc opt_table[] = {
    OPT("--max-msg-fds=", OPT_COUNT, 1, UVFIO_MAX_FDS_LIMIT, max_msg_fds),
    OPT("--max-xfer=", OPT_SIZE, 4096, UVFIO_MAX_DATA_XFER_LIMIT,
        max_data_xfer_size),
    OPT("--max-dma-maps=", OPT_COUNT, 1, UINT32_MAX, max_dma_maps),
    /* Below one maximal reply nothing works; above 4 GiB is a typo. */
    OPT("--max-queued-bytes=", OPT_SIZE, 8192, 1ull << 32,
        max_queued_reply_bytes),
    OPT("--dma-timeout-ms=", OPT_COUNT, 1, 3600000, dma_timeout_ms),
};

static const char opts_help[] =
    "  --max-msg-fds=N          fds a client may pass with one message\n"
    "                           [16, at most 253]\n"
    "  --max-xfer=SIZE          largest data transfer offered to clients\n"
    "                           [1M, at most 64M]\n"
    "  --max-dma-maps=N         DMA windows per client [65535]\n"
    "  --max-queued-bytes=SIZE  replies queued for a client before it is\n"
    "                           dropped as not reading [max-xfer + 1M]\n"
    "  --dma-timeout-ms=N       how long a DMA request waits for the\n"
    "                           client's reply [10000]\n"
    "  --no-io-uring            wait for clients with epoll even where\n"
    "                           io_uring is available (it is faster)\n"
    "  (SIZE may end in K, M or G; see docs/robustness.md)\n";

UVFIO_API const char *uvfio_server_opts_help(void)
{
    return opts_help;
}

/* Decimal, with a binary suffix for sizes; no sign, no overflow. */
static int parse_value(const char *s, enum opt_kind kind, uint64_t *out)
{
    unsigned int shift = 0;
    uint64_t v = 0;
    const char *p;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (p = s; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (kind == OPT_SIZE && *p) {
        switch (*p++) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        default: return -EINVAL;
        }
    }
    if (*p)
        return -EINVAL;
    if (shift && v > UINT64_MAX >> shift)
        return -ERANGE;
    *out = v << shift;
    return 0;
}

static void store(struct uvfio_server_opts *opts, const struct opt_desc *d,
                  uint64_t v)
{
    char *field = (char *)opts + d->field;

    if (d->width == sizeof(uint32_t)) {
        uint32_t v32 = (uint32_t)v;

        memcpy(field, &v32, sizeof(v32));
    } else {
        memcpy(field, &v, sizeof(v));
    }
}

UVFIO_API int uvfio_server_opts_parse_arg(struct uvfio_server_opts *opts,
                                          const char *arg)
{
    const struct opt_desc *d;
    uint64_t v;
    size_t i;
    int r;

    if (!opts || !arg)
        return -EINVAL;
    if (!strcmp(arg, "--no-io-uring")) {
        opts->flags |= UVFIO_SERVER_NO_IO_URING;
        return 1;
    }
    for (i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++) {
        d = &opt_table[i];
        if (strncmp(arg, d->name, strlen(d->name)))
            continue;
        r = parse_value(arg + strlen(d->name), d->kind, &v);
        if (r < 0)
            return r;
        if (v < d->min || v > d->max)
            return -ERANGE;
        store(opts, d, v);
        return 1;
    }
    return 0;
}

UVFIO_API int uvfio_server_opts_parse_args(struct uvfio_server_opts *opts,
                                           int *argc, char **argv,
                                           const char **bad)
{
    int i, kept = 1, r;

    if (!opts || !argc || !argv || *argc < 1)
        return -EINVAL;
    for (i = 1; i < *argc; i++) {
        /* After "--" everything is an operand, as getopt has it. */
        if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        r = uvfio_server_opts_parse_arg(opts, argv[i]);
        if (r < 0) {
            if (bad)
                *bad = argv[i];
            return r;
        }
        if (r == 0)
            argv[kept++] = argv[i];
    }
    *argc = kept;
    argv[kept] = NULL;
    return 0;
}
