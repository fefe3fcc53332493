/*
 * opt.c - the one parser and the one help printer of the command tables
 * (opt.h). Invariants: a row is found by its long name (exactly, else by
 * the only long name it starts) or by its letter; help is the last row of
 * every table; a positional argument is never taken for an option value
 * unless it follows an option that needs one.
 */
#include "opt.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "cli.h"

#define HELP_WIDTH 79 /* wrap help text before this column */
#define HELP_COL_MAX 30 /* the widest label column */

/* Every table's last row; take() handles it, never writing its field. */
static const cli_opt help_row =
	CLI_FLAG("help", 'h', cli_args, n, "print this help");

static bool is_option(const cli_opt *o)
{
	return o->kind == CLI_OPT_FLAG || o->kind == CLI_OPT_VALUE;
}

/* The option rows of s in order, help last; NULL after it. */
static const cli_opt *next_option(const cli_spec *s, const cli_opt *o)
{
	if (o == &help_row)
		return NULL;
	for (o = o ? o + 1 : s->opts; o->kind != CLI_OPT_END; o++)
		if (is_option(o))
			return o;
	return &help_row;
}

#define FOR_OPTIONS(o, s)                                                   \
	for (const cli_opt *o = next_option(s, NULL); o;                     \
	     o = next_option(s, o))

/* The row of long name name[0..len): exact, else the only one it starts;
 * NULL when none, or several (*ambiguous). */
static const cli_opt *find_long(const cli_spec *s, const char *name,
				size_t len, bool *ambiguous)
{
	const cli_opt *found = NULL;
	int starts = 0;

	FOR_OPTIONS(o, s) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (o->name[len] == '\0')
			return o;
		if (s->exact)
			continue;
		found = o;
		starts++;
	}
	*ambiguous = starts > 1;
	return starts == 1 ? found : NULL;
}

static const cli_opt *find_letter(const cli_spec *s, char c)
{
	FOR_OPTIONS(o, s)
		if (o->letter == c)
			return o;
	return NULL;
}

/* ---- parsing ---- */

typedef struct parser {
	const cli_spec *spec;
	void *base;
	int argc;
	char **argv;
	int i;    /* the argument being read */
	bool help;
} parser;

/* Store value (NULL for a flag) for row o. 0 or an exit code. */
static int take(parser *p, const cli_opt *o, const char *value)
{
	char *field = (char *)p->base + o->off;

	if (o == &help_row) {
		p->help = true;
		return 0;
	}
	if (o->kind == CLI_OPT_FLAG) {
		*(bool *)field = true;
		return 0;
	}
	if (o->parse)
		return o->parse(field, value, o, p->spec->name);
	*(const char **)field = value;
	return 0;
}

/* The next argument, as an option's value; NULL if there is none. */
static const char *next_value(parser *p)
{
	return p->i + 1 < p->argc ? p->argv[++p->i] : NULL;
}

/* "--name", "--name=VALUE" or "--name VALUE" at argv[i]. */
static int take_long(parser *p, const char *arg)
{
	const char *name = arg + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	bool ambiguous = false;
	const cli_opt *o = find_long(p->spec, name, len, &ambiguous);
	const char *value = eq ? eq + 1 : NULL;

	if (!o)
		return cli_usage_error(p->spec->name, "%s option '%s'",
				       ambiguous ? "ambiguous" : "unknown",
				       arg);
	if (o->kind == CLI_OPT_FLAG && eq)
		return cli_usage_error(p->spec->name, "option '--%s' takes "
				       "no value", o->name);
	if (o->kind == CLI_OPT_VALUE && !value && !o->optional &&
	    !(value = next_value(p))) {
		if (o->error)
			return cli_usage_error(p->spec->name, "%s", o->error);
		return cli_usage_error(p->spec->name, "option '%s' needs a "
				       "value", arg);
	}
	return take(p, o, value);
}

/* "-abc", "-lVALUE" or "-l VALUE" at argv[i]. */
static int take_letters(parser *p, const char *arg)
{
	for (const char *c = arg + 1; *c && !p->help; c++) {
		const cli_opt *o = find_letter(p->spec, *c);
		const char *value;

		if (!o)
			return cli_usage_error(p->spec->name, "unknown option "
					       "'-%c'", *c);
		if (o->kind == CLI_OPT_FLAG) {
			take(p, o, NULL);
			continue;
		}
		value = c[1] ? c + 1 : next_value(p);
		if (!value)
			return cli_usage_error(p->spec->name, "option '-%c' "
					       "needs a value", *c);
		return take(p, o, value);
	}
	return 0;
}

