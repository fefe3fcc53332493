/*
 * cmd_ls.c - `b3cas ls`: every stored object, in id order.
 */
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct ls_opts {
	bool json;
	bool long_format;
} ls_opts;

void cmd_ls_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] ls [--long] [--json]\n"
		"\n"
		"List every stored object's id, in id order.\n"
		"\n"
		"Options:\n"
		"  -l, --long   also size in bytes, references, inline|loose\n"
		"  --json       one JSON object per line: id, size, refs, "
		"inline\n"
		"  -h, --help   print this help\n"
		"\n"
		"Exit codes: 0 ok, 3 store error.\n");
}

static int print_object(const b3cas_object_info *info, void *arg)
{
	const ls_opts *o = arg;
	char hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, &info->id);
	if (o->json)
		printf("{\"id\":\"%s\",\"size\":%" PRIu64 ",\"refs\":%" PRIu64
		       ",\"inline\":%s}\n",
		       hex, info->size, info->refs,
		       info->is_inline ? "true" : "false");
	else if (o->long_format)
		printf("%s %12" PRIu64 " %6" PRIu64 " %s\n", hex, info->size,
		       info->refs, info->is_inline ? "inline" : "loose");
	else
		printf("%s\n", hex);
	return ferror(stdout) ? 1 : 0;
}

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"long", no_argument, NULL, 'l'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	ls_opts o = {false, false};
	b3cas_store *store;
	int c, rc, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hl", long_options, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'l': o.long_format = true; break;
		case 'h':
			cmd_ls_usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error("ls", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("ls", "unexpected argument '%s'",
				       argv[optind]);
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_store_foreach(store, print_object, &o);
	if (err < 0) {
		cli_error("cannot list the store: %s", b3cas_error_last());
		rc = CLI_STORE;
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
