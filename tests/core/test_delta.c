/*
 * test_delta.c - delta chunks (store/delta.c, docs/chunked-objects.md
 * "Delta chunks"): versions of a memory-image-like object, each put with
 * the one before as its base (b3cas_writer_set_base), checked against the
 * bytes the test made:
 *
 *  - series: deltas are made (the chunks each version replaces are
 *    rewritten against it), the versions store in less than half the
 *    bytes of the same series put without bases, every version reads back exactly by get, the streaming
 *    reader and range reads; fsck finds nothing (held and node counts
 *    included); versions deleted in a random order with GC after each
 *    leave the rest exact and, at the end, an empty index;
 *  - revive: a delta chunk that became a GC candidate and is put again is
 *    rewritten with its old base's reference released (no key left);
 *  - damage: a delta's frame, its base node, or a base's bytes altered
 *    in the index make reads fail with B3CAS_ECORRUPT, never return other
 *    bytes, and fsck reports them;
 *  - errors of b3cas_writer_set_base, and stores where it changes nothing;
 *  - crashes: a writer of a series killed (SIGKILL) at random moments;
 *    after the reopen every acknowledged version is exact, fsck is clean
 *    and everything deleted leaves no key (B3CAS_DELTA_CRASHES rounds,
 *    default 6; 60 with B3CAS_TEST_LONG);
 *  - threads: two writers making series with bases and deleting their
 *    old versions while a third collects with no grace.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "b3cas/b3cas.h"
#include "core/core_util.h"
#include "index/index.h"
#include "meta_keys.h"
#include "store/chunked.h"
#include "store/delta.h"
#include "store/store_int.h"
#include "util/varint.h"
#include "prng.h"

#define AVG 4096u
#define PAGE 4096u
#define IMAGE (1536u * 1024u)
#define VERSIONS 8
#define ZERO_RUN 40 /* the template's zero pages: 40 to 63 */

static uint64_t seed;
static b3cas_packing packing = B3CAS_PACKING_DEFAULT;
/* the templates' size: IMAGE, or B3CAS_DELTA_IMAGE_KIB (the sanitizer
 * builds: CI time), less for the threads (ThreadSanitizer) */
static size_t image_full = IMAGE, image_len = IMAGE;

static b3cas_store *open_store(const char *dir, bool create, int level)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	o.create = create;
	o.chunking = create ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_DEFAULT;
	o.chunk_avg = AVG;
	o.compression_level = level;
	o.packing = level ? packing : B3CAS_PACKING_DEFAULT;
	if (b3cas_store_open(&s, dir, &o) != 0)
		fail_msg("open %s: %s", dir, b3cas_error_last());
	return s;
}

/* ---- images ----------------------------------------------------------- */

typedef struct image {
	uint8_t *data;
	size_t len;
	b3cas_oid id;
} image;

static void fill_page(uint8_t *p, uint64_t *st)
{
	static const char words[] = "the quick brown fox jumps over a lazy "
				    "dog while sandboxes checkpoint state ";

	switch (cu_below(st, 4)) {
	case 0:
		memset(p, 0, PAGE);
		break;
	case 1:
		for (unsigned i = 0; i < PAGE; i++)
			p[i] = (uint8_t)tu_rand(st);
		break;
	default:
		for (unsigned i = 0; i < PAGE; i++)
			p[i] = (uint8_t)words[(i + cu_below(st, 3)) %
					      (sizeof(words) - 1)];
		break;
	}
}

static image make_template(uint64_t v)
{
	uint64_t st = v * 0x9E3779B97F4A7C15ull + 7;
	image im;

	im.len = image_len;
	im.data = malloc(image_len + 4096);
	assert_non_null(im.data);
	for (size_t at = 0; at < image_len; at += PAGE)
		fill_page(im.data + at, &st);
	/* a run of zero pages: chunks of zeros that repeat */
	memset(im.data + ZERO_RUN * PAGE, 0, 24 * PAGE);
	b3cas_hash(im.id.bytes, im.data, im.len);
	return im;
}

/* The next version: pct% of its pages rewritten, a few bytes inserted. */
static image make_fork(const image *prev, uint64_t v, unsigned pct)
{
	uint64_t st = v * 0xD1B54A32D192ED03ull + 3;
	size_t pages = prev->len / PAGE;
	image im;

	im.data = malloc(prev->len + 4096 + 64);
	assert_non_null(im.data);
	memcpy(im.data, prev->data, prev->len);
	im.len = prev->len;
	for (size_t k = 0; k < pages * pct / 100 + 1; k++) {
		size_t at = (size_t)cu_below(&st, pages) * PAGE;

		if (cu_chance(&st, 1, 2)) {
			fill_page(im.data + at, &st);
		} else { /* a few words changed in it */
			for (unsigned j = 0; j < 16; j++)
				im.data[at + cu_below(&st, PAGE)] ^=
					(uint8_t)cu_range(&st, 1, 255);
		}
	}
	/* and one in the zero run, beside zero chunks the version keeps */
	for (unsigned j = 0; j < 64; j++)
		im.data[(ZERO_RUN + 12) * PAGE + j * 61] = (uint8_t)(v + j + 1);
	for (unsigned k = 0; k < 2; k++) {
		size_t at = (size_t)cu_below(&st, im.len);
		unsigned n = (unsigned)cu_range(&st, 1, 16);

		memmove(im.data + at + n, im.data + at, im.len - at);
		for (unsigned j = 0; j < n; j++)
			im.data[at + j] = (uint8_t)tu_rand(&st);
		im.len += n;
	}
	b3cas_hash(im.id.bytes, im.data, im.len);
	return im;
}

/* The series: a template and VERSIONS - 1 forks of 3-8% each. */
static void make_series(image *v, uint64_t s0, size_t n)
{
	v[0] = make_template(s0);
	for (size_t i = 1; i < n; i++)
		v[i] = make_fork(&v[i - 1], s0 * 100 + i, 3 + (unsigned)(i % 6));
}

static void free_series(image *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].data);
}

