/*
 * bench_cdc.c - how fast the FastCDC 2020 chunker (src/chunk/) finds
 * boundaries, and what it adds to hashing every chunk with BLAKE3, on one
 * thread.
 *
 * For avg 2, 4, 16 and 64 KiB (min avg / 4, max avg * 4, seed 0):
 *   - cut GB/s: b3cas__cdc_cut over the whole buffer, chunk after chunk,
 *     on random bytes and on text-like bytes (words of a small vocabulary:
 *     fewer distinct bytes, the table loads hit fewer lines);
 *   - the mean chunk size on each;
 *   - cut+hash GB/s: cutting and b3cas_hash of each chunk as it is cut
 *     (random bytes), and hash GB/s: b3cas_hash of the same chunks from a
 *     list of cuts made beforehand; the ratio cut+hash / hash is what
 *     chunking costs a put that hashes its chunks;
 *   - cut+batch GB/s: the chunks of each 256 KiB window cut, then hashed
 *     with one b3cas_hash_batch call, and batch GB/s: b3cas_hash_batch
 *     over the listed cuts, a window at a time in the same way. The
 *     window stays in L2 between the cut and the hash (1 MiB, one L2 of
 *     this machine, gave avg 2 KiB 1.27 GB/s and 4 KiB 1.30 in one run,
 *     256 KiB 1.47 and 1.66 in the next; not paired, so only a hint).
 * Bytes skipped below min count as processed: the figures are input bytes
 * per second, what a caller sees. 1 GB = 10^9 bytes. Beside them, the
 * clock the thread ran at (chain_ghz) and the cut's cycles per byte.
 *
 * Method: the machine is shared (load averages of 10 to 100 on two cores
 * were seen while this was written), so time is the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: a core's speed, without the time the thread
 * waited for one), every figure is the median of several samples, and
 * the samples of the variants of one avg are interleaved (A B C D A B C
 * D ...) so that all see the same machine. Nothing is
 * judged: the program prints figures (and fails only if the chunker
 * cannot be made or the two passes disagree on the chunks).
 */
#define BENCH_NAME "bench_cdc"
#include "bench_util.h"

#include "b3cas/hash.h"
#include "chunk/fastcdc.h"

#define MAX_SAMPLES 31

typedef struct config {
	size_t size;
	int samples;
	bool quick;
} config;

static uint64_t sink; /* keeps results alive */

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * The clock this thread runs at, in GHz, from a chain of dependent adds
 * (one cycle each on any x86-64 of the last decade): on a shared machine
 * the clock moves between samples, and the chunker's cycles per byte
 * (this over its GB/s) is the figure that does not.
 */
static double chain_ghz(void)
{
	const long n = 2000000;
	uint64_t x = 0;
	double t = cpu_now();

	for (long i = 0; i < n; i++)
		__asm__ volatile("add $1, %0\n\tadd $1, %0\n\t"
				 "add $1, %0\n\tadd $1, %0" : "+r"(x));
	t = cpu_now() - t;
	sink += x;
	return 4.0 * (double)n / t / 1e9;
}

static void fill_random(uint8_t *p, size_t len)
{
	make_content(p, len, 1, 0);
}

/* Words of 2..9 letters from a 64-word vocabulary, spaces and newlines. */
static void fill_text(uint8_t *p, size_t len)
{
	static const char *words[64];
	static char store[64][10];
	uint64_t rng = 42;
	size_t i = 0;

	for (int w = 0; w < 64; w++) {
		size_t n = 2 + tu_rand(&rng) % 8;

		for (size_t k = 0; k < n; k++)
			store[w][k] = (char)('a' + tu_rand(&rng) % 26);
		store[w][n] = '\0';
		words[w] = store[w];
	}
	while (i < len) {
		const char *w = words[tu_rand(&rng) % 64];

		for (; *w && i < len; w++)
			p[i++] = (uint8_t)*w;
		if (i < len)
			p[i++] = tu_rand(&rng) % 12 ? ' ' : '\n';
	}
}

