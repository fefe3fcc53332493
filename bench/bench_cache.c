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
 *
 * Files: this one holds the options, the helpers, Zipf, the targets and
 * main(); bench_cache_policy.c part 1 (the eviction policies);
 * bench_cache_latency.c the preloaded store and parts 2 and 3 (L1 and
 * L2 hit latency); bench_cache_mixed.c part 4 (the mixed workload beside
 * raw RocksDB). bench_cache_int.h declares what they share.
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

/* The one counter of bench_fail (BENCH_SHARED_FAILURES). */
int bench_failures;

config cfg;
char root[2048];

/* ---- helpers ---- */

/* Ids are hashes of their numbers, so they spread over shards and
 * buckets as real ids do. */
void number_id(b3cas_oid *out, uint64_t number)
{
	b3cas_hash(out->bytes, &number, sizeof(number));
}

/* Nearest-rank quantiles, as bench_util.h's quantile, with one sort. */
lat_summary summarize(double *v, size_t n)
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

void print_time(double sec)
{
	if (sec >= 1e-3)
		printf(" %8.2fms", sec * 1e3);
	else
		printf(" %8.2fus", sec * 1e6);
}

double *alloc_doubles(size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(double));

	if (!v)
		die("out of memory");
	return v;
}

void sleep_seconds(double sec)
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
void zipf_init(zipf *z, long n, double alpha)
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

long zipf_draw(const zipf *z, uint64_t *rng)
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

void zipf_free(zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
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
