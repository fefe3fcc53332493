/*
 * test_fsck.c - b3cas_fsck against a store damaged in every way it names:
 * a corrupt loose file, a truncated one, a missing one, a corrupt inline
 * entry, an orphan object file, two strays, a dangling reference count.
 * Without repair it finds exactly those and changes nothing; with repair
 * (and a mirror holding some of the objects) it quarantines, heals,
 * re-indexes the orphan as a GC candidate (no references: nothing deleted
 * comes back; a put revives it) and reports exactly the one object that is
 * lost; a second check finds nothing, and every object that is not lost
 * reads back byte-exact.
 *
 * Threads: the same damaged store checked on 1, 2 and 8 threads gives the
 * same report and the same set of problems, with and without repair; the
 * callbacks are never run two at once; a callback's stop stops every
 * thread; on a store of thousands of objects the totals are exact. L2:
 * bad cache copies are reported, then deleted through the cache with
 * repair, sound ones untouched.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "test_util.h"

#define THRESHOLD 1024
#define LOOSE 6000
#define SMALL 300

static char root[256], store_dir[300], mirror_dir[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "fsck");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(mirror_dir, sizeof(mirror_dir), "%s/mirror", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

static b3cas_store *open_at(const char *dir, bool create, const char *mirror)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.mirror_dir = mirror;
	return tu_open_store(dir, &o);
}

static void tier_path(char *out, size_t n, const b3cas_oid *id)
{
	tu_object_file(out, n, store_dir, "objects", id);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

typedef struct seen {
	int by_kind[16];
	int lost;
	b3cas_oid lost_id;
} seen;

static int on_problem(const b3cas_fsck_problem *p, void *ctx)
{
	seen *w = ctx;

	w->by_kind[p->kind]++;
	assert_non_null(p->detail);
	if (p->lost) {
		w->lost++;
		w->lost_id = p->id;
	}
	return 0;
}

enum { A, B, C, N_LOOSE, D = N_LOOSE }; /* loose contents; D the orphan */

