/*
 * b3cas/store.h - the content store: objects named by their hash, kept in
 * one folder (see docs/store.md for the on-disk format).
 *
 * An object's id (b3cas_oid) is the BLAKE3-256 hash of its exact bytes (or
 * SHA-256 in a store created in the comparison mode). Small objects live
 * inside the RocksDB index; larger ones are loose files under objects/.
 * Every object carries a reference count: a put of new content creates the
 * object with one reference, a put of content already stored adds one
 * reference and writes nothing else, and a delete removes one reference;
 * the object goes when its last reference does.
 *
 * Thread safety: one b3cas_store handle may be shared by any number of
 * threads; every function taking a store is safe to call concurrently,
 * except b3cas_store_close. Reads take no store-wide lock. A b3cas_writer
 * or b3cas_reader belongs to one thread at a time.
 *
 * Process safety: one process at a time may open a store for writing
 * (B3CAS_ELOCKED otherwise, at once or after lock_timeout_ms); read-only
 * opens work beside it and see the objects that existed when they opened.
 * The lock is held on the store folder itself (and on its LOCK file), so
 * deleting or replacing LOCK does not let a second writer in.
 *
 * Errors: functions return 0 (or a documented non-negative value) on
 * success and a negative B3CAS_E... code on failure, with the detail in
 * b3cas_error_last(). A failed call never loses an object stored before.
 * Every pointer argument is required unless its comment says it may be
 * NULL: a NULL one gives B3CAS_EINVAL (common.h, "API rules"), listed
 * below as "B3CAS_EINVAL (NULL)". Two failures can come from any call
 * that reads the index and are not repeated in every list: B3CAS_EIO (a
 * read that RocksDB or the file system could not do) and B3CAS_ECORRUPT
 * (an index entry that is malformed or a part of the index that fails
 * its checksum: `b3cas fsck` reports it, b3cas_recover mends it).
 *
 * Lifetimes: a store outlives the writers and readers made from it:
 * b3cas_store_close refuses (B3CAS_EBUSY) while any is open. A writer is
 * freed by its commit or abort, a reader by its close: using one again is
 * undefined, as with free().
 */
#ifndef B3CAS_STORE_H
#define B3CAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- object ids --------------------------------------------------------- */

#define B3CAS_OID_LEN 32     /* bytes in an id */
#define B3CAS_OID_HEX_LEN 64 /* characters in its text form */

/* An object id: the 32-byte hash of the object's bytes. */
typedef struct b3cas_oid {
	uint8_t bytes[B3CAS_OID_LEN];
} b3cas_oid;

/*
 * Write id as 64 lower-case hex characters and a NUL into out. Returns out.
 * Never fails; misuse (NULL out or id) returns NULL and writes nothing.
 */
B3CAS_EXTERN char *b3cas_oid_fmt(char out[B3CAS_OID_HEX_LEN + 1],
				 const b3cas_oid *id);

/*
 * Parse exactly 64 hex characters (either case) followed by the end of the
 * string. B3CAS_EINVAL, with a message saying what is wrong (length, the
 * first bad character, NULL), for anything else; out is then unchanged.
 */
B3CAS_EXTERN int b3cas_oid_parse(b3cas_oid *out, const char *text);

/* true when a and b are the same id; false when either is NULL. Never
 * fails. */
B3CAS_EXTERN bool b3cas_oid_equal(const b3cas_oid *a, const b3cas_oid *b);

/* ---- opening a store ----------------------------------------------------- */

typedef struct b3cas_store b3cas_store;

/* How far a write has gone when a put returns. docs/store.md has details. */
typedef enum b3cas_durability {
	/* Never fsync. A put survives a crash of the process at once, but a
	 * power loss may lose any write not flushed by the kernel. */
	B3CAS_DURABILITY_NONE = 0,
	/* Default. A put survives a process crash at once; it reaches stable
	 * storage at the next group flush (every sync_interval_ms, at
	 * b3cas_store_sync and at close). */
	B3CAS_DURABILITY_BATCH = 1,
	/* A put returns only once it is on stable storage. Concurrent puts
	 * share one flush of the index log (group commit). */
	B3CAS_DURABILITY_FULL = 2
} b3cas_durability;

/* The hash that names objects. Fixed when the store is created. */
typedef enum b3cas_hash_algo {
	B3CAS_HASH_DEFAULT = 0, /* create: BLAKE3; open: whatever the store has */
	B3CAS_HASH_BLAKE3 = 1,
	B3CAS_HASH_SHA256 = 2   /* comparison mode for benchmarks (OpenSSL) */
} b3cas_hash_algo;

#define B3CAS_STORE_OPTIONS_VERSION 8

/* The default inline threshold; see docs/store.md for how it was chosen. */
#define B3CAS_INLINE_THRESHOLD_DEFAULT (64u * 1024u)
/* Largest inline threshold a store may be created with. */
#define B3CAS_INLINE_THRESHOLD_MAX (1024u * 1024u)

/* Chunking of large objects (b3cas_store_options.chunking). */
typedef enum b3cas_chunking {
	B3CAS_CHUNKING_DEFAULT = 0,
	B3CAS_CHUNKING_OFF = 1,
	B3CAS_CHUNKING_ON = 2
} b3cas_chunking;

/*
 * How a compressing store keeps the bytes of the objects and chunks it
 * holds in its index (b3cas_store_options.packing; docs/compression.md):
 * packed, in the order they arrive, in blocks that RocksDB compresses
 * whole (neighbouring chunks compress together: 7% smaller on the
 * sandbox corpus), or each in a zstd frame of its own.
 */
typedef enum b3cas_packing {
	B3CAS_PACKING_DEFAULT = 0, /* create: packed; open: the record */
	B3CAS_PACKING_OFF = 1,     /* a zstd frame per object */
	B3CAS_PACKING_ON = 2       /* packed, compressed by the block */
} b3cas_packing;

