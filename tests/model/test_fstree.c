/*
 * test_fstree.c - directories to trees and back (model/fstree.h):
 * - a folder holding every kind of entry (files empty, small, large and
 *   sparse; odd names; set-id and sticky modes; a read-only folder;
 *   symlinks relative, absolute and dangling; three names of one file;
 *   a fifo, a socket, a character device when root; xattrs on files,
 *   folders and links; owners when root; times with nanoseconds, one
 *   before 1970) is scanned into trees kept in memory, restored
 *   elsewhere, and compared entry by entry with lstat, the bytes,
 *   readlink and the xattrs, and again with `diff -r --no-dereference`;
 * - scanning is deterministic, and a change deep down changes the ids on
 *   its path only;
 * - errors: a restore into a folder that is not empty, a scan of a file
 *   or of nothing, a tree that does not parse, a content the callbacks
 *   do not have;
 * - the restore runs on 1 and on 4 workers alike; stopped by its
 *   progress callback while a worker is half way through a file (its
 *   callback waits for the stop), it returns B3CAS_ECANCELED once every
 *   worker is done, removes that file and leaves every other file whole.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "model/fstree.h"
#include "test_util.h"
#include "util/error.h"

static uint64_t seed;

/* ---- objects kept in memory, by id ------------------------------------ */

typedef struct obj {
	b3cas_oid id;
	uint8_t *data;
	size_t len;
} obj;

typedef struct mem {
	obj *v;
	size_t n, cap;
	size_t trees, files; /* callbacks made */
} mem;

static void mem_add(mem *m, const b3cas_oid *id, const void *data,
		    size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->v[i].id.bytes, id->bytes, 32))
			return;
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		assert_non_null(m->v);
	}
	m->v[m->n].id = *id;
	m->v[m->n].data = malloc(len ? len : 1);
	assert_non_null(m->v[m->n].data);
	memcpy(m->v[m->n].data, data, len);
	m->v[m->n].len = len;
	m->n++;
}

static const obj *mem_find(const mem *m, const b3cas_oid *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->v[i].id.bytes, id->bytes, 32))
			return &m->v[i];
	return NULL;
}

static void mem_free(mem *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].data);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int put_file(void *ctx, int fd, const struct stat *st, b3cas_oid *id)
{
	mem *m = ctx;
	size_t len = (size_t)st->st_size, got = 0;
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	b3cas_hash(id->bytes, buf, len);
	mem_add(m, id, buf, len);
	free(buf);
	m->files++;
	return 0;
}

static int put_tree(void *ctx, const uint8_t *bytes, size_t len,
		    const b3cas_tree *t, b3cas_oid *id)
{
	mem *m = ctx;

	assert_non_null(t);
	b3cas_hash(id->bytes, bytes, len);
	mem_add(m, id, bytes, len);
	m->trees++;
	return 0;
}

static int get_tree(void *ctx, const b3cas_oid *id, uint8_t **bytes,
		    size_t *len)
{
	const obj *o = mem_find(ctx, id);

	if (!o)
		return b3cas__error(B3CAS_ENOTFOUND, "get_tree: no tree");
	*bytes = malloc(o->len ? o->len : 1);
	assert_non_null(*bytes);
	memcpy(*bytes, o->data, o->len);
	*len = o->len;
	return 0;
}

/* Parts written (calls of get_file for less than a whole file). */
static _Atomic unsigned parts_written;

/* Zero blocks of a sparse file are skipped (its length is set after).
 * Called by several workers at once: it only reads the objects. Writes
 * f's part only, which must be one the restore may ask for. */
static int get_file(void *ctx, const b3cas__restore_file *f)
{
	const obj *o = mem_find(ctx, f->id);
	static const uint8_t zero[4096];

	if (!o)
		return b3cas__error(B3CAS_ENOTFOUND, "get_file: no content");
	if (o->len != f->size)
		return b3cas__error(B3CAS_ECORRUPT, "get_file: wrong size");
	assert_true(f->off <= f->size && f->len <= f->size - f->off);
	if (f->len != f->size) {
		assert_int_equal(f->off % (64 << 10), 0);
		assert_true(f->len >= 64 << 10);
		atomic_fetch_add(&parts_written, 1);
	}
	for (size_t off = f->off; off < f->off + f->len; off += 4096) {
		size_t n = f->off + f->len - off < 4096
				   ? f->off + f->len - off
				   : 4096;

		if (f->sparse && n == 4096 && !memcmp(o->data + off, zero, n))
			continue;
		if (pwrite(f->fd, o->data + off, n, (off_t)off) != (ssize_t)n)
			return b3cas__error(B3CAS_EIO, "get_file: pwrite");
	}
	return 0;
}

