// SPDX-License-Identifier: MIT
/*
 * migrate/live_report.c - the summary, the JSON object and the failure
 * report of a live migration with guest memory (live_report.h).  A JSON
 * field added here is added to docs/uvfio-migrate.md, never renamed.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <json-c/json.h>

#include "live_report.h"
#include "pagebits.h"
#include "report.h"

int live_exit_status(int ret, const struct live_result *r,
                     enum live_role role)
{
    if (!ret)
        return r->src_stop_failed ? EXIT_SOURCE_NOT_STOPPED : EXIT_MIGRATED;
    if (role != LIVE_ROLE_DEST && (r->recovery == MIG_SOURCE_RESET ||
                                   r->recovery == MIG_SOURCE_UNKNOWN))
        return EXIT_FAILED_LOST;
    return EXIT_FAILED_RECOVERED;
}

/* ---- text --------------------------------------------------------------- */

static void text_rounds(FILE *f, const struct live_result *r)
{
    char b[32];

    fprintf(f, "  precopy    %u round%s:", r->rounds,
            r->rounds == 1 ? "" : "s");
    for (unsigned int i = 0; i < r->rounds; i++)
        fprintf(f, "%s %s", i ? "," : "", report_bytes(b, sizeof(b),
                r->round[i].pages << LM_PAGE_SHIFT));
    fprintf(f, " (%s)\n", r->converged ? "converged" :
                          "stopped at the round limit");
    for (unsigned int i = 1; i < r->rounds; i++)
        fprintf(f, "             round %u: %" PRIu64 " pages (%" PRIu64
                " by the guest, %" PRIu64 " by the device), %.1f ms\n", i,
                r->round[i].pages, r->round[i].guest_pages,
                r->round[i].device_pages, (double)r->round[i].ns / 1e6);
}

static void text_guest(FILE *f, const struct live_opts *o,
                       const struct live_result *r)
{
    char b1[32], b2[32];

    fprintf(f, "  guest      %s; writes %s/s found by %s, %" PRIu64
            " pages written\n", report_bytes(b1, sizeof(b1), r->mem_size),
            report_bytes(b2, sizeof(b2), o->write_rate),
            r->tracker ? r->tracker : "-", r->guest_writes);
    if (r->device_dma)
        fprintf(f, "  device     DMA %s/s, %s written, found by DMA "
                "logging (%s pages)\n",
                report_bytes(b1, sizeof(b1), o->dev_dma_rate),
                report_bytes(b2, sizeof(b2), r->device_dma_bytes),
                report_bytes((char[32]){ 0 }, 32, r->log_page_size));
}

static void text_mismatch(FILE *f, const struct lm_result *d)
{
    if (!(d->flags & LM_RESULT_MEM_OK)) {
        fprintf(f, "  MISMATCH   memory: %" PRIu64 " of %" PRIu64
                " pages differ; first at guest address %#" PRIx64 ":",
                d->mem.differ, d->mem.npages,
                d->mem.first << LM_PAGE_SHIFT);
        for (unsigned int i = 0; i < d->mem.nlisted; i++)
            fprintf(f, " %#" PRIx64, d->mem.listed[i] << LM_PAGE_SHIFT);
        fprintf(f, "%s\n", d->mem.differ > d->mem.nlisted ? " ..." : "");
    }
    if (!(d->flags & LM_RESULT_DEV_OK))
        fprintf(f, "  MISMATCH   device state: first difference at byte %"
                PRIu64 " (source image %" PRIu64 " bytes, destination %"
                PRIu64 ")\n", d->dev.first, d->dev.src_len, d->dev.dst_len);
}

static void text_verify(FILE *f, const struct live_result *r)
{
    const struct lm_result *d = &r->dst;
    char b[32];

    if (!r->verified) {
        text_mismatch(f, d);
        return;
    }
    fprintf(f, "  verified   memory: %" PRIu64 " pages identical (digest "
            "%016" PRIx64 "); device state: %s identical\n", d->mem.npages,
            d->digest, report_bytes(b, sizeof(b), d->dev.src_len));
    fprintf(f, "             the destination was held %.1f ms to compare\n",
            r->verify_ms);
}

