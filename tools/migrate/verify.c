// SPDX-License-Identifier: MIT
/*
 * migrate/verify.c - page hashes and the comparisons (verify.h).
 *
 * The hash runs four independent 64-bit lanes over 32-byte blocks so the
 * multiplies overlap: a gigabyte of guest memory hashes in a fraction of
 * a second, which matters because the destination is held while it is
 * compared.  Each lane mixes a word in with a multiply by an odd constant
 * and folds the high bits down; the lanes, the tail and the length are
 * mixed together at the end.
 */
#include <string.h>

#include "pagebits.h"
#include "verify.h"

#define M1 0xa0761d6478bd642full
#define M2 0xe7037ed1a0b428dbull
#define M3 0x8ebc6af09c88c6e3ull
#define M4 0x589965cc75374cc3ull

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t lane(uint64_t v, uint64_t w, uint64_t m)
{
    v = (v ^ w) * m;
    return v ^ (v >> 29);
}

static uint64_t finish(uint64_t h)
{
    h ^= h >> 33;
    h *= M2;
    h ^= h >> 29;
    h *= M3;
    return h ^ (h >> 32);
}

uint64_t verify_hash(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t a = M1, b = M2, c = M3, d = M4, h;
    size_t n = len;

    for (; n >= 32; n -= 32, p += 32) {
        a = lane(a, load64(p), M1);
        b = lane(b, load64(p + 8), M2);
        c = lane(c, load64(p + 16), M3);
        d = lane(d, load64(p + 24), M4);
    }
    h = lane(a, b, M1) ^ lane(c, d, M2);
    for (; n >= 8; n -= 8, p += 8)
        h = lane(h, load64(p), M3);
    for (; n; n--, p++)
        h = lane(h, *p, M4);
    return finish(h ^ (uint64_t)len * M1);
}

void verify_page_sums(const uint8_t *base, uint64_t npages, uint64_t *sums)
{
    for (uint64_t i = 0; i < npages; i++)
        sums[i] = verify_hash(base + (i << LM_PAGE_SHIFT), LM_PAGE_SIZE);
}

uint64_t verify_digest(const uint64_t *sums, uint64_t npages)
{
    return verify_hash(sums, (size_t)npages * sizeof(*sums));
}

void verify_compare_sums(const uint64_t *src, const uint64_t *dst,
                         uint64_t npages, struct verify_mem *out)
{
    memset(out, 0, sizeof(*out));
    out->npages = npages;
    for (uint64_t i = 0; i < npages; i++) {
        if (src[i] == dst[i])
            continue;
        if (!out->differ)
            out->first = i;
        if (out->nlisted < VERIFY_LISTED)
            out->listed[out->nlisted++] = i;
        out->differ++;
    }
}

void verify_compare_bytes(const void *src, size_t src_len, const void *dst,
                          size_t dst_len, struct verify_dev *out)
{
    const uint8_t *a = src, *b = dst;
    size_t n = src_len < dst_len ? src_len : dst_len, i = 0;

    memset(out, 0, sizeof(*out));
    out->src_len = src_len;
    out->dst_len = dst_len;
    if (n && !memcmp(a, b, n)) {
        i = n;
    } else {
        while (i < n && a[i] == b[i])
            i++;
    }
    out->same = i == n && src_len == dst_len;
    out->first = i;
}