/* Files of 256 KiB and more in parts of about 100,000 bytes (the
 * restore makes them 64 KiB aligned; more than it allows for the 8 MiB
 * sparse file). */
static unsigned get_parts(void *ctx, const b3cas_oid *id, uint64_t size,
			  unsigned threads)
{
	(void)ctx;
	(void)id;
	assert_true(threads > 1);
	return size < 256 << 10 ? 1 : (unsigned)(size / 100000);
}

static const b3cas__scan_ops scan_ops = {put_file, put_tree, NULL, NULL};
static const b3cas__restore_ops restore_ops = {get_tree, get_file, NULL};
static const b3cas__restore_ops parts_ops = {get_tree, get_file,
					     get_parts};

/* b3cas__restore with threads workers, no progress. */
static int restore_with(const b3cas_oid *id, const char *dest,
			const b3cas__restore_ops *ops, mem *m,
			unsigned threads)
{
	b3cas__restore_params p = {threads, NULL, NULL, NULL};

	return b3cas__restore(id, dest, ops, m, &p);
}

/* ---- the source folder -------------------------------------------------- */

static void write_file(const char *root, const char *rel, const void *data,
		       size_t len, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void at(char *out, size_t n, const char *root, const char *rel)
{
	snprintf(out, n, "%s/%s", root, rel);
}

static void set_time(const char *root, const char *rel, time_t sec,
		     long nsec)
{
	char path[512];
	struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};

	at(path, sizeof(path), root, rel);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static bool root_user(void)
{
	return geteuid() == 0;
}

static void make_source(const char *root)
{
	static const char *const dirs[] = {"a", "a/b", "a/b/c", "ro",
					   "sticky", "empty"};
	char path[512], p2[512];
	uint8_t *big = tu_random_block(1 << 20, &seed);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, sock;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		at(path, sizeof(path), root, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	write_file(root, "e", "", 0, 0644);
	write_file(root, "a/hello", "hello\n", 6, 0640);
	write_file(root, "a/b/big", big, 1 << 20, 0600);
	write_file(root, "a/b/c/deep", "deep", 4, 0444);
	write_file(root, "suid", "#!/bin/sh\n", 10, 04755);
	write_file(root, "sp ace", "1", 1, 0644);
	write_file(root, "nl\nname", "2", 1, 0644);
	write_file(root, "\xc3\xa9t\xc3\xa9", "3", 1, 0644);
	write_file(root, "\x01" "ctl", "4", 1, 0644);
	write_file(root, "ro/inside", "ro", 2, 0644);
	free(big);
	/* sparse: 8 MiB with 4 KiB of data at 4 MiB */
	at(path, sizeof(path), root, "sparse");
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "data", 4, 4 << 20), 4);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	/* three names of one file */
	write_file(root, "a/h1", "linked", 6, 0644);
	at(path, sizeof(path), root, "a/h1");
	at(p2, sizeof(p2), root, "a/b/h2");
	assert_int_equal(link(path, p2), 0);
	at(p2, sizeof(p2), root, "h3");
	assert_int_equal(link(path, p2), 0);
	/* links */
	at(path, sizeof(path), root, "a/link-rel");
	assert_int_equal(symlink("../e", path), 0);
	at(path, sizeof(path), root, "abs");
	assert_int_equal(symlink("/etc/passwd", path), 0);
	at(path, sizeof(path), root, "dangling");
	assert_int_equal(symlink("nowhere/x", path), 0);
	/* a fifo, a socket, a device */
	at(path, sizeof(path), root, "fifo");
	assert_int_equal(mkfifo(path, 0620), 0);
	at(path, sizeof(path), root, "sock");
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(sock);
	if (root_user()) {
		at(path, sizeof(path), root, "null");
		assert_int_equal(mknod(path, S_IFCHR | 0666, makedev(1, 3)), 0);
		at(path, sizeof(path), root, "a/hello");
		assert_int_equal(chown(path, 1234, 5678), 0);
		at(path, sizeof(path), root, "abs");
		assert_int_equal(lchown(path, 42, 43), 0);
		at(path, sizeof(path), root, "a/b");
		assert_int_equal(chown(path, 7, 8), 0);
	}
	/* xattrs: a file, a folder, one with a value of 0 bytes */
	at(path, sizeof(path), root, "a/hello");
	assert_int_equal(setxattr(path, "user.one", "1", 1, 0), 0);
	assert_int_equal(setxattr(path, "user.empty", "", 0, 0), 0);
	at(path, sizeof(path), root, "a");
	assert_int_equal(setxattr(path, "user.dir", "d\0x", 3, 0), 0);
	if (root_user()) { /* user.* is refused on links */
		at(path, sizeof(path), root, "abs");
		assert_int_equal(lsetxattr(path, "trusted.t", "t", 1, 0), 0);
	}
	/* times, folders last (entries change them) */
	set_time(root, "e", 1000000000, 123456789);
	set_time(root, "a/hello", -12345, 1);
	set_time(root, "abs", 42, 999999999);
	set_time(root, "fifo", 7, 0);
	set_time(root, "a/b/c", 1600000000, 5);
	set_time(root, "a", 1500000000, 500);
	at(path, sizeof(path), root, "ro");
	assert_int_equal(chmod(path, 0555), 0);
	at(path, sizeof(path), root, "sticky");
	assert_int_equal(chmod(path, 01777), 0);
	set_time(root, "ro", 1234567890, 0);
	set_time(root, ".", 1700000000, 17);
}

