// SPDX-License-Identifier: MIT
/* tests/proto/putil.c - see putil.h. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "putil.h"

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
int calloc_fail_in;

void *__wrap_calloc(size_t n, size_t size)
{
    if (calloc_fail_in && --calloc_fail_in == 0)
        return NULL;
    return __real_calloc(n, size);
}

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
int malloc_fail_in;

void *__wrap_malloc(size_t size)
{
    if (malloc_fail_in && --malloc_fail_in == 0)
        return NULL;
    return __real_malloc(size);
}

int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;
}

void pair(int sv[2], int bufsize)
{
    int i;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    for (i = 0; i < 2 && bufsize; i++) {
        assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsize,
                                    sizeof(bufsize)), 0);
        assert_int_equal(setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsize,
                                    sizeof(bufsize)), 0);
    }
}

void nonblock(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

uint8_t pat(uint32_t seed, size_t i)
{
    return (uint8_t)(i * 131u + seed * 7u + (i >> 9));
}

void fill(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = pat(seed, i);
}

void check_pat(const uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != pat(seed, i))
            fail_msg("byte %zu: %u != %u", i, p[i], pat(seed, i));
    }
}
