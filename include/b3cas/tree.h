/*
 * b3cas/tree.h - trees: content-addressed directories (docs/trees.md).
 *
 * A tree is the canonical encoding of one directory: its own attributes
 * (mode, owner, modification time, extended attributes) and its entries
 * sorted by name, each a file (the id of its content), a directory (the
 * id of its tree), a symbolic link (its target) or a special file. The
 * tree's id is the store's hash of that encoding, so a directory whose
 * content and attributes did not change keeps its id, and a parent that
 * names it does too.
 *
 * This header gives the encoding: b3cas_tree_encode makes the bytes of a
 * tree described in memory, b3cas_tree_parse reads them back. Both check
 * every rule of docs/trees.md, and the bytes are canonical: parse accepts
 * only what encode would make, so re-encoding a parsed tree gives the
 * same bytes, and the same id.
 */
#ifndef B3CAS_TREE_H
#define B3CAS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Entry types. Values are stable: they are part of the format. */
typedef enum b3cas_tree_type {
	B3CAS_TREE_FILE = 1,    /* a regular file: id of its content */
	B3CAS_TREE_DIR = 2,     /* a directory: id of its tree */
	B3CAS_TREE_SYMLINK = 3, /* a symbolic link: its target */
	B3CAS_TREE_CHAR = 4,    /* a character device: rdev */
	B3CAS_TREE_BLOCK = 5,   /* a block device: rdev */
	B3CAS_TREE_FIFO = 6,    /* a named pipe */
	B3CAS_TREE_SOCKET = 7   /* a Unix socket (restored as a file node) */
} b3cas_tree_type;

/* Limits of the format (docs/trees.md). */
#define B3CAS_TREE_NAME_MAX 255          /* bytes of an entry's name */
#define B3CAS_TREE_TARGET_MAX 4095       /* bytes of a symlink's target */
#define B3CAS_TREE_XATTR_NAME_MAX 255    /* bytes of an xattr's name */
#define B3CAS_TREE_XATTR_VALUE_MAX 65536 /* bytes of an xattr's value */
#define B3CAS_TREE_XATTRS_MAX 1024       /* xattrs of one entry */
#define B3CAS_TREE_MODE_MASK 07777u      /* permission, suid, sgid, sticky */

/* A file's flags. */
#define B3CAS_TREE_SPARSE 1u /* had holes: restore leaves zeros unwritten */
#define B3CAS_TREE_LINKED 2u /* one of several names of one file: link */

/* One extended attribute. The name is not NUL-terminated. */
typedef struct b3cas_tree_xattr {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
} b3cas_tree_xattr;

/* What a directory, file, link or special file carries besides its
 * content: permission bits (mode & B3CAS_TREE_MODE_MASK, no type bits),
 * owner, modification time, xattrs sorted by name (bytewise, unique). */
typedef struct b3cas_tree_attr {
	uint32_t mode;
	uint64_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec; /* < 1,000,000,000 */
	size_t xattr_count;
	const b3cas_tree_xattr *xattrs;
} b3cas_tree_attr;

/*
 * One entry. name: 1..255 bytes, no '/' and no NUL, not "." or "..",
 * not NUL-terminated. Which fields count depends on type:
 *   FILE: attr, flags (SPARSE, LINKED), size, id, link (when LINKED: a
 *         number that the entries of one file share within one restore);
 *   DIR: id alone (the directory's attributes are in its tree);
 *   SYMLINK: attr, target (1..4095 bytes, no NUL);
 *   CHAR, BLOCK: attr, rdev_major, rdev_minor;
 *   FIFO, SOCKET: attr.
 * Fields a type does not use must be zero (encode refuses others).
 */
typedef struct b3cas_tree_entry {
	const char *name;
	size_t name_len;
	b3cas_tree_type type;
	b3cas_tree_attr attr;
	uint32_t flags;
	uint64_t size;
	b3cas_oid id;
	uint64_t link;
	const char *target;
	size_t target_len;
	uint32_t rdev_major, rdev_minor;
} b3cas_tree_entry;

