/*
 * store/delta.c - delta chunks: when a put with a base (the version of
 * the object before it, b3cas_writer_set_base) stores a new chunk, the
 * base's chunk at the same offset is rewritten as a zstd frame whose
 * prefix is the new chunk, when that saves enough; and the decoding of
 * such chunks (delta.h has the format).
 *
 * Invariants: a delta entry and the hand-over of its base node's
 * reference are one batch, under the chunk's stripe lock; rebases are one
 * at a time (the store's rebase lock) and none makes a loop of bases
 * (each checks the new base's chain first); a chunk's id stays BLAKE3
 * of its bytes, however it is stored.
 */
#include "store/delta.h"
#include "store/chunked.h"
#include "store/pack.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "compress/zstd.h"
#include "util/error.h"
#include "util/fsutil.h"

/* What a delta must save against the chunk as stored, in bytes: a
 * rewrite costs a write now and a decode on every read through it (the
 * figure format 1's node per delta set, kept). */
#define DELTA_MIN_SAVING 192
/* A delta (with its head and the saving) at most 1/DELTA_SURE of the
 * chunk is taken without compressing the chunk alone to compare: chunks
 * that zstd shrinks 16 times are rare (runs of zeros, which are mostly
 * chunks held more than once, not rewritten). Measured on a series step
 * (docs/chunked-objects.md): 0.15% more bytes for 15% less time. */
#define DELTA_SURE 16
#define SEEN_RING 16

struct b3cas__delta_src {
	uint64_t n, cap;
	uint64_t *off;   /* each base chunk's start */
	uint32_t *len;
	b3cas_oid *ids;
	uint8_t gen[16]; /* of the pending keys of base nodes */
	uint32_t seq;    /* keys taken */
	uint8_t *old;    /* a chunk_max: the chunk rebased */
	uint8_t *prefix; /* B3CAS__DELTA_BASES_MAX chunk_max: its bases */
	b3cas_oid seen[SEEN_RING];
	/* the chunks the base holds more than once, sorted: zero pages, code
	 * pages an image repeats; left whole, as the new version most
	 * likely holds them too and would read them through a decode */
	b3cas_oid *dups;
	size_t ndups;
	unsigned seen_at;
	uint8_t *frame, *plain;
	size_t frame_cap;
	int level;
	/* the put's chunks so far (the first 8 bytes of their ids, an open
	 * addressing set; 0 is empty): a base chunk among them is the new
	 * version's too and is not rewritten */
	uint64_t *held;
	size_t held_n, held_cap;
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
	free(d->dups);
	free(d->old);
	free(d->prefix);
	free(d->frame);
	free(d->plain);
	free(d->held);
	free(d);
}

static uint64_t held_tag(const b3cas_oid *id)
{
	uint64_t t;

	memcpy(&t, id->bytes, sizeof(t));
	return t ? t : 1; /* 0 marks a free slot */
}

static bool held_has(const b3cas__delta_src *d, const b3cas_oid *id)
{
	uint64_t t = held_tag(id);

	if (!d->held_cap)
		return false;
	for (size_t i = t & (d->held_cap - 1); d->held[i];
	     i = (i + 1) & (d->held_cap - 1))
		if (d->held[i] == t)
			return true;
	return false;
}

static void held_put(uint64_t *set, size_t cap, uint64_t t)
{
	size_t i = t & (cap - 1);

	while (set[i] && set[i] != t)
		i = (i + 1) & (cap - 1);
	set[i] = t;
}

void b3cas__delta_note_put(b3cas__delta_src *d, const b3cas_oid *id)
{
	if (d->held_n * 2 >= d->held_cap) {
		size_t cap = d->held_cap ? d->held_cap * 2 : 4096;
		uint64_t *set = calloc(cap, sizeof(*set));

		if (!set)
			return; /* a rewrite more, of a chunk put again: promoted
				 * by the next put with a base */
		for (size_t i = 0; i < d->held_cap; i++)
			if (d->held[i])
				held_put(set, cap, d->held[i]);
		free(d->held);
		d->held = set;
		d->held_cap = cap;
	}
	if (!held_has(d, id)) {
		held_put(d->held, d->held_cap, held_tag(id));
		d->held_n++;
	}
}

