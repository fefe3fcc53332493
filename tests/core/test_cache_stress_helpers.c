/*
 * test_cache_stress_helpers.c - the threads beside the workers: two
 * collectors running GC with zero grace, a resizer that keeps shrinking,
 * emptying and restoring L1 and L2 (pausing while workers drop), and a
 * watchdog that aborts the run on a deadlock (no operation finished for
 * STALL_SECONDS) or a livelock (past LIMIT_SECONDS). Part of the
 * test_cache_stress program.
 */
#include "test_cache_stress_int.h"

void *gc_main(void *arg)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT; /* zero grace */

	(void)arg;
	o.normal_priority = true; /* at nice 19 it would rarely run here */
	while (!atomic_load(&helpers_stop)) {
		b3cas_gc_report r;
		int rc = b3cas_gc(store, &o, &r);

		if (rc != 0) {
			snprintf(gc_failure, sizeof(gc_failure), "gc: %d %s",
				 rc, b3cas_error_last());
			atomic_store(&stop_all, true);
			break;
		}
		atomic_fetch_add(&gc_runs, 1);
		atomic_fetch_add(&gc_removed, (long)r.objects);
		atomic_fetch_add(&gc_candidates, (long)r.candidates);
		atomic_fetch_add(&gc_revived, (long)r.revived);
		atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
	}
	return NULL;
}

/*
 * Resize both caches at random, turning each off now and then and back
 * on; half the time back to the configured sizes, so the small caches
 * are what the workers mostly see.
 */
void *resizer_main(void *arg)
{
	static const uint64_t l1_sizes[] = {0, 16384, 65536, L1_BYTES,
					    1u << 20, 4u << 20};
	static const uint64_t l2_sizes[] = {0, 32768, L2_BYTES, 512u << 10};
	const struct timespec nap = {0, 2 * 1000 * 1000};
	uint64_t rng = seed ^ 0x5eed;

	(void)arg;
	while (!atomic_load(&helpers_stop)) {
		uint64_t r = tu_rand(&rng);
		uint64_t l1 = L1_BYTES, l2 = L2_BYTES;
		int rc;

		if (r & 1) {
			l1 = l1_sizes[(r >> 1) % 6];
			l2 = l2_sizes[(r >> 8) % 4];
		}
		if (atomic_load(&droppers)) {
			nanosleep(&nap, NULL);
			continue;
		}
		rc = b3cas_cache_resize(store, l1, l2);
		if (rc != 0) {
			snprintf(resize_failure, sizeof(resize_failure),
				 "cache_resize(%llu, %llu): %d %s",
				 (unsigned long long)l1,
				 (unsigned long long)l2, rc,
				 b3cas_error_last());
			atomic_store(&stop_all, true);
			break;
		}
		atomic_fetch_add(&resizes, 1);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/*
 * Fail the run, loudly, when no operation finished anywhere for
 * STALL_SECONDS (a deadlock) or the run outlived its limit (a livelock,
 * or a machine far too slow for the defaults).
 */
void *watchdog_main(void *arg)
{
	const struct timespec tick = {0, 200 * 1000 * 1000};
	long limit = LIMIT_SECONDS + soak_seconds, last = -1;
	struct timespec t0, moved;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	moved = t0;
	while (!atomic_load(&finished)) {
		long p = atomic_load(&progress);
		const char *why = NULL;

		if (p != last) {
			last = p;
			clock_gettime(CLOCK_MONOTONIC, &moved);
		}
		if (seconds_since(&moved) > STALL_SECONDS)
			why = "no operation finished for too long: deadlock?";
		else if (seconds_since(&t0) > (double)limit)
			why = "the run outlived its time limit: livelock?";
		if (why) {
			fprintf(stderr, "[test_cache_stress] WATCHDOG after "
				"%.0f s: %s (seed %llu, %ld operations done, "
				"round limit %ld, %d of %d workers "
				"finished)\n", seconds_since(&t0), why,
				(unsigned long long)seed, p,
				atomic_load(&round_limit),
				atomic_load(&workers_finished), WORKERS);
			fflush(stderr);
			abort();
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}
