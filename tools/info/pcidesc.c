// SPDX-License-Identifier: MIT
/*
 * info/pcidesc.c - decoding a config space read from a device.
 *
 * Register layouts are those of the PCI Local Bus and PCI Express base
 * specifications; names follow what lspci prints so the output reads the
 * same.
 */
#include <errno.h>
#include <string.h>

#include "pcidesc.h"

#define CFG_HEADER_SIZE     0x40
#define CFG_STD_SIZE        0x100
#define CFG_EXT_SIZE        0x1000
#define CAP_WALK_LIMIT      48          /* at most 48 in 192 bytes */

#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CAP_ID_PM       0x01
#define PCI_CAP_ID_MSI      0x05
#define PCI_CAP_ID_VNDR     0x09
#define PCI_CAP_ID_EXP      0x10
#define PCI_CAP_ID_MSIX     0x11
#define PCI_EXT_CAP_ID_DSN  0x03

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* ---- names ----------------------------------------------------------------- */

struct class_name {
    uint8_t base, sub;          /* sub 0xff: the base class itself */
    const char *name;
};

static const struct class_name class_names[] = {
    { 0x00, 0xff, "Unclassified device" },
    { 0x01, 0x00, "SCSI storage controller" },
    { 0x01, 0x01, "IDE interface" },
    { 0x01, 0x06, "SATA controller" },
    { 0x01, 0x08, "Non-Volatile memory controller" },
    { 0x01, 0xff, "Mass storage controller" },
    { 0x02, 0x00, "Ethernet controller" },
    { 0x02, 0xff, "Network controller" },
    { 0x03, 0x00, "VGA compatible controller" },
    { 0x03, 0xff, "Display controller" },
    { 0x04, 0x01, "Multimedia audio controller" },
    { 0x04, 0x03, "Audio device" },
    { 0x04, 0xff, "Multimedia controller" },
    { 0x05, 0x00, "RAM memory" },
    { 0x05, 0xff, "Memory controller" },
    { 0x06, 0x00, "Host bridge" },
    { 0x06, 0x01, "ISA bridge" },
    { 0x06, 0x04, "PCI bridge" },
    { 0x06, 0xff, "Bridge" },
    { 0x07, 0x00, "Serial controller" },
    { 0x07, 0x01, "Parallel controller" },
    { 0x07, 0x02, "Multiport serial controller" },
    { 0x07, 0x03, "Modem" },
    { 0x07, 0xff, "Communication controller" },
    { 0x08, 0xff, "Generic system peripheral" },
    { 0x09, 0xff, "Input device controller" },
    { 0x0a, 0xff, "Docking station" },
    { 0x0b, 0xff, "Processor" },
    { 0x0c, 0x03, "USB controller" },
    { 0x0c, 0x05, "SMBus" },
    { 0x0c, 0xff, "Serial bus controller" },
    { 0x0d, 0xff, "Wireless controller" },
    { 0x0e, 0xff, "Intelligent controller" },
    { 0x0f, 0xff, "Satellite communications controller" },
    { 0x10, 0xff, "Encryption controller" },
    { 0x11, 0xff, "Signal processing controller" },
    { 0x12, 0xff, "Processing accelerators" },
    { 0x13, 0xff, "Non-Essential Instrumentation" },
    { 0xff, 0xff, "Unassigned class" },
};

const char *pcidesc_class_name(uint8_t base, uint8_t sub)
{
    const char *fallback = NULL;

    for (size_t i = 0; i < sizeof(class_names) / sizeof(class_names[0]); i++) {
        if (class_names[i].base != base)
            continue;
        if (class_names[i].sub == sub)
            return class_names[i].name;
        if (class_names[i].sub == 0xff)
            fallback = class_names[i].name;
    }
    return fallback;
}

static const char *const cap_names[] = {
    [0x01] = "Power Management",
    [0x02] = "AGP",
    [0x03] = "Vital Product Data",
    [0x04] = "Slot Identification",
    [0x05] = "MSI",
    [0x06] = "CompactPCI hot-swap",
    [0x07] = "PCI-X",
    [0x08] = "HyperTransport",
    [0x09] = "Vendor Specific Information",
    [0x0a] = "Debug port",
    [0x0b] = "CompactPCI central resource control",
    [0x0c] = "PCI Hot-plug",
    [0x0d] = "Subsystem",
    [0x0e] = "AGP3",
    [0x0f] = "Secure device",
    [0x10] = "Express",
    [0x11] = "MSI-X",
    [0x12] = "SATA HBA",
    [0x13] = "PCI Advanced Features",
    [0x14] = "Enhanced Allocation",
    [0x15] = "Flattening Portal Bridge",
};

const char *pcidesc_cap_name(uint16_t id)
{
    if (id < sizeof(cap_names) / sizeof(cap_names[0]))
        return cap_names[id];
    return NULL;
}

