/* SPDX-License-Identifier: MIT */
/*
 * proto/version.c - the VERSION capabilities object, parsed and built.
 *
 * The JSON arrives from the peer before anything else is agreed, so it is
 * parsed with an explicit length (the wire check has already proved there
 * is a NUL inside the payload), in json-c's strict mode, with the default
 * nesting limit, and every value is type-checked before it is read: json-c
 * getters silently convert and saturate, which would turn "fds": "lots" or
 * 1e30 into a plausible number.  Out-of-range numbers are refused rather
 * than clamped, except max_data_xfer_size: a peer able to take more than we
 * will ever send is simply clamped to what we send.
 *
 * Range decisions:
 *   max_msg_fds          0..UVFIO_MAX_FDS_LIMIT (0: the peer takes no fds)
 *   max_data_xfer_size   >= 4096, because a region access or DMA chunk
 *                        smaller than a page makes every transfer a storm
 *                        of messages and is more likely a bug than a wish
 *   max_dma_maps         0..UINT32_MAX (the core counts maps in 32 bits)
 *   pgsizes              1..INT64_MAX: json-c saturates integers beyond
 *                        UINT64_MAX to UINT64_MAX, so the only way to tell
 *                        a saturated value from a real one is to refuse the
 *                        top bit, which no page size uses
 *   twin fd_index        0..UVFIO_MAX_FDS_LIMIT-1
 *
 * The legacy "migration" object QEMU still sends is accepted (it must be
 * an object) and ignored.  The "uvfio" object carries our extensions.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <json-c/json.h>

#include "transport.h"
#include "version.h"

#define MIN_DATA_XFER   4096u

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

void uvfio_caps_defaults(struct uvfio_caps *c)
{
    memset(c, 0, sizeof(*c));
    c->max_msg_fds = UVFIO_DEFAULT_MAX_MSG_FDS;
    c->max_data_xfer_size = UVFIO_DEFAULT_MAX_DATA_XFER;
    c->max_dma_maps = UVFIO_DEFAULT_MAX_DMA_MAPS;
    c->pgsizes = UVFIO_DEFAULT_PGSIZES;
    c->twin_fd_index = -1;
}

/* ---- parsing ------------------------------------------------------------ */

