// SPDX-License-Identifier: MIT
/*
 * migrate/live_src.c - the source end of a live migration (live.h): the
 * running guest, its device, the precopy rounds and the stop.
 *
 * No page may be missed.  Each round first takes the set of pages written
 * since the previous one - wptrack re-protects a page before reporting it,
 * DMA_LOGGING_REPORT clears a page's bit only after the write that set it
 * (the core marks after the copy) - and only then reads the pages into
 * the stream.  A write that lands while a page is being sent is therefore
 * found by the next round, never lost between "reported" and "copied".
 * The final round runs with the guest paused and the device stopped, so
 * nothing moves while it is taken.
 *
 * Until the destination runs the device, the source is the guest: any
 * failure puts the device back to RUNNING (or resets it if even that
 * fails) and lets the guest run on.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devdma.h"
#include "live_priv.h"
#include "pagebits.h"
#include "verify.h"
#include "workload.h"

#define RUN_PAGES       (LM_MAX_PAYLOAD / LM_PAGE_SIZE)
#define SUMS_PER_REC    (LM_MAX_PAYLOAD / 8)
#define BW_MIN_BYTES    (256u << 10)    /* rounds this small don't measure */
#define LOG_PAGE_SIZE   4096u
#define REPLY_SLACK_MS  2000u           /* the peer's ERROR after a break */

struct lsrc {
    const struct live_opts *o;
    struct live_result *r;
    struct live_side sd;
    struct lm_stream *s;
    struct wptrack *wp;
    struct workload *wl;
    bool logging;               /* DMA logging started */
    bool touched;               /* the device left RUNNING */
    bool paused;                /* the guest is paused */
    struct pagebits dirty, devbits;
    uint8_t *buf;               /* device data chunk */
    size_t chunk;
    uint8_t *final;             /* the device's stop-copy data */
    size_t final_len, final_cap;
    uint64_t *sums;
    uint64_t t_start, t_migrate, t_stop;
    double collect_ms;          /* the last collect took this long */
    uint64_t carry_guest;       /* found by the collect not sent in */
    uint64_t carry_device;      /* precopy: the final round sends them */
    struct mig_progress prog;
};

/* ---- progress, cancel --------------------------------------------------- */

static void progress(struct lsrc *m, enum mig_phase phase, uint64_t left)
{
    m->prog.phase = phase;
    m->prog.bytes = m->s ? m->s->bytes_out : 0;
    m->prog.total = m->prog.bytes + left;
    if (m->o->progress)
        m->o->progress(m->o->opaque, &m->prog);
}

static int cancelled(struct lsrc *m)
{
    if (m->o->cancel && *m->o->cancel)
        return live_fail(m->r, -EINTR, "interrupted by a signal");
    return 0;
}

/* ---- the peer ----------------------------------------------------------- */

/*
 * A send failed: the destination most likely gave up and said why before
 * closing.  Fetch that reason if it is there.
 */
static int send_failed(struct lsrc *m, int err, const char *what)
{
    struct lm_rec rec;
    int saved = m->s->timeout_ms;

    m->s->timeout_ms = REPLY_SLACK_MS;
    if (!lm_recv(m->s, &rec) && rec.type == LM_REC_ERROR)
        return live_peer_error(m->s, &rec, m->r, "destination");
    m->s->timeout_ms = saved;
    return live_fail(m->r, err, "sending %s to the destination", what);
}

static int flush(struct lsrc *m, const char *what)
{
    int r = lm_flush(m->s);

    return r ? send_failed(m, r, what) : 0;
}

/* The record the destination must send next (or ERROR); payload read. */
static int expect(struct lsrc *m, uint32_t type, void *buf, size_t len,
                  const char *what)
{
    struct lm_rec rec;
    int r;

    r = lm_recv(m->s, &rec);
    if (r)
        return live_fail(m->r, r, "waiting for the destination %s", what);
    if (rec.type == LM_REC_ERROR)
        return live_peer_error(m->s, &rec, m->r, "destination");
    if (rec.type != type || rec.len != len)
        return live_fail(m->r, -EPROTO, "the destination sent %s instead "
                         "of %s", lm_rec_name(rec.type), lm_rec_name(type));
    r = lm_recv_payload(m->s, buf, len);
    return r ? live_fail(m->r, r, "reading the destination's %s", what) : 0;
}

/*
 * The destination speaks during the rounds only to give up: hear it now
 * rather than after sending the rest of the memory into the void.
 */
