/*
 * b3cas/git.h - git objects in a b3cas store (docs/git.md).
 *
 * A git object is stored as an ordinary b3cas object whose bytes are the
 * object's content without git's "TYPE SIZE\0" header, so a blob and the
 * same file stored any other way are one object. The store keeps, in its
 * index and written by the very write that stores the object, a mapping
 * both ways: the git id (SHA-1, or SHA-256 for SHA-256 repositories) to
 * the object's type, size and b3cas id, and the b3cas id (with a type) to
 * the git id. A tree, commit or tag may be stored with links (the b3cas
 * ids of the objects it names), so that what a stored commit reaches is
 * kept by GC as long as the commit is (b3cas_store_put_linked). When GC
 * removes an object, its mappings go in the same write.
 */
#ifndef B3CAS_GIT_H
#define B3CAS_GIT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Git's object hash. */
typedef enum b3cas_git_algo {
	B3CAS_GIT_SHA1 = 1,
	B3CAS_GIT_SHA256 = 2
} b3cas_git_algo;

/* Git's object types, with git's own numbers. */
typedef enum b3cas_git_type {
	B3CAS_GIT_COMMIT = 1,
	B3CAS_GIT_TREE = 2,
	B3CAS_GIT_BLOB = 3,
	B3CAS_GIT_TAG = 4
} b3cas_git_type;

#define B3CAS_GIT_OID_MAX 32      /* bytes: SHA-256 */
#define B3CAS_GIT_HEX_MAX 64      /* hex digits */

typedef struct b3cas_git_oid {
	b3cas_git_algo algo;
	uint8_t bytes[B3CAS_GIT_OID_MAX]; /* 20 used for SHA-1 */
} b3cas_git_oid;

/* What the store maps a git id to. */
typedef struct b3cas_git_object {
	b3cas_git_oid git;
	b3cas_git_type type;
	uint64_t size; /* the content's bytes (git's header not counted) */
	b3cas_oid id;  /* the b3cas object holding the content */
} b3cas_git_object;

/* Bytes of an id of algo: 20, 32, or 0 for an unknown algo. Never
 * fails. */
B3CAS_EXTERN size_t b3cas_git_oid_len(b3cas_git_algo algo);

/* "commit", "tree", "blob", "tag"; NULL for another value. Never
 * fails. */
B3CAS_EXTERN const char *b3cas_git_type_name(b3cas_git_type type);

/* The type named name (as git writes it): 0, or B3CAS_EINVAL (NULL,
 * another name; *out is then unchanged). */
B3CAS_EXTERN int b3cas_git_type_parse(b3cas_git_type *out, const char *name);

/* Parse a full git id of 40 (SHA-1) or 64 (SHA-256) hex digits, either
 * case: 0, or B3CAS_EINVAL (NULL, another length, a character not hex;
 * *out is then unchanged). */
B3CAS_EXTERN int b3cas_git_oid_parse(b3cas_git_oid *out, const char *hex);

/* id in lowercase hex, NUL-terminated, into buf (B3CAS_GIT_HEX_MAX + 1
 * bytes); returns buf. Never fails; misuse (NULL buf or id) returns NULL
 * and writes nothing; an unknown algo writes "". */
B3CAS_EXTERN char *b3cas_git_oid_fmt(char *buf, const b3cas_git_oid *id);

/* Git's id of an object of type with content data (len bytes): the hash
 * of "TYPE LEN\0" and the content. 0, or B3CAS_EINVAL (NULL, an unknown
 * algo or type), B3CAS_ENOMEM. */
B3CAS_EXTERN int b3cas_git_hash(b3cas_git_oid *out, b3cas_git_algo algo,
				b3cas_git_type type, const void *data,
				size_t len);

/*
 * Store a git object: content data (len bytes, git's header left out) of
 * type, hashed with algo, as a b3cas object whose reference lease holds,
 * with the mapping both ways written in the same index write. links (the
 * b3cas ids of the stored objects a tree, commit or tag names; NULL and 0
 * for none) are held as b3cas_store_put_linked holds them; they are given
 * only by the object's first put with links (a later one keeps them).
 * *out (may be NULL) gets the git id, type, size and b3cas id. Returns 0
 * (new content) or 1 (content stored already: one reference more, and the
 * mapping written if it was not), or an error: those of
 * b3cas_lease_put_linked (B3CAS_ENOTFOUND: a link is not stored), and
 * B3CAS_EINVAL (NULL, an unknown algo or type).
 */
