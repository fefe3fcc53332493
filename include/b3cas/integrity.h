/*
 * b3cas/integrity.h - checking a whole store (fsck) and repairing it.
 *
 * Reads already verify what they return (see b3cas_store_get). b3cas_fsck
 * goes through everything: it re-hashes every object, inline and loose,
 * compares the index with the files of the object tier, and looks for
 * leftovers. Without repair it changes nothing. b3cas_backup copies the
 * objects into another store; b3cas_restore brings them back from one;
 * b3cas_recover rebuilds a lost or damaged index.
 *
 * Thread safety: b3cas_fsck may run while other threads use the store;
 * what they put, delete or collect meanwhile may or may not be seen, and
 * is never reported as a problem because of the race: every finding is
 * examined again under its id's stripe lock (its index entry and its file
 * read again) before it is reported or repaired, and a repair never
 * re-indexes an object that GC is collecting. (Chunks' held counts are
 * judged from one snapshot of the index, which never shows half of a
 * change, and mended under the chunk's lock by the difference it showed.)
 *
 * Beside another process: a check-only b3cas_fsck through a read-only
 * handle sees the index as it was when the handle opened. The findings
 * that the writer's later work could cause (missing, orphan, an L2 copy
 * of an object not held) are judged again after their phase against the
 * index opened afresh, twice (the second look 2 s later for an orphan
 * whose file is seconds old), and reported only if they hold both times
 * (an orphan or a copy: the very file found, unchanged). A put stalled for
 * longer than that between publishing its file and writing its entry can
 * still be reported as an orphan; objects put after the check are not
 * seen. docs/store.md ("fsck beside a writer") has the details.
 *
 * b3cas_fsck itself checks on several threads (opts->threads); its
 * callbacks are still called one at a time (see b3cas_fsck_options).
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
	/* The index names a loose file that is missing (not for a GC
	 * candidate: GC unlinks the file before it removes the entry). */
	B3CAS_FSCK_MISSING,
	/* A loose file whose size is not the one the index records. */
	B3CAS_FSCK_WRONG_SIZE,
	/* A file in the object tier named by no index entry whose bytes
	 * match its name: an unacknowledged put's, one GC could not finish,
	 * or a sound object the index lost; nothing tells which. With repair
	 * it is indexed as a GC candidate (no reference: nothing deleted
	 * comes back; a put revives it), or with the count the refs column
	 * family kept for it when that is 2 or more. */
	B3CAS_FSCK_ORPHAN,
	/* A file in the object tier that is not an object: a bad name, the
	 * wrong folder, or a file named by an id whose bytes do not match;
	 * also anything in the tier's top folder but its 00..ff folders
	 * (objects/strayfile, objects/zz/). With repair it is moved to
	 * integrity/quarantine/ (never deleted). In a RADOS store's pool: a
	 * part of a big object that no head names, a day old or more (left
	 * by a put or a collection cut short); with repair it is removed
	 * from the pool (no object's bytes: the head that named it is gone,
	 * or names another generation). */
	B3CAS_FSCK_STRAY,
	/* An index entry that cannot be read. */
	B3CAS_FSCK_MALFORMED,
	/* A reference count with no object. */
	B3CAS_FSCK_DANGLING_REFS,
	/* A copy in the L2 cache (cache/l2/) that must not be kept: its
	 * bytes do not hash to its name, it is not the stored object's size,
	 * or the store no longer holds that object. With repair it is
	 * deleted (it is only a cache: nothing is lost). */
	B3CAS_FSCK_CACHE_COPY,
	/* The index itself is damaged: RocksDB cannot read part of it (a
	 * table block or its log fails its checksum). The entries there
	 * cannot be checked, nor repaired by fsck: run b3cas_recover (with
	 * a backup if there is one), which keeps what still reads, rebuilds
	 * the rest from the object files and the backup, and names what is
	 * lost. No id; path is the index folder. Never repaired by fsck. */
	B3CAS_FSCK_INDEX,
	/* A staging file in tmp/ (the store's own "<pid>.<n>.tmp" names)
	 * left by a process that is gone, or not written to for an hour: a
	 * put that never finished. Its bytes were never an object. With
	 * repair it is removed. (A writing open also clears tmp/.) */
	B3CAS_FSCK_STAGING,
	/* Chunking stores: a chunk whose held count (the part of its
	 * reference count that chunked objects' manifests hold) is not the
	 * number of times the manifests' segments name it (too low, too
	 * high, missing, or kept for a chunk no segment names), or that
	 * segments name while it is a GC candidate (GC would free it) or
	 * not stored, or whose reference count is below that number. No
	 * path. With repair, under the chunk's stripe lock: its held count
	 * is set to the segments' number, its reference count raised to
	 * cover it if it is below, a GC candidate revived; a count is never
	 * lowered but the held count, and nothing is freed. */
	B3CAS_FSCK_HELD_COUNT,
	/* Chunking stores: a manifest node (a shared part of chunked
	 * objects' chunk lists) whose count is not the number of manifests
	 * and pending puts or removals that name it, or that they name while
	 * its list is missing, or a node or count that nothing names. The
	 * id is the node's. With repair, under the node's and its chunks'
	 * stripe locks: its count is set to that number; a node nothing
	 * names goes, releasing its chunks as its last release would. A
	 * missing list cannot be mended (the objects that name it are
	 * corrupt). */
	B3CAS_FSCK_NODE_COUNT,
	/* A name (b3cas_name_set) or a lease's reference that names an
	 * object that is not stored, or the links of a linked object whose
	 * entry is gone. The id is that object's. Never repaired: the bytes
	 * are lost (b3cas_restore from a backup brings them back). */
	B3CAS_FSCK_ROOT,
	/* A git mapping (b3cas/git.h) that is wrong: a forward key that does
	 * not decode, that maps to an object not stored, or to one whose
	 * content hashes to another git id with git's hash (every mapped
	 * object is re-hashed so); a reverse key missing, or one whose
	 * forward key is missing or names another object. The id is the
	 * object's (none for a key that does not decode). With repair, under
	 * the object's stripe lock: a missing reverse key is written; a
	 * mapping that cannot be trusted is removed, both keys (the object
	 * stays; an import puts it back); a reverse key alone is removed. */
	B3CAS_FSCK_GIT_MAP,
	/* RADOS stores: this host's count of an object in the pool (the
	 * h.<host> count, docs/rados.md) is not what its index says: none
	 * for an object it holds (another host could collect it), or one or
	 * more for an object it does not list (a leak: a put killed between
	 * the pool and the index leaves one), or more than one. The id is
	 * the object's. Judged under the object's stripe lock, on writable
	 * handles only (a read-only one cannot hold back the writer's puts).
	 * With repair: the count is set to what the index says; an object
	 * no host counts any more is removed from the pool. */
	B3CAS_FSCK_TIER_COUNT
} b3cas_fsck_kind;

