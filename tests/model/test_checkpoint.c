/*
 * test_checkpoint.c - checkpoints (b3cas/checkpoint.h):
 * - a record round-trips (blobs and labels sorted, parent, root) and its
 *   id is the BLAKE3 of the bytes a plain reference encoder here makes;
 * - every truncation and random byte changes of a record, stored as an
 *   object, either fail to load (ECORRUPT, EFORMAT) or load to what the
 *   reference encoder turns back into exactly those bytes;
 * - find at a time and list against a linear scan of random times;
 * - prune against a reference that buckets times with gmtime and
 *   strftime("%G-%V") (ISO weeks), for random rules and times over
 *   months; then GC frees exactly what only the pruned ones held.
 */
#include <time.h>

#include "b3cas/checkpoint.h"
#include "store/store_int.h"
#include "meta_keys.h"
#include "prng.h"
#include "test_util.h"
#include "store_policy.h"

static uint64_t rng;

/* ---- the reference encoder ---------------------------------------------- */

typedef struct buf {
	uint8_t p[1 << 16];
	size_t n;
} buf;

static void b_put(buf *b, const void *d, size_t n)
{
	assert_true(b->n + n <= sizeof(b->p));
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void b_varint(buf *b, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);

		v >>= 7;
		if (v)
			c |= 0x80;
		b_put(b, &c, 1);
	} while (v);
}

static void b_str(buf *b, const char *s)
{
	b_varint(b, strlen(s));
	b_put(b, s, strlen(s));
}

static void b_opt(buf *b, bool has, const b3cas_oid *id)
{
	uint8_t f = has;

	b_put(b, &f, 1);
	if (has)
		b_put(b, id->bytes, 32);
}

/* c's record as the format says (c's blobs and labels already sorted). */
static void ref_encode(const b3cas_checkpoint *c, buf *b)
{
	b->n = 0;
	b_put(b, "b3ckpt\0\1", 8);
	b_str(b, c->sandbox);
	for (int k = 7; k >= 0; k--) {
		uint8_t x = (uint8_t)((uint64_t)c->time_ns >> (8 * k));

		b_put(b, &x, 1);
	}
	b_opt(b, c->has_root, &c->root);
	b_opt(b, c->has_parent, &c->parent);
	b_varint(b, c->blob_count);
	for (size_t i = 0; i < c->blob_count; i++) {
		b_str(b, c->blobs[i].name);
		b_put(b, c->blobs[i].id.bytes, 32);
	}
	b_varint(b, c->label_count);
	for (size_t i = 0; i < c->label_count; i++) {
		b_str(b, c->labels[i].key);
		b_str(b, c->labels[i].value);
	}
}

static b3cas_store *new_store(char *root, size_t n)
{
	b3cas_store_options o = tu_store_options(true, 4096);

	tu_make_root(root, n, "ckpt");
	tu_store_policy(&o); /* B3CAS_TEST_RADOS=1: a RADOS store */
	return tu_open_store(root, &o);
}

