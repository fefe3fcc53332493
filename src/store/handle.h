/*
 * store/handle.h - the store handle, private to the store layer: only
 * files in src/store/ include this header (scripts/check_layers.sh fails
 * the build otherwise). Every other layer holds a b3cas_store as an
 * opaque pointer and goes through the functions of store/store_int.h.
 *
 * It also declares what the store layer's own files share with each
 * other and with no one else.
 */
#ifndef B3CAS_STORE_HANDLE_H
#define B3CAS_STORE_HANDLE_H

#include "store/store_int.h"
#include <stdatomic.h>

#include "filter/filter.h"
#include "tier/rados.h"
#include "filter/known.h"
#include "util/histogram.h"

/* Batch mode's flusher (sync.c): the thread and what it has to flush. */
typedef struct b3cas__flush {
	pthread_t thread;
	bool started;
	bool stopping;              /* under lock */
	pthread_mutex_t lock;       /* one flush at a time */
	pthread_cond_t wake;
	unsigned interval_ms;
	atomic_bool dirty_index;
	atomic_bool dirty_objects;
	atomic_int error;           /* first background flush failure */
} b3cas__flush;

/* Operation counters and latencies since open (stats.c). */
typedef struct b3cas__counters {
	atomic_ullong puts, dup_puts, put_bytes, gets, deletes;
	atomic_ullong corrupt_reads, quarantined, healed;
	atomic_ullong gc_runs, gc_objects, gc_bytes, gc_ns;
	b3cas_histogram lat_put, lat_get, lat_delete;
} b3cas__counters;

/* Self-healing reads (heal.c): the mirror store, opened read-only when
 * first needed (under lock), or NULL. */
typedef struct b3cas__mirror {
	char *dir;
	b3cas_store *_Atomic store;
	pthread_mutex_t lock;
} b3cas__mirror;

/* The reserve (reserve.c): low refuses new objects. */
typedef struct b3cas__reserve {
	atomic_bool low;
	atomic_bool held;           /* the file has blocks */
	pthread_mutex_t lock;
	/* index room (reserve.c, check_index_room): bytes of new content
	 * the last look at the file system allows without another, and
	 * when that look was (b3cas__now_ns; 0: none yet) */
	_Atomic int64_t room_budget;
	_Atomic uint64_t room_seen_ns;
} b3cas__reserve;

/*
 * Caches (caches.c). l1 always exists (capacity 0 = off) and never holds
 * an object that is not stored: the delete of its last reference erases
 * it after the index write, and a reader offers what it read only with a
 * ticket taken before it read. l2 is made when first given a capacity
 * (writable handles only) and lives until close; l2_lock guards making
 * it.
 */
typedef struct b3cas__caches {
	b3cas_cache *l1;
	atomic_ullong l1_capacity;
	b3cas_l2 *_Atomic l2;
	pthread_mutex_t l2_lock;
} b3cas__caches;

/*
 * The handle: the mechanisms it composes (each owning its own state) and
 * the store's own parts, each a small struct above.
 */
struct b3cas_store {
	b3cas_layout lay;          /* the folder, b3cas.conf, LOCK, files */
	b3cas_index *ix;           /* the RocksDB index */
	b3cas_digest digest;       /* the hash algorithm and its pool */
	/* B3CAS_STRIPES locks in a writable handle, B3CAS_STRIPES_READ_ONLY
	 * in a read-only one (stripe/stripes.h). */
	b3cas_stripes stripes;
	b3cas_filter *filter;      /* NULL when none could be made */
	/* Ids known stored and referenced (filter/known.h); per stripe,
	 * under its lock. NULL in a read-only handle. */
	b3cas_known *known;
	b3cas__caches cache;
	b3cas_durability durability;
	bool verify;
	uint64_t index_memory; /* b3cas_store_options.index_memory */
	bool read_only;
	b3cas__flush flush;
	b3cas__mirror mirror;
	b3cas__reserve reserve;
	b3cas__counters count;
	/* fsck's mends of held counts (held.c): how many were written, so a
	 * check mends only while none was written since its snapshot (a
	 * difference applied twice would be wrong). Under held_lock. */
	pthread_mutex_t held_lock;
	uint64_t held_mends;
	/* Releases and puts that could not move a held count by their
	 * segments' amount (it was already too low, or unreadable: chunked.c,
	 * held_add_locked), counted once their batch is written, still under
	 * the chunks' locks. A check whose snapshot is older than one of them
	 * cannot mend by difference; it reports and the next check mends. */
	atomic_ullong held_clamps;
	/* The store has (or had, since open) objects that hold references
	 * (links: b3cas_store_put_linked), so its held counts, removals and
	 * releases are kept as a chunking store's are. Set at open when the
	 * index has any, and by the first put of links before it writes. */
	atomic_bool links;
	/* The index has (or had, since open) git mappings (gitmap.c), so a
	 * removal deletes an object's mappings too. Set at open when it has
	 * any, and by the first git put before it writes. */
	atomic_bool gitmap;
	/* Names (names.c): one change of any name at a time; taken before
	 * any stripe lock. */
	pthread_mutex_t names_lock;
	/* Delta chunks (delta.c): one rebase at a time, so that no two make
	 * a loop of bases; taken before any stripe lock. */
	pthread_mutex_t rebase_lock;
	/* Writers and readers open on this handle (stream.c): close refuses
	 * with B3CAS_EBUSY while either is not 0, since each holds a
	 * pointer to the handle. */
	atomic_uint open_writers, open_readers;
	/* Leases open (lease.c): the close refuses while there are any. */
	atomic_uint open_leases;
	/* Packed stores, writable handles: the key the next bytes put into
	 * the data column family get (pack.c). */
	atomic_ullong pack_next;
	/* A RADOS store's pool (tier.c), or NULL. */
	b3cas_rados *tier;
};

