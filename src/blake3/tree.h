/*
 * tree.h - wide hashing of runs of whole chunks (tree.c). Private to
 * src/blake3/.
 */
#ifndef B3CAS_BLAKE3_TREE_H
#define B3CAS_BLAKE3_TREE_H

#include "blake3_int.h"

/* Largest run b3_tree_top takes at once: 2^16 chunks = 64 MiB. */
#define B3_TREE_MAX_LOG 16

/*
 * Hash full_chunks whole chunks at input (chunk counters counter onwards),
 * followed by the chaining value last_cv of one more chunk when last_cv is
 * not NULL, as one BLAKE3 tree; write the 64-byte block of its top parent
 * node (left child cv, right child cv). The leaves must number at least 2
 * and at most 2^B3_TREE_MAX_LOG + 1.
 */
void b3_tree_top(uint8_t top[64], const uint8_t *input, size_t full_chunks,
		 const uint8_t *last_cv, const uint32_t key[8],
		 uint64_t counter, uint8_t flags, const b3_kernels *k);

#endif
