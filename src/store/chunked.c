/*
 * store/chunked.c - chunked objects (format 2, docs/chunked-objects.md).
 *
 * An object larger than the store's largest chunk is cut by FastCDC into
 * chunks, and each chunk is an ordinary object (inline, compressed when
 * that pays) with a reference count; identical chunks of any objects are
 * stored once. The chunks' list is cut again, by content, into manifest
 * nodes: a node ends after a chunk whose id ends in NODE_FANOUT_BITS zero
 * bits (or after NODE_CHUNKS chunks), so two objects that share a run of
 * chunks share the nodes inside it. A node is the ordered list of its
 * chunk ids and lengths, kept once in the META column family under
 * 'n' node (node: the BLAKE3 of the list), with its own reference count
 * under 'k' node. The object's own content entry (kind
 * B3CAS_ENTRY_CHUNKED) keeps its size and a manifest top: a random name
 * gen (16 bytes) and, for each node, its start offset, chunk count, id
 * and a check value.
 *
 * Binding: a node's bytes must hash to its id, and a top record's check
 * is the first 16 bytes of BLAKE3 keyed with the object's id over gen,
 * the record's number, its start, its chunk count and the node's id. A
 * damaged node, a record swapped with another object's or moved within
 * the object fails, and every chunk is hashed against its id as it is
 * read, so a read serves exactly the bytes the put hashed to the id.
 *
 * References: a node's count is the number of top records (of stored
 * entries, GC candidates, and of the pending keys below) that name it.
 * Every chunk occurrence in a node holds one reference to the chunk (and
 * one of its held count), taken in the batch that writes the node and
 * dropped in the batch that deletes it, when its count reaches 0, under
 * the node's and the chunks' stripe locks (taken in increasing order). A
 * put that meets a node already stored adds 1 to its count and nothing
 * else: that is what makes a put of known content cheap. Records that no
 * committed entry owns are named by pending keys, one per record: 'p' gen
 * seg -> node, written in the batch that takes the node's reference and
 * deleted in the batch that writes the object's entry; 'r' gen seg ->
 * node, written in the batch in which GC removes the entry. A pending key
 * is released (its node's count dropped and the key deleted in the same
 * batch, after a check under the locks that the key is still there) by
 * the put that lost a race or failed, by GC after a removal ('r' only:
 * 'p' keys may be puts under way), and at open (both) for what a crash
 * left. So a chunk is a GC candidate only when no node holds it, and a
 * crash at any point leaks nothing that the next open does not release.
 */
#include "store/chunked.h"
#include "store/delta.h"
#include "store/chunk_map.h"
#include "store/pack.h"
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "chunk/fastcdc.h"
#include "compress/zstd.h"
#include "util/error.h"
#include "util/varint.h"

/* the most chunks a node holds; a node ends after a chunk whose id's
 * last byte has its low NODE_FANOUT_BITS bits clear (1 chunk in 64) */
#define NODE_CHUNKS 1024
/* chunks cut, then hashed in one batch: about 300 KiB at the usual 4 KiB
 * average, so they are still in L2 when hashed (bench_chunked's cut +
 * hash at AVX2: 1.18 GB/s 1024 at a time, 1.63-1.67 with 64) */
#define HASH_CHUNKS 64
#define NODE_FANOUT_BITS 6
#define SEG_CHUNKS NODE_CHUNKS
#define TOP_VERSION 2
/* a top of more records than PAGE_RECS keeps them in pages of that many
 * under 't' gen page, and in the entry only each page's start */
#define TOP_PAGED 3
#define PAGE_RECS 512
#define GEN_LEN B3CAS__GEN_LEN
#define CHECK_LEN 16
#define TOP_HEAD (1 + GEN_LEN + 4)
#define PAGED_HEAD (TOP_HEAD + 4)
/* a top record: start (u64 LE), chunks (u32 BE), node id, check */
#define TOP_SEG (8 + 4 + B3CAS_OID_LEN + CHECK_LEN)
#define NODE_KEY_LEN (1 + B3CAS_OID_LEN)
#define REF_KEY_LEN (1 + GEN_LEN + 4)
#define HELD_KEY_LEN (1 + B3CAS_OID_LEN)
/* a chunk in a node: its id and its length as a varint */
#define SEG_ENTRY_MAX (B3CAS_OID_LEN + 5)

_Static_assert(B3CAS_MANIFEST_TOP_MIN == PAGED_HEAD + 2 * 8 &&
		       B3CAS_MANIFEST_TOP_MIN < TOP_HEAD + TOP_SEG,
	       "B3CAS_MANIFEST_TOP_MIN is the shortest top: two pages");

/* 'n' node: the node's list; 'k' node: its count. */
static void node_key(uint8_t k[NODE_KEY_LEN], char kind, const uint8_t *node)
{
	k[0] = (uint8_t)kind;
	memcpy(k + 1, node, B3CAS_OID_LEN);
}

/* 'p': a put's reference to its node seg, until its entry is written
 * (released at open only: the put may be under way); 'r': a removed
 * object's (released by the GC that removed it, or at open). */
static void ref_key(uint8_t k[REF_KEY_LEN], char kind,
		    const uint8_t gen[GEN_LEN], uint32_t seg)
{
	k[0] = (uint8_t)kind;
	memcpy(k + 1, gen, GEN_LEN);
	k[REF_KEY_LEN - 4] = (uint8_t)(seg >> 24);
	k[REF_KEY_LEN - 3] = (uint8_t)(seg >> 16);
	k[REF_KEY_LEN - 2] = (uint8_t)(seg >> 8);
	k[REF_KEY_LEN - 1] = (uint8_t)seg;
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

/* The chunk whose entry starts at p in a node value ending at end: its
 * id into id (B3CAS_OID_LEN bytes) and its length; the bytes the entry
 * takes, or 0 when no well-formed entry starts there. */
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

/* Does a node end after the chunk whose id is id? */
static bool node_ends(const uint8_t *id)
{
	return (id[B3CAS_OID_LEN - 1] & ((1u << NODE_FANOUT_BITS) - 1)) == 0;
}

/* The check of top record seg: BLAKE3 keyed with the object's id over
 * gen, seg, start, the node's chunk count and its id. */
static void seg_check(uint8_t out[CHECK_LEN], const b3cas_oid *id,
		      const uint8_t gen[GEN_LEN], uint32_t seg, uint64_t start,
		      uint32_t chunks, const uint8_t *node)
{
	uint8_t full[B3CAS_OUT_LEN], msg[GEN_LEN + 4 + 8 + 4 + B3CAS_OID_LEN];

	memcpy(msg, gen, GEN_LEN);
	put_u32(msg + GEN_LEN, seg);
	b3cas__put_u64(msg + GEN_LEN + 4, start);
	put_u32(msg + GEN_LEN + 12, chunks);
	memcpy(msg + GEN_LEN + 16, node, B3CAS_OID_LEN);
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
	char hex[B3CAS_OID_HEX_LEN + 1];

	if (len >= 1 && p[0] == 1)
		return b3cas__error(B3CAS_EFORMAT,
				    "chunked object %s has a manifest of an "
				    "early development build (flat segments), "
				    "which this build does not read",
				    b3cas_oid_fmt(hex, id));
	if (len < TOP_HEAD || (p[0] != TOP_VERSION && p[0] != TOP_PAGED))
		return manifest_damaged(id, "unknown top version");
	memcpy(t->gen, p + 1, GEN_LEN);
	t->nseg = get_u32(p + 1 + GEN_LEN);
	t->size = size;
	t->npage = 0;
	t->segs = t->pages = NULL;
	if (p[0] == TOP_PAGED) {
		if (len < PAGED_HEAD)
			return manifest_damaged(id, "wrong top length");
		t->npage = get_u32(p + TOP_HEAD);
		if (t->nseg <= PAGE_RECS ||
		    t->npage != (t->nseg + PAGE_RECS - 1) / PAGE_RECS ||
		    len != PAGED_HEAD + (size_t)t->npage * 8)
			return manifest_damaged(id, "wrong top length");
		t->pages = p + PAGED_HEAD;
		/* O(1), as below; a page's records are checked as read */
		if (b3cas__get_u64(t->pages) != 0)
			return manifest_damaged(id, "the first node starts "
					       "past 0");
		if (b3cas__get_u64(t->pages + (size_t)(t->npage - 1) * 8) >=
		    size)
			return manifest_damaged(id, "a node past the end");
		return 0;
	}
	if (t->nseg == 0 || (len - TOP_HEAD) / TOP_SEG != t->nseg ||
	    (len - TOP_HEAD) % TOP_SEG)
		return manifest_damaged(id, "wrong top length");
	t->segs = p + TOP_HEAD;
	/* O(1): a read checks the record it uses (seg_read: its check binds
	 * its place, start, chunks and node; its chunks' lengths must end
	 * where the next record starts), so a large object's top is not
	 * walked on every range read. */
	if (b3cas__get_u64(t->segs) != 0)
		return manifest_damaged(id, "the first node starts past 0");
	if (b3cas__get_u64(t->segs + (size_t)(t->nseg - 1) * TOP_SEG) >= size)
		return manifest_damaged(id, "a node past the end");
	return 0;
}

/* ---- a top's records, inline or in pages ----------------------------- */

static void page_key(uint8_t k[REF_KEY_LEN], const uint8_t gen[GEN_LEN],
		     uint32_t page)
{
	ref_key(k, 't', gen, page);
}

/* Where a walk of a top's records reads them from: the entry, or the
 * page it loaded last (read with ro: a snapshot's, or NULL). */
typedef struct top_cursor {
	b3cas_store *s;
	const rocksdb_readoptions_t *ro;
	const b3cas_oid *id;
	const b3cas__top *t;
	rocksdb_pinnableslice_t *pv; /* the page loaded */
	const uint8_t *page;
	uint32_t cur;                /* its number */
	uint64_t *page_bytes;        /* grows by each page loaded (or NULL) */
} top_cursor;

static void cursor_init(top_cursor *c, b3cas_store *s,
			const rocksdb_readoptions_t *ro, const b3cas_oid *id,
			const b3cas__top *t)
{
	c->s = s;
	c->ro = ro;
	c->id = id;
	c->t = t;
	c->pv = NULL;
	c->page = NULL;
	c->cur = UINT32_MAX;
	c->page_bytes = NULL;
}

static void cursor_done(top_cursor *c)
{
	if (c->pv)
		rocksdb_pinnableslice_destroy(c->pv);
	c->pv = NULL;
}

static uint32_t page_recs(const b3cas__top *t, uint32_t page)
{
	uint32_t first = page * PAGE_RECS;

	return t->nseg - first < PAGE_RECS ? t->nseg - first : PAGE_RECS;
}

/* Record i of the top into *rec: 0, B3CAS_ECORRUPT (a page missing or of
 * the wrong length), or an index error. */
static int cursor_rec(top_cursor *c, uint32_t i, const uint8_t **rec)
{
	uint32_t page = i / PAGE_RECS;
	uint8_t key[REF_KEY_LEN];
	size_t len;
	int rc;

	if (!c->t->npage) {
		*rec = c->t->segs + (size_t)i * TOP_SEG;
		return 0;
	}
	if (page != c->cur) {
		cursor_done(c);
		c->cur = UINT32_MAX;
		page_key(key, c->t->gen, page);
		rc = b3cas__index_get_at(c->s->ix, c->ro, B3CAS_CF_META, key,
					 sizeof(key), &c->pv);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			c->pv = NULL;
			return manifest_damaged(c->id, "a page of its top is "
						"missing");
		}
		c->page = (const uint8_t *)rocksdb_pinnableslice_value(c->pv,
								       &len);
		if (len != (size_t)page_recs(c->t, page) * TOP_SEG) {
			cursor_done(c);
			return manifest_damaged(c->id, "a page of its top has "
						"the wrong length");
		}
		if (c->page_bytes)
			*c->page_bytes += len;
		c->cur = page;
	}
	*rec = c->page + (size_t)(i % PAGE_RECS) * TOP_SEG;
	return 0;
}

/* Where record i starts (*start) and where the next one does (*end: the
 * object's size after the last). */
static int cursor_span(top_cursor *c, uint32_t i, uint64_t *start,
		       uint64_t *end)
{
	const uint8_t *rec;
	int rc = cursor_rec(c, i, &rec);

	if (rc < 0)
		return rc;
	*start = b3cas__get_u64(rec);
	if (i + 1 == c->t->nseg) {
		*end = c->t->size;
	} else if (c->t->npage && (i + 1) % PAGE_RECS == 0) {
		*end = b3cas__get_u64(c->t->pages +
				      (size_t)((i + 1) / PAGE_RECS) * 8);
	} else {
		rc = cursor_rec(c, i + 1, &rec);
		if (rc < 0)
			return rc;
		*end = b3cas__get_u64(rec);
	}
	return 0;
}

/* The last record that starts at or before off (*i). */
static int cursor_find(top_cursor *c, uint64_t off, uint32_t *i)
{
	uint32_t lo = 0, hi, base = 0;

	if (c->t->npage) {
		hi = c->t->npage;
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (b3cas__get_u64(c->t->pages + (size_t)mid * 8) <=
			    off)
				lo = mid;
			else
				hi = mid;
		}
		base = lo * PAGE_RECS;
		hi = base + page_recs(c->t, lo);
		lo = base;
	} else {
		hi = c->t->nseg;
	}
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		const uint8_t *rec = NULL;
		int rc = cursor_rec(c, mid, &rec);

		if (rc < 0)
			return rc;
		if (b3cas__get_u64(rec) <= off)
			lo = mid;
		else
			hi = mid;
	}
	*i = lo;
	return 0;
}

/* ---- reading a node ------------------------------------------------- */

/* The value of meta key key (klen bytes), read with ro (a snapshot's)
 * or, when NULL, as every read of the index: 1 found (*v pinned), 0, or
 * an error. */
static int meta_get(b3cas_store *s, const rocksdb_readoptions_t *ro,
		    const uint8_t *key, size_t klen,
		    rocksdb_pinnableslice_t **v)
{
	return b3cas__index_get_at(s->ix, ro, B3CAS_CF_META, key, klen, v);
}

/* ---- node values: a list, or a delta against a newer node ---------- */

/*
 * A node's value (under 'n' node) is its list, or, once a put with a base
 * stored the node that replaces it (the new version's node over the same
 * bytes), a delta against that newer node:
 *
 *   0xff x 32 | format (1 byte, 1) | base node (32 bytes) | ops
 *
 * No list starts with 32 bytes of 0xff: that would be a chunk whose
 * BLAKE3 is all ones. The ops rebuild the list in order, each a varint t:
 * t odd, (t >> 1) entries follow as they are in a list; t even, (t >> 1)
 * entries of the base's list from its entry number `from` (a varint after
 * t). A node's id is BLAKE3 of its list however it is kept; a delta node
 * holds one count of its base, released when the node goes (an 'r' key).
 * Only a node kept as a list is rewritten, and only against a node the
 * put stored anew (younger than it), so bases cannot loop; a read
 * follows at most NODE_CHAIN_MAX of them (more is damage).
 */
