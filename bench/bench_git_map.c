/*
 * bench_git_map.c - issue 18's lookups in a store of many mapped git
 * objects: b3cas_git_lookup by a full SHA-1 (present and absent), by a
 * 7-digit prefix, and b3cas_git_reverse, in microseconds per call, warm
 * (each set looked up once before it is timed; the index compacted
 * first, as a store left to itself has it), in one run.
 *
 * Usage: bench_git_map [--objects N] [--lookups N] [--dir DIR] [--quick]
 *   --objects N  mapped blobs to make (default 1000000)
 *   --lookups N  calls timed per kind, in 5 rounds (default 200000)
 *   --dir DIR    where the store is made (default $TMPDIR or /tmp),
 *                removed at the end
 *   --quick      20,000 objects and 20,000 lookups (a smoke run)
 *
 * Figures are evidence, not tests: the exit status says only whether
 * every call gave what it should (found, absent, the right id).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef struct run {
	b3cas_store *s;
	b3cas_git_object *objs; /* what was put, in order */
	size_t n, lookups;
	unsigned bad;
} run;

enum kind { FOUND, ABSENT, PREFIX, REVERSE };

/* One call of kind k on object i (or a random absent id). */
static void call(run *r, enum kind k, size_t i)
{
	b3cas_git_object o;
	const b3cas_git_object *want = &r->objs[i];
	char hex[B3CAS_GIT_HEX_MAX + 1];
	b3cas_git_oid g;
	int rc;

	switch (k) {
	case FOUND:
		rc = b3cas_git_lookup(r->s, &want->git, &o);
		r->bad += rc != 0 ||
			  !b3cas_oid_equal(&o.id, &want->id);
		break;
	case ABSENT:
		g.algo = B3CAS_GIT_SHA1;
		for (int b = 0; b < 20; b += 8) {
			uint64_t x = next();

			memcpy(g.bytes + b, &x, b + 8 <= 20 ? 8 : 4);
		}
		rc = b3cas_git_lookup(r->s, &g, &o);
		/* a random id is mapped with odds of n / 2^160 */
		r->bad += rc != B3CAS_ENOTFOUND;
		break;
	case PREFIX:
		b3cas_git_oid_fmt(hex, &want->git);
		hex[7] = '\0';
		rc = b3cas_git_lookup_prefix(r->s, B3CAS_GIT_SHA1, hex, &o);
		/* 7 digits (28 bits) are ambiguous now and then among 10^6 */
		r->bad += rc != 0 && rc != B3CAS_EEXISTS;
		r->bad += rc == 0 && !b3cas_oid_equal(&o.id, &want->id);
		break;
	case REVERSE:
		rc = b3cas_git_reverse(r->s, &want->id, B3CAS_GIT_SHA1,
				       B3CAS_GIT_BLOB, &o);
		r->bad += rc != 0 ||
			  memcmp(o.git.bytes, want->git.bytes, 20) != 0;
		break;
	}
}

/* Median of 5 rounds of lookups / 5 calls, in microseconds a call. */
static double time_kind(run *r, enum kind k)
{
	size_t per = r->lookups / 5;
	double us[5];
	size_t *order = malloc(per * sizeof(*order));

	if (!order)
		exit(1);
	for (int round = 0; round < 5; round++) {
		double t0;

		for (size_t j = 0; j < per; j++)
			order[j] = (size_t)(next() % r->n);
		for (size_t j = 0; j < per; j++) /* warm: once untimed */
			call(r, k, order[j]);
		t0 = now();
		for (size_t j = 0; j < per; j++)
			call(r, k, order[j]);
		us[round] = (now() - t0) * 1e6 / (double)per;
	}
	free(order);
	qsort(us, 5, sizeof(*us), cmp_double);
	return us[2];
}

int main(int argc, char **argv)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	const char *base = getenv("TMPDIR");
	char dir[4096], cmd[4200];
	run r = {NULL, NULL, 1000000, 200000, 0};
	b3cas_lease *lease;
	double t0, put_s;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--objects") && i + 1 < argc)
			r.n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lookups") && i + 1 < argc)
			r.lookups = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			base = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			r.n = r.lookups = 20000;
		else {
			fprintf(stderr, "usage: bench_git_map [--objects N] "
				"[--lookups N] [--dir DIR] [--quick]\n");
			return 2;
		}
	}
	if (r.n == 0 || r.lookups < 5) {
		fprintf(stderr, "bench_git_map: --objects and --lookups must "
			"be at least 1 and 5\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/bench-git-map-XXXXXX",
		 base && base[0] ? base : "/tmp");
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_git_map: %s: %s\n", dir, strerror(errno));
		return 2;
	}
	o.create = true;
	o.durability = B3CAS_DURABILITY_NONE;
	r.objs = calloc(r.n, sizeof(*r.objs));
	if (!r.objs || b3cas_store_open(&r.s, dir, &o) < 0 ||
	    b3cas_lease_open(r.s, &lease) < 0) {
		fprintf(stderr, "bench_git_map: %s\n", b3cas_error_last());
		return 1;
	}
	/* the lease holds every blob while they are looked up */
	t0 = now();
	for (size_t i = 0; i < r.n; i++) {
		char text[64];
		int n = snprintf(text, sizeof(text), "blob number %zu\n", i);

		if (b3cas_git_put(lease, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, text,
				  (size_t)n, NULL, 0, &r.objs[i]) < 0) {
			fprintf(stderr, "bench_git_map: %s\n",
				b3cas_error_last());
			return 1;
		}
	}
	put_s = now() - t0;
	/* the index as a store left to itself has it: RocksDB's compactions
	 * of the puts done, not running beside the timed calls */
	t0 = now();
	if (b3cas_store_compact(r.s) < 0) {
		fprintf(stderr, "bench_git_map: %s\n", b3cas_error_last());
		return 1;
	}
	printf("b3cas %s git map benchmark: %zu mapped blobs (put in %.1f s, "
	       "%.0f a second; index compacted in %.1f s), %zu timed calls "
	       "of each kind in 5 rounds, warm; median round, microseconds a "
	       "call\n",
	       b3cas_version(), r.n, put_s, (double)r.n / put_s, now() - t0,
	       r.lookups);
	printf("| call | us |\n|---|---|\n");
	printf("| b3cas_git_lookup, a mapped SHA-1 | %.2f |\n",
	       time_kind(&r, FOUND));
	printf("| b3cas_git_lookup, an absent SHA-1 | %.2f |\n",
	       time_kind(&r, ABSENT));
	printf("| b3cas_git_lookup_prefix, 7 digits | %.2f |\n",
	       time_kind(&r, PREFIX));
	printf("| b3cas_git_reverse, BLAKE3 -> SHA-1 | %.2f |\n",
	       time_kind(&r, REVERSE));
	b3cas_lease_close(lease);
	b3cas_store_close(r.s);
	free(r.objs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_git_map: could not remove %s\n", dir);
	if (r.bad) {
		fprintf(stderr, "bench_git_map: %u calls gave a wrong answer\n",
			r.bad);
		return 1;
	}
	return 0;
}
