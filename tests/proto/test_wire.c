/* SPDX-License-Identifier: MIT */
/*
 * test_wire.c - every command's validation, good and bad, errno by errno.
 *
 * Each case's payload is copied into a heap block of exactly its length
 * (and again at an odd address), so ASan flags any read past what the
 * peer sent and UBSan any misaligned access.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvfio/abi.h>

#include "proto/wire.h"

#define MAX     (1u << 20)          /* max_data_xfer used by the cases */

/* Payloads with trailing data, as a peer lays them out. */
struct rw4 {
    struct uvfio_wire_region_rw h;
    uint8_t d[4];
} UVFIO_PACKED;

struct rw_pad {
    struct uvfio_wire_region_rw h;
    uint8_t d[5];
} UVFIO_PACKED;

struct map_pad {
    struct uvfio_wire_dma_map m;
    uint8_t extra;
} UVFIO_PACKED;

struct unmap_bm {
    struct uvfio_wire_dma_unmap u;
    struct uvfio_wire_bitmap b;
    uint8_t bits[8];
} UVFIO_PACKED;

struct wm2 {
    uint64_t cnt;
    struct uvfio_wire_write_multi_entry e[2];
} UVFIO_PACKED;

struct ver_json {
    struct uvfio_wire_version v;
    char json[8];
} UVFIO_PACKED;

struct mig4 {
    struct uvfio_wire_mig_data h;
    uint8_t d[4];
} UVFIO_PACKED;

struct dma_spec4 {
    uint64_t addr;
    uint64_t count;
    uint8_t d[4];
} UVFIO_PACKED;

struct dma_qemu4 {
    uint64_t addr;
    uint32_t count;
    uint8_t d[4];
} UVFIO_PACKED;

struct irqs4 {
    struct uvfio_wire_irq_set s;
    uint8_t d[4];
} UVFIO_PACKED;

struct feat8 {
    struct uvfio_wire_feature f;
    uint64_t data;
} UVFIO_PACKED;

struct info_big {
    struct uvfio_wire_device_info i;
    uint8_t extra[16];
} UVFIO_PACKED;

/* A payload pointer and its full size, from a compound literal. */
#define P(type, ...)  &(type){ __VA_ARGS__ }, sizeof(type)
/* The same literal cut to `n` bytes. */
#define PN(n, type, ...)  &(type){ __VA_ARGS__ }, (n)

#define MAP(argsz, fl, off, addr, size) \
    P(struct uvfio_wire_dma_map, argsz, fl, off, addr, size)
#define UNMAP(argsz, fl, addr, size) \
    P(struct uvfio_wire_dma_unmap, argsz, fl, addr, size)
#define RW(off, reg, cnt)  P(struct uvfio_wire_region_rw, off, reg, cnt)
#define WM_ENT(cnt)  { 0x10, 0, cnt, { 0 } }

struct wcase {
    const char *name;
    uint16_t cmd;
    const void *p;
    size_t len;
    size_t nfds;
    int want;
};

static const uint8_t none[1];

