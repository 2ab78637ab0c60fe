// SPDX-License-Identifier: MIT
/*
 * tests/livemig/test_net.c - the TCP ends of a migration between hosts:
 * what --to and --incoming accept, a connection made whichever end starts
 * first, and bounded waits when nobody comes or nobody listens.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netaddr.h"

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_parse(void **state)
{
    static const char *const bad[] = {
        "", "tcp:", "tcp:host", "tcp:host:", "tcp:host:0", "tcp:host:65536",
        "tcp:host:12x", "tcp:host:-1", "udp:host:1", "host:1", "tcp:a:b:1",
        "tcp:[::1:1", "tcp:[]:1", "tcp:[::1]1", "tcp:[::1]:", "tcp:host: 1",
    };
    struct netaddr a;

    (void)state;
    assert_int_equal(netaddr_parse("tcp:10.0.0.2:4444", &a), 0);
    assert_string_equal(a.host, "10.0.0.2");
    assert_string_equal(a.port, "4444");
    assert_int_equal(netaddr_parse("tcp:[fd00::2]:1", &a), 0);
    assert_string_equal(a.host, "fd00::2");
    assert_string_equal(a.port, "1");
    assert_int_equal(netaddr_parse("tcp::65535", &a), 0);   /* any address */
    assert_string_equal(a.host, "");
    assert_int_equal(netaddr_parse("tcp:example.org:80", &a), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (netaddr_parse(bad[i], &a) != -EINVAL)
            fail_msg("'%s' accepted", bad[i]);
}

struct acceptor {
    struct netaddr a;
    int fd;
};

static void *accept_main(void *arg)
{
    struct timespec late = { 0, 200 * 1000000L };
    struct acceptor *ac = arg;

    nanosleep(&late, NULL);
    ac->fd = netaddr_accept_one(&ac->a, 5000);
    return NULL;
}

/* The source may start first: it retries until the destination listens. */
static void test_connect_before_listen(void **state)
{
    struct acceptor ac;
    struct netaddr a;
    char spec[64];
    pthread_t th;
    int fd;

    (void)state;
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u", free_port());
    assert_int_equal(netaddr_parse(spec, &a), 0);
    ac.a = a;
    /* the listener comes 200 ms late */
    assert_int_equal(pthread_create(&th, NULL, accept_main, &ac), 0);
    fd = netaddr_connect(&a, 5000);
    pthread_join(th, NULL);
    assert_true(fd >= 0);
    assert_true(ac.fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    {
        char c = 0;

        assert_int_equal(read(ac.fd, &c, 1), 1);
        assert_int_equal(c, 'x');
    }
    close(fd);
    close(ac.fd);
}

static void test_nobody_listens(void **state)
{
    struct netaddr a;
    char spec[64];
    uint64_t t0;

    (void)state;
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u", free_port());
    assert_int_equal(netaddr_parse(spec, &a), 0);
    t0 = now_ms();
    assert_int_equal(netaddr_connect(&a, 300), -ECONNREFUSED);
    assert_in_range(now_ms() - t0, 250, 3000);
    /* --incoming's address is not something to connect to */
    assert_int_equal(netaddr_parse("tcp::1", &a), 0);
    assert_int_equal(netaddr_connect(&a, 100), -EINVAL);
}

static void test_nobody_comes(void **state)
{
    struct netaddr a;
    char spec[64];
    uint64_t t0;

    (void)state;
    snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u", free_port());
    assert_int_equal(netaddr_parse(spec, &a), 0);
    t0 = now_ms();
    assert_int_equal(netaddr_accept_one(&a, 200), -ETIMEDOUT);
    assert_in_range(now_ms() - t0, 150, 3000);
    /* an address this host does not have */
    assert_int_equal(netaddr_parse("tcp:192.0.2.1:4444", &a), 0);
    assert_true(netaddr_accept_one(&a, 200) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_connect_before_listen),
        cmocka_unit_test(test_nobody_listens),
        cmocka_unit_test(test_nobody_comes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
