/*
 * test_nomem_ops_refs.c - the operations test_nomem sweeps, part two:
 * references (delete, ref_add, ref_remove, refcount), stat, exists,
 * dedup_check, foreach, GC, stats, the cache manager and the reads that
 * heal from a mirror; each one's prepare, run and check, as in
 * test_nomem_ops.c.
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "filter/filter.h"
#include "store_policy.h"
#include "test_nomem_int.h"
#include "test_util.h"

/* ---- references, walks, GC, stats ---- */

int64_t run_delete(b3cas_store **sp, const op *o)
{
	return b3cas_store_delete(*sp, &objs[o->obj].id);
}

int64_t run_ref_add(b3cas_store **sp, const op *o)
{
	return b3cas_ref_add(*sp, &objs[o->obj].id);
}

int64_t run_ref_remove(b3cas_store **sp, const op *o)
{
	return b3cas_ref_remove(*sp, &objs[o->obj].id);
}

/* A new count: the old one, minus or plus one. */
static void check_count(b3cas_store *s, const op *o, int64_t rc, int by)
{
	struct object *x = &objs[o->obj];

	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, (int64_t)x->refs + by);
	x->refs = (uint64_t)rc;
}

void check_down(b3cas_store *s, const op *o, int64_t rc)
{
	check_count(s, o, rc, -1);
}

void check_up(b3cas_store *s, const op *o, int64_t rc)
{
	check_count(s, o, rc, 1);
}

int64_t run_refcount(b3cas_store **sp, const op *o)
{
	return b3cas_refcount(*sp, &objs[o->obj].id, &out.count);
}

void check_refcount(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0)
		assert_int_equal(out.count, objs[o->obj].refs);
}

int64_t run_stat(b3cas_store **sp, const op *o)
{
	return b3cas_store_stat(*sp, &objs[o->obj].id, &out.info);
}

void check_stat(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0) {
		assert_true(b3cas_oid_equal(&out.info.id, &objs[o->obj].id));
		assert_int_equal(out.info.size, obj_len[o->obj]);
		assert_int_equal(out.info.refs, objs[o->obj].refs);
		/* a chunking store keeps every object in the index */
		assert_int_equal(out.info.is_inline,
				 obj_len[o->obj] <= THRESHOLD || tu_chunking());
	}
}

int64_t run_exists(b3cas_store **sp, const op *o)
{
	return b3cas_store_exists(*sp, &objs[o->obj].id);
}

void check_exists(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0)
		expect_nomem(rc, what);
	else
		assert_int_equal(rc, objs[o->obj].refs > 0);
}

int64_t run_dedup_check(b3cas_store **sp, const op *o)
{
	return b3cas_dedup_check(*sp, objs[o->obj].data, obj_len[o->obj],
				 &out.id, &out.is_dup);
}

void check_dedup_check(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0) {
		assert_true(b3cas_oid_equal(&out.id, &objs[o->obj].id));
		assert_int_equal(out.is_dup, objs[o->obj].refs > 0);
	}
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	uint64_t *seen = ctx;

	for (int i = 0; i < NOBJ; i++) {
		if (!b3cas_oid_equal(&info->id, &objs[i].id))
			continue;
		assert_int_equal(info->refs, objs[i].refs);
		assert_int_equal(info->size, obj_len[i]);
		seen[i]++;
		return 0;
	}
	fail_msg("%s: foreach found an object the test never stored", what);
	return 0;
}

static uint64_t walk_seen[NOBJ];

int64_t run_foreach(b3cas_store **sp, const op *o)
{
	(void)o;
	memset(walk_seen, 0, sizeof(walk_seen));
	return b3cas_store_foreach(*sp, count_object, walk_seen);
}

void check_foreach(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	for (int i = 0; rc == 0 && i < NOBJ; i++)
		assert_int_equal(walk_seen[i], objs[i].refs > 0);
}

/* O_DEL stored with one reference (again, for a second sweep). */
void prepare_delete(b3cas_store *s, const op *o)
{
	(void)o;
	if (!objs[O_DEL].refs)
		put_known(s, O_DEL);
}

/* A candidate for the collection: O_GC put, then deleted. */
void prepare_gc(b3cas_store *s, const op *o)
{
	uint64_t count;

	(void)o;
	if (b3cas_refcount(s, &objs[O_GC].id, &count) == 0)
		return; /* still a candidate from a failed run */
	put_known(s, O_GC);
	assert_int_equal(b3cas_store_delete(s, &objs[O_GC].id), 0);
	objs[O_GC].refs = 0;
}

