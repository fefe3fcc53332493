/*
 * cmd_scrub.c - `b3cas scrub`: verify the objects as fsck does, spread
 * over time: in id order, at a limited rate, keeping its place so that a
 * scrub stopped by --max-objects, a signal or a crash resumes where it
 * stopped. Its problem lines are fsck's (cli_report_problem).
 */
#include <inttypes.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct scrub_args {
	uint64_t rate_mb; /* 0: no limit */
	uint64_t max_objects;
	bool repair;
	const char *mirror;
	cli_report report; /* --json */
} scrub_args;

static const cli_opt scrub_opts[] = {
	CLI_NUMBER("rate", 0, "MB/s", scrub_args, rate_mb, 1,
		   UINT64_MAX / 1000000,
		  "hash at most this many MB per second (default: no limit)"),
	CLI_NUMBER("max-objects", 0, "N", scrub_args, max_objects, 1,
		   UINT64_MAX,
		  "stop after N objects"),
	CLI_FLAG("repair", 0, scrub_args, repair,
		 "mend what is found, as fsck --repair"),
	CLI_VALUE("mirror", 0, "DIR", scrub_args, mirror, NULL,
		  "the store to heal from"),
	CLI_FLAG("json", 0, scrub_args, report.json,
		 "JSON lines: each problem, then the summary"),
	CLI_END,
};

const cli_spec cmd_scrub_spec = {
	.name = "scrub",
	.summary = "verify objects over time, resumable, rate-limited",
	.about = "Verify the objects the way fsck does, spread over time: in "
		 "id order, at\nmost --rate MB of bytes hashed per second, "
		 "keeping its place in\nintegrity/checksums/scrub, so a scrub "
		 "that is stopped (--max-objects,\nCtrl-C, a crash) resumes "
		 "where it stopped; a finished pass starts over.\n",
	.exits = "Exit codes: 0 nothing wrong found, 1 problems found (with "
		 "--repair: objects\nlost), 2 usage error, 3 store error.\n",
	.opts = scrub_opts,
	.store = true,
};

static void print_summary(const b3cas_scrub_report *r, bool json)
{
	const b3cas_fsck_report *f = &r->found;

	if (json)
		printf("{\"objects\":%" PRIu64 ",\"bytes\":%" PRIu64
		       ",\"problems\":%" PRIu64 ",\"lost\":%" PRIu64
		       ",\"resumed\":%s,\"completed\":%s"
		       ",\"seconds\":%.6f}\n",
		       f->objects, f->bytes, f->problems, f->lost,
		       r->resumed ? "true" : "false",
		       r->completed ? "true" : "false", f->seconds);
	else
		printf("scrub: %" PRIu64 " objects, %" PRIu64
		       " bytes in %.3f s, %" PRIu64 " problem%s; %s%s\n",
		       f->objects, f->bytes, f->seconds, f->problems,
		       f->problems == 1 ? "" : "s",
		       r->resumed ? "resumed, " : "",
		       r->completed ? "pass complete"
				    : "stopped: the next scrub resumes here");
}

int cmd_scrub(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_scrub_options o = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_scrub_report r;
	scrub_args a = {0, 0, false, NULL, {"scrub", false, false}};
	b3cas_store *store;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_scrub_spec, &a, argc, argv))
		return rc;
	o.rate_bytes = a.rate_mb * 1000000;
	o.max_objects = a.max_objects;
	o.repair = a.repair;
	so.mirror_dir = a.mirror;
	o.on_problem = cli_report_problem;
	o.ctx = &a.report;
	o.progress = cli_report_progress;
	so.read_only = !o.repair;
	so.l1_bytes = 0;
	rc = cli_open_store(&store, ctx, &so);
	if (rc != CLI_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	err = b3cas_scrub(store, &o, &r);
	if (err < 0) {
		cli_error("scrub could not run: %s", b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else {
		print_summary(&r, a.report.json);
		rc = cli_fsck_exit(&r.found, o.repair);
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
