/*
 * maint/recover.c - b3cas_recover: bring back a lost or damaged index
 * from what is left: RocksDB's own repair, the object files, a backup.
 *
 * Two phases. The first holds the store's LOCK through the layout alone
 * (the store cannot be opened yet): it decides whether the index opens,
 * and if not copies it aside, lets RocksDB repair it and, failing that,
 * moves it aside and makes a new one with the store's own index open (so
 * the column families and options are the store's). The second opens the
 * store, now with an index, and fills it in: object files the index lacks
 * are hashed and indexed (or quarantined), then the backup's objects the
 * store has no trace of are copied in through the restore walk.
 *
 * An index that opens is read back in full with its checksums verified
 * (index/salvage.c); if part of it cannot be read, what reads is copied
 * into a new index (action SALVAGED) and phase 2 fills in the rest. A
 * damaged log of the index is copied aside before RocksDB's replay drops
 * its tail (by this recovery or by any writing open); the last step reads
 * each such copy and brings back the objects its dropped writes stored.
 *
 * Invariants: nothing of the user's is deleted - a damaged index is
 * copied (before RocksDB's repair touches it) or moved, never removed,
 * and a file whose bytes do not match its name goes to quarantine; no
 * entry is changed that already exists (adopt only adds); and from the
 * first change to the index until the filled-in index is durable,
 * B3CAS_RECOVER_MARKER exists, so an interrupted recovery is never taken
 * for a complete store (b3cas_store_open refuses it) and running the
 * recovery again finishes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/salvage.h"
#include "index/wal.h"
#include "maint/integrity_int.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"

typedef struct recover_run {
	const char *root;
	const b3cas_recover_options *o;
	b3cas_recover_report *r;
	b3cas_store *backup; /* opened read-only, or NULL */
	b3cas__ticker ticker;
	int stop;            /* on_lost's non-zero value */
} recover_run;

const char *b3cas_recover_action_name(b3cas_recover_action a)
{
	switch (a) {
	case B3CAS_RECOVER_NOTHING: return "nothing";
	case B3CAS_RECOVER_REPAIRED: return "repaired";
	case B3CAS_RECOVER_REBUILT: return "rebuilt";
	case B3CAS_RECOVER_SALVAGED: return "salvaged";
	default: return "unknown";
	}
}

/* Name an object known lost. */
static int lost(recover_run *v, const b3cas_oid *id, const char *why)
{
	v->r->lost++;
	if (v->o->on_lost && !v->stop)
		v->stop = v->o->on_lost(id, why, v->o->ctx);
	return v->stop;
}

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

/* Write the marker: what this recovery is doing, for a resumed run. */
static int write_marker(b3cas_layout *lay, const b3cas_recover_report *r)
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
static int repair_index(const char *index, b3cas_recover_report *r)
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
	rc = b3cas__index_open(&ix, index, true, false);
	if (rc < 0)
		return rc;
	r->entries_kept = count_entries(ix);
	b3cas__index_close(ix);
	return 0;
}

/* Move the index folder to integrity/recover/<name> (kept, not removed). */
static int move_aside(b3cas_layout *lay, const char *name)
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
	rc = write_marker(lay, r);
	if (rc == 0)
		rc = b3cas__index_open(&ix, index, true, false);
	if (rc == 0)
		b3cas__index_close(ix);
	return rc;
}

/* Repair, or failing that move aside and make anew. */
static int mend_index(recover_run *v, b3cas_layout *lay, const char *index)
{
	b3cas_recover_report *r = v->r;
	char name[96];
	int rc;

	rc = save_copy(lay, index, r);
	if (rc < 0)
		return rc; /* nothing was changed */
	r->action = B3CAS_RECOVER_REPAIRED;
	rc = write_marker(lay, r);
	if (rc < 0)
		return rc;
	if (repair_index(index, r) == 0)
		return write_marker(lay, r); /* with the tables lost */
	b3cas_error_clear();
	/* What the repair left is kept beside the copy of the original. */
	snprintf(name, sizeof(name), "%s.after-repair",
		 r->saved_index + strlen(B3CAS_RECOVER_DIR) + 1);
	rc = move_aside(lay, name);
	if (rc == 0)
		rc = fresh_index(lay, index, r);
	return rc;
}

