/*
 * test_quarantine.c - verify on read: a loose object whose file no longer
 * matches its id is never returned (get, view, batch, streaming reader;
 * a reader that checks at its final read fails that read),
 * its file is moved to integrity/quarantine/ with the damaged bytes kept,
 * the event is counted, and a read-only handle only counts it; with a
 * mirror store the read is healed from it and the file written back.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define THRESHOLD 1024
#define LEN 5000

static char root[256], store_dir[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "quarantine");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

static b3cas_store *open_store(bool create, bool read_only)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.read_only = read_only;
	return tu_open_store(store_dir, &o);
}

static void object_path(char *out, size_t n, const b3cas_oid *id)
{
	tu_object_file(out, n, store_dir, "objects", id);
}

/* Flip one bit of the object's file (how 0) or cut its last byte (1). */
static void damage(const b3cas_oid *id, int how)
{
	char path[512];
	uint8_t b;
	int fd;

	object_path(path, sizeof(path), id);
	assert_int_equal(chmod(path, 0644), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	if (how == 0) {
		assert_int_equal(pread(fd, &b, 1, 1234), 1);
		b ^= 0x01;
		assert_int_equal(pwrite(fd, &b, 1, 1234), 1);
	} else {
		assert_int_equal(ftruncate(fd, LEN - 1), 0);
	}
	close(fd);
}

/* The files in integrity/quarantine/ named after id. */
static int quarantined_copies(const b3cas_oid *id, uint8_t *first_bytes,
			      size_t *first_len)
{
	char dir[400], hex[B3CAS_OID_HEX_LEN + 1];
	struct dirent *e;
	DIR *d;
	int n = 0;

	b3cas_oid_fmt(hex, id);
	snprintf(dir, sizeof(dir), "%s/integrity/quarantine", store_dir);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, hex, B3CAS_OID_HEX_LEN) != 0 ||
		    e->d_name[B3CAS_OID_HEX_LEN] != '.')
			continue;
		if (n++ == 0 && first_bytes) {
			char path[700];
			int fd;

			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			fd = open(path, O_RDONLY);
			assert_true(fd >= 0);
			*first_len = (size_t)read(fd, first_bytes, LEN + 16);
			close(fd);
		}
	}
	closedir(d);
	return n;
}

/* Open id with B3CAS_READER_CHECK_AT_END and read it to its end: 0, or
 * the first error. */
static int read_late(b3cas_store *s, const b3cas_oid *id)
{
	uint8_t buf[1000];
	b3cas_reader *r;
	int64_t n;
	int rc = b3cas_reader_open_flags(&r, s, id, B3CAS_READER_CHECK_AT_END);

	if (rc < 0)
		return rc;
	while ((n = b3cas_reader_read(r, buf, sizeof(buf))) > 0)
		;
	b3cas_reader_close(r);
	return (int)n;
}

#define READ_PATHS 7

/* Read id through one of the READ_PATHS read paths. */
static int read_by(b3cas_store *s, const b3cas_oid *id, int path)
{
	void *data = NULL, *out[1];
	size_t len, lens[1];
	b3cas_blob *v;
	b3cas_reader *r;
	int rc, rcs[1];

	switch (path) {
	case 0:
		rc = b3cas_store_get(s, id, &data, &len);
		b3cas_free(rc == 0 ? data : NULL);
		return rc;
	case 1:
		rc = b3cas_store_get_view(s, id, &v);
		b3cas_blob_release(rc == 0 ? v : NULL);
		return rc;
	case 2:
		rc = b3cas_store_get_batch(s, id, 1, out, lens, rcs);
		assert_int_equal(rc, rcs[0]);
		b3cas_free(out[0]);
		return rc;
	case 3:
		rc = b3cas_reader_open(&r, s, id);
		if (rc == 0)
			b3cas_reader_close(r);
		return rc;
	case 4:
		return read_late(s, id);
	default: { /* read_at: the whole (straight into buf), or a part */
		uint8_t *buf = malloc(LEN + 1);
		size_t n = 1;

		assert_non_null(buf);
		rc = path == 5 ? b3cas_store_read_at(s, id, 0, buf, LEN + 1, &n)
			       : b3cas_store_read_at(s, id, 100, buf, 50, &n);
		if (rc == 0)
			assert_int_equal(n, path == 5 ? LEN : 50);
		else
			assert_int_equal(n, 0);
		free(buf);
		return rc;
	}
	}
}

