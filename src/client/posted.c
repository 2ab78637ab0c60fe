/* SPDX-License-Identifier: MIT */
/*
 * client/posted.c - posted region writes.
 *
 * A VMM posts MMIO writes it does not need an answer for (doorbells, UART
 * transmit bytes).  Small ones are collected into one REGION_WRITE_MULTI,
 * which turns thousands of round trips into one message; everything else
 * goes out at once as REGION_WRITE with NO_REPLY.  Ordering is the point:
 * the batch is queued ahead of any other command (send_cmd in request.c
 * pushes it first), so a read that follows posted writes always sees them
 * applied - the server processes one stream in order.
 *
 * Posted writes get no reply, so a failing one is only visible in the
 * server's log; that is what posting means.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"

/* Entries per WRITE_MULTI: the wire maximum, but never a message larger
 * than the server's max_data_xfer_size (its receive buffer is sized by it). */
static uint32_t batch_limit(const struct uvfio_client *c)
{
    uint64_t fit = (c->caps.max_data_xfer_size -
                    sizeof(struct uvfio_wire_write_multi)) /
                   sizeof(struct uvfio_wire_write_multi_entry);

    return fit < UVFIO_WRITE_MULTI_MAX ? (uint32_t)fit : UVFIO_WRITE_MULTI_MAX;
}

int uvfio_client_batch_push(struct uvfio_client *c)
{
    struct uvfio_wire_write_multi wm = { .wr_cnt = c->batch_cnt };
    struct uvfio_wire_hdr hdr = {
        .msg_id = c->next_id,
        .cmd = UVFIO_CMD_REGION_WRITE_MULTI,
        .flags = UVFIO_HDR_TYPE_COMMAND | UVFIO_HDR_NO_REPLY,
    };
    struct iovec iov[2] = {
        { &wm, sizeof(wm) },
        { c->batch, c->batch_cnt * sizeof(*c->batch) },
    };
    int r;

    if (!c->batch_cnt)
        return 0;
    r = uvfio_txq_push(c->main.txq, &hdr, iov, 2, NULL, 0);
    if (r < 0)
        return r;
    c->next_id++;
    c->batch_cnt = 0;
    return 0;
}

static int batch_add(struct uvfio_client *c, uint32_t index, uint64_t offset,
                     const void *buf, size_t count)
{
    struct uvfio_wire_write_multi_entry *e;
    int r;

    if (!c->batch) {
        c->batch_max = batch_limit(c);
        c->batch = calloc(c->batch_max, sizeof(*c->batch));
        if (!c->batch)
            return -ENOMEM;
    }
    e = &c->batch[c->batch_cnt++];
    memset(e, 0, sizeof(*e));
    e->offset = offset;
    e->region = index;
    e->count = (uint32_t)count;
    memcpy(e->data, buf, count);
    if (c->batch_cnt < c->batch_max)
        return 0;
    r = uvfio_client_batch_push(c);
    if (r < 0)
        return r;
    /* Writes the socket at once (without waiting for the server), so a
     * long burst of posted writes streams out while it is produced. */
    return uvfio_client_flush(c);
}

static int post_write(struct uvfio_client *c, uint32_t index, uint64_t offset,
                      const void *buf, size_t count)
{
    struct uvfio_wire_region_rw rw = {
        .offset = offset,
        .region = index,
        .count = (uint32_t)count,
    };
    struct iovec iov[2] = {
        { &rw, sizeof(rw) },
        { (void *)buf, count },
    };

    return uvfio_client_post(c, UVFIO_CMD_REGION_WRITE, iov, 2);
}

UVFIO_API int uvfio_client_region_write_posted(struct uvfio_client *c,
                                               uint32_t index, uint64_t offset,
                                               const void *buf, size_t count)
{
    const uint8_t *p = buf;
    size_t chunk;
    int r;

    if (c->dead)
        return c->dead;
    if (count == 0 || !buf || offset > UINT64_MAX - count)
        return -EINVAL;
    if (c->caps.write_multiple && count <= UVFIO_WRITE_MULTI_DATA_MAX)
        return batch_add(c, index, offset, buf, count);
    while (count) {
        chunk = count < c->caps.max_data_xfer_size ?
                count : c->caps.max_data_xfer_size;
        r = post_write(c, index, offset, p, chunk);
        if (r < 0)
            return r;
        p += chunk;
        offset += chunk;
        count -= chunk;
    }
    return 0;
}
