/*
 * store/store_int.h - the store layer's internal interface: what the
 * maintenance layer (gc, fsck, backup, restore, recover) and the store's
 * own files may call beyond the public API. A b3cas_store is an opaque
 * pointer here; its fields are defined in store/handle.h, which only
 * src/store/ includes.
 *
 * Every function that changes an object's entries takes the id's stripe
 * lock itself, or says "under id's stripe lock" (the caller holds it,
 * from b3cas__store_stripe).
 */
#ifndef B3CAS_STORE_STORE_INT_H
#define B3CAS_STORE_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "b3cas/git.h"
#include "b3cas/hash.h"
#include "b3cas/store.h"
#include "cache/cache.h"
#include "cache/l2.h"
#include "digest/digest.h"
#include "index/index.h"
#include "tier/rados.h"
#include "layout/objects.h"
#include "layout/path.h"
#include "stripe/stripes.h"

/*
 * What the layers above may know of a handle (store/access.c): they hold
 * a b3cas_store as an opaque pointer; its fields are the store layer's.
 */
b3cas_layout *b3cas__store_layout(b3cas_store *s);
b3cas_index *b3cas__store_index(b3cas_store *s);
b3cas_digest *b3cas__store_digest(b3cas_store *s);
/* The L2 cache, or NULL when the handle has none (yet). */
b3cas_l2 *b3cas__store_l2(b3cas_store *s);
bool b3cas__store_read_only(const b3cas_store *s);
/* The duplicate filter (NULL when none could be made). */
struct b3cas_filter *b3cas__store_filter(b3cas_store *s);
/* A collection removed objects (bytes in all) in ns nanoseconds: count
 * it, and let the filter rebuild when it has gone stale. */
void b3cas__store_note_gc(b3cas_store *s, uint64_t objects, uint64_t bytes,
			  uint64_t ns);
/* n objects were removed some other way (fsck's repairs): the filter may
 * rebuild. */
void b3cas__store_note_removed(b3cas_store *s, uint64_t n);
/* Under id's stripe lock, before an index write that adds id (fsck
 * indexing an orphan file): the filter must hold every indexed id. */
void b3cas__store_filter_add(b3cas_store *s, const b3cas_oid *id);

/* Begin a hash with the store's algorithm (digest/digest.h goes on). */
int b3cas__store_hasher_init(b3cas_digest_state *h, b3cas_store *s);

/* One-shot hash of data with the store's algorithm. */
int b3cas__store_hash(b3cas_store *s, b3cas_oid *out, const void *data,
		      size_t len);

/* ---- reading and writing objects (store/put.c, entry.c, sync.c) ---- */

/* B3CAS_EPERM with a message when the store is read-only. */
int b3cas__store_check_writable(const b3cas_store *s, const char *what);

/*
 * Store object id of len bytes, with its bytes either in data (inline or
 * written as a loose file here) or already in temp file tmp (which is
 * published or discarded). Returns 0 (new) or 1 (duplicate: one more
 * reference), or an error.
 */
int b3cas__store_publish(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp);

/*
 * A key of the meta family that names the object whose reference a put
 * takes (value: the id), written in the very batch that takes it: a
 * lease's 'q' key (lease.c). NULL: none.
 */
typedef struct b3cas__tag {
	const uint8_t *key;
	size_t klen;
	/* More keys written with it (the git mapping's, gitmap.c), and the
	 * value of this one: NULL for the id the write names. */
	const struct b3cas__tag *next;
	const uint8_t *val;
	size_t vlen;
} b3cas__tag;

/* Add tag (may be NULL) and those chained to it, naming id, to b. */
void b3cas__batch_tag(b3cas_store *s, rocksdb_writebatch_t *b,
		      const b3cas__tag *tag, const b3cas_oid *id);

/* b3cas__store_publish, with tag written in the batch that takes the
 * reference. */
int b3cas__store_publish_tag(b3cas_store *s, const b3cas_oid *id,
			     const void *data, size_t len, b3cas_tmpfile *tmp,
			     const b3cas__tag *tag);

/* b3cas_lease_put (linked: b3cas_lease_put_linked), with the keys of
 * extra (may be NULL) written in the batch that takes the reference.
 * known (may be NULL): the data's id, hashed already by the caller with
 * b3cas__store_hash (not hashed again). */
