/*
 * tree.c - hashing many whole chunks as one BLAKE3 tree, as wide as the
 * kernel allows.
 *
 * BLAKE3's tree over n chunks is the left-balanced binary tree: it is what
 * you get by pairing neighbours left to right at every level and carrying
 * a lone last node up unchanged. So instead of recursing, we stream: chunk
 * chaining values go into a level-0 buffer 32 at a time (two groups of 16
 * lanes for the widest kernel), and whenever a level holds 64 values its
 * 32 parents are hashed in one call into the level above. Every
 * compression except the last few near the top runs at full SIMD width,
 * and memory stays at one small buffer per level (on the stack: 2 KiB per
 * level).
 *
 * Invariant of the main loop: every level holds 0 or 32 values; pairs are
 * always formed from globally even positions, so early merging gives the
 * same tree as merging at the end.
 */
#include "tree.h"

#define GROUP 32     /* chunks (or parents) per kernel call */
#define LEVEL_CAP 64 /* values a level holds before it is folded */

typedef struct cascade {
	uint8_t cv[B3_TREE_MAX_LOG + 2][LEVEL_CAP * B3_OUT_LEN];
	uint8_t n[B3_TREE_MAX_LOG + 2];
	int top; /* highest level that has ever held a value */
} cascade;

static void fold_level(cascade *c, int level, size_t pairs,
		       const uint32_t key[8], uint8_t flags,
		       const b3_kernels *k)
{
	uint8_t *dst = c->cv[level + 1] + (size_t)c->n[level + 1] * B3_OUT_LEN;

	if (pairs > 0)
		k->hash_many(dst, c->cv[level], B3_BLOCK_LEN, pairs, 1, key, 0,
			     false, flags | B3_PARENT, 0, 0);
	c->n[level + 1] = (uint8_t)(c->n[level + 1] + pairs);
	if (level + 1 > c->top)
		c->top = level + 1;
}

/* After GROUP values were appended to level 0: fold every full level. */
static void settle(cascade *c, const uint32_t key[8], uint8_t flags,
		   const b3_kernels *k)
{
	for (int level = 0; c->n[level] == LEVEL_CAP; level++) {
		fold_level(c, level, LEVEL_CAP / 2, key, flags, k);
		c->n[level] = 0;
	}
}

/* Reduce what is left to the top pair. Returns its 64-byte block. */
static void finish(uint8_t top[64], cascade *c, const uint32_t key[8],
		   uint8_t flags, const b3_kernels *k)
{
	for (int level = 0;; level++) {
		size_t n = c->n[level];

		if (n == 0)
			continue;
		if (level == c->top && n == 2) {
			memcpy(top, c->cv[level], 64);
			return;
		}
		fold_level(c, level, n / 2, key, flags, k);
		if (n & 1) {
			uint8_t *dst = c->cv[level + 1] +
				       (size_t)c->n[level + 1] * B3_OUT_LEN;

			memcpy(dst, c->cv[level] + (n - 1) * B3_OUT_LEN,
			       B3_OUT_LEN);
			c->n[level + 1]++;
		}
		c->n[level] = 0;
	}
}

void b3_tree_top(uint8_t top[64], const uint8_t *input, size_t full_chunks,
		 const uint8_t *last_cv, const uint32_t key[8],
		 uint64_t counter, uint8_t flags, const b3_kernels *k)
{
	cascade c;
	size_t done = 0;

	memset(c.n, 0, sizeof(c.n));
	c.top = 0;
	while (full_chunks - done >= GROUP) {
		k->hash_many(c.cv[0] + (size_t)c.n[0] * B3_OUT_LEN,
			     input + done * B3_CHUNK_LEN, B3_CHUNK_LEN, GROUP,
			     B3_CHUNK_LEN / B3_BLOCK_LEN, key, counter + done,
			     true, flags, B3_CHUNK_START, B3_CHUNK_END);
		c.n[0] += GROUP;
		done += GROUP;
		settle(&c, key, flags, k);
	}
	if (done < full_chunks) {
		size_t rest = full_chunks - done;

		k->hash_many(c.cv[0] + (size_t)c.n[0] * B3_OUT_LEN,
			     input + done * B3_CHUNK_LEN, B3_CHUNK_LEN, rest,
			     B3_CHUNK_LEN / B3_BLOCK_LEN, key, counter + done,
			     true, flags, B3_CHUNK_START, B3_CHUNK_END);
		c.n[0] = (uint8_t)(c.n[0] + rest);
	}
	if (last_cv) {
		memcpy(c.cv[0] + (size_t)c.n[0] * B3_OUT_LEN, last_cv,
		       B3_OUT_LEN);
		c.n[0]++;
	}
	finish(top, &c, key, flags, k);
}

void b3_subtree_cv(uint8_t out[32], const uint8_t *input, size_t chunks,
		   const uint32_t key[8], uint64_t counter, uint8_t flags,
		   const b3_kernels *k)
{
	if (chunks == 1) {
		k->hash_many(out, input, B3_CHUNK_LEN, 1,
			     B3_CHUNK_LEN / B3_BLOCK_LEN, key, counter, true,
			     flags, B3_CHUNK_START, B3_CHUNK_END);
		return;
	}
	uint8_t top[64];
	uint32_t cv[8];

	b3_tree_top(top, input, chunks, NULL, key, counter, flags, k);
	memcpy(cv, key, 32);
	k->compress(cv, top, B3_BLOCK_LEN, 0, flags | B3_PARENT);
	b3_store_cv(out, cv);
}
