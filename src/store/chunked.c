/*
 * store/chunked.c - chunked objects (format 2, docs/chunked-objects.md).
 *
 * An object larger than the store's largest chunk is cut by FastCDC into
 * chunks, and each chunk is an ordinary object (inline, compressed when
 * that pays) with a reference count; identical chunks of any objects are
 * stored once. The object's own content entry (kind B3CAS_ENTRY_CHUNKED)
 * keeps its size and a manifest top: the manifest's name gen (16 random
 * bytes) and, for each segment of up to SEG_CHUNKS chunks, its start
 * offset, chunk count and a check value. The segments, the ordered lists
 * of chunk ids and lengths, are in the META column family under
 * 'm' gen seg (seg as 4 big-endian bytes): named by gen, not by the id,
 * so a streaming put writes them before it knows the id.
 *
 * Binding: a segment's check is the first 16 bytes of BLAKE3 keyed with
 * the object's id over gen, the segment's number, its start offset and
 * the BLAKE3 of its bytes. A segment damaged, swapped with another
 * object's or moved within the object fails its check, and every chunk is
 * hashed against its id as it is read, so a read serves exactly the bytes
 * the put hashed to the id (the put computed both from the same buffer).
 *
 * References: every chunk occurrence in a segment holds one reference to
 * the chunk, taken in the same batch that writes the segment, under the
 * chunks' stripe locks (taken in increasing order). Segments that no
 * committed entry owns are named by a pending key: 'p' gen, written with
 * a put's first segment and deleted in the batch that writes the object's
 * entry; 'r' gen, written in the batch in which GC removes the entry. A
 * pending key's segments are released (their chunks' references dropped,
 * each segment deleted in the same batch, after a check under the locks
 * that it is still there) by the put that lost a race or failed, by GC
 * after a removal ('r' only: 'p' keys may be puts under way), and at open
 * (both) for what a crash left. So a chunk is a GC candidate only when no
 * segment holds it, and a crash at any point leaks nothing that the next
 * open does not release.
 */
#include "store/chunked.h"
#include "store/pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "chunk/fastcdc.h"
#include "compress/zstd.h"
#include "util/error.h"
#include "util/varint.h"

#define SEG_CHUNKS 1024
#define TOP_VERSION 1
#define GEN_LEN B3CAS__GEN_LEN
#define TOP_HEAD (1 + GEN_LEN + 4)
#define TOP_SEG (8 + 4 + 16)
#define CHECK_LEN 16
#define SEG_KEY_LEN (1 + GEN_LEN + 4)
#define PENDING_KEY_LEN (1 + GEN_LEN)
#define HELD_KEY_LEN (1 + B3CAS_OID_LEN)
/* a chunk in a segment: its id and its length as a varint */
#define SEG_ENTRY_MAX (B3CAS_OID_LEN + 5)

_Static_assert(B3CAS_MANIFEST_TOP_MIN == TOP_HEAD + TOP_SEG,
	       "B3CAS_MANIFEST_TOP_MIN is the top of one segment");

static void seg_key(uint8_t k[SEG_KEY_LEN], const uint8_t gen[GEN_LEN],
		    uint32_t seg)
{
	k[0] = 'm';
	memcpy(k + 1, gen, GEN_LEN);
	k[SEG_KEY_LEN - 4] = (uint8_t)(seg >> 24);
	k[SEG_KEY_LEN - 3] = (uint8_t)(seg >> 16);
	k[SEG_KEY_LEN - 2] = (uint8_t)(seg >> 8);
	k[SEG_KEY_LEN - 1] = (uint8_t)seg;
}

/* 'p': a put's segments, until its entry is written (released at open
 * only: the put may be under way); 'r': a removed object's (released by
 * the GC that removed it, or at open). */
static void pending_key(uint8_t k[PENDING_KEY_LEN], char kind,
			const uint8_t gen[GEN_LEN])
{
	k[0] = (uint8_t)kind;
	memcpy(k + 1, gen, GEN_LEN);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
	return b3cas__varint_put(p, v);
}

/* 0 when no valid varint of at most 5 bytes (a u32) starts at p. */
static size_t get_varint(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	uint64_t x;
	size_t n = b3cas__varint_get(p, end, 5, &x);

	if (n == 0 || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return n;
}

/* The chunk whose entry starts at p in a segment value ending at end:
 * its id into id (B3CAS_OID_LEN bytes) and its length; the bytes the
 * entry takes, or 0 when no well-formed entry starts there. */
static size_t seg_entry(const uint8_t *p, const uint8_t *end, uint8_t *id,
			uint32_t *len)
{
	size_t k;

	if (end - p < B3CAS_OID_LEN + 1)
		return 0;
	k = get_varint(p + B3CAS_OID_LEN, end, len);
	if (k == 0)
		return 0;
	memcpy(id, p, B3CAS_OID_LEN);
	return B3CAS_OID_LEN + k;
}

/* The check of segment seg: BLAKE3 keyed with the object's id over gen,
 * seg, start and the plain BLAKE3 of the segment's bytes (digest), so a
 * put can hash each segment as it writes it, before the id is known. */
static void seg_check(uint8_t out[CHECK_LEN], const b3cas_oid *id,
		      const uint8_t gen[GEN_LEN], uint32_t seg, uint64_t start,
		      const uint8_t digest[B3CAS_OUT_LEN])
{
	uint8_t full[B3CAS_OUT_LEN], msg[GEN_LEN + 4 + 8 + B3CAS_OUT_LEN];

	memcpy(msg, gen, GEN_LEN);
	put_u32(msg + GEN_LEN, seg);
	b3cas__put_u64(msg + GEN_LEN + 4, start);
	memcpy(msg + GEN_LEN + 12, digest, B3CAS_OUT_LEN);
	b3cas_hash_keyed(full, id->bytes, msg, sizeof(msg));
	memcpy(out, full, CHECK_LEN);
}

static int manifest_damaged(const b3cas_oid *id, const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "the manifest of chunked object %s is damaged: %s",
			    b3cas_oid_fmt(hex, id), why);
}

