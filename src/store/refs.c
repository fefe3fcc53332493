/*
 * store/refs.c - reference counts: exists and stat, delete, adding and
 * removing references, GC candidates, and the dedup check.
 *
 * Invariants: a count changes only under the id's stripe lock, in one
 * batch with its content entry; the last reference leaves a GC candidate
 * (bytes kept until a collection), never a dangling entry; L1 forgets an
 * object after the index write that removed it.
 *
 * In a chunking store part of a chunk's count is held by the segments
 * that name it (its held count, chunked.c). Callers see and change only
 * the rest: stat, refcount and ref_add report it, and a delete with none
 * of it left is refused (B3CAS_ENOTFOUND), so no caller can drop a
 * reference a chunked object needs.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/chunked.h"
#include "store/delta.h"
#include "store/pack.h"
#include "util/error.h"
#include "util/fsutil.h"

int b3cas_store_exists(b3cas_store *s, const b3cas_oid *id)
{
	uint64_t size;
	bool is_inline;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	/* L1 holds only stored objects. */
	if (b3cas__cache_contains(s->cache.l1, id))
		return 1;
	rc = b3cas__store_entry(s, id, &size, &is_inline, NULL);

	/* a RADOS store: another host may hold it */
	if (rc == B3CAS_ENOTFOUND && s->tier)
		return b3cas__tier_exists(s, id);
	if (rc == B3CAS_ENOTFOUND)
		return 0;
	return rc < 0 ? rc : 1;
}

int b3cas_store_exists_batch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			     bool *found)
{
	b3cas_oid *ask = NULL;
	size_t *at = NULL, m = 0;
	bool *got = NULL;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	if (n == 0)
		return 0;
	B3CAS__NONNULL(ids, "ids");
	B3CAS__NONNULL(found, "found");
	if (s->tier) {
		ask = malloc(n * sizeof(*ask));
		at = malloc(n * sizeof(*at));
		got = malloc(n);
		if (!ask || !at || !got) {
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* what this host holds, from L1 and the index */
	for (size_t i = 0; i < n; i++) {
		uint64_t size;
		bool is_inline;

		found[i] = b3cas__cache_contains(s->cache.l1, &ids[i]);
		if (found[i])
			continue;
		rc = b3cas__store_entry(s, &ids[i], &size, &is_inline, NULL);
		if (rc < 0 && rc != B3CAS_ENOTFOUND)
			goto out;
		found[i] = rc == 0;
		if (rc == B3CAS_ENOTFOUND && s->tier) {
			/* a RADOS store: another host may hold it */
			ask[m] = ids[i];
			at[m++] = i;
		}
		rc = 0;
	}
	b3cas_error_clear();
	/* the rest from the pool, together */
	if (m > 0)
		rc = b3cas__tier_exists_batch(s, ask, m, got);
	for (size_t k = 0; rc == 0 && k < m; k++)
		found[at[k]] = got[k];
out:
	free(ask);
	free(at);
	free(got);
	return rc;
}

/* refs, the whole count of live id, less what manifests hold: its
 * callers' references, into *out. */
static int callers_refs(b3cas_store *s, const b3cas_oid *id, uint64_t refs,
			uint64_t *out)
{
	uint64_t held = 0;
	int rc = b3cas__chunked_held(s, id, &held);

	if (rc < 0)
		return rc;
	*out = refs > held ? refs - held : 0;
	return 0;
}

int b3cas_store_stat(b3cas_store *s, const b3cas_oid *id,
		     b3cas_object_info *out)
{
	uint64_t size = 0, refs = 0;
	bool is_inline = false;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	rc = b3cas__lookup(s, id, &refs, &size, &is_inline);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return b3cas__not_stored(id);
	rc = callers_refs(s, id, refs, &refs);
	if (rc < 0)
		return rc;
	out->id = *id;
	out->size = size;
	out->refs = refs;
	out->is_inline = is_inline;
	return 0;
}

/* ---- delete -------------------------------------------------------------- */

/*
 * Add a candidate's entries to b: its content entry gets the UNREF mark
 * (so reads no longer see it; its payload is kept) and its refs entry
 * count 0, the time, its size and kind (so GC decides from that entry
 * alone). The bytes stay until b3cas_gc removes them.
 */
static void batch_candidate(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, int kind, uint64_t size,
			    const void *payload, size_t payload_len)
{
	uint8_t mark[B3CAS_REFS_CANDIDATE_LEN];

	b3cas__batch_put_kind(b, s, id, kind, size, payload, payload_len,
			      true);
	b3cas__put_u64(mark, 0);
	b3cas__put_u64(mark + 8, b3cas__wall_ns());
	b3cas__put_u64(mark + 16, size);
	mark[24] = (uint8_t)kind;
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_REFS],
				  (const char *)id->bytes, B3CAS_OID_LEN,
				  (const char *)mark, sizeof(mark));
}

