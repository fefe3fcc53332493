/*
 * bench_store_study.c - the rest of bench_store's figures: the study
 * that chose the inline threshold (RocksDB put against a loose file),
 * the bounds a 1 MiB put and get cannot beat, and the acceptance report
 * that checks the figures against the targets.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"
#include "index/index.h"
#include "bench_store_int.h"

/* One loose-file write as the store makes it: temp file, rename, and in
 * sync mode fsync of the file and of its folder. */
static void loose_write_one(const char *dir, const uint8_t *buf, size_t size,
			    int i, bool sync)
{
	char tmp[4300], dst[4300], sub[4300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/t%d", dir, i);
	snprintf(dst, sizeof(dst), "%s/%02x/obj%08d", dir, i % 256, i);
	snprintf(sub, sizeof(sub), "%s/%02x", dir, i % 256);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
		die("loose write failed: %s", strerror(errno));
	if (sync && fsync(fd) != 0)
		die("fsync failed");
	close(fd);
	if (rename(tmp, dst) != 0)
		die("rename failed");
	if (sync) {
		int dfd = open(sub, O_RDONLY | O_DIRECTORY);

		if (dfd < 0 || fsync(dfd) != 0)
			die("folder fsync failed");
		close(dfd);
	}
}

static void make_loose_dir(const char *dir)
{
	char sub[4300];

	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	mkdir(dir, 0755);
	mkdir(sub, 0755);
	for (int i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%s/%02x", dir, i);
		mkdir(sub, 0755);
	}
}

/*
 * p50 of n RocksDB puts (*raw) and of n loose-file writes (*loose) of
 * size bytes, one of each in turn, so both see the same disk and the same
 * background work.
 */
static void study_pair(const char *rdir, const char *ldir, size_t size,
		       int n, bool sync, double *raw, double *loose)
{
	rocksdb_t *db = bench_open_raw(rdir);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	uint8_t *buf = malloc(size), key[32];
	double *rl = malloc((size_t)n * sizeof(double));
	double *ll = malloc((size_t)n * sizeof(double));
	char *err = NULL;

	if (!buf || !rl || !ll)
		die("out of memory");
	make_loose_dir(ldir);
	rocksdb_writeoptions_set_sync(wo, sync);
	for (int i = 0; i < n; i++) {
		double t0;

		make_content(buf, size, 98, (uint64_t)i);
		make_content(key, 32, 97, (uint64_t)i);
		t0 = now();
		rocksdb_put(db, wo, (const char *)key, 32, (const char *)buf,
			    size, &err);
		if (err)
			die("rocksdb: %s", err);
		rl[i] = now() - t0;

		make_content(buf, size, 99, (uint64_t)i);
		t0 = now();
		loose_write_one(ldir, buf, size, i, sync);
		ll[i] = now() - t0;
	}
	*raw = median(rl, n);
	*loose = median(ll, n);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_close(db);
	free(buf);
	free(rl);
	free(ll);
}

void bench_study(void)
{
	static const size_t sizes[] = {4 * KIB, 16 * KIB, 64 * KIB,
				       256 * KIB};

	printf("\n== inline threshold: RocksDB put vs loose file (temp "
	       "file + rename), p50 ==\n");
	printf("%-5s | %10s %10s %6s | %10s %10s %6s\n", "size",
	       "rocksdb", "loose", "ratio", "rdb sync", "loose sync",
	       "ratio");
	for (int i = 0; i < 4; i++) {
		size_t size = sizes[i];
		int n = (int)((double)(size <= 16 * KIB ? 3000 : 1500) *
			      cfg.scale);
		int ns = (int)(300 * cfg.scale);
		char d1[4200], d2[4200], d3[4200], d4[4200], sz[32];
		double r, l, rs, ls;

		n = n < 16 ? 16 : n;
		ns = ns < 16 ? 16 : ns;
		new_dir(d1, sizeof(d1), "study-raw");
		new_dir(d2, sizeof(d2), "study-loose");
		new_dir(d3, sizeof(d3), "study-raw-sync");
		new_dir(d4, sizeof(d4), "study-loose-sync");
		/* each from a quiet disk (no earlier dirty pages) */
		sync();
		study_pair(d1, d2, size, n, false, &r, &l);
		sync();
		study_pair(d3, d4, size, ns, true, &rs, &ls);
		remove_tree(d1);
		remove_tree(d2);
		remove_tree(d3);
		remove_tree(d4);
		fmt_size(sz, size);
		printf("%-5s |", sz);
		print_us(r);
		print_us(l);
		printf(" %5.2fx |", l / r);
		print_us(rs);
		print_us(ls);
		printf(" %5.2fx\n", ls / rs);
		fflush(stdout);
	}
}

/* ---- what a 1 MiB put and get cannot beat ---- */

static double bound_hash, bound_write, bound_read, bound_put, bound_get;

/*
 * The parts a loose put and get are made of, 1 MiB: hash through a pool,
 * write a file (temp + rename, no fsync), read it back; in the same loop,
 * one store put and one store get (batch mode) of other 1 MiB content, so
 * the parts and the whole are measured at the same moments.
 */
void measure_bounds(void)
{
	enum { N = 64 };
	double h[N], w[N], r[N], sp[N], sg[N];
	char dir[4200], sdir[4200], path[4300], tmp[4300];
	uint8_t *buf = malloc(MIB), out[32];
	b3cas_oid ids[N];
	b3cas_pool *pool = NULL;
	b3cas_store *store;

	if (!buf || b3cas_pool_new(&pool, 0) != 0)
		die("out of memory");
	sync();
	new_dir(dir, sizeof(dir), "bounds");
	mkdir(dir, 0755);
	new_dir(sdir, sizeof(sdir), "bounds-store");
	store = open_store(sdir, B3CAS_DURABILITY_BATCH, B3CAS_HASH_BLAKE3);
	for (int i = 0; i < N; i++) {
		double t0;
		void *data;
		size_t len;
		int fd;

		make_content(buf, MIB, 77, (uint64_t)i);
		t0 = now();
		b3cas_hash_parallel(out, buf, MIB, pool);
		h[i] = now() - t0;
		snprintf(tmp, sizeof(tmp), "%s/t%d", dir, i);
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		t0 = now();
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0444);
		if (fd < 0 || write(fd, buf, MIB) != (ssize_t)MIB ||
		    close(fd) != 0 || rename(tmp, path) != 0)
			die("write failed");
		w[i] = now() - t0;

		make_content(buf, MIB, 78, (uint64_t)i);
		t0 = now();
		if (b3cas_store_put(store, &ids[i], buf, MIB) != 0)
			die("put failed: %s", b3cas_error_last());
		sp[i] = now() - t0;

		t0 = now();
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, MIB) != (ssize_t)MIB)
			die("read failed");
		close(fd);
		r[i] = now() - t0;
		t0 = now();
		if (b3cas_store_get(store, &ids[i], &data, &len) != 0)
			die("get failed: %s", b3cas_error_last());
		sg[i] = now() - t0;
		b3cas_free(data);
	}
	bound_hash = median(h, N);
	bound_write = median(w, N);
	bound_read = median(r, N);
	bound_put = median(sp, N);
	bound_get = median(sg, N);
	b3cas_store_close(store);
	b3cas_pool_free(pool);
	free(buf);
	remove_tree(dir);
	remove_tree(sdir);
}

