/*
 * store/chunk_map.h - a map of chunk id -> what one snapshot of the index
 * says of that chunk, for the two readers that take a chunk's reference
 * count apart: stats (stats.c) and fsck's check of held counts (held.c).
 * Private to the store layer.
 *
 * One slot per distinct chunk (open addressing, linear probing, kept at
 * most 3/4 full), so memory grows with the distinct chunks, never with
 * their occurrences or the objects that name them: 64 bytes a slot,
 * about 100 bytes per chunk with the empty slots. Not thread-safe: one
 * caller fills and reads a map; it lives until b3cas__chunk_map_free.
 */
#ifndef B3CAS_STORE_CHUNK_MAP_H
#define B3CAS_STORE_CHUNK_MAP_H

#include "store/chunked.h"

typedef struct b3cas__chunk_slot {
	b3cas_oid id;
	uint64_t in_segments; /* occurrences in every segment */
	uint64_t named;       /* occurrences in stored objects' manifests */
	uint64_t recorded;    /* fsck: the held count its key records */
	uint32_t len;         /* the chunk's length, as a segment gives it */
	uint8_t flags;        /* the caller's */
	bool used;
} b3cas__chunk_slot;

typedef struct b3cas__chunk_map {
	b3cas__chunk_slot *slot;
	size_t cap, n; /* cap: 0 or a power of two; walk slot[0..cap) */
} b3cas__chunk_map;

#define B3CAS__CHUNK_MAP_INIT {NULL, 0, 0}

/* id's slot, or NULL when the map does not hold it. */
b3cas__chunk_slot *b3cas__chunk_map_find(const b3cas__chunk_map *m,
					 const b3cas_oid *id);
/* id's slot, made (zeroed) when new: 0 or B3CAS_ENOMEM. The slot stays
 * where it is until the next call that makes one. */
int b3cas__chunk_map_get(b3cas__chunk_map *m, const b3cas_oid *id,
			 b3cas__chunk_slot **out);
void b3cas__chunk_map_free(b3cas__chunk_map *m);

/* b3cas__chunk_fn callbacks whose ctx is a b3cas__chunk_map: one
 * occurrence more in in_segments (b3cas__chunked_foreach_held), or in
 * named (b3cas__chunked_foreach_chunk of a stored object); each notes
 * the chunk's length. 0 or B3CAS_ENOMEM. */
int b3cas__chunk_map_add_held(const b3cas_oid *chunk, uint32_t len,
			      void *map);
int b3cas__chunk_map_add_named(const b3cas_oid *chunk, uint32_t len,
			       void *map);

/*
 * Manifest nodes (chunked.c), for fsck: into map, keyed by node id, as
 * snapshot snap shows them: in_segments = the references to the node
 * (records of every chunked entry's top, GC candidates' too, and pending
 * keys 'p' and 'r'), recorded = its count; flags B3CAS__NODE_*. 0, or an
 * error.
 */
#define B3CAS__NODE_COUNTED 1u   /* a count key exists ... */
#define B3CAS__NODE_MALFORMED 2u /* ... and cannot be read */
#define B3CAS__NODE_STORED 4u    /* the node's list is stored */
int b3cas__chunked_map_nodes(b3cas_store *s, const b3cas__snap *snap,
			     b3cas__chunk_map *map);

#endif
