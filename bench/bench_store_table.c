/*
 * bench_store_table.c - bench_store's measurements that print tables:
 * the main table (each size, durability mode and thread count, store
 * beside raw RocksDB), the store in SHA-256 mode, and full mode
 * against one fsync per put (group commit).
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

static row rows[128];
static int nrows;

static void bench_config(size_t size, int mode, int threads,
			 b3cas_hash_algo hash, row *out)
{
	char sdir[4200], rdir[4200];
	long n = object_count(size, mode);
	long gets = n < 50000 ? n : 50000;
	long dups = n < 20000 ? n : 20000;
	target t;

	memset(&t, 0, sizeof(t));
	t.size = size;
	t.run = (uint64_t)(++dir_seq) * 7919;
	t.ids = calloc((size_t)n, sizeof(*t.ids));
	t.keys = malloc((size_t)n * 32);
	t.order = malloc((size_t)n * sizeof(*t.order));
	if (!t.ids || !t.keys || !t.order)
		die("out of memory");
	for (long i = 0; i < n; i++)
		make_content(t.keys[i], 32, t.run ^ 0xabcdef, (uint64_t)i);
	shuffle(t.order, n, t.run);

	/* Start from a quiet disk: the previous configuration's dirty pages
	 * must not be written back on this one's time. */
	sync();
	new_dir(sdir, sizeof(sdir), "store");
	t.store = open_store(sdir, mode, hash);
	if (hash == B3CAS_HASH_BLAKE3) {
		phase sp, rp;

		new_dir(rdir, sizeof(rdir), "raw");
		t.db = bench_open_raw(rdir);
		t.wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(t.wo,
					      mode == B3CAS_DURABILITY_FULL);
		t.ro = rocksdb_readoptions_create();
		phase_init(&sp, &t, OP_PUT_NEW, n, threads);
		phase_init(&rp, &t, OP_RAW_PUT, n, threads);
		run_interleaved(&sp, &rp);
		out->put = phase_result(&sp);
		out->raw_put = phase_result(&rp);
		out->dup = run_phase(&t, OP_PUT_DUP, dups, threads);
		phase_init(&sp, &t, OP_GET, gets, threads);
		phase_init(&rp, &t, OP_RAW_GET, gets, threads);
		run_interleaved(&sp, &rp);
		out->get = phase_result(&sp);
		out->raw_get = phase_result(&rp);
		rocksdb_writeoptions_destroy(t.wo);
		rocksdb_readoptions_destroy(t.ro);
		rocksdb_close(t.db);
		remove_tree(rdir);
	} else {
		out->put = run_phase(&t, OP_PUT_NEW, n, threads);
		out->dup = run_phase(&t, OP_PUT_DUP, dups, threads);
		out->get = run_phase(&t, OP_GET, gets, threads);
	}
	out->have_dup = true;
	b3cas_store_close(t.store);
	remove_tree(sdir);
	out->size = size;
	out->mode = mode;
	out->threads = threads;
	free(t.ids);
	free(t.keys);
	free(t.order);
}

void print_us(double sec)
{
	if (sec >= 1e-3)
		printf(" %7.2fms", sec * 1e3);
	else
		printf(" %7.2fus", sec * 1e6);
}

static void print_header(void)
{
	printf("%-5s %-5s %3s | %-27s | %-19s | %-19s | %-27s | %-19s | "
	       "%s\n",
	       "size", "mode", "thr", "  put new: p50 p99 ops/s",
	       "  raw put: p50 p99", "  dup put: p50 p99",
	       "  get: p50 p99 ops/s", "  raw get: p50 p99",
	       "put/raw get/raw");
}

static void print_row(const row *r)
{
	char sz[32];

	fmt_size(sz, r->size);
	printf("%-5s %-5s %3d |", sz, mode_name(r->mode), r->threads);
	print_us(r->put.p50);
	print_us(r->put.p99);
	printf(" %8.0f |", r->put.ops_per_sec);
	print_us(r->raw_put.p50);
	print_us(r->raw_put.p99);
	printf(" |");
	print_us(r->dup.p50);
	print_us(r->dup.p99);
	printf(" |");
	print_us(r->get.p50);
	print_us(r->get.p99);
	printf(" %8.0f |", r->get.ops_per_sec);
	print_us(r->raw_get.p50);
	print_us(r->raw_get.p99);
	printf(" | %5.2fx %5.2fx\n", r->put.p50 / r->raw_put.p50,
	       r->get.p50 / r->raw_get.p50);
	fflush(stdout);
}

