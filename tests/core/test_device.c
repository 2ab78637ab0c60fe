// SPDX-License-Identifier: MIT
/*
 * tests/core/test_device.c - device life cycle: create validation,
 * DEVICE_GET_INFO, attach/detach, DEVICE_RESET, request.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/migration.h>
#include <uvfio/uvfio.h>

#include "core/internal.h"
#include "fake.h"

static int try_create(const struct uvfio_device_ops *ops, bool pci,
                      uint32_t nreg, uint32_t nirq)
{
    struct uvfio_device_config cfg = {
        .ops = ops, .num_regions = nreg, .num_irqs = nirq, .pci = pci,
    };
    struct uvfio_device *dev = NULL;
    int r = uvfio_device_create(&cfg, &dev);

    if (r == 0)
        uvfio_device_destroy(dev);
    else
        assert_null(dev);
    return r;
}

static void test_create_validation(void **state)
{
    struct uvfio_device_config cfg = { .ops = &fake_ops };
    struct uvfio_device *dev = NULL;

    (void)state;
    assert_int_equal(uvfio_device_create(NULL, &dev), -EINVAL);
    assert_int_equal(uvfio_device_create(&cfg, NULL), -EINVAL);
    assert_int_equal(try_create(NULL, false, 1, 1), -EINVAL);
    assert_int_equal(try_create(&fake_ops, false, 65, 1), -EINVAL);
    assert_int_equal(try_create(&fake_ops, false, 1, 17), -EINVAL);
    assert_int_equal(try_create(&fake_ops, true, 8, 5), -EINVAL);
    assert_int_equal(try_create(&fake_ops, true, 9, 4), -EINVAL);

    assert_int_equal(try_create(&fake_ops, false, 0, 0), 0);
    assert_int_equal(try_create(&fake_ops, false, 64, 16), 0);
    assert_int_equal(try_create(&fake_ops, true, 9, 5), 0);
}

/* uvfio_mig_init runs at create: a driver's bad migration declaration
 * fails the create, and everything built so far is torn down. */
static void test_create_mig_init_failure_unwinds(void **state)
{
    struct uvfio_device_config cfg = {
        .ops = &fake_ops, .num_regions = 2, .num_irqs = 1,
        .migration_flags = UVFIO_MIGRATION_STOP_COPY,   /* no mig_ops */
    };
    struct uvfio_device *dev = NULL;
    int fds = count_open_fds();

    (void)state;
    assert_int_equal(uvfio_device_create(&cfg, &dev), -EINVAL);
    assert_null(dev);
    assert_int_equal(count_open_fds(), fds);
}

static void test_name_and_priv(void **state)
{
    static const struct uvfio_device_ops anon_ops = { .reset = NULL };
    struct uvfio_device_config cfg = { .ops = &fake_ops, .priv = &cfg };
    struct uvfio_device *dev;

    (void)state;
    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    assert_string_equal(uvfio_device_name(dev), "fake");
    assert_ptr_equal(uvfio_device_priv(dev), &cfg);
    assert_ptr_equal(uvfio_device_cfg(dev)->ops, &fake_ops);
    uvfio_device_destroy(dev);

    cfg.name = "given";
    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    assert_string_equal(uvfio_device_name(dev), "given");
    uvfio_device_destroy(dev);

    cfg.name = NULL;
    cfg.ops = &anon_ops;
    assert_int_equal(uvfio_device_create(&cfg, &dev), 0);
    assert_string_equal(uvfio_device_name(dev), "uvfio");
    uvfio_device_destroy(dev);
}

static void get_info(struct uvfio_device *dev, uint32_t argsz, int want_r,
                     struct uvfio_wire_device_info *out)
{
    struct uvfio_wire_device_info req = { .argsz = argsz };
    struct uvfio_buf rep = UVFIO_BUF_INIT;

    assert_int_equal(uvfio_core_get_info(dev, &req, &rep), want_r);
    if (!want_r) {
        assert_int_equal(rep.len, sizeof(*out));
        memcpy(out, rep.data, sizeof(*out));
    }
    uvfio_buf_free(&rep);
}

