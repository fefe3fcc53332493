/*
 * store/stats.c - b3cas_store_stats: what is stored (one walk of the
 * index, with the manifests' segments, from one snapshot), what the
 * store folder takes on disk, and what this handle has done since open.
 *
 * A chunk's reference count holds both its callers' references and one
 * per occurrence in a manifest segment (chunked.c). So before the walk,
 * every segment in the snapshot (stored objects', GC candidates', puts
 * under way, removals not yet released) is read into a map of chunk id ->
 * occurrences, and an entry's callers' references are its count less its
 * occurrences (never below 0: a count lower than that is damage, which
 * fsck reports). The map (chunk_map.h) costs memory in proportion to the
 * distinct chunks (about 100 bytes each), none in a format 1 store. The
 * walk then reads each stored chunked object's segments again, checked,
 * to count what the stored objects' manifests name.
 *
 * Physical bytes are each stored object's bytes counted once: chunks and
 * objects stored whole, not chunked objects (their bytes are their
 * chunks). Not counted, and documented as the per-object overhead: the
 * index key (32 bytes) and entry header (9), a refs entry (32 + 8) when
 * the count is not 1, RocksDB's own framing and compression, and a loose
 * file's rounding up to the file system's block; disk_bytes has all of
 * it.
 */
#include <stdlib.h>
#include <string.h>

#include "store/chunk_map.h"
#include "util/du.h"
#include "util/error.h"

/* ---- the walk ---- */

typedef struct tally {
	b3cas_store *s;
	const b3cas__snap *snap;
	b3cas_stats *out;
	b3cas__chunk_map chunks; /* in_segments, then named */
	uint64_t packed_bytes;   /* sizes of the PACKED entries */
} tally;

/* A stored chunked object: its size, and its manifest's chunks and bytes. */
static int count_chunked(tally *t, const b3cas__walk_entry *e)
{
	b3cas_stats *out = t->out;
	b3cas__top top;
	int rc = b3cas__top_parse(&top, &e->id, e->size, e->payload,
				  e->payload_len);

	if (rc < 0)
		return rc;
	out->chunked_objects++;
	out->chunked_bytes += e->size;
	out->manifest_bytes += e->payload_len;
	return b3cas__chunked_foreach_chunk(t->s, t->snap, &e->id, &top,
					    b3cas__chunk_map_add_named,
					    &t->chunks, &out->manifest_bytes);
}

/* Add one index entry to the totals. */
static int count_entry(const b3cas__walk_entry *e, void *ctx)
{
	tally *t = ctx;
	b3cas_stats *out = t->out;
	const b3cas__chunk_slot *sl;
	uint64_t refs = e->refs;

	if (e->candidate) {
		out->candidates++;
		out->candidate_bytes += e->size;
		return 0;
	}
	out->objects++;
	out->inline_objects += e->is_inline;
	/* What the manifests hold is not the callers'. */
	sl = b3cas__chunk_map_find(&t->chunks, &e->id);
	if (sl)
		refs = refs > sl->in_segments ? refs - sl->in_segments : 0;
	out->references += refs;
	out->logical_bytes += e->size * refs;
	if (e->kind == B3CAS_ENTRY_CHUNKED)
		return count_chunked(t, e);
	out->physical_bytes += e->size;
	if (e->kind == B3CAS_ENTRY_ZINLINE || e->kind == B3CAS_ENTRY_DELTA) {
		out->compressed_objects++;
		out->stored_bytes += e->payload_len;
	} else if (e->kind == B3CAS_ENTRY_PACKED) {
		out->compressed_objects++;
		t->packed_bytes += e->size;
	} else {
		out->stored_bytes += e->size;
	}
	return 0;
}

