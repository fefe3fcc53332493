/*
 * bench_cache_mixed.c - bench_cache's part 4: the mixed workload
 * (70% get_view on Zipf, 20% put, 10% delete of 1 KiB objects) on each
 * thread count for a fixed time, beside raw RocksDB doing the same mix
 * with the store's index options, in rounds a b b a: ops/s, sampled
 * p50/p99, L1 hit ratio.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"
#include "cache/cache.h"
#include "index/index.h"
#include "bench_cache_int.h"

/* A reference a thread made, which only it deletes. */
typedef struct held {
	b3cas_oid id;  /* store id, or raw key */
	bool is_new;   /* new content: its only reference */
} held;

typedef struct mix_run mix_run;

typedef struct worker {
	pthread_t thread;
	mix_run *run;
	int index;
	uint64_t rng;
	uint64_t next_new;
	held *refs;
	size_t nrefs, cap_refs;
	double *lat;
	size_t nlat, cap_lat;
	uint64_t ops, gets, puts, dels;
	/* Last: it keeps the busy fields of workers side by side in the
	 * array on different cache lines. */
	char err[512];
} worker;

struct mix_run {
	bool raw;
	b3cas_store *store;
	rocksdb_t *db;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	const zipf *z;
	uint64_t tag;    /* new content of this run is unique to it */
	worker *w;
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;
	atomic_bool stop;
	double wall;
};

