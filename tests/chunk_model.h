/*
 * chunk_model.h - the reference model of chunk occurrences that the
 * chunking tests hold a store against: each input cut here by the FastCDC
 * chunker (the store's policy: min avg/4, max avg*4, seed 0) and each
 * chunk named by one-shot BLAKE3, apart from the store's own put path.
 * After chunk_model_fold, refs is sorted by id with each id once.
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

typedef struct chunk_ref {
	b3cas_oid id;
	uint64_t count;
} chunk_ref;

typedef struct chunk_model {
	chunk_ref *refs;
	size_t n, cap;
} chunk_model;

static inline int chunk_ref_cmp(const void *a, const void *b)
{
	return memcmp(a, b, B3CAS_OID_LEN);
}

/* Add the chunks of data (as the chunker cuts it with average avg) to m,
 * times times each. */
static inline void chunk_model_add(chunk_model *m, const uint8_t *data,
				   size_t len, uint64_t times, uint32_t avg)
{
	b3cas_cdc cdc;

	if (b3cas__cdc_init(&cdc, avg / 4, avg, avg * 4, 0) != 0) {
		fprintf(stderr, "chunk_model: cannot cut at %u\n", avg);
		abort();
	}
	for (size_t off = 0; off < len;) {
		size_t cl = b3cas__cdc_cut(NULL, &cdc, data + off, len - off);

		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 1024;
			m->refs = realloc(m->refs, m->cap * sizeof(*m->refs));
			if (!m->refs)
				abort();
		}
		b3cas_hash(m->refs[m->n].id.bytes, data + off, cl);
		m->refs[m->n++].count = times;
		off += cl;
	}
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

#endif