static void test_fsck_finds_and_repairs(void **state)
{
	uint64_t rng = tu_seed("fsck_finds_and_repairs");
	uint8_t loose[4][LOOSE], small[2][SMALL], junk[100];
	b3cas_oid lid[4], sid[2], dangling;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s, *m;
	char path[512];
	seen w;

	(void)state;
	for (int i = 0; i < 4; i++)
		tu_fill_random(loose[i], LOOSE, &rng);
	for (int i = 0; i < 2; i++)
		tu_fill_random(small[i], SMALL, &rng);
	tu_fill_random(junk, sizeof(junk), &rng);
	tu_fill_random(dangling.bytes, B3CAS_OID_LEN, &rng);

	/* The mirror holds A, C and the first small object, not B. */
	m = open_at(mirror_dir, true, NULL);
	assert_true(b3cas_store_put(m, &lid[A], loose[A], LOOSE) >= 0);
	assert_true(b3cas_store_put(m, &lid[C], loose[C], LOOSE) >= 0);
	assert_true(b3cas_store_put(m, &sid[0], small[0], SMALL) >= 0);
	assert_int_equal(b3cas_store_close(m), 0);

	s = open_at(store_dir, true, mirror_dir);
	for (int i = 0; i < N_LOOSE; i++)
		assert_int_equal(b3cas_store_put(s, &lid[i], loose[i], LOOSE),
				 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(b3cas_store_put(s, &sid[i], small[i], SMALL),
				 0);
	b3cas_hash(lid[D].bytes, loose[D], LOOSE);
	memset(&r, 0xff, sizeof(r));
	assert_int_equal(b3cas_fsck(s, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.objects, N_LOOSE + 2);
	assert_int_equal(r.files, N_LOOSE);
	assert_int_equal(r.bytes, N_LOOSE * LOOSE + 2 * SMALL);

	/* The damage. */
	tier_path(path, sizeof(path), &lid[A]);
	chmod(path, 0644);
	{
		int fd = open(path, O_RDWR);
		uint8_t b = (uint8_t)~loose[A][77];

		assert_int_equal(pwrite(fd, &b, 1, 77), 1);
		close(fd);
	}
	tier_path(path, sizeof(path), &lid[B]);
	assert_int_equal(truncate(path, LOOSE / 2), 0);
	tier_path(path, sizeof(path), &lid[C]);
	assert_int_equal(unlink(path), 0);
	tier_path(path, sizeof(path), &lid[D]);
	write_file(path, loose[D], LOOSE);           /* orphan */
	snprintf(path, sizeof(path), "%s/objects/00/junk", store_dir);
	write_file(path, junk, sizeof(junk));         /* stray */
	{
		b3cas_oid fake;

		memset(fake.bytes, 0, sizeof(fake.bytes)); /* folder 00 */
		fake.bytes[31] = 1;
		tier_path(path, sizeof(path), &fake);
		write_file(path, junk, sizeof(junk)); /* stray: wrong bytes */
	}
	{
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		uint8_t bad[SMALL], count[8] = {5};

		memcpy(bad, small[0], SMALL);
		bad[10] ^= 0x40;
		b3cas__store_batch_put_entry(s, b, &sid[0], bad, SMALL, true);
		rocksdb_writebatch_put_cf(b, b3cas__store_index(s)->cf[B3CAS_CF_REFS],
					  (const char *)dangling.bytes,
					  B3CAS_OID_LEN, (const char *)count,
					  8);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
	}

	/* A check changes nothing and finds each of them. */
	for (int pass = 0; pass < 2; pass++) {
		memset(&w, 0, sizeof(w));
		fo.on_problem = on_problem;
		fo.ctx = &w;
		assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
		assert_int_equal(w.by_kind[B3CAS_FSCK_CORRUPT], 2);
		assert_int_equal(w.by_kind[B3CAS_FSCK_WRONG_SIZE], 1);
		assert_int_equal(w.by_kind[B3CAS_FSCK_MISSING], 1);
		assert_int_equal(w.by_kind[B3CAS_FSCK_ORPHAN], 1);
		assert_int_equal(w.by_kind[B3CAS_FSCK_STRAY], 2);
		assert_int_equal(w.by_kind[B3CAS_FSCK_DANGLING_REFS], 1);
		assert_int_equal(r.problems, 8);
		assert_int_equal(r.corrupt + r.wrong_size + r.missing +
					 r.orphans + r.strays + r.dangling_refs,
				 8);
		assert_int_equal(r.quarantined + r.healed + r.reindexed +
					 r.removed + r.lost, 0);
		assert_int_equal(w.lost, 0);
	}

	/* Repair. */
	memset(&w, 0, sizeof(w));
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 8);
	assert_int_equal(r.healed, 3);      /* A, C, the small one */
	assert_int_equal(r.quarantined, 4); /* A, B and the two strays */
	assert_int_equal(r.reindexed, 1);   /* D */
	assert_int_equal(r.lost, 1);        /* B: not in the mirror */
	assert_int_equal(w.lost, 1);
	assert_true(b3cas_oid_equal(&w.lost_id, &lid[B]));
	assert_int_equal(r.removed, 2);     /* B's entry, the dangling count */

	/* Clean now, and everything not lost reads back exactly. */
	fo.repair = false;
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	for (int i = 0; i < 4; i++) {
		void *got;
		size_t len;
		uint64_t count = 99;
		int rc = b3cas_store_get(s, &lid[i], &got, &len);

		if (i == B) {
			assert_int_equal(rc, B3CAS_ENOTFOUND);
			continue;
		}
		if (i == D) {
			/* The orphan is a GC candidate: not stored, no
			 * reference, until a put of its bytes revives it. */
			assert_int_equal(rc, B3CAS_ENOTFOUND);
			assert_int_equal(b3cas_refcount(s, &lid[D], &count), 0);
			assert_int_equal(count, 0);
			assert_int_equal(b3cas_store_put(s, NULL, loose[D],
							 LOOSE), 0);
			rc = b3cas_store_get(s, &lid[i], &got, &len);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, LOOSE);
		assert_memory_equal(got, loose[i], LOOSE);
		b3cas_free(got);
	}
	for (int i = 0; i < 2; i++) {
		void *got;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &sid[i], &got, &len), 0);
		assert_memory_equal(got, small[i], SMALL);
		b3cas_free(got);
	}
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_repair_needs_writable(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_store *s;

	(void)state;
	s = open_at(store_dir, true, NULL);
	assert_int_equal(b3cas_store_close(s), 0);
	o.read_only = true;
	assert_int_equal(b3cas_store_open(&s, store_dir, &o), 0);
	assert_int_equal(b3cas_fsck(s, &fo, NULL), 0);
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, NULL), B3CAS_EPERM);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* Ids sorted, as the index walks them. */
static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, B3CAS_OID_LEN);
}

