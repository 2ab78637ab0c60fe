// SPDX-License-Identifier: MIT
/*
 * server/ring.c - the standalone loop's wait, on io_uring.
 *
 * A small request costs a round trip of two context switches on a shared
 * CPU, and how the sleeping server is woken is a large part of it.  An
 * epoll waiter is woken through epoll's callback and then rescans its ready
 * list; an io_uring poll on a ring set up with DEFER_TASKRUN wakes the
 * waiting task directly and completes the poll in that task's own context.
 * Measured on the project's machines with both ends on one CPU, the second
 * is ~300 ns faster per round trip - most of what separated a REGION_READ
 * from a raw socket ping-pong (docs/testing.md, bench/region_rw).
 *
 * So while uvfio_server_run() runs, the client sockets it accepted are
 * watched by a ring owned by the running thread (a DEFER_TASKRUN ring may
 * only be used by one thread, the one that enables it: the ring is made
 * with the server, disabled, so that the server holds the same fds from
 * creation to the end, and enabled by the first run), and everything else - listening sockets,
 * the stop and wake eventfds, the driver's fds, a socket's POLLOUT, and any
 * registration made from another thread - stays in the epoll set, which the
 * ring watches as one more fd.  uvfio_server_dispatch() (the embedded loop)
 * never uses the ring: there the caller's loop does the waiting.
 *
 * Client sockets get multishot polls: one CQE per arrival of data, none
 * while the socket stays readable.  That is enough because a connection
 * reads until the socket comes back short, and one that stops early (its
 * per-turn budget) says so through the wake eventfd.  The epoll fd gets a
 * one-shot poll re-armed after every epoll_wait, which makes it level-
 * triggered: a driver fd left readable fires again.
 *
 * A CQE names a slot and that slot's generation, never a pointer: a poll
 * removed when its connection closed may still complete later (-ECANCELED,
 * or an event already posted), after the connection is freed or the slot
 * reused; a stale generation is simply ignored.
 *
 * The kernel may have no io_uring (older than 6.1 for DEFER_TASKRUN,
 * io_uring_disabled, a seccomp filter in a container), or the process may
 * run under valgrind, which cannot wait in io_uring: then the loop is the
 * epoll one, as it always was.  UVFIO_NO_IO_URING=1 in the environment
 * or UVFIO_SERVER_NO_IO_URING in the options asks for that on purpose.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "server_priv.h"
#include "util/log.h"

#define RING_ENTRIES    64u
/* user_data values that are not slots. */
#define KEY_EPOLL       UINT64_MAX          /* the epoll fd's poll */
#define KEY_CANCEL      (UINT64_MAX - 1)    /* a poll removal */
#define KEY_TX          (1ull << 62)        /* | index in txs: a reply */
#define RING_MAX_TX     32u                 /* replies per wait */

struct ring_slot {
    struct srv_tag *tag;    /* NULL: free */
    int fd;
    uint32_t gen;
};

struct srv_ring {
    struct io_uring ring;
    bool enabled;
    bool active;            /* inside uvfio_server_run */
    struct ring_slot *slots;
    uint32_t nslots;
    bool epoll_armed;
    /* Replies the next wait sends (conn.c, "replies the ring sends"). */
    struct ring_tx {
        struct srv_conn *c;     /* NULL: forgotten */
        struct srv_out *o;
    } txs[RING_MAX_TX];
    uint32_t ntx;
};

static uint64_t slot_key(const struct srv_ring *r, uint32_t i)
{
    return (uint64_t)r->slots[i].gen << 32 | i;
}

/* An SQE, submitting what is queued if the ring is full. */
static struct io_uring_sqe *get_sqe(struct srv_ring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

    if (!sqe) {
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
    }
    return sqe;
}

static int arm_slot(struct srv_ring *r, uint32_t i)
{
    struct io_uring_sqe *sqe = get_sqe(r);

    if (!sqe)
        return -EBUSY;
    /* POLLRDHUP: the end of the stream must be told apart from data
     * (uvfio_rx_note_readable). */
    io_uring_prep_poll_multishot(sqe, r->slots[i].fd, POLLIN | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, slot_key(r, i));
    return 0;
}

