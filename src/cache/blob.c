/*
 * cache/blob.c - reference-counted, immutable object bytes: what L1 holds
 * and what a view lends. A blob is one allocation (header, then the bytes
 * at a 64-byte boundary) and knows nothing of stores or caches, so it may
 * outlive both. Its bytes are written once, before it is first shared.
 */
#include "cache/cache.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "util/error.h"

#define BLOB_ALIGN 64

struct b3cas_blob {
	atomic_uint refs;
	size_t len;
	uint8_t *bytes;
};

b3cas_blob *b3cas__blob_new(size_t len)
{
	size_t head = (sizeof(struct b3cas_blob) + BLOB_ALIGN - 1) &
		      ~(size_t)(BLOB_ALIGN - 1);
	b3cas_blob *b;

	if (len > SIZE_MAX - head - BLOB_ALIGN)
		return NULL;
	b = aligned_alloc(BLOB_ALIGN,
			  (head + len + BLOB_ALIGN - 1) &
				  ~(size_t)(BLOB_ALIGN - 1));
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	b->bytes = (uint8_t *)b + head;
	return b;
}

uint8_t *b3cas__blob_bytes(b3cas_blob *b)
{
	return b->bytes;
}

const void *b3cas_blob_data(const b3cas_blob *b)
{
	B3CAS__NONNULL_OR(b, "blob", NULL);
	return b->bytes;
}

size_t b3cas_blob_size(const b3cas_blob *b)
{
	B3CAS__NONNULL_OR(b, "blob", 0);
	return b->len;
}

b3cas_blob *b3cas_blob_retain(b3cas_blob *b)
{
	B3CAS__NONNULL_OR(b, "blob", NULL);
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void b3cas_blob_release(b3cas_blob *b)
{
	if (!b)
		return;
	/* The last release must see every write made through the others. */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

static void blob_hold(void *payload)
{
	b3cas_blob_retain(payload);
}

static void blob_drop(const b3cas_oid *id, void *payload, void *ctx)
{
	(void)id;
	(void)ctx;
	b3cas_blob_release(payload);
}

const b3cas_cache_hooks b3cas__blob_hooks = {blob_hold, blob_drop, NULL};
