/*
 * index/wal.h - reading RocksDB's write-ahead logs (index/<n>.log)
 * ourselves, to find damage that RocksDB's point-in-time recovery would
 * drop without a word, and to name what the dropped writes stored.
 *
 * A log is 32 KiB blocks of fragments, each with a 7-byte header (masked
 * CRC32C of type and payload, length, type); a logical record is a write
 * batch (8-byte sequence, 4-byte count, then its operations). A torn last
 * write - a record cut short by the end of the file, a zeroed or
 * unreadable tail with nothing valid after it - is what a crash leaves
 * and is not damage. Damage is a record that fails its checksum (or
 * cannot be framed) with valid records after it: RocksDB's point-in-time
 * recovery stops at the first and drops every later write.
 */
#ifndef B3CAS_INDEX_WAL_H
#define B3CAS_INDEX_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct b3cas__wal_report {
	bool damaged;          /* a bad record with valid records after it */
	uint64_t damage_at;    /* the byte offset of the first bad record */
	uint64_t records;      /* valid write batches in all */
	uint64_t after;        /* of those, after the damage: RocksDB drops
				  them */
	bool torn_tail;        /* a cut or unreadable last write (normal) */
	uint64_t unreadable;   /* fragments that failed their checksum: the
				  writes in them cannot be read back */
} b3cas__wal_report;

/* Called for each valid write batch (its bytes, borrowed for the call),
 * with whether it comes after the damage; non-zero stops the scan. */
typedef int (*b3cas__wal_batch_fn)(const uint8_t *batch, size_t len,
				   bool after_damage, void *ctx);

/*
 * Scan the log file at path. on_batch may be NULL. Returns 0 (see r), the
 * callback's non-zero value, or B3CAS_EIO/B3CAS_ENOTFOUND/B3CAS_ENOMEM.
 */
int b3cas__wal_scan(const char *path, b3cas__wal_batch_fn on_batch,
		    void *ctx, b3cas__wal_report *r);

/* Called for each put of a write batch: column family id, key, value. */
typedef int (*b3cas__wal_put_fn)(uint32_t cf, const uint8_t *key,
				 size_t klen, const uint8_t *val, size_t vlen,
				 void *ctx);

/*
 * Call on_put for every put in write batch batch (len bytes); deletes and
 * other operations are skipped. Returns 0, on_put's non-zero value, or
 * B3CAS_ECORRUPT when the batch cannot be parsed (what came before was
 * passed on).
 */
int b3cas__wal_batch_puts(const uint8_t *batch, size_t len,
			  b3cas__wal_put_fn on_put, void *ctx);

/*
 * Look at every log in the index folder index_dir; for each damaged one,
 * copy it to save_dir (made if missing) as "wal.<unix ns>.<name>" before
 * RocksDB replays it (and, opened for writing, deletes it), so that fsck
 * can report it and recover can bring back what the dropped writes
 * stored. *saved counts the copies. 0, or an error of the copy.
 */
int b3cas__wal_keep_damaged(const char *index_dir, const char *save_dir,
			    unsigned *saved);

#endif
