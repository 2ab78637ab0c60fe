// SPDX-License-Identifier: MIT
/* tests/faults/track.c - see track.h. */
#include <stdio.h>
#include <string.h>

#include <uvfio/abi.h>

#include "proto/wire.h"
#include "track.h"

#define S_STOP      UVFIO_MIG_STATE_STOP
#define S_RUNNING   UVFIO_MIG_STATE_RUNNING
#define S_STOP_COPY UVFIO_MIG_STATE_STOP_COPY
#define S_RESUMING  UVFIO_MIG_STATE_RESUMING
#define S_PRE       UVFIO_MIG_STATE_PRE_COPY
#define S_PRE_P2P   UVFIO_MIG_STATE_PRE_COPY_P2P

static const char *const state_names[UVFIO_MIG_STATE_COUNT] = {
    "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
    "PRE_COPY", "PRE_COPY_P2P",
};

void track_init(struct track *t, int src_state, int dst_state)
{
    memset(t, 0, sizeof(*t));
    t->dev[SIDE_SRC].state = t->dev[SIDE_SRC].told = src_state;
    t->dev[SIDE_DST].state = t->dev[SIDE_DST].told = dst_state;
}

const char *phase_name(enum phase p)
{
    static const char *const names[PH_COUNT] = {
        "setup", "dst-resuming", "precopy", "precopy-p2p", "stop-copy",
        "loaded", "switched", "done",
    };

    return (unsigned int)p < PH_COUNT ? names[p] : "?";
}

enum phase track_phase(const struct track *t)
{
    const struct track_dev *s = &t->dev[SIDE_SRC], *d = &t->dev[SIDE_DST];

    if (d->ran && s->state == S_STOP)
        return PH_DONE;
    if (d->ran)
        return PH_SWITCHED;
    if (d->resumed && d->state == S_STOP)
        return PH_LOADED;
    if (s->state == S_STOP_COPY)
        return PH_STOPCOPY;
    if (s->state == S_PRE_P2P)
        return PH_PRECOPY_P2P;
    if (s->state == S_PRE)
        return PH_PRECOPY;
    if (d->resumed)
        return PH_DST_RESUMING;
    return PH_SETUP;
}

static bool header(const uint8_t *msg, size_t len, struct uvfio_wire_hdr *h)
{
    if (len < sizeof(*h))
        return false;
    memcpy(h, msg, sizeof(*h));
    return true;
}

/* A DEVICE_FEATURE SET of MIG_DEVICE_STATE: its target, else -1.  A
 * DEVICE_RESET ends in RUNNING. */
static int request_target(const struct uvfio_wire_hdr *h, const uint8_t *msg,
                          size_t len)
{
    struct uvfio_wire_feature f;
    struct uvfio_wire_feature_mig_state ms;
    size_t off = sizeof(*h);

    if (h->cmd == UVFIO_CMD_DEVICE_RESET)
        return S_RUNNING;
    if (h->cmd != UVFIO_CMD_DEVICE_FEATURE || len < off + sizeof(f) +
        sizeof(ms))
        return -1;
    memcpy(&f, msg + off, sizeof(f));
    if ((f.flags & UVFIO_FEATURE_MASK) != UVFIO_FEATURE_MIG_DEVICE_STATE ||
        !(f.flags & UVFIO_FEATURE_SET))
        return -1;
    memcpy(&ms, msg + off + sizeof(f), sizeof(ms));
    return (int)ms.device_state;
}

static void remember(struct track_dev *d, uint16_t id, int target)
{
    for (int i = 0; i < TRACK_PENDING; i++) {
        if (!d->pend[i].used) {
            d->pend[i].used = true;
            d->pend[i].id = id;
            d->pend[i].target = target;
            return;
        }
    }
}

static int find_pending(const struct track_dev *d, uint16_t id)
{
    for (int i = 0; i < TRACK_PENDING; i++)
        if (d->pend[i].used && d->pend[i].id == id)
            return i;
    return -1;
}

/* The target of the request `id` answers, -2 when none is pending. */
static int target_of(struct track_dev *d, uint16_t id, bool forget)
{
    int i = find_pending(d, id);

    if (i < 0)
        return -2;
    d->pend[i].used = !forget;
    return d->pend[i].target;
}