/* A directory: its own attributes and its entries, sorted by name
 * (bytewise, a shorter name before a longer one it begins), unique. */
typedef struct b3cas_tree {
	b3cas_tree_attr self;
	size_t count;
	const b3cas_tree_entry *entries;
} b3cas_tree;

/*
 * Encode tree into a malloc'ed buffer (*out, *out_len; free() it).
 * Returns 0, or B3CAS_EINVAL with a message naming the first entry (or
 * attribute) that breaks a rule of the format, B3CAS_ENOMEM. Thread safe.
 */
B3CAS_EXTERN int b3cas_tree_encode(const b3cas_tree *tree, uint8_t **out,
				   size_t *out_len);

/*
 * Parse len bytes at data, the encoding of a tree, into *out (*out set to
 * a new tree; b3cas_tree_free it). The tree's names, targets and xattrs
 * point into data, which must outlive it. Returns 0, or B3CAS_EFORMAT
 * (not a tree: no magic, or a version this build does not know),
 * B3CAS_ECORRUPT (a tree that breaks a rule or is not canonical; the
 * message says what and at which byte), B3CAS_ENOMEM. Thread safe; reads
 * nothing outside data[0..len).
 */
B3CAS_EXTERN int b3cas_tree_parse(const void *data, size_t len,
				  b3cas_tree **out);

/* Free a tree from b3cas_tree_parse. NULL is a no-op. Never fails. */
B3CAS_EXTERN void b3cas_tree_free(b3cas_tree *tree);

/*
 * Find the entry named name (name_len bytes) in tree, by binary search:
 * its index, or -1 when there is none. A NULL tree (or a NULL name with
 * name_len > 0) also gives -1, with the B3CAS_EINVAL message of
 * common.h's rule. Thread safe.
 */
B3CAS_EXTERN ptrdiff_t b3cas_tree_find(const b3cas_tree *tree,
				       const char *name, size_t name_len);

/* ---- trees in a store ---------------------------------------------------- */

/* What a put or get of a directory went through. */
typedef struct b3cas_tree_counts {
	/* regular files: put, each name; get, each file written (a hard
	 * link's other names are linked to it, not counted) */
	uint64_t files;
	uint64_t dirs;   /* directories, the top one too */
	uint64_t others; /* symbolic links and special files */
	uint64_t bytes;  /* bytes of those files' contents */
	/* put with a stat cache: files whose content id the cache gave
	 * (not read), and trees found stored already (not written) */
	uint64_t cached;
	uint64_t found;
} b3cas_tree_counts;

/*
 * Store the directory at path as trees, bottom up (docs/trees.md): each
 * file's content as an object, each directory as a tree that holds its
 * files' contents and its subtrees (b3cas_store_put_linked), so GC keeps
 * everything a stored tree reaches. Symbolic links are never followed;
 * mount points below path are recorded as empty directories. *root_out
 * (may be NULL: the root is then not kept) gets the top tree's id, with
 * one reference that is the caller's; counts (may be NULL) what was put.
 * A failure drops every reference the put took; every reference but
 * the root's is held by a lease (b3cas_lease_open), so a put that is
 * killed leaves nothing but the root's, if it got that far.
 *
 * Errors: B3CAS_ENOTFOUND, B3CAS_EPERM, B3CAS_EIO (path or an entry
 * cannot be read; the message names it), B3CAS_EINVAL (NULL; path not a
 * directory; a name or xattr the format cannot hold), B3CAS_EBUSY (a
 * file changed while it was read), and the store's errors.
 */
B3CAS_EXTERN int b3cas_tree_put_dir(b3cas_store *store, const char *path,
				    b3cas_oid *root_out,
				    b3cas_tree_counts *counts);

#define B3CAS_TREE_PUT_OPTIONS_VERSION 1

/* How b3cas_tree_put works (B3CAS_TREE_PUT_OPTIONS_INIT: as
 * b3cas_tree_put_dir). */
