/*
 * cache/cache.c - the sharded cache engine (see cache.h for the policies,
 * the invariants and tickets).
 *
 * A shard is a chained hash table of entries plus the policy's queues
 * (doubly linked, head = newest, tail = next to go) and, for S3-FIFO, the
 * ghost: a 4-way set-associative table of fingerprints stamped with a
 * clock, where a fingerprint counts as present while fewer insertions
 * than the shard holds entries have happened since (the ghost queue is as
 * long as the cache, as in the paper). Losing a ghost fingerprint early
 * only sends an object to the small queue instead of main. Payloads are
 * dropped after the shard lock is released: a drop may free memory or
 * unlink a file, which no other thread should wait for.
 */
#include "cache/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FREQ_MAX 3
#define SMALL_PERCENT 10
#define BUCKETS_MIN 64
#define GHOST_WAYS 4
#define GHOST_SETS_MIN 64

enum { Q_SMALL, Q_MAIN };

/* What a hit touches comes first and fits one cache line (the entry is
 * 64-byte aligned): a hit on a cache larger than the CPU's costs one
 * miss here, one in the bucket array and one in the payload. */
typedef struct entry {
	struct entry *hnext;        /* hash chain */
	uint64_t fp;
	b3cas_oid id;
	void *payload;
	uint8_t freq;
	uint8_t queue;
	/* second line: eviction and LRU order only */
	struct entry *prev, *next;  /* queue: prev is newer */
	uint64_t charge;
} __attribute__((aligned(64))) entry;

typedef struct queue {
	entry *head, *tail;
	uint64_t bytes, count;
} queue;

typedef struct ghost_slot {
	uint64_t fp; /* 0: empty */
	uint64_t stamp;
} ghost_slot;

typedef struct shard {
	pthread_mutex_t lock;
	entry **buckets;
	size_t mask;         /* buckets - 1 */
	uint64_t count;      /* entries */
	queue small, main;   /* LRU uses main only */
	uint64_t cap, bytes;
	ghost_slot *ghost;
	size_t gsets;        /* power of two */
	uint64_t gclock;
	atomic_uint_fast64_t gen; /* bumped by every erase */
	uint64_t hits, misses, inserts, evictions, invalidations, rejected;
} __attribute__((aligned(64))) shard;

struct b3cas_cache {
	unsigned nshards;
	b3cas_cache_policy policy;
	b3cas_cache_hooks hooks;
	shard *shards;
};

/* ---- ids ------------------------------------------------------------------- */

/* Ids are hashes: any of their bits are uniform. The fingerprint and the
 * shard take different bytes, so a shard's buckets still spread. */
static uint64_t fingerprint(const b3cas_oid *id)
{
	uint64_t fp;

	memcpy(&fp, id->bytes + 8, sizeof(fp));
	return fp | 1; /* never 0, the ghost's empty mark */
}

static shard *shard_of(b3cas_cache *c, const b3cas_oid *id)
{
	unsigned i = (unsigned)id->bytes[16] << 8 | id->bytes[17];

	return &c->shards[i & (c->nshards - 1)];
}

/* ---- queues ------------------------------------------------------------------ */

static void q_push(queue *q, entry *e)
{
	e->prev = NULL;
	e->next = q->head;
	if (q->head)
		q->head->prev = e;
	else
		q->tail = e;
	q->head = e;
	q->bytes += e->charge;
	q->count++;
}

static void q_unlink(queue *q, entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	q->bytes -= e->charge;
	q->count--;
}

static queue *queue_of(shard *sh, const entry *e)
{
	return e->queue == Q_SMALL ? &sh->small : &sh->main;
}

/* ---- hash table ------------------------------------------------------------- */

static entry **find_slot(shard *sh, const b3cas_oid *id, uint64_t fp)
{
	entry **p = &sh->buckets[fp & sh->mask];

	while (*p && ((*p)->fp != fp ||
		      memcmp((*p)->id.bytes, id->bytes, B3CAS_OID_LEN) != 0))
		p = &(*p)->hnext;
	return p;
}

