/*
 * test_store_threads.c - many threads changing the same few objects.
 *
 * Each thread keeps its own count of the references it holds to each of a
 * small set of contents, and only deletes references it holds. So at any
 * moment an object a thread holds a reference to must be stored, and a get
 * of it must return its exact bytes; at the end every object's count must
 * equal the sum of what the threads hold, and objects nobody holds must be
 * gone, files included.
 *
 * Meanwhile GC_THREADS threads run b3cas_gc with zero grace in a loop, so
 * every object whose count touches zero is collected at once, racing the
 * puts and ref_adds that revive it: a held reference whose object is then
 * missing or wrong is a GC false positive, and an object nobody holds that
 * survives the final collection is a leak. Run under ThreadSanitizer by
 * CI (label "concurrency"); B3CAS_TEST_OPS sets the operations per thread.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"
#include "tier_util.h"

#define CONTENTS 48
#define THREADS 8
#define GC_THREADS 2
#define THRESHOLD 1024 /* small, so loose objects take part */

typedef struct content {
	uint8_t *bytes;
	size_t len;
	b3cas_oid id;
} content;

static content contents[CONTENTS];
static b3cas_store *store;
static int ops_per_thread = 5000;

typedef struct worker {
	pthread_t thread;
	uint64_t rng;
	long held[CONTENTS];
	char failure[512];
} worker;

#define WCHECK(w, cond, ...)                                              \
	do {                                                              \
		if (!(cond)) {                                            \
			snprintf((w)->failure, sizeof((w)->failure),      \
				 __VA_ARGS__);                            \
			return false;                                     \
		}                                                         \
	} while (0)

static bool do_put(worker *w, int c)
{
	b3cas_oid id;
	int rc = b3cas_store_put(store, &id, contents[c].bytes,
				 contents[c].len);

	WCHECK(w, rc >= 0, "put %d: %d %s", c, rc, b3cas_error_last());
	WCHECK(w, b3cas_oid_equal(&id, &contents[c].id), "put %d: wrong id",
	       c);
	/* We already held one, so it must have been a duplicate. */
	WCHECK(w, w->held[c] == 0 || rc == 1, "put %d: new although held", c);
	w->held[c]++;
	return true;
}

static bool do_stream_put(worker *w, int c)
{
	b3cas_writer *wr;
	b3cas_oid id;
	size_t off = 0;
	int rc = b3cas_writer_open(&wr, store);

	WCHECK(w, rc == 0, "writer_open: %s", b3cas_error_last());
	while (off < contents[c].len) {
		size_t n = 1 + tu_rand(&w->rng) % 700;

		if (n > contents[c].len - off)
			n = contents[c].len - off;
		rc = b3cas_writer_write(wr, contents[c].bytes + off, n);
		WCHECK(w, rc == 0, "writer_write: %s", b3cas_error_last());
		off += n;
	}
	rc = b3cas_writer_commit(wr, &id);
	WCHECK(w, rc >= 0, "writer_commit %d: %s", c, b3cas_error_last());
	WCHECK(w, b3cas_oid_equal(&id, &contents[c].id), "stream: wrong id");
	w->held[c]++;
	return true;
}

static bool do_batch_put(worker *w)
{
	const void *data[4];
	size_t lens[4];
	b3cas_oid ids[4];
	int pick[4];
	int rc;

	for (int i = 0; i < 4; i++) {
		pick[i] = (int)(tu_rand(&w->rng) % CONTENTS);
		data[i] = contents[pick[i]].bytes;
		lens[i] = contents[pick[i]].len;
	}
	rc = b3cas_store_put_batch(store, ids, NULL, data, lens, 4);
	WCHECK(w, rc == 0, "put_batch: %d %s", rc, b3cas_error_last());
	for (int i = 0; i < 4; i++) {
		WCHECK(w, b3cas_oid_equal(&ids[i], &contents[pick[i]].id),
		       "put_batch: wrong id %d", i);
		w->held[pick[i]]++;
	}
	return true;
}

static atomic_long to_zero; /* deletes that left no reference */

