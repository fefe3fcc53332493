/*
 * b3cas/checkpoint.h - checkpoints: named, timestamped records of a
 * sandbox's state (docs/trees.md, "Checkpoints").
 *
 * A checkpoint records a sandbox name, a time (ns since 1970, UTC), the
 * root tree of its files (optional), named blobs (such as "memory" and
 * "config"), labels, and the checkpoint it follows (optional). It is
 * stored as an object that holds its root tree and its blobs
 * (b3cas_store_put_linked) under the name "ckpt/SANDBOX/TIME" (TIME: 16
 * hex digits), which is its GC root: everything it reaches is kept until
 * the checkpoint is deleted, with no ledger of the caller's. A checkpoint
 * is created whole or not at all (one batch: the record, its links' hold
 * and its name), and deleting one releases what only it held at the next
 * GC.
 */
#ifndef B3CAS_CHECKPOINT_H
#define B3CAS_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (bytes). */
#define B3CAS_CHECKPOINT_SANDBOX_MAX 255 /* no '/', no NUL, not empty */
#define B3CAS_CHECKPOINT_BLOB_NAME_MAX 255
#define B3CAS_CHECKPOINT_LABEL_KEY_MAX 255
#define B3CAS_CHECKPOINT_LABEL_VALUE_MAX 4096
#define B3CAS_CHECKPOINT_ITEMS_MAX 4096 /* blobs, and labels */

typedef struct b3cas_checkpoint_blob {
	const char *name; /* NUL-terminated, 1..255 bytes */
	b3cas_oid id;
} b3cas_checkpoint_blob;

typedef struct b3cas_checkpoint_label {
	const char *key;   /* NUL-terminated, 1..255 bytes */
	const char *value; /* NUL-terminated, 0..4096 bytes */
} b3cas_checkpoint_label;

/* A checkpoint's record. Blobs sort by name and labels by key (bytewise),
 * each unique: create sorts them, and refuses duplicates. */
typedef struct b3cas_checkpoint {
	const char *sandbox;
	int64_t time_ns;  /* create: 0 = now */
	bool has_root;
	b3cas_oid root;   /* a tree (b3cas_tree_put_dir) */
	bool has_parent;
	b3cas_oid parent; /* the checkpoint this one follows */
	size_t blob_count;
	const b3cas_checkpoint_blob *blobs;
	size_t label_count;
	const b3cas_checkpoint_label *labels;
} b3cas_checkpoint;

/*
 * Create checkpoint c (its root and blobs must be stored; time_ns 0: now,
 * and if another checkpoint of the sandbox has that very time, the next
 * free nanosecond). *id_out (may be NULL) gets the record's id and
 * *time_out (may be NULL) its time. The checkpoint holds its root and
 * blobs; the caller's own references to them are left as they were.
 *
 * Errors: B3CAS_EEXISTS (the sandbox has a checkpoint at time_ns),
 * B3CAS_ENOTFOUND (the root or a blob is not stored), B3CAS_EINVAL (NULL;
 * a name, label or count beyond the limits; duplicate blob names or label
 * keys; a negative time), and the store's errors (B3CAS_EPERM, B3CAS_EIO,
 * B3CAS_ENOSPC, ...).
 */
B3CAS_EXTERN int b3cas_checkpoint_create(b3cas_store *store,
					 const b3cas_checkpoint *c,
					 b3cas_oid *id_out, int64_t *time_out);

/*
 * Read checkpoint record id into *out (b3cas_checkpoint_free it; its
 * strings live as long as it does). Errors: B3CAS_ENOTFOUND,
 * B3CAS_EFORMAT (the object is not a checkpoint), B3CAS_ECORRUPT (a
 * record that breaks a rule of the format), B3CAS_ENOMEM, B3CAS_EINVAL
 * (NULL), and those of b3cas_store_get.
 */
B3CAS_EXTERN int b3cas_checkpoint_load(b3cas_store *store, const b3cas_oid *id,
				       b3cas_checkpoint **out);

/* Free a checkpoint from b3cas_checkpoint_load. NULL is a no-op. Never
 * fails. */
B3CAS_EXTERN void b3cas_checkpoint_free(b3cas_checkpoint *c);

/* One checkpoint of a listing: its sandbox, time and record id. Non-zero
 * stops the listing and is returned by it. */
typedef int (*b3cas_checkpoint_fn)(const char *sandbox, int64_t time_ns,
				   const b3cas_oid *id, void *ctx);

/*
 * Call fn for each checkpoint of sandbox (NULL: of every sandbox, by
 * sandbox name), oldest first. Errors: B3CAS_EINVAL (NULL store or fn, a
 * malformed sandbox name), B3CAS_ECORRUPT (a malformed name entry),
 * B3CAS_EIO, or fn's value.
 */
B3CAS_EXTERN int b3cas_checkpoint_list(b3cas_store *store, const char *sandbox,
				       b3cas_checkpoint_fn fn, void *ctx);

/*
 * The last checkpoint of sandbox at or before at_ns (INT64_MAX: the
 * latest): its id in *id_out and its time in *time_out (may be NULL).
 * Errors: B3CAS_ENOTFOUND (none), and those of b3cas_checkpoint_list.
 */
B3CAS_EXTERN int b3cas_checkpoint_find(b3cas_store *store, const char *sandbox,
				       int64_t at_ns, b3cas_oid *id_out,
				       int64_t *time_out);

/*
 * Delete the checkpoint of sandbox at time_ns: its name goes, and with it
 * the reference that kept its record, so the next GC frees what only it
 * held. Errors: B3CAS_ENOTFOUND (no such checkpoint), B3CAS_EINVAL (NULL,
 * a malformed sandbox name), B3CAS_EPERM, B3CAS_EIO, B3CAS_ENOSPC.
 */
B3CAS_EXTERN int b3cas_checkpoint_delete(b3cas_store *store,
					 const char *sandbox, int64_t time_ns);

/* Retention rules for b3cas_checkpoint_prune, as restic's `forget`: a
 * checkpoint is kept if any rule keeps it. Walking from the newest:
 * last keeps the newest N; hourly, daily, weekly keep the newest of each
 * of the N most recent hours, days, ISO weeks (UTC) that have one;
 * within_ns keeps all newer than the newest's time less within_ns. */
typedef struct b3cas_retention {
	uint64_t last, hourly, daily, weekly;
	uint64_t within_ns;
} b3cas_retention;

/* One checkpoint a prune judged: keep true when kept. Non-zero stops. */
typedef int (*b3cas_prune_fn)(const char *sandbox, int64_t time_ns,
			      const b3cas_oid *id, bool keep, void *ctx);

/*
 * Apply retention r to sandbox's checkpoints (NULL: each sandbox's on
 * its own): delete those no rule keeps (with dry_run, none), calling fn
 * (may be NULL) for each, newest first. *removed (may be NULL) counts the
 * deleted (or, dry run, those that would be). Errors: B3CAS_EINVAL (NULL
 * store or r; a retention with no rule at all, which would delete
 * everything), and those of list and delete.
 */
B3CAS_EXTERN int b3cas_checkpoint_prune(b3cas_store *store, const char *sandbox,
					const b3cas_retention *r, bool dry_run,
					b3cas_prune_fn fn, void *ctx,
					uint64_t *removed);

#ifdef __cplusplus
}
#endif

#endif
