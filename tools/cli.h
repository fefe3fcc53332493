/*
 * cli.h - what the b3cas subcommands share: the context built from the
 * global options, exit codes, and small helpers for messages and input.
 *
 * The library never prints; everything the user sees is written by the
 * command-line program, data to stdout and messages to stderr.
 */
#ifndef B3CAS_CLI_H
#define B3CAS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "opt.h"

/* Exit codes, documented in docs/cli.md and `b3cas --help`. */
enum {
	CLI_OK = 0,       /* success */
	CLI_NEGATIVE = 1, /* not found, or a negative answer (a mismatch) */
	CLI_USAGE = 2,    /* usage or input error */
	CLI_STORE = 3     /* store error: locked, corrupt, I/O */
};

typedef struct cli_ctx {
	const char *store_dir; /* --store DIR, or NULL */
	char *store_buf;       /* the resolved store folder, when computed */
	/* --wait: how long an open for writing waits for another writer
	 * (b3cas_store_options.lock_timeout_ms); 0 without --wait. */
	unsigned lock_timeout_ms;
	/* --rados-timeout: a RADOS store's limit on each cluster operation
	 * (b3cas_store_options.rados_timeout_ms); 0: the library's 30 s. */
	unsigned rados_timeout_ms;
	/* Why cli_open_store failed, for JSON lines: the error's name
	 * (cli_error_name) and the message printed. */
	const char *open_error;
	char open_message[1200];
} cli_ctx;

typedef struct cli_command {
	const cli_spec *spec; /* name, help and options (opt.h) */
	int (*run)(cli_ctx *ctx, int argc, char **argv);
	bool writes; /* may leave files behind: cleaned up on a signal */
} cli_command;

/* Print "b3cas: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a usage error, point at --help, and return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse a whole decimal unsigned number (an optional leading '+' is
 * accepted, as b3sum does). Returns false on anything else or overflow.
 */
bool cli_parse_u64(uint64_t *out, const char *text);

/*
 * Parse a duration: a whole number and a unit, "ms", "s", "m", "h" or "d"
 * ("250ms", "90s", "10m"); a bare number is seconds. Returns false on
 * anything else or overflow.
 */
bool cli_parse_duration(uint64_t *ns_out, const char *text);

/*
 * Parse the value of --wait (NULL: plain --wait, no limit) into
 * *ms_out, a b3cas_store_options.lock_timeout_ms. false after a usage
 * message when it is not a duration or too long.
 */
bool cli_parse_wait(unsigned *ms_out, const char *text);

/* Write all of buf to fd; false (errno set) on failure. */
bool cli_write_all(int fd, const void *buf, size_t len);

/* Read until len bytes or end of file; returns bytes read, -1 on error. */
long long cli_read_full(int fd, void *buf, size_t len);

/* ---- the store commands (store_util.c) ---- */

struct b3cas_store;
struct b3cas_store_options;
struct b3cas_oid;

/*
 * The store folder to use: --store DIR, else $B3CAS_STORE, else
 * $XDG_DATA_HOME/b3cas, else $HOME/.local/share/b3cas. *source_out (may
 * be NULL) says which, for messages ("--store", "B3CAS_STORE", "the
 * default"). NULL, after a message, when no folder can be worked out.
 * The string lives as long as ctx.
 */
const char *cli_store_dir(cli_ctx *ctx, const char **source_out);

/* The exit code after cli_store_dir failed: 2 for an empty --store, 3
 * (no store) when no folder could be worked out (docs/cli.md). */
int cli_no_store_dir(const cli_ctx *ctx);

/*
 * The exit code for a library error, decided here only: B3CAS_EINVAL is
 * an input error (2); B3CAS_ENOTFOUND is a negative answer (1) when an
 * object was looked up (is_lookup) and a store error otherwise, as is
 * everything else (3).
 */
int cli_exit_code(int err, bool is_lookup);

/*
 * A progress line on standard error, redrawn in place, only when standard
 * error is a terminal (nothing otherwise); final ends it with a newline.
 * cli_progress counts objects (the time left from objects done of the
 * total); cli_progress_bytes counts bytes of total (0: unknown, then no
 * share and no time left are shown). cli_progress_clear erases the line
 * before other output (cli_error does so itself).
 */
struct b3cas_progress;
void cli_progress(const char *what, const struct b3cas_progress *p,
		  bool final);
void cli_progress_bytes(const char *what, uint64_t bytes, uint64_t total,
			double seconds, bool final);
void cli_progress_clear(void);

/* A restore's line: files and bytes written, of the totals once known
 * (walked), and the rate; final ends it. */
struct b3cas_tree_progress;
void cli_progress_files(const char *what, const struct b3cas_tree_progress *p,
			bool final);

/* The worse (larger) of two exit codes. */
static inline int cli_worse(int a, int b)
{
	return a > b ? a : b;
}

