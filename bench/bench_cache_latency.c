/*
 * bench_cache_latency.c - bench_cache's preloaded store (the 1 KiB
 * objects parts 2 and 4 read, with the bytes to check them by) and
 * parts 2 and 3: the latency of an L1 hit (get_view + release, get) and
 * of the miss path with L1 off, and of an L2 hit against the objects
 * tier on 16 KiB loose objects.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"
#include "cache/cache.h"
#include "index/index.h"
#include "bench_cache_int.h"

b3cas_oid *ids;
uint64_t *heads;
uint64_t *tails;

b3cas_store *open_main(const char *dir)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	o.create = true;
	if (b3cas_store_open(&s, dir, &o) != 0)
		die("cannot open a store in %s: %s", dir, b3cas_error_last());
	return s;
}

void preload(b3cas_store *s)
{
	uint8_t *buf = malloc((size_t)BATCH * OBJ);
	const void *datas[BATCH];
	size_t lens[BATCH];
	double t0 = now();

	ids = malloc((size_t)cfg.objects * sizeof(*ids));
	heads = malloc((size_t)cfg.objects * 8);
	tails = malloc((size_t)cfg.objects * 8);
	if (!buf || !ids || !heads || !tails)
		die("out of memory");
	for (int j = 0; j < BATCH; j++) {
		datas[j] = buf + (size_t)j * OBJ;
		lens[j] = OBJ;
	}
	for (long i = 0; i < cfg.objects; i += BATCH) {
		size_t n = (size_t)(cfg.objects - i < BATCH ? cfg.objects - i
							     : BATCH);

		for (size_t j = 0; j < n; j++) {
			uint8_t *b = buf + j * OBJ;

			make_content(b, OBJ, RUN_BASE, (uint64_t)i + j);
			memcpy(&heads[i + (long)j], b, 8);
			memcpy(&tails[i + (long)j], b + OBJ - 8, 8);
		}
		if (b3cas_store_put_batch(s, ids + i, NULL, datas, lens, n) !=
		    0)
			die("put_batch: %s", b3cas_error_last());
	}
	free(buf);
	printf("\nstore for parts 2 and 4: %ld objects of %u bytes put with "
	       "put_batch in %.2f s (batch durability, default options)\n",
	       cfg.objects, OBJ, now() - t0);
}

void cache_stats(b3cas_store *s, b3cas_cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	b3cas_cache_stats_get(s, st);
}

/* Every byte of objects [0, n) read through a view, once. */
void read_all_views(b3cas_store *s, long n)
{
	uint8_t want[OBJ];

	for (long k = 0; k < n; k++) {
		b3cas_blob *b;

		if (b3cas_store_get_view(s, &ids[k], &b) != 0)
			die("get_view: %s", b3cas_error_last());
		make_content(want, OBJ, RUN_BASE, (uint64_t)k);
		if (b3cas_blob_size(b) != OBJ ||
		    memcmp(b3cas_blob_data(b), want, OBJ) != 0)
			die("get_view of object %ld: wrong bytes", k);
		b3cas_blob_release(b);
	}
}

/* ---- 2. L1 hit latency ---- */

static double clock_p50;
lat_summary l1_view, l1_view_small, l1_copy, l1_view_miss,
	l1_copy_miss;

static double clock_overhead(void)
{
	enum { N = 100000 };
	double *v = alloc_doubles(N), p50;

	for (int i = 0; i < N; i++) {
		double t0 = now();

		v[i] = now() - t0;
	}
	p50 = summarize(v, N).p50;
	free(v);
	return p50;
}

/* Every CHECK_EVERYth timed view is read again, untimed, and its bytes
 * checked: the timed call reads none of them, as zero copy promises. */
#define CHECK_EVERY 16

static void check_view(b3cas_store *s, long k)
{
	b3cas_blob *b;
	bool ok;

	if (b3cas_store_get_view(s, &ids[k], &b) != 0)
		die("get_view: %s", b3cas_error_last());
	ok = content_ok(b3cas_blob_data(b), b3cas_blob_size(b), k);
	b3cas_blob_release(b);
	if (!ok)
		die("get_view of object %ld: wrong bytes", k);
}

