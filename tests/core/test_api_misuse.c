/*
 * test_api_misuse.c - misuse of the public API is an error, not a crash.
 *
 * One test per public function in the headers of include/b3cas/, named t_<function>.
 * Each calls its function with every required pointer NULL in turn (the
 * others valid) and expects the rule of include/b3cas/common.h:
 * B3CAS_EINVAL, or the function's documented value when it returns
 * something else, with the message "<function>: <argument> is NULL";
 * outputs are left as they were. Where a pointer is optional (the header
 * says "may be NULL"), the call is made with NULL too and must work as
 * before.
 *
 * test_every_function_covered reads the headers at run time and fails if
 * a public function has no t_ test here, so a new function cannot be added
 * without its misuse cases. test_every_function_documents_errors reads
 * them too and fails if a public function's comment names no B3CAS_E...
 * code and does not say "never fails" (the convention of common.h).
 *
 * Every options struct is refused, with B3CAS_EINVAL and a message naming
 * it and its _INIT, at version 0 and at one past the newest
 * (VERSION_REFUSED).
 *
 * Lifetimes: closing a store with a writer or reader open is refused with
 * B3CAS_EBUSY and the store stays usable; views outlive their store.
 *
 * Only the public headers are used, so the test builds against any
 * version of the library (to show that the old one crashes).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#ifndef B3CAS_INCLUDE_DIR
#error "B3CAS_INCLUDE_DIR must name include/b3cas"
#endif

/* The shared store, with one inline and one loose object. */
static char root[64];
static b3cas_store *st;
static b3cas_oid id_small, id_big;
static const char small[] = "hello, misuse";
static uint8_t big[3000];
static const uint8_t key[B3CAS_KEY_LEN] = {1, 2, 3};

/*
 * The last call failed as a misuse of argument arg of function fn: the
 * message says exactly that.
 */
static void expect_msg(const char *fn, const char *arg)
{
	const char *msg = b3cas_error_last();
	char want[160];

	assert_non_null(msg);
	snprintf(want, sizeof(want), "%s: %s is NULL", fn, arg);
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("message '%s' does not start with '%s'", msg, want);
}

/* call must return B3CAS_EINVAL for a NULL arg of fn. */
#define EINVAL_FOR(fn, arg, call)                                         \
	do {                                                              \
		b3cas_error_clear();                                      \
		assert_int_equal((int64_t)(call), B3CAS_EINVAL);          \
		expect_msg(fn, arg);                                      \
	} while (0)

/* A void function (or one returning a value) given a NULL arg of fn:
 * the message is set; the caller checks what it returned or wrote. */
#define MSG_FOR(fn, arg, stmt)                                            \
	do {                                                              \
		b3cas_error_clear();                                      \
		stmt;                                                     \
		expect_msg(fn, arg);                                      \
	} while (0)

/*
 * The last call was refused for an options version this library does not
 * know: B3CAS_EINVAL (rc) and a message naming the struct, the version
 * and the _INIT to start from.
 */
static void expect_version_refused(int64_t rc, const char *what,
				   unsigned got, const char *init)
{
	const char *msg = b3cas_error_last();
	char want[96];

	assert_int_equal(rc, B3CAS_EINVAL);
	snprintf(want, sizeof(want), "%s options version %u is not", what,
		 got);
	if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, init))
		fail_msg("message '%s' does not start with '%s' or does not "
			 "name %s", msg, want, init);
}

/* call, made with opts.version 0 and then latest + 1, is refused; opts
 * keeps its version latest afterwards. */
#define VERSION_REFUSED(what, opts, latest, init, call)                   \
	do {                                                              \
		(opts).version = 0;                                       \
		expect_version_refused((call), what, 0, init);            \
		(opts).version = (latest) + 1;                            \
		expect_version_refused((call), what, (latest) + 1, init); \
		(opts).version = (latest);                                \
	} while (0)

static void make_dir(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "/tmp/b3cas-misuse-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(out));
}

static void remove_dir(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static b3cas_store *open_new(char *dir, size_t len, const char *tag)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	make_dir(dir, len, tag);
	o.create = true;
	o.inline_threshold = 1024;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	return s;
}

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	st = open_new(root, sizeof(root), "shared");
	if (b3cas_store_put(st, &id_small, small, sizeof(small)) != 0 ||
	    b3cas_store_put(st, &id_big, big, sizeof(big)) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (b3cas_store_close(st) != 0)
		return -1;
	remove_dir(root);
	return 0;
}

/* ---- common.h ---------------------------------------------------------- */

static void t_b3cas_error_last(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_string_equal(b3cas_error_last(), "");
	assert_int_equal(b3cas_store_sync(NULL), B3CAS_EINVAL);
	assert_true(b3cas_error_last()[0] != '\0');
}

static void t_b3cas_error_clear(void **state)
{
	(void)state;
	assert_int_equal(b3cas_oid_parse(&id_small, NULL), B3CAS_EINVAL);
	b3cas_error_clear();
	assert_string_equal(b3cas_error_last(), "");
}

static void t_b3cas_strerror(void **state)
{
	(void)state;
	assert_string_equal(b3cas_strerror(B3CAS_EINVAL), "invalid argument");
	assert_non_null(b3cas_strerror(12345));
}

