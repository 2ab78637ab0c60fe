// SPDX-License-Identifier: MIT
/*
 * migrate/live_dst.c - the destination end of a live migration (live.h):
 * guest memory and a device in RESUMING, filled from the stream, checked
 * against the source, and run only if they match.
 *
 * The stream is the source's, and the source may be another host: every
 * record is checked against what may come at this point, every page's
 * address against the memory, every length against its bound, before a
 * byte of it is used.  Whatever goes wrong, the source hears why (an
 * ERROR record) and this device is reset, since a half-loaded device is
 * worth nothing.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_priv.h"
#include "pagebits.h"
#include "verify.h"

#define LINGER_MS       2000    /* let the source read our ERROR */
#define MAX_ROUNDS      100000u /* ROUND records we keep count of */

struct ldst {
    const struct live_opts *o;
    struct live_result *r;
    struct live_side sd;
    struct lm_stream *s;
    struct lm_hello hello;
    bool touched;               /* the device left its idle state */
    bool switched;              /* SWITCHOVER seen: device data is final */
    bool src_failed;            /* the source said ERROR: do not answer */
    bool result_sent;           /* the source knows the outcome */
    uint8_t *buf;               /* a DEVDATA payload */
    uint8_t *final;             /* the source's final device data */
    size_t final_len, final_cap;
    uint64_t *src_sums, *dst_sums;
    struct lm_end end;
    struct lm_result res;
    struct live_round cur;      /* the round being received */
};

/* ---- talking to the source ---------------------------------------------- */

static int recv_rec(struct ldst *m, struct lm_rec *rec, const char *what)
{
    int r = lm_recv(m->s, rec);

    if (r)
        return live_fail(m->r, r, "reading the stream (%s)", what);
    if (rec->type == LM_REC_ERROR) {
        m->src_failed = true;
        return live_peer_error(m->s, rec, m->r, "source");
    }
    return 0;
}

static int payload(struct ldst *m, void *buf, size_t len)
{
    int r = lm_recv_payload(m->s, buf, len);

    return r ? live_fail(m->r, r, "reading the stream") : 0;
}

static int unexpected(struct ldst *m, const struct lm_rec *rec,
                      const char *when)
{
    return live_fail(m->r, -EPROTO, "the source sent %s %s",
                     lm_rec_name(rec->type), when);
}

static int send_flush(struct ldst *m, uint32_t type, const void *p,
                      size_t len)
{
    int r = lm_send(m->s, type, 0, p, len);

    if (!r)
        r = lm_flush(m->s);
    return r ? live_fail(m->r, r, "sending %s to the source",
                         lm_rec_name(type)) : 0;
}

static uint64_t free_memory(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);

    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/* ---- setup -------------------------------------------------------------- */

static int recv_hello(struct ldst *m)
{
    uint8_t buf[LM_HELLO_SIZE];
    struct lm_rec rec;
    int r;

    r = recv_rec(m, &rec, "HELLO");
    if (r)
        return r;
    if (rec.type != LM_REC_HELLO)
        return unexpected(m, &rec, "before HELLO");
    r = payload(m, buf, sizeof(buf));
    if (r)
        return r;
    r = lm_hello_decode(buf, sizeof(buf), &m->hello);
    if (r)
        return live_fail(m->r, r, r == -EPROTONOSUPPORT ? "the source "
                         "speaks another version of the migration stream" :
                         "the source's HELLO is malformed");
    if (m->o->mem_size && m->o->mem_size != m->hello.mem_size)
        return live_fail(m->r, -EINVAL, "the source's guest memory is %llu "
                         "bytes, this side's %llu",
                         (unsigned long long)m->hello.mem_size,
                         (unsigned long long)m->o->mem_size);
    /* a size nobody configured here must fit what this host has free:
     * otherwise any peer could make us allocate without bound */
    if (!m->o->mem_size && m->hello.mem_size > free_memory())
        return live_fail(m->r, -EFBIG, "the source's guest memory (%llu "
                         "bytes) is more than this host has free; give "
                         "--guest-memory to insist",
                         (unsigned long long)m->hello.mem_size);
    if (m->hello.mem_size > SIZE_MAX / 2)
        return live_fail(m->r, -EFBIG, "the source's guest memory is too "
                         "large for this host");
    m->r->mem_size = m->hello.mem_size;
    m->r->src_flags = m->hello.mig_flags;
    m->r->precopy = m->hello.precopy;
    return 0;
}

