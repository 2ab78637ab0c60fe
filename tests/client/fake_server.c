/* SPDX-License-Identifier: MIT */
/*
 * tests/client/fake_server.c - see fake_server.h.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fake_server.h"
#include "proto/version.h"

#define FAKE_MAX_MSG    (80u << 20)

void fake_init(struct fake *f, fake_script script)
{
    memset(f, 0, sizeof(*f));
    f->sock = -1;
    f->script = script;
    f->caps_json = FAKE_DEFAULT_CAPS;
    f->recv_timeout_ms = 3000;
}

void fake_fail(struct fake *f, int line, const char *what)
{
    size_t used = strlen(f->why);

    f->failures++;
    snprintf(f->why + used, sizeof(f->why) - used, "[line %d: %s] ", line,
             what);
}

bool fake_recv(struct fake *f, struct uvfio_msg *m)
{
    struct pollfd p = { .fd = f->sock, .events = POLLIN };
    int r;

    memset(m, 0, sizeof(*m));
    if (poll(&p, 1, f->recv_timeout_ms) != 1) {
        fake_fail(f, __LINE__, "no message from the client in time");
        return false;
    }
    r = uvfio_msg_recv(f->sock, m, FAKE_MAX_MSG, UVFIO_MAX_FDS_LIMIT);
    if (r != 1 && r != 0) {
        fake_fail(f, __LINE__, "uvfio_msg_recv failed");
        return false;
    }
    return true;
}

bool fake_expect(struct fake *f, uint16_t cmd, struct uvfio_msg *m)
{
    char what[96];

    if (!fake_recv(f, m))
        return false;
    if (m->hdr.cmd == cmd &&
        (m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_COMMAND)
        return true;
    snprintf(what, sizeof(what), "expected command %u, got %u flags %#x",
             cmd, m->hdr.cmd, m->hdr.flags);
    fake_fail(f, __LINE__, what);
    uvfio_msg_free(m);
    return false;
}

bool fake_quiet(struct fake *f, int ms)
{
    struct pollfd p = { .fd = f->sock, .events = POLLIN };

    return poll(&p, 1, ms) == 0;
}

bool fake_wait_eof(struct fake *f, int ms)
{
    struct pollfd p = { .fd = f->sock, .events = POLLIN };
    char b;

    if (poll(&p, 1, ms) != 1)
        return false;
    return recv(f->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

int fake_send(struct fake *f, struct uvfio_wire_hdr *hdr, const void *p,
              size_t len, const int *fds, size_t nfds)
{
    struct iovec iov = { (void *)p, len };

    return uvfio_msg_send(f->sock, hdr, &iov, len ? 1 : 0, fds, nfds);
}

static struct uvfio_wire_hdr reply_to(const struct uvfio_msg *req)
{
    return (struct uvfio_wire_hdr){
        .msg_id = req->hdr.msg_id,
        .cmd = req->hdr.cmd,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };
}

int fake_reply(struct fake *f, const struct uvfio_msg *req, const void *p,
               size_t len, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr hdr = reply_to(req);

    return fake_send(f, &hdr, p, len, fds, nfds);
}

int fake_reply2(struct fake *f, const struct uvfio_msg *req, const void *a,
                size_t alen, const void *b, size_t blen)
{
    struct uvfio_wire_hdr hdr = reply_to(req);
    struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };

    return uvfio_msg_send(f->sock, &hdr, iov, 2, NULL, 0);
}

int fake_error(struct fake *f, const struct uvfio_msg *req, uint32_t err)
{
    struct uvfio_wire_hdr hdr = reply_to(req);

    hdr.flags |= UVFIO_HDR_ERROR;
    hdr.error = err;
    return fake_send(f, &hdr, NULL, 0, NULL, 0);
}

bool fake_handshake(struct fake *f)
{
    struct uvfio_wire_version v = { f->major, f->minor };
    struct uvfio_msg m;
    int r;

    if (!fake_expect(f, UVFIO_CMD_VERSION, &m))
        return false;
    if (m.len < sizeof(v)) {
        fake_fail(f, __LINE__, "VERSION payload too short");
        uvfio_msg_free(&m);
        return false;
    }
    memcpy(&f->offer_version, m.payload, sizeof(v));
    f->offer_parsed = uvfio_caps_parse((const char *)m.payload + sizeof(v),
                                       m.len - sizeof(v), &f->offer);
    if (f->caps_json)
        r = fake_reply2(f, &m, &v, sizeof(v), f->caps_json,
                        strlen(f->caps_json) + 1);
    else
        r = fake_reply(f, &m, &v, sizeof(v), NULL, 0);
    uvfio_msg_free(&m);
    if (r < 0)
        fake_fail(f, __LINE__, "VERSION reply not sent");
    return r == 0;
}

static void run_step(struct fake *f, int i, const struct fake_step *st)
{
    bool posted;
    struct uvfio_msg m;
    char what[64];
    size_t k;

    snprintf(what, sizeof(what), "step %d", i);
    if (!fake_expect(f, st->cmd, &m)) {
        fake_fail(f, __LINE__, what);
        return;
    }
    posted = m.hdr.flags & UVFIO_HDR_NO_REPLY;
    if (posted != st->posted)
        fake_fail(f, __LINE__, "NO_REPLY flag");
    if (st->req && (m.len != st->req_len ||
                    (m.len && memcmp(m.payload, st->req, m.len))))
        fake_fail(f, __LINE__, "request payload bytes");
    if (m.nfds != st->req_nfds)
        fake_fail(f, __LINE__, "request fd count");
    if (st->keep_fds) {
        for (k = 0; k < m.nfds && k < st->req_nfds; k++) {
            st->keep_fds[k] = m.fds[k];
            m.fds[k] = -1;
        }
    }
    if (f->failures)
        fake_fail(f, __LINE__, what);
    if (!st->posted) {
        if (st->err || st->error_reply)
            fake_error(f, &m, st->err);
        else
            fake_reply(f, &m, st->rep, st->rep_len, st->rep_fds,
                       st->rep_nfds);
    }
    uvfio_msg_free(&m);
}

void fake_script_steps(struct fake *f)
{
    const struct fake_steps *s = f->arg;
    size_t i;

    for (i = 0; i < s->n && !f->failures; i++)
        run_step(f, (int)i, &s->v[i]);
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;

    if (f->no_handshake || fake_handshake(f))
        f->script(f);
    return NULL;
}

void fake_start(struct fake *f, int *client_fd)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    f->sock = sv[0];
    *client_fd = sv[1];
    if (pthread_create(&f->thread, NULL, fake_main, f) != 0)
        abort();
}

int fake_connect(struct fake *f, const struct uvfio_client_opts *opts,
                 struct uvfio_client **c)
{
    int fd;

    fake_start(f, &fd);
    return uvfio_client_connect_fd(fd, opts, c);
}

int fake_join(struct fake *f)
{
    pthread_join(f->thread, NULL);
    if (f->sock >= 0)
        close(f->sock);
    f->sock = -1;
    if (f->failures)
        fprintf(stderr, "fake server: %d failure(s): %s\n", f->failures,
                f->why);
    return f->failures;
}

int fake_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;   /* the DIR's own fd */
}

int64_t fake_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
