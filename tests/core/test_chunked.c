/*
 * test_chunked.c - chunked objects and compression (format 2), checked
 * against models the test computes itself:
 *
 *  - round trip: objects made of a few bases with small edits (bytes
 *    changed, inserted, deleted), put through every put path (buffer,
 *    batch, streaming writer), read back through every read path (get,
 *    view, batch get, streaming reader, range reads at random offsets)
 *    and compared byte for byte; every id is the one-shot BLAKE3 of the
 *    whole content;
 *  - references: every chunk's count equals the number of times the
 *    manifests of the live chunked objects name it, with the chunk
 *    boundaries computed here by the FastCDC chunker and the chunk ids by
 *    one-shot BLAKE3; deletes and GC free exactly what no manifest holds,
 *    and an emptied store is empty;
 *  - damage: a segment, the top, a chunk's bytes altered in the index, or
 *    one object's segment put under another's key, each makes reads fail
 *    with B3CAS_ECORRUPT, never return wrong bytes;
 *  - crashes: a writer killed (SIGKILL) at random points during chunked
 *    puts; the reopened store has every acknowledged object byte-exact
 *    and, once they are deleted and collected, nothing left
 *    (B3CAS_CHUNK_CRASHES rounds, default 12; 200 with B3CAS_TEST_LONG);
 *  - threads: puts, deletes and GC of overlapping objects at once, then
 *    the counts against the threads' ledgers.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <endian.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "b3cas/b3cas.h"
#include "chunk/fastcdc.h"
#include "chunk_model.h"
#include "core/core_util.h"
#include "index/index.h"
#include "store/chunked.h"
#include "meta_keys.h"

#define AVG 1024u
#define CMIN (AVG / 4)
#define CMAX (AVG * 4)

static uint64_t seed;
/* How stores made here keep their inline bytes: packed (the default), or
 * a zstd frame each (the format of earlier versions, still made on
 * request and read). */
static b3cas_packing packing = B3CAS_PACKING_DEFAULT;

static b3cas_store *open_store(const char *dir, bool create)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	int rc;

	o.create = create;
	o.chunking = create ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_DEFAULT;
	o.chunk_avg = AVG;
	o.compression_level = 3;
	o.packing = packing;
	rc = b3cas_store_open(&s, dir, &o);
	if (rc != 0)
		fail_msg("open %s: %s", dir, b3cas_error_last());
	return s;
}

/* ---- objects: bases and edits --------------------------------------- */

#define NBASE 3
#define BASE_MAX (768u * 1024u)

typedef struct obj {
	uint8_t *data;
	size_t len;
	b3cas_oid id;
} obj;

/* A variant of base b: k edits chosen from (s, v). */
static obj make_variant(const uint8_t *base, size_t blen, uint64_t v,
			unsigned k)
{
	uint64_t st = v * 0x9E3779B97F4A7C15ull + 1;
	obj o;

	o.data = malloc(blen + 64 * k + 1);
	memcpy(o.data, base, blen);
	o.len = blen;
	for (unsigned i = 0; i < k; i++) {
		size_t at = (size_t)cu_below(&st, o.len);
		unsigned n = (unsigned)cu_range(&st, 1, 48);

		switch (cu_below(&st, 3)) {
		case 0: /* overwrite */
			for (unsigned j = 0; j < n && at + j < o.len; j++)
				o.data[at + j] ^= (uint8_t)(1 + j);
			break;
		case 1: /* insert */
			memmove(o.data + at + n, o.data + at, o.len - at);
			for (unsigned j = 0; j < n; j++)
				o.data[at + j] = (uint8_t)tu_rand(&st);
			o.len += n;
			break;
		default: /* delete */
			if (at + n < o.len) {
				memmove(o.data + at, o.data + at + n,
					o.len - at - n);
				o.len -= n;
			}
			break;
		}
	}
	b3cas_hash(o.id.bytes, o.data, o.len);
	return o;
}

/* Bases: noise, text-like (compressible), and zeros with noise islands. */
static uint8_t *make_base(unsigned b, size_t len)
{
	uint8_t *p = cu_gen_alloc(seed + b * 7 + 2, len);

	if (b == 1)
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)('a' + p[i] % 7);
	if (b == 2)
		for (size_t i = 0; i < len; i++)
			if ((i / 8192) % 4)
				p[i] = 0;
	return p;
}

/* The first chunk of o (as the store cuts it) that is all zeros (zeros)
 * or not: its id, and its length in *len. false: none. */
static bool chunk_of(const obj *o, bool zeros, b3cas_oid *id, uint32_t *len)
{
	b3cas_cdc cdc;

	assert_int_equal(b3cas__cdc_init(&cdc, CMIN, AVG, CMAX, 0), 0);
	for (size_t off = 0, cl; off < o->len; off += cl) {
		cl = b3cas__cdc_cut(NULL, &cdc, o->data + off, o->len - off);
		if ((o->data[off] == 0 &&
		     memcmp(o->data + off, o->data + off + 1, cl - 1) == 0) !=
		    zeros)
			continue;
		b3cas_hash(id->bytes, o->data + off, cl);
		*len = (uint32_t)cl;
		return true;
	}
	return false;
}

/* ---- the reference model of chunk counts ---------------------------- */

typedef chunk_model model;

/* Add the chunks of data (as our chunker cuts it) to m, times times. */
static void model_add(model *m, const uint8_t *data, size_t len,
		      uint64_t times)
{
	chunk_model_add(m, data, len, times, AVG);
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	(void)info;
	(*(uint64_t *)ctx)++;
	return 0;
}

static uint64_t objects_in(b3cas_store *s)
{
	uint64_t n = 0;

	assert_int_equal(b3cas_store_foreach(s, count_object, &n), 0);
	return n;
}

static int count_entry(const b3cas__walk_entry *e, void *ctx)
{
	(*(uint64_t *)ctx) += !e->candidate;
	return 0;
}

/* Every live entry of the index: objects callers hold and chunks that
 * only chunked objects hold, which foreach leaves out. */
static uint64_t entries_in(b3cas_store *s)
{
	uint64_t n = 0;

	assert_int_equal(b3cas__store_walk(s, false, count_entry, &n), 0);
	return n;
}

static void gc_now(b3cas_store *s)
{
	if (cu_gc_all(s) != 0)
		fail_msg("gc: %s", b3cas_error_last());
}

/* Every chunk's held count is the model's, and callers hold none of it
 * (the tests put no object equal to a chunk, but test_held_counts). */
static void check_counts(b3cas_store *s, model *m)
{
	chunk_model_fold(m);
	for (size_t i = 0; i < m->n; i++) {
		uint64_t c = 1, held = 0;

		if (b3cas_refcount(s, &m->refs[i].id, &c) != 0)
			fail_msg("refcount: %s", b3cas_error_last());
		assert_int_equal(c, 0);
		assert_int_equal(b3cas__chunked_held(s, &m->refs[i].id, &held),
				 0);
		assert_int_equal(held, m->refs[i].count);
	}
}

/* ---- reads ----------------------------------------------------------- */

static void check_reads(b3cas_store *s, const obj *o, uint64_t *st)
{
	void *got = NULL;
	size_t len = 0, n;
	b3cas_blob *blob = NULL;
	b3cas_reader *r = NULL;
	uint8_t *buf = malloc(o->len + 1);
	size_t pos = 0;

	if (b3cas_store_get(s, &o->id, &got, &len) != 0)
		fail_msg("get: %s", b3cas_error_last());
	assert_int_equal(len, o->len);
	assert_memory_equal(got, o->data, o->len);
	free(got);
	assert_int_equal(b3cas_store_get_view(s, &o->id, &blob), 0);
	assert_int_equal(b3cas_blob_size(blob), o->len);
	assert_memory_equal(b3cas_blob_data(blob), o->data, o->len);
	b3cas_blob_release(blob);
	/* a batch get, the object twice beside an absent id */
	{
		b3cas_oid ids[3] = {o->id, o->id, {{0}}};
		void *d[3] = {NULL, NULL, NULL};
		size_t l[3] = {0, 0, 0};
		int res[3];

		ids[2].bytes[0] = 1;
		(void)b3cas_store_get_batch(s, ids, 3, d, l, res);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(res[k], 0);
			assert_int_equal(l[k], o->len);
			assert_memory_equal(d[k], o->data, o->len);
			free(d[k]);
		}
		assert_int_equal(res[2], B3CAS_ENOTFOUND);
		free(d[2]);
	}
	/* streaming, in pieces of random sizes */
	assert_int_equal(b3cas_reader_open(&r, s, &o->id), 0);
	assert_int_equal(b3cas_reader_size(r), o->len);
	for (;;) {
		int64_t k = b3cas_reader_read(r, buf + pos,
					      (size_t)cu_range(st, 1, 70000));

		assert_true(k >= 0);
		if (k == 0)
			break;
		pos += (size_t)k;
		assert_true(pos <= o->len);
	}
	b3cas_reader_close(r);
	assert_int_equal(pos, o->len);
	assert_memory_equal(buf, o->data, o->len);
	/* ranges: inside, across chunk and segment edges, the very end */
	for (int i = 0; i < 40; i++) {
		uint64_t off = cu_below(st, o->len + 2);
		size_t want = (size_t)cu_range(st, 0, i % 4 ? 9000 : 200000);

		if (b3cas_store_read_at(s, &o->id, off, buf, want, &n) != 0)
			fail_msg("read_at: %s", b3cas_error_last());
		if (off >= o->len) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, o->len - off < want ? o->len - off : want);
		assert_memory_equal(buf, o->data + off, n);
	}
	free(buf);
}

