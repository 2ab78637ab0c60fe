// SPDX-License-Identifier: MIT
/*
 * scale - what one server process costs per device, and how its loop is
 * shared out between many devices:
 *
 *   1. resident memory per idle device: a fresh server process (this
 *      program run again with --serve) with 0, 64 and 256 devices, first
 *      only listening, then each with a connected, negotiated, idle
 *      client; read from /proc/<pid>/statm;
 *   2. region-access throughput: 4-byte REGION_READs from one client on
 *      one device, then from 64 clients on 64 devices at once, against
 *      the same 64-device server in the same run: the aggregate, and its
 *      ratio to the single client;
 *   3. guest memory copies: uvfio_dma_read of 4 KiB from a DMA map sealed
 *      against shrinking and from an unsealed one (what the SIGBUS guard
 *      costs an access), in-process, best of five alternating rounds.
 *
 * usage: scale [--seconds=N]   (other options, meant for the other
 *                               benchmarks by scripts/bench.sh, are ignored)
 *
 * Figures to track, not a pass/fail: docs/robustness.md records them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "core/core.h"

#define REGION_SIZE     4096u
#define MAX_DEVICES     256u
#define THREADS         64u
#define COPY_BYTES      4096u
#define COPY_WINDOW     (1u << 20)

static struct uvfio_server *volatile serving;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the device ---------------------------------------------------------- */

static ssize_t dev_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    uint8_t *regs = uvfio_device_priv(dev);

    (void)index;
    memcpy(buf, regs + offset, count);
    return (ssize_t)count;
}

static ssize_t dev_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    uint8_t *regs = uvfio_device_priv(dev);

    (void)index;
    memcpy(regs + offset, buf, count);
    return (ssize_t)count;
}

static const struct uvfio_device_ops dev_ops = {
    .name = "bench-scale",
    .read = dev_read,
    .write = dev_write,
};

static int device_new(uint8_t *regs, struct uvfio_device **out)
{
    const struct uvfio_device_config cfg = {
        .name = "bench-scale", .ops = &dev_ops, .num_regions = 1,
        .priv = regs,
    };
    const struct uvfio_region_config rc = {
        .size = REGION_SIZE, .mmap_fd = -1,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE,
    };
    int r = uvfio_device_create(&cfg, out);

    if (!r && (r = uvfio_device_set_region(*out, 0, &rc)))
        uvfio_device_destroy(*out);
    return r;
}

/* ---- the server process (--serve) --------------------------------------- */

static void on_term(int sig)
{
    (void)sig;
    if (serving)
        uvfio_server_stop(serving);
}

/* Serve n devices in dir; "ready" on stdout once all listen. */
static int serve(unsigned int n, const char *dir)
{
    static uint8_t regs[MAX_DEVICES][REGION_SIZE];
    struct uvfio_device *devs[MAX_DEVICES] = { 0 };
    struct uvfio_server *srv = NULL;
    char path[256];
    unsigned int i;
    int r;

    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    r = uvfio_server_create(NULL, &srv);
    for (i = 0; !r && i < n; i++) {
        snprintf(path, sizeof(path), "%s/d%u.sock", dir, i);
        r = device_new(regs[i], &devs[i]);
        if (!r)
            r = uvfio_server_add_device(srv, devs[i], path);
    }
    if (!r) {
        serving = srv;
        printf("ready\n");
        fflush(stdout);
        r = uvfio_server_run(srv);
    }
    uvfio_server_destroy(srv);
    for (i = 0; i < n; i++)
        if (devs[i])
            uvfio_device_destroy(devs[i]);
    return r ? 1 : 0;
}

struct child {
    pid_t pid;
    char dir[64];
};