static int peer_gave_up(struct lsrc *m)
{
    struct lm_rec rec;
    int r;

    if (!lm_readable(m->s))
        return 0;
    r = lm_recv(m->s, &rec);
    if (r)
        return live_fail(m->r, r, "the destination broke the stream");
    if (rec.type == LM_REC_ERROR)
        return live_peer_error(m->s, &rec, m->r, "destination");
    return live_fail(m->r, -EPROTO, "the destination sent %s during "
                     "precopy", lm_rec_name(rec.type));
}

/* ---- setup -------------------------------------------------------------- */

static int setup_device(struct lsrc *m)
{
    struct live_result *r = m->r;
    enum uvfio_mig_state st;
    int ret;

    ret = live_side_connect(&m->sd, m->o->src_path, m->o->timeout_ms);
    if (ret)
        return live_fail(r, ret, "connecting to the source %s%s",
                         m->o->src_path, ret == -ETIMEDOUT ? " (no answer: "
                         "is another client attached?)" : "");
    ret = live_side_flags(&m->sd, &r->src_flags);
    if (ret)
        return live_fail(r, ret, "the source device cannot migrate (it "
                         "needs STOP_COPY)");
    r->precopy = (r->src_flags & UVFIO_MIGRATION_PRE_COPY) &&
                 !m->o->no_device_precopy;
    r->p2p = r->src_flags & UVFIO_MIGRATION_P2P;
    ret = uvfio_client_mig_get_state(m->sd.dev, &st);
    if (ret)
        return live_fail(r, ret, "asking the source for its state");
    if (st != UVFIO_MIG_STATE_RUNNING)
        return live_fail(r, -EBUSY, "the source is in %s, not RUNNING",
                         live_state_name(st));
    m->chunk = (size_t)uvfio_client_caps(m->sd.dev)->max_data_xfer_size;
    if (m->chunk > LM_MAX_PAYLOAD)
        m->chunk = LM_MAX_PAYLOAD;
    m->buf = malloc(m->chunk);
    return m->buf ? 0 : live_fail(r, -ENOMEM, "allocating buffers");
}

static uint64_t device_window(const struct live_opts *o)
{
    uint64_t w = o->dev_dma_window ? o->dev_dma_window : o->mem_size / 4;

    return w & ~(uint64_t)(LM_PAGE_SIZE - 1);
}

/* The guest starts: its writer on the bottom of memory, the device's copy
 * queue on the top. */
static int start_guest(struct lsrc *m)
{
    const struct live_opts *o = m->o;
    uint64_t win = o->dev_dma_rate ? device_window(o) : 0;
    struct workload_opts wo = {
        .base = m->sd.host,
        .size = o->mem_size - win,
        .rate = o->write_rate,
        .seed = o->seed,
    };
    int ret;

    if (o->dev_dma_rate && (!win || win >= o->mem_size))
        return live_fail(m->r, -EINVAL, "the device DMA window must be at "
                         "least 4 KiB and smaller than the guest memory");
    if (o->dev_dma_rate) {
        ret = devdma_start(m->sd.dev, o->mem_size - win, win,
                           o->dev_dma_rate);
        if (ret)
            return live_fail(m->r, ret, ret == -ENODEV ? "--device-dma-rate "
                             "needs a uvfio-edu device (its copy queue)" :
                             "starting the device's DMA");
        m->r->device_dma = true;
    }
    ret = workload_start(&wo, &m->wl);
    return ret ? live_fail(m->r, ret, "starting the guest's writer") : 0;
}

static int setup(struct lsrc *m)
{
    int ret;

    m->r->mem_size = m->o->mem_size;
    ret = setup_device(m);
    if (ret)
        return ret;
    ret = live_side_memory(&m->sd, m->o->mem_size, "uvfio-guest-source");
    if (ret)
        return live_fail(m->r, ret, "giving the source device %llu bytes of "
                         "guest memory", (unsigned long long)m->o->mem_size);
    ret = pagebits_init(&m->dirty, m->sd.npages);
    if (!ret)
        ret = pagebits_init(&m->devbits, m->sd.npages);
    if (ret)
        return live_fail(m->r, ret, "allocating the dirty bitmaps");
    return start_guest(m);
}

