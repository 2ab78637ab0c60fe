// SPDX-License-Identifier: MIT
/*
 * pci/msix.c - the MSI-X capability, its table and PBA inside a BAR, and
 * delivery through them.
 *
 * Table entries are 16 bytes: address low/high, data, vector control (bit
 * 0 masks the vector).  A vector that fires while masked - by its own bit
 * or by the function mask - sets its PBA bit and is sent, and the bit
 * cleared, once it is unmasked.  Vectors are masked at reset.
 *
 * The PCI spec allows only aligned dword and qword accesses to the table.
 * Reads have no side effects, so we serve any size and alignment (a tool
 * dumping a BAR gets sensible bytes).  Writes must be dword aligned and a
 * multiple of four bytes long - a qword being two dwords, low one first as
 * the spec allows - and any other write to the table fails with -EINVAL
 * before anything is changed.  The PBA is read-only: writes are dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "pci/pci_priv.h"

size_t upci_pba_size(unsigned int nvec)
{
    return (size_t)(nvec + 63) / 64 * 8;
}

static int upci_msix_check_area(const struct uvfio_pci *pci, unsigned int bar,
                                uint32_t off, size_t size)
{
    const struct upci_bar *b;
    uint32_t i;

    if (bar >= UPCI_NUM_BARS || (off & 7))
        return -EINVAL;
    b = &pci->bars[bar];
    if (!b->size || (b->flags & UVFIO_PCI_BAR_IO) || size > b->size ||
        off > b->size - size)
        return -EINVAL;
    /* A mapped table would never reach us. */
    if (b->mmap && !b->nr_sparse)
        return -EINVAL;
    for (i = 0; i < b->nr_sparse; i++)
        if (upci_ranges_overlap(off, size, b->sparse[i].offset,
                                b->sparse[i].size))
            return -EINVAL;
    return 0;
}

static int upci_msix_check(const struct uvfio_pci *pci, unsigned int nvec,
                           unsigned int table_bar, uint32_t table_off,
                           unsigned int pba_bar, uint32_t pba_off)
{
    size_t tsize = (size_t)nvec * UPCI_MSIX_ENTRY_SIZE;
    int ret;

    if (!nvec || nvec > UPCI_MSIX_MAX_VECTORS)
        return -EINVAL;
    ret = upci_msix_check_area(pci, table_bar, table_off, tsize);
    if (!ret)
        ret = upci_msix_check_area(pci, pba_bar, pba_off,
                                   upci_pba_size(nvec));
    if (!ret && table_bar == pba_bar &&
        upci_ranges_overlap(table_off, tsize, pba_off, upci_pba_size(nvec)))
        ret = -EINVAL;
    return ret;
}

static void upci_msix_layout(struct uvfio_pci *pci, int off)
{
    const struct upci_msix *m = &pci->msix;

    upci_init16(pci, off + UPCI_MSIX_FLAGS, (uint16_t)(m->nvec - 1),
                UPCI_MSIX_ENABLE | UPCI_MSIX_FMASK, 0);
    upci_init32(pci, off + UPCI_MSIX_TABLE, m->table_off | m->table_bar, 0, 0);
    upci_init32(pci, off + UPCI_MSIX_PBA, m->pba_off | m->pba_bar, 0, 0);
}

static int upci_msix_install(struct uvfio_pci *pci,
                             const struct upci_msix *m)
{
    int off;

    upci_lock(pci);
    if (pci->msix.off) {
        upci_unlock(pci);
        return -EEXIST;
    }
    off = upci_cap_alloc(pci, UPCI_CAP_ID_MSIX, UPCI_MSIX_SIZEOF);
    if (off > 0) {
        pci->msix = *m;
        pci->msix.off = (uint16_t)off;
        upci_msix_layout(pci, off);
        upci_msix_reset(pci);
    }
    upci_unlock(pci);
    return off;
}

int uvfio_pci_add_cap_msix(struct uvfio_pci *pci, unsigned int nvec,
                           unsigned int table_bar, uint32_t table_offset,
                           unsigned int pba_bar, uint32_t pba_offset)
{
    struct uvfio_irq_config ic = { .count = nvec,
                                   .flags = UVFIO_IRQ_INFO_EVENTFD |
                                            UVFIO_IRQ_INFO_NORESIZE };
    struct upci_msix m = {
        .nvec = (uint16_t)nvec,
        .table_bar = (uint8_t)table_bar,
        .table_off = table_offset,
        .pba_bar = (uint8_t)pba_bar,
        .pba_off = pba_offset,
    };
    int off, ret;

    if (!pci)
        return -EINVAL;
    ret = upci_msix_check(pci, nvec, table_bar, table_offset, pba_bar,
                          pba_offset);
    if (ret)
        return ret;
    m.table = calloc(nvec, UPCI_MSIX_ENTRY_SIZE);
    m.pba = calloc(1, upci_pba_size(nvec));
    off = (m.table && m.pba) ? upci_msix_install(pci, &m) : -ENOMEM;
    if (off < 0) {
        free(m.table);
        free(m.pba);
        return off;
    }
    ret = uvfio_device_set_irq(pci->dev, UVFIO_PCI_MSIX_IRQ_INDEX, &ic);
    return ret ? ret : off;
}

