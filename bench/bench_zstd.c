/*
 * bench_zstd.c - compress/zstd on the block sizes the store will use,
 * single thread: compression ratio, compression and decompression speed
 * (MB/s of uncompressed bytes per second of the thread's CPU time,
 * median of several passes) for levels and block sizes over four kinds
 * of data; what the worth-it rule keeps; neighbouring blocks compressed
 * together as one frame against one frame each, with what reading one
 * block then costs; and a trained dictionary for 2-4 KiB blocks.
 *
 * The kinds: text (the headers under /usr/include, concatenated), ELF
 * (the programs under /usr/bin), a memory image (4 KiB pages: mostly
 * zero, some random, some structured like a heap of small structs), and
 * random bytes. It prints figures and checks only that every block comes
 * back exactly (an ERROR line and exit 1 otherwise); no figure is judged.
 *
 * Usage: bench_zstd [--quick] [--size BYTES] [--reps N]
 */
#define BENCH_NAME "bench_zstd"
#include "bench_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress/zstd.h"

#include <zdict.h>
#include <zstd.h>

#define PAGE 4096

/*
 * Seconds of this thread's CPU time: speeds are per CPU second, so that
 * a machine shared with other work (2 cores, load 6, where wall-clock
 * medians moved by 2x between runs) still gives comparable figures.
 */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct kind {
	const char *name;
	uint8_t *buf;
	size_t len;
};

static size_t data_len = (size_t)8 << 20;
static int reps = 5;

/* ---- the data ------------------------------------------------------- */

static bool is_elf(const uint8_t *p, size_t n)
{
	return n >= 4 && memcmp(p, "\x7f" "ELF", 4) == 0;
}

/* Append regular files under dir (depth-first, up to depth levels) to
 * k->buf until it holds data_len bytes; elf_only keeps ELF files only. */
static void gather(struct kind *k, const char *dir, int depth, bool elf_only)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while (k->len < data_len && (e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		ssize_t got;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			gather(k, path, depth - 1, elf_only);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size == 0)
			continue;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		got = read(fd, k->buf + k->len, data_len - k->len);
		close(fd);
		if (got <= 0 || (elf_only && !is_elf(k->buf + k->len,
						     (size_t)got)))
			continue;
		k->len += (size_t)got;
	}
	closedir(d);
}

static void fill_structured(uint8_t *p, uint64_t *st)
{
	uint64_t base = 0x00007f3a12340000ull + (tu_rand(st) & 0xfff000);

	/* a run of 32-byte records: pointer, counter, flags, zero, size */
	for (size_t off = 0; off + 32 <= PAGE; off += 32) {
		uint64_t rec[4] = {
			base + off * 3,
			(uint64_t)(off / 32) | (uint64_t)1 << 32,
			0,
			64 + (tu_rand(st) & 0xff),
		};

		memcpy(p + off, rec, 32);
	}
}

static void make_memory_image(struct kind *k, uint64_t seed)
{
	uint64_t st = seed;

	for (size_t off = 0; off + PAGE <= data_len; off += PAGE) {
		unsigned r = (unsigned)(tu_rand(&st) % 100);

		if (r < 60)
			memset(k->buf + off, 0, PAGE);
		else if (r < 85)
			fill_structured(k->buf + off, &st);
		else
			make_content(k->buf + off, PAGE, seed, off);
	}
	k->len = data_len / PAGE * PAGE;
}

static void make_kinds(struct kind *kinds)
{
	for (int i = 0; i < 4; i++) {
		kinds[i].buf = malloc(data_len);
		kinds[i].len = 0;
		if (!kinds[i].buf)
			die("out of memory");
	}
	kinds[0].name = "text";
	gather(&kinds[0], "/usr/include", 8, false);
	kinds[1].name = "elf";
	gather(&kinds[1], "/usr/bin", 0, true);
	kinds[2].name = "memimg";
	make_memory_image(&kinds[2], 7);
	kinds[3].name = "random";
	make_content(kinds[3].buf, data_len, 3, 0);
	kinds[3].len = data_len;
	for (int i = 0; i < 2; i++)
		if (kinds[i].len < data_len / 2)
			die("found only %zu bytes of %s data (want %zu)",
			    kinds[i].len, kinds[i].name, data_len / 2);
}

/* ---- one configuration --------------------------------------------- */