static void test_record(void **state)
{
	char root[64];
	b3cas_store *s = new_store(root, sizeof(root));
	b3cas_checkpoint_blob blobs[3] = {{"memory", {{0}}},
					  {"config", {{0}}},
					  {"disk", {{0}}}};
	b3cas_checkpoint_label labels[2] = {{"z", "last"}, {"a", ""}};
	b3cas_checkpoint c = {0}, *got;
	b3cas_oid id, want;
	int64_t t;
	buf b;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_true(b3cas_store_put(s, &blobs[i].id, blobs[i].name,
					    strlen(blobs[i].name)) >= 0);
	c.sandbox = "sb-1";
	c.time_ns = 1796507911945078436;
	c.has_parent = true;
	memset(c.parent.bytes, 0xab, 32);
	c.blobs = blobs;
	c.blob_count = 3;
	c.labels = labels;
	c.label_count = 2;
	assert_int_equal(b3cas_checkpoint_create(s, &c, &id, &t), 0);
	assert_int_equal(t, c.time_ns);
	/* the same time again: refused */
	assert_int_equal(b3cas_checkpoint_create(s, &c, NULL, NULL),
			 B3CAS_EEXISTS);
	assert_int_equal(b3cas_checkpoint_load(s, &id, &got), 0);
	assert_string_equal(got->sandbox, "sb-1");
	assert_int_equal(got->time_ns, c.time_ns);
	assert_false(got->has_root);
	assert_true(got->has_parent);
	assert_memory_equal(got->parent.bytes, c.parent.bytes, 32);
	assert_int_equal(got->blob_count, 3);
	assert_string_equal(got->blobs[0].name, "config");
	assert_string_equal(got->blobs[1].name, "disk");
	assert_string_equal(got->blobs[2].name, "memory");
	assert_memory_equal(got->blobs[2].id.bytes, blobs[0].id.bytes, 32);
	assert_int_equal(got->label_count, 2);
	assert_string_equal(got->labels[0].key, "a");
	assert_string_equal(got->labels[0].value, "");
	assert_string_equal(got->labels[1].value, "last");
	ref_encode(got, &b);
	b3cas_hash(want.bytes, b.p, b.n);
	assert_memory_equal(want.bytes, id.bytes, 32);
	/* the checkpoint holds its blobs: ours go, they stay */
	for (int i = 0; i < 3; i++)
		assert_int_equal(b3cas_store_delete(s, &blobs[i].id), 0);
	{
		b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

		g.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(b3cas_store_exists(s, &blobs[i].id),
					 1);
		assert_int_equal(b3cas_checkpoint_delete(s, "sb-1", t), 0);
		assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(b3cas_store_exists(s, &blobs[i].id),
					 0);
		assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	}
	/* damaged records: refused, or exactly canonical */
	for (size_t cut = 0; cut < b.n; cut++) {
		b3cas_checkpoint *x = NULL;
		b3cas_oid xid;
		int rc;

		assert_true(b3cas_store_put(s, &xid, b.p, cut) >= 0);
		rc = b3cas_checkpoint_load(s, &xid, &x);
		assert_true(rc == B3CAS_ECORRUPT || rc == B3CAS_EFORMAT);
		assert_null(x);
	}
	for (int k = 0; k < 2000; k++) {
		uint8_t m[sizeof(b.p)];
		b3cas_checkpoint *x = NULL;
		b3cas_oid xid;
		size_t at = tu_rand(&rng) % b.n;
		int rc;
		buf again;

		memcpy(m, b.p, b.n);
		m[at] ^= (uint8_t)(1 + tu_rand(&rng) % 255);
		assert_true(b3cas_store_put(s, &xid, m, b.n) >= 0);
		rc = b3cas_checkpoint_load(s, &xid, &x);
		if (rc == 0) {
			ref_encode(x, &again);
			assert_int_equal(again.n, b.n);
			assert_memory_equal(again.p, m, b.n);
			b3cas_checkpoint_free(x);
		} else {
			assert_true(rc == B3CAS_ECORRUPT ||
				    rc == B3CAS_EFORMAT);
		}
	}
	b3cas_checkpoint_free(got);
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
}

/* ---- times: find, list, prune ------------------------------------------- */

#define N 120

typedef struct seen {
	int64_t t[N];
	b3cas_oid id[N];
	int n;
} seen;

static int collect(const char *sandbox, int64_t t, const b3cas_oid *id,
		   void *ctx)
{
	seen *v = ctx;

	assert_string_equal(sandbox, "s");
	assert_true(v->n < N);
	v->t[v->n] = t;
	v->id[v->n++] = *id;
	return 0;
}

