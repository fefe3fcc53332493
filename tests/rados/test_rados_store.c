/*
 * test_rados_store.c - stores on the RADOS tier (format 3, docs/rados.md)
 * through the public API, on the cluster of the ctest fixture
 * (B3CAS_TEST_CEPH_CONF, B3CAS_TEST_RADOS_POOL; the test fails without
 * them).
 *
 * Each case uses a namespace of its own and ends with it empty. The last
 * runs four worker processes, each a store of its own (its own folder,
 * so its own host in the pool), on one namespace: threads put (the same
 * objects in every process: duplicates across hosts), delete, read what
 * they hold and collect with zero grace, each keeping a ledger of its
 * references. At the end every process's reference counts must equal
 * its ledger, every object a process holds must read byte-exact, and the
 * pool must count exactly the hosts that hold each object.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/integrity.h"
#include "test_util.h"
#include "rados_workers.h"
#include "tier_util.h"

#include <rados/librados.h>

static const char *conf_path, *pool_name;
/* B3CAS_TEST_CEPH_DIR: the cluster's folder, for t_osd_restart to kill
 * and start its OSD (scripts/ceph-dev.sh kill-osd, start-osd) */
static const char *ceph_dir;
static uint64_t seed;
/* what every open sets as rados_timeout_ms (0: the default) */
static unsigned timeout_ms;

static void random_ns(char *ns, size_t n, uint64_t *st)
{
	snprintf(ns, n, "store-%016llx", (unsigned long long)tu_rand(st));
}

static b3cas_store *open_rados_store(const char *root, const char *ns)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	int rc;

	o.create = true;
	o.rados_pool = pool_name;
	o.rados_conf = conf_path;
	o.rados_namespace = ns;
	o.rados_timeout_ms = timeout_ms;
	o.l1_bytes = 0; /* every read goes to the pool */
	rc = b3cas_store_open(&s, root, &o);
	if (rc != 0)
		fprintf(stderr, "open %s: %s\n", root, b3cas_error_last());
	assert_int_equal(rc, 0);
	return s;
}

static void gc_now(b3cas_store *s)
{
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r;

	g.normal_priority = true;
	assert_int_equal(b3cas_gc(s, &g, &r), 0);
}

static void object_bytes(uint8_t *p, size_t len, uint64_t k)
{
	uint64_t st = tu_mix(k * 7919u + len);

	tu_fill_random(p, len, &st);
}

/* ---- one store ----------------------------------------------------------- */

static void t_one_store(void **state)
{
	static const size_t sizes[] = {0, 1, 1000, 70000, 1u << 20};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	char root[64], ns[64];
	uint64_t st = seed ^ 11;
	uint8_t *bytes[N];
	b3cas_oid ids[N];
	b3cas_store *s;
	b3cas_rados *t;

	(void)state;
	tu_make_root(root, sizeof(root), "rados-store");
	random_ns(ns, sizeof(ns), &st);
	s = open_rados_store(root, ns);
	t = tu_pool_open(root);
	for (int i = 0; i < N; i++) {
		bytes[i] = malloc(sizes[i] + 1);
		object_bytes(bytes[i], sizes[i], (uint64_t)i);
		assert_int_equal(b3cas_store_put(s, &ids[i], bytes[i],
						 sizes[i]),
				 0);
		/* a second reference stays in this store's index (1: a
		 * duplicate) */
		assert_int_equal(b3cas_store_put(s, &ids[i], bytes[i],
						 sizes[i]),
				 1);
	}
	/* every object is in the pool, small ones too, held by one host */
	assert_int_equal(tu_pool_objects(t), N);
	for (int i = 0; i < N; i++) {
		b3cas_object_info info;
		b3cas_reader *r;
		int64_t total, mine;
		void *back;
		size_t len;

		assert_int_equal(b3cas__rados_counts(t, ids[i].bytes, &total,
						     &mine),
				 0);
		assert_int_equal(total, 1);
		assert_int_equal(mine, 1);
		assert_int_equal(b3cas_store_stat(s, &ids[i], &info), 0);
		assert_int_equal(info.refs, 2);
		assert_int_equal(info.size, sizes[i]);
		assert_int_equal(b3cas_store_exists(s, &ids[i]), 1);
		assert_int_equal(b3cas_store_get(s, &ids[i], &back, &len), 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(back, bytes[i], len);
		free(back);
		/* streamed */
		assert_int_equal(b3cas_reader_open(&r, s, &ids[i]), 0);
		back = malloc(sizes[i] + 1);
		assert_int_equal(b3cas_reader_read(r, back, sizes[i] + 1),
				 (int64_t)sizes[i]);
		assert_memory_equal(back, bytes[i], sizes[i]);
		free(back);
		b3cas_reader_close(r);
	}
	/* a range of the largest */
	{
		uint8_t buf[5000];
		size_t got;

		assert_int_equal(b3cas_store_read_at(s, &ids[N - 1], 12345, buf,
						     sizeof(buf), &got),
				 0);
		assert_int_equal(got, sizeof(buf));
		assert_memory_equal(buf, bytes[N - 1] + 12345, sizeof(buf));
	}
	/* a damaged copy in the pool is refused, never returned: the
	 * object made again by hand with one bit flipped (the tier never
	 * overwrites, so it is released and collected first) */
	{
		uint8_t *bad = malloc(sizes[3]);
		void *back;
		size_t len;
		bool created;

		memcpy(bad, bytes[3], sizes[3]);
		bad[100] ^= 1;
		assert_int_equal(b3cas__rados_release(t, ids[3].bytes, NULL),
				 0);
		assert_int_equal(b3cas__rados_collect(t, ids[3].bytes), 1);
		assert_int_equal(b3cas__rados_put(t, ids[3].bytes, bad,
						  sizes[3], &created),
				 0);
		assert_true(created);
		assert_int_equal(b3cas_store_get(s, &ids[3], &back, &len),
				 B3CAS_ECORRUPT);
		/* mend: the right bytes again */
		assert_int_equal(b3cas__rados_release(t, ids[3].bytes, NULL),
				 0);
		assert_int_equal(b3cas__rados_collect(t, ids[3].bytes), 1);
		assert_int_equal(b3cas__rados_put(t, ids[3].bytes, bytes[3],
						  sizes[3], NULL),
				 0);
		assert_int_equal(b3cas_store_get(s, &ids[3], &back, &len), 0);
		free(back);
		free(bad);
	}
	/* deletes: the last reference makes a candidate; GC releases the
	 * host's reference and removes the object from the pool */
	for (int i = 0; i < N; i++) {
		assert_int_equal(b3cas_store_delete(s, &ids[i]), 1);
		assert_int_equal(b3cas_store_delete(s, &ids[i]), 0);
	}
	assert_int_equal(tu_pool_objects(t), N);
	gc_now(s);
	assert_int_equal(tu_pool_objects(t), 0);
	for (int i = 0; i < N; i++) {
		void *back;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[i], &back, &len),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_store_exists(s, &ids[i]), 0);
		free(bytes[i]);
	}
	b3cas__rados_close(t);
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
}