static void test_scrub_resumes(void **state)
{
	enum { OBJS = 50, BIG = 50000 };
	uint64_t rng = tu_seed("scrub_resumes");
	b3cas_scrub_options so = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_scrub_report r;
	static uint8_t data[OBJS][BIG];
	b3cas_oid ids[OBJS];
	char path[512], pos[400];
	b3cas_store *s;
	seen w;

	(void)state;
	s = open_at(store_dir, true, NULL);
	for (int i = 0; i < OBJS; i++) {
		tu_fill_random(data[i], BIG, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i], BIG), 0);
	}
	qsort(ids, OBJS, sizeof(ids[0]), oid_cmp);
	snprintf(pos, sizeof(pos), "%s/integrity/checksums/scrub", store_dir);

	/* Twenty objects, at 2 MB/s: paced, and the position kept. */
	so.max_objects = 20;
	so.rate_bytes = 2000000;
	assert_int_equal(b3cas_scrub(s, &so, &r), 0);
	assert_int_equal(r.found.objects, 20);
	assert_false(r.resumed);
	assert_false(r.completed);
	assert_true(r.found.seconds >= 0.4); /* 1 MB at 2 MB/s */
	assert_int_equal(access(pos, F_OK), 0);

	/* Damage one it has done: the resumed scrub does not read it again. */
	tier_path(path, sizeof(path), &ids[3]);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(truncate(path, 10), 0);
	so.rate_bytes = 0;
	memset(&w, 0, sizeof(w));
	so.on_problem = on_problem;
	so.ctx = &w;
	assert_int_equal(b3cas_scrub(s, &so, &r), 0);
	assert_true(r.resumed);
	assert_int_equal(r.found.objects, 20);
	assert_int_equal(r.found.problems, 0);
	so.max_objects = 0;
	assert_int_equal(b3cas_scrub(s, &so, &r), 0);
	assert_true(r.resumed);
	assert_true(r.completed);
	assert_int_equal(r.found.objects, OBJS - 40);
	assert_int_equal(r.found.problems, 0);
	assert_int_equal(access(pos, F_OK), -1); /* a whole pass: reset */

	/* The next pass starts over and finds the damage. */
	assert_int_equal(b3cas_scrub(s, &so, &r), 0);
	assert_false(r.resumed);
	assert_true(r.completed);
	assert_int_equal(r.found.objects, OBJS);
	assert_int_equal(r.found.wrong_size, 1);
	assert_int_equal(w.by_kind[B3CAS_FSCK_WRONG_SIZE], 1);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* ---- threads --------------------------------------------------------- */

/* What a callback saw of one problem (its strings are borrowed). */
typedef struct rec {
	int kind;
	bool has_id, lost;
	b3cas_oid id;
	char path[400], detail[160], action[100];
} rec;

#define MAX_RECS 64

typedef struct log {
	rec recs[MAX_RECS];
	int n;
	atomic_int inside;      /* callbacks running now */
	atomic_int overlapped;  /* times one started while another ran */
	int progress_calls;
	b3cas_progress last;
} log;

static void enter(log *l)
{
	if (atomic_fetch_add(&l->inside, 1) != 0)
		atomic_fetch_add(&l->overlapped, 1);
	usleep(200); /* widen the window two unserialized calls would share */
}

static int log_problem(const b3cas_fsck_problem *p, void *ctx)
{
	log *l = ctx;
	rec *r;

	enter(l);
	assert_true(l->n < MAX_RECS);
	r = &l->recs[l->n++];
	memset(r, 0, sizeof(*r));
	r->kind = p->kind;
	r->has_id = p->has_id;
	r->lost = p->lost;
	if (p->has_id)
		r->id = p->id;
	snprintf(r->path, sizeof(r->path), "%s", p->path ? p->path : "");
	snprintf(r->detail, sizeof(r->detail), "%s", p->detail);
	snprintf(r->action, sizeof(r->action), "%s",
		 p->action ? p->action : "");
	atomic_fetch_sub(&l->inside, 1);
	return 0;
}

static void log_progress(const b3cas_progress *p, void *ctx)
{
	log *l = ctx;

	enter(l);
	l->progress_calls++;
	l->last = *p;
	atomic_fetch_sub(&l->inside, 1);
}

