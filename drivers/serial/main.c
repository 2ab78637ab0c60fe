// SPDX-License-Identifier: MIT
/*
 * uvfio-serial - a PCI 16550A UART served over vfio-user.
 *
 * Follows the vfio-user backend program conventions (uvfio_backend_parse
 * and uvfio_backend_run): --socket-path=PATH or --fd=N, stays in the
 * foreground, exits cleanly (status 0, socket removed) on SIGTERM or
 * SIGINT.  What is its own is the line: --chardev.  See
 * docs/uvfio-serial.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "chardev.h"
#include "serial.h"

enum { OPT_CHARDEV };

static const struct uvfio_backend_option serial_options[] = {
    { "chardev", 1, OPT_CHARDEV, NULL },
    { NULL, 0, 0, NULL },
};

/* Checked when it is opened: a bad one is a run-time error (status 1). */
static int parse_option(void *ctx, int key, const char *arg)
{
    const char **chardev = ctx;

    if (key != OPT_CHARDEV)
        return -EINVAL;
    *chardev = arg;
    return 0;
}

static int open_chardev(const char *spec, struct chardev **cd)
{
    int ret = chardev_open(spec, cd);

    if (ret == -EINVAL)
        fprintf(stderr, "uvfio-serial: unknown --chardev '%s': use stdio, "
                "null, pty, file:PATH or pipe:PATH\n", spec);
    else if (ret)
        fprintf(stderr, "uvfio-serial: cannot open --chardev '%s': %s\n",
                spec, strerror(-ret));
    else if (chardev_pty_name(*cd))
        fprintf(stderr, "uvfio-serial: chardev pty: %s\n",
                chardev_pty_name(*cd));
    return ret;
}

static int run(struct uvfio_backend *b, const char *chardev)
{
    struct chardev *cd;
    struct serial *s;
    int ret;

    ret = open_chardev(chardev, &cd);
    if (ret)
        return ret;
    ret = serial_create(cd, &s);
    if (ret) {
        fprintf(stderr, "uvfio-serial: cannot create the device: %s\n",
                strerror(-ret));
        return ret;
    }
    ret = uvfio_backend_run(b, serial_device(s));
    serial_destroy(s);
    return ret;
}

int main(int argc, char **argv)
{
    const char *chardev = "stdio";
    struct uvfio_backend b = {
        .name = "uvfio-serial",
        .about =
            "A PCI 16550A UART (1b36:0002, as QEMU's pci-serial) served over\n"
            "vfio-user.\n",
        .options_help =
            "  --chardev=SPEC           the UART's line: stdio (default),\n"
            "                           null, pty, file:PATH, pipe:PATH\n"
            "                           (PATH.in/PATH.out FIFOs)\n",
        .options = serial_options,
        .parse_option = parse_option,
        .ctx = &chardev,
    };
    int ret = uvfio_backend_parse(&b, argc, argv);

    if (ret)
        return ret > 0 ? EXIT_SUCCESS : UVFIO_BACKEND_EXIT_USAGE;
    return run(&b, chardev) ? UVFIO_BACKEND_EXIT_FAILURE : EXIT_SUCCESS;
}
