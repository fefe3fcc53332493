/*
 * bench_mem_chunking.c - how to chunk memory images (issue 17, item 3):
 * fixed page-aligned chunks against FastCDC 2020 at several averages,
 * over a series of checkpoints of one image (bench/mem_series.sh makes
 * them with bench/mem_image: a template, then forks that rewrite a few
 * percent of the pages and insert a few bytes).
 *
 *   bench_mem_chunking [--level L] [--json] IMAGE...
 *
 * Nothing is stored; every byte a chunked, packed store would keep is
 * counted, per image in order:
 * - the new chunks' bytes (a chunk is new the first time its id is met
 *   in the series), compressed with zstd at level L (default 3) 64 KiB
 *   of new chunks at a time in the order they come, as packed stores
 *   compress them (docs/compression.md);
 * - an index entry per new chunk: INDEX_ENTRY bytes (a 32-byte key, a
 *   9-byte header and 20 of framing, as bench_chunk_model counts);
 * - the manifest: the image's list of (id, length) records cut into
 *   content-defined nodes as the store cuts them (after a record whose
 *   id's first 4 bytes, little-endian, are below 2^32 / 64, at least 16
 *   and at most 256 records), each node new the first time its bytes are
 *   met, costing its bytes and an index entry.
 *
 * The delta settings model delta compression (not built): a new chunk is
 * compressed alone, with the previous image's bytes at the same offsets
 * (DELTA_MARGIN bytes wider on each side) as zstd's prefix dictionary,
 * and costs that frame, its index entry and a 32-byte base id.
 *
 * Printed per setting: the first image (the template) and the mean, the
 * largest and the total over the later ones (the incremental
 * checkpoints), with the seconds spent cutting and hashing.
 *
 * Invariants checked on every run (exit 1 when one fails): each image's
 * chunks add up to its length; every chunk is 1..max bytes; new raw bytes
 * never exceed the image's length.
 */
#define BENCH_NAME "bench_mem_chunking"
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "b3cas/hash.h"
#include "chunk/fastcdc.h"
#include "compress/zstd.h"

#define PAGE 4096u
#define INDEX_ENTRY (32 + 9 + 20)
#define NODE_FANOUT 64
#define NODE_MIN 16
#define NODE_MAX 256
#define GROUP (64u << 10)
#define ZBUF (256u << 10) /* the largest chunk: 4 x 64 KiB */
#define NSET 10
#define DELTA_MARGIN 4096u

typedef struct setting {
	const char *name;
	size_t avg; /* 0: fixed pages */
	bool delta; /* new chunks compressed against the image before */
} setting;

static const setting settings[NSET] = {
	{"fixed 4 KiB pages", 0, false},
	{"FastCDC 1 KiB", 1024, false},
	{"FastCDC 2 KiB", 2048, false},
	{"FastCDC 4 KiB", 4096, false},
	{"FastCDC 8 KiB", 8192, false},
	{"FastCDC 16 KiB", 16384, false},
	{"fixed 4 KiB pages, delta", 0, true},
	{"FastCDC 4 KiB, delta", 4096, true},
	{"FastCDC 16 KiB, delta", 16384, true},
	{"FastCDC 64 KiB, delta", 65536, true},
};

/* A set of 32-byte ids (open addressing on their first 8 bytes, which are
 * uniform): true when id was already in it. */
typedef struct idset {
	uint8_t *keys; /* cap x 32 */
	uint8_t *used;
	size_t cap, n;
} idset;

