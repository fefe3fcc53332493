/*
 * main.c - the b3cas program: global options, then one subcommand, git
 * style: b3cas [GLOBAL OPTIONS] COMMAND [ARGS]. Global options may also
 * follow the command. Each subcommand lives in its own cmd_<name>.c and is
 * listed in the table below.
 */
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

static void main_usage(FILE *out);
static int cmd_help(cli_ctx *ctx, int argc, char **argv);

static const cli_opt help_opts[] = {
	CLI_ARG("COMMAND", false, NULL, "the command to describe"),
	CLI_END,
};

static const cli_spec cmd_help_spec = {
	.name = "help",
	.summary = "show help for a command",
	.about = "Print the help of COMMAND, or without one the list of "
		 "commands.\n",
	.exits = "Exit codes: 0 ok, 2 unknown command.\n",
	.opts = help_opts,
};

/* In the order `b3cas --help` lists them. */
static const cli_command commands[] = {
	{&cmd_init_spec, cmd_init, true},
	{&cmd_put_spec, cmd_put, true},
	{&cmd_get_spec, cmd_get, true},
	{&cmd_exists_spec, cmd_exists, false},
	{&cmd_rm_spec, cmd_rm, true},
	{&cmd_gc_spec, cmd_gc, true},
	{&cmd_backup_spec, cmd_backup, true},
	{&cmd_restore_spec, cmd_restore, true},
	{&cmd_recover_spec, cmd_recover, true},
	{&cmd_fsck_spec, cmd_fsck, true},
	{&cmd_scrub_spec, cmd_scrub, true},
	{&cmd_stats_spec, cmd_stats, false},
	{&cmd_ls_spec, cmd_ls, false},
	{&cmd_stat_spec, cmd_stat, false},
	{&cmd_hash_spec, cmd_hash, false},
	{&cmd_help_spec, cmd_help, false},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].spec->name, name) == 0)
			return &commands[i];
	return NULL;
}

static void main_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] [--wait[=DURATION]] COMMAND "
		"[ARGS]\n"
		"       b3cas --version | --help | help COMMAND\n"
		"\n"
		"A content-addressable store named by BLAKE3-256.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].spec->name,
			commands[i].spec->summary);
	fprintf(out,
		"\n"
		"Global options (before or after the command):\n"
		"  --store DIR   the store to use (default: $B3CAS_STORE, else\n"
		"                $XDG_DATA_HOME/b3cas or ~/.local/share/b3cas)\n"
		"  --wait[=DURATION]\n"
		"                when another process has the store open for\n"
		"                writing, wait for it (up to DURATION: 500ms,\n"
		"                10s, 2m; plain --wait: as long as it takes)\n"
		"                instead of failing at once\n"
		"  --version     print the version and the SIMD level in use\n"
		"  -h, --help    print this help\n"
		"\n"
		"Exit codes:\n"
		"  0  success\n"
		"  1  not found, or a negative answer (e.g. a hash mismatch)\n"
		"  2  usage or input error\n"
		"  3  store error (locked, corrupt, I/O)\n"
		"\n"
		"Environment:\n"
		"  B3CAS_STORE   default store folder\n"
		"  B3CAS_SIMD    portable|sse41|avx2|avx512: lower the SIMD "
		"level\n");
}

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd;
	cli_args pos;
	int rc;

	(void)ctx;
	if (!cli_opt_parse(&rc, &pos, &cmd_help_spec, NULL, argc, argv))
		return rc;
	if (pos.n == 0) {
		main_usage(stdout);
		return CLI_OK;
	}
	cmd = find_command(pos.v[0]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", pos.v[0]);
	cli_opt_usage(stdout, cmd->spec);
	return CLI_OK;
}

/* Warn when B3CAS_SIMD asks for something we will not do. */
static void check_simd_env(void)
{
	const char *env = getenv("B3CAS_SIMD");
	b3cas_simd want;

	if (!env || !*env)
		return;
	if (b3cas_simd_parse(&want, env) != 0) {
		cli_error("warning: B3CAS_SIMD='%s' is not one of portable, "
			  "sse41, avx2, avx512; using %s",
			  env, b3cas_simd_name());
	} else if (want > b3cas_simd_detected()) {
		cli_error("warning: B3CAS_SIMD=%s is more than this CPU "
			  "supports; using %s",
			  env, b3cas_simd_name());
	}
}

/* Take "--store DIR" or "--store=DIR" at argv[*i]; false if not one. */
static bool take_store(cli_ctx *ctx, int argc, char **argv, int *i, int *err)
{
	const char *arg = argv[*i];

	if (strncmp(arg, "--store=", 8) == 0) {
		ctx->store_dir = arg + 8;
		return true;
	}
	if (strcmp(arg, "--store") != 0)
		return false;
	if (*i + 1 >= argc) {
		*err = cli_usage_error(NULL, "--store needs a folder");
		return true;
	}
	ctx->store_dir = argv[++*i];
	return true;
}

/* Take "--wait" or "--wait=DURATION" at argv[i]; false if not one. */
static bool take_wait(cli_ctx *ctx, const char *arg, int *err)
{
	if (strcmp(arg, "--wait") == 0) {
		cli_parse_wait(&ctx->lock_timeout_ms, NULL);
		return true;
	}
	if (strncmp(arg, "--wait=", 7) != 0)
		return false;
	if (!cli_parse_wait(&ctx->lock_timeout_ms, arg + 7))
		*err = CLI_USAGE;
	return true;
}

/* Take any global option at argv[*i]; false if it is none. */
static bool take_global(cli_ctx *ctx, int argc, char **argv, int *i,
			int *err)
{
	return take_store(ctx, argc, argv, i, err) ||
	       take_wait(ctx, argv[*i], err);
}

/* Remove global options that follow the command (up to "--"). */
static int strip_late_globals(cli_ctx *ctx, int *argc, char **argv)
{
	int out = 1, err = 0;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!take_global(ctx, *argc, argv, &i, &err))
			argv[out++] = argv[i];
		if (err)
			return err;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	cli_ctx ctx;
	int i, err = 0;

	memset(&ctx, 0, sizeof(ctx));

	check_simd_env();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (take_global(&ctx, argc, argv, &i, &err)) {
			if (err)
				return err;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			main_usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--version") ||
			   !strcmp(argv[i], "-V")) {
			printf("b3cas %s (BLAKE3 SIMD level: %s)\n",
			       b3cas_version(), b3cas_simd_name());
			return CLI_OK;
		} else {
			return cli_usage_error(NULL, "unknown option '%s'",
					       argv[i]);
		}
	}
	if (i >= argc) {
		main_usage(stderr);
		return CLI_USAGE;
	}
	const cli_command *cmd = find_command(argv[i]);

	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
	argc -= i;
	argv += i;
	err = strip_late_globals(&ctx, &argc, argv);
	if (err)
		return err;
	if (cmd->writes)
		cli_signals_start();
	err = cmd->run(&ctx, argc, argv);
	if (cmd->writes)
		cli_signals_end();
	free(ctx.store_buf);
	return err;
}