#define NODE_DELTA_FORMAT 1
#define NODE_DELTA_HEAD (B3CAS_OID_LEN + 1 + B3CAS_OID_LEN)
#define NODE_CHAIN_MAX 4096
#define NODE_VALUE_MAX ((size_t)NODE_CHUNKS * SEG_ENTRY_MAX)
/* a put with a base rewrites the base's nodes unless its gen's first
 * byte is below this: chains of nodes end about every 256 / it versions */
#define NODE_CHAIN_BREAK 16

static bool node_is_delta(const uint8_t *p, size_t len)
{
	if (len < NODE_DELTA_HEAD)
		return false;
	for (size_t i = 0; i < B3CAS_OID_LEN; i++)
		if (p[i] != 0xff)
			return false;
	return true;
}

/* A node's list as read: p, len (in the pinned value, or decoded into
 * buf); base when it is kept as a delta. */
typedef struct node_val {
	rocksdb_pinnableslice_t *v;
	uint8_t *buf;
	const uint8_t *p;
	size_t len;
	const uint8_t *base; /* NULL: kept as a list */
} node_val;

static void node_val_done(node_val *nv)
{
	if (nv->v)
		rocksdb_pinnableslice_destroy(nv->v);
	free(nv->buf);
	nv->v = NULL;
	nv->buf = NULL;
}

static int node_delta_damaged(const char *why)
{
	return b3cas__error(B3CAS_ECORRUPT, "a manifest node kept as a "
			    "delta is damaged: %s", why);
}

/* Where each entry of list b (blen bytes) starts, into at (NODE_CHUNKS +
 * 1: the last is the end): the number of entries, or -1 when b is not a
 * list. */
static int32_t list_entries(const uint8_t *b, size_t blen, uint32_t *at)
{
	const uint8_t *q = b, *end = b + blen;
	uint32_t nb = 0;

	while (q < end && nb < NODE_CHUNKS) {
		uint8_t id[B3CAS_OID_LEN];
		uint32_t l;
		size_t k = seg_entry(q, end, id, &l);

		if (k == 0)
			return -1;
		at[nb++] = (uint32_t)(q - b);
		q += k;
	}
	at[nb] = (uint32_t)(q - b);
	return q == end ? (int32_t)nb : -1;
}

/* Apply the ops at p..end to base list b (blen bytes): the list into out
 * (NODE_VALUE_MAX bytes), *olen. */
static int node_delta_apply(const uint8_t *p, const uint8_t *end,
			    const uint8_t *b, size_t blen, uint32_t *at,
			    uint8_t *out, size_t *olen)
{
	int32_t nb = list_entries(b, blen, at);
	uint32_t entries = 0;
	size_t o = 0;

	if (nb < 0)
		return node_delta_damaged("its base is not a list");
	while (p < end) {
		uint32_t t, from, cnt;
		size_t k = get_varint(p, end, &t);

		cnt = t >> 1;
		if (k == 0 || cnt == 0 || cnt > NODE_CHUNKS - entries)
			return node_delta_damaged("a malformed step");
		p += k;
		entries += cnt;
		if (t & 1) {
			for (uint32_t j = 0; j < cnt; j++) {
				uint8_t id[B3CAS_OID_LEN];
				uint32_t l;

				k = seg_entry(p, end, id, &l);
				if (k == 0)
					return node_delta_damaged("a malformed "
								  "entry");
				memcpy(out + o, p, k);
				o += k;
				p += k;
			}
			continue;
		}
		k = get_varint(p, end, &from);
		if (k == 0 || from > (uint32_t)nb || cnt > (uint32_t)nb - from)
			return node_delta_damaged("a copy past its base's end");
		p += k;
		memcpy(out + o, b + at[from], at[from + cnt] - at[from]);
		o += at[from + cnt] - at[from];
	}
	*olen = o;
	return 0;
}

/*
 * The list of the node value raw (rlen bytes), decoded with reads by ro
 * (a snapshot's, or NULL: now) when it is a delta, through its chain of
 * bases to the first kept as a list: 0, B3CAS_ECORRUPT (a delta, or a
 * base on its chain, damaged or missing, or a chain too long: a loop),
 * or an error.
 */
static int node_val_decode(b3cas_store *s, const rocksdb_readoptions_t *ro,
			   const uint8_t *raw, size_t rlen, node_val *nv)
{
	rocksdb_pinnableslice_t **chain = NULL;
	uint32_t *at = NULL;
	uint8_t *tmp = NULL;
	const uint8_t *list = NULL;
	size_t n = 0, cap = 0, llen = 0;
	int rc = 0;

	nv->buf = NULL;
	nv->p = raw;
	nv->len = rlen;
	nv->base = NULL;
	if (!node_is_delta(raw, rlen))
		return 0;
	nv->base = raw + B3CAS_OID_LEN + 1;
	/* the chain: each base's value, to the first list */
	for (const uint8_t *v = raw, *b; rc == 0;) {
		uint8_t key[NODE_KEY_LEN];
		size_t vlen;

		if (v[B3CAS_OID_LEN] != NODE_DELTA_FORMAT) {
			rc = node_delta_damaged("an unknown format");
			break;
		}
		if (n == NODE_CHAIN_MAX) {
			rc = node_delta_damaged("its chain of bases is too "
						"long (a loop)");
			break;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 16;
			void *grown = realloc(chain, c * sizeof(*chain));

			if (!grown) {
				rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
				break;
			}
			chain = grown;
			cap = c;
		}
		b = v + B3CAS_OID_LEN + 1;
		node_key(key, 'n', b);
		rc = meta_get(s, ro, key, sizeof(key), &chain[n]);
		if (rc == 0)
			rc = node_delta_damaged("a base is missing");
		if (rc < 0)
			break;
		rc = 0;
		v = (const uint8_t *)rocksdb_pinnableslice_value(chain[n++],
								 &vlen);
		if (!node_is_delta(v, vlen)) {
			list = v;
			llen = vlen;
			break;
		}
	}
	if (rc == 0) {
		nv->buf = malloc(NODE_VALUE_MAX);
		tmp = malloc(NODE_VALUE_MAX);
		at = malloc((NODE_CHUNKS + 1) * sizeof(*at));
		if (!nv->buf || !tmp || !at)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* from the list back up: chain[k]'s value (raw's for k = -1)
	 * applied to the list below it */
	for (size_t k = n - 1; rc == 0 && k + 1 > 0; k--) {
		const uint8_t *v = raw;
		size_t vlen = rlen;
		uint8_t *out = k % 2 ? tmp : nv->buf;
		size_t olen = 0;

		if (k > 0)
			v = (const uint8_t *)rocksdb_pinnableslice_value(
				chain[k - 1], &vlen);
		rc = node_delta_apply(v + NODE_DELTA_HEAD, v + vlen, list,
				      llen, at, out, &olen);
		list = out;
		llen = olen;
	}
	for (size_t k = 0; k < n; k++)
		rocksdb_pinnableslice_destroy(chain[k]);
	free(chain);
	free(tmp);
	free(at);
	if (rc < 0) {
		free(nv->buf);
		nv->buf = NULL;
		return rc;
	}
	nv->p = list;
	nv->len = llen;
	return 0;
}

/* node's list, read with ro (a snapshot's, or NULL: now): 1 found (free
 * it with node_val_done), 0 not stored, or an error (as
 * node_val_decode). */
static int node_val_get(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const uint8_t *node, node_val *nv)
{
	uint8_t key[NODE_KEY_LEN];
	const uint8_t *raw;
	size_t rlen;
	int rc;

	memset(nv, 0, sizeof(*nv));
	node_key(key, 'n', node);
	rc = meta_get(s, ro, key, sizeof(key), &nv->v);
	if (rc <= 0) {
		nv->v = NULL;
		return rc;
	}
	raw = (const uint8_t *)rocksdb_pinnableslice_value(nv->v, &rlen);
	rc = node_val_decode(s, ro, raw, rlen, nv);
	if (rc < 0) {
		node_val_done(nv);
		return rc;
	}
	return 1;
}

/*
 * List (bytes at list) as a delta against list b (blen bytes, the list
 * of node base) into out (NODE_DELTA_HEAD + NODE_VALUE_MAX bytes): its
 * length, or 0 when that would not take at most half the list.
 */
static size_t node_delta_make(const uint8_t *list, size_t bytes,
			      const uint8_t *b, size_t blen,
			      const uint8_t *base, uint8_t *out)
{
	/* the base's entries by the first 8 bytes of their ids (open
	 * addressing, index + 1; 0 empty) */
	enum { SLOTS = 2 * NODE_CHUNKS };
	uint16_t *slot = calloc(SLOTS, sizeof(*slot));
	uint32_t *at = malloc((NODE_CHUNKS + 1) * sizeof(*at));
	const uint8_t *p = list, *end = list + bytes;
	const uint8_t *add = NULL; /* entries waiting to be added */
	uint32_t nadd = 0;
	size_t o = NODE_DELTA_HEAD, limit = bytes / 2;
	int32_t nb = -1;

	if (slot && at)
		nb = list_entries(b, blen, at);
	if (nb <= 0)
		goto no;
	for (int32_t j = 0; j < nb; j++) {
		uint64_t h;

		memcpy(&h, b + at[j], sizeof(h));
		for (size_t i = h % SLOTS;; i = (i + 1) % SLOTS)
			if (slot[i] == 0) {
				slot[i] = (uint16_t)(j + 1);
				break;
			}
	}
	memset(out, 0xff, B3CAS_OID_LEN);
	out[B3CAS_OID_LEN] = NODE_DELTA_FORMAT;
	memcpy(out + B3CAS_OID_LEN + 1, base, B3CAS_OID_LEN);
	while (p < end || nadd) {
		uint32_t from = UINT32_MAX, run = 0;
		uint8_t id[B3CAS_OID_LEN];
		uint32_t l;
		size_t k = 0;

		if (p < end) {
			uint64_t h;

			k = seg_entry(p, end, id, &l);
			if (k == 0)
				goto no;
			memcpy(&h, p, sizeof(h));
			for (size_t i = h % SLOTS; slot[i];
			     i = (i + 1) % SLOTS) {
				uint32_t j = slot[i] - 1U;

				if (at[j + 1] - at[j] == k &&
				    memcmp(b + at[j], p, k) == 0) {
					from = j;
					break;
				}
			}
		}
		if (from == UINT32_MAX && p < end) {
			if (!add)
				add = p;
			nadd++;
			p += k;
			continue;
		}
		if (nadd) {
			size_t len = (size_t)(p - add);

			if (o + 5 + len > limit)
				goto no;
			o += put_varint(out + o, nadd << 1 | 1);
			memcpy(out + o, add, len);
			o += len;
			add = NULL;
			nadd = 0;
		}
		if (from == UINT32_MAX)
			break; /* the end */
		/* the run of entries the base holds in the same order */
		while (p < end && from + run < (uint32_t)nb) {
			size_t e = at[from + run + 1] - at[from + run];

			if ((size_t)(end - p) < e ||
			    memcmp(p, b + at[from + run], e) != 0)
				break;
			p += e;
			run++;
		}
		if (o + 10 > limit)
			goto no;
		o += put_varint(out + o, run << 1);
		o += put_varint(out + o, from);
	}
	free(slot);
	free(at);
	return o;
no:
	free(slot);
	free(at);
	return 0;
}

/* Read (with ro: a snapshot's, or NULL) and check node record i of id's
 * top: *v pinned (release it), chunks parsed into ids (32 bytes each) and
 * lens, *n of them. */
static int seg_read(top_cursor *c, uint32_t i, uint8_t *ids, uint32_t *lens,
		    uint32_t *n)
{
	b3cas_store *s = c->s;
	const b3cas_oid *id = c->id;
	const b3cas__top *t = c->t;
	const uint8_t *rec;
	uint8_t check[CHECK_LEN], digest[B3CAS_OUT_LEN];
	uint32_t want;
	uint64_t sum = 0, start, stop;
	const uint8_t *p, *end;
	node_val nv = {0};
	size_t len;
	int rc = cursor_span(c, i, &start, &stop);

	if (rc == 0)
		rc = cursor_rec(c, i, &rec);
	if (rc < 0)
		return rc;
	want = get_u32(rec + 8);
	rc = node_val_get(s, c->ro, rec + 12, &nv);
	if (rc == B3CAS_ECORRUPT) {
		char why[B3CAS__MESSAGE_MAX];

		snprintf(why, sizeof(why), "%s", b3cas_error_last());
		return manifest_damaged(id, why);
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		return manifest_damaged(id, "a node is missing");
	p = nv.p;
	len = nv.len;
	seg_check(check, id, t->gen, i, start, want, rec + 12);
	if (memcmp(check, rec + 12 + B3CAS_OID_LEN, CHECK_LEN) != 0 ||
	    want == 0 || want > NODE_CHUNKS || stop <= start)
		goto damaged;
	b3cas_hash(digest, p, len);
	if (memcmp(digest, rec + 12, B3CAS_OID_LEN) != 0)
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
	if (*n != want || sum != stop - start)
		goto damaged;
	node_val_done(&nv);
	return 0;
damaged:
	node_val_done(&nv);
	return manifest_damaged(id, "a node fails its check");
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
			      e.kind != B3CAS_ENTRY_PACKED &&
			      e.kind != B3CAS_ENTRY_DELTA)) {
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
		if (!b3cas_oid_equal(&got, c)) {
			b3cas__delta_memo_forget();
			return chunk_damaged(obj, c, "fails its hash");
		}
	}
	return 0;
}

/*
 * The node lists that the delta chunks of one range read name as their
 * bases' (b3cas__chunked_node_list), kept on the read's thread until it
 * ends: neighbouring chunks of an old version have their bases in the
 * same newer node, so each decode read and hashed that node again. A
 * node's bytes are its id's, so what was read and checked once in the
 * read serves it to its end. The last NODE_MEMO nodes.
 */
#define NODE_MEMO 64

typedef struct node_memo_ent {
	uint8_t node[B3CAS_OID_LEN];
	uint32_t n;
	uint8_t *ids; /* NULL: an empty slot */
	uint32_t *lens;
} node_memo_ent;

static _Thread_local node_memo_ent node_memo[NODE_MEMO];
static _Thread_local unsigned node_memo_next, node_memo_reads;

static void node_memo_begin(void)
{
	node_memo_reads++;
}

static void node_memo_end(void)
{
	if (--node_memo_reads > 0)
		return;
	for (unsigned i = 0; i < NODE_MEMO; i++) {
		free(node_memo[i].ids);
		free(node_memo[i].lens);
		node_memo[i].ids = NULL;
		node_memo[i].lens = NULL;
	}
}

/* The most whole chunks chunked_read hands chunks_load at once, and the
 * fewest for which it reads them through a data_cursor. */
#define LOAD_BATCH 64
#define CURSOR_MIN 8

/*
 * A read's places in the data family of a packed store. Chunks put one
 * after another have data keys one after another, so the bytes of a
 * read's next chunk are most often under the key after the last one's
 * it took. Two places: an image that repeats a run of pages from far
 * back (an older version's, a shared library's mapped twice) is read
 * from there with one place while the other stays where the new pages
 * go on, instead of seeking back after every detour. Measured on a
 * 960 MiB memory image (bench/restore_rate.sh): docs/trees.md.
 *
 * A place is off (no iterator yet, or it ran off the end), at a key it
 * took (the next chunk is looked for after it), or ahead: on a key it
 * has not taken, one that did not match the chunk it was moved on for
 * (the next chunk is looked for there, without a move).
 */