struct frames {
	uint8_t *out;    /* frames, each in a slot of bound(block) bytes */
	size_t *csize;   /* per frame */
	size_t n, block, slot;
};

static void frames_init(struct frames *f, size_t len, size_t block)
{
	f->block = block;
	f->n = len / block;
	f->slot = b3cas__zstd_bound(block);
	f->out = malloc(f->n * f->slot);
	f->csize = malloc(f->n * sizeof(size_t));
	if (!f->out || !f->csize)
		die("out of memory");
}

static void frames_free(struct frames *f)
{
	free(f->out);
	free(f->csize);
}

/* Seconds to compress every block of src once. */
static double compress_pass(struct frames *f, const uint8_t *src, int level)
{
	double t = cpu_now();

	for (size_t i = 0; i < f->n; i++)
		if (b3cas__zstd_compress(&f->csize[i], f->out + i * f->slot,
					 f->slot, src + i * f->block,
					 f->block, level) != 0)
			die("compress: %s", b3cas_error_last());
	return cpu_now() - t;
}

static double decompress_pass(struct frames *f, uint8_t *dst)
{
	double t = cpu_now();

	for (size_t i = 0; i < f->n; i++)
		if (b3cas__zstd_decompress(dst + i * f->block, f->block,
					   f->out + i * f->slot,
					   f->csize[i]) != 0)
			die("decompress: %s", b3cas_error_last());
	return cpu_now() - t;
}

struct result {
	double ratio, comp_mbs, decomp_mbs;
	size_t in, out;
};

static struct result measure(const struct kind *k, size_t block, int level,
			     struct frames *f, uint8_t *back)
{
	double tc[32], td[32];
	struct result r = {0};

	frames_init(f, k->len, block);
	for (int i = 0; i < reps; i++)
		tc[i] = compress_pass(f, k->buf, level);
	for (int i = 0; i < reps; i++)
		td[i] = decompress_pass(f, back);
	r.in = f->n * block;
	for (size_t i = 0; i < f->n; i++)
		r.out += f->csize[i];
	if (memcmp(back, k->buf, r.in) != 0)
		bench_fail("%s block %zu level %d: blocks came back different",
			   k->name, block, level);
	r.ratio = (double)r.in / (double)r.out;
	r.comp_mbs = (double)r.in / median(tc, reps) / 1e6;
	r.decomp_mbs = (double)r.in / median(td, reps) / 1e6;
	return r;
}

/* ---- the tables ----------------------------------------------------- */

static const size_t blocks[] = {2048, 4096, 16384, 65536};
static const int levels[] = {-5, -1, 1, 3, 6};

static void table_levels(struct kind *kinds, uint8_t *back)
{
	printf("\n# ratio and speed, one frame per block (MB/s of "
	       "uncompressed bytes per CPU second, median of %d passes)\n",
	       reps);
	printf("%-7s %6s %6s %7s %10s %11s\n", "kind", "block", "level",
	       "ratio", "comp_MB/s", "decomp_MB/s");
	for (int k = 0; k < 4; k++)
		for (size_t b = 0; b < 4; b++)
			for (size_t l = 0; l < 5; l++) {
				struct frames f;
				struct result r = measure(&kinds[k], blocks[b],
							  levels[l], &f, back);

				printf("%-7s %6zu %6d %7.3f %10.0f %11.0f\n",
				       kinds[k].name, blocks[b], levels[l],
				       r.ratio, r.comp_mbs, r.decomp_mbs);
				fflush(stdout);
				frames_free(&f);
			}
}

/*
 * What the worth-it rule keeps at level 3: for each rule, the share of
 * blocks stored compressed and the ratio of the whole (raw blocks
 * counted at their size).
 */
