// SPDX-License-Identifier: MIT
/*
 * tests/server/test_commands.c - VERSION negotiation and the good path of
 * every command, over a real socket against a server in its own thread.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "proto/version.h"

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(fx_start(fx, NULL, 1, true), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_stop(*state);
    free(*state);
    return 0;
}

/* ---- VERSION ------------------------------------------------------------ */

static void parse_reply_caps(const struct uvfio_msg *m,
                             struct uvfio_wire_version *v,
                             struct uvfio_caps *caps)
{
    assert_true(m->len > sizeof(*v));
    memcpy(v, m->payload, sizeof(*v));
    /* QEMU insists on a NUL as the very last byte. */
    assert_int_equal(m->payload[m->len - 1], '\0');
    assert_int_equal(uvfio_caps_parse((const char *)m->payload + sizeof(*v),
                                      m->len - sizeof(*v), caps), 0);
}

static void test_version_must_come_first(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_device_info info = { .argsz = sizeof(info) };
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_GET_INFO, &info,
                                 sizeof(info), NULL, 0), -EINVAL);
    /* The connection was kept: negotiation still works after it. */
    assert_int_equal(tc_hello(&tc, false, false), 0);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_GET_INFO, &info,
                                 sizeof(info), NULL, 0), 0);
    tc_close(&tc);
}

static void test_version_spec_client(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_version v;
    struct uvfio_caps caps;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2,
        "{\"capabilities\":{\"max_msg_fds\":4,"
        "\"max_data_xfer_size\":4194304,\"max_dma_maps\":10,"
        "\"pgsizes\":4096,\"write_multiple\":true}}", &m), 0);
    parse_reply_caps(&m, &v, &caps);
    assert_int_equal(v.major, 0);
    assert_int_equal(v.minor, 2);
    /* Each value the smaller of the offer and the server's limit. */
    assert_int_equal(caps.max_msg_fds, 4);
    assert_int_equal(caps.max_data_xfer_size, 1u << 20);
    assert_int_equal(caps.max_dma_maps, 10);
    assert_int_equal(caps.pgsizes, 4096);
    assert_true(caps.write_multiple);
    assert_false(caps.twin_socket);         /* not offered */
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    assert_true(fx_wait_open(fx->td[0].dev, 1, 2000));
    tc_close(&tc);
}

/* Byte for byte what QEMU's vfio-user client proposes. */
static const char qemu_caps[] =
    "{\"capabilities\": {\"migration\": {\"pgsize\": 4096, "
    "\"max_bitmap_size\": 268435456}, \"max_msg_fds\": 16, "
    "\"max_data_xfer_size\": 1048576, \"pgsizes\": 4096, "
    "\"max_dma_maps\": 65535, \"write_multiple\": true}}";

static void test_version_qemu_client(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_version v;
    struct uvfio_caps caps;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 0, qemu_caps, &m), 0);
    parse_reply_caps(&m, &v, &caps);
    /* Reply minor <= proposal: QEMU refuses anything above 0.0. */
    assert_int_equal(v.major, 0);
    assert_int_equal(v.minor, 0);
    assert_true(caps.max_msg_fds <= 16);
    assert_true(caps.max_data_xfer_size <= 1048576);
    assert_true(caps.write_multiple);
    /* QEMU reads every reply into its request's buffer: a VERSION reply
     * longer than the VERSION it sent fails the device. */
    assert_true(m.hdr.size <= UVFIO_HDR_SIZE + sizeof(v) + sizeof(qemu_caps));
    /* Nothing QEMU did not offer, no fd. */
    assert_false(caps.twin_socket);
    assert_int_equal(caps.extensions, 0);
    assert_int_equal(m.nfds, 0);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_version_minor_capped(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_version v;
    struct uvfio_caps caps;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 9, "{}", &m), 0);
    parse_reply_caps(&m, &v, &caps);
    assert_int_equal(v.minor, UVFIO_PROTO_MINOR);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_version_without_caps(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_version v;
    struct uvfio_caps caps;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2, NULL, &m), 0);
    parse_reply_caps(&m, &v, &caps);
    /* The spec's defaults stand for what was not said. */
    assert_int_equal(caps.max_msg_fds, UVFIO_DEFAULT_MAX_MSG_FDS);
    assert_false(caps.write_multiple);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_version_unknown_major(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 1, 0, "{}", &m), -ENOTSUP);
    uvfio_msg_free(&m);
    assert_true(tc_wait_closed(&tc, 2000));
    tc_close(&tc);
    /* The device is free for the next client. */
    fx_client(fx, 0, &tc);
    tc_close(&tc);
}

