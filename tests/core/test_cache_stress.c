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
 * Knobs: B3CAS_TEST_SEED (each thread's operations; the interleaving is
 * the scheduler's), B3CAS_TEST_OPS (operations per worker) and
 * B3CAS_SOAK_SECONDS (run for that long instead). A watchdog aborts the
 * run with a message if no operation finishes for STALL_SECONDS (a
 * deadlock) or it outlives LIMIT_SECONDS.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "b3cas/cache.h"
#include "test_util.h"

#define CONTENTS 64
#define HOT 8            /* contents 0..HOT-1 take half of the picks */
#define FILLERS 2048     /* held by the main thread throughout */
#define WORKERS 1024
#define GC_THREADS 2
#define THRESHOLD 1024   /* small, so loose objects (and L2) take part */
#define L1_BYTES (256u * 1024u)
#define L2_BYTES (128u * 1024u)
#define STACK_BYTES (256u * 1024u)
#define VIEW_SLOTS 3     /* views a worker may keep at once */
#define DEFAULT_SEED 0xb3ca5cace5eedull
#define DEFAULT_OPS 500
#define LIMIT_SECONDS 600 /* the whole run (plus the soak time) */
#define STALL_SECONDS 120 /* no operation finished anywhere for this long */

typedef struct content {
	uint8_t *bytes;
	size_t len;
	b3cas_oid id;
} content;

/* What the workers did, summed for the summary and the minimums. */
enum counter {
	N_OPS,
	N_PUTS,
	N_DUP_PUTS,
	N_REF_ADDS,
	N_GETS,
	N_GET_MISSES,
	N_VIEWS,
	N_VIEWS_KEPT,
	N_VIEWS_OUTLIVED_DELETE, /* kept while our delete left 0 refs */
	N_VIEWS_OUTLIVED_GC,     /* ... and checked once no trace was left */
	N_SCANS,                 /* reads of fillers */
	N_LOOKUPS,
	N_LOOKUP_HITS,
	N_DELETES,
	N_DELETES_TO_ZERO,
	N_REFCOUNTS,
	N_EVICTS,
	N_EVICT_HITS,
	N_LOADS,
	N_COUNTERS
};

static const char *const counter_names[N_COUNTERS] = {
	"ops", "puts", "dup_puts", "ref_adds", "gets", "get_misses",
	"views", "views_kept", "views_outlived_delete", "views_outlived_gc",
	"scans", "lookups", "lookup_hits", "deletes", "deletes_to_zero",
	"refcounts", "evicts", "evict_hits", "loads",
};

typedef struct kept_view {
	b3cas_blob *blob; /* NULL: the slot is free */
	int c;
	int ttl;          /* operations left before it is checked */
	bool orphaned;    /* our delete left its object without references */
} kept_view;

typedef struct worker {
	pthread_t thread;
	uint64_t rng;
	long op;          /* the operation being done, for messages */
	long held[CONTENTS];
	kept_view views[VIEW_SLOTS];
	uint64_t n[N_COUNTERS];
	char failure[512];
} worker;

/* The model's contents, then the fillers. */
static content contents[CONTENTS + FILLERS];
static b3cas_store *store;
static uint64_t seed = DEFAULT_SEED;
static long ops_per_thread = DEFAULT_OPS;
static long soak_seconds;

/*
 * The workers run in rounds of ROUND_OPS operations: all start a round
 * at once (gate_go), and all stop at its end (gate_round) so that the
 * main thread can compare the store with their counts while nothing but
 * the collectors and the resizer runs. round_limit is the operation
 * count a worker stops at in this round; -1 sends it to drop its
 * references and finish.
 */
#define ROUND_OPS 25
static pthread_barrier_t gate_go, gate_round;
static atomic_long round_limit;
/* Every second round ends with the workers, once all are done with
 * their operations (gate_drop), dropping all they hold, each delete
 * followed by a read: every count, the hot ones too, falls to zero under
 * the readers. Nothing else runs then but the collectors (the resizer
 * pauses while droppers > 0), so an L1 entry that a reader put back
 * after the delete that erased it stays until the round's check. */
static pthread_barrier_t gate_drop;
static atomic_bool round_drops;
static atomic_int droppers, still_dropping;
static atomic_bool stop_all;          /* a worker failed: everyone stops */
static atomic_bool helpers_stop;      /* collectors and resizer stop */
static atomic_bool finished;          /* the watchdog stops */
static atomic_long progress;          /* operations finished, any thread */
static atomic_int workers_finished;
static atomic_long gc_runs, gc_removed, gc_candidates, gc_revived, resizes;
static char gc_failure[512], resize_failure[512];

#define WCHECK(w, cond, ...)                                              \
	do {                                                              \
		if (!(cond)) {                                            \
			int at_ = snprintf((w)->failure,                  \
					   sizeof((w)->failure),          \
					   "op %ld: ", (w)->op);          \
			snprintf((w)->failure + at_,                      \
				 sizeof((w)->failure) - (size_t)at_,      \
				 __VA_ARGS__);                            \
			atomic_store(&stop_all, true);                    \
			return false;                                     \
		}                                                         \
	} while (0)

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void complain(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Say what is wrong, with the seed to replay it. */
static void complain(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[test_cache_stress] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (seed %llu)\n", (unsigned long long)seed);
}

/* References worker w holds to c; the fillers are all held (by the
 * main thread), so they must always be found. */
static long held_of(const worker *w, int c)
{
	return c < CONTENTS ? w->held[c] : 1;
}

static bool exact(int c, const void *data, size_t len)
{
	return data && len == contents[c].len &&
	       memcmp(data, contents[c].bytes, len) == 0;
}

/*
 * Half the picks go to a few hot contents, so L1 has something to hit
 * and their counts stay up; the cold rest are held by few workers at a
 * time, so their counts keep touching zero, the collectors remove them
 * and other workers' puts race to revive them.
 */
static int pick_content(worker *w)
{
	uint64_t r = tu_rand(&w->rng);

	if (r & 1)
		return (int)((r >> 1) % HOT);
	return HOT + (int)((r >> 1) % (CONTENTS - HOT));
}

/* A content we hold a reference to, or -1. */
static int pick_held(worker *w)
{
	int start = (int)(tu_rand(&w->rng) % CONTENTS);

	for (int i = 0; i < CONTENTS; i++) {
		int c = (start + i) % CONTENTS;

		if (w->held[c] > 0)
			return c;
	}
	return -1;
}

/* The content (not a filler) of one of our kept views, or -1. */
static int pick_viewed(worker *w)
{
	int s = (int)(tu_rand(&w->rng) % VIEW_SLOTS);

	return w->views[s].blob && w->views[s].c < CONTENTS ? w->views[s].c
							     : -1;
}

static bool do_put(worker *w)
{
	b3cas_oid id;
	int c = -1, rc;

	/* Half of the puts repeat content we hold: certain duplicates. */
	if (tu_rand(&w->rng) & 1)
		c = pick_held(w);
	if (c < 0)
		c = pick_content(w);
	rc = b3cas_store_put(store, &id, contents[c].bytes, contents[c].len);
	WCHECK(w, rc >= 0, "put %d: %d %s", c, rc, b3cas_error_last());
	WCHECK(w, b3cas_oid_equal(&id, &contents[c].id), "put %d: wrong id",
	       c);
	WCHECK(w, w->held[c] == 0 || rc == 1,
	       "put %d: new although we hold %ld references", c, w->held[c]);
	w->held[c]++;
	w->n[N_PUTS]++;
	w->n[N_DUP_PUTS] += rc == 1;
	return true;
}

static bool do_ref_add(worker *w)
{
	int c = pick_held(w);
	int64_t n;

	if (c < 0)
		return true;
	n = b3cas_ref_add(store, &contents[c].id);
	WCHECK(w, n >= w->held[c] + 1, "ref_add %d while holding %ld: %lld %s",
	       c, w->held[c], (long long)n, b3cas_error_last());
	w->held[c]++;
	w->n[N_REF_ADDS]++;
	return true;
}

/*
 * Our delete left c without references: keep its views for longer, so a
 * collector has time to remove the object under them.
 */
static void orphan_views(worker *w, int c)
{
	for (int s = 0; s < VIEW_SLOTS; s++) {
		kept_view *v = &w->views[s];

		if (v->blob && v->c == c && !v->orphaned) {
			v->orphaned = true;
			v->ttl = 20 + (int)(tu_rand(&w->rng) % 40);
		}
	}
}

static bool delete_one(worker *w, int c)
{
	int64_t left = b3cas_store_delete(store, &contents[c].id);

	WCHECK(w, left >= w->held[c] - 1,
	       "delete %d while holding %ld: %lld %s", c, w->held[c],
	       (long long)left, b3cas_error_last());
	w->held[c]--;
	w->n[N_DELETES]++;
	if (left == 0) {
		w->n[N_DELETES_TO_ZERO]++;
		orphan_views(w, c);
	}
	return true;
}

static bool do_get(worker *w, int c)
{
	void *data;
	size_t len;
	int rc = b3cas_store_get(store, &contents[c].id, &data, &len);
	bool ok;

	w->n[N_GETS]++;
	WCHECK(w, rc == 0 || (rc == B3CAS_ENOTFOUND && held_of(w, c) == 0),
	       "get %d while holding %ld: %d %s", c, held_of(w, c), rc,
	       b3cas_error_last());
	if (rc != 0) {
		w->n[N_GET_MISSES]++;
		return true;
	}
	ok = exact(c, data, len);
	b3cas_free(data);
	WCHECK(w, ok, "get %d (holding %ld): wrong bytes (%zu, want %zu)", c,
	       held_of(w, c), len, contents[c].len);
	return true;
}

/* Check a kept view again and give it back. */
static bool view_settle(worker *w, kept_view *v)
{
	b3cas_blob *b = v->blob;
	bool ok = exact(v->c, b3cas_blob_data(b), b3cas_blob_size(b));
	uint64_t count;

	v->blob = NULL;
	b3cas_blob_release(b);
	WCHECK(w, ok, "kept view of %d changed%s", v->c,
	       v->orphaned ? " after our delete left it no reference" : "");
	if (v->orphaned) {
		w->n[N_VIEWS_OUTLIVED_DELETE]++;
		/* No trace now: a collector removed it while we kept it. */
		if (b3cas_refcount(store, &contents[v->c].id, &count) ==
		    B3CAS_ENOTFOUND)
			w->n[N_VIEWS_OUTLIVED_GC]++;
	}
	return true;
}

static bool views_tick(worker *w)
{
	for (int s = 0; s < VIEW_SLOTS; s++) {
		kept_view *v = &w->views[s];

		if (v->blob && --v->ttl <= 0 && !view_settle(w, v))
			return false;
	}
	return true;
}

/* Keep b (ours) for a few operations, if a slot is free. */
static void view_keep(worker *w, int c, b3cas_blob *b)
{
	for (int s = 0; s < VIEW_SLOTS; s++) {
		kept_view *v = &w->views[s];

		if (v->blob)
			continue;
		/* Keep a second reference and give the first back, so the
		 * kept one is a retain's. */
		v->blob = b3cas_blob_retain(b);
		v->c = c;
		v->ttl = 1 + (int)(tu_rand(&w->rng) % 6);
		v->orphaned = false;
		w->n[N_VIEWS_KEPT]++;
		break;
	}
	b3cas_blob_release(b);
}

static bool do_view(worker *w, int c)
{
	b3cas_blob *b = NULL;
	int rc = b3cas_store_get_view(store, &contents[c].id, &b);
	bool ok;

	w->n[N_VIEWS]++;
	WCHECK(w, rc == 0 || (rc == B3CAS_ENOTFOUND && held_of(w, c) == 0),
	       "get_view %d while holding %ld: %d %s", c, held_of(w, c), rc,
	       b3cas_error_last());
	if (rc != 0)
		return true;
	WCHECK(w, b != NULL, "get_view %d: no blob", c);
	ok = exact(c, b3cas_blob_data(b), b3cas_blob_size(b));
	if (!ok)
		b3cas_blob_release(b);
	WCHECK(w, ok, "get_view %d (holding %ld): wrong bytes", c,
	       held_of(w, c));
	if (tu_rand(&w->rng) % 3 == 0)
		view_keep(w, c, b);
	else
		b3cas_blob_release(b);
	return true;
}

static bool do_delete(worker *w)
{
	int c = -1;

	/* Often the object a kept view shows, so views outlive deletes. */
	if (tu_rand(&w->rng) & 1)
		c = pick_viewed(w);
	if (c < 0 || w->held[c] == 0)
		c = pick_held(w);
	/* Holding nothing, read instead: deletes then keep pace with
	 * adds, and a worker usually holds nothing, so the cold counts
	 * fall to zero often. */
	if (c < 0) {
		c = pick_content(w);
		return tu_rand(&w->rng) & 1 ? do_get(w, c) : do_view(w, c);
	}
	return delete_one(w, c);
}

static bool do_lookup(worker *w, int c)
{
	b3cas_blob *b = NULL;
	int rc = b3cas_cache_lookup(store, &contents[c].id, &b);
	bool ok;

	w->n[N_LOOKUPS]++;
	WCHECK(w, rc == 0 || rc == 1, "cache_lookup %d: %d %s", c, rc,
	       b3cas_error_last());
	if (rc == 0)
		return true;
	WCHECK(w, b != NULL, "cache_lookup %d: a hit without a blob", c);
	ok = exact(c, b3cas_blob_data(b), b3cas_blob_size(b));
	b3cas_blob_release(b);
	WCHECK(w, ok, "cache_lookup %d (holding %ld): wrong bytes", c,
	       held_of(w, c));
	w->n[N_LOOKUP_HITS]++;
	return true;
}

static bool do_refcount(worker *w, int c)
{
	uint64_t count = 0;
	int rc = b3cas_refcount(store, &contents[c].id, &count);

	w->n[N_REFCOUNTS]++;
	if (w->held[c] == 0) {
		WCHECK(w, rc == 0 || rc == B3CAS_ENOTFOUND,
		       "refcount %d: %d %s", c, rc, b3cas_error_last());
		return true;
	}
	WCHECK(w, rc == 0 && count >= (uint64_t)w->held[c],
	       "refcount %d: %d, count %llu, we hold %ld", c, rc,
	       (unsigned long long)count, w->held[c]);
	return true;
}

static bool do_evict(worker *w)
{
	/* Often what a kept view shows: the view must not care. */
	int c = tu_rand(&w->rng) & 1 ? pick_viewed(w) : -1;
	int rc;

	if (c < 0)
		c = pick_content(w);
	rc = b3cas_cache_evict(store, &contents[c].id);
	WCHECK(w, rc == 0 || rc == 1, "cache_evict %d: %d %s", c, rc,
	       b3cas_error_last());
	w->n[N_EVICTS]++;
	w->n[N_EVICT_HITS] += (uint64_t)rc;
	return true;
}

/*
 * Read one of the many fillers: they alone overflow L1 and L2, so both
 * evict all the time, under the readers of the model's contents.
 */
static bool do_scan(worker *w)
{
	int f = CONTENTS + (int)(tu_rand(&w->rng) % FILLERS);

	w->n[N_SCANS]++;
	return tu_rand(&w->rng) & 1 ? do_view(w, f) : do_get(w, f);
}

static bool do_load(worker *w, int c)
{
	int rc = b3cas_cache_load(store, &contents[c].id);

	w->n[N_LOADS]++;
	WCHECK(w, rc == 0 || (rc == B3CAS_ENOTFOUND && w->held[c] == 0),
	       "cache_load %d while holding %ld: %d %s", c, w->held[c], rc,
	       b3cas_error_last());
	return true;
}

/*
 * One random operation. Adds (puts and ref_adds, 12%) are far fewer than
 * delete attempts (45%), so a worker mostly holds nothing and 1024 of them
 * still leave the cold contents' counts near zero. Half the reads are of
 * what we hold, when we hold anything: those must succeed.
 */
static bool do_op(worker *w)
{
	unsigned op = (unsigned)(tu_rand(&w->rng) % 100);
	int c = tu_rand(&w->rng) & 1 ? pick_held(w) : -1;

	if (c < 0)
		c = pick_content(w);
	if (op < 8)
		return do_put(w);
	if (op < 12)
		return do_ref_add(w);
	if (op < 57)
		return do_delete(w);
	if (op < 65)
		return do_get(w, c);
	if (op < 75)
		return do_view(w, c);
	if (op < 83)
		return do_scan(w);
	if (op < 90)
		return do_lookup(w, c);
	if (op < 93)
		return do_refcount(w, c);
	if (op < 96)
		return do_evict(w);
	return do_load(w, c);
}

static void views_settle_all(worker *w)
{
	for (int s = 0; s < VIEW_SLOTS; s++) {
		kept_view *v = &w->views[s];

		if (!v->blob)
			continue;
		/* After a failure only give them back: the first message
		 * is the one worth reading. */
		if (w->failure[0]) {
			b3cas_blob_release(v->blob);
			v->blob = NULL;
		} else {
			view_settle(w, v);
		}
	}
}

/*
 * Drop every reference we hold, each delete followed by a view of a
 * random content: the last references of the hot contents go while
 * other workers read them (the race a stale L1 entry comes from) and
 * the collectors run.
 */
static bool drop_all(worker *w)
{
	int start = (int)(tu_rand(&w->rng) % CONTENTS);

	atomic_fetch_add(&droppers, 1);
	for (int i = 0; i < CONTENTS; i++) {
		int c = (start + i) % CONTENTS;

		while (w->held[c] > 0) {
			if (!delete_one(w, c) || !do_view(w, pick_content(w)))
				return false;
		}
	}
	return true;
}

/*
 * Drop everything, then read until every worker has dropped: each last
 * delete then has readers in flight, some of them stopped by the
 * scheduler between their read of the index and their insert into L1.
 */
static void drop_phase(worker *w)
{
	if (!atomic_load(&stop_all))
		drop_all(w);
	atomic_fetch_sub(&still_dropping, 1);
	for (int i = 0; i < 50 && atomic_load(&still_dropping) > 0 &&
			!atomic_load(&stop_all); i++)
		if (!do_view(w, pick_content(w)))
			break;
}

static void *worker_main(void *arg)
{
	worker *w = arg;

	for (;;) {
		long limit;

		pthread_barrier_wait(&gate_go);
		limit = atomic_load(&round_limit);
		if (limit < 0)
			break;
		while (w->op < limit &&
		       !atomic_load_explicit(&stop_all, memory_order_relaxed)) {
			if (!views_tick(w) || !do_op(w))
				break;
			w->n[N_OPS]++;
			w->op++;
			atomic_fetch_add_explicit(&progress, 1,
						  memory_order_relaxed);
		}
		if (atomic_load(&round_drops)) {
			pthread_barrier_wait(&gate_drop);
			drop_phase(w);
		}
		/* The main thread checks the store against our counts. */
		pthread_barrier_wait(&gate_round);
	}
	drop_phase(w);
	views_settle_all(w);
	atomic_fetch_add(&workers_finished, 1);
	return NULL;
}

static void *gc_main(void *arg)
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
static void *resizer_main(void *arg)
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
static void *watchdog_main(void *arg)
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

/*
 * Files (anything but folders) under path at any depth, none if it is
 * absent; each is named on stderr when they are unexpected (say). One
 * that a collector removes during the walk is not counted.
 */
static long count_files(const char *path, bool say)
{
	DIR *d = opendir(path);
	struct dirent *e;
	long n = 0;

	if (!d) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		char sub[4096];
		struct stat st;

		/* b3cas.owner marks an objects folder as this store's
		 * (docs/store.md): not an object. */
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "b3cas.owner"))
			continue;
		assert_true(snprintf(sub, sizeof(sub), "%s/%s", path,
				     e->d_name) < (int)sizeof(sub));
		if (lstat(sub, &st) != 0) {
			assert_int_equal(errno, ENOENT);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			n += count_files(sub, say);
			continue;
		}
		if (say)
			fprintf(stderr, "[test_cache_stress] file: %s (%lld "
				"bytes)\n", sub, (long long)st.st_size);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * Every copy in cache/l2/ab/ must be listed in L2's index, or no eviction
 * would ever delete it and the folder would outgrow its capacity: so
 * evicting its id must find it (L1 is empty by now) and delete it.
 * Returns the copies that were not listed, each said on stderr; the
 * listed ones are gone afterwards.
 */
static long check_l2_copies(const char *l2dir)
{
	DIR *d = opendir(l2dir);
	struct dirent *e;
	long unlisted = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char sub[256];
		struct dirent *f;
		DIR *sd;

		if (e->d_name[0] == '.' || strlen(e->d_name) != 2)
			continue; /* not ab/: ., .. or tmp/ */
		snprintf(sub, sizeof(sub), "%s/%s", l2dir, e->d_name);
		sd = opendir(sub);
		assert_non_null(sd);
		while ((f = readdir(sd)) != NULL) {
			b3cas_oid id;

			if (f->d_name[0] == '.')
				continue;
			assert_int_equal(b3cas_oid_parse(&id, f->d_name), 0);
			if (b3cas_cache_evict(store, &id) != 1) {
				complain("cache/l2/%s/%s: a copy that L2 does "
					 "not list", e->d_name, f->d_name);
				unlisted++;
			}
		}
		closedir(sd);
	}
	closedir(d);
	return unlisted;
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	fprintf(stderr, "[test_cache_stress] still stored: %s (%llu refs)\n",
		b3cas_oid_fmt(hex, &info->id), (unsigned long long)info->refs);
	(*(long *)ctx)++;
	return 0;
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

/*
 * Content c, which nobody holds: it must not be stored, not readable and
 * not in L1 (its last delete erased it before returning, and a reader
 * that read it just before must not have put it back).
 */
static int check_unheld(long round, int c)
{
	b3cas_blob *b = NULL;
	void *data = NULL;
	size_t len;
	int hit = b3cas_cache_lookup(store, &contents[c].id, &b);
	int got = b3cas_store_get(store, &contents[c].id, &data, &len);
	int exists = b3cas_store_exists(store, &contents[c].id);

	b3cas_blob_release(hit == 1 ? b : NULL);
	b3cas_free(got == 0 ? data : NULL);
	if (hit == 0 && got == B3CAS_ENOTFOUND && exists == 0)
		return 0;
	complain("round %ld: content %d, held by nobody: L1 lookup %d, get "
		 "%d, exists %d", round, c, hit, got, exists);
	return 1;
}

/* Content c, which the workers hold: it must read exactly. With kept,
 * its view stays in kept[c]. */
static int check_held(long round, int c, b3cas_blob **kept)
{
	b3cas_blob *b = NULL;
	int rc = b3cas_store_get_view(store, &contents[c].id, &b);
	bool ok = rc == 0 && exact(c, b3cas_blob_data(b), b3cas_blob_size(b));

	if (!ok)
		complain("round %ld: content %d, held: get_view %d %s", round,
			 c, rc, rc ? b3cas_error_last() : "(wrong bytes)");
	if (ok && kept)
		kept[c] = b;
	else if (rc == 0)
		b3cas_blob_release(b);
	return !ok;
}

/*
 * At the end of a round, every worker stopped (the collectors and the
 * resizer still run): each count must be the sum of what the workers
 * hold, none lost or gained; what nobody holds must be gone from every
 * reader and from L1; what somebody holds must read exactly, and the
 * loose ones must have their files in the tier. Returns the number of
 * mismatches, each said on stderr. With kept (the last round), the views
 * of the objects still held stay there, for after the close.
 */
static int check_round(const worker *workers, long round, b3cas_blob **kept,
		       const char *tier)
{
	long loose_held = FILLERS / 8, in_tier;
	int bad = 0;

	for (int c = 0; c < CONTENTS; c++) {
		uint64_t count = 0;
		long total = 0;
		int rc;

		for (int t = 0; t < WORKERS; t++)
			total += workers[t].held[c];
		rc = b3cas_refcount(store, &contents[c].id, &count);
		if (total == 0 ? !(rc == B3CAS_ENOTFOUND ||
				   (rc == 0 && count == 0))
			       : rc != 0 || count != (uint64_t)total) {
			complain("round %ld: content %d: refcount %d, count "
				 "%llu, the workers hold %ld", round, c, rc,
				 (unsigned long long)count, total);
			bad++;
		}
		if (total == 0) {
			bad += check_unheld(round, c);
			continue;
		}
		bad += check_held(round, c, kept);
		loose_held += contents[c].len > THRESHOLD;
	}
	/* The collectors still run: candidates' files may be there too. */
	in_tier = count_files(tier, false);
	if (in_tier < loose_held) {
		complain("round %ld: %ld loose objects held, %ld files in the "
			 "tier", round, loose_held, in_tier);
		bad++;
	}
	return bad;
}

/* The operation count at which the workers stop in round r. */
static long round_end(long r)
{
	long end = (r + 1) * ROUND_OPS;

	return soak_seconds || end < ops_per_thread ? end : ops_per_thread;
}

/* Whether round r ends with the workers dropping everything: every
 * second one, never the last (its references are kept for the views
 * that outlive the store). */
static bool round_is_drop(long r)
{
	return r % 2 == 1 && (soak_seconds || round_end(r) < ops_per_thread);
}

/*
 * Run the workers round by round until the operations (or the soak
 * time) are done, checking the store after each round, then let them
 * drop their references and finish. Returns the mismatches found.
 */
static int run_rounds(const worker *workers, const struct timespec *t0,
		      b3cas_blob **kept, const char *tier, long *rounds)
{
	int bad = 0;

	for (long r = 0;; r++) {
		bool more;

		pthread_barrier_wait(&gate_go);
		if (atomic_load(&round_limit) < 0)
			break;
		pthread_barrier_wait(&gate_round);
		/* A soak ends after a round that kept its references. */
		if (soak_seconds)
			more = seconds_since(t0) < (double)soak_seconds ||
			       round_is_drop(r);
		else
			more = round_end(r) < ops_per_thread;
		more = more && !atomic_load(&stop_all);
		bad += check_round(workers, r, more ? NULL : kept, tier);
		atomic_fetch_add(&progress, 1);
		atomic_store(&droppers, 0);
		atomic_store(&still_dropping, WORKERS);
		atomic_store(&round_drops, round_is_drop(r + 1));
		atomic_store(&round_limit, more && !bad ? round_end(r + 1)
							: -1);
		*rounds = r + 1;
	}
	return bad;
}

/* After the last collection: no object may be readable or cached. */
static void check_all_gone(void)
{
	for (int c = 0; c < CONTENTS + FILLERS; c++) {
		b3cas_blob *b = NULL;
		uint64_t count;
		void *data;
		size_t len;

		if (b3cas_cache_lookup(store, &contents[c].id, &b) != 0) {
			complain("content %d: still in L1 after its delete "
				 "and collection", c);
			b3cas_blob_release(b);
			fail();
		}
		assert_int_equal(b3cas_store_get(store, &contents[c].id, &data,
						 &len),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_store_get_view(store, &contents[c].id,
						      &b),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_cache_load(store, &contents[c].id),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_store_exists(store, &contents[c].id), 0);
		assert_int_equal(b3cas_refcount(store, &contents[c].id, &count),
				 B3CAS_ENOTFOUND);
	}
}

static void print_summary(const uint64_t *n, const b3cas_cache_stats *cs,
			  long rounds, long last_gc, long l2_files,
			  double secs)
{
	const b3cas_cache_level_stats *l[2] = {&cs->l1, &cs->l2};

	fprintf(stderr, "[test_cache_stress] %d workers x ", WORKERS);
	if (soak_seconds)
		fprintf(stderr, "%ld s soak", soak_seconds);
	else
		fprintf(stderr, "%ld ops", ops_per_thread);
	fprintf(stderr, " (%ld rounds checked) in %.1f s (seed %llu):",
		rounds, secs, (unsigned long long)seed);
	for (int i = 0; i < N_COUNTERS; i++)
		fprintf(stderr, " %s=%llu", counter_names[i],
			(unsigned long long)n[i]);
	fprintf(stderr, "\n[test_cache_stress] gc: %ld runs saw %ld "
		"candidates, %ld revived under them, collected %ld objects "
		"while the workers ran, the last run %ld; %ld resizes\n",
		atomic_load(&gc_runs), atomic_load(&gc_candidates),
		atomic_load(&gc_revived), atomic_load(&gc_removed), last_gc,
		atomic_load(&resizes));
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "[test_cache_stress] L%d: hits=%llu "
			"misses=%llu inserts=%llu evictions=%llu "
			"invalidations=%llu rejected=%llu corrupt=%llu; now "
			"%llu entries, %llu bytes\n", i + 1,
			(unsigned long long)l[i]->hits,
			(unsigned long long)l[i]->misses,
			(unsigned long long)l[i]->inserts,
			(unsigned long long)l[i]->evictions,
			(unsigned long long)l[i]->invalidations,
			(unsigned long long)l[i]->rejected,
			(unsigned long long)l[i]->corrupt,
			(unsigned long long)l[i]->entries,
			(unsigned long long)l[i]->bytes);
	fprintf(stderr, "[test_cache_stress] files left in cache/l2: %ld\n",
		l2_files);
}