typedef struct b3cas_store_options {
	unsigned version;        /* B3CAS_STORE_OPTIONS_VERSION */
	bool create;             /* make the store if the folder has none */
	bool read_only;          /* open without the write lock; writes fail */
	b3cas_durability durability;
	/* Objects of at most this many bytes are kept inside the index. Used
	 * when the store is created (0 = the default) and recorded in
	 * b3cas.conf; when opening, 0 or the recorded value. */
	size_t inline_threshold;
	bool verify_on_read;     /* re-hash every object read (default on) */
	b3cas_hash_algo hash;    /* see b3cas_hash_algo */
	/* Batch mode: the longest a put waits for stable storage, in ms
	 * (0 = the default, 1000). */
	unsigned sync_interval_ms;
	/* Version 2 (a version 1 caller gets the defaults below). */
	/* L1 memory cache capacity in bytes; 0 turns it off. An object is
	 * cached when its size plus 192 bytes of bookkeeping is at most
	 * l1_bytes / 256 (docs/cache.md). */
	uint64_t l1_bytes;
	/* L2 cache (cache/l2/ in the store folder) capacity in bytes; 0 (the
	 * default) turns it off. It holds copies of loose objects, each of
	 * at most l2_bytes / 64 bytes; a copy is written by the read that
	 * first fetched the object from the tier. Read-only handles do not
	 * use L2. */
	uint64_t l2_bytes;
	/* Where loose objects live when not in <root>/objects, e.g. on a
	 * slower or network disk while the index and L2 stay local. Given
	 * at create, it is recorded in b3cas.conf and used by later opens;
	 * given at open, it overrides the record (the tier was moved).
	 * NULL: the record, else <root>/objects. */
	const char *objects_dir;
	/* Another b3cas store (a backup or mirror) with the same hash. A read
	 * that finds an object corrupt fetches it from there (opened
	 * read-only, its bytes verified), writes it back here (writable
	 * handles) and returns it: a self-healing read. NULL: none. If the
	 * folder exists, b3cas_store_open checks it (it must open as a store
	 * of this hash: else B3CAS_ENOTFOUND or B3CAS_EFORMAT) and keeps it
	 * open; one that is this store, inside it or holds it is
	 * B3CAS_EINVAL. A folder that does not exist yet is opened, and
	 * checked, by the first read that needs it. */
	const char *mirror_dir;
	/* Version 3 (a version 1 or 2 caller gets 0). */
	/* How long an open for writing waits, in ms, while another process
	 * has the store open for writing: 0 (the default) fails at once
	 * with B3CAS_ELOCKED; B3CAS_LOCK_WAIT_FOREVER waits as long as it
	 * takes. The open polls (every 32 ms at most), so it takes the lock
	 * soon after it is freed; when the time is up it fails with
	 * B3CAS_ELOCKED naming the holder. Read-only opens never wait:
	 * they take no lock. */
	unsigned lock_timeout_ms;
	/* Version 4 (earlier callers get 0: the defaults). */
	/* Store objects larger than the chunk maximum as chunks plus a
	 * manifest, so that equal runs of bytes in different objects are
	 * stored once (docs/chunked-objects.md). Chosen when the store is
	 * created and recorded in b3cas.conf: B3CAS_CHUNKING_DEFAULT (off
	 * when creating; whatever the store records when opening),
	 * B3CAS_CHUNKING_OFF, B3CAS_CHUNKING_ON. Opening with ON or OFF
	 * checks it against the record (B3CAS_EFORMAT). */
	b3cas_chunking chunking;
	/* The average chunk size in bytes when creating a chunking store:
	 * 0 (the default, 4096) or a power of two from 256 to 65536; chunks
	 * are from a quarter of it to four times it. */
	uint32_t chunk_avg;
	/* zstd level for chunks and objects kept in the index, recorded at
	 * create: 0 (off, the default), or 1 to 19 (docs/compression.md).
	 * Opening ignores it: the store's record is used. */
	int compression_level;
	/* Version 5 (earlier callers get 0: the default). */
	/* With compression_level above 0, at create: B3CAS_PACKING_DEFAULT
	 * or _ON packs, _OFF keeps a frame per object (the format of
	 * earlier versions). Recorded in b3cas.conf; opening ignores it. */
	b3cas_packing packing;
	/* Version 6 (earlier callers get 0: the default). */
	/* A packing store, at create: the zstd level of its packed blocks,
	 * 1 to 19, when it is not compression_level (0, the default: the
	 * same), which then applies to what is kept as a frame of its own
	 * (delta chunks). Blocks are compressed again each time RocksDB
	 * compacts them, frames once (docs/compression.md, "Levels").
	 * Recorded in b3cas.conf; opening ignores it. */
	int pack_level;
	/* Version 7 (earlier callers get 0: the default). */
	/* A bound, in bytes, on what the index keeps in memory: its block
	 * caches, its write buffers (memtables) and the store's set of
	 * known ids share it (docs/store.md, "Memory"). 0, the default:
	 * block caches of 256 and 32 MiB, 64 MiB memtables per column
	 * family and 32 MiB of known ids, each filled only as the store is
	 * used. Else at least B3CAS_INDEX_MEMORY_MIN. The L1 cache
	 * (l1_bytes) comes on top. Not recorded: each open chooses. With
	 * glibc's malloc, a process that bounds its memory so should keep
	 * the mmap threshold fixed (mallopt(M_MMAP_THRESHOLD, 131072)):
	 * left to move, it lets each thread's heap keep several MiB freed
	 * (docs/store.md, "Memory"). */
	uint64_t index_memory;
	/* Version 8 (earlier callers get NULL and 0). */
	/* A Ceph RADOS pool that holds the store's objects and their
	 * reference counts, shared with the stores of other hosts on the
	 * same pool and namespace; the folder keeps the index of what this
	 * store holds and the caches (docs/rados.md). At create: makes a
	 * RADOS store (format 3: objects whole, no chunking or compression
	 * yet), recorded in b3cas.conf with rados_conf and rados_namespace.
	 * When opening: NULL, or the recorded pool (else B3CAS_EFORMAT). */
	const char *rados_pool;
	/* The cluster's configuration file (ceph.conf). At create it is
	 * recorded (NULL: librados's own search); when opening, NULL uses
	 * the record and a path overrides it. */
	const char *rados_conf;
	/* The pool's namespace, at create (recorded); NULL: none. When
	 * opening: NULL or the recorded one. */
	const char *rados_namespace;
	/* The longest a cluster operation may take, in ms, before it fails
	 * with B3CAS_EIO naming the cause: 0, the default, is 30 s. */
	unsigned rados_timeout_ms;
} b3cas_store_options;

/* The least b3cas_store_options.index_memory other than 0: 8 MiB. */
#define B3CAS_INDEX_MEMORY_MIN (8u * 1024u * 1024u)

/* The default and the limits of b3cas_store_options.chunk_avg. */
#define B3CAS_CHUNK_AVG_DEFAULT 4096u
#define B3CAS_CHUNK_AVG_MIN 256u
#define B3CAS_CHUNK_AVG_MAX 65536u

/* lock_timeout_ms: wait for the writer lock without a time limit. */
#define B3CAS_LOCK_WAIT_FOREVER 0xffffffffu

/* The default L1 capacity: 128 MiB. */
#define B3CAS_L1_BYTES_DEFAULT (128u * 1024u * 1024u)