/* ---- two hosts ----------------------------------------------------------- */

/* The end of a case with two stores: the pool handle, both stores and
 * their folders. */
static void close_two(b3cas_rados *t, b3cas_store *a, const char *ra,
		      b3cas_store *b, const char *rb)
{
	b3cas__rados_close(t);
	assert_int_equal(b3cas_store_close(a), 0);
	assert_int_equal(b3cas_store_close(b), 0);
	tu_remove_root(ra);
	tu_remove_root(rb);
}

static void t_two_hosts(void **state)
{
	char ra[64], rb[64], ns[64];
	uint64_t st = seed ^ 12;
	uint8_t p[40000];
	b3cas_store *a, *b;
	b3cas_rados *t;
	b3cas_oid id, id2;
	int64_t total;
	void *back;
	size_t len;

	(void)state;
	tu_make_root(ra, sizeof(ra), "rados-a");
	tu_make_root(rb, sizeof(rb), "rados-b");
	random_ns(ns, sizeof(ns), &st);
	a = open_rados_store(ra, ns);
	b = open_rados_store(rb, ns);
	t = tu_pool_open(ra);
	object_bytes(p, sizeof(p), 99);
	assert_int_equal(b3cas_store_put(a, &id, p, sizeof(p)), 0);
	/* b has never seen it: read from the pool, checked */
	assert_int_equal(b3cas_store_exists(b, &id), 1);
	assert_int_equal(b3cas_store_get(b, &id, &back, &len), 0);
	assert_int_equal(len, sizeof(p));
	assert_memory_equal(back, p, len);
	free(back);
	/* b takes a reference of its own: the bytes are stored once */
	assert_int_equal(b3cas_store_put(b, &id2, p, sizeof(p)), 0);
	assert_memory_equal(&id, &id2, sizeof(id));
	assert_int_equal(tu_pool_objects(t), 1);
	assert_int_equal(b3cas__rados_counts(t, id.bytes, &total, NULL), 0);
	assert_int_equal(total, 2);
	/* a lets go and collects: b's reference keeps the object */
	assert_int_equal(b3cas_store_delete(a, &id), 0);
	gc_now(a);
	assert_int_equal(b3cas__rados_counts(t, id.bytes, &total, NULL), 0);
	assert_int_equal(total, 1);
	assert_int_equal(b3cas_store_get(b, &id, &back, &len), 0);
	free(back);
	/* a reads it through again, though it holds nothing */
	assert_int_equal(b3cas_store_get(a, &id, &back, &len), 0);
	free(back);
	/* a revives its candidate? gone from a's index; a put anew */
	assert_int_equal(b3cas_store_put(a, &id2, p, sizeof(p)), 0);
	assert_int_equal(b3cas__rados_counts(t, id.bytes, &total, NULL), 0);
	assert_int_equal(total, 2);
	assert_int_equal(b3cas_store_delete(a, &id), 0);
	assert_int_equal(b3cas_store_delete(b, &id), 0);
	/* b deleted but has not collected: b still holds the pool's count */
	gc_now(a);
	assert_int_equal(tu_pool_objects(t), 1);
	gc_now(b);
	assert_int_equal(tu_pool_objects(t), 0);
	assert_int_equal(b3cas_store_get(a, &id, &back, &len),
			 B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_store_get(b, &id, &back, &len),
			 B3CAS_ENOTFOUND);
	close_two(t, a, ra, b, rb);
}