/* Make id, whose last reference is going, a GC candidate. */
int b3cas__mark_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
			  const b3cas_oid *id)
{
	b3cas__entry e;
	int rc = b3cas__entry_head(s, id, &e);

	if (rc < 0)
		return rc;
	/* putv copies the payload into the batch: e can go after. A packed
	 * entry keeps its data key, and the bytes stay where they are. */
	batch_candidate(b, s, id, e.kind, e.size, e.raw, e.raw_len);
	b3cas__entry_done(&e);
	return 0;
}

void b3cas__store_batch_put_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id, uint64_t size)
{
	b3cas__known_drop(s->known, id);
	batch_candidate(b, s, id, B3CAS_ENTRY_LOOSE, size, NULL, 0);
}

void b3cas__store_batch_remove(b3cas_store *s, rocksdb_writebatch_t *b,
			       const b3cas_oid *id)
{
	b3cas__entry e;

	/* A chunked object's segments are handed to the release that
	 * follows (chunked.c); an entry that cannot be read leaks them,
	 * which is safe. */
	if (b3cas__entry_head(s, id, &e) == 0) {
		b3cas__top t;

		if (e.kind == B3CAS_ENTRY_CHUNKED &&
		    b3cas__top_parse(&t, id, e.size, e.payload,
				     e.payload_len) == 0) {
			b3cas__chunked_batch_removed(s, b, id, &t);
		}
		b3cas__pack_batch_drop(b, s, id, &e);
		b3cas__entry_done(&e);
		b3cas__delta_batch_removed(s, b, id);
	}
	b3cas__links_batch_removed(s, b, id);
	b3cas__gitmap_batch_removed(s, b, id);
	b3cas__known_drop(s->known, id);
	b3cas__chunked_batch_forget_held(s, b, id);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_CONTENT],
				     (const char *)id->bytes, B3CAS_OID_LEN);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_REFS],
				     (const char *)id->bytes, B3CAS_OID_LEN);
}

int b3cas__store_release_chunks(b3cas_store *s, uint64_t *released)
{
	if (released)
		*released = 0;
	/* Every 'r' key there is, not only this caller's: a flag set by
	 * the removal would race with another collector's release, whose
	 * walk may start before the removal's batch is written. A walk of
	 * an empty prefix is one seek. */
	if (!b3cas__store_holds(s))
		return 0;
	return b3cas__chunked_release_removed(s, released);
}

int b3cas__store_write_batch(b3cas_store *s, rocksdb_writebatch_t *b)
{
	return b3cas__write_batch(s, b, false);
}

/*
 * Remove (loose) id's file and then its entries: under its stripe lock, so
 * no put can slip a new copy in between. The file goes first, as in GC:
 * an entry whose file is gone is removed by the next try, while a file
 * whose entry went first would be an orphan that fsck cannot tell from a
 * lost object (docs/store.md, "Orphans").
 */
static int remove_locked(b3cas_store *s, const b3cas_oid *id, bool is_inline)
{
	rocksdb_writebatch_t *b;
	int rc = is_inline ? 0 : b3cas__loose_remove(s, id);

	if (rc < 0)
		return rc;
	b = rocksdb_writebatch_create();
	b3cas__store_batch_remove(s, b, id);
	rc = b3cas__write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	if (rc == 0)
		b3cas__caches_forget(s, id, true);
	return rc;
}

