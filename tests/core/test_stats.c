/*
 * test_stats.c - b3cas_store_stats against a model the test computes
 * itself, every figure of what is stored:
 *
 *  - a chunking store (chunk_avg 1024, zstd level 3) holding a random
 *    object A put twice, B (A with bytes changed and inserted in the
 *    middle), a compressible text T, a small object equal to one of A's
 *    chunks, small text and small noise. The model cuts the chunked
 *    objects with the plain reference chunker (tests/chunk/fastcdc_ref.h,
 *    min avg/4, max 4 x avg, seed 0, as the store derives them), names
 *    chunks with b3cas_hash, counts distinct ids, occurrences, callers'
 *    references and the manifests' bytes (top and node format of
 *    docs/chunked-objects.md: nodes cut by content, each stored once
 *    however many objects name it), and finds each entry's stored size by
 *    compressing it with the store's level and rule;
 *  - the same store after B is deleted (a GC candidate whose manifest
 *    still holds its chunks: they stay stored, with no callers'
 *    references) and after GC (B's own chunks gone);
 *  - a format 1 store: chunk fields zero, ratios 1, stored == physical;
 *  - disk_bytes, with the store reopened read-only so that nothing writes
 *    between the two, against a walk of the store folder here (nftw,
 *    lstat, hard links once) and against `du -sB1` when there is one.
 *
 * Each store is made from a seed (printed; B3CAS_TEST_SEED replays it).
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "b3cas/b3cas.h"
#include "chunk/fastcdc_ref.h"
#include "compress/zstd.h"
#include "core/core_util.h"
#include "test_util.h"

#define AVG 1024u
#define LEVEL 3
/* The manifest's format (docs/chunked-objects.md): a top of version, gen
 * and node count, 60 bytes per node; a node entry per chunk of its id and
 * its length as a LEB128 varint; a node ends after a chunk whose id's
 * last byte has its low 6 bits clear, or at 1024 chunks. */
#define TOP_HEAD (1 + 16 + 4)
#define TOP_SEG (8 + 4 + 32 + 16)
#define SEG_CHUNKS 1024

static uint64_t seed;

/* ---- the model ------------------------------------------------------- */

/* An object stored whole (a chunk, or a small object). */
typedef struct ment {
	b3cas_oid id;
	uint64_t len;
	uint64_t held;   /* occurrences in the manifests present */
	uint64_t named;  /* of those, in stored objects' manifests */
	uint64_t caller; /* callers' references */
	uint64_t stored; /* bytes as stored */
	bool zipped;
} ment;

/* A chunked object. */
typedef struct cobj {
	uint64_t size, refs, manifest;
	bool live; /* else a GC candidate */
} cobj;

typedef struct model {
	ment *e;
	size_t n, cap;
	cobj c[8];
	size_t nc;
	b3cas_oid nodes[512]; /* the distinct nodes */
	size_t nn;
	uint64_t node_bytes;
	bool compress;
	size_t inline_max; /* larger objects stored whole are loose files */
	cdc_ref cdc;
} model;

static void model_init(model *m, bool chunking, size_t inline_max)
{
	uint64_t gear[256];

	memset(m, 0, sizeof(*m));
	m->compress = chunking;
	m->inline_max = inline_max;
	assert_int_equal(cdc_ref_gear(gear), 0);
	cdc_ref_init(&m->cdc, gear, AVG / 4, AVG, AVG * 4, 0);
}

/* What the store keeps of len bytes at d: the zstd frame when the rule
 * of compress/zstd.h says it is worth it, else the bytes. */
static uint64_t stored_size(const model *m, const uint8_t *d, size_t len,
			    bool *zipped)
{
	size_t cap = b3cas__zstd_bound(len), cs = 0;
	uint8_t *buf;

	*zipped = false;
	if (!m->compress || len == 0)
		return len;
	buf = malloc(cap);
	assert_non_null(buf);
	assert_int_equal(b3cas__zstd_compress(&cs, buf, cap, d, len, LEVEL),
			 0);
	free(buf);
	*zipped = b3cas__zstd_worth(len, cs, B3CAS_ZSTD_MIN_SAVING_DEFAULT,
				    B3CAS_ZSTD_MIN_PERCENT_DEFAULT);
	return *zipped ? cs : len;
}

