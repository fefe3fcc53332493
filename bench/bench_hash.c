/*
 * bench_hash.c - how fast b3cas hashes, as ratios to OpenSSL's SHA-256 and
 * SHA-1 and to its own portable code, all measured in the same run.
 *
 * For each message size: single-thread one-shot hashing at every SIMD level
 * up to the one in use (the CPU's best, or lower when B3CAS_SIMD says so),
 * multithreaded hashing through a pool, SHA-256 and SHA-1 through EVP; then
 * batch hashing of many small messages. A summary states the machine and
 * the ratios: b3cas against SHA-256 and SHA-1, each level against
 * portable, threads against one, batch against one by one. Nothing is
 * judged against an absolute figure: one written for another machine
 * (another SIMD level, with or without SHA extensions) says nothing here.
 *
 * Method (the machine is shared and noisy): every cell is a series of
 * samples, each a timed loop calibrated to take about 20 ms; the median
 * sample is reported. For a given size the variants' samples are
 * interleaved (A B C A B C ...) so that all see the same machine; the
 * ratios are what matter. Inputs are random bytes in 64-byte-aligned
 * buffers. Up to 16 MiB the same buffer is hashed again and again (it
 * stays in cache); 256 MiB is eight times the last-level cache, so each
 * pass reads it from DRAM. 1 GB = 10^9 bytes.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/hash.h"

#define MIB ((size_t)1 << 20)
#define DRAM_SIZE (32 * MIB) /* above: the last-level cache cannot hold it */

typedef struct config {
	int samples;       /* per cell */
	double sample_sec; /* target length of one sample */
	size_t sizes[16];
	int nsizes;
	bool levels[4];
	bool sha;
	bool quick;
	bool verbose;
	bool summary_only;
} config;

static config cfg;
static unsigned sink; /* keeps every hash result alive */
static b3cas_simd detected_level;
static b3cas_simd top_level;   /* detected, or lower under B3CAS_SIMD */
static int ratio_level;        /* highest level measured: SHA, threads */

/* ---- timing ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef void (*work_fn)(void *arg);

typedef struct variant {
	const char *name;
	work_fn fn;
	void *arg;
	long reps;   /* calls per sample */
	double t[64]; /* seconds per call, one per sample */
	double median, min;
	bool active;
} variant;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double run_sample(variant *v)
{
	double t0 = now();

	for (long i = 0; i < v->reps; i++)
		v->fn(v->arg);
	return (now() - t0) / (double)v->reps;
}

/* Reps so that one sample takes about cfg.sample_sec. */
static void calibrate(variant *v)
{
	double per_call;

	v->reps = 1;
	per_call = run_sample(v); /* also warms caches and the pool */
	if (per_call < cfg.sample_sec / 4) {
		v->reps = (long)(cfg.sample_sec / 20 / per_call) + 1;
		per_call = run_sample(v);
	}
	v->reps = (long)(cfg.sample_sec / per_call);
	if (v->reps < 1)
		v->reps = 1;
}

/* Interleaved samples of all active variants; medians into each. */
static void measure(variant *vs, int n, int samples)
{
	for (int i = 0; i < n; i++)
		if (vs[i].active)
			calibrate(&vs[i]);
	for (int s = 0; s < samples; s++)
		for (int i = 0; i < n; i++)
			if (vs[i].active)
				vs[i].t[s] = run_sample(&vs[i]);
	for (int i = 0; i < n; i++) {
		double sorted[64];

		if (!vs[i].active)
			continue;
		memcpy(sorted, vs[i].t, sizeof(double) * (size_t)samples);
		qsort(sorted, (size_t)samples, sizeof(double), cmp_double);
		vs[i].median = sorted[samples / 2];
		vs[i].min = sorted[0];
	}
}

/* ---- the work ---- */

typedef struct one_shot {
	const uint8_t *buf;
	size_t len;
	b3cas_simd level;
	b3cas_pool *pool;
} one_shot;

static void do_b3(void *arg)
{
	one_shot *o = arg;
	uint8_t out[32];

	if (b3cas_simd_active() != o->level)
		b3cas_simd_force(o->level);
	if (o->pool)
		b3cas_hash_parallel(out, o->buf, o->len, o->pool);
	else
		b3cas_hash(out, o->buf, o->len);
	sink += out[0];
}

typedef struct sha {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
	const uint8_t *buf;
	size_t len;
} sha;

