// SPDX-License-Identifier: MIT
/*
 * region_rw - what a trapped register access costs over vfio-user, next
 * to the floor it cannot beat: a raw AF_UNIX ping-pong carrying the same
 * bytes (32-byte request, 36-byte reply), measured in the same run with
 * both ends pinned to one CPU.  Then posted writes (REGION_WRITE_MULTI
 * batches) against synchronous REGION_WRITEs.
 *
 * usage: region_rw [--cpu=N] [--ops=N] [--rounds=N] [--json]
 *
 * A 2-CPU machine shared with other work drifts by 10-30 % from one second
 * to the next, and a round trip on one CPU is two context switches whose
 * cost depends on the scheduler's mood.  So the raw ping-pong and the
 * REGION_READs are not measured one after the other but in interleaved
 * rounds (raw, io_uring loop, epoll loop, in a rotating order), every
 * process alive throughout, and the figure is the median over rounds of
 * each round's own ratio: the two sides of a ratio always saw the same
 * machine.  The server's run loop is measured both ways - on io_uring
 * (the default where the kernel has it) and on epoll (--no-io-uring) -
 * to show what the choice is worth.
 *
 * Prints a table (or JSON); it does not judge (a benchmark is not a
 * test), but it shows each ratio next to its target: REGION_READ >= 0.95x
 * the raw ping-pong, WRITE_MULTI >= 5x synchronous writes.
 */
#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "pingdev.h"

#define POSTED_BATCH    1000    /* posted writes per synchronising read */

struct stats {
    double ops_per_sec;
    double p50_us, p99_us;
    double p10_us, p75_us, p90_us;  /* the round trips' distribution */
};

/* What one kind of round trip gathered over all rounds. */
struct series {
    const char *name;
    double *rate;           /* ops/s of each round */
    uint64_t *lat;          /* every op's latency, all rounds */
    size_t nlat;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n)
{
    double *s = malloc(n * sizeof(*s)), m;

    if (!s)
        return 0;
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    free(s);
    return m;
}

static struct stats summarize(uint64_t *lat, size_t n, uint64_t total_ns)
{
    struct stats s;

    qsort(lat, n, sizeof(*lat), cmp_u64);
    s.ops_per_sec = n * 1e9 / (double)total_ns;
    s.p50_us = lat[n / 2] / 1e3;
    s.p99_us = lat[n * 99 / 100] / 1e3;
    s.p10_us = lat[n / 10] / 1e3;
    s.p75_us = lat[n * 3 / 4] / 1e3;
    s.p90_us = lat[n * 9 / 10] / 1e3;
    return s;
}

static struct stats series_stats(struct series *se, size_t rounds)
{
    struct stats s;

    qsort(se->lat, se->nlat, sizeof(*se->lat), cmp_u64);
    s = summarize(se->lat, se->nlat, 1);
    s.ops_per_sec = median(se->rate, rounds);
    return s;
}

static pid_t spawn_server(const char *path, int cpu, uint32_t flags)
{
    const struct uvfio_server_opts opts = { .flags = flags };
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    pin(cpu);
    _exit(ping_serve(path, -1, &opts) ? 1 : 0);
}

static int wait_for_socket(const char *path)
{
    struct stat st;

    for (int i = 0; i < 2000; i++) {
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
        usleep(1000);
    }
    return -ETIMEDOUT;
}

static int connect_to(const char *dir, const char *name, int cpu,
                      uint32_t flags, pid_t *pid, struct uvfio_client **c)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
    *pid = spawn_server(path, cpu, flags);
    if (*pid < 0 || wait_for_socket(path))
        return -EIO;
    return uvfio_client_connect(path, NULL, c);
}

static void stop_server(pid_t pid)
{
    int status;

    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
}

/* ---- raw ping-pong: the floor ------------------------------------------------ */

static pid_t spawn_echo(int cpu, int *fd)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return -1;
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        pin(cpu);
        _exit(ping_echo(sv[1]) ? 1 : 0);
    }
    close(sv[1]);
    *fd = sv[0];
    return pid;
}

static int raw_round(int fd, size_t ops, struct series *se, size_t round)
{
    char req[PING_REQ_BYTES] = { 0 }, rep[PING_REPLY_BYTES];
    uint64_t t0, start = now_ns();

    for (size_t i = 0; i < ops; i++) {
        t0 = now_ns();
        if (write(fd, req, sizeof(req)) != sizeof(req) ||
            ping_read_full(fd, rep, sizeof(rep)))
            return -EIO;
        se->lat[se->nlat++] = now_ns() - t0;
    }
    se->rate[round] = ops * 1e9 / (double)(now_ns() - start);
    return 0;
}

/* ---- over vfio-user ------------------------------------------------------------ */

