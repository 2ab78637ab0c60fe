/* SPDX-License-Identifier: MIT */
/*
 * bench/pingdev.h - what bench/region_rw and bench/instr_driver both
 * measure: a device that is one page of plain memory, served by a uvfio
 * server, and the raw AF_UNIX ping-pong with the same message sizes as a
 * 4-byte REGION_READ that it is compared with.
 */
#ifndef UVFIO_BENCH_PINGDEV_H
#define UVFIO_BENCH_PINGDEV_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <uvfio/uvfio.h>

#define PING_REQ_BYTES      32      /* header + region_rw */
#define PING_REPLY_BYTES    36      /* header + region_rw + 4 data bytes */
#define PING_REGION_SIZE    4096

/*
 * Serve the memory-page device until SIGTERM: on a new socket at `path`,
 * or on the connected socket `fd` when path is NULL.  opts may be NULL.
 * Returns 0 or -errno; meant to be a process of its own.
 */
int ping_serve(const char *path, int fd, const struct uvfio_server_opts *opts);

/* Read exactly len bytes (0), or fail (-1).  Inline: it is inside the
 * raw ping-pong's measured loop, whose cost is the baseline. */
static inline int ping_read_full(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = read(fd, (char *)buf + got, len - got);

        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}
/* Answer every PING_REQ_BYTES request with PING_REPLY_BYTES, until EOF. */
int ping_echo(int fd);

#endif /* UVFIO_BENCH_PINGDEV_H */
