/*
 * store/held.c - fsck's check of chunks' held counts against the
 * manifests' segments, and its repair (chunking stores only).
 *
 * A chunk's held count ('h' id, chunked.c) must equal its occurrences in
 * every segment there is, and its reference count must cover them: a
 * count too low lets deletes make the chunk a GC candidate while a
 * manifest names it, and GC free it; a held count too high hides the
 * chunk from its callers and keeps it for ever. Everything is judged
 * from one snapshot: the segments' chunks counted into a map (chunk_map.h:
 * one slot per distinct chunk), the held count keys recorded beside them,
 * then each chunk's entry and count read at the same snapshot. Every batch
 * that writes or deletes a segment moves its chunks' held counts and
 * counts with it, so a sound store agrees with itself at any snapshot,
 * whatever runs beside the check: every finding is damage.
 *
 * Repair, per chunk under its stripe lock, in one batch: the held count
 * as it is now moves by the difference the snapshot showed (occurrences
 * less held count). A put or release since the snapshot moved both by the
 * same amount, so the result is the occurrences now, with no second walk.
 * The reference count is never lowered: it is raised to cover the new
 * held count when it is below it, and a GC candidate that segments hold
 * is revived with that count (callers hold none of a candidate). A count
 * left too high leaks at worst; one lowered on a guess would let GC free
 * what a caller still holds (an 'h' key on a caller's object, say).
 * Nothing is freed here. Differences are only good against the
 * snapshot they came from: a check mends only while no other check of
 * the handle has mended anything since its snapshot (s->held_mends,
 * under s->held_lock, which is never held while fn runs), so two
 * repairing checks never apply one difference twice, and while no
 * release since its snapshot met a held count already too low to move
 * by its amount (s->held_clamps: the count stayed at 0, so the
 * difference is off by what it could not take); the later check, or the
 * next one, mends what this one reports.
 */
#include "store/chunk_map.h"

#include <string.h>

#include "util/error.h"

/* chunk_slot flags */
#define HAS_KEY 1u    /* a held count key names the chunk */
#define MALFORMED 2u  /* ... and cannot be read */
#define DEFERRED 4u   /* not stored, held count right: see check_named */

typedef struct held_run {
	b3cas_store *s;
	const b3cas__snap *snap;
	b3cas__chunk_map map;
	bool repair;
	uint64_t epoch; /* s->held_mends that this check's mends expect */
	uint64_t clamps; /* s->held_clamps before the snapshot */
	b3cas__held_fn fn;
	void *ctx;
} held_run;

/* Is f damage? Its held count is not its occurrences, or segments hold
 * a chunk that is a GC candidate or not stored, or its count is below
 * its occurrences. */
static bool held_wrong(const b3cas__held_finding *f)
{
	if (f->malformed || f->held != f->in_segments)
		return true;
	if (f->in_segments == 0)
		return false;
	return !f->stored || f->candidate ||
	       (!f->unreadable && f->refs < f->in_segments);
}

/* A held count key: recorded beside the occurrences. */
static int note_key(const b3cas_oid *chunk, uint64_t held, bool malformed,
		    void *ctx)
{
	held_run *r = ctx;
	b3cas__chunk_slot *sl;
	int rc = b3cas__chunk_map_get(&r->map, chunk, &sl);

	if (rc < 0)
		return rc;
	sl->recorded = held;
	sl->flags |= HAS_KEY | (malformed ? MALFORMED : 0);
	return 0;
}

/* What the snapshot says of slot sl's chunk, into f. */
static int judge(held_run *r, const b3cas__chunk_slot *sl,
		 b3cas__held_finding *f)
{
	b3cas__entry e;
	int rc;

	memset(f, 0, sizeof(*f));
	f->id = sl->id;
	f->in_segments = sl->in_segments;
	f->held = sl->recorded;
	f->has_key = sl->flags & HAS_KEY;
	f->malformed = sl->flags & MALFORMED;
	rc = b3cas__entry_head_at(r->s, r->snap->ro, &f->id, &e);
	if (rc == 0) {
		f->stored = true;
		f->candidate = e.unref;
		b3cas__entry_done(&e);
		if (!f->candidate)
			rc = b3cas__refs_read_at(r->s, r->snap->ro, &f->id,
						 &f->refs, NULL);
	}
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc == B3CAS_ECORRUPT) {
		/* A malformed entry or count: the walk of the entries
		 * reports it; its held count is still judged. */
		b3cas_error_clear();
		f->stored = f->unreadable = true;
		return 0;
	}
	return rc;
}

