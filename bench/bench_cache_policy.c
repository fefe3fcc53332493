/*
 * bench_cache_policy.c - bench_cache's part 1: the cache engine alone
 * (no store, no payloads), S3-FIFO against LRU at the same capacity and
 * with L1's shards, on Zipf traces and on the same traces with one-time
 * scans between their requests; hit ratios of the Zipf requests.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"
#include "cache/cache.h"
#include "index/index.h"
#include "bench_cache_int.h"

static b3cas_oid *universe_ids; /* ids of numbers 0..universe-1 */

/*
 * A trace is a list of id numbers: below cfg.universe a Zipf request,
 * from there on a scan's id, each used once in the whole trace.
 */
typedef struct trace {
	uint32_t *req;
	long n;
	long zipf_reqs;
} trace;

/* Rank r is id number r: hashing the number scatters the popular ids
 * over shards and buckets. */
static void trace_zipf(trace *t, const zipf *z, uint64_t seed)
{
	uint64_t rng = seed;

	t->n = t->zipf_reqs = cfg.trace_len;
	t->req = malloc((size_t)t->n * sizeof(uint32_t));
	if (!t->req)
		die("out of memory");
	for (long i = 0; i < t->n; i++)
		t->req[i] = (uint32_t)zipf_draw(z, &rng);
}

/* The same Zipf requests with a scan of scan_len new ids after every
 * scan_gap of them, so the two traces differ only by the scans. */
static void trace_scans(trace *t, const trace *base)
{
	long scans = base->n / cfg.scan_gap;
	uint32_t next_scan_id = (uint32_t)cfg.universe;
	long j = 0;

	t->n = base->n + scans * cfg.scan_len;
	t->zipf_reqs = base->n;
	t->req = malloc((size_t)t->n * sizeof(uint32_t));
	if (!t->req)
		die("out of memory");
	for (long i = 0; i < base->n; i++) {
		t->req[j++] = base->req[i];
		if ((i + 1) % cfg.scan_gap == 0)
			for (long s = 0; s < cfg.scan_len; s++)
				t->req[j++] = next_scan_id++;
	}
}

typedef struct policy_result {
	double hit_ratio;  /* of the Zipf requests */
	double ns_per_req;
	uint64_t refused;  /* inserts the engine turned down */
} policy_result;

/*
 * Play trace t through a new cache as L1 uses it: a get, and on a miss a
 * ticket and an insert charged the object's size. The engine's counters
 * must agree with what happened, and it must not hold more than its
 * capacity.
 */
static policy_result simulate(const trace *t, uint64_t capacity,
			      b3cas_cache_policy policy)
{
	b3cas_cache *c = b3cas__cache_new(capacity, SHARDS, policy, NULL);
	uint64_t hits = 0, scan_hits = 0, inserts = 0, refused = 0;
	b3cas_cache_level_stats st;
	policy_result r;
	double t0;

	if (!c)
		die("b3cas__cache_new failed");
	t0 = now();
	for (long i = 0; i < t->n; i++) {
		uint32_t number = t->req[i];
		b3cas_oid scan_id;
		const b3cas_oid *id;
		uint64_t ticket;

		if (number < (uint32_t)cfg.universe) {
			id = &universe_ids[number];
		} else {
			number_id(&scan_id, number);
			id = &scan_id;
		}
		if (b3cas__cache_get(c, id, NULL)) {
			hits++;
			scan_hits += number >= (uint32_t)cfg.universe;
			continue;
		}
		ticket = b3cas__cache_ticket(c, id);
		if (b3cas__cache_insert(c, id, NULL, OBJ, ticket))
			inserts++;
		else
			refused++;
	}
	r.ns_per_req = (now() - t0) * 1e9 / (double)t->n;
	memset(&st, 0, sizeof(st));
	b3cas__cache_stats(c, &st);
	if (scan_hits)
		bench_fail("%s: %llu hits on one-time scan ids",
		     policy == B3CAS_POLICY_LRU ? "LRU" : "S3-FIFO",
		     (unsigned long long)scan_hits);
	if (st.hits != hits || st.misses != (uint64_t)t->n - hits ||
	    st.inserts != inserts)
		bench_fail("%s: engine counted %llu hits, %llu misses, %llu inserts; "
		     "the trace saw %llu, %llu, %llu",
		     policy == B3CAS_POLICY_LRU ? "LRU" : "S3-FIFO",
		     (unsigned long long)st.hits,
		     (unsigned long long)st.misses,
		     (unsigned long long)st.inserts, (unsigned long long)hits,
		     (unsigned long long)((uint64_t)t->n - hits),
		     (unsigned long long)inserts);
	if (st.bytes > capacity || st.entries * OBJ != st.bytes)
		bench_fail("%s: holds %llu bytes in %llu entries, capacity %llu",
		     policy == B3CAS_POLICY_LRU ? "LRU" : "S3-FIFO",
		     (unsigned long long)st.bytes,
		     (unsigned long long)st.entries,
		     (unsigned long long)capacity);
	b3cas__cache_free(c);
	r.hit_ratio = (double)hits / (double)t->zipf_reqs;
	r.refused = refused;
	return r;
}

