/* SPDX-License-Identifier: MIT */
/*
 * fuzz/gen_seeds.h - the seed generator's shared helpers (gen_seeds.c
 * writes the version and server corpora, gen_client.c the client one,
 * gen_dirty.c the dirty logging one).
 */
#ifndef UVFIO_FUZZ_GEN_SEEDS_H
#define UVFIO_FUZZ_GEN_SEEDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

void gen_die(const char *what) __attribute__((noreturn));
void gen_put(struct uvfio_buf *b, const void *p, size_t n);
void gen_put8(struct uvfio_buf *b, uint8_t v);
void gen_put16(struct uvfio_buf *b, uint16_t v);
void gen_put32(struct uvfio_buf *b, uint32_t v);
void gen_put64(struct uvfio_buf *b, uint64_t v);
/* Write b to dir/target/name (the directory must exist) and reset b. */
void gen_write(const char *dir, const char *target, const char *name,
               struct uvfio_buf *b);

/* gen_client.c: the fuzz_client_reply corpus. */
void gen_client_seeds(const char *dir);
/* gen_dirty.c: the fuzz_dirty_report corpus. */
void gen_dirty_seeds(const char *dir);

#endif /* UVFIO_FUZZ_GEN_SEEDS_H */
