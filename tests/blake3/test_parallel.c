/*
 * test_parallel.c - multithreaded hashing gives exactly the single-thread
 * result, and a pool survives being shared.
 *
 * Pools of 1 to 8 threads hash random sizes from 0 to 40 MiB (a few large
 * ones, exact powers of two, sizes one byte off a chunk or subtree
 * boundary) one-shot and through b3cas_hasher_update_parallel in random
 * pieces, in every mode; the result must equal b3cas_hash, which is itself
 * held against the independent reference on a sample. Several threads
 * then hash through one pool at once (a busy pool makes the later caller
 * hash alone), also while another thread changes the SIMD level. Pools are
 * created and freed in a loop (a worker that starts late must still see
 * the stop; nothing may leak), and the argument errors are checked. Run
 * under ThreadSanitizer in CI (label "concurrency").
 */
#include "test_util.h"

#include <pthread.h>
#include <unistd.h>

#include "blake3/reference.h"

#define BIG ((size_t)40 << 20)
#define MIB ((size_t)1 << 20)

static uint64_t rng;
static uint8_t *data;
static const uint8_t key[32] = "b3cas test_parallel 32-byte key!";
static const char context[] = "b3cas test_parallel context";

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_parallel");
	data = malloc(BIG);
	if (!data)
		return -1;
	tu_fill_random(data, MIB, &rng);
	for (size_t off = MIB; off < BIG; off += MIB) {
		memcpy(data + off, data, MIB);
		data[off] ^= (uint8_t)(off / MIB); /* no two MiB alike */
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(data);
	return 0;
}

/* Mostly small and medium sizes; about one in ten up to 40 MiB. */
static size_t random_size(uint64_t *r)
{
	size_t pow2 = (size_t)1024 << (tu_rand(r) % 15); /* up to 16 MiB */

	switch (tu_rand(r) % 10) {
	case 0: return tu_rand(r) % 5000;
	case 1: return pow2;
	case 2: return pow2 + 1 - tu_rand(r) % 3; /* 2^k - 1 .. 2^k + 1 */
	case 3: return pow2 + 1024 * (tu_rand(r) % 3) - 1024;
	case 4:
	case 5: return tu_rand(r) % (4 * MIB);
	case 6: return (1 + tu_rand(r) % 128) * 65536 + tu_rand(r) % 3;
	case 7: return 2 * 64 * 1024 + tu_rand(r) % 2048 - 1024;
	case 8: return MIB + tu_rand(r) % MIB;
	default: return tu_rand(r) % BIG;
	}
}

enum mode { PLAIN, KEYED, DERIVE, NMODES };

static const char *const mode_names[] = {"hash", "keyed", "derive-key"};

static void start(b3cas_hasher *h, enum mode m)
{
	if (m == KEYED)
		b3cas_hasher_init_keyed(h, key);
	else if (m == DERIVE)
		b3cas_hasher_init_derive_key(h, context);
	else
		b3cas_hasher_init(h);
}

static void one_thread(uint8_t out[32], enum mode m, const uint8_t *in,
		       size_t len)
{
	if (m == KEYED)
		b3cas_hash_keyed(out, key, in, len);
	else if (m == DERIVE)
		b3cas_derive_key(out, 32, context, in, len);
	else
		b3cas_hash(out, in, len);
}

/* Feed in[0..len) to update_parallel in random pieces. */
static void feed_parallel(b3cas_hasher *h, const uint8_t *in, size_t len,
			  b3cas_pool *pool, uint64_t *r)
{
	size_t done = 0;

	while (done < len) {
		size_t piece;

		switch (tu_rand(r) % 4) {
		case 0: piece = tu_rand(r) % 3000; break;
		case 1: piece = (size_t)1024 << (tu_rand(r) % 14); break;
		default: piece = tu_rand(r) % (len + 1); break;
		}
		if (piece > len - done)
			piece = len - done;
		b3cas_hasher_update_parallel(h, in + done, piece, pool);
		done += piece;
	}
}

static void test_pools_match_single_thread(void **state)
{
	size_t n = 0, bytes = 0;

	(void)state;
	for (unsigned threads = 1; threads <= 8; threads++) {
		b3cas_pool *pool;

		assert_int_equal(b3cas_pool_new(&pool, threads), 0);
		assert_int_equal(b3cas_pool_threads(pool), threads);
		for (int rep = 0; rep < 12; rep++) {
			enum mode m = (enum mode)(rep % NMODES);
			size_t len = random_size(&rng);
			const uint8_t *in = data + (BIG - len);
			uint8_t want[32], got[32];
			b3cas_hasher h;

			one_thread(want, m, in, len);
			if (m == PLAIN) {
				b3cas_hash_parallel(got, in, len, pool);
				tu_expect_mem(got, want, 32,
					      "b3cas_hash_parallel of %zu "
					      "bytes, %u threads",
					      len, threads);
			}
			start(&h, m);
			feed_parallel(&h, in, len, pool, &rng);
			b3cas_hasher_finalize(got, 32, &h);
			tu_expect_mem(got, want, 32,
				      "%s update_parallel of %zu bytes in "
				      "pieces, %u threads",
				      mode_names[m], len, threads);
			n++;
			bytes += len;
		}
		b3cas_pool_free(pool);
	}
	fprintf(stderr, "parallel: %zu sizes (%zu MiB) over pools of 1..8 "
		"threads\n", n, bytes >> 20);
}

