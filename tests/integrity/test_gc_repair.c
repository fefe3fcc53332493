/*
 * test_gc_repair.c - GC and fsck --repair agree about what was deleted
 * (issue 13, item 5): an object whose last reference was removed stays
 * deleted whatever fails afterwards.
 *
 *  - GC whose unlink fails (the test fault plan: EIO on the first unlink)
 *    collects the other candidates, returns the error naming the file, and
 *    leaves the failed one a GC candidate with its file; fsck finds
 *    nothing, fsck --repair brings nothing back, the next GC removes it.
 *  - A collection cut short after the unlink (a candidate whose file is
 *    gone) is no damage: fsck finds nothing, GC finishes it.
 *  - An orphan file that GC (or a crash) left with no entry is re-indexed
 *    by fsck --repair as a GC candidate, never with a reference, and the
 *    next GC removes it; a put of its bytes revives it instead.
 *  - An orphan whose reference count (2 or more) survived in the index
 *    keeps that count: only a live object has one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "test_util.h"

#define THRESHOLD 1024
#define LEN 5000

static char root[256], store_dir[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "gc-repair");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

static b3cas_store *open_new(const char *name)
{
	b3cas_store_options o = tu_store_options(true, THRESHOLD);

	o.l1_bytes = B3CAS_L1_BYTES_DEFAULT; /* as a store is opened */
	snprintf(store_dir, sizeof(store_dir), "%s/%s", root, name);
	return tu_open_store(store_dir, &o);
}

static void tier_path(char *out, size_t n, const b3cas_oid *id)
{
	tu_object_file(out, n, store_dir, "objects", id);
}

static bool has_file(const b3cas_oid *id)
{
	char path[512];
	struct stat st;

	tier_path(path, sizeof(path), id);
	return stat(path, &st) == 0;
}

/* refcount: the count, or -1 when there is no trace of id. */
static int64_t count_of(b3cas_store *s, const b3cas_oid *id)
{
	uint64_t c = 0;
	int rc = b3cas_refcount(s, id, &c);

	if (rc == B3CAS_ENOTFOUND)
		return -1;
	assert_int_equal(rc, 0);
	return (int64_t)c;
}

static void put_loose(b3cas_store *s, b3cas_oid *id, uint8_t *buf,
		      uint64_t *rng)
{
	tu_fill_random(buf, LEN, rng);
	assert_int_equal(b3cas_store_put(s, id, buf, LEN), 0);
}

/* A check and a repair that must both find nothing. */
static void expect_clean(b3cas_store *s)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;

	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.reindexed, 0);
}