static bool idset_add(idset *s, const uint8_t *id)
{
	uint64_t h;
	size_t i;

	if (s->n * 2 >= s->cap) {
		idset old = *s;

		s->cap = old.cap ? old.cap * 2 : 1u << 16;
		s->keys = malloc(s->cap * 32);
		s->used = calloc(s->cap, 1);
		if (!s->keys || !s->used)
			die("out of memory");
		s->n = 0;
		for (size_t k = 0; k < old.cap; k++)
			if (old.used[k])
				idset_add(s, old.keys + k * 32);
		free(old.keys);
		free(old.used);
	}
	memcpy(&h, id, 8);
	for (i = h & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (memcmp(s->keys + i * 32, id, 32) == 0)
			return true;
	s->used[i] = 1;
	memcpy(s->keys + i * 32, id, 32);
	s->n++;
	return false;
}

typedef struct run {
	b3cas_cdc cdc;
	idset chunks, nodes;
	uint8_t *group; /* new chunks waiting to be compressed */
	size_t group_len;
	uint8_t *zbuf;
	ZSTD_CCtx *zc;
	uint8_t node[NODE_MAX * (32 + 10)];
	size_t node_len, node_recs;
	/* per image */
	uint64_t raw, stored;
	double secs;
} run;

static void group_flush(run *r, int level)
{
	size_t csize;

	if (!r->group_len)
		return;
	if (b3cas__zstd_compress(&csize, r->zbuf, b3cas__zstd_bound(GROUP),
				 r->group, r->group_len, level) < 0)
		die("zstd: %s", b3cas_error_last());
	r->stored += csize < r->group_len ? csize : r->group_len;
	r->group_len = 0;
}

static void node_end(run *r)
{
	uint8_t id[B3CAS_OUT_LEN];

	if (!r->node_recs)
		return;
	b3cas_hash(id, r->node, r->node_len);
	if (!idset_add(&r->nodes, id))
		r->stored += r->node_len + INDEX_ENTRY;
	r->node_len = r->node_recs = 0;
}

/* A new chunk at off, compressed against prev[off - margin, off + len +
 * margin): its frame, its index entry and the base's id. */
static void add_delta(run *r, const uint8_t *p, size_t len, size_t off,
		      const uint8_t *prev, size_t prev_len, int level)
{
	size_t lo = off > DELTA_MARGIN ? off - DELTA_MARGIN : 0;
	size_t hi = off + len + DELTA_MARGIN;
	size_t csize;

	hi = hi < prev_len ? hi : prev_len;
	ZSTD_CCtx_reset(r->zc, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(r->zc, ZSTD_c_compressionLevel, level);
	if (prev && lo < hi)
		ZSTD_CCtx_refPrefix(r->zc, prev + lo, hi - lo);
	csize = ZSTD_compress2(r->zc, r->zbuf, b3cas__zstd_bound(ZBUF), p,
			       len);
	if (ZSTD_isError(csize))
		die("zstd: %s", ZSTD_getErrorName(csize));
	r->stored += (csize < len ? csize : len) + INDEX_ENTRY + 32;
}

static void add_chunk(run *r, const setting *st, const uint8_t *p,
		      size_t len, size_t off, const uint8_t *prev,
		      size_t prev_len, int level)
{
	uint8_t id[B3CAS_OUT_LEN];
	uint32_t head;

	b3cas_hash(id, p, len);
	if (!idset_add(&r->chunks, id)) {
		r->raw += len;
		if (st->delta) {
			add_delta(r, p, len, off, prev, prev_len, level);
		} else {
			size_t n = len;

			r->stored += INDEX_ENTRY;
			while (n) {
				size_t take = GROUP - r->group_len < n
						      ? GROUP - r->group_len
						      : n;

				memcpy(r->group + r->group_len,
				       p + (len - n), take);
				r->group_len += take;
				n -= take;
				if (r->group_len == GROUP)
					group_flush(r, level);
			}
		}
	}
	memcpy(r->node + r->node_len, id, 32);
	r->node_len += 32;
	for (uint64_t v = len;; v >>= 7) { /* LEB128 */
		r->node[r->node_len++] =
			(uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		if (v <= 0x7f)
			break;
	}
	r->node_recs++;
	memcpy(&head, id, 4);
	if (r->node_recs == NODE_MAX ||
	    (r->node_recs >= NODE_MIN && head < UINT32_MAX / NODE_FANOUT))
		node_end(r);
}

static void chunk_image(run *r, const setting *st, const uint8_t *img,
			size_t len, const uint8_t *prev, size_t prev_len,
			int level)
{
	size_t off = 0, max = st->avg ? 4 * st->avg : PAGE;
	double t0 = now();

	r->raw = r->stored = 0;
	while (off < len) {
		size_t n = st->avg ? b3cas__cdc_cut(NULL, &r->cdc, img + off,
						    len - off)
				   : (len - off < PAGE ? len - off : PAGE);

		if (n == 0 || n > max || off + n > len)
			die("%s: a chunk of %zu bytes at %zu", st->name, n, off);
		add_chunk(r, st, img + off, n, off, prev, prev_len, level);
		off += n;
	}
	node_end(r);
	group_flush(r, level); /* a checkpoint's pack ends with it */
	r->secs = now() - t0;
	if (r->raw > len)
		die("%s: %llu new bytes of a %zu-byte image", st->name,
		    (unsigned long long)r->raw, len);
}

static uint8_t *read_image(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	uint8_t *p;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &sb) < 0)
		die("%s: %s", path, strerror(errno));
	p = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!p)
		die("out of memory");
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, p + got, (size_t)sb.st_size - got);

		if (n <= 0)
			die("%s: short read", path);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return p;
}

