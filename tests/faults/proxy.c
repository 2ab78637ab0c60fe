// SPDX-License-Identifier: MIT
/* tests/faults/proxy.c - see proxy.h. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/wire.h"
#include "proxy.h"

#define MAX_FDS         16
#define MAX_MSG         (128u << 20)    /* beyond: not vfio-user, pass raw */
#define IO_TIMEOUT_S    5

/* One direction: bytes from `from` to `to`. */
struct flow {
    int from, to;
    enum dir dir;
    bool open;          /* still reading from `from` */
    bool dead;          /* `to` takes nothing more: read and drop */
    bool raw;           /* the stream is not vfio-user: pass bytes on */
    uint8_t *buf;
    size_t len, cap;
    int fds[MAX_FDS];
    int nfds;
};

struct proxy {
    struct fault_run *run;
    enum side side;
    int lfd, stopfd;
    char target[108];
    char path[108];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool accepted;
    bool done;
    struct flow flow[2];
};

void fault_run_init(struct fault_run *r, int src_state, int dst_state,
                    const struct fault_plan *plan)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    track_init(&r->track, src_state, dst_state);
    if (plan)
        r->plan = *plan;
}

void fault_run_destroy(struct fault_run *r)
{
    pthread_mutex_destroy(&r->lock);
}

/* ---- sockets ------------------------------------------------------------- */

static void set_timeouts(int fd)
{
    struct timeval tv = { .tv_sec = IO_TIMEOUT_S };

    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->sun_path))
        return -ENAMETOOLONG;
    strcpy(a->sun_path, path);
    return 0;
}

static int listen_on(const char *path)
{
    struct sockaddr_un a;
    int fd, ret = unix_addr(path, &a);

    if (ret)
        return ret;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4)) {
        ret = -errno;
        close(fd);
        return ret;
    }
    return fd;
}

static int connect_to(const char *path)
{
    struct sockaddr_un a;
    int fd, ret = unix_addr(path, &a);

    if (ret)
        return ret;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        ret = -errno;
        close(fd);
        return ret;
    }
    set_timeouts(fd);
    return fd;
}

static void close_fds(int *fds, int *n)
{
    for (int i = 0; i < *n; i++)
        close(fds[i]);
    *n = 0;
}

/* Send len bytes, with fds (if any) attached to the first of them. */
static int send_all(int sock, const uint8_t *p, size_t len, int *fds,
                    int *nfds)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct iovec iov;
    struct msghdr mh;
    struct cmsghdr *cm;
    ssize_t n;

    while (len) {
        memset(&mh, 0, sizeof(mh));
        iov.iov_base = (void *)p;
        iov.iov_len = len;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (*nfds) {
            mh.msg_control = cbuf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)*nfds);
            cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)*nfds);
            memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)*nfds);
        }
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        close_fds(fds, nfds);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read what is there; fds received are queued for the next message. */
static ssize_t recv_some(struct flow *f)
{
    char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    struct msghdr mh = { 0 };
    struct cmsghdr *cm;
    struct iovec iov;
    ssize_t n;
    uint8_t *nb;

    if (f->cap - f->len < 65536) {
        nb = realloc(f->buf, f->cap + 65536 * 2);
        if (!nb)
            return -ENOMEM;
        f->buf = nb;
        f->cap += 65536 * 2;
    }
    iov.iov_base = f->buf + f->len;
    iov.iov_len = f->cap - f->len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    n = recvmsg(f->from, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -errno;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[MAX_FDS];

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
        for (size_t i = 0; i < k; i++) {
            if (f->nfds < MAX_FDS)
                f->fds[f->nfds++] = fds[i];
            else
                close(fds[i]);
        }
    }
    f->len += (size_t)n;
    return n;
}

/* ---- the fault ----------------------------------------------------------- */

static bool plan_matches(struct fault_run *r, enum side s, enum phase ph)
{
    const struct fault_plan *pl = &r->plan;

    if (pl->kind == FAULT_NONE || r->fired || pl->phase != ph)
        return false;
    if (pl->side != SIDE_ANY && pl->side != (int)s)
        return false;
    if (pl->side == SIDE_ANY) {
        unsigned int n = r->count[ph][SIDE_SRC] + r->count[ph][SIDE_DST];

        return n == pl->index;
    }
    return r->count[ph][s] == pl->index;
}

/* A message came through whole: tell the tracker, and whether it is the
 * one the plan wants held. */
