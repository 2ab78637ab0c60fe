/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fz_util.h - what every harness needs besides its target: quiet but
 * exercised logging, a hard failure that libFuzzer records as a crash, fd
 * accounting, and the stand-in fds a fuzzed message may carry.
 */
#ifndef UVFIO_FUZZ_FZ_UTIL_H
#define UVFIO_FUZZ_FZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Route the library's log to a sink at DEBUG level: every message is still
 * formatted (a bad format argument is a finding), none is printed unless
 * FZ_LOG is set in the environment. */
void fz_quiet_logs(void);

/* An invariant of the harness or of the library broke: report and abort,
 * which libFuzzer saves as a crash input. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                   noreturn));

/* Open fds in this process (/proc/self/fd), or -1 if it cannot be read. */
int fz_fd_count(void);

/* Kinds of fd a fuzzed message may carry in place of the real thing. */
enum fz_stub {
    FZ_STUB_EVENTFD,
    FZ_STUB_MEMFD,      /* FZ_STUB_MEMFD_SIZE bytes: DMA_MAP can mmap it */
    FZ_STUB_DEVNULL,
    FZ_STUB_PIPE,       /* read end of a pipe whose write end is closed */
};
#define FZ_STUB_MEMFD_SIZE  (64u << 10)

/* A new fd of that kind (the caller closes it), or -errno. */
int fz_stub_fd(enum fz_stub kind);

/*
 * One sendmsg of `len` bytes with `nfds` fds attached to the first byte,
 * non-blocking: bytes sent (possibly fewer than len), or -errno (-EAGAIN
 * when the socket buffer is full).
 */
long fz_send(int sock, const void *buf, size_t len, const int *fds,
             size_t nfds);

#endif /* UVFIO_FUZZ_FZ_UTIL_H */
