/*
 * bench_cache.c - the store's caches, measured side by side in one run:
 *
 *   policy  the cache engine alone (src/cache/cache.h, no store, no
 *           payloads), S3-FIFO against LRU at the same capacity and with
 *           L1's 64 shards, on Zipf traces of 1 KiB objects, and on the
 *           same traces with long one-time scans between their requests:
 *           hit ratios of the Zipf requests (a scan's never can hit);
 *   L1      latency of b3cas_store_get_view + b3cas_blob_release and of
 *           b3cas_store_get (a copy) on 1 KiB objects all in L1, and of
 *           the same calls with L1 turned off (read from the index and
 *           verified: the miss path);
 *   L2      latency of gets of 16 KiB loose objects with L1 off, from L2
 *           and then with L2 off, from the objects tier (objects_dir, its
 *           pages in the page cache);
 *   mixed   70% get_view (Zipf), 20% put (half duplicates, half new
 *           content), 10% delete (of references the thread made) of
 *           1 KiB objects, on each --threads count for a fixed time;
 *           beside it raw RocksDB doing the same mix with the options the
 *           store gives its index, in rounds a b b a so both see the same
 *           machine: ops/s, p50/p99 of sampled operations, L1 hit ratio.
 *
 * Latency is CLOCK_MONOTONIC around each call (the clock's own cost is
 * printed, not subtracted); content and ids are made before the clock
 * starts. Timing targets are printed beside the figures, never asserted:
 * the machine is shared and noisy. A failed operation, wrong bytes, or
 * cache counters that contradict what was done fail the run (exit 1).
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

#define BENCH_NAME "bench_cache"
#include "bench_util.h"

#define KIB 1024u
#define MIB (KIB * KIB)
#define OBJ KIB            /* object size of the policy, L1, mixed parts */
#define L2_OBJ (16 * KIB)  /* loose objects of the L2 part */
#define L2_INLINE 4096     /* inline threshold of the L2 part's store */
#define SHARDS 64          /* as L1 */
#define BATCH 256
#define MAX_COUNTS 8       /* thread counts in --threads */
#define MAX_THREADS 4096
/* Each mixed-workload thread's stack: 1024 of the default 8 MiB would
 * reserve 8 GiB of address space for nothing. */
#define STACK_BYTES (256u * KIB)
#define SAMPLE_EVERY 8     /* mixed: time one operation in this many */
#define MIX_ALPHA 0.9      /* Zipf skew of the mixed workload's gets */

enum { RUN_BASE = 1, RUN_NEW = 2, RUN_L2 = 3, RUN_RAWKEY = 4 };

/* The parts of a run (--parts), in the order they run. */
enum {
	PART_POLICY = 1,
	PART_L1 = 2,
	PART_L2 = 4,
	PART_MIXED = 8,
	PART_ALL = 15
};

typedef struct config {
	bool quick;
	unsigned parts;
	const char *dir;
	int threads[MAX_COUNTS];
	int nthreads;
	double seconds;      /* per side and thread count */
	long objects;        /* preloaded 1 KiB objects */
	/* policy part */
	long universe;       /* distinct ids of the Zipf traces */
	long trace_len;      /* Zipf requests per trace */
	long scan_len;       /* ids per scan */
	long scan_gap;       /* Zipf requests between two scans */
	/* L1 part */
	long hot;            /* objects the hit calls choose from */
	long hot_small;      /* the same, few enough for the CPU caches */
	long hit_calls, miss_calls;
	/* L2 part */
	long l2_objects, l2_gets;
} config;

static config cfg;
static char root[2048];

/* ---- helpers ---- */

static inline double rng_unit(uint64_t *s)
{
	return (double)(tu_rand(s) >> 11) * 0x1p-53;
}

/* Ids are hashes of their numbers, so they spread over shards and
 * buckets as real ids do. */
static void number_id(b3cas_oid *out, uint64_t number)
{
	b3cas_hash(out->bytes, &number, sizeof(number));
}

typedef struct lat_summary {
	size_t n;
	double p50, p99, p999;
} lat_summary;

/* Nearest-rank quantiles, as bench_util.h's quantile, with one sort. */
static lat_summary summarize(double *v, size_t n)
{
	lat_summary s = {n, 0, 0, 0};

	if (n == 0)
		return s;
	qsort(v, n, sizeof(double), cmp_double);
	s.p50 = v[(size_t)(0.5 * (double)n)];
	s.p99 = v[(size_t)(0.99 * (double)n)];
	s.p999 = v[(size_t)(0.999 * (double)n)];
	return s;
}

static void print_time(double sec)
{
	if (sec >= 1e-3)
		printf(" %8.2fms", sec * 1e3);
	else
		printf(" %8.2fus", sec * 1e6);
}

static double *alloc_doubles(size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(double));

	if (!v)
		die("out of memory");
	return v;
}

