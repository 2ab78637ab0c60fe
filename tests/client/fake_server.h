/* SPDX-License-Identifier: MIT */
/*
 * tests/client/fake_server.h - a scripted vfio-user server for client tests.
 *
 * A thread owns one end of a socketpair and speaks raw wire with proto's
 * blocking uvfio_msg_recv/uvfio_msg_send: the VERSION handshake (unless
 * told not to), then a test's script.  Scripts never call cmocka (its
 * asserts longjmp, which must not happen on another thread): they record
 * failures with FAKE_CHECK, and the test asserts on them after joining.
 */
#ifndef UVFIO_TESTS_CLIENT_FAKE_SERVER_H
#define UVFIO_TESTS_CLIENT_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/client.h>

#include "proto/transport.h"
#include "proto/version.h"
#include "proto/wire.h"

#define FAKE_DEFAULT_CAPS \
    "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576," \
    "\"write_multiple\":true}}"

struct fake;
typedef void (*fake_script)(struct fake *f);

struct fake {
    int sock;                   /* the server's end */
    pthread_t thread;
    fake_script script;
    void *arg;                  /* for the script */
    const char *caps_json;      /* VERSION reply JSON (NULL: none) */
    bool no_handshake;          /* the script does VERSION itself */
    uint16_t major, minor;      /* VERSION reply numbers [0.0] */
    int recv_timeout_ms;        /* per message [3000] */

    /* Filled in by the thread. */
    struct uvfio_wire_version offer_version;
    struct uvfio_caps offer;    /* the client's VERSION capabilities */
    int offer_parsed;           /* uvfio_caps_parse's result on them */
    int failures;
    char why[512];
};

/* Zero-initialised defaults for a test. */
void fake_init(struct fake *f, fake_script script);
/* Start the server thread; *client_fd is the client's end. */
void fake_start(struct fake *f, int *client_fd);
/* Start and connect a client with `opts`: returns connect_fd's result. */
int fake_connect(struct fake *f, const struct uvfio_client_opts *opts,
                 struct uvfio_client **c);
/* Wait for the script to finish; returns the number of failures (and
 * prints why). */
int fake_join(struct fake *f);

/* ---- for scripts -------------------------------------------------------- */

void fake_fail(struct fake *f, int line, const char *what);
#define FAKE_CHECK(f, cond)                                                \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fake_fail((f), __LINE__, #cond);                               \
            return;                                                        \
        }                                                                  \
    } while (0)

/* Receive one message (bounded by recv_timeout_ms); false on failure. */
bool fake_recv(struct fake *f, struct uvfio_msg *m);
/* Receive a command `cmd`; false (and a failure) if it is something else. */
bool fake_expect(struct fake *f, uint16_t cmd, struct uvfio_msg *m);
/* True if the client closes its end within `ms`. */
bool fake_wait_eof(struct fake *f, int ms);
/* True if no message arrives within `ms`. */
bool fake_quiet(struct fake *f, int ms);

/* Replies to `req` (same msg_id and cmd). */
int fake_reply(struct fake *f, const struct uvfio_msg *req, const void *p,
               size_t len, const int *fds, size_t nfds);
int fake_reply2(struct fake *f, const struct uvfio_msg *req, const void *a,
                size_t alen, const void *b, size_t blen);
int fake_error(struct fake *f, const struct uvfio_msg *req, uint32_t err);
/* Any message, header as given. */
int fake_send(struct fake *f, struct uvfio_wire_hdr *hdr, const void *p,
              size_t len, const int *fds, size_t nfds);

/* The VERSION exchange with f->caps_json. */
bool fake_handshake(struct fake *f);

/*
 * Table-driven scripts: f->arg points to a struct fake_steps; each step
 * receives one command, checks its header and payload bytes, and answers.
 */
struct fake_step {
    uint16_t cmd;
    bool posted;                /* must carry NO_REPLY; nothing is sent */
    const void *req;            /* expected payload (NULL: not checked) */
    size_t req_len;
    size_t req_nfds;            /* fds that must come with it */
    int *keep_fds;              /* keep them here (else they are closed) */
    const void *rep;            /* reply payload */
    size_t rep_len;
    const int *rep_fds;
    size_t rep_nfds;
    uint32_t err;               /* non-zero: ERROR reply with this errno */
    bool error_reply;           /* ERROR reply even with err == 0 */
};
struct fake_steps {
    const struct fake_step *v;
    size_t n;
};
void fake_script_steps(struct fake *f);

/* ---- for tests ---------------------------------------------------------- */

/* Open fds of this process (for leak checks). */
int fake_count_fds(void);
/* Milliseconds on the monotonic clock. */
int64_t fake_now_ms(void);

#endif /* UVFIO_TESTS_CLIENT_FAKE_SERVER_H */
