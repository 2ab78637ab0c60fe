// SPDX-License-Identifier: MIT
/*
 * migration - how fast a device state moves over vfio-user, next to the
 * floor it cannot beat: a raw AF_UNIX stream between two processes moving
 * the same bytes with the same chunk size, measured in the same run.
 *
 * A bench device in a server process holds a 256 MiB state of
 * pseudo-random bytes (made once, before the fork, so both processes
 * share the pages).  For each chunk size the client reads the whole
 * STOP_COPY stream with MIG_DATA_READs of that size, then writes it back
 * in RESUMING with MIG_DATA_WRITEs of that size; max_data_xfer_size is
 * negotiated at 64 MiB.  Every transfer is checked: the client compares
 * what it read with the state, and the device refuses RESUMING->STOP
 * unless what it received is that state byte for byte.
 *
 * usage: migration [--size=MIB] [--chunk=KIB]
 *
 * Prints a table; it does not judge (a benchmark is not a test), but it
 * shows each ratio next to its target: >= 0.75x raw at the largest chunk,
 * both directions.  MB/s are 10^6 bytes per second.
 */
#include <errno.h>
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

#define MAX_XFER        (64u << 20)

static size_t chunks[] = {
    4u << 10, 64u << 10, 1u << 20, 8u << 20, 64u << 20,
};
static size_t nchunks = sizeof(chunks) / sizeof(chunks[0]);
#define NCHUNKS nchunks
#define MAX_CHUNKS (sizeof(chunks) / sizeof(chunks[0]))

struct state {
    uint8_t *bytes;
    size_t size;
};

struct rates {
    double raw, save, resume;   /* MB/s */
};

static struct uvfio_server *volatile bench_server;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double mb_per_s(size_t bytes, uint64_t ns)
{
    return ns ? (double)bytes * 1e3 / (double)ns : 0;
}

/* xorshift64: incompressible enough, and fast to make once. */
static int state_make(struct state *st, size_t size)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, *w;

    st->size = size;
    st->bytes = malloc(size);
    if (!st->bytes)
        return -ENOMEM;
    w = (uint64_t *)(void *)st->bytes;
    for (size_t i = 0; i < size / 8; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w[i] = x;
    }
    return 0;
}

/* ---- the bench device (server process) --------------------------------- */

struct blob {
    const struct state *st;
    uint8_t *in;                /* what RESUMING received */
    size_t out_pos, in_pos;
};

static int blob_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                    enum uvfio_mig_state to)
{
    struct blob *b = uvfio_device_priv(dev);

    if (to == UVFIO_MIG_STATE_STOP_COPY)
        b->out_pos = 0;
    if (to == UVFIO_MIG_STATE_RESUMING)
        b->in_pos = 0;
    /* the image must be the state, whole, byte for byte */
    if (from == UVFIO_MIG_STATE_RESUMING &&
        (b->in_pos != b->st->size ||
         memcmp(b->in, b->st->bytes, b->st->size)))
        return -EBADMSG;
    return 0;
}

static ssize_t blob_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    struct blob *b = uvfio_device_priv(dev);
    size_t n = b->st->size - b->out_pos;

    if (n > len)
        n = len;
    memcpy(buf, b->st->bytes + b->out_pos, n);
    b->out_pos += n;
    return (ssize_t)n;
}

static int blob_resume_write(struct uvfio_device *dev, const void *buf,
                             size_t len)
{
    struct blob *b = uvfio_device_priv(dev);

    if (len > b->st->size - b->in_pos)
        return -EFBIG;
    memcpy(b->in + b->in_pos, buf, len);
    b->in_pos += len;
    return 0;
}

static int blob_data_size(struct uvfio_device *dev, uint64_t *len)
{
    struct blob *b = uvfio_device_priv(dev);

    *len = b->st->size;
    return 0;
}

static const struct uvfio_migration_ops blob_mig_ops = {
    .arc = blob_arc,
    .save_read = blob_save_read,
    .resume_write = blob_resume_write,
    .get_data_size = blob_data_size,
};

static const struct uvfio_device_ops blob_ops = { .name = "bench-mig" };

static void on_term(int sig)
{
    (void)sig;
    if (bench_server)
        uvfio_server_stop(bench_server);
}

static int run_server(const struct state *st, const char *path)
{
    struct blob b = { .st = st, .in = malloc(st->size) };
    const struct uvfio_device_config dc = {
        .name = "bench-mig", .ops = &blob_ops, .num_regions = 1,
        .mig_ops = &blob_mig_ops,
        .migration_flags = UVFIO_MIGRATION_STOP_COPY, .priv = &b,
    };
    const struct uvfio_server_opts so = { .max_data_xfer_size = MAX_XFER };
    struct uvfio_device *dev = NULL;
    struct uvfio_server *srv = NULL;
    int ret = b.in ? 0 : -ENOMEM;

    /* fault the incoming image in now, not inside the first timed run */
    if (b.in)
        memset(b.in, 0, st->size);
    if (!ret)
        ret = uvfio_device_create(&dc, &dev);
    if (!ret)
        ret = uvfio_server_create(&so, &srv);
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
    free(b.in);
    return ret;
}