static void sleep_seconds(double sec)
{
	struct timespec ts, rem;

	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

/* ---- Zipf ---- */

/* Ranks 0..n-1, rank r drawn with probability proportional to
 * 1/(r+1)^alpha: the cumulative distribution, searched by bisection. */
typedef struct zipf {
	double *cdf;
	long n;
	double alpha;
} zipf;

static void zipf_init(zipf *z, long n, double alpha)
{
	double sum = 0;

	z->cdf = alloc_doubles((size_t)n);
	z->n = n;
	z->alpha = alpha;
	for (long i = 0; i < n; i++) {
		sum += pow((double)(i + 1), -alpha);
		z->cdf[i] = sum;
	}
	for (long i = 0; i < n; i++)
		z->cdf[i] /= sum;
}

static long zipf_draw(const zipf *z, uint64_t *rng)
{
	double u = rng_unit(rng);
	long lo = 0, hi = z->n - 1;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void zipf_free(zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
}

/* ---- 1. the eviction policies ---- */

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
static double policy_gain_zipf, policy_gain_scan;
static int policy_rows_zipf, policy_rows_scan;

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

static void bench_policy(void)
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

/* ---- the preloaded store ---- */

static b3cas_oid *ids;    /* ids of contents 0..objects-1 (RUN_BASE) */
static uint64_t *heads;   /* their first 8 bytes */
static uint64_t *tails;   /* and their last 8 */

/* The cheap check of every timed read: size, first and last 8 bytes
 * (a warm-up pass compares every byte once). */
static inline bool content_ok(const void *p, size_t len, long k)
{
	const uint8_t *b = p;

	return len == OBJ && memcmp(b, &heads[k], 8) == 0 &&
	       memcmp(b + OBJ - 8, &tails[k], 8) == 0;
}

static b3cas_store *open_main(const char *dir)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	o.create = true;
	if (b3cas_store_open(&s, dir, &o) != 0)
		die("cannot open a store in %s: %s", dir, b3cas_error_last());
	return s;
}

static void preload(b3cas_store *s)
{
	uint8_t *buf = malloc((size_t)BATCH * OBJ);
	const void *datas[BATCH];
	size_t lens[BATCH];
	double t0 = now();

	ids = malloc((size_t)cfg.objects * sizeof(*ids));
	heads = malloc((size_t)cfg.objects * 8);
	tails = malloc((size_t)cfg.objects * 8);
	if (!buf || !ids || !heads || !tails)
		die("out of memory");
	for (int j = 0; j < BATCH; j++) {
		datas[j] = buf + (size_t)j * OBJ;
		lens[j] = OBJ;
	}
	for (long i = 0; i < cfg.objects; i += BATCH) {
		size_t n = (size_t)(cfg.objects - i < BATCH ? cfg.objects - i
							     : BATCH);

		for (size_t j = 0; j < n; j++) {
			uint8_t *b = buf + j * OBJ;

			make_content(b, OBJ, RUN_BASE, (uint64_t)i + j);
			memcpy(&heads[i + (long)j], b, 8);
			memcpy(&tails[i + (long)j], b + OBJ - 8, 8);
		}
		if (b3cas_store_put_batch(s, ids + i, NULL, datas, lens, n) !=
		    0)
			die("put_batch: %s", b3cas_error_last());
	}
	free(buf);
	printf("\nstore for parts 2 and 4: %ld objects of %u bytes put with "
	       "put_batch in %.2f s (batch durability, default options)\n",
	       cfg.objects, OBJ, now() - t0);
}

static void cache_stats(b3cas_store *s, b3cas_cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	b3cas_cache_stats_get(s, st);
}

/* Every byte of objects [0, n) read through a view, once. */
static void read_all_views(b3cas_store *s, long n)
{
	uint8_t want[OBJ];

	for (long k = 0; k < n; k++) {
		b3cas_blob *b;

		if (b3cas_store_get_view(s, &ids[k], &b) != 0)
			die("get_view: %s", b3cas_error_last());
		make_content(want, OBJ, RUN_BASE, (uint64_t)k);
		if (b3cas_blob_size(b) != OBJ ||
		    memcmp(b3cas_blob_data(b), want, OBJ) != 0)
			die("get_view of object %ld: wrong bytes", k);
		b3cas_blob_release(b);
	}
}

/* ---- 2. L1 hit latency ---- */

static double clock_p50;
static lat_summary l1_view, l1_view_small, l1_copy, l1_view_miss,
	l1_copy_miss;

static double clock_overhead(void)
{
	enum { N = 100000 };
	double *v = alloc_doubles(N), p50;

	for (int i = 0; i < N; i++) {
		double t0 = now();

		v[i] = now() - t0;
	}
	p50 = summarize(v, N).p50;
	free(v);
	return p50;
}

/* Every CHECK_EVERYth timed view is read again, untimed, and its bytes
 * checked: the timed call reads none of them, as zero copy promises. */
#define CHECK_EVERY 16

static void check_view(b3cas_store *s, long k)
{
	b3cas_blob *b;
	bool ok;

	if (b3cas_store_get_view(s, &ids[k], &b) != 0)
		die("get_view: %s", b3cas_error_last());
	ok = content_ok(b3cas_blob_data(b), b3cas_blob_size(b), k);
	b3cas_blob_release(b);
	if (!ok)
		die("get_view of object %ld: wrong bytes", k);
}

/* calls timed calls on objects drawn uniformly from [0, hot). */
static lat_summary time_views(b3cas_store *s, long calls, long hot,
			      uint64_t seed)
{
	double *lat = alloc_doubles((size_t)calls);
	lat_summary r;

	for (long i = 0; i < calls; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) % (uint64_t)hot);
		const void *p = NULL;
		b3cas_blob *b;
		size_t len = 0;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get_view(s, &ids[k], &b);
		if (rc == 0) {
			p = b3cas_blob_data(b);
			len = b3cas_blob_size(b);
			b3cas_blob_release(b);
		}
		lat[i] = now() - t0;
		if (rc != 0)
			die("get_view: %s", b3cas_error_last());
		if (!p || len != OBJ)
			die("get_view of object %ld: %zu bytes at %p", k, len,
			    p);
		if (i % CHECK_EVERY == 0)
			check_view(s, k);
	}
	r = summarize(lat, (size_t)calls);
	free(lat);
	return r;
}

static lat_summary time_copies(b3cas_store *s, long calls, long hot,
			       uint64_t seed)
{
	double *lat = alloc_doubles((size_t)calls);
	lat_summary r;

	for (long i = 0; i < calls; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) % (uint64_t)hot);
		void *data;
		size_t len;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get(s, &ids[k], &data, &len);
		lat[i] = now() - t0;
		if (rc != 0)
			die("get: %s", b3cas_error_last());
		if (!content_ok(data, len, k))
			die("get of object %ld: wrong bytes", k);
		b3cas_free(data);
	}
	r = summarize(lat, (size_t)calls);
	free(lat);
	return r;
}

static void print_lat_row(const char *what, const lat_summary *l)
{
	printf("%-44s %8zu |", what, l->n);
	print_time(l->p50);
	print_time(l->p99);
	print_time(l->p999);
	printf("\n");
	fflush(stdout);
}

static void l1_counts(const char *what, const b3cas_cache_stats *a,
		      const b3cas_cache_stats *b)
{
	printf("  L1 during %s: %llu hits, %llu misses\n", what,
	       (unsigned long long)(b->l1.hits - a->l1.hits),
	       (unsigned long long)(b->l1.misses - a->l1.misses));
}

