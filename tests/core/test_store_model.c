/*
 * test_store_model.c - the whole store API against an in-memory model,
 * under seeded random sequences of operations, plus the fixed cases the
 * model cannot reach (id text, read-only and locked opens, foreign folders,
 * the SHA-256 comparison mode).
 *
 * The model maps every id the run has ever produced to the (seed, size)
 * that regenerates its bytes (core_util.h) and its expected reference
 * count; 0 means "not stored" (an object that was deleted, or content that
 * was made but never put), which gives the run ids that must be absent.
 * Each operation is checked against the model before the model is updated:
 * put's new/duplicate answer, delete's references left, stat, exists, the
 * bytes of get, get_batch, put_batch (with duplicates inside the batch),
 * the streaming writer (chunks of every size, 0 included; aborts that must
 * store nothing) and reader (reads of every size; 0 past the end), foreach
 * (the exact set, in id order; early stop), sync, and close + reopen and a
 * read-only open beside the writer, both of which must see the same
 * objects. Every id is also recomputed with b3cas_hash.
 *
 * Runs: one store with a 1 KiB inline threshold and one with the default
 * 64 KiB, so both the inline and the loose paths are cheap to reach; sizes
 * are mostly 0..4 KiB, often right at the threshold, some up to 300 KiB.
 * Phases of a "narrow" content space (a dozen fixed objects) force
 * duplicates, deletes to zero and re-puts. A short run uses full
 * durability.
 *
 * Usage: test_store_model [OPS_PER_SEED [SEEDS]] (or B3CAS_MODEL_OPS,
 * B3CAS_MODEL_SEEDS); the seed comes from B3CAS_TEST_SEED or the clock and
 * is printed at the start and with any failure.
 */
#include <ctype.h>
#include <limits.h>
#include <openssl/evp.h>

#include "test_util.h"

#include "b3cas/store.h"
#include "core/core_util.h"

#define MAX_OBJ (300u * 1024)    /* largest object the model run makes */
#define NARROW_N 12              /* objects in the narrow content space */
#define MAX_BATCH 12
#define LIVE_HIGH 1500           /* delete more above this many objects */
#define LIVE_LOW 40              /* delete less below */

static unsigned long ops_per_seed = 6000;
static unsigned long nseeds = 2;
static uint64_t base_seed;
static char tmp_root[512]; /* short, so paths built from it fit */

/* ---- the model ------------------------------------------------------------ */

typedef struct mobj {
	b3cas_oid id;
	uint64_t seed;
	uint64_t size;
	uint64_t refs;   /* 0: not stored */
	uint32_t pos;    /* index in live[] (refs > 0) or ghost[] */
	bool used;
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
	OP_FOREACH, OP_REOPEN, OP_READ_ONLY, OP_SYNC, OP_INFO, NOPS
};

static const char *const op_names[NOPS] = {
	"put new", "put duplicate", "put deleted", "get", "exists", "delete",
	"stat", "put_batch", "get_batch", "writer", "reader", "foreach",
	"close+reopen", "read-only open", "sync", "info",
};

/* per-op weights in 1/1000 */
static const unsigned op_weight[NOPS] = {
	190, 90, 30, 140, 50, 120, 60, 50, 50, 70, 60, 3, 1, 1, 3, 2,
};

typedef struct run {
	uint64_t seed, rng;
	unsigned long op, nops;
	enum op_kind kind;
	char root[PATH_MAX];
	b3cas_store *s;
	size_t threshold;
	b3cas_durability durability;
	bool narrow;              /* this phase uses the narrow space */
	uint64_t narrow_seed[NARROW_N];
	size_t narrow_size[NARROW_N];
	model m;
	unsigned long count[NOPS];
	unsigned long dups, deletes_to_zero, aborts, bytes_put;
	uint8_t *buf, *buf2;      /* MAX_OBJ scratch each */
} run;

static run *cur; /* for the failure message */

static void fail_here(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_here(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  library message: \"%s\"\n", b3cas_error_last());
	if (cur)
		fprintf(stderr,
			"  FAILED in run seed %llu, op %lu of %lu (%s), "
			"threshold %zu, durability %d%s\n"
			"  replay: B3CAS_TEST_SEED=%llu test_store_model %lu "
			"%lu\n",
			(unsigned long long)cur->seed, cur->op, cur->nops,
			op_names[cur->kind], cur->threshold,
			(int)cur->durability, cur->narrow ? ", narrow" : "",
			(unsigned long long)base_seed, ops_per_seed, nseeds);
	_fail(file, line);
}

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

static const char *hexid(const b3cas_oid *id)
{
	static char text[4][B3CAS_OID_HEX_LEN + 1];
	static unsigned n;

	tu_hex_encode(text[n % 4], id->bytes, B3CAS_OID_LEN);
	return text[n++ % 4];
}

static uint64_t id_hash(const b3cas_oid *id)
{
	uint64_t h;

	memcpy(&h, id->bytes, 8);
	return h;
}

static void model_index_add(model *m, uint32_t i)
{
	mobj *o = &m->slot[i];

	if (o->refs) {
		o->pos = (uint32_t)m->nlive;
		m->live[m->nlive++] = i;
	} else {
		o->pos = (uint32_t)m->nghost;
		m->ghost[m->nghost++] = i;
	}
}

static void model_index_remove(model *m, uint32_t i)
{
	mobj *o = &m->slot[i];
	uint32_t *list = o->refs ? m->live : m->ghost;
	size_t *n = o->refs ? &m->nlive : &m->nghost;
	uint32_t last = list[--*n];

	list[o->pos] = last;
	m->slot[last].pos = o->pos;
}

static void model_grow(model *m)
{
	size_t old_cap = m->cap;
	mobj *old = m->slot;

	m->cap = old_cap ? old_cap * 2 : 1024;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	m->live = realloc(m->live, m->cap * sizeof(*m->live));
	m->ghost = realloc(m->ghost, m->cap * sizeof(*m->ghost));
	assert_non_null(m->slot);
	assert_non_null(m->live);
	assert_non_null(m->ghost);
	m->nlive = m->nghost = 0;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = id_hash(&old[i].id) & (m->cap - 1); m->slot[j].used;
		     j = (j + 1) & (m->cap - 1))
			;
		m->slot[j] = old[i];
		model_index_add(m, (uint32_t)j);
	}
	free(old);
}

/* The entry for id, or NULL. */
static mobj *model_find(model *m, const b3cas_oid *id)
{
	if (!m->cap)
		return NULL;
	for (size_t j = id_hash(id) & (m->cap - 1); m->slot[j].used;
	     j = (j + 1) & (m->cap - 1))
		if (b3cas_oid_equal(&m->slot[j].id, id))
			return &m->slot[j];
	return NULL;
}

