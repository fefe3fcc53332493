/*
 * store/names.c - names: GC roots with a name (b3cas_name_*, docs/store.md
 * "Names"). A name is a key 'N' name in the meta family whose value is an
 * object's id, and it holds one reference to that object, the way a
 * caller's reference is held, so GC keeps it and all it links to. Every
 * change of a name and of the references it moves is one index batch,
 * under the names lock and then the stripe locks of the ids it touches
 * (in id order): a crash leaves the name old or new, with the references
 * to match.
 */
#include "store/chunked.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define NAME_KEY_MAX (1 + B3CAS_NAME_MAX)

/* 'N' name into k: its length, or 0 after B3CAS_EINVAL. */
static size_t name_key(uint8_t k[NAME_KEY_MAX], const char *fn,
		       const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > B3CAS_NAME_MAX) {
		(void)b3cas__error(B3CAS_EINVAL, "%s: a name has 1 to %u "
				   "bytes, not %zu", fn, B3CAS_NAME_MAX, n);
		return 0;
	}
	k[0] = 'N';
	memcpy(k + 1, name, n);
	return n + 1;
}

/* The id name k (klen bytes) holds now: 1 and *id, 0 (none), or an
 * error. */
static int name_read(b3cas_store *s, const uint8_t *k, size_t klen,
		     b3cas_oid *id)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc = b3cas__index_get(s->ix, B3CAS_CF_META, k, klen, &v);

	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	if (len == B3CAS_OID_LEN)
		memcpy(id->bytes, p, B3CAS_OID_LEN);
	rocksdb_pinnableslice_destroy(v);
	if (len != B3CAS_OID_LEN)
		return b3cas__error(B3CAS_ECORRUPT, "name '%.*s' is malformed "
				    "(%zu bytes)", (int)(klen - 1),
				    (const char *)k + 1, len);
	return 1;
}

/* Lock (or unlock) the stripes of a and b (either may be NULL), each
 * once, in id order. */
static void lock_two(b3cas_store *s, const b3cas_oid *a, const b3cas_oid *b,
		     bool lock)
{
	pthread_mutex_t *prev = NULL;

	if (a && b && memcmp(a->bytes, b->bytes, B3CAS_OID_LEN) > 0) {
		const b3cas_oid *t = a;

		a = b;
		b = t;
	}
	if (a)
		b3cas__lock_step(b3cas__store_stripe(s, a), &prev, lock);
	if (b)
		b3cas__lock_step(b3cas__store_stripe(s, b), &prev, lock);
}

int b3cas_name_set(b3cas_store *s, const char *name, const b3cas_oid *id)
{
	uint8_t k[NAME_KEY_MAX];
	rocksdb_writebatch_t *b;
	b3cas_oid old;
	size_t klen;
	bool had, last = false;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(name, "name");
	B3CAS__NONNULL(id, "id");
	rc = b3cas__store_check_writable(s, "set a name");
	if (rc < 0)
		return rc;
	klen = name_key(k, "b3cas_name_set", name);
	if (!klen)
		return B3CAS_EINVAL;
	rc = b3cas__store_sync_files_for_name(s);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->names_lock);
	rc = name_read(s, k, klen, &old);
	had = rc == 1;
	if (rc < 0 || (had && b3cas_oid_equal(&old, id))) {
		pthread_mutex_unlock(&s->names_lock);
		return rc < 0 ? rc : 1; /* already so */
	}
	b = rocksdb_writebatch_create();
	lock_two(s, id, had ? &old : NULL, true);
	rc = b3cas__stage_ref_locked(s, b, id);
	if (rc == 0 && had)
		rc = b3cas__stage_unref_locked(s, b, &old, &last);
	if (rc == 0) {
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)k, klen,
					  (const char *)id->bytes,
					  B3CAS_OID_LEN);
		rc = b3cas__write_batch(s, b, false);
	}
	if (rc == 0 && last)
		b3cas__caches_forget(s, &old, false);
	lock_two(s, id, had ? &old : NULL, false);
	pthread_mutex_unlock(&s->names_lock);
	rocksdb_writebatch_destroy(b);
	return rc < 0 ? rc : had;
}

