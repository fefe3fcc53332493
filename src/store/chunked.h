/*
 * store/chunked.h - chunked objects (chunked.c): the manifest top kept in
 * an object's content entry, reads of any range, puts, and the release of
 * segments no entry owns. Private to the store layer.
 */
#ifndef B3CAS_STORE_CHUNKED_H
#define B3CAS_STORE_CHUNKED_H

#include "store/delta.h"
#include "store/handle.h"

/* A parsed manifest top (b3cas__top_parse), pointing into the entry's
 * payload: valid while that is. */
/* A manifest's random name: its segments' keys hold it, not the object's
 * id, so a put can write them before the id is known (streaming). */
#define B3CAS__GEN_LEN 16

typedef struct b3cas__top {
	uint8_t gen[B3CAS__GEN_LEN];
	uint32_t nseg;         /* records (nodes) */
	const uint8_t *segs;   /* the records, when inline */
	uint64_t size;
	uint32_t npage;        /* 0, or the pages that hold the records */
	const uint8_t *pages;  /* each page's start offset (u64 LE) */
} b3cas__top;

/* Parse and check the shape of a chunked entry's payload p (len bytes)
 * for object id of size bytes: 0 or B3CAS_ECORRUPT. */
int b3cas__top_parse(b3cas__top *t, const b3cas_oid *id, uint64_t size,
		     const uint8_t *p, size_t len);

/* Read len bytes at off of chunked object id into buf, every segment
 * checked and every chunk hashed against its id (when the store verifies
 * reads), but a chunk whose id is that of zeros, written as zeros
 * (chunked-objects.md, reading) unless flags has B3CAS__READ_ALL: 0,
 * B3CAS_ECORRUPT naming what is damaged, or an error. */
#define B3CAS__READ_ALL 1u /* every chunk read and hashed (fsck, scrub) */
int b3cas__chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len, unsigned flags);

/* A chunk occurrence in a manifest segment, for the two walks below:
 * chunk's id and length (len bytes); 0 goes on, non-zero stops. */
typedef int (*b3cas__chunk_fn)(const b3cas_oid *chunk, uint32_t len,
			       void *ctx);

/*
 * For stats and fsck: call fn on every chunk occurrence in the manifest
 * (top t) of chunked object id, in order, as snapshot snap sees it, each
 * node checked as a read checks it; *page_bytes (may be NULL) grows by
 * the bytes of the top's pages, if it has any. 0, fn's non-zero return,
 * B3CAS_ECORRUPT (a damaged manifest), B3CAS_ENOMEM, or an index error.
 */
int b3cas__chunked_foreach_chunk(b3cas_store *s, const b3cas__snap *snap,
				 const b3cas_oid *id, const b3cas__top *t,
				 b3cas__chunk_fn fn, void *ctx,
				 uint64_t *page_bytes);
/*
 * For stats and fsck: call fn on every chunk occurrence in every manifest
 * node snapshot snap holds, each node once, whoever names it: stored
 * objects, GC candidates, puts under way ('p') and removals not yet
 * released ('r'). Each occurrence holds one reference to its chunk, so a
 * chunk's count less its occurrences here is what callers hold. Nodes are
 * parsed as far as they go, unchecked. *node_bytes (may be NULL) grows by
 * the size of each node's value. 0, fn's non-zero return, or an index
 * error.
 */
int b3cas__chunked_foreach_held(b3cas_store *s, const b3cas__snap *snap,
				b3cas__chunk_fn fn, void *ctx,
				uint64_t *node_bytes);

/*
 * A chunked put in steps, for bytes that arrive over time (the streaming
 * writer): begin; feed the bytes in order (each call cuts and writes the
 * chunks it can, *consumed of them; the rest, less than a chunk_max,
 * must be offered again with what follows; final: these are the last);
 * then commit under the object's id, which the caller hashed meanwhile
 * (0 new or revived, 1 a duplicate: the put's own chunks are released),
 * or abort. commit and abort free c.
 */
typedef struct b3cas__cput b3cas__cput;
int b3cas__cput_begin(b3cas_store *s, b3cas__cput **out);
int b3cas__cput_feed(b3cas__cput *c, const void *data, size_t len,
		     bool final, size_t *consumed);
/* The bytes fed and cut so far. */
uint64_t b3cas__cput_size(const b3cas__cput *c);
int b3cas__cput_commit(b3cas__cput *c, const b3cas_oid *id,
		       const b3cas__tag *tag);
void b3cas__cput_abort(b3cas__cput *c);
/* A commit in the caller's batch (put_batch: one atomic write), under
 * id's stripe lock, for count references: returns as commit; then, after
 * the write (written: it succeeded), b3cas__cput_done frees c and
 * releases its segments unless the batch made them the entry's. */
int b3cas__cput_stage_locked(b3cas__cput *c, rocksdb_writebatch_t *b,
			     const b3cas_oid *id, uint64_t count);
void b3cas__cput_done(b3cas__cput *c, bool written);
/* A chunked put of all len bytes at data, begun and fed, not committed. */
int b3cas__cput_all(b3cas_store *s, const void *data, size_t len,
		    b3cas__cput **out);
/* Under id's stripe lock: count more references to id added to b if it is
 * stored (1 live, 0 a revived chunked candidate), or 2: not stored. */
int b3cas__chunked_stage_existing(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, uint64_t count);

/* Store the len bytes at data (whose id is id) as a chunked object, or
 * add a reference: 0 new (or revived), 1 a duplicate, or an error. Takes
 * the locks it needs itself. tag (may be NULL) goes in the batch that
 * takes the reference. */