static const struct wcase requests[] = {
    /* unknown and removed commands */
    { "cmd 0", 0, none, 0, 0, -ENOSYS },
    { "cmd 14 removed", UVFIO_CMD_DIRTY_PAGES_LEGACY, none, 0, 0, -ENOSYS },
    { "cmd 19", 19, none, 0, 0, -ENOSYS },
    { "cmd 0xffff", 0xffff, none, 0, 0, -ENOSYS },
    { "DMA_READ from client", UVFIO_CMD_DMA_READ,
      P(struct uvfio_wire_dma_rw, 0x1000, 4), 0, -EINVAL },
    { "DMA_WRITE from client", UVFIO_CMD_DMA_WRITE,
      P(struct dma_spec4, 0x1000, 4, { 1, 2, 3, 4 }), 0, -EINVAL },

    /* VERSION */
    { "version bare", UVFIO_CMD_VERSION, P(struct uvfio_wire_version, 0, 0), 0, 0 },
    { "version json", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, "{}\0xxxx"), 0, 0 },
    { "version json NUL last", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, { '{', ' ', ' ', ' ', ' ', ' ', '}', 0 }), 0, 0 },
    { "version json no NUL", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, { '{', ' ', ' ', ' ', ' ', ' ', ' ', '}' }),
      0, -EINVAL },
    { "version short", UVFIO_CMD_VERSION,
      PN(3, struct uvfio_wire_version, 0, 0), 0, -EINVAL },
    { "version empty", UVFIO_CMD_VERSION, none, 0, 0, -EINVAL },
    { "version fd", UVFIO_CMD_VERSION, P(struct uvfio_wire_version, 0, 0), 1,
      -EINVAL },

    /* DMA_MAP */
    { "map ok", UVFIO_CMD_DMA_MAP, MAP(32, 3, 0, 0x10000, 0x1000), 0, 0 },
    { "map ok fd", UVFIO_CMD_DMA_MAP, MAP(32, 1, 0x2000, 0x10000, 0x1000), 1, 0 },
    { "map 2 fds", UVFIO_CMD_DMA_MAP, MAP(32, 3, 0, 0x10000, 0x1000), 2, -EINVAL },
    { "map short", UVFIO_CMD_DMA_MAP,
      PN(31, struct uvfio_wire_dma_map, 32, 3, 0, 0x10000, 0x1000), 0, -EINVAL },
    { "map long", UVFIO_CMD_DMA_MAP,
      P(struct map_pad, { 32, 3, 0, 0x10000, 0x1000 }, 0), 0, -EINVAL },
    { "map argsz 24", UVFIO_CMD_DMA_MAP, MAP(24, 3, 0, 0x10000, 0x1000), 0, -EINVAL },
    { "map argsz 64", UVFIO_CMD_DMA_MAP, MAP(64, 3, 0, 0x10000, 0x1000), 0, -EINVAL },
    { "map flag 4", UVFIO_CMD_DMA_MAP, MAP(32, 4, 0, 0x10000, 0x1000), 0, -EINVAL },
    { "map flag 31", UVFIO_CMD_DMA_MAP, MAP(32, 0x80000001u, 0, 0, 0x1000), 0,
      -EINVAL },
    { "map size 0", UVFIO_CMD_DMA_MAP, MAP(32, 3, 0, 0x10000, 0), 0, -EINVAL },
    { "map addr wraps", UVFIO_CMD_DMA_MAP,
      MAP(32, 3, 0, UINT64_MAX - 0xfff, 0x2000), 0, -EINVAL },
    { "map ends at 2^64", UVFIO_CMD_DMA_MAP,
      MAP(32, 3, 0, UINT64_MAX - 0xfff, 0x1000), 0, -EINVAL },
    { "map ends below 2^64", UVFIO_CMD_DMA_MAP,
      MAP(32, 3, 0, UINT64_MAX - 0x1fff, 0x1000), 0, 0 },
    { "map offset wraps", UVFIO_CMD_DMA_MAP,
      MAP(32, 3, UINT64_MAX - 0xfff, 0x10000, 0x1000), 1, -EINVAL },
    { "map huge size", UVFIO_CMD_DMA_MAP, MAP(32, 3, 0, 1, UINT64_MAX), 0, -EINVAL },

    /* DMA_UNMAP */
    { "unmap ok", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 0, 0x10000, 0x1000), 0, 0 },
    { "unmap argsz big ok", UVFIO_CMD_DMA_UNMAP, UNMAP(4096, 0, 0x10000, 0x1000),
      0, 0 },
    { "unmap short", UVFIO_CMD_DMA_UNMAP,
      PN(23, struct uvfio_wire_dma_unmap, 24, 0, 0x10000, 0x1000), 0, -EINVAL },
    { "unmap long", UVFIO_CMD_DMA_UNMAP,
      P(struct unmap_bm, { 24, 0, 0x10000, 0x1000 }, { 4096, 8 }, { 0 }), 0,
      -EINVAL },
    { "unmap argsz 16", UVFIO_CMD_DMA_UNMAP, UNMAP(16, 0, 0x10000, 0x1000), 0,
      -EINVAL },
    { "unmap flag 4", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 4, 0x10000, 0x1000), 0,
      -EINVAL },
    { "unmap fd", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 0, 0x10000, 0x1000), 1, -EINVAL },
    { "unmap size 0", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 0, 0x10000, 0), 0, -EINVAL },
    { "unmap wraps", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 0, UINT64_MAX, 2), 0, -EINVAL },
    { "unmap all", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 2, 0, 0), 0, 0 },
    { "unmap all + range", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 2, 0x1000, 0x1000), 0,
      -EINVAL },
    { "unmap all + bitmap", UVFIO_CMD_DMA_UNMAP,
      PN(36, struct unmap_bm, { 44, 3, 0, 0 }, { 4096, 8 }, { 0 }), 0, -EINVAL },
    { "unmap bitmap ok", UVFIO_CMD_DMA_UNMAP,
      PN(36, struct unmap_bm, { 44, 1, 0x10000, 0x40000 }, { 4096, 8 }, { 0 }),
      0, 0 },
    { "unmap bitmap argsz small", UVFIO_CMD_DMA_UNMAP,
      PN(36, struct unmap_bm, { 43, 1, 0x10000, 0x40000 }, { 4096, 8 }, { 0 }),
      0, -EINVAL },
    { "unmap bitmap missing", UVFIO_CMD_DMA_UNMAP, UNMAP(44, 1, 0x10000, 0x1000),
      0, -EINVAL },
    { "unmap bitmap too big", UVFIO_CMD_DMA_UNMAP,
      PN(36, struct unmap_bm, { UINT32_MAX, 1, 0x10000, 0x40000 },
         { 4096, MAX + 1 }, { 0 }), 0, -E2BIG },
    { "unmap bitmap size wraps argsz", UVFIO_CMD_DMA_UNMAP,
      PN(36, struct unmap_bm, { 36, 1, 0x10000, 0x40000 },
         { 4096, UINT32_MAX }, { 0 }), 0, -EINVAL },

    /* queries: fixed part present, more allowed, no fds */
    { "info ok", UVFIO_CMD_DEVICE_GET_INFO,
      P(struct uvfio_wire_device_info, 16, 0, 0, 0), 0, 0 },
    { "info longer", UVFIO_CMD_DEVICE_GET_INFO,
      P(struct info_big, { 16, 0, 0, 0 }, { 0 }), 0, 0 },
    { "info short", UVFIO_CMD_DEVICE_GET_INFO,
      PN(15, struct uvfio_wire_device_info, 16, 0, 0, 0), 0, -EINVAL },
    { "info fd", UVFIO_CMD_DEVICE_GET_INFO,
      P(struct uvfio_wire_device_info, 16, 0, 0, 0), 1, -EINVAL },
    { "region info ok", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(struct uvfio_wire_region_info, 32, 0, 7, 0, 0, 0), 0, 0 },
    { "region info short", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      PN(31, struct uvfio_wire_region_info, 32, 0, 7, 0, 0, 0), 0, -EINVAL },
    { "region info fd", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(struct uvfio_wire_region_info, 32, 0, 7, 0, 0, 0), 1, -EINVAL },
    { "io fds ok", UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,
      P(struct uvfio_wire_region_io_fds, 16, 0, 0, 0), 0, 0 },
    { "io fds short", UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,
      PN(12, struct uvfio_wire_region_io_fds, 16, 0, 0, 0), 0, -EINVAL },
    { "irq info ok", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      P(struct uvfio_wire_irq_info, 16, 0, 2, 0), 0, 0 },
    { "irq info short", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      PN(8, struct uvfio_wire_irq_info, 16, 0, 2, 0), 0, -EINVAL },
    { "irq info fd", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      P(struct uvfio_wire_irq_info, 16, 0, 2, 0), 3, -EINVAL },

    /* SET_IRQS: fds are the core's business */
    { "set irqs ok", UVFIO_CMD_DEVICE_SET_IRQS,
      P(struct uvfio_wire_irq_set, 20, UVFIO_IRQ_SET_DATA_NONE |
        UVFIO_IRQ_SET_ACTION_TRIGGER, 2, 0, 0), 0, 0 },
    { "set irqs data", UVFIO_CMD_DEVICE_SET_IRQS,
      P(struct irqs4, { 24, UVFIO_IRQ_SET_DATA_BOOL |
        UVFIO_IRQ_SET_ACTION_TRIGGER, 2, 0, 4 }, { 1, 0, 1, 0 }), 0, 0 },
    { "set irqs 253 fds", UVFIO_CMD_DEVICE_SET_IRQS,
      P(struct uvfio_wire_irq_set, 20, UVFIO_IRQ_SET_DATA_EVENTFD |
        UVFIO_IRQ_SET_ACTION_TRIGGER, 2, 0, 253), 253, 0 },
    { "set irqs short", UVFIO_CMD_DEVICE_SET_IRQS,
      PN(19, struct uvfio_wire_irq_set, 20, 0, 0, 0, 0), 0, -EINVAL },

    /* REGION_READ */
    { "read ok", UVFIO_CMD_REGION_READ, RW(0, 7, 4), 0, 0 },
    { "read max", UVFIO_CMD_REGION_READ, RW(0, 0, MAX), 0, 0 },
    { "read over max", UVFIO_CMD_REGION_READ, RW(0, 0, MAX + 1), 0, -E2BIG },
    { "read count u32 max", UVFIO_CMD_REGION_READ, RW(0, 0, UINT32_MAX), 0, -E2BIG },
    { "read short", UVFIO_CMD_REGION_READ,
      PN(15, struct uvfio_wire_region_rw, 0, 7, 4), 0, -EINVAL },
    { "read with data", UVFIO_CMD_REGION_READ,
      P(struct rw4, { 0, 7, 4 }, { 0 }), 0, -EINVAL },
    { "read fd", UVFIO_CMD_REGION_READ, RW(0, 7, 4), 1, -EINVAL },

    /* REGION_WRITE */
    { "write ok", UVFIO_CMD_REGION_WRITE, P(struct rw4, { 4, 0, 4 }, { 1, 2, 3, 4 }),
      0, 0 },
    { "write zero", UVFIO_CMD_REGION_WRITE, RW(0, 0, 0), 0, 0 },
    { "write data short", UVFIO_CMD_REGION_WRITE,
      PN(19, struct rw4, { 4, 0, 4 }, { 0 }), 0, -EINVAL },
    { "write data long", UVFIO_CMD_REGION_WRITE,
      P(struct rw_pad, { 4, 0, 4 }, { 0 }), 0, -EINVAL },
    { "write count lies", UVFIO_CMD_REGION_WRITE,
      P(struct rw4, { 4, 0, 3 }, { 0 }), 0, -EINVAL },
    { "write over max", UVFIO_CMD_REGION_WRITE,
      P(struct rw4, { 4, 0, MAX + 1 }, { 0 }), 0, -E2BIG },
    { "write header short", UVFIO_CMD_REGION_WRITE,
      PN(12, struct uvfio_wire_region_rw, 0, 0, 0), 0, -EINVAL },
    { "write fd", UVFIO_CMD_REGION_WRITE,
      P(struct rw4, { 4, 0, 4 }, { 1, 2, 3, 4 }), 1, -EINVAL },

    /* DEVICE_RESET */
    { "reset ok", UVFIO_CMD_DEVICE_RESET, none, 0, 0, 0 },
    { "reset payload", UVFIO_CMD_DEVICE_RESET, none, 1, 0, -EINVAL },
    { "reset fd", UVFIO_CMD_DEVICE_RESET, none, 0, 1, -EINVAL },

    /* REGION_WRITE_MULTI */
    { "wm one", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(32, struct wm2, 1, { WM_ENT(4) }), 0, 0 },
    { "wm two", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm2, 2, { WM_ENT(1), WM_ENT(8) }), 0, 0 },
    { "wm zero", UVFIO_CMD_REGION_WRITE_MULTI, PN(8, struct wm2, 0), 0, -EINVAL },
    { "wm over max", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(8, struct wm2, UVFIO_WRITE_MULTI_MAX + 1), 0, -E2BIG },
    { "wm count 2^63", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(8, struct wm2, 1ull << 63), 0, -E2BIG },
    { "wm count > entries", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(32, struct wm2, 2, { WM_ENT(4) }), 0, -EINVAL },
    { "wm count < entries", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm2, 1, { WM_ENT(4), WM_ENT(4) }), 0, -EINVAL },
    { "wm partial entry", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(31, struct wm2, 1, { WM_ENT(4) }), 0, -EINVAL },
    { "wm short", UVFIO_CMD_REGION_WRITE_MULTI, PN(7, struct wm2, 1), 0, -EINVAL },
    { "wm entry count 0", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm2, 2, { WM_ENT(4), WM_ENT(0) }), 0, -EINVAL },
    { "wm entry count 9", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct wm2, 2, { WM_ENT(9), WM_ENT(4) }), 0, -EINVAL },
    { "wm fd", UVFIO_CMD_REGION_WRITE_MULTI,
      PN(32, struct wm2, 1, { WM_ENT(4) }), 1, -EINVAL },

    /* DEVICE_FEATURE */
    { "feature ok", UVFIO_CMD_DEVICE_FEATURE,
      P(struct uvfio_wire_feature, 8, UVFIO_FEATURE_PROBE | 1), 0, 0 },
    { "feature data", UVFIO_CMD_DEVICE_FEATURE,
      P(struct feat8, { 16, UVFIO_FEATURE_GET | 1 }, 0), 0, 0 },
    { "feature argsz 7", UVFIO_CMD_DEVICE_FEATURE,
      P(struct uvfio_wire_feature, 7, UVFIO_FEATURE_GET | 1), 0, -EINVAL },
    { "feature short", UVFIO_CMD_DEVICE_FEATURE,
      PN(7, struct uvfio_wire_feature, 8, 0), 0, -EINVAL },
    { "feature fd", UVFIO_CMD_DEVICE_FEATURE,
      P(struct uvfio_wire_feature, 8, UVFIO_FEATURE_GET | 1), 1, -EINVAL },

    /* MIG_DATA_READ / MIG_DATA_WRITE */
    { "mig read ok", UVFIO_CMD_MIG_DATA_READ,
      P(struct uvfio_wire_mig_data, 8 + 4096, 4096), 0, 0 },
    { "mig read max", UVFIO_CMD_MIG_DATA_READ,
      P(struct uvfio_wire_mig_data, 8, MAX), 0, 0 },
    { "mig read over max", UVFIO_CMD_MIG_DATA_READ,
      P(struct uvfio_wire_mig_data, 8, MAX + 1), 0, -E2BIG },
    { "mig read short", UVFIO_CMD_MIG_DATA_READ,
      PN(7, struct uvfio_wire_mig_data, 8, 8), 0, -EINVAL },
    { "mig read long", UVFIO_CMD_MIG_DATA_READ,
      P(struct mig4, { 12, 4 }, { 0 }), 0, -EINVAL },
    { "mig read fd", UVFIO_CMD_MIG_DATA_READ,
      P(struct uvfio_wire_mig_data, 8, 8), 1, -EINVAL },
    { "mig write ok", UVFIO_CMD_MIG_DATA_WRITE,
      P(struct mig4, { 12, 4 }, { 1, 2, 3, 4 }), 0, 0 },
    { "mig write lies", UVFIO_CMD_MIG_DATA_WRITE,
      P(struct mig4, { 12, 5 }, { 1, 2, 3, 4 }), 0, -EINVAL },
    { "mig write over max", UVFIO_CMD_MIG_DATA_WRITE,
      P(struct mig4, { 12, MAX + 1 }, { 0 }), 0, -E2BIG },
    { "mig write short", UVFIO_CMD_MIG_DATA_WRITE,
      PN(4, struct mig4, { 12, 4 }, { 0 }), 0, -EINVAL },
    { "mig write fd", UVFIO_CMD_MIG_DATA_WRITE,
      P(struct mig4, { 12, 4 }, { 1, 2, 3, 4 }), 1, -EINVAL },
};