static void table_rule(struct kind *kinds, uint8_t *back)
{
	static const struct {
		size_t saving;
		unsigned pct;
	} rules[] = {{1, 0}, {64, 5}, {0, 12}, {0, 25}, {0, 50}};

	printf("\n# the worth-it rule at level 3: blocks kept compressed, "
	       "stored ratio\n");
	printf("%-7s %6s", "kind", "block");
	for (size_t r = 0; r < 5; r++)
		printf("  >=%2zuB,%2u%%     ", rules[r].saving, rules[r].pct);
	printf("\n");
	for (int k = 0; k < 4; k++)
		for (size_t b = 0; b < 4; b++) {
			struct frames f;

			measure(&kinds[k], blocks[b], 3, &f, back);
			printf("%-7s %6zu", kinds[k].name, blocks[b]);
			for (size_t r = 0; r < 5; r++) {
				size_t kept = 0, stored = 0;

				for (size_t i = 0; i < f.n; i++) {
					bool w = b3cas__zstd_worth(
						f.block, f.csize[i],
						rules[r].saving, rules[r].pct);

					kept += w;
					stored += w ? f.csize[i] : f.block;
				}
				printf("  %4.0f%% %6.3f  ",
				       100.0 * (double)kept / (double)f.n,
				       (double)(f.n * f.block) /
					       (double)stored);
			}
			printf("\n");
			fflush(stdout);
			frames_free(&f);
		}
}

/*
 * Neighbouring blocks of 4 KiB compressed g at a time as one frame: the
 * ratio, compression speed, and the time to read one block, which means
 * decompressing its whole group.
 */
static void table_groups(struct kind *kinds, uint8_t *back)
{
	static const size_t groups[] = {1, 2, 4, 8, 16};
	static const int glevels[] = {1, 3};
	const size_t block = 4096;

	printf("\n# neighbouring %zu-byte blocks compressed g to a frame: "
	       "ratio, compression MB/s, microseconds to read one block\n",
	       block);
	printf("%-7s %6s %4s %7s %10s %10s\n", "kind", "level", "g", "ratio",
	       "comp_MB/s", "us/read");
	for (int k = 0; k < 4; k++)
		for (size_t l = 0; l < 2; l++)
			for (size_t g = 0; g < 5; g++) {
				struct frames f;
				struct result r = measure(&kinds[k],
							  block * groups[g],
							  glevels[l], &f,
							  back);
				double per_frame_us = (double)(block *
							       groups[g]) /
						      (r.decomp_mbs * 1e6) *
						      1e6;

				printf("%-7s %6d %4zu %7.3f %10.0f %10.2f\n",
				       kinds[k].name, glevels[l], groups[g],
				       r.ratio, r.comp_mbs, per_frame_us);
				fflush(stdout);
				frames_free(&f);
			}
}

/*
 * A trained dictionary for small blocks (an experiment through libzstd
 * directly; compress/zstd.h has no dictionary): trained on the blocks of
 * the first half of a kind, measured on those of the second half, beside
 * the same blocks without a dictionary. Ratio, and compression and
 * decompression MB/s.
 */
struct dict_run {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	ZSTD_CDict *cdict; /* NULL: no dictionary */
	ZSTD_DDict *ddict;
	struct frames *f;
};

static double dict_compress(struct dict_run *d, const uint8_t *src)
{
	struct frames *f = d->f;
	double t = cpu_now();

	for (size_t i = 0; i < f->n; i++) {
		size_t r = d->cdict
			? ZSTD_compress_usingCDict(d->cctx,
				f->out + i * f->slot, f->slot,
				src + i * f->block, f->block, d->cdict)
			: ZSTD_compressCCtx(d->cctx, f->out + i * f->slot,
				f->slot, src + i * f->block, f->block, 1);

		if (ZSTD_isError(r))
			die("dictionary compress: %s", ZSTD_getErrorName(r));
		f->csize[i] = r;
	}
	return cpu_now() - t;
}

static double dict_decompress(struct dict_run *d, uint8_t *dst)
{
	struct frames *f = d->f;
	double t = cpu_now();

	for (size_t i = 0; i < f->n; i++) {
		size_t r = d->ddict
			? ZSTD_decompress_usingDDict(d->dctx,
				dst + i * f->block, f->block,
				f->out + i * f->slot, f->csize[i], d->ddict)
			: ZSTD_decompressDCtx(d->dctx, dst + i * f->block,
				f->block, f->out + i * f->slot, f->csize[i]);

		if (r != f->block)
			die("dictionary decompress: %s",
			    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "size");
	}
	return cpu_now() - t;
}

