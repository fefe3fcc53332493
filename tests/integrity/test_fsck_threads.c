/*
 * test_fsck_threads.c - test_fsck's cases for a multi-threaded check: a
 * store damaged the same way for the same seed (build_damaged) checked on
 * 1, 2 and 8 threads gives the same report and the same problems, with
 * and without repair, its callbacks never run two at once; a callback's
 * stop stops every thread; on thousands of objects the totals are exact.
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
#include "test_fsck_int.h"
#include "test_util.h"

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

void test_threads_same_report(void **state)
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
void test_threads_stop(void **state)
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
void test_threads_exact_totals(void **state)
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