int b3cas__top_parse(b3cas__top *t, const b3cas_oid *id, uint64_t size,
		     const uint8_t *p, size_t len)
{
	if (len < TOP_HEAD || p[0] != TOP_VERSION)
		return manifest_damaged(id, "unknown top version");
	memcpy(t->gen, p + 1, GEN_LEN);
	t->nseg = get_u32(p + 1 + GEN_LEN);
	if (t->nseg == 0 || (len - TOP_HEAD) / TOP_SEG != t->nseg ||
	    (len - TOP_HEAD) % TOP_SEG)
		return manifest_damaged(id, "wrong top length");
	t->segs = p + TOP_HEAD;
	t->size = size;
	for (uint32_t i = 0; i < t->nseg; i++) {
		uint64_t start = b3cas__top_start(t, i);

		if (i == 0 ? start != 0
			   : start <= b3cas__top_start(t, i - 1))
			return manifest_damaged(id, "segments out of order");
		if (start >= size)
			return manifest_damaged(id, "segment past the end");
		if (get_u32(t->segs + (size_t)i * TOP_SEG + 8) == 0)
			return manifest_damaged(id, "an empty segment");
	}
	return 0;
}

uint64_t b3cas__top_start(const b3cas__top *t, uint32_t i)
{
	return b3cas__get_u64(t->segs + (size_t)i * TOP_SEG);
}

static uint64_t top_end(const b3cas__top *t, uint32_t i)
{
	return i + 1 < t->nseg ? b3cas__top_start(t, i + 1) : t->size;
}

/* ---- reading a segment ---------------------------------------------- */

/* The value of segment key key, read with ro (a snapshot's) or, when
 * NULL, as every read of the index: 1 found (*v pinned), 0, or an error. */
static int seg_get(b3cas_store *s, const rocksdb_readoptions_t *ro,
		   const uint8_t key[SEG_KEY_LEN], rocksdb_pinnableslice_t **v)
{
	return b3cas__index_get_at(s->ix, ro, B3CAS_CF_META, key, SEG_KEY_LEN,
				   v);
}

/* Read (with ro: a snapshot's, or NULL) and check segment i of id: *v
 * pinned (release it), chunks parsed into ids (32 bytes each) and lens,
 * *n of them. */
static int seg_read(b3cas_store *s, const rocksdb_readoptions_t *ro,
		    const b3cas_oid *id, const b3cas__top *t, uint32_t i,
		    rocksdb_pinnableslice_t **v, uint8_t *ids, uint32_t *lens,
		    uint32_t *n)
{
	const uint8_t *rec = t->segs + (size_t)i * TOP_SEG;
	uint8_t key[SEG_KEY_LEN], check[CHECK_LEN], digest[B3CAS_OUT_LEN];
	uint32_t want = get_u32(rec + 8);
	const uint8_t *p, *end;
	uint64_t sum = 0;
	size_t len;
	int rc;

	seg_key(key, t->gen, i);
	rc = seg_get(s, ro, key, v);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*v = NULL;
		return manifest_damaged(id, "a segment is missing");
	}
	p = (const uint8_t *)rocksdb_pinnableslice_value(*v, &len);
	b3cas_hash(digest, p, len);
	seg_check(check, id, t->gen, i, b3cas__top_start(t, i), digest);
	if (memcmp(check, rec + 12, CHECK_LEN) != 0 || want > SEG_CHUNKS)
		goto damaged;
	end = p + len;
	for (*n = 0; p < end; (*n)++) {
		size_t k;

		if (*n == want)
			goto damaged;
		k = seg_entry(p, end, ids + (size_t)*n * B3CAS_OID_LEN,
			      &lens[*n]);
		if (k == 0 || lens[*n] == 0)
			goto damaged;
		p += k;
		sum += lens[*n];
	}
	if (*n != want || sum != top_end(t, i) - b3cas__top_start(t, i))
		goto damaged;
	return 0;
damaged:
	rocksdb_pinnableslice_destroy(*v);
	*v = NULL;
	return manifest_damaged(id, "a segment fails its check");
}

static int chunk_damaged(const b3cas_oid *id, const b3cas_oid *chunk,
			 const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1], chex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT, "chunk %s of object %s %s",
			    b3cas_oid_fmt(chex, chunk), b3cas_oid_fmt(hex, id),
			    why);
}

/* The whole of chunk c (len bytes) into out, checked against c. */
static int chunk_load(b3cas_store *s, const b3cas_oid *obj,
		      const b3cas_oid *c, uint32_t len, uint8_t *out)
{
	b3cas__entry e;
	int rc = b3cas__entry_get(s, c, &e);

	if (rc == B3CAS_ENOTFOUND)
		return chunk_damaged(obj, c, "is missing");
	if (rc < 0)
		return rc;
	if (e.size != len || (e.kind != B3CAS_ENTRY_INLINE &&
			      e.kind != B3CAS_ENTRY_ZINLINE &&
			      e.kind != B3CAS_ENTRY_PACKED)) {
		b3cas__entry_done(&e);
		return chunk_damaged(obj, c, "has the wrong size or kind");
	}
	rc = b3cas__entry_decode(&e, out);
	b3cas__entry_done(&e);
	if (rc < 0)
		return chunk_damaged(obj, c, "does not decompress");
	if (s->verify) {
		b3cas_oid got;

		b3cas_hash(got.bytes, out, len);
		if (!b3cas_oid_equal(&got, c))
			return chunk_damaged(obj, c, "fails its hash");
	}
	return 0;
}