#define PLACES 2

typedef enum { PLACE_OFF, PLACE_TOOK, PLACE_AHEAD } place_state;

typedef struct data_place {
	rocksdb_iterator_t *it; /* NULL until first used */
	place_state state;
	uint64_t used; /* when it last served a chunk (a count) */
} data_place;

typedef struct data_cursor {
	data_place at[PLACES];
	uint64_t clock;
} data_cursor;

static void data_cursor_done(data_cursor *dc)
{
	for (unsigned i = 0; i < PLACES; i++) {
		if (dc->at[i].it)
			rocksdb_iter_destroy(dc->at[i].it);
		dc->at[i].it = NULL;
		dc->at[i].state = PLACE_OFF;
	}
}

/* Is place p's key chunk c's (its tag, len bytes)? Its bytes copied
 * into out: true, and p took them. They are checked against c by the
 * caller (chunks_load, many at once). */
static bool place_take(data_cursor *dc, data_place *p, const uint8_t *c,
		       uint32_t len, uint8_t *out)
{
	const char *k, *v;
	size_t klen, vlen;

	if (!rocksdb_iter_valid(p->it)) {
		p->state = PLACE_OFF;
		return false;
	}
	k = rocksdb_iter_key(p->it, &klen);
	v = rocksdb_iter_value(p->it, &vlen);
	if (klen != B3CAS_PACK_KEY_LEN || vlen != len ||
	    memcmp(k + B3CAS_PACK_SEQ_LEN, c, B3CAS_PACK_TAG_LEN) != 0) {
		p->state = PLACE_AHEAD;
		return false;
	}
	memcpy(out, v, len);
	p->state = PLACE_TOOK;
	p->used = ++dc->clock;
	return true;
}

/* Chunk c where one of the places is, or next after it: true when found
 * (unchecked, as above). */
static bool data_cursor_next(data_cursor *dc, const uint8_t *c, uint32_t len,
			     uint8_t *out)
{
	for (unsigned i = 0; i < PLACES; i++) {
		data_place *p = &dc->at[i];

		if (p->state == PLACE_TOOK)
			rocksdb_iter_next(p->it);
		if (p->state != PLACE_OFF && place_take(dc, p, c, len, out))
			return true;
	}
	return false;
}

/* Chunk c through its entry: a packed one's bytes read by seeking the
 * place that served a chunk least recently to its key (from where the
 * next chunk is most often the next key). True when that found them
 * (unchecked, as above). */
static bool data_cursor_seek(b3cas_store *s, data_cursor *dc,
			     const b3cas_oid *c, uint32_t len, uint8_t *out)
{
	uint8_t key[B3CAS_PACK_KEY_LEN];
	data_place *p = &dc->at[0];
	b3cas__entry e;
	bool ok;

	if (b3cas__entry_head(s, c, &e) < 0) {
		b3cas_error_clear(); /* chunk_load says what is wrong */
		return false;
	}
	ok = e.kind == B3CAS_ENTRY_PACKED && e.size == len &&
	     b3cas__pack_key(s, c, e.raw, e.raw_len, key);
	b3cas__entry_done(&e);
	if (!ok)
		return false;
	for (unsigned i = 1; i < PLACES; i++)
		if (dc->at[i].used < p->used)
			p = &dc->at[i];
	if (!p->it)
		p->it = rocksdb_create_iterator_cf(s->ix->db, s->ix->read,
						   s->ix->cf[B3CAS_CF_DATA]);
	rocksdb_iter_seek(p->it, (const char *)key, sizeof(key));
	return place_take(dc, p, c->bytes, len, out);
}

/*
 * Chunks of zeros (the pages a memory image never wrote, and sparse
 * files' runs) are written as zeros without a lookup, a copy or a hash:
 * their ids are those of zeros, so zeros are their bytes. The ids are
 * learnt from chunks read on this thread, hashed against their ids
 * (never from a store that does not check what it reads), that turned
 * out to be zeros: a chunk's id is the BLAKE3 of its bytes in every
 * store, so what one store taught holds for all. The last ZERO_IDS
 * lengths (FastCDC cuts a run of zeros at its largest chunk).
 */
#define ZERO_IDS 4

static _Thread_local struct {
	uint32_t len; /* 0: an empty slot */
	uint8_t id[B3CAS_OID_LEN];
} zero_ids[ZERO_IDS];
static _Thread_local unsigned zero_ids_next;

static bool is_zero_chunk(const uint8_t *id, uint32_t len)
{
	for (unsigned i = 0; i < ZERO_IDS; i++)
		if (zero_ids[i].len == len && len != 0)
			return memcmp(zero_ids[i].id, id, B3CAS_OID_LEN) == 0;
	return false;
}

/* Chunk id (len bytes at p) was read and checked: learn it when it is
 * zeros. */
static void zero_learn(const uint8_t *id, const uint8_t *p, uint32_t len)
{
	unsigned i;

	if (len == 0 || p[0] != 0 || p[len - 1] != 0 ||
	    memcmp(p, p + 1, len - 1) != 0)
		return;
	for (i = 0; i < ZERO_IDS; i++)
		if (zero_ids[i].len == len)
			break;
	if (i == ZERO_IDS)
		i = zero_ids_next++ % ZERO_IDS;
	zero_ids[i].len = len;
	memcpy(zero_ids[i].id, id, B3CAS_OID_LEN);
}

/*
 * Whole chunks ids[0..m) (lens[], each at most chunk_max; m at most
 * LOAD_BATCH) of object obj into dst, one after another, each checked
 * against its id. A chunk of zeros is written as such (is_zero_chunk)
 * unless flags has B3CAS__READ_ALL.
 * In a packed store that checks what it reads, a chunk is first looked
 * for at the data cursor's places, which saves its entry's lookup: its
 * bytes are the chunk's when they hash to its id, whatever key holds
 * them. Those found so are hashed together at the end (b3cas_hash_batch:
 * a chunk of a few KiB fills a quarter of the SIMD lanes alone; batched,
 * 16 of them share them: the hashing of a restore of a 960 MiB image
 * took 17% of its CPU one by one). A chunk that fails its hash there,
 * and what the cursor does not serve (another kind, anything amiss), is
 * read by chunk_load, which retries or names the damage.
 */
static int chunks_load(b3cas_store *s, const b3cas_oid *obj,
		       const uint8_t *ids, const uint32_t *lens, uint32_t m,
		       uint8_t *dst, data_cursor *dc, unsigned flags)
{
	/* An iterator costs a seek in every level of the family, where a
	 * get skips most by their filters: a read of a few chunks (a small
	 * git object) gets each; a long one makes it once and follows it. */
	bool packed = s->verify && s->ix->cf[B3CAS_CF_DATA] &&
		      (dc->at[0].it || m >= CURSOR_MIN);
	const void *in[LOAD_BATCH];
	uint8_t *in_dst[LOAD_BATCH];
	size_t in_len[LOAD_BATCH];
	uint32_t in_at[LOAD_BATCH], n = 0;
	uint8_t got[LOAD_BATCH * B3CAS_OUT_LEN];
	uint8_t *d = dst;
	b3cas_oid c;
	int rc;

	for (uint32_t i = 0; i < m; i++) {
		const uint8_t *id = ids + (size_t)i * B3CAS_OID_LEN;

		if (!(flags & B3CAS__READ_ALL) && is_zero_chunk(id, lens[i])) {
			memset(d, 0, lens[i]);
			d += lens[i];
			continue;
		}
		if (packed && data_cursor_next(dc, id, lens[i], d))
			goto found;
		memcpy(c.bytes, id, B3CAS_OID_LEN);
		if (packed && data_cursor_seek(s, dc, &c, lens[i], d))
			goto found;
		rc = chunk_load(s, obj, &c, lens[i], d);
		if (rc < 0)
			return rc;
		if (s->verify) /* else unchecked: nothing to learn from */
			zero_learn(id, d, lens[i]);
		d += lens[i];
		continue;
found:
		in[n] = in_dst[n] = d;
		in_len[n] = lens[i];
		in_at[n++] = i;
		d += lens[i];
	}
	if (n == 0)
		return 0;
	b3cas_hash_batch(got, in, in_len, n);
	for (uint32_t j = 0; j < n; j++) {
		const uint8_t *id = ids + (size_t)in_at[j] * B3CAS_OID_LEN;

		if (memcmp(got + (size_t)j * B3CAS_OUT_LEN, id,
			   B3CAS_OID_LEN) != 0) {
			memcpy(c.bytes, id, B3CAS_OID_LEN);
			rc = chunk_load(s, obj, &c, lens[in_at[j]],
					in_dst[j]);
			if (rc < 0)
				return rc;
		}
		zero_learn(id, in_dst[j], lens[in_at[j]]);
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
			size_t len, unsigned flags);

int b3cas__chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len, unsigned flags)
{
	int rc = chunked_read(s, id, t, off, buf, len, flags);

	if (rc == B3CAS_ECORRUPT && !s->read_only)
		rc = gone_meanwhile(s, id, t, rc);
	return rc;
}

static int chunked_read(b3cas_store *s, const b3cas_oid *id,
			const b3cas__top *t, uint64_t off, void *buf,
			size_t len, unsigned flags)
{
	uint8_t *dst = buf;
	uint32_t lo = 0;
	data_cursor dc = {{{NULL, PLACE_OFF, 0}}, 0};
	top_cursor cur;
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
	cursor_init(&cur, s, NULL, id, t);
	node_memo_begin();
	b3cas__delta_memo_begin();
	/* the last node that starts at or before off */
	rc = cursor_find(&cur, off, &lo);
	for (uint32_t i = lo; rc == 0 && len > 0 && i < t->nseg; i++) {
		uint64_t pos, stop;
		uint32_t n = 0;

		rc = cursor_span(&cur, i, &pos, &stop);
		if (rc == 0)
			rc = seg_read(&cur, i, sb->ids, sb->lens, &n);
		if (rc < 0)
			break;
		if (pos > off) {
			rc = manifest_damaged(id, "its nodes are out of order");
			break;
		}
		for (uint32_t k = 0; rc == 0 && k < n && len > 0; k++) {
			b3cas_oid c;
			uint32_t cl = sb->lens[k];
			uint64_t skip, adv = cl;
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
			/* Whole chunks go straight to the caller, a run
			 * of them at a time. */
			if (skip == 0 && take == cl) {
				uint32_t m = 1;

				while (m < LOAD_BATCH && k + m < n &&
				       sb->lens[k + m] <= s->lay.chunk_max &&
				       sb->lens[k + m] <= len - take) {
					take += sb->lens[k + m];
					m++;
				}
				rc = chunks_load(s, id,
						 sb->ids + (size_t)k *
								 B3CAS_OID_LEN,
						 sb->lens + k, m, dst, &dc,
						 flags);
				adv = take;
				k += m - 1;
			} else {
				rc = chunk_load(s, id, &c, cl, sb->chunk);
				if (rc == 0)
					memcpy(dst, sb->chunk + skip, take);
			}
			dst += take;
			off += take;
			len -= take;
			pos += adv;
		}
	}
	if (rc == 0 && len > 0)
		rc = manifest_damaged(id, "its nodes end too soon");
	b3cas__delta_memo_end();
	node_memo_end();
	cursor_done(&cur);
	data_cursor_done(&dc);
	free(sb->chunk);
	free(sb);
	return rc;
}

/* ---- what the manifests hold, for stats ------------------------------ */

int b3cas__chunked_foreach_chunk(b3cas_store *s, const b3cas__snap *snap,
				 const b3cas_oid *id, const b3cas__top *t,
				 b3cas__chunk_fn fn, void *ctx,
				 uint64_t *page_bytes)
{
	seg_buf *sb = malloc(sizeof(*sb));
	top_cursor cur;
	int rc = 0;

	if (!sb)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	cursor_init(&cur, s, snap->ro, id, t);
	cur.page_bytes = page_bytes;
	for (uint32_t i = 0; rc == 0 && i < t->nseg; i++) {
		uint32_t n = 0;

		rc = seg_read(&cur, i, sb->ids, sb->lens, &n);
		if (rc < 0)
			break;
		for (uint32_t k = 0; rc == 0 && k < n; k++) {
			b3cas_oid c;

			memcpy(c.bytes, sb->ids + (size_t)k * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
			rc = fn(&c, sb->lens[k], ctx);
		}
	}
	cursor_done(&cur);
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
	uint64_t *node_bytes;
	b3cas_store *s;
	const b3cas__snap *snap;
} meta_call;

/* A node: each chunk occurrence to the caller's b3cas__chunk_fn. */
static int visit_segment(const uint8_t *k, size_t klen, const uint8_t *v,
			 size_t vlen, void *arg)
{
	const meta_call *call = arg;
	const uint8_t *p, *end;
	node_val nv = {0};
	b3cas_oid c;
	uint32_t cl;
	size_t n;
	int rc;

	(void)k;
	if (klen != NODE_KEY_LEN)
		return 0;
	if (call->node_bytes)
		*call->node_bytes += vlen;
	rc = node_val_decode(call->s, call->snap->ro, v, vlen, &nv);
	if (rc == B3CAS_ECORRUPT) {
		/* its chunks cannot be told: a release leaves them too (the
		 * objects that read it fail, and say so) */
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	/* parsed as far as it goes, as a release does */
	for (p = nv.p, end = nv.p + nv.len;
	     rc == 0 && (n = seg_entry(p, end, c.bytes, &cl)) != 0; p += n)
		rc = call->chunk(&c, cl, call->ctx);
	node_val_done(&nv);
	return rc;
}

int b3cas__chunked_foreach_held(b3cas_store *s, const b3cas__snap *snap,
				b3cas__chunk_fn fn, void *ctx,
				uint64_t *node_bytes)
{
	meta_call call = {fn, NULL, ctx, node_bytes, s, snap};

	return meta_walk(s, snap, 'n', visit_segment, &call);
}

/* ---- releasing references ------------------------------------------- */

typedef struct ref_item {
	b3cas_oid id;
	const uint8_t *data; /* puts: the chunk's bytes */
	uint32_t len;
	uint32_t pos;        /* puts: its place in the segment */
	uint64_t off;        /* puts: its offset in the object */
	bool stored;         /* puts with a base: stored before the node */
} ref_item;

static int ref_cmp(const void *a, const void *b)
{
	return memcmp(((const ref_item *)a)->id.bytes,
		      ((const ref_item *)b)->id.bytes, B3CAS_OID_LEN);
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
	if (!b3cas__store_holds(s))
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
	meta_call call = {NULL, fn, ctx, NULL, s, snap};

	return meta_walk(s, snap, 'h', visit_held, &call);
}

void b3cas__chunked_batch_forget_held(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id)
{
	if (b3cas__store_holds(s))
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

/* ---- node counts ----------------------------------------------------- */

/* node's key of kind ('n' its list, 'k' its count), read now: as
 * meta_get. */
static int node_get(b3cas_store *s, char kind, const uint8_t *node,
		    rocksdb_pinnableslice_t **v)
{
	uint8_t k[NODE_KEY_LEN];

	node_key(k, kind, node);
	return meta_get(s, NULL, k, sizeof(k), v);
}

/* The count a node count value of len bytes at p records: false when it
 * is malformed. Same encoding as a held count: empty for 1. */
static bool count_value(const char *p, size_t len, uint64_t *count)
{
	return held_value(p, len, count);
}

/*
 * Under node's stripe lock: *count = node's count now (0: the node is not
 * stored). 0, or an error; a malformed count reads as 1 (the node is
 * there; a release then deletes it only if nothing else names it, which
 * fsck would say).
 */
static int node_count(b3cas_store *s, const uint8_t *node, uint64_t *count)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc;

	*count = 0;
	rc = node_get(s, 'k', node, &v);
	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	if (!count_value(p, len, count) || *count == 0)
		*count = 1;
	rocksdb_pinnableslice_destroy(v);
	return 0;
}

static void batch_set_count(b3cas_store *s, rocksdb_writebatch_t *b,
			    const uint8_t *node, uint64_t count)
{
	uint8_t k[NODE_KEY_LEN], v[8];

	node_key(k, 'k', node);
	b3cas__put_u64(v, count);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)k, sizeof(k), (const char *)v,
				  count == 1 ? 0 : sizeof(v));
}

