/*
 * chunk_model.h - the reference model of chunk occurrences that the
 * chunking tests hold a store against: each input cut here by the FastCDC
 * chunker (the store's policy: min avg/4, max avg*4, seed 0) and each
 * chunk named by one-shot BLAKE3, apart from the store's own put path.
 * The chunks' list is cut into manifest nodes as docs/chunked-objects.md
 * says (a node ends after a chunk whose id's last byte has its low 6 bits
 * clear, or at 1024 chunks; its id is BLAKE3 of "chunk id || LEB128
 * length" for each chunk), and a chunk's count is its occurrences in the
 * distinct nodes added: a node met again (in another object) adds
 * nothing. After chunk_model_fold, refs is sorted by id with each id
 * once.
 *
 * No cmocka here: a failure to set the chunker up aborts.
 */
#ifndef B3CAS_TESTS_CHUNK_MODEL_H
#define B3CAS_TESTS_CHUNK_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "chunk/fastcdc.h"
#include "chunk_nodes.h"

typedef struct chunk_ref {
	b3cas_oid id;
	uint64_t count;
} chunk_ref;

typedef struct chunk_model {
	chunk_ref *refs;
	size_t n, cap;
	b3cas_oid *nodes; /* the distinct nodes added */
	size_t nn, ncap;
} chunk_model;


static inline int chunk_ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, B3CAS_OID_LEN);
}

static inline void chunk_model_push(chunk_model *m, const b3cas_oid *id,
				    uint64_t times)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->refs = realloc(m->refs, m->cap * sizeof(*m->refs));
		if (!m->refs)
			abort();
	}
	m->refs[m->n].id = *id;
	m->refs[m->n++].count = times;
}

/* The node of the k chunks in ids/lens: added to m unless m has it. */
static inline void chunk_model_node(chunk_model *m, const b3cas_oid *ids,
				    const uint32_t *lens, size_t k,
				    uint64_t times)
{
	b3cas_oid node;

	chunk_model_node_id(&node, ids, lens, k);
	for (size_t i = 0; i < m->nn; i++)
		if (b3cas_oid_equal(&m->nodes[i], &node))
			return;
	if (m->nn == m->ncap) {
		m->ncap = m->ncap ? m->ncap * 2 : 64;
		m->nodes = realloc(m->nodes, m->ncap * sizeof(*m->nodes));
		if (!m->nodes)
			abort();
	}
	m->nodes[m->nn++] = node;
	for (size_t i = 0; i < k; i++)
		chunk_model_push(m, &ids[i], times);
}

/* Add the chunks of data (as the chunker cuts it with average avg) to m,
 * times times each, node by node. */
static inline void chunk_model_add(chunk_model *m, const uint8_t *data,
				   size_t len, uint64_t times, uint32_t avg)
{
	b3cas_oid *ids = malloc(CHUNK_MODEL_NODE_MAX * sizeof(*ids));
	uint32_t *lens = malloc(CHUNK_MODEL_NODE_MAX * sizeof(*lens));
	size_t k = 0;
	b3cas_cdc cdc;

	if (!ids || !lens || b3cas__cdc_init(&cdc, avg / 4, avg, avg * 4, 0) != 0) {
		fprintf(stderr, "chunk_model: cannot cut at %u\n", avg);
		abort();
	}
	for (size_t off = 0; off < len;) {
		size_t cl = b3cas__cdc_cut(NULL, &cdc, data + off, len - off);

		b3cas_hash(ids[k].bytes, data + off, cl);
		lens[k++] = (uint32_t)cl;
		off += cl;
		if (chunk_model_node_ends(&ids[k - 1]) ||
		    k == CHUNK_MODEL_NODE_MAX || off == len) {
			chunk_model_node(m, ids, lens, k, times);
			k = 0;
		}
	}
	free(ids);
	free(lens);
}

/* Merge equal ids, summing their counts. */
static inline void chunk_model_fold(chunk_model *m)
{
	size_t k = 0;

	qsort(m->refs, m->n, sizeof(*m->refs), chunk_ref_cmp);
	for (size_t i = 0; i < m->n; i++) {
		if (k && b3cas_oid_equal(&m->refs[k - 1].id, &m->refs[i].id))
			m->refs[k - 1].count += m->refs[i].count;
		else
			m->refs[k++] = m->refs[i];
	}
	m->n = k;
}

/* id's count in a folded model (0: not a chunk of it). */
static inline uint64_t chunk_model_count(const chunk_model *m,
					 const b3cas_oid *id)
{
	const chunk_ref *r = m->n ? bsearch(id, m->refs, m->n,
					    sizeof(*m->refs), chunk_ref_cmp)
				  : NULL;

	return r ? r->count : 0;
}

static inline void chunk_model_free(chunk_model *m)
{
	free(m->refs);
	free(m->nodes);
	memset(m, 0, sizeof(*m));
}

#endif
