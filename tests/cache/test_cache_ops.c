/*
 * test_cache_ops.c - the cache's single-threaded operations one by one:
 * tickets (an erase stales older tickets of its id, evictions do not),
 * resize (down, up, and to zero, which empties), the stats counters,
 * free_keep (payloads stay the caller's) and blob payloads that outlive
 * their entry. Part of the test_cache program.
 */
#include "test_cache_int.h"

/* ---- 5. tickets ---------------------------------------------------------- */

void test_tickets_one_shard(void **state)
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
void test_tickets_same_id_many_shards(void **state)
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
void test_tickets_survive_evictions(void **state)
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

void test_resize(void **state)
{
	uint64_t seed = tu_seed("resize");

	(void)state;
	for (size_t p = 0; p < 2; p++) {
		resize_case(policies[p], 1, seed + p);
		resize_case(policies[p], 4, seed + p + 2);
	}
}

/* Capacity 0 turns a cache off: not even an entry of charge 0 stays. */
void test_resize_zero_empties(void **state)
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
void test_stats_counters(void **state)
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
void test_free_keep(void **state)
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
void test_blob_payloads(void **state)
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
