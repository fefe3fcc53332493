/*
 * sandbox_workload.c - the workload deduplication exists for: many
 * sandboxes made from one base tree, each a little different.
 *
 * The base tree has --files files of realistic sizes: empty and tiny files
 * (markers, __init__.py), source-like text of a few hundred bytes to tens
 * of KiB, binaries and libraries of KiBs to MiBs, a few large archives,
 * and some files that are copies of others (licences, vendored code).
 * Each of --sandboxes sandboxes starts from it, changes (edits in place,
 * or appends to) --change percent of the files, deletes --delete percent,
 * adds --add percent new files, and installs zero to two of five shared
 * "packages" (sets of files that several sandboxes have in common). Every
 * file of every sandbox is put into one store (b3cas_store_put).
 *
 * The reference is independent of b3cas: every put's bytes are hashed
 * with SHA-256 (OpenSSL) into a set that counts each distinct content and
 * its references. From it:
 *   logical bytes   = bytes of every file put;
 *   unique bytes    = bytes of each distinct content once;
 *   dedup efficiency = duplicate bytes eliminated / duplicate bytes present
 *                    = (logical - physical) / (logical - unique),
 * where physical is what b3cas_store_stats reports stored. Exact dedup
 * means physical == unique, objects == distinct contents and references
 * == files, exactly; the program checks that, then tears down every other
 * sandbox (one delete per file), collects garbage and checks the same
 * equalities against the reference's counts, then tears down the rest and
 * checks that the store ends empty. It exits 1 when any check fails.
 *
 * Per-object overhead (not in physical bytes, reported from the disk):
 * the index key (32 bytes) and entry header (9), a refs entry (32 + 8)
 * when the count is not 1, RocksDB's framing, and a loose file's rounding
 * up to a file system block.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "b3cas/b3cas.h"

#define BENCH_NAME "sandbox_workload"
#include "bench_util.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * KIB)
#define PACKAGES 5

typedef struct config {
	int sandboxes;
	int files;
	double change, del, add; /* fractions */
	uint64_t max_size;
	uint64_t seed;
	uint64_t inline_threshold;
	const char *dir;
	bool keep;
} config;

static config cfg = {
	.sandboxes = 40,
	.files = 2000,
	.change = 0.03,
	.del = 0.01,
	.add = 0.02,
	.max_size = 16 * MIB,
	.seed = 1,
};

/* ---- the reference: distinct contents by SHA-256 ---- */

typedef struct ref_entry {
	uint8_t sha[32];
	uint64_t size;
	uint64_t refs;
	bool used;
} ref_entry;

static ref_entry *table;
static size_t table_cap, table_used;

static void sha256(uint8_t out[32], const void *data, size_t len)
{
	unsigned int n = 32;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		die("SHA-256 failed");
}

static ref_entry *ref_find(const uint8_t sha[32], bool add)
{
	size_t i;

	if (add && 2 * (table_used + 1) > table_cap) {
		ref_entry *old = table;
		size_t old_cap = table_cap;

		table_cap = table_cap ? 2 * table_cap : 4096;
		table = calloc(table_cap, sizeof(*table));
		if (!table)
			die("out of memory");
		table_used = 0;
		for (size_t j = 0; j < old_cap; j++)
			if (old[j].used)
				*ref_find(old[j].sha, true) = old[j];
		free(old);
	}
	if (!table_cap)
		return NULL;
	for (i = (size_t)(tu_mix(*(const uint64_t *)sha) % table_cap);;
	     i = (i + 1) % table_cap) {
		if (table[i].used && !memcmp(table[i].sha, sha, 32))
			return &table[i];
		if (!table[i].used) {
			if (!add)
				return NULL;
			memcpy(table[i].sha, sha, 32);
			table[i].size = 0;
			table[i].refs = 0;
			table[i].used = true;
			table_used++;
			return &table[i];
		}
	}
}

typedef struct totals {
	uint64_t contents, unique_bytes, refs, logical_bytes;
} totals;

