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
 * A client's command socket is read by the ring itself, a multishot
 * receive whose bytes go to the connection's receiver (ring_recv.c, which
 * says how the two readers keep the stream in order); the twin socket,
 * and a command socket that reads for itself for a while (a big message,
 * a flood), get multishot polls: one CQE per arrival of data, none while
 * the socket stays readable.  That is enough because a connection reads
 * until the socket comes back short, and one that stops early (its
 * per-turn budget) says so through the wake eventfd.  The epoll fd gets a
 * one-shot poll re-armed after every epoll_wait, which makes it level-
 * triggered: a driver fd left readable fires again.
 *
 * A CQE names a slot, that slot's generation and the arming it came from,
 * never a pointer: a poll removed when its connection closed may still
 * complete later (-ECANCELED, or an event already posted), after the
 * connection is freed or the slot reused; a stale generation is simply
 * ignored (ring_priv.h).  Every CQE is taken as
 * soon as it can be there (reap): the receives' bytes must reach their
 * receivers at once, and a reply's outcome is kept until the connection's
 * lock may be taken (tx_finish), since a reap may run under it.
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

#include "ring_priv.h"
#include "util/log.h"

#define RING_ENTRIES    64u
/* Completions: room for every receive buffer's, every reply's and every
 * slot's at once, so that none waits in the kernel's overflow list. */
#define RING_CQ_ENTRIES 1024u

static void reap(struct srv_ring *r, struct reap_out *out);

/*
 * An SQE, submitting what is queued if the ring is full.  That submission
 * may start a receive, which reads at once: the caller settles (reaps)
 * before anything may read a socket, after it lets go of any lock.
 */
struct io_uring_sqe *ring_get_sqe(struct srv_ring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

    if (!sqe) {
        io_uring_submit(&r->ring);
        r->unreaped = true;
        sqe = io_uring_get_sqe(&r->ring);
    }
    return sqe;
}

void ring_settle(struct srv_ring *r)
{
    if (r->unreaped)
        reap(r, NULL);
}

int ring_arm_poll(struct srv_ring *r, uint32_t i)
{
    struct io_uring_sqe *sqe = ring_get_sqe(r);

    if (!sqe)
        return -EBUSY;
    /* POLLRDHUP: the end of the stream must be told apart from data
     * (uvfio_rx_note_readable). */
    io_uring_prep_poll_multishot(sqe, r->slots[i].fd, POLLIN | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, slot_key(r, i));
    r->slots[i].mode = SLOT_POLL;
    return 0;
}

static int arm_epoll(struct uvfio_server *srv)
{
    struct srv_ring *r = srv->ring;
    struct io_uring_sqe *sqe;

    if (r->epoll_armed)
        return 0;
    sqe = ring_get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_add(sqe, srv->epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, KEY_EPOLL);
    r->epoll_armed = true;
    return 0;
}

static bool ring_disabled(const struct uvfio_server *srv)
{
    if ((srv->opts.flags & UVFIO_SERVER_NO_IO_URING) ||
        ring_env_on("UVFIO_NO_IO_URING"))
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
    if (r->nslots > KEY_INDEX_MASK / 2)
        return -ENOSPC;     /* (the keys' index bits) */
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

/* (Under the connection's lock when there is one: no settling here.) */
static int watch(struct srv_ring *r, int fd, struct srv_tag *tag)
{
    struct ring_slot *s;
    int i = slot_alloc(r), ret;

    if (i < 0)
        return i;
    s = &r->slots[i];
    s->tag = tag;
    s->fd = fd;
    s->mode = SLOT_NONE;
    s->recv_ok = tag->kind == SRV_TAG_CONN;
    if (s->recv_ok && r->recv.on)
        ret = ring_arm_recv(r, (uint32_t)i);
    else
        ret = ring_arm_poll(r, (uint32_t)i);
    if (ret < 0) {
        r->slots[i].tag = NULL;
        return -EBUSY;
    }
    tag->in_ring = true;
    return 0;
}

int srv_ring_watch(struct uvfio_server *srv, int fd, struct srv_tag *tag)
{
    int ret = watch(srv->ring, fd, tag);

    ring_settle(srv->ring);
    return ret;
}

static int find_fd(const struct srv_ring *r, int fd)
{
    uint32_t i;

    for (i = 0; i < r->nslots; i++)
        if (r->slots[i].tag && r->slots[i].fd == fd)
            return (int)i;
    return -1;
}

/* The slot is free again; whatever its armed request still completes
 * is stale from now on. */
static void slot_release(struct srv_ring *r, uint32_t i)
{
    ring_disarm(r, i);
    r->slots[i].tag->in_ring = false;
    r->slots[i].tag = NULL;
    r->slots[i].gen++;
}

/*
 * The removal is submitted at once: the ring holds a reference to the
 * socket's file, so until the request is gone a close() by the caller
 * would not end the connection for the peer.  (Called under the
 * connection's lock: the reap that follows takes none.)
 */
bool srv_ring_unwatch(struct uvfio_server *srv, int fd)
{
    struct srv_ring *r = srv->ring;
    int i;

    if (!r)
        return false;
    i = find_fd(r, fd);
    if (i < 0)
        return false;
    slot_release(r, (uint32_t)i);
    io_uring_submit(&r->ring);
    reap(r, NULL);
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
        if (watch(srv->ring, outs[k]->fd, tags[k]) == 0)
            to_epoll_locked(srv, outs[k], tags[k], true);
    }
    pthread_mutex_unlock(&c->lock);
    ring_settle(srv->ring);
    /* Input that arrived before the ring was watching gets no CQE. */
    uvfio_rx_note_readable(c->rx, false);
    if (c->twin_rx)
        uvfio_rx_note_readable(c->twin_rx, false);
    c->ready = true;
    srv_wake(srv);
}