int b3cas__lease_put_tags(b3cas_lease *l, b3cas_oid *id_out, const void *data,
			  size_t len, bool linked, const b3cas_oid *links,
			  size_t nlinks, const b3cas__tag *extra,
			  const b3cas_oid *known);

/* b3cas_lease_commit, with the keys of extra (may be NULL) written in
 * the batch that takes the reference, and named (may be NULL) called as
 * b3cas__writer_finish_named calls it. */
int b3cas__lease_commit_tags(b3cas_lease *l, b3cas_writer *w,
			     b3cas_oid *id_out, const b3cas__tag *extra,
			     void (*named)(void *nctx, const b3cas_oid *id),
			     void *nctx);

/* The store a lease is of. */
b3cas_store *b3cas__lease_store(const b3cas_lease *l);

/* ---- git mappings (store/gitmap.c) ---- */

/* Add to b (which removes id's entry) the deletion of id's git mappings,
 * if the store has any. */
void b3cas__gitmap_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				 const b3cas_oid *id);
/* Does the index hold any git mapping? 1, 0, or an error. */
int b3cas__gitmap_any(b3cas_store *s);

/* For fsck (maint/fsck_gitmap.c): a mapping's keys are 'g' algo gitid
 * (at most B3CAS__GITMAP_FWD_MAX bytes) -> version type size id, and
 * 'G' id algo type (B3CAS__GITMAP_REV_LEN bytes) -> gitid. */
#define B3CAS__GITMAP_FWD_MAX (2 + 32)
#define B3CAS__GITMAP_REV_LEN (1 + 32 + 2)
/* A forward key k (klen bytes) and its value v (vlen) into *o: 0, or
 * B3CAS_ECORRUPT with a message (malformed). */
int b3cas__gitmap_decode(const uint8_t *k, size_t klen, const uint8_t *v,
			 size_t vlen, b3cas_git_object *o);
/* o's forward key into fk (its length returned), reverse key into rk and
 * forward value into fv (B3CAS__GITMAP_FWD_VAL bytes). */
#define B3CAS__GITMAP_FWD_VAL (2 + 8 + 32)
size_t b3cas__gitmap_keys(const b3cas_git_object *o, uint8_t *fk,
			  uint8_t *rk, uint8_t *fv);
/* git's id (o's algo and type) of stored object o->id, read in pieces:
 * 0 with *got and *size, or the read's error. */
int b3cas__gitmap_rehash(b3cas_store *s, const b3cas_git_object *o,
			 b3cas_git_oid *got, uint64_t *size);

/* Drop every lease reference a process that ended left (lease.c): at a
 * writable open, when no other process can hold a lease. */
int b3cas__leases_release_all(b3cas_store *s);

/*
 * Read object id's index entry: *size_out, *is_inline_out and, when
 * value_out is not NULL and the object is inline, the pinned entry (the
 * bytes start at B3CAS_ENTRY_HEADER_LEN). B3CAS_ENOTFOUND when absent.
 */
int b3cas__store_entry(b3cas_store *s, const b3cas_oid *id,
		       uint64_t *size_out, bool *is_inline_out,
		       rocksdb_pinnableslice_t **value_out);

/* Open loose object id of size bytes, telling a concurrent delete
 * (B3CAS_ENOTFOUND) from a missing file the index claims (ECORRUPT). */
int b3cas__store_open_loose(b3cas_store *s, const b3cas_oid *id,
			    uint64_t size, int *fd_out);

/* The stripe lock of id. */
pthread_mutex_t *b3cas__store_stripe(b3cas_store *s, const b3cas_oid *id);

/*
 * Under id's stripe lock: 1 if id is a GC candidate (with its size, kind
 * and, unless since_ns is NULL, the time it became one), 0 if it is not
 * (absent or referenced), or an error.
 */
int b3cas__store_candidate(b3cas_store *s, const b3cas_oid *id,
			   uint64_t *since_ns, uint64_t *size,
			   bool *is_inline);

/* Add the removal of id's index entries to b, and forget it as known
 * live (filter/known.h). Under id's stripe lock. */