/* Exact powers of two and their neighbours, one-shot, 4 threads. */
static void test_power_of_two_sizes(void **state)
{
	b3cas_pool *pool;
	size_t n = 0;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 4), 0);
	for (size_t len = 64 * 1024; len <= 32 * MIB; len *= 2) {
		for (int d = -1; d <= 1; d++) {
			const uint8_t *in = data + (BIG - (len + d));
			uint8_t want[32], got[32];

			b3cas_hash(want, in, len + d);
			b3cas_hash_parallel(got, in, len + d, pool);
			tu_expect_mem(got, want, 32,
				      "b3cas_hash_parallel of %zu bytes",
				      len + d);
			n++;
		}
	}
	b3cas_pool_free(pool);
	fprintf(stderr, "parallel: %zu sizes around powers of two\n", n);
}

/* The single-thread result itself against the reference, a few times. */
static void test_parallel_vs_reference(void **state)
{
	b3cas_pool *pool;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 0), 0);
	for (int rep = 0; rep < 4; rep++) {
		size_t len = rep ? tu_rand(&rng) % (6 * MIB) : 4 * MIB + 1;
		uint8_t want[32], got[32];

		ref_hash(want, 32, 0, data, len);
		b3cas_hash_parallel(got, data, len, pool);
		tu_expect_mem(got, want, 32,
			      "b3cas_hash_parallel of %zu bytes vs reference",
			      len);
	}
	b3cas_pool_free(pool);
}

typedef struct sharer {
	b3cas_pool *pool;
	uint64_t seed;
	int hashes;
	int failures;
	size_t bad_len;
} sharer;

static void *share_pool(void *arg)
{
	sharer *s = arg;

	for (int i = 0; i < s->hashes; i++) {
		size_t len = (size_t)(tu_rand(&s->seed) % (6 * MIB));
		const uint8_t *in = data + tu_rand(&s->seed) % (BIG - len);
		uint8_t a[32], b[32];
		b3cas_hasher h;

		b3cas_hash(b, in, len);
		if (i % 2) {
			b3cas_hash_parallel(a, in, len, s->pool);
		} else {
			b3cas_hasher_init(&h);
			feed_parallel(&h, in, len, s->pool, &s->seed);
			b3cas_hasher_finalize(a, 32, &h);
		}
		if (memcmp(a, b, 32) != 0) {
			s->failures++;
			s->bad_len = len;
		}
	}
	return NULL;
}

static void run_sharers(b3cas_pool *pool, int nthreads, int hashes,
			bool force_levels)
{
	pthread_t t[8];
	sharer s[8];

	for (int i = 0; i < nthreads; i++) {
		s[i] = (sharer){pool, tu_rand(&rng), hashes, 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, share_pool, &s[i]),
				 0);
	}
	if (force_levels) {
		/* hashes in flight finish correctly at whatever level */
		for (int i = 0; i < 300; i++) {
			tu_force(i % tu_levels());
			usleep(200);
		}
		tu_force(tu_levels() - 1);
	}
	for (int i = 0; i < nthreads; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (s[i].failures)
			fail_msg("thread %d: %d of %d hashes through a shared "
				 "pool wrong (last: %zu bytes)",
				 i, s[i].failures, hashes, s[i].bad_len);
	}
	fprintf(stderr, "shared pool of %u: %d threads x %d hashes%s\n",
		b3cas_pool_threads(pool), nthreads, hashes,
		force_levels ? ", SIMD level switched meanwhile" : "");
}

static void test_shared_pool(void **state)
{
	b3cas_pool *pool;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 3), 0);
	run_sharers(pool, 4, 20, false);
	run_sharers(pool, 2, 10, true);
	b3cas_pool_free(pool);
}

static void test_pool_lifecycle(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	b3cas_hash(b, data, MIB);
	for (int i = 0; i < 200; i++) {
		b3cas_pool *pool;

		assert_int_equal(b3cas_pool_new(&pool, 2 + i % 7), 0);
		if (i % 2) {
			b3cas_hash_parallel(a, data, MIB, pool);
			assert_memory_equal(a, b, 32);
		}
		b3cas_pool_free(pool); /* must not hang */
	}
	b3cas_pool_free(NULL);
	fprintf(stderr, "pool lifecycle: 200 pools\n");
}

static void test_pool_errors(void **state)
{
	b3cas_pool *pool = (b3cas_pool *)&pool;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 300), B3CAS_EINVAL);
	assert_null(pool);
	assert_non_null(strstr(b3cas_error_last(), "300"));
	assert_int_equal(b3cas_pool_new(&pool, 257), B3CAS_EINVAL);
	assert_null(pool);
	assert_int_equal(b3cas_pool_threads(NULL), 1);
	/* 0: one per online CPU */
	assert_int_equal(b3cas_pool_new(&pool, 0), 0);
	assert_int_equal(b3cas_pool_threads(pool),
			 cpus > 0 ? (unsigned)cpus : 1u);
	b3cas_pool_free(pool);
	/* the largest pool allowed works */
	assert_int_equal(b3cas_pool_new(&pool, 256), 0);
	assert_int_equal(b3cas_pool_threads(pool), 256);
	b3cas_hash(b, data, 3 * MIB);
	b3cas_hash_parallel(a, data, 3 * MIB, pool);
	assert_memory_equal(a, b, 32);
	b3cas_pool_free(pool);
	/* NULL pool: single thread, same answer */
	b3cas_hash_parallel(a, data, 3 * MIB, NULL);
	assert_memory_equal(a, b, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pools_match_single_thread),
		cmocka_unit_test(test_power_of_two_sizes),
		cmocka_unit_test(test_parallel_vs_reference),
		cmocka_unit_test(test_shared_pool),
		cmocka_unit_test(test_pool_lifecycle),
		cmocka_unit_test(test_pool_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
