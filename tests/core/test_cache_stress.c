/*
 * test_cache_stress.c - 1024 threads on 64 objects through L1, L2 and
 * views, while two collectors and a cache resizer run beside them.
 *
 * The reference model is test_store_threads.c's: each worker counts the
 * references it holds to each content and deletes only those, so an
 * object a worker holds must be stored, and every read of it (get, view,
 * cache lookup, cache load) must succeed with its exact bytes; a read of
 * an object that nobody may hold can miss, but whatever it returns must
 * still be exact. A worker sometimes keeps a view across its next few
 * operations, its own deletes of that object included, while the
 * collectors run with zero grace: a kept view must not change, even once
 * its object was deleted and collected.
 *
 * The caches are small (L1 256 KiB, L2 128 KiB) and 2048 fillers, which
 * the main thread holds throughout and the workers read now and then,
 * overflow both, so they evict all the time; the resizer keeps
 * shrinking, emptying and restoring them besides. Loose objects live in
 * a separate tier folder (objects_dir), so that L2 and the relocated
 * tier both take part.
 *
 * The workers run in rounds (see gate_go below). At the end of each, with
 * every worker stopped, every count must equal the sum the workers hold
 * and an object nobody holds must be gone from every reader and from L1;
 * every second round ends with all of them dropping everything under
 * concurrent readers first, so that check then covers every object. At
 * the end, once a last collection ran, nothing may be stored, read,
 * cached in L1 or left as a file in the tier, the views taken before the
 * last drop must still hold their bytes after the store was closed, and
 * cache/l2 may hold no file that L2's index does not list. Minimum counts
 * of cache hits, evictions and collections make a cache that never
 * caches fail too.
 *
 * This file holds the shared state, the contents, the start of the
 * threads and the test itself with main(). The rest lives by concern:
 * test_cache_stress_worker.c (what a worker does and checks),
 * test_cache_stress_helpers.c (collectors, resizer, watchdog) and
 * test_cache_stress_check.c (the rounds, the checks at their ends and at
 * the end, the summary).
 *
 * Knobs: B3CAS_TEST_SEED (each thread's operations; the interleaving is
 * the scheduler's), B3CAS_TEST_OPS (operations per worker) and
 * B3CAS_SOAK_SECONDS (run for that long instead). A watchdog aborts the
 * run with a message if no operation finishes for STALL_SECONDS (a
 * deadlock) or it outlives LIMIT_SECONDS.
 */
#include "test_cache_stress_int.h"

/* The model's contents, then the fillers. */
content contents[CONTENTS + FILLERS];
b3cas_store *store;
b3cas_rados *pool;
uint64_t seed = DEFAULT_SEED;
long ops_per_thread = DEFAULT_OPS;
long soak_seconds;

/*
 * The workers run in rounds of ROUND_OPS operations: all start a round
 * at once (gate_go), and all stop at its end (gate_round) so that the
 * main thread can compare the store with their counts while nothing but
 * the collectors and the resizer runs. round_limit is the operation
 * count a worker stops at in this round; -1 sends it to drop its
 * references and finish.
 */
pthread_barrier_t gate_go, gate_round;
atomic_long round_limit;
/* Every second round ends with the workers, once all are done with
 * their operations (gate_drop), dropping all they hold, each delete
 * followed by a read: every count, the hot ones too, falls to zero under
 * the readers. Nothing else runs then but the collectors (the resizer
 * pauses while droppers > 0), so an L1 entry that a reader put back
 * after the delete that erased it stays until the round's check. */
pthread_barrier_t gate_drop;
atomic_bool round_drops;
atomic_int droppers, still_dropping;
atomic_bool stop_all;          /* a worker failed: everyone stops */
atomic_bool helpers_stop;      /* collectors and resizer stop */
atomic_bool finished;          /* the watchdog stops */
atomic_long progress;          /* operations finished, any thread */
atomic_int workers_finished;
atomic_long gc_runs, gc_removed, gc_candidates, gc_revived, resizes;
char gc_failure[512], resize_failure[512];

double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Say what is wrong, with the seed to replay it. */
void complain(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[test_cache_stress] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (seed %llu)\n", (unsigned long long)seed);
}

/*
 * The model's contents take four sizes in turn, hot and cold alike:
 * tiny; inline up to the threshold (at the default L1 size some are
 * small enough for it, l1_bytes / 256 less its bookkeeping, the rest
 * only while the resizer has grown it); loose and small enough for L2
 * (l2_bytes / 64); loose and larger than either takes unless grown.
 * Fillers: seven in eight inline and small enough for L1, one in eight
 * loose and small enough for L2 (each L2 insert writes a file: more of
 * them would make the run a file system benchmark).
 */
