/* SPDX-License-Identifier: MIT */
/*
 * client/irq.c - DEVICE_SET_IRQS.
 *
 * vfio-user carries eventfds as SCM_RIGHTS, not in the payload, so an
 * eventfd array cannot hold a "-1" in the middle.  The wire rule (shared
 * with QEMU's client) is:
 *
 *   - a message with fds binds vectors [start, start+count) to them, one
 *     each, in order (count == number of fds);
 *   - a message with no fds de-assigns [start, start+count).
 *
 * A caller's array that mixes fds and -1 entries is therefore sent as one
 * message per run of valid fds and one per run of -1, each with its own
 * start and count; runs of fds are also split at the server's max_msg_fds.
 * The eventfd payload itself is empty and argsz is the 20-byte header, as
 * QEMU sends it.  The pieces are separate commands: if one fails the ones
 * before it stay applied, and the error is returned.  On an index with
 * NORESIZE (MSI) enable it with one run of valid fds first, as with QEMU.
 */
#include <errno.h>
#include <stdint.h>

#include "client_priv.h"

static int send_set_irqs(struct uvfio_client *c, uint32_t flags,
                         uint32_t index, uint32_t start, uint32_t count,
                         const void *data, uint32_t data_len,
                         const int *fds, size_t nfds)
{
    struct uvfio_wire_irq_set s = {
        .argsz = (uint32_t)sizeof(s) + data_len,
        .flags = flags,
        .index = index,
        .start = start,
        .count = count,
    };
    struct iovec iov[2] = {
        { &s, sizeof(s) },
        { (void *)data, data_len },
    };

    return uvfio_client_request(c, UVFIO_CMD_DEVICE_SET_IRQS, iov,
                                data_len ? 2 : 1, fds, nfds, NULL);
}

/* Length of the run at fds[i] of entries that are all valid or all -1. */
static uint32_t run_length(const int *fds, uint32_t i, uint32_t count,
                           uint32_t max_valid)
{
    bool valid = fds[i] >= 0;
    uint32_t n = 1;

    while (i + n < count && (fds[i + n] >= 0) == valid &&
           (!valid || n < max_valid))
        n++;
    return n;
}

static int set_eventfds(struct uvfio_client *c, uint32_t flags,
                        uint32_t index, uint32_t start, uint32_t count,
                        const int *fds)
{
    uint32_t i, n;
    int r;

    if (count == 0)
        return send_set_irqs(c, flags, index, start, 0, NULL, 0, NULL, 0);
    if (!fds)
        return -EINVAL;
    for (i = 0; i < count; i++) {
        if (fds[i] < -1)
            return -EBADF;
        if (fds[i] >= 0 && c->caps.max_msg_fds == 0)
            return -ENOTSUP;
    }
    for (i = 0; i < count; i += n) {
        n = run_length(fds, i, count, c->caps.max_msg_fds);
        r = send_set_irqs(c, flags, index, start + i, n, NULL, 0,
                          fds[i] >= 0 ? &fds[i] : NULL, fds[i] >= 0 ? n : 0);
        if (r < 0)
            return r;
    }
    return 0;
}

UVFIO_API int uvfio_client_set_irqs(struct uvfio_client *c, uint32_t flags,
                                    uint32_t index, uint32_t start,
                                    uint32_t count, const void *data,
                                    const int *fds)
{
    switch (flags & UVFIO_IRQ_SET_DATA_TYPE_MASK) {
    case UVFIO_IRQ_SET_DATA_NONE:
        return send_set_irqs(c, flags, index, start, count, NULL, 0, NULL, 0);
    case UVFIO_IRQ_SET_DATA_BOOL:
        /* One byte per vector, inside one message. */
        if ((count && !data) || count > c->caps.max_data_xfer_size)
            return -EINVAL;
        return send_set_irqs(c, flags, index, start, count, data, count,
                             NULL, 0);
    case UVFIO_IRQ_SET_DATA_EVENTFD:
        /* Pieces must not wrap past the end of the vector space. */
        if (count > UINT32_MAX - start)
            return -EINVAL;
        return set_eventfds(c, flags, index, start, count, fds);
    default:
        return -EINVAL;
    }
}
