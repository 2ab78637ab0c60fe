/* SPDX-License-Identifier: MIT */
/*
 * tests/e2e/test_migrate.c - a live migration from end to end: two real
 * uvfio-serial processes on FIFO chardevs, a client of the library playing
 * the guest, the real uvfio-migrate moving the device in the middle.
 *
 * The guest configures the UART on the source, enables its interrupts and
 * moves bytes both ways: it writes a numbered byte stream through THR and
 * reads what a feeder thread pushes into the source's input.  A server
 * serves one client at a time, so the guest lets go of the source right
 * before the migration (the device keeps its state) and picks the device
 * up at the destination right after, without configuring anything.  At
 * the cut both FIFOs hold bytes: the output pipe is full so the TX FIFO
 * is stuck, and the guest stops reading with the RX FIFO non-empty, while
 * the feeder keeps pushing input into the source during the migration.
 *
 * Asserted: every byte the guest wrote appears exactly once and in order
 * across the source's output followed by the destination's; every byte
 * fed in is read by the guest exactly once and in order (bytes still in
 * the source's input pipe after the switch never entered the device: the
 * host moves them to the destination's line, as it would move a cable);
 * the stopped source takes nothing from its line any more; and a
 * migration interrupted in precopy leaves the source running with its
 * state, the destination reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <uvfio/uvfio.h>

#include "child.h"

#define BAR0            UVFIO_PCI_BAR0_REGION
#define CFG             UVFIO_PCI_CONFIG_REGION
#define PCI_COMMAND     0x04
#define PCI_CMD_IO      0x0001

/* 16550 registers and bits the guest uses. */
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define SCR 7
#define LSR_DR          0x01
#define LSR_THRE        0x20
#define GUEST_IER       0x07    /* RDI | THRI | RLSI */
#define GUEST_MCR       0x0b    /* DTR | RTS | OUT2 */
#define GUEST_SCR       0xa5

#define IN_TOTAL        1500    /* bytes the guest reads, all told */
#define IN_FEED_SRC     1200    /* at most this many go to the source */
#define IN_BEFORE       300     /* read from the source before the cut */
#define OUT_BEFORE      500     /* written with the output flowing */
#define OUT_AFTER       500     /* written at the destination */
#define OUT_MAX         16384

static char *serial_bin, *migrate_bin;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* valgrind makes everything an order of magnitude slower */
static int budget_ms(int ms)
{
    return child_valgrind_wanted() ? ms * 10 : ms;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* The byte at position k of a stream: a hash of k, so that a lost, doubled
 * or swapped byte shifts everything after it out of agreement. */
static uint8_t seq_byte(uint32_t seed, size_t k)
{
    uint32_t x = (uint32_t)k * 0x9e3779b1u + seed;

    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return (uint8_t)(x >> 24);
}

#define OUT_SEED 0x0417u
#define IN_SEED  0x1955u

/* ---- the rig: two servers and the host ends of their lines --------------- */

struct line {
    int in_fd;          /* we write: the guest reads it */
    int out_fd;         /* the guest's output */
};

struct rig {
    char dir[64];
    char src_sock[128], dst_sock[128];
    struct child src, dst;
    struct line sl, dl;

    /* reader thread: collects both outputs */
    pthread_t reader;
    pthread_mutex_t lock;
    bool src_paused;    /* leave the source's output pipe full */
    bool stop;
    uint8_t src_out[OUT_MAX], dst_out[OUT_MAX];
    size_t src_out_len, dst_out_len;

    /* feeder thread: pushes the input stream into the source */
    pthread_t feeder;
    bool feeder_stop;
    bool feeder_slow;   /* a byte at a time, for the cut and the switch */
    bool reader_on, feeder_on;  /* joined by the test or by teardown */
    size_t fed;         /* in_seq bytes written into the source's line */

    /* the guest */
    uint8_t guest_in[IN_TOTAL];
    size_t guest_in_len;
    size_t out_written;
};

static int fifo_pair(const char *dir, const char *name, struct line *l)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.in", dir, name);
    assert_int_equal(mkfifo(path, 0600), 0);
    l->in_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/%s.out", dir, name);
    assert_int_equal(mkfifo(path, 0600), 0);
    l->out_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(l->in_fd >= 0 && l->out_fd >= 0);
    /* a 4 KiB output pipe fills quickly: the TX FIFO can be made stuck */
    return fcntl(l->out_fd, F_SETPIPE_SZ, 4096) >= 4096 ? 0 : -errno;
}

