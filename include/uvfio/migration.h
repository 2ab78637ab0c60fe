/* SPDX-License-Identifier: MIT */
/*
 * uvfio/migration.h - migration v2 for drivers, and the VMM side of it.
 *
 * Driver side.  A driver that can migrate fills in a uvfio_migration_ops
 * and names it in uvfio_device_config.mig_ops together with the flags it
 * supports (UVFIO_MIGRATION_STOP_COPY is required, P2P and PRE_COPY are
 * optional).  Like a kernel VFIO variant driver, it implements only the
 * primitive arcs of the state machine (docs/migration.md lists them per
 * flag set); the core walks every other transition a client asks for along
 * the kernel's route, one arc at a time, opens, continues and ends the data
 * streams as the arcs say, answers the DEVICE_FEATURE requests and keeps the
 * precopy bookkeeping.  All callbacks run with the device's migration lock
 * held, on the server's dispatch thread.
 *
 * VMM side.  The uvfio_client_mig_ calls drive a device's migration over
 * a client connection (uvfio/client.h).
 *
 * Errors are negative errno values throughout.
 */
#ifndef UVFIO_MIGRATION_H
#define UVFIO_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uvfio/abi.h>
#include <uvfio/device.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * uvfio's private DEVICE_FEATURE for VFIO_MIG_GET_PRECOPY_INFO, which the
 * kernel has as an ioctl on the data fd and vfio-user has not at all.  GET
 * only, payload struct uvfio_mig_precopy_info.  Answered only to a client
 * that negotiated the "precopy_info" extension (docs/protocol-extensions.md);
 * any other client gets what an unknown feature gets.
 */
#define UVFIO_FEATURE_PRECOPY_INFO      0x7f01u

struct uvfio_mig_precopy_info {
    uint64_t initial_bytes;     /* initial image still to read; only falls */
    uint64_t dirty_bytes;       /* changed since read; may rise and fall */
};

/* ---- driver side ------------------------------------------------------- */

struct uvfio_migration_ops {
    /*
     * Perform one primitive arc, from the current state `from` to `to`.
     * Return 0 once the device is fully in `to`.  On failure return
     * -errno: the device stays in `from`, unless the callback also called
     * uvfio_mig_set_error(), which says the device could not get back and
     * puts it in ERROR (only a device reset leaves ERROR).
     *
     * The arcs that open a stream (RUNNING->PRE_COPY, RUNNING_P2P->
     * PRE_COPY_P2P, STOP->STOP_COPY, STOP->RESUMING) should prepare it;
     * RESUMING->STOP must validate the whole image received and refuse
     * (-EINVAL or similar) an incomplete or corrupt one without applying
     * any of it.  Required.
     */
    int (*arc)(struct uvfio_device *dev, enum uvfio_mig_state from,
               enum uvfio_mig_state to);

    /*
     * Saving stream (PRE_COPY, PRE_COPY_P2P, STOP_COPY): copy up to `len`
     * bytes of the stream into buf and return how many.  0 means nothing
     * more now; in STOP_COPY it means the end of the stream, and the core
     * will not ask again.  Called only while a saving stream is open.
     * A negative return breaks the stream (further reads get -ENODEV).
     * Required.
     */
    ssize_t (*save_read)(struct uvfio_device *dev, void *buf, size_t len);

    /*
     * Resuming stream (RESUMING): take all `len` bytes, in any split the
     * client chose.  Return 0 or -errno; an error breaks the stream (further
     * writes get -ENODEV and RESUMING->STOP is refused).  Early checks of a
     * header are welcome.  Required.
     */
    int (*resume_write)(struct uvfio_device *dev, const void *buf,
                        size_t len);

    /* MIG_DATA_SIZE: estimate of the bytes STOP_COPY will produce.
     * Callable in every state.  Required. */
    int (*get_data_size)(struct uvfio_device *dev,
                         uint64_t *stop_copy_length);