/* Put im through a writer, with base (may be NULL), in pieces. */
static int put_image(b3cas_store *s, const image *im, const b3cas_oid *base)
{
	b3cas_writer *w = NULL;
	b3cas_oid id;
	int rc = b3cas_writer_open(&w, s);

	if (rc == 0 && base)
		rc = b3cas_writer_set_base(w, base);
	for (size_t at = 0; rc == 0 && at < im->len; at += 100000)
		rc = b3cas_writer_write(w, im->data + at,
					im->len - at < 100000 ? im->len - at
							      : 100000);
	if (rc < 0) {
		b3cas_writer_abort(w);
		return rc;
	}
	rc = b3cas_writer_commit(w, &id);
	if (rc >= 0)
		assert_memory_equal(id.bytes, im->id.bytes, B3CAS_OID_LEN);
	return rc;
}

/* ---- what the index holds --------------------------------------------- */

typedef struct census {
	uint64_t deltas, live, candidate_deltas;
} census;

static int count_entry(const b3cas__walk_entry *e, void *ctx)
{
	census *c = ctx;

	c->live += !e->candidate;
	if (e->kind == B3CAS_ENTRY_DELTA && e->candidate)
		c->candidate_deltas++;
	if (e->kind == B3CAS_ENTRY_DELTA) {
		assert_true(e->payload_len > B3CAS__DELTA_HEAD);
		assert_int_equal(e->payload[0], B3CAS__DELTA_FORMAT);
		c->deltas += !e->candidate;
	}
	return 0;
}

static census census_of(b3cas_store *s)
{
	census c = {0};

	assert_int_equal(b3cas__store_walk(s, false, count_entry, &c), 0);
	return c;
}

/* The manifest nodes kept as deltas (docs/chunked-objects.md, "Nodes
 * kept as deltas"): how many; the first one's id and its base into node
 * and base (when not NULL). */
static uint64_t node_deltas(b3cas_index *ix, uint8_t *node, uint8_t *base)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_META]);
	uint8_t ff[B3CAS_OID_LEN];
	uint64_t n = 0;

	memset(ff, 0xff, sizeof(ff));
	for (rocksdb_iter_seek(it, "n", 1); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl, vl;
		const char *k = rocksdb_iter_key(it, &kl);
		const char *v = rocksdb_iter_value(it, &vl);

		if (kl == 0 || k[0] != 'n')
			break;
		assert_int_equal(kl, 1 + B3CAS_OID_LEN);
		if (vl < 2 * B3CAS_OID_LEN + 1 ||
		    memcmp(v, ff, sizeof(ff)) != 0)
			continue;
		assert_int_equal(v[B3CAS_OID_LEN], 1); /* its format */
		if (n++ == 0 && node) {
			memcpy(node, k + 1, B3CAS_OID_LEN);
			memcpy(base, v + B3CAS_OID_LEN + 1, B3CAS_OID_LEN);
		}
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return n;
}

/* What the index holds: a packed store's rewritten chunks leave their
 * old bytes in the data family until RocksDB compacts it, as it does in
 * time; here at once. */
static uint64_t stored_of(b3cas_store *s)
{
	b3cas_index *ix = b3cas__store_index(s);
	b3cas_stats st;

	if (ix->cf[B3CAS_CF_DATA])
		rocksdb_compact_range_cf(ix->db, ix->cf[B3CAS_CF_DATA], NULL, 0,
					 NULL, 0);

	assert_int_equal(b3cas_store_stats(s, &st), 0);
	return st.stored_bytes + st.manifest_bytes;
}

static void fsck_clean(b3cas_store *s)
{
	b3cas_fsck_report rep;

	assert_int_equal(b3cas_fsck(s, NULL, &rep), 0);
	if (rep.problems != 0)
		fail_msg("fsck: %llu problems", (unsigned long long)rep.problems);
}

static void gc_now(b3cas_store *s)
{
	if (cu_gc_all(s) != 0)
		fail_msg("gc: %s", b3cas_error_last());
}

static void check_image(b3cas_store *s, const image *im, uint64_t *st)
{
	b3cas_reader *r = NULL;
	uint8_t *buf = malloc(im->len + 1);
	size_t n = 0, got;
	void *data = NULL;
	size_t len = 0;

	assert_non_null(buf);
	if (b3cas_store_get(s, &im->id, &data, &len) != 0)
		fail_msg("get: %s", b3cas_error_last());
	assert_int_equal(len, im->len);
	assert_memory_equal(data, im->data, len);
	b3cas_free(data);
	assert_int_equal(b3cas_reader_open(&r, s, &im->id), 0);
	while (n < im->len) {
		int64_t k = b3cas_reader_read(r, buf + n, 65536);

		assert_true(k > 0);
		n += (size_t)k;
	}
	assert_int_equal(b3cas_reader_read(r, buf, 1), 0);
	b3cas_reader_close(r);
	assert_memory_equal(buf, im->data, im->len);
	for (int k = 0; k < 8; k++) {
		uint64_t off = cu_below(st, im->len);
		size_t want = (size_t)cu_range(st, 1, 40000);

		assert_int_equal(b3cas_store_read_at(s, &im->id, off, buf, want,
						     &got),
				 0);
		assert_int_equal(got, off + want > im->len ? im->len - off
							   : want);
		assert_memory_equal(buf, im->data + off, got);
	}
	free(buf);
}

static void expect_empty(b3cas_store *s)
{
	census c;

	gc_now(s);
	c = census_of(s);
	assert_int_equal(c.live, 0);
	assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
}

/* ---- the series --------------------------------------------------------- */

static int no_delta_in(b3cas_store *s, const image *im);

