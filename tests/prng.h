/*
 * prng.h - the one seeded pseudo-random generator of the tests and the
 * benchmarks (bench/bench_util.h includes it too): splitmix64, small,
 * fast and good enough to pick lengths, choices and bytes. Not for
 * anything that must be unpredictable.
 *
 * Invariant: a sequence is a pure function of its seed, so a test that
 * prints its seed can be replayed exactly (B3CAS_TEST_SEED). Nothing here
 * depends on cmocka: the crash programs and the benchmarks are plain
 * programs.
 */
#ifndef B3CAS_TESTS_PRNG_H
#define B3CAS_TESTS_PRNG_H

#include <stdint.h>

/* splitmix64: the state moves by the golden gamma; the output is the new
 * state, mixed. */
static inline uint64_t tu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* What tu_rand gives from state z, without a state to move: a good
 * 64-bit mix of z, for numbering things (a counter in, noise out). */
static inline uint64_t tu_mix(uint64_t z)
{
	return tu_rand(&z);
}

#endif
