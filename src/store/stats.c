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

/* Add one index entry to the totals. */
static int count_entry(const b3cas__walk_entry *e, void *ctx)
{
	b3cas_stats *out = ctx;

	if (e->candidate) {
		out->candidates++;
		out->candidate_bytes += e->size;
		return 0;
	}
	out->objects++;
	out->inline_objects += e->is_inline;
	out->references += e->refs;
	out->physical_bytes += e->size;
	out->logical_bytes += e->size * e->refs;
	return 0;
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
	/* One walk from one snapshot; not worth RocksDB's block cache. */
	rc = b3cas__store_walk(s, false, count_entry, out);
	if (rc < 0) {
		free(sum);
		return rc;
	}
	out->dedup_ratio = out->physical_bytes
				   ? (double)out->logical_bytes /
					     (double)out->physical_bytes
				   : 1.0;
	out->puts = atomic_load(&s->count.puts);
	out->dedup_puts = atomic_load(&s->count.dup_puts);
	out->put_bytes = atomic_load(&s->count.put_bytes);
	out->gets = atomic_load(&s->count.gets);
	out->deletes = atomic_load(&s->count.deletes);
	b3cas__filter_counters(s->filter, &out->bloom_skips, &out->bloom_hits,
			       &out->bloom_false_positives);
	out->corrupt_reads = atomic_load(&s->count.corrupt_reads);
	out->quarantined = atomic_load(&s->count.quarantined);
	out->healed = atomic_load(&s->count.healed);
	out->gc_runs = atomic_load(&s->count.gc_runs);
	out->gc_objects = atomic_load(&s->count.gc_objects);
	out->gc_bytes = atomic_load(&s->count.gc_bytes);
	out->gc_seconds = (double)atomic_load(&s->count.gc_ns) * 1e-9;
	latency(&s->count.lat_put, sum, &out->put);
	latency(&s->count.lat_get, sum, &out->get);
	latency(&s->count.lat_delete, sum, &out->del);
	free(sum);
	return 0;
}

void b3cas__note_put(b3cas_store *s, uint64_t t0, uint64_t bytes, int rc,
		     uint64_t n)
{
	if (rc < 0)
		return;
	b3cas__hist_record(&s->count.lat_put, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->count.puts, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count.put_bytes, bytes,
				  memory_order_relaxed);
	if (rc == 1)
		atomic_fetch_add_explicit(&s->count.dup_puts, 1,
					  memory_order_relaxed);
}

void b3cas__note_get(b3cas_store *s, uint64_t t0, uint64_t n)
{
	b3cas__hist_record(&s->count.lat_get, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->count.gets, n, memory_order_relaxed);
}