typedef struct seg_buf {
	uint8_t ids[SEG_CHUNKS * B3CAS_OID_LEN];
	uint32_t lens[SEG_CHUNKS];
	uint8_t *chunk; /* one chunk, chunk_max bytes */
} seg_buf;

/*
 * A read found a segment or chunk missing or damaged (rc): if the object
 * is no longer stored with this manifest, it was deleted and collected
 * while it was being read (a reader holds no reference), which is not
 * damage: B3CAS_ENOTFOUND. Else rc stands.
 */
static int gone_meanwhile(b3cas_store *s, const b3cas_oid *id,
			  const b3cas__top *t, int rc)
{
	char msg[B3CAS__MESSAGE_MAX], hex[B3CAS_OID_HEX_LEN + 1];
	b3cas__entry e;
	bool same = false;
	int erc;

	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	erc = b3cas__entry_head(s, id, &e);
	if (erc == 0) {
		same = !e.unref && e.kind == B3CAS_ENTRY_CHUNKED &&
		       e.payload_len > 1 + GEN_LEN &&
		       memcmp(e.payload + 1, t->gen, GEN_LEN) == 0;
		b3cas__entry_done(&e);
	}
	if (erc == 0 && same)
		return b3cas__error(rc, "%s", msg);
	if (erc < 0 && erc != B3CAS_ENOTFOUND)
		return b3cas__error(rc, "%s", msg);
	return b3cas__error(B3CAS_ENOTFOUND,
			    "object %s was deleted while it was being read",
			    b3cas_oid_fmt(hex, id));
}

static int chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len);

int b3cas__chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len)
{
	int rc = chunked_read(s, id, t, off, buf, len);

	if (rc == B3CAS_ECORRUPT && !s->read_only)
		rc = gone_meanwhile(s, id, t, rc);
	return rc;
}

