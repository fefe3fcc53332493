/*
 * core/path.c - making, recognising and locking a store folder.
 *
 * Invariants: a folder is a store exactly when it has b3cas.conf, which is
 * written (temp file, fsync, rename, fsync folder) only after every other
 * part of the layout exists; a store is opened for writing only while its
 * LOCK is held with flock, which the kernel drops when the process dies, so
 * a crash never leaves a stale lock behind.
 */
#include "core/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

#define CONF_NAME "b3cas.conf"
#define CONF_MAX 4096

/* Everything a store folder may hold; a folder with anything else is not
 * a (partly made) store. */
static const char *const layout_names[] = {
	CONF_NAME, CONF_NAME ".tmp", "LOCK", "objects", "index", "cache",
	"integrity", "tmp",
};

static const char *const layout_dirs[] = {
	"objects", "index", "cache", "cache/l2", "integrity",
	"integrity/quarantine", "integrity/checksums", "integrity/backup",
	"tmp",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

char *b3cas__layout_path(const b3cas_layout *lay, const char *name)
{
	size_t len = strlen(lay->root) + strlen(name) + 2;
	char *p = b3cas__malloc(len);

	if (p)
		snprintf(p, len, "%s/%s", lay->root, name);
	return p;
}

void b3cas__object_rel(char out[B3CAS_OBJECT_REL_LEN + 1],
		       const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, id);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex, B3CAS_OID_HEX_LEN + 1);
}

/* -1 error, 0 no entries, 1 only layout names, 2 something foreign. */
static int classify_folder(const char *root)
{
	DIR *dir = opendir(root);
	struct dirent *e;
	int kind = 0;

	if (!dir)
		return b3cas__error_errno(errno, "cannot open folder %s", root);
	while ((e = readdir(dir)) != NULL) {
		bool known = false;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		for (size_t i = 0; i < COUNT(layout_names); i++)
			known |= strcmp(e->d_name, layout_names[i]) == 0;
		if (!known) {
			kind = 2;
			break;
		}
		kind = 1;
	}
	closedir(dir);
	return kind;
}

/* ---- b3cas.conf ---------------------------------------------------------- */

