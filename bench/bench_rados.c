/*
 * bench_rados.c - the RADOS object tier (src/tier/rados.h) beside raw
 * librados calls on the same cluster, pool and sizes, in one run:
 *
 *   1. puts of new objects and reads of 1 KiB, 64 KiB and 1 MiB, one at a
 *      time (latency bound, as a single client sees it): raw
 *      rados_write_full / rados_read against the tier's put and read, and
 *      the tier plus the BLAKE3 of the bytes (what the store adds: it
 *      hashes what it puts and checks what it reads);
 *   2. which of 10,000 ids exist (half do): 10,000 rados_stat calls one
 *      after another against one b3cas__rados_exists_batch;
 *   3. the store (a RADOS store of a folder of its own, no L1): puts and
 *      gets of 1 KiB, 64 KiB and 1 MiB against raw librados, gets both
 *      as new buffers (b3cas_store_get) and into the caller's buffer
 *      (b3cas_store_read_at of the whole object, as the raw read reads
 *      into one); 4 KiB gets from L1 against gets from the cluster;
 *   4. 1 KiB puts: one at a time against b3cas__rados_put_batch; 4 KiB
 *      store puts one at a time against one b3cas_store_put_batch, and
 *      64 KiB store gets against one b3cas_store_get_batch;
 *   5. one, two and four instances at once (processes of their own, each
 *      store its own host): their aggregate put and get rates of 64 KiB
 *      objects, raw librados against b3cas stores.
 *
 * Raw and tier rounds alternate and each figure is the median of its
 * rounds, so that a slow moment of a shared machine falls on both.
 * Everything is written into a namespace of its own and removed at the
 * end.
 *
 *   bench_rados --conf FILE [--pool NAME] [--rounds N] [--quick]
 *
 * Targets (issue 19), shown as PASS or MISS (INFO with --quick): a tier
 * put or read of 1 MiB within 1.3x raw librados; the batch exists at
 * least 20x faster than sequential stats.
 */
#define BENCH_NAME "bench_rados"
#include <errno.h>
#include <rados/librados.h>

#include <unistd.h>

#include "b3cas/hash.h"
#include "b3cas/store.h"
#include "bench_util.h"
#include "tier/rados.h"

static const char *conf_path, *pool_name = "b3cas";
static int rounds = 5;
static bool quick;
static char ns[64];
static rados_t cluster;
static rados_ioctx_t io;
static b3cas_rados *tier;

static void hexname(char *out, const uint8_t id[32])
{
	static const char d[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = d[id[i] >> 4];
		out[2 * i + 1] = d[id[i] & 15];
	}
	out[64] = '\0';
}

typedef struct {
	size_t size;
	int count;
	uint8_t (*ids)[32];
	uint8_t **bytes;
} object_set;

static void make_set(object_set *s, size_t size, int count, uint64_t run)
{
	s->size = size;
	s->count = count;
	s->ids = malloc((size_t)count * sizeof(*s->ids));
	s->bytes = malloc((size_t)count * sizeof(*s->bytes));
	if (!s->ids || !s->bytes)
		die("out of memory");
	for (int i = 0; i < count; i++) {
		s->bytes[i] = malloc(size);
		if (!s->bytes[i])
			die("out of memory");
		make_content(s->bytes[i], size, run, (uint64_t)i);
		b3cas_hash(s->ids[i], s->bytes[i], size);
	}
}

static void free_set(object_set *s)
{
	for (int i = 0; i < s->count; i++)
		free(s->bytes[i]);
	free(s->bytes);
	free(s->ids);
}

/* The raw objects get a prefix, so that both sets can live side by side
 * and the tier's listing does not count them as its own. */
static void raw_name(char *out, const uint8_t id[32])
{
	out[0] = 'r';
	out[1] = '.';
	hexname(out + 2, id);
}

static double raw_puts(const object_set *s)
{
	double t0 = now();

	for (int i = 0; i < s->count; i++) {
		char name[70];
		int r;

		raw_name(name, s->ids[i]);
		r = rados_write_full(io, name, (const char *)s->bytes[i],
				     s->size);
		if (r < 0)
			die("rados_write_full: %s", strerror(-r));
	}
	return now() - t0;
}