static const struct wcase replies[] = {
    { "r cmd 0", 0, none, 0, 0, -ENOSYS },
    { "r cmd 14", UVFIO_CMD_DIRTY_PAGES_LEGACY, none, 0, 0, -ENOSYS },
    { "r cmd 19", 19, none, 0, 0, -ENOSYS },
    { "r version", UVFIO_CMD_VERSION, P(struct ver_json, { 0, 0 }, "{}"), 0, 0 },
    { "r version twin fd", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, "{}"), 1, 0 },
    { "r version 2 fds", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, "{}"), 2, -EINVAL },
    { "r version no NUL", UVFIO_CMD_VERSION,
      P(struct ver_json, { 0, 0 }, { '{', ' ', ' ', ' ', ' ', ' ', ' ', '}' }),
      0, -EINVAL },
    { "r map", UVFIO_CMD_DMA_MAP, none, 0, 0, 0 },
    { "r map payload", UVFIO_CMD_DMA_MAP, none, 1, 0, -EINVAL },
    { "r unmap", UVFIO_CMD_DMA_UNMAP, UNMAP(24, 0, 0x1000, 0x1000), 0, 0 },
    { "r unmap short", UVFIO_CMD_DMA_UNMAP,
      PN(20, struct uvfio_wire_dma_unmap, 24, 0, 0, 0), 0, -EINVAL },
    { "r unmap bitmap", UVFIO_CMD_DMA_UNMAP,
      P(struct unmap_bm, { 44, 1, 0x10000, 0x40000 }, { 4096, 8 }, { 0xff }),
      0, 0 },
    { "r unmap bitmap cut", UVFIO_CMD_DMA_UNMAP,
      PN(43, struct unmap_bm, { 44, 1, 0x10000, 0x40000 }, { 4096, 8 }, { 0 }),
      0, -EINVAL },
    { "r unmap bitmap no desc", UVFIO_CMD_DMA_UNMAP,
      UNMAP(44, 1, 0x10000, 0x40000), 0, -EINVAL },
    { "r info", UVFIO_CMD_DEVICE_GET_INFO,
      P(struct uvfio_wire_device_info, 16, 3, 9, 5), 0, 0 },
    { "r info short", UVFIO_CMD_DEVICE_GET_INFO,
      PN(12, struct uvfio_wire_device_info, 16, 3, 9, 5), 0, -EINVAL },
    { "r region info", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(struct uvfio_wire_region_info, 32, 7, 0, 0, 4096, 0), 1, 0 },
    { "r region info short", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      PN(31, struct uvfio_wire_region_info, 32, 7, 0, 0, 4096, 0), 0, -EINVAL },
    { "r region info 2 fds", UVFIO_CMD_DEVICE_GET_REGION_INFO,
      P(struct uvfio_wire_region_info, 32, 7, 0, 0, 4096, 0), 2, -EINVAL },
    { "r io fds", UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,
      P(struct uvfio_wire_region_io_fds, 16, 0, 0, 0), 8, 0 },
    { "r irq info", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      P(struct uvfio_wire_irq_info, 16, 1, 0, 1), 0, 0 },
    { "r irq info fd", UVFIO_CMD_DEVICE_GET_IRQ_INFO,
      P(struct uvfio_wire_irq_info, 16, 1, 0, 1), 1, -EINVAL },
    { "r set irqs", UVFIO_CMD_DEVICE_SET_IRQS, none, 0, 0, 0 },
    { "r set irqs payload", UVFIO_CMD_DEVICE_SET_IRQS, none, 1, 0, -EINVAL },
    { "r read", UVFIO_CMD_REGION_READ, P(struct rw4, { 0, 0, 4 }, { 1 }), 0, 0 },
    { "r read lies", UVFIO_CMD_REGION_READ, P(struct rw4, { 0, 0, 8 }, { 1 }), 0,
      -EINVAL },
    { "r read over max", UVFIO_CMD_REGION_READ,
      P(struct rw4, { 0, 0, MAX + 1 }, { 1 }), 0, -E2BIG },
    { "r read short", UVFIO_CMD_REGION_READ,
      PN(8, struct rw4, { 0, 0, 4 }, { 1 }), 0, -EINVAL },
    { "r write", UVFIO_CMD_REGION_WRITE, RW(0, 0, 4), 0, 0 },
    { "r write empty", UVFIO_CMD_REGION_WRITE, none, 0, 0, -EINVAL },
    { "r write data", UVFIO_CMD_REGION_WRITE, P(struct rw4, { 0, 0, 4 }, { 0 }),
      0, -EINVAL },
    { "r reset", UVFIO_CMD_DEVICE_RESET, none, 0, 0, 0 },
    { "r reset payload", UVFIO_CMD_DEVICE_RESET, P(uint32_t, 0), 0, -EINVAL },
    { "r wm", UVFIO_CMD_REGION_WRITE_MULTI, P(uint64_t, 2), 0, 0 },
    { "r wm long", UVFIO_CMD_REGION_WRITE_MULTI,
      P(struct uvfio_wire_dma_rw, 2, 0), 0, -EINVAL },
    { "r feature", UVFIO_CMD_DEVICE_FEATURE,
      P(struct feat8, { 16, UVFIO_FEATURE_GET | 1 }, 1), 0, 0 },
    { "r feature short", UVFIO_CMD_DEVICE_FEATURE,
      PN(4, struct feat8, { 16, 0 }, 0), 0, -EINVAL },
    { "r mig read", UVFIO_CMD_MIG_DATA_READ, P(struct mig4, { 12, 4 }, { 0 }),
      0, 0 },
    { "r mig read short read", UVFIO_CMD_MIG_DATA_READ,
      P(struct uvfio_wire_mig_data, 8, 0), 0, 0 },
    { "r mig read lies", UVFIO_CMD_MIG_DATA_READ,
      P(struct mig4, { 12, 3 }, { 0 }), 0, -EINVAL },
    { "r mig read over max", UVFIO_CMD_MIG_DATA_READ,
      P(struct mig4, { 12, MAX + 1 }, { 0 }), 0, -E2BIG },
    { "r mig write", UVFIO_CMD_MIG_DATA_WRITE, none, 0, 0, 0 },
    { "r mig write payload", UVFIO_CMD_MIG_DATA_WRITE, P(uint64_t, 0), 0, -EINVAL },
    { "r dma read spec", UVFIO_CMD_DMA_READ,
      P(struct dma_spec4, 0x1000, 4, { 0 }), 0, 0 },
    { "r dma read unpadded", UVFIO_CMD_DMA_READ,
      P(struct dma_qemu4, 0x1000, 4, { 0 }), 0, -EINVAL },
    { "r dma read lies", UVFIO_CMD_DMA_READ,
      P(struct dma_spec4, 0x1000, 5, { 0 }), 0, -EINVAL },
    { "r dma write empty", UVFIO_CMD_DMA_WRITE, none, 0, 0, 0 },
    { "r dma write 12", UVFIO_CMD_DMA_WRITE,
      P(struct uvfio_wire_dma_rw_qemu, 0x1000, 4), 0, -EINVAL },
    { "r dma write spec", UVFIO_CMD_DMA_WRITE,
      P(struct uvfio_wire_dma_rw, 0x1000, 4), 0, 0 },
    { "r dma write 8", UVFIO_CMD_DMA_WRITE, P(uint64_t, 0x1000), 0, -EINVAL },
};