static totals ref_totals(void)
{
	totals t = {0};

	for (size_t i = 0; i < table_cap; i++) {
		if (!table[i].used || !table[i].refs)
			continue;
		t.contents++;
		t.unique_bytes += table[i].size;
		t.refs += table[i].refs;
		t.logical_bytes += table[i].size * table[i].refs;
	}
	return t;
}

/* ---- the tree ---- */

/* One file of the base tree: its size, what kind of bytes, and the base
 * file it copies (or -1). */
typedef struct base_file {
	uint64_t size;
	int copy_of;
	bool text;
} base_file;

static base_file *base;
static base_file pkg_files[PACKAGES][64];
static int pkg_count[PACKAGES];

/* Sizes: the mix of a source tree with its build outputs. */
static uint64_t pick_size(uint64_t *rng, bool *text)
{
	uint64_t r = tu_mix((*rng)++) % 1000;
	uint64_t lo, hi;

	*text = r < 600;
	if (r < 60) /* empty and tiny: markers, __init__.py */
		lo = 0, hi = 64;
	else if (r < 600) /* source-like text */
		lo = 64, hi = 32 * KIB;
	else if (r < 900) /* objects, small binaries, images */
		lo = 4 * KIB, hi = 256 * KIB;
	else if (r < 990) /* libraries, executables */
		lo = 256 * KIB, hi = 4 * MIB;
	else /* archives, toolchain blobs */
		lo = 4 * MIB, hi = 16 * MIB;
	if (hi > cfg.max_size)
		hi = cfg.max_size;
	if (lo > hi)
		lo = hi / 2;
	/* log-uniform between lo and hi (sizes spread over decades) */
	if (lo == 0)
		return tu_mix((*rng)++) % (hi + 1);
	{
		double u = (double)(tu_mix((*rng)++) >> 11) / 9007199254740992.0;
		double l = (double)lo, h = (double)hi;

		return (uint64_t)(l * pow(h / l, u));
	}
}

static const char *const words[] = {
	"the",    "int",     "return", "static", "const",  "struct",
	"void",   "if",      "else",   "for",    "while",  "buffer",
	"size_t", "error",   "store",  "object", "hash",   "index",
	"=",      "==",      "{",      "}",      "(",      ");",
	"\n",     "\n\t",    "\n\t\t", "0",      "1",      "NULL"};

/* The bytes of content (key, version): text or binary, size bytes. */
static void fill(uint8_t *buf, uint64_t size, bool text, uint64_t key)
{
	uint64_t s = tu_mix(key);

	if (!text) {
		make_content(buf, size, 0x5a4d, key);
		return;
	}
	for (uint64_t i = 0; i < size;) {
		const char *w = words[(s = tu_mix(s)) % (sizeof(words) /
						     sizeof(words[0]))];
		size_t n = strlen(w);

		for (size_t j = 0; j < n && i < size; j++)
			buf[i++] = (uint8_t)w[j];
		if (i < size)
			buf[i++] = ' ';
	}
}

static void make_base(void)
{
	uint64_t rng = cfg.seed * 1000003;

	base = calloc((size_t)cfg.files, sizeof(*base));
	if (!base)
		die("out of memory");
	for (int i = 0; i < cfg.files; i++) {
		base[i].size = pick_size(&rng, &base[i].text);
		base[i].copy_of = -1;
		/* 3%: a copy of an earlier file (licences, vendored code) */
		if (i > 10 && tu_mix(rng++) % 100 < 3) {
			int j = (int)(tu_mix(rng++) % (uint64_t)i);

			base[i] = base[j];
			base[i].copy_of = base[j].copy_of >= 0 ? base[j].copy_of
							       : j;
		}
	}
	for (int p = 0; p < PACKAGES; p++) {
		pkg_count[p] = 8 + (int)(tu_mix(rng++) % 56);
		for (int f = 0; f < pkg_count[p]; f++)
			pkg_files[p][f].size =
				pick_size(&rng, &pkg_files[p][f].text);
	}
}

/* ---- putting ---- */

static uint8_t *buf;
static uint64_t files_put, bytes_put;

