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
 * repair, sound ones untouched. Chunking stores: chunks' held counts
 * damaged in every way are found exactly and mended (test_fsck_held.c).
 * Names, leases' references and links tops naming objects that are not
 * stored are each one root finding (test_roots).
 *
 * This file holds main() (the case list, in order), the shared setup and
 * helpers (test_fsck_int.h) and the single-threaded cases; the threaded
 * cases are in test_fsck_threads.c, the L2 case in test_fsck_l2.c, the
 * held counts' in test_fsck_held.c.
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

#define LOOSE 6000
#define SMALL 300

char root[256], store_dir[300], mirror_dir[300];

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

b3cas_store *open_at(const char *dir, bool create, const char *mirror)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.mirror_dir = mirror;
	return tu_open_store(dir, &o);
}

void tier_path(char *out, size_t n, const b3cas_oid *id)
{
	tu_object_file(out, n, store_dir, "objects", id);
}

void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void put_raw(b3cas_store *s, int cf, const void *key, size_t klen,
	     const void *val, size_t vlen)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_put_cf(b, b3cas__store_index(s)->cf[cf], key, klen, val, vlen);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
}

void del_raw(b3cas_store *s, int cf, const void *key, size_t klen)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_delete_cf(b, b3cas__store_index(s)->cf[cf], key,
				     klen);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
}

uint8_t *get_raw(b3cas_store *s, int cf, const void *key, size_t klen,
		 size_t *vlen)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	uint8_t *out;

	if (b3cas__index_get(b3cas__store_index(s), cf, key, klen, &v) != 1)
		return NULL;
	p = rocksdb_pinnableslice_value(v, vlen);
	out = malloc(*vlen + 1);
	assert_non_null(out);
	memcpy(out, p, *vlen);
	rocksdb_pinnableslice_destroy(v);
	return out;
}

int on_problem(const b3cas_fsck_problem *p, void *ctx)
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

/*
 * b3cas_store_read_at of objects the index holds, their entries damaged:
 * a whole read (straight into the caller's buffer) and a part are
 * B3CAS_ECORRUPT, counted, and leave no bad byte in the buffer's place
 * of a good one; the one the mirror holds reads healed, whole.
 */
static void test_read_at_damaged(void **state)
{
	uint64_t rng = tu_seed("read_at_damaged");
	uint8_t small[2][SMALL], buf[SMALL + 1];
	b3cas_oid sid[2];
	b3cas_stats st;
	b3cas_store *s, *m;
	size_t n = 7;

	(void)state;
	for (int i = 0; i < 2; i++)
		tu_fill_random(small[i], SMALL, &rng);
	m = open_at(mirror_dir, true, NULL);
	assert_true(b3cas_store_put(m, &sid[0], small[0], SMALL) >= 0);
	assert_int_equal(b3cas_store_close(m), 0);
	s = open_at(store_dir, true, mirror_dir);
	for (int i = 0; i < 2; i++) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		uint8_t bad[SMALL];

		assert_int_equal(b3cas_store_put(s, &sid[i], small[i], SMALL),
				 0);
		memcpy(bad, small[i], SMALL);
		bad[10] ^= 0x40;
		b3cas__store_batch_put_entry(s, b, &sid[i], bad, SMALL, true);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
	}
	assert_int_equal(b3cas_store_close(s), 0); /* no L1 copy left */
	s = open_at(store_dir, false, mirror_dir);
	for (int whole = 1; whole >= 0; whole--) {
		memset(buf, 0, sizeof(buf));
		assert_int_equal(b3cas_store_read_at(s, &sid[1], whole ? 0 : 5,
						     buf,
						     whole ? sizeof(buf) : 9,
						     &n),
				 B3CAS_ECORRUPT);
		assert_int_equal(n, 0);
		assert_non_null(strstr(b3cas_error_last(), "mirror"));
	}
	memset(buf, 0, sizeof(buf));
	assert_int_equal(b3cas_store_read_at(s, &sid[0], 0, buf, sizeof(buf),
					     &n),
			 0);
	assert_int_equal(n, SMALL);
	assert_memory_equal(buf, small[0], SMALL);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.corrupt_reads, 3);
	assert_int_equal(st.healed, 1);
	/* healed in the index too: read again, nothing more counted */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(b3cas_store_read_at(s, &sid[0], 0, buf, SMALL, &n),
			 0);
	assert_memory_equal(buf, small[0], SMALL);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.corrupt_reads, 3);
	assert_int_equal(b3cas_store_close(s), 0);
}

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


/* Names, leases and links that name what is not stored: one root
 * finding each, none before the damage, nothing repaired. */
static void test_roots(void **state)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s;
	b3cas_lease *l;
	b3cas_oid a, b, c, x;
	seen w;

	(void)state;
	s = open_at(store_dir, true, NULL);
	assert_int_equal(b3cas_store_put(s, &a, "named", 5), 0);
	assert_int_equal(b3cas_store_put(s, &b, "linked", 6), 0);
	assert_int_equal(b3cas_store_put(s, &c, "leased", 6), 0);
	assert_int_equal(b3cas_store_put_linked(s, &x, "holder", 6, &b, 1), 0);
	assert_int_equal(b3cas_name_set(s, "ckpt/s/1", &a), 0);
	assert_int_equal(b3cas_lease_open(s, &l), 0);
	assert_int_equal(b3cas_lease_ref(l, &c), 0);
	fo.on_problem = on_problem;
	fo.ctx = &w;
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	/* the three objects' entries go behind the store's back */
	del_raw(s, B3CAS_CF_CONTENT, a.bytes, B3CAS_OID_LEN);
	del_raw(s, B3CAS_CF_REFS, a.bytes, B3CAS_OID_LEN);
	del_raw(s, B3CAS_CF_CONTENT, c.bytes, B3CAS_OID_LEN);
	del_raw(s, B3CAS_CF_REFS, c.bytes, B3CAS_OID_LEN);
	del_raw(s, B3CAS_CF_CONTENT, x.bytes, B3CAS_OID_LEN);
	del_raw(s, B3CAS_CF_REFS, x.bytes, B3CAS_OID_LEN);
	b3cas_cache_evict(s, &a);
	b3cas_cache_evict(s, &c);
	b3cas_cache_evict(s, &x);
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.roots, 3);
	assert_int_equal(w.by_kind[B3CAS_FSCK_ROOT], 3);
	assert_int_equal(r.problems, 3);
	assert_string_equal(b3cas_fsck_kind_name(B3CAS_FSCK_ROOT), "root");
	/* a repair leaves them: the bytes are gone */
	fo.repair = true;
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.roots, 3);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_name_delete(s, "ckpt/s/1"), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_at_damaged, setup,
						teardown),
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
		cmocka_unit_test_setup_teardown(test_held_clean, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_held_damage, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_held_missing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_held_live, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_node_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_roots, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
