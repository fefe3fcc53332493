/*
 * test_api_misuse_hash.c - the t_<function> misuse tests for the functions
 * of common.h (errors, version) and hash.h (hashers, one-shot and batch
 * hashing, thread pools, SIMD choice): each required pointer NULL in turn
 * is refused with its message and leaves outputs as they were. Part of
 * the test_api_misuse program.
 */
#include "test_api_misuse_int.h"

/* ---- common.h ---------------------------------------------------------- */

void t_b3cas_error_last(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_string_equal(b3cas_error_last(), "");
	assert_int_equal(b3cas_store_sync(NULL), B3CAS_EINVAL);
	assert_true(b3cas_error_last()[0] != '\0');
}

void t_b3cas_error_clear(void **state)
{
	(void)state;
	assert_int_equal(b3cas_oid_parse(&id_small, NULL), B3CAS_EINVAL);
	b3cas_error_clear();
	assert_string_equal(b3cas_error_last(), "");
}

void t_b3cas_error_set(void **state)
{
	char text[2000];

	(void)state;
	assert_int_equal(b3cas_error_set(B3CAS_EIO, "git2: a pack failed"),
			 B3CAS_EIO);
	assert_string_equal(b3cas_error_last(), "git2: a pack failed");
	assert_int_equal(b3cas_error_set(B3CAS_EINVAL, NULL), B3CAS_EINVAL);
	assert_string_equal(b3cas_error_last(), "");
	/* a long message is cut, never overrun */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(b3cas_error_set(B3CAS_ERROR, text), B3CAS_ERROR);
	assert_true(strlen(b3cas_error_last()) < sizeof(text) - 1);
	assert_true(strlen(b3cas_error_last()) > 100);
}

void t_b3cas_strerror(void **state)
{
	(void)state;
	assert_string_equal(b3cas_strerror(B3CAS_EINVAL), "invalid argument");
	assert_string_equal(b3cas_strerror(B3CAS_ECANCELED), "canceled");
	assert_non_null(b3cas_strerror(12345));
}

void t_b3cas_version(void **state)
{
	(void)state;
	assert_string_equal(b3cas_version(), B3CAS_VERSION_STRING);
}

/* ---- hash.h: void functions do nothing and set the message -------------- */

void t_b3cas_hasher_init(void **state)
{
	(void)state;
	MSG_FOR("b3cas_hasher_init", "h", b3cas_hasher_init(NULL));
}

void t_b3cas_hasher_init_keyed(void **state)
{
	b3cas_hasher h;

	(void)state;
	MSG_FOR("b3cas_hasher_init_keyed", "h",
		b3cas_hasher_init_keyed(NULL, key));
	poison(&h, sizeof(h));
	MSG_FOR("b3cas_hasher_init_keyed", "key",
		b3cas_hasher_init_keyed(&h, NULL));
	assert_true(poisoned(&h, sizeof(h)));
}

void t_b3cas_hasher_init_derive_key(void **state)
{
	b3cas_hasher h;

	(void)state;
	MSG_FOR("b3cas_hasher_init_derive_key", "h",
		b3cas_hasher_init_derive_key(NULL, "ctx"));
	poison(&h, sizeof(h));
	MSG_FOR("b3cas_hasher_init_derive_key", "context",
		b3cas_hasher_init_derive_key(&h, NULL));
	assert_true(poisoned(&h, sizeof(h)));
}

void t_b3cas_hasher_init_derive_key_raw(void **state)
{
	b3cas_hasher h, h2;
	uint8_t a[32], b[32];

	(void)state;
	MSG_FOR("b3cas_hasher_init_derive_key_raw", "h",
		b3cas_hasher_init_derive_key_raw(NULL, "c", 1));
	poison(&h, sizeof(h));
	MSG_FOR("b3cas_hasher_init_derive_key_raw", "context",
		b3cas_hasher_init_derive_key_raw(&h, NULL, 1));
	assert_true(poisoned(&h, sizeof(h)));
	/* NULL with length 0 is the empty context */
	b3cas_hasher_init_derive_key_raw(&h, NULL, 0);
	b3cas_hasher_init_derive_key(&h2, "");
	b3cas_hasher_finalize(a, 32, &h);
	b3cas_hasher_finalize(b, 32, &h2);
	assert_memory_equal(a, b, 32);
}

