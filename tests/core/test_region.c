// SPDX-License-Identifier: MIT
/*
 * tests/core/test_region.c - declaring regions, DEVICE_GET_REGION_INFO
 * (capability chains and the argsz truncation rules),
 * DEVICE_GET_REGION_IO_FDS, and the checks in front of REGION_READ/WRITE.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "fake.h"

#define RW (UVFIO_REGION_FLAG_READ | UVFIO_REGION_FLAG_WRITE)
#define RWM (RW | UVFIO_REGION_FLAG_MMAP)

static struct fake f;
static struct uvfio_device *dev;         /* PCI, 12 regions */
static int memfd;

static int setup(void **state)
{
    (void)state;
    memset(&f, 0, sizeof(f));
    dev = fake_create(&f, NULL, true, 12, 5, NULL);
    memfd = memfd_new(0x10000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uvfio_device_destroy(dev);
    close(memfd);
    return 0;
}

/* ---- declaring --------------------------------------------------------- */

static int set(uint32_t index, uint64_t size, uint32_t flags, int fd,
               uint64_t mmap_offset, const struct uvfio_sparse_area *areas,
               uint32_t n, uint32_t type)
{
    struct uvfio_region_config rc = {
        .size = size, .flags = flags, .mmap_fd = fd,
        .mmap_offset = mmap_offset, .nr_sparse = n, .sparse = areas,
        .type = type,
    };

    return uvfio_device_set_region(dev, index, &rc);
}

static void test_set_region_validation(void **state)
{
    const struct uvfio_sparse_area ok2[] = { { 0, 0x1000 }, { 0x3000, 0x1000 } };
    const struct uvfio_sparse_area unaligned[] = { { 0x800, 0x1000 } };
    const struct uvfio_sparse_area unaligned_size[] = { { 0, 0x800 } };
    const struct uvfio_sparse_area outside[] = { { 0x3000, 0x2000 } };
    const struct uvfio_sparse_area overflow[] = { { 0xfffffffffffff000ull,
                                                    0x2000 } };
    const struct uvfio_sparse_area overlap[] = { { 0, 0x2000 }, { 0x1000, 0x1000 } };
    const struct uvfio_sparse_area unsorted[] = { { 0x2000, 0x1000 }, { 0, 0x1000 } };
    const struct uvfio_sparse_area empty[] = { { 0x1000, 0 } };
    struct uvfio_region_config rc = { .size = 4096, .flags = RW };
    int closed = fd_dup(memfd);

    (void)state;
    close(closed);
    assert_int_equal(uvfio_device_set_region(NULL, 0, &rc), -EINVAL);
    assert_int_equal(uvfio_device_set_region(dev, 0, NULL), -EINVAL);
    assert_int_equal(set(12, 4096, RW, -1, 0, NULL, 0, 0), -EINVAL);
    /* CAPS is the core's to set. */
    assert_int_equal(set(0, 4096, RW | UVFIO_REGION_FLAG_CAPS, -1, 0, NULL, 0,
                         0), -EINVAL);
    assert_int_equal(set(0, 4096, 1u << 7, -1, 0, NULL, 0, 0), -EINVAL);
    assert_int_equal(set(0, 0, RW, -1, 0, NULL, 0, 0), -EINVAL);
    assert_int_equal(set(0, 0, 0, -1, 0, NULL, 0, 0), 0);
    /* MMAP needs a real fd and a page-aligned offset that does not wrap. */
    assert_int_equal(set(0, 0x4000, RWM, -1, 0, NULL, 0, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, closed, 0, NULL, 0, 0), -EBADF);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0x800, NULL, 0, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0xfffffffffffff000ull, NULL,
                         0, 0), -EINVAL);
    /* Areas: only with MMAP, inside, aligned, sorted, disjoint, non-empty. */
    assert_int_equal(set(0, 0x4000, RW, -1, 0, ok2, 2, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, NULL, 2, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, unaligned, 1, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, unaligned_size, 1, 0),
                     -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, outside, 1, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, overflow, 1, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, overlap, 2, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, unsorted, 2, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, empty, 1, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, ok2, 1025, 0), -EINVAL);
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, ok2, 2, 0), 0);
    /* Device-specific PCI regions are known by their type. */
    assert_int_equal(set(9, 4096, RW, -1, 0, NULL, 0, 0), -EINVAL);
    assert_int_equal(set(9, 4096, RW, -1, 0, NULL, 0, 1), 0);
    assert_int_equal(set(8, 4096, RW, -1, 0, NULL, 0, 0), 0);
}

