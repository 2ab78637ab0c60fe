// SPDX-License-Identifier: MIT
/*
 * tests/edu/test_dma.c - edu's DMA engine through the core: both
 * directions over fd-backed and message-path maps, the completion
 * interrupt, every way a command can be refused (outside the buffer,
 * unmapped, read-only, bus mastering off) with nothing moved, the DMA
 * mask, and a command held by migration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"

#define RAM_IOVA        0x100000u
#define RAM_SIZE        0x10000u
#define MSG_IOVA        0x200000u
#define MSG_SIZE        0x4000u
#define RW              (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)

struct dma_fx {
    struct fx *f;
    uint8_t *ram;
    int ram_fd;
    uint8_t *msg;
};

static void fill(uint8_t *p, size_t len, unsigned int salt)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + salt + (i >> 8));
}

static int setup_opts(void **state, const struct edu_opts *o)
{
    struct dma_fx *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    d->f = fx_create(o);
    d->ram = fx_memfd(RAM_SIZE, &d->ram_fd);
    d->msg = calloc(1, MSG_SIZE);
    assert_non_null(d->msg);
    assert_int_equal(fx_map_fd(d->f, RAM_IOVA, RAM_SIZE, d->ram_fd, RW), 0);
    assert_int_equal(fx_map_msg(d->f, MSG_IOVA, MSG_SIZE, d->msg, RW), 0);
    *state = d;
    return 0;
}

static int setup(void **state)
{
    return setup_opts(state, NULL);
}

static int setup_wide_mask(void **state)
{
    const struct edu_opts o = { .dma_mask = UINT64_MAX };

    return setup_opts(state, &o);
}

static int teardown(void **state)
{
    struct dma_fx *d = *state;

    fx_destroy(d->f);
    fx_memfd_free(d->ram, RAM_SIZE, d->ram_fd);
    free(d->msg);
    free(d);
    return 0;
}

static void test_round_trip_fd(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;

    fill(d->ram, RAM_SIZE, 1);
    memset(d->ram + 0x8000, 0xee, 0x2000);
    assert_int_equal(fx_dma(f, RAM_IOVA + 100, EDU_DMA_BUF_ADDR, 4096, 0), 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), 0);  /* RUN cleared */
    assert_int_equal(fx_dma(f, EDU_DMA_BUF_ADDR, RAM_IOVA + 0x8001, 4096,
                            EDU_DMA_CMD_TO_RAM), 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), EDU_DMA_CMD_TO_RAM);
    assert_memory_equal(d->ram + 0x8001, d->ram + 100, 4096);
    assert_int_equal(d->ram[0x8000], 0xee);         /* nothing around it */
    assert_int_equal(d->ram[0x8001 + 4096], 0xee);
    assert_int_equal(f->dma_rw_calls, 0);           /* all direct */
}

/* A part of the buffer, both ways; the rest of the buffer is untouched. */
static void test_partial_buffer(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;
    uint8_t out[EDU_DMA_BUF_SIZE], zero[EDU_DMA_BUF_SIZE] = { 0 };

    fill(d->ram, 300, 9);
    assert_int_equal(fx_dma(f, RAM_IOVA, EDU_DMA_BUF_ADDR + 100, 200, 0), 0);
    /* the last byte of the buffer, alone */
    assert_int_equal(fx_dma(f, RAM_IOVA + 299, EDU_DMA_BUF_ADDR + 4095, 1,
                            0), 0);
    fx_read_buffer(f, RAM_IOVA + 0x4000, d->ram + 0x4000, out);
    assert_memory_equal(out, zero, 100);
    assert_memory_equal(out + 100, d->ram, 200);
    assert_memory_equal(out + 300, zero, 4095 - 300);
    assert_int_equal(out[4095], d->ram[299]);
}

