/*
 * test_util.h - small helpers shared by the C tests: hex, the official
 * input pattern, random bytes from tests/prng.h, locating test data, and walking the SIMD
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
#include <sys/stat.h>

#include <cmocka.h>

#include "b3cas/hash.h"
#include "b3cas/store.h"
#include "prng.h"
#include "store_policy.h"

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

/* Make a new empty folder /tmp/b3cas-<tag>-XXXXXX, its path in root. */
static inline void tu_make_root(char *root, size_t n, const char *tag)
{
	snprintf(root, n, "/tmp/b3cas-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(root));
}

/* Remove folder root and everything in it. */
static inline void tu_remove_root(const char *root)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* Run a shell command built like printf; fail the test when it fails. */
static inline void tu_run(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void tu_run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static inline const char *tu_data_dir(void)
{
	const char *d = getenv("B3CAS_TEST_DATA");

	return d ? d : "tests/data";
}

/*
 * Fail unless got and want hold the same len bytes; on a mismatch say
 * where they first differ and what was being checked (printf-style), so a
 * random test's failure can be read without a debugger.
 */
static inline void tu_expect_mem(const void *got, const void *want,
				 size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void tu_expect_mem(const void *got, const void *want,
				 size_t len, const char *fmt, ...)
{
	const uint8_t *g = got, *w = want;
	va_list ap;
	size_t i;

	if (memcmp(got, want, len) == 0)
		return;
	for (i = 0; g[i] == w[i]; i++)
		;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": byte %zu of %zu differs (got %02x, want %02x)\n",
		i, len, g[i], w[i]);
	fail();
}

/*
 * A copy of len bytes in a heap block of exactly len bytes (never 0), so
 * that AddressSanitizer catches any read past the end. The caller frees.
 */
static inline uint8_t *tu_exact_copy(const void *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/*
 * The same, but starting misalign bytes into the heap block (whose start
 * is aligned for anything), so the copy is unaligned and still ends where
 * the block ends. *block_out gets what the caller must free.
 */
static inline uint8_t *tu_exact_copy_at(const void *src, size_t len,
					size_t misalign, void **block_out)
{
	uint8_t *p = malloc(misalign + len + (misalign + len == 0));

	assert_non_null(p);
	if (len)
		memcpy(p + misalign, src, len);
	*block_out = p;
	return p + misalign;
}

/*
 * Damage the file at path: invert every bit of the byte at off (made
 * writable first). Writing a fixed byte instead would leave random
 * content intact one time in 256.
 */
/* The whole of the file at path (malloc'd, with a NUL after its bytes);
 * its length in *len when len is not NULL. */
static inline char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static inline void tu_flip_file_byte(const char *path, long off)
{
	FILE *f;
	int c;

	assert_int_equal(chmod(path, 0644), 0);
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	c = fgetc(f);
	assert_true(c != EOF);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	assert_int_equal(fputc(c ^ 0xff, f), c ^ 0xff);
	assert_int_equal(fclose(f), 0);
}

/* ---- store fixtures ---------------------------------------------------- */

/*
 * "<dir>/<sub>/ab/<64 hex>": the file of id under store folder dir (sub
 * "objects" for the tier, "cache/l2" for an L2 copy), or with sub NULL
 * under a tier folder dir itself.
 */
static inline void tu_object_file(char *out, size_t n, const char *dir,
				  const char *sub, const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, id);
	if (sub)
		snprintf(out, n, "%s/%s/%.2s/%s", dir, sub, hex, hex);
	else
		snprintf(out, n, "%s/%.2s/%s", dir, hex, hex);
}

/* The options of a test store: made when create, objects over threshold
 * bytes loose, and no L1 cache, so every read reaches the index or the
 * file (where a test's damage is). */
static inline b3cas_store_options tu_store_options(bool create,
						   size_t threshold)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.inline_threshold = threshold;
	o.l1_bytes = 0;
	return o;
}

/* Open the store in dir with o, or fail the test with the reason. */
static inline b3cas_store *tu_open_store(const char *dir,
					 const b3cas_store_options *o)
{
	b3cas_store *s = NULL;

	if (b3cas_store_open(&s, dir, o) != 0)
		fail_msg("open %s: %s", dir, b3cas_error_last());
	return s;
}

/* A new block of exactly len random bytes from rng (one byte when len is
 * 0), so that AddressSanitizer catches a read past its end. Never NULL;
 * the caller frees. */
static inline uint8_t *tu_random_block(size_t len, uint64_t *rng)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	tu_fill_random(p, len, rng);
	return p;
}

/* Object id reads back from s as exactly the len bytes of want, and has
 * refs references. */
static inline void tu_expect_object(b3cas_store *s, const b3cas_oid *id,
				    const void *want, size_t len,
				    uint64_t refs)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_object_info info;
	void *got;
	size_t got_len;

	b3cas_oid_fmt(hex, id);
	if (b3cas_store_get(s, id, &got, &got_len) != 0)
		fail_msg("object %s: %s", hex, b3cas_error_last());
	assert_int_equal(got_len, len);
	tu_expect_mem(got, want, len, "object %s", hex);
	b3cas_free(got);
	assert_int_equal(b3cas_store_stat(s, id, &info), 0);
	if (info.refs != refs)
		fail_msg("object %s: %llu references, want %llu", hex,
			 (unsigned long long)info.refs,
			 (unsigned long long)refs);
}

/* Long runs (B3CAS_TEST_LONG=1) scale their case counts up. */
static inline int tu_long(void)
{
	const char *env = getenv("B3CAS_TEST_LONG");

	return env && *env && strcmp(env, "0") != 0;
}

/* How many times more random cases a long run does. */
static inline int tu_scale(void)
{
	return tu_long() ? 10 : 1;
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
