// SPDX-License-Identifier: MIT
/*
 * tests/server/test_badinput.c - every command, malformed.
 *
 * The table sends each command wrong in each way that matters - short or
 * long payload, wrong argsz, bad index, overlapping or wrapping DMA
 * ranges, too many fds, unknown command, unknown flags, counts over the
 * negotiated limits, an oversize message - and checks that each gets an
 * error reply carrying the right errno, and that the same connection still
 * answers a good request right after.  At the end no fd the client sent
 * is left open in the process.  Further cases outside the table: NO_REPLY
 * failures stay silent, headers that cannot be parsed end only their own
 * connection.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

#define XFER        (64u << 10)
#define MAP_IOVA    0x10000ull
#define MAP_SIZE    0x10000ull

typedef struct uvfio_wire_dma_map     dma_map_t;
typedef struct uvfio_wire_dma_unmap   dma_unmap_t;
typedef struct uvfio_wire_device_info dev_info_t;
typedef struct uvfio_wire_region_info reg_info_t;
typedef struct uvfio_wire_region_io_fds io_fds_t;
typedef struct uvfio_wire_irq_info    irq_info_t;
typedef struct uvfio_wire_irq_set     irq_set_t;
typedef struct uvfio_wire_region_rw   rw_t;
typedef struct uvfio_wire_dma_rw      dma_rw_t;
typedef struct uvfio_wire_feature     feat_t;
typedef struct uvfio_wire_mig_data    mig_t;

struct wm_one {
    struct uvfio_wire_write_multi wm;
    struct uvfio_wire_write_multi_entry e;
} __attribute__((packed));

struct irq_set_bool {
    irq_set_t s;
    uint8_t data[1];
} __attribute__((packed));

struct rw_data {
    rw_t rw;
    uint8_t data[4];
} __attribute__((packed));

struct version_json {
    struct uvfio_wire_version v;
    char json[3];
} __attribute__((packed));

/* A payload given literally (len bytes of it; len may cut it short or,
 * with `big`, a zero-filled payload of that size). */
struct bad_case {
    const char *name;
    uint16_t cmd;
    const void *payload;
    size_t len;
    size_t big;             /* > 0: send `big` bytes instead, payload first */
    unsigned int nfds;      /* eventfds attached */
    int err;                /* expected errno */
};

#define P(type, ...) &(type){ __VA_ARGS__ }, sizeof(type)
#define RW (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)
#define TRIG_EFD (UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER)
#define TRIG_BOOL (UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_TRIGGER)
#define FGET(i) ((i) | UVFIO_FEATURE_GET)

