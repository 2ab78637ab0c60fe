// SPDX-License-Identifier: MIT
/*
 * tests/edu/test_mig.c - uvfio-edu's migration at the core level: a
 * device saved (STOP_COPY, PRE_COPY) and loaded into another one, which
 * then reads the same - registers, DMA buffer, config space, a command
 * still pending, the copy queue going on where the source stopped - and
 * every kind of bad image refused at RESUMING->STOP, or earlier, with the
 * destination untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "fixture.h"
#include "state.h"

#define RAM_IOVA        0x100000u
#define RAM_SIZE        0x10000u
#define WIN_IOVA        0x200000u
#define WIN_SIZE        (16u * EDU_CQ_PAGE_SIZE)
#define RW              (UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE)
#define WAIT_MS         5000

struct side {
    struct fx *f;
    uint8_t *ram, *win;
    int ram_fd, win_fd;
};

struct pair {
    struct side src, dst;
    uint8_t buf[EDU_DMA_BUF_SIZE];  /* what the source's buffer holds */
};

static void side_open(struct side *s, const struct edu_opts *o)
{
    s->f = fx_create(o);
    s->ram = fx_memfd(RAM_SIZE, &s->ram_fd);
    s->win = fx_memfd(WIN_SIZE, &s->win_fd);
    assert_int_equal(fx_map_fd(s->f, RAM_IOVA, RAM_SIZE, s->ram_fd, RW), 0);
    assert_int_equal(fx_map_fd(s->f, WIN_IOVA, WIN_SIZE, s->win_fd, RW), 0);
}

static void side_close(struct side *s)
{
    if (!s->f)
        return;
    fx_destroy(s->f);
    fx_memfd_free(s->ram, RAM_SIZE, s->ram_fd);
    fx_memfd_free(s->win, WIN_SIZE, s->win_fd);
    memset(s, 0, sizeof(*s));
}

static int setup(void **state)
{
    struct pair *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    side_open(&p->src, NULL);
    side_open(&p->dst, NULL);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;

    side_close(&p->src);
    side_close(&p->dst);
    free(p);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_reg_at_least(struct fx *f, uint32_t reg, uint64_t min)
{
    int64_t end = mono_ms() + WAIT_MS;

    while (rd64(f, reg) < min) {
        if (mono_ms() > end)
            fail_msg("register %#x stuck below %llu", reg,
                     (unsigned long long)min);
        fx_pump(f, 2);
    }
}

/* A source with something in every register a migration must carry. */
static void prepare(struct pair *p, bool queue)
{
    struct fx *f = p->src.f;
    uint32_t cap = fx_msi_cap(f);

    for (size_t i = 0; i < sizeof(p->buf); i++)
        p->buf[i] = (uint8_t)(i * 13 + (i >> 7));
    fx_load_buffer(f, RAM_IOVA, p->src.ram, p->buf);
    wr32(f, EDU_REG_LIVENESS, 0x600dcafe);
    wr32(f, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
    wr32(f, EDU_REG_FACT, 10);
    wr32(f, EDU_REG_IRQ_RAISE, 0x30000);
    wr64(f, EDU_REG_DMA_SRC, 0x1234567);
    wr64(f, EDU_REG_DMA_DST, EDU_DMA_BUF_ADDR + 8);
    wr64(f, EDU_REG_DMA_CNT, 77);
    /* config space the guest programmed: MSI address and data, a BAR */
    cfg_wr(f, cap + 4, 0xfee00000u, 4);
    cfg_wr(f, cap + 8, 0x1, 4);
    cfg_wr(f, cap + 12, 0x4041, 2);
    cfg_wr(f, 0x10, 0xfe000000u, 4);
    wr64(f, EDU_REG_CQ_ADDR, WIN_IOVA);
    wr64(f, EDU_REG_CQ_SIZE, WIN_SIZE);
    wr64(f, EDU_REG_CQ_RATE, 8192);
    if (!queue)
        return;
    wr64(f, EDU_REG_CQ_CTRL, EDU_CQ_CTRL_ENABLE);
    wait_reg_at_least(f, EDU_REG_CQ_PASSES, 1);
}

/* Source to STOP_COPY, its whole stream, then STOP. */
static size_t save_stop_copy(struct fx *src, uint8_t **img)
{
    uint64_t announced;
    size_t len = 0;

    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_int_equal(fx_data_size(src, &announced), 0);
    assert_true(fx_read_stream(src, img, &len) >= 0);
    assert_int_equal(len, announced);
    assert_int_equal(fx_data_size(src, &announced), 0);
    assert_int_equal(announced, 0);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP), 0);
    return len;
}