static void test_set_region_non_pci_needs_no_type(void **state)
{
    struct uvfio_region_config rc = { .size = 4096, .flags = RW };
    struct fake g = { 0 };
    struct uvfio_device *d = fake_create(&g, NULL, false, 12, 0, NULL);

    (void)state;
    assert_int_equal(uvfio_device_set_region(d, 9, &rc), 0);
    uvfio_device_destroy(d);
}

/* The core keeps its own dup; replacing or destroying closes it. */
static void test_set_region_fd_ownership(void **state)
{
    int before = count_open_fds();

    (void)state;
    assert_int_equal(set(1, 0x4000, RWM, memfd, 0, NULL, 0, 0), 0);
    assert_int_equal(count_open_fds(), before + 1);
    assert_int_equal(set(1, 0x4000, RWM, memfd, 0, NULL, 0, 0), 0);
    assert_int_equal(count_open_fds(), before + 1);
    assert_int_equal(set(1, 0x4000, RW, memfd, 0, NULL, 0, 0), 0);
    assert_int_equal(count_open_fds(), before);
}

/* ---- GET_REGION_INFO --------------------------------------------------- */

struct info_reply {
    int r;
    int fd;
    size_t len;
    uint8_t buf[1024];
    struct uvfio_wire_region_info info;
};

static void get_info(uint32_t index, uint32_t argsz, struct info_reply *out)
{
    struct uvfio_wire_region_info req = { .argsz = argsz, .index = index };
    struct uvfio_buf rep = UVFIO_BUF_INIT;

    memset(out, 0, sizeof(*out));
    out->r = uvfio_core_get_region_info(dev, &req, &rep, &out->fd);
    out->len = rep.len;
    assert_true(rep.len <= sizeof(out->buf));
    if (rep.len)
        memcpy(out->buf, rep.data, rep.len);
    if (rep.len >= sizeof(out->info))
        memcpy(&out->info, rep.data, sizeof(out->info));
    uvfio_buf_free(&rep);
}

static const struct uvfio_wire_cap_header *cap_at(const struct info_reply *r,
                                                  uint32_t off)
{
    assert_true(off >= 32 && off + 8 <= r->len);
    return (const struct uvfio_wire_cap_header *)(r->buf + off);
}

static void test_region_info_errors(void **state)
{
    struct info_reply r;

    (void)state;
    get_info(0, 31, &r);
    assert_int_equal(r.r, -EINVAL);
    assert_int_equal(r.fd, -1);
    get_info(12, 32, &r);
    assert_int_equal(r.r, -EINVAL);
    get_info(UINT32_MAX, 32, &r);
    assert_int_equal(r.r, -EINVAL);
}

static void test_region_info_plain(void **state)
{
    struct info_reply r;

    (void)state;
    assert_int_equal(set(2, 0x2000, UVFIO_REGION_FLAG_READ, -1, 0, NULL, 0, 0),
                     0);
    get_info(2, 32, &r);
    assert_int_equal(r.r, 0);
    assert_int_equal(r.len, 32);
    assert_int_equal(r.info.argsz, 32);
    assert_int_equal(r.info.flags, UVFIO_REGION_FLAG_READ);
    assert_int_equal(r.info.index, 2);
    assert_int_equal(r.info.cap_offset, 0);
    assert_int_equal(r.info.size, 0x2000);
    assert_int_equal(r.info.offset, 0);
    assert_int_equal(r.fd, -1);

    /* Not declared: "not implemented", size 0 and no flags. */
    get_info(3, 64, &r);
    assert_int_equal(r.r, 0);
    assert_int_equal(r.len, 32);
    assert_int_equal(r.info.argsz, 32);
    assert_int_equal(r.info.flags, 0);
    assert_int_equal(r.info.size, 0);
}