/* ---- acceptance ---- */

static int failures;

static void check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* A quick run has too few operations, and too small a store, for
	 * its figures to judge a target by. */
	printf("%s  ", cfg.quick ? "INFO" : ok ? "PASS" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures += !ok;
}

void report(void)
{
	row *b1 = find_row(KIB, B3CAS_DURABILITY_BATCH, 1);
	row *b2 = find_row(KIB, B3CAS_DURABILITY_BATCH, 2);
	row *b64 = find_row(64 * KIB, B3CAS_DURABILITY_BATCH, 1);
	row *m1 = find_row(MIB, B3CAS_DURABILITY_BATCH, 1);

	printf("\n== acceptance (issue 3), figures from this run%s ==\n",
	       cfg.quick ? " (quick: not judged)" : "");
	if (b1) {
		check(b1->put.p50 <= 10e-6, "1 KiB put, batch: p50 %.2f us "
		      "(<= 10 us)", b1->put.p50 * 1e6);
		check(b1->put.p99 <= 50e-6, "1 KiB put, batch: p99 %.2f us "
		      "(<= 50 us)", b1->put.p99 * 1e6);
		check(b1->put.p50 <= 1.6 * b1->raw_put.p50,
		      "1 KiB put, batch: %.2fx raw RocksDB put (<= 1.6x)",
		      b1->put.p50 / b1->raw_put.p50);
		check(b1->get.p50 <= 1.4 * b1->raw_get.p50,
		      "1 KiB get, verified: %.2fx raw RocksDB get (<= 1.4x)",
		      b1->get.p50 / b1->raw_get.p50);
	}
	if (b2)
		check(b2->put.ops_per_sec >= 100000,
		      "1 KiB put, batch, 2 threads: %.0f puts/s (>= 100000)",
		      b2->put.ops_per_sec);
	if (b64)
		check(b64->put.p50 <= 1.3 * b64->raw_put.p50,
		      "64 KiB put, batch: %.2fx raw RocksDB put (<= 1.3x)",
		      b64->put.p50 / b64->raw_put.p50);
	if (bound_put > 0)
		printf("INFO  1 MiB, batch, side by side: put p50 %.0f us "
		       "(hash %.0f + file write %.0f = %.0f), get p50 %.0f us "
		       "(file read %.0f + hash %.0f = %.0f)\n",
		       bound_put * 1e6, bound_hash * 1e6, bound_write * 1e6,
		       (bound_hash + bound_write) * 1e6, bound_get * 1e6,
		       bound_read * 1e6, bound_hash * 1e6,
		       (bound_read + bound_hash) * 1e6);
	if (m1)
		printf("INFO  1 MiB, batch, table above (100 MB written): put "
		       "p50 %.0f us, get p50 %.0f us\n",
		       m1->put.p50 * 1e6, m1->get.p50 * 1e6);
	if (group_best_rate > 0)
		check(group_best_rate > 1.0 / fsync_p50,
		      "full mode, 2+ threads: %.0f puts/s > %.0f (one fsync "
		      "per put)",
		      group_best_rate, 1.0 / fsync_p50);
	if (have_sha)
		printf("INFO  SHA-256 store / BLAKE3 store, %zu B: put %.2fx, "
		       "get %.2fx\n",
		       cfg.sizes[0], sha_put.p50 / b3_put.p50,
		       sha_get.p50 / b3_get.p50);
}
