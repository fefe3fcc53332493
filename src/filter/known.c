/*
 * filter/known.c - the set of ids known to be stored (see known.h).
 */
#include "filter/known.h"

#include <stdlib.h>
#include <string.h>

#include "stripe/stripes.h"
#include "util/bigmem.h"

/* A set must lie inside one lock stripe (b3cas__stripe_index). */
#define STRIPES B3CAS_STRIPES
#define SETS 2       /* per stripe */
#define WAYS 8

struct b3cas_known {
	b3cas_oid ids[STRIPES * SETS][WAYS];
	uint8_t used[STRIPES * SETS]; /* bit w: way w holds an id */
	uint8_t next[STRIPES * SETS]; /* round-robin victim */
};

uint64_t b3cas__known_capacity(void)
{
	return (uint64_t)STRIPES * SETS * WAYS;
}

b3cas_known *b3cas__known_new(void)
{
	/* pages are mapped as sets fill, in 2 MiB pages where the kernel
	 * gives them (util/bigmem.h) */
	return b3cas__big_zalloc(sizeof(b3cas_known));
}

void b3cas__known_free(b3cas_known *k)
{
	b3cas__big_free(k, sizeof(*k));
}

/* The set of id: its stripe, then bits from further on (ids are hashes,
 * so any bits are uniform). */
static size_t set_of(const b3cas_oid *id)
{
	return (size_t)b3cas__stripe_index(id->bytes) * SETS +
	       id->bytes[5] % SETS;
}

static int find(const b3cas_known *k, size_t set, const b3cas_oid *id)
{
	for (int w = 0; w < WAYS; w++)
		if ((k->used[set] >> w & 1) &&
		    memcmp(k->ids[set][w].bytes, id->bytes, B3CAS_OID_LEN) == 0)
			return w;
	return -1;
}

bool b3cas__known_has(const b3cas_known *k, const b3cas_oid *id)
{
	return k && find(k, set_of(id), id) >= 0;
}

void b3cas__known_add(b3cas_known *k, const b3cas_oid *id)
{
	size_t set;
	int w;

	if (!k)
		return;
	set = set_of(id);
	if (find(k, set, id) >= 0)
		return;
	for (w = 0; w < WAYS && (k->used[set] >> w & 1); w++)
		;
	if (w == WAYS) {
		w = k->next[set];
		k->next[set] = (uint8_t)((w + 1) % WAYS);
	}
	k->ids[set][w] = *id;
	k->used[set] |= (uint8_t)(1u << w);
}

void b3cas__known_drop(b3cas_known *k, const b3cas_oid *id)
{
	size_t set;
	int w;

	if (!k)
		return;
	set = set_of(id);
	w = find(k, set, id);
	if (w >= 0)
		k->used[set] &= (uint8_t)~(1u << w);
}
