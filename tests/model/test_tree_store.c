/*
 * test_tree_store.c - trees in a store (b3cas_tree_put_dir, get_dir,
 * load, diff):
 * - random folders (depth 4; files empty, small, over the 1 MiB put
 *   buffer and chunked; symlinks; hard links; holes) put and restored,
 *   compared with `diff -r --no-dereference` and by putting the restored
 *   folder again, which must give the same root id (every mode, owner,
 *   time and link kept);
 * - diff against a model: random changes (content, mode, files and
 *   folders added and removed, the folders' times put back) must be
 *   reported exactly, in order, and equal trees report nothing;
 * - references: a put holds each content once per tree; GC after the
 *   root of one of two trees goes keeps the other whole and frees what
 *   only the first held; with both gone the store is empty, with no key
 *   of the links machinery left;
 * - a put that fails half way (an unreadable file, as a normal user)
 *   leaves nothing behind;
 * - the stat cache (test_stat_cache) and puts under a lease.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/tree.h"
#include "store/store_int.h"
#include "meta_keys.h"
#include "prng.h"
#include "test_util.h"

static uint64_t rng;

static void write_file(const char *path, size_t len, bool sparse)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint8_t *buf = tu_random_block(len, &rng);

	assert_true(fd >= 0);
	if (sparse && len > 8192) {
		/* a hole in the middle */
		assert_int_equal(pwrite(fd, buf, 4096, 0), 4096);
		assert_int_equal(pwrite(fd, buf, 4096, (off_t)len - 4096),
				 4096);
	} else {
		assert_int_equal(write(fd, buf, len), (ssize_t)len);
	}
	close(fd);
	free(buf);
}

static size_t pick_len(void)
{
	switch (tu_rand(&rng) % 6) {
	case 0: return 0;
	case 1: return tu_rand(&rng) % 100;
	case 2: return 1000 + tu_rand(&rng) % 60000;
	case 3: return (1u << 20) + tu_rand(&rng) % 300000; /* streamed */
	default: return tu_rand(&rng) % 5000;
	}
}

/* A random folder at path, depth levels deep. */
static void make_tree(const char *path, int depth)
{
	unsigned n = 1 + (unsigned)(tu_rand(&rng) % 8);
	char p[1024], q[1100];

	assert_int_equal(mkdir(path, 0755), 0);
	for (unsigned i = 0; i < n; i++) {
		unsigned kind = (unsigned)(tu_rand(&rng) % 10);

		assert_true(strlen(path) < 900);
		snprintf(p, sizeof(p), "%.900s/e%u-%llu", path, i,
			 (unsigned long long)(tu_rand(&rng) % 1000));
		if (kind < 5) {
			write_file(p, pick_len(), kind == 4);
			chmod(p, (mode_t)(0600 | (tu_rand(&rng) % 2) * 0111));
		} else if (kind < 7 && depth > 0) {
			make_tree(p, depth - 1);
		} else if (kind == 7) {
			assert_int_equal(symlink("../somewhere else", p), 0);
		} else if (kind == 8) {
			write_file(p, 3000, false);
			snprintf(q, sizeof(q), "%s.link", p);
			assert_int_equal(link(p, q), 0);
		} else {
			write_file(p, 10, false);
		}
	}
}

static b3cas_store *open_store(const char *root, bool chunking)
{
	b3cas_store_options o = tu_store_options(true, 4096);

	o.chunking = chunking ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_OFF;
	return tu_open_store(root, &o);
}

/* `diff -r --no-dereference a b` finds nothing. */
static void same_dirs(const char *a, const char *b)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "diff -r --no-dereference '%s' '%s' >&2",
		 a, b);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static int print_change(const char *path, int change,
			const b3cas_tree_entry *a, const b3cas_tree_entry *b,
			void *ctx)
{
	(void)ctx;
	fprintf(stderr, "%c %s", change, path);
	if (a && b)
		fprintf(stderr, " (mode %o/%o, mtime %lld.%09u/%lld.%09u, "
			"size %llu/%llu, link %llu/%llu)", a->attr.mode,
			b->attr.mode, (long long)a->attr.mtime_sec,
			a->attr.mtime_nsec, (long long)b->attr.mtime_sec,
			b->attr.mtime_nsec, (unsigned long long)a->size,
			(unsigned long long)b->size,
			(unsigned long long)a->link,
			(unsigned long long)b->link);
	fputc('\n', stderr);
	return 0;
}

