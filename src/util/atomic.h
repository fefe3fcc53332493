/*
 * util/atomic.h - publishing a small file whole, in one step: the one
 * temp-file-then-rename sequence of b3cas (b3cas.conf, the recovery
 * marker, the scrub position, the saved bloom filter, L2 cache copies).
 *
 * The steps: remove a staging file of the same name left by a crash
 * (unless the caller says the name is fresh), create it anew (O_EXCL and
 * O_NOFOLLOW, so never through a link or into someone's file), write it
 * whole, renameat it over the target, all relative to folder descriptors.
 * Invariant: when the call fails, the target is as it was and the staging
 * file is gone; a crash in the middle leaves the target old or new, and
 * at worst a staging file under the name the caller gave, which its
 * cleanup must recognise (layout/leftovers.c: "<pid>.<n>.tmp" and "bloom"
 * in tmp/, b3cas.conf.tmp; cache/l2/tmp is cleared whole at open; the
 * others are replaced by the next write).
 *
 * One rule per durability mode (what each promises: include/b3cas/store.h
 * and docs/store.md), chosen by the caller for what the file is worth:
 * - NONE: no fsync. A process crash leaves the old file or the new one,
 *   whole; a power loss may leave either, or a short new one. For files
 *   whose damage is detected and costs nothing: L2 copies (verified on
 *   read), the scrub position (a damaged one restarts the scrub), the
 *   saved bloom filter (hashed whole, its stamp tells a stale one).
 * - BATCH: the staging file is fsynced before the rename, so after a power
 *   loss the name holds the old bytes or the new ones, whole; the rename
 *   itself reaches the disk with the folder's next flush (the store's
 *   group flush syncs the file system).
 * - FULL: as BATCH, and the target's folder is fsynced after the rename:
 *   when the call returns, the new file is on stable storage. For
 *   b3cas.conf and the recovery marker.
 */
#ifndef B3CAS_UTIL_ATOMIC_H
#define B3CAS_UTIL_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "b3cas/store.h"

typedef struct b3cas_atomic_write {
	int stage_fd;           /* folder of the staging file (or AT_FDCWD) */
	const char *stage_name; /* the staging file, relative to stage_fd */
	int dir_fd;             /* folder the target is named from */
	const char *name;       /* the target; may hold '/' */
	/* dir_fd's path, for messages; NULL when the names are paths. */
	const char *where;
	b3cas_durability durability;
	/* stage_name is unique to this call: no leftover to remove first. */
	bool fresh;
	/* Set no error message: for a cache, a failed copy is a miss. */
	bool quiet;
} b3cas_atomic_write;

/*
 * Publish len bytes of buf as w->name by the steps above. 0, or a
 * B3CAS_E code (with a message naming the file unless w->quiet).
 */
int b3cas__atomic_write(const b3cas_atomic_write *w, const void *buf,
			size_t len);
/* The same with the file's bytes in n pieces, written in order. */
int b3cas__atomic_writev(const b3cas_atomic_write *w, const struct iovec *iov,
			 int n);

#endif