typedef struct b3cas_tree_put_options {
	unsigned version; /* B3CAS_TREE_PUT_OPTIONS_VERSION */
	/* NULL: the root's reference is the caller's (root_out) and the
	 * put's others are held by a lease of its own. Else every
	 * reference the put takes is held by this lease, and the one to
	 * the root stays in it (a checkpoint's create: killed at any
	 * point, it leaks nothing). */
	b3cas_lease *lease;
	/* NULL, or the path of a stat cache (docs/trees.md, "The stat
	 * cache"; created when missing, rewritten after the put): a file
	 * whose path, inode, size, mtime and ctime are those it recorded
	 * is not read again, and a tree whose entries are all known and
	 * which is stored already is not written again. One cache per
	 * folder that is put again and again (a sandbox's). */
	const char *cache;
} b3cas_tree_put_options;

#define B3CAS_TREE_PUT_OPTIONS_INIT {B3CAS_TREE_PUT_OPTIONS_VERSION, NULL, NULL}

/*
 * b3cas_tree_put_dir with options (opts NULL: the defaults). With a
 * lease, *root_out gets the root's id and the lease its reference.
 * Errors: those of b3cas_tree_put_dir, and B3CAS_EINVAL (an options
 * version this library does not know). A cache that cannot be read
 * counts as empty; one that cannot be written is left as it was (the
 * put succeeds); one that names objects the store no longer holds makes
 * the put start over reading every file.
 */
B3CAS_EXTERN int b3cas_tree_put(b3cas_store *store, const char *path,
				const b3cas_tree_put_options *opts,
				b3cas_oid *root_out,
				b3cas_tree_counts *counts);

/* How far a restore (b3cas_tree_get) has come. */
typedef struct b3cas_tree_progress {
	uint64_t files;       /* files written whole (as counts.files) */
	uint64_t bytes;       /* bytes of file contents written so far */
	/* What the walk of the trees has found so far: the files to write
	 * and their bytes. Final once walked is true. */
	uint64_t files_total;
	uint64_t bytes_total;
	bool walked;          /* every tree has been read */
	bool done;            /* the last call: the restore is complete */
	double seconds;       /* since the restore began */
} b3cas_tree_progress;

/* Called with the progress (borrowed for the call) and the caller's
 * ctx; a non-zero return stops the restore (B3CAS_ECANCELED). */
typedef int (*b3cas_tree_progress_fn)(const b3cas_tree_progress *progress,
				      void *ctx);

#define B3CAS_TREE_GET_OPTIONS_VERSION 1

/* The largest number of threads a restore writes files with. */
#define B3CAS_TREE_GET_THREADS_MAX 64

typedef struct b3cas_tree_get_options {
	unsigned version; /* B3CAS_TREE_GET_OPTIONS_VERSION */
	/* Threads that create and write regular files: 0 = one per online
	 * CPU; more than B3CAS_TREE_GET_THREADS_MAX counts as that many.
	 * The calling thread walks the trees meanwhile, makes folders,
	 * symbolic links, special files and hard links, and calls
	 * progress. */
	unsigned threads;
	/* If set, called on the calling thread as the restore begins,
	 * then at most about ten times a second while it runs (never two
	 * calls at once), and
	 * once more at the end of a restore that succeeded, with done set
	 * (its return is then ignored). A non-zero return stops it: no
	 * file is begun after, files being written are given up and
	 * removed, every thread ends, and b3cas_tree_get returns
	 * B3CAS_ECANCELED. */
	b3cas_tree_progress_fn progress;
	void *progress_ctx;
} b3cas_tree_get_options;

#define B3CAS_TREE_GET_OPTIONS_INIT \
	{B3CAS_TREE_GET_OPTIONS_VERSION, 0, NULL, NULL}

