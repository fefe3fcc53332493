/*
 * bench_fsck.c - how fast fsck and scrub verify a store, and that a
 * stopped scrub resumes without re-reading.
 *
 * One store of --objects mixed objects (default 100,000): 90% inline,
 * 100 B to 16 KiB, and 10% loose, 64 KiB to 1 MiB (inline threshold 64
 * KiB, the default), put in batches. Then, page cache warm (everything
 * was just written and read once by a first fsck):
 *   - b3cas_fsck on 1 and on 2 threads, alternated --repeat times (default
 *     3) so both see the same machine, reporting objects/s and GB/s over
 *     all bytes, the median of each, and the ratio 2 threads / 1; every
 *     run must find nothing and hash exactly the bytes put (else exit 1);
 *   - b3cas_scrub stopped after half the objects, then resumed: the two
 *     runs must cover every object exactly once (else exit 1).
 * Targets (issue 6): fsck >= 1 GB/s on loose objects in page cache with 2
 * threads, printed PASS/MISS, never asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"

#define BENCH_NAME "bench_fsck"
#include "bench_util.h"

static struct {
	long objects;
	int repeat;
	bool quick;
	const char *dir;
} cfg = {100000, 3, false, NULL};

#define MAX_REPEAT 21

/* One fsck on threads threads; it must find nothing and hash every byte
 * put. */
static void fsck_once(b3cas_store *s, unsigned threads, uint64_t total_bytes,
		      b3cas_fsck_report *fr)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;

	fo.threads = threads;
	if (b3cas_fsck(s, &fo, fr) != 0 || fr->problems)
		die("fsck: %s, %llu problems", b3cas_error_last(),
		    (unsigned long long)fr->problems);
	if (fr->objects != (uint64_t)cfg.objects || fr->bytes != total_bytes)
		die("fsck checked %llu objects, %llu bytes; expected %ld, %llu",
		    (unsigned long long)fr->objects,
		    (unsigned long long)fr->bytes, cfg.objects,
		    (unsigned long long)total_bytes);
}

static size_t object_size(uint64_t *rng, bool *loose)
{
	uint64_t r = tu_mix((*rng)++);

	*loose = r % 10 == 0;
	if (*loose)
		return 65537 + (size_t)((r >> 8) % (1024 * 1024 - 65537));
	return 100 + (size_t)((r >> 8) % (16 * 1024 - 100));
}

