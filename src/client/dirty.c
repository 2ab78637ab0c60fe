/* SPDX-License-Identifier: MIT */
/*
 * client/dirty.c - the VMM side of DMA dirty logging: DMA_LOGGING_START,
 * STOP and REPORT (DEVICE_FEATURE 6, 7, 8), and DMA_UNMAP with a dirty
 * bitmap.
 *
 * A report's bitmap travels in one reply, and a server refuses one larger
 * than max_data_xfer_size, so a report of any length is asked for in
 * windows: each a whole number of u64 words of the caller's bitmap, so a
 * window's reply is ORed in at a word boundary without shifting.
 *
 * Replies are checked before a byte of them is used: the server echoes
 * what it answers, and an answer about another range, or of another size,
 * is -EPROTO rather than bits in the wrong place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/dirty.h>

#include "client_priv.h"
#include "util/log.h"

#define FEATURE_HDR sizeof(struct uvfio_wire_feature)

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* ---- START / STOP ------------------------------------------------------ */

static int start_check(const struct uvfio_dirty_range *ranges, uint32_t nr,
                       const uint64_t *page_size, size_t *payload)
{
    uint64_t bytes;

    if (!page_size || (nr && !ranges))
        return -EINVAL;
    bytes = sizeof(struct uvfio_wire_logging_control) +
            (uint64_t)nr * sizeof(struct uvfio_wire_logging_range);
    if (bytes > UINT32_MAX - FEATURE_HDR)
        return -E2BIG;
    *payload = (size_t)bytes;
    return 0;
}

/* The reply echoes the request with the server's page size in it. */
static int start_reply(const struct uvfio_msg *m, size_t payload,
                       uint64_t *page_size)
{
    struct uvfio_wire_logging_control ctl;

    if (m->len != FEATURE_HDR + payload)
        return -EPROTO;
    memcpy(&ctl, m->payload + FEATURE_HDR, sizeof(ctl));
    if (!is_pow2(ctl.page_size)) {
        uvfio_warn("client: DMA_LOGGING_START answered page size %#llx",
                   (unsigned long long)ctl.page_size);
        return -EPROTO;
    }
    *page_size = ctl.page_size;
    return 0;
}

UVFIO_API int
uvfio_client_dma_logging_start(struct uvfio_client *c,
                               const struct uvfio_dirty_range *ranges,
                               uint32_t nr, uint64_t *page_size)
{
    struct uvfio_wire_feature f = {
        .flags = UVFIO_FEATURE_SET | UVFIO_FEATURE_DMA_LOGGING_START,
    };
    struct uvfio_wire_logging_control ctl = { .num_ranges = nr };
    struct uvfio_wire_logging_range *wire = NULL;
    struct iovec iov[3];
    struct uvfio_msg m;
    size_t payload;
    uint32_t i;
    int r;

    r = start_check(ranges, nr, page_size, &payload);
    if (r < 0)
        return r;
    if (nr) {
        wire = malloc(nr * sizeof(*wire));
        if (!wire)
            return -ENOMEM;
    }
    for (i = 0; i < nr; i++) {
        wire[i].iova = ranges[i].iova;
        wire[i].length = ranges[i].length;
    }
    ctl.page_size = *page_size;
    f.argsz = (uint32_t)(FEATURE_HDR + payload);
    iov[0] = (struct iovec){ &f, sizeof(f) };
    iov[1] = (struct iovec){ &ctl, sizeof(ctl) };
    iov[2] = (struct iovec){ wire, nr * sizeof(*wire) };
    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_FEATURE, iov, nr ? 3 : 2,
                             NULL, 0, &m);
    free(wire);
    if (r < 0)
        return r;
    r = start_reply(&m, payload, page_size);
    uvfio_msg_free(&m);
    return r;
}

UVFIO_API int uvfio_client_dma_logging_stop(struct uvfio_client *c)
{
    return uvfio_client_feature(c, UVFIO_FEATURE_SET |
                                UVFIO_FEATURE_DMA_LOGGING_STOP, NULL, 0);
}

/* ---- REPORT ------------------------------------------------------------ */

/* Bits for [0, length) at 2^shift per bit. */
static uint64_t bits_for(uint64_t length, unsigned int shift)
{
    uint64_t n = length >> shift;

    return (length & ((1ull << shift) - 1)) ? n + 1 : n;
}

/* The reply's words need not be aligned; the caller's are, and do not
 * overlap them: a loop the compiler can vectorise. */
static void or_words(uint64_t *restrict dst, const uint8_t *restrict src,
                     size_t n)
{
    uint64_t v;
    size_t i;

    for (i = 0; i < n; i++) {
        memcpy(&v, src + i * 8, sizeof(v));
        dst[i] |= v;
    }
}

/* One window: [iova, iova + length), whose first bit is word `word` of
 * the caller's bitmap. */
