/*
 * maint/restore.c - b3cas_restore: bring a store back from a backup
 * store.
 *
 * Two walks. The source's objects, in id order: one this store has no
 * trace of is copied in with the source's reference count; one it holds
 * is verified here first, and only if it is damaged is the source's copy
 * put over it. Then this store's objects that the source lacks: each is
 * verified, and a damaged one is a failure (nowhere to bring it back
 * from). So every object here is hashed once, and every object of either
 * store is accounted for.
 *
 * Invariants: bytes arrive only through the verified copy
 * (integrity_int.h); an object is added only where the index holds no
 * entry for its id at all (b3cas__store_adopt), so a count kept here is
 * never replaced by the source's; a copy here is replaced only if it is
 * found damaged again under its id's stripe lock (b3cas__store_replace),
 * so a sound object is never rewritten and a concurrent put or delete
 * always wins; a failure is reported only after it was found again under
 * that lock.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "maint/integrity_int.h"
#include "util/error.h"
#include "util/histogram.h"

/* What this store holds of an id. */
typedef enum here_state {
	HERE_ABSENT,    /* no entry at all */
	HERE_CANDIDATE, /* deleted: a GC candidate, left alone */
	HERE_SOUND,
	HERE_DAMAGED,
	HERE_MALFORMED  /* its entry cannot be read */
} here_state;

typedef struct restore_run {
	b3cas__copy copy; /* source -> this store */
	b3cas__deep deep; /* what links hold, names */
	const char *src_dir;
	const b3cas_restore_options *o;
	b3cas_restore_report *r;
	b3cas__ticker ticker;
	bool absent_only;
	uint64_t hashed; /* bytes hashed here */
	int dst_error;   /* this store failed: stops */
	int stop;        /* on_failure's non-zero value: stops */
} restore_run;

/* Check the bytes entry v keeps in the index (inline, compressed or, for
 * a chunked object, its chunks): do they make id? */
static bool inline_sound(restore_run *t, const b3cas_oid *id,
			 rocksdb_pinnableslice_t *v)
{
	size_t vlen;
	const uint8_t *p =
		(const uint8_t *)rocksdb_pinnableslice_value(v, &vlen);
	int rc = b3cas__store_entry_sound(t->copy.dst, NULL, id, p, vlen,
					  &t->hashed);

	b3cas_error_clear();
	return rc != 0; /* an error: cannot tell, do not accuse it */
}

/*
 * Find what this store holds of id; for a damaged object *why says how,
 * in words. An error means it could not tell (the message says why).
 */
static int examine(restore_run *t, const b3cas_oid *id, here_state *out,
		   const char **why)
{
	b3cas_store *s = t->copy.dst;
	rocksdb_pinnableslice_t *v = NULL;
	uint64_t size;
	bool is_inline;
	int fd, rc = b3cas__store_entry(s, id, &size, &is_inline, &v);

	*why = NULL;
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		rc = b3cas__index_has(b3cas__store_index(s), B3CAS_CF_CONTENT,
				      id->bytes, B3CAS_OID_LEN);
		if (rc >= 0)
			*out = rc ? HERE_CANDIDATE : HERE_ABSENT;
		return rc < 0 ? rc : 0;
	}
	if (rc == B3CAS_ECORRUPT) {
		*out = HERE_MALFORMED;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (is_inline) {
		bool sound = inline_sound(t, id, v);

		rocksdb_pinnableslice_destroy(v);
		*out = sound ? HERE_SOUND : HERE_DAMAGED;
		*why = "its bytes inside the index do not hash to its id";
		return 0;
	}
	rc = b3cas__loose_open(s, id, size, &fd);
	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT) {
		b3cas_error_clear();
		*out = HERE_DAMAGED;
		*why = rc == B3CAS_ENOTFOUND ? "its file is missing"
					     : "its file is not the size the "
					       "index records";
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = b3cas__file_check(s, fd, id, size, t->copy.buf, B3CAS_COPY_CHUNK,
			       &t->hashed);
	close(fd);
	if (rc < 0)
		return B3CAS_ENOMEM; /* no hasher */
	*out = rc ? HERE_SOUND : HERE_DAMAGED;
	*why = "its file's bytes do not hash to its id";
	return 0;
}

