/*
 * filter/filter.c - the store's bloom filter: loading, building, growing,
 * saving.
 *
 * The one rule: the filter in s->bloom has every id of the index in it,
 * so a "no" lets a put skip its lookup. Everything here serves that rule:
 *
 * - Saved at close to cache/bloom with the index's last sequence number,
 *   and deleted at open once loaded: a process that dies leaves no file,
 *   and a file whose number differs from the index's (writes since) is
 *   not used. Then a new filter is built.
 * - A build runs in a thread over the content column family while puts go
 *   on. The new filter is published in s->bloom_next first, and every new
 *   id is added to it from then on; then the builder takes and lets go of
 *   every stripe lock, so each put that might have missed bloom_next has
 *   finished its index write, and only then opens its iterator. Every id
 *   is thus in the iterator's view or was added by its put.
 * - When the filter holds more ids than it was sized for (its false
 *   positives would pass 1%), or GC has freed a quarter of them, a larger
 *   or fresher one is built the same way, sized for twice the ids.
 * - Replaced filters may still be read by a put that loaded the pointer
 *   just before the swap, so they are freed only at close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/error.h"

#define MIN_CAPACITY (1u << 20)

static uint64_t index_seq(const b3cas_store *s)
{
	return (uint64_t)rocksdb_get_latest_sequence_number(s->ix->db);
}

static uint64_t estimate_ids(const b3cas_store *s)
{
	uint64_t n = 0;

	if (!rocksdb_property_int_cf(s->ix->db, s->ix->cf[B3CAS_CF_CONTENT],
				     "rocksdb.estimate-num-keys", &n))
		return n;
	return 0;
}

static void retire(b3cas_store *s, b3cas_bloom *old)
{
	if (!old)
		return;
	pthread_mutex_lock(&s->bloom_lock);
	if (s->nretired < (int)(sizeof(s->retired) / sizeof(s->retired[0])))
		s->retired[s->nretired++] = old;
	else
		old = NULL; /* cannot happen: builds double the size */
	pthread_mutex_unlock(&s->bloom_lock);
}

static void *build_main(void *arg)
{
	b3cas_store *s = arg;
	b3cas_bloom *nb = atomic_load(&s->bloom_next);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t n = 0;
	char *err = NULL;

	/* Every put that may not have seen bloom_next ends here. */
	for (unsigned i = 0; i < s->nstripes; i++) {
		pthread_mutex_lock(&s->stripes[i]);
		pthread_mutex_unlock(&s->stripes[i]);
	}
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if ((n & 4095) == 0 && atomic_load(&s->bloom_stop))
			break;
		if (klen == B3CAS_OID_LEN)
			b3cas__bloom_add(nb, (const b3cas_oid *)key);
		n++;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err || atomic_load(&s->bloom_stop)) {
		/* Incomplete: never published. Puts go on with the old. */
		free(err);
		atomic_store(&s->bloom_next, NULL);
		retire(s, nb);
	} else {
		b3cas_bloom *old = atomic_exchange(&s->bloom, nb);

		atomic_store(&s->bloom_next, NULL);
		atomic_store(&s->bloom_ids, n);
		atomic_store(&s->bloom_freed, 0);
		retire(s, old);
	}
	atomic_store(&s->bloom_building, false);
	return NULL;
}

/* Start building a filter for capacity ids unless one is being built. */
static void start_build(b3cas_store *s, uint64_t capacity)
{
	b3cas_bloom *nb;
	bool idle = false;

	if (s->read_only ||
	    !atomic_compare_exchange_strong(&s->bloom_building, &idle, true))
		return;
	pthread_mutex_lock(&s->bloom_lock);
	if (s->bloom_thread_started) {
		pthread_join(s->bloom_thread, NULL);
		s->bloom_thread_started = false;
	}
	nb = b3cas__bloom_new(capacity < MIN_CAPACITY ? MIN_CAPACITY
						      : capacity);
	if (nb) {
		atomic_store(&s->bloom_next, nb);
		if (pthread_create(&s->bloom_thread, NULL, build_main, s) == 0) {
			s->bloom_thread_started = true;
		} else {
			atomic_store(&s->bloom_next, NULL);
			b3cas__bloom_free(nb);
			nb = NULL;
		}
	}
	if (!nb) /* no memory or thread: go on without a filter */
		atomic_store(&s->bloom_building, false);
	pthread_mutex_unlock(&s->bloom_lock);
}

