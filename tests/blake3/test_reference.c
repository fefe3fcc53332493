/*
 * test_reference.c - the test suite's independent reference BLAKE3
 * (reference.c) against the official vectors, so that the other tests can
 * trust it as their expectation: every mode, the full extended output and
 * offsets into it; and its bare compression function, which the kernel
 * tests use as the expectation for the portable kernels.
 */
#include "test_util.h"

#include "blake3/reference.h"
#include "blake3/vectors.h"

static void test_reference_matches_official_vectors(void **state)
{
	vset vs;
	uint8_t *input = malloc(102400);
	uint8_t out[VEC_MAX_OUT];
	size_t checked = 0;

	(void)state;
	assert_int_equal(vectors_load(&vs), 0);
	tu_fill_pattern(input, 102400);
	for (size_t i = 0; i < vs.count; i++) {
		const vcase *c = &vs.cases[i];

		for (size_t seek = 0; seek < c->out_len; seek += 13) {
			size_t n = c->out_len - seek;

			ref_hash(out, n, seek, input, c->input_len);
			assert_memory_equal(out, c->hash + seek, n);
			ref_keyed(out, n, seek, vs.key, input, c->input_len);
			assert_memory_equal(out, c->keyed + seek, n);
			ref_derive(out, n, seek, vs.context, strlen(vs.context),
				   input, c->input_len);
			assert_memory_equal(out, c->derive + seek, n);
			checked += 3;
		}
	}
	fprintf(stderr, "reference: %zu checks against %zu vectors\n",
		checked, vs.count);
	vectors_free(&vs);
	free(input);
}

/*
 * ref_compress, which the kernel tests use on its own: for a message of one
 * block, output block i of the root is one compression with counter i, so
 * the whole extended output of the short vectors comes from it alone.
 */
static void test_ref_compress_matches_official_vectors(void **state)
{
	static const uint32_t iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372,
				       0xA54FF53A, 0x510E527F, 0x9B05688C,
				       0x1F83D9AB, 0x5BE0CD19};
	vset vs;
	uint8_t input[64], block[64], out[VEC_MAX_OUT + 64];
	size_t checked = 0;

	(void)state;
	assert_int_equal(vectors_load(&vs), 0);
	tu_fill_pattern(input, sizeof(input));
	for (size_t i = 0; i < vs.count; i++) {
		const vcase *c = &vs.cases[i];

		if (c->input_len > 64)
			continue;
		memset(block, 0, sizeof(block));
		memcpy(block, input, c->input_len);
		/* CHUNK_START | CHUNK_END | ROOT */
		for (size_t b = 0; 64 * b < c->out_len; b++)
			ref_compress(out + 64 * b, iv, block,
				     (uint32_t)c->input_len, b, 1 | 2 | 8);
		assert_memory_equal(out, c->hash, c->out_len);
		checked++;
	}
	assert_true(checked >= 4);
	fprintf(stderr, "ref_compress: %zu one-block vectors\n", checked);
	vectors_free(&vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_matches_official_vectors),
		cmocka_unit_test(test_ref_compress_matches_official_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
