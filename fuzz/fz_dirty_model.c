/* SPDX-License-Identifier: MIT */
/* fuzz/fz_dirty_model.c - see fz_dirty_model.h. */
#include <stdlib.h>
#include <string.h>

#include "fz_dirty_model.h"
#include "fz_util.h"

/* ---- sets -------------------------------------------------------------- */

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 16;
    p = realloc(p, *cap * size);
    if (!p)
        fz_fail("model: out of memory");
    return p;
}

static void page_add(struct dirty_model *m, uint64_t page)
{
    size_t i;

    for (i = 0; i < m->npages; i++)
        if (m->pages[i] == page)
            return;
    m->pages = grow(m->pages, &m->pages_cap, m->npages, sizeof(*m->pages));
    m->pages[m->npages++] = page;
}

static void logged_insert(struct dirty_model *m, uint64_t first,
                          uint64_t last)
{
    size_t i = 0;

    while (i < m->nlogged && m->logged[i].first < first)
        i++;
    m->logged = grow(m->logged, &m->logged_cap, m->nlogged,
                     sizeof(*m->logged));
    memmove(&m->logged[i + 1], &m->logged[i],
            (m->nlogged - i) * sizeof(*m->logged));
    m->logged[i] = (struct dm_ival){ first, last };
    m->nlogged++;
}

void dm_reset(struct dirty_model *m)
{
    free(m->logged);
    free(m->pages);
    memset(m, 0, sizeof(*m));
}

/* ---- the tracker's shape ------------------------------------------------ */

/* Bitmap bytes of one logged interval at a shift: whole u64 words. */
static uint64_t interval_bytes(uint64_t first, uint64_t last,
                               unsigned int shift)
{
    uint64_t pages = (last >> shift) - (first >> shift) + 1;

    return (pages + 63) / 64 * 8;
}

uint64_t dm_track_bytes(const struct uvfio_dirty_range *r, uint32_t nr,
                        unsigned int shift)
{
    uint64_t total = 0;
    uint32_t i;

    for (i = 0; i < nr; i++)
        total += interval_bytes(r[i].iova, r[i].iova + (r[i].length - 1),
                                shift);
    return total;
}

uint64_t dm_report_words(const struct dirty_model *m, uint64_t iova,
                         uint64_t last)
{
    uint64_t words = 0, a, b;
    size_t i;

    for (i = 0; m->started && i < m->nlogged; i++) {
        if (m->logged[i].last < iova || m->logged[i].first > last)
            continue;
        a = iova > m->logged[i].first ? iova : m->logged[i].first;
        b = last < m->logged[i].last ? last : m->logged[i].last;
        words += interval_bytes(a, b, m->shift) / 8;
    }
    return words;
}

unsigned int dm_pick_shift(const struct uvfio_dirty_range *r, uint32_t nr,
                           unsigned int hint)
{
    unsigned int shift = hint < DM_MIN_SHIFT ? DM_MIN_SHIFT : hint;
    unsigned __int128 total;
    uint32_t i;

    for (; shift < 63; shift++) {
        total = 0;
        for (i = 0; i < nr; i++)
            total += interval_bytes(r[i].iova, r[i].iova + (r[i].length - 1),
                                    shift);
        if (total <= DM_MAX_BITMAP_BYTES)
            break;
    }
    return shift;
}

void dm_start(struct dirty_model *m, const struct uvfio_dirty_range *r,
              uint32_t nr, unsigned int shift, const struct dm_ival *maps,
              size_t nmaps)
{
    uint32_t i;

    dm_reset(m);
    m->started = true;
    m->shift = shift;
    m->everything = nr == 0;
    for (i = 0; i < nr; i++)
        logged_insert(m, r[i].iova, r[i].iova + (r[i].length - 1));
    for (i = 0; m->everything && i < nmaps; i++)
        dm_map_added(m, maps[i].first, maps[i].last);
}

/* Log [first, last] too; false when that is past the tracker's limits,
 * which then calls every page dirty until the next START. */
static bool log_gap(struct dirty_model *m, uint64_t first, uint64_t last)
{
    uint64_t bytes = interval_bytes(first, last, m->shift);

    if (bytes > DM_MAX_BITMAP_BYTES - m->bytes ||
        m->nlogged >= DM_MAX_MAP_RANGES) {
        m->overflow = true;
        return false;
    }
    m->bytes += bytes;
    logged_insert(m, first, last);
    return true;
}

/* Log the parts of [first, last] not logged yet, gap by gap from the
 * left. */
void dm_map_added(struct dirty_model *m, uint64_t first, uint64_t last)
{
    uint64_t next = first, gap_end, covered_to;
    size_t i;

    if (!m->started || !m->everything || m->overflow)
        return;
    for (;;) {
        for (i = 0; i < m->nlogged && m->logged[i].last < next; i++)
            ;
        if (i == m->nlogged || m->logged[i].first > last) {
            log_gap(m, next, last);
            return;
        }
        gap_end = m->logged[i].first;
        covered_to = m->logged[i].last;
        if (gap_end > next && !log_gap(m, next, gap_end - 1))
            return;
        if (covered_to >= last)
            return;
        next = covered_to + 1;
    }
}

/* ---- marking --------------------------------------------------------------- */

