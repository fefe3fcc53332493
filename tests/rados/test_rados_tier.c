/*
 * test_rados_tier.c - the RADOS object tier (src/tier/rados.h) against a
 * real cluster: scripts/ceph-dev.sh's, started by the ctest fixture
 * (tests/rados/CMakeLists.txt), named by B3CAS_TEST_CEPH_CONF and
 * B3CAS_TEST_RADOS_POOL. Without them the test fails: a missing cluster
 * is an error, not a skip.
 *
 * Each test works in a namespace of its own (a random name), so runs
 * never see each other's objects, and ends by checking that the
 * namespace is empty again (nothing leaked).
 *
 * The race test (t_hosts_race) runs this program again as worker
 * processes, each a host of its own (its own host id and connection, as
 * separate machines would be), on one namespace: they put, reference,
 * release, collect and read the same few objects from several threads at
 * once, each thread keeping a ledger of the references it holds. Any
 * read of an object a thread holds must succeed byte-exact (nothing freed
 * while referenced); at the end every host's count in the cluster must
 * equal its ledger, and the total their sum (no update lost).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "rados_workers.h"
#include "tier/rados.h"

static const char *conf_path, *pool_name;
static uint64_t seed;

/* ---- helpers ------------------------------------------------------------- */

static void random_ns(char *ns, size_t n, uint64_t *st)
{
	snprintf(ns, n, "test-%016llx", (unsigned long long)tu_rand(st));
}

static void host_of(uint8_t host[16], unsigned k)
{
	memset(host, 0, 16);
	host[0] = 0xb3;
	host[15] = (uint8_t)k;
	host[14] = (uint8_t)(k >> 8);
}

static b3cas_rados *open_tier(const char *ns, unsigned host)
{
	b3cas_rados_conf c = {conf_path, pool_name, ns, NULL, 30000, {0}};
	b3cas_rados *t = NULL;
	int rc;

	host_of(c.host, host);
	rc = b3cas__rados_open(&t, &c);
	if (rc != 0)
		fprintf(stderr, "open: %s\n", b3cas_error_last());
	assert_int_equal(rc, 0);
	return t;
}

/* The bytes of object k of size len (a pure function of k and len). */
static void object_bytes(uint8_t *p, size_t len, uint64_t k)
{
	uint64_t st = tu_mix(k * 1000003u + len);

	tu_fill_random(p, len, &st);
}

static void id_of(uint8_t id[32], const uint8_t *p, size_t len)
{
	b3cas_hash(id, p, len);
}

static int count_visit(void *ctx, const uint8_t id[32])
{
	(void)id;
	(*(uint64_t *)ctx)++;
	return 0;
}

static uint64_t objects_in(b3cas_rados *t)
{
	uint64_t n = 0, others = 0;

	assert_int_equal(b3cas__rados_list(t, count_visit, &n, &others), 0);
	return n + others;
}

/* Drop every reference host h holds on ids[0..n) and collect them all. */
static int empty_visit(void *ctx, const uint8_t id[32])
{
	b3cas_rados *t = ctx;

	(void)b3cas__rados_collect(t, id);
	return 0;
}

/* ---- single-host behaviour ---------------------------------------------- */