static int write_conf(b3cas_layout *lay)
{
	char text[CONF_MAX], path[CONF_MAX];
	int fd, rc, n;

	n = snprintf(text, sizeof(text),
		     "# b3cas store configuration: fixed when the store was "
		     "made.\n"
		     "# Editing it does not convert the store.\n"
		     "format_version = %u\n"
		     "hash = %s\n"
		     "inline_threshold = %zu\n"
		     "%s%s%s",
		     lay->format, b3cas_hash_algo_name(lay->hash),
		     lay->inline_threshold,
		     lay->objects_conf ? "objects = " : "",
		     lay->objects_conf ? lay->objects_conf : "",
		     lay->objects_conf ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return b3cas__error(B3CAS_EINVAL, "objects folder name too "
				    "long for %s", CONF_NAME);
	fd = openat(lay->root_fd, CONF_NAME ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot create %s/%s.tmp",
					  lay->root, CONF_NAME);
	snprintf(path, sizeof(path), "%s/%s.tmp", lay->root, CONF_NAME);
	rc = b3cas__write_all(fd, text, (size_t)n, path);
	if (rc == 0)
		rc = b3cas__fsync(fd, path);
	close(fd);
	if (rc == 0 && renameat(lay->root_fd, CONF_NAME ".tmp", lay->root_fd,
				CONF_NAME) != 0)
		rc = b3cas__error_errno(errno, "cannot publish %s/%s",
					lay->root, CONF_NAME);
	if (rc == 0 && fsync(lay->root_fd) != 0)
		rc = b3cas__error_errno(errno, "cannot fsync %s", lay->root);
	return rc;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static int parse_number(uint64_t *out, const char *text)
{
	char *end;

	errno = 0;
	if (*text < '0' || *text > '9')
		return -1;
	*out = strtoull(text, &end, 10);
	return errno || *end ? -1 : 0;
}

static int conf_bad(const b3cas_layout *lay, const char *what,
		    const char *value)
{
	return b3cas__error(B3CAS_EFORMAT, "%s/%s: %s '%s'", lay->root,
			    CONF_NAME, what, value);
}

/* Apply one "key = value" line. */
static int conf_line(b3cas_layout *lay, char *line, unsigned *seen)
{
	char *eq = strchr(line, '=');
	char *key, *value;
	uint64_t n;

	if (!eq)
		return conf_bad(lay, "line without '='", line);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (strcmp(key, "format_version") == 0) {
		if (parse_number(&n, value) != 0 || n > UINT32_MAX)
			return conf_bad(lay, "bad format_version", value);
		lay->format = (unsigned)n;
		*seen |= 1;
	} else if (strcmp(key, "hash") == 0) {
		if (strcmp(value, "blake3") == 0)
			lay->hash = B3CAS_HASH_BLAKE3;
		else if (strcmp(value, "sha256") == 0)
			lay->hash = B3CAS_HASH_SHA256;
		else
			return conf_bad(lay, "unknown hash algorithm", value);
		*seen |= 2;
	} else if (strcmp(key, "inline_threshold") == 0) {
		if (parse_number(&n, value) != 0 ||
		    n > B3CAS_INLINE_THRESHOLD_MAX)
			return conf_bad(lay, "bad inline_threshold", value);
		lay->inline_threshold = (size_t)n;
		*seen |= 4;
	} else if (strcmp(key, "objects") == 0) {
		if (*value != '/')
			return conf_bad(lay, "objects folder is not an "
					"absolute path", value);
		free(lay->objects_conf);
		lay->objects_conf = strdup(value);
		if (!lay->objects_conf)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* Unknown keys are kept for newer minor versions of format 1. */
	return 0;
}

int b3cas__conf_parse(b3cas_layout *lay, char *text)
{
	unsigned seen = 0;
	char *line, *save = NULL;
	int rc = 0;

	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (*line && *line != '#')
			rc = conf_line(lay, line, &seen);
	}
	if (rc == 0 && !(seen & 1))
		rc = b3cas__error(B3CAS_EFORMAT, "%s/%s has no format_version",
				  lay->root, CONF_NAME);
	if (rc == 0 && lay->format != B3CAS_FORMAT_VERSION)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "%s uses store format %u, which this b3cas "
				  "(%s) does not read: it reads format %d",
				  lay->root, lay->format, b3cas_version(),
				  B3CAS_FORMAT_VERSION);
	if (rc == 0 && (seen & 6) != 6)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "%s/%s lacks hash or inline_threshold",
				  lay->root, CONF_NAME);
	if (rc < 0) {
		/* A failed parse leaves nothing allocated. */
		free(lay->objects_conf);
		lay->objects_conf = NULL;
	}
	return rc;
}

static int read_conf(b3cas_layout *lay)
{
	char text[CONF_MAX + 1];
	ssize_t n;
	int fd;

	fd = openat(lay->root_fd, CONF_NAME, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s", lay->root,
					  CONF_NAME);
	n = read(fd, text, CONF_MAX + 1);
	close(fd);
	if (n < 0)
		return b3cas__error_errno(errno, "cannot read %s/%s",
					  lay->root, CONF_NAME);
	if (n > CONF_MAX)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is too large",
				    lay->root, CONF_NAME);
	text[n] = '\0';
	if (memchr(text, '\0', (size_t)n))
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is not text",
				    lay->root, CONF_NAME);
	return b3cas__conf_parse(lay, text);
}

/* Compare what the caller asked for with what the store records. */
static int check_conf(const b3cas_layout *lay, const b3cas_store_options *o)
{
	if (o->hash != B3CAS_HASH_DEFAULT && o->hash != lay->hash)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s names objects with %s, not %s",
				    lay->root, b3cas_hash_algo_name(lay->hash),
				    b3cas_hash_algo_name(o->hash));
	if (o->inline_threshold && o->inline_threshold != lay->inline_threshold)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s was made with inline threshold %zu, "
				    "not %zu",
				    lay->root, lay->inline_threshold,
				    o->inline_threshold);
	return 0;
}