#define B3CAS_STORE_OPTIONS_INIT                                          \
	{B3CAS_STORE_OPTIONS_VERSION, false, false, B3CAS_DURABILITY_BATCH,   \
	 0, true, B3CAS_HASH_DEFAULT, 0, B3CAS_L1_BYTES_DEFAULT, 0, NULL, NULL, \
	 0, B3CAS_CHUNKING_DEFAULT, 0, 0, B3CAS_PACKING_DEFAULT, 0, 0, NULL,   \
	 NULL, NULL, 0}

/*
 * Open the store in folder root (with opts->create, make it first if the
 * folder is missing, empty, or left by an interrupted creation). opts may
 * be NULL for the defaults. On success *out is a handle the caller closes
 * with b3cas_store_close.
 *
 * Errors: B3CAS_ENOTFOUND (no store there and not creating), B3CAS_EFORMAT
 * (not a b3cas store: a folder holding other files, at any depth of the
 * layout, which is then left unchanged; a symbolic link where the layout
 * has a folder; an objects folder marked as another store's; another
 * format version, or another hash than opts->hash asks for, or another
 * inline threshold; a LOCK that is not a regular file), B3CAS_ELOCKED
 * (another process has it open for writing, and did not close it within
 * opts->lock_timeout_ms; the message names its pid), B3CAS_EPERM,
 * B3CAS_EIO, B3CAS_ENOSPC, B3CAS_ENOMEM, B3CAS_ERROR (the batch mode's
 * flusher thread could not be started), B3CAS_EINVAL (NULL out or root,
 * an empty root, bad options: a version from 1 to
 * B3CAS_STORE_OPTIONS_VERSION is accepted, an unknown mode or hash is not).
 * *out is written only on success.
 *
 * Lifetime: root, opts and the strings in opts are read during the call
 * only (the store keeps copies). The handle is the caller's until
 * b3cas_store_close. Any thread may open a store; two handles on one
 * folder in one process are two openers (the second writer gets
 * B3CAS_ELOCKED).
 */
B3CAS_EXTERN int b3cas_store_open(b3cas_store **out, const char *root,
				  const b3cas_store_options *opts);

/*
 * Make everything written so far durable (in every mode), then close the
 * store and free the handle, which must not be used again. No other call on
 * the store may be running. Returns the error of the final flush, if any;
 * the handle is freed either way. NULL is accepted. A close that succeeds
 * leaves the thread's error message as it was.
 *
 * Except: while a writer, reader or lease made from the store is open
 * (not yet committed or aborted, closed), the close is refused with
 * B3CAS_EBUSY, the message saying how many are open, and nothing is
 * done: the store stays open and usable, those handles stay valid, and
 * the caller finishes them and closes again. (The same choice as sqlite3_close with
 * statements not finalized: closing under them would leave handles into
 * freed memory, and finishing them here would decide for the caller
 * whether a half-written object is stored.) Views (cache.h) do not count:
 * they outlive the store.
 */
B3CAS_EXTERN int b3cas_store_close(b3cas_store *store);

/*
 * Make every put that has returned so far durable on stable storage,
 * whatever the durability mode: the object files first (syncfs of the
 * object tier's file system), then the index log. A read-only handle has
 * nothing to flush and returns 0 at once.
 *
 * Errors: B3CAS_EIO (the file system or RocksDB could not flush; also
 * every sync after a write to the index failed, which ends writing
 * through this handle: close it and open the store again), B3CAS_ENOSPC
 * (the disk filled while flushing), B3CAS_EINVAL (NULL store). After an
 * error nothing is forgotten: the next sync, group flush or close flushes
 * again.
 *
 * Thread safety: any thread, while others put; concurrent syncs (and the
 * batch mode's group flush) take turns, each returning once what had
 * returned before it began is durable.
 */
B3CAS_EXTERN int b3cas_store_sync(b3cas_store *store);

/*
 * Stop store's writes so that a program can end without
 * b3cas_store_close and leave nothing half written: for a program that
 * was sent SIGINT, SIGTERM or SIGHUP (the b3cas program calls it from a
 * thread that waits for those signals, then dies of the signal).
 *
 * A write that has begun publishing a loose object, or a group of
 * b3cas_gc's removals, ends as ever (files and index entries agree)
 * before this returns; from then on every write that would make a
 * staging file or publish a loose object fails with B3CAS_ECLOSED (an
 * unfinished b3cas_writer's commit, too), as does b3cas_gc at its next
 * group; the staging files of unfinished writes are removed from tmp/;
 * then what was written is made durable as b3cas_store_sync does.
 * Writes that are one index write (inline puts, deletes, references)
 * are not stopped: each is whole or absent anyway.
 *
 * Thread safety: may be called from any thread while others use store,
 * and more than once; not from a signal handler (it takes locks and
 * does I/O). store must still be closed (or the process end). A
 * read-only handle has nothing to stop. Returns 0, B3CAS_EINVAL (NULL
 * store) or the error of the final sync.
 */
B3CAS_EXTERN int b3cas_store_interrupt(b3cas_store *store);

/* Facts about an open store. Borrowed from the store until it closes. */
typedef struct b3cas_store_info {
	const char *root;
	b3cas_hash_algo hash;
	size_t inline_threshold;
	b3cas_durability durability;
	bool read_only;
	unsigned format_version;
	const char *objects_dir; /* where loose objects live */
	/* Chunking (format 2): chunk sizes in bytes, all 0 when off. */
	uint32_t chunk_min, chunk_avg, chunk_max;
	int compression_level;   /* 0: objects are stored uncompressed */
	bool packed;             /* compressed in packed blocks */
	int pack_level;          /* packed: the blocks' level (else 0) */
} b3cas_store_info;

/*
 * Fill *out. Never fails (NULL for either: nothing is written, common.h).
 * The strings in *out are borrowed from the store: valid until it closes.
 */
B3CAS_EXTERN void b3cas_store_info_get(b3cas_store_info *out,
				       const b3cas_store *store);

/* "blake3" or "sha256" ("default" for B3CAS_HASH_DEFAULT or another
 * value): a static string. Never fails. */
B3CAS_EXTERN const char *b3cas_hash_algo_name(b3cas_hash_algo algo);

/* ---- objects -------------------------------------------------------------- */

