/*
 * cmd_backup.c - `b3cas backup DEST`: copy into the b3cas store DEST every
 * object it lacks (incremental). `b3cas restore DEST` brings them back.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

static const cli_opt backup_opts[] = {
	CLI_FLAG("json", 0, cli_report, json,
		 "one JSON object per object that could not be read, then the "
		 "summary"),
	CLI_ARG("DEST", true, "give exactly one destination folder",
		"the b3cas store to copy into"),
	CLI_END,
};

const cli_spec cmd_backup_spec = {
	.name = "backup",
	.summary = "copy the objects another store lacks into it",
	.about = "Copy every stored object that the b3cas store DEST lacks "
		 "into it (DEST is\nmade if it is missing or empty). Only new "
		 "objects are copied, each read\nverified; reference counts "
		 "follow this store's. Each run is logged in\n"
		 "integrity/backup/log. On a terminal a progress line is drawn "
		 "on standard\nerror. To bring objects back from DEST: "
		 "'b3cas restore DEST' (missing and\ndamaged objects), "
		 "'b3cas recover --from DEST' (a lost index), or\n'b3cas fsck "
		 "--repair --mirror DEST'.\n",
	.exits = "Exit codes: 0 every object is in DEST, 1 some objects could "
		 "not be read\n(corrupt or lost here: run 'b3cas fsck'), 2 "
		 "usage error, 3 store error.\n",
	.opts = backup_opts,
	.store = true,
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
	cli_report p = {"backup", false, true};
	b3cas_store *store;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_backup_spec, &p, argc, argv))
		return rc;
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	o.on_failure = cli_report_copy_failure;
	o.ctx = &p;
	o.progress = cli_report_progress;
	/* A DEST in use is refused before anything is copied: --wait
	 * retries. */
	err = cli_retry_locked(ctx, run_backup,
			       &(backup_call){store, pos.v[0], &o, &r});
	cli_progress_clear();
	if (err < 0) {
		cli_error("backup to %s failed: %s", pos.v[0],
			  b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else if (r.failed) {
		rc = CLI_NEGATIVE;
	}
	if (p.json) {
		printf("{\"dest\":");
		cli_json_string(stdout, pos.v[0]);
		printf(",\"objects\":%" PRIu64 ",\"copied\":%" PRIu64
		       ",\"recounted\":%" PRIu64 ",\"names\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"seconds\":%.6f}\n",
		       r.objects, r.copied, r.recounted, r.names, r.bytes,
		       r.failed, r.seconds);
	} else {
		printf("backup: %" PRIu64 " objects, %" PRIu64 " copied (%"
		       PRIu64 " bytes), %" PRIu64 " reference counts "
		       "updated, %" PRIu64 " names set, %" PRIu64 " could "
		       "not be read, in %.3f s\n",
		       r.objects, r.copied, r.bytes, r.recounted, r.names,
		       r.failed, r.seconds);
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