static void bench_l1(b3cas_store *s)
{
	long hot = cfg.hot < cfg.objects ? cfg.hot : cfg.objects;
	long small = cfg.hot_small < hot ? cfg.hot_small : hot;
	b3cas_cache_stats st0, st1, st2;
	double per_entry;
	char what[64];

	printf("\n== 2. L1 hit latency (%u-byte objects, default L1 of %u "
	       "MiB, one thread) ==\n", OBJ, B3CAS_L1_BYTES_DEFAULT / MIB);
	clock_p50 = clock_overhead();
	read_all_views(s, hot);
	cache_stats(s, &st0);
	printf("%ld objects read once through views (every byte checked): "
	       "L1 holds %llu objects, %llu of %llu bytes\n",
	       hot, (unsigned long long)st0.l1.entries,
	       (unsigned long long)st0.l1.bytes,
	       (unsigned long long)st0.l1.capacity);
	printf("clock overhead (two clock_gettime calls): p50 %.0f ns, "
	       "included in every figure below (not subtracted); a timed "
	       "view reads none of its bytes (one in %d is read again, "
	       "untimed, and checked)\n", clock_p50 * 1e9, CHECK_EVERY);
	per_entry = st0.l1.entries ? (double)st0.l1.bytes /
					     (double)st0.l1.entries
				   : OBJ;
	printf("objects drawn uniformly from the first N of those: N = %ld "
	       "(%.1f MB of L1) and N = %ld (%.1f MB; the targets are judged "
	       "on these)\n", small, (double)small * per_entry / 1e6, hot,
	       (double)hot * per_entry / 1e6);
	printf("%-44s %8s | %10s %10s %10s\n", "call", "calls", "p50", "p99",
	       "p999");
	snprintf(what, sizeof(what), "get_view + release, L1 hit, N = %ld",
		 small);
	l1_view_small = time_views(s, cfg.hit_calls, small, 10);
	print_lat_row(what, &l1_view_small);
	snprintf(what, sizeof(what), "get_view + release, L1 hit, N = %ld",
		 hot);
	l1_view = time_views(s, cfg.hit_calls, hot, 11);
	print_lat_row(what, &l1_view);
	snprintf(what, sizeof(what), "get (copy) + free, L1 hit, N = %ld",
		 hot);
	l1_copy = time_copies(s, cfg.hit_calls, hot, 12);
	print_lat_row(what, &l1_copy);
	cache_stats(s, &st1);
	l1_counts("the hit calls", &st0, &st1);
	if (st1.l1.misses - st0.l1.misses > 0)
		printf("  (misses: L1 could not hold all %ld objects)\n", hot);

	/* The miss path: the same objects with L1 off, so each call reads
	 * the index and verifies the bytes. */
	if (b3cas_cache_resize(s, 0, 0) != 0)
		die("cache_resize to 0: %s", b3cas_error_last());
	cache_stats(s, &st1);
	if (st1.l1.entries != 0 || st1.l1.bytes != 0)
		bench_fail("L1 resized to 0 still holds %llu objects, %llu bytes",
		     (unsigned long long)st1.l1.entries,
		     (unsigned long long)st1.l1.bytes);
	l1_view_miss = time_views(s, cfg.miss_calls, hot, 13);
	print_lat_row("get_view + release, L1 off (index + verify)",
		      &l1_view_miss);
	l1_copy_miss = time_copies(s, cfg.miss_calls, hot, 14);
	print_lat_row("get (copy) + free, L1 off (index + verify)",
		      &l1_copy_miss);
	cache_stats(s, &st2);
	if (st2.l1.hits != st1.l1.hits || st2.l1.entries != 0)
		bench_fail("L1 off: %llu hits, %llu objects held",
		     (unsigned long long)(st2.l1.hits - st1.l1.hits),
		     (unsigned long long)st2.l1.entries);
	printf("N = %ld: view miss / view hit p50 %.1fx; copy hit / view hit "
	       "p50 %.2fx\n", hot, l1_view_miss.p50 / l1_view.p50,
	       l1_copy.p50 / l1_view.p50);
	if (b3cas_cache_resize(s, B3CAS_L1_BYTES_DEFAULT, 0) != 0)
		die("cache_resize back: %s", b3cas_error_last());
}

/* ---- 3. L2 hit latency ---- */

static lat_summary l2_hit, l2_off;

/* Gets of random objects of the L2 store, every byte checked after the
 * clock stops. */
static lat_summary time_l2_gets(b3cas_store *s, const b3cas_oid *l2ids,
				uint64_t seed)
{
	double *lat = alloc_doubles((size_t)cfg.l2_gets);
	uint8_t *want = malloc(L2_OBJ);
	lat_summary r;

	if (!want)
		die("out of memory");
	for (long i = 0; i < cfg.l2_gets; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) %
				(uint64_t)cfg.l2_objects);
		void *data;
		size_t len;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get(s, &l2ids[k], &data, &len);
		lat[i] = now() - t0;
		if (rc != 0)
			die("get: %s", b3cas_error_last());
		make_content(want, L2_OBJ, RUN_L2, (uint64_t)k);
		if (len != L2_OBJ || memcmp(data, want, L2_OBJ) != 0)
			die("get of 16 KiB object %ld: wrong bytes", k);
		b3cas_free(data);
	}
	free(want);
	r = summarize(lat, (size_t)cfg.l2_gets);
	free(lat);
	return r;
}

static void l2_put_all(b3cas_store *s, b3cas_oid *l2ids)
{
	uint8_t *buf = malloc(L2_OBJ);
	b3cas_object_info info;

	if (!buf)
		die("out of memory");
	for (long i = 0; i < cfg.l2_objects; i++) {
		make_content(buf, L2_OBJ, RUN_L2, (uint64_t)i);
		if (b3cas_store_put(s, &l2ids[i], buf, L2_OBJ) != 0)
			die("put: %s", b3cas_error_last());
	}
	free(buf);
	if (b3cas_store_stat(s, &l2ids[0], &info) != 0)
		die("stat: %s", b3cas_error_last());
	if (info.is_inline)
		bench_fail("a 16 KiB object is inline with an inline threshold of "
		     "%d", L2_INLINE);
}

