/*
 * test_layout.c - the store folder touches only what is its own.
 *
 * Through the public API only (so the same file builds against an older
 * library to show what it did): a store never follows a symbolic link
 * where its layout has a folder, clears only its own staging files from
 * tmp/, refuses to be made in a folder holding anyone else's file at any
 * depth of the layout (changing nothing there) while completing what an
 * interrupted init left, and its objects folder belongs to it alone: an
 * owner mark with the store_id of b3cas.conf, refused to a second store
 * at init and at open, and given to a store made before store ids at its
 * first writable open.
 *
 * "Changes nothing" is checked against a snapshot of every name, type,
 * size, link target and content hash under the folders concerned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "b3cas/b3cas.h"
#include "core/core_util.h"

#define PATH_LEN 512

/* ---- helpers ------------------------------------------------------------ */

static void path_join(char *out, const char *a, const char *b)
{
	assert_true((size_t)snprintf(out, PATH_LEN, "%s/%s", a, b) <
		    PATH_LEN);
}

static void put_file(const char *dir, const char *rel, const char *text)
{
	char p[PATH_LEN];

	path_join(p, dir, rel);
	assert_true(cu_write_file(p, text));
}

static void make_dir(const char *dir, const char *rel)
{
	char p[PATH_LEN];

	path_join(p, dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static bool exists(const char *dir, const char *rel)
{
	char p[PATH_LEN];
	struct stat st;

	path_join(p, dir, rel);
	return lstat(p, &st) == 0;
}

/* The whole of a small file, NUL-terminated, in a static buffer. */
static const char *slurp(const char *dir, const char *rel)
{
	static char text[8192];
	char p[PATH_LEN];
	int fd;
	ssize_t n;

	path_join(p, dir, rel);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

/* The 32-hex value of "store_id = " in file dir/rel, or "" if none. */
static void store_id_of(char out[33], const char *dir, const char *rel)
{
	const char *t = slurp(dir, rel), *k;

	out[0] = '\0';
	if (!t || !(k = strstr(t, "store_id = ")))
		return;
	k += strlen("store_id = ");
	assert_true(strspn(k, "0123456789abcdef") == 32);
	memcpy(out, k, 32);
	out[32] = '\0';
}

/* ---- snapshots ---------------------------------------------------------- */

static char *snap_buf;
static size_t snap_len, snap_cap;
static size_t snap_base;

static void snap_add(const char *text)
{
	size_t n = strlen(text);

	if (snap_len + n + 1 > snap_cap) {
		snap_cap = (snap_len + n + 1) * 2;
		snap_buf = realloc(snap_buf, snap_cap);
		assert_non_null(snap_buf);
	}
	memcpy(snap_buf + snap_len, text, n + 1);
	snap_len += n;
}

static uint64_t file_hash(const char *path)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static int snap_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	char line[PATH_LEN + 128], link[PATH_LEN] = "";

	(void)type;
	(void)ftw;
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(path, link, sizeof(link) - 1);

		link[n > 0 ? n : 0] = '\0';
	}
	snprintf(line, sizeof(line), "%s %o %lld %s %llx\n",
		 path + snap_base, (unsigned)st->st_mode,
		 (long long)(S_ISDIR(st->st_mode) ? 0 : st->st_size), link,
		 S_ISREG(st->st_mode) ? (unsigned long long)file_hash(path)
				      : 0ull);
	snap_add(line);
	return 0;
}

/* Every entry under dir (not following links), as text the caller frees;
 * "(missing)" for no dir. */
static char *snapshot(const char *dir)
{
	struct stat st;

	snap_buf = NULL;
	snap_len = snap_cap = 0;
	snap_add("");
	if (lstat(dir, &st) != 0) {
		snap_add("(missing)");
		return snap_buf;
	}
	snap_base = strlen(dir);
	nftw(dir, snap_one, 16, FTW_PHYS);
	return snap_buf;
}

static void expect_unchanged(char *before, const char *dir)
{
	char *after = snapshot(dir);

	if (strcmp(before, after) != 0) {
		fprintf(stderr, "%s changed:\n--- before\n%s--- after\n%s\n",
			dir, before, after);
		fail();
	}
	free(before);
	free(after);
}

/* ---- stores -------------------------------------------------------------- */

static int open_store(b3cas_store **s, const char *root, bool create,
		      bool read_only, const char *objects_dir)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.read_only = read_only;
	o.objects_dir = objects_dir;
	o.l1_bytes = 0;
	o.durability = B3CAS_DURABILITY_NONE; /* seconds of fsync otherwise */
	*s = NULL;
	return b3cas_store_open(s, root, &o);
}