static void do_sha(void *arg)
{
	sha *s = arg;
	uint8_t out[EVP_MAX_MD_SIZE];
	unsigned n;

	EVP_DigestInit_ex2(s->ctx, s->md, NULL);
	EVP_DigestUpdate(s->ctx, s->buf, s->len);
	EVP_DigestFinal_ex(s->ctx, out, &n);
	sink += out[0];
}

typedef struct batch {
	const void **in;
	size_t *lens;
	size_t count;
	size_t bytes;
	uint8_t *out;
	b3cas_simd level;
	sha *sha; /* one by one with SHA-256 instead */
	bool one_by_one;
} batch;

static void do_batch(void *arg)
{
	batch *b = arg;

	if (b->sha) {
		for (size_t i = 0; i < b->count; i++) {
			b->sha->buf = b->in[i];
			b->sha->len = b->lens[i];
			do_sha(b->sha);
		}
		return;
	}
	if (b3cas_simd_active() != b->level)
		b3cas_simd_force(b->level);
	if (b->one_by_one) {
		for (size_t i = 0; i < b->count; i++)
			b3cas_hash(b->out + 32 * i, b->in[i], b->lens[i]);
	} else {
		b3cas_hash_batch(b->out, b->in, b->lens, b->count);
	}
	sink += b->out[0] + b->out[32 * (b->count - 1)];
}

/* ---- output helpers ---- */

static const char *level_names[] = {"portable", "sse41", "avx2", "avx512"};

static void fmt_size(char *out, size_t n)
{
	if (n >= MIB && n % MIB == 0)
		sprintf(out, "%zu MiB", n / MIB);
	else if (n >= 1024 && n % 1024 == 0)
		sprintf(out, "%zu KiB", n / 1024);
	else
		sprintf(out, "%zu B", n);
}

static double gbps(size_t bytes, double sec)
{
	return (double)bytes / sec / 1e9;
}

static void fmt_time(char *out, double sec)
{
	if (sec < 1e-6)
		sprintf(out, "%.1f ns", sec * 1e9);
	else if (sec < 1e-3)
		sprintf(out, "%.2f us", sec * 1e6);
	else
		sprintf(out, "%.2f ms", sec * 1e3);
}

static void cell(const variant *v, size_t bytes)
{
	char t[32], c[48];

	if (!v->active) {
		printf(" %19s", "-");
		return;
	}
	fmt_time(t, v->median);
	snprintf(c, sizeof(c), "%s %5.2f", t, gbps(bytes, v->median));
	printf(" %19s", c);
}

/* ---- what the summary keeps ---- */

/*
 * A ratio is the median time of what b3cas is set against over b3cas's
 * median time, both from the same interleaved series: how many times as
 * fast b3cas is. 0 stands for "not measured".
 */
typedef struct size_ratios {
	size_t len;
	double sha256, sha1;          /* b3cas at ratio_level, one thread */
	double vs_portable[4];        /* each level against portable */
	double threads2, threads_all; /* against one thread at ratio_level */
} size_ratios;

static const struct batch_kind {
	size_t len; /* 0: lengths from 1 to 1024 */
	bool scattered;
	const char *name;
} batch_kinds[] = {
	{64, false, "64 B"},
	{64, true, "64 B scattered"},
	{1024, false, "1 KiB"},
	{1024, true, "1 KiB scattered"},
	{0, false, "1..1024 B mixed"},
	/* a few chunks each: chunks and parents in the lanes */
	{2048, false, "2 KiB"},
	{4096, false, "4 KiB"},
	{7168, false, "7 KiB"},
	{8192, false, "8 KiB"},
	{10240, false, "10 KiB"},
	{24576, false, "24 KiB"},
};

#define NKINDS (sizeof(batch_kinds) / sizeof(batch_kinds[0]))

typedef struct batch_ratios {
	double one_by_one, sha256; /* a batch at ratio_level against these */
} batch_ratios;

static size_ratios size_sum[16];
static batch_ratios batch_sum[NKINDS];

static double ratio(const variant *other, const variant *ours)
{
	if (!other->active || !ours->active)
		return 0;
	return other->median / ours->median;
}

/* ---- one message, one call ---- */

static sha sha256, sha1;
static b3cas_pool *pool2, *pool_all;
static unsigned ncpu;

/* The variants of one size; the SIMD levels come first, by level. */
enum { V_POOL2 = 4, V_POOL_ALL, V_SHA256, V_SHA1, V_COUNT };

