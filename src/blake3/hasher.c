/*
 * hasher.c - the incremental BLAKE3 hasher, extendable output, and the
 * one-shot functions.
 *
 * The hasher keeps the current chunk (chaining value plus one buffered
 * block) and a stack of chaining values of finished subtrees, largest at
 * the bottom. Two rules keep the tree right:
 *   - a block, chunk or subtree is only finished (compressed without the
 *     ROOT flag) once we know more input follows it, because the last node
 *     of the message must be compressed with ROOT;
 *   - whenever more input is known to follow the stacked values, the stack
 *     is merged down to one entry per set bit of the number of chunks so
 *     far (the complete subtrees that number decomposes into).
 * Large updates hash whole aligned subtrees at once through tree.c.
 * Nothing here allocates: the hasher is a plain value.
 */
#include "blake3_int.h"
#include "tree.h"
#include "util/error.h"

/* A node whose compression gives either a chaining value or root output. */
typedef struct b3_node {
	uint32_t cv[8];
	uint8_t block[64];
	uint8_t block_len;
	uint8_t flags;
	uint64_t counter;
} b3_node;

static void hasher_setup(b3cas_hasher *h, const uint32_t key[8], uint8_t flags)
{
	memcpy(h->key, key, 32);
	h->flags = flags;
	b3cas_hasher_reset(h);
}

void b3cas_hasher_reset(b3cas_hasher *h)
{
	B3CAS__NONNULL_VOID(h, "h");
	memcpy(h->cv, h->key, 32);
	h->chunk_counter = 0;
	memset(h->buf, 0, sizeof(h->buf));
	h->buf_len = 0;
	h->blocks_compressed = 0;
	h->cv_stack_len = 0;
}

void b3cas_hasher_init(b3cas_hasher *h)
{
	B3CAS__NONNULL_VOID(h, "h");
	hasher_setup(h, b3_iv, 0);
}

void b3cas_hasher_init_keyed(b3cas_hasher *h, const uint8_t key[B3CAS_KEY_LEN])
{
	uint32_t key_words[8];

	B3CAS__NONNULL_VOID(h, "h");
	B3CAS__NONNULL_VOID(key, "key");
	b3_load_key(key_words, key);
	hasher_setup(h, key_words, B3_KEYED_HASH);
}

void b3cas_hasher_init_derive_key_raw(b3cas_hasher *h, const void *context,
				      size_t context_len)
{
	b3cas_hasher ctx;
	uint8_t context_key[32];
	uint32_t key_words[8];

	B3CAS__NONNULL_VOID(h, "h");
	B3CAS__NONNULL_LEN_VOID(context, "context", context_len,
				"context_len");
	hasher_setup(&ctx, b3_iv, B3_DERIVE_KEY_CONTEXT);
	b3cas_hasher_update(&ctx, context, context_len);
	b3cas_hasher_finalize(context_key, 32, &ctx);
	b3_load_key(key_words, context_key);
	hasher_setup(h, key_words, B3_DERIVE_KEY_MATERIAL);
}

void b3cas_hasher_init_derive_key(b3cas_hasher *h, const char *context)
{
	B3CAS__NONNULL_VOID(h, "h");
	B3CAS__NONNULL_VOID(context, "context");
	b3cas_hasher_init_derive_key_raw(h, context, strlen(context));
}

/* ---- the current chunk ---- */

static size_t chunk_len(const b3cas_hasher *h)
{
	return (size_t)h->blocks_compressed * B3_BLOCK_LEN + h->buf_len;
}

static uint8_t chunk_start_flag(const b3cas_hasher *h)
{
	return h->blocks_compressed == 0 ? B3_CHUNK_START : 0;
}

/* Add at most B3_CHUNK_LEN - chunk_len(h) bytes to the current chunk. The
 * last block always stays buffered: it may need CHUNK_END or ROOT. */
static void chunk_update(b3cas_hasher *h, const uint8_t *in, size_t len,
			 const b3_kernels *k)
{
	if (h->buf_len > 0) {
		size_t take = B3_BLOCK_LEN - h->buf_len;

		if (take > len)
			take = len;
		memcpy(h->buf + h->buf_len, in, take);
		h->buf_len = (uint8_t)(h->buf_len + take);
		in += take;
		len -= take;
		if (len == 0)
			return;
		k->compress(h->cv, h->buf, B3_BLOCK_LEN, h->chunk_counter,
			    h->flags | chunk_start_flag(h));
		h->blocks_compressed++;
		h->buf_len = 0;
	}
	if (len > B3_BLOCK_LEN) {
		size_t whole = (len - 1) / B3_BLOCK_LEN;

		k->chunk(h->cv, in, whole * B3_BLOCK_LEN, h->chunk_counter,
			 h->flags, chunk_start_flag(h), 0);
		h->blocks_compressed = (uint8_t)(h->blocks_compressed + whole);
		in += whole * B3_BLOCK_LEN;
		len -= whole * B3_BLOCK_LEN;
	}
	memcpy(h->buf, in, len);
	h->buf_len = (uint8_t)len;
}

