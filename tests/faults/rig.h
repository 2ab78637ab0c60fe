/* SPDX-License-Identifier: MIT */
/*
 * tests/faults/rig.h - device servers for fault injection, and the
 * client-side eye that judges them.
 *
 * A `kind` of device (uvfio-serial, uvfio-edu) says how to start its
 * server and how to play its guest.  A device's identity for a test is a
 * `life`: what a guest programmed into it, the bytes it holds that must
 * come out again (what waits in a UART's RX FIFO, an edu DMA buffer), and
 * the STOP_COPY image all of that makes - which a migration must carry
 * byte for byte, and a recovery must leave untouched.
 */
#ifndef UVFIO_TESTS_FAULTS_RIG_H
#define UVFIO_TESTS_FAULTS_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#include "proc.h"

struct kind;

struct server {
    const struct kind *kind;
    unsigned int id;
    char sock[128];
    char log[128];
    char line[128];             /* serial: the chardev, line.in/.out */
    int in_fd, out_fd;          /* serial: our ends of the line */
    char arg[160];              /* a kind's own server argument */
    struct proc proc;
    int fd_baseline;            /* its open fds with no client; -1 unknown */
    bool doomed;                /* a fault plan is to SIGKILL it */
};

/* The device as its guest left it. */
struct life {
    uint8_t held[4096];         /* bytes it holds that must come out */
    size_t held_len;
    uint8_t *image;             /* its STOP_COPY image */
    size_t image_len;
};

struct kind {
    const char *name;
    const char *chunk[3];       /* --chunk for each campaign config */
    /* Files and arguments its server needs besides --socket-path. */
    int (*prepare)(struct server *s, char **args, int max);
    void (*cleanup)(struct server *s);
    /*
     * Play the guest: take out the bytes the device holds (they must be
     * life->held, else -EBADMSG with details on stderr), program it anew
     * from `seed` and give it new bytes to hold, recorded in life.
     */
    int (*play)(struct server *s, struct uvfio_client *c, struct life *life,
                uint32_t seed);
};

extern const struct kind kind_serial, kind_edu;

int server_start(struct server *s, const struct kind *k, const char *dir,
                 const char *bin, unsigned int id);
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
/* The kind's guest plays at `s`, then life's new image is taken. */
int rig_personalize(struct server *s, struct life *life, uint32_t seed);
void life_clear(struct life *life);
/* The device lost: a new one holds nothing yet. */
void life_forget(struct life *life);

/* xorshift32, never 0 */
uint32_t rig_rand(uint32_t *x);

#endif /* UVFIO_TESTS_FAULTS_RIG_H */
