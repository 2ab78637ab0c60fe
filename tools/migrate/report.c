// SPDX-License-Identifier: MIT
/*
 * migrate/report.c - the summary, the JSON object and the failure message
 * of a migration (the JSON schema is in docs/uvfio-migrate.md; a field
 * added there must be added here, never renamed).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <json-c/json.h>

#include "report.h"

int report_exit_status(int ret, const struct mig_result *r)
{
    if (!ret)
        return r->src_stop_failed ? EXIT_SOURCE_NOT_STOPPED : EXIT_MIGRATED;
    if (r->recovery == MIG_SOURCE_RESET || r->recovery == MIG_SOURCE_UNKNOWN)
        return EXIT_FAILED_LOST;
    return EXIT_FAILED_RECOVERED;
}

const char *report_bytes(char *buf, size_t len, uint64_t n)
{
    static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
    double v = (double)n;
    int u = -1;

    if (n < 1024) {
        snprintf(buf, len, "%" PRIu64 " B", n);
        return buf;
    }
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

/* ---- text ---------------------------------------------------------------- */

static void text_precopy(FILE *f, const struct mig_result *r)
{
    char b[32];

    if (!r->precopy) {
        fprintf(f, "  precopy    not used\n");
        return;
    }
    fprintf(f, "  precopy    %u pass%s, %s (", r->iterations,
            r->iterations == 1 ? "" : "es",
            report_bytes(b, sizeof(b), r->bytes_precopy));
    for (unsigned int i = 0; i < r->iterations; i++)
        fprintf(f, "%s%s", i ? " + " : "",
                report_bytes(b, sizeof(b), r->iteration_bytes[i]));
    fprintf(f, "), %s\n", r->converged ? "converged" :
                          "stopped at the pass limit");
}

void report_text(FILE *f, const struct mig_opts *o, const struct mig_result *r)
{
    uint64_t total = r->bytes_precopy + r->bytes_stopcopy;
    char b1[32], b2[32];

    fprintf(f, "migrated %s -> %s\n", o->src_path, o->dst_path);
    text_precopy(f, r);
    fprintf(f, "  stop-copy  %s (estimated %s)\n",
            report_bytes(b1, sizeof(b1), r->bytes_stopcopy),
            report_bytes(b2, sizeof(b2), r->stopcopy_estimate));
    fprintf(f, "  total      %s in %.3f ms\n",
            report_bytes(b1, sizeof(b1), total), r->total_ms);
    fprintf(f, "  downtime   %.3f ms\n", r->downtime_ms);
    if (r->src_stop_failed)
        fprintf(f, "  warning    the source did not go to STOP\n");
}

/* ---- failure ------------------------------------------------------------- */

static const char *source_after(const struct mig_result *r, bool ok)
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

static const char *destination_after(const struct mig_result *r, bool ok)
{
    if (ok)
        return "running";
    if (r->dst_reset_failed)
        return "not-reset";
    return r->dst_reset ? "reset" : "untouched";
}

void report_error(FILE *f, const struct mig_result *r)
{
    fprintf(f, "uvfio-migrate: migration failed: %s: %s\n", r->step,
            strerror(-r->err));
    switch (r->recovery) {
    case MIG_SOURCE_UNTOUCHED:
        fprintf(f, "uvfio-migrate: nothing was changed on the source\n");
        break;
    case MIG_SOURCE_RUNNING:
        fprintf(f, "uvfio-migrate: the source is RUNNING again with its "
                "state\n");
        break;
    case MIG_SOURCE_RESET:
        fprintf(f, "uvfio-migrate: the source could not return to RUNNING "
                "and was reset: its device state is lost\n");
        break;
    default:
        if (mig_link_lost(r->recovery_err))
            fprintf(f, "uvfio-migrate: lost the connection to the source "
                    "(%s): if its server still runs, 'uvfio-migrate "
                    "--recover SOURCE' puts the device back to RUNNING with "
                    "its state; if not, the device's state is lost\n",
                    strerror(-r->recovery_err));
        else
            fprintf(f, "uvfio-migrate: the source could neither return to "
                    "RUNNING nor be reset: its state is unknown\n");
        break;
    }
    if (r->dst_reset_failed)
        fprintf(f, "uvfio-migrate: the destination could not be reset: "
                "discard it ('uvfio-migrate --discard DEST') before using "
                "it\n");
}