int64_t run_gc(b3cas_store **sp, const op *o)
{
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

	/* In its own thread at nice 19, as by default: the plan counts
	 * every thread's allocations. */
	(void)o;
	return b3cas_gc(*sp, &go, &out.gc);
}

void check_gc(b3cas_store *s, const op *o, int64_t rc)
{
	uint64_t count = 9;

	check_zero(s, o, rc);
	if (rc < 0) {
		/* still a candidate */
		assert_int_equal(b3cas_refcount(s, &objs[O_GC].id, &count), 0);
		assert_int_equal(count, 0);
		return;
	}
	assert_true(out.gc.objects >= 1);
	assert_int_equal(b3cas_refcount(s, &objs[O_GC].id, &count),
			 B3CAS_ENOTFOUND);
}

void prepare_stats(b3cas_store *s, const op *o)
{
	void *buf;
	size_t len;

	(void)o;
	assert_int_equal(b3cas_store_get(s, &objs[O_INLINE].id, &buf, &len),
			 0);
	b3cas_free(buf);
}

int64_t run_stats(b3cas_store **sp, const op *o)
{
	(void)o;
	return b3cas_store_stats(*sp, &out.stats);
}

/* What a second call, with nothing failing, says too. */
void check_stats(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_stats again;

	check_zero(s, o, rc);
	if (rc < 0)
		return;
	assert_int_equal(b3cas_store_stats(s, &again), 0);
	assert_int_equal(out.stats.objects, again.objects);
	assert_int_equal(out.stats.references, again.references);
	assert_int_equal(out.stats.logical_bytes, again.logical_bytes);
	assert_int_equal(out.stats.physical_bytes, again.physical_bytes);
	assert_int_equal(out.stats.candidates, again.candidates);
	assert_int_equal(out.stats.gets, again.gets);
	assert_true(again.get.count > 0);
	if (out.stats.get.count != again.get.count ||
	    out.stats.get.p50 != again.get.p50)
		fail_msg("%s: stats succeeded with get latency count %llu, "
			 "p50 %g; a second call says %llu, %g", what,
			 (unsigned long long)out.stats.get.count,
			 out.stats.get.p50,
			 (unsigned long long)again.get.count, again.get.p50);
}

/* ---- the cache manager ---- */

int64_t run_cache_load(b3cas_store **sp, const op *o)
{
	return b3cas_cache_load(*sp, &objs[o->obj].id);
}

int64_t run_cache_evict(b3cas_store **sp, const op *o)
{
	return b3cas_cache_evict(*sp, &objs[o->obj].id);
}

void check_cache_evict(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_blob *b;

	assert_int_equal(rc, 1);
	assert_int_equal(b3cas_cache_lookup(s, &objs[o->obj].id, &b), 0);
}

int64_t run_cache_resize(b3cas_store **sp, const op *o)
{
	(void)o;
	return b3cas_cache_resize(*sp, B3CAS_L1_BYTES_DEFAULT / 2, L2_BYTES);
}

void check_cache_resize(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_cache_stats cs;

	check_zero(s, o, rc);
	if (rc < 0)
		return;
	b3cas_cache_stats_get(s, &cs);
	assert_true(cs.l2.capacity > 0);
	/* and the new L2 works */
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
}

/* ---- self-healing reads ---- */

/* Replace O_HEAL's file by one of the same size with other bytes. */
void damage_heal(b3cas_store *s, const op *o)
{
	char path[420];
	uint8_t *junk;
	FILE *f;

	(void)o;
	b3cas_cache_evict(s, &objs[O_HEAL].id);
	tu_object_file(path, sizeof(path), store_dir, "objects",
		       &objs[O_HEAL].id);
	junk = tu_exact_copy(objs[O_HEAL].data, obj_len[O_HEAL]);
	junk[17] ^= 0x40;
	unlink(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, obj_len[O_HEAL], f),
			 obj_len[O_HEAL]);
	assert_int_equal(fclose(f), 0);
	free(junk);
}

/*
 * After a read that could not heal: the damaged file is in quarantine
 * and the object reads as corrupt until a read with the mirror heals it,
 * which one with nothing failing must do; then the store is whole.
 */
void verify_healed(const op *o)
{
	b3cas_store *s = open_handle(H_MIRROR | H_NO_L1 | H_NO_L2);
	void *buf;
	size_t len;

	(void)o;
	if (b3cas_store_get(s, &objs[O_HEAL].id, &buf, &len) != 0)
		fail_msg("%s: the mirror does not heal it afterwards: %s",
			 what, b3cas_error_last());
	expect_bytes(buf, len, O_HEAL);
	b3cas_free(buf);
	assert_int_equal(b3cas_store_close(s), 0);
	verify_store(what);
}