/* "corrupt", "missing", ..., "cache-copy", "index", "staging",
 * "held-count", "node-count", "root", "git-map", "tier-count"; "unknown" for other
 * values. A static string; never fails. */
B3CAS_EXTERN const char *b3cas_fsck_kind_name(b3cas_fsck_kind kind);

typedef struct b3cas_fsck_problem {
	b3cas_fsck_kind kind;
	bool has_id;
	b3cas_oid id;
	/* The file concerned, in full (the store's or the tier's folder as
	 * the store was opened with, then the file's name), or NULL (an
	 * inline object, a reference count). */
	const char *path;
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

#define B3CAS_FSCK_OPTIONS_VERSION 1

typedef struct b3cas_fsck_options {
	unsigned version; /* B3CAS_FSCK_OPTIONS_VERSION */
	/* Repair: quarantine corrupt files, heal from the mirror (the
	 * store's mirror_dir), re-index sound orphans (as GC candidates: see
	 * B3CAS_FSCK_ORPHAN), remove strays and entries that cannot be kept,
	 * set chunks' held counts right (B3CAS_FSCK_HELD_COUNT), rebuild the
	 * bloom filter. Needs a writable handle. */
	bool repair;
	/* Called for each problem, outside any store lock; the problem is
	 * borrowed for the call. The checking threads call it one at a time
	 * (never two calls at once, so ctx needs no lock of its own), in no
	 * particular order, and not necessarily on the caller's thread. A
	 * non-zero return stops every thread after the object each is on,
	 * and no further problem is passed to it. */
	int (*on_problem)(const b3cas_fsck_problem *problem, void *ctx);
	void *ctx;
	/* If set, called about ten times a second while the objects are
	 * checked, and once at the end (with ctx), on the thread that called
	 * b3cas_fsck; never at the same time as on_problem (the same lock
	 * serializes both). */
	void (*progress)(const b3cas_progress *progress, void *ctx);
	/* Threads that check objects (0 = one per CPU, at most 256). Each
	 * takes a range of the id space at a time and reads through its own
	 * 1 MiB buffer; the report does not depend on the number. */
	unsigned threads;
} b3cas_fsck_options;

#define B3CAS_FSCK_OPTIONS_INIT \
	{B3CAS_FSCK_OPTIONS_VERSION, false, NULL, NULL, NULL, 0}

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
	/* L2 cache copies looked at, and those that must not be kept
	 * (B3CAS_FSCK_CACHE_COPY, also in problems; with repair, deleted).
	 * Their bytes hashed are in bytes. */
	uint64_t cache_files, cache_copies;
	/* B3CAS_FSCK_INDEX findings (parts of the index that cannot be
	 * read) and B3CAS_FSCK_STAGING ones; both also in problems. */
	uint64_t index_damage, staging;
	/* B3CAS_FSCK_HELD_COUNT findings (also in problems), and with
	 * repair those whose counts were mended. */
	uint64_t held_counts, held_mended;
	/* B3CAS_FSCK_NODE_COUNT findings (also in problems), and with
	 * repair those mended. */
	uint64_t node_counts, node_mended;
	/* B3CAS_FSCK_ROOT findings (also in problems). */
	uint64_t roots;
	/* B3CAS_FSCK_GIT_MAP findings (also in problems), and with repair
	 * those mended. */
	uint64_t git_maps, git_mended;
	/* RADOS stores: the pool's objects looked at (every host's, in the
	 * store's namespace), B3CAS_FSCK_TIER_COUNT findings (also in
	 * problems) and, with repair, those mended. */
	uint64_t tier_objects, tier_counts, tier_mended;
} b3cas_fsck_report;