/* The entry for id, made (with refs 0) if it is new. */
static mobj *model_get(model *m, const b3cas_oid *id, uint64_t seed,
		       uint64_t size)
{
	mobj *o = model_find(m, id);
	size_t j;

	if (o)
		return o;
	if (2 * (m->count + 1) > m->cap)
		model_grow(m);
	for (j = id_hash(id) & (m->cap - 1); m->slot[j].used;
	     j = (j + 1) & (m->cap - 1))
		;
	o = &m->slot[j];
	o->used = true;
	o->id = *id;
	o->seed = seed;
	o->size = size;
	o->refs = 0;
	m->count++;
	model_index_add(m, (uint32_t)j);
	return o;
}

static void model_set_refs(model *m, mobj *o, uint64_t refs)
{
	uint32_t i = (uint32_t)(o - m->slot);

	if ((o->refs == 0) == (refs == 0)) {
		o->refs = refs;
		return;
	}
	model_index_remove(m, i);
	o->refs = refs;
	model_index_add(m, i);
}

static void model_free(model *m)
{
	free(m->slot);
	free(m->live);
	free(m->ghost);
	memset(m, 0, sizeof(*m));
}

/* ---- picking contents and ids --------------------------------------------- */

/* A content to put: its seed and size (bytes are regenerated from them). */
typedef struct content {
	uint64_t seed;
	size_t size;
} content;

static size_t pick_size(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 1000);
	size_t t = r->threshold;

	if (x < 680)
		return cu_below(&r->rng, 4097);
	if (x < 880) /* right around the threshold */
		return (size_t)cu_range(&r->rng, t > 64 ? t - 64 : 0, t + 64);
	if (x < 960)
		return cu_range(&r->rng, 4097, 70 * 1024);
	return cu_range(&r->rng, 70 * 1024, MAX_OBJ);
}

static content pick_new(run *r)
{
	content c;

	if (r->narrow) {
		unsigned k = (unsigned)cu_below(&r->rng, NARROW_N);

		c.seed = r->narrow_seed[k];
		c.size = r->narrow_size[k];
		return c;
	}
	c.seed = tu_rand(&r->rng);
	c.size = pick_size(r);
	return c;
}

static mobj *pick_live(run *r)
{
	if (!r->m.nlive)
		return NULL;
	return &r->m.slot[r->m.live[cu_below(&r->rng, r->m.nlive)]];
}

static mobj *pick_ghost(run *r)
{
	if (!r->m.nghost)
		return NULL;
	return &r->m.slot[r->m.ghost[cu_below(&r->rng, r->m.nghost)]];
}

/* An id to look up: stored (mostly), deleted, or never made. */
static b3cas_oid pick_lookup(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 100);
	b3cas_oid id;
	mobj *o = NULL;

	if (x < 75)
		o = pick_live(r);
	else if (x < 90)
		o = pick_ghost(r);
	if (o)
		return o->id;
	for (size_t i = 0; i < B3CAS_OID_LEN; i += 8) {
		uint64_t v = tu_rand(&r->rng);

		memcpy(id.bytes + i, &v, 8);
	}
	return id;
}

static uint64_t refs_of(run *r, const b3cas_oid *id)
{
	mobj *o = model_find(&r->m, id);

	return o ? o->refs : 0;
}

/* ---- checks shared by several operations -------------------------------- */

static void check_bytes(run *r, const mobj *o, const void *got, size_t len,
			const char *what)
{
	CHECK_EQ(len, o->size, "%s of %s", what, hexid(&o->id));
	cu_gen(r->buf2, o->seed, o->size);
	if (memcmp(got, r->buf2, len) != 0) {
		const uint8_t *g = got;
		size_t i = 0;

		while (g[i] == r->buf2[i])
			i++;
		CHECK(0, "%s of %s (%zu bytes): byte %zu differs (got %02x, "
		      "want %02x)", what, hexid(&o->id), len, i, g[i],
		      r->buf2[i]);
	}
}

/* get(id) against the model, on store s (the run's or a read-only one). */
static void check_get(run *r, b3cas_store *s, const b3cas_oid *id)
{
	mobj *o = model_find(&r->m, id);
	void *data = (void *)1;
	size_t len = 12345;
	int rc = b3cas_store_get(s, id, &data, &len);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "get of absent %s", hexid(id));
		return;
	}
	CHECK_EQ(rc, 0, "get of %s", hexid(id));
	CHECK(data != NULL, "get of %s gave a NULL buffer", hexid(id));
	check_bytes(r, o, data, len, "get");
	b3cas_free(data);
}

static void check_tmp_empty(run *r, const char *after)
{
	char path[PATH_MAX + 8];
	long n;

	snprintf(path, sizeof(path), "%s/tmp", r->root);
	n = cu_count_entries(path);
	CHECK(n == 0, "tmp/ holds %ld entries after %s", n, after);
}

/* The id b3cas_hash gives for content c (bytes left in r->buf). */
static b3cas_oid expected_id(run *r, content c)
{
	b3cas_oid id;

	cu_gen(r->buf, c.seed, c.size);
	b3cas_hash(id.bytes, r->buf, c.size);
	return id;
}

/* The model's answer to putting content c once: 0 new, 1 duplicate. */
static int model_put(run *r, const b3cas_oid *id, content c)
{
	mobj *o = model_get(&r->m, id, c.seed, c.size);
	int dup = o->refs > 0;

	model_set_refs(&r->m, o, o->refs + 1);
	r->dups += (unsigned long)dup;
	r->bytes_put += c.size;
	return dup;
}

/* ---- the operations ----------------------------------------------------- */

static void op_put(run *r, content c)
{
	b3cas_oid want = expected_id(r, c), got;
	uint64_t before = refs_of(r, &want);
	int rc;

	memset(&got, 0xEE, sizeof(got));
	rc = b3cas_store_put(r->s, &got,
			     c.size == 0 && cu_chance(&r->rng, 1, 2) ? NULL
								   : r->buf,
			     c.size);
	CHECK(rc >= 0, "put of %zu bytes failed: %d", c.size, rc);
	CHECK(b3cas_oid_equal(&got, &want), "put id %s, b3cas_hash says %s",
	      hexid(&got), hexid(&want));
	CHECK_EQ(rc, before > 0, "put of %s (refs before %llu)", hexid(&want),
		 (unsigned long long)before);
	model_put(r, &want, c);
}

static void op_put_existing(run *r, mobj *o)
{
	content c;

	if (!o) {
		op_put(r, pick_new(r));
		return;
	}
	c.seed = o->seed;
	c.size = o->size;
	op_put(r, c);
}

