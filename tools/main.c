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
static void cmd_help_usage(FILE *out);

static const cli_command commands[] = {
	{"init", cmd_init, cmd_init_usage, "create a store", true},
	{"put", cmd_put, cmd_put_usage, "store files or stdin, print their ids",
	 true},
	{"get", cmd_get, cmd_get_usage, "write an object's bytes", true},
	{"exists", cmd_exists, cmd_exists_usage,
	 "exit 0 if objects are stored, 1 if not", false},
	{"rm", cmd_rm, cmd_rm_usage, "remove one reference to objects", true},
	{"gc", cmd_gc, cmd_gc_usage,
	 "free objects that lost their last reference", true},
	{"backup", cmd_backup, cmd_backup_usage,
	 "copy the objects another store lacks into it", true},
	{"restore", cmd_restore, cmd_restore_usage,
	 "bring missing and damaged objects back from a backup", true},
	{"recover", cmd_recover, cmd_recover_usage,
	 "rebuild a lost or damaged index", true},
	{"fsck", cmd_fsck, cmd_fsck_usage,
	 "check every object and the index; --repair mends", true},
	{"scrub", cmd_scrub, cmd_scrub_usage,
	 "verify objects over time, resumable, rate-limited", true},
	{"stats", cmd_stats, cmd_stats_usage,
	 "objects, bytes and dedup ratio of the store", false},
	{"ls", cmd_ls, cmd_ls_usage, "list stored objects", false},
	{"stat", cmd_stat, cmd_stat_usage,
	 "size, references and storage of objects", false},
	{"hash", cmd_hash, cmd_hash_usage,
	 "print or check BLAKE3 hashes of files (like b3sum)", false},
	{"help", cmd_help, cmd_help_usage, "show help for a command", false},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
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
		fprintf(out, "  %-8s %s\n", commands[i].name,
			commands[i].summary);
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

static void cmd_help_usage(FILE *out)
{
	fprintf(out, "Usage: b3cas help [COMMAND]\n");
}

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd;

	(void)ctx;
	if (argc < 2) {
		main_usage(stdout);
		return CLI_OK;
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
	cmd->usage(stdout);
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
