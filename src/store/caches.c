/*
 * store/caches.c - the store's caches: making L1 and L2, keeping them
 * consistent with deletes and GC, and the cache manager API of
 * b3cas/cache.h. The read path that fills them is in store.c.
 *
 * Invariants: L1 never holds an object that is not stored (see
 * store_int.h); L2 may hold a copy of an object that was deleted, which
 * is harmless because L2 is consulted only after the index said the
 * object is stored, and a copy is verified on every read; GC deletes the
 * copies of what it collects.
 */
#include "store/handle.h"

#include <string.h>

#include "util/error.h"

/* L1 shards: enough that threads rarely meet (a hit holds one for tens
 * of ns); b3cas_store_options.l1_bytes documents the size limit of an
 * object this gives (a quarter of a shard: l1_bytes / 256). */
#define L1_SHARDS 64

static int l2_hash(void *ctx, b3cas_oid *out, const void *data, size_t len)
{
	return b3cas__store_hash(ctx, out, data, len);
}

/* Make L2 with capacity bytes, unless it exists. Under l2_lock. */
static int l2_start(b3cas_store *s, uint64_t capacity)
{
	b3cas_l2 *l2;
	int rc;

	if (atomic_load(&s->cache.l2))
		return 0;
	rc = b3cas__l2_open(&l2, s->lay.root_fd, s->lay.root, capacity,
			    l2_hash, s);
	if (rc == 0)
		atomic_store_explicit(&s->cache.l2, l2, memory_order_release);
	return rc;
}

int b3cas__caches_open(b3cas_store *s, uint64_t l1_bytes, uint64_t l2_bytes)
{
	int rc = 0;

	s->cache.l1 = b3cas__cache_new(l1_bytes, L1_SHARDS, B3CAS_POLICY_S3FIFO,
				 &b3cas__blob_hooks);
	if (!s->cache.l1)
		return b3cas__error(B3CAS_ENOMEM, "cannot make the L1 cache");
	atomic_store(&s->cache.l1_capacity, l1_bytes / L1_SHARDS * L1_SHARDS);
	/* A read-only handle leaves L2 to the writing process. */
	if (l2_bytes && !s->read_only) {
		pthread_mutex_lock(&s->cache.l2_lock);
		rc = l2_start(s, l2_bytes);
		pthread_mutex_unlock(&s->cache.l2_lock);
	}
	return rc;
}

void b3cas__caches_close(b3cas_store *s)
{
	b3cas__cache_free(s->cache.l1);
	s->cache.l1 = NULL;
	b3cas__l2_close(atomic_load(&s->cache.l2));
	atomic_store(&s->cache.l2, NULL);
}

void b3cas__caches_forget(b3cas_store *s, const b3cas_oid *id,
			  bool collected)
{
	b3cas_l2 *l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire);

	b3cas__cache_erase(s->cache.l1, id);
	if (collected && l2)
		b3cas__l2_erase(l2, id);
}

int b3cas_cache_lookup(b3cas_store *s, const b3cas_oid *id, b3cas_blob **out)
{
	void *hit;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	if (!b3cas__cache_get(s->cache.l1, id, &hit))
		return 0;
	*out = hit;
	return 1;
}

int b3cas_cache_load(b3cas_store *s, const b3cas_oid *id)
{
	b3cas_blob *blob;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	rc = b3cas__store_load(s, id, &blob);
	b3cas_blob_release(rc == 0 ? blob : NULL);
	return rc;
}

int b3cas_cache_evict(b3cas_store *s, const b3cas_oid *id)
{
	b3cas_l2 *l2;
	bool in_l1, in_l2;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire);
	in_l1 = b3cas__cache_erase(s->cache.l1, id);
	in_l2 = l2 && b3cas__l2_erase(l2, id);
	return in_l1 || in_l2;
}

int b3cas_cache_resize(b3cas_store *s, uint64_t l1_bytes, uint64_t l2_bytes)
{
	b3cas_l2 *l2;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	if (l2_bytes && s->read_only)
		return b3cas__error(B3CAS_EPERM, "cannot use an L2 cache: "
				    "store %s is open read-only", s->lay.root);
	/* Lower the admission limit before evicting, so no new entry above
	 * the new limit slips in behind the eviction. */
	atomic_store(&s->cache.l1_capacity, l1_bytes / L1_SHARDS * L1_SHARDS);
	b3cas__cache_resize(s->cache.l1, l1_bytes);
	pthread_mutex_lock(&s->cache.l2_lock);
	l2 = atomic_load(&s->cache.l2);
	if (l2)
		b3cas__l2_resize(l2, l2_bytes);
	else if (l2_bytes)
		rc = l2_start(s, l2_bytes);
	pthread_mutex_unlock(&s->cache.l2_lock);
	return rc;
}

void b3cas_cache_stats_get(b3cas_store *s, b3cas_cache_stats *out)
{
	b3cas_l2 *l2;

	B3CAS__NONNULL_VOID(s, "store");
	B3CAS__NONNULL_VOID(out, "out");
	l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire);
	memset(out, 0, sizeof(*out));
	b3cas__cache_stats(s->cache.l1, &out->l1);
	if (l2)
		b3cas__l2_stats(l2, &out->l2);
}