/* Count a failure and tell the caller (the message is set). */
static int fail(restore_run *t, const b3cas_oid *id, int err)
{
	t->r->failed++;
	if (t->o->on_failure && !t->stop)
		t->stop = t->o->on_failure(id, err, t->o->ctx);
	return t->stop;
}

static int publish_adopt(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp,
			 void *ctx)
{
	return b3cas__store_adopt(s, id, data, len, tmp, ctx);
}

static int publish_replace(b3cas_store *s, const b3cas_oid *id,
			   const void *data, size_t len, b3cas_tmpfile *tmp,
			   void *ctx)
{
	(void)ctx;
	return b3cas__store_replace(s, id, data, len, tmp);
}

/* Copy id in (absent) or over a damaged copy; count what happened. */
static int bring_back(restore_run *t, const b3cas_object_info *info,
		      here_state state)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint64_t refs = info->refs;
	bool src_side;
	int rc;

	if (state == HERE_ABSENT)
		rc = b3cas__copy_object(&t->copy, &info->id, publish_adopt,
					&refs, &src_side);
	else
		rc = b3cas__copy_object(&t->copy, &info->id, publish_replace,
					NULL, &src_side);
	if (rc == 0 || rc == 2) {
		if (state == HERE_ABSENT)
			t->r->restored++;
		else
			t->r->healed++;
		return 0;
	}
	if (rc == 1)
		return 0; /* changed meanwhile: nothing needed doing */
	b3cas_oid_fmt(hex, &info->id);
	if (src_side) {
		/* Gone from the source since it opened: nothing to miss if
		 * this store never had it either. */
		if (rc == B3CAS_ENOTFOUND && state == HERE_ABSENT)
			return 0;
		rc = b3cas__error_because(rc, "cannot restore %s: %s has "
					  "no good copy", hex, t->src_dir);
		return fail(t, &info->id, rc);
	}
	/* The index here disagrees with the object: that object only. */
	if (rc == B3CAS_ECORRUPT)
		return fail(t, &info->id, rc);
	t->dst_error = rc;
	return rc;
}

/*
 * A sound object here that only chunked objects hold (a chunk of theirs,
 * which the source's callers also put): the source's callers' references
 * come back, on top of what the chunked objects here hold. Any count the
 * callers here hold is this store's own and is kept.
 */
static int callers_back(restore_run *t, const b3cas_object_info *info)
{
	uint64_t mine = 1;
	int rc = b3cas_refcount(t->copy.dst, &info->id, &mine);

	if (rc == 0 && mine == 0)
		rc = b3cas__store_set_refs_at_least(t->copy.dst, &info->id,
						    info->refs, true);
	if (rc == B3CAS_ENOTFOUND)
		return 0; /* deleted and collected meanwhile */
	if (rc < 0) {
		t->dst_error = rc;
		return rc;
	}
	return 0;
}

/*
 * What object id of the source links to (b3cas_store_put_linked), copied
 * in where this store lacks it, id too if absent here, with refs callers'
 * references then (0: none set). What is copied counts as restored.
 */
static int deep(restore_run *t, const b3cas_oid *id, uint64_t refs)
{
	uint64_t before = t->deep.copied;
	int rc = b3cas__copy_rooted(&t->deep, id, refs, true);

	t->r->restored += t->deep.copied - before;
	if (rc == 0)
		return 0;
	if (t->deep.src_side && rc != B3CAS_ENOMEM) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		rc = b3cas__error_because(rc, "cannot restore %s: %s has no "
					  "good copy",
					  b3cas_oid_fmt(hex, &t->deep.bad),
					  t->src_dir);
		return fail(t, &t->deep.bad, rc);
	}
	t->dst_error = rc;
	return rc;
}

