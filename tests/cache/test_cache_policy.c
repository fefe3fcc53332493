/*
 * test_cache_policy.c - the eviction policies: LRU against an independent
 * reference model under seeded random operations, a refused duplicate
 * insert that is not a use, and S3-FIFO's observable behaviour (scan
 * resistance, one-hit wonders, the ghost queue). Part of the test_cache
 * program.
 */
#include "test_cache_int.h"

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

void test_lru_model(void **state)
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
void test_lru_duplicate_is_not_a_touch(void **state)
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

void test_s3fifo_scan_resistance(void **state)
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

void test_s3fifo_one_hit_wonders(void **state)
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

void test_s3fifo_ghost(void **state)
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