/*
 * Store len bytes (data may be NULL when len is 0) and write their id to
 * id_out (may be NULL). New content is stored with one reference; content
 * already there gets one more reference. Returns 0 for new content, 1 when
 * the content was already stored (a duplicate), or a negative error:
 * B3CAS_EPERM (read-only store), B3CAS_ENOSPC, B3CAS_EIO, B3CAS_ERANGE
 * (reference count overflow), B3CAS_ECLOSED (new loose content after
 * b3cas_store_interrupt), B3CAS_EINVAL (NULL). data is not
 * kept after the call returns.
 *
 * B3CAS_ENOSPC ("disk full" in the message): the disk is full, or so
 * nearly that new content would take the space the store keeps for
 * deletes and GC (docs/store.md, "A full disk"). Nothing stored before is
 * lost; deletes, b3cas_gc and duplicates still work, and puts of new
 * content work again once space is freed. A write to the index that fails
 * for space (B3CAS_ENOSPC, then B3CAS_EIO for later writes) ends writing
 * through this handle: close it and open the store again.
 */
B3CAS_EXTERN int b3cas_store_put(b3cas_store *store, b3cas_oid *id_out,
				 const void *data, size_t len);

/*
 * Store len bytes that hold links[0..nlinks) (each a stored object; the
 * same id may come more than once): a tree, a checkpoint, any object
 * whose meaning needs others (docs/trees.md, "Objects that hold
 * references"). Returns and references as b3cas_store_put: new content
 * gets one reference, content already there one more. While the object is
 * stored (live or a GC candidate), it holds one reference to each link,
 * which no caller can remove (b3cas_store_delete, refcount: as a chunk's),
 * so GC keeps everything it reaches. When GC removes the object, the
 * references go: links that held no other become candidates themselves,
 * and the same collection goes on with them once the grace period
 * allows. The put is atomic: a crash leaves the object stored with its
 * links, or leaves nothing the next open does not release. The links are
 * given only by the first put of the content: a duplicate keeps the ones
 * it has (the same, since its id names bytes that name them) and an
 * object first stored by b3cas_store_put gets them.
 *
 * Errors: those of b3cas_store_put, and B3CAS_ENOTFOUND (a link is not
 * stored, or is only a GC candidate: nothing is stored), B3CAS_EINVAL
 * (NULL, or more than 16 Mi links).
 */
B3CAS_EXTERN int b3cas_store_put_linked(b3cas_store *store, b3cas_oid *id_out,
					const void *data, size_t len,
					const b3cas_oid *links, size_t nlinks);

/*
 * Read object id into a new buffer *data_out of *len_out bytes, which the
 * caller frees with b3cas_free (a 0-byte object gives a non-NULL buffer).
 * With verify_on_read the bytes are re-hashed first. The buffer is the
 * caller's alone: it does not refer to the store (free it before or after
 * the close) and nothing else changes it. The outputs are written only on
 * success.
 *
 * Errors: B3CAS_ENOTFOUND, B3CAS_ECORRUPT (the stored bytes do not match
 * id, or the index names a loose file that is missing or of the wrong
 * size: nothing is returned; a writable handle moves such a loose file to
 * integrity/quarantine/, keeping it, and counts the event in
 * b3cas_stats; with a mirror_dir the good copy is fetched from the mirror,
 * written back and returned instead), B3CAS_EIO, B3CAS_ENOMEM (also when
 * the object is corrupt and memory ran out while it was fetched from the
 * mirror: a later read tries the mirror again), B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_store_get(b3cas_store *store, const b3cas_oid *id,
				 void **data_out, size_t *len_out);

/* Free a buffer returned by the store (also after the store closed). NULL
 * is accepted. Never fails. */
B3CAS_EXTERN void b3cas_free(void *ptr);

/* 1 if object id is stored, 0 if not, or a negative error (B3CAS_EIO,
 * B3CAS_EINVAL: NULL). */
B3CAS_EXTERN int b3cas_store_exists(b3cas_store *store, const b3cas_oid *id);

/*
 * Which of n ids are stored: found[i] is set to what b3cas_store_exists
 * would return for ids[i] (in a RADOS store, docs/rados.md: held here, or
 * referenced by another host). What this host holds is answered from L1
 * and its index; in a RADOS store the rest is asked of the pool together,
 * 256 reads in flight, so "which of these 10,000 are
 * missing" takes a few round trips' time, not 10,000. Returns 0, or an
 * error (B3CAS_EIO, B3CAS_ENOMEM; B3CAS_EINVAL: NULL store, or NULL ids
 * or found with n > 0), after which found[] is not complete.
 */
B3CAS_EXTERN int b3cas_store_exists_batch(b3cas_store *store,
					  const b3cas_oid *ids, size_t n,
					  bool *found);

/*
 * Remove one reference to object id. With its last reference the object
 * is no longer stored for every reader (exists, get, stat, foreach) and
 * becomes a GC candidate: b3cas_gc frees its bytes once the grace period
 * has passed, unless a put of the same bytes revives it first. Returns the
 * number of references left (0: now a candidate) or B3CAS_ENOTFOUND,
 * B3CAS_EPERM, B3CAS_EIO, B3CAS_EINVAL (NULL).
 *
 * In a chunking store an object may also be a chunk of chunked objects,
 * which hold references of their own to it. Callers see and remove only
 * theirs: the count returned (and by stat, refcount and ref_add) leaves
 * those out, 0 can then mean "kept as a chunk", and a delete when callers
 * hold none is B3CAS_ENOTFOUND (nothing of the caller's to remove), so no
 * caller can free a chunk that an object still needs.
 */
B3CAS_EXTERN int64_t b3cas_store_delete(b3cas_store *store,
					const b3cas_oid *id);

/* ---- names ------------------------------------------------------------------ */

/*
 * A name is a GC root: it names one stored object and holds one reference
 * to it, so GC keeps the object and everything it links to until the
 * name goes or names another object (docs/store.md, "Names"). Names are 1
 * to B3CAS_NAME_MAX bytes, any but NUL; they sort bytewise, so a
 * hierarchy such as "ckpt/SANDBOX/TIME" lists in order. Every change is
 * one atomic index write, with the references it moves.
 */
#define B3CAS_NAME_MAX 1024u

/*
 * Point name at stored object id, which gets the name's reference; the
 * object it named before (if another) loses it. Returns 0 (a new name), 1
 * (it named an object already), or B3CAS_ENOTFOUND (id is not stored, or
 * only a GC candidate), B3CAS_EINVAL (NULL, an empty or too long name),
 * B3CAS_EPERM (read-only), B3CAS_EIO, B3CAS_ENOSPC.
 */
B3CAS_EXTERN int b3cas_name_set(b3cas_store *store, const char *name,
				const b3cas_oid *id);

/* The object name names, in *id_out: 0, or B3CAS_ENOTFOUND (no such
 * name), B3CAS_ECORRUPT (a malformed name entry), B3CAS_EINVAL (NULL,
 * an empty or too long name), B3CAS_EIO. */
B3CAS_EXTERN int b3cas_name_get(b3cas_store *store, const char *name,
				b3cas_oid *id_out);

