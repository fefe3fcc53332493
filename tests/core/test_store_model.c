/*
 * test_store_model.c - the whole store API against an in-memory model,
 * under seeded random sequences of operations, plus the fixed cases the
 * model cannot reach (id text, read-only and locked opens, foreign folders,
 * the SHA-256 comparison mode).
 *
 * The model maps every id the run has ever produced to the (seed, size)
 * that regenerates its bytes (core_util.h) and its expected reference
 * count; 0 means "not stored" (an object that was deleted, or content that
 * was made but never put), which gives the run ids that must be absent.
 * Each operation is checked against the model before the model is updated:
 * put's new/duplicate answer, delete's references left, stat, exists, the
 * bytes of get, get_batch, put_batch (with duplicates inside the batch),
 * the streaming writer (chunks of every size, 0 included; aborts that must
 * store nothing) and reader (reads of every size; 0 past the end), foreach
 * (the exact set, in id order; early stop), range reads (b3cas_store_
 * read_at at random offsets and lengths, 0 and past the end included),
 * GC with no grace (exactly the objects deleted to zero since the last,
 * by count and bytes), sync, and close + reopen and a read-only open
 * beside the writer, both of which must see the same objects. Every id is
 * also recomputed with b3cas_hash.
 *
 * With B3CAS_TEST_CHUNKING=1 (ctest's test_store_model_chunked) the runs
 * make chunking stores (tests/store_policy.h; the fixed cases are left
 * out): 40% of the objects are chunked, and the model also knows every
 * chunk the store must hold, from a reference FastCDC (test_store_model_
 * chunks.c): foreach, stat and get of each chunk, and GC freeing exactly
 * the chunks no held manifest names.
 *
 * Runs: one store with a 1 KiB inline threshold and one with the default
 * 64 KiB, so both the inline and the loose paths are cheap to reach; sizes
 * are mostly 0..4 KiB, often right at the threshold, some up to 300 KiB.
 * Phases of a "narrow" content space (a dozen fixed objects) force
 * duplicates, deletes to zero and re-puts. A short run uses full
 * durability.
 *
 * This file holds the run's settings, the failure report, main() and the
 * list of cases. The rest lives by concern: test_store_model_model.c (the
 * model, picking contents and ids, checks shared by several operations),
 * test_store_model_chunks.c (the chunk model and GC),
 * test_store_model_ops.c (each operation against the model),
 * test_store_model_run.c (the seeded run loop and its three cases) and
 * test_store_model_fixed.c (the fixed cases).
 *
 * Usage: test_store_model [OPS_PER_SEED [SEEDS]] (or B3CAS_MODEL_OPS,
 * B3CAS_MODEL_SEEDS); the seed comes from B3CAS_TEST_SEED or the clock and
 * is printed at the start and with any failure.
 */
#include "test_store_model_int.h"

unsigned long ops_per_seed = 6000;
unsigned long nseeds = 2;
uint64_t base_seed;
char tmp_root[512]; /* short, so paths built from it fit */

run *cur; /* for the failure message */

void fail_here(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  library message: \"%s\"\n", b3cas_error_last());
	if (cur)
		fprintf(stderr,
			"  FAILED in run seed %llu, op %lu of %lu (%s), "
			"threshold %zu, durability %d%s\n"
			"  replay: %sB3CAS_TEST_SEED=%llu test_store_model %lu "
			"%lu\n",
			(unsigned long long)cur->seed, cur->op, cur->nops,
			op_names[cur->kind], cur->threshold,
			(int)cur->durability, cur->narrow ? ", narrow" : "",
			cur->chunking ? "B3CAS_TEST_CHUNKING=1 " : "",
			(unsigned long long)base_seed, ops_per_seed, nseeds);
	_fail(file, line);
}

static int setup(void **state)
{
	(void)state;
	base_seed = tu_seed("test_store_model");
	if (cdc_ref_gear(md5_gear) != 0)
		return -1;
	if (!cu_mkdtemp(tmp_root, sizeof(tmp_root), "model"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cu_rm_rf(tmp_root);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oid_text),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_model_small_inline),
		cmocka_unit_test(test_model_default_inline),
		cmocka_unit_test(test_model_full),
	};
	/* Over chunking stores only the model runs: the fixed cases are
	 * about ids, opens and locks, which the format does not change. */
	const struct CMUnitTest model_tests[] = {
		cmocka_unit_test(test_model_small_inline),
		cmocka_unit_test(test_model_default_inline),
		cmocka_unit_test(test_model_full),
	};

	ops_per_seed = cu_env_num("B3CAS_MODEL_OPS", ops_per_seed);
	nseeds = cu_env_num("B3CAS_MODEL_SEEDS", nseeds);
	if (argc > 1)
		ops_per_seed = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		nseeds = strtoul(argv[2], NULL, 0);
	if (tu_long())
		ops_per_seed *= 10;
	if (tu_chunking())
		return cmocka_run_group_tests(model_tests, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
