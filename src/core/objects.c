/*
 * core/objects.c - writing, publishing, reading and removing loose object
 * files.
 *
 * Publication is temp file + rename within one file system (tmp/ and
 * objects/ share the store folder), so a reader sees either no file or the
 * whole file. Replacing an existing file is harmless: an object's name is
 * the hash of its bytes, so both files hold the same bytes unless the old
 * one was corrupt, in which case the new one repairs it.
 */
#include "core/objects.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

static atomic_uint_fast64_t tmp_counter;

/* 0, or the errno a test's fault plan injects into this operation. */
static int fault(const b3cas_layout *lay, unsigned op)
{
	b3cas_fault_plan *p = lay->faults;
	unsigned long long n;

	if (!p || !(p->ops & op) || !p->fail_at)
		return 0;
	n = atomic_fetch_add(&p->seen, 1) + 1;
	if (n == p->fail_at || (p->sticky && n > p->fail_at)) {
		atomic_fetch_add(&p->fired, 1);
		return p->err;
	}
	return 0;
}

int b3cas__object_fault(const b3cas_layout *lay, unsigned op)
{
	return fault(lay, op);
}

int b3cas__tmpfile_create(const b3cas_layout *lay, b3cas_tmpfile *out)
{
	uint64_t n = atomic_fetch_add(&tmp_counter, 1);

	snprintf(out->name, sizeof(out->name), "%ld.%llu.tmp", (long)getpid(),
		 (unsigned long long)n);
	out->fd = (errno = fault(lay, B3CAS_FAULT_CREATE)) ? -1
		  : openat(lay->tmp_fd, out->name,
			   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (out->fd < 0)
		return b3cas__error_errno(errno, "cannot create %s/tmp/%s",
					  lay->root, out->name);
	return 0;
}

void b3cas__tmpfile_discard(const b3cas_layout *lay, b3cas_tmpfile *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(lay->tmp_fd, t->name, 0);
		t->fd = -1;
	}
}

static int fsync_object_dir(const b3cas_layout *lay, const char *rel)
{
	char sub[3] = {rel[0], rel[1], '\0'};
	int fd = openat(lay->objects_fd, sub,
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, e = fault(lay, B3CAS_FAULT_FSYNC);

	if (e && fd >= 0) {
		close(fd);
		return b3cas__error_errno(e, "cannot fsync %s/%s",
					  lay->objects_path, sub);
	}
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s",
					  lay->objects_path, sub);
	rc = b3cas__fsync(fd, "objects folder");
	close(fd);
	return rc;
}

int b3cas__object_publish(const b3cas_layout *lay, b3cas_tmpfile *t,
			  const b3cas_oid *id, bool durable)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1];
	int rc = 0, e;

	b3cas__object_rel(rel, id);
	if (durable && (e = fault(lay, B3CAS_FAULT_FSYNC)))
		rc = b3cas__error_errno(e, "cannot fsync %s", t->name);
	else if (durable)
		rc = b3cas__fsync(t->fd, t->name);
	if (rc == 0 && close(t->fd) != 0 && errno != EINTR)
		rc = b3cas__error_errno(errno, "cannot write %s/tmp/%s",
					lay->root, t->name);
	t->fd = -1;
	if (rc == 0 && (e = fault(lay, B3CAS_FAULT_RENAME)))
		rc = b3cas__error_errno(e, "cannot move staging file %s to "
					"%s/%s", t->name, lay->objects_path,
					rel);
	else if (rc == 0 &&
	    renameat(lay->tmp_fd, t->name, lay->objects_fd, rel) != 0)
		rc = b3cas__error_errno(errno,
					"cannot move staging file %s to %s/%s",
					t->name, lay->objects_path, rel);
	if (rc < 0) {
		unlinkat(lay->tmp_fd, t->name, 0);
		return rc;
	}
	return durable ? fsync_object_dir(lay, rel) : 0;
}

int b3cas__object_write(const b3cas_layout *lay, const b3cas_oid *id,
			const void *data, size_t len, bool durable)
{
	b3cas_tmpfile t;
	int rc = b3cas__tmpfile_create(lay, &t);

	if (rc < 0)
		return rc;
	rc = (rc = fault(lay, B3CAS_FAULT_WRITE))
		     ? b3cas__error_errno(rc, "cannot write %s", t.name)
		     : b3cas__write_all(t.fd, data, len, t.name);
	if (rc < 0) {
		b3cas__tmpfile_discard(lay, &t);
		return rc;
	}
	return b3cas__object_publish(lay, &t, id, durable);
}

int b3cas__object_open(const b3cas_layout *lay, const b3cas_oid *id,
		       uint64_t size, int *fd_out)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1];
	struct stat st;
	int fd;

	b3cas__object_rel(rel, id);
	fd = (errno = fault(lay, B3CAS_FAULT_OPEN))
		     ? -1
		     : openat(lay->objects_fd, rel,
			      O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s",
					  lay->objects_path, rel);
	if (fstat(fd, &st) != 0) {
		int rc = b3cas__error_errno(errno, "cannot stat %s/%s",
					    lay->objects_path, rel);

		close(fd);
		return rc;
	}
	if ((uint64_t)st.st_size != size) {
		close(fd);
		return b3cas__error(B3CAS_ECORRUPT,
				    "object %s/%s has %llu bytes; the "
				    "index says %llu",
				    lay->objects_path, rel,
				    (unsigned long long)st.st_size,
				    (unsigned long long)size);
	}
	*fd_out = fd;
	return 0;
}

int b3cas__object_read(const b3cas_layout *lay, const b3cas_oid *id,
		       uint64_t size, void *buf)
{
	int fd = -1, rc = b3cas__object_open(lay, id, size, &fd);

	if (rc < 0)
		return rc;
	rc = b3cas__pread_exact(fd, buf, (size_t)size, 0, "object file");
	close(fd);
	return rc;
}

int b3cas__object_remove(const b3cas_layout *lay, const b3cas_oid *id)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1];

	b3cas__object_rel(rel, id);
	if ((errno = fault(lay, B3CAS_FAULT_UNLINK)) ||
	    (unlinkat(lay->objects_fd, rel, 0) != 0 && errno != ENOENT))
		return b3cas__error_errno(errno, "cannot remove %s/%s",
					  lay->objects_path, rel);
	return 0;
}
