/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/proc.h - the real programs as child processes, for fault
 * injection: each child has a pidfd, so a proxy thread can SIGKILL it and
 * know when it is gone without reaping it, and every wait is bounded.
 * With UVFIO_VALGRIND=1 a child may run under valgrind (errors, leaks and
 * fds); its clean end then also requires a clean valgrind log.
 */
#ifndef UVFIO_TESTS_FAULTS_PROC_H
#define UVFIO_TESTS_FAULTS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc {
    pid_t pid;                  /* 0 once reaped */
    int pidfd;                  /* readable once the process has exited */
    bool valgrind;
    char vglog[128];
};

bool proc_valgrind_wanted(void);
/* A budget in ms, stretched when children run under valgrind. */
int proc_budget(int ms);
long long proc_now_ms(void);
void proc_sleep_ms(long ms);

/* argv[0] is a path.  stdout goes to `out`, stderr to `err` (either may
 * be NULL: /dev/null). */
int proc_start(struct proc *p, char *const argv[], const char *out,
               const char *err, bool valgrind);
/* Until it has exited (not reaped): 0, or -ETIMEDOUT. */
int proc_wait_gone(const struct proc *p, int timeout_ms);
/* Reap it, SIGKILL after timeout_ms (-ETIMEDOUT).  *status as waitpid
 * gives it.  -EIO when valgrind found a problem (the log goes to stderr);
 * killed_on_purpose skips that check (a SIGKILLed valgrind writes no
 * summary). */
int proc_wait(struct proc *p, int timeout_ms, int *status,
              bool killed_on_purpose);
/* SIGKILL and reap. */
void proc_kill(struct proc *p);

/* Open descriptors of a live process (/proc/PID/fd), -errno if unknown. */
int proc_fd_count(pid_t pid);
/* Until `path` is a socket: 0, -ECHILD (the process died), -ETIMEDOUT. */
int proc_wait_socket(const struct proc *p, const char *path, int timeout_ms);

/* A whole small file, NUL-terminated; NULL if unreadable. */
char *proc_slurp(const char *path);

#endif /* UVFIO_TESTS_FAULTS_PROC_H */
