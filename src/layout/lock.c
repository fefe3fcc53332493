/*
 * layout/lock.c - the writer lock of a store folder (see the comment
 * below for how it is taken and why no change to the names inside the
 * folder can steal it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layout/layout_int.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/holder.h"

/*
 * The writer lock is two flocks, both taken without blocking:
 *  1. on the store folder itself (root_fd, opened O_DIRECTORY). A folder
 *     that holds anything cannot be removed, nor another renamed over it,
 *     so nothing done to the names inside it - LOCK deleted, replaced, made
 *     a link - lets a second writer in. (When LOCK alone was locked,
 *     deleting it let the next writer lock a new file of that name.)
 *  2. on the file LOCK, which earlier b3cas builds locked alone, so that
 *     a store stays closed to such older writers too. LOCK is opened
 *     with O_NOFOLLOW and must be a regular file: a link or anything else
 *     in its place is refused, never written through. After the flock the
 *     name is checked to still be that inode, for file systems that cannot
 *     flock a folder (the lock then rests on LOCK alone).
 * The folder is locked first and released when LOCK is busy, so a writer
 * waiting for an older one does not look like the holder to a third.
 *
 * The holder writes its pid into LOCK for people and older versions: one
 * pwrite over the old pid, then the file is cut to its length, so a reader
 * never sees it empty, and it is left there at close, so LOCK keeps its
 * block and a writer can still open a full disk's store to free space. A
 * refused writer names the holder from the kernel's list of locks, which
 * is never stale, and only when that is not available from LOCK, if that
 * process lives.
 *
 * Waiting (lock_timeout_ms) polls with a backoff from 1 to 32 ms, so the
 * lock is taken within 32 ms of being freed.
 */

#define LOCK_NAME "LOCK"
#define LOCK_POLL_MAX_MS 32

/* Open (or make) LOCK, without following a link; only a regular file. */
static int open_lock_file(const b3cas_layout *lay)
{
	struct stat st;
	int fd;

	fd = openat(lay->root_fd, LOCK_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		    0644);
	if (fd < 0 && errno == ELOOP)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s/%s is a symbolic link, not the lock "
				    "file of a b3cas store; b3cas does not "
				    "write through it (remove it to open the "
				    "store for writing)", lay->root, LOCK_NAME);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s",
					  lay->root, LOCK_NAME);
	if (fstat(fd, &st) != 0) {
		int rc = b3cas__error_errno(errno, "cannot stat %s/%s",
					    lay->root, LOCK_NAME);

		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return b3cas__error(B3CAS_EFORMAT,
				    "%s/%s is not a regular file, so not the "
				    "lock file of a b3cas store (remove it to "
				    "open the store for writing)",
				    lay->root, LOCK_NAME);
	}
	return fd;
}