void b3cas__store_batch_remove(b3cas_store *s, rocksdb_writebatch_t *b,
			       const b3cas_oid *id);
/* Does index entry v (len bytes, as stored) have the shape of an entry
 * of its kind? */
bool b3cas__store_entry_shape_ok(const uint8_t *v, size_t len);
/*
 * The content an entry keeps in the index (every kind but loose; a
 * chunked object: its chunks, through its manifest, hashed whole) checked
 * against id: 1 sound, 0 damaged or malformed (the message says how), or
 * an error when it cannot tell. *hashed (may be NULL) grows by the bytes
 * hashed. A packed entry's bytes are read with ro (NULL: the latest; a
 * walk of a snapshot passes the snapshot's).
 */
int b3cas__store_entry_sound(b3cas_store *s, const rocksdb_readoptions_t *ro,
			     const b3cas_oid *id, const uint8_t *v, size_t len,
			     uint64_t *hashed);
/* A key of a packed store's data family that no entry names (fsck). */
typedef struct b3cas__pack_orphan {
	uint64_t seq;    /* its sequence number (0 when malformed) */
	b3cas_oid id;    /* what its bytes hash to */
	size_t len;      /* how many bytes it holds */
	bool malformed;  /* a key that is not 16 bytes */
	bool sound;      /* its bytes hash to the id its key names */
	bool removed;    /* with repair: the key was deleted */
} b3cas__pack_orphan;
typedef int (*b3cas__pack_orphan_fn)(const b3cas__pack_orphan *o,
				     void *ctx);
/*
 * Call fn for every key of the data family (packed stores) that no
 * content entry names, as one snapshot of the index has them: bytes no
 * read can reach, left by a fault (writes of a key and its entry are
 * one batch). With repair (writable handles) each is deleted first: no
 * entry can name it later, as keys only grow. 0, fn's non-zero value,
 * or an error. Nothing to do (0) in a store that does not pack.
 */
int b3cas__store_pack_orphans(b3cas_store *s, bool repair,
			      b3cas__pack_orphan_fn fn, void *ctx);
/* After removals of chunked objects (b3cas__store_batch_remove): release
 * the chunks their manifests held, which may make chunks GC candidates;
 * *released (may be NULL) counts the manifests. Not under a stripe lock. */
int b3cas__store_release_chunks(b3cas_store *s, uint64_t *released);

/* Add to b the entries of loose object id (size bytes) as a GC candidate
 * marked now: no references, its bytes kept until a collection. For fsck,
 * which indexes orphan files so. Under id's stripe lock. */
void b3cas__store_batch_put_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id, uint64_t size);

/* Write b to the index as the store's durability mode says. */
int b3cas__store_write_batch(b3cas_store *s, rocksdb_writebatch_t *b);

/* Before a sweep of GC unlinks files: the index writes made so far
 * durable (none and batch durability; sync.c). */
int b3cas__store_sync_before_unlinks(b3cas_store *s);

/* Count a put (rc 0 new, 1 duplicate; errors are not counted) of n
 * objects of bytes in all, started at t0 (b3cas__now_ns), and a get. */
void b3cas__note_put(b3cas_store *s, uint64_t t0, uint64_t bytes, int rc,
		     uint64_t n);
void b3cas__note_get(b3cas_store *s, uint64_t t0, uint64_t n);

/* ---- held counts against the segments, for fsck (store/held.c) ---- */

/* A chunk whose held count disagrees with the manifests' segments, as
 * one snapshot of the index shows it, and with repair what was done. */
typedef struct b3cas__held_finding {
	b3cas_oid id;         /* the chunk */
	uint64_t in_segments; /* its occurrences in every segment */
	uint64_t held;        /* its held count (0: no key, or malformed) */
	uint64_t refs;        /* its reference count (live entries only) */
	bool has_key;         /* a held count key exists ... */
	bool malformed;       /* ... whose value cannot be read */
	bool stored;          /* a content entry exists ... */
	bool candidate;       /* ... marked a GC candidate */
	bool unreadable;      /* ... that cannot be read, or its count
				 (fsck's walk of the entries reports it):
				 refs not judged */
	/* With repair: the counts were written (mended): the held count
	 * (moved), a candidate made live again (revived), a count raised to
	 * the held count (raised); the held count and reference count after
	 * it. stale: not mended, another check mended held counts after this
	 * one's snapshot. */
	bool mended, moved, revived, raised, stale;
	uint64_t new_held, new_refs;
	/* node: a manifest node (chunked.c), not a chunk: id is its id,
	 * in_segments the references to it, held its count (has_key,
	 * malformed: its count key), stored: its list is there; with
	 * repair, new_held is its count after. */
	bool node;
} b3cas__held_finding;