static void print_sizes_header(void)
{
	printf("\n== One message, one call (median of %d samples; "
	       "time per call and GB/s) ==\n",
	       cfg.samples);
	printf("%-8s", "size");
	for (int l = 0; l <= (int)top_level; l++)
		if (cfg.levels[l])
			printf(" %19s", level_names[l]);
	printf(" %19s", "2 threads");
	if (ncpu > 2)
		printf(" %19s", "all threads");
	if (cfg.sha)
		printf(" %19s %19s", "SHA-256", "SHA-1");
	printf("\n");
}

static void print_size_row(const variant *v, size_t len, bool dram)
{
	char sz[32];

	fmt_size(sz, len);
	printf("%-8s", sz);
	for (int l = 0; l <= (int)top_level; l++)
		if (cfg.levels[l])
			cell(&v[l], len);
	cell(&v[V_POOL2], len);
	if (ncpu > 2)
		cell(&v[V_POOL_ALL], len);
	if (cfg.sha) {
		cell(&v[V_SHA256], len);
		cell(&v[V_SHA1], len);
	}
	printf("%s\n", dram ? "  (from DRAM)" : "");
	if (cfg.verbose && cfg.sha)
		printf("%8s min: %s %.1f ns, SHA-256 %.1f ns\n", "",
		       level_names[ratio_level], v[ratio_level].min * 1e9,
		       v[V_SHA256].min * 1e9);
}

static void keep_size_ratios(size_ratios *r, const variant *v, size_t len)
{
	const variant *ours = &v[ratio_level];

	r->len = len;
	r->sha256 = ratio(&v[V_SHA256], ours);
	r->sha1 = ratio(&v[V_SHA1], ours);
	for (int l = 0; l < 4; l++)
		r->vs_portable[l] = ratio(&v[0], &v[l]);
	r->threads2 = ratio(ours, &v[V_POOL2]);
	r->threads_all = ratio(ours, &v[V_POOL_ALL]);
}

static void bench_size(uint8_t *buf, size_t len, size_ratios *r)
{
	bool dram = len > DRAM_SIZE;
	bool big = len >= 64 * 1024; /* below, a pool only adds hand-off */
	variant v[V_COUNT] = {0};
	one_shot o[V_POOL_ALL + 1];

	for (int l = 0; l <= (int)top_level; l++) {
		o[l] = (one_shot){buf, len, (b3cas_simd)l, NULL};
		v[l] = (variant){.name = level_names[l], .fn = do_b3,
				 .arg = &o[l], .active = cfg.levels[l]};
	}
	o[V_POOL2] = (one_shot){buf, len, (b3cas_simd)ratio_level, pool2};
	o[V_POOL_ALL] =
		(one_shot){buf, len, (b3cas_simd)ratio_level, pool_all};
	v[V_POOL2] = (variant){.name = "2 threads", .fn = do_b3,
			       .arg = &o[V_POOL2], .active = big};
	v[V_POOL_ALL] = (variant){.name = "all", .fn = do_b3,
				  .arg = &o[V_POOL_ALL],
				  .active = big && ncpu > 2};
	sha256.buf = sha1.buf = buf;
	sha256.len = sha1.len = len;
	v[V_SHA256] = (variant){.name = "SHA-256", .fn = do_sha,
				.arg = &sha256, .active = cfg.sha};
	v[V_SHA1] = (variant){.name = "SHA-1", .fn = do_sha, .arg = &sha1,
			      .active = cfg.sha};
	measure(v, V_COUNT, dram && !cfg.quick ? 5 : cfg.samples);
	if (!cfg.summary_only)
		print_size_row(v, len, dram);
	keep_size_ratios(r, v, len);
}

static void bench_sizes(uint8_t *buf)
{
	if (!cfg.summary_only)
		print_sizes_header();
	for (int i = 0; i < cfg.nsizes; i++)
		bench_size(buf, cfg.sizes[i], &size_sum[i]);
}

/* ---- batch hashing ---- */

static void setup_batch(batch *b, uint8_t *buf, size_t region, size_t count,
			size_t msg_len, bool scattered, uint64_t *rng)
{
	b->in = calloc(count, sizeof(*b->in));
	b->lens = calloc(count, sizeof(*b->lens));
	b->out = malloc(32 * count);
	b->count = count;
	b->bytes = 0;
	for (size_t i = 0; i < count; i++) {
		size_t len = msg_len ? msg_len : 1 + (size_t)(*rng % 1024);
		size_t off;

		*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
		off = scattered ? (size_t)((*rng >> 20) % (region - len)) &
					  ~(size_t)63
				: i * (msg_len ? msg_len : 1024);
		b->in[i] = buf + off;
		b->lens[i] = len;
		b->bytes += len;
	}
}

