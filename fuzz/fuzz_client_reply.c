/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_client_reply.c - the client library against a hostile server.
 *
 * Each input runs one fixed script of client calls (fz_script.c) against
 * fz_fake, a server whose every answer, and the DMA requests it slips in
 * before each answer, come from the input (format in fz_frame.h).  The
 * client must not crash, leak memory or fds, hang, send malformed
 * messages, answer DMA it should not (fz_fake checks that), or return
 * more than it was asked for.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "fz_fake.h"
#include "fz_frame.h"
#include "fz_script.h"
#include "fz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t cfg = size ? data[0] : 0;
    int fds_before = fz_fd_count();
    struct fz_fake *f;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        fz_fail("socketpair: %s", strerror(errno));
    f = fz_fake_start(sv[1], data, size, fz_script_xfer(cfg));
    if (!f)
        fz_fail("cannot start the fake server");
    fz_script_run(sv[0], cfg);
    fz_fake_join(f);
    if (fz_fd_count() != fds_before)
        fz_fail("fd leak: %d open before, %d after", fds_before,
                fz_fd_count());
    return 0;
}
