// SPDX-License-Identifier: MIT
/*
 * core/dirty_track.c - the core's own dirty tracker: what makes every
 * device that writes guest memory through the DMA API trackable.
 *
 * One bitmap per logged range, one bit per tracker page.  Writers mark
 * with an atomic OR of whole words, and only when a bit is still clear, so
 * a page written over and over between two reports costs a load, not a
 * locked instruction bouncing its cache line between writers.  The reader
 * takes words with an atomic exchange, so a bit a writer sets while the
 * word is being read is either in this report or stays for the next one:
 * never lost.  A word that reads all ones needs no exchange at all - a
 * writer racing the reader can only set a bit that is already set and
 * already reported - which is what makes an all-dirty report run at the
 * speed of a copy.  That shortcut relies on one reader at a time
 * (dirty.c serialises them): two readers storing zero could otherwise
 * erase a bit set between them.
 *
 * Reporting converts granularity both ways.  Equal page sizes on the same
 * grid are a shift and an OR per word; anything else goes through runs of
 * consecutive dirty pages, each clipped to the report's range and set as
 * a run of report bits, so the cost follows the number of dirty runs, not
 * the number of pages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dirty_priv.h"
#include "util/log.h"

#define RELAXED __ATOMIC_RELAXED

static uint64_t page_mask(unsigned int shift)
{
    return (1ull << shift) - 1;
}

static uint64_t span_bits(uint64_t first, uint64_t last, unsigned int shift)
{
    uint64_t m = page_mask(shift);

    return (((last | m) - (first & ~m)) >> shift) + 1;
}

static uint64_t words_of(uint64_t nbits)
{
    return nbits / 64 + (nbits % 64 != 0);
}

/* Bits [lo, hi] of a word, 0 <= lo <= hi < 64. */
static uint64_t bits_between(unsigned int lo, unsigned int hi)
{
    return (~0ull << lo) & (~0ull >> (63 - hi));
}

unsigned int dirty_track_pick_shift(const struct uvfio_dirty_range *ranges,
                                    uint32_t nr, unsigned int hint)
{
    unsigned int shift = hint < DIRTY_MIN_SHIFT ? DIRTY_MIN_SHIFT : hint;
    uint64_t words;
    uint32_t i;

    for (; shift < 63; shift++) {
        words = 0;
        for (i = 0; i < nr; i++)
            words += words_of(span_bits(ranges[i].iova, ranges[i].iova +
                                        (ranges[i].length - 1), shift));
        if (words <= DIRTY_MAX_BITMAP_BYTES / 8)
            break;
    }
    return shift;
}

/* ---- life cycle -------------------------------------------------------- */

struct dirty_tracker *dirty_track_new(unsigned int shift, bool everything)
{
    struct dirty_tracker *t = calloc(1, sizeof(*t));

    if (t) {
        t->shift = shift;
        t->everything = everything;
    }
    return t;
}

void dirty_track_free(struct dirty_tracker *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->nr; i++)
        free(t->r[i].words);
    free(t->r);
    free(t);
}