/*
 * Check the store; opts (NULL: the defaults) and report may be NULL (else
 * it is written when the check ends). Returns 0 when the check ran
 * (whatever it found: see report->problems), or a negative error when it
 * could not run: B3CAS_EPERM (repair on a read-only handle), B3CAS_EIO,
 * B3CAS_ENOMEM (also: no checking thread could be started), B3CAS_EINVAL
 * (NULL store, common.h; an options version this library does not know:
 * start from B3CAS_FSCK_OPTIONS_INIT), or the callback's non-zero value.
 * After an error or a stop the report holds what was done.
 *
 * The store's mirror (mirror_dir) is checked first, with or without
 * repair, before anything is judged or changed: one that does not open as
 * a store of this hash is an error (B3CAS_ENOTFOUND: missing, empty, not
 * a store; B3CAS_EFORMAT: another hash), and one that is the store, inside
 * it or its tier, or holds it is B3CAS_EINVAL. (Without the check a
 * mistyped mirror made every damaged object "lost" and removed it.)
 *
 * Damage to the index itself (a table block or a log record failing its
 * checksum) is not an error: each walk goes on past it, and it is one
 * B3CAS_FSCK_INDEX finding (report->index_damage) per damaged part, which
 * fsck does not repair (b3cas_recover does).
 *
 * L2 copies: a handle with an L2 cache (l2_bytes > 0) has every copy
 * re-hashed; with repair a bad one is deleted through the cache, so its
 * index and folder keep agreeing. A read-only handle (which has no L2)
 * checks the copies in cache/l2/, if any, and only reports. A writable
 * handle without L2 leaves the folder alone: the next handle that uses it
 * verifies each copy on its first read.
 */
B3CAS_EXTERN int b3cas_fsck(b3cas_store *store, const b3cas_fsck_options *opts,
			    b3cas_fsck_report *report);

/* ---- scrub ------------------------------------------------------------------- */

