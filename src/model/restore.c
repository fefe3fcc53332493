/*
 * model/restore.c - trees back to a directory (model/fstree.h). Each
 * folder is made (0700 while it is filled), its entries created with
 * *at() calls relative to it, and its own attributes set last, so that a
 * read-only folder still receives its entries and its time is the one
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

#include "model/fstree.h"
#include "util/error.h"

/* The first name restored of each file with several names. */
typedef struct linked {
	uint64_t link;
	char *rel; /* from dest, '/'-separated */
} linked;

typedef struct restore {
	const b3cas__restore_ops *ops;
	void *ctx;
	int rootfd;
	bool root_user;
	linked *links;
	size_t nlinks, cap;
} restore;

/* A refused change of owner is left alone when not root (the files are
 * the caller's, as tar leaves them). */
static int owner_result(restore *r, int res, const char *shown)
{
	if (res == 0 || (!r->root_user && errno == EPERM))
		return 0;
	return b3cas__error_errno(errno, "tree get: %s: cannot set the owner",
				  shown);
}

/* xattrs through fd, or by path (no link followed). Outside user.*, a
 * refusal is left alone when not root. */
static int set_xattrs(restore *r, int fd, const char *path,
		      const b3cas_tree_attr *a, const char *shown)
{
	for (size_t i = 0; i < a->xattr_count; i++) {
		char name[B3CAS_TREE_XATTR_NAME_MAX + 1];
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
					  "xattr %s", shown, name);
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

/* All of a's attributes on the open fd (a file or a folder). */
static int set_attr_fd(restore *r, int fd, const b3cas_tree_attr *a,
		       const char *shown)
{
	struct timespec ts[2];
	int rc = owner_result(r, fchown(fd, (uid_t)a->uid, (gid_t)a->gid),
			      shown);

	if (rc == 0 && fchmod(fd, (mode_t)a->mode) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot set the "
					"mode", shown);
	if (rc == 0)
		rc = set_xattrs(r, fd, NULL, a, shown);
	times_of(ts, a);
	if (rc == 0 && futimens(fd, ts) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot set the "
					"time", shown);
	return rc;
}

/* The same for name in dirfd, which is no regular file or folder (a
 * link's own mode cannot be set, and is not). */
static int set_attr_at(restore *r, int dirfd, const char *name,
		       const b3cas_tree_entry *e, const char *shown)
{
	char proc[32 + B3CAS_TREE_NAME_MAX];
	struct timespec ts[2];
	int rc = owner_result(r, fchownat(dirfd, name, (uid_t)e->attr.uid,
					  (gid_t)e->attr.gid,
					  AT_SYMLINK_NOFOLLOW),
			      shown);

	if (rc == 0 && e->type != B3CAS_TREE_SYMLINK &&
	    fchmodat(dirfd, name, (mode_t)e->attr.mode, 0) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot set the "
					"mode", shown);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	if (rc == 0)
		rc = set_xattrs(r, -1, proc, &e->attr, shown);
	times_of(ts, &e->attr);
	if (rc == 0 && utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot set the "
					"time", shown);
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

static const char *linked_find(const restore *r, uint64_t link)
{
	for (size_t i = 0; i < r->nlinks; i++)
		if (r->links[i].link == link)
			return r->links[i].rel;
	return NULL;
}

static int linked_add(restore *r, uint64_t link, const char *rel)
{
	if (r->nlinks == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		linked *v = realloc(r->links, cap * sizeof(*v));

		if (!v)
			return b3cas__error(B3CAS_ENOMEM, "tree get: out of "
					    "memory");
		r->links = v;
		r->cap = cap;
	}
	r->links[r->nlinks].link = link;
	r->links[r->nlinks].rel = strdup(rel);
	if (!r->links[r->nlinks].rel)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	r->nlinks++;
	return 0;
}

/* Make name in dirfd another name of the file restored at rel, walking
 * rel's folders from dest without following links. */
static int link_to(restore *r, const char *rel, int dirfd, const char *name,
		   const char *shown)
{
	char *copy = strdup(rel), *part, *next;
	int at = r->rootfd, rc = 0;

	if (!copy)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	for (part = copy; (next = strchr(part, '/')) != NULL; part = next + 1) {
		int fd;

		*next = '\0';
		fd = openat(at, part, O_PATH | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
		if (at != r->rootfd)
			close(at);
		if (fd < 0) {
			rc = b3cas__error_errno(errno, "tree get: %s: cannot "
						"reach %s", shown, rel);
			free(copy);
			return rc;
		}
		at = fd;
	}
	if (linkat(at, part, dirfd, name, 0) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot link to "
					"%s", shown, rel);
	if (at != r->rootfd)
		close(at);
	free(copy);
	return rc;
}

static int restore_dir(restore *r, int dirfd, const b3cas_oid *id,
		       const char *rel, const char *shown);

static int restore_file(restore *r, int dirfd, const char *name,
			const b3cas_tree_entry *e, const char *rel,
			const char *shown)
{
	const char *first = (e->flags & B3CAS_TREE_LINKED)
				    ? linked_find(r, e->link)
				    : NULL;
	int fd, rc;

	if (first)
		return link_to(r, first, dirfd, name, shown);
	fd = openat(dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return b3cas__error_errno(errno, "tree get: %s: cannot create",
					  shown);
	rc = r->ops->file(r->ctx, &e->id, e->size, fd,
			  (e->flags & B3CAS_TREE_SPARSE) != 0);
	if (rc == 0 && ftruncate(fd, (off_t)e->size) < 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot set the "
					"length", shown);
	if (rc == 0)
		rc = set_attr_fd(r, fd, &e->attr, shown);
	if (close(fd) < 0 && rc == 0)
		rc = b3cas__error_errno(errno, "tree get: %s: cannot write",
					shown);
	if (rc == 0 && (e->flags & B3CAS_TREE_LINKED))
		rc = linked_add(r, e->link, rel);
	return rc;
}

static int restore_entry(restore *r, int dirfd, const b3cas_tree_entry *e,
			 const char *rel, const char *shown)
{
	char name[B3CAS_TREE_NAME_MAX + 1];
	char target[B3CAS_TREE_TARGET_MAX + 1];
	mode_t type = 0;
	int fd, rc;

	memcpy(name, e->name, e->name_len);
	name[e->name_len] = '\0';
	switch (e->type) {
	case B3CAS_TREE_DIR:
		if (mkdirat(dirfd, name, 0700) < 0)
			return b3cas__error_errno(errno, "tree get: %s: cannot "
						  "create", shown);
		fd = openat(dirfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return b3cas__error_errno(errno, "tree get: %s: cannot "
						  "open", shown);
		rc = restore_dir(r, fd, &e->id, rel, shown);
		close(fd);
		return rc;
	case B3CAS_TREE_FILE:
		return restore_file(r, dirfd, name, e, rel, shown);
	case B3CAS_TREE_SYMLINK:
		memcpy(target, e->target, e->target_len);
		target[e->target_len] = '\0';
		if (symlinkat(target, dirfd, name) < 0)
			return b3cas__error_errno(errno, "tree get: %s: cannot "
						  "create", shown);
		return set_attr_at(r, dirfd, name, e, shown);
	case B3CAS_TREE_CHAR:
		type = S_IFCHR;
		break;
	case B3CAS_TREE_BLOCK:
		type = S_IFBLK;
		break;
	case B3CAS_TREE_FIFO:
		type = S_IFIFO;
		break;
	default:
		type = S_IFSOCK;
		break;
	}
	if (mknodat(dirfd, name, type | 0600,
		    makedev(e->rdev_major, e->rdev_minor)) < 0)
		return b3cas__error_errno(errno, "tree get: %s: cannot create",
					  shown);
	return set_attr_at(r, dirfd, name, e, shown);
}

static int restore_dir(restore *r, int dirfd, const b3cas_oid *id,
		       const char *rel, const char *shown)
{
	uint8_t *bytes = NULL;
	size_t len = 0;
	b3cas_tree *t = NULL;
	int rc = r->ops->tree(r->ctx, id, &bytes, &len);

	if (rc == 0) {
		rc = b3cas_tree_parse(bytes, len, &t);
		if (rc < 0) /* b3cas__error formats before it replaces */
			rc = b3cas__error(B3CAS_ECORRUPT, "tree get: %s: %s",
					  shown, b3cas_error_last());
	}
	for (size_t i = 0; rc == 0 && i < t->count; i++) {
		const b3cas_tree_entry *e = &t->entries[i];
		char *sub_rel = join(rel, e->name, e->name_len);
		char *sub_shown = join(shown, e->name, e->name_len);

		rc = sub_rel && sub_shown
			     ? restore_entry(r, dirfd, e, sub_rel, sub_shown)
			     : b3cas__error(B3CAS_ENOMEM, "tree get: out of "
					    "memory");
		free(sub_rel);
		free(sub_shown);
	}
	if (rc == 0)
		rc = set_attr_fd(r, dirfd, &t->self, shown);
	b3cas_tree_free(t);
	free(bytes);
	return rc;
}

/* dest made, or found empty: its descriptor. */
static int open_dest(const char *dest)
{
	int fd;
	DIR *d;
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
	d = fdopendir(dup(fd));
	if (!d) {
		close(fd);
		return b3cas__error_errno(errno, "tree get: %s: cannot read",
					  dest);
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty) {
		close(fd);
		return b3cas__error(B3CAS_EEXISTS, "tree get: %s: not empty "
				    "(a restore goes into a new or empty "
				    "folder)", dest);
	}
	return fd;
}

int b3cas__restore(const b3cas_oid *root, const char *dest,
		   const b3cas__restore_ops *ops, void *ctx)
{
	restore r = {ops, ctx, -1, geteuid() == 0, NULL, 0, 0};
	int rc;

	if (!root || !dest || !ops)
		return b3cas__error_null("b3cas__restore", !root ? "root"
						       : !dest ? "dest"
							       : "ops");
	r.rootfd = open_dest(dest);
	if (r.rootfd < 0)
		return r.rootfd;
	rc = restore_dir(&r, r.rootfd, root, "", dest);
	close(r.rootfd);
	for (size_t i = 0; i < r.nlinks; i++)
		free(r.links[i].rel);
	free(r.links);
	return rc;
}