/* The entry of the len bytes at d, made when new. */
static ment *model_entry(model *m, const uint8_t *d, size_t len)
{
	b3cas_oid id;
	ment *e;

	b3cas_hash(id.bytes, d, len);
	for (size_t i = 0; i < m->n; i++)
		if (b3cas_oid_equal(&m->e[i].id, &id))
			return &m->e[i];
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->len = len;
	e->stored = stored_size(m, d, len, &e->zipped);
	return e;
}

static void model_small(model *m, const uint8_t *d, size_t len,
			uint64_t refs)
{
	model_entry(m, d, len)->caller += refs;
}

static void put_leb128(uint8_t *p, size_t *at, uint64_t v)
{
	do {
		p[(*at)++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

/* The node of the k chunks (entries m->e[es[i]], its list bytes list):
 * stored once, and then it holds each of its chunks once. (Indices, not
 * pointers: m->e moves as it grows.) */
static void model_node(model *m, const size_t *es, const uint8_t *list,
		       size_t at, size_t k)
{
	b3cas_oid node;

	b3cas_hash(node.bytes, list, at);
	for (size_t i = 0; i < m->nn; i++)
		if (b3cas_oid_equal(&m->nodes[i], &node))
			return;
	assert_true(m->nn < sizeof(m->nodes) / sizeof(m->nodes[0]));
	m->nodes[m->nn++] = node;
	m->node_bytes += at;
	for (size_t i = 0; i < k; i++)
		m->e[es[i]].held++;
}

/* A chunked object of len bytes at d with refs callers' references (0: a
 * candidate). Its chunks, as the reference chunker cuts them. */
static void model_chunked(model *m, const uint8_t *d, size_t len,
			  uint64_t refs)
{
	cobj *o = &m->c[m->nc++];
	uint64_t nnodes = 0, fp;
	uint8_t *list = malloc(SEG_CHUNKS * (B3CAS_OID_LEN + 5));
	size_t *es = malloc(SEG_CHUNKS * sizeof(*es));
	size_t at = 0, k = 0;

	assert_non_null(list);
	assert_non_null(es);
	assert_true(len > AVG * 4);
	for (size_t off = 0; off < len;) {
		size_t cl = cdc_ref_cut(&fp, &m->cdc, d + off, len - off);
		ment *e = model_entry(m, d + off, cl);

		e->named += refs > 0;
		memcpy(list + at, e->id.bytes, B3CAS_OID_LEN);
		at += B3CAS_OID_LEN;
		put_leb128(list, &at, cl);
		es[k++] = (size_t)(e - m->e);
		off += cl;
		if ((e->id.bytes[B3CAS_OID_LEN - 1] & 63) == 0 ||
		    k == SEG_CHUNKS || off == len) {
			model_node(m, es, list, at, k);
			nnodes++;
			at = k = 0;
		}
	}
	free(list);
	free(es);
	o->size = len;
	o->refs = refs;
	o->live = refs > 0;
	o->manifest = TOP_HEAD + nnodes * TOP_SEG;
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 1.0;
}

/* What stats should say of what is stored. */
static void model_stats(const model *m, b3cas_stats *w)
{
	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < m->n; i++) {
		const ment *e = &m->e[i];

		if (e->held == 0 && e->caller == 0) {
			w->candidates++;
			w->candidate_bytes += e->len;
			continue;
		}
		w->objects++;
		w->inline_objects += e->len <= m->inline_max;
		w->references += e->caller;
		w->logical_bytes += e->len * e->caller;
		w->physical_bytes += e->len;
		w->stored_bytes += e->stored;
		w->compressed_objects += e->zipped;
		if (e->named) {
			w->chunks++;
			w->chunk_refs += e->named;
			w->chunk_ref_bytes += e->named * e->len;
			w->chunk_bytes += e->len;
		}
	}
	for (size_t i = 0; i < m->nc; i++) {
		const cobj *o = &m->c[i];

		if (!o->live) {
			w->candidates++;
			w->candidate_bytes += o->size;
			continue;
		}
		w->objects++;
		w->inline_objects++;
		w->references += o->refs;
		w->logical_bytes += o->size * o->refs;
		w->chunked_objects++;
		w->chunked_bytes += o->size;
		w->manifest_bytes += o->manifest;
	}
	w->manifest_bytes += m->node_bytes;
	w->dedup_ratio = ratio(w->logical_bytes, w->physical_bytes);
	w->chunk_dedup_ratio = ratio(w->chunk_ref_bytes, w->chunk_bytes);
	w->compression_ratio = ratio(w->physical_bytes, w->stored_bytes);
}

#define SAME(f)                                                          \
	do {                                                             \
		if (got->f != want->f)                                   \
			fail_msg("%s: " #f " is %llu, the model says %llu", \
				 what, (unsigned long long)got->f,        \
				 (unsigned long long)want->f);            \
	} while (0)
#define SAME_RATIO(f)                                                    \
	do {                                                             \
		if (got->f != want->f)                                   \
			fail_msg("%s: " #f " is %.17g, the model says %.17g", \
				 what, got->f, want->f);                  \
	} while (0)

/*
 * Whether the store under test packs (b3cas_store_options.packing): its
 * inline bytes are compressed by RocksDB a block at a time, so what they
 * take is not a sum the model can make. Then the model's figures hold
 * but for these: every stored object not chunked is counted compressed,
 * and stored bytes are above 0 and at most the physical bytes.
 */
static bool packed;

/* Every figure of what is stored, against the model. */
static void check_stats(b3cas_store *s, const model *m, const char *what,
			b3cas_stats *out)
{
	b3cas_stats model_st, *want = &model_st, *got = out;

	if (b3cas_store_stats(s, got) != 0)
		fail_msg("%s: stats: %s", what, b3cas_error_last());
	model_stats(m, want);
	SAME(objects);
	SAME(inline_objects);
	SAME(references);
	SAME(logical_bytes);
	SAME(physical_bytes);
	SAME_RATIO(dedup_ratio);
	SAME(candidates);
	SAME(candidate_bytes);
	SAME(chunked_objects);
	SAME(chunked_bytes);
	SAME(chunks);
	SAME(chunk_refs);
	SAME(chunk_ref_bytes);
	SAME(chunk_bytes);
	SAME_RATIO(chunk_dedup_ratio);
	if (packed) {
		if (got->compressed_objects !=
		    want->objects - want->chunked_objects)
			fail_msg("%s: compressed_objects %llu, not %llu", what,
				 (unsigned long long)got->compressed_objects,
				 (unsigned long long)(want->objects -
						      want->chunked_objects));
		if (got->stored_bytes == 0 ||
		    got->stored_bytes > want->physical_bytes)
			fail_msg("%s: stored_bytes %llu, physical %llu", what,
				 (unsigned long long)got->stored_bytes,
				 (unsigned long long)want->physical_bytes);
	} else {
		SAME(stored_bytes);
		SAME(compressed_objects);
		SAME_RATIO(compression_ratio);
	}
	SAME(manifest_bytes);
	assert_true(got->disk_bytes > 0);
}

/* ---- disk usage, counted here ---------------------------------------- */

static struct {
	uint64_t bytes;
	struct {
		dev_t dev;
		ino_t ino;
	} links[256];
	size_t nlinks;
} du_walk;

static int du_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		for (size_t i = 0; i < du_walk.nlinks; i++)
			if (du_walk.links[i].dev == st->st_dev &&
			    du_walk.links[i].ino == st->st_ino)
				return 0;
		assert_true(du_walk.nlinks < 256);
		du_walk.links[du_walk.nlinks].dev = st->st_dev;
		du_walk.links[du_walk.nlinks++].ino = st->st_ino;
	}
	du_walk.bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

static uint64_t disk_usage(const char *dir)
{
	memset(&du_walk, 0, sizeof(du_walk));
	assert_int_equal(nftw(dir, du_one, 16, FTW_PHYS), 0);
	return du_walk.bytes;
}

/* `du -sB1 dir`, or 0 when the program is not there. */
static uint64_t du_program(const char *dir)
{
	char cmd[600];
	unsigned long long v = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sB1 '%s' 2>/dev/null", dir);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (fscanf(p, "%llu", &v) != 1)
		v = 0;
	pclose(p);
	return v;
}

/*
 * Close s, reopen the store read-only (nothing writes then: no flush, no
 * compaction, no log) and check the figures again, and disk_bytes against
 * the walks here, which must agree to the byte.
 */
static void check_disk(b3cas_store *s, const char *dir, const model *m,
		       const char *what)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *ro;
	b3cas_stats st;
	uint64_t here, du;

	assert_int_equal(b3cas_store_close(s), 0);
	o.read_only = true;
	if (b3cas_store_open(&ro, dir, &o) != 0)
		fail_msg("open read-only: %s", b3cas_error_last());
	check_stats(ro, m, what, &st);
	here = disk_usage(dir);
	du = du_program(dir);
	if (st.disk_bytes != here || (du && du != here))
		fail_msg("%s: disk_bytes %llu, a walk here %llu, du %llu", what,
			 (unsigned long long)st.disk_bytes,
			 (unsigned long long)here, (unsigned long long)du);
	assert_int_equal(b3cas_store_close(ro), 0);
}

