// SPDX-License-Identifier: MIT
/*
 * bench/ring_shapes.c - what the kernel side of a small request costs,
 * with no uvfio code in it: echo servers that wait and receive in
 * different ways, each against a raw read/write echo, in the same run.
 *
 * bench/region_rw compares a REGION_READ with a raw AF_UNIX ping-pong;
 * what it cannot say is how much of the difference is the server's way
 * of waiting and receiving and how much is the library's work.  Here
 * every server does nothing but answer 32 bytes with 36, pinned with its
 * client to one CPU, so only the syscalls differ:
 *
 *   raw          blocking read + write (the baseline)
 *   poll         what uvfio's run loop does: a multishot io_uring poll
 *                on a DEFER_TASKRUN ring, a recvmsg per request, and the
 *                reply sent by the io_uring_enter that then sleeps
 *   recv-once    the same, the request read by a single-shot RECVMSG
 *                re-armed for every request instead of poll + recvmsg
 *   recv-multi   a multishot RECVMSG into a provided-buffer ring: one
 *                io_uring_enter per request, no other syscall
 *
 * Rounds are interleaved (rotating order, a warm-up dropped) and each
 * shape's figure is the median over rounds of its ops/s over the raw
 * echo's in the same round, as in region_rw.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REQ_SIZE    32          /* a REGION_READ of 4 bytes */
#define REP_SIZE    36          /* its reply */
#define NBUF        64          /* provided buffers (recv-multi) */
#define BUF_SIZE    4096
#define BGID        7
#define KEY_RECV    1
#define KEY_SEND    2

enum shape { RAW, POLL, RECV_ONCE, RECV_MULTI, SHAPES };

static const char *const shape_name[SHAPES] = {
    "raw read/write echo", "multishot poll + recvmsg",
    "single-shot RECVMSG", "multishot RECVMSG",
};

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0)
        perror("ring_shapes: sched_setaffinity");
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "ring_shapes: %s: %s\n", what, strerror(err));
    exit(1);
}

/* ---- the servers ------------------------------------------------------- */

static void serve_raw(int fd)
{
    char buf[REQ_SIZE], rep[REP_SIZE] = { 0 };

    while (read(fd, buf, sizeof(buf)) > 0)
        if (write(fd, rep, sizeof(rep)) != sizeof(rep))
            return;
}

static void ring_init(struct io_uring *r)
{
    struct io_uring_params p = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    };
    int err = io_uring_queue_init_params(64, r, &p);

    if (err < 0)
        die("io_uring_queue_init_params", -err);
}

static struct io_uring_sqe *sqe_of(struct io_uring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(r);

    if (!sqe)
        die("no SQE", EBUSY);
    return sqe;
}

/* One reply per whole request in n bytes (requests never straddle reads
 * here: the client waits for each reply). */
static unsigned int queue_replies(struct io_uring *r, int fd, size_t n)
{
    static const char rep[REP_SIZE];
    unsigned int k;

    for (k = 0; k < n / REQ_SIZE; k++) {
        struct io_uring_sqe *sqe = sqe_of(r);

        io_uring_prep_send(sqe, fd, rep, sizeof(rep),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, KEY_SEND);
    }
    return k;
}

static void arm_poll(struct io_uring *r, int fd)
{
    struct io_uring_sqe *sqe = sqe_of(r);

    io_uring_prep_poll_multishot(sqe, fd, POLLIN | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, KEY_RECV);
}

static void serve_poll(int fd)
{
    char buf[65536], control[128];
    unsigned int sends = 0;
    struct io_uring r;

    ring_init(&r);
    arm_poll(&r, fd);
    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned int head, seen = 0;
        bool readable = false;

        io_uring_submit_and_wait(&r, 1 + sends);
        sends = 0;
        io_uring_for_each_cqe(&r, head, cqe) {
            seen++;
            if (io_uring_cqe_get_data64(cqe) != KEY_RECV)
                continue;
            readable = true;
            if (!(cqe->flags & IORING_CQE_F_MORE))
                arm_poll(&r, fd);
        }
        io_uring_cq_advance(&r, seen);
        if (readable) {
            struct iovec iov = { buf, sizeof(buf) };
            struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = control, .msg_controllen = sizeof(control),
            };
            ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

            if (n == 0)
                return;
            if (n > 0)
                sends = queue_replies(&r, fd, (size_t)n);
        }
    }
}

