/*
 * store/lease.c - leases (b3cas_lease_*, docs/store.md "Leases"): the
 * references a job of many steps holds while it runs, each recorded by a
 * key 'q' gen seq -> id in the meta family, written in the very batch
 * that takes the reference (a b3cas__tag) and deleted in the batch that
 * drops it. gen is the lease's random name and seq counts its
 * references, so every reference has a key of its own. Only one process
 * writes a store (its LOCK), so at a writable open every 'q' key is one
 * that a process which ended left behind: the open drops them all.
 *
 * In memory a lease keeps, per id, the chain of its keys' seqs (the last
 * taken first), so a drop finds its key without a walk of the index.
 */
#include "store/chunked.h"
#include "store/store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"

#define GEN_LEN 16
#define KEY_LEN (1 + GEN_LEN + 8)
#define NONE SIZE_MAX

typedef struct lease_ref {
	uint64_t seq;
	size_t prev; /* the entry of the same id taken before, or NONE */
} lease_ref;

typedef struct slot {
	b3cas_oid id;
	size_t head; /* its last entry, NONE: no reference (or free) */
	bool used;
} slot;

struct b3cas_lease {
	b3cas_store *s;
	uint8_t gen[GEN_LEN];
	pthread_mutex_t lock;
	uint64_t next;  /* the next seq */
	uint64_t live;  /* references held */
	lease_ref *refs;
	size_t nrefs, refs_cap;
	slot *slots;
	size_t used, cap; /* a power of two */
};

