/*
 * cache/cache.h - a sharded, byte-bounded map from object id to a payload,
 * with a choice of eviction policy: the engine under L1 (payload: a blob)
 * and L2 (payload: none, the entry stands for a file).
 *
 * Policies:
 *  - S3-FIFO (the default; Yang et al., SOSP 2023): a small FIFO queue
 *    (10% of the bytes) that new objects enter, a main FIFO queue, and a
 *    ghost queue of fingerprints of objects evicted from the small one.
 *    An object hit again while in the small queue moves to main when it
 *    reaches the tail; one that was not goes to the ghost; an object
 *    inserted while its fingerprint is in the ghost goes straight to main;
 *    main reinserts objects hit since their last pass (freq, 0..3). One
 *    pass over many objects (a scan) therefore flushes only the small
 *    queue, and a hit only sets a counter.
 *  - LRU: one list, a hit moves the object to the front. Kept as the
 *    baseline the policy was chosen against (bench/bench_cache).
 *
 * Invariants: each shard's entries, queues, ghost and counters change only
 * under the shard's lock; an entry's payload is held by the cache from a
 * successful insert until the drop callback, which runs after the entry
 * left the shard, outside the lock. A hit calls hold() under the lock, so
 * the payload cannot be dropped between lookup and hold.
 *
 * Tickets: b3cas__cache_insert with a ticket taken before the caller read
 * the object is refused when an erase of any id of the same shard came in
 * between, so an object whose delete erased it cannot be put back by a
 * reader that read it just before the delete.
 */
#ifndef B3CAS_CACHE_CACHE_H
#define B3CAS_CACHE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "b3cas/cache.h"
#include "b3cas/store.h"

typedef enum b3cas_cache_policy {
	B3CAS_POLICY_S3FIFO = 0,
	B3CAS_POLICY_LRU = 1
} b3cas_cache_policy;

typedef struct b3cas_cache b3cas_cache;

typedef struct b3cas_cache_hooks {
	/* On a hit, under the shard lock: take a hold on payload. */
	void (*hold)(void *payload);
	/* After an entry left the cache, outside any lock. */
	void (*drop)(const b3cas_oid *id, void *payload, void *ctx);
	void *ctx;
} b3cas_cache_hooks;

/*
 * A cache of capacity bytes over shards shards (a power of two, 1..1024).
 * hooks may be NULL (payloads are then not held or dropped). NULL without
 * memory.
 */
b3cas_cache *b3cas__cache_new(uint64_t capacity, unsigned shards,
			      b3cas_cache_policy policy,
			      const b3cas_cache_hooks *hooks);

/* Drop every entry and free the cache. NULL is accepted. */
void b3cas__cache_free(b3cas_cache *c);
/* Free the cache without calling drop (L2: its files stay for the next
 * open). NULL is accepted. */
void b3cas__cache_free_keep(b3cas_cache *c);

/* On a hit: true, hold() called, the payload in *payload_out (may be
 * NULL), and the hit counted. On a miss: false, counted. */
bool b3cas__cache_get(b3cas_cache *c, const b3cas_oid *id,
		      void **payload_out);

/* Whether id is cached, counting nothing and changing nothing. */
bool b3cas__cache_contains(b3cas_cache *c, const b3cas_oid *id);

/* Whether id is cached with exactly this payload (the same test). */
bool b3cas__cache_holds(b3cas_cache *c, const b3cas_oid *id,
			const void *payload);

/* Take before reading what will be inserted (see Tickets above). */
uint64_t b3cas__cache_ticket(b3cas_cache *c, const b3cas_oid *id);

/*
 * Add id with payload, costing charge bytes. true: the cache owns the
 * payload now (drop() gives it back). false: refused (already cached,
 * too large for a shard (more than a quarter of it), capacity 0, or the
 * ticket is stale); the caller keeps the payload.
 */
bool b3cas__cache_insert(b3cas_cache *c, const b3cas_oid *id, void *payload,
			 uint64_t charge, uint64_t ticket);

/* Remove id (if cached) and make older tickets of its shard stale.
 * true if it was cached. */
bool b3cas__cache_erase(b3cas_cache *c, const b3cas_oid *id);

/* Change the capacity; shrinking evicts before this returns. */
void b3cas__cache_resize(b3cas_cache *c, uint64_t capacity);

/* Sum of the shards' counters into *out (its corrupt field untouched). */
void b3cas__cache_stats(b3cas_cache *c, b3cas_cache_level_stats *out);

/* ---- blobs (cache/blob.c) ---- */

/* A new blob of len bytes with one reference; its bytes are written by
 * the caller through b3cas__blob_bytes before it is shared. */
b3cas_blob *b3cas__blob_new(size_t len);
uint8_t *b3cas__blob_bytes(b3cas_blob *b);

/* Hooks for a cache whose payloads are blobs. */
extern const b3cas_cache_hooks b3cas__blob_hooks;

#endif