static void test_region_info_mmap_whole(void **state)
{
    struct info_reply r;

    (void)state;
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0x8000, NULL, 0, 0), 0);
    get_info(0, 32, &r);
    assert_int_equal(r.r, 0);
    assert_int_equal(r.len, 32);
    assert_int_equal(r.info.flags, RWM);
    assert_int_equal(r.info.offset, 0x8000);
    assert_int_equal(r.info.cap_offset, 0);
    /* The core's own dup of the driver's fd, borrowed by the server. */
    assert_true(r.fd >= 0);
    assert_int_not_equal(r.fd, memfd);
    assert_true(fd_is_open(r.fd));
}

static void test_region_info_sparse_truncation(void **state)
{
    const struct uvfio_sparse_area areas[] = { { 0, 0x1000 },
                                               { 0x3000, 0x1000 } };
    const uint32_t need = 32 + 16 + 2 * 16;
    const struct uvfio_wire_cap_sparse_mmap *cap;
    const struct uvfio_wire_sparse_area *a;
    uint32_t argsz[] = { 32, 33, need - 1 };
    struct info_reply r;
    size_t i;

    (void)state;
    assert_int_equal(set(0, 0x4000, RWM, memfd, 0, areas, 2, 0), 0);

    /* Too small for the chain: success, CAPS, the size needed, no chain
     * and no fd. */
    for (i = 0; i < sizeof(argsz) / sizeof(argsz[0]); i++) {
        get_info(0, argsz[i], &r);
        assert_int_equal(r.r, 0);
        assert_int_equal(r.len, 32);
        assert_int_equal(r.info.argsz, need);
        assert_int_equal(r.info.flags, RWM | UVFIO_REGION_FLAG_CAPS);
        assert_int_equal(r.info.cap_offset, 0);
        assert_int_equal(r.info.size, 0x4000);
        assert_int_equal(r.fd, -1);
    }

    /* Exactly enough, and more than enough: the same full answer. */
    argsz[0] = need;
    argsz[1] = 4096;
    for (i = 0; i < 2; i++) {
        get_info(0, argsz[i], &r);
        assert_int_equal(r.r, 0);
        assert_int_equal(r.len, need);
        assert_int_equal(r.info.argsz, need);
        assert_int_equal(r.info.flags, RWM | UVFIO_REGION_FLAG_CAPS);
        assert_int_equal(r.info.cap_offset, 32);
        assert_true(r.fd >= 0);
        cap = (const struct uvfio_wire_cap_sparse_mmap *)cap_at(&r, 32);
        assert_int_equal(cap->header.id, UVFIO_REGION_CAP_SPARSE_MMAP);
        assert_int_equal(cap->header.version, 1);
        assert_int_equal(cap->header.next, 0);
        assert_int_equal(cap->nr_areas, 2);
        assert_int_equal(cap->reserved, 0);
        a = (const struct uvfio_wire_sparse_area *)(cap + 1);
        assert_int_equal(a[0].offset, 0);
        assert_int_equal(a[0].size, 0x1000);
        assert_int_equal(a[1].offset, 0x3000);
        assert_int_equal(a[1].size, 0x1000);
    }
}

/* Several capabilities: `next` counts from the start of the info struct
 * and the last one ends the chain. */