/* ---- the comparison ----------------------------------------------------- */

typedef struct inomap {
	ino_t from[64], to[64];
	int n;
} inomap;

/* The names in a list from llistxattr, sorted, as one string. */
static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_names(char *list, ssize_t n, char **names, int *count)
{
	*count = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		assert_true(*count < 32);
		names[(*count)++] = list + i;
	}
	qsort(names, (size_t)*count, sizeof(*names), str_cmp);
}

/* The same xattrs (a file system lists them in its own order). */
static void expect_xattrs(const char *a, const char *b)
{
	char la[4096], lb[4096], *na[32], *nb[32];
	ssize_t sa = llistxattr(a, la, sizeof(la));
	ssize_t sb = llistxattr(b, lb, sizeof(lb));
	int ca, cb;

	assert_true(sa >= 0 && sb >= 0);
	sorted_names(la, sa, na, &ca);
	sorted_names(lb, sb, nb, &cb);
	if (ca != cb)
		fail_msg("%s: %d xattrs, want %d", b, cb, ca);
	for (int i = 0; i < ca; i++) {
		char va[256], vb[256];
		ssize_t x, y;

		assert_string_equal(na[i], nb[i]);
		x = lgetxattr(a, na[i], va, sizeof(va));
		y = lgetxattr(b, na[i], vb, sizeof(vb));
		assert_true(x >= 0 && x == y);
		assert_memory_equal(va, vb, (size_t)x);
	}
}