/* The reference bucket: the hour, day or ISO week, by gmtime. */
static void ref_bucket(int64_t t, int rule, char out[32])
{
	time_t sec = (time_t)(t / 1000000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(out, 32, rule == 0 ? "%Y-%j %H" : rule == 1 ? "%Y-%j"
							     : "%G-%V", &tm);
}

/* keep[i] for times t[0..n) (oldest first), as restic's forget. */
static void ref_keep(const int64_t *t, int n, const b3cas_retention *r,
		     bool *keep)
{
	uint64_t want[3] = {r->hourly, r->daily, r->weekly};

	for (int i = 0; i < n; i++)
		keep[i] = n - 1 - i < (int64_t)r->last ||
			  (r->within_ns &&
			   (uint64_t)(t[n - 1] - t[i]) <= r->within_ns);
	for (int k = 0; k < 3; k++) {
		char last[32] = "", b[32];
		uint64_t got = 0;

		for (int i = n - 1; i >= 0 && got < want[k]; i--) {
			ref_bucket(t[i], k, b);
			if (strcmp(b, last) != 0) {
				keep[i] = true;
				got++;
				strcpy(last, b);
			}
		}
	}
}

static int judged(const char *sandbox, int64_t t, const b3cas_oid *id,
		  bool keep, void *ctx)
{
	seen *v = ctx;

	(void)sandbox;
	for (int i = 0; i < v->n; i++)
		if (v->t[i] == t) {
			assert_memory_equal(v->id[i].bytes + 1, id->bytes + 1,
					    31);
			/* mark: the id's first byte says kept */
			v->id[i].bytes[0] = keep ? 1 : 0;
			return 0;
		}
	fail_msg("prune judged a checkpoint it was not given");
	return 0;
}

static void test_times(void **state)
{
	for (int round = 0; round < 6; round++) {
		char root[64];
		b3cas_store *s = new_store(root, sizeof(root));
		b3cas_checkpoint c = {0};
		b3cas_retention r = {0};
		int64_t t = 1700000000000000000 + (int64_t)(tu_rand(&rng) %
							     1000000000000);
		seen all = {{0}, {{{0}}}, 0}, after = {{0}, {{{0}}}, 0};
		bool keep[N];
		uint64_t removed = 0;
		int kept = 0;

		(void)state;
		c.sandbox = "s";
		for (int i = 0; i < N; i++) {
			/* gaps from seconds to days */
			t += (int64_t)(tu_rand(&rng) %
				       (uint64_t[]){60, 3600, 86400 * 3}
					       [tu_rand(&rng) % 3]) *
				     1000000000 +
			     1;
			c.time_ns = t;
			assert_int_equal(b3cas_checkpoint_create(s, &c, NULL,
								 NULL), 0);
		}
		/* another sandbox, untouched by s's prune */
		c.sandbox = "t";
		c.time_ns = 5;
		assert_int_equal(b3cas_checkpoint_create(s, &c, NULL, NULL), 0);
		assert_int_equal(b3cas_checkpoint_list(s, "s", collect, &all),
				 0);
		assert_int_equal(all.n, N);
		for (int i = 1; i < N; i++)
			assert_true(all.t[i - 1] < all.t[i]);
		/* find at random times: the last at or before */
		for (int k = 0; k < 200; k++) {
			int64_t q = all.t[0] - 5 +
				    (int64_t)(tu_rand(&rng) %
					      (uint64_t)(all.t[N - 1] -
							 all.t[0] + 10));
			int want = -1;
			b3cas_oid id;
			int64_t at;
			int rc = b3cas_checkpoint_find(s, "s", q, &id, &at);

			for (int i = 0; i < N; i++)
				if (all.t[i] <= q)
					want = i;
			if (want < 0) {
				assert_int_equal(rc, B3CAS_ENOTFOUND);
				continue;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(at, all.t[want]);
			assert_memory_equal(id.bytes, all.id[want].bytes, 32);
		}
		r.last = tu_rand(&rng) % 4;
		r.hourly = tu_rand(&rng) % 6;
		r.daily = tu_rand(&rng) % 8;
		r.weekly = tu_rand(&rng) % 4;
		r.within_ns = tu_rand(&rng) % 2
				      ? (tu_rand(&rng) % 200000) * 1000000000ull
				      : 0;
		if (!r.last && !r.hourly && !r.daily && !r.weekly &&
		    !r.within_ns)
			r.last = 1;
		ref_keep(all.t, N, &r, keep);
		assert_int_equal(b3cas_checkpoint_prune(s, "s", &r, false,
							judged, &all,
							&removed), 0);
		for (int i = 0; i < N; i++) {
			if (all.id[i].bytes[0] != (keep[i] ? 1 : 0))
				fail_msg("round %d: checkpoint %d of %d: prune "
					 "says %s, the reference %s", round,
					 i, N, keep[i] ? "remove" : "keep",
					 keep[i] ? "keep" : "remove");
			kept += keep[i];
		}
		assert_int_equal(removed, (uint64_t)(N - kept));
		assert_int_equal(b3cas_checkpoint_list(s, "s", collect,
						       &after), 0);
		assert_int_equal(after.n, kept);
		assert_int_equal(b3cas_checkpoint_find(s, "t", INT64_MAX,
						       &after.id[0], NULL), 0);
		assert_int_equal(b3cas_store_close(s), 0);
		tu_remove_root(root);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_times),
	};

	rng = tu_seed("test_checkpoint");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
