/* SPDX-License-Identifier: MIT */
/*
 * fuzz/gen_seeds.c - writes the seed corpora under fuzz/corpus/<target>/.
 *
 *   gen_seeds DIR      (DIR/<target>/ must exist; scripts/fuzz.sh --seeds)
 *
 * Seeds are built from real encodings: the VERSION offers QEMU, the uvfio
 * client and libvfio-user actually send; whole client sessions spelled in
 * fuzz_server_conn's record format with payloads laid out by wire.h, the
 * capability offsets read from the device's own config space and the
 * migration image produced by the device itself; and, for the client, a
 * real server's answers to the client script (gen_client.c).  Output is
 * deterministic, so regenerating changes nothing unless the code did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/uvfio.h>

#include "fz_dev.h"
#include "fz_frame.h"
#include "fz_util.h"
#include "gen_seeds.h"
#include "proto/wire.h"

/* ---- output --------------------------------------------------------------- */

void gen_die(const char *what)
{
    fprintf(stderr, "gen_seeds: %s: %s\n", what, strerror(errno));
    exit(1);
}

void gen_put(struct uvfio_buf *b, const void *p, size_t n)
{
    if (n && uvfio_buf_append(b, p, n) < 0)
        gen_die("out of memory");
}

void gen_put8(struct uvfio_buf *b, uint8_t v)
{
    gen_put(b, &v, 1);
}

void gen_put16(struct uvfio_buf *b, uint16_t v)
{
    gen_put(b, &v, 2);
}

void gen_put32(struct uvfio_buf *b, uint32_t v)
{
    gen_put(b, &v, 4);
}

void gen_put64(struct uvfio_buf *b, uint64_t v)
{
    gen_put(b, &v, 8);
}

void gen_write(const char *dir, const char *target, const char *name,
               struct uvfio_buf *b)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    f = fopen(path, "wb");
    if (!f || (b->len && fwrite(b->data, b->len, 1, f) != 1) || fclose(f))
        gen_die(path);
    uvfio_buf_reset(b);
}

/* ---- fuzz_version ------------------------------------------------------------- */

static const char *const version_seeds[][2] = {
    { "qemu-offer",
      "{\"capabilities\": {\"pgsizes\": 4096, \"max_msg_fds\": 16, "
      "\"max_dma_maps\": 65535, \"max_data_xfer_size\": 1048576, "
      "\"migration\": {\"max_bitmap_size\": 268435456, \"pgsize\": 4096}, "
      "\"write_multiple\": true}}" },
    { "uvfio-client-offer",
      "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
      "\"max_dma_maps\":65535,\"pgsizes\":4096,\"write_multiple\":true,"
      "\"twin_socket\":{\"supported\":true},"
      "\"uvfio\":{\"precopy_info\":true}}}" },
    { "uvfio-server-reply",
      "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":65536,"
      "\"max_dma_maps\":65535,\"pgsizes\":4096,\"write_multiple\":true,"
      "\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}" },
    { "libvfio-user-offer",
      "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
      "\"pgsizes\":4096,\"migration\":{\"pgsize\":4096,"
      "\"max_bitmap_size\":1048576}}}" },
    { "extremes",
      "{\"capabilities\":{\"max_msg_fds\":253,\"max_data_xfer_size\":"
      "18446744073709551615,\"max_dma_maps\":4294967295,\"pgsizes\":"
      "9223372036854775807}}" },
    { "wrong-types",
      "{\"capabilities\":{\"max_msg_fds\":\"16\",\"write_multiple\":1,"
      "\"twin_socket\":true,\"pgsizes\":4096.0}}" },
    { "empty-caps", "{\"capabilities\":{}}" },
    { "no-caps", "{\"other\":[1,2,3]}" },
    { "trailing", "{\"capabilities\":{\"pgsizes\":4096}} x" },
};

static void version_corpus(const char *dir)
{
    struct uvfio_buf b = UVFIO_BUF_INIT;
    size_t i;

    for (i = 0; i < sizeof(version_seeds) / sizeof(version_seeds[0]); i++) {
        gen_put(&b, version_seeds[i][1], strlen(version_seeds[i][1]) + 1);
        gen_write(dir, "fuzz_version", version_seeds[i][0], &b);
    }
    gen_write(dir, "fuzz_version", "no-json", &b);
    gen_put(&b, "{\"capabilities\":", 16);
    gen_write(dir, "fuzz_version", "unterminated", &b);
    uvfio_buf_free(&b);
}

