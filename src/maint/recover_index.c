/*
 * maint/recover_index.c - recovery's first phase: the index folder.
 * Decide whether the index opens; if not, copy it aside, let RocksDB
 * repair it and, failing that, move it aside and make a new one with the
 * store's own options; and keep the marker that says a recovery is
 * under way.
 *
 * Invariants: this runs under the store's LOCK taken through the layout
 * alone; a damaged index is copied (before RocksDB's repair touches it)
 * or moved, never removed; the marker (B3CAS_RECOVER_MARKER) is written
 * durably before the first change to the index.
 */
#include "maint/recover_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/wal.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/histogram.h"
#include "util/fsutil.h"

/* ---- phase 1: the index folder ------------------------------------------ */

/* Does folder index hold anything RocksDB could rebuild from (a CURRENT,
 * a manifest, a table or a log)? 0 no (or no folder), 1 yes, or an
 * error. *exists says whether the folder exists with anything in it. */
static int index_has_data(const char *index, bool *exists)
{
	DIR *d = opendir(index);
	struct dirent *e;
	int data = 0;

	*exists = false;
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return b3cas__error_errno(errno, "cannot open the index "
					  "folder %s", index);
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		*exists = true;
		if (strcmp(e->d_name, "CURRENT") == 0 ||
		    strncmp(e->d_name, "MANIFEST-", 9) == 0 ||
		    (n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0) ||
		    (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0))
			data = 1;
	}
	closedir(d);
	return data;
}

/* Copy file name from folder from_fd (the folder index) into folder to_fd
 * (where), fsync'd. */
static int copy_file(int from_fd, int to_fd, const char *name, uint8_t *buf,
		     const char *index, const char *where)
{
	int in = openat(from_fd, name, O_RDONLY | O_CLOEXEC);
	int out, rc = 0;

	if (in < 0)
		return b3cas__error_errno(errno, "cannot read index file "
					  "%s/%s", index, name);
	out = openat(to_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		     0444);
	if (out < 0) {
		rc = b3cas__error_errno(errno, "cannot create %s/%s", where,
					name);
		close(in);
		return rc;
	}
	for (;;) {
		ssize_t n = read(in, buf, B3CAS_COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = b3cas__error_errno(errno, "cannot read index "
						"file %s/%s", index, name);
			break;
		}
		if (n == 0)
			break;
		rc = b3cas__write_all(out, buf, (size_t)n, where);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = b3cas__fsync(out, where);
	close(out);
	close(in);
	return rc;
}

/* Remove the files of a copy that could not be completed (ours only). */
static void drop_copy(int root_fd, const char *rel)
{
	int fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	unlinkat(root_fd, rel, AT_REMOVEDIR);
}

/*
 * Copy the files of the index folder to integrity/recover/index.<ns>
 * (its name in r->saved_index), all of them durable before RocksDB's
 * repair changes anything. Folders inside (RocksDB's lost/) stay where
 * they are: a repair only adds to them.
 */
static int save_copy(b3cas_layout *lay, const char *index,
		     b3cas_recover_report *r)
{
	char where[4200];
	uint8_t *buf = b3cas__malloc(B3CAS_COPY_CHUNK);
	int from = -1, to = -1, rc;
	struct dirent *e;
	DIR *d = NULL;

	snprintf(r->saved_index, sizeof(r->saved_index), "%s/index.%llu",
		 B3CAS_RECOVER_DIR, (unsigned long long)b3cas__wall_ns());
	snprintf(where, sizeof(where), "%s/%s", lay->root, r->saved_index);
	if (!buf)
		return B3CAS_ENOMEM;
	rc = mkdirat(lay->root_fd, r->saved_index, 0755) == 0
		     ? 0
		     : b3cas__error_errno(errno, "cannot create %s", where);
	if (rc == 0) {
		from = open(index, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		to = openat(lay->root_fd, r->saved_index,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (from < 0 || to < 0 || !(d = fdopendir(dup(from))))
			rc = b3cas__error_errno(errno, "cannot copy %s",
						index);
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (fstatat(from, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		rc = copy_file(from, to, e->d_name, buf, index, where);
	}
	if (rc == 0)
		rc = b3cas__fsync(to, where);
	if (rc == 0) {
		snprintf(where, sizeof(where), "%s/%s", lay->root,
			 B3CAS_RECOVER_DIR);
		rc = b3cas__fsync_dir(where);
	}
	if (d)
		closedir(d);
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	free(buf);
	if (rc < 0) {
		drop_copy(lay->root_fd, r->saved_index);
		r->saved_index[0] = '\0';
	}
	return rc;
}

int b3cas__recover_write_marker(b3cas_layout *lay,
				const b3cas_recover_report *r)
{
	char text[256];
	const b3cas_atomic_write w = {
		.stage_fd = lay->root_fd,
		.stage_name = B3CAS_RECOVER_MARKER ".tmp",
		.dir_fd = lay->root_fd, .name = B3CAS_RECOVER_MARKER,
		.where = lay->root, .durability = B3CAS_DURABILITY_FULL,
	};
	int n;

	/* The number slot: tables set aside (repaired), or key ranges that
	 * could not be read (salvaged). */
	n = snprintf(text, sizeof(text), "%s %" PRIu64 " %s\n",
		     b3cas_recover_action_name(r->action),
		     r->action == B3CAS_RECOVER_SALVAGED ? r->ranges_unreadable
							 : r->tables_lost,
		     r->saved_index[0] ? r->saved_index : "-");
	return b3cas__atomic_write(&w, text, (size_t)n);
}

/* Read an interrupted recovery's marker into r; false if there is none. */
static bool read_marker(b3cas_layout *lay, b3cas_recover_report *r)
{
	char text[256] = {0}, action[16] = {0}, saved[64] = {0};
	unsigned long long tables = 0;
	int fd = openat(lay->root_fd, B3CAS_RECOVER_MARKER,
			O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	r->resumed = true;
	r->action = B3CAS_RECOVER_REBUILT;
	/* An unreadable marker still means: not finished. */
	if (n > 0 && sscanf(text, "%15s %llu %63s", action, &tables,
			    saved) == 3) {
		if (strcmp(action, "repaired") == 0)
			r->action = B3CAS_RECOVER_REPAIRED;
		if (strcmp(action, "salvaged") == 0)
			r->action = B3CAS_RECOVER_SALVAGED;
		if (r->action == B3CAS_RECOVER_SALVAGED)
			r->ranges_unreadable = tables;
		else
			r->tables_lost = tables;
		if (strcmp(saved, "-") != 0)
			snprintf(r->saved_index, sizeof(r->saved_index), "%s",
				 saved);
	}
	return true;
}

/* Table files in folder path/lost (RocksDB's repair puts damaged ones
 * there). */
static uint64_t count_lost_tables(const char *index)
{
	char path[4200];
	struct dirent *e;
	uint64_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/lost", index);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		n += len > 4 && strcmp(e->d_name + len - 4, ".sst") == 0;
	}
	closedir(d);
	return n;
}

/* Entries in the content column family of an open index. */
static uint64_t count_entries(b3cas_index *ix)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t n = 0;

	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_CONTENT]);
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it))
		n++;
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return n;
}