static void t_b3cas_version(void **state)
{
	(void)state;
	assert_string_equal(b3cas_version(), B3CAS_VERSION_STRING);
}

/* ---- hash.h: void functions do nothing and set the message -------------- */

/* A hasher filled with a pattern, to see that a refused call left it. */
static void poison(void *p, size_t len)
{
	memset(p, 0xA5, len);
}

static bool poisoned(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0xA5)
			return false;
	return true;
}

static void t_b3cas_hasher_init(void **state)
{
	(void)state;
	MSG_FOR("b3cas_hasher_init", "h", b3cas_hasher_init(NULL));
}

static void t_b3cas_hasher_init_keyed(void **state)
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

static void t_b3cas_hasher_init_derive_key(void **state)
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

static void t_b3cas_hasher_init_derive_key_raw(void **state)
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

static void t_b3cas_hasher_update(void **state)
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

static void t_b3cas_hasher_finalize(void **state)
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

static void t_b3cas_hasher_finalize_seek(void **state)
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

static void t_b3cas_hasher_reset(void **state)
{
	(void)state;
	MSG_FOR("b3cas_hasher_reset", "h", b3cas_hasher_reset(NULL));
}

static void t_b3cas_hash(void **state)
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

static void t_b3cas_hash_keyed(void **state)
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

static void t_b3cas_derive_key(void **state)
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

static void t_b3cas_hash_batch(void **state)
{
	(void)state;
	batch_cases("b3cas_hash_batch", false);
}

static void t_b3cas_hash_batch_keyed(void **state)
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

static void t_b3cas_pool_new(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_pool_new", "out", b3cas_pool_new(NULL, 2));
}

static void t_b3cas_pool_free(void **state)
{
	(void)state;
	b3cas_pool_free(NULL); /* accepted */
}

static void t_b3cas_pool_threads(void **state)
{
	(void)state;
	/* documented: a NULL pool is one thread (the caller) */
	assert_int_equal(b3cas_pool_threads(NULL), 1);
}

static void t_b3cas_hasher_update_parallel(void **state)
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

static void t_b3cas_hash_parallel(void **state)
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

static void t_b3cas_simd_detected(void **state)
{
	(void)state;
	assert_true(b3cas_simd_detected() >= B3CAS_SIMD_PORTABLE);
}

static void t_b3cas_simd_active(void **state)
{
	(void)state;
	assert_true(b3cas_simd_active() <= b3cas_simd_detected());
}

static void t_b3cas_simd_name(void **state)
{
	(void)state;
	assert_non_null(b3cas_simd_name());
}

static void t_b3cas_simd_level_name(void **state)
{
	(void)state;
	assert_null(b3cas_simd_level_name((b3cas_simd)99));
}

static void t_b3cas_simd_parse(void **state)
{
	b3cas_simd level = B3CAS_SIMD_AVX2;

	(void)state;
	EINVAL_FOR("b3cas_simd_parse", "out",
		   b3cas_simd_parse(NULL, "portable"));
	EINVAL_FOR("b3cas_simd_parse", "name", b3cas_simd_parse(&level, NULL));
	assert_int_equal(level, B3CAS_SIMD_AVX2);
}

static void t_b3cas_simd_force(void **state)
{
	(void)state;
	assert_int_equal(b3cas_simd_force((b3cas_simd)99), B3CAS_EINVAL);
}

/* ---- store.h ------------------------------------------------------------ */

static void t_b3cas_oid_fmt(void **state)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	(void)state;
	MSG_FOR("b3cas_oid_fmt", "out",
		assert_null(b3cas_oid_fmt(NULL, &id_small)));
	poison(hex, sizeof(hex));
	MSG_FOR("b3cas_oid_fmt", "id", assert_null(b3cas_oid_fmt(hex, NULL)));
	assert_true(poisoned(hex, sizeof(hex)));
}

static void t_b3cas_oid_parse(void **state)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid id;

	(void)state;
	b3cas_oid_fmt(hex, &id_small);
	EINVAL_FOR("b3cas_oid_parse", "out", b3cas_oid_parse(NULL, hex));
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_oid_parse", "text", b3cas_oid_parse(&id, NULL));
	assert_true(poisoned(&id, sizeof(id)));
}

static void t_b3cas_oid_equal(void **state)
{
	(void)state;
	MSG_FOR("b3cas_oid_equal", "a",
		assert_false(b3cas_oid_equal(NULL, &id_small)));
	MSG_FOR("b3cas_oid_equal", "b",
		assert_false(b3cas_oid_equal(&id_small, NULL)));
}

static void t_b3cas_store_open(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = (b3cas_store *)&s;

	(void)state;
	EINVAL_FOR("b3cas_store_open", "out",
		   b3cas_store_open(NULL, root, NULL));
	EINVAL_FOR("b3cas_store_open", "root",
		   b3cas_store_open(&s, NULL, NULL));
	assert_ptr_equal(s, (b3cas_store *)&s); /* *out left alone */
	/* options of an unknown version (not initialised with _INIT) */
	o.read_only = true;
	VERSION_REFUSED("store", o, B3CAS_STORE_OPTIONS_VERSION,
			"B3CAS_STORE_OPTIONS_INIT",
			b3cas_store_open(&s, root, &o));
	assert_ptr_equal(s, (b3cas_store *)&s);
}