static void grow_table(shard *sh)
{
	size_t n = (sh->mask + 1) * 2;
	entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (size_t i = 0; i <= sh->mask; i++) {
		entry *e = sh->buckets[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = nb[e->fp & (n - 1)];
			nb[e->fp & (n - 1)] = e;
		}
	}
	free(sh->buckets);
	sh->buckets = nb;
	sh->mask = n - 1;
}

/* Take e out of the table and its queue. */
static void detach(shard *sh, entry *e)
{
	entry **p = find_slot(sh, &e->id, e->fp);

	*p = e->hnext;
	q_unlink(queue_of(sh, e), e);
	sh->bytes -= e->charge;
	sh->count--;
}

/* ---- ghost ------------------------------------------------------------------- */

static ghost_slot *ghost_set(shard *sh, uint64_t fp)
{
	return &sh->ghost[((fp >> 24) & (sh->gsets - 1)) * GHOST_WAYS];
}

static bool ghost_live(const shard *sh, const ghost_slot *g)
{
	return g->fp && sh->gclock - g->stamp <= sh->count + 1;
}

/* Keep room for about as many fingerprints as the shard holds entries. */
static void ghost_fit(shard *sh)
{
	size_t want = sh->gsets;
	ghost_slot *ng;

	while (want * GHOST_WAYS < sh->count * 2)
		want *= 2;
	if (want == sh->gsets)
		return;
	ng = calloc(want * GHOST_WAYS, sizeof(*ng));
	if (!ng)
		return;
	/* A resize forgets the ghost: it only steers future insertions. */
	free(sh->ghost);
	sh->ghost = ng;
	sh->gsets = want;
}

static void ghost_add(shard *sh, uint64_t fp)
{
	ghost_slot *set, *victim;

	if (!sh->ghost)
		return;
	set = ghost_set(sh, fp);
	victim = &set[0];
	for (int w = 0; w < GHOST_WAYS; w++) {
		if (!ghost_live(sh, &set[w])) {
			victim = &set[w];
			break;
		}
		if (set[w].stamp < victim->stamp)
			victim = &set[w];
	}
	victim->fp = fp;
	victim->stamp = ++sh->gclock;
}

static bool ghost_take(shard *sh, uint64_t fp)
{
	ghost_slot *set;

	if (!sh->ghost)
		return false;
	set = ghost_set(sh, fp);
	for (int w = 0; w < GHOST_WAYS; w++) {
		if (set[w].fp == fp && ghost_live(sh, &set[w])) {
			set[w].fp = 0;
			return true;
		}
	}
	return false;
}

/* ---- eviction ------------------------------------------------------------------ */

/*
 * Choose and detach one victim, or NULL when the shard is empty. S3-FIFO:
 * the small queue gives up its tail while it holds more than its share
 * (or main is empty): to main if it was hit since it came in, else to the
 * ghost and out; main's tail goes unless it was hit since its last pass,
 * in which case it goes round again with one hit less.
 */
static entry *evict_one(b3cas_cache *c, shard *sh)
{
	if (c->policy == B3CAS_POLICY_LRU) {
		entry *e = sh->main.tail;

		if (e)
			detach(sh, e);
		return e;
	}
	for (;;) {
		entry *e;

		if (sh->small.count &&
		    (sh->small.bytes > sh->cap / 100 * SMALL_PERCENT ||
		     !sh->main.count)) {
			e = sh->small.tail;
			if (e->freq > 0) {
				q_unlink(&sh->small, e);
				e->freq = 0;
				e->queue = Q_MAIN;
				q_push(&sh->main, e);
				continue;
			}
			ghost_add(sh, e->fp);
			detach(sh, e);
			return e;
		}
		e = sh->main.tail;
		if (!e)
			return NULL;
		if (e->freq > 0) {
			q_unlink(&sh->main, e);
			e->freq--;
			q_push(&sh->main, e);
			continue;
		}
		detach(sh, e);
		return e;
	}
}

/* Evict until extra more bytes fit; victims are chained on *out. */
static void make_room(b3cas_cache *c, shard *sh, uint64_t extra,
		      entry **out)
{
	/* Capacity 0 is off: even entries that cost nothing go. */
	while (sh->bytes + extra > sh->cap || (sh->cap == 0 && sh->count)) {
		entry *e = evict_one(c, sh);

		if (!e)
			break;
		sh->evictions++;
		e->hnext = *out;
		*out = e;
	}
}

