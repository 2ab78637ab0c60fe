/* SPDX-License-Identifier: MIT */
/*
 * client/info.c - device, region and IRQ descriptions.
 *
 * Region info follows the kernel's argsz protocol: ask with a buffer that
 * fits the usual capability chain; if the server needs more it says so in
 * argsz and the client asks again, a bounded number of times.
 *
 * The capability chain is parsed as hostile input.  Every `next` must
 * point forward, past the header it follows, with the whole capability
 * inside the bytes received; that alone makes loops impossible, and a cap
 * on the number of capabilities bounds the walk further.  A sparse-mmap
 * capability we cannot understand (another version, areas outside the
 * region) is an error rather than something to skip: skipping it would
 * make the whole region look mappable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_priv.h"
#include "util/log.h"

#define REGION_INFO_FIRST_ARGSZ 512u
#define REGION_INFO_MAX_ARGSZ   (64u << 10)
#define REGION_INFO_TRIES       3
#define REGION_MAX_CAPS         32

UVFIO_API int uvfio_client_device_info(struct uvfio_client *c,
                                       struct uvfio_client_device_info *out)
{
    struct uvfio_wire_device_info di = { .argsz = sizeof(di) };
    struct iovec iov = { &di, sizeof(di) };
    struct uvfio_msg m;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_GET_INFO, &iov, 1, NULL, 0,
                             &m);
    if (r < 0)
        return r;
    memcpy(&di, m.payload, sizeof(di));
    uvfio_msg_free(&m);
    out->flags = di.flags;
    out->num_regions = di.num_regions;
    out->num_irqs = di.num_irqs;
    return 0;
}

UVFIO_API int uvfio_client_irq_info(struct uvfio_client *c, uint32_t index,
                                    struct uvfio_client_irq_info *out)
{
    struct uvfio_wire_irq_info ii = { .argsz = sizeof(ii), .index = index };
    struct iovec iov = { &ii, sizeof(ii) };
    struct uvfio_msg m;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &iov, 1, NULL,
                             0, &m);
    if (r < 0)
        return r;
    memcpy(&ii, m.payload, sizeof(ii));
    uvfio_msg_free(&m);
    if (ii.index != index) {
        uvfio_warn("client: IRQ info for index %u, asked %u", ii.index, index);
        return -EPROTO;
    }
    out->flags = ii.flags;
    out->count = ii.count;
    return 0;
}

/* ---- region info ------------------------------------------------------- */

/* The parsed reply: a view into the message, valid while it lives. */
struct rinfo {
    struct uvfio_wire_region_info fixed;
    const uint8_t *buf;         /* the whole reply payload */
    size_t len;
};

static int parse_sparse(const struct rinfo *ri, size_t off,
                        struct uvfio_client_region *out)
{
    struct uvfio_wire_cap_sparse_mmap cap;
    struct uvfio_wire_sparse_area a;
    uint32_t i;

    if (out->sparse || ri->len - off < sizeof(cap))
        return -EPROTO;
    memcpy(&cap, ri->buf + off, sizeof(cap));
    if (cap.header.version != UVFIO_REGION_CAP_SPARSE_MMAP_VERSION)
        return -EPROTO;
    off += sizeof(cap);
    if (cap.nr_areas > (ri->len - off) / sizeof(a))
        return -EPROTO;
    /* Allocated even for 0 areas: a present-but-empty sparse cap forbids
     * mapping anything (see uvfio_client_region_mmap). */
    out->sparse = calloc(cap.nr_areas ? cap.nr_areas : 1, sizeof(*out->sparse));
    if (!out->sparse)
        return -ENOMEM;
    for (i = 0; i < cap.nr_areas; i++, off += sizeof(a)) {
        memcpy(&a, ri->buf + off, sizeof(a));
        if (a.offset > ri->fixed.size || a.size > ri->fixed.size - a.offset)
            return -EPROTO;
        out->sparse[i].offset = a.offset;
        out->sparse[i].size = a.size;
    }
    out->nr_sparse = cap.nr_areas;
    return 0;
}

static int parse_type(const struct rinfo *ri, size_t off,
                      struct uvfio_client_region *out)
{
    struct uvfio_wire_cap_type cap;

    if (out->has_type || ri->len - off < sizeof(cap))
        return -EPROTO;
    memcpy(&cap, ri->buf + off, sizeof(cap));
    if (cap.header.version != UVFIO_REGION_CAP_TYPE_VERSION)
        return 0;
    out->has_type = true;
    out->type = cap.type;
    out->subtype = cap.subtype;
    return 0;
}

