/*
 * cmd_stats.c - `b3cas stats`: what the store holds, how well it
 * deduplicates (whole objects and chunks) and compresses, and what it
 * takes on disk, as text, JSON or the Prometheus text format.
 *
 * The program opens the store read-only for this, so it works beside a
 * running writer; the per-handle counters (puts, bloom, GC, latencies)
 * are those of its own short-lived handle, which are zero. A long-running
 * process reports its own through b3cas_store_stats.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>


#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct stats_args {
	bool json;
	bool prometheus;
} stats_args;

static const cli_opt stats_opts[] = {
	CLI_FLAG("json", 0, stats_args, json, "one JSON object"),
	CLI_FLAG("prometheus", 0, stats_args, prometheus,
		 "the Prometheus text exposition format"),
	CLI_END,
};

const cli_spec cmd_stats_spec = {
	.name = "stats",
	.summary = "objects, bytes, dedup and compression ratios of the store",
	.about = "Objects, references, logical bytes (what callers put and "
		 "still hold),\nphysical bytes (distinct content, once), the "
		 "dedup ratio; chunked objects,\nchunks and the chunk dedup "
		 "ratio; stored bytes (after compression) and the\ncompression "
		 "ratio; manifest bytes; what the store takes on disk; and\n"
		 "objects waiting for gc (docs/store.md, \"What stats counts\")."
		 " Opens the\nstore read-only: it works while another process "
		 "writes. --json and\n--prometheus exclude each other.\n",
	.exits = "Exit codes: 0 ok, 2 usage error, 3 store error.\n",
	.opts = stats_opts,
	.store = true,
};

typedef struct metric {
	const char *name, *type, *help;
	double value;
} metric;

/* The cache counters, one family per counter with a level label. */
static void prometheus_cache(const b3cas_cache_stats *cs)
{
	const b3cas_cache_level_stats *lv[2] = {&cs->l1, &cs->l2};
	const char *level[2] = {"l1", "l2"};
	const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
#define CACHE_FIELD(f) offsetof(b3cas_cache_level_stats, f)
		{"b3cas_cache_capacity_bytes", "gauge",
		 "Bytes the cache may hold.", CACHE_FIELD(capacity)},
		{"b3cas_cache_bytes", "gauge", "Bytes the cache holds.",
		 CACHE_FIELD(bytes)},
		{"b3cas_cache_entries", "gauge", "Objects the cache holds.",
		 CACHE_FIELD(entries)},
		{"b3cas_cache_hits_total", "counter", "Lookups that hit.",
		 CACHE_FIELD(hits)},
		{"b3cas_cache_misses_total", "counter", "Lookups that missed.",
		 CACHE_FIELD(misses)},
		{"b3cas_cache_inserts_total", "counter", "Objects added.",
		 CACHE_FIELD(inserts)},
		{"b3cas_cache_evictions_total", "counter",
		 "Objects evicted to make room.", CACHE_FIELD(evictions)},
		{"b3cas_cache_invalidations_total", "counter",
		 "Objects dropped because deleted, collected or evicted by "
		 "call.", CACHE_FIELD(invalidations)},
		{"b3cas_cache_rejected_total", "counter",
		 "Objects not added: too large, or raced with a delete.",
		 CACHE_FIELD(rejected)},
		{"b3cas_cache_corrupt_total", "counter",
		 "Cached copies that failed verification and were dropped.",
		 CACHE_FIELD(corrupt)},
#undef CACHE_FIELD
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		printf("# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help,
		       m[i].name, m[i].type);
		for (int l = 0; l < 2; l++) {
			uint64_t v;

			memcpy(&v, (const char *)lv[l] + m[i].off, sizeof(v));
			printf("%s{level=\"%s\"} %" PRIu64 "\n", m[i].name,
			       level[l], v);
		}
	}
}