/* held moved by in_segments - was (the snapshot's difference), never
 * below 0 nor past the largest count. */
static uint64_t moved(uint64_t held, uint64_t in_segments, uint64_t was)
{
	if (in_segments >= was)
		return held > UINT64_MAX - (in_segments - was)
			       ? UINT64_MAX
			       : held + (in_segments - was);
	return held > was - in_segments ? held - (was - in_segments) : 0;
}

/* Add to b what makes candidate id (entry e) live with count refs. */
static void batch_revive(b3cas_store *s, rocksdb_writebatch_t *b,
			 const b3cas_oid *id, const b3cas__entry *e,
			 uint64_t refs)
{
	/* the raw payload: a packed entry keeps naming its bytes */
	b3cas__batch_put_kind(b, s, id, e->kind, e->size, e->raw, e->raw_len,
			      false);
	/* a candidate's refs entry is its mark: there is one */
	b3cas__batch_set_refs(b, s, id, true, refs);
}

/* Under f->id's stripe lock: add to b the counts that mend f, as the
 * index holds them now; set f's results. */
static int stage_mend_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			     b3cas__held_finding *f)
{
	uint64_t held, refs = 0;
	b3cas__entry e;
	int rc = b3cas__chunked_held(s, &f->id, &held);
	bool bad_key = rc == B3CAS_ECORRUPT;

	if (rc < 0 && !bad_key)
		return rc;
	b3cas_error_clear();
	f->new_held = moved(held, f->in_segments, f->held);
	f->moved = f->mended = f->new_held != held || bad_key;
	if (f->moved)
		b3cas__chunked_batch_set_held(s, b, &f->id, f->new_held);
	rc = b3cas__entry_head(s, &f->id, &e);
	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT) {
		/* Nothing to count: only its held count is kept right. */
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (e.unref && f->new_held > 0) {
		batch_revive(s, b, &f->id, &e, f->new_held);
		f->revived = f->mended = true;
		f->new_refs = f->new_held;
	} else if (!e.unref) {
		rc = b3cas__refs_read(s, &f->id, &refs, NULL);
		f->new_refs = refs;
		if (rc == 0 && refs < f->new_held) {
			b3cas__batch_set_refs(b, s, &f->id, refs != 1,
					      f->new_held);
			f->raised = f->mended = true;
			f->new_refs = f->new_held;
		}
		if (rc == B3CAS_ECORRUPT) {
			b3cas_error_clear();
			rc = 0;
		}
	}
	b3cas__entry_done(&e);
	return rc;
}

/* Take s->held_lock for a mend of f: false (the lock let go, f->stale)
 * when another check has mended since r's snapshot. */
static bool mend_begin(held_run *r, b3cas__held_finding *f)
{
	pthread_mutex_lock(&r->s->held_lock);
	if (r->s->held_mends == r->epoch)
		return true;
	pthread_mutex_unlock(&r->s->held_lock);
	f->stale = true;
	return false;
}

/* Let s->held_lock go after a mend of f (rc its result): a mend moves
 * the epoch every later mend must see. */
static void mend_end(held_run *r, const b3cas__held_finding *f, int rc)
{
	if (rc == 0 && f->mended) {
		r->s->held_mends++;
		r->epoch++;
	}
	pthread_mutex_unlock(&r->s->held_lock);
}

/* Mend f under its chunk's stripe lock, in one batch, unless another
 * check has mended since r's snapshot (f->stale). */