static void series(void)
{
	char da[256], db[256];
	image v[VERSIONS];
	b3cas_store *a, *b;
	uint64_t st = seed, sa0, sb0, sa, sb;
	size_t order[VERSIONS];
	census c;

	make_series(v, seed, VERSIONS);
	assert_true(cu_mkdtemp(da, sizeof(da), "delta-a"));
	assert_true(cu_mkdtemp(db, sizeof(db), "delta-b"));
	a = open_store(da, true, 3);
	b = open_store(db, true, 3);
	assert_true(put_image(a, &v[0], NULL) >= 0);
	assert_true(put_image(b, &v[0], NULL) >= 0);
	sa0 = stored_of(a);
	sb0 = stored_of(b);
	for (size_t i = 1; i < VERSIONS; i++) {
		assert_int_equal(put_image(a, &v[i], &v[i - 1].id), 0);
		assert_int_equal(put_image(b, &v[i], NULL), 0);
	}
	sa = stored_of(a) - sa0;
	sb = stored_of(b) - sb0;
	print_message("series: %zu versions of %zu KiB; new bytes stored with "
		      "bases %llu, without %llu (%.2fx)\n",
		      (size_t)VERSIONS, image_len / 1024, (unsigned long long)sa,
		      (unsigned long long)sb, (double)sb / (double)sa);
	c = census_of(a);
	print_message("series: %llu delta chunks\n",
		      (unsigned long long)c.deltas);
	assert_true(c.deltas > 0);
	assert_int_equal(census_of(b).deltas, 0);
	/* the nodes each version replaced are kept as deltas too (a put
	 * leaves them lists 1 time in 16: all 7 did 1 time in 16^7) */
	c.deltas = node_deltas(b3cas__store_index(a), NULL, NULL);
	print_message("series: %llu manifest nodes kept as deltas\n",
		      (unsigned long long)c.deltas);
	assert_true(c.deltas > 0);
	assert_int_equal(node_deltas(b3cas__store_index(b), NULL, NULL), 0);
	assert_true(sa * 2 < sb);
	for (size_t i = 0; i < VERSIONS; i++)
		check_image(a, &v[i], &st);
	/* the newest reads without a decode: none of its chunks, zero pages
	 * that older versions also held among them, is a delta */
	assert_int_equal(no_delta_in(a, &v[VERSIONS - 1]), 1);
	fsck_clean(a);

	/* deleted in a random order, collected after each */
	for (size_t i = 0; i < VERSIONS; i++)
		order[i] = i;
	for (size_t i = VERSIONS - 1; i > 0; i--) {
		size_t j = (size_t)cu_below(&st, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (size_t k = 0; k < VERSIONS; k++) {
		assert_int_equal(b3cas_store_delete(a, &v[order[k]].id), 0);
		gc_now(a);
		for (size_t m = k + 1; m < VERSIONS; m++)
			check_image(a, &v[order[m]], &st);
		if (k == VERSIONS / 2)
			fsck_clean(a);
	}
	expect_empty(a);
	fsck_clean(a);
	assert_int_equal(b3cas_store_close(a), 0);
	assert_int_equal(b3cas_store_close(b), 0);
	cu_rm_rf(da);
	cu_rm_rf(db);
	free_series(v, VERSIONS);
}

static void test_series(void **state)
{
	(void)state;
	series();
}

/* The same with a zstd frame per whole chunk (kind 3 beside deltas). */
static void test_series_frames(void **state)
{
	(void)state;
	packing = B3CAS_PACKING_OFF;
	series();
	packing = B3CAS_PACKING_DEFAULT;
}

/* Is every chunk of im's manifest stored whole (1), or some a delta (0)? */
static int kind_of_chunk(const b3cas_oid *chunk, uint32_t len, void *ctx)
{
	b3cas_store *s = ((void **)ctx)[0];
	int *whole = ((void **)ctx)[1];
	b3cas__entry e;

	(void)len;
	assert_int_equal(b3cas__entry_head(s, chunk, &e), 0);
	if (e.kind == B3CAS_ENTRY_DELTA)
		*whole = 0;
	b3cas__entry_done(&e);
	return 0;
}

static int no_delta_in(b3cas_store *s, const image *im)
{
	b3cas__snap snap;
	b3cas__entry e;
	b3cas__top t;
	int whole = 1;
	void *ctx[2] = {s, &whole};

	b3cas__snap_take(s, &snap, false);
	assert_int_equal(b3cas__entry_head(s, &im->id, &e), 0);
	assert_int_equal(b3cas__top_parse(&t, &im->id, e.size, e.payload,
					  e.payload_len),
			 0);
	assert_int_equal(b3cas__chunked_foreach_chunk(s, &snap, &im->id, &t,
						      kind_of_chunk, ctx, NULL),
			 0);
	b3cas__entry_done(&e);
	b3cas__snap_release(s, &snap);
	return whole;
}

/* ---- a region changed at every version --------------------------------- */

/*
 * The same pages changed at every version: each version rewrites the one
 * before as deltas (a chain as long as the versions), every version
 * exact, the newest read without a delta, and nothing left after
 * deletes oldest first, or newest first.
 */
static int no_delta_in(b3cas_store *s, const image *im);

static void test_deep_chain(void **state)
{
	enum { N = 14 };
	image v[N];
	char dir[256];
	b3cas_store *s;
	uint64_t st = seed + 6;

	(void)state;
	v[0] = make_template(seed + 6);
	/* pages 3-8 random, so that a delta there always saves enough */
	for (size_t k = 3 * PAGE; k < 9 * PAGE; k++)
		v[0].data[k] = (uint8_t)tu_rand(&st);
	b3cas_hash(v[0].id.bytes, v[0].data, v[0].len);
	for (int i = 1; i < N; i++) {
		v[i].len = v[0].len;
		v[i].data = malloc(v[0].len);
		assert_non_null(v[i].data);
		memcpy(v[i].data, v[i - 1].data, v[0].len);
		for (int k = 0; k < 24; k++)
			v[i].data[5 * PAGE + (size_t)k * 97] =
				(uint8_t)(i * 31 + k); /* no version repeats */
		b3cas_hash(v[i].id.bytes, v[i].data, v[i].len);
	}
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-deep"));
	s = open_store(dir, true, 3);
	for (int i = 0; i < N; i++) {
		assert_true(put_image(s, &v[i], i ? &v[i - 1].id : NULL) >= 0);
		/* the version before has deltas now; the new one none */
		if (i > 0 && no_delta_in(s, &v[i - 1]))
			fail_msg("version %d made no delta of %d", i, i - 1);
		assert_int_equal(no_delta_in(s, &v[i]), 1);
	}
	for (int i = 0; i < N; i++)
		check_image(s, &v[i], &st);
	assert_int_equal(no_delta_in(s, &v[N - 1]), 1);
	assert_int_equal(no_delta_in(s, &v[0]), 0);
	fsck_clean(s);
	for (int i = 0; i < N; i++) {
		assert_int_equal(b3cas_store_delete(s, &v[i].id), 0);
		gc_now(s);
		for (int k = i + 1; k < N; k++)
			check_image(s, &v[k], &st);
	}
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	free_series(v, N);
}

/* ---- versions that go back and forth ------------------------------------ */

/*
 * Versions alternating between two contents (each with small edits of
 * its own), each put with the one before as its base: a chunk of an old
 * version comes back while the version that replaced it is rewritten
 * against chunks that include it, which would make loops of bases if
 * rebases did not refuse them. Every version exact, fsck clean, nothing
 * left after deletes.
 */
static void test_flip_flop(void **state)
{
	enum { N = 16 };
	image a, b, v[N];
	char dir[256];
	b3cas_store *s;
	uint64_t st = seed + 7;

	(void)state;
	a = make_template(seed + 7);
	b = make_fork(&a, seed + 8, 20);
	for (int i = 0; i < N; i++) {
		const image *from = i % 2 ? &b : &a;

		v[i] = make_fork(from, seed * 13 + (uint64_t)i, i % 4);
	}
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-flip"));
	s = open_store(dir, true, 3);
	for (int i = 0; i < N; i++) {
		assert_true(put_image(s, &v[i], i ? &v[i - 1].id : NULL) >= 0);
		/* chunks that came back were deltas: whole again */
		assert_int_equal(no_delta_in(s, &v[i]), 1);
	}
	assert_true(census_of(s).deltas > 0);
	for (int i = 0; i < N; i++)
		check_image(s, &v[i], &st);
	fsck_clean(s);
	for (int i = N - 1; i >= 0; i--) {
		assert_true(b3cas_store_delete(s, &v[i].id) >= 0);
		gc_now(s);
		for (int k = 0; k < i; k++)
			check_image(s, &v[k], &st);
	}
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	free_series(v, N);
	free(a.data);
	free(b.data);
}

/* ---- forks ---------------------------------------------------------------- */

/*
 * Sandboxes forked from one template, each put with its own previous
 * version as base, the forks' versions at once (a thread each): each
 * rewrites template chunks that the other forks hold unchanged. Deleted
 * in an order of each kind, with GC after each: the rest exact, and at
 * the end nothing left (a delta that holds, through its base node,
 * chunks of another fork whose deltas hold it back is a cycle no GC
 * frees).
 */
#define FORKS 3
#define FORK_VERSIONS 4

typedef struct fork_put {
	b3cas_store *s;
	const image *im;
	const b3cas_oid *base;
	pthread_t t;
} fork_put;

static void *fork_put_main(void *arg)
{
	fork_put *p = arg;

	if (put_image(p->s, p->im, p->base) < 0)
		fail_msg("put: %s", b3cas_error_last());
	return NULL;
}

static void forks(int order)
{
	image t, v[FORKS][FORK_VERSIONS];
	char dir[256];
	b3cas_store *s;
	uint64_t st = seed + 41 + (uint64_t)order;
	int left = FORKS * FORK_VERSIONS;

	t = make_template(seed + 40);
	for (int f = 0; f < FORKS; f++)
		for (int i = 0; i < FORK_VERSIONS; i++)
			v[f][i] = make_fork(i ? &v[f][i - 1] : &t,
					    seed * 17 + (uint64_t)(f * 10 + i),
					    3 + (unsigned)((f + i) % 4));
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-fork"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &t, NULL) >= 0);
	for (int i = 0; i < FORK_VERSIONS; i++) {
		fork_put p[FORKS];

		for (int f = 0; f < FORKS; f++) {
			p[f].s = s;
			p[f].im = &v[f][i];
			p[f].base = i ? &v[f][i - 1].id : &t.id;
			assert_int_equal(pthread_create(&p[f].t, NULL,
							fork_put_main, &p[f]),
					 0);
		}
		for (int f = 0; f < FORKS; f++)
			assert_int_equal(pthread_join(p[f].t, NULL), 0);
	}
	assert_true(census_of(s).deltas > 0);
	fsck_clean(s);
	assert_true(b3cas_store_delete(s, &t.id) >= 0);
	gc_now(s);
	while (left > 0) {
		/* 0: oldest first, fork by fork; 1: newest first; 2: one
		 * version of each fork in turn */
		int k = order == 0   ? FORKS * FORK_VERSIONS - left
			: order == 1 ? left - 1
				     : (FORKS * FORK_VERSIONS - left) % FORKS *
						       FORK_VERSIONS +
					       (FORKS * FORK_VERSIONS - left) /
						       FORKS;
		image *gone = &v[k / FORK_VERSIONS][k % FORK_VERSIONS];

		assert_true(b3cas_store_delete(s, &gone->id) >= 0);
		gone->len = 0;
		gc_now(s);
		left--;
		for (int f = 0; f < FORKS; f++)
			for (int i = 0; i < FORK_VERSIONS; i++)
				if (v[f][i].len && (f + i + left) % 3 == 0)
					check_image(s, &v[f][i], &st);
	}
	fsck_clean(s);
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	for (int f = 0; f < FORKS; f++)
		free_series(v[f], FORK_VERSIONS);
	free(t.data);
}

static void test_forks(void **state)
{
	(void)state;
	for (int order = 0; order < 3; order++)
		forks(order);
}

/* ---- revive --------------------------------------------------------------- */

static void test_revive(void **state)
{
	char dir[256];
	image v[3];
	b3cas_store *s;
	uint64_t st = seed + 1;

	(void)state;
	make_series(v, seed + 1, 3);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-rv"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	assert_int_equal(put_image(s, &v[2], &v[1].id), 0);
	assert_true(census_of(s).deltas > 0);
	/* v0 and v1 (whose chunks the puts after them rewrote as deltas)
	 * deleted and collected after a grace period that their entries
	 * are past and their chunks, released by that collection, are not:
	 * the delta chunks are candidates, which the puts below revive
	 * (each must release the base node its old entry held) */
	assert_int_equal(b3cas_store_delete(s, &v[0].id), 0);
	assert_int_equal(b3cas_store_delete(s, &v[1].id), 0);
	usleep(1200000);
	{
		b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

		g.grace_ns = 1000000000;
		g.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
	}
	assert_true(census_of(s).candidate_deltas > 0);
	assert_int_equal(put_image(s, &v[0], NULL), 0);
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	for (int i = 0; i < 3; i++)
		check_image(s, &v[i], &st);
	gc_now(s);
	fsck_clean(s);
	for (int i = 0; i < 3; i++) {
		check_image(s, &v[i], &st);
		assert_int_equal(b3cas_store_delete(s, &v[i].id), 0);
	}
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	free_series(v, 3);
}

/* ---- damage --------------------------------------------------------------- */

typedef struct found {
	b3cas_oid delta;
	uint8_t node[B3CAS_OID_LEN];
	uint8_t head[B3CAS__DELTA_HEAD + 8]; /* the payload's start */
	size_t head_len;
	bool any;
} found;

static int find_delta(const b3cas__walk_entry *e, void *ctx)
{
	found *f = ctx;

	if (e->kind != B3CAS_ENTRY_DELTA || e->candidate || f->any)
		return 0;
	f->delta = e->id;
	memcpy(f->node, e->payload + 1, B3CAS_OID_LEN);
	f->head_len = e->payload_len < sizeof(f->head) ? e->payload_len
						       : sizeof(f->head);
	memcpy(f->head, e->payload, f->head_len);
	f->any = true;
	return 0;
}

static b3cas_index *raw_open(const char *dir)
{
	char path[300];
	b3cas_index *ix = NULL;

	snprintf(path, sizeof(path), "%s/index", dir);
	if (b3cas__index_open(&ix, path, false, false, 0) != 0)
		fail_msg("raw open: %s", b3cas_error_last());
	return ix;
}

static uint8_t *raw_get(b3cas_index *ix, int cf, const uint8_t *k, size_t kl,
			size_t *vl)
{
	rocksdb_pinnableslice_t *v = NULL;
	const char *p;
	uint8_t *out;

	if (b3cas__index_get_at(ix, NULL, cf, k, kl, &v) != 1)
		return NULL;
	p = rocksdb_pinnableslice_value(v, vl);
	out = malloc(*vl + 1);
	memcpy(out, p, *vl);
	rocksdb_pinnableslice_destroy(v);
	return out;
}

static void raw_put(b3cas_index *ix, int cf, const uint8_t *k, size_t kl,
		    const uint8_t *v, size_t vl)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	if (v)
		rocksdb_writebatch_put_cf(b, ix->cf[cf], (const char *)k, kl,
					  (const char *)v, vl);
	else
		rocksdb_writebatch_delete_cf(b, ix->cf[cf], (const char *)k,
					     kl);
	assert_int_equal(b3cas__index_write(ix, b, true), 0);
	rocksdb_writebatch_destroy(b);
}

/* v1's get fails as corrupt (never other bytes), and fsck finds it. */
static void expect_corrupt(const char *dir, const image *im, const char *what)
{
	b3cas_store *s = open_store(dir, false, 3);
	b3cas_fsck_report rep;
	void *data = NULL;
	size_t len = 0;
	int rc = b3cas_store_get(s, &im->id, &data, &len);

	if (rc != B3CAS_ECORRUPT)
		fail_msg("%s: get gave %d (%s), not B3CAS_ECORRUPT", what, rc,
			 rc == 0 ? "bytes" : b3cas_error_last());
	assert_int_equal(b3cas_fsck(s, NULL, &rep), 0);
	if (rep.problems == 0)
		fail_msg("%s: fsck found nothing", what);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_damage(void **state)
{
	char dir[256];
	image v[2];
	b3cas_store *s;
	b3cas_index *ix;
	uint8_t nk[1 + B3CAS_OID_LEN], *e, *n, *base;
	size_t el, nl, bl;
	uint32_t nb = 0, lens[B3CAS__DELTA_BASES_MAX];
	uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
	found f = {0};

	(void)state;
	packing = B3CAS_PACKING_OFF; /* bases kept as frames in the entry */
	make_series(v, seed + 2, 2);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-dmg"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	assert_int_equal(b3cas__store_walk(s, false, find_delta, &f), 0);
	assert_true(f.any);
	assert_int_equal(f.head[0], B3CAS__DELTA_FORMAT);
	assert_int_equal(b3cas__delta_bases(s, NULL, f.head, f.head_len, ids,
					    lens, &nb),
			 0);
	assert_true(nb >= 1);
	assert_int_equal(b3cas_store_close(s), 0);

	/* (the delta is one of v0's chunks, rewritten against v1's) */
	/* 1. a byte of the delta's frame */
	ix = raw_open(dir);
	e = raw_get(ix, B3CAS_CF_CONTENT, f.delta.bytes, B3CAS_OID_LEN, &el);
	assert_non_null(e);
	assert_int_equal(e[0], B3CAS_ENTRY_DELTA);
	e[el - 3] ^= 0x21;
	raw_put(ix, B3CAS_CF_CONTENT, f.delta.bytes, B3CAS_OID_LEN, e, el);
	b3cas__index_close(ix);
	expect_corrupt(dir, &v[0], "delta frame");
	e[el - 3] ^= 0x21;
	ix = raw_open(dir);
	raw_put(ix, B3CAS_CF_CONTENT, f.delta.bytes, B3CAS_OID_LEN, e, el);

	/* 2. its base node gone */
	nk[0] = 'n';
	memcpy(nk + 1, f.node, B3CAS_OID_LEN);
	n = raw_get(ix, B3CAS_CF_META, nk, sizeof(nk), &nl);
	assert_non_null(n);
	raw_put(ix, B3CAS_CF_META, nk, sizeof(nk), NULL, 0);
	b3cas__index_close(ix);
	expect_corrupt(dir, &v[0], "base node missing");
	ix = raw_open(dir);
	raw_put(ix, B3CAS_CF_META, nk, sizeof(nk), n, nl);

	/* 3. a base chunk's frame */
	base = raw_get(ix, B3CAS_CF_CONTENT, ids, B3CAS_OID_LEN, &bl);
	assert_non_null(base);
	if (base[0] == B3CAS_ENTRY_ZINLINE || base[0] == B3CAS_ENTRY_DELTA)
		base[bl - 2] ^= 0x11;
	else /* kept raw: a byte of it */
		base[B3CAS_ENTRY_HEADER_LEN + 5] ^= 0x11;
	raw_put(ix, B3CAS_CF_CONTENT, ids, B3CAS_OID_LEN, base, bl);
	b3cas__index_close(ix);
	expect_corrupt(dir, &v[1], "base chunk");

	cu_rm_rf(dir);
	free(e);
	free(n);
	free(base);
	free_series(v, 2);
	packing = B3CAS_PACKING_DEFAULT;
}

/* Every version of v (n of them) in the store at dir reads exact or fails
 * with B3CAS_ECORRUPT, at least one fails, and fsck reports damage. */
static void expect_some_corrupt(const char *dir, const image *v, size_t n,
				const char *what)
{
	b3cas_store *s = open_store(dir, false, 3);
	b3cas_fsck_report rep;
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		void *data = NULL;
		size_t len = 0;
		int rc = b3cas_store_get(s, &v[i].id, &data, &len);

		if (rc == 0) {
			assert_int_equal(len, v[i].len);
			assert_memory_equal(data, v[i].data, len);
			b3cas_free(data);
		} else if (rc == B3CAS_ECORRUPT) {
			bad++;
		} else {
			fail_msg("%s: get gave %d (%s)", what, rc,
				 b3cas_error_last());
		}
	}
	if (bad == 0)
		fail_msg("%s: every version read", what);
	assert_int_equal(b3cas_fsck(s, NULL, &rep), 0);
	if (rep.problems == 0)
		fail_msg("%s: fsck found nothing", what);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * A manifest node kept as a delta whose base is gone, or whose steps are
 * altered, fails the reads of the versions that hold it with
 * B3CAS_ECORRUPT (never other bytes) and fsck reports it; put back, every
 * version reads and fsck is clean.
 */
static void test_node_damage(void **state)
{
	char dir[256];
	image v[VERSIONS];
	b3cas_store *s;
	b3cas_index *ix;
	uint8_t node[B3CAS_OID_LEN], base[B3CAS_OID_LEN];
	uint8_t nk[1 + B3CAS_OID_LEN], bk[1 + B3CAS_OID_LEN], *nv, *bv;
	size_t nl, bl;
	uint64_t st = seed + 9;

	(void)state;
	make_series(v, seed + 9, VERSIONS);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-ndmg"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	for (size_t i = 1; i < VERSIONS; i++)
		assert_int_equal(put_image(s, &v[i], &v[i - 1].id), 0);
	assert_true(node_deltas(b3cas__store_index(s), node, base) > 0);
	fsck_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);

	nk[0] = bk[0] = 'n';
	memcpy(nk + 1, node, B3CAS_OID_LEN);
	memcpy(bk + 1, base, B3CAS_OID_LEN);
	ix = raw_open(dir);
	nv = raw_get(ix, B3CAS_CF_META, nk, sizeof(nk), &nl);
	bv = raw_get(ix, B3CAS_CF_META, bk, sizeof(bk), &bl);
	assert_non_null(nv);
	assert_non_null(bv);
	/* 1. its base gone */
	raw_put(ix, B3CAS_CF_META, bk, sizeof(bk), NULL, 0);
	b3cas__index_close(ix);
	expect_some_corrupt(dir, v, VERSIONS, "node delta's base missing");
	ix = raw_open(dir);
	raw_put(ix, B3CAS_CF_META, bk, sizeof(bk), bv, bl);
	/* 2. a byte of its steps */
	nv[nl - 2] ^= 0x5a;
	raw_put(ix, B3CAS_CF_META, nk, sizeof(nk), nv, nl);
	b3cas__index_close(ix);
	expect_some_corrupt(dir, v, VERSIONS, "node delta's steps");
	nv[nl - 2] ^= 0x5a;
	ix = raw_open(dir);
	raw_put(ix, B3CAS_CF_META, nk, sizeof(nk), nv, nl);
	b3cas__index_close(ix);

	s = open_store(dir, false, 3);
	for (size_t i = 0; i < VERSIONS; i++)
		check_image(s, &v[i], &st);
	fsck_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	free(nv);
	free(bv);
	free_series(v, VERSIONS);
}

/*
 * A delta written in format 1 (before format 2: a node of its own listing
 * just its bases) reads back exact: the delta of a series store rewritten
 * so, with such a node.
 */
static void test_format1(void **state)
{
	char dir[256];
	image v[2];
	b3cas_store *s;
	b3cas_index *ix;
	uint8_t nk[1 + B3CAS_OID_LEN], *e, *one;
	uint8_t value[B3CAS__DELTA_BASES_MAX * (B3CAS_OID_LEN + 5)];
	uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
	uint32_t lens[B3CAS__DELTA_BASES_MAX], nb = 0;
	size_t el, vlen = 0, ol;
	uint64_t st = seed + 9;
	found f = {0};

	(void)state;
	packing = B3CAS_PACKING_OFF;
	make_series(v, seed + 3, 2);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-f1"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	assert_int_equal(b3cas__store_walk(s, false, find_delta, &f), 0);
	assert_true(f.any);
	assert_int_equal(b3cas__delta_bases(s, NULL, f.head, f.head_len, ids,
					    lens, &nb),
			 0);
	assert_int_equal(b3cas_store_close(s), 0);

	for (uint32_t k = 0; k < nb; k++) {
		memcpy(value + vlen, ids + (size_t)k * B3CAS_OID_LEN,
		       B3CAS_OID_LEN);
		vlen += B3CAS_OID_LEN;
		vlen += b3cas__varint_put(value + vlen, lens[k]);
	}
	nk[0] = 'n';
	b3cas_hash(nk + 1, value, vlen);
	ix = raw_open(dir);
	raw_put(ix, B3CAS_CF_META, nk, sizeof(nk), value, vlen);
	e = raw_get(ix, B3CAS_CF_CONTENT, f.delta.bytes, B3CAS_OID_LEN, &el);
	assert_non_null(e);
	assert_int_equal(e[B3CAS_ENTRY_HEADER_LEN], B3CAS__DELTA_FORMAT);
	/* header | 1 | node | the same frame */
	ol = el - B3CAS__DELTA_HEAD + B3CAS__DELTA_HEAD_MIN;
	one = malloc(ol);
	assert_non_null(one);
	memcpy(one, e, B3CAS_ENTRY_HEADER_LEN);
	one[B3CAS_ENTRY_HEADER_LEN] = B3CAS__DELTA_FORMAT_NODE;
	memcpy(one + B3CAS_ENTRY_HEADER_LEN + 1, nk + 1, B3CAS_OID_LEN);
	memcpy(one + B3CAS_ENTRY_HEADER_LEN + B3CAS__DELTA_HEAD_MIN,
	       e + B3CAS_ENTRY_HEADER_LEN + B3CAS__DELTA_HEAD,
	       el - B3CAS_ENTRY_HEADER_LEN - B3CAS__DELTA_HEAD);
	raw_put(ix, B3CAS_CF_CONTENT, f.delta.bytes, B3CAS_OID_LEN, one, ol);
	b3cas__index_close(ix);

	s = open_store(dir, false, 3);
	f.any = false;
	assert_int_equal(b3cas__store_walk(s, false, find_delta, &f), 0);
	assert_true(f.any);
	check_image(s, &v[0], &st);
	check_image(s, &v[1], &st);
	assert_int_equal(b3cas_store_close(s), 0);
	free(e);
	free(one);
	cu_rm_rf(dir);
	free_series(v, 2);
	packing = B3CAS_PACKING_DEFAULT;
}

/* ---- set_base's errors, and stores where it changes nothing ------------ */

static void test_set_base(void **state)
{
	char dir[256], dir2[256];
	image v[2];
	b3cas_store *s;
	b3cas_writer *w = NULL;
	b3cas_oid nobody, small;
	uint64_t st = seed + 3;

	(void)state;
	make_series(v, seed + 3, 2);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-sb"));
	s = open_store(dir, true, 3);
	memset(nobody.bytes, 0x5a, sizeof(nobody.bytes));
	assert_int_equal(b3cas_writer_open(&w, s), 0);
	assert_int_equal(b3cas_writer_set_base(w, &nobody), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_writer_write(w, "x", 1), 0);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	assert_int_equal(b3cas_writer_set_base(w, &v[0].id), B3CAS_EINVAL);
	b3cas_writer_abort(w);
	assert_int_equal(b3cas_writer_open(&w, s), 0);
	assert_int_equal(b3cas_writer_set_base(w, &v[0].id), 0);
	assert_int_equal(b3cas_writer_set_base(w, &v[0].id), B3CAS_EINVAL);
	b3cas_writer_abort(w);
	/* a base that is not chunked: accepted, no delta */
	assert_true(b3cas_store_put(s, &small, "tiny", 4) >= 0);
	assert_int_equal(put_image(s, &v[1], &small), 0);
	assert_int_equal(census_of(s).deltas, 0);
	check_image(s, &v[1], &st);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);

	/* a store that does not compress makes no deltas */
	assert_true(cu_mkdtemp(dir2, sizeof(dir2), "delta-raw"));
	s = open_store(dir2, true, 0);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	assert_int_equal(census_of(s).deltas, 0);
	check_image(s, &v[1], &st);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir2);
	free_series(v, 2);
}

