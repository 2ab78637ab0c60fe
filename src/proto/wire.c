/* SPDX-License-Identifier: MIT */
/*
 * proto/wire.c - validation of every vfio-user message before use.
 *
 * A peer is hostile until proven otherwise, so nothing outside this file
 * reads a payload field past the fixed part without the checks below having
 * passed.  Each command has one small checker; a table maps command numbers
 * to checkers so that adding a command is one line and an unknown number
 * can never fall through to someone's handler.  Payloads are decoded with
 * memcpy into local structs: a payload pointer has no alignment guarantee.
 *
 * Errno choices (the value the server puts in the error reply):
 *
 *   condition                                               errno
 *   ------------------------------------------------------  ----------
 *   command 0, 14 (removed DIRTY_PAGES) or > 18             ENOSYS
 *   DMA_READ/DMA_WRITE sent to the server (wrong side)      EINVAL
 *   more fds than the command takes                         EINVAL
 *   payload shorter than the fixed part, or a size that     EINVAL
 *     must match exactly and does not
 *   unknown flag bits (DMA_MAP, DMA_UNMAP)                   EINVAL
 *   DMA_MAP size 0, argsz != 32                              EINVAL
 *   address/offset + size wraps past 2^64 (DMA_MAP/UNMAP,    EINVAL
 *     DMA_READ/WRITE): a range ending exactly at 2^64 is
 *     refused as well so that callers may compute addr+size
 *   a data count above max_data_xfer (REGION_READ/WRITE,     E2BIG
 *     DMA_READ/WRITE, MIG_DATA_READ/WRITE, legacy bitmap)
 *   REGION_WRITE_MULTI wr_cnt == 0 or entry count not 1..8   EINVAL
 *   REGION_WRITE_MULTI wr_cnt > UVFIO_WRITE_MULTI_MAX        E2BIG
 *   VERSION JSON without a NUL inside the payload            EINVAL
 *   argsz smaller than the fixed part (DMA_UNMAP, FEATURE)   EINVAL
 *   DMA_READ/DMA_WRITE with count 0 (nothing to do: a        EINVAL
 *     confused or hostile peer)
 *
 * Size checks come before count checks, which come before range checks, so
 * a message wrong in several ways always gets the same answer.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <uvfio/abi.h>

#include "wire.h"

/* "any number": the transport has already capped fds per message. */
#define FDS_ANY  ((size_t)-1)

struct cmd_desc {
    const char *name;
    size_t max_fds;                 /* fds a request may carry */
    int (*check)(const void *p, size_t len, uint64_t max_xfer);
};

/* Does [base, base + size) stay strictly below 2^64? */
static bool range_ok(uint64_t base, uint64_t size)
{
    return size <= UINT64_MAX - base;
}

/* ---- requests (client -> server) ---------------------------------------- */

static int check_version(const void *p, size_t len, uint64_t max_xfer)
{
    (void)max_xfer;
    if (len < sizeof(struct uvfio_wire_version))
        return -EINVAL;
    len -= sizeof(struct uvfio_wire_version);
    /* The JSON is handed to a C parser later: it must end inside the
     * bytes we actually received. */
    if (len && !memchr((const uint8_t *)p + sizeof(struct uvfio_wire_version),
                       '\0', len))
        return -EINVAL;
    return 0;
}

static int check_dma_map(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_dma_map m;

    (void)max_xfer;
    if (len != sizeof(m))
        return -EINVAL;
    memcpy(&m, p, sizeof(m));
    if (m.argsz != sizeof(m))
        return -EINVAL;
    if (m.flags & ~(UVFIO_DMA_MAP_FLAG_READ | UVFIO_DMA_MAP_FLAG_WRITE))
        return -EINVAL;
    if (m.size == 0)
        return -EINVAL;
    if (!range_ok(m.addr, m.size) || !range_ok(m.offset, m.size))
        return -EINVAL;
    return 0;
}