static void put_writer(b3cas_store *s, const obj *o, uint64_t *st)
{
	b3cas_writer *w;
	b3cas_oid id;

	assert_int_equal(b3cas_writer_open(&w, s), 0);
	for (size_t off = 0; off < o->len;) {
		size_t k = (size_t)cu_range(st, 1, 300000);

		if (k > o->len - off)
			k = o->len - off;
		assert_int_equal(b3cas_writer_write(w, o->data + off, k), 0);
		off += k;
	}
	if (b3cas_writer_commit(w, &id) < 0)
		fail_msg("commit: %s", b3cas_error_last());
	assert_true(b3cas_oid_equal(&id, &o->id));
}

/* ---- round trip, references, GC ------------------------------------- */

static void test_round_trip_and_refs(void **state)
{
	char dir[256];
	uint8_t *base[NBASE];
	size_t blen[NBASE];
	obj objs[12];
	unsigned nobj = 0;
	uint64_t st = seed, times[12] = {0};
	b3cas_store *s;
	model m = {0};

	(void)state;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunked"));
	s = open_store(dir, true);
	for (unsigned b = 0; b < NBASE; b++) {
		blen[b] = (size_t)cu_range(&st, CMAX + 1, BASE_MAX);
		base[b] = make_base(b, blen[b]);
	}
	/* each base, and three variants of each with 0..40 edits */
	for (unsigned b = 0; b < NBASE; b++)
		for (unsigned v = 0; v < 4; v++)
			objs[nobj++] = make_variant(base[b], blen[b],
						    seed + b * 16 + v,
						    v * 13);
	for (unsigned i = 0; i < nobj; i++) {
		b3cas_oid id;
		bool dup[2];
		const void *d[2] = {objs[i].data, objs[i].data};
		size_t l[2] = {objs[i].len, objs[i].len};
		b3cas_oid ids[2];

		switch (i % 3) {
		case 0:
			assert_true(b3cas_store_put(s, &id, objs[i].data,
						    objs[i].len) >= 0);
			assert_true(b3cas_oid_equal(&id, &objs[i].id));
			times[i] += 1;
			break;
		case 1:
			assert_int_equal(b3cas_store_put_batch(s, ids, dup, d,
							       l, 2),
					 0);
			assert_true(b3cas_oid_equal(&ids[0], &objs[i].id));
			assert_true(b3cas_oid_equal(&ids[1], &objs[i].id));
			assert_true(dup[1]);
			times[i] += 2;
			break;
		default:
			put_writer(s, &objs[i], &st);
			times[i] += 1;
			break;
		}
	}
	/* variant 0 of each base has no edits: it is the base, put twice */
	for (unsigned i = 0; i < nobj; i++) {
		uint64_t c = 0;

		check_reads(s, &objs[i], &st);
		assert_int_equal(b3cas_refcount(s, &objs[i].id, &c), 0);
		assert_int_equal(c, times[i]);
		model_add(&m, objs[i].data, objs[i].len, 1);
	}
	check_counts(s, &m);

	/* Reopen: the same, from disk. */
	assert_int_equal(b3cas_store_close(s), 0);
	s = open_store(dir, false);
	for (unsigned i = 0; i < nobj; i++)
		check_reads(s, &objs[i], &st);

	/* Drop every other object, collect, and check again. */
	m.n = 0;
	m.nn = 0;
	for (unsigned i = 0; i < nobj; i++) {
		if (i % 2) {
			for (uint64_t k = 0; k < times[i]; k++)
				assert_true(b3cas_store_delete(s,
							       &objs[i].id) >=
					    0);
			times[i] = 0;
		} else {
			model_add(&m, objs[i].data, objs[i].len, 1);
		}
	}
	gc_now(s);
	check_counts(s, &m);
	for (unsigned i = 0; i < nobj; i++) {
		uint64_t c;

		if (times[i])
			check_reads(s, &objs[i], &st);
		else
			assert_int_equal(b3cas_refcount(s, &objs[i].id, &c),
					 B3CAS_ENOTFOUND);
	}
	/* What the model does not hold is gone: entries = live + chunks;
	 * foreach lists the live objects alone. */
	assert_int_equal(entries_in(s), nobj / 2 + m.n);
	assert_int_equal(objects_in(s), nobj / 2);

	/* A deleted object put again (revived before GC) reads right. */
	assert_true(b3cas_store_delete(s, &objs[0].id) >= 0);
	assert_true(b3cas_store_put(s, NULL, objs[0].data, objs[0].len) >= 0);
	check_reads(s, &objs[0], &st);
	check_counts(s, &m);

	/* Empty the store: nothing may be left behind. */
	for (unsigned i = 0; i < nobj; i++)
		for (uint64_t k = 0; k < times[i]; k++)
			assert_true(b3cas_store_delete(s, &objs[i].id) >= 0);
	gc_now(s);
	assert_int_equal(entries_in(s), 0);
	assert_int_equal(b3cas_store_close(s), 0);

	for (unsigned i = 0; i < nobj; i++)
		free(objs[i].data);
	for (unsigned b = 0; b < NBASE; b++)
		free(base[b]);
	chunk_model_free(&m);
	cu_rm_rf(dir);
}

/* Zeros: one chunk, named by every manifest entry; and an object the
 * size of the largest chunk plus one. */
static void test_zeros_and_edges(void **state)
{
	char dir[256];
	size_t sizes[] = {CMAX + 1, 3 * CMAX, 1u << 20};
	b3cas_store *s;
	model m = {0};
	uint64_t st = seed;

	(void)state;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunked0"));
	s = open_store(dir, true);
	for (unsigned i = 0; i < 3; i++) {
		obj o;

		o.len = sizes[i];
		o.data = calloc(1, o.len);
		b3cas_hash(o.id.bytes, o.data, o.len);
		assert_true(b3cas_store_put(s, NULL, o.data, o.len) >= 0);
		check_reads(s, &o, &st);
		model_add(&m, o.data, o.len, 1);
		free(o.data);
	}
	/* larger than the writer's buffer: chunks stored as they come */
	{
		uint8_t *base = make_base(1, 6u << 20);
		obj o = make_variant(base, 6u << 20, seed + 5, 30);

		put_writer(s, &o, &st);
		put_writer(s, &o, &st); /* a duplicate: its chunks released */
		check_reads(s, &o, &st);
		model_add(&m, o.data, o.len, 1);
		free(o.data);
		free(base);
	}
	check_counts(s, &m);
	/* an object of exactly the largest chunk is stored whole */
	{
		uint8_t *d = cu_gen_alloc(seed, CMAX);
		b3cas_object_info info;
		b3cas_oid id;

		assert_true(b3cas_store_put(s, &id, d, CMAX) >= 0);
		assert_int_equal(b3cas_store_stat(s, &id, &info), 0);
		assert_int_equal(info.size, CMAX);
		free(d);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	chunk_model_free(&m);
	cu_rm_rf(dir);
}

/* ---- damage ---------------------------------------------------------- */

typedef struct raw {
	b3cas_index *ix;
} raw;

static void raw_open(raw *r, const char *dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/index", dir);
	if (b3cas__index_open(&r->ix, path, false, false, 0) != 0)
		fail_msg("raw open: %s", b3cas_error_last());
}

static void raw_put(raw *r, int cf, const uint8_t *k, size_t kl,
		    const uint8_t *v, size_t vl)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_put_cf(b, r->ix->cf[cf], (const char *)k, kl,
				  (const char *)v, vl);
	assert_int_equal(b3cas__index_write(r->ix, b, true), 0);
	rocksdb_writebatch_destroy(b);
}

