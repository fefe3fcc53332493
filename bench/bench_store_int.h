/*
 * bench_store_int.h - what the files of bench_store share: the options
 * (cfg, set once by parse_args before anything runs), the timed phases,
 * the table's rows and the figures the acceptance report reads, each
 * written by the one measurement that makes it. Single-threaded outside
 * a phase's workers.
 */
#ifndef B3CAS_BENCH_STORE_INT_H
#define B3CAS_BENCH_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"

#define BENCH_NAME "bench_store"
#include "bench_util.h"
#include "bench_rocksdb.h"

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)
#define MAX_THREADS 32

/* ---- options and helpers (bench_store.c) ---- */

typedef struct config {
	size_t sizes[8];
	int nsizes;
	bool modes[3];
	int threads[4];
	int nthreads;
	double scale; /* multiplies operation counts */
	bool quick;
	bool study;
	bool group;
	const char *dir;
} config;

extern config cfg;
extern int dir_seq; /* numbers the folders new_dir makes */

void new_dir(char *out, size_t cap, const char *what);
const char *mode_name(int m);
void fmt_size(char out[32], size_t n);

/* ---- phases and the two sides (bench_store_phase.c) ---- */

typedef enum op_kind {
	OP_PUT_NEW,
	OP_PUT_DUP,
	OP_GET,
	OP_RAW_PUT,
	OP_RAW_GET
} op_kind;

typedef struct target {
	b3cas_store *store;
	rocksdb_t *db;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	b3cas_oid *ids;     /* store ids by content number */
	uint8_t (*keys)[32]; /* raw keys by content number */
	uint32_t *order;    /* get order */
	size_t size;
	uint64_t run;
} target;

typedef struct phase {
	target *t;
	op_kind kind;
	long ops;          /* in all */
	long begin, end;   /* the round being run: operations [begin, end) */
	int nthreads;
	double *lat;       /* ops entries */
	double wall;       /* summed over rounds */
	int error;
} phase;

typedef struct result {
	double p50, p99, ops_per_sec;
} result;

void phase_init(phase *p, target *t, op_kind kind, long ops,
		       int nthreads);
result phase_result(phase *p);
result run_phase(target *t, op_kind kind, long ops, int nthreads);
void run_interleaved(phase *a, phase *b);
b3cas_store *open_store(const char *dir, int mode,
			       b3cas_hash_algo hash);
void shuffle(uint32_t *a, long n, uint64_t seed);
long object_count(size_t size, int mode);

/* ---- the main table, SHA-256, group commit (bench_store_table.c) ---- */

typedef struct row {
	size_t size;
	int mode, threads;
	result put, dup, get, raw_put, raw_get;
	bool have_dup;
} row;

extern result sha_put, sha_get, b3_put, b3_get;
extern bool have_sha;
extern double fsync_p50;
extern double group_best_rate;

void print_us(double sec);
row *find_row(size_t size, int mode, int threads);
void bench_table(void);
void bench_sha(void);
void bench_group(void);

/* ---- study, bounds, acceptance (bench_store_study.c) ---- */

void bench_study(void);
void measure_bounds(void);
void report(void);

#endif
