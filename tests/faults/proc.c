// SPDX-License-Identifier: MIT
/* tests/faults/proc.c - see proc.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

long long proc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

void proc_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

bool proc_valgrind_wanted(void)
{
    const char *v = getenv("UVFIO_VALGRIND");

    return v && !strcmp(v, "1");
}

int proc_budget(int ms)
{
    return proc_valgrind_wanted() ? ms * 20 : ms;
}

static int redirect(const char *path, int fd, int flags)
{
    int f = open(path ? path : "/dev/null", flags, 0600);

    if (f < 0 || dup2(f, fd) < 0)
        return -1;
    return 0;
}

/* In the child: stdio redirected, nothing else of ours inherited (a
 * socket or pidfd kept open by a server would look like its leak). */
static void child_exec(char *const argv[], const char *out, const char *err,
                       const char *vglog)
{
    int wflags = O_WRONLY | O_CREAT | O_TRUNC;
    char logopt[160];
    char *args[64];
    int n = 0;

    if (redirect(NULL, 0, O_RDONLY) || redirect(out, 1, wflags) ||
        redirect(err, 2, wflags))
        _exit(126);
    close_range(3, ~0u, 0);
    if (vglog) {
        snprintf(logopt, sizeof(logopt), "--log-file=%s", vglog);
        args[n++] = "valgrind";
        args[n++] = "--error-exitcode=99";
        args[n++] = "--leak-check=full";
        args[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
        args[n++] = "--track-fds=yes";
        args[n++] = logopt;
    }
    for (int i = 0; argv[i] && n < 63; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execvp(args[0], args);
    _exit(127);
}

int proc_start(struct proc *p, char *const argv[], const char *out,
               const char *err, bool valgrind)
{
    static int seq;

    memset(p, 0, sizeof(*p));
    p->pidfd = -1;
    p->valgrind = valgrind && proc_valgrind_wanted();
    if (p->valgrind)
        snprintf(p->vglog, sizeof(p->vglog), "/tmp/uvfio-faults-vg-%d-%d.log",
                 (int)getpid(), seq++);
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0) {
        p->pid = 0;
        return -errno;
    }
    if (p->pid == 0)
        child_exec(argv, out, err, p->valgrind ? p->vglog : NULL);
    p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd < 0) {
        int e = -errno;

        proc_kill(p);
        return e;
    }
    fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
    return 0;
}

int proc_wait_gone(const struct proc *p, int timeout_ms)
{
    struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
    int r;

    if (p->pidfd < 0)
        return 0;
    do
        r = poll(&pfd, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -ETIMEDOUT;
}

/* Clean: no errors, and no fd open at exit but stdio and valgrind's log
 * (which --track-fds lists as well). */
static bool vg_log_clean(const char *log, const char *vglog)
{
    const char *p = log;
    char *path;
    int fd;

    if (!strstr(log, "ERROR SUMMARY: 0 errors") ||
        !strstr(log, "FILE DESCRIPTORS:"))
        return false;
    while ((p = strstr(p, "Open file descriptor ")) != NULL) {
        p += strlen("Open file descriptor ");
        if (sscanf(p, "%d:", &fd) != 1)
            return false;
        path = strchr(p, ':');
        if (fd > 2 && (!path || strncmp(path + 2, vglog, strlen(vglog))))
            return false;
    }
    return true;
}

static int vg_check(struct proc *p, int status, bool killed)
{
    char *log = proc_slurp(p->vglog);
    int ret = 0;

    if (!killed && (!log || (WIFEXITED(status) && WEXITSTATUS(status) == 99)
                    || !vg_log_clean(log, p->vglog))) {
        fprintf(stderr, "---- valgrind (%s) ----\n%s\n", p->vglog,
                log ? log : "(no log)");
        ret = -EIO;
    }
    free(log);
    unlink(p->vglog);
    return ret;
}

int proc_wait(struct proc *p, int timeout_ms, int *status,
              bool killed_on_purpose)
{
    int st = 0, ret = 0;

    if (p->pid <= 0)
        return -ECHILD;
    if (proc_wait_gone(p, timeout_ms)) {
        kill(p->pid, SIGKILL);
        ret = -ETIMEDOUT;
    }
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
    close(p->pidfd);
    p->pidfd = -1;
    if (status)
        *status = st;
    if (!ret && p->valgrind)
        ret = vg_check(p, st, killed_on_purpose);
    return ret;
}

void proc_kill(struct proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    proc_wait(p, 10000, NULL, true);
}

int proc_fd_count(pid_t pid)
{
    char path[64];
    struct dirent *e;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int proc_wait_socket(const struct proc *p, const char *path, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    struct stat st;

    /* the servers listen on a temporary name and rename it into place:
     * once the path is there, a connect() is accepted */
    while (proc_now_ms() < end) {
        if (!stat(path, &st) && S_ISSOCK(st.st_mode))
            return 0;
        if (!proc_wait_gone(p, 0))
            return -ECHILD;
        proc_sleep_ms(2);
    }
    return -ETIMEDOUT;
}

char *proc_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, got;
    char *buf, *nb;

    if (!f)
        return NULL;
    buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 > 0)
            continue;
        nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}