/* A candidate revived before GC keeps the host's reference in the pool;
 * one whose reference a crashed collection dropped gets it back. */
static void t_revive(void **state)
{
	char root[64], ns[64];
	uint64_t st = seed ^ 13;
	uint8_t p[3000];
	b3cas_store *s;
	b3cas_rados *t;
	b3cas_oid id;
	int64_t total, mine;

	(void)state;
	tu_make_root(root, sizeof(root), "rados-revive");
	random_ns(ns, sizeof(ns), &st);
	s = open_rados_store(root, ns);
	t = tu_pool_open(root);
	object_bytes(p, sizeof(p), 5);
	assert_int_equal(b3cas_store_put(s, &id, p, sizeof(p)), 0);
	/* a candidate revived (false) and, what a GC that crashed between
	 * the pool and the index leaves, one whose host reference the pool
	 * dropped already (true) */
	for (int crashed = 0; crashed < 2; crashed++) {
		assert_int_equal(b3cas_store_delete(s, &id), 0);
		if (crashed)
			assert_int_equal(b3cas__rados_release(t, id.bytes,
							      NULL),
					 0);
		assert_int_equal(b3cas_store_put(s, &id, p, sizeof(p)), 0);
		assert_int_equal(b3cas__rados_counts(t, id.bytes, &total,
						     &mine),
				 0);
		assert_int_equal(total, 1);
		assert_int_equal(mine, 1);
	}
	/* and a GC of such a candidate finds nothing to release, and
	 * still removes the object */
	assert_int_equal(b3cas_store_delete(s, &id), 0);
	assert_int_equal(b3cas__rados_release(t, id.bytes, NULL), 0);
	gc_now(s);
	assert_int_equal(tu_pool_objects(t), 0);
	b3cas__rados_close(t);
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
}

/* ---- many hosts at once -------------------------------------------------- */

#define HOSTS 4
#define THREADS 4
#define OBJECTS 48

static b3cas_oid obj_ids[OBJECTS];
static uint8_t *obj_bytes[OBJECTS];
static size_t obj_lens[OBJECTS];

static void make_objects(void)
{
	for (int k = 0; k < OBJECTS; k++) {
		obj_lens[k] = k % 3 == 0 ? 300000 + (size_t)k
					 : 100 + 997 * (size_t)k;
		obj_bytes[k] = malloc(obj_lens[k]);
		object_bytes(obj_bytes[k], obj_lens[k], 1000 + (uint64_t)k);
		b3cas_hash(obj_ids[k].bytes, obj_bytes[k], obj_lens[k]);
	}
}

typedef struct {
	b3cas_store *s;
	uint64_t seed;
	double until;
	int64_t held[OBJECTS];
	uint64_t ops, reads, gcs;
	int failed;
	char why[600];
} worker_thread;

static void *worker_main(void *p)
{
	worker_thread *w = p;
	uint64_t st = w->seed;

	while (!w->failed && rw_now() < w->until) {
		unsigned k = (unsigned)(tu_rand(&st) % OBJECTS);
		unsigned what = (unsigned)(tu_rand(&st) % 100);
		int rc = 0;

		w->ops++;
		if (what < 35) {
			b3cas_oid id;

			rc = b3cas_store_put(w->s, &id, obj_bytes[k],
					     obj_lens[k]);
			if (rc >= 0) /* 0 new here, 1 a duplicate */
				w->held[k]++;
			rc = rc > 0 ? 0 : rc;
		} else if (what < 70) {
			/* drop one of this thread's references */
			for (unsigned i = 0; i < OBJECTS; i++) {
				unsigned j = (k + i) % OBJECTS;

				if (w->held[j] > 0) {
					rc = b3cas_store_delete(w->s,
								&obj_ids[j]);
					if (rc >= 0) /* references left */
						w->held[j]--;
					rc = rc > 0 ? 0 : rc;
					break;
				}
			}
		} else if (what < 90) {
			if (w->held[k] > 0) {
				void *back;
				size_t len;

				rc = b3cas_store_get(w->s, &obj_ids[k], &back,
						     &len);
				if (rc == 0) {
					w->reads++;
					if (len != obj_lens[k] ||
					    memcmp(back, obj_bytes[k], len)) {
						snprintf(w->why,
							 sizeof(w->why),
							 "object %u read "
							 "back wrong", k);
						w->failed = 1;
					}
					free(back);
				}
			}
		} else {
			b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
			b3cas_gc_report r;

			g.normal_priority = true;
			rc = b3cas_gc(w->s, &g, &r);
			w->gcs++;
		}
		if (rc < 0 && !w->failed) {
			snprintf(w->why, sizeof(w->why), "object %u, op %u: %s",
				 k, what, b3cas_error_last());
			w->failed = 1;
		}
	}
	return NULL;
}