static int check_dma_unmap(const void *p, size_t len, uint64_t max_xfer)
{
    const uint32_t known = UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
                           UVFIO_DMA_UNMAP_FLAG_ALL;
    struct uvfio_wire_dma_unmap u;
    struct uvfio_wire_bitmap bm;
    size_t want = sizeof(u);

    if (len < sizeof(u))
        return -EINVAL;
    memcpy(&u, p, sizeof(u));
    if (u.flags & ~known)
        return -EINVAL;
    if (u.flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)
        want += sizeof(bm);
    if (len != want || u.argsz < want)
        return -EINVAL;
    /* ALL means "everything": a range next to it is a contradiction, and
     * asking for one bitmap covering all maps is refused by the kernel. */
    if (u.flags & UVFIO_DMA_UNMAP_FLAG_ALL)
        return (u.addr || u.size ||
                (u.flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)) ?
               -EINVAL : 0;
    if (u.size == 0 || !range_ok(u.addr, u.size))
        return -EINVAL;
    if (!(u.flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP))
        return 0;
    memcpy(&bm, (const uint8_t *)p + sizeof(u), sizeof(bm));
    /* The bitmap comes back in the reply: argsz must have room for it. */
    if ((uint64_t)u.argsz < (uint64_t)want + bm.size)
        return -EINVAL;
    if (bm.size > max_xfer)
        return -E2BIG;
    return 0;
}

/* The GET_* queries carry a struct whose argsz the core interprets; here
 * only the fixed part has to be there (clients may send more). */
static int check_device_info(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len < sizeof(struct uvfio_wire_device_info) ? -EINVAL : 0;
}

static int check_region_info(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len < sizeof(struct uvfio_wire_region_info) ? -EINVAL : 0;
}

static int check_region_io_fds(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len < sizeof(struct uvfio_wire_region_io_fds) ? -EINVAL : 0;
}

static int check_irq_info(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len < sizeof(struct uvfio_wire_irq_info) ? -EINVAL : 0;
}

/* argsz is not compared with len: for DATA_EVENTFD QEMU counts the fd
 * array that travels as SCM_RIGHTS.  The core checks data against count. */
static int check_set_irqs(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len < sizeof(struct uvfio_wire_irq_set) ? -EINVAL : 0;
}

static int check_region_read(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_region_rw rw;

    if (len != sizeof(rw))
        return -EINVAL;
    memcpy(&rw, p, sizeof(rw));
    return rw.count > max_xfer ? -E2BIG : 0;
}

static int check_region_write(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_region_rw rw;

    if (len < sizeof(rw))
        return -EINVAL;
    memcpy(&rw, p, sizeof(rw));
    if (rw.count > max_xfer)
        return -E2BIG;
    return len - sizeof(rw) != rw.count ? -EINVAL : 0;
}

static int check_server_side(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)len; (void)max_xfer;
    return -EINVAL;
}

static int check_reset(const void *p, size_t len, uint64_t max_xfer)
{
    (void)p; (void)max_xfer;
    return len ? -EINVAL : 0;
}

static int check_write_multi(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_write_multi wm;
    struct uvfio_wire_write_multi_entry ent;
    const uint8_t *e;
    uint64_t i;

    (void)max_xfer;
    if (len < sizeof(wm))
        return -EINVAL;
    /* Only now: an empty payload is a NULL pointer, and NULL + 8 is UB. */
    e = (const uint8_t *)p + sizeof(wm);
    memcpy(&wm, p, sizeof(wm));
    if (wm.wr_cnt == 0)
        return -EINVAL;
    if (wm.wr_cnt > UVFIO_WRITE_MULTI_MAX)
        return -E2BIG;
    /* wr_cnt is small now: the product cannot overflow. */
    if (len - sizeof(wm) != wm.wr_cnt * sizeof(ent))
        return -EINVAL;
    for (i = 0; i < wm.wr_cnt; i++, e += sizeof(ent)) {
        memcpy(&ent, e, sizeof(ent));
        if (ent.count == 0 || ent.count > UVFIO_WRITE_MULTI_DATA_MAX)
            return -EINVAL;
    }
    return 0;
}

