/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_input.h - reading a fuzzer's input as a stream of fields.
 *
 * Every harness turns its bytes into a script (messages, client calls, DMA
 * operations).  An input is as likely to stop in the middle of a field as
 * anywhere else, so a read past the end yields zeros instead of failing:
 * the script simply runs out of interesting content, and a short input
 * still exercises the paths its prefix selects.
 */
#ifndef UVFIO_FUZZ_FZ_INPUT_H
#define UVFIO_FUZZ_FZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fz_in {
    const uint8_t *p;
    size_t left;
};

static inline bool fz_done(const struct fz_in *in)
{
    return in->left == 0;
}

/* Copy up to `n` bytes into `out` (zero-filling the rest). */
static inline void fz_take(struct fz_in *in, void *out, size_t n)
{
    size_t k = n < in->left ? n : in->left;

    memcpy(out, in->p, k);
    memset((uint8_t *)out + k, 0, n - k);
    in->p += k;
    in->left -= k;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
    uint8_t v;

    fz_take(in, &v, sizeof(v));
    return v;
}

/* Multi-byte fields are little-endian, as the wire format is on x86. */
static inline uint16_t fz_u16(struct fz_in *in)
{
    uint8_t b[2];

    fz_take(in, b, sizeof(b));
    return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint8_t b[4];

    fz_take(in, b, sizeof(b));
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t lo = fz_u32(in);

    return lo | (uint64_t)fz_u32(in) << 32;
}

/* A view of the next `n` bytes (fewer if the input ends first). */
static inline const uint8_t *fz_view(struct fz_in *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;

    *got = n < in->left ? n : in->left;
    in->p += *got;
    in->left -= *got;
    return p;
}

#endif /* UVFIO_FUZZ_FZ_INPUT_H */
