/* SPDX-License-Identifier: MIT */
/*
 * uvfio/uvfio.h - everything: the driver API, the PCI model, migration,
 * the server and the client library, plus the shared utilities below.
 */
#ifndef UVFIO_UVFIO_H
#define UVFIO_UVFIO_H

#include <uvfio/abi.h>
#include <uvfio/device.h>
#include <uvfio/pci.h>
#include <uvfio/migration.h>
#include <uvfio/dirty.h>
#include <uvfio/server.h>
#include <uvfio/client.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UVFIO_VERSION_MAJOR 0
#define UVFIO_VERSION_MINOR 1
#define UVFIO_VERSION_PATCH 0

UVFIO_API const char *uvfio_version_string(void);

/* strerror for uvfio's negative errno values (thread-safe). */
UVFIO_API const char *uvfio_strerror(int err);

/* Logging: messages at or above the level go to the handler (default:
 * stderr, "uvfio: <message>").  The level is process-wide. */
enum uvfio_log_level {
    UVFIO_LOG_DEBUG = 0,
    UVFIO_LOG_INFO = 1,
    UVFIO_LOG_WARN = 2,
    UVFIO_LOG_ERROR = 3,
    UVFIO_LOG_NONE = 4,
};
typedef void (*uvfio_log_fn)(enum uvfio_log_level level, const char *msg,
                             void *opaque);
UVFIO_API void uvfio_log_set_level(enum uvfio_log_level level);
UVFIO_API void uvfio_log_set_handler(uvfio_log_fn fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_UVFIO_H */
