/*
 * store/delta.h - delta chunks (delta.c): when a put with a base (the
 * object's version before) stores a new chunk, the base's chunk at the
 * same offset, the region as it was, is rewritten as a zstd frame
 * against the new one (a "reverse" delta: the newest version of every
 * region stays whole, so the latest checkpoint reads at full speed, and
 * an older one pays a decode per newer version of a region it reads
 * through). docs/chunked-objects.md, "Delta chunks". Private to the
 * store layer.
 *
 * A delta entry (kind B3CAS_ENTRY_DELTA) holds:
 *
 *   format (1 byte, 1) | base node (32 bytes) | zstd frame
 *
 * The base node is an ordinary manifest node ('n' key, counted like any
 * other) listing the base chunks in order (one, as written; a read takes
 * up to B3CAS__DELTA_BASES_MAX); their bytes, concatenated, are the
 * frame's prefix. The entry holds one reference to that node, which
 * holds its chunks, so a base outlives every delta made against it with
 * no new kind of count.
 */
#ifndef B3CAS_STORE_DELTA_H
#define B3CAS_STORE_DELTA_H

#include "store/handle.h"

#define B3CAS__DELTA_FORMAT 1
/* a chunk is not rebased onto one whose chain of bases is this long */
#define B3CAS__DELTA_CHAIN_MAX 32
/* a read follows at most this many bases: more is damage (a loop) */
#define B3CAS__DELTA_DECODE_MAX 64
#define B3CAS__DELTA_BASES_MAX 4
#define B3CAS__DELTA_HEAD (1 + B3CAS_OID_LEN)

/* The base object of a put: its chunks by offset, and the put's pending
 * keys of base nodes. */
typedef struct b3cas__delta_src b3cas__delta_src;

/*
 * Start rebases against base (a stored object) for a put into s: 0 and
 * *out (NULL when nothing can be made against it: the store does not
 * compress, or base is not chunked), B3CAS_ENOTFOUND (base is not
 * stored), or an error.
 */
int b3cas__delta_src_open(b3cas_store *s, const b3cas_oid *base,
			  b3cas__delta_src **out);
/* Release the put's base references that no delta took over, and free d
 * (NULL is accepted). What fails here is released at the next open. */
void b3cas__delta_src_close(b3cas_store *s, b3cas__delta_src *d);

/* A chunk of a put's node, in the object's order. */
typedef struct b3cas__delta_chunk {
	b3cas_oid id;
	const uint8_t *data;
	uint32_t len;
	uint64_t off;
} b3cas__delta_chunk;

/*
 * After node c (n chunks in the object's order, all stored) is written,
 * for its chunk k, stored anew: rewrite each chunk of the base that k
 * overlaps, when it is stored whole, as a delta against the node's
 * chunks over the same bytes (at most B3CAS__DELTA_BASES_MAX), if that
 * saves enough and makes no loop of bases. The number rewritten (0: not
 * worth it, nothing to rebase: not an error), or an error.
 */
int b3cas__delta_rebase(b3cas__delta_src *d, b3cas_store *s,
			const b3cas__delta_chunk *c, uint32_t n, uint32_t k);

/* Chunk id (len bytes at data) of a put with a base, stored before as a
 * delta (a region that came back to an earlier version): rewrite it
 * whole, so that the newest version reads without a decode. 1 done, 0
 * not a live delta, or an error. Takes id's stripe lock. */
int b3cas__delta_promote(b3cas_store *s, const b3cas_oid *id,
			 const uint8_t *data, uint32_t len);

/* Decode delta entry payload p (plen bytes) of chunk id, size bytes,
 * into out, read with ro (a snapshot's, or NULL): 0, B3CAS_ECORRUPT (the
 * entry, its base node or a base is damaged or missing, or the chain of
 * bases is too long: a loop), or an error. */
int b3cas__delta_decode(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, const uint8_t *p, size_t plen,
			uint64_t size, void *out);

/* Add to b (which removes or rewrites id's entry) the release of its base
 * node when the entry is a delta: an 'r' key, released by the next
 * b3cas__chunked_release_removed. */
void b3cas__delta_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				const b3cas_oid *id);

/* The base node a delta payload names (NULL when malformed). */
const uint8_t *b3cas__delta_node(const uint8_t *p, size_t plen);

#endif
