/* SPDX-License-Identifier: MIT */
/*
 * proto/wire.h - the vfio-user wire format, in one place.
 *
 * Every message is a 16-byte header followed by a command-specific payload.
 * All integers are host-endian and all structs are packed (the protocol is
 * defined on the sender's in-memory layout).  Offsets in comments are from
 * the start of the payload, i.e. after the header.
 *
 * Nothing outside src/proto/ should compute a payload size or an offset into
 * a payload by hand: use the sizes and decoders declared here, which check
 * every length and count against the bytes actually received before any
 * field past the fixed part is touched.
 */
#ifndef UVFIO_PROTO_WIRE_H
#define UVFIO_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVFIO_PACKED __attribute__((packed))

/* ---- header ------------------------------------------------------------ */

struct uvfio_wire_hdr {
    uint16_t msg_id;
    uint16_t cmd;
    uint32_t size;      /* whole message, header included */
    uint32_t flags;
    uint32_t error;     /* errno, meaningful in a reply with ERROR set */
} UVFIO_PACKED;

#define UVFIO_HDR_SIZE              16u
#define UVFIO_HDR_TYPE_MASK         0xfu
#define UVFIO_HDR_TYPE_COMMAND      0x0u
#define UVFIO_HDR_TYPE_REPLY        0x1u
#define UVFIO_HDR_NO_REPLY          (1u << 4)
#define UVFIO_HDR_ERROR             (1u << 5)
#define UVFIO_HDR_KNOWN_FLAGS       (UVFIO_HDR_TYPE_MASK | UVFIO_HDR_NO_REPLY | UVFIO_HDR_ERROR)

enum uvfio_cmd {
    UVFIO_CMD_VERSION = 1,
    UVFIO_CMD_DMA_MAP = 2,
    UVFIO_CMD_DMA_UNMAP = 3,
    UVFIO_CMD_DEVICE_GET_INFO = 4,
    UVFIO_CMD_DEVICE_GET_REGION_INFO = 5,
    UVFIO_CMD_DEVICE_GET_REGION_IO_FDS = 6,
    UVFIO_CMD_DEVICE_GET_IRQ_INFO = 7,
    UVFIO_CMD_DEVICE_SET_IRQS = 8,
    UVFIO_CMD_REGION_READ = 9,
    UVFIO_CMD_REGION_WRITE = 10,
    UVFIO_CMD_DMA_READ = 11,
    UVFIO_CMD_DMA_WRITE = 12,
    UVFIO_CMD_DEVICE_RESET = 13,
    UVFIO_CMD_DIRTY_PAGES_LEGACY = 14,   /* removed from the spec: refused */
    UVFIO_CMD_REGION_WRITE_MULTI = 15,
    UVFIO_CMD_DEVICE_FEATURE = 16,
    UVFIO_CMD_MIG_DATA_READ = 17,
    UVFIO_CMD_MIG_DATA_WRITE = 18,
    UVFIO_CMD_MAX = 18
};

/* Protocol version the server answers with: QEMU proposes 0.0, libvfio-user
 * 0.2; the reply's major must equal the proposal and its minor must not
 * exceed it. */
#define UVFIO_PROTO_MAJOR           0
#define UVFIO_PROTO_MINOR           2

/* Defaults the spec assigns when a capability is absent. */
#define UVFIO_DEFAULT_MAX_MSG_FDS       1u
#define UVFIO_DEFAULT_MAX_DATA_XFER     (1u << 20)
#define UVFIO_DEFAULT_MAX_DMA_MAPS      65535u
#define UVFIO_DEFAULT_PGSIZES           4096u
/* Hard ceiling on max_data_xfer_size whatever a peer offers. */
#define UVFIO_MAX_DATA_XFER_LIMIT       (64u << 20)

/* ---- payloads ---------------------------------------------------------- */

struct uvfio_wire_version {
    uint16_t major;
    uint16_t minor;
    /* followed by an optional NUL-terminated JSON capabilities object */
} UVFIO_PACKED;

struct uvfio_wire_dma_map {
    uint32_t argsz;     /* = sizeof(struct uvfio_wire_dma_map) */
    uint32_t flags;     /* UVFIO_DMA_MAP_FLAG_READ / _WRITE */
    uint64_t offset;    /* file offset in the fd, 0 without fd */
    uint64_t addr;      /* IOVA */
    uint64_t size;
} UVFIO_PACKED;

