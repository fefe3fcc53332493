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
 *   format (1 byte, 2) | node (32 bytes) | first (2 bytes, big-endian)
 *     | count (1 byte) | zstd frame
 *
 * The node (an ordinary node: 'n' key, counted like any other) lists the
 * chunks that the put which rewrote this one stored anew in one of its
 * manifest nodes, in order: one base node for all the rewrites made
 * against that manifest node. Its chunks first to first + count - 1
 * (count at most B3CAS__DELTA_BASES_MAX) are the bases, and their bytes,
 * concatenated, the frame's prefix. The entry holds one reference to the
 * node, which holds its chunks, so a base outlives every delta made
 * against it with no new kind of count.
 *
 * Only chunks the put stored anew: they did not exist when the put
 * began, and the rewritten chunk did (it is its base object's). So every
 * reference from a delta to a base node leads to chunks younger than the
 * delta, and references can never go round in a cycle that no GC frees
 * (a base node holding chunks the put held already did: sandboxes forked
 * from one template rewrite each other's unchanged chunks; test_delta's
 * forks fail it).
 *
 * Format 1 (written before format 2, still read): format (1) | node (32)
 * | zstd frame, where the node was one made for the delta, listing just
 * its bases (at most B3CAS__DELTA_BASES_MAX).
 */
#ifndef B3CAS_STORE_DELTA_H
#define B3CAS_STORE_DELTA_H

#include "store/handle.h"

#define B3CAS__DELTA_FORMAT 2
#define B3CAS__DELTA_FORMAT_NODE 1
/* a chunk is not rebased onto one whose chain of bases is this long */
#define B3CAS__DELTA_CHAIN_MAX 32
/* a read follows at most this many bases: more is damage (a loop) */
#define B3CAS__DELTA_DECODE_MAX 64
#define B3CAS__DELTA_BASES_MAX 4
#define B3CAS__DELTA_HEAD (1 + B3CAS_OID_LEN + 3)
/* format 1's head, the shortest */
#define B3CAS__DELTA_HEAD_MIN (1 + B3CAS_OID_LEN)

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
	/* its place in the node's base node; B3CAS__DELTA_NOT_NEW when the
	 * put did not store it anew (it cannot be a base) */
	uint32_t bpos;
} b3cas__delta_chunk;

#define B3CAS__DELTA_NOT_NEW UINT32_MAX

/* The base node of a put's node's rewrites: the chunks the put stored
 * anew in that node, in order (chunked.c makes it; it is stored with
 * the first delta that names it). */
typedef struct b3cas__delta_bnode {
	uint8_t id[B3CAS_OID_LEN]; /* BLAKE3 of value */
	const uint8_t *value;
	size_t vlen;
	const void *sorted; /* chunked.c's: its chunks in id order */
	uint32_t n;
} b3cas__delta_bnode;

/*
 * After a node (its chunks c, n of them in the object's order, all
 * stored) is written, for its chunk k, stored anew: rewrite each chunk of
 * the base that k overlaps, when it is stored whole, as a delta against
 * the node's chunks stored anew over the same bytes (at most
 * B3CAS__DELTA_BASES_MAX, named in base node bn), if that saves enough
 * and makes no loop of bases. The number rewritten (0: not worth it,
 * nothing to rebase: not an error), or an error.
 */
int b3cas__delta_rebase(b3cas__delta_src *d, b3cas_store *s,
			const b3cas__delta_bnode *bn,
			const b3cas__delta_chunk *c, uint32_t n, uint32_t k);

/* Note chunk id as one of the put's (each node's chunks, before its
 * rebases): a chunk of the base that the put holds too is not rewritten.
 * Never fails (out of memory, it is only not noted). */
void b3cas__delta_note_put(b3cas__delta_src *d, const b3cas_oid *id);

/* Was id noted by b3cas__delta_note_put? (false may be a miss: out of
 * memory; true may be another id with the same first 8 bytes) */
bool b3cas__delta_put_holds(const b3cas__delta_src *d, const b3cas_oid *id);

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

/* Keep the bases decoded on this thread from one chunk's decode to the
 * next until the matching _end (nested pairs: the outermost ends it), for
 * a read of many chunks; _forget drops what is kept (a chunk failed its
 * hash: nothing decoded before it is trusted again). Never fail. */
void b3cas__delta_memo_begin(void);
void b3cas__delta_memo_end(void);
void b3cas__delta_memo_forget(void);

/* Add to b (which removes or rewrites id's entry) the release of its base
 * node when the entry is a delta: an 'r' key, released by the next
 * b3cas__chunked_release_removed. */
void b3cas__delta_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				const b3cas_oid *id);

/* The base node a delta payload names (NULL when malformed). */
const uint8_t *b3cas__delta_node(const uint8_t *p, size_t plen);

/* The bases of delta payload p (plen bytes), read with ro (or NULL):
 * ids (32 bytes each) and lens, *n of them (at most
 * B3CAS__DELTA_BASES_MAX). 0, B3CAS_ECORRUPT (a malformed payload, its
 * node missing or damaged), or an error. */
int b3cas__delta_bases(b3cas_store *s, const rocksdb_readoptions_t *ro,
		       const uint8_t *p, size_t plen, uint8_t *ids,
		       uint32_t *lens, uint32_t *n);

#endif