static int werr(worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int werr(worker *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	atomic_store(&w->run->stop, true);
	return -1;
}

static bool push_ref(worker *w, const b3cas_oid *id, bool is_new)
{
	if (w->nrefs == w->cap_refs) {
		size_t cap = w->cap_refs ? 2 * w->cap_refs : 256;
		held *v = realloc(w->refs, cap * sizeof(*v));

		if (!v)
			return false;
		w->refs = v;
		w->cap_refs = cap;
	}
	w->refs[w->nrefs].id = *id;
	w->refs[w->nrefs].is_new = is_new;
	w->nrefs++;
	return true;
}

static bool push_lat(worker *w, double sec)
{
	if (w->nlat == w->cap_lat) {
		size_t cap = w->cap_lat ? 2 * w->cap_lat : 256;
		double *v = realloc(w->lat, cap * sizeof(*v));

		if (!v)
			return false;
		w->lat = v;
		w->cap_lat = cap;
	}
	w->lat[w->nlat++] = sec;
	return true;
}

typedef enum op_kind { OP_GET, OP_PUT, OP_DEL } op_kind;

/* One operation, prepared outside the clock. */
typedef struct op {
	op_kind kind;
	long k;          /* get, duplicate put: the preloaded object */
	bool dup;        /* put: content already stored */
	uint8_t key[32]; /* raw put: the new key */
	held ref;        /* delete: what goes */
	uint8_t buf[OBJ];
} op;

static void prepare(worker *w, op *o)
{
	double u = rng_unit(&w->rng);

	o->kind = u < 0.7 ? OP_GET : u < 0.9 ? OP_PUT : OP_DEL;
	/* Until the thread has made a reference, a delete would have
	 * nothing of its own to remove. */
	if (o->kind == OP_DEL && w->nrefs == 0)
		o->kind = OP_GET;
	if (o->kind == OP_GET) {
		o->k = zipf_draw(w->run->z, &w->rng);
	} else if (o->kind == OP_PUT) {
		uint64_t n = (w->run->tag << 40) |
			     ((uint64_t)w->index << 24) | w->next_new++;

		o->dup = rng_unit(&w->rng) < 0.5;
		if (o->dup) {
			o->k = (long)(tu_rand(&w->rng) %
				      (uint64_t)cfg.objects);
			make_content(o->buf, OBJ, RUN_BASE, (uint64_t)o->k);
		} else {
			make_content(o->buf, OBJ, RUN_NEW, n);
		}
		make_content(o->key, 32, RUN_RAWKEY, n);
	} else {
		size_t i = (size_t)(tu_rand(&w->rng) % w->nrefs);

		o->ref = w->refs[i];
		w->refs[i] = w->refs[--w->nrefs];
	}
}

static int store_op(worker *w, op *o)
{
	b3cas_store *s = w->run->store;
	b3cas_blob *b;
	b3cas_oid id;
	int64_t left;
	bool ok;
	int rc;

	switch (o->kind) {
	case OP_GET:
		if (b3cas_store_get_view(s, &ids[o->k], &b) != 0)
			return werr(w, "get_view: %s", b3cas_error_last());
		ok = content_ok(b3cas_blob_data(b), b3cas_blob_size(b), o->k);
		b3cas_blob_release(b);
		return ok ? 0 : werr(w, "get_view of %ld: wrong bytes", o->k);
	case OP_PUT:
		rc = b3cas_store_put(s, &id, o->buf, OBJ);
		if (rc != (o->dup ? 1 : 0))
			return werr(w, "put (%s) returned %d: %s",
				    o->dup ? "duplicate" : "new", rc,
				    b3cas_error_last());
		if (o->dup && !b3cas_oid_equal(&id, &ids[o->k]))
			return werr(w, "duplicate put: another id");
		return push_ref(w, &id, !o->dup) ? 0
						 : werr(w, "out of memory");
	case OP_DEL:
		left = b3cas_store_delete(s, &o->ref.id);
		if (left < 0 || (o->ref.is_new ? left != 0 : left < 1))
			return werr(w, "delete (%s) returned %lld: %s",
				    o->ref.is_new ? "new" : "duplicate",
				    (long long)left, b3cas_error_last());
		return 0;
	}
	return 0;
}

/*
 * Raw RocksDB has no deduplication: every put is a new key, and the
 * duplicates' values are the bytes of preloaded objects stored again.
 */
static int raw_op(worker *w, op *o)
{
	mix_run *r = w->run;
	rocksdb_pinnableslice_t *ps;
	const char *v;
	char *err = NULL;
	size_t len;
	bool ok;

	switch (o->kind) {
	case OP_GET:
		ps = rocksdb_get_pinned(r->db, r->ro,
					(const char *)ids[o->k].bytes, 32,
					&err);
		if (err) {
			werr(w, "rocksdb get: %s", err);
			free(err);
			return -1;
		}
		if (!ps)
			return werr(w, "rocksdb get of %ld: not found", o->k);
		v = rocksdb_pinnableslice_value(ps, &len);
		ok = content_ok(v, len, o->k);
		rocksdb_pinnableslice_destroy(ps);
		return ok ? 0 : werr(w, "rocksdb get of %ld: wrong bytes",
				     o->k);
	case OP_PUT:
		rocksdb_put(r->db, r->wo, (const char *)o->key, 32,
			    (const char *)o->buf, OBJ, &err);
		break;
	case OP_DEL:
		rocksdb_delete(r->db, r->wo, (const char *)o->ref.id.bytes, 32,
			       &err);
		break;
	}
	if (err) {
		werr(w, "rocksdb: %s", err);
		free(err);
		return -1;
	}
	if (o->kind == OP_PUT) {
		b3cas_oid key;

		memcpy(key.bytes, o->key, 32);
		if (!push_ref(w, &key, true))
			return werr(w, "out of memory");
	}
	return 0;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	mix_run *r = w->run;
	op *o = malloc(sizeof(*o));

	pthread_mutex_lock(&r->lock);
	while (!r->go)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (!o) {
		werr(w, "out of memory");
		return NULL;
	}
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		bool sample = w->ops % SAMPLE_EVERY == 0;
		double t0 = 0;
		int rc;

		prepare(w, o);
		if (sample)
			t0 = now();
		rc = r->raw ? raw_op(w, o) : store_op(w, o);
		if (sample && !push_lat(w, now() - t0))
			rc = werr(w, "out of memory");
		if (rc != 0)
			break;
		w->ops++;
		w->gets += o->kind == OP_GET;
		w->puts += o->kind == OP_PUT;
		w->dels += o->kind == OP_DEL;
	}
	free(o);
	return NULL;
}

