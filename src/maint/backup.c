/*
 * maint/backup.c - b3cas_backup: copy into another b3cas store every
 * object it lacks; and what backup, restore and recover share: the
 * verified streamed copy of one object, progress pacing, the run log.
 *
 * Invariants: an object is copied only after it was read here with its
 * bytes verified (the streaming reader hashes a loose object at open and
 * again as it is read), and it is published there only under the hash of
 * what arrived, and only when that is the id asked for; so the destination
 * never holds bytes that do not match their id. A run that fails midway
 * leaves a destination that is consistent and simply incomplete; the next
 * run copies the rest.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maint/integrity_int.h"
#include "util/error.h"
#include "util/histogram.h"
#include "util/fsutil.h"

/* ---- one object, streamed ------------------------------------------------ */

int b3cas__copy_init(b3cas__copy *c, b3cas_store *src, b3cas_store *dst)
{
	memset(c, 0, sizeof(*c));
	c->src = src;
	c->dst = dst;
	c->buf = b3cas__malloc(B3CAS_COPY_CHUNK);
	return c->buf ? 0 : B3CAS_ENOMEM;
}

void b3cas__copy_free(b3cas__copy *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* What a copy publishes through: the id it wants, and the caller's
 * publisher (NULL: an ordinary put). */
typedef struct expected {
	const b3cas_oid *id;
	b3cas__publish_fn publish;
	void *ctx;
} expected;

static int publish_expected(b3cas_store *s, const b3cas_oid *id,
			    const void *data, size_t len, b3cas_tmpfile *tmp,
			    void *ctx)
{
	const expected *e = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1];

	if (!b3cas_oid_equal(id, e->id)) {
		/* Cannot happen: the reader verified every byte. Checked
		 * anyway, as nothing may be published under a wrong name. */
		if (tmp)
			b3cas__tmpfile_discard(b3cas__store_layout(s), tmp);
		return b3cas__error(B3CAS_ECORRUPT, "the copy of %s arrived "
				    "with another id",
				    b3cas_oid_fmt(hex, e->id));
	}
	if (e->publish)
		return e->publish(s, id, data, len, tmp, e->ctx);
	return b3cas__store_publish(s, id, data, len, tmp);
}

int b3cas__copy_stream(b3cas__copy *c, const b3cas_oid *id, bool staged,
		       b3cas_writer **w_out, bool *src_side)
{
	b3cas_reader *rd;
	b3cas_writer *w;
	int64_t n;
	int rc;

	*src_side = true;
	rc = b3cas_reader_open(&rd, c->src, id);
	if (rc < 0)
		return rc;
	*src_side = false;
	rc = staged ? b3cas__writer_open_staged(&w, c->dst)
		    : b3cas_writer_open(&w, c->dst);
	if (rc < 0) {
		b3cas_reader_close(rd);
		return rc;
	}
	while ((n = b3cas_reader_read(rd, c->buf, B3CAS_COPY_CHUNK)) > 0) {
		rc = b3cas_writer_write(w, c->buf, (size_t)n);
		if (rc < 0)
			break;
		c->bytes += (uint64_t)n;
	}
	if (n < 0) {
		*src_side = true;
		rc = (int)n;
	}
	b3cas_reader_close(rd);
	if (rc < 0) {
		b3cas_writer_abort(w);
		return rc;
	}
	*w_out = w;
	return 0;
}

int b3cas__copy_object(b3cas__copy *c, const b3cas_oid *id,
		       b3cas__publish_fn publish, void *ctx, bool *src_side)
{
	expected e = {id, publish, ctx};
	b3cas_writer *w;
	int rc = b3cas__copy_stream(c, id, true, &w, src_side);

	if (rc < 0)
		return rc;
	return b3cas__writer_finish(w, NULL, publish_expected, &e, NULL);
}

/* ---- progress, estimates, the log ---------------------------------------- */

void b3cas__ticker_start(b3cas__ticker *t,
			 void (*fn)(const b3cas_progress *, void *),
			 void *ctx, uint64_t total)
{
	t->fn = fn;
	t->ctx = ctx;
	t->t0 = t->shown_at = b3cas__now_ns();
	t->total = total;
}

void b3cas__tick(b3cas__ticker *t, uint64_t done, uint64_t bytes, bool final)
{
	uint64_t now;
	b3cas_progress p;

	if (!t->fn)
		return;
	now = b3cas__now_ns();
	if (!final && now - t->shown_at < 100000000ull)
		return;
	t->shown_at = now;
	p.done = done;
	/* An estimate may be short; never show more done than in all. */
	p.total = final || t->total < done ? done : t->total;
	p.bytes = bytes;
	p.seconds = (double)(now - t->t0) * 1e-9;
	t->fn(&p, t->ctx);
}