static int spawn_server(unsigned int n, struct child *ch)
{
    char narg[32], darg[96], buf[16];
    struct pollfd pfd;
    int p[2];
    ssize_t got;

    snprintf(ch->dir, sizeof(ch->dir), "/tmp/uvfio-scale-XXXXXX");
    if (!mkdtemp(ch->dir) || pipe2(p, O_CLOEXEC))
        return -errno;
    snprintf(narg, sizeof(narg), "--serve=%u", n);
    snprintf(darg, sizeof(darg), "--dir=%s", ch->dir);
    ch->pid = fork();
    if (ch->pid < 0)
        return -errno;
    if (ch->pid == 0) {
        dup2(p[1], 1);
        execl("/proc/self/exe", "scale", narg, darg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    pfd = (struct pollfd){ p[0], POLLIN, 0 };
    got = poll(&pfd, 1, 30000) == 1 ? read(p[0], buf, sizeof(buf)) : -1;
    close(p[0]);
    return got >= 5 && !memcmp(buf, "ready", 5) ? 0 : -EIO;
}

static void stop_server(struct child *ch)
{
    char cmd[128];
    int st;

    kill(ch->pid, SIGTERM);
    waitpid(ch->pid, &st, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ch->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "scale: could not remove %s\n", ch->dir);
}

static const char *sock_path(const struct child *ch, unsigned int i)
{
    static _Thread_local char path[128];

    snprintf(path, sizeof(path), "%s/d%u.sock", ch->dir, i);
    return path;
}

static long rss_kib(pid_t pid)
{
    char path[64];
    long size, rss = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- 1. memory per idle device ------------------------------------------ */

/* RSS of a server with n devices, listening and then with clients. */
static int idle_rss(unsigned int n, long *listening, long *connected)
{
    static struct uvfio_client *cl[MAX_DEVICES];
    struct child ch;
    unsigned int i;
    int r = spawn_server(n, &ch);

    if (r)
        return r;
    usleep(100000);
    *listening = rss_kib(ch.pid);
    for (i = 0; i < n && !r; i++)
        r = uvfio_client_connect(sock_path(&ch, i), NULL, &cl[i]);
    usleep(100000);
    *connected = rss_kib(ch.pid);
    while (i--)
        uvfio_client_close(cl[i]);
    stop_server(&ch);
    return r;
}

static int bench_memory(void)
{
    static const unsigned int counts[] = { 0, 64, 256 };
    long lis[3], con[3];
    int r;

    for (int i = 0; i < 3; i++) {
        r = idle_rss(counts[i], &lis[i], &con[i]);
        if (r)
            return r;
    }
    printf("1. resident memory of the server process (KiB)\n");
    printf("%-12s %14s %14s\n", "devices", "listening", "+ idle client");
    for (int i = 0; i < 3; i++)
        printf("%-12u %14ld %14ld\n", counts[i], lis[i], con[i]);
    printf("per idle device: %.1f KiB listening, %.1f KiB with a client "
           "(from 0 to 256 devices)\n\n", (double)(lis[2] - lis[0]) / 256.0,
           (double)(con[2] - con[0]) / 256.0);
    return 0;
}

/* ---- 2. throughput -------------------------------------------------------- */

struct reader {
    struct uvfio_client *c;
    pthread_t thread;
    unsigned long ops;
    int error;
};

static atomic_bool go, halt;

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    uint32_t v;

    while (!atomic_load(&go))
        sched_yield();
    while (!atomic_load(&halt)) {
        if (uvfio_client_region_read(rd->c, 0, 0, &v, sizeof(v)) != 4) {
            rd->error = 1;
            break;
        }
        rd->ops++;
    }
    return NULL;
}

/* ops/s of `n` clients on devices 0..n-1, all at once, for `secs`. */
static double run_readers(const struct child *ch, unsigned int n, int secs,
                          int *err)
{
    static struct reader rd[THREADS];
    unsigned long total = 0;
    uint64_t t0, t1;
    unsigned int i;

    atomic_store(&go, false);
    atomic_store(&halt, false);
    for (i = 0; i < n; i++) {
        memset(&rd[i], 0, sizeof(rd[i]));
        if (uvfio_client_connect(sock_path(ch, i), NULL, &rd[i].c) ||
            pthread_create(&rd[i].thread, NULL, reader_main, &rd[i])) {
            *err = -EIO;
            n = i;
            break;
        }
    }
    t0 = now_ns();
    atomic_store(&go, true);
    sleep((unsigned int)secs);
    atomic_store(&halt, true);
    for (i = 0; i < n; i++) {
        pthread_join(rd[i].thread, NULL);
        total += rd[i].ops;
        *err |= rd[i].error;
        uvfio_client_close(rd[i].c);
    }
    t1 = now_ns();
    return (double)total * 1e9 / (double)(t1 - t0);
}

static int bench_throughput(int secs)
{
    double one, many;
    struct child ch;
    int err = 0, r = spawn_server(THREADS, &ch);

    if (r)
        return r;
    one = run_readers(&ch, 1, secs, &err);
    many = run_readers(&ch, THREADS, secs, &err);
    stop_server(&ch);
    if (err)
        return -EIO;
    printf("2. 4-byte REGION_READ throughput, one server process with %u "
           "devices, %ld CPUs\n", THREADS, sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-36s %12.0f ops/s\n", "1 client on 1 device", one);
    printf("%-36s %12.0f ops/s  (%.2fx the single client, %.0f per device)"
           "\n\n", "64 clients on 64 devices", many, many / one,
           many / THREADS);
    return 0;
}

/* ---- 3. guest memory copies ---------------------------------------------- */

static int map_window(struct uvfio_device *dev, uint64_t iova, bool sealed)
{
    struct uvfio_wire_dma_map req = {
        .argsz = sizeof(req),
        .flags = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE,
        .addr = iova, .size = COPY_WINDOW,
    };
    int fd = memfd_create("scale", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, COPY_WINDOW) ||
        (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))) {
        close(fd);
        return -errno;
    }
    r = uvfio_core_dma_map(dev, &req, &fd);
    if (fd >= 0)
        close(fd);
    return r;
}

static double copy_ns(struct uvfio_device *dev, uint64_t iova,
                      unsigned long n)
{
    static uint8_t buf[COPY_BYTES];
    uint64_t t0 = now_ns();

    for (unsigned long i = 0; i < n; i++)
        if (uvfio_dma_read(dev, iova + (i % (COPY_WINDOW / COPY_BYTES)) *
                           COPY_BYTES, buf, sizeof(buf)))
            return -1;
    return (double)(now_ns() - t0) / (double)n;
}

static int bench_copies(void)
{
    static uint8_t regs[REGION_SIZE];
    const unsigned long n = 50000;
    struct uvfio_device *dev;
    double sealed, unsealed;
    int r = device_new(regs, &dev);

    if (r)
        return r;
    r = map_window(dev, 0x10000000, true);
    if (!r)
        r = map_window(dev, 0x20000000, false);
    if (!r) {
        copy_ns(dev, 0x10000000, n);            /* fault the pages in */
        copy_ns(dev, 0x20000000, n);
        /* Alternating rounds, best of each: a shared machine's noise is
         * larger than the difference being measured. */
        sealed = unsealed = 1e12;
        for (int round = 0; round < 5; round++) {
            double a = copy_ns(dev, 0x10000000, n);
            double b = copy_ns(dev, 0x20000000, n);

            if (a < 0 || b < 0) {
                r = -EIO;
                break;
            }
            sealed = a < sealed ? a : sealed;
            unsealed = b < unsealed ? b : unsealed;
        }
    }
    if (!r) {
        printf("3. uvfio_dma_read of %u bytes, in-process\n", COPY_BYTES);
        printf("%-36s %12.1f ns\n", "sealed memfd (no guard)", sealed);
        printf("%-36s %12.1f ns  (%.2fx)\n", "unsealed memfd (SIGBUS guard)",
               unsealed, unsealed / sealed);
    }
    uvfio_device_destroy(dev);
    return r;
}

/* ---- main ------------------------------------------------------------------ */

/* 256 devices and their clients: a listening and a connected socket per
 * device in the server, a socket per client here, and some slack. */
#define FDS_NEEDED      (3 * MAX_DEVICES + 64)

/* More than the usual soft limit: raised to the hard one; false when even
 * that is too low. */
static bool more_fds(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return true;            /* unknown: let it try */
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= FDS_NEEDED)
        return true;
    fprintf(stderr, "scale: %u devices need %u open files, the limit is "
            "%llu: raise it (ulimit -Hn, as root) or see docs/robustness.md "
            "for the figures\n", MAX_DEVICES, FDS_NEEDED,
            (unsigned long long)rl.rlim_cur);
    return false;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    unsigned int serve_n = 0;
    bool server = false;
    int secs = 1, r;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: scale [--seconds=1..60]\n"
                   "  What one server process costs per device (memory), "
                   "how its loop is shared\n  between 64 devices' "
                   "clients, and what the SIGBUS guard costs a DMA copy.\n");
            return 0;
        }
        if (!strncmp(argv[i], "--serve=", 8)) {
            serve_n = (unsigned int)atoi(argv[i] + 8);
            server = true;
        } else if (!strncmp(argv[i], "--dir=", 6)) {
            dir = argv[i] + 6;
        } else if (!strncmp(argv[i], "--seconds=", 10)) {
            secs = atoi(argv[i] + 10);
        }
    }
    if (!more_fds())
        return 2;
    if (server)
        return dir && serve_n <= MAX_DEVICES ? serve(serve_n, dir) : 2;
    if (secs < 1 || secs > 60) {
        fprintf(stderr, "usage: scale [--seconds=1..60]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    r = bench_memory();
    if (!r)
        r = bench_throughput(secs);
    if (!r)
        r = bench_copies();
    if (r)
        fprintf(stderr, "scale: failed: %s\n", strerror(-r));
    return r ? 1 : 0;
}