static size_t content_len(int c, uint64_t *rng)
{
	if (c >= CONTENTS)
		return (c % 8) ? 64 + tu_rand(rng) % 769
			       : THRESHOLD + 1 + tu_rand(rng) % 1024;
	switch (c % 4) {
	case 0: return c == 0 ? 0 : (size_t)c + tu_rand(rng) % 4;
	case 1: return 512 + tu_rand(rng) % (THRESHOLD - 511);
	case 2: return THRESHOLD + 1 + tu_rand(rng) % 1024;
	default: return 4096 + tu_rand(rng) % (20 * 1024);
	}
}

static void make_contents(void)
{
	uint64_t rng = seed;

	for (int c = 0; c < CONTENTS + FILLERS; c++) {
		size_t len = content_len(c, &rng);

		contents[c].len = len;
		contents[c].bytes = malloc(len + 1);
		assert_non_null(contents[c].bytes);
		tu_fill_random(contents[c].bytes, len, &rng);
		b3cas_hash(contents[c].id.bytes, contents[c].bytes, len);
	}
	/* The model needs every content distinct: the tiny ones' lengths
	 * (c .. c+3) are, and the rest are random bytes. Make sure. */
	for (int c = 0; c < CONTENTS + FILLERS; c++)
		for (int d = 0; d < c; d++)
			assert_false(b3cas_oid_equal(&contents[c].id,
						     &contents[d].id));
}

static void start_threads(worker *workers, pthread_t *helpers, int nhelpers)
{
	pthread_attr_t attr;

	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, STACK_BYTES), 0);
	for (int t = 0; t < WORKERS; t++) {
		workers[t].rng = seed + (uint64_t)(t + 1) *
					       0xD1B54A32D192ED03ull;
		assert_int_equal(pthread_create(&workers[t].thread, &attr,
						worker_main, &workers[t]),
				 0);
	}
	for (int g = 0; g < nhelpers; g++)
		assert_int_equal(pthread_create(&helpers[g], &attr,
						g < GC_THREADS ? gc_main
							       : resizer_main,
						NULL),
				 0);
	pthread_attr_destroy(&attr);
}

static void report_failures(const worker *workers)
{
	bool failed = false;

	for (int t = 0; t < WORKERS; t++) {
		if (workers[t].failure[0]) {
			fprintf(stderr, "[test_cache_stress] worker %d (seed "
				"%llu): %s\n", t, (unsigned long long)seed,
				workers[t].failure);
			failed = true;
		}
	}
	if (gc_failure[0] || resize_failure[0]) {
		fprintf(stderr, "[test_cache_stress] (seed %llu) %s %s\n",
			(unsigned long long)seed, gc_failure,
			resize_failure);
		failed = true;
	}
	if (failed)
		fail();
}

