/*
 * test_store_cache.c - the store's caches seen through the public API, one
 * behaviour at a time: L2 copies that are damaged are never returned, L2
 * survives a restart, the object tier can live elsewhere and be moved,
 * views outlive deletes and the store, resizing at run time, and a
 * version 1 options struct still opens a store.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define THRESHOLD 1024 /* small, so loose objects are cheap to make */
#define LOOSE_LEN 20000

static char root[256], store_dir[300], tier[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "store-cache");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(tier, sizeof(tier), "%s/tier", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

static b3cas_store *open_store(bool create, const char *objects_dir,
			       uint64_t l1, uint64_t l2)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.objects_dir = objects_dir;
	o.l1_bytes = l1;
	o.l2_bytes = l2;
	return tu_open_store(store_dir, &o);
}

static void l2_copy_path(char *out, size_t n, const b3cas_oid *id)
{
	tu_object_file(out, n, store_dir, "cache/l2", id);
}

static void expect_get(b3cas_store *s, const b3cas_oid *id,
		       const uint8_t *want, size_t len)
{
	void *got = NULL;
	size_t got_len = 0;

	if (b3cas_store_get(s, id, &got, &got_len) != 0)
		fail_msg("get: %s", b3cas_error_last());
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	b3cas_free(got);
}

/* Damage the L2 copy with f, then read: the good bytes come back (from
 * the tier), the copy is counted corrupt and deleted. */
static void damage_and_read(b3cas_store *s, const b3cas_oid *id,
			    const uint8_t *data, int how)
{
	b3cas_cache_stats before, after;
	char path[512];
	struct stat st;
	int fd;

	l2_copy_path(path, sizeof(path), id);
	assert_int_equal(stat(path, &st), 0);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	if (how == 0) { /* flip one bit in the middle */
		uint8_t b;

		assert_int_equal(pread(fd, &b, 1, LOOSE_LEN / 2), 1);
		b ^= 0x10;
		assert_int_equal(pwrite(fd, &b, 1, LOOSE_LEN / 2), 1);
	} else if (how == 1) { /* truncate */
		assert_int_equal(ftruncate(fd, LOOSE_LEN - 1), 0);
	} else { /* zero it all, same length */
		uint8_t *z = calloc(1, LOOSE_LEN);

		assert_int_equal(pwrite(fd, z, LOOSE_LEN, 0), LOOSE_LEN);
		free(z);
	}
	close(fd);
	b3cas_cache_stats_get(s, &before);
	expect_get(s, id, data, LOOSE_LEN);
	b3cas_cache_stats_get(s, &after);
	assert_int_equal(after.l2.corrupt, before.l2.corrupt + 1);
	assert_int_equal(after.l2.hits, before.l2.hits + 1);
	/* The read from the tier wrote a good copy back. */
	expect_get(s, id, data, LOOSE_LEN);
	b3cas_cache_stats_get(s, &before);
	assert_int_equal(before.l2.corrupt, after.l2.corrupt);
}

static void test_l2_corrupt_never_served(void **state)
{
	uint64_t rng = tu_seed("l2_corrupt_never_served");
	uint8_t *data = malloc(LOOSE_LEN);
	b3cas_store *s;
	b3cas_oid id;
	char path[512];
	struct stat st;

	(void)state;
	tu_fill_random(data, LOOSE_LEN, &rng);
	s = open_store(true, tier, 0, 4u << 20); /* L1 off: reads reach L2 */
	assert_int_equal(b3cas_store_put(s, &id, data, LOOSE_LEN), 0);
	l2_copy_path(path, sizeof(path), &id);
	assert_int_equal(stat(path, &st), -1); /* a put makes no copy */
	expect_get(s, &id, data, LOOSE_LEN);  /* from the tier: copied */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, LOOSE_LEN);
	for (int how = 0; how < 3; how++)
		damage_and_read(s, &id, data, how);
	/* A view and the batch read take the same path. */
	{
		b3cas_blob *v;
		void *out[1];
		size_t lens[1];
		int rcs[1];

		damage_and_read(s, &id, data, 0);
		assert_int_equal(b3cas_store_get_view(s, &id, &v), 0);
		assert_memory_equal(b3cas_blob_data(v), data, LOOSE_LEN);
		b3cas_blob_release(v);
		assert_int_equal(b3cas_store_get_batch(s, &id, 1, out, lens,
						       rcs), 0);
		assert_memory_equal(out[0], data, LOOSE_LEN);
		b3cas_free(out[0]);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	free(data);
}

