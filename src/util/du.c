/*
 * util/du.c - the disk usage of a folder tree (util/du.h), read with
 * openat, fstatat and fdopendir relative to the folder given, never
 * through a link.
 *
 * Invariants: a folder or a file with more than one link is counted only
 * when its (device, inode) is first met; a file with one link cannot be
 * met twice, so it is counted at once and not remembered, which keeps the
 * record to the folders (a few hundred in a store) and the rare hard
 * links.
 */
#include "util/du.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* Deep enough for any store; a deeper tree is somebody's, not ours. */
#define DU_DEPTH_MAX 64

struct b3cas__du_seen {
	dev_t dev;
	ino_t ino;
};

static int seen_cmp(const struct b3cas__du_seen *a, dev_t dev, ino_t ino)
{
	if (a->dev != dev)
		return a->dev < dev ? -1 : 1;
	if (a->ino != ino)
		return a->ino < ino ? -1 : 1;
	return 0;
}

/* Record st's (device, inode): 1 when it was new, 0 when already met,
 * or B3CAS_ENOMEM. */
static int seen_add(b3cas_du *du, const struct stat *st)
{
	size_t lo = 0, hi = du->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = seen_cmp(&du->seen[mid], st->st_dev, st->st_ino);

		if (c == 0)
			return 0;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (du->n == du->cap) {
		size_t cap = du->cap ? du->cap * 2 : 256;
		b3cas__du_seen *p = realloc(du->seen, cap * sizeof(*p));

		if (!p)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		du->seen = p;
		du->cap = cap;
	}
	memmove(du->seen + lo + 1, du->seen + lo,
		(du->n - lo) * sizeof(*du->seen));
	du->seen[lo].dev = st->st_dev;
	du->seen[lo].ino = st->st_ino;
	du->n++;
	return 1;
}

/* B3CAS_EIO (B3CAS_ENOMEM when errno says so: fdopendir allocates) with
 * errno's text; name: the entry it was met at. */
static int du_failed(const char *where, const char *name)
{
	int code = errno == ENOMEM ? B3CAS_ENOMEM : B3CAS_EIO;
	const char *why = strerror(errno);

	if (name)
		return b3cas__error(code, "cannot measure what %s takes "
				    "on disk (at %s): %s", where, name, why);
	return b3cas__error(code, "cannot measure what %s takes on disk: %s",
			    where, why);
}

static int du_tree(b3cas_du *du, int fd, const char *where, int depth);

/* Count entry name of folder dir_fd (what lstat says of it is st), and
 * what is under it when it is a folder. */
static int du_entry(b3cas_du *du, int dir_fd, const char *name,
		    const struct stat *st, const char *where, int depth)
{
	int rc = 1, fd;

	if (S_ISDIR(st->st_mode) || st->st_nlink > 1)
		rc = seen_add(du, st);
	if (rc <= 0)
		return rc;
	du->bytes += (uint64_t)st->st_blocks * 512;
	if (!S_ISDIR(st->st_mode))
		return 0;
	if (depth >= DU_DEPTH_MAX)
		return b3cas__error(B3CAS_EIO, "cannot measure %s: more than "
				    "%d folders deep", where, DU_DEPTH_MAX);
	fd = openat(dir_fd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : du_failed(where, name);
	return du_tree(du, fd, where, depth + 1);
}

/* Count what folder fd holds; fd is closed. */
static int du_tree(b3cas_du *du, int fd, const char *where, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = du_failed(where, NULL);
		close(fd);
		return rc;
	}
	for (errno = 0; rc == 0 && (de = readdir(d)) != NULL; errno = 0) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				rc = du_failed(where, de->d_name);
			continue;
		}
		rc = du_entry(du, dirfd(d), de->d_name, &st, where, depth);
	}
	if (rc == 0 && errno != 0)
		rc = du_failed(where, NULL);
	closedir(d);
	return rc;
}

int b3cas__du_add(b3cas_du *du, int dir_fd, const char *where)
{
	struct stat st;

	if (fstat(dir_fd, &st) != 0)
		return du_failed(where, NULL);
	return du_entry(du, dir_fd, ".", &st, where, 0);
}

void b3cas__du_free(b3cas_du *du)
{
	free(du->seen);
	du->seen = NULL;
	du->n = du->cap = 0;
}
