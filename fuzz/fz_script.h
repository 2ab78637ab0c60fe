/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_script.h - the fixed sequence of client calls fuzz_client_reply
 * runs against its fake server, shared with the seed generator (which
 * records a real server's answers to the very same calls).
 *
 * The script: connect; device info; region info (0, 2, 7) and an mmap of
 * what it allows; IRQ info; region reads and writes, two of them larger
 * than a 4 KiB max_data_xfer_size; posted writes (batched and not) and a
 * flush; SET_IRQS with eventfds and with bools; DMA maps by fd and by
 * message (one read-only); an idle dispatch; DMA logging (start, a report
 * of 256 MiB split into windows, an unmap with a dirty bitmap, stop); the
 * migration calls and two raw features; unmap, unmap all, reset, a last
 * dispatch; close.  Return
 * values are checked only for what must hold whatever the server says: a
 * length never above what was asked, an error inside errno's range.
 */
#ifndef UVFIO_FUZZ_FZ_SCRIPT_H
#define UVFIO_FUZZ_FZ_SCRIPT_H

#include <stdint.h>

/* Guest memory layout the script gives the server. */
#define FZ_SCRIPT_HOST_SIZE     (64u << 10)
#define FZ_SCRIPT_IOVA_FD       0x100000ull
#define FZ_SCRIPT_IOVA_MSG      0x200000ull
#define FZ_SCRIPT_IOVA_MSG_RO   0x300000ull

/* The max_data_xfer_size the client offers for this cfg byte. */
uint64_t fz_script_xfer(uint8_t cfg);

/* Run the script over `sock` (taken) with the client options cfg selects
 * (FZC_CFG_* in fz_frame.h). */
void fz_script_run(int sock, uint8_t cfg);

#endif /* UVFIO_FUZZ_FZ_SCRIPT_H */
