/*
 * core_util.h - helpers shared by the store tests (the model test, the
 * crash writer and its checker): choices from the seeded PRNG of
 * tests/prng.h, object bytes regenerated
 * from (seed, size), temporary folders, and a few file-system walks.
 *
 * Object bytes are a pure function of (seed, size), so a test keeps only
 * those two numbers per object and regenerates the bytes when it needs to
 * compare; the crash checker uses this to check a writer it killed. Some
 * seeds give structured bytes (all zero, a short repeating pattern) so that
 * not every object is incompressible noise.
 *
 * Nothing here depends on cmocka: the crash programs are plain programs.
 */
#ifndef B3CAS_TESTS_CORE_UTIL_H
#define B3CAS_TESTS_CORE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../prng.h"
#include "b3cas/b3cas.h"

/* Uniform in [0, n); n > 0. The bias of the modulo does not matter here. */
static inline uint64_t cu_below(uint64_t *state, uint64_t n)
{
	return tu_rand(state) % n;
}

/* Uniform in [lo, hi]. */
static inline uint64_t cu_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + cu_below(state, hi - lo + 1);
}

/* true with probability num/den. */
static inline bool cu_chance(uint64_t *state, unsigned num, unsigned den)
{
	return cu_below(state, den) < num;
}

/*
 * The bytes of object (seed, size). One seed in 16 gives all zeros and one
 * in 16 a pattern repeating every few bytes; the rest is noise from a
 * stream keyed by both numbers, so two sizes of one seed differ.
 */
static inline void cu_gen(uint8_t *out, uint64_t seed, size_t size)
{
	uint64_t st = seed ^ (size * 0xD1B54A32D192ED03ull);
	size_t i = 0;

	switch (seed & 15) {
	case 0:
		memset(out, 0, size);
		return;
	case 1:
		for (i = 0; i < size; i++)
			out[i] = (uint8_t)("b3cas-pattern"[i % (1 + seed % 13)]);
		return;
	default:
		break;
	}
	for (; i + 8 <= size; i += 8) {
		uint64_t v = tu_rand(&st);

		memcpy(out + i, &v, 8);
	}
	if (i < size) {
		uint64_t v = tu_rand(&st);

		memcpy(out + i, &v, size - i);
	}
}

/* A malloc'd copy of object (seed, size); never NULL (exits on ENOMEM). */
static inline uint8_t *cu_gen_alloc(uint64_t seed, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	if (!p) {
		fprintf(stderr, "out of memory (%zu bytes)\n", size);
		exit(99);
	}
	cu_gen(p, seed, size);
	return p;
}

/* Seed from B3CAS_TEST_SEED or the clock. */
static inline uint64_t cu_seed_from_env(void)
{
	const char *env = getenv("B3CAS_TEST_SEED");
	struct timespec ts;

	if (env && *env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32);
}

/* A number from the environment, or def when unset or empty. */
static inline unsigned long cu_env_num(const char *name, unsigned long def)
{
	const char *env = getenv(name);

	return env && *env ? strtoul(env, NULL, 0) : def;
}

/* Seconds on the monotonic clock. */
static inline double cu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A new empty folder under $TMPDIR (or /tmp) in out; false on failure. */
static inline bool cu_mkdtemp(char *out, size_t out_len, const char *tag)
{
	const char *base = getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	if ((size_t)snprintf(out, out_len, "%s/b3cas-%s-XXXXXX", base, tag) >=
	    out_len)
		return false;
	return mkdtemp(out) != NULL;
}

static inline int cu_rm_one(const char *path, const struct stat *st,
			    int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) != 0 && errno != ENOENT)
		fprintf(stderr, "cannot remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

/* rm -rf path. Quiet when it does not exist. */
static inline void cu_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return;
	nftw(path, cu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Number of entries (other than . and ..) in folder path; -1 if missing. */
static inline long cu_count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* true when s is exactly 64 lower-case hex characters. */
static inline bool cu_is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* Write text to path (replacing it); false on failure. */
static inline bool cu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

/* Collect every GC candidate now: no grace period, normal priority. 0 or
 * b3cas_gc's error. */
static inline int cu_gc_all(b3cas_store *s)
{
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

	g.grace_ns = 0;
	g.normal_priority = true;
	return b3cas_gc(s, &g, NULL);
}

#endif