static bool is_reply(const struct uvfio_wire_hdr *h)
{
    return (h->flags & UVFIO_HDR_TYPE_MASK) == UVFIO_HDR_TYPE_REPLY;
}

enum phase track_seen(struct track *t, enum side s, enum dir d,
                      const uint8_t *msg, size_t len)
{
    struct track_dev *dev = &t->dev[s];
    struct uvfio_wire_hdr h;
    int target;

    if (!header(msg, len, &h))
        return track_phase(t);
    if (d == DIR_TO_SERVER && !is_reply(&h)) {
        target = request_target(&h, msg, len);
        if (target >= 0)
            remember(dev, h.msg_id, target);
    } else if (d == DIR_TO_TOOL && is_reply(&h)) {
        /* kept until delivery, which tells the tool the same */
        target = target_of(dev, h.msg_id, false);
        if (target >= 0) {
            dev->state = (h.flags & UVFIO_HDR_ERROR) ? TRACK_UNKNOWN : target;
            if (dev->state == S_RESUMING)
                dev->resumed = true;
            if (dev->state == S_RUNNING && dev->resumed && s == SIDE_DST &&
                h.cmd != UVFIO_CMD_DEVICE_RESET)
                dev->ran = true;
        }
    }
    return track_phase(t);
}

void track_delivered(struct track *t, enum side s, enum dir d,
                     const uint8_t *msg, size_t len)
{
    struct track_dev *dev = &t->dev[s];
    struct uvfio_wire_hdr h;
    int target;

    if (d != DIR_TO_TOOL || !header(msg, len, &h) || !is_reply(&h))
        return;
    target = target_of(dev, h.msg_id, true);
    if (target < 0)
        return;
    dev->told = (h.flags & UVFIO_HDR_ERROR) ? TRACK_UNKNOWN : target;
    if (dev->ran && dev->told == S_RUNNING)
        dev->tool_saw_run = true;
}

static const char *cmd_name(uint16_t cmd)
{
    static const char *const names[] = {
        [UVFIO_CMD_VERSION] = "VERSION",
        [UVFIO_CMD_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
        [UVFIO_CMD_DEVICE_GET_REGION_INFO] = "GET_REGION_INFO",
        [UVFIO_CMD_DEVICE_GET_IRQ_INFO] = "GET_IRQ_INFO",
        [UVFIO_CMD_REGION_READ] = "REGION_READ",
        [UVFIO_CMD_REGION_WRITE] = "REGION_WRITE",
        [UVFIO_CMD_DEVICE_RESET] = "DEVICE_RESET",
        [UVFIO_CMD_DEVICE_FEATURE] = "DEVICE_FEATURE",
        [UVFIO_CMD_MIG_DATA_READ] = "MIG_DATA_READ",
        [UVFIO_CMD_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
    };

    if (cmd < sizeof(names) / sizeof(names[0]) && names[cmd])
        return names[cmd];
    return "command";
}

void track_describe(const struct track *t, enum side s, const uint8_t *msg,
                    size_t len, char *buf, size_t size)
{
    const struct track_dev *dev = &t->dev[s];
    struct uvfio_wire_hdr h;
    int target = -1, i;

    if (!header(msg, len, &h)) {
        snprintf(buf, size, "a runt of %zu bytes", len);
        return;
    }
    if (!is_reply(&h)) {
        target = request_target(&h, msg, len);
    } else {
        i = find_pending(dev, h.msg_id);
        target = i < 0 ? -1 : dev->pend[i].target;
    }
    if (target >= 0 && target < UVFIO_MIG_STATE_COUNT &&
        h.cmd == UVFIO_CMD_DEVICE_FEATURE)
        snprintf(buf, size, "%s SET %s%s", is_reply(&h) ? "the reply to" :
                 "the request", state_names[target],
                 h.flags & UVFIO_HDR_ERROR ? " (an error)" : "");
    else
        snprintf(buf, size, "%s %s #%u (%u bytes)", is_reply(&h) ?
                 "the reply to" : "the request", cmd_name(h.cmd), h.msg_id,
                 h.size);
}
