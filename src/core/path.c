/*
 * core/path.c - making, recognising and locking a store folder.
 *
 * Invariants: a folder is a store exactly when it has b3cas.conf, which is
 * written (temp file, fsync, rename, fsync folder) only after every other
 * part of the layout exists; a store is opened for writing only while the
 * store folder itself and its LOCK are held with flock (see the LOCK
 * section: no change to the names inside the folder can steal the lock),
 * which the kernel drops when the process dies, so a crash never leaves a
 * stale lock behind.
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
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/holder.h"

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

/*
 * The writer lock is two flocks, both taken without blocking:
 *  1. on the store folder itself (root_fd, opened O_DIRECTORY). A folder
 *     that holds anything cannot be removed, nor another renamed over it,
 *     so nothing done to the names inside it - LOCK deleted, replaced, made
 *     a link - lets a second writer in. (When LOCK alone was locked,
 *     deleting it let the next writer lock a new file of that name.)
 *  2. on the file LOCK, which earlier b3cas builds locked alone, so that
 *     a store stays closed to such older writers too. LOCK is opened
 *     with O_NOFOLLOW and must be a regular file: a link or anything else
 *     in its place is refused, never written through. After the flock the
 *     name is checked to still be that inode, for file systems that cannot
 *     flock a folder (the lock then rests on LOCK alone).
 * The folder is locked first and released when LOCK is busy, so a writer
 * waiting for an older one does not look like the holder to a third.
 *
 * The holder writes its pid into LOCK for people and older versions: one
 * pwrite over the old pid, then the file is cut to its length, so a reader
 * never sees it empty, and it is left there at close, so LOCK keeps its
 * block and a writer can still open a full disk's store to free space. A
 * refused writer names the holder from the kernel's list of locks, which
 * is never stale, and only when that is not available from LOCK, if that
 * process lives.
 *
 * Waiting (lock_timeout_ms) polls with a backoff from 1 to 32 ms, so the
 * lock is taken within 32 ms of being freed.
 */

#define LOCK_NAME "LOCK"
#define LOCK_POLL_MAX_MS 32

/* Open (or make) LOCK, without following a link; only a regular file. */
static int open_lock_file(const b3cas_layout *lay)
{
	struct stat st;
	int fd;

	fd = openat(lay->root_fd, LOCK_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0644);
	if (fd < 0 && errno == ELOOP)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s/%s is a symbolic link, not the lock "
				    "file of a b3cas store; b3cas does not "
				    "write through it (remove it to open the "
				    "store for writing)", lay->root, LOCK_NAME);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s",
					  lay->root, LOCK_NAME);
	if (fstat(fd, &st) != 0) {
		int rc = b3cas__error_errno(errno, "cannot stat %s/%s",
					    lay->root, LOCK_NAME);

		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return b3cas__error(B3CAS_EFORMAT,
				    "%s/%s is not a regular file, so not the "
				    "lock file of a b3cas store (remove it to "
				    "open the store for writing)",
				    lay->root, LOCK_NAME);
	}
	return fd;
}

