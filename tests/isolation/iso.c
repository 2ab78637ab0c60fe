// SPDX-License-Identifier: MIT
/*
 * tests/isolation/iso.c - the shared pieces of the isolation tests (iso.h).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "iso.h"

#define RAW_MAX_MSG ((size_t)UVFIO_MAX_DATA_XFER_LIMIT + (1u << 20))

const char *iso_server_bin;

int iso_scale(void)
{
    return proc_valgrind_wanted() ? 8 : 1;
}

void iso_output_init(void)
{
    /* cmocka writes failures to stderr, which a CI log may cut away
     * after the stdout section: one stream, in the order things
     * happened. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    dup2(STDOUT_FILENO, STDERR_FILENO);
}

int64_t iso_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void iso_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the server process ------------------------------------------------- */

/* The server says when every device listens: its sockets exist a moment
 * before that, when a connect is still refused. */
static bool wait_ready(struct iso_server *s, const char *ready, int ms)
{
    int64_t end = iso_now_us() + (int64_t)ms * 1000;
    int status;

    while (iso_now_us() < end) {
        if (access(ready, F_OK) == 0)
            return true;
        if (waitpid(s->proc.pid, &status, WNOHANG) == s->proc.pid) {
            char *log = iso_server_log(s);

            fprintf(stderr, "server died: %s\n", log ? log : "");
            free(log);
            s->proc.pid = 0;
            return false;
        }
        iso_sleep_ms(5);
    }
    return false;
}

void iso_server_start(struct iso_server *s, unsigned int ndev,
                      const char *const *extra)
{
    char dirarg[96], devarg[32], ready[96];
    char *argv[32];
    int n = 0;

    memset(s, 0, sizeof(*s));
    s->ndev = ndev;
    assert_int_equal(tmpdir_create(s->dir, sizeof(s->dir)), 0);
    snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
    snprintf(dirarg, sizeof(dirarg), "--dir=%s", s->dir);
    snprintf(devarg, sizeof(devarg), "--devices=%u", ndev);
    argv[n++] = (char *)iso_server_bin;
    argv[n++] = dirarg;
    argv[n++] = devarg;
    while (extra && *extra && n < 31)
        argv[n++] = (char *)*extra++;
    argv[n] = NULL;
    assert_int_equal(proc_spawn(&s->proc, argv, s->log, true), 0);
    snprintf(ready, sizeof(ready), "%s/ready", s->dir);
    assert_true(wait_ready(s, ready, 10000 * iso_scale()));
    iso_server_rebaseline(s);
}

/*
 * "ready" is said before the server's loop runs, and what the loop does
 * first (give up an io_uring it cannot use, say) or what valgrind does
 * around it may still open or close an fd: the idle count is the one that
 * holds still for a while, not the first one seen.
 */
void iso_server_rebaseline(struct iso_server *s)
{
    int64_t end = iso_now_us() + 5000000LL * iso_scale();
    int n = iso_server_fds(s), same = 0, next;

    while (same < 10 * iso_scale() && iso_now_us() < end) {
        iso_sleep_ms(10);
        next = iso_server_fds(s);
        same = next == n ? same + 1 : 0;
        n = next;
    }
    s->idle_fds = n;
    assert_true(s->idle_fds > 0);
}

void iso_server_stop(struct iso_server *s)
{
    int status = 0, r;

    r = proc_stop(&s->proc, SIGTERM, 10000 * iso_scale(), &status);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *log = iso_server_log(s);

        fprintf(stderr, "---- server log ----\n%s\n", log ? log : "");
        free(log);
    }
    tmpdir_remove(s->dir);
    assert_int_equal(r, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

const char *iso_path(const struct iso_server *s, unsigned int dev)
{
    static _Thread_local char path[2][128];
    static _Thread_local int which;

    which ^= 1;
    snprintf(path[which], sizeof(path[which]), "%s/dev%u.sock", s->dir, dev);
    return path[which];
}

/*
 * The fd numbers the server itself can get.  Under valgrind the process
 * also holds valgrind's own descriptors, at the top of its fd limit (the
 * last dozen below RLIMIT_NOFILE: its log, /proc copies, vgdb pipes that
 * come and go on valgrind's schedule); those are not the server's and must
 * not count.  The server's own are allocated lowest-first, far below.
 */
static long server_fd_ceiling(pid_t pid)
{
    char path[64], line[256];
    long soft = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return LONG_MAX;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Max open files %ld", &soft) == 1)
            break;
    fclose(f);
    return soft > 1000 ? soft - 100 : LONG_MAX;
}

int iso_server_fds(const struct iso_server *s)
{
    long ceiling = server_fd_ceiling(s->proc.pid);
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)s->proc.pid);
    d = opendir(path);
    if (!d)
        return -errno;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) < ceiling)
            n++;
    closedir(d);
    return n;
}

