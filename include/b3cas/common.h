/*
 * b3cas/common.h - what every b3cas module shares: the export macro, the
 * library version, error codes and the thread-local error message.
 *
 * Every b3cas function that can fail returns 0 on success or one of the
 * negative B3CAS_E... codes below. The detail (a path, errno's text, a
 * RocksDB message) is kept in a per-thread message that b3cas_error_last()
 * returns. The library never prints and never exits.
 *
 * API rules (misuse is an error, not a crash):
 *  - A pointer argument is required unless its function's comment says it
 *    may be NULL (an optional output, options that default, a callback
 *    that is then not called). A buffer given with a length may be NULL
 *    when the length is 0. A required pointer that is NULL makes the call
 *    fail at once with B3CAS_EINVAL and the message "<function>:
 *    <argument> is NULL" (e.g. "b3cas_store_get: id is NULL", with the
 *    argument named as in the header; "...: data is NULL but len is 5");
 *    nothing is done and no output is written.
 *  - A function that returns something else than an error code reports
 *    such a call with the same message and its documented value for
 *    misuse: NULL for a pointer, 0 for a size, false for a bool. A void
 *    function does nothing: its outputs are left as they were, so check
 *    the pointers first if a hash must be computed.
 *  - Functions that free or close (b3cas_free, b3cas_store_close,
 *    b3cas_writer_abort, b3cas_reader_close, b3cas_blob_release,
 *    b3cas_pool_free) accept NULL and do nothing.
 *  - Every options struct (b3cas_store_options, b3cas_gc_options,
 *    b3cas_fsck_options, b3cas_scrub_options, b3cas_backup_options,
 *    b3cas_restore_options, b3cas_recover_options) begins with a version
 *    field and must carry a version this library knows: start from its
 *    ..._OPTIONS_INIT, then set the fields wanted. Otherwise the call
 *    fails with B3CAS_EINVAL and the message "<name> options version <n>
 *    is not <known>: initialise them with B3CAS_<NAME>_OPTIONS_INIT",
 *    before anything is done. Options given as NULL are the defaults.
 *  - Lifetimes (each header says how long what it hands out lives): a
 *    store is not closed while writers or readers made from it are open
 *    (B3CAS_EBUSY, and the store stays open: store.h); views (blobs)
 *    outlive their store. A handle that a call has freed (a writer after
 *    commit or abort, a reader after close, a store after a close that
 *    did not return B3CAS_EBUSY, a view after its last release) must not
 *    be used again: as with free(), that cannot be detected and is
 *    undefined; so is any pointer that is not NULL but not valid.
 *
 * Documentation (the convention of every public header, in the manner of
 * LMDB's lmdb.h): the comment above each function says
 *  - how it fails: every B3CAS_E... code it returns and when, in a
 *    "Returns"/"Errors" sentence ("B3CAS_EINVAL (NULL)" is the misuse
 *    above), or "Never fails." for one that cannot (misuse aside, where
 *    the header says what it does);
 *  - the lifetime of what it hands out or keeps: who frees it and with
 *    what, how long a borrowed pointer stays valid;
 *  - its thread safety, where it differs from the header's opening
 *    paragraph, which states the rule for the whole module.
 * tests/core/test_api_misuse.c fails when a public function's comment
 * names no B3CAS_E... code and does not say "never fails".
 *
 * Thread safety of this header: every function may be called from any
 * thread at any time.
 */
#ifndef B3CAS_COMMON_H
#define B3CAS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(B3CAS_BUILDING_LIBRARY) && defined(__GNUC__)
#define B3CAS_EXTERN __attribute__((visibility("default")))
#else
#define B3CAS_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define B3CAS_VERSION_MAJOR 0
#define B3CAS_VERSION_MINOR 1
#define B3CAS_VERSION_PATCH 0
#define B3CAS_VERSION_STRING "0.1.0"

/* Error codes. Values are stable: they are part of the ABI. */
enum {
	B3CAS_OK = 0,
	B3CAS_ERROR = -1,        /* unexpected internal failure */
	B3CAS_EINVAL = -2,       /* invalid argument or malformed input */
	B3CAS_ENOMEM = -3,       /* out of memory */
	B3CAS_EIO = -4,          /* I/O error from the operating system */
	B3CAS_ENOTFOUND = -5,    /* no such object or file */
	B3CAS_EEXISTS = -6,      /* already exists */
	B3CAS_ECORRUPT = -7,     /* stored data does not match its id */
	B3CAS_ELOCKED = -8,      /* another process holds the store lock */
	B3CAS_ENOSPC = -9,       /* no space left on the device */
	B3CAS_EPERM = -10,       /* permission denied */
	B3CAS_EFORMAT = -11,     /* unknown or incompatible on-disk format */
	B3CAS_EUNSUPPORTED = -12,/* not supported here (CPU, platform, mode) */
	B3CAS_EBUSY = -13,       /* resource busy, try again */
	B3CAS_ERANGE = -14,      /* value out of range (counter overflow, length) */
	B3CAS_ECLOSED = -15,     /* handle already closed or aborted */
	B3CAS_ECANCELED = -16    /* stopped because a callback asked */
};

/*
 * The message describing the most recent failure on the calling thread, or
 * "" if there was none. Never fails (never NULL). The string is owned by
 * the library and stays valid until the next b3cas call on the same
 * thread; each thread has its own, so another thread's failures never
 * change it. A call that succeeds may leave an earlier message in place:
 * read it only after a call returned an error.
 */
B3CAS_EXTERN const char *b3cas_error_last(void);

/* Forget the calling thread's last error message. Never fails. */
B3CAS_EXTERN void b3cas_error_clear(void);

/*
 * Make message (copied; cut to the length the library keeps) the calling
 * thread's last error message and return code: for libraries built on
 * b3cas (b3cas-git2) to report their failures as the library does. A
 * NULL message sets "". Never fails.
 */
B3CAS_EXTERN int b3cas_error_set(int code, const char *message);

/*
 * A short, static, English description of an error code ("invalid
 * argument" for B3CAS_EINVAL). Unknown codes give "unknown error". Never
 * fails (never NULL); the string is static: it lives as long as the
 * program.
 */
B3CAS_EXTERN const char *b3cas_strerror(int code);

/* The library's version string, e.g. "0.1.0": static, never NULL. Never
 * fails. */
B3CAS_EXTERN const char *b3cas_version(void);

#ifdef __cplusplus
}
#endif

#endif
