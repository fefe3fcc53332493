/*
 * chunk_nodes.h - the manifest nodes of docs/chunked-objects.md, restated
 * plainly for the tests' reference models (chunk_model.h, the store
 * model): a chunked object's list of chunks is cut into nodes, a node
 * ending after a chunk whose id's last byte has its low 6 bits clear, or
 * at CHUNK_MODEL_NODE_MAX chunks, or at the object's end; a node's id is
 * BLAKE3 of each of its chunks' id and LEB128 length, in order. A node is
 * stored once however many objects name it, and it holds its chunks once.
 */
#ifndef B3CAS_TESTS_CHUNK_NODES_H
#define B3CAS_TESTS_CHUNK_NODES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"

#define CHUNK_MODEL_NODE_MAX 1024

/* Does a node end after the chunk whose id is id (when not full)? */
static inline int chunk_model_node_ends(const b3cas_oid *id)
{
	return (id->bytes[B3CAS_OID_LEN - 1] & 63) == 0;
}

/* The id of the node of the k chunks in ids/lens: BLAKE3 of each chunk's
 * id and LEB128 length, in order. */
static inline void chunk_model_node_id(b3cas_oid *node, const b3cas_oid *ids,
				       const uint32_t *lens, size_t k)
{
	uint8_t *list = malloc(k * (B3CAS_OID_LEN + 5) + 1);
	size_t at = 0;

	if (!list)
		abort();
	for (size_t i = 0; i < k; i++) {
		uint32_t v = lens[i];

		memcpy(list + at, ids[i].bytes, B3CAS_OID_LEN);
		at += B3CAS_OID_LEN;
		do {
			list[at++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v);
	}
	b3cas_hash(node->bytes, list, at);
	free(list);
}

#endif