static int chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len)
{
	uint8_t *dst = buf;
	uint32_t lo = 0, hi;
	seg_buf *sb;
	int rc = 0;

	if (off > t->size || len > t->size - off)
		return b3cas__error(B3CAS_EINVAL, "read past the end of "
				    "the object");
	if (len == 0)
		return 0;
	sb = malloc(sizeof(*sb));
	if (sb)
		sb->chunk = malloc(s->lay.chunk_max);
	if (!sb || !sb->chunk) {
		free(sb);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* the last segment that starts at or before off */
	hi = t->nseg;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (b3cas__top_start(t, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	for (uint32_t i = lo; rc == 0 && len > 0 && i < t->nseg; i++) {
		rocksdb_pinnableslice_t *v;
		uint64_t pos = b3cas__top_start(t, i);
		uint32_t n = 0;

		rc = seg_read(s, NULL, id, t, i, &v, sb->ids, sb->lens, &n);
		if (rc < 0)
			break;
		rocksdb_pinnableslice_destroy(v);
		for (uint32_t k = 0; rc == 0 && k < n && len > 0; k++) {
			b3cas_oid c;
			uint32_t cl = sb->lens[k];
			uint64_t skip;
			size_t take;

			if (pos + cl <= off) {
				pos += cl;
				continue;
			}
			if (cl > s->lay.chunk_max) {
				rc = manifest_damaged(id, "a chunk too long");
				break;
			}
			memcpy(c.bytes, sb->ids + (size_t)k * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
			skip = off - pos;
			take = cl - skip < len ? (size_t)(cl - skip) : len;
			/* A whole chunk goes straight to the caller. */
			if (skip == 0 && take == cl) {
				rc = chunk_load(s, id, &c, cl, dst);
			} else {
				rc = chunk_load(s, id, &c, cl, sb->chunk);
				if (rc == 0)
					memcpy(dst, sb->chunk + skip, take);
			}
			dst += take;
			off += take;
			len -= take;
			pos += cl;
		}
	}
	if (rc == 0 && len > 0)
		rc = manifest_damaged(id, "its segments end too soon");
	free(sb->chunk);
	free(sb);
	return rc;
}

/* ---- what the manifests hold, for stats ------------------------------ */

int b3cas__chunked_foreach_chunk(b3cas_store *s, const b3cas__snap *snap,
				 const b3cas_oid *id, const b3cas__top *t,
				 b3cas__chunk_fn fn, void *ctx,
				 uint64_t *seg_bytes)
{
	seg_buf *sb = malloc(sizeof(*sb));
	int rc = 0;

	if (!sb)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (uint32_t i = 0; rc == 0 && i < t->nseg; i++) {
		rocksdb_pinnableslice_t *v;
		uint32_t n = 0;
		size_t len;

		rc = seg_read(s, snap->ro, id, t, i, &v, sb->ids, sb->lens, &n);
		if (rc < 0)
			break;
		(void)rocksdb_pinnableslice_value(v, &len);
		rocksdb_pinnableslice_destroy(v);
		*seg_bytes += len;
		for (uint32_t k = 0; rc == 0 && k < n; k++) {
			b3cas_oid c;

			memcpy(c.bytes, sb->ids + (size_t)k * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
			rc = fn(&c, sb->lens[k], ctx);
		}
	}
	free(sb);
	return rc;
}

static int walk_end(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro,
		    int rc);

/* A meta key and its value, for meta_walk: 0 goes on. */
typedef int (*meta_fn)(const uint8_t *k, size_t klen, const uint8_t *v,
		       size_t vlen, void *ctx);

/* Call visit on every meta key that starts with kind, as snap sees it:
 * 0, visit's non-zero return, or an index error. */
static int meta_walk(b3cas_store *s, const b3cas__snap *snap, char kind,
		     meta_fn visit, void *ctx)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, snap->ro, s->ix->cf[B3CAS_CF_META]);
	int rc = 0;

	for (rocksdb_iter_seek(it, &kind, 1); rc == 0 && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);

		if (klen == 0 || k[0] != (uint8_t)kind)
			break;
		rc = visit(k, klen, v, vlen, ctx);
	}
	return walk_end(it, NULL, rc);
}

/* The caller's callback (the one its walk takes) and its ctx, for the
 * visitors of meta_walk. */
typedef struct meta_call {
	b3cas__chunk_fn chunk;
	b3cas__held_count_fn held;
	void *ctx;
} meta_call;

/* A segment: each chunk occurrence to the caller's b3cas__chunk_fn. */
static int visit_segment(const uint8_t *k, size_t klen, const uint8_t *v,
			 size_t vlen, void *arg)
{
	const meta_call *call = arg;
	const uint8_t *end = v + vlen;
	b3cas_oid c;
	uint32_t cl;
	size_t n;
	int rc = 0;

	(void)k;
	if (klen != SEG_KEY_LEN)
		return 0;
	/* unchecked (a put's pending segment has no id yet), so parsed as
	 * far as it goes, as a release does */
	while (rc == 0 && (n = seg_entry(v, end, c.bytes, &cl)) != 0) {
		rc = call->chunk(&c, cl, call->ctx);
		v += n;
	}
	return rc;
}

int b3cas__chunked_foreach_held(b3cas_store *s, const b3cas__snap *snap,
				b3cas__chunk_fn fn, void *ctx)
{
	meta_call call = {fn, NULL, ctx};

	return meta_walk(s, snap, 'm', visit_segment, &call);
}

/* ---- releasing references ------------------------------------------- */

typedef struct ref_item {
	b3cas_oid id;
	const uint8_t *data; /* puts: the chunk's bytes */
	uint32_t len;
	uint32_t pos;        /* puts: its place in the segment */
} ref_item;

static int ref_cmp(const void *a, const void *b)
{
	return memcmp(((const ref_item *)a)->id.bytes,
		      ((const ref_item *)b)->id.bytes, B3CAS_OID_LEN);
}

static void lock_items(b3cas_store *s, const ref_item *it, size_t n,
		       bool lock)
{
	b3cas__lock_sorted(s, it, n, sizeof(*it), lock);
}

/* ---- held counts ---------------------------------------------------------
 *
 * A chunk's reference count is one count: its occurrences in the segments
 * there are plus its callers' references. Beside it, the meta key 'h' id
 * holds the first part alone (u64 LE; an empty value for 1, which most
 * chunks have; no key when 0), changed in the same
 * batches as the segments, under the same stripe locks. So callers see
 * and drop only their own references (b3cas__chunked_held): a caller that
 * deletes more than it put cannot take a manifest's references and let GC
 * free a chunk an object still needs.
 */
static void held_key(uint8_t k[HELD_KEY_LEN], const b3cas_oid *id)
{
	k[0] = 'h';
	memcpy(k + 1, id->bytes, B3CAS_OID_LEN);
}

/* The held count a value of len bytes at p records: false when it is
 * malformed (*held 0). */
static bool held_value(const char *p, size_t len, uint64_t *held)
{
	*held = 0;
	if (len == 0)
		*held = 1; /* the common case, kept short */
	else if (len == 8)
		*held = b3cas__get_u64((const uint8_t *)p);
	return len == 0 || len == 8;
}

int b3cas__chunked_held(b3cas_store *s, const b3cas_oid *id, uint64_t *held)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint8_t k[HELD_KEY_LEN];
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	bool ok;
	int rc;

	*held = 0;
	if (!s->lay.chunk_max)
		return 0;
	held_key(k, id);
	rc = b3cas__index_get(s->ix, B3CAS_CF_META, k, sizeof(k), &v);
	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	ok = held_value(p, len, held);
	rocksdb_pinnableslice_destroy(v);
	if (!ok)
		return b3cas__error(B3CAS_ECORRUPT,
				    "the held count of chunk %s is malformed "
				    "(%zu bytes)", b3cas_oid_fmt(hex, id), len);
	return 0;
}

void b3cas__chunked_batch_set_held(b3cas_store *s, rocksdb_writebatch_t *b,
				   const b3cas_oid *id, uint64_t held)
{
	uint8_t k[HELD_KEY_LEN], v[8];

	held_key(k, id);
	if (held == 0) {
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)k, sizeof(k));
		return;
	}
	b3cas__put_u64(v, held);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)k, sizeof(k), (const char *)v,
				  held == 1 ? 0 : sizeof(v));
}

/* Under id's stripe lock: add delta (which may be negative) to id's held
 * count in b, from what the index holds now. A count that cannot move by
 * delta (already too low, or unreadable) adds 1 to *clamps, which the
 * caller adds to s->held_clamps once b is written (see handle.h). */
static int held_add_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			   const b3cas_oid *id, int64_t delta,
			   uint64_t *clamps)
{
	uint64_t held;
	int rc = b3cas__chunked_held(s, id, &held);

	/* A malformed count is rewritten: the segments are the truth. */
	if (rc < 0 && rc != B3CAS_ECORRUPT)
		return rc;
	if (rc < 0)
		b3cas_error_clear();
	if (rc < 0 || (delta < 0 && held < (uint64_t)-delta))
		(*clamps)++;
	if (delta < 0 && held < (uint64_t)-delta)
		held = 0; /* already wrong: never below 0 */
	else
		held += (uint64_t)delta;
	b3cas__chunked_batch_set_held(s, b, id, held);
	return 0;
}

/*
 * After the batch with n clamps is written (or failed), still under its
 * chunks' locks: counted for fsck's mends (handle.h). Not before: a check
 * that read the count and then took its snapshot before the batch landed
 * would see neither the clamp nor what it did, and mend by a difference
 * the release already made (a held count, and so the reference count it
 * raises, one too high for ever).
 */
static void held_clamped(b3cas_store *s, uint64_t n)
{
	if (n)
		atomic_fetch_add(&s->held_clamps, n);
}