static int check_feature(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_feature f;

    (void)max_xfer;
    if (len < sizeof(f))
        return -EINVAL;
    memcpy(&f, p, sizeof(f));
    return f.argsz < sizeof(f) ? -EINVAL : 0;
}

static int check_mig_data_read(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_mig_data md;

    if (len != sizeof(md))
        return -EINVAL;
    memcpy(&md, p, sizeof(md));
    return md.size > max_xfer ? -E2BIG : 0;
}

static int check_mig_data_write(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_mig_data md;

    if (len < sizeof(md))
        return -EINVAL;
    memcpy(&md, p, sizeof(md));
    if (md.size > max_xfer)
        return -E2BIG;
    return len - sizeof(md) != md.size ? -EINVAL : 0;
}

static const struct cmd_desc requests[UVFIO_CMD_MAX + 1] = {
    [UVFIO_CMD_VERSION] = { "VERSION", 0, check_version },
    [UVFIO_CMD_DMA_MAP] = { "DMA_MAP", 1, check_dma_map },
    [UVFIO_CMD_DMA_UNMAP] = { "DMA_UNMAP", 0, check_dma_unmap },
    [UVFIO_CMD_DEVICE_GET_INFO] = { "DEVICE_GET_INFO", 0, check_device_info },
    [UVFIO_CMD_DEVICE_GET_REGION_INFO] =
        { "DEVICE_GET_REGION_INFO", 0, check_region_info },
    [UVFIO_CMD_DEVICE_GET_REGION_IO_FDS] =
        { "DEVICE_GET_REGION_IO_FDS", 0, check_region_io_fds },
    [UVFIO_CMD_DEVICE_GET_IRQ_INFO] =
        { "DEVICE_GET_IRQ_INFO", 0, check_irq_info },
    [UVFIO_CMD_DEVICE_SET_IRQS] =
        { "DEVICE_SET_IRQS", FDS_ANY, check_set_irqs },
    [UVFIO_CMD_REGION_READ] = { "REGION_READ", 0, check_region_read },
    [UVFIO_CMD_REGION_WRITE] = { "REGION_WRITE", 0, check_region_write },
    [UVFIO_CMD_DMA_READ] = { "DMA_READ", 0, check_server_side },
    [UVFIO_CMD_DMA_WRITE] = { "DMA_WRITE", 0, check_server_side },
    [UVFIO_CMD_DEVICE_RESET] = { "DEVICE_RESET", 0, check_reset },
    [UVFIO_CMD_DIRTY_PAGES_LEGACY] = { "DIRTY_PAGES", 0, NULL },
    [UVFIO_CMD_REGION_WRITE_MULTI] =
        { "REGION_WRITE_MULTI", 0, check_write_multi },
    [UVFIO_CMD_DEVICE_FEATURE] = { "DEVICE_FEATURE", 0, check_feature },
    [UVFIO_CMD_MIG_DATA_READ] = { "MIG_DATA_READ", 0, check_mig_data_read },
    [UVFIO_CMD_MIG_DATA_WRITE] = { "MIG_DATA_WRITE", 0, check_mig_data_write },
};

const char *uvfio_cmd_name(uint16_t cmd)
{
    if (cmd > UVFIO_CMD_MAX || !requests[cmd].name)
        return "UNKNOWN";
    return requests[cmd].name;
}

int uvfio_wire_check_hdr(const struct uvfio_wire_hdr *hdr, size_t max_size)
{
    uint32_t type = hdr->flags & UVFIO_HDR_TYPE_MASK;

    if (hdr->flags & ~UVFIO_HDR_KNOWN_FLAGS)
        return -EINVAL;
    if (type != UVFIO_HDR_TYPE_COMMAND && type != UVFIO_HDR_TYPE_REPLY)
        return -EINVAL;
    if (hdr->size < UVFIO_HDR_SIZE)
        return -EINVAL;
    if (hdr->size > max_size)
        return -E2BIG;
    return 0;
}

