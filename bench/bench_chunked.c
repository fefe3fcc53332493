/*
 * bench_chunked.c - the chunked store's figures (issue 16), side by side
 * in one run, on a store made with chunking (average --avg, default 4096)
 * and zstd level 3, and one object of --mib MiB (default 1024) of
 * incompressible bytes:
 *
 *   hash alone    one-shot BLAKE3 of the object (the floor of any put);
 *   cut + hash    FastCDC over the object and BLAKE3 of every chunk with
 *                 the batch kernel: what a chunked put computes;
 *   new put       b3cas_store_put of the object into an empty store;
 *   dup put       the same bytes again: a hash and a lookup;
 *   known put     the object with its last byte changed: a new id whose
 *                 chunks are all stored but the last, so each chunk
 *                 costs its references and none its bytes;
 *   near put      the object with 64 bytes changed at 256 spots: only the
 *                 chunks around them are new;
 *   get           the whole object back (every chunk checked);
 *   range 4 KiB   b3cas_store_read_at of 4 KiB at random offsets, warm:
 *                 p50/p99 in microseconds, against the 100 us target;
 *   stream read   b3cas_reader over the whole object.
 *
 * Every read is compared with the bytes; a wrong byte fails the run. Speed
 * targets are printed beside the figures, never asserted (the machine is
 * shared). --quick: 32 MiB, a smoke run for ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "chunk/fastcdc.h"

#define BENCH_NAME "bench_chunked"
#include "../tests/prng.h"
#include "bench_util.h"

static double gbps(size_t bytes, double s)
{
	return (double)bytes / s / 1e9;
}

static double best_of(int n, double (*fn)(void *), void *arg)
{
	double best = 1e30;

	for (int i = 0; i < n; i++) {
		double t = fn(arg);

		if (t < best)
			best = t;
	}
	return best;
}

typedef struct job {
	uint8_t *data;
	size_t len;
	b3cas_cdc cdc;
} job;

static double run_hash(void *arg)
{
	job *j = arg;
	uint8_t out[32];
	double t0 = now();

	b3cas_hash(out, j->data, j->len);
	return now() - t0;
}

/* What a chunked put computes: the cuts and every chunk's BLAKE3, 64
 * chunks to a batch as the put does (store/chunked.c, HASH_CHUNKS). */
static double run_cut_hash(void *arg)
{
	enum { N = 64 };
	job *j = arg;
	static uint8_t out[N * 32];
	static const void *in[N];
	static size_t lens[N];
	size_t n = 0;
	double t0 = now();

	for (size_t off = 0; off < j->len;) {
		size_t cl = b3cas__cdc_cut(NULL, &j->cdc, j->data + off,
					   j->len - off);

		in[n] = j->data + off;
		lens[n++] = cl;
		off += cl;
		if (n == N || off == j->len) {
			b3cas_hash_batch(out, in, lens, n);
			n = 0;
		}
	}
	return now() - t0;
}