    /*
     * Precopy info, in PRE_COPY and PRE_COPY_P2P only.  The core never lets
     * a client see initial_bytes grow within one stream (it reports the
     * smallest value seen).  Required with UVFIO_MIGRATION_PRE_COPY.
     */
    int (*precopy_info)(struct uvfio_device *dev, uint64_t *initial_bytes,
                        uint64_t *dirty_bytes);

    /*
     * A stream ended without an arc: the client went away, or the device
     * was reset (then reset() below follows).  Drop what the stream holds.
     * Optional.
     */
    void (*stream_abort)(struct uvfio_device *dev);

    /*
     * The device was reset: the core has already forced the migration
     * state to RUNNING (leaving ERROR if it was there).  Leave any stopped
     * or P2P-quiesced mode.  Optional.
     */
    void (*reset)(struct uvfio_device *dev);
};

/*
 * From inside ops->arc only: the arc broke the device; it goes to ERROR
 * whatever the arc returns (a 0 return is turned into -EIO).  Calls from
 * anywhere else are ignored with a warning: a device must never change its
 * migration state on its own.
 */
UVFIO_API void uvfio_mig_set_error(struct uvfio_device *dev);

/* The device's current migration state, UVFIO_MIG_STATE_ERROR (0) for a
 * device without migration. */
UVFIO_API enum uvfio_mig_state uvfio_mig_state(struct uvfio_device *dev);

/* ---- optional helper: a framed state image ----------------------------- */

/*
 * For drivers whose state is one blob.  Saving: uvfio_mig_image_save()
 * frames the blob (uvfio header with the driver's magic and version, the
 * length and a CRC-32 of the payload) and save_read() hands out
 * uvfio_mig_image_read().  Resuming: uvfio_mig_image_load_begin() on
 * STOP->RESUMING, uvfio_mig_image_write() from resume_write() (checks the
 * header as soon as it is complete and refuses overruns), and
 * uvfio_mig_image_load_end() in the RESUMING->STOP arc, which refuses a
 * truncated, overlong or corrupted image before the driver applies any of
 * it.  The fields are the helper's own.
 */
struct uvfio_mig_image {
    uint8_t *buf_;
    size_t len_;                /* bytes in buf_ */
    size_t pos_;                /* saving: bytes handed out */
    size_t max_;                /* loading: largest payload accepted */
    uint64_t magic_;
    uint32_t version_;
    uint32_t loaded_version_;
    int err_;                   /* loading: sticky error */
    bool loading_;
};

/* Bytes of the header that precedes the payload. */
#define UVFIO_MIG_IMAGE_HDR_SIZE 32u

/* Framed size of a payload of `len` bytes (for get_data_size). */
UVFIO_API uint64_t uvfio_mig_image_size(size_t len);

/* Start a saving image holding a copy of state[0..len). */
UVFIO_API int uvfio_mig_image_save(struct uvfio_mig_image *img, uint64_t magic,
                                   uint32_t version, const void *state,
                                   size_t len);
/* Next bytes of a saving image; 0 at its end. */
UVFIO_API ssize_t uvfio_mig_image_read(struct uvfio_mig_image *img, void *buf,
                                       size_t len);
/* Bytes of a saving image not yet read. */
UVFIO_API size_t uvfio_mig_image_remaining(const struct uvfio_mig_image *img);

/* Start receiving an image of this magic, of version <= `version`, whose
 * payload is at most max_len bytes. */
UVFIO_API int uvfio_mig_image_load_begin(struct uvfio_mig_image *img,
                                         uint64_t magic, uint32_t version,
                                         size_t max_len);
/* Append received bytes: -EINVAL for a header that is not ours (magic,
 * version, length), -EFBIG past the announced length; errors are sticky. */
UVFIO_API int uvfio_mig_image_write(struct uvfio_mig_image *img,
                                    const void *buf, size_t len);
/* Bytes still missing before the image is complete (the rest of the
 * header, then the rest of the payload); 0 once complete.  For drivers
 * that send several images in one stream. */