/*
 * A put with a base aborted after most of its bytes: its nodes were being
 * rebased by its worker (chunked.c, rebase_node) when it stopped. The base
 * still reads whole, fsck finds nothing, the put made again makes its
 * deltas, and once both are deleted nothing is left.
 */
static void test_abort(void **state)
{
	char dir[256];
	image v[2];
	b3cas_store *s;
	uint64_t st = seed + 7;

	(void)state;
	make_series(v, seed + 7, 2);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-abort"));
	s = open_store(dir, true, 3);
	assert_true(put_image(s, &v[0], NULL) >= 0);
	for (int round = 0; round < 3; round++) {
		b3cas_writer *w = NULL;
		size_t stop = v[1].len / 4 * (size_t)(round + 1);

		assert_int_equal(b3cas_writer_open(&w, s), 0);
		assert_int_equal(b3cas_writer_set_base(w, &v[0].id), 0);
		for (size_t at = 0; at < stop; at += 100000)
			assert_int_equal(
				b3cas_writer_write(w, v[1].data + at,
						   stop - at < 100000
							   ? stop - at
							   : 100000),
				0);
		b3cas_writer_abort(w);
		check_image(s, &v[0], &st);
		fsck_clean(s);
		gc_now(s);
		check_image(s, &v[0], &st);
	}
	assert_int_equal(put_image(s, &v[1], &v[0].id), 0);
	assert_true(census_of(s).deltas > 0);
	assert_int_equal(no_delta_in(s, &v[1]), 1);
	check_image(s, &v[0], &st);
	check_image(s, &v[1], &st);
	fsck_clean(s);
	assert_true(b3cas_store_delete(s, &v[1].id) >= 0);
	gc_now(s);
	check_image(s, &v[0], &st);
	assert_true(b3cas_store_delete(s, &v[0].id) >= 0);
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	free_series(v, 2);
}

