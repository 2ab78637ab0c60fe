// SPDX-License-Identifier: MIT
/*
 * tests/isolation/test_scale.c - one server process, 64 devices, 64
 * client threads at once, for a bounded time.
 *
 * Every thread drives its own device: region reads of the device's
 * identity, writes to its RAM read back, DMA by the device into guest
 * memory shared by fd (checked byte for byte on our side) and out of it
 * (checked by the device's hash), and DMA through messages the client
 * serves while it waits.  Every result is checked against what that
 * device and that thread alone could have produced, so an answer from the
 * wrong device, or data of another client, fails the test.
 *
 * usage: test-scale UVFIO_TEST_ISOSERVER
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iso.h"

#define NDEV        64
#define RUN_MS      1500
#define FD_IOVA     0x10000000ull
#define MSG_IOVA    0x20000000ull
#define GUEST_SIZE  (64u << 10)
#define MSG_SIZE    (16u << 10)
#define RW          (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

struct worker {
    struct iso_server *srv;
    unsigned int dev;
    pthread_t thread;
    int64_t deadline_us;
    unsigned long rounds, region_ops, dma_ops;
    char error[200];
};

static bool failf(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool failf(struct worker *w, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(w->error, sizeof(w->error), "device %u: ", w->dev);

    va_start(ap, fmt);
    vsnprintf(w->error + n, sizeof(w->error) - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static bool check_id(struct worker *w, struct uvfio_client *c,
                     unsigned int round)
{
    uint32_t off = 4 + (round * 97u) % (ISO_ID_SIZE - 64);
    uint8_t b[32];

    if (uvfio_client_region_read(c, ISO_REGION_ID, off, b, sizeof(b)) !=
        (ssize_t)sizeof(b))
        return failf(w, "ID read failed");
    for (size_t k = 0; k < sizeof(b); k++)
        if (b[k] != iso_id_byte(w->dev, off + k))
            return failf(w, "ID byte %zu is %#x", off + k, b[k]);
    w->region_ops++;
    return true;
}

static bool check_ram(struct worker *w, struct uvfio_client *c,
                      unsigned int round)
{
    uint32_t off = (round * 64u) % ISO_RAM_SIZE;
    uint8_t out[64], in[64];

    for (size_t k = 0; k < sizeof(out); k++)
        out[k] = (uint8_t)(w->dev * 7 + round + k);
    if (uvfio_client_region_write(c, ISO_REGION_RAM, off, out, sizeof(out)) !=
        (ssize_t)sizeof(out) ||
        uvfio_client_region_read(c, ISO_REGION_RAM, off, in, sizeof(in)) !=
        (ssize_t)sizeof(in))
        return failf(w, "RAM access failed");
    if (memcmp(in, out, sizeof(in)))
        return failf(w, "RAM at %u holds another's data", off);
    w->region_ops += 2;
    return true;
}

static int engine(struct uvfio_client *c, uint32_t cmd, uint64_t addr,
                  uint32_t len, uint32_t seed)
{
    struct {
        uint64_t addr;
        uint32_t len, seed, cmd;
    } __attribute__((packed)) regs = { addr, len, seed, cmd };
    int32_t st;

    if (uvfio_client_region_write(c, ISO_REGION_REGS, ISO_REG_ADDR, &regs,
                                  sizeof(regs)) != (ssize_t)sizeof(regs) ||
        uvfio_client_region_read(c, ISO_REGION_REGS, ISO_REG_STATUS, &st,
                                 sizeof(st)) != (ssize_t)sizeof(st))
        return -EIO;
    return st;
}

static uint32_t engine_hash(struct uvfio_client *c)
{
    uint32_t h = 0;

    if (uvfio_client_region_read(c, ISO_REGION_REGS, ISO_REG_HASH, &h,
                                 sizeof(h)) != (ssize_t)sizeof(h))
        return 0;
    return h;
}

/* The device writes our guest memory; we check it; the device reads it
 * back and its hash must be of exactly those bytes. */