static void start_serial(struct rig *r, const char *name, struct child *c,
                         char *sock, size_t socklen)
{
    char sockopt[160], chardev[160], log[128];
    char *argv[] = { serial_bin, sockopt, chardev, NULL };

    snprintf(sock, socklen, "%s/%s.sock", r->dir, name);
    snprintf(sockopt, sizeof(sockopt), "--socket-path=%s", sock);
    snprintf(chardev, sizeof(chardev), "--chardev=pipe:%s/%s", r->dir, name);
    snprintf(log, sizeof(log), "%s/%s.log", r->dir, name);
    assert_int_equal(child_start(c, argv, log, true), 0);
    assert_int_equal(child_wait_socket(c, sock, budget_ms(10000)), 0);
}

static int rig_setup(void **state)
{
    struct rig *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    strcpy(r->dir, "/tmp/uvfio-e2e-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    assert_int_equal(fifo_pair(r->dir, "src", &r->sl), 0);
    assert_int_equal(fifo_pair(r->dir, "dst", &r->dl), 0);
    pthread_mutex_init(&r->lock, NULL);
    start_serial(r, "src", &r->src, r->src_sock, sizeof(r->src_sock));
    start_serial(r, "dst", &r->dst, r->dst_sock, sizeof(r->dst_sock));
    *state = r;
    return 0;
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {
        "src.in", "src.out", "dst.in", "dst.out", "src.log", "dst.log",
        "migrate.out", "migrate.log", "src.sock", "dst.sock",
    };
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static size_t stop_feeder(struct rig *r);
static void stop_reader(struct rig *r);

/* Both servers end on SIGTERM with status 0 (and clean under valgrind). */
static int rig_teardown(void **state)
{
    struct rig *r = *state;
    int st1 = -1, st2 = -1, ret1, ret2;

    /* a test that failed half-way leaves its threads running */
    stop_feeder(r);
    stop_reader(r);

    ret1 = child_stop(&r->src, SIGTERM, budget_ms(5000), &st1);
    /* a test may have killed the destination on purpose */
    if (r->dst.pid > 0) {
        ret2 = child_stop(&r->dst, SIGTERM, budget_ms(5000), &st2);
    } else {
        ret2 = 0;
        st2 = 0;
    }
    close(r->sl.in_fd);
    close(r->sl.out_fd);
    close(r->dl.in_fd);
    close(r->dl.out_fd);
    pthread_mutex_destroy(&r->lock);
    remove_dir(r->dir);
    free(r);
    assert_int_equal(ret1, 0);
    assert_int_equal(ret2, 0);
    assert_true(WIFEXITED(st1) && WEXITSTATUS(st1) == 0);
    assert_true(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);
    return 0;
}

/* ---- host side threads --------------------------------------------------- */

static void collect(int fd, uint8_t *buf, size_t *len)
{
    ssize_t n;

    while (*len < OUT_MAX &&
           (n = read(fd, buf + *len, OUT_MAX - *len)) > 0)
        *len += (size_t)n;
}

static void *reader_main(void *arg)
{
    struct rig *r = arg;
    struct pollfd pfd[2] = {
        { .fd = r->sl.out_fd, .events = POLLIN },
        { .fd = r->dl.out_fd, .events = POLLIN },
    };
    bool stop = false;

    while (!stop) {
        pthread_mutex_lock(&r->lock);
        pfd[0].fd = r->src_paused ? -1 : r->sl.out_fd;
        stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        poll(pfd, 2, 5);
        pthread_mutex_lock(&r->lock);
        if (!r->src_paused)
            collect(r->sl.out_fd, r->src_out, &r->src_out_len);
        collect(r->dl.out_fd, r->dst_out, &r->dst_out_len);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/* A typist: a few bytes every couple of milliseconds, before and during
 * the migration. */
static void *feeder_main(void *arg)
{
    struct rig *r = arg;
    uint8_t burst[8];
    size_t fed = 0, n, max;
    bool stop, slow;
    ssize_t w;

    for (;;) {
        pthread_mutex_lock(&r->lock);
        stop = r->feeder_stop;
        slow = r->feeder_slow;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        max = slow ? 1 : sizeof(burst);
        n = IN_FEED_SRC - fed < max ? IN_FEED_SRC - fed : max;
        for (size_t i = 0; i < n; i++)
            burst[i] = seq_byte(IN_SEED, fed + i);
        w = n ? write(r->sl.in_fd, burst, n) : 0;
        if (w > 0) {
            fed += (size_t)w;
            pthread_mutex_lock(&r->lock);
            r->fed = fed;
            pthread_mutex_unlock(&r->lock);
        }
        sleep_ms(slow ? 4 : 2);
    }
    return NULL;
}

static void set_src_paused(struct rig *r, bool paused)
{
    pthread_mutex_lock(&r->lock);
    r->src_paused = paused;
    pthread_mutex_unlock(&r->lock);
}

static void out_lens(struct rig *r, size_t *src, size_t *dst)
{
    pthread_mutex_lock(&r->lock);
    *src = r->src_out_len;
    *dst = r->dst_out_len;
    pthread_mutex_unlock(&r->lock);
}

/* ---- the guest ----------------------------------------------------------- */

static struct uvfio_client *guest_connect(const char *sock)
{
    struct uvfio_client_opts o = { .timeout_ms = (uint32_t)budget_ms(10000) };
    struct uvfio_client *c = NULL;

    assert_int_equal(uvfio_client_connect(sock, &o, &c), 0);
    return c;
}

static uint8_t g_r(struct uvfio_client *c, unsigned int reg)
{
    uint8_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, BAR0, reg, &v, 1), 1);
    return v;
}

static void g_w(struct uvfio_client *c, unsigned int reg, uint8_t v)
{
    assert_int_equal(uvfio_client_region_write(c, BAR0, reg, &v, 1), 1);
}

static uint16_t g_cfg16(struct uvfio_client *c, uint32_t off)
{
    uint16_t v = 0;

    assert_int_equal(uvfio_client_region_read(c, CFG, off, &v, 2), 2);
    return v;
}

/* What the 8250 driver leaves: I/O decode on, 115200 8N1, FIFOs with the
 * 8-byte trigger, interrupts enabled, modem lines up, a scratch value. */
static void guest_configure(struct uvfio_client *c)
{
    uint16_t cmd = g_cfg16(c, PCI_COMMAND) | PCI_CMD_IO;

    assert_int_equal(uvfio_client_region_write(c, CFG, PCI_COMMAND, &cmd, 2),
                     2);
    g_w(c, LCR, 0x80);
    g_w(c, DLL, 1);
    g_w(c, DLM, 0);
    g_w(c, LCR, 0x03);
    g_w(c, FCR, 0x81);
    g_w(c, MCR, GUEST_MCR);
    g_w(c, SCR, GUEST_SCR);
    g_w(c, IER, GUEST_IER);
}

/* The device at the destination is the one the guest configured. */
static void guest_check_configured(struct uvfio_client *c)
{
    assert_int_equal(g_cfg16(c, PCI_COMMAND) & PCI_CMD_IO, PCI_CMD_IO);
    assert_int_equal(g_r(c, LCR), 0x03);
    assert_int_equal(g_r(c, IER), GUEST_IER);
    assert_int_equal(g_r(c, MCR), GUEST_MCR);
    assert_int_equal(g_r(c, SCR), GUEST_SCR);
    assert_int_equal(g_r(c, IIR) & 0xc0, 0xc0);     /* FIFOs on */
    g_w(c, LCR, 0x83);
    assert_int_equal(g_r(c, DLL), 1);
    assert_int_equal(g_r(c, DLM), 0);
    g_w(c, LCR, 0x03);
}

/*
 * One round of the guest's polling driver: a byte in if there is one, a
 * FIFO-full of output if THR is empty and output is wanted.  Returns LSR.
 */
static uint8_t guest_step(struct rig *r, struct uvfio_client *c,
                          size_t out_target, bool read_input)
{
    uint8_t lsr = g_r(c, LSR), burst[16];
    size_t n = 0;

    if ((lsr & LSR_DR) && read_input) {
        assert_true(r->guest_in_len < IN_TOTAL);
        r->guest_in[r->guest_in_len++] = g_r(c, RBR);
    }
    if ((lsr & LSR_THRE) && r->out_written < out_target) {
        n = out_target - r->out_written < 16 ? out_target - r->out_written :
                                              16;
        for (size_t i = 0; i < n; i++)
            burst[i] = seq_byte(OUT_SEED, r->out_written + i);
        /* posted: batched into one REGION_WRITE_MULTI, as a VMM does */
        for (size_t i = 0; i < n; i++)
            assert_int_equal(uvfio_client_region_write_posted(
                                 c, BAR0, THR, &burst[i], 1), 0);
        r->out_written += n;
    }
    return lsr;
}

static void guest_run(struct rig *r, struct uvfio_client *c,
                      size_t in_target, size_t out_target, int budget)
{
    long long end = now_ms() + budget_ms(budget);

    while (r->guest_in_len < in_target || r->out_written < out_target) {
        assert_true(now_ms() < end);
        guest_step(r, c, out_target, r->guest_in_len < in_target);
    }
    assert_int_equal(uvfio_client_flush(c), 0);
}

/*
 * Leave both FIFOs holding bytes: stop draining the source's output pipe
 * and write until THR stays busy (the pipe is full and bytes wait in the
 * TX FIFO), then stop reading at a moment the RX FIFO holds data.
 */
static void guest_cut(struct rig *r, struct uvfio_client *c)
{
    long long end = now_ms() + budget_ms(20000);
    uint8_t lsr;

    pthread_mutex_lock(&r->lock);
    r->src_paused = true;
    r->feeder_slow = true;
    pthread_mutex_unlock(&r->lock);
    do {
        assert_true(now_ms() < end);
        guest_step(r, c, SIZE_MAX, true);
        assert_int_equal(uvfio_client_flush(c), 0);
        lsr = g_r(c, LSR);
    } while (lsr & LSR_THRE);
    /* read what is queued, so that input still flows into the source
     * while it migrates, then stop with a byte in the RX FIFO */
    while (lsr & LSR_DR) {
        assert_true(now_ms() < end);
        guest_step(r, c, 0, true);
        lsr = g_r(c, LSR);
    }
    while (!(g_r(c, LSR) & LSR_DR)) {
        assert_true(now_ms() < end);
        sleep_ms(1);
    }
}

/* ---- running uvfio-migrate ----------------------------------------------- */

/* stderr shares the file with the JSON: find the object itself */
static struct json_object *parse_report(const char *text)
{
    const char *p = strstr(text, "{\"result\"");
    struct json_object *j;

    assert_non_null(p);
    j = json_tokener_parse(p);
    assert_non_null(j);
    return j;
}

static struct json_object *run_migrate(struct rig *r, char **extra,
                                       int *status)
{
    char out[PATH_MAX];
    char *argv[16];
    struct child m;
    int n = 0, ret;
    char *text;
    struct json_object *j;

    argv[n++] = migrate_bin;
    argv[n++] = "--json";
    while (extra && *extra)
        argv[n++] = *extra++;
    argv[n++] = r->src_sock;
    argv[n++] = r->dst_sock;
    argv[n] = NULL;
    snprintf(out, sizeof(out), "%s/migrate.out", r->dir);
    assert_int_equal(child_start(&m, argv, out, true), 0);
    ret = child_wait(&m, budget_ms(30000), status);
    text = slurp(out);
    assert_non_null(text);
    printf("uvfio-migrate: %s", text);
    assert_int_equal(ret, 0);
    j = parse_report(text);
    free(text);
    return j;
}

static const char *jstr(struct json_object *j, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(j, key, &v));
    return json_object_get_string(v);
}

static int64_t jint(struct json_object *j, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(j, key, &v));
    return json_object_get_int64(v);
}

