// SPDX-License-Identifier: MIT
/*
 * livemig - downtime and total time of a live migration with 1 GiB of
 * guest memory while the device writes it by DMA at 100 MB/s, next to
 * what copying 1 GiB costs on this machine in the same run: memcpy, and a
 * raw AF_UNIX stream between two threads (the migration's own transport
 * in one process).
 *
 * Two uvfio-edu servers run as child processes (found next to this
 * program in the build tree, or given with --edu); the migration is
 * uvfio-migrate's engine, both ends in this process, exactly as
 * `uvfio-migrate --guest-memory 1G --device-dma-rate ...` runs it.  Every
 * run is verified byte for byte by the migration itself; a run that is
 * not is reported as such.
 *
 * usage: livemig [--size=MIB] [--dma-rate=MB/S] [--write-rate=MB/S]
 *                [--downtime=MS] [--runs=N] [--edu=PATH]
 *
 * MB/s are 10^6 bytes per second.  It prints, it does not judge.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "live.h"

#define CHUNK           (1u << 20)
#define MAX_RUNS        20

struct opts {
    uint64_t size;              /* bytes */
    uint64_t dma_rate, write_rate;      /* bytes/s */
    uint32_t downtime_ms;
    unsigned int runs;
    char edu[4096];
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double mbs(uint64_t bytes, double ms)
{
    return ms > 0 ? (double)bytes / 1e3 / ms : 0;
}

/* ---- the baselines ------------------------------------------------------ */

/* Backed and mapped, as the migration's guest memory is. */
static uint8_t *populated(uint64_t size)
{
    int fd = memfd_create("livemig-bench", MFD_CLOEXEC);
    uint8_t *p;

    if (fd < 0 || ftruncate(fd, (off_t)size) || fallocate(fd, 0, 0,
                                                          (off_t)size)) {
        perror("livemig: memfd");
        exit(1);
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("livemig: mmap");
        exit(1);
    }
    memset(p, 0x5a, size);
    return p;
}

struct reader {
    int fd;
    uint8_t *dst;
    uint64_t size;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    uint64_t got = 0;
    ssize_t n;

    while (got < r->size) {
        n = read(r->fd, r->dst + got, r->size - got < CHUNK ?
                 r->size - got : CHUNK);
        if (n <= 0)
            break;
        got += (uint64_t)n;
    }
    return NULL;
}

static double socket_copy(uint8_t *src, uint8_t *dst, uint64_t size)
{
    struct reader r = { .dst = dst, .size = size };
    uint64_t off = 0;
    pthread_t th;
    double t0;
    ssize_t n;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        perror("livemig: socketpair");
        exit(1);
    }
    r.fd = sv[1];
    t0 = now_ms();
    pthread_create(&th, NULL, read_all, &r);
    while (off < size) {
        n = write(sv[0], src + off, size - off < CHUNK ? size - off : CHUNK);
        if (n <= 0)
            break;
        off += (uint64_t)n;
    }
    pthread_join(th, NULL);
    t0 = now_ms() - t0;
    close(sv[0]);
    close(sv[1]);
    return t0;
}

static void baselines(const struct opts *o)
{
    uint8_t *src = populated(o->size), *dst = populated(o->size);
    double t;

    t = now_ms();
    memcpy(dst, src, o->size);
    t = now_ms() - t;
    printf("  baseline  memcpy           %9.1f ms  %7.0f MB/s\n", t,
           mbs(o->size, t));
    t = socket_copy(src, dst, o->size);
    printf("  baseline  AF_UNIX stream   %9.1f ms  %7.0f MB/s\n", t,
           mbs(o->size, t));
    munmap(src, o->size);
    munmap(dst, o->size);
}

/* ---- the servers -------------------------------------------------------- */

struct server {
    pid_t pid;
    char path[128];
};