/* ---- LOCK ---------------------------------------------------------------- */

static int take_lock(b3cas_layout *lay)
{
	char text[64];
	int fd, len;

	fd = openat(lay->root_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/LOCK",
					  lay->root);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		ssize_t n;

		if (err != EWOULDBLOCK) {
			close(fd);
			return b3cas__error_errno(err, "cannot lock %s/LOCK",
						  lay->root);
		}
		n = pread(fd, text, sizeof(text) - 1, 0);
		close(fd);
		text[n > 0 ? n : 0] = '\0';
		return b3cas__error(B3CAS_ELOCKED,
				    "store %s is open for writing by process "
				    "%s (it holds %s/LOCK)",
				    lay->root,
				    n > 0 ? trim(text) : "(pid not yet known)",
				    lay->root);
	}
	len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
		int rc = b3cas__error_errno(errno, "cannot write %s/LOCK",
					    lay->root);

		close(fd);
		return rc;
	}
	lay->lock_fd = fd;
	return 0;
}

/* ---- open ---------------------------------------------------------------- */

static int open_dir_at(int *out, int at, const char *name, const char *root)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && at == AT_FDCWD)
		return b3cas__error_errno(errno, "cannot open %s", name);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s", root,
					  name);
	*out = fd;
	return 0;
}

/* Make <base>/<prefix>00..ff (prefix "objects/" or ""). */
static int make_tier(const char *base, const char *prefix)
{
	int rc = 0;

	for (unsigned i = 0; i < 256 && rc == 0; i++) {
		size_t len = strlen(base) + strlen(prefix) + 8;
		char *p = b3cas__malloc(len);

		if (!p)
			return B3CAS_ENOMEM;
		snprintf(p, len, "%s/%s%02x", base, prefix, i);
		rc = b3cas__mkdir(p);
		free(p);
	}
	return rc;
}

static int make_layout(b3cas_layout *lay, const b3cas_store_options *o)
{
	int rc = 0;

	for (size_t i = 0; i < COUNT(layout_dirs) && rc == 0; i++) {
		char *p = b3cas__layout_path(lay, layout_dirs[i]);

		rc = p ? b3cas__mkdir(p) : B3CAS_ENOMEM;
		free(p);
	}
	if (rc == 0 && o->objects_dir) {
		/* The tier lives elsewhere: b3cas.conf records where. */
		rc = b3cas__mkdir(o->objects_dir);
		if (rc == 0) {
			lay->objects_conf = realpath(o->objects_dir, NULL);
			if (!lay->objects_conf)
				rc = b3cas__error_errno(errno, "cannot resolve "
							"%s", o->objects_dir);
		}
	}
	if (rc == 0)
		rc = make_tier(lay->objects_conf ? lay->objects_conf
						 : lay->root,
			       lay->objects_conf ? "" : "objects/");
	lay->format = B3CAS_FORMAT_VERSION;
	lay->hash = o->hash == B3CAS_HASH_DEFAULT ? B3CAS_HASH_BLAKE3 : o->hash;
	lay->inline_threshold = o->inline_threshold
					? o->inline_threshold
					: B3CAS_INLINE_THRESHOLD_DEFAULT;
	lay->created = true;
	return rc;
}