static int arm_epoll(struct uvfio_server *srv)
{
    struct srv_ring *r = srv->ring;
    struct io_uring_sqe *sqe;

    if (r->epoll_armed)
        return 0;
    sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_add(sqe, srv->epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, KEY_EPOLL);
    r->epoll_armed = true;
    return 0;
}

static bool ring_disabled(const struct uvfio_server *srv)
{
    const char *env = getenv("UVFIO_NO_IO_URING");

    if ((srv->opts.flags & UVFIO_SERVER_NO_IO_URING) ||
        (env && *env && strcmp(env, "0") != 0))
        return true;
    /* valgrind (3.19) does not know io_uring_enter can sleep: the thread
     * waiting in it keeps valgrind's big lock and every other thread of
     * the process stops with it.  A process that runs one thread only may
     * say so (bench/instructions.sh does, to count the ring's path). */
    if (RUNNING_ON_VALGRIND && !getenv("UVFIO_VALGRIND_ONE_THREAD")) {
        uvfio_debug("server: under valgrind: waiting in epoll, not io_uring");
        return true;
    }
    return false;
}

/* The ring this thread is running (uvfio_server_run), if any: asked on
 * every reply, so a plain %fs load rather than pthread_self(). */
static _Thread_local const struct srv_ring *tl_ring
    __attribute__((tls_model("initial-exec")));

bool srv_ring_here(const struct uvfio_server *srv)
{
    return srv->ring && srv->ring == tl_ring;
}

/* ---- moving client sockets between epoll and the ring --------------------- */

