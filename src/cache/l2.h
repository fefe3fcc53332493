/*
 * cache/l2.h - the L2 cache: copies of loose objects in a bounded folder
 * (cache/l2/ of the store) on fast local storage, for when the object
 * tier is slow. Layout: cache/l2/ab/<64 hex> (the object's bytes, nothing
 * else), cache/l2/tmp/ (copies being written; cleared at open).
 *
 * Invariants: a copy is never returned unless its bytes hash to its id (a
 * copy that does not is deleted and counted as corrupt); the folder holds
 * at most the capacity in copies that are listed in the in-memory index
 * (an S3-FIFO cache engine, charge = bytes), rebuilt at open by listing
 * the folder, so copies survive a restart. A copy is written to tmp/ and
 * renamed into place, never fsynced: after a power loss a copy may be
 * short or garbage, which verification catches. L2 is a cache: losing
 * any of it loses nothing.
 */
#ifndef B3CAS_CACHE_L2_H
#define B3CAS_CACHE_L2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b3cas/cache.h"
#include "b3cas/store.h"

typedef struct b3cas_l2 b3cas_l2;

/* Hash len bytes with the store's algorithm into *out. */
typedef int (*b3cas_l2_hash_fn)(void *ctx, b3cas_oid *out, const void *data,
				size_t len);

/*
 * Open the L2 folder "cache/l2" under root_fd (the store folder, named
 * root in messages) with capacity bytes, listing the copies already there
 * (those beyond the capacity are deleted).
 */
int b3cas__l2_open(b3cas_l2 **out, int root_fd, const char *root,
		   uint64_t capacity, b3cas_l2_hash_fn hash, void *ctx);
void b3cas__l2_close(b3cas_l2 *l2);

/*
 * Read the copy of id (size bytes) into buf: 1 on a hit (bytes verified),
 * 0 on a miss (including a copy found corrupt or short, now deleted).
 */
int b3cas__l2_read(b3cas_l2 *l2, const b3cas_oid *id, uint64_t size,
		   void *buf);

/*
 * Take before reading the index entry of what may be added (as
 * b3cas__cache_ticket): a copy offered with it is refused when id was
 * erased meanwhile, so a read that overlaps GC's removal of the object
 * cannot put a copy back after GC erased it.
 */
uint64_t b3cas__l2_ticket(b3cas_l2 *l2, const b3cas_oid *id);

/* Keep a copy of id's len bytes (which the caller has verified) if it
 * fits and ticket (b3cas__l2_ticket) is not stale. Failures only mean no
 * copy. */
void b3cas__l2_add(b3cas_l2 *l2, const b3cas_oid *id, const void *buf,
		   size_t len, uint64_t ticket);

/*
 * Wait until every add that started before this call has returned. A
 * copy being added is a file that no entry names for a moment (between
 * its rename and its writer's check); a check that finds such a file
 * settles, then judges it again.
 */
void b3cas__l2_settle(b3cas_l2 *l2);

/* Delete the copy of id; true if there was one. */
bool b3cas__l2_erase(b3cas_l2 *l2, const b3cas_oid *id);

/* Whether there is a copy of id (counting nothing). */
bool b3cas__l2_contains(b3cas_l2 *l2, const b3cas_oid *id);

/* The L2 folder under the store folder. */
#define B3CAS_L2_DIR "cache/l2"

/* The open L2 folder (borrowed: valid until b3cas__l2_close), for a check
 * that walks its sub-folders. */
int b3cas__l2_dir_fd(b3cas_l2 *l2);

/*
 * Delete the copy name in sub-folder sub_fd of the L2 folder, which a check
 * found must not be kept, and whose id is id (NULL: the name is not an
 * id). Through the index when an entry names it, so the index and the
 * folder keep agreeing (the drop hook deletes the file); else the file
 * alone, which no entry names and so is never served. true when it is
 * gone.
 */
bool b3cas__l2_discard(b3cas_l2 *l2, int sub_fd, const char *name,
		       const b3cas_oid *id);

void b3cas__l2_resize(b3cas_l2 *l2, uint64_t capacity);
void b3cas__l2_stats(b3cas_l2 *l2, b3cas_cache_level_stats *out);

#endif