/* Index of the first range that ends at or after `iova`; t->nr if none. */
static size_t track_lower_bound(const struct dirty_tracker *t, uint64_t iova)
{
    size_t lo = 0, hi = t->nr, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (t->r[mid].last < iova)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int track_grow(struct dirty_tracker *t)
{
    struct dirty_range *r;
    size_t cap;

    if (t->nr < t->cap)
        return 0;
    cap = t->cap ? t->cap * 2 : 8;
    r = realloc(t->r, cap * sizeof(*r));
    if (!r)
        return -ENOMEM;
    t->r = r;
    t->cap = cap;
    return 0;
}

int dirty_track_add(struct dirty_tracker *t, uint64_t first, uint64_t last)
{
    struct dirty_range n = { .first = first, .last = last };
    uint64_t bytes;
    size_t i;

    n.nbits = span_bits(first, last, t->shift);
    n.base = first & ~page_mask(t->shift);
    n.span_last = last | page_mask(t->shift);
    bytes = words_of(n.nbits) * 8;
    if (bytes > DIRTY_MAX_BITMAP_BYTES - t->bytes ||
        (t->everything && t->nr >= DIRTY_MAX_MAP_RANGES))
        return -E2BIG;
    if (track_grow(t) < 0)
        return -ENOMEM;
    /* Large bitmaps come from mmap: untouched pages cost nothing until a
     * write lands in them. */
    n.words = calloc(1, bytes);
    if (!n.words)
        return -ENOMEM;
    i = track_lower_bound(t, first);
    memmove(&t->r[i + 1], &t->r[i], (t->nr - i) * sizeof(*t->r));
    t->r[i] = n;
    t->nr++;
    t->bytes += bytes;
    return 0;
}

/* Past the limits a "log everything" client still gets a correct log: one
 * that calls every page dirty until the next START. */
static void track_overflow(struct dirty_tracker *t)
{
    if (!t->overflow)
        uvfio_warn("dirty logging: too many or too large DMA maps to "
                   "track; every page is reported dirty until logging "
                   "restarts");
    t->overflow = true;
}

/* Log every gap of [first, last] between the ranges already logged. */
void dirty_track_add_uncovered(struct dirty_tracker *t, uint64_t first,
                               uint64_t last)
{
    uint64_t next = first, gap_end, covered_to;
    size_t i;
    int r;

    for (;;) {
        i = track_lower_bound(t, next);
        if (i == t->nr || t->r[i].first > last) {
            r = dirty_track_add(t, next, last);
            break;
        }
        gap_end = t->r[i].first;
        covered_to = t->r[i].last;
        r = gap_end > next ? dirty_track_add(t, next, gap_end - 1) : 0;
        if (r < 0 || covered_to >= last)
            break;
        next = covered_to + 1;
    }
    if (r < 0)
        track_overflow(t);
}

/* ---- marking ----------------------------------------------------------- */

static void mark_bits(uint64_t *w, uint64_t b0, uint64_t b1)
{
    uint64_t q, q0 = b0 / 64, q1 = b1 / 64, m;

    for (q = q0; q <= q1; q++) {
        m = ~0ull;
        if (q == q0)
            m &= ~0ull << (b0 % 64);
        if (q == q1)
            m &= ~0ull >> (63 - b1 % 64);
        if ((__atomic_load_n(&w[q], RELAXED) & m) != m)
            __atomic_fetch_or(&w[q], m, RELAXED);
    }
}

void dirty_track_mark(struct dirty_tracker *t, uint64_t first, uint64_t last)
{
    const struct dirty_range *r;
    uint64_t a, b;
    size_t i;

    if (t->overflow)
        return;
    for (i = track_lower_bound(t, first); i < t->nr; i++) {
        r = &t->r[i];
        if (r->first > last)
            break;
        a = first > r->first ? first : r->first;
        b = last < r->last ? last : r->last;
        mark_bits(r->words, (a - r->base) >> t->shift,
                  (b - r->base) >> t->shift);
    }
}

/* ---- reporting --------------------------------------------------------- */

/* Read and clear a whole word. */
static inline uint64_t take_full(uint64_t *w)
{
    uint64_t v = __atomic_load_n(w, RELAXED);

    if (v == ~0ull)
        __atomic_store_n(w, 0, RELAXED);
    else if (v)
        v = __atomic_exchange_n(w, 0, RELAXED);
    return v;
}

/*
 * Read the bits of `read` and clear those of `clear` (a subset).  Bits set
 * after the load and outside what is cleared stay for the next report.
 */
static uint64_t take_word(uint64_t *w, uint64_t read, uint64_t clear)
{
    uint64_t v = __atomic_load_n(w, RELAXED);

    if (!(v & read))
        return 0;
    if (clear == ~0ull)
        return take_full(w);
    if (v & clear)
        v = __atomic_fetch_and(w, ~clear, RELAXED);
    return v & read;
}

/* Where one range's words go in the report. */
struct emitter {
    struct uvfio_dirty_bitmap *bm;
    const struct dirty_range *r;
    unsigned int shift;         /* tracker */
    bool grid;                  /* same page size, same grid: shift words */
    int64_t qoff;               /* grid: report word of tracker word 0, + 1 */
    unsigned int s;             /* grid: and the bit it starts at */
    uint64_t nwords;            /* of the report */
    bool pending;               /* runs: one waiting to be set */
    uint64_t run_a, run_b;      /* tracker pages, inclusive */
};

static void emit_flush(struct emitter *e)
{
    uint64_t first, last;

    if (!e->pending)
        return;
    first = e->r->base + (e->run_a << e->shift);
    last = e->r->base + (e->run_b << e->shift) + page_mask(e->shift);
    dirty_bitmap_set_span(e->bm, first, last);
    e->pending = false;
}

static void emit_run(struct emitter *e, uint64_t a, uint64_t b)
{
    if (e->pending && a == e->run_b + 1) {
        e->run_b = b;
        return;
    }
    emit_flush(e);
    e->pending = true;
    e->run_a = a;
    e->run_b = b;
}

static void emit_runs(struct emitter *e, uint64_t v, uint64_t q)
{
    unsigned int lo, n;

    while (v) {
        lo = (unsigned int)__builtin_ctzll(v);
        n = (v >> lo) == ~0ull >> lo ? 64 - lo :
            (unsigned int)__builtin_ctzll(~(v >> lo));
        emit_run(e, q * 64 + lo, q * 64 + lo + n - 1);
        v = lo + n == 64 ? 0 : v & ~(((1ull << n) - 1) << lo);
    }
}

/*
 * Same grid: tracker bit p is report bit p + delta, so a word lands
 * shifted across at most two report words.  The word index carries a + 1
 * that keeps the first, partial word's position non-negative.
 */
static inline void emit_shifted(struct emitter *e, uint64_t v, uint64_t q)
{
    int64_t hi = (int64_t)q + e->qoff;

    if (hi >= 1 && (uint64_t)hi - 1 < e->nwords)
        dirty_bitmap_or_word(e->bm, (uint64_t)hi - 1, v << e->s);
    if (e->s && hi >= 0 && (uint64_t)hi < e->nwords)
        dirty_bitmap_or_word(e->bm, (uint64_t)hi, v >> (64 - e->s));
}

static inline void emit_word(struct emitter *e, uint64_t v, uint64_t q)
{
    if (!v)
        return;
    if (e->grid)
        emit_shifted(e, v, q);
    else
        emit_runs(e, v, q);
}

static void emitter_init(struct emitter *e, struct uvfio_dirty_bitmap *bm,
                         const struct dirty_range *r, unsigned int shift)
{
    memset(e, 0, sizeof(*e));
    e->bm = bm;
    e->r = r;
    e->shift = shift;
    e->grid = shift == bm->shift && !((r->base ^ bm->iova) & page_mask(shift));
    e->nwords = bm->nwords;
    /* Page numbers are below 2^52: their difference fits, and it is
     * negative when the range starts left of the report.  Floor division
     * splits it into whole words and a shift. */
    if (e->grid) {
        int64_t d = (int64_t)(r->base >> shift) -
                    (int64_t)(bm->iova >> shift) + 64;

        e->qoff = d >= 0 ? d / 64 : -((-d + 63) / 64);
        e->s = (unsigned int)(d - e->qoff * 64);
    }
}

/* A word at an edge: pages [p0, p1] are read, [c0, c1] cleared. */
static void edge_word(struct emitter *e, uint64_t *w, uint64_t q,
                      uint64_t p0, uint64_t p1, uint64_t c0, uint64_t c1)
{
    uint64_t lo = q * 64 > p0 ? q * 64 : p0;
    uint64_t hi = q * 64 + 63 < p1 ? q * 64 + 63 : p1;
    uint64_t read = bits_between(lo % 64, hi % 64), clear = 0;

    if (c0 <= c1 && c0 <= hi && c1 >= lo)
        clear = bits_between((c0 > lo ? c0 : lo) % 64,
                             (c1 < hi ? c1 : hi) % 64);
    emit_word(e, take_word(&w[q], read, clear), q);
}

/*
 * The common case of a large report, in a loop of its own: equal page
 * sizes on the same grid, word-aligned, every word of [qa, qb) landing
 * inside the report.  Words the report holds already (a neighbour range
 * shared them) take an OR; the others are stored outright, so the bitmap
 * is written once, as by a copy.
 */
static bool report_words_aligned(struct emitter *e, uint64_t *w, uint64_t qa,
                                 uint64_t qb)
{
    struct uvfio_dirty_bitmap *bm = e->bm;
    int64_t first = (int64_t)qa + e->qoff - 1;
    uint64_t q, v, k;

    if (!e->grid || e->s || first < 0 || (uint64_t)first > bm->nwords ||
        qb - qa > bm->nwords - (uint64_t)first)
        return false;
    dirty_bitmap_reach(bm, (uint64_t)first);
    for (q = qa, k = (uint64_t)first; q < qb && k < bm->init; q++, k++) {
        v = take_full(&w[q]);
        if (v)
            dirty_bitmap_or_word(bm, k, v);
    }
    for (; q < qb; q++, k++) {
        v = take_full(&w[q]);
        memcpy(bm->bits + k * 8, &v, sizeof(v));
    }
    if (bm->init < k)
        bm->init = k;
    return true;
}

/*
 * Pages [p0, p1] of r overlap the report; [c0, c1] lie wholly inside it
 * (c0 > c1: none do).  The words between the edges are read and cleared
 * whole, in a loop that is all a large report runs.
 */
static void report_pages(struct emitter *e, uint64_t *w, uint64_t p0,
                         uint64_t p1, uint64_t c0, uint64_t c1)
{
    uint64_t q0 = p0 / 64, q1 = p1 / 64, qa = q0, qb = q0, q, v;

    if (c0 <= c1) {
        qa = c0 / 64 + (c0 % 64 != 0);
        qb = (c1 + 1) / 64;
        if (qb < qa)
            qb = qa;
    }
    for (q = q0; q < qa; q++)
        edge_word(e, w, q, p0, p1, c0, c1);
    if (qa < qb && !report_words_aligned(e, w, qa, qb)) {
        for (q = qa; q < qb; q++) {
            v = take_full(&w[q]);
            if (v)
                emit_word(e, v, q);
        }
    }
    for (q = qb; q <= q1; q++)
        edge_word(e, w, q, p0, p1, c0, c1);
    emit_flush(e);
}

static void report_range(const struct dirty_tracker *t,
                         const struct dirty_range *r,
                         struct uvfio_dirty_bitmap *bm)
{
    uint64_t p0, p1, c0, c1, pm = page_mask(t->shift);
    struct emitter e;

    p0 = bm->iova <= r->base ? 0 : (bm->iova - r->base) >> t->shift;
    p1 = bm->last >= r->span_last ? r->nbits - 1 :
         (bm->last - r->base) >> t->shift;
    /* Pages straddling an edge of the report are read but kept. */
    c0 = r->base + (p0 << t->shift) >= bm->iova ? p0 : p0 + 1;
    c1 = p1;
    if (r->base + (p1 << t->shift) + pm > bm->last) {
        if (p1 == 0)
            c0 = 1;             /* an empty [c0, c1] */
        else
            c1 = p1 - 1;
    }
    emitter_init(&e, bm, r, t->shift);
    report_pages(&e, r->words, p0, p1, c0, c1);
}

void dirty_track_report(struct dirty_tracker *t,
                        struct uvfio_dirty_bitmap *bm)
{
    const struct dirty_range *r;
    size_t i;

    if (t->overflow) {
        dirty_bitmap_set_bits(bm, 0, bm->nbits - 1);
        return;
    }
    /* Page spans are sorted like the ranges but may share a page with a
     * neighbour: start from the first whose span can reach the report. */
    i = track_lower_bound(t, bm->iova & ~page_mask(t->shift));
    for (; i < t->nr; i++) {
        r = &t->r[i];
        if (r->base > bm->last)
            break;
        if (r->span_last < bm->iova)
            continue;
        report_range(t, r, bm);
    }
}
