/*
 * bench_cache_int.h - what the files of bench_cache share: the options
 * (cfg, set once by parse_args before any part runs), the helpers and
 * Zipf of bench_cache.c, the preloaded store's ids and check bytes
 * (bench_cache_latency.c; freed by main), and the figures each part
 * leaves for the targets report. Each figure is written by its part and
 * read after it, on the main thread.
 */
#ifndef B3CAS_BENCH_CACHE_INT_H
#define B3CAS_BENCH_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "b3cas/b3cas.h"

#define BENCH_NAME "bench_cache"
#define BENCH_SHARED_FAILURES
#include "bench_util.h"
#include "bench_rocksdb.h"

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

/* ---- options and helpers (bench_cache.c) ---- */

extern config cfg;
extern char root[2048]; /* the run's folder: every store is made in it */

static inline double rng_unit(uint64_t *s)
{
	return (double)(tu_rand(s) >> 11) * 0x1p-53;
}

typedef struct lat_summary {
	size_t n;
	double p50, p99, p999;
} lat_summary;

typedef struct zipf {
	double *cdf;
	long n;
	double alpha;
} zipf;

void number_id(b3cas_oid *out, uint64_t number);
lat_summary summarize(double *v, size_t n);
void print_time(double sec);
double *alloc_doubles(size_t n);
void sleep_seconds(double sec);
void zipf_init(zipf *z, long n, double alpha);
long zipf_draw(const zipf *z, uint64_t *rng);
void zipf_free(zipf *z);

/* ---- 1. the eviction policies (bench_cache_policy.c) ---- */

extern double policy_gain_zipf, policy_gain_scan;
extern int policy_rows_zipf, policy_rows_scan;

void bench_policy(void);

/* ---- the preloaded store, 2. L1 and 3. L2 (bench_cache_latency.c) ---- */

extern b3cas_oid *ids;    /* ids of contents 0..objects-1 (RUN_BASE) */
extern uint64_t *heads;   /* their first 8 bytes */
extern uint64_t *tails;   /* and their last 8 */

/* The cheap check of every timed read: size, first and last 8 bytes
 * (a warm-up pass compares every byte once). */
static inline bool content_ok(const void *p, size_t len, long k)
{
	const uint8_t *b = p;

	return len == OBJ && memcmp(b, &heads[k], 8) == 0 &&
	       memcmp(b + OBJ - 8, &tails[k], 8) == 0;
}

extern lat_summary l1_view, l1_view_small, l1_copy, l1_view_miss,
	l1_copy_miss;
extern lat_summary l2_hit, l2_off;

b3cas_store *open_main(const char *dir);
void preload(b3cas_store *s);
void cache_stats(b3cas_store *s, b3cas_cache_stats *st);
void read_all_views(b3cas_store *s, long n);
void bench_l1(b3cas_store *s);
void bench_l2(void);

/* ---- 4. the mixed workload (bench_cache_mixed.c) ---- */

typedef struct mix_result {
	int threads;
	double ops_per_sec;
	lat_summary lat;
	double get_share, put_share, del_share;
	double l1_hit;   /* b3cas only */
} mix_result;

extern mix_result mixed_b3[MAX_COUNTS], mixed_raw[MAX_COUNTS];

void bench_mixed(b3cas_store *s);

#endif
