/*
 * test_dedup.c - reference counts at their edges, garbage collection's
 * grace period and dry run, the bloom filter's false-positive rate against
 * its target, and the filter's life across close, reopen, a stale file
 * and a damaged file.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"
#include "filter/filter.h"
#include "filter/bloom.h"
#include "filter/known.h"
#include "util/histogram.h"
#include "test_util.h"

static char root[64];

static b3cas_store *open_new(void)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	snprintf(root, sizeof(root), "/tmp/b3cas-dedup-XXXXXX");
	assert_non_null(mkdtemp(root));
	o.create = true;
	o.inline_threshold = 1024;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	return s;
}

static b3cas_store *reopen(void)
{
	b3cas_store *s;

	assert_int_equal(b3cas_store_open(&s, root, NULL), 0);
	return s;
}

static void remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void wait_filter(b3cas_store *s)
{
	for (int i = 0; i < 10000 && (b3cas__filter_building(b3cas__store_filter(s)) ||
				      !b3cas__filter_bloom(b3cas__store_filter(s)));
	     i++)
		usleep(1000);
	assert_non_null(b3cas__filter_bloom(b3cas__store_filter(s)));
	assert_false(b3cas__filter_building(b3cas__store_filter(s)));
}

static void test_refcount_edges(void **state)
{
	b3cas_store *s = open_new();
	b3cas_oid id, missing;
	uint64_t n = 99;
	char big[3000];

	(void)state;
	memset(&missing, 0x5a, sizeof(missing));
	/* a reference to nothing, a removal below zero */
	assert_int_equal(b3cas_ref_add(s, &missing), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_ref_remove(s, &missing), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_refcount(s, &missing, &n), B3CAS_ENOTFOUND);

	memset(big, 7, sizeof(big)); /* loose: above the 1 KiB threshold */
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	assert_int_equal(b3cas_refcount(s, &id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b3cas_ref_add(s, &id), 2);
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 1);
	assert_int_equal(b3cas_refcount(s, &id, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(b3cas_ref_remove(s, &id), 2);
	assert_int_equal(b3cas_ref_remove(s, &id), 1);
	assert_int_equal(b3cas_ref_remove(s, &id), 0);
	/* now a candidate: gone for readers, count 0, bytes still there */
	assert_int_equal(b3cas_store_exists(s, &id), 0);
	assert_int_equal(b3cas_refcount(s, &id, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(b3cas_ref_add(s, &id), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_ref_remove(s, &id), B3CAS_ENOTFOUND);
	{
		b3cas_object_info info;
		void *data;
		size_t len;

		assert_int_equal(b3cas_store_stat(s, &id, &info),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_store_get(s, &id, &data, &len),
				 B3CAS_ENOTFOUND);
	}
	/* a put revives it as new */
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	assert_int_equal(b3cas_refcount(s, &id, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b3cas_store_exists(s, &id), 1);

	/* overflow: a count at the maximum refuses one more */
	{
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		uint8_t v[8];

		b3cas__put_u64(v, UINT64_MAX);
		rocksdb_writebatch_put_cf(b, b3cas__store_index(s)->cf[B3CAS_CF_REFS],
					  (const char *)id.bytes, 32,
					  (const char *)v, 8);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
		assert_int_equal(b3cas_ref_add(s, &id), B3CAS_ERANGE);
		assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)),
				 B3CAS_ERANGE);
		assert_int_equal(b3cas_refcount(s, &id, &n), 0);
		assert_true(n == UINT64_MAX);
		assert_int_equal(b3cas_ref_remove(s, &id), INT64_MAX);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	remove_root();
}

static size_t loose_files(void)
{
	char cmd[160];
	FILE *p;
	size_t n = 0;

	/* Object files only: objects/b3cas.owner is the folder's mark. */
	snprintf(cmd, sizeof(cmd),
		 "find '%s/objects' -mindepth 2 -type f | wc -l", root);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%zu", &n), 1);
	pclose(p);
	return n;
}

static void test_gc_grace_and_dry_run(void **state)
{
	b3cas_store *s = open_new();
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r;
	b3cas_oid ids[40];
	char buf[2000];

	(void)state;
	for (int i = 0; i < 40; i++) {
		memset(buf, i, sizeof(buf));
		/* even: inline (100 bytes), odd: loose */
		assert_int_equal(b3cas_store_put(s, &ids[i], buf,
						 i % 2 ? sizeof(buf) : 100),
				 0);
	}
	for (int i = 0; i < 30; i++)
		assert_int_equal(b3cas_store_delete(s, &ids[i]), 0);
	assert_int_equal(loose_files(), 20);

	o.grace_ns = 3600ull * 1000000000ull; /* an hour: all too young */
	assert_int_equal(b3cas_gc(s, &o, &r), 0);
	assert_int_equal(r.candidates, 30);
	assert_int_equal(r.young, 30);
	assert_int_equal(r.objects, 0);

	o.grace_ns = 0;
	o.dry_run = true;
	assert_int_equal(b3cas_gc(s, &o, &r), 0);
	assert_int_equal(r.objects, 30);
	assert_int_equal(r.bytes, 15 * 100 + 15 * sizeof(buf));
	assert_int_equal(loose_files(), 20); /* nothing removed */

	/* one revived before the real collection */
	memset(buf, 1, sizeof(buf));
	assert_int_equal(b3cas_store_put(s, &ids[1], buf, sizeof(buf)), 0);
	o.dry_run = false;
	o.normal_priority = true; /* in this thread; the last one is not */
	assert_int_equal(b3cas_gc(s, &o, &r), 0);
	assert_int_equal(r.objects, 29);
	assert_int_equal(r.bytes, 15 * 100 + 14 * sizeof(buf));
	o.normal_priority = false;
	assert_int_equal(loose_files(), 6); /* 5 never deleted + revived */
	for (int i = 0; i < 40; i++)
		assert_int_equal(b3cas_store_exists(s, &ids[i]),
				 i >= 30 || i == 1);
	assert_int_equal(b3cas_gc(s, &o, &r), 0);
	assert_int_equal(r.candidates, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_root();
}

/*
 * GC decides from a candidate's refs entry alone; a mark that is not as
 * written (here the shorter one of before sizes were kept in it) sends
 * it to the content entry instead, and a live object's count is never
 * taken for a mark.
 */
static void test_gc_marks(void **state)
{
	b3cas_store *s = open_new();
	b3cas_gc_report r;
	b3cas_oid a, b, c;
	uint8_t mark[16] = {0};
	char *err = NULL;
	char buf[3000];

	(void)state;
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(b3cas_store_put(s, &a, buf, 100), 0);
	assert_int_equal(b3cas_store_put(s, &b, buf, sizeof(buf)), 0);
	assert_int_equal(b3cas_store_put(s, &c, buf, 50), 0);
	assert_int_equal(b3cas_store_put(s, NULL, buf, 50), 1);
	assert_int_equal(b3cas_store_delete(s, &a), 0);
	assert_int_equal(b3cas_store_delete(s, &b), 0);
	/* a's mark replaced by a 16-byte one: count 0, time 0 */
	rocksdb_put_cf(b3cas__store_index(s)->db, b3cas__store_index(s)->write, b3cas__store_index(s)->cf[B3CAS_CF_REFS],
		       (const char *)a.bytes, 32, (const char *)mark,
		       sizeof(mark), &err);
	assert_null(err);
	assert_int_equal(b3cas_gc(s, NULL, &r), 0);
	assert_int_equal(r.candidates, 2);
	assert_int_equal(r.objects, 2);
	assert_int_equal(r.bytes, 100 + sizeof(buf));
	assert_int_equal(loose_files(), 0);
	assert_int_equal(b3cas_store_exists(s, &c), 1); /* count 2 */
	assert_int_equal(b3cas_gc(s, NULL, &r), 0);
	assert_int_equal(r.candidates, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_root();
}

/*
 * The set of ids known stored must never say yes for an id it was not
 * given (or was told to drop): a false yes would let a put count a
 * reference to bytes that are not there. It forgets only by eviction, and
 * holds at most its capacity.
 */
static void test_known_set(void **state)
{
	uint64_t rng = tu_seed("dedup_known");
	const uint64_t cap = b3cas__known_capacity();
	const size_t n = (size_t)(2 * cap);
	b3cas_known *k = b3cas__known_new();
	b3cas_oid *ids = malloc(n * sizeof(*ids));
	b3cas_oid other;
	uint64_t held = 0, recent = 0;

	(void)state;
	assert_non_null(k);
	assert_non_null(ids);
	assert_false(b3cas__known_has(NULL, &ids[0])); /* no set: no */
	for (size_t i = 0; i < n; i++) {
		tu_fill_random(ids[i].bytes, 32, &rng);
		b3cas__known_add(k, &ids[i]);
		b3cas__known_add(k, &ids[i]); /* twice: one slot */
		assert_true(b3cas__known_has(k, &ids[i]));
	}
	for (size_t i = 0; i < n; i++) {
		bool has = b3cas__known_has(k, &ids[i]);

		held += has;
		recent += has && i >= n - n / 16;
	}
	/* full, within capacity, and mostly the newest ids */
	assert_true(held <= cap);
	assert_true(held > cap / 2);
	assert_true(recent > (n / 16) * 9 / 10);
	for (uint64_t i = 0; i < 1000000; i++) {
		tu_fill_random(other.bytes, 32, &rng);
		assert_false(b3cas__known_has(k, &other));
	}
	/* an id that differs in its last byte only is another id */
	other = ids[n - 1];
	other.bytes[31] ^= 1;
	assert_false(b3cas__known_has(k, &other));
	for (size_t i = n - n / 16; i < n; i++) {
		b3cas__known_drop(k, &ids[i]);
		assert_false(b3cas__known_has(k, &ids[i]));
	}
	b3cas__known_free(k);
	free(ids);
}

/* The false-positive rate at the filter's capacity, against its 1%
 * target; and never a false negative. */
static void test_bloom_rate(void **state)
{
	uint64_t rng = tu_seed("dedup_bloom");
	const uint64_t n = 200000, probes = 1000000;
	b3cas_bloom *b = b3cas__bloom_new(n);
	b3cas_oid id;
	uint64_t fp = 0, rng2;
	double rate;

	(void)state;
	assert_non_null(b);
	rng2 = rng;
	for (uint64_t i = 0; i < n; i++) {
		tu_fill_random(id.bytes, 32, &rng);
		b3cas__bloom_add(b, &id);
	}
	for (uint64_t i = 0; i < n; i++) {
		tu_fill_random(id.bytes, 32, &rng2);
		assert_true(b3cas__bloom_may_contain(b, &id));
	}
	for (uint64_t i = 0; i < probes; i++) {
		tu_fill_random(id.bytes, 32, &rng);
		fp += b3cas__bloom_may_contain(b, &id);
	}
	rate = (double)fp / (double)probes;
	fprintf(stderr, "[test_dedup] bloom filter at capacity (%llu ids, "
		"%d bits each): %.3f%% false positives over %llu probes "
		"(target <= 1%%)\n",
		(unsigned long long)n, B3CAS_BLOOM_BITS_PER_ID, rate * 100,
		(unsigned long long)probes);
	assert_true(rate <= 0.01);
	b3cas__bloom_free(b);
}

static void put_many(b3cas_store *s, b3cas_oid *ids, int n, int salt)
{
	for (int i = 0; i < n; i++) {
		int v[2] = {i, salt};

		assert_int_equal(b3cas_store_put(s, &ids[i], v, sizeof(v)), 0);
	}
}

static void all_in_filter(b3cas_store *s, const b3cas_oid *ids, int n)
{
	const b3cas_bloom *b = b3cas__filter_bloom(b3cas__store_filter(s));

	assert_non_null(b);
	for (int i = 0; i < n; i++)
		assert_true(b3cas__bloom_may_contain(b, &ids[i]));
}

static void test_filter_lifecycle(void **state)
{
	enum { N = 20000 };
	b3cas_oid *ids = calloc(N + 1, sizeof(*ids));
	b3cas_store *s = open_new();
	char path[128], saved[160], cmd[400];
	struct stat st;
	bool dup;
	b3cas_oid id;

	(void)state;
	assert_non_null(ids);
	wait_filter(s);
	put_many(s, ids, N, 1);
	all_in_filter(s, ids, N);
	/* new content: the filter answered, the index was not asked */
	{
		uint64_t skips, hits, false_pos;

		b3cas__filter_counters(b3cas__store_filter(s), &skips, &hits,
				       &false_pos);

		assert_true(skips >= N * 95 / 100);
	}
	assert_int_equal(b3cas_dedup_check(s, "nope", 4, &id, &dup), 0);
	assert_false(dup);
	{
		int v[2] = {7, 1};

		assert_int_equal(b3cas_dedup_check(s, v, sizeof(v), &id, &dup),
				 0);
		assert_true(dup);
		assert_memory_equal(&id, &ids[7], sizeof(id));
	}
	assert_int_equal(b3cas_store_close(s), 0);

	/* saved at close, loaded at open without a rebuild, then deleted */
	snprintf(path, sizeof(path), "%s/cache/bloom", root);
	assert_int_equal(stat(path, &st), 0);
	snprintf(saved, sizeof(saved), "%s/bloom.saved", root);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, saved);
	assert_int_equal(system(cmd), 0);
	s = reopen();
	assert_false(b3cas__filter_building(b3cas__store_filter(s)));
	assert_non_null(b3cas__filter_bloom(b3cas__store_filter(s)));
	assert_int_not_equal(stat(path, &st), 0);
	all_in_filter(s, ids, N);
	put_many(s, ids + N, 1, 2); /* one more object: the index moves on */
	assert_int_equal(b3cas_store_close(s), 0);

	/* a file from before that write is stale: rebuilt, not trusted */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", saved, path);
	assert_int_equal(system(cmd), 0);
	s = reopen();
	wait_filter(s);
	all_in_filter(s, ids, N + 1);
	assert_int_equal(b3cas_store_close(s), 0);

	/* a damaged file is rebuilt too */
	snprintf(cmd, sizeof(cmd),
		 "printf 'X' | dd of='%s' bs=1 seek=100 conv=notrunc "
		 "status=none", path);
	assert_int_equal(system(cmd), 0);
	s = reopen();
	wait_filter(s);
	all_in_filter(s, ids, N + 1);
	assert_int_equal(b3cas_store_close(s), 0);
	free(ids);
	remove_root();
}

static void spit(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Two filters hold the same bits. */
static void same_words(const b3cas_bloom *a, const b3cas_bloom *b)
{
	assert_int_equal(a->nblocks, b->nblocks);
	assert_int_equal(a->capacity, b->capacity);
	for (uint64_t i = 0; i < a->nblocks * 8; i++)
		assert_true(atomic_load(&a->words[i]) ==
			    atomic_load(&b->words[i]));
}

/*
 * The saved filter file on its own: saved and loaded back bit for bit
 * with its count and stamp; written in the layout bloom.c documents (a
 * 64-byte header, the words little endian, the BLAKE3 of all before);
 * a file of version 1 (a 40-byte header) still loads; a loaded filter
 * takes adds without changing the file it came from; and a damaged,
 * short, foreign or missing file is refused with its own error.
 */
static void test_bloom_file(void **state)
{
	uint64_t rng = tu_seed("dedup_bloom_file");
	char dir[64], path[128], tmp[128];
	b3cas_bloom *b = b3cas__bloom_new(5000), *l = NULL;
	uint64_t count = 0, stamp = 0;
	uint8_t *file, *v1, hash[32];
	size_t len, nbytes;
	b3cas_oid id;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/b3cas-bloomfile-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bloom", dir);
	snprintf(tmp, sizeof(tmp), "%s/bloom.tmp", dir);
	assert_non_null(b);
	for (int i = 0; i < 5000; i++) {
		tu_fill_random(id.bytes, 32, &rng);
		b3cas__bloom_add(b, &id);
	}
	assert_int_equal(b3cas__bloom_save(b, 5000, 123456789, path, tmp), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path), 0);
	assert_int_equal(count, 5000);
	assert_int_equal(stamp, 123456789);
	same_words(b, l);

	/* the layout, byte for byte */
	nbytes = (size_t)b->nblocks * 64;
	file = (uint8_t *)tu_read_file(path, &len);
	assert_int_equal(len, 64 + nbytes + 32);
	assert_memory_equal(file, "B3BLOOM2", 8);
	for (size_t i = 40; i < 64; i++)
		assert_int_equal(file[i], 0);
	for (size_t i = 0; i < nbytes / 8; i++) {
		uint64_t w = 0;

		for (int k = 7; k >= 0; k--)
			w = w << 8 | file[64 + i * 8 + (size_t)k];
		assert_true(w == atomic_load(&b->words[i]));
	}
	b3cas_hash(hash, file, 64 + nbytes);
	assert_memory_equal(hash, file + 64 + nbytes, 32);

	/* adds to a loaded filter change it, not its file */
	for (int i = 0; i < 2000; i++) {
		tu_fill_random(id.bytes, 32, &rng);
		b3cas__bloom_add(l, &id);
		assert_true(b3cas__bloom_may_contain(l, &id));
	}
	{
		size_t len2;
		uint8_t *again = (uint8_t *)tu_read_file(path, &len2);

		assert_int_equal(len2, len);
		assert_memory_equal(again, file, len);
		free(again);
	}
	b3cas__bloom_free(l);
	l = NULL;

	/* version 1: a 40-byte header, the same words, its own hash */
	v1 = malloc(40 + nbytes + 32);
	assert_non_null(v1);
	memcpy(v1, "B3BLOOM1", 8);
	put_le64(v1 + 8, b->nblocks);
	put_le64(v1 + 16, b->capacity);
	put_le64(v1 + 24, 77);
	put_le64(v1 + 32, 88);
	memcpy(v1 + 40, file + 64, nbytes);
	b3cas_hash(v1 + 40 + nbytes, v1, 40 + nbytes);
	spit(path, v1, 40 + nbytes + 32);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path), 0);
	assert_int_equal(count, 77);
	assert_int_equal(stamp, 88);
	same_words(b, l);
	b3cas__bloom_free(l);

	/* damage: one bit of the words, of the header; cut short; foreign */
	file[64 + nbytes / 2] ^= 0x10;
	spit(path, file, len);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ECORRUPT);
	file[64 + nbytes / 2] ^= 0x10;
	file[20] ^= 1; /* capacity */
	spit(path, file, len);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ECORRUPT);
	file[20] ^= 1;
	spit(path, file, len - 1);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ECORRUPT);
	spit(path, file, 50);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ECORRUPT);
	memcpy(file, "B3BLOOM9", 8);
	spit(path, file, len);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ECORRUPT);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(b3cas__bloom_load(&l, &count, &stamp, path),
			 B3CAS_ENOTFOUND);
	assert_int_equal(rmdir(dir), 0);
	free(v1);
	free(file);
	b3cas__bloom_free(b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Quantiles read from the histogram against the exact ones of the same
 * values: never below, at most 1/16 above. */
static void test_histogram(void **state)
{
	enum { N = 100000 };
	static b3cas_histogram h;
	b3cas_hist_summary *sum = malloc(sizeof(*sum));
	uint64_t *v = malloc(N * sizeof(*v)), rng = tu_seed("histogram");
	const double qs[] = {0.5, 0.9, 0.99, 0.999};

	(void)state;
	assert_non_null(sum);
	assert_non_null(v);
	for (int i = 0; i < N; i++) {
		/* log-uniform from 1 ns to about 17 s */
		int bits = (int)(tu_rand(&rng) % 34);

		v[i] = 1 + (tu_rand(&rng) & ((1ull << bits) - 1));
		b3cas__hist_record(&h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	b3cas__hist_summarize(&h, sum);
	assert_int_equal(sum->count, N);
	for (int i = 0; i < 4; i++) {
		uint64_t exact = v[(size_t)(qs[i] * N)];
		uint64_t got = b3cas__hist_quantile(sum, qs[i]);

		assert_true(got >= exact);
		assert_true((double)got <= (double)exact * (1 + 1.0 / 16) + 1);
	}
	free(sum);
	free(v);
}

static void test_stats_counts(void **state)
{
	b3cas_store *s = open_new();
	b3cas_stats st;
	b3cas_oid ids[10];
	char buf[3000];

	(void)state;
	for (int i = 0; i < 10; i++) {
		memset(buf, i, sizeof(buf));
		assert_int_equal(b3cas_store_put(s, &ids[i], buf,
						 i < 5 ? 100 : sizeof(buf)),
				 0);
	}
	for (int i = 0; i < 4; i++) { /* duplicates of 0 and 5 */
		memset(buf, i % 2 ? 5 : 0, sizeof(buf));
		assert_int_equal(b3cas_store_put(s, NULL, buf,
						 i % 2 ? sizeof(buf) : 100),
				 1);
	}
	for (int i = 0; i < 3; i++) {
		void *d;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[i], &d, &len), 0);
		b3cas_free(d);
	}
	assert_int_equal(b3cas_store_delete(s, &ids[9]), 0);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.objects, 9);
	assert_int_equal(st.inline_objects, 5);
	assert_int_equal(st.references, 13);
	assert_int_equal(st.physical_bytes, 5 * 100 + 4 * 3000);
	assert_int_equal(st.logical_bytes, 7 * 100 + 6 * 3000);
	assert_int_equal(st.candidates, 1);
	assert_int_equal(st.candidate_bytes, 3000);
	/* format 1: nothing chunked or compressed */
	assert_int_equal(st.stored_bytes, st.physical_bytes);
	assert_int_equal(st.compressed_objects, 0);
	assert_true(st.compression_ratio == 1.0);
	assert_int_equal(st.chunked_objects + st.chunks + st.chunk_refs +
				 st.chunk_bytes + st.manifest_bytes,
			 0);
	assert_true(st.chunk_dedup_ratio == 1.0);
	assert_true(st.disk_bytes > st.physical_bytes);
	assert_int_equal(st.puts, 14);
	assert_int_equal(st.dedup_puts, 4);
	assert_int_equal(st.gets, 3);
	assert_int_equal(st.deletes, 1);
	assert_int_equal(st.put.count, 14);
	assert_true(st.put.p50 > 0 && st.put.p50 <= st.put.p99 &&
		    st.put.p99 <= st.put.p999);
	assert_int_equal(st.get.count, 3);
	assert_int_equal(st.del.count, 1);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_root();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refcount_edges),
		cmocka_unit_test(test_gc_grace_and_dry_run),
		cmocka_unit_test(test_gc_marks),
		cmocka_unit_test(test_known_set),
		cmocka_unit_test(test_bloom_rate),
		cmocka_unit_test(test_filter_lifecycle),
		cmocka_unit_test(test_bloom_file),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_stats_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