/* Is fd still what the name LOCK stands for? */
static bool lock_file_current(const b3cas_layout *lay, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 &&
	       fstatat(lay->root_fd, LOCK_NAME, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The pid recorded in LOCK if that process lives, else 0. */
static long recorded_holder(const b3cas_layout *lay)
{
	char text[32];
	long pid = 0;
	ssize_t n;
	int fd;

	fd = openat(lay->root_fd, LOCK_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	pid = strtol(text, NULL, 10);
	return b3cas__pid_alive(pid) ? pid : 0;
}

/* The pid of the process holding the flock on fd's file, or 0. */
static long lock_holder(const b3cas_layout *lay, int fd)
{
	struct stat st;
	long pid = 0;

	if (fstat(fd, &st) == 0)
		pid = b3cas__lock_holder(st.st_dev, st.st_ino);
	return pid ? pid : recorded_holder(lay);
}

/*
 * One attempt at both locks: 0 with *fd_out holding LOCK, 1 when another
 * process holds one of them (*holder its pid or 0), 2 when LOCK was
 * replaced while we locked it (try again at once), or an error.
 */
static int lock_once(b3cas_layout *lay, int *fd_out, long *holder,
		     bool *on_file)
{
	bool dir_locked = false;
	int fd, rc;

	if (flock(lay->root_fd, LOCK_EX | LOCK_NB) == 0) {
		dir_locked = true;
	} else if (errno == EWOULDBLOCK) {
		*holder = lock_holder(lay, lay->root_fd);
		*on_file = false;
		return 1;
	} else if (errno != EBADF && errno != ENOLCK && errno != EINVAL &&
		   errno != EOPNOTSUPP) {
		return b3cas__error_errno(errno, "cannot lock %s", lay->root);
	} /* else a file system that cannot flock a folder: LOCK alone */
	fd = open_lock_file(lay);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? 1 : b3cas__error_errno(
			errno, "cannot lock %s/%s", lay->root, LOCK_NAME);
		if (rc == 1) {
			*holder = lock_holder(lay, fd);
			*on_file = true;
		}
		close(fd);
		goto out;
	}
	if (!lock_file_current(lay, fd)) {
		close(fd);
		rc = 2;
		goto out;
	}
	*fd_out = fd;
	return 0;
out:
	if (dir_locked)
		flock(lay->root_fd, LOCK_UN);
	return rc;
}

/* Record our pid in LOCK, in place. */
static int record_pid(const b3cas_layout *lay, int fd)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());

	if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) != 0)
		return b3cas__error_errno(errno, "cannot write %s/%s",
					  lay->root, LOCK_NAME);
	return 0;
}

/* In ns: whole milliseconds made a wait of a 300 ms timeout give up
 * after 299.x ms (both ends truncated), seen by test_lock. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int lock_refused(const b3cas_layout *lay, long holder, bool on_file,
			unsigned timeout_ms)
{
	char who[64], waited[64] = "";

	if (holder > 0)
		snprintf(who, sizeof(who), "process %ld", holder);
	else
		snprintf(who, sizeof(who), "another process (pid not known)");
	if (timeout_ms)
		snprintf(waited, sizeof(waited), "; waited %u.%03u s",
			 timeout_ms / 1000, timeout_ms % 1000);
	return b3cas__error(B3CAS_ELOCKED,
			    "store %s is open for writing by %s (it holds "
			    "the lock on %s%s%s)%s",
			    lay->root, who, lay->root, on_file ? "/" : "",
			    on_file ? LOCK_NAME : "", waited);
}

/* Take the writer lock, waiting up to timeout_ms for it to be free. */
int b3cas__lock_take(b3cas_layout *lay, unsigned timeout_ms)
{
	uint64_t start = now_ns(), limit = (uint64_t)timeout_ms * 1000000u;
	unsigned pause_ms = 1;
	bool on_file = false;
	long holder = 0;
	int fd = -1, rc, replaced = 0;

	while ((rc = lock_once(lay, &fd, &holder, &on_file)) > 0) {
		uint64_t waited = now_ns() - start;
		struct timespec pause;

		/* LOCK replaced under us (by a third party, or an older
		 * writer that found it deleted): the new one is tried. */
		if (rc == 2 && ++replaced < 100)
			continue;
		if (timeout_ms != B3CAS_LOCK_WAIT_FOREVER && waited >= limit)
			return lock_refused(lay, holder, on_file,
					    timeout_ms);
		pause.tv_sec = 0;
		pause.tv_nsec = (long)pause_ms * 1000000L;
		if (timeout_ms != B3CAS_LOCK_WAIT_FOREVER &&
		    (uint64_t)pause.tv_nsec > limit - waited)
			pause.tv_nsec = (long)(limit - waited);
		nanosleep(&pause, NULL);
		pause_ms = pause_ms * 2 > LOCK_POLL_MAX_MS ? LOCK_POLL_MAX_MS
							   : pause_ms * 2;
	}
	if (rc < 0)
		return rc;
	/* Kept on failure: b3cas__layout_close lets go of both locks. */
	lay->lock_fd = fd;
	return record_pid(lay, fd);
}

void b3cas__lock_release(b3cas_layout *lay)
{
	if (lay->lock_fd >= 0)
		close(lay->lock_fd); /* the folder's flock goes with root_fd */
	lay->lock_fd = -1;
}
