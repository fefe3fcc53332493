/*
 * test_faults.c - injected I/O failures under the object files: in each of
 * ITERATIONS rounds the store is opened (durability none, batch or full at
 * random), one object-file operation chosen at random among the next few
 * (create, write, fsync, rename, open, unlink) fails with EIO or ENOSPC,
 * sometimes for good (a dying disk), while puts of new and duplicate
 * content, deletes, gets and GC go on; then the store is closed and
 * reopened without faults, and fsck --repair must bring it to a clean
 * state in which every put that was acknowledged, and not deleted since,
 * reads back byte-exact with at least the references acknowledged (and
 * at most those that failed puts and deletes may have left: a write
 * that fails may have reached the index log, as a failed fsync of it
 * does, and be found at the reopen). No
 * read ever returns wrong bytes. Each round goes on until its fault has
 * fired, so 1,000 rounds (B3CAS_TEST_ITERATIONS) inject at least 1,000
 * failures.
 *
 * With B3CAS_TEST_CHUNKING=1 (ctest's test_faults_chunked) the store is a
 * chunking one (tests/store_policy.h), most contents are larger than its
 * chunks (put, read, deleted and collected as manifests of chunks; some
 * half zeros, so that chunks compress and repeat), and since it writes no
 * object file the failures are injected into RocksDB's own files instead
 * (test_faults_index.c): the N-th write, pwrite, fsync, fdatasync or
 * rename there fails, the same checks follow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "store_policy.h"
#include "test_faults_int.h"
#include "test_util.h"

#define THRESHOLD 1024
#define POOL 64 /* contents */
#define OPS 4   /* operations after the fault fired */

static char root[256], store_dir[300], index_dir[320];
static uint8_t *data[POOL];
static size_t lens[POOL];
static b3cas_oid ids[POOL];
/* References: acknowledged and not deleted (or deletes that failed); at
 * most what this plus puts that failed and less deletes that succeeded
 * leave. Each round starts from the counts the last one found. */
static uint64_t acked[POOL], most[POOL];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "faults");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(index_dir, sizeof(index_dir), "%s/index", store_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	for (int i = 0; i < POOL; i++)
		free(data[i]);
	return 0;
}

static b3cas_store *open_store(b3cas_durability d)
{
	b3cas_store_options o = tu_store_options(true, THRESHOLD);

	o.durability = d;
	tu_store_policy(&o); /* B3CAS_TEST_CHUNKING=1: a chunking store */
	return tu_open_store(store_dir, &o);
}

/* A get either fails or returns the exact bytes. */
static void check_get(b3cas_store *s, int i, bool must)
{
	void *got;
	size_t len;
	int rc = b3cas_store_get(s, &ids[i], &got, &len);

	if (rc != 0) {
		if (must)
			fail_msg("acknowledged object %d: %s", i,
				 b3cas_error_last());
		return;
	}
	assert_int_equal(len, lens[i]);
	assert_memory_equal(got, data[i], len);
	b3cas_free(got);
}

static void round_with_fault(uint64_t *rng, unsigned long long *fired)
{
	static const int errs[2] = {EIO, ENOSPC};
	b3cas_fault_plan plan;
	b3cas_store *s = open_store((b3cas_durability)(tu_rand(rng) % 3));

	memset(&plan, 0, sizeof(plan));
	plan.fail_at = 1 + tu_rand(rng) % 6;
	plan.ops = 0x3f;
	plan.err = errs[tu_rand(rng) % 2];
	plan.sticky = tu_rand(rng) % 4 == 0;
	if (tu_chunking())
		index_faults_arm(index_dir, plan.fail_at, plan.err,
				 plan.sticky);
	else
		b3cas__store_layout(s)->faults = &plan;
	/* Go on until the fault has fired (and a few operations after it),
	 * so every round injects at least one failure. */
	for (int k = 0, after = 0; k < 200 && after < OPS; k++) {
		after += atomic_load(&plan.fired) > 0 ||
			 index_faults_fired() > 0;
		int i = (int)(tu_rand(rng) % POOL), what = (int)(tu_rand(rng) % 4);
		b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

		if (what <= 1) { /* put: new or duplicate */
			b3cas_oid id;
			int rc = b3cas_store_put(s, &id, data[i], lens[i]);

			/* a failed put or delete may still have happened: an
			 * index write can fail after it reached the log */
			most[i]++;
			if (rc >= 0) {
				assert_true(b3cas_oid_equal(&id, &ids[i]));
				acked[i]++;
			}
		} else if (what == 2 && acked[i]) {
			acked[i]--;
			if (b3cas_store_delete(s, &ids[i]) >= 0)
				most[i]--;
		} else if (what == 2) {
			go.normal_priority = true;
			b3cas_gc(s, &go, NULL); /* unlinks may fail: fine */
		} else {
			check_get(s, i, false); /* faults may fail it */
		}
	}
	*fired += atomic_load(&plan.fired);
	b3cas__store_layout(s)->faults = NULL;
	if (tu_chunking()) {
		/* a close that fails must not fail the next round's open */
		b3cas_store_close(s);
		*fired += index_faults_disarm();
		return;
	}
	b3cas_store_close(s); /* its error (a failed flush) is allowed */
}

static void verify_after(uint64_t round)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s = open_store(B3CAS_DURABILITY_BATCH);

	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	if (r.lost)
		fail_msg("round %llu: fsck lost %llu objects",
			 (unsigned long long)round,
			 (unsigned long long)r.lost);
	fo.repair = false;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	if (r.problems)
		fail_msg("round %llu: %llu problems after repair",
			 (unsigned long long)round,
			 (unsigned long long)r.problems);
	for (int i = 0; i < POOL; i++) {
		uint64_t count = 0;
		int rc = b3cas_refcount(s, &ids[i], &count);

		if (acked[i])
			assert_int_equal(rc, 0);
		else if (rc == B3CAS_ENOTFOUND)
			count = 0;
		if (count < acked[i] || count > most[i])
			fail_msg("round %llu: object %d has %llu references, "
				 "%llu acknowledged, at most %llu possible",
				 (unsigned long long)round, i,
				 (unsigned long long)count,
				 (unsigned long long)acked[i],
				 (unsigned long long)most[i]);
		if (count)
			check_get(s, i, true);
		acked[i] = most[i] = count;
	}
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_injected_failures(void **state)
{
	uint64_t rng = tu_seed("injected_failures");
	const char *env = getenv("B3CAS_TEST_ITERATIONS");
	long rounds = env ? atol(env) : 1000;
	unsigned long long fired = 0;

	(void)state;
	for (int i = 0; i < POOL; i++) {
		/* mostly loose, some inline */
		lens[i] = i % 4 ? THRESHOLD + 1 + tu_rand(&rng) % 20000
				: 1 + tu_rand(&rng) % THRESHOLD;
		/* chunking: mostly chunked (above 4 KiB), up to 100 KiB */
		if (tu_chunking() && i % 4)
			lens[i] = 4097 + tu_rand(&rng) % 100000;
		data[i] = tu_random_block(lens[i], &rng);
		if (tu_chunking() && i % 8 == 1)
			memset(data[i] + lens[i] / 2, 0, lens[i] - lens[i] / 2);
		b3cas_hash(ids[i].bytes, data[i], lens[i]);
	}
	for (long round = 0; round < rounds; round++) {
		round_with_fault(&rng, &fired);
		verify_after((uint64_t)round);
	}
	printf("[faults] %ld rounds, %llu injected failures fired\n", rounds,
	       fired);
	assert_true(fired >= (unsigned long long)rounds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_injected_failures, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
