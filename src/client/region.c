/* SPDX-License-Identifier: MIT */
/*
 * client/region.c - region access by message, and by mmap.
 *
 * Reads and writes of any length are split at the negotiated
 * max_data_xfer_size.  Each reply must echo the region, offset and count
 * asked for: a server answering a different access than the one requested
 * (or fewer bytes, which REGION_READ has no way to mean legitimately) is
 * broken or hostile, and its data must not be handed to the caller as if
 * it were the bytes requested.  A split access that fails part-way returns
 * the error; the chunks before it have taken effect.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include "client_priv.h"
#include "util/log.h"

static __attribute__((noinline, cold)) bool
echo_bad(const struct uvfio_wire_region_rw *want,
         const struct uvfio_wire_region_rw *got_p)
{
    struct uvfio_wire_region_rw got = *got_p;

    uvfio_warn("client: region access reply for %u@%#llx+%u, asked %u@%#llx+%u",
               got.region, (unsigned long long)got.offset, got.count,
               want->region, (unsigned long long)want->offset, want->count);
    return false;
}

static inline bool echo_ok(const struct uvfio_wire_region_rw *want,
                           const struct uvfio_msg *m)
{
    struct uvfio_wire_region_rw got;

    memcpy(&got, m->payload, sizeof(got));
    if (got.offset == want->offset && got.region == want->region &&
        got.count == want->count)
        return true;
    return echo_bad(want, &got);
}

/* A register-sized copy is a move, not a call. */
static inline void copy_out(void *dst, const void *src, uint32_t n)
{
    switch (n) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, n); break;
    }
}

static int read_chunk(struct uvfio_client *c, uint32_t index, uint64_t offset,
                      void *buf, uint32_t count)
{
    struct uvfio_wire_region_rw rw = {
        .offset = offset,
        .region = index,
        .count = count,
    };
    struct iovec iov = { &rw, sizeof(rw) };
    struct uvfio_msg m;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_REGION_READ, &iov, 1, NULL, 0, &m);
    if (r < 0)
        return r;
    /* check_reply made sure len == sizeof(rw) + the reply's count. */
    if (echo_ok(&rw, &m))
        copy_out(buf, m.payload + sizeof(rw), count);
    else
        r = -EPROTO;
    uvfio_client_msg_done(c, &m);
    return r;
}

static int write_chunk(struct uvfio_client *c, uint32_t index, uint64_t offset,
                       const void *buf, uint32_t count)
{
    struct uvfio_wire_region_rw rw = {
        .offset = offset,
        .region = index,
        .count = count,
    };
    struct iovec iov[2] = {
        { &rw, sizeof(rw) },
        { (void *)buf, count },
    };
    struct uvfio_msg m;
    int r;

    r = uvfio_client_request(c, UVFIO_CMD_REGION_WRITE, iov, 2, NULL, 0, &m);
    if (r < 0)
        return r;
    if (!echo_ok(&rw, &m))
        r = -EPROTO;
    uvfio_client_msg_done(c, &m);
    return r;
}

static int check_access(uint64_t offset, const void *buf, size_t count)
{
    if (!buf && count)
        return -EINVAL;
    if (count > SSIZE_MAX || offset > UINT64_MAX - count)
        return -EINVAL;
    return 0;
}

static uint32_t chunk_of(const struct uvfio_client *c, size_t left)
{
    return (uint32_t)(left < c->caps.max_data_xfer_size ?
                      left : c->caps.max_data_xfer_size);
}

UVFIO_API ssize_t uvfio_client_region_read(struct uvfio_client *c,
                                           uint32_t index, uint64_t offset,
                                           void *buf, size_t count)
{
    uint8_t *p = buf;
    size_t done = 0;
    uint32_t n;
    int r;

    r = check_access(offset, buf, count);
    if (r < 0)
        return r;
    /* (The commonest: one chunk, a register.) */
    if (count && count <= c->caps.max_data_xfer_size) {
        r = read_chunk(c, index, offset, buf, (uint32_t)count);
        return r < 0 ? r : (ssize_t)count;
    }
    while (done < count) {
        n = chunk_of(c, count - done);
        r = read_chunk(c, index, offset + done, p + done, n);
        if (r < 0)
            return r;
        done += n;
    }
    return (ssize_t)count;
}

UVFIO_API ssize_t uvfio_client_region_write(struct uvfio_client *c,
                                            uint32_t index, uint64_t offset,
                                            const void *buf, size_t count)
{
    const uint8_t *p = buf;
    size_t done = 0;
    uint32_t n;
    int r;

    r = check_access(offset, buf, count);
    if (r < 0)
        return r;
    if (count && count <= c->caps.max_data_xfer_size) {
        r = write_chunk(c, index, offset, buf, (uint32_t)count);
        return r < 0 ? r : (ssize_t)count;
    }
    while (done < count) {
        n = chunk_of(c, count - done);
        r = write_chunk(c, index, offset + done, p + done, n);
        if (r < 0)
            return r;
        done += n;
    }
    return (ssize_t)count;
}

/* The window `area` stands for: a sparse area, or the whole region. */
static int mmap_window(const struct uvfio_client_region *r, uint32_t area,
                       uint64_t *off, uint64_t *size)
{
    uint64_t rel = 0, len = r->size;

    /* A sparse capability with no areas (sparse set, nr_sparse 0) means
     * nothing may be mapped, not the whole region. */
    if (r->sparse) {
        if (area >= r->nr_sparse)
            return -EINVAL;
        rel = r->sparse[area].offset;
        len = r->sparse[area].size;
    } else if (area != 0) {
        return -EINVAL;
    }
    if (len == 0 || len > SIZE_MAX || rel > UINT64_MAX - r->offset ||
        r->offset + rel > (uint64_t)INT64_MAX - len)
        return -EINVAL;
    *off = r->offset + rel;
    *size = len;
    return 0;
}

UVFIO_API void *uvfio_client_region_mmap(struct uvfio_client *c,
                                         const struct uvfio_client_region *r,
                                         uint32_t area, size_t *len)
{
    uint64_t off, size;
    int prot = 0, err;
    void *p;

    (void)c;
    if (!(r->flags & UVFIO_REGION_FLAG_MMAP) || r->fd < 0) {
        errno = ENODEV;
        return NULL;
    }
    err = mmap_window(r, area, &off, &size);
    if (err < 0) {
        errno = -err;
        return NULL;
    }
    if (r->flags & UVFIO_REGION_FLAG_READ)
        prot |= PROT_READ;
    if (r->flags & UVFIO_REGION_FLAG_WRITE)
        prot |= PROT_WRITE;
    p = mmap(NULL, (size_t)size, prot, MAP_SHARED, r->fd, (off_t)off);
    if (p == MAP_FAILED)
        return NULL;
    if (len)
        *len = (size_t)size;
    return p;
}