/* argv: worker ROOT NS SEED SECONDS OUTFILE: a host's run; its ledger
 * (references held per object) into OUTFILE. */
static int store_worker(char **argv)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	worker_thread th[THREADS];
	pthread_t tid[THREADS];
	uint64_t s0 = strtoull(argv[4], NULL, 0), ops = 0, reads = 0;
	double secs = strtod(argv[5], NULL);
	b3cas_store *s;
	int failed = 0;

	make_objects();
	o.create = true;
	o.rados_pool = pool_name;
	o.rados_conf = conf_path;
	o.rados_namespace = argv[3];
	o.rados_timeout_ms = timeout_ms;
	o.l1_bytes = 0;
	if (b3cas_store_open(&s, argv[2], &o) != 0) {
		fprintf(stderr, "worker %s: %s\n", argv[2], b3cas_error_last());
		return 1;
	}
	for (int i = 0; i < THREADS; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].s = s;
		th[i].seed = tu_mix(s0 + (uint64_t)i);
		th[i].until = rw_now() + secs;
		pthread_create(&tid[i], NULL, worker_main, &th[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		ops += th[i].ops;
		reads += th[i].reads;
		if (th[i].failed) {
			fprintf(stderr, "worker %s thread %d: %s\n", argv[2], i,
				th[i].why);
			failed = 1;
		}
	}
	if (b3cas_store_close(s) != 0)
		failed = 1;
	if (rw_write(argv[6], th[0].held, THREADS, sizeof(th[0]),
		     OBJECTS) != 0)
		return 1;
	fprintf(stderr, "worker %s: %llu operations, %llu checked reads\n",
		argv[2], (unsigned long long)ops, (unsigned long long)reads);
	return failed;
}

/* Run scripts/ceph-dev.sh CMD ceph_dir; its exit status. */
static int ceph_dev(const char *cmd)
{
	char line[4400];
	const char *src = getenv("B3CAS_TEST_SCRIPTS");

	snprintf(line, sizeof(line), "bash '%s/ceph-dev.sh' %s '%s'",
		 src ? src : "scripts", cmd, ceph_dir);
	return system(line);
}

/*
 * HOSTS worker processes for secs seconds on one namespace, then every
 * ledger checked against the stores and the pool. With restart, the OSD
 * is killed (SIGKILL) a third of the way in and started again: the
 * workers' operations wait for it, and nothing they were told was done
 * may be missing afterwards.
 */
static void run_hosts(uint64_t st, int secs_n, bool restart)
{
	char ns[64], roots[HOSTS][64], out[HOSTS][64], secs[16], ss[32];
	int64_t ledger[HOSTS][OBJECTS];
	pid_t pid[HOSTS];
	b3cas_store *s[HOSTS];
	b3cas_rados *t[HOSTS];

	make_objects();
	random_ns(ns, sizeof(ns), &st);
	snprintf(secs, sizeof(secs), "%d", secs_n);
	for (int h = 0; h < HOSTS; h++) {
		tu_make_root(roots[h], sizeof(roots[h]), "rados-host");
		snprintf(ss, sizeof(ss), "%llu",
			 (unsigned long long)tu_rand(&st));
		pid[h] = rw_spawn(out[h], roots[h], ns, ss, secs);
	}
	if (restart) {
		sleep((unsigned)secs_n / 3);
		fprintf(stderr, "[t_osd_restart] killing the OSD\n");
		assert_int_equal(ceph_dev("kill-osd"), 0);
		sleep(2);
		fprintf(stderr, "[t_osd_restart] starting it again\n");
		assert_int_equal(ceph_dev("start-osd"), 0);
		fprintf(stderr, "[t_osd_restart] the OSD is back\n");
	}
	for (int h = 0; h < HOSTS; h++)
		rw_collect(pid[h], out[h], ledger[h], OBJECTS);
	/* each store's counts are its ledger; after a collection the pool
	 * counts exactly the hosts holding each object, which reads back */
	for (int h = 0; h < HOSTS; h++) {
		s[h] = open_rados_store(roots[h], ns);
		t[h] = tu_pool_open(roots[h]);
		gc_now(s[h]);
	}
	for (int k = 0; k < OBJECTS; k++) {
		int64_t holders = 0, total = 0;
		int rc;

		for (int h = 0; h < HOSTS; h++) {
			b3cas_object_info info;
			int64_t mine = -1;

			rc = b3cas_store_stat(s[h], &obj_ids[k], &info);
			if (ledger[h][k] == 0) {
				assert_int_equal(rc, B3CAS_ENOTFOUND);
			} else {
				void *back;
				size_t len;

				assert_int_equal(rc, 0);
				assert_int_equal(info.refs, ledger[h][k]);
				assert_int_equal(b3cas_store_get(s[h],
								 &obj_ids[k],
								 &back, &len),
						 0);
				assert_int_equal(len, obj_lens[k]);
				assert_memory_equal(back, obj_bytes[k], len);
				free(back);
				holders++;
			}
			rc = b3cas__rados_counts(t[h], obj_ids[k].bytes, NULL,
						 &mine);
			if (rc == 0)
				assert_int_equal(mine, ledger[h][k] > 0);
			else
				assert_int_equal(rc, B3CAS_ENOTFOUND);
		}
		rc = b3cas__rados_counts(t[0], obj_ids[k].bytes, &total, NULL);
		if (holders == 0)
			assert_int_equal(rc, B3CAS_ENOTFOUND);
		else
			assert_int_equal(total, holders);
	}
	/* everyone lets go: the pool ends empty */
	for (int h = 0; h < HOSTS; h++) {
		for (int k = 0; k < OBJECTS; k++)
			for (int64_t i = ledger[h][k] - 1; i >= 0; i--)
				assert_int_equal(b3cas_store_delete(
							 s[h], &obj_ids[k]),
						 i);
		gc_now(s[h]);
	}
	assert_int_equal(tu_pool_objects(t[0]), 0);
	for (int h = 0; h < HOSTS; h++) {
		b3cas__rados_close(t[h]);
		assert_int_equal(b3cas_store_close(s[h]), 0);
		tu_remove_root(roots[h]);
	}
}

