/*
 * test_live_fsck.c - fsck beside a live writer (issue 13, item 4): worker
 * threads put, delete, add references and read a pool of contents against
 * a reference model of the references each holds, while other threads of
 * the same handle run GC with no grace period, a check-only fsck and
 * fsck --repair in loops, racing readers fill the L2 cache behind the
 * model's back, and another process (the b3cas command, read-only) runs a
 * check-only fsck again and again.
 *
 * Required: every fsck, in this process or the other, finds nothing (the
 * store is never damaged, so any finding is false); no object the model
 * holds no reference to is ever stored again (a put of it is new, a read
 * says not found, its count is 0 or absent: nothing deleted comes back);
 * every operation's result is the model's exact prediction; at the end
 * every count is exact, a GC leaves no trace of what has no reference,
 * and fsck (writable, then read-only) is clean, with no L2 copy of a
 * collected object.
 *
 * Each content's model count and every operation on it happen under one
 * lock per content, so the model is exact; GC, fsck and the racing
 * readers take no model lock. A failure prints the seed
 * (B3CAS_TEST_SEED replays one seed; thread timing still varies).
 * B3CAS_TEST_LONG=1: 24 seeds of many more operations; else 3 short ones.
 * B3CAS_CLI names the b3cas program (set by ctest); it is required.
 * B3CAS_TEST_CHUNKING=1 (test_live_fsck_chunked): the same over chunking
 * stores, where every fsck also checks the chunks' held counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"
#include "tier_util.h"

extern char **environ;

#define THRESHOLD 1024
#define POOL 48
#define WORKERS 4
#define RACERS 2

static char root[256];
static const char *cli;
static bool long_run;

typedef struct content {
	pthread_mutex_t lock; /* the model's count and every op on it */
	int64_t refs;         /* references the model holds */
	uint8_t *data;
	size_t len;
	b3cas_oid id;
} content;

typedef struct run {
	b3cas_store *s;
	char dir[300];
	uint64_t seed;
	unsigned ops;            /* per worker */
	content c[POOL];
	atomic_bool stop;        /* the workers are done, or a failure */
	atomic_int workers_left;
	pthread_mutex_t fail_lock;
	bool failed;
	char why[1024];
	/* What ran, for the summary line. */
	atomic_ullong n_ops, n_gc, n_collected, n_fsck, n_repair, n_cli,
		n_racy_hits;
} run;

/* Keep the first failure and stop every thread. */
static void failf(run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void failf(run *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->fail_lock);
	if (!r->failed) {
		r->failed = true;
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->fail_lock);
	atomic_store(&r->stop, true);
}

static bool stopping(run *r)
{
	return atomic_load_explicit(&r->stop, memory_order_relaxed);
}

static const char *hex_of(const b3cas_oid *id, char hex[B3CAS_OID_HEX_LEN + 1])
{
	return b3cas_oid_fmt(hex, id);
}

/* ---- the model's operations (under the content's lock) ------------------ */

static void op_put(run *r, content *c)
{
	b3cas_oid id;
	int rc = b3cas_store_put(r->s, &id, c->data, c->len);
	int want = c->refs > 0 ? 1 : 0; /* 0: new (or revived) */
	char hex[B3CAS_OID_HEX_LEN + 1];

	if (rc != want)
		failf(r, "put of %s with %lld references returned %d (want "
		      "%d: %s): %s", hex_of(&c->id, hex), (long long)c->refs,
		      rc, want, want ? "a duplicate" : "new, as nothing "
		      "referenced it", rc < 0 ? b3cas_error_last() : "");
	else
		c->refs++;
}