static double raw_reads(const object_set *s, uint8_t *buf)
{
	double t0 = now();

	for (int i = 0; i < s->count; i++) {
		char name[70];
		int r;

		raw_name(name, s->ids[i]);
		r = rados_read(io, name, (char *)buf, s->size, 0);
		if (r < 0 || (size_t)r != s->size)
			die("rados_read: %s", r < 0 ? strerror(-r) : "short");
	}
	return now() - t0;
}

static void raw_remove(const object_set *s)
{
	for (int i = 0; i < s->count; i++) {
		char name[70];

		raw_name(name, s->ids[i]);
		(void)rados_remove(io, name);
	}
}

static double tier_puts(const object_set *s, bool hash)
{
	double t0 = now();

	for (int i = 0; i < s->count; i++) {
		uint8_t id[32];
		bool created;

		if (hash) {
			b3cas_hash(id, s->bytes[i], s->size);
			if (memcmp(id, s->ids[i], 32) != 0)
				die("hash mismatch");
		}
		if (b3cas__rados_put(tier, s->ids[i], s->bytes[i], s->size,
				     &created) != 0)
			die("put: %s", b3cas_error_last());
		if (!created)
			bench_fail("put of a new object found it stored");
	}
	return now() - t0;
}

static double tier_reads(const object_set *s, bool hash)
{
	double t0 = now();

	for (int i = 0; i < s->count; i++) {
		void *p;
		size_t len;

		if (b3cas__rados_read(tier, s->ids[i], s->size, &p, &len) != 0)
			die("read: %s", b3cas_error_last());
		if (hash) {
			uint8_t id[32];

			b3cas_hash(id, p, len);
			if (memcmp(id, s->ids[i], 32) != 0)
				bench_fail("read back bytes of another id");
		}
		free(p);
	}
	return now() - t0;
}

static void tier_remove(const object_set *s)
{
	for (int i = 0; i < s->count; i++) {
		if (b3cas__rados_release(tier, s->ids[i], NULL) != 0 ||
		    b3cas__rados_collect(tier, s->ids[i]) != 1)
			bench_fail("cannot remove an object: %s",
				   b3cas_error_last());
	}
}

/* One size: rounds of raw, tier and tier+hash, alternating. */
static void sizes_row(size_t size, int count)
{
	double *rp = calloc((size_t)rounds, sizeof(double)),
	       *tp = calloc((size_t)rounds, sizeof(double)),
	       *hp = calloc((size_t)rounds, sizeof(double)),
	       *rr = calloc((size_t)rounds, sizeof(double)),
	       *tr = calloc((size_t)rounds, sizeof(double)),
	       *hr = calloc((size_t)rounds, sizeof(double));
	uint8_t *buf = malloc(size);
	double mb = (double)size * count / 1e6;

	for (int r = 0; r < rounds; r++) {
		object_set a, b, c;

		make_set(&a, size, count, 3 * (uint64_t)r + size);
		make_set(&b, size, count, 3 * (uint64_t)r + 1 + size);
		make_set(&c, size, count, 3 * (uint64_t)r + 2 + size);
		/* which goes first alternates between rounds */
		if (r % 2 == 0) {
			rp[r] = raw_puts(&a);
			tp[r] = tier_puts(&b, false);
			hp[r] = tier_puts(&c, true);
			rr[r] = raw_reads(&a, buf);
			tr[r] = tier_reads(&b, false);
			hr[r] = tier_reads(&c, true);
		} else {
			hp[r] = tier_puts(&c, true);
			tp[r] = tier_puts(&b, false);
			rp[r] = raw_puts(&a);
			hr[r] = tier_reads(&c, true);
			tr[r] = tier_reads(&b, false);
			rr[r] = raw_reads(&a, buf);
		}
		raw_remove(&a);
		tier_remove(&b);
		tier_remove(&c);
		free_set(&a);
		free_set(&b);
		free_set(&c);
	}
	{
		double mrp = median(rp, rounds), mtp = median(tp, rounds),
		       mhp = median(hp, rounds), mrr = median(rr, rounds),
		       mtr = median(tr, rounds), mhr = median(hr, rounds);

		printf("| %7zu | put | %8.1f | %8.1f | %8.1f | %5.2fx | %5.2fx "
		       "| %7.1f |\n",
		       size, mrp / count * 1e6, mtp / count * 1e6,
		       mhp / count * 1e6, mtp / mrp, mhp / mrp, mb / mhp);
		printf("| %7zu | get | %8.1f | %8.1f | %8.1f | %5.2fx | %5.2fx "
		       "| %7.1f |\n",
		       size, mrr / count * 1e6, mtr / count * 1e6,
		       mhr / count * 1e6, mtr / mrr, mhr / mrr, mb / mhr);
		if (size == (1u << 20)) {
			bench_target(quick, mhp / mrp <= 1.3,
				     "1 MiB put with BLAKE3: %.2fx raw librados "
				     "(target <= 1.3x)", mhp / mrp);
			bench_target(quick, mhr / mrr <= 1.3,
				     "1 MiB get with BLAKE3: %.2fx raw librados "
				     "(target <= 1.3x)", mhr / mrr);
		}
	}
	free(rp);
	free(tp);
	free(hp);
	free(rr);
	free(tr);
	free(hr);
	free(buf);
}

