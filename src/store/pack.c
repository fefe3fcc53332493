/*
 * store/pack.c - packed stores: the bytes of objects kept in the index,
 * in the data column family under sequence numbers (store/pack.h).
 */
#include "store/pack.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

static void seq_put(uint8_t out[B3CAS_PACK_SEQ_LEN], uint64_t n)
{
	for (int i = 0; i < B3CAS_PACK_SEQ_LEN; i++)
		out[i] = (uint8_t)(n >> (56 - 8 * i));
}

static uint64_t seq_get(const uint8_t *p)
{
	uint64_t n = 0;

	for (int i = 0; i < B3CAS_PACK_SEQ_LEN; i++)
		n = n << 8 | p[i];
	return n;
}

/* The data key of id's bytes under sequence number seq (its bytes). */
static void key_of(uint8_t out[B3CAS_PACK_KEY_LEN], const uint8_t *seq,
		   const b3cas_oid *id)
{
	memcpy(out, seq, B3CAS_PACK_SEQ_LEN);
	memcpy(out + B3CAS_PACK_SEQ_LEN, id->bytes, B3CAS_PACK_TAG_LEN);
}

/*
 * The largest sequence number a store can reach (2^48: 280 trillion
 * puts). A key at or above it, or not 16 bytes long, was not made here:
 * damage, which the open steps over (fsck reports the key, which no
 * entry names, and its repair deletes it) rather than refusing the store
 * or numbering new bytes after it.
 */
#define SEQ_LIMIT (1ull << 48)
/* How many such keys an open steps over before it gives up. */
#define BAD_KEYS_MAX 1024

int b3cas__pack_open(b3cas_store *s)
{
	rocksdb_column_family_handle_t *cf = s->ix->cf[B3CAS_CF_DATA];
	rocksdb_iterator_t *it;
	char *err = NULL;
	uint64_t next = 1;
	int bad = 0;

	if (!cf)
		return b3cas__error(B3CAS_ECORRUPT,
				    "store %s packs its objects but its index "
				    "has no data column family",
				    s->lay.root);
	if (s->read_only)
		return 0;
	it = rocksdb_create_iterator_cf(s->ix->db, s->ix->read, cf);
	for (rocksdb_iter_seek_to_last(it); rocksdb_iter_valid(it);
	     rocksdb_iter_prev(it)) {
		size_t klen;
		const uint8_t *k =
			(const uint8_t *)rocksdb_iter_key(it, &klen);

		if (klen == B3CAS_PACK_KEY_LEN && seq_get(k) < SEQ_LIMIT) {
			next = seq_get(k) + 1;
			break;
		}
		if (++bad == BAD_KEYS_MAX)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err)
		return b3cas__index_error(err, "cannot read the index's data "
					       "column family");
	if (bad == BAD_KEYS_MAX)
		return b3cas__error(B3CAS_ECORRUPT,
				    "the last %d keys of the index's data "
				    "column family were not made by b3cas",
				    BAD_KEYS_MAX);
	atomic_store(&s->pack_next, next);
	return 0;
}

void b3cas__pack_batch_put(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, const void *data, size_t len,
			   bool unref, uint64_t n)
{
	uint8_t seq[B3CAS_PACK_SEQ_LEN], key[B3CAS_PACK_KEY_LEN];

	seq_put(seq, n ? n : atomic_fetch_add(&s->pack_next, 1));
	key_of(key, seq, id);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_DATA],
				  (const char *)key, sizeof(key),
				  (const char *)data, len);
	b3cas__batch_put_kind(b, s, id, B3CAS_ENTRY_PACKED, len, seq,
			      sizeof(seq), unref);
}

void b3cas__pack_batch_drop(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const b3cas__entry *e)
{
	uint8_t key[B3CAS_PACK_KEY_LEN];

	if (e->kind != B3CAS_ENTRY_PACKED || !s->ix->cf[B3CAS_CF_DATA] ||
	    e->raw_len != B3CAS_PACK_SEQ_LEN)
		return;
	key_of(key, e->raw, id);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_DATA],
				     (const char *)key, sizeof(key));
}

void b3cas__pack_batch_drop_id(rocksdb_writebatch_t *b, b3cas_store *s,
			       const b3cas_oid *id)
{
	b3cas__entry e;

	if (!b3cas__packs(s))
		return;
	if (b3cas__entry_get(s, id, &e) == 0) {
		b3cas__pack_batch_drop(b, s, id, &e);
		b3cas__entry_done(&e);
	}
	b3cas_error_clear();
}

bool b3cas__pack_key(const b3cas_store *s, const b3cas_oid *id,
		     const uint8_t *raw, size_t raw_len,
		     uint8_t out[B3CAS_PACK_KEY_LEN])
{
	if (raw_len != B3CAS_PACK_SEQ_LEN || !s->ix->cf[B3CAS_CF_DATA])
		return false;
	key_of(out, raw, id);
	return true;
}

