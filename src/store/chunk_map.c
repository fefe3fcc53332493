/*
 * store/chunk_map.c - chunk id -> what a snapshot says of it (see
 * chunk_map.h): open addressing with linear probing, grown by doubling
 * before it is 3/4 full.
 */
#include "store/chunk_map.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* Ids are BLAKE3 digests: their first bytes are already uniform. */
static size_t slot_of(const b3cas__chunk_map *m, const b3cas_oid *id)
{
	uint64_t h;

	memcpy(&h, id->bytes, sizeof(h));
	return (size_t)h & (m->cap - 1);
}

b3cas__chunk_slot *b3cas__chunk_map_find(const b3cas__chunk_map *m,
					 const b3cas_oid *id)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = slot_of(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slot[i].used)
			return NULL;
		if (b3cas_oid_equal(&m->slot[i].id, id))
			return &m->slot[i];
	}
}

/* The slot id would take (its own, or the empty one it would fill). */
static b3cas__chunk_slot *place(const b3cas__chunk_map *m,
				const b3cas_oid *id)
{
	size_t i = slot_of(m, id);

	while (m->slot[i].used && !b3cas_oid_equal(&m->slot[i].id, id))
		i = (i + 1) & (m->cap - 1);
	return &m->slot[i];
}

static int grow(b3cas__chunk_map *m)
{
	b3cas__chunk_map bigger = {NULL, m->cap ? m->cap * 2 : 1024, m->n};

	if (m->cap && bigger.cap / 2 != m->cap)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].used)
			*place(&bigger, &m->slot[i].id) = m->slot[i];
	free(m->slot);
	*m = bigger;
	return 0;
}

int b3cas__chunk_map_get(b3cas__chunk_map *m, const b3cas_oid *id,
			 b3cas__chunk_slot **out)
{
	b3cas__chunk_slot *sl;
	int rc;

	if ((m->n + 1) * 4 > m->cap * 3) {
		rc = grow(m);
		if (rc < 0)
			return rc;
	}
	sl = place(m, id);
	if (!sl->used) {
		memset(sl, 0, sizeof(*sl));
		sl->used = true;
		sl->id = *id;
		m->n++;
	}
	*out = sl;
	return 0;
}

void b3cas__chunk_map_free(b3cas__chunk_map *m)
{
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

/* One occurrence of chunk more, in every segment or in a stored object's
 * manifest (named). */
static int add(b3cas__chunk_map *m, const b3cas_oid *chunk, uint32_t len,
	       bool named)
{
	b3cas__chunk_slot *sl;
	int rc = b3cas__chunk_map_get(m, chunk, &sl);

	if (rc < 0)
		return rc;
	if (named)
		sl->named++;
	else
		sl->in_segments++;
	sl->len = len;
	return 0;
}

int b3cas__chunk_map_add_held(const b3cas_oid *chunk, uint32_t len,
			      void *map)
{
	return add(map, chunk, len, false);
}

int b3cas__chunk_map_add_named(const b3cas_oid *chunk, uint32_t len,
			       void *map)
{
	return add(map, chunk, len, true);
}
