/*
 * model/restore.c - trees back to a directory (model/fstree.h), the walk
 * and the file system. The walk, on the calling thread, reads each tree
 * depth first, makes each folder (0700 while it is filled), its symbolic
 * links, special files and the later names of hard links, and queues its
 * regular files to the workers (restore_run.c), which create, write and
 * close them. Everything is made with *at() calls relative to folders
 * the restore made, never following a link. A folder's own attributes
 * are set once all in it is done (model/restore_int.h), so that a
 * read-only folder still receives its entries and keeps the time
 * recorded. Attributes go in the order that keeps them: owner, then mode
 * (a change of owner clears set-id bits), xattrs, then times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "model/restore_int.h"

/* Where an entry is, for messages: a folder's shown path and a name in
 * it (NULL: the folder itself). Formatted only when a message needs it. */
typedef struct where {
	const char *dir;
	const char *name;
} where;

static const char *shown(char *buf, size_t len, const where *w)
{
	if (!w->name)
		return w->dir;
	snprintf(buf, len, "%s/%s", w->dir, w->name);
	return buf;
}

/* Fail with errno's code: "tree get: PATH: what". */
static int fs_error(int errnum, const where *w, const char *what)
{
	char buf[B3CAS__MESSAGE_MAX];

	return b3cas__error_errno(errnum, "tree get: %s: %s",
				  shown(buf, sizeof(buf), w), what);
}

/* A refused change of owner is left alone when not root (the files are
 * the caller's, as tar leaves them). */
static int owner_result(restore_run *r, int res, const where *w)
{
	if (res == 0 || (!r->root_user && errno == EPERM))
		return 0;
	return fs_error(errno, w, "cannot set the owner");
}

/* Does an entry the restore made have a's owner already? (A call per
 * file less, for the usual restore of one's own files.) */
static bool owned_already(const restore_run *r, const b3cas_tree_attr *a)
{
	return a->uid == (uint64_t)r->new_uid && a->gid == (uint64_t)r->new_gid;
}

/* xattrs through fd, or by path (no link followed). Outside user.*, a
 * refusal is left alone when not root. */
static int set_xattrs(restore_run *r, int fd, const char *path,
		      const b3cas_tree_attr *a, const where *w)
{
	for (size_t i = 0; i < a->xattr_count; i++) {
		char name[B3CAS_TREE_XATTR_NAME_MAX + 1];
		char buf[B3CAS__MESSAGE_MAX];
		const b3cas_tree_xattr *x = &a->xattrs[i];
		int res;

		memcpy(name, x->name, x->name_len);
		name[x->name_len] = '\0';
		res = fd >= 0 ? fsetxattr(fd, name, x->value, x->value_len, 0)
			      : lsetxattr(path, name, x->value, x->value_len,
					  0);
		if (res == 0)
			continue;
		if (!r->root_user && errno == EPERM &&
		    strncmp(name, "user.", 5) != 0)
			continue;
		return b3cas__error_errno(errno, "tree get: %s: cannot set "
					  "xattr %s",
					  shown(buf, sizeof(buf), w), name);
	}
	return 0;
}

static void times_of(struct timespec ts[2], const b3cas_tree_attr *a)
{
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT; /* access time: not recorded */
	ts[1].tv_sec = (time_t)a->mtime_sec;
	ts[1].tv_nsec = (long)a->mtime_nsec;
}

/* All of a's attributes on the open fd (a file or a folder; made: by
 * the restore, so its owner is r->new_uid and r->new_gid). */
static int set_attr_fd(restore_run *r, int fd, const b3cas_tree_attr *a,
		       bool made, const where *w)
{
	struct timespec ts[2];
	int rc = made && owned_already(r, a)
			 ? 0
			 : owner_result(r, fchown(fd, (uid_t)a->uid,
						  (gid_t)a->gid),
					w);

	if (rc == 0 && fchmod(fd, (mode_t)a->mode) < 0)
		rc = fs_error(errno, w, "cannot set the mode");
	if (rc == 0)
		rc = set_xattrs(r, fd, NULL, a, w);
	times_of(ts, a);
	if (rc == 0 && futimens(fd, ts) < 0)
		rc = fs_error(errno, w, "cannot set the time");
	return rc;
}

/* The same for name in dirfd, which the restore made and is no regular
 * file or folder (a link's own mode cannot be set, and is not). */
