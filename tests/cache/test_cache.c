/*
 * test_cache.c - the cache engine (cache/cache.h) against its contract:
 * the byte bound under random charges, the payload hooks' accounting
 * (every accepted payload dropped exactly once, never while cached, a
 * hold only on a hit), LRU against an independent reference model,
 * S3-FIFO's observable behaviour (scan resistance, one-hit wonders, the
 * ghost), tickets, resize, blobs, and eight threads on one cache with
 * blob payloads (also run under ThreadSanitizer).
 *
 * Every randomized test prints its seed; B3CAS_TEST_SEED replays it, and
 * B3CAS_TEST_LONG=1 runs ten times as many operations.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "test_util.h"

static const b3cas_cache_policy policies[] = {
	B3CAS_POLICY_S3FIFO, B3CAS_POLICY_LRU
};

static const char *policy_name(b3cas_cache_policy p)
{
	return p == B3CAS_POLICY_LRU ? "lru" : "s3fifo";
}

/* Id number n of a test: 32 pseudo-random bytes, so that ids spread over
 * shards whatever bytes the engine picks its shard from. */
static void make_id(b3cas_oid *out, uint64_t n, uint64_t salt)
{
	uint64_t s = n * 0xD1B54A32D192ED03ull ^ salt;

	for (size_t i = 0; i < sizeof(out->bytes); i += 8) {
		uint64_t v = tu_rand(&s);

		memcpy(out->bytes + i, &v, 8);
	}
}

static b3cas_cache_level_stats stats_of(b3cas_cache *c)
{
	b3cas_cache_level_stats st;

	memset(&st, 0, sizeof(st));
	b3cas__cache_stats(c, &st);
	return st;
}

static bool insert_now(b3cas_cache *c, const b3cas_oid *id, void *payload,
		       uint64_t charge)
{
	uint64_t t = b3cas__cache_ticket(c, id);

	return b3cas__cache_insert(c, id, payload, charge, t);
}

/* A charge from a spread of sizes: mostly small, some near and above a
 * shard's quarter, now and then 0. */
static uint64_t random_charge(uint64_t *rng, uint64_t max)
{
	uint64_t r = tu_rand(rng) % 100;

	if (r < 2)
		return 0;
	if (r < 50)
		return 1 + tu_rand(rng) % 64;
	if (r < 85)
		return 1 + tu_rand(rng) % 1024;
	return 1 + tu_rand(rng) % max;
}

/*
 * The ids of pool (n of them) that the cache holds must add up to the
 * stats' bytes and entries; charge[i] is what id i was last accepted at.
 */
static void expect_accounting(b3cas_cache *c, const b3cas_oid *pool,
			      const uint64_t *charge, size_t n,
			      const char *what)
{
	b3cas_cache_level_stats st = stats_of(c);
	uint64_t bytes = 0, entries = 0;

	for (size_t i = 0; i < n; i++) {
		if (b3cas__cache_contains(c, &pool[i])) {
			bytes += charge[i];
			entries++;
		}
	}
	if (bytes != st.bytes || entries != st.entries) {
		fprintf(stderr,
			"%s: cached ids add up to %llu bytes in %llu "
			"entries, stats say %llu in %llu\n",
			what, (unsigned long long)bytes,
			(unsigned long long)entries,
			(unsigned long long)st.bytes,
			(unsigned long long)st.entries);
		fail();
	}
}

/* ---- 1. the byte bound --------------------------------------------------- */

enum { BOUND_POOL = 3000, BOUND_OPS = 20000 };

static void byte_bound_case(b3cas_cache_policy policy, unsigned shards,
			    uint64_t seed)
{
	const uint64_t cap = 64 * 4096; /* a multiple of every shard count */
	const uint64_t quarter = cap / shards / 4;
	b3cas_oid *pool = calloc(BOUND_POOL, sizeof(*pool));
	uint64_t *charge = calloc(BOUND_POOL, sizeof(*charge));
	uint64_t rng = seed;
	b3cas_cache_level_stats st;
	b3cas_cache *c;

	assert_non_null(pool);
	assert_non_null(charge);
	for (size_t i = 0; i < BOUND_POOL; i++)
		make_id(&pool[i], i, seed);
	c = b3cas__cache_new(cap, shards, policy, NULL);
	assert_non_null(c);
	st = stats_of(c);
	assert_int_equal(st.capacity, cap);
	for (int op = 0; op < BOUND_OPS * tu_scale(); op++) {
		size_t i = tu_rand(&rng) % BOUND_POOL;
		uint64_t r = tu_rand(&rng) % 10;
		void *got = NULL;

		if (r < 7) {
			uint64_t ch = random_charge(&rng, 8 * quarter);
			bool was = b3cas__cache_contains(c, &pool[i]);
			bool ok = insert_now(c, &pool[i],
					     (void *)(uintptr_t)(i + 1), ch);

			/* The header's refusals are the only ones. */
			if (ok != (!was && ch <= quarter)) {
				fprintf(stderr,
					"%s/%u: insert of charge %llu "
					"(quarter %llu, cached %d) -> %d\n",
					policy_name(policy), shards,
					(unsigned long long)ch,
					(unsigned long long)quarter, was, ok);
				fail();
			}
			if (ok)
				charge[i] = ch;
			st = stats_of(c);
			if (st.bytes > cap) {
				fprintf(stderr, "%s/%u: %llu bytes > %llu\n",
					policy_name(policy), shards,
					(unsigned long long)st.bytes,
					(unsigned long long)cap);
				fail();
			}
		} else if (r < 9) {
			if (b3cas__cache_get(c, &pool[i], &got))
				assert_ptr_equal(got,
						 (void *)(uintptr_t)(i + 1));
		} else {
			b3cas__cache_erase(c, &pool[i]);
		}
		if (op % 500 == 0)
			expect_accounting(c, pool, charge, BOUND_POOL,
					  policy_name(policy));
	}
	expect_accounting(c, pool, charge, BOUND_POOL, policy_name(policy));
	st = stats_of(c);
	/* The run must have pressed against the bound to mean anything. */
	assert_true(st.evictions > 0);
	assert_true(st.bytes > cap / 2);
	b3cas__cache_free(c);
	free(pool);
	free(charge);
}

