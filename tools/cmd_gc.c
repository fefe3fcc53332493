/*
 * cmd_gc.c - `b3cas gc`: free the bytes of objects whose last reference
 * was removed, once they have been unreferenced for the grace period.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define DEFAULT_GRACE "1h"

void cmd_gc_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] gc [--dry-run] [--grace DURATION] "
		"[--json]\n"
		"\n"
		"Remove the objects that have had no reference for at least "
		"DURATION\n(default " DEFAULT_GRACE "; e.g. 0, 90s, 10m, 2h, "
		"7d) and free their bytes. An object\nwhose last reference "
		"was removed is no longer stored for readers, but a put\nof "
		"the same bytes revives it until gc removes it. Puts and gets "
		"by other\nthreads go on while gc runs; it holds no "
		"store-wide lock.\n"
		"\n"
		"Options:\n"
		"  --dry-run          change nothing; list what would be "
		"removed\n"
		"  --grace DURATION   how long an object must have been "
		"unreferenced\n"
		"  --json             JSON lines: each object (dry run), then "
		"the summary\n"
		"  -h, --help         print this help\n"
		"\n"
		"Exit codes: 0 ok, 2 usage error, 3 store error.\n");
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

enum { OPT_DRY_RUN = 256, OPT_GRACE, OPT_JSON };

static const struct option long_options[] = {
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_gc(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r = {0, 0, 0, 0, 0, 0.0};
	gc_print p = {false};
	b3cas_store *store;
	const char *grace = DEFAULT_GRACE;
	int c, rc, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_DRY_RUN: o.dry_run = true; break;
		case OPT_GRACE: grace = optarg; break;
		case OPT_JSON: p.json = true; break;
		case 'h':
			cmd_gc_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("gc", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("gc", "unexpected argument '%s'",
				       argv[optind]);
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
