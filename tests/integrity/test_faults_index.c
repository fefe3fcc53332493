/*
 * test_faults_index.c - I/O failures inside RocksDB's own files, for
 * test_faults over chunking stores, which write no object file (so the
 * layout's fault plan, which fails object-file calls, never fires there:
 * every byte is in the index).
 *
 * This file defines write, pwrite, fsync, fdatasync and rename; the
 * dynamic linker binds librocksdb's calls (and the static library's) to
 * these before libc's, as test_powerloss_calls.c does. Disarmed, each
 * passes straight to the kernel. Armed, the calls on files under the
 * index folder are counted (from every thread: RocksDB flushes and
 * compacts in its own), and the at-th fails with err, and with sticky
 * every later one too (a dying disk). RocksDB's info log (LOG*) is left
 * alone: it holds no data, and Debian's librocksdb asserts on a write
 * after a failed one there (docs/store.md). Test code only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_faults_int.h"

static struct {
	atomic_bool armed;
	char dir[PATH_MAX];
	size_t dirlen;
	unsigned long at;
	int err;
	bool sticky;
	atomic_ulong seen, fired;
} plan;

void index_faults_arm(const char *dir, unsigned long at, int err,
		      bool sticky)
{
	snprintf(plan.dir, sizeof(plan.dir), "%s", dir);
	plan.dirlen = strlen(plan.dir);
	plan.at = at;
	plan.err = err;
	plan.sticky = sticky;
	atomic_store(&plan.seen, 0);
	atomic_store(&plan.fired, 0);
	atomic_store(&plan.armed, true);
}

unsigned long index_faults_fired(void)
{
	return atomic_load(&plan.fired);
}

unsigned long index_faults_disarm(void)
{
	atomic_store(&plan.armed, false);
	return atomic_load(&plan.fired);
}

/* 0, or the errno the call on path must fail with. */
static int path_fault(const char *path)
{
	const char *name = strrchr(path, '/');
	unsigned long n;

	if (strncmp(path, plan.dir, plan.dirlen) != 0 ||
	    path[plan.dirlen] != '/' || (name && strncmp(name, "/LOG", 4) == 0))
		return 0;
	n = atomic_fetch_add(&plan.seen, 1) + 1;
	if (n != plan.at && !(plan.sticky && n > plan.at))
		return 0;
	atomic_fetch_add(&plan.fired, 1);
	return plan.err;
}

static int fd_fault(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (!atomic_load(&plan.armed))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return path_fault(path);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return syscall(SYS_write, fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

int fsync(int fd)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

int rename(const char *from, const char *to)
{
	int err = atomic_load(&plan.armed) && from[0] == '/'
			  ? path_fault(from)
			  : 0;

	if (err) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}
