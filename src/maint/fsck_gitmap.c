/*
 * maint/fsck_gitmap.c - fsck's check of the git mapping (store/gitmap.c,
 * docs/git.md): every forward key 'g' algo gitid must decode, name an
 * object that has an entry, have its reverse key 'G' id algo type naming
 * it back, and the object's content must hash to the git id with git's
 * hash (SHA-1 or SHA-256 of "TYPE SIZE\0" and the content, read in
 * pieces); every reverse key must have its forward key. A mapping found
 * wrong is a B3CAS_FSCK_GIT_MAP finding. With repair, under the
 * object's stripe lock (where every mapping key is written) and after a
 * second look: a missing reverse key is written; a mapping that cannot
 * be trusted (malformed, to an object not stored, to content of another
 * git id) is removed, both keys, the object kept; a reverse key alone is
 * removed.
 *
 * The walk reads the live index while writers may change it: a finding
 * is confirmed by a second look under the stripe lock before it is
 * reported. A mapping's keys and its object's entry change only in one
 * batch under that lock, so a sound store never shows one without the
 * other. An object whose content cannot be read (damaged, which the
 * entry walk reports) is not held against its mapping.
 */
#include "maint/fsck_int.h"

#include <stdio.h>
#include <string.h>

typedef struct gm_finding {
	b3cas_oid id;
	bool has_id;
	char detail[256];
	const char *action;
} gm_finding;

static void report(fsck_worker *w, const gm_finding *g)
{
	b3cas_fsck_problem p = {0};

	p.kind = B3CAS_FSCK_GIT_MAP;
	p.has_id = g->has_id;
	p.id = g->id;
	p.detail = g->detail;
	p.action = g->action;
	b3cas__fsck_found(w, &p);
	if (g->action)
		w->r.git_mended++;
}

/* What is wrong with forward key k (klen) and value v, or 0 (sound): 1
 * when the mapping must go, 2 when only its reverse key is missing, or an
 * error. *o and x->detail are set. */
static int judge(b3cas_store *s, const uint8_t *k, size_t klen,
		 const uint8_t *v, size_t vlen, b3cas_git_object *o,
		 gm_finding *x)
{
	char hex[B3CAS_GIT_HEX_MAX + 1], ghex[B3CAS_GIT_HEX_MAX + 1];
	uint8_t fk[B3CAS__GITMAP_FWD_MAX], rk[B3CAS__GITMAP_REV_LEN];
	uint8_t fv[B3CAS__GITMAP_FWD_VAL];
	rocksdb_pinnableslice_t *rv;
	b3cas_index *ix = b3cas__store_index(s);
	uint64_t count = 0, size = 0;
	b3cas_git_oid got;
	size_t n;
	int rc;

	if (b3cas__gitmap_decode(k, klen, v, vlen, o) < 0) {
		snprintf(x->detail, sizeof(x->detail), "%s",
			 b3cas_error_last());
		b3cas_error_clear();
		x->has_id = false;
		return 1;
	}
	x->has_id = true;
	x->id = o->id;
	b3cas_git_oid_fmt(hex, &o->git);
	rc = b3cas_refcount(s, &o->id, &count);
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		snprintf(x->detail, sizeof(x->detail), "git id %s maps to an "
			 "object that is not stored", hex);
		return 1;
	}
	if (rc < 0)
		return rc;
	rc = b3cas__gitmap_rehash(s, o, &got, &size);
	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT) {
		b3cas_error_clear(); /* the entry walk reports the object */
		return 0;
	}
	if (rc < 0)
		return rc;
	n = b3cas_git_oid_len(o->git.algo);
	if (size != o->size || memcmp(got.bytes, o->git.bytes, n) != 0) {
		snprintf(x->detail, sizeof(x->detail), "git id %s maps to an "
			 "object whose content (%llu bytes, the mapping says "
			 "%llu) is git id %s", hex, (unsigned long long)size,
			 (unsigned long long)o->size,
			 b3cas_git_oid_fmt(ghex, &got));
		return 1;
	}
	(void)b3cas__gitmap_keys(o, fk, rk, fv);
	rc = b3cas__index_get(ix, B3CAS_CF_META, rk, sizeof(rk), &rv);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		size_t len;
		const char *p = rocksdb_pinnableslice_value(rv, &len);
		bool same = len == n && memcmp(p, o->git.bytes, n) == 0;

		rocksdb_pinnableslice_destroy(rv);
		if (same)
			return 0;
	}
	snprintf(x->detail, sizeof(x->detail), "git id %s: its reverse key "
		 "(the object's git id as a %s) is missing or names another "
		 "id", hex, b3cas_git_type_name(o->type));
	return 2;
}