/* A held count key: to the caller's b3cas__held_count_fn. */
static int visit_held(const uint8_t *k, size_t klen, const uint8_t *v,
		      size_t vlen, void *arg)
{
	const meta_call *call = arg;
	uint64_t held;
	b3cas_oid c;
	bool ok;

	if (klen != HELD_KEY_LEN)
		return 0; /* the store's "hash": not a held count */
	memcpy(c.bytes, k + 1, B3CAS_OID_LEN);
	ok = held_value((const char *)v, vlen, &held);
	return call->held(&c, held, !ok, call->ctx);
}

int b3cas__chunked_foreach_held_count(b3cas_store *s, const b3cas__snap *snap,
				      b3cas__held_count_fn fn, void *ctx)
{
	meta_call call = {NULL, fn, ctx};

	return meta_walk(s, snap, 'h', visit_held, &call);
}

void b3cas__chunked_batch_forget_held(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id)
{
	if (s->lay.chunk_max)
		b3cas__chunked_batch_set_held(s, b, id, 0);
}

/*
 * Under id's stripe lock: drop count references to chunk id, which a
 * segment going away held. A chunk not stored, or already a candidate, or
 * with fewer references than that (a count already wrong) is left as it
 * is: leaking is safe, freeing a chunk someone holds is not; its held
 * count then stays too, which counts in *clamps (held_add_locked). *gone:
 * its last reference went.
 */
static int unref_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			const b3cas_oid *id, uint64_t count, bool *gone,
			uint64_t *clamps)
{
	uint64_t refs = 0;
	int rc = b3cas__lookup_count(s, id, &refs);

	*gone = false;
	if (rc >= 0 && (rc != 1 || refs < count))
		(*clamps)++;
	if (rc != 1)
		return rc < 0 ? rc : 0;
	if (refs < count)
		return 0;
	rc = held_add_locked(s, b, id, -(int64_t)count, clamps);
	if (rc < 0)
		return rc;
	if (refs > count) {
		b3cas__batch_set_refs(b, s, id, refs != 1, refs - count);
		return 0;
	}
	b3cas__known_drop(s->known, id);
	*gone = true;
	return b3cas__mark_candidate(s, b, id);
}

/* Release the references of one segment value and delete its key, in
 * one batch under the chunks' locks. */
static int release_segment(b3cas_store *s, const uint8_t *key, size_t klen,
			   const uint8_t *p, size_t len, ref_item *items,
			   bool *gone)
{
	const uint8_t *end = p + len;
	rocksdb_writebatch_t *b;
	uint64_t clamps = 0;
	size_t n = 0;
	int rc = 0;

	/* A segment too damaged to parse is released as far as it goes. */
	while (n < SEG_CHUNKS) {
		uint32_t cl;
		size_t k = seg_entry(p, end, items[n].id.bytes, &cl);

		if (k == 0)
			break;
		n++;
		p += k;
	}
	qsort(items, n, sizeof(*items), ref_cmp);
	b = rocksdb_writebatch_create();
	lock_items(s, items, n, true);
	/* Another release (a second GC) may have done it meanwhile: it held
	 * these same locks to. Segments never change, so one still there is
	 * the one parsed. */
	rc = b3cas__index_has(s->ix, B3CAS_CF_META, key, klen);
	if (rc <= 0) {
		lock_items(s, items, n, false);
		rocksdb_writebatch_destroy(b);
		return rc;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < n;) {
		size_t j = i + 1;

		while (j < n && b3cas_oid_equal(&items[j].id, &items[i].id))
			j++;
		rc = unref_locked(s, b, &items[i].id, j - i, &gone[i],
				  &clamps);
		for (size_t m = i + 1; m < j; m++)
			gone[m] = false;
		i = j;
	}
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)key, klen);
	if (rc == 0)
		rc = b3cas__write_batch(s, b, false);
	held_clamped(s, clamps);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (gone[i])
			b3cas__caches_forget(s, &items[i].id, false);
	lock_items(s, items, n, false);
	rocksdb_writebatch_destroy(b);
	return rc;
}

/* End a walk of the index: its error, if rc is 0 and the walk had one,
 * and the iterator and its options (unless NULL: a snapshot's) freed. */
static int walk_end(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro,
		    int rc)
{
	char *err = NULL;

	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(it);
	if (ro)
		rocksdb_readoptions_destroy(ro);
	return rc;
}

/* Release every segment of manifest gen, then its pending key of kind. */
static int release(b3cas_store *s, char kind, const uint8_t gen[GEN_LEN])
{
	uint8_t prefix[SEG_KEY_LEN], pk[PENDING_KEY_LEN];
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	ref_item *items = malloc(SEG_CHUNKS * sizeof(*items));
	bool *gone = malloc(SEG_CHUNKS * sizeof(*gone));
	int rc = 0;

	if (!items || !gone) {
		free(items);
		free(gone);
		rocksdb_readoptions_destroy(ro);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	seg_key(prefix, gen, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	for (rocksdb_iter_seek(it, (const char *)prefix, SEG_KEY_LEN - 4);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);

		if (klen != SEG_KEY_LEN || memcmp(k, prefix, SEG_KEY_LEN - 4))
			break;
		rc = release_segment(s, k, klen, v, vlen, items, gone);
	}
	rc = walk_end(it, ro, rc);
	free(items);
	free(gone);
	if (rc == 0) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		pending_key(pk, kind, gen);
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)pk, sizeof(pk));
		rc = b3cas__write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
	}
	return rc;
}

/* Release the segments of every pending key of kind. */
static int release_kind(b3cas_store *s, char kind, uint64_t *released)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	int rc = 0;

	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	for (rocksdb_iter_seek(it, &kind, 1);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);

		if (klen == 0 || k[0] != (uint8_t)kind)
			break;
		if (klen != PENDING_KEY_LEN)
			continue;
		rc = release(s, kind, k + 1);
		if (rc == 0 && released)
			(*released)++;
	}
	return walk_end(it, ro, rc);
}