/* A RADOS store in a new folder (l1: its L1 capacity). */
static b3cas_store *store_open(char *root, size_t n, uint64_t l1)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *st;

	snprintf(root, n, "/tmp/bench-rados-XXXXXX");
	if (!mkdtemp(root))
		die("mkdtemp failed");
	o.create = true;
	o.rados_pool = pool_name;
	o.rados_conf = conf_path;
	o.rados_namespace = ns;
	o.l1_bytes = l1;
	/* no L2 either: a read from the cluster would write its copy there,
	 * a local file write that is L2's cost, not the cluster's */
	o.l2_bytes = 0;
	if (b3cas_store_open(&st, root, &o) != 0)
		die("store: %s", b3cas_error_last());
	return st;
}

/* b3cas_store_get of every object of set, each checked for its size. */
static void store_get_all(b3cas_store *st, const object_set *set)
{
	for (int i = 0; i < set->count; i++) {
		b3cas_oid id;
		void *p;
		size_t len;

		memcpy(id.bytes, set->ids[i], 32);
		if (b3cas_store_get(st, &id, &p, &len) != 0 ||
		    len != set->size)
			die("store get: %s", b3cas_error_last());
		free(p);
	}
}

/* b3cas_store_read_at of the whole of every object of set into buf (the
 * caller's buffer, as raw_reads reads into one), each checked for its
 * size: the same bytes verified, no buffer made. */
static void store_read_all_into(b3cas_store *st, const object_set *set,
				uint8_t *buf)
{
	for (int i = 0; i < set->count; i++) {
		b3cas_oid id;
		size_t got = 0;

		memcpy(id.bytes, set->ids[i], 32);
		if (b3cas_store_read_at(st, &id, 0, buf, set->size, &got) != 0 ||
		    got != set->size)
			die("store read_at: %s", b3cas_error_last());
	}
}

/* Delete every object of set from st (one reference each) and collect
 * them with no grace: the pool gets them back. */
static void store_drop_all(b3cas_store *st, const object_set *set)
{
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report rep;

	for (int i = 0; i < set->count; i++) {
		b3cas_oid id;

		memcpy(id.bytes, set->ids[i], 32);
		if (b3cas_store_delete(st, &id) < 0)
			bench_fail("delete: %s", b3cas_error_last());
	}
	g.normal_priority = true;
	if (b3cas_gc(st, &g, &rep) != 0)
		die("gc: %s", b3cas_error_last());
}

/*
 * The store's put and get (b3cas_store_put / _get on a RADOS store: hash,
 * index, pool; every byte read checked) beside raw rados_write_full /
 * rados_read of the same sizes; then gets served by L1 against gets from
 * the cluster.
 */