int main(int argc, char **argv)
{
	size_t mib = 1024, avg = 4096;
	bool quick = false;
	char dir[] = "/tmp/bench_chunked.XXXXXX";
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	b3cas_oid id, id2;
	job j;
	double t, lat[2000];
	uint64_t st = 42;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true, mib = 32;
		else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
			mib = strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--avg") == 0 && i + 1 < argc)
			avg = strtoul(argv[++i], NULL, 0);
		else
			die("usage: bench_chunked [--quick] [--mib N] [--avg "
			    "BYTES]");
	}
	j.len = mib << 20;
	j.data = malloc(j.len);
	if (!j.data || !mkdtemp(dir))
		die("out of memory or no temp folder");
	make_content(j.data, j.len, 7, 1);
	if (b3cas__cdc_init(&j.cdc, avg / 4, avg, avg * 4, 0) != 0)
		die("bad --avg: %s", b3cas_error_last());
	printf("bench_chunked: one object of %zu MiB, chunks %zu..%zu "
	       "(avg %zu), zstd 3, SIMD %s\n",
	       mib, avg / 4, avg * 4, avg, b3cas_simd_name());

	t = best_of(quick ? 1 : 3, run_hash, &j);
	printf("hash alone       %7.2f GB/s\n", gbps(j.len, t));
	t = best_of(quick ? 1 : 3, run_cut_hash, &j);
	printf("cut + hash       %7.2f GB/s   (target >= 1.5)\n",
	       gbps(j.len, t));

	o.create = true;
	o.chunking = B3CAS_CHUNKING_ON;
	o.chunk_avg = (uint32_t)avg;
	o.compression_level = 3;
	o.durability = B3CAS_DURABILITY_BATCH;
	if (b3cas_store_open(&s, dir, &o) != 0)
		die("open: %s", b3cas_error_last());

	t = now();
	if (b3cas_store_put(s, &id, j.data, j.len) < 0)
		die("put: %s", b3cas_error_last());
	t = now() - t;
	printf("new put          %7.2f GB/s\n", gbps(j.len, t));
	t = now();
	if (b3cas_store_put(s, &id2, j.data, j.len) != 1)
		bench_fail("a duplicate put did not say so");
	t = now() - t;
	printf("dup put          %7.2f GB/s   (target >= 1)\n",
	       gbps(j.len, t));
	{
		/* a new id whose chunks are all stored but the last */
		uint8_t *known = malloc(j.len);
		b3cas_oid kid;

		if (!known)
			die("out of memory");
		memcpy(known, j.data, j.len);
		known[j.len - 1] ^= 0x5a;
		t = now();
		if (b3cas_store_put(s, &kid, known, j.len) != 0)
			bench_fail("a put of a new id was not new");
		t = now() - t;
		printf("known put        %7.2f GB/s   (target >= 1; a new id, "
		       "every chunk stored but the last)\n",
		       gbps(j.len, t));
		free(known);
	}
	{
		uint8_t *near = malloc(j.len);
		b3cas_oid nid;

		memcpy(near, j.data, j.len);
		for (int k = 0; k < 256; k++)
			memset(near + tu_rand(&st) % (j.len - 64), k + 1, 64);
		t = now();
		if (b3cas_store_put(s, &nid, near, j.len) < 0)
			die("put: %s", b3cas_error_last());
		t = now() - t;
		printf("near put         %7.2f GB/s   (256 spots of 64 bytes "
		       "changed)\n",
		       gbps(j.len, t));
		free(near);
	}
	{
		void *got;
		size_t len;

		t = now();
		if (b3cas_store_get(s, &id, &got, &len) != 0)
			die("get: %s", b3cas_error_last());
		t = now() - t;
		if (len != j.len || memcmp(got, j.data, len))
			bench_fail("get returned other bytes");
		printf("get              %7.2f GB/s\n", gbps(j.len, t));
		free(got);
	}
	{
		b3cas_reader *r;
		static uint8_t buf[1 << 20];
		size_t pos = 0;
		int64_t n;

		t = now();
		if (b3cas_reader_open(&r, s, &id) != 0)
			die("reader: %s", b3cas_error_last());
		while ((n = b3cas_reader_read(r, buf, sizeof(buf))) > 0) {
			if (memcmp(buf, j.data + pos, (size_t)n))
				bench_fail("the reader returned other bytes");
			pos += (size_t)n;
		}
		t = now() - t;
		b3cas_reader_close(r);
		if (n < 0 || pos != j.len)
			bench_fail("the reader stopped at %zu", pos);
		printf("stream read      %7.2f GB/s\n", gbps(j.len, t));
	}
	{
		int n = quick ? 200 : 2000;
		uint8_t buf[4096];
		size_t got;

		/* warm: the segments and chunks read once before timing */
		for (int pass = 0; pass < 2; pass++) {
			uint64_t rs = 99;

			for (int k = 0; k < n; k++) {
				uint64_t off = tu_rand(&rs) % (j.len - 4096);
				double t0 = now();

				if (b3cas_store_read_at(s, &id, off, buf, 4096,
							&got) != 0)
					die("read_at: %s", b3cas_error_last());
				lat[k] = (now() - t0) * 1e6;
				if (got != 4096 ||
				    memcmp(buf, j.data + off, 4096))
					bench_fail("read_at returned other "
						   "bytes at %llu",
						   (unsigned long long)off);
			}
		}
		printf("range 4 KiB      p50 %6.1f us  p99 %6.1f us   "
		       "(target <= 100, warm)\n",
		       quantile(lat, (size_t)n, 0.5),
		       quantile(lat, (size_t)n, 0.99));
	}
	if (b3cas_store_close(s) != 0)
		bench_fail("close: %s", b3cas_error_last());
	remove_tree(dir);
	free(j.data);
	return bench_failures ? 1 : 0;
}