static const struct bad_case cases[] = {
    /* VERSION, again */
    { "VERSION twice", UVFIO_CMD_VERSION,
      P(struct version_json, { 0, 2 }, "{}"), 0, 0, EINVAL },
    { "VERSION short", UVFIO_CMD_VERSION, P(uint16_t, 0), 0, 0, EINVAL },

    /* DMA_MAP */
    { "DMA_MAP short", UVFIO_CMD_DMA_MAP,
      &(dma_map_t){ 32, RW, 0, 0x40000, 0x1000 }, 16, 0, 0, EINVAL },
    { "DMA_MAP long", UVFIO_CMD_DMA_MAP,
      &(uint8_t[40]){ 32, 0, 0, 0, RW }, 40, 0, 0, EINVAL },
    { "DMA_MAP argsz", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 31, RW, 0, 0x40000, 0x1000), 0, 0, EINVAL },
    { "DMA_MAP unknown flags", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW | 0x80, 0, 0x40000, 0x1000), 0, 0, EINVAL },
    { "DMA_MAP no access", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, 0, 0, 0x40000, 0x1000), 0, 0, EINVAL },
    { "DMA_MAP size 0", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, 0x40000, 0), 0, 0, EINVAL },
    { "DMA_MAP wraps", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, UINT64_MAX - 0xfff, 0x2000), 0, 0, EINVAL },
    { "DMA_MAP unaligned", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, 0x40001, 0x1000), 0, 0, EINVAL },
    { "DMA_MAP overlaps", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, MAP_IOVA + 0x8000, 0x10000), 0, 0, EEXIST },
    { "DMA_MAP same again", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, MAP_IOVA, MAP_SIZE), 0, 0, EEXIST },
    { "DMA_MAP two fds", UVFIO_CMD_DMA_MAP,
      P(dma_map_t, 32, RW, 0, 0x40000, 0x1000), 0, 2, EINVAL },

    /* DMA_UNMAP */
    { "DMA_UNMAP short", UVFIO_CMD_DMA_UNMAP,
      &(dma_unmap_t){ 24, 0, MAP_IOVA, MAP_SIZE }, 16, 0, 0, EINVAL },
    { "DMA_UNMAP unknown flags", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, 0x10, MAP_IOVA, MAP_SIZE), 0, 0, EINVAL },
    { "DMA_UNMAP part of a map", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, 0, MAP_IOVA, MAP_SIZE / 2), 0, 0, EINVAL },
    { "DMA_UNMAP nothing there", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, 0, 0x900000, 0x1000), 0, 0, EINVAL },
    { "DMA_UNMAP wraps", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, 0, UINT64_MAX - 0xfff, 0x2000), 0, 0, EINVAL },
    { "DMA_UNMAP ALL with a range", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, UVFIO_DMA_UNMAP_FLAG_ALL, MAP_IOVA, MAP_SIZE), 0, 0,
      EINVAL },
    { "DMA_UNMAP with an fd", UVFIO_CMD_DMA_UNMAP,
      P(dma_unmap_t, 24, 0, MAP_IOVA, MAP_SIZE), 0, 1, EINVAL },

    /* the GET_* queries */
    { "GET_INFO short", UVFIO_CMD_DEVICE_GET_INFO,
      &(dev_info_t){ 16 }, 8, 0, 0, EINVAL },
    { "GET_INFO argsz", UVFIO_CMD_DEVICE_GET_INFO,
      P(dev_info_t, 8), 0, 0, EINVAL },
    { "GET_INFO with an fd", UVFIO_CMD_DEVICE_GET_INFO,
      P(dev_info_t, 16), 0, 1, EINVAL },
    { "REGION_INFO short", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      &(reg_info_t){ 32, 0, TD_REGS }, 12, 0, 0, EINVAL },
    { "REGION_INFO bad index", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(reg_info_t, 32, 0, 99), 0, 0, EINVAL },
    { "REGION_INFO huge index", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(reg_info_t, 32, 0, UINT32_MAX), 0, 0, EINVAL },
    { "REGION_INFO argsz", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(reg_info_t, 16, 0, TD_REGS), 0, 0, EINVAL },
    { "IO_FDS bad index", UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,
      P(io_fds_t, 16, 0, 99, 0), 0, 0, EINVAL },
    { "IO_FDS count set", UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,
      P(io_fds_t, 16, 0, TD_REGS, 5), 0, 0, EINVAL },
    { "IRQ_INFO bad index", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      P(irq_info_t, 16, 0, 7, 0), 0, 0, EINVAL },
    { "IRQ_INFO short", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      &(irq_info_t){ 16 }, 4, 0, 0, EINVAL },

    /* SET_IRQS */
    { "SET_IRQS short", UVFIO_CMD_DEVICE_SET_IRQS,
      &(irq_set_t){ 20, TRIG_EFD, TD_IRQ_MSI, 0, 1 }, 16, 0, 0, EINVAL },
    { "SET_IRQS bad index", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD, 9, 0, 1), 0, 1, EINVAL },
    { "SET_IRQS unknown flags", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD | (1u << 6), TD_IRQ_MSI, 0, 1), 0, 1,
      EINVAL },
    { "SET_IRQS two data types", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD | UVFIO_IRQ_SET_DATA_BOOL, TD_IRQ_MSI, 0, 1),
      0, 1, EINVAL },
    /* The kernel has no handler for a combined action: ENOTTY. */
    { "SET_IRQS two actions", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD | UVFIO_IRQ_SET_ACTION_MASK, TD_IRQ_MSI, 0,
        1), 0, 1, ENOTTY },
    { "SET_IRQS past the vectors", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD, TD_IRQ_MSI, 3, 2), 0, 2, EINVAL },
    { "SET_IRQS start+count wraps", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD, TD_IRQ_MSI, UINT32_MAX, 2), 0, 2, EINVAL },
    { "SET_IRQS fewer fds than count", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD, TD_IRQ_MSI, 0, 2), 0, 1, EINVAL },
    { "SET_IRQS bools missing", UVFIO_CMD_DEVICE_SET_IRQS,
      P(struct irq_set_bool, { 22, TRIG_BOOL, TD_IRQ_MSI, 0, 2 }, { 1 }), 0,
      0, EINVAL },
    { "SET_IRQS bools with fds", UVFIO_CMD_DEVICE_SET_IRQS,
      P(struct irq_set_bool, { 21, TRIG_BOOL, TD_IRQ_MSI, 0, 1 }, { 1 }), 0,
      1, EINVAL },
    { "SET_IRQS too many fds", UVFIO_CMD_DEVICE_SET_IRQS,
      P(irq_set_t, 20, TRIG_EFD, TD_IRQ_MSI, 0, 4), 0, 20, EINVAL },

    /* REGION_READ / REGION_WRITE */
    { "REGION_READ short", UVFIO_CMD_REGION_READ,
      &(rw_t){ 0, TD_REGS, 4 }, 12, 0, 0, EINVAL },
    { "REGION_READ long", UVFIO_CMD_REGION_READ,
      &(uint8_t[20]){ 0 }, 20, 0, 0, EINVAL },
    { "REGION_READ bad index", UVFIO_CMD_REGION_READ,
      P(rw_t, 0, 99, 4), 0, 0, EINVAL },
    { "REGION_READ past the end", UVFIO_CMD_REGION_READ,
      P(rw_t, TD_REGS_SIZE - 2, TD_REGS, 4), 0, 0, EINVAL },
    { "REGION_READ offset wraps", UVFIO_CMD_REGION_READ,
      P(rw_t, UINT64_MAX - 1, TD_REGS, 4), 0, 0, EINVAL },
    { "REGION_READ count 0", UVFIO_CMD_REGION_READ,
      P(rw_t, 0, TD_REGS, 0), 0, 0, EINVAL },
    { "REGION_READ over max_data_xfer", UVFIO_CMD_REGION_READ,
      P(rw_t, 0, TD_DMABUF, XFER + 1), 0, 0, E2BIG },
    { "REGION_READ with an fd", UVFIO_CMD_REGION_READ,
      P(rw_t, 0, TD_REGS, 4), 0, 1, EINVAL },
    { "REGION_WRITE count > data", UVFIO_CMD_REGION_WRITE,
      P(struct rw_data, { 0, TD_REGS, 8 }, { 1, 2, 3, 4 }), 0, 0, EINVAL },
    { "REGION_WRITE count < data", UVFIO_CMD_REGION_WRITE,
      P(struct rw_data, { 0, TD_REGS, 2 }, { 1, 2, 3, 4 }), 0, 0, EINVAL },
    { "REGION_WRITE read-only", UVFIO_CMD_REGION_WRITE,
      P(struct rw_data, { 0, TD_ROM, 4 }, { 1, 2, 3, 4 }), 0, 0, EINVAL },
    { "REGION_WRITE past the end", UVFIO_CMD_REGION_WRITE,
      P(struct rw_data, { TD_REGS_SIZE - 1, TD_REGS, 4 }, { 1 }), 0, 0,
      EINVAL },
    { "REGION_WRITE over max_data_xfer", UVFIO_CMD_REGION_WRITE,
      P(rw_t, 0, TD_DMABUF, XFER + 1), 0, 0, E2BIG },

    /* server-to-client commands, removed and unknown commands */
    { "DMA_READ from the client", UVFIO_CMD_DMA_READ,
      P(dma_rw_t, MAP_IOVA, 4), 0, 0, EINVAL },
    { "DMA_WRITE from the client", UVFIO_CMD_DMA_WRITE,
      P(dma_rw_t, MAP_IOVA, 0), 0, 0, EINVAL },
    { "DIRTY_PAGES (removed)", UVFIO_CMD_DIRTY_PAGES_LEGACY,
      P(uint64_t, 0), 0, 0, ENOSYS },
    { "command 0", 0, NULL, 0, 0, 0, ENOSYS },
    { "command 19", 19, P(uint64_t, 0), 0, 0, ENOSYS },
    { "command 0xffff", 0xffff, NULL, 0, 0, 0, ENOSYS },
    { "DEVICE_RESET with payload", UVFIO_CMD_DEVICE_RESET,
      P(uint32_t, 0), 0, 0, EINVAL },

    /* REGION_WRITE_MULTI */
    { "WRITE_MULTI none", UVFIO_CMD_REGION_WRITE_MULTI,
      P(uint64_t, 0), 0, 0, EINVAL },
    { "WRITE_MULTI count > entries", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm_one, { 2 }, { 0, TD_REGS, 4, { 0 } }), 0, 0, EINVAL },
    { "WRITE_MULTI entry of 9 bytes", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm_one, { 1 }, { 0, TD_REGS, 9, { 0 } }), 0, 0, EINVAL },
    { "WRITE_MULTI bad region", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm_one, { 1 }, { 0, 77, 4, { 0 } }), 0, 0, EINVAL },
    { "WRITE_MULTI too many", UVFIO_CMD_REGION_WRITE_MULTI,
      &(uint64_t){ 2049 }, 8, 8 + 2049 * 24, 0, E2BIG },

    /* DEVICE_FEATURE */
    { "FEATURE short", UVFIO_CMD_DEVICE_FEATURE,
      &(feat_t){ 8, FGET(TD_FEATURE) }, 4, 0, 0, EINVAL },
    { "FEATURE argsz", UVFIO_CMD_DEVICE_FEATURE,
      P(feat_t, 4, FGET(TD_FEATURE)), 0, 0, EINVAL },
    { "FEATURE unknown flags", UVFIO_CMD_DEVICE_FEATURE,
      P(feat_t, 16, FGET(TD_FEATURE) | (1u << 20)), 0, 0, EINVAL },
    { "FEATURE GET and SET", UVFIO_CMD_DEVICE_FEATURE,
      P(feat_t, 16, FGET(TD_FEATURE) | UVFIO_FEATURE_SET), 0, 0, EINVAL },
    { "FEATURE unknown feature", UVFIO_CMD_DEVICE_FEATURE,
      P(feat_t, 16, FGET(0x1234)), 0, 0, ENOTTY },

    /* MIG_DATA_READ / MIG_DATA_WRITE */
    { "MIG_DATA_READ short", UVFIO_CMD_MIG_DATA_READ,
      &(mig_t){ 8, 4 }, 4, 0, 0, EINVAL },
    { "MIG_DATA_READ over max_data_xfer", UVFIO_CMD_MIG_DATA_READ,
      P(mig_t, UINT32_MAX, XFER + 1), 0, 0, E2BIG },
    { "MIG_DATA_WRITE size != data", UVFIO_CMD_MIG_DATA_WRITE,
      P(mig_t, 16, 8), 0, 0, EINVAL },

    /* the message as a whole */
    { "oversize message", UVFIO_CMD_REGION_WRITE,
      P(rw_t, 0, TD_DMABUF, 4), XFER + (64u << 10), 0, E2BIG },
};