static void chunk_node(b3_node *n, const b3cas_hasher *h)
{
	memcpy(n->cv, h->cv, 32);
	memcpy(n->block, h->buf, h->buf_len);
	memset(n->block + h->buf_len, 0, B3_BLOCK_LEN - h->buf_len);
	n->block_len = h->buf_len;
	n->counter = h->chunk_counter;
	n->flags = h->flags | chunk_start_flag(h) | B3_CHUNK_END;
}

static void parent_node(b3_node *n, const uint8_t left[32],
			const uint8_t right[32], const uint32_t key[8],
			uint8_t flags)
{
	memcpy(n->cv, key, 32);
	memcpy(n->block, left, 32);
	memcpy(n->block + 32, right, 32);
	n->block_len = B3_BLOCK_LEN;
	n->counter = 0;
	n->flags = flags | B3_PARENT;
}

static void node_cv(uint8_t out[32], const b3_node *n, const b3_kernels *k)
{
	uint32_t cv[8];

	memcpy(cv, n->cv, 32);
	k->compress(cv, n->block, n->block_len, n->counter, n->flags);
	b3_store_cv(out, cv);
}

/* ---- the stack of finished subtrees ---- */

static void merge_stack(b3cas_hasher *h, uint64_t total_chunks,
			const b3_kernels *k)
{
	size_t keep = (size_t)__builtin_popcountll(total_chunks);

	while (h->cv_stack_len > keep) {
		uint8_t *left = h->cv_stack + (h->cv_stack_len - 2) * 32;
		b3_node n;

		parent_node(&n, left, left + 32, h->key, h->flags);
		node_cv(left, &n, k);
		h->cv_stack_len--;
	}
}

static void push_cv(b3cas_hasher *h, const uint8_t cv[32], uint64_t chunks,
		    const b3_kernels *k)
{
	merge_stack(h, h->chunk_counter, k);
	memcpy(h->cv_stack + (size_t)h->cv_stack_len * 32, cv, 32);
	h->cv_stack_len++;
	h->chunk_counter += chunks;
}

/*
 * Largest subtree (in chunks) that may start at the hasher's chunk counter
 * and fits in len bytes: a power of two dividing the counter.
 */
static uint64_t subtree_chunks_at(const b3cas_hasher *h, size_t len)
{
	uint64_t n = b3_pow2_floor(len / B3_CHUNK_LEN);

	if (n > ((uint64_t)1 << B3_TREE_MAX_LOG))
		n = (uint64_t)1 << B3_TREE_MAX_LOG;
	while (h->chunk_counter & (n - 1))
		n >>= 1;
	return n;
}

/*
 * Push the result of hashing an aligned subtree of n chunks: its chaining
 * value when input follows it, else its top block (two halves), so that
 * the root can still be compressed with ROOT at finalize.
 */
static void push_result(b3cas_hasher *h, const uint8_t *top_or_cv,
			uint64_t n, bool more_follows, const b3_kernels *k)
{
	if (more_follows || n == 1) {
		push_cv(h, top_or_cv, n, k);
	} else {
		push_cv(h, top_or_cv, n / 2, k);
		push_cv(h, top_or_cv + 32, n / 2, k);
	}
}

void b3_hasher_hash_subtree(b3cas_hasher *h, const uint8_t *in, uint64_t n,
			    bool more_follows, const b3_kernels *k)
{
	uint8_t result[64];

	if (more_follows || n == 1)
		b3_subtree_cv(result, in, (size_t)n, h->key, h->chunk_counter,
			      h->flags, k);
	else
		b3_tree_top(result, in, (size_t)n, NULL, h->key,
			    h->chunk_counter, h->flags, k);
	push_result(h, result, n, more_follows, k);
}