static int read_round(struct uvfio_client *c, size_t ops, struct series *se,
                      size_t round)
{
    uint64_t t0, start = now_ns();
    uint32_t v;

    for (size_t i = 0; i < ops; i++) {
        uint64_t off = (i * 4) % PING_REGION_SIZE;

        t0 = now_ns();
        if (uvfio_client_region_read(c, 0, off, &v, 4) != 4)
            return -EIO;
        se->lat[se->nlat++] = now_ns() - t0;
    }
    se->rate[round] = ops * 1e9 / (double)(now_ns() - start);
    return 0;
}

static int bench_write(struct uvfio_client *c, size_t ops, uint64_t *lat,
                       struct stats *out)
{
    uint64_t t0, start;
    uint32_t v = 0;

    start = now_ns();
    for (size_t i = 0; i < ops; i++) {
        t0 = now_ns();
        v = (uint32_t)i;
        if (uvfio_client_region_write(c, 0, (i * 4) % PING_REGION_SIZE, &v,
                                      4) != 4)
            return -EIO;
        lat[i] = now_ns() - t0;
    }
    *out = summarize(lat, ops, now_ns() - start);
    return 0;
}

/* Posted writes, each batch closed by a read: the read's reply proves the
 * whole batch before it was applied.  Latency here is per batch / size. */
static int bench_posted(struct uvfio_client *c, size_t ops, uint64_t *lat,
                        struct stats *out)
{
    size_t batches = ops / POSTED_BATCH ? ops / POSTED_BATCH : 1;
    uint64_t t0, start;
    uint32_t v;

    start = now_ns();
    for (size_t b = 0; b < batches; b++) {
        t0 = now_ns();
        for (size_t i = 0; i < POSTED_BATCH; i++) {
            v = (uint32_t)i;
            if (uvfio_client_region_write_posted(c, 0,
                                                 (i * 4) % PING_REGION_SIZE,
                                                 &v, 4))
                return -EIO;
        }
        if (uvfio_client_region_read(c, 0, 0, &v, 4) != 4)
            return -EIO;
        lat[b] = (now_ns() - t0) / POSTED_BATCH;
    }
    *out = summarize(lat, batches, now_ns() - start);
    out->ops_per_sec *= POSTED_BATCH;
    return 0;
}

/* The posted numbers only mean something if a read really waits for the
 * writes posted before it; check that it does. */
static bool posted_ordered(struct uvfio_client *c)
{
    uint32_t mark = 0x5eed1234, v = 0;

    if (uvfio_client_region_write_posted(c, 0, PING_REGION_SIZE - 4, &mark, 4))
        return false;
    if (uvfio_client_region_read(c, 0, PING_REGION_SIZE - 4, &v, 4) != 4)
        return false;
    return v == mark;
}

/* ---- the rounds ------------------------------------------------------------------ */

enum { RAW, RING, EPOLL, KINDS };

struct bench {
    int cpu;
    size_t ops, rounds;
    bool json;
    int raw_fd;
    struct uvfio_client *client[KINDS];     /* RING, EPOLL */
    struct series se[KINDS];
    double *ratio[KINDS];                   /* per round, kind / RAW */
};

static int one_round(struct bench *b, int kind, size_t round)
{
    if (kind == RAW)
        return raw_round(b->raw_fd, b->ops, &b->se[RAW], round);
    return read_round(b->client[kind], b->ops, &b->se[kind], round);
}

/* A first round, thrown away, faults everything in; then every round runs
 * the three kinds in a rotating order so none is always first. */
static int run_rounds(struct bench *b)
{
    int r;

    for (int k = 0; k < KINDS; k++) {
        r = one_round(b, k, 0);
        b->se[k].nlat = 0;
        if (r)
            return r;
    }
    for (size_t i = 0; i < b->rounds; i++) {
        for (int j = 0; j < KINDS; j++) {
            r = one_round(b, (int)((i + (size_t)j) % KINDS), i);
            if (r)
                return r;
        }
        for (int k = RING; k < KINDS; k++)
            b->ratio[k][i] = b->se[k].rate[i] / b->se[RAW].rate[i];
    }
    return 0;
}

static int bench_alloc(struct bench *b)
{
    static const char *const names[KINDS] = {
        "raw AF_UNIX ping-pong (32 B / 36 B)",
        "REGION_READ 4 B (io_uring loop)",
        "REGION_READ 4 B (epoll loop)",
    };

    for (int k = 0; k < KINDS; k++) {
        b->se[k].name = names[k];
        b->se[k].rate = calloc(b->rounds, sizeof(double));
        b->se[k].lat = calloc(b->ops * b->rounds, sizeof(uint64_t));
        b->ratio[k] = calloc(b->rounds, sizeof(double));
        if (!b->se[k].rate || !b->se[k].lat || !b->ratio[k])
            return -ENOMEM;
    }
    return 0;
}

