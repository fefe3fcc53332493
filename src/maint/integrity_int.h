/*
 * maint/integrity_int.h - what backup.c, restore.c and recover.c share:
 * a verified, streamed copy of one object from one store into another,
 * progress reports at a steady pace, and the run log.
 *
 * A copy is read through the source's streaming reader (verified at open
 * and again as it is read) and written through a writer of the destination,
 * which hashes what arrives; the bytes are published under that hash only
 * when it is the id asked for. Memory stays at one chunk whatever the
 * object's size.
 */
#ifndef B3CAS_INTEGRITY_INT_H
#define B3CAS_INTEGRITY_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "b3cas/integrity.h"
#include "store/store_int.h"

#define B3CAS_COPY_CHUNK (1u << 20)

typedef struct b3cas__copy {
	b3cas_store *src, *dst;
	uint8_t *buf;   /* B3CAS_COPY_CHUNK bytes, also lent out for hashing */
	uint64_t bytes; /* bytes copied so far */
} b3cas__copy;

/* Set up copies from src to dst (allocates the chunk). */
int b3cas__copy_init(b3cas__copy *c, b3cas_store *src, b3cas_store *dst);

/* Free the chunk. */
void b3cas__copy_free(b3cas__copy *c);

/*
 * Stream object id from c->src into c->dst. publish (NULL: an ordinary
 * put, one more reference for a stored object) receives the bytes once
 * they hashed to id. Returns publish's non-negative value, or an error;
 * *src_side says whether the error is the source's (the object cannot be
 * read there) or the destination's.
 */
int b3cas__copy_object(b3cas__copy *c, const b3cas_oid *id,
		       b3cas__publish_fn publish, void *ctx, bool *src_side);

/* The part of a copy both kinds share: object id streamed from c->src
 * into a new writer of c->dst (staged: b3cas__writer_open_staged, else
 * b3cas_writer_open), left open in *w for the caller to finish. 0, or an
 * error (*src_side: whose) after which nothing is left open. */
int b3cas__copy_stream(b3cas__copy *c, const b3cas_oid *id, bool staged,
		       b3cas_writer **w, bool *src_side);

/*
 * Objects that hold links (b3cas_store_put_linked) and names, copied with
 * everything they reach (copy_linked.c): a store's walk of objects leaves
 * out what only links hold, as it leaves out chunks.
 */
typedef struct b3cas__seen {
	b3cas_oid *ids;
	uint8_t *used;
	size_t cap, n;
} b3cas__seen;

typedef struct b3cas__deep {
	b3cas__copy *c;
	/* Go into linked objects the destination holds already (each id
	 * once), to copy what they reach and it lacks; else such an object
	 * is taken as whole, its links holding the rest. */
	bool descend;
	b3cas__seen seen;
	uint64_t copied; /* objects stored in the destination */
	/* After an error: the object it is about, and whether the source
	 * failed (it cannot be read there) or the destination. */
	b3cas_oid bad;
	bool src_side;
} b3cas__deep;

void b3cas__deep_init(b3cas__deep *d, b3cas__copy *c, bool descend);
void b3cas__deep_free(b3cas__deep *d);

/*
 * Make object id stored in the destination as the source has it, with
 * every object it links to, down to the end: what the destination lacks
 * is copied (an object holding links after all of them, with them), and
 * an object there without the links the source gives it gets them. Each
 * object this stores, lease holds one reference to until its close; by
 * then each one below id is held by its parent's links. *took: the lease
 * took one on id itself. 0, or an error about d->bad (d->src_side).
 */
int b3cas__copy_deep(b3cas__deep *d, b3cas_lease *lease, const b3cas_oid *id,
		     bool *took);

/* b3cas__copy_deep under a lease of its own, then id's callers' count at
 * least refs (b3cas__store_set_refs_at_least, only_raise), then the
 * lease's close. 0 or an error as b3cas__copy_deep. */
int b3cas__copy_rooted(b3cas__deep *d, const b3cas_oid *id, uint64_t refs,
		       bool only_raise);

/* b3cas__copy_deep under a lease of its own, then name set to id in the
 * destination (it holds the reference), then the lease's close. */
int b3cas__copy_name(b3cas__deep *d, const char *name, const b3cas_oid *id);

/* Progress callbacks about ten times a second. */
typedef struct b3cas__ticker {
	void (*fn)(const b3cas_progress *progress, void *ctx);
	void *ctx;
	uint64_t t0, shown_at;
	uint64_t total; /* estimate, or 0 */
} b3cas__ticker;

void b3cas__ticker_start(b3cas__ticker *t,
			 void (*fn)(const b3cas_progress *, void *),
			 void *ctx, uint64_t total);

/* Report done objects and bytes if a tenth of a second has passed since
 * the last report, or always with final (the total then becomes done). */
void b3cas__tick(b3cas__ticker *t, uint64_t done, uint64_t bytes, bool final);

/* RocksDB's estimate of the number of s's index entries (0: none). */
uint64_t b3cas__estimate_objects(b3cas_store *s);

/*
 * Append "<unix seconds> <text>\n" to log, a path relative to the store
 * folder open as root_fd (e.g. "integrity/backup/log"). A failure loses
 * no data and is ignored.
 */
void b3cas__integrity_log(int root_fd, const char *log, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * B3CAS_EINVAL ("cannot <verb> the store <root> <prep> <dir>: ...") when
 * folder dir overlaps the store (b3cas__store_overlaps: the store, inside
 * it or its tier, or holding it), checked by device and inode before
 * anything is opened or made there; else 0 (or the error of looking).
 */
int b3cas__refuse_overlap(b3cas_store *s, const char *dir, const char *verb,
			  const char *prep);

/*
 * code, with the message "<fmt...>: <the message set before>", so a cause
 * found below is kept in the words of the caller.
 */
int b3cas__error_because(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The restore walk of b3cas_restore, on open stores, for b3cas_recover:
 * with absent_only, only objects that dst has no entry for are copied
 * (with src's reference count) and dst's own objects are not checked.
 */
int b3cas__restore_run(b3cas_store *dst, b3cas_store *src, bool absent_only,
		       const b3cas_restore_options *opts,
		       b3cas_restore_report *report);

#endif