/* Lock (or unlock) the stripes of sorted items and of node, each once,
 * in increasing order: the order every taker of several uses. */
static void lock_node_items(b3cas_store *s, const ref_item *it, size_t n,
			    const uint8_t *node, bool lock)
{
	pthread_mutex_t *prev = NULL;
	bool node_done = false;
	size_t i = 0;

	while (i < n || !node_done) {
		const b3cas_oid *id;

		if (!node_done &&
		    (i == n || memcmp(node, it[i].id.bytes, B3CAS_OID_LEN) <= 0)) {
			id = (const b3cas_oid *)(const void *)node;
			node_done = true;
		} else {
			id = &it[i++].id;
		}
		b3cas__lock_step(b3cas__store_stripe(s, id), &prev, lock);
	}
}

/* In b: an 'r' key that releases one count of node (a delta node's
 * base, when the node goes) at the next release of removals. A key of
 * its own each time: two releases must release twice. No random bytes:
 * the count leaks, which is safe. */
static void batch_release_later(b3cas_store *s, rocksdb_writebatch_t *b,
				const uint8_t *node)
{
	uint8_t k[REF_KEY_LEN], gen[GEN_LEN];

	if (getrandom(gen, sizeof(gen), 0) != (ssize_t)sizeof(gen))
		return;
	ref_key(k, 'r', gen, UINT32_MAX);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META], (const char *)k,
				  sizeof(k), (const char *)node,
				  B3CAS_OID_LEN);
}

/*
 * Under the node's and its chunks' locks: the node's count goes down by
 * one in b; at 0 the node goes, and its chunks lose its references (their
 * ids in items, n of them, sorted; gone[] says which lost their last),
 * and its base, when it is kept as a delta, one count (later: an 'r'
 * key). Its value is read here, under its lock, as a rewrite as a delta
 * takes that lock.
 */
static int node_drop_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			    const uint8_t *node, uint64_t count,
			    ref_item *items, size_t n, bool *gone,
			    uint64_t *clamps)
{
	rocksdb_pinnableslice_t *v = NULL;
	uint8_t k[NODE_KEY_LEN];
	int rc = 0;

	if (count > 1) {
		batch_set_count(s, b, node, count - 1);
		return 0;
	}
	for (size_t i = 0; rc == 0 && i < n;) {
		size_t j = i + 1;

		while (j < n && b3cas_oid_equal(&items[j].id, &items[i].id))
			j++;
		rc = unref_locked(s, b, &items[i].id, j - i, &gone[i], clamps);
		for (size_t m = i + 1; m < j; m++)
			gone[m] = false;
		i = j;
	}
	node_key(k, 'n', node);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)k, sizeof(k));
	node_key(k, 'k', node);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)k, sizeof(k));
	if (rc >= 0) {
		int got = node_get(s, 'n', node, &v);

		if (got == 1) {
			size_t len;
			const uint8_t *p = (const uint8_t *)
				rocksdb_pinnableslice_value(v, &len);

			if (node_is_delta(p, len))
				batch_release_later(s, b,
						    p + B3CAS_OID_LEN + 1);
			rocksdb_pinnableslice_destroy(v);
		}
		rc = got < 0 ? got : rc;
	}
	return rc;
}

/* The chunks of node (its value read now) into items, sorted: *n of them,
 * and *found whether the node is there. */
static int node_items(b3cas_store *s, const uint8_t *node, ref_item *items,
		      size_t *n, bool *found)
{
	rocksdb_pinnableslice_t *v;
	const uint8_t *p, *end;
	node_val nv = {0};
	size_t len;
	int rc;

	*n = 0;
	rc = node_get(s, 'n', node, &v);
	*found = rc == 1;
	if (rc <= 0)
		return rc;
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	rc = node_val_decode(s, NULL, p, len, &nv);
	if (rc < 0) {
		rocksdb_pinnableslice_destroy(v);
		if (rc != B3CAS_ECORRUPT)
			return rc;
		/* a delta that cannot be rebuilt: its chunks leak (fsck
		 * tells) */
		b3cas_error_clear();
		return 0;
	}
	p = nv.p;
	end = p + nv.len;
	/* A node too damaged to parse is released as far as it goes. */
	while (*n < NODE_CHUNKS) {
		uint32_t cl;
		size_t e = seg_entry(p, end, items[*n].id.bytes, &cl);

		if (e == 0)
			break;
		(*n)++;
		p += e;
	}
	node_val_done(&nv);
	rocksdb_pinnableslice_destroy(v);
	qsort(items, *n, sizeof(*items), ref_cmp);
	return 0;
}

/*
 * Release the reference that pending key key (REF_KEY_LEN bytes) holds on
 * node, and delete the key, in one batch under the node's and its chunks'
 * locks; nothing when another release did it first.
 */
static int release_ref(b3cas_store *s, const uint8_t *key, const uint8_t *node,
		       ref_item *items, bool *gone)
{
	for (;;) {
		rocksdb_writebatch_t *b;
		uint64_t clamps = 0, count;
		size_t n;
		bool found, again;
		int rc = node_items(s, node, items, &n, &found);

		if (rc < 0)
			return rc;
		lock_node_items(s, items, n, node, true);
		rc = b3cas__index_has(s->ix, B3CAS_CF_META, key, REF_KEY_LEN);
		if (rc > 0)
			rc = node_count(s, node, &count);
		else if (rc == 0)
			rc = 1; /* released meanwhile */
		if (rc != 0) {
			lock_node_items(s, items, n, node, false);
			return rc < 0 ? rc : 0;
		}
		/* Its chunks were read before the locks: a node that came
		 * meanwhile (a put) is read again. One that went is not
		 * there to drop (its count is 0); a node's bytes never
		 * change while it is there. */
		again = count > 0 && !found;
		if (again) {
			uint8_t nk[NODE_KEY_LEN];

			node_key(nk, 'n', node);
			rc = b3cas__index_has(s->ix, B3CAS_CF_META, nk,
					      sizeof(nk));
			if (rc != 0) {
				lock_node_items(s, items, n, node, false);
				if (rc < 0)
					return rc;
				continue;
			}
			/* a count without its node (damage): it still
			 * moves, no chunk does */
		}
		b = rocksdb_writebatch_create();
		if (count > 0)
			rc = node_drop_locked(s, b, node, count, items, n,
					      gone, &clamps);
		else
			clamps++; /* a reference goes, no count moves */
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)key, REF_KEY_LEN);
		if (rc == 0)
			rc = b3cas__write_batch(s, b, false);
		held_clamped(s, clamps);
		for (size_t i = 0; rc == 0 && count == 1 && i < n; i++)
			if (gone[i])
				b3cas__caches_forget(s, &items[i].id, false);
		lock_node_items(s, items, n, node, false);
		rocksdb_writebatch_destroy(b);
		return rc;
	}
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

/*
 * Release every pending key that starts with prefix (plen bytes: a kind,
 * or a kind and a gen): *released (may be NULL) counts the manifests
 * (gens) met.
 */
static int release_prefix(b3cas_store *s, const uint8_t *prefix, size_t plen,
			  uint64_t *released)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	ref_item *items = NULL; /* when there is a key: most walks meet none */
	bool *gone = NULL;
	uint8_t last[GEN_LEN];
	bool any = false;
	int rc = 0;

	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	for (rocksdb_iter_seek(it, (const char *)prefix, plen);
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		uint8_t key[REF_KEY_LEN], node[B3CAS_OID_LEN];

		if (klen < plen || memcmp(k, prefix, plen) != 0)
			break;
		/* (an early development build's 17-byte keys: left) */
		if (klen != REF_KEY_LEN || vlen != B3CAS_OID_LEN)
			continue;
		if (!items) {
			items = malloc(NODE_CHUNKS * sizeof(*items));
			gone = malloc(NODE_CHUNKS * sizeof(*gone));
			if (!items || !gone) {
				rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
				break;
			}
		}
		if (released && (!any || memcmp(last, k + 1, GEN_LEN) != 0))
			(*released)++;
		any = true;
		memcpy(last, k + 1, GEN_LEN);
		memcpy(key, k, REF_KEY_LEN);
		memcpy(node, v, B3CAS_OID_LEN);
		rc = release_ref(s, key, node, items, gone);
	}
	rc = walk_end(it, ro, rc);
	free(items);
	free(gone);
	return rc;
}

/* Release every node reference of manifest gen pending under kind. */
static int release(b3cas_store *s, char kind, const uint8_t gen[GEN_LEN])
{
	uint8_t prefix[1 + GEN_LEN];

	prefix[0] = (uint8_t)kind;
	memcpy(prefix + 1, gen, GEN_LEN);
	return release_prefix(s, prefix, sizeof(prefix), NULL);
}

static int release_kind(b3cas_store *s, char kind, uint64_t *released)
{
	uint8_t prefix = (uint8_t)kind;

	return release_prefix(s, &prefix, 1, released);
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
	uint8_t k[REF_KEY_LEN];
	top_cursor cur;

	/* A page that cannot be read leaks its nodes' references: safe. */
	cursor_init(&cur, s, NULL, id, t);
	for (uint32_t i = 0; i < t->nseg; i++) {
		const uint8_t *rec = NULL;

		if (cursor_rec(&cur, i, &rec) < 0) {
			b3cas_error_clear();
			continue;
		}
		ref_key(k, 'r', t->gen, i);
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)k, sizeof(k),
					  (const char *)rec + 12,
					  B3CAS_OID_LEN);
	}
	cursor_done(&cur);
	for (uint32_t p = 0; p < t->npage; p++) {
		page_key(k, t->gen, p);
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)k, sizeof(k));
	}
}

/* ---- node counts, for fsck ------------------------------------------ */

typedef struct node_walk {
	b3cas__chunk_map *map;
	b3cas_store *s;
	const b3cas__snap *snap;
} node_walk;

static int note_ref(b3cas__chunk_map *map, const uint8_t *node)
{
	b3cas__chunk_slot *sl;
	int rc = b3cas__chunk_map_get(map, (const b3cas_oid *)(const void *)node,
				      &sl);

	if (rc == 0)
		sl->in_segments++;
	return rc;
}

/* A chunked entry: a reference per record of its top (a damaged top is
 * the walk of the entries' to report). */
static int node_refs_of_entry(const b3cas__walk_entry *e, void *ctx)
{
	node_walk *w = ctx;
	top_cursor cur;
	b3cas__top t;
	int rc = 0;

	if (e->kind == B3CAS_ENTRY_DELTA) {
		const uint8_t *node =
			b3cas__delta_node(e->payload, e->payload_len);

		return node ? note_ref(w->map, node) : 0;
	}
	if (e->kind != B3CAS_ENTRY_CHUNKED)
		return 0;
	if (b3cas__top_parse(&t, &e->id, e->size, e->payload,
			     e->payload_len) < 0) {
		b3cas_error_clear();
		return 0;
	}
	cursor_init(&cur, w->s, w->snap->ro, &e->id, &t);
	for (uint32_t i = 0; rc == 0 && i < t.nseg; i++) {
		const uint8_t *rec = NULL;

		rc = cursor_rec(&cur, i, &rec);
		if (rc == B3CAS_ECORRUPT) {
			b3cas_error_clear(); /* the walk of the entries' */
			rc = 0;
			break;
		}
		if (rc == 0)
			rc = note_ref(w->map, rec + 12);
	}
	cursor_done(&cur);
	return rc;
}

static int visit_pending(const uint8_t *k, size_t klen, const uint8_t *v,
			 size_t vlen, void *ctx)
{
	(void)k;
	if (klen != REF_KEY_LEN || vlen != B3CAS_OID_LEN)
		return 0;
	return note_ref(ctx, v);
}

static int visit_count(const uint8_t *k, size_t klen, const uint8_t *v,
		       size_t vlen, void *ctx)
{
	b3cas__chunk_slot *sl;
	uint64_t count;
	int rc;

	if (klen != NODE_KEY_LEN)
		return 0;
	rc = b3cas__chunk_map_get(ctx, (const b3cas_oid *)(const void *)(k + 1),
				  &sl);
	if (rc < 0)
		return rc;
	sl->flags |= B3CAS__NODE_COUNTED;
	if (count_value((const char *)v, vlen, &count) && count > 0)
		sl->recorded = count;
	else
		sl->flags |= B3CAS__NODE_MALFORMED;
	return 0;
}

static int visit_node(const uint8_t *k, size_t klen, const uint8_t *v,
		      size_t vlen, void *ctx)
{
	b3cas__chunk_slot *sl;
	int rc;

	if (klen != NODE_KEY_LEN)
		return 0;
	rc = b3cas__chunk_map_get(ctx, (const b3cas_oid *)(const void *)(k + 1),
				  &sl);
	if (rc == 0)
		sl->flags |= B3CAS__NODE_STORED;
	/* a delta node holds a count of its base */
	if (rc == 0 && node_is_delta(v, vlen))
		rc = note_ref(ctx, v + B3CAS_OID_LEN + 1);
	return rc;
}

static int visit_links(const uint8_t *k, size_t klen, const uint8_t *v,
		       size_t vlen, void *ctx);

int b3cas__chunked_map_nodes(b3cas_store *s, const b3cas__snap *snap,
			     b3cas__chunk_map *map)
{
	node_walk w = {map, s, snap};
	int rc = b3cas__store_walk_snap(s, snap, node_refs_of_entry, &w);

	if (rc == 0)
		rc = meta_walk(s, snap, 'p', visit_pending, map);
	if (rc == 0)
		rc = meta_walk(s, snap, 'r', visit_pending, map);
	if (rc == 0)
		rc = meta_walk(s, snap, 'l', visit_links, map);
	if (rc == 0)
		rc = meta_walk(s, snap, 'k', visit_count, map);
	if (rc == 0)
		rc = meta_walk(s, snap, 'n', visit_node, map);
	return rc;
}

