/*
 * model/scan.c - a directory to trees (model/fstree.h): each directory
 * read, its entries stat'ed without following links, sorted by name,
 * files and subdirectories handed to the callbacks first, then the
 * directory's own tree encoded and handed over.
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

#include "b3cas/hash.h"

#include "model/fstree.h"
#include "model/tree_int.h"
#include "util/error.h"

typedef struct scan {
	const b3cas__scan_ops *ops;
	void *ctx;
	dev_t dev; /* the file system the scan stays on */
	/* hard links: inode -> its link number, made from the path (below
	 * the top) of the name first met, so a folder and its restored
	 * copy, whose inodes differ, encode alike, and other files' links
	 * do not move it. Open addressing, num 0 = free. */
	ino_t *ino;
	uint64_t *num;
	size_t cap, used;
	size_t top_len; /* the top folder's path, as shown */
} scan;

/* The number of hard-linked inode ino in this scan, first met as shown
 * (0 after ENOMEM): the first 8 bytes of the BLAKE3 of its path below
 * the top folder, never 0. */
static uint64_t link_number(scan *sc, ino_t ino, const char *shown)
{
	size_t i;

	if (2 * (sc->used + 1) > sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 64;
		ino_t *in = calloc(cap, sizeof(*in));
		uint64_t *nu = calloc(cap, sizeof(*nu));

		if (!in || !nu) {
			free(in);
			free(nu);
			return 0;
		}
		for (size_t k = 0; k < sc->cap; k++) {
			if (!sc->num[k])
				continue;
			for (i = (size_t)sc->ino[k] * 0x9e3779b97f4a7c15ull &
				 (cap - 1);
			     nu[i]; i = (i + 1) & (cap - 1))
				;
			in[i] = sc->ino[k];
			nu[i] = sc->num[k];
		}
		free(sc->ino);
		free(sc->num);
		sc->ino = in;
		sc->num = nu;
		sc->cap = cap;
	}
	for (i = (size_t)ino * 0x9e3779b97f4a7c15ull & (sc->cap - 1);
	     sc->num[i]; i = (i + 1) & (sc->cap - 1))
		if (sc->ino[i] == ino)
			return sc->num[i];
	{
		const char *rel = shown + sc->top_len;
		uint8_t h[B3CAS_OUT_LEN];
		uint64_t n = 0;

		b3cas_hash(h, rel, strlen(rel));
		for (int k = 0; k < 8; k++)
			n = n << 8 | h[k];
		sc->ino[i] = ino;
		sc->num[i] = n ? n : 1;
		sc->used++;
	}
	return sc->num[i];
}

/* The xattrs of one file: the names and values in one buffer. */
typedef struct xlist {
	b3cas_tree_xattr *x;
	size_t n;
	char *names;
	uint8_t *values;
} xlist;

static void xlist_free(xlist *l)
{
	free(l->x);
	free(l->names);
	free(l->values);
	memset(l, 0, sizeof(*l));
}

static int xattr_cmp(const void *a, const void *b)
{
	const b3cas_tree_xattr *x = a, *y = b;

	return b3cas__tree_name_cmp(x->name, x->name_len, y->name,
				    y->name_len);
}

/* list / get through fd when there is one, else through path (not
 * following a link at its end) */
static ssize_t x_list(int fd, const char *path, char *buf, size_t size)
{
	return fd >= 0 ? flistxattr(fd, buf, size) : llistxattr(path, buf, size);
}

static ssize_t x_get(int fd, const char *path, const char *name, void *buf,
		     size_t size)
{
	return fd >= 0 ? fgetxattr(fd, name, buf, size)
		       : lgetxattr(path, name, buf, size);
}

/* Read the xattrs of fd (or path) into l, sorted by name. A file system
 * without xattrs gives none. */
