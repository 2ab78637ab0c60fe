// SPDX-License-Identifier: MIT
/*
 * migrate/records.c - encoding and checking the stream's record payloads
 * (records.h).  A decoder trusts nothing: sizes, reserved fields, flags
 * and errno ranges are all checked, since the peer may be another host.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pagebits.h"
#include "records.h"
#include "stream.h"

#define ERRNO_MAX       4095u

/* ---- little-endian cursors ---------------------------------------------- */

struct wr {
    uint8_t *p;
};

struct rd {
    const uint8_t *p;
};

static void put32(struct wr *w, uint32_t v)
{
    v = htole32(v);
    memcpy(w->p, &v, 4);
    w->p += 4;
}

static void put64(struct wr *w, uint64_t v)
{
    v = htole64(v);
    memcpy(w->p, &v, 8);
    w->p += 8;
}

static uint32_t get32(struct rd *r)
{
    uint32_t v;

    memcpy(&v, r->p, 4);
    r->p += 4;
    return le32toh(v);
}

static uint64_t get64(struct rd *r)
{
    uint64_t v;

    memcpy(&v, r->p, 8);
    r->p += 8;
    return le64toh(v);
}

static bool errno_ok(uint32_t e)
{
    return e <= ERRNO_MAX;
}

/* ---- HELLO -------------------------------------------------------------- */

void lm_hello_encode(const struct lm_hello *h, uint8_t *out)
{
    struct wr w = { out };

    put64(&w, LM_MAGIC);
    put32(&w, LM_VERSION);
    put32(&w, LM_PAGE_SIZE);
    put64(&w, h->mem_size);
    put64(&w, h->mig_flags);
    put32(&w, h->precopy);
    put32(&w, 0);
    put64(&w, 0);
}

int lm_hello_decode(const uint8_t *p, size_t len, struct lm_hello *h)
{
    struct rd r = { p };
    uint32_t version, page, precopy, res32;
    uint64_t res64;

    if (len != LM_HELLO_SIZE || get64(&r) != LM_MAGIC)
        return -EPROTO;
    version = get32(&r);
    page = get32(&r);
    h->mem_size = get64(&r);
    h->mig_flags = get64(&r);
    precopy = get32(&r);
    res32 = get32(&r);
    res64 = get64(&r);
    if (version != LM_VERSION || page != LM_PAGE_SIZE)
        return -EPROTONOSUPPORT;
    if (!h->mem_size || h->mem_size % LM_PAGE_SIZE || precopy > 1 ||
        res32 || res64)
        return -EINVAL;
    h->precopy = precopy;
    return 0;
}

/* ---- READY, END --------------------------------------------------------- */

void lm_ready_encode(uint64_t mig_flags, uint8_t *out)
{
    struct wr w = { out };

    put64(&w, mig_flags);
}

int lm_ready_decode(const uint8_t *p, size_t len, uint64_t *mig_flags)
{
    struct rd r = { p };

    if (len != LM_READY_SIZE)
        return -EPROTO;
    *mig_flags = get64(&r);
    return 0;
}

void lm_end_encode(const struct lm_end *e, uint8_t *out)
{
    struct wr w = { out };

    put64(&w, e->rounds);
    put64(&w, e->pages);
    put64(&w, e->dev_bytes);
    put64(&w, e->final_len);
    put64(&w, e->final_hash);
}

int lm_end_decode(const uint8_t *p, size_t len, struct lm_end *e)
{
    struct rd r = { p };

    if (len != LM_END_SIZE)
        return -EPROTO;
    e->rounds = get64(&r);
    e->pages = get64(&r);
    e->dev_bytes = get64(&r);
    e->final_len = get64(&r);
    e->final_hash = get64(&r);
    return 0;
}

/* ---- RESULT ------------------------------------------------------------- */

void lm_result_encode(const struct lm_result *res, uint8_t *out)
{
    struct wr w = { out };

    put32(&w, (uint32_t)-res->status);
    put32(&w, res->flags);
    put64(&w, res->mem.npages);
    put64(&w, res->mem.differ);
    put64(&w, res->mem.first);
    for (unsigned int i = 0; i < VERIFY_LISTED; i++)
        put64(&w, i < res->mem.nlisted ? res->mem.listed[i] : 0);
    put32(&w, res->mem.nlisted);
    put32(&w, 0);
    put64(&w, res->dev.src_len);
    put64(&w, res->dev.dst_len);
    put64(&w, res->dev.first);
    put64(&w, res->load_ns);
    put64(&w, res->verify_ns);
    put64(&w, res->run_ns);
    put64(&w, res->digest);
}

int lm_result_decode(const uint8_t *p, size_t len, struct lm_result *res)
{
    struct rd r = { p };
    uint32_t status, reserved;

    if (len != LM_RESULT_SIZE)
        return -EPROTO;
    memset(res, 0, sizeof(*res));
    status = get32(&r);
    res->flags = get32(&r);
    res->mem.npages = get64(&r);
    res->mem.differ = get64(&r);
    res->mem.first = get64(&r);
    for (unsigned int i = 0; i < VERIFY_LISTED; i++)
        res->mem.listed[i] = get64(&r);
    res->mem.nlisted = get32(&r);
    reserved = get32(&r);
    res->dev.src_len = get64(&r);
    res->dev.dst_len = get64(&r);
    res->dev.first = get64(&r);
    res->load_ns = get64(&r);
    res->verify_ns = get64(&r);
    res->run_ns = get64(&r);
    res->digest = get64(&r);
    if (!errno_ok(status) || res->flags & ~7u || reserved ||
        res->mem.nlisted > VERIFY_LISTED ||
        res->mem.nlisted > res->mem.differ)
        return -EPROTO;
    res->status = -(int)status;
    res->dev.same = res->flags & LM_RESULT_DEV_OK;
    return 0;
}

/* ---- ERROR -------------------------------------------------------------- */

void lm_error_encode(int err, const char *text, uint8_t *out, size_t *len)
{
    struct wr w = { out };
    size_t n = strlen(text);

    if (err >= 0 || -err > (int)ERRNO_MAX)
        err = -EIO;
    put32(&w, (uint32_t)-err);
    if (n > LM_ERROR_TEXT_MAX)
        n = LM_ERROR_TEXT_MAX;
    memcpy(w.p, text, n);
    *len = LM_ERROR_MIN + n;
}

int lm_error_decode(const uint8_t *p, size_t len, int *err, char *text,
                    size_t text_size)
{
    struct rd r = { p };
    uint32_t e;
    size_t n, i;

    if (len < LM_ERROR_MIN || len > LM_ERROR_MIN + LM_ERROR_TEXT_MAX ||
        !text_size)
        return -EPROTO;
    e = get32(&r);
    if (!e || !errno_ok(e))
        return -EPROTO;
    *err = -(int)e;
    n = len - LM_ERROR_MIN;
    if (n > text_size - 1)
        n = text_size - 1;
    for (i = 0; i < n; i++)
        text[i] = r.p[i] >= 0x20 && r.p[i] < 0x7f ? (char)r.p[i] : '?';
    text[i] = '\0';
    return 0;
}
