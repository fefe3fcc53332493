/*
 * layout/path.c - making, recognising and locking a store folder.
 *
 * Invariants: a folder is a store exactly when it has b3cas.conf, which is
 * written (temp file, fsync, rename, fsync folder) only after every other
 * part of the layout exists; a store is opened for writing only while the
 * store folder itself and its LOCK are held with flock (see the LOCK
 * section: no change to the names inside the folder can steal the lock),
 * which the kernel drops when the process dies, so a crash never leaves a
 * stale lock behind. Inside the store every name is opened relative to the
 * store's folder descriptors and never through a symbolic link (a link
 * where the layout has a folder makes the open fail); only the folder
 * given as the store, and a tier folder named in b3cas.conf or by the
 * caller, are taken as paths. A store is made only in a folder holding
 * nothing but what an interrupted init leaves (layout/leftovers.c), and its
 * objects folder is marked as its own (layout/owner.c).
 */
#include "layout/path.h"

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

#include "layout/layout_int.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/holder.h"

#define CONF_NAME "b3cas.conf"
#define CONF_MAX 4096

/* The layout's folders, each after the folder holding it. The optional
 * ones are made by other parts when needed; every one that exists must be
 * a real folder. */
static const char *const layout_dirs[] = {
	"objects", "index", "cache", "cache/l2", "integrity",
	"integrity/quarantine", "integrity/checksums", "integrity/backup",
	"tmp",
};
static const char *const optional_dirs[] = {
	"cache/l2/tmp", "integrity/recover",
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

/* ---- b3cas.conf ---------------------------------------------------------- */

/* Publish text as b3cas.conf through b3cas.conf.tmp (a name
 * layout/leftovers.c knows), durable before init reports success. */
static int publish_conf(b3cas_layout *lay, const char *text, size_t len)
{
	const b3cas_atomic_write w = {
		.stage_fd = lay->root_fd, .stage_name = CONF_NAME ".tmp",
		.dir_fd = lay->root_fd, .name = CONF_NAME,
		.where = lay->root, .durability = B3CAS_DURABILITY_FULL,
	};

	return b3cas__atomic_write(&w, text, len);
}

static int write_conf(b3cas_layout *lay)
{
	char text[CONF_MAX];
	int n;

	n = snprintf(text, sizeof(text),
		     "# b3cas store configuration: fixed when the store was "
		     "made.\n"
		     "# Editing it does not convert the store.\n"
		     "format_version = %u\n"
		     "hash = %s\n"
		     "inline_threshold = %zu\n"
		     "store_id = %s\n"
		     "%s%s%s",
		     lay->format, b3cas_hash_algo_name(lay->hash),
		     lay->inline_threshold, lay->store_id,
		     lay->objects_conf ? "objects = " : "",
		     lay->objects_conf ? lay->objects_conf : "",
		     lay->objects_conf ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return b3cas__error(B3CAS_EINVAL, "objects folder name too "
				    "long for %s", CONF_NAME);
	return publish_conf(lay, text, (size_t)n);
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
	} else if (strcmp(key, "store_id") == 0) {
		if (!b3cas__store_id_valid(value))
			return conf_bad(lay, "bad store_id (not 32 hex "
					"digits)", value);
		memcpy(lay->store_id, value, B3CAS_STORE_ID_LEN + 1);
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

/* The text of b3cas.conf, NUL-terminated, into text[CONF_MAX + 1]. */
static int read_conf_text(const b3cas_layout *lay, char *text, size_t *len)
{
	ssize_t n;
	int fd;

	fd = openat(lay->root_fd, CONF_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is a symbolic link: "
				    "b3cas does not follow links inside a "
				    "store", lay->root, CONF_NAME);
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
	*len = (size_t)n;
	return 0;
}

static int read_conf(b3cas_layout *lay)
{
	char text[CONF_MAX + 1];
	size_t len = 0;
	int rc = read_conf_text(lay, text, &len);

	return rc < 0 ? rc : b3cas__conf_parse(lay, text);
}

/* A store made before store ids gets one: b3cas.conf as it was (keys of
 * newer minor versions kept) plus a store_id line. */
static int add_store_id(b3cas_layout *lay)
{
	char text[CONF_MAX + 64];
	size_t len = 0;
	int rc = read_conf_text(lay, text, &len);

	if (rc < 0)
		return rc;
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"store_id = %s\n", lay->store_id);
	return publish_conf(lay, text, len);
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

/* Make <tier>/00..ff under the tier's descriptor, or with check_only just
 * see that each one that exists is a real folder. */
static int make_tier(const b3cas_layout *lay, bool check_only)
{
	for (unsigned i = 0; i < 256; i++) {
		char name[3];
		struct stat st;
		int rc;

		snprintf(name, sizeof(name), "%02x", i);
		if (check_only &&
		    fstatat(lay->objects_fd, name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    S_ISDIR(st.st_mode))
			continue;
		rc = b3cas__mkdir_at(lay->objects_fd, name, lay->objects_path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Every folder of the layout that exists is a real folder, not a link to
 * somewhere else (which the store would then write into or empty). */
static int check_layout(const b3cas_layout *lay)
{
	size_t n = COUNT(layout_dirs);

	for (size_t i = 0; i < n + COUNT(optional_dirs); i++) {
		const char *name = i < n ? layout_dirs[i]
					 : optional_dirs[i - n];
		struct stat st;
		int fd;

		if (fstatat(lay->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) &&
		    errno == ENOENT)
			continue;
		fd = b3cas__open_dir_at(lay->root_fd, name, lay->root);
		if (fd < 0)
			return fd;
		close(fd);
	}
	return 0;
}

static int make_layout(b3cas_layout *lay, const b3cas_store_options *o)
{
	int rc = 0;

	for (size_t i = 0; i < COUNT(layout_dirs) && rc == 0; i++)
		rc = b3cas__mkdir_at(lay->root_fd, layout_dirs[i], lay->root);
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
	if (rc == 0 && !lay->store_id[0])
		rc = b3cas__store_id_new(lay->store_id);
	lay->format = B3CAS_FORMAT_VERSION;
	lay->hash = o->hash == B3CAS_HASH_DEFAULT ? B3CAS_HASH_BLAKE3 : o->hash;
	lay->inline_threshold = o->inline_threshold
					? o->inline_threshold
					: B3CAS_INLINE_THRESHOLD_DEFAULT;
	lay->created = true;
	return rc;
}

/*
 * The --objects-dir folder of a store about to be made: missing, or
 * holding only what an interrupted init left, with no owner mark but
 * pending_id's. Checked before anything is made, so a refusal changes
 * nothing.
 */
static int check_new_tier(const char *root, const char *dir,
			  const char *pending_id)
{
	char mark[B3CAS_STORE_ID_LEN + 1];
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open the objects "
					  "folder %s", dir);
	/* Another store's mark says the most, so it is looked at first. */
	rc = b3cas__owner_read(fd, dir, mark);
	if (rc == 1 && strcmp(mark, pending_id) != 0)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "objects folder %s belongs to another store "
				  "(id %s, in %s/%s): store %s cannot use it",
				  dir, mark, dir, B3CAS_OWNER_NAME, root);
	if (rc >= 0)
		rc = b3cas__check_leftovers(fd, dir, true, mark);
	close(fd);
	return rc;
}

/* Root exists or (when making a store) is made; never a file. */
static int find_or_make_root(const char *root, const b3cas_store_options *o)
{
	struct stat st;
	int rc;

	if (stat(root, &st) != 0) {
		if (errno != ENOENT)
			return b3cas__error_errno(errno, "cannot use %s", root);
		if (!o->create || o->read_only)
			return b3cas__error(B3CAS_ENOTFOUND,
					    "there is no b3cas store at %s "
					    "(create one with 'b3cas init')",
					    root);
		if (o->objects_dir) {
			rc = check_new_tier(root, o->objects_dir, "");
			if (rc < 0)
				return rc;
		}
		if (mkdir(root, 0755) != 0 && errno != EEXIST)
			return b3cas__error_errno(errno, "cannot create %s",
						  root);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return b3cas__error(B3CAS_EFORMAT,
				    "%s is not a folder, so not a b3cas store",
				    root);
	return 0;
}

static bool has_conf(const b3cas_layout *lay)
{
	struct stat st;

	return fstatat(lay->root_fd, CONF_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * A folder without b3cas.conf: it may become a store only if it holds
 * nothing but an interrupted init's leftovers (whose owner mark, if any,
 * gives the id the store was to have).
 */
static int check_unmade(b3cas_layout *lay, const b3cas_store_options *o)
{
	int rc = b3cas__check_leftovers(lay->root_fd, lay->root, false,
					lay->store_id);

	if (rc < 0)
		return rc;
	if (!o->create || o->read_only)
		return b3cas__error(B3CAS_ENOTFOUND,
				    "there is no b3cas store at %s (create "
				    "one with 'b3cas init')", lay->root);
	return o->objects_dir
		       ? check_new_tier(lay->root, o->objects_dir,
					lay->store_id)
		       : 0;
}

/*
 * Open the object tier: opts->objects_dir, else the folder b3cas.conf
 * records, else <root>/objects; and the staging folder beside it, from
 * which only staging files are cleared.
 */
static int open_tier(b3cas_layout *lay, const b3cas_store_options *o)
{
	const char *dir = o->objects_dir ? o->objects_dir : lay->objects_conf;
	int rc, at;

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
		lay->objects_fd = b3cas__open_dir_at(lay->root_fd, "objects",
						     lay->root);
		if (lay->objects_fd < 0)
			return lay->objects_fd;
	}
	if (o->read_only)
		return 0;
	rc = make_tier(lay, !lay->created);
	/* tmp/ beside the tier: a rename cannot cross file systems. */
	at = dir ? lay->objects_fd : lay->root_fd;
	if (rc == 0)
		rc = b3cas__mkdir_at(at, "tmp", dir ? dir : lay->root);
	if (rc == 0)
		rc = lay->tmp_fd = b3cas__open_dir_at(at, "tmp",
						      dir ? dir : lay->root);
	if (rc >= 0)
		rc = b3cas__clear_staging(lay->tmp_fd, dir ? dir : lay->root,
					  b3cas__staging_name);
	if (rc >= 0) {
		/* For messages that name a staging file. */
		lay->tmp_path = dir ? b3cas__malloc(strlen(dir) + 5)
				    : b3cas__layout_path(lay, "tmp");
		if (!lay->tmp_path)
			rc = B3CAS_ENOMEM;
		else if (dir)
			sprintf(lay->tmp_path, "%s/tmp", dir);
	}
	return rc < 0 ? rc : 0;
}

/* A new store's objects folders carry its id: <root>/objects first (a
 * rerun of an interrupted init finds the id there), then the tier. */
static int own_new_store(b3cas_layout *lay)
{
	char *where = b3cas__layout_path(lay, "objects");
	int objects_fd = -1, tmp_fd = -1, rc;

	if (!where)
		return B3CAS_ENOMEM;
	if (!lay->objects_conf) {
		rc = b3cas__owner_claim(lay, lay->tmp_fd, lay->objects_fd,
					where, true);
		goto out;
	}
	rc = objects_fd = b3cas__open_dir_at(lay->root_fd, "objects",
					     lay->root);
	if (rc >= 0)
		rc = tmp_fd = b3cas__open_dir_at(lay->root_fd, "tmp",
						 lay->root);
	if (rc >= 0)
		rc = b3cas__owner_claim(lay, tmp_fd, objects_fd, where, true);
	if (rc == 0)
		rc = b3cas__owner_claim(lay, lay->tmp_fd, lay->objects_fd,
					lay->objects_path, true);
out:
	if (objects_fd >= 0)
		close(objects_fd);
	if (tmp_fd >= 0)
		close(tmp_fd);
	free(where);
	return rc < 0 ? rc : 0;
}

/*
 * An existing store's tier must be its own. A store made before store ids
 * gets one at its first writable open: refused if the folder is marked
 * already, else recorded in b3cas.conf first and the folder marked after.
 */
static int own_tier(b3cas_layout *lay, bool writable)
{
	char mark[B3CAS_STORE_ID_LEN + 1];
	int rc;

	if (lay->created)
		return own_new_store(lay);
	if (lay->store_id[0])
		return b3cas__owner_claim(lay, lay->tmp_fd, lay->objects_fd,
					  lay->objects_path, writable);
	if (!writable)
		return 0; /* nothing to compare with until it has an id */
	rc = b3cas__owner_read(lay->objects_fd, lay->objects_path, mark);
	if (rc == 1)
		return b3cas__error(B3CAS_EFORMAT,
				    "objects folder %s belongs to another "
				    "store (id %s, in %s/%s); store %s, made "
				    "before store ids, cannot share it",
				    lay->objects_path, mark, lay->objects_path,
				    B3CAS_OWNER_NAME, lay->root);
	if (rc == 0)
		rc = b3cas__store_id_new(lay->store_id);
	if (rc == 0)
		rc = add_store_id(lay);
	if (rc == 0)
		rc = b3cas__owner_claim(lay, lay->tmp_fd, lay->objects_fd,
					lay->objects_path, true);
	return rc;
}

int b3cas__layout_open(b3cas_layout *lay, const char *root,
		       const b3cas_store_options *o)
{
	int rc;

	memset(lay, 0, sizeof(*lay));
	lay->root_fd = lay->objects_fd = lay->tmp_fd = lay->lock_fd = -1;
	lay->root = strdup(root);
	if (!lay->root)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = find_or_make_root(root, o);
	if (rc < 0)
		goto fail;
	lay->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lay->root_fd < 0) {
		rc = b3cas__error_errno(errno, "cannot open %s", root);
		goto fail;
	}
	/* Nothing is made or locked in a folder that is not (going to be)
	 * a store. */
	if (!has_conf(lay) && (rc = check_unmade(lay, o)) < 0)
		goto fail;
	if (!o->read_only) {
		rc = take_lock(lay, o->lock_timeout_ms);
		if (rc < 0)
			goto fail;
	}
	/* Asked again under the lock: a creator that held it before us may
	 * have finished the store. */
	if (!has_conf(lay)) {
		rc = make_layout(lay, o);
	} else {
		rc = read_conf(lay);
		if (rc == 0)
			rc = check_conf(lay, o);
		if (rc == 0)
			rc = check_layout(lay);
	}
	if (rc == 0)
		rc = open_tier(lay, o);
	if (rc == 0)
		rc = own_tier(lay, !o->read_only);
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
