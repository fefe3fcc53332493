/*
 * cmd_gc.c - `b3cas gc`: free the bytes of objects whose last reference
 * was removed, once they have been unreferenced for the grace period.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define DEFAULT_GRACE "1h"

typedef struct gc_args {
	bool dry_run;
	bool json;
	bool compact;
	const char *grace;
} gc_args;

static const cli_opt gc_opts[] = {
	CLI_FLAG("dry-run", 0, gc_args, dry_run,
		 "change nothing; list what would be removed"),
	CLI_VALUE("grace", 0, "DURATION", gc_args, grace, NULL,
		  "how long an object must have been unreferenced"),
	CLI_FLAG("compact", 0, gc_args, compact,
		 "then rewrite the index's tables: give back the space of "
		 "what is removed"),
	CLI_FLAG("json", 0, gc_args, json,
		 "JSON lines: each object (dry run), then the summary"),
	CLI_END,
};

const cli_spec cmd_gc_spec = {
	.name = "gc",
	.summary = "free objects that lost their last reference",
	.about = "Remove the objects that have had no reference for at least "
		 "DURATION\n(default " DEFAULT_GRACE "; e.g. 0, 90s, 10m, 2h, "
		 "7d) and free their bytes. An object\nwhose last reference "
		 "was removed is no longer stored for readers, but a put\nof "
		 "the same bytes revives it until gc removes it. Puts and gets "
		 "by other\nthreads go on while gc runs; it holds no "
		 "store-wide lock.\n\nThe index keeps the bytes of removed "
		 "objects it held (small objects, a\npacked store's chunks, "
		 "chunks rewritten as deltas) until it compacts the tables\n"
		 "that hold them, in its own time; --compact does that now, "
		 "for the whole index\n(seconds per GB of it).\n",
	.exits = "Exit codes: 0 ok, 2 usage error, 3 store error.\n",
	.opts = gc_opts,
	.store = true,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct gc_print {
	bool json;
} gc_print;

static int print_object(const b3cas_oid *id, uint64_t size, void *ctx)
{
	const gc_print *p = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, id);
	if (p->json)
		printf("{\"id\":\"%s\",\"size\":%" PRIu64 "}\n", hex, size);
	else
		printf("%s  %" PRIu64 "\n", hex, size);
	return 0;
}

int cmd_gc(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r = {0, 0, 0, 0, 0, 0.0};
	gc_args a = {false, false, false, DEFAULT_GRACE};
	gc_print p = {false};
	b3cas_store *store;
	const char *grace;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_gc_spec, &a, argc, argv))
		return rc;
	o.dry_run = a.dry_run;
	p.json = a.json;
	grace = a.grace;
	if (!cli_parse_duration(&o.grace_ns, grace))
		return cli_usage_error("gc", "invalid --grace '%s': give a "
				       "number with ms, s, m, h or d",
				       grace);
	if (o.dry_run) {
		o.on_object = print_object;
		o.ctx = &p;
	}
	rc = cli_open_store_rw(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_gc(store, &o, &r);
	if (err < 0) {
		cli_error("gc failed: %s", b3cas_error_last());
		rc = cli_exit_code(err, false);
	}
	if (rc == CLI_OK && a.compact && !o.dry_run) {
		uint64_t t0 = now_ns();

		err = b3cas_store_compact(store);
		if (err < 0) {
			cli_error("gc --compact failed: %s",
				  b3cas_error_last());
			rc = cli_exit_code(err, false);
		} else if (!p.json) {
			fprintf(stderr, "gc: index compacted in %.3f s\n",
				(double)(now_ns() - t0) * 1e-9);
		}
	}
	if (p.json)
		printf("{\"dry_run\":%s,\"objects\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"candidates\":%" PRIu64
		       ",\"young\":%" PRIu64 ",\"revived\":%" PRIu64
		       ",\"seconds\":%.6f}\n",
		       o.dry_run ? "true" : "false", r.objects, r.bytes,
		       r.candidates, r.young, r.revived, r.seconds);
	else
		printf("gc: %s %" PRIu64 " object%s, %" PRIu64 " bytes, in "
		       "%.3f s (%" PRIu64 " unreferenced, %" PRIu64
		       " within the grace period of %s)\n",
		       o.dry_run ? "would remove" : "removed", r.objects,
		       r.objects == 1 ? "" : "s", r.bytes, r.seconds,
		       r.candidates, r.young, grace);
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
