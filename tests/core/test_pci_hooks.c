// SPDX-License-Identifier: MIT
/*
 * tests/core/test_pci_hooks.c - the device core with the real PCI model
 * attached: accesses it owns never reach the driver, DMA obeys bus
 * mastering, DEVICE_RESET resets config space, destroy frees the model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvfio/uvfio.h>

#include "core/internal.h"
#include "fake.h"

#define CMD_MEM     (1u << 1)
#define CMD_MASTER  (1u << 2)

static struct fake f;
static struct fake_client fc;
static struct uvfio_device *dev;
static struct uvfio_pci *pci;

static int setup(void **state)
{
    struct uvfio_pci_config pc = {
        .vendor_id = 0x1af4, .device_id = 0x10f0, .class_code = 0x070002,
        .intx_pin = 1,
    };

    (void)state;
    memset(&f, 0, sizeof(f));
    dev = fake_create(&f, NULL, true, 9, 5, NULL);
    assert_int_equal(uvfio_pci_attach(dev, &pc, &pci), 0);
    assert_ptr_equal(uvfio_device_pci(dev), pci);
    assert_int_equal(uvfio_pci_add_bar(pci, 0, 0x1000, UVFIO_PCI_BAR_MEM32,
                                       NULL), 0);
    fake_client_init(&fc, 0, 0, 4096, 8);
    fake_attach(dev, &fc);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uvfio_core_detach(dev);
    /* Frees the model too: ASan and valgrind would see it otherwise. */
    uvfio_device_destroy(dev);
    fake_client_fini(&fc);
    return 0;
}

static uint16_t config_read16(uint32_t off)
{
    uint16_t v = 0;

    assert_int_equal(uvfio_core_region_read(dev, UVFIO_PCI_CONFIG_REGION, off,
                                            &v, 2), 2);
    return v;
}

static void command_write(uint16_t cmd)
{
    assert_int_equal(uvfio_core_region_write(dev, UVFIO_PCI_CONFIG_REGION, 4,
                                             &cmd, 2), 2);
}

static void test_config_space_is_the_models(void **state)
{
    uint16_t v;

    (void)state;
    assert_int_equal(config_read16(0), 0x1af4);
    assert_int_equal(config_read16(2), 0x10f0);
    command_write(CMD_MEM);
    assert_int_equal(config_read16(4) & CMD_MEM, CMD_MEM);
    assert_int_equal(f.reads + f.writes, 0);
    /* The core's bounds still come first. */
    assert_int_equal(uvfio_core_region_read(dev, UVFIO_PCI_CONFIG_REGION, 255,
                                            &v, 2), -EINVAL);
}

static void test_bar_decode_gates_driver(void **state)
{
    uint32_t v = 0;

    (void)state;
    /* Memory decode off: the function does not answer, the driver is not
     * asked. */
    assert_int_equal(uvfio_core_region_read(dev, 0, 0x10, &v, 4), 4);
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(f.reads, 0);
    command_write(CMD_MEM);
    f.mem[0x10] = 0x5a;
    assert_int_equal(uvfio_core_region_read(dev, 0, 0x10, &v, 4), 4);
    assert_int_equal(f.reads, 1);
    assert_int_equal(v & 0xff, 0x5a);
}

static void test_dma_needs_bus_master(void **state)
{
    struct uvfio_wire_dma_map req = {
        .argsz = 32, .flags = UVFIO_DMA_MAP_FLAG_READ |
                              UVFIO_DMA_MAP_FLAG_WRITE,
        .addr = 0x10000, .size = 4096,
    };
    int memfd = memfd_new(4096), fd = fd_dup(memfd);
    struct uvfio_dma_pin pin;
    uint8_t byte = 0;

    (void)state;
    assert_int_equal(uvfio_core_dma_map(dev, &req, &fd), 0);
    assert_int_equal(uvfio_dma_read(dev, 0x10000, &byte, 1), -EPERM);
    assert_int_equal(uvfio_dma_write(dev, 0x10000, &byte, 1), -EPERM);
    assert_int_equal(uvfio_dma_pin(dev, 0x10000, 8, false, &pin), -EPERM);
    command_write(CMD_MASTER);
    assert_int_equal(uvfio_dma_read(dev, 0x10000, &byte, 1), 0);
    assert_int_equal(uvfio_dma_pin(dev, 0x10000, 8, false, &pin), 0);
    uvfio_dma_unpin(dev, &pin);
    command_write(0);
    assert_int_equal(uvfio_dma_write(dev, 0x10000, &byte, 1), -EPERM);
    close(memfd);
}

static void test_reset_resets_config(void **state)
{
    (void)state;
    command_write(CMD_MEM | CMD_MASTER);
    assert_int_equal(config_read16(4), CMD_MEM | CMD_MASTER);
    assert_int_equal(uvfio_core_reset(dev), 0);
    assert_int_equal(f.resets, 1);
    assert_int_equal(config_read16(4), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_space_is_the_models),
        T(test_bar_decode_gates_driver),
        T(test_dma_needs_bus_master),
        T(test_reset_resets_config),
    };
#undef T

    uvfio_log_set_level(UVFIO_LOG_NONE);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