/* ---- JSON ---------------------------------------------------------------- */

/* json-c spells JSON null as a NULL object: use add_null for it, so a
 * NULL here can only mean that building `v` failed. */
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

static int add_null(struct json_object *o, const char *key)
{
    return json_object_object_add(o, key, NULL) ? -ENOMEM : 0;
}

/* Milliseconds to the microsecond, not to 17 digits. */
static int add_ms(struct json_object *o, const char *key, double ms)
{
    char s[32];

    snprintf(s, sizeof(s), "%.3f", ms);
    return add(o, key, json_object_new_double_s(ms, s));
}

static int add_u64(struct json_object *o, const char *key, uint64_t v)
{
    return add(o, key, json_object_new_int64((int64_t)v));
}

static struct json_object *json_iterations(const struct mig_result *r)
{
    struct json_object *a = json_object_new_array();

    for (unsigned int i = 0; a && i < r->iterations; i++) {
        struct json_object *v = json_object_new_int64(
            (int64_t)r->iteration_bytes[i]);

        if (!v || json_object_array_add(a, v)) {
            json_object_put(v);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

static struct json_object *json_error(const struct mig_result *r)
{
    struct json_object *e = json_object_new_object();

    if (!e)
        return NULL;
    if (add(e, "step", json_object_new_string(r->step)) ||
        add(e, "errno", json_object_new_int(-r->err)) ||
        add(e, "message", json_object_new_string(strerror(-r->err)))) {
        json_object_put(e);
        return NULL;
    }
    return e;
}

static int json_fill(struct json_object *j, const struct mig_opts *o,
                     const struct mig_result *r, int status)
{
    bool ok = !r->err;
    int ret = 0;

    ret |= add(j, "result", json_object_new_string(ok ? "migrated" :
                                                       "failed"));
    ret |= add(j, "exit_status", json_object_new_int(status));
    ret |= add(j, "source", json_object_new_string(o->src_path));
    ret |= add(j, "destination", json_object_new_string(o->dst_path));
    ret |= add_u64(j, "source_flags", r->src_flags);
    ret |= add_u64(j, "destination_flags", r->dst_flags);
    ret |= add(j, "precopy", json_object_new_boolean(r->precopy));
    ret |= add(j, "p2p", json_object_new_boolean(r->p2p));
    ret |= add(j, "precopy_info", json_object_new_boolean(r->precopy_info));
    ret |= add(j, "converged", json_object_new_boolean(r->converged));
    ret |= add_u64(j, "max_data_xfer_size", r->max_xfer);
    ret |= add_u64(j, "chunk", r->chunk);
    ret |= add_u64(j, "bytes_precopy", r->bytes_precopy);
    ret |= add_u64(j, "bytes_stopcopy", r->bytes_stopcopy);
    ret |= add_u64(j, "bytes_total", r->bytes_precopy + r->bytes_stopcopy);
    ret |= add_u64(j, "stopcopy_estimate", r->stopcopy_estimate);
    ret |= add(j, "iterations", json_object_new_int((int)r->iterations));
    ret |= add(j, "iteration_bytes", json_iterations(r));
    ret |= ok ? add_ms(j, "downtime_ms", r->downtime_ms)
              : add_null(j, "downtime_ms");
    ret |= add_ms(j, "total_ms", r->total_ms);
    ret |= add(j, "source_after", json_object_new_string(source_after(r,
                                                                      ok)));
    ret |= add(j, "destination_after",
               json_object_new_string(destination_after(r, ok)));
    ret |= ok ? add_null(j, "error") : add(j, "error", json_error(r));
    return ret ? -ENOMEM : 0;
}

int report_json(FILE *f, const struct mig_opts *o, const struct mig_result *r,
                int status)
{
    struct json_object *j = json_object_new_object();
    int ret;

    if (!j)
        return -ENOMEM;
    ret = json_fill(j, o, r, status);
    if (!ret)
        fprintf(f, "%s\n", json_object_to_json_string_ext(
                    j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return ret;
}
