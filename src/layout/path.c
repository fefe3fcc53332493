/*
 * layout/path.c - making, recognising and opening a store folder (its
 * b3cas.conf in layout/conf.c, its lock in layout/lock.c).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout/layout_int.h"
#include "util/error.h"
#include "util/fsutil.h"

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
	if (o->chunking == B3CAS_CHUNKING_ON) {
		uint32_t avg = o->chunk_avg ? o->chunk_avg
					    : B3CAS_CHUNK_AVG_DEFAULT;

		lay->chunk_avg = avg;
		lay->chunk_min = avg / 4;
		lay->chunk_max = avg * 4;
	}
	lay->zlevel = o->compression_level;
	lay->zpacked = lay->zlevel > 0 && o->packing != B3CAS_PACKING_OFF;
	lay->zpack = lay->zpacked && o->version >= 6 &&
				     o->pack_level != lay->zlevel
			     ? o->pack_level
			     : 0;
	lay->format = lay->chunk_avg || lay->zlevel
			      ? B3CAS_FORMAT_VERSION_CHUNKED
			      : B3CAS_FORMAT_VERSION;
	if (o->rados_pool) {
		/* every object in the pool, small ones too, or another host
		 * could not read them */
		lay->format = B3CAS_FORMAT_VERSION_RADOS;
		lay->rados_pool = strdup(o->rados_pool);
		lay->rados_ns = strdup(o->rados_namespace ? o->rados_namespace
							  : "");
		lay->rados_conf = o->rados_conf ? realpath(o->rados_conf, NULL)
						: strdup("");
		if (!lay->rados_conf && o->rados_conf && rc == 0)
			rc = b3cas__error_errno(errno, "cannot resolve the "
						"RADOS configuration %s",
						o->rados_conf);
		else if ((!lay->rados_pool || !lay->rados_ns ||
			  !lay->rados_conf) && rc == 0)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	lay->hash = o->hash == B3CAS_HASH_DEFAULT ? B3CAS_HASH_BLAKE3 : o->hash;
	lay->inline_threshold = o->inline_threshold
					? o->inline_threshold
					: B3CAS_INLINE_THRESHOLD_DEFAULT;
	if (o->rados_pool)
		lay->inline_threshold = 0;
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

	return fstatat(lay->root_fd, B3CAS_CONF_NAME, &st,
		       AT_SYMLINK_NOFOLLOW) == 0;
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
		rc = b3cas__conf_add_store_id(lay);
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
		rc = b3cas__lock_take(lay, o->lock_timeout_ms);
		if (rc < 0)
			goto fail;
	}
	/* Asked again under the lock: a creator that held it before us may
	 * have finished the store. */
	if (!has_conf(lay)) {
		rc = make_layout(lay, o);
	} else {
		rc = b3cas__conf_read(lay);
		if (rc == 0)
			rc = b3cas__conf_check(lay, o);
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
	return lay->created ? b3cas__conf_write(lay) : 0;
}

void b3cas__layout_close(b3cas_layout *lay)
{
	if (lay->tmp_fd >= 0)
		close(lay->tmp_fd);
	if (lay->objects_fd >= 0)
		close(lay->objects_fd);
	b3cas__lock_release(lay);
	if (lay->root_fd >= 0)
		close(lay->root_fd);
	free(lay->root);
	free(lay->objects_path);
	free(lay->objects_conf);
	free(lay->tmp_path);
	free(lay->rados_pool);
	free(lay->rados_ns);
	free(lay->rados_conf);
	memset(lay, 0, sizeof(*lay));
	lay->root_fd = lay->objects_fd = lay->tmp_fd = lay->lock_fd = -1;
}
