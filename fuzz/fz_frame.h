/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_frame.h - the input formats of the fuzz targets, shared by the
 * harnesses and by the seed generator (gen_seeds.c) so the two cannot
 * drift apart.  Multi-byte fields are little-endian.
 *
 * fuzz_server_conn:  cfg:u8 record*
 *   cfg   bit 0 ask for a twin socket     bit 1 propose 0.0 (QEMU's layout)
 *         bit 2 ask for precopy_info      bits 3-4 max_data_xfer_size:
 *         4 KiB, 16 KiB, 64 KiB, 64 KiB   bit 5 no write_multiple
 *         bit 6 send QEMU's literal VERSION JSON instead (ignores 2-5)
 *   record  op:u8 then, by op & FZS_KIND_MASK:
 *     MSG / MSG_TWIN  cmd:u8 flags:u8 id:u16 error:u8 len:u16 payload[len]
 *                     (the harness writes the 16-byte header, size right)
 *     RAW / RAW_TWIN  len:u16 bytes[len] (sent as they are)
 *     SETTLE          nothing: let the server handle what it has
 *     HANGUP          nothing: the client shuts its socket; input ends
 *     SIGNAL          idx:u8: the client signals the idx-th eventfd it
 *                     has sent (mod how many), as a VMM unmasks an IRQ
 *     BIG             cmd:u8 flags:u8 id:u16 size:u24 fill:u8 prefix[16]:
 *                     a framed message of `size` bytes (header included,
 *                     at most FZS_BIG_MAX) whose payload is the prefix
 *                     and then `fill` - large messages for the receiver's
 *                     large and discard paths, cheap in input bytes
 *   op bit 3 (FZS_PIPELINE): do not let the server run after this record,
 *   so the next one is in the socket with it.  op bits 4-5: fds attached
 *   to the record (0-3), bits 6-7: their kind (enum fz_stub).
 *
 * fuzz_client_reply:  cfg:u8 turn*
 *   cfg   bit 0 ask for a twin socket     bit 1 VERSION reply is the next
 *         turn's raw bytes instead of a valid one (then bit 0 is ignored)
 *         bit 2 offer max_data_xfer_size 4 KiB instead of 64 KiB
 *   turn  (the fake server's answer to one request)
 *     npre:u8  (& 3) server-initiated messages first, each:
 *         pflags:u8 addr:u64 count:u32 dlen:u16 data[dlen]
 *         pflags bit 0 on the twin socket, bit 1 QEMU layout (u32 count,
 *         data at 12, 4 pad bytes), bit 2 DMA_WRITE (else DMA_READ),
 *         bit 3 NO_REPLY, bit 4 another command number (addr's low byte)
 *     rflags:u8 [id:u16 cmd:u16 hflags:u8 if RAW_HDR] [error:u32 if ERROR]
 *         [nfds:u8 if FDS] then len:u16 payload[len], or with BIG
 *         len:u24 fill:u8 prefix[16] (a payload of len bytes, at most
 *         FZS_BIG_MAX - 16: the prefix, then fill)
 *         rflags bit 0 RAW_HDR: header fields from the input, not the
 *         request's; bit 1 ERROR reply; bit 2 FDS; bit 3 send on the twin;
 *         bit 4 garbage: send the payload bytes with no header at all;
 *         bit 5 BIG
 *
 * fuzz_dirty_report: see fuzz_dirty_report.c (it has no shared encoder).
 */
#ifndef UVFIO_FUZZ_FZ_FRAME_H
#define UVFIO_FUZZ_FZ_FRAME_H

/* fuzz_server_conn */
#define FZS_CFG_TWIN        0x01u
#define FZS_CFG_QEMU        0x02u
#define FZS_CFG_PRECOPY     0x04u
#define FZS_CFG_XFER_SHIFT  3
#define FZS_CFG_XFER_MASK   0x18u
#define FZS_CFG_NO_WM       0x20u
#define FZS_CFG_QEMU_JSON   0x40u

#define FZS_KIND_MASK       0x07u
#define FZS_MSG             0u
#define FZS_RAW             1u
#define FZS_MSG_TWIN        2u
#define FZS_RAW_TWIN        3u
#define FZS_SETTLE          4u
#define FZS_HANGUP          5u
#define FZS_BIG             6u
#define FZS_SIGNAL          7u
#define FZS_PIPELINE        0x08u
#define FZS_NFDS_SHIFT      4
#define FZS_NFDS_MASK       0x30u
#define FZS_FDKIND_SHIFT    6
#define FZS_BIG_MAX         ((1u << 20) + (128u << 10))
#define FZS_BIG_BUDGET      (4u << 20)      /* BIG bytes per input */

/* fuzz_client_reply */
#define FZC_CFG_TWIN        0x01u
#define FZC_CFG_RAW_VERSION 0x02u
#define FZC_CFG_SMALL_XFER  0x04u

#define FZC_PRE_TWIN        0x01u
#define FZC_PRE_QEMU        0x02u
#define FZC_PRE_WRITE       0x04u
#define FZC_PRE_NO_REPLY    0x08u
#define FZC_PRE_OTHER_CMD   0x10u

#define FZC_R_RAW_HDR       0x01u
#define FZC_R_ERROR         0x02u
#define FZC_R_FDS           0x04u
#define FZC_R_TWIN          0x08u
#define FZC_R_GARBAGE       0x10u
#define FZC_R_BIG           0x20u

#endif /* UVFIO_FUZZ_FZ_FRAME_H */