static void store_rows(void)
{
	static const size_t sizes[] = {1024, 64u << 10, 1u << 20};
	char root[64];
	b3cas_store *st = store_open(root, sizeof(root), 0);
	uint8_t *buf = malloc(1u << 20);

	printf("\n| bytes | op | raw librados us | b3cas store us | store/raw |"
	       "\n|---|---|---|---|---|\n");
	for (size_t z = 0; z < 3; z++) {
		size_t size = sizes[z];
		int count = quick ? 5 : size >= (1u << 20) ? 60 : 400;
		double *rp = calloc((size_t)rounds, sizeof(double)),
		       *sp = calloc((size_t)rounds, sizeof(double)),
		       *rr = calloc((size_t)rounds, sizeof(double)),
		       *sr = calloc((size_t)rounds, sizeof(double)),
		       *si = calloc((size_t)rounds, sizeof(double));

		for (int r = 0; r < rounds; r++) {
			object_set a, b;
			double t0;

			make_set(&a, size, count, 5000 + 2 * (uint64_t)r + size);
			make_set(&b, size, count, 5001 + 2 * (uint64_t)r + size);
			rp[r] = raw_puts(&a);
			t0 = now();
			for (int i = 0; i < count; i++)
				if (b3cas_store_put(st, NULL, b.bytes[i],
						    size) != 0)
					die("store put: %s",
					    b3cas_error_last());
			sp[r] = now() - t0;
			rr[r] = raw_reads(&a, buf);
			t0 = now();
			store_get_all(st, &b);
			sr[r] = now() - t0;
			t0 = now();
			store_read_all_into(st, &b, buf);
			si[r] = now() - t0;
			raw_remove(&a);
			store_drop_all(st, &b);
			free_set(&a);
			free_set(&b);
		}
		{
			double mrp = median(rp, rounds), msp = median(sp, rounds),
			       mrr = median(rr, rounds), msr = median(sr, rounds),
			       msi = median(si, rounds);

			printf("| %7zu | put | %8.1f | %8.1f | %5.2fx |\n", size,
			       mrp / count * 1e6, msp / count * 1e6, msp / mrp);
			printf("| %7zu | get | %8.1f | %8.1f | %5.2fx |\n", size,
			       mrr / count * 1e6, msr / count * 1e6, msr / mrr);
			printf("| %7zu | get into a buffer (read_at) | %8.1f | "
			       "%8.1f | %5.2fx |\n", size, mrr / count * 1e6,
			       msi / count * 1e6, msi / mrr);
			if (size == (1u << 20)) {
				bench_target(quick, msp / mrp <= 1.3,
					     "store put of 1 MiB: %.2fx raw "
					     "librados (target <= 1.3x)",
					     msp / mrp);
				bench_target(quick, msr / mrr <= 1.3,
					     "store get of 1 MiB: %.2fx raw "
					     "librados (target <= 1.3x)",
					     msr / mrr);
			}
		}
		free(rp);
		free(sp);
		free(rr);
		free(sr);
		free(si);
	}
	b3cas_store_close(st);
	remove_tree(root);

	/* L1 hits against cluster reads, 4 KiB objects */
	{
		int n = quick ? 50 : 500;
		b3cas_store *cold = store_open(root, sizeof(root), 0);
		char root2[64];
		b3cas_store *warm;
		object_set s4;
		double t0, miss, hit;

		make_set(&s4, 4096, n, 9000);
		for (int i = 0; i < n; i++)
			if (b3cas_store_put(cold, NULL, s4.bytes[i], 4096) < 0)
				die("put: %s", b3cas_error_last());
		warm = store_open(root2, sizeof(root2), 64u << 20);
		/* cold: a store with no L1, every get from the cluster */
		t0 = now();
		for (int r = 0; r < rounds; r++)
			store_get_all(cold, &s4);
		miss = (now() - t0) / (rounds * n);
		/* warm: read once (through), then from L1 */
		store_get_all(warm, &s4);
		t0 = now();
		for (int r = 0; r < rounds * 20; r++)
			store_get_all(warm, &s4);
		hit = (now() - t0) / (rounds * 20 * n);
		printf("\n| 4 KiB get | us |\n|---|---|\n"
		       "| from the cluster (no L1) | %.1f |\n"
		       "| L1 hit | %.2f |\n", miss * 1e6, hit * 1e6);
		bench_target(quick, miss / hit >= 100,
			     "L1 hits %.0fx faster than cluster reads "
			     "(target >= 100x)", miss / hit);
		store_drop_all(cold, &s4);
		b3cas_store_close(cold);
		b3cas_store_close(warm);
		remove_tree(root);
		remove_tree(root2);
		free_set(&s4);
	}
	free(buf);
}