static void round_trip(bool chunking)
{
	char dir[64], src[128], out[128], st_root[128];
	b3cas_tree_counts put, got;
	b3cas_oid root, again;
	b3cas_store *s;

	tu_make_root(dir, sizeof(dir), "tree-store");
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(st_root, sizeof(st_root), "%s/store", dir);
	make_tree(src, 4);
	s = open_store(st_root, chunking);
	if (b3cas_tree_put_dir(s, src, &root, &put) != 0)
		fail_msg("put: %s", b3cas_error_last());
	if (b3cas_tree_get_dir(s, &root, out, &got) != 0)
		fail_msg("get: %s", b3cas_error_last());
	/* a hard link's second name is linked, not written again */
	assert_true(got.files <= put.files && (got.files > 0) == (put.files > 0));
	assert_true(got.bytes <= put.bytes);
	if (put.dirs != got.dirs)
		fail_msg("put %llu folders, got %llu",
			 (unsigned long long)put.dirs,
			 (unsigned long long)got.dirs);
	same_dirs(src, out);
	/* the restored folder is the same tree: same id */
	assert_int_equal(b3cas_tree_put_dir(s, out, &again, NULL), 0);
	if (!b3cas_oid_equal(&root, &again)) {
		(void)b3cas_tree_diff(s, &root, &again, print_change, NULL);
		fail_msg("restored folder stores as another tree");
	}
	/* the root now has two references, everything else is held */
	assert_int_equal(b3cas_store_delete(s, &root), 1);
	assert_int_equal(b3cas_store_delete(s, &root), 0);
	{
		b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
		b3cas_stats stats;

		g.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		assert_int_equal(b3cas_store_stats(s, &stats), 0);
		assert_int_equal(stats.objects, 0);
		assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(dir);
}

static void test_round_trip(void **state)
{
	(void)state;
	round_trip(false);
}

static void test_round_trip_chunking(void **state)
{
	(void)state;
	round_trip(true);
}

/* ---- diff against a model ---------------------------------------------- */

#define MAXCH 64

typedef struct changes {
	char line[MAXCH][600];
	unsigned n;
} changes;

static int collect(const char *path, int change, const b3cas_tree_entry *a,
		   const b3cas_tree_entry *b, void *ctx)
{
	changes *c = ctx;

	(void)a;
	(void)b;
	assert_true(c->n < MAXCH);
	snprintf(c->line[c->n++], sizeof(c->line[0]), "%c %s", change, path);
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The regular files and folders directly in dir (relative to top). */
typedef struct listing {
	char name[256][300];
	bool is_dir[256];
	unsigned n;
} listing;

static void list_dir(const char *dir, listing *l)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	l->n = 0;
	while ((e = readdir(d)) && l->n < 256) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(l->name[l->n], sizeof(l->name[0]), "%s", e->d_name);
		l->is_dir[l->n++] = e->d_type == DT_DIR;
	}
	closedir(d);
}

static void test_diff_model(void **state)
{
	char dir[64], a[128], st_root[128], p[512], rel[300], cmd[600];
	changes want = {0}, got = {0};
	b3cas_oid ra, rb;
	b3cas_store *s;
	listing l;

	(void)state;
	tu_make_root(dir, sizeof(dir), "tree-diff");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(st_root, sizeof(st_root), "%s/store", dir);
	make_tree(a, 2);
	s = open_store(st_root, true);
	assert_int_equal(b3cas_tree_put_dir(s, a, &ra, NULL), 0);
	/* equal trees: nothing */
	assert_int_equal(b3cas_tree_diff(s, &ra, &ra, collect, &got), 0);
	assert_int_equal(got.n, 0);
	/* changes in the top folder and in one below it, if there is one */
	list_dir(a, &l);
	for (unsigned i = 0; i < l.n && want.n < MAXCH - 4; i++) {
		unsigned what = (unsigned)(tu_rand(&rng) % 4);
		struct stat st;

		snprintf(p, sizeof(p), "%s/%.300s", a, l.name[i]);
		snprintf(rel, sizeof(rel), "%.290s", l.name[i]);
		assert_int_equal(lstat(p, &st), 0);
		/* (a hard link's other name would change too) */
		if ((!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) ||
		    (S_ISREG(st.st_mode) && st.st_nlink > 1))
			continue;
		if (what == 0) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
			assert_int_equal(system(cmd), 0);
			snprintf(want.line[want.n++], 600, "D %s", rel);
		} else if (what == 1 && S_ISREG(st.st_mode)) {
			struct timespec ts[2] = {st.st_atim, st.st_mtim};

			/* same time, new bytes: only the id tells */
			write_file(p, (size_t)st.st_size + 1, false);
			assert_int_equal(utimensat(AT_FDCWD, p, ts,
						   AT_SYMLINK_NOFOLLOW), 0);
			snprintf(want.line[want.n++], 600, "M %s", rel);
		} else if (what == 2 && S_ISREG(st.st_mode)) {
			chmod(p, st.st_mode ^ 0040);
			snprintf(want.line[want.n++], 600, "M %s", rel);
		}
	}
	snprintf(p, sizeof(p), "%s/zz-new-file", a);
	write_file(p, 77, false);
	snprintf(want.line[want.n++], 600, "A zz-new-file");
	snprintf(p, sizeof(p), "%s/zz-new-dir", a);
	make_tree(p, 1);
	snprintf(want.line[want.n++], 600, "A zz-new-dir");
	/* the top folder's time, as it was: its entries tell the rest */
	{
		struct timespec ts[2] = {{0, UTIME_OMIT}, {1600000000, 5}};

		assert_int_equal(utimensat(AT_FDCWD, a, ts, 0), 0);
		snprintf(want.line[want.n++], 600, "M .");
	}
	assert_int_equal(b3cas_tree_put_dir(s, a, &rb, NULL), 0);
	assert_int_equal(b3cas_tree_diff(s, &ra, &rb, collect, &got), 0);
	qsort(want.line, want.n, sizeof(want.line[0]), line_cmp);
	qsort(got.line, got.n, sizeof(got.line[0]), line_cmp);
	for (unsigned i = 0; i < want.n || i < got.n; i++)
		if (i >= want.n || i >= got.n ||
		    strcmp(want.line[i], got.line[i]) != 0)
			fail_msg("diff line %u: want '%s', got '%s'", i,
				 i < want.n ? want.line[i] : "(none)",
				 i < got.n ? got.line[i] : "(none)");
	/* GC: b stays whole when a goes */
	assert_int_equal(b3cas_store_delete(s, &ra), 0);
	{
		b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
		char out[128];

		g.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		snprintf(out, sizeof(out), "%s/out", dir);
		if (b3cas_tree_get_dir(s, &rb, out, NULL) != 0)
			fail_msg("get b after a went: %s", b3cas_error_last());
		same_dirs(a, out);
		assert_int_equal(b3cas_store_delete(s, &rb), 0);
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(dir);
}