static void test_get_info(void **state)
{
    struct uvfio_device_ops no_reset = fake_ops;
    struct uvfio_wire_device_info info;
    struct fake f = { 0 }, g = { 0 };
    struct uvfio_device *dev;

    (void)state;
    dev = fake_create(&f, NULL, true, 10, 5, NULL);
    get_info(dev, 15, -EINVAL, NULL);
    get_info(dev, 0, -EINVAL, NULL);
    get_info(dev, 16, 0, &info);
    assert_int_equal(info.argsz, 16);
    assert_int_equal(info.flags,
                     UVFIO_DEVICE_FLAGS_RESET | UVFIO_DEVICE_FLAGS_PCI);
    assert_int_equal(info.num_regions, 10);
    assert_int_equal(info.num_irqs, 5);
    /* A bigger buffer changes nothing: the reply says what it needs. */
    get_info(dev, 4096, 0, &info);
    assert_int_equal(info.argsz, 16);
    uvfio_device_destroy(dev);

    no_reset.reset = NULL;
    dev = fake_create(&g, &no_reset, false, 3, 2, NULL);
    get_info(dev, 16, 0, &info);
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.num_regions, 3);
    assert_int_equal(info.num_irqs, 2);
    uvfio_device_destroy(dev);
}

static void test_attach_detach(void **state)
{
    struct fake_client a, b;
    struct fake f = { 0 };
    struct uvfio_device *dev;

    (void)state;
    fake_client_init(&a, 0, 0, 4096, 7);
    fake_client_init(&b, 0, 0, 4096, 7);
    dev = fake_create(&f, NULL, false, 1, 1, NULL);
    assert_null(uvfio_device_client(dev));
    assert_int_equal(uvfio_device_open_count(dev), 0);

    assert_int_equal(uvfio_core_attach(dev, &a.cl), 0);
    assert_int_equal(f.opens, 1);
    assert_int_equal(uvfio_device_open_count(dev), 1);
    assert_non_null(uvfio_device_client(dev));
    assert_ptr_equal(uvfio_device_client(dev)->ctx, &a);
    assert_int_equal(uvfio_device_client(dev)->max_dma_maps, 7);

    /* One client at a time; the first keeps the device. */
    assert_int_equal(uvfio_core_attach(dev, &b.cl), -EBUSY);
    assert_int_equal(f.opens, 1);
    assert_ptr_equal(uvfio_device_client(dev)->ctx, &a);

    uvfio_core_detach(dev);
    assert_int_equal(f.closes, 1);
    assert_int_equal(uvfio_device_open_count(dev), 0);
    assert_null(uvfio_device_client(dev));
    uvfio_core_detach(dev);
    assert_int_equal(f.closes, 1);

    assert_int_equal(uvfio_core_attach(dev, &b.cl), 0);
    assert_int_equal(f.opens, 2);
    assert_ptr_equal(uvfio_device_client(dev)->ctx, &b);
    uvfio_core_detach(dev);
    uvfio_device_destroy(dev);
}

static void test_attach_open_fails(void **state)
{
    struct fake_client a;
    struct fake f = { .open_ret = -EIO };
    struct uvfio_device *dev;

    (void)state;
    fake_client_init(&a, 0, 0, 4096, 7);
    dev = fake_create(&f, NULL, false, 1, 1, NULL);
    assert_int_equal(uvfio_core_attach(dev, &a.cl), -EIO);
    assert_int_equal(uvfio_device_open_count(dev), 0);
    assert_null(uvfio_device_client(dev));
    assert_int_equal(f.closes, 0);

    f.open_ret = 0;
    assert_int_equal(uvfio_core_attach(dev, &a.cl), 0);
    uvfio_core_detach(dev);
    assert_int_equal(f.closes, 1);
    uvfio_device_destroy(dev);
}

