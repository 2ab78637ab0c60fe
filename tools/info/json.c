// SPDX-License-Identifier: MIT
/*
 * info/json.c - the same facts as the text output, as one JSON object.
 *
 * Numbers are JSON numbers (IDs included: a program compares them, it does
 * not read them); flags are arrays of names so a consumer does not need
 * our bit values; errors are {"error": "...", "errno": N} in place of the
 * thing that could not be read.
 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "print.h"

/* json-c's adders only fail on allocation; one check at the end (the
 * serialisation) catches a NULL anywhere in the tree. */
static void add(json_object *o, const char *key, json_object *v)
{
    json_object_object_add(o, key, v);
}

static json_object *jint(int64_t v)
{
    return json_object_new_int64(v);
}

static json_object *juint(uint64_t v)
{
    return json_object_new_uint64(v);
}

static json_object *jbool(bool v)
{
    return json_object_new_boolean(v);
}

static json_object *jstr(const char *s)
{
    return json_object_new_string(s);
}

static json_object *jflags(uint32_t flags, const struct info_flag *names)
{
    json_object *a = json_object_new_array();

    for (; names->name; names++)
        if (flags & names->bit)
            json_object_array_add(a, jstr(names->name));
    return a;
}

static json_object *jerror(int err)
{
    json_object *o = json_object_new_object();

    add(o, "error", jstr(strerror(-err)));
    add(o, "errno", jint(-err));
    return o;
}

/* ---- PCI ------------------------------------------------------------------ */

static json_object *json_bars(const struct pcidesc *d)
{
    json_object *a = json_object_new_array();

    for (unsigned int i = 0; i < PCIDESC_NR_BARS; i++) {
        const struct pcidesc_bar *b = &d->bars[i];
        json_object *o;

        if (!b->present || b->upper_half)
            continue;
        o = json_object_new_object();
        add(o, "index", jint(i));
        add(o, "type", jstr(b->io ? "io" : b->mem64 ? "mem64" : "mem32"));
        add(o, "prefetchable", jbool(b->prefetch));
        add(o, "address", juint(b->addr));
        add(o, "size", juint(b->size));
        add(o, "enabled", jbool(d->command & (b->io ? 1 : 2)));
        json_object_array_add(a, o);
    }
    return a;
}

static json_object *json_pm(const struct pcidesc_pm *p)
{
    json_object *o = json_object_new_object();

    add(o, "version", jint(p->version));
    add(o, "d1", jbool(p->d1));
    add(o, "d2", jbool(p->d2));
    add(o, "aux_current_ma", jint(p->aux_current_ma));
    add(o, "pme_support", jint(p->pme_support));
    add(o, "power_state", jint(p->power_state));
    add(o, "no_soft_reset", jbool(p->no_soft_reset));
    add(o, "pme_enable", jbool(p->pme_enable));
    add(o, "pme_status", jbool(p->pme_status));
    return o;
}

static json_object *json_msi(const struct pcidesc_msi *m)
{
    json_object *o = json_object_new_object();

    add(o, "enable", jbool(m->enable));
    add(o, "vectors", jint(m->vectors_max));
    add(o, "vectors_enabled", jint(m->vectors_enabled));
    add(o, "maskable", jbool(m->maskable));
    add(o, "64bit", jbool(m->addr64));
    add(o, "address", juint(m->address));
    add(o, "data", jint(m->data));
    if (m->maskable) {
        add(o, "mask", juint(m->mask));
        add(o, "pending", juint(m->pending));
    }
    return o;
}

static json_object *json_msix(const struct pcidesc_msix *x)
{
    json_object *o = json_object_new_object();

    add(o, "enable", jbool(x->enable));
    add(o, "function_mask", jbool(x->function_mask));
    add(o, "table_size", jint(x->table_size));
    add(o, "table_bar", jint(x->table_bar));
    add(o, "table_offset", juint(x->table_offset));
    add(o, "pba_bar", jint(x->pba_bar));
    add(o, "pba_offset", juint(x->pba_offset));
    return o;
}