static void mix_init(mix_run *r, bool raw, int nthreads, uint64_t tag)
{
	memset(r, 0, sizeof(*r));
	r->raw = raw;
	r->nthreads = nthreads;
	r->tag = tag;
	r->w = calloc((size_t)nthreads, sizeof(worker));
	if (!r->w)
		die("out of memory");
	for (int i = 0; i < nthreads; i++) {
		r->w[i].run = r;
		r->w[i].index = i;
		r->w[i].rng = tu_mix(tag * 1000003 + (uint64_t)i + (raw ? 7 : 0));
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

/* Start every thread, then let them all go at once for sec seconds:
 * starting 1024 threads is not the workload's time. */
static void mix_round(mix_run *r, double sec)
{
	pthread_attr_t attr;
	double t0;

	r->go = false;
	atomic_store(&r->stop, false);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, STACK_BYTES) != 0)
		die("pthread attributes");
	for (int i = 0; i < r->nthreads; i++)
		if (pthread_create(&r->w[i].thread, &attr, worker_main,
				   &r->w[i]) != 0)
			die("cannot start thread %d of %d", i, r->nthreads);
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&r->lock);
	r->go = true;
	t0 = now();
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	sleep_seconds(sec);
	atomic_store(&r->stop, true);
	r->wall += now() - t0;
	for (int i = 0; i < r->nthreads; i++)
		pthread_join(r->w[i].thread, NULL);
	for (int i = 0; i < r->nthreads; i++)
		if (r->w[i].err[0])
			die("%s thread %d: %s", r->raw ? "raw" : "b3cas", i,
			    r->w[i].err);
}

static mix_result mix_finish(mix_run *r)
{
	uint64_t ops = 0, gets = 0, puts = 0, dels = 0;
	size_t nlat = 0;
	double *all;
	mix_result res;

	memset(&res, 0, sizeof(res));
	for (int i = 0; i < r->nthreads; i++) {
		ops += r->w[i].ops;
		gets += r->w[i].gets;
		puts += r->w[i].puts;
		dels += r->w[i].dels;
		nlat += r->w[i].nlat;
	}
	all = alloc_doubles(nlat);
	nlat = 0;
	for (int i = 0; i < r->nthreads; i++) {
		memcpy(all + nlat, r->w[i].lat, r->w[i].nlat * sizeof(double));
		nlat += r->w[i].nlat;
		free(r->w[i].lat);
		free(r->w[i].refs);
	}
	res.threads = r->nthreads;
	res.ops_per_sec = (double)ops / r->wall;
	res.lat = summarize(all, nlat);
	if (ops) {
		res.get_share = (double)gets / (double)ops;
		res.put_share = (double)puts / (double)ops;
		res.del_share = (double)dels / (double)ops;
	}
	free(all);
	free(r->w);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	return res;
}

mix_result mixed_b3[MAX_COUNTS], mixed_raw[MAX_COUNTS];

/* The preloaded objects under their ids, in batches of BATCH. */
static void raw_preload(rocksdb_t *db, rocksdb_writeoptions_t *wo)
{
	uint8_t buf[OBJ];
	double t0 = now();

	for (long i = 0; i < cfg.objects; i += BATCH) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();
		char *err = NULL;

		for (long k = i; k < i + BATCH && k < cfg.objects; k++) {
			make_content(buf, OBJ, RUN_BASE, (uint64_t)k);
			rocksdb_writebatch_put(b, (const char *)ids[k].bytes,
					       32, (const char *)buf, OBJ);
		}
		rocksdb_write(db, wo, b, &err);
		rocksdb_writebatch_destroy(b);
		if (err)
			die("rocksdb write: %s", err);
	}
	printf("raw RocksDB preload: the same %ld objects under their ids "
	       "in %.2f s\n", cfg.objects, now() - t0);
}

static void print_mix_row(const mix_result *b, const mix_result *r)
{
	printf("%7d | %10.0f", b->threads, b->ops_per_sec);
	print_time(b->lat.p50);
	print_time(b->lat.p99);
	printf(" %6.2f%% | %10.0f", b->l1_hit * 100, r->ops_per_sec);
	print_time(r->lat.p50);
	print_time(r->lat.p99);
	printf(" | %6.2fx\n", b->ops_per_sec / r->ops_per_sec);
	fflush(stdout);
}