static int setup_device(struct ldst *m)
{
    struct live_result *r = m->r;
    enum uvfio_mig_state st;
    int ret;

    ret = live_side_connect(&m->sd, m->o->dst_path, m->o->timeout_ms);
    if (ret)
        return live_fail(r, ret, "connecting to the destination device %s",
                         m->o->dst_path);
    ret = live_side_flags(&m->sd, &r->dst_flags);
    if (ret)
        return live_fail(r, ret, "the destination device cannot migrate");
    if (m->hello.precopy && !(r->dst_flags & UVFIO_MIGRATION_PRE_COPY))
        return live_fail(r, -EOPNOTSUPP, "the source sends PRE_COPY data "
                         "and the destination device lacks PRE_COPY: not "
                         "the same kind of device");
    ret = uvfio_client_mig_get_state(m->sd.dev, &st);
    if (ret)
        return live_fail(r, ret, "asking the destination for its state");
    if (st != UVFIO_MIG_STATE_RUNNING && st != UVFIO_MIG_STATE_STOP)
        return live_fail(r, -EBUSY, "the destination device is in %s "
                         "(reset it first)", live_state_name(st));
    ret = live_side_memory(&m->sd, m->hello.mem_size, "uvfio-guest-dest");
    if (ret)
        return live_fail(r, ret, "giving the destination device %llu bytes "
                         "of guest memory",
                         (unsigned long long)m->hello.mem_size);
    m->buf = malloc(LM_MAX_PAYLOAD);
    if (!m->buf)
        return live_fail(r, -ENOMEM, "allocating buffers");
    m->touched = true;
    ret = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_RESUMING);
    return ret ? live_fail(r, ret, "moving the destination to RESUMING") :
                 0;
}

static int send_ready(struct ldst *m)
{
    uint8_t buf[LM_READY_SIZE];

    lm_ready_encode(m->r->dst_flags, buf);
    return send_flush(m, LM_REC_READY, buf, sizeof(buf));
}

/* ---- receiving ---------------------------------------------------------- */

static int recv_pages(struct ldst *m, const struct lm_rec *rec)
{
    if (rec->addr > m->hello.mem_size ||
        rec->len > m->hello.mem_size - rec->addr)
        return live_fail(m->r, -EFAULT, "the source sent pages at %#llx+%#llx,"
                         " outside the %llu-byte guest memory",
                         (unsigned long long)rec->addr,
                         (unsigned long long)rec->len,
                         (unsigned long long)m->hello.mem_size);
    /* straight into guest memory: no device looks at it while RESUMING */
    return payload(m, m->sd.host + rec->addr, (size_t)rec->len);
}

static int keep_final(struct ldst *m, size_t n)
{
    return live_keep_final(m->r, "the source's final device data",
                           &m->final, &m->final_len, &m->final_cap, m->buf,
                           n);
}

static int recv_devdata(struct ldst *m, const struct lm_rec *rec)
{
    size_t n = (size_t)rec->len;
    int r;

    if (!m->hello.precopy && !m->switched)
        return unexpected(m, rec, "during precopy without PRE_COPY");
    r = payload(m, m->buf, n);
    if (!r && m->switched)
        r = keep_final(m, n);
    if (r)
        return r;
    r = uvfio_client_mig_write(m->sd.dev, m->buf, n);
    return r ? live_fail(m->r, r, "the destination device refused "
                         "migration data at stream byte %llu",
                         (unsigned long long)m->r->bytes_sent) : 0;
}

static int recv_end(struct ldst *m)
{
    uint8_t buf[LM_END_SIZE];
    int r;

    if (!m->switched)
        return live_fail(m->r, -EPROTO, "the source sent END before "
                         "SWITCHOVER");
    r = payload(m, buf, sizeof(buf));
    if (r)
        return r;
    if (lm_end_decode(buf, sizeof(buf), &m->end))
        return live_fail(m->r, -EPROTO, "the source's END is malformed");
    /* the stream carried the final image: it must be what the source
     * says it sent, or comparing it with ours proves nothing */
    if (m->end.final_len != m->final_len ||
        m->end.final_hash != verify_hash(m->final, m->final_len))
        return live_fail(m->r, -EBADMSG, "the final device data arrived "
                         "damaged (%zu bytes, source sent %llu)",
                         m->final_len, (unsigned long long)m->end.final_len);
    return 0;
}

/* A round ended: keep what it brought, as the source keeps what it sent. */
static int end_round(struct ldst *m, const struct lm_rec *rec)
{
    struct live_result *r = m->r;
    struct live_round *a;

    if (m->switched)
        return unexpected(m, rec, "after SWITCHOVER");
    if (r->rounds >= MAX_ROUNDS)
        return live_fail(r, -E2BIG, "the source sent more than %u rounds",
                         MAX_ROUNDS);
    a = realloc(r->round, (r->rounds + 1) * sizeof(*a));
    if (!a)
        return live_fail(r, -ENOMEM, "recording round %u", r->rounds);
    a[r->rounds++] = m->cur;
    r->round = a;
    memset(&m->cur, 0, sizeof(m->cur));
    return 0;
}