static void t_roundtrip(void **state)
{
	static const size_t sizes[] = {0,	   1,	  31,	  1000,
				       65535,	   65536, 65537, 100000,
				       256u << 10, (256u << 10) + 1,
				       3u << 20};
	char ns[64];
	uint64_t st = seed ^ 1;
	b3cas_rados *t;

	(void)state;
	random_ns(ns, sizeof(ns), &st);
	t = open_tier(ns, 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint8_t *p = malloc(len + 1), id[32];
		void *back;
		size_t got;
		uint64_t size;
		int64_t total, mine;
		bool created;

		object_bytes(p, len, i);
		id_of(id, p, len);
		assert_int_equal(b3cas__rados_put(t, id, p, len, &created), 0);
		assert_true(created);
		assert_int_equal(b3cas__rados_put(t, id, p, len, &created), 0);
		assert_false(created);
		assert_int_equal(b3cas__rados_counts(t, id, &total, &mine), 0);
		assert_int_equal(total, 2);
		assert_int_equal(mine, 2);
		assert_int_equal(b3cas__rados_stat(t, id, &size), 0);
		assert_int_equal(size, len);
		/* no hint, the exact size, too small and too large a hint */
		for (int h = 0; h < 4; h++) {
			uint64_t hint = h == 0 ? 0
					: h == 1 ? len
					: h == 2 ? (len > 1 ? len / 2 : 1)
						 : len * 2 + 10;

			assert_int_equal(b3cas__rados_read(t, id, hint, &back,
							   &got),
					 0);
			assert_int_equal(got, len);
			assert_memory_equal(back, p, len);
			free(back);
		}
		/* ranges, one running past the end */
		if (len > 0) {
			uint8_t buf[4096];
			uint64_t off = tu_rand(&st) % len;
			size_t want = sizeof(buf);

			assert_int_equal(b3cas__rados_read_at(t, id, off, buf,
							      want, &got),
					 0);
			assert_int_equal(got, len - off < want ? len - off
							       : want);
			assert_memory_equal(buf, p + off, got);
		}
		/* the two references released: the object goes */
		for (int k = 0; k < 2; k++) {
			bool last;

			assert_int_equal(b3cas__rados_release(t, id, &last), 0);
			assert_int_equal(last, k == 1);
		}
		assert_int_equal(b3cas__rados_collect(t, id), 1);
		assert_int_equal(b3cas__rados_read(t, id, 0, &back, &got),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas__rados_stat(t, id, &size),
				 B3CAS_ENOTFOUND);
		free(p);
	}
	assert_int_equal(objects_in(t), 0);
	b3cas__rados_close(t);
}

static void t_counts_and_refusals(void **state)
{
	char ns[64];
	uint64_t st = seed ^ 2;
	uint8_t p[5000], id[32], other[32];
	b3cas_rados *t;
	int64_t total, mine;
	bool last;

	(void)state;
	random_ns(ns, sizeof(ns), &st);
	t = open_tier(ns, 1);
	object_bytes(p, sizeof(p), 7);
	id_of(id, p, sizeof(p));
	memset(other, 0x5a, sizeof(other));
	/* nothing to reference, release or collect yet */
	assert_int_equal(b3cas__rados_ref(t, id, 1), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas__rados_release(t, id, &last), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas__rados_collect(t, id), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas__rados_counts(t, id, &total, &mine),
			 B3CAS_ENOTFOUND);
	assert_non_null(strstr(b3cas_error_last(), "no such object"));

	assert_int_equal(b3cas__rados_put(t, id, p, sizeof(p), NULL), 0);
	assert_int_equal(b3cas__rados_ref(t, id, 5), 0);
	assert_int_equal(b3cas__rados_counts(t, id, &total, &mine), 0);
	assert_int_equal(total, 6);
	assert_int_equal(mine, 6);
	/* referenced: not collected */
	assert_int_equal(b3cas__rados_collect(t, id), 0);
	for (int k = 0; k < 6; k++) {
		assert_int_equal(b3cas__rados_release(t, id, &last), 0);
		assert_int_equal(last, k == 5);
	}
	/* a release beyond what this host holds is refused, counts unmoved */
	assert_int_equal(b3cas__rados_release(t, id, &last), B3CAS_ERANGE);
	assert_non_null(strstr(b3cas_error_last(), "holds no reference"));
	assert_int_equal(b3cas__rados_counts(t, id, &total, &mine), 0);
	assert_int_equal(total, 0);
	assert_int_equal(mine, 0);
	/* revived before the collection: kept */
	assert_int_equal(b3cas__rados_ref(t, id, 1), 0);
	assert_int_equal(b3cas__rados_collect(t, id), 0);
	assert_int_equal(b3cas__rados_release(t, id, NULL), 0);
	assert_int_equal(b3cas__rados_collect(t, id), 1);
	assert_int_equal(b3cas__rados_collect(t, id), B3CAS_ENOTFOUND);
	/* a put after the collection writes the object anew */
	assert_int_equal(b3cas__rados_put(t, id, p, sizeof(p), &last), 0);
	assert_true(last);
	assert_int_equal(b3cas__rados_release(t, id, NULL), 0);
	assert_int_equal(b3cas__rados_collect(t, id), 1);
	/* an object too large for the tier (refused before a byte is read) */
	assert_int_equal(b3cas__rados_put(t, other, p,
					  (size_t)B3CAS_RADOS_BIG_MAX + 1u,
					  NULL),
			 B3CAS_ERANGE);
	assert_int_equal(objects_in(t), 0);
	b3cas__rados_close(t);
}