static void expect_same(const char *a, const char *b, inomap *inos)
{
	struct stat sa, sb;

	assert_int_equal(lstat(a, &sa), 0);
	assert_int_equal(lstat(b, &sb), 0);
	if (sa.st_mode != sb.st_mode)
		fail_msg("%s: mode %o, want %o", b, sb.st_mode, sa.st_mode);
	assert_int_equal(sa.st_uid, sb.st_uid);
	assert_int_equal(sa.st_gid, sb.st_gid);
	if (!S_ISDIR(sa.st_mode))
		assert_int_equal(sa.st_size, sb.st_size);
	if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
		fail_msg("%s: mtime %lld.%09ld, want %lld.%09ld", b,
			 (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
			 (long long)sa.st_mtim.tv_sec, sa.st_mtim.tv_nsec);
	expect_xattrs(a, b);
	if (S_ISCHR(sa.st_mode) || S_ISBLK(sa.st_mode))
		assert_int_equal(sa.st_rdev, sb.st_rdev);
	if (S_ISLNK(sa.st_mode)) {
		char ta[4096], tb[4096];
		ssize_t x = readlink(a, ta, sizeof(ta));
		ssize_t y = readlink(b, tb, sizeof(tb));

		assert_true(x > 0 && x == y);
		assert_memory_equal(ta, tb, (size_t)x);
	}
	if (S_ISREG(sa.st_mode)) {
		size_t la, lb;
		char *da = tu_read_file(a, &la), *db = tu_read_file(b, &lb);

		assert_int_equal(la, lb);
		tu_expect_mem(db, da, la, "%s", b);
		free(da);
		free(db);
		assert_int_equal(sa.st_nlink, sb.st_nlink);
		if (sa.st_nlink > 1) { /* the same grouping of names */
			int k = 0;

			while (k < inos->n && inos->from[k] != sa.st_ino)
				k++;
			if (k == inos->n) {
				assert_true(inos->n < 64);
				inos->from[k] = sa.st_ino;
				inos->to[k] = sb.st_ino;
				inos->n++;
			}
			assert_int_equal(inos->to[k], sb.st_ino);
		}
		if ((uint64_t)sa.st_blocks * 512 < (uint64_t)sa.st_size)
			assert_true((uint64_t)sb.st_blocks * 512 <
				    (uint64_t)sb.st_size);
	}
	if (S_ISDIR(sa.st_mode)) {
		struct dirent **na = NULL, **nb = NULL;
		int ca = scandir(a, &na, NULL, alphasort);
		int cb = scandir(b, &nb, NULL, alphasort);

		assert_int_equal(ca, cb);
		for (int i = 0; i < ca; i++) {
			char pa[1024], pb[1024];

			assert_string_equal(na[i]->d_name, nb[i]->d_name);
			if (strcmp(na[i]->d_name, ".") &&
			    strcmp(na[i]->d_name, "..")) {
				snprintf(pa, sizeof(pa), "%s/%s", a,
					 na[i]->d_name);
				snprintf(pb, sizeof(pb), "%s/%s", b,
					 nb[i]->d_name);
				expect_same(pa, pb, inos);
			}
		}
		for (int i = 0; i < ca; i++) {
			free(na[i]);
			free(nb[i]);
		}
		free(na);
		free(nb);
	}
}

/* ---- tests -------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	char root[64], src[128], dest[128], cmd[512];
	b3cas_oid id, again;
	mem m = {0};
	inomap inos = {0};

	(void)state;
	tu_make_root(root, sizeof(root), "fstree");
	snprintf(src, sizeof(src), "%s/s", root);
	snprintf(dest, sizeof(dest), "%s/d", root);
	assert_int_equal(mkdir(src, 0755), 0);
	make_source(src);
	assert_int_equal(b3cas__scan(src, &scan_ops, &m, &id), 0);
	assert_int_equal(m.trees, 7); /* . a a/b a/b/c ro sticky empty */
	assert_int_equal(m.files, 14);
	assert_int_equal(b3cas__scan(src, &scan_ops, &m, &again), 0);
	assert_memory_equal(id.bytes, again.bytes, 32);
	/* one worker, and more workers than files in most folders; large
	 * files whole, and in parts: a 1 MiB file in 10, the 8 MiB sparse
	 * one in 83 (none with one worker) */
	static const struct {
		unsigned threads, parts;
		const b3cas__restore_ops *ops;
	} runs[] = {{1, 0, &restore_ops}, {4, 0, &restore_ops},
		    {1, 0, &parts_ops},   {2, 93, &parts_ops},
		    {3, 93, &parts_ops}};
	for (size_t i = 0; i < sizeof(runs) / sizeof(*runs); i++) {
		unsigned before = atomic_load(&parts_written);

		snprintf(dest, sizeof(dest), "%s/d%zu", root, i);
		assert_int_equal(restore_with(&id, dest, runs[i].ops, &m,
					      runs[i].threads),
				 0);
		assert_int_equal(atomic_load(&parts_written) - before,
				 runs[i].parts);
		memset(&inos, 0, sizeof(inos));
		expect_same(src, dest, &inos);
		assert_int_equal(inos.n, 1); /* one file of three names */
		/* an independent look: diff compares every byte and link
		 * target (not special files: lstat'ed above) */
		snprintf(cmd, sizeof(cmd),
			 "diff -r --no-dereference -x fifo -x sock -x null "
			 "'%s' '%s'", src, dest);
		assert_int_equal(system(cmd), 0);
	}
	/* a restore into a folder that is not empty is refused */
	assert_int_equal(restore_with(&id, dest, &restore_ops, &m, 1),
			 B3CAS_EEXISTS);
	assert_non_null(strstr(b3cas_error_last(), "not empty"));
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'", root);
	assert_int_equal(system(cmd), 0);
	tu_remove_root(root);
	mem_free(&m);
}

