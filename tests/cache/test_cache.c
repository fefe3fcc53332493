/*
 * test_cache.c - the cache engine (cache/cache.h) against its contract.
 * This file holds main(), the list of cases in the order they run, and the
 * helpers more than one file uses (ids, stats, accounting, the payload
 * run). The cases live
 * by concern in test_cache_bound.c (the byte bound, the payload hooks'
 * accounting), test_cache_policy.c (LRU against an independent reference
 * model, S3-FIFO's observable behaviour: scan resistance, one-hit wonders,
 * the ghost), test_cache_ops.c (tickets, resize, counters, free_keep,
 * blobs) and test_cache_threads.c (eight threads on one cache with blob
 * payloads, also run under ThreadSanitizer).
 *
 * Every randomized test prints its seed; B3CAS_TEST_SEED replays it, and
 * B3CAS_TEST_LONG=1 runs ten times as many operations.
 */
#include "test_cache_int.h"

const b3cas_cache_policy policies[] = {
	B3CAS_POLICY_S3FIFO, B3CAS_POLICY_LRU
};

const char *policy_name(b3cas_cache_policy p)
{
	return p == B3CAS_POLICY_LRU ? "lru" : "s3fifo";
}

/* Id number n of a test: 32 pseudo-random bytes, so that ids spread over
 * shards whatever bytes the engine picks its shard from. */
void make_id(b3cas_oid *out, uint64_t n, uint64_t salt)
{
	uint64_t s = n * 0xD1B54A32D192ED03ull ^ salt;

	for (size_t i = 0; i < sizeof(out->bytes); i += 8) {
		uint64_t v = tu_rand(&s);

		memcpy(out->bytes + i, &v, 8);
	}
}

b3cas_cache_level_stats stats_of(b3cas_cache *c)
{
	b3cas_cache_level_stats st;

	memset(&st, 0, sizeof(st));
	b3cas__cache_stats(c, &st);
	return st;
}

bool insert_now(b3cas_cache *c, const b3cas_oid *id, void *value,
		uint64_t charge)
{
	uint64_t t = b3cas__cache_ticket(c, id);

	return b3cas__cache_insert(c, id, value, charge, t);
}

/* A charge from a spread of sizes: mostly small, some near and above a
 * shard's quarter, now and then 0. */
uint64_t random_charge(uint64_t *rng, uint64_t max)
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
void expect_accounting(b3cas_cache *c, const b3cas_oid *pool,
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

void run_init(payload_run *run, uint64_t cap, unsigned shards,
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
bool run_insert(payload_run *run, size_t i, uint64_t charge,
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

bool run_get(payload_run *run, size_t i)
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
void run_check(payload_run *run)
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
void run_finish(payload_run *run)
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
