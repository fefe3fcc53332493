/*
 * cmd_get.c - `b3cas get ID [-o FILE]`: write an object's bytes to
 * standard output or to FILE.
 *
 * The object is streamed through a b3cas_reader, which has checked its
 * hash before the first byte comes out. FILE is written as a temp file in
 * the same folder and renamed over FILE at the end, so a failed get never
 * leaves a partial FILE behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define COPY_CHUNK (1u << 20)

void cmd_get_usage(FILE *out)
{
	fprintf(out,
		"Usage: b3cas [--store DIR] get ID [-o FILE]\n"
		"\n"
		"Write the bytes of object ID to standard output, or to FILE "
		"(replaced\natomically: a failed get leaves FILE as it was). "
		"The bytes are checked\nagainst ID before any is written.\n"
		"\n"
		"Exit codes: 0 ok, 1 no such object, 2 malformed ID or FILE "
		"cannot be\nwritten, 3 store error (corrupt object, I/O).\n");
}

/* Copy the reader to fd. CLI_OK or an exit code after a message. */
static int copy_out(b3cas_reader *r, int fd, const char *to, const char *id)
{
	char *buf = malloc(COPY_CHUNK);
	int rc = CLI_OK;

	if (!buf) {
		cli_error("out of memory");
		return CLI_STORE;
	}
	for (;;) {
		int64_t n = b3cas_reader_read(r, buf, COPY_CHUNK);

		if (n < 0) {
			cli_error("cannot read object %s: %s", id,
				  b3cas_error_last());
			rc = cli_exit_code((int)n, false);
			break;
		}
		if (n == 0)
			break;
		if (!cli_write_all(fd, buf, (size_t)n)) {
			cli_error("cannot write %s: %s", to, strerror(errno));
			rc = CLI_USAGE;
			break;
		}
	}
	free(buf);
	return rc;
}

/* mkstemp makes 0600 files; give FILE the mode a plain create would. */
static mode_t umask_value(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

/* Write the object to path through a temp file and a rename. */
static int get_to_file(b3cas_reader *r, const char *path, const char *id)
{
	char *tmp = NULL;
	int fd, rc, err = 0;

	if (asprintf(&tmp, "%s.b3cas-XXXXXX", path) < 0) {
		cli_error("out of memory");
		return CLI_STORE;
	}
	/* A signal removes the temp file (cli_signal.c). */
	cli_cleanup_lock();
	fd = mkstemp(tmp);
	if (fd >= 0)
		cli_cleanup_add_file_locked(tmp);
	cli_cleanup_unlock();
	if (fd < 0) {
		cli_error("cannot create %s: %s", path, strerror(errno));
		free(tmp);
		return CLI_USAGE;
	}
	rc = copy_out(r, fd, path, id);
	if (rc == CLI_OK && fchmod(fd, 0644 & ~umask_value()) != 0)
		rc = CLI_USAGE;
	if (close(fd) != 0 && rc == CLI_OK) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		rc = CLI_USAGE;
	}
	cli_cleanup_lock();
	if (rc == CLI_OK && rename(tmp, path) != 0) {
		err = errno;
		rc = CLI_USAGE;
	}
	if (rc != CLI_OK)
		unlink(tmp);
	cli_cleanup_forget_file_locked(tmp);
	cli_cleanup_unlock();
	if (err)
		cli_error("cannot create %s: %s", path, strerror(err));
	free(tmp);
	return rc;
}

static const struct option long_options[] = {
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_get(cli_ctx *ctx, int argc, char **argv)
{
	const char *output = NULL;
	b3cas_store *store;
	b3cas_reader *r;
	b3cas_oid id;
	int c, rc, err;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", long_options, NULL)) !=
	       -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'h':
			cmd_get_usage(stdout);
			return CLI_OK;
		case ':':
			return cli_usage_error("get", "option '%s' needs a "
					       "value", argv[optind - 1]);
		default:
			return cli_usage_error("get", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("get", "expected one object id");
	if (!cli_parse_oid(&id, argv[optind]))
		return CLI_USAGE;
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_reader_open(&r, store, &id);
	if (err < 0) {
		cli_error("%s", b3cas_error_last());
		rc = cli_exit_code(err, true);
	} else {
		rc = output ? get_to_file(r, output, argv[optind])
			    : copy_out(r, STDOUT_FILENO, "standard output",
				       argv[optind]);
		b3cas_reader_close(r);
	}
	return cli_close_store(store, rc);
}