static void op_exists(run *r)
{
	b3cas_oid id = pick_lookup(r);

	CHECK_EQ(b3cas_store_exists(r->s, &id), refs_of(r, &id) > 0,
		 "exists %s", hexid(&id));
}

static void op_delete(run *r)
{
	b3cas_oid id = cu_chance(&r->rng, 9, 10) && r->m.nlive
			       ? pick_live(r)->id
			       : pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	int64_t rc = b3cas_store_delete(r->s, &id);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "delete of absent %s",
			 hexid(&id));
		return;
	}
	CHECK_EQ(rc, o->refs - 1, "delete of %s", hexid(&id));
	model_set_refs(&r->m, o, o->refs - 1);
	if (!o->refs) {
		r->deletes_to_zero++;
		CHECK_EQ(b3cas_store_exists(r->s, &id), 0,
			 "exists right after the last delete of %s",
			 hexid(&id));
	}
}

static void op_stat(run *r)
{
	b3cas_oid id = pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	b3cas_object_info info;
	int rc;

	memset(&info, 0xEE, sizeof(info));
	rc = b3cas_store_stat(r->s, &id, &info);
	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "stat of absent %s", hexid(&id));
		return;
	}
	CHECK_EQ(rc, 0, "stat of %s", hexid(&id));
	CHECK(b3cas_oid_equal(&info.id, &id), "stat id %s for %s",
	      hexid(&info.id), hexid(&id));
	CHECK_EQ(info.size, o->size, "stat size of %s", hexid(&id));
	CHECK_EQ(info.refs, o->refs, "stat refs of %s", hexid(&id));
	CHECK_EQ(info.is_inline, o->size <= r->threshold,
		 "stat is_inline of %s (%llu bytes)", hexid(&id),
		 (unsigned long long)o->size);
}

static void op_put_batch(run *r)
{
	size_t n = (size_t)cu_range(&r->rng, 1, MAX_BATCH);
	const void *data[MAX_BATCH];
	size_t lens[MAX_BATCH];
	content c[MAX_BATCH];
	b3cas_oid want[MAX_BATCH], got[MAX_BATCH];
	bool dup[MAX_BATCH], want_dup[MAX_BATCH];
	uint8_t *own[MAX_BATCH];
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned)cu_below(&r->rng, 100);
		mobj *o = NULL;

		if (x < 30)
			o = pick_live(r);
		else if (x < 40)
			o = pick_ghost(r);
		if (x >= 40 && x < 55 && i > 0) {
			c[i] = c[cu_below(&r->rng, i)];
		} else if (o) {
			c[i].seed = o->seed;
			c[i].size = o->size;
		} else {
			c[i] = pick_new(r);
		}
		own[i] = cu_gen_alloc(c[i].seed, c[i].size);
		b3cas_hash(want[i].bytes, own[i], c[i].size);
		data[i] = c[i].size == 0 && cu_chance(&r->rng, 1, 2) ? NULL
								      : own[i];
		lens[i] = c[i].size;
		want_dup[i] = refs_of(r, &want[i]) > 0;
		for (size_t j = 0; j < i; j++)
			want_dup[i] |= b3cas_oid_equal(&want[i], &want[j]);
		dup[i] = !want_dup[i]; /* so that "not written" shows */
	}
	rc = b3cas_store_put_batch(r->s, got, dup, data, lens, n);
	CHECK_EQ(rc, 0, "put_batch of %zu", n);
	for (size_t i = 0; i < n; i++) {
		CHECK(b3cas_oid_equal(&got[i], &want[i]),
		      "put_batch item %zu of %zu: id %s, b3cas_hash says %s",
		      i, n, hexid(&got[i]), hexid(&want[i]));
		CHECK_EQ(dup[i], want_dup[i], "put_batch item %zu of %zu (%s)",
			 i, n, hexid(&want[i]));
		model_put(r, &want[i], c[i]);
		free(own[i]);
	}
	/* without dup_out, sometimes: the same again, now all duplicates */
	if (cu_chance(&r->rng, 1, 8)) {
		for (size_t i = 0; i < n; i++)
			own[i] = cu_gen_alloc(c[i].seed, c[i].size),
			data[i] = own[i];
		CHECK_EQ(b3cas_store_put_batch(r->s, got, NULL, data, lens, n),
			 0, "put_batch of %zu again, dup_out NULL", n);
		for (size_t i = 0; i < n; i++) {
			CHECK(b3cas_oid_equal(&got[i], &want[i]),
			      "put_batch again item %zu", i);
			CHECK_EQ(model_put(r, &want[i], c[i]), 1,
				 "model: item %zu stored", i);
			free(own[i]);
		}
	}
}

static void op_get_batch(run *r)
{
	size_t n = (size_t)cu_below(&r->rng, MAX_BATCH + 1);
	b3cas_oid ids[MAX_BATCH];
	void *data[MAX_BATCH];
	size_t lens[MAX_BATCH];
	int results[MAX_BATCH];
	int rc, want_rc = 0;
	bool with_results = cu_chance(&r->rng, 7, 8);

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && cu_chance(&r->rng, 1, 8))
			ids[i] = ids[cu_below(&r->rng, i)];
		else
			ids[i] = pick_lookup(r);
		data[i] = (void *)1;
		results[i] = 12345;
		if (!want_rc && refs_of(r, &ids[i]) == 0)
			want_rc = B3CAS_ENOTFOUND;
	}
	rc = b3cas_store_get_batch(r->s, ids, n, data, lens,
				   with_results ? results : NULL);
	CHECK_EQ(rc, want_rc, "get_batch of %zu", n);
	for (size_t i = 0; i < n; i++) {
		mobj *o = model_find(&r->m, &ids[i]);

		if (!o || !o->refs) {
			if (with_results)
				CHECK_EQ(results[i], B3CAS_ENOTFOUND,
					 "get_batch item %zu (absent %s)", i,
					 hexid(&ids[i]));
			CHECK(data[i] == NULL,
			      "get_batch item %zu (absent): data not NULL", i);
			continue;
		}
		if (with_results)
			CHECK_EQ(results[i], 0, "get_batch item %zu (%s)", i,
				 hexid(&ids[i]));
		CHECK(data[i] != NULL, "get_batch item %zu: NULL data", i);
		check_bytes(r, o, data[i], lens[i], "get_batch");
		b3cas_free(data[i]);
	}
}