int b3cas__pack_read_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, const uint8_t *raw,
			size_t raw_len, uint64_t size,
			rocksdb_pinnableslice_t **out)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint8_t key[B3CAS_PACK_KEY_LEN];
	size_t len;
	int rc;

	*out = NULL;
	if (raw_len != B3CAS_PACK_SEQ_LEN || !s->ix->cf[B3CAS_CF_DATA])
		return b3cas__error(B3CAS_ECORRUPT,
				    "the index entry of %s names packed bytes "
				    "%s",
				    b3cas_oid_fmt(hex, id),
				    raw_len != B3CAS_PACK_SEQ_LEN
					    ? "with a malformed key"
					    : "but the index has no data "
					      "column family");
	key_of(key, raw, id);
	rc = b3cas__index_get_at(s->ix, ro, B3CAS_CF_DATA, key, sizeof(key),
				 out);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return b3cas__error(B3CAS_ECORRUPT,
				    "the bytes of %s are missing from the "
				    "index (data key %llu)",
				    b3cas_oid_fmt(hex, id),
				    (unsigned long long)seq_get(raw));
	rocksdb_pinnableslice_value(*out, &len);
	if (len != size) {
		rocksdb_pinnableslice_destroy(*out);
		*out = NULL;
		return b3cas__error(B3CAS_ECORRUPT,
				    "the index holds %zu bytes for %s, whose "
				    "entry records %llu",
				    len, b3cas_oid_fmt(hex, id),
				    (unsigned long long)size);
	}
	return 0;
}

/* Does an entry of the snapshot's content family name data key k? The
 * entries whose ids start with k's 8 bytes of id are looked at (almost
 * always one). 1, 0, or an error. */
static int key_named(rocksdb_iterator_t *cit, const uint8_t *k)
{
	char *err = NULL;

	rocksdb_iter_seek(cit, (const char *)k + B3CAS_PACK_SEQ_LEN,
			  B3CAS_PACK_TAG_LEN);
	for (; rocksdb_iter_valid(cit); rocksdb_iter_next(cit)) {
		size_t klen, vlen;
		const char *ck = rocksdb_iter_key(cit, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(cit, &vlen);

		if (klen < B3CAS_PACK_TAG_LEN ||
		    memcmp(ck, k + B3CAS_PACK_SEQ_LEN, B3CAS_PACK_TAG_LEN) != 0)
			break;
		if (vlen == B3CAS_ENTRY_HEADER_LEN + B3CAS_PACK_SEQ_LEN &&
		    (v[0] & ~B3CAS_ENTRY_UNREF) == B3CAS_ENTRY_PACKED &&
		    memcmp(v + B3CAS_ENTRY_HEADER_LEN, k,
			   B3CAS_PACK_SEQ_LEN) == 0)
			return 1;
	}
	rocksdb_iter_get_error(cit, &err);
	if (err)
		return b3cas__index_error(err, "cannot read the index");
	return 0;
}

int b3cas__store_pack_orphans(b3cas_store *s, bool repair,
			      b3cas__pack_orphan_fn fn, void *ctx)
{
	rocksdb_column_family_handle_t *cf = s->ix->cf[B3CAS_CF_DATA];
	rocksdb_iterator_t *it, *cit;
	b3cas__snap snap;
	char *err = NULL;
	int rc = 0;

	if (!cf)
		return 0;
	b3cas__snap_take(s, &snap, false);
	it = rocksdb_create_iterator_cf(s->ix->db, snap.ro, cf);
	cit = rocksdb_create_iterator_cf(s->ix->db, snap.ro,
					 s->ix->cf[B3CAS_CF_CONTENT]);
	for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		b3cas__pack_orphan o;
		size_t klen, vlen;
		const uint8_t *k =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);

		memset(&o, 0, sizeof(o));
		if (klen == B3CAS_PACK_KEY_LEN) {
			int named = key_named(cit, k);

			if (named < 0) {
				rc = named;
				break;
			}
			if (named)
				continue;
			o.seq = seq_get(k);
		} else {
			o.malformed = true;
		}
		o.len = vlen;
		b3cas_hash(o.id.bytes, v, vlen);
		/* Its bytes are those of the object the key says. */
		o.sound = !o.malformed &&
			  memcmp(o.id.bytes, k + B3CAS_PACK_SEQ_LEN,
				 B3CAS_PACK_TAG_LEN) == 0;
		/* Never named again: keys only grow while a store is open,
		 * and an open starts after the largest. So the key goes
		 * without a lock (writable handles). */
		if (repair && !s->read_only) {
			rocksdb_writebatch_t *b = rocksdb_writebatch_create();

			rocksdb_writebatch_delete_cf(b, cf, (const char *)k,
						     klen);
			rc = b3cas__write_batch(s, b, false);
			rocksdb_writebatch_destroy(b);
			o.removed = rc == 0;
		}
		if (rc == 0)
			rc = fn(&o, ctx);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot read the index's "
						     "data column family");
	}
	rocksdb_iter_destroy(cit);
	rocksdb_iter_destroy(it);
	b3cas__snap_release(s, &snap);
	return rc;
}