/* Destination: RESUMING, the stream in `chunk`-byte writes, STOP. */
static int load(struct fx *dst, const uint8_t *img, size_t len, size_t chunk)
{
    int r;

    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_RESUMING), 0);
    r = fx_write_stream(dst, img, len, chunk);
    if (r)
        return r;
    return fx_set_state(dst, UVFIO_MIG_STATE_STOP);
}

static void expect_same(struct fx *a, struct fx *b)
{
    struct fx_snapshot sa, sb;

    fx_snapshot(a, &sa);
    fx_snapshot(b, &sb);
    fx_snapshot_equal(&sa, &sb);
}

/* ---- good images ------------------------------------------------------------ */

static void test_stop_copy(void **state)
{
    struct pair *p = *state;
    struct fx *src = p->src.f, *dst = p->dst.f;
    uint8_t *img = NULL, out[EDU_DMA_BUF_SIZE];
    uint64_t passes;
    size_t len;

    prepare(p, true);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    len = save_stop_copy(src, &img);
    assert_int_equal(load(dst, img, len, 1000), 0);
    expect_same(src, dst);
    assert_int_equal(rd64(dst, EDU_REG_CQ_STATUS), EDU_CQ_STATUS_PAUSED);
    assert_int_equal(rd32(dst, EDU_REG_IRQ_STATUS), 0x30000 | EDU_IRQ_FACT);
    assert_int_equal(rd32(dst, EDU_REG_FACT), 3628800);

    /* guest memory follows the stopped source; the queue goes on */
    memcpy(p->dst.win, p->src.win, WIN_SIZE);
    passes = rd64(dst, EDU_REG_CQ_PASSES);
    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_RUNNING), 0);
    wait_reg_at_least(dst, EDU_REG_CQ_PASSES, passes + 2);
    wr64(dst, EDU_REG_CQ_CTRL, 0);
    fx_check_window(p->dst.win, WIN_IOVA, WIN_SIZE,
                    rd64(dst, EDU_REG_CQ_PASSES), rd64(dst, EDU_REG_CQ_POS));
    /* the buffer came along (read out by dst's own engine) */
    fx_read_buffer(dst, RAM_IOVA, p->dst.ram, out);
    assert_memory_equal(out, p->buf, sizeof(out));
    /* the source, stopped, wrote nothing more */
    fx_check_window(p->src.win, WIN_IOVA, WIN_SIZE,
                    rd64(src, EDU_REG_CQ_PASSES), rd64(src, EDU_REG_CQ_POS));
    free(img);
}

/* The stream split in every way a client may split it. */
static void test_stop_copy_chunks(void **state)
{
    static const size_t chunks[] = { 1, 31, 32, 33, 4095, 4096, 4097, 1u << 20 };
    struct pair *p = *state;
    uint8_t *img = NULL;
    size_t len;

    prepare(p, false);
    len = save_stop_copy(p->src.f, &img);
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        side_close(&p->dst);
        side_open(&p->dst, NULL);
        assert_int_equal(load(p->dst.f, img, len, chunks[i]), 0);
        expect_same(p->src.f, p->dst.f);
    }
    free(img);
}