/* ---- an index that opens but does not read back ------------------------- */

/* Where salvaged entries go: a new index, written in batches. */
typedef struct salvage_dst {
	b3cas_index *ix;
	rocksdb_writebatch_t *b;
	size_t n;
} salvage_dst;

static int flush_salvaged(salvage_dst *d)
{
	char *err = NULL;

	if (d->n == 0)
		return 0;
	rocksdb_write(d->ix->db, d->ix->write, d->b, &err);
	rocksdb_writebatch_clear(d->b);
	d->n = 0;
	return err ? b3cas__index_error(err, "cannot write the salvaged "
					"index") : 0;
}

static int keep_entry(int cf, const char *key, size_t klen, const char *val,
		      size_t vlen, void *ctx)
{
	salvage_dst *d = ctx;

	rocksdb_writebatch_put_cf(d->b, d->ix->cf[cf], key, klen, val, vlen);
	return ++d->n < 1024 ? 0 : flush_salvaged(d);
}

/* Does every entry of the index folder read back? *damaged, with the
 * first error and the unreadable ranges in r. */
static int check_reads(const char *index, bool *damaged,
		       b3cas_recover_report *r)
{
	b3cas__salvage_report sr;
	b3cas_index *ix;
	int rc = b3cas__index_open(&ix, index, false, true);

	*damaged = false;
	if (rc < 0)
		return rc;
	rc = b3cas__index_salvage(ix, NULL, NULL, &sr);
	b3cas__index_close(ix);
	if (rc == 0 && sr.first_error[0]) {
		*damaged = true;
		snprintf(r->index_error, sizeof(r->index_error), "%s",
			 sr.first_error);
	}
	return rc;
}

/* Copy what reads back of index into a new index at rel (under the
 * store folder); the ranges it could not read go in r. */
static int salvage_into(b3cas_layout *lay, const char *index,
			const char *rel, b3cas_recover_report *r)
{
	b3cas__salvage_report sr;
	salvage_dst d = {NULL, NULL, 0};
	b3cas_index *old;
	char *path = b3cas__layout_path(lay, rel);
	int rc = path ? b3cas__index_open(&old, index, false, true)
		      : B3CAS_ENOMEM;

	if (rc < 0)
		goto out;
	rc = b3cas__index_open(&d.ix, path, true, false);
	if (rc < 0) {
		b3cas__index_close(old);
		goto out;
	}
	d.b = rocksdb_writebatch_create();
	rc = b3cas__index_salvage(old, keep_entry, &d, &sr);
	if (rc == 0)
		rc = flush_salvaged(&d);
	rocksdb_writebatch_destroy(d.b);
	b3cas__index_close(old);
	b3cas__index_close(d.ix); /* flushes: durable as tables */
	r->entries_kept = sr.entries[B3CAS_CF_CONTENT];
	r->ranges_unreadable = sr.unreadable;
	snprintf(r->unreadable, sizeof(r->unreadable), "%s", sr.ranges);
out:
	free(path);
	return rc;
}

/*
 * The index opens but part of it does not read back: keep a copy, copy
 * what reads into a new index, move the damaged one aside and the new
 * one into its place. Until the marker goes, a resumed run finishes.
 */