static void free_batch(batch *b)
{
	free(b->in);
	free(b->lens);
	free(b->out);
}


/* A batch, the same messages one by one, and one by one with SHA-256. */
static void bench_batch_level(uint8_t *buf, size_t region, size_t count,
			      size_t k, int level)
{
	const struct batch_kind *kind = &batch_kinds[k];
	variant v[3] = {0};
	batch b[3];

	/* long messages side by side must stay inside the region */
	if (kind->len && !kind->scattered && count * kind->len > region)
		count = region / kind->len;
	for (int i = 0; i < 3; i++) {
		uint64_t rng = 12345 + k;

		setup_batch(&b[i], buf, region, count, kind->len,
			    kind->scattered, &rng);
		b[i].level = (b3cas_simd)level;
		b[i].sha = i == 2 ? &sha256 : NULL;
		b[i].one_by_one = i == 1;
	}
	v[0] = (variant){.name = "batch", .fn = do_batch, .arg = &b[0],
			 .active = true};
	v[1] = (variant){.name = "1by1", .fn = do_batch, .arg = &b[1],
			 .active = true};
	v[2] = (variant){.name = "sha", .fn = do_batch, .arg = &b[2],
			 .active = cfg.sha};
	measure(v, 3, cfg.samples);
	if (!cfg.summary_only)
		printf("%-16s %-9s %10.2f %12.2f %10.2f %8.2fx %8.2fx\n",
		       kind->name, level_names[level],
		       gbps(b[0].bytes, v[0].median),
		       gbps(b[1].bytes, v[1].median),
		       cfg.sha ? gbps(b[2].bytes, v[2].median) : 0,
		       ratio(&v[1], &v[0]), ratio(&v[2], &v[0]));
	if (level == ratio_level) /* the same bytes: time ratio = GB/s */
		batch_sum[k] = (batch_ratios){ratio(&v[1], &v[0]),
					      ratio(&v[2], &v[0])};
	for (int i = 0; i < 3; i++)
		free_batch(&b[i]);
}

static size_t batch_count(void)
{
	return cfg.quick ? 512 : 4096;
}

static void bench_batch(uint8_t *buf, size_t region)
{
	if (!cfg.summary_only) {
		printf("\n== Batch hashing: %zu independent messages per "
		       "call (aggregate GB/s) ==\n",
		       batch_count());
		printf("%-16s %-9s %10s %12s %10s %9s %9s\n", "messages",
		       "level", "batch", "one by one", "SHA-256", "vs 1by1",
		       "vs SHA256");
	}
	for (size_t k = 0; k < NKINDS; k++)
		for (int l = 0; l <= (int)top_level; l++)
			if (cfg.levels[l])
				bench_batch_level(buf, region, batch_count(),
						  k, l);
}

/* ---- the machine and the summary ---- */

/*
 * The CPU's model name, and whether it has the SHA extensions: OpenSSL uses
 * them, and they move the SHA ratios more than anything else. On the
 * development machine (AVX-512) masking them from OpenSSL
 * (OPENSSL_ia32cap=:~0x20000000) took the SHA-256 ratio at 64 KiB from
 * about 3x to about 11x, and at 4 KiB from 1.5x to 5x.
 */
static void read_cpuinfo(char *model, size_t model_len, bool *sha_ni)
{
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(model, model_len, "unknown");
	*sha_ni = false;
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!p)
			continue;
		if (strncmp(line, "model name", 10) == 0) {
			snprintf(model, model_len, "%s", p + 2);
			model[strcspn(model, "\n")] = '\0';
		} else if (strncmp(line, "flags", 5) == 0) {
			*sha_ni = strstr(p, " sha_ni") != NULL;
			break; /* the first CPU's lines are enough */
		}
	}
	if (f)
		fclose(f);
}

static void print_machine(void)
{
	const char *env = getenv("B3CAS_SIMD");
	char model[256];
	bool sha_ni;

	read_cpuinfo(model, sizeof(model), &sha_ni);
	printf("CPU: %s, %u online CPUs, SHA extensions: %s\n", model, ncpu,
	       sha_ni ? "yes" : "no");
	printf("SIMD: detected %s, in use %s", level_names[detected_level],
	       level_names[top_level]);
	if (!env || !*env)
		printf(" (B3CAS_SIMD not set)\n");
	else if (top_level < detected_level)
		printf(" (B3CAS_SIMD=%s caps it; %s not measured)\n", env,
		       level_names[detected_level]);
	else
		printf(" (B3CAS_SIMD=%s lowers nothing)\n", env);
}