B3CAS_EXTERN int b3cas_git_put(b3cas_lease *lease, b3cas_git_algo algo,
			       b3cas_git_type type, const void *data,
			       size_t len, const b3cas_oid *links,
			       size_t nlinks, b3cas_git_object *out);

/*
 * A git object written in pieces, in bounded memory (a blob of any
 * size): the bytes go to a b3cas_writer (chunked in a chunking store) and
 * through git's hash at once, and the commit stores the object with the
 * lease's reference and its mapping both ways in the one index write, as
 * b3cas_git_put does. size is the content's length (git's header left
 * out), declared up front as git's header needs it. No links: store
 * trees, commits and tags that name objects with b3cas_git_put.
 */
typedef struct b3cas_git_writer b3cas_git_writer;

/* A new writer in *out (NULL on an error). 0, or B3CAS_EINVAL (NULL, an
 * unknown algo or type), B3CAS_EPERM (a read-only store), B3CAS_ENOMEM. */
B3CAS_EXTERN int b3cas_git_writer_open(b3cas_git_writer **out,
				       b3cas_lease *lease,
				       b3cas_git_algo algo,
				       b3cas_git_type type, uint64_t size);

/* Append len bytes. 0, or B3CAS_EINVAL (NULL, more bytes than declared),
 * or the errors of b3cas_writer_write; after an error the writer can only
 * be aborted (commit aborts it and fails). */
B3CAS_EXTERN int b3cas_git_writer_write(b3cas_git_writer *w,
					const void *data, size_t len);

/* Store what was written; *out (may be NULL) gets the git id, type, size
 * and b3cas id. Frees w either way. Returns 0 (new content) or 1 (stored
 * already), or B3CAS_EINVAL (NULL, fewer bytes than declared), or the
 * errors of b3cas_lease_commit. */
B3CAS_EXTERN int b3cas_git_writer_commit(b3cas_git_writer *w,
					 b3cas_git_object *out);

/* Throw away what was written and free w (NULL: nothing). Never fails. */
B3CAS_EXTERN void b3cas_git_writer_abort(b3cas_git_writer *w);

/*
 * What git id maps to, in *out: 0, or B3CAS_ENOTFOUND (not mapped, or
 * mapped to an object no longer stored), B3CAS_ECORRUPT (a malformed
 * mapping), B3CAS_EIO, B3CAS_EINVAL (NULL, an unknown algo).
 */
B3CAS_EXTERN int b3cas_git_lookup(b3cas_store *store, const b3cas_git_oid *git,
				  b3cas_git_object *out);

/*
 * What git id maps to as the index records it, in *out, without
 * b3cas_git_lookup's check that the object is still stored: one index
 * read instead of two, for a caller that reads the object next (whose
 * read fails with B3CAS_ENOTFOUND if it is not stored). A mapping
 * outlives its object only in an index damaged behind the store's back
 * (GC removes both in one write); fsck finds such mappings (kind
 * git-map). Returns as b3cas_git_lookup.
 */
B3CAS_EXTERN int b3cas_git_mapping(b3cas_store *store,
				   const b3cas_git_oid *git,
				   b3cas_git_object *out);

/*
 * The one mapped git id of algo that begins with the hex digits hex (4 to
 * the id's length, either case, as git accepts abbreviated ids), in *out:
 * 0, or B3CAS_ENOTFOUND (none), B3CAS_EEXISTS (more than one: ambiguous),
 * B3CAS_EINVAL (NULL, fewer than 4 or too many digits, not hex),
 * B3CAS_ECORRUPT, B3CAS_EIO.
 */
B3CAS_EXTERN int b3cas_git_lookup_prefix(b3cas_store *store,
					 b3cas_git_algo algo, const char *hex,
					 b3cas_git_object *out);

/*
 * The git id of algo that b3cas object id is stored as with type (0: any
 * type, the first found), in *out: 0, or B3CAS_ENOTFOUND, B3CAS_ECORRUPT,
 * B3CAS_EIO, B3CAS_EINVAL (NULL, an unknown algo).
 */
