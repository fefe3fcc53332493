/*
 * util/within.c - whether a path lies in a folder, by device and inode.
 *
 * The path is opened (following links, as every later use of it will),
 * or, if it does not exist yet, its nearest existing ancestor; then ".."
 * is followed up to the root of the file system tree, comparing each
 * folder's device and inode with the one asked about. Nothing is changed
 * and no string is compared, so "store/./objects/..", a symlink to the
 * store and the store's own name all come out the same.
 */
#include "util/within.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/common.h"
#include "util/error.h"

/* Most folders walked up before giving up (deeper than any real tree). */
#define MAX_DEPTH 4096

/* Open path's folder: path itself if it is one, else its nearest existing
 * ancestor (a file's folder, or where a missing path would be made). */
static int open_nearest(const char *path, int *fd_out)
{
	char *p = strdup(path);
	int fd = -1, rc = 0;

	if (!p)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (;;) {
		char *slash;

		fd = open(*p ? p : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
			break;
		/* Drop the last component (and the slashes before it). */
		slash = strrchr(p, '/');
		while (slash && slash > p && slash[1] == '\0') {
			*slash = '\0';
			slash = strrchr(p, '/');
		}
		if (!slash) {
			p[0] = '\0';     /* relative: the working folder */
			continue;
		}
		slash[slash == p] = '\0'; /* keep "/" itself */
	}
	if (fd < 0)
		rc = b3cas__error_errno(errno, "cannot look at %s", path);
	free(p);
	*fd_out = fd;
	return rc;
}

int b3cas__path_within(const char *path, const struct stat *dir, bool *out)
{
	struct stat st, up;
	int fd = -1, rc;

	*out = false;
	rc = open_nearest(path, &fd);
	if (rc < 0)
		return rc;
	for (int depth = 0; depth < MAX_DEPTH; depth++) {
		int parent;

		if (fstat(fd, &st) != 0) {
			rc = b3cas__error_errno(errno, "cannot look at a "
						"folder above %s", path);
			break;
		}
		if (st.st_dev == dir->st_dev && st.st_ino == dir->st_ino) {
			*out = true;
			break;
		}
		parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0) {
			rc = b3cas__error_errno(errno, "cannot look at a "
						"folder above %s", path);
			break;
		}
		if (fstat(parent, &up) != 0 ||
		    (up.st_dev == st.st_dev && up.st_ino == st.st_ino)) {
			close(parent); /* the root: its ".." is itself */
			break;
		}
		close(fd);
		fd = parent;
	}
	close(fd);
	return rc;
}

int b3cas__path_within_path(const char *path, const char *dir, bool *out)
{
	struct stat st;

	*out = false;
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return b3cas__error_errno(errno, "cannot look at %s", dir);
	}
	return b3cas__path_within(path, &st, out);
}
