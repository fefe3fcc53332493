/*
 * layout/objects.c - writing, publishing, reading and removing loose object
 * files.
 *
 * Publication is temp file + rename within one file system (tmp/ and
 * objects/ share the store folder), so a reader sees either no file or the
 * whole file. Replacing an existing file is harmless: an object's name is
 * the hash of its bytes, so both files hold the same bytes unless the old
 * one was corrupt, in which case the new one repairs it.
 *
 * Staging files are named <pid>.<n>.tmp, so a process can tell its own.
 * Once a handle's staging area is interrupted (b3cas_store_interrupt) it
 * creates no staging file and publishes nothing more: the check and the
 * create are one step under the staging lock, and the check and the
 * rename one step under the caller's stripe lock.
 */
#include "layout/objects.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The staging folder, for messages. */
static const char *tmp_dir(const b3cas_layout *lay)
{
	return lay->tmp_path ? lay->tmp_path : "tmp";
}

/* Room for a path in a message: a whole one (PATH_MAX, and the name in
 * its folder), which the message then shortens in the middle if it must
 * (util/error.c), keeping the file's name. */
#define MSG_PATH (PATH_MAX + 64)

/* "<staging folder>/<name>", for messages. */
static const char *staging_path(const b3cas_layout *lay,
				const b3cas_tmpfile *t, char out[MSG_PATH])
{
	snprintf(out, MSG_PATH, "%s/%s", tmp_dir(lay), t->name);
	return out;
}

/* ---- interrupting ------------------------------------------------------ */

b3cas_staging *b3cas__staging_new(void)
{
	b3cas_staging *st = b3cas__malloc(sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	atomic_init(&st->interrupted, false);
	return st;
}

void b3cas__staging_free(b3cas_staging *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static bool interrupted(const b3cas_layout *lay)
{
	return lay->staging && atomic_load(&lay->staging->interrupted);
}

static int interrupted_error(const b3cas_layout *lay)
{
	return b3cas__error(B3CAS_ECLOSED, "store %s was interrupted: it "
			    "writes no more objects", lay->root);
}

int b3cas__staging_check(const b3cas_layout *lay)
{
	return interrupted(lay) ? interrupted_error(lay) : 0;
}

/* True for the names b3cas__tmpfile_create gives in this process. */
static bool own_staging_name(const char *name)
{
	char prefix[32];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%ld.",
				    (long)getpid());
	const char *p = name + n;

	if (strncmp(name, prefix, n) != 0 || *p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return strcmp(p, ".tmp") == 0;
}

void b3cas__staging_refuse(const b3cas_layout *lay)
{
	b3cas_staging *st = lay->staging;

	if (!st)
		return;
	/* Under the lock no create is half done: from here on every
	 * staging file this process made is in the folder, and no other
	 * comes. */
	pthread_mutex_lock(&st->lock);
	atomic_store(&st->interrupted, true);
	pthread_mutex_unlock(&st->lock);
}

void b3cas__staging_remove(const b3cas_layout *lay)
{
	b3cas_staging *st = lay->staging;
	struct dirent *e;
	DIR *dir;
	int fd;

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	fd = openat(lay->tmp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir && fd >= 0)
		close(fd);
	while (dir && (e = readdir(dir)) != NULL)
		if (own_staging_name(e->d_name))
			unlinkat(lay->tmp_fd, e->d_name, 0);
	if (dir)
		closedir(dir);
	pthread_mutex_unlock(&st->lock);
}

/* ---- staging files ----------------------------------------------------- */

static int tmpfile_open(const b3cas_layout *lay, b3cas_tmpfile *out)
{
	if (interrupted(lay))
		return interrupted_error(lay);
	out->fd = (errno = fault(lay, B3CAS_FAULT_CREATE)) ? -1
		  : openat(lay->tmp_fd, out->name,
			   O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (out->fd < 0)
		return b3cas__error_errno(errno, "cannot create %s/%s",
					  tmp_dir(lay), out->name);
	return 0;
}

int b3cas__tmpfile_create(const b3cas_layout *lay, b3cas_tmpfile *out)
{
	uint64_t n = atomic_fetch_add(&tmp_counter, 1);
	int rc;

	/* own_staging_name recognises these names. */
	snprintf(out->name, sizeof(out->name), "%ld.%llu.tmp", (long)getpid(),
		 (unsigned long long)n);
	out->fd = -1;
	if (!lay->staging)
		return tmpfile_open(lay, out);
	pthread_mutex_lock(&lay->staging->lock);
	rc = tmpfile_open(lay, out);
	pthread_mutex_unlock(&lay->staging->lock);
	return rc;
}

int b3cas__tmpfile_write(const b3cas_layout *lay, b3cas_tmpfile *t,
			 const void *data, size_t len)
{
	char path[MSG_PATH];
	int e = fault(lay, B3CAS_FAULT_WRITE);

	if (e)
		return b3cas__error_errno(e, "cannot write %s",
					  staging_path(lay, t, path));
	return b3cas__write_all(t->fd, data, len, staging_path(lay, t, path));
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
	char sub[3] = {rel[0], rel[1], '\0'}, path[MSG_PATH];
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
	snprintf(path, sizeof(path), "%s/%s", lay->objects_path, sub);
	rc = b3cas__fsync(fd, path);
	close(fd);
	return rc;
}

int b3cas__object_publish(const b3cas_layout *lay, b3cas_tmpfile *t,
			  const b3cas_oid *id, bool durable)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1], path[MSG_PATH];
	int rc = 0, e;

	b3cas__object_rel(rel, id);
	/* Under the id's stripe lock, which an interrupt waits for: a
	 * publish either ends with its index write or does not start. */
	if (interrupted(lay))
		rc = interrupted_error(lay);
	else if (durable && (e = fault(lay, B3CAS_FAULT_FSYNC)))
		rc = b3cas__error_errno(e, "cannot fsync %s/%s", tmp_dir(lay),
					t->name);
	else if (durable)
		rc = b3cas__fsync(t->fd, staging_path(lay, t, path));
	/* Closed whatever happened before (an fsync failure left it open). */
	if (close(t->fd) != 0 && errno != EINTR && rc == 0)
		rc = b3cas__error_errno(errno, "cannot write %s",
					staging_path(lay, t, path));
	t->fd = -1;
	if (rc == 0 && (e = fault(lay, B3CAS_FAULT_RENAME)))
		rc = b3cas__error_errno(e, "cannot move staging file %s/%s to "
					"%s/%s", tmp_dir(lay), t->name,
					lay->objects_path, rel);
	else if (rc == 0 &&
	    renameat(lay->tmp_fd, t->name, lay->objects_fd, rel) != 0)
		rc = b3cas__error_errno(errno,
					"cannot move staging file %s/%s to "
					"%s/%s", tmp_dir(lay), t->name,
					lay->objects_path, rel);
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
	rc = b3cas__tmpfile_write(lay, &t, data, len);
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

int b3cas__object_pread(const b3cas_layout *lay, const b3cas_oid *id,
			int fd, void *buf, size_t len, uint64_t off)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1], path[MSG_PATH];

	b3cas__object_rel(rel, id);
	snprintf(path, sizeof(path), "%s/%s", lay->objects_path, rel);
	return b3cas__pread_exact(fd, buf, len, off, path);
}

int b3cas__object_read(const b3cas_layout *lay, const b3cas_oid *id,
		       uint64_t size, void *buf)
{
	int fd = -1, rc = b3cas__object_open(lay, id, size, &fd);

	if (rc < 0)
		return rc;
	rc = b3cas__object_pread(lay, id, fd, buf, (size_t)size, 0);
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
