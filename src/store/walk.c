/*
 * store/walk.c - walking every stored object in id order: one walk of the
 * content and refs column families side by side, for b3cas_store_foreach
 * and b3cas_store_stats.
 *
 * Invariants: a walk reads a consistent snapshot of the index and takes
 * no stripe lock, so puts and deletes go on beside it.
 */
#include "store/handle.h"

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
	e->candidate = (v[0] & B3CAS_ENTRY_UNREF) != 0;
	e->is_inline = (v[0] & ~B3CAS_ENTRY_UNREF) != B3CAS_ENTRY_LOOSE;
	/* A candidate's refs entry is its mark, not a count. */
	e->refs = e->candidate ? 0 : refs_of(rit, key, klen);
	return 0;
}

int b3cas__store_walk(b3cas_store *s, bool fill_cache,
		      int (*fn)(const b3cas__walk_entry *e, void *ctx),
		      void *ctx)
{
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(s->ix->db);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it, *rit;
	b3cas__walk_entry e = {0};
	char *err = NULL;
	int rc = 0;

	/* Both column families from one snapshot: they hold the same ids,
	 * so the two iterators move in step. */
	rocksdb_readoptions_set_snapshot(ro, snap);
	rocksdb_readoptions_set_fill_cache(ro, fill_cache);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	rit = rocksdb_create_iterator_cf(s->ix->db, ro,
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
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(s->ix->db, snap);
	return rc;
}

typedef struct foreach_ctx {
	int (*fn)(const b3cas_object_info *info, void *ctx);
	void *ctx;
} foreach_ctx;

static int foreach_one(const b3cas__walk_entry *e, void *arg)
{
	foreach_ctx *c = arg;
	b3cas_object_info info;

	if (e->candidate)
		return 0; /* a GC candidate: not stored any more */
	info.id = e->id;
	info.size = e->size;
	info.is_inline = e->is_inline;
	info.refs = e->refs;
	return c->fn(&info, c->ctx);
}

int b3cas_store_foreach(b3cas_store *s,
			int (*fn)(const b3cas_object_info *info, void *ctx),
			void *ctx)
{
	foreach_ctx c = {fn, ctx};

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	return b3cas__store_walk(s, true, foreach_one, &c);
}
