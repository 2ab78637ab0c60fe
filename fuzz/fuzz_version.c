/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_version.c - the VERSION capabilities JSON.
 *
 * The input is the bytes that follow major/minor in a VERSION message.
 * Properties checked (abort on violation):
 *   - proto's message check accepts the VERSION payload exactly when the
 *     JSON part is empty or holds a NUL (the parser's precondition);
 *   - a parse that succeeds yields values inside the documented ranges;
 *   - format(parse(x)) is one NUL-terminated string that parses again to
 *     the same capabilities, and formatting that again gives the very same
 *     bytes (the format is a fixed point);
 *   - negotiation against several server limit sets fails only when no
 *     page size is shared, and otherwise answers a subset of both sides
 *     (every number at most both, every flag only if both have it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "proto/version.h"
#include "proto/wire.h"

static void check_wire(const uint8_t *data, size_t size)
{
    uint8_t *msg = malloc(size + 4);
    bool ok = size == 0 || memchr(data, '\0', size);
    int r;

    if (!msg)
        fz_fail("out of memory");
    memset(msg, 0, 4);
    if (size)
        memcpy(msg + 4, data, size);
    r = uvfio_wire_check_request(UVFIO_CMD_VERSION, msg, size + 4, 0, 4096);
    if ((r == 0) != ok)
        fz_fail("VERSION wire check says %d for a %s JSON", r,
                ok ? "terminated" : "unterminated");
    free(msg);
}

static void check_ranges(const struct uvfio_caps *c)
{
    if (c->max_msg_fds > 253 || c->max_data_xfer_size < 4096 ||
        c->max_data_xfer_size > UVFIO_MAX_DATA_XFER_LIMIT ||
        c->max_dma_maps > UINT32_MAX || c->pgsizes == 0 ||
        c->pgsizes > INT64_MAX || c->twin_fd_index < -1 ||
        c->twin_fd_index > 252)
        fz_fail("parsed capabilities out of range");
}

static void check_same(const struct uvfio_caps *a, const struct uvfio_caps *b)
{
    /* Not formatted, so not expected back: the legacy "migration" marker,
     * and an fd_index without twin_socket. */
    if (a->max_msg_fds != b->max_msg_fds ||
        a->max_data_xfer_size != b->max_data_xfer_size ||
        a->max_dma_maps != b->max_dma_maps || a->pgsizes != b->pgsizes ||
        a->write_multiple != b->write_multiple ||
        a->twin_socket != b->twin_socket ||
        a->extensions != b->extensions ||
        (a->twin_socket && a->twin_fd_index != b->twin_fd_index))
        fz_fail("format/parse round trip changed the capabilities");
}

/* Format c, parse it back, compare; returns the formatted bytes. */
static struct uvfio_buf round_trip(const struct uvfio_caps *c)
{
    struct uvfio_buf b = UVFIO_BUF_INIT, b2 = UVFIO_BUF_INIT;
    struct uvfio_caps again;

    if (uvfio_caps_format(c, &b) < 0)
        fz_fail("format failed");
    if (!b.len || b.data[b.len - 1] != '\0' ||
        strlen((const char *)b.data) + 1 != b.len)
        fz_fail("formatted JSON is not one terminated string");
    if (uvfio_caps_parse((const char *)b.data, b.len, &again) < 0)
        fz_fail("our own JSON does not parse: %s", (const char *)b.data);
    check_same(c, &again);
    if (uvfio_caps_format(&again, &b2) < 0 || b2.len != b.len ||
        memcmp(b.data, b2.data, b.len))
        fz_fail("format is not a fixed point");
    uvfio_buf_free(&b2);
    return b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void check_negotiate(const struct uvfio_caps *o,
                            const struct uvfio_caps *l)
{
    struct uvfio_caps r;
    struct uvfio_buf b;
    int ret = uvfio_caps_negotiate(o, l, &r);

    if (!(o->pgsizes & l->pgsizes)) {
        if (ret != -ENOTSUP)
            fz_fail("negotiate without a shared page size: %d", ret);
        return;
    }
    if (ret < 0)
        fz_fail("negotiate failed: %d", ret);
    if (r.pgsizes != (o->pgsizes & l->pgsizes) ||
        r.max_msg_fds != min64(o->max_msg_fds, l->max_msg_fds) ||
        r.max_data_xfer_size > min64(o->max_data_xfer_size,
                                     l->max_data_xfer_size) ||
        r.max_dma_maps != min64(o->max_dma_maps, l->max_dma_maps) ||
        r.write_multiple != (o->write_multiple && l->write_multiple) ||
        r.twin_socket != (o->twin_socket && l->twin_socket) ||
        r.extensions != (o->extensions & l->extensions) ||
        r.twin_fd_index != -1)
        fz_fail("negotiated capabilities are not the common subset");
    b = round_trip(&r);
    uvfio_buf_free(&b);
}

static void limit_sets(struct uvfio_caps l[3])
{
    /* The server's defaults, everything allowed, and next to nothing. */
    uvfio_caps_defaults(&l[0]);
    l[0].max_msg_fds = 16;
    l[0].write_multiple = l[0].twin_socket = true;
    l[0].extensions = UVFIO_EXT_PRECOPY_INFO;
    uvfio_caps_defaults(&l[1]);
    l[1].max_msg_fds = 253;
    l[1].max_data_xfer_size = UVFIO_MAX_DATA_XFER_LIMIT;
    l[1].max_dma_maps = UINT32_MAX;
    l[1].pgsizes = INT64_MAX;
    l[1].write_multiple = l[1].twin_socket = true;
    l[1].extensions = ~0u;
    uvfio_caps_defaults(&l[2]);
    l[2].max_msg_fds = 0;
    l[2].max_data_xfer_size = 4096;
    l[2].max_dma_maps = 0;
    l[2].pgsizes = 1u << 21;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct uvfio_caps c, l[3];
    struct uvfio_buf b;
    int i;

    check_wire(data, size);
    if (uvfio_caps_parse((const char *)data, size, &c) < 0)
        return 0;
    check_ranges(&c);
    b = round_trip(&c);
    uvfio_buf_free(&b);
    limit_sets(l);
    for (i = 0; i < 3; i++)
        check_negotiate(&c, &l[i]);
    return 0;
}