/* Everything up to END. */
static int receive(struct ldst *m)
{
    struct lm_rec rec;
    int r;

    for (;;) {
        r = recv_rec(m, &rec, "migration data");
        if (r)
            return r;
        m->r->bytes_sent = m->s->bytes_in;
        switch (rec.type) {
        case LM_REC_PAGES:
            r = recv_pages(m, &rec);
            if (m->switched)
                m->r->final_pages += rec.len >> LM_PAGE_SHIFT;
            else
                m->cur.pages += rec.len >> LM_PAGE_SHIFT;
            break;
        case LM_REC_DEVDATA:
            r = recv_devdata(m, &rec);
            if (m->switched)
                m->r->final_dev_bytes += rec.len;
            else
                m->cur.dev_bytes += rec.len;
            break;
        case LM_REC_ROUND:
            r = end_round(m, &rec);
            break;
        case LM_REC_SWITCHOVER:
            r = m->switched ? unexpected(m, &rec, "twice") : 0;
            m->switched = true;
            break;
        case LM_REC_END:
            return recv_end(m);
        default:
            return unexpected(m, &rec, "during the migration");
        }
        if (r)
            return r;
    }
}

/* ---- load, verify, run -------------------------------------------------- */

static int load(struct ldst *m)
{
    uint64_t t0 = live_now_ns();
    int r;

    r = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_STOP);
    if (r)
        return live_fail(m->r, r, "the destination device refused the "
                         "image (RESUMING -> STOP)");
    m->res.load_ns = live_now_ns() - t0;
    /* testing the verifier (--corrupt-dest-page): damage one page */
    if (m->o->corrupt_page >= 0 &&
        (uint64_t)m->o->corrupt_page < m->sd.npages)
        m->sd.host[((uint64_t)m->o->corrupt_page << LM_PAGE_SHIFT) +
                       123] ^= 0x40;
    r = send_flush(m, LM_REC_LOADED, NULL, 0);
    if (!r && m->o->inspect)
        m->o->inspect(m->o->inspect_opaque, false, m->sd.host,
                      m->hello.mem_size);
    return r;
}

/* The source's page hashes, in order, covering the memory exactly. */
static int recv_sums(struct ldst *m)
{
    uint64_t n = m->sd.npages, have = 0;
    struct lm_rec rec;
    int r;

    m->src_sums = malloc(n * sizeof(uint64_t));
    if (!m->src_sums)
        return live_fail(m->r, -ENOMEM, "receiving the page hashes");
    while (have < n) {
        r = recv_rec(m, &rec, "page hashes");
        if (r)
            return r;
        if (rec.type != LM_REC_SUMS)
            return unexpected(m, &rec, "instead of SUMS");
        if (rec.addr != have || rec.len / 8 > n - have)
            return live_fail(m->r, -EPROTO, "the source's page hashes for "
                             "pages %llu+%llu do not follow on",
                             (unsigned long long)rec.addr,
                             (unsigned long long)(rec.len / 8));
        r = payload(m, m->src_sums + have, (size_t)rec.len);
        if (r)
            return r;
        have += rec.len / 8;
    }
    for (uint64_t i = 0; i < n; i++)
        m->src_sums[i] = le64toh(m->src_sums[i]);
    return 0;
}

static int compare_memory(struct ldst *m)
{
    uint64_t n = m->sd.npages;
    int r;

    m->dst_sums = malloc(n * sizeof(uint64_t));
    if (!m->dst_sums)
        return live_fail(m->r, -ENOMEM, "hashing the destination memory");
    verify_page_sums(m->sd.host, n, m->dst_sums);
    m->res.digest = verify_digest(m->dst_sums, n);
    r = recv_sums(m);
    if (r)
        return r;
    verify_compare_sums(m->src_sums, m->dst_sums, n, &m->res.mem);
    if (!m->res.mem.differ)
        m->res.flags |= LM_RESULT_MEM_OK;
    return 0;
}

/* Append what fits of n bytes of m->buf to img; count them all. */
static void take(struct ldst *m, uint8_t *img, size_t cap, size_t *kept,
                 uint64_t *total, size_t n)
{
    size_t k = n < cap - *kept ? n : cap - *kept;

    memcpy(img + *kept, m->buf, k);
    *kept += k;
    *total += n;
}

