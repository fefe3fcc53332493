/*
 * maint/fsck_files.c - fsck's walk of the object tier's files: each loose
 * file against the index (an orphan is indexed as a GC candidate, a file
 * that is not an object moved to quarantine), the tier's top folder
 * (anything but 00..ff is a stray) and the staging folder (files of puts
 * that never finished).
 *
 * Invariants: a file is judged with its entry read again under its id's
 * stripe lock, so a put (file before entry) or a GC (unlink before entry
 * removal) is wholly before or after; a file is never deleted unless its
 * bytes are kept elsewhere (the index, or integrity/quarantine/).
 */
#include "maint/fsck_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/histogram.h"

void b3cas__fsck_walk_folders(fsck_worker *w, int dir_fd, const char *base,
			      file_fn visit)
{
	fsck_run *f = w->f;
	unsigned sub;

	while (!b3cas__fsck_halted(f) && (sub = atomic_fetch_add(&f->next,
								 1)) < 256) {
		char name[3];
		struct dirent *e;
		int fd;
		DIR *d;

		snprintf(name, sizeof(name), "%02x", sub);
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* no object ever had that prefix */
		d = fd < 0 ? NULL : fdopendir(fd);
		if (!d) {
			/* A folder that cannot be read would leave its files
			 * unchecked while fsck said all was well: an error. */
			int why = errno;

			if (fd >= 0)
				close(fd);
			b3cas__fsck_fail(f, b3cas__error_errno(
				why, "cannot list folder %s/%s", base, name));
			return;
		}
		while ((e = readdir(d)) != NULL && !b3cas__fsck_halted(f))
			if (e->d_name[0] != '.')
				visit(w, fd, sub, e->d_name);
		closedir(d);
	}
}

/* ---- files of the tier -------------------------------------------------- */

/* Move a file that is not an object to quarantine (its bytes kept). */
static bool quarantine_file(fsck_worker *w, int dir_fd, const char *name)
{
	b3cas_layout *lay = b3cas__store_layout(w->f->s);
	char dest[B3CAS_OID_HEX_LEN + 64];
	int qfd = openat(lay->root_fd, "integrity/quarantine",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;

	if (qfd < 0)
		return false;
	snprintf(dest, sizeof(dest), "stray-%.64s.%llu", name,
		 (unsigned long long)b3cas__wall_ns());
	ok = renameat(dir_fd, name, qfd, dest) == 0;
	close(qfd);
	if (ok)
		w->r.quarantined++;
	return ok;
}

/*
 * Index orphan id (a sound loose file of size bytes that no entry names),
 * under its stripe lock with its absence just confirmed. Nothing tells a
 * file that GC or an unacknowledged put left from one whose entry the
 * index lost, so it gets no reference: it becomes a GC candidate (its
 * bytes kept until a collection; a put of the same bytes revives it),
 * and no object whose last reference was dropped comes back. The one
 * exception is a count of 2 or more left in the refs column family: only
 * a live object has one (a delete and GC change both entries in one
 * batch), so its content entry was lost and it is indexed with that
 * count. Returns the action, or NULL when the index could not be written.
 */
static const char *index_orphan_locked(b3cas_store *s, const b3cas_oid *id,
				       uint64_t size)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_pinnableslice_t *v;
	const char *action = "re-indexed as a GC candidate (no references: "
			     "put it again to keep it)";
	uint64_t count = 0;
	size_t len;
	int rc;

	rc = b3cas__index_get(b3cas__store_index(s), B3CAS_CF_REFS, id->bytes,
			      B3CAS_OID_LEN, &v);
	if (rc == 1) {
		const uint8_t *p =
			(const uint8_t *)rocksdb_pinnableslice_value(v, &len);

		count = len == 8 ? b3cas__get_u64(p) : 0;
		rocksdb_pinnableslice_destroy(v);
	}
	b3cas_error_clear();
	b3cas__store_filter_add(s, id);
	if (count >= 2) {
		b3cas__store_batch_put_entry(s, b, id, NULL, (size_t)size,
					     false);
		action = "re-indexed with the reference count the index kept";
	} else {
		b3cas__store_batch_put_candidate(s, b, id, size);
	}
	rc = b3cas__store_write_batch(s, b);
	rocksdb_writebatch_destroy(b);
	if (rc < 0) {
		b3cas_error_clear();
		return NULL;
	}
	return action;
}