static void exists_row(int n)
{
	object_set s;
	bool *found = calloc((size_t)n, 1);
	double *seq = calloc((size_t)rounds, sizeof(double)),
	       *bat = calloc((size_t)rounds, sizeof(double)),
	       *sbat = calloc((size_t)rounds, sizeof(double));
	int64_t want = 0;
	char root[64];
	/* a store of its own (another host): none of the ids in its index,
	 * every question goes to the pool */
	b3cas_store *st = store_open(root, sizeof(root), 0);
	b3cas_oid *oids = malloc((size_t)n * sizeof(*oids));

	make_set(&s, 64, n, 77);
	for (int i = 0; i < n; i += 2, want++)
		if (b3cas__rados_put(tier, s.ids[i], s.bytes[i], s.size,
				     NULL) != 0)
			die("put: %s", b3cas_error_last());
	for (int r = 0; r < rounds; r++) {
		double t0 = now();
		int64_t got = 0;

		for (int i = 0; i < n; i++) {
			uint64_t size;
			time_t mtime;
			char name[65];
			int rc;

			hexname(name, s.ids[i]);
			rc = rados_stat(io, name, &size, &mtime);
			if (rc < 0 && rc != -ENOENT)
				die("rados_stat: %s", strerror(-rc));
			got += rc == 0;
		}
		seq[r] = now() - t0;
		if (got != want)
			bench_fail("stat found %lld of %lld", (long long)got,
				   (long long)want);
		t0 = now();
		got = b3cas__rados_exists_batch(tier,
						(const uint8_t(*)[32])s.ids,
						(size_t)n, found);
		bat[r] = now() - t0;
		if (got != want)
			bench_fail("exists_batch found %lld of %lld",
				   (long long)got, (long long)want);
		for (int i = 0; i < n; i++)
			memcpy(oids[i].bytes, s.ids[i], 32);
		t0 = now();
		if (b3cas_store_exists_batch(st, oids, (size_t)n, found) != 0)
			die("store exists_batch: %s", b3cas_error_last());
		sbat[r] = now() - t0;
		got = 0;
		for (int i = 0; i < n; i++)
			got += found[i];
		if (got != want)
			bench_fail("store exists_batch found %lld of %lld",
				   (long long)got, (long long)want);
	}
	{
		double ms = median(seq, rounds), mb = median(bat, rounds),
		       msb = median(sbat, rounds);

		printf("\n| which of %d ids exist (half do) | s | ids/s |\n"
		       "|---|---|---|\n"
		       "| %d sequential rados_stat | %.3f | %.0f |\n"
		       "| one b3cas__rados_exists_batch (%d stats in flight) | "
		       "%.3f | %.0f |\n"
		       "| one b3cas_store_exists_batch (a store holding none: "
		       "%d count reads in flight) | %.3f | %.0f |\n",
		       n, n, ms, n / ms, B3CAS_RADOS_WINDOW, mb, n / mb,
		       B3CAS_RADOS_WINDOW, msb, n / msb);
		bench_target(quick, ms / mb >= 20,
			     "tier batch exists of %d ids: %.1fx faster than "
			     "sequential stats (target >= 20x)", n, ms / mb);
		bench_target(quick, ms / msb >= 20,
			     "store batch exists of %d ids: %.1fx faster than "
			     "sequential stats (target >= 20x)", n, ms / msb);
	}
	for (int i = 0; i < n; i += 2)
		if (b3cas__rados_release(tier, s.ids[i], NULL) != 0 ||
		    b3cas__rados_collect(tier, s.ids[i]) != 1)
			bench_fail("cannot remove: %s", b3cas_error_last());
	free_set(&s);
	free(found);
	free(seq);
	free(bat);
	free(sbat);
	free(oids);
	b3cas_store_close(st);
	remove_tree(root);
}

/* n objects of 64 KiB that a store holds: read one at a time
 * (b3cas_store_get) against one b3cas_store_get_batch. */
/* n new objects of 4 KiB put into a store one at a time
 * (b3cas_store_put) against one b3cas_store_put_batch of n others. */