/* Cut the whole buffer; returns the number of chunks. */
static size_t cut_all(const b3cas_cdc *cdc, const uint8_t *p, size_t len)
{
	size_t off = 0, n = 0;
	uint64_t fp, acc = 0;

	while (off < len) {
		off += b3cas__cdc_cut(&fp, cdc, p + off, len - off);
		acc += fp;
		n++;
	}
	sink += acc;
	return n;
}

static size_t cut_hash_all(const b3cas_cdc *cdc, const uint8_t *p,
			   size_t len)
{
	uint8_t out[B3CAS_OUT_LEN];
	size_t off = 0, n = 0;

	while (off < len) {
		size_t k = b3cas__cdc_cut(NULL, cdc, p + off, len - off);

		b3cas_hash(out, p + off, k);
		sink += out[0];
		off += k;
		n++;
	}
	return n;
}

#define WINDOW ((size_t)256 << 10)

/* Room for the chunks of one window: cuts of at least min bytes. */
typedef struct window {
	const void **in;
	size_t *lens;
	uint8_t *out;
	size_t cap;
} window;

static void window_init(window *w, const b3cas_cdc *cdc)
{
	w->cap = WINDOW / cdc->min + 2;
	w->in = malloc(w->cap * sizeof(*w->in));
	w->lens = malloc(w->cap * sizeof(*w->lens));
	w->out = malloc(w->cap * B3CAS_OUT_LEN);
	if (!w->in || !w->lens || !w->out)
		die("out of memory");
}

static void window_free(window *w)
{
	free(w->in);
	free(w->lens);
	free(w->out);
}

/* Cut a window's chunks, then hash them in one batch, window by window. */
static size_t cut_batch_all(const b3cas_cdc *cdc, window *w,
			    const uint8_t *p, size_t len)
{
	size_t off = 0, n = 0;

	while (off < len) {
		size_t start = off, k = 0;

		while (off < len && off - start < WINDOW) {
			w->in[k] = p + off;
			w->lens[k] = b3cas__cdc_cut(NULL, cdc, p + off,
						    len - off);
			off += w->lens[k++];
		}
		b3cas_hash_batch(w->out, w->in, w->lens, k);
		sink += w->out[0];
		n += k;
	}
	return n;
}

/* The listed cuts, hashed in batches of one window's chunks. */
static void batch_listed(window *w, const uint8_t *p, const size_t *lens,
			 size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = 0, bytes = 0;

		while (i < n && bytes < WINDOW) {
			w->in[k] = p;
			w->lens[k++] = lens[i];
			bytes += lens[i];
			p += lens[i++];
		}
		b3cas_hash_batch(w->out, w->in, w->lens, k);
		sink += w->out[0];
	}
}

static void hash_listed(const uint8_t *p, const size_t *lens, size_t n)
{
	uint8_t out[B3CAS_OUT_LEN];

	for (size_t i = 0; i < n; i++) {
		b3cas_hash(out, p, lens[i]);
		sink += out[0];
		p += lens[i];
	}
}

static size_t *list_cuts(const b3cas_cdc *cdc, const uint8_t *p,
			 size_t len, size_t *n_out)
{
	size_t cap = len / cdc->min + 2, n = 0, off = 0;
	size_t *lens = malloc(cap * sizeof(*lens));

	if (!lens)
		die("out of memory");
	while (off < len) {
		lens[n] = b3cas__cdc_cut(NULL, cdc, p + off, len - off);
		off += lens[n++];
	}
	*n_out = n;
	return lens;
}

