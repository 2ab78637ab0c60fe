/* SPDX-License-Identifier: MIT */
/*
 * util/log.c - process-wide logging and error strings.
 *
 * The level is an atomic so that any thread (a driver's DMA worker, the
 * server loop) may log without a lock; the handler is set once at start-up.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static _Atomic int log_level = UVFIO_LOG_WARN;
static uvfio_log_fn log_handler;
static void *log_opaque;

UVFIO_API void uvfio_log_set_level(enum uvfio_log_level level)
{
    atomic_store(&log_level, (int)level);
}

UVFIO_API void uvfio_log_set_handler(uvfio_log_fn fn, void *opaque)
{
    log_handler = fn;
    log_opaque = opaque;
}

bool uvfio_log_enabled(enum uvfio_log_level level)
{
    return (int)level >= atomic_load(&log_level);
}

void uvfio_log(enum uvfio_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!uvfio_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_handler)
        log_handler(level, msg, log_opaque);
    else
        fprintf(stderr, "uvfio: %s\n", msg);
}

UVFIO_API const char *uvfio_strerror(int err)
{
    static _Thread_local char buf[128];

    if (err < 0)
        err = -err;
    /* GNU strerror_r may return a static string instead of filling buf. */
    return strerror_r(err, buf, sizeof(buf));
}

UVFIO_API const char *uvfio_version_string(void)
{
    return "0.1.0";
}