static void test_l2_survives_restart(void **state)
{
	uint64_t rng = tu_seed("l2_survives_restart");
	enum { N = 20 };
	uint8_t *data[N];
	b3cas_oid ids[N];
	b3cas_cache_stats cs;
	b3cas_store *s;

	(void)state;
	s = open_store(true, tier, 0, 4u << 20);
	for (int i = 0; i < N; i++) {
		data[i] = malloc(LOOSE_LEN);
		tu_fill_random(data[i], LOOSE_LEN, &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i],
						 LOOSE_LEN), 0);
		assert_int_equal(b3cas_cache_load(s, &ids[i]), 0);
	}
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N);
	assert_int_equal(cs.l2.bytes, (uint64_t)N * LOOSE_LEN);
	assert_int_equal(b3cas_store_close(s), 0);

	/* Reopened: the copies are listed, and reads hit them. */
	s = open_store(false, NULL, 0, 4u << 20);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, N);
	for (int i = 0; i < N; i++)
		expect_get(s, &ids[i], data[i], LOOSE_LEN);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.hits, N);
	assert_int_equal(cs.l2.misses, 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* Reopened smaller: trimmed to the capacity, files included. */
	s = open_store(false, NULL, 0, 5 * LOOSE_LEN);
	b3cas_cache_stats_get(s, &cs);
	assert_true(cs.l2.bytes <= 5 * LOOSE_LEN);
	{
		int files = 0;

		for (int i = 0; i < N; i++) {
			char path[512];
			struct stat st;

			l2_copy_path(path, sizeof(path), &ids[i]);
			files += stat(path, &st) == 0;
		}
		assert_int_equal(files, (int)cs.l2.entries);
	}
	/* Resized to 0 at run time: every copy goes at once. */
	assert_int_equal(b3cas_cache_resize(s, 0, 0), 0);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l2.entries, 0);
	for (int i = 0; i < N; i++) {
		char path[512];
		struct stat st;

		l2_copy_path(path, sizeof(path), &ids[i]);
		assert_int_equal(stat(path, &st), -1);
		expect_get(s, &ids[i], data[i], LOOSE_LEN);
		free(data[i]);
	}
	assert_int_equal(b3cas_store_close(s), 0);
}