static int mend(held_run *r, b3cas__held_finding *f)
{
	b3cas_store *s = r->s;
	pthread_mutex_t *lock = b3cas__store_stripe(s, &f->id);
	rocksdb_writebatch_t *b;
	int rc;

	if (!mend_begin(r, f))
		return 0;
	b = rocksdb_writebatch_create();
	pthread_mutex_lock(lock);
	/* A held count that a release could not move by its amount since
	 * the snapshot (handle.h, held_clamps; counted after its batch is
	 * written and before the chunk's lock is let go, so one of this
	 * chunk is seen here, and one not in the baseline read before the
	 * snapshot is never in the snapshot): the difference is no longer
	 * right. */
	if (atomic_load(&s->held_clamps) != r->clamps) {
		pthread_mutex_unlock(lock);
		pthread_mutex_unlock(&s->held_lock);
		rocksdb_writebatch_destroy(b);
		f->stale = true;
		return 0;
	}
	rc = stage_mend_locked(s, b, f);
	if (rc == 0 && f->mended)
		rc = b3cas__write_batch(s, b, false);
	if (rc == 0 && f->revived)
		b3cas__known_add(s->known, &f->id);
	pthread_mutex_unlock(lock);
	mend_end(r, f, rc);
	rocksdb_writebatch_destroy(b);
	if (rc < 0)
		f->mended = f->moved = f->revived = f->raised = false;
	return rc;
}

/* Mend f (with repair) and hand it to the caller. */
static int found(held_run *r, b3cas__held_finding *f)
{
	int rc = r->repair ? mend(r, f) : 0;

	return rc < 0 ? rc : r->fn(f, r->ctx);
}

/* Judge every chunk the map holds. A chunk that is not stored but whose
 * held count is right waits for check_named (DEFERRED); *deferred counts
 * them. */
static int check_all(held_run *r, size_t *deferred)
{
	b3cas__held_finding f;
	int rc = 0;

	*deferred = 0;
	for (size_t i = 0; rc == 0 && i < r->map.cap; i++) {
		b3cas__chunk_slot *sl = &r->map.slot[i];

		if (!sl->used)
			continue;
		rc = judge(r, sl, &f);
		if (rc < 0 || !held_wrong(&f))
			continue;
		if (!f.stored && !f.malformed && f.held == f.in_segments) {
			sl->flags |= DEFERRED;
			(*deferred)++;
			continue;
		}
		rc = found(r, &f);
	}
	return rc;
}

/*
 * A chunked object whose manifest fsck's walk of the entries reads whole:
 * its chunks counted in named. That is every live one; a GC candidate only
 * through a read-only handle, as a writable one takes a candidate's
 * missing chunk for a collection under way (chunked.c, gone_meanwhile).
 * A damaged manifest is the walk's to report; its chunks count as far as
 * it reads.
 */
static int name_chunks(const b3cas__walk_entry *e, void *ctx)
{
	held_run *r = ctx;
	b3cas__top top;
	int rc;

	if (e->kind != B3CAS_ENTRY_CHUNKED ||
	    (e->candidate && !r->s->read_only))
		return 0;
	rc = b3cas__top_parse(&top, &e->id, e->size, e->payload,
			      e->payload_len);
	if (rc == 0)
		rc = b3cas__chunked_foreach_chunk(r->s, r->snap, &e->id, &top,
						  b3cas__chunk_map_add_named,
						  &r->map, NULL);
	if (rc == B3CAS_ECORRUPT) {
		b3cas_error_clear();
		rc = 0;
	}
	return rc;
}

/*
 * The chunks that are not stored while segments hold them: each that a
 * stored object's manifest names makes fsck's walk of the entries report
 * that object corrupt, so only the others (named by segments of puts cut
 * short, of removals not yet released, or of no one) are reported here.
 * Rare, hence a walk of the manifests only when there is one. A walk that
 * meets a malformed entry stops there: then every one is reported.
 */
