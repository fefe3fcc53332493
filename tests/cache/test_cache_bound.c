/*
 * test_cache_bound.c - the cache's bookkeeping under random charges: the
 * byte bound is never exceeded and the stats add up (test_byte_bound), and
 * the payload hooks' accounting holds: every accepted payload is dropped
 * exactly once, never while cached, and held only on a hit
 * (test_payload_accounting). Part of the test_cache program.
 */
#include "test_cache_int.h"

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

void test_byte_bound(void **state)
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

void test_payload_accounting(void **state)
{
	static const unsigned shard_counts[] = { 1, 8 };
	uint64_t seed = tu_seed("payload_accounting");

	(void)state;
	for (size_t p = 0; p < 2; p++)
		for (size_t s = 0; s < 2; s++)
			payload_case(policies[p], shard_counts[s],
				     seed + p * 2 + s);
}
