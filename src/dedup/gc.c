/*
 * dedup/gc.c - garbage collection of objects without references.
 *
 * A delete that drops an object's last reference only marks it (the UNREF
 * bit in its content entry, count 0 and the time in its refs entry); this
 * walk frees the bytes later. It never takes a store-wide lock: candidates
 * are found by iterating the refs column family (which holds only counts
 * other than 1, so it is small next to the content), and each one is
 * re-checked and removed under its own stripe lock, the lock every put of
 * the same id takes. A put that revives the object before that moment
 * wins; one after it stores the object anew. Two collections at once are
 * safe: the second finds the object gone when it re-checks.
 */
#include <string.h>
#include <time.h>

#include "core/store_int.h"
#include "util/error.h"

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Is a candidate marked at since old enough at now? A mark from the
 * future (a clock set back) is treated as made now. */
static bool old_enough(uint64_t since, uint64_t now, uint64_t grace)
{
	return since <= now && now - since >= grace;
}

/* Re-check id under its stripe lock and remove it if it still qualifies.
 * 1 removed (or would be), 0 left alone, or an error. */
static int collect_one(b3cas_store *s, const b3cas_oid *id,
		       const b3cas_gc_options *o, b3cas_gc_report *r,
		       uint64_t *size_out)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	uint64_t since = 0, size = 0;
	bool is_inline = false;
	int rc;

	pthread_mutex_lock(lock);
	rc = b3cas__store_candidate(s, id, &since, &size, &is_inline);
	if (rc == 1 && !old_enough(since, wall_ns(), o->grace_ns)) {
		r->young++;
		rc = 0;
	} else if (rc == 0) {
		r->revived++;
	} else if (rc == 1 && !o->dry_run) {
		rc = b3cas__store_remove_locked(s, id, is_inline);
		if (rc == 0)
			rc = 1;
	}
	pthread_mutex_unlock(lock);
	*size_out = size;
	return rc;
}

int b3cas_gc(b3cas_store *s, const b3cas_gc_options *opts,
	     b3cas_gc_report *report)
{
	b3cas_gc_options defaults = B3CAS_GC_OPTIONS_INIT;
	const b3cas_gc_options *o = opts ? opts : &defaults;
	b3cas_gc_report r;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	double t0 = mono_now();
	char *err = NULL;
	int rc = b3cas__store_check_writable(s, "collect garbage");

	memset(&r, 0, sizeof(r));
	if (rc < 0)
		return rc;
	ro = rocksdb_readoptions_create();
	/* A walk over every candidate need not fill the block cache. */
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_REFS]);
	for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		b3cas_oid id;
		uint64_t size;
		int one;

		/* Counts are 8 bytes; only a candidate's value is longer. */
		if (klen != B3CAS_OID_LEN || vlen != B3CAS_REFS_CANDIDATE_LEN ||
		    b3cas__get_u64(v) != 0)
			continue;
		r.candidates++;
		/* Young ones are skipped without taking the lock. */
		if (!old_enough(b3cas__get_u64(v + 8), wall_ns(),
				o->grace_ns)) {
			r.young++;
			continue;
		}
		memcpy(id.bytes, key, B3CAS_OID_LEN);
		one = collect_one(s, &id, o, &r, &size);
		if (one < 0) {
			rc = one;
			break;
		}
		if (one == 1) {
			r.objects++;
			r.bytes += size;
			if (o->on_object)
				rc = o->on_object(&id, size, o->ctx);
		}
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	r.seconds = mono_now() - t0;
	if (report)
		*report = r;
	return rc;
}
