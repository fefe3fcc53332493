/*
 * test_powerloss_calls.c - the calls test_powerloss takes over: open,
 * openat, mkdir, mkdirat, write, pwrite, rename, and fsync, fdatasync,
 * syncfs and sync. The dynamic linker binds librocksdb's calls and the
 * static library's to these; outside a round's child they pass to the
 * kernel, inside it they record what becomes durable, inject the fault
 * plan's failures in the index folder and fire the power loss.
 */
#include <dirent.h>
#include <execinfo.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_powerloss_int.h"
#include "test_util.h"

/* A call on a file of the index folder: fail it if the plan says so. */
static int maybe_fault(const char *path)
{
	fault_plan *f = &pl.fault;
	int err = 0;

	const char *name = path ? strrchr(path, '/') : NULL;

	/* Not RocksDB's info log (LOG, LOG.old.*): Debian builds librocksdb
	 * with assertions on, and the write after a failed one to that log
	 * aborts (WritableFileWriter asserts no earlier error). It holds no
	 * data; docs/store.md lists the hazard. */
	if (!f->at || !path || !under(path, pl.index, pl.indexlen) ||
	    (name && strncmp(name, "/LOG", 4) == 0))
		return 0;
	pthread_mutex_lock(&pl.lock);
	f->seen++;
	if (f->seen == f->at || (f->sticky && f->seen > f->at))
		err = f->err;
	f->fired += err != 0;
	pthread_mutex_unlock(&pl.lock);
	return err;
}

static int fd_fault(int fd)
{
	char path[1024];

	if (!pl.active || !pl.fault.at || !fd_path(fd, path, sizeof(path)))
		return 0;
	return maybe_fault(path);
}

/* A sync event on fd (file or folder) or, with fd < 0, everything. */
static int sync_event(int fd)
{
	char path[1024];
	struct stat st;
	int err;

	if (!pl.active)
		return -1;
	if (fd >= 0 && (!fd_path(fd, path, sizeof(path)) ||
			!under(path, pl.root, pl.rootlen)))
		return -1; /* not ours: a real sync */
	if (fd >= 0 && fstat(fd, &st) != 0)
		return -1;
	if ((err = fd >= 0 && !S_ISDIR(st.st_mode) ? maybe_fault(path) : 0)) {
		errno = err;
		return 1;
	}
	pthread_mutex_lock(&pl.lock);
	if (!pl.active) { /* the power failed while we waited */
		pthread_mutex_unlock(&pl.lock);
		return 0;
	}
	pl.syncs++;
	if (pl.syncs == pl.crash_at)
		power_loss(1);
	if (fd < 0)
		snap_everything();
	else if (S_ISDIR(st.st_mode))
		snap_dir(node_get(st.st_ino, true), path, false);
	else
		snap_file(node_get(st.st_ino, false), path);
	pthread_mutex_unlock(&pl.lock);
	return 0;
}

bool no_sync;

int fsync(int fd)
{
	int r = no_sync ? 0 : sync_event(fd);

	return r < 0 ? (int)syscall(SYS_fsync, fd) : r ? -1 : 0;
}

int fdatasync(int fd)
{
	int r = no_sync ? 0 : sync_event(fd);

	return r < 0 ? (int)syscall(SYS_fdatasync, fd) : r ? -1 : 0;
}

int syncfs(int fd)
{
	int r = no_sync ? 0 : pl.active ? sync_event(-1) : -1;

	return r < 0 ? (int)syscall(SYS_syncfs, fd) : r ? -1 : 0;
}

void sync(void)
{
	if (!no_sync && (!pl.active || sync_event(-1) < 0))
		syscall(SYS_sync);
}

/* A create under the store: a new inode gets a new node (an old one with
 * the same number may still be named by a durable folder). */
static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	char abs[1024];
	struct stat st;
	bool ours, existed;
	int fd, err;

	if (!pl.active || !(flags & (O_CREAT | __O_TMPFILE)))
		return raw_openat(dirfd, path, flags, mode);
	ours = at_path(dirfd, path, abs, sizeof(abs)) &&
	       under(abs, pl.root, pl.rootlen);
	if (!ours)
		return raw_openat(dirfd, path, flags, mode);
	if ((err = maybe_fault(abs))) {
		errno = err;
		return -1;
	}
	pthread_mutex_lock(&pl.lock);
	existed = (flags & __O_TMPFILE) != __O_TMPFILE &&
		  lstat(abs, &st) == 0;
	fd = raw_openat(dirfd, path, flags, mode);
	if (fd >= 0 && !existed && pl.active && fstat(fd, &st) == 0)
		node_new(st.st_ino, false);
	pthread_mutex_unlock(&pl.lock);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(dirfd, path, flags, mode);
}

/* The 64-bit names are the same calls on x86-64. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));

static int mkdir_common(int dirfd, const char *path, mode_t mode)
{
	char abs[1024];
	struct stat st;
	int r;

	if (!pl.active)
		return raw_mkdirat(dirfd, path, mode);
	pthread_mutex_lock(&pl.lock);
	r = raw_mkdirat(dirfd, path, mode);
	if (r == 0 && pl.active && at_path(dirfd, path, abs, sizeof(abs)) &&
	    under(abs, pl.root, pl.rootlen) && lstat(abs, &st) == 0)
		node_new(st.st_ino, true);
	pthread_mutex_unlock(&pl.lock);
	return r;
}

int mkdir(const char *path, mode_t mode)
{
	return mkdir_common(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return mkdir_common(dirfd, path, mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return raw_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

int rename(const char *from, const char *to)
{
	char abs[1024];
	int err = 0;

	if (pl.active && pl.fault.at && at_path(AT_FDCWD, from, abs,
						sizeof(abs)))
		err = maybe_fault(abs);
	if (err) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}