static int check_named(held_run *r)
{
	b3cas__held_finding f;
	int rc = b3cas__store_walk_snap(r->s, r->snap, name_chunks, r);

	if (rc == B3CAS_ECORRUPT) {
		b3cas_error_clear();
		for (size_t i = 0; i < r->map.cap; i++)
			r->map.slot[i].named = 0;
		rc = 0;
	}
	for (size_t i = 0; rc == 0 && i < r->map.cap; i++) {
		const b3cas__chunk_slot *sl = &r->map.slot[i];

		if (!sl->used || !(sl->flags & DEFERRED) || sl->named)
			continue;
		rc = judge(r, sl, &f);
		if (rc == 0)
			rc = found(r, &f);
	}
	return rc;
}

/* Is node slot sl damage? Its count is not its references, or they name
 * it while its list is missing, or it (or its count) is there while
 * nothing names it. */
static bool node_wrong(const b3cas__chunk_slot *sl)
{
	bool counted = sl->flags & B3CAS__NODE_COUNTED;

	if (sl->flags & B3CAS__NODE_MALFORMED)
		return true;
	if ((counted ? sl->recorded : 0) != sl->in_segments)
		return true;
	return sl->in_segments == 0 || !(sl->flags & B3CAS__NODE_STORED);
}

/* Mend node finding f (repair), as mend() does a chunk's. */
static int mend_node(held_run *r, b3cas__held_finding *f)
{
	/* what every release and put took the count to be */
	uint64_t recorded = f->malformed ? 1 : f->held;
	int rc;

	if (!mend_begin(r, f))
		return 0;
	rc = b3cas__chunked_node_mend(r->s, &f->id, f->in_segments, recorded,
				      r->clamps, f);
	mend_end(r, f, rc);
	return rc;
}

/* Every manifest node's count against the references that name it, from
 * the same snapshot: one map slot per distinct node. */
static int check_nodes(held_run *r)
{
	b3cas__chunk_map nodes = B3CAS__CHUNK_MAP_INIT;
	int rc = b3cas__chunked_map_nodes(r->s, r->snap, &nodes);

	for (size_t i = 0; rc == 0 && i < nodes.cap; i++) {
		const b3cas__chunk_slot *sl = &nodes.slot[i];
		b3cas__held_finding f;

		if (!sl->used || !node_wrong(sl))
			continue;
		memset(&f, 0, sizeof(f));
		f.node = true;
		f.id = sl->id;
		f.in_segments = sl->in_segments;
		f.has_key = sl->flags & B3CAS__NODE_COUNTED;
		f.malformed = sl->flags & B3CAS__NODE_MALFORMED;
		f.held = f.has_key && !f.malformed ? sl->recorded : 0;
		f.stored = sl->flags & B3CAS__NODE_STORED;
		if (r->repair)
			rc = mend_node(r, &f);
		if (rc == 0)
			rc = r->fn(&f, r->ctx);
	}
	b3cas__chunk_map_free(&nodes);
	return rc;
}

int b3cas__store_check_held(b3cas_store *s, bool repair, b3cas__held_fn fn,
			    void *ctx)
{
	b3cas__snap snap;
	held_run r = {s, &snap, B3CAS__CHUNK_MAP_INIT, repair, 0, 0, fn, ctx};
	size_t deferred = 0;
	int rc;

	if (!b3cas__store_holds(s))
		return 0;
	/* One pass over everything: keep the block cache for the users.
	 * Taken under held_lock: another check's mend is wholly before it
	 * (and counted in epoch) or after it. */
	pthread_mutex_lock(&s->held_lock);
	r.clamps = atomic_load(&s->held_clamps);
	b3cas__snap_take(s, &snap, false);
	r.epoch = s->held_mends;
	pthread_mutex_unlock(&s->held_lock);
	rc = b3cas__chunked_foreach_held(s, &snap, b3cas__chunk_map_add_held,
					 &r.map, NULL);
	if (rc == 0)
		rc = b3cas__chunked_foreach_held_count(s, &snap, note_key, &r);
	if (rc == 0)
		rc = check_all(&r, &deferred);
	if (rc == 0 && deferred)
		rc = check_named(&r);
	if (rc == 0)
		rc = check_nodes(&r);
	b3cas__snap_release(s, &snap);
	b3cas__chunk_map_free(&r.map);
	return rc;
}