uint64_t b3cas__estimate_objects(b3cas_store *s)
{
	b3cas_index *ix = b3cas__store_index(s);
	uint64_t n = 0;

	if (rocksdb_property_int_cf(ix->db, ix->cf[B3CAS_CF_CONTENT],
				    "rocksdb.estimate-num-keys", &n) != 0)
		return 0;
	return n;
}

void b3cas__integrity_log(int root_fd, const char *log, const char *fmt, ...)
{
	char line[4400];
	int fd = openat(root_fd, log,
			O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
			0644);
	va_list ap;
	int n, m;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%llu ",
		     (unsigned long long)(b3cas__wall_ns() / 1000000000ull));
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write of a whole line: appending is safe beside a writing
	 * process too. A line too long for the buffer is not written. */
	if (m >= 0 && (size_t)(n + m) < sizeof(line) - 1) {
		line[n + m] = '\n';
		if (write(fd, line, (size_t)(n + m + 1)) != n + m + 1) {
			/* nothing to do: the log is a record, not the data */
		}
	}
	close(fd);
}

int b3cas__refuse_overlap(b3cas_store *s, const char *dir, const char *verb,
			  const char *prep)
{
	bool overlaps;
	int rc = b3cas__store_overlaps(s, dir, &overlaps);

	if (rc < 0)
		return rc;
	if (overlaps)
		return b3cas__error(B3CAS_EINVAL, "cannot %s the store %s %s "
				    "%s: it is the store itself, a folder "
				    "inside it or its object folder, or a "
				    "folder holding the store", verb,
				    b3cas__store_layout(s)->root, prep, dir);
	return 0;
}

int b3cas__error_because(int code, const char *fmt, ...)
{
	char what[B3CAS__MESSAGE_MAX], cause[B3CAS__MESSAGE_MAX];
	va_list ap;

	/* Copied first: the message is the buffer the new one goes to. */
	snprintf(cause, sizeof(cause), "%s", b3cas_error_last());
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return b3cas__error(code, "%s: %s", what, cause);
}

/* ---- backup -------------------------------------------------------------- */

typedef struct backup_run {
	b3cas__copy copy;
	b3cas__deep deep; /* objects that hold links, names */
	const b3cas_backup_options *o;
	b3cas_backup_report *r;
	b3cas__ticker ticker;
	int dst_error; /* the first error of the destination: stops */
	/* The destination chunks: its counts hold its own manifests'
	 * references too, so they are only ever raised. */
	bool dst_chunks;
} backup_run;

/* A failure of a copy of what links hold: the source's is reported and
 * the run goes on, the destination's stops it. */
static int deep_failed(backup_run *b, int rc)
{
	if (!b->deep.src_side || rc == B3CAS_ENOMEM) {
		b->dst_error = rc;
		return rc;
	}
	b->r->failed++;
	if (b->o->on_failure)
		return b->o->on_failure(&b->deep.bad, rc, b->o->ctx);
	return 0;
}

/* An object that holds links here: copied with all it reaches, then its
 * callers' count. */
static int visit_linked(backup_run *b, const b3cas_object_info *info)
{
	uint64_t before = b->deep.copied;
	int rc = b3cas__copy_rooted(&b->deep, &info->id, info->refs,
				    b->dst_chunks);

	b->r->copied += b->deep.copied - before;
	return rc < 0 ? deep_failed(b, rc) : 0;
}

static int visit(const b3cas_object_info *info, void *ctx)
{
	backup_run *b = ctx;
	bool src_side;
	int rc;

	b->r->objects++;
	b3cas__tick(&b->ticker, b->r->objects, b->copy.bytes, false);
	rc = b3cas__links_held(b->copy.src, &info->id);
	if (rc == 1)
		return visit_linked(b, info);
	rc = rc < 0 ? rc : b3cas_store_exists(b->copy.dst, &info->id);
	src_side = false;
	if (rc == 1) {
		/* There already: only its count may have changed here. */
		rc = b3cas__store_set_refs_at_least(b->copy.dst, &info->id,
						    info->refs, b->dst_chunks);
		if (rc >= 0) {
			b->r->recounted += rc == 0;
			return 0;
		}
	} else if (rc == 0) {
		/* An ordinary put (one reference, or a GC candidate there
		 * revived), then the count it has here. */
		rc = b3cas__copy_object(&b->copy, &info->id, NULL, NULL,
					&src_side);
		if (rc >= 0)
			rc = b3cas__store_set_refs_at_least(
				b->copy.dst, &info->id, info->refs,
				b->dst_chunks);
		if (rc >= 0) {
			b->r->copied++;
			return 0;
		}
	}
	if (!src_side || rc == B3CAS_ENOMEM) {
		/* The destination failed, or memory ran out (the object is
		 * not known unreadable): stop with the error. */
		b->dst_error = rc;
		return rc; /* stops the walk */
	}
	if (rc == B3CAS_ENOTFOUND)
		return 0; /* deleted while we walked */
	b->r->failed++;
	if (b->o->on_failure)
		return b->o->on_failure(&info->id, rc, b->o->ctx);
	return 0;
}

