/*
 * filter/filter.c - the store's bloom filter: loading, building, growing,
 * saving.
 *
 * The one rule: the filter in f->bloom has every id of the index in it,
 * so a "no" lets a put skip its lookup. Everything here serves that rule:
 *
 * - Saved at close to cache/bloom with the index's last sequence number,
 *   and deleted at open once loaded: a process that dies leaves no file,
 *   and a file whose number differs from the index's (writes since) is
 *   not used. Then a new filter is built, and a close lets that build
 *   finish and saves it (unless the store was interrupted): stopped at
 *   every close, a build longer than the runs (a store of 100,000 chunks
 *   after a crash, run by run of `b3cas put`) was begun again by every
 *   run and never done, each run scanning the index for nothing.
 * - A build runs in a thread over the content column family while puts go
 *   on. The new filter is published in f->bloom_next first, and every new
 *   id is added to it from then on; then the builder takes and lets go of
 *   every stripe lock, so each put that might have missed bloom_next has
 *   finished its index write, and only then opens its iterator. Every id
 *   is thus in the iterator's view or was added by its put.
 * - When the filter holds more ids than it was sized for (its false
 *   positives would pass 1%), or GC has freed a quarter of them, a larger
 *   or fresher one is built the same way, sized for twice the ids.
 * - Replaced filters may still be read by a put that loaded the pointer
 *   just before the swap, so they are freed only at close.
 *
 * A mechanism: it owns its state (struct b3cas_filter) and knows the
 * index it covers and the stripe locks that order puts, not the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/filter.h"
#include "util/error.h"

#define MIN_CAPACITY (1u << 20)

struct b3cas_filter {
	b3cas_index *ix;        /* the index whose ids it holds */
	b3cas_stripes *stripes; /* the locks every put holds */
	char *root;             /* the store folder: cache/bloom, tmp/bloom */
	bool read_only;         /* loads and builds nothing: puts use it */

	b3cas_bloom *_Atomic bloom;      /* complete, or NULL */
	b3cas_bloom *_Atomic bloom_next; /* being built, or NULL */
	atomic_ullong bloom_ids;         /* ids added to bloom (about) */
	atomic_ullong bloom_freed;       /* ids GC removed since it was built */
	atomic_bool bloom_building;
	atomic_bool bloom_stop;
	pthread_t bloom_thread;
	bool bloom_thread_started;
	pthread_mutex_t bloom_lock;      /* guards starting a build, retired */
	b3cas_bloom *retired[64];        /* replaced filters, freed at close */
	int nretired;
	atomic_ullong skips;             /* puts that skipped the lookup */
	atomic_ullong false_pos;         /* "maybe" for an id not stored */
	atomic_ullong hits;              /* "maybe" for an id stored */
};

static uint64_t index_seq(const b3cas_filter *f)
{
	return (uint64_t)rocksdb_get_latest_sequence_number(f->ix->db);
}

static uint64_t estimate_ids(const b3cas_filter *f)
{
	uint64_t n = 0;

	if (!rocksdb_property_int_cf(f->ix->db, f->ix->cf[B3CAS_CF_CONTENT],
				     "rocksdb.estimate-num-keys", &n))
		return n;
	return 0;
}

static void retire(b3cas_filter *f, b3cas_bloom *old)
{
	if (!old)
		return;
	pthread_mutex_lock(&f->bloom_lock);
	if (f->nretired < (int)(sizeof(f->retired) / sizeof(f->retired[0])))
		f->retired[f->nretired++] = old;
	else
		old = NULL; /* cannot happen: builds double the size */
	pthread_mutex_unlock(&f->bloom_lock);
}

static void *build_main(void *arg)
{
	b3cas_filter *f = arg;
	b3cas_bloom *nb = atomic_load(&f->bloom_next);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t n = 0;
	char *err = NULL;

	/* Every put that may not have seen bloom_next ends here. */
	b3cas__stripes_drain(f->stripes);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(f->ix->db, ro,
					f->ix->cf[B3CAS_CF_CONTENT]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if ((n & 4095) == 0 && atomic_load(&f->bloom_stop))
			break;
		if (klen == B3CAS_OID_LEN)
			b3cas__bloom_add(nb, (const b3cas_oid *)key);
		n++;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err || atomic_load(&f->bloom_stop)) {
		/* Incomplete: never published. Puts go on with the old. */
		free(err);
		atomic_store(&f->bloom_next, NULL);
		retire(f, nb);
	} else {
		b3cas_bloom *old = atomic_exchange(&f->bloom, nb);

		atomic_store(&f->bloom_next, NULL);
		atomic_store(&f->bloom_ids, n);
		atomic_store(&f->bloom_freed, 0);
		retire(f, old);
	}
	atomic_store(&f->bloom_building, false);
	return NULL;
}

/* Start building a filter for capacity ids unless one is being built. */
static void start_build(b3cas_filter *f, uint64_t capacity)
{
	b3cas_bloom *nb;
	bool idle = false;

	if (f->read_only ||
	    !atomic_compare_exchange_strong(&f->bloom_building, &idle, true))
		return;
	pthread_mutex_lock(&f->bloom_lock);
	if (f->bloom_thread_started) {
		pthread_join(f->bloom_thread, NULL);
		f->bloom_thread_started = false;
	}
	nb = b3cas__bloom_new(capacity < MIN_CAPACITY ? MIN_CAPACITY
						      : capacity);
	if (nb) {
		atomic_store(&f->bloom_next, nb);
		f->bloom_thread_started = pthread_create(&f->bloom_thread, NULL,
							 build_main, f) == 0;
		if (!f->bloom_thread_started) {
			atomic_store(&f->bloom_next, NULL);
			b3cas__bloom_free(nb);
			nb = NULL;
		}
	}
	if (!nb) /* no memory or thread: go on without a filter */
		atomic_store(&f->bloom_building, false);
	pthread_mutex_unlock(&f->bloom_lock);
}