/* Remove name; its object loses the name's reference (its last: a GC
 * candidate). 0, or B3CAS_ENOTFOUND (no such name), B3CAS_EINVAL (NULL,
 * an empty or too long name), B3CAS_EPERM, B3CAS_EIO, B3CAS_ENOSPC. */
B3CAS_EXTERN int b3cas_name_delete(b3cas_store *store, const char *name);

/*
 * Call fn for each name that begins with prefix (NULL or "": all), in
 * bytewise order, with the id it names; a non-zero return stops the walk
 * and is returned. Names changed during the walk may or may not be seen.
 * Errors: B3CAS_ECORRUPT (a malformed name entry), B3CAS_EIO,
 * B3CAS_EINVAL (NULL store or fn, a prefix too long for any name).
 */
B3CAS_EXTERN int b3cas_name_foreach(b3cas_store *store, const char *prefix,
				    int (*fn)(const char *name,
					      const b3cas_oid *id, void *ctx),
				    void *ctx);

/*
 * b3cas_store_put_linked and b3cas_name_set in one atomic step: store
 * the object (or find it stored) with its links, and create name for it,
 * which holds the put's reference. A crash leaves both or neither. Returns
 * 0 (new content) or 1 (already stored), or B3CAS_EEXISTS (name exists:
 * nothing is changed), and the errors of both.
 */
B3CAS_EXTERN int b3cas_name_put_linked(b3cas_store *store, const char *name,
				       const void *data, size_t len,
				       const b3cas_oid *links, size_t nlinks,
				       b3cas_oid *id_out);

/* ---- leases ----------------------------------------------------------------- */

/*
 * A lease holds references for a job of many steps (a tree put, a
 * checkpoint's create, an import): each object the lease puts or
 * references gets one reference that the lease holds, recorded in the
 * index by the very write that takes it (docs/store.md, "Leases"). The
 * lease drops them one by one (b3cas_lease_drop) or all at its close. A
 * process that ends with leases open (a crash, kill -9, a power loss)
 * leaves their references to the next open for writing, which drops
 * them: so a job that is killed leaks nothing GC does not collect. A
 * lease may be used from several threads at once. Close every lease
 * before its store: b3cas_store_close refuses (B3CAS_EBUSY) while one is
 * open.
 */
typedef struct b3cas_lease b3cas_lease;
typedef struct b3cas_writer b3cas_writer; /* (streams, below) */

/* A new lease on store, in *out. B3CAS_EPERM (read-only), B3CAS_ENOMEM,
 * B3CAS_EIO (no random name could be drawn), B3CAS_EINVAL (NULL). */
B3CAS_EXTERN int b3cas_lease_open(b3cas_store *store, b3cas_lease **out);

/* b3cas_store_put, with the reference the lease's. Returns 0 (new) or 1
 * (stored already), or the errors of b3cas_store_put (B3CAS_EPERM,
 * B3CAS_ENOSPC, B3CAS_EIO, B3CAS_ERANGE, B3CAS_ENOMEM, B3CAS_EINVAL:
 * NULL). */
B3CAS_EXTERN int b3cas_lease_put(b3cas_lease *lease, b3cas_oid *id_out,
				 const void *data, size_t len);

/* b3cas_store_put_linked, with the reference the lease's. Returns as
 * b3cas_store_put_linked, with its errors (B3CAS_ENOTFOUND: a link is
 * not stored; B3CAS_EPERM, B3CAS_ENOSPC, B3CAS_EIO, B3CAS_EINVAL). */
B3CAS_EXTERN int b3cas_lease_put_linked(b3cas_lease *lease, b3cas_oid *id_out,
					const void *data, size_t len,
					const b3cas_oid *links, size_t nlinks);

/* b3cas_writer_commit, with the reference the lease's (w is freed either
 * way; it must be a writer of the lease's store). Returns as
 * b3cas_writer_commit, with its errors (B3CAS_EINVAL: another store's
 * writer, aborted). */
B3CAS_EXTERN int b3cas_lease_commit(b3cas_lease *lease, b3cas_writer *w,
				    b3cas_oid *id_out);

/* One more reference to stored object id, the lease's. 0, or
 * B3CAS_ENOTFOUND (not stored, or a GC candidate), B3CAS_ERANGE,
 * B3CAS_EPERM, B3CAS_EIO, B3CAS_ENOSPC, B3CAS_ENOMEM, B3CAS_EINVAL
 * (NULL). */
B3CAS_EXTERN int b3cas_lease_ref(b3cas_lease *lease, const b3cas_oid *id);

/* Drop one of the lease's references to id (the last it took). Returns
 * the references the lease still holds to id, or B3CAS_ENOTFOUND (it
 * holds none), B3CAS_EIO, B3CAS_ENOSPC, B3CAS_EINVAL (NULL). */
B3CAS_EXTERN int64_t b3cas_lease_drop(b3cas_lease *lease,
				      const b3cas_oid *id);

/* The number of references the lease holds (0 after B3CAS_EINVAL:
 * NULL). */
B3CAS_EXTERN uint64_t b3cas_lease_count(const b3cas_lease *lease);

/* The store the lease was opened on (NULL after B3CAS_EINVAL: NULL
 * lease). */
B3CAS_EXTERN b3cas_store *b3cas_lease_store(const b3cas_lease *lease);

/* Drop every reference the lease holds and free it (NULL: 0). Returns 0,
 * or the first error of a drop (B3CAS_EIO, B3CAS_ENOSPC): the lease is
 * freed all the same, and what it could not drop is dropped at the next
 * open for writing. */
B3CAS_EXTERN int b3cas_lease_close(b3cas_lease *lease);

/* ---- references and garbage collection ----------------------------------- */

/*
 * Add one reference to stored object id and return the new count, or
 * B3CAS_ENOTFOUND (not stored; a GC candidate counts as not stored: only a
 * put, which brings the bytes, revives one), B3CAS_ERANGE (the count is at
 * its maximum), B3CAS_EPERM (read-only), B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int64_t b3cas_ref_add(b3cas_store *store, const b3cas_oid *id);

/* Remove one reference: the same as b3cas_store_delete, with its errors
 * (B3CAS_ENOTFOUND, B3CAS_EPERM, B3CAS_EIO, B3CAS_EINVAL: NULL). */
B3CAS_EXTERN int64_t b3cas_ref_remove(b3cas_store *store,
				      const b3cas_oid *id);