static int set_attr_at(restore_run *r, int dirfd, const char *name,
		       const b3cas_tree_entry *e, const where *w)
{
	char proc[32 + B3CAS_TREE_NAME_MAX];
	struct timespec ts[2];
	int rc = owned_already(r, &e->attr)
			 ? 0
			 : owner_result(r, fchownat(dirfd, name,
						    (uid_t)e->attr.uid,
						    (gid_t)e->attr.gid,
						    AT_SYMLINK_NOFOLLOW),
					w);

	if (rc == 0 && e->type != B3CAS_TREE_SYMLINK &&
	    fchmodat(dirfd, name, (mode_t)e->attr.mode, 0) < 0)
		rc = fs_error(errno, w, "cannot set the mode");
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	if (rc == 0)
		rc = set_xattrs(r, -1, proc, &e->attr, w);
	times_of(ts, &e->attr);
	if (rc == 0 && utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rc = fs_error(errno, w, "cannot set the time");
	return rc;
}

static char *join(const char *a, const char *b, size_t blen)
{
	size_t la = strlen(a);
	char *p = malloc(la + blen + 2);

	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = la ? '/' : '\0';
	memcpy(p + la + (la ? 1 : 0), b, blen);
	p[la + (la ? 1 : 0) + blen] = '\0';
	return p;
}

static void name_of(char name[B3CAS_TREE_NAME_MAX + 1],
		    const b3cas_tree_entry *e)
{
	memcpy(name, e->name, e->name_len);
	name[e->name_len] = '\0';
}

/* ---- what the workers and link waiters call ------------------------------ */

int b3cas__restore_link(restore_run *r, const char *first_rel, rdir *d,
			const b3cas_tree_entry *e)
{
	char name[B3CAS_TREE_NAME_MAX + 1];
	char *copy = strdup(first_rel), *part, *next;
	where w = {d->shown, name};
	int at = r->rootfd, rc = 0;

	name_of(name, e);
	if (!copy)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	/* walk first_rel's folders from dest, following no link */
	for (part = copy; (next = strchr(part, '/')) != NULL; part = next + 1) {
		int fd;

		*next = '\0';
		fd = openat(at, part, O_PATH | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
		if (at != r->rootfd)
			close(at);
		if (fd < 0) {
			char buf[B3CAS__MESSAGE_MAX];

			rc = b3cas__error_errno(errno, "tree get: %s: cannot "
						"reach %s",
						shown(buf, sizeof(buf), &w),
						first_rel);
			free(copy);
			return rc;
		}
		at = fd;
	}
	if (linkat(at, part, d->fd, name, 0) < 0) {
		char buf[B3CAS__MESSAGE_MAX];

		rc = b3cas__error_errno(errno, "tree get: %s: cannot link to "
					"%s", shown(buf, sizeof(buf), &w),
					first_rel);
	}
	if (at != r->rootfd)
		close(at);
	free(copy);
	return rc;
}

/* Open j's file (made empty by the walk) for writing: 0 and *fd, or a
 * code. */
static int open_file(const rjob *j, const char *name, const where *w,
		     int *fd)
{
	*fd = openat(j->dir->fd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	return *fd < 0 ? fs_error(errno, w, "cannot open") : 0;
}

/* Write j's bytes to fd through the file callback. */
static int fill(restore_run *r, const rjob *j, unsigned worker, int fd,
		const char *name, const where *w)
{
	b3cas__restore_file f;
	int rc;

	f.id = &j->e->id;
	f.size = j->e->size;
	f.off = j->off;
	f.len = j->len;
	f.fd = fd;
	f.sparse = (j->e->flags & B3CAS_TREE_SPARSE) != 0;
	f.worker = worker;
	f.done = &r->bytes;
	f.stop = &r->stop;
	rc = r->ops->file(r->ctx, &f);
	if (rc < 0 && !b3cas__run_stopping(r)) {
		/* say which file: the callback's message names the object */
		char buf[B3CAS__MESSAGE_MAX];

		snprintf(buf, sizeof(buf), "%s", b3cas_error_last());
		rc = b3cas__error(rc, "tree get: %s/%s: %s", w->dir, name,
				  buf);
	}
	return rc;
}

/* What ends a file that was written: a sparse file may end in a hole, so
 * its length is set here; then its attributes. */
static int seal(restore_run *r, const rjob *j, int fd, const where *w)
{
	const b3cas_tree_entry *e = j->e;

	if ((e->flags & B3CAS_TREE_SPARSE) &&
	    ftruncate(fd, (off_t)e->size) < 0)
		return fs_error(errno, w, "cannot set the length");
	return set_attr_fd(r, fd, &e->attr, true, w);
}

/* Write and close j's file (made empty by the walk); 0 or a code. */
static int write_file(restore_run *r, const rjob *j, unsigned worker,
		      const char *name, const where *w)
{
	int fd, rc = open_file(j, name, w, &fd);

	if (rc < 0) {
		(void)unlinkat(j->dir->fd, name, 0);
		return rc;
	}
	rc = fill(r, j, worker, fd, name, w);
	if (rc == 0)
		rc = seal(r, j, fd, w);
	if (close(fd) < 0 && rc == 0)
		rc = fs_error(errno, w, "cannot write");
	/* no file is left with content that was not all checked */
	if (rc < 0)
		(void)unlinkat(j->dir->fd, name, 0);
	return rc;
}

int b3cas__restore_write_part(restore_run *r, const rjob *j,
			      unsigned worker)
{
	char name[B3CAS_TREE_NAME_MAX + 1];
	where w = {j->dir->shown, name};
	int fd, rc;

	name_of(name, j->e);
	rc = open_file(j, name, &w, &fd);
	if (rc < 0)
		return rc;
	rc = fill(r, j, worker, fd, name, &w);
	if (close(fd) < 0 && rc == 0)
		rc = fs_error(errno, &w, "cannot write");
	return rc;
}

int b3cas__restore_finish(restore_run *r, const rjob *j)
{
	char name[B3CAS_TREE_NAME_MAX + 1];
	where w = {j->dir->shown, name};
	int fd, rc;

	name_of(name, j->e);
	rc = open_file(j, name, &w, &fd);
	if (rc == 0) {
		rc = seal(r, j, fd, &w);
		if (close(fd) < 0 && rc == 0)
			rc = fs_error(errno, &w, "cannot write");
	}
	if (rc < 0) {
		(void)unlinkat(j->dir->fd, name, 0);
		return rc;
	}
	atomic_fetch_add_explicit(&r->files, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->whole_bytes, j->e->size,
				  memory_order_relaxed);
	return 0;
}

void b3cas__restore_drop(const rjob *j)
{
	char name[B3CAS_TREE_NAME_MAX + 1];

	name_of(name, j->e);
	(void)unlinkat(j->dir->fd, name, 0);
}

int b3cas__restore_write(restore_run *r, const rjob *j, unsigned worker)
{
	char name[B3CAS_TREE_NAME_MAX + 1];
	where w = {j->dir->shown, name};
	int rc;

	name_of(name, j->e);
	rc = write_file(r, j, worker, name, &w);
	if (rc == 0) {
		atomic_fetch_add_explicit(&r->files, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&r->whole_bytes, j->e->size,
					  memory_order_relaxed);
	}
	return rc;
}

void b3cas__restore_dir_done(restore_run *r, rdir *d)
{
	where w = {d->shown, NULL};

	if (d->tree && !b3cas__run_stopping(r)) {
		int rc = set_attr_fd(r, d->fd, &d->tree->self,
				     d->fd != r->rootfd, &w);

		if (rc < 0)
			b3cas__run_fail(r, rc);
	}
	if (d->fd >= 0 && d->fd != r->rootfd)
		close(d->fd);
	b3cas_tree_free(d->tree);
	free(d->bytes);
	free(d->rel);
	free(d->shown);
	free(d);
}

/* ---- the walk ---------------------------------------------------------------- */

static int walk_dir(restore_run *r, rdir *d);

/* Read and parse d's tree, id. */
static int load_tree(restore_run *r, rdir *d, const b3cas_oid *id)
{
	size_t len = 0;
	int rc = r->ops->tree(r->ctx, id, &d->bytes, &len);

	if (rc == 0) {
		rc = b3cas_tree_parse(d->bytes, len, &d->tree);
		if (rc < 0) /* b3cas__error formats before it replaces */
			rc = b3cas__error(B3CAS_ECORRUPT, "tree get: %s: %s",
					  d->shown, b3cas_error_last());
	}
	if (rc == 0)
		r->dirs++;
	return rc;
}

/* Make subfolder e of parent, then restore it. */
static int walk_subdir(restore_run *r, rdir *parent, const b3cas_tree_entry *e,
		       const char *name)
{
	where w = {parent->shown, name};
	rdir *d;
	int rc;

	b3cas__run_wait_dirs(r);
	if (mkdirat(parent->fd, name, 0700) < 0)
		return fs_error(errno, &w, "cannot create");
	d = calloc(1, sizeof(*d));
	if (!d)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	d->parent = parent;
	d->rel = join(parent->rel, e->name, e->name_len);
	d->shown = join(parent->shown, e->name, e->name_len);
	d->fd = openat(parent->fd, name,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (!d->rel || !d->shown || d->fd < 0) {
		rc = d->fd < 0 ? fs_error(errno, &w, "cannot open")
			       : b3cas__error(B3CAS_ENOMEM, "tree get: out of "
					      "memory");
		if (d->fd >= 0)
			close(d->fd);
		free(d->rel);
		free(d->shown);
		free(d);
		return rc;
	}
	b3cas__dir_opened(r, d);
	rc = load_tree(r, d, &e->id);
	if (rc == 0)
		rc = walk_dir(r, d);
	else
		b3cas__run_fail(r, rc);
	b3cas__dir_release(r, d);
	return rc;
}

/*
 * A regular file: made empty here and queued, or, for a later name of a
 * hard link, linked to its first once that is complete. The walk makes
 * every name in a folder, on one thread: the workers only open files to
 * write them. When workers created files too, their creates in the same
 * folder waited on its lock, spinning: in checkpoint_series.sh's
 * restores, after other tools' restores were deleted on the same file
 * system (ext4 then scans for inodes not recently deleted while it holds
 * the lock), a quarter of the samples were that spinning (perf).
 */
static int walk_file(restore_run *r, rdir *d, const b3cas_tree_entry *e,
		     const char *name)
{
	rlink *first = NULL;
	char *rel;
	int rc, fd;

	if (e->flags & B3CAS_TREE_LINKED) {
		first = b3cas__link_find(r, e->link);
		if (first)
			return b3cas__link_later(r, first, d, e);
	}
	fd = openat(d->fd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		where w = {d->shown, name};

		return fs_error(errno, &w, "cannot create");
	}
	close(fd);
	if (e->flags & B3CAS_TREE_LINKED) {
		rel = join(d->rel, name, e->name_len);
		if (rel)
			first = b3cas__link_add(r, e->link, rel);
		else
			b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
		free(rel);
		if (!first) {
			(void)unlinkat(d->fd, name, 0);
			return B3CAS_ENOMEM;
		}
	}
	rc = b3cas__run_queue(r, d, e, first);
	if (rc < 0)
		(void)unlinkat(d->fd, name, 0);
	return rc;
}

/* A symbolic link or a special file, with its attributes. */
static int walk_other(restore_run *r, rdir *d, const b3cas_tree_entry *e,
		      const char *name)
{
	char target[B3CAS_TREE_TARGET_MAX + 1];
	where w = {d->shown, name};
	mode_t type;

	r->others++;
	if (e->type == B3CAS_TREE_SYMLINK) {
		memcpy(target, e->target, e->target_len);
		target[e->target_len] = '\0';
		if (symlinkat(target, d->fd, name) < 0)
			return fs_error(errno, &w, "cannot create");
		return set_attr_at(r, d->fd, name, e, &w);
	}
	type = e->type == B3CAS_TREE_CHAR    ? S_IFCHR
	       : e->type == B3CAS_TREE_BLOCK ? S_IFBLK
	       : e->type == B3CAS_TREE_FIFO  ? S_IFIFO
					     : S_IFSOCK;
	if (mknodat(d->fd, name, type | 0600,
		    makedev(e->rdev_major, e->rdev_minor)) < 0)
		return fs_error(errno, &w, "cannot create");
	return set_attr_at(r, d->fd, name, e, &w);
}

/* d's entries, in name order; stops at the first failure anywhere. */
static int walk_dir(restore_run *r, rdir *d)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < d->tree->count; i++) {
		const b3cas_tree_entry *e = &d->tree->entries[i];
		char name[B3CAS_TREE_NAME_MAX + 1];

		if (b3cas__run_stopping(r))
			return B3CAS_ECANCELED; /* the failure is recorded */
		b3cas__run_tick(r, false);
		name_of(name, e);
		if (e->type == B3CAS_TREE_DIR)
			rc = walk_subdir(r, d, e, name);
		else if (e->type == B3CAS_TREE_FILE)
			rc = walk_file(r, d, e, name);
		else
			rc = walk_other(r, d, e, name);
		if (rc < 0)
			b3cas__run_fail(r, rc);
	}
	return rc;
}

/* dest made, or found empty: its descriptor. */
static int open_dest(const char *dest)
{
	int fd;
	DIR *dir;
	struct dirent *de;
	bool empty = true;

	if (mkdir(dest, 0700) < 0 && errno != EEXIST)
		return b3cas__error_errno(errno, "tree get: %s: cannot create",
					  dest);
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP
			       ? b3cas__error(B3CAS_EEXISTS, "tree get: %s: "
					      "exists and is not a folder",
					      dest)
			       : b3cas__error_errno(errno, "tree get: %s: "
						    "cannot open", dest);
	dir = fdopendir(dup(fd));
	if (!dir) {
		close(fd);
		return b3cas__error_errno(errno, "tree get: %s: cannot read",
					  dest);
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(dir);
	if (!empty) {
		close(fd);
		return b3cas__error(B3CAS_EEXISTS, "tree get: %s: not empty "
				    "(a restore goes into a new or empty "
				    "folder)", dest);
	}
	return fd;
}

/* The folder dest itself, its tree read, open with the walk's hold. */
static int walk_root(restore_run *r, const b3cas_oid *root, const char *dest)
{
	rdir *d = calloc(1, sizeof(*d));
	int rc;

	if (d) {
		d->rel = strdup("");
		d->shown = strdup(dest);
	}
	if (!d || !d->rel || !d->shown) {
		if (d) {
			free(d->rel);
			free(d->shown);
		}
		free(d);
		return b3cas__run_fail(r, b3cas__error(B3CAS_ENOMEM, "tree "
						       "get: out of memory"));
	}
	d->fd = r->rootfd;
	b3cas__dir_opened(r, d);
	rc = load_tree(r, d, root);
	if (rc == 0)
		rc = walk_dir(r, d);
	if (rc < 0)
		b3cas__run_fail(r, rc);
	else
		r->walked = true;
	b3cas__dir_release(r, d);
	return rc;
}

int b3cas__restore(const b3cas_oid *root, const char *dest,
		   const b3cas__restore_ops *ops, void *ctx,
		   const b3cas__restore_params *params)
{
	restore_run r;
	struct stat st;
	int rc;

	if (!root || !dest || !ops || !params)
		return b3cas__error_null("b3cas__restore", !root ? "root"
						       : !dest ? "dest"
						       : !ops  ? "ops"
							       : "params");
	memset(&r, 0, sizeof(r));
	r.ops = ops;
	r.ctx = ctx;
	r.root_user = geteuid() == 0;
	r.rootfd = open_dest(dest);
	if (r.rootfd < 0)
		return r.rootfd;
	/* what is made below dest belongs to us, in dest's group if it is
	 * set-group-id (each folder made in it is too, until its own mode
	 * is set, after its entries) */
	r.new_uid = geteuid();
	r.new_gid = getegid();
	if (fstat(r.rootfd, &st) == 0 && (st.st_mode & S_ISGID))
		r.new_gid = st.st_gid;
	rc = b3cas__run_start(&r, params);
	if (rc < 0) {
		close(r.rootfd);
		return rc;
	}
	(void)walk_root(&r, root, dest);
	b3cas__run_end(&r);
	close(r.rootfd); /* the root folder's finish leaves it open */
	if (r.rc == 0)
		b3cas__run_tick(&r, true);
	if (params->counts) {
		params->counts->files = atomic_load(&r.files);
		params->counts->bytes = atomic_load(&r.whole_bytes);
		params->counts->dirs = r.dirs;
		params->counts->others = r.others;
	}
	rc = r.rc;
	if (rc < 0)
		(void)b3cas__error(rc, "%s", r.msg);
	b3cas__run_destroy(&r);
	return rc;
}