/* Two hosts on one namespace: each releases only what it holds. */
static void t_two_hosts(void **state)
{
	char ns[64];
	uint64_t st = seed ^ 3;
	uint8_t p[100000], id[32];
	b3cas_rados *a, *b;
	int64_t total, mine;
	bool created, last;

	(void)state;
	random_ns(ns, sizeof(ns), &st);
	a = open_tier(ns, 1);
	b = open_tier(ns, 2);
	object_bytes(p, sizeof(p), 9);
	id_of(id, p, sizeof(p));
	assert_int_equal(b3cas__rados_put(a, id, p, sizeof(p), &created), 0);
	assert_true(created);
	assert_int_equal(b3cas__rados_put(b, id, p, sizeof(p), &created), 0);
	assert_false(created);
	assert_int_equal(b3cas__rados_ref(b, id, 2), 0);
	assert_int_equal(b3cas__rados_counts(a, id, &total, &mine), 0);
	assert_int_equal(total, 4);
	assert_int_equal(mine, 1);
	assert_int_equal(b3cas__rados_counts(b, id, NULL, &mine), 0);
	assert_int_equal(mine, 3);
	assert_int_equal(b3cas__rados_release(a, id, &last), 0);
	assert_false(last);
	/* a holds none now, whatever b holds */
	assert_int_equal(b3cas__rados_release(a, id, &last), B3CAS_ERANGE);
	assert_int_equal(b3cas__rados_collect(a, id), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(b3cas__rados_release(b, id, &last), 0);
	assert_true(last);
	assert_int_equal(b3cas__rados_collect(a, id), 1);
	assert_int_equal(objects_in(a), 0);
	b3cas__rados_close(a);
	b3cas__rados_close(b);
}

/*
 * A big object (over B3CAS_RADOS_OBJECT_MAX: its bytes in parts): put by
 * one host (made), then by another (a reference: that put's own parts
 * removed), read whole and in ranges across parts' edges by both, and
 * through the store's read of an object it does not hold; collected once
 * nobody holds it, its parts gone with it.
 */
static void t_big(void **state)
{
	char ns[64];
	uint64_t st = seed ^ 7;
	size_t len = B3CAS_RADOS_OBJECT_MAX + (1u << 20) + 12345, got;
	uint8_t *p = malloc(len), *back = malloc(len), id[32];
	b3cas_rados *a, *b;
	int64_t total, others;
	bool created, last;
	void *data;
	size_t dlen;
	uint64_t size;
	static const uint64_t offs[] = {0, (16u << 20) - 5, (64u << 20) - 7};

	(void)state;
	assert_non_null(p);
	assert_non_null(back);
	random_ns(ns, sizeof(ns), &st);
	a = open_tier(ns, 1);
	b = open_tier(ns, 2);
	object_bytes(p, len, 31);
	id_of(id, p, len);
	assert_int_equal(b3cas__rados_put(a, id, p, len, &created), 0);
	assert_true(created);
	/* the head and 5 parts of 16 MiB (the last shorter) */
	assert_int_equal(objects_in(a), 1 + 5);
	assert_int_equal(b3cas__rados_put(b, id, p, len, &created), 0);
	assert_false(created);
	assert_int_equal(objects_in(a), 1 + 5);
	assert_int_equal(b3cas__rados_counts(a, id, &total, NULL), 0);
	assert_int_equal(total, 2);
	memset(back, 0, len);
	assert_int_equal(b3cas__rados_read_big(b, id, 0, back, len, &got,
					       &size),
			 0);
	assert_int_equal(got, len);
	assert_int_equal(size, len);
	assert_memory_equal(back, p, len);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		assert_int_equal(b3cas__rados_read_big(a, id, offs[i], back,
						       100000, &got, NULL),
				 0);
		assert_int_equal(got, 100000);
		assert_memory_equal(back, p + offs[i], got);
	}
	/* past the end: short */
	assert_int_equal(b3cas__rados_read_big(a, id, len - 10, back, 100,
					       &got, NULL),
			 0);
	assert_int_equal(got, 10);
	/* a's read of what b holds, as a store reads an object it lacks */
	assert_int_equal(b3cas__rados_release(a, id, &last), 0);
	assert_false(last);
	assert_int_equal(b3cas__rados_read_held(a, id, &data, &dlen, &others),
			 0);
	assert_int_equal(others, 1);
	assert_int_equal(dlen, len);
	assert_memory_equal(data, p, len);
	free(data);
	assert_int_equal(b3cas__rados_collect(a, id), 0); /* b holds it */
	assert_int_equal(b3cas__rados_release(b, id, &last), 0);
	assert_true(last);
	assert_int_equal(b3cas__rados_collect(b, id), 1);
	/* head and parts gone */
	assert_int_equal(objects_in(a), 0);
	assert_int_equal(b3cas__rados_read_big(a, id, 0, back, 10, &got, NULL),
			 B3CAS_ENOTFOUND);
	b3cas__rados_close(a);
	b3cas__rados_close(b);
	free(p);
	free(back);
}