static void dict_measure(const struct kind *k, size_t block, void *dict,
			 size_t dict_len, uint8_t *back)
{
	const uint8_t *half = k->buf + k->len / 2;
	struct frames f;
	struct dict_run d = {ZSTD_createCCtx(), ZSTD_createDCtx(), NULL,
			     NULL, &f};
	double tc[32], td[32];
	size_t out = 0;

	if (!d.cctx || !d.dctx)
		die("out of memory");
	if (dict) {
		d.cdict = ZSTD_createCDict(dict, dict_len, 1);
		d.ddict = ZSTD_createDDict(dict, dict_len);
		if (!d.cdict || !d.ddict)
			die("out of memory for the dictionary");
	}
	frames_init(&f, k->len / 2, block);
	for (int i = 0; i < reps; i++)
		tc[i] = dict_compress(&d, half);
	for (int i = 0; i < reps; i++)
		td[i] = dict_decompress(&d, back);
	if (memcmp(back, half, f.n * block) != 0)
		bench_fail("%s block %zu: dictionary round trip differs",
			   k->name, block);
	for (size_t i = 0; i < f.n; i++)
		out += f.csize[i];
	printf("%-7s %6zu %6zu %7.3f %10.0f %11.0f\n", k->name, block,
	       dict_len, (double)(f.n * block) / (double)out,
	       (double)(f.n * block) / median(tc, reps) / 1e6,
	       (double)(f.n * block) / median(td, reps) / 1e6);
	fflush(stdout);
	frames_free(&f);
	ZSTD_freeCDict(d.cdict);
	ZSTD_freeDDict(d.ddict);
	ZSTD_freeCCtx(d.cctx);
	ZSTD_freeDCtx(d.dctx);
}

static void table_dictionary(struct kind *kinds, uint8_t *back)
{
	static const size_t dblocks[] = {2048, 4096};
	size_t dict_cap = 32768;
	uint8_t *dict = malloc(dict_cap);

	if (!dict)
		die("out of memory");
	printf("\n# a trained %zu-byte dictionary, level 1: trained on the "
	       "first half's blocks, measured on the second half's "
	       "(dict 0: none)\n", dict_cap);
	printf("%-7s %6s %6s %7s %10s %11s\n", "kind", "block", "dict",
	       "ratio", "comp_MB/s", "decomp_MB/s");
	for (int k = 0; k < 3; k++)
		for (size_t b = 0; b < 2; b++) {
			size_t block = dblocks[b];
			size_t n = kinds[k].len / 2 / block;
			size_t *sizes;
			double t;
			size_t r;

			if (n > 1024)
				n = 1024; /* training time grows with it */
			sizes = malloc(n * sizeof(size_t));
			if (!sizes)
				die("out of memory");
			for (size_t i = 0; i < n; i++)
				sizes[i] = block;
			t = cpu_now();
			r = ZDICT_trainFromBuffer(dict, dict_cap,
						  kinds[k].buf, sizes,
						  (unsigned)n);
			t = cpu_now() - t;
			free(sizes);
			dict_measure(&kinds[k], block, NULL, 0, back);
			if (ZDICT_isError(r)) {
				printf("%-7s %6zu  training failed: %s\n",
				       kinds[k].name, block,
				       ZDICT_getErrorName(r));
				continue;
			}
			dict_measure(&kinds[k], block, dict, r, back);
			printf("%-7s %6zu  (trained on %zu blocks in %.2f s)\n",
			       kinds[k].name, block, n, t);
		}
	free(dict);
}

int main(int argc, char **argv)
{
	struct kind kinds[4];
	uint8_t *back;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			data_len = (size_t)1 << 20;
			reps = 1;
		} else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			data_len = strtoull(argv[++i], NULL, 0);
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else {
			die("usage: bench_zstd [--quick] [--size BYTES] "
			    "[--reps N]");
		}
	}
	if (reps < 1 || reps > 32 || data_len < 65536 * 16)
		die("--reps must be 1..32 and --size at least 1 MiB");
	make_kinds(kinds);
	back = malloc(data_len);
	if (!back)
		die("out of memory");
	printf("# bench_zstd: %zu bytes of each kind (text %zu, elf %zu), "
	       "%d passes\n", data_len, kinds[0].len, kinds[1].len, reps);
	table_levels(kinds, back);
	table_rule(kinds, back);
	table_groups(kinds, back);
	table_dictionary(kinds, back);
	for (int i = 0; i < 4; i++)
		free(kinds[i].buf);
	free(back);
	b3cas__zstd_thread_release();
	return bench_failures ? 1 : 0;
}