int uvfio_wire_check_request(uint16_t cmd, const void *payload, size_t len,
                             size_t nfds, uint64_t max_data_xfer)
{
    const struct cmd_desc *d;

    if (cmd > UVFIO_CMD_MAX || !requests[cmd].check)
        return -ENOSYS;
    d = &requests[cmd];
    if (nfds > d->max_fds)
        return -EINVAL;
    return d->check(payload, len, max_data_xfer);
}

/* ---- replies (server -> client) and server-initiated DMA ---------------- */

/*
 * DMA_READ/DMA_WRITE come in two layouts.  The spec's (and libvfio-user's):
 * {u64 addr; u64 count; data[]}.  QEMU's client: {u64 addr; u32 count;
 * data[]} as an unpacked C struct, so its data starts at 12 yet it sizes
 * messages with sizeof == 16: a DMA_WRITE request or DMA_READ reply carries
 * 16 + count payload bytes either way, QEMU's with 4 spare bytes after the
 * data.  The two are therefore NOT distinguishable from the bytes - a
 * QEMU payload whose first data bytes are zero parses as a spec one with
 * the data shifted - so the layout is an input: it is a property of the
 * peer, which the server decides per client (server/dmareq.c).
 */
static int check_dma_rw(const void *p, size_t len, bool data, bool qemu,
                        uint64_t max_xfer)
{
    struct uvfio_wire_dma_rw spec;
    struct uvfio_wire_dma_rw_qemu q;
    uint64_t count, addr;

    if (len < sizeof(spec))
        return -EINVAL;
    if (qemu) {
        memcpy(&q, p, sizeof(q));
        addr = q.addr;
        count = q.count;
    } else {
        memcpy(&spec, p, sizeof(spec));
        addr = spec.addr;
        count = spec.count;
    }
    if (count == 0)
        return -EINVAL;
    if (count > max_xfer)
        return -E2BIG;
    if (data ? len - sizeof(spec) != count : len != sizeof(spec))
        return -EINVAL;
    return range_ok(addr, count) ? 0 : -EINVAL;
}

int uvfio_wire_check_dma_request(uint16_t cmd, const void *payload, size_t len,
                                 uint64_t max_data_xfer, bool qemu_layout)
{
    if (cmd != UVFIO_CMD_DMA_READ && cmd != UVFIO_CMD_DMA_WRITE)
        return -EINVAL;
    return check_dma_rw(payload, len, cmd == UVFIO_CMD_DMA_WRITE, qemu_layout,
                        max_data_xfer);
}

int uvfio_wire_check_dma_reply(uint16_t cmd, const void *payload, size_t len,
                               uint64_t max_data_xfer, bool qemu_layout)
{
    if (cmd == UVFIO_CMD_DMA_WRITE) {
        /* QEMU answers header-only; libvfio-user echoes {addr, count}. */
        if (qemu_layout ? len != 0
                        : len != 0 && len != sizeof(struct uvfio_wire_dma_rw))
            return -EINVAL;
        return 0;
    }
    if (cmd != UVFIO_CMD_DMA_READ)
        return -EINVAL;
    return check_dma_rw(payload, len, true, qemu_layout, max_data_xfer);
}

static int reply_exact(size_t len, size_t want)
{
    return len != want ? -EINVAL : 0;
}

static int reply_at_least(size_t len, size_t want)
{
    return len < want ? -EINVAL : 0;
}

static int reply_dma_unmap(const void *p, size_t len)
{
    struct uvfio_wire_dma_unmap u;
    struct uvfio_wire_bitmap bm;

    if (len < sizeof(u))
        return -EINVAL;
    memcpy(&u, p, sizeof(u));
    if (!(u.flags & UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP))
        return 0;
    if (len - sizeof(u) < sizeof(bm))
        return -EINVAL;
    memcpy(&bm, (const uint8_t *)p + sizeof(u), sizeof(bm));
    return bm.size > len - sizeof(u) - sizeof(bm) ? -EINVAL : 0;
}