static void test_precopy(void **state)
{
    struct pair *p = *state;
    struct fx *src = p->src.f, *dst = p->dst.f;
    uint64_t initial, dirty;
    uint8_t *img = NULL;
    size_t len = 0, before;

    prepare(p, true);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_PRE_COPY), 0);
    assert_int_equal(fx_precopy_info(src, &initial, &dirty), 0);
    assert_int_equal(initial, uvfio_mig_image_size(EDU_REC_CONFIG_LEN));
    assert_int_equal(dirty, uvfio_mig_image_size(EDU_REC_STATE_LEN));
    /* the initial data, then the first state record */
    assert_int_equal(fx_read_stream(src, &img, &len),
                     (ssize_t)(initial + dirty));
    assert_int_equal(fx_precopy_info(src, &initial, &dirty), 0);
    assert_int_equal(initial, 0);
    assert_int_equal(dirty, 0);
    /* the queue keeps writing: its progress is not dirty data */
    wait_reg_at_least(src, EDU_REG_CQ_BYTES,
                      rd64(src, EDU_REG_CQ_BYTES) + 8 * EDU_CQ_PAGE_SIZE);
    assert_int_equal(fx_precopy_info(src, &initial, &dirty), 0);
    assert_int_equal(dirty, 0);
    assert_int_equal(fx_read_stream(src, &img, &len), 0);
    /* a register changes: one more state record */
    wr32(src, EDU_REG_LIVENESS, 1);
    assert_int_equal(fx_precopy_info(src, &initial, &dirty), 0);
    assert_int_equal(dirty, uvfio_mig_image_size(EDU_REC_STATE_LEN));
    before = len;
    assert_int_equal(fx_read_stream(src, &img, &len), (ssize_t)dirty);
    assert_true(len > before);
    /* the buffer alone: the same command twice, other RAM contents */
    p->src.ram[0] = 1;
    assert_int_equal(fx_dma(src, RAM_IOVA, EDU_DMA_BUF_ADDR + 5, 1, 0), 0);
    assert_true(fx_read_stream(src, &img, &len) > 0);
    p->src.ram[0] = 2;
    assert_int_equal(fx_dma(src, RAM_IOVA, EDU_DMA_BUF_ADDR + 5, 1, 0), 0);
    assert_int_equal(fx_precopy_info(src, &initial, &dirty), 0);
    assert_int_equal(dirty, uvfio_mig_image_size(EDU_REC_STATE_LEN));
    /* stop: the final record follows */
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_PRE_COPY_P2P), 0);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_true(fx_read_stream(src, &img, &len) > 0);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(load(dst, img, len, 777), 0);
    expect_same(src, dst);
    free(img);
}

/* STOP_COPY while a state record is half read: the final record comes
 * after the rest of it, and the destination takes the whole. */
static void test_precopy_half_read(void **state)
{
    struct pair *p = *state;
    struct fx *src = p->src.f;
    struct uvfio_wire_mig_data req = { sizeof(req) + 100, 100 };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint8_t *img = NULL;
    size_t len = 0;

    prepare(p, false);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_PRE_COPY), 0);
    /* CONFIG (40 + 32 bytes) and the first 28 of STATE */
    assert_int_equal(uvfio_core_mig_data_read(src->dev, &req, &rep), 0);
    img = malloc(100);
    assert_non_null(img);
    memcpy(img, rep.data + sizeof(struct uvfio_wire_mig_data), 100);
    len = 100;
    uvfio_buf_free(&rep);
    wr32(src, EDU_REG_LIVENESS, 99);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_PRE_COPY_P2P), 0);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_true(fx_read_stream(src, &img, &len) > 0);
    assert_int_equal(len, uvfio_mig_image_size(EDU_REC_CONFIG_LEN) +
                     uvfio_mig_image_size(EDU_REC_STATE_LEN) +
                     uvfio_mig_image_size(edu_rec_len(src->edu,
                                                      EDU_REC_FINAL)));
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP), 0);
    assert_int_equal(load(p->dst.f, img, len, 4096), 0);
    expect_same(src, p->dst.f);
    assert_int_equal(rd32(p->dst.f, EDU_REG_LIVENESS), ~99u);
    free(img);
}

/* A command the guest started while the source was held runs on the
 * destination once it runs - and never on the source. */