static void test_byte_bound(void **state)
{
	static const unsigned shard_counts[] = { 1, 4, 64 };
	uint64_t seed = tu_seed("byte_bound");

	(void)state;
	for (size_t p = 0; p < 2; p++)
		for (size_t s = 0; s < 3; s++)
			byte_bound_case(policies[p], shard_counts[s],
					seed + p * 3 + s);
}

/* ---- 2. payload accounting through the hooks ----------------------------- */

typedef struct payload {
	b3cas_oid id;
	int holds;    /* hold() calls on it */
	int hits;     /* gets that returned it */
	int drops;    /* drop() calls on it */
	bool accepted;
	bool wrong_id; /* drop() called with an id not its own */
} payload;

typedef struct hook_ctx {
	int drops;
	int wrong_ctx;
} hook_ctx;

static void count_hold(void *p)
{
	((payload *)p)->holds++;
}

static void count_drop(const b3cas_oid *id, void *p, void *ctx)
{
	payload *pl = p;
	hook_ctx *h = ctx;

	if (!b3cas_oid_equal(id, &pl->id))
		pl->wrong_id = true;
	pl->drops++;
	h->drops++;
}

typedef struct payload_run {
	b3cas_cache *c;
	hook_ctx hctx;
	b3cas_cache_hooks hooks;
	b3cas_oid *pool;
	payload **cur; /* the payload last accepted for each pool id */
	size_t pool_n;
	payload **all; /* every payload made, to check and free at the end */
	size_t all_n, all_cap;
	uint64_t hits, misses, accepted, erased;
} payload_run;

static void count_drop_checked(const b3cas_oid *id, void *p, void *ctx)
{
	payload_run *run = ctx;

	count_drop(id, p, &run->hctx);
}

static payload *new_payload(payload_run *run, size_t i)
{
	payload *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->id = run->pool[i];
	if (run->all_n == run->all_cap) {
		run->all_cap = run->all_cap ? 2 * run->all_cap : 1024;
		run->all = realloc(run->all, run->all_cap * sizeof(*run->all));
		assert_non_null(run->all);
	}
	run->all[run->all_n++] = p;
	return p;
}

static void run_init(payload_run *run, uint64_t cap, unsigned shards,
		     b3cas_cache_policy policy, size_t pool_n, uint64_t salt)
{
	memset(run, 0, sizeof(*run));
	run->hooks.hold = count_hold;
	run->hooks.drop = count_drop_checked;
	run->hooks.ctx = run;
	run->pool_n = pool_n;
	run->pool = calloc(pool_n, sizeof(*run->pool));
	run->cur = calloc(pool_n, sizeof(*run->cur));
	assert_non_null(run->pool);
	assert_non_null(run->cur);
	for (size_t i = 0; i < pool_n; i++)
		make_id(&run->pool[i], i, salt);
	run->c = b3cas__cache_new(cap, shards, policy, &run->hooks);
	assert_non_null(run->c);
}

/* Insert pool id i with a new payload; the payload is remembered as
 * accepted only if the cache took it. */
static bool run_insert(payload_run *run, size_t i, uint64_t charge,
		       uint64_t ticket)
{
	payload *p = new_payload(run, i);
	bool ok = b3cas__cache_insert(run->c, &run->pool[i], p, charge,
				      ticket);

	assert_int_equal(p->drops, 0);
	if (ok) {
		p->accepted = true;
		run->cur[i] = p;
		run->accepted++;
	}
	return ok;
}

static bool run_get(payload_run *run, size_t i)
{
	void *got = NULL;

	if (!b3cas__cache_get(run->c, &run->pool[i], &got)) {
		run->misses++;
		return false;
	}
	run->hits++;
	/* A hit returns the payload last accepted for the id, not dropped. */
	assert_non_null(got);
	assert_ptr_equal(got, run->cur[i]);
	assert_int_equal(((payload *)got)->drops, 0);
	((payload *)got)->hits++;
	assert_int_equal(((payload *)got)->holds, ((payload *)got)->hits);
	return true;
}

/* Cached ids hold an undropped payload, uncached ones a dropped one (or
 * none); every payload was dropped at most once, and only if accepted. */
static void run_check(payload_run *run)
{
	for (size_t i = 0; i < run->pool_n; i++) {
		payload *p = run->cur[i];

		if (b3cas__cache_contains(run->c, &run->pool[i])) {
			assert_non_null(p);
			assert_int_equal(p->drops, 0);
		} else if (p) {
			assert_int_equal(p->drops, 1);
		}
	}
	for (size_t k = 0; k < run->all_n; k++) {
		payload *p = run->all[k];

		assert_false(p->wrong_id);
		assert_true(p->drops <= (p->accepted ? 1 : 0));
		assert_int_equal(p->holds, p->hits);
	}
}

/* Free the cache; then every accepted payload was dropped exactly once. */
static void run_finish(payload_run *run)
{
	b3cas__cache_free(run->c);
	run->c = NULL;
	for (size_t k = 0; k < run->all_n; k++) {
		payload *p = run->all[k];

		assert_false(p->wrong_id);
		assert_int_equal(p->drops, p->accepted ? 1 : 0);
		assert_int_equal(p->holds, p->hits);
		free(p);
	}
	assert_int_equal(run->hctx.drops, (int)run->accepted);
	free(run->all);
	free(run->pool);
	free(run->cur);
}

enum { HOOK_POOL = 400, HOOK_OPS = 20000 };

