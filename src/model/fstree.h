/*
 * model/fstree.h - directories to trees and back (docs/trees.md): the
 * file-system half of `tree put` and `tree get`, apart from where the
 * bytes go. A scan reads a directory bottom up and hands each file's
 * content and each directory's encoded tree to the caller's callbacks,
 * which store them and name them; a restore asks its callbacks for a
 * tree's bytes and a file's content and recreates the directory:
 * entries, owners, modes, times, xattrs, hard links and holes, writing
 * files on several threads.
 *
 * Invariants: a scan never follows a symbolic link and never descends
 * into another file system (a mount point is recorded as an empty
 * directory with its own attributes); a restore creates everything
 * itself under dest with *at() calls relative to directories it made,
 * never follows a link, and refuses a dest that exists and is not an
 * empty directory. Neither prints nor exits.
 */
#ifndef B3CAS_MODEL_FSTREE_H
#define B3CAS_MODEL_FSTREE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "b3cas/tree.h"

typedef struct b3cas__scan_ops {
	/* Store the content of the regular file open at fd (st: its
	 * stat); set *id. 0 or a negative B3CAS_E... code. */
	int (*file)(void *ctx, int fd, const struct stat *st, b3cas_oid *id);
	/* Store a directory's encoded tree (len bytes; t: the tree); set
	 * *id. 0 or a negative code. */
	int (*tree)(void *ctx, const uint8_t *bytes, size_t len,
		    const b3cas_tree *t, b3cas_oid *id);
	/* Optional (NULL: none). The id of regular file rel (its path
	 * below the top folder; st: its lstat) known without a read: 1,
	 * *id and *xattrs (whether it has any: else they are not read),
	 * or 0 (file is then called), or a negative code. */
	int (*cached)(void *ctx, const char *rel, const struct stat *st,
		      b3cas_oid *id, bool *xattrs);
	/* Optional. Regular file rel is done: st as recorded, its id, and
	 * whether it has xattrs. 0 or a negative code. */
	int (*seen)(void *ctx, const char *rel, const struct stat *st,
		    const b3cas_oid *id, bool xattrs);
} b3cas__scan_ops;

/*
 * Scan the directory at path into trees, bottom up, each through ops;
 * *root is the id of path's own tree. Returns 0, or a negative code with
 * the message naming the path that failed (B3CAS_ENOTFOUND, B3CAS_EPERM,
 * B3CAS_EIO, B3CAS_EINVAL for a path that is not a directory or a name
 * or xattr the format cannot hold, or what a callback returned).
 */
int b3cas__scan(const char *path, const b3cas__scan_ops *ops, void *ctx,
		b3cas_oid *root);

/* One file a restore asks its file callback to write. */
typedef struct b3cas__restore_file {
	const b3cas_oid *id; /* its content */
	uint64_t size;       /* its length, as the tree says */
	/* What to write: bytes off .. off + len of the content, each at
	 * its own offset in the file. The whole file (0, size) unless
	 * ops->parts cut it; a part's first byte is 64 KiB aligned. */
	uint64_t off, len;
	int fd;              /* open for writing, empty when written whole */
	bool sparse;         /* runs of zeros may be skipped over (the
			      * restore sets the length at the end) */
	unsigned worker;     /* which worker calls: 0 .. threads - 1 */
	/* Add the bytes handled (written or skipped) as they go: the
	 * progress the restore reports. */
	_Atomic uint64_t *done;
	/* True once the restore is stopping (a failure elsewhere, or the
	 * progress callback asked): give up early with any negative code. */
	const _Atomic bool *stop;
} b3cas__restore_file;

typedef struct b3cas__restore_ops {
	/* The bytes of tree id: a malloc'ed buffer in *bytes, *len (the
	 * restore frees it). Called on the restore's calling thread only.
	 * 0 or a negative code. */
	int (*tree)(void *ctx, const b3cas_oid *id, uint8_t **bytes,
		    size_t *len);
	/* Write the content of f->id, f->size bytes, to f->fd. Called by
	 * the workers at once, each worker one call at a time (so a buffer
	 * per f->worker needs no lock). 0 or a negative code. */
	int (*file)(void *ctx, const b3cas__restore_file *f);
	/* Optional (NULL: every file is written whole): into how many
	 * parts a file of content id, size bytes long, may be cut, so that
	 * several workers (threads of them) write it at once; 1 or less:
	 * whole. Called on the restore's calling thread only. */
	unsigned (*parts)(void *ctx, const b3cas_oid *id, uint64_t size,
			  unsigned threads);
} b3cas__restore_ops;

/* How a restore runs (b3cas_tree_get_options, less the version). */
typedef struct b3cas__restore_params {
	unsigned threads; /* workers writing files, >= 1 */
	b3cas_tree_progress_fn progress; /* may be NULL */
	void *progress_ctx;
	b3cas_tree_counts *counts; /* what was made (may be NULL) */
} b3cas__restore_params;

/*
 * Recreate tree root at dest (created; it may exist as an empty
 * directory). The calling thread walks the trees, makes the folders,
 * symbolic links, special files and the later names of hard links;
 * params->threads workers create and write the regular files. A
 * folder's own attributes are set once everything in it is done, a hard
 * link's later names once its first name is complete. Owners are set
 * when running as root; otherwise a refused change of owner is left as
 * it is (the files belong to the caller), as tar does. Every thread it
 * starts has ended when it returns.
 *
 * Returns 0, or a negative code with the message naming the entry
 * (B3CAS_EEXISTS: dest is not an empty directory; B3CAS_ECORRUPT: a tree
 * that does not parse, a hard link to a file the restore has not made;
 * B3CAS_ECANCELED: the progress callback returned non-zero; or what the
 * system or a callback returned). What was made before a failure stays,
 * but a file whose content failed is removed.
 */
int b3cas__restore(const b3cas_oid *root, const char *dest,
		   const b3cas__restore_ops *ops, void *ctx,
		   const b3cas__restore_params *params);

#endif