int b3cas__chunked_release_removed(b3cas_store *s, uint64_t *released)
{
	if (released)
		*released = 0;
	return release_kind(s, 'r', released);
}

int b3cas__chunked_release_all(b3cas_store *s, uint64_t *released)
{
	int rc;

	if (released)
		*released = 0;
	rc = release_kind(s, 'r', released);
	if (rc == 0)
		rc = release_kind(s, 'p', released);
	return rc;
}

void b3cas__chunked_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, const b3cas__top *t)
{
	uint8_t pk[PENDING_KEY_LEN];

	pending_key(pk, 'r', t->gen);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)pk, sizeof(pk),
				  (const char *)id->bytes, B3CAS_OID_LEN);
}

/* ---- putting ------------------------------------------------------- */

struct b3cas__cput {
	b3cas_store *s;
	b3cas_cdc cdc;
	uint8_t gen[GEN_LEN];
	uint8_t *top;        /* TOP_HEAD + nseg * TOP_SEG, growing */
	size_t top_cap;
	uint32_t nseg;
	uint64_t seg_start;  /* where the next segment starts */
	/* the segment being gathered: its chunks, in the caller's buffer */
	ref_item items[SEG_CHUNKS];
	uint8_t hashes[SEG_CHUNKS * B3CAS_OUT_LEN];
	const void *inputs[SEG_CHUNKS];
	size_t lens[SEG_CHUNKS];
	uint8_t seg[SEG_CHUNKS * SEG_ENTRY_MAX];
	uint32_t n;
	/* each written segment's BLAKE3, for its check at commit */
	uint8_t *digests;
	size_t digests_cap;
	bool owned; /* staged as a new entry: its write hands them over */
};

int b3cas__cput_begin(b3cas_store *s, b3cas__cput **out)
{
	b3cas__cput *c;
	int rc = b3cas__reserve_check_room(s);

	if (rc < 0)
		return rc;
	c = malloc(sizeof(*c));
	if (!c)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = b3cas__cdc_init(&c->cdc, s->lay.chunk_min, s->lay.chunk_avg,
			     s->lay.chunk_max, 0);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->s = s;
	c->owned = false;
	c->nseg = 0;
	c->n = 0;
	c->seg_start = 0;
	c->top_cap = TOP_HEAD + 16 * TOP_SEG;
	c->top = malloc(c->top_cap);
	c->digests_cap = 16;
	c->digests = malloc(c->digests_cap * B3CAS_OUT_LEN);
	if (!c->top || !c->digests ||
	    getrandom(c->gen, GEN_LEN, 0) != (ssize_t)GEN_LEN) {
		free(c->top);
		free(c->digests);
		free(c);
		return b3cas__error(B3CAS_ENOMEM, "cannot start a chunked put");
	}
	*out = c;
	return 0;
}

static int grow(b3cas__cput *c)
{
	if (TOP_HEAD + (size_t)(c->nseg + 1) * TOP_SEG > c->top_cap) {
		size_t cap = c->top_cap * 2;
		uint8_t *t = realloc(c->top, cap);

		if (!t)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		c->top = t;
		c->top_cap = cap;
	}
	if (c->nseg + 1 > c->digests_cap) {
		size_t cap = c->digests_cap * 2;
		uint8_t *d = realloc(c->digests, cap * B3CAS_OUT_LEN);

		if (!d)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		c->digests = d;
		c->digests_cap = cap;
	}
	return 0;
}

/* Write the gathered segment: its chunks (or references to them), the
 * segment and, with the first, the pending key, in one batch. */
static int flush_segment(b3cas__cput *c)
{
	b3cas_store *s = c->s;
	rocksdb_writebatch_t *b;
	uint8_t key[SEG_KEY_LEN], *rec;
	uint64_t seglen = 0, fresh = 0, clamps = 0, base;
	size_t bytes = 0;
	bool loose = false;
	int rc;

	if (c->n == 0)
		return 0;
	rc = grow(c);
	if (rc < 0)
		return rc;
	b3cas_hash_batch(c->hashes, c->inputs, c->lens, c->n);
	for (uint32_t k = 0; k < c->n; k++) {
		memcpy(c->items[k].id.bytes, c->hashes + k * B3CAS_OUT_LEN,
		       B3CAS_OID_LEN);
		c->items[k].data = c->inputs[k];
		c->items[k].pos = k;
		c->items[k].len = (uint32_t)c->lens[k];
		memcpy(c->seg + bytes, c->items[k].id.bytes, B3CAS_OID_LEN);
		bytes += B3CAS_OID_LEN;
		bytes += put_varint(c->seg + bytes, (uint32_t)c->lens[k]);
		seglen += c->lens[k];
	}
	rec = c->top + TOP_HEAD + (size_t)c->nseg * TOP_SEG;
	b3cas__put_u64(rec, c->seg_start);
	put_u32(rec + 8, c->n);
	b3cas_hash(c->digests + (size_t)c->nseg * B3CAS_OUT_LEN, c->seg, bytes);

	/* numbered in the object's order, staged in id order */
	base = b3cas__packs(s) ? b3cas__pack_reserve(s, c->n) : 0;
	qsort(c->items, c->n, sizeof(c->items[0]), ref_cmp);
	b = rocksdb_writebatch_create();
	lock_items(s, c->items, c->n, true);
	for (uint32_t i = 0; rc >= 0 && i < c->n;) {
		uint32_t j = i + 1;
		bool l;

		while (j < c->n &&
		       b3cas_oid_equal(&c->items[j].id, &c->items[i].id))
			j++;
		rc = b3cas__stage_locked(s, b, &c->items[i].id,
					 c->items[i].data, c->items[i].len,
					 NULL, j - i,
					 base ? base + c->items[i].pos : 0, &l);
		if (rc == 0)
			fresh += c->items[i].len;
		if (rc >= 0)
			rc = held_add_locked(s, b, &c->items[i].id,
					     (int64_t)(j - i), &clamps);
		loose |= l;
		i = j;
	}
	seg_key(key, c->gen, c->nseg);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)key, sizeof(key),
				  (const char *)c->seg, bytes);
	if (c->nseg == 0) {
		uint8_t pk[PENDING_KEY_LEN];

		pending_key(pk, 'p', c->gen);
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)pk, sizeof(pk), "",
					  0);
	}
	/* The new chunks together, each checked alone by the stage: room
	 * for all of them in the index's log (reserve.c). */
	if (rc >= 0 && fresh)
		rc = b3cas__reserve_check_index_room(s, fresh);
	if (rc >= 0)
		rc = b3cas__write_batch(s, b, loose);
	held_clamped(s, clamps);
	for (uint32_t i = 0; rc >= 0 && i < c->n; i++)
		b3cas__known_add(s->known, &c->items[i].id);
	lock_items(s, c->items, c->n, false);
	rocksdb_writebatch_destroy(b);
	if (rc < 0)
		return rc;
	c->nseg++;
	c->seg_start += seglen;
	c->n = 0;
	return 0;
}