/*
 * Object id's reference count in *count: 1 or more when it is stored, 0
 * when it is a GC candidate (or, in a chunking store, when only chunked
 * objects hold it: see b3cas_store_delete). B3CAS_ENOTFOUND when there is
 * no trace of it, B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_refcount(b3cas_store *store, const b3cas_oid *id,
				uint64_t *count);

#define B3CAS_GC_OPTIONS_VERSION 1

typedef struct b3cas_gc_options {
	unsigned version;      /* B3CAS_GC_OPTIONS_VERSION */
	/* Remove only candidates unreferenced for at least this long. */
	uint64_t grace_ns;
	/* Change nothing: report what would be removed. */
	bool dry_run;
	/* If set, called for each object removed (or, dry run, that would
	 * be), outside any lock; a non-zero return stops the collection. */
	int (*on_object)(const b3cas_oid *id, uint64_t size, void *ctx);
	void *ctx;
	/* Run at the caller's CPU priority. By default the collection runs
	 * in a thread of its own at the lowest priority (nice 19), so puts
	 * and gets win the CPU from it (on_object is called there). */
	bool normal_priority;
} b3cas_gc_options;

#define B3CAS_GC_OPTIONS_INIT \
	{B3CAS_GC_OPTIONS_VERSION, 0, false, NULL, NULL, false}

typedef struct b3cas_gc_report {
	uint64_t candidates;  /* candidates seen */
	uint64_t young;       /* of those, left alone: inside the grace period */
	uint64_t revived;     /* of those, referenced again before removal */
	uint64_t objects;     /* removed (dry run: would be) */
	uint64_t bytes;       /* their bytes */
	double seconds;       /* how long the collection took */
} b3cas_gc_report;

/*
 * Collect garbage: remove every GC candidate older than the grace period.
 * opts (NULL: the defaults) and report may be NULL; the report is written
 * whenever the walk ran, also when it then failed (it holds what was
 * removed).
 *
 * Errors: B3CAS_EINVAL (NULL store; an options version this library does
 * not know: start from B3CAS_GC_OPTIONS_INIT), B3CAS_EPERM (read-only
 * handle), B3CAS_ENOMEM, B3CAS_EIO or B3CAS_ECORRUPT (the index could not
 * be read or written; B3CAS_ENOSPC for a full disk), B3CAS_ECLOSED (after
 * b3cas_store_interrupt: it stops before its next group of removals), or
 * on_object's non-zero value (it stops there). An object file that cannot
 * be unlinked is not fatal: its object stays a candidate, the collection
 * goes on, and at its end returns that unlink's error (B3CAS_EPERM,
 * B3CAS_EIO, ...) with the number of such files in the message; the next
 * collection tries them again. No failure leaves an object half removed:
 * its file goes before its index entries.
 *
 * Thread safety: it takes no store-wide lock: it walks the candidates in
 * id order and holds one id's stripe lock at a time, re-checking under it
 * that the object is still a candidate, so puts, gets, deletes and other
 * GCs go on while it runs and a put that revives an object wins. The
 * callback runs on the collecting thread (not the caller's unless
 * normal_priority) and may call the store's functions, except
 * b3cas_store_close.
 */
B3CAS_EXTERN int b3cas_gc(b3cas_store *store, const b3cas_gc_options *opts,
			  b3cas_gc_report *report);

/*
 * Give back the disk space of what was removed: rewrite the index's
 * tables without the bytes of objects b3cas_gc removed and of chunks
 * rewritten as deltas. The index keeps them until RocksDB compacts the
 * tables that hold them, in its own time; in a packed store (objects'
 * bytes in the index) that is most of what removals free. It reads and
 * writes the whole index once (a packed store's objects compress again
 * at the store's level: seconds per GB). Puts, gets and GC go on
 * meanwhile (b3cas_store_interrupt does not stop it). Errors:
 * B3CAS_EPERM (read-only handle), B3CAS_EINVAL (NULL). A failure of the
 * compaction itself (a full disk) is not seen here: the writes after it
 * fail (B3CAS_ENOSPC, B3CAS_EIO).
 */
B3CAS_EXTERN int b3cas_store_compact(b3cas_store *store);

/*
 * Would a put of these bytes be a duplicate? Hashes them, writes the id to
 * id_out (may be NULL) and sets *is_dup, storing nothing. The in-memory
 * bloom filter answers most "new" cases without touching the index.
 * data may be NULL when len is 0; data is not kept after the call. A GC
 * candidate counts as not stored (a put would store it anew). The answer
 * may be out of date by the time it is used: another thread may put or
 * delete the same content meanwhile.
 *
 * Errors: B3CAS_EIO or B3CAS_ECORRUPT (the index entry for these bytes
 * could not be read, or is malformed), B3CAS_ERROR (a SHA-256 store whose
 * OpenSSL digest failed), B3CAS_EINVAL (NULL store or is_dup; NULL data
 * with len > 0). On an error *id_out is not written.
 */
B3CAS_EXTERN int b3cas_dedup_check(b3cas_store *store, const void *data,
				   size_t len, b3cas_oid *id_out,
				   bool *is_dup);

/* Latency quantiles of one kind of operation, in seconds. */
typedef struct b3cas_latency {
	uint64_t count;
	double sum, p50, p90, p99, p999;
} b3cas_latency;

/*
 * What b3cas_store_stats reports. The figures of what is stored exclude
 * GC candidates (counted apart in candidates and candidate_bytes). In a
 * chunking store (format 2) a chunk is an object of its own whose count
 * holds its callers' references and one per occurrence in a manifest;
 * "callers' references" below are that count less those occurrences (a
 * format 1 store has none: they are the count). Objects of a format 1
 * store have 0 in every chunk field, 1 in the ratios of none, and
 * stored_bytes == physical_bytes. docs/store.md, "What stats counts".
 */
