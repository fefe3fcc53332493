/*
 * cmd_init.c - `b3cas init`: create a store in the resolved folder, with
 * its hash and inline threshold fixed for life.
 *
 * Creating is never destructive: a folder that already is a store is left
 * exactly as it is (exit 1, "already a b3cas store"), and a folder holding
 * anything an interrupted init would not have left, at any depth, is
 * refused by the library (B3CAS_EFORMAT, exit 3), as is an --objects-dir
 * that another store has marked as its own; either way nothing is
 * changed. Missing parent folders are created, so the default
 * ~/.local/share/b3cas works on a fresh account.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct init_opts {
	b3cas_hash_algo hash;
	uint64_t inline_threshold; /* 0: the library's default */
	const char *objects_dir; /* NULL: <store>/objects */
	bool json;
	bool chunking;
	uint64_t chunk_avg;      /* 0: the library's default */
	bool compress;
	uint64_t compress_level; /* 0: the default level below */
	uint64_t pack_level;     /* 0: the default below */
	bool no_pack;
	const char *rados_pool;  /* --rados POOL: a RADOS store */
	const char *ceph_conf;
	const char *rados_ns;
} init_opts;

/*
 * --compress without --compress-level (docs/compression.md, "Levels"):
 * level 3 for a packed store's blocks, compressed on RocksDB's threads
 * when they are flushed and again each time a compaction rewrites them,
 * and for what is kept as a frame of its own (delta chunks). On the
 * sandbox corpus level 6 blocks took 3.3% less room than level 3 for
 * 2.3 s more of a 30 s ingest; on 20 steps of checkpoint_series.sh,
 * whose rewritten chunks make RocksDB rewrite the data family often,
 * level 3 blocks made creates 22% faster (1.83 -> 1.43 s) for 0.75% more
 * bytes a step, and level 3 delta frames 16% faster again (1.50 ->
 * 1.26 s) for 1.1% more (levels 4 and 5: the same bytes as 3). --no-pack
 * keeps a frame per object, compressed on the put's own thread, at
 * level 3 as before.
 */
#define CLI_COMPRESS_LEVEL_PACKED 3
#define CLI_PACK_LEVEL 3
#define CLI_COMPRESS_LEVEL_FRAMES 3

static int parse_hash(void *field, const char *value, const cli_opt *opt,
		      const char *cmd)
{
	b3cas_hash_algo *hash = field;

	(void)opt;
	if (strcmp(value, "blake3") == 0)
		*hash = B3CAS_HASH_BLAKE3;
	else if (strcmp(value, "sha256") == 0)
		*hash = B3CAS_HASH_SHA256;
	else
		return cli_usage_error(cmd, "--hash must be blake3 or sha256, "
				       "not '%s'", value);
	return 0;
}

/* The help below states both numbers. */
_Static_assert(B3CAS_INLINE_THRESHOLD_DEFAULT == 65536u &&
		       B3CAS_INLINE_THRESHOLD_MAX == 1048576u,
	       "update the help of --inline-threshold");

static const cli_opt init_table[] = {
	CLI_VALUE("hash", 0, "blake3|sha256", init_opts, hash, parse_hash,
		  "the hash naming objects (default blake3); sha256 is a "
		  "comparison mode for benchmarks"),
	CLI_NUMBER("inline-threshold", 0, "BYTES", init_opts,
		   inline_threshold, 1, B3CAS_INLINE_THRESHOLD_MAX,
		  "objects up to this size live in the index (default 65536, "
		  "at most 1048576)"),
	CLI_VALUE("objects-dir", 0, "DIR", init_opts, objects_dir,
		  cli_opt_folder,
		  "keep loose objects in DIR (e.g. a larger, slower disk) "
		  "instead of the store folder; recorded in b3cas.conf (see "
		  "docs/cache.md); DIR is marked as this store's and refused to "
		  "any other"),
	CLI_FLAG("chunking", 0, init_opts, chunking,
		 "store objects larger than the largest chunk as FastCDC "
		 "chunks plus a manifest, so equal runs of bytes in different "
		 "objects are stored once (docs/chunked-objects.md)"),
	CLI_NUMBER("chunk-avg", 0, "BYTES", init_opts, chunk_avg, 1,
		   B3CAS_CHUNK_AVG_MAX,
		   "the average chunk size, a power of two from 256 to 65536 "
		   "(default 4096; implies --chunking)"),
	CLI_FLAG("compress", 0, init_opts, compress,
		 "compress chunks and objects kept in the index with zstd: "
		 "packed in the order they arrive and compressed 64 KiB at a "
		 "time (level 3)"),
	CLI_NUMBER("compress-level", 0, "N", init_opts, compress_level, 1,
		   19, "the zstd level, 1 to 19 (implies --compress; with "
		   "--pack-level, of delta chunks alone)"),
	CLI_NUMBER("pack-level", 0, "N", init_opts, pack_level, 1, 19,
		   "the zstd level, 1 to 19, of packed blocks (default 3; "
		   "implies --compress)"),
	CLI_FLAG("no-pack", 0, init_opts, no_pack,
		 "with compression, a zstd frame per chunk or object where "
		 "that saves enough (level 3), as stores of earlier versions "
		 "(implies --compress)"),
	CLI_VALUE("rados", 0, "POOL", init_opts, rados_pool, NULL,
		  "keep the objects and their reference counts in Ceph RADOS "
		  "pool POOL, shared with other hosts' stores on it; the "
		  "folder keeps this host's index and caches (docs/rados.md)"),
	CLI_VALUE("ceph-conf", 0, "FILE", init_opts, ceph_conf, NULL,
		  "with --rados: the cluster's ceph.conf (default: librados's "
		  "own search); recorded"),
	CLI_VALUE("rados-namespace", 0, "NS", init_opts, rados_ns, NULL,
		  "with --rados: the namespace in the pool (default none); "
		  "recorded"),
	CLI_FLAG("json", 0, init_opts, json,
		 "print the result as a JSON object"),
	CLI_END,
};