static void test_tier_moved(void **state)
{
	uint64_t rng = tu_seed("tier_moved");
	uint8_t *data = malloc(LOOSE_LEN);
	char moved[320], cmd[800];
	b3cas_store_info info;
	b3cas_store *s;
	b3cas_oid id;

	(void)state;
	tu_fill_random(data, LOOSE_LEN, &rng);
	s = open_store(true, tier, 1u << 20, 0);
	b3cas_store_info_get(&info, s);
	assert_non_null(strstr(info.objects_dir, "/tier"));
	assert_int_equal(b3cas_store_put(s, &id, data, LOOSE_LEN), 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* Opened without the option: b3cas.conf says where the tier is. */
	s = open_store(false, NULL, 1u << 20, 0);
	expect_get(s, &id, data, LOOSE_LEN);
	assert_int_equal(b3cas_store_close(s), 0);

	/* The tier moved: the option overrides the record. */
	snprintf(moved, sizeof(moved), "%s/moved", root);
	snprintf(cmd, sizeof(cmd), "mv '%s' '%s'", tier, moved);
	assert_int_equal(system(cmd), 0);
	s = open_store(false, moved, 1u << 20, 0);
	expect_get(s, &id, data, LOOSE_LEN);
	assert_int_equal(b3cas_store_close(s), 0);
	free(data);
}

static void test_views_outlive(void **state)
{
	uint64_t rng = tu_seed("views_outlive");
	uint8_t data[700];
	b3cas_blob *v1, *v2, *v3;
	b3cas_cache_stats cs;
	b3cas_store *s;
	b3cas_oid id;
	uint64_t count;
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

	(void)state;
	tu_fill_random(data, sizeof(data), &rng);
	s = open_store(true, NULL, 1u << 20, 0);
	assert_int_equal(b3cas_store_put(s, &id, data, sizeof(data)), 0);
	assert_int_equal(b3cas_cache_lookup(s, &id, &v1), 0); /* a miss */
	assert_int_equal(b3cas_store_get_view(s, &id, &v1), 0); /* fills */
	assert_int_equal(b3cas_cache_lookup(s, &id, &v2), 1);
	assert_ptr_equal(b3cas_blob_data(v1), b3cas_blob_data(v2));
	assert_int_equal(b3cas_store_get_view(s, &id, &v3), 0);
	assert_ptr_equal(b3cas_blob_data(v1), b3cas_blob_data(v3)); /* zero-copy */
	b3cas_blob_release(v3);
	/* Deleted and collected: gone for readers, the views unchanged. */
	assert_int_equal(b3cas_store_delete(s, &id), 0);
	assert_int_equal(b3cas_cache_lookup(s, &id, &v3), 0);
	assert_int_equal(b3cas_store_get_view(s, &id, &v3), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_store_exists(s, &id), 0);
	go.normal_priority = true;
	assert_int_equal(b3cas_gc(s, &go, NULL), 0);
	assert_int_equal(b3cas_refcount(s, &id, &count), B3CAS_ENOTFOUND);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l1.entries, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* And after the store is closed. */
	assert_int_equal(b3cas_blob_size(v1), sizeof(data));
	assert_memory_equal(b3cas_blob_data(v1), data, sizeof(data));
	assert_memory_equal(b3cas_blob_data(v2), data, sizeof(data));
	b3cas_blob_release(v1);
	b3cas_blob_release(v2);
}

static void test_resize_and_version1(void **state)
{
	uint64_t rng = tu_seed("resize_and_version1");
	b3cas_store_options v1 = B3CAS_STORE_OPTIONS_INIT;
	b3cas_cache_stats cs;
	uint8_t data[64][900];
	b3cas_oid ids[64];
	b3cas_store *s;

	(void)state;
	/* A caller built against version 1 of the options: the cache
	 * fields are not there, the defaults apply. */
	v1.version = 1;
	v1.create = true;
	v1.inline_threshold = THRESHOLD;
	v1.l1_bytes = 12345; /* past the end of a version 1 struct */
	assert_int_equal(b3cas_store_open(&s, store_dir, &v1), 0);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l1.capacity, B3CAS_L1_BYTES_DEFAULT);
	assert_int_equal(cs.l2.capacity, 0);
	for (int i = 0; i < 64; i++) {
		tu_fill_random(data[i], sizeof(data[i]), &rng);
		assert_int_equal(b3cas_store_put(s, &ids[i], data[i],
						 sizeof(data[i])), 0);
		assert_int_equal(b3cas_cache_load(s, &ids[i]), 0);
	}
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l1.entries, 64);
	/* Shrink: evicted before the call returns; 0: off. */
	assert_int_equal(b3cas_cache_resize(s, 256 * 4096, 0), 0);
	b3cas_cache_stats_get(s, &cs);
	assert_true(cs.l1.bytes <= 256 * 4096);
	assert_int_equal(b3cas_cache_resize(s, 0, 0), 0);
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l1.entries, 0);
	assert_int_equal(cs.l1.bytes, 0);
	for (int i = 0; i < 64; i++)
		expect_get(s, &ids[i], data[i], sizeof(data[i]));
	b3cas_cache_stats_get(s, &cs);
	assert_int_equal(cs.l1.entries, 0); /* off stays off */
	assert_int_equal(b3cas_cache_evict(s, &ids[0]), 0);
	/* On again. */
	assert_int_equal(b3cas_cache_resize(s, 1u << 20, 0), 0);
	expect_get(s, &ids[0], data[0], sizeof(data[0]));
	assert_int_equal(b3cas_cache_evict(s, &ids[0]), 1);
	assert_int_equal(b3cas_store_close(s), 0);
	/* A version this library does not know is refused. */
	v1.version = 99;
	assert_int_equal(b3cas_store_open(&s, store_dir, &v1), B3CAS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_l2_corrupt_never_served,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_l2_survives_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tier_moved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_views_outlive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resize_and_version1,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