static void payload_case(b3cas_cache_policy policy, unsigned shards,
			 uint64_t seed)
{
	const uint64_t base = 32 * 1024;
	uint64_t cap = base, rng = seed, drops_before, invalidations = 0;
	b3cas_cache_level_stats st;
	payload_run run;

	run_init(&run, cap, shards, policy, HOOK_POOL, seed);
	for (int op = 0; op < HOOK_OPS * tu_scale(); op++) {
		size_t i = tu_rand(&rng) % HOOK_POOL;
		uint64_t r = tu_rand(&rng) % 100;

		if (r < 40) {
			run_insert(&run, i, random_charge(&rng, 2048),
				   b3cas__cache_ticket(run.c, &run.pool[i]));
		} else if (r < 45) {
			/* A ticket its own id's erase made stale. */
			uint64_t t = b3cas__cache_ticket(run.c, &run.pool[i]);

			if (b3cas__cache_erase(run.c, &run.pool[i]))
				invalidations++;
			assert_false(run_insert(&run, i, 1, t));
		} else if (r < 80) {
			run_get(&run, i);
		} else if (r < 92) {
			bool was = b3cas__cache_contains(run.c, &run.pool[i]);
			bool ok = b3cas__cache_erase(run.c, &run.pool[i]);

			assert_int_equal(ok, was);
			if (ok) {
				assert_int_equal(run.cur[i]->drops, 1);
				invalidations++;
			}
		} else if (r < 94) {
			static const uint64_t sizes[] = { 0, 1024, 8192,
							  32 * 1024,
							  128 * 1024 };

			cap = sizes[tu_rand(&rng) % 5];
			b3cas__cache_resize(run.c, cap);
			st = stats_of(run.c);
			assert_true(st.bytes <= cap);
		} else {
			b3cas__cache_contains(run.c, &run.pool[i]);
		}
		if (op % 16 == 0)
			run_check(&run);
	}
	run_check(&run);
	st = stats_of(run.c);
	drops_before = (uint64_t)run.hctx.drops;
	assert_int_equal(st.hits, run.hits);
	assert_int_equal(st.misses, run.misses);
	assert_int_equal(st.inserts, run.accepted);
	assert_int_equal(st.invalidations, invalidations);
	assert_int_equal(st.evictions + st.invalidations, drops_before);
	assert_true(st.evictions > 0 && run.hits > 0);
	run_finish(&run);
}

static void test_payload_accounting(void **state)
{
	static const unsigned shard_counts[] = { 1, 8 };
	uint64_t seed = tu_seed("payload_accounting");

	(void)state;
	for (size_t p = 0; p < 2; p++)
		for (size_t s = 0; s < 2; s++)
			payload_case(policies[p], shard_counts[s],
				     seed + p * 2 + s);
}

/* ---- 3. LRU against a reference model ------------------------------------ */

/* The model: per id whether cached, its charge and when last used; the
 * least recently used entry is the cached one with the smallest stamp. */
typedef struct lru_model {
	uint64_t capacity, bytes, clock, hits, misses;
	bool *cached;
	uint64_t *charge, *stamp;
	size_t n;
} lru_model;

/* Evict least recently used entries until bytes <= limit; a capacity of
 * 0 is off, so then even entries that cost nothing go. */
static void model_evict_to(lru_model *m, uint64_t limit)
{
	for (;;) {
		size_t victim = m->n, held = 0;

		for (size_t i = 0; i < m->n; i++)
			held += m->cached[i];
		if (m->bytes <= limit && !(m->capacity == 0 && held))
			break;

		for (size_t i = 0; i < m->n; i++)
			if (m->cached[i] && (victim == m->n ||
					     m->stamp[i] < m->stamp[victim]))
				victim = i;
		assert_true(victim < m->n);
		m->cached[victim] = false;
		m->bytes -= m->charge[victim];
	}
}

static bool model_insert(lru_model *m, size_t i, uint64_t charge)
{
	if (m->cached[i] || m->capacity == 0 || charge * 4 > m->capacity)
		return false;
	model_evict_to(m, m->capacity - charge);
	m->cached[i] = true;
	m->charge[i] = charge;
	m->stamp[i] = ++m->clock;
	m->bytes += charge;
	return true;
}

static bool model_get(lru_model *m, size_t i)
{
	if (!m->cached[i]) {
		m->misses++;
		return false;
	}
	m->hits++;
	m->stamp[i] = ++m->clock;
	return true;
}

static bool model_erase(lru_model *m, size_t i)
{
	if (!m->cached[i])
		return false;
	m->cached[i] = false;
	m->bytes -= m->charge[i];
	return true;
}

static void model_compare(const lru_model *m, b3cas_cache *c,
			  const b3cas_oid *pool, int op, const char *what)
{
	b3cas_cache_level_stats st = stats_of(c);
	uint64_t entries = 0;

	for (size_t i = 0; i < m->n; i++) {
		bool got = b3cas__cache_contains(c, &pool[i]);

		entries += m->cached[i];
		if (got != m->cached[i]) {
			fprintf(stderr,
				"op %d (%s): id %zu cached %d, model says "
				"%d\n",
				op, what, i, got, m->cached[i]);
			fail();
		}
	}
	assert_int_equal(st.bytes, m->bytes);
	assert_int_equal(st.entries, entries);
	assert_int_equal(st.capacity, m->capacity);
	assert_int_equal(st.hits, m->hits);
	assert_int_equal(st.misses, m->misses);
}

enum { MODEL_POOL = 300, MODEL_OPS = 30000 };

static void test_lru_model(void **state)
{
	uint64_t seed = tu_seed("lru_model"), rng = seed;
	b3cas_oid *pool = calloc(MODEL_POOL, sizeof(*pool));
	lru_model m = { .capacity = 10000, .n = MODEL_POOL };
	b3cas_cache *c;

	(void)state;
	m.cached = calloc(MODEL_POOL, sizeof(*m.cached));
	m.charge = calloc(MODEL_POOL, sizeof(*m.charge));
	m.stamp = calloc(MODEL_POOL, sizeof(*m.stamp));
	assert_true(pool && m.cached && m.charge && m.stamp);
	for (size_t i = 0; i < MODEL_POOL; i++)
		make_id(&pool[i], i, seed);
	c = b3cas__cache_new(m.capacity, 1, B3CAS_POLICY_LRU, NULL);
	assert_non_null(c);
	for (int op = 0; op < MODEL_OPS * tu_scale(); op++) {
		size_t i = tu_rand(&rng) % MODEL_POOL;
		size_t j = tu_rand(&rng) % MODEL_POOL;
		uint64_t r = tu_rand(&rng) % 100;
		const char *what;

		if (r < 40) {
			uint64_t ch = random_charge(&rng, 3000);

			what = "insert";
			assert_int_equal(insert_now(c, &pool[i], NULL, ch),
					 model_insert(&m, i, ch));
		} else if (r < 45) {
			/* A ticket outlived by an erase of another id. */
			uint64_t t = b3cas__cache_ticket(c, &pool[i]);

			what = "stale insert";
			assert_int_equal(b3cas__cache_erase(c, &pool[j]),
					 model_erase(&m, j));
			assert_false(b3cas__cache_insert(c, &pool[i], NULL,
							 1, t));
		} else if (r < 80) {
			what = "get";
			assert_int_equal(b3cas__cache_get(c, &pool[i], NULL),
					 model_get(&m, i));
		} else if (r < 90) {
			what = "erase";
			assert_int_equal(b3cas__cache_erase(c, &pool[i]),
					 model_erase(&m, i));
		} else if (r < 91) {
			what = "resize";
			m.capacity = tu_rand(&rng) % 4 == 0
					     ? 0
					     : 1 + tu_rand(&rng) % 20000;
			b3cas__cache_resize(c, m.capacity);
			model_evict_to(&m, m.capacity);
		} else {
			what = "contains";
			b3cas__cache_contains(c, &pool[i]);
		}
		model_compare(&m, c, pool, op, what);
	}
	b3cas__cache_free(c);
	free(pool);
	free(m.cached);
	free(m.charge);
	free(m.stamp);
}