/* Run a case on an exact-size heap copy, then on an odd-aligned copy. */
static int run_case(const struct wcase *c, bool reply)
{
    uint8_t *exact = malloc(c->len ? c->len : 1);
    uint8_t *odd = malloc(c->len + 1);
    int r1, r2;

    assert_non_null(exact);
    assert_non_null(odd);
    memcpy(exact, c->p, c->len);
    memcpy(odd + 1, c->p, c->len);
    if (reply) {
        r1 = uvfio_wire_check_reply(c->cmd, exact, c->len, c->nfds, MAX);
        r2 = uvfio_wire_check_reply(c->cmd, odd + 1, c->len, c->nfds, MAX);
    } else {
        r1 = uvfio_wire_check_request(c->cmd, exact, c->len, c->nfds, MAX);
        r2 = uvfio_wire_check_request(c->cmd, odd + 1, c->len, c->nfds, MAX);
    }
    free(exact);
    free(odd);
    if (r1 != r2)
        print_error("%s: aligned %d, unaligned %d\n", c->name, r1, r2);
    return r1 != r2 ? INT32_MIN : r1;
}

static void run_table(const struct wcase *t, size_t n, bool reply)
{
    size_t i, failed = 0;
    int r;

    for (i = 0; i < n; i++) {
        r = run_case(&t[i], reply);
        if (r != t[i].want) {
            print_error("case '%s': got %d, want %d\n", t[i].name, r, t[i].want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

static void test_request_table(void **state)
{
    (void)state;
    run_table(requests, sizeof(requests) / sizeof(requests[0]), false);
}

static void test_reply_table(void **state)
{
    (void)state;
    run_table(replies, sizeof(replies) / sizeof(replies[0]), true);
}

/* The table above covers every command number from 0 to 19. */
static void test_table_covers_all_commands(void **state)
{
    bool seen[20] = { false };
    size_t i;
    unsigned c;

    (void)state;
    for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        if (requests[i].cmd < 20)
            seen[requests[i].cmd] = true;
    }
    for (c = 0; c < 20; c++) {
        if (!seen[c])
            print_error("command %u has no request case\n", c);
        assert_true(seen[c]);
    }
}

static void test_write_multi_max(void **state)
{
    size_t len = 8 + UVFIO_WRITE_MULTI_MAX * 24;
    uint8_t *p = calloc(1, len + 24);
    uint64_t cnt = UVFIO_WRITE_MULTI_MAX;
    struct uvfio_wire_write_multi_entry e = { 0, 0, 8, { 0 } };
    size_t i;

    (void)state;
    assert_non_null(p);
    memcpy(p, &cnt, 8);
    for (i = 0; i <= UVFIO_WRITE_MULTI_MAX; i++)
        memcpy(p + 8 + i * 24, &e, 24);
    assert_int_equal(uvfio_wire_check_request(UVFIO_CMD_REGION_WRITE_MULTI, p,
                                              len, 0, MAX), 0);
    cnt++;
    memcpy(p, &cnt, 8);
    assert_int_equal(uvfio_wire_check_request(UVFIO_CMD_REGION_WRITE_MULTI, p,
                                              len + 24, 0, MAX), -E2BIG);
    /* the last entry is checked too */
    cnt--;
    memcpy(p, &cnt, 8);
    p[8 + (UVFIO_WRITE_MULTI_MAX - 1) * 24 + 12] = 9;
    assert_int_equal(uvfio_wire_check_request(UVFIO_CMD_REGION_WRITE_MULTI, p,
                                              len, 0, MAX), -EINVAL);
    free(p);
}

/* max_data_xfer is the caller's: the same message flips at the limit. */
static void test_limit_is_parameter(void **state)
{
    struct uvfio_wire_region_rw rw = { 0, 0, 4096 };

    (void)state;
    assert_int_equal(uvfio_wire_check_request(UVFIO_CMD_REGION_READ, &rw,
                                              sizeof(rw), 0, 4096), 0);
    assert_int_equal(uvfio_wire_check_request(UVFIO_CMD_REGION_READ, &rw,
                                              sizeof(rw), 0, 4095), -E2BIG);
}

/* ---- header ---------------------------------------------------------------- */

static int hdr(uint32_t flags, uint32_t size, size_t max)
{
    struct uvfio_wire_hdr h = { 1, UVFIO_CMD_REGION_READ, size, flags, 0 };

    return uvfio_wire_check_hdr(&h, max);
}

static void test_header(void **state)
{
    (void)state;
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, 16, 4096), 0);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_REPLY, 32, 4096), 0);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND | UVFIO_HDR_NO_REPLY, 32, 4096), 0);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_REPLY | UVFIO_HDR_ERROR, 16, 4096), 0);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, 4096, 4096), 0);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, 4097, 4096), -E2BIG);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, UINT32_MAX, 4096), -E2BIG);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, 15, 4096), -EINVAL);
    assert_int_equal(hdr(UVFIO_HDR_TYPE_COMMAND, 0, 4096), -EINVAL);
    assert_int_equal(hdr(2, 16, 4096), -EINVAL);
    assert_int_equal(hdr(0xf, 16, 4096), -EINVAL);
    assert_int_equal(hdr(1u << 6, 16, 4096), -EINVAL);
    assert_int_equal(hdr(1u << 31, 16, 4096), -EINVAL);
    /* a broken header is broken whatever its size */
    assert_int_equal(hdr(1u << 6, 1u << 30, 4096), -EINVAL);
}