static int parse_cap(const struct rinfo *ri, size_t off,
                     const struct uvfio_wire_cap_header *h,
                     struct uvfio_client_region *out)
{
    switch (h->id) {
    case UVFIO_REGION_CAP_SPARSE_MMAP:
        return parse_sparse(ri, off, out);
    case UVFIO_REGION_CAP_TYPE:
        return parse_type(ri, off, out);
    case UVFIO_REGION_CAP_MSIX_MAPPABLE:
        if (h->version == UVFIO_REGION_CAP_MSIX_MAPPABLE_VERSION)
            out->msix_mappable = true;
        return 0;
    default:
        /* Unknown ids are skipped, as the kernel's users do. */
        return 0;
    }
}

static int parse_chain(const struct rinfo *ri, struct uvfio_client_region *out)
{
    struct uvfio_wire_cap_header h;
    size_t off = ri->fixed.cap_offset;
    int n, r;

    if (!(ri->fixed.flags & UVFIO_REGION_FLAG_CAPS) || off == 0)
        return 0;
    for (n = 0; off != 0; n++) {
        if (n == REGION_MAX_CAPS || off < sizeof(ri->fixed) ||
            off > ri->len || ri->len - off < sizeof(h)) {
            uvfio_warn("client: region %u: bad capability at %zu",
                       ri->fixed.index, off);
            return -EPROTO;
        }
        memcpy(&h, ri->buf + off, sizeof(h));
        r = parse_cap(ri, off, &h, out);
        if (r < 0) {
            uvfio_warn("client: region %u: bad capability %u at %zu",
                       ri->fixed.index, h.id, off);
            return r;
        }
        /* Forward only: the guarantee that the walk ends. */
        if (h.next != 0 && h.next < off + sizeof(h))
            return -EPROTO;
        off = h.next;
    }
    return 0;
}

/* One GET_REGION_INFO round trip with a buffer of `argsz` bytes. */
static int region_info_once(struct uvfio_client *c, uint32_t index,
                            uint32_t argsz, struct uvfio_msg *m)
{
    struct uvfio_wire_region_info req = { .argsz = argsz, .index = index };
    struct iovec iov = { &req, sizeof(req) };
    struct uvfio_wire_region_info rep;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_GET_REGION_INFO, &iov, 1,
                             NULL, 0, m);
    if (r < 0)
        return r;
    memcpy(&rep, m->payload, sizeof(rep));
    if (rep.index != index) {
        uvfio_warn("client: region info for index %u, asked %u",
                   rep.index, index);
        uvfio_msg_free(m);
        return -EPROTO;
    }
    return 0;
}

/* Fetch until the reply fits the buffer we offered. */
static int region_info_fetch(struct uvfio_client *c, uint32_t index,
                             struct uvfio_msg *m)
{
    uint32_t argsz = REGION_INFO_FIRST_ARGSZ;
    struct uvfio_wire_region_info rep;
    int i, r;

    for (i = 0; i < REGION_INFO_TRIES; i++) {
        r = region_info_once(c, index, argsz, m);
        if (r < 0)
            return r;
        memcpy(&rep, m->payload, sizeof(rep));
        if (rep.argsz <= argsz)
            return 0;
        uvfio_msg_free(m);
        if (rep.argsz > REGION_INFO_MAX_ARGSZ) {
            uvfio_warn("client: region %u info wants %u bytes", index,
                       rep.argsz);
            return -EPROTO;
        }
        argsz = rep.argsz;
    }
    uvfio_warn("client: region %u info keeps growing", index);
    return -EPROTO;
}

static int region_from_reply(struct uvfio_msg *m,
                             struct uvfio_client_region *out)
{
    struct rinfo ri = { .buf = m->payload, .len = m->len };
    int r;

    memcpy(&ri.fixed, m->payload, sizeof(ri.fixed));
    out->index = ri.fixed.index;
    out->flags = ri.fixed.flags;
    out->size = ri.fixed.size;
    out->offset = ri.fixed.offset;
    r = parse_chain(&ri, out);
    if (r < 0)
        return r;
    /* The mmap fd is the only fd a reply may bring, and only with MMAP. */
    if ((out->flags & UVFIO_REGION_FLAG_MMAP) && m->nfds == 1) {
        out->fd = m->fds[0];
        m->fds[0] = -1;
    }
    return 0;
}

UVFIO_API int uvfio_client_region_info(struct uvfio_client *c, uint32_t index,
                                       struct uvfio_client_region *out)
{
    struct uvfio_msg m;
    int r;

    memset(out, 0, sizeof(*out));
    out->fd = -1;
    r = region_info_fetch(c, index, &m);
    if (r < 0)
        return r;
    r = region_from_reply(&m, out);
    uvfio_msg_free(&m);
    if (r < 0)
        uvfio_client_region_free(out);
    return r;
}

UVFIO_API void uvfio_client_region_free(struct uvfio_client_region *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->sparse);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}
