/*
 * test_cache_stress_int.h - what the files of the test_cache_stress
 * program share: its sizes and knobs, the contents, the workers' state
 * and counters, the store, the seed, the round gates and flags that the
 * main thread, the workers and the helper threads meet at, and the
 * functions one file calls in another. Private to
 * tests/core/test_cache_stress*.c.
 */
#ifndef B3CAS_TEST_CACHE_STRESS_INT_H
#define B3CAS_TEST_CACHE_STRESS_INT_H

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
#include "tier_util.h"

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

/* Operations per round (see gate_go in test_cache_stress.c). */
#define ROUND_OPS 25

/* Say what is wrong, with the seed to replay it. */
void complain(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Shared state, defined and described in test_cache_stress.c. */
extern content contents[CONTENTS + FILLERS];
extern b3cas_store *store;
/* a RADOS store's pool (B3CAS_TEST_RADOS=1), where its loose objects are;
 * NULL for a store of files */
extern b3cas_rados *pool;
extern uint64_t seed;
extern long ops_per_thread;
extern long soak_seconds;
extern pthread_barrier_t gate_go, gate_round;
extern atomic_long round_limit;
extern pthread_barrier_t gate_drop;
extern atomic_bool round_drops;
extern atomic_int droppers, still_dropping;
extern atomic_bool stop_all;
extern atomic_bool helpers_stop;
extern atomic_bool finished;
extern atomic_long progress;
extern atomic_int workers_finished;
extern atomic_long gc_runs, gc_removed, gc_candidates, gc_revived, resizes;
extern char gc_failure[512], resize_failure[512];

double seconds_since(const struct timespec *t0);
void test_cache_stress(void **state);
bool exact(int c, const void *data, size_t len);
void *worker_main(void *arg);
void *gc_main(void *arg);
void *resizer_main(void *arg);
void *watchdog_main(void *arg);
long count_files(const char *path, bool say);
long check_l2_copies(const char *l2dir);
int count_object(const b3cas_object_info *info, void *ctx);
long round_end(long r);
int run_rounds(const worker *workers, const struct timespec *t0,
	       b3cas_blob **kept, const char *tier, long *rounds);
void check_all_gone(void);
void print_summary(const uint64_t *n, const b3cas_cache_stats *cs,
		   long rounds, long last_gc, long l2_files,
		   double secs);
void check_minimums(const uint64_t *n, const b3cas_cache_stats *cs);

#endif /* B3CAS_TEST_CACHE_STRESS_INT_H */