int b3cas__chunked_publish(b3cas_store *s, const b3cas_oid *id,
			   const void *data, size_t len, const b3cas__tag *tag);
/* The same, for the len bytes of the open file fd. */
int b3cas__chunked_publish_fd(b3cas_store *s, const b3cas_oid *id, int fd,
			      uint64_t len, const b3cas__tag *tag);

/* Add to b (which removes chunked object id's entry) the pending key
 * that hands its segments to b3cas__chunked_release_all. */
void b3cas__chunked_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, const b3cas__top *t);
/* Release the segments of every removed chunked object
 * (b3cas__chunked_batch_removed): *released (may be NULL) counts them. */
int b3cas__chunked_release_removed(b3cas_store *s, uint64_t *released);
/* The same, and those of puts a crash cut short: only at open, when no
 * put is under way. */
int b3cas__chunked_release_all(b3cas_store *s, uint64_t *released);

/*
 * *held = how many times the segments there are name id (its "held
 * count": the part of its reference count that chunked objects hold; the
 * rest is its callers'). 0 in a store that does not chunk. Under id's
 * stripe lock for a count that stays true. 0, or an error (ECORRUPT: a
 * malformed count, *held 0).
 */
int b3cas__chunked_held(b3cas_store *s, const b3cas_oid *id, uint64_t *held);
/* Add to b (which removes id's entry) the removal of its held count. */
void b3cas__chunked_batch_forget_held(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id);
/* Add to b id's held count set to held (0: its key removed). Under id's
 * stripe lock, for fsck's repair (held.c): everything else moves it with
 * the segments. */
void b3cas__chunked_batch_set_held(b3cas_store *s, rocksdb_writebatch_t *b,
				   const b3cas_oid *id, uint64_t held);

/* A held count key for the walk below: chunk's id and the count it
 * records (malformed: its value cannot be read, held 0); 0 goes on,
 * non-zero stops. */
typedef int (*b3cas__held_count_fn)(const b3cas_oid *chunk, uint64_t held,
				    bool malformed, void *ctx);
/*
 * For fsck: call fn on every held count key snapshot snap holds, in id
 * order. 0, fn's non-zero return, or an index error.
 */
int b3cas__chunked_foreach_held_count(b3cas_store *s, const b3cas__snap *snap,
				      b3cas__held_count_fn fn, void *ctx);

/* Given good bytes of chunked object id, rewrite those of its chunks that
 * are stored but damaged (*mended counts them). The object's manifest is
 * not rewritten: a damaged manifest stays damaged (fsck reports it). Takes
 * the chunks' locks; not under id's. 0 or an error. */
int b3cas__chunked_mend(b3cas_store *s, const b3cas_oid *id,
			const void *data, size_t len, uint64_t *mended);

/*
 * Store the len bytes at data (whose id is id) as an object that holds
 * one reference to each of links[0..nlinks) (docs/trees.md, "Objects that
 * hold references"), or add a reference to it when it is stored: 0 new,
 * 1 a duplicate, or an error (B3CAS_ENOTFOUND: a link is not stored).
 * With name (the key of a name, name_len bytes: names.c), the reference
 * is the name's, written in the same batch (B3CAS_EEXISTS when the name
 * is there); any other key (a lease's: lease.c) is a tag, written in that
 * batch as it is. Takes the locks it needs itself.
 */
int b3cas__store_put_linked(b3cas_store *s, const b3cas_oid *id,
			    const void *data, size_t len,
			    const b3cas_oid *links, size_t nlinks,
			    const uint8_t *name, size_t name_len,
			    const b3cas__tag *extra);
/* Add to b (which removes id's entry) the release of its links, if it
 * has any. */
void b3cas__links_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				const b3cas_oid *id);
/* Does the index hold any key of the links and nodes machinery (a
 * store with links, or one a crash left in a put of links)? 1, 0, or an
 * error. */
int b3cas__links_any(b3cas_store *s);

/* ---- for delta chunks (delta.c) ---- */

/* Start deltas against base for put c, before its first bytes:
 * b3cas__delta_src_open's returns (B3CAS_EINVAL after the first bytes). */
int b3cas__cput_set_base(b3cas__cput *c, const b3cas_oid *base);
/* A pending or removal key (REF_KEY_LEN = 21 bytes) into k. */
void b3cas__chunked_ref_key(uint8_t *k, char kind, const uint8_t gen[16],
			    uint32_t seg);
/* Release every pending key 'p' gen ...: 0 or an error. */
int b3cas__chunked_release_gen(b3cas_store *s, const uint8_t gen[16]);
/* Take a reference to base node bn for a delta about to name it, under
 * the pending key 'p' gen seg, storing the node first if it is not
 * stored (store/delta.c). 0 or an error. */
int b3cas__chunked_node_take(b3cas_store *s, const uint8_t gen[16],
			     uint32_t seg, const b3cas__delta_bnode *bn);
/*
 * Node node's chunks, read with ro (or NULL) and checked against its id:
 * with want > 0, its chunks first to first + want - 1 (want at most max);
 * with want 0, all of them, at most max. ids (32 bytes each), lens, *n of
 * them: 0, B3CAS_ECORRUPT (missing, damaged, shorter than the range, or
 * with want 0 more than max), or an error.
 */
int b3cas__chunked_node_list(b3cas_store *s, const rocksdb_readoptions_t *ro,
			     const uint8_t *node, uint32_t first,
			     uint32_t want, uint8_t *ids, uint32_t *lens,
			     uint32_t max, uint32_t *n);

#endif