int b3cas__chunked_node_mend(b3cas_store *s, const b3cas_oid *node,
			     uint64_t refs, uint64_t recorded,
			     uint64_t clamps, b3cas__held_finding *f)
{
	ref_item *items = malloc(NODE_CHUNKS * sizeof(*items));
	bool *gone = malloc(NODE_CHUNKS * sizeof(*gone));
	rocksdb_writebatch_t *b = NULL;
	uint64_t now, extra = 0;
	size_t n = 0;
	bool found;
	int rc;

	if (!items || !gone) {
		free(items);
		free(gone);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	rc = node_items(s, node->bytes, items, &n, &found);
	if (rc < 0)
		goto out;
	lock_node_items(s, items, n, node->bytes, true);
	/* as for held counts: a release that could not move this count
	 * since the snapshot makes the difference wrong (held.c) */
	if (atomic_load(&s->held_clamps) != clamps) {
		f->stale = true;
		goto unlock;
	}
	{
		uint8_t nk[NODE_KEY_LEN];

		node_key(nk, 'n', node->bytes);
		rc = b3cas__index_has(s->ix, B3CAS_CF_META, nk, sizeof(nk));
	}
	if (rc < 0)
		goto unlock;
	if ((rc == 1) != found) {
		rc = 0; /* the node came or went meanwhile: next check */
		f->stale = true;
		goto unlock;
	}
	rc = node_count(s, node->bytes, &now);
	if (rc < 0)
		goto unlock;
	/* what the snapshot showed, applied to the count as it is now */
	if (refs >= recorded)
		f->new_held = now + (refs - recorded);
	else
		f->new_held = now > recorded - refs ? now - (recorded - refs) : 0;
	b = rocksdb_writebatch_create();
	if (!found) {
		/* its list is gone: a count can only go */
		if (f->new_held == 0 && f->has_key) {
			uint8_t kk[NODE_KEY_LEN];

			node_key(kk, 'k', node->bytes);
			rocksdb_writebatch_delete_cf(
				b, s->ix->cf[B3CAS_CF_META], (const char *)kk,
				sizeof(kk));
			f->mended = f->moved = true;
		}
	} else if (f->new_held > 0) {
		if (f->new_held != now || f->malformed || !f->has_key) {
			batch_set_count(s, b, node->bytes, f->new_held);
			f->mended = f->moved = true;
		}
	} else {
		/* nothing names it: it goes, as a last release would */
		rc = node_drop_locked(s, b, node->bytes, 1, items, n, gone,
				      &extra);
		f->mended = f->moved = rc == 0;
	}
	if (rc == 0 && f->mended)
		rc = b3cas__write_batch(s, b, false);
	held_clamped(s, extra);
	if (rc < 0)
		f->mended = f->moved = false;
	for (size_t i = 0; rc == 0 && found && f->new_held == 0 && i < n; i++)
		if (gone[i])
			b3cas__caches_forget(s, &items[i].id, false);
unlock:
	lock_node_items(s, items, n, node->bytes, false);
out:
	if (b)
		rocksdb_writebatch_destroy(b);
	free(items);
	free(gone);
	return rc < 0 ? rc : 0;
}

/* ---- putting ------------------------------------------------------- */

/*
 * A put with a base rebases each node after it is stored (node_new):
 * the base's chunks and node it replaces become deltas against it, and
 * what it holds that is a delta is made whole. That is most of such a
 * put's work (a memory image checkpointed again: compressing the deltas,
 * reading the base's chunks), and nothing the put does next depends on
 * it, so from its second node on a thread of the put's own does it, in
 * the put's order, while the put cuts, hashes and stores the nodes after.
 * A job holds a copy of its node's chunks (the caller's buffer is gone
 * after the feed); the jobs waiting hold at most RB_QUEUE_BYTES, or one
 * node. The last feed waits for every job to be done, so a put returns
 * with its deltas made, as without the thread.
 */
#define RB_QUEUE_BYTES (4u << 20)

typedef struct rb_job {
	struct rb_job *next;
	bool known; /* the node was stored already: only promotes */
	uint8_t node[B3CAS_OUT_LEN];
	size_t bytes;       /* its list, at seg */
	uint64_t seg_start; /* where its bytes start in the object */
	uint64_t len;       /* its chunks' bytes */
	uint32_t n;
	ref_item *items;    /* its n chunks, in order */
	const uint8_t *seg;
	/* a job's own copies (NULL for one run at once, on the put's) */
	ref_item *own_items;
	uint8_t *own_seg, *own_data;
	size_t data_cap;
} rb_job;

typedef struct rb_pipe {
	pthread_t thread;
	bool started;
	bool stop;       /* the put is aborted: the jobs left are dropped */
	bool busy;       /* the worker holds a job */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	rb_job *head, *tail; /* waiting, in order */
	rb_job *spare;       /* done, kept for their buffers */
	size_t queued;       /* bytes of the waiting jobs */
	uint32_t nodes;      /* nodes handed over so far */
} rb_pipe;

struct b3cas__cput {
	b3cas_store *s;
	b3cas_cdc cdc;
	uint8_t gen[GEN_LEN];
	uint8_t *top;        /* TOP_HEAD + nseg * TOP_SEG, growing */
	size_t top_cap;
	uint32_t nseg;
	uint64_t seg_start;  /* where the open node starts */
	uint64_t fed;        /* the bytes cut so far */
	/* chunks cut and not hashed yet, in the caller's buffer */
	const void *inputs[HASH_CHUNKS];
	size_t lens[HASH_CHUNKS];
	uint8_t hashes[HASH_CHUNKS * B3CAS_OUT_LEN];
	uint32_t nin;
	/* the open node: its chunks, hashed, in order */
	ref_item items[NODE_CHUNKS];
	uint32_t n;
	uint64_t open_len; /* the open node's bytes */
	/* the open node's bytes, when it outlives the feed that cut them */
	uint8_t *carry;
	size_t carry_cap;
	uint32_t carried; /* the open node's first chunks that are in it */
	ref_item sorted[NODE_CHUNKS];
	uint8_t seg[NODE_CHUNKS * SEG_ENTRY_MAX];
	bool owned; /* staged as a new entry: its write hands them over */
	/* b3cas__cput_set_base: rebases of the base's chunks, per node */
	b3cas__delta_src *delta;
	b3cas__delta_chunk dchunks[NODE_CHUNKS];
	/* the base's nodes: where each starts, its id (bn_n of them), and
	 * the base's size; a new node is kept as a delta against the one
	 * it overlaps most, in nd, when that is worth it */
	uint64_t *bn_start;
	b3cas_oid *bn_ids;
	uint32_t bn_n;
	uint64_t bn_size;
	/* the rebases' own (rebase_job; a worker of the put's, rb_*):
	 * node deltas, base node lists and their sorted chunks */
	uint8_t nd[NODE_DELTA_HEAD + NODE_VALUE_MAX];
	uint8_t rb_seg[NODE_VALUE_MAX];
	ref_item rb_sorted[NODE_CHUNKS];
	rb_pipe rb;
};

static void rebase_free(b3cas__cput *c);

int b3cas__cput_begin(b3cas_store *s, b3cas__cput **out)
{
	b3cas__cput *c = NULL;
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
	c->delta = NULL;
	memset(&c->rb, 0, sizeof(c->rb));
	pthread_mutex_init(&c->rb.mu, NULL);
	pthread_cond_init(&c->rb.work, NULL);
	pthread_cond_init(&c->rb.done, NULL);
	c->bn_start = NULL;
	c->bn_ids = NULL;
	c->bn_n = 0;
	c->bn_size = 0;
	c->open_len = 0;
	c->owned = false;
	c->nseg = 0;
	c->n = 0;
	c->nin = 0;
	c->seg_start = 0;
	c->fed = 0;
	c->carry = NULL;
	c->carry_cap = 0;
	c->carried = 0;
	c->top_cap = TOP_HEAD + 16 * TOP_SEG;
	c->top = malloc(c->top_cap);
	if (!c->top || getrandom(c->gen, GEN_LEN, 0) != (ssize_t)GEN_LEN) {
		rebase_free(c);
		free(c->top);
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
	return 0;
}

/* In b, under node's stripe lock: one reference more to node (stored
 * with count count; 0: new), pending under 'p' gen seg. */
static int pending_ref(b3cas_store *s, rocksdb_writebatch_t *b,
		       const uint8_t gen[GEN_LEN], uint32_t seg,
		       const uint8_t *node, uint64_t count)
{
	uint8_t rk[REF_KEY_LEN];

	if (count == UINT64_MAX)
		return b3cas__error(B3CAS_ERROR, "a manifest node's count "
				    "would overflow");
	batch_set_count(s, b, node, count + 1);
	ref_key(rk, 'p', gen, seg);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)rk, sizeof(rk),
				  (const char *)node, B3CAS_OID_LEN);
	return 0;
}

/* A node stored already: one reference more, and the pending key 'p' gen
 * seg, under its stripe lock alone. 1 done, 0 not stored, or an error. */
static int node_known_at(b3cas_store *s, const uint8_t gen[GEN_LEN],
			 uint32_t seg, const uint8_t *node)
{
	pthread_mutex_t *m =
		b3cas__store_stripe(s, (const b3cas_oid *)(const void *)node);
	rocksdb_writebatch_t *b;
	uint64_t count;
	int rc;

	pthread_mutex_lock(m);
	rc = node_count(s, node, &count);
	if (rc < 0 || count == 0) {
		pthread_mutex_unlock(m);
		return rc;
	}
	b = rocksdb_writebatch_create();
	rc = pending_ref(s, b, gen, seg, node, count);
	if (rc == 0)
		rc = b3cas__write_batch(s, b, false);
	pthread_mutex_unlock(m);
	rocksdb_writebatch_destroy(b);
	return rc < 0 ? rc : 1;
}

static int node_known(b3cas__cput *c, const uint8_t *node)
{
	return node_known_at(c->s, c->gen, c->nseg, node);
}

/*
 * A new node (value: bytes at seg): its chunks (or references to them),
 * the node, its count and the pending key 'p' gen segno, in one batch
 * under the node's and the chunks' locks. sorted: its n chunks in id
 * order, each with its place (pos) in the node.
 */
static int node_store(b3cas_store *s, const uint8_t gen[GEN_LEN],
		      uint32_t segno, const uint8_t *node, const uint8_t *seg,
		      size_t bytes, const ref_item *sorted, uint32_t n)
{
	rocksdb_writebatch_t *b;
	uint8_t key[NODE_KEY_LEN];
	uint64_t fresh = 0, clamps = 0, base, count;
	bool loose = false;
	int rc;

	/* numbered in the object's order, staged in id order */
	base = b3cas__packs(s) ? b3cas__pack_reserve(s, n) : 0;
	b = rocksdb_writebatch_create();
	lock_node_items(s, sorted, n, node, true);
	/* another put may have stored it meanwhile */
	rc = node_count(s, node, &count);
	if (rc == 0 && count > 0) {
		rc = pending_ref(s, b, gen, segno, node, count);
		if (rc == 0)
			rc = b3cas__write_batch(s, b, false);
		goto out;
	}
	for (uint32_t i = 0; rc >= 0 && i < n;) {
		uint32_t j = i + 1;
		bool l;

		while (j < n && b3cas_oid_equal(&sorted[j].id, &sorted[i].id))
			j++;
		rc = b3cas__stage_locked(s, b, &sorted[i].id, sorted[i].data,
					 sorted[i].len, NULL, j - i,
					 base ? base + sorted[i].pos : 0, &l);
		if (rc == 0)
			fresh += sorted[i].len;
		if (rc >= 0)
			rc = held_add_locked(s, b, &sorted[i].id,
					     (int64_t)(j - i), &clamps);
		loose |= l;
		i = j;
	}
	node_key(key, 'n', node);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
				  (const char *)key, sizeof(key),
				  (const char *)seg, bytes);
	if (rc >= 0)
		rc = pending_ref(s, b, gen, segno, node, 0);
	/* The new chunks together, each checked alone by the stage: room
	 * for all of them in the index's log (reserve.c). */
	if (rc >= 0 && fresh)
		rc = b3cas__reserve_check_index_room(s, fresh);
	if (rc >= 0)
		rc = b3cas__write_batch(s, b, loose);
	held_clamped(s, clamps);
	for (uint32_t i = 0; rc >= 0 && i < n; i++)
		b3cas__known_add(s->known, &sorted[i].id);
out:
	lock_node_items(s, sorted, n, node, false);
	rocksdb_writebatch_destroy(b);
	return rc < 0 ? rc : 0;
}

/*
 * For a put with a base: which of the open node's chunks are stored
 * already, before the node is written; after it is, each chunk it stored
 * anew has the base's chunks it overlaps rebased onto the node's chunks
 * over the same bytes, and each it held already that is a delta (a
 * region come back) is made whole again (delta.c). A rebase that fails
 * is only a delta not made.
 */
static int node_stored_before(b3cas__cput *c)
{
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t refs;
		int rc = b3cas__lookup_count(c->s, &c->items[i].id, &refs);

		if (rc < 0)
			return rc;
		c->items[i].stored = rc == 1;
	}
	return 0;
}

static void node_rebases(b3cas__cput *c, const rb_job *j)
{
	b3cas__delta_bnode bn;
	size_t bytes = 0;
	uint32_t nb = 0;

	/* the base node: the chunks stored anew, in order */
	for (uint32_t i = 0; i < j->n; i++) {
		const ref_item *it = &j->items[i];

		c->dchunks[i].id = it->id;
		c->dchunks[i].data = it->data;
		c->dchunks[i].len = it->len;
		c->dchunks[i].off = it->off;
		c->dchunks[i].bpos = B3CAS__DELTA_NOT_NEW;
		if (it->stored)
			continue;
		c->dchunks[i].bpos = nb;
		memcpy(c->rb_seg + bytes, it->id.bytes, B3CAS_OID_LEN);
		bytes += B3CAS_OID_LEN;
		bytes += put_varint(c->rb_seg + bytes, it->len);
		c->rb_sorted[nb] = *it;
		c->rb_sorted[nb].pos = nb;
		nb++;
	}
	qsort(c->rb_sorted, nb, sizeof(c->rb_sorted[0]), ref_cmp);
	b3cas_hash(bn.id, c->rb_seg, bytes);
	bn.value = c->rb_seg;
	bn.vlen = bytes;
	bn.sorted = c->rb_sorted;
	bn.n = nb;
	for (uint32_t i = 0; i < j->n; i++) {
		const ref_item *it = &j->items[i];
		int rc = it->stored ? b3cas__delta_promote(c->s, &it->id,
							   it->data, it->len)
				    : b3cas__delta_rebase(c->delta, c->s, &bn,
							  c->dchunks, j->n, i);

		if (rc < 0)
			b3cas_error_clear();
	}
}

/* A node stored already, in a put with a base: its chunks that are deltas
 * (a region come back to an earlier version) made whole again. */
