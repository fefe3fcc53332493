/*
 * bench_store.c - how fast the content store puts and gets, next to raw
 * RocksDB doing the same puts and gets in the same run.
 *
 * For each object size and durability mode, with 1 and 2 threads:
 *   put of new content, put of content already stored, get (verified);
 *   raw RocksDB put and get of the same sizes, opened with the store's own
 *   RocksDB options (src/index/index.h), writing with sync in `full` mode;
 * then the same store in SHA-256 mode; then `full` mode with 1..32 threads
 * against what one fsync per put allows (group commit); then the study
 * that chose the inline threshold: RocksDB put against a loose file.
 *
 * Method: per operation latency (CLOCK_MONOTONIC around each call; content
 * is generated before the clock starts), p50 and p99 over all operations
 * of all threads; ops/s = operations / wall time of the phase. Each
 * configuration writes about 100 MB (more than RocksDB's 64 MiB memtable),
 * so gets are of objects spread over memtable and table files, chosen in
 * random order: "not cached" means no cache of b3cas's own, as in the
 * issue; RocksDB's block cache is on for both sides alike. Stores live in
 * --dir (default: a new folder under the current one), removed at the
 * end.
 *
 * Files: this one holds the options, the helpers and main();
 * bench_store_phase.c the timed phases and the two sides (store, raw
 * RocksDB); bench_store_table.c the main table, SHA-256 mode and group
 * commit; bench_store_study.c the inline-threshold study, the bounds and
 * the acceptance report. bench_store_int.h declares what they share.
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


config cfg;
static char root[2048];
int dir_seq;

/* ---- helpers ---- */

void new_dir(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "%s/%s-%d", root, what, dir_seq++);
}

const char *mode_name(int m)
{
	static const char *names[] = {"none", "batch", "full"};

	return names[m];
}

void fmt_size(char out[32], size_t n)
{
	if (n >= MIB && n % MIB == 0)
		snprintf(out, 32, "%zuM", n / MIB);
	else if (n >= KIB && n % KIB == 0)
		snprintf(out, 32, "%zuK", n / KIB);
	else
		snprintf(out, 32, "%zu", n);
}

/* ---- arguments ---- */

static size_t parse_size(const char *s)
{
	char *end;
	size_t n = strtoull(s, &end, 10);

	if (*end == 'K' || *end == 'k')
		n *= KIB, end++;
	else if (*end == 'M' || *end == 'm')
		n *= MIB, end++;
	if (*end || n == 0)
		die("bad size '%s'", s);
	return n;
}

static void usage(void)
{
	printf("Usage: bench_store [--quick] [--sizes 1K,16K,...] "
	       "[--modes none,batch,full]\n"
	       "                   [--threads 1,2] [--scale X] "
	       "[--no-study] [--no-group] [--dir DIR]\n");
}

static void parse_list(const char *arg, void (*take)(const char *))
{
	char *copy = strdup(arg), *save = NULL;

	for (char *p = strtok_r(copy, ",", &save); p;
	     p = strtok_r(NULL, ",", &save))
		take(p);
	free(copy);
}

static void take_size(const char *s)
{
	if (cfg.nsizes < 8)
		cfg.sizes[cfg.nsizes++] = parse_size(s);
}

static void take_mode(const char *s)
{
	for (int m = 0; m < 3; m++)
		if (strcmp(s, mode_name(m)) == 0) {
			cfg.modes[m] = true;
			return;
		}
	die("unknown mode '%s'", s);
}

static void take_threads(const char *s)
{
	int n = atoi(s);

	if (n < 1 || n > MAX_THREADS)
		die("bad thread count '%s'", s);
	if (cfg.nthreads < 4)
		cfg.threads[cfg.nthreads++] = n;
}

static void parse_args(int argc, char **argv)
{
	const char *sizes = NULL, *modes = NULL, *threads = NULL;

	cfg.scale = 1.0;
	cfg.study = cfg.group = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			cfg.quick = true;
		} else if (!strcmp(a, "--no-study")) {
			cfg.study = false;
		} else if (!strcmp(a, "--no-group")) {
			cfg.group = false;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage();
			exit(0);
		} else if (v && !strcmp(a, "--sizes")) {
			sizes = v, i++;
		} else if (v && !strcmp(a, "--modes")) {
			modes = v, i++;
		} else if (v && !strcmp(a, "--threads")) {
			threads = v, i++;
		} else if (v && !strcmp(a, "--scale")) {
			cfg.scale = atof(v), i++;
		} else if (v && !strcmp(a, "--dir")) {
			cfg.dir = v, i++;
		} else {
			usage();
			exit(2);
		}
	}
	if (cfg.quick) {
		cfg.scale = cfg.scale == 1.0 ? 0.01 : cfg.scale;
		sizes = sizes ? sizes : "1K,64K";
		modes = modes ? modes : "batch,full";
		threads = threads ? threads : "1,2";
	}
	parse_list(sizes ? sizes : "1K,16K,64K,1M", take_size);
	parse_list(modes ? modes : "none,batch,full", take_mode);
	parse_list(threads ? threads : "1,2", take_threads);
	if (cfg.scale <= 0)
		die("bad --scale");
}

int main(int argc, char **argv)
{
	char cwd[1800];

	parse_args(argc, argv);
	if (!cfg.dir && !getcwd(cwd, sizeof(cwd)))
		die("getcwd failed");
	snprintf(root, sizeof(root), "%s/bench-store-%ld",
		 cfg.dir ? cfg.dir : cwd, (long)getpid());
	if (mkdir(root, 0755) != 0)
		die("cannot create %s: %s", root, strerror(errno));
	printf("b3cas %s store benchmark, BLAKE3 SIMD %s, stores in %s\n",
	       b3cas_version(), b3cas_simd_name(), root);
	bench_table();
	bench_sha();
	if (cfg.group)
		bench_group();
	if (cfg.study)
		bench_study();
	if (find_row(MIB, B3CAS_DURABILITY_BATCH, 1))
		measure_bounds();
	report();
	remove_tree(root);
	/* Timing targets are reported, never asserted: the machine is
	 * shared and noisy. Only a failed operation fails the run. */
	return 0;
}
