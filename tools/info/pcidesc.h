/* SPDX-License-Identifier: MIT */
/*
 * info/pcidesc.h - a PCI config space, decoded into plain fields.
 *
 * Pure decoding: the bytes come from a device that may be buggy or
 * hostile, so every pointer in them (capability next pointers, extended
 * capability offsets) is range-checked and the walks stop on loops; what
 * could not be decoded is reported in `cap_error`, never read past.
 * The printers (text.c, json.c) only format what is here.
 */
#ifndef UVFIO_INFO_PCIDESC_H
#define UVFIO_INFO_PCIDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCIDESC_NR_BARS     6
#define PCIDESC_MAX_CAPS    64

struct pcidesc_bar {
    bool present;               /* the device implements it (size > 0) */
    bool upper_half;            /* high dword of the previous 64-bit BAR */
    bool io;
    bool mem64;
    bool prefetch;
    uint64_t addr;
    uint64_t size;              /* from the region, never by probing */
};

struct pcidesc_rom {
    bool present;
    bool enabled;
    uint64_t addr;
    uint64_t size;
};

enum pcidesc_cap_kind {
    PCIDESC_CAP_OTHER,
    PCIDESC_CAP_PM,
    PCIDESC_CAP_MSI,
    PCIDESC_CAP_MSIX,
    PCIDESC_CAP_PCIE,
    PCIDESC_CAP_VNDR,
    PCIDESC_EXT_OTHER,
    PCIDESC_EXT_DSN,
};

struct pcidesc_pm {
    uint8_t version;
    bool pme_clock, dsi, d1, d2;
    unsigned int aux_current_ma;
    uint8_t pme_support;        /* D0, D1, D2, D3hot, D3cold: bits 0-4 */
    uint8_t power_state;        /* 0-3 = D0-D3hot */
    bool no_soft_reset, pme_enable, pme_status;
};

struct pcidesc_msi {
    bool enable, maskable, addr64;
    unsigned int vectors_max, vectors_enabled;
    uint64_t address;
    uint16_t data;
    uint32_t mask, pending;     /* with maskable */
};

struct pcidesc_msix {
    bool enable, function_mask;
    unsigned int table_size;
    uint8_t table_bar, pba_bar;
    uint32_t table_offset, pba_offset;
};

struct pcidesc_pcie {
    uint8_t version;
    uint8_t port_type;
    uint8_t msg_number;
    uint32_t devcap;
    uint16_t devctl, devsta;
    bool has_link;
    uint32_t lnkcap;
    uint16_t lnkctl, lnksta;
};

struct pcidesc_cap {
    enum pcidesc_cap_kind kind;
    bool ext;
    uint16_t offset;
    uint16_t id;
    uint8_t version;            /* extended capabilities */
    bool truncated;             /* runs past config space: body not decoded */
    union {
        struct pcidesc_pm pm;
        struct pcidesc_msi msi;
        struct pcidesc_msix msix;
        struct pcidesc_pcie pcie;
        uint64_t dsn;
        uint8_t vndr_len;
    } u;
};

struct pcidesc {
    uint16_t vendor_id, device_id;
    uint16_t subsys_vendor_id, subsys_id;
    uint8_t revision;
    uint8_t class_base, class_sub, prog_if;
    uint16_t command, status;
    uint8_t header_type;
    uint8_t cache_line, latency;
    uint8_t int_line, int_pin;
    struct pcidesc_bar bars[PCIDESC_NR_BARS];
    struct pcidesc_rom rom;
    unsigned int nr_caps;
    struct pcidesc_cap caps[PCIDESC_MAX_CAPS];
    const char *cap_error;      /* why a capability walk stopped early */
    size_t config_len;
};

/* Decode `len` bytes of config space (>= 64: the header).  region_size[i]
 * is the size of region i (BAR0..5, ROM) as the device reports it.
 * -EINVAL when len is too short for the header. */
int pcidesc_decode(const uint8_t *cfg, size_t len,
                   const uint64_t region_size[PCIDESC_NR_BARS + 1],
                   struct pcidesc *out);

/* Names; NULL when unknown. */
const char *pcidesc_class_name(uint8_t base, uint8_t sub);
const char *pcidesc_cap_name(uint16_t id);
const char *pcidesc_ext_cap_name(uint16_t id);
const char *pcidesc_pcie_type_name(uint8_t type);

/* Bit fields of the PCI Express registers the printers decode. */
static inline unsigned int pcidesc_payload_bytes(unsigned int code)
{
    return 128u << (code & 7);
}

#endif /* UVFIO_INFO_PCIDESC_H */
