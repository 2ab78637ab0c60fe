// SPDX-License-Identifier: MIT
/*
 * info/text.c - the device as lspci -vvv -nn would show it, followed by
 * what only VFIO knows: regions with their mmap areas, IRQ indexes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "print.h"

const struct info_flag info_device_flags[] = {
    { UVFIO_DEVICE_FLAGS_RESET, "RESET" },
    { UVFIO_DEVICE_FLAGS_PCI, "PCI" },
    { UVFIO_DEVICE_FLAGS_CAPS, "CAPS" },
    { 0, NULL },
};

const struct info_flag info_region_flags[] = {
    { UVFIO_REGION_FLAG_READ, "READ" },
    { UVFIO_REGION_FLAG_WRITE, "WRITE" },
    { UVFIO_REGION_FLAG_MMAP, "MMAP" },
    { UVFIO_REGION_FLAG_CAPS, "CAPS" },
    { 0, NULL },
};

const struct info_flag info_irq_flags[] = {
    { UVFIO_IRQ_INFO_EVENTFD, "EVENTFD" },
    { UVFIO_IRQ_INFO_MASKABLE, "MASKABLE" },
    { UVFIO_IRQ_INFO_AUTOMASKED, "AUTOMASKED" },
    { UVFIO_IRQ_INFO_NORESIZE, "NORESIZE" },
    { 0, NULL },
};

const char *info_prog_if_name(uint8_t base, uint8_t sub, uint8_t prog_if)
{
    static const char *const serial[] = {
        "8250", "16450", "16550", "16650", "16750", "16850", "16950",
    };

    if (base == 0x07 && sub == 0x00 && prog_if < sizeof(serial) / sizeof(serial[0]))
        return serial[prog_if];
    return NULL;
}

static void print_flags(FILE *f, uint32_t flags, const struct info_flag *names)
{
    const char *sep = "";

    for (; names->name; names++) {
        if (flags & names->bit) {
            fprintf(f, "%s%s", sep, names->name);
            sep = " ";
            flags &= ~names->bit;
        }
    }
    if (flags)
        fprintf(f, "%s0x%x", sep, flags);
    if (!*sep && !flags)
        fprintf(f, "none");
}

static char pm(bool b)
{
    return b ? '+' : '-';
}

/* ---- the lspci part --------------------------------------------------------- */

static void print_title(FILE *f, const struct pcidesc *d)
{
    const char *cls = pcidesc_class_name(d->class_base, d->class_sub);
    const char *pif = info_prog_if_name(d->class_base, d->class_sub, d->prog_if);

    fprintf(f, "%s [%02x%02x]: Device [%04x:%04x]", cls ? cls : "Class",
            d->class_base, d->class_sub, d->vendor_id, d->device_id);
    if (d->revision)
        fprintf(f, " (rev %02x)", d->revision);
    if (d->prog_if) {
        fprintf(f, " (prog-if %02x", d->prog_if);
        if (pif)
            fprintf(f, " [%s]", pif);
        fprintf(f, ")");
    }
    fprintf(f, "\n\tSubsystem: Device [%04x:%04x]\n", d->subsys_vendor_id,
            d->subsys_id);
}

static void print_command_status(FILE *f, const struct pcidesc *d)
{
    static const char *const devsel[] = { "fast", "medium", "slow", "??" };
    uint16_t c = d->command, s = d->status;

    fprintf(f, "\tControl: I/O%c Mem%c BusMaster%c SpecCycle%c MemWINV%c "
            "VGASnoop%c ParErr%c Stepping%c SERR%c FastB2B%c DisINTx%c\n",
            pm(c & 1), pm(c & 2), pm(c & 4), pm(c & 8), pm(c & 0x10),
            pm(c & 0x20), pm(c & 0x40), pm(c & 0x80), pm(c & 0x100),
            pm(c & 0x200), pm(c & 0x400));
    fprintf(f, "\tStatus: Cap%c 66MHz%c UDF%c FastB2B%c ParErr%c DEVSEL=%s "
            ">TAbort%c <TAbort%c <MAbort%c >SERR%c <PERR%c INTx%c\n",
            pm(s & 0x10), pm(s & 0x20), pm(s & 0x40), pm(s & 0x80),
            pm(s & 0x100), devsel[(s >> 9) & 3], pm(s & 0x800),
            pm(s & 0x1000), pm(s & 0x2000), pm(s & 0x4000), pm(s & 0x8000),
            pm(s & 0x8));
    if (d->int_pin)
        fprintf(f, "\tInterrupt: pin %c routed to IRQ %u\n",
                d->int_pin <= 4 ? 'A' + d->int_pin - 1 : '?', d->int_line);
}