/*
 * Open the resolved store with opts (NULL: defaults); an open for writing
 * waits for another writer as --wait says. On failure print
 * "b3cas: cannot open the store at DIR: <library message>" and return the
 * exit code; 0 on success, with *out to close with cli_close_store.
 */
int cli_open_store(struct b3cas_store **out, cli_ctx *ctx,
		   const struct b3cas_store_options *opts);

/*
 * Call fn(arg) and, while it fails with B3CAS_ELOCKED, again, with a
 * backoff from 1 to 32 ms, for as long as --wait says (not at all without
 * it). For library calls that open a store for writing themselves
 * (recover, backup's DEST) and refuse a store in use before they change
 * anything. Returns fn's last result.
 */
int cli_retry_locked(const cli_ctx *ctx, int (*fn)(void *arg), void *arg);

/* Open read-only (get, exists, ls, stat) or for writing (put, rm). */
int cli_open_store_ro(struct b3cas_store **out, cli_ctx *ctx);
int cli_open_store_rw(struct b3cas_store **out, cli_ctx *ctx);

/*
 * Close the store; a failure of its final flush is reported and turns
 * rc into a store error. Returns the exit code to use.
 */
int cli_close_store(struct b3cas_store *store, int rc);

/*
 * Parse an object id given on the command line; on failure print
 * "b3cas: invalid id '<text>': <what is wrong>" and return false.
 */
bool cli_parse_oid(struct b3cas_oid *out, const char *text);

/*
 * Parse every id of argv[0..n) into the new array *ids_out (caller
 * frees). 0, or CLI_USAGE after a message for each malformed id, so that
 * nothing is done when one id is bad.
 */
int cli_parse_oids(struct b3cas_oid **ids_out, char **argv, int n);

/* The same; with json, also a JSON failure line (cli_json_failure) for
 * each id when one is malformed: EINVAL for it, ESKIPPED for the rest. */
int cli_parse_oids_json(struct b3cas_oid **ids_out, char **argv, int n,
			bool json);

/* What the commands that take object ids (exists, rm, stat) parse. */
typedef struct cli_id_args {
	bool json;              /* --json */
	struct b3cas_oid *ids;  /* n parsed ids; the caller frees */
	char **texts;           /* the ids as typed (borrowed from argv) */
	int n;
} cli_id_args;

/*
 * The option table of the id commands: "[--json] ID..." (the json field
 * of cli_id_args). Their specs use it with their own text.
 */
extern const cli_opt cli_id_opts[];

/*
 * Parse argv by spec (whose table is cli_id_opts) into *out: true to go
 * on; false to stop with exit code *rc_out (CLI_OK after --help; a usage
 * error for no ids or a malformed one: then nothing is done).
 */
bool cli_parse_id_args(int *rc_out, cli_id_args *out, const cli_spec *spec,
		       int argc, char **argv);

/*
 * The name of a library error code in JSON output: its B3CAS_E... name
 * without the prefix ("ENOTFOUND"); cli_errno_name converts an errno value
 * of the CLI's own file access as the library does (ENOENT: "ENOTFOUND",
 * EACCES: "EPERM", EISDIR: "EINVAL", ...). Two names are the CLI's own:
 * CLI_ENAME_CHANGED, a file that changed while put read it, and
 * CLI_ENAME_SKIPPED, an item not done because of another (docs/cli.md).
 */
#define CLI_ENAME_CHANGED "ECHANGED"
#define CLI_ENAME_SKIPPED "ESKIPPED"
const char *cli_error_name(int err);
const char *cli_errno_name(int errnum);

/*
 * A JSON line on stdout for an item that failed:
 * {"<key>":"<item>","error":"<error>","message":"<message>"}.
 */
void cli_json_failure(const char *key, const char *item, const char *error,
		      const char *message);

/*
 * For the id commands: report that item i failed with err (the library's
 * message, on stderr, and with --json a failure line), and, with --json,
 * that items from..n-1 were not done, and why.
 */
struct cli_id_args;
void cli_id_failure(const struct cli_id_args *a, int i, int err);

/*
 * What rm and stat do with each id i of a: 0 when done (and printed), or
 * the library's error.
 */
typedef int (*cli_id_fn)(struct b3cas_store *store, const cli_id_args *a,
			 int i);

/*
 * Run one over the ids of a in store (NULL: it could not be opened, and
 * rc says why): an id not stored is reported and the run goes on, another
 * error ends it; with --json the ids not done get failure lines. Then
 * close the store and free a's ids. Returns the exit code.
 */
int cli_run_ids(cli_ctx *ctx, cli_id_args *a, struct b3cas_store *store,
		int rc, cli_id_fn one);

/*
 * With --json, a failure line for each of the n items not done: the
 * store's open error when it could not be opened (opened false), else
 * CLI_ENAME_SKIPPED (an earlier error ended the run).
 */