static void drop_all(b3cas_cache *c, entry *list)
{
	while (list) {
		entry *next = list->hnext;

		if (c->hooks.drop)
			c->hooks.drop(&list->id, list->payload, c->hooks.ctx);
		free(list);
		list = next;
	}
}

/* ---- the API ---------------------------------------------------------------------- */

b3cas_cache *b3cas__cache_new(uint64_t capacity, unsigned shards,
			      b3cas_cache_policy policy,
			      const b3cas_cache_hooks *hooks)
{
	b3cas_cache *c;

	if (shards == 0 || shards > 1024 || (shards & (shards - 1)))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nshards = shards;
	c->policy = policy;
	if (hooks)
		c->hooks = *hooks;
	c->shards = aligned_alloc(64, sizeof(shard) * shards);
	if (!c->shards) {
		free(c);
		return NULL;
	}
	memset(c->shards, 0, sizeof(shard) * shards);
	for (unsigned i = 0; i < shards; i++) {
		shard *sh = &c->shards[i];

		pthread_mutex_init(&sh->lock, NULL);
		atomic_init(&sh->gen, 0);
		sh->cap = capacity / shards;
		sh->buckets = calloc(BUCKETS_MIN, sizeof(*sh->buckets));
		sh->mask = BUCKETS_MIN - 1;
		if (policy == B3CAS_POLICY_S3FIFO) {
			sh->ghost = calloc(GHOST_SETS_MIN * GHOST_WAYS,
					   sizeof(*sh->ghost));
			sh->gsets = GHOST_SETS_MIN;
		}
		if (!sh->buckets ||
		    (policy == B3CAS_POLICY_S3FIFO && !sh->ghost)) {
			c->nshards = i + 1;
			b3cas__cache_free(c);
			return NULL;
		}
	}
	return c;
}

void b3cas__cache_free_keep(b3cas_cache *c)
{
	if (c)
		c->hooks.drop = NULL;
	b3cas__cache_free(c);
}

void b3cas__cache_free(b3cas_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nshards; i++) {
		shard *sh = &c->shards[i];
		entry *list = NULL;

		for (size_t b = 0; sh->buckets && b <= sh->mask; b++) {
			entry *e = sh->buckets[b], *next;

			for (; e; e = next) {
				next = e->hnext;
				e->hnext = list;
				list = e;
			}
		}
		drop_all(c, list);
		free(sh->buckets);
		free(sh->ghost);
		pthread_mutex_destroy(&sh->lock);
	}
	free(c->shards);
	free(c);
}

bool b3cas__cache_get(b3cas_cache *c, const b3cas_oid *id,
		      void **payload_out)
{
	shard *sh = shard_of(c, id);
	entry *e;

	pthread_mutex_lock(&sh->lock);
	e = *find_slot(sh, id, fingerprint(id));
	if (!e) {
		sh->misses++;
		pthread_mutex_unlock(&sh->lock);
		return false;
	}
	sh->hits++;
	if (c->policy == B3CAS_POLICY_LRU) {
		q_unlink(&sh->main, e);
		q_push(&sh->main, e);
	} else if (e->freq < FREQ_MAX) {
		e->freq++;
	}
	if (c->hooks.hold)
		c->hooks.hold(e->payload);
	if (payload_out)
		*payload_out = e->payload;
	pthread_mutex_unlock(&sh->lock);
	return true;
}

bool b3cas__cache_contains(b3cas_cache *c, const b3cas_oid *id)
{
	shard *sh = shard_of(c, id);
	bool found;

	pthread_mutex_lock(&sh->lock);
	found = *find_slot(sh, id, fingerprint(id)) != NULL;
	pthread_mutex_unlock(&sh->lock);
	return found;
}

bool b3cas__cache_holds(b3cas_cache *c, const b3cas_oid *id,
			const void *payload)
{
	shard *sh = shard_of(c, id);
	entry *e;
	bool same;

	pthread_mutex_lock(&sh->lock);
	e = *find_slot(sh, id, fingerprint(id));
	same = e && e->payload == payload;
	pthread_mutex_unlock(&sh->lock);
	return same;
}