/* (Its slots disarmed and reaped already: srv_ring_stop.) */
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
    r->txs[r->ntx].fin = false;
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

/* A reply's outcome, kept for tx_finish (a reap may run under a lock). */
static void tx_note(struct srv_ring *r, uint64_t key, int res)
{
    uint32_t i = (uint32_t)(key & ~KEY_TX);

    if (i >= r->ntx || !r->txs[i].c)
        return;
    r->txs[i].res = res;
    r->txs[i].fin = true;
}

static void tx_finish(struct srv_ring *r)
{
    uint32_t i;

    for (i = 0; i < r->ntx; i++) {
        struct srv_conn *c = r->txs[i].c;

        if (!c || !r->txs[i].fin)
            continue;
        pthread_mutex_lock(&c->lock);
        conn_rtx_done_locked(c, r->txs[i].o, r->txs[i].res);
        pthread_mutex_unlock(&c->lock);
        r->txs[i].c = NULL;
        r->txs[i].fin = false;
    }
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
                 IORING_SETUP_CQSIZE | extra,
        .cq_entries = RING_CQ_ENTRIES,
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
    ring_recv_teardown(r);
    free(r->slots);
    free(r);
    srv->ring = NULL;
}

/* Whether this thread may submit: a NOP through the ring, waited for. */
static int ring_probe(struct srv_ring *r)
{
    struct io_uring_sqe *sqe = ring_get_sqe(r);
    int ret;

    if (!sqe)
        return -EBUSY;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, KEY_CANCEL);
    ret = io_uring_submit_and_wait(&r->ring, 1);
    if (ret < 0)
        return ret;
    reap(r, NULL);
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
        r->recv.registered = false;
        ret = ring_init(r, 0);
        if (ret < 0)
            return ret;
        r->enabled = true;
        r->epoll_armed = false;
        ret = ring_probe(r);
    }
    if (ret < 0)
        return ret;
    /* (Again for a ring made anew: the buffers were registered with the
     * old one.) */
    ring_recv_setup(r);
    return 0;
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
    struct io_uring_sqe *sqe;
    struct srv_dev *sd;
    uint32_t i;

    if (!r || !r->active)
        return;
    tx_finish(r);
    tx_settle_all(r);
    /*
     * First everything armed is removed while the slots still name their
     * connections, so that what the receives read until then is fed to
     * them; only then are the slots let go of.  The removals complete (and
     * the requests let go of the sockets' files) only when the owner
     * collects events; nobody will after this.
     */
    for (i = 0; i < r->nslots; i++)
        if (r->slots[i].tag)
            ring_disarm(r, i);
    if (r->epoll_armed) {
        sqe = ring_get_sqe(r);
        if (sqe) {
            io_uring_prep_cancel64(sqe, KEY_EPOLL, 0);  /* (ring_disarm) */
            io_uring_sqe_set_data64(sqe, KEY_CANCEL);
        }
    }
    io_uring_submit_and_get_events(&r->ring);
    reap(r, NULL);
    for (sd = srv->devs; sd; sd = sd->next)
        if (sd->conn)
            conn_from_ring(srv, sd->conn);
    io_uring_submit_and_get_events(&r->ring);
    reap(r, NULL);
    tx_finish(r);
    r->ntx = 0;
    r->epoll_armed = false;
    r->epoll_fired = false;
    r->active = false;
    tl_ring = NULL;
}