/* The id of the entry name in tree id. */
static b3cas_oid child(const mem *m, const b3cas_oid *id, const char *name)
{
	const obj *o = mem_find(m, id);
	b3cas_tree *t = NULL;
	ptrdiff_t i;
	b3cas_oid out;

	assert_non_null(o);
	assert_int_equal(b3cas_tree_parse(o->data, o->len, &t), 0);
	i = b3cas_tree_find(t, name, strlen(name));
	assert_true(i >= 0);
	out = t->entries[i].id;
	b3cas_tree_free(t);
	return out;
}

static void test_change_moves_its_path_only(void **state)
{
	char root[64], path[256];
	b3cas_oid one, two, a1, a2;
	mem m = {0};
	struct timespec keep[2];
	struct stat st;

	(void)state;
	tu_make_root(root, sizeof(root), "fstree-ids");
	make_source(root);
	assert_int_equal(b3cas__scan(root, &scan_ops, &m, &one), 0);
	/* a new byte in a/b/c/deep, its folder's time kept */
	at(path, sizeof(path), root, "a/b/c");
	assert_int_equal(stat(path, &st), 0);
	keep[0] = st.st_atim;
	keep[1] = st.st_mtim;
	at(path, sizeof(path), root, "a/b/c/deep");
	assert_int_equal(chmod(path, 0644), 0);
	write_file(root, "a/b/c/deep", "deeper", 6, 0444);
	at(path, sizeof(path), root, "a/b/c");
	assert_int_equal(utimensat(AT_FDCWD, path, keep, 0), 0);
	assert_int_equal(b3cas__scan(root, &scan_ops, &m, &two), 0);
	assert_memory_not_equal(one.bytes, two.bytes, 32);
	a1 = child(&m, &one, "a");
	a2 = child(&m, &two, "a");
	assert_memory_not_equal(a1.bytes, a2.bytes, 32);
	/* siblings off the path keep their ids */
	a1 = child(&m, &one, "ro");
	a2 = child(&m, &two, "ro");
	assert_memory_equal(a1.bytes, a2.bytes, 32);
	a1 = child(&m, &one, "sparse");
	a2 = child(&m, &two, "sparse");
	assert_memory_equal(a1.bytes, a2.bytes, 32);
	snprintf(path, sizeof(path), "chmod -R u+w '%s'", root);
	assert_int_equal(system(path), 0);
	tu_remove_root(root);
	mem_free(&m);
}

static int bad_tree(void *ctx, const b3cas_oid *id, uint8_t **bytes,
		    size_t *len)
{
	(void)ctx;
	(void)id;
	*bytes = malloc(9);
	assert_non_null(*bytes);
	memcpy(*bytes, "b3tree\0\1", 8);
	(*bytes)[8] = 0x80; /* a number cut short */
	*len = 9;
	return 0;
}

static void test_errors(void **state)
{
	char root[64], path[256];
	b3cas_oid id = {{0}};
	mem m = {0};
	b3cas__restore_ops bad = {bad_tree, get_file, NULL};

	(void)state;
	tu_make_root(root, sizeof(root), "fstree-err");
	write_file(root, "file", "x", 1, 0644);
	at(path, sizeof(path), root, "file");
	assert_int_equal(b3cas__scan(path, &scan_ops, &m, &id), B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "not a folder"));
	at(path, sizeof(path), root, "missing");
	assert_int_equal(b3cas__scan(path, &scan_ops, &m, &id),
			 B3CAS_ENOTFOUND);
	/* a restore into an existing file */
	at(path, sizeof(path), root, "file");
	assert_int_equal(restore_with(&id, path, &restore_ops, &m, 2),
			 B3CAS_EEXISTS);
	/* a tree that does not parse */
	at(path, sizeof(path), root, "out1");
	assert_int_equal(restore_with(&id, path, &bad, &m, 2), B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "tree get: "));
	/* and says why, the parse's own words kept whole */
	assert_non_null(strstr(b3cas_error_last(),
			       ": tree: the bytes end inside a number"));
	/* a file whose content the callbacks do not have */
	at(path, sizeof(path), root, "in");
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(root, "in/f", "content", 7, 0644);
	assert_int_equal(b3cas__scan(path, &scan_ops, &m, &id), 0);
	for (size_t i = 0; i < m.n; i++)
		if (m.v[i].len == 7) /* forget the file's content */
			memset(m.v[i].id.bytes, 0xee, 32);
	at(path, sizeof(path), root, "out2");
	assert_int_equal(restore_with(&id, path, &restore_ops, &m, 2),
			 B3CAS_ENOTFOUND);
	tu_remove_root(root);
	mem_free(&m);
}