static int handshake(struct lsrc *m)
{
    struct lm_hello h = {
        .mem_size = m->o->mem_size,
        .mig_flags = m->r->src_flags,
        .precopy = m->r->precopy,
    };
    uint8_t buf[LM_HELLO_SIZE];
    int ret;

    lm_hello_encode(&h, buf);
    ret = lm_send(m->s, LM_REC_HELLO, 0, buf, sizeof(buf));
    if (!ret)
        ret = flush(m, "HELLO");
    if (!ret)
        ret = expect(m, LM_REC_READY, buf, LM_READY_SIZE, "READY");
    if (!ret)
        ret = lm_ready_decode(buf, LM_READY_SIZE, &m->r->dst_flags);
    return ret;
}

/* Protect every page and start the device's log before a page is read. */
static int start_tracking(struct lsrc *m)
{
    struct uvfio_dirty_range all = { 0, m->o->mem_size };
    uint64_t psize = LOG_PAGE_SIZE;
    int ret;

    ret = wptrack_start(m->sd.host, m->o->mem_size, m->o->tracker,
                        &m->wp);
    if (ret)
        return live_fail(m->r, ret, "write-protecting the guest memory "
                         "(userfaultfd%s)", ret == -EPERM ? ": needs "
                         "CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1" :
                         "");
    m->r->tracker = wptrack_mode_name(wptrack_mode(m->wp));
    ret = uvfio_client_dma_logging_start(m->sd.dev, &all, 1, &psize);
    if (ret)
        return live_fail(m->r, ret, "starting DMA logging on the source "
                         "device");
    m->logging = true;
    m->r->log_page_size = psize;
    return 0;
}

/* ---- one round ---------------------------------------------------------- */

/* OR into m->dirty what was written since the last collect. */
static int collect(struct lsrc *m, uint64_t *guest, uint64_t *device)
{
    uint64_t t0 = live_now_ns();
    int ret;

    ret = wptrack_collect(m->wp, &m->dirty, guest);
    if (ret)
        return live_fail(m->r, ret, "collecting the guest's writes");
    pagebits_clear(&m->devbits);
    ret = uvfio_client_dma_logging_report(m->sd.dev, 0, m->o->mem_size,
                                          LM_PAGE_SIZE, m->devbits.w);
    if (ret)
        return live_fail(m->r, ret, "DMA_LOGGING_REPORT from the source");
    *device = pagebits_count(&m->devbits);
    pagebits_or(&m->dirty, m->devbits.w);
    m->collect_ms = live_ms(live_now_ns() - t0);
    return 0;
}

static int send_pages(struct lsrc *m, const struct pagebits *b,
                      uint64_t *sent, enum mig_phase phase)
{
    uint64_t pos = 0, run, left = pagebits_count(b);
    int ret;

    *sent = 0;
    while ((run = pagebits_next_run(b, &pos, RUN_PAGES))) {
        ret = lm_send_ref(m->s, LM_REC_PAGES, pos << LM_PAGE_SHIFT,
                          m->sd.host + (pos << LM_PAGE_SHIFT),
                          (size_t)run << LM_PAGE_SHIFT);
        if (ret)
            return send_failed(m, ret, "guest pages");
        pos += run;
        *sent += run;
        progress(m, phase, (left - *sent) << LM_PAGE_SHIFT);
        ret = cancelled(m);
        if (ret)
            return ret;
    }
    return 0;
}

/* The final image is compared at the destination with its own: keep a
 * copy (bounded, as the destination bounds what it accepts). */
static int keep_final(struct lsrc *m, size_t n)
{
    return live_keep_final(m->r, "the device's final data", &m->final,
                           &m->final_len, &m->final_cap, m->buf, n);
}

/*
 * The device's data now: all of it until a short read (PRE_COPY: nothing
 * more now; STOP_COPY: the end).  Kept in m->final when `keep`.
 */
static int send_device(struct lsrc *m, bool keep, uint64_t *bytes)
{
    ssize_t n;
    int ret;

    *bytes = 0;
    do {
        n = uvfio_client_mig_read(m->sd.dev, m->buf, m->chunk);
        if (n < 0)
            return live_fail(m->r, (int)n, "reading the source device's "
                             "migration data");
        if (!n)
            break;
        ret = keep ? keep_final(m, (size_t)n) : 0;
        if (ret)
            return ret;
        ret = lm_send_ref(m->s, LM_REC_DEVDATA, 0, m->buf, (size_t)n);
        if (!ret)
            ret = lm_flush(m->s);       /* m->buf is reused */
        if (ret)
            return send_failed(m, ret, "device data");
        *bytes += (uint64_t)n;
    } while ((size_t)n == m->chunk);
    return 0;
}

/* What the device still has to send: precopy data and the stop-copy
 * image.  Estimates only; a device that does not say counts as 0. */