/*
 * Under s->held_lock, for fsck's repair: move node's count by what one
 * snapshot showed (refs references, count recorded), under the node's and
 * its chunks' stripe locks, unless a release moved no count since the
 * snapshot (s->held_clamps no longer clamps: f->stale). A node nothing
 * names goes, with its chunks' references, as a last release would.
 * Sets f's results. 0 or an error.
 */
int b3cas__chunked_node_mend(b3cas_store *s, const b3cas_oid *node,
			     uint64_t refs, uint64_t recorded,
			     uint64_t clamps, b3cas__held_finding *f);

typedef int (*b3cas__held_fn)(b3cas__held_finding *f, void *ctx);

/*
 * In a chunking store (else 0 at once): from one snapshot of the index,
 * count every chunk's occurrences in every segment (stored objects', GC
 * candidates', puts under way, removals not yet released) and call fn
 * for each chunk that is damaged: its held count differs from them (no
 * key, a key for a chunk no segment holds, a malformed one), it is a GC
 * candidate or not stored while segments hold it, or its reference count
 * is below its occurrences. A chunk that is not stored but whose held
 * count is right is left to fsck's walk of the entries when a manifest
 * that walk reads names it (that object is reported corrupt). With repair (a writable handle), each is mended first, as
 * held.c says: its held count moved to its occurrences, its reference
 * count raised to cover them, a candidate revived; nothing is lowered
 * but the held count, nothing freed. fn runs with no lock of the store
 * held, on the calling thread; its non-zero return stops the walk and
 * is returned. Other threads may use the store meanwhile.
 *
 * Memory: one map entry per distinct chunk (chunk_map.h). Returns 0,
 * fn's value, B3CAS_ENOMEM, or an index error (B3CAS_ECORRUPT: part of
 * the index cannot be read, so nothing was judged).
 */
int b3cas__store_check_held(b3cas_store *s, bool repair, b3cas__held_fn fn,
			    void *ctx);

/* ---- links, for backup and restore (store/chunked.c) ---- */

/* The links of object id as stored now: 1 and *links (malloc'd, *n of
 * them, in no set order; NULL when none; the caller frees it), 0 when id
 * holds no links, or an error (B3CAS_ECORRUPT: its links top or one of
 * its nodes is damaged or missing; B3CAS_ENOMEM; B3CAS_EIO). */
int b3cas__links_read(b3cas_store *s, const b3cas_oid *id, b3cas_oid **links,
		      size_t *n);
/* 1 if object id holds links here, 0 if not, or an error. */
int b3cas__links_held(b3cas_store *s, const b3cas_oid *id);

/* ---- the reserve (store/reserve.c) ---- */

/* Writing handles, at open: make the reserve whole if there is room, and
 * say whether the handle is low on space. Never fails. */
void b3cas__reserve_ensure(b3cas_store *s);
/* Empty the reserve (the index could not be opened for want of space, or
 * an index write while low on space): low on space from here on. */
void b3cas__reserve_release(b3cas_store *s);
/* A write met a full disk: low on space (the reserve stays until needed). */
void b3cas__reserve_note_full(b3cas_store *s);
/* Before an index write: give up the reserve if the handle is low on
 * space and still holds it, so the write finds room. */
void b3cas__reserve_before_write(b3cas_store *s);
/* Before writing a new object: 0, or B3CAS_ENOSPC ("disk full") while the
 * handle is low on space and the check finds no more room. */
int b3cas__reserve_check_room(b3cas_store *s);
/* The same before writing bytes bytes of new content into the index (an
 * inline object, a segment's chunks): also B3CAS_ENOSPC, and low on space,
 * unless the file system has room for them and a reserve's worth beside:
 * the index's log must never be the write that meets a full disk (RocksDB
 * fails every later write then, until the store is opened again). */