static void text_source(FILE *f, const struct live_opts *o,
                        const struct live_result *r)
{
    uint64_t final = r->final_pages << LM_PAGE_SHIFT;
    char b1[32], b2[32];

    text_guest(f, o, r);
    text_rounds(f, r);
    fprintf(f, "  stop-copy  %" PRIu64 " pages (%s: %" PRIu64 " by the "
            "guest, %" PRIu64 " by the device) + %s of device state\n",
            r->final_pages, report_bytes(b1, sizeof(b1), final),
            r->final_guest_pages, r->final_device_pages,
            report_bytes(b2, sizeof(b2), r->final_dev_bytes));
    fprintf(f, "  downtime   %.3f ms (budget %u ms, estimated %.1f ms)\n",
            r->downtime_ms, o->downtime_ms, r->estimate_ms);
    fprintf(f, "             stop %.1f, collect %.1f, send %.1f, load %.1f, "
            "run %.1f ms\n", r->dt.stop_ms, r->dt.collect_ms, r->dt.send_ms,
            r->dt.load_ms, r->dt.run_ms);
    fprintf(f, "  total      %.3f s migrating, %s sent at %s/s (setup "
            "%.3f s)\n", r->migrate_ms / 1e3,
            report_bytes(b1, sizeof(b1), r->bytes_sent),
            report_bytes(b2, sizeof(b2), (uint64_t)r->bandwidth),
            r->setup_ms / 1e3);
}

void live_report_text(FILE *f, const struct live_opts *o,
                      const struct live_result *r, enum live_role role)
{
    char b[32];

    switch (role) {
    case LIVE_ROLE_BOTH:
        fprintf(f, "live-migrated %s -> %s\n", o->src_path, o->dst_path);
        break;
    case LIVE_ROLE_SOURCE:
        fprintf(f, "live-migrated %s -> %s\n", o->src_path, o->to);
        break;
    case LIVE_ROLE_DEST:
        fprintf(f, "received a live migration on %s into %s\n", o->incoming,
                o->dst_path);
        fprintf(f, "  guest      %s; %u precopy rounds, %" PRIu64
                " pages after the stop, %s received\n",
                report_bytes(b, sizeof(b), r->mem_size), r->rounds,
                r->final_pages, report_bytes((char[32]){ 0 }, 32,
                                             r->bytes_sent));
        text_verify(f, r);
        return;
    }
    text_source(f, o, r);
    text_verify(f, r);
    if (r->src_stop_failed)
        fprintf(f, "  warning    the source did not go to STOP\n");
}

void live_report_error(FILE *f, const struct live_result *r,
                       enum live_role role)
{
    fprintf(f, "uvfio-migrate: live migration failed: %s: %s\n", r->step,
            strerror(-r->err));
    if (r->err == -EBADMSG && r->dst.mem.npages)
        text_mismatch(f, &r->dst);
    if (role == LIVE_ROLE_DEST) {
        fprintf(f, "uvfio-migrate: the destination device was reset\n");
        return;
    }
    switch (r->recovery) {
    case MIG_SOURCE_UNTOUCHED:
        fprintf(f, "uvfio-migrate: the source device was not changed; the "
                "guest runs on\n");
        break;
    case MIG_SOURCE_RUNNING:
        fprintf(f, "uvfio-migrate: the source is RUNNING again with its "
                "state; the guest runs on\n");
        break;
    case MIG_SOURCE_RESET:
        fprintf(f, "uvfio-migrate: the source could not return to RUNNING "
                "and was reset: its device state is lost\n");
        break;
    default:
        fprintf(f, "uvfio-migrate: the source could neither return to "
                "RUNNING nor be reset: its state is unknown\n");
        break;
    }
}

/* ---- JSON --------------------------------------------------------------- */