const cli_spec cmd_init_spec = {
	.name = "init",
	.summary = "create a store",
	.about = "Create a store in the store folder (--store DIR, else "
		 "$B3CAS_STORE, else\n$XDG_DATA_HOME/b3cas or "
		 "~/.local/share/b3cas). The folder must be missing,\nempty, "
		 "or left by an interrupted init; missing parent folders are "
		 "created.\n",
	.exits = "Exit codes: 0 created, 1 already a b3cas store (left "
		 "unchanged), 2 usage\nerror, 3 store error (the folder or DIR "
		 "holds other files or DIR belongs\nto another store: nothing "
		 "is changed; locked; I/O).\n",
	.opts = init_table,
	.store = true,
};

/* mkdir -p of every folder above dir (dir itself is the library's). */
static int make_parents(const char *dir)
{
	char *path = strdup(dir);
	int rc = CLI_OK;

	if (!path) {
		cli_error("out of memory");
		return CLI_STORE;
	}
	for (char *p = strrchr(path, '/'); p && p > path; p = NULL) {
		*p = '\0';
		for (char *q = path + 1; q <= p; q++) {
			if (*q != '/' && *q != '\0')
				continue;
			char saved = *q;

			*q = '\0';
			if (mkdir(path, 0755) != 0 && errno != EEXIST) {
				cli_error("cannot create folder %s: %s", path,
					  strerror(errno));
				rc = CLI_STORE;
			}
			*q = saved;
			if (rc != CLI_OK)
				goto out;
		}
	}
out:
	free(path);
	return rc;
}

static void print_result(const init_opts *o, const char *dir,
			 const b3cas_store_info *info, bool created)
{
	const char *hash = b3cas_hash_algo_name(info->hash);

	if (o->json) {
		fputs("{\"store\":", stdout);
		cli_json_string(stdout, dir);
		printf(",\"created\":%s,\"hash\":\"%s\","
		       "\"inline_threshold\":%zu,\"format_version\":%u,"
		       "\"chunk_avg\":%u,\"compression_level\":%d,"
		       "\"packed\":%s,\"pack_level\":%d,\"objects_dir\":",
		       created ? "true" : "false", hash,
		       info->inline_threshold, info->format_version,
		       info->chunk_avg, info->compression_level,
		       info->packed ? "true" : "false", info->pack_level);
		cli_json_string(stdout, info->objects_dir);
		fputs("}\n", stdout);
	} else if (created) {
		printf("Created b3cas store %s (hash %s, inline threshold %zu "
		       "bytes, objects in %s)\n", dir, hash,
		       info->inline_threshold, info->objects_dir);
		if (info->chunk_avg)
			printf("Chunking: FastCDC, chunks of %u..%u bytes, "
			       "about %u on average\n", info->chunk_min,
			       info->chunk_max, info->chunk_avg);
		if (info->packed)
			printf("Compression: zstd level %d, packed in 64 KiB "
			       "blocks (delta chunks level %d)\n",
			       info->pack_level, info->compression_level);
		else if (info->compression_level)
			printf("Compression: zstd level %d, a frame per "
			       "object\n", info->compression_level);
	}
	if (!created)
		cli_error("%s is already a b3cas store (hash %s, inline "
			  "threshold %zu bytes); nothing changed", dir, hash,
			  info->inline_threshold);
}

