/*
 * test_vectors.c - every official BLAKE3 test vector (hash, keyed hash,
 * derive-key, each at its full extended length and at 32 bytes), through
 * every public entry point, at every SIMD level this CPU has.
 */
#include "test_util.h"

#include "blake3/vectors.h"

static vset vs;
static vcase *cases;
static size_t ncases;
static uint8_t *key;
static char *context;

static int load_vectors(void **state)
{
	(void)state;
	if (vectors_load(&vs) != 0)
		return -1;
	cases = vs.cases;
	ncases = vs.count;
	key = vs.key;
	context = vs.context;
	fprintf(stderr, "loaded %zu official vectors\n", ncases);
	return 0;
}

static int free_vectors(void **state)
{
	(void)state;
	vectors_free(&vs);
	return 0;
}

/* All ways to get output of one mode; expected is the full XOF output. */
static void check_hasher(const b3cas_hasher *h, const uint8_t *expected,
			 size_t out_len)
{
	uint8_t out[131];

	b3cas_hasher_finalize(out, out_len, h);
	assert_memory_equal(out, expected, out_len);
	b3cas_hasher_finalize(out, 32, h);
	assert_memory_equal(out, expected, 32);
	/* Every seek offset: a suffix of the extended output. */
	for (size_t seek = 0; seek < out_len; seek += 7) {
		b3cas_hasher_finalize_seek(out, out_len - seek, h, seek);
		assert_memory_equal(out, expected + seek, out_len - seek);
	}
}

static void run_case(const vcase *c, const uint8_t *input, b3cas_pool *pool)
{
	b3cas_hasher h;
	uint8_t out[32];
	const void *inputs[1] = {input};

	/* plain: incremental in one piece, byte by byte, one-shot, pool,
	 * batch */
	b3cas_hasher_init(&h);
	b3cas_hasher_update(&h, input, c->input_len);
	check_hasher(&h, c->hash, c->out_len);
	b3cas_hasher_reset(&h);
	for (size_t i = 0; i < c->input_len; i++)
		b3cas_hasher_update(&h, input + i, 1);
	check_hasher(&h, c->hash, c->out_len);
	b3cas_hash(out, input, c->input_len);
	assert_memory_equal(out, c->hash, 32);
	b3cas_hash_parallel(out, input, c->input_len, pool);
	assert_memory_equal(out, c->hash, 32);
	b3cas_hash_batch(out, inputs, &c->input_len, 1);
	assert_memory_equal(out, c->hash, 32);

	/* keyed */
	b3cas_hasher_init_keyed(&h, key);
	b3cas_hasher_update(&h, input, c->input_len);
	check_hasher(&h, c->keyed, c->out_len);
	b3cas_hash_keyed(out, key, input, c->input_len);
	assert_memory_equal(out, c->keyed, 32);
	b3cas_hash_batch_keyed(out, key, inputs, &c->input_len, 1);
	assert_memory_equal(out, c->keyed, 32);

	/* derive-key */
	b3cas_hasher_init_derive_key(&h, context);
	b3cas_hasher_update(&h, input, c->input_len);
	check_hasher(&h, c->derive, c->out_len);
	b3cas_hasher_init_derive_key_raw(&h, context, strlen(context));
	b3cas_hasher_update_parallel(&h, input, c->input_len, pool);
	check_hasher(&h, c->derive, c->out_len);
	{
		uint8_t dk[131];

		b3cas_derive_key(dk, c->out_len, context, input, c->input_len);
		assert_memory_equal(dk, c->derive, c->out_len);
	}
}

static void test_all_vectors_all_levels(void **state)
{
	uint8_t *input = malloc(102400);
	b3cas_pool *pool = NULL;

	(void)state;
	assert_int_equal(b3cas_pool_new(&pool, 2), 0);
	tu_fill_pattern(input, 102400);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t i = 0; i < ncases; i++)
			run_case(&cases[i], input, pool);
	}
	tu_report_levels();
	b3cas_pool_free(pool);
	free(input);
}

/* Batch of all vector inputs at once: mixed lengths share the lanes. */
static void test_vectors_as_one_batch(void **state)
{
	uint8_t *input = malloc(102400);
	const void **inputs = calloc(ncases, sizeof(*inputs));
	size_t *lens = calloc(ncases, sizeof(*lens));
	uint8_t *out = malloc(32 * ncases);

	(void)state;
	tu_fill_pattern(input, 102400);
	for (size_t i = 0; i < ncases; i++) {
		inputs[i] = input;
		lens[i] = cases[i].input_len;
	}
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		memset(out, 0, 32 * ncases);
		b3cas_hash_batch(out, inputs, lens, ncases);
		for (size_t i = 0; i < ncases; i++)
			assert_memory_equal(out + 32 * i, cases[i].hash, 32);
		b3cas_hash_batch_keyed(out, key, inputs, lens, ncases);
		for (size_t i = 0; i < ncases; i++)
			assert_memory_equal(out + 32 * i, cases[i].keyed, 32);
	}
	free(out);
	free(lens);
	free(inputs);
	free(input);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_vectors_all_levels),
		cmocka_unit_test(test_vectors_as_one_batch),
	};

	return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