struct badfx {
    struct fixture fx;
    struct tclient tc;
    int fds_before;
};

static int setup(void **state)
{
    struct uvfio_server_opts opts = { .max_data_xfer_size = XFER };
    struct badfx *b = calloc(1, sizeof(*b));

    assert_non_null(b);
    b->tc.fd = b->tc.twin = -1;
    assert_int_equal(fx_start(&b->fx, &opts, 2, true), 0);
    b->fds_before = fx_count_fds();
    b->tc.max_xfer = XFER;
    fx_client(&b->fx, 0, &b->tc);
    assert_int_equal(tc_dma_map(&b->tc, MAP_IOVA, MAP_SIZE, RW, -1, 0), 0);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    struct badfx *b = *state;

    tc_close(&b->tc);
    fx_stop(&b->fx);
    free(b);
    return 0;
}

/* The good request that must still be answered after each bad one. */
static void assert_still_serving(struct tclient *tc, const char *after)
{
    uint8_t rom[4] = { 0 };
    int r = tc_region_read(tc, TD_ROM, 0, rom, sizeof(rom));

    if (r != 0 || rom[0] != 0xa5)
        fail_msg("connection broken after \"%s\" (%d)", after, r);
}

static int send_case(struct tclient *tc, const struct bad_case *c)
{
    size_t len = c->big ? c->big : c->len;
    uint8_t *p = calloc(1, len ? len : 1);
    int fds[32];
    unsigned int i;
    int r;

    assert_non_null(p);
    assert_true(c->nfds <= 32);
    if (c->payload)
        memcpy(p, c->payload, c->len);
    for (i = 0; i < c->nfds; i++)
        fds[i] = eventfd(0, EFD_CLOEXEC);
    r = tc_call_err(tc, c->cmd, p, len, c->nfds ? fds : NULL, c->nfds);
    for (i = 0; i < c->nfds; i++)
        close(fds[i]);
    free(p);
    return r;
}

