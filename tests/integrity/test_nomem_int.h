/*
 * test_nomem_int.h - what the files of test_nomem share: the allocation
 * plan (test_nomem_alloc.c), the model of the store and its checks
 * (test_nomem_store.c), the operation record and the prepare/run/check
 * functions of each operation (test_nomem_ops.c, test_nomem_ops_refs.c)
 * that test_nomem.c's ops[] lists and sweeps. Everything lives for the
 * whole run; the test is one case on one thread (GC's thread allocates
 * through the plan too, hence its atomics).
 */
#ifndef B3CAS_TEST_NOMEM_INT_H
#define B3CAS_TEST_NOMEM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

/* ---- the failing allocator (test_nomem_alloc.c) ---- */

#define SITES_MAX 4096

/*
 * What to fail. By site (the default), a run fails the first allocation
 * made from a call stack that no earlier run of the sweep has failed, so
 * a loop that allocates 256 times is one site, failed once; by number
 * (B3CAS_TEST_LONG), the Nth allocation, whatever its stack.
 */
struct alloc_plan {
	atomic_bool armed;
	atomic_ullong seen;          /* allocations while armed */
	atomic_ullong fired;         /* of those, failed */
	bool by_site;
	unsigned long long fail_at;  /* by number: 1-based */
	bool sticky;                 /* and every allocation after it */
	bool trace;                  /* print the stack of each failed one */
	pthread_mutex_t lock;        /* guards sites */
	uint64_t sites[SITES_MAX];   /* stacks failed in this sweep */
	size_t nsites;
};

extern struct alloc_plan plan;

uint64_t call_site(void);
void plan_start(bool by_site, bool sticky);
void arm(unsigned long long fail_at);
unsigned long long disarm(void);

/* ---- the store and what it must hold (test_nomem_store.c) ---- */

#define THRESHOLD 1024
#define L2_BYTES (8u << 20) /* copies of up to 128 KiB */

/* The objects the test knows; refs is what the store acknowledged. */
enum {
	O_INLINE,     /* stored at the start */
	O_LOOSE,      /* stored at the start, two references */
	O_LARGE,      /* stored at the start; hashed on the pool */
	O_EMPTY,      /* 0 bytes, stored at the start */
	O_PUT_INLINE, /* stored by the sweeps, one each */
	O_PUT_LOOSE,
	O_PUT_LARGE,
	O_BATCH_INLINE,
	O_BATCH_LOOSE,
	O_W_INLINE,
	O_W_LOOSE,
	O_W_LARGE,
	O_DEL,        /* stored at the start, deleted by a sweep */
	O_GC,         /* made a GC candidate and collected */
	O_HEAL,       /* stored at the start, damaged, healed */
	O_MISSING,    /* never stored */
	NOBJ
};

extern const size_t obj_len[NOBJ];

struct object {
	uint8_t *data;
	b3cas_oid id;
	uint64_t refs;  /* acknowledged references; 0: not stored */
};

extern struct object objs[NOBJ];

extern char root[256], store_dir[300], fresh_dir[320], fresh_tier[330];
extern char mirror_dir[300]; /* a backup of the store's first objects */
extern uint8_t *read_buf; /* room for the largest object */

/* Handle options an operation asks for. */
enum {
	H_OWN = 1 << 0,    /* the operation opens (or closes) the handle */
	H_NO_L1 = 1 << 1,  /* L1 off */
	H_NO_L2 = 1 << 2,  /* L2 off */
	H_MIRROR = 1 << 3, /* mirror_dir: heals from the backup */
};

b3cas_store_options handle_options(unsigned flags);
void settle(b3cas_store *s);
b3cas_store *open_handle(unsigned flags);
int count_entries(const char *path);
int count_fds(void);
void expect_bytes(const void *got, size_t len, int i);
void expect_nomem(int64_t rc, const char *label);
void verify_store(const char *label);
void put_known(b3cas_store *s, int i);
int setup(void **state);
int teardown(void **state);

/* ---- the operations (test_nomem_ops.c, test_nomem_ops_refs.c) ---- */

typedef struct op op;

