/*
 * test_cache_stress_check.c - the main thread's side of the rounds and
 * its checks: at the end of each round every count equals the sum the
 * workers hold, an object nobody holds is gone from every reader and
 * from L1, and a held one reads back exact; at the end nothing is stored
 * or left as a file in the tier, cache/l2 holds no file its index does
 * not list, and minimum counts of hits, evictions and collections show
 * the caches cached. Also the summary printed after the run. Part of the
 * test_cache_stress program.
 */
#include "test_cache_stress_int.h"

static const char *const counter_names[N_COUNTERS] = {
	"ops", "puts", "dup_puts", "ref_adds", "gets", "get_misses",
	"views", "views_kept", "views_outlived_delete", "views_outlived_gc",
	"scans", "lookups", "lookup_hits", "deletes", "deletes_to_zero",
	"refcounts", "evicts", "evict_hits", "loads",
};

/*
 * Files (anything but folders) under path at any depth, none if it is
 * absent; each is named on stderr when they are unexpected (say). One
 * that a collector removes during the walk is not counted.
 */
long count_files(const char *path, bool say)
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
long check_l2_copies(const char *l2dir)
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

int count_object(const b3cas_object_info *info, void *ctx)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	fprintf(stderr, "[test_cache_stress] still stored: %s (%llu refs)\n",
		b3cas_oid_fmt(hex, &info->id), (unsigned long long)info->refs);
	(*(long *)ctx)++;
	return 0;
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
	/* (a RADOS store keeps every object in its pool) */
	long loose_held = tu_chunking() ? 0 : pool ? FILLERS : FILLERS / 8;
	long in_tier;
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
		/* a chunking store keeps no loose files (tu_store_policy) */
		loose_held += (contents[c].len > THRESHOLD || pool) &&
			      !tu_chunking();
	}
	/* The collectors still run: candidates' files may be there too. */
	in_tier = pool ? tu_pool_objects(pool) : count_files(tier, false);
	if (in_tier < loose_held) {
		complain("round %ld: %ld loose objects held, %ld files in the "
			 "tier", round, loose_held, in_tier);
		bad++;
	}
	return bad;
}

/* The operation count at which the workers stop in round r. */
long round_end(long r)
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
int run_rounds(const worker *workers, const struct timespec *t0,
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
void check_all_gone(void)
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

void print_summary(const uint64_t *n, const b3cas_cache_stats *cs,
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
void check_minimums(const uint64_t *n, const b3cas_cache_stats *cs)
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
	/* L2 holds copies of loose objects: a chunking store has none */
	if (!tu_chunking()) {
		assert_true(cs->l2.inserts > 0);
		assert_true(cs->l2.hits > 0);
		assert_true(cs->l2.evictions > 0);
	}
}