/* ---- shared by the store layer's files ---- */

/* One index entry as a walk sees it (store/walk.c): payload (the entry's
 * bytes after its header) is borrowed for the call to fn only. */
typedef struct b3cas__walk_entry {
	b3cas_oid id;
	uint64_t size;
	uint64_t refs;   /* 0 for a GC candidate */
	int kind;        /* B3CAS_ENTRY_..., without the candidate bit */
	bool is_inline;  /* not a loose file */
	bool candidate;  /* no references left: bytes kept until GC */
	const uint8_t *payload;
	size_t payload_len;
} b3cas__walk_entry;

/* A snapshot of the index and the read options that read it, for reads
 * that must agree with each other (stats: the walk and the manifests). */
typedef struct b3cas__snap {
	const rocksdb_snapshot_t *snap;
	rocksdb_readoptions_t *ro;
} b3cas__snap;

/* Take a snapshot (fill_cache: let its reads fill RocksDB's block cache);
 * release it with b3cas__snap_release. Never fails. */
void b3cas__snap_take(b3cas_store *s, b3cas__snap *snap, bool fill_cache);
void b3cas__snap_release(b3cas_store *s, b3cas__snap *snap);

/*
 * Call fn on every content entry in id order, GC candidates included,
 * from one snapshot of the index (fill_cache: let the walk fill RocksDB's
 * block cache). Stops at fn's first non-zero return and returns it;
 * B3CAS_ECORRUPT on a malformed entry, B3CAS_EIO when the walk fails.
 */
int b3cas__store_walk(b3cas_store *s, bool fill_cache,
		      int (*fn)(const b3cas__walk_entry *e, void *ctx),
		      void *ctx);
/* The same, reading snapshot snap (the caller's, which it releases). */
int b3cas__store_walk_snap(b3cas_store *s, const b3cas__snap *snap,
			   int (*fn)(const b3cas__walk_entry *e, void *ctx),
			   void *ctx);

/* Where a read found an object's bytes. */
/* FROM_CHUNKS: a chunked object, every chunk checked as it was read. */
typedef enum read_source {
	FROM_INDEX,
	FROM_TIER,
	FROM_L2,
	FROM_CHUNKS
} read_source;

/* Batch mode's flusher (sync.c): started at open for writable handles in
 * batch mode, stopped (and joined) at close; stop is safe either way. */
int b3cas__flusher_start(b3cas_store *s);
void b3cas__flusher_stop(b3cas_store *s);
/* After an index write (loose: it named a new file): what batch mode
 * must flush later. */
void b3cas__note_written(b3cas_store *s, bool loose);
/* close's flush: b3cas_store_sync without a syncfs when this handle left
 * no object file unsynced (store/sync.c). */
int b3cas__store_sync_for_close(b3cas_store *s);
/* Before a name is made: the object files written so far synced, in
 * none and batch durability, when a write left one unsynced (sync.c). */
int b3cas__store_sync_files_for_name(b3cas_store *s);

/* ---- index entries (entry.c) ---- */

/* A content entry as read (b3cas__entry_get): its kind (without the
 * UNREF bit), size, candidate mark and payload, valid until
 * b3cas__entry_done releases the pinned value v. */
/* For kind PACKED, payload is the object's bytes (size of them) from the
 * data column family, pinned in dv; raw is the payload the entry itself
 * holds (the bytes' key there), which is what a rewrite of the entry
 * (a candidate's mark, a revival) copies. For other kinds raw is
 * payload. */
typedef struct b3cas__entry {
	rocksdb_pinnableslice_t *v;
	rocksdb_pinnableslice_t *dv;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *raw;
	size_t raw_len;
	uint64_t size;
	int kind;
	bool unref;
	/* for delta entries, whose bases are read from the same store and
	 * snapshot (entry_head_at sets them) */
	b3cas_store *s;
	const rocksdb_readoptions_t *ro;
	b3cas_oid id;
} b3cas__entry;

