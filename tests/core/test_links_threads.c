/*
 * test_links_threads.c - objects that hold references and names, many
 * threads at once (run under ThreadSanitizer in CI): workers put plain
 * objects from a small shared pool and linked objects that link what
 * they hold (so threads meet on the same objects and the same manifest
 * nodes), delete, and move names of their own, while a collector runs
 * GC with no grace in a loop. Each worker keeps a ledger of its
 * references and names; everything it holds, and everything that links
 * to at any depth, must read back at every check (a GC false positive
 * would lose it). At the end every reference and name goes, GC runs,
 * and the store must be empty, fsck clean, and the index free of the
 * links machinery.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "store/store_int.h"
#include "meta_keys.h"
#include "prng.h"
#include "test_util.h"
#include <b3cas/integrity.h>

#define WORKERS 6
#define HELD_MAX 64
#define NAMES 4

static b3cas_store *st;
static atomic_bool stop;
static atomic_int failures;

typedef struct worker {
	int no;
	uint64_t rng;
	b3cas_oid held[HELD_MAX]; /* one reference each (repeats allowed) */
	int nheld;
	bool named[NAMES];
	b3cas_oid name_id[NAMES];
	unsigned ops;
} worker;

#define FAILW(...)                                                  \
	do {                                                        \
		fprintf(stderr, "FAIL: " __VA_ARGS__);              \
		fprintf(stderr, " (%s)\n", b3cas_error_last());     \
		atomic_fetch_add(&failures, 1);                     \
	} while (0)

/* id and all it links to, at any depth (up to 8), read back. */
static void check_reaches(const b3cas_oid *id, int depth)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint8_t *p;
	size_t len;
	uint32_t n = 0;

	if (b3cas_store_get(st, id, (void **)&p, &len) != 0) {
		FAILW("object %s (depth %d) lost", b3cas_oid_fmt(hex, id),
		      depth);
		return;
	}
	if (len >= 5 && p[0] == 'L')
		memcpy(&n, p + 1, 4);
	for (uint32_t k = 0; depth < 8 && k < n && 5 + (k + 1) * 32 <= len;
	     k++) {
		b3cas_oid c;

		memcpy(c.bytes, p + 5 + k * 32, 32);
		check_reaches(&c, depth + 1);
	}
	b3cas_free(p);
}

static void put_one(worker *w)
{
	uint8_t buf[5 + 8 * 32 + 300];
	b3cas_oid links[8], id;
	uint32_t n = 0;
	size_t len;
	int rc;

	if (w->nheld == HELD_MAX)
		return;
	if (w->nheld && tu_rand(&w->rng) % 2) {
		n = 1 + (uint32_t)(tu_rand(&w->rng) % 8);
		for (uint32_t k = 0; k < n; k++)
			links[k] = w->held[tu_rand(&w->rng) % w->nheld];
	}
	buf[0] = n ? 'L' : 'P';
	memcpy(buf + 1, &n, 4);
	for (uint32_t k = 0; k < n; k++)
		memcpy(buf + 5 + k * 32, links[k].bytes, 32);
	/* few tails: other threads put the same bytes */
	len = 5 + n * 32 + 1 + tu_rand(&w->rng) % 4;
	memset(buf + 5 + n * 32, (int)(tu_rand(&w->rng) % 16), len - 5 - n * 32);
	rc = n ? b3cas_store_put_linked(st, &id, buf, len, links, n)
	       : b3cas_store_put(st, &id, buf, len);
	if (rc < 0) {
		FAILW("worker %d: put", w->no);
		return;
	}
	w->held[w->nheld++] = id;
	check_reaches(&id, 0);
}

static void delete_one(worker *w)
{
	int i;

	if (!w->nheld)
		return;
	i = (int)(tu_rand(&w->rng) % (uint64_t)w->nheld);
	if (b3cas_store_delete(st, &w->held[i]) < 0)
		FAILW("worker %d: delete", w->no);
	w->held[i] = w->held[--w->nheld];
}