/* Feed bytes [0, end) of buf to w in random chunks, 0-length ones too. */
static void writer_feed(run *r, b3cas_writer *w, const uint8_t *buf,
			size_t end)
{
	size_t off = 0, most;

	switch (cu_below(&r->rng, 4)) {
	case 0: most = 1 + end; break;   /* often one call */
	case 1: most = 17; break;        /* many tiny calls */
	case 2: most = 1 + r->threshold; break;
	default: most = 1 + end / 3; break;
	}
	while (off < end || cu_chance(&r->rng, 1, 10)) {
		size_t n = cu_chance(&r->rng, 1, 10)
				   ? 0
				   : (size_t)cu_range(&r->rng, 1, most);

		if (n > end - off)
			n = end - off;
		CHECK_EQ(b3cas_writer_write(w, n ? buf + off : buf, n), 0,
			 "writer_write of %zu at %zu of %zu", n, off, end);
		off += n;
		if (off == end && n == 0)
			break;
	}
}

static void op_writer(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 100);
	content c;
	b3cas_oid want, got;
	b3cas_writer *w = NULL;
	uint64_t before;
	bool with_id = cu_chance(&r->rng, 9, 10);
	int rc;

	if (x < 20 && r->m.nlive) {
		mobj *o = pick_live(r);

		c.seed = o->seed;
		c.size = o->size;
	} else {
		c = pick_new(r);
	}
	want = expected_id(r, c);
	before = refs_of(r, &want);
	CHECK_EQ(b3cas_writer_open(&w, r->s), 0, "writer_open");
	CHECK(w != NULL, "writer_open gave NULL");
	if (cu_chance(&r->rng, 1, 5)) {
		/* abort after some or all of the bytes: nothing stored */
		writer_feed(r, w, r->buf, (size_t)cu_range(&r->rng, 0, c.size));
		b3cas_writer_abort(w);
		r->aborts++;
		CHECK_EQ(b3cas_store_exists(r->s, &want), before > 0,
			 "exists after an aborted writer of %s", hexid(&want));
		if (before)
			CHECK_EQ(refs_of(r, &want), before, "%s", "model");
		check_tmp_empty(r, "writer_abort");
		return;
	}
	writer_feed(r, w, r->buf, c.size);
	memset(&got, 0xEE, sizeof(got));
	rc = b3cas_writer_commit(w, with_id ? &got : NULL);
	CHECK_EQ(rc, before > 0, "writer_commit of %zu bytes (%s)", c.size,
		 hexid(&want));
	if (with_id)
		CHECK(b3cas_oid_equal(&got, &want),
		      "writer id %s, b3cas_hash says %s", hexid(&got),
		      hexid(&want));
	model_put(r, &want, c);
	if (cu_chance(&r->rng, 1, 4))
		check_tmp_empty(r, "writer_commit");
}

static void op_reader(run *r)
{
	b3cas_oid id = pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	b3cas_reader *rd = NULL;
	size_t off = 0, most;
	int rc = b3cas_reader_open(&rd, r->s, &id);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "reader_open of absent %s",
			 hexid(&id));
		return;
	}
	CHECK_EQ(rc, 0, "reader_open of %s", hexid(&id));
	CHECK_EQ(b3cas_reader_size(rd), o->size, "reader_size of %s",
		 hexid(&id));
	most = cu_chance(&r->rng, 1, 3) ? 7 : 1 + (size_t)o->size;
	for (;;) {
		size_t len = cu_chance(&r->rng, 1, 12)
				     ? 0
				     : (size_t)cu_range(&r->rng, 1, most);
		int64_t got = b3cas_reader_read(rd, r->buf + off, len);
		size_t want = len < o->size - off ? len : o->size - off;

		CHECK_EQ(got, want, "reader_read of %zu at %zu of %llu (%s)",
			 len, off, (unsigned long long)o->size, hexid(&id));
		off += (size_t)got;
		if (len && !got)
			break;
	}
	/* past the end: still 0 */
	CHECK_EQ(b3cas_reader_read(rd, r->buf2, 100), 0, "%s",
		 "reader_read past the end");
	check_bytes(r, o, r->buf, off, "reader");
	b3cas_reader_close(rd);
}

typedef struct walk {
	run *r;
	size_t seen, stop_after;
	b3cas_oid last;
	bool failed;
} walk;

static int walk_fn(const b3cas_object_info *info, void *ctx)
{
	walk *wk = ctx;
	run *r = wk->r;
	mobj *o = model_find(&r->m, &info->id);

	CHECK(!wk->seen || memcmp(wk->last.bytes, info->id.bytes,
				  B3CAS_OID_LEN) < 0,
	      "foreach: %s after %s, not in id order", hexid(&info->id),
	      hexid(&wk->last));
	wk->last = info->id;
	CHECK(o && o->refs, "foreach: %s is not in the model (refs %llu)",
	      hexid(&info->id), (unsigned long long)(o ? o->refs : 0));
	CHECK_EQ(info->size, o->size, "foreach size of %s", hexid(&o->id));
	CHECK_EQ(info->refs, o->refs, "foreach refs of %s", hexid(&o->id));
	CHECK_EQ(info->is_inline, o->size <= r->threshold,
		 "foreach is_inline of %s", hexid(&o->id));
	if (++wk->seen == wk->stop_after)
		return 7;
	return 0;
}

/* foreach on s must give exactly the model's stored objects. */
static void check_foreach(run *r, b3cas_store *s, bool early_stop)
{
	walk wk = {.r = r};
	int rc;

	if (early_stop && r->m.nlive > 1)
		wk.stop_after = (size_t)cu_range(&r->rng, 1, r->m.nlive - 1);
	rc = b3cas_store_foreach(s, walk_fn, &wk);
	if (wk.stop_after) {
		CHECK_EQ(rc, 7, "foreach stopped after %zu", wk.stop_after);
		CHECK_EQ(wk.seen, wk.stop_after, "%s", "foreach early stop");
		return;
	}
	CHECK_EQ(rc, 0, "%s", "foreach");
	CHECK_EQ(wk.seen, r->m.nlive, "%s", "objects seen by foreach");
}

/* Every stored object, byte-exact, and every absent one absent. */
static void check_all(run *r, b3cas_store *s)
{
	check_foreach(r, s, false);
	for (size_t i = 0; i < r->m.nlive; i++)
		check_get(r, s, &r->m.slot[r->m.live[i]].id);
	for (size_t i = 0; i < r->m.nghost && i < 200; i++) {
		mobj *o = pick_ghost(r);

		CHECK_EQ(b3cas_store_exists(s, &o->id), 0, "exists of deleted "
			 "%s", hexid(&o->id));
	}
}

