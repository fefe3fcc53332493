/*
 * cmd_exists.c - `b3cas exists ID...`: answer with the exit code whether
 * every id is stored (all asked at once: b3cas_store_exists_batch, which
 * in a RADOS store asks the pool about many ids together).
 */
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

const cli_spec cmd_exists_spec = {
	.name = "exists",
	.summary = "exit 0 if objects are stored, 1 if not",
	.about = "Exit 0 when every ID is stored, 1 when one is not. Prints "
		 "nothing, or\nwith --json one line per ID: "
		 "{\"id\": ..., \"exists\": true|false}.\n",
	.exits = "Exit codes: 0 all present, 1 one or more absent, 2 malformed "
		 "ID, 3 store\nerror.\n",
	.opts = cli_id_opts,
	.store = true,
};

int cmd_exists(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store *store;
	cli_id_args a;
	int rc;

	if (!cli_parse_id_args(&rc, &a, &cmd_exists_spec, argc, argv))
		return rc;
	bool *found = calloc((size_t)a.n + 1, sizeof(*found));

	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_STORE && store && !found) {
		cli_error("out of memory");
		rc = CLI_STORE;
	}
	if (rc != CLI_STORE && store &&
	    b3cas_store_exists_batch(store, a.ids, (size_t)a.n, found) < 0) {
		cli_error("%s", b3cas_error_last());
		rc = CLI_STORE;
	}
	for (int i = 0; rc != CLI_STORE && store && i < a.n; i++) {
		if (a.json)
			printf("{\"id\":\"%s\",\"exists\":%s}\n",
			       a.texts[i], found[i] ? "true" : "false");
		if (!found[i])
			rc = cli_worse(rc, CLI_NEGATIVE);
	}
	rc = cli_close_store(store, rc);
	free(found);
	free(a.ids);
	return cli_finish_stdout(rc);
}
