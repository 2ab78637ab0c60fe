// SPDX-License-Identifier: MIT
/*
 * uvfio-test-dmadev - a tiny device that does DMA when told to, so the
 * integration tests can drive DMA_READ/DMA_WRITE (and fd-mapped DMA) with
 * a real server process.  Not a product: test fixture only.
 *
 * Region 0, 64 bytes of little-endian registers:
 *   0x00 ADDR   u64  guest IOVA
 *   0x08 LEN    u32  bytes, at most DMADEV_MAX_LEN
 *   0x0c SEED   u32  first byte of the pattern CMD_WRITE writes
 *   0x10 CMD    u32  writing it runs: 1 read ADDR..+LEN and hash it,
 *                    2 write the pattern SEED, SEED+1, ... there
 *   0x14 STATUS i32  0 or -errno of the last command
 *   0x18 HASH   u32  FNV-1a of the bytes the last read saw
 *
 * usage: uvfio-test-dmadev --socket-path=PATH
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#define REG_ADDR        0x00
#define REG_LEN         0x08
#define REG_SEED        0x0c
#define REG_CMD         0x10
#define REG_STATUS      0x14
#define REG_HASH        0x18
#define NR_REG_BYTES    64
#define DMADEV_MAX_LEN  (256u << 10)

#define CMD_READ        1
#define CMD_WRITE       2

struct dmadev {
    uint8_t regs[NR_REG_BYTES];
    uint8_t buf[DMADEV_MAX_LEN];
};

static struct uvfio_server *volatile server;

static uint32_t get32(const struct dmadev *d, unsigned int off)
{
    uint32_t v;

    memcpy(&v, d->regs + off, sizeof(v));
    return v;
}

static void put32(struct dmadev *d, unsigned int off, uint32_t v)
{
    memcpy(d->regs + off, &v, sizeof(v));
}

static uint32_t fnv1a(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int run_command(struct uvfio_device *dev, struct dmadev *d)
{
    uint64_t addr;
    uint32_t len = get32(d, REG_LEN);
    uint32_t seed = get32(d, REG_SEED);
    int ret;

    memcpy(&addr, d->regs + REG_ADDR, sizeof(addr));
    if (len > DMADEV_MAX_LEN)
        return -EINVAL;
    switch (get32(d, REG_CMD)) {
    case CMD_READ:
        ret = uvfio_dma_read(dev, addr, d->buf, len);
        if (!ret)
            put32(d, REG_HASH, fnv1a(d->buf, len));
        return ret;
    case CMD_WRITE:
        for (uint32_t i = 0; i < len; i++)
            d->buf[i] = (uint8_t)(seed + i);
        return uvfio_dma_write(dev, addr, d->buf, len);
    default:
        return -EINVAL;
    }
}

static ssize_t dmadev_read(struct uvfio_device *dev, uint32_t index,
                           uint64_t offset, void *buf, size_t count)
{
    struct dmadev *d = uvfio_device_priv(dev);

    if (index != 0 || offset >= NR_REG_BYTES || count > NR_REG_BYTES - offset)
        return -EINVAL;
    memcpy(buf, d->regs + offset, count);
    return (ssize_t)count;
}

static ssize_t dmadev_write(struct uvfio_device *dev, uint32_t index,
                            uint64_t offset, const void *buf, size_t count)
{
    struct dmadev *d = uvfio_device_priv(dev);

    if (index != 0 || offset >= NR_REG_BYTES || count > NR_REG_BYTES - offset)
        return -EINVAL;
    memcpy(d->regs + offset, buf, count);
    if (offset <= REG_CMD && offset + count > REG_CMD)
        put32(d, REG_STATUS, (uint32_t)run_command(dev, d));
    return (ssize_t)count;
}

static const struct uvfio_device_ops dmadev_ops = {
    .name = "uvfio-test-dmadev",
    .read = dmadev_read,
    .write = dmadev_write,
};

static void on_signal(int sig)
{
    (void)sig;
    if (server)
        uvfio_server_stop(server);
}

static int serve(const char *path, struct dmadev *d)
{
    const struct uvfio_device_config dc = {
        .name = "uvfio-test-dmadev",
        .ops = &dmadev_ops,
        .num_regions = 1,
        .priv = d,
    };
    const struct uvfio_region_config rc = {
        .size = NR_REG_BYTES,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE,
        .mmap_fd = -1,
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
        server = srv;
        ret = uvfio_server_add_device(srv, dev, path);
    }
    if (!ret)
        ret = uvfio_server_run(srv);
    server = NULL;
    if (srv) {
        uvfio_server_remove_device(srv, dev);
        uvfio_server_destroy(srv);
    }
    if (dev)
        uvfio_device_destroy(dev);
    return ret;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct dmadev *d;
    int ret;

    if (argc != 2 || strncmp(argv[1], "--socket-path=", 14)) {
        fprintf(stderr, "usage: %s --socket-path=PATH\n", argv[0]);
        return 2;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = calloc(1, sizeof(*d));
    if (!d)
        return 1;
    ret = serve(argv[1] + 14, d);
    free(d);
    if (ret)
        fprintf(stderr, "uvfio-test-dmadev: %s\n", strerror(-ret));
    return ret ? 1 : 0;
}