static int mend_damaged(recover_run *v, b3cas_layout *lay, const char *index)
{
	b3cas_recover_report *r = v->r;
	char name[96], rel[128];
	int rc;

	rc = save_copy(lay, index, r);
	if (rc < 0)
		return rc; /* nothing was changed */
	r->action = B3CAS_RECOVER_SALVAGED;
	rc = write_marker(lay, r);
	if (rc < 0)
		return rc;
	snprintf(rel, sizeof(rel), "%s.salvaged", r->saved_index);
	rc = salvage_into(lay, index, rel, r);
	/* Again with the count of unreadable ranges, for a resumed run. */
	if (rc == 0)
		rc = write_marker(lay, r);
	snprintf(name, sizeof(name), "%s.damaged",
		 r->saved_index + strlen(B3CAS_RECOVER_DIR) + 1);
	if (rc == 0)
		rc = move_aside(lay, name);
	if (rc == 0 && renameat(lay->root_fd, rel, lay->root_fd, "index") != 0)
		rc = b3cas__error_errno(errno, "cannot move %s/%s to %s/index",
					lay->root, rel, lay->root);
	if (rc == 0)
		rc = b3cas__fsync_dir(lay->root);
	return rc;
}

/* A salvage cut short between moving the damaged index aside and moving
 * the new one in: move it in now (else a new index would be built and
 * the entries that still read would be left in the copy). */
static void finish_salvage_move(b3cas_layout *lay, const char *index,
				const b3cas_recover_report *r)
{
	char rel[128];
	struct stat st;

	if (!r->saved_index[0] || stat(index, &st) == 0)
		return;
	snprintf(rel, sizeof(rel), "%s.salvaged", r->saved_index);
	if (renameat(lay->root_fd, rel, lay->root_fd, "index") == 0)
		b3cas__fsync_dir(lay->root);
}

/*
 * Phase 1, under the store's LOCK. *rebuild tells whether phase 2 is
 * needed (the index was changed, or an earlier recovery was not
 * finished).
 */
static int prepare_index(recover_run *v, b3cas_layout *lay, bool *rebuild)
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
		finish_salvage_move(lay, index, r);
	rc = has_data = index_has_data(index, &exists);
	if (rc < 0)
		goto out;
	if (has_data) {
		bool damaged = false;
		unsigned logs;

		/* Before the writing open below replays and drops it. */
		rc = b3cas__wal_keep_damaged(index, dir, &logs);
		if (rc == 0)
			rc = b3cas__index_open(&ix, index, false, false);
		if (rc == B3CAS_ELOCKED)
			goto out; /* in use elsewhere, not damaged */
		if (rc == 0) {
			b3cas__index_close(ix);
			/* It opens; does every entry read back? */
			rc = check_reads(index, &damaged, r);
			if (rc < 0)
				goto out;
		}
		if (rc == 0 && damaged) {
			r->index_damaged = true;
			r->resumed = false;
			rc = b3cas__mkdir(dir);
			if (rc == 0)
				rc = mend_damaged(v, lay, index);
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
		rc = exists ? move_aside(lay, name) : 0;
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

/* ---- phase 2: filling the index in --------------------------------------- */

/* The reference count to give id: the backup's, or 1. */
static uint64_t count_for(recover_run *v, const b3cas_oid *id, bool *from)
{
	uint64_t n = 0;

	*from = false;
	if (v->backup && b3cas_refcount(v->backup, id, &n) == 0 && n > 0) {
		*from = true;
		return n;
	}
	b3cas_error_clear();
	return 1;
}

/* One file of the tier, at sub_fd/name in folder sub. */
static int tier_file(recover_run *v, b3cas_store *s, int sub_fd,
		     unsigned sub, const char *name, uint8_t *buf)
{
	b3cas_recover_report *r = v->r;
	struct stat st;
	b3cas_oid id;
	bool from;
	int fd, rc, sound;

	r->files++;
	b3cas__tick(&v->ticker, r->files, r->bytes, false);
	if (b3cas_oid_parse(&id, name) != 0 || id.bytes[0] != sub ||
	    fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode)) {
		b3cas_error_clear();
		r->skipped++; /* not an object: fsck names it */
		return 0;
	}
	rc = b3cas__index_has(s->ix, B3CAS_CF_CONTENT, id.bytes,
			      B3CAS_OID_LEN);
	if (rc != 0)
		return rc < 0 ? rc : 0; /* indexed already: kept as it is */
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r->skipped++;
		return 0;
	}
	sound = b3cas__file_check(s, fd, &id, (uint64_t)st.st_size, buf,
				  B3CAS_COPY_CHUNK, &r->bytes);
	close(fd);
	if (sound < 0)
		return B3CAS_ENOMEM;
	if (sound) {
		uint64_t refs = count_for(v, &id, &from);

		rc = b3cas__store_adopt_file(s, &id, (uint64_t)st.st_size,
					     &refs);
		r->reindexed += rc == 0 || rc == 2;
		r->counts_from_backup += rc == 0 && from;
		r->counts_kept += rc == 2;
		return rc < 0 ? rc : 0;
	}
	if (b3cas__quarantine_loose(s, &id, (uint64_t)st.st_size) != 1) {
		r->skipped++; /* it changed meanwhile, or cannot be moved */
		return 0;
	}
	r->quarantined++;
	/* The backup's copy comes in with the objects the store lacks. */
	if (v->backup && b3cas_store_exists(v->backup, &id) == 1)
		return 0;
	b3cas_error_clear();
	return lost(v, &id, v->backup
			    ? "its file's bytes do not match its name (the "
			      "file is in integrity/quarantine/) and the "
			      "backup does not have it"
			    : "its file's bytes do not match its name (the "
			      "file is in integrity/quarantine/) and there is "
			      "no backup to take it from");
}

