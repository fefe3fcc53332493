/*
 * reference.c - BLAKE3 from the specification (section 2), as plainly as
 * possible. See reference.h. Checked against the official vectors by
 * test_reference.
 */
#include "reference.h"

#include <string.h>

enum {
	F_CHUNK_START = 1,
	F_CHUNK_END = 2,
	F_PARENT = 4,
	F_ROOT = 8,
	F_KEYED = 16,
	F_DERIVE_CONTEXT = 32,
	F_DERIVE_MATERIAL = 64
};

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372,
			       0xA54FF53A, 0x510E527F, 0x9B05688C,
			       0x1F83D9AB, 0x5BE0CD19};

/* The permutation applied to the message words after every round. */
static const int PERM[16] = {2, 6, 3, 10, 7, 0, 4, 13,
			     1, 11, 12, 5, 9, 14, 15, 8};

static uint32_t rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void g(uint32_t v[16], int a, int b, int c, int d, uint32_t mx,
	      uint32_t my)
{
	v[a] = v[a] + v[b] + mx;
	v[d] = rotr(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 12);
	v[a] = v[a] + v[b] + my;
	v[d] = rotr(v[d] ^ v[a], 8);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 7);
}

/* The full 16-word output of the compression function. */
static void compress(uint32_t out[16], const uint32_t cv[8],
		     const uint32_t block[16], uint64_t counter,
		     uint32_t block_len, uint32_t flags)
{
	uint32_t v[16], m[16], t[16];

	for (int i = 0; i < 8; i++)
		v[i] = cv[i];
	for (int i = 0; i < 4; i++)
		v[8 + i] = IV[i];
	v[12] = (uint32_t)counter;
	v[13] = (uint32_t)(counter >> 32);
	v[14] = block_len;
	v[15] = flags;
	memcpy(m, block, sizeof(m));
	for (int round = 0; round < 7; round++) {
		g(v, 0, 4, 8, 12, m[0], m[1]);
		g(v, 1, 5, 9, 13, m[2], m[3]);
		g(v, 2, 6, 10, 14, m[4], m[5]);
		g(v, 3, 7, 11, 15, m[6], m[7]);
		g(v, 0, 5, 10, 15, m[8], m[9]);
		g(v, 1, 6, 11, 12, m[10], m[11]);
		g(v, 2, 7, 8, 13, m[12], m[13]);
		g(v, 3, 4, 9, 14, m[14], m[15]);
		for (int i = 0; i < 16; i++)
			t[i] = m[PERM[i]];
		memcpy(m, t, sizeof(m));
	}
	for (int i = 0; i < 8; i++) {
		out[i] = v[i] ^ v[i + 8];
		out[i + 8] = v[i + 8] ^ cv[i];
	}
}

/* A node not yet compressed: enough to get its chaining value or, if it
 * is the root, any number of output bytes. */
typedef struct node {
	uint32_t cv[8];
	uint32_t block[16];
	uint64_t counter;
	uint32_t block_len;
	uint32_t flags;
} node;