/* ---- fuzz_server_conn: records --------------------------------------------------- */

struct sess {
    struct uvfio_buf b;
    uint16_t id;
};

static void sess_start(struct sess *s, uint8_t cfg)
{
    uvfio_buf_reset(&s->b);
    s->id = 1;
    gen_put8(&s->b, cfg);
}

/* A framed message record; `op` adds FZS_PIPELINE / fd bits. */
static void rec(struct sess *s, uint8_t op, uint8_t kind, uint8_t cmd,
                uint8_t flags, uint16_t id, const void *p, size_t len)
{
    gen_put8(&s->b, op | kind);
    gen_put8(&s->b, cmd);
    gen_put8(&s->b, flags);
    gen_put16(&s->b, id);
    gen_put8(&s->b, 0);
    gen_put16(&s->b, (uint16_t)len);
    gen_put(&s->b, p, len);
}

static void cmd(struct sess *s, uint8_t op, uint8_t c, const void *p,
                size_t len)
{
    rec(s, op, FZS_MSG, c, UVFIO_HDR_TYPE_COMMAND, s->id++, p, len);
}

static uint8_t fds_op(unsigned int n, enum fz_stub kind)
{
    return (uint8_t)(n << FZS_NFDS_SHIFT | (unsigned int)kind <<
                     FZS_FDKIND_SHIFT);
}

static void region_write(struct sess *s, uint8_t op, uint32_t region,
                         uint64_t offset, const void *data, uint32_t count)
{
    uint8_t p[sizeof(struct uvfio_wire_region_rw) + 64];
    struct uvfio_wire_region_rw rw = { offset, region, count };

    memcpy(p, &rw, sizeof(rw));
    memcpy(p + sizeof(rw), data, count);
    cmd(s, op, UVFIO_CMD_REGION_WRITE, p, sizeof(rw) + count);
}

static void region_read(struct sess *s, uint32_t region, uint64_t offset,
                        uint32_t count)
{
    struct uvfio_wire_region_rw rw = { offset, region, count };

    cmd(s, 0, UVFIO_CMD_REGION_READ, &rw, sizeof(rw));
}

static void cfg_write(struct sess *s, uint32_t off, uint32_t v, uint32_t len)
{
    region_write(s, 0, UVFIO_PCI_CONFIG_REGION, off, &v, len);
}

/* BAR0's command block: IOVA, LEN and OP in one 16-byte write. */
static void dev_op(struct sess *s, uint8_t op, uint64_t iova, uint32_t len,
                   uint32_t what)
{
    uint8_t p[16];

    memcpy(p, &iova, 8);
    memcpy(p + 8, &len, 4);
    memcpy(p + 12, &what, 4);
    region_write(s, op, UVFIO_PCI_BAR0_REGION, 0, p, sizeof(p));
}

static void feature(struct sess *s, uint32_t flags, uint32_t argsz,
                    const void *p, size_t len)
{
    uint8_t buf[64];
    struct uvfio_wire_feature f = { argsz, flags };

    memcpy(buf, &f, sizeof(f));
    if (len)
        memcpy(buf + sizeof(f), p, len);
    cmd(s, 0, UVFIO_CMD_DEVICE_FEATURE, buf, sizeof(f) + len);
}

static void set_state(struct sess *s, uint32_t state)
{
    struct uvfio_wire_feature_mig_state st = { state, 0 };

    feature(s, UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE,
            16, &st, sizeof(st));
}

static void mig_read(struct sess *s, uint32_t size)
{
    struct uvfio_wire_mig_data md = { 8 + size, size };

    cmd(s, 0, UVFIO_CMD_MIG_DATA_READ, &md, sizeof(md));
}

static void dma_map(struct sess *s, uint8_t op, uint64_t iova, uint64_t size)
{
    struct uvfio_wire_dma_map m = {
        32, UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE, 0, iova, size,
    };

    cmd(s, op, UVFIO_CMD_DMA_MAP, &m, sizeof(m));
}