static void put_content(b3cas_store *s, uint64_t size, bool text,
			uint64_t key, uint64_t edit, b3cas_oid *id_out,
			uint8_t sha[32])
{
	ref_entry *e;
	int rc;

	fill(buf, size, text, key);
	if (edit) {
		/* an edit in place, or (every third) an append */
		if (edit % 3 == 0 || size < 16) {
			uint64_t extra = 1 + edit % 200;

			fill(buf + size, extra, text, edit);
			size += extra;
		} else {
			uint64_t at = tu_mix(edit) % (size - 8);

			memcpy(buf + at, &edit, 8);
		}
	}
	sha256(sha, buf, size);
	e = ref_find(sha, true);
	e->size = size;
	e->refs++;
	rc = b3cas_store_put(s, id_out, buf, size);
	if (rc < 0)
		die("put of %llu bytes: %s", (unsigned long long)size,
		    b3cas_error_last());
	files_put++;
	bytes_put += size;
}

/* One sandbox's files: which were put, so a teardown can delete them. */
typedef struct sandbox {
	b3cas_oid *ids;
	uint8_t (*shas)[32];
	size_t n;
} sandbox;

/* Put one file of sandbox sb and remember it. */
static void put_file(b3cas_store *s, sandbox *sb, uint64_t size, bool text,
		     uint64_t key, uint64_t edit)
{
	put_content(s, size, text, key, edit, &sb->ids[sb->n],
		    sb->shas[sb->n]);
	sb->n++;
}

static void put_sandbox(b3cas_store *s, int k, sandbox *sb)
{
	uint64_t rng = tu_mix(cfg.seed * 7777 + (uint64_t)k);
	size_t cap = (size_t)cfg.files * 2 + PACKAGES * 64 + 16;
	int adds = (int)((double)cfg.files * cfg.add + 0.5);

	sb->ids = malloc(cap * sizeof(*sb->ids));
	sb->shas = malloc(cap * sizeof(*sb->shas));
	sb->n = 0;
	if (!sb->ids || !sb->shas)
		die("out of memory");
	for (int i = 0; i < cfg.files; i++) {
		double u = (double)(tu_mix(rng++) >> 11) / 9007199254740992.0;
		int src = base[i].copy_of >= 0 ? base[i].copy_of : i;
		uint64_t edit = 0;

		if (u < cfg.del)
			continue;
		if (u < cfg.del + cfg.change)
			edit = tu_mix(rng++) | 1;
		put_file(s, sb, base[i].size, base[i].text, (uint64_t)src,
			 edit);
	}
	for (int a = 0; a < adds; a++) {
		bool text;
		uint64_t size = pick_size(&rng, &text);

		put_file(s, sb, size, text,
			 ((uint64_t)k << 32 | (uint64_t)a) + 0x100000000000ull,
			 0);
	}
	for (int p = 0; p < PACKAGES; p++) {
		if (tu_mix(rng++) % 5 >= 2)
			continue; /* each package in 2 of 5 sandboxes */
		for (int f = 0; f < pkg_count[p]; f++)
			put_file(s, sb, pkg_files[p][f].size,
				 pkg_files[p][f].text,
				 0x200000000000ull + (uint64_t)p * 1000 +
					 (uint64_t)f,
				 0);
	}
}

/* ---- checking ---- */

static int failures;