/* A refused duplicate insert is not a use: the old copy stays least
 * recently used and is the next one evicted. */
static void test_lru_duplicate_is_not_a_touch(void **state)
{
	b3cas_oid a, b, d;
	b3cas_cache *c = b3cas__cache_new(400, 1, B3CAS_POLICY_LRU, NULL);
	b3cas_cache_level_stats st;

	(void)state;
	assert_non_null(c);
	make_id(&a, 1, 7);
	make_id(&b, 2, 7);
	make_id(&d, 3, 7);
	assert_true(insert_now(c, &a, NULL, 100));
	assert_true(insert_now(c, &b, NULL, 100));
	assert_false(insert_now(c, &a, NULL, 100));
	st = stats_of(c);
	assert_int_equal(st.bytes, 200);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.inserts, 2);
	/* 300 + 100 fits in 400 exactly: nothing is evicted yet. */
	assert_true(insert_now(c, &d, NULL, 100));
	make_id(&d, 4, 7);
	assert_true(insert_now(c, &d, NULL, 100));
	assert_true(b3cas__cache_contains(c, &a));
	make_id(&d, 5, 7);
	assert_true(insert_now(c, &d, NULL, 100));
	assert_false(b3cas__cache_contains(c, &a));
	assert_true(b3cas__cache_contains(c, &b));
	b3cas__cache_free(c);
}

/* ---- 4. S3-FIFO ---------------------------------------------------------- */

enum { OBJ = 64 }; /* every object's charge in the policy tests */

/* Read id the way a cache's user does: a get, and an insert on a miss. */
static bool access_id(b3cas_cache *c, uint64_t n, uint64_t salt)
{
	b3cas_oid id;

	make_id(&id, n, salt);
	if (b3cas__cache_get(c, &id, NULL))
		return true;
	assert_true(insert_now(c, &id, NULL, OBJ));
	return false;
}

static bool cached_n(b3cas_cache *c, uint64_t n, uint64_t salt)
{
	b3cas_oid id;

	make_id(&id, n, salt);
	return b3cas__cache_contains(c, &id);
}

/* How many of a hot set of n_objects/2 survive one pass over
 * 10 * n_objects never-repeated ids. */
static unsigned hot_after_scan(b3cas_cache_policy policy, unsigned shards,
			       unsigned n_objects, uint64_t salt)
{
	b3cas_cache *c = b3cas__cache_new((uint64_t)n_objects * OBJ, shards,
					  policy, NULL);
	unsigned hot = n_objects / 2, kept = 0;

	assert_non_null(c);
	for (int round = 0; round < 4; round++)
		for (unsigned n = 0; n < hot; n++)
			access_id(c, n, salt);
	for (uint64_t n = hot; n < hot + 10ull * n_objects; n++)
		assert_false(access_id(c, n, salt));
	for (unsigned n = 0; n < hot; n++)
		kept += cached_n(c, n, salt);
	b3cas__cache_free(c);
	return kept;
}

static void test_s3fifo_scan_resistance(void **state)
{
	const unsigned n = 1000;
	uint64_t salt = tu_seed("s3fifo_scan_resistance");

	(void)state;
	for (unsigned shards = 1; shards <= 4; shards *= 4) {
		unsigned s3 = hot_after_scan(B3CAS_POLICY_S3FIFO, shards, n,
					     salt + shards);
		unsigned lru = hot_after_scan(B3CAS_POLICY_LRU, shards, n,
					      salt + shards);

		fprintf(stderr,
			"scan, %u shard(s): hot kept %u/%u (s3fifo), %u/%u "
			"(lru)\n",
			shards, s3, n / 2, lru, n / 2);
		assert_true(s3 * 10 >= (n / 2) * 9);
		assert_true(lru * 100 <= n / 2);
	}
}

/*
 * Set a (hit twice) is inserted before set b (never hit), then fresh ids
 * push both out. Returns whether an object of a was ever gone while one of
 * b was still cached; *a_kept and *b_kept count what survived to the end.
 */
static bool a_lost_before_b(b3cas_cache_policy policy, unsigned *a_kept,
			    unsigned *b_kept, uint64_t salt)
{
	const unsigned n = 400, set = n / 4;
	b3cas_cache *c = b3cas__cache_new((uint64_t)n * OBJ, 1, policy, NULL);
	bool inverted = false;

	assert_non_null(c);
	for (unsigned k = 0; k < set; k++) {
		assert_false(access_id(c, k, salt));
		assert_true(access_id(c, k, salt));
		assert_true(access_id(c, k, salt));
	}
	for (unsigned k = set; k < 2 * set; k++)
		assert_false(access_id(c, k, salt));
	for (uint64_t f = 2 * set; f < 2 * set + 3ull * n; f++) {
		unsigned a = 0, b = 0;

		assert_false(access_id(c, f, salt));
		for (unsigned k = 0; k < set; k++) {
			a += cached_n(c, k, salt);
			b += cached_n(c, set + k, salt);
		}
		if (a < set && b > 0)
			inverted = true;
	}
	*a_kept = *b_kept = 0;
	for (unsigned k = 0; k < set; k++) {
		*a_kept += cached_n(c, k, salt);
		*b_kept += cached_n(c, set + k, salt);
	}
	b3cas__cache_free(c);
	return inverted;
}

static void test_s3fifo_one_hit_wonders(void **state)
{
	uint64_t salt = tu_seed("s3fifo_one_hit_wonders");
	unsigned a, b;

	(void)state;
	/* S3-FIFO: every one-hit wonder goes before any twice-hit object. */
	assert_false(a_lost_before_b(B3CAS_POLICY_S3FIFO, &a, &b, salt));
	assert_int_equal(a, 100);
	assert_int_equal(b, 0);
	/* LRU, the contrast: the hits were older than the wonders' inserts,
	 * so the twice-hit objects go first. */
	assert_true(a_lost_before_b(B3CAS_POLICY_LRU, &a, &b, salt));
	assert_int_equal(a, 0);
}