static uint64_t device_pending(struct lsrc *m)
{
    struct uvfio_mig_precopy_info pi = { 0, 0 };
    uint64_t stop = 0;

    if (uvfio_client_mig_data_size(m->sd.dev, &stop))
        stop = 0;
    if (m->r->precopy && uvfio_client_mig_precopy_info(m->sd.dev, &pi))
        memset(&pi, 0, sizeof(pi));
    return stop + pi.initial_bytes + pi.dirty_bytes;
}

static int record_round(struct lsrc *m, const struct live_round *rd)
{
    struct live_result *r = m->r;
    struct live_round *a;

    a = realloc(r->round, (r->rounds + 1) * sizeof(*a));
    if (!a)
        return live_fail(r, -ENOMEM, "recording round %u", r->rounds);
    a[r->rounds++] = *rd;
    r->round = a;
    return 0;
}

/* Send m->dirty and the device's precopy data: one round. */
static int send_round(struct lsrc *m, struct live_round *rd)
{
    uint64_t t0 = live_now_ns(), b0 = m->s->bytes_out, moved;
    int ret;

    m->prog.iteration = m->r->rounds + 1;
    ret = send_pages(m, &m->dirty, &rd->pages, MIG_PHASE_PRECOPY);
    if (!ret && m->r->precopy)
        ret = send_device(m, false, &rd->dev_bytes);
    if (!ret)
        ret = lm_send(m->s, LM_REC_ROUND, m->r->rounds, NULL, 0);
    if (!ret)
        ret = flush(m, "a round");
    if (ret)
        return ret;
    rd->ns = live_now_ns() - t0;
    moved = m->s->bytes_out - b0;
    if (moved >= BW_MIN_BYTES && rd->ns)
        m->r->bandwidth = (double)moved * 1e9 / (double)rd->ns;
    return record_round(m, rd);
}

/* Would stopping now fit the budget? */
static bool fits(struct lsrc *m, uint64_t dirty_pages)
{
    double bytes = (double)(dirty_pages << LM_PAGE_SHIFT) +
                   (double)device_pending(m);

    m->r->estimate_ms = m->collect_ms +
                        (m->r->bandwidth > 0 ? bytes * 1e3 / m->r->bandwidth :
                                               0);
    return m->r->estimate_ms <= (double)m->o->downtime_ms;
}

/*
 * Round 0 sends everything; each later round what was written during the
 * previous one, until what is left fits the budget.  On return m->dirty
 * holds the pages still to send.
 */
static int precopy(struct lsrc *m)
{
    struct live_round rd = { .pages = 0 };
    int ret;

    if (m->r->precopy) {
        ret = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_PRE_COPY);
        m->touched = true;
        if (ret)
            return live_fail(m->r, ret, "moving the source to PRE_COPY");
    }
    pagebits_fill(&m->dirty);
    ret = send_round(m, &rd);
    while (!ret) {
        memset(&rd, 0, sizeof(rd));
        pagebits_clear(&m->dirty);
        ret = cancelled(m);
        if (!ret)
            ret = peer_gave_up(m);
        if (!ret)
            ret = collect(m, &rd.guest_pages, &rd.device_pages);
        if (ret)
            break;
        m->carry_guest = rd.guest_pages;
        m->carry_device = rd.device_pages;
        if (fits(m, pagebits_count(&m->dirty))) {
            m->r->converged = true;
            break;
        }
        if (m->r->rounds >= m->o->max_rounds)
            break;
        ret = send_round(m, &rd);
    }
    return ret;
}

/* ---- the stop ----------------------------------------------------------- */

/* The vCPU pause, then the device: through P2P when it has it, so that
 * it stops initiating DMA before it stops altogether. */
static int stop_guest(struct lsrc *m)
{
    enum uvfio_mig_state p2p = m->r->precopy ? UVFIO_MIG_STATE_PRE_COPY_P2P :
                                               UVFIO_MIG_STATE_RUNNING_P2P;
    int ret;

    m->t_stop = live_now_ns();
    workload_pause(m->wl);
    m->paused = true;
    m->touched = true;
    if (m->r->p2p) {
        ret = uvfio_client_mig_set_state(m->sd.dev, p2p);
        if (ret)
            return live_fail(m->r, ret, "moving the source to %s",
                             live_state_name(p2p));
    }
    ret = uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_STOP_COPY);
    m->r->dt.stop_ms = live_ms(live_now_ns() - m->t_stop);
    return ret ? live_fail(m->r, ret, "moving the source to STOP_COPY") : 0;
}

