// SPDX-License-Identifier: MIT
/*
 * edu/state.c - uvfio-edu's migration records (layout in state.h).
 *
 * Records are written and read field by field in little-endian order, so
 * the format does not depend on struct layout or host byte order.  A
 * received record is decoded into scratch structures and judged there;
 * the device is touched only by edu_rec_apply, after everything checked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edu_priv.h"
#include "state.h"

#define ERRNO_MAX 4095u

/* ---- byte order ---------------------------------------------------------- */

struct wr {
    uint8_t *p;
    size_t pos;
};

static void put(struct wr *w, uint64_t v, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        w->p[w->pos++] = (uint8_t)(v >> (8 * i));
}

static void put_mem(struct wr *w, const void *src, size_t n)
{
    memcpy(w->p + w->pos, src, n);
    w->pos += n;
}

/* Reads past the end give 0 and mark the reader bad: a length check that
 * was forgotten shows up as a refused record, not an overrun. */
struct rd {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};

static uint64_t get(struct rd *r, unsigned int n)
{
    uint64_t v = 0;

    if (n > r->len - r->pos) {
        r->bad = true;
        return 0;
    }
    for (unsigned int i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->pos++] << (8 * i);
    return v;
}

static void get_mem(struct rd *r, void *dst, size_t n)
{
    if (n > r->len - r->pos) {
        r->bad = true;
        return;
    }
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
}

/* ---- the pieces ------------------------------------------------------------ */

static void put_regs(struct wr *w, const struct edu_state *st)
{
    put(w, st->liveness, 4);
    put(w, st->fact, 4);
    put(w, st->status, 4);
    put(w, st->irq_status, 4);
    put(w, st->dma_src, 8);
    put(w, st->dma_dst, 8);
    put(w, st->dma_cnt, 8);
    put(w, st->dma_cmd, 8);
    put(w, st->dma_error, 4);
    put(w, 0, 4);
    put_mem(w, st->dma_buf, sizeof(st->dma_buf));
}

static int get_regs(struct rd *r, struct edu_state *st)
{
    st->liveness = (uint32_t)get(r, 4);
    st->fact = (uint32_t)get(r, 4);
    st->status = (uint32_t)get(r, 4);
    st->irq_status = (uint32_t)get(r, 4);
    st->dma_src = get(r, 8);
    st->dma_dst = get(r, 8);
    st->dma_cnt = get(r, 8);
    st->dma_cmd = get(r, 8);
    st->dma_error = (uint32_t)get(r, 4);
    if (get(r, 4))
        return -EINVAL;
    get_mem(r, st->dma_buf, sizeof(st->dma_buf));
    /* only what a guest can make the registers hold */
    if ((st->status & ~EDU_STATUS_IRQFACT) ||
        (st->dma_cmd & ~(uint64_t)EDU_DMA_CMD_MASK) ||
        st->dma_error > ERRNO_MAX)
        return -EINVAL;
    return 0;
}

static void put_cq_config(struct wr *w, const struct edu_cq_state *cq)
{
    put(w, cq->addr, 8);
    put(w, cq->size, 8);
    put(w, cq->rate, 4);
    put(w, cq->ctrl, 4);
}

static void get_cq_config(struct rd *r, struct edu_cq_state *cq)
{
    memset(cq, 0, sizeof(*cq));
    cq->addr = get(r, 8);
    cq->size = get(r, 8);
    cq->rate = (uint32_t)get(r, 4);
    cq->ctrl = (uint32_t)get(r, 4);
}

static void put_cq(struct wr *w, const struct edu_cq_state *cq)
{
    put_cq_config(w, cq);
    put(w, cq->error, 4);
    put(w, 0, 4);
    put(w, cq->passes, 8);
    put(w, cq->pos, 8);
    put(w, cq->bytes, 8);
}

static int get_cq(struct rd *r, struct edu_cq_state *cq)
{
    get_cq_config(r, cq);
    cq->error = (uint32_t)get(r, 4);
    if (get(r, 4))
        return -EINVAL;
    cq->passes = get(r, 8);
    cq->pos = get(r, 8);
    cq->bytes = get(r, 8);
    return edu_cq_state_check(cq);
}

/* ---- records ----------------------------------------------------------------- */

static size_t pci_len(struct edu *e)
{
    return uvfio_pci_state_size(e->pci);
}

size_t edu_rec_len(struct edu *e, enum edu_rec_kind kind)
{
    switch (kind) {
    case EDU_REC_CONFIG:
        return EDU_REC_CONFIG_LEN;
    case EDU_REC_STATE:
        return EDU_REC_STATE_LEN;
    default:
        return EDU_REC_HDR_LEN + 8 + EDU_REC_REGS_LEN + EDU_REC_CQ_LEN +
               pci_len(e);
    }
}

