/*
 * b3cas/cache.h - the store's caches: zero-copy views of objects, and the
 * cache manager (lookup, load, evict, stats, resize).
 *
 * A store has two caches in front of its objects (docs/cache.md):
 *  - L1, in memory, bounded in bytes (b3cas_store_options.l1_bytes),
 *    sharded, with the S3-FIFO eviction policy (scan resistant). It holds
 *    objects whose bytes were verified when they were read (with
 *    verify_on_read), and never an object that is no longer stored: the
 *    delete of an object's last reference removes it from L1 before the
 *    delete returns.
 *  - L2, a bounded folder of copies of loose objects (cache/l2/ in the
 *    store folder, l2_bytes), for when objects/ sits on slower storage
 *    (b3cas_store_options.objects_dir). Every L2 read is hashed against
 *    the id: a corrupt copy is deleted and counted, never returned. L2's
 *    files survive a restart.
 *
 * Thread safety: every function here may be called from any number of
 * threads at once, like the rest of the store API. A blob may be read,
 * retained and released from any thread, by several at once: its count
 * is atomic and its bytes never change.
 *
 * Misuse: as in store.h, every pointer is required; a NULL one gives
 * B3CAS_EINVAL (common.h, "API rules"), or the value each function below
 * names.
 */
#ifndef B3CAS_CACHE_H
#define B3CAS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- views ---------------------------------------------------------------- */

/*
 * A read-only, reference-counted view of an object's bytes. Its bytes
 * stay valid and unchanged until b3cas_blob_release, whatever happens to
 * the object or the cache meanwhile (eviction, delete, GC, resize, and
 * even b3cas_store_close): a blob does not refer to its store.
 */
typedef struct b3cas_blob b3cas_blob;

/*
 * Borrow a view of object id. On an L1 hit nothing is copied: the view
 * shares the cached bytes. On a miss the object is read (L2, then the
 * index or objects/), verified (with verify_on_read) and added to L1.
 * *out is released with b3cas_blob_release.
 *
 * Errors: as b3cas_store_get (B3CAS_ENOTFOUND, B3CAS_ECORRUPT, ...,
 * B3CAS_EINVAL: NULL).
 */
B3CAS_EXTERN int b3cas_store_get_view(b3cas_store *store, const b3cas_oid *id,
				      b3cas_blob **out);

/* The view's bytes (never NULL, even for 0 bytes) and their number. Each
 * never fails (misuse, a NULL blob: NULL and 0). The bytes are borrowed
 * from the view: valid until its last release. */
B3CAS_EXTERN const void *b3cas_blob_data(const b3cas_blob *blob);
B3CAS_EXTERN size_t b3cas_blob_size(const b3cas_blob *blob);

/* Another reference to the same view (released separately): returns
 * blob. Never fails (NULL for a NULL blob). */
B3CAS_EXTERN b3cas_blob *b3cas_blob_retain(b3cas_blob *blob);

/* Give one reference to the view back; the last frees it. NULL is
 * accepted. Never fails. */
B3CAS_EXTERN void b3cas_blob_release(b3cas_blob *blob);

/* ---- the cache manager -------------------------------------------------------- */

/*
 * Look object id up in L1 only, reading nothing else: 1 and a view in
 * *out on a hit (release it), 0 on a miss, B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_cache_lookup(b3cas_store *store, const b3cas_oid *id,
				    b3cas_blob **out);

/*
 * Read object id into the caches (L1, and L2 for a loose object when L2
 * is on) ahead of use. Returns 0, or the errors of b3cas_store_get:
 * B3CAS_ENOTFOUND, B3CAS_ECORRUPT (the object's bytes do not match id:
 * nothing is cached), B3CAS_EIO, B3CAS_ENOMEM, B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_cache_load(b3cas_store *store, const b3cas_oid *id);

/* Drop object id from L1 and L2 (views already borrowed stay valid).
 * 1 if it was cached anywhere, 0 if not, B3CAS_EINVAL (NULL). */
B3CAS_EXTERN int b3cas_cache_evict(b3cas_store *store, const b3cas_oid *id);

/*
 * Set the caches' capacities in bytes at run time: 0 turns a cache off.
 * Shrinking evicts at once, before the call returns. l2_bytes above 0
 * needs a writable store (B3CAS_EPERM otherwise). B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_cache_resize(b3cas_store *store, uint64_t l1_bytes,
				    uint64_t l2_bytes);

typedef struct b3cas_cache_level_stats {
	uint64_t capacity;   /* bytes it may hold */
	uint64_t bytes;      /* bytes it holds now */
	uint64_t entries;    /* objects it holds now */
	uint64_t hits, misses;
	uint64_t inserts;    /* objects added */
	uint64_t evictions;  /* objects removed to make room (or by resize) */
	uint64_t invalidations; /* removed because deleted or evicted by call */
	uint64_t rejected;   /* not added: too large for it, the level is
				off, or the read raced with a delete */
	uint64_t corrupt;    /* L2: copies that failed verification, dropped */
} b3cas_cache_level_stats;

typedef struct b3cas_cache_stats {
	b3cas_cache_level_stats l1, l2;
} b3cas_cache_stats;

/* Counters of this handle since open, and what the caches hold now, each
 * read atomically while other threads go on. Never fails (NULL for
 * either: nothing is written). */
B3CAS_EXTERN void b3cas_cache_stats_get(b3cas_store *store,
					b3cas_cache_stats *out);

#ifdef __cplusplus
}
#endif

#endif