static int walk_tier(recover_run *v, b3cas_store *s)
{
	uint8_t *buf = b3cas__malloc(B3CAS_COPY_CHUNK);
	int rc = buf ? 0 : B3CAS_ENOMEM;

	b3cas__ticker_start(&v->ticker, v->o->progress, v->o->ctx, 0);
	for (unsigned sub = 0; sub < 256 && rc == 0 && !v->stop; sub++) {
		char name[3];
		struct dirent *e;
		int fd;
		DIR *d;

		snprintf(name, sizeof(name), "%02x", sub);
		fd = openat(s->lay.objects_fd, name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			continue;
		}
		while (rc == 0 && !v->stop && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				rc = tier_file(v, s, fd, sub, e->d_name, buf);
		closedir(d);
	}
	b3cas__tick(&v->ticker, v->r->files, v->r->bytes, true);
	free(buf);
	return rc;
}

/* The restore walk's failures are objects the store lacks and the backup
 * cannot give: lost. */
static int lost_in_backup(const b3cas_oid *id, int err, void *ctx)
{
	(void)err;
	return lost(ctx, id, b3cas_error_last());
}

static void restore_progress(const b3cas_progress *p, void *ctx)
{
	recover_run *v = ctx;

	v->o->progress(p, v->o->ctx);
}

static int from_backup(recover_run *v, b3cas_store *s)
{
	b3cas_restore_options ro = B3CAS_RESTORE_OPTIONS_INIT;
	b3cas_restore_report rr;
	int rc;

	memset(&rr, 0, sizeof(rr));
	ro.on_failure = lost_in_backup;
	ro.ctx = v;
	ro.progress = v->o->progress ? restore_progress : NULL;
	rc = b3cas__restore_run(s, v->backup, true, &ro, &rr);
	v->r->restored = rr.restored;
	v->r->restored_bytes = rr.bytes;
	return rc;
}

/*
 * After a repair: a reference count kept for an id that has no content
 * entry even now names an object that was stored and that neither the
 * object files nor the backup brought back. It is lost; its count goes
 * (under its stripe lock, re-checked there).
 */
static int sweep_counts(recover_run *v, b3cas_store *s)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_REFS]);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek_to_first(it);
	     rc == 0 && !v->stop && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		rocksdb_writebatch_t *b;
		pthread_mutex_t *lock;
		b3cas_oid id;
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *val =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		bool gone = false, deleted;

		if (klen != B3CAS_OID_LEN)
			continue; /* not an id: fsck names it */
		/* A GC candidate's mark (count 0): deleted, not lost. */
		deleted = vlen >= 8 && b3cas__get_u64(val) == 0;
		memcpy(id.bytes, key, B3CAS_OID_LEN);
		lock = b3cas__store_stripe(s, &id);
		pthread_mutex_lock(lock);
		rc = b3cas__index_has(s->ix, B3CAS_CF_CONTENT, id.bytes,
				      B3CAS_OID_LEN);
		if (rc == 0) {
			b = rocksdb_writebatch_create();
			b3cas__store_batch_remove(s, b, &id);
			rc = b3cas__store_write_batch(s, b);
			rocksdb_writebatch_destroy(b);
			gone = rc == 0;
		}
		pthread_mutex_unlock(lock);
		if (rc > 0)
			rc = 0;
		if (gone && !deleted)
			rc = lost(v, &id, "the damaged index lost its entry "
				  "(its reference count survived) and no copy "
				  "was found in the object files or a backup");
	}
	rocksdb_iter_get_error(it, &err);
	if (rc == 0 && err)
		rc = b3cas__index_error(err, "cannot walk the index");
	else
		free(err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

/* Phase 2: open the store on its new or repaired index and fill it in;
 * the marker goes once all of it is durable. */
static int fill_index(recover_run *v)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	int rc, crc;

	/* Durable once, at the end, before the marker goes. */
	so.durability = B3CAS_DURABILITY_NONE;
	so.l1_bytes = 0;
	rc = b3cas__store_open(&s, v->root, &so, true);
	if (rc < 0)
		return rc;
	rc = walk_tier(v, s);
	if (rc == 0 && !v->stop && v->backup)
		rc = from_backup(v, s);
	if (rc == 0 && !v->stop && (v->r->action == B3CAS_RECOVER_REPAIRED ||
				    v->r->action == B3CAS_RECOVER_SALVAGED))
		rc = sweep_counts(v, s);
	if (rc == 0 && v->stop)
		rc = v->stop;
	if (rc == 0)
		rc = b3cas_store_sync(s);
	if (rc == 0 && unlinkat(s->lay.root_fd, B3CAS_RECOVER_MARKER, 0) != 0)
		rc = b3cas__error_errno(errno, "cannot remove %s/%s",
					v->root, B3CAS_RECOVER_MARKER);
	if (rc == 0) {
		char *dir = b3cas__layout_path(&s->lay, B3CAS_RECOVER_DIR);

		rc = dir ? b3cas__fsync_dir(dir) : B3CAS_ENOMEM;
		free(dir);
	}
	crc = b3cas_store_close(s);
	return rc != 0 ? rc : crc; /* on_lost's value too */
}