static void test_cmd_names(void **state)
{
    (void)state;
    assert_string_equal(uvfio_cmd_name(UVFIO_CMD_VERSION), "VERSION");
    assert_string_equal(uvfio_cmd_name(UVFIO_CMD_REGION_READ), "REGION_READ");
    assert_string_equal(uvfio_cmd_name(UVFIO_CMD_REGION_WRITE_MULTI),
                        "REGION_WRITE_MULTI");
    assert_string_equal(uvfio_cmd_name(UVFIO_CMD_MIG_DATA_WRITE),
                        "MIG_DATA_WRITE");
    assert_string_equal(uvfio_cmd_name(0), "UNKNOWN");
    assert_string_equal(uvfio_cmd_name(19), "UNKNOWN");
    assert_string_equal(uvfio_cmd_name(0xffff), "UNKNOWN");
}

/* ---- server-initiated DMA ------------------------------------------------- */

static int dma(uint16_t cmd, const void *p, size_t len, bool qemu)
{
    uint8_t *copy = malloc(len ? len : 1);
    int r;

    assert_non_null(copy);
    memcpy(copy, p, len);
    r = uvfio_wire_check_dma_request(cmd, copy, len, MAX, qemu);
    free(copy);
    return r;
}

/* QEMU's struct as QEMU lays it out: unpacked, data at 12, sizeof 16. */
struct dma_qemu_padded4 {
    uint64_t addr;
    uint32_t count;
    uint8_t d[4];
    uint8_t spare[4];
} UVFIO_PACKED;