static int read_xattrs(int fd, const char *path, const char *shown, xlist *l)
{
	ssize_t n = 0, total = 0;
	size_t count = 0, at = 0;

	memset(l, 0, sizeof(*l));
	for (int tries = 0; tries < 8; tries++) {
		n = x_list(fd, path, NULL, 0);
		if (n < 0 && (errno == ENOTSUP || errno == ENODATA))
			return 0;
		if (n <= 0)
			break;
		free(l->names);
		l->names = malloc((size_t)n);
		if (!l->names)
			return b3cas__error(B3CAS_ENOMEM, "tree put: %s: out "
					    "of memory for xattrs", shown);
		n = x_list(fd, path, l->names, (size_t)n);
		if (n >= 0 || errno != ERANGE)
			break; /* ERANGE: the list grew meanwhile */
	}
	if (n < 0)
		return b3cas__error_errno(errno, "tree put: %s: cannot list "
					  "xattrs", shown);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(l->names + i) + 1)
		count++;
	if (count == 0)
		return 0;
	l->x = calloc(count, sizeof(*l->x));
	if (!l->x)
		return b3cas__error(B3CAS_ENOMEM, "tree put: %s: out of "
				    "memory for xattrs", shown);
	/* values: sized first, then read into one buffer */
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(l->names + i) + 1) {
		ssize_t v = x_get(fd, path, l->names + i, NULL, 0);

		if (v < 0 && errno == ENODATA)
			continue; /* removed meanwhile */
		if (v < 0)
			return b3cas__error_errno(errno, "tree put: %s: cannot "
						  "read xattr %s", shown,
						  l->names + i);
		total += v;
	}
	l->values = malloc(total ? (size_t)total : 1);
	if (!l->values)
		return b3cas__error(B3CAS_ENOMEM, "tree put: %s: out of "
				    "memory for xattrs", shown);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(l->names + i) + 1) {
		ssize_t v = x_get(fd, path, l->names + i, l->values + at,
				  (size_t)(total - (ssize_t)at));

		if (v < 0 && errno == ENODATA)
			continue;
		if (v < 0)
			return b3cas__error_errno(errno, "tree put: %s: xattr "
						  "%s changed while read",
						  shown, l->names + i);
		l->x[l->n].name = (const uint8_t *)l->names + i;
		l->x[l->n].name_len = strlen(l->names + i);
		l->x[l->n].value = l->values + at;
		l->x[l->n].value_len = (size_t)v;
		l->n++;
		at += (size_t)v;
	}
	qsort(l->x, l->n, sizeof(*l->x), xattr_cmp);
	return 0;
}

static void attr_of(b3cas_tree_attr *a, const struct stat *st,
		    const xlist *x)
{
	a->mode = st->st_mode & B3CAS_TREE_MODE_MASK;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->mtime_sec = st->st_mtim.tv_sec;
	a->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	a->xattrs = x->x;
	a->xattr_count = x->n;
}

/* One entry read: its name, a link's target (both owned), xattrs. */
typedef struct item {
	char *name;
	size_t len;
	char *target;
	xlist x;
} item;

static int item_cmp(const void *a, const void *b)
{
	const item *x = a, *y = b;

	return b3cas__tree_name_cmp(x->name, x->len, y->name, y->len);
}

/* The names in dirfd (just opened: read from its start), sorted (not .
 * and ..): *items, *count. getdents64 on dirfd itself: no second
 * descriptor, no stream (a scan reads thousands of folders). */
static int read_names(int dirfd, const char *shown, item **items,
		      size_t *count)
{
	char buf[32768];
	size_t n = 0, cap = 0;
	item *v = NULL;
	int rc = 0;

	for (;;) {
		ssize_t got = getdents64(dirfd, buf, sizeof(buf));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = b3cas__error_errno(errno, "tree put: %s: cannot "
						"read the folder", shown);
			break;
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; rc == 0 && off < got;) {
			const struct dirent64 *de =
				(const struct dirent64 *)(buf + off);

			off += de->d_reclen;
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (n == cap) {
				item *w = realloc(v, (cap ? cap * 2 : 16) *
							     sizeof(*v));

				if (!w) {
					rc = B3CAS_ENOMEM;
					break;
				}
				v = w;
				cap = cap ? cap * 2 : 16;
			}
			memset(&v[n], 0, sizeof(v[n]));
			v[n].len = strlen(de->d_name);
			v[n].name = malloc(v[n].len + 1);
			if (!v[n].name) {
				rc = B3CAS_ENOMEM;
				break;
			}
			memcpy(v[n].name, de->d_name, v[n].len + 1);
			n++;
		}
		if (rc < 0)
			break;
	}
	if (rc == B3CAS_ENOMEM)
		rc = b3cas__error(B3CAS_ENOMEM, "tree put: %s: out of memory",
				  shown);
	if (rc == 0 && n)
		qsort(v, n, sizeof(*v), item_cmp);
	*items = v;
	*count = n;
	return rc;
}

static int scan_dir(scan *sc, int dirfd, const char *shown, b3cas_oid *id);

