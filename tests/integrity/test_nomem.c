/*
 * test_nomem.c - failed allocations: every allocation that b3cas's own
 * code makes on the path of a public operation is made to fail, and each
 * failure must leave a clean error and a sound store.
 *
 * How: the test links the static library with --wrap for the allocation
 * functions (tests/integrity/CMakeLists.txt; the library calls malloc,
 * calloc, strdup and aligned_alloc, and opendir, fdopendir and realpath,
 * which allocate inside libc), so those calls, in the library and in the
 * test, land in the wrappers of test_nomem_alloc.c. RocksDB's allocations (a shared
 * library whose failed new throws) and OpenSSL's are not our error paths
 * and are not failed. Disarmed, the wrappers pass every call through;
 * armed, they count the calls of every thread (GC sweeps in a thread of
 * its own) and fail one with ENOMEM: by default the first allocation made
 * from a call stack that no earlier run of the sweep has failed, so each
 * allocation site on the path fails once (a loop of 256 allocations is
 * one site). With B3CAS_TEST_LONG=1 every operation is swept twice more:
 * failing the Nth allocation for every N, and with sticky plans, where
 * every allocation after the first failed one fails too.
 * B3CAS_NOMEM_TRACE=1 prints the stack of each failed allocation (for
 * addr2line).
 *
 * For each operation in ops[] (opens, puts, put_batch, writers, gets,
 * views, get_batch, readers, references, walks, GC, stats, the cache
 * manager, close, reads that heal from a mirror), runs go on until one
 * reaches its end without an allocation to fail. After each run, with the
 * allocator disarmed:
 *  - the call returned B3CAS_ENOMEM with a message, or succeeded with a
 *    result that is right (some allocations are optional: a cache entry,
 *    the hashing pool, the saved bloom filter), never a success with a
 *    wrong result, and a failed call changed no reference count;
 *  - no staging file is left in tmp/; the handle closes with 0 and leaves
 *    the thread's error message as it was; no descriptor is left open or
 *    was closed that was not ours;
 *  - a new read-only handle opens, fsck finds nothing, every object the
 *    store acknowledged reads back byte-exact with exactly the references
 *    acknowledged, and nothing else is stored;
 *  - under AddressSanitizer, LeakSanitizer reports no leak at exit.
 *
 * What it catches (each seen: docs/store.md, "Failed allocations"): a
 * leak, double free or use after free on an error path (the sanitizer),
 * an error code other than B3CAS_ENOMEM for a failed allocation (L2's
 * open said B3CAS_EIO), an error without a message, a success after a
 * lost allocation (stats with zeroed latencies), a failed create that
 * leaves a store no open accepts, a descriptor closed that was not ours
 * (standard input), a close that erases the caller's error message.
 *
 * fsck, scrub and backup are not swept (they run here only as checkers).
 *
 * With B3CAS_TEST_CHUNKING=1 (ctest's test_nomem_chunked) the stores are
 * chunking ones (tests/store_policy.h): every object above 4 KiB ("loose",
 * "large") is put, written, read, collected and walked as a manifest of
 * chunks, and verify_store also expects exactly the chunks of the
 * chunked objects with an entry, so a failed put that leaves chunks
 * referenced shows. The three reads that heal damage a loose file, which
 * a chunking store does not have, and are not run there, nor the opens
 * read-only and with a filter to build, whose paths "open" takes (they
 * do not depend on the format), to keep the run short.
 *
 * Files: this one holds ops[] (the operations, in the order they are
 * swept), the sweep and main(); test_nomem_alloc.c the wrappers and the
 * plan; test_nomem_store.c the model, its checks, setup and teardown;
 * test_nomem_ops.c and test_nomem_ops_refs.c each operation's prepare,
 * run and check. test_nomem_int.h declares what they share.
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "filter/filter.h"
#include "store_policy.h"
#include "test_nomem_int.h"
#include "test_util.h"

/* ---- the sweep -------------------------------------------------------------- */