bool b3cas__delta_put_holds(const b3cas__delta_src *d, const b3cas_oid *id)
{
	return held_has(d, id);
}

static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, B3CAS_OID_LEN);
}

static int find_dups(b3cas__delta_src *d)
{
	b3cas_oid *sorted;

	if (d->n < 2)
		return 0;
	sorted = malloc(d->n * sizeof(*sorted));
	if (!sorted)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	memcpy(sorted, d->ids, d->n * sizeof(*sorted));
	qsort(sorted, d->n, sizeof(*sorted), oid_cmp);
	for (uint64_t i = 1; i < d->n; i++)
		if (b3cas_oid_equal(&sorted[i], &sorted[i - 1]) &&
		    (d->ndups == 0 ||
		     !b3cas_oid_equal(&sorted[d->ndups - 1], &sorted[i])))
			sorted[d->ndups++] = sorted[i];
	d->dups = sorted; /* its first ndups */
	return 0;
}

static bool repeated(const b3cas__delta_src *d, const b3cas_oid *c)
{
	return d->ndups &&
	       bsearch(c, d->dups, d->ndups, sizeof(*d->dups), oid_cmp);
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
	if (rc == 0)
		rc = find_dups(d);
	if (rc == 0) {
		d->level = s->lay.zlevel;
		d->frame_cap = b3cas__zstd_bound(s->lay.chunk_max);
		d->old = malloc(s->lay.chunk_max);
		d->prefix = malloc((size_t)B3CAS__DELTA_BASES_MAX *
				   s->lay.chunk_max);
		d->frame = malloc(d->frame_cap);
		d->plain = malloc(d->frame_cap);
		if (!d->old || !d->prefix || !d->frame || !d->plain)
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

/* The index of the base's last chunk starting at or before off (0 when
 * none does). */
static uint64_t pick_first(const b3cas__delta_src *d, uint64_t off)
{
	uint64_t lo = 0, hi = d->n;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (d->off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The base's chunks this put tried to rebase lately: each once (a ring:
 * the chunks overlapping a new chunk are near the ones before). */
static bool seen_before(const b3cas__delta_src *d, const b3cas_oid *old)
{
	for (unsigned k = 0; k < SEEN_RING; k++)
		if (b3cas_oid_equal(&d->seen[k], old))
			return true;
	return false;
}

static void note_seen(b3cas__delta_src *d, const b3cas_oid *old)
{
	d->seen[d->seen_at++ % SEEN_RING] = *old;
}

/* A read's depth of bases on this thread (loops are damage). */
static _Thread_local int decode_depth;

/*
 * The bases decoded on this thread, by id: the chains of neighbouring
 * chunks of an old version meet in the same newer chunks, and a chunk
 * with two bases whose chains meet would otherwise decode the meeting
 * chunk twice per level (a cost that doubles with each level). Kept for
 * one chunk's decode, or, between b3cas__delta_memo_begin and _end, for
 * a whole range read: the chunks of an old version one after another
 * share much of their chains (the oldest image of a 30-step
 * bench/checkpoint_series.sh store, restored with reads of 1 MiB: 9.9
 * decodes per delta chunk kept per chunk, 6.6 kept per read; user time
 * 1.73 -> 1.42 s). A slot per id's first bytes (a new base takes the
 * slot of the one there), the bytes bounded; past the bound bases are
 * decoded again. Outside a read, only a chain's deeper bases are kept:
 * a chunk's own bases are read once each. A chunk's bytes are its id's,
 * so what a read decoded serves it to its end whatever happens to the
 * entries meanwhile.
 */
#define MEMO_SLOTS 4096
#define MEMO_BYTES (64u << 20)

typedef struct memo_ent {
	b3cas_oid id;
	uint32_t len; /* 0: an empty slot */
	uint32_t cap;
	uint8_t *bytes;
} memo_ent;

static _Thread_local memo_ent *memo;
static _Thread_local size_t memo_bytes;
static _Thread_local unsigned memo_scopes;

static memo_ent *memo_slot(const b3cas_oid *c)
{
	uint32_t t;

	memcpy(&t, c->bytes, sizeof(t));
	return &memo[t % MEMO_SLOTS];
}

static bool memo_get(const b3cas_oid *c, uint32_t len, uint8_t *out)
{
	const memo_ent *m;

	if (!memo)
		return false;
	m = memo_slot(c);
	if (m->len != len || len == 0 || !b3cas_oid_equal(&m->id, c))
		return false;
	memcpy(out, m->bytes, len);
	return true;
}

static void memo_put(const b3cas_oid *c, uint32_t len, const uint8_t *b)
{
	memo_ent *m;

	if (len == 0 || (memo_scopes == 0 && decode_depth < 2))
		return;
	if (!memo) {
		memo = calloc(MEMO_SLOTS, sizeof(*memo));
		if (!memo)
			return;
	}
	m = memo_slot(c);
	if (m->cap < len) {
		uint8_t *grown;

		if (memo_bytes - m->cap + len > MEMO_BYTES)
			return;
		grown = realloc(m->bytes, len);
		if (!grown)
			return;
		memo_bytes += len - m->cap;
		m->bytes = grown;
		m->cap = len;
	}
	memcpy(m->bytes, b, len);
	m->id = *c;
	m->len = len;
}

static void memo_clear(void)
{
	if (!memo)
		return;
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		free(memo[i].bytes);
	free(memo);
	memo = NULL;
	memo_bytes = 0;
}

void b3cas__delta_memo_begin(void)
{
	memo_scopes++;
}

void b3cas__delta_memo_end(void)
{
	if (memo_scopes > 0 && --memo_scopes == 0 && decode_depth == 0)
		memo_clear();
}

void b3cas__delta_memo_forget(void)
{
	if (decode_depth == 0)
		memo_clear();
}

static int makes_loop(b3cas_store *s, const b3cas_oid *old,
		      const b3cas_oid *bases, uint32_t n)
{
	b3cas_oid todo[B3CAS__DELTA_CHAIN_MAX];
	uint32_t top = 0, seen = 0;

	for (uint32_t k = 0; k < n; k++)
		todo[top++] = bases[k];
	while (top > 0) {
		uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
		uint32_t lens[B3CAS__DELTA_BASES_MAX], nb = 0;
		b3cas_oid at = todo[--top];
		b3cas__entry e;
		bool delta;
		int rc;

		if (b3cas_oid_equal(&at, old) || ++seen > B3CAS__DELTA_CHAIN_MAX)
			return 1;
		rc = b3cas__entry_head(s, &at, &e);
		if (rc < 0) {
			b3cas_error_clear();
			return 1;
		}
		delta = e.kind == B3CAS_ENTRY_DELTA;
		rc = delta ? b3cas__delta_bases(s, NULL, e.payload,
						e.payload_len, ids, lens, &nb)
			   : 0;
		b3cas__entry_done(&e);
		if (rc < 0) {
			b3cas_error_clear();
			return 1;
		}
		for (uint32_t k = 0; k < nb; k++) {
			if (top == B3CAS__DELTA_CHAIN_MAX)
				return 1;
			memcpy(todo[top++].bytes,
			       ids + (size_t)k * B3CAS_OID_LEN, B3CAS_OID_LEN);
		}
	}
	return 0;
}

/* Is e the entry of a live chunk of len bytes, stored whole? */
static bool whole_live(const b3cas__entry *e, uint32_t len)
{
	return !e->unref && e->size == len &&
	       (e->kind == B3CAS_ENTRY_INLINE ||
		e->kind == B3CAS_ENTRY_ZINLINE || e->kind == B3CAS_ENTRY_PACKED);
}

/*
 * Under old's stripe lock (and the rebase lock): write old's entry as
 * delta payload (plen bytes), taking over the base node's reference from
 * pending key pkey, if old is still the whole, live chunk of len bytes it
 * was. 1 written, 0 not, or an error.
 */
static int rebase_locked(b3cas_store *s, const b3cas_oid *old, uint32_t len,
			 const uint8_t *payload, size_t plen,
			 const uint8_t *pkey, size_t pklen)
{
	rocksdb_writebatch_t *b;
	b3cas__entry e;
	int rc = b3cas__entry_head(s, old, &e);

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!whole_live(&e, len)) {
		b3cas__entry_done(&e);
		return 0;
	}
	b = rocksdb_writebatch_create();
	b3cas__pack_batch_drop(b, s, old, &e);
	b3cas__entry_done(&e);
	b3cas__batch_put_kind(b, s, old, B3CAS_ENTRY_DELTA, len, payload, plen,
			      false);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
				     (const char *)pkey, pklen);
	rc = b3cas__write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	if (rc == 0)
		b3cas__caches_forget(s, old, false);
	return rc < 0 ? rc : 1;
}

/* Chunk c, len bytes, whole and live: into out, checked, with the bytes
 * its entry stores in *stored: its zstd frame's, or 0 for bytes kept as
 * they are (a packed store's tables compress them with their
 * neighbours). 1 done, 0 not such a chunk, or an error. */
static int whole_chunk(b3cas_store *s, const b3cas_oid *c, uint32_t len,
		       uint8_t *out, size_t *stored)
{
	b3cas__entry e;
	b3cas_oid got;
	int rc = b3cas__entry_get(s, c, &e);

	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT) {
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	if (!whole_live(&e, len)) {
		b3cas__entry_done(&e);
		return 0;
	}
	*stored = e.kind == B3CAS_ENTRY_ZINLINE ? e.payload_len : 0;
	rc = b3cas__entry_decode(&e, out);
	b3cas__entry_done(&e);
	if (rc < 0) {
		b3cas_error_clear();
		return 0;
	}
	b3cas_hash(got.bytes, out, len);
	return b3cas_oid_equal(&got, c) ? 1 : 0;
}

int b3cas__delta_rebase(b3cas__delta_src *d, b3cas_store *s,
			const b3cas__delta_bnode *bn,
			const b3cas__delta_chunk *c, uint32_t n, uint32_t k)
{
	uint8_t pkey[1 + 16 + 4], *payload, *prefix;
	const uint8_t *bases[B3CAS__DELTA_BASES_MAX];
	b3cas_oid ids[B3CAS__DELTA_BASES_MAX];
	uint32_t lens[B3CAS__DELTA_BASES_MAX], nb = 0, first = 0, olen;
	pthread_mutex_t *lock;
	size_t dsize, psize, need, plen = 0;
	uint64_t lo, hi, i;
	int made = 0, rc = 0;

	/* the base's chunks that chunk k overlaps, one by one */
	i = pick_first(d, c[k].off);
	for (; rc >= 0 && i < d->n && d->off[i] < c[k].off + c[k].len; i++) {
		b3cas_oid old = d->ids[i];

		olen = d->len[i];
		lo = d->off[i];
		hi = lo + olen;
		/* its bases: the new object's chunks over the same bytes
		 * that the put stored anew (delta.h: so that no references
		 * go round); only the one that covers three quarters of it,
		 * if one does (each base is one more read, on every read
		 * through it). They are neighbours in the base node. */
		nb = 0;
		plen = 0;
		for (uint32_t q = 0; q < n && nb < B3CAS__DELTA_BASES_MAX;
		     q++) {
			uint64_t a = c[q].off > lo ? c[q].off : lo;
			uint64_t z = c[q].off + c[q].len < hi
					     ? c[q].off + c[q].len
					     : hi;

			if (z <= a || c[q].bpos == B3CAS__DELTA_NOT_NEW)
				continue;
			if ((z - a) * 4 >= (uint64_t)olen * 3) {
				nb = 0;
				plen = 0;
			}
			if (nb == 0)
				first = c[q].bpos;
			else if (c[q].bpos != first + nb)
				break; /* not neighbours: cannot be */
			ids[nb] = c[q].id;
			lens[nb] = c[q].len;
			bases[nb++] = c[q].data;
			plen += c[q].len;
			if ((z - a) * 4 >= (uint64_t)olen * 3)
				break;
		}
		rc = nb == 0 || seen_before(d, &old) || repeated(d, &old)
			     ? 0
			     : whole_chunk(s, &old, olen, d->old, &psize);
		/* a chunk the put holds too (in this node or one before)
		 * stays whole: it is the newest version's (nodes after this
		 * one promote it) */
		if (rc > 0 && held_has(d, &old))
			rc = 0;
		if (rc <= 0)
			continue;
		prefix = d->prefix;
		for (uint32_t q = 0, at = 0; q < nb; at += lens[q], q++)
			memcpy(prefix + at, bases[q], lens[q]);
		rc = b3cas__zstd_compress_prefix(&dsize, d->frame, d->frame_cap,
						 d->old, olen, prefix, plen,
						 d->level);
		/* worth it only if smaller than what the chunk stores now:
		 * its zstd frame, or for bytes kept as they are, what zstd
		 * makes of them alone (as a packed store's tables do), unless
		 * the delta is so small that no frame would beat it
		 * (compressing each replaced chunk alone to compare took a
		 * sixth of a series step's time) */
		need = B3CAS__DELTA_HEAD + dsize + DELTA_MIN_SAVING;
		if (rc == 0 && psize == 0 && need < olen &&
		    need * DELTA_SURE > olen)
			rc = b3cas__zstd_compress(&psize, d->plain,
						  d->frame_cap, d->old, olen,
						  d->level);
		if (rc < 0)
			break;
		if (psize == 0 || psize > olen)
			psize = olen;
		if (need >= psize)
			continue;
		payload = malloc(B3CAS__DELTA_HEAD + dsize);
		if (!payload) {
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
			break;
		}
		payload[0] = B3CAS__DELTA_FORMAT;
		memcpy(payload + 1, bn->id, B3CAS_OID_LEN);
		payload[1 + B3CAS_OID_LEN] = (uint8_t)(first >> 8);
		payload[2 + B3CAS_OID_LEN] = (uint8_t)first;
		payload[3 + B3CAS_OID_LEN] = (uint8_t)nb;
		memcpy(payload + B3CAS__DELTA_HEAD, d->frame, dsize);
		/* the node's reference first, under a pending key of the
		 * put's, handed to the entry by the batch that writes it */
		rc = b3cas__chunked_node_take(s, d->gen, d->seq, bn);
		b3cas__chunked_ref_key(pkey, 'p', d->gen, d->seq);
		d->seq++;
		if (rc == 0) {
			lock = b3cas__store_stripe(s, &old);
			pthread_mutex_lock(&s->rebase_lock);
			if (!makes_loop(s, &old, ids, nb)) {
				pthread_mutex_lock(lock);
				rc = rebase_locked(s, &old, olen, payload,
						   B3CAS__DELTA_HEAD + dsize,
						   pkey, sizeof(pkey));
				pthread_mutex_unlock(lock);
				made += rc > 0;
			}
			pthread_mutex_unlock(&s->rebase_lock);
		}
		free(payload);
		note_seen(d, &old);
	}
	return rc < 0 ? rc : made;
}

int b3cas__delta_promote(b3cas_store *s, const b3cas_oid *id,
			 const uint8_t *data, uint32_t len)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b;
	b3cas__entry e;
	int rc;

	pthread_mutex_lock(lock);
	rc = b3cas__entry_head(s, id, &e);
	if (rc < 0) {
		pthread_mutex_unlock(lock);
		if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT) {
			b3cas_error_clear();
			return 0;
		}
		return rc;
	}
	if (e.kind != B3CAS_ENTRY_DELTA || e.unref || e.size != len) {
		b3cas__entry_done(&e);
		pthread_mutex_unlock(lock);
		return 0;
	}
	b3cas__entry_done(&e);
	b = rocksdb_writebatch_create();
	b3cas__delta_batch_removed(s, b, id);
	b3cas__batch_put_entry(b, s, id, data, len, true, false);
	rc = b3cas__write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	pthread_mutex_unlock(lock);
	return rc < 0 ? rc : 1;
}