static void node_promotes(b3cas__cput *c, const rb_job *j)
{
	for (uint32_t i = 0; i < j->n; i++)
		if (b3cas__delta_promote(c->s, &j->items[i].id,
					 j->items[i].data, j->items[i].len) < 0)
			b3cas_error_clear();
}

/* The base's nodes that overlap job j's node: *first, and the count. */
static uint32_t base_nodes_over(const b3cas__cput *c, const rb_job *j,
				uint32_t *first)
{
	uint64_t a = j->seg_start, z = a + j->len;
	uint32_t lo = 0, hi = c->bn_n, i;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (c->bn_start[mid] <= a)
			lo = mid;
		else
			hi = mid;
	}
	for (i = lo; i < c->bn_n && c->bn_start[i] < z; i++)
		;
	*first = lo;
	return i - lo;
}

/*
 * After job j's node (its list at j->seg) is stored anew by a put with a
 * base: pick, a base's node over some of the same bytes, is rewritten as
 * a delta against it (one count of node more), in one batch under both
 * nodes' locks, when it is kept as a list, is no node of this put so
 * far, and takes at most half as much as a delta. The newest version's
 * nodes stay lists, as its chunks stay whole. Any failure leaves it a
 * list: only bytes are lost.
 */
static void node_rebase(b3cas__cput *c, const rb_job *j, const uint8_t *pick)
{
	const uint8_t *node = j->node;
	uint8_t old[B3CAS_OID_LEN];
	uint64_t ocount = 0, ncount = 0;
	rocksdb_pinnableslice_t *ov;
	ref_item it;
	size_t len = 0;
	int rc;

	memcpy(old, pick, sizeof(old));
	if (memcmp(old, node, sizeof(old)) == 0 ||
	    b3cas__delta_put_holds(c->delta,
				   (const b3cas_oid *)(const void *)old))
		return;
	/* its value as stored: a delta already is left (no decode) */
	rc = node_get(c->s, 'n', old, &ov);
	if (rc == 1) {
		size_t vlen;
		const uint8_t *p = (const uint8_t *)
			rocksdb_pinnableslice_value(ov, &vlen);

		if (!node_is_delta(p, vlen))
			len = node_delta_make(p, vlen, j->seg, j->bytes, node,
					      c->nd);
		rocksdb_pinnableslice_destroy(ov);
	}
	if (len == 0) {
		if (rc < 0)
			b3cas_error_clear();
		return;
	}
	memcpy(it.id.bytes, node, B3CAS_OID_LEN);
	lock_node_items(c->s, &it, 1, old, true);
	rc = node_count(c->s, old, &ocount);
	if (rc == 0 && ocount > 0)
		rc = node_count(c->s, node, &ncount);
	if (rc == 0 && ocount > 0 && ncount > 0 && ncount < UINT64_MAX) {
		rocksdb_pinnableslice_t *v;
		bool list = false;

		/* still a list (no other put rewrote it meanwhile) */
		rc = node_get(c->s, 'n', old, &v);
		if (rc == 1) {
			size_t vlen;
			const uint8_t *p = (const uint8_t *)
				rocksdb_pinnableslice_value(v, &vlen);

			list = !node_is_delta(p, vlen);
			rocksdb_pinnableslice_destroy(v);
		}
		if (list) {
			rocksdb_writebatch_t *b = rocksdb_writebatch_create();
			uint8_t key[NODE_KEY_LEN];

			node_key(key, 'n', old);
			rocksdb_writebatch_put_cf(
				b, c->s->ix->cf[B3CAS_CF_META],
				(const char *)key, sizeof(key),
				(const char *)c->nd, len);
			batch_set_count(c->s, b, node, ncount + 1);
			rc = b3cas__write_batch(c->s, b, false);
			rocksdb_writebatch_destroy(b);
		}
	}
	lock_node_items(c->s, &it, 1, old, false);
	if (rc < 0)
		b3cas_error_clear();
}

/*
 * Job j, a node of a put with a base that is stored: its chunks and the
 * node noted as the put's (a base's chunk or node the put holds is not
 * rewritten as a delta), then the base's nodes and chunks it replaces
 * rewritten as deltas against it, or, a node stored already, its deltas
 * made whole. Nothing fails: a rebase not made costs only bytes.
 */
static void rebase_job(b3cas__cput *c, const rb_job *j)
{
	for (uint32_t k = 0; k < j->n; k++)
		b3cas__delta_note_put(c->delta, &j->items[k].id);
	b3cas__delta_note_put(c->delta,
			      (const b3cas_oid *)(const void *)j->node);
	if (j->known) {
		node_promotes(c, j);
		return;
	}
	if (c->bn_n && c->gen[0] >= NODE_CHAIN_BREAK) {
		uint32_t first, n = base_nodes_over(c, j, &first);

		for (uint32_t i = 0; i < n; i++)
			node_rebase(c, j, c->bn_ids[first + i].bytes);
	}
	node_rebases(c, j);
}

static void *rebase_worker(void *arg)
{
	b3cas__cput *c = arg;
	rb_pipe *p = &c->rb;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		rb_job *j;
		bool drop;

		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->head)
			break;
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued -= j->len;
		p->busy = true;
		drop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (!drop)
			rebase_job(c, j);
		pthread_mutex_lock(&p->mu);
		p->busy = false;
		j->next = p->spare;
		p->spare = j;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Wait until every job handed over is done (abort: dropped), and end
 * the worker. */
static void rebase_finish(b3cas__cput *c, bool abort)
{
	rb_pipe *p = &c->rb;

	if (!p->started)
		return;
	pthread_mutex_lock(&p->mu);
	if (abort)
		p->stop = true;
	while (!p->stop && (p->head || p->busy))
		pthread_cond_wait(&p->done, &p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	p->started = false;
	p->stop = false;
}

static void rebase_free(b3cas__cput *c)
{
	rb_pipe *p = &c->rb;

	rebase_finish(c, true);
	while (p->spare) {
		rb_job *j = p->spare;

		p->spare = j->next;
		free(j->own_items);
		free(j->own_seg);
		free(j->own_data);
		free(j);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
}

/* A job for the open node with copies of its chunks and list, a spare
 * one's buffers reused: NULL when out of memory. */
static rb_job *rebase_copy(b3cas__cput *c, uint64_t len)
{
	rb_pipe *p = &c->rb;
	size_t at = 0;
	rb_job *j;

	pthread_mutex_lock(&p->mu);
	j = p->spare;
	if (j)
		p->spare = j->next;
	pthread_mutex_unlock(&p->mu);
	if (!j) {
		j = calloc(1, sizeof(*j));
		if (j) {
			j->own_items = malloc(NODE_CHUNKS * sizeof(ref_item));
			j->own_seg = malloc(NODE_VALUE_MAX);
		}
		if (!j || !j->own_items || !j->own_seg)
			goto fail;
	}
	if (len > j->data_cap) {
		size_t cap = j->data_cap ? j->data_cap : 1u << 20;
		uint8_t *d;

		while (cap < len)
			cap *= 2;
		d = realloc(j->own_data, cap);
		if (!d)
			goto fail;
		j->own_data = d;
		j->data_cap = cap;
	}
	for (uint32_t k = 0; k < c->n; k++) {
		j->own_items[k] = c->items[k];
		memcpy(j->own_data + at, c->items[k].data, c->items[k].len);
		j->own_items[k].data = j->own_data + at;
		at += c->items[k].len;
	}
	return j;
fail:
	if (j) {
		free(j->own_items);
		free(j->own_seg);
		free(j->own_data);
		free(j);
	}
	return NULL;
}

/*
 * The open node, stored (known: stored before), rebased: by the put's
 * worker from its second node on, else here. A worker that cannot start
 * or a job that cannot be had rebases here, after the jobs before.
 */
static void rebase_node(b3cas__cput *c, const uint8_t *node, size_t bytes,
			bool known)
{
	rb_pipe *p = &c->rb;
	uint64_t len = 0;
	rb_job here, *j = NULL;

	for (uint32_t k = 0; k < c->n; k++)
		len += c->items[k].len;
	if (p->nodes++ > 0 && !p->started) {
		p->stop = false;
		p->busy = false;
		p->started = pthread_create(&p->thread, NULL, rebase_worker,
					    c) == 0;
	}
	if (p->started)
		j = rebase_copy(c, len);
	if (!j) {
		rebase_finish(c, false);
		j = &here;
		j->items = c->items;
		j->seg = c->seg;
	} else {
		memcpy(j->own_seg, c->seg, bytes);
		j->items = j->own_items;
		j->seg = j->own_seg;
	}
	memcpy(j->node, node, B3CAS_OUT_LEN);
	j->known = known;
	j->bytes = bytes;
	j->seg_start = c->seg_start;
	j->len = len;
	j->n = c->n;
	j->next = NULL;
	if (j == &here) {
		rebase_job(c, j);
		return;
	}
	pthread_mutex_lock(&p->mu);
	while (p->head && p->queued + len > RB_QUEUE_BYTES)
		pthread_cond_wait(&p->done, &p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued += len;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* The put's open node, new: stored. */
static int node_new(b3cas__cput *c, const uint8_t *node, size_t bytes)
{
	int rc = 0;

	if (c->delta)
		rc = node_stored_before(c);
	memcpy(c->sorted, c->items, c->n * sizeof(c->items[0]));
	qsort(c->sorted, c->n, sizeof(c->sorted[0]), ref_cmp);
	if (rc == 0)
		rc = node_store(c->s, c->gen, c->nseg, node, c->seg, bytes,
				c->sorted, c->n);
	return rc;
}

void b3cas__chunked_ref_key(uint8_t *k, char kind, const uint8_t gen[16],
			    uint32_t seg)
{
	ref_key(k, kind, gen, seg);
}

int b3cas__chunked_release_gen(b3cas_store *s, const uint8_t gen[16])
{
	return release(s, 'p', gen);
}

int b3cas__chunked_node_take(b3cas_store *s, const uint8_t gen[16],
			     uint32_t seg, const b3cas__delta_bnode *bn)
{
	int rc = node_known_at(s, gen, seg, bn->id);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	return node_store(s, gen, seg, bn->id, bn->value, bn->vlen,
			  (const ref_item *)bn->sorted, bn->n);
}

/* Serve node's range (as b3cas__chunked_node_list) from the memo. */
static bool node_memo_get(const uint8_t *node, uint32_t first,
			  uint32_t want, uint8_t *ids, uint32_t *lens,
			  uint32_t max, uint32_t *n)
{
	for (unsigned i = 0; i < NODE_MEMO; i++) {
		const node_memo_ent *m = &node_memo[i];

		if (!m->ids || memcmp(m->node, node, B3CAS_OID_LEN) != 0)
			continue;
		if (want ? first > m->n || want > m->n - first
			 : m->n > max)
			return false; /* read it: the error is said there */
		if (!want)
			want = m->n;
		memcpy(ids, m->ids + (size_t)first * B3CAS_OID_LEN,
		       (size_t)want * B3CAS_OID_LEN);
		memcpy(lens, m->lens + first, (size_t)want * sizeof(*lens));
		*n = want;
		return true;
	}
	return false;
}

/* Keep node's parsed list (p .. end, checked) in the memo. */
static void node_memo_put(const uint8_t *node, const uint8_t *p,
			  const uint8_t *end)
{
	node_memo_ent *m = &node_memo[node_memo_next];
	uint32_t cap = 0;

	for (const uint8_t *q = p; q < end; q += B3CAS_OID_LEN + 1)
		cap++; /* at least one byte of length per entry */
	free(m->ids);
	free(m->lens);
	m->ids = malloc((size_t)cap * B3CAS_OID_LEN);
	m->lens = malloc((size_t)cap * sizeof(*m->lens));
	m->n = 0;
	if (!m->ids || !m->lens) {
		free(m->ids);
		free(m->lens);
		m->ids = NULL;
		m->lens = NULL;
		return;
	}
	while (p < end && m->n < cap) {
		size_t k = seg_entry(p, end, m->ids + (size_t)m->n *
							     B3CAS_OID_LEN,
				     &m->lens[m->n]);

		if (k == 0)
			break;
		p += k;
		m->n++;
	}
	memcpy(m->node, node, B3CAS_OID_LEN);
	node_memo_next = (node_memo_next + 1) % NODE_MEMO;
}

int b3cas__chunked_node_list(b3cas_store *s, const rocksdb_readoptions_t *ro,
			     const uint8_t *node, uint32_t first,
			     uint32_t want, uint8_t *ids, uint32_t *lens,
			     uint32_t max, uint32_t *n)
{
	node_val v = {0};
	uint8_t digest[B3CAS_OUT_LEN];
	uint8_t id[B3CAS_OID_LEN];
	const uint8_t *p, *end;
	uint32_t at = 0, len1;
	size_t len;
	int rc;

	*n = 0;
	if (want > max)
		return b3cas__error(B3CAS_EINVAL, "a node range of %u chunks",
				    want);
	if (node_memo_reads && node_memo_get(node, first, want, ids, lens,
					     max, n))
		return 0;
	rc = node_val_get(s, ro, node, &v);
	if (rc <= 0)
		return rc < 0 ? rc
			      : b3cas__error(B3CAS_ECORRUPT, "a node is missing");
	p = v.p;
	len = v.len;
	end = p + len;
	b3cas_hash(digest, p, len);
	rc = memcmp(digest, node, B3CAS_OUT_LEN) == 0 ? 0 : B3CAS_ECORRUPT;
	/* every chunk is parsed (a damaged node is damaged anywhere); the
	 * range's are kept */
	for (; rc == 0 && p < end; at++) {
		size_t k = seg_entry(p, end, id, &len1);
		bool keep = want ? at >= first && at - first < want
				 : at < max;

		if (k == 0 || len1 == 0 || (!want && !keep)) {
			rc = B3CAS_ECORRUPT;
			break;
		}
		if (keep) {
			memcpy(ids + (size_t)*n * B3CAS_OID_LEN, id,
			       B3CAS_OID_LEN);
			lens[(*n)++] = len1;
		}
		p += k;
	}
	if (rc == 0 && node_memo_reads && (!want || *n == want))
		node_memo_put(node, v.p, end);
	node_val_done(&v);
	if (rc == 0 && want && *n != want)
		rc = B3CAS_ECORRUPT; /* the node is shorter than the range */
	if (rc < 0)
		return b3cas__error(rc, "a node is damaged");
	return 0;
}

/* The nodes of base (a chunked object), for node deltas: 0 (none when
 * it is damaged or went meanwhile), or an error. */
static int base_nodes(b3cas__cput *c, const b3cas_oid *base)
{
	b3cas__entry e;
	b3cas__top t;
	top_cursor cur;
	int rc = b3cas__entry_head(c->s, base, &e);

	if (rc < 0)
		return rc;
	rc = e.kind == B3CAS_ENTRY_CHUNKED
		     ? b3cas__top_parse(&t, base, e.size, e.payload,
					e.payload_len)
		     : B3CAS_ENOTFOUND;
	if (rc == 0) {
		c->bn_start = malloc((size_t)t.nseg * sizeof(*c->bn_start));
		c->bn_ids = malloc((size_t)t.nseg * sizeof(*c->bn_ids));
		if (!c->bn_start || !c->bn_ids)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	if (rc == 0) {
		cursor_init(&cur, c->s, NULL, base, &t);
		for (uint32_t i = 0; rc == 0 && i < t.nseg; i++) {
			const uint8_t *rec;

			rc = cursor_rec(&cur, i, &rec);
			if (rc == 0) {
				c->bn_start[i] = b3cas__get_u64(rec);
				memcpy(c->bn_ids[i].bytes, rec + 12,
				       B3CAS_OID_LEN);
			}
		}
		cursor_done(&cur);
		c->bn_n = rc == 0 ? t.nseg : 0;
		c->bn_size = e.size;
	}
	b3cas__entry_done(&e);
	if (rc == B3CAS_ECORRUPT || rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		rc = 0;
	}
	return rc;
}

int b3cas__cput_set_base(b3cas__cput *c, const b3cas_oid *base)
{
	int rc;

	if (c->delta || c->nseg || c->n || c->nin)
		return b3cas__error(B3CAS_EINVAL, "a base set after the first "
				    "bytes of a chunked put");
	rc = b3cas__delta_src_open(c->s, base, &c->delta);
	if (rc == 0 && c->delta)
		rc = base_nodes(c, base);
	return rc;
}

/* Write the open node: a reference to it when it is stored, else the
 * node and its chunks. */
static int flush_node(b3cas__cput *c)
{
	uint8_t node[B3CAS_OUT_LEN], *rec;
	uint64_t seglen = 0;
	size_t bytes = 0;
	int rc;

	if (c->n == 0)
		return 0;
	rc = grow(c);
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < c->n; k++) {
		memcpy(c->seg + bytes, c->items[k].id.bytes, B3CAS_OID_LEN);
		bytes += B3CAS_OID_LEN;
		bytes += put_varint(c->seg + bytes, c->items[k].len);
		seglen += c->items[k].len;
	}
	b3cas_hash(node, c->seg, bytes);
	rec = c->top + TOP_HEAD + (size_t)c->nseg * TOP_SEG;
	b3cas__put_u64(rec, c->seg_start);
	put_u32(rec + 8, c->n);
	memcpy(rec + 12, node, B3CAS_OID_LEN);
	rc = node_known(c, node);
	if (rc == 0)
		rc = node_new(c, node, bytes);
	if (rc < 0)
		return rc;
	if (c->delta)
		rebase_node(c, node, bytes, rc == 1);
	c->nseg++;
	c->seg_start += seglen;
	c->n = 0;
	c->open_len = 0;
	c->carried = 0;
	return 0;
}

/* Hash the chunks cut so far and add them to the open node, writing each
 * node that ends. */
static int hash_cut(b3cas__cput *c)
{
	int rc = 0;

	if (c->nin == 0)
		return 0;
	b3cas_hash_batch(c->hashes, c->inputs, c->lens, c->nin);
	for (uint32_t k = 0; rc == 0 && k < c->nin; k++) {
		ref_item *it = &c->items[c->n];

		memcpy(it->id.bytes, c->hashes + (size_t)k * B3CAS_OUT_LEN,
		       B3CAS_OID_LEN);
		it->data = c->inputs[k];
		it->len = (uint32_t)c->lens[k];
		it->off = c->seg_start + c->open_len;
		c->open_len += it->len;
		it->stored = false;
		it->pos = c->n++;
		if (node_ends(it->id.bytes) || c->n == NODE_CHUNKS)
			rc = flush_node(c);
	}
	c->nin = 0;
	return rc;
}

/* The open node's chunks that point into the caller's buffer, which is
 * gone after the feed, copied after those already carried: the carry
 * holds the node's first chunks, in order, from its start. It is kept
 * from node to node (a fresh one per feed cost a page fault per 4 KiB). */
static int carry_open(b3cas__cput *c)
{
	size_t total = 0, at = 0;
	uint32_t kept = c->carried;

	for (uint32_t k = 0; k < c->n; k++) {
		total += c->items[k].len;
		if (k < kept)
			at += c->items[k].len;
	}
	if (total > c->carry_cap) {
		size_t cap = c->carry_cap ? c->carry_cap : 256u << 10;
		uint8_t *buf;

		while (cap < total)
			cap *= 2;
		buf = realloc(c->carry, cap);
		if (!buf)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		/* the carried chunks moved with it */
		at = 0;
		for (uint32_t k = 0; k < kept; k++) {
			c->items[k].data = buf + at;
			at += c->items[k].len;
		}
		c->carry = buf;
		c->carry_cap = cap;
	}
	for (uint32_t k = kept; k < c->n; k++) {
		memcpy(c->carry + at, c->items[k].data, c->items[k].len);
		c->items[k].data = c->carry + at;
		at += c->items[k].len;
	}
	c->carried = c->n;
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

		c->inputs[c->nin] = p + off;
		c->lens[c->nin++] = cl;
		off += cl;
		c->fed += cl;
		if (c->nin == HASH_CHUNKS)
			rc = hash_cut(c);
	}
	if (rc == 0)
		rc = hash_cut(c);
	/* The chunks point into data: the last node is written, or kept. */
	if (rc == 0)
		rc = final ? flush_node(c) : carry_open(c);
	/* the put's deltas made before it returns */
	if (final)
		rebase_finish(c, false);
	*consumed = off;
	return rc;
}

uint64_t b3cas__cput_size(const b3cas__cput *c)
{
	return c->fed;
}

void b3cas__cput_abort(b3cas__cput *c)
{
	if (!c)
		return;
	rebase_free(c); /* its jobs use the put's nodes and base */
	if (c->nseg > 0) {
		/* what fails here is released at the next open */
		char msg[B3CAS__MESSAGE_MAX];

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		(void)release(c->s, 'p', c->gen);
		(void)b3cas__error(B3CAS_ERROR, "%s", msg);
	}
	b3cas__delta_src_close(c->s, c->delta);
	free(c->bn_start);
	free(c->bn_ids);
	free(c->carry);
	free(c->top);
	free(c);
}

/*
 * Under id's stripe lock: add to b what count more references to id take
 * if it is stored: 1 when it is live (its count grows); 0 when it is a
 * chunked candidate, revived (its entry loses the mark; its nodes still
 * hold their chunks); 2 (b untouched) when it is not stored, or is a
 * candidate of another kind, which the caller stores anew; or an error.
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
static int existing_locked(b3cas_store *s, const b3cas_oid *id,
			   const b3cas__tag *tag)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	int rc = existing_stage(s, b, id, 1);

	if (rc == 0 || rc == 1) {
		int wrc;

		b3cas__batch_tag(s, b, tag, id);
		wrc = b3cas__write_batch(s, b, false);

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
	uint8_t pk[REF_KEY_LEN];
	int rc;

	if (c->nseg == 0)
		return b3cas__error(B3CAS_EINVAL, "an empty chunked put");
	if (c->n != 0 || c->nin != 0)
		return b3cas__error(B3CAS_EINVAL, "a chunked put committed "
				    "before its last bytes were fed");
	c->top[0] = TOP_VERSION;
	memcpy(c->top + 1, c->gen, GEN_LEN);
	put_u32(c->top + 1 + GEN_LEN, c->nseg);
	for (uint32_t i = 0; i < c->nseg; i++) {
		uint8_t *rec = c->top + TOP_HEAD + (size_t)i * TOP_SEG;

		seg_check(rec + 12 + B3CAS_OID_LEN, id, c->gen, i,
			  b3cas__get_u64(rec), get_u32(rec + 8), rec + 12);
	}
	rc = existing_stage(s, b, id, count);
	if (rc != 2)
		return rc;
	if (c->nseg > PAGE_RECS) {
		/* the records in pages, their starts in the entry */
		uint32_t npage = (c->nseg + PAGE_RECS - 1) / PAGE_RECS;
		size_t len = PAGED_HEAD + (size_t)npage * 8;
		uint8_t *top = malloc(len);
		b3cas__top t = {.nseg = c->nseg};

		if (!top)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		memcpy(top, c->top, TOP_HEAD);
		top[0] = TOP_PAGED;
		put_u32(top + TOP_HEAD, npage);
		for (uint32_t p = 0; p < npage; p++) {
			const uint8_t *recs = c->top + TOP_HEAD +
					      (size_t)p * PAGE_RECS * TOP_SEG;

			memcpy(top + PAGED_HEAD + (size_t)p * 8, recs, 8);
			page_key(pk, c->gen, p);
			rocksdb_writebatch_put_cf(
				b, s->ix->cf[B3CAS_CF_META], (const char *)pk,
				sizeof(pk), (const char *)recs,
				(size_t)page_recs(&t, p) * TOP_SEG);
		}
		b3cas__batch_put_kind(b, s, id, B3CAS_ENTRY_CHUNKED,
				      c->seg_start, top, len, false);
		free(top);
	} else {
		b3cas__batch_put_kind(b, s, id, B3CAS_ENTRY_CHUNKED,
				      c->seg_start, c->top,
				      TOP_HEAD + (size_t)c->nseg * TOP_SEG,
				      false);
	}
	/* count 1 keeps no refs entry; a candidate of another kind had
	 * one (its mark) */
	b3cas__batch_set_refs(b, s, id, true, count);
	for (uint32_t i = 0; i < c->nseg; i++) {
		ref_key(pk, 'p', c->gen, i);
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)pk, sizeof(pk));
	}
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