static char *bloom_path(const b3cas_filter *f, const char *name)
{
	size_t n = strlen(f->root) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", f->root, name);
	return p;
}

b3cas_filter *b3cas__filter_open(b3cas_index *ix, b3cas_stripes *stripes,
				const char *root, bool read_only)
{
	b3cas_filter *f = calloc(1, sizeof(*f));
	char *path;
	b3cas_bloom *b = NULL;
	uint64_t count = 0, stamp = 0;

	if (!f || !(f->root = strdup(root))) {
		free(f);
		return NULL; /* go without a filter */
	}
	f->ix = ix;
	f->stripes = stripes;
	f->read_only = read_only;
	pthread_mutex_init(&f->bloom_lock, NULL);
	if (f->read_only)
		return f; /* only puts use it */
	path = bloom_path(f, "cache/bloom");
	if (path && b3cas__bloom_load(&b, &count, &stamp, path) == 0 &&
	    stamp != index_seq(f)) {
		b3cas__bloom_free(b);
		b = NULL;
	}
	/* Used or not, the file goes: it must not outlive a crash. */
	if (path)
		unlink(path);
	free(path);
	b3cas_error_clear();
	if (b) {
		atomic_store(&f->bloom, b);
		atomic_store(&f->bloom_ids, count);
		return f;
	}
	start_build(f, 2 * estimate_ids(f));
	return f;
}

void b3cas__filter_close(b3cas_filter *f, bool finish_build)
{
	b3cas_bloom *b;

	if (!f)
		return;
	if (!finish_build)
		atomic_store(&f->bloom_stop, true);
	if (f->bloom_thread_started)
		pthread_join(f->bloom_thread, NULL);
	/* A build that finished has put its filter here, the old retired. */
	b = atomic_load(&f->bloom);
	if (b && f->ix && !f->read_only) {
		char *path = bloom_path(f, "cache/bloom");
		char *tmp = bloom_path(f, "tmp/bloom");

		/* A filter that cannot be saved is rebuilt next time. */
		if (path && tmp)
			b3cas__bloom_save(b, atomic_load(&f->bloom_ids),
					  index_seq(f), path, tmp);
		b3cas_error_clear();
		free(path);
		free(tmp);
	}
	b3cas__bloom_free(b);
	for (int i = 0; i < f->nretired; i++)
		b3cas__bloom_free(f->retired[i]);
	pthread_mutex_destroy(&f->bloom_lock);
	free(f->root);
	free(f);
}

bool b3cas__filter_may_contain(b3cas_filter *f, const b3cas_oid *id)
{
	const b3cas_bloom *b;

	if (!f)
		return true;
	b = atomic_load_explicit(&f->bloom, memory_order_acquire);
	if (b && !b3cas__bloom_may_contain(b, id)) {
		atomic_fetch_add_explicit(&f->skips, 1,
					  memory_order_relaxed);
		return false;
	}
	return true;
}

void b3cas__filter_outcome(b3cas_filter *f, bool found)
{
	if (!f || !atomic_load_explicit(&f->bloom, memory_order_relaxed))
		return;
	atomic_fetch_add_explicit(found ? &f->hits : &f->false_pos,
				  1, memory_order_relaxed);
}

void b3cas__filter_add(b3cas_filter *f, const b3cas_oid *id)
{
	b3cas_bloom *b, *next;
	uint64_t ids;

	if (!f)
		return;
	b = atomic_load_explicit(&f->bloom, memory_order_acquire);
	next = atomic_load_explicit(&f->bloom_next, memory_order_acquire);

	if (next)
		b3cas__bloom_add(next, id);
	if (!b)
		return;
	b3cas__bloom_add(b, id);
	ids = atomic_fetch_add_explicit(&f->bloom_ids, 1,
					memory_order_relaxed) + 1;
	/* Past its capacity the false positives climb above 1%. */
	if (ids > b->capacity && !atomic_load(&f->bloom_building))
		start_build(f, 2 * ids);
}

void b3cas__filter_note_freed(b3cas_filter *f, uint64_t n)
{
	uint64_t freed, ids;

	if (!f || !atomic_load(&f->bloom) || n == 0)
		return;
	freed = atomic_fetch_add(&f->bloom_freed, n) + n;
	ids = atomic_load(&f->bloom_ids);
	if (freed > ids / 4 + 1024)
		start_build(f, 2 * (ids > freed ? ids - freed : 0));
}

void b3cas__filter_counters(const b3cas_filter *f, uint64_t *skips,
			    uint64_t *hits, uint64_t *false_pos)
{
	*skips = f ? atomic_load(&f->skips) : 0;
	*hits = f ? atomic_load(&f->hits) : 0;
	*false_pos = f ? atomic_load(&f->false_pos) : 0;
}

uint64_t b3cas__filter_ids(const b3cas_filter *f)
{
	return f && atomic_load(&f->bloom) ? atomic_load(&f->bloom_ids) : 0;
}

const b3cas_bloom *b3cas__filter_bloom(const b3cas_filter *f)
{
	return f ? atomic_load(&f->bloom) : NULL;
}

bool b3cas__filter_building(const b3cas_filter *f)
{
	return f && atomic_load(&f->bloom_building);
}
