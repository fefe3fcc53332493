/*
 * store/stats.c - b3cas_store_stats: what is stored (one walk of the
 * index from one snapshot) and what this handle has done since open.
 *
 * Physical bytes are each object's bytes counted once: inline bytes inside
 * the index and loose files' sizes. Not counted, and documented as the
 * per-object overhead: the index key (32 bytes) and entry header (9),
 * a refs entry (32 + 8) when the count is not 1, RocksDB's own framing
 * and compression, and a loose file's rounding up to the file system's
 * block.
 */
#include <stdlib.h>
#include <string.h>

#include "store/handle.h"
#include "util/error.h"

/* h's quantiles into out, through sum (scratch space). */
static void latency(const b3cas_histogram *h, b3cas_hist_summary *sum,
		    b3cas_latency *out)
{
	memset(out, 0, sizeof(*out));
	b3cas__hist_summarize(h, sum);
	out->count = sum->count;
	out->sum = (double)sum->sum_ns * 1e-9;
	out->p50 = (double)b3cas__hist_quantile(sum, 0.50) * 1e-9;
	out->p90 = (double)b3cas__hist_quantile(sum, 0.90) * 1e-9;
	out->p99 = (double)b3cas__hist_quantile(sum, 0.99) * 1e-9;
	out->p999 = (double)b3cas__hist_quantile(sum, 0.999) * 1e-9;
}

/* One walk of content and refs side by side (both sorted by id). */
static int walk(b3cas_store *s, b3cas_stats *out)
{
	const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(s->ix->db);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it, *rit;
	char *err = NULL;
	int rc = 0;

	rocksdb_readoptions_set_snapshot(ro, snap);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	rit = rocksdb_create_iterator_cf(s->ix->db, ro,
					 s->ix->cf[B3CAS_CF_REFS]);
	rocksdb_iter_seek_to_first(rit);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen, rklen, rvlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		uint64_t size, refs = 1;

		if (klen != B3CAS_OID_LEN || vlen < B3CAS_ENTRY_HEADER_LEN) {
			rc = b3cas__error(B3CAS_ECORRUPT, "malformed index "
					  "entry (%zu-byte key, %zu-byte "
					  "value)", klen, vlen);
			break;
		}
		size = b3cas__get_u64(v + 1);
		if (v[0] & B3CAS_ENTRY_UNREF) {
			out->candidates++;
			out->candidate_bytes += size;
			continue;
		}
		while (rocksdb_iter_valid(rit)) {
			const char *rk = rocksdb_iter_key(rit, &rklen);

			if (rklen == klen && memcmp(rk, key, klen) >= 0)
				break;
			rocksdb_iter_next(rit);
		}
		if (rocksdb_iter_valid(rit)) {
			const char *rk = rocksdb_iter_key(rit, &rklen);
			const uint8_t *rv = (const uint8_t *)rocksdb_iter_value(
				rit, &rvlen);

			if (rklen == klen && memcmp(rk, key, klen) == 0 &&
			    rvlen == 8)
				refs = b3cas__get_u64(rv);
		}
		out->objects++;
		out->inline_objects +=
			(v[0] & ~B3CAS_ENTRY_UNREF) == B3CAS_ENTRY_INLINE;
		out->references += refs;
		out->physical_bytes += size;
		out->logical_bytes += size * refs;
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (!err)
			rocksdb_iter_get_error(rit, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(rit);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(s->ix->db, snap);
	return rc;
}

int b3cas_store_stats(b3cas_store *s, b3cas_stats *out)
{
	/*
	 * A summary is 5 KiB, kept off the caller's stack. Taken first: a
	 * call that cannot have it fails (with nothing walked), rather
	 * than report latencies of zero.
	 */
	b3cas_hist_summary *sum;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(out, "out");
	sum = malloc(sizeof(*sum));
	memset(out, 0, sizeof(*out));
	if (!sum)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = walk(s, out);
	if (rc < 0) {
		free(sum);
		return rc;
	}
	out->dedup_ratio = out->physical_bytes
				   ? (double)out->logical_bytes /
					     (double)out->physical_bytes
				   : 1.0;
	out->puts = atomic_load(&s->n_puts);
	out->dedup_puts = atomic_load(&s->n_dup_puts);
	out->put_bytes = atomic_load(&s->n_put_bytes);
	out->gets = atomic_load(&s->n_gets);
	out->deletes = atomic_load(&s->n_deletes);
	b3cas__filter_counters(s->filter, &out->bloom_skips, &out->bloom_hits,
			       &out->bloom_false_positives);
	out->corrupt_reads = atomic_load(&s->n_corrupt_reads);
	out->quarantined = atomic_load(&s->n_quarantined);
	out->healed = atomic_load(&s->n_healed);
	out->gc_runs = atomic_load(&s->gc_runs);
	out->gc_objects = atomic_load(&s->gc_objects);
	out->gc_bytes = atomic_load(&s->gc_bytes);
	out->gc_seconds = (double)atomic_load(&s->gc_ns) * 1e-9;
	latency(&s->lat_put, sum, &out->put);
	latency(&s->lat_get, sum, &out->get);
	latency(&s->lat_delete, sum, &out->del);
	free(sum);
	return 0;
}

void b3cas__note_put(b3cas_store *s, uint64_t t0, uint64_t bytes, int rc,
		     uint64_t n)
{
	if (rc < 0)
		return;
	b3cas__hist_record(&s->lat_put, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->n_puts, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->n_put_bytes, bytes,
				  memory_order_relaxed);
	if (rc == 1)
		atomic_fetch_add_explicit(&s->n_dup_puts, 1,
					  memory_order_relaxed);
}

void b3cas__note_get(b3cas_store *s, uint64_t t0, uint64_t n)
{
	b3cas__hist_record(&s->lat_get, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->n_gets, n, memory_order_relaxed);
}
