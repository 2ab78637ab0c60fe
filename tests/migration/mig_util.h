/* SPDX-License-Identifier: MIT */
/*
 * tests/migration/mig_util.h - driving a core device's migration the way
 * the server does: through uvfio_core_feature and uvfio_core_mig_data_*,
 * with wire-format requests, checking the shape of every reply.
 */
#ifndef UVFIO_TEST_MIG_UTIL_H
#define UVFIO_TEST_MIG_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include <uvfio/migration.h>

#include "core/core.h"

/* Attach a stand-in client with these extensions and max_data_xfer. */
int mt_attach(struct uvfio_device *dev, uint32_t extensions,
              uint64_t max_xfer);

/* Raw DEVICE_FEATURE; the reply is left in *rep (caller frees). */
int mt_feature(struct uvfio_device *dev, uint32_t argsz, uint32_t flags,
               const void *payload, size_t len, struct uvfio_buf *rep);

int mt_set_state(struct uvfio_device *dev, uint32_t state);
/* The state, or -errno. */
int mt_get_state(struct uvfio_device *dev);
int mt_get_flags(struct uvfio_device *dev, uint64_t *flags);
int mt_data_size(struct uvfio_device *dev, uint64_t *len);
int mt_precopy_info(struct uvfio_device *dev, uint64_t *initial,
                    uint64_t *dirty);

/* One MIG_DATA_READ of `size` bytes: bytes returned or -errno. */
ssize_t mt_read(struct uvfio_device *dev, void *buf, uint32_t size);
/* One MIG_DATA_WRITE. */
int mt_write(struct uvfio_device *dev, const void *buf, uint32_t size);

#endif /* UVFIO_TEST_MIG_UTIL_H */