static void make_store(const char *root, const char *objects_dir)
{
	b3cas_store *s;

	assert_int_equal(open_store(&s, root, true, false, objects_dir), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* Put a loose object (larger than the inline threshold) and read it. */
static void put_and_get(b3cas_store *s, uint64_t seed)
{
	size_t len = 200000, got = 0;
	uint8_t *data = cu_gen_alloc(seed, len);
	void *back = NULL;
	b3cas_oid id;

	assert_int_equal(b3cas_store_put(s, &id, data, len), 0);
	assert_int_equal(b3cas_store_get(s, &id, &back, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);
	free(data);
	b3cas_free(back);
}

typedef struct fixture {
	char dir[PATH_LEN / 2]; /* the test's own folder */
	char store[PATH_LEN]; /* <dir>/store */
	char other[PATH_LEN]; /* <dir>/other: outside the store */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f || !cu_mkdtemp(f->dir, sizeof(f->dir), "layout"))
		return -1;
	snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
	snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
	if (mkdir(f->other, 0755) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	cu_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Replace folder dir/rel of the store by a link to f->other. */
static void swap_for_link(fixture *f, const char *rel)
{
	char p[PATH_LEN];

	path_join(p, f->store, rel);
	cu_rm_rf(p);
	assert_int_equal(symlink(f->other, p), 0);
}

/* ---- tmp/ and the layout's folders -------------------------------------- */

/*
 * tmp/ (and every other folder of the layout, and an object sub-folder)
 * replaced by a link to a folder outside: opening fails with
 * B3CAS_EFORMAT and nothing outside is deleted or written.
 */
static void test_layout_links_refused(void **state)
{
	static const char *const rels[] = {"tmp", "index", "integrity",
					   "cache", "objects/ab",
					   "integrity/quarantine"};
	fixture *f = *state;
	char template[PATH_LEN], cmd[3 * PATH_LEN];

	/* One store made, copied for each case: a make costs ~0.5 s. */
	path_join(template, f->dir, "template");
	make_store(template, NULL);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", template, f->store);
	for (size_t i = 0; i < sizeof(rels) / sizeof(*rels); i++) {
		b3cas_store *s;
		char *before;
		int rc;

		cu_rm_rf(f->store);
		assert_int_equal(system(cmd), 0);
		put_file(f->other, "victim", "not the store's\n");
		put_file(f->other, "7.7.tmp", "named like a staging file\n");
		swap_for_link(f, rels[i]);
		before = snapshot(f->other);
		rc = open_store(&s, f->store, false, false, NULL);
		if (rc == 0) {
			put_and_get(s, i);
			b3cas_store_close(s);
		}
		if (rc != B3CAS_EFORMAT || !strstr(b3cas_error_last(),
						   "symbolic link"))
			fail_msg("%s as a link: open gave %d (%s), want "
				 "B3CAS_EFORMAT naming the link", rels[i], rc,
				 b3cas_error_last());
		expect_unchanged(before, f->other);
	}
}

/*
 * Clearing tmp/ at open deletes only the store's staging files: a folder
 * and a foreign file left there stay, and do not stop writes.
 */
static void test_tmp_cleared_by_pattern(void **state)
{
	fixture *f = *state;
	b3cas_store *s;

	make_store(f->store, NULL);
	put_file(f->store, "tmp/notes.txt", "mine\n");
	put_file(f->store, "tmp/123.45.tmp", "a crashed put's leftover\n");
	make_dir(f->store, "tmp/keep");
	put_file(f->store, "tmp/keep/inside", "mine too\n");
	assert_int_equal(open_store(&s, f->store, false, false, NULL), 0);
	put_and_get(s, 1);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_true(exists(f->store, "tmp/notes.txt"));
	assert_true(exists(f->store, "tmp/keep/inside"));
	assert_false(exists(f->store, "tmp/123.45.tmp"));
}

/* ---- init ---------------------------------------------------------------- */

typedef struct foreign_case {
	const char *dirs[4];  /* made first, in order */
	const char *file;     /* then this file (may be NULL) */
	const char *text;
	const char *link;     /* or this link, to f->other */
} foreign_case;

static const foreign_case foreign_cases[] = {
	{{"tmp"}, "tmp/notes.txt", "notes\n", NULL},
	{{NULL}, "LOCK", "my lock, not a pid\n", NULL},
	{{"objects", "objects/ab"}, "objects/ab/foreign", "x\n", NULL},
	{{"index"}, "index/notes", "x\n", NULL},
	{{"objects"}, "objects/strayfile", "x\n", NULL},
	{{"objects", "objects/zz"}, NULL, NULL, NULL},
	{{"cache", "cache/l2"}, "cache/l2/photo.jpg", "x\n", NULL},
	{{"integrity", "integrity/quarantine"}, "integrity/quarantine/x",
	 "x\n", NULL},
	{{"integrity", "integrity/backup"}, "integrity/backup/log", "x\n",
	 NULL},
	{{NULL}, NULL, NULL, "tmp"},
	{{"objects"}, NULL, NULL, "objects/00"},
	{{NULL}, NULL, NULL, "LOCK"},
	{{"tmp", "tmp/sub"}, NULL, NULL, NULL},
	{{"objects"}, "objects/b3cas.owner", "not a mark\n", NULL},
};

/*
 * A folder holding a foreign entry anywhere in the layout is not made a
 * store: B3CAS_EFORMAT, and the folder (and what its links point at) is
 * exactly as it was. The same for a backup into it.
 */
static void test_init_refuses_foreign(void **state)
{
	fixture *f = *state;
	size_t n = sizeof(foreign_cases) / sizeof(*foreign_cases);
	char src[PATH_LEN];
	b3cas_store *from;

	path_join(src, f->dir, "source");
	make_store(src, NULL);
	assert_int_equal(open_store(&from, src, false, true, NULL), 0);
	for (size_t i = 0; i < 2 * n; i++) {
		const foreign_case *c = &foreign_cases[i % n];
		char *before, *outside;
		b3cas_store *s = NULL;
		int rc;

		cu_rm_rf(f->store);
		assert_int_equal(mkdir(f->store, 0755), 0);
		for (int d = 0; d < 4 && c->dirs[d]; d++)
			make_dir(f->store, c->dirs[d]);
		if (c->file)
			put_file(f->store, c->file, c->text);
		if (c->link) {
			char p[PATH_LEN];

			path_join(p, f->store, c->link);
			assert_int_equal(symlink(f->other, p), 0);
		}
		before = snapshot(f->store);
		outside = snapshot(f->other);
		/* First half: init; second half: backup into the folder. */
		rc = i < n ? open_store(&s, f->store, true, false, NULL)
			   : b3cas_backup(from, f->store, NULL, NULL);
		if (rc == 0 && s)
			b3cas_store_close(s);
		if (rc != B3CAS_EFORMAT)
			fail_msg("%s of a folder holding %s: %d (%s), want "
				 "B3CAS_EFORMAT", i < n ? "init" : "backup",
				 c->file ? c->file
					 : c->link ? c->link : c->dirs[1],
				 rc, b3cas_error_last());
		expect_unchanged(before, f->store);
		expect_unchanged(outside, f->other);
	}
	b3cas_store_close(from);
}

/*
 * What an interrupted init leaves (the whole layout with RocksDB's files,
 * the owner mark, b3cas.conf.tmp, a LOCK holding a pid, a staging file) is
 * completed by the next init, which keeps the id in the mark.
 */
static void test_init_completes_interrupted(void **state)
{
	fixture *f = *state;
	char conf[PATH_LEN], mark_id[33], conf_id[33];
	b3cas_store *s;

	make_store(f->store, NULL);
	path_join(conf, f->store, "b3cas.conf");
	assert_int_equal(unlink(conf), 0); /* killed before publishing */
	put_file(f->store, "b3cas.conf.tmp", "format_version = 1\n");
	put_file(f->store, "LOCK", "12345\n");
	put_file(f->store, "tmp/999.0.tmp", "half an object");
	store_id_of(mark_id, f->store, "objects/b3cas.owner");
	assert_int_equal(strlen(mark_id), 32);
	assert_int_equal(open_store(&s, f->store, true, false, NULL), 0);
	put_and_get(s, 2);
	assert_int_equal(b3cas_store_close(s), 0);
	store_id_of(conf_id, f->store, "b3cas.conf");
	assert_string_equal(conf_id, mark_id);
	assert_false(exists(f->store, "tmp/999.0.tmp"));
}

/* ---- ownership of the objects folder ------------------------------------ */

/*
 * A store has a store_id and its objects folder (here, one given with
 * objects_dir) a mark naming it; a second store given the same folder is
 * refused at init, with nothing changed; fsck and backup take the mark
 * for neither an object nor a stray, and a backup gets its own id.
 */
static void test_objects_dir_one_owner(void **state)
{
	fixture *f = *state;
	char tier[PATH_LEN], second[PATH_LEN], copy[PATH_LEN];
	char id[33], mark[33], copy_id[33];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s;
	char *before;

	path_join(tier, f->dir, "tier");
	path_join(second, f->dir, "second");
	path_join(copy, f->dir, "copy");
	make_store(f->store, tier);
	store_id_of(id, f->store, "b3cas.conf");
	store_id_of(mark, tier, "b3cas.owner");
	assert_int_equal(strlen(id), 32);
	assert_string_equal(mark, id);

	before = snapshot(tier);
	assert_int_equal(open_store(&s, second, true, false, tier),
			 B3CAS_EFORMAT);
	assert_non_null(strstr(b3cas_error_last(), id));
	assert_false(exists(f->dir, "second"));
	expect_unchanged(before, tier);

	assert_int_equal(open_store(&s, f->store, false, false, NULL), 0);
	put_and_get(s, 3);
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.files, 1);
	assert_int_equal(b3cas_backup(s, copy, NULL, NULL), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	store_id_of(copy_id, copy, "b3cas.conf");
	assert_int_equal(strlen(copy_id), 32);
	assert_string_not_equal(copy_id, id);
}

/*
 * Opening a store whose objects folder is marked by another store fails
 * (B3CAS_EFORMAT naming both ids), read-only too, and changes nothing.
 */
static void test_open_refuses_foreign_mark(void **state)
{
	fixture *f = *state;
	const char *other = "00112233445566778899aabbccddeeff";
	char id[33], mark[128], tier[PATH_LEN];
	char *before;
	b3cas_store *s;

	path_join(tier, f->dir, "tier");
	make_store(f->store, tier);
	store_id_of(id, f->store, "b3cas.conf");
	snprintf(mark, sizeof(mark), "store_id = %s\n", other);
	put_file(tier, "b3cas.owner", mark);
	before = snapshot(f->dir);
	for (int ro = 0; ro < 2; ro++) {
		assert_int_equal(open_store(&s, f->store, false, ro, NULL),
				 B3CAS_EFORMAT);
		assert_non_null(strstr(b3cas_error_last(), other));
		assert_non_null(strstr(b3cas_error_last(), id));
		assert_non_null(strstr(b3cas_error_last(), tier));
	}
	expect_unchanged(before, f->dir);
}

/* Remove the store_id line from b3cas.conf: a store made before ids. */
static void make_old_store(const char *root, const char *tier)
{
	char conf[PATH_LEN], text[8192], *line;

	make_store(root, tier);
	snprintf(text, sizeof(text), "%s", slurp(root, "b3cas.conf"));
	line = strstr(text, "store_id = ");
	assert_non_null(line);
	memmove(line, strchr(line, '\n') + 1, strlen(strchr(line, '\n')));
	path_join(conf, root, "b3cas.conf");
	assert_true(cu_write_file(conf, text));
	path_join(conf, tier, "b3cas.owner");
	assert_int_equal(unlink(conf), 0);
	if (strcmp(tier, root) != 0) {
		path_join(conf, root, "objects/b3cas.owner");
		unlink(conf);
	}
}

/*
 * A store made before store ids: read-only opens work as before; the
 * first writable open gives it an id and marks its folder; a second such
 * store sharing that folder is then refused for writing.
 */
static void test_upgrade_old_store(void **state)
{
	fixture *f = *state;
	char tier[PATH_LEN], second[PATH_LEN], id[33], mark[33];
	b3cas_store *s;

	path_join(tier, f->dir, "tier");
	path_join(second, f->dir, "second");
	make_old_store(f->store, tier);
	assert_int_equal(open_store(&s, f->store, false, true, NULL), 0);
	b3cas_store_close(s);
	store_id_of(id, f->store, "b3cas.conf");
	assert_string_equal(id, "");

	assert_int_equal(open_store(&s, f->store, false, false, NULL), 0);
	put_and_get(s, 4);
	assert_int_equal(b3cas_store_close(s), 0);
	store_id_of(id, f->store, "b3cas.conf");
	store_id_of(mark, tier, "b3cas.owner");
	assert_int_equal(strlen(id), 32);
	assert_string_equal(mark, id);

	/* Made before ids too, pointed at the same folder by hand. */
	make_store(second, NULL);
	{
		char conf[PATH_LEN], text[4096];

		snprintf(text, sizeof(text),
			 "format_version = 1\nhash = blake3\n"
			 "inline_threshold = 65536\nobjects = %s\n", tier);
		path_join(conf, second, "b3cas.conf");
		assert_true(cu_write_file(conf, text));
	}
	assert_int_equal(open_store(&s, second, false, false, NULL),
			 B3CAS_EFORMAT);
	assert_non_null(strstr(b3cas_error_last(), id));
	store_id_of(mark, second, "b3cas.conf");
	assert_string_equal(mark, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_links_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmp_cleared_by_pattern,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_refuses_foreign,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_init_completes_interrupted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_objects_dir_one_owner,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_open_refuses_foreign_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_old_store, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
