// SPDX-License-Identifier: MIT
/*
 * edu/pattern.c - the copy queue's page pattern (see pattern.h).
 *
 * Every word depends on the pass and the page, so a page copied to the
 * wrong place, a stale page and a torn page all fail the check.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "pattern.h"

static uint64_t body_word(uint64_t pass, uint64_t index, unsigned int k)
{
    return pass * EDU_CQ_K1 ^ index * EDU_CQ_K2 ^ (uint64_t)k * EDU_CQ_K3;
}

static void put_word(void *page, unsigned int k, uint64_t v)
{
    v = htole64(v);
    memcpy((uint8_t *)page + 8 * k, &v, 8);
}

static uint64_t get_word(const void *page, unsigned int k)
{
    uint64_t v;

    memcpy(&v, (const uint8_t *)page + 8 * k, 8);
    return le64toh(v);
}

void edu_cq_page_fill(void *page, uint64_t pass, uint64_t index,
                      uint64_t iova)
{
    put_word(page, 0, EDU_CQ_PAGE_MAGIC);
    put_word(page, 1, pass);
    put_word(page, 2, index);
    put_word(page, 3, iova);
    for (unsigned int k = 4; k < EDU_CQ_PAGE_WORDS; k++)
        put_word(page, k, body_word(pass, index, k));
}

int edu_cq_page_check(const void *page, uint64_t index, uint64_t iova,
                      uint64_t *pass)
{
    uint64_t p = get_word(page, 1);

    if (get_word(page, 0) != EDU_CQ_PAGE_MAGIC || p == 0 ||
        get_word(page, 2) != index || get_word(page, 3) != iova)
        return -EINVAL;
    for (unsigned int k = 4; k < EDU_CQ_PAGE_WORDS; k++)
        if (get_word(page, k) != body_word(p, index, k))
            return -EINVAL;
    *pass = p;
    return 0;
}

uint64_t edu_cq_expected_pass(uint64_t passes, uint64_t pos, uint64_t index)
{
    return index < pos ? passes + 1 : passes;
}
