/* SPDX-License-Identifier: MIT */
/*
 * migrate/stream.h - the live-migration stream between the two ends of a
 * migration: framed records over one stream socket (a socketpair when one
 * process plays both ends, TCP between two uvfio-migrate processes).
 *
 * Every record is a 24-byte header, little-endian,
 *
 *   u32 type, u32 flags (0), u64 addr, u64 len
 *
 * followed by len payload bytes.  The header is checked before any of the
 * payload is read: a type this end does not know, flags, an addr where the
 * type has none, or a len outside the type's bounds is refused (-EPROTO),
 * so a hostile or confused peer can neither make us allocate nor read past
 * a record.  records.h has the payloads and what each type is for.
 *
 * Every wait is bounded by the stream's timeout (-ETIMEDOUT); a peer that
 * goes away is -ECONNRESET.  Sending batches records (page data is
 * referenced, not copied) until lm_flush() or a full batch.
 */
#ifndef UVFIO_TOOLS_MIGRATE_STREAM_H
#define UVFIO_TOOLS_MIGRATE_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LM_REC_HDR_SIZE         24u
#define LM_MAX_PAYLOAD          (1u << 20)      /* any record */
#define LM_ERROR_TEXT_MAX       256u

enum lm_rec_type {
    LM_REC_HELLO = 1,           /* source -> destination: who we are */
    LM_REC_READY,               /* destination: memory mapped, RESUMING */
    LM_REC_PAGES,               /* guest pages at addr (4 KiB aligned) */
    LM_REC_DEVDATA,             /* bytes of the device's migration stream */
    LM_REC_ROUND,               /* a precopy round ended: addr = its number */
    LM_REC_SWITCHOVER,          /* the source stopped: what follows is final */
    LM_REC_END,                 /* everything is sent */
    LM_REC_SUMS,                /* source page hashes from page addr on */
    LM_REC_LOADED,              /* destination: the device took the image */
    LM_REC_RESULT,              /* destination: verification, timings */
    LM_REC_ERROR,               /* either end gives up: errno and why */
    LM_REC_TYPE_COUNT,
};

struct lm_rec {
    uint32_t type;
    uint64_t addr;
    uint64_t len;
};

#define LM_SEND_IOV     512u            /* iovecs per batch */
#define LM_SEND_INLINE  (32u << 10)     /* headers and small payloads */
#define LM_RECV_BUF     (64u << 10)

struct lm_stream {
    int fd;
    int timeout_ms;
    uint64_t bytes_out, bytes_in;
    /* sending: a batch of iovecs, the small parts copied into `inl` */
    struct iovec iov[LM_SEND_IOV];
    unsigned int niov;
    size_t inl_used;
    uint8_t inl[LM_SEND_INLINE];
    /* receiving */
    size_t rpos, rlen;
    uint64_t payload_left;      /* of the record being read */
    uint8_t rbuf[LM_RECV_BUF];
};

/* Make a stream of a connected socket (or pipe); the stream owns the fd
 * from now on, also on failure.  timeout_ms > 0.  Heap-allocated: the
 * buffers are large. */
int lm_stream_open(int fd, int timeout_ms, struct lm_stream **out);
void lm_stream_close(struct lm_stream *s);

/* Queue a record; payload (len bytes, up to LM_SEND_INLINE / 4) is
 * copied. */
int lm_send(struct lm_stream *s, uint32_t type, uint64_t addr,
            const void *payload, size_t len);
/* Queue a record whose payload is referenced until the next flush:
 * guest pages, device data.  len <= LM_MAX_PAYLOAD. */
int lm_send_ref(struct lm_stream *s, uint32_t type, uint64_t addr,
                const void *payload, size_t len);
/* Write out everything queued. */
int lm_flush(struct lm_stream *s);
/* Send an ERROR record (err < 0) and flush; for the failure paths, so it
 * never fails louder than the error it reports. */
void lm_send_error(struct lm_stream *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Read the next record's header and check it (-EPROTO).  The payload
 * that follows must be read whole with lm_recv_payload (in any number of
 * calls) or skipped with lm_recv_skip before the next lm_recv.
 */
int lm_recv(struct lm_stream *s, struct lm_rec *rec);
/* Whether a record (or the end of the stream) is waiting: never blocks. */
bool lm_readable(struct lm_stream *s);
int lm_recv_payload(struct lm_stream *s, void *buf, size_t len);
int lm_recv_skip(struct lm_stream *s);

/* Bounds of a record type's payload (what lm_recv enforces). */
int lm_rec_check(const struct lm_rec *rec);
const char *lm_rec_name(uint32_t type);

#endif /* UVFIO_TOOLS_MIGRATE_STREAM_H */