static json_object *json_pcie(const struct pcidesc_pcie *e)
{
    json_object *o = json_object_new_object();
    const char *type = pcidesc_pcie_type_name(e->port_type);

    add(o, "version", jint(e->version));
    add(o, "port_type", jint(e->port_type));
    if (type)
        add(o, "port_type_name", jstr(type));
    add(o, "max_payload", jint(pcidesc_payload_bytes(e->devcap & 7)));
    add(o, "flr", jbool(e->devcap & (1u << 28)));
    add(o, "devcap", juint(e->devcap));
    add(o, "devctl", jint(e->devctl));
    add(o, "devsta", jint(e->devsta));
    if (e->has_link) {
        add(o, "lnkcap", juint(e->lnkcap));
        add(o, "lnkctl", jint(e->lnkctl));
        add(o, "lnksta", jint(e->lnksta));
    }
    return o;
}

static json_object *json_cap_body(const struct pcidesc_cap *c)
{
    switch (c->kind) {
    case PCIDESC_CAP_PM:
        return json_pm(&c->u.pm);
    case PCIDESC_CAP_MSI:
        return json_msi(&c->u.msi);
    case PCIDESC_CAP_MSIX:
        return json_msix(&c->u.msix);
    case PCIDESC_CAP_PCIE:
        return json_pcie(&c->u.pcie);
    case PCIDESC_EXT_DSN:
        return juint(c->u.dsn);
    default:
        return NULL;
    }
}

static json_object *json_cap(const struct pcidesc_cap *c)
{
    json_object *o = json_object_new_object();
    const char *name = c->ext ? pcidesc_ext_cap_name(c->id) : pcidesc_cap_name(c->id);
    json_object *body;

    add(o, "offset", jint(c->offset));
    add(o, "id", jint(c->id));
    if (c->ext)
        add(o, "version", jint(c->version));
    if (name)
        add(o, "name", jstr(name));
    if (c->truncated) {
        add(o, "truncated", jbool(true));
        return o;
    }
    body = json_cap_body(c);
    if (body)
        add(o, "decoded", body);
    return o;
}

static json_object *json_caps(const struct pcidesc *d, bool ext)
{
    json_object *a = json_object_new_array();

    for (unsigned int i = 0; i < d->nr_caps; i++)
        if (d->caps[i].ext == ext)
            json_object_array_add(a, json_cap(&d->caps[i]));
    return a;
}

static json_object *json_pci(const struct info *in)
{
    const struct pcidesc *d = &in->desc;
    json_object *o, *irq;
    const char *cls;

    if (in->config_err)
        return jerror(in->config_err);
    o = json_object_new_object();
    add(o, "vendor_id", jint(d->vendor_id));
    add(o, "device_id", jint(d->device_id));
    add(o, "subsystem_vendor_id", jint(d->subsys_vendor_id));
    add(o, "subsystem_id", jint(d->subsys_id));
    add(o, "revision", jint(d->revision));
    add(o, "class", jint((int64_t)d->class_base << 16 | d->class_sub << 8 | d->prog_if));
    cls = pcidesc_class_name(d->class_base, d->class_sub);
    if (cls)
        add(o, "class_name", jstr(cls));
    add(o, "header_type", jint(d->header_type));
    add(o, "command", jint(d->command));
    add(o, "status", jint(d->status));
    irq = json_object_new_object();
    add(irq, "pin", jint(d->int_pin));
    add(irq, "line", jint(d->int_line));
    add(o, "interrupt", irq);
    add(o, "bars", json_bars(d));
    if (d->rom.present) {
        json_object *rom = json_object_new_object();

        add(rom, "address", juint(d->rom.addr));
        add(rom, "size", juint(d->rom.size));
        add(rom, "enabled", jbool(d->rom.enabled));
        add(o, "rom", rom);
    }
    add(o, "capabilities", json_caps(d, false));
    add(o, "extended_capabilities", json_caps(d, true));
    if (d->cap_error)
        add(o, "capability_error", jstr(d->cap_error));
    return o;
}