static void prometheus(const b3cas_stats *st)
{
	const metric m[] = {
		{"b3cas_objects", "gauge",
		 "Objects stored (referenced), chunks included.",
		 (double)st->objects},
		{"b3cas_inline_objects", "gauge",
		 "Stored objects kept inside the index.",
		 (double)st->inline_objects},
		{"b3cas_references", "gauge",
		 "Callers' references to stored objects.",
		 (double)st->references},
		{"b3cas_logical_bytes", "gauge",
		 "Bytes callers put and still hold, duplicates included.",
		 (double)st->logical_bytes},
		{"b3cas_physical_bytes", "gauge",
		 "Distinct content stored: chunks and whole objects, once.",
		 (double)st->physical_bytes},
		{"b3cas_dedup_ratio", "gauge",
		 "Logical bytes divided by physical bytes.", st->dedup_ratio},
		{"b3cas_chunked_objects", "gauge",
		 "Stored objects kept as a manifest of chunks.",
		 (double)st->chunked_objects},
		{"b3cas_chunked_bytes", "gauge",
		 "Bytes of the chunked objects, each once.",
		 (double)st->chunked_bytes},
		{"b3cas_chunks", "gauge",
		 "Distinct chunks the manifests name.", (double)st->chunks},
		{"b3cas_chunk_references", "gauge",
		 "Occurrences of chunks in the manifests.",
		 (double)st->chunk_refs},
		{"b3cas_chunk_reference_bytes", "gauge",
		 "Chunk bytes over every occurrence in the manifests.",
		 (double)st->chunk_ref_bytes},
		{"b3cas_chunk_bytes", "gauge",
		 "Bytes of the distinct chunks, each once.",
		 (double)st->chunk_bytes},
		{"b3cas_chunk_dedup_ratio", "gauge",
		 "Chunk reference bytes divided by chunk bytes.",
		 st->chunk_dedup_ratio},
		{"b3cas_stored_bytes", "gauge",
		 "Physical bytes as stored, after compression.",
		 (double)st->stored_bytes},
		{"b3cas_compressed_objects", "gauge",
		 "Stored objects kept compressed.",
		 (double)st->compressed_objects},
		{"b3cas_compression_ratio", "gauge",
		 "Physical bytes divided by stored bytes.",
		 st->compression_ratio},
		{"b3cas_manifest_bytes", "gauge",
		 "Bytes of the chunked objects' manifests.",
		 (double)st->manifest_bytes},
		{"b3cas_disk_bytes", "gauge",
		 "Bytes the store's files and folders take on disk.",
		 (double)st->disk_bytes},
		{"b3cas_gc_candidate_objects", "gauge",
		 "Unreferenced objects waiting for garbage collection.",
		 (double)st->candidates},
		{"b3cas_gc_candidate_bytes", "gauge",
		 "Bytes of the objects waiting for garbage collection.",
		 (double)st->candidate_bytes},
		{"b3cas_puts_total", "counter", "Objects put by this handle.",
		 (double)st->puts},
		{"b3cas_dedup_puts_total", "counter",
		 "Puts of content already stored.", (double)st->dedup_puts},
		{"b3cas_put_bytes_total", "counter", "Bytes given to puts.",
		 (double)st->put_bytes},
		{"b3cas_gets_total", "counter", "Objects read.",
		 (double)st->gets},
		{"b3cas_deletes_total", "counter", "References removed.",
		 (double)st->deletes},
		{"b3cas_bloom_skips_total", "counter",
		 "Puts the bloom filter proved new, without an index lookup.",
		 (double)st->bloom_skips},
		{"b3cas_bloom_hits_total", "counter",
		 "Bloom filter maybes for content that was stored.",
		 (double)st->bloom_hits},
		{"b3cas_bloom_false_positives_total", "counter",
		 "Bloom filter maybes for content that was not stored.",
		 (double)st->bloom_false_positives},
		{"b3cas_corrupt_reads_total", "counter",
		 "Reads that found bytes not matching their id.",
		 (double)st->corrupt_reads},
		{"b3cas_quarantined_total", "counter",
		 "Loose files moved to integrity/quarantine/.",
		 (double)st->quarantined},
		{"b3cas_healed_total", "counter",
		 "Corrupt objects served from the mirror and written back.",
		 (double)st->healed},
		{"b3cas_gc_runs_total", "counter", "Garbage collections run.",
		 (double)st->gc_runs},
		{"b3cas_gc_objects_total", "counter",
		 "Objects garbage collection removed.",
		 (double)st->gc_objects},
		{"b3cas_gc_bytes_total", "counter",
		 "Bytes garbage collection freed.", (double)st->gc_bytes},
		{"b3cas_gc_seconds_total", "counter",
		 "Time spent in garbage collection.", st->gc_seconds},
	};
	const struct {
		const char *name, *help;
		const b3cas_latency *l;
	} lat[] = {
		{"b3cas_put_duration_seconds", "Latency of puts.", &st->put},
		{"b3cas_get_duration_seconds", "Latency of gets.", &st->get},
		{"b3cas_delete_duration_seconds", "Latency of deletes.",
		 &st->del},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		printf("# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", m[i].name,
		       m[i].help, m[i].name, m[i].type, m[i].name,
		       m[i].value);
	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		const b3cas_latency *l = lat[i].l;
		const char *n = lat[i].name;

		printf("# HELP %s %s\n# TYPE %s summary\n", n, lat[i].help, n);
		printf("%s{quantile=\"0.5\"} %.9g\n", n, l->p50);
		printf("%s{quantile=\"0.9\"} %.9g\n", n, l->p90);
		printf("%s{quantile=\"0.99\"} %.9g\n", n, l->p99);
		printf("%s{quantile=\"0.999\"} %.9g\n", n, l->p999);
		printf("%s_sum %.9g\n%s_count %" PRIu64 "\n", n, l->sum, n,
		       l->count);
	}
}