void cli_json_not_done(const cli_ctx *ctx, bool opened, const char *key,
		       char **items, int n);

/* Write s as a JSON string (quoted, escaped) to out. */
void cli_json_string(FILE *out, const char *s);

/*
 * b3sum's names: a name holding a backslash or a newline is escaped (as
 * "\\" and "\n") and its line starts with a backslash.
 * cli_name_needs_escape says whether it must be; cli_print_name writes
 * it, escaped or not; cli_print_id_name writes the line "<hex>  <name>".
 */
bool cli_name_needs_escape(const char *name);
void cli_print_name(FILE *out, const char *name, bool escape);
void cli_print_id_name(FILE *out, const char *hex, const char *name);

/*
 * Flush stdout; on failure report it and return CLI_USAGE (standard output
 * is the user's file, like an -o FILE), else rc.
 */
int cli_finish_stdout(int rc);

/* ---- the maintenance commands' callbacks (cli_report.c) ---- */

/* The ctx of each callback below. */
typedef struct cli_report {
	const char *what; /* the command, naming its progress line */
	bool json;        /* --json: JSON lines on stdout */
	bool name_id;     /* copy failures: the library's message does not
			   * name the object; say which it is */
} cli_report;

/* A b3cas_progress callback: cli_progress named by what, ended when done
 * reaches total. */
void cli_report_progress(const struct b3cas_progress *p, void *ctx);

/* A b3cas_tree_progress callback (tree get, checkpoint restore):
 * cli_progress_files named by ctx (a const char *), ended by the last
 * call. Returns 0 (go on). */
int cli_report_tree_progress(const struct b3cas_tree_progress *p, void *ctx);

/* fsck's and scrub's on_problem: a text line (and a second for the
 * action taken), or a JSON line. Returns 0 (go on). */
struct b3cas_fsck_problem;
int cli_report_problem(const struct b3cas_fsck_problem *p, void *ctx);

/* The exit code of an fsck or scrub that ran: 1 (CLI_NEGATIVE) when it
 * found problems, or with repair when objects were lost or the index is
 * damaged (fsck cannot mend that); else 0. */
struct b3cas_fsck_report;
int cli_fsck_exit(const struct b3cas_fsck_report *f, bool repair);

/* backup's and restore's on_failure: the object not copied, on stderr,
 * or with json a line {"id":...,"error":...} on stdout. Returns 0. */
int cli_report_copy_failure(const struct b3cas_oid *id, int err, void *ctx);

/* ---- signals (cli_signal.c) ---- */

/*
 * Make SIGINT, SIGTERM and SIGHUP (unless ignored at start) interrupt the
 * registered stores and remove the registered files, then end the process
 * by the same signal. Call before any thread starts. cli_signals_end,
 * when the command is done: from then on a signal waits for the exit;
 * it does not return while a signal is being handled.
 */
void cli_signals_start(void);
void cli_signals_end(void);

/* True once a signal is being handled: messages are then dropped. */
bool cli_interrupted(void);

/* Register a store opened for writing (cli_open_store does), and forget
 * it, under cli_cleanup_lock held until it is closed (cli_close_store
 * does). */
void cli_cleanup_add_store(struct b3cas_store *store);
void cli_cleanup_forget_store_locked(struct b3cas_store *store);

/*
 * Files to remove on a signal (the temporary file of get -o). Hold the
 * lock from before the file is made until it is registered, and from
 * before it is renamed or removed until it is forgotten, so that a signal
 * finds either no file or a registered one. add returns false when out
 * of room or memory (the file is then not removed on a signal).
 */
void cli_cleanup_lock(void);
void cli_cleanup_unlock(void);
bool cli_cleanup_add_file_locked(const char *path);
void cli_cleanup_forget_file_locked(const char *path);

/* ---- the commands: cmd_<name>.c ---- */

int cmd_init(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_init_spec;
int cmd_put(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_put_spec;
int cmd_get(cli_ctx *ctx, int argc, char **argv);
int cmd_tree(cli_ctx *ctx, int argc, char **argv);
int cmd_checkpoint(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_checkpoint_spec;
int cmd_git(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_git_spec;
extern const cli_spec cmd_tree_spec;
extern const cli_spec cmd_get_spec;
int cmd_exists(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_exists_spec;
int cmd_rm(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_rm_spec;
int cmd_gc(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_gc_spec;
int cmd_backup(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_backup_spec;
int cmd_restore(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_restore_spec;
int cmd_recover(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_recover_spec;
int cmd_fsck(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_fsck_spec;
int cmd_scrub(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_scrub_spec;
int cmd_stats(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_stats_spec;
int cmd_ls(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_ls_spec;
int cmd_stat(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_stat_spec;
int cmd_hash(cli_ctx *ctx, int argc, char **argv);
extern const cli_spec cmd_hash_spec;

#endif