static void expect(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void expect(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s  ", ok ? "ok  " : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures += !ok;
}

static void fmt_bytes(char out[32], uint64_t n)
{
	if (n >= 10 * 1000 * MIB)
		snprintf(out, 32, "%.2f GiB", (double)n / (double)(KIB * MIB));
	else if (n >= 10 * MIB)
		snprintf(out, 32, "%.1f MiB", (double)n / (double)MIB);
	else
		snprintf(out, 32, "%llu B", (unsigned long long)n);
}

/* The store against the reference: the equalities exact dedup means. */
static void check_store(b3cas_store *s, const char *when)
{
	b3cas_stats st;
	totals t = ref_totals();
	char a[32], b[32], c[32];

	if (b3cas_store_stats(s, &st) != 0)
		die("stats: %s", b3cas_error_last());
	fmt_bytes(a, t.logical_bytes);
	fmt_bytes(b, t.unique_bytes);
	fmt_bytes(c, st.physical_bytes);
	printf("%s: %llu files (%s), %llu distinct contents (%s); store: "
	       "%llu objects, %llu references, physical %s, dedup ratio "
	       "%.2f\n",
	       when, (unsigned long long)t.refs, a,
	       (unsigned long long)t.contents, b,
	       (unsigned long long)st.objects,
	       (unsigned long long)st.references, c, st.dedup_ratio);
	expect(st.physical_bytes == t.unique_bytes,
	       "%s: physical bytes %llu == unique bytes %llu", when,
	       (unsigned long long)st.physical_bytes,
	       (unsigned long long)t.unique_bytes);
	expect(st.objects == t.contents,
	       "%s: objects %llu == distinct contents %llu", when,
	       (unsigned long long)st.objects,
	       (unsigned long long)t.contents);
	expect(st.references == t.refs && st.logical_bytes == t.logical_bytes,
	       "%s: references %llu == files %llu, logical bytes %llu == "
	       "%llu", when, (unsigned long long)st.references,
	       (unsigned long long)t.refs,
	       (unsigned long long)st.logical_bytes,
	       (unsigned long long)t.logical_bytes);
	if (t.logical_bytes > t.unique_bytes) {
		double eff = (double)(t.logical_bytes - st.physical_bytes) /
			     (double)(t.logical_bytes - t.unique_bytes);

		expect(eff == 1.0,
		       "%s: dedup efficiency %.4f%% (duplicate bytes "
		       "eliminated / duplicate bytes present)",
		       when, eff * 100);
	}
}

static void teardown(b3cas_store *s, sandbox *sb)
{
	for (size_t i = 0; i < sb->n; i++) {
		ref_entry *e = ref_find(sb->shas[i], false);

		if (!e || !e->refs)
			die("reference lost track of a file");
		e->refs--;
		if (b3cas_store_delete(s, &sb->ids[i]) < 0)
			die("delete: %s", b3cas_error_last());
	}
	free(sb->ids);
	free(sb->shas);
	sb->ids = NULL;
	sb->n = 0;
}

static uint64_t du(const char *path)
{
	char cmd[2200];
	unsigned long long kb = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sk '%s'", path);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%llu", &kb) != 1)
		kb = 0;
	if (p)
		pclose(p);
	return (uint64_t)kb * KIB;
}

/* ---- arguments ---- */

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: sandbox_workload [--sandboxes N] [--files N] "
		"[--change PCT] [--delete PCT]\n"
		"                        [--add PCT] [--max-size BYTES] "
		"[--seed N] [--inline BYTES]\n"
		"                        [--dir DIR] [--keep]\n"
		"Defaults: 40 sandboxes of a 2000-file base tree, 3%% changed, "
		"1%% deleted, 2%% added,\nfiles up to 16 MiB, seed 1. Exits 1 "
		"if deduplication is not exact.\n");
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--keep")) {
			cfg.keep = true;
		} else if (v && !strcmp(a, "--sandboxes")) {
			cfg.sandboxes = atoi(v), i++;
		} else if (v && !strcmp(a, "--files")) {
			cfg.files = atoi(v), i++;
		} else if (v && !strcmp(a, "--change")) {
			cfg.change = atof(v) / 100, i++;
		} else if (v && !strcmp(a, "--delete")) {
			cfg.del = atof(v) / 100, i++;
		} else if (v && !strcmp(a, "--add")) {
			cfg.add = atof(v) / 100, i++;
		} else if (v && !strcmp(a, "--max-size")) {
			cfg.max_size = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--seed")) {
			cfg.seed = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--inline")) {
			cfg.inline_threshold = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--dir")) {
			cfg.dir = v, i++;
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (cfg.sandboxes < 2 || cfg.files < 20 || cfg.max_size < 64 ||
	    cfg.change < 0 || cfg.del < 0 || cfg.add < 0 ||
	    cfg.change + cfg.del > 1)
		die("bad arguments (at least 2 sandboxes, 20 files, "
		    "64-byte files; percentages that add up)");
}

