/*
 * store/entry.c - the index entries of an object: reading and checking its
 * content entry (size, inline or loose, GC candidate mark) and its
 * reference count, opening its loose file, and adding entries to a batch.
 *
 * Invariants: the refs column family holds only counts other than 1, so a
 * new object costs one entry; a malformed entry is reported as
 * B3CAS_ECORRUPT, never read past its end.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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

int b3cas__not_stored(const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ENOTFOUND, "object %s is not stored",
			    b3cas_oid_fmt(hex, id));
}

static int entry_malformed(const b3cas_oid *id, size_t len)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "index entry of %s is malformed (%zu bytes)",
			    b3cas_oid_fmt(hex, id), len);
}

/* Is a payload of len bytes right for an entry of kind and size? */
static bool payload_fits(int kind, uint64_t size, size_t len)
{
	switch (kind) {
	case B3CAS_ENTRY_INLINE:
		return len == size;
	case B3CAS_ENTRY_LOOSE:
		return len == 0;
	case B3CAS_ENTRY_ZINLINE:
		return len > 0 && size > 0;
	case B3CAS_ENTRY_CHUNKED:
		return len >= B3CAS_MANIFEST_TOP_MIN;
	case B3CAS_ENTRY_PACKED:
		return len == B3CAS_PACK_SEQ_LEN;
	case B3CAS_ENTRY_DELTA:
		return len > B3CAS__DELTA_HEAD_MIN && size > 0;
	default:
		return false;
	}
}

bool b3cas__store_entry_shape_ok(const uint8_t *v, size_t len)
{
	return len >= B3CAS_ENTRY_HEADER_LEN &&
	       payload_fits(v[0] & ~B3CAS_ENTRY_UNREF, b3cas__get_u64(v + 1),
			    len - B3CAS_ENTRY_HEADER_LEN);
}

/* A chunked object's whole content hashed, a window at a time. */
#define SOUND_WINDOW (1u << 20)

static int chunked_sound(b3cas_store *s, const b3cas_oid *id,
			 const b3cas__entry *e, uint64_t *hashed)
{
	b3cas_digest_state h;
	b3cas__top t;
	b3cas_oid got;
	uint8_t *buf;
	int rc = b3cas__top_parse(&t, id, e->size, e->payload, e->payload_len);

	if (rc == B3CAS_ECORRUPT)
		return 0;
	if (rc < 0)
		return rc;
	buf = b3cas__malloc(SOUND_WINDOW);
	if (!buf)
		return B3CAS_ENOMEM;
	rc = b3cas__store_hasher_init(&h, s);
	for (uint64_t off = 0; rc == 0 && off < e->size; off += SOUND_WINDOW) {
		size_t n = e->size - off < SOUND_WINDOW
				   ? (size_t)(e->size - off)
				   : SOUND_WINDOW;

		rc = b3cas__chunked_read(s, id, &t, off, buf, n,
					 B3CAS__READ_ALL);
		if (rc == 0) {
			b3cas__digest_update(&h, buf, n);
			if (hashed)
				*hashed += n;
		}
	}
	if (rc == 0) {
		b3cas__digest_final(&h, &got);
		if (!b3cas_oid_equal(&got, id))
			rc = b3cas__digest_mismatch(id, &got);
	}
	b3cas__digest_free(&h);
	free(buf);
	return rc == B3CAS_ECORRUPT ? 0 : rc < 0 ? rc : 1;
}

