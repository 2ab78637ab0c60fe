// SPDX-License-Identifier: MIT
/* tests/faults/rig.c - see rig.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rig.h"

uint32_t rig_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* ---- servers ------------------------------------------------------------- */

static void remove_files(struct server *s)
{
    if (s->kind->cleanup)
        s->kind->cleanup(s);
    unlink(s->sock);
    unlink(s->log);
}

int server_start(struct server *s, const struct kind *k, const char *dir,
                 const char *bin, unsigned int id)
{
    char sockopt[160];
    char *argv[8] = { (char *)bin, sockopt };
    int n = 2, ret;

    memset(s, 0, sizeof(*s));
    s->kind = k;
    s->id = id;
    s->in_fd = s->out_fd = -1;
    s->fd_baseline = -1;
    snprintf(s->sock, sizeof(s->sock), "%s/s%u.sock", dir, id);
    snprintf(s->line, sizeof(s->line), "%s/s%u.line", dir, id);
    snprintf(s->log, sizeof(s->log), "%s/s%u.log", dir, id);
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", s->sock);
    if (k->prepare) {
        ret = k->prepare(s, argv + n, 8 - n - 1);
        if (ret < 0)
            return ret;
        n += ret;
    }
    argv[n] = NULL;
    ret = proc_start(&s->proc, argv, s->log, s->log, true);
    if (!ret)
        ret = proc_wait_socket(&s->proc, s->sock, proc_budget(10000));
    return ret;
}

int server_stop(struct server *s)
{
    int status = 0, ret;
    char *log;

    if (s->proc.pid <= 0)
        return -ECHILD;
    kill(s->proc.pid, SIGTERM);
    ret = proc_wait(&s->proc, proc_budget(5000), &status, false);
    if (!ret && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        log = proc_slurp(s->log);
        fprintf(stderr, "server %u ended with status %#x:\n%s\n", s->id,
                status, log ? log : "(no log)");
        free(log);
        ret = -EIO;
    }
    remove_files(s);
    return ret;
}

void server_reap_killed(struct server *s)
{
    proc_kill(&s->proc);
    remove_files(s);
}

/* Settled: the same count for a few polls in a row. */
static int settle(struct server *s, int timeout_ms)
{
    long long end = proc_now_ms() + timeout_ms;
    int last = -1, same = 0, n;

    while (proc_now_ms() < end && same < 5) {
        n = proc_fd_count(s->proc.pid);
        same = n == last ? same + 1 : 0;
        last = n;
        proc_sleep_ms(2);
    }
    return last;
}

int server_fds_settled(struct server *s, int timeout_ms, int *now)
{
    long long end = proc_now_ms() + timeout_ms;

    if (s->fd_baseline < 0) {
        s->fd_baseline = settle(s, timeout_ms);
        *now = s->fd_baseline;
        return s->fd_baseline < 0 ? -EIO : 0;
    }
    /* a client that just went may take the server a moment to drop */
    while ((*now = proc_fd_count(s->proc.pid)) != s->fd_baseline) {
        if (proc_now_ms() >= end)
            return -EMFILE;
        proc_sleep_ms(2);
    }
    return 0;
}

/* ---- looking at a device ------------------------------------------------- */

struct uvfio_client *rig_connect(const char *sock)
{
    struct uvfio_client_opts o = {
        .timeout_ms = (uint32_t)proc_budget(5000),
    };
    struct uvfio_client *c = NULL;

    return uvfio_client_connect(sock, &o, &c) ? NULL : c;
}

int rig_state(const char *sock, enum uvfio_mig_state *st)
{
    struct uvfio_client *c = rig_connect(sock);
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = uvfio_client_mig_get_state(c, st);
    uvfio_client_close(c);
    return ret;
}

static int read_stream(struct uvfio_client *c, uint8_t **img, size_t *len)
{
    size_t cap = 16384, n = 0;
    uint8_t *buf = malloc(cap), *nb;
    ssize_t r;

    while (buf) {
        r = uvfio_client_mig_read(c, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            return (int)r;
        }
        n += (size_t)r;
        if (n < cap)
            break;
        nb = realloc(buf, cap * 2);
        if (!nb)
            break;
        buf = nb;
        cap *= 2;
    }
    if (!buf || n == cap) {
        free(buf);
        return -ENOMEM;
    }
    *img = buf;
    *len = n;
    return 0;
}

int rig_snapshot(const char *sock, uint8_t **img, size_t *len)
{
    struct uvfio_client *c = rig_connect(sock);
    enum uvfio_mig_state st;
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = uvfio_client_mig_get_state(c, &st);
    if (!ret && st != UVFIO_MIG_STATE_RUNNING)
        ret = -EBUSY;
    if (!ret)
        ret = uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_STOP_COPY);
    if (!ret) {
        ret = read_stream(c, img, len);
        /* back to RUNNING whatever happened to the read */
        if (uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING) && !ret) {
            free(*img);
            ret = -EIO;
        }
    }
    uvfio_client_close(c);
    return ret;
}

int rig_personalize(struct server *s, struct life *life, uint32_t seed)
{
    struct uvfio_client *c = rig_connect(s->sock);
    int ret;

    if (!c)
        return -ECONNREFUSED;
    ret = s->kind->play(s, c, life, seed | 1);
    uvfio_client_close(c);
    if (ret)
        return ret;
    life_clear(life);
    return rig_snapshot(s->sock, &life->image, &life->image_len);
}

void life_clear(struct life *life)
{
    free(life->image);
    life->image = NULL;
    life->image_len = 0;
}

void life_forget(struct life *life)
{
    life_clear(life);
    life->held_len = 0;
}