static void test_corrupt_loose_quarantined(void **state)
{
	uint64_t rng = tu_seed("corrupt_loose_quarantined");
	uint8_t data[READ_PATHS][LEN], seen[LEN + 16];
	b3cas_oid ids[READ_PATHS];
	b3cas_stats st;
	b3cas_store *s;

	(void)state;
	s = open_store(true, false);
	for (int p = 0; p < READ_PATHS; p++) {
		tu_fill_random(data[p], LEN, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[p], data[p], LEN), 0);
	}
	for (int p = 0; p < READ_PATHS; p++) {
		char path[512];
		size_t seen_len = 0;
		struct stat sb;
		/* a bit flipped, or the file cut short; read_at's whole read
		 * gets the flip, which only the hash finds */
		int cut = p == 5 ? 0 : p == 6 ? 1 : p % 2;

		assert_int_equal(read_by(s, &ids[p], p), 0);
		damage(&ids[p], cut);
		assert_int_equal(read_by(s, &ids[p], p), B3CAS_ECORRUPT);
		assert_non_null(strstr(b3cas_error_last(), "quarantine"));
		object_path(path, sizeof(path), &ids[p]);
		assert_int_equal(stat(path, &sb), -1); /* moved out */
		assert_int_equal(quarantined_copies(&ids[p], seen, &seen_len),
				 1);
		/* The damaged bytes are kept as they were found. */
		assert_int_equal(seen_len, cut ? LEN - 1 : LEN);
		assert_memory_equal(seen, data[p], 1234);
		if (!cut) /* the flipped bit is there */
			assert_int_equal(seen[1234], data[p][1234] ^ 0x01);
		else /* cut short, the rest as it was */
			assert_memory_equal(seen, data[p], LEN - 1);
		/* Lost now, and said so, until repaired. */
		assert_int_equal(read_by(s, &ids[p], p), B3CAS_ECORRUPT);
	}
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.quarantined, READ_PATHS);
	/* the second reads too */
	assert_int_equal(st.corrupt_reads, 2 * READ_PATHS);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_read_only_only_counts(void **state)
{
	uint64_t rng = tu_seed("read_only_only_counts");
	uint8_t data[LEN];
	b3cas_stats st;
	b3cas_store *s;
	b3cas_oid id;
	char path[512];
	struct stat sb;

	(void)state;
	tu_fill_random(data, LEN, &rng);
	s = open_store(true, false);
	assert_int_equal(b3cas_store_put(s, &id, data, LEN), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	damage(&id, 0);
	s = open_store(false, true);
	assert_int_equal(read_by(s, &id, 0), B3CAS_ECORRUPT);
	object_path(path, sizeof(path), &id);
	assert_int_equal(stat(path, &sb), 0); /* left where it is */
	assert_int_equal(quarantined_copies(&id, NULL, NULL), 0);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.corrupt_reads, 1);
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_sound_file_never_moved(void **state)
{
	uint64_t rng = tu_seed("sound_file_never_moved");
	uint8_t data[LEN];
	b3cas_stats st;
	b3cas_store *s;
	b3cas_oid id;

	(void)state;
	tu_fill_random(data, LEN, &rng);
	s = open_store(true, false);
	assert_int_equal(b3cas_store_put(s, &id, data, LEN), 0);
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < 25; i++)
			assert_int_equal(read_by(s, &id, p), 0);
	assert_int_equal(quarantined_copies(&id, NULL, NULL), 0);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.corrupt_reads, 0);
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* Make a store at dir holding n contents (mirror of the main store). */
static void make_mirror(const char *dir, uint8_t (*data)[LEN], int n)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *m;
	b3cas_oid id;

	o.create = true;
	assert_int_equal(b3cas_store_open(&m, dir, &o), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(b3cas_store_put(m, &id, data[i], LEN), 0);
	assert_int_equal(b3cas_store_close(m), 0);
}

static b3cas_store *open_with_mirror(const char *mirror, bool read_only)
{
	b3cas_store_options o = tu_store_options(false, 0);

	o.read_only = read_only;
	o.mirror_dir = mirror;
	return tu_open_store(store_dir, &o);
}