static void dma_unmap(struct sess *s, uint32_t flags, uint64_t iova,
                      uint64_t size)
{
    struct uvfio_wire_dma_unmap u = { 24, flags, iova, size };

    cmd(s, 0, UVFIO_CMD_DMA_UNMAP, &u, sizeof(u));
}

static void set_irqs(struct sess *s, uint8_t op, uint32_t flags,
                     uint32_t index, uint32_t start, uint32_t count,
                     const void *data, size_t dlen)
{
    uint8_t p[sizeof(struct uvfio_wire_irq_set) + 16];
    struct uvfio_wire_irq_set is = {
        (uint32_t)(sizeof(is) + dlen), flags, index, start, count,
    };

    memcpy(p, &is, sizeof(is));
    if (dlen)
        memcpy(p + sizeof(is), data, dlen);
    cmd(s, op, UVFIO_CMD_DEVICE_SET_IRQS, p, sizeof(is) + dlen);
}

/* ---- fuzz_server_conn: sessions --------------------------------------------------- */

/* Capability offsets, read from the device's own config space. */
struct caps {
    uint32_t msi, msix;
};

static struct caps find_caps(void)
{
    struct fz_dev *d = fz_dev_new();
    struct uvfio_pci *pci;
    struct caps c = { 0, 0 };
    uint32_t off, n;

    if (!d)
        gen_die("fz_dev_new");
    pci = uvfio_pci_of(fz_dev_device(d));
    off = uvfio_pci_config_read(pci, 0x34, 1);
    for (n = 0; off && n < 48; n++) {
        switch (uvfio_pci_config_read(pci, off, 1)) {
        case 0x05:
            c.msi = off;
            break;
        case 0x11:
            c.msix = off;
            break;
        }
        off = uvfio_pci_config_read(pci, off + 1, 1);
    }
    fz_dev_free(d);
    if (!c.msi || !c.msix)
        gen_die("MSI / MSI-X capability not found");
    return c;
}

static void enable_device(struct sess *s)
{
    /* Memory decode and bus mastering: BARs answer, DMA is allowed. */
    cfg_write(s, 0x04, 0x0006, 2);
}

static void session_info(struct sess *s)
{
    struct uvfio_wire_device_info di = { sizeof(di) };
    struct uvfio_wire_region_info ri = { 32 };
    struct uvfio_wire_irq_info ii = { sizeof(ii) };
    struct uvfio_wire_region_io_fds io = { sizeof(io) };
    uint32_t i;

    sess_start(s, 0);
    cmd(s, 0, UVFIO_CMD_DEVICE_GET_INFO, &di, sizeof(di));
    for (i = 0; i < FZ_NUM_REGIONS; i++) {
        ri.index = i;
        ri.argsz = i == 2 || i == 9 ? 512 : 32;
        cmd(s, 0, UVFIO_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri));
    }
    cmd(s, 0, UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, &io, sizeof(io));
    for (i = 0; i < UVFIO_PCI_NUM_IRQS; i++) {
        ii.index = i;
        cmd(s, 0, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii));
    }
    region_read(s, UVFIO_PCI_CONFIG_REGION, 0, 64);
}