int iso_server_fds_settle(const struct iso_server *s, int want,
                          int timeout_ms)
{
    int64_t end = iso_now_us() + (int64_t)timeout_ms * 1000 * iso_scale();
    int n;

    while ((n = iso_server_fds(s)) != want && iso_now_us() < end)
        iso_sleep_ms(5);
    return n;
}

/* What each of the server's fds is, and the end of its log: a count
 * that is off says nothing about which fd, and the failure may be seen
 * only in a CI log. */
static void dump_server(const struct iso_server *s)
{
    char path[64], link[64 + 256], target[256];
    struct dirent *e;
    char *log, *tail;
    ssize_t len;
    DIR *d;

    printf("---- the server's fds (pid %d, counted below fd %ld) ----\n",
           (int)s->proc.pid, server_fd_ceiling(s->proc.pid));
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)s->proc.pid);
    d = opendir(path);
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        target[len > 0 ? len : 0] = '\0';
        printf("  %5s -> %s\n", e->d_name, target);
    }
    if (d)
        closedir(d);
    log = iso_server_log(s);
    tail = log && strlen(log) > 2000 ? log + strlen(log) - 2000 : log;
    printf("---- the end of its log ----\n%s\n", tail ? tail : "(none)");
    free(log);
    fflush(stdout);
}

void iso_server_assert_idle(const struct iso_server *s)
{
    int n = iso_server_fds_settle(s, s->idle_fds, 3000);

    if (n != s->idle_fds) {
        dump_server(s);
        fail_msg("the server has %d fds open, %d when idle", n, s->idle_fds);
    }
}

long iso_server_rss_kb(const struct iso_server *s)
{
    char path[64];
    long pages = -1, rss = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/statm", (int)s->proc.pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

char *iso_server_log(const struct iso_server *s)
{
    return file_slurp(s->log, NULL);
}

/* ---- well-behaved clients ---------------------------------------------- */

struct uvfio_client *iso_client(const struct iso_server *s, unsigned int dev)
{
    struct uvfio_client_opts o = {
        .timeout_ms = 10000 * (uint32_t)iso_scale(),
    };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(iso_path(s, dev), &o, &c), 0);
    return c;
}

void iso_check_id(struct uvfio_client *c, unsigned int dev)
{
    uint8_t id[ISO_ID_SIZE];
    uint32_t magic;

    assert_int_equal(uvfio_client_region_read(c, ISO_REGION_ID, 0, id,
                                              sizeof(id)), sizeof(id));
    memcpy(&magic, id, sizeof(magic));
    assert_int_equal(magic, ISO_ID_MAGIC + dev);
    for (size_t k = 4; k < sizeof(id); k++)
        assert_int_equal(id[k], iso_id_byte(dev, k));
}

static void reg_write(struct uvfio_client *c, uint32_t off, const void *v,
                      size_t len)
{
    assert_int_equal(uvfio_client_region_write(c, ISO_REGION_REGS, off, v,
                                               len), (ssize_t)len);
}

static uint32_t reg_read32(struct uvfio_client *c, uint32_t off)
{
    uint32_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, ISO_REGION_REGS, off, &v,
                                              4), 4);
    return v;
}