/* Does reverse key rk hold git id g? 1, 0, or an error. */
static int names(b3cas_index *ix, const uint8_t *rk, const b3cas_git_oid *g)
{
	rocksdb_pinnableslice_t *v;
	size_t n = b3cas_git_oid_len(g->algo), len;
	const char *p;
	int rc = b3cas__index_get(ix, B3CAS_CF_META, rk, B3CAS__GITMAP_REV_LEN,
				  &v);

	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	rc = len == n && memcmp(p, g->bytes, n) == 0;
	rocksdb_pinnableslice_destroy(v);
	return rc;
}

/* The forward key k (klen) now, under the lock: its value into *v (to
 * destroy), 1; 0 gone; or an error. */
static int reread(b3cas_index *ix, const uint8_t *k, size_t klen,
		  rocksdb_pinnableslice_t **v)
{
	return b3cas__index_get(ix, B3CAS_CF_META, k, klen, v);
}

/* A second look at forward key k under the stripe lock of the object it
 * named (first: *first), and with repair the mending. */
static int confirm(fsck_worker *w, const uint8_t *k, size_t klen,
		   const b3cas_git_object *first)
{
	b3cas_store *s = w->f->s;
	b3cas_index *ix = b3cas__store_index(s);
	pthread_mutex_t *lock = b3cas__store_stripe(s, &first->id);
	rocksdb_pinnableslice_t *v;
	b3cas_git_object o;
	gm_finding x = {0};
	int rc, verdict = 0;

	pthread_mutex_lock(lock);
	rc = reread(ix, k, klen, &v);
	if (rc == 1) {
		size_t vlen;
		const char *p = rocksdb_pinnableslice_value(v, &vlen);

		verdict = judge(s, k, klen, (const uint8_t *)p, vlen, &o, &x);
		rocksdb_pinnableslice_destroy(v);
		/* another object's now: its own lock would be needed */
		if (verdict > 0 && x.has_id &&
		    !b3cas_oid_equal(&o.id, &first->id))
			verdict = 0;
	}
	if (rc >= 0 && verdict > 0 && w->f->o->repair) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		uint8_t fk[B3CAS__GITMAP_FWD_MAX], rk[B3CAS__GITMAP_REV_LEN];
		uint8_t fv[B3CAS__GITMAP_FWD_VAL];

		if (x.has_id)
			(void)b3cas__gitmap_keys(&o, fk, rk, fv);
		if (verdict == 2) {
			rocksdb_writebatch_put_cf(b, ix->cf[B3CAS_CF_META],
						  (const char *)rk, sizeof(rk),
						  (const char *)o.git.bytes,
						  b3cas_git_oid_len(o.git.algo));
		} else {
			rocksdb_writebatch_delete_cf(b, ix->cf[B3CAS_CF_META],
						     (const char *)k, klen);
			/* its reverse key only if it names this git id: a
			 * sound mapping of the same object and type has
			 * that key too */
			if (x.has_id && names(ix, rk, &o.git) == 1)
				rocksdb_writebatch_delete_cf(
					b, ix->cf[B3CAS_CF_META],
					(const char *)rk, sizeof(rk));
		}
		if (b3cas__store_write_batch(s, b) == 0)
			x.action = verdict == 2 ? "reverse key written"
						: "mapping removed (the "
						  "object kept)";
		else
			b3cas_error_clear(); /* reported unmended */
		rocksdb_writebatch_destroy(b);
	}
	pthread_mutex_unlock(lock);
	if (rc < 0 || verdict < 0)
		return rc < 0 ? rc : verdict;
	if (verdict > 0)
		report(w, &x);
	return 0;
}

/* A reverse key k (klen) and value v: does its forward key name it
 * back? 1 yes (or it is not a key of that form), 0 no, or an error. */