/* A fresh STOP_COPY image of the loaded device, next to the source's. */
static int compare_device(struct ldst *m)
{
    size_t cap = m->final_len + LM_PAGE_SIZE, kept = 0;
    uint8_t *img = malloc(cap);
    uint64_t total = 0;
    ssize_t n;
    int r;

    if (!img)
        return live_fail(m->r, -ENOMEM, "reading the destination's image");
    r = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_STOP_COPY);
    /* read to the end; past what fits it is already "longer" */
    while (!r) {
        n = uvfio_client_mig_read(m->sd.dev, m->buf, LM_MAX_PAYLOAD);
        if (n < 0)
            r = (int)n;
        if (n <= 0)
            break;
        take(m, img, cap, &kept, &total, (size_t)n);
        if ((size_t)n < LM_MAX_PAYLOAD)
            break;
    }
    if (!r)
        r = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_STOP);
    if (!r) {
        verify_compare_bytes(m->final, m->final_len, img, kept, &m->res.dev);
        m->res.dev.dst_len = total;
        if (m->res.dev.same)
            m->res.flags |= LM_RESULT_DEV_OK;
    }
    free(img);
    return r ? live_fail(m->r, r, "taking a STOP_COPY image of the "
                         "destination device") : 0;
}

static int verify_and_run(struct ldst *m)
{
    uint64_t t0 = live_now_ns();
    int r;

    r = compare_memory(m);
    if (!r)
        r = compare_device(m);
    if (r)
        return r;
    m->res.verify_ns = live_now_ns() - t0;
    if (!(m->res.flags & LM_RESULT_MEM_OK) ||
        !(m->res.flags & LM_RESULT_DEV_OK)) {
        /* not the source's state: never let it run */
        m->res.status = -EBADMSG;
        (void)uvfio_client_reset(m->sd.dev);
        return 0;
    }
    t0 = live_now_ns();
    r = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_RUNNING);
    m->res.run_ns = live_now_ns() - t0;
    if (r)
        m->res.status = r;
    else
        m->res.flags |= LM_RESULT_RUNNING;
    return 0;
}

static int send_result(struct ldst *m)
{
    uint8_t buf[LM_RESULT_SIZE];

    m->r->dst = m->res;
    m->r->verified = (m->res.flags & LM_RESULT_MEM_OK) &&
                     (m->res.flags & LM_RESULT_DEV_OK);
    m->r->verify_ms = live_ms(m->res.verify_ns);
    lm_result_encode(&m->res, buf);
    m->result_sent = true;
    return send_flush(m, LM_REC_RESULT, buf, sizeof(buf));
}

/* ---- the whole destination end ------------------------------------------ */

static int migrate(struct ldst *m)
{
    int r;

    r = recv_hello(m);
    if (!r)
        r = setup_device(m);
    if (!r)
        r = send_ready(m);
    if (!r)
        r = receive(m);
    if (!r)
        r = load(m);
    if (!r)
        r = verify_and_run(m);
    if (!r)
        r = send_result(m);
    if (!r && m->res.status)
        r = live_fail(m->r, m->res.status, m->res.status == -EBADMSG ?
                      "verification failed: the destination was reset" :
                      "the destination device did not start");
    return r;
}

/* Tell the source, discard the device, and give the source a moment to
 * read the reason before the connection goes. */
static void give_up(struct ldst *m)
{
    uint64_t end = live_now_ns() + LINGER_MS * 1000000ull;
    struct lm_rec rec;

    if (m->touched && m->sd.dev)
        (void)uvfio_client_reset(m->sd.dev);
    if (!m->s || m->src_failed || m->result_sent)
        return;
    lm_send_error(m->s, m->r->err, "%s", m->r->step);
    m->s->timeout_ms = LINGER_MS;
    (void)lm_recv_skip(m->s);   /* a record we refused half read */
    /* whatever the source still sends is dropped, for a while only */
    while (live_now_ns() < end && !lm_recv(m->s, &rec) &&
           !lm_recv_skip(m->s))
        ;
}

int live_dest_fd(const struct live_opts *o, int fd, struct live_result *r)
{
    struct ldst m = { .o = o, .r = r };
    uint64_t t0 = live_now_ns();
    int ret;

    memset(r, 0, sizeof(*r));
    m.sd.mem.fd = -1;
    ret = lm_stream_open(fd, (int)o->timeout_ms, &m.s);
    if (ret)
        ret = live_fail(r, ret, "setting up the migration stream");
    else
        ret = migrate(&m);
    if (ret)
        give_up(&m);
    r->total_ms = live_ms(live_now_ns() - t0);
    lm_stream_close(m.s);
    live_side_close(&m.sd);
    free(m.buf);
    free(m.final);
    free(m.src_sums);
    free(m.dst_sums);
    return ret;
}