int main(int argc, char **argv)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char cwd[1800], root[2048], store_dir[2100], x[32], y[32];
	b3cas_store *s;
	sandbox *sbs;
	b3cas_gc_report rep;
	totals t;
	double t0;
	uint64_t disk;

	parse_args(argc, argv);
	if (!cfg.dir && !getcwd(cwd, sizeof(cwd)))
		die("getcwd failed");
	snprintf(root, sizeof(root), "%s/sandbox-workload-%ld",
		 cfg.dir ? cfg.dir : cwd, (long)getpid());
	if (mkdir(root, 0755) != 0)
		die("cannot create %s: %s", root, strerror(errno));
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	buf = malloc(cfg.max_size + 256);
	sbs = calloc((size_t)cfg.sandboxes, sizeof(*sbs));
	if (!buf || !sbs)
		die("out of memory");
	o.create = true;
	if (cfg.inline_threshold)
		o.inline_threshold = cfg.inline_threshold;
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		die("open: %s", b3cas_error_last());

	make_base();
	printf("sandbox workload: %d sandboxes from a %d-file base tree "
	       "(%.0f%% changed, %.0f%% deleted, %.0f%% added, %d shared "
	       "packages), seed %llu\n",
	       cfg.sandboxes, cfg.files, cfg.change * 100, cfg.del * 100,
	       cfg.add * 100, PACKAGES, (unsigned long long)cfg.seed);
	t0 = now();
	for (int k = 0; k < cfg.sandboxes; k++)
		put_sandbox(s, k, &sbs[k]);
	t0 = now() - t0;
	fmt_bytes(x, bytes_put);
	printf("put %llu files, %s, in %.2f s (%.0f MB/s logical, hashing "
	       "and SHA-256 reference included)\n",
	       (unsigned long long)files_put, x, t0,
	       (double)bytes_put / t0 / 1e6);
	check_store(s, "all sandboxes");

	t = ref_totals();
	if (b3cas_store_close(s) != 0)
		die("close: %s", b3cas_error_last());
	{
		char path[2200], z[32];

		disk = du(store_dir);
		snprintf(path, sizeof(path), "%s/objects", store_dir);
		fmt_bytes(x, du(path));
		snprintf(path, sizeof(path), "%s/index", store_dir);
		fmt_bytes(y, du(path));
		fmt_bytes(z, disk);
		printf("on disk (du): %s = %.3fx the distinct contents: loose "
		       "objects %s, index %s (inline objects, LZ4-compressed, "
		       "with keys, refs and log)\n",
		       z, (double)disk / (double)t.unique_bytes, x, y);
	}
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		die("open: %s", b3cas_error_last());

	/* Every other sandbox goes; GC; the rest must be exactly there. */
	for (int k = 0; k < cfg.sandboxes; k += 2)
		teardown(s, &sbs[k]);
	if (b3cas_gc(s, NULL, &rep) != 0)
		die("gc: %s", b3cas_error_last());
	printf("half torn down: GC removed %llu objects, %llu bytes\n",
	       (unsigned long long)rep.objects,
	       (unsigned long long)rep.bytes);
	check_store(s, "half the sandboxes");

	for (int k = 1; k < cfg.sandboxes; k += 2)
		teardown(s, &sbs[k]);
	if (b3cas_gc(s, NULL, &rep) != 0)
		die("gc: %s", b3cas_error_last());
	{
		b3cas_stats st;

		if (b3cas_store_stats(s, &st) != 0)
			die("stats: %s", b3cas_error_last());
		expect(st.objects == 0 && st.candidates == 0 &&
			       st.physical_bytes == 0,
		       "all torn down: %llu objects, %llu candidates, %llu "
		       "bytes left (0 expected)",
		       (unsigned long long)st.objects,
		       (unsigned long long)st.candidates,
		       (unsigned long long)st.physical_bytes);
	}
	if (b3cas_store_close(s) != 0)
		die("close: %s", b3cas_error_last());
	if (!cfg.keep)
		remove_tree(root);
	free(sbs);
	free(base);
	free(buf);
	free(table);
	printf("%s\n", failures ? "FAILED" : "exact: every duplicate stored "
					     "once");
	return failures ? 1 : 0;
}
