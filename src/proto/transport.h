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

#include "buf.h"
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
    size_t cap;             /* allocation behind payload (>= len), for
                               uvfio_rx_recycle */
    size_t sunk;            /* payload bytes after `len` that went to the
                               receiver's sink instead (see below) */
    bool oversize;          /* header announced more than the receiver's
                               limit, or its sink was withdrawn while it
                               came in: payload discarded, len == 0 */
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

/*
 * (Added for the small-request hot path.)  As uvfio_rx_read_wait, but
 * returns 2 instead of 1 when the message is all there is for now: one
 * recvmsg brought exactly it, nothing else is buffered, and a
 * uvfio_rx_read would now return 0 - so a request/reply caller need not
 * ask.  rx is then as if it had asked (the next uvfio_rx_read reads the
 * socket).  The shortcut is taken only when rx is idle (nothing
 * buffered, no message started, no sink armed) on a socket it has read
 * before, in dontwait mode or non-blocking (the server's: then 0 means
 * nothing came, as with uvfio_rx_read, and a socket known to be empty -
 * a short last read, or bytes fed with UVFIO_RX_FED_DRAINED - is not read
 * at all); every other case, and everything else a read brings, goes the
 * way of uvfio_rx_read_wait.
 */
int uvfio_rx_read_one(struct uvfio_rx *rx, int sock, struct uvfio_msg *out);

/* Whether a started message is waiting for more bytes (for idle timeouts). */
bool uvfio_rx_partial(const struct uvfio_rx *rx);

/*
 * Bytes someone else read from rx's socket - the server's io_uring
 * multishot receive (server/ring.c) - handed to rx as if its next recvmsg
 * had returned them: the next reads hand out their messages before they
 * read the socket again, so bytes fed and bytes read directly stay in
 * stream order as long as every read by the other reader is fed before rx
 * reads the socket itself.  One call is one read: `fds` are the
 * SCM_RIGHTS fds that came with it (rx owns them from the call on, even
 * on error) and belong, as for a read of rx's own, to the message that
 * contains its last byte.  n == 0 is the end of the stream (no fds): a
 * read that finds nothing else fed then returns -ECONNRESET.
 *
 * What does not fit rx's buffer is kept in a queue (uvfio_rx_fed_bytes),
 * which the feeder is expected to bound: rx does not read the socket
 * while it is not empty, so a feeder that stops feeding bounds it.
 *
 * flags: UVFIO_RX_FED_TRUNC - the kernel dropped fds (MSG_CTRUNC): the
 * message is delivered with fds_truncated.  UVFIO_RX_FED_DRAINED - the
 * feeder read the socket until it was empty and will feed what comes
 * next, so once the fed bytes are handed out a read returns 0 without a
 * recvmsg (as after a short read of its own).
 *
 * 0, or -errno: -ENOMEM (the stream is lost, and every read from then
 * on says so: close it), -EINVAL (fds
 * with the end of the stream), rx's sticky error once the stream is
 * finished (the bytes are dropped).
 */
#define UVFIO_RX_FED_TRUNC      1u
#define UVFIO_RX_FED_DRAINED    2u
int uvfio_rx_feed(struct uvfio_rx *rx, const void *bytes, size_t n,
                  int *fds, size_t nfds, unsigned int flags);
/* Fed bytes waiting in the queue (not yet in rx's buffer). */
size_t uvfio_rx_fed_bytes(const struct uvfio_rx *rx);
/* Whether a read could hand something out without reading the socket:
 * bytes buffered, a message started, or bytes or an end of stream fed. */
bool uvfio_rx_buffered(const struct uvfio_rx *rx);
/* Whether a message bigger than rx's buffer is being received (read
 * into its own payload, or discarded), or is next: its header is in. */
bool uvfio_rx_reading_big(const struct uvfio_rx *rx);

/*
 * The caller's poller says the socket is readable: the next uvfio_rx_read
 * goes to the socket even if the last recvmsg came back short.  With a
 * level-triggered poller that only saves a turn; with an edge-triggered
 * one (the server's io_uring multishot polls) it is required, or bytes that
 * arrived after the short read would sit unread with no event to come.
 * hangup: the poller also saw the peer shut down (POLLRDHUP/HUP/ERR).  A
 * short read then no longer means "nothing more": the end of the stream
 * may be right behind the bytes, with no further event to announce it, so
 * from then on rx reads until the socket itself says EAGAIN or EOF.
 */
void uvfio_rx_note_readable(struct uvfio_rx *rx, bool hangup);

/*
 * Done with *m, which came from rx: its payload, if big, may hold rx's next
 * big message instead of being freed, so a stream of large messages reuses
 * the same (already faulted-in) pages.  rx keeps at most one such buffer,
 * never larger than its max_size.  Then as uvfio_msg_free(m).
 */
