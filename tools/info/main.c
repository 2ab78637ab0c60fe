// SPDX-License-Identifier: MIT
/*
 * uvfio-info - show a vfio-user device the way lspci -vvv shows a PCI
 * function, plus its VFIO regions and IRQs.  See docs/uvfio-info.md.
 *
 * It only reads: config space through region 7, info through the GET_*
 * commands.  Running it against a device a VM is using is safe.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "gather.h"
#include "print.h"

#define EXIT_USAGE      2
#define EXIT_CONNECT    3

static void usage(FILE *f)
{
    fprintf(f,
        "usage: uvfio-info [--json] SOCKET\n"
        "\n"
        "Connects to the vfio-user device listening on SOCKET and prints it\n"
        "as lspci -vvv would (IDs, class, command/status, BARs, interrupt,\n"
        "capabilities), then its VFIO regions (size, flags, mmap offset,\n"
        "sparse areas) and IRQ indexes.  Reads only; never writes the device.\n"
        "\n"
        "  --json      one JSON object instead of text\n"
        "  -h, --help  this text\n"
        "\n"
        "Exit status: 0 shown, 1 the device did not answer its info requests,\n"
        "2 bad usage, 3 could not connect (no socket, or not a vfio-user\n"
        "server, or another client is attached).\n");
}

static int parse_args(int argc, char **argv, bool *json, const char **socket)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            *json = true;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_SUCCESS);
        default:
            return -EINVAL;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "uvfio-info: give exactly one SOCKET\n");
        return -EINVAL;
    }
    *socket = argv[optind];
    return 0;
}

static int show(struct uvfio_client *c, const char *socket, bool json)
{
    struct info in;
    int ret;

    ret = info_gather(c, socket, &in);
    if (ret) {
        fprintf(stderr, "uvfio-info: %s: device info: %s\n", socket,
                strerror(-ret));
        info_free(&in);
        return EXIT_FAILURE;
    }
    if (json)
        ret = info_print_json(stdout, &in);
    else
        info_print_text(stdout, &in);
    info_free(&in);
    if (ret || fflush(stdout)) {
        fprintf(stderr, "uvfio-info: writing the output failed\n");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    const struct uvfio_client_opts opts = { .timeout_ms = 10000 };
    struct uvfio_client *c;
    const char *socket = NULL;
    bool json = false;
    int ret;

    if (parse_args(argc, argv, &json, &socket)) {
        fprintf(stderr, "Try 'uvfio-info --help'.\n");
        return EXIT_USAGE;
    }
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    ret = uvfio_client_connect(socket, &opts, &c);
    if (ret) {
        fprintf(stderr, "uvfio-info: cannot connect to %s: %s%s\n", socket,
                strerror(-ret), ret == -ENOENT ? " (is the device running?)"
                : ret == -ECONNREFUSED ? " (stale socket: nothing listens)"
                : "");
        return EXIT_CONNECT;
    }
    ret = show(c, socket, json);
    uvfio_client_close(c);
    return ret;
}