static void bench_free(struct bench *b)
{
    for (int k = 0; k < KINDS; k++) {
        free(b->se[k].rate);
        free(b->se[k].lat);
        free(b->ratio[k]);
    }
}

/* ---- output ------------------------------------------------------------------------ */

static void row(const char *name, const struct stats *s)
{
    printf("%-36s %12.0f %10.2f %10.2f\n", name, s->ops_per_sec, s->p50_us,
           s->p99_us);
}

static void json_row(const char *key, const struct stats *s, bool last)
{
    printf("  \"%s\": {\"ops_per_sec\": %.0f, \"p10_us\": %.3f, "
           "\"p50_us\": %.3f, \"p75_us\": %.3f, \"p90_us\": %.3f, "
           "\"p99_us\": %.3f}%s\n", key, s->ops_per_sec, s->p10_us,
           s->p50_us, s->p75_us, s->p90_us, s->p99_us, last ? "" : ",");
}


struct results {
    struct stats st[KINDS], wr, posted;
    double med[KINDS], lo[KINDS], hi[KINDS];
    bool ordered;
};

static void ratio_range(const struct bench *b, int k, struct results *res)
{
    double *v = b->ratio[k];

    res->med[k] = median(v, b->rounds);
    res->lo[k] = res->hi[k] = v[0];
    for (size_t i = 1; i < b->rounds; i++) {
        res->lo[k] = v[i] < res->lo[k] ? v[i] : res->lo[k];
        res->hi[k] = v[i] > res->hi[k] ? v[i] : res->hi[k];
    }
}

/*
 * On these machines a round trip's latency is bimodal for the raw
 * ping-pong too (most near the median, a second group a microsecond or
 * more above it: interference from outside the VM), and the upper group
 * is wider for the side with more to bring back into cache.  ops/s
 * counts every round trip; the median one says what a round trip costs
 * when nothing else intervenes.  Both are shown.
 */
static void print_distribution(const struct bench *b,
                               const struct results *res)
{
    printf("\nround-trip latency, us                  p10      p50      p75"
           "      p90      p99\n");
    for (int k = 0; k < KINDS; k++) {
        const struct stats *s = &res->st[k];

        printf("%-36s %8.2f %8.2f %8.2f %8.2f %8.2f\n", b->se[k].name,
               s->p10_us, s->p50_us, s->p75_us, s->p90_us, s->p99_us);
    }
    printf("REGION_READ / raw at the median round trip: io_uring %.2fx, "
           "epoll %.2fx\n", res->st[RAW].p50_us / res->st[RING].p50_us,
           res->st[RAW].p50_us / res->st[EPOLL].p50_us);
}

static void print_table(const struct bench *b, const struct results *res)
{
    printf("region_rw: client and servers pinned to CPU %d; %zu interleaved "
           "rounds of %zu ops; ops/s = median of rounds\n",
           b->cpu, b->rounds, b->ops);
    printf("%-36s %12s %10s %10s\n", "", "ops/s", "p50 us", "p99 us");
    for (int k = 0; k < KINDS; k++)
        row(b->se[k].name, &res->st[k]);
    row("REGION_WRITE 4 B (synchronous)", &res->wr);
    row("posted 4 B writes (WRITE_MULTI)", &res->posted);
    printf("REGION_READ / raw ping-pong, io_uring loop: %.2fx "
           "(rounds %.2f-%.2f)  (target >= 0.95x)\n",
           res->med[RING], res->lo[RING], res->hi[RING]);
    printf("REGION_READ / raw ping-pong, epoll loop:    %.2fx "
           "(rounds %.2f-%.2f)\n", res->med[EPOLL], res->lo[EPOLL],
           res->hi[EPOLL]);
    printf("WRITE_MULTI / sync REGION_WRITE: %.1fx  (target >= 5x)\n",
           res->posted.ops_per_sec / res->wr.ops_per_sec);
    print_distribution(b, res);
    if (!res->ordered)
        printf("WARNING: a read overtook the writes posted before it: the "
               "client does not flush its batch first, so the posted row "
               "measures queueing, not completed writes\n");
}