static void test_region_info_cap_chain(void **state)
{
    const struct uvfio_sparse_area areas[] = { { 0x1000, 0x1000 } };
    struct uvfio_region_config rc = {
        .size = 0x2000, .flags = RWM, .mmap_fd = memfd, .nr_sparse = 1,
        .sparse = areas, .type = UVFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086,
        .subtype = 7, .msix_mappable = true,
    };
    const uint32_t sparse_len = 16 + 16, need = 32 + sparse_len + 16 + 8;
    const struct uvfio_wire_cap_header *h;
    const struct uvfio_wire_cap_type *type;
    struct info_reply r;

    (void)state;
    assert_int_equal(uvfio_device_set_region(dev, 9, &rc), 0);
    get_info(9, 32, &r);
    assert_int_equal(r.info.argsz, need);
    assert_int_equal(r.len, 32);

    get_info(9, need, &r);
    assert_int_equal(r.r, 0);
    assert_int_equal(r.len, need);
    assert_int_equal(r.info.cap_offset, 32);
    h = cap_at(&r, r.info.cap_offset);
    assert_int_equal(h->id, UVFIO_REGION_CAP_SPARSE_MMAP);
    assert_int_equal(h->next, 32 + sparse_len);
    type = (const struct uvfio_wire_cap_type *)cap_at(&r, h->next);
    assert_int_equal(type->header.id, UVFIO_REGION_CAP_TYPE);
    assert_int_equal(type->header.version, 1);
    assert_int_equal(type->type, UVFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086);
    assert_int_equal(type->subtype, 7);
    assert_int_equal(type->header.next, 32 + sparse_len + 16);
    h = cap_at(&r, type->header.next);
    assert_int_equal(h->id, UVFIO_REGION_CAP_MSIX_MAPPABLE);
    assert_int_equal(h->version, 1);
    assert_int_equal(h->next, 0);
}

static void test_region_info_type_only(void **state)
{
    const struct uvfio_wire_cap_type *type;
    struct info_reply r;

    (void)state;
    assert_int_equal(set(10, 0x100, RW, -1, 0, NULL, 0, 3), 0);
    get_info(10, 48, &r);
    assert_int_equal(r.r, 0);
    assert_int_equal(r.len, 48);
    assert_int_equal(r.info.argsz, 48);
    assert_int_equal(r.info.flags, RW | UVFIO_REGION_FLAG_CAPS);
    assert_int_equal(r.info.cap_offset, 32);
    assert_int_equal(r.fd, -1);
    type = (const struct uvfio_wire_cap_type *)cap_at(&r, 32);
    assert_int_equal(type->header.id, UVFIO_REGION_CAP_TYPE);
    assert_int_equal(type->header.next, 0);
    assert_int_equal(type->type, 3);
    assert_int_equal(type->subtype, 0);
}

/* ---- GET_REGION_IO_FDS ------------------------------------------------- */

static int io_fds(uint32_t argsz, uint32_t flags, uint32_t index,
                  uint32_t count, struct uvfio_wire_region_io_fds *out)
{
    struct uvfio_wire_region_io_fds req = {
        .argsz = argsz, .flags = flags, .index = index, .count = count,
    };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int r = uvfio_core_get_region_io_fds(dev, &req, &rep);

    if (!r) {
        assert_int_equal(rep.len, sizeof(*out));
        memcpy(out, rep.data, sizeof(*out));
    } else {
        assert_int_equal(rep.len, 0);
    }
    uvfio_buf_free(&rep);
    return r;
}

static void test_region_io_fds(void **state)
{
    struct uvfio_wire_region_io_fds out;

    (void)state;
    assert_int_equal(io_fds(15, 0, 0, 0, &out), -EINVAL);
    assert_int_equal(io_fds(16, 0, 12, 0, &out), -EINVAL);
    assert_int_equal(io_fds(16, 1, 0, 0, &out), -EINVAL);
    assert_int_equal(io_fds(16, 0, 0, 1, &out), -EINVAL);
    assert_int_equal(io_fds(1024, 0, 4, 0, &out), 0);
    assert_int_equal(out.argsz, 16);
    assert_int_equal(out.flags, 0);
    assert_int_equal(out.index, 4);
    assert_int_equal(out.count, 0);
}

/* ---- REGION_READ / REGION_WRITE ---------------------------------------- */

