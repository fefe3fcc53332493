/*
 * test_interrupt.c - b3cas_store_interrupt, what a program calls before
 * it ends on a signal: staging files of unfinished writes are gone, later
 * writes that need a staging file or publish a loose object fail with
 * B3CAS_ECLOSED, one-batch writes go on, and no write is left half done:
 * with threads putting loose objects during the interrupt, every put that
 * succeeded reads back, none that failed left an object file, and fsck
 * finds nothing (no orphan file without its index entry).
 *
 * Threads: B3CAS_TEST_THREADS (default 8), each putting objects until the
 * interrupt; the seed picks the sizes (B3CAS_TEST_SEED to replay).
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define LOOSE 100000 /* above the inline threshold, below the pool's */
#define MAX_PUTS 4096

static int tmp_entries(const char *root)
{
	char path[128];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/tmp", root);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static b3cas_store *open_store(const char *root)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	o.create = true;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	return s;
}

static void expect_clean(b3cas_store *s)
{
	b3cas_fsck_report r;

	assert_int_equal(b3cas_fsck(s, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
}

/* One thread: the staging file, the refusals, what goes on. */
static void test_interrupt_one(void **state)
{
	static uint8_t buf[3 * LOOSE];
	char root[64];
	b3cas_store *s;
	b3cas_writer *w;
	b3cas_oid id, small_id;

	(void)state;
	tu_make_root(root, sizeof(root), "interrupt");
	s = open_store(root);
	tu_fill_pattern(buf, sizeof(buf));
	assert_int_equal(b3cas_writer_open(&w, s), 0);
	/* Past the writer's buffer: the bytes are in a staging file. */
	assert_int_equal(b3cas_writer_write(w, buf, sizeof(buf)), 0);
	assert_int_equal(b3cas_writer_write(w, buf, sizeof(buf)), 0);
	assert_int_equal(tmp_entries(root), 1);

	assert_int_equal(b3cas_store_interrupt(s), 0);
	assert_int_equal(tmp_entries(root), 0);
	assert_int_equal(b3cas_writer_commit(w, &id), B3CAS_ECLOSED);
	assert_non_null(strstr(b3cas_error_last(), "interrupted"));
	assert_int_equal(b3cas_store_put(s, &id, buf, LOOSE), B3CAS_ECLOSED);
	/* An inline put is one index write: it is not stopped. */
	assert_true(b3cas_store_put(s, &small_id, buf, 100) >= 0);
	assert_int_equal(b3cas_store_exists(s, &small_id), 1);
	/* A collection stops before its next group of removals. */
	{
		b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

		assert_int_equal(b3cas_store_delete(s, &small_id), 0);
		assert_int_equal(b3cas_gc(s, &go, NULL), B3CAS_ECLOSED);
	}
	assert_int_equal(b3cas_store_interrupt(s), 0); /* again: harmless */
	assert_int_equal(tmp_entries(root), 0);
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);

	/* A new handle writes again; nothing of the old one is left. */
	s = open_store(root);
	assert_int_equal(b3cas_store_put(s, &id, buf, LOOSE), 0);
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
	assert_int_equal(b3cas_store_interrupt(NULL), B3CAS_EINVAL);
	tu_remove_root(root);
}

typedef struct putter {
	b3cas_store *s;
	uint64_t seed;
	atomic_bool *go;
	b3cas_oid ids[MAX_PUTS];
	size_t lens[MAX_PUTS];
	uint64_t salts[MAX_PUTS];
	int stored, refused;
	int other_error;
} putter;

static void fill_object(uint8_t *buf, size_t len, uint64_t salt)
{
	uint64_t st = salt;

	tu_fill_random(buf, len, &st);
}

/* Put loose objects, each of new bytes, until a put is refused. */
static void *putter_main(void *arg)
{
	putter *p = arg;
	uint8_t *buf = malloc(2 * LOOSE);
	uint64_t st = p->seed;

	while (!atomic_load(p->go))
		;
	for (int i = 0; buf && p->stored < MAX_PUTS; i++) {
		size_t len = LOOSE + (size_t)(tu_rand(&st) % LOOSE);
		uint64_t salt = tu_rand(&st);
		b3cas_oid id;
		int rc;

		fill_object(buf, len, salt);
		rc = b3cas_store_put(p->s, &id, buf, len);
		if (rc == B3CAS_ECLOSED) {
			p->refused++;
			break;
		}
		if (rc < 0) {
			p->other_error = rc;
			break;
		}
		p->ids[p->stored] = id;
		p->lens[p->stored] = len;
		p->salts[p->stored++] = salt;
	}
	free(buf);
	return NULL;
}

/* Threads putting while another interrupts: nothing half done. */
static void test_interrupt_racing_puts(void **state)
{
	const char *env = getenv("B3CAS_TEST_THREADS");
	int nthreads = env ? atoi(env) : 8;
	uint64_t seed = tu_seed("interrupt");
	static putter ps[64];
	pthread_t th[64];
	atomic_bool go = false;
	char root[64];
	b3cas_store *s;
	int stored = 0;
	uint8_t *buf = malloc(2 * LOOSE), *got;
	size_t got_len;

	(void)state;
	assert_non_null(buf);
	if (nthreads < 1 || nthreads > 64)
		nthreads = 8;
	tu_make_root(root, sizeof(root), "interrupt-race");
	s = open_store(root);
	for (int i = 0; i < nthreads; i++) {
		memset(&ps[i], 0, sizeof(ps[i]));
		ps[i].s = s;
		ps[i].seed = seed + (uint64_t)i * 7919;
		ps[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, putter_main,
						&ps[i]), 0);
	}
	atomic_store(&go, true);
	usleep(20000); /* let some puts finish; any moment will do */
	assert_int_equal(b3cas_store_interrupt(s), 0);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ps[i].other_error, 0);
		assert_int_equal(ps[i].refused, ps[i].stored < MAX_PUTS);
		stored += ps[i].stored;
	}
	assert_int_equal(tmp_entries(root), 0);
	/* Every acknowledged put reads back; nothing else is there. */
	for (int i = 0; i < nthreads; i++)
		for (int j = 0; j < ps[i].stored; j++) {
			fill_object(buf, ps[i].lens[j], ps[i].salts[j]);
			assert_int_equal(b3cas_store_get(s, &ps[i].ids[j],
							 (void **)&got,
							 &got_len), 0);
			assert_int_equal(got_len, ps[i].lens[j]);
			tu_expect_mem(got, buf, got_len, "seed %llu",
				      (unsigned long long)seed);
			b3cas_free(got);
		}
	expect_clean(s);
	assert_int_equal(b3cas_store_close(s), 0);
	fprintf(stderr, "[interrupt] %d threads, %d puts before the "
		"interrupt, all read back, fsck clean\n", nthreads, stored);
	free(buf);
	tu_remove_root(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interrupt_one),
		cmocka_unit_test(test_interrupt_racing_puts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
