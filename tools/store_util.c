/*
 * store_util.c - what the store subcommands share: finding the store
 * folder, opening and closing it, the one mapping from library errors to
 * exit codes, parsing ids, and the few output formats (b3sum-style lines,
 * JSON strings).
 *
 * Every message about the store names the folder used, and where it came
 * from when the user did not type it, so a surprise default is visible.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define STORE_SUBDIR "b3cas"

/* ---- finding the store ---- */

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

/* $XDG_DATA_HOME/b3cas or $HOME/.local/share/b3cas, in ctx->store_buf. */
static const char *default_dir(cli_ctx *ctx)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");

	/* The XDG spec says to ignore a relative XDG_DATA_HOME. */
	if (xdg && xdg[0] == '/')
		ctx->store_buf = join(xdg, STORE_SUBDIR);
	else if (home && home[0])
		ctx->store_buf = join(home, ".local/share/" STORE_SUBDIR);
	else {
		cli_error("no store folder: use --store DIR or set B3CAS_STORE "
			  "(HOME is not set, so there is no default)");
		return NULL;
	}
	if (!ctx->store_buf)
		cli_error("out of memory");
	return ctx->store_buf;
}

const char *cli_store_dir(cli_ctx *ctx, const char **source_out)
{
	const char *env = getenv("B3CAS_STORE");
	const char *source, *dir;

	if (ctx->store_dir) {
		source = "--store";
		dir = ctx->store_dir;
		if (!dir[0]) {
			cli_error("--store was given an empty folder name");
			return NULL;
		}
	} else if (env && env[0]) {
		source = "B3CAS_STORE";
		dir = env;
	} else {
		source = "the default";
		dir = ctx->store_buf ? ctx->store_buf : default_dir(ctx);
	}
	if (source_out)
		*source_out = source;
	return dir;
}

int cli_no_store_dir(const cli_ctx *ctx)
{
	/* "--store ''" is malformed input; no folder to be found (HOME
	 * unset, out of memory) is no store. */
	return ctx->store_dir && !ctx->store_dir[0] ? CLI_USAGE : CLI_STORE;
}

/* ---- errors ---- */

int cli_exit_code(int err, bool is_lookup)
{
	if (err >= 0)
		return CLI_OK;
	if (err == B3CAS_EINVAL)
		return CLI_USAGE;
	if (err == B3CAS_ENOTFOUND && is_lookup)
		return CLI_NEGATIVE;
	return CLI_STORE;
}

const char *cli_error_name(int err)
{
	switch (err) {
	case B3CAS_EINVAL: return "EINVAL";
	case B3CAS_ENOMEM: return "ENOMEM";
	case B3CAS_EIO: return "EIO";
	case B3CAS_ENOTFOUND: return "ENOTFOUND";
	case B3CAS_EEXISTS: return "EEXISTS";
	case B3CAS_ECORRUPT: return "ECORRUPT";
	case B3CAS_ELOCKED: return "ELOCKED";
	case B3CAS_ENOSPC: return "ENOSPC";
	case B3CAS_EPERM: return "EPERM";
	case B3CAS_EFORMAT: return "EFORMAT";
	case B3CAS_EUNSUPPORTED: return "EUNSUPPORTED";
	case B3CAS_EBUSY: return "EBUSY";
	case B3CAS_ERANGE: return "ERANGE";
	case B3CAS_ECLOSED: return "ECLOSED";
	case B3CAS_ECANCELED: return "ECANCELED";
	default: return "ERROR";
	}
}

const char *cli_errno_name(int errnum)
{
	/* As the library converts errno values (util/error.c). */
	switch (errnum) {
	case ENOENT:
	case ENOTDIR: return "ENOTFOUND";
	case ENOSPC:
	case EDQUOT:
	case EFBIG: return "ENOSPC";
	case EACCES:
	case EPERM:
	case EROFS: return "EPERM";
	case ENOMEM: return "ENOMEM";
	case EISDIR:
	case EINVAL: return "EINVAL";
	default: return "EIO";
	}
}

void cli_json_failure(const char *key, const char *item, const char *error,
		      const char *message)
{
	/* Interrupted: the failures that follow are the signal's doing. */
	if (cli_interrupted())
		return;
	/* One line, whole: a signal writes out only whole lines. */
	flockfile(stdout);
	printf("{\"%s\":", key);
	cli_json_string(stdout, item);
	printf(",\"error\":\"%s\",\"message\":", error);
	cli_json_string(stdout, message);
	fputs("}\n", stdout);
	funlockfile(stdout);
}

