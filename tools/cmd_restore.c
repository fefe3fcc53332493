/*
 * cmd_restore.c - `b3cas restore SRC`: bring this store back from the
 * backup store SRC: the objects it lacks are copied in, the ones it holds
 * damaged are replaced, and each object that cannot be brought back is
 * named.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

static const cli_opt restore_opts[] = {
	CLI_FLAG("json", 0, cli_report, json,
		 "one JSON object per object that could not be restored, then "
		 "the summary"),
	CLI_ARG("SRC", true, "give exactly one backup folder to restore from",
		"the b3cas store to restore from"),
	CLI_END,
};

const cli_spec cmd_restore_spec = {
	.name = "restore",
	.summary = "bring missing and damaged objects back from a backup",
	.about = "Bring this store back from the b3cas store SRC (a backup, "
		 "opened read-only):\ncopy in every object of SRC that this "
		 "store has no trace of, with the\nreference count SRC "
		 "records for it, and replace every object held damaged\n"
		 "here (a loose file missing, of the wrong size or not hashing "
		 "to its id; an\ninline entry not hashing to its id) with "
		 "SRC's copy, keeping its count; the\ndamaged file goes to "
		 "integrity/quarantine/. Every object here is verified\nfirst "
		 "and a sound one is never rewritten; objects deleted here "
		 "(waiting for\ngc) are left deleted. Copies are read "
		 "verified and streamed. Each run is\nlogged in "
		 "integrity/backup/log. On a terminal a progress line is "
		 "drawn on\nstandard error.\n",
	.exits = "Exit codes: 0 every object is whole, 1 some objects could "
		 "not be restored\n(damaged here and missing or unreadable in "
		 "SRC), 2 usage error, 3 store\nerror (this store or SRC "
		 "cannot be opened, disk full, ...).\n",
	.opts = restore_opts,
	.store = true,
};

static void print_summary(const char *src, const b3cas_restore_report *r,
			  bool json)
{
	if (json) {
		printf("{\"src\":");
		cli_json_string(stdout, src);
		printf(",\"objects\":%" PRIu64 ",\"restored\":%" PRIu64
		       ",\"healed\":%" PRIu64 ",\"names\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"failed\":%" PRIu64
		       ",\"seconds\":%.6f}\n",
		       r->objects, r->restored, r->healed, r->names, r->bytes,
		       r->failed, r->seconds);
		return;
	}
	printf("restore: %" PRIu64 " objects, %" PRIu64 " restored, %" PRIu64
	       " healed (%" PRIu64 " bytes copied), %" PRIu64 " names set, %"
	       PRIu64 " could not be restored, in %.3f s\n",
	       r->objects, r->restored, r->healed, r->bytes, r->names,
	       r->failed, r->seconds);
}

int cmd_restore(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_restore_options o = B3CAS_RESTORE_OPTIONS_INIT;
	b3cas_restore_report r;
	/* The library's message names the object and says why. */
	cli_report p = {"restore", false, false};
	b3cas_store *store;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_restore_spec, &p, argc, argv))
		return rc;
	rc = cli_open_store_rw(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	o.on_failure = cli_report_copy_failure;
	o.ctx = &p;
	o.progress = cli_report_progress;
	memset(&r, 0, sizeof(r));
	err = b3cas_restore(store, pos.v[0], &o, &r);
	cli_progress_clear();
	if (err < 0) {
		cli_error("restore from %s failed: %s", pos.v[0],
			  b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else if (r.failed) {
		rc = CLI_NEGATIVE;
	}
	print_summary(pos.v[0], &r, p.json);
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