void t_b3cas_hasher_update(void **state)
{
	b3cas_hasher h, copy;

	(void)state;
	MSG_FOR("b3cas_hasher_update", "h",
		b3cas_hasher_update(NULL, small, 5));
	b3cas_hasher_init(&h);
	copy = h;
	MSG_FOR("b3cas_hasher_update", "data",
		b3cas_hasher_update(&h, NULL, 5));
	assert_memory_equal(&h, &copy, sizeof(h));
	b3cas_hasher_update(&h, NULL, 0);
	assert_memory_equal(&h, &copy, sizeof(h));
}

void t_b3cas_hasher_finalize(void **state)
{
	b3cas_hasher h;
	uint8_t out[32];

	(void)state;
	b3cas_hasher_init(&h);
	MSG_FOR("b3cas_hasher_finalize", "out",
		b3cas_hasher_finalize(NULL, 32, &h));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hasher_finalize", "h",
		b3cas_hasher_finalize(out, 32, NULL));
	assert_true(poisoned(out, sizeof(out)));
	b3cas_hasher_finalize(NULL, 0, &h); /* nothing asked, nothing done */
}

void t_b3cas_hasher_finalize_seek(void **state)
{
	b3cas_hasher h;
	uint8_t out[32];

	(void)state;
	b3cas_hasher_init(&h);
	MSG_FOR("b3cas_hasher_finalize_seek", "out",
		b3cas_hasher_finalize_seek(NULL, 32, &h, 7));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hasher_finalize_seek", "h",
		b3cas_hasher_finalize_seek(out, 32, NULL, 7));
	assert_true(poisoned(out, sizeof(out)));
	b3cas_hasher_finalize_seek(NULL, 0, &h, 7);
}

void t_b3cas_hasher_reset(void **state)
{
	(void)state;
	MSG_FOR("b3cas_hasher_reset", "h", b3cas_hasher_reset(NULL));
}

void t_b3cas_hash(void **state)
{
	/* BLAKE3 of the empty input, from the official vectors */
	static const char empty[] = "af1349b9f5f9a1a6a0404dea36dcc949"
				    "9bcb25c9adc112b7cc9a93cae41f3262";
	uint8_t out[32];
	char hex[65];

	(void)state;
	MSG_FOR("b3cas_hash", "out", b3cas_hash(NULL, small, 5));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hash", "data", b3cas_hash(out, NULL, 5));
	assert_true(poisoned(out, sizeof(out)));
	b3cas_hash(out, NULL, 0);
	tu_hex_encode(hex, out, 32);
	assert_string_equal(hex, empty);
}

void t_b3cas_hash_keyed(void **state)
{
	uint8_t out[32];

	(void)state;
	MSG_FOR("b3cas_hash_keyed", "out",
		b3cas_hash_keyed(NULL, key, small, 5));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hash_keyed", "key",
		b3cas_hash_keyed(out, NULL, small, 5));
	MSG_FOR("b3cas_hash_keyed", "data",
		b3cas_hash_keyed(out, key, NULL, 5));
	assert_true(poisoned(out, sizeof(out)));
}

void t_b3cas_derive_key(void **state)
{
	uint8_t out[32];

	(void)state;
	MSG_FOR("b3cas_derive_key", "out",
		b3cas_derive_key(NULL, 32, "ctx", small, 5));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_derive_key", "context",
		b3cas_derive_key(out, 32, NULL, small, 5));
	MSG_FOR("b3cas_derive_key", "material",
		b3cas_derive_key(out, 32, "ctx", NULL, 5));
	assert_true(poisoned(out, sizeof(out)));
}