/* Every finding of t_fsck_counts is a tier count, naming its object. */
static int tier_count_only(const b3cas_fsck_problem *p, void *ctx)
{
	(void)ctx;
	assert_int_equal(p->kind, B3CAS_FSCK_TIER_COUNT);
	assert_true(p->has_id);
	assert_non_null(strstr(p->detail, "the RADOS pool counts"));
	assert_string_equal(b3cas_fsck_kind_name(p->kind), "tier-count");
	return 0;
}

/* fsck, with or without repair: its report */
static void fsck_counts(b3cas_store *s, bool repair, b3cas_fsck_report *r)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;

	fo.repair = repair;
	fo.on_problem = tier_count_only;
	memset(r, 0, sizeof(*r));
	assert_int_equal(b3cas_fsck(s, &fo, r), 0);
}

/*
 * This host's counts in the pool against its index: an object it holds
 * whose count was released (another host could have collected it), one
 * counted twice, and one it counts but does not list (a put killed
 * between the pool and the index) are three findings; another host's
 * object is none. Repair sets the counts right and collects the object
 * nobody holds; a second fsck finds nothing.
 */
static void t_fsck_counts(void **state)
{
	char ra[64], rb[64], ns[64];
	uint64_t st = seed ^ 16;
	uint8_t p[4][3000];
	b3cas_oid id[4];
	b3cas_store *a, *b;
	b3cas_rados *t;
	b3cas_fsck_report r;
	int64_t total, mine;

	(void)state;
	tu_make_root(ra, sizeof(ra), "rados-fa");
	tu_make_root(rb, sizeof(rb), "rados-fb");
	random_ns(ns, sizeof(ns), &st);
	a = open_rados_store(ra, ns);
	b = open_rados_store(rb, ns);
	t = tu_pool_open(ra); /* as a's host */
	for (int i = 0; i < 4; i++) {
		object_bytes(p[i], sizeof(p[i]), 200 + (unsigned)i);
		b3cas_hash(id[i].bytes, p[i], sizeof(p[i]));
	}
	assert_int_equal(b3cas_store_put(a, NULL, p[0], sizeof(p[0])), 0);
	assert_int_equal(b3cas_store_put(a, NULL, p[1], sizeof(p[1])), 0);
	assert_int_equal(b3cas_store_put(b, NULL, p[3], sizeof(p[3])), 0);
	fsck_counts(a, false, &r);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.tier_objects, 3);
	/* the damage */
	assert_int_equal(b3cas__rados_release(t, id[0].bytes, NULL), 0);
	assert_int_equal(b3cas__rados_ref(t, id[1].bytes, 1), 0);
	assert_int_equal(b3cas__rados_put(t, id[2].bytes, p[2], sizeof(p[2]),
					  NULL),
			 0);
	fsck_counts(a, false, &r);
	assert_int_equal(r.tier_objects, 4);
	assert_int_equal(r.tier_counts, 3);
	assert_int_equal(r.problems, 3);
	assert_int_equal(r.tier_mended, 0);
	/* a read-only handle (the CLI's fsck without --repair, beside a
	 * writer) finds the same, confirmed against the index read afresh */
	{
		b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
		b3cas_store *ro = NULL;

		o.read_only = true;
		assert_int_equal(b3cas_store_open(&ro, ra, &o), 0);
		fsck_counts(ro, false, &r);
		assert_int_equal(r.tier_objects, 4);
		assert_int_equal(r.tier_counts, 3);
		assert_int_equal(r.problems, 3);
		assert_int_equal(b3cas_store_close(ro), 0);
	}
	/* nothing was changed */
	assert_int_equal(b3cas__rados_counts(t, id[0].bytes, NULL, &mine), 0);
	assert_int_equal(mine, 0);
	fsck_counts(a, true, &r);
	assert_int_equal(r.tier_counts, 3);
	assert_int_equal(r.tier_mended, 3);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(b3cas__rados_counts(t, id[i].bytes, &total,
						     &mine),
				 0);
		assert_int_equal(mine, 1);
		assert_int_equal(total, 1);
	}
	/* the object nobody holds went; b's stayed */
	assert_int_equal(b3cas__rados_counts(t, id[2].bytes, NULL, NULL),
			 B3CAS_ENOTFOUND);
	assert_int_equal(b3cas__rados_counts(t, id[3].bytes, &total, &mine),
			 0);
	assert_int_equal(total, 1);
	assert_int_equal(mine, 0);
	fsck_counts(a, false, &r);
	assert_int_equal(r.problems, 0);
	assert_int_equal(r.tier_objects, 3);
	fsck_counts(b, false, &r);
	assert_int_equal(r.problems, 0);
	/* everything goes */
	for (int i = 0; i < 2; i++)
		assert_int_equal(b3cas_store_delete(a, &id[i]), 0);
	assert_int_equal(b3cas_store_delete(b, &id[3]), 0);
	gc_now(a);
	gc_now(b);
	assert_int_equal(tu_pool_objects(t), 0);
	close_two(t, a, ra, b, rb);
}