static void check_info(run *r, b3cas_store *s, bool read_only)
{
	b3cas_store_info info;

	memset(&info, 0, sizeof(info));
	b3cas_store_info_get(&info, s);
	CHECK(info.root && strcmp(info.root, r->root) == 0,
	      "info root \"%s\", want \"%s\"", info.root ? info.root : "(null)",
	      r->root);
	CHECK_EQ(info.hash, B3CAS_HASH_BLAKE3, "%s", "info hash");
	CHECK_EQ(info.inline_threshold, r->threshold, "%s", "info threshold");
	CHECK_EQ(info.read_only, read_only, "%s", "info read_only");
	CHECK_EQ(info.format_version, 1, "%s", "info format_version");
	if (!read_only)
		CHECK_EQ(info.durability, r->durability, "%s",
			 "info durability");
}

static int open_store(run *r, b3cas_store **out, bool create, bool read_only)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.read_only = read_only;
	o.durability = r->durability;
	/* when opening, 0 means "whatever the store has" */
	o.inline_threshold = create || cu_chance(&r->rng, 1, 2) ? r->threshold
								: 0;
	if (r->threshold == B3CAS_INLINE_THRESHOLD_DEFAULT &&
	    cu_chance(&r->rng, 1, 2))
		o.inline_threshold = 0;
	o.verify_on_read = cu_chance(&r->rng, 3, 4);
	o.hash = cu_chance(&r->rng, 1, 2) ? B3CAS_HASH_BLAKE3
					  : B3CAS_HASH_DEFAULT;
	o.sync_interval_ms = cu_chance(&r->rng, 1, 2) ? 0 : 50;
	*out = NULL;
	return b3cas_store_open(out, r->root, &o);
}

static void op_reopen(run *r)
{
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "close");
	r->s = NULL;
	if (r->durability != B3CAS_DURABILITY_FULL)
		r->durability = cu_chance(&r->rng, 1, 2) ? B3CAS_DURABILITY_NONE
							 : B3CAS_DURABILITY_BATCH;
	CHECK_EQ(open_store(r, &r->s, cu_chance(&r->rng, 1, 2), false), 0,
		 "%s", "reopen");
	check_info(r, r->s, false);
	check_tmp_empty(r, "reopen");
	check_foreach(r, r->s, false);
	for (int i = 0; i < 50 && r->m.nlive; i++)
		check_get(r, r->s, &pick_live(r)->id);
}

/* A read-only handle beside the writer: same objects, no writes. */
static void op_read_only(run *r)
{
	b3cas_store *ro = NULL;
	b3cas_oid id;
	bool dup;
	const void *data[1] = {r->buf};
	size_t lens[1] = {10};
	b3cas_writer *w = NULL;
	int rc;

	CHECK_EQ(open_store(r, &ro, false, true), 0, "%s", "read-only open");
	check_info(r, ro, true);
	check_foreach(r, ro, false);
	for (int i = 0; i < 30 && r->m.nlive; i++)
		check_get(r, ro, &pick_live(r)->id);
	for (int i = 0; i < 5; i++) {
		b3cas_oid look = pick_lookup(r);

		CHECK_EQ(b3cas_store_exists(ro, &look), refs_of(r, &look) > 0,
			 "read-only exists %s", hexid(&look));
	}
	CHECK_EQ(b3cas_store_put(ro, &id, "read-only", 9), B3CAS_EPERM, "%s",
		 "put on a read-only store");
	CHECK_EQ(b3cas_store_put_batch(ro, &id, &dup, data, lens, 1),
		 B3CAS_EPERM, "%s", "put_batch on a read-only store");
	if (r->m.nlive) {
		mobj *o = pick_live(r);

		CHECK_EQ(b3cas_store_delete(ro, &o->id), B3CAS_EPERM, "%s",
			 "delete on a read-only store");
	}
	rc = b3cas_writer_open(&w, ro);
	if (rc == 0) {
		CHECK_EQ(b3cas_writer_write(w, "x", 1) == 0 ||
				 b3cas_writer_write(w, "x", 1) == B3CAS_EPERM,
			 1, "%s", "writer_write on a read-only store");
		CHECK_EQ(b3cas_writer_commit(w, &id), B3CAS_EPERM, "%s",
			 "writer_commit on a read-only store");
	} else {
		CHECK_EQ(rc, B3CAS_EPERM, "%s", "writer_open on a read-only "
			 "store");
	}
	CHECK_EQ(b3cas_store_close(ro), 0, "%s", "close read-only");
	/* the writer's handle is unaffected */
	check_foreach(r, r->s, true);
}

static void op_sync(run *r)
{
	CHECK_EQ(b3cas_store_sync(r->s), 0, "%s", "sync");
}

/* ---- the run ----------------------------------------------------------- */

static enum op_kind pick_op(run *r)
{
	unsigned w[NOPS], total = 0, x;

	memcpy(w, op_weight, sizeof(w));
	if (r->m.nlive > LIVE_HIGH)
		w[OP_DELETE] *= 4;
	else if (r->m.nlive < LIVE_LOW)
		w[OP_DELETE] /= 3;
	for (int i = 0; i < NOPS; i++)
		total += w[i];
	x = (unsigned)cu_below(&r->rng, total);
	for (int i = 0; i < NOPS; i++) {
		if (x < w[i])
			return (enum op_kind)i;
		x -= w[i];
	}
	return OP_GET;
}

static void do_op(run *r, enum op_kind k)
{
	switch (k) {
	case OP_PUT_NEW: op_put(r, pick_new(r)); break;
	case OP_PUT_DUP: op_put_existing(r, pick_live(r)); break;
	case OP_PUT_GHOST: op_put_existing(r, pick_ghost(r)); break;
	case OP_GET: {
		b3cas_oid id = pick_lookup(r);

		check_get(r, r->s, &id);
		break;
	}
	case OP_EXISTS: op_exists(r); break;
	case OP_DELETE: op_delete(r); break;
	case OP_STAT: op_stat(r); break;
	case OP_PUT_BATCH: op_put_batch(r); break;
	case OP_GET_BATCH: op_get_batch(r); break;
	case OP_WRITER: op_writer(r); break;
	case OP_READER: op_reader(r); break;
	case OP_FOREACH: check_foreach(r, r->s, cu_chance(&r->rng, 1, 3));
		break;
	case OP_REOPEN: op_reopen(r); break;
	case OP_READ_ONLY: op_read_only(r); break;
	case OP_SYNC: op_sync(r); break;
	case OP_INFO: check_info(r, r->s, false); break;
	default: break;
	}
}

