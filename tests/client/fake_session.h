/* SPDX-License-Identifier: MIT */
/*
 * tests/client/fake_session.h - what most client tests do around the
 * fake server: check that a test closed every fd it opened, and connect a
 * client to a scripted server, then close it and collect the verdict.
 */
#ifndef TESTS_CLIENT_FAKE_SESSION_H
#define TESTS_CLIENT_FAKE_SESSION_H

#include "fake_server.h"

/* cmocka per-test setup and teardown: the fds open after a test are the
 * ones open before it. */
int fake_fds_setup(void **state);
int fake_fds_teardown(void **state);
/* A test with those two (cmocka.h before this header). */
#define FAKE_TEST(f) \
    cmocka_unit_test_setup_teardown(f, fake_fds_setup, fake_fds_teardown)

/* A client connected to a fake server running a script. */
struct fake_session {
    struct fake f;
    struct fake_steps steps;
    struct uvfio_client *c;
};

/* Start `script` with f.arg = arg; caps (NULL: the default) is what the
 * server offers, o (may be NULL) the client's options.  Asserts that the
 * client connected. */
void fake_session_script(struct fake_session *s, fake_script script,
                         void *arg, const char *caps,
                         const struct uvfio_client_opts *o);
/* The same with the table-driven script over steps v[0..n). */
void fake_session_steps(struct fake_session *s, const struct fake_step *v,
                        size_t n, const char *caps,
                        const struct uvfio_client_opts *o);
/* Close the client; assert the server's script found nothing wrong. */
void fake_session_finish(struct fake_session *s);

#endif