/* ---- crashes ------------------------------------------------------------ */

#define CRASH_VERSIONS 6

/* The child: put the series with bases, writing each version's number
 * to fd once it is committed. */
static void crash_child(const char *dir, const image *v, int fd)
{
	b3cas_store *s = open_store(dir, false, 3);

	for (int i = 0; i < CRASH_VERSIONS; i++) {
		uint8_t b = (uint8_t)i;

		if (put_image(s, &v[i], i ? &v[i - 1].id : NULL) < 0)
			_exit(3);
		if (write(fd, &b, 1) != 1)
			_exit(4);
	}
	b3cas_store_close(s);
	_exit(0);
}

static void test_crash(void **state)
{
	unsigned long rounds = cu_env_num(
		"B3CAS_DELTA_CRASHES", getenv("B3CAS_TEST_LONG") ? 60 : 6);
	image v[CRASH_VERSIONS];
	char dir[256];
	uint64_t st = seed + 4;
	b3cas_store *s;

	(void)state;
	make_series(v, seed + 4, CRASH_VERSIONS);
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-crash"));
	s = open_store(dir, true, 3);
	assert_int_equal(b3cas_store_close(s), 0);
	for (unsigned long r = 0; r < rounds; r++) {
		int p[2], status;
		bool acked[CRASH_VERSIONS] = {false};
		uint8_t b;
		pid_t pid;

		assert_int_equal(pipe(p), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, v, p[1]);
		}
		close(p[1]);
		usleep((useconds_t)cu_range(&st, 1000, 400000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		while (read(p[0], &b, 1) == 1)
			acked[b] = true;
		close(p[0]);
		s = open_store(dir, false, 3);
		for (int i = 0; i < CRASH_VERSIONS; i++)
			if (acked[i])
				check_image(s, &v[i], &st);
		fsck_clean(s);
		/* every version put this round, one reference each: gone */
		for (int i = 0; i < CRASH_VERSIONS; i++) {
			int rc;

			do {
				rc = (int)b3cas_store_delete(s, &v[i].id);
			} while (rc >= 0);
			assert_int_equal(rc, B3CAS_ENOTFOUND);
		}
		expect_empty(s);
		assert_int_equal(b3cas_store_close(s), 0);
	}
	cu_rm_rf(dir);
	free_series(v, CRASH_VERSIONS);
}

/* ---- threads ------------------------------------------------------------ */

#define THREAD_VERSIONS 6

typedef struct writer_job {
	b3cas_store *s;
	image v[THREAD_VERSIONS];
	int kept_from; /* versions from here on are stored at the end */
} writer_job;

static atomic_bool writers_done;

static void *writer_main(void *arg)
{
	writer_job *j = arg;

	for (int i = 0; i < THREAD_VERSIONS; i++) {
		int rc = put_image(j->s, &j->v[i], i ? &j->v[i - 1].id : NULL);

		if (rc < 0)
			fail_msg("put: %s", b3cas_error_last());
		/* keep the last two */
		/* (the template is both writers': 2 references) */
		if (i >= 2 && b3cas_store_delete(j->s, &j->v[i - 2].id) < 0)
			fail_msg("delete of version %d: %s", i - 2,
				 b3cas_error_last());
	}
	j->kept_from = THREAD_VERSIONS - 2;
	return NULL;
}

static void *collector_main(void *arg)
{
	b3cas_store *s = arg;

	while (!atomic_load(&writers_done)) {
		if (cu_gc_all(s) != 0)
			fail_msg("gc: %s", b3cas_error_last());
		usleep(2000);
	}
	return NULL;
}

static void test_threads(void **state)
{
	char dir[256];
	writer_job *jobs = calloc(2, sizeof(*jobs));
	pthread_t t[3];
	b3cas_store *s;
	uint64_t st = seed + 5;

	(void)state;
	assert_non_null(jobs);
	image_len = 384u * 1024u;
	/* both series fork from one template: their chunks meet */
	for (int k = 0; k < 2; k++) {
		make_series(jobs[k].v, seed + 5, 1);
		for (int i = 1; i < THREAD_VERSIONS; i++)
			jobs[k].v[i] = make_fork(&jobs[k].v[i - 1],
						 seed * 7 + (uint64_t)k * 1000 +
							 (uint64_t)i,
						 4);
	}
	assert_true(cu_mkdtemp(dir, sizeof(dir), "delta-thr"));
	s = open_store(dir, true, 3);
	atomic_store(&writers_done, false);
	assert_int_equal(pthread_create(&t[2], NULL, collector_main, s), 0);
	for (int k = 0; k < 2; k++) {
		jobs[k].s = s;
		assert_int_equal(
			pthread_create(&t[k], NULL, writer_main, &jobs[k]), 0);
	}
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_join(t[k], NULL), 0);
	atomic_store(&writers_done, true);
	assert_int_equal(pthread_join(t[2], NULL), 0);
	gc_now(s);
	for (int k = 0; k < 2; k++)
		for (int i = jobs[k].kept_from; i < THREAD_VERSIONS; i++)
			check_image(s, &jobs[k].v[i], &st);
	fsck_clean(s);
	for (int k = 0; k < 2; k++)
		for (int i = jobs[k].kept_from; i < THREAD_VERSIONS; i++)
			assert_int_equal(b3cas_store_delete(s, &jobs[k].v[i].id),
					 0);
	expect_empty(s);
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(dir);
	for (int k = 0; k < 2; k++)
		free_series(jobs[k].v, THREAD_VERSIONS);
	free(jobs);
	image_len = image_full;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_base),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_series),
		cmocka_unit_test(test_series_frames),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_flip_flop),
		cmocka_unit_test(test_revive),
		cmocka_unit_test(test_forks),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_node_damage),
		cmocka_unit_test(test_format1),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_crash),
	};

	seed = cu_seed_from_env();
	if (getenv("B3CAS_DELTA_IMAGE_KIB")) {
		/* whole pages, past the template's zero run (pages 40-63) */
		size_t kib = strtoul(getenv("B3CAS_DELTA_IMAGE_KIB"), NULL, 10);

		if (kib < 384 || kib % 4 != 0) {
			fprintf(stderr, "B3CAS_DELTA_IMAGE_KIB: want a multiple "
					"of 4, at least 384\n");
			return 2;
		}
		image_full = image_len = kib * 1024;
	}
	/* ctest's test_delta_threads (ThreadSanitizer in CI) runs one */
	if (getenv("B3CAS_DELTA_ONLY"))
		cmocka_set_test_filter(getenv("B3CAS_DELTA_ONLY"));
	print_message("seed %llu (B3CAS_TEST_SEED)\n",
		      (unsigned long long)seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
