/*
 * cmd_rm.c - `b3cas rm ID...`: remove one reference to each object; an
 * object goes with its last reference (its bytes at the next `b3cas gc`).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

const cli_spec cmd_rm_spec = {
	.name = "rm",
	.summary = "remove one reference to objects",
	.about = "Remove one reference to each object; with its last "
		 "reference an object is\nno longer stored, and 'b3cas gc' "
		 "frees its bytes later. Prints\n'<id>: N references left' "
		 "or '<id>: removed' (--json:\n{\"id\": ..., \"refs_left\": "
		 "N, \"removed\": true|false}, or for an ID not done\n"
		 "{\"id\": ..., \"error\": ..., \"message\": ...}).\n",
	.exits = "Exit codes: 0 ok, 1 an ID was not stored (the others are "
		 "still done),\n2 malformed ID (nothing is done), 3 store "
		 "error.\n",
	.opts = cli_id_opts,
	.store = true,
};

static int rm_one(b3cas_store *store, const cli_id_args *a, int i)
{
	const char *hex = a->texts[i];
	int64_t left = b3cas_store_delete(store, &a->ids[i]);

	if (left < 0)
		return (int)left;
	if (a->json)
		printf("{\"id\":\"%s\",\"refs_left\":%" PRId64
		       ",\"removed\":%s}\n",
		       hex, left, left == 0 ? "true" : "false");
	else if (left == 0)
		printf("%s: removed\n", hex);
	else
		printf("%s: %" PRId64 " reference%s left\n", hex, left,
		       left == 1 ? "" : "s");
	return 0;
}

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store *store;
	cli_id_args a;
	int rc;

	if (!cli_parse_id_args(&rc, &a, &cmd_rm_spec, argc, argv))
		return rc;
	rc = cli_open_store_rw(&store, ctx);
	return cli_run_ids(ctx, &a, store, rc, rm_one);
}
