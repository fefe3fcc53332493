/*
 * filter/known.c - the set of ids known to be stored (see known.h).
 *
 * 256 shards (by an id's first byte), each a table of sets of 8 ways
 * under its own mutex. A shard starts empty and doubles its sets when an
 * id's set is full, up to 512 sets; only then does an add evict (round
 * robin in the set). Memory thus follows the ids a process met: a `b3cas
 * put` of a few thousand files touches a few hundred KiB, where a table
 * of the full size touched at random faulted in a page (or a 2 MiB huge
 * page) for nearly every id, and on a virtual machine first-touched
 * memory costs about a microsecond per KiB (perf: 7-10% of such a put's
 * CPU).
 *
 * The shard mutex guards only the table's shape; what an id's presence
 * means is kept by the id's stripe lock, which every caller holds
 * (known.h). A shard lock is taken inside a stripe lock, never around
 * one.
 */
#include "filter/known.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 256
#define WAYS 8
#define FIRST_SETS 4
#define MAX_SETS 512 /* 256 x 512 x 8 = 1,048,576 ids, 32 MiB of ids */

typedef struct known_set {
	b3cas_oid ids[WAYS];
} known_set;

typedef struct known_shard {
	pthread_mutex_t lock;
	uint32_t nsets;   /* a power of two; 0 until the first add */
	known_set *sets;
	uint8_t *used;    /* per set, bit w: way w holds an id */
	uint8_t *next;    /* per set, the round-robin victim */
} __attribute__((aligned(64))) known_shard;

struct b3cas_known {
	known_shard shard[SHARDS];
	uint32_t max_sets; /* per shard: a power of two, MAX_SETS at most */
};

uint64_t b3cas__known_capacity(void)
{
	return (uint64_t)SHARDS * MAX_SETS * WAYS;
}

b3cas_known *b3cas__known_new(void)
{
	return b3cas__known_new_sized(0);
}

b3cas_known *b3cas__known_new_sized(uint64_t max_bytes)
{
	uint64_t per_set = (uint64_t)SHARDS * sizeof(known_set);
	b3cas_known *k;

	if (posix_memalign((void **)&k, 64, sizeof(*k)) != 0)
		return NULL;
	memset(k, 0, sizeof(*k));
	k->max_sets = MAX_SETS;
	while (max_bytes && k->max_sets > FIRST_SETS &&
	       (uint64_t)k->max_sets * per_set > max_bytes)
		k->max_sets /= 2;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&k->shard[i].lock, NULL);
	return k;
}

static void shard_free(known_shard *sh)
{
	free(sh->sets);
	free(sh->used);
	free(sh->next);
}

void b3cas__known_free(b3cas_known *k)
{
	if (!k)
		return;
	for (int i = 0; i < SHARDS; i++) {
		shard_free(&k->shard[i]);
		pthread_mutex_destroy(&k->shard[i].lock);
	}
	free(k);
}

static known_shard *shard_of(const b3cas_known *k, const b3cas_oid *id)
{
	return (known_shard *)&k->shard[id->bytes[0]];
}

/* The id's set in a table of nsets sets: bits the shard did not use
 * (ids are hashes, so any bits are uniform). */
static uint32_t set_in(const b3cas_oid *id, uint32_t nsets)
{
	uint32_t v = (uint32_t)id->bytes[2] << 24 | (uint32_t)id->bytes[3] << 16 |
		     (uint32_t)id->bytes[4] << 8 | id->bytes[5];

	return v & (nsets - 1);
}

static int find(const known_shard *sh, uint32_t set, const b3cas_oid *id)
{
	for (int w = 0; w < WAYS; w++)
		if ((sh->used[set] >> w & 1) &&
		    memcmp(sh->sets[set].ids[w].bytes, id->bytes,
			   B3CAS_OID_LEN) == 0)
			return w;
	return -1;
}

/* Make the shard's table n sets, moving its ids (each old set splits
 * into two new ones, so none overflows). false without memory: the
 * table stays as it was. */
static bool regrow(known_shard *sh, uint32_t n)
{
	known_set *sets = malloc((size_t)n * sizeof(*sets));
	uint8_t *used = calloc(n, 1), *next = calloc(n, 1);

	if (!sets || !used || !next) {
		free(sets);
		free(used);
		free(next);
		return false;
	}
	for (uint32_t s = 0; s < sh->nsets; s++)
		for (int w = 0; w < WAYS; w++) {
			const b3cas_oid *id = &sh->sets[s].ids[w];
			uint32_t to;
			int v = 0;

			if (!(sh->used[s] >> w & 1))
				continue;
			to = set_in(id, n);
			while (used[to] >> v & 1)
				v++;
			sets[to].ids[v] = *id;
			used[to] |= (uint8_t)(1u << v);
		}
	shard_free(sh);
	sh->sets = sets;
	sh->used = used;
	sh->next = next;
	sh->nsets = n;
	return true;
}

bool b3cas__known_has(const b3cas_known *k, const b3cas_oid *id)
{
	known_shard *sh;
	bool has;

	if (!k)
		return false;
	sh = shard_of(k, id);
	pthread_mutex_lock(&sh->lock);
	has = sh->nsets && find(sh, set_in(id, sh->nsets), id) >= 0;
	pthread_mutex_unlock(&sh->lock);
	return has;
}

void b3cas__known_add(b3cas_known *k, const b3cas_oid *id)
{
	known_shard *sh;
	uint32_t set;
	int w;

	if (!k)
		return;
	sh = shard_of(k, id);
	pthread_mutex_lock(&sh->lock);
	if (!sh->nsets && !regrow(sh, FIRST_SETS))
		goto out; /* no memory: go without */
	set = set_in(id, sh->nsets);
	if (find(sh, set, id) >= 0)
		goto out;
	/* A full set doubles the table while it may grow. */
	while (sh->used[set] == 0xff && sh->nsets < k->max_sets &&
	       regrow(sh, sh->nsets * 2))
		set = set_in(id, sh->nsets);
	for (w = 0; w < WAYS && (sh->used[set] >> w & 1); w++)
		;
	if (w == WAYS) {
		w = sh->next[set];
		sh->next[set] = (uint8_t)((w + 1) % WAYS);
	}
	sh->sets[set].ids[w] = *id;
	sh->used[set] |= (uint8_t)(1u << w);
out:
	pthread_mutex_unlock(&sh->lock);
}

void b3cas__known_drop(b3cas_known *k, const b3cas_oid *id)
{
	known_shard *sh;
	int w;

	if (!k)
		return;
	sh = shard_of(k, id);
	pthread_mutex_lock(&sh->lock);
	if (sh->nsets) {
		uint32_t set = set_in(id, sh->nsets);

		w = find(sh, set, id);
		if (w >= 0)
			sh->used[set] &= (uint8_t)~(1u << w);
	}
	pthread_mutex_unlock(&sh->lock);
}
