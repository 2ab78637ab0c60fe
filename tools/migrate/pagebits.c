// SPDX-License-Identifier: MIT
/*
 * migrate/pagebits.c - the page bitmap (pagebits.h).
 *
 * The last word's bits past nbits may be set by whoever ORs a report in;
 * the tail mask keeps them out of counts and runs rather than
 * trusting every producer to leave them clear.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pagebits.h"

static uint64_t tail_mask(const struct pagebits *b)
{
    unsigned int rem = (unsigned int)(b->nbits % 64);

    return rem ? (1ull << rem) - 1 : ~0ull;
}

/* Word i with the bits past nbits cleared. */
static uint64_t word(const struct pagebits *b, size_t i)
{
    return i + 1 == b->nwords ? b->w[i] & tail_mask(b) : b->w[i];
}

int pagebits_init(struct pagebits *b, uint64_t nbits)
{
    memset(b, 0, sizeof(*b));
    if (!nbits || nbits > (uint64_t)SIZE_MAX / 8 - 63)
        return -EINVAL;
    b->nwords = (size_t)((nbits + 63) / 64);
    b->w = calloc(b->nwords, sizeof(*b->w));
    if (!b->w)
        return -ENOMEM;
    b->nbits = nbits;
    return 0;
}

void pagebits_fini(struct pagebits *b)
{
    free(b->w);
    memset(b, 0, sizeof(*b));
}

void pagebits_clear(struct pagebits *b)
{
    memset(b->w, 0, b->nwords * sizeof(*b->w));
}

void pagebits_fill(struct pagebits *b)
{
    memset(b->w, 0xff, b->nwords * sizeof(*b->w));
}

void pagebits_set_range(struct pagebits *b, uint64_t first, uint64_t count)
{
    uint64_t end;

    if (first >= b->nbits)
        return;
    end = count > b->nbits - first ? b->nbits : first + count;
    for (; first < end && first % 64; first++)
        b->w[first / 64] |= 1ull << (first % 64);
    for (; end - first >= 64; first += 64)
        b->w[first / 64] = ~0ull;
    for (; first < end; first++)
        b->w[first / 64] |= 1ull << (first % 64);
}

bool pagebits_test(const struct pagebits *b, uint64_t bit)
{
    return bit < b->nbits && (b->w[bit / 64] >> (bit % 64) & 1);
}

void pagebits_or(struct pagebits *b, const uint64_t *words)
{
    for (size_t i = 0; i < b->nwords; i++)
        b->w[i] |= words[i];
}

uint64_t pagebits_count(const struct pagebits *b)
{
    uint64_t n = 0;

    for (size_t i = 0; i < b->nwords; i++)
        n += (uint64_t)__builtin_popcountll(word(b, i));
    return n;
}

/* First set bit at or after pos, or nbits. */
static uint64_t find_set(const struct pagebits *b, uint64_t pos)
{
    size_t i = (size_t)(pos / 64);
    uint64_t w;

    if (pos >= b->nbits)
        return b->nbits;
    w = word(b, i) & (~0ull << (pos % 64));
    while (!w) {
        if (++i == b->nwords)
            return b->nbits;
        w = word(b, i);
    }
    return (uint64_t)i * 64 + (uint64_t)__builtin_ctzll(w);
}

/* First clear bit at or after pos (nbits counts as clear). */
static uint64_t find_clear(const struct pagebits *b, uint64_t pos)
{
    size_t i = (size_t)(pos / 64);
    uint64_t w;

    if (pos >= b->nbits)
        return b->nbits;
    w = ~word(b, i) & (~0ull << (pos % 64));
    while (!w) {
        if (++i == b->nwords)
            return b->nbits;
        w = ~word(b, i);
    }
    pos = (uint64_t)i * 64 + (uint64_t)__builtin_ctzll(w);
    return pos < b->nbits ? pos : b->nbits;
}

uint64_t pagebits_next_run(const struct pagebits *b, uint64_t *pos,
                           uint64_t max_run)
{
    uint64_t start = find_set(b, *pos), end;

    *pos = start;
    if (start >= b->nbits)
        return 0;
    end = find_clear(b, start);
    return end - start > max_run ? max_run : end - start;
}
