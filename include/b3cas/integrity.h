/*
 * b3cas/integrity.h - checking a whole store (fsck) and repairing it.
 *
 * Reads already verify what they return (see b3cas_store_get). b3cas_fsck
 * goes through everything: it re-hashes every object, inline and loose,
 * compares the index with the files of the object tier, and looks for
 * leftovers. Without repair it changes nothing.
 *
 * Thread safety: b3cas_fsck may run while other threads use the store;
 * what they put or delete meanwhile may or may not be seen, and is never
 * reported as a problem because of the race (every finding is checked
 * again under its id's stripe lock before it is reported or repaired).
 */
#ifndef B3CAS_INTEGRITY_H
#define B3CAS_INTEGRITY_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum b3cas_fsck_kind {
	/* An object's bytes do not hash to its id. */
	B3CAS_FSCK_CORRUPT = 1,
	/* The index names a loose file that is missing. */
	B3CAS_FSCK_MISSING,
	/* A loose file whose size is not the one the index records. */
	B3CAS_FSCK_WRONG_SIZE,
	/* A file in the object tier named by no index entry (its bytes
	 * match its name: a sound object the index lost). */
	B3CAS_FSCK_ORPHAN,
	/* A file in the object tier that is not an object: a bad name, the
	 * wrong folder, or a file named by an id whose bytes do not match. */
	B3CAS_FSCK_STRAY,
	/* An index entry that cannot be read. */
	B3CAS_FSCK_MALFORMED,
	/* A reference count with no object. */
	B3CAS_FSCK_DANGLING_REFS
} b3cas_fsck_kind;

/* "corrupt", "missing", ... */
B3CAS_EXTERN const char *b3cas_fsck_kind_name(b3cas_fsck_kind kind);

typedef struct b3cas_fsck_problem {
	b3cas_fsck_kind kind;
	bool has_id;
	b3cas_oid id;
	const char *path;   /* the file concerned, or NULL */
	const char *detail; /* in words a user can act on */
	/* With repair: what was done ("moved to integrity/quarantine/",
	 * "healed from the mirror", "re-indexed", "lost", ...); else NULL. */
	const char *action;
	bool lost;          /* the object is gone: no good copy anywhere */
} b3cas_fsck_problem;

/* How far a long check has come; passed to a progress callback. */
typedef struct b3cas_progress {
	uint64_t done;     /* objects done */
	uint64_t total;    /* objects in all (RocksDB's estimate), or 0 */
	uint64_t bytes;    /* bytes hashed */
	double seconds;    /* since the start */
} b3cas_progress;

typedef struct b3cas_fsck_options {
	/* Repair: quarantine corrupt files, heal from the mirror (the
	 * store's mirror_dir), re-index sound orphans, remove strays and
	 * entries that cannot be kept, rebuild the bloom filter. Needs a
	 * writable handle. */
	bool repair;
	/* Called for each problem, outside any lock; the problem is
	 * borrowed for the call. A non-zero return stops the check. */
	int (*on_problem)(const b3cas_fsck_problem *problem, void *ctx);
	void *ctx;
	/* If set, called about ten times a second while the objects are
	 * checked, and once at the end (with ctx). */
	void (*progress)(const b3cas_progress *progress, void *ctx);
} b3cas_fsck_options;

#define B3CAS_FSCK_OPTIONS_INIT {false, NULL, NULL, NULL}

typedef struct b3cas_fsck_report {
	uint64_t objects;      /* index entries checked */
	uint64_t bytes;        /* bytes hashed */
	uint64_t files;        /* files in the object tier looked at */
	uint64_t problems;     /* all findings below together */
	uint64_t corrupt, missing, wrong_size, orphans, strays, malformed,
		dangling_refs;
	/* With repair: */
	uint64_t quarantined, healed, reindexed, removed, lost;
	double seconds;
} b3cas_fsck_report;

/*
 * Check the store; report may be NULL. Returns 0 when the check ran
 * (whatever it found: see report->problems), or a negative error when it
 * could not run: B3CAS_EPERM (repair on a read-only handle), B3CAS_EIO,
 * B3CAS_ENOMEM, or the callback's non-zero value.
 */
B3CAS_EXTERN int b3cas_fsck(b3cas_store *store, const b3cas_fsck_options *opts,
			    b3cas_fsck_report *report);

/* ---- scrub ------------------------------------------------------------------- */

typedef struct b3cas_scrub_options {
	/* Bytes hashed per second at most (0: no limit), so a scrub does not
	 * starve the foreground. */
	uint64_t rate_bytes;
	/* Stop after this many objects (0: no limit); the next scrub resumes
	 * where this one stopped. */
	uint64_t max_objects;
	/* As b3cas_fsck_options: mend what is found (writable handle). */
	bool repair;
	int (*on_problem)(const b3cas_fsck_problem *problem, void *ctx);
	void *ctx;
	void (*progress)(const b3cas_progress *progress, void *ctx);
} b3cas_scrub_options;

#define B3CAS_SCRUB_OPTIONS_INIT {0, 0, false, NULL, NULL, NULL}

typedef struct b3cas_scrub_report {
	b3cas_fsck_report found; /* index entries only: objects, bytes, ... */
	bool resumed;            /* started where an earlier scrub stopped */
	bool completed;          /* reached the end: the next one starts over */
} b3cas_scrub_report;

/*
 * Verify the store's objects the way b3cas_fsck does (index entries
 * against their bytes), spread over time: in id order, at most
 * opts->rate_bytes per second, saving its position in
 * integrity/checksums/scrub at least once a second, so a scrub that is
 * stopped (max_objects, a signal, a crash) resumes after the last saved
 * object and never re-reads what it finished. Errors as b3cas_fsck.
 */
B3CAS_EXTERN int b3cas_scrub(b3cas_store *store,
			     const b3cas_scrub_options *opts,
			     b3cas_scrub_report *report);

/* ---- backup ----------------------------------------------------------------- */

typedef struct b3cas_backup_report {
	uint64_t objects;  /* stored objects looked at */
	uint64_t copied;   /* of those, copied (the destination lacked them) */
	uint64_t bytes;    /* bytes copied */
	uint64_t failed;   /* could not be read here (corrupt, lost): not
			      copied, reported through on_failure */
	double seconds;
} b3cas_backup_report;

/*
 * Copy every stored object that the b3cas store at dest_dir lacks into it
 * (made, with this store's hash, if dest_dir is missing or empty):
 * incremental, so a second backup copies only what is new. Objects are
 * read verified and streamed, so memory stays bounded whatever their size;
 * the destination keeps one reference per object. Each run appends a line
 * to integrity/backup/log. A backup store is what mirror_dir and
 * `b3cas fsck --repair --mirror` heal from; restoring is a backup the
 * other way round.
 *
 * on_failure (may be NULL) is called for each object that could not be
 * read here, with its error; the backup goes on. Returns 0 when every
 * object was handled (see report->failed), or an error from the
 * destination (B3CAS_ELOCKED, B3CAS_EFORMAT: another hash, B3CAS_ENOSPC,
 * ...), after which what was copied stays copied.
 */
B3CAS_EXTERN int b3cas_backup(b3cas_store *store, const char *dest_dir,
			      int (*on_failure)(const b3cas_oid *id, int err,
						void *ctx),
			      void *ctx, b3cas_backup_report *report);

#ifdef __cplusplus
}
#endif

#endif