static int slot_alloc(struct srv_ring *r)
{
    struct ring_slot *grown;
    uint32_t i, n;

    for (i = 0; i < r->nslots; i++)
        if (!r->slots[i].tag)
            return (int)i;
    n = r->nslots ? r->nslots * 2 : 8;
    grown = realloc(r->slots, n * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    memset(grown + r->nslots, 0, (n - r->nslots) * sizeof(*grown));
    r->slots = grown;
    i = r->nslots;
    r->nslots = n;
    return (int)i;
}

int srv_ring_watch(struct uvfio_server *srv, int fd, struct srv_tag *tag)
{
    struct srv_ring *r = srv->ring;
    int i = slot_alloc(r);

    if (i < 0)
        return i;
    r->slots[i].tag = tag;
    r->slots[i].fd = fd;
    if (arm_slot(r, (uint32_t)i) < 0) {
        r->slots[i].tag = NULL;
        return -EBUSY;
    }
    tag->in_ring = true;
    return 0;
}

static int find_fd(const struct srv_ring *r, int fd)
{
    uint32_t i;

    for (i = 0; i < r->nslots; i++)
        if (r->slots[i].tag && r->slots[i].fd == fd)
            return (int)i;
    return -1;
}

/*
 * Submitted at once: the ring holds a reference to the socket's file, so
 * until the poll is gone a close() by the caller would not end the
 * connection for the peer.
 */
static void slot_release(struct srv_ring *r, uint32_t i)
{
    struct io_uring_sqe *sqe = get_sqe(r);

    if (sqe) {
        io_uring_prep_poll_remove(sqe, slot_key(r, i));
        io_uring_sqe_set_data64(sqe, KEY_CANCEL);
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
        io_uring_submit(&r->ring);
    }
    r->slots[i].tag->in_ring = false;
    r->slots[i].tag = NULL;
    r->slots[i].gen++;
}

bool srv_ring_unwatch(struct uvfio_server *srv, int fd)
{
    int i;

    if (!srv->ring)
        return false;
    i = find_fd(srv->ring, fd);
    if (i < 0)
        return false;
    slot_release(srv->ring, (uint32_t)i);
    return true;
}

/* A connection's epoll registration for what the ring does not watch. */
static void to_epoll_locked(struct uvfio_server *srv, struct srv_out *o,
                            struct srv_tag *tag, bool in_ring)
{
    uint32_t out = o->pollout ? EPOLLOUT : 0;
    struct epoll_event ev = { .data.ptr = tag };
    int op;

    if (in_ring) {
        /* Only POLLOUT stays in epoll, if armed. */
        ev.events = out;
        op = EPOLL_CTL_DEL;
        if (out)
            op = EPOLL_CTL_MOD;
    } else {
        ev.events = EPOLLIN | out;
        op = tag->out_in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    }
    if (epoll_ctl(srv->epfd, op, o->fd, &ev) < 0 && op != EPOLL_CTL_DEL)
        uvfio_warn("server: cannot move a client socket back to epoll: %s",
                   uvfio_strerror(-errno));
    tag->out_in_epoll = in_ring && out;
}

/* Watch an established connection's sockets from the ring instead. */
static void conn_to_ring(struct uvfio_server *srv, struct srv_conn *c)
{
    struct srv_out *outs[2] = { &c->out, &c->twin };
    struct srv_tag *tags[2] = { &c->tag, &c->twin_tag };
    int k;

    pthread_mutex_lock(&c->lock);
    for (k = 0; k < 2; k++) {
        if (outs[k]->fd < 0 || tags[k]->in_ring)
            continue;
        if (srv_ring_watch(srv, outs[k]->fd, tags[k]) == 0)
            to_epoll_locked(srv, outs[k], tags[k], true);
    }
    pthread_mutex_unlock(&c->lock);
    /* Input that arrived before the ring was watching gets no CQE. */
    uvfio_rx_note_readable(c->rx, false);
    if (c->twin_rx)
        uvfio_rx_note_readable(c->twin_rx, false);
    c->ready = true;
    srv_wake(srv);
}

static void conn_from_ring(struct uvfio_server *srv, struct srv_conn *c)
{
    struct srv_out *outs[2] = { &c->out, &c->twin };
    struct srv_tag *tags[2] = { &c->tag, &c->twin_tag };
    int k, i;

    pthread_mutex_lock(&c->lock);
    for (k = 0; k < 2; k++) {
        if (outs[k]->fd < 0 || !tags[k]->in_ring)
            continue;
        i = find_fd(srv->ring, outs[k]->fd);
        if (i >= 0)
            slot_release(srv->ring, (uint32_t)i);
        to_epoll_locked(srv, outs[k], tags[k], false);
    }
    pthread_mutex_unlock(&c->lock);
}

/* ---- replies sent as the loop goes to sleep ------------------------------- */

bool srv_ring_tx_add(struct uvfio_server *srv, struct srv_conn *c,
                     struct srv_out *o)
{
    struct srv_ring *r = srv->ring;

    /* The caller made sure this is the ring's thread. */
    if (r->ntx == RING_MAX_TX)
        return false;
    r->txs[r->ntx].c = c;
    r->txs[r->ntx].o = o;
    r->ntx++;
    return true;
}

void srv_ring_tx_forget(struct uvfio_server *srv, struct srv_out *o)
{
    struct srv_ring *r = srv->ring;
    uint32_t i;

    if (!r)
        return;
    for (i = 0; i < r->ntx; i++)
        if (r->txs[i].o == o)
            r->txs[i].c = NULL;
}

/* SQEs for the PENDING replies; how many went in.  A reply that finds no
 * SQE is sent the usual way. */
static unsigned int tx_prepare(struct srv_ring *r)
{
    unsigned int n = 0;
    uint32_t i;

    for (i = 0; i < r->ntx; i++) {
        struct srv_conn *c = r->txs[i].c;
        struct srv_out *o = r->txs[i].o;
        struct io_uring_sqe *sqe;

        if (!c)
            continue;
        pthread_mutex_lock(&c->lock);
        sqe = o->rtx == SRV_RTX_PENDING && !c->dead ?
              io_uring_get_sqe(&r->ring) : NULL;
        if (sqe) {
            /* MSG_DONTWAIT: a full socket fails at once (-EAGAIN) instead
             * of the ring waiting for room behind our back. */
            io_uring_prep_send(sqe, o->fd, o->rtx_buf, o->rtx_len,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, KEY_TX | i);
            o->rtx = SRV_RTX_INFLIGHT;
            n++;
        } else {
            conn_rtx_settle_locked(c, o);
            r->txs[i].c = NULL;
        }
        pthread_mutex_unlock(&c->lock);
    }
    return n;
}

static bool ring_tx_outstanding(const struct srv_ring *r)
{
    uint32_t i;

    for (i = 0; i < r->ntx; i++)
        if (r->txs[i].c)
            return true;
    return false;
}

static void tx_done(struct srv_ring *r, uint64_t key, int res)
{
    uint32_t i = (uint32_t)(key & ~KEY_TX);
    struct srv_conn *c;

    if (i >= r->ntx || !(c = r->txs[i].c))
        return;
    pthread_mutex_lock(&c->lock);
    conn_rtx_done_locked(c, r->txs[i].o, res);
    pthread_mutex_unlock(&c->lock);
    r->txs[i].c = NULL;
}

/* Send what is PENDING the usual way (the run is ending). */
static void tx_settle_all(struct srv_ring *r)
{
    uint32_t i;

    for (i = 0; i < r->ntx; i++) {
        struct srv_conn *c = r->txs[i].c;

        if (!c)
            continue;
        pthread_mutex_lock(&c->lock);
        conn_rtx_settle_locked(c, r->txs[i].o);
        pthread_mutex_unlock(&c->lock);
    }
    r->ntx = 0;
}

/* ---- start, stop, wait ------------------------------------------------------- */

static int ring_init(struct srv_ring *r, unsigned int extra)
{
    struct io_uring_params p = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 extra,
    };

    return io_uring_queue_init_params(RING_ENTRIES, &r->ring, &p);
}

