/*
 * cmd_ls.c - `b3cas ls`: every stored object, in id order.
 */
#include <inttypes.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct ls_opts {
	bool json;
	bool long_format;
} ls_opts;

static const cli_opt ls_table[] = {
	CLI_FLAG("long", 'l', ls_opts, long_format,
		 "also size in bytes, references, inline|loose"),
	CLI_FLAG("json", 0, ls_opts, json,
		 "one JSON object per line: id, size, refs, inline"),
	CLI_END,
};

const cli_spec cmd_ls_spec = {
	.name = "ls",
	.summary = "list stored objects",
	.about = "List every stored object's id, in id order.\n",
	.exits = "Exit codes: 0 ok, 3 store error.\n",
	.opts = ls_table,
	.store = true,
};

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

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	ls_opts o = {false, false};
	b3cas_store *store;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_ls_spec, &o, argc, argv))
		return rc;
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