static void run_model(uint64_t seed, size_t threshold, b3cas_durability dur,
		      unsigned long nops)
{
	run *r = calloc(1, sizeof(*r));
	size_t t;
	double t0 = cu_now();

	assert_non_null(r);
	cur = r;
	r->seed = r->rng = seed;
	r->nops = nops;
	r->threshold = threshold ? threshold : B3CAS_INLINE_THRESHOLD_DEFAULT;
	r->durability = dur;
	r->buf = malloc(MAX_OBJ + 1);
	r->buf2 = malloc(MAX_OBJ + 1);
	assert_non_null(r->buf);
	assert_non_null(r->buf2);
	t = r->threshold;
	{
		const size_t sizes[NARROW_N] = {
			0, 1, 100, t - 1, t, t + 1, 3000, 70000, 1024, 5,
			200000, 64,
		};

		for (int k = 0; k < NARROW_N; k++) {
			r->narrow_seed[k] = 0xA11CE000ull + (uint64_t)k;
			r->narrow_size[k] = sizes[k];
		}
	}
	snprintf(r->root, sizeof(r->root), "%s/model-%llu-%zu", tmp_root,
		 (unsigned long long)seed, threshold);
	fprintf(stderr, "[test_store_model] seed %llu: %lu ops, inline "
		"threshold %zu, durability %d\n", (unsigned long long)seed,
		nops, r->threshold, (int)dur);
	r->kind = OP_REOPEN;
	CHECK_EQ(open_store(r, &r->s, true, false), 0, "%s", "create");
	check_info(r, r->s, false);
	for (r->op = 0; r->op < nops; r->op++) {
		/* narrow phases: a few hundred ops every so often */
		if (r->op % 500 == 0)
			r->narrow = cu_chance(&r->rng, 1, 4);
		r->kind = pick_op(r);
		r->count[r->kind]++;
		do_op(r, r->kind);
	}
	r->kind = OP_REOPEN;
	check_all(r, r->s);
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "final close");
	CHECK_EQ(open_store(r, &r->s, false, true), 0, "%s",
		 "final read-only open");
	check_all(r, r->s);
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "close");
	fprintf(stderr, "  %.2f s; %zu stored at the end, %zu deleted/"
		"unstored ids, %lu duplicates, %lu deletes to zero, %lu "
		"aborted writers, %.1f MiB put\n  ops:",
		cu_now() - t0, r->m.nlive, r->m.nghost, r->dups,
		r->deletes_to_zero, r->aborts,
		(double)r->bytes_put / (1024.0 * 1024.0));
	for (int i = 0; i < NOPS; i++)
		fprintf(stderr, " %s %lu%s", op_names[i], r->count[i],
			i + 1 < NOPS ? "," : "\n");
	cu_rm_rf(r->root);
	model_free(&r->m);
	free(r->buf);
	free(r->buf2);
	free(r);
	cur = NULL;
}

static void test_model_small_inline(void **state)
{
	(void)state;
	for (unsigned long i = 0; i < nseeds; i++)
		run_model(base_seed + i, 1024,
			  i % 2 ? B3CAS_DURABILITY_BATCH
				: B3CAS_DURABILITY_NONE,
			  ops_per_seed);
}

static void test_model_default_inline(void **state)
{
	(void)state;
	for (unsigned long i = 0; i < nseeds; i++)
		run_model(base_seed + 1000 + i, 0,
			  i % 2 ? B3CAS_DURABILITY_NONE
				: B3CAS_DURABILITY_BATCH,
			  ops_per_seed);
}

/* Every put is fsync'd: slow, so a short run. */
static void test_model_full(void **state)
{
	(void)state;
	run_model(base_seed + 2000, 4096, B3CAS_DURABILITY_FULL,
		  ops_per_seed / 20 + 50);
}

/* ---- fixed cases ---------------------------------------------------------- */

static void test_oid_text(void **state)
{
	uint64_t rng = base_seed ^ 0x01D;
	char text[B3CAS_OID_HEX_LEN + 1], want[B3CAS_OID_HEX_LEN + 1];
	char bad[160];
	b3cas_oid id, back, sentinel;

	(void)state;
	memset(&sentinel, 0xAB, sizeof(sentinel));
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < B3CAS_OID_LEN; i++)
			id.bytes[i] = (uint8_t)tu_rand(&rng);
		if (round == 0)
			memset(id.bytes, 0, sizeof(id.bytes));
		if (round == 1)
			memset(id.bytes, 0xFF, sizeof(id.bytes));
		memset(text, 'Z', sizeof(text));
		assert_ptr_equal(b3cas_oid_fmt(text, &id), text);
		tu_hex_encode(want, id.bytes, B3CAS_OID_LEN);
		assert_string_equal(text, want);
		assert_int_equal(b3cas_oid_parse(&back, text), 0);
		assert_true(b3cas_oid_equal(&back, &id));
		/* upper case, and a random mix of cases */
		for (int i = 0; i < B3CAS_OID_HEX_LEN; i++)
			if (round % 2 || cu_chance(&rng, 1, 2))
				text[i] = (char)toupper((unsigned char)text[i]);
		back = sentinel;
		assert_int_equal(b3cas_oid_parse(&back, text), 0);
		assert_true(b3cas_oid_equal(&back, &id));
		back.bytes[round % B3CAS_OID_LEN] ^= 1;
		assert_false(b3cas_oid_equal(&back, &id));

		/* a bad character anywhere */
		{
			static const char badc[] = "gGzZ -x.:\n\t\xff\x80/@`";
			int pos = (int)cu_below(&rng, B3CAS_OID_HEX_LEN);

			strcpy(bad, want);
			bad[pos] = badc[cu_below(&rng, sizeof(badc) - 1)];
			back = sentinel;
			b3cas_error_clear();
			assert_int_equal(b3cas_oid_parse(&back, bad),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
			assert_true(strlen(b3cas_error_last()) > 0);
		}
		/* wrong lengths: every length from 0 to 130 but 64 */
		{
			size_t len = (size_t)cu_below(&rng, 131);

			if (len == 64)
				len = 63;
			for (size_t i = 0; i < len; i++)
				bad[i] = want[i % 64];
			bad[len] = '\0';
			back = sentinel;
			assert_int_equal(b3cas_oid_parse(&back, bad),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
		}
	}
	{
		static const char *const cases[] = {
			"", "0", " 0000000000000000000000000000000000000000000000000000000000000000",
			"0000000000000000000000000000000000000000000000000000000000000000 ",
			"0000000000000000000000000000000000000000000000000000000000000000\n",
			"0x00000000000000000000000000000000000000000000000000000000000000",
			"+000000000000000000000000000000000000000000000000000000000000000",
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			back = sentinel;
			assert_int_equal(b3cas_oid_parse(&back, cases[i]),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
		}
		/* a NUL inside: the string ends early, so it is too short */
		strcpy(bad, want);
		bad[10] = '\0';
		assert_int_equal(b3cas_oid_parse(&back, bad), B3CAS_EINVAL);
	}
}

/* A store in a fresh folder under tmp_root with some objects in it. */
static void make_store(char *root, size_t root_len, const char *name,
		       b3cas_hash_algo hash, size_t threshold)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	b3cas_oid id;

	snprintf(root, root_len, "%s/%s", tmp_root, name);
	o.create = true;
	o.hash = hash;
	o.inline_threshold = threshold;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_put(s, &id, "hello", 5), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static int open_with(const char *root, bool create, bool read_only,
		     b3cas_hash_algo hash, size_t threshold,
		     b3cas_store **out)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.read_only = read_only;
	o.hash = hash;
	o.inline_threshold = threshold;
	*out = NULL;
	return b3cas_store_open(out, root, &o);
}