static int rec_cmp(const void *a, const void *b)
{
	const rec *x = a, *y = b;
	int c = x->kind - y->kind;

	if (!c)
		c = memcmp(x->id.bytes, y->id.bytes, B3CAS_OID_LEN);
	if (!c)
		c = strcmp(x->path, y->path);
	if (!c)
		c = strcmp(x->detail, y->detail);
	return c;
}

static void put_raw(b3cas_store *s, int cf, const void *key, size_t klen,
		    const void *val, size_t vlen)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_put_cf(b, b3cas__store_index(s)->cf[cf], key, klen, val, vlen);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
}

enum { D_LOOSE = 40, D_INLINE = 200 };

/*
 * A store in dir (and its mirror in mdir) damaged in every way fsck
 * names, the same for the same seed: loose 0-3 corrupt, 4-6 truncated,
 * 7-9 missing; inline 0-4 corrupt; 3 orphans; 3 strays; 2 entries too
 * short to read and 4 index keys that are not ids (malformed); 2
 * dangling counts. The mirror holds loose 0, 1, 4, 7 and inline 0.
 */
static b3cas_store *build_damaged(const char *dir, const char *mdir,
				  uint64_t seed)
{
	static const char *odd_keys[] = {"", "\x00", "\x80\x01\x02\x03\x04",
					 "0123456789abcdef0123456789abcdefX"};
	static const size_t odd_lens[] = {0, 1, 5, 33};
	uint64_t rng = seed;
	uint8_t *loose[D_LOOSE], *small[D_INLINE], junk[300];
	size_t llen[D_LOOSE], slen[D_INLINE];
	b3cas_oid lid[D_LOOSE], sid[D_INLINE], id;
	char path[600];
	b3cas_store *s, *m;

	for (int i = 0; i < D_LOOSE; i++) {
		llen[i] = 1500 + tu_rand(&rng) % 5000;
		loose[i] = malloc(llen[i]);
		tu_fill_random(loose[i], llen[i], &rng);
	}
	for (int i = 0; i < D_INLINE; i++) {
		slen[i] = 50 + tu_rand(&rng) % 900;
		small[i] = malloc(slen[i]);
		tu_fill_random(small[i], slen[i], &rng);
	}
	m = open_at(mdir, true, NULL);
	for (int i = 0; i < D_LOOSE; i++)
		if (i == 0 || i == 1 || i == 4 || i == 7)
			assert_true(b3cas_store_put(m, &id, loose[i],
						    llen[i]) >= 0);
	assert_true(b3cas_store_put(m, &id, small[0], slen[0]) >= 0);
	assert_int_equal(b3cas_store_close(m), 0);

	s = open_at(dir, true, mdir);
	for (int i = 0; i < D_LOOSE; i++)
		assert_int_equal(b3cas_store_put(s, &lid[i], loose[i], llen[i]),
				 0);
	for (int i = 0; i < D_INLINE; i++)
		assert_int_equal(b3cas_store_put(s, &sid[i], small[i], slen[i]),
				 0);
	for (int i = 0; i < 10; i++) {
		tu_object_file(path, sizeof(path), dir, "objects", &lid[i]);
		assert_int_equal(chmod(path, 0644), 0);
		if (i < 4) {
			int fd = open(path, O_RDWR);
			uint8_t b = (uint8_t)~loose[i][i * 100];

			assert_int_equal(pwrite(fd, &b, 1, i * 100), 1);
			close(fd);
		} else if (i < 7) {
			assert_int_equal(truncate(path, (off_t)llen[i] / 2), 0);
		} else {
			assert_int_equal(unlink(path), 0);
		}
	}
	for (int i = 0; i < 5; i++) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		small[i][slen[i] / 2] ^= 0x10;
		b3cas__store_batch_put_entry(s, b, &sid[i], small[i], slen[i],
					     true);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
	}
	for (int i = 0; i < 3; i++) { /* orphans: sound, not indexed */
		tu_fill_random(junk, sizeof(junk), &rng);
		b3cas_hash(id.bytes, junk, sizeof(junk));
		tu_object_file(path, sizeof(path), dir, "objects", &id);
		write_file(path, junk, sizeof(junk));
	}
	snprintf(path, sizeof(path), "%s/objects/00/junk", dir);
	write_file(path, junk, sizeof(junk));
	{
		char hex[B3CAS_OID_HEX_LEN + 1];

		/* named by an id its bytes do not hash to */
		tu_fill_random(id.bytes, B3CAS_OID_LEN, &rng);
		tu_object_file(path, sizeof(path), dir, "objects", &id);
		write_file(path, junk, 100);
		/* an id in another id's folder */
		id.bytes[0] ^= 0x80;
		b3cas_oid_fmt(hex, &id);
		snprintf(path, sizeof(path), "%s/objects/%02x/%s", dir,
			 id.bytes[0] ^ 0x80, hex);
		write_file(path, junk, 100);
	}
	for (int i = 0; i < 2; i++) {
		uint8_t count[8] = {3}, shortv[3] = {1, 2, 3};

		tu_fill_random(id.bytes, B3CAS_OID_LEN, &rng);
		put_raw(s, B3CAS_CF_CONTENT, id.bytes, B3CAS_OID_LEN, shortv,
			sizeof(shortv));
		tu_fill_random(id.bytes, B3CAS_OID_LEN, &rng);
		put_raw(s, B3CAS_CF_REFS, id.bytes, B3CAS_OID_LEN, count,
			sizeof(count));
	}
	for (int i = 0; i < 4; i++)
		put_raw(s, B3CAS_CF_CONTENT, odd_keys[i], odd_lens[i], "x", 1);
	for (int i = 0; i < D_LOOSE; i++)
		free(loose[i]);
	for (int i = 0; i < D_INLINE; i++)
		free(small[i]);
	return s;
}

