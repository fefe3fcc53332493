/*
 * cmd_backup.c - `b3cas backup DEST`: copy into the b3cas store DEST every
 * object it lacks (incremental). `b3cas restore DEST` brings them back.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

void cmd_backup_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] backup [--json] DEST\n"
		"\n"
		"Copy every stored object that the b3cas store DEST lacks "
		"into it (DEST is\nmade if it is missing or empty). Only new "
		"objects are copied, each read\nverified; reference counts "
		"follow this store's. Each run is logged in\n"
		"integrity/backup/log. On a terminal a progress line is drawn "
		"on standard\nerror. To bring objects back from DEST: "
		"'b3cas restore DEST' (missing and\ndamaged objects), "
		"'b3cas recover --from DEST' (a lost index), or\n'b3cas fsck "
		"--repair --mirror DEST'.\n"
		"\n"
		"Options:\n"
		"  --json       one JSON object per object that could not be "
		"read, then the\n"
		"               summary\n"
		"  -h, --help   print this help\n"
		"\n"
		"Exit codes: 0 every object is in DEST, 1 some objects could "
		"not be read\n(corrupt or lost here: run 'b3cas fsck'), 2 "
		"usage error, 3 store error.\n");
}

typedef struct backup_print {
	bool json;
} backup_print;

static int print_failure(const b3cas_oid *id, int err, void *ctx)
{
	const backup_print *p = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1];

	cli_progress_clear();
	b3cas_oid_fmt(hex, id);
	if (p->json) {
		printf("{\"id\":\"%s\",\"error\":", hex);
		cli_json_string(stdout, b3cas_error_last());
		puts("}");
	} else {
		cli_error("%s not copied: %s (%s)", hex, b3cas_error_last(),
			  b3cas_strerror(err));
	}
	return 0;
}

static void backup_progress(const b3cas_progress *p, void *ctx)
{
	(void)ctx;
	cli_progress("backup", p, p->done == p->total);
}

enum { OPT_JSON = 256 };

static const struct option long_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

typedef struct backup_call {
	b3cas_store *store;
	const char *dest;
	const b3cas_backup_options *o;
	b3cas_backup_report *r;
} backup_call;

static int run_backup(void *arg)
{
	backup_call *c = arg;

	return b3cas_backup(c->store, c->dest, c->o, c->r);
}

int cmd_backup(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_backup_options o = B3CAS_BACKUP_OPTIONS_INIT;
	b3cas_backup_report r;
	backup_print p = {false};
	b3cas_store *store;
	int c, rc, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: p.json = true; break;
		case 'h':
			cmd_backup_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("backup", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("backup", "give exactly one "
				       "destination folder");
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	o.on_failure = print_failure;
	o.ctx = &p;
	o.progress = backup_progress;
	/* A DEST in use is refused before anything is copied: --wait
	 * retries. */
	err = cli_retry_locked(ctx, run_backup,
			       &(backup_call){store, argv[optind], &o, &r});
	cli_progress_clear();
	if (err < 0) {
		cli_error("backup to %s failed: %s", argv[optind],
			  b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else if (r.failed) {
		rc = CLI_NEGATIVE;
	}
	if (p.json) {
		printf("{\"dest\":");
		cli_json_string(stdout, argv[optind]);
		printf(",\"objects\":%" PRIu64 ",\"copied\":%" PRIu64
		       ",\"recounted\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"failed\":%" PRIu64 ",\"seconds\":%.6f}\n",
		       r.objects, r.copied, r.recounted, r.bytes, r.failed,
		       r.seconds);
	} else {
		printf("backup: %" PRIu64 " objects, %" PRIu64 " copied (%"
		       PRIu64 " bytes), %" PRIu64 " reference counts "
		       "updated, %" PRIu64 " could not be read, in %.3f s\n",
		       r.objects, r.copied, r.bytes, r.recounted, r.failed,
		       r.seconds);
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