static void print_ratio(double r)
{
	if (r > 0)
		printf(" %8.2fx", r);
	else
		printf(" %9s", "-");
}

static void print_size_summary(void)
{
	const char *lv = level_names[ratio_level];

	printf("\nOne message per call:\n"
	       "  SHA-256, SHA-1: b3cas at %s on one thread against "
	       "OpenSSL's\n"
	       "  sse41 and up: that level against portable, one thread\n"
	       "  2 threads: b3cas_hash_parallel on 2 threads against 1, "
	       "at %s\n",
	       lv, lv);
	printf("%-8s %9s %9s", "size", "SHA-256", "SHA-1");
	for (int l = 1; l <= (int)top_level; l++)
		if (cfg.levels[l])
			printf(" %9s", level_names[l]);
	printf(" %9s%s\n", "2 threads", ncpu > 2 ? " all threads" : "");
	for (int i = 0; i < cfg.nsizes; i++) {
		const size_ratios *r = &size_sum[i];
		char sz[32];

		fmt_size(sz, r->len);
		printf("%-8s", sz);
		print_ratio(r->sha256);
		print_ratio(r->sha1);
		for (int l = 1; l <= (int)top_level; l++)
			if (cfg.levels[l])
				print_ratio(r->vs_portable[l]);
		print_ratio(r->threads2);
		if (ncpu > 2)
			print_ratio(r->threads_all);
		printf("%s\n", r->len > DRAM_SIZE ? "  (from DRAM)" : "");
	}
}

static void print_batch_summary(void)
{
	printf("\n%zu messages in one b3cas_hash_batch call at %s, against "
	       "b3cas_hash\nand SHA-256 once per message:\n",
	       batch_count(), level_names[ratio_level]);
	printf("%-16s %11s %9s\n", "messages", "one by one", "SHA-256");
	for (size_t k = 0; k < NKINDS; k++) {
		printf("%-16s  ", batch_kinds[k].name);
		print_ratio(batch_sum[k].one_by_one);
		print_ratio(batch_sum[k].sha256);
		printf("\n");
	}
}

static void print_summary(void)
{
	printf("\n== Summary: ratios measured side by side in this run ==\n");
	print_machine();
	printf("Each ratio is how many times as fast b3cas is as what it is "
	       "set against: that\none's median time over b3cas's, both "
	       "measured here, now. Above 1.00x b3cas\nis faster. None is "
	       "judged against a figure from another machine.\n");
	print_size_summary();
	print_batch_summary();
}

/* ---- set-up ---- */

static void print_header(void)
{
	time_t t = time(NULL);
	char date[64];

	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	printf("b3cas %s hash benchmark, %s\n", b3cas_version(), date);
	printf("OpenSSL: %s (EVP, one reused context, digest fetched once)\n",
	       OpenSSL_version(OPENSSL_VERSION));
	printf("Median of %d samples of ~%.0f ms each; inputs up to 16 MiB "
	       "hot in cache, 256 MiB from DRAM; 1 GB = 1e9 bytes.\n",
	       cfg.samples, cfg.sample_sec * 1e3);
}

static size_t parse_size(const char *s)
{
	char *end;
	size_t n = strtoull(s, &end, 10);

	if (*end == 'K' || *end == 'k')
		n <<= 10;
	else if (*end == 'M' || *end == 'm')
		n <<= 20;
	return n;
}

static void usage(void)
{
	printf("Usage: bench_hash [--quick] [--summary] [--repeat N] "
	       "[--sizes LIST] [--levels LIST]\n"
	       "                  [--no-sha] [--verbose]\n"
	       "  --quick            short samples, nothing from DRAM "
	       "(a smoke run)\n"
	       "  --summary          print only the machine and the ratios\n"
	       "  --sizes 64,4K,1M   message sizes (K, M suffixes)\n"
	       "  --levels avx2,avx512   SIMD levels for the per-level "
	       "columns\n"
	       "Set B3CAS_SIMD=portable|sse41|avx2|avx512 to measure no "
	       "level above it.\nThe output is figures and ratios measured "
	       "in this run; the exit status does\nnot depend on them "
	       "(timings are evidence, not tests).\n");
}

