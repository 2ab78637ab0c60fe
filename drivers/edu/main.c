// SPDX-License-Identifier: MIT
/*
 * uvfio-edu - QEMU's edu PCI device with a copy queue, served over
 * vfio-user, live-migratable.
 *
 * Follows the vfio-user backend program conventions (uvfio_backend_parse
 * and uvfio_backend_run): --socket-path=PATH or --fd=N, stays in the
 * foreground, exits cleanly (status 0, socket removed) on SIGTERM or
 * SIGINT.  What is its own is the DMA mask and the copy queue's power-on
 * setting.  See docs/uvfio-edu.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "edu.h"
#include "regs.h"

enum { OPT_DMA_MASK, OPT_CQ_WINDOW, OPT_CQ_RATE };

static const struct uvfio_backend_option edu_options[] = {
    { "dma-mask", 1, OPT_DMA_MASK, "a non-zero mask" },
    { "cq-window", 1, OPT_CQ_WINDOW, "IOVA:SIZE, both 4 KiB aligned" },
    { "cq-rate", 1, OPT_CQ_RATE, "MiB/s from 0 to 16384" },
    { NULL, 0, 0, NULL },
};

/* Decimal, 0x hex or 0 octal, as strtoull has it; no sign. */
static int parse_u64(const char *s, char **end, uint64_t *v)
{
    unsigned long long x;

    if (*s == '-' || *s == '\0')
        return -EINVAL;
    errno = 0;
    x = strtoull(s, end, 0);
    if (errno || *end == s)
        return -EINVAL;
    *v = x;
    return 0;
}

static int parse_num(const char *s, uint64_t *v)
{
    char *end;

    if (parse_u64(s, &end, v) || *end)
        return -EINVAL;
    return 0;
}

static int parse_window(const char *s, struct edu_opts *o)
{
    char *end;

    if (parse_u64(s, &end, &o->cq_addr) || *end != ':' ||
        parse_num(end + 1, &o->cq_size))
        return -EINVAL;
    if (!o->cq_size || o->cq_addr % EDU_CQ_PAGE_SIZE ||
        o->cq_size % EDU_CQ_PAGE_SIZE || o->cq_size - 1 > UINT64_MAX - o->cq_addr)
        return -EINVAL;
    return 0;
}

static int parse_rate(const char *s, struct edu_opts *o)
{
    uint64_t mib;

    if (parse_num(s, &mib) || mib > EDU_CQ_MAX_RATE / 1024)
        return -EINVAL;
    o->cq_rate = (uint32_t)(mib * 1024);
    return 0;
}

/* The messages are uvfio_backend_parse's, from edu_options[].want. */
static int parse_option(void *ctx, int key, const char *arg)
{
    struct edu_opts *o = ctx;

    switch (key) {
    case OPT_DMA_MASK:
        return parse_num(arg, &o->dma_mask) || !o->dma_mask ? -EINVAL : 0;
    case OPT_CQ_WINDOW:
        return parse_window(arg, o);
    case OPT_CQ_RATE:
        return parse_rate(arg, o);
    default:
        return -EINVAL;
    }
}

static int run(struct uvfio_backend *b, const struct edu_opts *o)
{
    struct edu *e;
    int ret;

    ret = edu_create(o, &e);
    if (ret) {
        fprintf(stderr, "uvfio-edu: cannot create the device: %s\n",
                strerror(-ret));
        return ret;
    }
    ret = uvfio_backend_run(b, edu_device(e));
    edu_destroy(e);
    return ret;
}

int main(int argc, char **argv)
{
    char options_help[512];
    struct edu_opts o = { 0 };
    struct uvfio_backend b = {
        .name = "uvfio-edu",
        .about =
            "QEMU's edu PCI device (1234:11e8) with a copy queue that keeps\n"
            "writing guest memory, served over vfio-user; it migrates with\n"
            "STOP_COPY, P2P and PRE_COPY.\n",
        .options_help = options_help,
        .verbose_help = "log protocol events and guest errors",
        .options = edu_options,
        .parse_option = parse_option,
        .ctx = &o,
    };
    int ret;

    snprintf(options_help, sizeof(options_help),
        "  --dma-mask=MASK          DMA engine address mask (default\n"
        "                           0x%llx, edu's 28 bits)\n"
        "  --cq-window=IOVA:SIZE    power-on copy-queue window (4 KiB\n"
        "                           aligned)\n"
        "  --cq-rate=MIB            power-on copy-queue rate in MiB/s\n",
        (unsigned long long)EDU_DEFAULT_DMA_MASK);
    ret = uvfio_backend_parse(&b, argc, argv);
    if (ret)
        return ret > 0 ? EXIT_SUCCESS : UVFIO_BACKEND_EXIT_USAGE;
    o.verbose = b.verbose;
    return run(&b, &o) ? UVFIO_BACKEND_EXIT_FAILURE : EXIT_SUCCESS;
}