static bool check_fd_dma(struct worker *w, struct uvfio_client *c,
                         uint8_t *guest, unsigned int round)
{
    uint32_t off = (round * 512u) % (GUEST_SIZE - 1024), len = 1024;
    uint32_t seed = w->dev * 1000u + round;

    if (engine(c, ISO_CMD_WRITE, FD_IOVA + off, len, seed))
        return failf(w, "DMA write failed");
    for (uint32_t k = 0; k < len; k++)
        if (guest[off + k] != (uint8_t)(seed + k))
            return failf(w, "guest byte %u is %#x", off + k, guest[off + k]);
    if (engine(c, ISO_CMD_READ, FD_IOVA + off, len, 0) ||
        engine_hash(c) != iso_fnv1a(guest + off, len))
        return failf(w, "DMA read saw other bytes");
    w->dma_ops += 2;
    return true;
}

/* Memory shared without an fd: the device's read goes out as DMA_READ
 * messages, which the client serves while it waits for its reply. */
static bool check_msg_dma(struct worker *w, struct uvfio_client *c,
                          uint8_t *mem, unsigned int round)
{
    for (uint32_t k = 0; k < MSG_SIZE; k++)
        mem[k] = (uint8_t)(w->dev + round * 3 + k);
    if (engine(c, ISO_CMD_READ, MSG_IOVA, MSG_SIZE, 0) ||
        engine_hash(c) != iso_fnv1a(mem, MSG_SIZE))
        return failf(w, "message-path DMA read saw other bytes");
    w->dma_ops++;
    return true;
}

static bool run_rounds(struct worker *w, struct uvfio_client *c,
                       uint8_t *guest, uint8_t *msgmem)
{
    unsigned int round;

    for (round = 0; iso_now_us() < w->deadline_us; round++) {
        if (!check_id(w, c, round) || !check_ram(w, c, round))
            return false;
        if (round % 4 == 0 && !check_fd_dma(w, c, guest, round))
            return false;
        if (round % 8 == 0 && !check_msg_dma(w, c, msgmem, round))
            return false;
        w->rounds++;
    }
    return true;
}

static void *worker_main(void *arg)
{
    struct uvfio_client_opts o = { .timeout_ms = 20000 };
    struct worker *w = arg;
    struct uvfio_guest_mem gm;
    struct uvfio_client *c = NULL;
    uint8_t *msgmem = calloc(1, MSG_SIZE);

    if (!msgmem || uvfio_guest_mem_create(GUEST_SIZE, "scale", &gm)) {
        failf(w, "no guest memory");
        free(msgmem);
        return NULL;
    }
    if (uvfio_client_connect(iso_path(w->srv, w->dev), &o, &c))
        failf(w, "cannot connect");
    else if (uvfio_client_dma_map(c, FD_IOVA, GUEST_SIZE, RW, gm.fd, 0) ||
             uvfio_client_dma_map_msg(c, MSG_IOVA, MSG_SIZE, RW, msgmem))
        failf(w, "cannot map guest memory");
    else
        run_rounds(w, c, gm.host, msgmem);
    uvfio_client_close(c);
    uvfio_guest_mem_destroy(&gm);
    free(msgmem);
    return NULL;
}

static void test_64_devices_64_clients(void **state)
{
    static struct worker w[NDEV];
    unsigned long rounds = 0, region = 0, dma = 0, least = ~0ul;
    struct iso_server srv;
    int i;
    int64_t t0;

    (void)state;
    iso_server_start(&srv, NDEV, NULL);
    t0 = iso_now_us();
    for (i = 0; i < NDEV; i++) {
        w[i] = (struct worker){ .srv = &srv, .dev = (unsigned int)i,
                                .deadline_us = t0 + RUN_MS * 1000 };
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main,
                                        &w[i]), 0);
    }
    for (i = 0; i < NDEV; i++)
        pthread_join(w[i].thread, NULL);
    for (i = 0; i < NDEV; i++) {
        if (w[i].error[0])
            fail_msg("%s", w[i].error);
        rounds += w[i].rounds;
        region += w[i].region_ops;
        dma += w[i].dma_ops;
        least = w[i].rounds < least ? w[i].rounds : least;
    }
    printf("  %d devices, %d ms: %lu rounds (least %lu per device), "
           "%lu region accesses, %lu DMA transfers, all checked\n", NDEV,
           RUN_MS, rounds, least, region, dma);
    /* Every device was served, none starved. */
    assert_true(least >= 8);
    iso_server_assert_idle(&srv);
    iso_server_stop(&srv);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_64_devices_64_clients),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s UVFIO_TEST_ISOSERVER\n", argv[0]);
        return 2;
    }
    iso_output_init();
    iso_server_bin = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
