/* SPDX-License-Identifier: MIT */
/*
 * proto/transport_priv.h - what the receiver and sender (transport.c) and
 * the output queue (txq.c) share: SCM_RIGHTS plumbing and message sizing.
 */
#ifndef UVFIO_PROTO_TRANSPORT_PRIV_H
#define UVFIO_PROTO_TRANSPORT_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "transport.h"

/* Control buffer big enough for the most fds any message may carry. */
union uvfio_fd_cmsg {
    struct cmsghdr align;
    uint8_t bytes[CMSG_SPACE(UVFIO_MAX_FDS_LIMIT * sizeof(int))];
};

/* Close every fd still >= 0 and mark its slot -1. */
void uvfio_close_fds(int *fds, size_t n);

/* Put `nfds` fds on mh as one SCM_RIGHTS message (none: mh untouched). */
void uvfio_attach_fds(struct msghdr *mh, union uvfio_fd_cmsg *c,
                      const int *fds, size_t nfds);

/* hdr->size from the header plus the pieces; -EINVAL for a bad iovec
 * array or too many fds, -EMSGSIZE past the 32-bit size field. */
int uvfio_msg_size(struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                   int iovcnt, size_t nfds);

#endif /* UVFIO_PROTO_TRANSPORT_PRIV_H */