/* Each of n objects in s byte-exact, with refs references. */
static void expect_objects(b3cas_store *s, const b3cas_oid *ids,
			   uint8_t *const *bytes, const size_t *sizes, int n,
			   uint64_t refs)
{
	for (int i = 0; i < n; i++) {
		uint64_t count = 0;
		void *back;
		size_t len;

		assert_int_equal(b3cas_store_get(s, &ids[i], &back, &len), 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(back, bytes[i], len);
		free(back);
		assert_int_equal(b3cas_refcount(s, &ids[i], &count), 0);
		assert_int_equal(count, refs);
	}
}

/*
 * backup and restore between a RADOS store and a store of files, both
 * ways: a RADOS store backed up into a local one, that one into a new
 * RADOS store (another namespace), each byte-exact with the same counts;
 * an object lost from the first's pool is found by fsck and healed by a
 * restore from the local backup.
 */
static void t_backup_both_ways(void **state)
{
	static const size_t sizes[] = {0, 1, 5000, 300000, 1u << 20};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	char ra[64], rl[64], rc_[64], ns[64], ns2[64];
	uint64_t st = seed ^ 17;
	uint8_t *bytes[N];
	b3cas_oid ids[N];
	b3cas_store *a, *l, *c;
	b3cas_store_options lo = B3CAS_STORE_OPTIONS_INIT;
	b3cas_backup_report br;
	b3cas_restore_report rr;
	b3cas_fsck_report fr;
	b3cas_rados *ta, *tc;

	(void)state;
	tu_make_root(ra, sizeof(ra), "rados-bka");
	tu_make_root(rl, sizeof(rl), "rados-bkl");
	tu_make_root(rc_, sizeof(rc_), "rados-bkc");
	random_ns(ns, sizeof(ns), &st);
	random_ns(ns2, sizeof(ns2), &st);
	a = open_rados_store(ra, ns);
	for (int i = 0; i < N; i++) {
		bytes[i] = malloc(sizes[i] + 1);
		object_bytes(bytes[i], sizes[i], 300 + (uint64_t)i);
		for (int k = 0; k < 2; k++)
			assert_true(b3cas_store_put(a, &ids[i], bytes[i],
						    sizes[i]) >= 0);
	}
	/* RADOS -> files */
	assert_int_equal(b3cas_backup(a, rl, NULL, &br), 0);
	assert_int_equal(br.copied, N);
	assert_int_equal(br.failed, 0);
	l = tu_open_store(rl, &lo);
	expect_objects(l, ids, bytes, sizes, N, 2);
	/* files -> a new RADOS store */
	c = open_rados_store(rc_, ns2);
	assert_int_equal(b3cas_store_close(c), 0);
	assert_int_equal(b3cas_backup(l, rc_, NULL, &br), 0);
	assert_int_equal(br.copied, N);
	c = open_rados_store(rc_, ns2);
	expect_objects(c, ids, bytes, sizes, N, 2);
	tc = tu_pool_open(rc_);
	assert_int_equal(tu_pool_objects(tc), N);
	fsck_counts(c, false, &fr);
	assert_int_equal(fr.problems, 0);
	/* an object lost from a's pool: found, and healed from the backup */
	ta = tu_pool_open(ra);
	tu_pool_drop(ta, &ids[3]);
	memset(&fr, 0, sizeof(fr));
	{
		b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;

		assert_int_equal(b3cas_fsck(a, &fo, &fr), 0);
	}
	assert_int_equal(fr.missing, 1);
	assert_int_equal(fr.problems, 1);
	assert_int_equal(b3cas_restore(a, rl, NULL, &rr), 0);
	assert_int_equal(rr.healed, 1);
	assert_int_equal(rr.failed, 0);
	expect_objects(a, ids, bytes, sizes, N, 2);
	fsck_counts(a, false, &fr);
	assert_int_equal(fr.problems, 0);
	assert_int_equal(fr.tier_objects, N);
	/* everything goes from both pools */
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 2; k++) {
			assert_int_equal(b3cas_store_delete(a, &ids[i]), 1 - k);
			assert_int_equal(b3cas_store_delete(c, &ids[i]), 1 - k);
		}
	gc_now(a);
	gc_now(c);
	assert_int_equal(tu_pool_objects(ta), 0);
	assert_int_equal(tu_pool_objects(tc), 0);
	b3cas__rados_close(ta);
	b3cas__rados_close(tc);
	for (int i = 0; i < N; i++)
		free(bytes[i]);
	assert_int_equal(b3cas_store_close(a), 0);
	assert_int_equal(b3cas_store_close(l), 0);
	assert_int_equal(b3cas_store_close(c), 0);
	tu_remove_root(ra);
	tu_remove_root(rl);
	tu_remove_root(rc_);
}