/* The shortest payload of a chunked object's entry (chunked.c). */
#define B3CAS_MANIFEST_TOP_MIN 41

/* Read id's content entry, checked for shape: 0, B3CAS_ENOTFOUND, or an
 * error (B3CAS_ECORRUPT for a malformed entry). Candidates too. */
int b3cas__entry_get(b3cas_store *s, const b3cas_oid *id, b3cas__entry *e);
/* The same, read with ro (a snapshot's; NULL: as above). */
int b3cas__entry_get_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, b3cas__entry *e);
/* The entry alone: for kind PACKED, payload is raw (the bytes are not
 * read). For what needs only the kind, size, mark or raw payload. */
int b3cas__entry_head(b3cas_store *s, const b3cas_oid *id, b3cas__entry *e);
int b3cas__entry_head_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			 const b3cas_oid *id, b3cas__entry *e);
void b3cas__entry_done(b3cas__entry *e);
/* The bytes of an inline entry (kind INLINE, ZINLINE, PACKED or DELTA read by
 * b3cas__entry_get), e->size of them,
 * into out: 0 or B3CAS_ECORRUPT (not verified against the id). */
int b3cas__entry_decode(const b3cas__entry *e, void *out);
/* Add to b a content entry of kind with payload (under id's stripe
 * lock). */
void b3cas__batch_put_kind(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, int kind, uint64_t size,
			   const void *payload, size_t payload_len, bool unref);

/* B3CAS_ENOTFOUND saying id is not stored. */
int b3cas__not_stored(const b3cas_oid *id);
/* Read id's content entry: size, inline or not, a GC candidate or not,
 * and (value_out, inline objects) the pinned value. 0, B3CAS_ENOTFOUND
 * when absent, or an error (B3CAS_ECORRUPT for a malformed entry). */
int b3cas__entry_read(b3cas_store *s, const b3cas_oid *id, uint64_t *size_out,
		      bool *is_inline_out, bool *unref_out,
		      rocksdb_pinnableslice_t **value_out);
/* Read id's reference count entry: *count (1 when there is none), and
 * *kept when an entry holds a count. */
int b3cas__refs_read(b3cas_store *s, const b3cas_oid *id, uint64_t *count,
		     bool *kept);
/* The same, read with ro (a snapshot's; NULL: as above). */
int b3cas__refs_read_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, uint64_t *count, bool *kept);
/* id's references, size and kind: 1 stored, 0 absent, 2 a GC candidate,
 * or an error. b3cas__lookup_count reads only the count. */
int b3cas__lookup(b3cas_store *s, const b3cas_oid *id, uint64_t *refs,
		  uint64_t *size, bool *is_inline);
int b3cas__lookup_count(b3cas_store *s, const b3cas_oid *id, uint64_t *refs);
/* Add to b what makes id, whose last reference goes, a GC candidate
 * (refs.c). Under id's stripe lock. */
/* Under id's stripe lock: add to b one caller reference to live id
 * (B3CAS_ENOTFOUND when it is not stored or only a candidate), or the
 * removal of one (as b3cas_store_delete: *last, its last reference went
 * and it is a candidate now). 0 or an error. */
int b3cas__stage_ref_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			    const b3cas_oid *id);
int b3cas__stage_unref_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			      const b3cas_oid *id, bool *last);

int b3cas__mark_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
			  const b3cas_oid *id);
/* B3CAS_ERANGE: id's count cannot grow. */
int b3cas__refs_overflow(const b3cas_oid *id);
/* Add to b: id's count (had_entry: whether a refs entry exists now), and
 * a new object's content entry (its bytes too when inline; unref: as a GC
 * candidate). Under id's stripe lock. */
void b3cas__batch_set_refs(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, bool had_entry, uint64_t count);
void b3cas__batch_put_entry(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const void *data, size_t len,
			    bool is_inline, bool unref);

/* ---- writing (put.c) ---- */

/* Under id's stripe lock: add the object (or count more references to it)
 * to b, writing a new loose file (or publishing tmp) first. 0 new, 1 a
 * duplicate, or an error; *loose_out says a file was written. seq: in a
 * packed store, the sequence number for new bytes (0: the next one;
 * store/pack.h). */
/* Does the store keep held counts and node references (chunking, or
 * links)? */
static inline bool b3cas__store_holds(b3cas_store *s)
{
	return s->lay.chunk_max != 0 || atomic_load(&s->links);
}

int b3cas__stage_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			const b3cas_oid *id, const void *data, size_t len,
			b3cas_tmpfile *tmp, uint64_t count, uint64_t seq,
			bool *loose_out);