void cli_id_failure(const cli_id_args *a, int i, int err)
{
	const char *msg = b3cas_error_last();

	cli_error("%s", msg);
	if (a->json)
		cli_json_failure("id", a->texts[i], cli_error_name(err), msg);
}

/* ---- opening and closing ---- */

int cli_open_store(b3cas_store **out, cli_ctx *ctx,
		   const b3cas_store_options *opts)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	const char *source, *dir = cli_store_dir(ctx, &source);
	int err;

	*out = NULL;
	if (!dir) {
		int rc = cli_no_store_dir(ctx);

		ctx->open_error = rc == CLI_USAGE ? "EINVAL" : "ENOTFOUND";
		snprintf(ctx->open_message, sizeof(ctx->open_message),
			 "no store folder");
		return rc;
	}
	if (opts)
		o = *opts;
	if (ctx->rados_timeout_ms)
		o.rados_timeout_ms = ctx->rados_timeout_ms;
	err = b3cas_store_open(out, dir, &o);
	if (err == B3CAS_ELOCKED && ctx->lock_timeout_ms) {
		/* Say why nothing happens for a while, to a person. */
		if (isatty(STDERR_FILENO))
			cli_error("waiting: %s", b3cas_error_last());
		o.lock_timeout_ms = ctx->lock_timeout_ms;
		err = b3cas_store_open(out, dir, &o);
	}
	if (err == 0) {
		/* A signal now interrupts its writes (cli_signal.c). */
		if (!o.read_only)
			cli_cleanup_add_store(*out);
		return CLI_OK;
	}
	ctx->open_error = cli_error_name(err);
	if (strcmp(source, "--store") == 0)
		snprintf(ctx->open_message, sizeof(ctx->open_message),
			 "cannot open store %s: %s", dir, b3cas_error_last());
	else
		snprintf(ctx->open_message, sizeof(ctx->open_message),
			 "cannot open store %s (%s): %s", dir, source,
			 b3cas_error_last());
	cli_error("%s", ctx->open_message);
	/* No store there is a store error, not a negative answer. */
	return cli_exit_code(err, false);
}

