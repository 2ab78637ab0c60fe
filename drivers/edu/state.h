/* SPDX-License-Identifier: MIT */
/*
 * edu/state.h - uvfio-edu's state as migration records: their layout (an
 * interface between uvfio-edu versions, docs/uvfio-edu.md), building
 * them, judging a received one, applying the final one.
 *
 * Each record is the payload of one image of the core's helper (magic
 * EDU_MIG_MAGIC, version EDU_MIG_VERSION, length, CRC-32).  All integers
 * are little-endian.  It opens with an 8-byte header:
 *
 *   u8 kind, u8 reserved[3] (0), u32 pci_len (FINAL: PCI blob bytes, else 0)
 *
 * then by kind:
 *   CONFIG  u64 dma_mask, cq-config                          (40 bytes)
 *   STATE   registers, cq-config                             (4184 bytes)
 *   FINAL   u64 dma_mask, registers, cq-state, PCI blob
 *
 *   registers  u32 liveness, fact, status, irq_status;
 *              u64 dma_src, dma_dst, dma_cnt, dma_cmd;
 *              u32 dma_error, u32 reserved (0); u8 dma_buf[4096]
 *   cq-config  u64 addr, size; u32 rate, ctrl
 *   cq-state   cq-config; u32 error, u32 reserved (0);
 *              u64 passes, pos, bytes
 */
#ifndef UVFIO_EDU_STATE_H
#define UVFIO_EDU_STATE_H

#include <stddef.h>
#include <stdint.h>

struct edu;

#define EDU_MIG_MAGIC           0x5544454f49465655ull   /* "UVFIOEDU" */
#define EDU_MIG_VERSION         1u

enum edu_rec_kind {
    EDU_REC_CONFIG = 1,         /* initial precopy data */
    EDU_REC_STATE = 2,          /* precopy: what changed since */
    EDU_REC_FINAL = 3,          /* the stopped device; the one applied */
};

#define EDU_REC_HDR_LEN         8u
#define EDU_REC_REGS_LEN        (16u + 32u + 8u + 4096u)
#define EDU_REC_CQCFG_LEN       24u
#define EDU_REC_CQ_LEN          (EDU_REC_CQCFG_LEN + 8u + 24u)
#define EDU_REC_CONFIG_LEN      (EDU_REC_HDR_LEN + 8u + EDU_REC_CQCFG_LEN)
#define EDU_REC_STATE_LEN       (EDU_REC_HDR_LEN + EDU_REC_REGS_LEN + \
                                 EDU_REC_CQCFG_LEN)

/* Payload bytes of a record of `kind` for this device. */
size_t edu_rec_len(struct edu *e, enum edu_rec_kind kind);
/* The record of `kind` describing the device now, in a malloc'd buffer. */
int edu_rec_build(struct edu *e, enum edu_rec_kind kind, uint8_t **out,
                  size_t *len);
/* Judge a received record whole (layout, sizes, legal values, the DMA
 * mask matching ours); *kind says what it is.  0 or -EINVAL. */
int edu_rec_check(struct edu *e, const uint8_t *p, size_t len,
                  enum edu_rec_kind *kind);
/* Install a FINAL record edu_rec_check accepted: all or nothing. */
int edu_rec_apply(struct edu *e, const uint8_t *p, size_t len);

#endif /* UVFIO_EDU_STATE_H */