/* Every name in the pool's namespace: ids and the rest (big objects'
 * parts). */
static uint64_t pool_names(b3cas_rados *t)
{
	long n = 0;
	uint64_t others = 0;

	assert_int_equal(b3cas__rados_list(t, tu_pool_count_visit, &n,
					   &others),
			 0);
	return (uint64_t)n + others;
}

/*
 * Objects over 64 MiB in a RADOS store (their bytes in parts): one put
 * whole, one streamed through a writer; get, ranges across the parts'
 * edges, a reader; a second host reads one through the pool; fsck finds
 * nothing; once deleted and collected, the pool holds nothing, parts
 * included.
 */
static void t_big(void **state)
{
	char ra[64], rb[64], ns[64];
	uint64_t st = seed ^ 18;
	size_t len = (64u << 20) + 777, len2 = (64u << 20) + 3;
	uint8_t *p = malloc(len), *q = malloc(len2), *back = malloc(1u << 20);
	b3cas_oid id, id2;
	b3cas_store *a, *b;
	b3cas_writer *w;
	b3cas_rados *t;
	b3cas_fsck_report fr;
	void *data;
	size_t dlen, got;

	(void)state;
	assert_non_null(p);
	assert_non_null(q);
	tu_make_root(ra, sizeof(ra), "rados-biga");
	tu_make_root(rb, sizeof(rb), "rados-bigb");
	random_ns(ns, sizeof(ns), &st);
	a = open_rados_store(ra, ns);
	b = open_rados_store(rb, ns);
	t = tu_pool_open(ra);
	object_bytes(p, len, 400);
	object_bytes(q, len2, 401);
	assert_int_equal(b3cas_store_put(a, &id, p, len), 0);
	assert_int_equal(b3cas_writer_open(&w, a), 0);
	for (size_t off = 0; off < len2; off += 3u << 20)
		assert_int_equal(b3cas_writer_write(w, q + off,
						    len2 - off < (3u << 20)
							    ? len2 - off
							    : 3u << 20),
				 0);
	assert_int_equal(b3cas_writer_commit(w, &id2), 0);
	/* two heads, 5 + 5 parts of 16 MiB (the last of each short) */
	assert_int_equal(tu_pool_objects(t), 2);
	assert_int_equal(pool_names(t), 2 + 5 + 5);
	assert_int_equal(b3cas_store_get(a, &id, &data, &dlen), 0);
	assert_int_equal(dlen, len);
	assert_memory_equal(data, p, len);
	free(data);
	assert_int_equal(b3cas_store_read_at(a, &id2, (16u << 20) - 100, back,
					     1u << 20, &got),
			 0);
	assert_int_equal(got, 1u << 20);
	assert_memory_equal(back, q + (16u << 20) - 100, got);
	{
		b3cas_reader *r;
		uint8_t *all = malloc(len2);
		size_t at = 0, n;

		assert_non_null(all);
		assert_int_equal(b3cas_reader_open(&r, a, &id2), 0);
		while ((n = (size_t)b3cas_reader_read(r, all + at,
						      len2 - at)) > 0)
			at += n;
		assert_int_equal(at, len2);
		assert_memory_equal(all, q, len2);
		b3cas_reader_close(r);
		free(all);
	}
	/* b holds neither: it reads a's through the pool */
	assert_int_equal(b3cas_store_get(b, &id2, &data, &dlen), 0);
	assert_int_equal(dlen, len2);
	assert_memory_equal(data, q, len2);
	free(data);
	fsck_counts(a, false, &fr);
	assert_int_equal(fr.problems, 0);
	assert_int_equal(fr.tier_objects, 2);
	assert_int_equal(b3cas_store_delete(a, &id), 0);
	assert_int_equal(b3cas_store_delete(a, &id2), 0);
	gc_now(a);
	assert_int_equal(pool_names(t), 0);
	close_two(t, a, ra, b, rb);
	free(p);
	free(q);
	free(back);
}

/* Write a part of a big object by hand (name "<id>.<gen>.<k>"), dated
 * age_s seconds ago, through librados itself. */