static const op ops[] = {
	{"open", 0, H_OWN, NULL, run_open, check_open, NULL},
	{"open, filter to build", 0, H_OWN, prepare_no_filter, run_open,
	 check_open, NULL},
	{"open read-only", 1, H_OWN, NULL, run_open, check_open, NULL},
	{"open and create", 0, H_OWN, prepare_create, run_create,
	 check_create, verify_create},
	{"put inline", O_PUT_INLINE, 0, NULL, run_put, check_put, NULL},
	{"put loose", O_PUT_LOOSE, 0, NULL, run_put, check_put, NULL},
	{"put large", O_PUT_LARGE, 0, NULL, run_put, check_put, NULL},
	{"put stored", O_LOOSE, 0, NULL, run_put, check_put, NULL},
	{"put_batch", 0, 0, NULL, run_put_batch, check_put_batch, NULL},
	{"writer inline", O_W_INLINE, 0, NULL, run_writer, check_put, NULL},
	{"writer loose", O_W_LOOSE, 0, NULL, run_writer, check_put, NULL},
	{"writer large", O_W_LARGE, 0, NULL, run_writer, check_put, NULL},
	{"get inline", O_INLINE, 0, evict, run_get, check_get, NULL},
	{"get loose", O_LOOSE, 0, evict, run_get, check_get, NULL},
	{"get large", O_LARGE, 0, evict, run_get, check_get, NULL},
	{"get empty", O_EMPTY, 0, evict, run_get, check_get, NULL},
	{"get from L2", O_LOOSE, H_NO_L1, load, run_get, check_get, NULL},
	{"get from L1", O_LOOSE, 0, load, run_get, check_get, NULL},
	{"get_view", O_LOOSE, 0, evict, run_view, check_view, NULL},
	{"get_view from L1", O_LOOSE, 0, load, run_view, check_view, NULL},
	{"get_batch", 0, 0, prepare_get_batch, run_get_batch,
	 check_get_batch, NULL},
	{"get_batch, no results", 1, 0, prepare_get_batch, run_get_batch,
	 check_get_batch, NULL},
	{"reader inline", O_INLINE, 0, NULL, run_reader, check_reader, NULL},
	{"reader loose", O_LOOSE, 0, NULL, run_reader, check_reader, NULL},
	{"reader large", O_LARGE, 0, NULL, run_reader, check_reader, NULL},
	{"exists", O_INLINE, 0, evict, run_exists, check_exists, NULL},
	{"dedup_check", O_LOOSE, 0, NULL, run_dedup_check, check_dedup_check,
	 NULL},
	{"stat", O_LARGE, 0, NULL, run_stat, check_stat, NULL},
	{"refcount", O_LOOSE, 0, NULL, run_refcount, check_refcount, NULL},
	{"ref_add", O_LOOSE, 0, NULL, run_ref_add, check_up, NULL},
	{"ref_remove", O_LOOSE, 0, NULL, run_ref_remove, check_down, NULL},
	{"delete", O_DEL, 0, prepare_delete, run_delete, check_down, NULL},
	{"foreach", 0, 0, NULL, run_foreach, check_foreach, NULL},
	{"gc", O_GC, 0, prepare_gc, run_gc, check_gc, NULL},
	{"stats", 0, 0, prepare_stats, run_stats, check_stats, NULL},
	{"cache_load", O_LOOSE, 0, evict, run_cache_load, check_zero, NULL},
	{"cache_evict", O_LOOSE, 0, load, run_cache_evict, check_cache_evict,
	 NULL},
	{"cache_resize", 0, H_NO_L2, NULL, run_cache_resize,
	 check_cache_resize, NULL},
	{"close", 0, 0, NULL, run_close, check_zero, NULL},
	{"get, healed", O_HEAL, H_MIRROR, damage_heal, run_get, check_get,
	 verify_healed},
	{"get_view, healed", O_HEAL, H_MIRROR, damage_heal, run_view,
	 check_view, verify_healed},
	{"reader, healed", O_HEAL, H_MIRROR, damage_heal, run_reader,
	 check_reader, verify_healed},
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* What a sweep did. */
typedef struct sweep_count {
	unsigned long long runs;  /* that failed an allocation */
	unsigned long long path;  /* allocations of the run that did not */
} sweep_count;

/*
 * Run o again and again, each time failing the next allocation (by site
 * or by number, as plan_start said; sticky: and every later one), until
 * it runs to its end without reaching one to fail.
 */
static sweep_count sweep(const op *o, bool by_site, bool sticky)
{
	sweep_count c = {0, 0};
	char tmp[320], msg[1024];

	snprintf(tmp, sizeof(tmp), "%s/tmp", store_dir);
	plan_start(by_site, sticky);
	for (unsigned long long n = 1;; n++) {
		b3cas_store *s = NULL;
		int fds = count_fds();
		int64_t rc;

		snprintf(what, sizeof(what), "%s, %s %llu failing%s", o->name,
			 by_site ? "site" : "allocation", n,
			 sticky ? " and every later allocation" : "");
		if (!(o->flags & H_OWN))
			s = open_handle(o->flags);
		if (o->prepare)
			o->prepare(s, o);
		b3cas_error_clear();
		arm(n);
		rc = o->run(&s, o);
		last_fired = disarm();
		o->check(s, o, rc);
		if (s && !o->verify && count_entries(tmp) != 0)
			fail_msg("%s: a staging file is left in tmp/", what);
		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		if (s && b3cas_store_close(s) != 0)
			fail_msg("%s: close: %s", what, b3cas_error_last());
		/* a failure may be reported after a close */
		if (s && strcmp(msg, b3cas_error_last()) != 0)
			fail_msg("%s: close changed the message '%s' to '%s'",
				 what, msg, b3cas_error_last());
		if (o->verify)
			o->verify(o);
		else
			verify_store(what);
		if (count_fds() != fds)
			fail_msg("%s: %d descriptors open before, %d after",
				 what, fds, count_fds());
		if (!last_fired) {
			c.path = atomic_load(&plan.seen);
			return c;
		}
		c.runs++;
	}
}

/* Over a chunking store, with B3CAS_NOMEM_QUICK=1 (the sanitizer
 * builds, for time): only the writes of the largest objects (the most
 * chunks each), the batch put, delete, GC, stats and open (which
 * releases what puts left); the release build sweeps them all, the reads
 * too (under ASan the reads of large chunked objects took 136 of this
 * test's 237 s: every failed run verifies the whole store). */
static bool quick_skip(const op *o)
{
	static const char *const kept[] = {
		"open", "put large", "put_batch", "writer large", "delete",
		"gc", "stats",
	};
	const char *env = getenv("B3CAS_NOMEM_QUICK");

	if (!env || strcmp(env, "1") != 0)
		return false;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strcmp(o->name, kept[i]) == 0)
			return false;
	return true;
}

/* Over a chunking store: the heals (damage_heal damages a loose file)
 * and the opens whose paths "open" takes; quick_skip's. */
static bool skip_when_chunking(const op *o)
{
	return tu_chunking() &&
	       ((o->flags & H_MIRROR) || o->prepare == prepare_no_filter ||
		(o->run == run_open && o->obj == 1) || quick_skip(o));
}

static void test_failed_allocations(void **state)
{
	unsigned long long sites = 0, numbered = 0, sticky = 0;

	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct timespec t0, t1;
		sweep_count c;

		if (skip_when_chunking(&ops[i]))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c = sweep(&ops[i], true, false);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		sites += c.runs;
		printf("[nomem] %-22s %3llu sites failed, %4llu allocations "
		       "on its path (%.1f s)\n", ops[i].name, c.runs, c.path,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
		if (!tu_long())
			continue;
		numbered += sweep(&ops[i], false, false).runs;
		sticky += sweep(&ops[i], true, true).runs;
	}
	printf("[nomem] %zu operations, %llu sites failed", NOPS, sites);
	if (tu_long())
		printf("; long run: %llu allocations failed one by one, %llu "
		       "sticky runs", numbered, sticky);
	printf("\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failed_allocations, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
