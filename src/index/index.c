/*
 * index/index.c - opening RocksDB with the store's column families and
 * tuning, point reads and atomic batch writes.
 *
 * Tuning, and why:
 *  - full-key bloom filters in the tables and in the memtable: a put of new
 *    content asks for an id that is not there, and that miss should cost
 *    a filter probe, not a block read;
 *  - LZ4 compression: cheap, and it gives up quickly on the incompressible
 *    bytes that most large objects are;
 *  - point-in-time WAL recovery: after a crash the index comes back as of
 *    the last complete write batch, never with half a batch.
 */
#include "index/index.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

static const char *const cf_names[B3CAS_CF_COUNT] = {"content", "refs",
						     "meta"};

int b3cas__index_error(char *err, const char *what)
{
	int code = B3CAS_EIO;

	if (!err)
		return b3cas__error(B3CAS_ERROR, "%s: unknown RocksDB error",
				    what);
	if (strstr(err, "No space left") || strstr(err, "Disk quota"))
		code = B3CAS_ENOSPC;
	else if (strstr(err, "Permission denied") ||
		 strstr(err, "Read-only file system"))
		code = B3CAS_EPERM;
	else if (strncmp(err, "Corruption", 10) == 0)
		code = B3CAS_ECORRUPT;
	else if (strstr(err, "does not exist (create_if_missing is false)") ||
		 strstr(err, "No such file or directory"))
		code = B3CAS_ENOTFOUND;
	else if (strstr(err, "lock") && strstr(err, "unavailable"))
		code = B3CAS_ELOCKED;
	else if (strncmp(err, "Invalid argument", 16) == 0)
		code = B3CAS_EFORMAT;
	b3cas__error(code, "%s: %s", what, err);
	free(err);
	return code;
}

rocksdb_options_t *b3cas__index_new_options(void)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_block_based_table_options_t *t =
		rocksdb_block_based_options_create();
	rocksdb_cache_t *cache = rocksdb_cache_create_lru(64u << 20);

	rocksdb_block_based_options_set_filter_policy(
		t, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_block_cache(t, cache);
	rocksdb_options_set_block_based_table_factory(o, t);
	/* The options hold their own references now. */
	rocksdb_cache_destroy(cache);
	rocksdb_block_based_options_destroy(t);

	rocksdb_options_increase_parallelism(o, 2);
	rocksdb_options_set_memtable_whole_key_filtering(o, 1);
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0.05);
	rocksdb_options_set_compression(o, rocksdb_lz4_compression);
	rocksdb_options_set_wal_recovery_mode(o, 2); /* point in time */
	rocksdb_options_set_keep_log_file_num(o, 4);
	rocksdb_options_set_info_log_level(o, 2);    /* warnings */
	rocksdb_options_set_enable_pipelined_write(o, 1);
	return o;
}

static int open_db(b3cas_index *ix, const char *path, bool create)
{
	const char *names[B3CAS_CF_COUNT + 1];
	const rocksdb_options_t *cf_opts[B3CAS_CF_COUNT + 1];
	rocksdb_column_family_handle_t *handles[B3CAS_CF_COUNT + 1];
	char *err = NULL;

	names[0] = "default";
	cf_opts[0] = ix->options;
	for (int i = 0; i < B3CAS_CF_COUNT; i++) {
		names[i + 1] = cf_names[i];
		cf_opts[i + 1] = ix->options;
	}
	cf_opts[1 + B3CAS_CF_REFS] = ix->refs_options;
	rocksdb_options_set_create_if_missing(ix->options, create);
	rocksdb_options_set_create_missing_column_families(ix->options,
							   create);
	if (ix->read_only)
		ix->db = rocksdb_open_for_read_only_column_families(
			ix->options, path, B3CAS_CF_COUNT + 1, names, cf_opts,
			handles, 0, &err);
	else
		ix->db = rocksdb_open_column_families(
			ix->options, path, B3CAS_CF_COUNT + 1, names, cf_opts,
			handles, &err);
	if (err)
		return b3cas__index_error(err, "cannot open the index");
	ix->cf_default = handles[0];
	for (int i = 0; i < B3CAS_CF_COUNT; i++)
		ix->cf[i] = handles[i + 1];
	return 0;
}