static void store_batch_put_row(int n)
{
	char root[64];
	b3cas_store *st = store_open(root, sizeof(root), 0);
	double *seq = calloc((size_t)rounds, sizeof(double)),
	       *bat = calloc((size_t)rounds, sizeof(double));
	size_t *lens = malloc((size_t)n * sizeof(*lens));

	for (int r = 0; r < rounds; r++) {
		object_set a, b;
		double t0;

		make_set(&a, 4096, n, 6000 + 2 * (uint64_t)r);
		make_set(&b, 4096, n, 6001 + 2 * (uint64_t)r);
		for (int i = 0; i < n; i++)
			lens[i] = 4096;
		t0 = now();
		for (int i = 0; i < n; i++)
			if (b3cas_store_put(st, NULL, a.bytes[i], 4096) != 0)
				die("store put: %s", b3cas_error_last());
		seq[r] = now() - t0;
		t0 = now();
		if (b3cas_store_put_batch(st, NULL, NULL,
					  (const void *const *)b.bytes, lens,
					  (size_t)n) != 0)
			die("store put_batch: %s", b3cas_error_last());
		bat[r] = now() - t0;
		store_drop_all(st, &a);
		store_drop_all(st, &b);
		free_set(&a);
		free_set(&b);
	}
	{
		double ms = median(seq, rounds), mb = median(bat, rounds);

		printf("\n| %d store puts of 4 KiB | s | puts/s |\n"
		       "|---|---|---|\n"
		       "| one at a time (b3cas_store_put) | %.3f | %.0f |\n"
		       "| one b3cas_store_put_batch | %.3f | %.0f |\n",
		       n, ms, n / ms, mb, n / mb);
	}
	b3cas_store_close(st);
	remove_tree(root);
	free(seq);
	free(bat);
	free(lens);
}

static void store_batch_get_row(int n)
{
	char root[64];
	b3cas_store *st = store_open(root, sizeof(root), 0);
	object_set set;
	b3cas_oid *ids = malloc((size_t)n * sizeof(*ids));
	void **bufs = malloc((size_t)n * sizeof(*bufs));
	size_t *lens = malloc((size_t)n * sizeof(*lens));
	double *seq = calloc((size_t)rounds, sizeof(double)),
	       *bat = calloc((size_t)rounds, sizeof(double));

	make_set(&set, 64u << 10, n, 4242);
	for (int i = 0; i < n; i++) {
		if (b3cas_store_put(st, &ids[i], set.bytes[i], set.size) < 0)
			die("store put: %s", b3cas_error_last());
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now();

		store_get_all(st, &set);
		seq[r] = now() - t0;
		t0 = now();
		if (b3cas_store_get_batch(st, ids, (size_t)n, bufs, lens,
					  NULL) != 0)
			die("store get_batch: %s", b3cas_error_last());
		bat[r] = now() - t0;
		for (int i = 0; i < n; i++) {
			if (lens[i] != set.size ||
			    memcmp(bufs[i], set.bytes[i], set.size) != 0)
				bench_fail("get_batch item %d differs", i);
			b3cas_free(bufs[i]);
		}
	}
	{
		double ms = median(seq, rounds), mb = median(bat, rounds);

		printf("\n| %d store gets of 64 KiB | s | MB/s |\n"
		       "|---|---|---|\n"
		       "| one at a time (b3cas_store_get) | %.3f | %.0f |\n"
		       "| one b3cas_store_get_batch | %.3f | %.0f |\n",
		       n, ms, n * 65536.0 / ms / 1e6, mb,
		       n * 65536.0 / mb / 1e6);
	}
	store_drop_all(st, &set);
	b3cas_store_close(st);
	remove_tree(root);
	free_set(&set);
	free(ids);
	free(bufs);
	free(lens);
	free(seq);
	free(bat);
}

/* ---- concurrent instances --------------------------------------------- */

/* Wall-clock nanoseconds (the instances' common start). */
static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * One instance (a process of its own, run as bench_rados --instance MODE
 * SIZE COUNT SEED START_NS with --conf, --pool and --ns): connected, it
 * waits for START_NS, then puts COUNT new objects of SIZE bytes and reads
 * them back, through raw librados (MODE raw) or a b3cas store of a folder
 * of its own on the namespace (MODE store: its own host), and prints the
 * seconds of each, then cleans up.
 */