/* Nothing moves any more: the last pages, the device's final data. */
static int final_round(struct lsrc *m)
{
    struct live_result *r = m->r;
    struct lm_end end = { 0 };
    uint8_t buf[LM_END_SIZE];
    uint64_t guest, device, t0;
    int ret;

    m->prog.iteration = 0;
    ret = lm_send(m->s, LM_REC_SWITCHOVER, 0, NULL, 0);
    if (!ret)
        ret = collect(m, &guest, &device);
    if (ret)
        return ret;
    r->dt.collect_ms = m->collect_ms;
    t0 = live_now_ns();
    r->final_guest_pages = m->carry_guest + guest;
    r->final_device_pages = m->carry_device + device;
    ret = send_pages(m, &m->dirty, &r->final_pages, MIG_PHASE_STOPCOPY);
    if (!ret)
        ret = send_device(m, true, &r->final_dev_bytes);
    if (ret)
        return ret;
    for (unsigned int i = 0; i < r->rounds; i++) {
        end.pages += r->round[i].pages;
        end.dev_bytes += r->round[i].dev_bytes;
    }
    end.rounds = r->rounds;
    end.pages += r->final_pages;
    end.dev_bytes += r->final_dev_bytes;
    end.final_len = m->final_len;
    end.final_hash = verify_hash(m->final, m->final_len);
    lm_end_encode(&end, buf);
    ret = lm_send(m->s, LM_REC_END, 0, buf, sizeof(buf));
    if (!ret)
        ret = flush(m, "the final round");
    else
        ret = send_failed(m, ret, "END");
    r->dt.send_ms = live_ms(live_now_ns() - t0);
    return ret;
}

/* ---- verification ------------------------------------------------------- */

static int send_sums(struct lsrc *m)
{
    uint64_t n = m->sd.npages;
    int ret;

    m->sums = malloc(n * sizeof(*m->sums));
    if (!m->sums)
        return live_fail(m->r, -ENOMEM, "hashing the source memory");
    verify_page_sums(m->sd.host, n, m->sums);
    m->r->src_digest = verify_digest(m->sums, n);
    /* little-endian on the wire, converted in place: m->sums is ours */
    for (uint64_t i = 0; i < n; i++)
        m->sums[i] = htole64(m->sums[i]);
    for (uint64_t i = 0; i < n; i += SUMS_PER_REC) {
        uint64_t k = n - i < SUMS_PER_REC ? n - i : SUMS_PER_REC;

        ret = lm_send_ref(m->s, LM_REC_SUMS, i, m->sums + i, k * 8);
        if (ret)
            return send_failed(m, ret, "page hashes");
    }
    return flush(m, "page hashes");
}

static void describe_mismatch(struct lsrc *m)
{
    const struct lm_result *d = &m->r->dst;

    if (!(d->flags & LM_RESULT_MEM_OK))
        live_fail(m->r, -EBADMSG, "verification failed: %llu of %llu "
                  "pages differ, the first at guest address %#llx",
                  (unsigned long long)d->mem.differ,
                  (unsigned long long)d->mem.npages,
                  (unsigned long long)(d->mem.first << LM_PAGE_SHIFT));
    else
        live_fail(m->r, -EBADMSG, "verification failed: the device state "
                  "differs at byte %llu (source %llu bytes, destination "
                  "%llu)", (unsigned long long)d->dev.first,
                  (unsigned long long)d->dev.src_len,
                  (unsigned long long)d->dev.dst_len);
}

/* The destination loads, both sides hash, it compares and says. */
static int finish(struct lsrc *m)
{
    uint8_t buf[LM_RESULT_SIZE];
    uint64_t t_loaded;
    int ret;

    progress(m, MIG_PHASE_RESUME, 0);
    ret = expect(m, LM_REC_LOADED, buf, 0, "LOADED");
    if (ret)
        return ret;
    t_loaded = live_now_ns();
    /* off the downtime: the memory stays as it is until we return */
    if (m->o->inspect)
        m->o->inspect(m->o->inspect_opaque, true, m->sd.host,
                      m->o->mem_size);
    ret = send_sums(m);
    if (!ret)
        ret = expect(m, LM_REC_RESULT, buf, LM_RESULT_SIZE, "RESULT");
    if (!ret && lm_result_decode(buf, LM_RESULT_SIZE, &m->r->dst))
        ret = live_fail(m->r, -EPROTO, "the destination's RESULT is "
                        "malformed");
    if (ret)
        return ret;
    m->r->verify_ms = live_ms(m->r->dst.verify_ns);
    m->r->downtime_ms = live_ms(t_loaded - m->t_stop + m->r->dst.run_ns);
    m->r->dt.run_ms = live_ms(m->r->dst.run_ns);
    m->r->dt.load_ms = m->r->downtime_ms - m->r->dt.run_ms -
                       m->r->dt.stop_ms - m->r->dt.collect_ms -
                       m->r->dt.send_ms;
    m->r->verified = (m->r->dst.flags & LM_RESULT_MEM_OK) &&
                     (m->r->dst.flags & LM_RESULT_DEV_OK);
    if (!m->r->verified) {
        describe_mismatch(m);
        return -EBADMSG;
    }
    if (m->r->dst.status || !(m->r->dst.flags & LM_RESULT_RUNNING))
        return live_fail(m->r, m->r->dst.status ? m->r->dst.status : -EIO,
                         "the destination device did not start");
    return 0;
}