int b3cas__store_entry_sound(b3cas_store *s, const rocksdb_readoptions_t *ro,
			     const b3cas_oid *id, const uint8_t *v, size_t len,
			     uint64_t *hashed)
{
	b3cas__entry e;
	b3cas_oid got;
	uint8_t *buf;
	int rc;

	if (!b3cas__store_entry_shape_ok(v, len))
		return entry_malformed(id, len), 0;
	e.v = e.dv = NULL;
	e.s = s;
	e.ro = ro;
	e.id = *id;
	e.kind = v[0] & ~B3CAS_ENTRY_UNREF;
	e.unref = (v[0] & B3CAS_ENTRY_UNREF) != 0;
	e.size = b3cas__get_u64(v + 1);
	e.payload = e.raw = v + B3CAS_ENTRY_HEADER_LEN;
	e.payload_len = e.raw_len = len - B3CAS_ENTRY_HEADER_LEN;
	if (e.kind == B3CAS_ENTRY_LOOSE)
		return b3cas__error(B3CAS_EINVAL, "a loose entry");
	if (e.kind == B3CAS_ENTRY_CHUNKED)
		return chunked_sound(s, id, &e, hashed);
	if (e.kind == B3CAS_ENTRY_PACKED) {
		rc = b3cas__pack_read_at(s, ro, id, e.raw, e.raw_len, e.size,
					 &e.dv);
		if (rc == B3CAS_ECORRUPT)
			return 0;
		if (rc < 0)
			return rc;
		e.payload = (const uint8_t *)rocksdb_pinnableslice_value(
			e.dv, &e.payload_len);
		rc = b3cas__store_hash(s, &got, e.payload, (size_t)e.size);
		rocksdb_pinnableslice_destroy(e.dv);
	} else if (e.kind == B3CAS_ENTRY_INLINE) {
		rc = b3cas__store_hash(s, &got, e.payload, (size_t)e.size);
	} else {
		/* no more than a chunk or the inline threshold */
		if (e.size > B3CAS_INLINE_THRESHOLD_MAX + (64u << 20))
			return entry_malformed(id, len), 0;
		buf = b3cas__malloc((size_t)e.size + 1);
		if (!buf)
			return B3CAS_ENOMEM;
		rc = b3cas__entry_decode(&e, buf);
		if (rc == B3CAS_ECORRUPT) {
			free(buf);
			return 0;
		}
		if (rc == 0)
			rc = b3cas__store_hash(s, &got, buf, (size_t)e.size);
		free(buf);
	}
	if (rc < 0)
		return rc;
	if (hashed)
		*hashed += e.size;
	if (!b3cas_oid_equal(&got, id)) {
		b3cas__digest_mismatch(id, &got);
		return 0;
	}
	return 1;
}

int b3cas__entry_get(b3cas_store *s, const b3cas_oid *id, b3cas__entry *e)
{
	return b3cas__entry_get_at(s, NULL, id, e);
}

/*
 * A packed entry and its bytes are two reads. Read from the latest state
 * (ro NULL, no lock held: a get, a reader), a GC, delete or revive can
 * come between them and remove or replace the bytes the entry named:
 * not damage. So a miss reads the entry again, and only the same entry
 * (the same sequence number) missing its bytes twice is damage; an entry
 * gone meanwhile is B3CAS_ENOTFOUND, a new one is read afresh. A
 * snapshot's reads agree with each other and need none of this.
 */
#define PACKED_READ_TRIES 8

int b3cas__entry_get_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, b3cas__entry *e)
{
	uint8_t missed[8];
	bool have_missed = false;
	int rc;

	for (int tries = 1;; tries++) {
		rc = b3cas__entry_head_at(s, ro, id, e);
		if (rc < 0 || e->kind != B3CAS_ENTRY_PACKED)
			return rc;
		rc = b3cas__pack_read_at(s, ro, id, e->raw, e->raw_len,
					 e->size, &e->dv);
		if (rc != B3CAS_ECORRUPT || ro || tries == PACKED_READ_TRIES ||
		    e->raw_len != sizeof(missed) ||
		    (have_missed &&
		     memcmp(missed, e->raw, sizeof(missed)) == 0))
			break;
		/* changed meanwhile? */
		memcpy(missed, e->raw, sizeof(missed));
		have_missed = true;
		b3cas__entry_done(e);
	}
	if (rc == B3CAS_ECORRUPT) {
		/* Bytes missing or the wrong length: damage that the read
		 * meets in b3cas__entry_decode, as it meets a bad frame. */
		b3cas_error_clear();
		e->payload = NULL;
		e->payload_len = 0;
		return 0;
	}
	if (rc < 0) {
		b3cas__entry_done(e);
		return rc;
	}
	e->payload = (const uint8_t *)rocksdb_pinnableslice_value(
		e->dv, &e->payload_len);
	return 0;
}