static bool jbool(struct json_object *j, const char *key)
{
    struct json_object *v;

    assert_true(json_object_object_get_ex(j, key, &v));
    return json_object_get_boolean(v);
}

/* ---- the checks ---------------------------------------------------------- */

static void assert_seq(const uint8_t *buf, size_t len, uint32_t seed,
                       size_t from)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != seq_byte(seed, from + i))
            fail_msg("stream byte %zu: got %#x, expected %#x", from + i,
                     buf[i], seq_byte(seed, from + i));
}

/* Bytes still in the source's input pipe: they never reached the device
 * and must be the newest of what was fed. */
static size_t move_leftover(struct rig *r, size_t fed)
{
    uint8_t buf[IN_FEED_SRC];
    ssize_t n = read(r->sl.in_fd, buf, sizeof(buf));
    size_t left = n > 0 ? (size_t)n : 0;

    assert_true(left <= fed);
    assert_seq(buf, left, IN_SEED, fed - left);
    if (left)
        assert_int_equal(write(r->dl.in_fd, buf, left), (ssize_t)left);
    return left;
}

/* The rest of the input, into the destination as its pipe takes it. */
static void feed_dst(struct rig *r, size_t *fed)
{
    uint8_t buf[64];
    size_t n = IN_TOTAL - *fed < sizeof(buf) ? IN_TOTAL - *fed : sizeof(buf);
    ssize_t w;

    for (size_t i = 0; i < n; i++)
        buf[i] = seq_byte(IN_SEED, *fed + i);
    w = n ? write(r->dl.in_fd, buf, n) : 0;
    if (w > 0)
        *fed += (size_t)w;
}