/* ---- writes a damaged log dropped ---------------------------------------- */

typedef struct wal_replay {
	recover_run *v;
	b3cas_store *s;
	uint32_t content_cf;
	int err;             /* a store error: stops */
} wal_replay;

/* One put of a dropped batch: an object entry of the content family is
 * brought back if its bytes are in it (inline) and the store lacks it;
 * a loose one is back if its file was indexed; else it is lost. */
static int replay_put(uint32_t cf, const uint8_t *key, size_t klen,
		      const uint8_t *val, size_t vlen, void *ctx)
{
	wal_replay *w = ctx;
	b3cas_recover_report *r = w->v->r;
	uint64_t refs = 1, size;
	b3cas_oid id, got;
	int kind, rc;

	if (cf != w->content_cf || klen != B3CAS_OID_LEN ||
	    vlen < B3CAS_ENTRY_HEADER_LEN)
		return 0;
	memcpy(id.bytes, key, B3CAS_OID_LEN);
	r->wal_dropped++;
	rc = b3cas__index_has(w->s->ix, B3CAS_CF_CONTENT, id.bytes,
			      B3CAS_OID_LEN);
	if (rc != 0) {
		w->err = rc < 0 ? rc : 0;
		return rc < 0 ? rc : 0; /* there (its file, the backup, later) */
	}
	kind = val[0] & ~B3CAS_ENTRY_UNREF;
	size = b3cas__get_u64(val + 1);
	if (kind == B3CAS_ENTRY_INLINE &&
	    size == vlen - B3CAS_ENTRY_HEADER_LEN &&
	    b3cas__store_hash(w->s, &got, val + B3CAS_ENTRY_HEADER_LEN,
			      (size_t)size) == 0 &&
	    b3cas_oid_equal(&got, &id)) {
		rc = b3cas__store_adopt(w->s, &id, val + B3CAS_ENTRY_HEADER_LEN,
					(size_t)size, NULL, &refs);
		if (rc < 0) {
			w->err = rc;
			return rc;
		}
		r->wal_restored++;
		return 0;
	}
	b3cas_error_clear();
	return lost(w->v, &id, kind == B3CAS_ENTRY_INLINE
			      ? "its write was after the damage in the "
				"index's log and its bytes there do not hash "
				"to its id"
			      : "its write was after the damage in the "
				"index's log and its file is not in the "
				"object folder");
}