int b3cas__entry_head(b3cas_store *s, const b3cas_oid *id, b3cas__entry *e)
{
	return b3cas__entry_head_at(s, NULL, id, e);
}

int b3cas__entry_head_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			 const b3cas_oid *id, b3cas__entry *e)
{
	const uint8_t *p;
	size_t len;
	int rc = b3cas__index_get_at(s->ix, ro, B3CAS_CF_CONTENT, id->bytes,
				     B3CAS_OID_LEN, &e->v);

	e->dv = NULL;
	e->s = s;
	e->ro = ro;
	e->id = *id;
	if (rc < 0)
		return rc;
	if (rc == 0) {
		e->v = NULL;
		return b3cas__not_stored(id);
	}
	p = (const uint8_t *)rocksdb_pinnableslice_value(e->v, &len);
	if (len < B3CAS_ENTRY_HEADER_LEN ||
	    !payload_fits(p[0] & ~B3CAS_ENTRY_UNREF, b3cas__get_u64(p + 1),
			  len - B3CAS_ENTRY_HEADER_LEN)) {
		rocksdb_pinnableslice_destroy(e->v);
		e->v = NULL;
		return entry_malformed(id, len);
	}
	e->kind = p[0] & ~B3CAS_ENTRY_UNREF;
	e->unref = (p[0] & B3CAS_ENTRY_UNREF) != 0;
	e->size = b3cas__get_u64(p + 1);
	e->payload = e->raw = p + B3CAS_ENTRY_HEADER_LEN;
	e->payload_len = e->raw_len = len - B3CAS_ENTRY_HEADER_LEN;
	return 0;
}

void b3cas__entry_done(b3cas__entry *e)
{
	rocksdb_pinnableslice_destroy(e->v);
	rocksdb_pinnableslice_destroy(e->dv);
	e->v = e->dv = NULL;
}

int b3cas__entry_decode(const b3cas__entry *e, void *out)
{
	if (e->kind == B3CAS_ENTRY_PACKED && !e->dv)
		return b3cas__error(B3CAS_ECORRUPT,
				    "the bytes that a packed index entry names "
				    "are missing or not its size");
	if (e->kind == B3CAS_ENTRY_INLINE || e->kind == B3CAS_ENTRY_PACKED) {
		if (e->size)
			memcpy(out, e->payload, (size_t)e->size);
		return 0;
	}
	if (e->kind == B3CAS_ENTRY_ZINLINE)
		return b3cas__zstd_decompress(out, (size_t)e->size, e->payload,
					      e->payload_len);
	if (e->kind == B3CAS_ENTRY_DELTA)
		return b3cas__delta_decode(e->s, e->ro, &e->id, e->payload,
					   e->payload_len, e->size, out);
	return b3cas__error(B3CAS_ECORRUPT, "not an inline entry");
}

/*
 * Read id's content entry: size, inline or not, whether it is a GC
 * candidate, and (value_out, objects kept in the index) the pinned value.
 */
int b3cas__entry_read(b3cas_store *s, const b3cas_oid *id, uint64_t *size_out,
		      bool *is_inline_out, bool *unref_out,
		      rocksdb_pinnableslice_t **value_out)
{
	b3cas__entry e;
	int rc = b3cas__entry_head(s, id, &e);

	if (rc < 0)
		return rc;
	*size_out = e.size;
	*is_inline_out = e.kind != B3CAS_ENTRY_LOOSE;
	*unref_out = e.unref;
	if (value_out && *is_inline_out) {
		*value_out = e.v;
		e.v = NULL;
	}
	b3cas__entry_done(&e);
	return 0;
}

