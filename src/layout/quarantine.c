/*
 * layout/quarantine.c - moving a loose object whose bytes no longer
 * match its id out of the object tier, into integrity/quarantine/, where
 * it is kept for inspection and never deleted by b3cas.
 *
 * Invariants: a file is moved only while its id's stripe lock is held and
 * only after it was hashed again under that lock and still did not match
 * (b3cas__quarantine_checked does both; b3cas__quarantine_move is for
 * a caller that holds the lock and has just found it damaged there),
 * so a put that rewrote the object meanwhile (with good bytes) is never
 * moved; the index entry stays, so the object reads as lost (ECORRUPT,
 * its file missing) until a repair or a put of the same bytes. The name
 * in quarantine is "<id>.<unix ns>", so repeated damage keeps every copy.
 */
#include "layout/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/histogram.h"

/* Hash the file at fd (size bytes): does it still fail to match id? */
static bool still_corrupt(b3cas_digest *d, int fd, const b3cas_oid *id,
			  uint64_t size)
{
	uint8_t buf[64 * 1024];

	/* Cannot tell: leave it where it is. */
	return b3cas__digest_file_check(d, fd, id, size, buf, sizeof(buf),
					 NULL) == 0;
}

/* Copy fd into a new file name in folder dir_fd (for a tier on another
 * file system, where rename cannot reach). */
static int copy_out(int fd, int dir_fd, const char *name)
{
	uint8_t buf[64 * 1024];
	off_t off = 0;
	int out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			 0444);
	int rc = 0;

	if (out < 0)
		return -1;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (b3cas__write_all(out, buf, (size_t)n, name) != 0) {
			rc = -1;
			break;
		}
		off += n;
	}
	if (rc == 0 && fsync(out) != 0)
		rc = -1;
	close(out);
	if (rc < 0)
		unlinkat(dir_fd, name, 0);
	return rc;
}

/* The object's path in the tier and a new name for it in quarantine. */
static void quarantine_names(char rel[B3CAS_OBJECT_REL_LEN + 1],
			     char name[B3CAS_OID_HEX_LEN + 32],
			     const b3cas_oid *id)
{
	b3cas__object_rel(rel, id);
	snprintf(name, B3CAS_OID_HEX_LEN + 32, "%s.%llu", rel + 3,
		 (unsigned long long)b3cas__wall_ns());
}

/* Move the tier's file rel (open as fd) to integrity/quarantine/name. */
static bool move_out(b3cas_layout *lay, const char *rel, int fd,
		     const char *name)
{
	int qfd = openat(lay->root_fd, "integrity/quarantine",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool moved = false;

	if (qfd < 0)
		return false;
	if (renameat(lay->objects_fd, rel, qfd, name) == 0) {
		moved = true;
	} else if (errno == EXDEV && copy_out(fd, qfd, name) == 0 &&
		   unlinkat(lay->objects_fd, rel, 0) == 0) {
		moved = true;
	}
	if (moved)
		fsync(qfd); /* keep the evidence across a crash */
	close(qfd);
	return moved;
}

int b3cas__quarantine_move(b3cas_layout *lay, const b3cas_oid *id)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1], name[B3CAS_OID_HEX_LEN + 32];
	bool moved;
	int fd;

	quarantine_names(rel, name, id);
	fd = openat(lay->objects_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	moved = move_out(lay, rel, fd, name);
	close(fd);
	return moved;
}

int b3cas__quarantine_checked(b3cas_layout *lay, b3cas_stripes *st,
			      b3cas_digest *d, const b3cas_oid *id,
			      uint64_t size)
{
	pthread_mutex_t *lock = b3cas__stripe_of(st, id->bytes);
	char rel[B3CAS_OBJECT_REL_LEN + 1], name[B3CAS_OID_HEX_LEN + 32];
	bool moved = false;
	int fd;

	quarantine_names(rel, name, id);
	pthread_mutex_lock(lock);
	fd = openat(lay->objects_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && still_corrupt(d, fd, id, size))
		moved = move_out(lay, rel, fd, name);
	pthread_mutex_unlock(lock);
	if (fd >= 0)
		close(fd);
	return moved;
}
