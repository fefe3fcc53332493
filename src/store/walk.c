/*
 * store/walk.c - walking every stored object in id order.
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

/* ---- walking ---------------------------------------------------------------- */

int b3cas_store_foreach(b3cas_store *s,
			int (*fn)(const b3cas_object_info *info, void *ctx),
			void *ctx)
{
	const rocksdb_snapshot_t *snap;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *refs_it, *it;
	char *err = NULL;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	snap = rocksdb_create_snapshot(s->ix->db);
	ro = rocksdb_readoptions_create();
	/* Both column families from one snapshot: they hold the same ids,
	 * so the two iterators move in step. */
	rocksdb_readoptions_set_snapshot(ro, snap);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	refs_it = rocksdb_create_iterator_cf(s->ix->db, ro,
					     s->ix->cf[B3CAS_CF_REFS]);
	rocksdb_iter_seek_to_first(it);
	rocksdb_iter_seek_to_first(refs_it);
	for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		b3cas_object_info info;
		size_t klen, vlen, rklen, rvlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		const char *rkey, *rv;

		if (klen != B3CAS_OID_LEN || vlen < B3CAS_ENTRY_HEADER_LEN) {
			rc = b3cas__error(B3CAS_ECORRUPT,
					  "malformed index entry (key %zu "
					  "bytes, value %zu bytes)",
					  klen, vlen);
			break;
		}
		if (v[0] & B3CAS_ENTRY_UNREF)
			continue; /* a GC candidate: not stored any more */
		memcpy(info.id.bytes, key, B3CAS_OID_LEN);
		info.size = b3cas__get_u64(v + 1);
		info.is_inline = (v[0] & ~B3CAS_ENTRY_UNREF) ==
				 B3CAS_ENTRY_INLINE;
		info.refs = 1; /* no refs entry: one reference */
		while (rocksdb_iter_valid(refs_it)) {
			rkey = rocksdb_iter_key(refs_it, &rklen);
			if (rklen == klen && memcmp(rkey, key, klen) >= 0)
				break;
			rocksdb_iter_next(refs_it);
		}
		if (rocksdb_iter_valid(refs_it)) {
			rkey = rocksdb_iter_key(refs_it, &rklen);
			rv = rocksdb_iter_value(refs_it, &rvlen);
			if (rklen == klen && memcmp(rkey, key, klen) == 0 &&
			    rvlen == 8)
				info.refs = b3cas__get_u64((const uint8_t *)rv);
		}
		rc = fn(&info, ctx);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(refs_it);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(s->ix->db, snap);
	return rc;
}