/* What a tier file turned out to be, judged under its stripe lock. */
typedef enum file_verdict {
	FILE_FINE,   /* named by an entry, or gone meanwhile */
	FILE_ORPHAN, /* sound, and no entry names it */
	FILE_STRAY   /* its bytes do not hash to its name; no entry */
} file_verdict;

/*
 * Under id's stripe lock: the file name (of id) in sub_fd against the
 * index, both read again now, so that a put (which publishes the file
 * before its entry) or a GC (which unlinks the file before it removes the
 * entry) of id is wholly before or after; *size gets the file's size.
 */
static file_verdict judge_file_locked(fsck_worker *w, int sub_fd,
				      const char *name, const b3cas_oid *id,
				      uint64_t *size)
{
	b3cas_index *ix = b3cas__store_index(w->f->s);
	file_verdict verdict;
	struct stat st;
	int fd, rc;

	rc = b3cas__index_has(ix, B3CAS_CF_CONTENT, id->bytes, B3CAS_OID_LEN);
	if (rc != 0) {
		/* Named by an entry, or unreadable (the entry phase's). */
		b3cas_error_clear();
		return FILE_FINE;
	}
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return FILE_FINE; /* gone meanwhile */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return FILE_FINE; /* replaced meanwhile: judged unlocked */
	}
	*size = (uint64_t)st.st_size;
	verdict = b3cas__fsck_file_sound(w, fd, id, *size, &w->r.bytes)
			  ? FILE_ORPHAN : FILE_STRAY;
	close(fd);
	return verdict;
}

void b3cas__fsck_check_file(fsck_worker *w, int sub_fd, unsigned sub,
			    const char *name)
{
	fsck_run *f = w->f;
	b3cas_layout *lay = b3cas__store_layout(f->s);
	b3cas_index *ix = b3cas__store_index(f->s);
	b3cas_fsck_problem p = {0};
	char rel[B3CAS_OBJECT_REL_LEN + 1], *path = NULL;
	pthread_mutex_t *lock;
	file_verdict verdict;
	const char *action = NULL;
	uint64_t size = 0;
	struct stat st;
	b3cas_oid id;
	int rc, stat_rc;

	w->r.files++;
	snprintf(rel, sizeof(rel), "%02x/%.64s", sub, name);
	p.path = path = b3cas__fsck_full_path(lay->objects_path, rel);
	stat_rc = fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (stat_rc != 0 && errno == ENOENT)
		goto out; /* collected meanwhile: no file is no finding */
	if (b3cas_oid_parse(&id, name) != 0 || id.bytes[0] != sub ||
	    stat_rc != 0 || !S_ISREG(st.st_mode)) {
		b3cas_error_clear();
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "not an object: a name that is not its folder's "
			   "id, or not a file";
		if (f->o->repair && quarantine_file(w, sub_fd, name))
			p.action = "moved to integrity/quarantine/";
		b3cas__fsck_found(w, &p);
		goto out;
	}
	p.has_id = true;
	p.id = id;
	/* Most files are named by an entry: that needs no lock. */
	rc = b3cas__index_has(ix, B3CAS_CF_CONTENT, id.bytes, B3CAS_OID_LEN);
	if (rc != 0) {
		b3cas_error_clear();
		goto out;
	}
	/* The rest is judged, and repaired, again under the lock. */
	lock = b3cas__store_stripe(f->s, &id);
	pthread_mutex_lock(lock);
	verdict = judge_file_locked(w, sub_fd, name, &id, &size);
	if (verdict == FILE_ORPHAN && f->o->repair) {
		action = index_orphan_locked(f->s, &id, size);
		w->r.reindexed += action != NULL;
	} else if (verdict == FILE_STRAY && f->o->repair &&
		   quarantine_file(w, sub_fd, name)) {
		action = "moved to integrity/quarantine/";
	}
	pthread_mutex_unlock(lock);
	if (verdict == FILE_FINE)
		goto out;
	p.action = action;
	if (verdict == FILE_ORPHAN) {
		p.kind = B3CAS_FSCK_ORPHAN;
		p.detail = "a sound object file that the index does not list";
		/* A read-only handle's index is as it was at its open. */
		if (b3cas__store_read_only(f->s)) {
			b3cas__fsck_note_suspect(w, &p, size, rel);
			goto out;
		}
	} else {
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "a file named by an id that its bytes do not hash "
			   "to, listed by no index entry";
	}
	b3cas__fsck_found(w, &p);
out:
	free(path);
}

/* ---- the tier's top folder and the staging folder ------------------------ */

