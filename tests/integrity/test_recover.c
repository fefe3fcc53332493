/*
 * test_recover.c - b3cas_recover against a model: a store and an
 * independent backup holding the same objects (empty, inline, loose, one
 * of several MiB) with the same known reference counts, mostly not 1.
 *
 *  - index folder deleted, no backup: every sound loose object back with
 *    one reference, inline ones gone and the report saying so, a file
 *    whose bytes do not match its name quarantined and named lost;
 *  - the same with the backup, the object tier relocated by b3cas.conf:
 *    everything back byte-exact with the backup's counts;
 *  - a damaged MANIFEST: RocksDB refuses the index, its repair brings it
 *    back whole (inline objects and counts included), the damaged copy is
 *    kept as it was before the repair;
 *  - every table file truncated: the repair sets them aside, the object
 *    files and the backup bring everything back;
 *  - a healthy store: nothing changes, not even a folder;
 *  - an interrupted recovery: the store refuses to open until a second
 *    run finishes it;
 *  - what it refuses: not a store, a store open for writing, a backup
 *    that is not there (and then nothing is changed).
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
#define N 16

static char root[256], store_dir[300], backup_dir[300], tier_dir[300];
static uint8_t *data[N];
static size_t lens[N];
static b3cas_oid ids[N];
static uint64_t counts[N];
static int nloose;

static size_t size_of(int i)
{
	if (i == 0)
		return 0;                /* the empty object, inline */
	if (i == 1)
		return (3u << 20) + 5;   /* several chunks */
	return i % 2 ? 50 * (size_t)i : 1500 + 700 * (size_t)i;
}

static bool is_loose(int i)
{
	return size_of(i) > THRESHOLD;
}

static b3cas_store *open_at(const char *dir, bool create, const char *tier)
{
	b3cas_store_options o = tu_store_options(create, THRESHOLD);

	o.objects_dir = tier;
	return tu_open_store(dir, &o);
}

/* Put every object counts[i] times into the store at dir. */
static void fill(const char *dir, const char *tier)
{
	b3cas_store *s = open_at(dir, true, tier);

	for (int i = 0; i < N; i++)
		for (uint64_t k = 0; k < counts[i]; k++)
			assert_in_range(b3cas_store_put(s, &ids[i], data[i],
							lens[i]),
					0, 1);
	assert_int_equal(b3cas_store_close(s), 0);
}