static void test_dma_request(void **state)
{
    struct uvfio_wire_dma_rw spec = { 0x1000, 4 };
    struct dma_spec4 ws = { 0x1000, 4, { 1, 2, 3, 4 } };
    struct dma_qemu_padded4 wq = { 0x1000, 4, { 1, 2, 3, 4 }, { 0 } };

    (void)state;
    /* DMA_READ requests are 16 bytes in both layouts. */
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, false), 0);
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, true), 0);
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 12, true), -EINVAL);
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &ws, sizeof(ws), false), 0);
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, sizeof(wq), true), 0);
    /* the unpacked 12 + count shape is nobody's layout */
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, 16, true), -EINVAL);

    /* wrong sizes */
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &ws, 20, false), -EINVAL);
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 0, false), -EINVAL);
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &ws, sizeof(ws) - 1, false),
                     -EINVAL);
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, sizeof(wq) - 1, true),
                     -EINVAL);
    wq.count = 3;
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, sizeof(wq), true), -EINVAL);

    /* count 0, over the limit, wrapping */
    spec.count = 0;
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, false), -EINVAL);
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, true), -EINVAL);
    spec.count = MAX + 1;
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, false), -E2BIG);
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, true), -E2BIG);
    spec.count = UINT64_MAX;
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, false), -E2BIG);
    spec.count = 16;
    spec.addr = UINT64_MAX - 8;
    assert_int_equal(dma(UVFIO_CMD_DMA_READ, &spec, 16, false), -EINVAL);

    /* not a DMA command */
    spec.addr = 0;
    assert_int_equal(dma(UVFIO_CMD_REGION_READ, &spec, 16, false), -EINVAL);
}