/*
 * k times: insert x, push it out with fresh ids, insert it again at once
 * (its fingerprint is then in the ghost) and insert a fresh y; then one
 * scan of 3 * n fresh ids. Counts the xs and ys that survive.
 */
static void ghost_case(b3cas_cache_policy policy, unsigned *x_kept,
		       unsigned *y_kept, uint64_t salt)
{
	const unsigned n = 400, k = 20;
	const uint64_t y0 = 1000, fresh0 = 2000;
	uint64_t fresh = fresh0;
	b3cas_cache *c = b3cas__cache_new((uint64_t)n * OBJ, 1, policy, NULL);

	assert_non_null(c);
	for (unsigned i = 0; i < k; i++) {
		unsigned pushes = 0;

		assert_false(access_id(c, i, salt));
		while (cached_n(c, i, salt)) {
			assert_false(access_id(c, fresh++, salt));
			assert_true(++pushes <= 10 * n);
		}
		assert_false(access_id(c, i, salt));
		assert_false(access_id(c, y0 + i, salt));
	}
	for (unsigned s = 0; s < 3 * n; s++)
		assert_false(access_id(c, fresh++, salt));
	*x_kept = *y_kept = 0;
	for (unsigned i = 0; i < k; i++) {
		*x_kept += cached_n(c, i, salt);
		*y_kept += cached_n(c, y0 + i, salt);
	}
	b3cas__cache_free(c);
}

static void test_s3fifo_ghost(void **state)
{
	uint64_t salt = tu_seed("s3fifo_ghost");
	unsigned x, y;

	(void)state;
	ghost_case(B3CAS_POLICY_S3FIFO, &x, &y, salt);
	fprintf(stderr, "ghost: s3fifo kept %u/20 re-inserted, %u/20 fresh\n",
		x, y);
	assert_true(x >= 18);
	assert_true(y <= 2);
	ghost_case(B3CAS_POLICY_LRU, &x, &y, salt);
	assert_int_equal(x, 0);
	assert_int_equal(y, 0);
}

/* ---- 5. tickets ---------------------------------------------------------- */

static void test_tickets_one_shard(void **state)
{
	b3cas_cache *c = b3cas__cache_new(1 << 20, 1, B3CAS_POLICY_S3FIFO,
					  NULL);
	b3cas_oid a, b, d;
	uint64_t t;

	(void)state;
	assert_non_null(c);
	make_id(&a, 1, 11);
	make_id(&b, 2, 11);
	make_id(&d, 3, 11);

	/* An erase of another, cached id stales the ticket. */
	assert_true(insert_now(c, &b, NULL, 10));
	t = b3cas__cache_ticket(c, &a);
	assert_true(b3cas__cache_erase(c, &b));
	assert_false(b3cas__cache_insert(c, &a, NULL, 10, t));
	assert_false(b3cas__cache_contains(c, &a));
	/* So does an erase of an id that was not cached. */
	t = b3cas__cache_ticket(c, &a);
	assert_false(b3cas__cache_erase(c, &b));
	assert_false(b3cas__cache_insert(c, &a, NULL, 10, t));
	assert_false(b3cas__cache_contains(c, &a));
	/* A ticket taken after the erase works. */
	t = b3cas__cache_ticket(c, &a);
	assert_true(b3cas__cache_insert(c, &a, NULL, 10, t));
	assert_true(b3cas__cache_contains(c, &a));
	/* Gets, lookups and inserts are not erases: the ticket stays good. */
	t = b3cas__cache_ticket(c, &b);
	assert_true(b3cas__cache_get(c, &a, NULL));
	assert_false(b3cas__cache_get(c, &d, NULL));
	assert_true(b3cas__cache_contains(c, &a));
	assert_true(insert_now(c, &d, NULL, 10));
	assert_true(b3cas__cache_insert(c, &b, NULL, 10, t));
	/* An erase of the same id stales it too. */
	t = b3cas__cache_ticket(c, &d);
	assert_true(b3cas__cache_erase(c, &d));
	assert_false(b3cas__cache_insert(c, &d, NULL, 10, t));
	assert_true(stats_of(c).rejected >= 3);
	b3cas__cache_free(c);
}

/* With many shards, the erase of an id always stales its own older
 * tickets (which shard it is in does not matter). */
static void test_tickets_same_id_many_shards(void **state)
{
	uint64_t seed = tu_seed("tickets_same_id");
	b3cas_cache *c = b3cas__cache_new(1 << 20, 64, B3CAS_POLICY_LRU,
					  NULL);

	(void)state;
	assert_non_null(c);
	for (uint64_t n = 0; n < 500; n++) {
		b3cas_oid id;
		uint64_t t;

		make_id(&id, n, seed);
		if (n % 2)
			assert_true(insert_now(c, &id, NULL, 100));
		t = b3cas__cache_ticket(c, &id);
		assert_int_equal(b3cas__cache_erase(c, &id), n % 2 == 1);
		assert_false(b3cas__cache_insert(c, &id, NULL, 100, t));
		assert_false(b3cas__cache_contains(c, &id));
		assert_true(insert_now(c, &id, NULL, 100));
	}
	b3cas__cache_free(c);
}

/* Inserts that evict are not erases either. */
static void test_tickets_survive_evictions(void **state)
{
	b3cas_cache *c = b3cas__cache_new(1000, 1, B3CAS_POLICY_S3FIFO, NULL);
	b3cas_cache_level_stats st;
	b3cas_oid a, f;
	uint64_t t;

	(void)state;
	assert_non_null(c);
	make_id(&a, 0, 13);
	t = b3cas__cache_ticket(c, &a);
	for (uint64_t n = 1; n <= 100; n++) {
		make_id(&f, n, 13);
		assert_true(insert_now(c, &f, NULL, 100));
	}
	st = stats_of(c);
	assert_true(st.evictions > 0);
	assert_true(b3cas__cache_insert(c, &a, NULL, 100, t));
	b3cas__cache_free(c);
}

/* ---- 6. resize ----------------------------------------------------------- */