/* The first walk: every object of the source. */
static int visit_source(const b3cas_object_info *info, void *ctx)
{
	restore_run *t = ctx;
	b3cas_index *ix = b3cas__store_index(t->copy.dst);
	here_state state;
	const char *why;
	char hex[B3CAS_OID_HEX_LEN + 1];
	int rc, linked;

	t->r->objects++;
	b3cas__tick(&t->ticker, t->r->objects, t->hashed + t->copy.bytes,
		    false);
	if (t->absent_only) {
		rc = b3cas__index_has(ix, B3CAS_CF_CONTENT, info->id.bytes,
				      B3CAS_OID_LEN);
		state = rc == 1 ? HERE_CANDIDATE : HERE_ABSENT;
	} else {
		rc = examine(t, &info->id, &state, &why);
	}
	if (rc < 0)
		return fail(t, &info->id, rc);
	linked = b3cas__links_held(t->copy.src, &info->id);
	if (linked < 0)
		return fail(t, &info->id, linked);
	if (linked && state == HERE_ABSENT)
		return deep(t, &info->id, info->refs);
	if (linked && (state == HERE_SOUND || state == HERE_DAMAGED)) {
		/* What it reaches and this store lacks; first, so that a
		 * damaged copy is replaced with every link stored. */
		rc = deep(t, &info->id, 0);
		if (rc != 0 || t->stop)
			return rc;
	}
	switch (state) {
	case HERE_SOUND:
		return callers_back(t, info);
	case HERE_CANDIDATE:
		return 0;
	case HERE_MALFORMED:
		/* Either a malformed entry (fsck --repair removes it) or
		 * a damaged index (recover mends it): fsck tells which. */
		rc = b3cas__error_because(B3CAS_ECORRUPT,
					  "cannot restore %s: its index entry "
					  "here cannot be read (run 'b3cas "
					  "fsck': a malformed entry is removed "
					  "by 'b3cas fsck --repair', a damaged "
					  "index is mended by 'b3cas recover "
					  "--from %s'; then restore again)",
					  b3cas_oid_fmt(hex, &info->id),
					  t->src_dir);
		return fail(t, &info->id, rc);
	default:
		return bring_back(t, info, state);
	}
}

/* The second walk: this store's objects that the source lacks. */
static int visit_here(const b3cas_object_info *info, void *ctx)
{
	restore_run *t = ctx;
	pthread_mutex_t *lock;
	char hex[B3CAS_OID_HEX_LEN + 1];
	here_state state;
	const char *why;
	int rc = b3cas_store_exists(t->copy.src, &info->id);

	if (rc == 1)
		return 0; /* the first walk saw it */
	if (rc < 0)
		return fail(t, &info->id, rc);
	t->r->objects++;
	b3cas__tick(&t->ticker, t->r->objects, t->hashed + t->copy.bytes,
		    false);
	rc = examine(t, &info->id, &state, &why);
	if (rc == 0 && state == HERE_DAMAGED) {
		/* Found again under the lock, or a put or delete meanwhile
		 * made it moot. */
		lock = b3cas__store_stripe(t->copy.dst, &info->id);
		pthread_mutex_lock(lock);
		rc = examine(t, &info->id, &state, &why);
		pthread_mutex_unlock(lock);
	}
	if (rc < 0)
		return fail(t, &info->id, rc);
	if (state != HERE_DAMAGED)
		return 0;
	rc = b3cas__error(B3CAS_ENOTFOUND, "cannot restore %s: %s, and %s "
			  "has no copy of it",
			  b3cas_oid_fmt(hex, &info->id), why, t->src_dir);
	return fail(t, &info->id, rc);
}

/* Each name of the source this store lacks, set here to the same object
 * (copied in whole first). A name here is this store's own and kept. */
static int visit_name(const char *name, const b3cas_oid *id, void *ctx)
{
	restore_run *t = ctx;
	b3cas_oid here;
	uint64_t before;
	int rc = b3cas_name_get(t->copy.dst, name, &here);

	if (rc != B3CAS_ENOTFOUND) {
		if (rc == 0 || rc == B3CAS_ECORRUPT) {
			b3cas_error_clear();
			return 0; /* (a malformed one: fsck tells) */
		}
		t->dst_error = rc;
		return rc;
	}
	b3cas_error_clear();
	/* Its object deleted here (a GC candidate): removed here since,
	 * and a restore does not undo deletes. */
	rc = b3cas_store_exists(t->copy.dst, id);
	if (rc == 0)
		rc = b3cas__index_has(b3cas__store_index(t->copy.dst),
				      B3CAS_CF_CONTENT, id->bytes,
				      B3CAS_OID_LEN);
	else if (rc == 1)
		rc = 0;
	if (rc != 0) {
		if (rc < 0)
			t->dst_error = rc;
		return rc < 0 ? rc : 0;
	}
	before = t->deep.copied;
	rc = b3cas__copy_name(&t->deep, name, id);
	t->r->restored += t->deep.copied - before;
	if (rc == 0) {
		t->r->names++;
		return 0;
	}
	if (t->deep.src_side && rc != B3CAS_ENOMEM) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		rc = b3cas__error_because(rc, "cannot restore name '%s' (%s): "
					  "%s has no good copy of %s", name,
					  b3cas_oid_fmt(hex, id), t->src_dir,
					  b3cas_oid_fmt(hex, &t->deep.bad));
		return fail(t, &t->deep.bad, rc);
	}
	t->dst_error = rc;
	return rc;
}

