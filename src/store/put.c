/*
 * store/put.c - storing an object: under its stripe lock, a duplicate gains
 * a reference, a new object is written (inline in the index batch, or a
 * loose file published before the batch that names it).
 *
 * Invariants: content and refs entries change in one batch under the
 * stripe lock; a loose file exists before its entry; new objects are
 * refused when the disk is low (reserve.c), duplicates and deletes are not.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compress/zstd.h"
#include "store/chunked.h"
#include "store/delta.h"
#include "store/pack.h"
#include "util/error.h"
#include "util/fsutil.h"

/*
 * Add a new inline object's entry to b: in a packed store, its bytes
 * into the data family (kind PACKED: RocksDB compresses them with their
 * neighbours); else compressed (kind ZINLINE) when the store compresses
 * and zstd saves enough (compress/zstd.h, worth), else its bytes as they
 * are. The frame is made with room for the worst
 * case, not with the worth-it size as the bound: libzstd can refuse a
 * tight buffer that the frame it would make fits in (it keeps room to
 * fall back to raw literals), and the rule must not depend on that.
 */
static void put_inline(rocksdb_writebatch_t *b, b3cas_store *s,
		       const b3cas_oid *id, const void *data, size_t len,
		       uint64_t seq)
{
	size_t max = s->lay.zlevel ? b3cas__zstd_worth_max(
					     len, B3CAS_ZSTD_MIN_SAVING_DEFAULT,
					     B3CAS_ZSTD_MIN_PERCENT_DEFAULT)
				   : 0;
	size_t cap = max > 0 ? b3cas__zstd_bound(len) : 0;
	uint8_t stack[20480], *dst = NULL;
	size_t csize;

	if (b3cas__packs(s)) {
		b3cas__pack_batch_put(b, s, id, data, len, false, seq);
		return;
	}
	if (cap > 0)
		dst = cap <= sizeof(stack) ? stack : malloc(cap);
	if (dst && b3cas__zstd_compress(&csize, dst, cap, data, len,
					s->lay.zlevel) == 0 &&
	    csize > 0 && csize <= max) {
		b3cas__batch_put_kind(b, s, id, B3CAS_ENTRY_ZINLINE, len, dst,
				      csize, false);
	} else {
		b3cas_error_clear();
		b3cas__batch_put_entry(b, s, id, data, len, true, false);
	}
	if (dst != stack)
		free(dst);
}

/*
 * Under id's stripe lock: add the object (or references to it) to batch b.
 * count is how many references to add. A new loose object's file is
 * written (or tmp published) here, before the batch that names it.
 */
int b3cas__stage_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			const b3cas_oid *id, const void *data, size_t len,
			b3cas_tmpfile *tmp, uint64_t count, uint64_t seq,
			bool *loose_out)
{
	uint64_t refs = 0;
	bool revive;
	int rc = 0;

	/* The filter can prove the id new and spare the lookup. */
	if (b3cas__filter_may_contain(s->filter, id)) {
		rc = b3cas__lookup_count(s, id, &refs);
		if (rc >= 0)
			b3cas__filter_outcome(s->filter, rc != 0);
	}
	*loose_out = false;
	if (rc < 0)
		goto discard;
	if (rc == 1) {
		if (refs > UINT64_MAX - count) {
			rc = b3cas__refs_overflow(id);
			goto discard;
		}
		b3cas__batch_set_refs(b, s, id, refs != 1, refs + count);
		rc = 1;
		goto discard; /* the bytes are already stored */
	}
	revive = rc == 2;
	/* New bytes: not into the space kept for deletes (reserve.c), and
	 * inline ones not into the index's log on a full disk. */
	if (!tmp && !s->tier && (len <= s->lay.inline_threshold ||
				 len <= s->lay.chunk_max))
		rc = b3cas__reserve_check_index_room(s, len);
	else
		rc = b3cas__reserve_check_room(s);
	if (rc < 0)
		goto discard;
	if (!revive) {
		b3cas__filter_add(s->filter, id);
	} else {
		b3cas__pack_batch_drop_id(b, s, id); /* its bytes come anew */
		b3cas__delta_batch_removed(s, b, id); /* and its base goes */
	}
	/*
	 * New, or a GC candidate (rc 2) that this put revives: its bytes are
	 * written again rather than trusted, so a revived object is as sound
	 * as a new one (and the rename replaces a candidate's old file).
	 */
	/* A chunked store keeps chunk-sized objects inline; a RADOS store
	 * keeps every object in its pool, for every host to read. */
	if (!tmp && !s->tier && (len <= s->lay.inline_threshold ||
				 len <= s->lay.chunk_max)) {
		put_inline(b, s, id, data, len, seq);
	} else {
		rc = tmp ? b3cas__loose_publish(s, tmp, id, revive)
			 : b3cas__loose_write(s, id, data, len, revive);
		if (rc == B3CAS_ENOSPC)
			b3cas__reserve_note_full(s);
		if (rc < 0)
			return rc;
		/*
		 * Another thread may have met a full disk while this file
		 * was written: the index write to come is new content,
		 * which must not take the space kept for deletes and GC
		 * (b3cas__write_batch gives it up to any write of a handle
		 * low on space). So the put is refused here after all, and
		 * a new object's file goes (no entry names it; a revived
		 * candidate's stays, its entry names it).
		 */
		rc = b3cas__reserve_check_room(s);
		if (rc < 0 && !revive) {
			char why[B3CAS__MESSAGE_MAX];

			snprintf(why, sizeof(why), "%s", b3cas_error_last());
			(void)b3cas__loose_remove(s, id);
			return b3cas__error(rc, "%s", why);
		}
		if (rc < 0)
			return rc;
		b3cas__batch_put_entry(b, s, id, NULL, len, false, false);
		*loose_out = true;
	}
	b3cas__batch_set_refs(b, s, id, revive, count);
	return 0;
discard:
	if (tmp)
		b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}