static void t_b3cas_store_close(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_int_equal(b3cas_store_close(NULL), 0); /* accepted */
	assert_string_equal(b3cas_error_last(), "");
}

static void t_b3cas_store_sync(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_sync", "store", b3cas_store_sync(NULL));
}

static void t_b3cas_store_interrupt(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_interrupt", "store",
		   b3cas_store_interrupt(NULL));
}

static void t_b3cas_store_info_get(void **state)
{
	b3cas_store_info info;

	(void)state;
	MSG_FOR("b3cas_store_info_get", "out",
		b3cas_store_info_get(NULL, st));
	poison(&info, sizeof(info));
	MSG_FOR("b3cas_store_info_get", "store",
		b3cas_store_info_get(&info, NULL));
	assert_true(poisoned(&info, sizeof(info)));
}

static void t_b3cas_hash_algo_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_hash_algo_name(B3CAS_HASH_BLAKE3), "blake3");
}

static void t_b3cas_store_put(void **state)
{
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_store_put", "store",
		   b3cas_store_put(NULL, &id, small, sizeof(small)));
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_store_put", "data",
		   b3cas_store_put(st, &id, NULL, 5));
	assert_true(poisoned(&id, sizeof(id)));
	/* id_out is optional; the duplicate still counts a reference */
	assert_int_equal(b3cas_store_put(st, NULL, small, sizeof(small)), 1);
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

static void t_b3cas_store_get(void **state)
{
	void *data = (void *)&data;
	size_t len = 77;

	(void)state;
	EINVAL_FOR("b3cas_store_get", "store",
		   b3cas_store_get(NULL, &id_small, &data, &len));
	EINVAL_FOR("b3cas_store_get", "id",
		   b3cas_store_get(st, NULL, &data, &len));
	EINVAL_FOR("b3cas_store_get", "data_out",
		   b3cas_store_get(st, &id_small, NULL, &len));
	EINVAL_FOR("b3cas_store_get", "len_out",
		   b3cas_store_get(st, &id_small, &data, NULL));
	EINVAL_FOR("b3cas_store_get", "len_out",
		   b3cas_store_get(st, &id_big, &data, NULL));
	assert_ptr_equal(data, (void *)&data);
	assert_int_equal(len, 77);
}

static void t_b3cas_free(void **state)
{
	(void)state;
	b3cas_free(NULL); /* accepted */
}

static void t_b3cas_store_exists(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_exists", "store",
		   b3cas_store_exists(NULL, &id_small));
	EINVAL_FOR("b3cas_store_exists", "id", b3cas_store_exists(st, NULL));
}

static void t_b3cas_store_delete(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_delete", "store",
		   b3cas_store_delete(NULL, &id_small));
	EINVAL_FOR("b3cas_store_delete", "id", b3cas_store_delete(st, NULL));
}

static void t_b3cas_ref_add(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_ref_add", "store", b3cas_ref_add(NULL, &id_small));
	EINVAL_FOR("b3cas_ref_add", "id", b3cas_ref_add(st, NULL));
}

static void t_b3cas_ref_remove(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_ref_remove", "store",
		   b3cas_ref_remove(NULL, &id_small));
	EINVAL_FOR("b3cas_ref_remove", "id", b3cas_ref_remove(st, NULL));
}

static void t_b3cas_refcount(void **state)
{
	uint64_t n = 42;

	(void)state;
	EINVAL_FOR("b3cas_refcount", "store",
		   b3cas_refcount(NULL, &id_small, &n));
	EINVAL_FOR("b3cas_refcount", "id", b3cas_refcount(st, NULL, &n));
	EINVAL_FOR("b3cas_refcount", "count",
		   b3cas_refcount(st, &id_small, NULL));
	assert_int_equal(n, 42);
	/* the failed calls changed no count */
	assert_int_equal(b3cas_refcount(st, &id_small, &n), 0);
	assert_int_equal(n, 1);
}

static void t_b3cas_gc(void **state)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r;

	(void)state;
	EINVAL_FOR("b3cas_gc", "store", b3cas_gc(NULL, NULL, NULL));
	o.dry_run = true;
	VERSION_REFUSED("gc", o, B3CAS_GC_OPTIONS_VERSION,
			"B3CAS_GC_OPTIONS_INIT", b3cas_gc(st, &o, &r));
	assert_int_equal(b3cas_gc(st, &o, &r), 0);
}

static void t_b3cas_dedup_check(void **state)
{
	b3cas_oid id;
	bool dup = false;

	(void)state;
	EINVAL_FOR("b3cas_dedup_check", "store",
		   b3cas_dedup_check(NULL, small, sizeof(small), &id, &dup));
	EINVAL_FOR("b3cas_dedup_check", "data",
		   b3cas_dedup_check(st, NULL, 5, &id, &dup));
	EINVAL_FOR("b3cas_dedup_check", "is_dup",
		   b3cas_dedup_check(st, small, sizeof(small), &id, NULL));
	/* id_out is optional */
	assert_int_equal(
		b3cas_dedup_check(st, small, sizeof(small), NULL, &dup), 0);
	assert_true(dup);
}