static int start_server(struct server *s, const char *edu, const char *dir,
                        const char *name)
{
    char opt[160];
    struct stat st;

    snprintf(s->path, sizeof(s->path), "%s/%s.sock", dir, name);
    snprintf(opt, sizeof(opt), "--socket-path=%s", s->path);
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        return -errno;
    if (!s->pid) {
        int null = open("/dev/null", O_WRONLY);

        /* its "listening on" would land in the middle of the table */
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        execl(edu, edu, opt, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        if (!stat(s->path, &st) && S_ISSOCK(st.st_mode))
            return 0;
        usleep(10000);
    }
    return -ETIMEDOUT;
}

static void stop_server(struct server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* ---- the migrations ----------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int one_run(const struct opts *o, unsigned int i, const char *src,
                   const char *dst, double *downtime, double *migrate)
{
    struct live_opts lo = {
        .src_path = src,
        .dst_path = dst,
        .mem_size = o->size,
        .write_rate = o->write_rate,
        .dev_dma_rate = o->dma_rate,
        .downtime_ms = o->downtime_ms,
        .max_rounds = LIVE_DEFAULT_MAX_ROUNDS,
        .timeout_ms = 60000,
        .seed = i + 1,
        .tracker = WPTRACK_AUTO,
        .corrupt_page = -1,
    };
    struct live_result r;
    int ret;

    ret = live_run(&lo, &r);
    if (ret) {
        printf("  run %u     FAILED: %s: %s\n", i + 1, r.step, strerror(-ret));
        live_result_free(&r);
        return ret;
    }
    printf("  run %u     migration %7.1f ms (round 0 %.1f ms, destination "
           "held %.1f ms to verify), setup %.1f ms\n", i + 1, r.migrate_ms,
           (double)r.round[0].ns / 1e6, r.verify_ms, r.setup_ms);
    printf("            downtime %6.2f ms, %u round%s, %llu pages at the "
           "stop, device wrote %.1f MB, %s\n", r.downtime_ms, r.rounds,
           r.rounds == 1 ? "" : "s", (unsigned long long)r.final_pages,
           (double)r.device_dma_bytes / 1e6,
           r.verified ? "verified" : "NOT VERIFIED");
    printf("            downtime: stop %.2f, collect %.2f, send %.2f, load "
           "%.2f, run %.2f ms\n", r.dt.stop_ms, r.dt.collect_ms,
           r.dt.send_ms, r.dt.load_ms, r.dt.run_ms);
    *downtime = r.downtime_ms;
    *migrate = r.migrate_ms;
    live_result_free(&r);
    return 0;
}

static int migrations(const struct opts *o)
{
    double down[MAX_RUNS], mig[MAX_RUNS];
    struct server a = { 0 }, b = { 0 };
    char dir[] = "/tmp/uvfio-bench-XXXXXX";
    unsigned int n = 0;
    int ret = 0;

    if (!mkdtemp(dir) || start_server(&a, o->edu, dir, "a") ||
        start_server(&b, o->edu, dir, "b")) {
        fprintf(stderr, "livemig: cannot start %s (give --edu=PATH)\n",
                o->edu);
        ret = -1;
        goto out;
    }
    for (unsigned int i = 0; i < o->runs; i++) {
        /* back and forth: the device that arrived leaves again */
        ret = one_run(o, i, i % 2 ? b.path : a.path, i % 2 ? a.path : b.path,
                      &down[n], &mig[n]);
        if (ret)
            break;
        n++;
    }
    if (n) {
        qsort(down, n, sizeof(down[0]), cmp_double);
        qsort(mig, n, sizeof(mig[0]), cmp_double);
        printf("  median    downtime %.2f ms (best %.2f), migration %.1f ms "
               "(best %.1f) over %u runs\n", down[n / 2], down[0],
               mig[n / 2], mig[0], n);
    }
out:
    stop_server(&a);
    stop_server(&b);
    unlink(a.path);
    unlink(b.path);
    rmdir(dir);
    return ret;
}

/* ---- options ------------------------------------------------------------ */

static void default_edu(struct opts *o, const char *argv0)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    /* build tree: bench/livemig next to drivers/edu/uvfio-edu */
    if (n > 0) {
        self[n] = '\0';
        snprintf(o->edu, sizeof(o->edu), "%s/../drivers/edu/uvfio-edu",
                 dirname(self));
    } else {
        snprintf(o->edu, sizeof(o->edu), "%s", argv0);
    }
}

static int parse(int argc, char **argv, struct opts *o)
{
    unsigned long long v;

    *o = (struct opts){ .size = 1024ull << 20, .dma_rate = 100000000,
                        .downtime_ms = LIVE_DEFAULT_DOWNTIME_MS, .runs = 3 };
    default_edu(o, argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (sscanf(a, "--size=%llu", &v) == 1 && v && v <= 65536)
            o->size = v << 20;
        else if (sscanf(a, "--dma-rate=%llu", &v) == 1 && v <= 16000)
            o->dma_rate = v * 1000000;
        else if (sscanf(a, "--write-rate=%llu", &v) == 1 && v <= 16000)
            o->write_rate = v * 1000000;
        else if (sscanf(a, "--downtime=%llu", &v) == 1 && v && v < 100000)
            o->downtime_ms = (uint32_t)v;
        else if (sscanf(a, "--runs=%llu", &v) == 1 && v && v <= MAX_RUNS)
            o->runs = (unsigned int)v;
        else if (!strncmp(a, "--edu=", 6))
            snprintf(o->edu, sizeof(o->edu), "%s", a + 6);
        else
            return -EINVAL;
    }
    return 0;
}

static const char usage[] =
    "usage: livemig [--size=MIB] [--dma-rate=MB/S] [--write-rate=MB/S]\n"
    "               [--downtime=MS] [--runs=N] [--edu=PATH]\n"
    "  Downtime and total time of live migrations of uvfio-edu with its\n"
    "  guest memory written by DMA meanwhile, next to memcpy and a raw\n"
    "  socket copy of the same size; every run verified byte for byte.\n";

int main(int argc, char **argv)
{
    struct opts o;

    if (argc == 2 && !strcmp(argv[1], "--help")) {
        printf("%s", usage);
        return 0;
    }
    if (parse(argc, argv, &o)) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    printf("livemig: %llu MiB of guest memory, the device writing %.0f MB/s "
           "over a quarter of it, the guest %.0f MB/s, downtime budget %u "
           "ms\n", (unsigned long long)(o.size >> 20),
           (double)o.dma_rate / 1e6, (double)o.write_rate / 1e6,
           o.downtime_ms);
    printf("  copying the same %llu MiB on this machine, this run:\n",
           (unsigned long long)(o.size >> 20));
    baselines(&o);
    return migrations(&o) ? 1 : 0;
}
