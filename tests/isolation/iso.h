/* SPDX-License-Identifier: MIT */
/*
 * tests/isolation/iso.h - what the isolation tests share: a server
 * process serving many devices, well-behaved clients, a probe that keeps
 * timing another device while a client misbehaves, and a raw wire client
 * to misbehave with.  Every wait is bounded.
 */
#ifndef TESTS_ISOLATION_ISO_H
#define TESTS_ISOLATION_ISO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/client.h>

#include "proto/transport.h"
#include "proc.h"
#include "isodev.h"

/* The uvfio-test-isoserver binary (the tests' argv[1]). */
extern const char *iso_server_bin;

/* 1, or more under valgrind, which slows the server down many times:
 * every latency bound and timeout is multiplied by it. */
int iso_scale(void);
/* A test program's first call: failures and progress in one stream. */
void iso_output_init(void);
int64_t iso_now_us(void);
void iso_sleep_ms(int ms);

/* ---- the server process ------------------------------------------------- */

struct iso_server {
    struct proc proc;
    char dir[64];
    char log[128];
    unsigned int ndev;
    int idle_fds;               /* its open fds with no client connected */
};

/* Start `ndev` devices with extra arguments (NULL-terminated, may be
 * NULL); asserts it came up. */
void iso_server_start(struct iso_server *s, unsigned int ndev,
                      const char *const *extra);
/* Take the idle fd count again, once it holds still (bounded). */
void iso_server_rebaseline(struct iso_server *s);
/* SIGTERM; asserts a clean exit (and a clean valgrind log). */
void iso_server_stop(struct iso_server *s);
const char *iso_path(const struct iso_server *s, unsigned int dev);
/* Its open fds, resident memory, and log so far (free it). */
int iso_server_fds(const struct iso_server *s);
long iso_server_rss_kb(const struct iso_server *s);
char *iso_server_log(const struct iso_server *s);
/* Wait until the server has `want` fds open again; the count last seen. */
int iso_server_fds_settle(const struct iso_server *s, int want,
                          int timeout_ms);
/* Every client gone, the server is back to the fds it had idle: none
 * leaked.  (Teardown is asynchronous: waits for it, bounded.) */
void iso_server_assert_idle(const struct iso_server *s);

/* ---- well-behaved clients ---------------------------------------------- */

struct uvfio_client *iso_client(const struct iso_server *s, unsigned int dev);
/* Read the ID region and check it is device `dev`'s, whole. */
void iso_check_id(struct uvfio_client *c, unsigned int dev);
/* Program and start an engine command; returns STATUS after it. */
int iso_dma_cmd(struct uvfio_client *c, uint32_t cmd, uint64_t addr,
                uint32_t len, uint32_t seed);
int32_t iso_status(struct uvfio_client *c);
uint32_t iso_hash(struct uvfio_client *c);
/* Poll STATUS until it is not ISO_BUSY (bounded). */
int32_t iso_wait_idle(struct uvfio_client *c, int timeout_ms);

/* ---- the probe --------------------------------------------------------- */

#define ISO_PROBE_MAX 200000

/* A thread reading another device's ID region over and over, checking
 * every byte, timing every request. */
struct iso_probe {
    struct uvfio_client *c;
    unsigned int dev;
    pthread_t thread;
    atomic_bool stop;
    int64_t *lat_us;
    size_t n;
    int errors;
    char first_error[160];
};

struct iso_stats {
    size_t n;
    double p50_ms, p99_ms, max_ms;
};

void iso_probe_start(struct iso_probe *p, const struct iso_server *s,
                     unsigned int dev);
void iso_probe_stop(struct iso_probe *p, struct iso_stats *st);
/* The bounds of the isolation tests: every answer right, at least
 * min_samples of them, p99 and max below the bounds (times iso_scale). */
void iso_probe_check(const char *what, const struct iso_stats *st,
                     const struct iso_probe *p, size_t min_samples,
                     double p99_ms, double max_ms);

/* ---- the raw wire ------------------------------------------------------ */

/* Connect with a bounded blocking socket; -errno. */
int raw_connect(const char *path);
int raw_send(int fd, uint16_t id, uint16_t cmd, uint32_t flags,
             const void *payload, size_t len, const int *fds, size_t nfds);
/* The next message, whatever it is: 0, -ETIMEDOUT or -ECONNRESET. */
int raw_recv(int fd, struct uvfio_msg *m, int timeout_ms);
/* The reply to `id`, skipping (and counting) server commands - DMA
 * requests nobody answers.  0 with *m, or -errno of the transport. */
int raw_wait_reply(int fd, uint16_t id, struct uvfio_msg *m, int timeout_ms,
                   unsigned int *skipped);
/* Call and return the reply's errno as -errno (0: success); *m (if not
 * NULL) gets the reply. */
int raw_call(int fd, uint16_t cmd, const void *payload, size_t len,
             const int *fds, size_t nfds, struct uvfio_msg *m);
/* VERSION 0.2 with the usual capabilities; the reply's -errno. */
int raw_hello(int fd);
/* The server closed the connection: EOF within timeout_ms (what is
 * still buffered is read and dropped). */
bool raw_closed_within(int fd, int timeout_ms);

#endif /* TESTS_ISOLATION_ISO_H */
