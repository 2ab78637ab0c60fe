// SPDX-License-Identifier: MIT
/*
 * region_rw - what a trapped register access costs over vfio-user, next
 * to the floor it cannot beat: a raw AF_UNIX ping-pong carrying the same
 * bytes (32-byte request, 36-byte reply), measured in the same run with
 * both ends pinned to one CPU.  Then posted writes (REGION_WRITE_MULTI
 * batches) against synchronous REGION_WRITEs.
 *
 * usage: region_rw [--cpu=N] [--ops=N]
 *
 * Prints a table; it does not judge (a benchmark is not a test), but it
 * shows each ratio next to its target: REGION_READ >= 0.95x the raw
 * ping-pong, WRITE_MULTI >= 5x synchronous writes.
 */
#include <errno.h>
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

#define REQ_BYTES       32      /* header + region_rw */
#define REPLY_BYTES     36      /* header + region_rw + 4 data bytes */
#define REGION_SIZE     4096
#define POSTED_BATCH    1000    /* posted writes per synchronising read */

struct stats {
    double ops_per_sec;
    double p50_us, p99_us;
};

static struct uvfio_server *volatile bench_server;

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

static struct stats summarize(uint64_t *lat, size_t n, uint64_t total_ns)
{
    struct stats s;

    qsort(lat, n, sizeof(*lat), cmp_u64);
    s.ops_per_sec = n * 1e9 / (double)total_ns;
    s.p50_us = lat[n / 2] / 1e3;
    s.p99_us = lat[n * 99 / 100] / 1e3;
    return s;
}

/* ---- the device: a page of plain memory ------------------------------------ */

static ssize_t mem_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    memcpy(buf, (uint8_t *)uvfio_device_priv(dev) + offset, count);
    (void)index;
    return (ssize_t)count;
}

static ssize_t mem_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    memcpy((uint8_t *)uvfio_device_priv(dev) + offset, buf, count);
    (void)index;
    return (ssize_t)count;
}

static const struct uvfio_device_ops mem_ops = {
    .name = "bench-mem",
    .read = mem_read,
    .write = mem_write,
};

static void on_term(int sig)
{
    (void)sig;
    if (bench_server)
        uvfio_server_stop(bench_server);
}

static int run_server(const char *path)
{
    static uint8_t page[REGION_SIZE];
    const struct uvfio_device_config dc = {
        .name = "bench-mem", .ops = &mem_ops, .num_regions = 1, .priv = page,
    };
    const struct uvfio_region_config rc = {
        .size = REGION_SIZE, .mmap_fd = -1,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE,
    };
    struct uvfio_device *dev = NULL;
    struct uvfio_server *srv = NULL;
    int ret;

    ret = uvfio_device_create(&dc, &dev);
    if (!ret)
        ret = uvfio_device_set_region(dev, 0, &rc);
    if (!ret)
        ret = uvfio_server_create(NULL, &srv);
    if (!ret) {
        bench_server = srv;
        ret = uvfio_server_add_device(srv, dev, path);
    }
    if (!ret)
        ret = uvfio_server_run(srv);
    bench_server = NULL;
    if (srv)
        uvfio_server_destroy(srv);
    if (dev)
        uvfio_device_destroy(dev);
    return ret;
}

static pid_t spawn_server(const char *path, int cpu)
{
    struct sigaction sa = { .sa_handler = on_term };
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    pin(cpu);
    _exit(run_server(path) ? 1 : 0);
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

/* ---- raw ping-pong: the floor ------------------------------------------------ */

static int read_full(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, (char *)buf + got, len - got);

        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

static void echo_loop(int fd)
{
    char req[REQ_BYTES], rep[REPLY_BYTES] = { 0 };

    while (read_full(fd, req, sizeof(req)) == 0)
        if (write(fd, rep, sizeof(rep)) != sizeof(rep))
            break;
    _exit(0);
}

static int bench_raw(int cpu, size_t ops, uint64_t *lat, struct stats *out)
{
    char req[REQ_BYTES] = { 0 }, rep[REPLY_BYTES];
    int sv[2], status;
    uint64_t t0, start;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return -errno;
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        pin(cpu);
        echo_loop(sv[1]);
    }
    close(sv[1]);
    for (size_t i = 0; i < ops / 10; i++)           /* warm up */
        if (write(sv[0], req, sizeof(req)) != sizeof(req) ||
            read_full(sv[0], rep, sizeof(rep)))
            break;
    start = now_ns();
    for (size_t i = 0; i < ops; i++) {
        t0 = now_ns();
        if (write(sv[0], req, sizeof(req)) != sizeof(req) ||
            read_full(sv[0], rep, sizeof(rep)))
            return -EIO;
        lat[i] = now_ns() - t0;
    }
    *out = summarize(lat, ops, now_ns() - start);
    close(sv[0]);
    waitpid(pid, &status, 0);
    return 0;
}