int iso_dma_cmd(struct uvfio_client *c, uint32_t cmd, uint64_t addr,
                uint32_t len, uint32_t seed)
{
    reg_write(c, ISO_REG_ADDR, &addr, 8);
    reg_write(c, ISO_REG_LEN, &len, 4);
    reg_write(c, ISO_REG_SEED, &seed, 4);
    reg_write(c, ISO_REG_CMD, &cmd, 4);
    return iso_status(c);
}

int32_t iso_status(struct uvfio_client *c)
{
    return (int32_t)reg_read32(c, ISO_REG_STATUS);
}

uint32_t iso_hash(struct uvfio_client *c)
{
    return reg_read32(c, ISO_REG_HASH);
}

int32_t iso_wait_idle(struct uvfio_client *c, int timeout_ms)
{
    int64_t end = iso_now_us() + (int64_t)timeout_ms * 1000 * iso_scale();
    int32_t st;

    /* The client serves the device's DMA requests while it waits for
     * the answer to each of these reads. */
    while ((st = iso_status(c)) == ISO_BUSY && iso_now_us() < end)
        iso_sleep_ms(2);
    return st;
}

/* ---- the probe --------------------------------------------------------- */

static bool probe_once(struct iso_probe *p, unsigned int round)
{
    uint32_t off = (round * 52u) % (ISO_ID_SIZE - 64);
    uint8_t buf[64];
    ssize_t r;

    off = off < 4 ? 4 : off;
    r = uvfio_client_region_read(p->c, ISO_REGION_ID, off, buf, sizeof(buf));
    if (r != (ssize_t)sizeof(buf)) {
        snprintf(p->first_error, sizeof(p->first_error),
                 "region read returned %zd", r);
        return false;
    }
    for (size_t k = 0; k < sizeof(buf); k++) {
        if (buf[k] != iso_id_byte(p->dev, off + k)) {
            snprintf(p->first_error, sizeof(p->first_error),
                     "byte %zu of device %u's ID is %#x", off + k, p->dev,
                     buf[k]);
            return false;
        }
    }
    return true;
}

static void *probe_main(void *arg)
{
    struct iso_probe *p = arg;
    unsigned int round = 0;
    int64_t t0;

    while (!atomic_load(&p->stop) && p->n < ISO_PROBE_MAX) {
        t0 = iso_now_us();
        if (!probe_once(p, round++))
            p->errors++;
        p->lat_us[p->n++] = iso_now_us() - t0;
        /* A request every millisecond or so: a load, not a flood. */
        iso_sleep_ms(1);
    }
    return NULL;
}