/* ---- contents -------------------------------------------------------- */

/* n bytes of text made of words from vocabulary voc (compressible). */
static uint8_t *make_text(const char *const *voc, size_t nvoc, size_t n,
			  uint64_t *st)
{
	uint8_t *p = malloc(n);
	size_t off = 0;

	assert_non_null(p);
	while (off < n) {
		const char *w = voc[cu_below(st, nvoc)];

		for (size_t i = 0; w[i] && off < n; i++)
			p[off++] = (uint8_t)w[i];
		if (off < n)
			p[off++] = cu_chance(st, 1, 9) ? '\n' : ' ';
	}
	return p;
}

static b3cas_store *open_chunking(const char *dir, bool create)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	o.create = create;
	if (create) {
		o.chunking = B3CAS_CHUNKING_ON;
		o.chunk_avg = AVG;
		o.compression_level = LEVEL;
		o.packing = packed ? B3CAS_PACKING_ON : B3CAS_PACKING_OFF;
	}
	if (b3cas_store_open(&s, dir, &o) != 0)
		fail_msg("open %s: %s", dir, b3cas_error_last());
	return s;
}

static void put(b3cas_store *s, const uint8_t *d, size_t len, int want)
{
	int rc = b3cas_store_put(s, NULL, d, len);

	if (rc != want)
		fail_msg("put of %zu bytes: %d (%s), not %d", len, rc,
			 b3cas_error_last(), want);
}

