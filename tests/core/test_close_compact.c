/*
 * test_close_compact.c - a writing close lets the index's compactions
 * finish (index/index.c, "A writing close waits").
 *
 * Each writing close flushes the memtables, so each run of open, puts of
 * new small objects, close adds one level-0 table to the content family.
 * RocksDB makes a level-0 compaction due at 16 tables: the 16th close's
 * own flush makes it due, and RocksDB's close drops a compaction under
 * way. That close leaves it to the next writer, whose open starts it and
 * whose close waits for it. So after 16 runs no family may hold more
 * than 16 level-0 tables, and after 17 fewer than 16 and no compaction
 * due, which it did not before close waited (17 tables and one due).
 * Then the objects of every run read back, and 4 more runs leave the
 * same shape.
 *
 * The index is read after the store is closed, through RocksDB's own
 * read-only open, so nothing of the store's handle is involved.
 *
 * test_empty_sessions_leave_no_logs: each writable open starts a log,
 * and one that writes nothing has nothing to flush, so RocksDB kept the
 * old log: 100 such sessions left 101 logs, each fsynced and replayed by
 * every later open (index/index.c, sweep_logs). The number of log files
 * must stay at most LOGS_SWEEP, and the objects put before read back.
 */
#include <dirent.h>
#include <rocksdb/c.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define RUNS 17
#define MORE_RUNS 4
#define PER_RUN 3000
#define OBJ_LEN 200
#define L0_TRIGGER 16
#define MAX_CF 8

/* The level-0 tables of every family of the index at path, the most of
 * any family in *max_l0; and whether any family has a compaction due. */
static void index_shape(const char *path, int *max_l0, bool *due)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_column_family_handle_t *h[MAX_CF];
	const rocksdb_options_t *cfo[MAX_CF];
	rocksdb_t *db;
	char *err = NULL, **names;
	size_t n = 0;

	/* as the store sets it (index.c), so that "due" means the same */
	rocksdb_options_set_level0_file_num_compaction_trigger(o, L0_TRIGGER);
	names = rocksdb_list_column_families(o, path, &n, &err);
	if (err)
		fail_msg("list the families of %s: %s", path, err);
	assert_true(n >= 2 && n <= MAX_CF);
	for (size_t i = 0; i < n; i++)
		cfo[i] = o;
	db = rocksdb_open_for_read_only_column_families(
		o, path, (int)n, (const char *const *)names, cfo, h, 0, &err);
	if (err)
		fail_msg("open %s read-only: %s", path, err);
	*max_l0 = 0;
	*due = false;
	for (size_t i = 0; i < n; i++) {
		char *l0 = rocksdb_property_value_cf(
			db, h[i], "rocksdb.num-files-at-level0");
		char *pending = rocksdb_property_value_cf(
			db, h[i], "rocksdb.compaction-pending");

		assert_non_null(l0);
		assert_non_null(pending);
		fprintf(stderr, "  %s: %s level-0 tables, compaction due %s\n",
			names[i], l0, pending);
		if (atoi(l0) > *max_l0)
			*max_l0 = atoi(l0);
		*due = *due || atoi(pending) != 0;
		rocksdb_free(l0);
		rocksdb_free(pending);
		rocksdb_column_family_handle_destroy(h[i]);
	}
	rocksdb_close(db);
	rocksdb_list_column_families_destroy(names, n);
	rocksdb_options_destroy(o);
}

/* The object of run r, number i: OBJ_LEN bytes no other object has. */
static void object_bytes(uint8_t *buf, int r, int i)
{
	uint64_t state = ((uint64_t)r << 32) ^ (uint64_t)i ^ 0x9e3779b9u;

	tu_fill_random(buf, OBJ_LEN, &state);
}

static void run(const char *dir, int r, b3cas_oid *ids)
{
	b3cas_store_options o = tu_store_options(r == 0, 4096);
	b3cas_store *s = tu_open_store(dir, &o);
	uint8_t buf[OBJ_LEN];

	for (int i = 0; i < PER_RUN; i++) {
		object_bytes(buf, r, i);
		if (b3cas_store_put(s, &ids[(size_t)r * PER_RUN + i], buf,
				    sizeof(buf)) != 0)
			fail_msg("run %d, put %d: %s", r, i,
				 b3cas_error_last());
	}
	assert_int_equal(b3cas_store_close(s), 0);
}

