/*
 * test_backup.c - b3cas_backup: a full copy, then nothing on a second run,
 * then only what is new; an object that cannot be read is reported and
 * skipped while the rest is copied; the backup then heals the damaged
 * store as its mirror; every run is logged.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define THRESHOLD 1024
#define N 12

static char root[256], store_dir[300], backup_dir[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "backup");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

static b3cas_store *open_at(const char *dir, bool create, const char *mirror)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.mirror_dir = mirror;
	return tu_open_store(dir, &o);
}

static size_t size_of(int i)
{
	/* inline, loose, and one of 3 MiB (several copy chunks) */
	if (i == 0)
		return 0;
	if (i == 1)
		return (3u << 20) + 17;
	return i % 2 ? 500 + (size_t)i : 9000 * (size_t)i;
}

static int failures_seen;
static b3cas_oid failed_id;

static int on_failure(const b3cas_oid *id, int err, void *ctx)
{
	(void)ctx;
	assert_int_equal(err, B3CAS_ECORRUPT);
	failures_seen++;
	failed_id = *id;
	return 0;
}

static void expect_in(const char *dir, const b3cas_oid *id,
		      const uint8_t *data, size_t len)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	void *got;
	size_t got_len;

	o.read_only = true;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	if (b3cas_store_get(s, id, &got, &got_len) != 0)
		fail_msg("get from %s: %s", dir, b3cas_error_last());
	assert_int_equal(got_len, len);
	if (len)
		assert_memory_equal(got, data, len);
	b3cas_free(got);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_backup_incremental_and_heal(void **state)
{
	uint64_t rng = tu_seed("backup_incremental_and_heal");
	uint8_t *data[N + 2];
	b3cas_oid ids[N + 2];
	b3cas_backup_report r;
	b3cas_store *s;
	char path[600];
	struct stat st;
	int lines = 0;
	FILE *log;

	(void)state;
	s = open_at(store_dir, true, NULL);
	for (int i = 0; i < N + 2; i++) {
		data[i] = tu_random_block(size_of(i), &rng);
		if (i < N)
			assert_int_equal(b3cas_store_put(s, &ids[i], data[i],
							 size_of(i)), 0);
	}
	/* Full, then nothing new. */
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, &r), 0);
	assert_int_equal(r.objects, N);
	assert_int_equal(r.copied, N);
	assert_int_equal(r.failed, 0);
	{
		uint64_t total = 0;

		for (int i = 0; i < N; i++)
			total += size_of(i);
		assert_int_equal(r.bytes, total);
	}
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, &r), 0);
	assert_int_equal(r.copied, 0);
	assert_int_equal(r.bytes, 0);
	/* Two new, one deleted: only the new are copied. */
	for (int i = N; i < N + 2; i++)
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i],
						 size_of(i)), 0);
	assert_int_equal(b3cas_store_delete(s, &ids[2]), 0);
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, &r), 0);
	assert_int_equal(r.objects, N + 1);
	assert_int_equal(r.copied, 2);
	for (int i = 0; i < N + 2; i++)
		expect_in(backup_dir, &ids[i], data[i], size_of(i));

	/* A damaged object is reported and skipped, the rest copied. */
	assert_int_equal(b3cas_store_put(s, &ids[2], data[2], size_of(2)), 0);
	/* 36,000 bytes: loose */
	tu_object_file(path, sizeof(path), store_dir, "objects", &ids[4]);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(truncate(path, 100), 0);
	{
		b3cas_backup_options bo = B3CAS_BACKUP_OPTIONS_INIT;
		char other[400];

		bo.on_failure = on_failure;
		snprintf(other, sizeof(other), "%s/other", root);
		assert_int_equal(b3cas_backup(s, other, &bo, &r), 0);
		assert_int_equal(r.failed, 1);
		assert_int_equal(failures_seen, 1);
		assert_true(b3cas_oid_equal(&failed_id, &ids[4]));
		assert_int_equal(r.copied, N + 1);
	}
	assert_int_equal(b3cas_store_close(s), 0);

	/* The first backup heals the store as its mirror. */
	s = open_at(store_dir, false, backup_dir);
	{
		void *got;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[4], &got, &len), 0);
		assert_int_equal(len, size_of(4));
		assert_memory_equal(got, data[4], len);
		b3cas_free(got);
	}
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)size_of(4)); /* written back */
	assert_int_equal(b3cas_store_close(s), 0);

	snprintf(path, sizeof(path), "%s/integrity/backup/log", store_dir);
	log = fopen(path, "r");
	assert_non_null(log);
	for (int ch; (ch = fgetc(log)) != EOF;)
		lines += ch == '\n';
	fclose(log);
	assert_int_equal(lines, 4);
	for (int i = 0; i < N + 2; i++)
		free(data[i]);
}

