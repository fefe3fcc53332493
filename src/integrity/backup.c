/*
 * integrity/backup.c - b3cas_backup: copy into another b3cas store every
 * object it lacks.
 *
 * Invariants: an object is copied only after it was read here with its
 * bytes verified (the streaming reader hashes a loose object at open and
 * again as it is read), and it is published there by that store's own
 * put, which names it by the hash of what arrived; so the destination
 * never holds bytes that do not match their id. A run that fails midway
 * leaves a destination that is consistent and simply incomplete; the next
 * run copies the rest.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/integrity.h"
#include "core/store_int.h"
#include "util/error.h"
#include "util/fsutil.h"

#define COPY_CHUNK (1u << 20)

typedef struct backup_run {
	b3cas_store *src, *dst;
	int (*on_failure)(const b3cas_oid *id, int err, void *ctx);
	void *ctx;
	b3cas_backup_report *r;
	uint8_t *buf;
	int dst_error; /* the first error of the destination: stops */
} backup_run;

/* Stream object id from src to dst. Errors reading src are the source's
 * (*src_side true); the others the destination's. */
static int copy_object(backup_run *b, const b3cas_oid *id, bool *src_side)
{
	b3cas_reader *rd;
	b3cas_writer *w;
	b3cas_oid got;
	int64_t n;
	int rc;

	*src_side = true;
	rc = b3cas_reader_open(&rd, b->src, id);
	if (rc < 0)
		return rc;
	*src_side = false;
	rc = b3cas_writer_open(&w, b->dst);
	if (rc < 0) {
		b3cas_reader_close(rd);
		return rc;
	}
	while ((n = b3cas_reader_read(rd, b->buf, COPY_CHUNK)) > 0) {
		rc = b3cas_writer_write(w, b->buf, (size_t)n);
		if (rc < 0)
			break;
		b->r->bytes += (uint64_t)n;
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
	rc = b3cas_writer_commit(w, &got);
	if (rc >= 0 && !b3cas_oid_equal(&got, id))
		return b3cas__error(B3CAS_ECORRUPT, "copy arrived with "
				    "another id"); /* cannot happen: verified */
	return rc < 0 ? rc : 0;
}

static int visit(const b3cas_object_info *info, void *ctx)
{
	backup_run *b = ctx;
	bool src_side;
	int rc;

	b->r->objects++;
	rc = b3cas_store_exists(b->dst, &info->id);
	if (rc == 1)
		return 0;
	if (rc == 0)
		rc = copy_object(b, &info->id, &src_side);
	else
		src_side = false;
	if (rc == 0) {
		b->r->copied++;
		return 0;
	}
	if (!src_side) {
		b->dst_error = rc;
		return rc; /* stops the walk */
	}
	if (rc == B3CAS_ENOTFOUND)
		return 0; /* deleted while we walked */
	b->r->failed++;
	if (b->on_failure)
		return b->on_failure(&info->id, rc, b->ctx);
	return 0;
}

/* Append one line to integrity/backup/log; a failure here loses no data. */
static void log_run(b3cas_store *s, const char *dest,
		    const b3cas_backup_report *r, int rc)
{
	char line[4400];
	int fd = openat(s->lay.root_fd, "integrity/backup/log",
			O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line),
		     "%llu dest=%s objects=%" PRIu64 " copied=%" PRIu64
		     " bytes=%" PRIu64 " failed=%" PRIu64 " seconds=%.3f "
		     "result=%d\n",
		     (unsigned long long)(b3cas__wall_ns() / 1000000000ull),
		     dest, r->objects, r->copied, r->bytes, r->failed,
		     r->seconds, rc);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(fd, line, (size_t)n) != n) {
		/* nothing to do: the log is a record, not the backup */
	}
	close(fd);
}

int b3cas_backup(b3cas_store *s, const char *dest_dir,
		 int (*on_failure)(const b3cas_oid *id, int err, void *ctx),
		 void *ctx, b3cas_backup_report *report)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_backup_report local;
	uint64_t t0 = b3cas__now_ns();
	backup_run b;
	int rc, crc;

	memset(&b, 0, sizeof(b));
	b.r = report ? report : &local;
	memset(b.r, 0, sizeof(*b.r));
	if (!dest_dir || !*dest_dir)
		return b3cas__error(B3CAS_EINVAL, "no backup folder given");
	o.create = true;
	o.hash = s->lay.hash;
	o.l1_bytes = 0;
	/* Each copy is made durable by the destination's close. */
	rc = b3cas_store_open(&b.dst, dest_dir, &o);
	if (rc < 0)
		return rc;
	b.buf = b3cas__malloc(COPY_CHUNK);
	if (!b.buf) {
		b3cas_store_close(b.dst);
		return B3CAS_ENOMEM;
	}
	b.src = s;
	b.on_failure = on_failure;
	b.ctx = ctx;
	rc = b3cas_store_foreach(s, visit, &b);
	if (b.dst_error)
		rc = b.dst_error;
	crc = b3cas_store_close(b.dst);
	if (rc == 0 && crc < 0)
		rc = crc;
	free(b.buf);
	b.r->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	/* Appending a line is safe beside a writing process too. */
	log_run(s, dest_dir, b.r, rc);
	return rc;
}