/*
 * Lower bounds that a working store reaches easily in a run of the
 * default length, so that a cache that never caches or evicts, a
 * collector that never collects, or a mix that never reaches the cases
 * that matter fails the test.
 */
static void check_minimums(const uint64_t *n, const b3cas_cache_stats *cs)
{
	/* Nobody damages L2's files here: a copy that fails verification
	 * was published before it was complete. */
	assert_int_equal(cs->l2.corrupt, 0);
	if (!soak_seconds && ops_per_thread < DEFAULT_OPS) {
		fprintf(stderr, "[test_cache_stress] fewer operations than "
			"the default: minimums not checked\n");
		return;
	}
	assert_true(n[N_DUP_PUTS] > 0);
	assert_true(n[N_DELETES_TO_ZERO] > 0);
	assert_true(n[N_LOOKUP_HITS] > 0);
	assert_true(n[N_VIEWS_OUTLIVED_DELETE] > 0);
	assert_true(atomic_load(&gc_removed) > 0);
	assert_true(cs->l1.hits > 0);
	assert_true(cs->l1.inserts > 0);
	assert_true(cs->l1.evictions > 0);
	assert_true(cs->l2.inserts > 0);
	assert_true(cs->l2.hits > 0);
	assert_true(cs->l2.evictions > 0);
}

static void test_cache_stress(void **state)
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
	assert_int_equal(b3cas_store_open(&store, root, &o), 0);
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