static uint64_t count_in(const char *dir, const b3cas_oid *id)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	uint64_t c = 0;
	int rc;

	o.read_only = true; /* the threshold each store was made with */
	if (b3cas_store_open(&s, dir, &o) != 0)
		fail_msg("open %s: %s", dir, b3cas_error_last());
	rc = b3cas_refcount(s, id, &c);

	assert_int_equal(b3cas_store_close(s), 0);
	return rc == 0 ? c : 0;
}

/*
 * Reference counts travel with the objects: a first backup copies each
 * object's count, a later one sets the counts that changed (and only
 * those), an object deleted here keeps its count in the backup, and a
 * restore into an empty store brings the counts back. Catches a backup
 * that leaves one reference per object (then a restored object with five
 * users would be collected after one delete).
 */
static void test_backup_carries_counts(void **state)
{
	static const char inline_bytes[] = "counted inline";
	uint8_t *big = malloc(50000);
	b3cas_backup_report r;
	b3cas_restore_report rr;
	b3cas_oid a, b, c;
	char restored[400];
	b3cas_store *s;

	(void)state;
	assert_non_null(big);
	memset(big, 7, 50000);
	s = open_at(store_dir, true, NULL);
	for (int k = 0; k < 3; k++)
		assert_true(b3cas_store_put(s, &a, big, 50000) >= 0);
	assert_true(b3cas_store_put(s, &b, inline_bytes,
				    sizeof(inline_bytes)) >= 0);
	assert_true(b3cas_store_put(s, &c, big, 40000) >= 0);
	assert_true(b3cas_ref_add(s, &c) >= 0);
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, &r), 0);
	assert_int_equal(r.copied, 3);
	assert_int_equal(r.recounted, 0);
	assert_int_equal(count_in(backup_dir, &a), 3);
	assert_int_equal(count_in(backup_dir, &b), 1);
	assert_int_equal(count_in(backup_dir, &c), 2);

	/* a gains two references, c is deleted here, b is unchanged */
	assert_true(b3cas_ref_add(s, &a) >= 0);
	assert_true(b3cas_ref_add(s, &a) >= 0);
	assert_true(b3cas_store_delete(s, &c) >= 0);
	assert_true(b3cas_store_delete(s, &c) >= 0);
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, &r), 0);
	assert_int_equal(r.copied, 0);
	assert_int_equal(r.recounted, 1);
	assert_int_equal(count_in(backup_dir, &a), 5);
	assert_int_equal(count_in(backup_dir, &b), 1);
	assert_int_equal(count_in(backup_dir, &c), 2);
	assert_int_equal(b3cas_store_close(s), 0);

	snprintf(restored, sizeof(restored), "%s/restored", root);
	s = open_at(restored, true, NULL);
	assert_int_equal(b3cas_restore(s, backup_dir, NULL, &rr), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_int_equal(count_in(restored, &a), 5);
	assert_int_equal(count_in(restored, &b), 1);
	assert_int_equal(count_in(restored, &c), 2);
	free(big);
}

static void test_backup_refuses_other_hash(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s, *d;

	(void)state;
	o.create = true;
	o.hash = B3CAS_HASH_SHA256;
	assert_int_equal(b3cas_store_open(&d, backup_dir, &o), 0);
	assert_int_equal(b3cas_store_close(d), 0);
	s = open_at(store_dir, true, NULL);
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, NULL),
			 B3CAS_EFORMAT);
	assert_int_equal(b3cas_backup(s, "", NULL, NULL), B3CAS_EINVAL);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_backup_incremental_and_heal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_carries_counts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_refuses_other_hash,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