void bench_mixed(b3cas_store *s)
{
	char rdir[2200];
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	b3cas_cache_stats st;
	rocksdb_t *db;
	zipf z;

	printf("\n== 4. mixed workload: 70%% get, 20%% put, 10%% delete of "
	       "%u-byte objects, b3cas vs raw RocksDB ==\n", OBJ);
	snprintf(rdir, sizeof(rdir), "%s/raw", root);
	db = bench_open_raw(rdir);
	raw_preload(db, wo);
	zipf_init(&z, cfg.objects, MIX_ALPHA);
	/* L1 may have been emptied by part 2's miss calls: one pass fills
	 * it, as a store that has been serving for a while would be. */
	read_all_views(s, cfg.objects);
	cache_stats(s, &st);
	printf("L1 after one pass over the %ld objects: %llu objects, %llu "
	       "of %llu bytes\n",
	       cfg.objects, (unsigned long long)st.l1.entries,
	       (unsigned long long)st.l1.bytes,
	       (unsigned long long)st.l1.capacity);
	printf("gets: get_view + release (b3cas), rocksdb_get_pinned (raw), "
	       "of the %ld preloaded objects, Zipf alpha %.1f; puts: half "
	       "duplicates of a uniformly drawn preloaded object (raw: a new "
	       "key with those bytes), half new content; deletes: a random "
	       "reference the thread made. Durability batch (raw: WAL, no "
	       "sync), raw opened with the store's index options. %.1f s "
	       "per side and thread count, in rounds b3cas raw raw b3cas; "
	       "latency of every %dth operation; threads with %u KiB "
	       "stacks.\n",
	       cfg.objects, MIX_ALPHA, cfg.seconds, SAMPLE_EVERY,
	       STACK_BYTES / KIB);
	printf("%7s | %10s %10s %10s %7s | %10s %10s %10s | %s\n", "threads",
	       "b3cas op/s", "p50", "p99", "L1 hit", "raw op/s", "p50",
	       "p99", "b3cas/raw");
	for (int i = 0; i < cfg.nthreads; i++) {
		b3cas_cache_stats a, b;
		mix_run rb, rr;
		uint64_t h, m;

		mix_init(&rb, false, cfg.threads[i], (uint64_t)i + 1);
		rb.store = s;
		rb.z = &z;
		mix_init(&rr, true, cfg.threads[i], (uint64_t)i + 1);
		rr.db = db;
		rr.wo = wo;
		rr.ro = ro;
		rr.z = &z;
		cache_stats(s, &a);
		mix_round(&rb, cfg.seconds / 2);
		mix_round(&rr, cfg.seconds / 2);
		mix_round(&rr, cfg.seconds / 2);
		mix_round(&rb, cfg.seconds / 2);
		cache_stats(s, &b);
		mixed_b3[i] = mix_finish(&rb);
		mixed_raw[i] = mix_finish(&rr);
		h = b.l1.hits - a.l1.hits;
		m = b.l1.misses - a.l1.misses;
		mixed_b3[i].l1_hit = h + m ? (double)h / (double)(h + m) : 0;
		print_mix_row(&mixed_b3[i], &mixed_raw[i]);
		printf("        (b3cas mix: %.1f%% get, %.1f%% put, %.1f%% "
		       "delete; %llu samples; L1 %llu evictions, %llu "
		       "invalidations, holds %llu objects)\n",
		       mixed_b3[i].get_share * 100,
		       mixed_b3[i].put_share * 100,
		       mixed_b3[i].del_share * 100,
		       (unsigned long long)mixed_b3[i].lat.n,
		       (unsigned long long)(b.l1.evictions - a.l1.evictions),
		       (unsigned long long)(b.l1.invalidations -
					    a.l1.invalidations),
		       (unsigned long long)b.l1.entries);
	}
	zipf_free(&z);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_readoptions_destroy(ro);
	rocksdb_close(db);
	remove_tree(rdir);
}