static pid_t spawn_server(const struct state *st, const char *path)
{
    pid_t pid = fork();

    if (pid == 0) {
        signal(SIGTERM, on_term);
        _exit(run_server(st, path) ? 1 : 0);
    }
    return pid;
}

static int wait_for_socket(const char *path)
{
    struct stat sb;

    for (int i = 0; i < 1000; i++) {
        if (!stat(path, &sb) && S_ISSOCK(sb.st_mode))
            return 0;
        usleep(5000);
    }
    return -ETIMEDOUT;
}

/* ---- migration through the client library ---------------------------- */

static int save_all(struct uvfio_client *c, uint8_t *buf, size_t size,
                    size_t chunk, uint64_t *ns)
{
    size_t off = 0;
    uint64_t t0;
    ssize_t n;
    int ret;

    *ns = 0;
    ret = uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_STOP_COPY);
    if (ret)
        return ret;
    t0 = now_ns();
    do {
        n = uvfio_client_mig_read(c, buf + off,
                                  size - off < chunk ? size - off : chunk);
        if (n < 0)
            return (int)n;
        off += (size_t)n;
    } while (n && off < size);
    *ns = now_ns() - t0;
    /* and the end of the stream after it */
    if (uvfio_client_mig_read(c, buf, 1) != 0 || off != size)
        return -EIO;
    return uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING);
}

static int resume_all(struct uvfio_client *c, const uint8_t *buf,
                      size_t size, size_t chunk, uint64_t *ns)
{
    uint64_t t0;
    int ret;

    *ns = 0;
    ret = uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RESUMING);
    if (ret)
        return ret;
    t0 = now_ns();
    for (size_t off = 0; off < size && !ret; off += chunk)
        ret = uvfio_client_mig_write(c, buf + off,
                                     size - off < chunk ? size - off : chunk);
    *ns = now_ns() - t0;
    if (ret)
        return ret;
    /* the device checks the image against its state here */
    return uvfio_client_mig_set_state(c, UVFIO_MIG_STATE_RUNNING);
}

static int bench_vfio(struct uvfio_client *c, const struct state *st,
                      uint8_t *buf, size_t chunk, struct rates *r)
{
    uint64_t ns;
    int ret;

    memset(buf, 0, st->size);
    ret = save_all(c, buf, st->size, chunk, &ns);
    if (ret)
        return ret;
    if (memcmp(buf, st->bytes, st->size))
        return -EBADMSG;
    r->save = mb_per_s(st->size, ns);
    ret = resume_all(c, buf, st->size, chunk, &ns);
    r->resume = mb_per_s(st->size, ns);
    return ret;
}

/* ---- raw AF_UNIX stream ------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t size, size_t chunk)
{
    size_t off = 0;
    ssize_t n;

    while (off < size) {
        n = write(fd, p + off, size - off < chunk ? size - off : chunk);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            off += (size_t)n;
    }
    return 0;
}

/* The writer waits for a go byte, so the clock starts with the stream. */
static int bench_raw(const struct state *st, uint8_t *buf, size_t chunk,
                     double *rate)
{
    size_t off = 0;
    int sv[2], status;
    uint64_t t0;
    ssize_t n;
    pid_t pid;
    char go;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return -errno;
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        if (read(sv[1], &go, 1) != 1)
            _exit(1);
        _exit(write_all(sv[1], st->bytes, st->size, chunk) ? 1 : 0);
    }
    close(sv[1]);
    memset(buf, 0, st->size);
    t0 = now_ns();
    n = pid > 0 ? write(sv[0], "g", 1) : -1;
    while (n >= 0 && off < st->size) {
        n = read(sv[0], buf + off,
                 st->size - off < chunk ? st->size - off : chunk);
        if (n == 0)
            break;
        if (n > 0)
            off += (size_t)n;
        else if (errno == EINTR)
            n = 0;
    }
    *rate = mb_per_s(st->size, now_ns() - t0);
    close(sv[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (pid < 0 || off != st->size || memcmp(buf, st->bytes, st->size))
        return -EIO;
    return 0;
}

/* ---- main -------------------------------------------------------------- */

/* --chunk=KIB measures that one size only (to profile it). */
static int parse_args(int argc, char **argv, size_t *mib)
{
    char *end;
    long v;

    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--chunk=", 8)) {
            v = strtol(argv[i] + 8, &end, 10);
            if (*end || v < 1 || v > (long)(MAX_XFER >> 10))
                return -EINVAL;
            chunks[0] = (size_t)v << 10;
            nchunks = 1;
            continue;
        }
        if (strncmp(argv[i], "--size=", 7))
            return -EINVAL;
        v = strtol(argv[i] + 7, &end, 10);
        if (*end || v < 64 || v > 4096)
            return -EINVAL;
        *mib = (size_t)v;
    }
    return 0;
}