static void op_delete(run *r, content *c)
{
	int64_t rc = b3cas_store_delete(r->s, &c->id);
	char hex[B3CAS_OID_HEX_LEN + 1];

	if (c->refs == 0) {
		if (rc != B3CAS_ENOTFOUND)
			failf(r, "delete of %s, which has no reference, "
			      "returned %lld", hex_of(&c->id, hex),
			      (long long)rc);
		return;
	}
	if (rc != c->refs - 1)
		failf(r, "delete of %s with %lld references returned %lld: "
		      "%s", hex_of(&c->id, hex), (long long)c->refs,
		      (long long)rc, rc < 0 ? b3cas_error_last() : "");
	else
		c->refs--;
}

static void op_ref_add(run *r, content *c)
{
	int64_t rc = b3cas_ref_add(r->s, &c->id);
	char hex[B3CAS_OID_HEX_LEN + 1];

	if (c->refs == 0) {
		if (rc != B3CAS_ENOTFOUND)
			failf(r, "ref_add of %s, which has no reference "
			      "(deleted), returned %lld: it came back",
			      hex_of(&c->id, hex), (long long)rc);
		return;
	}
	if (rc != c->refs + 1)
		failf(r, "ref_add of %s with %lld references returned %lld: "
		      "%s", hex_of(&c->id, hex), (long long)c->refs,
		      (long long)rc, rc < 0 ? b3cas_error_last() : "");
	else
		c->refs++;
}

/* Read c and its count: both exactly as the model says. */
static void op_check(run *r, content *c)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint64_t count = 0;
	void *got = NULL;
	size_t len = 0;
	int rc = b3cas_store_get(r->s, &c->id, &got, &len);
	int crc = b3cas_refcount(r->s, &c->id, &count);

	hex_of(&c->id, hex);
	if (c->refs > 0) {
		if (rc != 0)
			failf(r, "get of %s (%lld references) failed: %s", hex,
			      (long long)c->refs, b3cas_error_last());
		else if (len != c->len || memcmp(got, c->data, len) != 0)
			failf(r, "get of %s returned other bytes", hex);
		else if (crc != 0 || count != (uint64_t)c->refs)
			failf(r, "%s has %llu references (rc %d); the model "
			      "holds %lld", hex, (unsigned long long)count,
			      crc, (long long)c->refs);
	} else {
		if (rc != B3CAS_ENOTFOUND)
			failf(r, "get of %s, which has no reference, returned "
			      "%d: a deleted object came back", hex, rc);
		else if (crc == 0 && count != 0)
			failf(r, "%s, which has no reference, has %llu: a "
			      "deleted object came back", hex,
			      (unsigned long long)count);
		else if (crc != 0 && crc != B3CAS_ENOTFOUND)
			failf(r, "refcount of %s: %s", hex,
			      b3cas_error_last());
	}
	b3cas_free(got);
}

static void *worker_main(void *arg)
{
	run *r = ((void **)arg)[0];
	uint64_t rng = (uint64_t)(uintptr_t)((void **)arg)[1];

	for (unsigned i = 0; i < r->ops && !stopping(r); i++) {
		content *c = &r->c[tu_rand(&rng) % POOL];
		unsigned pick = (unsigned)(tu_rand(&rng) % 100);

		pthread_mutex_lock(&c->lock);
		/* More deletes than new references: counts keep coming
		 * back to 0, so objects keep being collected and put anew. */
		if (pick < 30)
			op_put(r, c);
		else if (pick < 70)
			op_delete(r, c);
		else if (pick < 75)
			op_ref_add(r, c);
		else
			op_check(r, c);
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add_explicit(&r->n_ops, 1, memory_order_relaxed);
	}
	if (atomic_fetch_sub(&r->workers_left, 1) == 1)
		atomic_store(&r->stop, true);
	return NULL;
}

/* Reads without the model's lock, racing deletes and GC: they fill L2
 * with copies that GC must not leave behind. Right bytes or not found. */