struct uvfio_wire_dma_unmap {
    uint32_t argsz;
    uint32_t flags;     /* legacy: GET_DIRTY_BITMAP (bit 0), ALL (bit 1) */
    uint64_t addr;
    uint64_t size;
    /* with GET_DIRTY_BITMAP: struct uvfio_wire_bitmap, and in the reply
     * the bitmap bytes after it */
} UVFIO_PACKED;

/* Legacy dirty bitmap descriptor trailing a DMA_UNMAP (libvfio-user layout). */
struct uvfio_wire_bitmap {
    uint64_t pgsize;
    uint32_t size;      /* bitmap bytes */
    /* followed (in the reply) by `size` bytes of bitmap */
} UVFIO_PACKED;

struct uvfio_wire_device_info {
    uint32_t argsz;
    uint32_t flags;
    uint32_t num_regions;
    uint32_t num_irqs;
} UVFIO_PACKED;

struct uvfio_wire_region_info {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t cap_offset;    /* from the start of this struct */
    uint64_t size;
    uint64_t offset;
    /* followed by the capability chain */
} UVFIO_PACKED;

struct uvfio_wire_cap_header {
    uint16_t id;
    uint16_t version;
    uint32_t next;          /* from the start of the INFO struct; 0 = end */
} UVFIO_PACKED;

struct uvfio_wire_sparse_area {
    uint64_t offset;
    uint64_t size;
} UVFIO_PACKED;

struct uvfio_wire_cap_sparse_mmap {
    struct uvfio_wire_cap_header header;
    uint32_t nr_areas;
    uint32_t reserved;
    /* followed by nr_areas x struct uvfio_wire_sparse_area */
} UVFIO_PACKED;

struct uvfio_wire_cap_type {
    struct uvfio_wire_cap_header header;
    uint32_t type;
    uint32_t subtype;
} UVFIO_PACKED;

struct uvfio_wire_region_io_fds {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t count;
    /* followed by count x struct uvfio_wire_sub_region_ioeventfd */
} UVFIO_PACKED;

struct uvfio_wire_sub_region_ioeventfd {
    uint64_t offset;
    uint64_t size;
    uint32_t fd_index;
    uint32_t type;
    uint32_t flags;
    uint32_t padding;
    uint64_t datamatch;
} UVFIO_PACKED;

struct uvfio_wire_irq_info {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t count;
} UVFIO_PACKED;

struct uvfio_wire_irq_set {
    uint32_t argsz;     /* size of this request including data[] */
    uint32_t flags;
    uint32_t index;
    uint32_t start;
    uint32_t count;
    /* followed by count bytes for DATA_BOOL; eventfds travel as SCM_RIGHTS */
} UVFIO_PACKED;

struct uvfio_wire_region_rw {
    uint64_t offset;
    uint32_t region;
    uint32_t count;
    /* followed by count bytes of data (write request / read reply) */
} UVFIO_PACKED;

/* DMA_READ / DMA_WRITE as the spec and libvfio-user lay them out. */
struct uvfio_wire_dma_rw {
    uint64_t addr;
    uint64_t count;
    /* followed by data */
} UVFIO_PACKED;

/* ... and as QEMU's client lays them out (32-bit count, data at 12). */
struct uvfio_wire_dma_rw_qemu {
    uint64_t addr;
    uint32_t count;
} UVFIO_PACKED;

#define UVFIO_WRITE_MULTI_DATA_MAX  8u
#define UVFIO_WRITE_MULTI_MAX       2048u   /* entries per message */

struct uvfio_wire_write_multi_entry {
    uint64_t offset;
    uint32_t region;
    uint32_t count;     /* <= 8 */
    uint8_t  data[UVFIO_WRITE_MULTI_DATA_MAX];
} UVFIO_PACKED;

struct uvfio_wire_write_multi {
    uint64_t wr_cnt;
    /* followed by wr_cnt x struct uvfio_wire_write_multi_entry */
} UVFIO_PACKED;

struct uvfio_wire_feature {
    uint32_t argsz;
    uint32_t flags;     /* feature index | GET | SET | PROBE */
    /* followed by the feature payload */
} UVFIO_PACKED;

struct uvfio_wire_feature_migration {
    uint64_t flags;
} UVFIO_PACKED;

struct uvfio_wire_feature_mig_state {
    uint32_t device_state;
    uint32_t data_fd;       /* unused by vfio-user */
} UVFIO_PACKED;

struct uvfio_wire_feature_mig_data_size {
    uint64_t stop_copy_length;
} UVFIO_PACKED;

struct uvfio_wire_logging_range {
    uint64_t iova;
    uint64_t length;
} UVFIO_PACKED;