static void expect_same(const b3cas_fsck_report *a, const b3cas_fsck_report *b)
{
	assert_int_equal(a->objects, b->objects);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->files, b->files);
	assert_int_equal(a->problems, b->problems);
	assert_int_equal(a->corrupt, b->corrupt);
	assert_int_equal(a->missing, b->missing);
	assert_int_equal(a->wrong_size, b->wrong_size);
	assert_int_equal(a->orphans, b->orphans);
	assert_int_equal(a->strays, b->strays);
	assert_int_equal(a->malformed, b->malformed);
	assert_int_equal(a->dangling_refs, b->dangling_refs);
	assert_int_equal(a->quarantined, b->quarantined);
	assert_int_equal(a->healed, b->healed);
	assert_int_equal(a->reindexed, b->reindexed);
	assert_int_equal(a->removed, b->removed);
	assert_int_equal(a->lost, b->lost);
	assert_int_equal(a->cache_files, b->cache_files);
	assert_int_equal(a->cache_copies, b->cache_copies);
}

/*
 * The damaged store of build_damaged, checked on 1, 2 and 8 threads,
 * without and with repair: every report and every problem (kind, id,
 * path, detail, action, lost) the same, and the counts the damage
 * predicts. Catches (each tried): a key range skipped (range 0 seeking
 * "\0\0" misses the keys "" and "\0": the last progress counts 244 keys,
 * not 246) or walked twice (key_below with <=), callbacks run two at
 * once (the lock in found() removed: overlapped > 0).
 */
/* A finding's full path without the store folder ("/s-<r>-<t>/") that
 * differs between the stores compared. */
static const char *in_store(const char *path)
{
	const char *p = strstr(path, "/s-");

	p = p ? strchr(p + 1, '/') : NULL;
	return p ? p : path;
}