void ring_deliver(struct srv_ring *r, struct reap_out *out,
                  struct srv_tag *tag, uint64_t key, uint32_t events)
{
    if (out && out->n < out->max) {
        out->evs[out->n++] = (struct srv_ring_event){
            .tag = tag, .key = key, .events = events,
        };
        return;
    }
    /* No room, or no wait to return it: the next wait says it, or the
     * connection is marked and the loop woken, as for work left over
     * (conn_process). */
    if (!tag)
        r->epoll_fired = true;
    else
        conn_note_event(tag->obj, tag->kind == SRV_TAG_TWIN, events);
}

static void take_cqe(struct srv_ring *r, const struct io_uring_cqe *cqe,
                     struct reap_out *out)
{
    uint64_t key = io_uring_cqe_get_data64(cqe);
    struct ring_slot *s;

    if (key == KEY_CANCEL)
        return;
    if (key == KEY_EPOLL) {
        r->epoll_armed = false;
        ring_deliver(r, out, NULL, 0, 0);
        return;
    }
    if (key & KEY_TX) {
        tx_note(r, key, cqe->res);
        return;
    }
    if (key & KEY_RECV) {
        ring_recv_cqe(r, cqe, out);
        return;
    }
    s = key_slot(r, key);
    /* Gone, or a poll since removed: its last words. */
    if (!s || s->mode != SLOT_POLL || !key_current(s, key))
        return;
    /* A multishot poll that ended (the kernel may end one at any time). */
    if (!(cqe->flags & IORING_CQE_F_MORE) &&
        ring_arm_poll(r, (uint32_t)(s - r->slots)) < 0)
        uvfio_warn("server: cannot re-arm a client socket's poll");
    /* An error ending the poll: let the connection find out by reading. */
    ring_deliver(r, out, s->tag, key,
                 cqe->res > 0 ? (uint32_t)cqe->res : EPOLLIN);
}

/*
 * Every completion there is, however many: a receive's bytes must reach
 * their receiver before anyone reads its socket again (ring_recv.c).  An
 * overflow (the CQ full) is flushed and taken too, and so is what a
 * submission made while taking them (get_sqe) completed.
 */
static void reap(struct srv_ring *r, struct reap_out *out)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen;

    do {
        r->unreaped = false;
        seen = 0;
        io_uring_for_each_cqe(&r->ring, head, cqe) {
            seen++;
            take_cqe(r, cqe, out);
        }
        io_uring_cq_advance(&r->ring, seen);
        if (io_uring_cq_has_overflow(&r->ring)) {
            io_uring_get_events(&r->ring);
            r->unreaped = true;
        }
    } while (r->unreaped || io_uring_cq_ready(&r->ring));
}

int srv_ring_wait(struct uvfio_server *srv, struct srv_ring_event *evs,
                  int max)
{
    struct srv_ring *r = srv->ring;
    struct reap_out out = { .evs = evs, .max = max };
    unsigned ntx;
    int ret;

    if (r->epoll_fired) {
        /* It completed outside a wait: say so now. */
        r->epoll_fired = false;
        evs[out.n++] = (struct srv_ring_event){ .tag = NULL };
    }
    ret = arm_epoll(srv);
    if (ret < 0)
        return ret;
    /* The replies complete inline as they are submitted, each with a CQE
     * of its own: sleep until one more comes (unless there is an event
     * already). */
    ntx = tx_prepare(r);
    ret = io_uring_submit_and_wait(&r->ring, (out.n ? 0 : 1) + ntx);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
        return ret;
    reap(r, &out);
    tx_finish(r);
    /* Every reply's outcome is in. */
    if (!ring_tx_outstanding(r))
        r->ntx = 0;
    return out.n;
}

bool srv_ring_event_live(const struct uvfio_server *srv,
                         const struct srv_ring_event *ev)
{
    struct ring_slot *s = key_slot(srv->ring, ev->key);

    return s && s->tag == ev->tag;
}