static void plant_part(const char *ns, const b3cas_oid *id, const char *gen,
		       unsigned k, time_t age_s)
{
	rados_t c;
	rados_ioctx_t io;
	rados_write_op_t op;
	char hex[B3CAS_OID_HEX_LEN + 1], name[128];
	time_t when = time(NULL) - age_s;

	assert_int_equal(rados_create(&c, "admin"), 0);
	assert_int_equal(rados_conf_read_file(c, conf_path), 0);
	assert_int_equal(rados_connect(c), 0);
	assert_int_equal(rados_ioctx_create(c, pool_name, &io), 0);
	rados_ioctx_set_namespace(io, ns);
	snprintf(name, sizeof(name), "%s.%s.%u", b3cas_oid_fmt(hex, id), gen,
		 k);
	op = rados_create_write_op();
	rados_write_op_write_full(op, "part", 4);
	assert_int_equal(rados_write_op_operate(op, io, name, &when, 0), 0);
	rados_release_write_op(op);
	rados_ioctx_destroy(io);
	rados_shutdown(c);
}

/*
 * Parts of big objects that no head names: one two days old (a put or a
 * collection killed long ago) is a stray, which --repair removes; one
 * just written (a put in progress) and one its head names are none.
 */
static void t_stray_parts(void **state)
{
	char root[64], ns[64];
	uint64_t st = seed ^ 19;
	size_t len = (64u << 20) + 1;
	uint8_t *p = malloc(len);
	b3cas_oid id, lost;
	b3cas_store *s;
	b3cas_rados *t;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;

	(void)state;
	assert_non_null(p);
	tu_make_root(root, sizeof(root), "rados-stray");
	random_ns(ns, sizeof(ns), &st);
	s = open_rados_store(root, ns);
	t = tu_pool_open(root);
	object_bytes(p, len, 500);
	assert_int_equal(b3cas_store_put(s, &id, p, len), 0); /* 5 parts */
	memset(lost.bytes, 0x6b, sizeof(lost.bytes));
	plant_part(ns, &lost, "00112233445566aa", 3, 2 * 24 * 3600);
	plant_part(ns, &lost, "00112233445566bb", 0, 10);
	/* its head names another generation: a stray too */
	plant_part(ns, &id, "ffffffffffffffff", 1, 3 * 24 * 3600);
	assert_int_equal(pool_names(t), 1 + 5 + 3);
	memset(&r, 0, sizeof(r));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.strays, 2);
	assert_int_equal(r.problems, 2);
	assert_int_equal(pool_names(t), 1 + 5 + 3);
	fo.repair = true;
	memset(&r, 0, sizeof(r));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.strays, 2);
	assert_int_equal(pool_names(t), 1 + 5 + 1);
	/* the object reads whole still */
	{
		void *data;
		size_t dlen;

		assert_int_equal(b3cas_store_get(s, &id, &data, &dlen), 0);
		assert_int_equal(dlen, len);
		assert_memory_equal(data, p, len);
		free(data);
	}
	fo.repair = false;
	memset(&r, 0, sizeof(r));
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	/* the young one is left for its put; this test removes it */
	{
		b3cas_rados_part part;

		memcpy(part.id, lost.bytes, 32);
		snprintf(part.gen, sizeof(part.gen), "00112233445566bb");
		part.k = 0;
		assert_int_equal(b3cas__rados_part_remove(t, &part, 0), 1);
	}
	assert_int_equal(b3cas_store_delete(s, &id), 0);
	gc_now(s);
	assert_int_equal(pool_names(t), 0);
	b3cas__rados_close(t);
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
	free(p);
}

static void t_hosts_race(void **state)
{
	(void)state;
	run_hosts(seed ^ 14, getenv("B3CAS_TEST_LONG") ? 120 : 6, false);
}

static void t_osd_restart(void **state)
{
	(void)state;
	run_hosts(seed ^ 15, getenv("B3CAS_TEST_LONG") ? 90 : 16, true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_one_store),
		cmocka_unit_test(t_two_hosts),
		cmocka_unit_test(t_revive),
		cmocka_unit_test(t_fsck_counts),
		cmocka_unit_test(t_backup_both_ways),
		cmocka_unit_test(t_big),
		cmocka_unit_test(t_stray_parts),
		cmocka_unit_test(t_hosts_race),
	};

	conf_path = getenv("B3CAS_TEST_CEPH_CONF");
	pool_name = getenv("B3CAS_TEST_RADOS_POOL");
	if (!conf_path || !pool_name) {
		fprintf(stderr, "test_rados_store: B3CAS_TEST_CEPH_CONF and "
			"B3CAS_TEST_RADOS_POOL must name a running cluster "
			"(scripts/ceph-dev.sh start DIR): the ctest fixture "
			"sets them\n");
		return 1;
	}
	ceph_dir = getenv("B3CAS_TEST_CEPH_DIR");
	/* with the OSD killed and started again, operations wait for it */
	if (ceph_dir)
		timeout_ms = 300000;
	if (argc == 7 && strcmp(argv[1], "worker") == 0)
		return store_worker(argv);
	seed = tu_seed("test_rados_store");
	if (argc == 2 && strcmp(argv[1], "--osd-restart") == 0) {
		const struct CMUnitTest restart[] = {
			cmocka_unit_test(t_osd_restart),
		};

		if (!ceph_dir) {
			fprintf(stderr, "test_rados_store --osd-restart: "
				"B3CAS_TEST_CEPH_DIR must name the cluster's "
				"folder (a bluestore cluster of "
				"scripts/ceph-dev.sh)\n");
			return 1;
		}
		return cmocka_run_group_tests(restart, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