/*
 * RocksDB's repair of the index folder in place, then an open that adds
 * the column families the repair could not bring back (a family with no
 * table, such as refs when every count is 1, comes back empty - which is
 * what it held). 0 when it opens afterwards.
 */
static int repair_index(const char *index, int packed_level,
			b3cas_recover_report *r)
{
	rocksdb_options_t *o = b3cas__index_new_options();
	uint64_t before = count_lost_tables(index);
	b3cas_index *ix;
	char *err = NULL;
	int rc;

	rocksdb_repair_db(o, index, &err);
	rocksdb_options_destroy(o);
	r->tables_lost = count_lost_tables(index);
	r->tables_lost = r->tables_lost > before ? r->tables_lost - before : 0;
	if (err)
		return b3cas__index_error(err, "RocksDB's repair failed");
	rc = b3cas__index_open(&ix, index, true, false, packed_level);
	if (rc < 0)
		return rc;
	r->entries_kept = count_entries(ix);
	b3cas__index_close(ix);
	return 0;
}

int b3cas__recover_move_aside(b3cas_layout *lay, const char *name)
{
	char rel[4200];
	int rc;

	snprintf(rel, sizeof(rel), "%s/%s", B3CAS_RECOVER_DIR, name);
	if (renameat(lay->root_fd, "index", lay->root_fd, rel) != 0)
		return b3cas__error_errno(errno, "cannot move %s/index aside "
					  "to %s/%s", lay->root, lay->root,
					  rel);
	/* Both folders changed: the move is durable when both are. */
	snprintf(rel, sizeof(rel), "%s/%s", lay->root, B3CAS_RECOVER_DIR);
	rc = b3cas__fsync_dir(rel);
	return rc < 0 ? rc : b3cas__fsync_dir(lay->root);
}

