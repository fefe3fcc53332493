/*
 * maint/scrub.c - b3cas_scrub: fsck's entry phase alone, one worker
 * walking the index in id order, paced to a byte rate and bounded by a
 * count, resuming after the last id of an interrupted pass.
 *
 * Invariants: the position (integrity/checksums/scrub, "next-after
 * <id>") is saved only after a walk that met no error and no index
 * damage, and removed after a whole pass, so a scrub never skips an
 * object it did not check; a damaged position only restarts the scrub.
 */
#include "maint/fsck_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/atomic.h"
#include "util/error.h"
#include "util/histogram.h"

/* ---- scrub --------------------------------------------------------------- */

#define SCRUB_FILE "integrity/checksums/scrub"

/* The position file: "next-after <64 hex>\n", or absent: from the start. */
static bool scrub_load(b3cas_store *s, b3cas_oid *after)
{
	b3cas_layout *lay = b3cas__store_layout(s);
	char text[128] = {0};
	int fd = openat(lay->root_fd, SCRUB_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	bool ok;

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 11 + B3CAS_OID_HEX_LEN || strncmp(text, "next-after ", 11))
		return false; /* damaged: start over, losing nothing */
	text[11 + B3CAS_OID_HEX_LEN] = '\0';
	ok = b3cas_oid_parse(after, text + 11) == 0;
	b3cas_error_clear();
	return ok;
}

/* Save the position after last (NULL: none done), or with done (a whole
 * pass) remove it so the next scrub starts over. */
static int scrub_save(b3cas_store *s, const b3cas_oid *last, bool done)
{
	b3cas_layout *lay = b3cas__store_layout(s);
	char text[128], hex[B3CAS_OID_HEX_LEN + 1];
	/* No fsync: a position lost or damaged by a power loss only makes
	 * the next scrub start over (scrub_load). */
	const b3cas_atomic_write w = {
		.stage_fd = lay->root_fd, .stage_name = SCRUB_FILE ".tmp",
		.dir_fd = lay->root_fd, .name = SCRUB_FILE,
		.where = lay->root, .durability = B3CAS_DURABILITY_NONE,
	};
	int n;

	if (done || !last) {
		/* A whole pass: the next scrub starts over. */
		if (unlinkat(lay->root_fd, SCRUB_FILE, 0) != 0 &&
		    errno != ENOENT)
			return b3cas__error_errno(errno, "cannot reset %s/%s",
						  lay->root, SCRUB_FILE);
		return 0;
	}
	n = snprintf(text, sizeof(text), "next-after %s\n",
		     b3cas_oid_fmt(hex, last));
	return b3cas__atomic_write(&w, text, (size_t)n);
}

/* Where a scrub walks from, how far and how fast. */
typedef struct scrub_pos {
	bool has_start;
	b3cas_oid start;      /* resume after this id */
	uint64_t max_objects; /* 0: no limit */
	uint64_t rate_bytes;  /* 0: no limit */
	bool completed;       /* the walk reached the end of the index */
} scrub_pos;