static void set_trigger(struct uvfio_device *dev, uint32_t index, int efd)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr), .index = index, .start = 0, .count = 1,
        .flags = UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER,
    };
    int fd = fd_dup(efd);

    assert_int_equal(uvfio_core_set_irqs(dev, &hdr, NULL, 0, &fd, 1), 0);
    assert_int_equal(fd, -1);
}

static void map_window(struct uvfio_device *dev, uint64_t iova, int memfd)
{
    struct uvfio_wire_dma_map req = {
        .argsz = sizeof(req), .addr = iova, .size = 4096,
        .flags = UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE,
    };
    int fd = memfd >= 0 ? fd_dup(memfd) : -1;

    assert_int_equal(uvfio_core_dma_map(dev, &req, &fd), 0);
    assert_int_equal(fd, -1);
}

/* What belonged to the client goes with it; what belongs to the device
 * (its regions, IRQ declarations) stays for the next client. */
static void test_detach_drops_client_state(void **state)
{
    struct uvfio_irq_config ic = { .count = 1 };
    struct uvfio_region_config rc = {
        .size = 4096, .flags = UVFIO_REGION_FLAG_READ,
    };
    struct uvfio_wire_region_info rreq = { .argsz = 32, .index = 0 };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    int efd = efd_new(), memfd = memfd_new(4096), fds, rfd;
    struct fake_client a;
    struct fake f = { 0 };
    struct uvfio_device *dev;
    uint8_t byte = 0;

    (void)state;
    fake_client_init(&a, 0x100000, 4096, 4096, 16);
    dev = fake_create(&f, NULL, false, 1, 1, NULL);
    assert_int_equal(uvfio_device_set_region(dev, 0, &rc), 0);
    assert_int_equal(uvfio_device_set_irq(dev, 0, &ic), 0);
    fds = count_open_fds();

    fake_attach(dev, &a);
    map_window(dev, 0x1000, memfd);
    map_window(dev, 0x100000, -1);
    set_trigger(dev, 0, efd);
    assert_true(uvfio_irq_enabled(dev, 0, 0));
    assert_int_equal(uvfio_dma_read(dev, 0x1000, &byte, 1), 0);

    uvfio_core_detach(dev);
    assert_int_equal(f.unmaps, 2);
    assert_int_equal(f.unmap_iova[0], 0x1000);
    assert_int_equal(f.unmap_len[0], 4096);
    assert_int_equal(f.unmap_iova[1], 0x100000);
    assert_int_equal(f.unmap_len[1], 4096);
    assert_false(uvfio_irq_enabled(dev, 0, 0));
    assert_int_equal(uvfio_dma_read(dev, 0x1000, &byte, 1), -EFAULT);
    assert_int_equal(uvfio_dma_read(dev, 0x100000, &byte, 1), -EFAULT);
    assert_int_equal(uvfio_irq_trigger(dev, 0, 0), -ENOENT);
    /* The core's eventfd copy is closed. */
    assert_int_equal(count_open_fds(), fds);

    assert_int_equal(uvfio_core_get_region_info(dev, &rreq, &rep, &rfd), 0);
    assert_int_equal(((struct uvfio_wire_region_info *)rep.data)->size, 4096);
    uvfio_buf_free(&rep);

    uvfio_device_destroy(dev);
    fake_client_fini(&a);
    close(efd);
    close(memfd);
}

static void mask_vector0(struct uvfio_device *dev)
{
    struct uvfio_wire_irq_set hdr = {
        .argsz = sizeof(hdr), .index = 0, .start = 0, .count = 1,
        .flags = UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK,
    };

    assert_int_equal(uvfio_core_set_irqs(dev, &hdr, NULL, 0, NULL, 0), 0);
}