int b3cas__cput_commit(b3cas__cput *c, const b3cas_oid *id,
		       const b3cas__tag *tag)
{
	pthread_mutex_t *lock = b3cas__store_stripe(c->s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	int rc;

	pthread_mutex_lock(lock);
	rc = b3cas__cput_stage_locked(c, b, id, 1);
	if (rc >= 0) {
		int wrc;

		b3cas__batch_tag(c->s, b, tag, id);
		wrc = b3cas__write_batch(c->s, b, false);

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
	b3cas__cput *c = NULL;
	size_t used;
	int rc = b3cas__cput_begin(s, &c);

	if (rc < 0)
		return rc;
	/* all of it at once: no chunk needs copying */
	rc = b3cas__cput_feed(c, data, len, true, &used);
	if (rc < 0) {
		b3cas__cput_abort(c);
		return rc;
	}
	*out = c;
	return 0;
}

int b3cas__chunked_publish(b3cas_store *s, const b3cas_oid *id,
			   const void *data, size_t len, const b3cas__tag *tag)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	b3cas__cput *c = NULL;
	int rc;

	pthread_mutex_lock(lock);
	rc = existing_locked(s, id, tag);
	pthread_mutex_unlock(lock);
	if (rc != 2)
		return rc;
	rc = b3cas__cput_all(s, data, len, &c);
	if (rc < 0)
		return rc;
	return b3cas__cput_commit(c, id, tag);
}

int b3cas__chunked_publish_fd(b3cas_store *s, const b3cas_oid *id, int fd,
			      uint64_t len, const b3cas__tag *tag)
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
	rc = b3cas__chunked_publish(s, id, map, (size_t)len, tag);
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
				       e.kind == B3CAS_ENTRY_PACKED ||
				       e.kind == B3CAS_ENTRY_DELTA)
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
	b3cas__delta_batch_removed(s, b, c); /* a damaged delta's base */
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


/* ---- objects that hold references (links) --------------------------- */

/*
 * A linked object X (b3cas_store_put_linked) holds one reference to each
 * of its links through manifest nodes, as a chunked object holds its
 * chunks: the links, in the caller's order, are cut into nodes by the
 * same rule (docs/trees.md, "Objects that hold references"), each node's
 * items are the linked ids (length 0), and X's links top is kept apart
 * from its content entry, under 'l' X: LINKS_VERSION, gen, the record
 * count, then per node its item count, its id and a check (seg_check with
 * start 0). While the put runs its node references are pending keys
 * ('p' gen seg, released at open after a crash); the batch that writes
 * X's entry (or its new reference) writes 'l' X and deletes them. The
 * batch that removes X's entry (GC) turns the records into 'r' keys, so
 * the release that follows drops the links' references.
 */
#define LINKS_VERSION 1
#define LINKS_HEAD (1 + GEN_LEN + 4)
#define LINKS_REC (4 + B3CAS_OID_LEN + CHECK_LEN)
#define LINKS_KEY_LEN (1 + B3CAS_OID_LEN)
/* a links top stays one index value: 16 Mi links at most */
#define LINKS_MAX (16u << 20)

static void links_key(uint8_t k[LINKS_KEY_LEN], const b3cas_oid *id)
{
	k[0] = 'l';
	memcpy(k + 1, id->bytes, B3CAS_OID_LEN);
}

/* Parse links top p (len bytes) of object id: its gen, record count and
 * records; every record's check is verified. 0 or B3CAS_ECORRUPT. */
static int links_parse(const b3cas_oid *id, const uint8_t *p, size_t len,
		       const uint8_t **gen, uint32_t *nrec,
		       const uint8_t **recs)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint32_t n;

	if (len < LINKS_HEAD || p[0] != LINKS_VERSION)
		goto bad;
	n = get_u32(p + 1 + GEN_LEN);
	if ((len - LINKS_HEAD) / LINKS_REC != n ||
	    (len - LINKS_HEAD) % LINKS_REC != 0)
		goto bad;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = p + LINKS_HEAD + (size_t)i * LINKS_REC;
		uint8_t check[CHECK_LEN];

		seg_check(check, id, p + 1, i, 0, get_u32(r), r + 4);
		if (get_u32(r) == 0 ||
		    memcmp(check, r + 4 + B3CAS_OID_LEN, CHECK_LEN) != 0)
			goto bad;
	}
	*gen = p + 1;
	*nrec = n;
	*recs = p + LINKS_HEAD;
	return 0;
bad:
	return b3cas__error(B3CAS_ECORRUPT, "the links of object %s are "
			    "damaged", b3cas_oid_fmt(hex, id));
}

void b3cas__links_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				const b3cas_oid *id)
{
	rocksdb_pinnableslice_t *v;
	uint8_t k[LINKS_KEY_LEN];
	const uint8_t *gen, *recs;
	const char *p;
	uint32_t n;
	size_t len;

	if (!b3cas__store_holds(s))
		return;
	links_key(k, id);
	/* Links that cannot be read leak their references: safe. */
	if (meta_get(s, NULL, k, sizeof(k), &v) <= 0) {
		b3cas_error_clear();
		return;
	}
	p = rocksdb_pinnableslice_value(v, &len);
	if (links_parse(id, (const uint8_t *)p, len, &gen, &n, &recs) == 0) {
		for (uint32_t i = 0; i < n; i++) {
			uint8_t rk[REF_KEY_LEN];

			ref_key(rk, 'r', gen, i);
			rocksdb_writebatch_put_cf(
				b, s->ix->cf[B3CAS_CF_META], (const char *)rk,
				sizeof(rk),
				(const char *)recs + (size_t)i * LINKS_REC + 4,
				B3CAS_OID_LEN);
		}
	} else {
		b3cas_error_clear();
	}
	rocksdb_pinnableslice_destroy(v);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)k, sizeof(k));
}

