// SPDX-License-Identifier: MIT
/*
 * tests/client/fake_session.c - see fake_session.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fake_session.h"

static int fds_before;

int fake_fds_setup(void **state)
{
    (void)state;
    fds_before = fake_count_fds();
    return 0;
}

int fake_fds_teardown(void **state)
{
    (void)state;
    assert_int_equal(fake_count_fds(), fds_before);
    return 0;
}

void fake_session_script(struct fake_session *s, fake_script script,
                         void *arg, const char *caps,
                         const struct uvfio_client_opts *o)
{
    fake_init(&s->f, script);
    if (caps)
        s->f.caps_json = caps;
    s->f.arg = arg;
    assert_int_equal(fake_connect(&s->f, o, &s->c), 0);
}

void fake_session_steps(struct fake_session *s, const struct fake_step *v,
                        size_t n, const char *caps,
                        const struct uvfio_client_opts *o)
{
    s->steps.v = v;
    s->steps.n = n;
    fake_session_script(s, fake_script_steps, &s->steps, caps, o);
}

void fake_session_finish(struct fake_session *s)
{
    uvfio_client_close(s->c);
    assert_int_equal(fake_join(&s->f), 0);
}