static void t_b3cas_store_stats(void **state)
{
	b3cas_stats stats;

	(void)state;
	EINVAL_FOR("b3cas_store_stats", "store",
		   b3cas_store_stats(NULL, &stats));
	EINVAL_FOR("b3cas_store_stats", "out", b3cas_store_stats(st, NULL));
}

static void t_b3cas_store_stat(void **state)
{
	b3cas_object_info info;

	(void)state;
	EINVAL_FOR("b3cas_store_stat", "store",
		   b3cas_store_stat(NULL, &id_small, &info));
	EINVAL_FOR("b3cas_store_stat", "id",
		   b3cas_store_stat(st, NULL, &info));
	EINVAL_FOR("b3cas_store_stat", "out",
		   b3cas_store_stat(st, &id_small, NULL));
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	(void)info;
	++*(int *)ctx;
	return 0;
}

static void t_b3cas_store_foreach(void **state)
{
	int n = 0;

	(void)state;
	EINVAL_FOR("b3cas_store_foreach", "store",
		   b3cas_store_foreach(NULL, count_object, &n));
	EINVAL_FOR("b3cas_store_foreach", "fn",
		   b3cas_store_foreach(st, NULL, &n));
	assert_int_equal(n, 0);
}

static void t_b3cas_store_put_batch(void **state)
{
	const void *data[2] = {small, big};
	const void *holed[2] = {small, NULL};
	size_t lens[2] = {sizeof(small), 10};
	b3cas_oid ids[2];
	bool dups[2];

	(void)state;
	EINVAL_FOR("b3cas_store_put_batch", "store",
		   b3cas_store_put_batch(NULL, ids, dups, data, lens, 2));
	EINVAL_FOR("b3cas_store_put_batch", "data",
		   b3cas_store_put_batch(st, ids, dups, NULL, lens, 2));
	EINVAL_FOR("b3cas_store_put_batch", "lens",
		   b3cas_store_put_batch(st, ids, dups, data, NULL, 2));
	b3cas_error_clear();
	assert_int_equal(b3cas_store_put_batch(st, ids, dups, holed, lens, 2),
			 B3CAS_EINVAL);
	assert_string_equal(b3cas_error_last(),
			    "b3cas_store_put_batch: data[1] is NULL but "
			    "lens[1] is 10");
	/* an empty batch needs no arrays; ids_out and dup_out are optional */
	assert_int_equal(b3cas_store_put_batch(st, NULL, NULL, NULL, NULL, 0),
			 0);
	assert_int_equal(b3cas_store_put_batch(st, NULL, NULL, data, lens, 1),
			 0);
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

static void t_b3cas_store_get_batch(void **state)
{
	void *bufs[1] = {NULL};
	size_t lens[1];
	int results[1];

	(void)state;
	EINVAL_FOR("b3cas_store_get_batch", "store",
		   b3cas_store_get_batch(NULL, &id_small, 1, bufs, lens,
					 results));
	EINVAL_FOR("b3cas_store_get_batch", "ids",
		   b3cas_store_get_batch(st, NULL, 1, bufs, lens, results));
	EINVAL_FOR("b3cas_store_get_batch", "data_out",
		   b3cas_store_get_batch(st, &id_small, 1, NULL, lens,
					 results));
	EINVAL_FOR("b3cas_store_get_batch", "lens_out",
		   b3cas_store_get_batch(st, &id_small, 1, bufs, NULL,
					 results));
	assert_int_equal(
		b3cas_store_get_batch(st, NULL, 0, NULL, NULL, NULL), 0);
	/* results is optional */
	assert_int_equal(
		b3cas_store_get_batch(st, &id_small, 1, bufs, lens, NULL), 0);
	assert_int_equal(lens[0], sizeof(small));
	assert_memory_equal(bufs[0], small, sizeof(small));
	b3cas_free(bufs[0]);
}

static void t_b3cas_writer_open(void **state)
{
	b3cas_writer *w = (b3cas_writer *)&w;

	(void)state;
	EINVAL_FOR("b3cas_writer_open", "out", b3cas_writer_open(NULL, st));
	EINVAL_FOR("b3cas_writer_open", "store", b3cas_writer_open(&w, NULL));
	assert_ptr_equal(w, (b3cas_writer *)&w);
}

static void t_b3cas_writer_write(void **state)
{
	b3cas_writer *w;
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_writer_write", "w",
		   b3cas_writer_write(NULL, small, 5));
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	EINVAL_FOR("b3cas_writer_write", "data",
		   b3cas_writer_write(w, NULL, 5));
	/* the refused call left the writer as it was */
	assert_int_equal(b3cas_writer_write(w, NULL, 0), 0);
	assert_int_equal(b3cas_writer_write(w, small, sizeof(small)), 0);
	assert_int_equal(b3cas_writer_commit(w, &id), 1);
	assert_true(b3cas_oid_equal(&id, &id_small));
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

static void t_b3cas_writer_commit(void **state)
{
	b3cas_writer *w;

	(void)state;
	EINVAL_FOR("b3cas_writer_commit", "w",
		   b3cas_writer_commit(NULL, &id_small));
	/* id_out is optional */
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	assert_int_equal(b3cas_writer_write(w, big, sizeof(big)), 0);
	assert_int_equal(b3cas_writer_commit(w, NULL), 1);
	assert_int_equal(b3cas_store_delete(st, &id_big), 1);
}

static void t_b3cas_writer_abort(void **state)
{
	(void)state;
	b3cas_writer_abort(NULL); /* accepted */
}

static void t_b3cas_reader_open(void **state)
{
	b3cas_reader *r = (b3cas_reader *)&r;

	(void)state;
	EINVAL_FOR("b3cas_reader_open", "out",
		   b3cas_reader_open(NULL, st, &id_big));
	EINVAL_FOR("b3cas_reader_open", "store",
		   b3cas_reader_open(&r, NULL, &id_big));
	EINVAL_FOR("b3cas_reader_open", "id",
		   b3cas_reader_open(&r, st, NULL));
	assert_ptr_equal(r, (b3cas_reader *)&r);
}

static void t_b3cas_reader_size(void **state)
{
	(void)state;
	MSG_FOR("b3cas_reader_size", "r",
		assert_int_equal(b3cas_reader_size(NULL), 0));
}

static void t_b3cas_reader_read(void **state)
{
	uint8_t buf[sizeof(big)];
	b3cas_reader *r;

	(void)state;
	EINVAL_FOR("b3cas_reader_read", "r",
		   b3cas_reader_read(NULL, buf, sizeof(buf)));
	assert_int_equal(b3cas_reader_open(&r, st, &id_big), 0);
	EINVAL_FOR("b3cas_reader_read", "buf",
		   b3cas_reader_read(r, NULL, 10));
	assert_int_equal(b3cas_reader_read(r, NULL, 0), 0);
	/* the refused call moved nothing */
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	b3cas_reader_close(r);
}

static void t_b3cas_reader_close(void **state)
{
	(void)state;
	b3cas_reader_close(NULL); /* accepted */
}

/* ---- cache.h ------------------------------------------------------------ */

static void t_b3cas_store_get_view(void **state)
{
	b3cas_blob *b = (b3cas_blob *)&b;

	(void)state;
	EINVAL_FOR("b3cas_store_get_view", "store",
		   b3cas_store_get_view(NULL, &id_small, &b));
	EINVAL_FOR("b3cas_store_get_view", "id",
		   b3cas_store_get_view(st, NULL, &b));
	EINVAL_FOR("b3cas_store_get_view", "out",
		   b3cas_store_get_view(st, &id_small, NULL));
	assert_ptr_equal(b, (b3cas_blob *)&b);
}

static void t_b3cas_blob_data(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_data", "blob", assert_null(b3cas_blob_data(NULL)));
}

static void t_b3cas_blob_size(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_size", "blob",
		assert_int_equal(b3cas_blob_size(NULL), 0));
}