static void bench_l2(void)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char sdir[2200], odir[2200];
	b3cas_oid *l2ids = malloc((size_t)cfg.l2_objects * sizeof(b3cas_oid));
	uint64_t set_bytes = (uint64_t)cfg.l2_objects * L2_OBJ;
	double *fills = alloc_doubles((size_t)cfg.l2_objects);
	b3cas_cache_stats st0, st1;
	lat_summary fill;
	b3cas_store *s;

	if (!l2ids)
		die("out of memory");
	snprintf(sdir, sizeof(sdir), "%s/l2-store", root);
	snprintf(odir, sizeof(odir), "%s/l2-objects-tier", root);
	if (mkdir(odir, 0755) != 0)
		die("cannot create %s: %s", odir, strerror(errno));
	o.create = true;
	o.inline_threshold = L2_INLINE;
	o.objects_dir = odir;
	o.l1_bytes = 0;
	/* Twice the set, and at least 64 MiB: no shard may run out (and a
	 * shard refuses an object above a quarter of its share). */
	o.l2_bytes = 2 * set_bytes > 64 * MIB ? 2 * set_bytes : 64 * MIB;
	if (b3cas_store_open(&s, sdir, &o) != 0)
		die("cannot open a store in %s: %s", sdir, b3cas_error_last());

	printf("\n== 3. L2 hit latency (%ld loose objects of %u KiB, L1 off, "
	       "L2 %llu MiB; objects_dir %s) ==\n",
	       cfg.l2_objects, L2_OBJ / KIB,
	       (unsigned long long)(o.l2_bytes / MIB), odir);
	l2_put_all(s, l2ids);
	for (long i = 0; i < cfg.l2_objects; i++) {
		double t1 = now();

		if (b3cas_cache_load(s, &l2ids[i]) != 0)
			die("cache_load: %s", b3cas_error_last());
		fills[i] = now() - t1;
	}
	fill = summarize(fills, (size_t)cfg.l2_objects);
	cache_stats(s, &st0);
	printf("b3cas_cache_load of each (read from the tier, verify, copy "
	       "into L2): p50 %.1f us, p99 %.1f us; L2 holds %llu "
	       "objects, %llu bytes; L1 holds %llu\n",
	       fill.p50 * 1e6, fill.p99 * 1e6,
	       (unsigned long long)st0.l2.entries,
	       (unsigned long long)st0.l2.bytes,
	       (unsigned long long)st0.l1.entries);
	if (st0.l2.entries != (uint64_t)cfg.l2_objects ||
	    st0.l2.bytes < set_bytes)
		bench_fail("after loading %ld objects L2 holds %llu (%llu bytes)",
		     cfg.l2_objects, (unsigned long long)st0.l2.entries,
		     (unsigned long long)st0.l2.bytes);

	printf("%-44s %8s | %10s %10s %10s\n", "call", "calls", "p50", "p99",
	       "p999");
	l2_hit = time_l2_gets(s, l2ids, 21);
	print_lat_row("get (copy) 16 KiB, L2 hit", &l2_hit);
	cache_stats(s, &st1);
	printf("  L2 during the timed gets: %llu hits, %llu misses, %llu "
	       "corrupt\n",
	       (unsigned long long)(st1.l2.hits - st0.l2.hits),
	       (unsigned long long)(st1.l2.misses - st0.l2.misses),
	       (unsigned long long)(st1.l2.corrupt - st0.l2.corrupt));
	if (st1.l2.hits - st0.l2.hits != (uint64_t)cfg.l2_gets)
		bench_fail("%ld gets of objects all in L2 made %llu L2 hits",
		     cfg.l2_gets,
		     (unsigned long long)(st1.l2.hits - st0.l2.hits));

	/* The same gets from the objects tier. Its files were written just
	 * now, and one untimed pass makes sure they are in the page cache:
	 * the figure is what L2 saves only when objects_dir is slow. */
	if (b3cas_cache_resize(s, 0, 0) != 0)
		die("cache_resize to 0: %s", b3cas_error_last());
	cache_stats(s, &st1);
	if (st1.l2.entries != 0)
		bench_fail("L2 resized to 0 still holds %llu objects",
		     (unsigned long long)st1.l2.entries);
	for (long i = 0; i < cfg.l2_objects; i++) {
		void *data;
		size_t len;

		if (b3cas_store_get(s, &l2ids[i], &data, &len) != 0)
			die("get: %s", b3cas_error_last());
		b3cas_free(data);
	}
	l2_off = time_l2_gets(s, l2ids, 22);
	print_lat_row("get (copy) 16 KiB, L2 off (objects tier)", &l2_off);
	printf("L2 hit / objects tier p50: %.2fx (both on the same local "
	       "disk, page cache warm)\n", l2_hit.p50 / l2_off.p50);
	if (b3cas_store_close(s) != 0)
		die("close: %s", b3cas_error_last());
	remove_tree(sdir);
	remove_tree(odir);
	free(l2ids);
	free(fills);
}

/* ---- 4. the mixed workload, b3cas and raw RocksDB ---- */

/* A reference a thread made, which only it deletes. */
typedef struct held {
	b3cas_oid id;  /* store id, or raw key */
	bool is_new;   /* new content: its only reference */
} held;

typedef struct mix_run mix_run;

typedef struct worker {
	pthread_t thread;
	mix_run *run;
	int index;
	uint64_t rng;
	uint64_t next_new;
	held *refs;
	size_t nrefs, cap_refs;
	double *lat;
	size_t nlat, cap_lat;
	uint64_t ops, gets, puts, dels;
	/* Last: it keeps the busy fields of workers side by side in the
	 * array on different cache lines. */
	char err[512];
} worker;

struct mix_run {
	bool raw;
	b3cas_store *store;
	rocksdb_t *db;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	const zipf *z;
	uint64_t tag;    /* new content of this run is unique to it */
	worker *w;
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
	atomic_bool stop;
	double wall;
};