/* calls timed calls on objects drawn uniformly from [0, hot). */
static lat_summary time_views(b3cas_store *s, long calls, long hot,
			      uint64_t seed)
{
	double *lat = alloc_doubles((size_t)calls);
	lat_summary r;

	for (long i = 0; i < calls; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) % (uint64_t)hot);
		const void *p = NULL;
		b3cas_blob *b;
		size_t len = 0;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get_view(s, &ids[k], &b);
		if (rc == 0) {
			p = b3cas_blob_data(b);
			len = b3cas_blob_size(b);
			b3cas_blob_release(b);
		}
		lat[i] = now() - t0;
		if (rc != 0)
			die("get_view: %s", b3cas_error_last());
		if (!p || len != OBJ)
			die("get_view of object %ld: %zu bytes at %p", k, len,
			    p);
		if (i % CHECK_EVERY == 0)
			check_view(s, k);
	}
	r = summarize(lat, (size_t)calls);
	free(lat);
	return r;
}

static lat_summary time_copies(b3cas_store *s, long calls, long hot,
			       uint64_t seed)
{
	double *lat = alloc_doubles((size_t)calls);
	lat_summary r;

	for (long i = 0; i < calls; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) % (uint64_t)hot);
		void *data;
		size_t len;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get(s, &ids[k], &data, &len);
		lat[i] = now() - t0;
		if (rc != 0)
			die("get: %s", b3cas_error_last());
		if (!content_ok(data, len, k))
			die("get of object %ld: wrong bytes", k);
		b3cas_free(data);
	}
	r = summarize(lat, (size_t)calls);
	free(lat);
	return r;
}

static void print_lat_row(const char *what, const lat_summary *l)
{
	printf("%-44s %8zu |", what, l->n);
	print_time(l->p50);
	print_time(l->p99);
	print_time(l->p999);
	printf("\n");
	fflush(stdout);
}

static void l1_counts(const char *what, const b3cas_cache_stats *a,
		      const b3cas_cache_stats *b)
{
	printf("  L1 during %s: %llu hits, %llu misses\n", what,
	       (unsigned long long)(b->l1.hits - a->l1.hits),
	       (unsigned long long)(b->l1.misses - a->l1.misses));
}

void bench_l1(b3cas_store *s)
{
	long hot = cfg.hot < cfg.objects ? cfg.hot : cfg.objects;
	long small = cfg.hot_small < hot ? cfg.hot_small : hot;
	b3cas_cache_stats st0, st1, st2;
	double per_entry;
	char what[64];

	printf("\n== 2. L1 hit latency (%u-byte objects, default L1 of %u "
	       "MiB, one thread) ==\n", OBJ, B3CAS_L1_BYTES_DEFAULT / MIB);
	clock_p50 = clock_overhead();
	read_all_views(s, hot);
	cache_stats(s, &st0);
	printf("%ld objects read once through views (every byte checked): "
	       "L1 holds %llu objects, %llu of %llu bytes\n",
	       hot, (unsigned long long)st0.l1.entries,
	       (unsigned long long)st0.l1.bytes,
	       (unsigned long long)st0.l1.capacity);
	printf("clock overhead (two clock_gettime calls): p50 %.0f ns, "
	       "included in every figure below (not subtracted); a timed "
	       "view reads none of its bytes (one in %d is read again, "
	       "untimed, and checked)\n", clock_p50 * 1e9, CHECK_EVERY);
	per_entry = st0.l1.entries ? (double)st0.l1.bytes /
					     (double)st0.l1.entries
				   : OBJ;
	printf("objects drawn uniformly from the first N of those: N = %ld "
	       "(%.1f MB of L1) and N = %ld (%.1f MB; the targets are judged "
	       "on these)\n", small, (double)small * per_entry / 1e6, hot,
	       (double)hot * per_entry / 1e6);
	printf("%-44s %8s | %10s %10s %10s\n", "call", "calls", "p50", "p99",
	       "p999");
	snprintf(what, sizeof(what), "get_view + release, L1 hit, N = %ld",
		 small);
	l1_view_small = time_views(s, cfg.hit_calls, small, 10);
	print_lat_row(what, &l1_view_small);
	snprintf(what, sizeof(what), "get_view + release, L1 hit, N = %ld",
		 hot);
	l1_view = time_views(s, cfg.hit_calls, hot, 11);
	print_lat_row(what, &l1_view);
	snprintf(what, sizeof(what), "get (copy) + free, L1 hit, N = %ld",
		 hot);
	l1_copy = time_copies(s, cfg.hit_calls, hot, 12);
	print_lat_row(what, &l1_copy);
	cache_stats(s, &st1);
	l1_counts("the hit calls", &st0, &st1);
	if (st1.l1.misses - st0.l1.misses > 0)
		printf("  (misses: L1 could not hold all %ld objects)\n", hot);

	/* The miss path: the same objects with L1 off, so each call reads
	 * the index and verifies the bytes. */
	if (b3cas_cache_resize(s, 0, 0) != 0)
		die("cache_resize to 0: %s", b3cas_error_last());
	cache_stats(s, &st1);
	if (st1.l1.entries != 0 || st1.l1.bytes != 0)
		bench_fail("L1 resized to 0 still holds %llu objects, %llu bytes",
		     (unsigned long long)st1.l1.entries,
		     (unsigned long long)st1.l1.bytes);
	l1_view_miss = time_views(s, cfg.miss_calls, hot, 13);
	print_lat_row("get_view + release, L1 off (index + verify)",
		      &l1_view_miss);
	l1_copy_miss = time_copies(s, cfg.miss_calls, hot, 14);
	print_lat_row("get (copy) + free, L1 off (index + verify)",
		      &l1_copy_miss);
	cache_stats(s, &st2);
	if (st2.l1.hits != st1.l1.hits || st2.l1.entries != 0)
		bench_fail("L1 off: %llu hits, %llu objects held",
		     (unsigned long long)(st2.l1.hits - st1.l1.hits),
		     (unsigned long long)st2.l1.entries);
	printf("N = %ld: view miss / view hit p50 %.1fx; copy hit / view hit "
	       "p50 %.2fx\n", hot, l1_view_miss.p50 / l1_view.p50,
	       l1_copy.p50 / l1_view.p50);
	if (b3cas_cache_resize(s, B3CAS_L1_BYTES_DEFAULT, 0) != 0)
		die("cache_resize back: %s", b3cas_error_last());
}

