// SPDX-License-Identifier: MIT
/* bench/pingdev.c - see pingdev.h. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pingdev.h"

static struct uvfio_server *volatile the_server;

static ssize_t mem_read(struct uvfio_device *dev, uint32_t index,
                        uint64_t offset, void *buf, size_t count)
{
    (void)index;
    memcpy(buf, (uint8_t *)uvfio_device_priv(dev) + offset, count);
    return (ssize_t)count;
}

static ssize_t mem_write(struct uvfio_device *dev, uint32_t index,
                         uint64_t offset, const void *buf, size_t count)
{
    (void)index;
    memcpy((uint8_t *)uvfio_device_priv(dev) + offset, buf, count);
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
    if (the_server)
        uvfio_server_stop(the_server);
}

int ping_serve(const char *path, int fd, const struct uvfio_server_opts *opts)
{
    static uint8_t page[PING_REGION_SIZE];
    const struct uvfio_device_config dc = {
        .name = "bench-mem", .ops = &mem_ops, .num_regions = 1, .priv = page,
    };
    const struct uvfio_region_config rc = {
        .size = PING_REGION_SIZE, .mmap_fd = -1,
        .flags = UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE,
    };
    struct sigaction sa = { .sa_handler = on_term };
    struct uvfio_device *dev = NULL;
    struct uvfio_server *srv = NULL;
    int r;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    r = uvfio_device_create(&dc, &dev);
    if (!r)
        r = uvfio_device_set_region(dev, 0, &rc);
    if (!r)
        r = uvfio_server_create(opts, &srv);
    if (!r) {
        the_server = srv;
        r = path ? uvfio_server_add_device(srv, dev, path) :
                   uvfio_server_add_device_fd(srv, dev, fd);
    }
    if (!r)
        r = uvfio_server_run(srv);
    the_server = NULL;
    uvfio_server_destroy(srv);
    uvfio_device_destroy(dev);
    return r;
}

int ping_echo(int fd)
{
    char req[PING_REQ_BYTES], rep[PING_REPLY_BYTES] = { 0 };

    while (ping_read_full(fd, req, sizeof(req)) == 0)
        if (write(fd, rep, sizeof(rep)) != sizeof(rep))
            return -1;
    return 0;
}
