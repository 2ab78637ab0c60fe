/* SPDX-License-Identifier: MIT */
/*
 * server/ring_priv.h - what the run loop's ring (ring.c) and its receive
 * side (ring_recv.c) share: the ring, its slots, and how a completion is
 * told apart from another by its user_data.
 */
#ifndef UVFIO_SERVER_RING_PRIV_H
#define UVFIO_SERVER_RING_PRIV_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

/*
 * user_data: a slot's completions carry the slot index (bits 0-23), the
 * slot's generation (bits 40-59: a completion that comes after its
 * connection is gone, or its slot reused, is stale) and which of the
 * slot's armings it belongs to (bits 24-39: a request removed when the
 * slot changed from poll to receive or back may still complete, and must
 * not be taken for the one armed now - though a receive's bytes are the
 * connection's whichever arming read them); bit 61 says a receive's, bit
 * 62 a reply's (then the low bits index txs[]), and the two all-ones
 * values are the epoll fd's poll and completions nobody waits for.
 */
#define KEY_EPOLL       UINT64_MAX          /* the epoll fd's poll */
#define KEY_CANCEL      (UINT64_MAX - 1)    /* a removal, a probe */
#define KEY_TX          (1ull << 62)        /* | index in txs: a reply */
#define KEY_RECV        (1ull << 61)        /* | slot key: a receive */
#define KEY_INDEX_MASK  0xffffffu           /* slots: at most 2^24 */
#define KEY_ARM_SHIFT   24
#define KEY_GEN_SHIFT   40
#define KEY_GEN_MASK    0xfffffu

#define RING_MAX_TX     32u                 /* replies per wait */

/* What a client socket's slot has armed. */
enum slot_mode {
    SLOT_NONE,          /* nothing (being let go of, or at its end) */
    SLOT_POLL,          /* a multishot poll: the connection reads */
    SLOT_RECV,          /* a multishot receive: the ring reads */
};

struct ring_slot {
    struct srv_tag *tag;    /* NULL: free */
    int fd;
    uint32_t gen;           /* bumped as the slot is let go of */
    uint16_t arm;           /* bumped as what is armed is removed */
    uint8_t mode;           /* enum slot_mode */
    bool recv_ok;           /* a command socket: may be received into */
};

/* The receive side's buffers (ring_recv.c). */
struct ring_recv {
    bool on;                        /* the kernel has what it takes */
    bool registered;                /* with the ring as it is now */
    struct io_uring_buf_ring *br;   /* the provided-buffer ring */
    uint8_t *bufs;                  /* RECV_NBUF buffers of RECV_BUF_SIZE */
    struct msghdr tmpl;             /* a receive's control room */
};

struct srv_ring {
    struct io_uring ring;
    bool enabled;
    bool active;            /* inside uvfio_server_run */
    struct ring_slot *slots;
    uint32_t nslots;
    bool epoll_armed;
    bool epoll_fired;       /* its poll completed outside a wait */
    bool unreaped;          /* get_sqe submitted: completions may wait */
    /* Replies the next wait sends (conn.c, "replies the ring sends"). */
    struct ring_tx {
        struct srv_conn *c;     /* NULL: forgotten */
        struct srv_out *o;
        int res;                /* the send's result, once `fin` */
        bool fin;
    } txs[RING_MAX_TX];
    uint32_t ntx;
    struct ring_recv recv;
    struct srv_ring_counts counts;  /* written by the ring's thread only */
};

/* (A plain increment that another thread may read while it happens.) */
#define RING_COUNT(r, field) \
    __atomic_store_n(&(r)->counts.field, (r)->counts.field + 1, \
                     __ATOMIC_RELAXED)

/* Where reaped events go: the wait's array while it has room, otherwise
 * (and outside a wait: out NULL) straight to their connections, or for
 * the epoll fd's poll to the next wait (epoll_fired). */
struct reap_out {
    struct srv_ring_event *evs;
    int max, n;
};

/* The key of what slot i arms now. */
static inline uint64_t slot_key(const struct srv_ring *r, uint32_t i)
{
    return (uint64_t)(r->slots[i].gen & KEY_GEN_MASK) << KEY_GEN_SHIFT |
           (uint64_t)r->slots[i].arm << KEY_ARM_SHIFT | i;
}

/* The live slot a completion's key names (whatever arming it came
 * from), or NULL when its connection is gone. */
static inline struct ring_slot *key_slot(struct srv_ring *r, uint64_t key)
{
    uint32_t i = (uint32_t)(key & KEY_INDEX_MASK);

    if (i >= r->nslots || !r->slots[i].tag ||
        (r->slots[i].gen & KEY_GEN_MASK) !=
        ((key >> KEY_GEN_SHIFT) & KEY_GEN_MASK))
        return NULL;
    return &r->slots[i];
}

/* Whether a live slot's completion comes from what it has armed now. */
static inline bool key_current(const struct ring_slot *s, uint64_t key)
{
    return s->mode != SLOT_NONE &&
           (uint16_t)(key >> KEY_ARM_SHIFT) == s->arm;
}

/* An environment switch such as UVFIO_NO_IO_URING: set, and not "0". */
static inline bool ring_env_on(const char *name)
{
    const char *v = getenv(name);

    return v && *v && strcmp(v, "0") != 0;
}

/* ring.c */
struct io_uring_sqe *ring_get_sqe(struct srv_ring *r);
int ring_arm_poll(struct srv_ring *r, uint32_t i);
/* An event for tag (NULL: the epoll fd's poll completed). */
void ring_deliver(struct srv_ring *r, struct reap_out *out,
                  struct srv_tag *tag, uint64_t key, uint32_t events);
/* After anything that may have submitted: feed what completed. */
void ring_settle(struct srv_ring *r);

/* ring_recv.c */
/* Set up (after the ring is enabled) and take down the buffers; recv.on
 * says whether receives are used. */
void ring_recv_setup(struct srv_ring *r);
void ring_recv_teardown(struct srv_ring *r);
/* Arm slot i's receive (its mode becomes SLOT_RECV). */
int ring_arm_recv(struct srv_ring *r, uint32_t i);
/* Remove what slot i has armed (its mode becomes SLOT_NONE). */
void ring_disarm(struct srv_ring *r, uint32_t i);
/* A receive's completion: its bytes fed, its buffer given back. */
void ring_recv_cqe(struct srv_ring *r, const struct io_uring_cqe *cqe,
                   struct reap_out *out);

#endif /* UVFIO_SERVER_RING_PRIV_H */