static int werr(worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int werr(worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	atomic_store(&w->run->stop, true);
	return -1;
}

static bool push_ref(worker *w, const b3cas_oid *id, bool is_new)
{
	if (w->nrefs == w->cap_refs) {
		size_t cap = w->cap_refs ? 2 * w->cap_refs : 256;
		held *v = realloc(w->refs, cap * sizeof(*v));

		if (!v)
			return false;
		w->refs = v;
		w->cap_refs = cap;
	}
	w->refs[w->nrefs].id = *id;
	w->refs[w->nrefs].is_new = is_new;
	w->nrefs++;
	return true;
}

static bool push_lat(worker *w, double sec)
{
	if (w->nlat == w->cap_lat) {
		size_t cap = w->cap_lat ? 2 * w->cap_lat : 256;
		double *v = realloc(w->lat, cap * sizeof(*v));

		if (!v)
			return false;
		w->lat = v;
		w->cap_lat = cap;
	}
	w->lat[w->nlat++] = sec;
	return true;
}

typedef enum op_kind { OP_GET, OP_PUT, OP_DEL } op_kind;

/* One operation, prepared outside the clock. */
typedef struct op {
	op_kind kind;
	long k;          /* get, duplicate put: the preloaded object */
	bool dup;        /* put: content already stored */
	uint8_t key[32]; /* raw put: the new key */
	held ref;        /* delete: what goes */
	uint8_t buf[OBJ];
} op;

static void prepare(worker *w, op *o)
{
	double u = rng_unit(&w->rng);

	o->kind = u < 0.7 ? OP_GET : u < 0.9 ? OP_PUT : OP_DEL;
	/* Until the thread has made a reference, a delete would have
	 * nothing of its own to remove. */
	if (o->kind == OP_DEL && w->nrefs == 0)
		o->kind = OP_GET;
	if (o->kind == OP_GET) {
		o->k = zipf_draw(w->run->z, &w->rng);
	} else if (o->kind == OP_PUT) {
		uint64_t n = (w->run->tag << 40) |
			     ((uint64_t)w->index << 24) | w->next_new++;

		o->dup = rng_unit(&w->rng) < 0.5;
		if (o->dup) {
			o->k = (long)(tu_rand(&w->rng) %
				      (uint64_t)cfg.objects);
			make_content(o->buf, OBJ, RUN_BASE, (uint64_t)o->k);
		} else {
			make_content(o->buf, OBJ, RUN_NEW, n);
		}
		make_content(o->key, 32, RUN_RAWKEY, n);
	} else {
		size_t i = (size_t)(tu_rand(&w->rng) % w->nrefs);

		o->ref = w->refs[i];
		w->refs[i] = w->refs[--w->nrefs];
	}
}

static int store_op(worker *w, op *o)
{
	b3cas_store *s = w->run->store;
	b3cas_blob *b;
	b3cas_oid id;
	int64_t left;
	bool ok;
	int rc;

	switch (o->kind) {
	case OP_GET:
		if (b3cas_store_get_view(s, &ids[o->k], &b) != 0)
			return werr(w, "get_view: %s", b3cas_error_last());
		ok = content_ok(b3cas_blob_data(b), b3cas_blob_size(b), o->k);
		b3cas_blob_release(b);
		return ok ? 0 : werr(w, "get_view of %ld: wrong bytes", o->k);
	case OP_PUT:
		rc = b3cas_store_put(s, &id, o->buf, OBJ);
		if (rc != (o->dup ? 1 : 0))
			return werr(w, "put (%s) returned %d: %s",
				    o->dup ? "duplicate" : "new", rc,
				    b3cas_error_last());
		if (o->dup && !b3cas_oid_equal(&id, &ids[o->k]))
			return werr(w, "duplicate put: another id");
		return push_ref(w, &id, !o->dup) ? 0
						 : werr(w, "out of memory");
	case OP_DEL:
		left = b3cas_store_delete(s, &o->ref.id);
		if (left < 0 || (o->ref.is_new ? left != 0 : left < 1))
			return werr(w, "delete (%s) returned %lld: %s",
				    o->ref.is_new ? "new" : "duplicate",
				    (long long)left, b3cas_error_last());
		return 0;
	}
	return 0;
}

/*
 * Raw RocksDB has no deduplication: every put is a new key, and the
 * duplicates' values are the bytes of preloaded objects stored again.
 */
static int raw_op(worker *w, op *o)
{
	mix_run *r = w->run;
	rocksdb_pinnableslice_t *ps;
	const char *v;
	char *err = NULL;
	size_t len;
	bool ok;

	switch (o->kind) {
	case OP_GET:
		ps = rocksdb_get_pinned(r->db, r->ro,
					(const char *)ids[o->k].bytes, 32,
					&err);
		if (err) {
			werr(w, "rocksdb get: %s", err);
			free(err);
			return -1;
		}
		if (!ps)
			return werr(w, "rocksdb get of %ld: not found", o->k);
		v = rocksdb_pinnableslice_value(ps, &len);
		ok = content_ok(v, len, o->k);
		rocksdb_pinnableslice_destroy(ps);
		return ok ? 0 : werr(w, "rocksdb get of %ld: wrong bytes",
				     o->k);
	case OP_PUT:
		rocksdb_put(r->db, r->wo, (const char *)o->key, 32,
			    (const char *)o->buf, OBJ, &err);
		break;
	case OP_DEL:
		rocksdb_delete(r->db, r->wo, (const char *)o->ref.id.bytes, 32,
			       &err);
		break;
	}
	if (err) {
		werr(w, "rocksdb: %s", err);
		free(err);
		return -1;
	}
	if (o->kind == OP_PUT) {
		b3cas_oid key;

		memcpy(key.bytes, o->key, 32);
		if (!push_ref(w, &key, true))
			return werr(w, "out of memory");
	}
	return 0;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	mix_run *r = w->run;
	op *o = malloc(sizeof(*o));

	pthread_mutex_lock(&r->lock);
	while (!r->go)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (!o) {
		werr(w, "out of memory");
		return NULL;
	}
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		bool sample = w->ops % SAMPLE_EVERY == 0;
		double t0 = 0;
		int rc;

		prepare(w, o);
		if (sample)
			t0 = now();
		rc = r->raw ? raw_op(w, o) : store_op(w, o);
		if (sample && !push_lat(w, now() - t0))
			rc = werr(w, "out of memory");
		if (rc != 0)
			break;
		w->ops++;
		w->gets += o->kind == OP_GET;
		w->puts += o->kind == OP_PUT;
		w->dels += o->kind == OP_DEL;
	}
	free(o);
	return NULL;
}