/* Check the count of positional arguments against the table. */
static int check_count(const cli_spec *s, const cli_args *pos)
{
	const char *error = NULL, *first = NULL;
	int min = 0, max = 0;

	for (const cli_opt *o = s->opts; o->kind != CLI_OPT_END; o++) {
		if (is_option(o))
			continue;
		min += o->required;
		max = o->kind == CLI_OPT_ARGS || max == INT_MAX ? INT_MAX
								: max + 1;
		error = error ? error : o->error;
		first = first ? first : o->value;
	}
	if (pos->n >= min && pos->n <= max)
		return 0;
	if (error)
		return cli_usage_error(s->name, "%s", error);
	if (pos->n > max)
		return cli_usage_error(s->name, "unexpected argument '%s'",
				       pos->v[max]);
	return cli_usage_error(s->name, "expected %s", first);
}

bool cli_opt_parse(int *rc_out, cli_args *pos, const cli_spec *spec,
		   void *base, int argc, char **argv)
{
	parser p = {spec, base, argc, argv, 1, false};
	bool only_args = false;
	int rc = 0;

	pos->v = argv + 1;
	pos->n = 0;
	for (; p.i < argc && rc == 0 && !p.help; p.i++) {
		char *arg = argv[p.i];

		/* Gathered in place: argv[1 + n] was read already. */
		if (only_args || arg[0] != '-' || arg[1] == '\0')
			pos->v[pos->n++] = arg;
		else if (strcmp(arg, "--") == 0)
			only_args = true;
		else if (arg[1] == '-')
			rc = take_long(&p, arg);
		else
			rc = take_letters(&p, arg);
	}
	if (p.help) {
		cli_opt_usage(stdout, spec);
		*rc_out = CLI_OK;
		return false;
	}
	if (rc == 0)
		rc = check_count(spec, pos);
	*rc_out = rc;
	return rc == 0;
}

int cli_opt_take(const cli_spec *spec, void *base, int argc, char **argv,
		 int *i, bool late_only)
{
	parser p = {spec, base, argc, argv, *i, false};
	const char *arg = argv[*i], *eq = strchr(arg, '=');
	const cli_opt *o;
	bool ambiguous;
	int rc;

	if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0)
		return CLI_OPT_UNKNOWN;
	if (arg[1] == '-')
		o = find_long(spec, arg + 2, eq ? (size_t)(eq - arg - 2)
						: strlen(arg + 2), &ambiguous);
	else
		o = find_letter(spec, arg[1]);
	if (!o || (late_only && (!o->late || o == &help_row)))
		return CLI_OPT_UNKNOWN;
	rc = arg[1] == '-' ? take_long(&p, arg) : take_letters(&p, arg);
	*i = p.i;
	return rc ? rc : p.help ? CLI_OPT_HELP : 0;
}

/* ---- help ---- */

/* Write text from column col (the cursor is at column at), its words
 * wrapped before HELP_WIDTH onto lines indented to col. */
static void print_wrapped(FILE *out, const char *text, int col, int at)
{
	if (at > col - 1) {
		fputc('\n', out);
		at = 0;
	}
	fprintf(out, "%*s", col - at, "");
	at = col;
	while (*text) {
		size_t len = strcspn(text, " ");

		if (at > col && at + 1 + (int)len > HELP_WIDTH) {
			fprintf(out, "\n%*s", col, "");
			at = col;
		} else if (at > col) {
			fputc(' ', out);
			at++;
		}
		fwrite(text, 1, len, out);
		at += (int)len;
		text += len;
		text += strspn(text, " ");
	}
	fputc('\n', out);
}

/* "--name", "--name VALUE" or "--name[=VALUE]". */
static int long_form(char *buf, size_t size, const cli_opt *o)
{
	if (!o->value)
		return snprintf(buf, size, "--%s", o->name);
	return snprintf(buf, size, o->optional ? "--%s[=%s]" : "--%s %s",
			o->name, o->value);
}

