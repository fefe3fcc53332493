/*
 * maint/fsck_suspects.c - confirming a read-only handle's findings.
 *
 * A read-only handle reads the index as it was when it opened, and its
 * stripe locks do not reach the writing process: a finding that the
 * writer's later work could explain (missing, orphan, a copy of an object
 * not held) is kept here as a suspect and judged again after its phase
 * against the index opened afresh, twice. Invariant: only what still
 * holds both times is reported; the suspects live under suspects_lock
 * and are freed by the run.
 */
#include "maint/fsck_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/histogram.h"

/* ---- confirming a read-only handle's findings --------------------------- */

void b3cas__fsck_drop_suspects(fsck_run *f)
{
	for (size_t i = 0; i < f->n_suspects; i++)
		free(f->suspects[i].path);
	f->n_suspects = 0;
}

void b3cas__fsck_note_suspect(fsck_worker *w, const b3cas_fsck_problem *p,
			      uint64_t size, const char *rel)
{
	fsck_run *f = w->f;
	b3cas_layout *lay = b3cas__store_layout(f->s);
	int dir_fd = p->kind == B3CAS_FSCK_ORPHAN ? lay->objects_fd : f->l2_fd;
	struct stat st;
	suspect *x;

	/* A file's identity now, before the index is read again: one seen
	 * again unchanged after that read was there all along. */
	memset(&st, 0, sizeof(st));
	if (rel && fstatat(dir_fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return; /* gone already */
	pthread_mutex_lock(&f->suspects_lock);
	if (f->n_suspects == f->cap_suspects) {
		size_t cap = f->cap_suspects ? 2 * f->cap_suspects : 64;
		suspect *more = realloc(f->suspects, cap * sizeof(*more));

		if (!more) {
			pthread_mutex_unlock(&f->suspects_lock);
			b3cas__fsck_fail(f, b3cas__error(
				B3CAS_ENOMEM,
				"out of memory for the findings to confirm"));
			return;
		}
		f->suspects = more;
		f->cap_suspects = cap;
	}
	x = &f->suspects[f->n_suspects++];
	memset(x, 0, sizeof(*x));
	x->kind = p->kind;
	x->id = p->id;
	x->size = size;
	/* Without memory the finding is still kept, with no path. */
	x->path = p->path ? strdup(p->path) : NULL;
	if (rel)
		snprintf(x->rel, sizeof(x->rel), "%s", rel);
	snprintf(x->detail, sizeof(x->detail), "%s", p->detail);
	x->seen = st;
	pthread_mutex_unlock(&f->suspects_lock);
}

/* Is id's content entry in ix a live loose object of size bytes? 1 yes,
 * 0 no, -1 no entry at all. */
static int fresh_entry(b3cas_index *ix, const b3cas_oid *id, uint64_t size,
		       bool *live_out)
{
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	size_t len;
	int rc = b3cas__index_get(ix, B3CAS_CF_CONTENT, id->bytes,
				  B3CAS_OID_LEN, &v);

	b3cas_error_clear();
	if (rc <= 0)
		return -1;
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	*live_out = len > 0 && !(p[0] & B3CAS_ENTRY_UNREF);
	rc = len == B3CAS_ENTRY_HEADER_LEN && *live_out &&
	     (p[0] & ~B3CAS_ENTRY_UNREF) == B3CAS_ENTRY_LOOSE &&
	     b3cas__get_u64(p + 1) == size;
	rocksdb_pinnableslice_destroy(v);
	return rc;
}

/* Is the file at path under dir_fd still the one x saw? */
static bool same_file(int dir_fd, const suspect *x)
{
	struct stat st;

	return fstatat(dir_fd, x->rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_dev == x->seen.st_dev && st.st_ino == x->seen.st_ino &&
	       st.st_ctim.tv_sec == x->seen.st_ctim.tv_sec &&
	       st.st_ctim.tv_nsec == x->seen.st_ctim.tv_nsec;
}

/*
 * Judge x again against ix, an index opened (at opened_ns, wall clock)
 * after x was found, and the files as they are now. An orphan or a copy
 * holds only if the very file found before ix was opened (same inode and
 * ctime: a put or a new copy makes a new file) is still there after, with
 * no entry in ix in between. With settle, an orphan or a copy whose file
 * changed shortly before opened_ns waits for another look (a put may be
 * between its rename and its index write; a reader's add of a copy,
 * overtaken by GC, between its write and its own delete).
 */
static int judge_suspect(fsck_run *f, b3cas_index *ix, const suspect *x,
			 uint64_t opened_ns, bool settle)
{
	b3cas_layout *lay = b3cas__store_layout(f->s);
	bool live = false;
	int fd, rc = fresh_entry(ix, &x->id, x->size, &live);

	switch (x->kind) {
	case B3CAS_FSCK_TIER_COUNT: {
		/* this host's count against the index now: wrong both times
		 * (a put or GC in flight has finished by the second) */
		int64_t mine = 0;
		int want_min = rc >= 0 && live, want_max = rc >= 0;
		int crc = b3cas__tier_count(f->s, &x->id, &mine);

		b3cas_error_clear();
		if (crc < 0 || (mine >= want_min && mine <= want_max))
			return SUSPECT_DROPPED;
		return settle ? SUSPECT_WAIT : SUSPECT_CONFIRMED;
	}
	case B3CAS_FSCK_MISSING:
		/* Collected, or deleted, since; or put again (its file
		 * comes before its entry). */
		if (rc != 1)
			return SUSPECT_DROPPED;
		rc = b3cas__loose_open(f->s, &x->id, x->size, &fd);
		b3cas_error_clear();
		if (rc == 0)
			close(fd);
		return rc == B3CAS_ENOTFOUND ? SUSPECT_CONFIRMED
					     : SUSPECT_DROPPED;
	case B3CAS_FSCK_ORPHAN:
		if (rc >= 0 || !same_file(lay->objects_fd, x))
			return SUSPECT_DROPPED; /* indexed, or gone, since */
		if (settle &&
		    (uint64_t)x->seen.st_ctim.tv_sec * 1000000000ull +
		    (uint64_t)x->seen.st_ctim.tv_nsec + SETTLE_NS > opened_ns)
			return SUSPECT_WAIT;
		return SUSPECT_CONFIRMED;
	default: /* a copy in L2 of an object the index did not hold */
		if (rc >= 0 || !same_file(f->l2_fd, x))
			return SUSPECT_DROPPED;
		/* A copy made just now may be a reader's add that the
		 * writer's GC overtook, which the writer deletes once its
		 * add sees that (CI, under load, saw one outlive both
		 * looks): like an orphan, it waits for another. */
		if (settle &&
		    (uint64_t)x->seen.st_ctim.tv_sec * 1000000000ull +
		    (uint64_t)x->seen.st_ctim.tv_nsec + SETTLE_NS > opened_ns)
			return SUSPECT_WAIT;
		return SUSPECT_CONFIRMED;
	}
}

/* Open the index afresh and judge again the suspects whose verdict is
 * want or want_too; *waiting says whether some wait for another look,
 * *left how many still stand (confirmed or waiting). */
static int judge_round(fsck_run *f, int want, int want_too, bool settle,
		       bool *waiting, size_t *left)
{
	b3cas_index *ix = NULL;
	char *path = b3cas__layout_path(b3cas__store_layout(f->s), "index");
	uint64_t opened_ns = b3cas__wall_ns();
	int rc;

	if (!path)
		return B3CAS_ENOMEM;
	rc = b3cas__index_open(&ix, path, false, true, 0);
	free(path);
	if (rc < 0)
		return rc;
	*waiting = false;
	*left = 0;
	for (size_t i = 0; i < f->n_suspects; i++) {
		suspect *x = &f->suspects[i];

		if (x->verdict != want && x->verdict != want_too)
			continue;
		x->verdict = judge_suspect(f, ix, x, opened_ns, settle);
		*waiting |= x->verdict == SUSPECT_WAIT;
		*left += x->verdict != SUSPECT_DROPPED;
	}
	b3cas__index_close(ix);
	return 0;
}

int b3cas__fsck_confirm_suspects(fsck_run *f, fsck_worker *w)
{
	bool waiting = false;
	size_t left = 0;
	int rc = 0;

	if (!f->n_suspects || b3cas__fsck_halted(f))
		goto out;
	rc = judge_round(f, SUSPECT_OPEN, SUSPECT_OPEN, true, &waiting, &left);
	if (rc < 0 || left == 0)
		goto out;
	if (waiting) {
		struct timespec ts = {(time_t)(SETTLE_NS / 1000000000ull),
				      (long)(SETTLE_NS % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
	rc = judge_round(f, SUSPECT_CONFIRMED, SUSPECT_WAIT, false, &waiting,
			 &left);
	for (size_t i = 0; rc == 0 && i < f->n_suspects
	     && !b3cas__fsck_halted(f); i++) {
		suspect *x = &f->suspects[i];
		b3cas_fsck_problem p = {0};

		if (x->verdict != SUSPECT_CONFIRMED)
			continue;
		p.kind = x->kind;
		p.has_id = true;
		p.id = x->id;
		p.path = x->path;
		p.detail = x->detail;
		b3cas__fsck_found(w, &p);
	}
out:
	b3cas__fsck_drop_suspects(f);
	return rc;
}