static void test_version_twice(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_msg m;
    struct tclient tc;
    uint8_t b[4];

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_version(&tc, 0, 2, "{}", &m), -EINVAL);
    uvfio_msg_free(&m);
    assert_int_equal(tc_region_read(&tc, TD_ROM, 0, b, 4), 0);
    tc_close(&tc);
}

static void test_version_bad_json(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2, "{not json", &m), -EINVAL);
    uvfio_msg_free(&m);
    assert_int_equal(tc_version(&tc, 0, 2,
                                "{\"capabilities\":{\"max_msg_fds\":\"x\"}}",
                                &m), -EINVAL);
    uvfio_msg_free(&m);
    assert_int_equal(tc_hello(&tc, false, false), 0);
    tc_close(&tc);
}

static void test_version_twin_socket(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_version v;
    struct uvfio_caps caps;
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2,
        "{\"capabilities\":{\"max_msg_fds\":8,"
        "\"twin_socket\":{\"supported\":true}}}", &m), 0);
    parse_reply_caps(&m, &v, &caps);
    assert_true(caps.twin_socket);
    assert_int_equal(caps.twin_fd_index, 0);
    assert_true(tc.twin >= 0);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

/* The driver refuses the client (open_device fails): VERSION answers its
 * errno, the connection ends, the next client is welcome. */
static void test_open_refused(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_msg m;
    struct tclient tc;

    fx->td[0].open_error = -EBUSY;
    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2, "{}", &m), -EBUSY);
    uvfio_msg_free(&m);
    assert_true(tc_wait_closed(&tc, 2000));
    tc_close(&tc);
    assert_int_equal(uvfio_device_open_count(fx->td[0].dev), 0);
    fx->td[0].open_error = 0;
    fx_client(fx, 0, &tc);
    assert_int_equal(atomic_load(&fx->td[0].opens), 1);
    tc_close(&tc);
}

/* ---- the commands ------------------------------------------------------ */

static void test_get_info(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_device_info info = { .argsz = sizeof(info) };
    struct uvfio_msg m;
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_GET_INFO, &info,
                             sizeof(info), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.hdr.flags & UVFIO_HDR_TYPE_MASK, UVFIO_HDR_TYPE_REPLY);
    assert_int_equal(m.hdr.cmd, UVFIO_CMD_DEVICE_GET_INFO);
    assert_int_equal(m.len, sizeof(info));
    memcpy(&info, m.payload, sizeof(info));
    assert_int_equal(info.flags, UVFIO_DEVICE_FLAGS_RESET);
    assert_int_equal(info.num_regions, TD_NUM_REGIONS);
    assert_int_equal(info.num_irqs, 2);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_region_info_mmap(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_info ri = { .argsz = 256, .index = TD_MMAP };
    struct uvfio_wire_cap_sparse_mmap sp;
    struct uvfio_msg m;
    struct tclient tc;
    uint8_t *map;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_GET_REGION_INFO, &ri,
                             sizeof(ri), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    memcpy(&ri, m.payload, sizeof(ri));
    assert_int_equal(ri.size, TD_MMAP_SIZE);
    assert_true(ri.flags & UVFIO_REGION_FLAG_MMAP);
    assert_true(ri.flags & UVFIO_REGION_FLAG_CAPS);
    assert_true(ri.cap_offset >= sizeof(ri));
    assert_true(ri.cap_offset + sizeof(sp) <= m.len);
    memcpy(&sp, m.payload + ri.cap_offset, sizeof(sp));
    assert_int_equal(sp.header.id, UVFIO_REGION_CAP_SPARSE_MMAP);
    assert_int_equal(sp.nr_areas, 2);
    /* The fd came with the reply and maps the device's memory. */
    assert_int_equal(m.nfds, 1);
    map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[0],
               (off_t)ri.offset);
    assert_true(map != MAP_FAILED);
    assert_int_equal(tc_region_write(&tc, TD_MMAP, 16, "mapped", 6), 0);
    assert_memory_equal(map + 16, "mapped", 6);
    munmap(map, 4096);
    uvfio_msg_free(&m);

    /* Too small an argsz: the fixed part and the size it needs. */
    ri = (struct uvfio_wire_region_info){ .argsz = sizeof(ri),
                                          .index = TD_MMAP };
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_GET_REGION_INFO, &ri,
                             sizeof(ri), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    memcpy(&ri, m.payload, sizeof(ri));
    assert_true(ri.argsz > sizeof(ri));
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_region_io_fds(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_io_fds io = { .argsz = sizeof(io),
                                           .index = TD_REGS };
    struct uvfio_msg m;
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, &io,
                             sizeof(io), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    memcpy(&io, m.payload, sizeof(io));
    assert_int_equal(io.count, 0);
    assert_int_equal(io.index, TD_REGS);
    uvfio_msg_free(&m);
    tc_close(&tc);
}