static void words_from_bytes(uint32_t *w, const uint8_t *b, size_t nwords)
{
	for (size_t i = 0; i < nwords; i++)
		w[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		       (uint32_t)b[4 * i + 2] << 16 |
		       (uint32_t)b[4 * i + 3] << 24;
}

static void node_cv(uint32_t cv[8], const node *n)
{
	uint32_t out[16];

	compress(out, n->cv, n->block, n->counter, n->block_len, n->flags);
	memcpy(cv, out, 32);
}

/* The last block of a chunk, with all the blocks before it compressed. */
static void chunk_node(node *n, const uint32_t key[8], uint32_t flags,
		       const uint8_t *in, size_t len, uint64_t chunk_index)
{
	size_t nblocks = len == 0 ? 1 : (len + 63) / 64;
	uint32_t cv[8];

	memcpy(cv, key, 32);
	for (size_t b = 0; b < nblocks; b++) {
		uint8_t block[64] = {0};
		size_t take = len - 64 * b < 64 ? len - 64 * b : 64;
		uint32_t f = flags;

		memcpy(block, in + 64 * b, take);
		if (b == 0)
			f |= F_CHUNK_START;
		if (b + 1 == nblocks) {
			memcpy(n->cv, cv, 32);
			words_from_bytes(n->block, block, 16);
			n->counter = chunk_index;
			n->block_len = (uint32_t)take;
			n->flags = f | F_CHUNK_END;
			return;
		}
		uint32_t words[16], out[16];

		words_from_bytes(words, block, 16);
		compress(out, cv, words, chunk_index, 64, f);
		memcpy(cv, out, 32);
	}
}

/* The node of the subtree over in[0..len), whose first chunk has index
 * first_chunk. */
static void tree_node(node *n, const uint32_t key[8], uint32_t flags,
		      const uint8_t *in, size_t len, uint64_t first_chunk)
{
	size_t chunks = len == 0 ? 1 : (len + 1023) / 1024;
	size_t left_chunks = 1;
	uint32_t left[8], right[8];
	node child;

	if (chunks == 1) {
		chunk_node(n, key, flags, in, len, first_chunk);
		return;
	}
	while (left_chunks * 2 < chunks)
		left_chunks *= 2;
	tree_node(&child, key, flags, in, left_chunks * 1024, first_chunk);
	node_cv(left, &child);
	tree_node(&child, key, flags, in + left_chunks * 1024,
		  len - left_chunks * 1024, first_chunk + left_chunks);
	node_cv(right, &child);
	memcpy(n->cv, key, 32);
	memcpy(n->block, left, 32);
	memcpy(n->block + 8, right, 32);
	n->counter = 0;
	n->block_len = 64;
	n->flags = flags | F_PARENT;
}

/* Output byte at position pos is byte pos % 64 of the root compressed
 * with counter pos / 64. */
static void root_output(uint8_t *out, size_t out_len, uint64_t seek,
			const node *root)
{
	uint32_t words[16];
	uint64_t have = UINT64_MAX; /* block index held in words */

	for (size_t i = 0; i < out_len; i++) {
		uint64_t pos = seek + i;

		if (pos / 64 != have) {
			have = pos / 64;
			compress(words, root->cv, root->block, have,
				 root->block_len, root->flags | F_ROOT);
		}
		out[i] = (uint8_t)(words[(pos % 64) / 4] >> (8 * (pos % 4)));
	}
}

static void run(uint8_t *out, size_t out_len, uint64_t seek,
		const uint32_t key[8], uint32_t flags, const uint8_t *in,
		size_t len)
{
	node root;

	tree_node(&root, key, flags, in, len, 0);
	root_output(out, out_len, seek, &root);
}

void ref_compress(uint8_t out[64], const uint32_t cv[8],
		  const uint8_t block[64], uint32_t block_len,
		  uint64_t counter, uint32_t flags)
{
	uint32_t words[16], state[16];

	words_from_bytes(words, block, 16);
	compress(state, cv, words, counter, block_len, flags);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(state[i] >> (8 * j));
}

void ref_hash(uint8_t *out, size_t out_len, uint64_t seek, const uint8_t *in,
	      size_t len)
{
	run(out, out_len, seek, IV, 0, in, len);
}

void ref_keyed(uint8_t *out, size_t out_len, uint64_t seek,
	       const uint8_t key[32], const uint8_t *in, size_t len)
{
	uint32_t k[8];

	words_from_bytes(k, key, 8);
	run(out, out_len, seek, k, F_KEYED, in, len);
}

void ref_derive(uint8_t *out, size_t out_len, uint64_t seek,
		const void *context, size_t context_len, const uint8_t *in,
		size_t len)
{
	uint8_t context_key[32];
	uint32_t k[8];

	run(context_key, 32, 0, IV, F_DERIVE_CONTEXT, context, context_len);
	words_from_bytes(k, context_key, 8);
	run(out, out_len, seek, k, F_DERIVE_MATERIAL, in, len);
}