int srv_ring_create(struct uvfio_server *srv)
{
    struct srv_ring *r;
    int ret;

    if (ring_disabled(srv))
        return -ENOTSUP;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    ret = ring_init(r, IORING_SETUP_R_DISABLED);
    if (ret < 0) {
        uvfio_debug("server: no io_uring (%s): waiting in epoll",
                    uvfio_strerror(ret));
        free(r);
        return ret;
    }
    srv->ring = r;
    return 0;
}

void srv_ring_destroy(struct uvfio_server *srv)
{
    struct srv_ring *r = srv->ring;

    if (!r)
        return;
    if (tl_ring == r)
        tl_ring = NULL;
    /* Cancels what is left and lets go of the files. */
    if (r->ring.ring_fd >= 0)
        io_uring_queue_exit(&r->ring);
    free(r->slots);
    free(r);
    srv->ring = NULL;
}

/* Whether this thread may submit: a NOP through the ring, waited for. */
static int ring_probe(struct srv_ring *r)
{
    struct io_uring_sqe *sqe = get_sqe(r);
    struct io_uring_cqe *cqe;
    int ret;

    if (!sqe)
        return -EBUSY;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, KEY_CANCEL);
    ret = io_uring_submit_and_wait(&r->ring, 1);
    if (ret < 0)
        return ret;
    while (io_uring_peek_cqe(&r->ring, &cqe) == 0)
        io_uring_cqe_seen(&r->ring, cqe);
    return 0;
}

/*
 * The ring belongs to the thread that enabled it; a run on another thread
 * needs one of its own.  Which thread owns it is asked of the kernel (a
 * NOP refused with EEXIST): a pthread_t, even a tid, may be a new thread's
 * that reuses an old one's.
 */