int b3cas__reserve_check_index_room(b3cas_store *s, uint64_t bytes);

/* ---- the caches (store/caches.c) ---- */

/* At open: make L1 with l1_bytes, and L2 when l2_bytes > 0. */
int b3cas__caches_open(b3cas_store *s, uint64_t l1_bytes, uint64_t l2_bytes);
void b3cas__caches_close(b3cas_store *s);
/* id is no longer stored (its last reference went) or was collected:
 * drop it from L1 (and, collected, from L2). After the index write. */
void b3cas__caches_forget(b3cas_store *s, const b3cas_oid *id,
			  bool collected);

/* ---- reads, corruption and healing (store/get.c, store/heal.c) ---- */

/* Read id through the caches (not looking in L1 first): verified, put in
 * L1 (and L2 from the tier); *out is the caller's reference. */
int b3cas__store_load(b3cas_store *s, const b3cas_oid *id,
		      b3cas_blob **out);

/*
 * A read found object id's bytes corrupt (rc, its message set): count it
 * and, for a loose file (loose), move the file to quarantine, saying so in
 * the message. Returns rc.
 */
int b3cas__store_on_corrupt(b3cas_store *s, const b3cas_oid *id,
			    uint64_t len, bool loose, int rc);

/*
 * Is folder a the store, its object tier, a folder inside one of them,
 * or a folder holding the store? Compared by device and inode (see
 * util/within.h). 0 with *out set, or an error.
 */
int b3cas__store_overlaps(b3cas_store *s, const char *a, bool *out);

/*
 * Check the mirror (mirror_dir) before anything trusts it: it must not
 * overlap the store and must open read-only as a store of this hash (it
 * stays open for the reads that heal); without must_exist a mirror
 * folder that does not exist is only checked for overlap. 0 (also with
 * no mirror), or
 * B3CAS_EINVAL (it overlaps), B3CAS_ENOTFOUND (missing, empty, not a
 * store), B3CAS_EFORMAT (another hash or format), B3CAS_ENOMEM, ...
 */
int b3cas__store_mirror_check(b3cas_store *s, bool must_exist);

/*
 * Fetch object id from the mirror (mirror_dir) and write it back here
 * (writable handles) under its stripe lock, if it is still stored with
 * that size. 0 with the bytes in *buf_out (malloc'd; buf_out may be NULL),
 * or an error: B3CAS_ENOTFOUND (no mirror, or it cannot be opened), the
 * mirror's read's (not there, not good there), B3CAS_ENOMEM.
 */
int b3cas__store_heal(b3cas_store *s, const b3cas_oid *id, void **buf_out,
		      size_t *len_out);

/*
 * A read found id corrupt (rc; msg, its message) and b3cas__store_heal
 * failed with heal_rc (its message the current one): B3CAS_ENOMEM when
 * the mirror could not be read for want of memory (the next read tries
 * again), else rc; the message says both.
 */
int b3cas__store_heal_failed(b3cas_store *s, int rc, const char *msg,
			     int heal_rc);

/* ---- objects from elsewhere: restore, recover, fsck (store/adopt.c) ---- */

/* Add id's content entry (a live object of len bytes; data when inline)
 * to b. Under id's stripe lock. */
void b3cas__store_batch_put_entry(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, const void *data,
				  size_t len, bool is_inline);

/*
 * How an object's bytes reach b3cas__store_publish and its relatives: in
 * data (len bytes; may be NULL when len is 0), or already in temp file tmp
 * (len bytes), which the callee consumes (publishes or discards) whatever
 * it returns.
 */
typedef int (*b3cas__publish_fn)(b3cas_store *s, const b3cas_oid *id,
				 const void *data, size_t len,
				 b3cas_tmpfile *tmp, void *ctx);

/* A writer that stages its bytes in a temp file (or its buffer) whatever
 * the store, for b3cas__writer_finish with a publisher of the caller's:
 * b3cas_writer_open's writers of a chunking store store chunks as they
 * go, and only b3cas_writer_commit may finish those. */
