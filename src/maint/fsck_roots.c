/*
 * maint/fsck_roots.c - fsck's check of what holds references from the
 * meta family: names ('N' name -> id), leases' references ('q' gen seq
 * -> id) and linked objects' links ('l' id). A name or a lease's
 * reference holds one of its object's references, so that object must
 * be stored (live); a links top belongs to an object whose entry must be
 * there (live or a GC candidate: GC removes both in one batch). A key
 * that names what is not there is a B3CAS_FSCK_ROOT finding: the
 * object's bytes are gone (b3cas_restore from a backup brings them
 * back), so nothing is repaired.
 *
 * The check reads the live index, and a writer may change it meanwhile:
 * a finding is reported only when a second look finds the key unchanged
 * and the object still not there. Every change of a key comes in the
 * batch that moves its reference, so a sound store never shows both.
 */
#include "maint/fsck_int.h"

#include <stdio.h>
#include <string.h>

/* Whether id is there as a key of kind needs (live for names and
 * leases, an entry for links): 1 yes, 0 no, or an error. */
static int present(b3cas_store *s, char kind, const b3cas_oid *id)
{
	uint64_t count = 0;
	int rc = b3cas_refcount(s, id, &count);

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	return kind == 'l' || count > 0;
}

/* The key k (klen bytes) still names id: 1, 0, or an error. */
static int still(b3cas_index *ix, const char *k, size_t klen, char kind,
		 const b3cas_oid *id)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc;

	if (kind == 'l')
		return b3cas__index_has(ix, B3CAS_CF_META, k, klen);
	rc = b3cas__index_get(ix, B3CAS_CF_META, k, klen, &v);
	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	rc = len == B3CAS_OID_LEN && memcmp(p, id->bytes, len) == 0;
	rocksdb_pinnableslice_destroy(v);
	return rc;
}

static void report(fsck_worker *w, char kind, const char *k, size_t klen,
		   const b3cas_oid *id)
{
	b3cas_fsck_problem p = {0};
	char detail[B3CAS_NAME_MAX + 200];

	if (kind == 'N')
		snprintf(detail, sizeof(detail), "name '%.*s' names an object "
			 "that is not stored (its bytes are lost: restore "
			 "them from a backup)", (int)(klen - 1), k + 1);
	else if (kind == 'q')
		snprintf(detail, sizeof(detail), "a lease's reference (of a "
			 "job under way, or left by one that ended) names an "
			 "object that is not stored");
	else
		snprintf(detail, sizeof(detail), "the links of an object are "
			 "kept, but the object is not stored (the references "
			 "they hold are never released)");
	p.kind = B3CAS_FSCK_ROOT;
	p.has_id = true;
	p.id = *id;
	p.detail = detail;
	b3cas__fsck_found(w, &p);
}

/* Check every key of kind. */
static int check_kind(fsck_worker *w, char kind)
{
	b3cas_store *s = w->f->s;
	b3cas_index *ix = b3cas__store_index(s);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_META]);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, &kind, 1);
	     rc == 0 && rocksdb_iter_valid(it) && !b3cas__fsck_halted(w->f);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		b3cas_oid id;

		if (klen < 1 || k[0] != kind)
			break;
		if (kind == 'l' && klen == 1 + B3CAS_OID_LEN)
			memcpy(id.bytes, k + 1, B3CAS_OID_LEN);
		else if (kind != 'l' && vlen == B3CAS_OID_LEN &&
			 (kind == 'N' || klen == 25))
			memcpy(id.bytes, v, B3CAS_OID_LEN);
		else
			continue; /* not a key of this kind's form */
		int got = present(s, kind, &id);

		/* not there: a second look, as a writer may have moved the
		 * key meanwhile */
		if (got == 0) {
			got = still(ix, k, klen, kind, &id);
			if (got == 1)
				got = present(s, kind, &id);
			else if (got == 0)
				got = 1; /* the key went: nothing to say */
		}
		if (got == 0)
			report(w, kind, k, klen, &id);
		rc = got < 0 ? got : 0;
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the names");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int b3cas__fsck_check_roots(fsck_worker *w)
{
	static const char kinds[] = {'N', 'q', 'l'};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(kinds); i++)
		rc = check_kind(w, kinds[i]);
	return rc;
}