static void test_reset(void **state)
{
    struct uvfio_irq_config ic = { .count = 1,
                                   .flags = UVFIO_IRQ_INFO_MASKABLE };
    struct uvfio_device_ops no_reset = fake_ops;
    struct fake f = { 0 }, g = { 0 };
    struct uvfio_device *dev;
    int efd = efd_new();

    (void)state;
    no_reset.reset = NULL;
    dev = fake_create(&g, &no_reset, false, 1, 1, NULL);
    assert_int_equal(uvfio_core_reset(dev), -EINVAL);
    uvfio_device_destroy(dev);

    dev = fake_create(&f, NULL, false, 1, 1, NULL);
    assert_int_equal(uvfio_device_set_irq(dev, 0, &ic), 0);
    set_trigger(dev, 0, efd);
    mask_vector0(dev);
    assert_int_equal(uvfio_irq_trigger(dev, 0, 0), 0);
    assert_int_equal(efd_read(efd), 0);

    /* A failing driver reset leaves the core's state alone. */
    f.reset_ret = -EIO;
    assert_int_equal(uvfio_core_reset(dev), -EIO);
    assert_int_equal(f.resets, 1);
    assert_int_equal(uvfio_irq_trigger(dev, 0, 0), 0);
    assert_int_equal(efd_read(efd), 0);

    /* A good one clears masks and pending bits and keeps the eventfd. */
    f.reset_ret = 0;
    assert_int_equal(uvfio_core_reset(dev), 0);
    assert_int_equal(f.resets, 2);
    assert_true(uvfio_irq_enabled(dev, 0, 0));
    assert_int_equal(efd_read(efd), 0);
    assert_int_equal(uvfio_irq_trigger(dev, 0, 0), 0);
    assert_int_equal(efd_read(efd), 1);

    uvfio_device_destroy(dev);
    close(efd);
}

static void test_request(void **state)
{
    struct uvfio_irq_config req = { .count = 1 };
    struct uvfio_device_ops no_request = fake_ops;
    struct fake f = { 0 }, g = { 0 };
    struct uvfio_device *dev;
    int efd = efd_new();

    (void)state;
    /* The driver's op, when it has one. */
    dev = fake_create(&f, NULL, true, 9, 5, NULL);
    assert_int_equal(uvfio_device_set_irq(dev, UVFIO_PCI_REQ_IRQ_INDEX, &req),
                     0);
    set_trigger(dev, UVFIO_PCI_REQ_IRQ_INDEX, efd);
    uvfio_device_request(dev, 3);
    assert_int_equal(f.requests, 1);
    assert_int_equal(f.last_request, 3);
    assert_int_equal(efd_read(efd), 0);
    uvfio_device_destroy(dev);

    /* Otherwise a signal on the REQ eventfd, once per call. */
    no_request.request = NULL;
    dev = fake_create(&g, &no_request, true, 9, 5, NULL);
    assert_int_equal(uvfio_device_set_irq(dev, UVFIO_PCI_REQ_IRQ_INDEX, &req),
                     0);
    uvfio_device_request(dev, 0);       /* no eventfd: only a warning */
    set_trigger(dev, UVFIO_PCI_REQ_IRQ_INDEX, efd);
    uvfio_device_request(dev, 0);
    uvfio_device_request(dev, 1);
    assert_int_equal(efd_read(efd), 2);
    uvfio_device_destroy(dev);
    close(efd);
}

static void test_destroy_attached_closes(void **state)
{
    struct fake_client a;
    struct fake f = { 0 };
    struct uvfio_device *dev;

    (void)state;
    fake_client_init(&a, 0, 0, 4096, 4);
    dev = fake_create(&f, NULL, false, 1, 0, NULL);
    fake_attach(dev, &a);
    map_window(dev, 0x2000, -1);
    uvfio_device_destroy(dev);
    assert_int_equal(f.closes, 1);
    assert_int_equal(f.unmaps, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_create_mig_init_failure_unwinds),
        cmocka_unit_test(test_name_and_priv),
        cmocka_unit_test(test_get_info),
        cmocka_unit_test(test_attach_detach),
        cmocka_unit_test(test_attach_open_fails),
        cmocka_unit_test(test_detach_drops_client_state),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_destroy_attached_closes),
    };

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