static void gc_now(b3cas_store *s)
{
	if (cu_gc_all(s) != 0)
		fail_msg("gc: %s", b3cas_error_last());
}

/* ---- tests ----------------------------------------------------------- */

#define A_LEN (256u * 1024u)
#define Z_LEN 3000u
#define R_LEN 2000u

/* What the chunking test puts. */
typedef struct contents {
	uint8_t *a, *b, *t, *z, *r;
	const uint8_t *s; /* inside a */
	size_t b_len, t_len, s_len;
} contents;

/* The model of a store holding c: A put twice, T, S, Z and R once, and
 * B with b_refs references (0: a candidate; -1: collected). */
static void model_of(model *m, const contents *c, int b_refs)
{
	model_init(m, true, SIZE_MAX);
	model_chunked(m, c->a, A_LEN, 2);
	if (b_refs >= 0)
		model_chunked(m, c->b, c->b_len, (uint64_t)b_refs);
	model_chunked(m, c->t, c->t_len, 1);
	model_small(m, c->s, c->s_len, 1);
	model_small(m, c->z, Z_LEN, 1);
	model_small(m, c->r, R_LEN, 1);
}

/* A random, B (A with 8 bytes changed in the middle and 16 inserted
 * further on), T and Z texts (compressible), R random, and S, A's
 * eleventh chunk as the reference chunker cuts it. */
static void make_contents(contents *c, const cdc_ref *cdc)
{
	static const char *const words[] = {
		"store", "chunk", "manifest", "segment", "object", "index",
		"reference", "count", "zstd", "frame", "bytes", "ratio"};
	static const char *const digits[] = {"0", "1", "2", "3", "42",
					     "17", "99", "-", "+", "="};
	uint64_t st = seed ^ 0x5374617473ull, fp;
	size_t off = 0;

	c->a = cu_gen_alloc((seed << 4) | 2, A_LEN);
	c->b_len = A_LEN + 16;
	c->b = malloc(c->b_len);
	assert_non_null(c->b);
	memcpy(c->b, c->a, 180000);
	for (int i = 0; i < 16; i++)
		c->b[180000 + i] = (uint8_t)tu_rand(&st);
	memcpy(c->b + 180016, c->a + 180000, A_LEN - 180000);
	for (int i = 0; i < 8; i++)
		c->b[100000 + i] ^= 0x5a;
	c->t_len = 96 * 1024;
	c->t = make_text(words, sizeof(words) / sizeof(words[0]), c->t_len,
			 &st);
	c->z = make_text(digits, sizeof(digits) / sizeof(digits[0]), Z_LEN,
			 &st);
	c->r = cu_gen_alloc((seed << 4) | 3, R_LEN);
	for (int i = 0; i <= 10; i++) {
		c->s_len = cdc_ref_cut(&fp, cdc, c->a + off, A_LEN - off);
		c->s = c->a + off;
		off += c->s_len;
	}
}