static void test_table(void **state)
{
    struct badfx *b = *state;
    size_t i;
    int r;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];

        r = send_case(&b->tc, c);
        if (r != -c->err)
            fail_msg("\"%s\": got %d (%s), want -%d (%s)", c->name, r,
                     strerror(-r), c->err, strerror(c->err));
        assert_still_serving(&b->tc, c->name);
    }
    /* The bad DMA_MAPs left the good one alone... */
    assert_int_equal(uvfio_dma_read(b->fx.td[0].dev, MAP_IOVA + MAP_SIZE,
                                    &r, 4), -EFAULT);
    /* ... and every fd sent along was closed by the server (only the
     * connection itself is still open). */
    tc_close(&b->tc);
    assert_true(fx_wait_open(b->fx.td[0].dev, 0, 2000));
    assert_int_equal(fx_count_fds(), b->fds_before);
}

/* A failing NO_REPLY command stays silent: the next reply is the next
 * request's (tc_wait fails on a reply to another id). */
static void test_no_reply_failure_is_silent(void **state)
{
    struct badfx *b = *state;
    rw_t rw = { 0, 99, 4 };

    assert_int_not_equal(tc_send(&b->tc, UVFIO_CMD_REGION_READ,
                                 UVFIO_HDR_NO_REPLY, &rw, sizeof(rw), NULL,
                                 0), 0xffff);
    assert_int_not_equal(tc_send(&b->tc, 0x77, UVFIO_HDR_NO_REPLY, NULL, 0,
                                 NULL, 0), 0xffff);
    assert_still_serving(&b->tc, "NO_REPLY failures");
}

