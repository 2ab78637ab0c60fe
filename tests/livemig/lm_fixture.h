/* SPDX-License-Identifier: MIT */
/*
 * tests/livemig/lm_fixture.h - what the live-migration tests share: real
 * uvfio-edu (or uvfio-serial) servers as child processes in a private
 * directory, a look at a device's migration state through a client of
 * our own, and a reproducible random source.
 *
 * The programs' paths come as the test's arguments (meson passes the
 * built targets): argv[1] uvfio-edu, argv[2] uvfio-migrate, argv[3]
 * uvfio-serial.
 */
#ifndef UVFIO_TESTS_LIVEMIG_FIXTURE_H
#define UVFIO_TESTS_LIVEMIG_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <uvfio/uvfio.h>

#include "child.h"
#include "live.h"

struct lm_server {
    struct child ch;
    char path[128];
    char log[160];
};

/* Set from main's argv; a test calls lm_args() first. */
extern const char *lm_edu_bin, *lm_migrate_bin, *lm_serial_bin;
void lm_args(int argc, char **argv);

/* A fresh private directory for sockets and logs (removed by lm_rmdir). */
void lm_mkdir(char *dir, size_t len);
void lm_rmdir(const char *dir);

/* Start the program `bin` serving on dir/name.sock, with one `extra`
 * argument if not NULL; 0 once it listens.  `valgrind`: under valgrind
 * when UVFIO_VALGRIND=1. */
int lm_server_start(struct lm_server *s, const char *bin, const char *dir,
                    const char *name, const char *extra, bool valgrind);
/* SIGTERM and wait; 0 when it exited cleanly (and valgrind, if any, found
 * nothing). */
int lm_server_stop(struct lm_server *s);

/* The device's migration state, through a connection of our own (the
 * server must be free). */
int lm_device_state(const char *path, enum uvfio_mig_state *st);

uint64_t lm_now_ms(void);

/* One end of a migration on a thread of its own, over `fd`. */
struct lm_party {
    struct live_opts o;
    int fd;
    bool source;
    struct live_result r;
    int ret;
    pthread_t th;
};

void lm_party_start(struct lm_party *e, bool source, const struct live_opts *o,
                  int fd);
/* Join it, with a bound: the test fails rather than hangs. */
int lm_party_join(struct lm_party *e, unsigned int timeout_ms);

/* Options for a small, quick migration between two device sockets. */
void lm_small_opts(struct live_opts *o, const char *src, const char *dst,
                   uint64_t size);

/* splitmix64: a seeded, reproducible stream. */
uint64_t lm_rand(uint64_t *state);
/* The run's seed: $LIVEMIG_SEED if set, else the clock; printed. */
uint64_t lm_seed(const char *test);

#endif /* UVFIO_TESTS_LIVEMIG_FIXTURE_H */