static void resize_case(b3cas_cache_policy policy, unsigned shards,
			uint64_t seed)
{
	const uint64_t cap = 64 * 1024;
	uint64_t rng = seed, *charge;
	b3cas_cache_level_stats st;
	payload_run run;

	run_init(&run, cap, shards, policy, 2000, seed);
	charge = calloc(run.pool_n, sizeof(*charge));
	assert_non_null(charge);
	for (size_t i = 0; i < run.pool_n; i++) {
		uint64_t ch = 1 + tu_rand(&rng) % 1000;

		if (run_insert(&run, i, ch,
			       b3cas__cache_ticket(run.c, &run.pool[i])))
			charge[i] = ch;
	}
	st = stats_of(run.c);
	assert_true(st.bytes > cap / 2);

	/* Shrinking evicts before it returns. */
	b3cas__cache_resize(run.c, cap / 4);
	st = stats_of(run.c);
	assert_int_equal(st.capacity, cap / 4);
	assert_true(st.bytes <= cap / 4);
	expect_accounting(run.c, run.pool, charge, run.pool_n, "shrunk");
	run_check(&run);

	/* Capacity 0: empty, every insert refused and its payload kept. */
	b3cas__cache_resize(run.c, 0);
	st = stats_of(run.c);
	assert_int_equal(st.capacity, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.entries, 0);
	run_check(&run);
	for (size_t i = 0; i < 50; i++) {
		assert_false(run_insert(&run, i, i % 2,
					b3cas__cache_ticket(run.c,
							    &run.pool[i])));
		assert_false(run_get(&run, i));
	}
	run_check(&run);

	/* Growing takes inserts again, up to the new capacity. */
	b3cas__cache_resize(run.c, 2 * cap);
	st = stats_of(run.c);
	assert_int_equal(st.capacity, 2 * cap);
	for (size_t i = 0; i < run.pool_n; i++) {
		assert_true(run_insert(&run, i, 200,
				       b3cas__cache_ticket(run.c,
							   &run.pool[i])));
		charge[i] = 200;
	}
	st = stats_of(run.c);
	assert_true(st.bytes > cap);
	assert_true(st.bytes <= 2 * cap);
	expect_accounting(run.c, run.pool, charge, run.pool_n, "grown");
	run_check(&run);
	free(charge);
	run_finish(&run);
}

static void test_resize(void **state)
{
	uint64_t seed = tu_seed("resize");

	(void)state;
	for (size_t p = 0; p < 2; p++) {
		resize_case(policies[p], 1, seed + p);
		resize_case(policies[p], 4, seed + p + 2);
	}
}

/* Capacity 0 turns a cache off: not even an entry of charge 0 stays. */
static void test_resize_zero_empties(void **state)
{
	(void)state;
	for (size_t p = 0; p < 2; p++) {
		b3cas_cache *c = b3cas__cache_new(1000, 1, policies[p], NULL);
		b3cas_cache_level_stats st;
		b3cas_oid a, b;
		bool kept;

		assert_non_null(c);
		make_id(&a, 1, 19);
		make_id(&b, 2, 19);
		/* a is the newest: evicting from the old end until the
		 * bytes fit would stop before it. */
		assert_true(insert_now(c, &b, NULL, 10));
		assert_true(insert_now(c, &a, NULL, 0));
		b3cas__cache_resize(c, 0);
		st = stats_of(c);
		assert_int_equal(st.bytes, 0);
		assert_false(b3cas__cache_contains(c, &b));
		kept = b3cas__cache_get(c, &a, NULL);
		/* Freed before failing, so that a failure leaks nothing. */
		b3cas__cache_free(c);
		if (kept || st.entries != 0) {
			fprintf(stderr,
				"%s: after resize(0), %llu entries; the "
				"charge-0 one still a hit: %d\n",
				policy_name(policies[p]),
				(unsigned long long)st.entries, kept);
			fail();
		}
	}
}

/* ---- counters, free_keep ------------------------------------------------- */

/*
 * The counters as include/b3cas/cache.h defines them: rejected counts what
 * was too large or raced with a delete (a stale ticket), not an insert of
 * an id already cached (two readers that missed at once); the caller's
 * corrupt field is left as it was.
 */
static void test_stats_counters(void **state)
{
	b3cas_cache *c = b3cas__cache_new(4000, 1, B3CAS_POLICY_S3FIFO, NULL);
	b3cas_cache_level_stats st;
	b3cas_oid a, b;
	uint64_t t;

	(void)state;
	assert_non_null(c);
	make_id(&a, 1, 23);
	make_id(&b, 2, 23);
	memset(&st, 0xee, sizeof(st));
	st.corrupt = 12345;
	b3cas__cache_stats(c, &st);
	assert_int_equal(st.corrupt, 12345);
	assert_int_equal(st.capacity, 4000);
	assert_int_equal(st.bytes + st.entries + st.hits + st.misses, 0);
	assert_int_equal(st.inserts + st.evictions + st.invalidations, 0);
	assert_int_equal(st.rejected, 0);

	assert_true(insert_now(c, &a, NULL, 1000));
	assert_false(insert_now(c, &b, NULL, 1001)); /* too large */
	t = b3cas__cache_ticket(c, &b);
	assert_true(b3cas__cache_erase(c, &a));
	assert_false(b3cas__cache_insert(c, &b, NULL, 10, t)); /* raced */
	st = stats_of(c);
	assert_int_equal(st.rejected, 2);
	assert_int_equal(st.inserts, 1);
	assert_int_equal(st.invalidations, 1);
	assert_int_equal(st.evictions, 0);

	assert_true(insert_now(c, &a, NULL, 10));
	assert_false(insert_now(c, &a, NULL, 10)); /* already cached */
	st = stats_of(c);
	b3cas__cache_free(c);
	assert_int_equal(st.inserts, 2);
	if (st.rejected != 2) {
		fprintf(stderr, "an insert of a cached id counted as "
				"rejected (%llu, want 2)\n",
			(unsigned long long)st.rejected);
		fail();
	}
}