int main(int argc, char **argv)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_fsck_report fr;
	b3cas_scrub_options so = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_scrub_report s1, s2;
	char root[4096];
	uint64_t rng = 1, loose_bytes = 0, total_bytes = 0, nloose = 0;
	b3cas_store *s;
	double t0, put_s;
	double gbs[2][MAX_REPEAT], ops[2][MAX_REPEAT], med_gbs[2], med_ops[2];
	enum { BATCH = 256 };
	const void *ptrs[BATCH];
	size_t lens[BATCH];
	uint8_t *bufs[BATCH];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			cfg.quick = true;
			cfg.objects = 3000;
		} else if (!strcmp(argv[i], "--objects") && i + 1 < argc) {
			cfg.objects = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			cfg.dir = argv[++i];
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			cfg.repeat = atoi(argv[++i]);
			if (cfg.repeat < 1 || cfg.repeat > MAX_REPEAT)
				die("--repeat: 1 to %d", MAX_REPEAT);
		} else {
			fprintf(stderr, "usage: bench_fsck [--quick] "
				"[--objects N] [--repeat N] [--dir DIR]\n");
			return 2;
		}
	}
	snprintf(root, sizeof(root), "%s/bench-fsck-%ld",
		 cfg.dir ? cfg.dir : "/tmp", (long)getpid());
	o.create = true;
	o.l1_bytes = 0;
	if (b3cas_store_open(&s, root, &o) != 0)
		die("open %s: %s", root, b3cas_error_last());
	for (int i = 0; i < BATCH; i++)
		bufs[i] = malloc(1024 * 1024);
	printf("bench_fsck: %ld objects (90%% inline 100 B-16 KiB, 10%% "
	       "loose 64 KiB-1 MiB), %ld CPUs\n",
	       cfg.objects, sysconf(_SC_NPROCESSORS_ONLN));
	t0 = now();
	for (long done = 0; done < cfg.objects;) {
		int n = 0;

		for (; n < BATCH && done < cfg.objects; n++, done++) {
			bool loose;

			lens[n] = object_size(&rng, &loose);
			make_content(bufs[n], lens[n], 7, (uint64_t)done);
			ptrs[n] = bufs[n];
			total_bytes += lens[n];
			loose_bytes += loose ? lens[n] : 0;
			nloose += loose;
		}
		if (b3cas_store_put_batch(s, NULL, NULL, ptrs, lens,
					  (size_t)n) != 0)
			die("put_batch: %s", b3cas_error_last());
	}
	if (b3cas_store_sync(s) != 0)
		die("sync: %s", b3cas_error_last());
	put_s = now() - t0;
	printf("store: %.2f GB (%llu loose objects, %.2f GB) put in %.1f s\n",
	       (double)total_bytes / 1e9, (unsigned long long)nloose,
	       (double)loose_bytes / 1e9, put_s);

	/* A first pass warms the page cache (and must find nothing). */
	fsck_once(s, 1, total_bytes, &fr);
	/* 1 and 2 threads in turn, so that both see the same machine. */
	for (int rep = 0; rep < cfg.repeat; rep++) {
		for (int t = 0; t < 2; t++) {
			fsck_once(s, t + 1, total_bytes, &fr);
			gbs[t][rep] = (double)fr.bytes / fr.seconds / 1e9;
			ops[t][rep] = (double)fr.objects / fr.seconds;
			printf("fsck %d, %d thread%s: %llu objects, %llu "
			       "files, %.2f GB in %.2f s: %.0f objects/s, "
			       "%.2f GB/s\n",
			       rep + 1, t + 1, t ? "s" : "",
			       (unsigned long long)fr.objects,
			       (unsigned long long)fr.files,
			       (double)fr.bytes / 1e9, fr.seconds, ops[t][rep],
			       gbs[t][rep]);
		}
	}
	for (int t = 0; t < 2; t++) {
		med_gbs[t] = median(gbs[t], cfg.repeat);
		med_ops[t] = median(ops[t], cfg.repeat);
	}
	printf("\n| fsck threads | GB/s | objects/s |\n|---|---|---|\n");
	for (int t = 0; t < 2; t++)
		printf("| %d | %.2f | %.0f |\n", t + 1, med_gbs[t], med_ops[t]);
	printf("| 2 / 1 | %.2fx | %.2fx |\n(medians of %d runs each)\n\n",
	       med_gbs[1] / med_gbs[0], med_ops[1] / med_ops[0], cfg.repeat);
	/* Scrub: half, then the rest. */
	so.max_objects = (uint64_t)cfg.objects / 2;
	if (b3cas_scrub(s, &so, &s1) != 0)
		die("scrub: %s", b3cas_error_last());
	so.max_objects = 0;
	if (b3cas_scrub(s, &so, &s2) != 0)
		die("scrub: %s", b3cas_error_last());
	if (!s2.resumed || !s2.completed ||
	    s1.found.objects + s2.found.objects != (uint64_t)cfg.objects ||
	    s1.found.bytes + s2.found.bytes != total_bytes)
		die("scrub halves cover %llu + %llu objects, %llu + %llu "
		    "bytes: not each object once",
		    (unsigned long long)s1.found.objects,
		    (unsigned long long)s2.found.objects,
		    (unsigned long long)s1.found.bytes,
		    (unsigned long long)s2.found.bytes);
	printf("scrub stopped at %llu objects, resumed for %llu: each object "
	       "once; %.2f GB/s\n",
	       (unsigned long long)s1.found.objects,
	       (unsigned long long)s2.found.objects,
	       (double)(s1.found.bytes + s2.found.bytes) /
		       (s1.found.seconds + s2.found.seconds) / 1e9);
	printf("%s  fsck on 2 threads %.2f GB/s over all objects, page cache "
	       "warm, %ld CPUs (target >= 1 GB/s on loose objects)\n",
	       cfg.quick ? "INFO" : med_gbs[1] >= 1.0 ? "PASS" : "MISS",
	       med_gbs[1], sysconf(_SC_NPROCESSORS_ONLN));
	b3cas_store_close(s);
	for (int i = 0; i < BATCH; i++)
		free(bufs[i]);
	remove_tree(root);
	return 0;
}
