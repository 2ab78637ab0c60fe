// SPDX-License-Identifier: MIT
/*
 * uvfio-test-isoserver - one server process serving many devices, for the
 * isolation and scale tests: each device is told apart by its identity
 * (isodev.h) and can do DMA on the dispatch thread or on a worker thread.
 * Test fixture only.
 *
 * usage: uvfio-test-isoserver --dir=DIR --devices=N [--require-seal]
 *                             [server limit options]
 *
 * Device i listens on DIR/dev<i>.sock; DIR/ready appears once all of them
 * listen (a socket file exists a moment before its listen(), when a
 * connect is still refused).  SIGTERM or SIGINT ends it cleanly
 * (everything freed and closed, for valgrind).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#include "isodev.h"

#define MAX_DEVICES 1024

struct isodev {
    struct uvfio_device *dev;
    unsigned int index;
    uint8_t id[ISO_ID_SIZE];
    uint8_t *ram;
    uint8_t *buf;               /* the engine's buffer */

    /* The worker writes STATUS and HASH: regs are under lock. */
    pthread_mutex_t lock;
    uint8_t regs[ISO_REGS_SIZE];
    pthread_t worker;
    bool worker_live;           /* started and not joined */
    bool worker_done;
};

static struct uvfio_server *volatile server;

/* ---- registers ---------------------------------------------------------- */

static uint32_t get32(const struct isodev *d, unsigned int off)
{
    uint32_t v;

    memcpy(&v, d->regs + off, sizeof(v));
    return v;
}

static void put32(struct isodev *d, unsigned int off, uint32_t v)
{
    memcpy(d->regs + off, &v, sizeof(v));
}

/* ---- the DMA engine ------------------------------------------------------ */

struct job {
    uint64_t addr;
    uint32_t len, seed;
    bool write;
};

/* Runs unlocked: a message-path DMA may wait for the client. */
static int run_job(struct isodev *d, const struct job *j, uint32_t *hash)
{
    int r;

    if (j->len > ISO_DMA_MAX)
        return -EINVAL;
    if (j->write) {
        for (uint32_t i = 0; i < j->len; i++)
            d->buf[i] = (uint8_t)(j->seed + i);
        return uvfio_dma_write(d->dev, j->addr, d->buf, j->len);
    }
    r = uvfio_dma_read(d->dev, j->addr, d->buf, j->len);
    if (r == 0)
        *hash = iso_fnv1a(d->buf, j->len);
    return r;
}

static void finish_job(struct isodev *d, int r, uint32_t hash, bool write)
{
    pthread_mutex_lock(&d->lock);
    put32(d, ISO_REG_STATUS, (uint32_t)r);
    if (r == 0 && !write)
        put32(d, ISO_REG_HASH, hash);
    d->worker_done = true;
    pthread_mutex_unlock(&d->lock);
}

struct bg_arg {
    struct isodev *d;
    struct job job;
};

static void *worker_main(void *arg)
{
    struct bg_arg *a = arg;
    uint32_t hash = 0;
    int r = run_job(a->d, &a->job, &hash);

    finish_job(a->d, r, hash, a->job.write);
    free(a);
    return NULL;
}

static void join_worker(struct isodev *d)
{
    if (!d->worker_live)
        return;
    pthread_join(d->worker, NULL);
    d->worker_live = false;
}