static void test_irq_info_and_set(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_device *dev = fx->td[0].dev;
    struct uvfio_wire_irq_info ii = { .argsz = sizeof(ii),
                                      .index = TD_IRQ_MSI };
    struct uvfio_wire_irq_set set = {
        .argsz = sizeof(set),
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
        .index = TD_IRQ_MSI, .start = 0, .count = 2,
    };
    struct pollfd pfd[2];
    struct uvfio_msg m;
    struct tclient tc;
    int efd[2];

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &ii,
                             sizeof(ii), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    memcpy(&ii, m.payload, sizeof(ii));
    assert_int_equal(ii.count, 4);
    assert_true(ii.flags & UVFIO_IRQ_INFO_EVENTFD);
    uvfio_msg_free(&m);

    efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_SET_IRQS, &set,
                                 sizeof(set), efd, 2), 0);
    assert_true(uvfio_irq_enabled(dev, TD_IRQ_MSI, 1));
    assert_int_equal(uvfio_irq_trigger(dev, TD_IRQ_MSI, 1), 0);
    pfd[0] = (struct pollfd){ efd[0], POLLIN, 0 };
    pfd[1] = (struct pollfd){ efd[1], POLLIN, 0 };
    assert_int_equal(poll(pfd, 2, 1000), 1);
    assert_true(pfd[1].revents & POLLIN);

    /* DATA_NONE with count 0 tears the index down. */
    set.flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER;
    set.count = 0;
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_SET_IRQS, &set,
                                 sizeof(set), NULL, 0), 0);
    assert_false(uvfio_irq_enabled(dev, TD_IRQ_MSI, 1));
    close(efd[0]);
    close(efd[1]);
    tc_close(&tc);
}

static void test_region_read_write(void **state)
{
    struct fixture *fx = *state;
    uint8_t buf[64], rom[16];
    struct tclient tc;
    unsigned int i;

    fx_client(fx, 0, &tc);
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    assert_int_equal(tc_region_write(&tc, TD_REGS, 100, buf, sizeof(buf)), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(tc_region_read(&tc, TD_REGS, 100, buf, sizeof(buf)), 0);
    for (i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], (uint8_t)(i * 7));
    assert_int_equal(tc_region_read(&tc, TD_ROM, 4080, rom, sizeof(rom)), 0);
    for (i = 0; i < sizeof(rom); i++)
        assert_int_equal(rom[i], 0xa5);
    tc_close(&tc);
}