/*
 * Recreate tree root at dest, which must not exist or be an empty
 * directory: entries, contents, modes, owners (when allowed: as root;
 * otherwise the caller's), times, xattrs, hard links and holes. opts may
 * be NULL (the defaults); counts (may be NULL) gets what was made.
 *
 * Every byte is checked against its content's id (with the store's
 * verify_on_read, the default, as all of its reads are): each content
 * is read through a b3cas_reader opened with B3CAS_READER_CHECK_AT_END,
 * which checks an inline object, and each chunk of a chunked one, before
 * handing out their bytes, and a loose object when its last bytes are
 * read. A file whose check fails is removed and the restore fails
 * (B3CAS_ECORRUPT), so every file left in dest holds bytes that hashed
 * to its id. Trees are read with b3cas_store_get, checked the same way.
 *
 * Files are written on opts->threads threads at once; the order of the
 * attributes is the single-threaded one: a file's owner, mode, xattrs
 * and time are set once its content is written; a folder's own, once
 * everything in it is done (so a read-only folder is filled first and
 * keeps its time); a hard link's other names are made once its first
 * name is complete.
 *
 * What was made before a failure stays, save a file whose content
 * failed, which is removed; every thread has ended when this returns.
 *
 * Errors: B3CAS_EEXISTS (dest is not an empty directory),
 * B3CAS_ENOTFOUND (root or an object it names is not stored),
 * B3CAS_ECORRUPT (a damaged object or tree; the message names the entry
 * and the object), B3CAS_EFORMAT (root is not a tree), B3CAS_EPERM,
 * B3CAS_EIO, B3CAS_ENOSPC (writing dest), B3CAS_ECANCELED (the progress
 * callback asked to stop), B3CAS_ENOMEM (also: no thread could be
 * started), B3CAS_EINVAL (NULL; an options version this library does
 * not know: start from B3CAS_TREE_GET_OPTIONS_INIT).
 *
 * Thread safety: other threads may use the store meanwhile; the
 * callbacks run on the calling thread.
 */
B3CAS_EXTERN int b3cas_tree_get(b3cas_store *store, const b3cas_oid *root,
				const char *dest,
				const b3cas_tree_get_options *opts,
				b3cas_tree_counts *counts);

/*
 * b3cas_tree_get with the default options (a thread per online CPU, no
 * progress): the same guarantees and errors (B3CAS_EEXISTS,
 * B3CAS_ENOTFOUND, B3CAS_ECORRUPT, B3CAS_EFORMAT, B3CAS_EPERM, B3CAS_EIO,
 * B3CAS_ENOSPC, B3CAS_ENOMEM, B3CAS_EINVAL: NULL).
 */
B3CAS_EXTERN int b3cas_tree_get_dir(b3cas_store *store, const b3cas_oid *root,
				    const char *dest,
				    b3cas_tree_counts *counts);

/*
 * Read and parse tree id from the store: *out, which owns its bytes
 * (b3cas_tree_free frees both). Errors: those of b3cas_store_get
 * (B3CAS_ENOTFOUND, B3CAS_ECORRUPT, ...), of b3cas_tree_parse
 * (B3CAS_EFORMAT: not a tree), B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_tree_load(b3cas_store *store, const b3cas_oid *id,
				 b3cas_tree **out);

/* How an entry differs between two trees (b3cas_tree_diff). */
#define B3CAS_TREE_ADDED 'A'
#define B3CAS_TREE_REMOVED 'D'
#define B3CAS_TREE_CHANGED 'M'

/* One difference: path ('/'-joined from the top, "." for the top
 * directory's own attributes), change, the entry in a (NULL when added,
 * or for a directory's own attributes) and in b (NULL when removed, or
 * the same). Non-zero stops the comparison, and b3cas_tree_diff returns
 * it. */
typedef int (*b3cas_tree_diff_fn)(const char *path, int change,
				  const b3cas_tree_entry *a,
				  const b3cas_tree_entry *b, void *ctx);

/*
 * Compare trees a and b: fn for each entry added, removed or changed (its
 * type, content, size, attributes or link), in name order, depth first.
 * An added or removed directory is one call (what is below it is not
 * listed); a directory in both is compared inside, and one whose own
 * attributes changed is reported as well. Subtrees with equal ids are not
 * read, so the cost is that of the changed directories.
 *
 * Errors: those of b3cas_tree_load, fn's non-zero value, B3CAS_ENOMEM,
 * B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_tree_diff(b3cas_store *store, const b3cas_oid *a,
				 const b3cas_oid *b, b3cas_tree_diff_fn fn,
				 void *ctx);

#ifdef __cplusplus
}
#endif

#endif