static void t_b3cas_blob_retain(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_retain", "blob",
		assert_null(b3cas_blob_retain(NULL)));
}

static void t_b3cas_blob_release(void **state)
{
	(void)state;
	b3cas_blob_release(NULL); /* accepted */
}

static void t_b3cas_cache_lookup(void **state)
{
	b3cas_blob *b = NULL;

	(void)state;
	EINVAL_FOR("b3cas_cache_lookup", "store",
		   b3cas_cache_lookup(NULL, &id_small, &b));
	EINVAL_FOR("b3cas_cache_lookup", "id",
		   b3cas_cache_lookup(st, NULL, &b));
	EINVAL_FOR("b3cas_cache_lookup", "out",
		   b3cas_cache_lookup(st, &id_small, NULL));
	assert_null(b);
}

static void t_b3cas_cache_load(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_load", "store",
		   b3cas_cache_load(NULL, &id_small));
	EINVAL_FOR("b3cas_cache_load", "id", b3cas_cache_load(st, NULL));
}

static void t_b3cas_cache_evict(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_evict", "store",
		   b3cas_cache_evict(NULL, &id_small));
	EINVAL_FOR("b3cas_cache_evict", "id", b3cas_cache_evict(st, NULL));
}

static void t_b3cas_cache_resize(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_resize", "store",
		   b3cas_cache_resize(NULL, 1 << 20, 0));
}

static void t_b3cas_cache_stats_get(void **state)
{
	b3cas_cache_stats cs;

	(void)state;
	poison(&cs, sizeof(cs));
	MSG_FOR("b3cas_cache_stats_get", "store",
		b3cas_cache_stats_get(NULL, &cs));
	assert_true(poisoned(&cs, sizeof(cs)));
	MSG_FOR("b3cas_cache_stats_get", "out",
		b3cas_cache_stats_get(st, NULL));
}

/* ---- integrity.h -------------------------------------------------------- */

static void t_b3cas_fsck_kind_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_fsck_kind_name((b3cas_fsck_kind)999),
			    "unknown");
}