/* A new, empty index made by the store's own index open. */
static int fresh_index(b3cas_layout *lay, const char *index,
		       b3cas_recover_report *r)
{
	b3cas_index *ix;
	int rc;

	r->action = B3CAS_RECOVER_REBUILT;
	r->tables_lost = 0;
	rc = b3cas__recover_write_marker(lay, r);
	if (rc == 0)
		rc = b3cas__index_open(&ix, index, true, false,
				       b3cas__layout_packed_level(lay));
	if (rc == 0)
		b3cas__index_close(ix);
	return rc;
}

int b3cas__recover_begin(b3cas_layout *lay, const char *index,
			 b3cas_recover_report *r, b3cas_recover_action action)
{
	int rc = save_copy(lay, index, r);

	if (rc < 0)
		return rc; /* nothing was changed */
	r->action = action;
	return b3cas__recover_write_marker(lay, r);
}

/* Repair, or failing that move aside and make anew. */
static int mend_index(recover_run *v, b3cas_layout *lay, const char *index)
{
	b3cas_recover_report *r = v->r;
	char name[96];
	int rc;

	rc = b3cas__recover_begin(lay, index, r, B3CAS_RECOVER_REPAIRED);
	if (rc < 0)
		return rc;
	if (repair_index(index, b3cas__layout_packed_level(lay), r) == 0)
		/* Again, with the tables lost. */
		return b3cas__recover_write_marker(lay, r);
	b3cas_error_clear();
	/* What the repair left is kept beside the copy of the original. */
	snprintf(name, sizeof(name), "%s.after-repair",
		 r->saved_index + strlen(B3CAS_RECOVER_DIR) + 1);
	rc = b3cas__recover_move_aside(lay, name);
	if (rc == 0)
		rc = fresh_index(lay, index, r);
	return rc;
}

int b3cas__recover_prepare_index(recover_run *v, b3cas_layout *lay,
				 bool *rebuild)
{
	b3cas_recover_report *r = v->r;
	char *index = b3cas__layout_path(lay, "index");
	char *dir = b3cas__layout_path(lay, B3CAS_RECOVER_DIR);
	bool exists, marker;
	b3cas_index *ix;
	int rc, has_data;

	*rebuild = false;
	if (!index || !dir) {
		rc = B3CAS_ENOMEM;
		goto out;
	}
	marker = read_marker(lay, r);
	if (marker && r->action == B3CAS_RECOVER_SALVAGED)
		b3cas__recover_finish_salvage_move(lay, index, r);
	rc = has_data = index_has_data(index, &exists);
	if (rc < 0)
		goto out;
	if (has_data) {
		bool damaged = false;
		unsigned logs;

		/* Before the writing open below replays and drops it. */
		rc = b3cas__wal_keep_damaged(index, dir, &logs);
		if (rc == 0)
			rc = b3cas__index_open(&ix, index, false, false,
					       0);
		if (rc == B3CAS_ELOCKED)
			goto out; /* in use elsewhere, not damaged */
		if (rc == 0) {
			b3cas__index_close(ix);
			/* It opens; does every entry read back? */
			rc = b3cas__recover_check_reads(index, &damaged, r);
			if (rc < 0)
				goto out;
		}
		if (rc == 0 && damaged) {
			r->index_damaged = true;
			r->resumed = false;
			rc = b3cas__mkdir(dir);
			if (rc == 0)
				rc = b3cas__recover_mend_damaged(v, lay, index);
			*rebuild = rc == 0;
			goto out;
		}
		if (rc == 0) {
			/* Left as it is (not even a folder is made), unless
			 * an earlier recovery is to be finished. */
			*rebuild = marker;
			if (!marker)
				r->action = B3CAS_RECOVER_NOTHING;
			goto out;
		}
		snprintf(r->index_error, sizeof(r->index_error), "%s",
			 b3cas_error_last());
		r->resumed = false; /* what is done now is done afresh */
	}
	rc = b3cas__mkdir(dir);
	if (rc == 0 && has_data) {
		rc = mend_index(v, lay, index);
	} else if (rc == 0) {
		/* Nothing to repair from: kept aside if anything is left. */
		char name[32];

		r->index_missing = true;
		snprintf(name, sizeof(name), "index.%llu",
			 (unsigned long long)b3cas__wall_ns());
		rc = exists ? b3cas__recover_move_aside(lay, name) : 0;
		if (rc == 0 && exists)
			snprintf(r->saved_index, sizeof(r->saved_index),
				 "%s/%s", B3CAS_RECOVER_DIR, name);
		if (rc == 0)
			rc = fresh_index(lay, index, r);
	}
	*rebuild = rc == 0;
out:
	/* A saved filter describes the old index: never load it. */
	if (*rebuild)
		unlinkat(lay->root_fd, "cache/bloom", 0);
	free(index);
	free(dir);
	return rc;
}
