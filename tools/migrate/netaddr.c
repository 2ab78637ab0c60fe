// SPDX-License-Identifier: MIT
/*
 * migrate/netaddr.c - TCP for the migration stream (netaddr.h).
 *
 * The source retries a refused connection until its timeout: the two ends
 * are usually started together, and the destination needs a moment to
 * listen.  TCP_NODELAY keeps the small control records (ROUND, LOADED,
 * RESULT) off Nagle's timer; the page batches are large anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netaddr.h"

#define RETRY_MS        50

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_port(const char *s, struct netaddr *a)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || !v || v > 65535)
        return -EINVAL;
    snprintf(a->port, sizeof(a->port), "%lu", v);
    return 0;
}

static int set_host(struct netaddr *a, const char *s, size_t len)
{
    if (len >= sizeof(a->host))
        return -EINVAL;
    memcpy(a->host, s, len);
    a->host[len] = '\0';
    return 0;
}

int netaddr_parse(const char *spec, struct netaddr *a)
{
    const char *s, *colon;

    memset(a, 0, sizeof(*a));
    if (strncmp(spec, "tcp:", 4))
        return -EINVAL;
    s = spec + 4;
    if (*s == '[') {
        colon = strchr(s, ']');
        if (!colon || colon[1] != ':' || colon == s + 1 ||
            set_host(a, s + 1, (size_t)(colon - s - 1)))
            return -EINVAL;
        return parse_port(colon + 2, a);
    }
    colon = strrchr(s, ':');
    if (!colon || memchr(s, ':', (size_t)(colon - s)) ||
        set_host(a, s, (size_t)(colon - s)))
        return -EINVAL;
    return parse_port(colon + 1, a);
}

static int resolve(const struct netaddr *a, bool passive,
                   struct addrinfo **res)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    int r;

    r = getaddrinfo(a->host[0] ? a->host : NULL, a->port, &hints, res);
    if (r == EAI_SYSTEM)
        return -errno;
    return r ? -EHOSTUNREACH : 0;
}

static void nodelay(int fd)
{
    int one = 1;

    /* an optimisation only: a failure changes nothing that matters */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int listen_on(const struct addrinfo *ai)
{
    int fd, one = 1;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1)) {
        int r = -errno;

        close(fd);
        return r;
    }
    return fd;
}

int netaddr_accept_one(const struct netaddr *a, int timeout_ms)
{
    struct addrinfo *res, *ai;
    struct pollfd p = { .events = POLLIN };
    int lfd = -EADDRNOTAVAIL, fd, r;

    r = resolve(a, true, &res);
    if (r)
        return r;
    for (ai = res; ai; ai = ai->ai_next) {
        lfd = listen_on(ai);
        if (lfd >= 0)
            break;
    }
    freeaddrinfo(res);
    if (lfd < 0)
        return lfd;
    p.fd = lfd;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        r = r ? -errno : -ETIMEDOUT;
        close(lfd);
        return r;
    }
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    r = fd < 0 ? -errno : fd;
    close(lfd);
    if (fd >= 0)
        nodelay(fd);
    return r;
}

/* connect() without blocking past the deadline (an address that never
 * answers would otherwise hold us for the kernel's SYN retries). */
static int connect_by(int fd, const struct addrinfo *ai, uint64_t deadline)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    uint64_t now;
    socklen_t len = sizeof(int);
    int err = 0, n;

    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        return -errno;
    if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    do {
        now = now_ms();
        n = now < deadline ? poll(&p, 1, (int)(deadline - now)) : 0;
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n ? -errno : -ETIMEDOUT;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
        return -errno;
    return -err;
}

/* One attempt at every address; -ECONNREFUSED when none listens. */
static int connect_once(const struct addrinfo *res, uint64_t deadline)
{
    int r = -EHOSTUNREACH, fd;

    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        r = connect_by(fd, ai, deadline);
        if (!r) {
            nodelay(fd);
            return fd;
        }
        close(fd);
    }
    return r;
}

int netaddr_connect(const struct netaddr *a, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    struct timespec ts = { 0, RETRY_MS * 1000000L };
    struct addrinfo *res;
    int r, refused = 0;

    if (!a->host[0])
        return -EINVAL;
    r = resolve(a, false, &res);
    if (r)
        return r;
    for (;;) {
        r = connect_once(res, deadline);
        if (r == -ECONNREFUSED || r == -ENETUNREACH)
            refused = r;
        else if (r != -ETIMEDOUT || !refused)
            break;
        if (now_ms() >= deadline)
            break;
        nanosleep(&ts, NULL);
    }
    freeaddrinfo(res);
    /* an attempt cut short by the deadline says less than the refusals
     * before it: nobody listens */
    return r == -ETIMEDOUT && refused ? refused : r;
}