static void session_irqs(struct sess *s, const struct caps *c)
{
    const uint32_t efd = UVFIO_IRQ_SET_DATA_EVENTFD |
                         UVFIO_IRQ_SET_ACTION_TRIGGER;
    static const uint8_t on[2] = { 1, 1 };
    uint32_t zero = 0;

    sess_start(s, FZS_CFG_TWIN);
    enable_device(s);
    /* MSI-X: enable, two vectors with eventfds, unmask entry 0, notify. */
    cfg_write(s, c->msix + 2, 0x8000, 2);
    set_irqs(s, fds_op(2, FZ_STUB_EVENTFD), efd, UVFIO_PCI_MSIX_IRQ_INDEX, 0,
             2, NULL, 0);
    region_write(s, 0, UVFIO_PCI_BAR4_REGION, 12, &zero, 4);
    dev_op(s, 0, 0, 0, FZ_OP_NOTIFY);
    dev_op(s, 0, 0, 1, FZ_OP_NOTIFY);
    set_irqs(s, 0, UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_MASK,
             UVFIO_PCI_MSIX_IRQ_INDEX, 0, 2, on, 2);
    set_irqs(s, 0, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK,
             UVFIO_PCI_MSIX_IRQ_INDEX, 0, 2, NULL, 0);
    region_read(s, UVFIO_PCI_BAR4_REGION, FZ_MSIX_PBA_OFFSET, 8);
    /* One interrupt type at a time: MSI-X off before MSI, MSI before
     * INTx, as vfio-pci wants it. */
    set_irqs(s, 0, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER,
             UVFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL, 0);
    cfg_write(s, c->msix + 2, 0, 2);
    cfg_write(s, c->msi + 2, 0x0001, 2);
    set_irqs(s, fds_op(1, FZ_STUB_EVENTFD), efd, UVFIO_PCI_MSI_IRQ_INDEX, 0,
             1, NULL, 0);
    dev_op(s, 0, 0, 0, FZ_OP_NOTIFY);
    set_irqs(s, 0, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER,
             UVFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL, 0);
    cfg_write(s, c->msi + 2, 0, 2);
    set_irqs(s, fds_op(1, FZ_STUB_EVENTFD), efd, UVFIO_PCI_INTX_IRQ_INDEX, 0,
             1, NULL, 0);
    dev_op(s, 0, 0, 1, FZ_OP_INTX);
    set_irqs(s, 0, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK,
             UVFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
    dev_op(s, 0, 0, 0, FZ_OP_INTX);
    set_irqs(s, fds_op(1, FZ_STUB_EVENTFD), efd, UVFIO_PCI_REQ_IRQ_INDEX, 0,
             1, NULL, 0);
    dev_op(s, 0, 0, UVFIO_PCI_REQ_IRQ_INDEX << 8, FZ_OP_TRIGGER);
    /* INTx unmasked by an eventfd the client signals (its sixth). */
    set_irqs(s, fds_op(1, FZ_STUB_EVENTFD), UVFIO_IRQ_SET_DATA_EVENTFD |
             UVFIO_IRQ_SET_ACTION_UNMASK, UVFIO_PCI_INTX_IRQ_INDEX, 0, 1,
             NULL, 0);
    dev_op(s, 0, 0, 1, FZ_OP_INTX);
    gen_put8(&s->b, FZS_SIGNAL);
    gen_put8(&s->b, 5);
}

static void session_dma_fd(struct sess *s)
{
    sess_start(s, 0);
    enable_device(s);
    dma_map(s, fds_op(1, FZ_STUB_MEMFD), 0x10000, FZ_STUB_MEMFD_SIZE);
    dev_op(s, 0, 0x10000, 256, FZ_OP_DMA_WRITE);
    dev_op(s, 0, 0x10100, 256, FZ_OP_DMA_READ);
    dev_op(s, 0, 0x1f000, 4096, FZ_OP_PIN);
    region_read(s, UVFIO_PCI_BAR0_REGION, FZ_REG_RESULT, 4);
    dma_unmap(s, 0, 0x10000, FZ_STUB_MEMFD_SIZE);
    dev_op(s, 0, 0x10000, 16, FZ_OP_DMA_READ);
    dma_map(s, fds_op(1, FZ_STUB_MEMFD), 0x40000, 0x8000);
    dev_op(s, 0, 0x40000, 4096, FZ_OP_PIN);
    dev_op(s, 0, 0, 0, FZ_OP_UNPIN);
    dma_unmap(s, UVFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
}

/* Message-path DMA answered on the twin socket: the device's request is
 * sent while the server runs the BAR write, and the reply already waits in
 * the twin socket, pipelined behind the write. */
static void session_dma_twin(struct sess *s)
{
    uint8_t p[16 + 64];
    struct uvfio_wire_dma_rw rw = { 0x100000, 64 };

    sess_start(s, FZS_CFG_TWIN);
    enable_device(s);
    dma_map(s, 0, 0x100000, 0x10000);
    dev_op(s, FZS_PIPELINE, 0x100000, 64, FZ_OP_DMA_READ);
    memcpy(p, &rw, sizeof(rw));
    memset(p + sizeof(rw), 0x5a, 64);
    rec(s, 0, FZS_MSG_TWIN, UVFIO_CMD_DMA_READ, UVFIO_HDR_TYPE_REPLY, 0, p,
        sizeof(p));
    rw.addr = 0x100040;
    dev_op(s, FZS_PIPELINE, 0x100040, 64, FZ_OP_DMA_WRITE);
    rec(s, 0, FZS_MSG_TWIN, UVFIO_CMD_DMA_WRITE, UVFIO_HDR_TYPE_REPLY, 1,
        &rw, sizeof(rw));
    dev_op(s, 0, 0x100000, 64, FZ_OP_DMA_READ);
    dma_unmap(s, 0, 0x100000, 0x10000);
}

/* The same without a twin, in QEMU's layout: the reply must still be in
 * the socket when the server polls, which the fds of a DMA_MAP pipelined
 * between the two arrange (a stream read stops at the message with fds). */
static void session_dma_qemu(struct sess *s)
{
    uint8_t p[16 + 32];
    uint64_t addr = 0x100000;
    uint32_t count = 32;

    sess_start(s, FZS_CFG_QEMU);
    enable_device(s);
    dma_map(s, 0, 0x100000, 0x10000);
    dev_op(s, FZS_PIPELINE, 0x100000, 32, FZ_OP_DMA_READ);
    dma_map(s, FZS_PIPELINE | fds_op(1, FZ_STUB_MEMFD), 0x200000, 0x10000);
    memcpy(p, &addr, 8);
    memcpy(p + 8, &count, 4);
    memset(p + 12, 0xa5, 32 + 4);
    rec(s, 0, FZS_MSG, UVFIO_CMD_DMA_READ, UVFIO_HDR_TYPE_REPLY, 0, p,
        sizeof(p));
    dev_op(s, FZS_PIPELINE, 0x100000, 32, FZ_OP_DMA_WRITE);
    dma_map(s, FZS_PIPELINE | fds_op(1, FZ_STUB_MEMFD), 0x300000, 0x1000);
    rec(s, 0, FZS_MSG, UVFIO_CMD_DMA_WRITE, UVFIO_HDR_TYPE_REPLY, 1, NULL, 0);
}

static void session_mig_save(struct sess *s)
{
    uint8_t none[16] = { 0 };

    sess_start(s, FZS_CFG_PRECOPY | 2 << FZS_CFG_XFER_SHIFT);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIGRATION, 16, none, 8);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DEVICE_STATE, 16, none,
            8);
    set_state(s, UVFIO_MIG_STATE_PRE_COPY);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_PRECOPY_INFO, 24, none, 16);
    mig_read(s, 4096);
    enable_device(s);
    region_write(s, 0, UVFIO_PCI_BAR0_REGION, 0x100, none, 8);
    mig_read(s, 65536);
    mig_read(s, 65536);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_PRECOPY_INFO, 24, none, 16);
    set_state(s, UVFIO_MIG_STATE_PRE_COPY_P2P);
    set_state(s, UVFIO_MIG_STATE_STOP_COPY);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_MIG_DATA_SIZE, 16, none, 8);
    mig_read(s, 65536);
    mig_read(s, 65536);
    set_state(s, UVFIO_MIG_STATE_STOP);
    set_state(s, UVFIO_MIG_STATE_RUNNING);
}