/* Summed over the rows, for the summary. */
double policy_gain_zipf, policy_gain_scan;
int policy_rows_zipf, policy_rows_scan;

static void policy_row(const char *name, double alpha, const trace *t,
		       int percent, bool scans)
{
	uint64_t cap = (uint64_t)cfg.universe * OBJ * (uint64_t)percent / 100;
	policy_result s3 = simulate(t, cap, B3CAS_POLICY_S3FIFO);
	policy_result lru = simulate(t, cap, B3CAS_POLICY_LRU);
	double diff = (s3.hit_ratio - lru.hit_ratio) * 100;

	printf("%-11s %5.2f %4d%% %8llu | %7.2f%% %7.2f%% %+7.2f | %6.0f "
	       "%6.0f\n",
	       name, alpha, percent, (unsigned long long)(cap / OBJ),
	       s3.hit_ratio * 100, lru.hit_ratio * 100, diff, s3.ns_per_req,
	       lru.ns_per_req);
	if (s3.refused || lru.refused)
		printf("            (inserts refused: S3-FIFO %llu, LRU "
		       "%llu)\n",
		       (unsigned long long)s3.refused,
		       (unsigned long long)lru.refused);
	fflush(stdout);
	if (scans) {
		policy_gain_scan += diff;
		policy_rows_scan++;
	} else {
		policy_gain_zipf += diff;
		policy_rows_zipf++;
	}
}

void bench_policy(void)
{
	static const double alphas[] = {0.9, 1.1};
	static const int percents[] = {1, 10};
	long scans = cfg.trace_len / cfg.scan_gap;
	double t0 = now();

	universe_ids = malloc((size_t)cfg.universe * sizeof(b3cas_oid));
	if (!universe_ids)
		die("out of memory");
	for (long i = 0; i < cfg.universe; i++)
		number_id(&universe_ids[i], (uint64_t)i);
	printf("\n== 1. eviction policy: S3-FIFO vs LRU (cache engine "
	       "alone, %d shards, %u-byte objects) ==\n", SHARDS, OBJ);
	printf("universe %ld ids; %ld Zipf requests per trace; 'scans': "
	       "the same requests with a scan of %ld new ids after every "
	       "%ld (%ld scans, %.0f%% of all requests); hit ratio of the "
	       "Zipf requests, diff = S3-FIFO - LRU in points; ns/req: get "
	       "+ (on a miss) ticket + insert, one thread (a scan id's hash "
	       "included)\n",
	       cfg.universe, cfg.trace_len, cfg.scan_len, cfg.scan_gap,
	       scans,
	       100.0 * (double)(scans * cfg.scan_len) /
		       (double)(cfg.trace_len + scans * cfg.scan_len));
	printf("%-11s %5s %5s %8s | %8s %8s %7s | %6s %6s\n", "trace",
	       "alpha", "cache", "objects", "S3-FIFO", "LRU", "diff",
	       "ns S3", "ns LRU");
	for (int a = 0; a < 2; a++) {
		zipf z;
		trace plain, scanned;

		zipf_init(&z, cfg.universe, alphas[a]);
		trace_zipf(&plain, &z, 1000 + (uint64_t)a);
		trace_scans(&scanned, &plain);
		for (int p = 0; p < 2; p++)
			policy_row("zipf", alphas[a], &plain, percents[p],
				   false);
		for (int p = 0; p < 2; p++)
			policy_row("zipf+scans", alphas[a], &scanned,
				   percents[p], true);
		free(plain.req);
		free(scanned.req);
		zipf_free(&z);
	}
	free(universe_ids);
	universe_ids = NULL;
	printf("(%.1f s)\n", now() - t0);
}