/* A put that fails half way keeps nothing (as a normal user; as root
 * the same put succeeds and its root, dropped, frees everything). */
static void test_failed_put(void **state)
{
	char dir[64], a[128], st_root[128], p[256];
	b3cas_stats stats;
	b3cas_oid r;
	b3cas_store *s;
	int rc;

	(void)state;
	tu_make_root(dir, sizeof(dir), "tree-fail");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(st_root, sizeof(st_root), "%s/store", dir);
	make_tree(a, 2);
	/* an unreadable file, deep down, read last: the put fails as a
	 * normal user (test_tree_store_user); root reads it */
	snprintf(p, sizeof(p), "%s/zzz", a);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/zzz/locked", a);
	write_file(p, 10, false);
	assert_int_equal(chmod(p, 0), 0);
	s = open_store(st_root, false);
	rc = b3cas_tree_put_dir(s, a, &r, NULL);
	if (rc == 0 && geteuid() == 0) {
		/* root reads a mode-0 file: then nothing failed */
		assert_int_equal(b3cas_store_delete(s, &r), 0);
	} else {
		assert_true(rc < 0);
	}
	{
		b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

		g.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
	}
	assert_int_equal(b3cas_store_stats(s, &stats), 0);
	assert_int_equal(stats.objects, 0);
	assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	chmod(p, 0644);
	tu_remove_root(dir);
}

/* Put a with cache (NULL: none) into s: the root (a caller reference),
 * counts in *c. */
static b3cas_oid put_cached(b3cas_store *s, const char *a, const char *cache,
			    b3cas_tree_counts *c)
{
	b3cas_tree_put_options o = B3CAS_TREE_PUT_OPTIONS_INIT;
	b3cas_oid r;

	o.cache = cache;
	if (b3cas_tree_put(s, a, &o, &r, c) != 0)
		fail_msg("put (cache %s): %s", cache ? cache : "none",
			 b3cas_error_last());
	return r;
}

static void gc_now(b3cas_store *s)
{
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

	g.grace_ns = 0;
	g.normal_priority = true;
	assert_int_equal(b3cas_gc(s, &g, NULL), 0);
}

/*
 * The stat cache: an unchanged folder is put without a read (every file
 * from the cache, no tree written) and gives the same root; after
 * changes (new bytes of the same size under the old mtime, a mode, a
 * file added and one removed) the cached put gives the root a put
 * without cache gives; a cache whose objects GC took, and a damaged
 * cache, still give the right tree. A put under a lease leaves the
 * root's reference in it, and nothing else.
 */
