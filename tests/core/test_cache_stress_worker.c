/*
 * test_cache_stress_worker.c - what each of the 1024 workers does: pick a
 * content (half the picks go to the hot ones) and an operation (put, ref
 * add, get, view, delete, cache lookup, refcount, evict, load, a read of
 * a filler), check the result against the references it holds (held: it
 * must be there with its exact bytes; not held: it may miss, but what it
 * returns is exact), keep views across its next operations and check
 * they never change, and in the drop rounds drop everything it holds.
 * WCHECK records a worker's first failure and stops everyone. Part of
 * the test_cache_stress program.
 */
#include "test_cache_stress_int.h"

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

/* References worker w holds to c; the fillers are all held (by the
 * main thread), so they must always be found. */
static long held_of(const worker *w, int c)
{
	return c < CONTENTS ? w->held[c] : 1;
}

bool exact(int c, const void *data, size_t len)
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

void *worker_main(void *arg)
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
