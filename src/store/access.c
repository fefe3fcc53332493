/*
 * store/access.c - what the layers above the store (maintenance: gc, fsck,
 * backup, restore, recover, stats) may know of a handle, as functions:
 * its layout, index, digest and L2, whether it is read-only, its stripe
 * locks, and the counters they add to. No other layer reads a field of
 * struct b3cas_store (store/handle.h is private to src/store/).
 *
 * Also the store's bindings of the mechanisms to its own state: hashing
 * with its digest and quarantining with its layout, stripes and digest
 * (a read-only handle never moves a file; every move is counted).
 */
#include "store/handle.h"

#include "layout/quarantine.h"
#include "util/error.h"

b3cas_layout *b3cas__store_layout(b3cas_store *s)
{
	return &s->lay;
}

b3cas_index *b3cas__store_index(b3cas_store *s)
{
	return s->ix;
}

b3cas_digest *b3cas__store_digest(b3cas_store *s)
{
	return &s->digest;
}

b3cas_l2 *b3cas__store_l2(b3cas_store *s)
{
	return atomic_load(&s->cache.l2);
}

struct b3cas_filter *b3cas__store_filter(b3cas_store *s)
{
	return s->filter;
}

bool b3cas__store_read_only(const b3cas_store *s)
{
	return s->read_only;
}

pthread_mutex_t *b3cas__store_stripe(b3cas_store *s, const b3cas_oid *id)
{
	return b3cas__stripe_of(&s->stripes, id->bytes);
}

void b3cas__store_note_gc(b3cas_store *s, uint64_t objects, uint64_t bytes,
			  uint64_t ns)
{
	atomic_fetch_add_explicit(&s->count.gc_runs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count.gc_objects, objects,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count.gc_bytes, bytes,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count.gc_ns, ns, memory_order_relaxed);
	b3cas__store_note_removed(s, objects);
}

void b3cas__store_note_removed(b3cas_store *s, uint64_t n)
{
	b3cas__filter_note_freed(s->filter, n);
}

void b3cas__store_filter_add(b3cas_store *s, const b3cas_oid *id)
{
	b3cas__filter_add(s->filter, id);
}

int b3cas__store_hasher_init(b3cas_digest_state *h, b3cas_store *s)
{
	return b3cas__digest_begin(h, &s->digest);
}

int b3cas__store_hash(b3cas_store *s, b3cas_oid *out, const void *data,
		      size_t len)
{
	return b3cas__digest(&s->digest, out, data, len);
}

int b3cas__file_check(b3cas_store *s, int fd, const b3cas_oid *id,
		      uint64_t size, uint8_t *buf, size_t buf_len,
		      uint64_t *hashed)
{
	return b3cas__digest_file_check(&s->digest, fd, id, size, buf,
					buf_len, hashed);
}

static int counted(b3cas_store *s, int moved)
{
	if (moved)
		atomic_fetch_add_explicit(&s->count.quarantined, 1,
					  memory_order_relaxed);
	return moved;
}

int b3cas__quarantine_loose(b3cas_store *s, const b3cas_oid *id,
			    uint64_t size)
{
	if (s->read_only || s->tier)
		return 0; /* not ours to move (a RADOS store: no file here):
			   * counted as a corrupt read only */
	return counted(s, b3cas__quarantine_checked(&s->lay, &s->stripes,
						    &s->digest, id, size));
}

int b3cas__quarantine_move_locked(b3cas_store *s, const b3cas_oid *id)
{
	if (s->read_only)
		return 0;
	return counted(s, b3cas__quarantine_move(&s->lay, id));
}
