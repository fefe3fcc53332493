/*
 * index/index.h - the RocksDB index: one database with three column
 * families, so one write batch changes them together.
 *
 *   content  id (32 bytes) -> entry: kind (1 byte), size (8 bytes LE),
 *            then the object's bytes when the kind is inline
 *   refs     id (32 bytes) -> reference count (8 bytes LE), kept only
 *            for counts other than 1
 *   meta     text key -> text value (format version, hash algorithm)
 *
 * An object is stored exactly when it has a content entry; with no refs
 * entry it has one reference. Keeping the common count implicit makes a
 * new object one index entry, not two (measured: a 1 KiB put with two
 * column families in its batch took 1.5-3 us more than with one). Both
 * entries of an id change together in one batch.
 */
#ifndef B3CAS_INDEX_INDEX_H
#define B3CAS_INDEX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <rocksdb/c.h>

enum {
	B3CAS_CF_CONTENT = 0,
	B3CAS_CF_REFS,
	B3CAS_CF_META,
	/* Packed stores only (docs/compression.md): the bytes of kind
	 * PACKED entries under an 8-byte sequence number, in the order they
	 * were put, compressed by RocksDB a block at a time. NULL in the
	 * handle of an index that has no such family. */
	B3CAS_CF_DATA,
	B3CAS_CF_COUNT
};

/* Kinds of content entries. */
enum {
	B3CAS_ENTRY_INLINE = 1,
	B3CAS_ENTRY_LOOSE = 2,
	/* Format 2 (docs/chunked-objects.md): the bytes as one zstd frame;
	 * a chunked object's manifest top (store/chunked.c). */
	B3CAS_ENTRY_ZINLINE = 3,
	B3CAS_ENTRY_CHUNKED = 4,
	/* Packed stores: the payload is the 8-byte key of the bytes in the
	 * data column family (store/pack.c). */
	B3CAS_ENTRY_PACKED = 5,
	/* Format 2, chunks of objects put with a base: a zstd frame against
	 * earlier chunks (store/delta.h). */
	B3CAS_ENTRY_DELTA = 6,
	/* Or'ed into the kind: no references left, a GC candidate. Its
	 * refs entry then holds count 0 and the time it became one. */
	B3CAS_ENTRY_UNREF = 0x80
};

/*
 * Refs value of a GC candidate: count (0), CLOCK_REALTIME in ns when it
 * became one, the object's size (8 bytes LE) and its entry kind (1 byte),
 * so GC re-checks and removes it from this entry alone.
 */
#define B3CAS_REFS_CANDIDATE_LEN 25

#define B3CAS_ENTRY_HEADER_LEN 9

typedef struct b3cas_index {
	rocksdb_t *db;
	rocksdb_column_family_handle_t *cf[B3CAS_CF_COUNT];
	rocksdb_column_family_handle_t *cf_default;
	rocksdb_options_t *options;
	rocksdb_options_t *refs_options; /* options, smaller memtable */
	rocksdb_options_t *data_options; /* the data family's (or NULL) */
	rocksdb_readoptions_t *read;
	rocksdb_writeoptions_t *write;      /* WAL, no sync */
	rocksdb_writeoptions_t *write_sync; /* WAL, fsync before returning */
	bool read_only;
	int logs_at_open; /* log files a writable open found (sweep_logs) */
	/* A write or a log sync failed: RocksDB has stopped writes, and its
	 * log writer must not be used again (Debian's librocksdb is built
	 * with assertions, and a sync of a log that saw an error aborts the
	 * process). Syncs then fail at once; a reopen starts afresh. */
	_Atomic bool failed;
	/* Held by a write round from its look at failed to its setting it,
	 * and by a log sync: a sync must not start while a write that then
	 * fails is in RocksDB's log writer, or it meets the writer's error
	 * and aborts (test_powerloss under ASan: a write with an injected
	 * EIO beside the flusher's sync). */
	pthread_mutex_t log_lock;
	/* Writers waiting for the combiner (index.c, b3cas__index_write). */
	pthread_mutex_t wq_lock;
	struct b3cas_write_req *wq_head, **wq_tail;
	bool combining;
} b3cas_index;

/*
 * The options the store gives RocksDB, for the database and every column
 * family (the benchmarks open their raw baseline with the same). The
 * caller destroys them with rocksdb_options_destroy.
 */
rocksdb_options_t *b3cas__index_new_options(void);

/*
 * Open (and with create, make) the index in folder path. A data column
 * family that the index has is always opened; packed_level above 0 (a
 * packed store, compressing at that zstd level) makes one when the index
 * is created.
 */
int b3cas__index_open(b3cas_index **out, const char *path, bool create,
		      bool read_only, int packed_level);

/* b3cas__index_open within about memory bytes of caches and write
 * buffers (0: the defaults; see index.c, "A memory bound"). */
int b3cas__index_open_sized(b3cas_index **out, const char *path,
			    bool create, bool read_only, int packed_level,
			    uint64_t memory);

/* Close and free. NULL is accepted. */
void b3cas__index_close(b3cas_index *ix);

/* Compact every column family's whole key range, down to its last level
 * (RocksDB reports no error here: one it meets fails the writes after). */
void b3cas__index_compact(b3cas_index *ix);

/*
 * Look up key in column family cf. Returns 1 and *out (destroy with
 * rocksdb_pinnableslice_destroy) when found, 0 when absent, or an error.
 */
int b3cas__index_get(b3cas_index *ix, int cf, const void *key, size_t klen,
		     rocksdb_pinnableslice_t **out);
/* The same, reading with ro (a snapshot's), or as above when NULL. */
int b3cas__index_get_at(b3cas_index *ix, const rocksdb_readoptions_t *ro,
			int cf, const void *key, size_t klen,
			rocksdb_pinnableslice_t **out);

/* Does cf hold key (an entry of any kind, live or not)? 1, 0, or an
 * error; nothing to free. */
int b3cas__index_has(b3cas_index *ix, int cf, const void *key, size_t klen);

/*
 * Apply batch atomically; sync waits for the log to be on disk. Writers
 * are combined: while one thread writes, the others queue and wait, and
 * the writing thread applies the whole queue (a round) as one merged
 * batch, with one fsync if any writer asked for it; after a few rounds it
 * hands the job to the oldest waiter, so no writer waits for ever. Only
 * one thread at a time is inside RocksDB's write path, which with
 * hundreds of writers spent its time spinning and switching in its own
 * write queue (bench_cache: 1024 threads fell to 0.34x of 2). Each
 * writer gets the error of the write that carried its batch.
 */
int b3cas__index_write(b3cas_index *ix, rocksdb_writebatch_t *batch,
		       bool sync);

/* Make every write so far durable (fsync of the log). */
int b3cas__index_sync(b3cas_index *ix);

/* Bytes in the memtables of every family (active and waiting to be
 * flushed): about what their flushes will write as tables. */
uint64_t b3cas__index_unflushed(b3cas_index *ix);

/*
 * Turn a RocksDB error string (which this frees) into a B3CAS_E code with
 * "<what>: <rocksdb's text>" as the message.
 */
int b3cas__index_error(char *err, const char *what);

/* Little-endian 64-bit helpers for entries and counts. */
static inline void b3cas__put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t b3cas__get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#endif