static void test_pending_command_migrates(void **state)
{
    struct pair *p = *state;
    struct fx *src = p->src.f, *dst = p->dst.f;
    uint8_t *img = NULL;
    size_t len;

    prepare(p, false);
    memset(p->src.ram + 0x100, 0, 64);
    memset(p->dst.ram + 0x100, 0, 64);
    wr32(src, EDU_REG_IRQ_ACK, 0xffffffff);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    wr64(src, EDU_REG_DMA_SRC, EDU_DMA_BUF_ADDR + 64);
    wr64(src, EDU_REG_DMA_DST, RAM_IOVA + 0x100);
    wr64(src, EDU_REG_DMA_CNT, 64);
    wr32(src, EDU_REG_DMA_CMD, EDU_DMA_CMD_RUN | EDU_DMA_CMD_TO_RAM |
                               EDU_DMA_CMD_IRQ);
    len = save_stop_copy(src, &img);
    assert_int_equal(load(dst, img, len, 4096), 0);
    assert_int_equal(rd64(dst, EDU_REG_DMA_CMD) & EDU_DMA_CMD_RUN,
                     EDU_DMA_CMD_RUN);
    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_RUNNING), 0);
    assert_int_equal(rd64(dst, EDU_REG_DMA_CMD), EDU_DMA_CMD_TO_RAM |
                     EDU_DMA_CMD_IRQ);
    assert_memory_equal(p->dst.ram + 0x100, p->buf + 64, 64);
    assert_int_equal(rd32(dst, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
    assert_int_equal(p->src.ram[0x100], 0);
    assert_int_equal(rd64(src, EDU_REG_DMA_CMD) & EDU_DMA_CMD_RUN,
                     EDU_DMA_CMD_RUN);
    free(img);
}

/* ---- bad images ---------------------------------------------------------------- */

/*
 * Feed `img` to a fresh destination with state of its own; the write
 * error (0 if none) and RESUMING->STOP's error are asserted, then that the
 * destination reads exactly as before and can be reset back to work.
 */
static void expect_refused_with(struct pair *p, const struct edu_opts *o,
                                const uint8_t *img, size_t len,
                                int write_err, int arc_err)
{
    struct fx_snapshot before, after;
    struct fx *dst;
    int r;

    side_close(&p->dst);
    side_open(&p->dst, o);
    dst = p->dst.f;
    wr32(dst, EDU_REG_LIVENESS, 0xdead);
    wr32(dst, EDU_REG_IRQ_RAISE, 0x4);
    wr64(dst, EDU_REG_CQ_ADDR, 0x7000);
    cfg_wr(dst, fx_msi_cap(dst) + 4, 0xfee01000u, 4);
    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_RESUMING), 0);
    fx_snapshot(dst, &before);
    r = fx_write_stream(dst, img, len, 4096);
    assert_int_equal(r, write_err);
    if (r)      /* the stream is broken: the rest is refused as well */
        assert_int_equal(fx_write_stream(dst, img, 1, 1), -ENODEV);
    assert_int_equal(fx_set_state(dst, UVFIO_MIG_STATE_STOP), arc_err);
    assert_int_equal(fx_get_state(dst), UVFIO_MIG_STATE_RESUMING);
    fx_snapshot(dst, &after);
    fx_snapshot_equal(&before, &after);
    assert_int_equal(uvfio_core_reset(dst->dev), 0);
    assert_int_equal(fx_get_state(dst), UVFIO_MIG_STATE_RUNNING);
}

static void expect_refused(struct pair *p, const uint8_t *img, size_t len,
                           int write_err, int arc_err)
{
    expect_refused_with(p, NULL, img, len, write_err, arc_err);
}

/* A FINAL-only image's payload, re-framed after `edit` changed it. */
static size_t reframe(const uint8_t *img, size_t len, uint8_t **out,
                      void (*edit)(uint8_t *payload, size_t n))
{
    size_t n = len - UVFIO_MIG_IMAGE_HDR_SIZE;
    uint8_t *payload = malloc(n);
    struct uvfio_mig_image im = { 0 };

    assert_non_null(payload);
    memcpy(payload, img + UVFIO_MIG_IMAGE_HDR_SIZE, n);
    edit(payload, n);
    assert_int_equal(uvfio_mig_image_save(&im, EDU_MIG_MAGIC, EDU_MIG_VERSION,
                                          payload, n), 0);
    *out = malloc(len);
    assert_non_null(*out);
    assert_int_equal(uvfio_mig_image_read(&im, *out, len), (ssize_t)len);
    uvfio_mig_image_clear(&im);
    free(payload);
    return len;
}