void dm_mark(struct dirty_model *m, uint64_t first, uint64_t last)
{
    uint64_t a, b, p;
    size_t i;

    if (!m->started || m->overflow)
        return;
    for (i = 0; i < m->nlogged; i++) {
        if (m->logged[i].last < first || m->logged[i].first > last)
            continue;
        a = first > m->logged[i].first ? first : m->logged[i].first;
        b = last < m->logged[i].last ? last : m->logged[i].last;
        for (p = a >> m->shift; p <= b >> m->shift; p++) {
            page_add(m, p);
            if (p == UINT64_MAX >> m->shift)
                break;
        }
    }
}

/* ---- the driver's tracker ------------------------------------------------------ */

void dm_span_add(struct dirty_model *m, uint64_t first, uint64_t last)
{
    if (m->nspans < DM_MAX_SPANS)
        m->spans[m->nspans++] = (struct dm_ival){ first, last };
}

/* Remove [first, last] from every span, splitting where it cuts one. */
void dm_span_clear(struct dirty_model *m, uint64_t first, uint64_t last)
{
    struct dm_ival out[2 * DM_MAX_SPANS], s;
    size_t i, n = 0;

    for (i = 0; i < m->nspans; i++) {
        s = m->spans[i];
        if (s.last < first || s.first > last) {
            out[n++] = s;
            continue;
        }
        if (s.first < first)
            out[n++] = (struct dm_ival){ s.first, first - 1 };
        if (s.last > last)
            out[n++] = (struct dm_ival){ last + 1, s.last };
    }
    /* A cut in the middle may leave more pieces than slots: the model and
     * the driver share this list, so dropping one loses nothing. */
    m->nspans = n < DM_MAX_SPANS ? n : DM_MAX_SPANS;
    memcpy(m->spans, out, m->nspans * sizeof(*out));
}

/* ---- reports -------------------------------------------------------------------- */

static void set_bit(uint8_t *bits, uint64_t n)
{
    bits[n / 8] |= (uint8_t)(1u << (n % 8));
}

/* Every report bit of [a, b] clipped to the report [iova, last]. */
static void expect_span(uint64_t iova, uint64_t last, unsigned int pshift,
                        uint64_t a, uint64_t b, uint8_t *bits)
{
    uint64_t n;

    if (b < iova || a > last)
        return;
    a = a < iova ? iova : a;
    b = b > last ? last : b;
    for (n = (a - iova) >> pshift; n <= (b - iova) >> pshift; n++)
        set_bit(bits, n);
}

void dm_expect(const struct dirty_model *m, uint64_t iova, uint64_t last,
               unsigned int pshift, uint8_t *bits)
{
    uint64_t first;
    size_t i;

    if (m->started && m->overflow)
        expect_span(iova, last, pshift, iova, last, bits);
    for (i = 0; m->started && !m->overflow && i < m->npages; i++) {
        first = m->pages[i] << m->shift;
        expect_span(iova, last, pshift, first,
                    first + ((1ull << m->shift) - 1), bits);
    }
    for (i = 0; i < m->nspans; i++)
        expect_span(iova, last, pshift, m->spans[i].first, m->spans[i].last,
                    bits);
}

void dm_reported(struct dirty_model *m, uint64_t iova, uint64_t last)
{
    uint64_t first, end;
    size_t i = 0;

    while (i < m->npages) {
        first = m->pages[i] << m->shift;
        end = first + ((1ull << m->shift) - 1);
        if (first >= iova && end <= last)
            m->pages[i] = m->pages[--m->npages];
        else
            i++;
    }
}

/* ---- combining ranges ---------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static unsigned __int128 covered(const struct uvfio_dirty_range *r, size_t n)
{
    unsigned __int128 sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        sum += r[i].length;
    return sum;
}

static bool inside(const struct uvfio_dirty_range *in,
                   const struct uvfio_dirty_range *out, int n)
{
    int j;

    for (j = 0; j < n; j++)
        if (in->iova >= out[j].iova &&
            in->iova + (in->length - 1) <= out[j].iova + (out[j].length - 1))
            return true;
    return false;
}

const char *dm_check_combined(const struct uvfio_dirty_range *in, uint32_t nr,
                              uint32_t max, const struct uvfio_dirty_range *out,
                              int n)
{
    uint32_t want = !max || nr <= max ? nr : max, i, k = nr ? nr - 1 : 0;
    unsigned __int128 extra = 0;
    uint64_t gaps[256];
    int j;

    if (n < 0 || (uint32_t)n != want)
        return "wrong number of ranges";
    for (j = 0; j < n; j++)
        if (!out[j].length || out[j].length > UINT64_MAX - out[j].iova ||
            (j && out[j].iova <= out[j - 1].iova + (out[j - 1].length - 1)))
            return "result not sorted, disjoint and non-empty";
    for (i = 0; i < nr; i++)
        if (!inside(&in[i], out, n))
            return "an input range is not covered";
    /* The union plus the nr - n smallest gaps, no more, no less. */
    for (i = 0; i < k; i++)
        gaps[i] = in[i + 1].iova - (in[i].iova + in[i].length);
    qsort(gaps, k, sizeof(gaps[0]), cmp_u64);
    for (i = 0; i < nr - (uint32_t)n; i++)
        extra += gaps[i];
    if (covered(out, (size_t)n) != covered(in, nr) + extra)
        return "covers more than the smallest gaps";
    return NULL;
}