static void test_threads_same_report(void **state)
{
	static const unsigned threads[] = {1, 2, 8};
	uint64_t seed = tu_seed("threads_same_report");
	b3cas_fsck_report r[3];
	static log logs[3];
	char dir[400], mdir[400];

	(void)state;
	for (int repair = 0; repair < 2; repair++) {
		for (int t = 0; t < 3; t++) {
			b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
			log *l = &logs[t];
			b3cas_store *s;

			snprintf(dir, sizeof(dir), "%s/s-%d-%u", root, repair,
				 threads[t]);
			snprintf(mdir, sizeof(mdir), "%s/m-%d-%u", root,
				 repair, threads[t]);
			s = build_damaged(dir, mdir, seed);
			memset(l, 0, sizeof(*l));
			fo.repair = repair;
			fo.threads = threads[t];
			fo.on_problem = log_problem;
			fo.progress = log_progress;
			fo.ctx = l;
			assert_int_equal(b3cas_fsck(s, &fo, &r[t]), 0);
			assert_int_equal(atomic_load(&l->overlapped), 0);
			assert_int_equal(l->n, (int)r[t].problems);
			/* The last progress: every key of the index once. */
			assert_true(l->progress_calls >= 1);
			assert_int_equal(l->last.done, r[t].objects + 6);
			assert_int_equal(l->last.total, l->last.done);
			qsort(l->recs, (size_t)l->n, sizeof(rec), rec_cmp);
			if (repair) {
				b3cas_fsck_report after;

				/* Clean but for the keys that are not ids,
				 * which repair leaves. */
				fo.repair = false;
				fo.on_problem = NULL;
				fo.progress = NULL;
				assert_int_equal(b3cas_fsck(s, &fo, &after), 0);
				assert_int_equal(after.problems, 4);
				assert_int_equal(after.malformed, 4);
			}
			assert_int_equal(b3cas_store_close(s), 0);
		}
		/* What the damage predicts. */
		assert_int_equal(r[0].objects, D_LOOSE + D_INLINE);
		assert_int_equal(r[0].corrupt, 4 + 5);
		assert_int_equal(r[0].wrong_size, 3);
		assert_int_equal(r[0].missing, 3);
		assert_int_equal(r[0].orphans, 3);
		assert_int_equal(r[0].strays, 3);
		assert_int_equal(r[0].malformed, 2 + 4);
		assert_int_equal(r[0].dangling_refs, 2);
		assert_int_equal(r[0].problems, 29);
		if (repair) {
			/* The tier is walked after the entries were mended:
			 * 7 damaged files quarantined, 4 healed back. */
			assert_int_equal(r[0].files, D_LOOSE - 3 + 6 - 7 + 4);
			assert_int_equal(r[0].healed, 5);
			assert_int_equal(r[0].quarantined, 4 + 3 + 3);
			assert_int_equal(r[0].reindexed, 3);
			assert_int_equal(r[0].lost, 2 + 2 + 2 + 4);
			assert_int_equal(r[0].removed, 10 + 2 + 2);
		} else {
			assert_int_equal(r[0].files, D_LOOSE - 3 + 3 + 3);
			assert_int_equal(r[0].quarantined + r[0].healed +
						 r[0].reindexed + r[0].removed +
						 r[0].lost,
					 0);
		}
		for (int t = 1; t < 3; t++) {
			expect_same(&r[0], &r[t]);
			assert_int_equal(logs[t].n, logs[0].n);
			for (int i = 0; i < logs[0].n; i++) {
				const rec *a = &logs[0].recs[i];
				const rec *b = &logs[t].recs[i];

				assert_int_equal(a->kind, b->kind);
				assert_int_equal(a->has_id, b->has_id);
				assert_int_equal(a->lost, b->lost);
				assert_memory_equal(a->id.bytes, b->id.bytes,
						    B3CAS_OID_LEN);
				/* Full paths: the same within each store. */
				assert_string_equal(in_store(a->path),
						    in_store(b->path));
				assert_string_equal(a->detail, b->detail);
				assert_string_equal(a->action, b->action);
			}
		}
	}
}

typedef struct stopper {
	atomic_int calls;
} stopper;

static int stop_at_first(const b3cas_fsck_problem *p, void *ctx)
{
	stopper *st = ctx;

	(void)p;
	atomic_fetch_add(&st->calls, 1);
	return 7;
}

/*
 * 1000 corrupt inline entries, 8 threads, a callback that says stop at
 * once: fsck returns its value, it is called exactly once, the threads
 * stop after the object each was on (far fewer than 1000 checked) and
 * no file of the tier is looked at. Catches (each tried): a stop that is
 * not kept (fsck returns 0), one the other workers do not look at
 * (halted() ignoring stop: every object checked).
 */
static void test_threads_stop(void **state)
{
	enum { BAD = 1000 };
	uint64_t rng = tu_seed("threads_stop");
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	stopper st;
	uint8_t data[200];
	b3cas_store *s;

	(void)state;
	s = open_at(store_dir, true, NULL);
	for (int i = 0; i < BAD; i++) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		b3cas_oid id;

		tu_fill_random(id.bytes, B3CAS_OID_LEN, &rng);
		tu_fill_random(data, sizeof(data), &rng);
		b3cas__store_batch_put_entry(s, b, &id, data, sizeof(data),
					     true);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
	}
	{
		uint8_t loose[THRESHOLD * 2];
		b3cas_oid id;

		tu_fill_random(loose, sizeof(loose), &rng);
		assert_int_equal(b3cas_store_put(s, &id, loose, sizeof(loose)),
				 0);
	}
	atomic_init(&st.calls, 0);
	fo.threads = 8;
	fo.on_problem = stop_at_first;
	fo.ctx = &st;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 7);
	assert_int_equal(atomic_load(&st.calls), 1);
	assert_true(r.objects >= 1);
	assert_true(r.objects < BAD / 10);
	assert_int_equal(r.corrupt, r.problems);
	assert_int_equal(r.files, 0);

	/* Without the stop, all of them. */
	fo.on_problem = NULL;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.objects, BAD + 1);
	assert_int_equal(r.corrupt, BAD);
	assert_int_equal(r.files, 1);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * 3000 objects of random sizes (about two thirds loose): objects, files
 * and bytes are exactly what was put, on 1, 2 and 8 threads and with one
 * per CPU. Catches (tried) a range boundary that puts a key in two
 * ranges (key_below with <= instead of <: 3046 objects, not 3000).
 */