/*
 * Why the layout is an input: a QEMU DMA_WRITE whose first data bytes are
 * zero is also a self-consistent spec message (its u64 count reads as the
 * u32 count) with the data shifted by 4.  Guessing would corrupt guest
 * memory silently; the caller must know its peer.
 */
static void test_dma_layouts_ambiguous(void **state)
{
    struct dma_qemu_padded4 wq = { 0x1000, 4, { 0, 0, 0, 0 }, { 9, 9, 9, 9 } };

    (void)state;
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, sizeof(wq), true), 0);
    assert_int_equal(dma(UVFIO_CMD_DMA_WRITE, &wq, sizeof(wq), false), 0);
}

static void test_dma_reply(void **state)
{
    struct dma_spec4 ws = { 0x1000, 4, { 1, 2, 3, 4 } };
    struct dma_qemu_padded4 wq = { 0x1000, 4, { 1, 2, 3, 4 }, { 0 } };

    (void)state;
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_READ, &ws,
                                                sizeof(ws), MAX, false), 0);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_READ, &wq,
                                                sizeof(wq), MAX, true), 0);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_READ, &wq,
                                                sizeof(wq) - 4, MAX, true),
                     -EINVAL);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_WRITE, NULL, 0,
                                                MAX, true), 0);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_WRITE, &ws, 16,
                                                MAX, true), -EINVAL);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_WRITE, NULL, 0,
                                                MAX, false), 0);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_WRITE, &ws, 16,
                                                MAX, false), 0);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_DMA_WRITE, &ws, 4,
                                                MAX, false), -EINVAL);
    assert_int_equal(uvfio_wire_check_dma_reply(UVFIO_CMD_VERSION, &ws, 4,
                                                MAX, false), -EINVAL);
}