static int add(struct json_object *o, const char *key, struct json_object *v)
{
    if (!v)
        return -ENOMEM;
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

static int add_u64(struct json_object *o, const char *key, uint64_t v)
{
    return add(o, key, json_object_new_int64((int64_t)v));
}

static int add_ms(struct json_object *o, const char *key, double ms)
{
    char s[32];

    snprintf(s, sizeof(s), "%.3f", ms);
    return add(o, key, json_object_new_double_s(ms, s));
}

static int add_str(struct json_object *o, const char *key, const char *s)
{
    if (!s)
        return json_object_object_add(o, key, NULL) ? -ENOMEM : 0;
    return add(o, key, json_object_new_string(s));
}

static int add_bool(struct json_object *o, const char *key, bool v)
{
    return add(o, key, json_object_new_boolean(v));
}

static struct json_object *json_round(const struct live_round *rd)
{
    struct json_object *o = json_object_new_object();
    int ret = 0;

    if (!o)
        return NULL;
    ret |= add_u64(o, "pages", rd->pages);
    ret |= add_u64(o, "guest_pages", rd->guest_pages);
    ret |= add_u64(o, "device_pages", rd->device_pages);
    ret |= add_u64(o, "device_bytes", rd->dev_bytes);
    ret |= add_ms(o, "ms", (double)rd->ns / 1e6);
    if (ret) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *json_rounds(const struct live_result *r)
{
    struct json_object *a = json_object_new_array();

    for (unsigned int i = 0; a && i < r->rounds; i++) {
        struct json_object *v = json_round(&r->round[i]);

        if (!v || json_object_array_add(a, v)) {
            json_object_put(v);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

static struct json_object *json_u64_array(const uint64_t *v, unsigned int n)
{
    struct json_object *a = json_object_new_array();

    for (unsigned int i = 0; a && i < n; i++) {
        struct json_object *e = json_object_new_int64((int64_t)v[i]);

        if (!e || json_object_array_add(a, e)) {
            json_object_put(e);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

static struct json_object *json_memory(const struct lm_result *d)
{
    struct json_object *o = json_object_new_object();
    char digest[24];
    int ret = 0;

    if (!o)
        return NULL;
    snprintf(digest, sizeof(digest), "%016" PRIx64, d->digest);
    ret |= add_bool(o, "identical", d->flags & LM_RESULT_MEM_OK);
    ret |= add_u64(o, "pages", d->mem.npages);
    ret |= add_u64(o, "differing_pages", d->mem.differ);
    ret |= d->mem.differ ? add_u64(o, "first_differing_address",
                                   d->mem.first << LM_PAGE_SHIFT) :
                           add_str(o, "first_differing_address", NULL);
    ret |= add(o, "differing_page_list",
               json_u64_array(d->mem.listed, d->mem.nlisted));
    ret |= add_str(o, "digest", digest);
    if (ret) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *json_device(const struct lm_result *d)
{
    struct json_object *o = json_object_new_object();
    bool same = d->flags & LM_RESULT_DEV_OK;
    int ret = 0;

    if (!o)
        return NULL;
    ret |= add_bool(o, "identical", same);
    ret |= add_u64(o, "source_bytes", d->dev.src_len);
    ret |= add_u64(o, "destination_bytes", d->dev.dst_len);
    ret |= same ? add_str(o, "first_difference", NULL) :
                  add_u64(o, "first_difference", d->dev.first);
    if (ret) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *json_verification(const struct live_result *r)
{
    struct json_object *o;

    if (!r->dst.mem.npages)
        return NULL;    /* never got that far */
    o = json_object_new_object();
    if (!o)
        return NULL;
    if (add(o, "memory", json_memory(&r->dst)) ||
        add(o, "device", json_device(&r->dst)) ||
        add_ms(o, "held_ms", r->verify_ms)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *json_error(const struct live_result *r)
{
    struct json_object *e = json_object_new_object();

    if (!e)
        return NULL;
    if (add_str(e, "step", r->step) ||
        add(e, "errno", json_object_new_int(-r->err)) ||
        add_str(e, "message", strerror(-r->err)) ||
        add_bool(e, "destination_failed", r->dst_failed)) {
        json_object_put(e);
        return NULL;
    }
    return e;
}

static struct json_object *json_downtime(const struct live_result *r)
{
    struct json_object *o = json_object_new_object();
    int ret = 0;

    if (!o)
        return NULL;
    ret |= add_ms(o, "stop_ms", r->dt.stop_ms);
    ret |= add_ms(o, "collect_ms", r->dt.collect_ms);
    ret |= add_ms(o, "send_ms", r->dt.send_ms);
    ret |= add_ms(o, "load_ms", r->dt.load_ms);
    ret |= add_ms(o, "run_ms", r->dt.run_ms);
    if (ret) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static const char *role_name(enum live_role role)
{
    return role == LIVE_ROLE_BOTH ? "both" :
           role == LIVE_ROLE_SOURCE ? "source" : "destination";
}

static const char *source_after(const struct live_result *r, bool ok)
{
    if (ok)
        return r->src_stop_failed ? "not-stopped" : "stopped";
    switch (r->recovery) {
    case MIG_SOURCE_UNTOUCHED:
        return "untouched";
    case MIG_SOURCE_RUNNING:
        return "running";
    case MIG_SOURCE_RESET:
        return "reset";
    default:
        return "unknown";
    }
}

static int json_ends(struct json_object *j, const struct live_opts *o,
                     const struct live_result *r, enum live_role role)
{
    bool ok = !r->err;
    int ret = 0;

    ret |= add_str(j, "role", role_name(role));
    ret |= add_str(j, "source", role == LIVE_ROLE_DEST ? NULL : o->src_path);
    ret |= add_str(j, "destination", role == LIVE_ROLE_SOURCE ? NULL :
                                     o->dst_path);
    ret |= add_str(j, "to", o->to);
    ret |= add_str(j, "incoming", o->incoming);
    ret |= add_str(j, "source_after", role == LIVE_ROLE_DEST ? NULL :
                                      source_after(r, ok));
    ret |= add_str(j, "destination_after", ok ? "running" :
                   role == LIVE_ROLE_SOURCE ? NULL : "reset");
    return ret;
}

static int json_fill(struct json_object *j, const struct live_opts *o,
                     const struct live_result *r, enum live_role role,
                     int status)
{
    bool ok = !r->err;
    int ret = 0;

    ret |= add_str(j, "result", ok ? "migrated" : "failed");
    ret |= add_str(j, "mode", "live");
    ret |= add(j, "exit_status", json_object_new_int(status));
    ret |= json_ends(j, o, r, role);
    ret |= add_u64(j, "guest_memory", r->mem_size);
    ret |= add_str(j, "write_tracker", r->tracker);
    ret |= add_u64(j, "dirty_log_page_size", r->log_page_size);
    ret |= add_u64(j, "guest_write_rate", o->write_rate);
    ret |= add_u64(j, "device_dma_rate", r->device_dma ? o->dev_dma_rate : 0);
    ret |= add_u64(j, "downtime_budget_ms", o->downtime_ms);
    ret |= add_u64(j, "source_flags", r->src_flags);
    ret |= add_u64(j, "destination_flags", r->dst_flags);
    ret |= add_bool(j, "precopy", r->precopy);
    ret |= add_bool(j, "p2p", r->p2p);
    ret |= add(j, "rounds", json_rounds(r));
    ret |= add_bool(j, "converged", r->converged);
    ret |= add_u64(j, "bandwidth", (uint64_t)r->bandwidth);
    ret |= add_ms(j, "downtime_estimate_ms", r->estimate_ms);
    ret |= add_u64(j, "final_pages", r->final_pages);
    ret |= add_u64(j, "final_guest_pages", r->final_guest_pages);
    ret |= add_u64(j, "final_device_pages", r->final_device_pages);
    ret |= add_u64(j, "final_device_bytes", r->final_dev_bytes);
    ret |= add_u64(j, "bytes_sent", r->bytes_sent);
    ret |= add_u64(j, "guest_page_writes", r->guest_writes);
    ret |= add_u64(j, "device_dma_bytes", r->device_dma_bytes);
    ret |= add_ms(j, "downtime_ms", r->downtime_ms);
    ret |= add(j, "downtime_breakdown", json_downtime(r));
    ret |= add_ms(j, "setup_ms", r->setup_ms);
    ret |= add_ms(j, "migrate_ms", r->migrate_ms);
    ret |= add_ms(j, "total_ms", r->total_ms);
    ret |= add_bool(j, "verified", r->verified);
    ret |= r->dst.mem.npages ? add(j, "verification", json_verification(r)) :
                               add_str(j, "verification", NULL);
    ret |= ok ? add_str(j, "error", NULL) : add(j, "error", json_error(r));
    return ret ? -ENOMEM : 0;
}

int live_report_json(FILE *f, const struct live_opts *o,
                     const struct live_result *r, enum live_role role,
                     int status)
{
    struct json_object *j = json_object_new_object();
    int ret;

    if (!j)
        return -ENOMEM;
    ret = json_fill(j, o, r, role, status);
    if (!ret)
        fprintf(f, "%s\n", json_object_to_json_string_ext(
                    j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return ret;
}