static void lease_key(uint8_t k[KEY_LEN], const uint8_t gen[GEN_LEN],
		      uint64_t seq)
{
	k[0] = 'q';
	memcpy(k + 1, gen, GEN_LEN);
	for (int i = 0; i < 8; i++)
		k[1 + GEN_LEN + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static size_t slot_of(const slot *slots, size_t cap, const b3cas_oid *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id->bytes, sizeof(h));
	for (i = (size_t)(h * 0x9e3779b97f4a7c15ull) & (cap - 1);
	     slots[i].used && !b3cas_oid_equal(&slots[i].id, id);
	     i = (i + 1) & (cap - 1))
		;
	return i;
}

/* Under the lease's lock: room for one more id. */
static int grow(b3cas_lease *l)
{
	size_t cap = l->cap ? 2 * l->cap : 64;
	slot *n;

	if (2 * (l->used + 1) <= l->cap)
		return 0;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return b3cas__error(B3CAS_ENOMEM, "lease: out of memory");
	l->used = 0;
	for (size_t i = 0; i < l->cap; i++) {
		/* ids whose references all went are left behind */
		if (!l->slots[i].used || l->slots[i].head == NONE)
			continue;
		n[slot_of(n, cap, &l->slots[i].id)] = l->slots[i];
		l->used++;
	}
	free(l->slots);
	l->slots = n;
	l->cap = cap;
	return 0;
}

/* Under the lease's lock: room for the entry of one more reference. */
static int room(b3cas_lease *l)
{
	if (l->nrefs == l->refs_cap) {
		size_t cap = l->refs_cap ? 2 * l->refs_cap : 256;
		lease_ref *r = realloc(l->refs, cap * sizeof(*r));

		if (!r)
			return b3cas__error(B3CAS_ENOMEM, "lease: out of "
					    "memory");
		l->refs = r;
		l->refs_cap = cap;
	}
	return grow(l);
}

/* A seq for the next reference, with room to record it: 0 or
 * B3CAS_ENOMEM. */
static int take_seq(b3cas_lease *l, uint64_t *seq)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = room(l);
	if (rc == 0)
		*seq = l->next++;
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* Record that key seq now holds a reference to id. Room was made by
 * take_seq, but other threads may have used it meanwhile. */
static int record(b3cas_lease *l, const b3cas_oid *id, uint64_t seq)
{
	slot *sl;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = room(l);
	if (rc < 0) {
		pthread_mutex_unlock(&l->lock);
		return rc;
	}
	sl = &l->slots[slot_of(l->slots, l->cap, id)];
	if (!sl->used) {
		sl->used = true;
		sl->id = *id;
		sl->head = NONE;
		l->used++;
	}
	l->refs[l->nrefs] = (lease_ref){seq, sl->head};
	sl->head = l->nrefs++;
	l->live++;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

/* Take id's last entry off its chain: its seq, or false (none). */
static bool pop(b3cas_lease *l, const b3cas_oid *id, uint64_t *seq)
{
	slot *sl;
	bool found = false;

	pthread_mutex_lock(&l->lock);
	if (l->cap) {
		sl = &l->slots[slot_of(l->slots, l->cap, id)];
		if (sl->used && sl->head != NONE) {
			*seq = l->refs[sl->head].seq;
			sl->head = l->refs[sl->head].prev;
			l->live--;
			found = true;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return found;
}

/* How many entries id's chain still has. */
static int64_t held(b3cas_lease *l, const b3cas_oid *id)
{
	int64_t n = 0;

	pthread_mutex_lock(&l->lock);
	if (l->cap) {
		slot *sl = &l->slots[slot_of(l->slots, l->cap, id)];

		for (size_t i = sl->used ? sl->head : NONE; i != NONE;
		     i = l->refs[i].prev)
			n++;
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

/*
 * Drop the reference key k holds on id and delete k, in one batch under
 * id's stripe lock. An object that is gone (damage) leaves only the key
 * to delete.
 */
static int drop_key(b3cas_store *s, const uint8_t *k, const b3cas_oid *id)
{
	pthread_mutex_t *m = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	bool last = false;
	int rc;

	pthread_mutex_lock(m);
	rc = b3cas__stage_unref_locked(s, b, id, &last);
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		rc = 0;
	}
	if (rc == 0) {
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)k, KEY_LEN);
		rc = b3cas__write_batch(s, b, false);
	}
	if (rc == 0 && last)
		b3cas__caches_forget(s, id, false);
	pthread_mutex_unlock(m);
	rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas_lease_open(b3cas_store *s, b3cas_lease **out)
{
	b3cas_lease *l;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(out, "out");
	rc = b3cas__store_check_writable(s, "open a lease");
	if (rc < 0)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l)
		return b3cas__error(B3CAS_ENOMEM, "lease: out of memory");
	if (getrandom(l->gen, GEN_LEN, 0) != (ssize_t)GEN_LEN) {
		rc = b3cas__error(B3CAS_EIO, "lease: cannot draw a random "
				  "name: %s", strerror(errno));
		free(l);
		return rc;
	}
	l->s = s;
	pthread_mutex_init(&l->lock, NULL);
	atomic_fetch_add(&s->open_leases, 1); /* b3cas_lease_close: back */
	*out = l;
	return 0;
}

int b3cas__lease_put_tags(b3cas_lease *l, b3cas_oid *id_out, const void *data,
			  size_t len, bool linked, const b3cas_oid *links,
			  size_t nlinks, const b3cas__tag *extra,
			  const b3cas_oid *known)
{
	uint8_t k[KEY_LEN];
	b3cas__tag tag = {k, sizeof(k), extra, NULL, 0};
	uint64_t seq = 0, t0 = b3cas__now_ns();
	b3cas_oid id;
	int rc = b3cas__store_check_writable(l->s, "store an object");

	if (rc == 0 && known)
		id = *known;
	else if (rc == 0)
		rc = b3cas__store_hash(l->s, &id, data, len);
	if (rc == 0)
		rc = take_seq(l, &seq);
	if (rc == 0) {
		lease_key(k, l->gen, seq);
		if (linked)
			rc = b3cas__store_put_linked(l->s, &id, data, len,
						     links, nlinks, k,
						     sizeof(k), extra);
		else
			rc = b3cas__store_publish_tag(l->s, &id, data, len,
						      NULL, &tag);
	}
	if (rc >= 0) {
		int rrc = record(l, &id, seq);

		if (rrc < 0) /* kept: the next open drops it */
			rc = rrc;
	}
	if (rc >= 0 && id_out)
		*id_out = id;
	b3cas__note_put(l->s, t0, len, rc, 1);
	return rc;
}

b3cas_store *b3cas__lease_store(const b3cas_lease *l)
{
	return l->s;
}

int b3cas_lease_put(b3cas_lease *l, b3cas_oid *id_out, const void *data,
		    size_t len)
{
	B3CAS__NONNULL(l, "lease");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	return b3cas__lease_put_tags(l, id_out, data, len, false, NULL, 0,
				     NULL, NULL);
}

int b3cas_lease_put_linked(b3cas_lease *l, b3cas_oid *id_out,
			   const void *data, size_t len,
			   const b3cas_oid *links, size_t nlinks)
{
	B3CAS__NONNULL(l, "lease");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL_LEN(links, "links", nlinks, "nlinks");
	return b3cas__lease_put_tags(l, id_out, data, len, true, links,
				     nlinks, NULL, NULL);
}

static int publish_tag(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, b3cas_tmpfile *tmp, void *ctx)
{
	return b3cas__store_publish_tag(s, id, data, len, tmp, ctx);
}

int b3cas_lease_commit(b3cas_lease *l, b3cas_writer *w, b3cas_oid *id_out)
{
	B3CAS__NONNULL(l, "lease");
	B3CAS__NONNULL(w, "w");
	return b3cas__lease_commit_tags(l, w, id_out, NULL, NULL, NULL);
}

int b3cas__lease_commit_tags(b3cas_lease *l, b3cas_writer *w,
			     b3cas_oid *id_out, const b3cas__tag *extra,
			     void (*named)(void *nctx, const b3cas_oid *id),
			     void *nctx)
{
	uint8_t k[KEY_LEN];
	b3cas__tag tag = {k, sizeof(k), extra, NULL, 0};
	uint64_t seq = 0, t0 = b3cas__now_ns(), total;
	b3cas_oid id;
	int rc;

	if (b3cas__writer_store(w) != l->s) {
		b3cas_writer_abort(w);
		return b3cas__error(B3CAS_EINVAL, "b3cas_lease_commit: the "
				    "writer is another store's (aborted)");
	}
	total = b3cas__writer_total(w);
	rc = take_seq(l, &seq);
	if (rc < 0) {
		b3cas_writer_abort(w);
		return rc;
	}
	lease_key(k, l->gen, seq);
	rc = b3cas__writer_finish_named(w, &id, publish_tag, &tag, &tag, named,
					nctx);
	if (rc >= 0) {
		int rrc = record(l, &id, seq);

		if (rrc < 0)
			rc = rrc;
	}
	if (rc >= 0 && id_out)
		*id_out = id;
	b3cas__note_put(l->s, t0, total, rc, 1);
	return rc;
}

int b3cas_lease_ref(b3cas_lease *l, const b3cas_oid *id)
{
	uint8_t k[KEY_LEN];
	b3cas__tag tag = {k, sizeof(k), NULL, NULL, 0};
	rocksdb_writebatch_t *b;
	pthread_mutex_t *m;
	uint64_t seq = 0;
	int rc;

	B3CAS__NONNULL(l, "lease");
	B3CAS__NONNULL(id, "id");
	rc = b3cas__store_check_writable(l->s, "add a reference");
	if (rc == 0)
		rc = take_seq(l, &seq);
	if (rc < 0)
		return rc;
	lease_key(k, l->gen, seq);
	m = b3cas__store_stripe(l->s, id);
	b = rocksdb_writebatch_create();
	pthread_mutex_lock(m);
	rc = b3cas__stage_ref_locked(l->s, b, id);
	if (rc == 0) {
		b3cas__batch_tag(l->s, b, &tag, id);
		rc = b3cas__write_batch(l->s, b, false);
	}
	pthread_mutex_unlock(m);
	rocksdb_writebatch_destroy(b);
	if (rc == 0)
		rc = record(l, id, seq);
	return rc;
}

/* Put entry seq of id back on its chain after a failed drop. */
static void unpop(b3cas_lease *l, const b3cas_oid *id, uint64_t seq)
{
	if (record(l, id, seq) < 0)
		b3cas_error_clear(); /* its key stays: the next open drops it */
}

int64_t b3cas_lease_drop(b3cas_lease *l, const b3cas_oid *id)
{
	uint8_t k[KEY_LEN];
	uint64_t seq = 0;
	char hex[B3CAS_OID_HEX_LEN + 1];
	int rc;

	B3CAS__NONNULL(l, "lease");
	B3CAS__NONNULL(id, "id");
	if (!pop(l, id, &seq))
		return b3cas__error(B3CAS_ENOTFOUND, "the lease holds no "
				    "reference to %s",
				    b3cas_oid_fmt(hex, id));
	lease_key(k, l->gen, seq);
	rc = drop_key(l->s, k, id);
	if (rc < 0) {
		char msg[B3CAS__MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		unpop(l, id, seq);
		return b3cas__error(rc, "%s", msg);
	}
	return held(l, id);
}

b3cas_store *b3cas_lease_store(const b3cas_lease *l)
{
	B3CAS__NONNULL_OR(l, "lease", NULL);
	return l->s;
}

uint64_t b3cas_lease_count(const b3cas_lease *l)
{
	uint64_t n;

	if (!l) {
		(void)b3cas__error_null("b3cas_lease_count", "lease");
		return 0;
	}
	pthread_mutex_lock((pthread_mutex_t *)&l->lock);
	n = l->live;
	pthread_mutex_unlock((pthread_mutex_t *)&l->lock);
	return n;
}

int b3cas_lease_close(b3cas_lease *l)
{
	int first = 0;

	if (!l)
		return 0;
	for (size_t i = 0; i < l->cap; i++) {
		slot *sl = &l->slots[i];

		if (!sl->used)
			continue;
		for (size_t e = sl->head; e != NONE; e = l->refs[e].prev) {
			uint8_t k[KEY_LEN];
			int rc;

			lease_key(k, l->gen, l->refs[e].seq);
			rc = drop_key(l->s, k, &sl->id);
			if (rc < 0 && first == 0)
				first = rc;
		}
	}
	if (first < 0) {
		char msg[B3CAS__MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		(void)b3cas__error(first, "lease: %s (the rest is dropped at "
				   "the next open)", msg);
	}
	atomic_fetch_sub(&l->s->open_leases, 1);
	pthread_mutex_destroy(&l->lock);
	free(l->refs);
	free(l->slots);
	free(l);
	return first;
}

int b3cas__leases_release_all(b3cas_store *s)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_META]);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, "q", 1);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		uint8_t key[KEY_LEN];
		b3cas_oid id;

		if (klen < 1 || k[0] != 'q')
			break;
		if (klen != KEY_LEN || vlen != B3CAS_OID_LEN)
			continue; /* not a lease's: left to fsck */
		memcpy(key, k, KEY_LEN);
		memcpy(id.bytes, v, B3CAS_OID_LEN);
		rc = drop_key(s, key, &id);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the leases");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}