/* A put of a linked object under way. */
typedef struct links_put {
	b3cas_store *s;
	const b3cas_oid *id;
	uint8_t gen[GEN_LEN];
	uint8_t *top; /* LINKS_HEAD + nseg * LINKS_REC */
	uint32_t nseg;
	ref_item items[NODE_CHUNKS];
	uint32_t n;
	uint8_t seg[NODE_CHUNKS * SEG_ENTRY_MAX];
} links_put;

static int links_stage_ref(links_put *lp, rocksdb_writebatch_t *b,
			   const uint8_t *node, uint64_t count)
{
	return pending_ref(lp->s, b, lp->gen, lp->nseg, node, count);
}

/* Write the open node of links: one reference more when it is stored;
 * else the node, its count, and a reference (count and held count) to
 * each of its items, which must be stored: all in one batch under the
 * node's and the items' locks. */
static int links_flush(links_put *lp)
{
	b3cas_store *s = lp->s;
	ref_item *sorted = NULL;
	rocksdb_writebatch_t *b;
	uint8_t node[B3CAS_OUT_LEN], key[NODE_KEY_LEN], *rec;
	uint64_t clamps = 0, count;
	size_t bytes = 0;
	int rc = 0;

	if (lp->n == 0)
		return 0;
	for (uint32_t k = 0; k < lp->n; k++) {
		memcpy(lp->seg + bytes, lp->items[k].id.bytes, B3CAS_OID_LEN);
		bytes += B3CAS_OID_LEN;
		bytes += put_varint(lp->seg + bytes, 0);
	}
	b3cas_hash(node, lp->seg, bytes);
	sorted = malloc(lp->n * sizeof(*sorted));
	if (!sorted)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	memcpy(sorted, lp->items, lp->n * sizeof(*sorted));
	qsort(sorted, lp->n, sizeof(*sorted), ref_cmp);
	b = rocksdb_writebatch_create();
	lock_node_items(s, sorted, lp->n, node, true);
	rc = node_count(s, node, &count);
	if (rc == 0 && count > 0) {
		rc = links_stage_ref(lp, b, node, count);
		goto write;
	}
	for (uint32_t i = 0; rc == 0 && i < lp->n;) {
		uint32_t j = i + 1;
		char hex[B3CAS_OID_HEX_LEN + 1];

		while (j < lp->n && b3cas_oid_equal(&sorted[j].id, &sorted[i].id))
			j++;
		rc = existing_stage(s, b, &sorted[i].id, j - i);
		if (rc == 2)
			rc = b3cas__error(B3CAS_ENOTFOUND, "link %s is not "
					  "stored: a linked object holds "
					  "only stored objects",
					  b3cas_oid_fmt(hex, &sorted[i].id));
		if (rc >= 0)
			rc = held_add_locked(s, b, &sorted[i].id,
					     (int64_t)(j - i), &clamps);
		i = j;
	}
	if (rc >= 0) {
		node_key(key, 'n', node);
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)key, sizeof(key),
					  (const char *)lp->seg, bytes);
		rc = links_stage_ref(lp, b, node, 0);
	}
write:
	if (rc >= 0)
		rc = b3cas__write_batch(s, b, false);
	held_clamped(s, clamps);
	for (uint32_t i = 0; rc >= 0 && i < lp->n; i++)
		b3cas__known_add(s->known, &sorted[i].id);
	lock_node_items(s, sorted, lp->n, node, false);
	rocksdb_writebatch_destroy(b);
	free(sorted);
	if (rc < 0)
		return rc;
	rec = lp->top + LINKS_HEAD + (size_t)lp->nseg * LINKS_REC;
	put_u32(rec, lp->n);
	memcpy(rec + 4, node, B3CAS_OID_LEN);
	seg_check(rec + 4 + B3CAS_OID_LEN, lp->id, lp->gen, lp->nseg, 0,
		  lp->n, node);
	lp->nseg++;
	lp->n = 0;
	return 0;
}

/*
 * Under id's stripe lock: stage X's entry (or one reference more) and,
 * unless X has links already, its links top with the pending keys gone.
 * *keep_links: the put's node references now belong to X.
 */
static int links_commit_locked(links_put *lp, rocksdb_writebatch_t *b,
			       b3cas__cput *c, const void *data, size_t len,
			       bool *loose, bool *keep_links,
			       const uint8_t *name, size_t name_len,
			       const b3cas__tag *extra)
{
	b3cas_store *s = lp->s;
	uint8_t k[LINKS_KEY_LEN];
	int had, rc;

	*keep_links = false;
	*loose = false;
	b3cas__batch_tag(s, b, extra, lp->id);
	if (name && name[0] != 'N') {
		b3cas__tag tag = {name, name_len, NULL, NULL, 0};

		b3cas__batch_tag(s, b, &tag, lp->id);
	} else if (name) {
		/* the name takes the put's reference */
		had = b3cas__index_has(s->ix, B3CAS_CF_META, name, name_len);
		if (had != 0)
			return had < 0 ? had
				       : b3cas__error(B3CAS_EEXISTS, "name "
						      "'%.*s' exists already",
						      (int)(name_len - 1),
						      (const char *)name + 1);
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META],
					  (const char *)name, name_len,
					  (const char *)lp->id->bytes,
					  B3CAS_OID_LEN);
	}
	links_key(k, lp->id);
	had = b3cas__index_has(s->ix, B3CAS_CF_META, k, sizeof(k));
	if (had < 0)
		return had;
	rc = c ? b3cas__cput_stage_locked(c, b, lp->id, 1)
	       : b3cas__stage_locked(s, b, lp->id, data, len, NULL, 1, 0,
				     loose);
	if (rc < 0 || had)
		return rc; /* X holds its links already: the put's go */
	lp->top[0] = LINKS_VERSION;
	memcpy(lp->top + 1, lp->gen, GEN_LEN);
	put_u32(lp->top + 1 + GEN_LEN, lp->nseg);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META], (const char *)k,
				  sizeof(k), (const char *)lp->top,
				  LINKS_HEAD + (size_t)lp->nseg * LINKS_REC);
	for (uint32_t i = 0; i < lp->nseg; i++) {
		uint8_t pk[REF_KEY_LEN];

		ref_key(pk, 'p', lp->gen, i);
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)pk, sizeof(pk));
	}
	*keep_links = true;
	return rc;
}

/*
 * X stored (live) with its links already: one reference more (the
 * name's, or with a tag) and nothing else, under X's stripe lock (and
 * the names lock for a name). 1 done, 0 not so (the full put follows:
 * new, or a candidate to revive), or an error.
 */
static int links_known(b3cas_store *s, const b3cas_oid *id,
		       const uint8_t *name, size_t name_len, bool is_name,
		       const b3cas__tag *extra)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b = NULL;
	uint8_t k[LINKS_KEY_LEN];
	int rc;

	links_key(k, id);
	if (is_name)
		pthread_mutex_lock(&s->names_lock);
	pthread_mutex_lock(lock);
	rc = b3cas__index_has(s->ix, B3CAS_CF_META, k, sizeof(k));
	if (rc > 0 && is_name) {
		int had = b3cas__index_has(s->ix, B3CAS_CF_META, name,
					   name_len);

		if (had != 0)
			rc = had < 0 ? had
				     : b3cas__error(B3CAS_EEXISTS, "name '%.*s' "
						    "exists already",
						    (int)(name_len - 1),
						    (const char *)name + 1);
	}
	if (rc > 0) {
		b = rocksdb_writebatch_create();
		rc = b3cas__stage_ref_locked(s, b, id);
		if (rc == B3CAS_ENOTFOUND) { /* a candidate: revived by a put */
			b3cas_error_clear();
			rc = 0;
		} else if (rc == 0) {
			if (name)
				rocksdb_writebatch_put_cf(
					b, s->ix->cf[B3CAS_CF_META],
					(const char *)name, name_len,
					(const char *)id->bytes,
					B3CAS_OID_LEN);
			b3cas__batch_tag(s, b, extra, id);
			rc = b3cas__write_batch(s, b, false);
			if (rc == 0) {
				b3cas__known_add(s->known, id);
				rc = 1;
			}
		}
	}
	pthread_mutex_unlock(lock);
	if (is_name)
		pthread_mutex_unlock(&s->names_lock);
	if (b)
		rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas__store_put_linked(b3cas_store *s, const b3cas_oid *id,
			    const void *data, size_t len,
			    const b3cas_oid *links, size_t nlinks,
			    const uint8_t *name, size_t name_len,
			    const b3cas__tag *extra)
{
	links_put *lp;
	b3cas__cput *c = NULL;
	rocksdb_writebatch_t *b;
	pthread_mutex_t *lock;
	bool loose = false, keep = false;
	bool is_name = name && name[0] == 'N';
	int rc;

	if (nlinks > LINKS_MAX)
		return b3cas__error(B3CAS_EINVAL, "%zu links: at most %u",
				    nlinks, LINKS_MAX);
	/* stored with its links: a reference more, no node work */
	if (atomic_load(&s->links)) {
		rc = links_known(s, id, name, name_len, is_name, extra);
		if (rc != 0)
			return rc;
	}
	lp = calloc(1, sizeof(*lp));
	if (!lp)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	lp->top = malloc(LINKS_HEAD + (nlinks ? nlinks : 1) * LINKS_REC);
	if (!lp->top) {
		free(lp);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	lp->s = s;
	lp->id = id;
	/* before any batch: every removal from now reads links */
	atomic_store(&s->links, true);
	if (getrandom(lp->gen, GEN_LEN, 0) != (ssize_t)GEN_LEN)
		rc = b3cas__error(B3CAS_EIO, "cannot draw a random name: %s",
				  strerror(errno));
	else
		rc = 0;
	for (size_t i = 0; rc == 0 && i < nlinks; i++) {
		lp->items[lp->n++].id = links[i];
		if (lp->n == NODE_CHUNKS || node_ends(links[i].bytes))
			rc = links_flush(lp);
	}
	if (rc == 0)
		rc = links_flush(lp);
	/* a chunked object's chunks before its lock, as a chunked put */
	if (rc == 0 && s->lay.chunk_max && len > s->lay.chunk_max)
		rc = b3cas__cput_all(s, data, len, &c);
	if (rc == 0) {
		lock = b3cas__store_stripe(s, id);
		b = rocksdb_writebatch_create();
		if (is_name)
			pthread_mutex_lock(&s->names_lock);
		pthread_mutex_lock(lock);
		rc = links_commit_locked(lp, b, c, data, len, &loose, &keep,
					 name, name_len, extra);
		if (rc >= 0) {
			int wrc = b3cas__write_batch(s, b, loose);

			if (wrc < 0)
				rc = wrc;
			else
				b3cas__known_add(s->known, id);
		}
		pthread_mutex_unlock(lock);
		if (is_name)
			pthread_mutex_unlock(&s->names_lock);
		rocksdb_writebatch_destroy(b);
		if (c)
			b3cas__cput_done(c, rc >= 0);
		c = NULL;
	}
	b3cas__cput_abort(c);
	if (lp->nseg > 0 && !(rc >= 0 && keep)) {
		/* the put's references go (a failure: at the next open if
		 * this release fails too) */
		char msg[B3CAS__MESSAGE_MAX];
		int rrc;

		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		rrc = release(s, 'p', lp->gen);
		if (rc >= 0 && rrc < 0)
			rc = rrc;
		else if (rc < 0)
			(void)b3cas__error(rc, "%s", msg);
	}
	free(lp->top);
	free(lp);
	return rc;
}

int b3cas__links_read(b3cas_store *s, const b3cas_oid *id, b3cas_oid **out,
		      size_t *nout)
{
	rocksdb_pinnableslice_t *v;
	uint8_t k[LINKS_KEY_LEN];
	const uint8_t *gen, *recs;
	const char *p;
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid *links = NULL;
	size_t len, n = 0;
	uint32_t nrec;
	int rc;

	*out = NULL;
	*nout = 0;
	links_key(k, id);
	rc = meta_get(s, NULL, k, sizeof(k), &v);
	if (rc <= 0)
		return rc;
	p = rocksdb_pinnableslice_value(v, &len);
	rc = links_parse(id, (const uint8_t *)p, len, &gen, &nrec, &recs);
	for (uint32_t i = 0; rc == 0 && i < nrec; i++) {
		const uint8_t *r = recs + (size_t)i * LINKS_REC;
		uint32_t want = get_u32(r);
		node_val nv;
		b3cas_oid *grown;
		const uint8_t *q, *end;
		size_t got = 0;

		grown = realloc(links, (n + want) * sizeof(*links));
		if (!grown) {
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
			break;
		}
		links = grown;
		rc = node_val_get(s, NULL, r + 4, &nv);
		if (rc == 0)
			rc = b3cas__error(B3CAS_ECORRUPT, "a manifest node of "
					  "the links of object %s is missing",
					  b3cas_oid_fmt(hex, id));
		if (rc < 0)
			break;
		rc = 0;
		q = nv.p;
		end = q + nv.len;
		for (;;) {
			uint8_t item[B3CAS_OID_LEN];
			uint32_t il;
			size_t e = seg_entry(q, end, item, &il);

			if (e == 0)
				break;
			if (got < want)
				memcpy(links[n + got].bytes, item,
				       B3CAS_OID_LEN);
			got++;
			q += e;
		}
		node_val_done(&nv);
		if (got != want || q != end) {
			rc = b3cas__error(B3CAS_ECORRUPT, "a manifest node of "
					  "the links of object %s is damaged",
					  b3cas_oid_fmt(hex, id));
			break;
		}
		n += want;
	}
	rocksdb_pinnableslice_destroy(v);
	if (rc < 0) {
		free(links);
		return rc;
	}
	*out = links;
	*nout = n;
	return 1;
}

int b3cas__links_held(b3cas_store *s, const b3cas_oid *id)
{
	uint8_t k[LINKS_KEY_LEN];

	links_key(k, id);
	return b3cas__index_has(s->ix, B3CAS_CF_META, k, sizeof(k));
}

int b3cas__links_any(b3cas_store *s)
{
	static const char kinds[] = {'k', 'l', 'p', 'r'};
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_META]);
	int found = 0;

	for (size_t i = 0; !found && i < sizeof(kinds); i++) {
		size_t klen;

		rocksdb_iter_seek(it, &kinds[i], 1);
		if (rocksdb_iter_valid(it) &&
		    rocksdb_iter_key(it, &klen)[0] == kinds[i])
			found = 1;
	}
	{
		int rc = walk_end(it, ro, 0);

		return rc < 0 ? rc : found;
	}
}

/* A links top: a reference per record to its node (a damaged top counts
 * none: its nodes' counts then look too high, which fsck reports). */
static int visit_links(const uint8_t *k, size_t klen, const uint8_t *v,
		       size_t vlen, void *ctx)
{
	const uint8_t *gen, *recs;
	b3cas_oid id;
	uint32_t n;
	int rc = 0;

	if (klen != LINKS_KEY_LEN)
		return 0;
	memcpy(id.bytes, k + 1, B3CAS_OID_LEN);
	if (links_parse(&id, v, vlen, &gen, &n, &recs) < 0) {
		b3cas_error_clear();
		return 0;
	}
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		rc = note_ref(ctx, recs + (size_t)i * LINKS_REC + 4);
	return rc;
}