/* ---- over vfio-user ------------------------------------------------------------ */

static int bench_read(struct uvfio_client *c, size_t ops, uint64_t *lat,
                      struct stats *out)
{
    uint32_t v;
    uint64_t t0, start;

    for (size_t i = 0; i < ops / 10; i++)
        if (uvfio_client_region_read(c, 0, 0, &v, 4) != 4)
            return -EIO;
    start = now_ns();
    for (size_t i = 0; i < ops; i++) {
        t0 = now_ns();
        if (uvfio_client_region_read(c, 0, (i * 4) % REGION_SIZE, &v, 4) != 4)
            return -EIO;
        lat[i] = now_ns() - t0;
    }
    *out = summarize(lat, ops, now_ns() - start);
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
        if (uvfio_client_region_write(c, 0, (i * 4) % REGION_SIZE, &v, 4) != 4)
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
            if (uvfio_client_region_write_posted(c, 0, (i * 4) % REGION_SIZE,
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

    if (uvfio_client_region_write_posted(c, 0, REGION_SIZE - 4, &mark, 4))
        return false;
    if (uvfio_client_region_read(c, 0, REGION_SIZE - 4, &v, 4) != 4)
        return false;
    return v == mark;
}

/* ---- main -------------------------------------------------------------------------- */

static void row(const char *name, const struct stats *s)
{
    printf("%-36s %12.0f %10.2f %10.2f\n", name, s->ops_per_sec, s->p50_us,
           s->p99_us);
}

static int parse_args(int argc, char **argv, int *cpu, size_t *ops)
{
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--cpu=", 6))
            *cpu = atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "--ops=", 6))
            *ops = strtoul(argv[i] + 6, NULL, 10);
        else
            return -EINVAL;
    }
    return *cpu >= 0 && *cpu < CPU_SETSIZE && *ops >= 100 ? 0 : -EINVAL;
}

static int run_vfio(struct uvfio_client *c, size_t ops, uint64_t *lat,
                    struct stats *rd, struct stats *wr, struct stats *posted,
                    bool *ordered)
{
    if (bench_read(c, ops, lat, rd) || bench_write(c, ops, lat, wr) ||
        bench_posted(c, ops * 10, lat, posted))
        return -EIO;
    *ordered = posted_ordered(c);
    return 0;
}

int main(int argc, char **argv)
{
    struct stats raw, rd, wr, posted;
    struct uvfio_client *c = NULL;
    char dir[] = "/tmp/uvfio-bench-XXXXXX", path[64];
    size_t ops = 20000;
    int cpu = 0, ret, status;
    bool ordered = false;
    uint64_t *lat;
    pid_t srv;

    if (parse_args(argc, argv, &cpu, &ops)) {
        fprintf(stderr, "usage: region_rw [--cpu=N] [--ops=N>=100]\n");
        return 2;
    }
    lat = calloc(ops * 10, sizeof(*lat));
    if (!lat || !mkdtemp(dir) || pin(cpu)) {
        fprintf(stderr, "region_rw: setup failed: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.sock", dir);
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    srv = spawn_server(path, cpu);
    ret = srv < 0 || wait_for_socket(path) ? -EIO : 0;
    if (!ret)
        ret = uvfio_client_connect(path, NULL, &c);
    if (!ret)
        ret = run_vfio(c, ops, lat, &rd, &wr, &posted, &ordered);
    uvfio_client_close(c);
    if (srv > 0) {
        kill(srv, SIGTERM);
        waitpid(srv, &status, 0);
    }
    if (!ret)
        ret = bench_raw(cpu, ops, lat, &raw);
    rmdir(dir);
    free(lat);
    if (ret) {
        fprintf(stderr, "region_rw: failed: %s\n", strerror(-ret));
        return 1;
    }
    printf("region_rw: client and server pinned to CPU %d, %zu ops per row\n",
           cpu, ops);
    printf("%-36s %12s %10s %10s\n", "", "ops/s", "p50 us", "p99 us");
    row("raw AF_UNIX ping-pong (32 B / 36 B)", &raw);
    row("REGION_READ 4 B", &rd);
    row("REGION_WRITE 4 B (synchronous)", &wr);
    row("posted 4 B writes (WRITE_MULTI)", &posted);
    printf("REGION_READ / raw ping-pong:   %.2fx  (target >= 0.95x)\n",
           rd.ops_per_sec / raw.ops_per_sec);
    printf("WRITE_MULTI / sync REGION_WRITE: %.1fx  (target >= 5x)\n",
           posted.ops_per_sec / wr.ops_per_sec);
    if (!ordered)
        printf("WARNING: a read overtook the writes posted before it: the "
               "client does not flush its batch first, so the posted row "
               "measures queueing, not completed writes\n");
    return 0;
}