B3CAS_EXTERN int b3cas_git_reverse(b3cas_store *store, const b3cas_oid *id,
				   b3cas_git_algo algo, b3cas_git_type type,
				   b3cas_git_object *out);

/*
 * Call fn for each mapped git id of algo (0: both), in id order, with
 * what it maps to; a non-zero return stops the walk and is returned.
 * Mappings to objects no longer stored are left out. Errors:
 * B3CAS_ECORRUPT, B3CAS_EIO, B3CAS_EINVAL (NULL store or fn).
 */
B3CAS_EXTERN int b3cas_git_foreach(b3cas_store *store, b3cas_git_algo algo,
				   int (*fn)(const b3cas_git_object *obj,
					     void *ctx),
				   void *ctx);

/*
 * Call fn with each git id of algo that the content of a tree, commit or
 * tag (data, len bytes, git's header left out) names: a tree's entries
 * but gitlinks (mode 160000, a submodule's commit, not in this
 * repository), a commit's tree and parents, a tag's object. A blob names
 * nothing. Content that does not parse ends the walk where it stops
 * parsing (git fsck's business, not this one's). A non-zero return of fn
 * stops the walk and is returned. Returns 0, or B3CAS_EINVAL (NULL fn,
 * NULL data with len > 0, an unknown algo or type).
 */
B3CAS_EXTERN int b3cas_git_each_named(b3cas_git_algo algo,
				      b3cas_git_type type, const void *data,
				      size_t len,
				      int (*fn)(const b3cas_git_oid *git,
						void *ctx),
				      void *ctx);

/*
 * The links for b3cas_git_put of a tree, commit or tag: the b3cas id of
 * each object that its content names (b3cas_git_each_named) and that
 * store maps, in order, as a new array in *out (free with b3cas_free;
 * NULL when *n is 0). Ids the store does not map are left out (a shallow
 * clone's missing parent). Returns 0, or B3CAS_EINVAL (as
 * b3cas_git_each_named; NULL store, out or n), B3CAS_ENOMEM,
 * B3CAS_ECORRUPT, B3CAS_EIO.
 */
B3CAS_EXTERN int b3cas_git_links(b3cas_store *store, b3cas_git_algo algo,
				 b3cas_git_type type, const void *data,
				 size_t len, b3cas_oid **out, size_t *n);

/*
 * Is the git object git stored so that a reference to it holds all it
 * reaches? 1 when it is mapped and stored, and is a blob or was put with
 * its links (b3cas_git_link, or b3cas_git_put with links after what it
 * names was linked); 0 when it is not mapped, not stored, or a tree,
 * commit or tag stored without its links (an import or clone stopped
 * between storing and linking: a name on it would hold it alone, and GC
 * could take what it reaches); or an error: B3CAS_EINVAL (NULL, an
 * unknown algo), B3CAS_ECORRUPT, B3CAS_EIO. The libgit2 backend answers
 * exists and freshen with it, so that libgit2 fetches or writes again
 * what is stored without its links.
 */
B3CAS_EXTERN int b3cas_git_linked(b3cas_store *store,
				  const b3cas_git_oid *git);

/*
 * Put the tree, commit or tag git, and every tree, commit and tag it
 * reaches that is stored without its links, with their links
 * (b3cas_git_links), depth first: each only after all it names, so that
 * an object stored with its links reaches only objects stored with
 * theirs, whenever the work stops. Objects linked already, blobs, and
 * ids not stored are not gone into (the links leave out what is not
 * stored, as b3cas_git_links does). lease holds a reference to each
 * object put. *links (may be NULL) grows by the number of links given.
 * Memory: the content of the objects on the way down (a chain of commits
 * stored without links is walked to its end). Returns 0, or
 * B3CAS_EINVAL (NULL lease or git), B3CAS_ENOMEM, B3CAS_ECORRUPT,
 * B3CAS_EIO, or those of b3cas_git_put.
 */
B3CAS_EXTERN int b3cas_git_link(b3cas_lease *lease, const b3cas_git_oid *git,
				uint64_t *links);

#ifdef __cplusplus
}
#endif

#endif
