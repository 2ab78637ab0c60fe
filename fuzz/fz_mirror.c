/* SPDX-License-Identifier: MIT */
/* fuzz/fz_mirror.c - see fz_mirror.h. */
#include <string.h>

#include "fz_mirror.h"

void fz_mirror_init(struct fz_mirror *m, uint64_t discard)
{
    memset(m, 0, sizeof(*m));
    m->discard = discard;
}

bool fz_mirror_synced(const struct fz_mirror *m)
{
    return !m->broken && !m->have && !m->skip;
}

static void header(struct fz_mirror *m, fz_mirror_fn fn, void *opaque)
{
    memcpy(&m->cur, m->hdr, sizeof(m->cur));
    m->have = 0;
    if (uvfio_wire_check_hdr(&m->cur, m->discard) < 0) {
        m->broken = true;
        return;
    }
    m->skip = m->cur.size - UVFIO_HDR_SIZE;
    if (!m->skip)
        fn(opaque, &m->cur);
}

void fz_mirror_feed(struct fz_mirror *m, const uint8_t *p, size_t n,
                    fz_mirror_fn fn, void *opaque)
{
    size_t k;

    while (n && !m->broken) {
        if (m->skip) {
            k = m->skip < n ? (size_t)m->skip : n;
            m->skip -= k;
            p += k;
            n -= k;
            if (!m->skip)
                fn(opaque, &m->cur);
            continue;
        }
        k = sizeof(m->hdr) - m->have < n ? sizeof(m->hdr) - m->have : n;
        memcpy(m->hdr + m->have, p, k);
        m->have += k;
        p += k;
        n -= k;
        if (m->have == sizeof(m->hdr))
            header(m, fn, opaque);
    }
}