static void t_b3cas_fsck(void **state)
{
	b3cas_fsck_options o = B3CAS_FSCK_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_fsck", "store", b3cas_fsck(NULL, NULL, NULL));
	VERSION_REFUSED("fsck", o, B3CAS_FSCK_OPTIONS_VERSION,
			"B3CAS_FSCK_OPTIONS_INIT", b3cas_fsck(st, &o, NULL));
}

static void t_b3cas_scrub(void **state)
{
	b3cas_scrub_options o = B3CAS_SCRUB_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_scrub", "store", b3cas_scrub(NULL, NULL, NULL));
	VERSION_REFUSED("scrub", o, B3CAS_SCRUB_OPTIONS_VERSION,
			"B3CAS_SCRUB_OPTIONS_INIT", b3cas_scrub(st, &o, NULL));
}

static void t_b3cas_backup(void **state)
{
	b3cas_backup_options o = B3CAS_BACKUP_OPTIONS_INIT;
	char dest[64];

	(void)state;
	make_dir(dest, sizeof(dest), "bk");
	EINVAL_FOR("b3cas_backup", "store",
		   b3cas_backup(NULL, dest, NULL, NULL));
	EINVAL_FOR("b3cas_backup", "dest_dir",
		   b3cas_backup(st, NULL, NULL, NULL));
	VERSION_REFUSED("backup", o, B3CAS_BACKUP_OPTIONS_VERSION,
			"B3CAS_BACKUP_OPTIONS_INIT",
			b3cas_backup(st, dest, &o, NULL));
	remove_dir(dest);
}

static void t_b3cas_restore(void **state)
{
	b3cas_restore_options o = B3CAS_RESTORE_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_restore", "store",
		   b3cas_restore(NULL, root, NULL, NULL));
	EINVAL_FOR("b3cas_restore", "src_dir",
		   b3cas_restore(st, NULL, NULL, NULL));
	VERSION_REFUSED("restore", o, B3CAS_RESTORE_OPTIONS_VERSION,
			"B3CAS_RESTORE_OPTIONS_INIT",
			b3cas_restore(st, root, &o, NULL));
}

static void t_b3cas_recover_action_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_recover_action_name(B3CAS_RECOVER_REBUILT),
			    "rebuilt");
}

static void t_b3cas_recover(void **state)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_recover", "root_dir", b3cas_recover(NULL, NULL, NULL));
	VERSION_REFUSED("recover", o, B3CAS_RECOVER_OPTIONS_VERSION,
			"B3CAS_RECOVER_OPTIONS_INIT",
			b3cas_recover(root, &o, NULL));
}

/* ---- lifetimes: close with writers or readers open ---------------------- */