/* An integer member in [lo, hi]; absent leaves *out alone. */
static int get_uint(struct json_object *obj, const char *key, uint64_t lo,
                    uint64_t hi, uint64_t *out)
{
    struct json_object *v;
    uint64_t u;

    if (!json_object_object_get_ex(obj, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -EINVAL;
    if (json_object_get_int64(v) < 0)
        return -EINVAL;
    u = json_object_get_uint64(v);
    if (u < lo || u > hi)
        return -EINVAL;
    *out = u;
    return 0;
}

static int get_bool(struct json_object *obj, const char *key, bool *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, key, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    *out = json_object_get_boolean(v);
    return 0;
}

/* An object member: 1 and *out when present, 0 when absent. */
static int get_object(struct json_object *obj, const char *key,
                      struct json_object **out)
{
    if (!json_object_object_get_ex(obj, key, out))
        return 0;
    return json_object_is_type(*out, json_type_object) ? 1 : -EINVAL;
}

static int parse_twin(struct json_object *caps, struct uvfio_caps *c)
{
    struct json_object *twin;
    uint64_t idx = UINT64_MAX;
    int r;

    r = get_object(caps, "twin_socket", &twin);
    if (r <= 0)
        return r;
    r = get_bool(twin, "supported", &c->twin_socket);
    if (r == 0)
        r = get_uint(twin, "fd_index", 0, UVFIO_MAX_FDS_LIMIT - 1, &idx);
    if (r == 0 && idx != UINT64_MAX)
        c->twin_fd_index = (int32_t)idx;
    return r;
}

static int parse_extensions(struct json_object *caps, struct uvfio_caps *c)
{
    struct json_object *ext;
    bool precopy = false;
    int r;

    r = get_object(caps, "uvfio", &ext);
    if (r <= 0)
        return r;
    r = get_bool(ext, "precopy_info", &precopy);
    if (r == 0 && precopy)
        c->extensions |= UVFIO_EXT_PRECOPY_INFO;
    return r;
}

static int parse_numbers(struct json_object *caps, struct uvfio_caps *c)
{
    uint64_t fds = c->max_msg_fds;
    int r;

    r = get_uint(caps, "max_msg_fds", 0, UVFIO_MAX_FDS_LIMIT, &fds);
    if (r == 0)
        r = get_uint(caps, "max_data_xfer_size", MIN_DATA_XFER, UINT64_MAX,
                     &c->max_data_xfer_size);
    if (r == 0)
        r = get_uint(caps, "max_dma_maps", 0, UINT32_MAX, &c->max_dma_maps);
    if (r == 0)
        r = get_uint(caps, "pgsizes", 1, INT64_MAX, &c->pgsizes);
    c->max_msg_fds = (uint32_t)fds;
    c->max_data_xfer_size = min_u64(c->max_data_xfer_size,
                                    UVFIO_MAX_DATA_XFER_LIMIT);
    return r;
}

static int parse_caps(struct json_object *caps, struct uvfio_caps *c)
{
    struct json_object *legacy;
    int r;

    r = parse_numbers(caps, c);
    if (r == 0)
        r = get_bool(caps, "write_multiple", &c->write_multiple);
    if (r == 0)
        r = parse_twin(caps, c);
    if (r == 0)
        r = parse_extensions(caps, c);
    if (r == 0) {
        r = get_object(caps, "migration", &legacy);
        c->legacy_migration = r == 1;
    }
    return r < 0 ? r : 0;
}

/* Tokenise exactly `len` bytes; anything but one object and whitespace
 * is malformed. */
static struct json_object *tokenise(const char *s, size_t len)
{
    struct json_tokener *tok;
    struct json_object *obj;
    size_t end;

    tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, s, (int)len);
    if (obj && json_tokener_get_error(tok) == json_tokener_success) {
        for (end = json_tokener_get_parse_end(tok); end < len; end++) {
            if (!strchr(" \t\r\n", s[end]))
                break;
        }
        if (end != len) {
            json_object_put(obj);
            obj = NULL;
        }
    } else {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

int uvfio_caps_parse(const char *json, size_t len, struct uvfio_caps *out)
{
    struct json_object *root, *caps;
    const char *nul;
    int r;

    uvfio_caps_defaults(out);
    if (len == 0)
        return 0;
    nul = memchr(json, '\0', len);
    if (!nul || nul - json > INT_MAX)
        return -EINVAL;
    root = tokenise(json, (size_t)(nul - json));
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return -EINVAL;
    }
    r = get_object(root, "capabilities", &caps);
    if (r == 1)
        r = parse_caps(caps, out);
    json_object_put(root);
    if (r < 0)
        uvfio_caps_defaults(out);
    return r < 0 ? r : 0;
}

/* ---- building ----------------------------------------------------------- */

/* Hand `v` to `obj`; on failure json-c leaves it with us, so drop it. */
static int add(struct json_object *obj, const char *key,
               struct json_object *v)
{
    if (!v)
        return -ENOMEM;
    if (json_object_object_add(obj, key, v)) {
        json_object_put(v);
        return -ENOMEM;
    }
    return 0;
}

static int add_twin(struct json_object *caps, const struct uvfio_caps *c)
{
    struct json_object *twin = json_object_new_object();
    int r;

    r = add(caps, "twin_socket", twin);
    if (r == 0)
        r = add(twin, "supported", json_object_new_boolean(1));
    if (r == 0 && c->twin_fd_index >= 0)
        r = add(twin, "fd_index", json_object_new_int(c->twin_fd_index));
    return r;
}

static int add_extensions(struct json_object *caps, const struct uvfio_caps *c)
{
    struct json_object *ext = json_object_new_object();
    int r;

    r = add(caps, "uvfio", ext);
    if (r == 0 && (c->extensions & UVFIO_EXT_PRECOPY_INFO))
        r = add(ext, "precopy_info", json_object_new_boolean(1));
    return r;
}

/* Members that are false or absent in the struct are left out, so the
 * output never claims more than the struct does. */
static int build_caps(struct json_object *caps, const struct uvfio_caps *c)
{
    int r;

    r = add(caps, "max_msg_fds", json_object_new_uint64(c->max_msg_fds));
    if (r == 0)
        r = add(caps, "max_data_xfer_size",
                json_object_new_uint64(c->max_data_xfer_size));
    if (r == 0)
        r = add(caps, "max_dma_maps", json_object_new_uint64(c->max_dma_maps));
    if (r == 0)
        r = add(caps, "pgsizes", json_object_new_uint64(c->pgsizes));
    if (r == 0 && c->write_multiple)
        r = add(caps, "write_multiple", json_object_new_boolean(1));
    if (r == 0 && c->twin_socket)
        r = add_twin(caps, c);
    if (r == 0 && c->extensions)
        r = add_extensions(caps, c);
    return r;
}

int uvfio_caps_format(const struct uvfio_caps *c, struct uvfio_buf *out)
{
    struct json_object *root = json_object_new_object();
    struct json_object *caps = json_object_new_object();
    const char *s;
    int r;

    if (!root) {
        json_object_put(caps);
        return -ENOMEM;
    }
    r = add(root, "capabilities", caps);
    if (r == 0)
        r = build_caps(caps, c);
    if (r == 0) {
        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
        r = s ? uvfio_buf_append(out, s, strlen(s) + 1) : -ENOMEM;
    }
    json_object_put(root);
    return r;
}

/* ---- negotiation -------------------------------------------------------- */

int uvfio_caps_negotiate(const struct uvfio_caps *offered,
                         const struct uvfio_caps *limits,
                         struct uvfio_caps *reply)
{
    uvfio_caps_defaults(reply);
    reply->pgsizes = offered->pgsizes & limits->pgsizes;
    if (!reply->pgsizes)
        return -ENOTSUP;
    reply->max_msg_fds = (uint32_t)min_u64(offered->max_msg_fds,
                                           limits->max_msg_fds);
    reply->max_data_xfer_size = min_u64(min_u64(offered->max_data_xfer_size,
                                                limits->max_data_xfer_size),
                                        UVFIO_MAX_DATA_XFER_LIMIT);
    reply->max_dma_maps = min_u64(offered->max_dma_maps, limits->max_dma_maps);
    reply->write_multiple = offered->write_multiple && limits->write_multiple;
    reply->twin_socket = offered->twin_socket && limits->twin_socket;
    reply->extensions = offered->extensions & limits->extensions;
    return 0;
}
