/*
 * bench_b3ref.c - b3cas's BLAKE3 beside the official BLAKE3 C release,
 * level by level, in one process.
 *
 * The official release is not part of b3cas and is never built by it: the
 * user builds it outside the project tree, once per SIMD level it can be
 * capped to (its CMake build takes -DBLAKE3_NO_AVX512, -DBLAKE3_NO_AVX2
 * and -DBLAKE3_NO_SSE41 as C flags), as shared libraries laid out as
 * REF/<level>/lib/libblake3.so (or REF/<level>/libblake3.so), and gives REF
 * with --ref or B3CAS_BLAKE3_REF. Each level's library is loaded with
 * dlopen into its own namespace, so all of them live in one process
 * without their symbols meeting. Without REF, or for a level with no
 * library, the pairing is skipped with a message and b3cas is measured
 * alone.
 *
 * For each level and size: single-thread one-shot hashing of the same
 * buffer, b3cas at that level (b3cas_simd_force) against the official
 * build of that level, samples interleaved A B B A A B ... so that both see
 * the same machine; each sample is a loop calibrated to a few ms and the
 * median sample is reported, with the ratio of the medians (b3cas speed
 * over official speed: above 1 means b3cas is faster). Sizes up to 16 MiB
 * are hashed from cache; larger ones are read from DRAM. Then batch hashing
 * of 1 KiB messages against the official one-by-one. Every result is also
 * compared byte for byte with the official one: a difference is an error
 * (exit 1), so the run doubles as a differential test.
 */
#define BENCH_NAME "bench_b3ref"
#include "bench_util.h"

#include <dlfcn.h>
#include <stdalign.h>

#include "b3cas/hash.h"

#define MIB ((size_t)1 << 20)
#define MAX_SAMPLES 63
#define NLEVELS 4
#define BATCH_COUNT 1024
#define BATCH_MSG 1024

static const char *const level_names[NLEVELS] = {"portable", "sse41",
						 "avx2", "avx512"};

/* ---- the official release, loaded per level ---- */

typedef struct ref_lib {
	void *dl;
	void (*init)(void *h);
	void (*update)(void *h, const void *in, size_t len);
	void (*finalize)(const void *h, uint8_t *out, size_t len);
	const char *(*version)(void);
	char path[4096];
} ref_lib;

/* The official hasher is under 2 KiB; its layout is its own business. */
static alignas(64) uint8_t ref_state[16384];

static bool ref_open(ref_lib *r, const char *dir, const char *level)
{
	static const char *const sub[] = {"lib/libblake3.so", "libblake3.so",
					  "lib64/libblake3.so"};

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(r->path, sizeof(r->path), "%s/%s/%s", dir, level,
			 sub[i]);
		r->dl = dlopen(r->path, RTLD_NOW | RTLD_LOCAL);
		if (r->dl)
			break;
	}
	if (!r->dl)
		return false;
	*(void **)&r->init = dlsym(r->dl, "blake3_hasher_init");
	*(void **)&r->update = dlsym(r->dl, "blake3_hasher_update");
	*(void **)&r->finalize = dlsym(r->dl, "blake3_hasher_finalize");
	*(void **)&r->version = dlsym(r->dl, "blake3_version");
	if (!r->init || !r->update || !r->finalize || !r->version)
		die("%s: not a BLAKE3 C library (missing symbols)", r->path);
	return true;
}

static void ref_hash(const ref_lib *r, uint8_t out[32], const void *in,
		     size_t len)
{
	r->init(ref_state);
	r->update(ref_state, in, len);
	r->finalize(ref_state, out, 32);
}

/* ---- what is timed ---- */

typedef struct job {
	const ref_lib *ref; /* NULL: b3cas */
	b3cas_simd level;
	const uint8_t *buf;
	size_t len;
	bool batch;     /* BATCH_COUNT messages of BATCH_MSG bytes */
	bool one_by_one;
	uint8_t out[32 * BATCH_COUNT];
} job;

static unsigned sink;
static const void *batch_in[BATCH_COUNT];
static size_t batch_len[BATCH_COUNT];

