/*
 * test_noalloc.c - the hasher and the one-shot and batch functions never
 * touch the heap (hash.h promises it: a hasher may live on the stack of a
 * signal handler or an allocator).
 *
 * The test is linked with --wrap for every allocation function
 * (tests/blake3/CMakeLists.txt), so every call the library or this file
 * makes to them lands in a counting wrapper here before it reaches the
 * real one. Each hashing call is made alone between two reads of the
 * counter, at every SIMD level, and the counter must not move. As a check
 * on the check, the test's own calls to each allocation function and
 * b3cas_pool_new (which does allocate) must move it. The stack those calls
 * use is measured too, against the bound hash.h gives.
 */
#include "test_util.h"

#include <pthread.h>

/*
 * volatile: the compiler knows what malloc does and would otherwise assume
 * that the test's own calls to it cannot change this counter.
 */
static volatile long allocations;

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

static size_t calls;

/* Run one call; fail, naming it, if the allocation count moved. */
#define NO_ALLOC(call)                                                       \
	do {                                                                 \
		long before_ = allocations;                                  \
		call;                                                        \
		calls++;                                                     \
		if (allocations != before_)                                  \
			fail_msg("%s allocated (%ld calls) at %s, %zu-byte "   \
				 "input",                                    \
				 #call, allocations - before_,               \
				 b3cas_simd_name(), len);                    \
	} while (0)

static void exercise(const uint8_t *in, size_t len)
{
	static const uint8_t key[32] = "whats the Elvish word for friend";
	static const char raw_ctx[] = "raw\0context";
	const void *inputs[64];
	size_t lens[64];
	uint8_t out[64 * 32];
	uint8_t xof[5000];
	b3cas_hasher h;

	for (size_t i = 0; i < 64; i++) {
		inputs[i] = in + 17 * i;
		lens[i] = i < 32 ? (i * 37) % 1025 : (i * 101) % 1500;
		if (lens[i] + 17 * i > len)
			lens[i] = 0;
	}
	NO_ALLOC(b3cas_hasher_init(&h));
	NO_ALLOC(b3cas_hasher_update(&h, NULL, 0));
	NO_ALLOC(b3cas_hasher_update(&h, in, len < 3 ? len : 3));
	NO_ALLOC(b3cas_hasher_update(&h, in + 3, len - 3));
	NO_ALLOC(b3cas_hasher_finalize(out, 32, &h));
	NO_ALLOC(b3cas_hasher_finalize(xof, sizeof(xof), &h));
	NO_ALLOC(b3cas_hasher_finalize_seek(xof, sizeof(xof), &h, 123456789));
	NO_ALLOC(b3cas_hasher_finalize_seek(xof, sizeof(xof), &h,
					    UINT64_MAX - sizeof(xof) + 1));
	NO_ALLOC(b3cas_hasher_reset(&h));
	NO_ALLOC(b3cas_hasher_update(&h, in, len));
	NO_ALLOC(b3cas_hasher_init_keyed(&h, key));
	NO_ALLOC(b3cas_hasher_update(&h, in, len));
	NO_ALLOC(b3cas_hasher_finalize(out, 32, &h));
	NO_ALLOC(b3cas_hasher_init_derive_key(&h, "b3cas noalloc test"));
	NO_ALLOC(b3cas_hasher_update(&h, in, len));
	NO_ALLOC(b3cas_hasher_finalize(out, 64, &h));
	NO_ALLOC(b3cas_hasher_init_derive_key_raw(&h, raw_ctx,
						  sizeof(raw_ctx)));
	NO_ALLOC(b3cas_hasher_update_parallel(&h, in, len, NULL));
	NO_ALLOC(b3cas_hasher_finalize_seek(xof, 3000, &h, 77));
	NO_ALLOC(b3cas_hash(out, in, len));
	NO_ALLOC(b3cas_hash(out, in, 0));
	NO_ALLOC(b3cas_hash(out, in, 64));
	NO_ALLOC(b3cas_hash_keyed(out, key, in, len));
	NO_ALLOC(b3cas_derive_key(out, 32, "ctx", in, len));
	NO_ALLOC(b3cas_derive_key(xof, sizeof(xof), "ctx", in, len));
	NO_ALLOC(b3cas_hash_parallel(out, in, len, NULL));
	NO_ALLOC(b3cas_hash_batch(out, inputs, lens, 64));
	NO_ALLOC(b3cas_hash_batch(out, inputs, lens, 0));
	NO_ALLOC(b3cas_hash_batch(out, inputs, lens, 5));
	NO_ALLOC(b3cas_hash_batch_keyed(out, key, inputs, lens, 64));
}

static void test_hashing_never_allocates(void **state)
{
	size_t big = (size_t)9 << 20;
	uint8_t *in = malloc(big);
	uint64_t rng = tu_seed("test_noalloc");

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, big, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		exercise(in, big);
		exercise(in, 5000);
		exercise(in, 1024);
		exercise(in, 100);
	}
	tu_report_levels();
	fprintf(stderr, "noalloc: %zu calls, none allocated\n", calls);
	free(in);
}