static void test_failed_unlink(void **state)
{
	uint64_t rng = tu_seed("failed_unlink");
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_fault_plan plan;
	b3cas_gc_report gr;
	b3cas_oid id[2];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	uint8_t buf[2][LEN];
	char msg[1024];
	b3cas_store *s;
	int failed, other, rc;

	(void)state;
	s = open_new("unlink");
	put_loose(s, &id[0], buf[0], &rng);
	put_loose(s, &id[1], buf[1], &rng);
	assert_int_equal(b3cas_store_delete(s, &id[0]), 0);
	assert_int_equal(b3cas_store_delete(s, &id[1]), 0);

	/* The first unlink (the lower id: GC walks in id order) fails. */
	memset(&plan, 0, sizeof(plan));
	plan.fail_at = 1;
	plan.ops = B3CAS_FAULT_UNLINK;
	plan.err = EIO;
	failed = memcmp(id[0].bytes, id[1].bytes, B3CAS_OID_LEN) < 0 ? 0 : 1;
	other = 1 - failed;
	b3cas__store_layout(s)->faults = &plan;
	go.grace_ns = 0;
	rc = b3cas_gc(s, &go, &gr);
	b3cas__store_layout(s)->faults = NULL;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	assert_int_equal(plan.fired, 1);
	assert_int_equal(rc, B3CAS_EIO);

	/* Neither fsck nor its repair brings the failed one back. */
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.reindexed, 0);
	assert_int_equal(b3cas_store_exists(s, &id[failed]), 0);
	assert_true(count_of(s, &id[failed]) <= 0);
	assert_int_equal(r.problems, 0);

	/* It is still a candidate with its file: deleted, to be collected. */
	assert_int_equal(count_of(s, &id[failed]), 0);
	assert_true(has_file(&id[failed]));
	/* The other candidate was collected all the same. */
	assert_int_equal(gr.objects, 1);
	assert_int_equal(count_of(s, &id[other]), -1);
	assert_false(has_file(&id[other]));
	/* The error says what stays and names the file. */
	assert_non_null(strstr(msg, "stays a GC candidate"));
	assert_non_null(strstr(msg, "cannot remove"));
	expect_clean(s);

	/* Reopened (nothing in memory), the same. */
	assert_int_equal(b3cas_store_close(s), 0);
	s = open_new("unlink");
	expect_clean(s);
	assert_int_equal(count_of(s, &id[failed]), 0);

	/* The next GC removes it for good. */
	assert_int_equal(b3cas_gc(s, &go, &gr), 0);
	assert_int_equal(gr.objects, 1);
	assert_int_equal(count_of(s, &id[failed]), -1);
	assert_false(has_file(&id[failed]));
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_cut_short_after_unlink(void **state)
{
	uint64_t rng = tu_seed("cut_short_after_unlink");
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report gr;
	uint8_t buf[LEN];
	char path[512];
	b3cas_oid id;
	b3cas_store *s;

	(void)state;
	s = open_new("cut");
	put_loose(s, &id, buf, &rng);
	assert_int_equal(b3cas_store_delete(s, &id), 0);
	/* What a GC stopped between its unlink and its index write
	 * leaves. */
	tier_path(path, sizeof(path), &id);
	assert_int_equal(unlink(path), 0);
	expect_clean(s);
	assert_int_equal(count_of(s, &id), 0);
	go.grace_ns = 0;
	assert_int_equal(b3cas_gc(s, &go, &gr), 0);
	assert_int_equal(gr.objects, 1);
	assert_int_equal(count_of(s, &id), -1);
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0444);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void test_orphan_is_candidate(void **state)
{
	uint64_t rng = tu_seed("orphan_is_candidate");
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_gc_report gr;
	uint8_t buf[2][LEN];
	char path[512];
	b3cas_oid id[2];
	b3cas_store *s;

	(void)state;
	s = open_new("orphan");
	/* Deleted and collected; then its file is back with no entry, as
	 * an unlink that did not reach the disk before a power loss, or
	 * the old GC's failed unlink, left it. */
	for (int i = 0; i < 2; i++) {
		put_loose(s, &id[i], buf[i], &rng);
		assert_int_equal(b3cas_store_delete(s, &id[i]), 0);
	}
	go.grace_ns = 0;
	assert_int_equal(b3cas_gc(s, &go, &gr), 0);
	assert_int_equal(gr.objects, 2);
	for (int i = 0; i < 2; i++) {
		tier_path(path, sizeof(path), &id[i]);
		write_file(path, buf[i], LEN);
	}

	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.orphans, 2);
	assert_int_equal(r.reindexed, 2);
	for (int i = 0; i < 2; i++) {
		/* Kept, but with no reference: still deleted. */
		assert_int_equal(count_of(s, &id[i]), 0);
		assert_int_equal(b3cas_store_exists(s, &id[i]), 0);
		assert_true(has_file(&id[i]));
	}
	expect_clean(s);
	/* A put revives one (it is new to the caller: no reference). */
	assert_int_equal(b3cas_store_put(s, NULL, buf[1], LEN), 0);
	assert_int_equal(count_of(s, &id[1]), 1);
	/* GC removes the other. */
	assert_int_equal(b3cas_gc(s, &go, &gr), 0);
	assert_int_equal(gr.objects, 1);
	assert_int_equal(count_of(s, &id[0]), -1);
	assert_false(has_file(&id[0]));
	assert_int_equal(count_of(s, &id[1]), 1);
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_orphan_keeps_its_count(void **state)
{
	uint64_t rng = tu_seed("orphan_keeps_its_count");
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	rocksdb_writebatch_t *b;
	uint8_t buf[LEN];
	b3cas_oid id;
	b3cas_store *s;
	void *got;
	size_t len;

	(void)state;
	s = open_new("count");
	put_loose(s, &id, buf, &rng);
	assert_int_equal(b3cas_ref_add(s, &id), 2);
	assert_int_equal(b3cas_ref_add(s, &id), 3);
	/* The index loses the content entry but keeps the count. */
	b = rocksdb_writebatch_create();
	rocksdb_writebatch_delete_cf(b, b3cas__store_index(s)->cf[B3CAS_CF_CONTENT],
				     (const char *)id.bytes, B3CAS_OID_LEN);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
	assert_int_equal(b3cas_store_close(s), 0);
	s = open_new("count");

	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.orphans, 1);
	assert_int_equal(r.reindexed, 1);
	assert_int_equal(r.dangling_refs, 0); /* the count is its own */
	assert_int_equal(count_of(s, &id), 3);
	assert_int_equal(b3cas_store_get(s, &id, &got, &len), 0);
	assert_int_equal(len, LEN);
	assert_memory_equal(got, buf, LEN);
	b3cas_free(got);
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_unlink),
		cmocka_unit_test(test_cut_short_after_unlink),
		cmocka_unit_test(test_orphan_is_candidate),
		cmocka_unit_test(test_orphan_keeps_its_count),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