int b3cas__writer_open_staged(b3cas_writer **out, b3cas_store *s);
/*
 * Finish writer w as b3cas_writer_commit does (hash, spill what outgrew
 * the buffer), but hand the bytes to publish instead of an ordinary put.
 * *id_out (may be NULL) gets the hash of what was written. Returns what
 * publish returns; w is freed either way. Not counted as a put. A
 * writer of a chunking store's own (b3cas_writer_open's) commits itself,
 * with tag (may be NULL) in its batch.
 */
/* Writer w's store, and the bytes written to it so far. */
b3cas_store *b3cas__writer_store(const b3cas_writer *w);
uint64_t b3cas__writer_total(const b3cas_writer *w);
int b3cas__writer_finish(b3cas_writer *w, b3cas_oid *id_out,
			 b3cas__publish_fn publish, void *ctx,
			 const b3cas__tag *tag);
/* b3cas__writer_finish, calling named(nctx, id) (NULL: none) once the
 * bytes' id is known and before anything is published: it may fill in
 * keys of tag that name the id (gitmap.c's). */
int b3cas__writer_finish_named(b3cas_writer *w, b3cas_oid *id_out,
			       b3cas__publish_fn publish, void *ctx,
			       const b3cas__tag *tag,
			       void (*named)(void *nctx, const b3cas_oid *id),
			       void *nctx);

/*
 * Store object id (bytes as for b3cas__publish_fn) with *refs references
 * (0 counts as 1), but only if the index holds no content entry for id: a
 * stored object, or a GC candidate, is left as it is. A reference count
 * that outlived its content entry (a damaged index) is kept rather than
 * replaced, and *refs set to it. Under id's stripe lock. 0 stored with
 * *refs, 2 stored with the count that was kept, 1 left alone (tmp
 * discarded), or an error.
 */
int b3cas__store_adopt(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, b3cas_tmpfile *tmp, uint64_t *refs);

/*
 * The same for a loose file already at its place in the tier, whose bytes
 * the caller has checked (len bytes that hash to id).
 */
int b3cas__store_adopt_file(b3cas_store *s, const b3cas_oid *id,
			    uint64_t len, uint64_t *refs);

/*
 * Under id's stripe lock: if id is stored (one or more references), set
 * its reference count to count (> 0). 0 changed, 1 nothing to do (not
 * stored, a GC candidate, already count, or count 0), or an error. For
 * backups, whose counts follow the store they copy.
 */
int b3cas__store_set_refs(b3cas_store *s, const b3cas_oid *id,
			  uint64_t count);
/* The same, with only_raise: never lower a count. In a chunking store
 * count is the callers' part: what its chunked objects hold of id (its
 * held count, chunked.h) is kept on top of it. */
int b3cas__store_set_refs_at_least(b3cas_store *s, const b3cas_oid *id,
				   uint64_t count, bool only_raise);

/*
 * Put good bytes of id over a damaged copy, keeping its reference count:
 * under id's stripe lock, if id is still stored with size len and its
 * copy here is still damaged (a loose file missing, of the wrong size or
 * not hashing to id; an inline entry not hashing to id), a damaged file is
 * moved to integrity/quarantine/ and the new bytes published (a loose
 * file by rename, an inline entry rewritten). 0 replaced, 1 nothing to do
 * (the copy is sound, or the object went meanwhile), or an error
 * (B3CAS_ECORRUPT when the index records another size).
 */
int b3cas__store_replace(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp);

/* ---- open for recover (store/open.c) ---- */

/*
 * b3cas_store_open, for b3cas_recover: with rebuilding, a store whose
 * index is being rebuilt (B3CAS_RECOVER_MARKER present) opens; every
 * other open refuses it with B3CAS_ECORRUPT.
 */
int b3cas__store_open(b3cas_store **out, const char *root,
		      const b3cas_store_options *opts, bool rebuilding);

/*
 * Present while b3cas_recover rebuilds the index, from before it changes
 * the index until the rebuilt one is complete and durable, so a rebuild
 * that was interrupted is never taken for a complete store.
 */
#define B3CAS_RECOVER_DIR "integrity/recover"
#define B3CAS_RECOVER_MARKER B3CAS_RECOVER_DIR "/rebuilding"

/* ---- quarantine and file checks, bound to the handle (store/access.c) ---- */