/* The value of key in cf (malloc'd), or NULL. */
static uint8_t *raw_get(raw *r, int cf, const uint8_t *k, size_t kl,
			size_t *vl)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	uint8_t *out;

	if (b3cas__index_get(r->ix, cf, k, kl, &v) != 1)
		return NULL;
	p = rocksdb_pinnableslice_value(v, vl);
	out = malloc(*vl + 1);
	memcpy(out, p, *vl);
	rocksdb_pinnableslice_destroy(v);
	return out;
}

/* The key of node i of id's manifest: 'n' and the node's id, from the
 * top (entry header 9 bytes; top: version, 16-byte name, count; records
 * of start 8, chunks 4, node id 32, check 16). false: no node i. */
static bool raw_node_key(raw *r, const b3cas_oid *id, uint32_t i,
			 uint8_t *key, size_t *kl)
{
	size_t vl, at = 9 + 21 + (size_t)i * 60 + 12;
	uint8_t *v = raw_get(r, B3CAS_CF_CONTENT, id->bytes, B3CAS_OID_LEN,
			     &vl);

	if (!v || vl < at + 32 + 16 || v[0] != 4 || v[9] != 2) {
		free(v);
		return false;
	}
	key[0] = 'n';
	memcpy(key + 1, v + at, 32);
	*kl = 33;
	free(v);
	return true;
}

static bool raw_seg_key(raw *r, const b3cas_oid *id, uint8_t *key,
			size_t *kl)
{
	return raw_node_key(r, id, 0, key, kl);
}