#define B3CAS_SCRUB_OPTIONS_VERSION 1

typedef struct b3cas_scrub_options {
	unsigned version; /* B3CAS_SCRUB_OPTIONS_VERSION */
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

#define B3CAS_SCRUB_OPTIONS_INIT \
	{B3CAS_SCRUB_OPTIONS_VERSION, 0, 0, false, NULL, NULL, NULL}

typedef struct b3cas_scrub_report {
	b3cas_fsck_report found; /* index entries only: objects, bytes, ... */
	bool resumed;            /* started where an earlier scrub stopped */
	bool completed;          /* reached the end: the next one starts over */
} b3cas_scrub_report;

/*
 * Verify the store's objects the way b3cas_fsck does (index entries
 * against their bytes), spread over time, on the calling thread alone
 * (its rate limit and its saved position need one ordered walk, and a
 * scrub is meant to stay in the background): in id order, at most
 * opts->rate_bytes per second, saving its position in
 * integrity/checksums/scrub at least once a second, so a scrub that is
 * stopped (max_objects, a signal, a crash) resumes after the last saved
 * object and never re-reads what it finished. opts and report may be NULL.
 *
 * Errors as b3cas_fsck: B3CAS_EPERM (repair on a read-only handle),
 * B3CAS_EIO, B3CAS_ENOMEM, the error of writing the final position
 * (B3CAS_EIO, B3CAS_ENOSPC, B3CAS_EPERM: the checks were made; the next
 * scrub starts from the last position saved),
 * the mirror's B3CAS_ENOTFOUND, B3CAS_EFORMAT or B3CAS_EINVAL,
 * B3CAS_EINVAL (NULL store; an options version this library does not
 * know: start from B3CAS_SCRUB_OPTIONS_INIT), or the callback's non-zero
 * value. The callbacks run on the calling thread.
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
	/* Objects already there whose reference count was set to this
	 * store's (it had changed since the last backup). */
	uint64_t recounted;
	/* Names set there (new, or naming another object than before). */
	uint64_t names;
} b3cas_backup_report;

#define B3CAS_BACKUP_OPTIONS_VERSION 1

typedef struct b3cas_backup_options {
	unsigned version; /* B3CAS_BACKUP_OPTIONS_VERSION */
	/* Called for each object that could not be read here, with its
	 * error (the message in b3cas_error_last()); the backup goes on
	 * unless it returns non-zero. May be NULL. */
	int (*on_failure)(const b3cas_oid *id, int err, void *ctx);
	void *ctx;
	/* If set, called about ten times a second (done: objects looked at;
	 * total: RocksDB's estimate of this store's objects; bytes: bytes
	 * copied), and once at the end with total equal to done. */
	void (*progress)(const b3cas_progress *progress, void *ctx);
} b3cas_backup_options;

#define B3CAS_BACKUP_OPTIONS_INIT \
	{B3CAS_BACKUP_OPTIONS_VERSION, NULL, NULL, NULL}

/*
 * Copy every stored object that the b3cas store at dest_dir lacks into it
 * (made, with this store's hash, if dest_dir is missing or empty):
 * incremental, so a second backup copies only what is new. Objects are
 * read verified and streamed, so memory stays bounded whatever their size.
 * Reference counts follow this store: a copied object gets its count
 * here, and an object already there whose count differs gets this
 * store's (objects deleted here since stay in the backup with the count
 * they had), so b3cas_restore and b3cas_recover bring the counts back
 * too. Every name is set there to the same object (a name removed here
 * since stays), and every object that only links hold (the trees, files
 * and blobs of a checkpoint: b3cas_store_put_linked) is copied with the
 * object linking to it, so checkpoints and trees are whole there. Each
 * run appends a line to
 * integrity/backup/log. A backup store is what mirror_dir, `b3cas fsck
 * --repair --mirror`, b3cas_restore and b3cas_recover bring objects back
 * from.
 *
 * opts may be NULL for the defaults, and report may be NULL. Returns 0
 * when every object was handled (see report->failed), or an error from
 * the destination (B3CAS_ELOCKED, B3CAS_EFORMAT: another hash,
 * B3CAS_ENOSPC, ...), after which what was copied stays copied;
 * B3CAS_EINVAL for a NULL store or dest_dir (common.h), an empty
 * dest_dir, an options version this library does not know (start from
 * B3CAS_BACKUP_OPTIONS_INIT), or a dest_dir that is this store, inside it
 * or its tier, or holds it (by device and inode; nothing is made); or
 * on_failure's non-zero value.
 *
 * Thread safety: other threads may use the store meanwhile (what they put
 * during the walk may or may not be copied); on_failure and progress run
 * on the calling thread. The destination is opened for writing for the
 * call, so no other process may have it open for writing.
 */