static char *bloom_path(const b3cas_store *s, const char *name)
{
	size_t n = strlen(s->lay.root) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", s->lay.root, name);
	return p;
}

void b3cas__filter_open(b3cas_store *s)
{
	char *path;
	b3cas_bloom *b = NULL;
	uint64_t count = 0, stamp = 0;

	pthread_mutex_init(&s->bloom_lock, NULL);
	if (s->read_only)
		return; /* only puts use it */
	path = bloom_path(s, "cache/bloom");
	if (path && b3cas__bloom_load(&b, &count, &stamp, path) == 0 &&
	    stamp != index_seq(s)) {
		b3cas__bloom_free(b);
		b = NULL;
	}
	/* Used or not, the file goes: it must not outlive a crash. */
	if (path)
		unlink(path);
	free(path);
	b3cas_error_clear();
	if (b) {
		atomic_store(&s->bloom, b);
		atomic_store(&s->bloom_ids, count);
		return;
	}
	start_build(s, 2 * estimate_ids(s));
}

void b3cas__filter_close(b3cas_store *s)
{
	b3cas_bloom *b = atomic_load(&s->bloom);

	atomic_store(&s->bloom_stop, true);
	if (s->bloom_thread_started)
		pthread_join(s->bloom_thread, NULL);
	if (b && s->ix && !s->read_only) {
		char *path = bloom_path(s, "cache/bloom");
		char *tmp = bloom_path(s, "tmp/bloom");

		/* A filter that cannot be saved is rebuilt next time. */
		if (path && tmp)
			b3cas__bloom_save(b, atomic_load(&s->bloom_ids),
					  index_seq(s), path, tmp);
		b3cas_error_clear();
		free(path);
		free(tmp);
	}
	b3cas__bloom_free(b);
	for (int i = 0; i < s->nretired; i++)
		b3cas__bloom_free(s->retired[i]);
	pthread_mutex_destroy(&s->bloom_lock);
}

bool b3cas__filter_may_contain(b3cas_store *s, const b3cas_oid *id)
{
	const b3cas_bloom *b = atomic_load_explicit(&s->bloom,
						    memory_order_acquire);

	if (b && !b3cas__bloom_may_contain(b, id)) {
		atomic_fetch_add_explicit(&s->bloom_skips, 1,
					  memory_order_relaxed);
		return false;
	}
	return true;
}

void b3cas__filter_outcome(b3cas_store *s, bool found)
{
	if (!atomic_load_explicit(&s->bloom, memory_order_relaxed))
		return;
	atomic_fetch_add_explicit(found ? &s->bloom_hits : &s->bloom_false_pos,
				  1, memory_order_relaxed);
}

void b3cas__filter_add(b3cas_store *s, const b3cas_oid *id)
{
	b3cas_bloom *b = atomic_load_explicit(&s->bloom, memory_order_acquire);
	b3cas_bloom *next = atomic_load_explicit(&s->bloom_next,
						 memory_order_acquire);
	uint64_t ids;

	if (next)
		b3cas__bloom_add(next, id);
	if (!b)
		return;
	b3cas__bloom_add(b, id);
	ids = atomic_fetch_add_explicit(&s->bloom_ids, 1,
					memory_order_relaxed) + 1;
	/* Past its capacity the false positives climb above 1%. */
	if (ids > b->capacity && !atomic_load(&s->bloom_building))
		start_build(s, 2 * ids);
}

void b3cas__filter_note_freed(b3cas_store *s, uint64_t n)
{
	b3cas_bloom *b = atomic_load(&s->bloom);
	uint64_t freed, ids;

	if (!b || n == 0)
		return;
	freed = atomic_fetch_add(&s->bloom_freed, n) + n;
	ids = atomic_load(&s->bloom_ids);
	if (freed > ids / 4 + 1024)
		start_build(s, 2 * (ids > freed ? ids - freed : 0));
}