static void mix_init(mix_run *r, bool raw, int nthreads, uint64_t tag)
{
	memset(r, 0, sizeof(*r));
	r->raw = raw;
	r->nthreads = nthreads;
	r->tag = tag;
	r->w = calloc((size_t)nthreads, sizeof(worker));
	if (!r->w)
		die("out of memory");
	for (int i = 0; i < nthreads; i++) {
		r->w[i].run = r;
		r->w[i].index = i;
		r->w[i].rng = tu_mix(tag * 1000003 + (uint64_t)i + (raw ? 7 : 0));
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

/* Start every thread, then let them all go at once for sec seconds:
 * starting 1024 threads is not the workload's time. */
static void mix_round(mix_run *r, double sec)
{
	pthread_attr_t attr;
	double t0;

	r->go = false;
	atomic_store(&r->stop, false);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, STACK_BYTES) != 0)
		die("pthread attributes");
	for (int i = 0; i < r->nthreads; i++)
		if (pthread_create(&r->w[i].thread, &attr, worker_main,
				   &r->w[i]) != 0)
			die("cannot start thread %d of %d", i, r->nthreads);
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&r->lock);
	r->go = true;
	t0 = now();
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	sleep_seconds(sec);
	atomic_store(&r->stop, true);
	r->wall += now() - t0;
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->w[i].thread, NULL);
	for (int i = 0; i < r->nthreads; i++)
		if (r->w[i].err[0])
			die("%s thread %d: %s", r->raw ? "raw" : "b3cas", i,
			    r->w[i].err);
}

typedef struct mix_result {
	int threads;
	double ops_per_sec;
	lat_summary lat;
	double get_share, put_share, del_share;
	double l1_hit;   /* b3cas only */
} mix_result;

static mix_result mix_finish(mix_run *r)
{
	uint64_t ops = 0, gets = 0, puts = 0, dels = 0;
	size_t nlat = 0;
	double *all;
	mix_result res;

	memset(&res, 0, sizeof(res));
	for (int i = 0; i < r->nthreads; i++) {
		ops += r->w[i].ops;
		gets += r->w[i].gets;
		puts += r->w[i].puts;
		dels += r->w[i].dels;
		nlat += r->w[i].nlat;
	}
	all = alloc_doubles(nlat);
	nlat = 0;
	for (int i = 0; i < r->nthreads; i++) {
		memcpy(all + nlat, r->w[i].lat, r->w[i].nlat * sizeof(double));
		nlat += r->w[i].nlat;
		free(r->w[i].lat);
		free(r->w[i].refs);
	}
	res.threads = r->nthreads;
	res.ops_per_sec = (double)ops / r->wall;
	res.lat = summarize(all, nlat);
	if (ops) {
		res.get_share = (double)gets / (double)ops;
		res.put_share = (double)puts / (double)ops;
		res.del_share = (double)dels / (double)ops;
	}
	free(all);
	free(r->w);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	return res;
}

static mix_result mixed_b3[MAX_COUNTS], mixed_raw[MAX_COUNTS];

static rocksdb_t *open_raw(const char *dir)
{
	rocksdb_options_t *o = b3cas__index_new_options();
	char *err = NULL;
	rocksdb_t *db;

	rocksdb_options_set_create_if_missing(o, 1);
	db = rocksdb_open(o, dir, &err);
	rocksdb_options_destroy(o);
	if (err)
		die("rocksdb: %s", err);
	return db;
}

/* The preloaded objects under their ids, in batches of BATCH. */
static void raw_preload(rocksdb_t *db, rocksdb_writeoptions_t *wo)
{
	uint8_t buf[OBJ];
	double t0 = now();

	for (long i = 0; i < cfg.objects; i += BATCH) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		char *err = NULL;

		for (long k = i; k < i + BATCH && k < cfg.objects; k++) {
			make_content(buf, OBJ, RUN_BASE, (uint64_t)k);
			rocksdb_writebatch_put(b, (const char *)ids[k].bytes,
					       32, (const char *)buf, OBJ);
		}
		rocksdb_write(db, wo, b, &err);
		rocksdb_writebatch_destroy(b);
		if (err)
			die("rocksdb write: %s", err);
	}
	printf("raw RocksDB preload: the same %ld objects under their ids "
	       "in %.2f s\n", cfg.objects, now() - t0);
}

static void print_mix_row(const mix_result *b, const mix_result *r)
{
	printf("%7d | %10.0f", b->threads, b->ops_per_sec);
	print_time(b->lat.p50);
	print_time(b->lat.p99);
	printf(" %6.2f%% | %10.0f", b->l1_hit * 100, r->ops_per_sec);
	print_time(r->lat.p50);
	print_time(r->lat.p99);
	printf(" | %6.2fx\n", b->ops_per_sec / r->ops_per_sec);
	fflush(stdout);
}