void iso_probe_start(struct iso_probe *p, const struct iso_server *s,
                     unsigned int dev)
{
    memset(p, 0, sizeof(*p));
    p->dev = dev;
    p->lat_us = calloc(ISO_PROBE_MAX, sizeof(*p->lat_us));
    assert_non_null(p->lat_us);
    p->c = iso_client(s, dev);
    iso_check_id(p->c, dev);
    assert_int_equal(pthread_create(&p->thread, NULL, probe_main, p), 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

void iso_probe_stop(struct iso_probe *p, struct iso_stats *st)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    uvfio_client_close(p->c);
    p->c = NULL;
    memset(st, 0, sizeof(*st));
    st->n = p->n;
    if (p->n) {
        qsort(p->lat_us, p->n, sizeof(*p->lat_us), cmp_i64);
        st->p50_ms = (double)p->lat_us[p->n / 2] / 1000.0;
        st->p99_ms = (double)p->lat_us[(p->n * 99) / 100] / 1000.0;
        st->max_ms = (double)p->lat_us[p->n - 1] / 1000.0;
    }
    free(p->lat_us);
    p->lat_us = NULL;
}

void iso_probe_check(const char *what, const struct iso_stats *st,
                     const struct iso_probe *p, size_t min_samples,
                     double p99_ms, double max_ms)
{
    int k = iso_scale();

    printf("  %-28s other device: %5zu requests, p50 %6.2f ms, "
           "p99 %7.2f ms, max %7.2f ms\n", what, st->n, st->p50_ms,
           st->p99_ms, st->max_ms);
    if (p->errors)
        fail_msg("%s: %d wrong answers from the other device: %s", what,
                 p->errors, p->first_error);
    /* Under valgrind the probe itself is slower: fewer samples. */
    if (st->n < (min_samples / (size_t)k > 3 ? min_samples / (size_t)k : 3))
        fail_msg("%s: only %zu answers from the other device", what, st->n);
    if (st->p99_ms > p99_ms * k || st->max_ms > max_ms * k)
        fail_msg("%s: other device too slow: p99 %.2f ms, max %.2f ms",
                 what, st->p99_ms, st->max_ms);
}

/* ---- the raw wire ------------------------------------------------------ */

int raw_connect(const char *path)
{
    struct timeval tv = { 10 * iso_scale(), 0 };
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    return fd;
}

int raw_send(int fd, uint16_t id, uint16_t cmd, uint32_t flags,
             const void *payload, size_t len, const int *fds, size_t nfds)
{
    struct uvfio_wire_hdr h = { .msg_id = id, .cmd = cmd, .flags = flags };
    struct iovec iov = { (void *)payload, len };

    return uvfio_msg_send(fd, &h, &iov, len ? 1 : 0, fds, nfds);
}

/* timeout_ms as it is: the callers scaled it. */
static int recv_within(int fd, struct uvfio_msg *m, int timeout_ms)
{
    struct pollfd pfd = { fd, POLLIN, 0 };
    int r;

    memset(m, 0, sizeof(*m));
    r = poll(&pfd, 1, timeout_ms);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    r = uvfio_msg_recv(fd, m, RAW_MAX_MSG, 16);
    return r == -E2BIG ? 0 : r;
}

int raw_recv(int fd, struct uvfio_msg *m, int timeout_ms)
{
    return recv_within(fd, m, timeout_ms * iso_scale());
}

int raw_wait_reply(int fd, uint16_t id, struct uvfio_msg *m, int timeout_ms,
                   unsigned int *skipped)
{
    int64_t end = iso_now_us() + (int64_t)timeout_ms * 1000 * iso_scale();
    int r;

    for (;;) {
        int64_t left = (end - iso_now_us()) / 1000;

        r = recv_within(fd, m, left > 0 ? (int)left : 0);
        if (r < 0)
            return r;
        if ((m->hdr.flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY &&
            m->hdr.msg_id == id)
            return 0;
        if (skipped)
            (*skipped)++;
        uvfio_msg_free(m);
        if (iso_now_us() >= end)
            return -ETIMEDOUT;
    }
}

int raw_call(int fd, uint16_t cmd, const void *payload, size_t len,
             const int *fds, size_t nfds, struct uvfio_msg *out)
{
    static _Thread_local uint16_t next_id = 0x100;
    uint16_t id = next_id++;
    struct uvfio_msg m;
    int r;

    r = raw_send(fd, id, cmd, 0, payload, len, fds, nfds);
    if (r < 0)
        return r;
    r = raw_wait_reply(fd, id, &m, 10000, NULL);
    if (r < 0)
        return r;
    r = (m.hdr.flags & UVFIO_HDR_ERROR) ? -(int)m.hdr.error : 0;
    if (out)
        *out = m;
    else
        uvfio_msg_free(&m);
    return r;
}

int raw_hello(int fd)
{
    static const char caps[] =
        "{\"capabilities\":{\"max_msg_fds\":16,"
        "\"max_data_xfer_size\":1048576}}";
    uint8_t buf[sizeof(struct uvfio_wire_version) + sizeof(caps)];
    struct uvfio_wire_version v = { 0, 2 };

    memcpy(buf, &v, sizeof(v));
    memcpy(buf + sizeof(v), caps, sizeof(caps));
    return raw_call(fd, UVFIO_CMD_VERSION, buf, sizeof(buf), NULL, 0, NULL);
}

bool raw_closed_within(int fd, int timeout_ms)
{
    int64_t end = iso_now_us() + (int64_t)timeout_ms * 1000 * iso_scale();
    struct pollfd pfd = { fd, POLLIN, 0 };
    char buf[65536];
    ssize_t n;

    while (iso_now_us() < end) {
        if (poll(&pfd, 1, 10) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
    return false;
}
