/*
 * b3cas/git2.h - a libgit2 object database backend whose objects live in
 * a b3cas store (library b3cas-git2, pkg-config b3cas-git2; it needs
 * libgit2, which the core library does not).
 *
 * A libgit2 program adds the backend to a repository's object database
 * (git_odb_add_backend, or git_repository_set_odb with an odb holding
 * only it) and reads, writes, clones and fetches as with git's own
 * files: objects go through b3cas_git_put (docs/git.md), so a blob and
 * the same file put another way are one b3cas object, and every read is
 * checked against its BLAKE3 id. Refs stay in the repository's own ref
 * database.
 *
 * References: each object the backend writes (write, and each object of a
 * pack that writepack imports) holds one reference of the store, as a
 * b3cas_store_put caller does, until it is removed (b3cas_ref_remove);
 * a backend made by b3cas_git_odb_backend_leased holds them by a lease
 * instead. Trees, commits and tags are linked to what they name.
 * An object already mapped is not written again (libgit2 asks exists or
 * freshen first), so it takes no second reference; what holds it then
 * (an import's refs, another program's reference) holds it still.
 *
 * libgit2 1.5 (Debian 12) has SHA-1 repositories only: the backend maps
 * SHA-1 ids. Thread-safe as the store is.
 */
#ifndef B3CAS_GIT2_H
#define B3CAS_GIT2_H

#include <git2/sys/odb_backend.h>

#include "common.h"
#include "git.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A new backend over store (which must stay open until the backend is
 * freed: libgit2 frees it with the odb, or git_odb_backend's free). Its
 * callbacks: read, read_prefix (4 hex digits or more), read_header,
 * write, readstream (the object read a piece at a time through a
 * b3cas_reader, in bounded memory), exists, exists_prefix, refresh,
 * foreach, writepack (a pack indexed by libgit2's indexer into a
 * temporary folder under $TMPDIR or /tmp, then every object it holds
 * stored), freshen and free. They return libgit2's codes
 * (GIT_ENOTFOUND, GIT_EAMBIGUOUS, GIT_ERROR with the store's message in
 * git_error_last()).
 *
 * Returns 0, or B3CAS_EINVAL (NULL out or store), B3CAS_ENOMEM.
 */
B3CAS_EXTERN int b3cas_git_odb_backend_new(git_odb_backend **out,
					   b3cas_store *store);

/*
 * A backend as b3cas_git_odb_backend_new's over lease's store, whose
 * objects are held by lease instead of lasting references: each object
 * it writes or finds mapped already gets one reference of the lease,
 * which goes when the lease closes. So a program that clones or fetches
 * names what it wants kept (b3cas_name_set of each ref's commit: a
 * commit holds its tree and parents, a tree its entries, as links) and
 * then closes the lease; a crash before leaves nothing that GC does not
 * collect. Trees, commits and tags are linked to what they name that is
 * stored when they are written (in a pack, once all of it is): write an
 * object's entries before it, as git does. The lease must stay open
 * until the backend is freed.
 * Returns 0, or B3CAS_EINVAL (NULL out or lease), B3CAS_ENOMEM.
 */
B3CAS_EXTERN int b3cas_git_odb_backend_leased(git_odb_backend **out,
					      b3cas_lease *lease);

#ifdef __cplusplus
}
#endif

#endif