static void bench_mixed(b3cas_store *s)
{
	char rdir[2200];
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	b3cas_cache_stats st;
	rocksdb_t *db;
	zipf z;

	printf("\n== 4. mixed workload: 70%% get, 20%% put, 10%% delete of "
	       "%u-byte objects, b3cas vs raw RocksDB ==\n", OBJ);
	snprintf(rdir, sizeof(rdir), "%s/raw", root);
	db = open_raw(rdir);
	raw_preload(db, wo);
	zipf_init(&z, cfg.objects, MIX_ALPHA);
	/* L1 may have been emptied by part 2's miss calls: one pass fills
	 * it, as a store that has been serving for a while would be. */
	read_all_views(s, cfg.objects);
	cache_stats(s, &st);
	printf("L1 after one pass over the %ld objects: %llu objects, %llu "
	       "of %llu bytes\n",
	       cfg.objects, (unsigned long long)st.l1.entries,
	       (unsigned long long)st.l1.bytes,
	       (unsigned long long)st.l1.capacity);
	printf("gets: get_view + release (b3cas), rocksdb_get_pinned (raw), "
	       "of the %ld preloaded objects, Zipf alpha %.1f; puts: half "
	       "duplicates of a uniformly drawn preloaded object (raw: a new "
	       "key with those bytes), half new content; deletes: a random "
	       "reference the thread made. Durability batch (raw: WAL, no "
	       "sync), raw opened with the store's index options. %.1f s "
	       "per side and thread count, in rounds b3cas raw raw b3cas; "
	       "latency of every %dth operation; threads with %u KiB "
	       "stacks.\n",
	       cfg.objects, MIX_ALPHA, cfg.seconds, SAMPLE_EVERY,
	       STACK_BYTES / KIB);
	printf("%7s | %10s %10s %10s %7s | %10s %10s %10s | %s\n", "threads",
	       "b3cas op/s", "p50", "p99", "L1 hit", "raw op/s", "p50",
	       "p99", "b3cas/raw");
	for (int i = 0; i < cfg.nthreads; i++) {
		b3cas_cache_stats a, b;
		mix_run rb, rr;
		uint64_t h, m;

		mix_init(&rb, false, cfg.threads[i], (uint64_t)i + 1);
		rb.store = s;
		rb.z = &z;
		mix_init(&rr, true, cfg.threads[i], (uint64_t)i + 1);
		rr.db = db;
		rr.wo = wo;
		rr.ro = ro;
		rr.z = &z;
		cache_stats(s, &a);
		mix_round(&rb, cfg.seconds / 2);
		mix_round(&rr, cfg.seconds / 2);
		mix_round(&rr, cfg.seconds / 2);
		mix_round(&rb, cfg.seconds / 2);
		cache_stats(s, &b);
		mixed_b3[i] = mix_finish(&rb);
		mixed_raw[i] = mix_finish(&rr);
		h = b.l1.hits - a.l1.hits;
		m = b.l1.misses - a.l1.misses;
		mixed_b3[i].l1_hit = h + m ? (double)h / (double)(h + m) : 0;
		print_mix_row(&mixed_b3[i], &mixed_raw[i]);
		printf("        (b3cas mix: %.1f%% get, %.1f%% put, %.1f%% "
		       "delete; %llu samples; L1 %llu evictions, %llu "
		       "invalidations, holds %llu objects)\n",
		       mixed_b3[i].get_share * 100,
		       mixed_b3[i].put_share * 100,
		       mixed_b3[i].del_share * 100,
		       (unsigned long long)mixed_b3[i].lat.n,
		       (unsigned long long)(b.l1.evictions - a.l1.evictions),
		       (unsigned long long)(b.l1.invalidations -
					    a.l1.invalidations),
		       (unsigned long long)b.l1.entries);
	}
	zipf_free(&z);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_readoptions_destroy(ro);
	rocksdb_close(db);
	remove_tree(rdir);
}

/* ---- the targets ---- */

static int count_index(int threads)
{
	for (int i = 0; i < cfg.nthreads; i++)
		if (cfg.threads[i] == threads)
			return i;
	return -1;
}

static void report_l1(void);
static void report_mixed(void);

static void report(void)
{
	printf("\n== targets (issue 5), figures from this run%s ==\n",
	       cfg.quick ? " (quick: not judged)" : "");
	if (cfg.parts & PART_L1)
		report_l1();
	if (cfg.parts & PART_L2)
		bench_target(cfg.quick, l2_hit.p50 <= 20e-6, "L2 hit, 16 KiB get: p50 %.2f us "
		       "(<= 20 us)", l2_hit.p50 * 1e6);
	if (cfg.parts & PART_MIXED)
		report_mixed();
	if (cfg.parts & PART_POLICY)
		printf("INFO  S3-FIFO - LRU hit ratio, mean over the rows: "
		       "Zipf %+.2f points, Zipf with scans %+.2f points\n",
		       policy_gain_zipf / policy_rows_zipf,
		       policy_gain_scan / policy_rows_scan);
	if (cfg.parts & PART_L1)
		printf("INFO  L1 miss (index + verify) / L1 hit, get_view "
		       "p50: %.1fx\n", l1_view_miss.p50 / l1_view.p50);
	if (cfg.parts & PART_L2)
		printf("INFO  L2 hit / objects tier (page cache), 16 KiB get "
		       "p50: %.2fx\n", l2_hit.p50 / l2_off.p50);
}

static void report_l1(void)
{
	bench_target(cfg.quick, l1_view.p50 <= 0.5e-6, "L1 hit, get_view + release, %zu calls "
	       "over %ld objects: p50 %.3f us (<= 0.5 us)", l1_view.n,
	       cfg.hot < cfg.objects ? cfg.hot : cfg.objects,
	       l1_view.p50 * 1e6);
	bench_target(cfg.quick, l1_view.p99 <= 5e-6, "L1 hit, get_view + release, same calls: "
	       "p99 %.3f us (<= 5 us)", l1_view.p99 * 1e6);
	printf("INFO  L1 hit, get_view + release over %ld objects (in the "
	       "CPU caches): p50 %.3f us, p99 %.3f us\n",
	       cfg.hot_small < cfg.hot ? cfg.hot_small : cfg.hot,
	       l1_view_small.p50 * 1e6, l1_view_small.p99 * 1e6);
}

static void report_mixed(void)
{
	int i2 = count_index(2), i1024 = count_index(1024);

	if (i2 >= 0)
		bench_target(cfg.quick, mixed_b3[i2].ops_per_sec >= 150000, "mixed 70/20/10, 2 "
		       "threads: %.0f ops/s (>= 150000)",
		       mixed_b3[i2].ops_per_sec);
	if (i2 >= 0 && i1024 >= 0)
		bench_target(cfg.quick, mixed_b3[i1024].ops_per_sec >=
			       0.7 * mixed_b3[i2].ops_per_sec,
		       "mixed, 1024 threads / 2 threads: %.2fx (>= 0.7x; raw "
		       "RocksDB %.2fx)",
		       mixed_b3[i1024].ops_per_sec / mixed_b3[i2].ops_per_sec,
		       mixed_raw[i1024].ops_per_sec /
			       mixed_raw[i2].ops_per_sec);
	for (int i = 0; i < cfg.nthreads; i++)
		printf("INFO  mixed, %d thread%s: b3cas / raw RocksDB ops/s "
		       "%.2fx\n", cfg.threads[i], cfg.threads[i] == 1 ? "" : "s",
		       mixed_b3[i].ops_per_sec / mixed_raw[i].ops_per_sec);
}