static void wait_output(struct rig *r, size_t total)
{
    long long end = now_ms() + budget_ms(10000);
    size_t s, d;

    for (;;) {
        out_lens(r, &s, &d);
        if (s + d >= total)
            break;
        assert_true(now_ms() < end);
        sleep_ms(2);
    }
    assert_int_equal(s + d, total);
}

/* After the switch the source's output is what it was: drained once, it
 * never grows again. */
static size_t drain_source_output(struct rig *r)
{
    long long end = now_ms() + budget_ms(5000);
    int pending = 1;
    size_t s, d;

    set_src_paused(r, false);
    while (pending) {
        assert_true(now_ms() < end);
        assert_int_equal(ioctl(r->sl.out_fd, FIONREAD, &pending), 0);
        sleep_ms(2);
    }
    sleep_ms(20);           /* the reader's last pass */
    out_lens(r, &s, &d);
    return s;
}

static void start_reader(struct rig *r)
{
    assert_int_equal(pthread_create(&r->reader, NULL, reader_main, r), 0);
    r->reader_on = true;
}

/* Only once the FIFOs are on: a 16550 without them has one holding
 * register, and a byte arriving on a full one is an overrun, lost. */
static void start_feeder(struct rig *r)
{
    assert_int_equal(pthread_create(&r->feeder, NULL, feeder_main, r), 0);
    r->feeder_on = true;
}