static void *racer_main(void *arg)
{
	run *r = ((void **)arg)[0];
	uint64_t rng = (uint64_t)(uintptr_t)((void **)arg)[1];
	char hex[B3CAS_OID_HEX_LEN + 1];

	while (!stopping(r)) {
		content *c = &r->c[tu_rand(&rng) % POOL];
		void *got = NULL;
		size_t len = 0;
		int rc = b3cas_store_get(r->s, &c->id, &got, &len);

		if (rc == 0 && (len != c->len || memcmp(got, c->data, len)))
			failf(r, "racing get of %s returned other bytes",
			      hex_of(&c->id, hex));
		else if (rc != 0 && rc != B3CAS_ENOTFOUND)
			failf(r, "racing get of %s: %s", hex_of(&c->id, hex),
			      b3cas_error_last());
		atomic_fetch_add_explicit(&r->n_racy_hits, rc == 0,
					  memory_order_relaxed);
		b3cas_free(got);
	}
	return NULL;
}

static void *gc_main(void *arg)
{
	run *r = arg;
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report rep;

	o.grace_ns = 0;
	o.normal_priority = true;
	while (!stopping(r)) {
		if (b3cas_gc(r->s, &o, &rep) != 0) {
			failf(r, "gc: %s", b3cas_error_last());
			break;
		}
		atomic_fetch_add(&r->n_gc, 1);
		atomic_fetch_add(&r->n_collected, rep.objects);
	}
	return NULL;
}

/* ---- fsck in this process ------------------------------------------------- */

typedef struct fsck_ctx {
	run *r;
	const char *what;
} fsck_ctx;

static int on_problem(const b3cas_fsck_problem *p, void *arg)
{
	fsck_ctx *x = arg;
	char hex[B3CAS_OID_HEX_LEN + 1] = "-";

	if (p->has_id)
		b3cas_oid_fmt(hex, &p->id);
	failf(x->r, "%s beside the writers found %s %s (%s)%s%s%s%s",
	      x->what, b3cas_fsck_kind_name(p->kind), hex, p->detail,
	      p->path ? " at " : "", p->path ? p->path : "",
	      p->action ? "; action: " : "", p->action ? p->action : "");
	return 0;
}

static void run_fsck(run *r, bool repair, const char *what)
{
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	fsck_ctx x = {r, what};

	fo.repair = repair;
	fo.threads = 2;
	fo.on_problem = on_problem;
	fo.ctx = &x;
	if (b3cas_fsck(r->s, &fo, &rep) != 0)
		failf(r, "%s: %s", what, b3cas_error_last());
	else if (rep.problems || rep.reindexed || rep.removed ||
		 rep.quarantined)
		failf(r, "%s beside the writers: %llu problems, %llu "
		      "re-indexed, %llu removed, %llu quarantined", what,
		      (unsigned long long)rep.problems,
		      (unsigned long long)rep.reindexed,
		      (unsigned long long)rep.removed,
		      (unsigned long long)rep.quarantined);
}

static void *fsck_main(void *arg)
{
	run *r = arg;

	while (!stopping(r)) {
		run_fsck(r, false, "check-only fsck");
		atomic_fetch_add(&r->n_fsck, 1);
	}
	return NULL;
}

static void *repair_main(void *arg)
{
	run *r = arg;

	while (!stopping(r)) {
		run_fsck(r, true, "fsck --repair");
		atomic_fetch_add(&r->n_repair, 1);
	}
	return NULL;
}

/* ---- fsck in another process: `b3cas --store DIR fsck` (read-only) ------ */