/* Write b as the durability mode says, minding the reserve; loose: it
 * names a new file. */
int b3cas__write_batch(b3cas_store *s, rocksdb_writebatch_t *b, bool loose);

/* Lock (or unlock) the stripes of n items sorted by id, each stripe once,
 * in increasing order: each item is stride bytes and starts with its
 * b3cas_oid (batch.c). */
void b3cas__lock_sorted(b3cas_store *s, const void *items, size_t n,
			size_t stride, bool lock);
/* One step of such a walk: lock (or unlock) m unless it is *prev, the
 * stripe of the step before; *prev becomes m. */
void b3cas__lock_step(pthread_mutex_t *m, pthread_mutex_t **prev, bool lock);

/* ---- reading (get.c, heal.c) ---- */

/* 0 when buf hashes to id or the store does not verify reads, else
 * B3CAS_ECORRUPT. */
int b3cas__verify(b3cas_store *s, const b3cas_oid *id, const void *buf,
		  size_t len);
/* Read id's bytes (not verified) from L2, the index or the tier: into a
 * blob (blob_out) or a malloc'd buffer (data_out); *from says where, and
 * *ticket_out is the L2 ticket taken before the read. */
int b3cas__read_object(b3cas_store *s, const b3cas_oid *id,
		       b3cas_blob **blob_out, void **data_out,
		       size_t *len_out, read_source *from,
		       uint64_t *ticket_out);
/* Offer L1 a copy of good bytes read with ticket. */
void b3cas__l1_offer_copy(b3cas_store *s, const b3cas_oid *id,
			  const void *buf, size_t len, uint64_t ticket);
/* A malloc'd copy of blob's bytes (B3CAS_ENOMEM). */
int b3cas__copy_blob(b3cas_blob *blob, void **data_out, size_t *len_out);
/* A read found id corrupt (rc): heal it from the mirror, or return what
 * the read must report. */
int b3cas__heal(b3cas_store *s, const b3cas_oid *id, int rc, void **buf_out,
		size_t *len_out);

/* tier.c: a RADOS store's pool, opened after the layout (format 3
 * only; 0 for other formats) and closed with the store. */
int b3cas__tier_open(b3cas_store *s, const b3cas_store_options *o);
void b3cas__tier_close(b3cas_store *s);
/* size bytes of loose object id from the pool into buf: a short object
 * is B3CAS_ECORRUPT, as a missing one (the index lists it). */
int b3cas__tier_read(b3cas_store *s, const b3cas_oid *id, uint64_t size,
		     void *buf);
/* An object this host holds no reference to, read from the pool as it
 * is (unchecked; *data malloc'ed) if another host references it (the
 * pool's total count beyond this host's own): B3CAS_ENOTFOUND (message
 * not set) if none does, so that a store alone on its pool reads as a
 * local store does, whatever count of its own awaits GC. */
int b3cas__tier_read_through(b3cas_store *s, const b3cas_oid *id,
			     void **data, size_t *len);
/* 1 if another host references id (as above), 0 if not, or a code. */
int b3cas__tier_exists(b3cas_store *s, const b3cas_oid *id);
/* b3cas__tier_exists of n ids into found[], B3CAS_RADOS_WINDOW in flight:
 * 0 or a code (then found[] is not complete). */
int b3cas__tier_exists_batch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			     bool *found);
/* tier.c, for put_batch in a RADOS store, under the batch's stripe locks:
 * store the n new objects ids[] (sorted, distinct; none in the index, each
 * at most B3CAS_RADOS_OBJECT_MAX bytes) in the pool together, each with
 * this host's reference (B3CAS_RADOS_WINDOW in flight), so that this
 * thread's b3cas__loose_write of each, staging the batch, sends nothing;
 * until b3cas__tier_put_ahead_done. A failure is returned (then some may
 * be in the pool with this host's count and no entry: the over-count a
 * crash leaves, which fsck --repair mends). */
int b3cas__tier_put_ahead(b3cas_store *s, const b3cas_oid *ids,
			  const void *const *data, const size_t *lens,
			  size_t n);
void b3cas__tier_put_ahead_done(void);
/* get.c, for get_batch in a RADOS store: the objects of ids[0..n) that
 * this host holds (live loose entries) and neither L1 nor L2 has, read
 * from the pool together (B3CAS_RADOS_WINDOW in flight) into new buffers:
 * bufs[i] (lens[i] bytes, not verified) for those, NULL for the rest,
 * which are read one by one as a get reads them (so any failure keeps its
 * report). l1_tickets[i] and l2_tickets[i] are the tickets taken before
 * item i's entry was read (set for the items read). Never fails. */
void b3cas__tier_prefetch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			  void **bufs, size_t *lens, uint64_t *l1_tickets,
			  uint64_t *l2_tickets);

#endif