B3CAS_EXTERN int b3cas_backup(b3cas_store *store, const char *dest_dir,
			      const b3cas_backup_options *opts,
			      b3cas_backup_report *report);

/* ---- restore ------------------------------------------------------------- */

#define B3CAS_RESTORE_OPTIONS_VERSION 1

typedef struct b3cas_restore_options {
	unsigned version; /* B3CAS_RESTORE_OPTIONS_VERSION */
	/* Called for each object that could not be restored, with its error
	 * (the message in b3cas_error_last() says why: unreadable in the
	 * source, or damaged here with no copy in the source); the restore
	 * goes on unless it returns non-zero. May be NULL. */
	int (*on_failure)(const b3cas_oid *id, int err, void *ctx);
	void *ctx;
	/* As b3cas_backup_options.progress, but total estimates the objects
	 * of the larger store, and bytes counts bytes hashed here and bytes
	 * copied in. */
	void (*progress)(const b3cas_progress *progress, void *ctx);
} b3cas_restore_options;

#define B3CAS_RESTORE_OPTIONS_INIT \
	{B3CAS_RESTORE_OPTIONS_VERSION, NULL, NULL, NULL}

typedef struct b3cas_restore_report {
	uint64_t objects;  /* objects looked at: the source's, and this
			      store's that the source lacks */
	uint64_t restored; /* copied in: this store had no trace of them */
	uint64_t healed;   /* copied over a damaged copy here */
	uint64_t bytes;    /* bytes copied */
	uint64_t failed;   /* could not be restored (on_failure) */
	double seconds;
	/* Names of the source that this store lacked, set here. */
	uint64_t names;
} b3cas_restore_report;

/*
 * Bring this store back from the b3cas store at src_dir (a backup, opened
 * read-only; it must use this store's hash). Every object of the source
 * that this store has no trace of is copied in, with the reference count
 * the source records for it; every object this store holds damaged (a
 * loose file missing, of the wrong size or not hashing to its id; an
 * inline entry not hashing to its id) is copied over the damaged copy,
 * which goes to integrity/quarantine/, keeping the reference count it has
 * here. Each object here is verified before anything is decided, and a
 * sound one is never rewritten. Copies are read verified and streamed
 * (memory stays bounded). An object this store holds damaged that the
 * source lacks, or cannot give good bytes of, is a failure. Each name of
 * the source this store lacks is set here, after its object and all it
 * links to (the trees, files and blobs of a checkpoint) are copied in
 * where missing; a name here is kept as it is. Left alone: GC
 * candidates (deleted here: a restore does not undo deletes, nor sets a
 * name whose object is one; an object a restored one links to is
 * brought back all the same), objects that only links hold here (not
 * hashed: fsck finds a damaged one, `fsck --repair --mirror` heals it),
 * and index entries that cannot be read (failures: `b3cas fsck
 * --repair` removes them, then a restore brings the objects back).
 *
 * Needs a writable handle (B3CAS_EPERM). Other threads may use the store
 * meanwhile: every change is decided again under the id's stripe lock.
 * Each run appends a line ("restore src=...") to integrity/backup/log.
 * opts and report may be NULL. Returns 0 when the restore ran to the end
 * (see report->failed), or an error: the source cannot be opened
 * (B3CAS_ENOTFOUND, B3CAS_EFORMAT: another hash), one of this store
 * (B3CAS_ENOSPC, B3CAS_EIO, ...), after which what was restored stays;
 * B3CAS_EINVAL (NULL store or src_dir, an empty src_dir, unknown options
 * version, a src_dir that is this store, inside it or its tier, or holds
 * it); on_failure's non-zero value.
 */