static bool do_delete(worker *w, int c)
{
	int64_t left;

	/* Drop one of our references: c's, else the next content's we
	 * hold, so deletes keep pace with puts and counts reach zero. */
	for (int i = 0; i < CONTENTS && w->held[c] == 0; i++)
		c = (c + 1) % CONTENTS;
	if (w->held[c] == 0)
		return true;
	left = b3cas_store_delete(store, &contents[c].id);
	WCHECK(w, left >= 0, "delete %d while holding %ld: %lld %s", c,
	       w->held[c], (long long)left, b3cas_error_last());
	/* Our other references are still counted. */
	WCHECK(w, left >= w->held[c] - 1, "delete %d: %lld left, we hold %ld",
	       c, (long long)left, w->held[c] - 1);
	w->held[c]--;
	if (left == 0)
		atomic_fetch_add(&to_zero, 1);
	return true;
}

static bool do_ref_add(worker *w, int c)
{
	int64_t n = b3cas_ref_add(store, &contents[c].id);

	/* Without a reference of ours, it may be gone: that is fine. */
	if (w->held[c] == 0 && n == B3CAS_ENOTFOUND)
		return true;
	WCHECK(w, n >= 1, "ref_add %d while holding %ld: %lld %s", c,
	       w->held[c], (long long)n, b3cas_error_last());
	WCHECK(w, n >= w->held[c] + 1, "ref_add %d: %lld, we hold %ld", c,
	       (long long)n, w->held[c] + 1);
	w->held[c]++;
	return true;
}

static bool do_get(worker *w, int c)
{
	void *data;
	size_t len;
	int rc;

	if (w->held[c] == 0)
		return true;
	rc = b3cas_store_get(store, &contents[c].id, &data, &len);
	WCHECK(w, rc == 0, "get %d while holding a reference: %d %s", c, rc,
	       b3cas_error_last());
	rc = len == contents[c].len &&
	     memcmp(data, contents[c].bytes, len) == 0;
	b3cas_free(data);
	WCHECK(w, rc, "get %d: wrong bytes", c);
	return true;
}

static void *worker_main(void *arg)
{
	worker *w = arg;

	for (int i = 0; i < ops_per_thread; i++) {
		int c = (int)(tu_rand(&w->rng) % CONTENTS);
		unsigned op = (unsigned)(tu_rand(&w->rng) % 100);
		bool ok;

		/* More deletes than adds, so counts keep falling to zero
		 * and the collectors have work. */
		if (op < 15)
			ok = do_put(w, c);
		else if (op < 20)
			ok = do_ref_add(w, c);
		else if (op < 23)
			ok = do_stream_put(w, c);
		else if (op < 25)
			ok = do_batch_put(w);
		else if (op < 75)
			ok = do_delete(w, c);
		else
			ok = do_get(w, c);
		if (!ok)
			break;
	}
	return NULL;
}

static atomic_bool workers_done;
static atomic_long gc_runs, gc_removed;
static char gc_failure[512];

static void *gc_main(void *arg)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT; /* zero grace */

	(void)arg;
	while (!atomic_load(&workers_done)) {
		b3cas_gc_report r;
		int rc = b3cas_gc(store, &o, &r);

		if (rc != 0) {
			snprintf(gc_failure, sizeof(gc_failure), "gc: %d %s",
				 rc, b3cas_error_last());
			break;
		}
		atomic_fetch_add(&gc_runs, 1);
		atomic_fetch_add(&gc_removed, (long)r.objects);
	}
	return NULL;
}