static void test_close_with_open_writer(void **state)
{
	b3cas_store *s;
	b3cas_writer *w;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closew");
	assert_int_equal(b3cas_writer_open(&w, s), 0);
	assert_int_equal(b3cas_writer_write(w, big, sizeof(big)), 0);
	b3cas_error_clear();
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 1 writer and 0 readers open"));
	/* the store stayed open: the writer finishes, the store works */
	assert_int_equal(b3cas_writer_commit(w, &id), 0);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	assert_int_equal(b3cas_store_close(s), 0);
	/* and what the writer stored is there after a reopen */
	assert_int_equal(b3cas_store_open(&s, dir, NULL), 0);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

static void test_close_with_open_reader(void **state)
{
	uint8_t buf[sizeof(big)];
	b3cas_store *s;
	b3cas_reader *r;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closer");
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	assert_int_equal(b3cas_reader_open(&r, s, &id), 0);
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 0 writers and 1 reader open"));
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	b3cas_reader_close(r);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

/* Several open, finished in any way (commit, abort, a failed commit's
 * free, close): each one counts until it is gone, and only then does
 * close go through. */
static void test_close_counts_every_stream(void **state)
{
	b3cas_writer *w[3];
	b3cas_reader *r[2];
	b3cas_store *s;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closen");
	assert_int_equal(b3cas_store_put(s, &id, small, sizeof(small)), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b3cas_writer_open(&w[i], s), 0);
		/* one spilled to tmp/, one kept in memory, one empty */
		assert_int_equal(b3cas_writer_write(w[i], big,
						    i == 0 ? sizeof(big) : (size_t)i),
				 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(b3cas_reader_open(&r[i], s, &id), 0);
	/* a reader that fails to open does not count */
	memset(&id, 0x5a, sizeof(id));
	b3cas_reader *none = NULL;
	assert_int_equal(b3cas_reader_open(&none, s, &id), B3CAS_ENOTFOUND);
	assert_null(none);

	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 3 writers and 2 readers open"));
	b3cas_writer_abort(w[0]);
	assert_int_equal(b3cas_writer_commit(w[1], NULL), 0);
	b3cas_reader_close(r[0]);
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 1 writer and 1 reader open"));
	b3cas_reader_close(r[1]);
	b3cas_writer_abort(w[2]);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

/* Backup and restore use readers and writers inside the library: they
 * must give every one back, or the stores could never be closed. */
static void test_close_after_internal_streams(void **state)
{
	b3cas_store *s, *d;
	b3cas_backup_report br;
	b3cas_oid id;
	char dir[64], dest[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closei");
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	make_dir(dest, sizeof(dest), "closeid");
	assert_int_equal(b3cas_backup(s, dest, NULL, &br), 0);
	assert_int_equal(br.copied, 1);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_int_equal(b3cas_store_open(&d, dest, NULL), 0);
	assert_int_equal(b3cas_store_exists(d, &id), 1);
	assert_int_equal(b3cas_store_close(d), 0);
	remove_dir(dir);
	remove_dir(dest);
}

/* Views are documented to outlive their store. */
static void test_view_outlives_store(void **state)
{
	b3cas_store *s;
	b3cas_blob *small_view, *big_view;
	b3cas_oid a, b;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "view");
	assert_int_equal(b3cas_store_put(s, &a, small, sizeof(small)), 0);
	assert_int_equal(b3cas_store_put(s, &b, big, sizeof(big)), 0);
	assert_int_equal(b3cas_store_get_view(s, &a, &small_view), 0);
	assert_int_equal(b3cas_store_get_view(s, &b, &big_view), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
	assert_int_equal(b3cas_blob_size(small_view), sizeof(small));
	assert_memory_equal(b3cas_blob_data(small_view), small, sizeof(small));
	assert_int_equal(b3cas_blob_size(big_view), sizeof(big));
	assert_memory_equal(b3cas_blob_data(big_view), big, sizeof(big));
	b3cas_blob_release(small_view);
	b3cas_blob_release(big_view);
}

/* ---- every public function has its test --------------------------------- */

static void test_every_function_covered(void **state);
static void test_every_function_documents_errors(void **state);

#define T(fn) cmocka_unit_test(t_##fn)
static const struct CMUnitTest misuse_tests[] = {
	T(b3cas_error_last), T(b3cas_error_clear), T(b3cas_strerror),
	T(b3cas_version),

	T(b3cas_hasher_init), T(b3cas_hasher_init_keyed),
	T(b3cas_hasher_init_derive_key), T(b3cas_hasher_init_derive_key_raw),
	T(b3cas_hasher_update), T(b3cas_hasher_finalize),
	T(b3cas_hasher_finalize_seek), T(b3cas_hasher_reset), T(b3cas_hash),
	T(b3cas_hash_keyed), T(b3cas_derive_key), T(b3cas_hash_batch),
	T(b3cas_hash_batch_keyed), T(b3cas_pool_new), T(b3cas_pool_free),
	T(b3cas_pool_threads), T(b3cas_hasher_update_parallel),
	T(b3cas_hash_parallel), T(b3cas_simd_detected), T(b3cas_simd_active),
	T(b3cas_simd_name), T(b3cas_simd_level_name), T(b3cas_simd_parse),
	T(b3cas_simd_force),

	T(b3cas_oid_fmt), T(b3cas_oid_parse), T(b3cas_oid_equal),
	T(b3cas_store_open), T(b3cas_store_close), T(b3cas_store_sync),
	T(b3cas_store_interrupt),
	T(b3cas_store_info_get), T(b3cas_hash_algo_name), T(b3cas_store_put),
	T(b3cas_store_get), T(b3cas_free), T(b3cas_store_exists),
	T(b3cas_store_delete), T(b3cas_ref_add), T(b3cas_ref_remove),
	T(b3cas_refcount), T(b3cas_gc), T(b3cas_dedup_check),
	T(b3cas_store_stats), T(b3cas_store_stat), T(b3cas_store_foreach),
	T(b3cas_store_put_batch), T(b3cas_store_get_batch),
	T(b3cas_writer_open), T(b3cas_writer_write), T(b3cas_writer_commit),
	T(b3cas_writer_abort), T(b3cas_reader_open), T(b3cas_reader_size),
	T(b3cas_reader_read), T(b3cas_reader_close),

	T(b3cas_store_get_view), T(b3cas_blob_data), T(b3cas_blob_size),
	T(b3cas_blob_retain), T(b3cas_blob_release), T(b3cas_cache_lookup),
	T(b3cas_cache_load), T(b3cas_cache_evict), T(b3cas_cache_resize),
	T(b3cas_cache_stats_get),

	T(b3cas_fsck_kind_name), T(b3cas_fsck), T(b3cas_scrub),
	T(b3cas_backup), T(b3cas_restore),
	T(b3cas_recover_action_name), T(b3cas_recover),

	cmocka_unit_test(test_every_function_covered),
	cmocka_unit_test(test_every_function_documents_errors),
};
#undef T

#define N_MISUSE (sizeof(misuse_tests) / sizeof(misuse_tests[0]))

static bool has_test(const char *fn)
{
	for (size_t i = 0; i < N_MISUSE; i++)
		if (strncmp(misuse_tests[i].name, "t_", 2) == 0 &&
		    strcmp(misuse_tests[i].name + 2, fn) == 0)
			return true;
	return false;
}

static char *read_all(const char *path)
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
	return buf;
}

/* What a header walk looks at: the header's text, where a declaration
 * starts (its line) and the function's name. */
typedef void (*decl_visit)(const char *path, const char *text,
			   const char *line, const char *name, int *bad);

/*
 * The names declared with B3CAS_EXTERN in one header: for each use that
 * is not the macro's own #define, the identifier just before the first
 * '(' of the declaration, passed to visit. Adds to *found.
 */
static void scan_header(const char *path, decl_visit visit, int *found,
			int *bad)
{
	char *text = read_all(path);
	const char *p = text;

	while ((p = strstr(p, "B3CAS_EXTERN")) != NULL) {
		const char *line = p, *paren, *end;
		char name[128];

		while (line > text && line[-1] != '\n')
			line--;
		p += strlen("B3CAS_EXTERN");
		if (line[0] == '#')
			continue; /* the macro itself */
		paren = strchr(p, '(');
		assert_non_null(paren);
		end = paren;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
				   end[-1] == '\n'))
			end--;
		const char *start = end;
		while (start > p && (start[-1] == '_' ||
				     (start[-1] >= 'a' && start[-1] <= 'z') ||
				     (start[-1] >= '0' && start[-1] <= '9')))
			start--;
		assert_true(end > start && (size_t)(end - start) < sizeof(name));
		memcpy(name, start, (size_t)(end - start));
		name[end - start] = '\0';
		++*found;
		visit(path, text, line, name, bad);
	}
	free(text);
}

/* Every header of include/b3cas/ through scan_header; returns the number
 * of declarations, *bad those visit found wanting. */
static int scan_headers(decl_visit visit, int *bad)
{
	DIR *d = opendir(B3CAS_INCLUDE_DIR);
	struct dirent *e;
	int found = 0, headers = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[512];

		if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", B3CAS_INCLUDE_DIR,
			 e->d_name);
		scan_header(path, visit, &found, bad);
		headers++;
	}
	closedir(d);
	assert_true(headers >= 6);
	return found;
}