/*
 * A read found loose object id (size bytes) corrupt: under its stripe
 * lock, hash the file again and, if it still does not match, move it to
 * integrity/quarantine/. 1 if moved, 0 if not (read-only handle, or the
 * file changed or went meanwhile). Never sets the error message.
 */
int b3cas__quarantine_loose(b3cas_store *s, const b3cas_oid *id,
			    uint64_t size);

/*
 * Under id's stripe lock, with the file already found damaged under that
 * lock: move loose object id's file to integrity/quarantine/. 1 if moved,
 * 0 if not (read-only handle, no file, or it cannot be moved). Counts it
 * in the store's quarantined counter. Never sets the error message.
 */
int b3cas__quarantine_move_locked(b3cas_store *s, const b3cas_oid *id);

/*
 * Hash the open file fd to its end through buf (buf_len bytes): 1 if it
 * holds exactly size bytes that hash to id, 0 if not, -1 if it cannot
 * tell (no hasher). Bytes read are added to *hashed (may be NULL).
 */
int b3cas__file_check(b3cas_store *s, int fd, const b3cas_oid *id,
		      uint64_t size, uint8_t *buf, size_t buf_len,
		      uint64_t *hashed);

/*
 * Loose objects, wherever they live (store/tier.c): files under objects/,
 * or a RADOS store's pool (docs/rados.md). Every layer goes through these
 * rather than layout/objects.h, so that a RADOS store's objects and the
 * cluster's counts of them move with its index.
 *
 * b3cas__loose_write and _publish store a new object's bytes (revive: a
 * GC candidate that the put revives, whose bytes are there already);
 * _publish consumes tmp whatever it returns. _remove removes an object
 * whose index entry goes next (a RADOS store: this host's reference,
 * then the object if no host holds it). _open opens one for reading
 * (a RADOS store: its bytes in a file in memory), checking its size.
 */
bool b3cas__store_tiered(const b3cas_store *s);

/* fsck's view of a RADOS store's pool (store/tier.c). b3cas__tier_list
 * visits every object of its namespace, every host's (a non-zero return
 * stops the walk and is returned; *others, may be NULL, counts names that
 * are not ids). b3cas__tier_check_count judges, under id's stripe lock,
 * this host's count of id in the pool against its index: 1 for a live
 * entry, 0 or 1 for a GC candidate, 0 when the index does not list it.
 * Returns 0 (right, or the object is gone), 1 (wrong: *c says how; with
 * repair the count is set right, and an object nobody counts is
 * collected), or a code. */
typedef struct b3cas__pool_count {
	int64_t mine;        /* this host's count, as found */
	int want_min, want_max;
	const char *listed;  /* what the index says: "holds", ... */
	int64_t set_to;      /* with repair: the count now */
	bool mended;
} b3cas__pool_count;
int b3cas__tier_list(b3cas_store *s,
		     int (*visit)(void *ctx, const b3cas_oid *id), void *ctx,
		     uint64_t *others);
int b3cas__tier_check_count(b3cas_store *s, const b3cas_oid *id,
			    bool repair, b3cas__pool_count *c);
/* This host's count of id in the pool (B3CAS_ENOTFOUND: not there). */
int b3cas__tier_count(b3cas_store *s, const b3cas_oid *id, int64_t *mine);
/* Parts of big objects that no head names (tier/rados.h): listed, judged
 * (orphans only once a day old: a put in progress writes its parts
 * before its head) and removed if still orphans. */
#define B3CAS_PART_MIN_AGE (24u * 3600u)
int b3cas__tier_list_parts(b3cas_store *s,
			   int (*visit)(void *ctx, const b3cas_rados_part *p),
			   void *ctx);
int b3cas__tier_part_orphaned(b3cas_store *s, const b3cas_rados_part *p,
			      uint64_t *age_s);
int b3cas__tier_part_remove(b3cas_store *s, const b3cas_rados_part *p);
int b3cas__loose_write(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, bool revive);
int b3cas__loose_publish(b3cas_store *s, b3cas_tmpfile *tmp,
			 const b3cas_oid *id, bool revive);
int b3cas__loose_remove(b3cas_store *s, const b3cas_oid *id);
int b3cas__loose_open(b3cas_store *s, const b3cas_oid *id, uint64_t size,
		      int *fd_out);

#endif