static int ring_claim(struct srv_ring *r)
{
    int ret;

    if (!r->enabled) {
        /* liburing 2.3 declares io_uring_enable_rings but does not export
         * it: the register call itself. */
        ret = (int)syscall(__NR_io_uring_register, r->ring.ring_fd,
                           IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        if (ret < 0)
            return -errno;
        r->enabled = true;
    }
    ret = ring_probe(r);
    if (ret == -EEXIST) {
        io_uring_queue_exit(&r->ring);
        r->ring.ring_fd = -1;       /* gone, should init fail */
        r->enabled = false;
        ret = ring_init(r, 0);
        if (ret < 0)
            return ret;
        r->enabled = true;
        r->epoll_armed = false;
        ret = ring_probe(r);
    }
    return ret < 0 ? ret : 0;
}

int srv_ring_start(struct uvfio_server *srv)
{
    struct srv_ring *r = srv->ring;
    struct srv_dev *sd;
    int ret;

    if (!r)
        return -ENOTSUP;
    ret = ring_claim(r);
    if (ret < 0) {
        uvfio_debug("server: cannot use io_uring (%s): waiting in epoll",
                    uvfio_strerror(ret));
        srv_ring_destroy(srv);
        return ret;
    }
    r->active = true;
    tl_ring = r;
    ret = arm_epoll(srv);
    if (ret < 0) {
        r->active = false;
        tl_ring = NULL;
        return ret;
    }
    for (sd = srv->devs; sd; sd = sd->next)
        if (sd->conn && !sd->conn->closed)
            conn_to_ring(srv, sd->conn);
    return 0;
}

/* Back to epoll for everything: the embedded loop may come next. */
void srv_ring_stop(struct uvfio_server *srv)
{
    struct srv_ring *r = srv->ring;
    struct srv_dev *sd;

    if (!r || !r->active)
        return;
    tx_settle_all(r);
    for (sd = srv->devs; sd; sd = sd->next)
        if (sd->conn)
            conn_from_ring(srv, sd->conn);
    if (r->epoll_armed) {
        struct io_uring_sqe *sqe = get_sqe(r);

        if (sqe) {
            io_uring_prep_poll_remove(sqe, KEY_EPOLL);
            io_uring_sqe_set_data64(sqe, KEY_CANCEL);
        }
    }
    /* The removals complete (and the polls let go of the sockets' files)
     * only when the owner collects events; nobody will after this. */
    io_uring_submit_and_get_events(&r->ring);
    io_uring_cq_advance(&r->ring, io_uring_cq_ready(&r->ring));
    r->epoll_armed = false;
    r->active = false;
    tl_ring = NULL;
}

/* A multishot poll that ended (the kernel may end one at any time). */
static void slot_ended(struct srv_ring *r, uint32_t i)
{
    if (arm_slot(r, i) < 0)
        uvfio_warn("server: cannot re-arm a client socket's poll");
}

static bool take_cqe(struct uvfio_server *srv, const struct io_uring_cqe *cqe,
                     struct srv_ring_event *ev)
{
    struct srv_ring *r = srv->ring;
    uint64_t key = io_uring_cqe_get_data64(cqe);
    uint32_t i = (uint32_t)key;

    if (key == KEY_CANCEL)
        return false;
    if (key != KEY_EPOLL && (key & KEY_TX)) {
        tx_done(r, key, cqe->res);
        return false;
    }
    if (key == KEY_EPOLL) {
        r->epoll_armed = false;
        ev->tag = NULL;
        ev->events = 0;
        return true;
    }
    if (i >= r->nslots || !r->slots[i].tag || r->slots[i].gen != key >> 32)
        return false;       /* its connection is gone */
    if (!(cqe->flags & IORING_CQE_F_MORE))
        slot_ended(r, i);
    ev->tag = r->slots[i].tag;
    ev->key = key;
    /* An error ending the poll: let the connection find out by reading. */
    ev->events = cqe->res > 0 ? (uint32_t)cqe->res : EPOLLIN;
    return true;
}

int srv_ring_wait(struct uvfio_server *srv, struct srv_ring_event *evs,
                  int max)
{
    struct srv_ring *r = srv->ring;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0, ntx;
    int n = 0, ret;

    ret = arm_epoll(srv);
    if (ret < 0)
        return ret;
    /* The replies complete inline as they are submitted, each with a CQE
     * of its own: sleep until one more comes. */
    ntx = tx_prepare(r);
    ret = io_uring_submit_and_wait(&r->ring, 1 + ntx);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
        return ret;
    io_uring_for_each_cqe(&r->ring, head, cqe) {
        if (n == max)
            break;
        seen++;
        if (take_cqe(srv, cqe, &evs[n]))
            n++;
    }
    io_uring_cq_advance(&r->ring, seen);
    /* Every reply's outcome is in (a CQE left for the next turn is found
     * by its index, which stays until then). */
    if (!ring_tx_outstanding(r))
        r->ntx = 0;
    return n;
}

bool srv_ring_event_live(const struct uvfio_server *srv,
                         const struct srv_ring_event *ev)
{
    const struct srv_ring *r = srv->ring;
    uint32_t i = (uint32_t)ev->key;

    return i < r->nslots && r->slots[i].tag == ev->tag &&
           r->slots[i].gen == ev->key >> 32;
}