/* The folder already holds a store: describe it, change nothing. */
static int report_existing(cli_ctx *ctx, const init_opts *o, const char *dir)
{
	b3cas_store *store;
	b3cas_store_info info;
	int rc = cli_open_store_ro(&store, ctx);

	if (rc != CLI_OK)
		return rc;
	b3cas_store_info_get(&info, store);
	print_result(o, dir, &info, false);
	return cli_close_store(store, CLI_NEGATIVE);
}

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store_options opts = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store_info info;
	b3cas_store *store = NULL;
	init_opts o = {B3CAS_HASH_BLAKE3, 0, NULL, false, false, 0, false, 0,
		       0, false, NULL, NULL, NULL};
	const char *dir;
	char *conf = NULL;
	cli_args pos;
	int rc;

	if (!cli_opt_parse(&rc, &pos, &cmd_init_spec, &o, argc, argv))
		return rc;
	if (o.chunk_avg && (o.chunk_avg < B3CAS_CHUNK_AVG_MIN ||
			    (o.chunk_avg & (o.chunk_avg - 1))))
		return cli_usage_error("init", "--chunk-avg must be a power of "
				       "two from %u to %u, not %llu",
				       B3CAS_CHUNK_AVG_MIN, B3CAS_CHUNK_AVG_MAX,
				       (unsigned long long)o.chunk_avg);
	if ((o.chunking || o.chunk_avg) && o.hash == B3CAS_HASH_SHA256)
		return cli_usage_error("init", "--chunking needs --hash blake3 "
				       "(chunks are named by BLAKE3)");
	if ((o.ceph_conf || o.rados_ns) && !o.rados_pool)
		return cli_usage_error("init", "--ceph-conf and "
				       "--rados-namespace go with --rados POOL");
	if (o.rados_pool && (o.chunking || o.chunk_avg || o.compress ||
			     o.compress_level || o.pack_level || o.no_pack ||
			     o.objects_dir || o.inline_threshold))
		return cli_usage_error("init", "--rados keeps every object "
				       "whole in the pool: not with chunking, "
				       "compression, --objects-dir or "
				       "--inline-threshold");
	if (o.pack_level && o.no_pack)
		return cli_usage_error("init", "--pack-level is the level of "
				       "packed blocks: not with --no-pack");
	dir = cli_store_dir(ctx, NULL);
	if (!dir)
		return cli_no_store_dir(ctx);
	if (asprintf(&conf, "%s/b3cas.conf", dir) < 0) {
		cli_error("out of memory");
		return CLI_STORE;
	}
	if (access(conf, F_OK) == 0) {
		rc = report_existing(ctx, &o, dir);
		goto out;
	}
	rc = make_parents(dir);
	if (rc != CLI_OK)
		goto out;
	opts.create = true;
	opts.hash = o.hash;
	opts.inline_threshold = (size_t)o.inline_threshold;
	opts.objects_dir = o.objects_dir;
	if (o.chunking || o.chunk_avg) {
		opts.chunking = B3CAS_CHUNKING_ON;
		opts.chunk_avg = (uint32_t)o.chunk_avg;
	}
	if (o.compress || o.compress_level || o.no_pack || o.pack_level) {
		opts.packing = o.no_pack ? B3CAS_PACKING_OFF
					 : B3CAS_PACKING_ON;
		opts.compression_level =
			o.compress_level ? (int)o.compress_level
			: o.no_pack	 ? CLI_COMPRESS_LEVEL_FRAMES
					 : CLI_COMPRESS_LEVEL_PACKED;
		/* --compress-level N alone: N for everything */
		opts.pack_level = o.pack_level	   ? (int)o.pack_level
				  : o.compress_level ? 0
						     : CLI_PACK_LEVEL;
	}
	opts.rados_pool = o.rados_pool;
	opts.rados_conf = o.ceph_conf;
	opts.rados_namespace = o.rados_ns;
	opts.l1_bytes = 0; /* one command: nothing to cache */
	rc = cli_open_store(&store, ctx, &opts);
	if (rc != CLI_OK)
		goto out;
	b3cas_store_info_get(&info, store);
	print_result(&o, dir, &info, true);
	if (o.rados_pool && !o.json)
		printf("Objects and their reference counts: RADOS pool %s%s%s"
		       "\n", o.rados_pool, o.rados_ns ? ", namespace " : "",
		       o.rados_ns ? o.rados_ns : "");
	if (info.hash == B3CAS_HASH_SHA256)
		cli_error("note: this store names objects by SHA-256, a "
			  "comparison mode for benchmarks; its ids are not "
			  "BLAKE3 hashes and do not match b3sum");
	rc = cli_close_store(store, CLI_OK);
out:
	free(conf);
	return cli_finish_stdout(rc);
}