int cli_retry_locked(const cli_ctx *ctx, int (*fn)(void *arg), void *arg)
{
	unsigned limit = ctx->lock_timeout_ms, pause_ms = 1;
	struct timespec t0, t;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((err = fn(arg)) == B3CAS_ELOCKED && limit) {
		struct timespec pause = {0, (long)pause_ms * 1000000L};
		int64_t waited;

		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
			 (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (limit != B3CAS_LOCK_WAIT_FOREVER && waited >= limit)
			break;
		if (pause_ms == 1 && isatty(STDERR_FILENO))
			cli_error("waiting: %s", b3cas_error_last());
		nanosleep(&pause, NULL);
		pause_ms = pause_ms < 32 ? pause_ms * 2 : 32;
	}
	return err;
}

void cli_json_not_done(const cli_ctx *ctx, bool opened, const char *key,
		       char **items, int n)
{
	const char *error = CLI_ENAME_SKIPPED;
	const char *msg = "not done: an earlier error ended the run";

	if (!opened) {
		error = ctx->open_error ? ctx->open_error : "ERROR";
		msg = ctx->open_message;
	}
	for (int i = 0; i < n; i++)
		cli_json_failure(key, items[i], error, msg);
}

int cli_open_store_ro(b3cas_store **out, cli_ctx *ctx)
{
	b3cas_store_options opts = B3CAS_STORE_OPTIONS_INIT;

	/* Read-only opens take no lock, so they work beside a writer. */
	opts.read_only = true;
	return cli_open_store(out, ctx, &opts);
}

int cli_open_store_rw(b3cas_store **out, cli_ctx *ctx)
{
	b3cas_store_options opts = B3CAS_STORE_OPTIONS_INIT;

	return cli_open_store(out, ctx, &opts);
}

int cli_close_store(b3cas_store *store, int rc)
{
	int err;

	if (!store)
		return rc;
	/* A signal during the close waits for it (the registry lock is
	 * held), then finds the store gone: it is never used once freed. */
	cli_cleanup_lock();
	cli_cleanup_forget_store_locked(store);
	err = b3cas_store_close(store);
	cli_cleanup_unlock();
	if (err < 0) {
		cli_error("cannot close the store: %s", b3cas_error_last());
		rc = cli_worse(rc, cli_exit_code(err, false));
	}
	return rc;
}

/* ---- ids ---- */

bool cli_parse_oid(b3cas_oid *out, const char *text)
{
	if (b3cas_oid_parse(out, text) == 0)
		return true;
	cli_error("invalid id '%s': %s", text, b3cas_error_last());
	return false;
}

int cli_parse_oids(b3cas_oid **ids_out, char **argv, int n)
{
	return cli_parse_oids_json(ids_out, argv, n, false);
}

/* After a malformed id: with json, a line for each id, in order: the
 * malformed ones with their error, the others as not done. */
static void json_parse_failures(char **argv, int n)
{
	for (int i = 0; i < n; i++) {
		b3cas_oid id;

		if (b3cas_oid_parse(&id, argv[i]) == 0)
			cli_json_failure("id", argv[i], CLI_ENAME_SKIPPED,
					 "not done: another id is malformed");
		else
			cli_json_failure("id", argv[i], "EINVAL",
					 b3cas_error_last());
	}
}

int cli_parse_oids_json(b3cas_oid **ids_out, char **argv, int n, bool json)
{
	b3cas_oid *ids = calloc(n > 0 ? (size_t)n : 1, sizeof(*ids));
	int rc = CLI_OK;

	*ids_out = NULL;
	if (!ids) {
		cli_error("out of memory");
		return CLI_STORE;
	}
	for (int i = 0; i < n; i++)
		if (!cli_parse_oid(&ids[i], argv[i]))
			rc = CLI_USAGE;
	if (rc != CLI_OK) {
		if (json)
			json_parse_failures(argv, n);
		free(ids);
		return rc;
	}
	*ids_out = ids;
	return CLI_OK;
}

const cli_opt cli_id_opts[] = {
	CLI_FLAG("json", 0, cli_id_args, json,
		 "one JSON object per line for each ID"),
	CLI_ARGS("ID", true, "expected an object id",
		 "an object id: 64 hex digits"),
	CLI_END,
};

bool cli_parse_id_args(int *rc_out, cli_id_args *out, const cli_spec *spec,
		       int argc, char **argv)
{
	cli_args pos;

	memset(out, 0, sizeof(*out));
	if (!cli_opt_parse(rc_out, &pos, spec, out, argc, argv))
		return false;
	out->n = pos.n;
	out->texts = pos.v;
	*rc_out = cli_parse_oids_json(&out->ids, out->texts, out->n,
				      out->json);
	return *rc_out == CLI_OK;
}

int cli_run_ids(cli_ctx *ctx, cli_id_args *a, b3cas_store *store, int rc,
		cli_id_fn one)
{
	int i;

	for (i = 0; store && i < a->n; i++) {
		int err = one(store, a, i);

		if (err >= 0)
			continue;
		cli_id_failure(a, i, err);
		rc = cli_worse(rc, cli_exit_code(err, true));
		/* An id not stored is its own failure; any other ends the
		 * run. */
		if (err != B3CAS_ENOTFOUND) {
			i++; /* reported; the rest are not done */
			break;
		}
	}
	if (a->json)
		cli_json_not_done(ctx, store != NULL, "id", a->texts + i,
				  a->n - i);
	rc = cli_close_store(store, rc);
	free(a->ids);
	return cli_finish_stdout(rc);
}

/* ---- output ---- */

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0], cp, min;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	/* The terminating NUL is not a continuation byte: no overrun. */
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * JSON strings are Unicode; file names are bytes. A byte that is not part
 * of valid UTF-8 becomes U+FFFD, so the output always parses.
 */
void cli_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', out);
	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
		} else if (*p == '"' || *p == '\\') {
			putc('\\', out);
			putc(*p++, out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p++);
		} else {
			fwrite(p, 1, n, out);
			p += n;
		}
	}
	putc('"', out);
}

bool cli_name_needs_escape(const char *name)
{
	return strpbrk(name, "\\\n") != NULL;
}

void cli_print_name(FILE *out, const char *name, bool escape)
{
	if (!escape) {
		fputs(name, out);
		return;
	}
	for (const char *p = name; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			putc(*p, out);
	}
}

void cli_print_id_name(FILE *out, const char *hex, const char *name)
{
	bool escape = cli_name_needs_escape(name);

	if (escape)
		putc('\\', out);
	fputs(hex, out);
	fputs("  ", out);
	cli_print_name(out, name, escape);
	putc('\n', out);
}

int cli_finish_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("cannot write to standard output: %s",
			  strerror(errno));
		return cli_worse(rc, CLI_USAGE);
	}
	return rc;
}