static void print_bars(FILE *f, const struct pcidesc *d)
{
    for (unsigned int i = 0; i < PCIDESC_NR_BARS; i++) {
        const struct pcidesc_bar *b = &d->bars[i];

        if (!b->present || b->upper_half)
            continue;
        if (b->io)
            fprintf(f, "\tRegion %u: I/O ports at %04" PRIx64 "%s [size=%" PRIu64 "]\n",
                    i, b->addr, d->command & 1 ? "" : " [disabled]", b->size);
        else
            fprintf(f, "\tRegion %u: Memory at %08" PRIx64 " (%s, %sprefetchable)%s"
                    " [size=%" PRIu64 "]\n", i, b->addr,
                    b->mem64 ? "64-bit" : "32-bit", b->prefetch ? "" : "non-",
                    d->command & 2 ? "" : " [disabled]", b->size);
    }
    if (d->rom.present)
        fprintf(f, "\tExpansion ROM at %08" PRIx64 " [%s] [size=%" PRIu64 "]\n",
                d->rom.addr, d->rom.enabled ? "enabled" : "disabled",
                d->rom.size);
}

static void print_pm(FILE *f, const struct pcidesc_pm *p)
{
    fprintf(f, "Power Management version %u\n", p->version);
    fprintf(f, "\t\tFlags: PMEClk%c DSI%c D1%c D2%c AuxCurrent=%umA "
            "PME(D0%c,D1%c,D2%c,D3hot%c,D3cold%c)\n", pm(p->pme_clock),
            pm(p->dsi), pm(p->d1), pm(p->d2), p->aux_current_ma,
            pm(p->pme_support & 1), pm(p->pme_support & 2),
            pm(p->pme_support & 4), pm(p->pme_support & 8),
            pm(p->pme_support & 16));
    fprintf(f, "\t\tStatus: D%u NoSoftRst%c PME-Enable%c PME%c\n",
            p->power_state, pm(p->no_soft_reset), pm(p->pme_enable),
            pm(p->pme_status));
}

static void print_msi(FILE *f, const struct pcidesc_msi *m)
{
    fprintf(f, "MSI: Enable%c Count=%u/%u Maskable%c 64bit%c\n", pm(m->enable),
            m->vectors_enabled, m->vectors_max, pm(m->maskable), pm(m->addr64));
    fprintf(f, "\t\tAddress: %0*" PRIx64 "  Data: %04x\n",
            m->addr64 ? 16 : 8, m->address, m->data);
    if (m->maskable)
        fprintf(f, "\t\tMasking: %08x  Pending: %08x\n", m->mask, m->pending);
}

static void print_msix(FILE *f, const struct pcidesc_msix *x)
{
    fprintf(f, "MSI-X: Enable%c Count=%u Masked%c\n", pm(x->enable),
            x->table_size, pm(x->function_mask));
    fprintf(f, "\t\tVector table: BAR=%u offset=%08x\n", x->table_bar,
            x->table_offset);
    fprintf(f, "\t\tPBA: BAR=%u offset=%08x\n", x->pba_bar, x->pba_offset);
}

