/* SPDX-License-Identifier: MIT */
/*
 * proto/transport.h - moving whole messages over an AF_UNIX stream socket.
 *
 * Both directions cope with partial reads and writes (messages may be far
 * larger than the socket buffer: up to max_data_xfer_size plus headers),
 * carry fds as SCM_RIGHTS on the first bytes of the message they belong to,
 * and never leak an fd: fds beyond the negotiated limit, fds on a message
 * that is rejected, and fds a handler did not claim are closed.
 *
 * The receiver is incremental so that a server can read many connections
 * from one non-blocking event loop: a peer that sends half a message and
 * stops costs only its own buffer, never the loop's time.
 */
#ifndef UVFIO_PROTO_TRANSPORT_H
#define UVFIO_PROTO_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "wire.h"

/* Hard cap on fds per message whatever is negotiated (SCM_MAX_FD is 253). */
#define UVFIO_MAX_FDS_LIMIT  253u

struct uvfio_msg {
    struct uvfio_wire_hdr hdr;
    uint8_t *payload;       /* hdr.size - 16 bytes; NULL when empty */
    size_t len;
    int *fds;               /* received fds; a consumer that keeps one sets
                               its slot to -1 so uvfio_msg_free leaves it */
    size_t nfds;
    bool oversize;          /* header announced more than the receiver's
                               limit: payload was discarded, len == 0 */
    bool fds_truncated;     /* the peer sent more fds than allowed */
};

/* Free the payload and close every fd still >= 0. */
void uvfio_msg_free(struct uvfio_msg *m);

struct uvfio_rx;

/*
 * max_size: largest message accepted whole (header included); larger ones
 * are skipped (msg.oversize) up to `discard_limit`, beyond which the stream
 * is declared broken.  max_fds: fds accepted per message.
 */
struct uvfio_rx *uvfio_rx_new(size_t max_size, size_t discard_limit,
                              unsigned max_fds);
void uvfio_rx_free(struct uvfio_rx *rx);
void uvfio_rx_set_limits(struct uvfio_rx *rx, size_t max_size,
                         unsigned max_fds);

/*
 * Read from `sock` (blocking or not).  Returns 1 with a complete message in
 * *out (the caller owns it and must uvfio_msg_free it), 0 when the socket
 * has no more bytes for now (EAGAIN) and a message is still incomplete or
 * not started, or a negative errno when the connection is finished:
 * -ECONNRESET on orderly EOF or reset, -EPROTO on an unparseable header.
 * May be called again after 1 to get the next buffered message without a
 * syscall (returns 0 only once the buffer and the socket are both drained).
 * On a non-blocking socket "drained" is judged from the last recvmsg: if it
 * came back short, 0 is returned without another syscall (poll, then call
 * again).  A blocking socket never gets 0 except when SO_RCVTIMEO expires.
 * The socket's O_NONBLOCK flag is read once, on first use of that fd.
 */
int uvfio_rx_read(struct uvfio_rx *rx, int sock, struct uvfio_msg *out);

/*
 * For a caller that keeps its socket in blocking mode so that it can sleep
 * in recvmsg itself instead of poll + recvmsg (one syscall less per round
 * trip, which is most of the cost of a small request): with dontwait on,
 * uvfio_rx_read reads with MSG_DONTWAIT, and uvfio_rx_read_wait lets its
 * first recvmsg block - bounded by the socket's SO_RCVTIMEO, after which it
 * returns 0 like an empty non-blocking read.
 */
void uvfio_rx_set_dontwait(struct uvfio_rx *rx, bool on);
int uvfio_rx_read_wait(struct uvfio_rx *rx, int sock, struct uvfio_msg *out);

/* Whether a started message is waiting for more bytes (for idle timeouts). */
bool uvfio_rx_partial(const struct uvfio_rx *rx);

/*
 * Blocking receive of one message (uses a private uvfio_rx).  Reads exactly
 * one message, never a byte of the next, so it costs two recvmsg calls;
 * loops that receive a lot should keep a uvfio_rx instead.  Returns 0 with
 * *out filled; -E2BIG when the message was larger than max_size (it was
 * skipped, the stream is still in step, out->hdr says which message it
 * was); -EAGAIN when a blocking socket's SO_RCVTIMEO expired (the stream is
 * then out of step: close it); otherwise as uvfio_rx_read.
 */
int uvfio_msg_recv(int sock, struct uvfio_msg *out, size_t max_size,
                   unsigned max_fds);

/*
 * Blocking send of one message: header, then the payload pieces in iov, fds
 * attached to the first byte.  hdr->size is filled in from the iov.  Loops
 * over partial writes and EINTR; on a non-blocking socket waits with poll.
 * Returns 0 or -errno (-EPIPE / -ECONNRESET when the peer went away;
 * SIGPIPE is never raised).
 */
int uvfio_msg_send(int sock, struct uvfio_wire_hdr *hdr,
                   const struct iovec *iov, int iovcnt,
                   const int *fds, size_t nfds);

/* Convenience: send a header-only error reply to `req`. */
int uvfio_msg_send_error(int sock, const struct uvfio_wire_hdr *req, int err);

/*
 * Queue of outgoing messages for a non-blocking socket.  Push copies the
 * bytes (and dups the fds) so the caller's buffers can be reused at once.
 */
struct uvfio_txq;
struct uvfio_txq *uvfio_txq_new(size_t max_bytes);
void uvfio_txq_free(struct uvfio_txq *q);
/* -ENOBUFS when the queue would exceed max_bytes (peer not reading). */
int uvfio_txq_push(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                   const struct iovec *iov, int iovcnt,
                   const int *fds, size_t nfds);
/* Write as much as the socket takes: 0 when empty, -EAGAIN when bytes
 * remain (poll for POLLOUT), other -errno when the connection is broken. */
int uvfio_txq_flush(struct uvfio_txq *q, int sock);
size_t uvfio_txq_pending(const struct uvfio_txq *q);

#endif /* UVFIO_PROTO_TRANSPORT_H */