static size_t count_loose_files(const char *root)
{
	char path[4096];
	size_t n = 0;

	for (int i = 0; i < 256; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "%s/objects/%02x", root, i);
		d = opendir(path);
		assert_non_null(d);
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

static void run(b3cas_durability mode, uint64_t seed)
{
	char root[] = "/tmp/b3cas-threads-XXXXXX";
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	worker *workers = calloc(THREADS, sizeof(*workers));
	size_t loose_expected = 0;
	pthread_t gcs[GC_THREADS];
	b3cas_gc_report last;
	b3cas_gc_options zero = B3CAS_GC_OPTIONS_INIT;
	char cmd[4200];

	assert_non_null(workers);
	assert_non_null(mkdtemp(root));
	o.create = true;
	o.durability = mode;
	o.inline_threshold = THRESHOLD;
	tu_store_policy(&o);
	assert_int_equal(b3cas_store_open(&store, root, &o), 0);
	for (int t = 0; t < THREADS; t++) {
		workers[t].rng = seed + (uint64_t)t * 7919;
		assert_int_equal(pthread_create(&workers[t].thread, NULL,
						worker_main, &workers[t]),
				 0);
	}
	atomic_store(&workers_done, false);
	for (int g = 0; g < GC_THREADS; g++)
		assert_int_equal(pthread_create(&gcs[g], NULL, gc_main, NULL),
				 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(workers[t].thread, NULL);
	atomic_store(&workers_done, true);
	for (int g = 0; g < GC_THREADS; g++)
		pthread_join(gcs[g], NULL);
	if (gc_failure[0]) {
		fprintf(stderr, "%s (seed %llu)\n", gc_failure,
			(unsigned long long)seed);
		fail();
	}
	for (int t = 0; t < THREADS; t++) {
		if (workers[t].failure[0]) {
			fprintf(stderr, "thread %d (seed %llu): %s\n", t,
				(unsigned long long)seed, workers[t].failure);
			fail();
		}
	}
	for (int c = 0; c < CONTENTS; c++) {
		b3cas_object_info info;
		long total = 0;
		int rc;

		for (int t = 0; t < THREADS; t++)
			total += workers[t].held[c];
		rc = b3cas_store_stat(store, &contents[c].id, &info);
		if (total == 0) {
			assert_int_equal(rc, B3CAS_ENOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		if ((long)info.refs != total) {
			fprintf(stderr, "content %d: %llu refs, threads hold "
				"%ld (seed %llu)\n", c,
				(unsigned long long)info.refs, total,
				(unsigned long long)seed);
			fail();
		}
		/* (a RADOS store keeps every object in its pool) */
		assert_int_equal(info.is_inline,
				 (contents[c].len <= THRESHOLD && !tu_rados()) ||
					 tu_chunking());
		loose_expected += !info.is_inline;
	}
	/* A last collection: every object nobody holds must go (no leak). */
	assert_int_equal(b3cas_gc(store, &zero, &last), 0);
	fprintf(stderr, "[test_store_threads] %s: %d workers x %d ops, %d gc "
		"threads: %ld deletes left no reference; %ld collections "
		"removed %ld objects while they ran; the last removed %llu\n",
		mode == B3CAS_DURABILITY_NONE ? "none" : "batch", THREADS,
		ops_per_thread, GC_THREADS, atomic_load(&to_zero),
		atomic_load(&gc_runs),
		atomic_load(&gc_removed), (unsigned long long)last.objects);
	atomic_store(&gc_runs, 0);
	atomic_store(&gc_removed, 0);
	atomic_store(&to_zero, 0);
	assert_int_equal(b3cas_store_close(store), 0);
	/* No file (in a RADOS store: no object in the pool) outlives its
	 * last reference, and none is missing. */
	if (tu_rados()) {
		b3cas_rados *pool = tu_pool_open(root);

		assert_int_equal(tu_pool_objects(pool), loose_expected);
		b3cas__rados_close(pool);
	} else {
		assert_int_equal(count_loose_files(root), loose_expected);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(workers);
}

static void test_threads(void **state)
{
	uint64_t seed = tu_seed("store_threads");
	uint64_t rng = seed;

	(void)state;
	for (int c = 0; c < CONTENTS; c++) {
		/* 0 .. 3 KiB: about two thirds above the threshold; random
		 * bytes, so no two contents are equal. */
		contents[c].len = c == 0 ? 0 : 16 + tu_rand(&rng) % 3072;
		contents[c].bytes = malloc(contents[c].len + 1);
		assert_non_null(contents[c].bytes);
		tu_fill_random(contents[c].bytes, contents[c].len, &rng);
		b3cas_hash(contents[c].id.bytes, contents[c].bytes,
			   contents[c].len);
	}
	run(B3CAS_DURABILITY_NONE, seed);
	run(B3CAS_DURABILITY_BATCH, seed + 1);
	for (int c = 0; c < CONTENTS; c++)
		free(contents[c].bytes);
}

int main(void)
{
	const char *ops = getenv("B3CAS_TEST_OPS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
	};

	if (ops)
		ops_per_thread = atoi(ops);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
