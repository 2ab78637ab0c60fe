// SPDX-License-Identifier: MIT
/*
 * Process helpers for the integration tests (see proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int tmpdir_create(char *buf, size_t len)
{
    if (snprintf(buf, len, "/tmp/uvfio-it-XXXXXX") >= (int)len)
        return -ENAMETOOLONG;
    return mkdtemp(buf) ? 0 : -errno;
}

void tmpdir_remove(const char *dir)
{
    char cmd[512];

    if (!dir[0] || strncmp(dir, "/tmp/uvfio-it-", 14))
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

bool proc_valgrind_wanted(void)
{
    const char *v = getenv("UVFIO_VALGRIND");

    return v && !strcmp(v, "1");
}

static void exec_child(char *const argv[], const char *out, int out_fd,
                       const char *vglog)
{
    char logopt[300];
    char *vg[64];
    int n = 0;

    if (out_fd >= 0 && dup2(out_fd, 1) < 0)
        _exit(126);
    if (out) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
    }
    /* nothing of the test's (client sockets, eventfds) may leak into the
     * child: it would keep connections alive and count as a leaked fd */
    close_range(3, ~0u, 0);
    /* the test's own stdin is no business of the server's */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0 && devnull != 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    if (!vglog) {
        execv(argv[0], argv);
        _exit(127);
    }
    snprintf(logopt, sizeof(logopt), "--log-file=%s", vglog);
    vg[n++] = "valgrind";
    vg[n++] = "--error-exitcode=99";
    vg[n++] = "--leak-check=full";
    vg[n++] = "--show-leak-kinds=definite,indirect,possible";
    vg[n++] = "--errors-for-leak-kinds=definite,indirect,possible";
    vg[n++] = "--track-fds=yes";
    vg[n++] = logopt;
    for (int i = 0; argv[i] && n < 63; i++)
        vg[n++] = argv[i];
    vg[n] = NULL;
    execvp("valgrind", vg);
    _exit(127);
}

static int spawn(struct proc *p, char *const argv[], const char *out,
                 int out_fd, bool allow_valgrind)
{
    memset(p, 0, sizeof(*p));
    p->valgrind = allow_valgrind && proc_valgrind_wanted();
    if (p->valgrind) {
        snprintf(p->vglog, sizeof(p->vglog), "/tmp/uvfio-vg-%d-%lld.log",
                 (int)getpid(), now_ms());
    }
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        return -errno;
    if (p->pid == 0)
        exec_child(argv, out, out_fd, p->valgrind ? p->vglog : NULL);
    return 0;
}

int proc_spawn(struct proc *p, char *const argv[], const char *out,
               bool allow_valgrind)
{
    return spawn(p, argv, out, -1, allow_valgrind);
}

int proc_spawn_stdout(struct proc *p, char *const argv[], int out_fd)
{
    return spawn(p, argv, NULL, out_fd, false);
}

long proc_cpu_ticks(const struct proc *p)
{
    char path[64], *s, *f;
    unsigned long utime, stime;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)p->pid);
    s = file_slurp(path, NULL);
    /* fields after the ")" closing the command name: state is field 3,
     * utime and stime are fields 14 and 15 */
    f = s ? strrchr(s, ')') : NULL;
    if (!f || sscanf(f + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                     &utime, &stime) != 2) {
        free(s);
        return -1;
    }
    free(s);
    return (long)(utime + stime);
}

int proc_wait_socket(struct proc *p, const char *path, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    struct stat st;
    int status;

    while (now_ms() < end) {
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return -ECHILD;
        }
        usleep(5000);
    }
    return -ETIMEDOUT;
}

/* Any fd open at exit besides stdio and valgrind's own log file (which
 * --track-fds lists too, "inherited from parent") is a leak. */
static bool valgrind_fds_clean(const char *log, const char *vglog)
{
    const char *p = log;

    if (!strstr(log, "FILE DESCRIPTORS:"))
        return false;
    while ((p = strstr(p, "Open file descriptor ")) != NULL) {
        const char *path;
        int fd;

        p += strlen("Open file descriptor ");
        if (sscanf(p, "%d:", &fd) != 1)
            return false;
        path = strchr(p, ':');
        if (fd <= 2 || !path)
            continue;
        path += 2;
        if (strncmp(path, vglog, strlen(vglog)))
            return false;
    }
    return true;
}

static bool valgrind_log_clean(const char *log, const char *vglog)
{
    if (!strstr(log, "ERROR SUMMARY: 0 errors"))
        return false;
    return valgrind_fds_clean(log, vglog);
}

static int check_valgrind(struct proc *p, int status)
{
    char *log = file_slurp(p->vglog, NULL);
    int ret = 0;

    if (!log) {
        fprintf(stderr, "valgrind log %s missing\n", p->vglog);
        return -EIO;
    }
    if ((WIFEXITED(status) && WEXITSTATUS(status) == 99) ||
        !valgrind_log_clean(log, p->vglog)) {
        fprintf(stderr, "---- valgrind reported problems ----\n%s\n", log);
        ret = -EIO;
    }
    free(log);
    unlink(p->vglog);
    return ret;
}

int proc_stop(struct proc *p, int sig, int timeout_ms, int *status)
{
    long long end = now_ms() + timeout_ms;
    int st = 0;

    if (p->pid <= 0)
        return -ECHILD;
    kill(p->pid, sig);
    while (waitpid(p->pid, &st, WNOHANG) == 0) {
        if (now_ms() >= end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        usleep(5000);
    }
    p->pid = 0;
    if (status)
        *status = st;
    return p->valgrind ? check_valgrind(p, st) : 0;
}

int proc_run(char *const argv[], const char *out, int timeout_ms)
{
    struct proc p;
    long long end;
    int st, ret;

    ret = proc_spawn(&p, argv, out, false);
    if (ret)
        return ret;
    end = now_ms() + timeout_ms;
    while (waitpid(p.pid, &st, WNOHANG) == 0) {
        if (now_ms() >= end) {
            kill(p.pid, SIGKILL);
            waitpid(p.pid, &st, 0);
            return -ETIMEDOUT;
        }
        usleep(2000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -EINTR;
}

char *file_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = n + 8192);

            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);

        n += r;
        if (r < 4096)
            break;
    }
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

char *file_wait(const char *path, size_t len, int timeout_ms, size_t *got)
{
    long long end = now_ms() + timeout_ms;

    for (;;) {
        size_t n = 0;
        char *s = file_slurp(path, &n);

        if ((s && n >= len) || now_ms() >= end) {
            if (got)
                *got = n;
            return s;
        }
        free(s);
        usleep(2000);
    }
}