static int instance_main(const char *mode, size_t size, int count,
			 uint64_t seed, uint64_t start_ns)
{
	bool store = strcmp(mode, "store") == 0;
	char root[64];
	b3cas_store *st = NULL;
	object_set set;
	uint8_t *buf = malloc(size);
	double t0, put_s, get_s;
	uint64_t t;

	make_set(&set, size, count, seed);
	if (store)
		st = store_open(root, sizeof(root), 0);
	while ((t = wall_ns()) < start_ns) {
		struct timespec d = {0, (long)((start_ns - t) % 1000000000ull)};

		d.tv_sec = (time_t)((start_ns - t) / 1000000000ull);
		nanosleep(&d, NULL);
	}
	t0 = now();
	if (store) {
		for (int i = 0; i < count; i++)
			if (b3cas_store_put(st, NULL, set.bytes[i], size) != 0)
				die("store put: %s", b3cas_error_last());
	} else {
		(void)raw_puts(&set);
	}
	put_s = now() - t0;
	t0 = now();
	if (store)
		store_read_all_into(st, &set, buf);
	else
		(void)raw_reads(&set, buf);
	get_s = now() - t0;
	printf("%.6f %.6f\n", put_s, get_s);
	fflush(stdout);
	if (store) {
		store_drop_all(st, &set);
		b3cas_store_close(st);
		remove_tree(root);
	} else {
		raw_remove(&set);
	}
	free_set(&set);
	free(buf);
	return 0;
}

/* n instances of mode at once: their aggregate put and get rates in MB/s
 * (all the bytes over the slowest instance's time). */
static void run_instances(const char *self, const char *mode, int n,
			  size_t size, int count, double *put_mbs,
			  double *get_mbs)
{
	FILE *out[4];
	double put_max = 0, get_max = 0;
	/* after every instance has connected */
	uint64_t start = wall_ns() + (quick ? 800000000ull : 1500000000ull);

	for (int i = 0; i < n; i++) {
		char cmd[8192];

		snprintf(cmd, sizeof(cmd),
			 "'%s' --instance %s %zu %d %llu %llu --conf '%s' "
			 "--pool '%s' --ns '%s'", self, mode, size, count,
			 (unsigned long long)(7000 + 100 * (uint64_t)n + i),
			 (unsigned long long)start, conf_path, pool_name, ns);
		if (!(out[i] = popen(cmd, "r")))
			die("cannot start an instance");
	}
	for (int i = 0; i < n; i++) {
		double p, g;

		if (fscanf(out[i], "%lf %lf", &p, &g) != 2)
			die("an instance (%s) failed", mode);
		if (pclose(out[i]) != 0)
			die("an instance (%s) failed", mode);
		put_max = p > put_max ? p : put_max;
		get_max = g > get_max ? g : get_max;
	}
	*put_mbs = (double)size * count * n / put_max / 1e6;
	*get_mbs = (double)size * count * n / get_max / 1e6;
}

static void instances_rows(const char *self)
{
	size_t size = 64u << 10;
	int count = quick ? 20 : 300;

	printf("\n| instances (processes) at once, %d puts then reads of 64 "
	       "KiB each | raw put MB/s | store put MB/s | put store/raw | "
	       "raw get MB/s | store get MB/s | get store/raw |\n"
	       "|---|---|---|---|---|---|---|\n", count);
	/* (--quick, the CI smoke test: two instances only) */
	for (int n = quick ? 2 : 1; n <= (quick ? 2 : 4); n *= 2) {
		double rp[8], sp[8], rg[8], sg[8];

		for (int r = 0; r < rounds && r < 8; r++) {
			run_instances(self, "raw", n, size, count, &rp[r],
				      &rg[r]);
			run_instances(self, "store", n, size, count, &sp[r],
				      &sg[r]);
		}
		{
			int k = rounds < 8 ? rounds : 8;
			double mrp = median(rp, k), msp = median(sp, k),
			       mrg = median(rg, k), msg = median(sg, k);

			printf("| %d | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f "
			       "|\n", n, mrp, msp, msp / mrp, mrg, msg,
			       msg / mrg);
		}
	}
}

