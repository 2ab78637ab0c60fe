/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/serial_rig.h - uvfio-serial servers for fault injection,
 * and the client-side eye that judges them.
 *
 * Each server runs on FIFO chardevs (PATH.in / PATH.out) whose host ends
 * the test holds, so bytes can be put on the UART's line.  A device's
 * identity for a test is a `life`: the registers a guest programmed, the
 * received bytes still waiting in its RX FIFO, and the STOP_COPY image
 * all of that makes - which a migration must carry byte for byte, and a
 * recovery must leave untouched.
 */
#ifndef UVFIO_TESTS_FAULTS_SERIAL_RIG_H
#define UVFIO_TESTS_FAULTS_SERIAL_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#include "proc.h"

struct server {
    unsigned int id;
    char sock[128];
    char line[128];             /* the chardev: line.in and line.out */
    char log[128];
    int in_fd, out_fd;          /* our ends of the line */
    struct proc proc;
    int fd_baseline;            /* its open fds with no client; -1 unknown */
    bool doomed;                /* a fault plan is to SIGKILL it */
};

/* The device as the guest left it. */
struct life {
    uint8_t rx[16];             /* received, not yet read by the guest */
    size_t rx_len;
    uint8_t *image;             /* its STOP_COPY image */
    size_t image_len;
};

int server_start(struct server *s, const char *dir, const char *bin,
                 unsigned int id);
/* SIGTERM: it must exit 0 (and leak nothing: LeakSanitizer or valgrind
 * turn a leak into another status).  Cleans up its files. */
int server_stop(struct server *s);
/* After a SIGKILL: reap it and clean up. */
void server_reap_killed(struct server *s);
/* Until its descriptors are back to what it has with no client (the
 * first call records that).  0, or -EMFILE with *now what it has. */
int server_fds_settled(struct server *s, int timeout_ms, int *now);

/* A client for checks; NULL on failure. */
struct uvfio_client *rig_connect(const char *sock);
int rig_state(const char *sock, enum uvfio_mig_state *st);
/* The device's image, read through STOP_COPY from RUNNING and back to
 * RUNNING - nothing of the device changes on the way. */
int rig_snapshot(const char *sock, uint8_t **img, size_t *len);

/*
 * Play the guest at `s`: read every byte waiting in the RX FIFO (they
 * must be exactly life->rx), program new register values drawn from
 * `seed`, put a few new bytes on the line and wait until the UART holds
 * them; then take life's new image.  0, or -EBADMSG when the received
 * bytes were not the ones expected (details on stderr).
 */
int rig_personalize(struct server *s, struct life *life, uint32_t seed);
void life_clear(struct life *life);

#endif /* UVFIO_TESTS_FAULTS_SERIAL_RIG_H */