static int connect_client(const char *path, struct uvfio_client **c)
{
    const struct uvfio_client_opts co = {
        .max_data_xfer_size = MAX_XFER, .timeout_ms = 120000,
    };
    int ret = uvfio_client_connect(path, &co, c);

    if (!ret && uvfio_client_caps(*c)->max_data_xfer_size != MAX_XFER)
        ret = -EPROTO;
    return ret;
}

#define PASSES 3

static int run(const struct state *st, uint8_t *buf, const char *path,
               struct rates *r)
{
    struct uvfio_client *c = NULL;
    int ret, status;
    pid_t srv;

    srv = spawn_server(st, path);
    ret = srv < 0 || wait_for_socket(path) ? -EIO : 0;
    if (!ret)
        ret = connect_client(path, &c);
    /* Best of PASSES for both sides alike: the first pass at a new chunk
     * size pays the page faults of buffers that size (the client's, the
     * server's reply buffer), which a real migration pays once, not per
     * chunk, and the shared machine adds noise that only a repeat sees. */
    for (size_t i = 0; !ret && i < NCHUNKS; i++) {
        for (int p = 0; !ret && p < PASSES; p++) {
            struct rates once = { 0 };

            ret = bench_vfio(c, st, buf, chunks[i], &once);
            if (once.save > r[i].save)
                r[i].save = once.save;
            if (once.resume > r[i].resume)
                r[i].resume = once.resume;
        }
    }
    uvfio_client_close(c);
    if (srv > 0) {
        kill(srv, SIGTERM);
        waitpid(srv, &status, 0);
    }
    for (size_t i = 0; !ret && i < NCHUNKS; i++) {
        for (int p = 0; !ret && p < PASSES; p++) {
            double once = 0;

            ret = bench_raw(st, buf, chunks[i], &once);
            if (once > r[i].raw)
                r[i].raw = once;
        }
    }
    return ret;
}

static void print_table(const struct state *st, const struct rates *r)
{
    const struct rates *last = &r[NCHUNKS - 1];

    printf("migration: STOP_COPY and RESUMING of a %zu MiB device state, "
           "max_data_xfer_size 64 MiB (negotiated), best of %d passes "
           "each side\n", st->size >> 20, PASSES);
    printf("%-8s %14s %16s %7s %16s %7s\n", "chunk", "raw AF_UNIX",
           "STOP_COPY read", "ratio", "RESUMING write", "ratio");
    for (size_t i = 0; i < NCHUNKS; i++) {
        char label[32];

        if (chunks[i] >= 1u << 20)
            snprintf(label, sizeof(label), "%zu MiB", chunks[i] >> 20);
        else
            snprintf(label, sizeof(label), "%zu KiB", chunks[i] >> 10);
        printf("%-8s %9.0f MB/s %11.0f MB/s %6.2fx %11.0f MB/s %6.2fx\n",
               label, r[i].raw, r[i].save, r[i].save / r[i].raw,
               r[i].resume, r[i].resume / r[i].raw);
    }
    printf("largest chunk: STOP_COPY %.2fx, RESUMING %.2fx of raw "
           "(target >= 0.75x both)\n", last->save / last->raw,
           last->resume / last->raw);
    printf("every transfer verified: the read stream equals the state, and "
           "the device accepted the resumed image only byte for byte\n");
}

static const char usage[] =
    "usage: migration [--size=MIB (64..4096)] [--chunk=KIB (one size only)]\n"
    "  How fast a device state moves over vfio-user (MIG_DATA_READ in\n"
    "  STOP_COPY, MIG_DATA_WRITE in RESUMING, per chunk size) next to a raw\n"
    "  AF_UNIX stream moving the same bytes; every transfer is checked.\n";

int main(int argc, char **argv)
{
    char dir[] = "/tmp/uvfio-bench-mig-XXXXXX", path[64];
    struct rates r[MAX_CHUNKS] = { 0 };
    struct state st;
    size_t mib = 256;
    uint8_t *buf;
    int ret;

    if (argc == 2 && !strcmp(argv[1], "--help")) {
        printf("%s", usage);
        return 0;
    }
    if (parse_args(argc, argv, &mib)) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    uvfio_log_set_level(UVFIO_LOG_ERROR);
    /* the client's buffer stays out of every child: inherited, each
     * child's mere existence would turn our writes into copy-on-write
     * faults and slow the very transfers being measured */
    buf = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED || madvise(buf, mib << 20, MADV_DONTFORK) ||
        state_make(&st, mib << 20) || !mkdtemp(dir)) {
        fprintf(stderr, "migration: setup failed: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.sock", dir);
    ret = run(&st, buf, path, r);
    unlink(path);
    rmdir(dir);
    munmap(buf, mib << 20);
    free(st.bytes);
    if (ret) {
        fprintf(stderr, "migration: failed: %s\n", strerror(-ret));
        return 1;
    }
    print_table(&st, r);
    return 0;
}