/* ---- failure ------------------------------------------------------------ */

static void recover(struct lsrc *m)
{
    enum uvfio_mig_state st;

    m->r->recovery = MIG_SOURCE_UNTOUCHED;
    if (m->touched && m->sd.dev) {
        /* every saving state leads back to RUNNING with the state kept */
        if (!uvfio_client_mig_set_state(m->sd.dev, UVFIO_MIG_STATE_RUNNING) &&
            !uvfio_client_mig_get_state(m->sd.dev, &st) &&
            st == UVFIO_MIG_STATE_RUNNING)
            m->r->recovery = MIG_SOURCE_RUNNING;
        else
            m->r->recovery = uvfio_client_reset(m->sd.dev) ?
                             MIG_SOURCE_UNKNOWN : MIG_SOURCE_RESET;
    }
    if (m->paused)
        workload_resume(m->wl);
    m->paused = false;
    if (m->s && !m->r->dst_failed)
        lm_send_error(m->s, m->r->err, "%s", m->r->step);
}

/* ---- the whole source end ----------------------------------------------- */

static int migrate(struct lsrc *m)
{
    int ret;

    progress(m, MIG_PHASE_SETUP, m->o->mem_size);
    ret = setup(m);
    m->t_migrate = live_now_ns();
    m->r->setup_ms = live_ms(m->t_migrate - m->t_start);
    if (!ret)
        ret = handshake(m);
    if (!ret)
        ret = start_tracking(m);
    if (!ret)
        ret = precopy(m);
    if (!ret)
        ret = cancelled(m);
    if (!ret)
        ret = stop_guest(m);
    if (!ret)
        ret = final_round(m);
    if (!ret)
        ret = finish(m);
    m->r->migrate_ms = live_ms(live_now_ns() - m->t_migrate);
    return ret;
}

static void device_stats(struct lsrc *m)
{
    struct devdma_status st;

    if (m->r->device_dma && !devdma_status(m->sd.dev, &st))
        m->r->device_dma_bytes = st.bytes;
}

static void cleanup(struct lsrc *m)
{
    if (m->wl) {
        m->r->guest_writes = workload_writes(m->wl);
        workload_stop(m->wl);
    }
    wptrack_stop(m->wp);
    if (m->logging)
        (void)uvfio_client_dma_logging_stop(m->sd.dev);
    if (m->s)
        m->r->bytes_sent = m->s->bytes_out;
    lm_stream_close(m->s);
    live_side_close(&m->sd);
    pagebits_fini(&m->dirty);
    pagebits_fini(&m->devbits);
    free(m->buf);
    free(m->final);
    free(m->sums);
}

int live_source_fd(const struct live_opts *o, int fd, struct live_result *r)
{
    struct lsrc m = { .o = o, .r = r, .t_start = live_now_ns() };
    int ret;

    memset(r, 0, sizeof(*r));
    m.sd.mem.fd = -1;
    ret = lm_stream_open(fd, (int)o->timeout_ms, &m.s);
    if (ret)
        ret = live_fail(r, ret, "setting up the migration stream");
    else
        ret = migrate(&m);
    device_stats(&m);
    if (ret) {
        recover(&m);
    } else {
        /* the destination runs the device: the source's stream ends */
        r->src_stop_failed = uvfio_client_mig_set_state(
            m.sd.dev, UVFIO_MIG_STATE_STOP) != 0;
        progress(&m, MIG_PHASE_DONE, 0);
    }
    r->total_ms = live_ms(live_now_ns() - m.t_start);
    cleanup(&m);
    return ret;
}
