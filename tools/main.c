/*
 * main.c - the b3cas program: global options, then one subcommand, git
 * style: b3cas [GLOBAL OPTIONS] COMMAND [ARGS]. Global options may also
 * follow the command. Each subcommand lives in its own cmd_<name>.c and is
 * listed in the table below.
 */
#include <stddef.h>
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

/* The program's own options, before the command (--store and --wait
 * also after it, up to a "--"). */
typedef struct main_args {
	cli_ctx ctx;
	bool version;
} main_args;

static int parse_wait(void *field, const char *value, const cli_opt *opt,
		      const char *cmd)
{
	(void)opt;
	(void)cmd;
	return cli_parse_wait(field, value) ? 0 : CLI_USAGE;
}

static int parse_rados_timeout(void *field, const char *value,
			       const cli_opt *opt, const char *cmd)
{
	uint64_t ns;

	(void)opt;
	(void)cmd;
	if (!cli_parse_duration(&ns, value) || ns < 1000000000ull ||
	    ns > 3600ull * 1000000000ull) {
		cli_usage_error(NULL, "invalid --rados-timeout '%s': give a "
				"duration from 1s to 1h, such as 10s or 2m",
				value);
		return CLI_USAGE;
	}
	*(unsigned *)field = (unsigned)(ns / 1000000);
	return 0;
}

static const cli_opt main_opts[] = {
	{.kind = CLI_OPT_VALUE, .name = "store", .value = "DIR",
	 .off = offsetof(main_args, ctx.store_dir), .late = true,
	 .error = "--store needs a folder",
	 .help = "the store to use (default: $B3CAS_STORE, else "
		 "$XDG_DATA_HOME/b3cas or ~/.local/share/b3cas)"},
	{.kind = CLI_OPT_VALUE, .name = "wait", .value = "DURATION",
	 .off = offsetof(main_args, ctx.lock_timeout_ms), .late = true,
	 .optional = true, .parse = parse_wait,
	 .help = "when another process has the store open for writing, wait "
		 "for it (up to DURATION: 500ms, 10s, 2m; plain --wait: as "
		 "long as it takes) instead of failing at once"},
	{.kind = CLI_OPT_VALUE, .name = "rados-timeout", .value = "DURATION",
	 .off = offsetof(main_args, ctx.rados_timeout_ms), .late = true,
	 .parse = parse_rados_timeout,
	 .help = "a RADOS store: how long any cluster operation may take "
		 "before the command fails with exit 3 naming the cause "
		 "(default 30s; docs/rados.md)"},
	CLI_FLAG("version", 'V', main_args, version,
		 "print the version and the SIMD level in use"),
	CLI_END,
};

static const cli_spec main_spec = {
	.opts = main_opts,
	.exact = true, /* a prefix after the command is the command's */
};

/* In the order `b3cas --help` lists them. */
static const cli_command commands[] = {
	{&cmd_init_spec, cmd_init, true},
	{&cmd_put_spec, cmd_put, true},
	{&cmd_get_spec, cmd_get, true},
	{&cmd_tree_spec, cmd_tree, true},
	{&cmd_checkpoint_spec, cmd_checkpoint, true},
	{&cmd_git_spec, cmd_git, true},
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
		"Global options (--store and --wait also after the "
		"command):\n");
	cli_opt_rows(out, &main_spec);
	fprintf(out,
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

/* Take the global options that follow the command (up to "--") out of
 * argv. */
static int strip_late_globals(main_args *g, int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		int at = i, rc;

		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		rc = cli_opt_take(&main_spec, g, *argc, argv, &i, true);
		if (rc == CLI_OPT_UNKNOWN)
			argv[out++] = argv[at];
		else if (rc != 0)
			return rc;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* Take the global options before the command: true with *i at the command,
 * else false with the exit code in *rc_out (after --help, --version, or
 * a usage error). */
static bool take_early_globals(int *rc_out, main_args *g, int argc,
			       char **argv, int *i)
{
	for (; *i < argc && argv[*i][0] == '-'; (*i)++) {
		int rc = cli_opt_take(&main_spec, g, argc, argv, i, false);

		if (rc == CLI_OPT_HELP)
			main_usage(stdout);
		else if (rc == CLI_OPT_UNKNOWN)
			rc = cli_usage_error(NULL, "unknown option '%s'",
					     argv[*i]);
		else if (rc == 0 && g->version)
			printf("b3cas %s (BLAKE3 SIMD level: %s)\n",
			       b3cas_version(), b3cas_simd_name());
		if (rc != 0 || g->version) {
			*rc_out = rc == CLI_OPT_HELP ? CLI_OK : rc;
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	main_args g;
	const cli_command *cmd;
	int i = 1, err = 0;

	memset(&g, 0, sizeof(g));
	check_simd_env();
	if (!take_early_globals(&err, &g, argc, argv, &i))
		return err;
	if (i >= argc) {
		main_usage(stderr);
		return CLI_USAGE;
	}
	cmd = find_command(argv[i]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
	argc -= i;
	argv += i;
	err = strip_late_globals(&g, &argc, argv);
	if (err)
		return err;
	if (cmd->writes)
		cli_signals_start();
	err = cmd->run(&g.ctx, argc, argv);
	if (cmd->writes)
		cli_signals_end();
	free(g.ctx.store_buf);
	return err;
}