void upci_msix_reset(struct uvfio_pci *pci)
{
    struct upci_msix *m = &pci->msix;
    unsigned int v;

    if (!m->off)
        return;
    memset(m->table, 0, (size_t)m->nvec * UPCI_MSIX_ENTRY_SIZE);
    for (v = 0; v < m->nvec; v++)
        m->table[v * UPCI_MSIX_ENTRY_SIZE + UPCI_MSIX_ENTRY_CTRL] =
            UPCI_MSIX_CTRL_MASKED;
    memset(m->pba, 0, upci_pba_size(m->nvec));
    m->table_used = false;
}

/* ---- delivery ------------------------------------------------------------ */

static uint16_t upci_msix_flags(const struct uvfio_pci *pci)
{
    return upci_cfg16(pci, pci->msix.off + UPCI_MSIX_FLAGS);
}

bool upci_msix_enabled(const struct uvfio_pci *pci)
{
    return pci->msix.off && (upci_msix_flags(pci) & UPCI_MSIX_ENABLE);
}

static bool upci_msix_vector_masked(const struct uvfio_pci *pci,
                                    unsigned int v)
{
    const uint8_t *ctrl = pci->msix.table + v * UPCI_MSIX_ENTRY_SIZE +
                          UPCI_MSIX_ENTRY_CTRL;

    return pci->msix.table_used && (*ctrl & UPCI_MSIX_CTRL_MASKED);
}

static bool upci_pba_test(const struct uvfio_pci *pci, unsigned int v)
{
    return pci->msix.pba[v / 8] & (1u << (v % 8));
}

static void upci_pba_assign(struct uvfio_pci *pci, unsigned int v, bool set)
{
    uint8_t bit = (uint8_t)(1u << (v % 8));

    if (set)
        pci->msix.pba[v / 8] |= bit;
    else
        pci->msix.pba[v / 8] &= (uint8_t)~bit;
}

static bool upci_msix_can_send(const struct uvfio_pci *pci)
{
    return upci_msix_enabled(pci) &&
           !(upci_msix_flags(pci) & UPCI_MSIX_FMASK) &&
           (upci_cfg16(pci, UPCI_COMMAND) & UPCI_CMD_MASTER);
}

int upci_msix_notify(struct uvfio_pci *pci, unsigned int vector)
{
    if (vector >= pci->msix.nvec)
        return -ENOENT;
    if ((upci_msix_flags(pci) & UPCI_MSIX_FMASK) ||
        upci_msix_vector_masked(pci, vector)) {
        upci_pba_assign(pci, vector, true);
        return 0;
    }
    /* An MSI-X message is a memory write: no bus mastering, no message. */
    if (!(upci_cfg16(pci, UPCI_COMMAND) & UPCI_CMD_MASTER))
        return -ENOENT;
    return uvfio_irq_trigger(pci->dev, UVFIO_PCI_MSIX_IRQ_INDEX, vector);
}

static void upci_msix_flush(struct uvfio_pci *pci)
{
    unsigned int v;

    if (!pci->msix.off || !upci_msix_can_send(pci))
        return;
    for (v = 0; v < pci->msix.nvec; v++) {
        if (!pci->msix.pba[v / 8]) {
            v |= 7;
            continue;
        }
        if (upci_pba_test(pci, v) && !upci_msix_vector_masked(pci, v)) {
            upci_pba_assign(pci, v, false);
            uvfio_irq_trigger(pci->dev, UVFIO_PCI_MSIX_IRQ_INDEX, v);
        }
    }
}

void upci_msix_written(struct uvfio_pci *pci)
{
    upci_msix_flush(pci);
}

/* ---- the table and PBA in their BAR ----------------------------------------- */

static void upci_msix_table_dword(struct uvfio_pci *pci, uint32_t off,
                                  uint32_t val)
{
    switch (off % UPCI_MSIX_ENTRY_SIZE) {
    case 0:
        val &= ~0x3u;               /* dword-aligned message address */
        break;
    case UPCI_MSIX_ENTRY_CTRL:
        val &= UPCI_MSIX_CTRL_MASKED;   /* the rest is reserved */
        break;
    }
    upci_put32(pci->msix.table + off, val);
}