static void test_round_trip_message(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;

    fill(d->msg, MSG_SIZE, 5);
    assert_int_equal(fx_dma(f, MSG_IOVA + 3, EDU_DMA_BUF_ADDR, 4096, 0), 0);
    assert_int_equal(fx_dma(f, EDU_DMA_BUF_ADDR, MSG_IOVA + 0x2000 - 7, 1000,
                            EDU_DMA_CMD_TO_RAM), 0);
    assert_memory_equal(d->msg + 0x2000 - 7, d->msg + 3, 1000);
    assert_true(f->dma_rw_calls >= 2);
    /* and across to fd-backed memory */
    assert_int_equal(fx_dma(f, EDU_DMA_BUF_ADDR, RAM_IOVA, 4096,
                            EDU_DMA_CMD_TO_RAM), 0);
    assert_memory_equal(d->ram, d->msg + 3, 4096);
}

static void test_completion_interrupt(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;
    int efd = efd_new();

    assert_int_equal(fx_irq_eventfd(f, UVFIO_PCI_INTX_IRQ_INDEX, efd), 0);
    assert_int_equal(fx_dma(f, RAM_IOVA, EDU_DMA_BUF_ADDR, 64, 0), 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(efd_take(efd), 0);
    assert_int_equal(fx_dma(f, RAM_IOVA, EDU_DMA_BUF_ADDR, 64,
                            EDU_DMA_CMD_IRQ), 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
    assert_int_equal(efd_take(efd), 1);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), EDU_DMA_CMD_IRQ);
    wr32(f, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    close(efd);
}

/* Refused commands move nothing, complete, and say why in DMA_ERROR;
 * the completion interrupt still comes so a driver never waits forever. */
static void expect_refused(struct dma_fx *d, uint64_t src, uint64_t dst,
                           uint64_t cnt, uint32_t cmd, uint32_t err)
{
    struct fx *f = d->f;
    uint8_t before[EDU_DMA_BUF_SIZE], after[EDU_DMA_BUF_SIZE];
    uint8_t ram_before[RAM_SIZE];

    fx_read_buffer(f, RAM_IOVA + 0xe000, d->ram + 0xe000, before);
    memcpy(ram_before, d->ram, RAM_SIZE);
    wr32(f, EDU_REG_IRQ_ACK, 0xffffffff);
    assert_int_equal(fx_dma(f, src, dst, cnt, cmd | EDU_DMA_CMD_IRQ), err);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD) & EDU_DMA_CMD_RUN, 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
    assert_memory_equal(d->ram, ram_before, RAM_SIZE);
    fx_read_buffer(f, RAM_IOVA + 0xe000, d->ram + 0xe000, after);
    assert_memory_equal(before, after, sizeof(before));
}

static void test_outside_buffer(void **state)
{
    struct dma_fx *d = *state;
    const uint32_t to = EDU_DMA_CMD_TO_RAM;

    fill(d->ram, 0xe000, 3);
    assert_int_equal(fx_dma(d->f, RAM_IOVA, EDU_DMA_BUF_ADDR, 4096, 0), 0);
    /* runs off the end */
    expect_refused(d, RAM_IOVA, EDU_DMA_BUF_ADDR + 4000, 200, 0, EINVAL);
    expect_refused(d, EDU_DMA_BUF_ADDR + 4000, RAM_IOVA, 97, to, EINVAL);
    /* larger than the buffer */
    expect_refused(d, RAM_IOVA, EDU_DMA_BUF_ADDR, 4097, 0, EINVAL);
    /* starts before it, or past it */
    expect_refused(d, RAM_IOVA, EDU_DMA_BUF_ADDR - 1, 2, 0, EINVAL);
    expect_refused(d, EDU_DMA_BUF_ADDR + 4096, RAM_IOVA, 1, to, EINVAL);
    /* sizes and addresses that would wrap */
    expect_refused(d, RAM_IOVA, EDU_DMA_BUF_ADDR, UINT64_MAX, 0, EINVAL);
    expect_refused(d, RAM_IOVA, UINT64_MAX, 2, 0, EINVAL);
    expect_refused(d, UINT64_MAX - 1, RAM_IOVA, 4, to, EINVAL);
    /* the buffer's other side in the buffer too: RAM address 0x40000 is
     * a RAM address, unmapped here */
    expect_refused(d, EDU_DMA_BUF_ADDR, EDU_DMA_BUF_ADDR, 16, 0, EFAULT);
    /* zero bytes, even at the very end of the buffer: done, nothing moved */
    assert_int_equal(fx_dma(d->f, RAM_IOVA, EDU_DMA_BUF_ADDR + 4096, 0, 0), 0);
}

