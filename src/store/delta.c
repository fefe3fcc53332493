/*
 * store/delta.c - delta chunks: a new chunk of an object put with a base
 * (b3cas_writer_set_base: the version before it) stored as a zstd frame
 * whose prefix is the base's chunks at the same offset, when that saves
 * enough; and the decoding of such chunks (delta.h has the format).
 *
 * Invariants: a delta entry and the hand-over of its base node's
 * reference are one batch; a base is always shallower than its delta
 * (so chains end); a chunk's id stays BLAKE3 of its bytes, however it is
 * stored.
 */
#include "store/delta.h"
#include "store/chunked.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "compress/zstd.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/varint.h"

/* What a delta must save against the chunk stored alone, in bytes: about
 * what its base node costs (a node of two chunks, its count and key). */
#define DELTA_MIN_SAVING 192
#define BASE_NODE_MAX (B3CAS__DELTA_BASES_MAX * (B3CAS_OID_LEN + 5))

struct b3cas__delta_src {
	uint64_t n, cap;
	uint64_t *off;   /* each base chunk's start */
	uint32_t *len;
	b3cas_oid *ids;
	uint8_t gen[16]; /* of the pending keys of base nodes */
	uint32_t seq;    /* keys taken */
	uint8_t *prefix; /* B3CAS__DELTA_BASES_MAX chunk_max bytes */
	uint8_t *frame, *plain;
	size_t frame_cap;
	int level;
};

static int grow_list(b3cas__delta_src *d)
{
	uint64_t cap = d->cap ? d->cap * 2 : 1024;
	uint64_t *off = realloc(d->off, cap * sizeof(*off));
	uint32_t *len;
	b3cas_oid *ids;

	if (off)
		d->off = off;
	len = off ? realloc(d->len, cap * sizeof(*len)) : NULL;
	if (len)
		d->len = len;
	ids = len ? realloc(d->ids, cap * sizeof(*ids)) : NULL;
	if (!ids)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	d->ids = ids;
	d->cap = cap;
	return 0;
}

static int note_chunk(const b3cas_oid *chunk, uint32_t len, void *ctx)
{
	b3cas__delta_src *d = ctx;
	int rc = d->n == d->cap ? grow_list(d) : 0;

	if (rc < 0)
		return rc;
	d->off[d->n] = d->n ? d->off[d->n - 1] + d->len[d->n - 1] : 0;
	d->len[d->n] = len;
	d->ids[d->n++] = *chunk;
	return 0;
}

