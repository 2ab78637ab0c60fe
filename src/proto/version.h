/* SPDX-License-Identifier: MIT */
/*
 * proto/version.h - VERSION negotiation: the JSON capabilities object.
 */
#ifndef UVFIO_PROTO_VERSION_H
#define UVFIO_PROTO_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Extensions uvfio defines beyond the spec, negotiated as members of the
 * "uvfio" capability object (see docs/protocol-extensions.md). */
#define UVFIO_EXT_PRECOPY_INFO   (1u << 0)

struct uvfio_caps {
    uint32_t max_msg_fds;
    uint64_t max_data_xfer_size;
    uint64_t max_dma_maps;
    uint64_t pgsizes;
    bool write_multiple;
    bool twin_socket;           /* supported */
    int32_t twin_fd_index;      /* reply only; -1 when absent */
    bool legacy_migration;      /* QEMU's removed "migration" key was seen */
    uint32_t extensions;        /* UVFIO_EXT_* */
};

/* Spec defaults for every capability. */
void uvfio_caps_defaults(struct uvfio_caps *c);

/*
 * Parse the JSON that follows major/minor in a VERSION message.  `json` is
 * the raw trailing bytes (it must contain a NUL within `len`; len == 0 means
 * no capabilities, i.e. defaults).  Unknown keys are ignored; a known key of
 * the wrong type, a value out of range, or malformed JSON is -EINVAL.
 * Ranges (see version.c): max_msg_fds 0..UVFIO_MAX_FDS_LIMIT,
 * max_data_xfer_size >= 4096 (larger values are clamped to
 * UVFIO_MAX_DATA_XFER_LIMIT), max_dma_maps 0..UINT32_MAX, pgsizes
 * 1..INT64_MAX, twin_socket.fd_index 0..UVFIO_MAX_FDS_LIMIT-1.
 */
int uvfio_caps_parse(const char *json, size_t len, struct uvfio_caps *out);

/* Append the NUL-terminated JSON for `c` to `out`. */
int uvfio_caps_format(const struct uvfio_caps *c, struct uvfio_buf *out);

/*
 * The server's answer: every value the minimum of what the client offered
 * and what the server allows (`limits`), booleans only if both sides have
 * them, pgsizes the intersection; extensions only those the client asked
 * for.  The result is therefore always a subset of the offer.
 * max_data_xfer_size is also clamped to UVFIO_MAX_DATA_XFER_LIMIT, and
 * twin_fd_index is left at -1 for the server to fill in once it has made
 * the socket pair (the index of that fd in the reply).
 *
 * Contract change (proto): returns int, not void.  0, or -ENOTSUP when the
 * two sides share no page size (pgsizes intersection empty); *reply is
 * then unspecified and the connection cannot go on.
 */
int uvfio_caps_negotiate(const struct uvfio_caps *offered,
                         const struct uvfio_caps *limits,
                         struct uvfio_caps *reply);

#endif /* UVFIO_PROTO_VERSION_H */