static ssize_t upci_msix_table_rw(struct uvfio_pci *pci, uint32_t off,
                                  uint8_t *buf, size_t len, bool write)
{
    size_t i;

    upci_lock(pci);
    if (!write) {
        memcpy(buf, pci->msix.table + off, len);
    } else {
        for (i = 0; i < len; i += 4)
            upci_msix_table_dword(pci, off + (uint32_t)i,
                                  upci_get32(buf + i));
        pci->msix.table_used = true;
        upci_msix_flush(pci);
    }
    upci_unlock(pci);
    return (ssize_t)len;
}

static ssize_t upci_msix_pba_rw(struct uvfio_pci *pci, uint32_t off,
                                uint8_t *buf, size_t len, bool write)
{
    if (!write) {
        upci_lock(pci);
        memcpy(buf, pci->msix.pba + off, len);
        upci_unlock(pci);
    }
    return (ssize_t)len;
}

/* A part of a BAR access that falls on the table or the PBA. */
struct upci_span {
    uint64_t start;             /* BAR offset */
    uint64_t end;
    uint64_t base;              /* where the table or PBA starts */
    bool table;
};

static unsigned int upci_msix_spans(const struct uvfio_pci *pci,
                                    unsigned int bar, uint64_t off,
                                    uint64_t end, struct upci_span s[2])
{
    const struct upci_msix *m = &pci->msix;
    struct upci_span c[2];
    unsigned int n = 0, i;

    c[0] = (struct upci_span){ m->table_off, m->table_off +
                               (uint64_t)m->nvec * UPCI_MSIX_ENTRY_SIZE,
                               m->table_off, true };
    c[1] = (struct upci_span){ m->pba_off, m->pba_off +
                               upci_pba_size(m->nvec), m->pba_off, false };
    for (i = 0; i < 2; i++) {
        if ((c[i].table ? m->table_bar : m->pba_bar) != bar ||
            c[i].end <= off || c[i].start >= end)
            continue;
        s[n] = c[i];
        s[n].start = c[i].start > off ? c[i].start : off;
        s[n].end = c[i].end < end ? c[i].end : end;
        n++;
    }
    if (n == 2 && s[1].start < s[0].start) {
        struct upci_span t = s[0];

        s[0] = s[1];
        s[1] = t;
    }
    return n;
}

static ssize_t upci_driver_rw(struct uvfio_pci *pci, unsigned int bar,
                              uint64_t off, uint8_t *buf, size_t len,
                              bool write)
{
    const struct uvfio_device_ops *ops = uvfio_device_cfg(pci->dev)->ops;
    ssize_t r;

    if (!ops || (write && !ops->write) || (!write && !ops->read))
        return -EINVAL;
    r = write ? ops->write(pci->dev, bar, off, buf, len) :
                ops->read(pci->dev, bar, off, buf, len);
    if (r >= 0 && (size_t)r != len)
        return -EIO;
    return r;
}

static ssize_t upci_span_rw(struct uvfio_pci *pci, const struct upci_span *s,
                            uint8_t *buf, bool write)
{
    uint32_t off = (uint32_t)(s->start - s->base);
    size_t len = (size_t)(s->end - s->start);

    return s->table ? upci_msix_table_rw(pci, off, buf, len, write) :
                      upci_msix_pba_rw(pci, off, buf, len, write);
}

static bool upci_span_write_ok(const struct upci_span *s)
{
    return !s->table || (!((s->start - s->base) & 3) &&
                         !((s->end - s->start) & 3));
}

/*
 * The model answers the whole access - table, PBA and whatever driver
 * bytes lie around them in a bulk access - so the core sees one result.
 * The driver's ops run outside our lock: they may raise interrupts.
 */
bool upci_msix_bar_access(struct uvfio_pci *pci, unsigned int bar,
                          uint64_t off, void *buf, size_t count, bool write,
                          ssize_t *ret)
{
    uint64_t end = off + count, pos = off;
    struct upci_span s[2];
    uint8_t *p = buf;
    unsigned int n, i;
    ssize_t r = 0;

    if (!pci->msix.off)
        return false;
    n = upci_msix_spans(pci, bar, off, end, s);
    if (!n)
        return false;
    for (i = 0; write && i < n; i++) {
        if (!upci_span_write_ok(&s[i])) {
            *ret = -EINVAL;
            return true;
        }
    }
    for (i = 0; i < n && r >= 0; i++) {
        if (pos < s[i].start)
            r = upci_driver_rw(pci, bar, pos, p + (pos - off),
                               (size_t)(s[i].start - pos), write);
        if (r >= 0)
            r = upci_span_rw(pci, &s[i], p + (s[i].start - off), write);
        pos = s[i].end;
    }
    if (r >= 0 && pos < end)
        r = upci_driver_rw(pci, bar, pos, p + (pos - off),
                           (size_t)(end - pos), write);
    *ret = r < 0 ? r : (ssize_t)count;
    return true;
}
