/* SPDX-License-Identifier: MIT */
/*
 * tests/proto/putil.h - what the transport, queue and receiver tests
 * (transport, zerocopy, hotpath) share: socketpairs with small buffers, patterned bytes, an fd
 * count, and a calloc and a malloc that fail on demand (link with
 * -Wl,--wrap=calloc,--wrap=malloc).
 */
#ifndef TESTS_PROTO_PUTIL_H
#define TESTS_PROTO_PUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The calloc-th call from now fails (1: the next one); 0: none. */
extern int calloc_fail_in;
/* The same for malloc (link with -Wl,--wrap=malloc too). */
extern int malloc_fail_in;

/* Open fds of this process. */
int count_fds(void);
/* A socketpair; bufsize, when not 0, is both ends' send and receive
 * buffer size. */
void pair(int sv[2], int bufsize);
void nonblock(int fd);

/* Bytes that say where they are and which seed made them. */
uint8_t pat(uint32_t seed, size_t i);
void fill(uint8_t *p, size_t len, uint32_t seed);
/* Fails the test at the first byte that is not pat(seed, i). */
void check_pat(const uint8_t *p, size_t len, uint32_t seed);

#endif /* TESTS_PROTO_PUTIL_H */