/* Offsets in a FINAL payload (state.h). */
#define FIN_KIND        0
#define FIN_PCI_LEN     4
#define FIN_MASK        8
#define FIN_STATUS      (16 + 8)
#define FIN_CMD         (16 + 16 + 24)
#define FIN_ERR         (16 + 16 + 32)
#define FIN_RESERVED    (16 + 16 + 36)
#define FIN_CQ          (16 + EDU_REC_REGS_LEN)
#define FIN_CQ_RATE     (FIN_CQ + 16)
#define FIN_CQ_CTRL     (FIN_CQ + 20)
#define FIN_CQ_POS      (FIN_CQ + 40)
#define FIN_PCI         (FIN_CQ + EDU_REC_CQ_LEN)

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void edit_kind(uint8_t *p, size_t n) { (void)n; p[FIN_KIND] = 9; }
static void edit_hdr_reserved(uint8_t *p, size_t n) { (void)n; p[1] = 1; }
static void edit_pci_len(uint8_t *p, size_t n) { (void)n; p[FIN_PCI_LEN]++; }
static void edit_mask(uint8_t *p, size_t n) { (void)n; p[FIN_MASK] ^= 1; }
static void edit_status(uint8_t *p, size_t n) { (void)n; put32(p + FIN_STATUS, 0x2); }
static void edit_cmd(uint8_t *p, size_t n) { (void)n; p[FIN_CMD] = 0x8; }
static void edit_err(uint8_t *p, size_t n) { (void)n; put32(p + FIN_ERR, 5000); }
static void edit_reserved(uint8_t *p, size_t n) { (void)n; p[FIN_RESERVED] = 1; }
static void edit_rate(uint8_t *p, size_t n) { (void)n; put32(p + FIN_CQ_RATE, EDU_CQ_MAX_RATE + 1); }
static void edit_ctrl(uint8_t *p, size_t n) { (void)n; p[FIN_CQ_CTRL] = 0x2; }
static void edit_pos(uint8_t *p, size_t n) { (void)n; put32(p + FIN_CQ_POS, 16); }
static void edit_pci(uint8_t *p, size_t n) { (void)n; p[FIN_PCI] ^= 0xff; }

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
    uint64_t v = 0;

    for (unsigned int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The offsets above point where state.h says: the edits below change the
 * field they name, not a neighbour that happens to be checked too. */
static void check_offsets(struct fx *src, const uint8_t *img)
{
    const uint8_t *p = img + UVFIO_MIG_IMAGE_HDR_SIZE;

    assert_int_equal(p[FIN_KIND], EDU_REC_FINAL);
    assert_int_equal(get_le(p + FIN_PCI_LEN, 4),
                     uvfio_pci_state_size(uvfio_pci_of(src->dev)));
    assert_int_equal(get_le(p + FIN_MASK, 8), EDU_DEFAULT_DMA_MASK);
    assert_int_equal(get_le(p + FIN_STATUS, 4), EDU_STATUS_IRQFACT);
    assert_int_equal(get_le(p + FIN_CMD, 8), rd64(src, EDU_REG_DMA_CMD));
    assert_int_equal(get_le(p + FIN_CMD - 8, 8), 77);   /* DMA_CNT */
    assert_int_equal(get_le(p + FIN_CQ, 8), WIN_IOVA);
    assert_int_equal(get_le(p + FIN_CQ_RATE, 4), 8192);
    assert_int_equal(get_le(p + FIN_CQ_CTRL, 4), EDU_CQ_CTRL_ENABLE);
    assert_int_equal(get_le(p + FIN_CQ_POS, 8), rd64(src, EDU_REG_CQ_POS));
    assert_int_equal(get_le(p + FIN_CQ_POS - 8, 8),
                     rd64(src, EDU_REG_CQ_PASSES));
}

static void test_bad_images(void **state)
{
    static void (*const edits[])(uint8_t *, size_t) = {
        edit_kind, edit_hdr_reserved, edit_pci_len, edit_mask, edit_status,
        edit_cmd, edit_err, edit_reserved, edit_rate, edit_ctrl, edit_pos,
    };
    struct pair *p = *state;
    uint8_t *img = NULL, *bad;
    size_t len;

    prepare(p, true);
    assert_int_equal(fx_set_state(p->src.f, UVFIO_MIG_STATE_RUNNING_P2P), 0);
    len = save_stop_copy(p->src.f, &img);
    check_offsets(p->src.f, img);

    /* nothing, a header, all but the last byte */
    expect_refused(p, img, 0, 0, -EINVAL);
    expect_refused(p, img, UVFIO_MIG_IMAGE_HDR_SIZE, 0, -EINVAL);
    expect_refused(p, img, len - 1, 0, -EINVAL);
    /* one byte too many */
    bad = malloc(len + 1);
    assert_non_null(bad);
    memcpy(bad, img, len);
    bad[len] = 0;
    expect_refused(p, bad, len + 1, -EFBIG, -EINVAL);
    /* a flipped bit: in the frame's magic, in the payload (CRC) */
    bad[0] ^= 1;
    expect_refused(p, bad, len, -EINVAL, -EINVAL);
    bad[0] ^= 1;
    bad[len / 2] ^= 0x10;
    expect_refused(p, bad, len, -EBADMSG, -EINVAL);
    free(bad);
    /* well framed, but not a state this device can be in */
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        reframe(img, len, &bad, edits[i]);
        expect_refused(p, bad, len, -EINVAL, -EINVAL);
        free(bad);
    }
    /* a PCI blob the model refuses: found only when applying */
    reframe(img, len, &bad, edit_pci);
    expect_refused(p, bad, len, 0, -EINVAL);
    free(bad);
    free(img);
}