static void test_dma_map_unmap(void **state)
{
    struct fixture *fx = *state;
    struct testdev *td = &fx->td[0];
    struct uvfio_wire_dma_unmap un = { .argsz = sizeof(un),
                                       .addr = 0x100000, .size = 0x10000 };
    struct td_dma_cmd cmd = { 0x100000 + 64, 32, TD_OP_WRITE };
    struct uvfio_msg m;
    struct tclient tc;
    uint8_t *guest;
    int memfd;

    memfd = memfd_create("guest", MFD_CLOEXEC);
    assert_int_equal(ftruncate(memfd, 0x10000), 0);
    guest = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    assert_true(guest != MAP_FAILED);
    fx_client(fx, 0, &tc);
    assert_int_equal(tc_dma_map(&tc, 0x100000, 0x10000,
                                UVFIO_DMA_MAP_FLAG_READ |
                                UVFIO_DMA_MAP_FLAG_WRITE, memfd, 0), 0);
    close(memfd);           /* the server holds its own reference */

    /* The device writes guest memory directly through the shared fd. */
    memset(td->dmabuf, 0x3c, 32);
    assert_int_equal(tc_region_write(&tc, TD_DMA, 0, &cmd, sizeof(cmd)), 0);
    assert_int_equal(td->dma_result, 0);
    assert_int_equal(guest[64], 0x3c);
    assert_int_equal(guest[95], 0x3c);
    assert_int_equal(guest[96], 0);
    assert_int_equal(tc.dma_requests, 0);

    assert_int_equal(tc_call(&tc, UVFIO_CMD_DMA_UNMAP, &un, sizeof(un),
                             NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.len, sizeof(un));        /* the request, echoed */
    uvfio_msg_free(&m);
    assert_int_equal(atomic_load(&td->unmaps), 1);
    assert_int_equal(uvfio_dma_read(td->dev, 0x100000, &cmd, 4), -EFAULT);
    munmap(guest, 0x10000);
    tc_close(&tc);
}

static void test_reset(void **state)
{
    struct fixture *fx = *state;
    uint32_t v = 0xdeadbeef;
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_region_write(&tc, TD_REGS, 0, &v, 4), 0);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_RESET, NULL, 0,
                                 NULL, 0), 0);
    assert_int_equal(atomic_load(&fx->td[0].resets), 1);
    assert_int_equal(tc_region_read(&tc, TD_REGS, 0, &v, 4), 0);
    assert_int_equal(v, 0);
    tc_close(&tc);
}

struct wm3 {
    struct uvfio_wire_write_multi wm;
    struct uvfio_wire_write_multi_entry e[3];
} __attribute__((packed));

static void wm_entry(struct uvfio_wire_write_multi_entry *e, uint32_t region,
                     uint64_t offset, uint8_t val)
{
    memset(e, 0, sizeof(*e));
    e->region = region;
    e->offset = offset;
    e->count = 4;
    memset(e->data, val, 4);
}

static void test_write_multi(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_write_multi reply;
    struct wm3 req = { .wm.wr_cnt = 3 };
    struct uvfio_msg m;
    struct tclient tc;
    uint8_t b[4];
    uint16_t id;

    fx_client(fx, 0, &tc);
    wm_entry(&req.e[0], TD_REGS, 0, 0x11);
    wm_entry(&req.e[1], TD_REGS, 8, 0x22);
    wm_entry(&req.e[2], TD_REGS, 16, 0x33);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_REGION_WRITE_MULTI, &req,
                             sizeof(req), NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.len, sizeof(reply));
    memcpy(&reply, m.payload, sizeof(reply));
    assert_int_equal(reply.wr_cnt, 3);
    uvfio_msg_free(&m);
    assert_int_equal(fx->td[0].regs[8], 0x22);

    /* Posted, as QEMU sends it: no reply, but done before what follows. */
    wm_entry(&req.e[0], TD_REGS, 0, 0x44);
    id = tc_send(&tc, UVFIO_CMD_REGION_WRITE_MULTI, UVFIO_HDR_NO_REPLY, &req,
                 sizeof(req), NULL, 0);
    assert_int_not_equal(id, 0xffff);
    assert_int_equal(tc_region_read(&tc, TD_REGS, 0, b, 4), 0);
    assert_int_equal(b[0], 0x44);

    /* The second entry fails: the first stays written, the third never
     * happens, and the errno is the failing entry's. */
    wm_entry(&req.e[0], TD_REGS, 0, 0x55);
    wm_entry(&req.e[1], 99, 0, 0x66);
    wm_entry(&req.e[2], TD_REGS, 16, 0x77);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_REGION_WRITE_MULTI, &req,
                                 sizeof(req), NULL, 0), -EINVAL);
    assert_int_equal(tc_region_read(&tc, TD_REGS, 0, b, 4), 0);
    assert_int_equal(b[0], 0x55);
    assert_int_equal(tc_region_read(&tc, TD_REGS, 16, b, 4), 0);
    assert_int_equal(b[0], 0x33);
    tc_close(&tc);
}