/* ---- stopped half way ---------------------------------------------------- */

/* As get_file, but the 1 MiB file (each part of it) is written half,
 * then the callback waits (at most 20 s) for the restore to stop: it
 * cannot end without. */
static int get_file_stuck(void *ctx, const b3cas__restore_file *f)
{
	const obj *o = mem_find(ctx, f->id);

	if (!o || f->size != 1 << 20)
		return get_file(ctx, f);
	assert_int_equal(pwrite(f->fd, o->data + f->off, f->len / 2,
				(off_t)f->off),
			 (ssize_t)(f->len / 2));
	for (int i = 0; i < 20000 && !atomic_load(f->stop); i++)
		usleep(1000);
	return b3cas__error(B3CAS_ECANCELED, "get_file_stuck: stopped");
}

typedef struct stop_ctx {
	pthread_t caller;
	unsigned calls;
	bool elsewhere, after_stop;
} stop_ctx;

/* The first call (at the start) goes on; the second says stop. */
static int stop_second(const b3cas_tree_progress *p, void *ctx)
{
	stop_ctx *c = ctx;

	(void)p;
	if (!pthread_equal(pthread_self(), c->caller))
		c->elsewhere = true;
	if (c->calls >= 2)
		c->after_stop = true;
	return ++c->calls >= 2;
}

/* Every regular file below b is whole: the same bytes as below a. */
static unsigned files_whole(const char *a, const char *b)
{
	struct dirent **v = NULL;
	int c = scandir(b, &v, NULL, alphasort);
	unsigned n = 0;

	assert_true(c >= 0);
	for (int i = 0; i < c; i++) {
		char pa[1024], pb[1024];
		struct stat st;

		snprintf(pa, sizeof(pa), "%.700s/%.255s", a, v[i]->d_name);
		snprintf(pb, sizeof(pb), "%.700s/%.255s", b, v[i]->d_name);
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..") &&
		    lstat(pb, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				n += files_whole(pa, pb);
			} else if (S_ISREG(st.st_mode)) {
				size_t la, lb;
				char *da = tu_read_file(pa, &la);
				char *db = tu_read_file(pb, &lb);

				assert_int_equal(la, lb);
				tu_expect_mem(db, da, la, "%s", pb);
				free(da);
				free(db);
				n++;
			}
		}
		free(v[i]);
	}
	free(v);
	return n;
}

static void stopped_half_way(const b3cas__restore_ops *stuck)
{
	char root[64], src[128], dest[128], path[256];
	stop_ctx c = {pthread_self(), 0, false, false};
	b3cas_tree_counts counts;
	b3cas__restore_params p = {4, stop_second, &c, &counts};
	b3cas_oid id;
	mem m = {0};
	struct stat st;
	unsigned whole;

	tu_make_root(root, sizeof(root), "fstree-stop");
	snprintf(src, sizeof(src), "%s/s", root);
	snprintf(dest, sizeof(dest), "%s/d", root);
	assert_int_equal(mkdir(src, 0755), 0);
	make_source(src);
	assert_int_equal(b3cas__scan(src, &scan_ops, &m, &id), 0);
	assert_int_equal(b3cas__restore(&id, dest, stuck, &m, &p),
			 B3CAS_ECANCELED);
	assert_non_null(strstr(b3cas_error_last(), "canceled"));
	assert_int_equal(c.calls, 2);
	assert_false(c.elsewhere);
	assert_false(c.after_stop);
	/* the file the worker was in is gone; what is there is whole */
	at(path, sizeof(path), dest, "a/b/big");
	assert_int_equal(lstat(path, &st), -1);
	/* each file written is counted; h2 and h3 are other names of h1 */
	whole = files_whole(src, dest);
	assert_true(whole >= counts.files && whole <= counts.files + 2);
	snprintf(path, sizeof(path), "chmod -R u+w '%s'", root);
	assert_int_equal(system(path), 0);
	tu_remove_root(root);
	mem_free(&m);
}

