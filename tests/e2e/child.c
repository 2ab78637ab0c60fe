// SPDX-License-Identifier: MIT
/* tests/e2e/child.c - see child.h. */
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

#include "child.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

bool child_valgrind_wanted(void)
{
    const char *v = getenv("UVFIO_VALGRIND");

    return v && !strcmp(v, "1");
}

/* In the child: stdio to the log, nothing else of ours inherited (a
 * client socket kept open by a server would look like a leak). */
static void child_exec(char *const argv[], const char *log, const char *vg)
{
    char logopt[160];
    char *args[64];
    int n = 0, fd;

    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(126);
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, 0) < 0)
        _exit(126);
    close_range(3, ~0u, 0);
    if (vg) {
        snprintf(logopt, sizeof(logopt), "--log-file=%s", vg);
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

int child_start(struct child *c, char *const argv[], const char *log,
                bool valgrind)
{
    static int seq;

    memset(c, 0, sizeof(*c));
    c->valgrind = valgrind && child_valgrind_wanted();
    if (c->valgrind)
        snprintf(c->vglog, sizeof(c->vglog), "/tmp/uvfio-e2e-vg-%d-%d.log",
                 (int)getpid(), seq++);
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        return -errno;
    if (c->pid == 0)
        child_exec(argv, log, c->valgrind ? c->vglog : NULL);
    return 0;
}

int child_wait_socket(struct child *c, const char *path, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    struct stat st;
    int status;

    while (now_ms() < end) {
        if (!stat(path, &st) && S_ISSOCK(st.st_mode))
            return 0;
        if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
            c->pid = 0;
            return -ECHILD;
        }
        usleep(5000);
    }
    return -ETIMEDOUT;
}

/*
 * Clean: no errors, and no fd open at exit but stdio and valgrind's log
 * (which --track-fds lists as well).
 */
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

static int vg_check(struct child *c, int status)
{
    char *log = slurp(c->vglog);
    int ret = 0;

    if (!log || (WIFEXITED(status) && WEXITSTATUS(status) == 99) ||
        !vg_log_clean(log, c->vglog)) {
        fprintf(stderr, "---- valgrind (%s) ----\n%s\n", c->vglog,
                log ? log : "(no log)");
        ret = -EIO;
    }
    free(log);
    unlink(c->vglog);
    return ret;
}

int child_wait(struct child *c, int timeout_ms, int *status)
{
    long long end = now_ms() + timeout_ms;
    int st = 0, ret = 0;

    if (c->pid <= 0)
        return -ECHILD;
    while (waitpid(c->pid, &st, WNOHANG) == 0) {
        if (now_ms() >= end) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &st, 0);
            ret = -ETIMEDOUT;
            break;
        }
        usleep(2000);
    }
    c->pid = 0;
    if (status)
        *status = st;
    if (!ret && c->valgrind)
        ret = vg_check(c, st);
    return ret;
}

int child_stop(struct child *c, int sig, int timeout_ms, int *status)
{
    if (c->pid <= 0)
        return -ECHILD;
    kill(c->pid, sig);
    return child_wait(c, timeout_ms, status);
}

char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0, got;
    char *buf, *nb;

    if (!f)
        return NULL;
    buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}