static void test_write_multi_needs_negotiation(void **state)
{
    struct fixture *fx = *state;
    struct wm3 req = { .wm.wr_cnt = 3 };
    struct uvfio_msg m;
    struct tclient tc;

    assert_int_equal(tc_connect(&tc, fx->path[0]), 0);
    assert_int_equal(tc_version(&tc, 0, 2, "{}", &m), 0);
    uvfio_msg_free(&m);
    wm_entry(&req.e[0], TD_REGS, 0, 1);
    wm_entry(&req.e[1], TD_REGS, 4, 1);
    wm_entry(&req.e[2], TD_REGS, 8, 1);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_REGION_WRITE_MULTI, &req,
                                 sizeof(req), NULL, 0), -ENOTSUP);
    assert_int_equal(fx->td[0].regs[0], 0);
    tc_close(&tc);
}

static void test_device_feature(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_feature f = {
        .argsz = sizeof(f) + 8, .flags = TD_FEATURE | UVFIO_FEATURE_GET,
    };
    struct uvfio_msg m;
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call(&tc, UVFIO_CMD_DEVICE_FEATURE, &f, sizeof(f),
                             NULL, 0, &m), 0);
    assert_int_equal(tc_errno(&m), 0);
    assert_int_equal(m.len, sizeof(f) + 8);
    assert_memory_equal(m.payload + sizeof(f), "TESTFEAT", 8);
    uvfio_msg_free(&m);
    f.flags = TD_FEATURE | UVFIO_FEATURE_PROBE | UVFIO_FEATURE_GET;
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_FEATURE, &f,
                                 sizeof(f), NULL, 0), 0);
    /* MIGRATION on a device that cannot migrate: the kernel's ENOTTY. */
    f.flags = UVFIO_FEATURE_MIGRATION | UVFIO_FEATURE_GET;
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_DEVICE_FEATURE, &f,
                                 sizeof(f), NULL, 0), -ENOTTY);
    tc_close(&tc);
}

/* Migration data reaches the core; this device has no migration, so the
 * answer is the core's ENOTTY (the migration tests cover the real path). */
static void test_mig_data_reaches_core(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_mig_data md = { .argsz = sizeof(md) + 16, .size = 16 };
    struct tclient tc;

    fx_client(fx, 0, &tc);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_MIG_DATA_READ, &md,
                                 sizeof(md), NULL, 0), -ENOTTY);
    md.size = 0;
    md.argsz = sizeof(md);
    assert_int_equal(tc_call_err(&tc, UVFIO_CMD_MIG_DATA_WRITE, &md,
                                 sizeof(md), NULL, 0), -ENOTTY);
    tc_close(&tc);
}

/* Pipelined requests come back in order, with their own ids. */
static void test_pipelined_in_order(void **state)
{
    struct fixture *fx = *state;
    struct uvfio_wire_region_rw rw = { 0, TD_ROM, 4 };
    uint16_t ids[50];
    struct uvfio_msg m;
    struct tclient tc;
    int i;

    fx_client(fx, 0, &tc);
    for (i = 0; i < 50; i++)
        ids[i] = tc_send(&tc, UVFIO_CMD_REGION_READ, 0, &rw, sizeof(rw),
                         NULL, 0);
    for (i = 0; i < 50; i++) {
        assert_int_equal(tc_wait(&tc, ids[i], &m, TC_TIMEOUT_MS), 0);
        assert_int_equal(tc_errno(&m), 0);
        uvfio_msg_free(&m);
    }
    tc_close(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_version_must_come_first),
        T(test_version_spec_client),
        T(test_version_qemu_client),
        T(test_version_minor_capped),
        T(test_version_without_caps),
        T(test_version_unknown_major),
        T(test_version_twice),
        T(test_version_bad_json),
        T(test_version_twin_socket),
        T(test_open_refused),
        T(test_get_info),
        T(test_region_info_mmap),
        T(test_region_io_fds),
        T(test_irq_info_and_set),
        T(test_region_read_write),
        T(test_dma_map_unmap),
        T(test_reset),
        T(test_write_multi),
        T(test_write_multi_needs_negotiation),
        T(test_device_feature),
        T(test_mig_data_reaches_core),
        T(test_pipelined_in_order),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