static void test_threads_exact_totals(void **state)
{
	/* Batches of 32: put_batch holds a stripe lock per object, and
	 * ThreadSanitizer follows at most 64 locks held by one thread. */
	enum { OBJS = 3000, BATCH = 32 };
	static const unsigned threads[] = {1, 2, 8, 0};
	uint64_t rng = tu_seed("threads_exact_totals");
	uint64_t bytes = 0, loose = 0;
	static uint8_t data[BATCH][4000];
	const void *ptrs[BATCH];
	size_t lens[BATCH];
	b3cas_store *s;

	(void)state;
	s = open_at(store_dir, true, NULL);
	for (int done = 0; done < OBJS; done += BATCH) {
		int n = OBJS - done < BATCH ? OBJS - done : BATCH;

		for (int i = 0; i < n; i++) {
			lens[i] = 100 + tu_rand(&rng) % 3900;
			tu_fill_random(data[i], lens[i], &rng);
			ptrs[i] = data[i];
			bytes += lens[i];
			loose += lens[i] > THRESHOLD;
		}
		assert_int_equal(b3cas_store_put_batch(s, NULL, NULL, ptrs,
						       lens, (size_t)n),
				 0);
	}
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
		b3cas_fsck_report r;

		fo.threads = threads[t];
		assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
		assert_int_equal(r.problems, 0);
		assert_int_equal(r.objects, OBJS);
		assert_int_equal(r.files, loose);
		assert_int_equal(r.bytes, bytes);
	}
	assert_int_equal(b3cas_store_close(s), 0);
}

/* ---- L2 copies ------------------------------------------------------- */

static void copy_path(char *out, size_t n, const char *dir,
		      const b3cas_oid *id)
{
	tu_object_file(out, n, dir, "cache/l2", id);
}

/* Files in cache/l2/00..ff. */
static uint64_t count_copies(const char *dir)
{
	uint64_t n = 0;

	for (int sub = 0; sub < 256; sub++) {
		char path[400];
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "%s/cache/l2/%02x", dir, sub);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

static b3cas_store *open_l2(const char *dir, bool create)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.l2_bytes = 64u << 20;
	return tu_open_store(dir, &o);
}

/* What a file is: its inode, size and bytes, to show it untouched. */
typedef struct file_state {
	ino_t ino;
	off_t size;
	uint8_t bytes[8000];
} file_state;

static void file_state_get(file_state *out, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size <= (off_t)sizeof(out->bytes));
	memset(out, 0, sizeof(*out));
	out->ino = st.st_ino;
	out->size = st.st_size;
	assert_int_equal(read(fd, out->bytes, sizeof(out->bytes)),
			 (ssize_t)st.st_size);
	close(fd);
}

static void expect_untouched(const file_state *was, const char *path)
{
	file_state now;

	file_state_get(&now, path);
	assert_int_equal(now.ino, was->ino);
	assert_int_equal(now.size, was->size);
	assert_memory_equal(now.bytes, was->bytes, sizeof(now.bytes));
}

/*
 * L2 copies of 12 loose objects, then: copy 0 bit-flipped, copy 1
 * truncated, a copy of an object whose entry is gone (X), a file that is
 * not named by an id, a sound copy of an id never stored placed after the
 * open (so no L2 entry names it). fsck without repair (on 2 threads)
 * reports exactly those 5 and changes no file; with repair it deletes
 * them, the sound copies stay as they were (same inode, same bytes), and
 * L2's entries equal the files in the folder. A read-only handle (no L2
 * of its own) reports a bad copy and leaves it. Catches (each tried):
 * repair deleting files behind L2's back (b3cas__l2_discard unlinking
 * without erasing: 13 entries, 10 files), copies not hashed (bytes
 * hashed short), a repair that runs without repair (a file gone).
 */
