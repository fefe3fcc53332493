/*
 * store/walk.c - walking every stored object in id order: one walk of the
 * content and refs column families side by side, for b3cas_store_foreach
 * and b3cas_store_stats, and the snapshots such walks read.
 *
 * Invariants: a walk reads a consistent snapshot of the index and takes
 * no stripe lock, so puts and deletes go on beside it.
 */
#include "store/handle.h"
#include "store/chunked.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

/* Past the refs entries before key: is the next one key's count? */
static uint64_t refs_of(rocksdb_iterator_t *rit, const char *key, size_t klen)
{
	size_t rklen, rvlen;
	const char *rk, *rv;

	while (rocksdb_iter_valid(rit)) {
		rk = rocksdb_iter_key(rit, &rklen);
		if (rklen == klen && memcmp(rk, key, klen) >= 0)
			break;
		rocksdb_iter_next(rit);
	}
	if (!rocksdb_iter_valid(rit))
		return 1; /* no refs entry: one reference */
	rk = rocksdb_iter_key(rit, &rklen);
	rv = rocksdb_iter_value(rit, &rvlen);
	if (rklen == klen && memcmp(rk, key, klen) == 0 && rvlen == 8)
		return b3cas__get_u64((const uint8_t *)rv);
	return 1;
}

/* Decode the content entry under it into *e (refs from rit). */
static int entry_at(rocksdb_iterator_t *it, rocksdb_iterator_t *rit,
		    b3cas__walk_entry *e)
{
	size_t klen, vlen;
	const char *key = rocksdb_iter_key(it, &klen);
	const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vlen);

	if (klen != B3CAS_OID_LEN || vlen < B3CAS_ENTRY_HEADER_LEN)
		return b3cas__error(B3CAS_ECORRUPT,
				    "malformed index entry (%zu-byte key, "
				    "%zu-byte value)", klen, vlen);
	memcpy(e->id.bytes, key, B3CAS_OID_LEN);
	e->size = b3cas__get_u64(v + 1);
	e->kind = v[0] & ~B3CAS_ENTRY_UNREF;
	e->candidate = (v[0] & B3CAS_ENTRY_UNREF) != 0;
	e->is_inline = e->kind != B3CAS_ENTRY_LOOSE;
	e->payload = v + B3CAS_ENTRY_HEADER_LEN;
	e->payload_len = vlen - B3CAS_ENTRY_HEADER_LEN;
	/* A candidate's refs entry is its mark, not a count. */
	e->refs = e->candidate ? 0 : refs_of(rit, key, klen);
	return 0;
}

void b3cas__snap_take(b3cas_store *s, b3cas__snap *snap, bool fill_cache)
{
	snap->snap = rocksdb_create_snapshot(s->ix->db);
	snap->ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_snapshot(snap->ro, snap->snap);
	rocksdb_readoptions_set_fill_cache(snap->ro, fill_cache);
}

void b3cas__snap_release(b3cas_store *s, b3cas__snap *snap)
{
	rocksdb_readoptions_destroy(snap->ro);
	rocksdb_release_snapshot(s->ix->db, snap->snap);
	snap->ro = NULL;
	snap->snap = NULL;
}

int b3cas__store_walk_snap(b3cas_store *s, const b3cas__snap *snap,
			   int (*fn)(const b3cas__walk_entry *e, void *ctx),
			   void *ctx)
{
	rocksdb_iterator_t *it, *rit;
	b3cas__walk_entry e = {0};
	char *err = NULL;
	int rc = 0;

	/* Both column families from one snapshot: they hold the same ids,
	 * so the two iterators move in step. */
	it = rocksdb_create_iterator_cf(s->ix->db, snap->ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	rit = rocksdb_create_iterator_cf(s->ix->db, snap->ro,
					 s->ix->cf[B3CAS_CF_REFS]);
	rocksdb_iter_seek_to_first(rit);
	for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		rc = entry_at(it, rit, &e);
		if (rc == 0)
			rc = fn(&e, ctx);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (!err)
			rocksdb_iter_get_error(rit, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(rit);
	rocksdb_iter_destroy(it);
	return rc;
}

int b3cas__store_walk(b3cas_store *s, bool fill_cache,
		      int (*fn)(const b3cas__walk_entry *e, void *ctx),
		      void *ctx)
{
	b3cas__snap snap;
	int rc;

	b3cas__snap_take(s, &snap, fill_cache);
	rc = b3cas__store_walk_snap(s, &snap, fn, ctx);
	b3cas__snap_release(s, &snap);
	return rc;
}

typedef struct foreach_ctx {
	b3cas_store *s;
	int (*fn)(const b3cas_object_info *info, void *ctx);
	void *ctx;
} foreach_ctx;

/* In a chunking store, what chunked objects hold of a count is not the
 * callers' (refs.c): foreach reports the rest, and leaves out chunks that
 * only chunked objects hold. */
static int foreach_one(const b3cas__walk_entry *e, void *arg)
{
	foreach_ctx *c = arg;
	b3cas_object_info info;
	uint64_t held = 0;
	int rc;

	if (e->candidate)
		return 0; /* a GC candidate: not stored any more */
	rc = b3cas__chunked_held(c->s, &e->id, &held);
	if (rc < 0)
		return rc;
	if (held >= e->refs && held > 0)
		return 0; /* only a chunk of chunked objects */
	info.id = e->id;
	info.size = e->size;
	info.is_inline = e->is_inline;
	info.refs = e->refs - held;
	return c->fn(&info, c->ctx);
}

int b3cas_store_foreach(b3cas_store *s,
			int (*fn)(const b3cas_object_info *info, void *ctx),
			void *ctx)
{
	foreach_ctx c = {s, fn, ctx};

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	return b3cas__store_walk(s, true, foreach_one, &c);
}