static void session_mig_resume(struct sess *s)
{
    struct uvfio_wire_mig_data md;
    struct fz_dev *d = fz_dev_new();
    uint8_t *img, *p;
    size_t len, half;

    if (!d || fz_dev_image(d, &img, &len) < 0)
        gen_die("device image");
    fz_dev_free(d);
    sess_start(s, 2 << FZS_CFG_XFER_SHIFT);
    set_state(s, UVFIO_MIG_STATE_STOP);
    set_state(s, UVFIO_MIG_STATE_RESUMING);
    /* In two writes, split inside the payload. */
    half = len / 2;
    p = malloc(sizeof(md) + len);
    if (!p)
        gen_die("out of memory");
    md = (struct uvfio_wire_mig_data){ 8 + (uint32_t)half, (uint32_t)half };
    memcpy(p, &md, sizeof(md));
    memcpy(p + sizeof(md), img, half);
    cmd(s, 0, UVFIO_CMD_MIG_DATA_WRITE, p, sizeof(md) + half);
    md.size = (uint32_t)(len - half);
    md.argsz = 8 + md.size;
    memcpy(p, &md, sizeof(md));
    memcpy(p + sizeof(md), img + half, len - half);
    cmd(s, 0, UVFIO_CMD_MIG_DATA_WRITE, p, sizeof(md) + len - half);
    set_state(s, UVFIO_MIG_STATE_STOP);
    set_state(s, UVFIO_MIG_STATE_RUNNING_P2P);
    set_state(s, UVFIO_MIG_STATE_RUNNING);
    free(p);
    free(img);
}