static const char *const ext_cap_names[] = {
    [0x01] = "Advanced Error Reporting",
    [0x02] = "Virtual Channel",
    [0x03] = "Device Serial Number",
    [0x04] = "Power Budgeting",
    [0x05] = "Root Complex Link",
    [0x06] = "Root Complex Internal Link Control",
    [0x07] = "Root Complex Event Collector",
    [0x08] = "Multi-Function Virtual Channel",
    [0x09] = "Virtual Channel",
    [0x0a] = "Root Complex Register Block",
    [0x0b] = "Vendor Specific Information",
    [0x0c] = "Configuration Access Correlation",
    [0x0d] = "Access Control Services",
    [0x0e] = "Alternative Routing-ID Interpretation (ARI)",
    [0x0f] = "Address Translation Service (ATS)",
    [0x10] = "Single Root I/O Virtualization (SR-IOV)",
    [0x11] = "Multi-Root I/O Virtualization (MR-IOV)",
    [0x12] = "Multicast",
    [0x13] = "Page Request Interface (PRI)",
    [0x15] = "Physical Resizable BAR",
    [0x16] = "Dynamic Power Allocation",
    [0x17] = "Transaction Processing Hints",
    [0x18] = "Latency Tolerance Reporting",
    [0x19] = "Secondary PCI Express",
    [0x1a] = "Protocol Multiplexing",
    [0x1b] = "Process Address Space ID (PASID)",
    [0x1c] = "LN Requester",
    [0x1d] = "Downstream Port Containment",
    [0x1e] = "L1 PM Substates",
    [0x1f] = "Precision Time Measurement",
    [0x20] = "PCI Express over M-PHY",
    [0x21] = "FRS Queueing",
    [0x22] = "Readiness Time Reporting",
    [0x23] = "Designated Vendor-Specific",
    [0x24] = "VF Resizable BAR",
    [0x25] = "Data Link Feature",
    [0x26] = "Physical Layer 16.0 GT/s",
    [0x27] = "Lane Margining at the Receiver",
    [0x28] = "Hierarchy ID",
    [0x29] = "Native PCIe Enclosure Management",
    [0x2a] = "Physical Layer 32.0 GT/s",
    [0x2b] = "Alternate Protocol",
    [0x2c] = "System Firmware Intermediary",
};

const char *pcidesc_ext_cap_name(uint16_t id)
{
    if (id < sizeof(ext_cap_names) / sizeof(ext_cap_names[0]))
        return ext_cap_names[id];
    return NULL;
}