/* ---- batches ------------------------------------------------------------- */

static void t_batches(void **state)
{
	enum { N = 3000 };
	char ns[64];
	uint64_t st = seed ^ 4;
	uint8_t (*ids)[32] = malloc(N * sizeof(*ids));
	uint8_t **bytes = calloc(N, sizeof(*bytes));
	size_t *lens = calloc(N, sizeof(*lens)), *got = calloc(N, sizeof(*got));
	void **bufs = calloc(N, sizeof(*bufs));
	size_t *caps = calloc(N, sizeof(*caps));
	bool *found = calloc(N, sizeof(*found)), *created = calloc(N, 1);
	b3cas_rados *t;
	size_t stored = 0;

	(void)state;
	assert_non_null(ids);
	random_ns(ns, sizeof(ns), &st);
	t = open_tier(ns, 1);
	for (size_t i = 0; i < N; i++) {
		/* sizes from 0 to 20 KiB, and one in 50 past 256 KiB: both
		 * sides of the put's rule (create first, or reference) */
		lens[i] = i % 50 == 7 ? (256u << 10) + 1 +
						(size_t)(tu_rand(&st) % 50000)
				      : (size_t)(tu_rand(&st) % 20000);
		bytes[i] = malloc(lens[i] + 1);
		object_bytes(bytes[i], lens[i], i);
		id_of(ids[i], bytes[i], lens[i]);
	}
	/* every third stored one at a time first */
	for (size_t i = 0; i < N; i += 3, stored++)
		assert_int_equal(b3cas__rados_put(t, ids[i], bytes[i], lens[i],
						  NULL),
				 0);
	assert_int_equal(b3cas__rados_exists_batch(t, (const uint8_t(*)[32])ids,
						   N, found),
			 (int64_t)stored);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(found[i], i % 3 == 0);
	/* all of them in one batch: the third already there gain a
	 * reference, the rest are created */
	assert_int_equal(b3cas__rados_put_batch(t, (const uint8_t(*)[32])ids,
						(const void *const *)bytes,
						lens, N, created),
			 0);
	for (size_t i = 0; i < N; i++) {
		int64_t total;

		assert_int_equal(created[i], i % 3 != 0);
		if (i % 97 == 0) {
			assert_int_equal(b3cas__rados_counts(t, ids[i], &total,
							     NULL),
					 0);
			assert_int_equal(total, i % 3 == 0 ? 2 : 1);
		}
	}
	assert_int_equal(b3cas__rados_exists_batch(t, (const uint8_t(*)[32])ids,
						   N, found),
			 N);
	/* read back in one batch */
	for (size_t i = 0; i < N; i++) {
		caps[i] = lens[i] + 100;
		bufs[i] = malloc(caps[i]);
	}
	assert_int_equal(b3cas__rados_read_batch(t, (const uint8_t(*)[32])ids,
						 (void *const *)bufs, caps, N,
						 got),
			 0);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(got[i], lens[i]);
		assert_memory_equal(bufs[i], bytes[i], lens[i]);
	}
	/* a buffer too small, and a missing object, fail the batch */
	{
		size_t big = 0;

		for (size_t i = 1; i < N; i++)
			if (lens[i] > lens[big])
				big = i;
		caps[big] = lens[big] - 1;
		assert_int_equal(b3cas__rados_read_batch(
					 t, (const uint8_t(*)[32])ids,
					 (void *const *)bufs, caps, N, got),
				 B3CAS_ERANGE);
		caps[big] = lens[big] + 100;
	}
	/* everything released and collected: the namespace is empty, and the
	 * batches see nothing */
	for (size_t i = 0; i < N; i++) {
		while (b3cas__rados_release(t, ids[i], NULL) == 0)
			;
		assert_int_equal(b3cas__rados_collect(t, ids[i]), 1);
	}
	assert_int_equal(b3cas__rados_exists_batch(t, (const uint8_t(*)[32])ids,
						   N, found),
			 0);
	assert_int_equal(b3cas__rados_read_batch(t, (const uint8_t(*)[32])ids,
						 (void *const *)bufs, caps, N,
						 got),
			 B3CAS_ENOTFOUND);
	assert_int_equal(objects_in(t), 0);
	b3cas__rados_close(t);
	for (size_t i = 0; i < N; i++) {
		free(bytes[i]);
		free(bufs[i]);
	}
	free(ids);
	free(bytes);
	free(lens);
	free(got);
	free(bufs);
	free(caps);
	free(found);
	free(created);
}

