/*
 * util/fsutil.c - whole reads and writes, fsync of files and folders.
 *
 * Every loop here retries EINTR and continues after short transfers, so the
 * layers above can treat one call as all-or-error.
 */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

int b3cas__write_all(int fd, const void *buf, size_t len, const char *path)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return b3cas__error_errno(errno, "cannot write %s",
						  path);
		}
		p += n;
		len -= (size_t)n;
	}
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

int b3cas__clear_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	int rc = 0;

	if (!dir)
		return errno == ENOENT ? 0
				       : b3cas__error_errno(errno,
							    "cannot open %s",
							    path);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' &&
		    (e->d_name[1] == '\0' ||
		     (e->d_name[1] == '.' && e->d_name[2] == '\0')))
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) != 0 &&
		    errno != ENOENT) {
			rc = b3cas__error_errno(errno, "cannot remove %s/%s",
						path, e->d_name);
			break;
		}
	}
	closedir(dir);
	return rc;
}

void *b3cas__malloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		b3cas__error(B3CAS_ENOMEM, "out of memory (%zu bytes)", len);
	return p;
}