/* Lock held.  The previous worker must be done: a command never waits. */
static int start_worker(struct isodev *d, const struct job *j)
{
    struct bg_arg *a;

    if (d->worker_live && !d->worker_done)
        return -EBUSY;
    pthread_mutex_unlock(&d->lock);
    join_worker(d);
    pthread_mutex_lock(&d->lock);
    a = malloc(sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->d = d;
    a->job = *j;
    d->worker_done = false;
    if (pthread_create(&d->worker, NULL, worker_main, a)) {
        free(a);
        return -EAGAIN;
    }
    d->worker_live = true;
    return ISO_BUSY;
}

/* Lock held on entry and exit. */
static void run_command(struct isodev *d)
{
    struct job j = {
        .len = get32(d, ISO_REG_LEN), .seed = get32(d, ISO_REG_SEED),
    };
    uint32_t cmd = get32(d, ISO_REG_CMD), hash = 0;
    int r;

    memcpy(&j.addr, d->regs + ISO_REG_ADDR, sizeof(j.addr));
    j.write = cmd == ISO_CMD_WRITE || cmd == ISO_CMD_WRITE_BG;
    switch (cmd) {
    case ISO_CMD_READ:
    case ISO_CMD_WRITE:
        pthread_mutex_unlock(&d->lock);
        r = run_job(d, &j, &hash);
        pthread_mutex_lock(&d->lock);
        if (r == 0 && !j.write)
            put32(d, ISO_REG_HASH, hash);
        break;
    case ISO_CMD_READ_BG:
    case ISO_CMD_WRITE_BG:
        r = start_worker(d, &j);
        break;
    default:
        r = -EINVAL;
    }
    put32(d, ISO_REG_STATUS, (uint32_t)r);
}

/* ---- the device --------------------------------------------------------- */

static ssize_t iso_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    struct isodev *d = uvfio_device_priv(dev);

    switch (index) {
    case ISO_REGION_ID:
        memcpy(buf, d->id + offset, count);
        break;
    case ISO_REGION_REGS:
        pthread_mutex_lock(&d->lock);
        memcpy(buf, d->regs + offset, count);
        pthread_mutex_unlock(&d->lock);
        break;
    case ISO_REGION_RAM:
        memcpy(buf, d->ram + offset, count);
        break;
    default:
        return -EINVAL;
    }
    return (ssize_t)count;
}

static ssize_t iso_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    struct isodev *d = uvfio_device_priv(dev);

    if (index == ISO_REGION_RAM) {
        memcpy(d->ram + offset, buf, count);
        return (ssize_t)count;
    }
    if (index != ISO_REGION_REGS)
        return -EINVAL;
    pthread_mutex_lock(&d->lock);
    memcpy(d->regs + offset, buf, count);
    if (offset <= ISO_REG_CMD && offset + count > ISO_REG_CMD)
        run_command(d);
    pthread_mutex_unlock(&d->lock);
    return (ssize_t)count;
}

/* The client is gone: its DMA fails at once now, so this is quick. */
static void iso_close(struct uvfio_device *dev)
{
    join_worker(uvfio_device_priv(dev));
}

static const struct uvfio_device_ops iso_ops = {
    .name = "uvfio-test-isodev",
    .read = iso_read,
    .write = iso_write,
    .close_device = iso_close,
};

static int set_regions(struct uvfio_device *dev)
{
    static const struct { uint32_t size, flags; } r[ISO_NUM_REGIONS] = {
        [ISO_REGION_ID] = { ISO_ID_SIZE, UVFIO_REGION_FLAG_READ },
        [ISO_REGION_REGS] = { ISO_REGS_SIZE, UVFIO_REGION_FLAG_READ |
                                             UVFIO_REGION_FLAG_WRITE },
        [ISO_REGION_RAM] = { ISO_RAM_SIZE, UVFIO_REGION_FLAG_READ |
                                           UVFIO_REGION_FLAG_WRITE },
    };
    int ret = 0;

    for (uint32_t i = 0; i < ISO_NUM_REGIONS && !ret; i++) {
        struct uvfio_region_config rc = {
            .size = r[i].size, .flags = r[i].flags, .mmap_fd = -1,
        };

        ret = uvfio_device_set_region(dev, i, &rc);
    }
    return ret;
}

static void isodev_destroy(struct isodev *d)
{
    if (d->dev) {
        join_worker(d);
        uvfio_device_destroy(d->dev);
    }
    pthread_mutex_destroy(&d->lock);
    free(d->ram);
    free(d->buf);
    free(d);
}

static int isodev_create(unsigned int index, struct isodev **out)
{
    struct isodev *d = calloc(1, sizeof(*d));
    uint32_t magic;
    char name[32];
    int ret;

    if (!d)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->index = index;
    d->ram = calloc(1, ISO_RAM_SIZE);
    d->buf = malloc(ISO_DMA_MAX);
    if (!d->ram || !d->buf) {
        isodev_destroy(d);
        return -ENOMEM;
    }
    for (size_t k = 0; k < ISO_ID_SIZE; k++)
        d->id[k] = iso_id_byte(index, k);
    magic = ISO_ID_MAGIC + index;
    memcpy(d->id, &magic, sizeof(magic));
    snprintf(name, sizeof(name), "isodev%u", index);
    ret = uvfio_device_create(&(struct uvfio_device_config){
        .name = name, .ops = &iso_ops, .num_regions = ISO_NUM_REGIONS,
        .priv = d }, &d->dev);
    if (!ret)
        ret = set_regions(d->dev);
    if (ret) {
        isodev_destroy(d);
        return ret;
    }
    *out = d;
    return 0;
}

