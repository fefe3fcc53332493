/*
 * test_parallel.c - multithreaded hashing gives exactly the single-thread
 * result: pools of 1 to 8 threads, one-shot and incremental (random split
 * points), sizes from 0 to tens of MiB; several threads sharing one pool
 * at once; pools created and freed in a loop (a worker that starts late
 * must still see the stop); argument errors. Run under ThreadSanitizer in
 * CI (label "concurrency").
 */
#include "test_util.h"

#include <pthread.h>

#include "blake3/reference.h"

#define BIG ((size_t)40 << 20)

static uint64_t rng;
static uint8_t *data;

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_parallel");
	data = malloc(BIG);
	if (!data)
		return -1;
	tu_fill_random(data, 1 << 20, &rng);
	for (size_t off = 1 << 20; off < BIG; off += 1 << 20) {
		memcpy(data + off, data, 1 << 20);
		data[off] ^= (uint8_t)(off >> 20);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(data);
	return 0;
}

static size_t random_size(void)
{
	switch (tu_rand(&rng) % 5) {
	case 0: return tu_rand(&rng) % 5000;
	case 1: return ((size_t)1024 << (tu_rand(&rng) % 15)); /* 2^k KiB */
	case 2: return tu_rand(&rng) % (4 << 20);
	case 3: return tu_rand(&rng) % BIG;
	default: return (1 + tu_rand(&rng) % 64) * 65536 + tu_rand(&rng) % 3;
	}
}

static void test_pools_match_single_thread(void **state)
{
	size_t n = 0;

	(void)state;
	for (unsigned threads = 1; threads <= 8; threads++) {
		b3cas_pool *pool;

		assert_int_equal(b3cas_pool_new(&pool, threads), 0);
		assert_int_equal(b3cas_pool_threads(pool), threads);
		for (int rep = 0; rep < 12; rep++) {
			size_t len = random_size();
			uint8_t want[32], got[32];
			b3cas_hasher h;

			b3cas_hash(want, data, len);
			b3cas_hash_parallel(got, data, len, pool);
			assert_memory_equal(got, want, 32);
			/* incremental, pieces of random size */
			b3cas_hasher_init(&h);
			for (size_t done = 0; done < len;) {
				size_t piece = tu_rand(&rng) % (len + 1);

				if (piece > len - done)
					piece = len - done;
				b3cas_hasher_update_parallel(&h, data + done,
							     piece, pool);
				done += piece;
			}
			b3cas_hasher_finalize(got, 32, &h);
			assert_memory_equal(got, want, 32);
			n++;
		}
		b3cas_pool_free(pool);
	}
	fprintf(stderr, "parallel: %zu sizes over pools of 1..8 threads\n",
		n);
}

/* The single-thread result itself, against the reference, a few times. */
static void test_parallel_vs_reference(void **state)
{
	b3cas_pool *pool;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 0), 0);
	for (int rep = 0; rep < 4; rep++) {
		size_t len = tu_rand(&rng) % (6 << 20);
		uint8_t want[32], got[32];

		ref_hash(want, 32, 0, data, len);
		b3cas_hash_parallel(got, data, len, pool);
		assert_memory_equal(got, want, 32);
	}
	b3cas_pool_free(pool);
}

typedef struct sharer {
	b3cas_pool *pool;
	uint64_t seed;
	int failures;
} sharer;

static void *share_pool(void *arg)
{
	sharer *s = arg;

	for (int i = 0; i < 25; i++) {
		size_t len = (size_t)(tu_rand(&s->seed) % (8 << 20));
		uint8_t a[32], b[32];

		b3cas_hash_parallel(a, data, len, s->pool);
		b3cas_hash(b, data, len);
		s->failures += memcmp(a, b, 32) != 0;
	}
	return NULL;
}

static void test_shared_pool(void **state)
{
	b3cas_pool *pool;
	pthread_t t[4];
	sharer s[4];

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 3), 0);
	for (int i = 0; i < 4; i++) {
		s[i] = (sharer){pool, tu_rand(&rng), 0};
		assert_int_equal(pthread_create(&t[i], NULL, share_pool, &s[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].failures, 0);
	}
	b3cas_pool_free(pool);
}

static void test_pool_lifecycle(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	for (int i = 0; i < 200; i++) {
		b3cas_pool *pool;

		assert_int_equal(b3cas_pool_new(&pool, 2 + i % 3), 0);
		if (i % 2) {
			b3cas_hash_parallel(a, data, 1 << 20, pool);
			b3cas_hash(b, data, 1 << 20);
			assert_memory_equal(a, b, 32);
		}
		b3cas_pool_free(pool); /* must not hang */
	}
	b3cas_pool_free(NULL);
}

static void test_pool_errors(void **state)
{
	b3cas_pool *pool = (b3cas_pool *)&pool;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 300), B3CAS_EINVAL);
	assert_null(pool);
	assert_non_null(strstr(b3cas_error_last(), "300"));
	assert_int_equal(b3cas_pool_threads(NULL), 1);
	/* NULL pool: single thread, same answer */
	uint8_t a[32], b[32];

	b3cas_hash_parallel(a, data, 3 << 20, NULL);
	b3cas_hash(b, data, 3 << 20);
	assert_memory_equal(a, b, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pools_match_single_thread),
		cmocka_unit_test(test_parallel_vs_reference),
		cmocka_unit_test(test_shared_pool),
		cmocka_unit_test(test_pool_lifecycle),
		cmocka_unit_test(test_pool_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
