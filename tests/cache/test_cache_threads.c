/*
 * test_cache_threads.c - eight threads on one cache with blob payloads:
 * reads, erases, resizes and delete/re-put churn, checked against the
 * promise of tickets (a read begun before a delete's erase never puts the
 * object back). Labelled concurrency, so also run under ThreadSanitizer.
 * Part of the test_cache program.
 */
#include "test_cache_int.h"

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

void test_threads(void **state)
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