static void run_job(job *j)
{
	if (!j->ref && b3cas_simd_active() != j->level)
		b3cas_simd_force(j->level);
	if (!j->batch) {
		if (j->ref)
			ref_hash(j->ref, j->out, j->buf, j->len);
		else
			b3cas_hash(j->out, j->buf, j->len);
	} else if (!j->ref && !j->one_by_one) {
		b3cas_hash_batch(j->out, batch_in, batch_len, BATCH_COUNT);
	} else {
		for (size_t i = 0; i < BATCH_COUNT; i++)
			if (j->ref)
				ref_hash(j->ref, j->out + 32 * i, batch_in[i],
					 BATCH_MSG);
			else
				b3cas_hash(j->out + 32 * i, batch_in[i],
					   BATCH_MSG);
	}
	sink += j->out[0];
}

typedef struct timed {
	job *job;
	long reps;
	double t[MAX_SAMPLES];
	double median;
} timed;

static struct {
	int samples;
	double sample_sec;
	size_t sizes[16];
	int nsizes;
	bool levels[NLEVELS];
	bool batch;
	const char *ref_dir;
} cfg = {.samples = 11, .sample_sec = 0.01, .batch = true};

static double sample(timed *v)
{
	double t0 = now();

	for (long i = 0; i < v->reps; i++)
		run_job(v->job);
	return (now() - t0) / (double)v->reps;
}

static void calibrate(timed *v)
{
	double per_call;

	v->reps = 1;
	per_call = sample(v); /* also warms the caches */
	if (per_call < cfg.sample_sec / 8) {
		v->reps = (long)(cfg.sample_sec / 50 / per_call) + 1;
		per_call = sample(v);
	}
	v->reps = (long)(cfg.sample_sec / per_call);
	if (v->reps < 1)
		v->reps = 1;
}

/* n variants, samples interleaved in an order that reverses every round
 * (A B, B A, A B, ...) so that neither side always runs first. */
static void measure(timed *v, int n, int samples)
{
	for (int i = 0; i < n; i++)
		calibrate(&v[i]);
	for (int s = 0; s < samples; s++)
		for (int k = 0; k < n; k++) {
			int i = s % 2 ? n - 1 - k : k;

			v[i].t[s] = sample(&v[i]);
		}
	for (int i = 0; i < n; i++)
		v[i].median = median(v[i].t, samples);
}

/* ---- output ---- */

static void fmt_size(char *out, size_t len, size_t n)
{
	if (n >= MIB && n % MIB == 0)
		snprintf(out, len, "%zu MiB", n / MIB);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(out, len, "%zu KiB", n / 1024);
	else
		snprintf(out, len, "%zu B", n);
}

static void fmt_time(char *out, size_t len, double sec)
{
	if (sec < 1e-6)
		snprintf(out, len, "%.1f ns", sec * 1e9);
	else if (sec < 1e-3)
		snprintf(out, len, "%.2f us", sec * 1e6);
	else
		snprintf(out, len, "%.2f ms", sec * 1e3);
}

static void cell(double sec, size_t bytes)
{
	char t[32], c[48];

	fmt_time(t, sizeof(t), sec);
	snprintf(c, sizeof(c), "%s %6.2f GB/s", t, (double)bytes / sec / 1e9);
	printf(" %24s", c);
}

static void check_same(const job *a, const job *b, size_t n, const char *lv,
		       size_t len)
{
	if (memcmp(a->out, b->out, 32 * n) != 0)
		die("%s, %zu bytes: b3cas and the official release disagree",
		    lv, len);
}

/* ---- the tables ---- */

typedef struct summary {
	double worst;
	size_t worst_len;
	int pairs;
} summary;

static void bench_level(int l, const ref_lib *ref, uint8_t *cache_buf,
			uint8_t *dram_buf, summary *sum)
{
	static job ours, theirs;
	timed v[2];
	int n = ref ? 2 : 1;

	printf("\n== %s: one message, one call, 1 thread (median of %d "
	       "interleaved samples) ==\n",
	       level_names[l], cfg.samples);
	printf("%-8s %24s %24s %10s\n", "size", "b3cas", ref ? "official" : "",
	       ref ? "b3cas/off" : "");
	for (int si = 0; si < cfg.nsizes; si++) {
		size_t len = cfg.sizes[si];
		uint8_t *buf = len > 16 * MIB ? dram_buf : cache_buf;
		char sz[32];

		ours = (job){.level = (b3cas_simd)l, .buf = buf, .len = len};
		theirs = (job){.ref = ref, .buf = buf, .len = len};
		v[0] = (timed){.job = &ours};
		v[1] = (timed){.job = &theirs};
		measure(v, n, len > 16 * MIB && cfg.samples > 5 ? 5
								 : cfg.samples);
		fmt_size(sz, sizeof(sz), len);
		printf("%-8s", sz);
		cell(v[0].median, len);
		if (ref) {
			double ratio = v[1].median / v[0].median;

			check_same(&ours, &theirs, 1, level_names[l], len);
			cell(v[1].median, len);
			printf(" %9.2fx", ratio);
			if (sum->pairs++ == 0 || ratio < sum->worst) {
				sum->worst = ratio;
				sum->worst_len = len;
			}
		}
		printf("%s\n", len > 16 * MIB ? "  (from DRAM)" : "");
	}
}