void b3cas__delta_src_close(b3cas_store *s, b3cas__delta_src *d)
{
	if (!d)
		return;
	if (d->seq > 0) {
		char msg[B3CAS__MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		(void)b3cas__chunked_release_gen(s, d->gen);
		(void)b3cas__error(B3CAS_ERROR, "%s", msg);
	}
	free(d->off);
	free(d->len);
	free(d->ids);
	free(d->prefix);
	free(d->frame);
	free(d->plain);
	free(d);
}

int b3cas__delta_src_open(b3cas_store *s, const b3cas_oid *base,
			  b3cas__delta_src **out)
{
	b3cas__delta_src *d;
	b3cas__entry e;
	b3cas__snap snap;
	b3cas__top t;
	int rc;

	*out = NULL;
	b3cas__snap_take(s, &snap, true);
	rc = b3cas__entry_head_at(s, snap.ro, base, &e);
	if (rc < 0 || e.unref || e.kind != B3CAS_ENTRY_CHUNKED ||
	    s->lay.zlevel == 0 || s->lay.chunk_max == 0) {
		if (rc == 0 && e.unref)
			rc = b3cas__not_stored(base);
		if (rc == 0)
			b3cas__entry_done(&e);
		b3cas__snap_release(s, &snap);
		return rc;
	}
	d = calloc(1, sizeof(*d));
	rc = d ? b3cas__top_parse(&t, base, e.size, e.payload, e.payload_len)
	       : b3cas__error(B3CAS_ENOMEM, "out of memory");
	if (rc == 0)
		rc = b3cas__chunked_foreach_chunk(s, &snap, base, &t,
						  note_chunk, d, NULL);
	b3cas__entry_done(&e);
	b3cas__snap_release(s, &snap);
	if (rc == 0) {
		d->level = s->lay.zlevel;
		d->frame_cap = b3cas__zstd_bound(s->lay.chunk_max);
		d->prefix = malloc((size_t)B3CAS__DELTA_BASES_MAX *
				   s->lay.chunk_max);
		d->frame = malloc(d->frame_cap);
		d->plain = malloc(d->frame_cap);
		if (!d->prefix || !d->frame || !d->plain)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	if (rc == 0 && getrandom(d->gen, sizeof(d->gen), 0) !=
			       (ssize_t)sizeof(d->gen))
		rc = b3cas__error(B3CAS_ERROR, "no random bytes for a put");
	if (rc < 0) {
		b3cas__delta_src_close(s, d);
		/* a damaged base only means no deltas against it */
		if (rc == B3CAS_ECORRUPT) {
			b3cas_error_clear();
			rc = 0;
		}
		return rc;
	}
	*out = d;
	return 0;
}

/* A base chunk: its id and length. */
typedef struct base_ref {
	b3cas_oid id;
	uint32_t len;
} base_ref;

/*
 * The base chunks for [off, off + len) into out (*n of them, at most 2):
 * the one chunk of the base that overlaps it most when that covers
 * three quarters of it, else the run of two that overlaps it most. A
 * base is what the delta's depth follows, so one is better than two.
 */
static void pick_bases(const b3cas__delta_src *d, uint64_t off, uint32_t len,
		       base_ref *out, uint32_t *n)
{
	uint64_t lo = 0, hi = d->n, end = off + len, best2 = 0, b2 = 0;
	uint64_t best1 = 0, b1 = 0;

	*n = 0;
	/* the last chunk starting at or before off */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (d->off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	if (d->n == 0 || d->off[lo] >= end)
		return;
	for (uint64_t i = lo; i < d->n && d->off[i] < end; i++) {
		uint64_t a = d->off[i] > off ? d->off[i] : off;
		uint64_t b = d->off[i] + d->len[i] < end ? d->off[i] + d->len[i]
							 : end;
		uint64_t one = b > a ? b - a : 0, two = one;

		if (i + 1 < d->n && d->off[i + 1] < end) {
			a = d->off[i + 1];
			b = d->off[i + 1] + d->len[i + 1] < end
				    ? d->off[i + 1] + d->len[i + 1]
				    : end;
			two += b > a ? b - a : 0;
		}
		if (one > best1) {
			best1 = one;
			b1 = i;
		}
		if (two > best2) {
			best2 = two;
			b2 = i;
		}
	}
	if (best1 == 0)
		return;
	if (best1 * 4 >= (uint64_t)len * 3 || best2 == best1) {
		out[0].id = d->ids[b1];
		out[0].len = d->len[b1];
		*n = 1;
		return;
	}
	for (uint64_t i = b2; i < b2 + 2 && i < d->n && d->off[i] < end; i++) {
		out[*n].id = d->ids[i];
		out[(*n)++].len = d->len[i];
	}
}

/*
 * Chunk c (len bytes) into out, read with ro; checked against c when
 * check (a put's bases: a delta must be made against the right bytes; a
 * read's need not, as the bytes decoded with them are checked against
 * their own id in the end); *depth its depth (0 whole). Deltas deeper
 * than below are damage (a chain is always shallower at each step).
 */
static int base_load(b3cas_store *s, const rocksdb_readoptions_t *ro,
		     const b3cas_oid *c, uint32_t len, uint8_t *out,
		     int below, bool check, int *depth)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas__entry e;
	int rc = b3cas__entry_get_at(s, ro, c, &e);

	if (rc == B3CAS_ENOTFOUND)
		return b3cas__error(B3CAS_ECORRUPT, "base chunk %s is missing",
				    b3cas_oid_fmt(hex, c));
	if (rc < 0)
		return rc;
	*depth = e.kind == B3CAS_ENTRY_DELTA && e.payload_len > 0
			 ? e.payload[0]
			 : 0;
	if (e.size != len ||
	    (e.kind != B3CAS_ENTRY_INLINE && e.kind != B3CAS_ENTRY_ZINLINE &&
	     e.kind != B3CAS_ENTRY_PACKED && e.kind != B3CAS_ENTRY_DELTA) ||
	    *depth >= below) {
		b3cas__entry_done(&e);
		return b3cas__error(B3CAS_ECORRUPT,
				    "base chunk %s has the wrong size, kind "
				    "or depth", b3cas_oid_fmt(hex, c));
	}
	rc = b3cas__entry_decode(&e, out);
	b3cas__entry_done(&e);
	if (rc < 0 || !check)
		return rc;
	{
		b3cas_oid got;

		b3cas_hash(got.bytes, out, len);
		if (!b3cas_oid_equal(&got, c))
			return b3cas__error(B3CAS_ECORRUPT,
					    "base chunk %s fails its hash",
					    b3cas_oid_fmt(hex, c));
	}
	return 0;
}

/* The base node's value for ids/lens (n of them) into v: its length. */
static size_t node_value(uint8_t *v, const b3cas_oid *ids,
			 const uint32_t *lens, uint32_t n)
{
	size_t at = 0;

	for (uint32_t k = 0; k < n; k++) {
		memcpy(v + at, ids[k].bytes, B3CAS_OID_LEN);
		at += B3CAS_OID_LEN;
		at += b3cas__varint_put(v + at, lens[k]);
	}
	return at;
}

/*
 * A base as deep as a delta may be cannot be one: in its place, its own
 * bases (the same region some versions before), over again until every
 * base is shallow enough, so that a region changed at every version
 * still makes deltas (against an older version of itself) rather than a
 * whole chunk each time the chain is full. At most
 * B3CAS__DELTA_BASES_MAX bases in all (the first ones, in order); *n
 * may become 0 (a base that cannot be read: no delta).
 */
static int shallow_bases(b3cas_store *s, base_ref *b, uint32_t *n)
{
	for (int round = 0; round <= B3CAS__DELTA_DEPTH_MAX; round++) {
		base_ref next[2 * B3CAS__DELTA_BASES_MAX];
		uint32_t m = 0;
		bool deep = false;

		for (uint32_t k = 0; k < *n; k++) {
			b3cas__entry e;
			uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
			uint32_t lens[B3CAS__DELTA_BASES_MAX], nb = 0;
			int rc = b3cas__entry_head(s, &b[k].id, &e);

			if (rc < 0) {
				b3cas_error_clear();
				*n = 0;
				return 0;
			}
			if (e.kind != B3CAS_ENTRY_DELTA || e.payload_len == 0 ||
			    e.payload[0] < B3CAS__DELTA_DEPTH_MAX) {
				b3cas__entry_done(&e);
				if (m < B3CAS__DELTA_BASES_MAX)
					next[m++] = b[k];
				continue;
			}
			deep = true;
			rc = b3cas__delta_node(e.payload, e.payload_len)
				     ? b3cas__chunked_node_list(
					       s, NULL, e.payload + 1, ids, lens,
					       B3CAS__DELTA_BASES_MAX, &nb)
				     : B3CAS_ECORRUPT;
			b3cas__entry_done(&e);
			if (rc < 0) {
				b3cas_error_clear();
				*n = 0;
				return 0;
			}
			for (uint32_t q = 0; q < nb && m < B3CAS__DELTA_BASES_MAX;
			     q++) {
				memcpy(next[m].id.bytes,
				       ids + (size_t)q * B3CAS_OID_LEN,
				       B3CAS_OID_LEN);
				next[m++].len = lens[q];
			}
		}
		/* the same chunk twice is one base */
		*n = 0;
		for (uint32_t k = 0; k < m; k++) {
			bool dup = false;

			for (uint32_t q = 0; q < *n; q++)
				dup |= b3cas_oid_equal(&b[q].id, &next[k].id);
			if (!dup)
				b[(*n)++] = next[k];
		}
		if (!deep)
			return 0;
	}
	*n = 0; /* not shallow after as many rounds: damage */
	return 0;
}

int b3cas__delta_prepare(b3cas__delta_src *d, b3cas_store *s,
			 const b3cas_oid *id, const uint8_t *data,
			 uint32_t len, uint64_t off, b3cas__delta_put *out)
{
	const uint8_t *bases[B3CAS__DELTA_BASES_MAX];
	base_ref refs_b[B3CAS__DELTA_BASES_MAX];
	b3cas_oid ids[B3CAS__DELTA_BASES_MAX];
	uint32_t lens[B3CAS__DELTA_BASES_MAX];
	uint8_t value[BASE_NODE_MAX];
	uint64_t refs;
	size_t plen = 0, dsize, psize, vlen;
	uint32_t n;
	int depth = 0, rc;

	out->payload = NULL;
	rc = b3cas__lookup_count(s, id, &refs);
	if (rc != 0 && rc != 2)
		return rc < 0 ? rc : 0; /* stored: nothing to make */
	pick_bases(d, off, len, refs_b, &n);
	rc = n ? shallow_bases(s, refs_b, &n) : 0;
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < n; k++) {
		int kd;

		if (b3cas_oid_equal(&refs_b[k].id, id))
			return 0;
		rc = base_load(s, NULL, &refs_b[k].id, refs_b[k].len,
			       d->prefix + plen, B3CAS__DELTA_DEPTH_MAX, true,
			       &kd);
		if (rc == B3CAS_ECORRUPT || rc == B3CAS_ENOTFOUND) {
			b3cas_error_clear(); /* gone or damaged: no delta */
			return 0;
		}
		if (rc < 0)
			return rc;
		bases[k] = d->prefix + plen;
		ids[k] = refs_b[k].id;
		lens[k] = refs_b[k].len;
		plen += refs_b[k].len;
		if (kd + 1 > depth)
			depth = kd + 1;
	}
	if (n == 0)
		return 0;
	rc = b3cas__zstd_compress_prefix(&dsize, d->frame, d->frame_cap, data,
					 len, d->prefix, plen, d->level);
	if (rc == 0)
		rc = b3cas__zstd_compress(&psize, d->plain, d->frame_cap, data,
					  len, d->level);
	if (rc < 0)
		return rc;
	if (psize > len)
		psize = len;
	if (B3CAS__DELTA_HEAD + dsize + DELTA_MIN_SAVING >= psize)
		return 0;
	vlen = node_value(value, ids, lens, n);
	out->payload = malloc(B3CAS__DELTA_HEAD + dsize);
	if (!out->payload)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	out->payload[0] = (uint8_t)depth;
	b3cas_hash(out->payload + 1, value, vlen);
	memcpy(out->payload + B3CAS__DELTA_HEAD, d->frame, dsize);
	out->payload_len = B3CAS__DELTA_HEAD + dsize;
	rc = b3cas__chunked_node_take(s, d->gen, d->seq, out->payload + 1,
				      value, vlen, ids, bases, lens, n);
	if (rc < 0) {
		free(out->payload);
		out->payload = NULL;
		return rc;
	}
	b3cas__chunked_ref_key(out->pkey, 'p', d->gen, d->seq);
	d->seq++;
	return 1;
}

const uint8_t *b3cas__delta_node(const uint8_t *p, size_t plen)
{
	return plen > B3CAS__DELTA_HEAD ? p + 1 : NULL;
}

static int delta_damaged(const b3cas_oid *id, const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT, "delta chunk %s: %s",
			    b3cas_oid_fmt(hex, id), why);
}

