/* SPDX-License-Identifier: MIT */
/*
 * proto/buf.c - growable byte buffer.
 *
 * Growth at least doubles the capacity so appending n bytes piecewise
 * stays O(n), and every size computation is checked so a hostile length
 * can never wrap into a small allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int uvfio_buf_reserve(struct uvfio_buf *b, size_t extra)
{
    size_t need, cap;
    uint8_t *p;

    if (extra > SIZE_MAX - b->len)
        return -ENOMEM;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    /* Doubling keeps piecewise appends O(n); one big reserve gets what it
     * asks for, not up to twice that (64 MiB + 8 would round to 128). */
    cap = b->cap <= SIZE_MAX / 2 ? b->cap * 2 : need;
    if (cap < need)
        cap = need;
    if (cap < 64)
        cap = 64;
    p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int uvfio_buf_append(struct uvfio_buf *b, const void *data, size_t len)
{
    int r;

    if (len == 0)
        return 0;
    r = uvfio_buf_reserve(b, len);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

void *uvfio_buf_extend(struct uvfio_buf *b, size_t len)
{
    void *p;

    if (uvfio_buf_reserve(b, len ? len : 1) < 0)
        return NULL;
    p = b->data + b->len;
    memset(p, 0, len);
    b->len += len;
    return p;
}

void uvfio_buf_reset(struct uvfio_buf *b)
{
    b->len = 0;
}

void uvfio_buf_free(struct uvfio_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