/* The length of payload p's head (format 2's or 1's), 0 when p is not
 * a payload with a frame after it. */
static size_t head_len(const uint8_t *p, size_t plen)
{
	size_t h = plen > 0 && p[0] == B3CAS__DELTA_FORMAT ? B3CAS__DELTA_HEAD
		   : plen > 0 && p[0] == B3CAS__DELTA_FORMAT_NODE
			   ? B3CAS__DELTA_HEAD_MIN
			   : 0;

	return h && plen > h ? h : 0;
}

const uint8_t *b3cas__delta_node(const uint8_t *p, size_t plen)
{
	return head_len(p, plen) ? p + 1 : NULL;
}

int b3cas__delta_bases(b3cas_store *s, const rocksdb_readoptions_t *ro,
		       const uint8_t *p, size_t plen, uint8_t *ids,
		       uint32_t *lens, uint32_t *n)
{
	uint32_t first = 0, want = 0;

	*n = 0;
	if (!head_len(p, plen))
		return b3cas__error(B3CAS_ECORRUPT, "a malformed delta entry");
	if (p[0] == B3CAS__DELTA_FORMAT) {
		first = (uint32_t)p[1 + B3CAS_OID_LEN] << 8 |
			p[2 + B3CAS_OID_LEN];
		want = p[3 + B3CAS_OID_LEN];
		if (want == 0 || want > B3CAS__DELTA_BASES_MAX)
			return b3cas__error(B3CAS_ECORRUPT,
					    "a delta entry with %u bases",
					    want);
	}
	return b3cas__chunked_node_list(s, ro, p + 1, first, want, ids, lens,
					B3CAS__DELTA_BASES_MAX, n);
}