/* ---- arguments ---- */

/* The CPU's name from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, cap, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon) {
			snprintf(out, cap, "%s", colon + 2);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
}

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: bench_cache [--quick] [--dir DIR] [--threads LIST] "
		"[--seconds N] [--objects N]\n"
		"  --quick         smoke run: small sizes, short runs (ctest)\n"
		"  --dir DIR       where the stores go (default /tmp); a new "
		"folder in it, removed at the end\n"
		"  --threads LIST  mixed workload thread counts (default "
		"1,2,64,1024)\n"
		"  --seconds N     mixed workload time per side and thread "
		"count (default 5; quick 0.2)\n"
		"  --objects N     preloaded 1 KiB objects (default 100000; "
		"quick 5000)\n"
		"  --parts LIST    which parts to run: policy,l1,l2,mixed "
		"(default all)\n");
}

static void take_threads(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		die("out of memory");
	cfg.nthreads = 0;
	for (char *p = strtok_r(copy, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		int n = atoi(p);

		if (n < 1 || n > MAX_THREADS || cfg.nthreads == MAX_COUNTS)
			die("bad --threads '%s' (1..%d, at most %d counts)",
			    list, MAX_THREADS, MAX_COUNTS);
		cfg.threads[cfg.nthreads++] = n;
	}
	free(copy);
	if (cfg.nthreads == 0)
		die("bad --threads '%s'", list);
}

static const char *const part_names[] = {"policy", "l1", "l2", "mixed"};

static void take_parts(const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		die("out of memory");
	cfg.parts = 0;
	for (char *p = strtok_r(copy, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		int i = 0;

		while (i < 4 && strcmp(p, part_names[i]) != 0)
			i++;
		if (i == 4)
			die("unknown part '%s' (policy, l1, l2, mixed)", p);
		cfg.parts |= 1u << i;
	}
	free(copy);
}

static void parse_args(int argc, char **argv)
{
	const char *threads = "1,2,64,1024";

	cfg.parts = PART_ALL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			cfg.quick = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (v && !strcmp(a, "--dir")) {
			cfg.dir = v, i++;
		} else if (v && !strcmp(a, "--threads")) {
			threads = v, i++;
		} else if (v && !strcmp(a, "--parts")) {
			take_parts(v), i++;
		} else if (v && !strcmp(a, "--seconds")) {
			cfg.seconds = atof(v), i++;
			if (cfg.seconds <= 0)
				die("bad --seconds '%s'", v);
		} else if (v && !strcmp(a, "--objects")) {
			cfg.objects = atol(v), i++;
			if (cfg.objects < 1000)
				die("--objects: at least 1000");
		} else {
			usage(stderr);
			exit(2);
		}
	}
	take_threads(threads);
	if (!cfg.dir)
		cfg.dir = "/tmp";
	if (!cfg.seconds)
		cfg.seconds = cfg.quick ? 0.2 : 5;
	if (!cfg.objects)
		cfg.objects = cfg.quick ? 5000 : 100000;
	/* 1% of the quick universe still gives each of the 64 shards more
	 * than four objects' worth, the most a shard takes one object of. */
	cfg.universe = cfg.quick ? 50000 : 1000000;
	cfg.trace_len = cfg.quick ? 200000 : 4000000;
	cfg.scan_len = cfg.universe / 10;
	cfg.scan_gap = cfg.scan_len * 3 / 2;
	cfg.hot = cfg.quick ? 5000 : 50000;
	cfg.hot_small = 1000;
	cfg.hit_calls = cfg.quick ? 50000 : 1000000;
	cfg.miss_calls = cfg.quick ? 5000 : 200000;
	cfg.l2_objects = cfg.quick ? 200 : 4000;
	cfg.l2_gets = cfg.quick ? 2000 : 20000;
}

int main(int argc, char **argv)
{
	char sdir[2200], cpu[256];
	b3cas_store *s = NULL;
	double t0 = now();

	parse_args(argc, argv);
	snprintf(root, sizeof(root), "%s/bench-cache-%ld", cfg.dir,
		 (long)getpid());
	if (mkdir(root, 0755) != 0)
		die("cannot create %s: %s", root, strerror(errno));
	cpu_model(cpu, sizeof(cpu));
	printf("b3cas %s cache benchmark, BLAKE3 SIMD %s, %ld CPUs online "
	       "(%s)\n", b3cas_version(), b3cas_simd_name(),
	       sysconf(_SC_NPROCESSORS_ONLN), cpu);
	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\nstores in %s; --objects %ld, --seconds %.2f, --threads",
	       root, cfg.objects, cfg.seconds);
	for (int i = 0; i < cfg.nthreads; i++)
		printf("%s%d", i ? "," : " ", cfg.threads[i]);
	printf(", --parts");
	for (int i = 0, n = 0; i < 4; i++)
		if (cfg.parts & (1u << i))
			printf("%s%s", n++ ? "," : " ", part_names[i]);
	printf("%s\n", cfg.quick ? ", --quick" : "");
	fflush(stdout);

	if (cfg.parts & PART_POLICY)
		bench_policy();
	if (cfg.parts & (PART_L1 | PART_MIXED)) {
		snprintf(sdir, sizeof(sdir), "%s/store", root);
		s = open_main(sdir);
		preload(s);
		if (cfg.parts & PART_L1)
			bench_l1(s);
	}
	if (cfg.parts & PART_L2)
		bench_l2();
	if (cfg.parts & PART_MIXED)
		bench_mixed(s);
	if (cfg.parts & (PART_L1 | PART_MIXED) &&
	    b3cas_store_close(s) != 0)
		die("close: %s", b3cas_error_last());
	report();
	printf("total %.1f s\n", now() - t0);
	free(ids);
	free(heads);
	free(tails);
	remove_tree(root);
	if (bench_failures)
		printf("%d ERROR(s): the caches did not behave\n", bench_failures);
	return bench_failures ? 1 : 0;
}
