/*
 * test_reference.c - the test suite's independent reference BLAKE3
 * (reference.c) against the official vectors, so that the other tests can
 * trust it as their expectation: every mode, the full extended output and
 * every offset into it.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_matches_official_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