static void visit_covered(const char *path, const char *text,
			  const char *line, const char *name, int *missing)
{
	(void)text;
	(void)line;
	if (has_test(name))
		return;
	print_error("%s: public function %s has no t_%s test in "
		    "test_api_misuse.c\n", path, name, name);
	++*missing;
}

static void test_every_function_covered(void **state)
{
	int missing = 0, found;

	(void)state;
	found = scan_headers(visit_covered, &missing);
	assert_int_equal(missing, 0);
	/* every t_ test is a public function, so this is the exact count
	 * (the two header tests aside) */
	assert_int_equal((size_t)found, N_MISUSE - 2);
}

/*
 * The comment that documents the declaration at line: the last one
 * before it, with nothing between but other declarations (functions
 * declared together share one comment). NULL if there is none. *len is
 * its length.
 */
static const char *doc_comment(const char *text, const char *line,
			       size_t *len)
{
	const char *end = NULL, *start;

	for (const char *q = line; q > text + 1; q--)
		if (q[-2] == '*' && q[-1] == '/') {
			end = q;
			break;
		}
	if (!end)
		return NULL;
	for (const char *q = end; q < line; q++)
		if (*q == '{' || *q == '}' || *q == '#' ||
		    strncmp(q, "typedef", 7) == 0)
			return NULL; /* a type or macro lies between */
	for (start = end - 2; start > text; start--)
		if (start[0] == '/' && start[1] == '*')
			break;
	*len = (size_t)(end - start);
	return start;
}

/* Does s[0..len) start with words (any case), where a space in words
 * matches a line break of the comment (" *" and blanks) too? */
static bool starts_with(const char *s, const char *end, const char *words)
{
	for (; *words; words++) {
		if (*words == ' ') {
			const char *from = s;

			while (s < end && strchr(" \t\n*", *s))
				s++;
			if (s == from)
				return false;
		} else if (s == end || tolower((unsigned char)*s++) !=
					       tolower((unsigned char)*words)) {
			return false;
		}
	}
	return true;
}

static bool mentions(const char *s, size_t len, const char *words)
{
	for (size_t i = 0; i < len; i++)
		if (starts_with(s + i, s + len, words))
			return true;
	return false;
}

/* The convention of include/b3cas/common.h ("Documentation"): a comment
 * names the B3CAS_E... codes, or says the function never fails. */
static void visit_documented(const char *path, const char *text,
			     const char *line, const char *name, int *bad)
{
	size_t len = 0;
	const char *doc = doc_comment(text, line, &len);

	if (doc && (mentions(doc, len, "B3CAS_E") ||
		    mentions(doc, len, "never fails")))
		return;
	print_error("%s: %s's comment %s\n", path, name,
		    doc ? "names no B3CAS_E... error and does not say "
			  "\"never fails\""
			: "is missing");
	++*bad;
}

static void test_every_function_documents_errors(void **state)
{
	int bad = 0;

	(void)state;
	assert_true(scan_headers(visit_documented, &bad) > 0);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest lifetime_tests[] = {
		cmocka_unit_test(test_close_with_open_writer),
		cmocka_unit_test(test_close_with_open_reader),
		cmocka_unit_test(test_close_counts_every_stream),
		cmocka_unit_test(test_close_after_internal_streams),
		cmocka_unit_test(test_view_outlives_store),
	};
	int failed;

	failed = _cmocka_run_group_tests("misuse", misuse_tests, N_MISUSE,
					 group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("lifetimes", lifetime_tests,
					      NULL, NULL);
	return failed ? 1 : 0;
}
