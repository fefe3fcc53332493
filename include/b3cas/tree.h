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

#ifdef __cplusplus
}
#endif

#endif