static int setup(void **state)
{
	uint64_t rng = tu_seed("recover");

	(void)state;
	tu_make_root(root, sizeof(root), "recover");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", root);
	snprintf(tier_dir, sizeof(tier_dir), "%s/tier", root);
	nloose = 0;
	for (int i = 0; i < N; i++) {
		lens[i] = size_of(i);
		data[i] = tu_random_block(lens[i], &rng);
		counts[i] = 1 + (uint64_t)(i + 1) % 3;
		nloose += is_loose(i);
	}
	fill(backup_dir, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	for (int i = 0; i < N; i++)
		free(data[i]);
	return 0;
}

static void object_path(char *out, size_t n, const char *tier, int i)
{
	tu_object_file(out, n, tier, NULL, &ids[i]);
}

/* Flip one byte of loose object i's file. */
static void flip(const char *tier, int i)
{
	char path[600];

	object_path(path, sizeof(path), tier, i);
	tu_flip_file_byte(path, 9);
}

/* Object i reads back byte-exact with refs references. */
static void expect_object(b3cas_store *s, int i, uint64_t refs)
{
	tu_expect_object(s, &ids[i], data[i], lens[i], refs);
}

static void expect_sound(b3cas_store *s)
{
	b3cas_fsck_report fr;

	assert_int_equal(b3cas_fsck(s, NULL, &fr), 0);
	if (fr.problems)
		fail_msg("fsck found %llu problems after recovery",
			 (unsigned long long)fr.problems);
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool exists(const char *fmt, ...)
{
	char path[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return access(path, F_OK) == 0;
}

typedef struct lost_seen {
	int n;
	b3cas_oid ids[8];
	int stop_at; /* stop the recovery at this lost object (1-based) */
} lost_seen;

static int on_lost(const b3cas_oid *id, const char *why, void *ctx)
{
	lost_seen *l = ctx;

	assert_non_null(why);
	assert_true(strlen(why) > 10);
	if (l->n < 8)
		l->ids[l->n] = *id;
	l->n++;
	return l->n == l->stop_at ? 77 : 0;
}

static int open_status(const char *dir)
{
	b3cas_store *s;
	int rc = b3cas_store_open(&s, dir, NULL);

	if (rc == 0)
		b3cas_store_close(s);
	return rc;
}

/*
 * Catches: the object files not walked (nothing indexed), counts other
 * than 1 invented without a backup, a mismatching file indexed or not
 * quarantined or not named lost, inline loss not reported, a store that
 * still does not open, a marker left behind.
 */
static void test_recover_index_deleted(void **state)
{
	const int bad = 2;
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	lost_seen seen = {0};
	char objects[400];
	b3cas_store *s;

	(void)state;
	assert_true(is_loose(bad));
	fill(store_dir, NULL);
	snprintf(objects, sizeof(objects), "%s/objects", store_dir);
	flip(objects, bad);
	tu_run("rm -rf '%s/index'", store_dir);
	assert_int_equal(open_status(store_dir), B3CAS_ECORRUPT);

	o.on_lost = on_lost;
	o.ctx = &seen;
	assert_int_equal(b3cas_recover(store_dir, &o, &r), 0);
	assert_int_equal(r.action, B3CAS_RECOVER_REBUILT);
	assert_true(r.index_missing);
	assert_false(r.resumed);
	assert_false(r.from_backup);
	assert_int_equal(r.files, nloose);
	assert_int_equal(r.reindexed, nloose - 1);
	assert_int_equal(r.counts_from_backup + r.counts_kept, 0);
	assert_int_equal(r.quarantined, 1);
	assert_int_equal(r.restored, 0);
	assert_int_equal(r.lost, 1);
	assert_int_equal(seen.n, 1);
	assert_true(b3cas_oid_equal(&seen.ids[0], &ids[bad]));
	assert_true(r.index_entries_lost);
	assert_false(exists("%s/integrity/recover/rebuilding", store_dir));

	s = open_at(store_dir, false, NULL);
	for (int i = 0; i < N; i++) {
		if (is_loose(i) && i != bad)
			expect_object(s, i, 1);
		else
			assert_int_equal(b3cas_store_exists(s, &ids[i]), 0);
	}
	expect_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * The tier lives elsewhere (b3cas.conf's objects = PATH). Catches: the
 * default objects/ walked instead (nothing found), counts not taken from
 * the backup, inline objects or the quarantined one not copied in from
 * it, anything reported lost.
 */
static void test_recover_index_deleted_from_backup(void **state)
{
	const int bad = 4;
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	lost_seen seen = {0};
	b3cas_store *s;

	(void)state;
	assert_true(is_loose(bad));
	fill(store_dir, tier_dir);
	assert_false(exists("%s/objects/00", store_dir));
	flip(tier_dir, bad);
	tu_run("rm -rf '%s/index'", store_dir);

	o.backup_dir = backup_dir;
	o.on_lost = on_lost;
	o.ctx = &seen;
	assert_int_equal(b3cas_recover(store_dir, &o, &r), 0);
	assert_int_equal(r.action, B3CAS_RECOVER_REBUILT);
	assert_true(r.from_backup);
	assert_int_equal(r.reindexed, nloose - 1);
	assert_int_equal(r.counts_from_backup, nloose - 1);
	assert_int_equal(r.quarantined, 1);
	assert_int_equal(r.restored, N - nloose + 1);
	assert_int_equal(r.lost, 0);
	assert_int_equal(seen.n, 0);

	s = open_at(store_dir, false, NULL);
	for (int i = 0; i < N; i++)
		expect_object(s, i, counts[i]);
	expect_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* The name of the index's MANIFEST file in out. */
static void find_manifest(char *out, size_t n, const char *index)
{
	DIR *d = opendir(index);
	struct dirent *e;

	assert_non_null(d);
	out[0] = '\0';
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "MANIFEST-", 9) == 0)
			snprintf(out, n, "%s", e->d_name);
	closedir(d);
	assert_true(out[0] != '\0');
}

static void write_junk(const char *path, const uint8_t *junk, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, len, f), len);
	fclose(f);
}

/*
 * Catches: a repair path not taken (a rebuild loses the inline objects
 * and the counts, and says so in action), the copy taken after the repair
 * rewrote the index (the copy's MANIFEST would not be the junk), entries
 * the repair kept re-indexed or changed.
 */
static void test_recover_manifest_damaged(void **state)
{
	b3cas_recover_report r;
	char index[400], manifest[256], path[1200];
	uint8_t junk[300], *copy;
	uint64_t rng = 3;
	size_t len;
	b3cas_store *s;
	FILE *f;

	(void)state;
	fill(store_dir, NULL);
	snprintf(index, sizeof(index), "%s/index", store_dir);
	find_manifest(manifest, sizeof(manifest), index);
	tu_fill_random(junk, sizeof(junk), &rng);
	snprintf(path, sizeof(path), "%s/%s", index, manifest);
	write_junk(path, junk, sizeof(junk));
	/* RocksDB itself refuses it: this is the repair path's input. */
	assert_int_equal(open_status(store_dir), B3CAS_ECORRUPT);

	assert_int_equal(b3cas_recover(store_dir, NULL, &r), 0);
	assert_int_equal(r.action, B3CAS_RECOVER_REPAIRED);
	assert_false(r.index_missing);
	assert_non_null(strstr(r.index_error, "Corruption"));
	assert_int_equal(r.tables_lost, 0);
	assert_int_equal(r.entries_kept, N);
	assert_int_equal(r.files, nloose);
	assert_int_equal(r.reindexed, 0);
	assert_int_equal(r.lost, 0);
	assert_false(r.index_entries_lost);
	assert_true(strncmp(r.saved_index, "integrity/recover/index.", 24) ==
		    0);

	/* The copy is the index as it was, damage included. */
	snprintf(path, sizeof(path), "%s/%s/%s", store_dir, r.saved_index,
		 manifest);
	f = fopen(path, "rb");
	assert_non_null(f);
	copy = malloc(sizeof(junk) + 1);
	len = fread(copy, 1, sizeof(junk) + 1, f);
	fclose(f);
	assert_int_equal(len, sizeof(junk));
	assert_memory_equal(copy, junk, sizeof(junk));
	free(copy);

	s = open_at(store_dir, false, NULL);
	for (int i = 0; i < N; i++)
		expect_object(s, i, counts[i]);
	expect_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * Every table file cut short: RocksDB's repair sets them aside, so the
 * repaired index is empty. Catches: lost tables not reported, the object
 * files or the backup not used after a repair, counts not the backup's.
 */
static void test_recover_tables_truncated(void **state)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	b3cas_store *s;

	(void)state;
	fill(store_dir, NULL);
	tu_run("for f in '%s'/index/*.sst; do truncate -s 100 \"$f\"; done",
	    store_dir);
	assert_int_equal(open_status(store_dir), B3CAS_ECORRUPT);
	o.backup_dir = backup_dir;
	assert_int_equal(b3cas_recover(store_dir, &o, &r), 0);
	assert_int_equal(r.action, B3CAS_RECOVER_REPAIRED);
	assert_true(r.tables_lost >= 1);
	assert_true(r.index_entries_lost);
	assert_int_equal(r.entries_kept, 0);
	assert_int_equal(r.reindexed, nloose);
	assert_int_equal(r.counts_from_backup, nloose);
	assert_int_equal(r.restored, N - nloose);
	assert_int_equal(r.lost, 0);
	assert_true(exists("%s/index/lost", store_dir));

	s = open_at(store_dir, false, NULL);
	for (int i = 0; i < N; i++)
		expect_object(s, i, counts[i]);
	expect_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* What a store holds, for before/after comparisons. */
typedef struct listing {
	int n;
	b3cas_object_info info[N + 4];
} listing;

static int list_one(const b3cas_object_info *info, void *ctx)
{
	listing *l = ctx;

	assert_true(l->n < N + 4);
	l->info[l->n++] = *info;
	return 0;
}

static void list(listing *out, const char *tier)
{
	b3cas_store *s = open_at(store_dir, false, tier);

	memset(out, 0, sizeof(*out));
	assert_int_equal(b3cas_store_foreach(s, list_one, out), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * Catches: a recovery that rebuilds or repairs a sound index (counts and
 * inline objects would change, action would say so), or that leaves
 * anything behind in the store folder.
 */
static void test_recover_healthy(void **state)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	listing before, after;
	struct stat st_before[N], st;
	char path[600], objects[400];

	(void)state;
	fill(store_dir, NULL);
	snprintf(objects, sizeof(objects), "%s/objects", store_dir);
	list(&before, NULL);
	assert_int_equal(before.n, N);
	for (int i = 0; i < N; i++) {
		if (!is_loose(i))
			continue;
		object_path(path, sizeof(path), objects, i);
		assert_int_equal(stat(path, &st_before[i]), 0);
	}
	o.backup_dir = backup_dir;
	assert_int_equal(b3cas_recover(store_dir, &o, &r), 0);
	assert_int_equal(r.action, B3CAS_RECOVER_NOTHING);
	assert_int_equal(r.files + r.reindexed + r.restored + r.lost +
				 r.quarantined,
			 0);
	assert_false(r.index_entries_lost);
	assert_false(exists("%s/integrity/recover", store_dir));
	list(&after, NULL);
	assert_int_equal(after.n, before.n);
	for (int i = 0; i < before.n; i++) {
		assert_true(b3cas_oid_equal(&after.info[i].id,
					    &before.info[i].id));
		assert_int_equal(after.info[i].size, before.info[i].size);
		assert_int_equal(after.info[i].refs, before.info[i].refs);
		assert_int_equal(after.info[i].is_inline,
				 before.info[i].is_inline);
	}
	for (int i = 0; i < N; i++) {
		if (!is_loose(i))
			continue;
		object_path(path, sizeof(path), objects, i);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_ino, st_before[i].st_ino);
		assert_int_equal(st.st_mtim.tv_nsec,
				 st_before[i].st_mtim.tv_nsec);
	}
}

/*
 * The first run stops (on_lost returns non-zero) halfway through the
 * object files. Catches: a half-built index that opens as if complete,
 * a second run that does not finish the work or says it started afresh.
 */
static void test_recover_interrupted(void **state)
{
	const int bad = 6;
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r1, r2;
	lost_seen seen = {0};
	char objects[400];
	b3cas_store *s;

	(void)state;
	assert_true(is_loose(bad));
	fill(store_dir, NULL);
	snprintf(objects, sizeof(objects), "%s/objects", store_dir);
	flip(objects, bad);
	tu_run("rm -rf '%s/index'", store_dir);
	seen.stop_at = 1;
	o.on_lost = on_lost;
	o.ctx = &seen;
	assert_int_equal(b3cas_recover(store_dir, &o, &r1), 77);
	assert_true(exists("%s/integrity/recover/rebuilding", store_dir));
	assert_int_equal(open_status(store_dir), B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "b3cas recover"));

	seen.stop_at = 0;
	assert_int_equal(b3cas_recover(store_dir, &o, &r2), 0);
	assert_true(r2.resumed);
	assert_int_equal(r2.action, B3CAS_RECOVER_REBUILT);
	assert_int_equal(r1.reindexed + r2.reindexed, nloose - 1);
	assert_false(exists("%s/integrity/recover/rebuilding", store_dir));
	s = open_at(store_dir, false, NULL);
	for (int i = 0; i < N; i++)
		if (is_loose(i) && i != bad)
			expect_object(s, i, 1);
	expect_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);
}

/*
 * Catches: a recovery of a folder that is no store, of a store another
 * handle writes (which would pull the index from under it), or one that
 * changes anything before finding its backup missing.
 */
static void test_recover_refuses(void **state)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	char nowhere[400];
	b3cas_store *s;

	(void)state;
	snprintf(nowhere, sizeof(nowhere), "%s/nowhere", root);
	assert_int_equal(b3cas_recover(nowhere, NULL, &r), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_recover("", NULL, &r), B3CAS_EINVAL);
	o.version = 0;
	assert_int_equal(b3cas_recover(backup_dir, &o, &r), B3CAS_EINVAL);

	fill(store_dir, NULL);
	s = open_at(store_dir, false, NULL);
	assert_int_equal(b3cas_recover(store_dir, NULL, &r), B3CAS_ELOCKED);
	assert_int_equal(b3cas_store_close(s), 0);

	tu_run("rm -rf '%s/index'", store_dir);
	o.version = B3CAS_RECOVER_OPTIONS_VERSION;
	o.backup_dir = nowhere;
	assert_int_equal(b3cas_recover(store_dir, &o, &r), B3CAS_ENOTFOUND);
	assert_false(exists("%s/index", store_dir));
	assert_false(exists("%s/integrity/recover", store_dir));
	assert_int_equal(open_status(store_dir), B3CAS_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recover_index_deleted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_recover_index_deleted_from_backup, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_recover_manifest_damaged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_tables_truncated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_healthy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recover_interrupted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_refuses, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