static int reverse_sound(b3cas_index *ix, const uint8_t *k, size_t klen,
			 const uint8_t *v, size_t vlen, b3cas_git_object *want)
{
	uint8_t fk[B3CAS__GITMAP_FWD_MAX];
	rocksdb_pinnableslice_t *fvp;
	b3cas_git_object o;
	size_t n;
	int rc;

	if (klen != B3CAS__GITMAP_REV_LEN)
		return 1;
	memset(want, 0, sizeof(*want));
	want->git.algo = (b3cas_git_algo)k[1 + B3CAS_OID_LEN];
	want->type = (b3cas_git_type)k[2 + B3CAS_OID_LEN];
	memcpy(want->id.bytes, k + 1, B3CAS_OID_LEN);
	n = b3cas_git_oid_len(want->git.algo);
	if (n == 0 || vlen != n)
		return 0;
	memcpy(want->git.bytes, v, n);
	fk[0] = 'g';
	fk[1] = (uint8_t)want->git.algo;
	memcpy(fk + 2, v, n);
	rc = b3cas__index_get(ix, B3CAS_CF_META, fk, 2 + n, &fvp);
	if (rc <= 0)
		return rc;
	{
		size_t fvlen;
		const char *p = rocksdb_pinnableslice_value(fvp, &fvlen);

		rc = b3cas__gitmap_decode(fk, 2 + n, (const uint8_t *)p, fvlen,
					  &o) == 0 &&
		     b3cas_oid_equal(&o.id, &want->id) &&
		     o.type == want->type;
		b3cas_error_clear();
	}
	rocksdb_pinnableslice_destroy(fvp);
	return rc;
}

/* A reverse key without its forward one: confirmed under the lock,
 * removed with repair. */
static int confirm_reverse(fsck_worker *w, const uint8_t *k, size_t klen)
{
	b3cas_store *s = w->f->s;
	b3cas_index *ix = b3cas__store_index(s);
	b3cas_git_object want;
	b3cas_oid id;
	pthread_mutex_t *lock;
	rocksdb_pinnableslice_t *v;
	gm_finding x = {0};
	char hex[B3CAS_OID_HEX_LEN + 1];
	int rc, sound = 1;

	memcpy(id.bytes, k + 1, B3CAS_OID_LEN);
	lock = b3cas__store_stripe(s, &id);
	pthread_mutex_lock(lock);
	rc = b3cas__index_get(ix, B3CAS_CF_META, k, klen, &v);
	if (rc == 1) {
		size_t vlen;
		const char *p = rocksdb_pinnableslice_value(v, &vlen);

		sound = reverse_sound(ix, k, klen, (const uint8_t *)p, vlen,
				      &want);
		rocksdb_pinnableslice_destroy(v);
	}
	if (rc >= 0 && sound == 0) {
		x.has_id = true;
		x.id = id;
		snprintf(x.detail, sizeof(x.detail), "object %s has a git "
			 "reverse key whose forward mapping is missing or "
			 "names another object", b3cas_oid_fmt(hex, &id));
		if (w->f->o->repair) {
			rocksdb_writebatch_t *b = rocksdb_writebatch_create();

			rocksdb_writebatch_delete_cf(b, ix->cf[B3CAS_CF_META],
						     (const char *)k, klen);
			if (b3cas__store_write_batch(s, b) == 0)
				x.action = "reverse key removed";
			else
				b3cas_error_clear();
			rocksdb_writebatch_destroy(b);
		}
	}
	pthread_mutex_unlock(lock);
	if (rc < 0 || sound < 0)
		return rc < 0 ? rc : sound;
	if (sound == 0)
		report(w, &x);
	return 0;
}

/* Walk the keys of kind ('g' or 'G'). */
static int walk(fsck_worker *w, char kind)
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
		const uint8_t *k =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		b3cas_git_object o;
		gm_finding x = {0};
		int verdict;

		if (klen < 1 || k[0] != (uint8_t)kind)
			break;
		if (kind == 'G') {
			verdict = reverse_sound(ix, k, klen, v, vlen, &o);
			if (verdict == 0)
				rc = confirm_reverse(w, k, klen);
			else if (verdict < 0)
				rc = verdict;
			continue;
		}
		verdict = judge(s, k, klen, v, vlen, &o, &x);
		if (verdict < 0) {
			rc = verdict;
		} else if (verdict > 0 && !x.has_id) {
			/* malformed: it names no object, so no lock; no
			 * writer makes such a key */
			if (w->f->o->repair) {
				rocksdb_writebatch_t *b =
					rocksdb_writebatch_create();

				rocksdb_writebatch_delete_cf(
					b, ix->cf[B3CAS_CF_META],
					(const char *)k, klen);
				if (b3cas__store_write_batch(s, b) == 0)
					x.action = "mapping removed";
				else
					b3cas_error_clear();
				rocksdb_writebatch_destroy(b);
			}
			report(w, &x);
		} else if (verdict > 0) {
			rc = confirm(w, k, klen, &o);
		}
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the git "
						     "mapping");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int b3cas__fsck_check_gitmap(fsck_worker *w)
{
	int rc = b3cas__gitmap_any(w->f->s);

	if (rc <= 0)
		return rc;
	rc = walk(w, 'g');
	if (rc == 0 && !b3cas__fsck_halted(w->f))
		rc = walk(w, 'G');
	return rc;
}