/* Reads of o fail as corrupt, and return no bytes. */
static void expect_corrupt(const char *dir, const obj *o, const char *what)
{
	b3cas_store *s = open_store(dir, false);
	void *got = NULL;
	size_t len = 0, n = 77;
	uint8_t *buf = malloc(o->len);
	b3cas_reader *r;
	int rc;

	rc = b3cas_store_get(s, &o->id, &got, &len);
	if (rc != B3CAS_ECORRUPT)
		fail_msg("%s: get gave %d (%s)", what, rc, b3cas_error_last());
	assert_null(got);
	/* the whole range, so the damaged part is in it */
	assert_int_equal(b3cas_store_read_at(s, &o->id, 0, buf, o->len, &n),
			 B3CAS_ECORRUPT);
	rc = b3cas_reader_open(&r, s, &o->id);
	if (rc == 0) {
		int64_t k;

		while ((k = b3cas_reader_read(r, buf, o->len)) > 0)
			;
		assert_int_equal(k, B3CAS_ECORRUPT);
		b3cas_reader_close(r);
	} else {
		assert_int_equal(rc, B3CAS_ECORRUPT);
	}
	free(buf);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * A top of more than 512 nodes keeps its records in pages ('t' gen page,
 * docs/chunked-objects.md) and only their starts in the entry: 14 MiB of
 * noise at 256-byte chunks is about 800 nodes, two pages (10 MiB gave 526
 * to 620 over 11 seeds; the content seed is kept off cu_gen's zeros and
 * short patterns, which cut into 1024-chunk nodes, about 10 of them). Written by a buffer put
 * and, with a few edits, by the streaming writer (which shares most
 * nodes); read back whole, streamed and by ranges, and across the page
 * edge; fsck finds nothing; a missing second page fails ranges in it as
 * corrupt and not those in the first; deleted and collected, nothing is
 * left in the meta family.
 */
static void test_paged_top(void **state)
{
	enum { LEN = 14u << 20, SMALL = 256 };
	char dir[256];
	uint8_t *base = cu_gen_alloc((seed + 99) | 2, LEN), key[21], *v, *page;
	obj a = {base, LEN, {{0}}},
	    b = make_variant(base, LEN, seed + 5, 6);
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	uint64_t st = seed, nseg, p1;
	uint8_t buf[4096];
	size_t vl, pl, n;
	b3cas_store *s = NULL;
	raw r;

	(void)state;
	b3cas_hash(a.id.bytes, a.data, a.len);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedp"));
	o.create = true;
	o.chunking = B3CAS_CHUNKING_ON;
	o.chunk_avg = SMALL;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	assert_int_equal(b3cas_store_put(s, NULL, a.data, a.len), 0);
	put_writer(s, &b, &st);
	/* b (the writer's) every way; a whole (a range read of it below) */
	check_reads(s, &b, &st);
	{
		void *got = NULL;
		size_t len = 0;

		assert_int_equal(b3cas_store_get(s, &a.id, &got, &len), 0);
		assert_int_equal(len, a.len);
		assert_memory_equal(got, a.data, a.len);
		free(got);
	}
	{
		/* nodes named from pages count as from inline records */
		b3cas_fsck_report rep;

		assert_int_equal(b3cas_fsck(s, NULL, &rep), 0);
		assert_int_equal(rep.problems, 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);

	/* the entry: a paged top (version 3), its records in two pages */
	raw_open(&r, dir);
	v = raw_get(&r, B3CAS_CF_CONTENT, a.id.bytes, B3CAS_OID_LEN, &vl);
	assert_non_null(v);
	assert_int_equal(v[0], 4);
	assert_int_equal(v[9], 3);
	nseg = (uint64_t)v[26] << 24 | (uint64_t)v[27] << 16 |
	       (uint64_t)v[28] << 8 | v[29];
	assert_true(nseg > 512 && nseg <= 1024);
	assert_int_equal(vl, 9 + 25 + 2 * 8);
	memcpy(&p1, v + 9 + 25 + 8, 8); /* page 1's start, LE */
	key[0] = 't';
	memcpy(key + 1, v + 10, 16);
	memset(key + 17, 0, 4);
	key[20] = 1;
	page = raw_get(&r, B3CAS_CF_META, key, sizeof(key), &pl);
	assert_non_null(page);
	assert_int_equal(pl, (nseg - 512) * 60);
	{
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();

		rocksdb_writebatch_delete_cf(wb, r.ix->cf[B3CAS_CF_META],
					     (const char *)key, sizeof(key));
		assert_int_equal(b3cas__index_write(r.ix, wb, true), 0);
		rocksdb_writebatch_destroy(wb);
	}
	b3cas__index_close(r.ix);
	o.create = false;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	assert_int_equal(b3cas_store_read_at(s, &a.id, 4096, buf, 4096, &n),
			 0);
	assert_memory_equal(buf, a.data + 4096, 4096);
	assert_int_equal(b3cas_store_read_at(s, &a.id, le64toh(p1) + 100, buf,
					     4096, &n),
			 B3CAS_ECORRUPT);
	assert_int_equal(b3cas_store_close(s), 0);
	raw_open(&r, dir);
	raw_put(&r, B3CAS_CF_META, key, sizeof(key), page, pl);
	b3cas__index_close(r.ix);

	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	/* across the pages' edge, the page back */
	assert_int_equal(b3cas_store_read_at(s, &a.id, le64toh(p1) - 100, buf,
					     4096, &n),
			 0);
	assert_int_equal(n, 4096);
	assert_memory_equal(buf, a.data + le64toh(p1) - 100, 4096);
	assert_int_equal(b3cas_store_delete(s, &a.id), 0);
	assert_int_equal(b3cas_store_delete(s, &b.id), 0);
	gc_now(s);
	assert_int_equal(entries_in(s), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	raw_open(&r, dir);
	assert_int_equal(tu_meta_keys(r.ix), 0);
	b3cas__index_close(r.ix);
	free(v);
	free(page);
	free(base);
	free(b.data);
}

static void damage(void);

static void test_damage(void **state)
{
	(void)state;
	damage();
}

/* The same with a zstd frame per chunk (kind 3 entries). */
static void test_damage_frames(void **state)
{
	(void)state;
	packing = B3CAS_PACKING_OFF;
	damage();
	packing = B3CAS_PACKING_DEFAULT;
}

static void damage(void)
{
	char dir[256];
	uint8_t *base = make_base(0, 200000);
	obj a = make_variant(base, 200000, 1, 0), b = make_variant(base, 200000, 2, 5);
	uint8_t ka[128], kb[128], *v, *w;
	size_t kal, kbl, vl, wl;
	const obj *t = &a;
	b3cas_store *s;
	raw r;

	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedx"));
	s = open_store(dir, true);
	assert_true(b3cas_store_put(s, NULL, a.data, a.len) >= 0);
	assert_true(b3cas_store_put(s, NULL, b.data, b.len) >= 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* 1. a byte of a segment */
	raw_open(&r, dir);
	assert_true(raw_seg_key(&r, &a.id, ka, &kal));
	/* a node of b's that a does not share with b's first */
	for (uint32_t i = 0;; i++) {
		assert_true(raw_node_key(&r, &b.id, i, kb, &kbl));
		if (memcmp(ka, kb, kal) != 0)
			break;
	}
	v = raw_get(&r, B3CAS_CF_META, ka, kal, &vl);
	assert_non_null(v);
	v[vl / 2] ^= 0x40;
	raw_put(&r, B3CAS_CF_META, ka, kal, v, vl);
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &a, "segment byte");

	/* 2. b's first segment under a's key (a well-formed wrong list) */
	raw_open(&r, dir);
	w = raw_get(&r, B3CAS_CF_META, kb, kbl, &wl);
	assert_non_null(w);
	raw_put(&r, B3CAS_CF_META, ka, kal, w, wl);
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &a, "swapped segment");
	v[vl / 2] ^= 0x40; /* a's own segment back */
	raw_open(&r, dir);
	raw_put(&r, B3CAS_CF_META, ka, kal, v, vl);
	b3cas__index_close(r.ix);
	{
		uint64_t st = seed;

		s = open_store(dir, false);
		check_reads(s, &a, &st); /* sound again */
		assert_int_equal(b3cas_store_close(s), 0);
	}

	/* 3. the top: a segment's start offset */
	raw_open(&r, dir);
	free(w);
	w = raw_get(&r, B3CAS_CF_CONTENT, a.id.bytes, B3CAS_OID_LEN, &wl);
	assert_non_null(w);
	assert_int_equal(w[0], 4); /* a chunked entry */
	{
		uint8_t *x = malloc(wl);

		memcpy(x, w, wl);
		x[wl - 1] ^= 1; /* the last segment's check */
		raw_put(&r, B3CAS_CF_CONTENT, a.id.bytes, B3CAS_OID_LEN, x,
			wl);
		free(x);
	}
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &a, "top");
	raw_open(&r, dir);
	raw_put(&r, B3CAS_CF_CONTENT, a.id.bytes, B3CAS_OID_LEN, w, wl);
	b3cas__index_close(r.ix);

	/* 4. a chunk's bytes: the first chunk that is not zeros of a (of
	 * b when the seed made a all zeros; in a packed store, its bytes in
	 * the data family; a chunk of zeros is read as zeros by its id once
	 * a read checked one: test_image_reads) */
	raw_open(&r, dir);
	{
		uint8_t *c, *d, cid[B3CAS_OID_LEN], dk[16];
		size_t cl, dl;
		b3cas_oid cz;
		uint32_t czl;

		if (!chunk_of(t, false, &cz, &czl)) {
			t = &b;
			assert_true(chunk_of(t, false, &cz, &czl));
		}
		memcpy(cid, cz.bytes, B3CAS_OID_LEN);
		c = raw_get(&r, B3CAS_CF_CONTENT, cid, B3CAS_OID_LEN, &cl);
		assert_non_null(c);
		if (packing == B3CAS_PACKING_OFF)
			assert_true(c[0] == 1 || c[0] == 3);
		else
			assert_int_equal(c[0], 5);
		if (c[0] == 5) {
			assert_int_equal(cl, 9 + 8);
			memcpy(dk, c + 9, 8);
			memcpy(dk + 8, cid, 8);
			d = raw_get(&r, B3CAS_CF_DATA, dk, sizeof(dk), &dl);
			assert_non_null(d);
			d[dl / 2] ^= 0x10;
			raw_put(&r, B3CAS_CF_DATA, dk, sizeof(dk), d, dl);
			free(d);
		} else {
			c[cl - 1] ^= 0x10;
			raw_put(&r, B3CAS_CF_CONTENT, cid, B3CAS_OID_LEN, c,
				cl);
		}
		free(c);
	}
	b3cas__index_close(r.ix);
	expect_corrupt(dir, t, "chunk");

	free(v);
	free(w);
	free(a.data);
	free(b.data);
	free(base);
	cu_rm_rf(dir);
}

/*
 * Packed stores (store/pack.h): an entry names its bytes by a sequence
 * number, and the data key adds 8 bytes of the id. The bytes gone, or an
 * entry whose number was changed to another object's, are corruption of
 * that object alone: reads fail, fsck finds it, and removing the damaged
 * object (delete, GC) never takes the other object's bytes.
 */
static b3cas_fsck_report fsck_of(const char *dir);

static void test_packed_damage(void **state)
{
	char dir[256];
	uint8_t *base = make_base(2, 100000);
	obj a = make_variant(base, 100000, 7, 3), z, y;
	uint8_t *za, *ya, *d, dk[16], seg[64], *v;
	size_t zl, yl, dl, kl, vl;
	b3cas_store *s;
	uint64_t st = seed;
	raw r;

	(void)state;
	z.len = 3000;
	z.data = za = malloc(z.len);
	y.len = 3500;
	y.data = ya = malloc(y.len);
	for (size_t i = 0; i < z.len; i++)
		za[i] = (uint8_t)("packed "[i % 7] + (i / 97) % 3);
	for (size_t i = 0; i < y.len; i++)
		ya[i] = (uint8_t)tu_rand(&st);
	b3cas_hash(z.id.bytes, z.data, z.len);
	b3cas_hash(y.id.bytes, y.data, y.len);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "packed"));
	s = open_store(dir, true);
	{
		b3cas_store_info info;

		b3cas_store_info_get(&info, s);
		assert_true(info.packed);
	}
	assert_true(b3cas_store_put(s, NULL, a.data, a.len) >= 0);
	assert_true(b3cas_store_put(s, NULL, z.data, z.len) >= 0);
	assert_true(b3cas_store_put(s, NULL, y.data, y.len) >= 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* 1. z's bytes gone from the data family */
	raw_open(&r, dir);
	v = raw_get(&r, B3CAS_CF_CONTENT, z.id.bytes, B3CAS_OID_LEN, &zl);
	assert_non_null(v);
	assert_int_equal(v[0], 5);
	assert_int_equal(zl, 9 + 8);
	memcpy(dk, v + 9, 8);
	memcpy(dk + 8, z.id.bytes, 8);
	free(v);
	d = raw_get(&r, B3CAS_CF_DATA, dk, sizeof(dk), &dl);
	assert_non_null(d);
	assert_int_equal(dl, z.len);
	assert_memory_equal(d, z.data, z.len);
	{
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		rocksdb_writebatch_delete_cf(b, r.ix->cf[B3CAS_CF_DATA],
					     (const char *)dk, sizeof(dk));
		assert_int_equal(b3cas__index_write(r.ix, b, true), 0);
		rocksdb_writebatch_destroy(b);
	}
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &z, "packed bytes gone");
	assert_int_equal(fsck_of(dir).corrupt, 1);
	raw_open(&r, dir);
	raw_put(&r, B3CAS_CF_DATA, dk, sizeof(dk), d, dl);
	b3cas__index_close(r.ix);
	assert_int_equal(fsck_of(dir).problems, 0);

	/* 2. z's entry names y's sequence number: the key has z's id in
	 * it, so it reaches nothing of y's */
	raw_open(&r, dir);
	v = raw_get(&r, B3CAS_CF_CONTENT, y.id.bytes, B3CAS_OID_LEN, &yl);
	assert_non_null(v);
	assert_int_equal(v[0], 5);
	{
		uint8_t *w = raw_get(&r, B3CAS_CF_CONTENT, z.id.bytes,
				     B3CAS_OID_LEN, &zl);

		assert_non_null(w);
		memcpy(w + 9, v + 9, 8);
		raw_put(&r, B3CAS_CF_CONTENT, z.id.bytes, B3CAS_OID_LEN, w,
			zl);
		free(w);
	}
	free(v);
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &z, "another object's number");
	assert_int_equal(fsck_of(dir).corrupt, 1);
	/* deleting and collecting z leaves y (and a) whole */
	s = open_store(dir, false);
	assert_int_equal(b3cas_store_delete(s, &z.id), 0);
	assert_int_equal(cu_gc_all(s), 0);
	check_reads(s, &y, &st);
	check_reads(s, &a, &st);
	assert_int_equal(b3cas_store_close(s), 0);
	/* z's own bytes stayed: no entry names them now. fsck finds them,
	 * and its repair deletes them (and nothing else) */
	{
		b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
		b3cas_fsck_report rep = fsck_of(dir);

		assert_int_equal(rep.orphans, 1);
		assert_int_equal(rep.problems, 1);
		fo.repair = true;
		s = open_store(dir, false);
		assert_int_equal(b3cas_fsck(s, &fo, &rep), 0);
		assert_int_equal(rep.orphans, 1);
		assert_int_equal(rep.removed, 1);
		check_reads(s, &y, &st);
		check_reads(s, &a, &st);
		assert_int_equal(b3cas_store_close(s), 0);
		rep = fsck_of(dir);
		assert_int_equal(rep.problems, 0);
		raw_open(&r, dir);
		/* z's key, gone */
		assert_null(raw_get(&r, B3CAS_CF_DATA, dk, sizeof(dk), &vl));
		b3cas__index_close(r.ix);
	}

	/* 3. a chunk of a that is not zeros (test_damage), its bytes
	 * flipped in the data family */
	raw_open(&r, dir);
	assert_true(raw_seg_key(&r, &a.id, seg, &kl));
	v = raw_get(&r, B3CAS_CF_META, seg, kl, &vl);
	assert_non_null(v);
	{
		b3cas_oid cz;
		uint32_t czl;
		uint8_t *c;

		assert_true(chunk_of(&a, false, &cz, &czl));
		c = raw_get(&r, B3CAS_CF_CONTENT, cz.bytes, B3CAS_OID_LEN, &zl);
		assert_non_null(c);
		assert_int_equal(c[0], 5);
		memcpy(dk, c + 9, 8);
		memcpy(dk + 8, cz.bytes, 8);
		free(c);
	}
	free(d);
	d = raw_get(&r, B3CAS_CF_DATA, dk, sizeof(dk), &dl);
	assert_non_null(d);
	d[0] ^= 1;
	raw_put(&r, B3CAS_CF_DATA, dk, sizeof(dk), d, dl);
	b3cas__index_close(r.ix);
	expect_corrupt(dir, &a, "packed chunk");
	assert_true(fsck_of(dir).corrupt >= 1);
	d[0] ^= 1;
	raw_open(&r, dir);
	raw_put(&r, B3CAS_CF_DATA, dk, sizeof(dk), d, dl);

	/* 4. keys b3cas never makes, sorting after every other: the store
	 * still opens and numbers new bytes as before; fsck reports both
	 * (no entry names them) and its repair deletes them */
	{
		uint8_t odd[20], high[16];
		b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
		b3cas_fsck_report rep;

		memset(odd, 0xff, sizeof(odd));
		memset(high, 0xfe, sizeof(high));
		raw_put(&r, B3CAS_CF_DATA, odd, sizeof(odd), za, 10);
		raw_put(&r, B3CAS_CF_DATA, high, sizeof(high), za, 20);
		b3cas__index_close(r.ix);
		s = open_store(dir, false);
		assert_int_equal(b3cas_store_put(s, NULL, z.data, z.len), 0);
		check_reads(s, &z, &st);
		check_reads(s, &a, &st);
		assert_int_equal(b3cas_store_close(s), 0);
		rep = fsck_of(dir);
		assert_int_equal(rep.orphans, 2);
		assert_int_equal(rep.problems, 2);
		fo.repair = true;
		s = open_store(dir, false);
		assert_int_equal(b3cas_fsck(s, &fo, &rep), 0);
		assert_int_equal(rep.removed, 2);
		assert_int_equal(b3cas_store_close(s), 0);
		assert_int_equal(fsck_of(dir).problems, 0);
		raw_open(&r, dir);
		assert_null(raw_get(&r, B3CAS_CF_DATA, high, sizeof(high),
				    &vl));
		/* z's new bytes were numbered after the last good key */
		free(v);
		v = raw_get(&r, B3CAS_CF_CONTENT, z.id.bytes, B3CAS_OID_LEN,
			    &vl);
		assert_non_null(v);
		assert_int_equal(vl, 17);
		assert_int_equal(v[9], 0);
		assert_int_equal(v[10], 0);
		b3cas__index_close(r.ix);
		s = open_store(dir, false);
		check_reads(s, &z, &st);
		assert_int_equal(b3cas_store_close(s), 0);
	}

	free(v);
	free(d);
	free(a.data);
	free(za);
	free(ya);
	free(base);
	cu_rm_rf(dir);
}