static void print_pcie(FILE *f, const struct pcidesc_pcie *e)
{
    static const char *const speeds[] = { "unknown", "2.5GT/s", "5GT/s",
                                          "8GT/s", "16GT/s", "32GT/s", "64GT/s" };
    const char *type = pcidesc_pcie_type_name(e->port_type);

    fprintf(f, "Express (v%u) %s, MSI %02x\n", e->version,
            type ? type : "Unknown type", e->msg_number);
    fprintf(f, "\t\tDevCap:\tMaxPayload %u bytes, PhantFunc %u, ExtTag%c FLReset%c\n",
            pcidesc_payload_bytes(e->devcap & 7), (e->devcap >> 3) & 3,
            pm(e->devcap & (1u << 5)), pm(e->devcap & (1u << 28)));
    fprintf(f, "\t\tDevCtl:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c\n"
            "\t\t\tRlxdOrd%c ExtTag%c NoSnoop%c\n"
            "\t\t\tMaxPayload %u bytes, MaxReadReq %u bytes\n",
            pm(e->devctl & 1), pm(e->devctl & 2), pm(e->devctl & 4),
            pm(e->devctl & 8), pm(e->devctl & 0x10), pm(e->devctl & 0x100),
            pm(e->devctl & 0x800), pcidesc_payload_bytes(e->devctl >> 5),
            pcidesc_payload_bytes(e->devctl >> 12));
    fprintf(f, "\t\tDevSta:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c "
            "AuxPwr%c TransPend%c\n", pm(e->devsta & 1), pm(e->devsta & 2),
            pm(e->devsta & 4), pm(e->devsta & 8), pm(e->devsta & 0x10),
            pm(e->devsta & 0x20));
    if (!e->has_link)
        return;
    fprintf(f, "\t\tLnkCap:\tPort #%u, Speed %s, Width x%u\n", e->lnkcap >> 24,
            (e->lnkcap & 0xf) < 7 ? speeds[e->lnkcap & 0xf] : "unknown",
            (e->lnkcap >> 4) & 0x3f);
    fprintf(f, "\t\tLnkSta:\tSpeed %s, Width x%u\n",
            (e->lnksta & 0xf) < 7 ? speeds[e->lnksta & 0xf] : "unknown",
            (e->lnksta >> 4) & 0x3f);
}

static void print_cap(FILE *f, const struct pcidesc_cap *c)
{
    const char *name = c->ext ? pcidesc_ext_cap_name(c->id) : pcidesc_cap_name(c->id);

    if (c->ext)
        fprintf(f, "\tCapabilities: [%03x v%u] ", c->offset, c->version);
    else
        fprintf(f, "\tCapabilities: [%02x] ", c->offset);
    if (c->truncated) {
        fprintf(f, "%s <truncated: runs past config space>\n",
                name ? name : "Unknown");
        return;
    }
    switch (c->kind) {
    case PCIDESC_CAP_PM:
        print_pm(f, &c->u.pm);
        break;
    case PCIDESC_CAP_MSI:
        print_msi(f, &c->u.msi);
        break;
    case PCIDESC_CAP_MSIX:
        print_msix(f, &c->u.msix);
        break;
    case PCIDESC_CAP_PCIE:
        print_pcie(f, &c->u.pcie);
        break;
    case PCIDESC_CAP_VNDR:
        fprintf(f, "Vendor Specific Information: Len=%02x <?>\n", c->u.vndr_len);
        break;
    case PCIDESC_EXT_DSN:
        fprintf(f, "Device Serial Number %02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x\n",
                (unsigned)(c->u.dsn >> 56) & 0xff, (unsigned)(c->u.dsn >> 48) & 0xff,
                (unsigned)(c->u.dsn >> 40) & 0xff, (unsigned)(c->u.dsn >> 32) & 0xff,
                (unsigned)(c->u.dsn >> 24) & 0xff, (unsigned)(c->u.dsn >> 16) & 0xff,
                (unsigned)(c->u.dsn >> 8) & 0xff, (unsigned)c->u.dsn & 0xff);
        break;
    default:
        if (name)
            fprintf(f, "%s <?>\n", name);
        else
            fprintf(f, "%s capability ID %#04x <?>\n",
                    c->ext ? "Extended" : "Unknown", c->id);
        break;
    }
}

static void print_pci(FILE *f, const struct info *in)
{
    const struct pcidesc *d = &in->desc;

    if (in->config_err) {
        fprintf(f, "PCI config space: unreadable: %s\n",
                strerror(-in->config_err));
        return;
    }
    print_title(f, d);
    print_command_status(f, d);
    print_bars(f, d);
    for (unsigned int i = 0; i < d->nr_caps; i++)
        print_cap(f, &d->caps[i]);
    if (d->cap_error)
        fprintf(f, "\tCapabilities: <%s>\n", d->cap_error);
}