B3CAS_EXTERN int b3cas_restore(b3cas_store *store, const char *src_dir,
			       const b3cas_restore_options *opts,
			       b3cas_restore_report *report);

/* ---- recover ------------------------------------------------------------- */

/* What b3cas_recover did to the index. */
typedef enum b3cas_recover_action {
	/* The index opened: nothing was changed (run b3cas_fsck to check
	 * the objects). */
	B3CAS_RECOVER_NOTHING = 0,
	/* RocksDB could not open it; its repair (rocksdb_repair_db) made
	 * it open again, then the object files it lacked were indexed. */
	B3CAS_RECOVER_REPAIRED,
	/* The index was missing, or still would not open after a repair:
	 * a new one was built from the object files (and the backup). */
	B3CAS_RECOVER_REBUILT,
	/* The index opened but part of it could not be read back (a table
	 * block failed its checksum): every entry that still reads was
	 * copied into a new index, then the object files it lacked were
	 * indexed. The unreadable key ranges are named in the report. */
	B3CAS_RECOVER_SALVAGED
} b3cas_recover_action;

/* "nothing", "repaired", "rebuilt", "salvaged" (static strings; "unknown"
 * for other values). Never fails. */
B3CAS_EXTERN const char *b3cas_recover_action_name(b3cas_recover_action a);

#define B3CAS_RECOVER_OPTIONS_VERSION 1

typedef struct b3cas_recover_options {
	unsigned version;       /* B3CAS_RECOVER_OPTIONS_VERSION */
	/* A backup (another b3cas store, opened read-only) to take counts
	 * and missing objects from, or NULL. */
	const char *backup_dir;
	/* Called for each object known lost, by id, with why in words
	 * (borrowed for the call); a non-zero return stops the recovery
	 * (it can be run again). May be NULL. */
	int (*on_lost)(const b3cas_oid *id, const char *why, void *ctx);
	void *ctx;
	/* While the object files are hashed: done = files, total 0 (not
	 * known), bytes hashed; then the backup's copy as restore's. */
	void (*progress)(const b3cas_progress *progress, void *ctx);
} b3cas_recover_options;

#define B3CAS_RECOVER_OPTIONS_INIT \
	{B3CAS_RECOVER_OPTIONS_VERSION, NULL, NULL, NULL, NULL}

typedef struct b3cas_recover_report {
	b3cas_recover_action action;
	bool index_missing; /* there was no index (folder missing or empty) */
	bool resumed;       /* a rebuild that had been interrupted was
			       finished */
	/* Where the damaged index was kept, relative to the store folder
	 * ("integrity/recover/index.<unix ns>"), or "". */
	char saved_index[64];
	/* Why RocksDB refused the index, in its words, or "". */
	char index_error[256];
	uint64_t tables_lost;  /* table files RocksDB's repair set aside as
				  damaged (in index/lost/): their entries
				  are gone */
	uint64_t entries_kept; /* entries the repaired index kept */
	uint64_t files;        /* files of the object tier looked at */
	uint64_t bytes;        /* bytes hashed */
	uint64_t reindexed;    /* sound object files indexed again */
	uint64_t counts_kept;  /* of those, with the count the repaired
				  index still held */
	uint64_t counts_from_backup; /* of those, with the backup's count
					(the others have one reference) */
	uint64_t quarantined;  /* files whose bytes do not match their name,
				  moved to integrity/quarantine/ */
	uint64_t skipped;      /* files that are not objects or could not
				  be read: left where they are */
	uint64_t restored;     /* objects copied in from the backup */
	uint64_t restored_bytes;
	uint64_t lost;         /* objects known lost, by id (on_lost): a
				  file not matching its name, a count the
				  repaired index kept for an object nothing
				  could bring back, an object the backup
				  could not give */
	/* Entries of the old index could not be read back (rebuilt, or
	 * tables set aside): objects kept inside it (inline) and counts
	 * other than 1 are gone unless the backup had them, and they
	 * cannot be named. */
	bool index_entries_lost;
	bool from_backup;      /* a backup was used */
	double seconds;
	/* The index opened, but reading every entry back with checksums
	 * verified met damage (index_error says where): action SALVAGED. */
	bool index_damaged;
	/* Key ranges of the damaged index that could not be read, and the
	 * first of them ("content 3a4f1c..3a4f20, refs 00"): every entry
	 * whose key starts so is gone unless the object files or the backup
	 * brought its object back. An object whose count survived is named
	 * through on_lost; one with a single reference that was inline and
	 * not in the backup cannot be named, only placed in a range. */
	uint64_t ranges_unreadable;
	char unreadable[512];
	/* Damaged logs of the index (a bad record with valid ones after
	 * it: RocksDB's point-in-time recovery drops the rest without an
	 * error). A writing open of the store, and recover, copy such a log
	 * to integrity/recover/wal.<unix ns>.<name> before RocksDB replays
	 * it; recover reads the writes after the damage, brings back each
	 * object they stored that the store lacks and whose bytes are in the
	 * log (inline objects, verified by hash) or whose file was indexed,
	 * names the others through on_lost, and renames the copy *.done. */
	uint64_t wal_damaged;  /* damaged logs handled */
	uint64_t wal_after;    /* write batches after the damage */
	uint64_t wal_dropped;  /* object entries those batches wrote */
	uint64_t wal_restored; /* of those, brought back from the log */
	uint64_t wal_unreadable; /* pieces of the logs that fail their
				    checksum: the writes in them cannot be
				    read, nor named */
} b3cas_recover_report;