int b3cas__cput_feed(b3cas__cput *c, const void *data, size_t len,
		     bool final, size_t *consumed)
{
	const uint8_t *p = data;
	size_t off = 0;
	int rc = 0;

	/* Without the end in sight, a cut needs chunk_max bytes ahead
	 * (fastcdc.h, the streaming contract). */
	while (rc == 0 && off < len &&
	       (final || len - off >= c->s->lay.chunk_max)) {
		size_t cl = b3cas__cdc_cut(NULL, &c->cdc, p + off, len - off);

		c->inputs[c->n] = p + off;
		c->lens[c->n++] = cl;
		off += cl;
		if (c->n == SEG_CHUNKS)
			rc = flush_segment(c);
	}
	/* The chunks point into data: written before returning. */
	if (rc == 0)
		rc = flush_segment(c);
	*consumed = off;
	return rc;
}

uint64_t b3cas__cput_size(const b3cas__cput *c)
{
	return c->seg_start;
}

void b3cas__cput_abort(b3cas__cput *c)
{
	if (!c)
		return;
	if (c->nseg > 0) {
		/* what fails here is released at the next open */
		char msg[B3CAS__MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		(void)release(c->s, 'p', c->gen);
		(void)b3cas__error(B3CAS_ERROR, "%s", msg);
	}
	free(c->top);
	free(c->digests);
	free(c);
}

/*
 * Under id's stripe lock: add to b what count more references to id take
 * if it is stored: 1 when it is live (its count grows); 0 when it is a
 * chunked candidate, revived (its entry loses the mark; its segments
 * still hold their chunks); 2 (b untouched) when it is not stored, or is
 * a candidate of another kind, which the caller stores anew; or an error.
 */
static int existing_stage(b3cas_store *s, rocksdb_writebatch_t *b,
			  const b3cas_oid *id, uint64_t count)
{
	b3cas__entry e;
	uint64_t refs = 0;
	int rc = b3cas__lookup_count(s, id, &refs);

	if (rc == 0)
		return 2;
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (refs > UINT64_MAX - count)
			return b3cas__refs_overflow(id);
		b3cas__batch_set_refs(b, s, id, refs != 1, refs + count);
		return 1;
	}
	rc = b3cas__entry_head(s, id, &e);
	if (rc < 0)
		return rc;
	if (e.kind != B3CAS_ENTRY_CHUNKED) {
		b3cas__entry_done(&e);
		return 2;
	}
	b3cas__batch_put_kind(b, s, id, e.kind, e.size, e.payload,
			      e.payload_len, false);
	b3cas__entry_done(&e);
	b3cas__batch_set_refs(b, s, id, true, count);
	return 0;
}

int b3cas__chunked_stage_existing(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, uint64_t count)
{
	return existing_stage(s, b, id, count);
}

/* existing_stage for one reference, written at once. */
static int existing_locked(b3cas_store *s, const b3cas_oid *id)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	int rc = existing_stage(s, b, id, 1);

	if (rc == 0 || rc == 1) {
		int wrc = b3cas__write_batch(s, b, false);

		if (wrc < 0)
			rc = wrc;
		else
			b3cas__known_add(s->known, id);
	}
	rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas__cput_stage_locked(b3cas__cput *c, rocksdb_writebatch_t *b,
			     const b3cas_oid *id, uint64_t count)
{
	b3cas_store *s = c->s;
	uint8_t pk[PENDING_KEY_LEN];
	int rc;

	if (c->nseg == 0)
		return b3cas__error(B3CAS_EINVAL, "an empty chunked put");
	c->top[0] = TOP_VERSION;
	memcpy(c->top + 1, c->gen, GEN_LEN);
	put_u32(c->top + 1 + GEN_LEN, c->nseg);
	for (uint32_t i = 0; i < c->nseg; i++) {
		uint8_t *rec = c->top + TOP_HEAD + (size_t)i * TOP_SEG;

		seg_check(rec + 12, id, c->gen, i, b3cas__get_u64(rec),
			  c->digests + (size_t)i * B3CAS_OUT_LEN);
	}
	rc = existing_stage(s, b, id, count);
	if (rc != 2)
		return rc;
	b3cas__batch_put_kind(b, s, id, B3CAS_ENTRY_CHUNKED, c->seg_start,
			      c->top, TOP_HEAD + (size_t)c->nseg * TOP_SEG,
			      false);
	/* count 1 keeps no refs entry; a candidate of another kind had
	 * one (its mark) */
	b3cas__batch_set_refs(b, s, id, true, count);
	pending_key(pk, 'p', c->gen);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)pk, sizeof(pk));
	b3cas__filter_add(s->filter, id);
	c->owned = true;
	return 0;
}

