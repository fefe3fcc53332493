/*
 * store/pack.h - packed stores (docs/compression.md, "Packed blocks"):
 * the bytes of inline objects and chunks kept in the index's data column
 * family under sequence numbers, in the order they are put, so that
 * RocksDB compresses neighbouring chunks together a block at a time.
 *
 * Invariants: an entry of kind PACKED names exactly one data key and no
 * other entry names it; the two are written, and removed, in one batch
 * under the id's stripe lock. A key is never used twice while a store is
 * open; after a crash the next open starts after the largest key there
 * is, so a key whose entry never reached the index is never named.
 * Whatever the data family returns is verified against the id by the
 * reader, like any other stored bytes.
 */
#ifndef B3CAS_STORE_PACK_H
#define B3CAS_STORE_PACK_H

#include "store/handle.h"

/*
 * A data key: the 8-byte sequence number (big-endian, so keys sort in the
 * order they were made), then the first 8 bytes of the id whose bytes it
 * holds. A PACKED entry's payload is the sequence number alone; the rest
 * comes from the entry's own key. So an entry whose payload was damaged
 * can never reach, or drop, another object's bytes, and a data key tells
 * which entry should name it (fsck finds keys that none names).
 */
#define B3CAS_PACK_SEQ_LEN 8
#define B3CAS_PACK_TAG_LEN 8
#define B3CAS_PACK_KEY_LEN (B3CAS_PACK_SEQ_LEN + B3CAS_PACK_TAG_LEN)

/* At the open of a packed store: check that the index has its data
 * family, and in a writable handle find where the keys go on from. 0 or
 * an error (B3CAS_ECORRUPT: the index has no data family). */
int b3cas__pack_open(b3cas_store *s);

/* Does this store pack the bytes it keeps in the index? */
static inline bool b3cas__packs(const b3cas_store *s)
{
	return s->lay.zpacked;
}

/*
 * Add to b (under id's stripe lock) the entry of an object kept in the
 * index, len bytes at data: a new data key holding them and an entry of
 * kind PACKED naming it (unref: a GC candidate's mark). The key's
 * sequence number is seq, one of a range b3cas__pack_reserve gave, or
 * the next one when seq is 0. The caller has dropped what an entry it
 * replaces held (b3cas__pack_batch_drop).
 */
void b3cas__pack_batch_put(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, const void *data, size_t len,
			   bool unref, uint64_t seq);

/*
 * Reserve n sequence numbers, the first returned: a chunked put numbers
 * a segment's new chunks in the order they come in the object, though it
 * stages them in id order (for its locks), so that neighbouring chunks of
 * a file are neighbours in the data family and compress together
 * (measured on the sandbox corpus: in id order the data family took 10 MB
 * more). Numbers left unused are gaps, which cost nothing.
 */
static inline uint64_t b3cas__pack_reserve(b3cas_store *s, uint64_t n)
{
	return atomic_fetch_add(&s->pack_next, n);
}

/* Add to b the removal of the data key that id's entry e names, when it
 * is of kind PACKED (else nothing). */
void b3cas__pack_batch_drop(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const b3cas__entry *e);

/* The same for id's entry as it is now, read here (under id's stripe
 * lock): before a write that replaces it. An entry that cannot be read
 * keeps its data key (a leak fsck reports, never a loss). */
void b3cas__pack_batch_drop_id(rocksdb_writebatch_t *b, b3cas_store *s,
			       const b3cas_oid *id);

/* The data key that a PACKED entry of id (payload raw, raw_len bytes)
 * names: false when raw is not a sequence number or the store has no
 * data family (b3cas__pack_read_at then reports the damage). */
bool b3cas__pack_key(const b3cas_store *s, const b3cas_oid *id,
		     const uint8_t *raw, size_t raw_len,
		     uint8_t out[B3CAS_PACK_KEY_LEN]);

/*
 * Read the bytes a PACKED entry of id names (payload raw, raw_len bytes;
 * size expected) with ro (NULL: the latest), pinned in *out. 0, or
 * B3CAS_ECORRUPT (a malformed key, no such key, another length), or an
 * error of the read.
 */
int b3cas__pack_read_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, const uint8_t *raw,
			size_t raw_len, uint64_t size,
			rocksdb_pinnableslice_t **out);

#endif