static void name_one(worker *w)
{
	int k = (int)(tu_rand(&w->rng) % NAMES);
	char name[32];

	snprintf(name, sizeof(name), "w%d/%d", w->no, k);
	if (w->named[k] && tu_rand(&w->rng) % 2) {
		if (b3cas_name_delete(st, name) != 0)
			FAILW("worker %d: name delete", w->no);
		w->named[k] = false;
	} else if (w->nheld) {
		b3cas_oid id = w->held[tu_rand(&w->rng) % w->nheld];
		int rc = b3cas_name_set(st, name, &id);

		if (rc != (w->named[k] ? 1 : 0))
			FAILW("worker %d: name set gave %d", w->no, rc);
		w->named[k] = true;
		w->name_id[k] = id;
	}
}

static void check_all(worker *w)
{
	for (int i = 0; i < w->nheld; i++)
		check_reaches(&w->held[i], 0);
	for (int k = 0; k < NAMES; k++) {
		char name[32];
		b3cas_oid id;

		if (!w->named[k])
			continue;
		snprintf(name, sizeof(name), "w%d/%d", w->no, k);
		if (b3cas_name_get(st, name, &id) != 0 ||
		    !b3cas_oid_equal(&id, &w->name_id[k]))
			FAILW("worker %d: name %s", w->no, name);
		else
			check_reaches(&id, 0);
	}
}

static void *work(void *arg)
{
	worker *w = arg;

	for (unsigned op = 0; op < w->ops; op++) {
		uint64_t r = tu_rand(&w->rng) % 100;

		if (r < 50)
			put_one(w);
		else if (r < 85)
			delete_one(w);
		else
			name_one(w);
		if (op % 64 == 0)
			check_all(w);
	}
	check_all(w);
	return NULL;
}

static void *collect(void *arg)
{
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

	(void)arg;
	g.normal_priority = true;
	while (!atomic_load(&stop))
		if (b3cas_gc(st, &g, NULL) != 0)
			FAILW("gc");
	return NULL;
}

static void run(bool chunking)
{
	b3cas_store_options o = tu_store_options(true, 1024);
	static worker w[WORKERS];
	pthread_t t[WORKERS], gc;
	uint64_t seed = tu_seed("test_links_threads");
	const char *e = getenv("B3CAS_LINKS_THREAD_OPS");
	unsigned ops = e ? (unsigned)strtoul(e, NULL, 10) : 600;
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
	b3cas_fsck_report fr;
	b3cas_stats stats;
	char root[64];

	o.chunking = chunking ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_OFF;
	tu_make_root(root, sizeof(root), "links-threads");
	st = tu_open_store(root, &o);
	atomic_store(&stop, false);
	atomic_store(&failures, 0);
	for (int i = 0; i < WORKERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].no = i;
		w[i].rng = seed + (uint64_t)i * 0x9e3779b97f4a7c15ull;
		w[i].ops = ops;
	}
	assert_int_equal(pthread_create(&gc, NULL, collect, NULL), 0);
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	pthread_join(gc, NULL);
	assert_int_equal(atomic_load(&failures), 0);
	/* everything goes */
	for (int i = 0; i < WORKERS; i++) {
		while (w[i].nheld)
			delete_one(&w[i]);
		for (int k = 0; k < NAMES; k++) {
			char name[32];

			snprintf(name, sizeof(name), "w%d/%d", i, k);
			if (w[i].named[k])
				assert_int_equal(b3cas_name_delete(st, name),
						 0);
		}
	}
	g.normal_priority = true;
	assert_int_equal(b3cas_gc(st, &g, NULL), 0);
	assert_int_equal(atomic_load(&failures), 0);
	assert_int_equal(b3cas_store_stats(st, &stats), 0);
	assert_int_equal(stats.objects, 0);
	assert_int_equal(b3cas_fsck(st, NULL, &fr), 0);
	assert_int_equal(fr.problems, 0);
	assert_int_equal(tu_meta_keys(b3cas__store_index(st)), 0);
	assert_int_equal(b3cas_store_close(st), 0);
	tu_remove_root(root);
}

static void test_plain(void **state)
{
	(void)state;
	run(false);
}

static void test_chunking(void **state)
{
	(void)state;
	run(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_chunking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
