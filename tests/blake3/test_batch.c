/*
 * test_batch.c - b3cas_hash_batch and b3cas_hash_batch_keyed against the
 * reference, message by message: random mixes of lengths (every special
 * length present), batches of one length, messages longer than a chunk
 * mixed in, unaligned and repeated input pointers, empty batches.
 */
#include "test_util.h"

#include "blake3/reference.h"

#define POOL_LEN (1 << 20)

static uint64_t rng;
static uint8_t *pool; /* messages are slices of this */

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_batch");
	pool = malloc(POOL_LEN);
	if (!pool)
		return -1;
	tu_fill_random(pool, POOL_LEN, &rng);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(pool);
	tu_report_levels();
	return 0;
}

enum shape { MIXED, ALL_64, ALL_1024, SPECIAL, WITH_LARGE };

static size_t pick_len(enum shape s, size_t i)
{
	static const size_t special[] = {0, 1, 63, 64, 65, 1023, 1024};

	switch (s) {
	case ALL_64: return 64;
	case ALL_1024: return 1024;
	case SPECIAL: return special[i % 7];
	case WITH_LARGE:
		return tu_rand(&rng) % 4 == 0 ? 1025 + tu_rand(&rng) % 4000
					      : tu_rand(&rng) % 1025;
	default: return tu_rand(&rng) % 1025;
	}
}

static void run_batch(size_t count, enum shape s, bool keyed)
{
	const void **in = calloc(count + 1, sizeof(*in));
	size_t *lens = calloc(count + 1, sizeof(*lens));
	uint8_t *out = malloc(32 * count + 32);
	uint8_t key[32], want[32];

	tu_fill_random(key, 32, &rng);
	for (size_t i = 0; i < count; i++) {
		lens[i] = pick_len(s, i);
		if (i > 0 && tu_rand(&rng) % 10 == 0) {
			in[i] = in[i - 1]; /* the same bytes twice */
			lens[i] = lens[i - 1];
		} else {
			in[i] = pool + tu_rand(&rng) % (POOL_LEN - 5000);
		}
	}
	memset(out, 0xEE, 32 * count + 32);
	if (keyed)
		b3cas_hash_batch_keyed(out, key, in, lens, count);
	else
		b3cas_hash_batch(out, in, lens, count);
	for (size_t i = 0; i < count; i++) {
		if (keyed)
			ref_keyed(want, 32, 0, key, in[i], lens[i]);
		else
			ref_hash(want, 32, 0, in[i], lens[i]);
		if (memcmp(out + 32 * i, want, 32) != 0)
			fail_msg("batch of %zu (shape %d%s) at %s: message "
				 "%zu (%zu bytes) wrong",
				 count, (int)s, keyed ? ", keyed" : "",
				 b3cas_simd_name(), i, lens[i]);
	}
	for (size_t i = 0; i < 32; i++) /* nothing written past the end */
		assert_int_equal(out[32 * count + i], 0xEE);
	free(in);
	free(lens);
	free(out);
}

static void test_batches(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t count = 0; count <= 100; count++) {
			enum shape s = (enum shape)(count % 5);

			run_batch(count, s, false);
			run_batch(count, s, count % 3 == 0);
			n += 2;
		}
		run_batch(4096, ALL_64, false);
		run_batch(4096, MIXED, false);
		n += 2;
	}
	fprintf(stderr, "batch: %zu batches\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
