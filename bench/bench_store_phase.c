/*
 * bench_store_phase.c - bench_store's timed phases: many threads doing
 * one kind of operation (put new, put stored, get, raw RocksDB put and
 * get) with per-operation latency, two phases interleaved round by
 * round, and opening the two sides (a store, raw RocksDB with the
 * store's own options).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "b3cas/b3cas.h"
#include "index/index.h"
#include "bench_store_int.h"

typedef struct worker {
	phase *p;
	int index;
	pthread_t thread;
} worker;

static int one_op(phase *p, uint8_t *buf, long i)
{
	target *t = p->t;
	char *err = NULL;
	void *data;
	size_t len;
	int rc = 0;
	double t0;

	switch (p->kind) {
	case OP_PUT_NEW:
	case OP_PUT_DUP:
	case OP_RAW_PUT:
		make_content(buf, t->size, t->run, (uint64_t)i);
		break;
	default:
		break;
	}
	t0 = now();
	switch (p->kind) {
	case OP_PUT_NEW:
	case OP_PUT_DUP:
		rc = b3cas_store_put(t->store, &t->ids[i], buf, t->size);
		if (rc >= 0 && rc != (p->kind == OP_PUT_DUP))
			rc = -100;
		break;
	case OP_GET:
		rc = b3cas_store_get(t->store, &t->ids[t->order[i]], &data,
				     &len);
		if (rc == 0)
			b3cas_free(data);
		break;
	case OP_RAW_PUT:
		rocksdb_put(t->db, t->wo, (const char *)t->keys[i], 32,
			    (const char *)buf, t->size, &err);
		break;
	case OP_RAW_GET:
		data = rocksdb_get(t->db, t->ro,
				   (const char *)t->keys[t->order[i]], 32,
				   &len, &err);
		if (!data && !err)
			rc = -101;
		free(data);
		break;
	}
	p->lat[i] = now() - t0;
	if (err) {
		fprintf(stderr, "rocksdb: %s\n", err);
		free(err);
		rc = -102;
	}
	return rc;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	phase *p = w->p;
	uint8_t *buf = malloc(p->t->size + 1);

	for (long i = p->begin + w->index; buf && i < p->end;
	     i += p->nthreads) {
		int rc = one_op(p, buf, i);

		if (rc < 0) {
			if (rc > -100)
				fprintf(stderr, "b3cas: %s\n",
					b3cas_error_last());
			p->error = rc;
			break;
		}
	}
	free(buf);
	return NULL;
}

void phase_init(phase *p, target *t, op_kind kind, long ops,
		       int nthreads)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
	p->kind = kind;
	p->ops = ops;
	p->nthreads = nthreads;
	p->lat = malloc((size_t)ops * sizeof(double));
	if (!p->lat)
		die("out of memory");
}

/* Run operations [begin, end) of p on its threads. */
static void phase_run(phase *p, long begin, long end)
{
	worker w[MAX_THREADS];
	double t0;

	p->begin = begin;
	p->end = end;
	t0 = now();
	for (int i = 0; i < p->nthreads; i++) {
		w[i].p = p;
		w[i].index = i;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]))
			die("cannot start a thread");
	}
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(w[i].thread, NULL);
	p->wall += now() - t0;
	if (p->error)
		die("operation failed (%d)", p->error);
}

result phase_result(phase *p)
{
	result r;

	qsort(p->lat, (size_t)p->ops, sizeof(double), cmp_double);
	r.p50 = p->lat[p->ops / 2];
	r.p99 = p->lat[(size_t)((double)p->ops * 0.99)];
	r.ops_per_sec = (double)p->ops / p->wall;
	free(p->lat);
	p->lat = NULL;
	return r;
}

result run_phase(target *t, op_kind kind, long ops, int nthreads)
{
	phase p;

	phase_init(&p, t, kind, ops, nthreads);
	phase_run(&p, 0, ops);
	return phase_result(&p);
}

/*
 * Run phases a and b (the store and raw RocksDB) in alternating rounds,
 * a b b a a b ..., so both see the same machine: the same memtable
 * flushes and compactions behind them, the same dirty pages being written
 * back, the same noise from other tenants.
 */
#define ROUNDS 10

void run_interleaved(phase *a, phase *b)
{
	for (long r = 0; r < ROUNDS; r++) {
		long a0 = a->ops * r / ROUNDS, a1 = a->ops * (r + 1) / ROUNDS;
		long b0 = b->ops * r / ROUNDS, b1 = b->ops * (r + 1) / ROUNDS;

		if (r % 2 == 0) {
			phase_run(a, a0, a1);
			phase_run(b, b0, b1);
		} else {
			phase_run(b, b0, b1);
			phase_run(a, a0, a1);
		}
	}
}

/* ---- opening the two sides ---- */

b3cas_store *open_store(const char *dir, int mode,
			       b3cas_hash_algo hash)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	o.create = true;
	o.durability = (b3cas_durability)mode;
	o.hash = hash;
	if (b3cas_store_open(&s, dir, &o) != 0)
		die("cannot open a store in %s: %s", dir, b3cas_error_last());
	return s;
}

void shuffle(uint32_t *a, long n, uint64_t seed)
{
	for (long i = 0; i < n; i++)
		a[i] = (uint32_t)i;
	for (long i = n - 1; i > 0; i--) {
		long j = (long)(tu_mix(seed + (uint64_t)i) % (uint64_t)(i + 1));
		uint32_t x = a[i];

		a[i] = a[j];
		a[j] = x;
	}
}

/* Objects per configuration: about 100 MB, within limits. */
long object_count(size_t size, int mode)
{
	long n = (long)((100 * MIB) / size);

	if (mode == B3CAS_DURABILITY_FULL)
		n = n > 3000 ? 3000 : n;
	if (n > 100000)
		n = 100000;
	if (n < 100)
		n = 100;
	n = (long)((double)n * cfg.scale);
	return n < 8 ? 8 : n;
}
