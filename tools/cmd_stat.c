/*
 * cmd_stat.c - `b3cas stat ID...`: size, references and where each
 * object is kept.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

const cli_spec cmd_stat_spec = {
	.name = "stat",
	.summary = "size, references and storage of objects",
	.about = "Print each object's size in bytes, where it is kept (inline "
		 "in the index,\nor a loose file) and its reference count. "
		 "--json: one object per line,\n{\"id\", \"size\", \"refs\", "
		 "\"inline\"}, or for an ID that failed\n{\"id\", \"error\", "
		 "\"message\"}.\n",
	.exits = "Exit codes: 0 ok, 1 an ID is not stored, 2 malformed ID, 3 "
		 "store error.\n",
	.opts = cli_id_opts,
	.store = true,
};

static int stat_one(b3cas_store *store, const cli_id_args *a, int i)
{
	b3cas_object_info info;
	char hex[B3CAS_OID_HEX_LEN + 1];
	int err = b3cas_store_stat(store, &a->ids[i], &info);

	if (err < 0)
		return err;
	b3cas_oid_fmt(hex, &info.id);
	if (a->json)
		printf("{\"id\":\"%s\",\"size\":%" PRIu64
		       ",\"refs\":%" PRIu64 ",\"inline\":%s}\n",
		       hex, info.size, info.refs,
		       info.is_inline ? "true" : "false");
	else
		printf("id: %s\nsize: %" PRIu64 "\nstorage: %s\n"
		       "refs: %" PRIu64 "\n",
		       hex, info.size, info.is_inline ? "inline" : "loose",
		       info.refs);
	return 0;
}

int cmd_stat(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store *store;
	cli_id_args a;
	int rc;

	if (!cli_parse_id_args(&rc, &a, &cmd_stat_spec, argc, argv))
		return rc;
	rc = cli_open_store_ro(&store, ctx);
	return cli_run_ids(ctx, &a, store, rc, stat_one);
}