/* Decide whether root is a store, can become one, or neither. */
static int find_or_make_root(const char *root, const b3cas_store_options *o,
			     int *kind)
{
	struct stat st;

	if (stat(root, &st) != 0) {
		if (errno != ENOENT)
			return b3cas__error_errno(errno, "cannot use %s", root);
		if (!o->create)
			return b3cas__error(B3CAS_ENOTFOUND,
					    "there is no b3cas store at %s "
					    "(create one with 'b3cas init')",
					    root);
		if (mkdir(root, 0755) != 0 && errno != EEXIST)
			return b3cas__error_errno(errno, "cannot create %s",
						  root);
		*kind = 0;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return b3cas__error(B3CAS_EFORMAT,
				    "%s is not a folder, so not a b3cas store",
				    root);
	*kind = classify_folder(root);
	return *kind < 0 ? *kind : 0;
}

/*
 * Open the object tier: opts->objects_dir, else the folder b3cas.conf
 * records, else <root>/objects; and the staging folder beside it.
 */
static int open_tier(b3cas_layout *lay, const b3cas_store_options *o)
{
	const char *dir = o->objects_dir ? o->objects_dir : lay->objects_conf;
	char *tmp;
	int rc;

	lay->objects_path = dir ? strdup(dir)
				: b3cas__layout_path(lay, "objects");
	if (!lay->objects_path)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	if (dir) {
		lay->objects_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lay->objects_fd < 0)
			return b3cas__error_errno(errno, "cannot open the "
						  "object folder %s of store "
						  "%s", dir, lay->root);
	} else {
		rc = open_dir_at(&lay->objects_fd, lay->root_fd, "objects",
				 lay->root);
		if (rc < 0)
			return rc;
	}
	if (o->read_only)
		return 0;
	if (dir) {
		size_t len = strlen(dir) + 8;

		tmp = b3cas__malloc(len);
		if (tmp)
			snprintf(tmp, len, "%s/tmp", dir);
	} else {
		tmp = b3cas__layout_path(lay, "tmp");
	}
	if (!tmp)
		return B3CAS_ENOMEM;
	rc = b3cas__mkdir(tmp);
	if (rc == 0)
		rc = b3cas__clear_dir(tmp);
	if (rc == 0) {
		lay->tmp_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lay->tmp_fd < 0)
			rc = b3cas__error_errno(errno, "cannot open %s", tmp);
	}
	lay->tmp_path = tmp;
	return rc;
}

int b3cas__layout_open(b3cas_layout *lay, const char *root,
		       const b3cas_store_options *o)
{
	int kind = 0, rc;
	bool have_conf;

	memset(lay, 0, sizeof(*lay));
	lay->root_fd = lay->objects_fd = lay->tmp_fd = lay->lock_fd = -1;
	lay->root = strdup(root);
	if (!lay->root)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = find_or_make_root(root, o, &kind);
	if (rc < 0)
		goto fail;
	rc = open_dir_at(&lay->root_fd, AT_FDCWD, root, ".");
	if (rc < 0)
		goto fail;
	have_conf = faccessat(lay->root_fd, CONF_NAME, F_OK, 0) == 0;
	if (!have_conf) {
		if (kind == 2) {
			rc = b3cas__error(B3CAS_EFORMAT,
					  "%s is not a b3cas store: it has no "
					  "%s and holds other files",
					  root, CONF_NAME);
			goto fail;
		}
		if (!o->create || o->read_only) {
			rc = b3cas__error(B3CAS_ENOTFOUND,
					  "there is no b3cas store at %s "
					  "(create one with 'b3cas init')",
					  root);
			goto fail;
		}
	}
	if (!o->read_only) {
		rc = take_lock(lay);
		if (rc < 0)
			goto fail;
	}
	if (!have_conf) {
		/* Under the lock: a second creator waits its turn above.
		 * b3cas.conf comes later (b3cas__layout_publish). */
		rc = make_layout(lay, o);
	} else {
		rc = read_conf(lay);
		if (rc == 0)
			rc = check_conf(lay, o);
	}
	if (rc < 0)
		goto fail;
	rc = open_tier(lay, o);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	b3cas__layout_close(lay);
	return rc;
}

int b3cas__layout_publish(b3cas_layout *lay)
{
	return lay->created ? write_conf(lay) : 0;
}

void b3cas__layout_close(b3cas_layout *lay)
{
	if (lay->tmp_fd >= 0)
		close(lay->tmp_fd);
	if (lay->objects_fd >= 0)
		close(lay->objects_fd);
	if (lay->lock_fd >= 0)
		close(lay->lock_fd); /* drops the flock */
	if (lay->root_fd >= 0)
		close(lay->root_fd);
	free(lay->root);
	free(lay->objects_path);
	free(lay->objects_conf);
	free(lay->tmp_path);
	memset(lay, 0, sizeof(*lay));
	lay->root_fd = lay->objects_fd = lay->tmp_fd = lay->lock_fd = -1;
}