/* ---- 3. L2 hit latency ---- */

lat_summary l2_hit, l2_off;

/* Gets of random objects of the L2 store, every byte checked after the
 * clock stops. */
static lat_summary time_l2_gets(b3cas_store *s, const b3cas_oid *l2ids,
				uint64_t seed)
{
	double *lat = alloc_doubles((size_t)cfg.l2_gets);
	uint8_t *want = malloc(L2_OBJ);
	lat_summary r;

	if (!want)
		die("out of memory");
	for (long i = 0; i < cfg.l2_gets; i++) {
		long k = (long)(tu_mix(seed + (uint64_t)i) %
				(uint64_t)cfg.l2_objects);
		void *data;
		size_t len;
		double t0;
		int rc;

		t0 = now();
		rc = b3cas_store_get(s, &l2ids[k], &data, &len);
		lat[i] = now() - t0;
		if (rc != 0)
			die("get: %s", b3cas_error_last());
		make_content(want, L2_OBJ, RUN_L2, (uint64_t)k);
		if (len != L2_OBJ || memcmp(data, want, L2_OBJ) != 0)
			die("get of 16 KiB object %ld: wrong bytes", k);
		b3cas_free(data);
	}
	free(want);
	r = summarize(lat, (size_t)cfg.l2_gets);
	free(lat);
	return r;
}

static void l2_put_all(b3cas_store *s, b3cas_oid *l2ids)
{
	uint8_t *buf = malloc(L2_OBJ);
	b3cas_object_info info;

	if (!buf)
		die("out of memory");
	for (long i = 0; i < cfg.l2_objects; i++) {
		make_content(buf, L2_OBJ, RUN_L2, (uint64_t)i);
		if (b3cas_store_put(s, &l2ids[i], buf, L2_OBJ) != 0)
			die("put: %s", b3cas_error_last());
	}
	free(buf);
	if (b3cas_store_stat(s, &l2ids[0], &info) != 0)
		die("stat: %s", b3cas_error_last());
	if (info.is_inline)
		bench_fail("a 16 KiB object is inline with an inline threshold of "
		     "%d", L2_INLINE);
}