/* ---- fsck and healing from a mirror --------------------------------- */

static b3cas_fsck_report fsck_of(const char *dir)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	b3cas_store *s = open_store(dir, false);

	memset(&rep, 0, sizeof(rep));
	assert_int_equal(b3cas_fsck(s, &fo, &rep), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	return rep;
}

/* ---- images: zero chunks and runs repeated from far back ------------ */

/*
 * A memory image's shape: pages of compressible noise, runs of zero
 * pages, and runs of pages repeated from far back (at page offsets and
 * shifted by a few bytes), so that a read meets chunks of zeros (written
 * without a lookup once this thread has checked one) and detours from
 * the data family's order (taken by the cursor's second place).
 */
#define IMG_PAGE 4096u

static obj make_image(uint64_t s0, size_t pages)
{
	uint64_t st = s0 * 0x9E3779B97F4A7C15ull + 3;
	obj o;

	o.len = pages * IMG_PAGE;
	o.data = malloc(o.len);
	for (size_t p = 0; p < pages;) {
		size_t run = (size_t)cu_range(&st, 1, 24), at = p * IMG_PAGE;

		if (run > pages - p)
			run = pages - p;
		switch (p < 64 ? 0 : cu_below(&st, 4)) {
		case 0: /* new pages, text-like */
			for (size_t i = 0; i < run * IMG_PAGE; i++)
				o.data[at + i] =
					(uint8_t)('a' + tu_rand(&st) % 11);
			break;
		case 1: /* zeros */
			memset(o.data + at, 0, run * IMG_PAGE);
			break;
		default: { /* a run from far back, maybe shifted */
			size_t from = (size_t)cu_below(&st, p / 2) * IMG_PAGE +
				      (cu_below(&st, 2) ? 0 : cu_below(&st, 9));

			if (run > p / 2)
				run = p / 2;
			memmove(o.data + at, o.data + from, run * IMG_PAGE);
			break;
		}
		}
		p += run;
	}
	b3cas_hash(o.id.bytes, o.data, o.len);
	return o;
}

/*
 * Damage chunk c's stored bytes in dir: a packed chunk's (kind 5) in the
 * data family, overwritten with fill, or (fill < 0) its first byte
 * flipped; a chunk kept in its entry (a tiny frame: zeros compress to
 * one), only with fill < 0, the entry's last byte flipped (in its
 * frame). What was there is kept in *d, for chunk_bytes_back.
 */
typedef struct damaged {
	int cf;
	uint8_t key[B3CAS_OID_LEN];
	size_t klen;
	uint8_t *old;
	size_t olen;
} damaged;

static void chunk_bytes_set(const char *dir, const b3cas_oid *c, int fill,
			    damaged *d)
{
	size_t vl;
	uint8_t *v, *nv;
	raw r;

	raw_open(&r, dir);
	v = raw_get(&r, B3CAS_CF_CONTENT, c->bytes, B3CAS_OID_LEN, &vl);
	assert_non_null(v);
	if (v[0] == 5) {
		d->cf = B3CAS_CF_DATA;
		memcpy(d->key, v + 9, 8);
		memcpy(d->key + 8, c->bytes, 8);
		d->klen = 16;
	} else {
		if (fill >= 0)
			fail_msg("chunk kind %u, not packed", v[0]);
		d->cf = B3CAS_CF_CONTENT;
		memcpy(d->key, c->bytes, B3CAS_OID_LEN);
		d->klen = B3CAS_OID_LEN;
	}
	free(v);
	d->old = raw_get(&r, d->cf, d->key, d->klen, &d->olen);
	assert_non_null(d->old);
	nv = malloc(d->olen);
	memcpy(nv, d->old, d->olen);
	if (fill >= 0)
		memset(nv, fill, d->olen);
	else if (d->cf == B3CAS_CF_DATA)
		nv[0] ^= 1;
	else
		nv[d->olen - 1] ^= 1;
	raw_put(&r, d->cf, d->key, d->klen, nv, d->olen);
	free(nv);
	b3cas__index_close(r.ix);
}