/* Read id through path p and expect exactly want. */
static void expect_read(b3cas_store *s, const b3cas_oid *id, int p,
			const uint8_t *want)
{
	void *data = NULL, *out[1];
	size_t len = 0, lens[1];
	b3cas_blob *v;
	int rcs[1];

	if (p == 0) {
		if (b3cas_store_get(s, id, &data, &len) != 0)
			fail_msg("get: %s", b3cas_error_last());
		assert_int_equal(len, LEN);
		assert_memory_equal(data, want, LEN);
		b3cas_free(data);
	} else if (p == 1) {
		if (b3cas_store_get_view(s, id, &v) != 0)
			fail_msg("view: %s", b3cas_error_last());
		assert_int_equal(b3cas_blob_size(v), LEN);
		assert_memory_equal(b3cas_blob_data(v), want, LEN);
		b3cas_blob_release(v);
	} else {
		if (b3cas_store_get_batch(s, id, 1, out, lens, rcs) != 0)
			fail_msg("batch: %s", b3cas_error_last());
		assert_int_equal(lens[0], LEN);
		assert_memory_equal(out[0], want, LEN);
		b3cas_free(out[0]);
	}
}

static void test_mirror_heals(void **state)
{
	uint64_t rng = tu_seed("mirror_heals");
	uint8_t data[4][LEN];
	char mirror[320], path[512];
	b3cas_oid ids[4];
	b3cas_stats st;
	b3cas_store *s;
	struct stat sb;

	(void)state;
	snprintf(mirror, sizeof(mirror), "%s/mirror", root);
	s = open_store(true, false);
	for (int i = 0; i < 4; i++) {
		tu_fill_random(data[i], LEN, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i], LEN), 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	make_mirror(mirror, data, 3); /* the fourth is not in the mirror */

	s = open_with_mirror(mirror, false);
	for (int p = 0; p < 3; p++) {
		damage(&ids[p], p % 2);
		expect_read(s, &ids[p], p, data[p]); /* healed, not an error */
		assert_int_equal(quarantined_copies(&ids[p], NULL, NULL), 1);
		/* Written back: the file is sound again. */
		object_path(path, sizeof(path), &ids[p]);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_size, LEN);
		expect_read(s, &ids[p], p, data[p]);
	}
	/* The streaming reader heals too. */
	damage(&ids[0], 0);
	{
		b3cas_reader *rd;
		uint8_t *back = malloc(LEN);
		int64_t got = 0, n;

		if (b3cas_reader_open(&rd, s, &ids[0]) != 0)
			fail_msg("reader: %s", b3cas_error_last());
		assert_int_equal(b3cas_reader_size(rd), LEN);
		while ((n = b3cas_reader_read(rd, back + got, 777)) > 0)
			got += n;
		assert_int_equal(n, 0);
		assert_int_equal(got, LEN);
		assert_memory_equal(back, data[0], LEN);
		b3cas_reader_close(rd);
		free(back);
	}
	/* So does a whole read_at, straight into the caller's buffer. */
	damage(&ids[1], 0);
	{
		uint8_t *back = calloc(1, LEN + 1);
		size_t n = 0;

		assert_non_null(back);
		if (b3cas_store_read_at(s, &ids[1], 0, back, LEN + 1, &n) != 0)
			fail_msg("read_at: %s", b3cas_error_last());
		assert_int_equal(n, LEN);
		assert_memory_equal(back, data[1], LEN);
		free(back);
	}
	damage(&ids[3], 0);
	assert_int_equal(read_by(s, &ids[3], 0), B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "mirror"));
	assert_int_equal(read_by(s, &ids[3], 3), B3CAS_ECORRUPT);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.corrupt_reads, 7);
	assert_int_equal(st.quarantined, 6);
	assert_int_equal(st.healed, 5);
	assert_int_equal(b3cas_store_close(s), 0);

	/* A read-only handle heals the read but leaves the file alone. */
	damage(&ids[0], 0);
	s = open_with_mirror(mirror, true);
	expect_read(s, &ids[0], 0, data[0]);
	/* the two from the writable handle; none from this one */
	assert_int_equal(quarantined_copies(&ids[0], NULL, NULL), 2);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.healed, 1);
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corrupt_loose_quarantined,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_only_counts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_sound_file_never_moved,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mirror_heals, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