static int delta_damaged(const b3cas_oid *id, const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT, "delta chunk %s: %s",
			    b3cas_oid_fmt(hex, id), why);
}

/* Base chunk c (len bytes) into out, read with ro: any kind a chunk
 * may have, a delta decoded in turn. Not hashed: the bytes decoded with
 * it are checked against their own id in the end. */
static int base_load(b3cas_store *s, const rocksdb_readoptions_t *ro,
		     const b3cas_oid *c, uint32_t len, uint8_t *out)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas__entry e;
	int rc;

	if (memo_get(c, len, out))
		return 0;
	rc = b3cas__entry_get_at(s, ro, c, &e);
	if (rc == B3CAS_ENOTFOUND)
		return b3cas__error(B3CAS_ECORRUPT, "base chunk %s is missing",
				    b3cas_oid_fmt(hex, c));
	if (rc < 0)
		return rc;
	if (e.size != len ||
	    (e.kind != B3CAS_ENTRY_INLINE && e.kind != B3CAS_ENTRY_ZINLINE &&
	     e.kind != B3CAS_ENTRY_PACKED && e.kind != B3CAS_ENTRY_DELTA)) {
		b3cas__entry_done(&e);
		return b3cas__error(B3CAS_ECORRUPT,
				    "base chunk %s has the wrong size or kind",
				    b3cas_oid_fmt(hex, c));
	}
	rc = b3cas__entry_decode(&e, out);
	b3cas__entry_done(&e);
	if (rc == 0)
		memo_put(c, len, out);
	return rc;
}