/* ---- random payloads ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static bool known_errno(int r)
{
    return r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOSYS;
}

/* Random bytes never crash a checker nor produce an errno outside the
 * documented set; exact-size buffers let ASan see any over-read. */
static void test_random_payloads(void **state)
{
    unsigned i;
    size_t len, j;
    uint8_t *p;
    uint16_t cmd;
    int r;

    (void)state;
    for (i = 0; i < 20000; i++) {
        cmd = (uint16_t)(rnd() % 21);
        len = rnd() % 72;
        p = malloc(len ? len : 1);
        assert_non_null(p);
        for (j = 0; j < len; j++)
            p[j] = (uint8_t)rnd();
        /* small counts now and then so that valid shapes come up too */
        if (len >= 16 && (rnd() & 1))
            memset(p + 8, 0, 8);
        r = uvfio_wire_check_request(cmd, p, len, rnd() % 3, rnd() % (2 * MAX));
        assert_true(known_errno(r));
        r = uvfio_wire_check_reply(cmd, p, len, rnd() % 3, MAX);
        assert_true(known_errno(r));
        r = uvfio_wire_check_dma_request(cmd, p, len, MAX, rnd() & 1);
        assert_true(known_errno(r));
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_reply_table),
        cmocka_unit_test(test_table_covers_all_commands),
        cmocka_unit_test(test_write_multi_max),
        cmocka_unit_test(test_limit_is_parameter),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_cmd_names),
        cmocka_unit_test(test_dma_request),
        cmocka_unit_test(test_dma_layouts_ambiguous),
        cmocka_unit_test(test_dma_reply),
        cmocka_unit_test(test_random_payloads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