static int reply_region_read(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_region_rw rw;

    if (len < sizeof(rw))
        return -EINVAL;
    memcpy(&rw, p, sizeof(rw));
    if (rw.count > max_xfer)
        return -E2BIG;
    return len - sizeof(rw) != rw.count ? -EINVAL : 0;
}

static int reply_mig_data_read(const void *p, size_t len, uint64_t max_xfer)
{
    struct uvfio_wire_mig_data md;

    if (len < sizeof(md))
        return -EINVAL;
    memcpy(&md, p, sizeof(md));
    if (md.size > max_xfer)
        return -E2BIG;
    return len - sizeof(md) != md.size ? -EINVAL : 0;
}

static size_t reply_max_fds(uint16_t cmd)
{
    switch (cmd) {
    case UVFIO_CMD_VERSION:                 /* twin socket */
    case UVFIO_CMD_DEVICE_GET_REGION_INFO:  /* mmap fd */
        return 1;
    case UVFIO_CMD_DEVICE_GET_REGION_IO_FDS:
        return FDS_ANY;
    default:
        return 0;
    }
}

static int reply_payload(uint16_t cmd, const void *p, size_t len,
                         uint64_t max_xfer)
{
    switch (cmd) {
    case UVFIO_CMD_VERSION:
        return check_version(p, len, max_xfer);
    case UVFIO_CMD_DMA_MAP:
    case UVFIO_CMD_DEVICE_SET_IRQS:
    case UVFIO_CMD_DEVICE_RESET:
    case UVFIO_CMD_MIG_DATA_WRITE:
        return reply_exact(len, 0);
    case UVFIO_CMD_DMA_UNMAP:
        return reply_dma_unmap(p, len);
    case UVFIO_CMD_DEVICE_GET_INFO:
        return reply_at_least(len, sizeof(struct uvfio_wire_device_info));
    case UVFIO_CMD_DEVICE_GET_REGION_INFO:
        return reply_at_least(len, sizeof(struct uvfio_wire_region_info));
    case UVFIO_CMD_DEVICE_GET_REGION_IO_FDS:
        return reply_at_least(len, sizeof(struct uvfio_wire_region_io_fds));
    case UVFIO_CMD_DEVICE_GET_IRQ_INFO:
        return reply_at_least(len, sizeof(struct uvfio_wire_irq_info));
    case UVFIO_CMD_REGION_READ:
        return reply_region_read(p, len, max_xfer);
    case UVFIO_CMD_REGION_WRITE:
        return reply_exact(len, sizeof(struct uvfio_wire_region_rw));
    case UVFIO_CMD_DMA_READ:
    case UVFIO_CMD_DMA_WRITE:
        return uvfio_wire_check_dma_reply(cmd, p, len, max_xfer, false);
    case UVFIO_CMD_REGION_WRITE_MULTI:
        return reply_exact(len, sizeof(struct uvfio_wire_write_multi));
    case UVFIO_CMD_DEVICE_FEATURE:
        return check_feature(p, len, max_xfer);
    case UVFIO_CMD_MIG_DATA_READ:
        return reply_mig_data_read(p, len, max_xfer);
    default:
        return -ENOSYS;
    }
}

int uvfio_wire_check_reply(uint16_t cmd, const void *payload, size_t len,
                           size_t nfds, uint64_t max_data_xfer)
{
    if (cmd == 0 || cmd > UVFIO_CMD_MAX ||
        cmd == UVFIO_CMD_DIRTY_PAGES_LEGACY)
        return -ENOSYS;
    if (nfds > reply_max_fds(cmd))
        return -EINVAL;
    return reply_payload(cmd, payload, len, max_data_xfer);
}