/* The chunks the stored objects' manifests name, each once. */
static void sum_chunks(const b3cas__chunk_map *m, b3cas_stats *out)
{
	for (size_t i = 0; i < m->cap; i++) {
		const b3cas__chunk_slot *sl = &m->slot[i];

		if (!sl->used || sl->named == 0)
			continue;
		out->chunks++;
		out->chunk_refs += sl->named;
		out->chunk_ref_bytes += sl->named * sl->len;
		out->chunk_bytes += sl->len;
	}
}

/* A number RocksDB gives as a property of the data family, 0 when it
 * gives none. */
static uint64_t data_property(b3cas_store *s, const char *name)
{
	char *v = rocksdb_property_value_cf(b3cas__store_index(s)->db,
					    b3cas__store_index(s)
						    ->cf[B3CAS_CF_DATA],
					    name);
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;

	free(v);
	return n;
}

/*
 * A packed store's objects are stored as the data family's tables, a
 * block at a time, so their part of stored_bytes is what those tables
 * take. A writable handle first writes the family's memtable out as a
 * table (a flush RocksDB would make anyway, at the latest at close), so
 * that this is so; in a read-only one the memtable (what the log held)
 * counts raw. The tables may still hold the bytes of objects removed
 * since their last compaction: never more than the objects' own sizes
 * is counted.
 */
static uint64_t packed_stored(b3cas_store *s, uint64_t packed_bytes)
{
	b3cas_index *ix = b3cas__store_index(s);
	uint64_t n;

	if (!packed_bytes || !ix->cf[B3CAS_CF_DATA])
		return packed_bytes;
	if (!s->read_only) {
		rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
		char *err = NULL;

		rocksdb_flushoptions_set_wait(fo, 1);
		rocksdb_flush_cf(ix->db, fo, ix->cf[B3CAS_CF_DATA], &err);
		free(err); /* then the memtable counts raw */
		rocksdb_flushoptions_destroy(fo);
	}
	n = data_property(s, "rocksdb.total-sst-files-size") +
	    data_property(s, "rocksdb.cur-size-all-mem-tables");
	return n < packed_bytes ? n : packed_bytes;
}

/* Map every segment's chunks, then walk the entries, from one snapshot. */
static int walk_index(b3cas_store *s, b3cas_stats *out)
{
	b3cas__snap snap;
	tally t = {s, &snap, out, B3CAS__CHUNK_MAP_INIT, 0};
	int rc;

	/* One walk; not worth RocksDB's block cache. */
	b3cas__snap_take(s, &snap, false);
	rc = b3cas__chunked_foreach_held(s, &snap, b3cas__chunk_map_add_held,
					 &t.chunks, &out->manifest_bytes);
	if (rc == 0)
		rc = b3cas__store_walk_snap(s, &snap, count_entry, &t);
	b3cas__snap_release(s, &snap);
	if (rc == 0) {
		sum_chunks(&t.chunks, out);
		out->stored_bytes += packed_stored(s, t.packed_bytes);
	}
	b3cas__chunk_map_free(&t.chunks);
	return rc;
}

/* What the store folder takes on disk, with the object tier when it is
 * elsewhere (walked first: a tier met again inside the folder, as
 * objects/ is, counts once). */
static int disk_usage(b3cas_store *s, uint64_t *out)
{
	b3cas_du du = B3CAS_DU_INIT;
	int rc = b3cas__du_add(&du, s->lay.objects_fd, s->lay.objects_path);

	if (rc == 0)
		rc = b3cas__du_add(&du, s->lay.root_fd, s->lay.root);
	*out = du.bytes;
	b3cas__du_free(&du);
	return rc;
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : 1.0;
}

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
	rc = walk_index(s, out);
	if (rc == 0)
		rc = disk_usage(s, &out->disk_bytes);
	if (rc < 0) {
		free(sum);
		return rc;
	}
	out->dedup_ratio = ratio(out->logical_bytes, out->physical_bytes);
	out->chunk_dedup_ratio = ratio(out->chunk_ref_bytes, out->chunk_bytes);
	out->compression_ratio = ratio(out->physical_bytes, out->stored_bytes);
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
