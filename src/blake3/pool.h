/*
 * pool.h - running the parts of one job on the pool's threads (pool.c).
 * Private to src/blake3/.
 */
#ifndef B3CAS_BLAKE3_POOL_H
#define B3CAS_BLAKE3_POOL_H

#include "blake3_int.h"

typedef void (*b3_part_fn)(void *arg, uint32_t part);

/*
 * Call fn(arg, i) once for every i in 0..nparts-1, spread over the pool's
 * threads and the caller's, and return when all calls have returned.
 * With no pool, a busy pool, or a single part, the caller runs them all.
 */
void b3_pool_run(b3cas_pool *pool, b3_part_fn fn, void *arg, uint32_t nparts);

#endif