void b3_hasher_update_with(b3cas_hasher *h, const uint8_t *in, size_t len,
			   const b3_kernels *k, b3_subtree_fn subtree,
			   void *subtree_arg)
{
	size_t have = chunk_len(h);

	if (len == 0) /* data may be NULL then: touch nothing */
		return;
	if (have > 0) {
		size_t take = B3_CHUNK_LEN - have;

		if (take > len)
			take = len;
		chunk_update(h, in, take, k);
		in += take;
		len -= take;
		if (len == 0)
			return;
		/* The chunk is full and more follows: finish it. */
		b3_node n;
		uint8_t cv[32];

		chunk_node(&n, h);
		node_cv(cv, &n, k);
		memcpy(h->cv, h->key, 32);
		h->blocks_compressed = 0;
		h->buf_len = 0;
		push_cv(h, cv, 1, k);
	}
	while (len > B3_CHUNK_LEN) {
		uint64_t n = subtree_chunks_at(h, len);
		size_t bytes = (size_t)n * B3_CHUNK_LEN;

		if (subtree && n > 1)
			subtree(h, in, n, bytes < len, subtree_arg);
		else
			b3_hasher_hash_subtree(h, in, n, bytes < len, k);
		in += bytes;
		len -= bytes;
	}
	if (len > 0) {
		chunk_update(h, in, len, k);
		/* Input now follows everything on the stack. */
		merge_stack(h, h->chunk_counter, k);
	}
}

void b3cas_hasher_update(b3cas_hasher *h, const void *data, size_t len)
{
	B3CAS__NONNULL_VOID(h, "h");
	B3CAS__NONNULL_LEN_VOID(data, "data", len, "len");
	b3_hasher_update_with(h, data, len, b3_kernels_active(), NULL, NULL);
}

void b3_hasher_push_result(b3cas_hasher *h, const uint8_t *top_or_cv,
			   uint64_t n, bool more_follows)
{
	push_result(h, top_or_cv, n, more_follows, b3_kernels_active());
}

/* ---- output ---- */

static void root_node(b3_node *n, const b3cas_hasher *h, const b3_kernels *k)
{
	size_t remaining = h->cv_stack_len;

	if (remaining == 0) {
		chunk_node(n, h);
		return;
	}
	if (chunk_len(h) > 0) {
		chunk_node(n, h);
	} else {
		remaining -= 2;
		parent_node(n, h->cv_stack + remaining * 32,
			    h->cv_stack + (remaining + 1) * 32, h->key,
			    h->flags);
	}
	while (remaining > 0) {
		uint8_t cv[32];

		remaining--;
		node_cv(cv, n, k);
		parent_node(n, h->cv_stack + remaining * 32, cv, h->key,
			    h->flags);
	}
}

static void node_root_bytes(uint8_t *out, size_t out_len, const b3_node *n,
			    uint64_t seek, const b3_kernels *k)
{
	uint64_t block = seek / B3_BLOCK_LEN;
	size_t skip = (size_t)(seek % B3_BLOCK_LEN);
	uint8_t flags = n->flags | B3_ROOT;
	uint8_t tmp[64];

	if (out_len == 0)
		return;
	if (skip > 0) {
		size_t take = B3_BLOCK_LEN - skip;

		if (take > out_len)
			take = out_len;
		k->compress_xof(tmp, n->cv, n->block, n->block_len, block,
				flags);
		memcpy(out, tmp + skip, take);
		out += take;
		out_len -= take;
		block++;
	}
	size_t whole = out_len / B3_BLOCK_LEN;

	if (whole > 0) {
		k->xof_many(out, n->cv, n->block, n->block_len, block, flags,
			    whole);
		out += whole * B3_BLOCK_LEN;
		out_len -= whole * B3_BLOCK_LEN;
		block += whole;
	}
	if (out_len > 0) {
		k->compress_xof(tmp, n->cv, n->block, n->block_len, block,
				flags);
		memcpy(out, tmp, out_len);
	}
}

static void node_root_hash(uint8_t out[32], const b3_node *n,
			   const b3_kernels *k)
{
	uint32_t cv[8];

	memcpy(cv, n->cv, 32);
	k->compress(cv, n->block, n->block_len, 0, n->flags | B3_ROOT);
	b3_store_cv(out, cv);
}

void b3cas_hasher_finalize_seek(uint8_t *out, size_t out_len,
				const b3cas_hasher *h, uint64_t seek)
{
	const b3_kernels *k = b3_kernels_active();
	b3_node n;

	B3CAS__NONNULL_LEN_VOID(out, "out", out_len, "out_len");
	B3CAS__NONNULL_VOID(h, "h");
	root_node(&n, h, k);
	if (seek == 0 && out_len == B3_OUT_LEN)
		node_root_hash(out, &n, k);
	else
		node_root_bytes(out, out_len, &n, seek, k);
}

void b3cas_hasher_finalize(uint8_t *out, size_t out_len,
			   const b3cas_hasher *h)
{
	B3CAS__NONNULL_LEN_VOID(out, "out", out_len, "out_len");
	B3CAS__NONNULL_VOID(h, "h");
	b3cas_hasher_finalize_seek(out, out_len, h, 0);
}