/* Is fd still what the name LOCK stands for? */
static bool lock_file_current(const b3cas_layout *lay, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 &&
	       fstatat(lay->root_fd, LOCK_NAME, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The pid recorded in LOCK if that process lives, else 0. */
static long recorded_holder(const b3cas_layout *lay)
{
	char text[32];
	long pid = 0;
	ssize_t n;
	int fd;

	fd = openat(lay->root_fd, LOCK_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	pid = strtol(text, NULL, 10);
	return b3cas__pid_alive(pid) ? pid : 0;
}

/* The pid of the process holding the flock on fd's file, or 0. */
static long lock_holder(const b3cas_layout *lay, int fd)
{
	struct stat st;
	long pid = 0;

	if (fstat(fd, &st) == 0)
		pid = b3cas__lock_holder(st.st_dev, st.st_ino);
	return pid ? pid : recorded_holder(lay);
}

/*
 * One attempt at both locks: 0 with *fd_out holding LOCK, 1 when another
 * process holds one of them (*holder its pid or 0), 2 when LOCK was
 * replaced while we locked it (try again at once), or an error.
 */
static int lock_once(b3cas_layout *lay, int *fd_out, long *holder,
		     bool *on_file)
{
	bool dir_locked = false;
	int fd, rc;

	if (flock(lay->root_fd, LOCK_EX | LOCK_NB) == 0) {
		dir_locked = true;
	} else if (errno == EWOULDBLOCK) {
		*holder = lock_holder(lay, lay->root_fd);
		*on_file = false;
		return 1;
	} else if (errno != EBADF && errno != ENOLCK && errno != EINVAL &&
		   errno != EOPNOTSUPP) {
		return b3cas__error_errno(errno, "cannot lock %s", lay->root);
	} /* else a file system that cannot flock a folder: LOCK alone */
	fd = open_lock_file(lay);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? 1 : b3cas__error_errno(
			errno, "cannot lock %s/%s", lay->root, LOCK_NAME);
		if (rc == 1) {
			*holder = lock_holder(lay, fd);
			*on_file = true;
		}
		close(fd);
		goto out;
	}
	if (!lock_file_current(lay, fd)) {
		close(fd);
		rc = 2;
		goto out;
	}
	*fd_out = fd;
	return 0;
out:
	if (dir_locked)
		flock(lay->root_fd, LOCK_UN);
	return rc;
}

/* Record our pid in LOCK, in place. */
static int record_pid(const b3cas_layout *lay, int fd)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) != 0)
		return b3cas__error_errno(errno, "cannot write %s/%s",
					  lay->root, LOCK_NAME);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int lock_refused(const b3cas_layout *lay, long holder, bool on_file,
			unsigned timeout_ms)
{
	char who[64], waited[64] = "";

	if (holder > 0)
		snprintf(who, sizeof(who), "process %ld", holder);
	else
		snprintf(who, sizeof(who), "another process (pid not known)");
	if (timeout_ms)
		snprintf(waited, sizeof(waited), "; waited %u.%03u s",
			 timeout_ms / 1000, timeout_ms % 1000);
	return b3cas__error(B3CAS_ELOCKED,
			    "store %s is open for writing by %s (it holds "
			    "the lock on %s%s%s)%s",
			    lay->root, who, lay->root, on_file ? "/" : "",
			    on_file ? LOCK_NAME : "", waited);
}

/* Take the writer lock, waiting up to timeout_ms for it to be free. */
static int take_lock(b3cas_layout *lay, unsigned timeout_ms)
{
	uint64_t start = now_ms();
	unsigned pause_ms = 1;
	bool on_file = false;
	long holder = 0;
	int fd = -1, rc, replaced = 0;

	while ((rc = lock_once(lay, &fd, &holder, &on_file)) > 0) {
		uint64_t waited = now_ms() - start;
		struct timespec pause;

		/* LOCK replaced under us (by a third party, or an older
		 * writer that found it deleted): the new one is tried. */
		if (rc == 2 && ++replaced < 100)
			continue;
		if (timeout_ms != B3CAS_LOCK_WAIT_FOREVER &&
		    waited >= timeout_ms)
			return lock_refused(lay, holder, on_file,
					    timeout_ms);
		if (timeout_ms != B3CAS_LOCK_WAIT_FOREVER &&
		    pause_ms > timeout_ms - waited)
			pause_ms = (unsigned)(timeout_ms - waited);
		pause.tv_sec = 0;
		pause.tv_nsec = (long)pause_ms * 1000000L;
		nanosleep(&pause, NULL);
		pause_ms = pause_ms * 2 > LOCK_POLL_MAX_MS ? LOCK_POLL_MAX_MS
							   : pause_ms * 2;
	}
	if (rc < 0)
		return rc;
	/* Kept on failure: b3cas__layout_close lets go of both locks. */
	lay->lock_fd = fd;
	return record_pid(lay, fd);
}

static void release_lock(b3cas_layout *lay)
{
	if (lay->lock_fd >= 0)
		close(lay->lock_fd); /* the folder's flock goes with root_fd */
	lay->lock_fd = -1;
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
		rc = take_lock(lay, o->lock_timeout_ms);
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
	release_lock(lay);
	if (lay->root_fd >= 0)
		close(lay->root_fd);
	free(lay->root);
	free(lay->objects_path);
	free(lay->objects_conf);
	free(lay->tmp_path);
	memset(lay, 0, sizeof(*lay));
	lay->root_fd = lay->objects_fd = lay->tmp_fd = lay->lock_fd = -1;
}
