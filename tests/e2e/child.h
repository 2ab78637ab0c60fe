/* SPDX-License-Identifier: MIT */
/*
 * tests/e2e/child.h - the real programs as child processes, every wait
 * bounded.  With UVFIO_VALGRIND=1 a child may run under valgrind
 * (memcheck, leaks, fds); its end then fails unless the log is clean.
 */
#ifndef UVFIO_TESTS_E2E_CHILD_H
#define UVFIO_TESTS_E2E_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

struct child {
    pid_t pid;
    bool valgrind;
    char vglog[128];
};

bool child_valgrind_wanted(void);
/* argv[0] is a path.  stdout and stderr go to `log` (truncated). */
int child_start(struct child *c, char *const argv[], const char *log,
                bool valgrind);
/* Until `path` is a socket: 0, -ECHILD (it died), -ETIMEDOUT. */
int child_wait_socket(struct child *c, const char *path, int timeout_ms);
/* Until it exits (SIGKILL after timeout_ms: -ETIMEDOUT).  *status as
 * waitpid gives it.  -EIO when valgrind found a problem (log on stderr). */
int child_wait(struct child *c, int timeout_ms, int *status);
/* Send `sig`, then child_wait. */
int child_stop(struct child *c, int sig, int timeout_ms, int *status);

/* A whole small file, NUL-terminated; NULL if unreadable. */
char *slurp(const char *path);

#endif /* UVFIO_TESTS_E2E_CHILD_H */