/* Sleep as long as it takes for bytes hashed since t0 to fit the rate. */
static void pace(uint64_t bytes, uint64_t t0, uint64_t rate)
{
	uint64_t due = rate ? bytes * 1000000000ull / rate : 0;
	uint64_t spent = b3cas__now_ns() - t0;

	if (due > spent) {
		struct timespec ts = {(time_t)((due - spent) / 1000000000ull),
				      (long)((due - spent) % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
}

/* Seek it to the first key after pos->start, or to the first key. */
static void scrub_seek(rocksdb_iterator_t *it, const scrub_pos *pos)
{
	size_t kl;
	const char *k;

	if (!pos->has_start) {
		rocksdb_iter_seek_to_first(it);
		return;
	}
	rocksdb_iter_seek(it, (const char *)pos->start.bytes, B3CAS_OID_LEN);
	if (!rocksdb_iter_valid(it))
		return;
	k = rocksdb_iter_key(it, &kl);
	if (kl == B3CAS_OID_LEN &&
	    memcmp(k, pos->start.bytes, B3CAS_OID_LEN) == 0)
		rocksdb_iter_next(it); /* after it, not it again */
}

/* The index entries in id order on this thread, paced, the position
 * saved at least once a second and at the end. */
static int scrub_walk(fsck_worker *w, scrub_pos *pos)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	b3cas_index *ix = b3cas__store_index(s);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t t0 = b3cas__now_ns(), saved_at = t0, shown_at = t0, done = 0;
	uint64_t total = f->o->progress ? b3cas__estimate_objects(s) : 0;
	b3cas_oid last;
	bool any = false, damaged = false;
	char *err = NULL;
	int rc = 0;

	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_CONTENT]);
	scrub_seek(it, pos);
	for (; rocksdb_iter_valid(it)
	     && !b3cas__fsck_halted(f); rocksdb_iter_next(it)) {
		size_t klen;
		const char *key;

		if (pos->max_objects && done == pos->max_objects)
			break;
		if (any && b3cas__now_ns() - saved_at >= 1000000000ull) {
			scrub_save(s, &last, false);
			saved_at = b3cas__now_ns();
		}
		pace(w->r.bytes, t0, pos->rate_bytes);
		if (f->o->progress &&
		    b3cas__now_ns() - shown_at >= PROGRESS_NS) {
			b3cas__fsck_report_progress(f, t0, total, false);
			shown_at = b3cas__now_ns();
		}
		done++;
		key = rocksdb_iter_key(it, &klen);
		if (klen == B3CAS_OID_LEN) {
			memcpy(last.bytes, key, B3CAS_OID_LEN);
			any = true;
		}
		b3cas__fsck_check_entry(w, key, klen);
	}
	rocksdb_iter_get_error(it, &err);
	if (err && b3cas__fsck_index_damage(f, err)) {
		/* Reported as a finding; the pass is not complete, and the
		 * next scrub starts from the last saved position again. */
		free(err);
		b3cas__fsck_report_index_damage(f, w);
		damaged = true;
	} else if (err) {
		rc = b3cas__index_error(err, "cannot walk the index");
	}
	if (f->o->progress)
		b3cas__fsck_report_progress(f, t0, total, true);
	if (rc == 0 && !b3cas__fsck_halted(f) && !damaged) {
		pos->completed = !rocksdb_iter_valid(it);
		rc = scrub_save(s, any ? &last : NULL, pos->completed);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int b3cas_scrub(b3cas_store *s, const b3cas_scrub_options *opts,
		b3cas_scrub_report *report)
{
	b3cas_scrub_options defaults = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_scrub_report local;
	uint64_t t0 = b3cas__now_ns();
	fsck_worker *ws;
	scrub_pos pos;
	fsck_run f;
	int rc;

	B3CAS__NONNULL(s, "store");
	if (!opts)
		opts = &defaults;
	if (b3cas__check_version(opts->version, 1, B3CAS_SCRUB_OPTIONS_VERSION,
				 "scrub") < 0)
		return B3CAS_EINVAL;
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	memset(&pos, 0, sizeof(pos));
	fo.repair = opts->repair;
	fo.on_problem = opts->on_problem;
	fo.ctx = opts->ctx;
	fo.progress = opts->progress;
	rc = b3cas__fsck_start(&f, &ws, s, &fo, false, 1);
	if (rc < 0)
		return rc;
	pos.has_start = scrub_load(s, &pos.start);
	pos.max_objects = opts->max_objects;
	pos.rate_bytes = opts->rate_bytes;
	report->resumed = pos.has_start;
	rc = scrub_walk(&ws[0], &pos);
	if (rc == 0)
		rc = b3cas__fsck_confirm_suspects(&f, &ws[0]);
	report->found = ws[0].r;
	report->completed = rc == 0 && pos.completed;
	report->found.seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	if (rc == 0)
		rc = atomic_load(&f.stop);
	b3cas__fsck_workers_free(ws, 1);
	b3cas__fsck_run_destroy(&f);
	return rc;
}