int b3cas__store_entry(b3cas_store *s, const b3cas_oid *id,
		       uint64_t *size_out, bool *is_inline_out,
		       rocksdb_pinnableslice_t **value_out)
{
	rocksdb_pinnableslice_t *v = NULL;
	bool unref = false;
	int rc = b3cas__entry_read(s, id, size_out, is_inline_out, &unref,
			    value_out ? &v : NULL);

	if (rc < 0)
		return rc;
	/* An object without references is gone, as far as callers see. */
	if (unref) {
		rocksdb_pinnableslice_destroy(v);
		return b3cas__not_stored(id);
	}
	if (value_out)
		*value_out = v;
	return 0;
}

static int refs_malformed(const b3cas_oid *id, const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "reference count of %s %s: the index is damaged",
			    b3cas_oid_fmt(hex, id), why);
}

/*
 * The count kept in the refs column family, or 1 when it keeps none;
 * *kept (may be NULL) says whether it keeps one.
 */
int b3cas__refs_read(b3cas_store *s, const b3cas_oid *id, uint64_t *count,
		     bool *kept)
{
	return b3cas__refs_read_at(s, NULL, id, count, kept);
}

int b3cas__refs_read_at(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, uint64_t *count, bool *kept)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc = b3cas__index_get_at(s->ix, ro, B3CAS_CF_REFS, id->bytes,
				     B3CAS_OID_LEN, &v);

	if (rc < 0)
		return rc;
	if (kept)
		*kept = rc == 1;
	if (rc == 0) {
		*count = 1;
		return 0;
	}
	p = rocksdb_pinnableslice_value(v, &len);
	if (len < 8) {
		rocksdb_pinnableslice_destroy(v);
		return refs_malformed(id, "is too short");
	}
	*count = b3cas__get_u64((const uint8_t *)p);
	rocksdb_pinnableslice_destroy(v);
	return 0;
}

/*
 * Is object id stored? 1 with its reference count, size and kind; 2 when
 * it is a GC candidate (no references, bytes still there); 0 when it is
 * not; or an error (B3CAS_ECORRUPT for a malformed entry).
 */
int b3cas__lookup(b3cas_store *s, const b3cas_oid *id, uint64_t *refs,
		  uint64_t *size, bool *is_inline)
{
	b3cas__entry e;
	bool unref = false;
	int rc = b3cas__entry_head(s, id, &e);

	if (rc == 0) {
		unref = e.unref;
		*size = e.size;
		*is_inline = e.kind != B3CAS_ENTRY_LOOSE;
		b3cas__entry_done(&e);
	}
	if (rc == B3CAS_ENOTFOUND)
		return 0;
	if (rc == 0 && unref) {
		*refs = 0;
		return 2;
	}
	if (rc == 0)
		rc = b3cas__refs_read(s, id, refs, NULL);
	return rc < 0 ? rc : 1;
}

/*
 * b3cas__lookup() for a put, which needs only the count: a kept count of one or
 * more proves the object stored and referenced (its refs and content
 * entries change together, in one batch), so an object put many times
 * costs one read of the small refs column family, not of its bytes; and
 * an object with one reference that this handle put or found live since
 * open is in s->known, which spares the read of its content entry.
 * Returns as b3cas__lookup() does; *refs is valid when it returns 1.
 */
