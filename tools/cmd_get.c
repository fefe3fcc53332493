/*
 * cmd_get.c - `b3cas get ID [-o FILE]`: write an object's bytes to
 * standard output or to FILE.
 *
 * The object is streamed through a b3cas_reader, which has checked its
 * hash before the first byte comes out. FILE is written the way cp and a
 * shell's '>' would, except that a file is never left half written:
 * - symbolic links are followed (chains too, a relative target taken from
 *   the link's folder); the file at the end is what is written, and a
 *   dangling link has its target created;
 * - a device, fifo or socket is opened and written in place, never
 *   replaced (so -o /dev/null is /dev/null afterwards);
 * - a regular file, or a name that does not exist yet, is written as a
 *   temp file in its own folder and renamed over it at the end, so a
 *   failed get leaves FILE as it was and no temp file; a file replaced
 *   keeps its permission bits and (when allowed) its owner, as with cp,
 *   and a file we may not write is not replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define COPY_CHUNK (1u << 20)

typedef struct get_args {
	const char *output;
} get_args;

static const cli_opt get_opts[] = {
	CLI_VALUE("output", 'o', "FILE", get_args, output, NULL,
		  "write to FILE instead of standard output"),
	CLI_ARG("ID", true, "expected one object id",
		"the object's id: 64 hex digits"),
	CLI_END,
};

const cli_spec cmd_get_spec = {
	.name = "get",
	.summary = "write an object's bytes",
	.about = "Write the bytes of object ID to standard output, or to FILE. "
		 "The bytes are\nchecked against ID before any is written. "
		 "FILE is written as cp would:\nsymbolic links are followed; a "
		 "device, fifo or socket is written in place;\na regular file "
		 "(or a new name) is replaced atomically through a temp file\n"
		 "in its folder, keeping its mode, so a failed get leaves it as "
		 "it was.\n",
	.exits = "Exit codes: 0 ok, 1 no such object, 2 malformed ID or FILE "
		 "cannot be\nwritten, 3 store error (corrupt object, I/O).\n",
	.opts = get_opts,
	.store = true,
};

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

/* Where -o FILE leads once its links are followed. */
typedef struct target {
	char *path;     /* the name to write (allocated) */
	struct stat st; /* what is there, when exists */
	bool exists;
} target;

/* The folder part of path ("." for a bare name), allocated. */
static char *folder_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* The target of link path, relative targets joined to its folder. */
static char *follow(const char *path)
{
	char buf[PATH_MAX], *dir, *out = NULL;
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	if (buf[0] == '/')
		return strdup(buf);
	dir = folder_of(path);
	if (dir && asprintf(&out, "%s/%s", dir, buf) < 0)
		out = NULL;
	free(dir);
	return out;
}

/* Follow path's links to the name that is to be written. CLI_OK, or an
 * exit code after a message. */
static int resolve(target *t, const char *path)
{
	char *cur = strdup(path);

	memset(t, 0, sizeof(*t));
	for (int hops = 0; cur && hops <= 40; hops++) {
		char *next;

		if (lstat(cur, &t->st) != 0) {
			if (errno != ENOENT)
				break;
			t->path = cur; /* a new name */
			return CLI_OK;
		}
		if (!S_ISLNK(t->st.st_mode)) {
			if (S_ISDIR(t->st.st_mode)) {
				errno = EISDIR;
				break;
			}
			t->path = cur;
			t->exists = true;
			return CLI_OK;
		}
		next = follow(cur);
		free(cur);
		cur = next;
		errno = cur ? ELOOP : errno;
	}
	if (!cur || strcmp(cur, path) == 0)
		cli_error("cannot write %s: %s", path, strerror(errno));
	else
		cli_error("cannot write %s (%s): %s", path, cur,
			  strerror(errno));
	free(cur);
	return CLI_USAGE;
}

/* Open a unix socket at path as a stream client (what writing to one
 * means). -1 with errno on failure. */
static int connect_socket(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int err = errno;

		close(fd);
		errno = err;
		fd = -1;
	}
	return fd;
}