static int replay_batch(const uint8_t *batch, size_t len, bool after,
			void *ctx)
{
	wal_replay *w = ctx;
	int rc;

	if (!after)
		return 0; /* replayed by RocksDB */
	rc = b3cas__wal_batch_puts(batch, len, replay_put, w);
	if (rc == B3CAS_ECORRUPT)
		rc = 0; /* a batch we cannot parse: counted in wal_dropped
			   as far as it was read */
	return rc;
}

/*
 * Each damaged log kept in integrity/recover/ (wal.<ns>.<n>.log, by the
 * store's open or by this recovery): bring back what its dropped writes
 * stored, then rename it *.done so it is reported and replayed once.
 */
static int replay_logs(recover_run *v)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	char dir[4200];
	b3cas_store *s = NULL;
	struct dirent *e;
	DIR *d;
	int rc = 0, crc;

	snprintf(dir, sizeof(dir), "%s/%s", v->root, B3CAS_RECOVER_DIR);
	d = opendir(dir);
	if (!d)
		return 0;
	while (rc == 0 && !v->stop && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[4500], done[4600];
		b3cas__wal_report wr;
		wal_replay w;

		if (strncmp(e->d_name, "wal.", 4) != 0 || n < 8 ||
		    strcmp(e->d_name + n - 4, ".log") != 0)
			continue;
		if (!s) {
			so.l1_bytes = 0;
			rc = b3cas__store_open(&s, v->root, &so, false);
			if (rc < 0)
				break;
		}
		memset(&w, 0, sizeof(w));
		w.v = v;
		w.s = s;
		w.content_cf = rocksdb_column_family_handle_get_id(
			s->ix->cf[B3CAS_CF_CONTENT]);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = b3cas__wal_scan(path, replay_batch, &w, &wr);
		if (rc == 0 && w.err)
			rc = w.err;
		if (rc != 0)
			break;
		v->r->wal_damaged++;
		v->r->wal_after += wr.after;
		v->r->wal_unreadable += wr.unreadable;
		snprintf(done, sizeof(done), "%s.done", path);
		if (rename(path, done) != 0)
			rc = b3cas__error_errno(errno, "cannot rename %s",
						path);
	}
	closedir(d);
	if (rc == 0 && v->stop)
		rc = v->stop;
	if (s && rc == 0)
		rc = b3cas_store_sync(s);
	crc = b3cas_store_close(s);
	return rc != 0 ? rc : crc;
}

