/* SPDX-License-Identifier: MIT */
/*
 * Spawning the real programs for the integration tests, every wait bounded.
 *
 * With UVFIO_VALGRIND=1 in the environment a server is started under
 * valgrind (memcheck, full leak check, fd tracking, log to a file), and
 * proc_stop() fails unless that log shows no errors, no leaks and no fd
 * left open besides stdin/stdout/stderr.
 */
#ifndef UVFIO_TESTS_PROC_H
#define UVFIO_TESTS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    bool valgrind;
    char vglog[256];
};

/* A fresh private directory under /tmp; rm -rf'd by tmpdir_remove. */
int tmpdir_create(char *buf, size_t len);
void tmpdir_remove(const char *dir);

bool proc_valgrind_wanted(void);
/* argv[0] is the program's path.  stdout/stderr go to `out` (NULL: ours). */
int proc_spawn(struct proc *p, char *const argv[], const char *out,
               bool allow_valgrind);
/* Same, never under valgrind, with stdout on `out_fd` (stderr kept). */
int proc_spawn_stdout(struct proc *p, char *const argv[], int out_fd);
/* user + system CPU time the process used so far, in clock ticks. */
long proc_cpu_ticks(const struct proc *p);
/* Wait until `path` is a socket (the server is listening); -ETIMEDOUT, or
 * -ECHILD when the process died first. */
int proc_wait_socket(struct proc *p, const char *path, int timeout_ms);
/* Send `sig`, wait up to timeout_ms (then SIGKILL), return the exit
 * status as waitpid gives it in *status.  Returns 0, or -EIO when valgrind
 * reported a problem (its log is copied to stderr). */
int proc_stop(struct proc *p, int sig, int timeout_ms, int *status);
/* Run a program to completion (bounded), stdout into `out`. Exit code or
 * -errno. */
int proc_run(char *const argv[], const char *out, int timeout_ms);

/* Read a whole (small) file; NUL-terminated, caller frees. */
char *file_slurp(const char *path, size_t *len);
/* Poll `path` until it holds at least `len` bytes; returns its content. */
char *file_wait(const char *path, size_t len, int timeout_ms, size_t *got);

#endif /* UVFIO_TESTS_PROC_H */
