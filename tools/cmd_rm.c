/*
 * cmd_rm.c - `b3cas rm ID...`: remove one reference to each object; an
 * object goes with its last reference.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

void cmd_rm_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] rm [--json] ID...\n"
		"\n"
		"Remove one reference to each object; an object is removed "
		"with its last\nreference. Prints '<id>: N references left' "
		"or '<id>: removed' (--json:\n{\"id\": ..., \"refs_left\": "
		"N, \"removed\": true|false}).\n"
		"\n"
		"Exit codes: 0 ok, 1 an ID was not stored (the others are "
		"still done),\n2 malformed ID (nothing is done), 3 store "
		"error.\n");
}

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
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
			cmd_rm_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("rm", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	n = argc - optind;
	if (n < 1)
		return cli_usage_error("rm", "expected an object id");
	rc = cli_parse_oids(&ids, argv + optind, n);
	if (rc != CLI_OK)
		return rc;
	rc = cli_open_store_rw(&store, ctx);
	for (int i = 0; store && i < n; i++) {
		const char *hex = argv[optind + i];
		int64_t left = b3cas_store_delete(store, &ids[i]);

		if (left < 0) {
			cli_error("%s", b3cas_error_last());
			rc = cli_worse(rc, cli_exit_code((int)left, true));
			if (left != B3CAS_ENOTFOUND)
				break;
			continue;
		}
		if (json)
			printf("{\"id\":\"%s\",\"refs_left\":%" PRId64
			       ",\"removed\":%s}\n",
			       hex, left, left == 0 ? "true" : "false");
		else if (left == 0)
			printf("%s: removed\n", hex);
		else
			printf("%s: %" PRId64 " reference%s left\n", hex, left,
			       left == 1 ? "" : "s");
	}
	rc = cli_close_store(store, rc);
	free(ids);
	return cli_finish_stdout(rc);
}