static void run_avg(const config *cfg, size_t avg, const uint8_t *rnd,
		    const uint8_t *txt)
{
	double s_rnd[MAX_SAMPLES], s_txt[MAX_SAMPLES], s_ch[MAX_SAMPLES];
	double s_h[MAX_SAMPLES], s_ghz[MAX_SAMPLES], s_cb[MAX_SAMPLES];
	double s_b[MAX_SAMPLES];
	double gb = (double)cfg->size / 1e9, ghz;
	size_t n_rnd = 0, n_txt = 0, n_ch = 0, n_cb = 0, n_list, *lens;
	b3cas_cdc cdc;
	window w;

	if (b3cas__cdc_init(&cdc, avg / 4, avg, avg * 4, 0) != 0)
		die("init avg %zu: %s", avg, b3cas_error_last());
	lens = list_cuts(&cdc, rnd, cfg->size, &n_list);
	window_init(&w, &cdc);
	for (int s = 0; s < cfg->samples; s++) {
		double t;

		s_ghz[s] = chain_ghz();
		t = cpu_now();
		n_rnd = cut_all(&cdc, rnd, cfg->size);
		s_rnd[s] = gb / (cpu_now() - t);
		t = cpu_now();
		n_txt = cut_all(&cdc, txt, cfg->size);
		s_txt[s] = gb / (cpu_now() - t);
		t = cpu_now();
		n_ch = cut_hash_all(&cdc, rnd, cfg->size);
		s_ch[s] = gb / (cpu_now() - t);
		t = cpu_now();
		hash_listed(rnd, lens, n_list);
		s_h[s] = gb / (cpu_now() - t);
		t = cpu_now();
		n_cb = cut_batch_all(&cdc, &w, rnd, cfg->size);
		s_cb[s] = gb / (cpu_now() - t);
		t = cpu_now();
		batch_listed(&w, rnd, lens, n_list);
		s_b[s] = gb / (cpu_now() - t);
	}
	if (n_rnd != n_list || n_ch != n_list || n_cb != n_list)
		bench_fail("avg %zu: %zu, %zu, %zu and %zu chunks in four "
			   "passes", avg, n_rnd, n_ch, n_cb, n_list);
	ghz = median(s_ghz, cfg->samples);
	printf("%7zu %7zu %7zu  %7.2f %9.0f  %7.2f %9.0f  %8.2f %6.2f"
	       "  %5.2f  %9.2f %6.2f  %4.2f %5.2f\n",
	       avg / 4, avg, avg * 4,
	       median(s_rnd, cfg->samples),
	       (double)cfg->size / (double)n_rnd, median(s_txt, cfg->samples),
	       (double)cfg->size / (double)n_txt, median(s_ch, cfg->samples),
	       median(s_h, cfg->samples),
	       median(s_ch, cfg->samples) / median(s_h, cfg->samples),
	       median(s_cb, cfg->samples), median(s_b, cfg->samples), ghz,
	       ghz / median(s_rnd, cfg->samples));
	window_free(&w);
	free(lens);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_cdc [--quick] [--size MIB] "
			"[--samples N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const size_t avgs[] = {2048, 4096, 16384, 65536};
	config cfg = {.size = (size_t)64 << 20, .samples = 9};
	uint8_t *rnd, *txt;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			cfg.quick = true;
			cfg.size = (size_t)4 << 20;
			cfg.samples = 3;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			cfg.size = strtoull(argv[++i], NULL, 0) << 20;
		} else if (!strcmp(argv[i], "--samples") && i + 1 < argc) {
			cfg.samples = atoi(argv[++i]);
		} else {
			usage();
		}
	}
	if (cfg.size == 0 || cfg.samples < 1 || cfg.samples > MAX_SAMPLES)
		usage();
	rnd = malloc(cfg.size);
	txt = malloc(cfg.size);
	if (!rnd || !txt)
		die("out of memory");
	fill_random(rnd, cfg.size);
	fill_text(txt, cfg.size);
	printf("bench_cdc: FastCDC 2020, one thread, %zu MiB buffers, median "
	       "of %d samples, GB/s of thread CPU time\n", cfg.size >> 20,
	       cfg.samples);
	printf("    min     avg     max  cut:rnd   mean(B)  cut:txt   mean(B)"
	       "  cut+hash   hash  ratio  cut+batch  batch   GHz   c/B\n");
	for (size_t i = 0; i < sizeof(avgs) / sizeof(avgs[0]); i++)
		run_avg(&cfg, avgs[i], rnd, txt);
	printf("(ratio: cut+hash GB/s / hash GB/s of the same chunks; "
	       "cut+batch, batch: the same with b3cas_hash_batch of each "
	       "256 KiB window's chunks; GHz: the thread's clock by a chain of "
	       "adds; c/B: its cycles per input byte of cut:rnd; sink %llu)\n",
	       (unsigned long long)(sink & 1));
	free(rnd);
	free(txt);
	return bench_failures ? 1 : 0;
}