static void serve_recv_once(int fd)
{
    static char buf[65536];
    char control[128];
    struct iovec iov = { buf, sizeof(buf) };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    unsigned int sends = 0;
    bool armed = false;
    struct io_uring r;

    ring_init(&r);
    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned int head, seen = 0;

        if (!armed) {
            struct io_uring_sqe *sqe = sqe_of(&r);

            mh.msg_control = control;
            mh.msg_controllen = sizeof(control);
            io_uring_prep_recvmsg(sqe, fd, &mh, MSG_CMSG_CLOEXEC);
            io_uring_sqe_set_data64(sqe, KEY_RECV);
            armed = true;
        }
        io_uring_submit_and_wait(&r, 1 + sends);
        sends = 0;
        io_uring_for_each_cqe(&r, head, cqe) {
            seen++;
            if (io_uring_cqe_get_data64(cqe) != KEY_RECV)
                continue;
            if (cqe->res <= 0)
                return;
            armed = false;
            sends += queue_replies(&r, fd, (size_t)cqe->res);
        }
        io_uring_cq_advance(&r, seen);
    }
}

static void arm_recv_multi(struct io_uring *r, int fd, struct msghdr *tmpl)
{
    struct io_uring_sqe *sqe = sqe_of(r);

    io_uring_prep_recvmsg_multishot(sqe, fd, tmpl, MSG_CMSG_CLOEXEC);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, KEY_RECV);
}

static void serve_recv_multi(int fd)
{
    struct msghdr tmpl = { .msg_controllen = CMSG_SPACE(16 * sizeof(int)) };
    struct io_uring_buf_reg reg = { .ring_entries = NBUF, .bgid = BGID };
    struct io_uring_buf_ring *br;
    unsigned int sends = 0;
    struct io_uring r;
    int mask, err;
    char *bufs;

    ring_init(&r);
    /* page-aligned, and aligned_alloc wants whole multiples */
    br = aligned_alloc(4096, (NBUF * sizeof(struct io_uring_buf) + 4095) &
                             ~(size_t)4095);
    bufs = malloc((size_t)NBUF * BUF_SIZE);
    if (!br || !bufs)
        die("malloc", ENOMEM);
    reg.ring_addr = (unsigned long)br;
    err = io_uring_register_buf_ring(&r, &reg, 0);
    if (err < 0)
        die("io_uring_register_buf_ring", -err);
    io_uring_buf_ring_init(br);
    mask = io_uring_buf_ring_mask(NBUF);
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
                              (unsigned short)i, mask, i);
    io_uring_buf_ring_advance(br, NBUF);
    arm_recv_multi(&r, fd, &tmpl);
    for (;;) {
        struct io_uring_cqe *cqe;
        unsigned int head, seen = 0;

        io_uring_submit_and_wait(&r, 1 + sends);
        sends = 0;
        io_uring_for_each_cqe(&r, head, cqe) {
            struct io_uring_recvmsg_out *out;
            unsigned int bid;
            char *b;

            seen++;
            if (io_uring_cqe_get_data64(cqe) != KEY_RECV)
                continue;
            if (cqe->res < 0 && cqe->res != -ENOBUFS)
                return;
            if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
                bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
                b = bufs + (size_t)bid * BUF_SIZE;
                out = io_uring_recvmsg_validate(b, cqe->res, &tmpl);
                if (!out)
                    return;
                size_t n = io_uring_recvmsg_payload_length(out, cqe->res,
                                                           &tmpl);
                if (n == 0)
                    return;
                sends += queue_replies(&r, fd, n);
                io_uring_buf_ring_add(br, b, BUF_SIZE, (unsigned short)bid,
                                      mask, 0);
                io_uring_buf_ring_advance(br, 1);
            }
            if (!(cqe->flags & IORING_CQE_F_MORE))
                arm_recv_multi(&r, fd, &tmpl);
        }
        io_uring_cq_advance(&r, seen);
    }
}