/* ---- failures ------------------------------------------------------------ */

/* A configuration whose monitor nobody answers at: open fails within its
 * timeout, naming the cause. */
static void t_cluster_down(void **state)
{
	char path[] = "/tmp/b3cas-rados-down-XXXXXX";
	int fd = mkstemp(path);
	b3cas_rados_conf c = {path, pool_name, NULL, NULL, 3000, {0}};
	b3cas_rados *t = NULL;
	struct timespec a, b;
	double secs;
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	/* port 9 (discard): nothing listens on 127.0.0.1 there */
	fprintf(f, "[global]\nmon host = v1:127.0.0.1:9\nauth cluster required"
		   " = none\nauth service required = none\nauth client "
		   "required = none\n");
	fclose(f);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(b3cas__rados_open(&t, &c), B3CAS_EIO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	fprintf(stderr, "[t_cluster_down] open failed after %.2f s: %s\n", secs,
		b3cas_error_last());
	assert_true(secs < 3.0 + 5.0);
	assert_non_null(strstr(b3cas_error_last(), "timed out after 3 s"));
	assert_null(t);
	unlink(path);

	/* a pool that does not exist; a configuration that does not */
	c.conf = conf_path;
	c.pool = "no-such-pool-b3cas";
	assert_int_equal(b3cas__rados_open(&t, &c), B3CAS_ENOTFOUND);
	assert_non_null(strstr(b3cas_error_last(), "no-such-pool-b3cas"));
	c.conf = "/nonexistent/ceph.conf";
	c.pool = pool_name;
	assert_int_equal(b3cas__rados_open(&t, &c), B3CAS_ENOTFOUND);
	assert_non_null(strstr(b3cas_error_last(), "/nonexistent/ceph.conf"));
}

/* ---- many hosts at once -------------------------------------------------- */

#define RACE_OBJECTS 32
#define RACE_THREADS 4
#define RACE_HOSTS 4

typedef struct {
	b3cas_rados *t;
	uint64_t seed;
	double until;
	/* what this thread holds, per object */
	int64_t held[RACE_OBJECTS];
	uint64_t ops, reads, collected, refused;
	int failed;
	char why[512];
} race_thread;

static uint8_t race_ids[RACE_OBJECTS][32];
static uint8_t *race_bytes[RACE_OBJECTS];
static size_t race_lens[RACE_OBJECTS];

static void race_objects(void)
{
	for (size_t k = 0; k < RACE_OBJECTS; k++) {
		/* small (sent with the create), and larger (ref first) */
		race_lens[k] = k % 2 ? 1000 + k : (256u << 10) + 1 + k;
		race_bytes[k] = malloc(race_lens[k]);
		object_bytes(race_bytes[k], race_lens[k], 500 + k);
		id_of(race_ids[k], race_bytes[k], race_lens[k]);
	}
}

/* Read object k, which this thread holds: it must be there, whole. */
static int race_read(race_thread *r, unsigned k)
{
	void *back;
	size_t got;
	int rc = b3cas__rados_read(r->t, race_ids[k], race_lens[k], &back,
				   &got);

	if (rc < 0)
		return rc;
	r->reads++;
	if (got != race_lens[k] || memcmp(back, race_bytes[k], got) != 0) {
		snprintf(r->why, sizeof(r->why), "object %u read back wrong",
			 k);
		r->failed = 1;
	}
	free(back);
	return 0;
}

/*
 * Each thread holds few references for long (at most LONG_HOLDS objects
 * at a time) and takes most briefly (put, read, release), while every
 * thread collects at random: objects fall to zero and are collected
 * often, right beside other hosts' puts and references.
 */
#define LONG_HOLDS 2

static void *race_main(void *p)
{
	race_thread *r = p;
	uint64_t st = r->seed;

	while (!r->failed && rw_now() < r->until) {
		unsigned k = (unsigned)(tu_rand(&st) % RACE_OBJECTS);
		unsigned what = (unsigned)(tu_rand(&st) % 100);
		unsigned holding = 0;
		int rc = 0;

		for (unsigned i = 0; i < RACE_OBJECTS; i++)
			holding += r->held[i] > 0;
		r->ops++;
		if (what < 40) {
			/* brief: put, read, release */
			rc = b3cas__rados_put(r->t, race_ids[k], race_bytes[k],
					      race_lens[k], NULL);
			if (rc == 0) {
				r->held[k]++;
				rc = race_read(r, k);
			}
			if (rc == 0) {
				rc = b3cas__rados_release(r->t, race_ids[k],
							  NULL);
				if (rc == 0)
					r->held[k]--;
			}
		} else if (what < 65) {
			rc = b3cas__rados_collect(r->t, race_ids[k]);
			if (rc == 1)
				r->collected++;
			if (rc == B3CAS_ENOTFOUND)
				r->refused++;
			if (rc >= 0 || rc == B3CAS_ENOTFOUND)
				rc = 0;
		} else if (what < 80) {
			if (r->held[k] > 0 && r->held[k] < 3) {
				rc = b3cas__rados_ref(r->t, race_ids[k], 1);
				if (rc == 0)
					r->held[k]++;
			} else if (r->held[k] == 0 && holding < LONG_HOLDS) {
				rc = b3cas__rados_put(r->t, race_ids[k],
						      race_bytes[k],
						      race_lens[k], NULL);
				if (rc == 0)
					r->held[k]++;
			}
		} else if (what < 95) {
			/* drop one reference of a long hold */
			for (unsigned i = 0; i < RACE_OBJECTS; i++) {
				unsigned j = (k + i) % RACE_OBJECTS;

				if (r->held[j] > 0) {
					bool last;

					rc = b3cas__rados_release(
						r->t, race_ids[j], &last);
					if (rc == 0)
						r->held[j]--;
					break;
				}
			}
		} else if (r->held[k] > 0) {
			rc = race_read(r, k);
		}
		if (rc < 0 && !r->failed) {
			snprintf(r->why, sizeof(r->why), "object %u, op %u: "
				 "%s", k, what, b3cas_error_last());
			r->failed = 1;
		}
	}
	return NULL;
}

/* A worker host: argv: worker NS HOST SEED SECONDS OUTFILE. Writes its
 * ledger (one line per object: the references it holds) to OUTFILE. */
static int race_worker(char **argv)
{
	const char *ns = argv[2];
	unsigned host = (unsigned)strtoul(argv[3], NULL, 0);
	uint64_t s = strtoull(argv[4], NULL, 0);
	double secs = strtod(argv[5], NULL);
	b3cas_rados_conf c = {conf_path, pool_name, ns, NULL, 30000, {0}};
	race_thread th[RACE_THREADS];
	pthread_t tid[RACE_THREADS];
	b3cas_rados *t;
	uint64_t ops = 0, reads = 0, collected = 0;
	int failed = 0;

	race_objects();
	host_of(c.host, host);
	if (b3cas__rados_open(&t, &c) != 0) {
		fprintf(stderr, "worker %u: %s\n", host, b3cas_error_last());
		return 1;
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].t = t;
		th[i].seed = tu_mix(s + (uint64_t)i);
		th[i].until = rw_now() + secs;
		pthread_create(&tid[i], NULL, race_main, &th[i]);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(tid[i], NULL);
		ops += th[i].ops;
		reads += th[i].reads;
		collected += th[i].collected;
		if (th[i].failed) {
			fprintf(stderr, "worker %u thread %d: %s\n", host, i,
				th[i].why);
			failed = 1;
		}
	}
	b3cas__rados_close(t);
	if (rw_write(argv[6], th[0].held, RACE_THREADS, sizeof(th[0]),
		     RACE_OBJECTS) != 0)
		return 1;
	fprintf(stderr, "worker %u: %llu operations, %llu checked reads, "
		"%llu collections\n", host, (unsigned long long)ops,
		(unsigned long long)reads, (unsigned long long)collected);
	return failed;
}