int b3cas__index_open(b3cas_index **out, const char *path, bool create,
		      bool read_only)
{
	b3cas_index *ix = calloc(1, sizeof(*ix));
	int rc;

	if (!ix)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	ix->read_only = read_only;
	ix->options = b3cas__index_new_options();
	/*
	 * The refs column family takes small entries (counts, candidates'
	 * marks) in bursts: a delete of a million objects writes a million.
	 * A 64 MiB memtable of them is a skip list of 800,000 nodes whose
	 * inserts miss the cache at every level; 8 MiB keeps it near
	 * 100,000 (measured: GC of 300,000 candidates 240,000 -> 340,000
	 * per second, duplicate puts 0.5 us faster).
	 */
	ix->refs_options = rocksdb_options_create_copy(ix->options);
	rocksdb_options_set_write_buffer_size(ix->refs_options, 8u << 20);
	ix->read = rocksdb_readoptions_create();
	ix->write = rocksdb_writeoptions_create();
	ix->write_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(ix->write_sync, 1);
	if (read_only) {
		/* Keep every table file open from the start: the writing
		 * process may delete files that compaction replaced, and an
		 * open file stays readable. */
		rocksdb_options_set_max_open_files(ix->options, -1);
	}
	rc = open_db(ix, path, create && !read_only);
	/* A read-only open reads the manifest, then opens the files it
	 * lists; a concurrent compaction in the writer can delete one in
	 * between. A fresh attempt reads the new manifest. */
	for (int i = 0; read_only && rc < 0 && i < 50 &&
			strstr(b3cas_error_last(), "No such file");
	     i++) {
		struct timespec pause = {0, 10 * 1000 * 1000};

		nanosleep(&pause, NULL);
		rc = open_db(ix, path, false);
	}
	if (rc < 0) {
		b3cas__index_close(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

void b3cas__index_close(b3cas_index *ix)
{
	if (!ix)
		return;
	if (ix->db && !ix->read_only) {
		/*
		 * Write the memtables out, so the next open has no log to
		 * replay (a full 64 MiB memtable took over 2 s to replay and
		 * flush at open). A failure here loses nothing: the log
		 * still holds every write and is replayed instead.
		 */
		rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
		char *err = NULL;

		rocksdb_flushoptions_set_wait(fo, 1);
		for (int i = 0; i < B3CAS_CF_COUNT && !err; i++)
			rocksdb_flush_cf(ix->db, fo, ix->cf[i], &err);
		free(err);
		rocksdb_flushoptions_destroy(fo);
	}
	if (ix->db) {
		for (int i = 0; i < B3CAS_CF_COUNT; i++)
			rocksdb_column_family_handle_destroy(ix->cf[i]);
		rocksdb_column_family_handle_destroy(ix->cf_default);
		rocksdb_close(ix->db);
	}
	rocksdb_writeoptions_destroy(ix->write_sync);
	rocksdb_writeoptions_destroy(ix->write);
	rocksdb_readoptions_destroy(ix->read);
	rocksdb_options_destroy(ix->refs_options);
	rocksdb_options_destroy(ix->options);
	free(ix);
}

int b3cas__index_get(b3cas_index *ix, int cf, const void *key, size_t klen,
		     rocksdb_pinnableslice_t **out)
{
	char *err = NULL;
	rocksdb_pinnableslice_t *v = rocksdb_get_pinned_cf(
		ix->db, ix->read, ix->cf[cf], key, klen, &err);

	if (err)
		return b3cas__index_error(err, "index read failed");
	if (!v)
		return 0;
	*out = v;
	return 1;
}

int b3cas__index_write(b3cas_index *ix, rocksdb_writebatch_t *batch,
		       bool sync)
{
	char *err = NULL;

	rocksdb_write(ix->db, sync ? ix->write_sync : ix->write, batch, &err);
	if (err)
		return b3cas__index_error(err, "index write failed");
	return 0;
}

int b3cas__index_sync(b3cas_index *ix)
{
	char *err = NULL;

	if (ix->read_only)
		return 0;
	rocksdb_flush_wal(ix->db, 1, &err);
	if (err)
		return b3cas__index_error(err, "cannot sync the index log");
	return 0;
}