static void test_unmapped_and_read_only(void **state)
{
    struct dma_fx *d = *state;
    uint8_t *ro;
    int ro_fd;

    ro = fx_memfd(0x1000, &ro_fd);
    memset(ro, 0x5a, 0x1000);
    assert_int_equal(fx_map_fd(d->f, 0x300000, 0x1000, ro_fd,
                               UVFIO_DMA_MAP_FLAG_READ), 0);
    /* past the end of a map, and nowhere at all */
    expect_refused(d, RAM_IOVA + RAM_SIZE - 8, EDU_DMA_BUF_ADDR, 16, 0,
                   EFAULT);
    expect_refused(d, 0xf00000, EDU_DMA_BUF_ADDR, 16, 0, EFAULT);
    expect_refused(d, EDU_DMA_BUF_ADDR, 0xf00000, 16, EDU_DMA_CMD_TO_RAM,
                   EFAULT);
    /* a read-only map can be read, not written */
    assert_int_equal(fx_dma(d->f, 0x300000, EDU_DMA_BUF_ADDR, 16, 0), 0);
    expect_refused(d, EDU_DMA_BUF_ADDR, 0x300000, 16, EDU_DMA_CMD_TO_RAM,
                   EFAULT);
    assert_int_equal(ro[0], 0x5a);
    /* a message-path map the client no longer serves */
    assert_int_equal(fx_unmap(d->f, MSG_IOVA, MSG_SIZE), 0);
    expect_refused(d, MSG_IOVA, EDU_DMA_BUF_ADDR, 16, 0, EFAULT);
    fx_memfd_free(ro, 0x1000, ro_fd);
}

static void test_bus_master_off(void **state)
{
    struct dma_fx *d = *state;
    uint8_t before[EDU_DMA_BUF_SIZE], after[EDU_DMA_BUF_SIZE];

    fill(d->ram, RAM_SIZE, 11);
    fx_read_buffer(d->f, RAM_IOVA + 0x8000, d->ram + 0x8000, before);
    fx_bus_master(d->f, false);
    assert_int_equal(fx_dma(d->f, RAM_IOVA, EDU_DMA_BUF_ADDR, 4096, 0), EPERM);
    assert_int_equal(fx_dma(d->f, EDU_DMA_BUF_ADDR, RAM_IOVA, 4096,
                            EDU_DMA_CMD_TO_RAM), EPERM);
    fx_bus_master(d->f, true);
    fx_read_buffer(d->f, RAM_IOVA + 0x8000, d->ram + 0x8000, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(d->ram[0], (uint8_t)11);
}

/* edu cuts the RAM-side address to its DMA mask (28 bits by default). */
static void test_dma_mask(void **state)
{
    struct dma_fx *d = *state;

    fill(d->ram, 64, 21);
    assert_int_equal(fx_dma(d->f, (1ull << 28) + RAM_IOVA, EDU_DMA_BUF_ADDR,
                            64, 0), 0);
    memset(d->ram + 0x1000, 0, 64);
    assert_int_equal(fx_dma(d->f, EDU_DMA_BUF_ADDR,
                            0xff00000000ull + RAM_IOVA + 0x1000, 64,
                            EDU_DMA_CMD_TO_RAM), 0);
    assert_memory_equal(d->ram + 0x1000, d->ram, 64);
}

static void test_wide_mask(void **state)
{
    struct dma_fx *d = *state;

    assert_int_equal(rd64(d->f, EDU_REG_DMA_MASK), UINT64_MAX);
    /* nothing is cut: the address above 28 bits is simply not mapped */
    expect_refused(d, (1ull << 28) + RAM_IOVA, EDU_DMA_BUF_ADDR, 64, 0,
                   EFAULT);
    expect_refused(d, UINT64_MAX - 1, EDU_DMA_BUF_ADDR, 4, 0, EFAULT);
}

/* The command register keeps the direction and interrupt bits, drops
 * undefined ones, and takes a write only when it starts a command. */
static void test_command_register(void **state)
{
    struct fx *f = ((struct dma_fx *)*state)->f;

    assert_int_equal(fx_dma(f, RAM_IOVA, EDU_DMA_BUF_ADDR, 8, 0xf8), 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), 0);
    wr64(f, EDU_REG_DMA_CMD, EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), 0);
    wr64(f, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR);
    wr64(f, EDU_REG_DMA_DST, RAM_IOVA);
    wr64(f, EDU_REG_DMA_CMD, 0xffffffffffffffffull);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD),
                     EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ);
    assert_int_equal(rd32(f, EDU_REG_DMA_ERROR), 0);
}