static bool seen(struct proxy *p, struct flow *f, const uint8_t *m,
                 size_t len)
{
    struct fault_run *r = p->run;
    enum phase ph;
    bool fire;

    pthread_mutex_lock(&r->lock);
    ph = track_seen(&r->track, p->side, f->dir, m, len);
    r->count[ph][p->side]++;
    fire = plan_matches(r, p->side, ph);
    if (fire) {
        r->fired = true;
        r->fired_side = p->side;
        r->fired_dir = f->dir;
        r->fired_phase = ph;
        r->at_fire = r->track;
        track_describe(&r->track, p->side, m, len, r->fired_what,
                       sizeof(r->fired_what));
    } else if (!f->dead) {
        /* marked before the send: once sent, the tool may already act
         * on it through the other proxy */
        track_delivered(&r->track, p->side, f->dir, m, len);
    }
    pthread_mutex_unlock(&r->lock);
    return fire;
}

static void deliver(struct flow *f, const uint8_t *m, size_t len)
{
    if (f->dead) {
        close_fds(f->fds, &f->nfds);
        return;
    }
    if (send_all(f->to, m, len, f->fds, &f->nfds)) {
        close_fds(f->fds, &f->nfds);
        f->dead = true;
    }
}

/* Stop sending to `to`: it sees end-of-file; what still comes is dropped. */
static void end_flow(struct flow *f)
{
    shutdown(f->to, SHUT_WR);
    f->dead = true;
    close_fds(f->fds, &f->nfds);
}

static void hard_close(struct proxy *p)
{
    for (int i = 0; i < 2; i++) {
        p->flow[i].open = false;
        p->flow[i].dead = true;
        close_fds(p->flow[i].fds, &p->flow[i].nfds);
    }
    /* flow[0] reads the tool and writes the server: those are the two */
    shutdown(p->flow[0].from, SHUT_RDWR);
    shutdown(p->flow[0].to, SHUT_RDWR);
}

static void kill_victim(struct proxy *p, struct flow *f, const uint8_t *m,
                        size_t len)
{
    const struct fault_plan *pl = &p->run->plan;
    pid_t pid;

    /* the victim may have been started after this proxy */
    pthread_mutex_lock(&p->run->lock);
    pid = pl->victim->pid;
    pthread_mutex_unlock(&p->run->lock);
    if (pid > 0)
        kill(pid, SIGKILL);
    if (pid <= 0 || proc_wait_gone(pl->victim, 10000))
        fprintf(stderr, "proxy: the victim %d outlived SIGKILL\n", (int)pid);
    /* the message reaches a peer that is still there, no dead one */
    if (pl->victim_side == VICTIM_TOOL || pl->victim_side == (int)p->side) {
        close_fds(f->fds, &f->nfds);
        return;
    }
    pthread_mutex_lock(&p->run->lock);
    track_delivered(&p->run->track, p->side, f->dir, m, len);
    pthread_mutex_unlock(&p->run->lock);
    deliver(f, m, len);
}

static void inject(struct proxy *p, struct flow *f, const uint8_t *m,
                   size_t len)
{
    const struct fault_plan *pl = &p->run->plan;
    size_t head = pl->byte % len;

    switch (pl->kind) {
    case FAULT_KILL:
        kill_victim(p, f, m, len);
        break;
    case FAULT_CUT:
        if (head)
            send_all(f->to, m, head, f->fds, &f->nfds);
        hard_close(p);
        break;
    case FAULT_TRUNCATE:
        if (head)
            send_all(f->to, m, head, f->fds, &f->nfds);
        end_flow(f);
        break;
    case FAULT_NONE:
        break;
    }
}

/* ---- forwarding ---------------------------------------------------------- */

/* The size a message's header announces, 0 while the header is short. */
static size_t msg_size(const uint8_t *m, size_t len)
{
    struct uvfio_wire_hdr h;

    if (len < sizeof(h))
        return 0;
    memcpy(&h, m, sizeof(h));
    return h.size;
}

/* Pass on every whole message in the buffer. */
static void pump(struct proxy *p, struct flow *f)
{
    size_t size, off = 0;

    while (f->open || f->raw) {
        const uint8_t *m = f->buf + off;
        size_t left = f->len - off;

        size = msg_size(m, left);
        if (left >= UVFIO_HDR_SIZE && (size < UVFIO_HDR_SIZE ||
                                       size > MAX_MSG))
            f->raw = true;
        if (f->raw) {
            if (left)
                deliver(f, m, left);
            off = f->len;
            break;
        }
        if (!size || left < size)
            break;
        if (seen(p, f, m, size))
            inject(p, f, m, size);
        else
            deliver(f, m, size);
        off += size;
    }
    memmove(f->buf, f->buf + off, f->len - off);
    f->len -= off;
}

