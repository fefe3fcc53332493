/*
 * store/batch.c - many objects in one call: puts hashed together (the
 * batch kernel), stripes locked in id order, one index batch; gets
 * verified together.
 *
 * Invariants: stripes are always locked in increasing order, so two
 * batches never deadlock; a batch's index entries are written at once or
 * not at all.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/chunked.h"
#include "util/error.h"
#include "util/fsutil.h"

typedef struct batch_item {
	b3cas_oid id;
	size_t index; /* position in the caller's arrays */
} batch_item;

static int item_cmp(const void *a, const void *b)
{
	const batch_item *x = a, *y = b;
	int c = memcmp(x->id.bytes, y->id.bytes, B3CAS_OID_LEN);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int hash_many(b3cas_store *s, batch_item *items,
		     const void *const *data, const size_t *lens, size_t n)
{
	if (s->lay.hash == B3CAS_HASH_BLAKE3) {
		/* b3cas_hash_batch writes 32-byte outputs side by side. */
		uint8_t *out = malloc(n * B3CAS_OID_LEN);

		if (!out)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		b3cas_hash_batch(out, data, lens, n);
		for (size_t i = 0; i < n; i++)
			memcpy(items[i].id.bytes, out + i * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
		free(out);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = b3cas__store_hash(s, &items[i].id, data[i], lens[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

void b3cas__lock_step(pthread_mutex_t *m, pthread_mutex_t **prev, bool lock)
{
	if (m == *prev)
		return;
	if (lock)
		pthread_mutex_lock(m);
	else
		pthread_mutex_unlock(m);
	*prev = m;
}

void b3cas__lock_sorted(b3cas_store *s, const void *items, size_t n,
			size_t stride, bool lock)
{
	const uint8_t *p = items;
	pthread_mutex_t *prev = NULL;

	/* Sorting by id sorts by stripe index, which is the id's prefix. */
	for (size_t i = 0; i < n; i++)
		b3cas__lock_step(b3cas__store_stripe(s, (const b3cas_oid *)(
							 const void *)(p + i * stride)),
				 &prev, lock);
}

/* Lock the stripes of sorted items, each once, in increasing order. */
static void lock_stripes(b3cas_store *s, const batch_item *items, size_t n,
			 bool lock)
{
	b3cas__lock_sorted(s, items, n, sizeof(*items), lock);
}

/* stage_all found a chunked object (larger than chunk_max) not stored
 * and not chunked yet: chunk it outside the locks and try again. */
#define NEED_CHUNKS 3

/*
 * Stage every group of equal ids. In a chunking store an object larger
 * than chunk_max is a chunked one: staged from its put (cputs[i], chunked
 * beforehand) or, when none was made, as references to a stored copy; if
 * there is none, *need names the group and NEED_CHUNKS is returned.
 */
static int stage_all(b3cas_store *s, rocksdb_writebatch_t *b,
		     const batch_item *items, size_t n,
		     const void *const *data, const size_t *lens,
		     bool *dup_out, bool *loose_out, b3cas__cput **cputs,
		     size_t *need, uint64_t *dups)
{
	*loose_out = false;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, k = items[i].index;
		bool loose = false;
		int rc;

		while (j < n && b3cas_oid_equal(&items[j].id, &items[i].id))
			j++;
		if (s->lay.chunk_max && lens[k] > s->lay.chunk_max) {
			rc = cputs[i] ? b3cas__cput_stage_locked(
						cputs[i], b, &items[i].id,
						j - i)
				      : b3cas__chunked_stage_existing(
						s, b, &items[i].id, j - i);
			if (rc == 2) {
				*need = i;
				return NEED_CHUNKS;
			}
		} else {
			rc = b3cas__stage_locked(s, b, &items[i].id, data[k],
						 lens[k], NULL, j - i, 0,
						 &loose);
		}
		if (rc < 0)
			return rc;
		*loose_out |= loose;
		*dups += (j - i) - (rc == 1 ? 0 : 1);
		if (dup_out)
			for (size_t m = i; m < j; m++)
				dup_out[items[m].index] = rc == 1 || m > i;
		i = j;
	}
	return 0;
}

/* A RADOS store: the batch's objects that the index lacks stored in the
 * pool together (b3cas__tier_put_ahead), before the stage; under the
 * batch's stripe locks. Revived candidates and the rest are staged as a
 * put stages them. *ids_out: their ids, which the caller frees after
 * b3cas__tier_put_ahead_done. */
static int put_ahead(b3cas_store *s, const batch_item *items, size_t n,
		     const void *const *data, const size_t *lens,
		     b3cas_oid **ids_out)
{
	b3cas_oid *ids = malloc(n * sizeof(*ids));
	const void **d = malloc(n * sizeof(*d));
	size_t *l = malloc(n * sizeof(*l)), m = 0;
	int rc = 0;

	if (!ids || !d || !l) {
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc >= 0; i++) {
		size_t k = items[i].index;
		uint64_t refs;

		if (i > 0 && b3cas_oid_equal(&items[i].id, &items[i - 1].id))
			continue;
		if (lens[k] > B3CAS_RADOS_OBJECT_MAX)
			continue; /* refused by its stage */
		rc = b3cas__lookup_count(s, &items[i].id, &refs);
		if (rc != 0)
			continue;
		ids[m] = items[i].id;
		d[m] = data[k];
		l[m++] = lens[k];
	}
	if (rc >= 0)
		rc = m ? b3cas__tier_put_ahead(s, ids, d, l, m) : 0;
out:
	if (rc < 0) {
		free(ids);
		ids = NULL;
	}
	*ids_out = ids;
	free(d);
	free(l);
	return rc < 0 ? rc : 0;
}

int b3cas_store_put_batch(b3cas_store *s, b3cas_oid *ids_out, bool *dup_out,
			  const void *const *data, const size_t *lens,
			  size_t n)
{
	rocksdb_writebatch_t *b;
	batch_item *items;
	bool loose = false;
	b3cas__cput **cputs;
	int rc;

	uint64_t t0 = b3cas__now_ns(), bytes = 0;

	B3CAS__NONNULL(s, "store");
	if (n > 0) {
		B3CAS__NONNULL(data, "data");
		B3CAS__NONNULL(lens, "lens");
	}
	rc = b3cas__store_check_writable(s, "store objects");
	if (rc < 0 || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		bytes += lens[i];
	for (size_t i = 0; i < n; i++)
		if (!data[i] && lens[i])
			return b3cas__error(B3CAS_EINVAL,
					    "%s: data[%zu] is NULL but "
					    "lens[%zu] is %zu",
					    __func__, i, i, lens[i]);
	items = malloc(n * sizeof(*items));
	if (!items)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		items[i].index = i;
	rc = hash_many(s, items, data, lens, n);
	if (rc < 0)
		goto out;
	qsort(items, n, sizeof(*items), item_cmp);
	cputs = s->lay.chunk_max ? calloc(n, sizeof(*cputs)) : NULL;
	if (s->lay.chunk_max && !cputs) {
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		size_t need = 0;
		uint64_t dups = 0;

		b3cas_oid *pooled = NULL;

		b = rocksdb_writebatch_create();
		lock_stripes(s, items, n, true);
		rc = s->tier ? put_ahead(s, items, n, data, lens, &pooled) : 0;
		if (rc == 0)
			rc = stage_all(s, b, items, n, data, lens, dup_out,
				       &loose, cputs, &need, &dups);
		b3cas__tier_put_ahead_done();
		free(pooled);
		if (rc == 0)
			rc = b3cas__write_batch(s, b, loose);
		if (rc == 0)
			atomic_fetch_add_explicit(&s->count.dup_puts, dups,
						  memory_order_relaxed);
		for (size_t i = 0; rc == 0 && i < n; i++)
			b3cas__known_add(s->known, &items[i].id);
		lock_stripes(s, items, n, false);
		rocksdb_writebatch_destroy(b);
		if (rc != NEED_CHUNKS)
			break;
		/* Chunk the one found missing, outside the locks; the
		 * stage above added nothing (its batch was dropped). */
		rc = b3cas__cput_all(s, data[items[need].index],
				     lens[items[need].index], &cputs[need]);
		if (rc < 0)
			break;
	}
	for (size_t i = 0; cputs && i < n; i++)
		b3cas__cput_done(cputs[i], rc == 0);
	free(cputs);
	if (rc == 0 && ids_out)
		for (size_t i = 0; i < n; i++)
			ids_out[items[i].index] = items[i].id;
	/* one latency sample for the whole batch */
	b3cas__note_put(s, t0, bytes, rc, n);
out:
	free(items);
	return rc;
}

/* Where get_batch found an item: an L1 hit, read and to be verified, or
 * read from L2, which verified it. */
enum { ITEM_HIT, ITEM_CHECK, ITEM_VERIFIED };

/* Verify side by side the items that need it: the batch kernel fills its
 * lanes with different objects. Marks a failed item's rcs. */
static void verify_items(b3cas_store *s, const b3cas_oid *ids, size_t n,
			 void **data, const size_t *lens, int *rcs,
			 const uint8_t *todo)
{
	static const uint8_t nothing[1];
	const void **inputs = NULL;
	size_t *ilens = NULL, *which = NULL, m = 0;
	uint8_t *hashes = NULL;

	if (s->verify && s->lay.hash == B3CAS_HASH_BLAKE3 && n > 1) {
		inputs = malloc(n * sizeof(*inputs));
		ilens = malloc(n * sizeof(*ilens));
		which = malloc(n * sizeof(*which));
		hashes = malloc(n * B3CAS_OID_LEN);
	}
	if (inputs && ilens && which && hashes) {
		for (size_t i = 0; i < n; i++) {
			if (rcs[i] != 0 || todo[i] != ITEM_CHECK)
				continue;
			inputs[m] = data[i] ? data[i] : nothing;
			ilens[m] = lens[i];
			which[m++] = i;
		}
		b3cas_hash_batch(hashes, inputs, ilens, m);
		for (size_t k = 0; k < m; k++) {
			b3cas_oid got;
			size_t i = which[k];

			memcpy(got.bytes, hashes + k * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
			if (!b3cas_oid_equal(&got, &ids[i]))
				rcs[i] = b3cas__digest_mismatch(&ids[i], &got);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (rcs[i] == 0 && todo[i] == ITEM_CHECK)
				rcs[i] = b3cas__verify(s, &ids[i], data[i],
						       lens[i]);
	}
	free(inputs);
	free(ilens);
	free(which);
	free(hashes);
}

int b3cas_store_get_batch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			  void **data_out, size_t *lens_out, int *results)
{
	int *rcs;
	uint64_t *tickets;
	uint8_t *todo, *from;
	uint64_t t0 = b3cas__now_ns();
	int first = 0;

	B3CAS__NONNULL(s, "store");
	if (n > 0) {
		B3CAS__NONNULL(ids, "ids");
		B3CAS__NONNULL(data_out, "data_out");
		B3CAS__NONNULL(lens_out, "lens_out");
	}
	rcs = results ? results : malloc(n * sizeof(*rcs) + 1);
	/* Per item: its L1 ticket, then (at n + i) its L2 ticket. */
	tickets = malloc(2 * n * sizeof(*tickets) + 1);
	todo = malloc(n + 1);
	from = malloc(n + 1);
	if (!rcs || !tickets || !todo || !from) {
		if (rcs != results)
			free(rcs);
		free(tickets);
		free(todo);
		free(from);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* a RADOS store: what this host holds, read from the pool together
	 * into data_out (lens_out), the rest one by one below */
	if (s->tier && n > 1)
		b3cas__tier_prefetch(s, ids, n, data_out, lens_out, tickets,
				     tickets + n);
	else
		for (size_t i = 0; i < n; i++)
			data_out[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		read_source src = FROM_INDEX;
		void *hit;

		todo[i] = ITEM_HIT;
		if (data_out[i]) {
			/* prefetched: checked below like any tier read */
			rcs[i] = 0;
			src = FROM_TIER;
			todo[i] = ITEM_CHECK;
		} else if (b3cas__cache_get(s->cache.l1, &ids[i], &hit)) {
			rcs[i] = b3cas__copy_blob(hit, &data_out[i],
						  &lens_out[i]);
		} else {
			tickets[i] = b3cas__cache_ticket(s->cache.l1, &ids[i]);
			rcs[i] = b3cas__read_object(s, &ids[i], NULL,
						    &data_out[i], &lens_out[i],
						    &src, &tickets[n + i]);
			/* L2 verified its copies already. */
			todo[i] = src == FROM_L2 || src == FROM_CHUNKS
					  ? ITEM_VERIFIED
					  : ITEM_CHECK;
		}
		from[i] = (uint8_t)src;
		if (rcs[i] < 0) {
			data_out[i] = NULL;
			lens_out[i] = 0;
		}
	}
	verify_items(s, ids, n, data_out, lens_out, rcs, todo);
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] == B3CAS_ECORRUPT && todo[i] == ITEM_CHECK &&
		    data_out[i])
			rcs[i] = b3cas__store_on_corrupt(
				s, &ids[i], lens_out[i], from[i] == FROM_TIER,
				rcs[i]);
		if (rcs[i] < 0 && data_out[i]) {
			free(data_out[i]);
			data_out[i] = NULL;
			lens_out[i] = 0;
		}
		if (rcs[i] == B3CAS_ECORRUPT)
			rcs[i] = b3cas__heal(s, &ids[i], rcs[i], &data_out[i],
				      &lens_out[i]);
		if (rcs[i] < 0 && first == 0)
			first = rcs[i];
		if (rcs[i] == 0 && todo[i] != ITEM_HIT) {
			b3cas_l2 *l2 = atomic_load(&s->cache.l2);

			if (from[i] == FROM_TIER && l2)
				b3cas__l2_add(l2, &ids[i], data_out[i],
					      lens_out[i], tickets[n + i]);
			b3cas__l1_offer_copy(s, &ids[i], data_out[i],
					     lens_out[i], tickets[i]);
		}
	}
	if (rcs != results)
		free(rcs);
	free(tickets);
	free(todo);
	free(from);
	b3cas__note_get(s, t0, n);
	return first;
}
