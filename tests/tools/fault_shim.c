/*
 * fault_shim.c - an LD_PRELOAD library that makes the file system misbehave
 * on cue, so the CLI's bad-input paths are tested deterministically rather
 * than by racing a background process.
 *
 * Two faults, each chosen by environment variables:
 *
 *   SHIM_CHANGE_PATH=FILE SHIM_CHANGE=truncate|append|unlink
 *       After the first successful read(), pread() or mmap() of a
 *       descriptor open on FILE,
 *       FILE is cut to half its size, grown by 4 KiB, or unlinked. The
 *       change happens once per process.
 *
 *   SHIM_ENOSPC_DIR=DIR SHIM_ENOSPC_AFTER=BYTES
 *       Once more than BYTES have been written (write, pwrite, writev,
 *       pwritev) to files under DIR, every further write there fails with
 *       ENOSPC, and fallocate there too: a disk that fills up mid-run.
 *
 *   SHIM_STALL_DIR=DIR SHIM_STALL_MARK=FILE
 *       The first write() to a file under DIR is done, then FILE is
 *       created and the writing thread sleeps until the process is
 *       killed: a command caught mid-write, for the signal tests.
 *
 * Test code only; it is never linked into b3cas.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);

static const char *change_path, *change_kind, *enospc_dir;
static const char *stall_dir, *stall_mark;
static size_t enospc_dir_len;
static unsigned long long enospc_after, written;
static int changed;

__attribute__((constructor)) static void shim_init(void)
{
	const char *after = getenv("SHIM_ENOSPC_AFTER");

	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_pread = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT,
								    "pread");
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT,
								     "write");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(
		RTLD_NEXT, "pwrite");
	real_writev = (ssize_t (*)(int, const struct iovec *, int))dlsym(
		RTLD_NEXT, "writev");
	real_pwritev = (ssize_t (*)(int, const struct iovec *, int, off_t))
		dlsym(RTLD_NEXT, "pwritev");
	real_fallocate = (int (*)(int, int, off_t, off_t))dlsym(RTLD_NEXT,
								"fallocate");
	change_path = getenv("SHIM_CHANGE_PATH");
	change_kind = getenv("SHIM_CHANGE");
	enospc_dir = getenv("SHIM_ENOSPC_DIR");
	if (enospc_dir)
		enospc_dir_len = strlen(enospc_dir);
	stall_dir = getenv("SHIM_STALL_DIR");
	stall_mark = getenv("SHIM_STALL_MARK");
	if (after)
		enospc_after = strtoull(after, NULL, 10);
}

/* The path fd is open on, or "" when it cannot be told. */
static void fd_path(int fd, char *out, size_t cap)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

static int under_enospc_dir(int fd)
{
	char path[PATH_MAX];

	if (!enospc_dir)
		return 0;
	fd_path(fd, path, sizeof(path));
	return strncmp(path, enospc_dir, enospc_dir_len) == 0 &&
	       (path[enospc_dir_len] == '/' || path[enospc_dir_len] == '\0');
}

/* Account len bytes to fd; nonzero when the write must fail instead. */
static int disk_full(int fd, size_t len)
{
	if (!under_enospc_dir(fd))
		return 0;
	if (written + len > enospc_after) {
		errno = ENOSPC;
		return 1;
	}
	written += len;
	return 0;
}

static void change_file(void)
{
	struct stat st;

	changed = 1;
	if (strcmp(change_kind, "unlink") == 0) {
		unlink(change_path);
	} else if (strcmp(change_kind, "truncate") == 0) {
		if (stat(change_path, &st) == 0)
			truncate(change_path, st.st_size / 2);
	} else if (strcmp(change_kind, "append") == 0) {
		static const char more[4096];
		int fd = open(change_path, O_WRONLY | O_APPEND);

		if (fd >= 0) {
			real_write(fd, more, sizeof(more));
			close(fd);
		}
	}
}

/* After n bytes were read from fd: change the file if it is the one. */
static void after_read(int fd, ssize_t n)
{
	if (n > 0 && change_path && change_kind && !changed) {
		char path[PATH_MAX];

		fd_path(fd, path, sizeof(path));
		if (strcmp(path, change_path) == 0)
			change_file();
	}
}

/* A file mapped and then cut short: reading the mapping past the new end
 * raises SIGBUS. The real mapping is made by the system call itself, not
 * through dlsym: a sanitizer runtime maps memory while dlsym is still
 * resolving, and would call this before any pointer to the next mmap is
 * known. */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);

	if (p != MAP_FAILED && fd >= 0)
		after_read(fd, (ssize_t)len);
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t n = real_read(fd, buf, len);

	after_read(fd, n);
	return n;
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = real_pread(fd, buf, len, off);

	after_read(fd, n);
	return n;
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

/* After a write to fd: stall for good if it is the first under
 * stall_dir, saying so by creating stall_mark. */
static void maybe_stall(int fd)
{
	static int stalled;
	char path[PATH_MAX];
	size_t n;
	int mark;

	if (!stall_dir || !stall_mark || stalled)
		return;
	fd_path(fd, path, sizeof(path));
	n = strlen(stall_dir);
	if (strncmp(path, stall_dir, n) != 0 || path[n] != '/')
		return;
	stalled = 1;
	mark = open(stall_mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (mark >= 0)
		close(mark);
	for (;;)
		sleep(60);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	if (disk_full(fd, len))
		return -1;
	n = real_write(fd, buf, len);
	if (n > 0)
		maybe_stall(fd);
	return n;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (disk_full(fd, len))
		return -1;
	return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

static size_t iov_len(const struct iovec *iov, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (disk_full(fd, iov_len(iov, n)))
		return -1;
	return real_writev(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	if (disk_full(fd, iov_len(iov, n)))
		return -1;
	return real_pwritev(fd, iov, n, off);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
	if (under_enospc_dir(fd) && written + (unsigned long long)len >
					    enospc_after) {
		errno = ENOSPC;
		return -1;
	}
	return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}