void uvfio_rx_recycle(struct uvfio_rx *rx, struct uvfio_msg *m);

/*
 * Receiving into place.  A caller that knows a big reply is coming and
 * where its data belongs arms a sink: the one message that is a REPLY
 * without the ERROR flag, with this msg_id and cmd, whose payload is longer
 * than `skip` and at most skip + len bytes, is delivered with its first
 * `skip` payload bytes in msg.payload (msg.len == skip) and the rest, read
 * straight from the socket, in buf (msg.sunk bytes) - no payload
 * allocation, no copy.  Limits are checked as for any message (an oversize
 * reply is still discarded), and any other message is received as usual,
 * so the caller must cope with its reply arriving either way.  The sink is
 * used at most once; a sink armed when the reply's header was already read
 * does not apply to it.
 */
struct uvfio_rx_sink {
    uint16_t msg_id;
    uint16_t cmd;
    size_t skip;            /* fixed part, delivered in msg.payload */
    void *buf;
    size_t len;             /* room in buf */
};
void uvfio_rx_set_sink(struct uvfio_rx *rx, const struct uvfio_rx_sink *s);
/*
 * Disarm the sink and forget buf: call it before buf goes away.  A message
 * that was being read into buf has the rest of its payload discarded and
 * is then delivered header-only with `oversize` set.
 */
void uvfio_rx_clear_sink(struct uvfio_rx *rx);

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
 * Queue of outgoing messages for a non-blocking socket (txq.c).  Push
 * copies the bytes (and dups the fds) so the caller's buffers can be
 * reused at once.  hdr->size is filled in, as by uvfio_msg_send.
 */
struct uvfio_txq;
struct uvfio_txq *uvfio_txq_new(size_t max_bytes);
void uvfio_txq_free(struct uvfio_txq *q);
/* -ENOBUFS when the queue would exceed max_bytes (peer not reading). */
int uvfio_txq_push(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                   const struct iovec *iov, int iovcnt,
                   const int *fds, size_t nfds);

/*
 * Queue a message whose payload is *payload, without copying it: the queue
 * takes the allocation (payload is left as UVFIO_BUF_INIT).  Once sent,
 * the allocation is not freed but kept (the largest one) for
 * uvfio_txq_reclaim.  On error *payload is still the caller's.
 */
int uvfio_txq_push_buf(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                       struct uvfio_buf *payload, const int *fds,
                       size_t nfds);
/* If the queue kept an allocation larger than b's, give it to b (b's own
 * is freed, b->len is 0): call before building the next message in b. */
void uvfio_txq_reclaim(struct uvfio_txq *q, struct uvfio_buf *b);

/*
 * As uvfio_txq_push, but iov pieces of UVFIO_TXQ_REF_MIN bytes or more are
 * referenced, not copied: they must stay valid and unchanged until they
 * have been sent or uvfio_txq_unref has been called.
 */
#define UVFIO_TXQ_REF_MIN   (64u << 10)
int uvfio_txq_push_ref(struct uvfio_txq *q, struct uvfio_wire_hdr *hdr,
                       const struct iovec *iov, int iovcnt,
                       const int *fds, size_t nfds);
/*
 * Copy into the queue what it still references (the unsent rest of those
 * messages), so the caller may reuse or free its buffers.  0, or -ENOMEM:
 * the queue then references nothing, but the byte stream is lost, and
 * every later push and flush fails with -ENOMEM (close the connection).
 */
int uvfio_txq_unref(struct uvfio_txq *q);

/* Write as much as the socket takes: 0 when empty, -EAGAIN when bytes
 * remain (poll for POLLOUT), other -errno when the connection is broken. */
int uvfio_txq_flush(struct uvfio_txq *q, int sock);
size_t uvfio_txq_pending(const struct uvfio_txq *q);

/*
 * (Added for the small-request hot path.)  uvfio_txq_push (ref false) or
 * uvfio_txq_push_ref (ref true), then uvfio_txq_flush, in one call and
 * with the same outcome; but when the queue is empty and the message
 * carries no fds it is written straight from iov with one sendmsg, and
 * only what the socket does not take is queued (copied, or referenced as
 * push_ref does).  Returns what the push returns (-errno: nothing was sent
 * or queued); on 0, *flushed is what the flush returns.
 */
int uvfio_txq_send(struct uvfio_txq *q, int sock, bool ref,
                   struct uvfio_wire_hdr *hdr, const struct iovec *iov,
                   int iovcnt, const int *fds, size_t nfds, int *flushed);

#endif /* UVFIO_PROTO_TRANSPORT_H */
