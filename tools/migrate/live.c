// SPDX-License-Identifier: MIT
/*
 * migrate/live.c - how the two ends of a live migration are put together
 * (live.h): in one process over a socketpair, or over TCP; and what they
 * share.
 *
 * In one process the destination end runs on a thread of its own, exactly
 * as it would in another process: the stream between them is the same
 * byte stream, so the local mode tests the code the network mode runs.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "live_priv.h"
#include "netaddr.h"

int live_fail(struct live_result *r, int err, const char *fmt, ...)
{
    va_list ap;

    if (r->err)
        return err;
    r->err = err;
    va_start(ap, fmt);
    vsnprintf(r->step, sizeof(r->step), fmt, ap);
    va_end(ap);
    return err;
}

uint64_t live_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double live_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static int final_append(uint8_t **buf, size_t *len, size_t *cap,
                        const void *p, size_t n)
{
    size_t c = *cap ? *cap : 64u << 10;
    uint8_t *q;

    if (*len + n > LIVE_MAX_FINAL_IMAGE)
        return -EFBIG;
    while (c < *len + n)
        c *= 2;
    if (c != *cap) {
        q = realloc(*buf, c);
        if (!q)
            return -ENOMEM;
        *buf = q;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

int live_keep_final(struct live_result *r, const char *what, uint8_t **buf,
                    size_t *len, size_t *cap, const void *p, size_t n)
{
    int err = final_append(buf, len, cap, p, n);

    if (err == -EFBIG)
        return live_fail(r, err, "%s exceeds %llu MiB", what,
                         LIVE_MAX_FINAL_IMAGE >> 20);
    if (err)
        return live_fail(r, err, "keeping %s", what);
    return 0;
}

int live_peer_error(struct lm_stream *s, const struct lm_rec *rec,
                    struct live_result *r, const char *who)
{
    uint8_t buf[LM_ERROR_MIN + LM_ERROR_TEXT_MAX];
    char text[LM_ERROR_TEXT_MAX + 1];
    int err = -EPROTO;

    if (lm_recv_payload(s, buf, (size_t)rec->len) ||
        lm_error_decode(buf, (size_t)rec->len, &err, text, sizeof(text)))
        return live_fail(r, -EPROTO, "the %s failed and its ERROR record "
                         "is malformed", who);
    r->dst_failed = !strcmp(who, "destination");
    return live_fail(r, err, "%s: %s", who, text);
}

const char *live_state_name(enum uvfio_mig_state s)
{
    static const char *const names[UVFIO_MIG_STATE_COUNT] = {
        [UVFIO_MIG_STATE_ERROR] = "ERROR",
        [UVFIO_MIG_STATE_STOP] = "STOP",
        [UVFIO_MIG_STATE_RUNNING] = "RUNNING",
        [UVFIO_MIG_STATE_STOP_COPY] = "STOP_COPY",
        [UVFIO_MIG_STATE_RESUMING] = "RESUMING",
        [UVFIO_MIG_STATE_RUNNING_P2P] = "RUNNING_P2P",
        [UVFIO_MIG_STATE_PRE_COPY] = "PRE_COPY",
        [UVFIO_MIG_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
    };

    return (unsigned int)s < UVFIO_MIG_STATE_COUNT ? names[s] : "?";
}

void live_result_free(struct live_result *r)
{
    free(r->round);
    r->round = NULL;
    r->rounds = 0;
}

/* ---- both ends here ----------------------------------------------------- */

struct dest_thread {
    struct live_opts o;
    int fd;
    struct live_result r;
    int ret;
};

static void *dest_main(void *arg)
{
    struct dest_thread *d = arg;

    d->ret = live_dest_fd(&d->o, d->fd, &d->r);
    return NULL;
}

static int spawn_dest(struct dest_thread *d, pthread_t *th)
{
    sigset_t all, old;
    int r;

    /* SIGINT is the source's to see: it abandons, and the destination
     * hears of it through the stream */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(th, NULL, dest_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -r;
}

int live_run(const struct live_opts *o, struct live_result *r)
{
    struct dest_thread *d;
    pthread_t th;
    int sv[2], ret;

    memset(r, 0, sizeof(*r));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return live_fail(r, -errno, "creating the migration stream");
    d = calloc(1, sizeof(*d));
    if (!d) {
        close(sv[0]);
        close(sv[1]);
        return live_fail(r, -ENOMEM, "starting the destination end");
    }
    d->o = *o;
    d->o.progress = NULL;
    d->o.cancel = NULL;
    d->fd = sv[1];
    ret = spawn_dest(d, &th);
    if (ret) {
        close(sv[0]);
        close(sv[1]);
        free(d);
        return live_fail(r, ret, "starting the destination end");
    }
    ret = live_source_fd(o, sv[0], r);
    pthread_join(th, NULL);
    /* the source heard the destination's reason through the stream; a
     * destination that failed without a word is still a failure */
    if (!ret && d->ret)
        ret = live_fail(r, d->ret, "destination: %s", d->r.step);
    live_result_free(&d->r);
    free(d);
    return ret;
}

/* ---- one end here, the other across the network ------------------------- */

int live_run_source(const struct live_opts *o, struct live_result *r)
{
    struct netaddr a;
    int fd;

    memset(r, 0, sizeof(*r));
    if (netaddr_parse(o->to, &a) || !a.host[0])
        return live_fail(r, -EINVAL, "--to wants tcp:HOST:PORT, not '%s'",
                         o->to);
    fd = netaddr_connect(&a, (int)o->timeout_ms);
    if (fd < 0)
        return live_fail(r, fd, "connecting to the destination at %s",
                         o->to);
    return live_source_fd(o, fd, r);
}

int live_run_dest(const struct live_opts *o, struct live_result *r)
{
    struct netaddr a;
    int fd;

    memset(r, 0, sizeof(*r));
    if (netaddr_parse(o->incoming, &a))
        return live_fail(r, -EINVAL, "--incoming wants tcp:ADDR:PORT, not "
                         "'%s'", o->incoming);
    fd = netaddr_accept_one(&a, (int)o->timeout_ms);
    if (fd < 0)
        return live_fail(r, fd, "waiting for the source on %s",
                         o->incoming);
    return live_dest_fd(o, fd, r);
}
