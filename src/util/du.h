/*
 * util/du.h - what a folder tree takes on disk, counted as `du -sB1`
 * counts it: st_blocks x 512 of every folder, file and link in it, the
 * top folder included, without following links, and a folder or a file
 * with several hard links once however often it is met.
 *
 * A count is a value of the caller's (no global state): trees added to
 * the same count share its record of what was met, so a tree inside
 * another, or a file linked into both, is counted once. Thread-safe as
 * long as each count is used by one thread at a time.
 */
#ifndef B3CAS_UTIL_DU_H
#define B3CAS_UTIL_DU_H

#include <stddef.h>
#include <stdint.h>

typedef struct b3cas__du_seen b3cas__du_seen;

typedef struct b3cas_du {
	uint64_t bytes;
	/* folders and multiply linked files met: (device, inode), sorted */
	b3cas__du_seen *seen;
	size_t n, cap;
} b3cas_du;

#define B3CAS_DU_INIT {0, NULL, 0, 0}

/*
 * Add the tree under open folder dir_fd (not closed; where names it in
 * messages) to du->bytes. An entry that goes while it is being walked (a
 * file RocksDB deletes) is not counted and is no error. 0, or B3CAS_EIO
 * naming what could not be read (also a tree deeper than 64 folders),
 * B3CAS_ENOMEM; du->bytes then holds a partial count.
 */
int b3cas__du_add(b3cas_du *du, int dir_fd, const char *where);

/* Free what du holds. */
void b3cas__du_free(b3cas_du *du);

#endif