uint64_t b3cas__cache_ticket(b3cas_cache *c, const b3cas_oid *id)
{
	/* Acquire: a reader whose ticket sees an erase also sees the index
	 * change that the erase followed. */
	return atomic_load_explicit(&shard_of(c, id)->gen,
				    memory_order_acquire);
}

bool b3cas__cache_insert(b3cas_cache *c, const b3cas_oid *id, void *payload,
			 uint64_t charge, uint64_t ticket)
{
	shard *sh = shard_of(c, id);
	uint64_t fp = fingerprint(id);
	entry *e = aligned_alloc(64, sizeof(*e)), *victims = NULL;
	entry **slot;

	if (!e)
		return false;
	pthread_mutex_lock(&sh->lock);
	if (*(slot = find_slot(sh, id, fp)) != NULL) {
		/* Two readers missed at once: the first one's copy stays. */
		pthread_mutex_unlock(&sh->lock);
		free(e);
		return false;
	}
	if (sh->cap == 0 || charge > sh->cap / 4 ||
	    atomic_load_explicit(&sh->gen, memory_order_relaxed) != ticket) {
		sh->rejected++;
		pthread_mutex_unlock(&sh->lock);
		free(e);
		return false;
	}
	make_room(c, sh, charge, &victims);
	e->id = *id;
	e->fp = fp;
	e->payload = payload;
	e->charge = charge;
	e->freq = 0;
	/* The table may have lost victims: find the slot again. */
	slot = find_slot(sh, id, fp);
	e->hnext = NULL;
	*slot = e;
	if (c->policy == B3CAS_POLICY_S3FIFO && !ghost_take(sh, fp)) {
		e->queue = Q_SMALL;
		q_push(&sh->small, e);
	} else {
		e->queue = Q_MAIN;
		q_push(&sh->main, e);
	}
	sh->bytes += charge;
	sh->count++;
	sh->inserts++;
	if (sh->count > sh->mask + 1)
		grow_table(sh);
	if (c->policy == B3CAS_POLICY_S3FIFO)
		ghost_fit(sh);
	pthread_mutex_unlock(&sh->lock);
	drop_all(c, victims);
	return true;
}

bool b3cas__cache_erase(b3cas_cache *c, const b3cas_oid *id)
{
	shard *sh = shard_of(c, id);
	entry *e;

	pthread_mutex_lock(&sh->lock);
	/* Release: pairs with the acquire in b3cas__cache_ticket. */
	atomic_fetch_add_explicit(&sh->gen, 1, memory_order_release);
	e = *find_slot(sh, id, fingerprint(id));
	if (e) {
		detach(sh, e);
		sh->invalidations++;
		e->hnext = NULL;
	}
	pthread_mutex_unlock(&sh->lock);
	drop_all(c, e);
	return e != NULL;
}

void b3cas__cache_resize(b3cas_cache *c, uint64_t capacity)
{
	for (unsigned i = 0; i < c->nshards; i++) {
		shard *sh = &c->shards[i];
		entry *victims = NULL;

		pthread_mutex_lock(&sh->lock);
		sh->cap = capacity / c->nshards;
		make_room(c, sh, 0, &victims);
		pthread_mutex_unlock(&sh->lock);
		drop_all(c, victims);
	}
}

void b3cas__cache_stats(b3cas_cache *c, b3cas_cache_level_stats *out)
{
	uint64_t corrupt = out->corrupt;

	memset(out, 0, sizeof(*out));
	out->corrupt = corrupt;
	for (unsigned i = 0; i < c->nshards; i++) {
		shard *sh = &c->shards[i];

		pthread_mutex_lock(&sh->lock);
		out->capacity += sh->cap;
		out->bytes += sh->bytes;
		out->entries += sh->count;
		out->hits += sh->hits;
		out->misses += sh->misses;
		out->inserts += sh->inserts;
		out->evictions += sh->evictions;
		out->invalidations += sh->invalidations;
		out->rejected += sh->rejected;
		pthread_mutex_unlock(&sh->lock);
	}
}