UVFIO_API size_t uvfio_mig_image_needed(const struct uvfio_mig_image *img);
/* The image is complete: on success *state and *len give the verified
 * payload (valid until uvfio_mig_image_clear) and *version at its version.
 * -EINVAL when truncated, -EBADMSG when the CRC does not match, or the
 * sticky error of a write. */
UVFIO_API int uvfio_mig_image_load_end(struct uvfio_mig_image *img,
                                       const void **state, size_t *len,
                                       uint32_t *version);
/* Free the image; safe on a zeroed or already cleared one. */
UVFIO_API void uvfio_mig_image_clear(struct uvfio_mig_image *img);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of buf, continuing from `crc`
 * (0 to start). */
UVFIO_API uint32_t uvfio_crc32(uint32_t crc, const void *buf, size_t len);

/* ---- optional helper: a stream of framed records ------------------------ */

/*
 * Added for the "records" helper (docs/migration.md, "A stream of
 * records"): the record stream that uvfio-serial and uvfio-edu both
 * implemented, once, in the core.  The driver says what its records hold;
 * the helper runs the streams.
 *
 * A stream is [CONFIG STATE*] FINAL, each record one uvfio_mig_image with
 * the driver's magic and version:
 *   CONFIG  cut on RUNNING(_P2P)->PRE_COPY(_P2P): the initial precopy data,
 *           so a destination that cannot take the device says so early;
 *   STATE   the device's dynamic state, handed out in PRE_COPY whenever it
 *           differs from the last STATE handed out: the dirty data;
 *   FINAL   cut on entering STOP_COPY, once the device is quiet: the only
 *           record applied.  A record half read when STOP_COPY comes is
 *           finished first, since the client already has part of it.
 * The destination judges every record as soon as it is complete (frame,
 * CRC, the driver's check, then the order: CONFIG only first, STATE only
 * after CONFIG, nothing after FINAL), keeps FINAL, and on RESUMING->STOP
 * applies it whole or refuses without calling the driver.
 */
enum uvfio_mig_rec_kind {
    UVFIO_MIG_REC_CONFIG = 1,
    UVFIO_MIG_REC_STATE = 2,
    UVFIO_MIG_REC_FINAL = 3,
};

struct uvfio_mig_records_ops {
    uint64_t magic;             /* of every record's image */
    uint32_t version;           /* written; older ones are accepted */
    /*
     * false: the first STATE of a precopy stream always follows CONFIG.
     * true: CONFIG counts as a STATE cut at the same moment, so a STATE
     * follows only once the device changed since.
     */
    bool state_since_config;

    /* Payload bytes of this device's FINAL record: the largest record
     * accepted and what MIG_DATA_SIZE announces.  Required. */
    size_t (*final_len)(struct uvfio_device *dev);
    /* The payload of a record of `kind` describing the device now, in a
     * malloc'd buffer that becomes the helper's.  Required. */
    int (*build)(struct uvfio_device *dev, enum uvfio_mig_rec_kind kind,
                 void **payload, size_t *len);
    /* Judge a received payload whole (layout, sizes, legal values), say
     * which kind it is, and change nothing: 0 or -errno.  Required. */
    int (*check)(struct uvfio_device *dev, const void *payload, size_t len,
                 enum uvfio_mig_rec_kind *kind);
    /* Install a FINAL payload check() accepted, all or nothing: on error
     * the device must be as it was.  Required. */
    int (*apply)(struct uvfio_device *dev, const void *payload, size_t len);
};

/* Zero it, or uvfio_mig_records_init(); the fields are the helper's own. */
struct uvfio_mig_records {
    const struct uvfio_mig_records_ops *ops_;
    /* saving */
    struct uvfio_mig_image out_;        /* the record being read */
    struct uvfio_mig_image next_;       /* FINAL, behind a half-read one */
    uint8_t *sent_;                     /* the last STATE handed out */
    size_t sent_len_;
    bool out_initial_;                  /* out_ is CONFIG */
    bool precopy_;                      /* STATE records may follow */
    /* resuming */
    struct uvfio_mig_image in_;         /* the record being received */
    bool in_active_;
    bool in_config_seen_;
    unsigned int in_records_;
    uint8_t *final_;                    /* FINAL's payload, checked */
    size_t final_len_;
};