void b3cas__cput_done(b3cas__cput *c, bool written)
{
	if (c && written && c->owned)
		c->nseg = 0; /* the entry owns them now */
	b3cas__cput_abort(c);
}

int b3cas__cput_commit(b3cas__cput *c, const b3cas_oid *id)
{
	pthread_mutex_t *lock = b3cas__store_stripe(c->s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	int rc;

	pthread_mutex_lock(lock);
	rc = b3cas__cput_stage_locked(c, b, id, 1);
	if (rc >= 0) {
		int wrc = b3cas__write_batch(c->s, b, false);

		if (wrc < 0)
			rc = wrc;
		else
			b3cas__known_add(c->s->known, id);
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	/* Ours go unless the entry now names them (another put won the
	 * race, or a failure). */
	b3cas__cput_done(c, rc >= 0);
	return rc;
}

int b3cas__cput_all(b3cas_store *s, const void *data, size_t len,
		    b3cas__cput **out)
{
	const uint8_t *p = data;
	b3cas__cput *c;
	size_t off = 0;
	int rc = b3cas__cput_begin(s, &c);

	if (rc < 0)
		return rc;
	/* A segment's worth at a time keeps the segments full. */
	while (rc == 0 && off < len) {
		size_t want = (size_t)SEG_CHUNKS * s->lay.chunk_avg * 2, used;
		bool final = len - off <= want;

		rc = b3cas__cput_feed(c, p + off, final ? len - off : want,
				      final, &used);
		off += used;
	}
	if (rc < 0) {
		b3cas__cput_abort(c);
		return rc;
	}
	*out = c;
	return 0;
}

int b3cas__chunked_publish(b3cas_store *s, const b3cas_oid *id,
			   const void *data, size_t len)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	b3cas__cput *c;
	int rc;

	pthread_mutex_lock(lock);
	rc = existing_locked(s, id);
	pthread_mutex_unlock(lock);
	if (rc != 2)
		return rc;
	rc = b3cas__cput_all(s, data, len, &c);
	if (rc < 0)
		return rc;
	return b3cas__cput_commit(c, id);
}

int b3cas__chunked_publish_fd(b3cas_store *s, const b3cas_oid *id, int fd,
			      uint64_t len)
{
	void *map;
	int rc;

	if (len > SIZE_MAX)
		return b3cas__error(B3CAS_ENOMEM, "object too large");
	map = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return b3cas__error(errno == ENOMEM ? B3CAS_ENOMEM : B3CAS_EIO,
				    "cannot map a staged object: %s",
				    strerror(errno));
	(void)madvise(map, (size_t)len, MADV_SEQUENTIAL);
	rc = b3cas__chunked_publish(s, id, map, (size_t)len);
	munmap(map, (size_t)len);
	return rc;
}

/* ---- mending from good bytes ---------------------------------------- */

/* Under c's stripe lock: rewrite chunk c's entry from good bytes if it
 * is there but damaged (its count, in the refs family, stays). 1 when
 * it was rewritten. A missing chunk is not made again: how many
 * manifests hold it is not known here (fsck reports it). */
static int mend_chunk_locked(b3cas_store *s, const b3cas_oid *c,
			     const uint8_t *data, uint32_t len, uint8_t *tmp)
{
	rocksdb_writebatch_t *b;
	b3cas__entry e;
	b3cas_oid got;
	bool unref;
	int rc = b3cas__entry_get(s, c, &e);

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc == 0) {
		unref = e.unref;
		rc = e.size == len && (e.kind == B3CAS_ENTRY_INLINE ||
				       e.kind == B3CAS_ENTRY_ZINLINE ||
				       e.kind == B3CAS_ENTRY_PACKED)
			     ? b3cas__entry_decode(&e, tmp)
			     : B3CAS_ECORRUPT;
		b3cas__entry_done(&e);
		if (rc == 0) {
			b3cas_hash(got.bytes, tmp, len);
			if (b3cas_oid_equal(&got, c))
				return 0; /* sound */
		}
	} else if (rc != B3CAS_ECORRUPT) {
		return rc;
	} else {
		unref = false;
	}
	b3cas_error_clear();
	b = rocksdb_writebatch_create();
	b3cas__batch_put_entry(b, s, c, data, len, true, unref);
	rc = b3cas__write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	return rc < 0 ? rc : 1;
}

int b3cas__chunked_mend(b3cas_store *s, const b3cas_oid *id,
			const void *data, size_t len, uint64_t *mended)
{
	const uint8_t *p = data;
	b3cas_cdc cdc;
	uint8_t *tmp;
	int rc;

	*mended = 0;
	rc = b3cas__cdc_init(&cdc, s->lay.chunk_min, s->lay.chunk_avg,
			     s->lay.chunk_max, 0);
	if (rc < 0)
		return rc;
	tmp = malloc(s->lay.chunk_max);
	if (!tmp)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	(void)id;
	for (size_t off = 0; rc >= 0 && off < len;) {
		size_t cl = b3cas__cdc_cut(NULL, &cdc, p + off, len - off);
		pthread_mutex_t *lock;
		b3cas_oid c;

		b3cas_hash(c.bytes, p + off, cl);
		lock = b3cas__store_stripe(s, &c);
		pthread_mutex_lock(lock);
		rc = mend_chunk_locked(s, &c, p + off, (uint32_t)cl, tmp);
		pthread_mutex_unlock(lock);
		if (rc == 1) {
			(*mended)++;
			b3cas__caches_forget(s, &c, false);
		}
		off += cl;
	}
	free(tmp);
	return rc < 0 ? rc : 0;
}