int main(int argc, char **argv)
{
	static run runs[NSET];
	int level = 3, first = 1;
	bool json = false;
	uint64_t first_stored[NSET] = {0}, sum[NSET] = {0}, most[NSET] = {0};
	uint64_t logical = 0, first_len = 0;
	double secs[NSET] = {0};
	int n_img;
	uint8_t *prev = NULL;
	size_t prev_len = 0;

	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "--level") && first + 1 < argc) {
			level = atoi(argv[first + 1]);
			first += 2;
		} else if (!strcmp(argv[first], "--json")) {
			json = true;
			first++;
		} else {
			die("usage: bench_mem_chunking [--level L] [--json] "
			    "IMAGE...");
		}
	}
	n_img = argc - first;
	if (n_img < 2)
		die("give a template and at least one later image");
	for (int k = 0; k < NSET; k++) {
		if (settings[k].avg &&
		    b3cas__cdc_init(&runs[k].cdc, settings[k].avg / 4,
				    settings[k].avg, settings[k].avg * 4, 0) < 0)
			die("cdc: %s", b3cas_error_last());
		runs[k].group = malloc(GROUP);
		runs[k].zbuf = malloc(b3cas__zstd_bound(ZBUF));
		runs[k].zc = ZSTD_createCCtx();
		if (!runs[k].group || !runs[k].zbuf || !runs[k].zc)
			die("out of memory");
	}
	for (int i = 0; i < n_img; i++) {
		size_t len;
		uint8_t *img = read_image(argv[first + i], &len);

		logical += len;
		if (i == 0)
			first_len = len;
		for (int k = 0; k < NSET; k++) {
			chunk_image(&runs[k], &settings[k], img, len, prev,
				    prev_len, level);
			secs[k] += runs[k].secs;
			if (i == 0) {
				first_stored[k] = runs[k].stored;
				continue;
			}
			sum[k] += runs[k].stored;
			if (runs[k].stored > most[k])
				most[k] = runs[k].stored;
		}
		free(prev);
		prev = img;
		prev_len = len;
	}
	free(prev);
	if (json) {
		printf("{\"images\": %d, \"logical\": %llu, \"level\": %d, "
		       "\"settings\": [", n_img, (unsigned long long)logical,
		       level);
		for (int k = 0; k < NSET; k++)
			printf("%s{\"name\": \"%s\", \"avg\": %zu, \"first\": "
			       "%llu, \"later_mean\": %.0f, \"later_max\": "
			       "%llu, \"later_total\": %llu, \"seconds\": %.2f}",
			       k ? ", " : "", settings[k].name, settings[k].avg,
			       (unsigned long long)first_stored[k],
			       (double)sum[k] / (n_img - 1),
			       (unsigned long long)most[k],
			       (unsigned long long)sum[k], secs[k]);
		printf("]}\n");
		return 0;
	}
	printf("%d images, %.1f MiB each (first), %.1f MiB in all; zstd level "
	       "%d, 64 KiB groups\n\n", n_img, first_len / 1048576.0,
	       logical / 1048576.0, level);
	printf("| setting | first image KiB | later: mean KiB | later: max KiB "
	       "| later: total MiB | cut + hash s |\n"
	       "|---|---|---|---|---|---|\n");
	for (int k = 0; k < NSET; k++)
		printf("| %s | %.0f | %.1f | %.1f | %.2f | %.2f |\n",
		       settings[k].name, first_stored[k] / 1024.0,
		       (double)sum[k] / (n_img - 1) / 1024.0, most[k] / 1024.0,
		       sum[k] / 1048576.0, secs[k]);
	return 0;
}