void bench_l2(void)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char sdir[2200], odir[2200];
	b3cas_oid *l2ids = malloc((size_t)cfg.l2_objects * sizeof(b3cas_oid));
	uint64_t set_bytes = (uint64_t)cfg.l2_objects * L2_OBJ;
	double *fills = alloc_doubles((size_t)cfg.l2_objects);
	b3cas_cache_stats st0, st1;
	lat_summary fill;
	b3cas_store *s;

	if (!l2ids)
		die("out of memory");
	snprintf(sdir, sizeof(sdir), "%s/l2-store", root);
	snprintf(odir, sizeof(odir), "%s/l2-objects-tier", root);
	if (mkdir(odir, 0755) != 0)
		die("cannot create %s: %s", odir, strerror(errno));
	o.create = true;
	o.inline_threshold = L2_INLINE;
	o.objects_dir = odir;
	o.l1_bytes = 0;
	/* Twice the set, and at least 64 MiB: no shard may run out (and a
	 * shard refuses an object above a quarter of its share). */
	o.l2_bytes = 2 * set_bytes > 64 * MIB ? 2 * set_bytes : 64 * MIB;
	if (b3cas_store_open(&s, sdir, &o) != 0)
		die("cannot open a store in %s: %s", sdir, b3cas_error_last());

	printf("\n== 3. L2 hit latency (%ld loose objects of %u KiB, L1 off, "
	       "L2 %llu MiB; objects_dir %s) ==\n",
	       cfg.l2_objects, L2_OBJ / KIB,
	       (unsigned long long)(o.l2_bytes / MIB), odir);
	l2_put_all(s, l2ids);
	for (long i = 0; i < cfg.l2_objects; i++) {
		double t1 = now();

		if (b3cas_cache_load(s, &l2ids[i]) != 0)
			die("cache_load: %s", b3cas_error_last());
		fills[i] = now() - t1;
	}
	fill = summarize(fills, (size_t)cfg.l2_objects);
	cache_stats(s, &st0);
	printf("b3cas_cache_load of each (read from the tier, verify, copy "
	       "into L2): p50 %.1f us, p99 %.1f us; L2 holds %llu "
	       "objects, %llu bytes; L1 holds %llu\n",
	       fill.p50 * 1e6, fill.p99 * 1e6,
	       (unsigned long long)st0.l2.entries,
	       (unsigned long long)st0.l2.bytes,
	       (unsigned long long)st0.l1.entries);
	if (st0.l2.entries != (uint64_t)cfg.l2_objects ||
	    st0.l2.bytes < set_bytes)
		bench_fail("after loading %ld objects L2 holds %llu (%llu bytes)",
		     cfg.l2_objects, (unsigned long long)st0.l2.entries,
		     (unsigned long long)st0.l2.bytes);

	printf("%-44s %8s | %10s %10s %10s\n", "call", "calls", "p50", "p99",
	       "p999");
	l2_hit = time_l2_gets(s, l2ids, 21);
	print_lat_row("get (copy) 16 KiB, L2 hit", &l2_hit);
	cache_stats(s, &st1);
	printf("  L2 during the timed gets: %llu hits, %llu misses, %llu "
	       "corrupt\n",
	       (unsigned long long)(st1.l2.hits - st0.l2.hits),
	       (unsigned long long)(st1.l2.misses - st0.l2.misses),
	       (unsigned long long)(st1.l2.corrupt - st0.l2.corrupt));
	if (st1.l2.hits - st0.l2.hits != (uint64_t)cfg.l2_gets)
		bench_fail("%ld gets of objects all in L2 made %llu L2 hits",
		     cfg.l2_gets,
		     (unsigned long long)(st1.l2.hits - st0.l2.hits));

	/* The same gets from the objects tier. Its files were written just
	 * now, and one untimed pass makes sure they are in the page cache:
	 * the figure is what L2 saves only when objects_dir is slow. */
	if (b3cas_cache_resize(s, 0, 0) != 0)
		die("cache_resize to 0: %s", b3cas_error_last());
	cache_stats(s, &st1);
	if (st1.l2.entries != 0)
		bench_fail("L2 resized to 0 still holds %llu objects",
		     (unsigned long long)st1.l2.entries);
	for (long i = 0; i < cfg.l2_objects; i++) {
		void *data;
		size_t len;

		if (b3cas_store_get(s, &l2ids[i], &data, &len) != 0)
			die("get: %s", b3cas_error_last());
		b3cas_free(data);
	}
	l2_off = time_l2_gets(s, l2ids, 22);
	print_lat_row("get (copy) 16 KiB, L2 off (objects tier)", &l2_off);
	printf("L2 hit / objects tier p50: %.2fx (both on the same local "
	       "disk, page cache warm)\n", l2_hit.p50 / l2_off.p50);
	if (b3cas_store_close(s) != 0)
		die("close: %s", b3cas_error_last());
	remove_tree(sdir);
	remove_tree(odir);
	free(l2ids);
	free(fills);
}