static void test_stopped_half_way(void **state)
{
	static const b3cas__restore_ops stuck = {get_tree, get_file_stuck,
						 NULL};
	static const b3cas__restore_ops stuck_parts = {
		get_tree, get_file_stuck, get_parts};

	(void)state;
	stopped_half_way(&stuck);
	/* every part of the file stuck: the last to give up removes it */
	stopped_half_way(&stuck_parts);
}

/* ---- large files in parts ---------------------------------------------- */

/* As get_file, but the part of the 3 MiB file that holds its byte at 1
 * MiB fails. */
static int get_file_part_fails(void *ctx, const b3cas__restore_file *f)
{
	if (f->size == 3 << 20 && f->off <= 1 << 20 &&
	    f->off + f->len > 1 << 20) {
		assert_true(f->len < f->size);
		return b3cas__error(B3CAS_EIO, "get_file: a part failed");
	}
	return get_file(ctx, f);
}

static void test_parts(void **state)
{
	static const b3cas__restore_ops fails = {get_tree,
						 get_file_part_fails,
						 get_parts};
	char root[64], src[128], dest[128], path[256], p2[256], cmd[768];
	uint8_t *big = tu_random_block(3 << 20, &seed);
	b3cas_tree_counts counts;
	b3cas__restore_params p = {3, NULL, NULL, &counts};
	inomap inos = {0};
	struct stat st;
	unsigned before;
	b3cas_oid id;
	mem m = {0};
	int fd;

	(void)state;
	tu_make_root(root, sizeof(root), "fstree-parts");
	snprintf(src, sizeof(src), "%s/s", root);
	assert_int_equal(mkdir(src, 0755), 0);
	at(path, sizeof(path), src, "sub");
	assert_int_equal(mkdir(path, 0700), 0);
	/* a large file of two names: its first name is written in parts,
	 * the later one linked once they are all done */
	write_file(src, "big", big, 3 << 20, 0640);
	at(path, sizeof(path), src, "big");
	at(p2, sizeof(p2), src, "sub/big2");
	assert_int_equal(link(path, p2), 0);
	set_time(src, "big", 1000000000, 5);
	write_file(src, "small", "small", 5, 0644);
	/* sparse, 2 MiB, data at 1 MiB - 2 and at its end */
	at(path, sizeof(path), src, "sparse");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "data", 4, (1 << 20) - 2), 4);
	assert_int_equal(pwrite(fd, "end", 3, (2 << 20) - 3), 3);
	close(fd);
	assert_int_equal(b3cas__scan(src, &scan_ops, &m, &id), 0);

	before = atomic_load(&parts_written);
	snprintf(dest, sizeof(dest), "%s/d", root);
	assert_int_equal(b3cas__restore(&id, dest, &parts_ops, &m, &p), 0);
	/* 31 parts of the large file and 20 of the sparse one */
	assert_int_equal(atomic_load(&parts_written) - before, 51);
	assert_int_equal(counts.files, 3); /* big2 is a name of big */
	assert_int_equal(counts.bytes, (3 << 20) + (2 << 20) + 5);
	expect_same(src, dest, &inos);
	assert_int_equal(inos.n, 1);
	at(path, sizeof(path), dest, "sparse");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2 << 20);
	assert_true(st.st_blocks * 512 < 1 << 20); /* holes stayed holes */
	snprintf(cmd, sizeof(cmd), "cmp -s '%s/big' '%s/big' && "
		 "cmp -s '%s/sparse' '%s/sparse'", src, dest, src, dest);
	assert_int_equal(system(cmd), 0);

	/* a part that fails: the restore fails naming the file, which is
	 * removed, and its other name never made */
	snprintf(dest, sizeof(dest), "%s/f", root);
	assert_int_equal(b3cas__restore(&id, dest, &fails, &m, &p),
			 B3CAS_EIO);
	assert_non_null(strstr(b3cas_error_last(), "/big: get_file: a part "
				"failed"));
	at(path, sizeof(path), dest, "big");
	assert_int_equal(lstat(path, &st), -1);
	at(path, sizeof(path), dest, "sub/big2");
	assert_int_equal(lstat(path, &st), -1);
	free(big);
	tu_remove_root(root);
	mem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_change_moves_its_path_only),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stopped_half_way),
		cmocka_unit_test(test_parts),
	};

	seed = tu_seed("test_fstree");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