static int report_window(struct uvfio_client *c, uint64_t iova,
                         uint64_t length, uint64_t page_size,
                         uint64_t *bitmap, uint64_t word)
{
    struct uvfio_wire_logging_report req = { iova, length, page_size }, echo;
    uint64_t nbits = bits_for(length, (unsigned int)__builtin_ctzll(page_size));
    size_t bytes = (size_t)((nbits + 63) / 64 * 8);
    struct uvfio_wire_feature f = {
        .argsz = (uint32_t)(FEATURE_HDR + sizeof(req) + bytes),
        .flags = UVFIO_FEATURE_GET | UVFIO_FEATURE_DMA_LOGGING_REPORT,
    };
    struct iovec iov[2] = { { &f, sizeof(f) }, { &req, sizeof(req) } };
    struct uvfio_msg m;
    int r;

    uvfio_client_rx_reserve(c, UVFIO_HDR_SIZE + f.argsz);
    r = uvfio_client_request(c, UVFIO_CMD_DEVICE_FEATURE, iov, 2, NULL, 0,
                             &m);
    if (r < 0)
        return r;
    r = -EPROTO;
    if (m.len != f.argsz)
        goto out;
    memcpy(&echo, m.payload + FEATURE_HDR, sizeof(echo));
    if (memcmp(&echo, &req, sizeof(req)))
        goto out;
    or_words(bitmap + word, m.payload + FEATURE_HDR + sizeof(req),
             bytes / 8);
    r = 0;
out:
    if (r)
        uvfio_warn("client: malformed DMA_LOGGING_REPORT reply");
    uvfio_msg_free(&m);
    return r;
}

/* Pages per window: as many whole words of bitmap as the server sends in
 * one reply (the bitmap alone counts against max_data_xfer_size). */
static uint64_t window_pages(const struct uvfio_client *c)
{
    return c->caps.max_data_xfer_size / 8 * 64;
}

UVFIO_API int uvfio_client_dma_logging_report(struct uvfio_client *c,
                                              uint64_t iova, uint64_t length,
                                              uint64_t page_size,
                                              uint64_t *bitmap)
{
    unsigned int shift;
    uint64_t pages, win, done = 0, len;
    int r = 0;

    if (!c || !bitmap || !length || !is_pow2(page_size))
        return -EINVAL;
    if (length > UINT64_MAX - iova)
        return -EOVERFLOW;
    shift = (unsigned int)__builtin_ctzll(page_size);
    pages = window_pages(c);
    if (!pages)
        return -E2BIG;
    /* A window's IOVA length may not fit 64 bits: then it is the rest. */
    win = pages > (UINT64_MAX >> shift) ? UINT64_MAX : pages << shift;
    while (!r && done < length) {
        len = length - done < win ? length - done : win;
        r = report_window(c, iova + done, len, page_size, bitmap,
                          (done >> shift) / 64);
        done += len;
    }
    return r;
}

/* ---- DMA_UNMAP with a dirty bitmap ------------------------------------- */

/* The client's map table entry goes once the server confirmed. */
static void forget_map(struct uvfio_client *c, uint64_t iova, uint64_t size)
{
    const struct uvfio_client_map *m = uvfio_client_map_find(c, iova);
    size_t i;

    if (!m || m->iova != iova || m->size != size)
        return;
    i = (size_t)(m - c->maps);
    memmove(&c->maps[i], &c->maps[i + 1],
            (c->nr_maps - i - 1) * sizeof(*c->maps));
    c->nr_maps--;
}

static int unmap_reply(const struct uvfio_msg *m,
                       const struct uvfio_wire_dma_unmap *du,
                       const struct uvfio_wire_bitmap *bm, void *bitmap)
{
    struct uvfio_wire_dma_unmap echo;
    struct uvfio_wire_bitmap got;

    if (m->len != sizeof(echo) + sizeof(got) + bm->size)
        return -EPROTO;
    memcpy(&echo, m->payload, sizeof(echo));
    memcpy(&got, m->payload + sizeof(echo), sizeof(got));
    if (echo.addr != du->addr || echo.size != du->size ||
        got.pgsize != bm->pgsize || got.size != bm->size)
        return -EPROTO;
    memcpy(bitmap, m->payload + sizeof(echo) + sizeof(got), bm->size);
    return 0;
}

UVFIO_API int uvfio_client_dma_unmap_dirty(struct uvfio_client *c,
                                           uint64_t iova, uint64_t size,
                                           uint64_t pgsize, void *bitmap,
                                           size_t bytes)
{
    struct uvfio_wire_dma_unmap du = {
        .flags = UVFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
        .addr = iova,
        .size = size,
    };
    struct uvfio_wire_bitmap bm = { .pgsize = pgsize };
    struct iovec iov[2] = { { &du, sizeof(du) }, { &bm, sizeof(bm) } };
    struct uvfio_msg m;
    int r;

    if (!c || !bitmap || !size || size > UINT64_MAX - iova ||
        bytes > UINT32_MAX - sizeof(du) - sizeof(bm))
        return -EINVAL;
    bm.size = (uint32_t)bytes;
    du.argsz = (uint32_t)(sizeof(du) + sizeof(bm) + bytes);
    uvfio_client_rx_reserve(c, UVFIO_HDR_SIZE + du.argsz);
    r = uvfio_client_request(c, UVFIO_CMD_DMA_UNMAP, iov, 2, NULL, 0, &m);
    if (r < 0)
        return r;
    r = unmap_reply(&m, &du, &bm, bitmap);
    uvfio_msg_free(&m);
    if (r == 0)
        forget_map(c, iova, size);
    else
        uvfio_warn("client: malformed DMA_UNMAP dirty bitmap reply");
    return r;
}
