/*
 * maint/recover_fill.c - recovery's second phase: with the store open,
 * fill the index in. Object files the index lacks are hashed and indexed
 * (or quarantined), the backup's objects the store has no trace of are
 * copied in through the restore walk, and reference counts are given
 * from the backup where it has them.
 *
 * Invariants: no entry that exists is changed (adopt only adds); a file
 * whose bytes do not match its name goes to quarantine; an object named
 * by a count but found nowhere is reported lost, never invented.
 */
#include "maint/recover_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

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
	rc = b3cas__index_has(b3cas__store_index(s), B3CAS_CF_CONTENT,
			      id.bytes, B3CAS_OID_LEN);
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
	return b3cas__recover_lost(v, &id, v->backup
		? "its file's bytes do not match its name (the file is in "
		  "integrity/quarantine/) and the backup does not have it"
		: "its file's bytes do not match its name (the file is in "
		  "integrity/quarantine/) and there is no backup to take "
		  "it from");
}

static int walk_tier(recover_run *v, b3cas_store *s)
{
	b3cas_layout *lay = b3cas__store_layout(s);
	uint8_t *buf = b3cas__malloc(B3CAS_COPY_CHUNK);
	int rc = buf ? 0 : B3CAS_ENOMEM;

	b3cas__ticker_start(&v->ticker, v->o->progress, v->o->ctx, 0);
	for (unsigned sub = 0; sub < 256 && rc == 0 && !v->stop; sub++) {
		char name[3];
		struct dirent *e;
		int fd;
		DIR *d;

		snprintf(name, sizeof(name), "%02x", sub);
		fd = openat(lay->objects_fd, name,
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
	return b3cas__recover_lost(ctx, id, b3cas_error_last());
}

static void restore_progress(const b3cas_progress *p, void *ctx)
{
	recover_run *v = ctx;

	v->o->progress(p, v->o->ctx);
}

int b3cas__recover_from_backup(recover_run *v, b3cas_store *s)
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
	b3cas_index *ix = b3cas__store_index(s);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		ix->db, ro, ix->cf[B3CAS_CF_REFS]);
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
		rc = b3cas__index_has(ix, B3CAS_CF_CONTENT, id.bytes,
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
			rc = b3cas__recover_lost(
				v, &id, "the damaged index lost its entry "
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

int b3cas__recover_fill_index(recover_run *v)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_layout *lay;
	b3cas_store *s;
	int rc, crc;

	/* Durable once, at the end, before the marker goes. */
	so.durability = B3CAS_DURABILITY_NONE;
	so.l1_bytes = 0;
	rc = b3cas__store_open(&s, v->root, &so, true);
	if (rc < 0)
		return rc;
	lay = b3cas__store_layout(s);
	rc = walk_tier(v, s);
	if (rc == 0 && !v->stop && v->backup)
		rc = b3cas__recover_from_backup(v, s);
	if (rc == 0 && !v->stop && (v->r->action == B3CAS_RECOVER_REPAIRED ||
				    v->r->action == B3CAS_RECOVER_SALVAGED))
		rc = sweep_counts(v, s);
	if (rc == 0 && v->stop)
		rc = v->stop;
	if (rc == 0)
		rc = b3cas_store_sync(s);
	if (rc == 0 && unlinkat(lay->root_fd, B3CAS_RECOVER_MARKER, 0) != 0)
		rc = b3cas__error_errno(errno, "cannot remove %s/%s",
					v->root, B3CAS_RECOVER_MARKER);
	if (rc == 0) {
		char *dir = b3cas__layout_path(lay, B3CAS_RECOVER_DIR);

		rc = dir ? b3cas__fsync_dir(dir) : B3CAS_ENOMEM;
		free(dir);
	}
	crc = b3cas_store_close(s);
	return rc != 0 ? rc : crc; /* on_lost's value too */
}
