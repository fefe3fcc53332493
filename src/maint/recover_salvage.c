/*
 * maint/recover_salvage.c - an index that opens but does not read back:
 * every entry is read with its checksums verified (index/salvage.c), and
 * if part of the index cannot be read, what reads is copied into a new
 * index (action SALVAGED), which then takes the old one's place.
 *
 * Invariants: the damaged index is moved aside into integrity/recover/,
 * never removed; the new index is complete and durable before it is
 * renamed to index/, so a crash leaves one or the other whole.
 */
#include "maint/recover_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/salvage.h"
#include "util/error.h"
#include "util/fsutil.h"

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

int b3cas__recover_check_reads(const char *index, bool *damaged,
			       b3cas_recover_report *r)
{
	b3cas__salvage_report sr;
	b3cas_index *ix;
	int rc = b3cas__index_open(&ix, index, false, true, 0);

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
	int rc = path ? b3cas__index_open(&old, index, false, true, 0)
		      : B3CAS_ENOMEM;

	if (rc < 0)
		goto out;
	rc = b3cas__index_open(&d.ix, path, true, false,
			      old->cf[B3CAS_CF_DATA]
				      ? b3cas__layout_packed_level(lay) > 0
						? b3cas__layout_packed_level(lay)
						: 3
				      : 0);
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

int b3cas__recover_mend_damaged(recover_run *v, b3cas_layout *lay,
				const char *index)
{
	b3cas_recover_report *r = v->r;
	char name[96], rel[128];
	int rc;

	rc = b3cas__recover_begin(lay, index, r, B3CAS_RECOVER_SALVAGED);
	if (rc < 0)
		return rc;
	snprintf(rel, sizeof(rel), "%s.salvaged", r->saved_index);
	rc = salvage_into(lay, index, rel, r);
	/* Again with the count of unreadable ranges, for a resumed run. */
	if (rc == 0)
		rc = b3cas__recover_write_marker(lay, r);
	snprintf(name, sizeof(name), "%s.damaged",
		 r->saved_index + strlen(B3CAS_RECOVER_DIR) + 1);
	if (rc == 0)
		rc = b3cas__recover_move_aside(lay, name);
	if (rc == 0 && renameat(lay->root_fd, rel, lay->root_fd, "index") != 0)
		rc = b3cas__error_errno(errno, "cannot move %s/%s to %s/index",
					lay->root, rel, lay->root);
	if (rc == 0)
		rc = b3cas__fsync_dir(lay->root);
	return rc;
}

void b3cas__recover_finish_salvage_move(b3cas_layout *lay, const char *index,
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
