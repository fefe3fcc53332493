/*
 * model/statcache.h - the stat cache of tree puts (docs/trees.md, "The
 * stat cache"): a file that maps each regular file's path below the top
 * folder, with what lstat says of it (inode, size, mtime, ctime), to the
 * id of its content, so a put of a folder that mostly did not change
 * reads only the files that did. As git's index, it trusts an unchanged
 * ctime: any write, chmod, chown, rename or xattr change sets it.
 *
 * A cache is only ever a hint: the put checks that what it names is
 * stored (a tree that links an id the store lacks is refused) and starts
 * over without it if not. A file that cannot be read or is damaged
 * (its last 32 bytes are the BLAKE3 of the rest) counts as empty. It is
 * written whole to a temporary file and renamed over the old one.
 */
#ifndef B3CAS_MODEL_STATCACHE_H
#define B3CAS_MODEL_STATCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "b3cas/store.h"

typedef struct b3cas__statcache b3cas__statcache;

/* Read the cache at path (missing or damaged: an empty one). NULL only
 * when memory ran out (B3CAS_ENOMEM). */
b3cas__statcache *b3cas__statcache_load(const char *path);

/* The id of path rel if the cache has it with st's inode, size, mtime
 * and ctime: true, *id and *xattrs (the file had xattrs then). Finds in
 * the order the cache was written are the quickest. */
bool b3cas__statcache_find(b3cas__statcache *c, const char *rel,
			   const struct stat *st, b3cas_oid *id, bool *xattrs);

/* A new cache, built as a put goes: files whose mtime or ctime is not
 * before racy_ns (ns since the epoch) are left out, since a change
 * within the same tick of the clock would not show. hint: the bytes it
 * will likely need (b3cas__statcache_bytes of the last one). */
b3cas__statcache *b3cas__statcache_new(int64_t racy_ns, size_t hint);

/* The bytes c's entries take. */
size_t b3cas__statcache_bytes(const b3cas__statcache *c);

/* Add rel (st, its content id, whether it has xattrs) to c. 0 or
 * B3CAS_ENOMEM. */
int b3cas__statcache_add(b3cas__statcache *c, const char *rel,
			 const struct stat *st, const b3cas_oid *id,
			 bool xattrs);

/* The entries in c. */
size_t b3cas__statcache_count(const b3cas__statcache *c);

/* Write c to path (a temporary file beside it, then a rename). 0 or a
 * B3CAS_E code naming path. */
int b3cas__statcache_save(const b3cas__statcache *c, const char *path);

void b3cas__statcache_free(b3cas__statcache *c);

#endif