static void test_read_only(void **state)
{
	char root[PATH_MAX];
	b3cas_store *s = NULL, *ro = NULL, *ro2 = NULL;
	static const size_t sizes[] = {0, 1, 2000, 2048, 2049, 100000};
	b3cas_oid ids[6], id;
	uint8_t *bufs[6];
	void *data;
	size_t len;
	bool dup;
	b3cas_store_info info;
	b3cas_writer *w = NULL;
	int rc;

	(void)state;
	snprintf(root, sizeof(root), "%s/ro", tmp_root);
	assert_int_equal(open_with(root, true, false, 0, 2048, &s), 0);
	for (int i = 0; i < 6; i++) {
		bufs[i] = cu_gen_alloc(77 + (uint64_t)i, sizes[i]);
		assert_int_equal(b3cas_store_put(s, &ids[i], bufs[i], sizes[i]),
				 0);
	}
	assert_int_equal(b3cas_store_put(s, &id, bufs[3], sizes[3]), 1);
	/* beside the writer, in the same process */
	assert_int_equal(open_with(root, false, true, 0, 0, &ro), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* and once the writer has closed */
	assert_int_equal(open_with(root, false, true, 0, 0, &ro2), 0);
	for (int k = 0; k < 2; k++) {
		b3cas_store *x = k ? ro2 : ro;
		b3cas_object_info oi;

		b3cas_store_info_get(&info, x);
		assert_true(info.read_only);
		assert_int_equal((int)info.inline_threshold, 2048);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(b3cas_store_get(x, &ids[i], &data,
							 &len), 0);
			assert_int_equal(len, sizes[i]);
			assert_memory_equal(data, bufs[i], len);
			b3cas_free(data);
			assert_int_equal(b3cas_store_stat(x, &ids[i], &oi), 0);
			assert_int_equal(oi.refs, i == 3 ? 2 : 1);
			assert_int_equal(oi.is_inline, sizes[i] <= 2048);
		}
		assert_int_equal(b3cas_store_put(x, &id, "new", 3),
				 B3CAS_EPERM);
		assert_int_equal(b3cas_store_put(x, &id, bufs[2], sizes[2]),
				 B3CAS_EPERM);
		{
			const void *d[1] = {"new"};
			size_t l[1] = {3};

			assert_int_equal(b3cas_store_put_batch(x, &id, &dup, d,
							       l, 1),
					 B3CAS_EPERM);
		}
		assert_int_equal(b3cas_store_delete(x, &ids[1]), B3CAS_EPERM);
		rc = b3cas_writer_open(&w, x);
		if (rc == 0) {
			(void)b3cas_writer_write(w, "abc", 3);
			assert_int_equal(b3cas_writer_commit(w, &id),
					 B3CAS_EPERM);
		} else {
			assert_int_equal(rc, B3CAS_EPERM);
		}
		/* refs unchanged by all of that */
		assert_int_equal(b3cas_store_stat(x, &ids[1], &oi), 0);
		assert_int_equal(oi.refs, 1);
	}
	assert_int_equal(b3cas_store_close(ro), 0);
	assert_int_equal(b3cas_store_close(ro2), 0);
	/* nothing changed for the next writer either */
	assert_int_equal(open_with(root, false, false, 0, 0, &s), 0);
	assert_int_equal(b3cas_store_delete(s, &ids[1]), 0);
	assert_int_equal(b3cas_store_delete(s, &ids[3]), 1);
	assert_int_equal(b3cas_store_exists(s, &ids[1]), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* read-only where there is no store */
	snprintf(root, sizeof(root), "%s/ro-missing", tmp_root);
	assert_int_equal(open_with(root, false, true, 0, 0, &ro),
			 B3CAS_ENOTFOUND);
	assert_null(ro);
	for (int i = 0; i < 6; i++)
		free(bufs[i]);
}

static void test_locked(void **state)
{
	char root[PATH_MAX], pid[32];
	b3cas_store *a = NULL, *b = NULL, *ro = NULL;

	(void)state;
	make_store(root, sizeof(root), "locked", B3CAS_HASH_DEFAULT, 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &a), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &b),
			 B3CAS_ELOCKED);
	assert_null(b);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (!strstr(b3cas_error_last(), pid))
		fail_msg("ELOCKED message \"%s\" does not name pid %s",
			 b3cas_error_last(), pid);
	/* create does not get around the lock */
	assert_int_equal(open_with(root, true, false, 0, 0, &b),
			 B3CAS_ELOCKED);
	assert_int_equal(open_with(root, false, true, 0, 0, &ro), 0);
	assert_int_equal(b3cas_store_exists(ro, &(b3cas_oid){{0}}), 0);
	assert_int_equal(b3cas_store_close(a), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &b), 0);
	assert_int_equal(b3cas_store_close(b), 0);
	assert_int_equal(b3cas_store_close(ro), 0);
	assert_int_equal(b3cas_store_close(NULL), 0);
}

