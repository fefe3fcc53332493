/*
 * test_util.h - small helpers shared by the C tests: hex, the official
 * input pattern, a seeded PRNG, locating test data, and walking the SIMD
 * levels this CPU supports.
 */
#ifndef B3CAS_TEST_UTIL_H
#define B3CAS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "b3cas/hash.h"

static inline void tu_hex_decode(uint8_t *out, const char *hex, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static inline void tu_hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* The official vectors' input: 0, 1, ..., 250, 0, 1, ... */
static inline void tu_fill_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i % 251);
}

/* splitmix64: small, seeded, good enough to pick lengths and bytes. */
static inline uint64_t tu_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static inline void tu_fill_random(uint8_t *buf, size_t len, uint64_t *state)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)tu_rand(state);
}

/* Seed from B3CAS_TEST_SEED or the clock; printed so a failure can be
 * replayed. */
static inline uint64_t tu_seed(const char *test)
{
	const char *env = getenv("B3CAS_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0)
			    : (uint64_t)time(NULL) ^ (uint64_t)clock();

	fprintf(stderr, "[%s] seed %llu (set B3CAS_TEST_SEED to replay)\n",
		test, (unsigned long long)seed);
	return seed;
}

static inline const char *tu_data_dir(void)
{
	const char *d = getenv("B3CAS_TEST_DATA");

	return d ? d : "tests/data";
}

/* Number of SIMD levels this CPU can run: levels 0 .. n-1. */
static inline int tu_levels(void)
{
	return (int)b3cas_simd_detected() + 1;
}

/* Force level i; fails the test if the CPU claims it but it is refused. */
static inline void tu_force(int level)
{
	assert_int_equal(b3cas_simd_force((b3cas_simd)level), 0);
	assert_int_equal((int)b3cas_simd_active(), level);
}

/* Report the levels that could not be tested on this CPU (loudly). */
static inline void tu_report_levels(void)
{
	int n = tu_levels();

	fprintf(stderr, "SIMD levels tested:");
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %s", b3cas_simd_level_name((b3cas_simd)i));
	if (n <= (int)B3CAS_SIMD_AVX512) {
		fprintf(stderr, "; NOT TESTED (CPU lacks them):");
		for (int i = n; i <= (int)B3CAS_SIMD_AVX512; i++)
			fprintf(stderr, " %s",
				b3cas_simd_level_name((b3cas_simd)i));
	}
	fprintf(stderr, "\n");
}

#endif