static void chunk_bytes_back(const char *dir, damaged *d)
{
	raw r;

	raw_open(&r, dir);
	raw_put(&r, d->cf, d->key, d->klen, d->old, d->olen);
	b3cas__index_close(r.ix);
	free(d->old);
}

typedef struct read_job {
	const char *dir;
	const obj *o;
	bool verify;
	int rc;       /* the whole get's */
	bool exact;   /* it gave o's bytes */
	const char *then_dir; /* then this store (verifying), on the same thread */
	const obj *then_o;
	bool then_exact;
} read_job;

static void read_once(const char *dir, const obj *o, bool verify, int *rc,
		      bool *exact)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	void *got = NULL;
	size_t len = 0;

	so.verify_on_read = verify;
	so.compression_level = 3;
	assert_int_equal(b3cas_store_open(&s, dir, &so), 0);
	*rc = b3cas_store_get(s, &o->id, &got, &len);
	*exact = *rc == 0 && len == o->len &&
		 memcmp(got, o->data, o->len) == 0;
	free(got);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* One read of job->o on a thread of its own: nothing learnt before. */
static void *read_thread(void *arg)
{
	read_job *j = arg;

	read_once(j->dir, j->o, j->verify, &j->rc, &j->exact);
	if (j->then_dir) {
		int rc;

		read_once(j->then_dir, j->then_o, true, &rc, &j->then_exact);
		j->then_exact = j->then_exact && rc == 0;
	}
	return NULL;
}

static read_job read_in_thread(read_job j)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, read_thread, &j), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return j;
}

