/*
 * test_fsck_l2.c - test_fsck's case for the L2 cache copies: bad copies
 * are reported without repair, then deleted through the cache with it;
 * sound ones are left untouched (same inode, size and bytes).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "test_fsck_int.h"
#include "test_util.h"

static void copy_path(char *out, size_t n, const char *dir,
		      const b3cas_oid *id)
{
	tu_object_file(out, n, dir, "cache/l2", id);
}

/* Files in cache/l2/00..ff. */
static uint64_t count_copies(const char *dir)
{
	uint64_t n = 0;

	for (int sub = 0; sub < 256; sub++) {
		char path[400];
		struct dirent *e;
		DIR *d;

		snprintf(path, sizeof(path), "%s/cache/l2/%02x", dir, sub);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

static b3cas_store *open_l2(const char *dir, bool create)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.l2_bytes = 64u << 20;
	return tu_open_store(dir, &o);
}

/* What a file is: its inode, size and bytes, to show it untouched. */
typedef struct file_state {
	ino_t ino;
	off_t size;
	uint8_t bytes[8000];
} file_state;

static void file_state_get(file_state *out, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size <= (off_t)sizeof(out->bytes));
	memset(out, 0, sizeof(*out));
	out->ino = st.st_ino;
	out->size = st.st_size;
	assert_int_equal(read(fd, out->bytes, sizeof(out->bytes)),
			 (ssize_t)st.st_size);
	close(fd);
}

static void expect_untouched(const file_state *was, const char *path)
{
	file_state now;

	file_state_get(&now, path);
	assert_int_equal(now.ino, was->ino);
	assert_int_equal(now.size, was->size);
	assert_memory_equal(now.bytes, was->bytes, sizeof(now.bytes));
}

/*
 * L2 copies of 12 loose objects, then: copy 0 bit-flipped, copy 1
 * truncated, a copy of an object whose entry is gone (X), a file that is
 * not named by an id, a sound copy of an id never stored placed after the
 * open (so no L2 entry names it). fsck without repair (on 2 threads)
 * reports exactly those 5 and changes no file; with repair it deletes
 * them, the sound copies stay as they were (same inode, same bytes), and
 * L2's entries equal the files in the folder. A read-only handle (no L2
 * of its own) reports a bad copy and leaves it. Catches (each tried):
 * repair deleting files behind L2's back (b3cas__l2_discard unlinking
 * without erasing: 13 entries, 10 files), copies not hashed (bytes
 * hashed short), a repair that runs without repair (a file gone).
 */
void test_l2_copies(void **state)
{
	enum { N = 12, SIZE = 5000 };
	uint64_t rng = tu_seed("l2_copies");
	static uint8_t data[N + 1][SIZE];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_cache_stats cs;
	static file_state before[N + 3];
	char path[N + 3][400];
	b3cas_oid ids[N + 1], never;
	uint8_t flip;
	b3cas_store *s;
	seen w;

	(void)state;
	s = open_l2(store_dir, true);
	for (int i = 0; i <= N; i++) {
		void *got;
		size_t len;

		tu_fill_random(data[i], SIZE, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i], SIZE), 0);
		assert_int_equal(b3cas_store_get(s, &ids[i], &got, &len), 0);
		b3cas_free(got);
		copy_path(path[i], sizeof(path[i]), store_dir, &ids[i]);
		assert_int_equal(access(path[i], F_OK), 0);
	}
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N + 1);
	assert_int_equal(count_copies(store_dir), N + 1);
	assert_int_equal(b3cas_fsck(s, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.cache_files, N + 1);
	assert_int_equal(r.bytes, 2ull * (N + 1) * SIZE);

	/* The damage. */
	{
		int fd = open(path[0], O_RDWR);

		assert_int_equal(pread(fd, &flip, 1, 1234), 1);
		flip ^= 0x04;
		assert_int_equal(pwrite(fd, &flip, 1, 1234), 1);
		close(fd);
	}
	assert_int_equal(truncate(path[1], SIZE - 1), 0);
	{
		/* X = ids[N]: its entry and tier file gone, its copy left. */
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		char tier[400];

		b3cas__store_batch_remove(s, b, &ids[N]);
		assert_int_equal(b3cas__store_write_batch(s, b), 0);
		rocksdb_writebatch_destroy(b);
		tier_path(tier, sizeof(tier), &ids[N]);
		assert_int_equal(unlink(tier), 0);
	}
	snprintf(path[N + 1], sizeof(path[N + 1]), "%s/cache/l2/00/junk",
		 store_dir);
	write_file(path[N + 1], data[0], 10);
	tu_fill_random(data[N], SIZE, &rng);
	b3cas_hash(never.bytes, data[N], SIZE);
	copy_path(path[N + 2], sizeof(path[N + 2]), store_dir, &never);
	write_file(path[N + 2], data[N], SIZE);
	for (int i = 0; i < N + 3; i++)
		file_state_get(&before[i], path[i]);

	/* Reported, nothing changed. */
	memset(&w, 0, sizeof(w));
	fo.threads = 2;
	fo.on_problem = on_problem;
	fo.ctx = &w;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_files, N + 3);
	assert_int_equal(r.cache_copies, 5);
	assert_int_equal(r.problems, 5);
	assert_int_equal(w.by_kind[B3CAS_FSCK_CACHE_COPY], 5);
	for (int i = 0; i < N + 3; i++)
		expect_untouched(&before[i], path[i]);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N + 1);

	/* Repaired: the bad ones gone, through L2's index. */
	memset(&w, 0, sizeof(w));
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_copies, 5);
	assert_int_equal(r.problems, 5);
	assert_int_equal(r.lost, 0);
	assert_int_equal(access(path[0], F_OK), -1);
	assert_int_equal(access(path[1], F_OK), -1);
	for (int i = N; i < N + 3; i++)
		assert_int_equal(access(path[i], F_OK), -1);
	for (int i = 2; i < N; i++)
		expect_untouched(&before[i], path[i]);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N - 2);
	assert_int_equal(count_copies(store_dir), N - 2);
	fo.repair = false;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.cache_files, N - 2);
	/* Damaged copies are read from the tier again, and copied again. */
	for (int i = 0; i < 2; i++) {
		void *got;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[i], &got, &len), 0);
		assert_memory_equal(got, data[i], SIZE);
		b3cas_free(got);
	}
	assert_int_equal(b3cas_store_close(s), 0);

	/* Read-only: the writer's copies are judged and left alone. */
	assert_int_equal(truncate(path[2], 10), 0);
	file_state_get(&before[2], path[2]);
	{
		b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

		o.read_only = true;
		assert_int_equal(b3cas_store_open(&s, store_dir, &o), 0);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.cache_files, N);
	assert_int_equal(r.cache_copies, 1);
	assert_int_equal(w.by_kind[B3CAS_FSCK_CACHE_COPY], 1);
	expect_untouched(&before[2], path[2]);
	assert_int_equal(b3cas_store_close(s), 0);
}