/* A row as its help lists it: "-l, --length LEN", "    --json", "ID". */
static int label(char *buf, size_t size, const cli_opt *o)
{
	char form[96];

	if (!is_option(o))
		return snprintf(buf, size, "%s", o->value);
	long_form(form, sizeof(form), o);
	if (o->letter)
		return snprintf(buf, size, "-%c, %s", o->letter, form);
	return snprintf(buf, size, "    %s", form);
}

/* A row as the usage line shows it: "[--grace DURATION]", "ID...". */
static int usage_piece(char *buf, size_t size, const cli_opt *o)
{
	bool many = o->kind == CLI_OPT_ARGS;

	if (!is_option(o))
		return snprintf(buf, size, "%s%s%s%s", o->required ? "" : "[",
				o->value, many ? "..." : "",
				o->required ? "" : "]");
	char form[96];

	long_form(form, sizeof(form), o);
	return snprintf(buf, size, "[%s]", form);
}

static void usage_line(FILE *out, const cli_spec *s)
{
	int indent = fprintf(out, "Usage: b3cas %s%s", s->store ?
			     "[--store DIR] " : "", s->name) + 1;
	int at = indent - 1;
	char piece[128];

	for (const cli_opt *o = s->opts; o->kind != CLI_OPT_END; o++) {
		int len = usage_piece(piece, sizeof(piece), o);

		if (at + 1 + len > HELP_WIDTH) {
			fprintf(out, "\n%*s", indent - 1, "");
			at = indent - 1;
		}
		at += fprintf(out, " %s", piece);
	}
	fputc('\n', out);
}

/* The label column: two spaces, the widest label, three spaces. */
static int label_col(const cli_spec *s)
{
	char buf[128];
	int col = label(buf, sizeof(buf), &help_row);

	for (const cli_opt *o = s->opts; o->kind != CLI_OPT_END; o++) {
		int len = label(buf, sizeof(buf), o);

		col = len > col && len + 5 <= HELP_COL_MAX ? len : col;
	}
	return col + 5;
}

/* The Arguments section, when an argument has help. */
static void argument_rows(FILE *out, const cli_spec *s, int col)
{
	bool headed = false;

	for (const cli_opt *o = s->opts; o->kind != CLI_OPT_END; o++) {
		if (is_option(o) || !o->help)
			continue;
		if (!headed)
			fputs("\nArguments:\n", out);
		headed = true;
		print_wrapped(out, o->help, col,
			      fprintf(out, "  %s", o->value));
	}
}

void cli_opt_rows(FILE *out, const cli_spec *spec)
{
	int col = label_col(spec);
	char buf[128];

	FOR_OPTIONS(o, spec) {
		label(buf, sizeof(buf), o);
		print_wrapped(out, o->help, col, fprintf(out, "  %s", buf));
	}
}

void cli_opt_usage(FILE *out, const cli_spec *spec)
{
	int col = label_col(spec);

	usage_line(out, spec);
	fprintf(out, "\n%s", spec->about);
	argument_rows(out, spec, col);
	fputs("\nOptions:\n", out);
	cli_opt_rows(out, spec);
	fprintf(out, "\n%s", spec->exits);
}

/* ---- values several commands take ---- */

int cli_opt_number(void *field, const char *value, const cli_opt *opt,
		   const char *cmd)
{
	uint64_t n;

	if (cli_parse_u64(&n, value) && n >= opt->min && n <= opt->max) {
		*(uint64_t *)field = n;
		return 0;
	}
	if (opt->max == UINT64_MAX)
		return cli_usage_error(cmd, "invalid --%s '%s' (a whole number, "
				       "%" PRIu64 " or more)", opt->name, value,
				       opt->min);
	return cli_usage_error(cmd, "invalid --%s '%s' (a whole number from "
			       "%" PRIu64 " to %" PRIu64 ")", opt->name, value,
			       opt->min, opt->max);
}

int cli_opt_folder(void *field, const char *value, const cli_opt *opt,
		   const char *cmd)
{
	if (!*value)
		return cli_usage_error(cmd, "--%s was given an empty folder "
				       "name", opt->name);
	*(const char **)field = value;
	return 0;
}