/*
 * Bring back the index of the store in folder root_dir, which may not
 * open (so it takes the folder, not a handle):
 *  1. if the index opens and every entry of it reads back with its
 *     checksums verified, nothing is changed (action NOTHING); if some
 *     cannot be read (index_damaged), the index folder is copied to
 *     integrity/recover/index.<unix ns>, every entry that still reads is
 *     copied into a new index, the damaged one is moved to
 *     index.<unix ns>.damaged, and the object files the new index lacks
 *     are indexed as in step 2 (action SALVAGED);
 *  2. if RocksDB refuses it, the index folder is first copied to
 *     integrity/recover/index.<unix ns> (nothing is repaired unless the
 *     copy is complete), then repaired by RocksDB in place; if it then
 *     opens (action REPAIRED), the object files it lacks are indexed
 *     (step 3's walk; entries it has are kept untouched, and so is a
 *     reference count that outlived its object's entry);
 *  3. if it still does not open (that folder is moved aside too, as
 *     index.<unix ns>.after-repair), or there was none: a new index is
 *     made and every file of the object tier hashed: a sound one is indexed
 *     with one reference, or the backup's count; one whose bytes do not
 *     match its name goes to integrity/quarantine/ (action REBUILT).
 * Then, with a backup, every object it has and the store has no trace of
 * is copied in with the backup's count (inline objects come back only
 * this way). A reference count that a repaired index kept for an object
 * that nothing brought back names that object as lost, and goes. Objects
 * known lost are named through on_lost.
 * From step 2 on, integrity/recover/rebuilding exists until the new index
 * is complete and durable; meanwhile b3cas_store_open refuses the store,
 * and a recovery run again after an interruption finishes the work.
 *
 * The store must not be open for writing, in this process or another,
 * nor its index held open elsewhere (B3CAS_ELOCKED, naming the holder,
 * before anything is changed: an index in use is not damaged; the lock
 * is never waited for); handles opened read-only before keep the view they
 * had. on_lost and progress are called on the calling thread. The report
 * is filled in as far as the recovery got, also when it fails.
 * opts and report may be NULL. Returns 0 when the recovery ran (see the
 * report for what was done and lost), or an error: not a store
 * (B3CAS_ENOTFOUND, B3CAS_EFORMAT), B3CAS_ELOCKED, the backup cannot be
 * opened, B3CAS_ENOSPC or B3CAS_EIO (nothing more is changed once one
 * happens; running it again continues), B3CAS_EINVAL (NULL or empty
 * root_dir, unknown options version), on_lost's non-zero value.
 */
B3CAS_EXTERN int b3cas_recover(const char *root_dir,
			       const b3cas_recover_options *opts,
			       b3cas_recover_report *report);

#ifdef __cplusplus
}
#endif

#endif