static void test_open_errors(void **state)
{
	char root[PATH_MAX], path[PATH_MAX + 32];
	b3cas_store *s = NULL;
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	int rc;

	(void)state;
	/* nothing there */
	snprintf(root, sizeof(root), "%s/missing", tmp_root);
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_ENOTFOUND);
	assert_null(s);
	assert_int_equal(b3cas_store_open(&s, root, NULL), B3CAS_ENOTFOUND);
	assert_int_equal(cu_count_entries(root), -1); /* not made */
	/* an empty folder */
	snprintf(root, sizeof(root), "%s/empty", tmp_root);
	assert_int_equal(mkdir(root, 0777), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_ENOTFOUND);
	assert_int_equal(cu_count_entries(root), 0);
	/* a folder of other things: not a store, and not made one */
	snprintf(root, sizeof(root), "%s/foreign", tmp_root);
	assert_int_equal(mkdir(root, 0777), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", root);
	assert_true(cu_write_file(path, "not a store\n"));
	for (int create = 0; create < 2; create++) {
		rc = open_with(root, create, false, 0, 0, &s);
		if (rc != B3CAS_ENOTFOUND && rc != B3CAS_EFORMAT)
			fail_msg("foreign folder (create %d): %d \"%s\"",
				 create, rc, b3cas_error_last());
		assert_null(s);
		assert_int_equal(cu_count_entries(root), 1);
	}
	/* a regular file */
	assert_true(open_with(path, false, false, 0, 0, &s) < 0);
	assert_true(open_with(path, true, false, 0, 0, &s) < 0);
	assert_null(s);

	/* a store whose b3cas.conf is damaged, or from the future */
	make_store(root, sizeof(root), "badconf", B3CAS_HASH_DEFAULT, 0);
	snprintf(path, sizeof(path), "%s/b3cas.conf", root);
	assert_true(cu_write_file(path, "\x01\x02 this is not a config\n"));
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, true, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, true, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_true(cu_write_file(path, ""));
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	unlink(path);
	rc = open_with(root, false, false, 0, 0, &s);
	if (rc != B3CAS_ENOTFOUND && rc != B3CAS_EFORMAT)
		fail_msg("store without b3cas.conf: %d \"%s\"", rc,
			 b3cas_error_last());
	assert_null(s);

	/* another inline threshold than recorded */
	make_store(root, sizeof(root), "thresh", B3CAS_HASH_DEFAULT, 4096);
	assert_int_equal(open_with(root, false, false, 0, 8192, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, 0, 4096, &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* bad options (a failed open leaves *out alone) */
	s = NULL;
	snprintf(root, sizeof(root), "%s/badopts", tmp_root);
	o.create = true;
	o.inline_threshold = B3CAS_INLINE_THRESHOLD_MAX + 1;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.inline_threshold = 0;
	o.durability = (b3cas_durability)7;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.durability = B3CAS_DURABILITY_BATCH;
	o.hash = (b3cas_hash_algo)9;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.hash = B3CAS_HASH_DEFAULT;
	o.version = 99;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	assert_null(s);
	/* the largest threshold is accepted */
	o.version = B3CAS_STORE_OPTIONS_VERSION;
	o.inline_threshold = B3CAS_INLINE_THRESHOLD_MAX;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void sha256(uint8_t out[32], const void *data, size_t len)
{
	unsigned n = 0;

	assert_int_equal(EVP_Digest(len ? data : "", len, out, &n,
				    EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

static void test_sha256(void **state)
{
	char root[PATH_MAX];
	static const size_t sizes[] = {0, 1, 64, 1000, 1024, 1025, 70000};
	b3cas_store *s = NULL;
	b3cas_store_info info;
	b3cas_oid id, ids[7];
	uint8_t want[32], b3[32];
	void *data;
	size_t len;
	bool dup[7];
	const void *ptrs[7];
	uint8_t *bufs[7];

	(void)state;
	make_store(root, sizeof(root), "sha", B3CAS_HASH_SHA256, 1024);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_DEFAULT, 0,
				   &s), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.hash, B3CAS_HASH_SHA256);
	assert_string_equal(b3cas_hash_algo_name(info.hash), "sha256");
	assert_string_equal(b3cas_hash_algo_name(B3CAS_HASH_BLAKE3), "blake3");
	/* make_store put "hello" */
	sha256(want, "hello", 5);
	memcpy(id.bytes, want, 32);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	for (int i = 0; i < 7; i++) {
		bufs[i] = cu_gen_alloc(500 + (uint64_t)i, sizes[i]);
		ptrs[i] = bufs[i];
		sha256(want, bufs[i], sizes[i]);
		b3cas_hash(b3, bufs[i], sizes[i]);
		assert_memory_not_equal(want, b3, 32);
		assert_int_equal(b3cas_store_put(s, &id, bufs[i], sizes[i]), 0);
		assert_memory_equal(id.bytes, want, 32);
		assert_int_equal(b3cas_store_get(s, &id, &data, &len), 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(data, bufs[i], len);
		b3cas_free(data);
		memcpy(id.bytes, b3, 32);
		assert_int_equal(b3cas_store_exists(s, &id), 0);
	}
	/* the batch and the streaming writer hash the same way */
	assert_int_equal(b3cas_store_put_batch(s, ids, dup, ptrs, sizes, 7), 0);
	for (int i = 0; i < 7; i++) {
		sha256(want, bufs[i], sizes[i]);
		assert_memory_equal(ids[i].bytes, want, 32);
		assert_true(dup[i]);
	}
	{
		b3cas_writer *w = NULL;
		uint8_t *big = cu_gen_alloc(999, 5000);

		assert_int_equal(b3cas_writer_open(&w, s), 0);
		for (size_t off = 0; off < 5000; off += 700)
			assert_int_equal(b3cas_writer_write(w, big + off,
				off + 700 > 5000 ? 5000 - off : 700), 0);
		assert_int_equal(b3cas_writer_commit(w, &id), 0);
		sha256(want, big, 5000);
		assert_memory_equal(id.bytes, want, 32);
		free(big);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	/* asking for the other hash is refused, either way round */
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_BLAKE3, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, true, B3CAS_HASH_BLAKE3, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_SHA256, 0,
				   &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	make_store(root, sizeof(root), "b3", B3CAS_HASH_BLAKE3, 0);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_SHA256, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_DEFAULT, 0,
				   &s), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.hash, B3CAS_HASH_BLAKE3);
	assert_int_equal(b3cas_store_close(s), 0);
	for (int i = 0; i < 7; i++)
		free(bufs[i]);
}

static int setup(void **state)
{
	(void)state;
	base_seed = tu_seed("test_store_model");
	if (!cu_mkdtemp(tmp_root, sizeof(tmp_root), "model"))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cu_rm_rf(tmp_root);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oid_text),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_model_small_inline),
		cmocka_unit_test(test_model_default_inline),
		cmocka_unit_test(test_model_full),
	};

	ops_per_seed = cu_env_num("B3CAS_MODEL_OPS", ops_per_seed);
	nseeds = cu_env_num("B3CAS_MODEL_SEEDS", nseeds);
	if (argc > 1)
		ops_per_seed = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		nseeds = strtoul(argv[2], NULL, 0);
	if (tu_long())
		ops_per_seed *= 10;
	return cmocka_run_group_tests(tests, setup, teardown);
}