/* Records out of order, or a precopy stream without its final record. */
static void test_bad_streams(void **state)
{
    struct pair *p = *state;
    const size_t cfg = uvfio_mig_image_size(EDU_REC_CONFIG_LEN);
    const size_t st = uvfio_mig_image_size(EDU_REC_STATE_LEN);
    uint8_t *img = NULL, *bad;
    size_t len = 0;

    prepare(p, false);
    assert_int_equal(fx_set_state(p->src.f, UVFIO_MIG_STATE_PRE_COPY), 0);
    assert_int_equal(fx_read_stream(p->src.f, &img, &len), (ssize_t)(cfg + st));
    assert_int_equal(fx_set_state(p->src.f, UVFIO_MIG_STATE_PRE_COPY_P2P), 0);
    assert_int_equal(fx_set_state(p->src.f, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_true(fx_read_stream(p->src.f, &img, &len) > 0);
    /* the whole stream is good */
    side_close(&p->dst);
    side_open(&p->dst, NULL);
    assert_int_equal(load(p->dst.f, img, len, 4096), 0);
    /* precopy only */
    expect_refused(p, img, cfg + st, 0, -EINVAL);
    /* STATE first */
    expect_refused(p, img + cfg, len - cfg, -EINVAL, -EINVAL);
    /* CONFIG twice */
    bad = malloc(len + cfg);
    assert_non_null(bad);
    memcpy(bad, img, cfg);
    memcpy(bad + cfg, img, len);
    expect_refused(p, bad, len + cfg, -EINVAL, -EINVAL);
    free(bad);
    /* a destination with another DMA mask refuses the initial data */
    {
        const struct edu_opts o = { .dma_mask = 0xffffffff };

        expect_refused_with(p, &o, img, cfg, -EINVAL, -EINVAL);
        expect_refused_with(p, &o, img + cfg + st, len - cfg - st, -EINVAL,
                            -EINVAL);
    }
    free(img);
}

/* A reset in the middle of a stream ends it and leaves the device
 * running; a new migration works. */
static void test_reset_mid_stream(void **state)
{
    struct pair *p = *state;
    struct fx *src = p->src.f;
    uint8_t *img = NULL;
    size_t len;

    prepare(p, true);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP_COPY), 0);
    assert_int_equal(uvfio_core_reset(src->dev), 0);
    fx_bus_master(src, true);
    assert_int_equal(fx_get_state(src), UVFIO_MIG_STATE_RUNNING);
    assert_int_equal(rd64(src, EDU_REG_CQ_CTRL), 0);    /* reset stops it */
    wr32(src, EDU_REG_LIVENESS, 5);
    wr64(src, EDU_REG_CQ_ADDR, WIN_IOVA);
    wr64(src, EDU_REG_CQ_SIZE, WIN_SIZE);
    wr64(src, EDU_REG_CQ_RATE, 8192);
    wr64(src, EDU_REG_CQ_CTRL, EDU_CQ_CTRL_ENABLE);
    wait_reg_at_least(src, EDU_REG_CQ_BYTES, 4 * EDU_CQ_PAGE_SIZE);
    assert_int_equal(fx_set_state(src, UVFIO_MIG_STATE_STOP), 0);
    len = save_stop_copy(src, &img);
    assert_int_equal(load(p->dst.f, img, len, 4096), 0);
    expect_same(src, p->dst.f);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stop_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_copy_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precopy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_precopy_half_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_command_migrates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_mid_stream, setup, teardown),
    };

    return cmocka_run_group_tests_name("edu-mig", tests, NULL, NULL);
}