static void test_region_rw_good(void **state)
{
    uint8_t buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, back[8] = { 0 };

    (void)state;
    assert_int_equal(set(4, 0x1000, RW, -1, 0, NULL, 0, 0), 0);
    assert_int_equal(uvfio_core_region_write(dev, 4, 0x10, buf, 8), 8);
    assert_int_equal(f.last_index, 4);
    assert_int_equal(f.last_offset, 0x10);
    assert_int_equal(f.last_count, 8);
    assert_int_equal(uvfio_core_region_read(dev, 4, 0x10, back, 8), 8);
    assert_memory_equal(buf, back, 8);
    /* The last byte, and the whole region. */
    assert_int_equal(uvfio_core_region_read(dev, 4, 0xfff, back, 1), 1);
    assert_int_equal(f.last_offset, 0xfff);
    assert_int_equal(f.reads, 2);
}

static void test_region_rw_rejected(void **state)
{
    uint8_t buf[16] = { 0 };

    (void)state;
    assert_int_equal(set(4, 0x1000, UVFIO_REGION_FLAG_READ, -1, 0, NULL, 0, 0),
                     0);
    assert_int_equal(set(5, 0x1000, UVFIO_REGION_FLAG_WRITE, -1, 0, NULL, 0, 0),
                     0);
    assert_int_equal(uvfio_core_region_read(dev, 12, 0, buf, 1), -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 6, 0, buf, 1), -EINVAL);
    assert_int_equal(uvfio_core_region_write(dev, 4, 0, buf, 1), -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 5, 0, buf, 1), -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 4, 0xff9, buf, 8), -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 4, 0x1000, buf, 1), -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 4, UINT64_MAX, buf, 2),
                     -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 4, 8, buf, SIZE_MAX),
                     -EINVAL);
    assert_int_equal(uvfio_core_region_read(dev, 4, 0, buf, 0), -EINVAL);
    assert_int_equal(uvfio_core_region_write(dev, 5, 0x1000, buf, 0),
                     -EINVAL);
    assert_int_equal(f.reads + f.writes, 0);
}

static void test_region_rw_driver_results(void **state)
{
    uint8_t buf[8] = { 0 };

    (void)state;
    assert_int_equal(set(4, 0x1000, RW, -1, 0, NULL, 0, 0), 0);
    f.rw_override = true;
    f.rw_ret = 4;                       /* short */
    assert_int_equal(uvfio_core_region_read(dev, 4, 0, buf, 8), -EIO);
    assert_int_equal(uvfio_core_region_write(dev, 4, 0, buf, 8), -EIO);
    f.rw_ret = 9;                       /* more than asked */
    assert_int_equal(uvfio_core_region_read(dev, 4, 0, buf, 8), -EIO);
    f.rw_ret = -EAGAIN;                 /* a real errno passes through */
    assert_int_equal(uvfio_core_region_read(dev, 4, 0, buf, 8), -EAGAIN);
    assert_int_equal(uvfio_core_region_write(dev, 4, 0, buf, 8), -EAGAIN);
    f.rw_ret = -5000;                   /* not an errno */
    assert_int_equal(uvfio_core_region_read(dev, 4, 0, buf, 8), -EIO);
}

static void test_region_rw_no_ops(void **state)
{
    struct uvfio_region_config rc = { .size = 0x100, .flags = RW };
    struct uvfio_device_ops ops = fake_ops;
    struct fake g = { 0 };
    struct uvfio_device *d;
    uint8_t buf[4] = { 0 };

    (void)state;
    ops.read = NULL;
    ops.write = NULL;
    d = fake_create(&g, &ops, false, 1, 0, NULL);
    assert_int_equal(uvfio_device_set_region(d, 0, &rc), 0);
    assert_int_equal(uvfio_core_region_read(d, 0, 0, buf, 4), -EINVAL);
    assert_int_equal(uvfio_core_region_write(d, 0, 0, buf, 4), -EINVAL);
    uvfio_device_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_region_validation, setup,
                                        teardown),
        cmocka_unit_test(test_set_region_non_pci_needs_no_type),
        cmocka_unit_test_setup_teardown(test_set_region_fd_ownership, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_info_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_info_plain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_info_mmap_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_info_sparse_truncation,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_info_cap_chain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_info_type_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_io_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_rw_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_region_rw_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_region_rw_driver_results, setup,
                                        teardown),
        cmocka_unit_test(test_region_rw_no_ops),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