/* Is the tier a folder of its own, not <root>/objects? Its staging
 * folder (tmp/) then lives inside it. */
static bool tier_elsewhere(b3cas_store *s)
{
	b3cas_layout *lay = b3cas__store_layout(s);
	struct stat a, b;

	return fstat(lay->objects_fd, &a) != 0 ||
	       fstatat(lay->root_fd, "objects", &b, 0) != 0 ||
	       a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* "00".."ff": the name of one of the tier's sub-folders. */
static bool sub_name(const char *name)
{
	return strlen(name) == 2 && strchr("0123456789abcdef", name[0]) &&
	       strchr("0123456789abcdef", name[1]);
}

void b3cas__fsck_check_top(fsck_worker *w)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	b3cas_layout *lay = b3cas__store_layout(s);
	int fd = dup(lay->objects_fd);
	bool elsewhere = tier_elsewhere(s);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		b3cas__fsck_fail(f, b3cas__error_errno(errno, "cannot list %s",
						       lay->objects_path));
		return;
	}
	while ((e = readdir(d)) != NULL && !b3cas__fsck_halted(f)) {
		b3cas_fsck_problem p = {0};
		struct stat st;
		char *path;
		bool dir;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISDIR(st.st_mode);
		/* lost+found: the tier may be a file system of its own,
		 * whose fsck needs that folder where it is. */
		if (dir && (sub_name(e->d_name) ||
			    (elsewhere && strcmp(e->d_name, "tmp") == 0) ||
			    strcmp(e->d_name, "lost+found") == 0))
			continue;
		/* The owner mark (layout/owner.c) names the store the folder
		 * belongs to. */
		if (!dir && strcmp(e->d_name, B3CAS_OWNER_NAME) == 0)
			continue;
		p.kind = B3CAS_FSCK_STRAY;
		p.path = path = b3cas__fsck_full_path(lay->objects_path,
						      e->d_name);
		p.detail = dir ? "not part of the object tier: a folder that "
				 "is not one of 00..ff"
			       : "not part of the object tier: only the "
				 "folders 00..ff belong in its top folder";
		w->r.files++;
		if (f->o->repair && quarantine_file(w, fd, e->d_name))
			p.action = "moved to integrity/quarantine/";
		b3cas__fsck_found(w, &p);
		free(path);
	}
	closedir(d);
}

/* A name the store gives its staging files, "<pid>.<n>.tmp"; *pid. */
static bool staging_name(const char *name, long *pid)
{
	const char *p = name;
	char *end;

	if (*p < '0' || *p > '9')
		return false;
	*pid = strtol(p, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	strtoull(end + 1, &end, 10);
	return strcmp(end, ".tmp") == 0;
}

/* Why staging file st (of process pid) is left over, or NULL when it may
 * belong to a put still running. */
static const char *staging_stale(long pid, const struct stat *st,
				 char *why, size_t n)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 &&
	    errno == ESRCH) {
		snprintf(why, n, "a staging file of a put that never finished:"
			 " process %ld is gone", pid);
		return why;
	}
	if (now.tv_sec - st->st_mtime > 3600) {
		snprintf(why, n, "a staging file of a put that never finished:"
			 " not written to for %lld minutes",
			 (long long)(now.tv_sec - st->st_mtime) / 60);
		return why;
	}
	return NULL;
}

void b3cas__fsck_check_staging(fsck_worker *w)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	b3cas_layout *lay = b3cas__store_layout(s);
	bool elsewhere = tier_elsewhere(s);
	int fd = openat(elsewhere ? lay->objects_fd : lay->root_fd, "tmp",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	char *dir = elsewhere ? b3cas__fsck_full_path(lay->objects_path, "tmp")
			      : b3cas__layout_path(lay, "tmp");
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		free(dir);
		return; /* no staging folder: nothing left over */
	}
	while (dir && (e = readdir(d)) != NULL && !b3cas__fsck_halted(f)) {
		b3cas_fsck_problem p = {0};
		char why[160];
		struct stat st;
		long pid;

		if (!staging_name(e->d_name, &pid) ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		p.detail = staging_stale(pid, &st, why, sizeof(why));
		if (!p.detail)
			continue;
		p.kind = B3CAS_FSCK_STAGING;
		p.path = b3cas__fsck_full_path(dir, e->d_name);
		if (f->o->repair && unlinkat(fd, e->d_name, 0) == 0)
			p.action = "removed";
		b3cas__fsck_found(w, &p);
		free((char *)p.path);
	}
	closedir(d);
	free(dir);
}