/* Run the command once; false (and the failure kept) unless it exits 0. */
static bool cli_fsck_once(run *r)
{
	char out[400], text[2048] = "";
	char *argv[] = {(char *)cli, "--store", r->dir, "fsck", "--threads",
			"2", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, fd;
	ssize_t n;

	snprintf(out, sizeof(out), "%s/cli.out", root);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, cli, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		failf(r, "cannot run %s: %s", cli, strerror(errno));
		return false;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	fd = open(out, O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : 0;
	if (fd >= 0)
		close(fd);
	text[n > 0 ? n : 0] = '\0';
	failf(r, "'b3cas fsck' in another process beside the writer exited "
	      "%d:\n%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
	return false;
}

static void *cli_main(void *arg)
{
	run *r = arg;

	while (!stopping(r) && cli_fsck_once(r))
		atomic_fetch_add(&r->n_cli, 1);
	return NULL;
}

/* ---- one seed ----------------------------------------------------------------- */

static void make_pool(run *r)
{
	uint64_t rng = r->seed;

	for (int i = 0; i < POOL; i++) {
		content *c = &r->c[i];
		unsigned kind = (unsigned)(tu_rand(&rng) % 8);

		/* Mostly loose files (where the races are), a few large
		 * ones (long reads, for L2), a few inline. */
		if (kind < 2)
			c->len = 1 + tu_rand(&rng) % THRESHOLD;
		else if (kind < 7)
			c->len = THRESHOLD + 1 + tu_rand(&rng) % 8192;
		else
			c->len = 64 * 1024 + tu_rand(&rng) % (192 * 1024);
		c->data = malloc(c->len);
		assert_non_null(c->data);
		tu_fill_random(c->data, c->len, &rng);
		/* Tell contents apart even if two draws were equal. */
		memcpy(c->data, &i, sizeof(i) < c->len ? sizeof(i) : c->len);
		b3cas_hash(c->id.bytes, c->data, c->len);
		pthread_mutex_init(&c->lock, NULL);
		c->refs = 0;
	}
}

static b3cas_store *open_store(const char *dir, bool read_only)
{
	b3cas_store_options o = tu_store_options(!read_only, THRESHOLD);

	tu_store_policy(&o); /* B3CAS_TEST_CHUNKING=1: a chunking store */
	o.read_only = read_only;
	o.durability = B3CAS_DURABILITY_NONE;
	o.l1_bytes = 1u << 20;
	o.l2_bytes = read_only ? 0 : 64u << 20;
	return tu_open_store(dir, &o);
}

/* After the threads: exact counts, no trace of what has no reference
 * once collected, and a clean fsck, writable and read-only. */
static void check_end(run *r)
{
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	b3cas_gc_report gr;
	fsck_ctx x = {r, "the final fsck"};

	for (int i = 0; i < POOL; i++)
		op_check(r, &r->c[i]);
	go.grace_ns = 0;
	if (b3cas_gc(r->s, &go, &gr) != 0)
		failf(r, "final gc: %s", b3cas_error_last());
	for (int i = 0; i < POOL && !r->failed; i++) {
		content *c = &r->c[i];
		char hex[B3CAS_OID_HEX_LEN + 1], path[600];
		uint64_t count;
		struct stat st;

		if (c->refs > 0)
			continue;
		hex_of(&c->id, hex);
		if (b3cas_refcount(r->s, &c->id, &count) != B3CAS_ENOTFOUND)
			failf(r, "%s has no reference but is still indexed "
			      "after a GC", hex);
		snprintf(path, sizeof(path), "%s/objects/%.2s/%s", r->dir, hex,
			 hex);
		if (stat(path, &st) == 0)
			failf(r, "%s has no reference but its file is still "
			      "there after a GC", hex);
	}
	fo.on_problem = on_problem;
	fo.ctx = &x;
	fo.threads = 2;
	if (b3cas_fsck(r->s, &fo, &rep) != 0 || rep.problems)
		failf(r, "final fsck: %llu problems (%llu L2 copies): %s",
		      (unsigned long long)rep.problems,
		      (unsigned long long)rep.cache_copies,
		      b3cas_error_last());
	if (b3cas_store_close(r->s) != 0)
		failf(r, "close: %s", b3cas_error_last());
	r->s = open_store(r->dir, true);
	x.what = "the final read-only fsck";
	if (b3cas_fsck(r->s, &fo, &rep) != 0 || rep.problems)
		failf(r, "final read-only fsck: %llu problems: %s",
		      (unsigned long long)rep.problems, b3cas_error_last());
	for (int i = 0; i < POOL; i++)
		if (r->c[i].refs > 0)
			op_check(r, &r->c[i]);
	assert_int_equal(b3cas_store_close(r->s), 0);
	r->s = NULL;
}

static void run_seed(uint64_t seed, unsigned ops)
{
	run *r = calloc(1, sizeof(*r));
	pthread_t workers[WORKERS], racers[RACERS], gc, fsck, repair, cli_t;
	void *args[WORKERS + RACERS][2];
	static int n;

	assert_non_null(r);
	r->seed = seed;
	r->ops = ops;
	pthread_mutex_init(&r->fail_lock, NULL);
	snprintf(r->dir, sizeof(r->dir), "%s/s%d", root, n++);
	make_pool(r);
	r->s = open_store(r->dir, false);
	atomic_store(&r->workers_left, WORKERS);
	for (int i = 0; i < WORKERS + RACERS; i++) {
		args[i][0] = r;
		args[i][1] = (void *)(uintptr_t)(seed * 1000003u + (unsigned)i);
	}
	for (int i = 0; i < WORKERS; i++)
		assert_int_equal(pthread_create(&workers[i], NULL, worker_main,
						args[i]), 0);
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(pthread_create(&racers[i], NULL, racer_main,
						args[WORKERS + i]), 0);
	assert_int_equal(pthread_create(&gc, NULL, gc_main, r), 0);
	assert_int_equal(pthread_create(&fsck, NULL, fsck_main, r), 0);
	assert_int_equal(pthread_create(&repair, NULL, repair_main, r), 0);
	assert_int_equal(pthread_create(&cli_t, NULL, cli_main, r), 0);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i], NULL);
	for (int i = 0; i < RACERS; i++)
		pthread_join(racers[i], NULL);
	pthread_join(gc, NULL);
	pthread_join(fsck, NULL);
	pthread_join(repair, NULL);
	pthread_join(cli_t, NULL);
	if (!r->failed)
		check_end(r);
	else
		b3cas_store_close(r->s);
	fprintf(stderr, "  seed %llu: %llu ops, %llu gc (%llu collected), "
		"%llu fsck, %llu fsck --repair, %llu fsck in another "
		"process, %llu racing reads found\n",
		(unsigned long long)seed, (unsigned long long)r->n_ops,
		(unsigned long long)r->n_gc,
		(unsigned long long)r->n_collected,
		(unsigned long long)r->n_fsck, (unsigned long long)r->n_repair,
		(unsigned long long)r->n_cli,
		(unsigned long long)r->n_racy_hits);
	if (r->failed)
		fail_msg("seed %llu (B3CAS_TEST_SEED=%llu replays it): %s",
			 (unsigned long long)seed, (unsigned long long)seed,
			 r->why);
	for (int i = 0; i < POOL; i++) {
		free(r->c[i].data);
		pthread_mutex_destroy(&r->c[i].lock);
	}
	free(r);
}

static void test_live_fsck(void **state)
{
	const char *one = getenv("B3CAS_TEST_SEED");
	uint64_t seed = tu_seed("live_fsck");
	unsigned seeds = one ? 1 : long_run ? 24 : 3;
	unsigned ops = long_run ? 6000 : 1200;

	(void)state;
	for (unsigned i = 0; i < seeds; i++)
		run_seed(seed + i, ops);
}

/* ---- an L2 copy must not outlive GC --------------------------------------- */

typedef struct l2_reader {
	b3cas_store *s;
	const b3cas_oid *id;
	const uint8_t *data;
	size_t len;
	atomic_bool stop;
	atomic_int bad;
	atomic_int reads;
} l2_reader;

static void *l2_reader_main(void *arg)
{
	l2_reader *x = arg;

	while (!atomic_load(&x->stop)) {
		void *got = NULL;
		size_t len = 0;
		int rc;

		/* Each read from the object file, which offers L2 a copy. */
		b3cas_cache_evict(x->s, x->id);
		rc = b3cas_store_get(x->s, x->id, &got, &len);
		atomic_fetch_add(&x->reads, rc == 0);
		if ((rc == 0 && (len != x->len || memcmp(got, x->data, len))) ||
		    (rc != 0 && rc != B3CAS_ENOTFOUND))
			atomic_store(&x->bad, rc ? rc : 1);
		b3cas_free(got);
	}
	return NULL;
}

/*
 * A reader reads a large object from its file over and over (evicting it
 * first, so each read offers L2 a copy) while the object is deleted and
 * collected. Once
 * the reader has stopped, no copy may be left in cache/l2/: a read that
 * began before the collection must not put its copy back after GC erased
 * it. Each round: put, read on, delete, GC, stop, look. (A chunking store
 * reads the object from its chunks, which L2 does not copy: main()
 * leaves this case out there.)
 */
static void test_l2_copy_after_gc(void **state)
{
	uint64_t rng = tu_seed("l2_copy_after_gc");
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	size_t len = 1u << 20;
	uint8_t *data = malloc(len);
	char dir[300], path[700], hex[B3CAS_OID_HEX_LEN + 1];
	int rounds = long_run ? 400 : 40, left = 0;
	b3cas_oid id;
	b3cas_store *s;

	(void)state;
	assert_non_null(data);
	tu_fill_random(data, len, &rng);
	b3cas_hash(id.bytes, data, len);
	b3cas_oid_fmt(hex, &id);
	snprintf(dir, sizeof(dir), "%s/l2", root);
	snprintf(path, sizeof(path), "%s/cache/l2/%.2s/%s", dir, hex, hex);
	s = open_store(dir, false);
	assert_int_equal(b3cas_cache_resize(s, 0, 64u << 20), 0); /* no L1 */
	for (int i = 0; i < rounds; i++) {
		l2_reader x = {s, &id, data, len, false, 0, 0};
		pthread_t t;
		struct stat st;

		assert_int_equal(b3cas_store_put(s, NULL, data, len), 0);
		assert_int_equal(pthread_create(&t, NULL, l2_reader_main, &x),
				 0);
		/* Let a read finish, so that the next is under way below. */
		while (atomic_load(&x.reads) == 0)
			sched_yield();
		assert_int_equal(b3cas_store_delete(s, &id), 0);
		assert_int_equal(b3cas_gc(s, &go, NULL), 0);
		atomic_store(&x.stop, true);
		pthread_join(t, NULL);
		assert_int_equal(atomic_load(&x.bad), 0);
		left += stat(path, &st) == 0;
		/* Clear it for the next round either way. */
		b3cas_cache_evict(s, &id);
		unlink(path);
	}
	if (left)
		fail_msg("%d of %d rounds left an L2 copy of the collected "
			 "object behind", left, rounds);
	assert_int_equal(b3cas_fsck(s, &fo, &rep), 0);
	assert_int_equal(rep.problems, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	free(data);
}

/* ---- a read-only handle's view, step by step --------------------------- */

static int count_kind(const b3cas_fsck_problem *p, void *arg)
{
	unsigned *by_kind = arg;

	by_kind[p->kind]++;
	return 0;
}

/*
 * A read-only handle opened before the writer put X and collected Y (its
 * snapshot has no X, and Y with its file): its fsck must not report X as
 * an orphan nor Y as missing, yet it must still report a real orphan (a
 * file planted with no entry) and a real missing file (deleted behind the
 * store's back) - after judging them again against a fresh index. (A
 * chunking store keeps no object in a file: nothing can go missing, and
 * Y's chunks and their held counts are judged from the snapshot.)
 */
static void test_read_only_snapshot(void **state)
{
	uint64_t rng = tu_seed("read_only_snapshot");
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	static uint8_t data[4][5000];
	enum { X, Y, Z, P };
	b3cas_oid id[4];
	unsigned by_kind[16] = {0};
	char dir[300], path[700];
	b3cas_store *w, *ro;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/ro", root);
	for (int i = 0; i < 4; i++) {
		tu_fill_random(data[i], sizeof(data[i]), &rng);
		b3cas_hash(id[i].bytes, data[i], sizeof(data[i]));
	}
	w = open_store(dir, false);
	assert_int_equal(b3cas_store_put(w, NULL, data[Y], 5000), 0);
	assert_int_equal(b3cas_store_put(w, NULL, data[Z], 5000), 0);
	assert_int_equal(b3cas_store_sync(w), 0);
	ro = open_store(dir, true);
	/* After the snapshot: X put, Y deleted and collected. */
	assert_int_equal(b3cas_store_put(w, NULL, data[X], 5000), 0);
	assert_int_equal(b3cas_store_delete(w, &id[Y]), 0);
	assert_int_equal(b3cas_gc(w, &go, NULL), 0);
	assert_int_equal(b3cas_store_sync(w), 0);

	fo.on_problem = count_kind;
	fo.ctx = by_kind;
	assert_int_equal(b3cas_fsck(ro, &fo, &rep), 0);
	assert_int_equal(rep.problems, 0);

	/* Real damage is still reported: a lost object in a RADOS store's
	 * pool (an object in the pool no index lists is no orphan: another
	 * host may hold it) */
	if (tu_rados()) {
		b3cas_rados *pool = tu_pool_open(dir);

		tu_pool_drop(pool, &id[Z]);
		b3cas__rados_close(pool);
		assert_int_equal(b3cas_fsck(ro, &fo, &rep), 0);
		assert_int_equal(rep.problems, 1);
		assert_int_equal(rep.orphans, 0);
		assert_int_equal(rep.missing, 1);
		assert_int_equal(by_kind[B3CAS_FSCK_MISSING], 1);
		assert_int_equal(b3cas_store_close(ro), 0);
		assert_int_equal(b3cas_store_close(w), 0);
		return;
	}
	/* ... and in a store of files: a planted orphan, a lost file. */
	tu_object_file(path, sizeof(path), dir, "objects", &id[P]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0444);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data[P], 5000), 5000);
	close(fd);
	tu_object_file(path, sizeof(path), dir, "objects", &id[Z]);
	assert_int_equal(unlink(path) == 0, !tu_chunking());
	assert_int_equal(b3cas_fsck(ro, &fo, &rep), 0);
	assert_int_equal(rep.problems, tu_chunking() ? 1 : 2);
	assert_int_equal(rep.orphans, 1);
	assert_int_equal(rep.missing, !tu_chunking());
	assert_int_equal(by_kind[B3CAS_FSCK_ORPHAN], 1);
	assert_int_equal(by_kind[B3CAS_FSCK_MISSING], !tu_chunking());
	assert_int_equal(b3cas_store_close(ro), 0);
	assert_int_equal(b3cas_store_close(w), 0);
}

static int setup(void **state)
{
	(void)state;
	cli = getenv("B3CAS_CLI");
	if (!cli || access(cli, X_OK) != 0) {
		fprintf(stderr, "B3CAS_CLI must name the b3cas program (ctest "
			"sets it)\n");
		return -1;
	}
	long_run = getenv("B3CAS_TEST_LONG") != NULL;
	tu_make_root(root, sizeof(root), "live-fsck");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_l2_copy_after_gc),
		cmocka_unit_test(test_read_only_snapshot),
		cmocka_unit_test(test_live_fsck),
	};
	/* A chunking store keeps no object in a file, and L2 copies only
	 * those: the L2 case is not one of its cases. */
	const struct CMUnitTest chunking[] = {
		cmocka_unit_test(test_read_only_snapshot),
		cmocka_unit_test(test_live_fsck),
	};

	if (tu_chunking())
		return cmocka_run_group_tests(chunking, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