/* ---- one-shot ---- */

/*
 * Root node of a message of at most one chunk, without a hasher: every
 * block but the last compressed straight from the input.
 */
static void single_chunk_node(b3_node *n, const uint8_t *in, size_t len,
			      uint64_t counter, const uint32_t key[8],
			      uint8_t flags, const b3_kernels *k)
{
	uint8_t start = B3_CHUNK_START;

	memcpy(n->cv, key, 32);
	if (len > B3_BLOCK_LEN) {
		size_t whole = (len - 1) / B3_BLOCK_LEN * B3_BLOCK_LEN;

		k->chunk(n->cv, in, whole, counter, flags, start, 0);
		start = 0;
		in += whole;
		len -= whole;
	}
	if (len > 0)
		memcpy(n->block, in, len);
	memset(n->block + len, 0, B3_BLOCK_LEN - len);
	n->block_len = (uint8_t)len;
	n->counter = counter;
	n->flags = flags | start | B3_CHUNK_END;
}

/*
 * Root node of a whole message known in advance: one wide tree pass when
 * it fits, else the incremental hasher (which still hashes 64 MiB subtrees
 * at a time).
 */
static void message_root(b3_node *n, const uint8_t *in, size_t len,
			 const uint32_t key[8], uint8_t flags,
			 const b3_kernels *k)
{
	if (len <= B3_CHUNK_LEN) {
		single_chunk_node(n, in, len, 0, key, flags, k);
		return;
	}
	size_t full = len / B3_CHUNK_LEN;
	size_t rest = len % B3_CHUNK_LEN;

	if (full <= ((size_t)1 << B3_TREE_MAX_LOG)) {
		uint8_t last_cv[32];

		if (rest > 0) {
			uint32_t cv[8];

			memcpy(cv, key, 32);
			k->chunk(cv, in + full * B3_CHUNK_LEN, rest, full,
				 flags, B3_CHUNK_START, B3_CHUNK_END);
			b3_store_cv(last_cv, cv);
		}
		memcpy(n->cv, key, 32);
		b3_tree_top(n->block, in, full, rest > 0 ? last_cv : NULL, key,
			    0, flags, k);
		n->block_len = B3_BLOCK_LEN;
		n->counter = 0;
		n->flags = flags | B3_PARENT;
		return;
	}
	b3cas_hasher h;

	hasher_setup(&h, key, flags);
	b3_hasher_update_with(&h, in, len, k, NULL, NULL);
	root_node(n, &h, k);
}

/* The 32-byte hash of a whole message. One chunk is one kernel call. */
static void message_hash(uint8_t out[32], const uint8_t *in, size_t len,
			 const uint32_t key[8], uint8_t flags)
{
	const b3_kernels *k = b3_kernels_active();
	b3_node n;

	if (len <= B3_CHUNK_LEN) {
		uint32_t cv[8];

		memcpy(cv, key, 32);
		k->chunk(cv, in, len, 0, flags, B3_CHUNK_START,
			 B3_CHUNK_END | B3_ROOT);
		b3_store_cv(out, cv);
		return;
	}
	message_root(&n, in, len, key, flags, k);
	node_root_hash(out, &n, k);
}

void b3cas_hash(uint8_t out[B3CAS_OUT_LEN], const void *data, size_t len)
{
	B3CAS__NONNULL_VOID(out, "out");
	B3CAS__NONNULL_LEN_VOID(data, "data", len, "len");
	message_hash(out, data, len, b3_iv, 0);
}

void b3cas_hash_keyed(uint8_t out[B3CAS_OUT_LEN],
		      const uint8_t key[B3CAS_KEY_LEN], const void *data,
		      size_t len)
{
	uint32_t key_words[8];

	B3CAS__NONNULL_VOID(out, "out");
	B3CAS__NONNULL_VOID(key, "key");
	B3CAS__NONNULL_LEN_VOID(data, "data", len, "len");
	b3_load_key(key_words, key);
	message_hash(out, data, len, key_words, B3_KEYED_HASH);
}

void b3cas_derive_key(uint8_t *out, size_t out_len, const char *context,
		      const void *material, size_t material_len)
{
	b3cas_hasher h;

	B3CAS__NONNULL_LEN_VOID(out, "out", out_len, "out_len");
	B3CAS__NONNULL_VOID(context, "context");
	B3CAS__NONNULL_LEN_VOID(material, "material", material_len,
				"material_len");
	b3cas_hasher_init_derive_key(&h, context);
	b3cas_hasher_update(&h, material, material_len);
	b3cas_hasher_finalize(out, out_len, &h);
}