/* free_keep gives nothing back: the payloads stay the caller's. */
static void test_free_keep(void **state)
{
	payload_run run;
	uint64_t dropped;

	(void)state;
	run_init(&run, 1 << 20, 4, B3CAS_POLICY_S3FIFO, 100, 29);
	for (size_t i = 0; i < run.pool_n; i++)
		assert_true(run_insert(&run, i, 100,
				       b3cas__cache_ticket(run.c,
							   &run.pool[i])));
	assert_true(b3cas__cache_erase(run.c, &run.pool[0]));
	dropped = (uint64_t)run.hctx.drops;
	assert_int_equal(dropped, 1);
	b3cas__cache_free_keep(run.c);
	b3cas__cache_free_keep(NULL);
	b3cas__cache_free(NULL);
	assert_int_equal(run.hctx.drops, 1);
	for (size_t k = 0; k < run.all_n; k++) {
		assert_int_equal(run.all[k]->drops, k == 0 ? 1 : 0);
		free(run.all[k]);
	}
	free(run.all);
	free(run.pool);
	free(run.cur);
}

/* ---- blobs --------------------------------------------------------------- */

/* A blob held through a get outlives its entry's erase, unchanged. */
static void test_blob_payloads(void **state)
{
	b3cas_cache *c = b3cas__cache_new(1 << 20, 4, B3CAS_POLICY_S3FIFO,
					  &b3cas__blob_hooks);
	uint8_t want[300];
	b3cas_blob *b, *z, *r;
	void *got = NULL;
	b3cas_oid id;

	(void)state;
	assert_non_null(c);
	make_id(&id, 1, 17);
	tu_fill_pattern(want, sizeof(want));
	b = b3cas__blob_new(sizeof(want));
	assert_non_null(b);
	memcpy(b3cas__blob_bytes(b), want, sizeof(want));
	assert_true(insert_now(c, &id, b, sizeof(want)));
	assert_true(b3cas__cache_get(c, &id, &got));
	assert_ptr_equal(got, b);
	assert_true(b3cas__cache_erase(c, &id));
	assert_int_equal(b3cas_blob_size(got), sizeof(want));
	tu_expect_mem(b3cas_blob_data(got), want, sizeof(want), "erased blob");
	r = b3cas_blob_retain(got);
	assert_ptr_equal(r, got);
	b3cas_blob_release(got);
	tu_expect_mem(b3cas_blob_data(r), want, sizeof(want), "retained");
	b3cas_blob_release(r);

	/* An empty blob still has data; a refused one stays the caller's. */
	z = b3cas__blob_new(0);
	assert_non_null(z);
	assert_non_null(b3cas_blob_data(z));
	assert_int_equal(b3cas_blob_size(z), 0);
	assert_true(insert_now(c, &id, z, 0));
	b = b3cas__blob_new(1);
	assert_non_null(b);
	b3cas__blob_bytes(b)[0] = 9;
	assert_false(insert_now(c, &id, b, 1));
	b3cas_blob_release(b);
	b3cas_blob_release(NULL);
	b3cas__cache_free(c); /* drops z: AddressSanitizer sees any leak */
}

/* ---- 7. threads ---------------------------------------------------------- */

/*
 * Eight threads read (a get, and on a miss a ticket, a look at whether the
 * object exists, and an insert), erase, resize, and delete and re-put the
 * first CT_CHURN ids. Each churn id has a state: live, dying (marked
 * deleted, its erase not yet done) or dead (erased), and a generation
 * that a re-put bumps. Tickets promise that once a delete's erase is
 * done, no read that began before it puts the object back: a dead id
 * found cached in the same generation is a failure.
 */
enum {
	CT_THREADS = 8,
	CT_POOL = 4096,
	CT_HOT = 256,  /* half the reads go to these, so there are hits */
	CT_CHURN = 64, /* ids deleted and put back again and again */
	CT_OPS = 20000 /* per thread: about 8 s under ThreadSanitizer */
};

enum { ST_LIVE, ST_DYING, ST_DEAD };

#define ST_OF(v) ((v) & 3)
#define ST_GEN_STEP 4u

typedef struct conc {
	b3cas_cache *cache;
	b3cas_cache_hooks hooks;
	uint64_t seed;
	b3cas_oid pool[CT_POOL];
	atomic_uint_fast64_t state[CT_CHURN]; /* generation * 4 + ST_... */
	atomic_uint_fast64_t hits, misses, accepted, drops, deletes, caught;
	atomic_int failures;
} conc;

typedef struct conc_thread {
	conc *k;
	unsigned index;
	pthread_t th;
} conc_thread;

/* A blob's size and bytes follow from its id alone, so any holder can
 * check them. */
static size_t blob_len(const b3cas_oid *id)
{
	return ((size_t)id->bytes[0] | (size_t)id->bytes[1] << 8) % 3000;
}

static uint8_t blob_byte(const b3cas_oid *id, size_t i)
{
	return (uint8_t)(id->bytes[i % B3CAS_OID_LEN] ^ (i * 7) ^ (i >> 8));
}

static bool blob_matches(const b3cas_blob *b, const b3cas_oid *id)
{
	const uint8_t *p = b3cas_blob_data(b);
	size_t len = blob_len(id);

	if (!p || b3cas_blob_size(b) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] != blob_byte(id, i))
			return false;
	return true;
}

static void conc_fail(conc *k, const char *what, uint64_t n)
{
	fprintf(stderr, "thread failure: %s (id %llu)\n", what,
		(unsigned long long)n);
	atomic_fetch_add(&k->failures, 1);
}

/* hold() has no context: its count is the one global of these tests. */
static atomic_uint_fast64_t conc_holds;

static void conc_hold(void *p)
{
	atomic_fetch_add(&conc_holds, 1);
	b3cas__blob_hooks.hold(p);
}

static void conc_drop(const b3cas_oid *id, void *p, void *ctx)
{
	conc *k = ctx;

	/* The blob is still ours to read here: it must be id's. */
	if (!blob_matches(p, id))
		conc_fail(k, "dropped blob does not match its id", 0);
	atomic_fetch_add(&k->drops, 1);
	b3cas__blob_hooks.drop(id, p, b3cas__blob_hooks.ctx);
}

static bool conc_exists(conc *k, uint64_t n)
{
	return n >= CT_CHURN || ST_OF(atomic_load(&k->state[n])) == ST_LIVE;
}

