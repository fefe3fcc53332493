/*
 * test_store_model_int.h - what the files of the test_store_model program
 * share: the model's types (mobj, model, run, content), the operation
 * kinds, the failure report (fail_here, CHECK, CHECK_EQ) with the run it
 * names, the model's functions that the operations call, the operations
 * that the run loop calls, and the tests that test_store_model.c lists for
 * cmocka. Private to tests/core/test_store_model*.c.
 */
#ifndef B3CAS_TEST_STORE_MODEL_INT_H
#define B3CAS_TEST_STORE_MODEL_INT_H

#include <ctype.h>
#include <limits.h>
#include <openssl/evp.h>

#include "test_util.h"

#include "b3cas/store.h"
#include "chunk/fastcdc_ref.h"
#include "core/core_util.h"
#include "store_policy.h"

#define MAX_OBJ (300u * 1024)    /* largest object the model run makes */
#define NARROW_N 12              /* objects in the narrow content space */
#define MAX_BATCH 12
#define LIVE_HIGH 1500           /* delete more above this many objects */
#define LIVE_LOW 40              /* delete less below */
/* The chunking policy of tu_store_policy (B3CAS_TEST_CHUNKING=1). */
#define CHUNK_MIN 256u
#define CHUNK_AVG 1024u
#define CHUNK_MAX 4096u          /* larger objects are chunked */
#define SMALL_MARK 0xFF          /* in every small object, no large one */

/* One chunk of a chunked object, as the reference chunker cuts it. */
typedef struct mchunk {
	b3cas_oid id;
	uint32_t off, len;
} mchunk;

typedef struct mobj {
	b3cas_oid id;
	uint64_t seed;
	uint64_t size;
	uint64_t refs;   /* 0: not stored */
	uint32_t pos;    /* index in live[] (refs > 0) or ghost[] */
	bool used;
	/* Has an entry in the store: stored, or a GC candidate that no GC
	 * has collected yet (its manifest still holds its chunks). */
	bool held;
	mchunk *chunks;  /* chunking runs, large objects: NULL until needed */
	uint32_t nchunks;
} mobj;

typedef struct model {
	mobj *slot;
	size_t cap, count;
	uint32_t *live, *ghost;
	size_t nlive, nghost;
} model;

enum op_kind {
	OP_PUT_NEW, OP_PUT_DUP, OP_PUT_GHOST, OP_GET, OP_EXISTS, OP_DELETE,
	OP_STAT, OP_PUT_BATCH, OP_GET_BATCH, OP_WRITER, OP_READER,
	OP_FOREACH, OP_REOPEN, OP_READ_ONLY, OP_SYNC, OP_INFO, OP_GC,
	OP_READ_AT, NOPS
};

typedef struct run {
	uint64_t seed, rng;
	unsigned long op, nops;
	enum op_kind kind;
	char root[PATH_MAX];
	b3cas_store *s;
	size_t threshold;
	b3cas_durability durability;
	bool chunking;            /* the store chunks (tu_chunking()) */
	bool rados;               /* a RADOS store (tu_rados()): nothing inline */
	cdc_ref cdc;              /* the reference chunker, when it does */
	bool narrow;              /* this phase uses the narrow space */
	uint64_t narrow_seed[NARROW_N];
	size_t narrow_size[NARROW_N];
	model m;
	unsigned long count[NOPS];
	unsigned long dups, deletes_to_zero, aborts, bytes_put;
	unsigned long gcs, collected, chunks_freed, ranges;
	uint8_t *buf, *buf2;      /* MAX_OBJ scratch each */
	uint8_t *buf3;            /* MAX_OBJ, for the chunk model alone */
} run;

/* A chunk the store must hold: its references are its occurrences in
 * the manifests of the held chunked objects; (seed, size, off, len)
 * regenerate its bytes. */
typedef struct chunk_ref {
	b3cas_oid id;
	uint64_t count;
	uint64_t seed, size;
	uint32_t off, len;
	bool used;
	bool checked;   /* by check_chunks */
} chunk_ref;


typedef struct chunk_set {
	chunk_ref *slot;
	size_t cap, n;
} chunk_set;

/* Report a failed check with the run it happened in, then fail. */
void fail_here(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond))                                              \
			fail_here(__FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

/* got == want, both integers, with a description of what was checked. */
#define CHECK_EQ(got, want, what, ...)                                    \
	do {                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);  \
		if (g_ != w_)                                             \
			fail_here(__FILE__, __LINE__,                     \
				  "%s: got %lld, want %lld (" what ")",   \
				  #got, g_, w_, ##__VA_ARGS__);           \
	} while (0)

/* A content to put: its seed and size (bytes are regenerated from them). */
typedef struct content {
	uint64_t seed;
	size_t size;
} content;

extern unsigned long ops_per_seed;
extern unsigned long nseeds;
extern uint64_t base_seed;
extern char tmp_root[512];
extern run *cur; /* the run under way, for the failure message */
extern const char *const op_names[NOPS];
extern uint64_t md5_gear[256];

const char *hexid(const b3cas_oid *id);
mobj *model_find(model *m, const b3cas_oid *id);
void model_set_refs(model *m, mobj *o, uint64_t refs);
void model_free(model *m);
content pick_new(run *r);
mobj *pick_live(run *r);
mobj *pick_ghost(run *r);
b3cas_oid pick_lookup(run *r);
uint64_t refs_of(run *r, const b3cas_oid *id);
void check_bytes(run *r, const mobj *o, const void *got, size_t len,
		 const char *what);
void check_get(run *r, b3cas_store *s, const b3cas_oid *id);
void check_tmp_empty(run *r, const char *after);
void model_gen(const run *r, uint8_t *out, uint64_t seed, size_t size);
uint8_t *model_gen_alloc(const run *r, uint64_t seed, size_t size);
b3cas_oid expected_id(run *r, content c);
int model_put(run *r, const b3cas_oid *id, content c);
void op_put(run *r, content c);
void op_put_existing(run *r, mobj *o);
void op_exists(run *r);
void op_delete(run *r);
void op_stat(run *r);
void op_put_batch(run *r);
void op_get_batch(run *r);
void op_writer(run *r);
void op_reader(run *r);
void check_foreach(run *r, b3cas_store *s, bool early_stop);
void check_all(run *r, b3cas_store *s);
void check_info(run *r, b3cas_store *s, bool read_only);
int open_store(run *r, b3cas_store **out, bool create, bool read_only);
void op_reopen(run *r);
void op_read_only(run *r);
void op_sync(run *r);
void op_gc(run *r);
void op_read_at(run *r);
void check_read_at(run *r, b3cas_store *s, const b3cas_oid *id);
void chunk_set_build(run *r, chunk_set *cs);
chunk_ref *chunk_set_find(const chunk_set *cs, const b3cas_oid *id);
void chunk_set_free(chunk_set *cs);
void chunk_refs_check(run *r, b3cas_store *s, uint64_t got,
		      const chunk_ref *c);
void check_chunks(run *r, b3cas_store *s, chunk_set *cs);
void test_model_small_inline(void **state);
void test_model_default_inline(void **state);
void test_model_full(void **state);
void test_oid_text(void **state);
void test_read_only(void **state);
void test_locked(void **state);
void test_open_errors(void **state);
void test_sha256(void **state);

#endif /* B3CAS_TEST_STORE_MODEL_INT_H */
