/*
 * cmd_exists.c - `b3cas exists ID...`: answer with the exit code whether
 * every id is stored.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

void cmd_exists_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] exists [--json] ID...\n"
		"\n"
		"Exit 0 when every ID is stored, 1 when one is not. Prints "
		"nothing, or\nwith --json one line per ID: "
		"{\"id\": ..., \"exists\": true|false}.\n"
		"\n"
		"Exit codes: 0 all present, 1 one or more absent, 2 malformed "
		"ID, 3 store\nerror.\n");
}

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_exists(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store *store;
	b3cas_oid *ids;
	bool json = false;
	int c, n, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h':
			cmd_exists_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("exists", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	n = argc - optind;
	if (n < 1)
		return cli_usage_error("exists", "expected an object id");
	rc = cli_parse_oids(&ids, argv + optind, n);
	if (rc != CLI_OK)
		return rc;
	rc = cli_open_store_ro(&store, ctx);
	for (int i = 0; rc != CLI_STORE && store && i < n; i++) {
		int got = b3cas_store_exists(store, &ids[i]);

		if (got < 0) {
			cli_error("%s: %s", argv[optind + i],
				  b3cas_error_last());
			rc = CLI_STORE;
			break;
		}
		if (json)
			printf("{\"id\":\"%s\",\"exists\":%s}\n",
			       argv[optind + i], got ? "true" : "false");
		if (!got)
			rc = cli_worse(rc, CLI_NEGATIVE);
	}
	rc = cli_close_store(store, rc);
	free(ids);
	return cli_finish_stdout(rc);
}