static void t_hosts_race(void **state)
{
	char ns[64], out[RACE_HOSTS][64], secs[16], hs[16], ss[32];
	uint64_t st = seed ^ 5;
	int64_t ledger[RACE_HOSTS][RACE_OBJECTS];
	pid_t pid[RACE_HOSTS];
	const char *long_run = getenv("B3CAS_TEST_LONG");
	b3cas_rados *t[RACE_HOSTS];

	(void)state;
	random_ns(ns, sizeof(ns), &st);
	race_objects();
	snprintf(secs, sizeof(secs), "%d", long_run ? 120 : 5);
	for (int h = 0; h < RACE_HOSTS; h++) {
		snprintf(hs, sizeof(hs), "%d", h + 10);
		snprintf(ss, sizeof(ss), "%llu",
			 (unsigned long long)tu_rand(&st));
		pid[h] = rw_spawn(out[h], ns, hs, ss, secs);
	}
	for (int h = 0; h < RACE_HOSTS; h++)
		rw_collect(pid[h], out[h], ledger[h], RACE_OBJECTS);
	/* every host's count is its ledger, the total their sum; what is
	 * referenced reads back whole */
	for (int h = 0; h < RACE_HOSTS; h++)
		t[h] = open_tier(ns, (unsigned)h + 10);
	for (int k = 0; k < RACE_OBJECTS; k++) {
		int64_t sum = 0, total = -1, mine;
		int rc;

		for (int h = 0; h < RACE_HOSTS; h++)
			sum += ledger[h][k];
		rc = b3cas__rados_counts(t[0], race_ids[k], &total, NULL);
		if (sum == 0) {
			/* gone, or left at zero for a collection */
			assert_true(rc == B3CAS_ENOTFOUND ||
				    (rc == 0 && total == 0));
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(total, sum);
		for (int h = 0; h < RACE_HOSTS; h++) {
			assert_int_equal(b3cas__rados_counts(t[h], race_ids[k],
							     NULL, &mine),
					 0);
			assert_int_equal(mine, ledger[h][k]);
		}
		{
			void *back;
			size_t got;

			assert_int_equal(b3cas__rados_read(t[0], race_ids[k], 0,
							   &back, &got),
					 0);
			assert_int_equal(got, race_lens[k]);
			assert_memory_equal(back, race_bytes[k], got);
			free(back);
		}
	}
	/* each host drops what it holds; then everything is collected */
	for (int h = 0; h < RACE_HOSTS; h++)
		for (int k = 0; k < RACE_OBJECTS; k++)
			for (int64_t i = 0; i < ledger[h][k]; i++)
				assert_int_equal(b3cas__rados_release(
							 t[h], race_ids[k],
							 NULL),
						 0);
	assert_int_equal(b3cas__rados_list(t[0], empty_visit, t[0], NULL), 0);
	assert_int_equal(objects_in(t[0]), 0);
	for (int h = 0; h < RACE_HOSTS; h++)
		b3cas__rados_close(t[h]);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip),
		cmocka_unit_test(t_counts_and_refusals),
		cmocka_unit_test(t_two_hosts),
		cmocka_unit_test(t_big),
		cmocka_unit_test(t_batches),
		cmocka_unit_test(t_cluster_down),
		cmocka_unit_test(t_hosts_race),
	};

	conf_path = getenv("B3CAS_TEST_CEPH_CONF");
	pool_name = getenv("B3CAS_TEST_RADOS_POOL");
	if (!conf_path || !pool_name) {
		fprintf(stderr, "test_rados_tier: B3CAS_TEST_CEPH_CONF and "
			"B3CAS_TEST_RADOS_POOL must name a running cluster "
			"(scripts/ceph-dev.sh start DIR): the ctest fixture "
			"sets them\n");
		return 1;
	}
	if (argc == 7 && strcmp(argv[1], "worker") == 0)
		return race_worker(argv);
	seed = tu_seed("test_rados_tier");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