/* A reply nobody asked for (the client has no business replying) is
 * dropped; the connection goes on. */
static void test_stray_reply_ignored(void **state)
{
    struct badfx *b = *state;
    struct uvfio_wire_hdr h = {
        .msg_id = 4242, .cmd = UVFIO_CMD_DMA_READ,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };
    dma_rw_t rw = { MAP_IOVA, 0 };
    struct iovec iov = { &rw, sizeof(rw) };

    assert_int_equal(uvfio_msg_send(b->tc.fd, &h, &iov, 1, NULL, 0), 0);
    assert_still_serving(&b->tc, "a stray reply");
}

/* Headers that cannot be resynchronised end that connection - and only
 * it: the other device, and the same device's next client, are served. */
static void broken_header(struct badfx *b, const struct uvfio_wire_hdr *h)
{
    struct tclient other;

    fx_client(&b->fx, 1, &other);
    assert_int_equal(tc_send_bytes(&b->tc, h, sizeof(*h)), 0);
    assert_true(tc_wait_closed(&b->tc, 2000));
    assert_still_serving(&other, "another client's broken header");
    tc_close(&other);
    tc_close(&b->tc);
    assert_true(fx_wait_open(b->fx.td[0].dev, 0, 2000));
    fx_client(&b->fx, 0, &b->tc);
    assert_still_serving(&b->tc, "reconnecting");
}

static void test_unknown_header_flags_close(void **state)
{
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_DEVICE_RESET, 16, 1u << 9, 0 };

    broken_header(*state, &h);
}

static void test_header_size_below_16_closes(void **state)
{
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_DEVICE_RESET, 8, 0, 0 };

    broken_header(*state, &h);
}

static void test_header_type_closes(void **state)
{
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_DEVICE_RESET, 16, 0x7, 0 };

    broken_header(*state, &h);
}

static void test_header_size_absurd_closes(void **state)
{
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_REGION_WRITE, 0xfffffff0u, 0,
                                0 };

    broken_header(*state, &h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_table),
        T(test_no_reply_failure_is_silent),
        T(test_stray_reply_ignored),
        T(test_unknown_header_flags_close),
        T(test_header_size_below_16_closes),
        T(test_header_type_closes),
        T(test_header_size_absurd_closes),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