static int parse_args(int argc, char **argv)
{
	static const size_t default_sizes[] = {64, 1024, 4096, 16384, 65536,
					       MIB, 16 * MIB, 256 * MIB};

	cfg.samples = 11;
	cfg.sample_sec = 0.02;
	cfg.sha = true;
	cfg.nsizes = 8;
	memcpy(cfg.sizes, default_sizes, sizeof(default_sizes));
	for (int l = 0; l < 4; l++)
		cfg.levels[l] = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			cfg.quick = true;
			cfg.samples = 3;
			cfg.sample_sec = 0.002;
		} else if (!strcmp(a, "--repeat") && i + 1 < argc) {
			cfg.samples = atoi(argv[++i]);
			if (cfg.samples < 1 || cfg.samples > 64)
				return -1;
		} else if (!strcmp(a, "--sizes") && i + 1 < argc) {
			char *list = strdup(argv[++i]), *save = NULL;

			cfg.nsizes = 0;
			for (char *t = strtok_r(list, ",", &save);
			     t && cfg.nsizes < 16;
			     t = strtok_r(NULL, ",", &save))
				cfg.sizes[cfg.nsizes++] = parse_size(t);
			free(list);
		} else if (!strcmp(a, "--levels") && i + 1 < argc) {
			for (int l = 0; l < 4; l++)
				cfg.levels[l] = strstr(argv[i + 1],
						       level_names[l]) != NULL;
			i++;
		} else if (!strcmp(a, "--no-sha")) {
			cfg.sha = false;
		} else if (!strcmp(a, "--verbose")) {
			cfg.verbose = true;
		} else if (!strcmp(a, "--summary")) {
			cfg.summary_only = true;
		} else {
			return -1;
		}
	}
	if (cfg.quick) { /* no DRAM-sized inputs in a smoke run */
		int kept = 0;

		for (int i = 0; i < cfg.nsizes; i++)
			if (cfg.sizes[i] <= 16 * MIB)
				cfg.sizes[kept++] = cfg.sizes[i];
		cfg.nsizes = kept;
	}
	return 0;
}

/*
 * The level in use before anything is forced is B3CAS_SIMD's cap, if any;
 * no level above it is measured. The single-level figures (SHA, threads,
 * batch) use the highest level that is.
 */
static void choose_levels(void)
{
	detected_level = b3cas_simd_detected();
	top_level = b3cas_simd_active();
	ratio_level = -1;
	for (int l = 0; l <= (int)top_level; l++)
		if (cfg.levels[l])
			ratio_level = l;
	if (ratio_level < 0) { /* --levels named none of them */
		ratio_level = (int)top_level;
		cfg.levels[top_level] = true;
	}
}

int main(int argc, char **argv)
{
	size_t max = 0, region;
	uint8_t *buf;
	uint64_t x = 0x9E3779B97F4A7C15ull;

	if (parse_args(argc, argv) != 0) {
		usage();
		return 2;
	}
	choose_levels();
	ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	for (int i = 0; i < cfg.nsizes; i++)
		if (cfg.sizes[i] > max)
			max = cfg.sizes[i];
	region = max > 64 * MIB ? max : 64 * MIB;
	buf = aligned_alloc(64, region);
	if (!buf || b3cas_pool_new(&pool2, 2) != 0 ||
	    b3cas_pool_new(&pool_all, 0) != 0) {
		fprintf(stderr, "bench_hash: out of memory or threads\n");
		return 2;
	}
	for (size_t i = 0; i < region; i += 8) { /* random, and faulted in */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(buf + i, &x, 8);
	}
	sha256.ctx = EVP_MD_CTX_new();
	sha1.ctx = EVP_MD_CTX_new();
	sha256.md = EVP_MD_fetch(NULL, "SHA256", NULL);
	sha1.md = EVP_MD_fetch(NULL, "SHA1", NULL);
	if (!sha256.ctx || !sha1.ctx || !sha256.md || !sha1.md) {
		fprintf(stderr, "bench_hash: OpenSSL digests unavailable\n");
		return 2;
	}

	print_header();
	bench_sizes(buf);
	bench_batch(buf, region);
	print_summary();
	b3cas_simd_force(top_level);
	printf("(checksum %u)\n", sink);

	EVP_MD_free(sha256.md);
	EVP_MD_free(sha1.md);
	EVP_MD_CTX_free(sha256.ctx);
	EVP_MD_CTX_free(sha1.ctx);
	b3cas_pool_free(pool2);
	b3cas_pool_free(pool_all);
	free(buf);
	return 0;
}