void test_cache_stress(void **state)
{
	char dir[] = "/tmp/b3cas-cstress-XXXXXX";
	char root[64], tier[64], l2dir[80], loose[80], cmd[128];
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_gc_options zero = B3CAS_GC_OPTIONS_INIT;
	worker *workers = calloc(WORKERS, sizeof(*workers));
	b3cas_blob *kept[CONTENTS] = {0};
	pthread_t helpers[GC_THREADS + 1], watchdog;
	uint64_t total[N_COUNTERS] = {0};
	b3cas_cache_stats cs;
	b3cas_stats st;
	b3cas_gc_report last;
	b3cas_oid fid;
	struct timespec t0;
	long stored = 0, l2_files, rounds = 0;
	int bad;

	(void)state;
	assert_non_null(workers);
	fprintf(stderr, "[test_cache_stress] seed %llu (set B3CAS_TEST_SEED "
		"to replay)\n", (unsigned long long)seed);
	make_contents();
	assert_non_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/store", dir);
	snprintf(tier, sizeof(tier), "%s/tier", dir);
	snprintf(l2dir, sizeof(l2dir), "%s/cache/l2", root);
	snprintf(loose, sizeof(loose), "%s/objects", root);
	assert_int_equal(mkdir(tier, 0755), 0);
	o.create = true;
	o.durability = B3CAS_DURABILITY_NONE;
	o.inline_threshold = THRESHOLD;
	o.l1_bytes = L1_BYTES;
	o.l2_bytes = L2_BYTES;
	o.objects_dir = tier;
	tu_store_policy(&o);
	assert_int_equal(b3cas_store_open(&store, root, &o), 0);
	if (tu_rados())
		pool = tu_pool_open(root);
	for (int f = CONTENTS; f < CONTENTS + FILLERS; f++)
		assert_int_equal(b3cas_store_put(store, &fid, contents[f].bytes,
						 contents[f].len),
				 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_barrier_init(&gate_go, NULL, WORKERS + 1), 0);
	assert_int_equal(pthread_barrier_init(&gate_round, NULL, WORKERS + 1),
			 0);
	assert_int_equal(pthread_barrier_init(&gate_drop, NULL, WORKERS), 0);
	atomic_store(&round_limit, round_end(0));
	assert_int_equal(pthread_create(&watchdog, NULL, watchdog_main, NULL),
			 0);
	start_threads(workers, helpers, GC_THREADS + 1);
	bad = run_rounds(workers, &t0, kept, tier, &rounds);
	for (int t = 0; t < WORKERS; t++)
		pthread_join(workers[t].thread, NULL);
	/* The fillers go too, while the collectors still run. */
	for (int f = CONTENTS; f < CONTENTS + FILLERS && !bad; f++)
		bad += b3cas_store_delete(store, &contents[f].id) != 0;
	atomic_store(&helpers_stop, true);
	for (int g = 0; g < GC_THREADS + 1; g++)
		pthread_join(helpers[g], NULL);
	report_failures(workers);
	assert_int_equal(bad, 0);

	/* Everything dropped: a last collection leaves nothing behind. */
	assert_int_equal(b3cas_cache_resize(store, L1_BYTES, L2_BYTES), 0);
	assert_int_equal(b3cas_gc(store, &zero, &last), 0);
	check_all_gone();
	assert_int_equal(b3cas_store_foreach(store, count_object, &stored), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(b3cas_store_stats(store, &st), 0);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.candidates, 0);
	b3cas_cache_stats_get(store, &cs);
	for (int t = 0; t < WORKERS; t++)
		for (int i = 0; i < N_COUNTERS; i++)
			total[i] += workers[t].n[i];
	l2_files = count_files(l2dir, true);
	print_summary(total, &cs, rounds, (long)last.objects, l2_files,
		      seconds_since(&t0));
	if (soak_seconds)
		fprintf(stderr, "[test_cache_stress] soak: %llu operations "
			"done\n", (unsigned long long)total[N_OPS]);
	assert_int_equal(cs.l1.entries, 0);
	assert_int_equal(cs.l1.bytes, 0);
	assert_int_equal(count_files(tier, true), 0);
	if (pool)
		assert_int_equal(tu_pool_objects(pool), 0);
	/* The tier moved the loose objects: none were ever under root. */
	assert_int_equal(count_files(loose, true), 0);
	check_minimums(total, &cs);
	/* Last, so that every other check has run: L2 lists every copy it
	 * keeps, and once they are evicted nothing is left in its folder,
	 * temporary files included. */
	assert_int_equal(check_l2_copies(l2dir), 0);
	assert_int_equal(count_files(l2dir, true), 0);
	assert_int_equal(b3cas_store_close(store), 0);
	atomic_store(&finished, true);
	pthread_join(watchdog, NULL);

	/* Views taken before the drop outlive delete, GC and close. */
	for (int c = 0; c < CONTENTS; c++) {
		if (!kept[c])
			continue;
		tu_expect_mem(b3cas_blob_data(kept[c]), contents[c].bytes,
			      contents[c].len, "view of %d after close", c);
		assert_int_equal(b3cas_blob_size(kept[c]), contents[c].len);
		b3cas_blob_release(kept[c]);
	}
	assert_int_equal(count_files(tier, true), 0);
	if (pool) {
		assert_int_equal(tu_pool_objects(pool), 0);
		b3cas__rados_close(pool);
		pool = NULL;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	pthread_barrier_destroy(&gate_go);
	pthread_barrier_destroy(&gate_round);
	pthread_barrier_destroy(&gate_drop);
	for (int c = 0; c < CONTENTS + FILLERS; c++)
		free(contents[c].bytes);
	free(workers);
}

int main(void)
{
	const char *env;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_stress),
	};

	env = getenv("B3CAS_TEST_SEED");
	if (env && *env)
		seed = strtoull(env, NULL, 0);
	env = getenv("B3CAS_TEST_OPS");
	if (env && *env)
		ops_per_thread = atol(env);
	env = getenv("B3CAS_SOAK_SECONDS");
	if (env && *env)
		soak_seconds = atol(env);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