static int put_pci(struct wr *w, struct edu *e)
{
    size_t n = pci_len(e);
    ssize_t got = uvfio_pci_save_state(e->pci, w->p + w->pos, n);

    if (got < 0)
        return (int)got;
    if ((size_t)got != n)
        return -EIO;
    w->pos += n;
    return 0;
}

int edu_rec_build(struct edu *e, enum edu_rec_kind kind, uint8_t **out,
                  size_t *len)
{
    size_t n = edu_rec_len(e, kind);
    struct edu_cq_state cq;
    struct wr w = { .p = malloc(n) };
    int r = 0;

    if (!w.p)
        return -ENOMEM;
    edu_cq_get_state(&e->cq, &cq);
    put(&w, kind, 1);
    put(&w, 0, 3);
    put(&w, kind == EDU_REC_FINAL ? pci_len(e) : 0, 4);
    if (kind != EDU_REC_STATE)
        put(&w, e->dma_mask, 8);
    if (kind != EDU_REC_CONFIG)
        put_regs(&w, &e->st);
    if (kind == EDU_REC_FINAL) {
        put_cq(&w, &cq);
        r = put_pci(&w, e);
    } else {
        put_cq_config(&w, &cq);
    }
    if (r) {
        free(w.p);
        return r;
    }
    *out = w.p;
    *len = n;
    return 0;
}

/* A window and rate the queue could hold; progress is FINAL's business. */
static int check_cq_config(struct rd *r)
{
    struct edu_cq_state cq;

    get_cq_config(r, &cq);
    return edu_cq_state_check(&cq);
}

/* What FINAL carries besides its header, decoded. */
struct final {
    struct edu_state st;
    struct edu_cq_state cq;
    const uint8_t *pci;
    size_t pci_len;
};

static int get_final(struct edu *e, struct rd *r, struct final *f)
{
    int ret;

    if (get(r, 8) != e->dma_mask)
        return -EINVAL;
    ret = get_regs(r, &f->st);
    if (!ret)
        ret = get_cq(r, &f->cq);
    f->pci = r->p + r->pos;
    f->pci_len = r->len - r->pos;
    return ret;
}

static int check_body(struct edu *e, struct rd *r, enum edu_rec_kind kind)
{
    struct final *f;
    int ret;

    switch (kind) {
    case EDU_REC_CONFIG:
        /* a destination with another DMA mask would run the same
         * commands differently: refused before the source stops */
        if (get(r, 8) != e->dma_mask)
            return -EINVAL;
        return check_cq_config(r);
    case EDU_REC_STATE:
        f = malloc(sizeof(*f));
        if (!f)
            return -ENOMEM;
        ret = get_regs(r, &f->st);
        free(f);
        return ret ? ret : check_cq_config(r);
    default:
        f = malloc(sizeof(*f));
        if (!f)
            return -ENOMEM;
        ret = get_final(e, r, f);
        free(f);
        return ret;
    }
}

int edu_rec_check(struct edu *e, const uint8_t *p, size_t len,
                  enum edu_rec_kind *kind)
{
    struct rd r = { .p = p, .len = len };
    uint32_t k, plen;
    int ret;

    k = (uint32_t)get(&r, 1);
    if (get(&r, 3))
        return -EINVAL;
    plen = (uint32_t)get(&r, 4);
    if (k < EDU_REC_CONFIG || k > EDU_REC_FINAL || r.bad)
        return -EINVAL;
    if (plen != (k == EDU_REC_FINAL ? pci_len(e) : 0) ||
        len != edu_rec_len(e, (enum edu_rec_kind)k))
        return -EINVAL;
    ret = check_body(e, &r, (enum edu_rec_kind)k);
    if (ret)
        return ret;
    if (r.bad)
        return -EINVAL;
    *kind = (enum edu_rec_kind)k;
    return 0;
}

/*
 * The PCI model checks its blob whole before it changes anything, and it
 * is the only step that can still fail, so it goes first; then the
 * registers and the queue, which were judged when the record arrived.
 */
int edu_rec_apply(struct edu *e, const uint8_t *p, size_t len)
{
    struct rd r = { .p = p, .len = len, .pos = EDU_REC_HDR_LEN };
    struct final *f = malloc(sizeof(*f));
    int ret;

    if (!f)
        return -ENOMEM;
    ret = get_final(e, &r, f);
    if (!ret)
        ret = uvfio_pci_load_state(e->pci, f->pci, f->pci_len);
    if (!ret) {
        e->st = f->st;
        edu_cq_set_state(&e->cq, &f->cq);
        /* the line as the registers say, should the blob disagree */
        edu_irq_sync(e);
    }
    free(f);
    return ret;
}
