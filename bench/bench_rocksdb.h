/*
 * bench_rocksdb.h - the raw RocksDB the benchmarks compare the store
 * with: opened with the store's own index options (index/index.h), so
 * both sides run on the same engine settings.
 */
#ifndef B3CAS_BENCH_ROCKSDB_H
#define B3CAS_BENCH_ROCKSDB_H

#include <rocksdb/c.h>

#include "index/index.h"

/* A raw RocksDB in dir (made if missing); dies on failure. Needs die()
 * from bench_util.h. */
static inline rocksdb_t *bench_open_raw(const char *dir)
{
	rocksdb_options_t *o = b3cas__index_new_options();
	char *err = NULL;
	rocksdb_t *db;

	rocksdb_options_set_create_if_missing(o, 1);
	db = rocksdb_open(o, dir, &err);
	rocksdb_options_destroy(o);
	if (err)
		die("rocksdb: %s", err);
	return db;
}

#endif