static size_t stop_feeder(struct rig *r)
{
    size_t fed;

    pthread_mutex_lock(&r->lock);
    r->feeder_stop = true;
    pthread_mutex_unlock(&r->lock);
    if (r->feeder_on)
        pthread_join(r->feeder, NULL);
    r->feeder_on = false;
    pthread_mutex_lock(&r->lock);
    fed = r->fed;
    pthread_mutex_unlock(&r->lock);
    return fed;
}

static void stop_reader(struct rig *r)
{
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_mutex_unlock(&r->lock);
    if (r->reader_on)
        pthread_join(r->reader, NULL);
    r->reader_on = false;
}

static void assert_migrated(struct json_object *j, int status)
{
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_string_equal(jstr(j, "result"), "migrated");
    assert_true(jbool(j, "precopy"));
    assert_true(jbool(j, "p2p"));
    assert_int_equal(jint(j, "iterations"), 8);
    assert_true(jint(j, "bytes_precopy") > 0);
    assert_true(jint(j, "bytes_stopcopy") > 0);
    assert_string_equal(jstr(j, "source_after"), "stopped");
    assert_string_equal(jstr(j, "destination_after"), "running");
}

/* ---- tests --------------------------------------------------------------- */

static void test_live_migration(void **state)
{
    struct rig *r = *state;
    char *extra[] = { "--threshold", "0", "--max-iterations", "8", NULL };
    size_t fed, in_fed, src_final, s, d, out_cut;
    struct uvfio_client *g;
    struct json_object *j;
    int status;

    start_reader(r);
    g = guest_connect(r->src_sock);
    guest_configure(g);
    start_feeder(r);
    guest_run(r, g, IN_BEFORE, OUT_BEFORE, 20000);
    guest_cut(r, g);
    out_cut = r->out_written;
    uvfio_client_close(g);

    j = run_migrate(r, extra, &status);
    assert_migrated(j, status);
    json_object_put(j);

    fed = stop_feeder(r);
    in_fed = fed;
    printf("fed %zu to the source, %zu of them left in its pipe\n", fed,
           move_leftover(r, fed));
    src_final = drain_source_output(r);

    g = guest_connect(r->dst_sock);
    guest_check_configured(g);
    {
        long long end = now_ms() + budget_ms(30000);

        while (r->guest_in_len < IN_TOTAL ||
               r->out_written < out_cut + OUT_AFTER) {
            assert_true(now_ms() < end);
            feed_dst(r, &in_fed);
            guest_step(r, g, out_cut + OUT_AFTER,
                       r->guest_in_len < IN_TOTAL);
        }
        assert_int_equal(uvfio_client_flush(g), 0);
    }
    wait_output(r, r->out_written);
    uvfio_client_close(g);
    stop_reader(r);

    out_lens(r, &s, &d);
    printf("output: %zu bytes from the source, %zu from the destination\n",
           s, d);
    assert_int_equal(s, src_final);
    assert_true(s >= out_cut - 16 && s < out_cut);  /* TX FIFO migrated */
    assert_seq(r->src_out, s, OUT_SEED, 0);
    assert_seq(r->dst_out, d, OUT_SEED, s);
    assert_int_equal(r->guest_in_len, IN_TOTAL);
    assert_seq(r->guest_in, IN_TOTAL, IN_SEED, 0);
}