/* ---- the program -------------------------------------------------------- */

struct options {
    const char *dir;
    unsigned int ndev;
    bool require_seal;
    struct uvfio_server_opts so;
};

static void on_signal(int sig)
{
    (void)sig;
    if (server)
        uvfio_server_stop(server);
}

static int parse(int argc, char **argv, struct options *o)
{
    const char *bad = NULL;
    char *end;

    memset(o, 0, sizeof(*o));
    if (uvfio_server_opts_parse_args(&o->so, &argc, argv, &bad)) {
        fprintf(stderr, "isoserver: bad value in %s\n", bad);
        return -EINVAL;
    }
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--dir=", 6)) {
            o->dir = argv[i] + 6;
        } else if (!strncmp(argv[i], "--devices=", 10)) {
            o->ndev = (unsigned int)strtoul(argv[i] + 10, &end, 10);
            if (*end || !o->ndev || o->ndev > MAX_DEVICES)
                return -EINVAL;
        } else if (!strcmp(argv[i], "--require-seal")) {
            o->require_seal = true;
        } else {
            fprintf(stderr, "isoserver: unknown argument %s\n", argv[i]);
            return -EINVAL;
        }
    }
    return o->dir && o->ndev ? 0 : -EINVAL;
}

/* Made under another name and renamed: the test counts this process's
 * fds as soon as "ready" exists, and must not count the one that made
 * it. */
static int say_ready(const char *dir)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s/ready.tmp", dir);
    snprintf(path, sizeof(path), "%s/ready", dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    close(fd);
    return rename(tmp, path) < 0 ? -errno : 0;
}

static int serve(const struct options *o, struct isodev **devs)
{
    struct uvfio_server *srv = NULL;
    char path[PATH_MAX];
    unsigned int i;
    int ret;

    ret = uvfio_server_create(&o->so, &srv);
    for (i = 0; !ret && i < o->ndev; i++) {
        ret = isodev_create(i, &devs[i]);
        snprintf(path, sizeof(path), "%s/dev%u.sock", o->dir, i);
        if (!ret)
            ret = uvfio_server_add_device(srv, devs[i]->dev, path);
    }
    if (!ret)
        ret = say_ready(o->dir);
    if (!ret) {
        server = srv;
        ret = uvfio_server_run(srv);
        server = NULL;
    }
    /* Disconnects the clients (close_device joins the workers) first. */
    uvfio_server_destroy(srv);
    return ret;
}

/*
 * Under valgrind, the stack of the main thread is only as deep as the
 * program has reached so far, and valgrind does not grow it to push a
 * signal frame when the handler has SA_ONSTACK and no alternate stack is
 * set - as the guest-memory SIGBUS guard's handler has (the kernel does
 * grow it).  A SIGBUS taken deeper than the dispatch path had gone before
 * would then end the process under valgrind only, depending on how much
 * stack the library's message path happens to touch.  So reach 64 KiB down
 * once, as a native process may.
 */
static __attribute__((noinline)) void touch_stack(void)
{
    volatile char deep[64 << 10];

    for (size_t i = 0; i < sizeof(deep); i += 1024)
        deep[i] = 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct isodev **devs;
    struct options o;
    int ret;

    touch_stack();

    if (parse(argc, argv, &o)) {
        fprintf(stderr, "usage: %s --dir=DIR --devices=N [--require-seal] "
                "[limits]\n%s", argv[0], uvfio_server_opts_help());
        return 2;
    }
    if (o.require_seal)
        uvfio_set_guest_mem_policy(UVFIO_GUEST_MEM_REQUIRE_SEAL);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    devs = calloc(o.ndev, sizeof(*devs));
    if (!devs)
        return 1;
    ret = serve(&o, devs);
    for (unsigned int i = 0; i < o.ndev; i++)
        if (devs[i])
            isodev_destroy(devs[i]);
    free(devs);
    if (ret)
        fprintf(stderr, "isoserver: %s\n", strerror(-ret));
    return ret ? 1 : 0;
}
