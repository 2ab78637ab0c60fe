/* SPDX-License-Identifier: MIT */
/*
 * client/dma_serve.c - answering the server's DMA_READ and DMA_WRITE.
 *
 * The server reaches memory mapped without an fd only through these
 * requests.  A request is served only if every byte of it lies in maps
 * registered with a host pointer (uvfio_client_dma_map_msg) that allow the
 * access: READ for DMA_READ (the device reads guest memory), WRITE for
 * DMA_WRITE.  The whole range is checked before a byte is copied, so a
 * refused request has no effect.  A range may span adjacent maps, as a
 * device's scatter-gather access may.
 *
 * The layout is the spec's (libvfio-user's): {u64 addr; u64 count} then
 * the data.  QEMU's other layout (u32 count, data at 12, same sizes) is
 * what a server speaks to QEMU, which is a client proposing 0.0; it cannot
 * be told from the bytes (proto/wire.h), and this client, proposing 0.2,
 * is never sent it.  A DMA_READ reply echoes {addr, count} and carries the
 * data; a DMA_WRITE reply echoes {addr, count}, as libvfio-user's client
 * does.  Refusals are header-only ERROR replies.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "util/log.h"

struct dma_req {
    uint64_t addr;
    uint64_t count;
    const uint8_t *data;        /* DMA_WRITE: the bytes to store */
};

/*
 * Walk [addr, addr+count) through the map table.  Returns the number of
 * segments, or -EFAULT if some byte is not in a served map with `prot`.
 * With `iov` non-NULL, fills it with the host ranges.
 */
static int walk(const struct uvfio_client *c, uint64_t addr, uint64_t count,
                uint32_t prot, struct iovec *iov)
{
    const struct uvfio_client_map *m;
    uint64_t off, n;
    int segs = 0;

    while (count) {
        m = uvfio_client_map_find(c, addr);
        if (!m || !m->host || (m->prot & prot) != prot)
            return -EFAULT;
        off = addr - m->iova;
        n = m->size - off < count ? m->size - off : count;
        if (iov)
            iov[segs] = (struct iovec){ (uint8_t *)m->host + off, (size_t)n };
        segs++;
        addr += n;
        count -= n;
    }
    return segs;
}

static void decode(const struct uvfio_msg *m, struct dma_req *q)
{
    struct uvfio_wire_dma_rw spec;

    memcpy(&spec, m->payload, sizeof(spec));
    q->addr = spec.addr;
    q->count = spec.count;
    q->data = m->payload + sizeof(spec);
}

static struct uvfio_wire_hdr reply_hdr(const struct uvfio_msg *m)
{
    return (struct uvfio_wire_hdr){
        .msg_id = m->hdr.msg_id,
        .cmd = m->hdr.cmd,
        .flags = UVFIO_HDR_TYPE_REPLY,
    };
}

static int serve_read(struct uvfio_client *c, struct uvfio_client_chan *ch,
                      const struct uvfio_msg *m, const struct dma_req *q)
{
    struct uvfio_wire_dma_rw spec = { q->addr, q->count };
    struct uvfio_wire_hdr hdr = reply_hdr(m);
    struct iovec *iov;
    int segs, r;

    segs = walk(c, q->addr, q->count, UVFIO_DMA_MAP_FLAG_READ, NULL);
    if (segs < 0 || (m->hdr.flags & UVFIO_HDR_NO_REPLY))
        return segs < 0 ? segs : 0;
    iov = calloc((size_t)segs + 1, sizeof(*iov));
    if (!iov)
        return -ENOMEM;
    iov[0] = (struct iovec){ &spec, sizeof(spec) };
    walk(c, q->addr, q->count, UVFIO_DMA_MAP_FLAG_READ, iov + 1);
    r = uvfio_txq_push(ch->txq, &hdr, iov, segs + 1, NULL, 0);
    free(iov);
    return r;
}

static int serve_write(struct uvfio_client *c, struct uvfio_client_chan *ch,
                       const struct uvfio_msg *m, const struct dma_req *q)
{
    struct uvfio_wire_dma_rw spec = { q->addr, q->count };
    struct uvfio_wire_hdr hdr = reply_hdr(m);
    struct iovec iov = { &spec, sizeof(spec) };
    const struct uvfio_client_map *map;
    uint64_t addr = q->addr, left = q->count, off, n;
    const uint8_t *src = q->data;
    int r;

    r = walk(c, q->addr, q->count, UVFIO_DMA_MAP_FLAG_WRITE, NULL);
    if (r < 0)
        return r;
    while (left) {
        map = uvfio_client_map_find(c, addr);
        off = addr - map->iova;
        n = map->size - off < left ? map->size - off : left;
        memcpy((uint8_t *)map->host + off, src, (size_t)n);
        src += n;
        addr += n;
        left -= n;
    }
    if (m->hdr.flags & UVFIO_HDR_NO_REPLY)
        return 0;
    return uvfio_txq_push(ch->txq, &hdr, &iov, 1, NULL, 0);
}

void uvfio_client_serve_dma(struct uvfio_client *c,
                            struct uvfio_client_chan *ch,
                            const struct uvfio_msg *m)
{
    struct dma_req q = { 0 };
    int r;

    if (m->oversize)
        r = -E2BIG;
    else if (m->nfds || m->fds_truncated)
        r = -EINVAL;
    else
        /* The spec layout: see the top of this file. */
        r = uvfio_wire_check_dma_request(m->hdr.cmd, m->payload, m->len,
                                         c->rx_xfer, false);
    if (r == 0) {
        decode(m, &q);
        r = m->hdr.cmd == UVFIO_CMD_DMA_READ ? serve_read(c, ch, m, &q)
                                             : serve_write(c, ch, m, &q);
    }
    if (r == 0)
        return;
    uvfio_debug("client: %s %zu bytes refused: %s", uvfio_cmd_name(m->hdr.cmd),
                m->len, uvfio_strerror(r));
    /* No room left in the output queue: the server is not reading its
     * replies, and would not read this one either. */
    if (!(m->hdr.flags & UVFIO_HDR_NO_REPLY) && r != -ENOBUFS)
        uvfio_client_push_error(ch, &m->hdr, r);
}
