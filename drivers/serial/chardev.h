/* SPDX-License-Identifier: MIT */
/*
 * serial/chardev.h - where the UART's line goes: the host end of the cable.
 *
 *   stdio        our stdin/stdout (stdin a terminal: raw, ^C still works)
 *   null         nothing: output dropped, no input
 *   file:PATH    output to PATH (truncated), no input
 *   pipe:PATH    FIFOs PATH.in (to the guest) and PATH.out (from it), or
 *                the one FIFO PATH both ways, as QEMU's pipe chardev
 *   pty          a new pseudo-terminal; its name is printed on stderr
 *
 * Both directions are non-blocking: a read or write that cannot proceed
 * says so, and the caller waits for the fd (chardev_in_fd/out_fd) in its
 * event loop.  A backend that breaks for good on output (reader gone)
 * turns into a sink, as a real line with nothing attached would.
 */
#ifndef UVFIO_SERIAL_CHARDEV_H
#define UVFIO_SERIAL_CHARDEV_H

#include <stddef.h>
#include <sys/types.h>

struct chardev;

/* -EINVAL for a spec that names no backend, -errno from opening it. */
int chardev_open(const char *spec, struct chardev **out);
/* Restores what it changed (terminal mode, O_NONBLOCK on stdio). */
void chardev_close(struct chardev *cd);

/* The fd to wait on for input / for room to write; -1 when none. */
int chardev_in_fd(const struct chardev *cd);
int chardev_out_fd(const struct chardev *cd);

/* > 0 bytes read, 0 end of input (no more will come), -EAGAIN nothing now,
 * or another -errno (input is then over too). */
ssize_t chardev_read(struct chardev *cd, void *buf, size_t len);
/* Bytes taken: 0 when the backend pushes back.  Never fails: a broken
 * output is dropped from then on. */
size_t chardev_write(struct chardev *cd, const void *buf, size_t len);

/* The slave's path for a pty, NULL otherwise. */
const char *chardev_pty_name(const struct chardev *cd);

#endif /* UVFIO_SERIAL_CHARDEV_H */