static void test_stat_cache(void **state)
{
	char dir[64], a[128], st_root[128], cache[160], out[128], p[512];
	b3cas_tree_counts c;
	b3cas_oid r1, r2, r3, r4;
	b3cas_store *s;
	listing l;
	bool changed = false;

	(void)state;
	tu_make_root(dir, sizeof(dir), "tree-cache");
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(st_root, sizeof(st_root), "%s/store", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	make_tree(a, 3);
	snprintf(p, sizeof(p), "%s/zz-file", a);
	write_file(p, 5000, false);
	/* files changed in the last 2 s are not cached (a change in the
	 * same tick of the clock would not show): let them age */
	usleep(2100000);
	s = open_store(st_root, true);
	r1 = put_cached(s, a, cache, &c);
	assert_int_equal(c.cached, 0);
	r2 = put_cached(s, a, cache, &c);
	assert_true(b3cas_oid_equal(&r1, &r2));
	assert_true(c.files > 0);
	if (c.cached != c.files || c.found != c.dirs)
		fail_msg("unchanged: %llu of %llu files cached, %llu of %llu "
			 "trees found", (unsigned long long)c.cached,
			 (unsigned long long)c.files,
			 (unsigned long long)c.found,
			 (unsigned long long)c.dirs);
	/* a damaged cache counts as empty: every file read, the same tree */
	assert_int_equal(b3cas_store_delete(s, &r2), 1);
	tu_flip_file_byte(cache, 100);
	r2 = put_cached(s, a, cache, &c);
	assert_int_equal(c.cached, 0);
	assert_true(b3cas_oid_equal(&r1, &r2));
	/* changes the stat tells */
	list_dir(a, &l);
	for (unsigned i = 0; i < l.n; i++) {
		struct stat st;

		snprintf(p, sizeof(p), "%s/%.300s", a, l.name[i]);
		assert_int_equal(lstat(p, &st), 0);
		if (!S_ISREG(st.st_mode) || st.st_nlink > 1)
			continue;
		if (!changed) {
			struct timespec ts[2] = {st.st_atim, st.st_mtim};

			/* same size, same mtime: only ctime tells */
			write_file(p, (size_t)st.st_size, false);
			assert_int_equal(utimensat(AT_FDCWD, p, ts,
						   AT_SYMLINK_NOFOLLOW), 0);
			changed = true;
		} else if (tu_rand(&rng) % 2) {
			chmod(p, st.st_mode ^ 0040);
		}
	}
	snprintf(p, sizeof(p), "%s/zz-file", a);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/zz-new", a);
	write_file(p, 777, false);
	r3 = put_cached(s, a, cache, &c);
	assert_true(c.cached < c.files);
	r4 = put_cached(s, a, NULL, NULL);
	if (!b3cas_oid_equal(&r3, &r4)) {
		(void)b3cas_tree_diff(s, &r4, &r3, print_change, NULL);
		fail_msg("the cached put gave another tree");
	}
	/* everything goes; the cache names what GC took */
	assert_int_equal(b3cas_store_delete(s, &r1), 1);
	assert_int_equal(b3cas_store_delete(s, &r2), 0);
	assert_int_equal(b3cas_store_delete(s, &r3), 1);
	assert_int_equal(b3cas_store_delete(s, &r4), 0);
	gc_now(s);
	assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	r1 = put_cached(s, a, cache, &c);
	assert_true(b3cas_oid_equal(&r1, &r3));
	assert_int_equal(c.cached, 0); /* the put started over */
	if (b3cas_tree_get_dir(s, &r1, out, NULL) != 0)
		fail_msg("get: %s", b3cas_error_last());
	same_dirs(a, out);
	assert_int_equal(b3cas_store_delete(s, &r1), 0);
	gc_now(s);
	/* under a lease: its one reference is the root's */
	{
		b3cas_tree_put_options o = B3CAS_TREE_PUT_OPTIONS_INIT;
		b3cas_lease *lease;
		b3cas_stats stats;

		assert_int_equal(b3cas_lease_open(s, &lease), 0);
		o.lease = lease;
		o.cache = cache;
		assert_int_equal(b3cas_tree_put(s, a, &o, &r1, &c), 0);
		assert_int_equal(b3cas_lease_count(lease), 1);
		assert_int_equal(b3cas_store_exists(s, &r1), 1);
		assert_int_equal(b3cas_lease_close(lease), 0);
		assert_int_equal(b3cas_store_exists(s, &r1), 0);
		gc_now(s);
		assert_int_equal(b3cas_store_stats(s, &stats), 0);
		assert_int_equal(stats.objects, 0);
		assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_chunking),
		cmocka_unit_test(test_diff_model),
		cmocka_unit_test(test_failed_put),
		cmocka_unit_test(test_stat_cache),
	};

	rng = tu_seed("test_tree_store");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