static void chunking_store(void)
{
	b3cas_stats got;
	b3cas_oid b_id;
	contents c;
	char dir[256];
	b3cas_store *s;
	model m;

	model_init(&m, true, SIZE_MAX);
	make_contents(&c, &m.cdc);
	free(m.e);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "stats"));
	s = open_chunking(dir, true);
	put(s, c.a, A_LEN, 0);
	put(s, c.a, A_LEN, 1);
	put(s, c.b, c.b_len, 0);
	put(s, c.t, c.t_len, 0);
	put(s, c.s, c.s_len, 1); /* already stored, as a chunk */
	put(s, c.z, Z_LEN, 0);
	put(s, c.r, R_LEN, 0);
	model_of(&m, &c, 1);
	check_stats(s, &m, "stored", &got);
	/* what the model checks aside, the figures say what they should */
	assert_true(got.chunk_dedup_ratio > 1.5);
	assert_true(got.compressed_objects > 0);
	assert_true(got.stored_bytes < got.physical_bytes);
	assert_true(got.compression_ratio ==
		    (double)got.physical_bytes / (double)got.stored_bytes);
	assert_true(got.references < got.chunk_refs);
	check_disk(s, dir, &m, "stored, read-only");
	free(m.e);

	/* B deleted: a candidate, its manifest still holding its chunks */
	s = open_chunking(dir, false);
	b3cas_hash(b_id.bytes, c.b, c.b_len);
	assert_int_equal(b3cas_store_delete(s, &b_id), 0);
	model_of(&m, &c, 0);
	check_stats(s, &m, "B deleted", &got);
	assert_int_equal(got.candidates, 1);
	free(m.e);

	/* after GC: B and the chunks only it named are gone */
	gc_now(s);
	model_of(&m, &c, -1);
	check_stats(s, &m, "B collected", &got);
	check_disk(s, dir, &m, "B collected, read-only");
	free(m.e);
	free(c.a);
	free(c.b);
	free(c.t);
	free(c.z);
	free(c.r);
	cu_rm_rf(dir);
}

/* Each object kept in the index in a zstd frame of its own. */
static void test_chunking_store(void **state)
{
	(void)state;
	packed = false;
	chunking_store();
}

/* Packed: the model's figures but for what the blocks take. */
static void test_chunking_store_packed(void **state)
{
	(void)state;
	packed = true;
	chunking_store();
	packed = false;
}

static void test_format1_store(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	const size_t lens[] = {0, 100, 1000, 1024, 1025, 5000, 200000};
	b3cas_stats got;
	b3cas_store *s;
	char dir[256];
	model m;

	(void)state;
	packed = false;
	assert_true(cu_mkdtemp(dir, sizeof(dir), "stats1"));
	o.create = true;
	o.inline_threshold = 1024;
	if (b3cas_store_open(&s, dir, &o) != 0)
		fail_msg("open: %s", b3cas_error_last());
	model_init(&m, false, 1024);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* seeds of both kinds: noise, and zeros (compressible) */
		uint8_t *d = cu_gen_alloc((seed + i) << 4 | (i % 2 ? 0 : 5),
					  lens[i]);
		unsigned times = 1 + (unsigned)(i % 3);

		for (unsigned k = 0; k < times; k++)
			put(s, d, lens[i], k > 0);
		model_small(&m, d, lens[i], times);
		free(d);
	}
	check_stats(s, &m, "format 1", &got);
	assert_int_equal(got.stored_bytes, got.physical_bytes);
	assert_int_equal(got.chunks, 0);
	assert_int_equal(got.chunked_objects, 0);
	assert_int_equal(got.manifest_bytes, 0);
	assert_true(got.chunk_dedup_ratio == 1.0);
	assert_true(got.compression_ratio == 1.0);
	assert_true(got.dedup_ratio > 1.0);
	check_disk(s, dir, &m, "format 1, read-only");
	free(m.e);
	cu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunking_store),
		cmocka_unit_test(test_chunking_store_packed),
		cmocka_unit_test(test_format1_store),
	};

	seed = tu_seed("test_stats");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