/* ---- the client -------------------------------------------------------- */

static bool round_trip(int fd)
{
    static const char req[REQ_SIZE];
    char rep[REP_SIZE];
    size_t got = 0;

    if (write(fd, req, sizeof(req)) != sizeof(req))
        return false;
    while (got < sizeof(rep)) {
        ssize_t n = read(fd, rep + got, sizeof(rep) - got);

        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static const char usage[] =
    "usage: ring_shapes [--cpu=N] [--ops=N>=100] [--rounds=N]\n"
    "  Echo servers that wait and receive in different ways, each next to\n"
    "  a raw read/write echo, all pinned to CPU N [0], in N interleaved\n"
    "  rounds [31] of N round trips each [5000] (see the top of\n"
    "  bench/ring_shapes.c).\n";

int main(int argc, char **argv)
{
    int cpu = 0, ops = 5000, rounds = 31, fd[SHAPES];
    pid_t pid[SHAPES];
    double *rate[SHAPES];

    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--cpu=", 6))
            cpu = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "--ops=", 6))
            ops = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "--rounds=", 9))
            rounds = atoi(argv[i] + 9);
        else {
            fputs(usage, strcmp(argv[i], "--help") ? stderr : stdout);
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (cpu < 0 || cpu >= CPU_SETSIZE || ops < 100 || rounds < 1 ||
        rounds > 10000) {
        fputs(usage, stderr);
        return 2;
    }
    for (int k = 0; k < SHAPES; k++) {
        int sv[2];

        rate[k] = calloc((size_t)rounds, sizeof(double));
        if (!rate[k] || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            die("set-up", errno ? errno : ENOMEM);
        pid[k] = fork();
        if (pid[k] < 0)
            die("fork", errno);
        if (pid[k] == 0) {
            /* the client's ends of the earlier pairs too, or their
             * servers would never see the end of the stream */
            for (int j = 0; j < k; j++)
                close(fd[j]);
            close(sv[0]);
            pin(cpu);
            if (k == RAW)
                serve_raw(sv[1]);
            else if (k == POLL)
                serve_poll(sv[1]);
            else if (k == RECV_ONCE)
                serve_recv_once(sv[1]);
            else
                serve_recv_multi(sv[1]);
            _exit(0);
        }
        close(sv[1]);
        fd[k] = sv[0];
    }
    pin(cpu);
    for (int round = 0; round <= rounds; round++) {
        for (int j = 0; j < SHAPES; j++) {
            int k = (j + round) % SHAPES;
            double t0 = now_s();

            for (int i = 0; i < ops; i++)
                if (!round_trip(fd[k]))
                    die(shape_name[k], EPIPE);
            if (round)          /* round 0 warms up */
                rate[k][round - 1] = ops / (now_s() - t0);
        }
    }
    printf("ring_shapes: echo servers pinned with their client to CPU %d; "
           "%d interleaved rounds of %d round trips\n", cpu, rounds, ops);
    for (int k = RAW + 1; k < SHAPES; k++) {
        double *ratio = calloc((size_t)rounds, sizeof(double));

        if (!ratio)
            die("malloc", ENOMEM);
        for (int i = 0; i < rounds; i++)
            ratio[i] = rate[k][i] / rate[RAW][i];
        qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
        printf("%-26s / %s: %.3fx (rounds %.3f-%.3f)\n", shape_name[k],
               shape_name[RAW], ratio[rounds / 2], ratio[0],
               ratio[rounds - 1]);
        free(ratio);
    }
    for (int k = 0; k < SHAPES; k++) {
        close(fd[k]);
        waitpid(pid[k], NULL, 0);
        free(rate[k]);
    }
    return 0;
}
