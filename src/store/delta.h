/*
 * store/delta.h - delta chunks (delta.c): a chunk of a new version of an
 * object stored as a zstd frame against chunks of the version before it
 * (docs/chunked-objects.md, "Delta chunks"). Private to the store layer.
 *
 * A delta entry (kind B3CAS_ENTRY_DELTA) holds:
 *
 *   depth (1 byte) | base node (32 bytes) | zstd frame
 *
 * The base node is an ordinary manifest node ('n' key, counted like any
 * other) listing the base chunks in order; their bytes, concatenated, are
 * the frame's prefix. The entry holds one reference to that node, which
 * holds its chunks, so a base outlives every delta made against it with
 * no new kind of count: the node's release frees what only it held.
 * depth is 1 + the deepest base that is itself a delta (whole chunks are
 * depth 0), at most B3CAS__DELTA_DEPTH_MAX: a read decodes a bounded
 * chain, and a chain never loops (every base is shallower).
 */
#ifndef B3CAS_STORE_DELTA_H
#define B3CAS_STORE_DELTA_H

#include "store/handle.h"

#define B3CAS__DELTA_DEPTH_MAX 8
/* at most this many base chunks, so at most this many chunk_max bytes of
 * prefix */
#define B3CAS__DELTA_BASES_MAX 4
#define B3CAS__DELTA_HEAD (1 + B3CAS_OID_LEN)

/* A delta made for a put (b3cas__delta_prepare): the entry's payload, and
 * the pending key ('p' gen seq, REF_KEY_LEN bytes) that holds the base
 * node's reference until the batch that writes the entry takes it over. */
typedef struct b3cas__delta_put {
	uint8_t *payload;
	size_t payload_len;
	uint8_t pkey[1 + 16 + 4];
} b3cas__delta_put;

/* The base object of a put: its chunks by offset, and the put's pending
 * keys of base nodes. */
typedef struct b3cas__delta_src b3cas__delta_src;

/*
 * Start deltas against base (a stored object) for a put into s: 0 and
 * *out (NULL when nothing can be made against it: the store does not
 * compress, or base is not chunked), B3CAS_ENOTFOUND (base is not
 * stored), or an error.
 */
int b3cas__delta_src_open(b3cas_store *s, const b3cas_oid *base,
			  b3cas__delta_src **out);
/* Release the put's base references that no delta took over, and free d
 * (NULL is accepted). What fails here is released at the next open. */
void b3cas__delta_src_close(b3cas_store *s, b3cas__delta_src *d);

/*
 * Before the locks of the node that holds it: make chunk id (len bytes at
 * data, at offset off of the new object) a delta against the base's
 * chunks at the same offset, when that saves enough. 1: *out filled
 * (free out->payload), with a pending reference to the base node taken;
 * 0: store it whole (it is stored already, no base is near, the chain
 * would be too deep, a base cannot be read, or the delta does not save
 * enough); or an error.
 */
int b3cas__delta_prepare(b3cas__delta_src *d, b3cas_store *s,
			 const b3cas_oid *id, const uint8_t *data,
			 uint32_t len, uint64_t off, b3cas__delta_put *out);

/* Decode delta entry payload p (plen bytes) of size bytes into out, read
 * with ro (a snapshot's, or NULL): 0, B3CAS_ECORRUPT (the entry, its
 * base node or a base is damaged or missing), or an error. */
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