static void bench_batch(int l, const ref_lib *ref)
{
	static job batch, single, theirs;
	timed v[3];
	size_t bytes = (size_t)BATCH_COUNT * BATCH_MSG;

	batch = (job){.level = (b3cas_simd)l, .batch = true};
	single = (job){.level = (b3cas_simd)l, .batch = true,
		       .one_by_one = true};
	theirs = (job){.ref = ref, .batch = true};
	v[0] = (timed){.job = &batch};
	v[1] = (timed){.job = &single};
	v[2] = (timed){.job = &theirs};
	measure(v, ref ? 3 : 2, cfg.samples);
	printf("%-9s", level_names[l]);
	cell(v[0].median, bytes);
	cell(v[1].median, bytes);
	if (ref) {
		check_same(&batch, &theirs, BATCH_COUNT, level_names[l], bytes);
		cell(v[2].median, bytes);
		printf(" %9.2fx", v[2].median / v[0].median);
	}
	printf(" %9.2fx\n", v[1].median / v[0].median);
}

/* ---- options ---- */

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 10);

	if (end == s)
		die("bad size '%s'", s);
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	if (*end || n == 0 || n > (1ull << 31))
		die("bad size '%s' (1 byte to 2 GiB; K and M suffixes)", s);
	return (size_t)n;
}

static void usage(void)
{
	printf("usage: bench_b3ref [--ref DIR] [--sizes LIST] [--levels LIST]\n"
	       "                   [--samples N] [--sample-ms MS] [--no-batch]"
	       " [--quick]\n"
	       "Pairs b3cas's BLAKE3 with the official C release at each SIMD"
	       " level.\n"
	       "DIR (or B3CAS_BLAKE3_REF) holds one build of the official "
	       "release per\nlevel: DIR/<level>/lib/libblake3.so, level one of"
	       " portable, sse41,\navx2, avx512. Without it, b3cas is measured"
	       " alone.\n"
	       "Default sizes: 64,1K,4K,16K,64K,1M,256M; 11 samples.\n");
}

static void parse_list(const char *arg, bool sizes)
{
	char *copy = strdup(arg), *save = NULL;

	if (sizes)
		cfg.nsizes = 0;
	else
		memset(cfg.levels, 0, sizeof(cfg.levels));
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		b3cas_simd lv;

		if (sizes && cfg.nsizes < 16)
			cfg.sizes[cfg.nsizes++] = parse_size(t);
		else if (sizes)
			die("at most 16 sizes");
		else if (b3cas_simd_parse(&lv, t) == 0)
			cfg.levels[lv] = true;
		else
			die("unknown level '%s'", t);
	}
	free(copy);
}

static void parse_args(int argc, char **argv)
{
	static const size_t defaults[] = {64,	     1024,	4096, 16384,
					  65536,     MIB,	256 * MIB};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		cfg.sizes[cfg.nsizes++] = defaults[i];
	for (int l = 1; l < NLEVELS; l++)
		cfg.levels[l] = true;
	cfg.ref_dir = getenv("B3CAS_BLAKE3_REF");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage();
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			cfg.samples = 3;
			cfg.sample_sec = 0.002;
			parse_list("64,1K,64K", true);
		} else if (!strcmp(a, "--no-batch")) {
			cfg.batch = false;
		} else if (!val) {
			die("%s: unknown option or missing value (see --help)",
			    a);
		} else if (!strcmp(a, "--ref")) {
			cfg.ref_dir = val, i++;
		} else if (!strcmp(a, "--sizes")) {
			parse_list(val, true), i++;
		} else if (!strcmp(a, "--levels")) {
			parse_list(val, false), i++;
		} else if (!strcmp(a, "--samples")) {
			cfg.samples = atoi(val), i++;
			if (cfg.samples < 1 || cfg.samples > MAX_SAMPLES)
				die("--samples: 1 to %d", MAX_SAMPLES);
		} else if (!strcmp(a, "--sample-ms")) {
			cfg.sample_sec = atof(val) / 1e3, i++;
			if (!(cfg.sample_sec > 0))
				die("--sample-ms: a positive number");
		} else {
			die("%s: unknown option (see --help)", a);
		}
	}
}

