/*
 * vectors.h - the official BLAKE3 test vectors (tests/data/
 * blake3_test_vectors.json), loaded with jansson.
 */
#ifndef B3CAS_TEST_VECTORS_H
#define B3CAS_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#define VEC_MAX_OUT 131

typedef struct vcase {
	size_t input_len;
	size_t out_len;
	uint8_t hash[VEC_MAX_OUT], keyed[VEC_MAX_OUT], derive[VEC_MAX_OUT];
} vcase;

typedef struct vset {
	vcase *cases;
	size_t count;
	uint8_t key[32];
	char context[128];
} vset;

/* Load the official vectors; 0 or -1 (with a message on stderr). */
int vectors_load(vset *out);
void vectors_free(vset *v);

#endif