struct op {
	const char *name;
	int obj;        /* the object it works on, or a variant (open: 1
			   read-only; get_batch: 1 without results) */
	unsigned flags; /* H_... */
	/* Disarmed, on the handle the operation will use (NULL with
	 * H_OWN): bring the store and caches to the state it needs. */
	void (*prepare)(b3cas_store *s, const op *o);
	/* Armed: the operation itself; may open or close *sp. */
	int64_t (*run)(b3cas_store **sp, const op *o);
	/* Disarmed: rc is run's; check what it did (a failure too) and
	 * update the model. s is the handle after run (NULL if closed). */
	void (*check)(b3cas_store *s, const op *o, int64_t rc);
	/* Instead of verify_store, for an operation on another store. */
	void (*verify)(const op *o);
};

/* The sweep's position, for messages; how many allocations failed in
 * the last run. */
extern char what[128];
extern unsigned long long last_fired;

/* What a run returned, for its check. */
typedef struct run_out {
	b3cas_oid id;
	void *buf;
	size_t len;
	b3cas_blob *blob;
	uint64_t count;
	bool is_dup;
	b3cas_object_info info;
	b3cas_stats stats;
	b3cas_gc_report gc;
} run_out;

extern run_out out;

void evict(b3cas_store *s, const op *o);
void load(b3cas_store *s, const op *o);
void check_zero(b3cas_store *s, const op *o, int64_t rc);
void check_create(b3cas_store *s, const op *o, int64_t rc);
void check_get(b3cas_store *s, const op *o, int64_t rc);
void check_get_batch(b3cas_store *s, const op *o, int64_t rc);
void check_open(b3cas_store *s, const op *o, int64_t rc);
void check_put(b3cas_store *s, const op *o, int64_t rc);
void check_put_batch(b3cas_store *s, const op *o, int64_t rc);
void check_reader(b3cas_store *s, const op *o, int64_t rc);
void check_view(b3cas_store *s, const op *o, int64_t rc);
void prepare_create(b3cas_store *s, const op *o);
void prepare_get_batch(b3cas_store *s, const op *o);
void prepare_no_filter(b3cas_store *s, const op *o);
int64_t run_close(b3cas_store **sp, const op *o);
int64_t run_create(b3cas_store **sp, const op *o);
int64_t run_get(b3cas_store **sp, const op *o);
int64_t run_get_batch(b3cas_store **sp, const op *o);
int64_t run_open(b3cas_store **sp, const op *o);
int64_t run_put(b3cas_store **sp, const op *o);
int64_t run_put_batch(b3cas_store **sp, const op *o);
int64_t run_reader(b3cas_store **sp, const op *o);
int64_t run_view(b3cas_store **sp, const op *o);
int64_t run_writer(b3cas_store **sp, const op *o);
void verify_create(const op *o);

void damage_heal(b3cas_store *s, const op *o);
void check_cache_evict(b3cas_store *s, const op *o, int64_t rc);
void check_cache_resize(b3cas_store *s, const op *o, int64_t rc);
void check_dedup_check(b3cas_store *s, const op *o, int64_t rc);
void check_down(b3cas_store *s, const op *o, int64_t rc);
void check_exists(b3cas_store *s, const op *o, int64_t rc);
void check_foreach(b3cas_store *s, const op *o, int64_t rc);
void check_gc(b3cas_store *s, const op *o, int64_t rc);
void check_refcount(b3cas_store *s, const op *o, int64_t rc);
void check_stat(b3cas_store *s, const op *o, int64_t rc);
void check_stats(b3cas_store *s, const op *o, int64_t rc);
void check_up(b3cas_store *s, const op *o, int64_t rc);
void prepare_delete(b3cas_store *s, const op *o);
void prepare_gc(b3cas_store *s, const op *o);
void prepare_stats(b3cas_store *s, const op *o);
int64_t run_cache_evict(b3cas_store **sp, const op *o);
int64_t run_cache_load(b3cas_store **sp, const op *o);
int64_t run_cache_resize(b3cas_store **sp, const op *o);
int64_t run_dedup_check(b3cas_store **sp, const op *o);
int64_t run_delete(b3cas_store **sp, const op *o);
int64_t run_exists(b3cas_store **sp, const op *o);
int64_t run_foreach(b3cas_store **sp, const op *o);
int64_t run_gc(b3cas_store **sp, const op *o);
int64_t run_ref_add(b3cas_store **sp, const op *o);
int64_t run_ref_remove(b3cas_store **sp, const op *o);
int64_t run_refcount(b3cas_store **sp, const op *o);
int64_t run_stat(b3cas_store **sp, const op *o);
int64_t run_stats(b3cas_store **sp, const op *o);
void verify_healed(const op *o);

#endif