const char *pcidesc_pcie_type_name(uint8_t type)
{
    static const char *const names[] = {
        [0x0] = "Endpoint",
        [0x1] = "Legacy Endpoint",
        [0x4] = "Root Port (Slot-)",
        [0x5] = "Upstream Port",
        [0x6] = "Downstream Port (Slot-)",
        [0x7] = "PCI-Express to PCI/PCI-X Bridge",
        [0x8] = "PCI/PCI-X to PCI-Express Bridge",
        [0x9] = "Root Complex Integrated Endpoint",
        [0xa] = "Root Complex Event Collector",
    };

    return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

/* ---- header and BARs ------------------------------------------------------- */

static void decode_header(const uint8_t *cfg, struct pcidesc *d)
{
    d->vendor_id = le16(cfg + 0x00);
    d->device_id = le16(cfg + 0x02);
    d->command = le16(cfg + 0x04);
    d->status = le16(cfg + 0x06);
    d->revision = cfg[0x08];
    d->prog_if = cfg[0x09];
    d->class_sub = cfg[0x0a];
    d->class_base = cfg[0x0b];
    d->cache_line = cfg[0x0c];
    d->latency = cfg[0x0d];
    d->header_type = cfg[0x0e];
    d->subsys_vendor_id = le16(cfg + 0x2c);
    d->subsys_id = le16(cfg + 0x2e);
    d->int_line = cfg[0x3c];
    d->int_pin = cfg[0x3d];
}

/* Type and address come from the BAR register, the size from the region:
 * sizing a BAR by writing ones to it would disturb a live device. */
static void decode_bars(const uint8_t *cfg, const uint64_t *size,
                        struct pcidesc *d)
{
    for (unsigned int i = 0; i < PCIDESC_NR_BARS; i++) {
        struct pcidesc_bar *b = &d->bars[i];
        uint32_t raw = le32(cfg + 0x10 + 4 * i);

        if (i > 0 && d->bars[i - 1].mem64 && !d->bars[i - 1].upper_half) {
            b->upper_half = true;
            continue;
        }
        b->size = size[i];
        b->present = b->size > 0;
        b->io = raw & 1;
        if (b->io) {
            b->addr = raw & ~3u;
            continue;
        }
        b->mem64 = ((raw >> 1) & 3) == 2 && i + 1 < PCIDESC_NR_BARS;
        b->prefetch = raw & 8;
        b->addr = raw & ~0xfu;
        if (b->mem64)
            b->addr |= (uint64_t)le32(cfg + 0x14 + 4 * i) << 32;
    }
    d->rom.size = size[PCIDESC_NR_BARS];
    d->rom.present = d->rom.size > 0;
    d->rom.enabled = le32(cfg + 0x30) & 1;
    d->rom.addr = le32(cfg + 0x30) & ~0x7ffu;
}

/* ---- standard capabilities ------------------------------------------------- */

/* Whether [off, off+len) lies inside the first 256 bytes. */
static bool std_fits(unsigned int off, unsigned int len)
{
    return off <= CFG_STD_SIZE && len <= CFG_STD_SIZE - off;
}

static bool decode_pm(const uint8_t *cfg, struct pcidesc_cap *c)
{
    static const unsigned int aux_ma[8] = { 0, 55, 100, 160, 220, 270, 320, 375 };
    struct pcidesc_pm *pm = &c->u.pm;
    uint16_t pmc, pmcsr;

    if (!std_fits(c->offset, 8))
        return false;
    pmc = le16(cfg + c->offset + 2);
    pmcsr = le16(cfg + c->offset + 4);
    pm->version = pmc & 7;
    pm->pme_clock = pmc & (1u << 3);
    pm->dsi = pmc & (1u << 5);
    pm->aux_current_ma = aux_ma[(pmc >> 6) & 7];
    pm->d1 = pmc & (1u << 9);
    pm->d2 = pmc & (1u << 10);
    pm->pme_support = (pmc >> 11) & 0x1f;
    pm->power_state = pmcsr & 3;
    pm->no_soft_reset = pmcsr & (1u << 3);
    pm->pme_enable = pmcsr & (1u << 8);
    pm->pme_status = pmcsr & (1u << 15);
    return true;
}

static bool decode_msi(const uint8_t *cfg, struct pcidesc_cap *c)
{
    struct pcidesc_msi *msi = &c->u.msi;
    unsigned int off = c->offset, len;
    uint16_t ctl;

    if (!std_fits(off, 4))
        return false;
    ctl = le16(cfg + off + 2);
    msi->enable = ctl & 1;
    msi->vectors_max = 1u << ((ctl >> 1) & 7);
    msi->vectors_enabled = 1u << ((ctl >> 4) & 7);
    msi->addr64 = ctl & (1u << 7);
    msi->maskable = ctl & (1u << 8);
    len = (msi->addr64 ? 14 : 10) + (msi->maskable ? 10 : 0);
    if (!std_fits(off, len))
        return false;
    msi->address = le32(cfg + off + 4);
    if (msi->addr64) {
        msi->address |= (uint64_t)le32(cfg + off + 8) << 32;
        off += 4;
    }
    msi->data = le16(cfg + off + 8);
    if (msi->maskable) {
        msi->mask = le32(cfg + off + 12);
        msi->pending = le32(cfg + off + 16);
    }
    return true;
}

static bool decode_msix(const uint8_t *cfg, struct pcidesc_cap *c)
{
    struct pcidesc_msix *x = &c->u.msix;
    uint32_t table, pba;
    uint16_t ctl;

    if (!std_fits(c->offset, 12))
        return false;
    ctl = le16(cfg + c->offset + 2);
    table = le32(cfg + c->offset + 4);
    pba = le32(cfg + c->offset + 8);
    x->table_size = (ctl & 0x7ff) + 1;
    x->function_mask = ctl & (1u << 14);
    x->enable = ctl & (1u << 15);
    x->table_bar = table & 7;
    x->table_offset = table & ~7u;
    x->pba_bar = pba & 7;
    x->pba_offset = pba & ~7u;
    return true;
}

static bool decode_pcie(const uint8_t *cfg, struct pcidesc_cap *c)
{
    struct pcidesc_pcie *e = &c->u.pcie;
    unsigned int off = c->offset;
    uint16_t flags;

    if (!std_fits(off, 12))
        return false;
    flags = le16(cfg + off + 2);
    e->version = flags & 0xf;
    e->port_type = (flags >> 4) & 0xf;
    e->msg_number = (flags >> 9) & 0x1f;
    e->devcap = le32(cfg + off + 4);
    e->devctl = le16(cfg + off + 8);
    e->devsta = le16(cfg + off + 10);
    /* integrated endpoints and event collectors have no link */
    e->has_link = e->port_type != 0x9 && e->port_type != 0xa;
    if (e->has_link) {
        if (!std_fits(off, 20))
            return false;
        e->lnkcap = le32(cfg + off + 12);
        e->lnkctl = le16(cfg + off + 16);
        e->lnksta = le16(cfg + off + 18);
    }
    return true;
}

static void decode_std_cap(const uint8_t *cfg, struct pcidesc_cap *c)
{
    bool ok = true;

    switch (c->id) {
    case PCI_CAP_ID_PM:
        c->kind = PCIDESC_CAP_PM;
        ok = decode_pm(cfg, c);
        break;
    case PCI_CAP_ID_MSI:
        c->kind = PCIDESC_CAP_MSI;
        ok = decode_msi(cfg, c);
        break;
    case PCI_CAP_ID_MSIX:
        c->kind = PCIDESC_CAP_MSIX;
        ok = decode_msix(cfg, c);
        break;
    case PCI_CAP_ID_EXP:
        c->kind = PCIDESC_CAP_PCIE;
        ok = decode_pcie(cfg, c);
        break;
    case PCI_CAP_ID_VNDR:
        c->kind = PCIDESC_CAP_VNDR;
        ok = std_fits(c->offset, 3);
        if (ok)
            c->u.vndr_len = cfg[c->offset + 2];
        break;
    default:
        c->kind = PCIDESC_CAP_OTHER;
        break;
    }
    c->truncated = !ok;
}

static struct pcidesc_cap *new_cap(struct pcidesc *d)
{
    if (d->nr_caps >= PCIDESC_MAX_CAPS) {
        d->cap_error = "too many capabilities";
        return NULL;
    }
    return &d->caps[d->nr_caps++];
}

static void walk_std_caps(const uint8_t *cfg, size_t len, struct pcidesc *d)
{
    bool seen[CFG_STD_SIZE / 4] = { false };
    unsigned int ptr;

    if (!(d->status & PCI_STATUS_CAP_LIST) || len < CFG_STD_SIZE)
        return;
    ptr = cfg[0x34] & ~3u;
    for (unsigned int n = 0; ptr; n++) {
        struct pcidesc_cap *c;

        if (ptr < CFG_HEADER_SIZE || ptr > CFG_STD_SIZE - 2) {
            d->cap_error = "capability pointer out of range";
            return;
        }
        if (seen[ptr / 4] || n >= CAP_WALK_LIMIT) {
            d->cap_error = "capability list loops";
            return;
        }
        seen[ptr / 4] = true;
        c = new_cap(d);
        if (!c)
            return;
        c->offset = (uint16_t)ptr;
        c->id = cfg[ptr];
        decode_std_cap(cfg, c);
        ptr = cfg[ptr + 1] & ~3u;
    }
}

/* ---- extended capabilities ------------------------------------------------- */

static void decode_ext_cap(const uint8_t *cfg, struct pcidesc_cap *c)
{
    c->kind = PCIDESC_EXT_OTHER;
    if (c->id != PCI_EXT_CAP_ID_DSN)
        return;
    c->kind = PCIDESC_EXT_DSN;
    if (c->offset + 12u > CFG_EXT_SIZE) {
        c->truncated = true;
        return;
    }
    c->u.dsn = le32(cfg + c->offset + 4) |
               (uint64_t)le32(cfg + c->offset + 8) << 32;
}

static void walk_ext_caps(const uint8_t *cfg, size_t len, struct pcidesc *d)
{
    bool seen[(CFG_EXT_SIZE - CFG_STD_SIZE) / 4] = { false };
    unsigned int off = CFG_STD_SIZE;

    if (len < CFG_EXT_SIZE)
        return;
    while (off) {
        uint32_t hdr;
        struct pcidesc_cap *c;

        if (off < CFG_STD_SIZE || off > CFG_EXT_SIZE - 4) {
            d->cap_error = "extended capability offset out of range";
            return;
        }
        if (seen[(off - CFG_STD_SIZE) / 4]) {
            d->cap_error = "extended capability list loops";
            return;
        }
        seen[(off - CFG_STD_SIZE) / 4] = true;
        hdr = le32(cfg + off);
        /* all zeros or all ones at 0x100: no extended capabilities */
        if (hdr == 0 || hdr == 0xffffffffu)
            return;
        c = new_cap(d);
        if (!c)
            return;
        c->ext = true;
        c->offset = (uint16_t)off;
        c->id = hdr & 0xffff;
        c->version = (hdr >> 16) & 0xf;
        decode_ext_cap(cfg, c);
        off = (hdr >> 20) & ~3u;
    }
}

int pcidesc_decode(const uint8_t *cfg, size_t len,
                   const uint64_t region_size[PCIDESC_NR_BARS + 1],
                   struct pcidesc *out)
{
    if (len < CFG_HEADER_SIZE)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->config_len = len;
    decode_header(cfg, out);
    decode_bars(cfg, region_size, out);
    walk_std_caps(cfg, len, out);
    walk_ext_caps(cfg, len, out);
    return 0;
}