/* DMA logging over the wire: START on two ranges, the device writes one
 * of them by DMA, REPORT, an unmap with the legacy bitmap, STOP. */
static void session_logging(struct sess *s)
{
    struct uvfio_wire_logging_report rr = { 0x10000, 0x20000, 4096 };
    struct { struct uvfio_wire_dma_unmap u; struct uvfio_wire_bitmap b; }
        __attribute__((packed)) ub = {
        { 24 + 12 + 2, UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, 0x10000,
          FZ_STUB_MEMFD_SIZE },
        { 4096, 2 },
    };
    uint8_t p[16 + 2 * 16];
    struct uvfio_wire_logging_control ctl = { 4096, 2, 0 };
    struct uvfio_wire_logging_range r[2] = {
        { 0x10000, FZ_STUB_MEMFD_SIZE }, { 0x100000, 0x10000 },
    };

    sess_start(s, 0);
    enable_device(s);
    dma_map(s, fds_op(1, FZ_STUB_MEMFD), 0x10000, FZ_STUB_MEMFD_SIZE);
    memcpy(p, &ctl, sizeof(ctl));
    memcpy(p + sizeof(ctl), r, sizeof(r));
    feature(s, UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_START,
            8 + sizeof(p), p, sizeof(p));
    dev_op(s, 0, 0x13000, 0x1800, FZ_OP_DMA_WRITE);
    dev_op(s, 0, 0x18000, 4096, FZ_OP_PIN);
    dev_op(s, 0, 0, 0, FZ_OP_UNPIN);
    feature(s, UVFIO_FEATURE_GET | UVFIO_FEATURE_DMA_LOGGING_REPORT,
            8 + sizeof(rr) + 8, &rr, sizeof(rr));
    dev_op(s, 0, 0x1f000, 16, FZ_OP_DMA_WRITE);
    cmd(s, 0, UVFIO_CMD_DMA_UNMAP, &ub, sizeof(ub));
    feature(s, UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_STOP, 8, NULL,
            0);
}

static void session_misc(struct sess *s)
{
    uint8_t p[8 + 2 * sizeof(struct uvfio_wire_write_multi_entry)];
    struct uvfio_wire_write_multi_entry e[2] = {
        { 0x20, UVFIO_PCI_BAR0_REGION, 4, { 1, 2, 3, 4 } },
        { 0, FZ_VENDOR_REGION, 8, { 1, 2, 3, 4, 5, 6, 7, 8 } },
    };
    uint64_t n = 2, scratch = 0x1122334455667788ull;
    uint8_t none[8] = { 0 };

    sess_start(s, FZS_CFG_PRECOPY);
    enable_device(s);
    memcpy(p, &n, 8);
    memcpy(p + 8, e, sizeof(e));
    cmd(s, 0, UVFIO_CMD_REGION_WRITE_MULTI, p, sizeof(p));
    rec(s, 0, FZS_MSG, UVFIO_CMD_REGION_WRITE_MULTI,
        UVFIO_HDR_TYPE_COMMAND | UVFIO_HDR_NO_REPLY, s->id++, p, sizeof(p));
    region_read(s, FZ_VENDOR_REGION, 0, 16);
    region_read(s, UVFIO_PCI_BAR2_REGION, 4096, 64);
    feature(s, UVFIO_FEATURE_SET | FZ_FEATURE_SCRATCH, 16, &scratch, 8);
    feature(s, UVFIO_FEATURE_GET | FZ_FEATURE_SCRATCH, 16, none, 8);
    feature(s, UVFIO_FEATURE_PROBE | UVFIO_FEATURE_GET | FZ_FEATURE_SCRATCH,
            8, NULL, 0);
    feature(s, UVFIO_FEATURE_PROBE | UVFIO_FEATURE_SET |
            UVFIO_FEATURE_DMA_LOGGING_START, 8, NULL, 0);
    cmd(s, 0, UVFIO_CMD_DEVICE_RESET, NULL, 0);
    cmd(s, 0, UVFIO_CMD_DIRTY_PAGES_LEGACY, NULL, 0);
    cmd(s, 0, 99, NULL, 0);
    cmd(s, 0, UVFIO_CMD_VERSION, "\0\0\0\0{}", 7);
    region_read(s, UVFIO_PCI_BAR0_REGION, 0, 1u << 20);
    gen_put8(&s->b, FZS_HANGUP);
}