int b3cas__delta_decode(b3cas_store *s, const rocksdb_readoptions_t *ro,
			const b3cas_oid *id, const uint8_t *p, size_t plen,
			uint64_t size, void *out)
{
	uint8_t ids[B3CAS__DELTA_BASES_MAX * B3CAS_OID_LEN];
	uint32_t lens[B3CAS__DELTA_BASES_MAX], n = 0;
	uint8_t *prefix = NULL;
	size_t total = 0, at = 0, head = head_len(p, plen);
	int rc;

	if (!s)
		return delta_damaged(id, "read without its store");
	if (!head)
		return delta_damaged(id, "malformed entry");
	if (decode_depth >= B3CAS__DELTA_DECODE_MAX)
		return delta_damaged(id, "its chain of bases is too long (a "
				     "loop?)");
	rc = b3cas__delta_bases(s, ro, p, plen, ids, lens, &n);
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
	decode_depth++;
	for (uint32_t k = 0; rc == 0 && k < n; k++) {
		rc = base_load(s, ro,
			       (const b3cas_oid *)(const void *)(ids +
						(size_t)k * B3CAS_OID_LEN),
			       lens[k], prefix + at);
		at += lens[k];
	}
	decode_depth--;
	if (decode_depth == 0 && memo_scopes == 0)
		memo_clear(); /* the chunk's decode is over */
	if (rc == 0)
		rc = b3cas__zstd_decompress_prefix(out, (size_t)size,
						   p + head, plen - head,
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