/* ---- the whole ---------------------------------------------------------- */

static int open_backup(recover_run *v, b3cas_hash_algo hash)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	int rc;

	so.read_only = true;
	so.hash = hash;
	so.l1_bytes = 0;
	so.verify_on_read = true;
	rc = b3cas_store_open(&v->backup, v->o->backup_dir, &so);
	if (rc < 0)
		return b3cas__error_because(rc, "cannot open the backup %s",
					    v->o->backup_dir);
	return 0;
}

static void log_run(recover_run *v, int rc)
{
	const b3cas_recover_report *r = v->r;
	int fd = open(v->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	b3cas__integrity_log(fd, B3CAS_RECOVER_DIR "/log",
			     "action=%s resumed=%d saved=%s tables_lost=%"
			     PRIu64 " files=%" PRIu64 " reindexed=%" PRIu64
			     " quarantined=%" PRIu64 " restored=%" PRIu64
			     " lost=%" PRIu64 " backup=%s seconds=%.3f "
			     "result=%d",
			     b3cas_recover_action_name(r->action), r->resumed,
			     r->saved_index[0] ? r->saved_index : "-",
			     r->tables_lost, r->files, r->reindexed,
			     r->quarantined, r->restored, r->lost,
			     v->o->backup_dir ? v->o->backup_dir : "-",
			     r->seconds, rc);
	close(fd);
}

int b3cas_recover(const char *root_dir, const b3cas_recover_options *opts,
		  b3cas_recover_report *report)
{
	b3cas_recover_options defaults = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_recover_report local;
	uint64_t t0 = b3cas__now_ns();
	b3cas_layout lay;
	recover_run v;
	bool rebuild = false;
	int rc;

	B3CAS__NONNULL(root_dir, "root_dir");
	memset(&v, 0, sizeof(v));
	v.r = report ? report : &local;
	memset(v.r, 0, sizeof(*v.r));
	if (!opts)
		opts = &defaults;
	if (opts->version != B3CAS_RECOVER_OPTIONS_VERSION)
		return b3cas__error(B3CAS_EINVAL, "recover options version %u "
				    "is not %d: initialise them with "
				    "B3CAS_RECOVER_OPTIONS_INIT",
				    opts->version,
				    B3CAS_RECOVER_OPTIONS_VERSION);
	if (!root_dir || !*root_dir)
		return b3cas__error(B3CAS_EINVAL, "no store folder given");
	v.root = root_dir;
	v.o = opts;
	/* The layout alone: b3cas.conf read and checked, the LOCK held, the
	 * index not opened. */
	rc = b3cas__layout_open(&lay, root_dir, &so);
	if (rc < 0)
		return rc;
	if (opts->backup_dir) {
		rc = open_backup(&v, lay.hash);
		v.r->from_backup = rc == 0;
	}
	if (rc == 0)
		rc = prepare_index(&v, &lay, &rebuild);
	/* The LOCK goes here and is taken again by the store's open. */
	b3cas__layout_close(&lay);
	if (rc == 0 && rebuild)
		rc = fill_index(&v);
	/* Writes a damaged log dropped, found now or by an earlier open. */
	if (rc == 0)
		rc = replay_logs(&v);
	v.r->index_entries_lost =
		v.r->action == B3CAS_RECOVER_REBUILT ||
		(v.r->action == B3CAS_RECOVER_REPAIRED && v.r->tables_lost) ||
		(v.r->action == B3CAS_RECOVER_SALVAGED &&
		 v.r->ranges_unreadable);
	if (v.backup) {
		char msg[1024];

		/* Closing must not lose the message of a failure. */
		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		b3cas_store_close(v.backup);
		if (rc < 0)
			b3cas__error(rc, "%s", msg);
	}
	v.r->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	if (rebuild || rc < 0 || v.r->wal_damaged)
		log_run(&v, rc);
	return rc;
}