int b3cas_name_get(b3cas_store *s, const char *name, b3cas_oid *id_out)
{
	uint8_t k[NAME_KEY_MAX];
	b3cas_oid id;
	size_t klen;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(name, "name");
	B3CAS__NONNULL(id_out, "id_out");
	klen = name_key(k, "b3cas_name_get", name);
	if (!klen)
		return B3CAS_EINVAL;
	rc = name_read(s, k, klen, &id);
	if (rc == 0)
		return b3cas__error(B3CAS_ENOTFOUND, "no name '%s'", name);
	if (rc > 0)
		*id_out = id;
	return rc < 0 ? rc : 0;
}

int b3cas_name_delete(b3cas_store *s, const char *name)
{
	uint8_t k[NAME_KEY_MAX];
	rocksdb_writebatch_t *b;
	b3cas_oid old;
	size_t klen;
	bool last = false;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(name, "name");
	rc = b3cas__store_check_writable(s, "delete a name");
	if (rc < 0)
		return rc;
	klen = name_key(k, "b3cas_name_delete", name);
	if (!klen)
		return B3CAS_EINVAL;
	pthread_mutex_lock(&s->names_lock);
	rc = name_read(s, k, klen, &old);
	if (rc <= 0) {
		pthread_mutex_unlock(&s->names_lock);
		return rc < 0 ? rc
			      : b3cas__error(B3CAS_ENOTFOUND, "no name '%s'",
					     name);
	}
	b = rocksdb_writebatch_create();
	lock_two(s, &old, NULL, true);
	rc = b3cas__stage_unref_locked(s, b, &old, &last);
	/* a name whose object went (damage) goes all the same */
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		rc = 0;
	}
	if (rc == 0) {
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)k, klen);
		rc = b3cas__write_batch(s, b, false);
	}
	if (rc == 0 && last)
		b3cas__caches_forget(s, &old, false);
	lock_two(s, &old, NULL, false);
	pthread_mutex_unlock(&s->names_lock);
	rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas_name_foreach(b3cas_store *s, const char *prefix,
		       int (*fn)(const char *name, const b3cas_oid *id,
				 void *ctx),
		       void *ctx)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	uint8_t k[NAME_KEY_MAX];
	char name[B3CAS_NAME_MAX + 1];
	size_t plen;
	char *err = NULL;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	plen = prefix ? strlen(prefix) : 0;
	if (plen > B3CAS_NAME_MAX)
		return b3cas__error(B3CAS_EINVAL, "b3cas_name_foreach: a "
				    "prefix of %zu bytes names nothing", plen);
	k[0] = 'N';
	if (plen)
		memcpy(k + 1, prefix, plen);
	ro = rocksdb_readoptions_create();
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	for (rocksdb_iter_seek(it, (const char *)k, plen + 1);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		b3cas_oid id;

		if (klen < plen + 1 || memcmp(key, k, plen + 1) != 0)
			break;
		if (klen > NAME_KEY_MAX || vlen != B3CAS_OID_LEN ||
		    memchr(key + 1, '\0', klen - 1)) {
			rc = b3cas__error(B3CAS_ECORRUPT, "a name of %zu bytes "
					  "is malformed", klen - 1);
			break;
		}
		memcpy(name, key + 1, klen - 1);
		name[klen - 1] = '\0';
		memcpy(id.bytes, v, B3CAS_OID_LEN);
		rc = fn(name, &id, ctx);
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

int b3cas_name_put_linked(b3cas_store *s, const char *name, const void *data,
			  size_t len, const b3cas_oid *links, size_t nlinks,
			  b3cas_oid *id_out)
{
	uint8_t k[NAME_KEY_MAX];
	b3cas_oid id;
	size_t klen;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(name, "name");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL_LEN(links, "links", nlinks, "nlinks");
	rc = b3cas__store_check_writable(s, "store an object");
	if (rc < 0)
		return rc;
	klen = name_key(k, "b3cas_name_put_linked", name);
	if (!klen)
		return B3CAS_EINVAL;
	/* a name there already fails at once (and again at the commit,
	 * under the lock, if it comes meanwhile) */
	rc = b3cas__index_has(s->ix, B3CAS_CF_META, k, klen);
	if (rc > 0)
		return b3cas__error(B3CAS_EEXISTS, "name '%s' exists already",
				    name);
	if (rc == 0)
		rc = b3cas__store_sync_files_for_name(s);
	if (rc == 0)
		rc = b3cas__store_hash(s, &id, data, len);
	if (rc == 0)
		rc = b3cas__store_put_linked(s, &id, data, len, links, nlinks,
					     k, klen, NULL);
	if (rc >= 0 && id_out)
		*id_out = id;
	return rc;
}