/* A regular file's size, holes, hard link and attributes into e. */
static int file_attrs(scan *sc, const struct stat *st, const char *shown,
		      item *it, b3cas_tree_entry *e)
{
	e->size = (uint64_t)st->st_size;
	if (st->st_size > 0 &&
	    (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size)
		e->flags |= B3CAS_TREE_SPARSE;
	if (st->st_nlink > 1) {
		e->flags |= B3CAS_TREE_LINKED;
		e->link = link_number(sc, st->st_ino, shown);
		if (e->link == 0)
			return b3cas__error(B3CAS_ENOMEM, "tree put: out of "
					    "memory");
	}
	attr_of(&e->attr, st, &it->x);
	return 0;
}

/* Fill e from the entry name of dirfd (its stat st). */
static int scan_entry(scan *sc, int dirfd, const char *shown, item *it,
		      const struct stat *st, b3cas_tree_entry *e)
{
	char proc[32 + B3CAS_TREE_NAME_MAX];
	int fd = -1, rc = 0;
	ssize_t n;

	e->name = it->name;
	e->name_len = it->len;
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		e->type = B3CAS_TREE_DIR;
		fd = openat(dirfd, it->name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return b3cas__error_errno(errno, "tree put: %s: cannot "
						  "open", shown);
		rc = scan_dir(sc, fd, shown, &e->id);
		close(fd);
		return rc; /* its attributes are in its own tree */
	case S_IFREG: {
		struct stat fst;
		const char *rel = shown + sc->top_len + 1;
		bool hx = false;

		e->type = B3CAS_TREE_FILE;
		rc = sc->ops->cached ? sc->ops->cached(sc->ctx, rel, st,
						       &e->id, &hx)
				     : 0;
		if (rc < 0)
			return rc;
		if (rc == 1) {
			/* known: its xattrs by name, if it had any */
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s",
				 dirfd, it->name);
			rc = hx ? read_xattrs(-1, proc, shown, &it->x) : 0;
			if (rc >= 0)
				rc = file_attrs(sc, st, shown, it, e);
			if (rc >= 0 && sc->ops->seen)
				rc = sc->ops->seen(sc->ctx, rel, st, &e->id,
						   it->x.n > 0);
			return rc;
		}
		/* O_NONBLOCK: a fifo put there since the stat must not hang
		 * the scan (the check below refuses it) */
		fd = openat(dirfd, it->name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
				    O_NONBLOCK);
		if (fd < 0)
			return b3cas__error_errno(errno, "tree put: %s: cannot "
						  "open", shown);
		if (fstat(fd, &fst) < 0) {
			rc = b3cas__error_errno(errno, "tree put: %s: cannot "
						"stat", shown);
			break;
		}
		if (!S_ISREG(fst.st_mode)) {
			rc = b3cas__error(B3CAS_EBUSY, "tree put: %s: replaced "
					  "while read (no longer a file)",
					  shown);
			break;
		}
		st = &fst; /* what was opened is what is recorded */
		rc = sc->ops->file(sc->ctx, fd, st, &e->id);
		if (rc >= 0)
			rc = read_xattrs(fd, NULL, shown, &it->x);
		if (rc >= 0)
			rc = file_attrs(sc, st, shown, it, e);
		if (rc >= 0 && sc->ops->seen)
			rc = sc->ops->seen(sc->ctx, rel, st, &e->id,
					   it->x.n > 0);
		close(fd);
		return rc;
	}
	case S_IFLNK:
		e->type = B3CAS_TREE_SYMLINK;
		it->target = malloc(B3CAS_TREE_TARGET_MAX + 1);
		if (!it->target)
			return b3cas__error(B3CAS_ENOMEM, "tree put: %s: out "
					    "of memory", shown);
		n = readlinkat(dirfd, it->name, it->target,
			       B3CAS_TREE_TARGET_MAX + 1);
		if (n < 0)
			return b3cas__error_errno(errno, "tree put: %s: cannot "
						  "read the link", shown);
		if (n == 0 || (size_t)n > B3CAS_TREE_TARGET_MAX)
			return b3cas__error(B3CAS_EINVAL, "tree put: %s: a "
					    "link target of %zd bytes (at "
					    "most %d)", shown, n,
					    B3CAS_TREE_TARGET_MAX);
		e->target = it->target;
		e->target_len = (size_t)n;
		break;
	case S_IFCHR:
	case S_IFBLK:
		e->type = S_ISCHR(st->st_mode) ? B3CAS_TREE_CHAR
					       : B3CAS_TREE_BLOCK;
		e->rdev_major = major(st->st_rdev);
		e->rdev_minor = minor(st->st_rdev);
		break;
	case S_IFIFO:
		e->type = B3CAS_TREE_FIFO;
		break;
	case S_IFSOCK:
		e->type = B3CAS_TREE_SOCKET;
		break;
	default:
		return b3cas__error(B3CAS_EINVAL, "tree put: %s: a file of an "
				    "unknown type (mode %o)", shown,
				    (unsigned)st->st_mode);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		return rc;
	/* links, devices, fifos, sockets: xattrs by name, through the
	 * folder's descriptor (any depth, no link followed at the end) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, it->name);
	rc = read_xattrs(-1, proc, shown, &it->x);
	attr_of(&e->attr, st, &it->x);
	return rc;
}

static int scan_dir(scan *sc, int dirfd, const char *shown, b3cas_oid *id)
{
	struct stat self;
	xlist selfx = {0};
	item *items = NULL;
	size_t count = 0;
	b3cas_tree_entry *entries = NULL;
	b3cas_tree t = {0};
	uint8_t *bytes = NULL;
	size_t len = 0, slen;
	char *sub;
	int rc;

	if (fstat(dirfd, &self) < 0)
		return b3cas__error_errno(errno, "tree put: %s: cannot stat",
					  shown);
	rc = read_xattrs(dirfd, NULL, shown, &selfx);
	/* another file system: recorded as an empty folder */
	if (rc >= 0 && self.st_dev == sc->dev)
		rc = read_names(dirfd, shown, &items, &count);
	if (rc >= 0 && count) {
		entries = calloc(count, sizeof(*entries));
		if (!entries)
			rc = b3cas__error(B3CAS_ENOMEM, "tree put: %s: out of "
					  "memory", shown);
	}
	/* each entry's path, shown + '/' + its name, made in one buffer */
	slen = strlen(shown);
	sub = count ? malloc(slen + 2 + B3CAS_TREE_NAME_MAX) : NULL;
	if (count && !sub)
		rc = b3cas__error(B3CAS_ENOMEM, "tree put: out of memory");
	if (sub) {
		memcpy(sub, shown, slen);
		sub[slen] = '/';
	}
	for (size_t i = 0; rc >= 0 && i < count; i++) {
		struct stat st;

		memcpy(sub + slen + 1, items[i].name, items[i].len + 1);
		if (fstatat(dirfd, items[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = b3cas__error_errno(errno, "tree put: %s: cannot "
						"stat", sub);
		else
			rc = scan_entry(sc, dirfd, sub, &items[i], &st,
					&entries[i]);
	}
	free(sub);
	if (rc >= 0) {
		attr_of(&t.self, &self, &selfx);
		t.entries = entries;
		t.count = count;
		rc = b3cas_tree_encode(&t, &bytes, &len);
		if (rc < 0) /* b3cas__error formats before it replaces */
			rc = b3cas__error(rc, "tree put: %s: %s", shown,
					  b3cas_error_last());
	}
	if (rc >= 0)
		rc = sc->ops->tree(sc->ctx, bytes, len, &t, id);
	free(bytes);
	for (size_t i = 0; i < count; i++) {
		free(items[i].name);
		free(items[i].target);
		xlist_free(&items[i].x);
	}
	free(items);
	free(entries);
	xlist_free(&selfx);
	return rc;
}

int b3cas__scan(const char *path, const b3cas__scan_ops *ops, void *ctx,
		b3cas_oid *root)
{
	scan sc = {ops, ctx, 0, NULL, NULL, 0, 0, strlen(path ? path : "")};
	struct stat st;
	int fd, rc;

	if (!path || !ops || !root)
		return b3cas__error_null("b3cas__scan", !path ? "path"
						       : !ops ? "ops"
							      : "root");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR
			       ? b3cas__error(B3CAS_EINVAL, "tree put: %s: not "
					      "a folder", path)
			       : b3cas__error_errno(errno, "tree put: %s: "
						    "cannot open", path);
	if (fstat(fd, &st) < 0) {
		rc = b3cas__error_errno(errno, "tree put: %s: cannot stat",
					path);
		close(fd);
		return rc;
	}
	sc.dev = st.st_dev;
	rc = scan_dir(&sc, fd, path, root);
	close(fd);
	free(sc.ino);
	free(sc.num);
	return rc;
}