typedef struct b3cas_stats {
	/* What is stored: one walk of the index, from one snapshot. */
	uint64_t objects;          /* stored (referenced) index entries:
				      objects callers put, chunks, chunked
				      objects */
	uint64_t inline_objects;   /* of those, not loose files */
	uint64_t references;       /* sum of their callers' references */
	uint64_t logical_bytes;    /* sum of size x callers' references:
				      what callers put and still hold (a
				      chunked object with its whole size) */
	uint64_t physical_bytes;   /* distinct content: the sizes of every
				      stored object but chunked ones (whose
				      bytes are their chunks), each once */
	double dedup_ratio;        /* logical / physical (1 when empty) */
	uint64_t candidates;       /* unreferenced, waiting for GC */
	uint64_t candidate_bytes;
	/* What this handle did since it was opened. */
	uint64_t puts;             /* calls that stored an object */
	uint64_t dedup_puts;       /* of those, content already stored */
	uint64_t put_bytes;        /* bytes given to them */
	uint64_t gets, deletes;
	uint64_t bloom_skips;      /* puts the filter proved new: no lookup */
	uint64_t bloom_hits;       /* filter said maybe, and it was stored */
	uint64_t bloom_false_positives; /* filter said maybe, and it was not */
	uint64_t corrupt_reads;    /* reads that found bytes not matching
				      their id (nothing was returned) */
	uint64_t quarantined;      /* of those, loose files moved to
				      integrity/quarantine/ */
	uint64_t healed;           /* of those, served from the mirror */
	uint64_t gc_runs, gc_objects, gc_bytes;
	double gc_seconds;
	b3cas_latency put, get, del;
	/* Chunking, compression and the disk: the same walk and snapshot. */
	uint64_t chunked_objects;  /* stored objects kept as a manifest of
				      chunks */
	uint64_t chunked_bytes;    /* their sizes, each object once */
	uint64_t chunks;           /* distinct chunks their manifests name */
	uint64_t chunk_refs;       /* occurrences of chunks in those
				      manifests */
	uint64_t chunk_ref_bytes;  /* chunk lengths over every occurrence
				      (equals chunked_bytes) */
	uint64_t chunk_bytes;      /* the distinct chunks' bytes, each once */
	double chunk_dedup_ratio;  /* chunk_ref_bytes / chunk_bytes (1 when
				      no chunk) */
	uint64_t stored_bytes;     /* physical bytes as stored: a compressed
				      entry's frame, others their size */
	uint64_t compressed_objects; /* stored objects kept compressed */
	double compression_ratio;  /* physical / stored (1 when empty) */
	uint64_t manifest_bytes;   /* the stored chunked objects' manifests:
				      tops and segments */
	uint64_t disk_bytes;       /* what the store folder (and the object
				      tier, when elsewhere) takes on disk,
				      as du -sB1 counts it: the index, its
				      logs, every file, at that moment */
} b3cas_stats;

/*
 * Fill *out. The first group and the chunk fields walk the whole index
 * (about a second per million objects) from one snapshot, reading every
 * manifest segment as well; disk_bytes walks the store folder (the
 * RocksDB files may change between two calls); the others are counters
 * of this handle since open, each read atomically (not all at one
 * instant, as other threads go on). Memory: about 100 bytes per distinct
 * chunk while the call runs (none in a format 1 store).
 *
 * Errors: B3CAS_ENOMEM (nothing walked, or the chunk map could not
 * grow), B3CAS_ECORRUPT (a malformed index entry or a damaged manifest,
 * or a part of the index failing its checksum), B3CAS_EIO (the walk could
 * not read the index, or a file or folder of the store could not be
 * measured), B3CAS_EINVAL (NULL store or out). After an error *out holds
 * zeros or a partial count: do not use it. Thread-safe: the walk holds
 * no lock.
 */
B3CAS_EXTERN int b3cas_store_stats(b3cas_store *store,
				   b3cas_stats *out);

/* What b3cas_store_stat and b3cas_store_foreach report of an object. */
typedef struct b3cas_object_info {
	b3cas_oid id;
	uint64_t size;     /* bytes */
	uint64_t refs;     /* references */
	bool is_inline;    /* kept inside the index, not as a loose file */
} b3cas_object_info;

/* Fill *out for object id. B3CAS_ENOTFOUND if it is not stored,
 * B3CAS_EIO, B3CAS_EINVAL (NULL). */
B3CAS_EXTERN int b3cas_store_stat(b3cas_store *store, const b3cas_oid *id,
				  b3cas_object_info *out);

/*
 * Call fn once per stored object (GC candidates are skipped), in id
 * order, until it returns non-zero (that value is then returned, whatever
 * its sign). The info is borrowed for the call only. The walk reads one
 * snapshot of the index, taken when it starts: objects put or deleted
 * after that are seen as they were then. ctx is passed to fn as it is.
 *
 * Errors: fn's non-zero value; B3CAS_ECORRUPT (a malformed index entry
 * stops the walk there; a part of the index failing its checksum ends it
 * early), B3CAS_EIO (the walk could not read the index), B3CAS_EINVAL
 * (NULL store or fn, before fn is called). On an error fn has been called
 * for the objects before the failure.
 *
 * Thread safety: fn runs on the calling thread and may call the store's
 * functions, except b3cas_store_close: the walk holds no lock.
 */
B3CAS_EXTERN int b3cas_store_foreach(b3cas_store *store,
				     int (*fn)(const b3cas_object_info *info,
					       void *ctx),
				     void *ctx);

/*
 * Store n objects at once: like n calls of b3cas_store_put, but hashed side
 * by side and written to the index in one atomic write. data[i] may be NULL
 * when lens[i] is 0. If ids_out is not NULL, ids_out[i] receives each id;
 * if dup_out is not NULL, dup_out[i] is set to whether object i was
 * already stored (or was an earlier item of the same batch). Either every
 * object is stored or, on error, none of the new ones are referenced.
 * data and lens may be NULL when n is 0. Errors as b3cas_store_put;
 * B3CAS_EINVAL also names an item whose data is NULL.
 */
B3CAS_EXTERN int b3cas_store_put_batch(b3cas_store *store, b3cas_oid *ids_out,
				       bool *dup_out,
				       const void *const *data,
				       const size_t *lens, size_t n);

/*
 * Read n objects at once. For each i, on success data_out[i] is a buffer
 * of lens_out[i] bytes that the caller frees with b3cas_free, and
 * results[i] is 0; otherwise data_out[i] is NULL and results[i] is the
 * error (B3CAS_ENOTFOUND, B3CAS_ECORRUPT, ...). Returns 0 when every item
 * succeeded, otherwise the first item's error (the other items are still
 * filled in). results may be NULL when the caller only needs the summary;
 * ids, data_out and lens_out may be NULL when n is 0. B3CAS_EINVAL (NULL)
 * before any item is read.
 */
B3CAS_EXTERN int b3cas_store_get_batch(b3cas_store *store,
				       const b3cas_oid *ids, size_t n,
				       void **data_out, size_t *lens_out,
				       int *results);

/* ---- streaming ------------------------------------------------------------ */

typedef struct b3cas_writer b3cas_writer;

