// SPDX-License-Identifier: MIT
/*
 * edu/migration.c - uvfio-edu's live migration: STOP_COPY, P2P, PRE_COPY.
 *
 * The stream is a sequence of records (state.h) that the core's record
 * helper (uvfio_mig_records) cuts, hands out, receives and judges; this
 * file says what each record holds and how edu holds still for it:
 *
 *   CONFIG  the DMA mask and the copy queue's window and rate: the initial
 *           precopy data, so a destination that cannot take this device
 *           (another DMA mask, a window it finds illegal) refuses it while
 *           the source still runs;
 *   STATE   edu's registers, the 4 KiB DMA buffer and the queue's window
 *           and rate: the dirty data, sent in PRE_COPY whenever it differs
 *           from the last STATE sent (the first always goes);
 *   FINAL   everything, cut once the device is held: registers, buffer, a
 *           command still pending, the queue with its progress (passes,
 *           position, bytes) and the PCI model's blob.  The only record
 *           applied.
 *
 * A stream is [CONFIG STATE*] FINAL.  The queue's progress moves all the
 * time while the device runs, so it is not dirty data - only FINAL, cut
 * after the worker stopped, can say where it stands.
 *
 * Holding.  RUNNING and PRE_COPY run; every other state holds the device:
 * the copy queue's worker stops (P2P: initiate no DMA) and a DMA command
 * the guest starts waits, RUN set, for the release.  Holding comes before
 * the arc's stream work (FINAL must see a still device), releasing after.
 */
#include "edu_priv.h"
#include "state.h"

static struct edu *edu_of(struct uvfio_device *dev)
{
    return uvfio_device_priv(dev);
}

static struct uvfio_mig_records *rec_of(struct uvfio_device *dev)
{
    return &edu_of(dev)->mig.rec;
}

/* ---- the records: state.c's content ---------------------------------------- */

static size_t edu_final_len(struct uvfio_device *dev)
{
    return edu_rec_len(edu_of(dev), EDU_REC_FINAL);
}

static int edu_build(struct uvfio_device *dev, enum uvfio_mig_rec_kind kind,
                     void **payload, size_t *len)
{
    uint8_t *p;
    int r;

    r = edu_rec_build(edu_of(dev), (enum edu_rec_kind)kind, &p, len);
    if (!r)
        *payload = p;
    return r;
}

static int edu_check(struct uvfio_device *dev, const void *payload,
                     size_t len, enum uvfio_mig_rec_kind *kind)
{
    enum edu_rec_kind k;
    int r;

    r = edu_rec_check(edu_of(dev), payload, len, &k);
    if (!r)
        *kind = (enum uvfio_mig_rec_kind)k;
    return r;
}

static int edu_apply(struct uvfio_device *dev, const void *payload,
                     size_t len)
{
    return edu_rec_apply(edu_of(dev), payload, len);
}

_Static_assert(EDU_REC_CONFIG == (int)UVFIO_MIG_REC_CONFIG &&
               EDU_REC_STATE == (int)UVFIO_MIG_REC_STATE &&
               EDU_REC_FINAL == (int)UVFIO_MIG_REC_FINAL,
               "edu's record kinds are the helper's");

/* The first STATE always follows CONFIG (state_since_config unset): the
 * destination then has the registers and buffer early, not just CONFIG. */
static const struct uvfio_mig_records_ops edu_records_ops = {
    .magic = EDU_MIG_MAGIC,
    .version = EDU_MIG_VERSION,
    .final_len = edu_final_len,
    .build = edu_build,
    .check = edu_check,
    .apply = edu_apply,
};

void edu_mig_init(struct edu_mig *m)
{
    uvfio_mig_records_init(&m->rec, &edu_records_ops);
}

/* ---- the stream ops: the core's helper --------------------------------------- */

static ssize_t edu_save_read(struct uvfio_device *dev, void *buf, size_t len)
{
    return uvfio_mig_records_save_read(rec_of(dev), dev, buf, len);
}

static int edu_precopy_info(struct uvfio_device *dev, uint64_t *initial_bytes,
                            uint64_t *dirty_bytes)
{
    return uvfio_mig_records_precopy_info(rec_of(dev), dev, initial_bytes,
                                          dirty_bytes);
}

static int edu_data_size(struct uvfio_device *dev, uint64_t *len)
{
    return uvfio_mig_records_data_size(rec_of(dev), dev, len);
}

static int edu_resume_write(struct uvfio_device *dev, const void *buf,
                            size_t len)
{
    return uvfio_mig_records_resume_write(rec_of(dev), dev, buf, len);
}

/* ---- arcs ------------------------------------------------------------------ */

static bool state_holds(enum uvfio_mig_state s)
{
    return s != UVFIO_MIG_STATE_RUNNING && s != UVFIO_MIG_STATE_PRE_COPY;
}

static int edu_arc(struct uvfio_device *dev, enum uvfio_mig_state from,
                   enum uvfio_mig_state to)
{
    struct edu *e = edu_of(dev);
    bool hold = state_holds(to) && !e->held;
    int r;

    if (hold)
        edu_hold(e, true);
    r = uvfio_mig_records_arc(&e->mig.rec, dev, from, to);
    if (r) {
        if (hold)
            edu_hold(e, false);
        return r;
    }
    if (!state_holds(to) && e->held)
        edu_hold(e, false);
    return 0;
}

static void edu_stream_abort(struct uvfio_device *dev)
{
    uvfio_mig_records_clear(rec_of(dev));
}

/* DEVICE_RESET: the core is back in RUNNING, so the device runs again. */
static void edu_mig_reset(struct uvfio_device *dev)
{
    struct edu *e = edu_of(dev);

    edu_stream_abort(dev);
    edu_hold(e, false);
}

void edu_mig_clear(struct edu_mig *m)
{
    uvfio_mig_records_clear(&m->rec);
}

const struct uvfio_migration_ops edu_mig_ops = {
    .arc = edu_arc,
    .save_read = edu_save_read,
    .resume_write = edu_resume_write,
    .get_data_size = edu_data_size,
    .precopy_info = edu_precopy_info,
    .stream_abort = edu_stream_abort,
    .reset = edu_mig_reset,
};