/* Each name here, set there to the same object (copied whole first). */
static int visit_name(const char *name, const b3cas_oid *id, void *ctx)
{
	backup_run *b = ctx;
	b3cas_oid there;
	int rc = b3cas_name_get(b->copy.dst, name, &there);

	if (rc == 0 && b3cas_oid_equal(&there, id))
		return 0;
	if (rc < 0 && rc != B3CAS_ENOTFOUND && rc != B3CAS_ECORRUPT) {
		b->dst_error = rc;
		return rc;
	}
	b3cas_error_clear();
	{
		uint64_t before = b->deep.copied;

		rc = b3cas__copy_name(&b->deep, name, id);
		b->r->copied += b->deep.copied - before;
	}
	if (rc < 0)
		return deep_failed(b, rc);
	b->r->names++;
	return 0;
}

int b3cas_backup(b3cas_store *s, const char *dest_dir,
		 const b3cas_backup_options *opts,
		 b3cas_backup_report *report)
{
	b3cas_backup_options defaults = B3CAS_BACKUP_OPTIONS_INIT;
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_backup_report local;
	uint64_t t0 = b3cas__now_ns();
	b3cas_layout *lay;
	b3cas_store *dst;
	backup_run b;
	int rc, crc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(dest_dir, "dest_dir");
	lay = b3cas__store_layout(s);
	memset(&b, 0, sizeof(b));
	b.r = report ? report : &local;
	memset(b.r, 0, sizeof(*b.r));
	if (!opts)
		opts = &defaults;
	if (b3cas__check_version(opts->version, 1, B3CAS_BACKUP_OPTIONS_VERSION,
				 "backup") < 0)
		return B3CAS_EINVAL;
	if (!dest_dir || !*dest_dir)
		return b3cas__error(B3CAS_EINVAL, "no backup folder given");
	rc = b3cas__refuse_overlap(s, dest_dir, "back up", "into");
	if (rc < 0)
		return rc;
	b.o = opts;
	o.create = true;
	o.hash = lay->hash;
	o.l1_bytes = 0;
	/* Each copy is made durable by the destination's close. */
	rc = b3cas_store_open(&dst, dest_dir, &o);
	if (rc < 0)
		return rc;
	rc = b3cas__copy_init(&b.copy, s, dst);
	{
		b3cas_store_info info;

		b3cas_store_info_get(&info, dst);
		b.dst_chunks = info.chunk_max != 0;
	}
	if (rc < 0) {
		b3cas_store_close(dst);
		return rc;
	}
	b3cas__ticker_start(&b.ticker, opts->progress, opts->ctx,
			    opts->progress ? b3cas__estimate_objects(s) : 0);
	b3cas__deep_init(&b.deep, &b.copy, false);
	/* Names first: a name's object then holds its count there before
	 * the walk of objects sets the callers' counts. */
	rc = b3cas_name_foreach(s, NULL, visit_name, &b);
	if (rc == 0 && !b.dst_error)
		rc = b3cas_store_foreach(s, visit, &b);
	if (b.dst_error)
		rc = b.dst_error;
	b3cas__deep_free(&b.deep);
	crc = b3cas_store_close(dst);
	if (rc == 0 && crc < 0)
		rc = crc;
	b.r->bytes = b.copy.bytes;
	b3cas__copy_free(&b.copy);
	b3cas__tick(&b.ticker, b.r->objects, b.r->bytes, true);
	b.r->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	b3cas__integrity_log(lay->root_fd, "integrity/backup/log",
			     "dest=%s objects=%" PRIu64 " copied=%" PRIu64
			     " recounted=%" PRIu64 " names=%" PRIu64
			     " bytes=%" PRIu64
			     " failed=%" PRIu64 " seconds=%.3f result=%d",
			     dest_dir, b.r->objects, b.r->copied,
			     b.r->recounted, b.r->names, b.r->bytes,
			     b.r->failed,
			     b.r->seconds, rc);
	return rc;
}
