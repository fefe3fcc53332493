/*
 * test_api_misuse_lifetimes.c - lifetimes across close: closing a store
 * with a writer or reader open (its own or an internal one) is refused
 * with B3CAS_EBUSY and the store stays usable, every stream is counted,
 * and a view outlives its store. Part of the test_api_misuse program.
 */
#include "test_api_misuse_int.h"

/* ---- lifetimes: close with writers or readers open ---------------------- */

void test_close_with_open_writer(void **state)
{
	b3cas_store *s;
	b3cas_writer *w;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closew");
	assert_int_equal(b3cas_writer_open(&w, s), 0);
	assert_int_equal(b3cas_writer_write(w, big, sizeof(big)), 0);
	b3cas_error_clear();
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 1 writer and 0 readers open"));
	/* the store stayed open: the writer finishes, the store works */
	assert_int_equal(b3cas_writer_commit(w, &id), 0);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	assert_int_equal(b3cas_store_close(s), 0);
	/* and what the writer stored is there after a reopen */
	assert_int_equal(b3cas_store_open(&s, dir, NULL), 0);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

void test_close_with_open_reader(void **state)
{
	uint8_t buf[sizeof(big)];
	b3cas_store *s;
	b3cas_reader *r;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closer");
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	assert_int_equal(b3cas_reader_open(&r, s, &id), 0);
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 0 writers and 1 reader open"));
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	b3cas_reader_close(r);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

/* Several open, finished in any way (commit, abort, a failed commit's
 * free, close): each one counts until it is gone, and only then does
 * close go through. */
void test_close_counts_every_stream(void **state)
{
	b3cas_writer *w[3];
	b3cas_reader *r[2];
	b3cas_store *s;
	b3cas_oid id;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closen");
	assert_int_equal(b3cas_store_put(s, &id, small, sizeof(small)), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(b3cas_writer_open(&w[i], s), 0);
		/* one spilled to tmp/, one kept in memory, one empty */
		assert_int_equal(b3cas_writer_write(w[i], big,
						    i == 0 ? sizeof(big) : (size_t)i),
				 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(b3cas_reader_open(&r[i], s, &id), 0);
	/* a reader that fails to open does not count */
	memset(&id, 0x5a, sizeof(id));
	b3cas_reader *none = NULL;
	assert_int_equal(b3cas_reader_open(&none, s, &id), B3CAS_ENOTFOUND);
	assert_null(none);

	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 3 writers and 2 readers open"));
	b3cas_writer_abort(w[0]);
	assert_int_equal(b3cas_writer_commit(w[1], NULL), 0);
	b3cas_reader_close(r[0]);
	assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
	assert_non_null(strstr(b3cas_error_last(),
			       "still has 1 writer and 1 reader open"));
	b3cas_reader_close(r[1]);
	b3cas_writer_abort(w[2]);
	{
		b3cas_lease *l = NULL;

		assert_int_equal(b3cas_lease_open(s, &l), 0);
		assert_int_equal(b3cas_store_close(s), B3CAS_EBUSY);
		assert_non_null(strstr(b3cas_error_last(),
				       "still has 1 lease open"));
		assert_int_equal(b3cas_lease_close(l), 0);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

/* Backup and restore use readers and writers inside the library: they
 * must give every one back, or the stores could never be closed. */
void test_close_after_internal_streams(void **state)
{
	b3cas_store *s, *d;
	b3cas_backup_report br;
	b3cas_oid id;
	char dir[64], dest[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "closei");
	assert_int_equal(b3cas_store_put(s, &id, big, sizeof(big)), 0);
	make_dir(dest, sizeof(dest), "closeid");
	assert_int_equal(b3cas_backup(s, dest, NULL, &br), 0);
	assert_int_equal(br.copied, 1);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_int_equal(b3cas_store_open(&d, dest, NULL), 0);
	assert_int_equal(b3cas_store_exists(d, &id), 1);
	assert_int_equal(b3cas_store_close(d), 0);
	remove_dir(dir);
	remove_dir(dest);
}

/* Views are documented to outlive their store. */
void test_view_outlives_store(void **state)
{
	b3cas_store *s;
	b3cas_blob *small_view, *big_view;
	b3cas_oid a, b;
	char dir[64];

	(void)state;
	s = open_new(dir, sizeof(dir), "view");
	assert_int_equal(b3cas_store_put(s, &a, small, sizeof(small)), 0);
	assert_int_equal(b3cas_store_put(s, &b, big, sizeof(big)), 0);
	assert_int_equal(b3cas_store_get_view(s, &a, &small_view), 0);
	assert_int_equal(b3cas_store_get_view(s, &b, &big_view), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
	assert_int_equal(b3cas_blob_size(small_view), sizeof(small));
	assert_memory_equal(b3cas_blob_data(small_view), small, sizeof(small));
	assert_int_equal(b3cas_blob_size(big_view), sizeof(big));
	assert_memory_equal(b3cas_blob_data(big_view), big, sizeof(big));
	b3cas_blob_release(small_view);
	b3cas_blob_release(big_view);
}