int b3cas__delta_decode(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, const uint8_t *p, size_t plen,
			uint64_t size, void *out)
{
	uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
	uint32_t lens[B3CAS__DELTA_BASES_MAX], n = 0;
	uint8_t *prefix = NULL;
	size_t total = 0, at = 0;
	int rc;

	if (!s)
		return delta_damaged(id, "read without its store");
	if (plen <= B3CAS__DELTA_HEAD || p[0] == 0 ||
	    p[0] > B3CAS__DELTA_DEPTH_MAX)
		return delta_damaged(id, "malformed entry");
	rc = b3cas__chunked_node_list(s, ro, p + 1, ids, lens,
				      B3CAS__DELTA_BASES_MAX, &n);
	if (rc == B3CAS_ECORRUPT)
		return delta_damaged(id, "its base node is missing or damaged");
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < n; k++)
		total += lens[k];
	if (n == 0 || total > (size_t)B3CAS__DELTA_BASES_MAX * (256u << 10))
		return delta_damaged(id, "its base node is malformed");
	prefix = b3cas__malloc(total);
	if (!prefix)
		return B3CAS_ENOMEM;
	for (uint32_t k = 0; rc == 0 && k < n; k++) {
		int kd;

		rc = base_load(s, ro,
			       (const b3cas_oid *)(const void *)(ids +
						(size_t)k * B3CAS_OID_LEN),
			       lens[k], prefix + at, p[0], false, &kd);
		at += lens[k];
	}
	if (rc == 0)
		rc = b3cas__zstd_decompress_prefix(out, (size_t)size,
						   p + B3CAS__DELTA_HEAD,
						   plen - B3CAS__DELTA_HEAD,
						   prefix, total);
	free(prefix);
	return rc;
}

void b3cas__delta_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				const b3cas_oid *id)
{
	uint8_t key[1 + 16 + 4], gen[16];
	b3cas__entry e;
	const uint8_t *node;

	if (b3cas__entry_head(s, id, &e) < 0) {
		b3cas_error_clear(); /* unreadable: its base leaks, safely */
		return;
	}
	node = e.kind == B3CAS_ENTRY_DELTA
		       ? b3cas__delta_node(e.payload, e.payload_len)
		       : NULL;
	/* a key of its own per removal: the same chunk removed twice
	 * before a release must release twice */
	if (node && getrandom(gen, sizeof(gen), 0) == (ssize_t)sizeof(gen)) {
		b3cas__chunked_ref_key(key, 'r', gen, UINT32_MAX);
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)key, sizeof(key),
					  (const char *)node, B3CAS_OID_LEN);
	}
	b3cas__entry_done(&e);
}