static void batch_put_row(int n)
{
	double *seq = calloc((size_t)rounds, sizeof(double)),
	       *bat = calloc((size_t)rounds, sizeof(double));
	size_t *lens = malloc((size_t)n * sizeof(size_t));

	for (int r = 0; r < rounds; r++) {
		object_set a, b;
		double t0;

		make_set(&a, 1024, n, 1000 + 2 * (uint64_t)r);
		make_set(&b, 1024, n, 1001 + 2 * (uint64_t)r);
		seq[r] = tier_puts(&a, false);
		for (int i = 0; i < n; i++)
			lens[i] = 1024;
		t0 = now();
		if (b3cas__rados_put_batch(tier, (const uint8_t(*)[32])b.ids,
					   (const void *const *)b.bytes, lens,
					   (size_t)n, NULL) != 0)
			die("put_batch: %s", b3cas_error_last());
		bat[r] = now() - t0;
		tier_remove(&a);
		tier_remove(&b);
		free_set(&a);
		free_set(&b);
	}
	{
		double ms = median(seq, rounds), mb = median(bat, rounds);

		printf("\n| %d puts of 1 KiB | s | puts/s |\n|---|---|---|\n"
		       "| one at a time | %.3f | %.0f |\n"
		       "| b3cas__rados_put_batch | %.3f | %.0f |\n",
		       n, ms, n / ms, mb, n / mb);
	}
	free(seq);
	free(bat);
	free(lens);
}

int main(int argc, char **argv)
{
	b3cas_rados_conf c = {0};
	const char *instance = NULL, *ns_arg = NULL;
	size_t inst_size = 0;
	int inst_count = 0;
	uint64_t st, inst_seed = 0, inst_start = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--instance") == 0 && i + 5 < argc) {
			instance = argv[++i];
			inst_size = strtoull(argv[++i], NULL, 10);
			inst_count = atoi(argv[++i]);
			inst_seed = strtoull(argv[++i], NULL, 10);
			inst_start = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--ns") == 0 && i + 1 < argc)
			ns_arg = argv[++i];
		else if (strcmp(argv[i], "--conf") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
			pool_name = argv[++i];
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else
			die("usage: bench_rados --conf FILE [--pool NAME] "
			    "[--rounds N] [--quick]");
	}
	if (!conf_path)
		die("--conf FILE is required (scripts/ceph-dev.sh start DIR "
		    "prints one)");
	if (quick)
		rounds = 1;
	if (rounds < 1)
		die("--rounds: at least 1");
	st = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	snprintf(ns, sizeof(ns), "bench-%016llx",
		 (unsigned long long)tu_rand(&st));
	if (ns_arg)
		snprintf(ns, sizeof(ns), "%s", ns_arg);

	if ((r = rados_create(&cluster, "admin")) < 0 ||
	    (r = rados_conf_read_file(cluster, conf_path)) < 0 ||
	    (r = rados_conf_set(cluster, "rados_osd_op_timeout", "30")) < 0 ||
	    (r = rados_connect(cluster)) < 0 ||
	    (r = rados_ioctx_create(cluster, pool_name, &io)) < 0)
		die("raw librados: %s", strerror(-r));
	rados_ioctx_set_namespace(io, ns);
	c.conf = conf_path;
	c.pool = pool_name;
	c.ns = ns;
	c.host[0] = 1;
	if (b3cas__rados_open(&tier, &c) != 0)
		die("%s", b3cas_error_last());
	if (instance)
		return instance_main(instance, inst_size, inst_count,
				     inst_seed, inst_start);

	printf("bench_rados: pool %s, namespace %s, %d round(s); times are "
	       "medians\n\n", pool_name, ns, rounds);
	printf("| bytes | op | raw librados us | tier us | tier+BLAKE3 us | "
	       "tier/raw | tier+BLAKE3/raw | tier+BLAKE3 MB/s |\n"
	       "|---|---|---|---|---|---|---|---|\n");
	sizes_row(1024, quick ? 50 : 1000);
	sizes_row(64u << 10, quick ? 20 : 300);
	sizes_row(1u << 20, quick ? 5 : 60);
	store_rows();
	exists_row(quick ? 1000 : 10000);
	batch_put_row(quick ? 500 : 5000);
	store_batch_put_row(quick ? 50 : 1000);
	store_batch_get_row(quick ? 50 : 500);
	{
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("cannot find this program (/proc/self/exe)");
		self[n] = '\0';
		instances_rows(self);
	}

	b3cas__rados_close(tier);
	rados_ioctx_destroy(io);
	rados_shutdown(cluster);
	return bench_failures ? 1 : 0;
}