/* ---- VFIO ----------------------------------------------------------------- */

static json_object *json_region(uint32_t index, const struct info_region *ir)
{
    const struct uvfio_client_region *r = &ir->r;
    json_object *o = json_object_new_object();
    char buf[24];

    add(o, "index", jint(index));
    add(o, "name", jstr(info_region_name(index, buf, sizeof(buf))));
    if (ir->err) {
        add(o, "error", jerror(ir->err));
        return o;
    }
    add(o, "size", juint(r->size));
    add(o, "flags", jflags(r->flags, info_region_flags));
    if (r->flags & UVFIO_REGION_FLAG_MMAP) {
        json_object *a = json_object_new_array();

        add(o, "mmap_offset", juint(r->offset));
        for (uint32_t i = 0; i < r->nr_sparse; i++) {
            json_object *s = json_object_new_object();

            add(s, "offset", juint(r->sparse[i].offset));
            add(s, "size", juint(r->sparse[i].size));
            json_object_array_add(a, s);
        }
        add(o, "sparse_areas", a);
    }
    if (r->has_type) {
        add(o, "type", juint(r->type));
        add(o, "subtype", juint(r->subtype));
    }
    add(o, "msix_mappable", jbool(r->msix_mappable));
    return o;
}

static json_object *json_irq(uint32_t index, const struct info_irq *ii)
{
    json_object *o = json_object_new_object();

    add(o, "index", jint(index));
    add(o, "name", jstr(info_irq_name(index)));
    if (ii->err) {
        add(o, "error", jerror(ii->err));
        return o;
    }
    add(o, "count", jint(ii->irq.count));
    add(o, "flags", jflags(ii->irq.flags, info_irq_flags));
    return o;
}

static json_object *json_protocol(const struct uvfio_client_caps *c)
{
    json_object *o = json_object_new_object();

    add(o, "major", jint(c->major));
    add(o, "minor", jint(c->minor));
    add(o, "max_data_xfer_size", juint(c->max_data_xfer_size));
    add(o, "max_msg_fds", jint(c->max_msg_fds));
    add(o, "max_dma_maps", juint(c->max_dma_maps));
    add(o, "pgsizes", juint(c->pgsizes));
    add(o, "write_multiple", jbool(c->write_multiple));
    add(o, "twin_socket", jbool(c->twin_socket));
    return o;
}

static json_object *json_info(const struct info *in)
{
    json_object *o = json_object_new_object();
    json_object *dev = json_object_new_object();
    json_object *regions = json_object_new_array();
    json_object *irqs = json_object_new_array();

    add(o, "socket", jstr(in->socket));
    add(o, "protocol", json_protocol(&in->caps));
    add(dev, "flags", jflags(in->dev.flags, info_device_flags));
    add(dev, "num_regions", jint(in->dev.num_regions));
    add(dev, "num_irqs", jint(in->dev.num_irqs));
    add(o, "device", dev);
    if (in->pci)
        add(o, "pci", json_pci(in));
    for (uint32_t i = 0; i < in->nr_regions; i++)
        json_object_array_add(regions, json_region(i, &in->regions[i]));
    add(o, "regions", regions);
    for (uint32_t i = 0; i < in->nr_irqs; i++)
        json_object_array_add(irqs, json_irq(i, &in->irqs[i]));
    add(o, "irqs", irqs);
    return o;
}

int info_print_json(FILE *f, const struct info *in)
{
    json_object *o = json_info(in);
    const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;

    if (s)
        fprintf(f, "%s\n", s);
    json_object_put(o);
    return s ? 0 : -ENOMEM;
}
