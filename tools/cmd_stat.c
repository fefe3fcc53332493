/*
 * cmd_stat.c - `b3cas stat ID...`: size, references and where each
 * object is kept.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

void cmd_stat_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] stat [--json] ID...\n"
		"\n"
		"Print each object's size in bytes, where it is kept (inline "
		"in the index,\nor a loose file) and its reference count.\n"
		"\n"
		"Exit codes: 0 ok, 1 an ID is not stored, 2 malformed ID, 3 "
		"store error.\n");
}

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_stat(cli_ctx *ctx, int argc, char **argv)
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
			cmd_stat_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("stat", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	n = argc - optind;
	if (n < 1)
		return cli_usage_error("stat", "expected an object id");
	rc = cli_parse_oids(&ids, argv + optind, n);
	if (rc != CLI_OK)
		return rc;
	rc = cli_open_store_ro(&store, ctx);
	for (int i = 0; store && i < n; i++) {
		b3cas_object_info info;
		char hex[B3CAS_OID_HEX_LEN + 1];
		int err = b3cas_store_stat(store, &ids[i], &info);

		if (err < 0) {
			cli_error("%s", b3cas_error_last());
			rc = cli_worse(rc, cli_exit_code(err, true));
			if (err != B3CAS_ENOTFOUND)
				break;
			continue;
		}
		b3cas_oid_fmt(hex, &info.id);
		if (json)
			printf("{\"id\":\"%s\",\"size\":%" PRIu64
			       ",\"refs\":%" PRIu64 ",\"inline\":%s}\n",
			       hex, info.size, info.refs,
			       info.is_inline ? "true" : "false");
		else
			printf("id: %s\nsize: %" PRIu64 "\nstorage: %s\n"
			       "refs: %" PRIu64 "\n",
			       hex, info.size,
			       info.is_inline ? "inline" : "loose",
			       info.refs);
	}
	rc = cli_close_store(store, rc);
	free(ids);
	return cli_finish_stdout(rc);
}