/* ---- the VFIO part ------------------------------------------------------------ */

static void print_region(FILE *f, uint32_t index, const struct info_region *ir)
{
    const struct uvfio_client_region *r = &ir->r;
    char buf[24];

    fprintf(f, "\t%u %s: ", index, info_region_name(index, buf, sizeof(buf)));
    if (ir->err) {
        fprintf(f, "<error: %s>\n", strerror(-ir->err));
        return;
    }
    if (!r->size) {
        fprintf(f, "not implemented\n");
        return;
    }
    fprintf(f, "size=%" PRIu64 " [", r->size);
    print_flags(f, r->flags, info_region_flags);
    fprintf(f, "]\n");
    if (r->flags & UVFIO_REGION_FLAG_MMAP) {
        /* A sparse capability with no areas: nothing may be mapped. */
        fprintf(f, "\t\tmmap: offset=%#" PRIx64 "%s\n", r->offset,
                r->nr_sparse ? "" :
                r->sparse ? " (no area mappable)" : " (whole region)");
        for (uint32_t i = 0; i < r->nr_sparse; i++)
            fprintf(f, "\t\tsparse area %u: offset=%#" PRIx64 " size=%#" PRIx64 "\n",
                    i, r->sparse[i].offset, r->sparse[i].size);
    }
    if (r->has_type)
        fprintf(f, "\t\ttype=%#x subtype=%#x\n", r->type, r->subtype);
    if (r->msix_mappable)
        fprintf(f, "\t\tMSI-X table mappable\n");
}

static void print_irq(FILE *f, uint32_t index, const struct info_irq *ii)
{
    fprintf(f, "\t%u %s: ", index, info_irq_name(index));
    /* vfio-pci refuses the ERR index of a conventional PCI function with
     * EINVAL: that is "not present", not a failure of the device. */
    if (ii->err == -EINVAL && index == UVFIO_PCI_ERR_IRQ_INDEX) {
        fprintf(f, "not present (conventional PCI)\n");
        return;
    }
    if (ii->err) {
        fprintf(f, "<error: %s>\n", strerror(-ii->err));
        return;
    }
    if (!ii->irq.count) {
        fprintf(f, "not implemented\n");
        return;
    }
    fprintf(f, "count=%u [", ii->irq.count);
    print_flags(f, ii->irq.flags, info_irq_flags);
    fprintf(f, "]\n");
}

static void print_vfio(FILE *f, const struct info *in)
{
    const struct uvfio_client_caps *c = &in->caps;

    fprintf(f, "vfio-user %u.%u: max_data_xfer_size=%" PRIu64 " max_msg_fds=%u "
            "max_dma_maps=%" PRIu64 " pgsizes=%#" PRIx64 " write_multiple%c "
            "twin_socket%c\n", c->major, c->minor, c->max_data_xfer_size,
            c->max_msg_fds, c->max_dma_maps, c->pgsizes,
            pm(c->write_multiple), pm(c->twin_socket));
    fprintf(f, "Device: %u regions, %u IRQ indexes [", in->dev.num_regions,
            in->dev.num_irqs);
    print_flags(f, in->dev.flags, info_device_flags);
    fprintf(f, "]\n");
}

void info_print_text(FILE *f, const struct info *in)
{
    fprintf(f, "%s\n", in->socket);
    print_vfio(f, in);
    if (in->pci)
        print_pci(f, in);
    fprintf(f, "Regions:\n");
    for (uint32_t i = 0; i < in->nr_regions; i++)
        print_region(f, i, &in->regions[i]);
    if (in->nr_regions < in->dev.num_regions)
        fprintf(f, "\t<%u more not shown>\n", in->dev.num_regions - in->nr_regions);
    fprintf(f, "IRQs:\n");
    for (uint32_t i = 0; i < in->nr_irqs; i++)
        print_irq(f, i, &in->irqs[i]);
    if (in->nr_irqs < in->dev.num_irqs)
        fprintf(f, "\t<%u more not shown>\n", in->dev.num_irqs - in->nr_irqs);
}