int b3cas__write_batch(b3cas_store *s, rocksdb_writebatch_t *b, bool loose)
{
	int rc;

	/* Low on space: this is a delete, GC or a duplicate (new objects
	 * are refused), what the reserve is kept for (reserve.c). */
	b3cas__reserve_before_write(s);
	rc = b3cas__index_write(s->ix, b,
				s->durability == B3CAS_DURABILITY_FULL);
	if (rc == 0)
		b3cas__note_written(s, loose);
	if (rc == B3CAS_ENOSPC)
		b3cas__reserve_note_full(s);
	return rc;
}

void b3cas__batch_tag(b3cas_store *s, rocksdb_writebatch_t *b,
		      const b3cas__tag *tag, const b3cas_oid *id)
{
	for (; tag; tag = tag->next)
		rocksdb_writebatch_put_cf(
			b, s->ix->cf[B3CAS_CF_META], (const char *)tag->key,
			tag->klen,
			(const char *)(tag->val ? tag->val : id->bytes),
			tag->val ? tag->vlen : B3CAS_OID_LEN);
}

int b3cas__store_publish(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp)
{
	return b3cas__store_publish_tag(s, id, data, len, tmp, NULL);
}

int b3cas__store_publish_tag(b3cas_store *s, const b3cas_oid *id,
			     const void *data, size_t len, b3cas_tmpfile *tmp,
			     const b3cas__tag *tag)
{
	pthread_mutex_t *lock;
	rocksdb_writebatch_t *b;
	bool loose;
	int rc, wrc;

	if (s->lay.chunk_max && len > s->lay.chunk_max) {
		rc = tmp ? b3cas__chunked_publish_fd(s, id, tmp->fd, len, tag)
			 : b3cas__chunked_publish(s, id, data, len, tag);
		if (tmp)
			b3cas__tmpfile_discard(&s->lay, tmp);
		return rc;
	}
	lock = b3cas__store_stripe(s, id);
	b = rocksdb_writebatch_create();
	pthread_mutex_lock(lock);
	rc = b3cas__stage_locked(s, b, id, data, len, tmp, 1, 0, &loose);
	if (rc >= 0) {
		b3cas__batch_tag(s, b, tag, id);
		wrc = b3cas__write_batch(s, b, loose);
		if (wrc < 0)
			rc = wrc;
		else
			b3cas__known_add(s->known, id); /* live once written */
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas_store_put(b3cas_store *s, b3cas_oid *id_out, const void *data,
		    size_t len)
{
	b3cas_oid id;
	int rc;

	uint64_t t0 = b3cas__now_ns();

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	rc = b3cas__store_check_writable(s, "store an object");
	if (rc == 0)
		rc = b3cas__store_hash(s, &id, data, len);
	if (rc == 0)
		rc = b3cas__store_publish(s, &id, data, len, NULL);
	if (rc >= 0 && id_out)
		*id_out = id;
	b3cas__note_put(s, t0, len, rc, 1);
	return rc;
}

int b3cas_store_put_linked(b3cas_store *s, b3cas_oid *id_out,
			   const void *data, size_t len,
			   const b3cas_oid *links, size_t nlinks)
{
	uint64_t t0 = b3cas__now_ns();
	b3cas_oid id;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL_LEN(links, "links", nlinks, "nlinks");
	rc = b3cas__store_check_writable(s, "store an object");
	if (rc == 0)
		rc = b3cas__store_hash(s, &id, data, len);
	if (rc == 0)
		rc = b3cas__store_put_linked(s, &id, data, len, links, nlinks,
					     NULL, 0, NULL);
	if (rc >= 0 && id_out)
		*id_out = id;
	b3cas__note_put(s, t0, len, rc, 1);
	return rc;
}