static void json_level(const char *name, const b3cas_cache_level_stats *l)
{
	printf("\"%s\":{\"capacity\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"entries\":%" PRIu64 ",\"hits\":%" PRIu64
	       ",\"misses\":%" PRIu64 ",\"inserts\":%" PRIu64
	       ",\"evictions\":%" PRIu64 ",\"invalidations\":%" PRIu64
	       ",\"rejected\":%" PRIu64 ",\"corrupt\":%" PRIu64 "}",
	       name, l->capacity, l->bytes, l->entries, l->hits, l->misses,
	       l->inserts, l->evictions, l->invalidations, l->rejected,
	       l->corrupt);
}

static void json(const b3cas_stats *st, const b3cas_cache_stats *cs)
{
	printf("{\"objects\":%" PRIu64 ",\"inline_objects\":%" PRIu64
	       ",\"references\":%" PRIu64 ",\"logical_bytes\":%" PRIu64
	       ",\"physical_bytes\":%" PRIu64 ",\"dedup_ratio\":%.6f"
	       ",\"gc_candidates\":%" PRIu64
	       ",\"gc_candidate_bytes\":%" PRIu64,
	       st->objects, st->inline_objects, st->references,
	       st->logical_bytes, st->physical_bytes, st->dedup_ratio,
	       st->candidates, st->candidate_bytes);
	printf(",\"chunked_objects\":%" PRIu64 ",\"chunked_bytes\":%" PRIu64
	       ",\"chunks\":%" PRIu64 ",\"chunk_refs\":%" PRIu64
	       ",\"chunk_ref_bytes\":%" PRIu64 ",\"chunk_bytes\":%" PRIu64
	       ",\"chunk_dedup_ratio\":%.6f,\"stored_bytes\":%" PRIu64
	       ",\"compressed_objects\":%" PRIu64
	       ",\"compression_ratio\":%.6f,\"manifest_bytes\":%" PRIu64
	       ",\"disk_bytes\":%" PRIu64 ",\"cache\":{",
	       st->chunked_objects, st->chunked_bytes, st->chunks,
	       st->chunk_refs, st->chunk_ref_bytes, st->chunk_bytes,
	       st->chunk_dedup_ratio, st->stored_bytes,
	       st->compressed_objects, st->compression_ratio,
	       st->manifest_bytes, st->disk_bytes);
	json_level("l1", &cs->l1);
	putchar(',');
	json_level("l2", &cs->l2);
	puts("}}");
}

static void text(const b3cas_stats *st, const b3cas_cache_stats *cs)
{
	printf("objects:            %" PRIu64 " (%" PRIu64 " inline, %" PRIu64
	       " loose)\n",
	       st->objects, st->inline_objects,
	       st->objects - st->inline_objects);
	printf("references:         %" PRIu64 "\n", st->references);
	printf("logical bytes:      %" PRIu64 "\n", st->logical_bytes);
	printf("physical bytes:     %" PRIu64 "\n", st->physical_bytes);
	printf("dedup ratio:        %.3f\n", st->dedup_ratio);
	printf("chunked objects:    %" PRIu64 " (%" PRIu64 " bytes)\n",
	       st->chunked_objects, st->chunked_bytes);
	printf("chunks:             %" PRIu64 " (%" PRIu64 " bytes), %" PRIu64
	       " references (%" PRIu64 " bytes)\n",
	       st->chunks, st->chunk_bytes, st->chunk_refs,
	       st->chunk_ref_bytes);
	printf("chunk dedup ratio:  %.3f\n", st->chunk_dedup_ratio);
	printf("stored bytes:       %" PRIu64 " (%" PRIu64
	       " objects compressed)\n",
	       st->stored_bytes, st->compressed_objects);
	printf("compression ratio:  %.3f\n", st->compression_ratio);
	printf("manifest bytes:     %" PRIu64 "\n", st->manifest_bytes);
	printf("disk bytes:         %" PRIu64 "\n", st->disk_bytes);
	printf("waiting for gc:     %" PRIu64 " objects, %" PRIu64
	       " bytes\n", st->candidates, st->candidate_bytes);
	printf("L1 cache:           %" PRIu64 " of %" PRIu64 " bytes, %"
	       PRIu64 " objects\n", cs->l1.bytes, cs->l1.capacity,
	       cs->l1.entries);
	printf("L2 cache:           %" PRIu64 " of %" PRIu64 " bytes, %"
	       PRIu64 " objects\n", cs->l2.bytes, cs->l2.capacity,
	       cs->l2.entries);
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	stats_args a = {false, false};
	b3cas_store *store;
	b3cas_cache_stats cs;
	b3cas_stats st;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_stats_spec, &a, argc, argv))
		return rc;
	if (a.json && a.prometheus)
		return cli_usage_error("stats", "--json and --prometheus "
				       "cannot be used together");
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_store_stats(store, &st);
	b3cas_cache_stats_get(store, &cs);
	if (err < 0) {
		cli_error("cannot read the store's statistics: %s",
			  b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else if (a.prometheus) {
		prometheus(&st);
		prometheus_cache(&cs);
	} else if (a.json) {
		json(&st, &cs);
	} else {
		text(&st, &cs);
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
