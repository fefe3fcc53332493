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

/* Exit codes, documented in docs/cli.md and `b3cas --help`. */
enum {
	CLI_OK = 0,       /* success */
	CLI_NEGATIVE = 1, /* not found, or a negative answer (a mismatch) */
	CLI_USAGE = 2,    /* usage or input error */
	CLI_STORE = 3     /* store error: locked, corrupt, I/O */
};

typedef struct cli_ctx {
	const char *store_dir; /* --store DIR, or NULL */
} cli_ctx;

typedef struct cli_command {
	const char *name;
	int (*run)(cli_ctx *ctx, int argc, char **argv);
	void (*usage)(FILE *out);
	const char *summary;
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

/* Write all of buf to fd; false (errno set) on failure. */
bool cli_write_all(int fd, const void *buf, size_t len);

/* Read until len bytes or end of file; returns bytes read, -1 on error. */
long long cli_read_full(int fd, void *buf, size_t len);

int cmd_hash(cli_ctx *ctx, int argc, char **argv);
void cmd_hash_usage(FILE *out);

#endif