row *find_row(size_t size, int mode, int threads)
{
	for (int i = 0; i < nrows; i++)
		if (rows[i].size == size && rows[i].mode == mode &&
		    rows[i].threads == threads)
			return &rows[i];
	return NULL;
}

void bench_table(void)
{
	printf("\n== store vs raw RocksDB (same options, same sizes, same "
	       "threads) ==\n");
	print_header();
	for (int si = 0; si < cfg.nsizes; si++)
		for (int m = 0; m < 3; m++) {
			if (!cfg.modes[m])
				continue;
			for (int ti = 0; ti < cfg.nthreads; ti++) {
				row *r = &rows[nrows++];

				bench_config(cfg.sizes[si], m, cfg.threads[ti],
					     B3CAS_HASH_BLAKE3, r);
				print_row(r);
			}
		}
}

/* ---- SHA-256 mode ---- */

result sha_put, sha_get, b3_put, b3_get;
bool have_sha;

void bench_sha(void)
{
	size_t size = cfg.sizes[0];
	char sz[32];
	row b3, sha;

	printf("\n== the same store named by SHA-256 (batch mode, 1 thread) "
	       "==\n");
	printf("%-5s | %-22s | %-22s | %s\n", "size", "BLAKE3 put / get p50",
	       "SHA-256 put / get p50", "SHA-256 / BLAKE3 put, get");
	for (int si = 0; si < cfg.nsizes; si++) {
		size = cfg.sizes[si];
		bench_config(size, B3CAS_DURABILITY_BATCH, 1,
			     B3CAS_HASH_BLAKE3, &b3);
		bench_config(size, B3CAS_DURABILITY_BATCH, 1,
			     B3CAS_HASH_SHA256, &sha);
		fmt_size(sz, size);
		printf("%-5s |", sz);
		print_us(b3.put.p50);
		print_us(b3.get.p50);
		printf("   |");
		print_us(sha.put.p50);
		print_us(sha.get.p50);
		printf("   | %5.2fx %5.2fx\n", sha.put.p50 / b3.put.p50,
		       sha.get.p50 / b3.get.p50);
		if (si == 0) {
			sha_put = sha.put, sha_get = sha.get;
			b3_put = b3.put, b3_get = b3.get;
			have_sha = true;
		}
		fflush(stdout);
	}
}

/* ---- group commit ---- */

double fsync_p50;
double group_best_rate;

static double measure_fsync(void)
{
	char path[4200];
	uint8_t block[1024];
	double lat[300];
	int fd;

	new_dir(path, sizeof(path), "fsync");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("cannot create %s", path);
	memset(block, 7, sizeof(block));
	for (int i = 0; i < 300; i++) {
		double t0 = now();

		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block) ||
		    fdatasync(fd) != 0)
			die("write/fdatasync failed");
		lat[i] = now() - t0;
	}
	close(fd);
	unlink(path);
	qsort(lat, 300, sizeof(double), cmp_double);
	return lat[150];
}

void bench_group(void)
{
	static const int counts[] = {1, 2, 8, 32};
	long n = (long)(4000 * cfg.scale);

	fsync_p50 = measure_fsync();
	printf("\n== full mode, 1 KiB puts: group commit ==\n");
	printf("one write + fdatasync of 1 KiB: p50 %.1f us -> at most %.0f "
	       "puts/s with one fsync per put\n",
	       fsync_p50 * 1e6, 1.0 / fsync_p50);
	printf("%7s | %10s | %s\n", "threads", "puts/s", "p50 latency");
	for (int i = 0; i < 4; i++) {
		char dir[4200];
		target t;
		result r;

		memset(&t, 0, sizeof(t));
		t.size = KIB;
		t.run = (uint64_t)(++dir_seq) * 104729;
		t.ids = calloc((size_t)n, sizeof(*t.ids));
		if (!t.ids)
			die("out of memory");
		new_dir(dir, sizeof(dir), "group");
		t.store = open_store(dir, B3CAS_DURABILITY_FULL,
				     B3CAS_HASH_BLAKE3);
		r = run_phase(&t, OP_PUT_NEW, n, counts[i]);
		b3cas_store_close(t.store);
		remove_tree(dir);
		free(t.ids);
		printf("%7d | %10.0f |", counts[i], r.ops_per_sec);
		print_us(r.p50);
		printf("\n");
		if (counts[i] >= 2 && r.ops_per_sec > group_best_rate)
			group_best_rate = r.ops_per_sec;
		fflush(stdout);
	}
}