static void print_json(const struct bench *b, const struct results *res)
{
    printf("{\n  \"cpu\": %d, \"rounds\": %zu, \"ops_per_round\": %zu,\n",
           b->cpu, b->rounds, b->ops);
    json_row("raw_pingpong", &res->st[RAW], false);
    json_row("read_io_uring", &res->st[RING], false);
    json_row("read_epoll", &res->st[EPOLL], false);
    json_row("write_sync", &res->wr, false);
    json_row("write_posted", &res->posted, false);
    printf("  \"read_vs_raw\": {\"io_uring\": %.4f, \"io_uring_min\": %.4f, "
           "\"io_uring_max\": %.4f, \"epoll\": %.4f, \"epoll_min\": %.4f, "
           "\"epoll_max\": %.4f, \"target\": 0.95},\n",
           res->med[RING], res->lo[RING], res->hi[RING], res->med[EPOLL],
           res->lo[EPOLL], res->hi[EPOLL]);
    printf("  \"read_vs_raw_at_p50\": {\"io_uring\": %.4f, "
           "\"epoll\": %.4f},\n",
           res->st[RAW].p50_us / res->st[RING].p50_us,
           res->st[RAW].p50_us / res->st[EPOLL].p50_us);
    printf("  \"posted_vs_sync\": %.2f,\n  \"posted_ordered\": %s\n}\n",
           res->posted.ops_per_sec / res->wr.ops_per_sec,
           res->ordered ? "true" : "false");
}

/* ---- main -------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct bench *b)
{
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--cpu=", 6))
            b->cpu = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "--ops=", 6))
            b->ops = strtoul(argv[i] + 6, NULL, 10);
        else if (!strncmp(argv[i], "--rounds=", 9))
            b->rounds = strtoul(argv[i] + 9, NULL, 10);
        else if (!strcmp(argv[i], "--json"))
            b->json = true;
        else
            return -EINVAL;
    }
    return b->cpu >= 0 && b->cpu < CPU_SETSIZE && b->ops >= 100 &&
           b->rounds >= 1 && b->rounds <= 10000 ? 0 : -EINVAL;
}

static const char usage[] =
    "usage: region_rw [--cpu=N] [--ops=N>=100] [--rounds=N] [--json]\n"
    "  The cost of a 4-byte REGION_READ over vfio-user next to a raw\n"
    "  AF_UNIX ping-pong, all pinned to CPU N [0], in N interleaved rounds\n"
    "  [21] of N ops each [5000]; then synchronous and posted writes.\n";

static int measure(struct bench *b, const char *dir, struct results *res)
{
    pid_t srv[KINDS] = { -1, -1, -1 };
    uint64_t *lat = calloc(b->ops * 10, sizeof(*lat));
    int ret;

    ret = lat ? 0 : -ENOMEM;
    if (!ret)
        ret = connect_to(dir, "ring", b->cpu, 0, &srv[RING], &b->client[RING]);
    if (!ret)
        ret = connect_to(dir, "epoll", b->cpu, UVFIO_SERVER_NO_IO_URING,
                         &srv[EPOLL], &b->client[EPOLL]);
    if (!ret)
        ret = spawn_echo(b->cpu, &b->raw_fd) < 0 ? -errno : 0;
    if (!ret)
        ret = run_rounds(b);
    if (!ret)
        ret = bench_write(b->client[RING], b->ops, lat, &res->wr);
    if (!ret)
        ret = bench_posted(b->client[RING], b->ops * 10, lat, &res->posted);
    if (!ret)
        res->ordered = posted_ordered(b->client[RING]);
    for (int k = RING; k < KINDS; k++) {
        uvfio_client_close(b->client[k]);
        stop_server(srv[k]);
    }
    if (b->raw_fd >= 0)
        close(b->raw_fd);       /* the echo process exits on EOF */
    while (waitpid(-1, NULL, 0) > 0)
        ;
    free(lat);
    return ret;
}

int main(int argc, char **argv)
{
    struct bench b = { .cpu = 0, .ops = 5000, .rounds = 21, .raw_fd = -1 };
    char dir[] = "/tmp/uvfio-bench-XXXXXX";
    struct results res = { 0 };
    int ret;

    if (argc == 2 && !strcmp(argv[1], "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (parse_args(argc, argv, &b)) {
        fputs(usage, stderr);
        return 2;
    }
    if (bench_alloc(&b) || !mkdtemp(dir) || pin(b.cpu)) {
        fprintf(stderr, "region_rw: setup failed: %s\n", strerror(errno));
        return 1;
    }
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    ret = measure(&b, dir, &res);
    rmdir(dir);
    if (ret) {
        fprintf(stderr, "region_rw: failed: %s\n", strerror(-ret));
        bench_free(&b);
        return 1;
    }
    for (int k = 0; k < KINDS; k++) {
        res.st[k] = series_stats(&b.se[k], b.rounds);
        if (k != RAW)
            ratio_range(&b, k, &res);
    }
    if (b.json)
        print_json(&b, &res);
    else
        print_table(&b, &res);
    bench_free(&b);
    return 0;
}