static void batch_cases(const char *fn, bool keyed)
{
	const void *inputs[2] = {small, big};
	const void *holed[2] = {small, NULL};
	size_t lens[2] = {5, 100};
	uint8_t out[64];

#define BATCH(o, i, l, n)                                             \
	(keyed ? b3cas_hash_batch_keyed(o, key, i, l, n)              \
	       : b3cas_hash_batch(o, i, l, n))
	poison(out, sizeof(out));
	MSG_FOR(fn, "out", BATCH(NULL, inputs, lens, 2));
	MSG_FOR(fn, "inputs", BATCH(out, NULL, lens, 2));
	MSG_FOR(fn, "lens", BATCH(out, inputs, NULL, 2));
	b3cas_error_clear();
	BATCH(out, holed, lens, 2);
	assert_string_equal(b3cas_error_last(),
			    keyed ? "b3cas_hash_batch_keyed: inputs[1] is "
				    "NULL but lens[1] is 100"
				  : "b3cas_hash_batch: inputs[1] is NULL but "
				    "lens[1] is 100");
	assert_true(poisoned(out, sizeof(out)));
	BATCH(NULL, NULL, NULL, 0); /* nothing to hash */
	assert_true(poisoned(out, sizeof(out)));
	lens[1] = 0; /* NULL with length 0 is the empty message */
	BATCH(out, holed, lens, 2);
	assert_false(poisoned(out, sizeof(out)));
#undef BATCH
}

void t_b3cas_hash_batch(void **state)
{
	(void)state;
	batch_cases("b3cas_hash_batch", false);
}

void t_b3cas_hash_batch_keyed(void **state)
{
	uint8_t out[32];
	const void *inputs[1] = {small};
	size_t lens[1] = {5};

	(void)state;
	batch_cases("b3cas_hash_batch_keyed", true);
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hash_batch_keyed", "key",
		b3cas_hash_batch_keyed(out, NULL, inputs, lens, 1));
	assert_true(poisoned(out, sizeof(out)));
}

void t_b3cas_pool_new(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_pool_new", "out", b3cas_pool_new(NULL, 2));
}

void t_b3cas_pool_free(void **state)
{
	(void)state;
	b3cas_pool_free(NULL); /* accepted */
}

void t_b3cas_pool_threads(void **state)
{
	(void)state;
	/* documented: a NULL pool is one thread (the caller) */
	assert_int_equal(b3cas_pool_threads(NULL), 1);
}

void t_b3cas_hasher_update_parallel(void **state)
{
	b3cas_hasher h, copy;

	(void)state;
	MSG_FOR("b3cas_hasher_update_parallel", "h",
		b3cas_hasher_update_parallel(NULL, small, 5, NULL));
	b3cas_hasher_init(&h);
	copy = h;
	MSG_FOR("b3cas_hasher_update_parallel", "data",
		b3cas_hasher_update_parallel(&h, NULL, 5, NULL));
	assert_memory_equal(&h, &copy, sizeof(h));
}

void t_b3cas_hash_parallel(void **state)
{
	uint8_t out[32];

	(void)state;
	MSG_FOR("b3cas_hash_parallel", "out",
		b3cas_hash_parallel(NULL, small, 5, NULL));
	poison(out, sizeof(out));
	MSG_FOR("b3cas_hash_parallel", "data",
		b3cas_hash_parallel(out, NULL, 5, NULL));
	assert_true(poisoned(out, sizeof(out)));
}

void t_b3cas_simd_detected(void **state)
{
	(void)state;
	assert_true(b3cas_simd_detected() >= B3CAS_SIMD_PORTABLE);
}

void t_b3cas_simd_active(void **state)
{
	(void)state;
	assert_true(b3cas_simd_active() <= b3cas_simd_detected());
}

void t_b3cas_simd_name(void **state)
{
	(void)state;
	assert_non_null(b3cas_simd_name());
}

void t_b3cas_simd_level_name(void **state)
{
	(void)state;
	assert_null(b3cas_simd_level_name((b3cas_simd)99));
}

void t_b3cas_simd_parse(void **state)
{
	b3cas_simd level = B3CAS_SIMD_AVX2;

	(void)state;
	EINVAL_FOR("b3cas_simd_parse", "out",
		   b3cas_simd_parse(NULL, "portable"));
	EINVAL_FOR("b3cas_simd_parse", "name", b3cas_simd_parse(&level, NULL));
	assert_int_equal(level, B3CAS_SIMD_AVX2);
}

void t_b3cas_simd_force(void **state)
{
	(void)state;
	assert_int_equal(b3cas_simd_force((b3cas_simd)99), B3CAS_EINVAL);
}