static void conc_read(conc *k, uint64_t n)
{
	const b3cas_oid *id = &k->pool[n];
	void *got = NULL;
	b3cas_blob *b;
	uint64_t t;

	if (b3cas__cache_get(k->cache, id, &got)) {
		atomic_fetch_add(&k->hits, 1);
		if (!blob_matches(got, id))
			conc_fail(k, "hit with the wrong bytes", n);
		b3cas_blob_release(got);
		return;
	}
	atomic_fetch_add(&k->misses, 1);
	/* As the store does: the ticket, then the read of the object. */
	t = b3cas__cache_ticket(k->cache, id);
	if (!conc_exists(k, n))
		return;
	b = b3cas__blob_new(blob_len(id));
	if (!b) {
		conc_fail(k, "blob_new", n);
		return;
	}
	for (size_t i = 0; i < blob_len(id); i++)
		b3cas__blob_bytes(b)[i] = blob_byte(id, i);
	/* A read from disk takes a while: leave a delete time to race it. */
	if (n < CT_CHURN)
		sched_yield();
	if (b3cas__cache_insert(k->cache, id, b, blob_len(id) + 32, t))
		atomic_fetch_add(&k->accepted, 1);
	else
		b3cas_blob_release(b);
}

/* Delete churn id n if live (mark, then erase, as the store does), put it
 * back if dead, and check that a dead id is not cached. */
static void conc_churn(conc *k, uint64_t n, uint64_t *rng)
{
	uint64_t v = atomic_load(&k->state[n]);

	switch (ST_OF(v)) {
	case ST_LIVE:
		if (!atomic_compare_exchange_strong(&k->state[n], &v,
						    v - ST_LIVE + ST_DYING))
			return;
		b3cas__cache_erase(k->cache, &k->pool[n]);
		atomic_store(&k->state[n], v - ST_LIVE + ST_DEAD);
		atomic_fetch_add(&k->deletes, 1);
		return;
	case ST_DEAD:
		if (b3cas__cache_contains(k->cache, &k->pool[n]) &&
		    atomic_load(&k->state[n]) == v) {
			atomic_fetch_add(&k->caught, 1);
			conc_fail(k, "a deleted id was put back in the cache",
				  n);
		}
		if (tu_rand(rng) % 2) {
			uint64_t old = atomic_load(&k->state[n]);

			if (ST_OF(old) == ST_DEAD)
				atomic_compare_exchange_strong(
					&k->state[n], &old,
					old - ST_DEAD + ST_GEN_STEP + ST_LIVE);
		}
		return;
	default:
		return;
	}
}

static void *conc_main(void *arg)
{
	conc_thread *ct = arg;
	conc *k = ct->k;
	uint64_t rng = k->seed * 31 + ct->index;

	for (int op = 0; op < CT_OPS * tu_scale(); op++) {
		uint64_t r = tu_rand(&rng) % 1000;
		uint64_t n = tu_rand(&rng) % (r % 2 ? CT_HOT : CT_POOL);

		if (r < 850) {
			conc_read(k, n);
		} else if (r < 930) {
			b3cas__cache_erase(k->cache, &k->pool[n]);
		} else if (r < 998) {
			conc_churn(k, n % CT_CHURN, &rng);
		} else {
			static const uint64_t caps[] = {
				512 * 1024, 128 * 1024, 0, 1024 * 1024
			};

			b3cas__cache_resize(k->cache, caps[tu_rand(&rng) % 4]);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	conc *k = calloc(1, sizeof(*k));
	conc_thread th[CT_THREADS];
	b3cas_cache_level_stats st;
	uint64_t bytes = 0, entries = 0;

	(void)state;
	assert_non_null(k);
	k->seed = tu_seed("threads");
	atomic_store(&conc_holds, 0);
	for (size_t n = 0; n < CT_POOL; n++)
		make_id(&k->pool[n], n, k->seed);
	for (size_t n = 0; n < CT_CHURN; n++)
		atomic_init(&k->state[n], ST_LIVE);
	k->hooks.hold = conc_hold;
	k->hooks.drop = conc_drop;
	k->hooks.ctx = k;
	k->cache = b3cas__cache_new(512 * 1024, 16, B3CAS_POLICY_S3FIFO,
				    &k->hooks);
	assert_non_null(k->cache);
	for (unsigned i = 0; i < CT_THREADS; i++) {
		th[i].k = k;
		th[i].index = i;
		assert_int_equal(pthread_create(&th[i].th, NULL, conc_main,
						&th[i]),
				 0);
	}
	for (unsigned i = 0; i < CT_THREADS; i++)
		assert_int_equal(pthread_join(th[i].th, NULL), 0);
	assert_int_equal(atomic_load(&k->failures), 0);

	st = stats_of(k->cache);
	assert_int_equal(st.hits, atomic_load(&k->hits));
	assert_int_equal(st.misses, atomic_load(&k->misses));
	assert_int_equal(st.inserts, atomic_load(&k->accepted));
	assert_int_equal(atomic_load(&conc_holds), st.hits);
	assert_true(st.hits > 0 && st.inserts > 0);
	assert_true(st.bytes <= st.capacity);
	for (size_t n = 0; n < CT_POOL; n++) {
		if (!b3cas__cache_contains(k->cache, &k->pool[n]))
			continue;
		/* A deleted id cannot be put back by a read that raced it. */
		if (n < CT_CHURN)
			assert_int_equal(ST_OF(atomic_load(&k->state[n])),
					 ST_LIVE);
		bytes += blob_len(&k->pool[n]) + 32;
		entries++;
	}
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(st.entries, entries);
	assert_int_equal(st.evictions + st.invalidations,
			 atomic_load(&k->drops));
	fprintf(stderr,
		"threads: %llu hits, %llu misses, %llu inserts, %llu "
		"deletes\n",
		(unsigned long long)st.hits, (unsigned long long)st.misses,
		(unsigned long long)st.inserts,
		(unsigned long long)atomic_load(&k->deletes));
	assert_true(atomic_load(&k->deletes) > 0);
	b3cas__cache_free(k->cache);
	assert_int_equal(atomic_load(&k->drops), atomic_load(&k->accepted));
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_byte_bound),
		cmocka_unit_test(test_payload_accounting),
		cmocka_unit_test(test_lru_model),
		cmocka_unit_test(test_lru_duplicate_is_not_a_touch),
		cmocka_unit_test(test_s3fifo_scan_resistance),
		cmocka_unit_test(test_s3fifo_one_hit_wonders),
		cmocka_unit_test(test_s3fifo_ghost),
		cmocka_unit_test(test_tickets_one_shard),
		cmocka_unit_test(test_tickets_same_id_many_shards),
		cmocka_unit_test(test_tickets_survive_evictions),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_resize_zero_empties),
		cmocka_unit_test(test_stats_counters),
		cmocka_unit_test(test_free_keep),
		cmocka_unit_test(test_blob_payloads),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
