/*
 * util/atomic.c - the atomic publish of a small file (the steps and the
 * rule per durability mode are in atomic.h).
 *
 * Invariant: every path out after the staging file was created either
 * renamed it over the target or removed it, so a failure leaves nothing
 * behind; the error is taken from errno before any cleanup call can
 * change it. Nothing here follows a symbolic link in a name it creates.
 */
#include "util/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

/* Report err on name (what failed), or only the code when quiet. */
static int fail(const b3cas_atomic_write *w, int err, const char *what,
		const char *name)
{
	if (w->quiet)
		return err == ENOSPC || err == EDQUOT ? B3CAS_ENOSPC
						      : B3CAS_EIO;
	if (w->where)
		return b3cas__error_errno(err, "cannot %s %s/%s", what,
					  w->where, name);
	return b3cas__error_errno(err, "cannot %s %s", what, name);
}

static int fsync_retry(int fd)
{
	int r;

	while ((r = fsync(fd)) != 0 && errno == EINTR)
		;
	return r;
}

/* fsync the folder that holds w->name: 0, or -1 with errno. */
static int sync_folder(const b3cas_atomic_write *w)
{
	const char *slash = strrchr(w->name, '/');
	char parent[PATH_MAX] = ".";
	int fd, r, err;

	if (slash) {
		size_t n = (size_t)(slash - w->name);

		if (n >= sizeof(parent)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(parent, w->name, n);
		parent[n] = '\0';
	}
	fd = openat(w->dir_fd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync_retry(fd);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

/* Write the n pieces into fd whole and, unless the mode is NONE, fsync
 * it; the failed step's name, or NULL with errno untouched on success. */
static const char *fill(const b3cas_atomic_write *w, int fd,
			const struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++)
		if (b3cas__write_quiet(fd, iov[i].iov_base, iov[i].iov_len) != 0)
			return "write";
	if (w->durability != B3CAS_DURABILITY_NONE && fsync_retry(fd) != 0)
		return "fsync";
	return NULL;
}

int b3cas__atomic_write(const b3cas_atomic_write *w, const void *buf,
			size_t len)
{
	struct iovec one = {(void *)buf, len};

	return b3cas__atomic_writev(w, &one, 1);
}

int b3cas__atomic_writev(const b3cas_atomic_write *w, const struct iovec *iov,
			 int n)
{
	const char *failed;
	int fd, err;

	if (!w->fresh && unlinkat(w->stage_fd, w->stage_name, 0) != 0 &&
	    errno != ENOENT)
		return fail(w, errno, "remove", w->stage_name);
	fd = openat(w->stage_fd, w->stage_name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(w, errno, "create", w->stage_name);
	failed = fill(w, fd, iov, n);
	err = errno;
	close(fd);
	if (!failed && renameat(w->stage_fd, w->stage_name, w->dir_fd,
				w->name) != 0) {
		failed = "publish";
		err = errno;
	}
	if (failed) {
		unlinkat(w->stage_fd, w->stage_name, 0);
		return fail(w, err, failed,
			    failed[0] == 'p' ? w->name : w->stage_name);
	}
	if (w->durability == B3CAS_DURABILITY_FULL && sync_folder(w) != 0)
		return fail(w, errno, "fsync the folder of", w->name);
	return 0;
}
