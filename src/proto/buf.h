/* SPDX-License-Identifier: MIT */
/*
 * proto/buf.h - a growable byte buffer for building messages and replies.
 */
#ifndef UVFIO_PROTO_BUF_H
#define UVFIO_PROTO_BUF_H

#include <stddef.h>
#include <stdint.h>

struct uvfio_buf {
    uint8_t *data;
    size_t len;         /* bytes in use */
    size_t cap;         /* bytes allocated */
};

#define UVFIO_BUF_INIT { NULL, 0, 0 }

/* Make room for `extra` more bytes; -ENOMEM on failure (buffer unchanged). */
int uvfio_buf_reserve(struct uvfio_buf *b, size_t extra);
/* Append bytes; -ENOMEM on failure. */
int uvfio_buf_append(struct uvfio_buf *b, const void *data, size_t len);
/* Append `len` zero bytes and return a pointer to them, NULL on ENOMEM.
 * The pointer is valid until the next call that may grow the buffer. */
void *uvfio_buf_extend(struct uvfio_buf *b, size_t len);
/* Drop the contents, keep the allocation. */
void uvfio_buf_reset(struct uvfio_buf *b);
/* Free the allocation. */
void uvfio_buf_free(struct uvfio_buf *b);

#endif /* UVFIO_PROTO_BUF_H */