/* Held by migration (RUNNING_P2P) the engine does not start: the command
 * waits with RUN set, the registers refuse writes as edu's do while a
 * transfer is under way, and it runs on the way back to RUNNING. */
static void test_command_waits_while_held(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;

    fill(d->ram, 256, 33);
    memset(d->ram + 0x2000, 0, 256);
    assert_int_equal(fx_dma(f, RAM_IOVA, EDU_DMA_BUF_ADDR, 256, 0), 0);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    wr64(f, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR);
    wr64(f, EDU_REG_DMA_DST, RAM_IOVA + 0x2000);
    wr64(f, EDU_REG_DMA_CNT, 256);
    wr32(f, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM |
                             EDU_DMA_CMD_IRQ);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), EDU_DMA_CMD_RUN |
                     EDU_DMA_CMD_TO_RAM | EDU_DMA_CMD_IRQ);
    wr64(f, EDU_REG_DMA_DST, RAM_IOVA + 0x3000);    /* ignored: pending */
    wr64(f, EDU_REG_DMA_CNT, 1);
    wr32(f, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN);      /* ignored too */
    assert_int_equal(rd64(f, EDU_REG_DMA_DST), RAM_IOVA + 0x2000);
    assert_int_equal(rd64(f, EDU_REG_DMA_CNT), 256);
    assert_int_equal(d->ram[0x2000], 0);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), 0);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(d->ram[0x2000], 0);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_RUNNING), 0);
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), EDU_DMA_CMD_TO_RAM |
                     EDU_DMA_CMD_IRQ);
    assert_memory_equal(d->ram + 0x2000, d->ram, 256);
    assert_int_equal(rd32(f, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
}

/* A device reset drops a command that was waiting. */
static void test_reset_drops_pending(void **state)
{
    struct dma_fx *d = *state;
    struct fx *f = d->f;

    memset(d->ram, 0x77, 16);
    assert_int_equal(fx_set_state(f, UVFIO_MIG_STATE_STOP), 0);
    wr64(f, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR);
    wr64(f, EDU_REG_DMA_DST, RAM_IOVA);
    wr64(f, EDU_REG_DMA_CNT, 16);
    wr32(f, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM);
    assert_int_equal(uvfio_core_reset(f->dev), 0);
    assert_int_equal(fx_get_state(f), UVFIO_MIG_STATE_RUNNING);
    fx_bus_master(f, true);         /* config space is reset too */
    assert_int_equal(rd64(f, EDU_REG_DMA_CMD), 0);
    assert_int_equal(d->ram[0], 0x77);
    /* and the engine works again */
    assert_int_equal(fx_dma(f, EDU_DMA_BUF_ADDR, RAM_IOVA, 16,
                            EDU_DMA_CMD_TO_RAM), 0);
    assert_int_equal(d->ram[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_and_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bus_master_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wide_mask, setup_wide_mask, teardown),
        cmocka_unit_test_setup_teardown(test_command_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_waits_while_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_drops_pending, setup, teardown),
    };

    return cmocka_run_group_tests_name("edu-dma", tests, NULL, NULL);
}
