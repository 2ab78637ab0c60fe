// SPDX-License-Identifier: MIT
/*
 * instr_driver - the workload bench/instructions.sh counts under callgrind:
 * N small round trips of one kind between two processes, and nothing else
 * that depends on N, so that the difference between two runs at two
 * values of N, divided by the difference of the N, is exactly what one
 * round trip costs each process in user-space instructions.
 *
 *   instr_driver read  N    N REGION_READs of 4 bytes (a uvfio server)
 *   instr_driver write N    N REGION_WRITEs of 4 bytes (a uvfio server)
 *   instr_driver raw   N    N raw AF_UNIX ping-pongs of the same sizes as
 *                           a REGION_READ (32-byte request, 36-byte reply):
 *                           write + read on one side, an echo process
 *                           doing read + write on the other
 *
 * The other end is this program again, exec'd (--serve=FD or --echo=FD on
 * a socketpair), so that callgrind, following children, writes one
 * profile per role and tells them apart by their command line.  The server
 * runs uvfio_server_run(), as a backend program does.
 *
 * Without a mode (as scripts/bench.sh runs every bench program) it says
 * what it is for and exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "pingdev.h"

/* ---- the raw ping-pong's client side ------------------------------------ */

static int raw_loop(int fd, unsigned long ops)
{
    char req[PING_REQ_BYTES] = { 0 }, rep[PING_REPLY_BYTES];

    for (unsigned long i = 0; i < ops; i++)
        if (write(fd, req, sizeof(req)) != sizeof(req) ||
            ping_read_full(fd, rep, sizeof(rep)))
            return -EIO;
    return 0;
}

/* ---- the vfio-user client ---------------------------------------------- */

static int client_loop(int fd, bool write, unsigned long ops)
{
    struct uvfio_client *c;
    uint32_t v = 0;
    ssize_t n;
    int r;

    r = uvfio_client_connect_fd(fd, NULL, &c);
    if (r < 0)
        return r;
    for (unsigned long i = 0; i < ops && r == 0; i++) {
        uint64_t off = (i * 4) % PING_REGION_SIZE;

        v = (uint32_t)i;
        n = write ? uvfio_client_region_write(c, 0, off, &v, 4)
                  : uvfio_client_region_read(c, 0, off, &v, 4);
        if (n != 4)
            r = n < 0 ? (int)n : -EIO;
    }
    uvfio_client_close(c);
    return r;
}

/* ---- main ---------------------------------------------------------------- */

static pid_t spawn(const char *self, const char *role, int fd)
{
    char arg[32];
    pid_t pid;

    snprintf(arg, sizeof(arg), "--%s=%d", role, fd);
    pid = fork();
    if (pid == 0) {
        fcntl(fd, F_SETFD, 0);      /* this end, and only it, goes along */
        execl(self, self, arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv)
{
    const char *self = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
    unsigned long ops;
    int sv[2], r, status;
    bool raw, write;
    pid_t pid;

    if (argc == 2 && !strncmp(argv[1], "--serve=", 8))
        return ping_serve(NULL, atoi(argv[1] + 8), NULL) ? 1 : 0;
    if (argc == 2 && !strncmp(argv[1], "--echo=", 7))
        return ping_echo(atoi(argv[1] + 7)) ? 1 : 0;
    if (argc != 3 || (strcmp(argv[1], "read") && strcmp(argv[1], "write") &&
                      strcmp(argv[1], "raw"))) {
        printf("instr_driver: the workload of bench/instructions.sh "
               "(usage: instr_driver read|write|raw N); run that script\n");
        return 0;
    }
    ops = strtoul(argv[2], NULL, 10);
    raw = !strcmp(argv[1], "raw");
    write = !strcmp(argv[1], "write");
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("instr_driver: socketpair");
        return 1;
    }
    pid = spawn(self, raw ? "echo" : "serve", sv[1]);
    close(sv[1]);
    if (pid < 0) {
        perror("instr_driver: fork");
        return 1;
    }
    r = raw ? raw_loop(sv[0], ops) : client_loop(sv[0], write, ops);
    if (raw)
        close(sv[0]);   /* the client closed its own */
    else
        kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status))
        r = r ? r : -ECHILD;
    if (r) {
        fprintf(stderr, "instr_driver: %s failed: %s\n", argv[1],
                strerror(-r));
        return 1;
    }
    return 0;
}