static void test_image_reads(void **state)
{
	char dir[256], dir2[256];
	obj a = make_image(seed, 768), b;
	b3cas_oid zid, nid;
	uint32_t zlen, nlen;
	damaged zd, nd;
	b3cas_store *s;
	uint64_t st = seed;
	read_job j;

	(void)state;
	/* b: a with a few pages changed and bytes inserted, as the next
	 * checkpoint's image: its reads follow a's data and b's new bytes */
	b = make_variant(a.data, a.len, seed + 11, 12);
	assert_true(chunk_of(&a, true, &zid, &zlen));
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedimg"));
	s = open_store(dir, true);
	assert_int_equal(b3cas_store_put(s, NULL, a.data, a.len), 0);
	put_writer(s, &b, &st);
	check_reads(s, &a, &st);
	check_reads(s, &b, &st);
	assert_int_equal(b3cas_store_close(s), 0);

	/* 1. the zero chunk's stored bytes damaged: a thread that has not
	 * checked a chunk of zeros of its length reads them and fails */
	chunk_bytes_set(dir, &zid, -1, &zd);
	j = (read_job){dir, &a, true, 0, false, NULL, NULL, false};
	j = read_in_thread(j);
	assert_int_equal(j.rc, B3CAS_ECORRUPT);
	/* ... and one that has, from another store, gives zeros, the
	 * chunk's bytes by its id (fsck still finds the damage) */
	assert_true(cu_mkdtemp(dir2, sizeof(dir2), "chunkedimg2"));
	s = open_store(dir2, true);
	assert_int_equal(b3cas_store_put(s, NULL, a.data, a.len), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	j = (read_job){dir2, &a, true, 0, false, dir, &a, false};
	j = read_in_thread(j);
	assert_int_equal(j.rc, 0);
	assert_true(j.exact);
	assert_true(j.then_exact);
	/* fsck reads every chunk, on this thread too (it read a whole):
	 * the chunk and the objects naming it (a at least) */
	assert_true(fsck_of(dir).corrupt >= 2);
	chunk_bytes_back(dir, &zd);

	/* 2. a store that does not check what it reads teaches nothing: a
	 * chunk of text whose stored bytes were made zeros of its length
	 * is read as such there, and then read right (checked) from a
	 * healthy store on the same thread */
	assert_true(chunk_of(&a, false, &nid, &nlen));
	chunk_bytes_set(dir2, &nid, 0, &nd);
	j = (read_job){dir2, &a, false, 0, false, dir, &a, false};
	j = read_in_thread(j);
	assert_int_equal(j.rc, 0);
	assert_false(j.exact); /* unchecked: the damage read as it is */
	assert_true(j.then_exact);
	chunk_bytes_back(dir2, &nd);
	assert_int_equal(fsck_of(dir).problems, 0);
	assert_int_equal(fsck_of(dir2).problems, 0);
	cu_rm_rf(dir);
	cu_rm_rf(dir2);
	free(a.data);
	free(b.data);
}

static void test_fsck_and_heal(void **state)
{
	char dir[256], mirror[300];
	uint8_t *base = make_base(1, 300000);
	obj a = make_variant(base, 300000, 3, 4);
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_fsck_report rep;
	b3cas_store *s;
	uint8_t key[64];
	size_t kl, vl;
	uint8_t *v;
	raw r;

	(void)state;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedf"));
	snprintf(mirror, sizeof(mirror), "%s.mirror", dir);
	s = open_store(dir, true);
	assert_true(b3cas_store_put(s, NULL, a.data, a.len) >= 0);
	/* a copy of everything: the mirror */
	assert_int_equal(b3cas_backup(s, mirror, NULL, NULL), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	rep = fsck_of(dir);
	assert_int_equal(rep.problems, 0);
	assert_true(rep.bytes >= a.len); /* the chunked object hashed whole */

	/* a chunk's bytes damaged: fsck finds the object (and the chunk) */
	raw_open(&r, dir);
	assert_true(raw_seg_key(&r, &a.id, key, &kl));
	v = raw_get(&r, B3CAS_CF_META, key, kl, &vl);
	assert_non_null(v);
	{
		uint8_t *c;
		size_t cl;

		c = raw_get(&r, B3CAS_CF_CONTENT, v, B3CAS_OID_LEN, &cl);
		assert_non_null(c);
		if (c[0] == 5) { /* packed: its bytes in the data family */
			uint8_t dk[16], *d;
			size_t dl;

			memcpy(dk, c + 9, 8);
			memcpy(dk + 8, v, 8);
			d = raw_get(&r, B3CAS_CF_DATA, dk, sizeof(dk), &dl);
			assert_non_null(d);
			d[dl - 1] ^= 0x22;
			raw_put(&r, B3CAS_CF_DATA, dk, sizeof(dk), d, dl);
			free(d);
		} else {
			c[cl - 1] ^= 0x22;
			raw_put(&r, B3CAS_CF_CONTENT, v, B3CAS_OID_LEN, c,
				cl);
		}
		free(c);
	}
	b3cas__index_close(r.ix);
	rep = fsck_of(dir);
	assert_true(rep.corrupt >= 2);

	/* a read through a handle with the mirror heals the chunk */
	o.mirror_dir = mirror;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	{
		void *got = NULL;
		size_t len = 0;

		if (b3cas_store_get(s, &a.id, &got, &len) != 0)
			fail_msg("healing get: %s", b3cas_error_last());
		assert_int_equal(len, a.len);
		assert_memory_equal(got, a.data, a.len);
		free(got);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	rep = fsck_of(dir);
	assert_int_equal(rep.problems, 0);

	/* a segment missing: the manifest names chunks it cannot reach */
	raw_open(&r, dir);
	{
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		rocksdb_writebatch_delete_cf(b, r.ix->cf[B3CAS_CF_META],
					     (const char *)key, kl);
		assert_int_equal(b3cas__index_write(r.ix, b, true), 0);
		rocksdb_writebatch_destroy(b);
	}
	b3cas__index_close(r.ix);
	rep = fsck_of(dir);
	assert_int_equal(rep.corrupt, 1);
	expect_corrupt(dir, &a, "missing segment");

	free(v);
	free(a.data);
	free(base);
	cu_rm_rf(dir);
	cu_rm_rf(mirror);
}

/* ---- crashes --------------------------------------------------------- */

/* Object k of the crash writer: a variant of one of three bases. */
static obj crash_obj(uint8_t *const *base, unsigned k)
{
	return make_variant(base[k % 3], BASE_MAX, seed + 1000 + k, k % 7);
}

static void crash_child(const char *dir, uint8_t *const *base, int fd)
{
	b3cas_store *s = open_store(dir, false);

	for (unsigned k = 0;; k++) {
		obj o = crash_obj(base, k);
		unsigned char tag = (unsigned char)k;

		if (b3cas_store_put(s, NULL, o.data, o.len) < 0)
			_exit(3);
		free(o.data);
		/* and some deletes, to leave candidates: k acknowledged
		 * means its put and this delete of k - 1 are done */
		if (k % 5 == 4) {
			obj d = crash_obj(base, k - 1);

			if (b3cas_store_delete(s, &d.id) < 0)
				_exit(5);
			free(d.data);
		}
		if (write(fd, &tag, 1) != 1)
			_exit(4);
	}
}

/* The counts the acknowledged puts and deletes of the crash writer give
 * (an id may repeat: variants without edits are their base), within what
 * the operation cut short may have done; then every reference dropped. */
static void check_crash_store(b3cas_store *s, uint8_t *const *base,
			      unsigned acked, unsigned round)
{
	unsigned n = acked + 1;
	b3cas_oid *ids = calloc(n, sizeof(*ids));
	uint64_t *lo = calloc(n, sizeof(*lo)), *hi = calloc(n, sizeof(*hi));
	obj *objs = calloc(n, sizeof(*objs));
	unsigned distinct = 0;

	for (unsigned k = 0; k <= acked; k++) {
		unsigned at;

		objs[k] = crash_obj(base, k);
		for (at = 0; at < distinct; at++)
			if (b3cas_oid_equal(&ids[at], &objs[k].id))
				break;
		if (at == distinct)
			ids[distinct++] = objs[k].id;
		/* put k: done if acknowledged; the one after may be */
		if (k < acked)
			lo[at]++;
		hi[at]++;
	}
	for (unsigned k = 0; k + 1 <= acked; k++) {
		unsigned at;

		if (k % 5 != 3)
			continue;
		for (at = 0; !b3cas_oid_equal(&ids[at], &objs[k].id); at++)
			;
		/* deleted with k + 1's acknowledgement, or maybe */
		if (k + 1 < acked)
			hi[at]--;
		if (lo[at] > 0)
			lo[at]--;
	}
	for (unsigned at = 0; at < distinct; at++) {
		uint64_t c = 0;
		int rc = b3cas_refcount(s, &ids[at], &c);

		if (rc == B3CAS_ENOTFOUND)
			c = 0;
		else if (rc != 0)
			fail_msg("round %u: %s", round, b3cas_error_last());
		if (c < lo[at] || c > hi[at])
			fail_msg("round %u: count %llu outside %llu..%llu",
				 round, (unsigned long long)c,
				 (unsigned long long)lo[at],
				 (unsigned long long)hi[at]);
		if (c > 0) {
			for (unsigned k = 0; k <= acked; k++) {
				void *d = NULL;
				size_t len = 0;

				if (!b3cas_oid_equal(&objs[k].id, &ids[at]))
					continue;
				if (b3cas_store_get(s, &ids[at], &d, &len) != 0)
					fail_msg("round %u: %s", round,
						 b3cas_error_last());
				assert_int_equal(len, objs[k].len);
				assert_memory_equal(d, objs[k].data, len);
				free(d);
				break;
			}
		}
		while (c--)
			assert_true(b3cas_store_delete(s, &ids[at]) >= 0);
	}
	for (unsigned k = 0; k <= acked; k++)
		free(objs[k].data);
	free(objs);
	free(ids);
	free(lo);
	free(hi);
}

static void test_crash(void **state)
{
	/* the campaign (B3CAS_TEST_LONG=1) runs 200 */
	unsigned rounds = (unsigned)cu_env_num(
		"B3CAS_CHUNK_CRASHES", getenv("B3CAS_TEST_LONG") ? 200 : 12);
	uint8_t *base[3];
	uint64_t st = seed;
	char dir[256];

	(void)state;
	for (unsigned b = 0; b < 3; b++)
		base[b] = make_base(b, BASE_MAX);
	for (unsigned round = 0; round < rounds; round++) {
		unsigned char tags[4096];
		ssize_t got, acked = 0;
		int fds[2];
		pid_t pid;
		b3cas_store *s;

		assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedc"));
		s = open_store(dir, true);
		assert_int_equal(b3cas_store_close(s), 0);
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			crash_child(dir, base, fds[1]);
			_exit(0);
		}
		close(fds[1]);
		usleep((useconds_t)cu_range(&st, 20000, 400000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		while ((got = read(fds[0], tags + acked,
				   sizeof(tags) - (size_t)acked)) > 0)
			acked += got;
		close(fds[0]);

		/* Reopen: leftovers released; every acknowledged object. */
		s = open_store(dir, false);
		gc_now(s);
		check_crash_store(s, base, (unsigned)acked, round);
		gc_now(s);
		if (entries_in(s) != 0)
			fail_msg("round %u: %llu entries left after all were "
				 "deleted", round,
				 (unsigned long long)entries_in(s));
		assert_int_equal(b3cas_store_close(s), 0);
		cu_rm_rf(dir);
	}
	for (unsigned b = 0; b < 3; b++)
		free(base[b]);
}

/* ---- threads --------------------------------------------------------- */

#define THREADS 6
#define POOL 6

typedef struct shared {
	b3cas_store *s;
	obj pool[POOL];
	atomic_bool stop;
} shared;

typedef struct worker {
	shared *sh;
	uint64_t st;
	uint64_t held[POOL]; /* references this thread holds */
	int failed;
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;

	for (int i = 0; i < 60 && !w->failed; i++) {
		unsigned k = (unsigned)cu_below(&w->st, POOL);
		obj *o = &w->sh->pool[k];

		if (w->held[k] && cu_chance(&w->st, 1, 2)) {
			if (b3cas_store_delete(w->sh->s, &o->id) < 0)
				w->failed = 1;
			else
				w->held[k]--;
		} else if (b3cas_store_put(w->sh->s, NULL, o->data, o->len) <
			   0) {
			w->failed = 2;
		} else {
			w->held[k]++;
		}
	}
	return NULL;
}

static void *collector_main(void *arg)
{
	shared *sh = arg;

	while (!atomic_load(&sh->stop))
		gc_now(sh->s);
	return NULL;
}

static void test_threads(void **state)
{
	uint8_t *base = make_base(2, BASE_MAX);
	worker w[THREADS];
	pthread_t t[THREADS], gct[2];
	shared sh;
	char dir[256];
	model m = {0};
	uint64_t st = seed;

	(void)state;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedt"));
	sh.s = open_store(dir, true);
	atomic_init(&sh.stop, false);
	for (unsigned k = 0; k < POOL; k++)
		sh.pool[k] = make_variant(base, BASE_MAX, seed + 77 + k, k * 3);
	/* two collectors: their releases of one removal must not both
	 * drop the references */
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&gct[i], NULL, collector_main,
						&sh),
				 0);
	for (int i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].sh = &sh;
		w[i].st = seed + 31 * (uint64_t)i;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main,
						&w[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&sh.stop, true);
	pthread_join(gct[0], NULL);
	pthread_join(gct[1], NULL);
	gc_now(sh.s);
	for (unsigned k = 0; k < POOL; k++) {
		uint64_t want = 0, c = 0;

		for (int i = 0; i < THREADS; i++) {
			assert_int_equal(w[i].failed, 0);
			want += w[i].held[k];
		}
		if (want == 0) {
			assert_int_equal(b3cas_refcount(sh.s, &sh.pool[k].id,
							&c),
					 B3CAS_ENOTFOUND);
			continue;
		}
		assert_int_equal(b3cas_refcount(sh.s, &sh.pool[k].id, &c), 0);
		assert_int_equal(c, want);
		check_reads(sh.s, &sh.pool[k], &st);
		model_add(&m, sh.pool[k].data, sh.pool[k].len, 1);
	}
	check_counts(sh.s, &m);
	assert_int_equal(b3cas_store_close(sh.s), 0);
	for (unsigned k = 0; k < POOL; k++)
		free(sh.pool[k].data);
	free(base);
	chunk_model_free(&m);
	cu_rm_rf(dir);
}

/* ---- held counts ----------------------------------------------------- */

static uint64_t refs_of(b3cas_store *s, const b3cas_oid *id)
{
	uint64_t c = UINT64_MAX;

	if (b3cas_refcount(s, id, &c) != 0)
		fail_msg("refcount: %s", b3cas_error_last());
	return c;
}

/* s (in dir) holds chunked object a twice and its first chunk c (cl
 * bytes of big) once: copies made by backup and restore count the same. */
static void held_copies(b3cas_store *s, const char *dir, const b3cas_oid *a,
			const b3cas_oid *c, const uint8_t *big, size_t cl,
			uint64_t *st)
{
	char bak[300], dst[300];
	b3cas_store *d;

	snprintf(bak, sizeof(bak), "%s.bak", dir);
	snprintf(dst, sizeof(dst), "%s.dst", dir);
	assert_int_equal(b3cas_backup(s, bak, NULL, NULL), 0);
	assert_int_equal(b3cas_backup(s, bak, NULL, NULL), 0); /* again */
	d = open_store(bak, false);
	assert_int_equal(refs_of(d, a), 2);
	assert_int_equal(refs_of(d, c), 1);
	assert_int_equal(b3cas_store_delete(d, c), 0);
	assert_int_equal(b3cas_store_close(d), 0);

	d = open_store(dst, true);
	assert_int_equal(b3cas_store_put(d, NULL, big, 64 * 1024), 0);
	assert_int_equal(refs_of(d, c), 0);
	assert_int_equal(b3cas_restore(d, dir, NULL, NULL), 0);
	assert_int_equal(refs_of(d, a), 1); /* its own count, kept */
	assert_int_equal(refs_of(d, c), 1); /* the source's callers' */
	assert_int_equal(b3cas_store_delete(d, c), 0);
	assert_int_equal(b3cas_store_delete(d, c), B3CAS_ENOTFOUND);
	gc_now(d);
	{
		obj oc = {(uint8_t *)big, cl, *c};

		check_reads(d, &oc, st);
	}
	assert_int_equal(b3cas_store_close(d), 0);
	cu_rm_rf(bak);
	cu_rm_rf(dst);
}

/*
 * An object equal to a chunk of a chunked object: callers see and drop
 * only their own references. Deleting it more often than it was put is
 * refused and never frees the chunk the chunked object needs; whichever
 * goes first, the other stays readable, and the chunk goes with the last.
 */
static void test_held_counts(void **state)
{
	uint8_t *big = make_base(3, 64 * 1024);
	b3cas_cdc cdc;
	b3cas_oid a, c;
	size_t cl;
	char dir[256];
	uint64_t st = seed;
	b3cas_store *s;
	obj oa, oc;

	(void)state;
	assert_int_equal(b3cas__cdc_init(&cdc, CMIN, AVG, CMAX, 0), 0);
	cl = b3cas__cdc_cut(NULL, &cdc, big, 64 * 1024);
	assert_true(cl < 64 * 1024);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedh"));
	s = open_store(dir, true);
	oa = (obj){big, 64 * 1024, {{0}}};
	b3cas_hash(oa.id.bytes, big, oa.len);
	oc = (obj){big, cl, {{0}}};
	b3cas_hash(oc.id.bytes, big, cl);

	/* the chunked object first, then its first chunk as an object */
	assert_int_equal(b3cas_store_put(s, &a, big, 64 * 1024), 0);
	assert_int_equal(refs_of(s, &oc.id), 0);
	assert_int_equal(b3cas_store_put(s, &c, big, cl), 1); /* stored */
	assert_true(b3cas_oid_equal(&c, &oc.id));
	assert_int_equal(refs_of(s, &c), 1);
	assert_int_equal(b3cas_ref_add(s, &c), 2);
	assert_int_equal(b3cas_store_delete(s, &c), 1);
	assert_int_equal(b3cas_store_delete(s, &c), 0);
	/* a delete too many: refused, the chunk stays */
	assert_int_equal(b3cas_store_delete(s, &c), B3CAS_ENOTFOUND);
	assert_non_null(strstr(b3cas_error_last(), "chunk"));
	assert_int_equal(b3cas_store_delete(s, &c), B3CAS_ENOTFOUND);
	gc_now(s);
	check_reads(s, &oa, &st);
	check_reads(s, &oc, &st);
	assert_int_equal(refs_of(s, &c), 0);
	/* the chunked object goes: the chunk with it */
	assert_int_equal(b3cas_store_delete(s, &a), 0);
	gc_now(s);
	assert_int_equal(b3cas_store_exists(s, &c), 0);
	assert_int_equal(entries_in(s), 0);

	/* the other way round: the object first, kept by its caller after
	 * the chunked object is gone */
	assert_int_equal(b3cas_store_put(s, NULL, big, cl), 0);
	assert_int_equal(b3cas_store_put(s, NULL, big, 64 * 1024), 0);
	assert_int_equal(refs_of(s, &c), 1);
	assert_int_equal(b3cas_store_delete(s, &a), 0);
	gc_now(s);
	check_reads(s, &oc, &st);
	assert_int_equal(refs_of(s, &c), 1);
	assert_int_equal(b3cas_store_delete(s, &c), 0);
	gc_now(s);
	assert_int_equal(entries_in(s), 0);

	/* the same across a reopen: the held count is in the index */
	assert_int_equal(b3cas_store_put(s, NULL, big, 64 * 1024), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	s = open_store(dir, false);
	assert_int_equal(b3cas_store_delete(s, &c), B3CAS_ENOTFOUND);
	gc_now(s);
	check_reads(s, &oa, &st);

	/* backup and restore carry the callers' part of the count: a
	 * chunking store holding A restores S's caller reference, which
	 * its own A's manifest does not make */
	assert_int_equal(b3cas_ref_add(s, &a), 2);
	assert_int_equal(b3cas_store_put(s, NULL, big, cl), 1);
	held_copies(s, dir, &a, &c, big, cl, &st);
	assert_int_equal(b3cas_store_close(s), 0);
	free(big);
	cu_rm_rf(dir);
}

/* ---- options --------------------------------------------------------- */

static void test_options(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store_info info;
	b3cas_store *s = NULL;
	char dir[256];

	(void)state;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedo"));
	o.create = true;
	o.chunking = B3CAS_CHUNKING_ON;
	o.hash = B3CAS_HASH_SHA256;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	o.hash = B3CAS_HASH_BLAKE3;
	o.chunk_avg = 3000;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	o.chunk_avg = 0;
	o.compression_level = 20;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	o.compression_level = 6;
	o.pack_level = 20;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	o.pack_level = -1;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	o.pack_level = 0;
	o.compression_level = 0;
	/* an index memory bound: 0 or at least 8 MiB */
	o.index_memory = B3CAS_INDEX_MEMORY_MIN - 1;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "index memory"));
	o.index_memory = 0;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	o.create = false;
	o.index_memory = B3CAS_INDEX_MEMORY_MIN;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	o.create = true;
	o.index_memory = 0;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.format_version, 2);
	assert_int_equal(info.chunk_avg, 4096);
	assert_int_equal(info.chunk_min, 1024);
	assert_int_equal(info.chunk_max, 16384);
	assert_int_equal(info.compression_level, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* opening with chunking off is refused; the default takes the record */
	o.create = false;
	o.chunking = B3CAS_CHUNKING_OFF;
	assert_int_equal(b3cas_store_open(&s, dir, &o), B3CAS_EFORMAT);
	o.chunking = B3CAS_CHUNKING_DEFAULT;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);

	/* a pack level of its own: recorded, and kept by a reopen that
	 * asks for none */
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedp"));
	o = (b3cas_store_options)B3CAS_STORE_OPTIONS_INIT;
	o.create = true;
	o.chunking = B3CAS_CHUNKING_ON;
	o.compression_level = 6;
	o.pack_level = 2;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	b3cas_store_info_get(&info, s);
	assert_true(info.packed);
	assert_int_equal(info.compression_level, 6);
	assert_int_equal(info.pack_level, 2);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_int_equal(b3cas_store_open(&s, dir, NULL), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.compression_level, 6);
	assert_int_equal(info.pack_level, 2);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	/* the same level as the frames': no line, and info says it */
	assert_true(cu_mkdtemp(dir, sizeof(dir), "chunkedq"));
	o.pack_level = 6;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.pack_level, 6);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_zeros_and_edges),
		cmocka_unit_test(test_round_trip_and_refs),
		cmocka_unit_test(test_held_counts),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_paged_top),
		cmocka_unit_test(test_damage_frames),
		cmocka_unit_test(test_packed_damage),
		cmocka_unit_test(test_image_reads),
		cmocka_unit_test(test_fsck_and_heal),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_crash),
	};

	seed = cu_seed_from_env();
	printf("# seed %llu (B3CAS_TEST_SEED)\n", (unsigned long long)seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