/*
 * Start a streaming put: the object's bytes are given in any number of
 * b3cas_writer_write calls, hashed as they arrive and spilled to a file
 * under tmp/ once they exceed the inline threshold, so memory stays
 * constant whatever the size. End with b3cas_writer_commit or
 * b3cas_writer_abort, which free the writer; until then the store cannot be
 * closed (B3CAS_EBUSY). The writer needs no file yet: its staging file in
 * tmp/ is made by the write that outgrows its buffer (a buffer of the
 * inline threshold, at least 256 KiB, allocated here).
 *
 * Errors: B3CAS_EPERM (read-only handle), B3CAS_ENOMEM (the writer, its
 * buffer or, in a SHA-256 store, its digest context could not be
 * allocated), B3CAS_EINVAL (NULL out or store). *out is written only on
 * success. The failures of space and I/O come later, from the writes and
 * the commit.
 *
 * Lifetime and threads: the caller owns *out until the commit or abort;
 * one thread uses it at a time (another may take it over between calls).
 * Any number of writers may be open on one store at once.
 *
 * The spilled bytes take their size in free space even when the content
 * turns out to be stored already. To store a file that may be there
 * without that, hash it first and try b3cas_ref_add (B3CAS_ENOTFOUND: not
 * stored, or a GC candidate, which only a put revives), as `b3cas put`
 * does.
 */
B3CAS_EXTERN int b3cas_writer_open(b3cas_writer **out, b3cas_store *store);

/*
 * Append len bytes (data may be NULL when len is 0). On error the writer
 * is left aborted: call _abort (except B3CAS_EINVAL for a NULL data, which
 * leaves the writer as it was). Errors as b3cas_store_put (B3CAS_ENOSPC,
 * B3CAS_EIO, ...), B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_writer_write(b3cas_writer *w, const void *data,
				    size_t len);

/*
 * Publish the object, write its id to id_out (may be NULL) and free the
 * writer. Returns 0 (new content), 1 (duplicate: one more reference) or a
 * negative error, after which nothing was stored and w is freed too
 * (except B3CAS_EINVAL for a NULL w). w must not be used again: a second
 * commit or an abort after the commit is undefined.
 */
B3CAS_EXTERN int b3cas_writer_commit(b3cas_writer *w, b3cas_oid *id_out);

/*
 * Name the object this one is a new version of (the same memory image at
 * the checkpoint before, a file as it was), before the first
 * b3cas_writer_write. In a store that chunks and compresses, the base's
 * chunks that the new object's chunks replace are then rewritten as zstd
 * frames against them, when that saves enough ("delta chunks",
 * docs/chunked-objects.md): the two versions together cost about one
 * and what differs, and the new one reads as fast as without a base (the
 * older one decodes). The ids and the bytes read back are the same as
 * without a base; either may be deleted afterwards (what the other needs
 * of it is kept). In other stores, and for objects of at most a chunk,
 * it changes nothing.
 * Errors: B3CAS_ENOTFOUND (base is not stored), B3CAS_EINVAL (NULL, a
 * write already made, or a base already set), the writer's own failure
 * (it is then dead), or an index error.
 */
B3CAS_EXTERN int b3cas_writer_set_base(b3cas_writer *w, const b3cas_oid *base);

/* Throw the bytes away (its staging file is removed) and free the writer.
 * NULL is accepted. Never fails. */
B3CAS_EXTERN void b3cas_writer_abort(b3cas_writer *w);

/*
 * Range read: copy up to len bytes of object id from offset into buf;
 * *nread (may be NULL) gets how many (fewer than len only at the end of
 * the object; 0 at or past it). A chunked object reads only the chunks
 * the range overlaps, each hashed against its id, its manifest segment
 * checked against the object's id (docs/chunked-objects.md). Any other
 * object is served from the L1 cache when it is there; else a read of
 * the whole of it (offset 0, len at least its size) goes straight into
 * buf and is verified there, nothing copied in between nor kept in L1,
 * and a part is read whole, verified as b3cas_store_get does, kept in L1
 * and copied. What fails its check is counted, quarantined and healed
 * as by b3cas_store_get; after an error, what buf holds is undefined.
 * Errors as b3cas_store_get, B3CAS_EINVAL (NULL store, id, or buf with
 * len > 0).
 */
B3CAS_EXTERN int b3cas_store_read_at(b3cas_store *store, const b3cas_oid *id,
				     uint64_t offset, void *buf, size_t len,
				     size_t *nread);

typedef struct b3cas_reader b3cas_reader;

/*
 * Open object id for streaming reads with constant memory. With
 * verify_on_read, the whole object is hashed when it is opened, so a
 * corrupt object fails here (B3CAS_ECORRUPT) before any byte is handed
 * out, and the bytes are hashed again while they are read: if the file
 * changes after it was opened, the read that would finish it fails with
 * B3CAS_ECORRUPT instead of completing. The caller closes the reader with
 * b3cas_reader_close; until then the store cannot be closed (B3CAS_EBUSY).
 * Errors as b3cas_store_get, B3CAS_EINVAL (NULL).
 */
B3CAS_EXTERN int b3cas_reader_open(b3cas_reader **out, b3cas_store *store,
				   const b3cas_oid *id);

/* b3cas_reader_open_flags: check a loose object at the final read only. */
#define B3CAS_READER_CHECK_AT_END 1u

/*
 * b3cas_reader_open with flags (0: the same). With
 * B3CAS_READER_CHECK_AT_END, for a caller that reads the whole object
 * once and can undo what it did with the bytes (a restore removes the
 * file it wrote): a loose object is not hashed at open; its bytes are
 * hashed once, as they are read, and the read that reaches the end
 * returns B3CAS_ECORRUPT when they do not match id (the file then goes
 * to quarantine as for any corrupt read, and is counted). The bytes
 * handed out before that final read are not checked yet, and a reader
 * closed before it checks nothing. Inline and chunked objects are
 * checked before their bytes are handed out, as by b3cas_reader_open;
 * with a mirror_dir, so are loose ones (a damaged object is healed at
 * open only). Half the reads of b3cas_reader_open for a loose object.
 * Errors as b3cas_reader_open; B3CAS_EINVAL also for an unknown flag.
 */
B3CAS_EXTERN int b3cas_reader_open_flags(b3cas_reader **out,
					 b3cas_store *store,
					 const b3cas_oid *id, unsigned flags);

/* The object's size in bytes. Never fails (0 for a NULL r). */
B3CAS_EXTERN uint64_t b3cas_reader_size(const b3cas_reader *r);

/*
 * Copy up to len next bytes of the object into buf. Returns the number of
 * bytes copied (0 at the end of the object) or a negative error:
 * B3CAS_EIO, B3CAS_ECORRUPT, B3CAS_EINVAL (NULL r, or buf with len > 0;
 * the reader is then left as it was).
 */
B3CAS_EXTERN int64_t b3cas_reader_read(b3cas_reader *r, void *buf,
				       size_t len);

/* Close the reader, which must not be used again. NULL is accepted. Never
 * fails. */
B3CAS_EXTERN void b3cas_reader_close(b3cas_reader *r);

#ifdef __cplusplus
}
#endif

#endif