static void print_machine(void)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");
	const char *cpu = "unknown CPU";

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');

			line[strcspn(line, "\n")] = 0;
			cpu = c ? c + 2 : cpu;
			break;
		}
	}
	printf("machine: %s; SIMD levels: up to %s\n", cpu,
	       b3cas_simd_level_name(b3cas_simd_detected()));
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static ref_lib refs[NLEVELS];
	summary sum[NLEVELS] = {0};
	size_t max_cached = 0, max_dram = 0;
	int best = (int)b3cas_simd_detected();

	parse_args(argc, argv);
	for (int i = 0; i < cfg.nsizes; i++) {
		size_t *m = cfg.sizes[i] > 16 * MIB ? &max_dram : &max_cached;

		*m = cfg.sizes[i] > *m ? cfg.sizes[i] : *m;
	}
	print_machine();
	if (!cfg.ref_dir)
		printf("official BLAKE3: not given (--ref DIR or "
		       "B3CAS_BLAKE3_REF): pairing skipped, b3cas alone\n");
	for (int l = 0; l <= best && cfg.ref_dir; l++) {
		if (!cfg.levels[l])
			continue;
		if (ref_open(&refs[l], cfg.ref_dir, level_names[l]))
			printf("official BLAKE3 %s at %s: %s\n",
			       refs[l].version(), level_names[l],
			       refs[l].path);
		else
			printf("official BLAKE3 at %s: no %s/%s/lib/"
			       "libblake3.so: pairing skipped\n",
			       level_names[l], cfg.ref_dir, level_names[l]);
	}

	uint8_t *cache_buf = aligned_alloc(64, max_cached + 64);
	uint8_t *dram_buf = max_dram ? aligned_alloc(64, max_dram) : NULL;

	if (!cache_buf || (max_dram && !dram_buf))
		die("out of memory");
	make_content(cache_buf, max_cached + 64, 15, 0);
	if (dram_buf)
		make_content(dram_buf, max_dram, 15, 1);
	for (int l = 0; l <= best; l++)
		if (cfg.levels[l])
			bench_level(l, refs[l].dl ? &refs[l] : NULL, cache_buf,
				    dram_buf, &sum[l]);

	if (cfg.batch) {
		uint8_t *bb = aligned_alloc(64, (size_t)BATCH_COUNT * BATCH_MSG);

		if (!bb)
			die("out of memory");
		make_content(bb, (size_t)BATCH_COUNT * BATCH_MSG, 15, 2);
		for (size_t i = 0; i < BATCH_COUNT; i++) {
			batch_in[i] = bb + i * BATCH_MSG;
			batch_len[i] = BATCH_MSG;
		}
		printf("\n== %d messages of %d bytes: b3cas_hash_batch against "
		       "one by one ==\n%-9s %24s %24s %24s %10s %10s\n",
		       BATCH_COUNT, BATCH_MSG, "level", "b3cas batch",
		       "b3cas one by one", "official one by one",
		       "vs off", "vs b3cas");
		for (int l = 0; l <= best; l++)
			if (cfg.levels[l])
				bench_batch(l, refs[l].dl ? &refs[l] : NULL);
		free(bb);
	}

	printf("\n== b3cas speed / official speed, same level, same run ==\n");
	for (int l = 0; l <= best; l++) {
		char sz[32];

		if (!cfg.levels[l] || !sum[l].pairs)
			continue;
		fmt_size(sz, sizeof(sz), sum[l].worst_len);
		printf("%-9s lowest %.2fx (at %s); every size >= 1.00x: %s\n",
		       level_names[l], sum[l].worst, sz,
		       sum[l].worst >= 1.0 ? "yes" : "no");
	}
	free(cache_buf);
	free(dram_buf);
	return sink == 0xdeadbeef; /* never; keeps sink alive */
}