/* Deleting id, whose references are all held by chunked objects. */
static int held_only(const b3cas_oid *id, uint64_t held)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ENOTFOUND,
			    "object %s has no reference of its own to remove: "
			    "it is stored only as a chunk of chunked objects, "
			    "which hold its %llu reference%s",
			    b3cas_oid_fmt(hex, id), (unsigned long long)held,
			    held == 1 ? "" : "s");
}

int b3cas__stage_ref_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			    const b3cas_oid *id)
{
	uint64_t refs = 0, size;
	bool is_inline;
	int rc = b3cas__lookup(s, id, &refs, &size, &is_inline);

	if (rc == 0 || rc == 2)
		return b3cas__not_stored(id);
	if (rc < 0)
		return rc;
	if (refs == UINT64_MAX)
		return b3cas__refs_overflow(id);
	b3cas__batch_set_refs(b, s, id, refs != 1, refs + 1);
	return 0;
}

/* Under id's stripe lock, id stored with refs references in all: add to
 * b the removal of one of its callers' (*left: how many they keep; *last:
 * it was the last of all, id is a candidate now). */
static int stage_unref_found(b3cas_store *s, rocksdb_writebatch_t *b,
			     const b3cas_oid *id, uint64_t refs, bool *last,
			     uint64_t *left)
{
	uint64_t mine = 0;
	int rc = callers_refs(s, id, refs, &mine);

	*last = false;
	if (rc < 0)
		return rc;
	if (mine == 0)
		return held_only(id, refs);
	*left = mine - 1;
	if (refs > 1) {
		b3cas__batch_set_refs(b, s, id, true, refs - 1);
		return 0;
	}
	/* Not known live from before the write that ends it on. */
	b3cas__known_drop(s->known, id);
	*last = true;
	return b3cas__mark_candidate(s, b, id);
}

int b3cas__stage_unref_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			      const b3cas_oid *id, bool *last)
{
	uint64_t refs = 0, size, left;
	bool is_inline;
	int rc = b3cas__lookup(s, id, &refs, &size, &is_inline);

	*last = false;
	if (rc == 0 || rc == 2)
		return b3cas__not_stored(id);
	if (rc < 0)
		return rc;
	return stage_unref_found(s, b, id, refs, last, &left);
}

static int64_t delete_locked(b3cas_store *s, const b3cas_oid *id)
{
	rocksdb_writebatch_t *b;
	uint64_t refs = 0, size = 0, left = 0;
	bool is_inline = false, last = false;
	int rc = b3cas__lookup(s, id, &refs, &size, &is_inline);

	if (rc == 0 || rc == 2)
		return b3cas__not_stored(id);
	/* A malformed entry is removed at once, like a GC would. */
	if (rc == B3CAS_ECORRUPT)
		return remove_locked(s, id, false);
	if (rc < 0)
		return rc;
	b = rocksdb_writebatch_create();
	rc = stage_unref_found(s, b, id, refs, &last, &left);
	if (rc >= 0)
		rc = b3cas__write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	if (rc < 0)
		return rc;
	if (last)
		b3cas__caches_forget(s, id, false);
	return left > INT64_MAX ? INT64_MAX : (int64_t)left;
}

int64_t b3cas_store_delete(b3cas_store *s, const b3cas_oid *id)
{
	pthread_mutex_t *lock;
	int64_t rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	lock = b3cas__store_stripe(s, id);
	rc = b3cas__store_check_writable(s, "delete an object");

	uint64_t t0 = b3cas__now_ns();

	if (rc < 0)
		return rc;
	pthread_mutex_lock(lock);
	rc = delete_locked(s, id);
	pthread_mutex_unlock(lock);
	if (rc >= 0) {
		b3cas__hist_record(&s->count.lat_delete, b3cas__now_ns() - t0);
		atomic_fetch_add_explicit(&s->count.deletes, 1,
					  memory_order_relaxed);
	}
	return rc;
}

/* ---- references ---------------------------------------------------------- */