/* After runs runs, no family has more than L0_TRIGGER level-0 tables,
 * and when done, fewer and no compaction due. */
static void expect_shape(const char *index, int runs, bool done)
{
	int max_l0;
	bool due;

	fprintf(stderr, "after %d runs:\n", runs);
	index_shape(index, &max_l0, &due);
	if (max_l0 > L0_TRIGGER)
		fail_msg("after %d runs a family has %d level-0 tables: "
			 "closes dropped a compaction", runs, max_l0);
	if (done && (max_l0 >= L0_TRIGGER || due))
		fail_msg("after %d runs a family has %d level-0 tables%s: the "
			 "close dropped a compaction",
			 runs, max_l0, due ? " and a compaction due" : "");
}

static void test_close_finishes_compaction(void **state)
{
	b3cas_oid *ids = calloc((RUNS + MORE_RUNS) * PER_RUN, sizeof(*ids));
	char root[64], dir[128], index[160];
	b3cas_store_options o = tu_store_options(false, 4096);
	uint8_t buf[OBJ_LEN];
	b3cas_store *s;

	(void)state;
	assert_non_null(ids);
	tu_make_root(root, sizeof(root), "closecompact");
	snprintf(dir, sizeof(dir), "%s/store", root);
	snprintf(index, sizeof(index), "%s/index", dir);
	for (int r = 0; r < RUNS; r++) {
		run(dir, r, ids);
		expect_shape(index, r + 1, r + 1 == RUNS);
	}

	s = tu_open_store(dir, &o);
	for (int r = 0; r < RUNS; r += 5)
		for (int i = 0; i < PER_RUN; i += 97) {
			object_bytes(buf, r, i);
			tu_expect_object(s, &ids[(size_t)r * PER_RUN + i], buf,
					 sizeof(buf), 1);
		}
	assert_int_equal(b3cas_store_close(s), 0);

	for (int r = RUNS; r < RUNS + MORE_RUNS; r++)
		run(dir, r, ids);
	expect_shape(index, RUNS + MORE_RUNS, true);
	tu_remove_root(root);
	free(ids);
}

#define LOGS_SWEEP 4
#define EMPTY_SESSIONS 100

static int count_logs(const char *index)
{
	DIR *d = opendir(index);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strlen(e->d_name) > 4 &&
		     strcmp(e->d_name + strlen(e->d_name) - 4, ".log") == 0;
	closedir(d);
	return n;
}

static void test_empty_sessions_leave_no_logs(void **state)
{
	char root[64], dir[128], index[160];
	b3cas_store_options o = tu_store_options(true, 4096);
	b3cas_oid ids[RUNS];
	uint8_t buf[OBJ_LEN];
	b3cas_store *s;
	int most = 0;

	(void)state;
	tu_make_root(root, sizeof(root), "emptylogs");
	snprintf(dir, sizeof(dir), "%s/store", root);
	snprintf(index, sizeof(index), "%s/index", dir);
	s = tu_open_store(dir, &o);
	for (int i = 0; i < RUNS; i++) {
		object_bytes(buf, 1000, i);
		assert_int_equal(b3cas_store_put(s, &ids[i], buf, sizeof(buf)),
				 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	o = tu_store_options(false, 4096);
	for (int k = 0; k < EMPTY_SESSIONS; k++) {
		int logs;

		s = tu_open_store(dir, &o);
		assert_int_equal(b3cas_store_close(s), 0);
		logs = count_logs(index);
		if (logs > most)
			most = logs;
		if (logs > LOGS_SWEEP)
			fail_msg("after %d sessions that wrote nothing the "
				 "index holds %d logs (at most %d)", k + 1,
				 logs, LOGS_SWEEP);
	}
	fprintf(stderr, "%d sessions that wrote nothing: at most %d logs\n",
		EMPTY_SESSIONS, most);
	s = tu_open_store(dir, &o);
	for (int i = 0; i < RUNS; i++) {
		object_bytes(buf, 1000, i);
		tu_expect_object(s, &ids[i], buf, sizeof(buf), 1);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_finishes_compaction),
		cmocka_unit_test(test_empty_sessions_leave_no_logs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