/* A device, fifo or socket: write it in place, as '>' would. */
static int get_in_place(b3cas_reader *r, const target *t, const char *id)
{
	int fd, rc;

	if (S_ISSOCK(t->st.st_mode))
		fd = connect_socket(t->path);
	else
		fd = open(t->path,
			  O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot write %s: %s", t->path, strerror(errno));
		return CLI_USAGE;
	}
	rc = copy_out(r, fd, t->path, id);
	if (close(fd) != 0 && rc == CLI_OK) {
		cli_error("cannot write %s: %s", t->path, strerror(errno));
		rc = CLI_USAGE;
	}
	return rc;
}

/* mkstemp makes 0600 files; give FILE the mode a plain create would. */
static mode_t umask_value(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

/* The replaced file's owner and mode (cp keeps them), or a new file's. */
static int set_mode(int fd, const target *t)
{
	if (!t->exists)
		return fchmod(fd, 0666 & ~umask_value());
	/* Only root may give a file away; anyone else keeps their own.
	 * chown clears set-id bits, so the mode comes after it. */
	if ((t->st.st_uid != geteuid() || t->st.st_gid != getegid()) &&
	    fchown(fd, t->st.st_uid, t->st.st_gid) != 0 && errno != EPERM)
		return -1;
	return fchmod(fd, t->st.st_mode & 07777);
}

/* A regular file or a new name: a temp file beside it, then a rename. */
static int get_replacing(b3cas_reader *r, const target *t, const char *id)
{
	char *tmp = NULL, *dir = folder_of(t->path);
	int fd, rc, err = 0;

	if (!dir || asprintf(&tmp, "%s.b3cas-XXXXXX", t->path) < 0) {
		free(dir);
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
		cli_error("cannot write %s: cannot create a temporary file "
			  "in %s: %s", t->path, dir, strerror(errno));
		free(tmp);
		free(dir);
		return CLI_USAGE;
	}
	rc = copy_out(r, fd, t->path, id);
	if (rc == CLI_OK && set_mode(fd, t) != 0) {
		cli_error("cannot set the mode of %s: %s", t->path,
			  strerror(errno));
		rc = CLI_USAGE;
	}
	if (close(fd) != 0 && rc == CLI_OK) {
		cli_error("cannot write %s: %s", t->path, strerror(errno));
		rc = CLI_USAGE;
	}
	cli_cleanup_lock();
	if (rc == CLI_OK && rename(tmp, t->path) != 0) {
		err = errno;
		rc = CLI_USAGE;
	}
	if (rc != CLI_OK)
		unlink(tmp);
	cli_cleanup_forget_file_locked(tmp);
	cli_cleanup_unlock();
	if (err)
		cli_error("cannot replace %s: %s", t->path, strerror(err));
	free(tmp);
	free(dir);
	return rc;
}

/* Write the object to path as cp would (see the top of this file). */
static int get_to_file(b3cas_reader *r, const char *path, const char *id)
{
	target t;
	int rc = resolve(&t, path);

	if (rc != CLI_OK)
		return rc;
	if (t.exists && !S_ISREG(t.st.st_mode)) {
		rc = get_in_place(r, &t, id);
	} else if (t.exists &&
		   faccessat(AT_FDCWD, t.path, W_OK, AT_EACCESS) != 0) {
		/* cp and '>' would open it for writing and fail: a rename
		 * must not replace a file we may not write. */
		cli_error("cannot write %s: %s", t.path, strerror(errno));
		rc = CLI_USAGE;
	} else {
		rc = get_replacing(r, &t, id);
	}
	free(t.path);
	return rc;
}

int cmd_get(cli_ctx *ctx, int argc, char **argv)
{
	get_args a = {NULL};
	b3cas_store *store;
	b3cas_reader *r;
	b3cas_oid id;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_get_spec, &a, argc, argv))
		return rc;
	if (!cli_parse_oid(&id, pos.v[0]))
		return CLI_USAGE;
	rc = cli_open_store_ro(&store, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_reader_open(&r, store, &id);
	if (err < 0) {
		cli_error("%s", b3cas_error_last());
		rc = cli_exit_code(err, true);
	} else {
		rc = a.output ? get_to_file(r, a.output, pos.v[0])
			      : copy_out(r, STDOUT_FILENO, "standard output",
					 pos.v[0]);
		b3cas_reader_close(r);
	}
	return cli_close_store(store, rc);
}
