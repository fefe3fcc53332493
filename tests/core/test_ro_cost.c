/*
 * test_ro_cost.c - what a read-only handle costs: the memory, descriptors
 * and threads of opening a store read-only, reading an inline and a loose
 * object, and closing it, as a short command (b3cas get, stat, ls) does.
 *
 * The store is made by a child process, so that this process has run no
 * RocksDB code before it measures (RocksDB's background threads belong to
 * the process, not to a handle). Bounds, and what they were measured at
 * (docs/store.md, "What a read-only handle costs"):
 *  - threads: RocksDB starts one flush and one compaction thread at every
 *    open, read-only or not; the store adds none for a short read (it
 *    added a third RocksDB thread, and the hash pool for a loose read);
 *  - descriptors: the store folder, the object folder and one per table
 *    file of the index (kept open so that a writer's compaction cannot
 *    take a table away mid-read), and nothing once closed;
 *  - anonymous memory (RssAnon) after open and two reads: at most 4 MiB
 *    (measured 0.8 MiB; 13.5 MiB before the memtable filters and the
 *    stripe locks were cut), 16 MiB under AddressSanitizer (measured
 *    3.4 MiB), whose shadow memory and quarantine count too.
 */
#include <dirent.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define INLINE_LEN 1000
#define LOOSE_LEN (100u * 1024u) /* loose, below the hash pool's 256 KiB */
#define FILLER 300

#if defined(__SANITIZE_ADDRESS__)
#define ANON_BOUND_KB (16u * 1024u)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ANON_BOUND_KB (16u * 1024u)
#endif
#endif
#ifndef ANON_BOUND_KB
#define ANON_BOUND_KB (4u * 1024u)
#endif

typedef struct cost {
	long anon_kb;
	int fds, threads;
} cost;

static long status_field(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = strlen(name);
	char line[256];
	long v = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = atol(line + n + 1);
	fclose(f);
	assert_true(v >= 0);
	return v;
}

/* Entries of folder path (not . and ..) whose names end with suffix. */
static int count_entries(const char *path, const char *suffix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), sl = strlen(suffix);

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n += len >= sl && strcmp(e->d_name + len - sl, suffix) == 0;
	}
	closedir(d);
	return n;
}

static cost measure(void)
{
	cost c;

	c.anon_kb = status_field("RssAnon");
	c.threads = (int)status_field("Threads");
	/* The folder's own descriptor is not counted. */
	c.fds = count_entries("/proc/self/fd", "") - 1;
	return c;
}

static void fill(uint8_t *buf, size_t len, uint8_t salt)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + salt + (i >> 8));
}

/* In a child: make the store with an inline, a loose and some filler
 * objects, over a few opens so that the index has several tables. */
static void make_store(const char *root, b3cas_oid *ids)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		static uint8_t buf[LOOSE_LEN];
		b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
		b3cas_store *s;
		int bad = 0;

		o.create = true;
		for (int round = 0; round < 3; round++) {
			bad |= b3cas_store_open(&s, root, &o) != 0;
			for (int i = 0; !bad && i < FILLER / 3; i++) {
				fill(buf, 200, (uint8_t)(round * 100 + i));
				buf[0] = (uint8_t)round;
				buf[1] = (uint8_t)i;
				bad |= b3cas_store_put(s, NULL, buf, 200) < 0;
			}
			bad |= b3cas_store_close(s) != 0;
		}
		bad |= b3cas_store_open(&s, root, &o) != 0;
		fill(buf, INLINE_LEN, 1);
		bad |= b3cas_store_put(s, &ids[0], buf, INLINE_LEN) < 0;
		fill(buf, LOOSE_LEN, 2);
		bad |= b3cas_store_put(s, &ids[1], buf, LOOSE_LEN) < 0;
		bad |= b3cas_store_close(s) != 0;
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The same ids, computed here without touching the store. */
	{
		static uint8_t buf[LOOSE_LEN];

		fill(buf, INLINE_LEN, 1);
		b3cas_hash(ids[0].bytes, buf, INLINE_LEN);
		fill(buf, LOOSE_LEN, 2);
		b3cas_hash(ids[1].bytes, buf, LOOSE_LEN);
	}
}

/* Read id through a reader (as b3cas get does) and check its length. */
static void read_object(b3cas_store *s, const b3cas_oid *id, size_t len,
			uint8_t *buf)
{
	b3cas_reader *r;
	int64_t n;

	assert_int_equal(b3cas_reader_open(&r, s, id), 0);
	n = b3cas_reader_read(r, buf, LOOSE_LEN + 1);
	assert_int_equal(n, (int64_t)len);
	b3cas_reader_close(r);
}

static void test_read_only_cost(void **state)
{
	static uint8_t buf[LOOSE_LEN + 1];
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char root[64], index[96];
	b3cas_oid ids[2];
	b3cas_store *s;
	cost before, opened, after;
	int tables;

	(void)state;
	tu_make_root(root, sizeof(root), "rocost");
	make_store(root, ids);
	snprintf(index, sizeof(index), "%s/index", root);
	tables = count_entries(index, ".sst");
	assert_true(tables >= 1);
	memset(buf, 0, sizeof(buf)); /* resident before the first measure */

	before = measure();
	o.read_only = true;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	read_object(s, &ids[0], INLINE_LEN, buf);
	read_object(s, &ids[1], LOOSE_LEN, buf);
	opened = measure();
	b3cas_store_close(s);
	after = measure();

	fprintf(stderr, "read-only open + 2 reads: +%ld KiB anonymous "
		"memory (bound %u), +%d descriptors with %d table files, "
		"+%d threads; after close +%d descriptors\n",
		opened.anon_kb - before.anon_kb, ANON_BOUND_KB,
		opened.fds - before.fds, tables,
		opened.threads - before.threads, after.fds - before.fds);
	assert_true(opened.threads - before.threads <= 2);
	assert_true(opened.fds - before.fds <= 2 + tables);
	assert_int_equal(after.fds, before.fds);
	assert_true(opened.anon_kb - before.anon_kb <= (long)ANON_BOUND_KB);
	tu_remove_root(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_only_cost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
