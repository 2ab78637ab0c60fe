/* SPDX-License-Identifier: MIT */
/* util/log.h - the library's internal logging, see uvfio_log_set_level(). */
#ifndef UVFIO_UTIL_LOG_H
#define UVFIO_UTIL_LOG_H

#include <uvfio/uvfio.h>

void uvfio_log(enum uvfio_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool uvfio_log_enabled(enum uvfio_log_level level);

#define uvfio_debug(...) uvfio_log(UVFIO_LOG_DEBUG, __VA_ARGS__)
#define uvfio_info(...)  uvfio_log(UVFIO_LOG_INFO, __VA_ARGS__)
#define uvfio_warn(...)  uvfio_log(UVFIO_LOG_WARN, __VA_ARGS__)
#define uvfio_error(...) uvfio_log(UVFIO_LOG_ERROR, __VA_ARGS__)

#endif /* UVFIO_UTIL_LOG_H */