UVFIO_API void uvfio_mig_records_init(struct uvfio_mig_records *r,
                                      const struct uvfio_mig_records_ops *ops);
/*
 * The stream side of one primitive arc, for the driver's ops->arc: opens,
 * continues or ends the streams as the arc says, and on RESUMING->STOP
 * applies FINAL (-EINVAL, device untouched, when the stream was not whole).
 * Quiesce the device before an arc into STOP_COPY: FINAL is cut here.
 */
UVFIO_API int uvfio_mig_records_arc(struct uvfio_mig_records *r,
                                    struct uvfio_device *dev,
                                    enum uvfio_mig_state from,
                                    enum uvfio_mig_state to);
/* For ops->save_read, ops->precopy_info, ops->get_data_size and
 * ops->resume_write. */
UVFIO_API ssize_t uvfio_mig_records_save_read(struct uvfio_mig_records *r,
                                              struct uvfio_device *dev,
                                              void *buf, size_t len);
UVFIO_API int uvfio_mig_records_precopy_info(struct uvfio_mig_records *r,
                                             struct uvfio_device *dev,
                                             uint64_t *initial_bytes,
                                             uint64_t *dirty_bytes);
UVFIO_API int uvfio_mig_records_data_size(struct uvfio_mig_records *r,
                                          struct uvfio_device *dev,
                                          uint64_t *stop_copy_length);
UVFIO_API int uvfio_mig_records_resume_write(struct uvfio_mig_records *r,
                                             struct uvfio_device *dev,
                                             const void *buf, size_t len);
/* Drop both streams (ops->stream_abort, ops->reset, the device's end);
 * safe on a zeroed or already cleared helper.  ops_ stays. */
UVFIO_API void uvfio_mig_records_clear(struct uvfio_mig_records *r);

/* ---- VMM side ---------------------------------------------------------- */

struct uvfio_client;

/* MIGRATION feature: the device's UVFIO_MIGRATION_* flags; -ENOTTY when
 * the device cannot migrate. */
UVFIO_API int uvfio_client_mig_get_flags(struct uvfio_client *c,
                                         uint64_t *flags);
/* MIG_DEVICE_STATE. */
UVFIO_API int uvfio_client_mig_get_state(struct uvfio_client *c,
                                         enum uvfio_mig_state *state);
/* The whole transition completes before this returns.  On failure the
 * device may be anywhere on the route or in ERROR: get the state. */
UVFIO_API int uvfio_client_mig_set_state(struct uvfio_client *c,
                                         enum uvfio_mig_state state);
/* MIG_DATA_SIZE. */
UVFIO_API int uvfio_client_mig_data_size(struct uvfio_client *c,
                                         uint64_t *stop_copy_length);
/* Precopy info: -ENOTSUP unless the connection negotiated the precopy_info
 * extension (uvfio_client_opts.precopy_info); -EINVAL outside PRE_COPY and
 * PRE_COPY_P2P. */
UVFIO_API int uvfio_client_mig_precopy_info(struct uvfio_client *c,
                                            struct uvfio_mig_precopy_info *out);
/*
 * Read the saving stream: any len, split into MIG_DATA_READs of at most
 * max_data_xfer_size.  Returns the bytes read; fewer than len means no more
 * data now (PRE_COPY*) or the end of the stream (STOP_COPY).
 */
UVFIO_API ssize_t uvfio_client_mig_read(struct uvfio_client *c, void *buf,
                                        size_t len);
/* Write the resuming stream: any len, split as above.  Returns 0. */
UVFIO_API int uvfio_client_mig_write(struct uvfio_client *c, const void *buf,
                                     size_t len);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_MIGRATION_H */