int64_t b3cas_ref_add(b3cas_store *s, const b3cas_oid *id)
{
	pthread_mutex_t *lock;
	uint64_t refs = 0, size;
	bool is_inline;
	int64_t rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	lock = b3cas__store_stripe(s, id);
	rc = b3cas__store_check_writable(s, "add a reference");

	if (rc < 0)
		return rc;
	pthread_mutex_lock(lock);
	rc = b3cas__lookup(s, id, &refs, &size, &is_inline);
	if (rc == 0 || rc == 2) {
		/* Only a put, which brings the bytes, revives a candidate. */
		rc = b3cas__not_stored(id);
	} else if (rc == 1 && refs == UINT64_MAX) {
		rc = b3cas__refs_overflow(id);
	} else if (rc == 1) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		uint64_t mine = 0;

		b3cas__batch_set_refs(b, s, id, refs != 1, refs + 1);
		rc = callers_refs(s, id, refs, &mine);
		if (rc == 0)
			rc = b3cas__write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
		if (rc == 0)
			rc = mine + 1 > INT64_MAX ? INT64_MAX
						  : (int64_t)(mine + 1);
	}
	pthread_mutex_unlock(lock);
	return rc;
}

int64_t b3cas_ref_remove(b3cas_store *s, const b3cas_oid *id)
{
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	return b3cas_store_delete(s, id);
}

int b3cas_refcount(b3cas_store *s, const b3cas_oid *id, uint64_t *count)
{
	uint64_t refs = 0, size;
	bool is_inline;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(count, "count");
	rc = b3cas__lookup(s, id, &refs, &size, &is_inline);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return b3cas__not_stored(id);
	if (rc == 2) {
		*count = 0; /* a GC candidate */
		return 0;
	}
	/* 0 too when chunked objects alone hold it */
	return callers_refs(s, id, refs, count);
}

/* A candidate's refs entry as mark_candidate writes it. */
static bool candidate_mark(const uint8_t *p, size_t len)
{
	return len == B3CAS_REFS_CANDIDATE_LEN && b3cas__get_u64(p) == 0 &&
	       p[24] >= B3CAS_ENTRY_INLINE && p[24] <= B3CAS_ENTRY_DELTA;
}

int b3cas__store_candidate(b3cas_store *s, const b3cas_oid *id,
			   uint64_t *since_ns, uint64_t *size,
			   bool *is_inline)
{
	rocksdb_pinnableslice_t *v;
	uint64_t refs;
	const uint8_t *p;
	size_t len;
	int rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, id->bytes,
				  B3CAS_OID_LEN, &v);

	if (rc <= 0)
		return rc; /* no refs entry: one reference, not a candidate */
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	/*
	 * The mark holds all a collection needs, and it changes in the
	 * same batch as the content entry's UNREF bit: the object's bytes
	 * are not read.
	 */
	if (candidate_mark(p, len)) {
		if (since_ns)
			*since_ns = b3cas__get_u64(p + 8);
		*size = b3cas__get_u64(p + 16);
		*is_inline = p[24] != B3CAS_ENTRY_LOOSE;
		rocksdb_pinnableslice_destroy(v);
		return 1;
	}
	rocksdb_pinnableslice_destroy(v);
	/* A count, or a mark not as written: ask the content entry. */
	rc = b3cas__lookup(s, id, &refs, size, is_inline);
	if (rc != 2)
		return rc < 0 ? rc : 0;
	/* A candidate without a readable mark counts as marked now: the
	 * grace period then protects it as long as possible. */
	if (since_ns)
		*since_ns = b3cas__wall_ns();
	return 1;
}

int b3cas_dedup_check(b3cas_store *s, const void *data, size_t len,
		      b3cas_oid *id_out, bool *is_dup)
{
	b3cas_oid id;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL(is_dup, "is_dup");
	rc = b3cas__store_hash(s, &id, data, len);
	if (rc < 0)
		return rc;
	*is_dup = false;
	if (b3cas__filter_may_contain(s->filter, &id)) {
		rc = b3cas_store_exists(s, &id);
		if (rc < 0)
			return rc;
		b3cas__filter_outcome(s->filter, rc == 1);
		*is_dup = rc == 1;
	}
	if (id_out)
		*id_out = id;
	return 0;
}
