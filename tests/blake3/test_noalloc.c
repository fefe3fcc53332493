/*
 * test_noalloc.c - the hasher and the one-shot and batch functions never
 * touch the heap. The test is linked with --wrap for every allocation
 * function, so each call the library makes is counted here; the count must
 * not move across any hashing call, at any SIMD level. As a check on the
 * check, b3cas_pool_new must move it.
 */
#include "test_util.h"

static long allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
	allocations++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	allocations++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocations++;
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	if (p)
		allocations++;
	__real_free(p);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	allocations++;
	return __real_posix_memalign(p, a, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	allocations++;
	return __real_aligned_alloc(a, n);
}

static void exercise(const uint8_t *in, size_t len)
{
	static const uint8_t key[32] = "whats the Elvish word for friend";
	const void *inputs[64];
	size_t lens[64];
	uint8_t out[64 * 32];
	uint8_t xof[5000];
	b3cas_hasher h;

	b3cas_hasher_init(&h);
	b3cas_hasher_update(&h, in, 3);
	b3cas_hasher_update(&h, in + 3, len - 3);
	b3cas_hasher_finalize(out, 32, &h);
	b3cas_hasher_finalize(xof, sizeof(xof), &h);
	b3cas_hasher_finalize_seek(xof, sizeof(xof), &h, 123456789);
	b3cas_hasher_reset(&h);
	b3cas_hasher_init_keyed(&h, key);
	b3cas_hasher_update(&h, in, len);
	b3cas_hasher_finalize(out, 32, &h);
	b3cas_hasher_init_derive_key(&h, "b3cas noalloc test");
	b3cas_hasher_update(&h, in, len);
	b3cas_hasher_finalize(out, 64, &h);
	b3cas_hasher_update_parallel(&h, in, len, NULL);
	b3cas_hash(out, in, len);
	b3cas_hash(out, in, 64);
	b3cas_hash_keyed(out, key, in, len);
	b3cas_derive_key(out, 32, "ctx", in, len);
	b3cas_hash_parallel(out, in, len, NULL);
	for (size_t i = 0; i < 64; i++) {
		inputs[i] = in + 17 * i;
		lens[i] = (i * 37) % 1500;
	}
	b3cas_hash_batch(out, inputs, lens, 64);
	b3cas_hash_batch_keyed(out, key, inputs, lens, 64);
}

static void test_hashing_never_allocates(void **state)
{
	size_t len = (size_t)9 << 20;
	uint8_t *in = malloc(len);

	(void)state;
	memset(in, 0x5A, len);
	for (int level = 0; level < tu_levels(); level++) {
		long before;

		tu_force(level);
		before = allocations;
		exercise(in, len);
		exercise(in, 5000);
		assert_int_equal(allocations, before);
	}
	tu_report_levels();
	free(in);
}

static void test_the_counter_counts(void **state)
{
	b3cas_pool *pool;
	long before = allocations;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 2), 0);
	assert_true(allocations > before);
	b3cas_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashing_never_allocates),
		cmocka_unit_test(test_the_counter_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