static void test_l2_copies(void **state)
{
	enum { N = 12, SIZE = 5000 };
	uint64_t rng = tu_seed("l2_copies");
	static uint8_t data[N + 1][SIZE];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_cache_stats cs;
	static file_state before[N + 3];
	char path[N + 3][400];
	b3cas_oid ids[N + 1], never;
	uint8_t flip;
	b3cas_store *s;
	seen w;

	(void)state;
	s = open_l2(store_dir, true);
	for (int i = 0; i <= N; i++) {
		void *got;
		size_t len;

		tu_fill_random(data[i], SIZE, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i], SIZE), 0);
		assert_int_equal(b3cas_store_get(s, &ids[i], &got, &len), 0);
		b3cas_free(got);
		copy_path(path[i], sizeof(path[i]), store_dir, &ids[i]);
		assert_int_equal(access(path[i], F_OK), 0);
	}
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N + 1);
	assert_int_equal(count_copies(store_dir), N + 1);
	assert_int_equal(b3cas_fsck(s, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.cache_files, N + 1);
	assert_int_equal(r.bytes, 2ull * (N + 1) * SIZE);

	/* The damage. */
	{
		int fd = open(path[0], O_RDWR);

		assert_int_equal(pread(fd, &flip, 1, 1234), 1);
		flip ^= 0x04;
		assert_int_equal(pwrite(fd, &flip, 1, 1234), 1);
		close(fd);
	}
	assert_int_equal(truncate(path[1], SIZE - 1), 0);
	{
		/* X = ids[N]: its entry and tier file gone, its copy left. */
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		char tier[400];

		b3cas__store_batch_remove(s, b, &ids[N]);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
		tier_path(tier, sizeof(tier), &ids[N]);
		assert_int_equal(unlink(tier), 0);
	}
	snprintf(path[N + 1], sizeof(path[N + 1]), "%s/cache/l2/00/junk",
		 store_dir);
	write_file(path[N + 1], data[0], 10);
	tu_fill_random(data[N], SIZE, &rng);
	b3cas_hash(never.bytes, data[N], SIZE);
	copy_path(path[N + 2], sizeof(path[N + 2]), store_dir, &never);
	write_file(path[N + 2], data[N], SIZE);
	for (int i = 0; i < N + 3; i++)
		file_state_get(&before[i], path[i]);

	/* Reported, nothing changed. */
	memset(&w, 0, sizeof(w));
	fo.threads = 2;
	fo.on_problem = on_problem;
	fo.ctx = &w;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_files, N + 3);
	assert_int_equal(r.cache_copies, 5);
	assert_int_equal(r.problems, 5);
	assert_int_equal(w.by_kind[B3CAS_FSCK_CACHE_COPY], 5);
	for (int i = 0; i < N + 3; i++)
		expect_untouched(&before[i], path[i]);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N + 1);

	/* Repaired: the bad ones gone, through L2's index. */
	memset(&w, 0, sizeof(w));
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_copies, 5);
	assert_int_equal(r.problems, 5);
	assert_int_equal(r.lost, 0);
	assert_int_equal(access(path[0], F_OK), -1);
	assert_int_equal(access(path[1], F_OK), -1);
	for (int i = N; i < N + 3; i++)
		assert_int_equal(access(path[i], F_OK), -1);
	for (int i = 2; i < N; i++)
		expect_untouched(&before[i], path[i]);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N - 2);
	assert_int_equal(count_copies(store_dir), N - 2);
	fo.repair = false;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.cache_files, N - 2);
	/* Damaged copies are read from the tier again, and copied again. */
	for (int i = 0; i < 2; i++) {
		void *got;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[i], &got, &len), 0);
		assert_memory_equal(got, data[i], SIZE);
		b3cas_free(got);
	}
	assert_int_equal(b3cas_store_close(s), 0);

	/* Read-only: the writer's copies are judged and left alone. */
	assert_int_equal(truncate(path[2], 10), 0);
	file_state_get(&before[2], path[2]);
	{
		b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

		o.read_only = true;
		assert_int_equal(b3cas_store_open(&s, store_dir, &o), 0);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_files, N);
	assert_int_equal(r.cache_copies, 1);
	assert_int_equal(w.by_kind[B3CAS_FSCK_CACHE_COPY], 1);
	expect_untouched(&before[2], path[2]);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsck_finds_and_repairs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_needs_writable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrub_resumes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads_same_report,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_stop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads_exact_totals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_l2_copies, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