/* Past the 64 MiB the wide tree takes at once (the hasher's path). */
static void test_beyond_wide_run_never_allocates(void **state)
{
	size_t len = ((size_t)65 << 20) + 1;
	uint8_t *in = calloc(1, len);
	uint8_t out[32];
	b3cas_hasher h;

	(void)state;
	assert_non_null(in);
	NO_ALLOC(b3cas_hash(out, in, len));
	NO_ALLOC(b3cas_hasher_init(&h));
	NO_ALLOC(b3cas_hasher_update(&h, in, len));
	NO_ALLOC(b3cas_hasher_finalize(out, 32, &h));
	free(in);
}

/*
 * hash.h also bounds the stack: "up to about 48 KiB of the calling
 * thread's stack". Measured by running the deepest calls on a thread whose
 * stack is a painted buffer of ours and counting the bytes that changed,
 * less what an idle thread changes (glibc keeps the thread's descriptor
 * and TLS at the top of that buffer). Sanitizers pad every frame, so there
 * the figure is only printed.
 */
#define STACK_LEN ((size_t)1 << 20)
#define STACK_PAINT 0xC5
#define STACK_LIMIT (48 * 1024) /* "about 40 KiB", with a little slack */

/* Everything the deep calls need lives here, off the measured stack. */
typedef struct deep_job {
	const uint8_t *in;
	size_t len; /* more than one 64 MiB wide-tree run */
	bool idle;
	const void *inputs[64];
	size_t lens[64];
	uint8_t out[64 * 32], xof[5000];
	b3cas_hasher h;
} deep_job;

static void *deep_calls(void *arg)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	deep_job *j = arg;

	if (j->idle)
		return NULL;
	b3cas_hash(j->out, j->in, j->len);
	b3cas_hash(j->out, j->in, (size_t)1 << 26); /* the widest tree */
	b3cas_hash_keyed(j->out, key, j->in, (size_t)1 << 26);
	b3cas_derive_key(j->out, 64, "ctx", j->in, j->len);
	b3cas_hasher_init(&j->h);
	b3cas_hasher_update(&j->h, j->in, 1000);
	b3cas_hasher_update(&j->h, j->in + 1000, j->len - 1000);
	b3cas_hasher_finalize_seek(j->xof, sizeof(j->xof), &j->h, 1000003);
	b3cas_hash_batch(j->out, j->inputs, j->lens, 64);
	b3cas_hash_batch_keyed(j->out, key, j->inputs, j->lens, 64);
	return NULL;
}

/* Bytes of the painted stack that a thread running job changed. */
static size_t stack_used(deep_job *job)
{
	pthread_attr_t attr;
	pthread_t t;
	void *stack;
	size_t untouched = 0;

	assert_int_equal(posix_memalign(&stack, 4096, STACK_LEN), 0);
	memset(stack, STACK_PAINT, STACK_LEN);
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstack(&attr, stack, STACK_LEN), 0);
	assert_int_equal(pthread_create(&t, &attr, deep_calls, job), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&attr);
	while (untouched < STACK_LEN &&
	       ((uint8_t *)stack)[untouched] == STACK_PAINT)
		untouched++;
	free(stack);
	return STACK_LEN - untouched;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

static void test_stack_use(void **state)
{
	deep_job *job = calloc(1, sizeof(*job));
	size_t base, deep;

	(void)state;
	assert_non_null(job);
	job->len = ((size_t)65 << 20) + 1;
	job->in = calloc(1, job->len);
	assert_non_null(job->in);
	for (size_t i = 0; i < 64; i++) {
		job->inputs[i] = job->in + i;
		job->lens[i] = i * 23;
	}
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		job->idle = true;
		base = stack_used(job);
		job->idle = false;
		deep = stack_used(job);
		fprintf(stderr, "stack: %zu bytes at %s (idle thread: %zu)\n",
			deep - base, b3cas_simd_name(), base);
#ifndef SANITIZED
		if (deep - base > STACK_LIMIT)
			fail_msg("hashing used %zu bytes of stack at %s; "
				 "hash.h says about 40 KiB",
				 deep - base, b3cas_simd_name());
#endif
	}
	free((void *)job->in);
	free(job);
}

/* Where the test's own allocations escape, so none is optimized away. */
static void *volatile sink;

/* The wrappers see every allocation function, and the library's calls. */
static void test_the_counter_counts(void **state)
{
	b3cas_pool *pool;
	long before;
	void *p;

	(void)state;
	before = allocations;
	sink = malloc(10);
	assert_int_equal(allocations, before + 1);
	sink = realloc(sink, 100);
	assert_int_equal(allocations, before + 2);
	free(sink);
	assert_int_equal(allocations, before + 3);
	sink = calloc(3, 5);
	assert_int_equal(allocations, before + 4);
	free(sink);
	assert_int_equal(posix_memalign(&p, 64, 128), 0);
	sink = p;
	assert_int_equal(allocations, before + 6);
	free(sink);
	sink = aligned_alloc(64, 128);
	assert_int_equal(allocations, before + 8);
	free(sink);
	sink = NULL;

	before = allocations;
	assert_int_equal(b3cas_pool_new(&pool, 2), 0);
	assert_true(allocations > before);
	before = allocations;
	b3cas_pool_free(pool);
	assert_true(allocations > before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_counter_counts),
		cmocka_unit_test(test_hashing_never_allocates),
		cmocka_unit_test(test_beyond_wide_run_never_allocates),
		cmocka_unit_test(test_stack_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