/* Until uvfio-migrate's progress bar (in `log`) shows `what`. */
static void wait_progress(const char *log, const char *what)
{
    long long end = now_ms() + budget_ms(20000);
    char *text;

    for (;;) {
        text = slurp(log);
        if (text && strstr(text, what)) {
            free(text);
            return;
        }
        free(text);
        assert_true(now_ms() < end);
        sleep_ms(5);
    }
}

static struct json_object *report_of(const char *log)
{
    char *text = slurp(log);
    struct json_object *j;

    assert_non_null(text);
    j = parse_report(text);
    free(text);
    return j;
}

/*
 * SIGINT in the middle of precopy: uvfio-migrate gives up, the source runs
 * again with its state and the destination is reset.  The guest comes
 * back to the source and finds it as it left it.
 */
static void test_interrupted_migration(void **state)
{
    struct rig *r = *state;
    char *argv[] = { migrate_bin, "--json", "--progress", "--threshold", "0",
                     "--max-iterations", "1000000", r->src_sock, r->dst_sock,
                     NULL };
    char out[PATH_MAX];
    struct child m;
    struct uvfio_client *g;
    struct json_object *j;
    int status;

    g = guest_connect(r->src_sock);
    guest_configure(g);
    uvfio_client_close(g);

    snprintf(out, sizeof(out), "%s/migrate.log", r->dir);
    assert_int_equal(child_start(&m, argv, out, true), 0);
    /* the progress bar tells when the second precopy pass has begun */
    wait_progress(out, "precopy #2");
    kill(m.pid, SIGINT);
    assert_int_equal(child_wait(&m, budget_ms(10000), &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    j = report_of(out);
    assert_string_equal(jstr(j, "result"), "failed");
    assert_string_equal(jstr(j, "source_after"), "running");
    assert_string_equal(jstr(j, "destination_after"), "reset");
    json_object_put(j);

    g = guest_connect(r->src_sock);
    guest_check_configured(g);
    uvfio_client_close(g);
    /* the reset destination is idle again: a real migration now works */
    j = run_migrate(r, NULL, &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    json_object_put(j);
    g = guest_connect(r->dst_sock);
    guest_check_configured(g);
    uvfio_client_close(g);
}

/*
 * The destination dies during precopy; the failure comes when stop-copy
 * data is written to it, with the source already in STOP_COPY.  The
 * source must come back to RUNNING with its state and its line working.
 */
static void test_destination_dies(void **state)
{
    struct rig *r = *state;
    char *argv[] = { migrate_bin, "--json", "--progress", "--threshold", "0",
                     "--max-iterations", "100", r->src_sock, r->dst_sock,
                     NULL };
    char out[PATH_MAX];
    struct uvfio_client *g;
    struct json_object *j;
    struct child m;
    uint8_t b = 0;
    int status;

    g = guest_connect(r->src_sock);
    guest_configure(g);
    uvfio_client_close(g);

    snprintf(out, sizeof(out), "%s/migrate.log", r->dir);
    assert_int_equal(child_start(&m, argv, out, true), 0);
    wait_progress(out, "precopy #2");
    kill(r->dst.pid, SIGKILL);
    waitpid(r->dst.pid, NULL, 0);
    r->dst.pid = 0;
    if (r->dst.valgrind)
        unlink(r->dst.vglog);
    assert_int_equal(child_wait(&m, budget_ms(20000), &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    j = report_of(out);
    assert_string_equal(jstr(j, "result"), "failed");
    assert_int_equal(jint(j, "iterations"), 100);
    assert_non_null(strstr(json_object_get_string(
        json_object_object_get(j, "error")), "destination"));
    assert_string_equal(jstr(j, "source_after"), "running");
    assert_string_equal(jstr(j, "destination_after"), "not-reset");
    json_object_put(j);

    /* the source, back from STOP_COPY, is the device the guest left */
    g = guest_connect(r->src_sock);
    guest_check_configured(g);
    assert_int_equal(write(r->sl.in_fd, "z", 1), 1);
    for (long long end = now_ms() + budget_ms(5000);
         !(g_r(g, LSR) & LSR_DR);)
        assert_true(now_ms() < end);
    b = g_r(g, RBR);
    assert_int_equal(b, 'z');
    uvfio_client_close(g);
}

/* Usage errors: exit status 2, nothing touched. */
static void test_usage(void **state)
{
    struct rig *r = *state;
    char *bad[][6] = {
        { migrate_bin, "--chunk", "0", r->src_sock, r->dst_sock, NULL },
        { migrate_bin, "--max-xfer", "128M", r->src_sock, r->dst_sock, NULL },
        { migrate_bin, "--threshold", "-1", r->src_sock, r->dst_sock, NULL },
        { migrate_bin, r->src_sock, r->src_sock, NULL },
        { migrate_bin, r->src_sock, NULL },
        { migrate_bin, "--bogus", r->src_sock, r->dst_sock, NULL },
    };
    char out[PATH_MAX];
    struct child m;
    int status;

    snprintf(out, sizeof(out), "%s/migrate.log", r->dir);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(child_start(&m, bad[i], out, false), 0);
        assert_int_equal(child_wait(&m, budget_ms(5000), &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
    }
}

/* What uvfio-migrate refuses, changing nothing. */
static void test_refusals(void **state)
{
    struct rig *r = *state;
    char *short_timeout[] = { "--timeout", "1000", NULL };
    struct uvfio_client *busy, *g;
    struct json_object *j;
    int status;

    g = guest_connect(r->src_sock);
    guest_configure(g);
    uvfio_client_close(g);

    /* the destination already has a client: the server leaves a second
     * one waiting, so only the handshake timeout ends the attempt */
    busy = guest_connect(r->dst_sock);
    j = run_migrate(r, short_timeout, &status);
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_string_equal(jstr(j, "source_after"), "untouched");
    assert_string_equal(jstr(j, "destination_after"), "untouched");
    assert_non_null(strstr(json_object_get_string(
        json_object_object_get(j, "error")), "connecting to the destination"));
    json_object_put(j);
    uvfio_client_close(busy);

    /* a migrated-away source is STOPped: not a running device */
    j = run_migrate(r, NULL, &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    json_object_put(j);
    j = run_migrate(r, NULL, &status);
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(json_object_get_string(
        json_object_object_get(j, "error")), "not RUNNING"));
    json_object_put(j);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_migration, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_migration,
                                        rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_destination_dies, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_usage, rig_setup,
                                        rig_teardown),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s UVFIO_SERIAL UVFIO_MIGRATE\n", argv[0]);
        return 2;
    }
    serial_bin = argv[1];
    migrate_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