int b3cas__restore_run(b3cas_store *dst, b3cas_store *src, bool absent_only,
		       const b3cas_restore_options *opts,
		       b3cas_restore_report *report)
{
	b3cas_store_info info;
	uint64_t total = 0;
	restore_run t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = b3cas__copy_init(&t.copy, src, dst);
	if (rc < 0)
		return rc;
	b3cas_store_info_get(&info, src);
	t.src_dir = info.root;
	t.o = opts;
	t.r = report;
	t.absent_only = absent_only;
	/* The objects of both stores are at least those of the larger: a
	 * backup and its store mostly hold the same ids. */
	if (opts->progress) {
		total = b3cas__estimate_objects(src);
		if (!absent_only && b3cas__estimate_objects(dst) > total)
			total = b3cas__estimate_objects(dst);
	}
	b3cas__ticker_start(&t.ticker, opts->progress, opts->ctx, total);
	/* Every object reached from one of this store's is gone into
	 * once, unless only absent objects are wanted. */
	b3cas__deep_init(&t.deep, &t.copy, !absent_only);
	/* Names first: a name's object holds its count before the walk of
	 * objects looks at the callers' counts. */
	rc = b3cas_name_foreach(src, NULL, visit_name, &t);
	if (rc == 0 && !t.dst_error)
		rc = b3cas_store_foreach(src, visit_source, &t);
	b3cas__deep_free(&t.deep);
	if (rc == 0 && !absent_only)
		rc = b3cas_store_foreach(dst, visit_here, &t);
	if (t.dst_error)
		rc = t.dst_error;
	report->bytes = t.copy.bytes;
	b3cas__tick(&t.ticker, report->objects, t.hashed + t.copy.bytes,
		    true);
	b3cas__copy_free(&t.copy);
	return rc;
}

int b3cas_restore(b3cas_store *s, const char *src_dir,
		  const b3cas_restore_options *opts,
		  b3cas_restore_report *report)
{
	b3cas_restore_options defaults = B3CAS_RESTORE_OPTIONS_INIT;
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_restore_report local;
	uint64_t t0 = b3cas__now_ns();
	b3cas_layout *lay;
	b3cas_store *src;
	int rc, src_rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(src_dir, "src_dir");
	lay = b3cas__store_layout(s);
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	if (!opts)
		opts = &defaults;
	if (b3cas__check_version(opts->version, 1,
				 B3CAS_RESTORE_OPTIONS_VERSION, "restore") < 0)
		return B3CAS_EINVAL;
	if (!src_dir || !*src_dir)
		return b3cas__error(B3CAS_EINVAL, "no backup folder given");
	rc = b3cas__store_check_writable(s, "restore");
	if (rc == 0)
		rc = b3cas__refuse_overlap(s, src_dir, "restore", "from");
	if (rc < 0)
		return rc;
	/* Read-only and verified: a backup is never changed by a restore,
	 * and its bytes are checked as they are read. */
	so.read_only = true;
	so.hash = lay->hash;
	so.l1_bytes = 0;
	so.verify_on_read = true;
	src_rc = b3cas_store_open(&src, src_dir, &so);
	if (src_rc < 0) {
		rc = b3cas__error_because(src_rc, "cannot open the backup");
		goto out;
	}
	rc = b3cas__restore_run(s, src, false, opts, report);
	b3cas_store_close(src);
	/* What was restored is on stable storage before we say so. */
	if (rc == 0)
		rc = b3cas_store_sync(s);
out:
	report->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	b3cas__integrity_log(lay->root_fd, "integrity/backup/log",
			     "restore src=%s objects=%" PRIu64
			     " restored=%" PRIu64 " healed=%" PRIu64
			     " names=%" PRIu64 " bytes=%" PRIu64
			     " failed=%" PRIu64 " seconds=%.3f result=%d",
			     src_dir, report->objects, report->restored,
			     report->healed, report->names, report->bytes,
			     report->failed,
			     report->seconds, rc);
	return rc;
}