/* A BIG record: `size` bytes in all, payload = prefix then fill. */
static void big(struct sess *s, uint8_t cmd, uint8_t flags, uint32_t size,
                const void *prefix)
{
    gen_put8(&s->b, FZS_BIG);
    gen_put8(&s->b, cmd);
    gen_put8(&s->b, flags);
    gen_put16(&s->b, s->id++);
    gen_put16(&s->b, (uint16_t)size);
    gen_put8(&s->b, (uint8_t)(size >> 16));
    gen_put8(&s->b, 0x5a);
    gen_put(&s->b, prefix, 16);
}

/* Messages around the receiver's sizes: buffered, read into a payload of
 * their own (past its 64 KiB buffer), skipped as too large with E2BIG, and
 * the stream still in step afterwards. */
static void session_large(struct sess *s)
{
    const uint8_t cmd_flags = UVFIO_HDR_TYPE_COMMAND;
    struct uvfio_wire_region_rw rw = { 0, UVFIO_PCI_BAR2_REGION, 60000 };

    sess_start(s, 2 << FZS_CFG_XFER_SHIFT);
    enable_device(s);
    big(s, UVFIO_CMD_REGION_WRITE, cmd_flags, 16 + 16 + 60000, &rw);
    rw.count = 4096;
    big(s, UVFIO_CMD_REGION_WRITE, cmd_flags, 16 + 16 + 4096, &rw);
    rw.count = 68000 - 32;
    big(s, UVFIO_CMD_REGION_WRITE, cmd_flags, 68000, &rw);
    big(s, UVFIO_CMD_REGION_WRITE, cmd_flags, 200000, &rw);
    big(s, UVFIO_CMD_MIG_DATA_WRITE, cmd_flags | UVFIO_HDR_NO_REPLY,
        1u << 20, &rw);
    region_read(s, UVFIO_PCI_BAR2_REGION, 0, 32);
}

static void session_raw(struct sess *s)
{
    static const uint8_t bad[16] = { 1, 0, 4, 0, 8, 0, 0, 0, 0xff };

    sess_start(s, FZS_CFG_QEMU_JSON | FZS_CFG_QEMU);
    region_read(s, UVFIO_PCI_CONFIG_REGION, 0, 4);
    gen_put8(&s->b, FZS_RAW);
    gen_put16(&s->b, sizeof(bad));
    gen_put(&s->b, bad, sizeof(bad));
}

static void server_corpus(const char *dir)
{
    const char *t = "fuzz_server_conn";
    struct caps c = find_caps();
    struct sess s = { UVFIO_BUF_INIT, 0 };

    session_info(&s);
    gen_write(dir, t, "info", &s.b);
    session_irqs(&s, &c);
    gen_write(dir, t, "irqs", &s.b);
    session_dma_fd(&s);
    gen_write(dir, t, "dma-fd", &s.b);
    session_dma_twin(&s);
    gen_write(dir, t, "dma-msg-twin", &s.b);
    session_dma_qemu(&s);
    gen_write(dir, t, "dma-msg-qemu", &s.b);
    session_mig_save(&s);
    gen_write(dir, t, "migration-save", &s.b);
    session_mig_resume(&s);
    gen_write(dir, t, "migration-resume", &s.b);
    session_logging(&s);
    gen_write(dir, t, "dma-logging", &s.b);
    session_misc(&s);
    gen_write(dir, t, "misc", &s.b);
    session_large(&s);
    gen_write(dir, t, "large-messages", &s.b);
    session_raw(&s);
    gen_write(dir, t, "raw-header", &s.b);
    uvfio_buf_free(&s.b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR\n");
        return 2;
    }
    fz_quiet_logs();
    version_corpus(argv[1]);
    server_corpus(argv[1]);
    gen_client_seeds(argv[1]);
    gen_dirty_seeds(argv[1]);
    return 0;
}