int b3cas__lookup_count(b3cas_store *s, const b3cas_oid *id, uint64_t *refs)
{
	uint64_t size;
	bool kept, is_inline, unref = false;
	int rc = b3cas__refs_read(s, id, refs, &kept);

	if (rc < 0 || (kept && *refs > 0))
		return rc < 0 ? rc : 1;
	/* No count kept: one reference, if the object is live. */
	if (!kept && b3cas__known_has(s->known, id))
		return 1;
	rc = b3cas__entry_read(s, id, &size, &is_inline, &unref, NULL);
	if (rc == B3CAS_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (unref) {
		*refs = 0;
		return 2;
	}
	/* Live, with a kept count of 0: only a candidate keeps that. */
	if (kept)
		return refs_malformed(id, "is 0 for a referenced object");
	b3cas__known_add(s->known, id);
	return 1;
}

int b3cas__store_open_loose(b3cas_store *s, const b3cas_oid *id,
			    uint64_t size, int *fd_out)
{
	for (int attempt = 0;; attempt++) {
		uint64_t now_size;
		bool is_inline;
		int rc = b3cas__loose_open(s, id, size, fd_out);

		if (rc != B3CAS_ENOTFOUND)
			return rc;
		if (s->read_only) {
			/* Our view of the index is from when we opened; the
			 * writing process may have deleted it since. */
			char hex[B3CAS_OID_HEX_LEN + 1];

			return b3cas__error(B3CAS_ENOTFOUND,
					    "object %s has no file: it was "
					    "deleted after this read-only "
					    "handle opened, or it was lost",
					    b3cas_oid_fmt(hex, id));
		}
		/* Deleted since we read its entry, or really missing? */
		rc = b3cas__store_entry(s, id, &now_size, &is_inline, NULL);
		if (rc < 0)
			return rc;
		if (attempt > 0 || is_inline || now_size != size) {
			char hex[B3CAS_OID_HEX_LEN + 1];

			return b3cas__error(B3CAS_ECORRUPT,
					    "the index lists object %s but "
					    "its file %s/%.2s/%s is missing",
					    b3cas_oid_fmt(hex, id),
					    s->lay.objects_path, hex, hex);
		}
	}
}

/* ---- adding entries to a batch ------------------------------------------- */

/* Set id's count to count. The refs column family keeps only counts
 * other than 1, so a new object costs one index entry; had_entry says
 * whether it holds one for id now (a count other than 1, or a GC
 * candidate's mark). */
void b3cas__batch_set_refs(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, bool had_entry, uint64_t count)
{
	uint8_t v[8];

	if (count == 1) {
		if (had_entry)
			rocksdb_writebatch_delete_cf(
				b, s->ix->cf[B3CAS_CF_REFS],
				(const char *)id->bytes, B3CAS_OID_LEN);
		return;
	}
	b3cas__put_u64(v, count);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_REFS],
				  (const char *)id->bytes, B3CAS_OID_LEN,
				  (const char *)v, sizeof(v));
}

void b3cas__batch_put_kind(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, int kind, uint64_t size,
			   const void *payload, size_t payload_len, bool unref)
{
	uint8_t head[B3CAS_ENTRY_HEADER_LEN];
	const char *key = (const char *)id->bytes;
	size_t key_len = B3CAS_OID_LEN;
	const char *parts[2] = {(const char *)head, payload};
	size_t part_lens[2] = {sizeof(head), payload_len};

	head[0] = (uint8_t)kind;
	if (unref)
		head[0] |= B3CAS_ENTRY_UNREF;
	b3cas__put_u64(head + 1, size);
	rocksdb_writebatch_putv_cf(b, s->ix->cf[B3CAS_CF_CONTENT], 1, &key,
				   &key_len, payload_len ? 2 : 1, parts,
				   part_lens);
}

/* Add the content entry of a new object (its bytes too when inline). In
 * a packed store inline bytes are packed, and the bytes an entry it
 * replaces named are dropped in the same batch (adopt, heal, mend: none
 * of them on the path of a new put). */
void b3cas__batch_put_entry(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const void *data, size_t len,
			    bool is_inline, bool unref)
{
	b3cas__pack_batch_drop_id(b, s, id);
	if (is_inline && b3cas__packs(s)) {
		b3cas__pack_batch_put(b, s, id, data, len, unref, 0);
		return;
	}
	b3cas__batch_put_kind(b, s, id,
			      is_inline ? B3CAS_ENTRY_INLINE
					: B3CAS_ENTRY_LOOSE,
			      len, data, is_inline ? len : 0, unref);
}

void b3cas__store_batch_put_entry(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, const void *data,
				  size_t len, bool is_inline)
{
	b3cas__batch_put_entry(b, s, id, data, len, is_inline, false);
}

int b3cas__refs_overflow(const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ERANGE,
			    "object %s already has the most references a "
			    "count can hold",
			    b3cas_oid_fmt(hex, id));
}