static void flow_eof(struct flow *f)
{
    f->open = false;
    if (!f->dead) {
        /* what is left of a message goes too: the receiver judges it */
        if (f->len)
            send_all(f->to, f->buf, f->len, f->fds, &f->nfds);
        shutdown(f->to, SHUT_WR);
    }
    f->len = 0;
    close_fds(f->fds, &f->nfds);
}

static void forward(struct proxy *p, int tool, int server)
{
    struct pollfd pfd[3];
    ssize_t n;

    p->flow[0] = (struct flow){ .from = tool, .to = server,
                                .dir = DIR_TO_SERVER, .open = true };
    p->flow[1] = (struct flow){ .from = server, .to = tool,
                                .dir = DIR_TO_TOOL, .open = true };
    while (p->flow[0].open || p->flow[1].open) {
        for (int i = 0; i < 2; i++) {
            pfd[i].fd = p->flow[i].open ? p->flow[i].from : -1;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        pfd[2] = (struct pollfd){ .fd = p->stopfd, .events = POLLIN };
        if (poll(pfd, 3, -1) < 0 && errno != EINTR)
            break;
        if (pfd[2].revents)
            break;
        for (int i = 0; i < 2; i++) {
            struct flow *f = &p->flow[i];

            if (!f->open || !pfd[i].revents)
                continue;
            n = recv_some(f);
            if (n > 0) {
                pump(p, f);
            } else if (n == 0 || (n != -EINTR && n != -EAGAIN)) {
                flow_eof(f);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        close_fds(p->flow[i].fds, &p->flow[i].nfds);
        free(p->flow[i].buf);
    }
}

static int accept_one(struct proxy *p)
{
    struct pollfd pfd[2] = {
        { .fd = p->lfd, .events = POLLIN },
        { .fd = p->stopfd, .events = POLLIN },
    };
    int fd;

    while (poll(pfd, 2, -1) < 0)
        if (errno != EINTR)
            return -errno;
    if (pfd[1].revents)
        return -ECANCELED;
    fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        set_timeouts(fd);
    return fd < 0 ? -errno : fd;
}

static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    int tool, server;

    tool = accept_one(p);
    pthread_mutex_lock(&p->lock);
    p->accepted = tool >= 0;
    pthread_mutex_unlock(&p->lock);
    if (tool >= 0) {
        server = connect_to(p->target);
        if (server >= 0) {
            forward(p, tool, server);
            close(server);
        }
        close(tool);
    }
    pthread_mutex_lock(&p->lock);
    p->done = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int proxy_start(struct proxy **out, struct fault_run *run, enum side side,
                const char *listen_path, const char *target_path)
{
    struct proxy *p = calloc(1, sizeof(*p));
    int ret;

    if (!p)
        return -ENOMEM;
    p->run = run;
    p->side = side;
    snprintf(p->target, sizeof(p->target), "%s", target_path);
    snprintf(p->path, sizeof(p->path), "%s", listen_path);
    p->stopfd = eventfd(0, EFD_CLOEXEC);
    p->lfd = listen_on(listen_path);
    if (p->stopfd < 0 || p->lfd < 0) {
        ret = p->lfd < 0 ? p->lfd : -errno;
        goto fail;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    ret = -pthread_create(&p->thread, NULL, proxy_main, p);
    if (ret) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        goto fail;
    }
    *out = p;
    return 0;
fail:
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->stopfd >= 0)
        close(p->stopfd);
    free(p);
    return ret;
}

/* Nothing accepted and nothing waiting to be: the tool, which has
 * exited, never connected here. */
static bool never_connected(struct proxy *p)
{
    struct pollfd pfd = { .fd = p->lfd, .events = POLLIN };

    return !p->accepted && poll(&pfd, 1, 0) == 0;
}

int proxy_finish(struct proxy *p, int timeout_ms)
{
    struct timespec ts;
    uint64_t one = 1;
    int ret = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->lock);
    while (!p->done && !never_connected(p) && ret == 0)
        ret = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    pthread_mutex_unlock(&p->lock);
    if (write(p->stopfd, &one, sizeof(one)) != sizeof(one))
        ret = -EIO;
    pthread_join(p->thread, NULL);
    close(p->lfd);
    close(p->stopfd);
    unlink(p->path);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return ret ? -ETIMEDOUT : 0;
}
