/*
 * util/fsutil.c - whole reads and writes, fsync of files and folders.
 *
 * Every loop here retries EINTR and continues after short transfers, so the
 * layers above can treat one call as all-or-error. The *_at helpers work
 * relative to an open folder and never follow a symbolic link in the name
 * they are given, and b3cas__clear_staging removes only the names its
 * caller recognises: a store touches only what it made.
 */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int b3cas__write_quiet(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int b3cas__write_all(int fd, const void *buf, size_t len, const char *path)
{
	if (b3cas__write_quiet(fd, buf, len) != 0)
		return b3cas__error_errno(errno, "cannot write %s", path);
	return 0;
}

int b3cas__pread_exact(int fd, void *buf, size_t len, uint64_t off,
		       const char *path)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return b3cas__error_errno(errno, "cannot read %s",
						  path);
		}
		if (n == 0)
			return b3cas__error(B3CAS_ECORRUPT,
					    "%s is truncated: %llu bytes where "
					    "%llu were expected",
					    path,
					    (unsigned long long)(off + got),
					    (unsigned long long)(off + len));
		got += (size_t)n;
	}
	return 0;
}

int b3cas__fsync(int fd, const char *path)
{
	while (fsync(fd) != 0) {
		if (errno != EINTR)
			return b3cas__error_errno(errno, "cannot fsync %s",
						  path);
	}
	return 0;
}

int b3cas__fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open folder %s",
					  path);
	rc = b3cas__fsync(fd, path);
	close(fd);
	return rc;
}

int b3cas__mkdir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s exists and is not a folder", path);
	return b3cas__error_errno(errno, "cannot create folder %s", path);
}

/* Why name under at could not be used as a folder. */
static int not_a_folder(int at, const char *name, const char *where, int err)
{
	struct stat st;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return b3cas__error_errno(err, "cannot open folder %s/%s",
					  where, name);
	if (S_ISLNK(st.st_mode))
		return b3cas__error(B3CAS_EFORMAT,
				    "%s/%s is a symbolic link, not a folder "
				    "b3cas made: b3cas does not follow links "
				    "inside a store", where, name);
	if (!S_ISDIR(st.st_mode))
		return b3cas__error(B3CAS_EFORMAT, "%s/%s exists and is not a "
				    "folder", where, name);
	return b3cas__error_errno(err, "cannot open folder %s/%s", where,
				  name);
}

int b3cas__open_dir_at(int at, const char *name, const char *where)
{
	int fd = openat(at, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return not_a_folder(at, name, where, errno);
	return fd;
}

int b3cas__mkdir_at(int at, const char *name, const char *where)
{
	struct stat st;

	if (mkdirat(at, name, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return b3cas__error_errno(errno, "cannot create folder %s/%s",
					  where, name);
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return 0;
	return not_a_folder(at, name, where, EEXIST);
}

int b3cas__clear_staging(int dir_fd, const char *where,
			 bool (*ours)(const char *name))
{
	int fd = dup(dir_fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!dir) {
		rc = b3cas__error_errno(errno, "cannot list %s", where);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((e = readdir(dir)) != NULL) {
		struct stat st;

		if (!ours(e->d_name) ||
		    fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		/* unlinkat removes a link itself, never its target. */
		if (unlinkat(dir_fd, e->d_name, 0) != 0 && errno != ENOENT) {
			rc = b3cas__error_errno(errno, "cannot remove %s/%s",
						where, e->d_name);
			break;
		}
	}
	closedir(dir);
	return rc;
}

/*
 * From BIG_MIN up, a buffer is aligned to 2 MiB and advised for
 * transparent huge pages: it is written whole (an object read back, a
 * file read in), and on a virtual machine each 4 KiB page's first touch
 * costs microseconds (a get of a 256 MiB chunked object spent over a
 * third of its time faulting in its buffer, perf). free() releases it as
 * any other; where the kernel gives no huge pages, small ones are used.
 */
#define BIG_MIN (8u << 20)
#define HUGE_PAGE (2u << 20)

void *b3cas__malloc(size_t len)
{
	void *p = NULL;

	if (len >= BIG_MIN) {
		if (posix_memalign(&p, HUGE_PAGE, len) != 0)
			p = NULL;
#ifdef MADV_HUGEPAGE
		else
			(void)madvise(p, len & ~(size_t)(HUGE_PAGE - 1),
				      MADV_HUGEPAGE); /* advice only */
#endif
	} else {
		p = malloc(len ? len : 1);
	}
	if (!p)
		b3cas__error(B3CAS_ENOMEM, "out of memory (%zu bytes)", len);
	return p;
}