struct uvfio_wire_logging_control {
    uint64_t page_size;
    uint32_t num_ranges;
    uint32_t reserved;
    /* followed by num_ranges x struct uvfio_wire_logging_range */
} UVFIO_PACKED;

struct uvfio_wire_logging_report {
    uint64_t iova;
    uint64_t length;
    uint64_t page_size;
    /* followed (in the reply) by the bitmap, u64 words */
} UVFIO_PACKED;

struct uvfio_wire_mig_data {
    uint32_t argsz;
    uint32_t size;
    /* followed by data */
} UVFIO_PACKED;

_Static_assert(sizeof(struct uvfio_wire_hdr) == 16, "header");
_Static_assert(sizeof(struct uvfio_wire_dma_map) == 32, "dma_map");
_Static_assert(sizeof(struct uvfio_wire_dma_unmap) == 24, "dma_unmap");
_Static_assert(sizeof(struct uvfio_wire_device_info) == 16, "device_info");
_Static_assert(sizeof(struct uvfio_wire_region_info) == 32, "region_info");
_Static_assert(sizeof(struct uvfio_wire_irq_info) == 16, "irq_info");
_Static_assert(sizeof(struct uvfio_wire_irq_set) == 20, "irq_set");
_Static_assert(sizeof(struct uvfio_wire_region_rw) == 16, "region_rw");
_Static_assert(sizeof(struct uvfio_wire_dma_rw) == 16, "dma_rw");
_Static_assert(sizeof(struct uvfio_wire_dma_rw_qemu) == 12, "dma_rw_qemu");
_Static_assert(sizeof(struct uvfio_wire_write_multi_entry) == 24, "wm entry");
_Static_assert(sizeof(struct uvfio_wire_sub_region_ioeventfd) == 40, "ioeventfd");
/* Contract fix (migration engineer): over vfio-user the ranges follow the
 * control struct inline (no ranges_ptr as in the kernel's 24-byte form),
 * so the fixed part is page_size + num_ranges + reserved = 16 bytes. */
_Static_assert(sizeof(struct uvfio_wire_logging_control) == 16, "log ctl");
_Static_assert(sizeof(struct uvfio_wire_logging_report) == 24, "log report");

/* ---- validation -------------------------------------------------------- */

/* Name of a command for logs and tools ("REGION_READ"), "UNKNOWN" if none. */
const char *uvfio_cmd_name(uint16_t cmd);

/*
 * Check a received header before its payload is read: known flag bits, a
 * type of command or reply, size >= 16 and <= max_size.  Returns 0,
 * -EINVAL for a header that makes no sense (the connection cannot be
 * resynchronised: close it) or -E2BIG for a well-formed header whose size
 * exceeds max_size (the payload can be skipped and an error replied).
 */
int uvfio_wire_check_hdr(const struct uvfio_wire_hdr *hdr, size_t max_size);

/*
 * Per-command request validation of a client->server command, called with
 * the payload that follows the header.  Checks the fixed part is present,
 * that variable parts (counts, argsz, trailing data) fit inside `len` and
 * inside max_data_xfer, and that the number of fds that came with the
 * message is allowed for that command.  Returns 0 or -errno (the errno to
 * put in the error reply).
 */
int uvfio_wire_check_request(uint16_t cmd, const void *payload, size_t len,
                             size_t nfds, uint64_t max_data_xfer);

/* Same for the replies a client receives. */
int uvfio_wire_check_reply(uint16_t cmd, const void *payload, size_t len,
                           size_t nfds, uint64_t max_data_xfer);

/*
 * Server-initiated DMA_READ/DMA_WRITE requests (as a client receives them)
 * and their replies (as the server receives them), in the given layout.
 * The spec's and QEMU's layouts have the same sizes (QEMU's struct is
 * unpacked: count u32 at 8, data at 12, 4 spare bytes at the end), so the
 * layout cannot be recognised from the bytes: it is a property of the peer.
 * A DMA_WRITE reply is header-only (QEMU) or header-only / a 16-byte echo.
 */
#define UVFIO_DMA_QEMU_DATA_OFFSET  12u
int uvfio_wire_check_dma_request(uint16_t cmd, const void *payload, size_t len,
                                 uint64_t max_data_xfer, bool qemu_layout);
int uvfio_wire_check_dma_reply(uint16_t cmd, const void *payload, size_t len,
                               uint64_t max_data_xfer, bool qemu_layout);

#endif /* UVFIO_PROTO_WIRE_H */
