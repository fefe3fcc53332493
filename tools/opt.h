/*
 * opt.h - one table per command that drives both its argument parsing and
 * its `--help`, so that the two cannot disagree.
 *
 * A command describes itself in a cli_spec: its name, a summary for
 * `b3cas --help`, a paragraph for its own help, its exit codes, and a
 * table of cli_opt rows ended by CLI_OPT_END. Each option row names a
 * field of the command's own arguments struct (by offset), where the
 * parser puts the value; a row with a parse function checks and converts
 * the value itself. Positional rows only name and count the arguments,
 * which the parser hands back in order.
 *
 * The parser behaves as getopt_long did before it: options and arguments
 * may be mixed, "--" ends the options, "-" is an argument, short letters
 * may be grouped ("-hl") and take their value attached or next ("-l5",
 * "-l 5"), long options take "--name VALUE" or "--name=VALUE" and may be
 * shortened to a unique prefix. -h and --help are every command's and are
 * not in the tables. Every error is a usage error (exit 2) with a message
 * and a pointer to the command's --help.
 */
#ifndef B3CAS_CLI_OPT_H
#define B3CAS_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cli_opt_kind {
	CLI_OPT_END = 0, /* ends a table */
	CLI_OPT_FLAG,    /* --name: sets the bool field to true */
	CLI_OPT_VALUE,   /* --name VALUE: the const char * field, or parse */
	CLI_OPT_ARG,     /* one positional argument */
	CLI_OPT_ARGS     /* positional arguments, any number */
} cli_opt_kind;

/*
 * Check and convert the value of option row opt into field (the row's
 * field of the arguments struct); 0, or an exit code after a message
 * (cli_usage_error(cmd, ...)).
 */
struct cli_opt;
typedef int (*cli_opt_parse_fn)(void *field, const char *value,
				const struct cli_opt *opt, const char *cmd);

typedef struct cli_opt {
	cli_opt_kind kind;
	const char *name;       /* options: the long name, without "--" */
	char letter;            /* options: the short letter, or 0 */
	const char *value;      /* the value's or the argument's name */
	const char *help;       /* one sentence, wrapped when printed */
	size_t off;             /* options: the field in the args struct */
	cli_opt_parse_fn parse; /* VALUE: NULL stores the text as given */
	bool required;          /* ARG, ARGS: at least one must be given */
	bool optional;          /* VALUE: only "--name=VALUE" gives one;
				 * plain "--name" calls parse with NULL */
	bool late;              /* cli_opt_take(late_only): taken after the
				 * command too (the global --store) */
	const char *error;      /* ARG, ARGS: the message for a wrong count;
				 * VALUE: for a missing value (NULL: a
				 * generic one) */
	uint64_t min, max;      /* cli_opt_number: the range allowed */
} cli_opt;

#define CLI_FLAG(lname, ch, type, field, text)                              \
	{.kind = CLI_OPT_FLAG, .name = (lname), .letter = (ch),              \
	 .help = (text), .off = offsetof(type, field)}
#define CLI_VALUE(lname, ch, vname, type, field, fn, text)                  \
	{.kind = CLI_OPT_VALUE, .name = (lname), .letter = (ch),             \
	 .value = (vname), .help = (text), .off = offsetof(type, field),     \
	 .parse = (fn)}
/* A whole number from lo to hi into a uint64_t field. */
#define CLI_NUMBER(lname, ch, vname, type, field, lo, hi, text)            \
	{.kind = CLI_OPT_VALUE, .name = (lname), .letter = (ch),             \
	 .value = (vname), .help = (text), .off = offsetof(type, field),     \
	 .parse = cli_opt_number, .min = (lo), .max = (hi)}
#define CLI_ARG(vname, req, err, text)                                       \
	{.kind = CLI_OPT_ARG, .value = (vname), .required = (req),           \
	 .error = (err), .help = (text)}
#define CLI_ARGS(vname, req, err, text)                                      \
	{.kind = CLI_OPT_ARGS, .value = (vname), .required = (req),          \
	 .error = (err), .help = (text)}
#define CLI_END {.kind = CLI_OPT_END}

typedef struct cli_spec {
	const char *name;    /* "gc" */
	const char *summary; /* one line in `b3cas --help` */
	const char *about;   /* the paragraphs of its help, '\n' ended */
	const char *exits;   /* "Exit codes: ...", '\n' ended */
	const cli_opt *opts; /* ended by CLI_END */
	bool store;          /* works on a store: usage shows --store */
	bool exact;          /* long names only in full, never a prefix */
} cli_spec;

/* The positional arguments, in order (pointers into argv). */
typedef struct cli_args {
	char **v;
	int n;
} cli_args;

/*
 * Parse argv[1..argc) by spec's table into base (the command's arguments
 * struct, already holding its defaults) and *pos. Returns true to go on;
 * false to stop with exit code *rc_out: CLI_OK after printing the help
 * (-h, --help), else a usage error after its message. argv is reordered:
 * pos->v points into it.
 */
/* Parse functions for values several commands take: a whole number in
 * the row's range (uint64_t; CLI_NUMBER), and a folder name that must
 * not be empty (const char *). */
int cli_opt_number(void *field, const char *value, const cli_opt *opt,
		   const char *cmd);
int cli_opt_folder(void *field, const char *value, const cli_opt *opt,
		   const char *cmd);

bool cli_opt_parse(int *rc_out, cli_args *pos, const cli_spec *spec,
		   void *base, int argc, char **argv);

/* Print the command's help, made from its table, to out. */
void cli_opt_usage(FILE *out, const cli_spec *spec);

/*
 * For the program's own options, which come before the command (and some
 * also after it): take the one option at argv[*i] if spec's table has it
 * (with late_only, only a row marked late, and not -h/--help), moving *i
 * to its value when that is the next argument. Returns 0 when taken,
 * CLI_OPT_HELP for -h/--help, CLI_OPT_UNKNOWN when the table has no such
 * option (nothing is printed), or an exit code after a message.
 */
#define CLI_OPT_HELP (-1)
#define CLI_OPT_UNKNOWN (-2)
int cli_opt_take(const cli_spec *spec, void *base, int argc, char **argv,
		 int *i, bool late_only);

/* Print the rows of the options of spec (as in its help, -h last) and
 * return nothing else: for a help that is not a command's. */
void cli_opt_rows(FILE *out, const cli_spec *spec);

#endif
