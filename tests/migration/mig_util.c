/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/mig_util.c - see mig_util.h.  Every helper checks the
 * reply the core built byte by byte, so the tests above it may trust it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mig_util.h"

int mt_attach(struct uvfio_device *dev, uint32_t extensions,
              uint64_t max_xfer)
{
    struct uvfio_core_client cl = {
        .max_data_xfer = max_xfer,
        .max_dma_maps = 16,
        .extensions = extensions,
    };

    return uvfio_core_attach(dev, &cl);
}

int mt_feature(struct uvfio_device *dev, uint32_t argsz, uint32_t flags,
               const void *payload, size_t len, struct uvfio_buf *rep)
{
    return uvfio_core_feature(dev, argsz, flags, payload, len, rep);
}

/* A GET of a core feature: the reply is {8 + n, flags} + n bytes. */
static int mt_get(struct uvfio_device *dev, uint32_t index, void *out,
                  size_t n)
{
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    struct uvfio_wire_feature hdr;
    uint32_t flags = UVFIO_FEATURE_GET | index;
    int ret;

    ret = mt_feature(dev, (uint32_t)(sizeof(hdr) + n), flags, NULL, 0, &rep);
    if (!ret) {
        assert_int_equal(rep.len, sizeof(hdr) + n);
        memcpy(&hdr, rep.data, sizeof(hdr));
        assert_int_equal(hdr.argsz, sizeof(hdr) + n);
        assert_int_equal(hdr.flags, flags);
        memcpy(out, rep.data + sizeof(hdr), n);
    }
    uvfio_buf_free(&rep);
    return ret;
}

int mt_set_state(struct uvfio_device *dev, uint32_t state)
{
    struct uvfio_wire_feature_mig_state st = { state, UINT32_MAX };
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    uint32_t flags = UVFIO_FEATURE_SET | UVFIO_FEATURE_MIG_DEVICE_STATE;
    struct uvfio_wire_feature hdr;
    int ret;

    ret = mt_feature(dev, sizeof(hdr) + sizeof(st), flags, &st, sizeof(st),
                     &rep);
    if (!ret) {
        /* A SET is answered with the echo of the request. */
        assert_int_equal(rep.len, sizeof(hdr) + sizeof(st));
        memcpy(&hdr, rep.data, sizeof(hdr));
        assert_int_equal(hdr.argsz, sizeof(hdr) + sizeof(st));
        assert_int_equal(hdr.flags, flags);
        assert_memory_equal(rep.data + sizeof(hdr), &st, sizeof(st));
    }
    uvfio_buf_free(&rep);
    return ret;
}

int mt_get_state(struct uvfio_device *dev)
{
    struct uvfio_wire_feature_mig_state st;
    int ret;

    ret = mt_get(dev, UVFIO_FEATURE_MIG_DEVICE_STATE, &st, sizeof(st));
    if (ret)
        return ret;
    assert_int_equal(st.data_fd, UINT32_MAX);
    return (int)st.device_state;
}

int mt_get_flags(struct uvfio_device *dev, uint64_t *flags)
{
    return mt_get(dev, UVFIO_FEATURE_MIGRATION, flags, sizeof(*flags));
}

int mt_data_size(struct uvfio_device *dev, uint64_t *len)
{
    return mt_get(dev, UVFIO_FEATURE_MIG_DATA_SIZE, len, sizeof(*len));
}

int mt_precopy_info(struct uvfio_device *dev, uint64_t *initial,
                    uint64_t *dirty)
{
    uint64_t v[2];
    int ret;

    ret = mt_get(dev, UVFIO_FEATURE_PRECOPY_INFO, v, sizeof(v));
    if (!ret) {
        *initial = v[0];
        *dirty = v[1];
    }
    return ret;
}

ssize_t mt_read(struct uvfio_device *dev, void *buf, uint32_t size)
{
    struct uvfio_wire_mig_data req = { sizeof(req) + size, size }, hdr;
    struct uvfio_buf rep = UVFIO_BUF_INIT;
    ssize_t ret;

    ret = uvfio_core_mig_data_read(dev, &req, &rep);
    if (!ret) {
        assert_true(rep.len >= sizeof(hdr));
        memcpy(&hdr, rep.data, sizeof(hdr));
        assert_true(hdr.size <= size);
        assert_int_equal(hdr.argsz, sizeof(hdr) + hdr.size);
        assert_int_equal(rep.len, sizeof(hdr) + hdr.size);
        if (hdr.size)
            memcpy(buf, rep.data + sizeof(hdr), hdr.size);
        ret = hdr.size;
    }
    uvfio_buf_free(&rep);
    return ret;
}

int mt_write(struct uvfio_device *dev, const void *buf, uint32_t size)
{
    struct uvfio_wire_mig_data req = { sizeof(req) + size, size };

    return uvfio_core_mig_data_write(dev, &req, buf, size);
}
